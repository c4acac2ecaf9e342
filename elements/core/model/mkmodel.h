/* gst-prima: random-weight model files of real shapes (for benchmarks and
 * distribution tests without downloading weights).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The model is streamed to disk one tensor at a time (a 70B file is ~40 GB),
 * with the vocabulary and every tokenizer.* key copied from a vocab GGUF, so
 * the result tokenizes and runs like a real model of that shape.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

typedef enum {
  PRIMA_MK_ARCH_LLAMA,
  PRIMA_MK_ARCH_QWEN2,
} prima_mk_arch;

/* What prima_mk_write reports: once before writing (tensor NULL, n_done 0,
 * with the plan) and after each tensor. The library prints nothing itself. */
typedef struct {
  const char *arch, *file_type, *out_path;
  int64_t n_layer, n_embd, n_vocab;
  int n_threads;
  int n_done;                   /* tensors written */
  unsigned n_tensors;
  uint64_t done_bytes, total_bytes;
  double seconds;               /* since writing began */
  const char *tensor;           /* the one just written */
} prima_mk_progress;

typedef void (*prima_mk_progress_func) (const prima_mk_progress *progress, gpointer user_data);

typedef struct {
  prima_mk_arch arch;
  int64_t n_embd;
  int64_t n_layer;
  int64_t n_head;
  int64_t n_head_kv;
  int64_t n_ff;
  int64_t n_ctx;
  gboolean tied_output;         /* no output.weight: token_embd is reused */
  char file_type[16];           /* "Q4_K_M", "Q8_0", "F16", ... */
  uint64_t seed;
  prima_mk_progress_func progress;  /* NULL: no reports */
  gpointer progress_data;
  /* Use the library's searching quantizers for the K-quants (slow: a 14B
   * model takes most of an hour on two cores) instead of mkmodel's one-pass
   * ones (same formats, a little more rounding error). */
  gboolean search_quant;
} prima_mk_params;

/* Parse an architecture name ("llama", "qwen2"). */
gboolean prima_mk_arch_from_name (const char *name, prima_mk_arch *out);
const char *prima_mk_arch_name (prima_mk_arch arch);
/* Fill the shape of a preset (tiny, 1b, 8b, 14b, 32b, 70b) for arch, and the
 * defaults of the other fields (Q4_K_M, seed 1, tied output for the small
 * qwen2 presets). FALSE if the preset is unknown. */
gboolean prima_mk_preset (const char *preset, prima_mk_arch arch, prima_mk_params *out);
/* Tensor type of one tensor under a file type: Q4_K_M/Q5_K_M follow
 * llama.cpp's mix, a plain type name is used for every matrix (norms and
 * biases stay F32). FALSE if file_type is unknown. */
gboolean prima_mk_tensor_type (const char *file_type, const char *tensor_name, int64_t layer,
    int64_t n_layer, gboolean tied_output, uint32_t *out);
/* llama.cpp's general.file_type id of a file type name; FALSE if unknown. */
gboolean prima_mk_file_type_id (const char *file_type, uint32_t *out);

/* Write the model to out_path (through out_path.tmp). Checks the shape
 * against the types' block sizes before writing anything. */
gboolean prima_mk_write (const prima_mk_params *p, const char *vocab_path, const char *out_path,
    GError **error);
