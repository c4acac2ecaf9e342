/* gst-prima: the llama/qwen2 forward pass over a window of layers.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A context runs layers [first, last) of a model and owns their F16 KV cache.
 * The window that starts at layer 0 takes token ids (it embeds them); a window
 * that ends at the last layer produces logits (it applies the output head);
 * any other window takes and returns hidden states (n_tokens x n_embd f32), so
 * a ring of devices can chain contexts. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include "model.h"
#include "residency.h"

typedef struct prima_context prima_context;

typedef struct {
  int first_layer;              /* default 0 */
  int last_layer;               /* exclusive; <= 0 means n_layer */
  int n_ctx;                    /* KV positions; <= 0 means min(n_ctx_train, 4096) */
  int n_threads;                /* <= 0 means the number of online CPUs */
  int n_batch;                  /* tokens per compute chunk; <= 0 means 512 */
  gboolean early_head;          /* with first_layer 0 and last_layer < n_layer: apply the output
                                 * norm and head after last_layer (logits, not hidden states), the
                                 * target's first layers as its own draft model (primadraft layers=K) */
  int n_seq;                    /* KV sequences, each of n_ctx positions; <= 0 means 1 (an unused
                                 * one costs address space, no resident memory) */
  /* Weight residency (residency.h). A device that runs several windows
   * shares one engine between its contexts (borrowed, registered windows in
   * compute order); without one, a context makes its own over its window,
   * split into windows of window_layers (<= 0: auto) with the policy below.
   * Zeros give the measured defaults. */
  prima_residency *residency;
  prima_prefetch_mode prefetch;
  prima_release_policy release;
  int window_layers;
  guint64 weight_budget;        /* bytes; 0: from the available memory */
  /* Reports of the first pass (faulting weights in), for a context's own engine. */
  prima_residency_progress_func progress;
  gpointer progress_data;
} prima_context_params;

#define PRIMA_CONTEXT_ERROR (prima_context_error_quark ())
/* Codes: 0 any other error, 1 the context is full, 2 the model computed NaN
 * or infinite values (corrupt weight data; the message names where). */
#define PRIMA_CONTEXT_ERROR_NOT_FINITE 2
GQuark prima_context_error_quark (void);

prima_context *prima_context_new (const prima_model *model, const prima_context_params *params, GError **error);
void prima_context_free (prima_context *ctx);
/* Whether MODE is a value of PRIMA_GEMM this build knows: tile (default),
 * vec_dot, openblas (when libopenblas.so.0 loads). Read once, at the first
 * prompt batch; prima bench --gemm sets it. */
gboolean prima_gemm_mode_valid (const char *mode);

int prima_context_n_ctx (const prima_context *ctx);
int prima_context_n_threads (const prima_context *ctx);
gboolean prima_context_has_embedding (const prima_context *ctx);
gboolean prima_context_has_head (const prima_context *ctx);

/* The token embedding alone: n_tokens rows of n_embd floats into out (the
 * ring's head embeds, the first window may run on another device). */
gboolean prima_embed_tokens (const prima_model *model, const int32_t *tokens, int n_tokens, float *out,
    GError **error);

/* Evaluate n tokens at positions pos0 .. pos0+n-1. The tokens attend to
 * every cached position before pos0 (normally 0 .. pos0-1; after
 * prima_context_kv_remove, what is left): cached positions >= pos0 are
 * dropped first, so evaluating at an earlier position rolls the cache back.
 * The cache must have room for n more cells ("context is full", code 1). Input: tokens (window starts at layer 0) or
 * hidden (n x n_embd; a window that starts at layer 0 also takes embedded
 * hidden states when tokens is NULL). Output into out: logits (n x n_vocab when all_logits,
 * else only the last token's row) for a window that ends at the last layer,
 * else hidden states (n x n_embd). */
gboolean prima_context_eval (prima_context *ctx, int n, const int32_t *tokens, const float *hidden,
    int pos0, float *out, gboolean all_logits, GError **error);

/* Write n float32 logits (host byte order) to path, as prima eval --logits
 * does. FALSE with errno set when it cannot. */
gboolean prima_logits_write (const char *path, const float *logits, size_t n);

/* Several sequences in one pass (continuous batching, docs/serve.md): n
 * tokens, token i of sequence seq[i] (0 .. n_seq-1) at position pos[i]. The
 * tokens of one sequence come in increasing positions; that sequence's cached
 * positions >= its first position in the batch are dropped first (as
 * prima_context_eval rolls back), and each token attends to its own
 * sequence's cells only. Input as prima_context_eval (tokens, or hidden
 * n x n_embd). Output: for a window with the head, logits of the tokens
 * whose want[i] is TRUE, one n_vocab row each in batch order (want NULL: every
 * token); else hidden states of every token (want is not read). Only the
 * wanted rows go through the output head. Every row equals what
 * prima_context_eval gives for that sequence alone, bit for bit (each matrix
 * row is one dot product per token, whatever the batch). Fails, changing
 * nothing, when a sequence has no room ("context is full", code 1) or an
 * argument is out of range (a sequence, a negative or non-increasing
 * position, a token id, no input). NaN logits (code 2) fail after the
 * chunks of n_batch tokens before the failing one are cached, as in
 * prima_context_eval. */
