/* gst-prima tests: a prompt evaluated in one call (one chunk of tokens, 2
 * threads), or in chunks of n_batch tokens, gives for every position the
 * same logits, bit for bit, as the prompt fed one token at a time with 1
 * thread (and so does feeding it one token at a time with 2 threads). The prompt is long enough that attention splits its later
 * tokens' cells into several chunks (attention.h, PRIMA_ATTN_CHUNK), so the
 * split depends only on the token's own cells. Speculative decoding relies
 * on it: a draft verified in one call must score as plain decoding would.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <string.h>

#include "attention.h"
#include "forward.h"
#include "test-common.h"

#define N_PROMPT (2 * PRIMA_ATTN_CHUNK + 70)

static prima_context *
new_ctx (const prima_model *m, int n_threads, int n_batch)
{
  prima_context_params p = { .n_ctx = N_PROMPT + 8, .n_threads = n_threads, .n_batch = n_batch };
  GError *error = NULL;
  prima_context *ctx = prima_context_new (m, &p, &error);
  g_assert_no_error (error);
  return ctx;
}

static void
check (char *path)
{
  GError *error = NULL;
  prima_model *m;
  if (path == NULL)
    return;
  m = prima_model_load (path, &error);
  g_assert_no_error (error);
  g_free (path);
  const size_t nv = m->hp.n_vocab;
  int32_t *prompt = g_new (int32_t, N_PROMPT);
  float *solo = g_new (float, N_PROMPT * nv), *out = g_new (float, N_PROMPT * nv);
  prompt[0] = 1;
  for (int i = 1; i < N_PROMPT; i++)
    prompt[i] = (int32_t) ((i * 61 + 7) % (nv - 3)) + 3;

  prima_context *one = new_ctx (m, 1, 0);
  for (int i = 0; i < N_PROMPT; i++) {
    g_assert_true (prima_context_eval (one, 1, prompt + i, NULL, i, solo + i * nv, FALSE, &error));
    g_assert_no_error (error);
  }
  prima_context_free (one);

  /* one token at a time with 2 threads: the KV heads go in parts (8 at
   * first, one part from 4 chunks of cells), which changes no bit */
  {
    prima_context *two = new_ctx (m, 2, 0);
    for (int i = 0; i < N_PROMPT; i++) {
      g_assert_true (prima_context_eval (two, 1, prompt + i, NULL, i, out, FALSE, &error));
      g_assert_no_error (error);
      if (memcmp (out, solo + i * nv, nv * sizeof (float)) != 0)
        g_error ("2 threads: position %d differs from 1 thread", i);
    }
    prima_context_free (two);
  }

  /* one call of the whole prompt; then chunks of 96 tokens (a chunk
   * boundary of attention falls inside an evaluation chunk) */
  const int batches[] = { N_PROMPT, 96 };
  for (guint b = 0; b < G_N_ELEMENTS (batches); b++) {
    prima_context *ctx = new_ctx (m, 2, batches[b]);
    memset (out, 0, N_PROMPT * nv * sizeof (float));
    g_assert_true (prima_context_eval (ctx, N_PROMPT, prompt, NULL, 0, out, TRUE, &error));
    g_assert_no_error (error);
    for (int i = 0; i < N_PROMPT; i++)
      if (memcmp (out + i * nv, solo + i * nv, nv * sizeof (float)) != 0)
        g_error ("n_batch %d: position %d differs from the token fed alone", batches[b], i);
    prima_context_free (ctx);
  }
  g_free (prompt);
  g_free (solo);
  g_free (out);
  prima_model_free (m);
}

static void
test_stories260k (void)
{
  check (test_data_path ("stories260K-f32.gguf"));
}

/* head_dim 16 or more: the AVX-512 kernels' path */
static void
test_656k (void)
{
  check (test_data_path ("TinyStories-656K-q8_0.gguf"));
}

static void
test_q4_k (void)
{
  check (test_shared_path ("golden/tiny-llama-Q4_K_M.gguf"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/prompt-chunk/stories260K-f32", test_stories260k);
  g_test_add_func ("/prompt-chunk/TinyStories-656K-q8_0", test_656k);
  g_test_add_func ("/prompt-chunk/Q4_K_M", test_q4_k);
  return g_test_run ();
}
