/* gst-prima: which weights stay in memory: window prefetch and release.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "residency.h"
#include "memstat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "prima-platform.h"

/* Chosen from the measurements in docs/memory.md. */
#define DEFAULT_PREFETCH PRIMA_PREFETCH_FORCE
#define DEFAULT_RELEASE PRIMA_RELEASE_AUTO

typedef struct {
  int first, last;
  GArray *ranges;               /* prima_byte_range */
  guint64 bytes;
  gboolean kept;                /* never released */
  guint64 pf_job;               /* the job that prefetches it (jobs_queued then), 0: none pending */
} window;

typedef enum {
  JOB_PREFETCH,
  JOB_STOP,
} job_kind;

typedef struct {
  job_kind kind;
  int window;
} job;

struct prima_residency {
  const prima_model *model;
  const uint8_t *base;          /* the mapping */
  size_t map_size;
  int fd;
  prima_residency_params p;
  GArray *windows;              /* window */
  gboolean planned;
  int *layer_window;            /* model layer -> window index, -1 if none */
  guint64 kept_bytes;
  int n_kept;

  GThread *helper;
  GAsyncQueue *jobs;
  GMutex lock;                  /* the counters and sync below */
  GCond cond;
  guint64 jobs_queued, jobs_done;
  guint64 prefetched_bytes, released_bytes;
  guint n_prefetches, n_releases;
  gint64 helper_busy_us;

  /* PRIMA_TRACE: per token (a cycle of the windows, from window 0's
   * begin), where the compute thread's time went */
  int trace;                    /* 0 off, 1 a line per token, 2 also every event */
  gint64 t0_us;                 /* the trace's origin */
  gint64 tok_begin_us, win_begin_us, last_end_us;
  gint64 tok_compute_us, tok_disk_us, tok_act_us, tok_cpu_us;
  gint64 win_cpu0_us;
  guint64 tok_read0_bytes;      /* prefetched_bytes at the token's begin */
  gint64 tok_busy0_us;          /* helper_busy_us at the token's begin */
  long tok_faults0;             /* the compute thread's major faults at the token's begin */
  int n_tokens;

  /* The read-ahead (docs/memory.md, "The memory-starved ring"): positions
   * in the endless cyclic sequence of windows (position p is window
   * p % n). The window at cur_pos computes (until released); every window
   * at [cur_pos + 1, pf_pos) has been queued for reading. */
  int ahead;                    /* windows read ahead at most; 0: as many as the budget allows */
  guint64 advise_piece;         /* bytes per WILLNEED call; 0: one call per range (the former way) */
  gboolean started;
  guint64 cur_pos, pf_pos;
  gboolean cur_released;

  /* first pass progress */
  gboolean first_pass_done;
  int layers_seen;
  gint64 start_us;
};

static const char *const prefetch_names[] = { "default", "none", "advise", "force" };
static const char *const release_names[] = { "default", "auto", "never", "always" };

const char *
prima_prefetch_mode_name (prima_prefetch_mode m)
{
  return (guint) m < G_N_ELEMENTS (prefetch_names) ? prefetch_names[m] : "?";
}

const char *
prima_release_policy_name (prima_release_policy p)
{
  return (guint) p < G_N_ELEMENTS (release_names) ? release_names[p] : "?";
}

gboolean
prima_prefetch_mode_from_name (const char *name, prima_prefetch_mode *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (prefetch_names); i++)
    if (g_ascii_strcasecmp (name, prefetch_names[i]) == 0) {
      *out = (prima_prefetch_mode) i;
      return TRUE;
    }
  return FALSE;
}

gboolean
prima_release_policy_from_name (const char *name, prima_release_policy *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (release_names); i++)
    if (g_ascii_strcasecmp (name, release_names[i]) == 0) {
      *out = (prima_release_policy) i;
      return TRUE;
    }
  return FALSE;
}

prima_prefetch_mode
prima_prefetch_mode_resolve (prima_prefetch_mode m)
{
  return m == PRIMA_PREFETCH_DEFAULT ? DEFAULT_PREFETCH : m;
}

