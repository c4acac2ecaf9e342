/* gst-prima: a llama/qwen2 model mapped from a GGUF file.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Loading reads metadata and checks every tensor's presence, shape and type;
 * weights stay in the file mapping (nothing is copied or read ahead). */
#pragma once

#include <glib.h>
#include "gguf.h"

typedef enum {
  PRIMA_ARCH_LLAMA,
  PRIMA_ARCH_QWEN2,
} prima_arch;

typedef struct {
  prima_arch arch;
  int n_vocab;
  int n_embd;
  int n_layer;
  int n_head;
  int n_head_kv;
  int head_dim;
  int n_ff;
  int n_rot;                    /* rotated dimensions per head */
  int n_ctx_train;
  float rms_eps;
  float rope_base;
  float rope_scale;             /* linear position scaling: positions are multiplied by 1/scale */
} prima_hparams;

typedef struct {
  const gguf_tensor *attn_norm, *wq, *wk, *wv, *wo;
  const gguf_tensor *bq, *bk, *bv;      /* qwen2 only */
  const gguf_tensor *ffn_norm, *ffn_gate, *ffn_up, *ffn_down;
} prima_layer_weights;

typedef struct {
  gguf_file *file;
  char *name;
  prima_hparams hp;
  const gguf_tensor *tok_embd;
  const gguf_tensor *output_norm;
  const gguf_tensor *output;    /* tok_embd when the embeddings are tied */
  const gguf_tensor *rope_freqs;        /* NULL unless present (Llama 3.1) */
  prima_layer_weights *layers;
} prima_model;

#define PRIMA_MODEL_ERROR (prima_model_error_quark ())
GQuark prima_model_error_quark (void);

/* The model of the file at path. While the process holds one of the same
 * file (device, inode, size, modification time), the same one comes back
 * (reference counted: every load needs its prima_model_free), so the file
 * is mapped and parsed once. */
prima_model *prima_model_load (const char *path, GError **error);
/* How many times prima_model_load mapped a file in this process (for logs
 * and tests: a persistent worker maps its model once). */
guint prima_model_load_count (void);
/* Use an already opened file (takes ownership on success). */
prima_model *prima_model_new (gguf_file *file, GError **error);
void prima_model_free (prima_model *model);
const char *prima_arch_name (prima_arch arch);
/* Bytes of weights that one token reads in layers [first, last) (plus the
 * output head when last == n_layer): the decode memory traffic. */
guint64 prima_model_weight_bytes (const prima_model *model, int first, int last);

/* A byte range of the model file (and of its mapping, which starts at file
 * offset 0). */
typedef struct {
  guint64 offset;
  guint64 length;
} prima_byte_range;

/* The page-aligned, merged ranges of the mapping that evaluating layers
 * [first, last) reads: every tensor of those layers, plus the output norm
 * and head when last == n_layer and with_head. The token embedding is left
 * out (a pass reads only its tokens' rows) unless it is the tied output
 * head. Adjacent and overlapping pages are merged; ranges are sorted. An
 * array of prima_byte_range; free with g_array_unref. */
GArray *prima_model_window_ranges (const prima_model *model, int first, int last, gboolean with_head);
/* Bytes those ranges cover (whole pages). */
guint64 prima_byte_ranges_total (const GArray *ranges);
