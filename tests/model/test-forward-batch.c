/* gst-prima tests: several sequences in one forward pass
 * (prima_context_eval_batch) give, row for row and bit for bit, what each
 * sequence gives alone through prima_context_eval; the per-sequence KV
 * operations touch only their sequence; a bad batch changes nothing.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <string.h>

#include "forward.h"
#include "test-common.h"

#define N_SEQ 4
#define N_DECODE 20
#define N_CTX 64
#define MAX_PROMPT 16

static const int prompt_len[N_SEQ] = { 9, 3, 14, 6 };

/* Prompt s: BOS then ids spread over the vocabulary, different per sequence. */
static void
make_prompt (const prima_model *m, int s, int32_t *out)
{
  out[0] = 1;
  for (int i = 1; i < prompt_len[s]; i++)
    out[i] = (int32_t) ((i * 37 + s * 101 + 5) % (m->hp.n_vocab - 3)) + 3;
}

static prima_model *
load_path (char *path)
{
  GError *error = NULL;
  prima_model *m = prima_model_load (path, &error);
  g_assert_no_error (error);
  g_free (path);
  return m;
}

static prima_context *
new_ctx (const prima_model *m, int n_seq, int n_batch, int first, int last)
{
  prima_context_params p = { .first_layer = first, .last_layer = last, .n_ctx = N_CTX, .n_threads = 2,
    .n_batch = n_batch, .n_seq = n_seq };
  GError *error = NULL;
  prima_context *ctx = prima_context_new (m, &p, &error);
  g_assert_no_error (error);
  g_assert_cmpint (prima_context_n_seq (ctx), ==, n_seq);
  return ctx;
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

static void
eval_ok (prima_context *ctx, int n, const int32_t *tokens, int pos0, float *out, gboolean all)
{
  GError *error = NULL;
  g_assert_true (prima_context_eval (ctx, n, tokens, NULL, pos0, out, all, &error));
  g_assert_no_error (error);
}

static void
batch_ok (prima_context *ctx, const prima_batch *b, float *out)
{
  GError *error = NULL;
  g_assert_true (prima_context_eval_batch (ctx, b, out, &error));
  g_assert_no_error (error);
}

/* (a) N_SEQ prompts prefilled in one batch (tokens interleaved, chunked by a
 * small n_batch, logits only for each prompt's last token), then N_DECODE
 * greedy steps of one token per sequence: every row equals the solo run. */
static void
check_prefill_decode (const prima_model *m)
{
  const int nv = m->hp.n_vocab;
  int32_t prompts[N_SEQ][MAX_PROMPT];
  float *solo = g_new (float, (size_t) N_SEQ * (N_DECODE + 1) * nv);
  int32_t solo_tok[N_SEQ][N_DECODE + 1];
  int32_t tokens[N_SEQ * MAX_PROMPT];
  int seq[N_SEQ * MAX_PROMPT], pos[N_SEQ * MAX_PROMPT];
  gboolean want[N_SEQ * MAX_PROMPT];
  float *out = g_new (float, (size_t) N_SEQ * nv);
  int n = 0, last_row[N_SEQ];

  for (int s = 0; s < N_SEQ; s++) {
    prima_context *ctx = new_ctx (m, 1, 512, 0, 0);
    make_prompt (m, s, prompts[s]);
    for (int k = 0; k <= N_DECODE; k++) {
      float *row = solo + ((size_t) s * (N_DECODE + 1) + k) * nv;
      if (k == 0)
        eval_ok (ctx, prompt_len[s], prompts[s], 0, row, FALSE);
      else
        eval_ok (ctx, 1, &solo_tok[s][k - 1], prompt_len[s] + k - 1, row, FALSE);
      solo_tok[s][k] = argmax (row, nv);
    }
    prima_context_free (ctx);
  }

  /* n_batch 5: chunks cut through the prompts */
  prima_context *ctx = new_ctx (m, N_SEQ, 5, 0, 0);
  for (int i = 0; i < MAX_PROMPT; i++)
    for (int s = 0; s < N_SEQ; s++)
      if (i < prompt_len[s]) {
        tokens[n] = prompts[s][i];
        seq[n] = s;
        pos[n] = i;
        want[n] = i == prompt_len[s] - 1;
        if (want[n])
          last_row[s] = n;
        n++;
      }
  {
    prima_batch b = { .n = n, .tokens = tokens, .seq = seq, .pos = pos, .want = want };
    int row = 0;
    batch_ok (ctx, &b, out);
    /* rows come in batch order of the wanted tokens */
    for (int i = 0; i < n; i++)
      if (want[i]) {
        const int s = seq[i];
        g_assert_cmpint (last_row[s], ==, i);
        g_assert_cmpmem (out + (size_t) row * nv, nv * 4, solo + (size_t) s * (N_DECODE + 1) * nv, nv * 4);
        row++;
      }
    g_assert_cmpint (row, ==, N_SEQ);
  }
  for (int s = 0; s < N_SEQ; s++)
    g_assert_cmpint (prima_context_seq_kv_n_cells (ctx, s), ==, prompt_len[s]);

  for (int k = 1; k <= N_DECODE; k++) {
    int32_t step_tok[N_SEQ];
    int step_seq[N_SEQ], step_pos[N_SEQ];
    /* the order of the sequences in a batch changes from step to step */
    for (int i = 0; i < N_SEQ; i++) {
      const int s = (i + k) % N_SEQ;
      step_seq[i] = s;
      step_pos[i] = prompt_len[s] + k - 1;
      step_tok[i] = solo_tok[s][k - 1];
    }
    prima_batch b = { .n = N_SEQ, .tokens = step_tok, .seq = step_seq, .pos = step_pos };
    batch_ok (ctx, &b, out);
    for (int i = 0; i < N_SEQ; i++) {
      const int s = step_seq[i];
      const float *want_row = solo + ((size_t) s * (N_DECODE + 1) + k) * nv;
      g_assert_cmpmem (out + (size_t) i * nv, nv * 4, want_row, nv * 4);
      g_assert_cmpint (argmax (out + (size_t) i * nv, nv), ==, solo_tok[s][k]);
    }
  }
  g_assert_cmpuint (prima_context_n_evaluated (ctx), ==, (guint64) n + N_SEQ * N_DECODE);
  prima_context_free (ctx);
  g_free (solo);
  g_free (out);
}

/* (b) Sequence 0 decodes while sequence 1 prefills its prompt in the same
 * batches (all rows wanted). */
static void
check_mixed (const prima_model *m)
{
  const int nv = m->hp.n_vocab;
  int32_t a[MAX_PROMPT], p[MAX_PROMPT];
  const int32_t dec[2] = { 17, 42 };
  float *solo_a = g_new (float, 2 * (size_t) nv), *solo_p = g_new (float, (size_t) MAX_PROMPT * nv);
  float *out = g_new (float, (size_t) (MAX_PROMPT + 2) * nv);
  float *tmp = g_new (float, (size_t) MAX_PROMPT * nv);
  const int la = prompt_len[0], lp = prompt_len[2], cut = 5;

  make_prompt (m, 0, a);
  make_prompt (m, 2, p);
  {
    prima_context *ctx = new_ctx (m, 1, 512, 0, 0);
    eval_ok (ctx, la, a, 0, tmp, FALSE);
    eval_ok (ctx, 1, &dec[0], la, solo_a, FALSE);
    eval_ok (ctx, 1, &dec[1], la + 1, solo_a + nv, FALSE);
    prima_context_kv_clear (ctx);
    eval_ok (ctx, lp, p, 0, solo_p, TRUE);
    prima_context_free (ctx);
  }

  prima_context *ctx = new_ctx (m, 2, 512, 0, 0);
  {
    int seq0[MAX_PROMPT] = { 0 }, pos0[MAX_PROMPT];
    for (int i = 0; i < la; i++)
      pos0[i] = i;
    prima_batch b = { .n = la, .tokens = a, .seq = seq0, .pos = pos0 };
    batch_ok (ctx, &b, tmp);
  }
  for (int step = 0; step < 2; step++) {
    /* step 0: p[0 .. cut) then the decode token; step 1: the decode token first */
    const int p0 = step ? cut : 0, p1 = step ? lp : cut, n = p1 - p0 + 1;
    int32_t tokens[MAX_PROMPT + 1];
    int seq[MAX_PROMPT + 1], pos[MAX_PROMPT + 1], i = 0, dec_row;
    if (step) {
      dec_row = i;
      tokens[i] = dec[step], seq[i] = 0, pos[i++] = la + step;
    }
    for (int j = p0; j < p1; j++)
      tokens[i] = p[j], seq[i] = 1, pos[i++] = j;
    if (!step) {
      dec_row = i;
      tokens[i] = dec[step], seq[i] = 0, pos[i++] = la + step;
    }
    g_assert_cmpint (i, ==, n);
    prima_batch b = { .n = n, .tokens = tokens, .seq = seq, .pos = pos };
    batch_ok (ctx, &b, out);
    g_assert_cmpmem (out + (size_t) dec_row * nv, nv * 4, solo_a + (size_t) step * nv, nv * 4);
    for (int r = 0; r < n; r++)
      if (r != dec_row)
        g_assert_cmpmem (out + (size_t) r * nv, nv * 4, solo_p + (size_t) pos[r] * nv, nv * 4);
  }
  g_assert_cmpint (prima_context_seq_kv_n_cells (ctx, 0), ==, la + 2);
  g_assert_cmpint (prima_context_seq_kv_n_cells (ctx, 1), ==, lp);
  prima_context_free (ctx);
  g_free (solo_a);
  g_free (solo_p);
  g_free (out);
  g_free (tmp);
}

static void
prefill_all (prima_context *ctx, const prima_model *m, int n_seq, int32_t prompts[][MAX_PROMPT])
{
  int32_t tokens[N_SEQ * MAX_PROMPT];
  int seq[N_SEQ * MAX_PROMPT], pos[N_SEQ * MAX_PROMPT], n = 0;
  float *out = g_new (float, (size_t) N_SEQ * m->hp.n_vocab);
  for (int s = 0; s < n_seq; s++) {
    make_prompt (m, s, prompts[s]);
    for (int i = 0; i < prompt_len[s]; i++)
      tokens[n] = prompts[s][i], seq[n] = s, pos[n++] = i;
  }
  gboolean want[N_SEQ * MAX_PROMPT] = { 0 };
  want[n - 1] = TRUE;
  prima_batch b = { .n = n, .tokens = tokens, .seq = seq, .pos = pos, .want = want };
  batch_ok (ctx, &b, out);
  g_free (out);
}

/* One token for each of n sequences in a batch; row i must equal ref[i]. */
static void
step_compare (prima_context *ctx, const prima_model *m, int n, const int *seq, const int *pos,
    const int32_t *tokens, float *const *ref)
{
  const int nv = m->hp.n_vocab;
  float *out = g_new (float, (size_t) n * nv);
  prima_batch b = { .n = n, .tokens = tokens, .seq = seq, .pos = pos };
  batch_ok (ctx, &b, out);
  for (int i = 0; i < n; i++)
    g_assert_cmpmem (out + (size_t) i * nv, nv * 4, ref[i], nv * 4);
  g_free (out);
}

/* (c) clear, remove and shift on one sequence: the others go on as if
 * nothing happened, and the changed one as a solo context given the same
 * operations. */
static void
check_seq_kv_ops (const prima_model *m)
{
  const int nv = m->hp.n_vocab;
  int32_t prompts[N_SEQ][MAX_PROMPT], fresh[MAX_PROMPT];
  float *ref[N_SEQ], *tmp = g_new (float, (size_t) MAX_PROMPT * nv);
  const int32_t next = 77;
  int seq[N_SEQ], pos[N_SEQ];
  int32_t tokens[N_SEQ];
  prima_context *ctx = new_ctx (m, N_SEQ, 512, 0, 0);

  prefill_all (ctx, m, N_SEQ, prompts);
  make_prompt (m, 3, fresh);
  /* 1: cleared; 2: [2, 4) removed, later positions shifted down by 2; 3:
   * everything from 4 on removed; 0 untouched */
  prima_context_seq_kv_clear (ctx, 1);
  prima_context_seq_kv_remove (ctx, 2, 2, 4);
  prima_context_seq_kv_shift (ctx, 2, 4, -1, -2);
  prima_context_seq_kv_remove (ctx, 3, 4, -1);
  g_assert_cmpint (prima_context_seq_kv_n_cells (ctx, 0), ==, prompt_len[0]);
  g_assert_cmpint (prima_context_seq_kv_n_cells (ctx, 1), ==, 0);
  g_assert_cmpint (prima_context_seq_kv_pos_max (ctx, 1), ==, -1);
  g_assert_cmpint (prima_context_seq_kv_n_cells (ctx, 2), ==, prompt_len[2] - 2);
  g_assert_cmpint (prima_context_seq_kv_pos_max (ctx, 2), ==, prompt_len[2] - 3);
  g_assert_cmpint (prima_context_seq_kv_n_cells (ctx, 3), ==, 4);
  g_assert_cmpint (prima_context_kv_n_cells (ctx), ==, prompt_len[0]);

  for (int s = 0; s < N_SEQ; s++) {
    prima_context *solo = new_ctx (m, 1, 512, 0, 0);
    ref[s] = g_new (float, nv);
    seq[s] = s;
    tokens[s] = next;
    if (s == 1) {
      eval_ok (solo, 1, fresh, 0, ref[s], FALSE);
      tokens[s] = fresh[0];
      pos[s] = 0;
    } else {
      eval_ok (solo, prompt_len[s], prompts[s], 0, tmp, FALSE);
      if (s == 2) {
        prima_context_kv_remove (solo, 2, 4);
        prima_context_kv_shift (solo, 4, -1, -2);
      }
      pos[s] = s == 3 ? 4 : prima_context_kv_pos_max (solo) + 1;
      eval_ok (solo, 1, &next, pos[s], ref[s], FALSE);
    }
    prima_context_free (solo);
  }
  step_compare (ctx, m, N_SEQ, seq, pos, tokens, ref);
  for (int s = 0; s < N_SEQ; s++)
    g_free (ref[s]);
  g_free (tmp);
  prima_context_free (ctx);
}

static void
expect_fail (prima_context *ctx, const prima_batch *b, int code, const char *what)
{
  GError *error = NULL;
  float *out = g_new (float, (size_t) 64 * 1024);
  guint64 n_eval = prima_context_n_evaluated (ctx);
  int cells[N_SEQ], pmax[N_SEQ];
  for (int s = 0; s < N_SEQ; s++) {
    cells[s] = prima_context_seq_kv_n_cells (ctx, s);
    pmax[s] = prima_context_seq_kv_pos_max (ctx, s);
  }
  g_assert_false (prima_context_eval_batch (ctx, b, out, &error));
  g_assert_error (error, PRIMA_CONTEXT_ERROR, code);
  g_test_message ("%s: %s", what, error->message);
  g_clear_error (&error);
  g_assert_cmpuint (prima_context_n_evaluated (ctx), ==, n_eval);
  for (int s = 0; s < N_SEQ; s++) {
    g_assert_cmpint (prima_context_seq_kv_n_cells (ctx, s), ==, cells[s]);
    g_assert_cmpint (prima_context_seq_kv_pos_max (ctx, s), ==, pmax[s]);
  }
  g_free (out);
}

/* (d) Bad batches fail and change nothing; each starts with a valid token of
 * sequence 0 at position 1 that would roll that sequence back. */
static void
check_errors (const prima_model *m)
{
  const int nv = m->hp.n_vocab;
  int32_t prompts[N_SEQ][MAX_PROMPT];
  prima_context *ctx = new_ctx (m, N_SEQ, 512, 0, 0);
  float *ref[2], *tmp = g_new (float, (size_t) N_CTX * nv);
  int32_t tokens[N_CTX + 2];
  int seq[N_CTX + 2], pos[N_CTX + 2];
  const int32_t next = 99;

  prefill_all (ctx, m, N_SEQ, prompts);
  for (int i = 0; i < N_CTX + 2; i++)
    tokens[i] = 5 + i % 50, seq[i] = 0, pos[i] = 1 + i;

  seq[1] = N_SEQ;
  expect_fail (ctx, &(prima_batch) { .n = 2, .tokens = tokens, .seq = seq, .pos = pos }, 0, "sequence");
  seq[1] = -1;
  expect_fail (ctx, &(prima_batch) { .n = 2, .tokens = tokens, .seq = seq, .pos = pos }, 0, "sequence");
  seq[1] = 0;
  pos[1] = 0;
  expect_fail (ctx, &(prima_batch) { .n = 2, .tokens = tokens, .seq = seq, .pos = pos }, 0, "decreasing");
  pos[1] = 1;
  expect_fail (ctx, &(prima_batch) { .n = 2, .tokens = tokens, .seq = seq, .pos = pos }, 0, "repeated");
  pos[1] = -3;
  seq[1] = 1;
  expect_fail (ctx, &(prima_batch) { .n = 2, .tokens = tokens, .seq = seq, .pos = pos }, 0, "negative");
  pos[1] = 2;
  tokens[1] = nv;
  expect_fail (ctx, &(prima_batch) { .n = 2, .tokens = tokens, .seq = seq, .pos = pos }, 0, "token id");
  tokens[1] = 6;
  expect_fail (ctx, &(prima_batch) { .n = 2, .seq = seq, .pos = pos }, 0, "no input");
  /* sequence 1 (3 cells) gets N_CTX - 2 more after sequence 0's valid token:
   * one too many */
  for (int i = 1; i < N_CTX - 1; i++)
    seq[i] = 1, pos[i] = prompt_len[1] + i - 1;
  expect_fail (ctx, &(prima_batch) { .n = N_CTX - 1, .tokens = tokens, .seq = seq, .pos = pos }, 1, "full");

  /* the caches are as they were: every sequence continues as solo */
  int s2[2] = { 0, 1 }, p2[2] = { prompt_len[0], prompt_len[1] };
  int32_t t2[2] = { next, next };
  for (int s = 0; s < 2; s++) {
    prima_context *solo = new_ctx (m, 1, 512, 0, 0);
    ref[s] = g_new (float, nv);
    eval_ok (solo, prompt_len[s], prompts[s], 0, tmp, FALSE);
    eval_ok (solo, 1, &next, prompt_len[s], ref[s], FALSE);
    prima_context_free (solo);
  }
  step_compare (ctx, m, 2, s2, p2, t2, ref);
  /* exactly full is fine: sequence 1 now holds 4 cells */
  for (int i = 0; i < N_CTX - 4; i++)
    seq[i] = 1, pos[i] = 4 + i;
  batch_ok (ctx, &(prima_batch) { .n = N_CTX - 4, .tokens = tokens, .seq = seq, .pos = pos,
        .want = (gboolean[1]) { FALSE } }, tmp);
  g_assert_cmpint (prima_context_seq_kv_n_cells (ctx, 1), ==, N_CTX);
  g_free (ref[0]);
  g_free (ref[1]);
  g_free (tmp);
  prima_context_free (ctx);
}

/* (e) Windows without the head or without the embedding: the first window
 * returns hidden states of every token, the second takes them; batched
 * equals solo for both. */
static void
check_windows (const prima_model *m)
{
  const int ne = m->hp.n_embd, nv = m->hp.n_vocab, split = m->hp.n_layer / 2;
  int32_t prompts[N_SEQ][MAX_PROMPT];
  int32_t tokens[N_SEQ * MAX_PROMPT];
  int seq[N_SEQ * MAX_PROMPT], pos[N_SEQ * MAX_PROMPT], n = 0;
  float *hidden = g_new (float, (size_t) N_SEQ * MAX_PROMPT * ne);
  float *logits = g_new (float, (size_t) N_SEQ * MAX_PROMPT * nv);
  float *solo_h = g_new (float, (size_t) MAX_PROMPT * ne), *solo_l = g_new (float, (size_t) MAX_PROMPT * nv);
  prima_context *a = new_ctx (m, N_SEQ, 7, 0, split), *b = new_ctx (m, N_SEQ, 512, split, 0);

  g_assert_false (prima_context_has_head (a));
  g_assert_false (prima_context_has_embedding (b));
  for (int s = 0; s < N_SEQ; s++)
    make_prompt (m, s, prompts[s]);
  /* sequence by sequence, backwards, each in increasing positions */
  for (int s = N_SEQ - 1; s >= 0; s--)
    for (int i = 0; i < prompt_len[s]; i++)
      tokens[n] = prompts[s][i], seq[n] = s, pos[n++] = i;
  {
    gboolean want[1] = { FALSE };     /* ignored without the head: every row */
    batch_ok (a, &(prima_batch) { .n = n, .tokens = tokens, .seq = seq, .pos = pos, .want = want }, hidden);
    batch_ok (b, &(prima_batch) { .n = n, .hidden = hidden, .seq = seq, .pos = pos }, logits);
  }
  {
    int r = 0;
    for (int s = N_SEQ - 1; s >= 0; s--) {
      prima_context *sa = new_ctx (m, 1, 512, 0, split), *sb = new_ctx (m, 1, 512, split, 0);
      GError *error = NULL;
      eval_ok (sa, prompt_len[s], prompts[s], 0, solo_h, TRUE);
      g_assert_true (prima_context_eval (sb, prompt_len[s], NULL, solo_h, 0, solo_l, TRUE, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (hidden + (size_t) r * ne, prompt_len[s] * ne * 4, solo_h, prompt_len[s] * ne * 4);
      g_assert_cmpmem (logits + (size_t) r * nv, prompt_len[s] * nv * 4, solo_l, prompt_len[s] * nv * 4);
      r += prompt_len[s];
      prima_context_free (sa);
      prima_context_free (sb);
    }
  }
  prima_context_free (a);
  prima_context_free (b);
  g_free (hidden);
  g_free (logits);
  g_free (solo_h);
  g_free (solo_l);
}

/* Speculative decoding's verification pass (docs/design.md section 2):
 * evaluating k tokens in one call gives, row for row and bit for bit, the
 * logits of evaluating them one at a time, and evaluating at an earlier
 * position rolls the cache back to it (a rejected draft), after which
 * decoding continues as if the rejected tokens had never been seen. Every
 * k from 1 to VERIFY_K, in a context of 2 threads. */
#define VERIFY_PROMPT 9
#define VERIFY_K 9
static void
check_verify (const prima_model *m)
{
  const int nv = m->hp.n_vocab;
  int32_t prompt[VERIFY_PROMPT], toks[VERIFY_K + 1];
  float *solo = g_new (float, (size_t) (VERIFY_K + 1) * nv), *many = g_new (float, (size_t) VERIFY_K * nv);
  prima_context *ctx = new_ctx (m, 1, 0, 0, 0);

  make_prompt (m, 0, prompt);      /* prompt_len[0] == VERIFY_PROMPT */
  eval_ok (ctx, VERIFY_PROMPT, prompt, 0, solo, FALSE);
  toks[0] = argmax (solo, nv);
  for (int i = 0; i < VERIFY_K; i++) {
    eval_ok (ctx, 1, &toks[i], VERIFY_PROMPT + i, solo + (size_t) i * nv, FALSE);
    toks[i + 1] = argmax (solo + (size_t) i * nv, nv);
  }
  for (int k = VERIFY_K; k >= 1; k--) {
    /* back to the end of the prompt, then k tokens at once */
    eval_ok (ctx, k, toks, VERIFY_PROMPT, many, TRUE);
    for (int i = 0; i < k; i++)
      g_assert_cmpmem (many + (size_t) i * nv, nv * 4, solo + (size_t) i * nv, nv * 4);
    g_assert_cmpint (prima_context_kv_pos_max (ctx), ==, VERIFY_PROMPT + k - 1);
  }
  /* a draft of wrong tokens, rejected after the first: the rest of the
   * decode from there equals the solo run */
  {
    int32_t wrong[4] = { toks[0], (toks[1] + 1) % nv, (toks[2] + 7) % nv, (toks[3] + 3) % nv };
    eval_ok (ctx, 4, wrong, VERIFY_PROMPT, many, TRUE);
    g_assert_cmpmem (many, nv * 4, solo, nv * 4);
    for (int i = 1; i < VERIFY_K; i++) {
      eval_ok (ctx, 1, &toks[i], VERIFY_PROMPT + i, many, FALSE);
      g_assert_cmpmem (many, nv * 4, solo + (size_t) i * nv, nv * 4);
    }
  }
  prima_context_free (ctx);
  g_free (solo);
  g_free (many);
}

static void
run_all (prima_model *m)
{
  check_verify (m);
  check_prefill_decode (m);
  check_mixed (m);
  check_seq_kv_ops (m);
  check_errors (m);
  check_windows (m);
  prima_model_free (m);
}

static void
test_stories260k (void)
{
  run_all (load_path (test_data_path ("stories260K-f32.gguf")));
}

static void
test_q8_0 (void)
{
  run_all (load_path (test_data_path ("TinyStories-656K-q8_0.gguf")));
}

static void
test_656k_f32 (void)
{
  char *path = test_shared_path ("golden/TinyStories-656K-f32.gguf");
  if (path == NULL)
    return;
  run_all (load_path (path));
}

static void
test_q4_k (void)
{
  char *path = test_shared_path ("golden/tiny-llama-Q4_K_M.gguf");
  if (path == NULL)
    return;
  run_all (load_path (path));
}

/* A sequence never evaluated costs no resident KV memory: with 8
 * sequences, evaluating in sequence 0 touches exactly what a 1-sequence
 * context touches. */
static void
test_lazy_kv (void)
{
  prima_model *m = load_path (test_data_path ("stories260K-f32.gguf"));
  prima_context_params p = { .n_ctx = 4096, .n_threads = 1, .n_seq = 8 };
  prima_context *ctx = prima_context_new (m, &p, NULL), *one;
  guint64 alloc1, alloc8, res1, res8;
  int32_t prompt[4] = { 1, 20, 30, 40 };
  float *out = g_new (float, m->hp.n_vocab);

  p.n_seq = 1;
  one = prima_context_new (m, &p, NULL);
  eval_ok (ctx, 4, prompt, 0, out, FALSE);
  eval_ok (one, 4, prompt, 0, out, FALSE);
  prima_context_kv_bytes (ctx, &alloc8, &res8);
  prima_context_kv_bytes (one, &alloc1, &res1);
  g_test_message ("KV resident: 8 sequences %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT ", 1 sequence %"
      G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT, res8, alloc8, res1, alloc1);
  g_assert_cmpuint (alloc8, ==, 8 * alloc1);
  g_assert_cmpuint (res1, >, 0);
  g_assert_cmpuint (res1, <, alloc1);
  g_assert_cmpuint (res8, ==, res1);
  prima_context_free (one);
  prima_context_free (ctx);
  prima_model_free (m);
  g_free (out);
}

/* Long contexts, where attention splits a token's cells into chunks
 * (attention.h, PRIMA_ATTN_CHUNK) shared by threads: a decode token at
 * position LONG_A (several chunks) batched with another sequence's decode
 * and a third's first token, in a context of 2 threads and a small
 * n_batch, equals the same token evaluated alone with 1 thread, bit for
 * bit; so does the other sequence's. */
#define LONG_A 600
#define LONG_B 300
static void
test_long_split (void)
{
  prima_model *m = load_path (test_data_path ("stories260K-f32.gguf"));
  const int nv = m->hp.n_vocab;
  int32_t *pa = g_new (int32_t, LONG_A), *pb = g_new (int32_t, LONG_B);
  float *solo = g_new (float, 2 * (size_t) nv), *out = g_new (float, 3 * (size_t) nv);
  GError *error = NULL;
  const int32_t da = 17, db = 42, dc = 1;

  for (int i = 0; i < LONG_A; i++)
    pa[i] = (i * 37 + 5) % (nv - 3) + 3;
  for (int i = 0; i < LONG_B; i++)
    pb[i] = (i * 53 + 11) % (nv - 3) + 3;
  {
    prima_context_params p = { .n_ctx = LONG_A + 8, .n_threads = 1 };
    prima_context *ctx = prima_context_new (m, &p, &error);
    g_assert_no_error (error);
    eval_ok (ctx, LONG_A, pa, 0, out, FALSE);
    eval_ok (ctx, 1, &da, LONG_A, solo, FALSE);
    prima_context_kv_clear (ctx);
    eval_ok (ctx, LONG_B, pb, 0, out, FALSE);
    eval_ok (ctx, 1, &db, LONG_B, solo + nv, FALSE);
    prima_context_free (ctx);
  }
  {
    prima_context_params p = { .n_ctx = LONG_A + 8, .n_threads = 2, .n_batch = 96, .n_seq = 3 };
    prima_context *ctx = prima_context_new (m, &p, &error);
    int32_t tok[3] = { db, da, dc };
    int seq[3] = { 1, 0, 2 }, pos[3] = { LONG_B, LONG_A, 0 };
    g_assert_no_error (error);
    eval_ok (ctx, LONG_A, pa, 0, out, FALSE);   /* sequence 0 */
    {
      int *s1 = g_new0 (int, LONG_B), *p1 = g_new (int, LONG_B);
      for (int i = 0; i < LONG_B; i++)
        s1[i] = 1, p1[i] = i;
      gboolean *want = g_new0 (gboolean, LONG_B);
      want[LONG_B - 1] = TRUE;
      prima_batch b = { .n = LONG_B, .tokens = pb, .seq = s1, .pos = p1, .want = want };
      batch_ok (ctx, &b, out);
      g_free (s1);
      g_free (p1);
      g_free (want);
    }
    prima_batch b = { .n = 3, .tokens = tok, .seq = seq, .pos = pos };
    batch_ok (ctx, &b, out);
    g_assert_cmpmem (out + (size_t) nv, nv * 4, solo, nv * 4);
    g_assert_cmpmem (out, nv * 4, solo + nv, nv * 4);
    prima_context_free (ctx);
  }
  g_free (pa);
  g_free (pb);
  g_free (solo);
  g_free (out);
  prima_model_free (m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/forward-batch/lazy-kv", test_lazy_kv);
  g_test_add_func ("/forward-batch/long-split", test_long_split);
  g_test_add_func ("/forward-batch/stories260K-f32", test_stories260k);
  g_test_add_func ("/forward-batch/TinyStories-656K-q8_0", test_q8_0);
  g_test_add_func ("/forward-batch/TinyStories-656K-f32", test_656k_f32);
  g_test_add_func ("/forward-batch/Q4_K_M", test_q4_k);
  return g_test_run ();
}
