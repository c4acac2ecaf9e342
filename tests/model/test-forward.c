/* gst-prima tests: properties of the forward pass that must hold exactly:
 * windows chained by hidden states equal the whole model, thread count and
 * batching do not change a single bit, bad input is refused.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
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
  return g_test_run ();
}
