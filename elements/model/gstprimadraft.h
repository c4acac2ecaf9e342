/* gst-prima: primadraft, the draft model of speculative decoding.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_DRAFT (gst_prima_draft_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaDraft, gst_prima_draft, GST, PRIMA_DRAFT, GstElement)

GST_ELEMENT_REGISTER_DECLARE (primadraft);

G_END_DECLS