typedef struct {
  int n;
  const int32_t *tokens;
  const float *hidden;
  const int *seq;
  const int *pos;
  const gboolean *want;
} prima_batch;

gboolean prima_context_eval_batch (prima_context *ctx, const prima_batch *batch, float *out, GError **error);
int prima_context_n_seq (const prima_context *ctx);

/* The KV operations below on sequence seq (0 .. n_seq-1); the functions
 * without seq_ work on sequence 0. */
void prima_context_seq_kv_clear (prima_context *ctx, int seq);
void prima_context_seq_kv_remove (prima_context *ctx, int seq, int p0, int p1);
void prima_context_seq_kv_shift (prima_context *ctx, int seq, int p0, int p1, int delta);
int prima_context_seq_kv_n_cells (const prima_context *ctx, int seq);
int prima_context_seq_kv_pos_max (const prima_context *ctx, int seq);

/* KV cache operations on sequence 0, as llama.cpp's
 * llama_kv_self_seq_rm / _seq_add: the cells carry their positions.
 * kv_remove drops positions [p0, p1) (p1 < 0: to the end), compacting the
 * later cells, which keep their positions. kv_shift adds delta to the
 * positions [p0, p1) (p1 < 0: to the end) and re-rotates their cached keys
 * (RoPE is relative, so the result equals evaluating at the new positions
 * up to f16 rounding); cells that fall below 0 are dropped. A context shift
 * is kv_remove (n_keep, n_keep + n_discard) then kv_shift (n_keep +
 * n_discard, -1, -n_discard). */
void prima_context_kv_clear (prima_context *ctx);
void prima_context_kv_remove (prima_context *ctx, int p0, int p1);
void prima_context_kv_shift (prima_context *ctx, int p0, int p1, int delta);
/* Cells in use, and the largest cached position (-1 when empty). */
int prima_context_kv_n_cells (const prima_context *ctx);
int prima_context_kv_pos_max (const prima_context *ctx);

/* Number of tokens evaluated since creation (prompt + decode): lets tests
 * check that nothing is evaluated twice. */
guint64 prima_context_n_evaluated (const prima_context *ctx);

/* Where evaluation time goes (prima bench -v): wall time per phase of the
 * layers, summed over all layers and tokens since profiling was switched
 * on; NORMS covers the norms, residual adds and activation quantization
 * between the matrix products; WAIT is the part of the matrix products and
 * attention that the calling thread spent waiting for the other threads to
 * finish theirs (imbalance and barriers), also counted in its phase. */
typedef enum {
  PRIMA_PHASE_NORMS,
  PRIMA_PHASE_QKV,
  PRIMA_PHASE_ROPE,
  PRIMA_PHASE_ATTENTION,
  PRIMA_PHASE_WO,
  PRIMA_PHASE_FFN_GATE_UP,
  PRIMA_PHASE_FFN_DOWN,
  PRIMA_PHASE_HEAD,
  PRIMA_PHASE_WAIT,
  PRIMA_PHASE_COUNT
} prima_phase;

typedef struct {
  guint64 ns[PRIMA_PHASE_COUNT];
  guint64 n_tokens;             /* tokens evaluated while profiling */
  guint64 n_dispatches;         /* thread pool calls (each a barrier) */
} prima_phase_times;

const char *prima_phase_name (prima_phase phase);
/* Switching on (or off) clears the counters. Off by default: on costs two
 * clock reads per phase. */
void prima_context_set_phase_timing (prima_context *ctx, gboolean on);
void prima_context_get_phase_times (const prima_context *ctx, prima_phase_times *out);

/* The residency engine the context uses (its own or the shared one). */
prima_residency *prima_context_residency (const prima_context *ctx);
/* KV cache bytes: allocated (virtual) and resident now (mincore: pages of the
 * cache actually touched). */
void prima_context_kv_bytes (const prima_context *ctx, guint64 *allocated, guint64 *resident);

/* The memory accounting of every live context of this process, for
 * --verbose: per context its window, weight residency and KV cache; then the
 * device (memstat) and, when prima_memwatch_global_start ran, the memory
 * pressure. Lines end with '\n'. */
void prima_context_memory_report (GString *out);
