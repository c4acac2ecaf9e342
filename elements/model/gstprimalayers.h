/* gst-prima: primalayers, a window of a model's layers with its KV cache.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

/* The residency choices (elements/model/residency.h) as GEnums, with the
 * core's values; shared by the elements that hold layer windows. */
#define GST_TYPE_PRIMA_PREFETCH_MODE (gst_prima_prefetch_mode_get_type ())
GType gst_prima_prefetch_mode_get_type (void);
#define GST_TYPE_PRIMA_RELEASE_POLICY (gst_prima_release_policy_get_type ())
GType gst_prima_release_policy_get_type (void);

#define GST_TYPE_PRIMA_LAYERS (gst_prima_layers_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaLayers, gst_prima_layers, GST, PRIMA_LAYERS, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (primalayers);

G_END_DECLS
