/* gst-prima tests: properties of the forward pass that must hold exactly:
 * windows chained by hidden states equal the whole model, thread count and
 * batching do not change a single bit, bad input is refused.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "forward.h"
#include "test-common.h"

static const int32_t prompt[] = { 1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315 };
#define N_PROMPT ((int) G_N_ELEMENTS (prompt))

static prima_model *
load (const char *file)
{
  char *path = test_data_path (file);
  GError *error = NULL;
  prima_model *m = prima_model_load (path, &error);
  g_assert_no_error (error);
  g_free (path);
  return m;
}

static float *
eval_all (prima_model *m, int first, int last, int n_threads, int n_batch, const float *hidden, int step)
{
  prima_context_params p = { .first_layer = first, .last_layer = last, .n_ctx = 64, .n_threads = n_threads,
    .n_batch = n_batch };
  GError *error = NULL;
  prima_context *ctx = prima_context_new (m, &p, &error);
  const gboolean head = last >= m->hp.n_layer || last <= 0;
  const size_t row = head ? m->hp.n_vocab : m->hp.n_embd;
  float *out = g_new0 (float, row * N_PROMPT);
  g_assert_no_error (error);
  for (int pos = 0; pos < N_PROMPT; pos += step) {
    int n = MIN (step, N_PROMPT - pos);
    gboolean ok = prima_context_eval (ctx, n, first == 0 ? prompt + pos : NULL,
        hidden ? hidden + (size_t) pos * m->hp.n_embd : NULL, pos, out + row * pos, TRUE, &error);
    g_assert_no_error (error);
    g_assert_true (ok);
  }
  g_assert_cmpuint (prima_context_n_evaluated (ctx), ==, N_PROMPT);
  prima_context_free (ctx);
  return out;
}

static void
check_model_invariants (const char *file)
{
  prima_model *m = load (file);
  const size_t n_logits = (size_t) m->hp.n_vocab * N_PROMPT;
  float *whole = eval_all (m, 0, 0, 1, 512, NULL, N_PROMPT);
  float *threaded = eval_all (m, 0, 0, 2, 512, NULL, N_PROMPT);
  float *stepwise = eval_all (m, 0, 0, 2, 512, NULL, 1);
  float *small_batches = eval_all (m, 0, 0, 2, 5, NULL, N_PROMPT);
  g_assert_cmpmem (whole, n_logits * 4, threaded, n_logits * 4);
  g_assert_cmpmem (whole, n_logits * 4, stepwise, n_logits * 4);
  g_assert_cmpmem (whole, n_logits * 4, small_batches, n_logits * 4);
  /* Every split point: [0, s) then [s, L) by hidden states. */
  for (int s = 1; s < m->hp.n_layer; s++) {
    float *hidden = eval_all (m, 0, s, 2, 512, NULL, N_PROMPT);
    float *tail = eval_all (m, s, m->hp.n_layer, 2, 512, hidden, N_PROMPT);
    g_assert_cmpmem (whole, n_logits * 4, tail, n_logits * 4);
    g_free (hidden);
    g_free (tail);
  }
  g_free (whole);
  g_free (threaded);
  g_free (stepwise);
  g_free (small_batches);
  prima_model_free (m);
}

static void
test_invariants_f32 (void)
{
  check_model_invariants ("stories260K-f32.gguf");
}

static void
test_invariants_q4_0 (void)
{
  check_model_invariants ("TinyStories-656K-q4_0.gguf");
}

static void
test_bad_input (void)
{
  prima_model *m = load ("stories260K-f32.gguf");
  GError *error = NULL;
  prima_context *ctx;
  float *out = g_new (float, m->hp.n_vocab);
  int32_t bad = m->hp.n_vocab;

  ctx = prima_context_new (m, &(prima_context_params) {.first_layer = 3, .last_layer = 2}, &error);
  g_assert_null (ctx);
  g_assert_nonnull (strstr (error->message, "layer window"));
  g_clear_error (&error);

  ctx = prima_context_new (m, &(prima_context_params) {.n_ctx = 4, .n_threads = 1}, &error);
  g_assert_no_error (error);
  g_assert_false (prima_context_eval (ctx, 1, &bad, NULL, 0, out, FALSE, &error));
  g_assert_nonnull (strstr (error->message, "outside the vocabulary"));
  g_clear_error (&error);
  g_assert_false (prima_context_eval (ctx, 5, prompt, NULL, 0, out, FALSE, &error));
  g_assert_nonnull (strstr (error->message, "context is full"));
  g_clear_error (&error);
  prima_context_free (ctx);
  g_free (out);
  prima_model_free (m);
}

