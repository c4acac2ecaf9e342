/* gst-prima: the Halda layer-to-device assignment (an integer program solved with GLPK).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The model (paper Sec. 3.2, Eqs. 1-5; its ILP form Sec. 3.3, Eqs. 6-10, and
 * App. A.3 for the coefficients and the case rows), in our notation:
 *
 *   b' = b + kv                   bytes a layer needs in memory (weights + KV cache)
 *   alpha_m = sum_t F_t / cpu_t + overhead            CPU seconds per layer
 *   beta_m  = sum_t F_t / gpu_t - sum_t F_t / cpu_t   (+ overheads): GPU minus CPU
 *   kappa   = head's output-head FLOPs / cpu + embedding row / disk
 *
 * A plan has a cycle W = sum w_m, k_f = floor (L / W) full rounds and r = L - k_f W
 * layers in a last round that covers a prefix of the cycle order (ranks after the
 * head, then the head). Device m runs layers_m = k_f w_m + p_m layers, of which
 * gpu_m = k_f n_m + q_m on its GPU. Its RAM need is
 *
 *   need_m = b' (layers_m - gpu_m) + c_cpu [+ head: output + input row + head buffers]
 *
 * (unified memory, macOS: b' layers_m, and with Metal + c_gpu), its budget is the
 * available RAM (Android: + swappable; Metal: the GPU working set). Disk time:
 *
 *   M4: need <= budget                     0
 *   M1 (macOS, no Metal), M3 (Linux/Android): (need - budget) / s_disk
 *   M2 (macOS with Metal):                 (b layers_m [+ head: output]) / s_disk
 *
 * which is prima.cpp's a_m = alpha + b'/s, b_m = beta - b'/s (M3) etc. with the
 * constant (c - budget)/s in kappa. A device whose disk is slower than
 * min_disk_speed must fit (prima.cpp puts it in M4). VRAM: b' gpu_m <= vram - c_gpu.
 * Our communication term: every round the activation crosses every device in
 * the ring once, so comm = k * sum over devices in the ring of (latency +
 * activation / bandwidth) of its outgoing hop (none with a single device).
 *
 * Token latency = sum_m (alpha layers_m + beta gpu_m + disk_m + comm_m) + kappa.
 *
 * CPU quotas (ours; docs/scheduler-plans.md, "CPU quotas"): a CFS quota q
 * (cores) is a budget of q P CPU seconds per period P. Device m keeps u_m
 * threads busy for t_m = alpha (layers - gpu) [+ head: the output head]
 * seconds per token, burns spin_m more after each of its k windows, and
 * idles while the others compute, so its quota binds only through its
 * average use C_m / T, C_m = u t_m + k spin_m: the token time is
 *
 *   T = max (sequential sum + sum_m s_m,  max_m C_m / q_m)
 *
 * (the second term: the budget over many periods), where
 * s_m = max (0, C_m / q - t_m - P (1 - q/u)) stretches the window of a
 * device whose one token needs more than a period's budget. Both are
 * linear, so the program minimises T with one row per bound.
 *
 * The exact solver builds, for each W, one mixed-integer program in which the
 * case of each device is a variable: M1/M3's max (0, need - budget) is convex
 * (a continuous d_m >= (need - budget)/s), M2's jump needs a binary u_m, the
 * prefix of the last round binaries f_m, device removal binaries y_m. So the
 * result is the optimum of the model; tests/scheduler checks it against brute
 * force. HALDA_ALGO_PRIMA runs prima.cpp's Algorithm 1 instead (case sets
 * fixed per program, iterated to a fixed point, even rounds, then removal of
 * devices left with one CPU layer).
 */
#include <glpk.h>
#include <math.h>
#include <string.h>

#include "halda.h"

G_DEFINE_QUARK (halda-error-quark, halda_error)

#define GIB 1073741824.0
/* Slack on "fits in memory" for the solver's float rounding (GLPK rows hold to ~1e-7 GiB). */
#define FIT_TOL_BYTES 1024.0

void
halda_options_init (halda_options *opt)
{
  memset (opt, 0, sizeof *opt);
  opt->algo = HALDA_ALGO_EXACT;
  opt->min_disk_speed = 1e8;    /* prima.cpp's 0.1 GB/s */
}

void
halda_device_init (halda_device *dev)
{
  memset (dev, 0, sizeof *dev);
  dev->os = HALDA_OS_LINUX;
  dev->gpu = HALDA_GPU_NONE;
}

const char *
halda_case_name (halda_case c)
{
  static const char *const names[] = { "off", "M1", "M2", "M3", "M4" };
  return (unsigned) c < G_N_ELEMENTS (names) ? names[c] : "?";
}

const char *
halda_os_name (halda_os os)
{
  return os == HALDA_OS_MACOS ? "macos" : os == HALDA_OS_ANDROID ? "android" : "linux";
}

const char *
halda_gpu_name (halda_gpu gpu)
{
  return gpu == HALDA_GPU_METAL ? "metal" : gpu == HALDA_GPU_DISCRETE ? "cuda" : "none";
}

void
halda_plan_free (halda_plan *plan)
{
  if (plan == NULL)
    return;
  g_free (plan->dev);
  g_free (plan);
}

/* ---- per-device constants ---- */

static double
type_seconds (const double *flops, const double *rate, const char *dev_name, const char *unit, GError **error)
{
  double t = 0;
  for (int i = 0; i < PRIMA_TYPE_COUNT; i++) {
    if (flops[i] <= 0)
      continue;
    if (!(rate[i] > 0)) {
      const char *tn = prima_type_name (i);
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID,
          "device '%s' has no %s throughput for weight type %s, which the model uses", dev_name, unit,
          tn ? tn : "?");
      return -1;
    }
    t += flops[i] / rate[i];
  }
  return t;
}

gboolean
halda_device_layer_times (const halda_model *model, const halda_device *dev, double *alpha, double *beta,
    GError **error)
{
  double tc = type_seconds (model->layer_flops, dev->cpu_flops, dev->name, "CPU", error), tg;
  if (tc < 0)
    return FALSE;
  *alpha = tc + dev->cpu_layer_overhead;
  *beta = 0;
  if (dev->gpu == HALDA_GPU_NONE)
    return TRUE;
  tg = type_seconds (model->layer_flops, dev->gpu_flops, dev->name, "GPU", error);
  if (tg < 0)
    return FALSE;
  *beta = tg + dev->gpu_layer_overhead - *alpha;
  return TRUE;
}

typedef struct {
  const halda_model *model;
  const halda_device *devs;
  const halda_options *opt;
  int M, head, L;
  double bp;                    /* b' */
  double kappa_compute, kappa_disk;
  int *order;                   /* cycle order: after the head, ..., the head */
  double *alpha, *beta, *budget, *speed, *hop, *vram_cap, *base_need;
  double *quota_ratio;          /* u / q (> 1) for a device whose quota can bind, else 0 */
  double *quota_slack;          /* P (1 - q/u): the budget of one period, in seconds of the window */
  double *spin_q;               /* CPU seconds burnt after each window / quota: seconds of the bound per round */
  gboolean any_quota;
  double *keep;                 /* streaming devices: weight bytes kept resident when short; < 0: prima.cpp's M3 */
  double *ahead;                /* streaming devices: seconds of reads done while the others compute */
  gboolean any_stream;
  gboolean *must_fit, *uma, *metal, *gpu;
  int n_programs;
} solver;