prima_release_policy
prima_release_policy_resolve (prima_release_policy p)
{
  return p == PRIMA_RELEASE_DEFAULT ? DEFAULT_RELEASE : p;
}

/* ---- the helper thread ---- */

/* Fault the pages of [addr, addr + len) in without mapping them writable:
 * MADV_POPULATE_READ where the kernel has it (5.14), else one read per page. */
static void
populate (const uint8_t *addr, size_t len)
{
#if defined(MADV_POPULATE_READ) && !defined(PRIMA_NO_LINUX_APIS)
  if (madvise ((void *) addr, len, MADV_POPULATE_READ) == 0)
    return;
#endif
  {
    const size_t page = (size_t) sysconf (_SC_PAGESIZE);
    volatile uint8_t sink = 0;
    for (size_t off = 0; off < len; off += page)
      sink ^= addr[off];
    (void) sink;
  }
}

/* WILLNEED advice in pieces: the kernel reads at most its readahead size
 * (the device's read_ahead_kb, often 128 KiB) per call, so one call over a
 * window of 100+ MiB read its first few MiB and the rest came in page fault
 * by page fault, on the compute thread (measured: one call over 200 MiB
 * cached 8 MiB, with read_ahead_kb 8192). Each piece is queued at once; the
 * reads complete in the order they were asked for. */
#define ADVISE_PIECE ((guint64) 128 << 10)

static void
advise_range (prima_residency *r, const prima_byte_range *br)
{
  const guint64 piece = r->advise_piece ? r->advise_piece : br->length;
  for (guint64 off = 0; off < br->length; off += piece) {
    const size_t len = (size_t) MIN (piece, br->length - off);
    if (r->fd >= 0)
      posix_fadvise (r->fd, (off_t) (br->offset + off), (off_t) len, POSIX_FADV_WILLNEED);
    else
      posix_madvise ((void *) (r->base + br->offset + off), len, POSIX_MADV_WILLNEED);
  }
}

static void
prefetch_window (prima_residency *r, const window *w)
{
  for (guint i = 0; i < w->ranges->len; i++)
    advise_range (r, &g_array_index (w->ranges, prima_byte_range, i));
  if (r->p.prefetch == PRIMA_PREFETCH_FORCE)
    for (guint i = 0; i < w->ranges->len; i++) {
      const prima_byte_range *br = &g_array_index (w->ranges, prima_byte_range, i);
      populate (r->base + br->offset, br->length);
    }
}

static gpointer
helper_main (gpointer data)
{
  prima_residency *r = data;
  for (;;) {
    job *j = g_async_queue_pop (r->jobs);
    job_kind kind = j->kind;
    if (kind == JOB_PREFETCH) {
      const window *w = &g_array_index (r->windows, window, j->window);
      gint64 t0 = g_get_monotonic_time (), t1;
      prefetch_window (r, w);
      t1 = g_get_monotonic_time ();
      if (r->trace >= 2)
        fprintf (stderr, "trace: %.1f ms: read window %d (layers %d-%d, %.1f MiB) in %.1f ms (%.0f MB/s)\n",
            (t0 - r->t0_us) / 1e3, j->window, w->first, w->last - 1, w->bytes / 1048576.0, (t1 - t0) / 1e3,
            w->bytes / MAX (1.0, (double) (t1 - t0)));
      g_mutex_lock (&r->lock);
      r->helper_busy_us += t1 - t0;
      r->prefetched_bytes += w->bytes;
      r->n_prefetches++;
      g_mutex_unlock (&r->lock);
    }
    g_free (j);
    g_mutex_lock (&r->lock);
    r->jobs_done++;
    g_cond_broadcast (&r->cond);
    g_mutex_unlock (&r->lock);
    if (kind == JOB_STOP)
      break;
  }
  return NULL;
}

