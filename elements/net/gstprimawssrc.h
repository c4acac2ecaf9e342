/* gst-prima: primawssrc, the receiving end of a ring hop (WebSocket server).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The custom events that carry the ring's control messages through a
 * device's pipeline (primawssrc -> primalayers -> primawssink and back), and
 * the prima-ring bus message: prima-events.h. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_WS_SRC (gst_prima_ws_src_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaWsSrc, gst_prima_ws_src, GST, PRIMA_WS_SRC, GstPushSrc)

GST_ELEMENT_REGISTER_DECLARE (primawssrc);

G_END_DECLS