static void
solver_clear (solver *s)
{
  g_free (s->order);
  g_free (s->alpha);
  g_free (s->beta);
  g_free (s->budget);
  g_free (s->speed);
  g_free (s->hop);
  g_free (s->vram_cap);
  g_free (s->base_need);
  g_free (s->quota_ratio);
  g_free (s->quota_slack);
  g_free (s->spin_q);
  g_free (s->keep);
  g_free (s->ahead);
  g_free (s->must_fit);
  g_free (s->uma);
  g_free (s->metal);
  g_free (s->gpu);
}

static gboolean
check_model (const halda_model *m, GError **error)
{
  gboolean any = FALSE;
  if (m->n_layer < 1 || m->n_layer > 100000) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "the model has %d layers", m->n_layer);
    return FALSE;
  }
  if (!(m->layer_bytes > 0) || m->kv_bytes < 0 || m->input_row_bytes < 0 || m->output_bytes < 0
      || m->cpu_buffer_bytes < 0 || m->head_buffer_bytes < 0 || m->gpu_buffer_bytes < 0
      || m->activation_bytes < 0) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID,
        "the model description has a negative or zero size (layer bytes %.0f)", m->layer_bytes);
    return FALSE;
  }
  for (int i = 0; i < PRIMA_TYPE_COUNT; i++) {
    if (m->layer_flops[i] < 0 || m->output_flops[i] < 0) {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "the model description has negative FLOPs");
      return FALSE;
    }
    any |= m->layer_flops[i] > 0;
  }
  if (!any) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "the model description has no layer FLOPs");
    return FALSE;
  }
  return TRUE;
}

/* Replace the values that lie within tol (relative) of each other by their
 * cluster's median: sorted, a cluster grows while a value is within tol of
 * its smallest. Zeros (not measured) stay as they are. */
static void
merge_close (double *v, int n, double tol)
{
  int *idx = g_new (int, n), cnt = 0;
  for (int i = 0; i < n; i++)
    if (v[i] > 0)
      idx[cnt++] = i;
  /* insertion sort by value: n is a handful of devices */
  for (int i = 1; i < cnt; i++)
    for (int j = i; j > 0 && v[idx[j]] < v[idx[j - 1]]; j--) {
      int t = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = t;
    }
  for (int a = 0; a < cnt;) {
    int b = a + 1;
    double med;
    while (b < cnt && v[idx[b]] <= v[idx[a]] * (1 + tol))
      b++;
    med = (b - a) % 2 ? v[idx[(a + b) / 2]] : 0.5 * (v[idx[(a + b) / 2 - 1]] + v[idx[(a + b) / 2]]);
    for (int i = a; i < b; i++)
      v[idx[i]] = med;
    a = b;
  }
  g_free (idx);
}

/* A streaming device (docs/memory.md's residency engine, Linux/Android):
 * when its layers do not fit, it keeps whole windows beside two streamed
 * ones, the largest first; the bytes it keeps. On the head the last window
 * also holds the output head: kept first if it fits beside two streamed
 * windows, else it is streamed and two of it must fit beside what is kept.
 * The engine's budget is what is available once the process has its
 * buffers: the budget less the buffers (the output head is a window).
 * -1: not modelled so (prima.cpp's M3). */
static double
engine_budget (const solver *s, int m)
{
  return s->budget[m] - s->base_need[m] + (m == s->head ? s->model->output_bytes : 0);
}

static double
stream_keep (const solver *s, int m, double window)
{
  double B = engine_budget (s, m), big;
  if (!(window > 0) || s->uma[m] || s->must_fit[m] || s->speed[m] <= 0)
    return -1;
  if (m != s->head || s->model->output_bytes <= 0)
    return window * floor (MAX (0.0, B - 2 * window) / window);
  big = window + s->model->output_bytes;
  if (big + 2 * window <= B)
    return big + window * floor ((B - big - 2 * window) / window);
  return window * floor (MAX (0.0, B - 2 * big) / window);
}

/* keep and ahead of device m from its window and read-ahead (bytes). With
 * prefetch_fill the device reads ahead as far as its budget allows: all of
 * it but the kept windows and the one computing (at least a window). */
static void
stream_setup (solver *s, int m, double window, double ahead)
{
  s->keep[m] = stream_keep (s, m, window);
  s->ahead[m] = 0;
  if (s->keep[m] < 0)
    return;
  if (s->opt->prefetch_fill)
    ahead = MAX (window, engine_budget (s, m) - s->keep[m] - window);
  s->ahead[m] = MIN (ahead, s->model->n_layer * s->model->layer_bytes + s->model->output_bytes) / s->speed[m];
}

static gboolean
solver_init (solver *s, const halda_model *model, const halda_device *devs, int M, const halda_options *opt,
    GError **error)
{
  int head = -1;

  memset (s, 0, sizeof *s);
  s->model = model;
  s->devs = devs;
  s->opt = opt;
  s->M = M;
  s->L = model->n_layer;
  if (!check_model (model, error))
    return FALSE;
  if (M < 1) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "no devices");
    return FALSE;
  }
  for (int m = 0; m < M; m++) {
    if (devs[m].is_head) {
      if (head >= 0) {
        g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "devices '%s' and '%s' are both marked as head",
            devs[head].name, devs[m].name);
        return FALSE;
      }
      head = m;
    }
  }
  s->head = head < 0 ? 0 : head;
  s->bp = model->layer_bytes + model->kv_bytes;
  s->order = g_new (int, M);
  for (int i = 0; i < M; i++)
    s->order[i] = (s->head + 1 + i) % M;
#define ALLOC(f, T) s->f = g_new0 (T, M)
  ALLOC (alpha, double);
  ALLOC (beta, double);
  ALLOC (budget, double);
  ALLOC (speed, double);
  ALLOC (hop, double);
  ALLOC (vram_cap, double);
  ALLOC (base_need, double);
  ALLOC (quota_ratio, double);
  ALLOC (quota_slack, double);
  ALLOC (spin_q, double);
  ALLOC (keep, double);
  ALLOC (ahead, double);
  ALLOC (must_fit, gboolean);
  ALLOC (uma, gboolean);
  ALLOC (metal, gboolean);
  ALLOC (gpu, gboolean);
