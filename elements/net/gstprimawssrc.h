/* gst-prima: primawssrc, the receiving end of a ring hop (WebSocket server).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Also the custom events that carry the ring's control messages through a
 * device's pipeline (primawssrc -> primalayers -> primawssink and back):
 *
 *   prima-ring-plan     downstream, serialized: the head's plan. Fields
 *                       "json" (string, the plan message as sent), "rank"
 *                       (int, the receiving device's rank), "windows"
 *                       (string "a-b,c-d": that rank's layer windows [a, b)),
 *                       "n-layer", "n-ctx" (int). primalayers takes its
 *                       windows from it; primawssink sends the plan on.
 *   prima-kv-remove     downstream, serialized: "seq", "p0", "p1" (int; p1 -1:
 *                       to the end): drop positions [p0, p1).
 *   prima-kv-shift      downstream, serialized: "seq", "p0", "p1", "delta".
 *   prima-ring-failure  downstream, serialized: "message" (string): a device
 *                       upstream lost its peer, or failed itself ("rank"
 *                       (int) >= 0: that device, message: its reason);
 *                       primawssink passes it on as an "error" message,
 *                       the head reports it.
 *   prima-ring-control  upstream: "json" (string): a control message for the
 *                       previous device (profiles and failures travel back to
 *                       the head this way). An element that cannot pass it
 *                       on answers FALSE, and the sender handles it itself.
 *
 * prima-kv-clear (prima-caps.h) and end-of-stream (the ring's ordered "stop")
 * complete the set. prima-device-failed (prima-caps.h), sent by the
 * application to both elements, tells the peers why this device failed. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define PRIMA_EVENT_RING_PLAN "prima-ring-plan"
#define PRIMA_EVENT_KV_REMOVE "prima-kv-remove"
#define PRIMA_EVENT_KV_SHIFT "prima-kv-shift"
#define PRIMA_EVENT_RING_FAILURE "prima-ring-failure"
#define PRIMA_EVENT_RING_CONTROL "prima-ring-control"

/* Element message posted by primawssrc and primawssink: "event" (string:
 * "listening", "connected", "joined", "waiting", "complete"), "rank" (int),
 * "port" (uint, listening), "message" (string, for people). */
#define PRIMA_MESSAGE_RING "prima-ring"

#define GST_TYPE_PRIMA_WS_SRC (gst_prima_ws_src_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaWsSrc, gst_prima_ws_src, GST, PRIMA_WS_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (primawssrc);

static inline gboolean
prima_event_has_name (GstEvent * event, const gchar * name)
{
  return (GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_DOWNSTREAM
      || GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM) && gst_event_has_name (event, name);
}

G_END_DECLS
