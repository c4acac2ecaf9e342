/* gst-prima: primawssink, the sending end of a ring hop (WebSocket client).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

/**
 * GstPrimaLossAction:
 * @PRIMA_LOSS_ACTION_ERROR: a lost peer is an element error (the application stops)
 * @PRIMA_LOSS_ACTION_NOTIFY: emit #GstPrimaWsSink::peer-lost (#GstPrimaWsSrc::peer-lost) once, post no
 *   error and stop streaming quietly: the application rebuilds the ring (primascheduler's recover)
 *
 * What primawssink and primawssrc do when their ring breaks.
 *
 * Since: 0.3
 */
typedef enum
{
  PRIMA_LOSS_ACTION_ERROR,
  PRIMA_LOSS_ACTION_NOTIFY,
} GstPrimaLossAction;

#define GST_TYPE_PRIMA_LOSS_ACTION (gst_prima_loss_action_get_type ())
GType gst_prima_loss_action_get_type (void);

#define GST_TYPE_PRIMA_WS_SINK (gst_prima_ws_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaWsSink, gst_prima_ws_sink, GST, PRIMA_WS_SINK, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (primawssink);

G_END_DECLS