#undef ALLOC

  for (int m = 0; m < M; m++) {
    const halda_device *d = &devs[m];
    gboolean is_head = m == s->head;
    if (d->ram_avail < 0 || d->swap_avail < 0 || d->vram_avail < 0 || d->disk_seq_read < 0
        || d->disk_rnd_read < 0 || d->net_latency < 0 || d->net_bandwidth < 0 || !(d->cpu_quota >= 0)
        || !(d->cpu_period >= 0) || !(d->cpu_threads >= 0) || !(d->cpu_window_spin >= 0)) {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s' has a negative figure in its profile",
          d->name);
      return FALSE;
    }
    if (!halda_device_layer_times (model, d, &s->alpha[m], &s->beta[m], error))
      return FALSE;
    if (!(s->alpha[m] > 0)) {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': its per-layer overhead (%.3f ms) leaves "
          "no time per layer", d->name, d->cpu_layer_overhead * 1e3);
      return FALSE;
    }
    s->uma[m] = d->os == HALDA_OS_MACOS;
    s->metal[m] = d->os == HALDA_OS_MACOS && d->gpu == HALDA_GPU_METAL;
    s->gpu[m] = d->gpu != HALDA_GPU_NONE;
    /* The memory that may hold layers: App. A.3's budget per OS. */
    if (s->metal[m])
      s->budget[m] = d->vram_avail > 0 ? d->vram_avail : d->ram_avail;
    else if (d->os == HALDA_OS_ANDROID)
      s->budget[m] = d->ram_avail + d->swap_avail;
    else
      s->budget[m] = d->ram_avail;
    /* Linux's page cache reads ahead (sequential); others fault pages in at random. */
    s->speed[m] = d->os == HALDA_OS_LINUX ? d->disk_seq_read : d->disk_rnd_read;
    s->must_fit[m] = s->speed[m] < opt->min_disk_speed || s->speed[m] <= 0;
    s->hop[m] = opt->no_comm ? 0.0
        : d->net_latency + (d->net_bandwidth > 0 ? model->activation_bytes / d->net_bandwidth : 0.0);
    s->vram_cap[m] = 0;
    if (s->gpu[m])
      s->vram_cap[m] = (s->metal[m] ? s->budget[m] : d->vram_avail) - model->gpu_buffer_bytes;
    {
      /* Threads busy while computing (u) against the quota (q): a device
       * that cannot use more than its quota is never throttled. */
      double u = d->cpu_threads > 0 ? d->cpu_threads : 1.0, P = d->cpu_period > 0 ? d->cpu_period : 0.1;
      if (d->cpu_quota > 0 && d->cpu_quota < u) {
        s->quota_ratio[m] = u / d->cpu_quota;
        s->spin_q[m] = d->cpu_window_spin / d->cpu_quota;
        s->quota_slack[m] = P * (1 - d->cpu_quota / u);
        s->any_quota = TRUE;
      }
    }
    s->base_need[m] = model->cpu_buffer_bytes
        + (is_head ? model->output_bytes + model->input_row_bytes + model->head_buffer_bytes : 0)
        + (s->metal[m] ? model->gpu_buffer_bytes : 0);
  }
  if (opt->merge_tolerance > 0) {
    /* The measured figures the plan depends on (GPU: its time per layer,
     * alpha + beta); CPU quotas and threads are configured, not measured. */
    double *gpu_t = g_new (double, M), *win = g_new (double, M), *pre = g_new (double, M);
    double tt;
    for (int m = 0; m < M; m++) {
      gpu_t[m] = s->gpu[m] ? s->alpha[m] + s->beta[m] : 0;
      win[m] = devs[m].stream_window;
      pre[m] = devs[m].prefetch_ahead;
    }
    tt = opt->merge_tolerance_time > 0 ? opt->merge_tolerance_time : opt->merge_tolerance;
    merge_close (s->alpha, M, tt);
    merge_close (gpu_t, M, tt);
    merge_close (s->budget, M, opt->merge_tolerance);
    merge_close (s->speed, M, opt->merge_tolerance);
    merge_close (s->hop, M, tt);
    merge_close (s->vram_cap, M, opt->merge_tolerance);
    merge_close (s->spin_q, M, tt);
    merge_close (win, M, opt->merge_tolerance);
    merge_close (pre, M, opt->merge_tolerance);
    for (int m = 0; m < M; m++) {
      if (s->gpu[m])
        s->beta[m] = gpu_t[m] - s->alpha[m];
      s->must_fit[m] = s->speed[m] < opt->min_disk_speed || s->speed[m] <= 0;
      stream_setup (s, m, win[m], pre[m]);
    }
    g_free (gpu_t);
    g_free (win);
    g_free (pre);
  } else {
    for (int m = 0; m < M; m++)
      stream_setup (s, m, devs[m].stream_window, devs[m].prefetch_ahead);
  }
  for (int m = 0; m < M; m++)
    s->any_stream |= s->keep[m] >= 0;
  {
    const halda_device *h = &devs[s->head];
    s->kappa_compute = type_seconds (model->output_flops, h->cpu_flops, h->name, "CPU", error);
    if (s->kappa_compute < 0)
      return FALSE;
    /* One embedding row per token (none without a measured disk: it then sits in the page cache). */
    s->kappa_disk = s->speed[s->head] > 0 ? model->input_row_bytes / s->speed[s->head] : 0;
  }
  return TRUE;
}

/* ---- the model, evaluated for one plan ---- */

static gboolean
per_round (const solver *s)
{
  return s->opt->prefetch_per_round || s->opt->prefetch_fill;
}

static int
prefix_layers (const solver *s, const int *w, int r, int m)
{
  int before = 0;
  for (int i = 0; i < s->M; i++) {
    int d = s->order[i];
    if (d == m)
      return CLAMP (r - before, 0, w[m]);
    before += w[d];
  }
  return 0;
}