static void
push_job (prima_residency *r, job_kind kind, int w)
{
  job *j = g_new (job, 1);
  j->kind = kind;
  j->window = w;
  if (r->helper == NULL)
    r->helper = g_thread_new ("prima-residency", helper_main, r);
  g_mutex_lock (&r->lock);
  r->jobs_queued++;
  if (w >= 0)
    g_array_index (r->windows, window, w).pf_job = r->jobs_queued;
  g_mutex_unlock (&r->lock);
  g_async_queue_push (r->jobs, j);
}

/* The compute thread is about to use window wi: wait for its prefetch when
 * one is pending (jobs run in order). Waiting here rather than faulting the
 * same pages beside the helper costs nothing and is measured: the disk wait. */
static void
wait_prefetch (prima_residency *r, window *w)
{
  gint64 t0;
  if (w->pf_job == 0)
    return;
  t0 = g_get_monotonic_time ();
  g_mutex_lock (&r->lock);
  while (r->jobs_done < w->pf_job)
    g_cond_wait (&r->cond, &r->lock);
  g_mutex_unlock (&r->lock);
  w->pf_job = 0;
  r->tok_disk_us += g_get_monotonic_time () - t0;
}

static long
major_faults (void)
{
#ifdef RUSAGE_THREAD
  struct rusage ru;
  if (getrusage (RUSAGE_THREAD, &ru) == 0)
    return ru.ru_majflt;
#endif
  return 0;
}

/* The calling thread's CPU time, us: compute minus this is what it waited
 * for (page faults, the CPU quota, other programs on the cores). */