/* ---- KV cache operations ---- */

static prima_context *
new_ctx (prima_model *m, int first, int last)
{
  GError *error = NULL;
  prima_context *ctx = prima_context_new (m, &(prima_context_params) {.first_layer = first, .last_layer = last,
      .n_ctx = 64, .n_threads = 2}, &error);
  g_assert_no_error (error);
  return ctx;
}

static void
eval_ok (prima_context *ctx, int n, const int32_t *tokens, const float *hidden, int pos0, float *out)
{
  GError *error = NULL;
  g_assert_true (prima_context_eval (ctx, n, tokens, hidden, pos0, out, FALSE, &error));
  g_assert_no_error (error);
}

static int
argmax (const float *x, int n)
{
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best])
      best = i;
  return best;
}

/* max |a - b| / max |a| */
static double
rel_diff (const float *a, const float *b, size_t n)
{
  double d = 0, m = 0;
  for (size_t i = 0; i < n; i++) {
    d = MAX (d, fabs ((double) a[i] - b[i]));
    m = MAX (m, fabs ((double) a[i]));
  }
  return m > 0 ? d / m : d;
}

/* Removing a middle range: the later tokens attend to what is left, bit for
 * bit as if the removed ones had never been evaluated. */
static void
test_kv_remove (void)
{
  prima_model *m = load ("stories260K-f32.gguf");
  const int V = m->hp.n_vocab;
  prima_context *a = new_ctx (m, 0, 0), *b = new_ctx (m, 0, 0);
  float *la = g_new (float, V), *lb = g_new (float, V);

  /* a: prompt[0..4) at 0..3, prompt[8..12) at 8..11, then prompt[4] at 12 */
  eval_ok (a, 4, prompt, NULL, 0, la);
  eval_ok (a, 4, prompt + 8, NULL, 8, la);
  eval_ok (a, 1, prompt + 4, NULL, 12, la);
  /* b: prompt[0..4), then junk at 4..7 that is removed, then the same */
  eval_ok (b, 4, prompt, NULL, 0, lb);
  eval_ok (b, 4, prompt + 4, NULL, 4, lb);
  prima_context_kv_remove (b, 4, 8);
  g_assert_cmpint (prima_context_kv_n_cells (b), ==, 4);
  eval_ok (b, 4, prompt + 8, NULL, 8, lb);
  eval_ok (b, 1, prompt + 4, NULL, 12, lb);
  g_assert_cmpmem (la, V * 4, lb, V * 4);
  g_assert_cmpint (prima_context_kv_pos_max (b), ==, 12);
  /* a range in the middle with cells after it: they move down */
  prima_context_kv_remove (b, 1, 3);
  g_assert_cmpint (prima_context_kv_n_cells (b), ==, 7);
  g_assert_cmpint (prima_context_kv_pos_max (b), ==, 12);
  prima_context_kv_clear (b);
  g_assert_cmpint (prima_context_kv_n_cells (b), ==, 0);
  g_assert_cmpint (prima_context_kv_pos_max (b), ==, -1);
  prima_context_free (a);
  prima_context_free (b);
  g_free (la);
  g_free (lb);
  prima_model_free (m);
}

/* Shifting every cached position by the same delta changes nothing (RoPE is
 * relative) but the f16 rounding of the re-rotated keys. */