static gboolean
evaluate (const solver *s, halda_plan *plan, GError **error)
{
  const int M = s->M, L = s->L;
  int W = 0, n_active = 0, r, *w;
  double comm_hops;

  for (int m = 0; m < M; m++)
    W += plan->dev[m].w;
  if (W != plan->W || W < 1) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "the windows add up to %d, not W = %d", W, plan->W);
    return FALSE;
  }
  plan->k_full = L / W;
  r = plan->last_round_layers = L - plan->k_full * W;
  plan->k = plan->k_full + (r > 0);
  if (s->opt->even_only && r) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INFEASIBLE, "W = %d does not divide L = %d", W, L);
    return FALSE;
  }
  if (s->opt->n_rounds > 0 && plan->k != s->opt->n_rounds) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INFEASIBLE, "the plan has %d rounds, not %d", plan->k,
        s->opt->n_rounds);
    return FALSE;
  }
  if (plan->dev[s->head].w < 1) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INFEASIBLE, "the head has no layer window");
    return FALSE;
  }
  w = g_new (int, M);
  for (int m = 0; m < M; m++)
    w[m] = plan->dev[m].w;
  for (int m = 0; m < M; m++) {
    halda_device_plan *d = &plan->dev[m];
    if (d->n < 0 || d->n > d->w || d->q < 0 || d->q > d->n || d->p != prefix_layers (s, w, r, m) || d->q > d->p
        || (!s->gpu[m] && d->n > 0)) {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': inconsistent w=%d n=%d p=%d q=%d",
          s->devs[m].name, d->w, d->n, d->p, d->q);
      g_free (w);
      return FALSE;
    }
    n_active += d->w > 0;
  }
  g_free (w);
  plan->head = s->head;
  plan->n_devices = M;
  plan->n_dropped = M - n_active;
  plan->t_compute = s->kappa_compute;
  plan->t_disk = s->kappa_disk;
  plan->t_comm = 0;
  plan->t_disk_hidden = 0;
  plan->t_quota = 0;
  plan->quota_device = -1;
  comm_hops = n_active > 1 ? plan->k : 0;
  for (int m = 0; m < M; m++) {
    halda_device_plan *d = &plan->dev[m];
    double cpu_layers;
    gboolean fits;
    d->layers = plan->k_full * d->w + d->p;
    d->gpu_layers = plan->k_full * d->n + d->q;
    d->t_compute = d->t_disk = d->t_disk_hidden = d->t_comm = d->t_cpu = d->t_stretch = d->t_quota = 0;
    d->ram_need = d->vram_need = 0;
    d->ram_budget = s->budget[m];
    if (d->w == 0) {
      d->mcase = HALDA_CASE_OFF;
      continue;
    }
    cpu_layers = s->uma[m] ? d->layers : d->layers - d->gpu_layers;
    d->ram_need = s->bp * cpu_layers + s->base_need[m];
    d->vram_need = s->bp * d->gpu_layers;
    if (d->gpu_layers > 0 && d->vram_need > s->vram_cap[m] + FIT_TOL_BYTES) {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INFEASIBLE, "device '%s': %d GPU layers need %.0f MiB of VRAM, "
          "%.0f MiB are free", s->devs[m].name, d->gpu_layers, d->vram_need / 1048576, s->vram_cap[m] / 1048576);
      return FALSE;
    }
    fits = d->ram_need <= s->budget[m] + FIT_TOL_BYTES;
    if (fits) {
      d->mcase = HALDA_CASE_M4;
    } else if (s->must_fit[m]) {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INFEASIBLE, "device '%s' needs %.0f MiB but has %.0f MiB and "
          "its disk is too slow to stream the rest", s->devs[m].name, d->ram_need / 1048576, s->budget[m] / 1048576);
      return FALSE;
    } else if (s->metal[m]) {
      /* Metal wires what it uses: under pressure every layer comes back from disk. */
      d->mcase = HALDA_CASE_M2;
      d->t_disk = (s->model->layer_bytes * d->layers + (m == s->head ? s->model->output_bytes : 0)) / s->speed[m];
    } else if (s->keep[m] >= 0) {
      /* The residency engine rereads all but the windows it keeps, and
       * reads up to ahead seconds of them while the others compute, once
       * per token (or per round: after each of its windows). */
      double weights = s->model->layer_bytes * (d->layers - d->gpu_layers)
          + (m == s->head ? s->model->output_bytes : 0);
      d->mcase = HALDA_CASE_M3;
      d->t_disk = MAX (0.0, weights - s->keep[m]) / s->speed[m];
      d->t_disk_hidden = MIN (d->t_disk, (per_round (s) ? plan->k : 1) * s->ahead[m]);
    } else {
      d->mcase = s->uma[m] ? HALDA_CASE_M1 : HALDA_CASE_M3;
      d->t_disk = (d->ram_need - s->budget[m]) / s->speed[m];
    }
    d->t_compute = s->alpha[m] * d->layers + s->beta[m] * d->gpu_layers;
    d->t_comm = comm_hops * s->hop[m];
    d->t_cpu = s->alpha[m] * (d->layers - d->gpu_layers) + (m == s->head ? s->kappa_compute : 0);
    if (s->quota_ratio[m] > 0) {
      /* its CPU seconds per token over the quota: u t_cpu / q, and the spin
       * after each window (every round counted) */
      d->t_quota = s->quota_ratio[m] * d->t_cpu + plan->k * s->spin_q[m];
      d->t_stretch = MAX (0.0, d->t_quota - d->t_cpu - s->quota_slack[m]);
    }
    plan->t_compute += d->t_compute;
    plan->t_disk += d->t_disk;
    plan->t_disk_hidden += d->t_disk_hidden;
    plan->t_comm += d->t_comm;
  }
  {
    /* T = max (sequential + stretches, the largest quota bound, a streaming
     * device's own compute and reads: what it reads while the others
     * compute must fit in their time) */
    double seq = plan->t_compute + plan->t_disk - plan->t_disk_hidden + plan->t_comm, stretch = 0, bound = 0,
        most = 0;
    for (int m = 0; m < M; m++) {
      const halda_device_plan *d = &plan->dev[m];
      stretch += d->t_stretch;
      if (d->t_stretch > most) {
        most = d->t_stretch;
        plan->quota_device = m;
      }
    }
    for (int m = 0; m < M; m++)
      if (plan->dev[m].t_quota > MAX (bound, seq + stretch)) {
        bound = plan->dev[m].t_quota;
        plan->quota_device = m;
      }
    for (int m = 0; m < M; m++) {
      const halda_device_plan *d = &plan->dev[m];
      double own = d->t_compute + d->t_disk + (m == s->head ? s->kappa_compute : 0);
      if (d->t_disk_hidden > 0 && own > MAX (bound, seq + stretch)) {
        bound = own;
        plan->quota_device = -1;
      }
    }
    plan->latency = MAX (seq + stretch, bound);
    plan->t_quota = plan->latency - seq;
  }
  return TRUE;
}

gboolean
halda_plan_evaluate (const halda_model *model, const halda_device *devs, int n_devs, const halda_options *opt,
    halda_plan *plan, GError **error)
{
  solver s;
  halda_options defaults;
  gboolean ok;
  if (opt == NULL) {
    halda_options_init (&defaults);
    opt = &defaults;
  }
  if (!solver_init (&s, model, devs, n_devs, opt, error)) {
    solver_clear (&s);
    return FALSE;
  }
  if (plan->n_devices != n_devs) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "the plan is for %d devices, not %d", plan->n_devices,
        n_devs);
    solver_clear (&s);
    return FALSE;
  }
  ok = evaluate (&s, plan, error);
  solver_clear (&s);
  return ok;
}

void
halda_plan_windows (const halda_plan *plan, int dev, GArray *ranges)
{
  int first = 0, M = plan->n_devices;
  for (int round = 0; round < plan->k; round++) {
    for (int i = 0; i < M; i++) {
      int d = (plan->head + 1 + i) % M;
      int count = round < plan->k_full ? plan->dev[d].w : plan->dev[d].p;
      /* Windows stay separate even when adjacent: the first n of each run on the GPU. */
      if (count > 0 && d == dev) {
        g_array_append_val (ranges, first);
        g_array_append_val (ranges, count);
      }
      first += count;
    }
  }
}

/* ---- one mixed-integer program ---- */

typedef enum {
  CASE_FREE,                    /* the program chooses (exact solver) */
  CASE_FIT,                     /* prima.cpp's M4 */
  CASE_SHORT,                   /* prima.cpp's M1/M2/M3 */
} case_choice;

typedef struct {
  glp_prob *lp;
  GArray *ia, *ja, *ar;
} program;

enum { C_W, C_N, C_Y, C_D, C_U, C_P, C_Q, C_F, C_O, C_PER_DEV };

static int
col (int m, int which)
{
  return 1 + m * C_PER_DEV + which;
}

static void
put (program *p, int row, int column, double v)
{
  if (v == 0)
    return;
  g_array_append_val (p->ia, row);
  g_array_append_val (p->ja, column);
  g_array_append_val (p->ar, v);
}

static int
add_row (program *p, int type, double lb, double ub)
{
  int row = glp_add_rows (p->lp, 1);
  glp_set_row_bnds (p->lp, row, type, lb, ub);
  return row;
}

/* kind GLP_IV or GLP_CV; a binary is an integer in [0, 1]. type GLP_DB or GLP_LO. */
static void
set_col (program *p, int column, int kind, int type, double lb, double ub, double cost)
{
  glp_set_col_kind (p->lp, column, kind);
  glp_set_col_bnds (p->lp, column, type == GLP_DB && lb == ub ? GLP_FX : type, lb, ub);
  glp_set_obj_coef (p->lp, column, cost);
}

