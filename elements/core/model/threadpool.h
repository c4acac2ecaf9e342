/* gst-prima: a persistent thread pool for the forward pass.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * prima_threadpool_run() runs one function on every thread (the caller is
 * thread 0) and returns when all are done: each call is a barrier. Workers spin
 * briefly before sleeping, because decode issues a few hundred short calls per
 * token and a futex wake per call would cost more than the work. */
#pragma once

#include <stdint.h>

typedef struct prima_threadpool prima_threadpool;
typedef void (*prima_task_fn) (int ith, int nth, void *arg);

prima_threadpool *prima_threadpool_new (int n_threads);
void prima_threadpool_free (prima_threadpool *pool);
int prima_threadpool_n_threads (const prima_threadpool *pool);
void prima_threadpool_run (prima_threadpool *pool, prima_task_fn fn, void *arg);
/* For tasks whose threads claim work from a shared counter until none is
 * left: returns as soon as the work is done, without waiting for a worker
 * that has not started (descheduled by another program); such a worker skips
 * the task. Home devices run other programs, so this avoids stalls of a whole
 * scheduler slice per call. */
void prima_threadpool_run_dynamic (prima_threadpool *pool, prima_task_fn fn, void *arg);
/* Profiling: when on, the caller's time spent waiting for the other threads
 * at the end of each call (nanoseconds) and the number of calls add up. */
void prima_threadpool_set_profiling (prima_threadpool *pool, int on);
void prima_threadpool_get_profile (const prima_threadpool *pool, uint64_t *wait_ns, uint64_t *n_calls);
