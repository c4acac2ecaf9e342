/* gst-prima: choosing the next token from logits.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct prima_sampler {
  prima_sampler_params p;
  int n_vocab;
  GRand *rand;
  int32_t *history;             /* ring of the last penalty_last_n tokens */
  int n_history, history_pos;
  float *work;
  int32_t *ids;
};

void
prima_sampler_params_init (prima_sampler_params *p)
{
  memset (p, 0, sizeof *p);
  p->temperature = 0.8f;
  p->top_k = 40;
  p->top_p = 0.95f;
  p->min_p = 0.05f;
  p->repeat_penalty = 1.0f;
  p->penalty_last_n = 64;
  p->seed = 0xFFFFFFFFu;
}

prima_sampler *
prima_sampler_new (const prima_sampler_params *p, int n_vocab)
{
  prima_sampler *s = g_new0 (prima_sampler, 1);
  s->p = *p;
  s->n_vocab = n_vocab;
  /* seed 0xFFFFFFFF means "random", as in llama-cli */
  s->rand = p->seed == 0xFFFFFFFFu ? g_rand_new () : g_rand_new_with_seed ((guint32) p->seed);
  s->history = g_new0 (int32_t, MAX (1, p->penalty_last_n));
  s->work = g_new (float, n_vocab);
  s->ids = g_new (int32_t, n_vocab);
  return s;
}

void
prima_sampler_free (prima_sampler *s)
{
  if (s == NULL)
    return;
  g_rand_free (s->rand);
  g_free (s->history);
  g_free (s->work);
  g_free (s->ids);
  g_free (s);
}

void
prima_sampler_accept (prima_sampler *s, int32_t token)
{
  if (s->p.penalty_last_n <= 0)
    return;
  s->history[s->history_pos] = token;
  s->history_pos = (s->history_pos + 1) % s->p.penalty_last_n;
  s->n_history = MIN (s->n_history + 1, s->p.penalty_last_n);
}

int32_t
prima_argmax (const float *v, int n)
{
  int32_t best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

static const float *sort_keys;

static int
by_logit_desc (const void *a, const void *b)
{
  float x = sort_keys[*(const int32_t *) a], y = sort_keys[*(const int32_t *) b];
  if (x != y)
    return x < y ? 1 : -1;
  return *(const int32_t *) a - *(const int32_t *) b;
}

/* The penalised logits into s->work; for a temperature > 0 also the
 * surviving candidates (s->ids[0 .. keep-1], by logit) and their weights
 * (probs, unnormalised, sum in *sum). Returns keep, or 0 for greedy. */
static int
prima_sampler_candidates (prima_sampler *s, const float *logits, float **probs_out, double *sum_out)
{
  const prima_sampler_params *p = &s->p;
  float *w = s->work;
  int n = s->n_vocab;

  memcpy (w, logits, sizeof (float) * n);
  if (s->n_history > 0 && (p->repeat_penalty != 1.0f || p->frequency_penalty != 0.0f || p->presence_penalty != 0.0f)) {
    GHashTable *counts = g_hash_table_new (NULL, NULL);
    for (int i = 0; i < s->n_history; i++) {
      gpointer key = GINT_TO_POINTER (s->history[i]);
      g_hash_table_insert (counts, key, GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (counts, key)) + 1));
    }
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init (&it, counts);
    while (g_hash_table_iter_next (&it, &key, &value)) {
      int id = GPOINTER_TO_INT (key), c = GPOINTER_TO_INT (value);
      if (id < 0 || id >= n)
        continue;
      w[id] = w[id] > 0 ? w[id] / p->repeat_penalty : w[id] * p->repeat_penalty;
      w[id] -= c * p->frequency_penalty + p->presence_penalty;
    }
    g_hash_table_destroy (counts);
  }
  if (p->temperature <= 0.0f)
    return 0;

  /* Candidates sorted by logit (top-k bounds the sort). */
  int k = p->top_k > 0 ? MIN (p->top_k, n) : n;
  for (int i = 0; i < n; i++)
    s->ids[i] = i;
  sort_keys = w;
  qsort (s->ids, n, sizeof (int32_t), by_logit_desc);

  /* Softmax over the k candidates, then top-p and min-p cuts. */
  double sum = 0.0;
  float max = w[s->ids[0]];
  float *probs = g_new (float, k);
  for (int i = 0; i < k; i++) {
    probs[i] = expf (w[s->ids[i]] - max);
    sum += probs[i];
  }
  int keep = k;
  if (p->top_p < 1.0f) {
    double cum = 0.0;
    for (int i = 0; i < k; i++) {
      cum += probs[i] / sum;
      if (cum >= p->top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  if (p->min_p > 0.0f) {
    for (int i = 1; i < keep; i++)
      if (probs[i] < p->min_p * probs[0]) {
        keep = i;
        break;
      }
  }
  /* Temperature on the survivors' logits. */
  sum = 0.0;
  for (int i = 0; i < keep; i++) {
    probs[i] = expf ((w[s->ids[i]] - max) / p->temperature);
    sum += probs[i];
  }
  *probs_out = probs;
  *sum_out = sum;
  return keep;
}

/* A draw from the survivors, skipping id `skip` (-1: none) whose weight
 * the caller took out of sum. */
static int32_t
prima_sampler_draw (prima_sampler *s, const float *probs, int keep, double sum, int32_t skip)
{
  double r = g_rand_double (s->rand) * sum, acc = 0.0;
  int32_t chosen = -1;
  for (int i = 0; i < keep; i++) {
    if (s->ids[i] == skip)
      continue;
    chosen = s->ids[i];
    acc += probs[i];
    if (r < acc)
      break;
  }
  return chosen;
}

int32_t
prima_sampler_sample (prima_sampler *s, const float *logits)
{
  float *probs = NULL;
  double sum = 0.0;
  int keep = prima_sampler_candidates (s, logits, &probs, &sum);
  int32_t chosen;

  if (keep == 0)
    return prima_argmax (s->work, s->n_vocab);
  chosen = prima_sampler_draw (s, probs, keep, sum, -1);
  g_free (probs);
  return chosen;
}

int32_t
prima_sampler_verify (prima_sampler *s, const float *logits, int32_t draft, gboolean *accepted)
{
  float *probs = NULL;
  double sum = 0.0, p_draft = 0.0;
  int keep = prima_sampler_candidates (s, logits, &probs, &sum);
  int32_t chosen;

  if (keep == 0) {
    chosen = prima_argmax (s->work, s->n_vocab);
    *accepted = chosen == draft;
    return chosen;
  }
  for (int i = 0; i < keep; i++)
    if (s->ids[i] == draft)
      p_draft = probs[i];
  /* the draft proposed `draft` with q = 1: accept with p(draft) / q; on
   * rejection draw from max (0, p - q), which is p without `draft` */
  if (p_draft > 0.0 && g_rand_double (s->rand) * sum < p_draft) {
    *accepted = TRUE;
    chosen = draft;
  } else {
    *accepted = FALSE;
    chosen = sum - p_draft > 0.0 ? prima_sampler_draw (s, probs, keep, sum - p_draft, draft) : draft;
  }
  g_free (probs);
  return chosen;
}