/* The CPU-busy seconds of device m per token, coefficient c: c alpha (k_f (w - n) + p - q). */
static void
put_cpu_terms (program *p, int row, int m, double c, int k_f)
{
  put (p, row, col (m, C_W), c * k_f);
  put (p, row, col (m, C_N), -c * k_f);
  put (p, row, col (m, C_P), c);
  put (p, row, col (m, C_Q), -c);
}

/* With CPU quotas the token time is a maximum (see the top): the program's
 * costs move into a row T - costs - sum s_m >= kappa, T is minimised, and
 * each device whose quota can bind adds its stretch s_m and its bound.
 * The costs stay in the objective with a weight of QUOTA_TIE: when a bound
 * decides T, many plans share it, and the one with the shortest sequential
 * time leaves the most slack (T moves by at most QUOTA_TIE relative). */
#define QUOTA_TIE 1e-8

static void
add_time_rows (const solver *s, program *p, int k_f, int rounds)
{
  int n_cols = glp_get_num_cols (p->lp), t_col, row0;

  row0 = add_row (p, GLP_LO, glp_get_obj_coef (p->lp, 0), 0);
  for (int j = 1; j <= n_cols; j++) {
    put (p, row0, j, -glp_get_obj_coef (p->lp, j));
    glp_set_obj_coef (p->lp, j, QUOTA_TIE * glp_get_obj_coef (p->lp, j));
  }
  glp_set_obj_coef (p->lp, 0, 0);
  t_col = glp_add_cols (p->lp, 1);
  set_col (p, t_col, GLP_CV, GLP_LO, 0, 0, 1.0);
  put (p, row0, t_col, 1);
  for (int m = 0; m < s->M; m++) {
    double r = s->quota_ratio[m], kc = m == s->head ? s->kappa_compute : 0;
    int s_col, row;
    if (r <= 0)
      continue;
    s_col = glp_add_cols (p->lp, 1);
    set_col (p, s_col, GLP_CV, GLP_LO, 0, 0, QUOTA_TIE);
    put (p, row0, s_col, -1);
    /* s_m >= (r - 1) t_cpu + k spin / q - P (1 - q/u) */
    row = add_row (p, GLP_LO, (r - 1) * kc - s->quota_slack[m], 0);
    put (p, row, s_col, 1);
    put_cpu_terms (p, row, m, -(r - 1) * s->alpha[m], k_f);
    put (p, row, col (m, C_Y), -rounds * s->spin_q[m]);
    /* T >= r t_cpu + k spin / q */
    row = add_row (p, GLP_LO, r * kc, 0);
    put (p, row, t_col, 1);
    put_cpu_terms (p, row, m, -r * s->alpha[m], k_f);
    put (p, row, col (m, C_Y), -rounds * s->spin_q[m]);
  }
  /* A streaming device reads its hidden part while the others compute:
   * T >= its compute + all its reads (+ the output head on the head). */
  for (int m = 0; m < s->M; m++) {
    int row;
    if (s->keep[m] < 0 || s->ahead[m] <= 0)
      continue;
    row = add_row (p, GLP_LO, m == s->head ? s->kappa_compute : 0, 0);
    put (p, row, t_col, 1);
    put (p, row, col (m, C_W), -s->alpha[m] * k_f);
    put (p, row, col (m, C_P), -s->alpha[m]);
    put (p, row, col (m, C_N), -s->beta[m] * k_f);
    put (p, row, col (m, C_Q), -s->beta[m]);
    put (p, row, col (m, C_D), -1);
  }
}

/* Solve the program for cycle W. allowed[m] FALSE keeps m out; in_ring[m]
 * forces w_m >= 1 (prima.cpp); cases NULL lets the program choose each case.
 * Returns FALSE when there is no solution; *obj is the program's objective. */
