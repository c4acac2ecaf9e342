/* gst-prima: primasampler, logits to the next token.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_SAMPLER (gst_prima_sampler_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaSampler, gst_prima_sampler, GST, PRIMA_SAMPLER, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (primasampler);

G_END_DECLS
