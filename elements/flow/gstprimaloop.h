/* gst-prima: primaloop, the autoregressive cycle.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_LOOP (gst_prima_loop_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaLoop, gst_prima_loop, GST, PRIMA_LOOP, GstElement)

GST_ELEMENT_REGISTER_DECLARE (primaloop);

GstPrimaLoop *gst_prima_loop_find_channel (const gchar * channel);
GstFlowReturn gst_prima_loop_push_feedback (GstPrimaLoop * self, GstBuffer * buf);
void gst_prima_loop_add_feedback (const gchar * channel);
void gst_prima_loop_remove_feedback (const gchar * channel);

G_END_DECLS