static gboolean
solve_program (solver *s, int W, const gboolean *allowed, gboolean in_ring_all, const case_choice *cases,
    halda_plan *out, double *obj, gboolean *solver_failed)
{
  const int M = s->M, L = s->L, k_f = L / W, r = L - k_f * W, rounds = k_f + (r > 0);
  const double bp = s->bp / GIB, b = s->model->layer_bytes / GIB;
  program p;
  int z_col, row, ret, status;
  glp_iocp parm;
  gboolean ok = FALSE;

  s->n_programs++;
  p.lp = glp_create_prob ();
  p.ia = g_array_new (FALSE, FALSE, sizeof (int));
  p.ja = g_array_new (FALSE, FALSE, sizeof (int));
  p.ar = g_array_new (FALSE, FALSE, sizeof (double));
  /* GLPK's arrays are 1-based. */
  put (&p, 0, 0, 1.0);
  glp_set_obj_dir (p.lp, GLP_MIN);
  glp_add_cols (p.lp, M * C_PER_DEV + 1);
  z_col = M * C_PER_DEV + 1;
  glp_set_obj_coef (p.lp, 0, s->kappa_compute + s->kappa_disk);

  for (int m = 0; m < M; m++) {
    gboolean is_head = m == s->head, on = allowed == NULL || allowed[m];
    gboolean forced_in = on && (is_head || in_ring_all);
    case_choice cc = cases ? cases[m] : CASE_FREE;
    gboolean fit_only = s->must_fit[m] || cc == CASE_FIT;
    double s_gib = s->speed[m] / GIB;
    double big_need = bp * L + s->base_need[m] / GIB;
    double big_t = s_gib > 0 ? (b * L + s->model->output_bytes / GIB) : 0;
    gboolean use_gpu = s->gpu[m] && s->vram_cap[m] >= s->bp;
    gboolean stream = s->keep[m] >= 0;

    set_col (&p, col (m, C_W), GLP_IV, GLP_DB, forced_in ? 1 : 0, on ? W : 0, s->alpha[m] * k_f);
    set_col (&p, col (m, C_N), GLP_IV, GLP_DB, 0, on && use_gpu ? W : 0, s->beta[m] * k_f);
    set_col (&p, col (m, C_Y), GLP_IV, GLP_DB, forced_in ? 1 : 0, on ? 1 : 0,
        is_head ? 0.0 : rounds * s->hop[m]);
    set_col (&p, col (m, C_D), GLP_CV, fit_only ? GLP_DB : GLP_LO, 0, 0, 1.0);
    {
      double ulo = 0, uhi = 0;
      if ((s->metal[m] || stream) && !fit_only && on)
        ulo = cc == CASE_SHORT ? 1 : 0, uhi = 1;
      set_col (&p, col (m, C_U), GLP_IV, GLP_DB, ulo, uhi, 0);
    }
    /* o: disk seconds read while the others compute (cost -1: they leave the sequential sum) */
    set_col (&p, col (m, C_O), GLP_CV, GLP_DB, 0,
        stream && !fit_only && on ? (per_round (s) ? rounds : 1) * s->ahead[m] : 0, -1.0);
    if (stream && !fit_only && on) {
      row = add_row (&p, GLP_UP, 0, 0);
      put (&p, row, col (m, C_O), 1), put (&p, row, col (m, C_D), -1);
    }
    set_col (&p, col (m, C_P), GLP_IV, GLP_DB, 0, r > 0 && on ? W : 0, s->alpha[m]);
    set_col (&p, col (m, C_Q), GLP_IV, GLP_DB, 0, r > 0 && on && use_gpu ? W : 0, s->beta[m]);
    set_col (&p, col (m, C_F), GLP_IV, GLP_DB, 0, r > 0 ? 1 : 0, 0);

    /* n <= w; y = [w > 0]. */
    row = add_row (&p, GLP_UP, 0, 0);
    put (&p, row, col (m, C_N), 1), put (&p, row, col (m, C_W), -1);
    row = add_row (&p, GLP_UP, 0, 0);
    put (&p, row, col (m, C_W), 1), put (&p, row, col (m, C_Y), -W);
    row = add_row (&p, GLP_LO, 0, 0);
    put (&p, row, col (m, C_W), 1), put (&p, row, col (m, C_Y), -1);
    /* The head's hop counts when anyone else is in the ring: z >= y_m. */
    if (!is_head) {
      row = add_row (&p, GLP_LO, 0, 0);
      put (&p, row, z_col, 1), put (&p, row, col (m, C_Y), -1);
    }
    /* VRAM: b' (k_f n + q) <= vram - c_gpu. */
    if (use_gpu) {
      row = add_row (&p, GLP_UP, 0, s->vram_cap[m] / GIB);
      put (&p, row, col (m, C_N), bp * k_f), put (&p, row, col (m, C_Q), bp);
    }
    /* RAM need: b' (k_f w + p) - [not unified] b' (k_f n + q) + base y. */
    {
      int need_rows[3], n_need = 0;
      if (fit_only) {
        need_rows[n_need++] = add_row (&p, GLP_UP, 0, s->budget[m] / GIB);
      } else if (stream) {
        /* Short (u): s d >= b (CPU layers) + head output - keep - BIG_T (1 - u). */
        row = add_row (&p, GLP_UP, 0, s->budget[m] / GIB);
        put (&p, row, col (m, C_U), -big_need);
        need_rows[n_need++] = row;
        if (cc == CASE_SHORT)
          need_rows[n_need++] = add_row (&p, GLP_LO, s->budget[m] / GIB, 0);
        row = add_row (&p, GLP_LO, ((is_head ? s->model->output_bytes : 0) - s->keep[m]) / GIB - big_t, 0);
        put (&p, row, col (m, C_D), s_gib);
        put (&p, row, col (m, C_W), -b * k_f);
        put (&p, row, col (m, C_P), -b);
        put (&p, row, col (m, C_N), b * k_f);
        put (&p, row, col (m, C_Q), b);
        put (&p, row, col (m, C_U), -big_t);
      } else if (!s->metal[m]) {
        /* M1/M3: s d - need >= -budget, i.e. d >= (need - budget) / s. */
        row = add_row (&p, GLP_LO, -s->budget[m] / GIB, 0);
        put (&p, row, col (m, C_D), s_gib);
        need_rows[n_need++] = -row;     /* negated coefficients */
        if (cc == CASE_SHORT)
          need_rows[n_need++] = add_row (&p, GLP_LO, s->budget[m] / GIB, 0);
      } else {
        /* M2: need - BIG u <= budget; s d >= b (k_f w + p) + head output - BIG_T (1 - u). */
        row = add_row (&p, GLP_UP, 0, s->budget[m] / GIB);
        put (&p, row, col (m, C_U), -big_need);
        need_rows[n_need++] = row;
        if (cc == CASE_SHORT)
          need_rows[n_need++] = add_row (&p, GLP_LO, s->budget[m] / GIB, 0);
        row = add_row (&p, GLP_LO, (is_head ? s->model->output_bytes / GIB : 0) - big_t, 0);
        put (&p, row, col (m, C_D), s_gib);
        put (&p, row, col (m, C_W), -b * k_f);
        put (&p, row, col (m, C_P), -b);
        put (&p, row, col (m, C_U), -big_t);
      }
      for (int i = 0; i < n_need; i++) {
        int nr = ABS (need_rows[i]);
        double sign = need_rows[i] < 0 ? -1.0 : 1.0;
        put (&p, nr, col (m, C_W), sign * bp * k_f);
        put (&p, nr, col (m, C_P), sign * bp);
        if (!s->uma[m]) {
          put (&p, nr, col (m, C_N), -sign * bp * k_f);
          put (&p, nr, col (m, C_Q), -sign * bp);
        }
        put (&p, nr, col (m, C_Y), sign * s->base_need[m] / GIB);
      }
    }
    /* The last round: p <= w, f = 1 => p = w, q <= n, q <= p. */
    if (r > 0) {
      row = add_row (&p, GLP_UP, 0, 0);
      put (&p, row, col (m, C_P), 1), put (&p, row, col (m, C_W), -1);
      row = add_row (&p, GLP_LO, -L, 0);
      put (&p, row, col (m, C_P), 1), put (&p, row, col (m, C_W), -1), put (&p, row, col (m, C_F), -L);
      row = add_row (&p, GLP_UP, 0, 0);
      put (&p, row, col (m, C_Q), 1), put (&p, row, col (m, C_N), -1);
      row = add_row (&p, GLP_UP, 0, 0);
      put (&p, row, col (m, C_Q), 1), put (&p, row, col (m, C_P), -1);
    }
  }
  set_col (&p, z_col, GLP_CV, GLP_DB, 0, M > 1 ? 1 : 0, M > 1 ? rounds * s->hop[s->head] : 0);
  /* sum w = W. */
  row = add_row (&p, GLP_FX, W, W);
  for (int m = 0; m < M; m++)
    put (&p, row, col (m, C_W), 1);
  if (r > 0) {
    /* The last round is a prefix of the cycle order: a device gets layers only
     * when the one before it is full (f), and f is monotone. */
    row = add_row (&p, GLP_FX, r, r);
    for (int m = 0; m < M; m++)
      put (&p, row, col (m, C_P), 1);
    for (int i = 1; i < M; i++) {
      int d = s->order[i], prev = s->order[i - 1];
      row = add_row (&p, GLP_UP, 0, 0);
      put (&p, row, col (d, C_P), 1), put (&p, row, col (prev, C_F), -L);
      row = add_row (&p, GLP_UP, 0, 0);
      put (&p, row, col (d, C_F), 1), put (&p, row, col (prev, C_F), -1);
    }
  }

  if (s->any_quota || s->any_stream)
    add_time_rows (s, &p, k_f, rounds);
  glp_load_matrix (p.lp, (int) p.ia->len - 1, (int *) (void *) p.ia->data, (int *) (void *) p.ja->data,
      (double *) (void *) p.ar->data);
  glp_init_iocp (&parm);
  parm.presolve = GLP_ON;
  parm.msg_lev = GLP_MSG_OFF;
  parm.mip_gap = 0.0;
  parm.tm_lim = 60000;
  ret = glp_intopt (p.lp, &parm);
  status = ret == 0 ? glp_mip_status (p.lp) : GLP_UNDEF;
  if (ret == 0 && status == GLP_OPT) {
    out->W = W;
    out->n_devices = M;
    for (int m = 0; m < M; m++) {
      halda_device_plan *d = &out->dev[m];
      memset (d, 0, sizeof *d);
      d->w = (int) lround (glp_mip_col_val (p.lp, col (m, C_W)));
      d->n = (int) lround (glp_mip_col_val (p.lp, col (m, C_N)));
      d->p = (int) lround (glp_mip_col_val (p.lp, col (m, C_P)));
      d->q = (int) lround (glp_mip_col_val (p.lp, col (m, C_Q)));
    }
    *obj = glp_mip_obj_val (p.lp);
    ok = TRUE;
  } else if (ret != 0 && ret != GLP_ENOPFS && ret != GLP_ENODFS && ret != GLP_EBOUND) {
    *solver_failed = TRUE;
    g_debug ("halda: GLPK glp_intopt returned %d for W = %d", ret, W);
  }
  glp_delete_prob (p.lp);
  g_array_free (p.ia, TRUE);
  g_array_free (p.ja, TRUE);
  g_array_free (p.ar, TRUE);
  return ok;
}