static void
test_kv_shift_uniform (void)
{
  prima_model *m = load ("stories260K-f32.gguf");
  const int V = m->hp.n_vocab;
  prima_context *a = new_ctx (m, 0, 0), *b = new_ctx (m, 0, 0);
  float *la = g_new (float, V), *lb = g_new (float, V);
  double d;

  eval_ok (a, N_PROMPT - 1, prompt, NULL, 0, la);
  eval_ok (a, 1, prompt + N_PROMPT - 1, NULL, N_PROMPT - 1, la);
  /* b evaluates at positions 20.., shifts them down to 0.. */
  eval_ok (b, N_PROMPT - 1, prompt, NULL, 20, lb);
  prima_context_kv_shift (b, 20, -1, -20);
  g_assert_cmpint (prima_context_kv_pos_max (b), ==, N_PROMPT - 2);
  eval_ok (b, 1, prompt + N_PROMPT - 1, NULL, N_PROMPT - 1, lb);
  d = rel_diff (la, lb, V);
  g_test_message ("uniform shift: max relative logit difference %.2e", d);
  g_assert_cmpfloat (d, <, 2e-3);
  g_assert_cmpint (argmax (la, V), ==, argmax (lb, V));
  prima_context_free (a);
  prima_context_free (b);
  g_free (la);
  g_free (lb);
  prima_model_free (m);
}

/* llama-cli's context shift (keep n_keep, discard n_discard, shift the rest
 * down) on the first layer, whose keys and values depend only on the token
 * and its position: equal to evaluating the kept tokens fresh at their new
 * positions, up to f16 rounding. */
static void
test_kv_context_shift (void)
{
  prima_model *m = load ("stories260K-f32.gguf");
  const int E = m->hp.n_embd, n_keep = 3, n_discard = 4;
  prima_context *a = new_ctx (m, 0, 1), *b = new_ctx (m, 0, 1);
  float *ha = g_new (float, (size_t) E * N_PROMPT), *hb = g_new (float, (size_t) E * N_PROMPT);
  int32_t kept[N_PROMPT];
  int n_kept = 0;
  double d;

  for (int i = 0; i < N_PROMPT - 1; i++)
    if (i < n_keep || i >= n_keep + n_discard)
      kept[n_kept++] = prompt[i];
  /* b: the whole prompt but its last token, then the shift */
  eval_ok (b, N_PROMPT - 1, prompt, NULL, 0, hb);
  prima_context_kv_remove (b, n_keep, n_keep + n_discard);
  prima_context_kv_shift (b, n_keep + n_discard, -1, -n_discard);
  g_assert_cmpint (prima_context_kv_n_cells (b), ==, n_kept);
  g_assert_cmpint (prima_context_kv_pos_max (b), ==, n_kept - 1);
  eval_ok (b, 1, prompt + N_PROMPT - 1, NULL, n_kept, hb);
  /* a: the kept tokens fresh at 0.., then the same last token */
  eval_ok (a, n_kept, kept, NULL, 0, ha);
  eval_ok (a, 1, prompt + N_PROMPT - 1, NULL, n_kept, ha);
  d = rel_diff (ha, hb, E);
  g_test_message ("context shift: max relative hidden-state difference %.2e", d);
  g_assert_cmpfloat (d, <, 2e-3);
  prima_context_free (a);
  prima_context_free (b);
  g_free (ha);
  g_free (hb);
  prima_model_free (m);
}

static void
test_wrong_arch (void)
{
  /* A vocabulary-only file is a valid GGUF but not a model. */
  char *path = test_shared_path ("vocab/ggml-vocab-gpt-2.gguf");
  GError *error = NULL;
  if (path == NULL)
    return;
  g_assert_null (prima_model_load (path, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "architecture 'gpt2' is not supported"));
  g_test_message ("%s", error->message);
  g_error_free (error);
  g_free (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/forward/invariants/f32", test_invariants_f32);
  g_test_add_func ("/forward/invariants/q4_0", test_invariants_q4_0);
  g_test_add_func ("/forward/bad-input", test_bad_input);
  g_test_add_func ("/forward/wrong-arch", test_wrong_arch);
  g_test_add_func ("/forward/kv/remove", test_kv_remove);
  g_test_add_func ("/forward/kv/shift-uniform", test_kv_shift_uniform);
  g_test_add_func ("/forward/kv/context-shift", test_kv_context_shift);
  return g_test_run ();
}
