/* gst-prima: primalayers, a window of a model's layers with its KV cache.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include "prima-window.h"
#include "residency.h"

G_BEGIN_DECLS

/* The residency choices (elements/core/model/residency.h) as GEnums, with the
 * core's values; shared by the elements that hold layer windows. */
#define GST_TYPE_PRIMA_PREFETCH_MODE (gst_prima_prefetch_mode_get_type ())
GType gst_prima_prefetch_mode_get_type (void);
#define GST_TYPE_PRIMA_RELEASE_POLICY (gst_prima_release_policy_get_type ())
GType gst_prima_release_policy_get_type (void);

#define GST_TYPE_PRIMA_LAYERS (gst_prima_layers_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaLayers, gst_prima_layers, GST, PRIMA_LAYERS, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (primalayers);

/* Shared with primaringhead, the other element that holds layer windows:
 * a residency report as a prima-loading message from element, and a
 * prima-kv-clear/-remove/-shift event as its operation and range (FALSE
 * for any other event). */
void gst_prima_layers_post_loading (GstElement * element, const prima_residency_progress * p);
gboolean gst_prima_layers_kv_op (GstEvent * event, PrimaKvOp * op, gint * p0, gint * p1, gint * delta);

G_END_DECLS