static halda_plan *
plan_new (int M)
{
  halda_plan *plan = g_new0 (halda_plan, 1);
  plan->n_devices = M;
  plan->dev = g_new0 (halda_device_plan, M);
  return plan;
}

static void
plan_copy (halda_plan *dst, const halda_plan *src)
{
  halda_device_plan *dev = dst->dev;
  *dst = *src;
  dst->dev = dev;
  memcpy (dst->dev, src->dev, sizeof *dev * src->n_devices);
}

static gboolean
w_allowed (const solver *s, int W)
{
  int k_f = s->L / W, r = s->L - k_f * W;
  if (s->opt->even_only && r)
    return FALSE;
  return s->opt->n_rounds <= 0 || k_f + (r > 0) == s->opt->n_rounds;
}

/* Why nothing is feasible, in words. */
static void
explain_infeasible (const solver *s, GError **error)
{
  const halda_model *mod = s->model;
  double fit_layers = 0, need = mod->n_layer * s->bp / GIB;
  gboolean any_stream = FALSE;
  const halda_device *h = &s->devs[s->head];

  if (s->must_fit[s->head] && s->base_need[s->head] + s->bp > s->budget[s->head]) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INFEASIBLE, "the model does not fit the cluster: the head device "
        "'%s' cannot hold one layer plus the output head and buffers (%.0f MiB) in its %.0f MiB, and its disk "
        "(%.0f MB/s) is too slow to stream weights (minimum %.0f MB/s)", h->name, (s->base_need[s->head] + s->bp) / 1048576,
        s->budget[s->head] / 1048576, s->speed[s->head] / 1e6, s->opt->min_disk_speed / 1e6);
    return;
  }
  for (int m = 0; m < s->M; m++) {
    if (!s->must_fit[m]) {
      any_stream = TRUE;
      continue;
    }
    fit_layers += MAX (0.0, floor ((s->budget[m] - s->base_need[m]) / s->bp));
    if (s->gpu[m] && !s->uma[m])
      fit_layers += MAX (0.0, floor (s->vram_cap[m] / s->bp));
  }
  if (!any_stream && fit_layers < mod->n_layer) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INFEASIBLE, "the model does not fit the cluster: its %d layers "
        "need %.2f GiB (%.1f MiB of weights and KV cache each), the devices can hold %.0f of them in RAM and VRAM, "
        "and no device has a disk fast enough (%.0f MB/s) to stream the rest", mod->n_layer, need,
        s->bp / 1048576, fit_layers, s->opt->min_disk_speed / 1e6);
    return;
  }
  if (s->opt->n_rounds > 0 || s->opt->even_only)
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INFEASIBLE, "no feasible plan with %s%s: the memory rows cannot "
        "all hold (try without that restriction)", s->opt->n_rounds > 0 ? "the requested number of rounds" : "",
        s->opt->even_only ? (s->opt->n_rounds > 0 ? " and W dividing L" : "W dividing L") : "");
  else
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INFEASIBLE, "no feasible plan: the memory rows cannot all hold "
        "(%d layers of %.1f MiB)", mod->n_layer, s->bp / 1048576);
}

/* Devices alike in every figure the model uses. */
static gboolean
same_device (const solver *s, int a, int b)
{
#define EQ(f) (s->f[a] == s->f[b])
  return a != s->head && b != s->head && EQ (alpha) && EQ (beta) && EQ (budget) && EQ (speed) && EQ (hop)
      && EQ (vram_cap) && EQ (base_need) && EQ (quota_ratio) && EQ (quota_slack) && EQ (spin_q) && EQ (keep)
      && EQ (ahead) && EQ (must_fit) && EQ (uma) && EQ (metal) && EQ (gpu);
#undef EQ
}

/* Swapping the windows of devices alike (not the head) gives the same
 * token time when every round is full: give the larger windows to the
 * earlier devices in ring order, so that which of them got more is not
 * decided by the solver's path. */
static void
canonical_order (solver *s, halda_plan *plan)
{
  halda_plan *alt;
  gboolean moved = FALSE;
  GError *err = NULL;

  if (plan->last_round_layers > 0)
    return;
  alt = plan_new (s->M);
  plan_copy (alt, plan);
  for (int i = 0; i < s->M; i++)
    for (int j = i + 1; j < s->M; j++) {
      halda_device_plan *x = &alt->dev[s->order[i]], *y = &alt->dev[s->order[j]];
      if (same_device (s, s->order[i], s->order[j]) && (y->w > x->w || (y->w == x->w && y->n > x->n))) {
        halda_device_plan t = *x;
        *x = *y;
        *y = t;
        moved = TRUE;
      }
    }
  if (moved && evaluate (s, alt, &err) && fabs (alt->latency - plan->latency) <= 1e-9 * plan->latency)
    plan_copy (plan, alt);
  g_clear_error (&err);
  halda_plan_free (alt);
}

static halda_plan *
solve_exact (solver *s, GError **error)
{
  halda_plan *best = NULL, *cand = plan_new (s->M);
  gboolean failed = FALSE;
  double obj;

  /* From one round down: on a tie (within float noise) keep the even plan
   * with fewer rounds, or (a CPU quota's bound decides both) the one whose
   * sequential time is shorter. */
  for (int W = s->L; W >= 1; W--) {
    GError *err = NULL;
    if (!w_allowed (s, W))
      continue;
    if (!solve_program (s, W, NULL, FALSE, NULL, cand, &obj, &failed))
      continue;
    if (!evaluate (s, cand, &err)) {
      /* Only float rounding at a memory row's edge can get here. */
      g_debug ("halda: W = %d: solution rejected: %s", W, err->message);
      g_clear_error (&err);
      continue;
    }
    if (best == NULL || cand->latency < best->latency * (1 - 1e-9)
        || (cand->latency <= best->latency * (1 + 1e-9) && ((cand->last_round_layers == 0
                    && best->last_round_layers > 0) || ((cand->last_round_layers == 0) == (best->last_round_layers == 0)
                    && cand->latency - cand->t_quota < (best->latency - best->t_quota) * (1 - 1e-9))))) {
      if (best == NULL)
        best = plan_new (s->M);
      plan_copy (best, cand);
    }
  }
  halda_plan_free (cand);
  if (best && s->opt->merge_tolerance > 0)
    canonical_order (s, best);
  if (best == NULL) {
    if (failed)
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_SOLVER, "GLPK failed on the layer assignment program");
    else
      explain_infeasible (s, error);
  }
  return best;
}

/* ---- prima.cpp's procedure (Algorithm 1 and device removal) ---- */

static gboolean
is_short (const solver *s, int m, int k, int w, int n)
{
  double layers = (double) k * (s->uma[m] ? w : w - n);
  return s->bp * layers + s->base_need[m] > s->budget[m];
}

