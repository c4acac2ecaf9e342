/* gst-prima: a persistent thread pool for the forward pass.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "threadpool.h"

#include <glib.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause ()
#else
#define cpu_relax() ((void) 0)
#endif

/* About a millisecond of spinning before a worker goes to sleep. */
#define SPIN_ROUNDS 20000
#define JOIN_CLOSED (UINT64_C (1) << 31)

struct prima_threadpool {
  int n_threads;
  GThread **threads;
  prima_task_fn fn;
  void *arg;
  atomic_int generation;
  atomic_int n_done;
  /* (generation << 32) | workers that joined it, with JOIN_CLOSED set once the
   * caller stops waiting for latecomers (tasks that claim work dynamically). */
  _Atomic uint64_t joined;
  atomic_int n_sleeping;
  atomic_bool stop;
  /* profiling, touched by the caller only */
  int profiling;
  uint64_t wait_ns, n_calls;
  GMutex mutex;
  GCond cond;
};

typedef struct {
  prima_threadpool *pool;
  int ith;
} worker_start;

static uint64_t
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

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
    /* Join exactly the generation we saw, unless the caller closed it
     * because it finished all the work without us (we were descheduled). */
    uint64_t v = atomic_load (&pool->joined);
    gboolean join = FALSE;
    while ((v >> 32) == (uint32_t) gen && !(v & JOIN_CLOSED)) {
      if (atomic_compare_exchange_weak (&pool->joined, &v, v + 1)) {
        join = TRUE;
        break;
      }
    }
    if (!join)
      continue;
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

static void
dispatch (prima_threadpool *pool, prima_task_fn fn, void *arg, gboolean dynamic)
{
  if (pool->n_threads == 1) {
    fn (0, 1, arg);
    pool->n_calls += pool->profiling;
    return;
  }
  pool->fn = fn;
  pool->arg = arg;
  atomic_store (&pool->n_done, 0);
  atomic_store (&pool->joined, (uint64_t) (uint32_t) (atomic_load (&pool->generation) + 1) << 32);
  /* seq_cst: a worker that registered as sleeping before this increment is
   * woken below; one that registers after it sees the new generation. */
  atomic_fetch_add (&pool->generation, 1);
  if (atomic_load (&pool->n_sleeping) > 0) {
    g_mutex_lock (&pool->mutex);
    g_cond_broadcast (&pool->cond);
    g_mutex_unlock (&pool->mutex);
  }
  fn (0, pool->n_threads, arg);
  const uint64_t t0 = pool->profiling ? now_ns () : 0;
  if (dynamic) {
    /* Wait only for the workers that joined; the rest skip this task. */
    int n_joined = (int) (atomic_fetch_or (&pool->joined, JOIN_CLOSED) & 0xFFFFFFu);
    while (atomic_load (&pool->n_done) < n_joined)
      cpu_relax ();
  } else {
    while (atomic_load (&pool->n_done) < pool->n_threads - 1)
      cpu_relax ();
  }
  if (pool->profiling) {
    pool->wait_ns += now_ns () - t0;
    pool->n_calls++;
  }
}

void
prima_threadpool_set_profiling (prima_threadpool *pool, int on)
{
  pool->profiling = on;
  pool->wait_ns = pool->n_calls = 0;
}

void
prima_threadpool_get_profile (const prima_threadpool *pool, uint64_t *wait_ns, uint64_t *n_calls)
{
  *wait_ns = pool->wait_ns;
  *n_calls = pool->n_calls;
}

void
prima_threadpool_run (prima_threadpool *pool, prima_task_fn fn, void *arg)
{
  dispatch (pool, fn, arg, FALSE);
}

void
prima_threadpool_run_dynamic (prima_threadpool *pool, prima_task_fn fn, void *arg)
{
  dispatch (pool, fn, arg, TRUE);
}
