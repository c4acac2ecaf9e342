/* gst-prima: primafeedback, hands sampled tokens back to primaloop.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_FEEDBACK (gst_prima_feedback_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaFeedback, gst_prima_feedback, GST, PRIMA_FEEDBACK, GstElement)

GST_ELEMENT_REGISTER_DECLARE (primafeedback);

G_END_DECLS
