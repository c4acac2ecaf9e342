/* gst-prima: inputs and outputs of the Halda scheduler: the model description
 * from a GGUF (or from a shape, without the file), device profiles as JSON,
 * plans as text and JSON.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stdio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "halda.h"
#include "model.h"
#include "mkmodel.h"

/* Bytes and FLOPs per layer from the tensors of a loaded model, with the KV
 * cache (F16) and attention for n_ctx positions. */
void halda_model_from_prima (const prima_model *model, int n_ctx, halda_model *out);
/* The same for a shape and file type (prima mkmodel's presets), without a
 * file: what a model of that shape would be. FALSE if the type is unknown or
 * a row does not fit the type's blocks. */
gboolean halda_model_from_shape (const prima_mk_params *shape, int64_t n_vocab, int n_ctx, halda_model *out,
    GError **error);

/* Count attention at this many cached positions per decoded token (e.g. the
 * mean position of a generation) instead of n_ctx, the worst case. */
void halda_model_set_attention_positions (halda_model *model, double positions);
/* The F16 FLOPs attention adds per cached position to one layer of a
 * decoded token: QK and softmax(QK)V, 2 FLOPs per MAC each. */
double halda_attention_flops_per_position (int64_t n_head, int64_t head_dim);

/* One device from a JSON object (fields: docs/scheduler-plans.md). */
gboolean halda_device_from_json (JsonObject *obj, int index, halda_device *out, GError **error);
/* A JSON array of device objects, from a file. Returns a new array of
 * halda_device (in file order) or NULL with a message naming the file. */
GArray *halda_devices_load (const char *path, GError **error);

/* A readable table of the plan (and the k, W, latency breakdown). */
void halda_plan_print (FILE *out, const halda_plan *plan, const halda_device *devs, const halda_model *model);
/* The plan as a JSON object (what the head broadcasts). */
JsonNode *halda_plan_to_json (const halda_plan *plan, const halda_device *devs);
