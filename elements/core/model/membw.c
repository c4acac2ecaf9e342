/* gst-prima: memory read bandwidth, measured the way decode reads weights.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each thread streams its contiguous share of one buffer, as the matmul
 * threads stream their shares of a weight matrix. */
#include "membw.h"
#include "threadpool.h"

#include <glib.h>
#include <string.h>
#include <stdint.h>

typedef struct {
  const uint64_t *buf;
  size_t n_words;
  uint64_t sink[64];
} read_task;

static void
read_share (int ith, int nth, void *arg)
{
  read_task *t = arg;
  size_t per = (t->n_words / nth) & ~(size_t) 63;
  const uint64_t *p = t->buf + per * ith, *end = p + per;
  /* Eight independent accumulators keep the loads in flight. */
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
  for (; p < end; p += 8) {
    a0 ^= p[0];
    a1 ^= p[1];
    a2 ^= p[2];
    a3 ^= p[3];
    a4 ^= p[4];
    a5 ^= p[5];
    a6 ^= p[6];
    a7 ^= p[7];
  }
  t->sink[ith % 64] = a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7;
}

/* The best of five passes over buf, after one that maps the pages and
 * starts the threads. */
static double
best_of_passes (int n_threads, const uint64_t *buf, size_t n_words)
{
  prima_threadpool *pool = prima_threadpool_new (n_threads);
  read_task t = { buf, n_words };
  const size_t bytes = ((n_words / n_threads) & ~(size_t) 63) * n_threads * sizeof (uint64_t);
  double best = 0.0;
  prima_threadpool_run (pool, read_share, &t);
  for (int pass = 0; pass < 5; pass++) {
    gint64 t0 = g_get_monotonic_time ();
    prima_threadpool_run (pool, read_share, &t);
    gint64 t1 = g_get_monotonic_time ();
    best = MAX (best, bytes / ((t1 - t0) / 1e6));
  }
  prima_threadpool_free (pool);
  return best;
}

double
prima_measure_read_bandwidth (int n_threads, size_t buffer_bytes)
{
  size_t n_words = buffer_bytes / sizeof (uint64_t);
  uint64_t *buf = g_malloc (n_words * sizeof (uint64_t));
  double bw;
  memset (buf, 1, n_words * sizeof (uint64_t));
  bw = best_of_passes (n_threads, buf, n_words);
  g_free (buf);
  return bw;
}

double
prima_measure_read_bandwidth_of (int n_threads, const void *data, size_t bytes)
{
  /* whole 64-byte lines, from the first aligned one */
  const uintptr_t a = ((uintptr_t) data + 63) & ~(uintptr_t) 63;
  const size_t skip = a - (uintptr_t) data;
  if (bytes <= skip + 64 * (size_t) MAX (n_threads, 1))
    return 0.0;
  return best_of_passes (MAX (n_threads, 1), (const uint64_t *) a, (bytes - skip) / sizeof (uint64_t));
}