/* One run of Algorithm 1 over the allowed devices; FALSE if it finds nothing. */
static gboolean
prima_assign (solver *s, const gboolean *allowed, halda_plan *out, GError **error)
{
  const int M = s->M, L = s->L;
  int *w = g_new0 (int, M), *n = g_new0 (int, M), sum = 0, pick = -1, diff;
  case_choice *cases = g_new0 (case_choice, M), *prev = g_new0 (case_choice, M);
  gboolean *force_fit = g_new0 (gboolean, M), have_final = FALSE, have_rollback = FALSE, failed = FALSE;
  double total = 0;
  halda_plan *cand = plan_new (M), *best = plan_new (M), *rollback = plan_new (M);

  /* Start: windows proportional to the memory budgets, no GPU layers. */
  for (int m = 0; m < M; m++)
    if (allowed[m])
      total += s->budget[m];
  for (int m = 0; m < M; m++) {
    if (!allowed[m])
      continue;
    w[m] = total > 0 ? (int) lround (s->budget[m] / total * L) : 0;
    sum += w[m];
  }
  diff = L - sum;
  for (int m = 0; m < M; m++)
    if (allowed[m] && (pick < 0 || (diff > 0 ? s->budget[m] > s->budget[pick] : s->budget[m] < s->budget[pick])))
      pick = m;
  w[pick] += diff;
  if (w[pick] < 0) {
    /* Rounding took more than the smallest device had: start from an even split. */
    int cnt = 0, given = 0;
    for (int m = 0; m < M; m++)
      cnt += allowed[m];
    for (int m = 0; m < M; m++)
      if (allowed[m])
        w[m] = L / cnt + (given++ < L % cnt);
  }

  for (int iter = 0; iter < 64; iter++) {
    int W = 0, k, best_k = -1;
    double best_obj = INFINITY;
    gboolean changed = iter == 0, free_gpu = FALSE, gpu_over = FALSE, cpu_over = FALSE, same = TRUE;

    for (int m = 0; m < M; m++)
      W += w[m];
    if (W < 1 || L % W != 0) {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INFEASIBLE, "prima.cpp's rule L = k W fails (W = %d, L = %d)",
          W, L);
      goto out;
    }
    k = L / W;
    /* The case sets M1-M4 for the current windows. */
    for (int m = 0; m < M; m++) {
      cases[m] = (force_fit[m] || s->must_fit[m] || !is_short (s, m, k, w[m], n[m])) ? CASE_FIT : CASE_SHORT;
      changed |= cases[m] != prev[m];
      prev[m] = cases[m];
    }
    if (!changed)
      break;
    /* Every candidate k (L % k == 0 and k <= L/2, or the one asked for). */
    for (int kk = 1; kk <= L; kk++) {
      double obj;
      if (L % kk != 0 || (s->opt->n_rounds > 0 ? kk != s->opt->n_rounds : (kk > L / 2 && L > 1)))
        continue;
      if (solve_program (s, L / kk, allowed, TRUE, cases, cand, &obj, &failed) && obj < best_obj) {
        best_obj = obj;
        best_k = kk;
        plan_copy (best, cand);
      }
    }
    if (best_k < 0) {
      /* No solution for these sets: roll back to the previous one. */
      if (have_rollback) {
        plan_copy (out, rollback);
        have_final = TRUE;
      }
      break;
    }
    plan_copy (rollback, best);
    have_rollback = TRUE;
    /* Free VRAM while a GPU or a CPU is overloaded: push the slowest disk
     * not yet in M4 into M4 and solve again. */
    for (int m = 0; m < M; m++) {
      if (!allowed[m])
        continue;
      if (s->gpu[m]) {
        int cap = (int) floor (s->vram_cap[m] / (s->bp * best_k));
        if (best->dev[m].n < cap)
          free_gpu = TRUE;
        else if (best->dev[m].w > best->dev[m].n)
          gpu_over = TRUE;
      } else if (cases[m] == CASE_SHORT) {
        cpu_over = TRUE;
      }
    }
    if (free_gpu && (gpu_over || cpu_over)) {
      int worst = -1;
      for (int m = 0; m < M; m++)
        if (allowed[m] && cases[m] != CASE_FIT && (worst < 0 || s->speed[m] < s->speed[worst]))
          worst = m;
      if (worst >= 0)
        force_fit[worst] = TRUE;
      continue;
    }
    for (int m = 0; m < M; m++) {
      same &= have_final && w[m] == best->dev[m].w && n[m] == best->dev[m].n;
      w[m] = best->dev[m].w;
      n[m] = best->dev[m].n;
    }
    plan_copy (out, best);
    have_final = TRUE;
    if (same)
      break;
  }
  if (!have_final && have_rollback) {
    plan_copy (out, rollback);
    have_final = TRUE;
  }
  if (!have_final) {
    if (failed)
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_SOLVER, "GLPK failed on the layer assignment program");
    else
      explain_infeasible (s, error);
  }
out:
  g_free (w);
  g_free (n);
  g_free (cases);
  g_free (prev);
  g_free (force_fit);
  halda_plan_free (cand);
  halda_plan_free (best);
  halda_plan_free (rollback);
  return have_final;
}

static halda_plan *
solve_prima (solver *s, GError **error)
{
  gboolean *allowed = g_new (gboolean, s->M);
  halda_plan *plan = plan_new (s->M);
  int n_allowed = s->M;

  for (int m = 0; m < s->M; m++)
    allowed[m] = TRUE;
  for (;;) {
    int removed = 0;
    if (!prima_assign (s, allowed, plan, error))
      goto fail;
    /* Drop devices left with one CPU layer and solve again without them. */
    for (int m = 0; m < s->M; m++) {
      if (allowed[m] && m != s->head && plan->dev[m].w == 1 && plan->dev[m].n == 0) {
        allowed[m] = FALSE;
        removed++;
      }
    }
    if (removed == 0 || n_allowed - removed < 1)
      break;
    n_allowed -= removed;
  }
  {
    GError *err = NULL;
    if (!evaluate (s, plan, &err)) {
      g_propagate_prefixed_error (error, err, "prima.cpp's procedure gave a plan the model rejects: ");
      goto fail;
    }
  }
  g_free (allowed);
  return plan;
fail:
  g_free (allowed);
  halda_plan_free (plan);
  return NULL;
}

halda_plan *
halda_solve (const halda_model *model, const halda_device *devs, int n_devs, const halda_options *opt,
    GError **error)
{
  solver s;
  halda_options defaults;
  halda_plan *plan = NULL;

  g_return_val_if_fail (model != NULL && (devs != NULL || n_devs == 0), NULL);
  if (opt == NULL) {
    halda_options_init (&defaults);
    opt = &defaults;
  }
  glp_term_out (GLP_OFF);
  if (solver_init (&s, model, devs, n_devs, opt, error)) {
    if (opt->n_rounds < 0 || opt->n_rounds > s.L)
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "cannot make %d rounds over %d layers", opt->n_rounds,
          s.L);
    else
      plan = opt->algo == HALDA_ALGO_PRIMA ? solve_prima (&s, error) : solve_exact (&s, error);
    if (plan)
      plan->n_programs = s.n_programs;
  }
  solver_clear (&s);
  return plan;
}