static gint64
thread_cpu_us (void)
{
  struct timespec ts;
  if (clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
    return (gint64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
  return 0;
}

/* A token ends where window 0 begins again: its line. */
static void
trace_token (prima_residency *r, gint64 now)
{
  guint64 read;
  gint64 busy;
  /* the compute thread's own faults (the last line comes from the thread
   * that frees the engine: none) */
  long faults = now == r->last_end_us ? r->tok_faults0 : major_faults ();
  g_mutex_lock (&r->lock);
  read = r->prefetched_bytes - r->tok_read0_bytes;
  busy = r->helper_busy_us - r->tok_busy0_us;
  r->tok_read0_bytes = r->prefetched_bytes;
  r->tok_busy0_us = r->helper_busy_us;
  g_mutex_unlock (&r->lock);
  if (r->n_tokens > 0)
    fprintf (stderr, "trace: token %d: compute %.1f ms, disk wait %.1f ms, activation wait %.1f ms, token %.1f ms, "
        "read %.1f MiB in %.1f ms, major faults %ld, cpu %.1f ms\n", r->n_tokens - 1, r->tok_compute_us / 1e3,
        r->tok_disk_us / 1e3, r->tok_act_us / 1e3, (now - r->tok_begin_us) / 1e3, read / 1048576.0, busy / 1e3,
        faults - r->tok_faults0, r->tok_cpu_us / 1e3);
  r->tok_faults0 = faults;
  r->tok_begin_us = now;
  r->tok_compute_us = r->tok_disk_us = r->tok_act_us = r->tok_cpu_us = 0;
  r->n_tokens++;
}

void
prima_residency_sync (prima_residency *r)
{
  if (r == NULL || r->helper == NULL)
    return;
  g_mutex_lock (&r->lock);
  while (r->jobs_done < r->jobs_queued)
    g_cond_wait (&r->cond, &r->lock);
  g_mutex_unlock (&r->lock);
}

/* ---- setup ---- */

prima_residency *
prima_residency_new (const prima_model *model, const prima_residency_params *params)
{
  prima_residency *r = g_new0 (prima_residency, 1);
  r->model = model;
  r->base = gguf_mapping (model->file, &r->map_size);
  r->fd = gguf_fd (model->file);
  if (params)
    r->p = *params;
  r->p.prefetch = prima_prefetch_mode_resolve (r->p.prefetch);
  r->p.release = prima_release_policy_resolve (r->p.release);
  if (r->p.budget == 0) {
    prima_memstat ms;
    guint64 reserve = r->p.reserve;
    if (prima_memstat_read (&ms) && ms.total > 0) {
      if (reserve == 0)
        reserve = MAX (ms.total / 8, (guint64) 64 << 20);
      r->p.budget = ms.available > reserve ? ms.available - reserve : ms.available / 2;
    } else {
      r->p.budget = G_MAXUINT64;
    }
  }
  r->windows = g_array_new (FALSE, TRUE, sizeof (window));
  /* model->hp.n_layer: the output head's own window */
  r->layer_window = g_new (int, model->hp.n_layer + 1);
  for (int i = 0; i <= model->hp.n_layer; i++)
    r->layer_window[i] = -1;
  r->jobs = g_async_queue_new ();
  {
    const char *t = g_getenv ("PRIMA_TRACE");
    r->trace = t && *t ? atoi (t) : 0;
  }
  r->t0_us = g_get_monotonic_time ();
  {
    /* PRIMA_PREFETCH_AHEAD=1: the next window only, read when the current
     * one begins (the next on this device) or ends (any other): the former
     * behaviour, kept to measure against */
    const char *a = g_getenv ("PRIMA_PREFETCH_AHEAD");
    r->ahead = a && *a ? MAX (0, atoi (a)) : 0;
    /* PRIMA_ADVISE_PIECE_KIB=0: one advice per range, as before (to measure against) */
    a = g_getenv ("PRIMA_ADVISE_PIECE_KIB");
    r->advise_piece = a && *a ? (guint64) MAX (0, atoi (a)) << 10 : ADVISE_PIECE;
  }
  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  return r;
}

void
prima_residency_free (prima_residency *r)
{
  if (r == NULL)
    return;
  if (r->trace && r->n_tokens > 0 && r->last_end_us > r->tok_begin_us)
    trace_token (r, r->last_end_us);
  if (r->helper) {
    push_job (r, JOB_STOP, -1);
    g_thread_join (r->helper);
  }
  g_async_queue_unref (r->jobs);
  for (guint i = 0; i < r->windows->len; i++)
    g_array_unref (g_array_index (r->windows, window, i).ranges);
  g_array_unref (r->windows);
  g_free (r->layer_window);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r);
}

int
prima_residency_add_window (prima_residency *r, int first, int last, gboolean with_head)
{
  window w = { 0 };
  const int n_layer = r->model->hp.n_layer;
  first = MAX (first, 0);
  last = MIN (last, n_layer);
  g_return_val_if_fail (first < last, -1);
  w.first = first;
  w.last = last;
  w.ranges = prima_model_window_ranges (r->model, first, last, FALSE);
  w.bytes = prima_byte_ranges_total (w.ranges);
  g_array_append_val (r->windows, w);
  for (int i = first; i < last; i++)
    r->layer_window[i] = (int) r->windows->len - 1;
  if (with_head && last == n_layer) {
    /* The output head is a window of its own, the pseudo-layer n_layer
     * (forward.c brackets the head with it): on a small device the last
     * layer and the head together may not fit beside anything else (8B:
     * 117 + 442 MiB), while each alone streams through the budget. */
    window h = { 0 };
    h.first = n_layer;
    h.last = n_layer + 1;
    h.ranges = prima_model_window_ranges (r->model, n_layer, n_layer, TRUE);
    h.bytes = prima_byte_ranges_total (h.ranges);
    g_array_append_val (r->windows, h);
    r->layer_window[n_layer] = (int) r->windows->len - 1;
  }
  r->planned = FALSE;
  return (int) r->windows->len - 1;
}

void
prima_residency_add_windows (prima_residency *r, int first, int last, int n_layers, gboolean with_head)
{
  if (n_layers <= 0) {
    /* Windows of a sixth of the budget: two streamed ones (the current and the
     * prefetched) leave two thirds for the kept prefix. */
    guint64 per_layer = prima_model_weight_bytes (r->model, first, first + 1);
    n_layers = per_layer > 0 ? (int) MIN ((guint64) (last - first), MAX ((guint64) 1, r->p.budget / 6 / per_layer))
        : last - first;
  }
  for (int i = first; i < last; i += n_layers)
    prima_residency_add_window (r, i, MIN (i + n_layers, last), with_head);
}

int
prima_residency_n_windows (const prima_residency *r)
{
  return (int) r->windows->len;
}

/* Largest window not kept, other than skip. */
static guint64
largest_streamed (prima_residency *r, int skip)
{
  guint64 largest = 0;
  for (guint i = 0; i < r->windows->len; i++) {
    const window *w = &g_array_index (r->windows, window, i);
    if (!w->kept && (int) i != skip)
      largest = MAX (largest, w->bytes);
  }
  return largest;
}

static int
compare_window_size (gconstpointer a, gconstpointer b, gpointer data)
{
  GArray *windows = data;
  const window *x = &g_array_index (windows, window, *(const int *) a);
  const window *y = &g_array_index (windows, window, *(const int *) b);
  return x->bytes > y->bytes ? -1 : x->bytes < y->bytes ? 1 : *(const int *) a - *(const int *) b;
}

/* Decide which windows stay resident: all when they fit (or release is
 * never), none with release always; else as many bytes as fit beside two
 * streamed windows (the one computing and the one prefetched), taking the
 * largest windows first (the one with the output head usually): the bytes
 * read per token are the same whichever are kept, and small streamed
 * windows leave more room for kept ones. */
static void
plan (prima_residency *r)
{
  guint64 total = 0;
  const int n = (int) r->windows->len;
  r->planned = TRUE;
  r->kept_bytes = 0;
  r->n_kept = 0;
  for (int i = 0; i < n; i++)
    total += g_array_index (r->windows, window, i).bytes;
  if (r->p.release == PRIMA_RELEASE_NEVER || (r->p.release == PRIMA_RELEASE_AUTO && total <= r->p.budget)) {
    for (int i = 0; i < n; i++)
      g_array_index (r->windows, window, i).kept = TRUE;
    r->kept_bytes = total;
    r->n_kept = n;
    return;
  }
  for (int i = 0; i < n; i++)
    g_array_index (r->windows, window, i).kept = FALSE;
  if (r->p.release == PRIMA_RELEASE_ALWAYS)
    return;
  if (n > 0) {
    int *order = g_new (int, (gsize) n);
    for (int i = 0; i < n; i++)
      order[i] = i;
    g_qsort_with_data (order, n, sizeof (int), compare_window_size, r->windows);
    for (int k = 0; k < n; k++) {
      window *w = &g_array_index (r->windows, window, order[k]);
      if (r->kept_bytes + w->bytes + 2 * largest_streamed (r, order[k]) <= r->p.budget) {
        w->kept = TRUE;
        r->kept_bytes += w->bytes;
        r->n_kept++;
      }
    }
    g_free (order);
  }
}

/* The window after wi in the cyclic order that is worth prefetching: the
 * next streamed one (kept windows stay resident after the first pass). */
static int
next_to_prefetch (prima_residency *r, int wi)
{
  const int n = (int) r->windows->len;
  for (int k = 1; k < n; k++) {
    int j = (wi + k) % n;
    if (!g_array_index (r->windows, window, j).kept || !r->first_pass_done)
      return j;
  }
  return -1;
}

/* Bytes of streamed windows in memory or on their way ahead of the compute:
 * the current one until released, and every one queued after it. Kept
 * windows have their own share of the budget. */
static guint64
streamed_ahead (prima_residency *r)
{
  const guint64 n = r->windows->len;
  guint64 sum = 0;
  for (guint64 pos = r->cur_pos; pos < r->pf_pos; pos++) {
    const window *w = &g_array_index (r->windows, window, pos % n);
    if (!w->kept && !(pos == r->cur_pos && r->cur_released))
      sum += w->bytes;
  }
  return sum;
}

/* Queue the reads of the windows after the current one, in the order they
 * will run, as far as the streamed share of the budget (the budget less the
 * kept windows) allows: a device reads its next windows while the others
 * compute, not when the activation arrives; a read never takes the memory
 * of a window still to be used (the current one is released at its end,
 * and only then does its share go to the next read). The next window is
 * always read ahead (as before: a budget too small for it would fault it in
 * anyway). */
static void
fill_ahead (prima_residency *r)
{
  const guint64 n = r->windows->len;
  const guint64 share = r->p.budget > r->kept_bytes ? r->p.budget - r->kept_bytes : 0;
  guint64 in = streamed_ahead (r);
  while (r->pf_pos < r->cur_pos + n) {
    const int j = (int) (r->pf_pos % n);
    const window *w = &g_array_index (r->windows, window, j);
    const guint64 need = w->kept ? 0 : w->bytes;
    if (w->kept && r->first_pass_done) {
      r->pf_pos++;              /* resident */
      continue;
    }
    if (r->ahead > 0 && r->pf_pos >= r->cur_pos + 1 + (guint64) r->ahead)
      break;
    if (need > 0 && in + need > share && r->pf_pos > r->cur_pos + 1)
      break;
    push_job (r, JOB_PREFETCH, j);
    in += need;
    r->pf_pos++;
  }
}

/* The compute thread begins window wi: its position follows the current
 * one's (the next position that is wi; a jump when windows were skipped). */
static void
advance (prima_residency *r, int wi)
{
  const guint64 n = r->windows->len;
  if (!r->started) {
    r->started = TRUE;
    r->cur_pos = (guint64) wi;
  } else {
    guint64 pos = r->cur_pos + 1;
    while (pos % n != (guint64) wi)
      pos++;
    r->cur_pos = pos;
  }
  r->cur_released = FALSE;
  if (r->pf_pos <= r->cur_pos)
    r->pf_pos = r->cur_pos + 1;
}

static void
release_window (prima_residency *r, const window *w)
{
  for (guint i = 0; i < w->ranges->len; i++) {
    const prima_byte_range *br = &g_array_index (w->ranges, prima_byte_range, i);
    /* Unmap from this process, then drop the clean pages from the page
     * cache: another process mapping the file keeps its own copies. */
    madvise ((void *) (r->base + br->offset), br->length, MADV_DONTNEED);
    if (r->fd >= 0)
      prima_fadvise (r->fd, (off_t) br->offset, (off_t) br->length, POSIX_FADV_DONTNEED);
  }
  g_mutex_lock (&r->lock);
  r->released_bytes += w->bytes;
  r->n_releases++;
  g_mutex_unlock (&r->lock);
}

static void
report_first_pass (prima_residency *r, int layer, gboolean done)
{
  const window *cur = &g_array_index (r->windows, window, r->layer_window[layer]);
  prima_residency_progress p = { 0 };
  if (r->p.progress == NULL)
    return;
  for (guint i = 0; i < r->windows->len; i++) {
    const window *w = &g_array_index (r->windows, window, i);
    if (w->first <= layer || done)       /* done: the output head's window too */
      p.bytes += w->bytes;
  }
  p.layer = r->layers_seen;
  p.n_layers = r->model->hp.n_layer;
  p.seconds = (g_get_monotonic_time () - r->start_us) / 1e6;
  p.window_resident = (double) prima_memstat_resident_ranges (r->base, cur->ranges) / MAX ((guint64) 1, cur->bytes);
  p.window_done = layer == cur->last - 1;
  p.done = done;
  r->p.progress (&p, r->p.progress_data);
}

void
prima_residency_layer_begin (prima_residency *r, int layer)
{
  int wi;
  window *w;
  if (r == NULL || layer < 0 || layer > r->model->hp.n_layer || (wi = r->layer_window[layer]) < 0)
    return;
  if (!r->planned)
    plan (r);
  if (r->start_us == 0)
    r->start_us = g_get_monotonic_time ();
  w = &g_array_index (r->windows, window, wi);
  if (layer != w->first)
    return;
  if (r->trace) {
    gint64 now = g_get_monotonic_time ();
    /* the wait before window 0 belongs to the token it ends */
    if (r->last_end_us)
      r->tok_act_us += now - r->last_end_us;
    if (wi == 0)
      trace_token (r, now);
    if (r->trace >= 2)
      fprintf (stderr, "trace: %.1f ms: window %d (layers %d-%d) begins%s\n", (now - r->t0_us) / 1e3, wi, w->first,
          w->last - 1, w->pf_job && r->jobs_done < w->pf_job ? ", its read pending" : "");
  }
  wait_prefetch (r, w);
  r->win_begin_us = g_get_monotonic_time ();
  if (r->trace)
    r->win_cpu0_us = thread_cpu_us ();
  advance (r, wi);
  if (r->p.prefetch == PRIMA_PREFETCH_NONE)
    return;
  if (r->ahead != 1) {
    fill_ahead (r);
    return;
  }
  /* The next window follows on this device at once: fetch it while this
   * one computes. */
  {
    int next = next_to_prefetch (r, wi);
    if (next >= 0 && next != wi && g_array_index (r->windows, window, next).first == w->last)
      push_job (r, JOB_PREFETCH, next);
  }
}

void
prima_residency_layer_end (prima_residency *r, int layer)
{
  int wi;
  const window *w;
  if (r == NULL || layer < 0 || layer > r->model->hp.n_layer || (wi = r->layer_window[layer]) < 0)
    return;
  w = &g_array_index (r->windows, window, wi);
  if (!r->first_pass_done && layer < r->model->hp.n_layer) {
    /* one report per model layer: the first pass is done with the last
     * window, or the last but the output head's window */
    const int n = (int) r->windows->len;
    const gboolean head_last = g_array_index (r->windows, window, n - 1).first == r->model->hp.n_layer;
    r->layers_seen++;
    report_first_pass (r, layer, layer == w->last - 1 && (wi == n - 1 || (head_last && wi == n - 2)));
  }
  if (layer != w->last - 1)
    return;
  if (r->trace) {
    r->last_end_us = g_get_monotonic_time ();
    r->tok_compute_us += r->last_end_us - r->win_begin_us;
    r->tok_cpu_us += thread_cpu_us () - r->win_cpu0_us;
    if (r->trace >= 2)
      fprintf (stderr, "trace: %.1f ms: window %d ends\n", (r->last_end_us - r->t0_us) / 1e3, wi);
  }
  prima_memwatch_global_sample ();
  if (!w->kept && r->planned)
    release_window (r, w);
  r->cur_released = TRUE;
  if (!r->first_pass_done && wi == (int) r->windows->len - 1)
    r->first_pass_done = TRUE;
  if (r->p.prefetch != PRIMA_PREFETCH_NONE && r->ahead != 1) {
    fill_ahead (r);
  } else if (r->p.prefetch != PRIMA_PREFETCH_NONE) {
    /* The next window is elsewhere in the ring (or the next token): its
     * reads overlap the other devices' work. */
    int next = next_to_prefetch (r, wi);
    if (next >= 0 && next != wi && g_array_index (r->windows, window, next).first != w->last)
      push_job (r, JOB_PREFETCH, next);
  }
}

void
prima_residency_get_stats (prima_residency *r, prima_residency_stats *out)
{
  memset (out, 0, sizeof *out);
  if (!r->planned)
    plan (r);
  out->prefetch = r->p.prefetch;
  out->release = r->p.release;
  out->budget = r->p.budget;
  out->n_windows = (int) r->windows->len;
  out->n_kept = r->n_kept;
  out->kept_bytes = r->kept_bytes;
  for (guint i = 0; i < r->windows->len; i++) {
    const window *w = &g_array_index (r->windows, window, i);
    out->window_bytes += w->bytes;
    out->resident_bytes += prima_memstat_resident_ranges (r->base, w->ranges);
  }
  g_mutex_lock (&r->lock);
  out->prefetched_bytes = r->prefetched_bytes;
  out->released_bytes = r->released_bytes;
  out->n_prefetches = r->n_prefetches;
  out->n_releases = r->n_releases;
  out->helper_busy_s = r->helper_busy_us / 1e6;
  g_mutex_unlock (&r->lock);
}
