/* gst-prima: primawssink, the sending end of a ring hop (WebSocket client).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_WS_SINK (gst_prima_ws_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaWsSink, gst_prima_ws_sink, GST, PRIMA_WS_SINK, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (primawssink);

G_END_DECLS
