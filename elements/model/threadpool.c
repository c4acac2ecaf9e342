/* gst-prima: a persistent thread pool for the forward pass.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "threadpool.h"

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause ()
#else
#define cpu_relax() ((void) 0)
#endif

/* About a millisecond of spinning before a worker goes to sleep. */
#define SPIN_ROUNDS 20000

struct prima_threadpool {
  int n_threads;
  GThread **threads;
  prima_task_fn fn;
  void *arg;
  atomic_int generation;
  atomic_int n_done;
  atomic_int n_sleeping;
  atomic_bool stop;
  GMutex mutex;
  GCond cond;
};

typedef struct {
  prima_threadpool *pool;
  int ith;
} worker_start;

static gpointer
worker_main (gpointer data)
{
  worker_start *start = data;
  prima_threadpool *pool = start->pool;
  int ith = start->ith;
  int seen = 0;
  g_free (start);

  for (;;) {
    int spins = 0;
    int gen;
    while ((gen = atomic_load (&pool->generation)) == seen && !atomic_load (&pool->stop)) {
      if (++spins < SPIN_ROUNDS) {
        cpu_relax ();
        continue;
      }
      g_mutex_lock (&pool->mutex);
      atomic_fetch_add (&pool->n_sleeping, 1);
      while (atomic_load (&pool->generation) == seen && !atomic_load (&pool->stop))
        g_cond_wait (&pool->cond, &pool->mutex);
      atomic_fetch_sub (&pool->n_sleeping, 1);
      g_mutex_unlock (&pool->mutex);
      spins = 0;
    }
    if (atomic_load (&pool->stop))
      break;
    seen = gen;
    pool->fn (ith, pool->n_threads, pool->arg);
    atomic_fetch_add (&pool->n_done, 1);
  }
  return NULL;
}

prima_threadpool *
prima_threadpool_new (int n_threads)
{
  prima_threadpool *pool = g_new0 (prima_threadpool, 1);
  pool->n_threads = MAX (1, n_threads);
  g_mutex_init (&pool->mutex);
  g_cond_init (&pool->cond);
  pool->threads = g_new0 (GThread *, pool->n_threads);
  for (int i = 1; i < pool->n_threads; i++) {
    worker_start *start = g_new (worker_start, 1);
    start->pool = pool;
    start->ith = i;
    pool->threads[i] = g_thread_new ("prima-worker", worker_main, start);
  }
  return pool;
}

void
prima_threadpool_free (prima_threadpool *pool)
{
  if (pool == NULL)
    return;
  g_mutex_lock (&pool->mutex);
  atomic_store (&pool->stop, true);
  g_cond_broadcast (&pool->cond);
  g_mutex_unlock (&pool->mutex);
  for (int i = 1; i < pool->n_threads; i++)
    g_thread_join (pool->threads[i]);
  g_free (pool->threads);
  g_mutex_clear (&pool->mutex);
  g_cond_clear (&pool->cond);
  g_free (pool);
}

int
prima_threadpool_n_threads (const prima_threadpool *pool)
{
  return pool->n_threads;
}

void
prima_threadpool_run (prima_threadpool *pool, prima_task_fn fn, void *arg)
{
  if (pool->n_threads == 1) {
    fn (0, 1, arg);
    return;
  }
  pool->fn = fn;
  pool->arg = arg;
  atomic_store (&pool->n_done, 0);
  /* seq_cst: a worker that registered as sleeping before this increment is
   * woken below; one that registers after it sees the new generation. */
  atomic_fetch_add (&pool->generation, 1);
  if (atomic_load (&pool->n_sleeping) > 0) {
    g_mutex_lock (&pool->mutex);
    g_cond_broadcast (&pool->cond);
    g_mutex_unlock (&pool->mutex);
  }
  fn (0, pool->n_threads, arg);
  while (atomic_load (&pool->n_done) < pool->n_threads - 1)
    cpu_relax ();
}
