/* gst-prima: primafdsink, writes a stream to a file descriptor at its current offset.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_FD_SINK (gst_prima_fd_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaFdSink, gst_prima_fd_sink, GST, PRIMA_FD_SINK, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (primafdsink);

G_END_DECLS
