/* gst-prima: the device profiler (see profiler.h and docs/profiler.md).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "prima-platform.h"
#include "cpu-topology.h"

#include "profiler.h"
#include "halda-io.h"
#include "membw.h"
#include "threadpool.h"
#include "forward.h"
#include "tensor-types.h"

#define GIB 1073741824.0
#define MIB 1048576.0
/* cgroup v1 writes "no limit" as the largest page-aligned counter (about
 * 2^63); anything this large is no limit. */
#define CGROUP_NO_LIMIT_MIN (G_GUINT64_CONSTANT (1) << 60)
/* Columns of the test matrix: a typical n_embd, a multiple of every block size. */
#define MATVEC_COLS 4096
#define DISK_SEQ_BLOCK (1 << 20)
#define DISK_ALIGN 4096

G_DEFINE_QUARK (prima-profile-error-quark, prima_profile_error)

void
prima_profile_options_init (prima_profile_options *opt)
{
  memset (opt, 0, sizeof *opt);
  opt->matvec_seconds = 0.1;
  opt->layer_seconds = 0.3;
  opt->cpu_budget_seconds = 4.0;
  opt->membw_bytes = (size_t) 128 << 20;
  opt->disk_bytes = (size_t) 256 << 20;
  opt->disk_seconds = 0.5;
}

static double
now_s (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *
rooted (const char *root, const char *path)
{
  return g_strconcat (root ? root : "", path, NULL);
}

static void
report (const prima_profile_options *opt, int step, int n_steps, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static void
report (const prima_profile_options *opt, int step, int n_steps, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  if (opt->progress == NULL)
    return;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  opt->progress (msg, step, n_steps, opt->user_data);
  g_free (msg);
}

/* ---- memory: /proc/meminfo and the memory cgroup ---- */

/* A cgroup number file: "max" (v2) and v1's huge counter mean no limit. */
static gboolean
read_cgroup_value (const char *path, guint64 *out)
{
  char *text = NULL, *end;
  gboolean ok = FALSE;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  g_strstrip (text);
  if (strcmp (text, "max") == 0) {
    *out = G_MAXUINT64;
    ok = TRUE;
  } else if (text[0] >= '0' && text[0] <= '9') {
    guint64 v = g_ascii_strtoull (text, &end, 10);
    if (*end == '\0') {
      *out = v >= CGROUP_NO_LIMIT_MIN ? G_MAXUINT64 : v;
      ok = TRUE;
    }
  }
  g_free (text);
  return ok;
}

/* One "key value" line of a memory.stat file; 0 if absent. */
static guint64
read_stat_key (const char *path, const char *key)
{
  char *text = NULL;
  guint64 v = 0;
  size_t klen = strlen (key);
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return 0;
  for (char *line = text; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL)
    if (strncmp (line, key, klen) == 0 && line[klen] == ' ') {
      v = g_ascii_strtoull (line + klen + 1, NULL, 10);
      break;
    }
  g_free (text);
  return v;
}

static gboolean
read_meminfo (const char *root, prima_profile_memory *m, GError **error)
{
  char *path = rooted (root, "/proc/meminfo"), *text = NULL;
  gboolean have_avail = FALSE;
  guint64 mem_free = 0, cached = 0, buffers = 0;
  GError *err = NULL;

  if (!g_file_get_contents (path, &text, NULL, &err)) {
    g_set_error (error, PRIMA_PROFILE_ERROR, PRIMA_PROFILE_ERROR_IO, "%s", err->message);
    g_error_free (err);
    g_free (path);
    return FALSE;
  }
  for (char *line = text; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL) {
    /* "MemTotal:       24683620 kB" */
    char *colon = strchr (line, ':');
    guint64 kb;
    if (colon == NULL)
      continue;
    kb = g_ascii_strtoull (colon + 1, NULL, 10) * 1024;
#define KEY(k) (colon - line == (long) strlen (k) && strncmp (line, k, strlen (k)) == 0)
    if (KEY ("MemTotal"))
      m->host_total = kb;
    else if (KEY ("MemAvailable")) {
      m->host_available = kb;
      have_avail = TRUE;
    } else if (KEY ("MemFree"))
      mem_free = kb;
    else if (KEY ("Cached"))
      cached = kb;
    else if (KEY ("Buffers"))
      buffers = kb;
    else if (KEY ("SwapTotal"))
      m->swap_total = kb;
    else if (KEY ("SwapFree"))
      m->swap_free = kb;
#undef KEY
  }
  /* Kernels before 3.14 have no MemAvailable: free plus the page cache. */
  if (!have_avail)
    m->host_available = MIN (m->host_total, mem_free + cached + buffers);
  g_free (text);
  g_free (path);
  if (m->host_total == 0) {
    g_set_error (error, PRIMA_PROFILE_ERROR, PRIMA_PROFILE_ERROR_IO, "%s has no MemTotal", "/proc/meminfo");
    return FALSE;
  }
  return TRUE;
}

/* Whether a comma-separated list holds item. */
static gboolean
list_has (const char *list, const char *item)
{
  char **parts = g_strsplit (list, ",", -1);
  gboolean found = g_strv_contains ((const char *const *) parts, item);
  g_strfreev (parts);
  return found;
}

/* The mount of a controller's cgroup hierarchy (v1: fstype cgroup with the
 * controller's option; v2: cgroup2): its mount point and the cgroup path at
 * its root (not "/" inside some containers). */
static gboolean
find_cgroup_mount (const char *root, int version, const char *controller, char **mount_point, char **mount_root)
{
  char *path = rooted (root, "/proc/self/mountinfo"), *text = NULL;
  gboolean found = FALSE;
  if (!g_file_get_contents (path, &text, NULL, NULL)) {
    g_free (path);
    return FALSE;
  }
  for (char *line = text, *next; line && *line && !found; line = next) {
    char *sep, **pre, **post;
    next = strchr (line, '\n');
    if (next)
      *next++ = '\0';
    /* "36 35 98:0 /root /mnt opts [optional...] - fstype source superopts" */
    sep = strstr (line, " - ");
    if (sep == NULL)
      continue;
    *sep = '\0';
    pre = g_strsplit (line, " ", -1);
    post = g_strsplit (sep + 3, " ", -1);
    if (g_strv_length (pre) >= 5 && g_strv_length (post) >= 3
        && ((version == 1 && strcmp (post[0], "cgroup") == 0 && list_has (post[2], controller))
            || (version == 2 && strcmp (post[0], "cgroup2") == 0))) {
      *mount_root = g_strdup (pre[3]);
      *mount_point = g_strdup (pre[4]);
      found = TRUE;
    }
    g_strfreev (pre);
    g_strfreev (post);
  }
  g_free (text);
  g_free (path);
  return found;
}

/* Our cgroup for a controller from /proc/self/cgroup: v1's
 * "N:...controller...:/path" wins over v2's "0::/path" (hybrid systems keep
 * the controllers on v1). */
static int
find_own_cgroup (const char *root, const char *controller, char **cg_path)
{
  char *path = rooted (root, "/proc/self/cgroup"), *text = NULL;
  int version = 0;
  if (!g_file_get_contents (path, &text, NULL, NULL)) {
    g_free (path);
    return 0;
  }
  for (char *line = text, *next; line && *line; line = next) {
    char **f;
    next = strchr (line, '\n');
    if (next)
      *next++ = '\0';
    f = g_strsplit (line, ":", 3);
    if (g_strv_length (f) == 3) {
      if (list_has (f[1], controller)) {
        g_free (*cg_path);
        *cg_path = g_strdup (f[2]);
        version = 1;
      } else if (strcmp (f[0], "0") == 0 && f[1][0] == '\0' && version == 0) {
        g_free (*cg_path);
        *cg_path = g_strdup (f[2]);
        version = 2;
      }
    }
    g_strfreev (f);
  }
  g_free (text);
  g_free (path);
  return version;
}

/* Our cgroup directory for a controller and the hierarchy's mount
 * directory, both canonical (so a walk up ends at the mount). */
static int
cgroup_dirs (const char *root, const char *controller, char **dir_out, char **mount_out)
{
  char *cg = NULL, *mnt = NULL, *mnt_root = NULL, *m, *d;
  const char *rel;
  int version = find_own_cgroup (root, controller, &cg);

  if (version == 0 || !find_cgroup_mount (root, version, controller, &mnt, &mnt_root)) {
    g_free (cg);
    return 0;
  }
  rel = cg;
  if (strcmp (mnt_root, "/") != 0 && g_str_has_prefix (cg, mnt_root))
    rel = cg + strlen (mnt_root);
  m = rooted (root, mnt);
  d = g_build_filename (m, rel, NULL);
  *mount_out = g_canonicalize_filename (m, "/");
  *dir_out = g_canonicalize_filename (d, "/");
  /* In a cgroup namespace the path may not exist below the mount: then the
   * mount point is our cgroup. */
  if (!g_file_test (*dir_out, G_FILE_TEST_IS_DIR)) {
    g_free (*dir_out);
    *dir_out = g_strdup (*mount_out);
  }
  g_free (m);
  g_free (d);
  g_free (cg);
  g_free (mnt);
  g_free (mnt_root);
  return version;
}

/* One level up; FALSE at the mount. */
static gboolean
cgroup_up (char **dir, const char *mount_dir)
{
  char *up;
  if (strcmp (*dir, mount_dir) == 0 || strlen (*dir) <= strlen (mount_dir))
    return FALSE;
  up = g_path_get_dirname (*dir);
  g_free (*dir);
  *dir = up;
  return TRUE;
}

/* Walk from our cgroup up to the mount point: the effective limit is the
 * tightest one on the way, and what is available under it is that level's
 * limit minus its usage, the inactive file cache counting as free (the
 * kernel reclaims it before it would swap or kill). */
static void
read_cgroup (const char *root, prima_profile_memory *m)
{
  char *mount_dir = NULL, *dir = NULL;
  int version = cgroup_dirs (root, "memory", &dir, &mount_dir);
  guint64 best_avail = G_MAXUINT64, swap_limit = G_MAXUINT64;
  gboolean first = TRUE;

  m->cgroup_limit = G_MAXUINT64;
  m->cgroup_swap_limit = G_MAXUINT64;
  if (version == 0)
    return;
  m->cgroup_version = version;
  g_strlcpy (m->cgroup_path, dir, sizeof m->cgroup_path);

  for (;;) {
    char *f_limit = g_build_filename (dir, version == 1 ? "memory.limit_in_bytes" : "memory.max", NULL);
    char *f_usage = g_build_filename (dir, version == 1 ? "memory.usage_in_bytes" : "memory.current", NULL);
    char *f_stat = g_build_filename (dir, "memory.stat", NULL);
    guint64 limit, usage = 0, reclaim;
    gboolean have_limit = read_cgroup_value (f_limit, &limit), have_usage = read_cgroup_value (f_usage, &usage);
    /* v1's total_ counters include the children; v2's are hierarchical already. */
    reclaim = read_stat_key (f_stat, version == 1 ? "total_inactive_file" : "inactive_file");
    if (version == 1 && reclaim == 0)
      reclaim = read_stat_key (f_stat, "inactive_file");
    reclaim = MIN (reclaim, usage);
    if (first && have_usage) {
      m->cgroup_usage = usage;
      m->cgroup_reclaimable = reclaim;
    }
    if (have_limit && limit != G_MAXUINT64) {
      guint64 used = have_usage ? usage - reclaim : 0;
      guint64 avail = limit > used ? limit - used : 0;
      m->cgroup_limit = MIN (m->cgroup_limit, limit);
      if (avail < best_avail) {
        best_avail = avail;
        m->cgroup_usage = usage;
        m->cgroup_reclaimable = reclaim;
      }
    }
    /* Swap the cgroup allows: v2 memory.swap.max less memory.swap.current;
     * v1 memsw (memory + swap) limit less the memory limit. */
    if (version == 2) {
      char *f_smax = g_build_filename (dir, "memory.swap.max", NULL);
      char *f_scur = g_build_filename (dir, "memory.swap.current", NULL);
      guint64 smax, scur = 0;
      if (read_cgroup_value (f_smax, &smax) && smax != G_MAXUINT64) {
        read_cgroup_value (f_scur, &scur);
        swap_limit = MIN (swap_limit, smax > scur ? smax - scur : 0);
      }
      g_free (f_smax);
      g_free (f_scur);
    } else if (have_limit && limit != G_MAXUINT64) {
      char *f_sw = g_build_filename (dir, "memory.memsw.limit_in_bytes", NULL);
      guint64 sw;
      if (read_cgroup_value (f_sw, &sw) && sw != G_MAXUINT64)
        swap_limit = MIN (swap_limit, sw > limit ? sw - limit : 0);
      g_free (f_sw);
    }
    g_free (f_limit);
    g_free (f_usage);
    g_free (f_stat);
    first = FALSE;
    if (!cgroup_up (&dir, mount_dir))
      break;
  }
  g_free (dir);
  if (best_avail != G_MAXUINT64)
    m->available = MIN (m->available, best_avail);
  m->cgroup_swap_limit = swap_limit;
  g_free (mount_dir);
}

gboolean
prima_profile_read_memory (const char *root, prima_profile_memory *out, GError **error)
{
  memset (out, 0, sizeof *out);
  if (!read_meminfo (root, out, error))
    return FALSE;
  out->available = out->host_available;
  read_cgroup (root, out);
  out->total = MIN (out->host_total, out->cgroup_limit);
  out->available = MIN (out->available, out->total);
  out->swap_available = MIN (out->swap_free, out->cgroup_swap_limit);
  return TRUE;
}

/* ---- CPU quota: the cpu cgroup ---- */

/* The quota and period of one level: v1 cpu.cfs_quota_us (-1: none) and
 * cpu.cfs_period_us, v2 cpu.max ("max 100000" or "50000 100000"). */
static gboolean
read_cpu_level (const char *dir, int version, double *quota, double *period)
{
  char *f = g_build_filename (dir, version == 1 ? "cpu.cfs_quota_us" : "cpu.max", NULL), *text = NULL;
  long long q = -1, per = 0;
  gboolean ok = FALSE;

  if (g_file_get_contents (f, &text, NULL, NULL)) {
    if (version == 1) {
      char *fp = g_build_filename (dir, "cpu.cfs_period_us", NULL), *pt = NULL;
      q = g_ascii_strtoll (text, NULL, 10);
      if (g_file_get_contents (fp, &pt, NULL, NULL))
        per = g_ascii_strtoll (pt, NULL, 10);
      g_free (pt);
      g_free (fp);
    } else if (sscanf (text, "%lld %lld", &q, &per) != 2) {
      q = -1;                   /* "max 100000" */
    }
    if (q > 0 && per > 0) {
      *quota = q / 1e6;
      *period = per / 1e6;
      ok = TRUE;
    }
  }
  g_free (text);
  g_free (f);
  return ok;
}

gboolean
prima_profile_read_cpu_limit (const char *root, prima_profile_cpu_limit *out)
{
  char *dir = NULL, *mount_dir = NULL;

  memset (out, 0, sizeof *out);
  out->version = cgroup_dirs (root, "cpu", &dir, &mount_dir);
  if (out->version == 0)
    return FALSE;
  g_strlcpy (out->path, dir, sizeof out->path);
  /* A parent's quota binds all its children together: the smallest share
   * of a CPU on the way up is ours. */
  do {
    double q, per;
    if (read_cpu_level (dir, out->version, &q, &per) && (out->cores == 0 || q / per < out->cores)) {
      out->quota = q;
      out->period = per;
      out->cores = q / per;
      g_strlcpy (out->path, dir, sizeof out->path);
    }
  } while (cgroup_up (&dir, mount_dir));
  g_free (dir);
  g_free (mount_dir);
  return out->cores > 0;
}

/* How often the quota has throttled the binding level (cpu.stat's
 * nr_throttled, v1 and v2); 0 without a quota. */
static guint64
cpu_throttle_count (const prima_profile_cpu_limit *lim)
{
  char *f, *text = NULL;
  guint64 n = 0;
  if (lim->cores <= 0)
    return 0;
  f = g_build_filename (lim->path, "cpu.stat", NULL);
  if (g_file_get_contents (f, &text, NULL, NULL)) {
    char *at = strstr (text, "nr_throttled ");
    if (at)
      n = g_ascii_strtoull (at + strlen ("nr_throttled "), NULL, 10);
  }
  g_free (text);
  g_free (f);
  return n;
}

/* ---- CPU: decode-shaped mat-vec per weight type ---- */

gboolean
prima_profile_type_supported (prima_type type)
{
  const prima_type_traits *tr = prima_type_get_traits (type), *vt;
  /* Q8_K and Q8_1 exist only as activations. */
  if (tr == NULL || tr->vec_dot == NULL || type == PRIMA_TYPE_Q8_K || type == PRIMA_TYPE_Q8_1)
    return FALSE;
  if (prima_row_size (type, MATVEC_COLS) == 0)
    return FALSE;
  vt = prima_type_get_traits (tr->vec_dot_type);
  return vt != NULL && (tr->vec_dot_type == PRIMA_TYPE_F32 || vt->from_float != NULL);
}

void
prima_profile_types_from_model (const halda_model *model, gboolean types[PRIMA_TYPE_COUNT])
{
  for (int t = 0; t < PRIMA_TYPE_COUNT; t++)
    types[t] = model->layer_flops[t] > 0 || model->output_flops[t] > 0;
}

void
prima_profile_options_from_model (prima_profile_options *opt, const prima_model *model)
{
  halda_model desc;
  double biggest[PRIMA_TYPE_COUNT] = { 0 };

  halda_model_from_prima (model, 512, &desc);
  prima_profile_types_from_model (&desc, opt->types);
  /* For each type, the shape of its largest matrix (decode's time goes to
   * the big ones: the FFN, the output head). */
  for (int i = 0; i <= model->hp.n_layer; i++) {
    const prima_layer_weights *l = i < model->hp.n_layer ? &model->layers[i] : NULL;
    const gguf_tensor *last[] = { model->output };
    const gguf_tensor *const *ts = l ? (const gguf_tensor *const[]) { l->wq, l->wk, l->wv, l->wo, l->ffn_gate,
      l->ffn_up, l->ffn_down } : last;
    int n = l ? 7 : 1;
    for (int k = 0; k < n; k++) {
      const gguf_tensor *w = ts[k];
      if (w == NULL || w->type >= PRIMA_TYPE_COUNT || w->ne[1] <= 1 || (double) w->size <= biggest[w->type])
        continue;
      biggest[w->type] = (double) w->size;
      opt->shape_rows[w->type] = (int) MIN (w->ne[1], (int64_t) G_MAXINT);
      opt->shape_cols[w->type] = (int) MIN (w->ne[0], (int64_t) G_MAXINT);
    }
  }
}

typedef struct {
  const uint8_t *w;
  size_t row_bytes;
  int n_rows;
  int n_cols;
  int chunk_rows;
  prima_vec_dot_fn vec_dot;
  const void *xq;
  float *y;
  atomic_int next;              /* next chunk of rows to claim */
} matvec_task;

/* Threads claim chunks of rows from a shared counter, as the forward pass's
 * matmul does, and run through the thread pool's dynamic mode: on a loaded
 * machine a descheduled worker costs what it costs the forward pass. */
static void
matvec_chunks (int ith, int nth, void *arg)
{
  matvec_task *t = arg;
  int c;
  (void) ith;
  (void) nth;
  while ((c = atomic_fetch_add (&t->next, 1)) * t->chunk_rows < t->n_rows) {
    int r0 = c * t->chunk_rows, r1 = MIN (r0 + t->chunk_rows, t->n_rows);
    for (int r = r0; r < r1; r++) {
      const uint8_t *row = t->w + (size_t) r * t->row_bytes;
      /* Hardware prefetchers stop at page boundaries; keep the stream going. */
      if (r + 2 < r1)
        for (size_t off = 0; off < t->row_bytes; off += 64)
          __builtin_prefetch (row + 2 * t->row_bytes + off, 0, 0);
      t->vec_dot (t->n_cols, &t->y[r], row, t->xq);
    }
  }
}

/* The test matrix holds random bytes, shared by every type: the kernels do
 * the same work whatever the values, and quantizing 128 MiB per type would
 * cost more than timing it. Each byte gets bit 6 cleared and bit 5 set, so
 * that every fp16, bf16 and f32 in it (their exponents sit in the top byte)
 * is a normal number below 2: no NaN, infinity or subnormal to take a slow
 * path. A 64 KiB random block is repeated over the buffer. */
static void
fill_random (uint8_t *buf, size_t bytes, GRand *rng)
{
  const size_t block = 65536;
  for (size_t i = 0; i < MIN (block, bytes); i += 4) {
    guint32 v = (g_rand_int (rng) & 0xbfbfbfbf) | 0x20202020;
    memcpy (buf + i, &v, MIN ((size_t) 4, bytes - i));
  }
  for (size_t off = block; off < bytes; off += block)
    memcpy (buf + off, buf, MIN (block, bytes - off));
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* ---- timed passes on a shared machine and under a CPU quota ---- */

static double
cpu_now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A CFS quota is a budget per period: a pass that runs out of it waits for
 * the next period and would time the quota, not the device. So under a
 * quota a pass is short enough to fit half a period's budget with every
 * thread busy, a pause after it keeps the average use under 70% of the
 * quota (the next pass starts with budget left), and a pass during which
 * the quota throttled us (cpu.stat's nr_throttled moved) is not counted.
 * The solver applies the quota itself (docs/scheduler-plans.md). */
typedef struct {
  const prima_profile_cpu_limit *lim;
  double t0, cpu0;
  guint64 throttled0;
} pass_clock;

static void
pass_start (pass_clock *c, const prima_profile_cpu_limit *lim)
{
  c->lim = lim;
  c->throttled0 = cpu_throttle_count (lim);
  c->cpu0 = cpu_now ();
  c->t0 = now_s ();
}

/* The pass's seconds and CPU seconds; FALSE when the quota throttled it. */
static gboolean
pass_stop (pass_clock *c, double *seconds, double *cpu_seconds)
{
  double t = now_s () - c->t0, used = cpu_now () - c->cpu0;
  gboolean clean = cpu_throttle_count (c->lim) == c->throttled0;

  *seconds = t;
  if (cpu_seconds)
    *cpu_seconds = used;
  if (c->lim->cores > 0) {
    double pause = used / (0.7 * c->lim->cores) - t;
    if (pause > 0)
      g_usleep ((gulong) (MIN (pause, 2 * c->lim->period) * 1e6));
  }
  return clean;
}

/* The longest pass that fits half a period's budget; 0: no quota. */
static double
pass_max_seconds (const prima_profile_cpu_limit *lim, int n_threads)
{
  return lim->cores > 0 ? 0.5 * lim->quota / MAX (1, n_threads) : 0;
}

/* What the device does when it has the machine: the median of the fastest
 * quarter of the passes. A load that comes and goes (another program's
 * build) slows some passes, not the device, so the slow ones are left out;
 * taking a low quantile rather than the single fastest pass keeps one lucky
 * timing from deciding. */
static double
fast_quarter (double *t, int n)
{
  int q = MAX (1, n / 4);
  qsort (t, n, sizeof *t, compare_doubles);
  return t[(q - 1) / 2];
}

/* One pass: y = W_m x for count matrices of the buffer from the first on
 * (wrapping), one after the other as a layer's products are, x converted to
 * the activation type before each (as the forward pass does). */
static void
matvec_pass (prima_threadpool *pool, matvec_task *t, const uint8_t *buf, int n_mats, int first, int count,
    size_t mat_bytes, const prima_type_traits *vt, const float *x, void *xq)
{
  for (int i = 0; i < count; i++) {
    if (vt)
      vt->from_float (x, xq, t->n_cols);
    t->w = buf + (size_t) ((first + i) % n_mats) * mat_bytes;
    atomic_store (&t->next, 0);
    prima_threadpool_run_dynamic (pool, matvec_chunks, t);
  }
}

/* FLOP/s of decode-shaped products on weights of this type (fast_quarter of
 * the unthrottled passes; each pass continues where the last one stopped,
 * so the weights always come from memory). */
static double
measure_type (prima_threadpool *pool, prima_profile *p, prima_type type, int n_rows, int n_cols,
    const uint8_t *buf, size_t buf_bytes, float *y, const float *x, void *xq, double seconds, double *bytes_per_s,
    int *n_mats_out)
{
  const prima_type_traits *tr = prima_type_get_traits (type);
  const prima_type_traits *vt = tr->vec_dot_type == PRIMA_TYPE_F32 ? NULL : prima_type_get_traits (tr->vec_dot_type);
  size_t row_bytes = prima_row_size (type, n_cols), mat_bytes;
  int n_mats, group, n_threads = prima_threadpool_n_threads (pool), n = 0, n_all = 0, first = 0;
  double max_pass = pass_max_seconds (&p->cpu_limit, n_threads), times[256], all[256], start, t_all, est;
  matvec_task t;
  pass_clock clk;

  n_rows = (int) MIN ((size_t) n_rows, buf_bytes / row_bytes);
  mat_bytes = row_bytes * n_rows;
  n_mats = (int) (buf_bytes / mat_bytes);
  memset (&t, 0, sizeof t);
  t.row_bytes = row_bytes;
  t.n_rows = n_rows;
  t.n_cols = n_cols;
  /* About the forward pass's chunking: a few dozen chunks per thread. */
  t.chunk_rows = MAX (4, n_rows / (n_threads * 32));
  t.vec_dot = tr->vec_dot;
  t.xq = vt ? xq : (const void *) x;
  t.y = y;
  /* warm up (threads, TLB) and a first estimate for the pass length */
  pass_start (&clk, &p->cpu_limit);
  matvec_pass (pool, &t, buf, n_mats, 0, n_mats, mat_bytes, vt, x, xq);
  pass_stop (&clk, &t_all, NULL);
  group = n_mats;
  if (max_pass > 0)
    group = (int) CLAMP (max_pass / MAX (t_all / n_mats, 1e-9), 1, n_mats);
  seconds = MAX (0.0, seconds);
  start = now_s ();
  /* At least three unthrottled passes for the estimate (two when the time
   * is already spent), within three times the time given. */
  while (n < (int) G_N_ELEMENTS (times) && n_all < (int) G_N_ELEMENTS (all)
      && (now_s () - start < seconds || (n < (seconds > 0 ? 3 : 2) && now_s () - start < 3 * seconds + 0.05))) {
    double dt;
    pass_start (&clk, &p->cpu_limit);
    matvec_pass (pool, &t, buf, n_mats, first, group, mat_bytes, vt, x, xq);
    first = (first + group) % n_mats;
    if (pass_stop (&clk, &dt, NULL))
      times[n++] = dt;
    else
      p->passes_throttled++;
    all[n_all++] = dt;
  }
  p->passes_kept += n;
  /* Throttled throughout (a quota too small for even one matrix): the
   * throttled passes are all there is. */
  est = MAX (n > 0 ? fast_quarter (times, n) : fast_quarter (all, n_all), 1e-9);
  *bytes_per_s = (double) mat_bytes * group / est;
  *n_mats_out = n_mats;
  return 2.0 * n_cols * (double) n_rows * group / est;
}

/* ---- one real decode layer against its products ---- */

/* Seconds of layer i's products at the profiled rates; < 0 when a rate is
 * missing. */
static double
layer_matvec_seconds (const prima_profile *p, const prima_layer_weights *l)
{
  const gguf_tensor *ts[] = { l->wq, l->wk, l->wv, l->wo, l->ffn_gate, l->ffn_up, l->ffn_down };
  double t = 0;
  for (guint k = 0; k < G_N_ELEMENTS (ts); k++) {
    if (ts[k] == NULL || ts[k]->ne[1] <= 1)
      continue;
    if (ts[k]->type >= PRIMA_TYPE_COUNT || !(p->cpu_flops[ts[k]->type] > 0))
      return -1;
    t += 2.0 * ts[k]->ne[0] * ts[k]->ne[1] / p->cpu_flops[ts[k]->type];
  }
  return t;
}

/* Decode one token through a window of the model's layers, many times, and
 * compare with what its products take at the rates just measured: the
 * difference is what a layer costs beyond streaming its weights (RMS norms,
 * RoPE, the KV cache write, attention, the thread pool's rounds and
 * barriers), which the solver adds per layer (cpu_layer_overhead_ms), so
 * that its time per layer of this model is the real one. The
 * window is in the middle of the model (no embedding, no output head), as
 * many layers as fill the test buffer (their weights come from memory, as
 * a device's layers do), at most a quarter of the free memory and, under a
 * quota, what fits a pass. The first evaluations fault the weights in. */
static void
measure_layers (const prima_profile_options *opt, prima_profile *p)
{
  GError *err = NULL;
  prima_model *model;
  prima_context *ctx = NULL;
  prima_context_params cp;
  float *hidden = NULL, *out = NULL;
  double max_pass = pass_max_seconds (&p->cpu_limit, p->n_threads), target, bytes = 0, matvec = 0;
  double times[512], wall = 0, cpu = 0, start;
  int first, count = 0, n = 0, L, P;

  if (opt->skip_layer || opt->skip_cpu || opt->model_path == NULL) {
    g_strlcpy (p->layer_note, opt->model_path ? "skipped" : "no model", sizeof p->layer_note);
    return;
  }
  model = prima_model_load (opt->model_path, &err);
  if (model == NULL) {
    g_snprintf (p->layer_note, sizeof p->layer_note, "%s", err->message);
    g_error_free (err);
    return;
  }
  L = model->hp.n_layer;
  if (L < 2) {
    g_strlcpy (p->layer_note, "the model has one layer", sizeof p->layer_note);
    goto out;
  }
  first = L >= 3 ? 1 : 0;
  target = MIN ((double) p->matvec_bytes, p->mem.available / 4.0);
  /* Layers [first, first + count), never the last one (it ends in the output head). */
  while (first + count < L - 1) {
    double lb = (double) prima_model_weight_bytes (model, first + count, first + count + 1);
    double lt = layer_matvec_seconds (p, &model->layers[first + count]);
    if (lt < 0) {
      g_strlcpy (p->layer_note, "a weight type of the layers has no measured rate", sizeof p->layer_note);
      goto out;
    }
    if (count > 0 && (bytes + lb > target || (max_pass > 0 && 1.5 * (matvec + lt) > max_pass)))
      break;
    bytes += lb;
    matvec += lt;
    count++;
  }
  if (bytes > p->mem.available / 2.0) {
    g_strlcpy (p->layer_note, "one layer does not fit in half the free memory", sizeof p->layer_note);
    goto out;
  }
  /* Attention at the run's positions costs more than its FLOPs at the F16
   * rate (a call per position and head): each pass attends to P cached
   * positions, and the attention the solver counts itself at P is taken
   * out of the overhead below, so its per-layer time at P is the real one. */
  P = MAX (0, opt->layer_position);
  if (P > 0 && !(p->cpu_flops[PRIMA_TYPE_F16] > 0))
    P = 0;
  memset (&cp, 0, sizeof cp);
  cp.first_layer = first;
  cp.last_layer = first + count;
  cp.n_ctx = P + 8;
  cp.n_batch = MAX (1, MIN (P, 64));
  cp.n_threads = p->n_threads;
  cp.prefetch = PRIMA_PREFETCH_NONE;
  cp.release = PRIMA_RELEASE_NEVER;
  ctx = prima_context_new (model, &cp, &err);
  if (ctx == NULL) {
    g_snprintf (p->layer_note, sizeof p->layer_note, "%s", err->message);
    g_error_free (err);
    goto out;
  }
  hidden = g_new (float, (size_t) MAX (P, 1) * model->hp.n_embd);
  out = g_new (float, (size_t) MAX (P, 1) * model->hp.n_embd);
  for (size_t i = 0; i < (size_t) MAX (P, 1) * model->hp.n_embd; i++)
    hidden[i] = (float) sin (0.37 * i + 1.0);
  /* The cells 0 .. P-1 once, as a prompt; then every evaluation is at P
   * (each drops the cell of the last one). */
  if (P > 0)
    prima_context_eval (ctx, P, NULL, hidden, 0, out, FALSE, NULL);
  matvec += (double) count * P * halda_attention_flops_per_position (model->hp.n_head, model->hp.head_dim)
      / p->cpu_flops[PRIMA_TYPE_F16];
  for (int i = 0; i < 2; i++)
    prima_context_eval (ctx, 1, NULL, hidden, P, out, FALSE, NULL);
  start = now_s ();
  while (n < (int) G_N_ELEMENTS (times) && (now_s () - start < opt->layer_seconds
          || (n < 3 && now_s () - start < 3 * opt->layer_seconds + 0.05))) {
    pass_clock clk;
    double dt, dc;
    if (opt->layer_gap_seconds > 0)
      g_usleep ((gulong) (opt->layer_gap_seconds * 1e6));
    pass_start (&clk, &p->cpu_limit);
    prima_context_eval (ctx, 1, NULL, hidden, P, out, FALSE, NULL);
    if (!pass_stop (&clk, &dt, &dc)) {
      p->passes_throttled++;
      continue;
    }
    times[n++] = dt;
    wall += dt;
    cpu += dc;
  }
  if (n == 0) {
    g_strlcpy (p->layer_note, "every evaluation was throttled by the CPU quota", sizeof p->layer_note);
    goto out;
  }
  /* The CPU the threads still burn after an evaluation (the pool's workers
   * spin a little before they sleep): a device pays it once per window,
   * against its quota, while the next device computes. */
  {
    double tails[5];
    for (int i = 0; i < 5; i++) {
      double c1;
      prima_context_eval (ctx, 1, NULL, hidden, 0, out, FALSE, NULL);
      c1 = cpu_now ();
      g_usleep (20000);
      tails[i] = cpu_now () - c1;
    }
    qsort (tails, 5, sizeof tails[0], compare_doubles);
    p->cpu_tail = MAX (0.0, tails[2]);
  }
  p->passes_kept += n;
  p->layer_first = first;
  p->layer_count = count;
  /* The median pass, not the fastest quarter as for the rates above: the
   * solver predicts a decode, which pays every pass (the fastest quarter
   * was 3% below the median, interleaved on a quiet VM, and every ring
   * came out slower than predicted). */
  qsort (times, n, sizeof times[0], compare_doubles);
  p->layer_time = times[n / 2] / count;
  p->layer_matvec_time = matvec / count;
  /* The difference is what the solver adds to the products; it may be
   * negative (the forward pass's fused rounds stream a little faster than
   * the test's products), so the solver's per-layer time is the real one.
   * More than half the products off is a measurement gone wrong. */
  p->layer_overhead = MAX (-0.5 * p->layer_matvec_time, p->layer_time - p->layer_matvec_time);
  p->cpu_busy = wall > 0 ? cpu / wall : 0;
  g_snprintf (p->layer_note, sizeof p->layer_note, "layers %d-%d, %d evaluations", first, first + count - 1, n);
  if (P > 0)
    g_snprintf (p->layer_note + strlen (p->layer_note), sizeof p->layer_note - strlen (p->layer_note),
        " at position %d", P);
  if (opt->layer_gap_seconds > 0)
    g_snprintf (p->layer_note + strlen (p->layer_note), sizeof p->layer_note - strlen (p->layer_note),
        ", each after %.0f ms idle", opt->layer_gap_seconds * 1e3);
out:
  g_free (hidden);
  g_free (out);
  prima_context_free (ctx);
  prima_model_free (model);
}

/* The test matrix must not fit in a cache (decode streams its weights from
 * memory): 128 MiB, more on a CPU with a large last-level cache. An L3 above
 * 64 MiB is taken for the total of several dies (server parts, and what
 * virtual machines report), of which one core only uses its own die's share. */
static size_t
default_matvec_bytes (void)
{
  size_t bytes = (size_t) 128 << 20;
#ifdef _SC_LEVEL3_CACHE_SIZE
  long l3 = sysconf (_SC_LEVEL3_CACHE_SIZE);
  if (l3 > 0 && l3 <= (64L << 20))
    bytes = MAX (bytes, (size_t) l3 * 4);
#endif
  return bytes;
}

/* ---- disk: O_DIRECT sequential and random reads ---- */

typedef struct {
  int fd;
  guint64 n_blocks;
  size_t block;
  double deadline;
  guint32 seed;
  guint64 bytes;
  int err;
} rnd_reader;

static gpointer
rnd_read_thread (gpointer data)
{
  rnd_reader *r = data;
  void *buf = NULL;
  GRand *rng = g_rand_new_with_seed (r->seed);
  if (posix_memalign (&buf, DISK_ALIGN, r->block) != 0) {
    r->err = ENOMEM;
    g_rand_free (rng);
    return NULL;
  }
  while (now_s () < r->deadline) {
    /* A uniform block index over the whole file (two draws: files > 4 G blocks are not expected). */
    guint64 blk = ((guint64) g_rand_int (rng) << 32 | g_rand_int (rng)) % r->n_blocks;
    ssize_t got = pread (r->fd, buf, r->block, (off_t) (blk * r->block));
    if (got < 0) {
      if (errno == EINTR)
        continue;
      r->err = errno;
      break;
    }
    r->bytes += (guint64) got;
  }
  free (buf);
  g_rand_free (rng);
  return NULL;
}

/* Write the temporary test file: random bytes (storage that compresses or
 * deduplicates must not see zeros), at most about 1.5 s of writing. */
static guint64
write_test_file (int fd, size_t bytes, GRand *rng)
{
  const size_t chunk = (size_t) 4 << 20;
  void *buf = NULL;
  guint64 done = 0;
  double start = now_s ();
  if (posix_memalign (&buf, DISK_ALIGN, chunk) != 0)
    return 0;
  for (size_t i = 0; i < chunk / 4; i++)
    ((guint32 *) buf)[i] = g_rand_int (rng);
  while (done < bytes) {
    ssize_t put;
    ((guint64 *) buf)[0] = done;        /* no two chunks alike */
    put = pwrite (fd, buf, chunk, (off_t) done);
    if (put < 0 && errno == EINTR)
      continue;
    if (put <= 0)
      break;
    done += (guint64) put;
    if (now_s () - start > 1.5 && done >= (guint64) 32 << 20)
      break;
  }
  free (buf);
  if (fdatasync (fd) != 0)
    return 0;
  return done - done % DISK_SEQ_BLOCK;
}

static void
drop_cache (int fd, gboolean direct)
{
  /* Without O_DIRECT, drop the file's clean pages so reads go to the disk. */
  if (!direct)
    prima_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED);
}

static void
measure_disk (const prima_profile_options *opt, prima_profile *p, int step, int n_steps)
{
  struct stat st;
  char *dir = NULL, *tmpl = NULL;
  int fd = -1;
  gboolean direct = TRUE, temp = FALSE;
  guint64 file_bytes = 0;
  void *buf = NULL;
  GRand *rng = g_rand_new_with_seed (7);
  double start = now_s (), t0, deadline;
  guint64 done = 0;
  int n_rnd = MAX (1, MIN (p->n_threads, 8));

  p->disk_seq_block = DISK_SEQ_BLOCK;
  p->disk_rnd_block = MAX ((size_t) p->page_size, (size_t) DISK_ALIGN);
  /* The model itself when it is large enough to time: no write needed, and
   * it is exactly what will be read. */
  if (opt->model_path && stat (opt->model_path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size >= (64 << 20)) {
    fd = open (opt->model_path, O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0 && errno == EINVAL) {
      direct = FALSE;
      fd = open (opt->model_path, O_RDONLY | O_CLOEXEC);
    }
    if (fd >= 0) {
      file_bytes = (guint64) st.st_size - (guint64) st.st_size % DISK_SEQ_BLOCK;
      g_strlcpy (p->disk_path, opt->model_path, sizeof p->disk_path);
    }
  }
  if (fd < 0) {
    int wfd;
    dir = opt->disk_dir ? g_strdup (opt->disk_dir) : opt->model_path ? g_path_get_dirname (opt->model_path)
        : g_strdup (".");
    tmpl = g_build_filename (dir, ".prima-profile-XXXXXX", NULL);
    wfd = mkostemp (tmpl, O_CLOEXEC);
    if (wfd < 0) {
      g_snprintf (p->disk_note, sizeof p->disk_note, "cannot create a test file in %s: %s", dir,
          g_strerror (errno));
      goto out;
    }
    fd = open (tmpl, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
      /* tmpfs and some FUSE file systems refuse O_DIRECT. */
      direct = FALSE;
      fd = wfd;
    } else {
      close (wfd);
    }
    /* Gone from the folder at once; the descriptor keeps it until we close it. */
    unlink (tmpl);
    temp = TRUE;
    report (opt, step, n_steps, "disk: writing a %.0f MiB test file in %s", opt->disk_bytes / MIB, dir);
    file_bytes = write_test_file (fd, opt->disk_bytes, rng);
    if (file_bytes < (guint64) 8 * DISK_SEQ_BLOCK) {
      g_snprintf (p->disk_note, sizeof p->disk_note, "cannot write a test file in %s: %s", dir,
          g_strerror (errno ? errno : ENOSPC));
      goto out;
    }
    g_strlcpy (p->disk_path, dir, sizeof p->disk_path);
  }
  p->disk_direct = direct;
  p->disk_file_bytes = file_bytes;
  if (posix_memalign (&buf, DISK_ALIGN, DISK_SEQ_BLOCK) != 0)
    goto out;

  /* Sequential: one stream of 1 MiB reads from the start, as `dd bs=1M iflag=direct`. */
  drop_cache (fd, direct);
  prima_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  t0 = now_s ();
  deadline = t0 + opt->disk_seconds;
  while (done < file_bytes && (done < (guint64) 8 * DISK_SEQ_BLOCK || now_s () < deadline)) {
    ssize_t got = pread (fd, buf, DISK_SEQ_BLOCK, (off_t) done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      break;
    done += (guint64) got;
  }
  if (done == 0) {
    g_snprintf (p->disk_note, sizeof p->disk_note, "reading %s failed: %s", p->disk_path, g_strerror (errno));
    goto out;
  }
  p->disk_seq_read = done / (now_s () - t0);
  report (opt, step, n_steps, "disk: sequential read %.2f GB/s (%.0f MiB in 1 MiB blocks%s)",
      p->disk_seq_read / 1e9, done / MIB, direct ? ", O_DIRECT" : "");

  /* Random: page-sized reads at random offsets, one outstanding per thread,
   * as page faults on a mapped model that does not fit. */
  {
    rnd_reader r[8];
    GThread *th[8];
    guint64 total = 0;
    drop_cache (fd, direct);
    prima_fadvise (fd, 0, 0, POSIX_FADV_RANDOM);
    t0 = now_s ();
    for (int i = 0; i < n_rnd; i++) {
      r[i] = (rnd_reader) { fd, file_bytes / p->disk_rnd_block, p->disk_rnd_block, t0 + opt->disk_seconds,
        (guint32) (1000 + i), 0, 0 };
      th[i] = g_thread_new ("prima-disk", rnd_read_thread, &r[i]);
    }
    for (int i = 0; i < n_rnd; i++) {
      g_thread_join (th[i]);
      total += r[i].bytes;
    }
    if (total == 0) {
      g_snprintf (p->disk_note, sizeof p->disk_note, "random reads of %s failed: %s", p->disk_path,
          g_strerror (r[0].err));
      goto out;
    }
    p->disk_rnd_read = total / (now_s () - t0);
    p->disk_rnd_threads = n_rnd;
  }
  p->disk_measured = TRUE;
  g_snprintf (p->disk_note, sizeof p->disk_note, "%s%s, %s", temp ? "temporary file in " : "", p->disk_path,
      direct ? "O_DIRECT" : "no O_DIRECT on this file system: page cache dropped (fadvise)");
  report (opt, step, n_steps, "disk: random read %.2f GB/s (%zu KiB blocks, %d thread%s)", p->disk_rnd_read / 1e9,
      p->disk_rnd_block / 1024, n_rnd, n_rnd == 1 ? "" : "s");
out:
  if (fd >= 0)
    close (fd);
  free (buf);
  g_rand_free (rng);
  g_free (dir);
  g_free (tmpl);
  p->t_disk = now_s () - start;
}

/* ---- the rest of the device ---- */

static void
read_system (const prima_profile_options *opt, prima_profile *p)
{
  struct utsname u;
  char *path, *text = NULL;

  g_strlcpy (p->name, g_get_host_name (), sizeof p->name);
#ifdef __APPLE__
  p->os = HALDA_OS_MACOS;
#else
  {
    char *prop = rooted (opt->root, "/system/build.prop");
    p->os = g_getenv ("ANDROID_ROOT") || g_file_test (prop, G_FILE_TEST_EXISTS) ? HALDA_OS_ANDROID : HALDA_OS_LINUX;
    g_free (prop);
  }
#endif
  if (uname (&u) == 0)
    g_snprintf (p->os_detail, sizeof p->os_detail, "%s %s %s", u.sysname, u.release, u.machine);
  p->page_size = sysconf (_SC_PAGESIZE);
  g_strlcpy (p->cpu_model, "unknown", sizeof p->cpu_model);
  path = rooted (opt->root, "/proc/cpuinfo");
  if (g_file_get_contents (path, &text, NULL, NULL)) {
    /* x86: "model name"; ARM: "Hardware" or "Model". */
    const char *keys[] = { "model name", "Hardware", "Model" };
    for (guint k = 0; k < G_N_ELEMENTS (keys); k++) {
      char *at = strstr (text, keys[k]), *colon, *end;
      if (at == NULL || (at != text && at[-1] != '\n') || !(colon = strchr (at, ':')))
        continue;
      end = strchr (colon, '\n');
      if (end)
        *end = '\0';
      g_strlcpy (p->cpu_model, g_strstrip (colon + 1), sizeof p->cpu_model);
      break;
    }
  }
  g_free (text);
  g_free (path);
#if defined(__aarch64__) || defined(__arm__)
  /* ARM's /proc/cpuinfo names the SoC at most ("Hardware", 32-bit kernels): name the cores from their
   * part numbers, the clusters as they are ("Cortex-A55 + Cortex-A76") */
  {
    prima_cpu_topology t;
    prima_cpu_topology_read (opt->root, &t);
    if (t.model[0] && (strcmp (p->cpu_model, "unknown") == 0 || t.n_clusters > 1))
      g_strlcpy (p->cpu_model, t.model, sizeof p->cpu_model);
  }
#endif
}

static const char *
pci_vendor_name (guint vendor)
{
  switch (vendor) {
    case 0x10de: return "NVIDIA";
    case 0x1002: return "AMD";
    case 0x8086: return "Intel";
    case 0x13b5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x1af4: return "virtio (virtual)";
    case 0x1234: return "QEMU (virtual)";
    case 0x15ad: return "VMware (virtual)";
    case 0x1b36: return "Red Hat (virtual)";
    default: return "unknown vendor";
  }
}

/* Display controllers on the PCI bus, for people: no GPU backend exists
 * yet, so the scheduler is told "none" whatever is found. */
static void
read_gpu (const prima_profile_options *opt, prima_profile *p)
{
  char *base = rooted (opt->root, "/sys/bus/pci/devices");
  GDir *d = g_dir_open (base, 0, NULL);
  GString *s = g_string_new (NULL);
  const char *entry;

  p->gpu = HALDA_GPU_NONE;
  p->vram_avail = 0;
  while (d && (entry = g_dir_read_name (d))) {
    char *fc = g_build_filename (base, entry, "class", NULL), *fv = g_build_filename (base, entry, "vendor", NULL);
    char *fd = g_build_filename (base, entry, "device", NULL);
    char *c = NULL, *v = NULL, *dv = NULL;
    if (g_file_get_contents (fc, &c, NULL, NULL) && g_file_get_contents (fv, &v, NULL, NULL)
        && (g_ascii_strtoull (c, NULL, 16) >> 16) == 0x03) {
      guint vendor = (guint) g_ascii_strtoull (v, NULL, 16), device = 0;
      if (g_file_get_contents (fd, &dv, NULL, NULL))
        device = (guint) g_ascii_strtoull (dv, NULL, 16);
      g_string_append_printf (s, "%s%s %04x:%04x at %s", s->len ? "; " : "", pci_vendor_name (vendor), vendor,
          device, entry);
    }
    g_free (c);
    g_free (v);
    g_free (dv);
    g_free (fc);
    g_free (fv);
    g_free (fd);
  }
  if (d)
    g_dir_close (d);
  g_snprintf (p->gpu_hardware, sizeof p->gpu_hardware, "%s", s->len ? s->str : "no display controller found");
  g_string_free (s, TRUE);
  g_free (base);
}

gboolean
prima_profile_measure (const prima_profile_options *opt_in, prima_profile *p, GError **error)
{
  prima_profile_options opt = *opt_in;
  gboolean any = FALSE;
  int n_types = 0, n_steps, step = 0;
  double start = now_s ();

  memset (p, 0, sizeof *p);
  p->net_latency = -1;
  p->net_bandwidth = -1;
  if (opt.matvec_seconds <= 0)
    opt.matvec_seconds = 0.1;
  if (opt.cpu_budget_seconds <= 0)
    opt.cpu_budget_seconds = 4.0;
  if (opt.disk_seconds <= 0)
    opt.disk_seconds = 0.5;
  if (opt.layer_seconds <= 0)
    opt.layer_seconds = 0.3;
  if (opt.membw_bytes == 0)
    opt.membw_bytes = (size_t) 128 << 20;
  if (opt.disk_bytes == 0)
    opt.disk_bytes = (size_t) 256 << 20;
  if (opt.matvec_bytes == 0)
    opt.matvec_bytes = default_matvec_bytes ();
#if defined(__aarch64__) || defined(__arm__)
  /* big.LITTLE: the forward pass's own default (prima_cpu_default_threads), without the little cores */
  p->n_threads = opt.n_threads > 0 ? opt.n_threads : prima_cpu_default_threads ();
#else
  p->n_threads = opt.n_threads > 0 ? opt.n_threads : (int) MAX (1, sysconf (_SC_NPROCESSORS_ONLN));
#endif
  p->kernels = prima_isa_name (prima_active_isa ());
  for (int t = 0; t < PRIMA_TYPE_COUNT; t++)
    any |= opt.types[t];
  for (int t = 0; t < PRIMA_TYPE_COUNT; t++) {
    opt.types[t] = (any ? opt.types[t] : TRUE) && prima_profile_type_supported (t);
    n_types += opt.types[t];
  }
  if (opt.skip_cpu)
    n_types = 0;
  n_steps = 2 + n_types + (n_types > 0 && !opt.skip_layer && opt.model_path) + !opt.skip_memory_bandwidth
      + (opt.skip_disk ? 0 : 1);

  read_system (&opt, p);
  read_gpu (&opt, p);
  if (!prima_profile_read_memory (opt.root, &p->mem, error))
    return FALSE;
  report (&opt, ++step, n_steps, "memory: %.2f GiB available of %.2f GiB%s", p->mem.available / GIB,
      p->mem.total / GIB, p->mem.cgroup_limit != G_MAXUINT64 ? " (cgroup limit)" : "");
  if (prima_profile_read_cpu_limit (opt.root, &p->cpu_limit))
    report (&opt, ++step, n_steps, "CPU quota: %.2f cores (%.0f us per %.0f us period, %s); %d threads",
        p->cpu_limit.cores, p->cpu_limit.quota * 1e6, p->cpu_limit.period * 1e6, p->cpu_limit.path, p->n_threads);
  else
    report (&opt, ++step, n_steps, "CPU quota: none; %d threads", p->n_threads);

  if (n_types > 0) {
    prima_threadpool *pool = prima_threadpool_new (p->n_threads);
    /* Never more than a quarter of what is free. */
    size_t bytes = MIN (opt.matvec_bytes, MAX ((size_t) 4 << 20, (size_t) (p->mem.available / 4)));
    int max_rows = 1, max_cols = 1;
    uint8_t *buf;
    float *x, *y;
    void *xq;
    GRand *rng = g_rand_new_with_seed (20260601);
    double t0 = now_s ();
    for (int t = 0; t < PRIMA_TYPE_COUNT; t++) {
      if (!opt.types[t])
        continue;
      /* The model's shape for this type, or an 8B-class 4096 x 4096 matrix. */
      p->shape_cols[t] = opt.shape_cols[t] > 0 && prima_row_size (t, opt.shape_cols[t]) > 0 ? opt.shape_cols[t]
          : MATVEC_COLS;
      p->shape_rows[t] = (int) MIN ((size_t) (opt.shape_rows[t] > 0 ? opt.shape_rows[t] : MATVEC_COLS),
          bytes / prima_row_size (t, p->shape_cols[t]));
      max_rows = MAX (max_rows, p->shape_rows[t]);
      max_cols = MAX (max_cols, p->shape_cols[t]);
    }
    buf = g_malloc (bytes);
    x = g_new (float, max_cols);
    y = g_new (float, max_rows);
    xq = g_malloc ((size_t) max_cols * sizeof (float) + 1024);
    for (int i = 0; i < max_cols; i++)
      x[i] = (float) g_rand_double_range (rng, -1.0, 1.0);
    fill_random (buf, bytes, rng);
    p->matvec_bytes = bytes;
    for (int t = 0, done = 0; t < PRIMA_TYPE_COUNT; t++) {
      double share;
      if (!opt.types[t])
        continue;
      /* A loaded machine makes every pass slower: the types share a budget
       * so that the whole profile stays within its few seconds. */
      share = (t0 + opt.cpu_budget_seconds - now_s ()) / (n_types - done++);
      share = MAX (0.0, share);         /* (MAX evaluates its arguments twice) */
      p->cpu_flops[t] = measure_type (pool, p, t, p->shape_rows[t], p->shape_cols[t], buf, bytes, y, x, xq,
          MIN (opt.matvec_seconds, share), &p->cpu_bytes_per_s[t], &p->shape_count[t]);
      report (&opt, ++step, n_steps, "CPU %-7s %8.2f GFLOP/s (%5.2f GB/s of weights, %d x %d, activations %s)",
          prima_type_name (t), p->cpu_flops[t] / 1e9, p->cpu_bytes_per_s[t] / 1e9, p->shape_rows[t],
          p->shape_cols[t], prima_type_name (prima_type_get_traits (t)->vec_dot_type));
    }
    p->t_cpu = now_s () - t0;
    g_rand_free (rng);
    g_free (xq);
    g_free (x);
    g_free (y);
    g_free (buf);
    prima_threadpool_free (pool);
    if (!opt.skip_layer && opt.model_path) {
      t0 = now_s ();
      measure_layers (&opt, p);
      p->t_layer = now_s () - t0;
      if (p->layer_count > 0)
        report (&opt, ++step, n_steps, "decode layer: %.3f ms, of which products %.3f ms: overhead %.3f ms per layer "
            "(%s, %.2f CPUs busy)", p->layer_time * 1e3, p->layer_matvec_time * 1e3, p->layer_overhead * 1e3,
            p->layer_note, p->cpu_busy);
      else
        report (&opt, ++step, n_steps, "decode layer: not measured: %s", p->layer_note);
    }
  } else {
    g_strlcpy (p->layer_note, "skipped", sizeof p->layer_note);
  }

  if (!opt.skip_memory_bandwidth) {
    size_t bytes = MIN (opt.membw_bytes, MAX ((size_t) 16 << 20, (size_t) (p->mem.available / 4)));
    double t0 = now_s ();
    p->mem_read_bw = prima_measure_read_bandwidth (p->n_threads, bytes);
    p->t_membw = now_s () - t0;
    report (&opt, ++step, n_steps, "memory read bandwidth %.2f GB/s (%d threads, %.0f MiB)", p->mem_read_bw / 1e9,
        p->n_threads, bytes / MIB);
  }

  if (!opt.skip_disk) {
    measure_disk (&opt, p, ++step, n_steps);
    if (!p->disk_measured)
      report (&opt, step, n_steps, "disk: not measured: %s", p->disk_note);
  } else {
    g_strlcpy (p->disk_note, "skipped", sizeof p->disk_note);
  }
  p->t_total = now_s () - start;
  return TRUE;
}

/* ---- network ---- */

void
prima_profile_set_network (prima_profile *p, double latency_s, double bandwidth_bytes_s)
{
  p->net_latency = MAX (0.0, latency_s);
  p->net_bandwidth = MAX (0.0, bandwidth_bytes_s);
}

gboolean
prima_profile_fit_network (const double *bytes, const double *rtt, int n, double *latency, double *bandwidth)
{
  double mx = 0, my = 0, sxx = 0, sxy = 0, min_rtt = G_MAXDOUBLE, slope, icept;
  *latency = 0;
  *bandwidth = 0;
  if (n <= 0)
    return FALSE;
  for (int i = 0; i < n; i++) {
    mx += bytes[i] / n;
    my += rtt[i] / n;
    min_rtt = MIN (min_rtt, rtt[i]);
  }
  for (int i = 0; i < n; i++) {
    sxx += (bytes[i] - mx) * (bytes[i] - mx);
    sxy += (bytes[i] - mx) * (rtt[i] - my);
  }
  *latency = min_rtt / 2;
  if (n < 2 || sxx <= 0 || sxy <= 0)
    return FALSE;
  slope = sxy / sxx;
  icept = my - slope * mx;
  *latency = MAX (0.0, icept / 2);
  *bandwidth = 1.0 / slope;
  return TRUE;
}

/* ---- output ---- */

/* Numbers rounded to what is meaningful, so the JSON stays readable. */
static double
round_to (double v, double unit)
{
  return round (v / unit) * unit;
}

static char *
cgroup_text (const prima_profile_memory *m)
{
  if (m->cgroup_version == 0)
    return g_strdup ("no memory cgroup");
  if (m->cgroup_limit == G_MAXUINT64)
    return g_strdup_printf ("v%d %s: no limit", m->cgroup_version, m->cgroup_path);
  return g_strdup_printf ("v%d %s: limit %.2f GiB, usage %.2f GiB (%.2f GiB reclaimable cache)", m->cgroup_version,
      m->cgroup_path, m->cgroup_limit / GIB, m->cgroup_usage / GIB, m->cgroup_reclaimable / GIB);
}

JsonNode *
prima_profile_to_json (const prima_profile *p, gboolean is_head)
{
  JsonBuilder *b = json_builder_new ();
  JsonNode *root;
  char *cg = cgroup_text (&p->mem), *text;

#define MEMBER(k) json_builder_set_member_name (b, k)
  json_builder_begin_object (b);
  MEMBER ("name");
  json_builder_add_string_value (b, p->name);
  MEMBER ("head");
  json_builder_add_boolean_value (b, is_head);
  MEMBER ("os");
  json_builder_add_string_value (b, halda_os_name (p->os));
  MEMBER ("ram_available_gib");
  json_builder_add_double_value (b, round_to (p->mem.available / GIB, 1e-3));
  MEMBER ("swap_available_gib");
  json_builder_add_double_value (b, round_to (p->mem.swap_available / GIB, 1e-3));
  if (p->disk_measured) {
    MEMBER ("disk_seq_read_gb_s");
    json_builder_add_double_value (b, round_to (p->disk_seq_read / 1e9, 1e-4));
    MEMBER ("disk_rnd_read_gb_s");
    json_builder_add_double_value (b, round_to (p->disk_rnd_read / 1e9, 1e-4));
  }
  MEMBER ("cpu_gflops");
  json_builder_begin_object (b);
  for (int t = 0; t < PRIMA_TYPE_COUNT; t++)
    if (p->cpu_flops[t] > 0 && isfinite (p->cpu_flops[t])) {
      MEMBER (prima_type_name (t));
      json_builder_add_double_value (b, round_to (p->cpu_flops[t] / 1e9, 1e-3));
    }
  json_builder_end_object (b);
  /* What the solver needs to apply a CPU quota and the per-layer overhead. */
  MEMBER ("cpu_threads");
  json_builder_add_int_value (b, p->n_threads);
  if (p->cpu_limit.cores > 0) {
    MEMBER ("cpu_quota_cores");
    json_builder_add_double_value (b, round_to (p->cpu_limit.cores, 1e-4));
    MEMBER ("cpu_quota_period_ms");
    json_builder_add_double_value (b, round_to (p->cpu_limit.period * 1e3, 1e-3));
  }
  if (p->layer_count > 0) {
    MEMBER ("cpu_layer_overhead_ms");
    json_builder_add_double_value (b, round_to (p->layer_overhead * 1e3, 1e-4));
    MEMBER ("cpu_window_spin_ms");
    json_builder_add_double_value (b, round_to (p->cpu_tail * 1e3, 1e-4));
  }
  MEMBER ("gpu");
  json_builder_add_string_value (b, halda_gpu_name (p->gpu));
  MEMBER ("vram_available_gib");
  json_builder_add_double_value (b, round_to (p->vram_avail / GIB, 1e-3));
  /* The hop is measured by the ring: until then the solver sees no network
   * field (no cost) and people see why. */
  if (p->net_latency >= 0) {
    MEMBER ("net_latency_ms");
    json_builder_add_double_value (b, round_to (p->net_latency * 1e3, 1e-4));
    MEMBER ("net_bandwidth_mb_s");
    json_builder_add_double_value (b, round_to (p->net_bandwidth / 1e6, 1e-3));
  } else {
    MEMBER ("_net_latency_ms");
    json_builder_add_string_value (b, "not measured");
    MEMBER ("_net_bandwidth_mb_s");
    json_builder_add_string_value (b, "not measured");
  }
  /* For people; the solver ignores '_' fields. */
  MEMBER ("_os_detail");
  json_builder_add_string_value (b, p->os_detail);
  MEMBER ("_cpu");
  json_builder_add_string_value (b, p->cpu_model);
  MEMBER ("_cpu_quota");
  if (p->cpu_limit.cores > 0)
    text = g_strdup_printf ("v%d %s: %.0f us per %.0f us", p->cpu_limit.version, p->cpu_limit.path,
        p->cpu_limit.quota * 1e6, p->cpu_limit.period * 1e6);
  else
    text = g_strdup (p->cpu_limit.version ? "no limit" : "no cpu cgroup");
  json_builder_add_string_value (b, text);
  g_free (text);
  MEMBER ("_layer_test");
  if (p->layer_count > 0)
    text = g_strdup_printf ("%s: %.4f ms per layer, its products %.4f ms at the rates above, %.2f CPUs busy, "
        "%.3f ms of CPU after each", p->layer_note, p->layer_time * 1e3, p->layer_matvec_time * 1e3, p->cpu_busy,
        p->cpu_tail * 1e3);
  else
    text = g_strdup_printf ("not measured: %s", p->layer_note[0] ? p->layer_note : "no model");
  json_builder_add_string_value (b, text);
  g_free (text);
  MEMBER ("_timed_passes");
  text = g_strdup_printf ("%d kept, %d throttled by the CPU quota (left out)", p->passes_kept, p->passes_throttled);
  json_builder_add_string_value (b, text);
  g_free (text);
  MEMBER ("_kernels");
  json_builder_add_string_value (b, p->kernels ? p->kernels : "");
  MEMBER ("_page_size");
  json_builder_add_int_value (b, p->page_size);
  MEMBER ("_ram_total_gib");
  json_builder_add_double_value (b, round_to (p->mem.total / GIB, 1e-3));
  MEMBER ("_swap_total_gib");
  json_builder_add_double_value (b, round_to (p->mem.swap_total / GIB, 1e-3));
  MEMBER ("_cgroup");
  json_builder_add_string_value (b, cg);
  MEMBER ("_mem_read_bw_gb_s");
  json_builder_add_double_value (b, round_to (p->mem_read_bw / 1e9, 1e-3));
  MEMBER ("_disk");
  if (p->disk_measured)
    text = g_strdup_printf ("%s; %zu KiB sequential reads, %zu KiB random reads x %d threads", p->disk_note,
        p->disk_seq_block / 1024, p->disk_rnd_block / 1024, p->disk_rnd_threads);
  else
    text = g_strdup_printf ("not measured: %s", p->disk_note);
  json_builder_add_string_value (b, text);
  g_free (text);
  MEMBER ("_gpu_hardware");
  text = g_strdup_printf ("%s (no GPU backend yet)", p->gpu_hardware);
  json_builder_add_string_value (b, text);
  g_free (text);
  MEMBER ("_profile_seconds");
  json_builder_add_double_value (b, round_to (p->t_total, 1e-3));
  json_builder_end_object (b);
#undef MEMBER
  root = json_builder_get_root (b);
  g_object_unref (b);
  g_free (cg);
  return root;
}

/* json-glib writes doubles with 17 digits (22.696000000000002); people
 * read these files, so numbers go out with 10 significant digits, which
 * keeps every value we round above exact. */
static void
append_json (GString *s, JsonNode *node, int depth)
{
  if (JSON_NODE_HOLDS_OBJECT (node) || JSON_NODE_HOLDS_ARRAY (node)) {
    gboolean obj = JSON_NODE_HOLDS_OBJECT (node);
    GList *items = obj ? json_object_get_members (json_node_get_object (node))
        : json_array_get_elements (json_node_get_array (node));
    g_string_append_c (s, obj ? '{' : '[');
    for (GList *l = items; l; l = l->next) {
      JsonNode *child = obj ? json_object_get_member (json_node_get_object (node), l->data) : l->data;
      g_string_append_printf (s, "%s\n%*s", l == items ? "" : ",", 2 * (depth + 1), "");
      if (obj) {
        JsonNode *key = json_node_init_string (json_node_alloc (), l->data);
        char *k = json_to_string (key, FALSE);
        g_string_append_printf (s, "%s: ", k);
        g_free (k);
        json_node_unref (key);
      }
      append_json (s, child, depth + 1);
    }
    if (items)
      g_string_append_printf (s, "\n%*s", 2 * depth, "");
    g_string_append_c (s, obj ? '}' : ']');
    g_list_free (items);
  } else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE) {
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.10g", json_node_get_double (node)));
  } else {
    char *v = json_to_string (node, FALSE);
    g_string_append (s, v);
    g_free (v);
  }
}

char *
prima_profile_json_text (JsonNode *node)
{
  GString *s = g_string_new (NULL);
  append_json (s, node, 0);
  g_string_append_c (s, '\n');
  return g_string_free (s, FALSE);
}

void
prima_profile_to_halda (const prima_profile *p, gboolean is_head, halda_device *d)
{
  halda_device_init (d);
  g_strlcpy (d->name, p->name, sizeof d->name);
  d->os = p->os;
  d->is_head = is_head;
  d->ram_avail = p->mem.available;
  d->swap_avail = p->mem.swap_available;
  if (p->disk_measured) {
    d->disk_seq_read = p->disk_seq_read;
    d->disk_rnd_read = p->disk_rnd_read;
  }
  for (int t = 0; t < PRIMA_TYPE_COUNT; t++)
    d->cpu_flops[t] = p->cpu_flops[t];
  d->cpu_threads = p->n_threads;
  d->cpu_quota = p->cpu_limit.cores;
  d->cpu_period = p->cpu_limit.cores > 0 ? p->cpu_limit.period : 0;
  if (p->layer_count > 0) {
    d->cpu_layer_overhead = p->layer_overhead;
    d->cpu_window_spin = p->cpu_tail;
  }
  d->gpu = p->gpu;
  d->vram_avail = p->vram_avail;
  if (p->net_latency >= 0) {
    d->net_latency = p->net_latency;
    d->net_bandwidth = p->net_bandwidth;
  }
}

void
prima_profile_print (FILE *out, const prima_profile *p)
{
  char *cg = cgroup_text (&p->mem);

  fprintf (out, "%-13s %s (%s, %s)\n", "device", p->name, halda_os_name (p->os), p->os_detail);
  fprintf (out, "%-13s %s, %d threads, kernels %s\n", "CPU", p->cpu_model, p->n_threads, p->kernels);
  if (p->cpu_limit.cores > 0)
    fprintf (out, "%-13s %.2f cores (%.0f us per %.0f us period, v%d %s)\n", "CPU quota", p->cpu_limit.cores,
        p->cpu_limit.quota * 1e6, p->cpu_limit.period * 1e6, p->cpu_limit.version, p->cpu_limit.path);
  else
    fprintf (out, "%-13s none\n", "CPU quota");
  fprintf (out, "%-13s %.2f GiB total, %.2f GiB available\n", "memory", p->mem.total / GIB, p->mem.available / GIB);
  fprintf (out, "%-13s %s\n", "cgroup", cg);
  fprintf (out, "%-13s %.2f GiB free of %.2f GiB, %.2f GiB usable\n", "swap", p->mem.swap_free / GIB,
      p->mem.swap_total / GIB, p->mem.swap_available / GIB);
  fprintf (out, "%-13s %ld bytes\n", "page size", p->page_size);
  if (p->mem_read_bw > 0)
    fprintf (out, "%-13s %.2f GB/s (%d threads)\n", "memory read", p->mem_read_bw / 1e9, p->n_threads);
  else
    fprintf (out, "%-13s not measured\n", "memory read");
  if (p->disk_measured) {
    fprintf (out, "%-13s sequential %.3f GB/s (%zu KiB reads), random %.3f GB/s (%zu KiB reads, %d thread%s)\n",
        "disk read", p->disk_seq_read / 1e9, p->disk_seq_block / 1024, p->disk_rnd_read / 1e9,
        p->disk_rnd_block / 1024, p->disk_rnd_threads, p->disk_rnd_threads == 1 ? "" : "s");
    fprintf (out, "%-13s %s\n", "", p->disk_note);
  } else {
    fprintf (out, "%-13s not measured (%s)\n", "disk read", p->disk_note);
  }
  fprintf (out, "%-13s %s, %.2f GiB VRAM free (no GPU backend yet; hardware: %s)\n", "GPU", halda_gpu_name (p->gpu),
      p->vram_avail / GIB, p->gpu_hardware);
  if (p->net_latency >= 0)
    fprintf (out, "%-13s %.3f ms latency, %.1f MB/s to the next device\n", "network", p->net_latency * 1e3,
        p->net_bandwidth / 1e6);
  else
    fprintf (out, "%-13s not measured (the ring measures the hop to the next device)\n", "network");
  if (p->matvec_bytes > 0) {
    fprintf (out, "\nCPU throughput: y = W x for each of the matrices that fill %.0f MiB, one after the other,\n"
        "x converted to the activation type before each\n", p->matvec_bytes / MIB);
    fprintf (out, "  %-8s %10s %14s %13s  %s\n", "type", "GFLOP/s", "weights GB/s", "W rows x cols", "activations");
    for (int t = 0; t < PRIMA_TYPE_COUNT; t++)
      if (p->cpu_flops[t] > 0)
        fprintf (out, "  %-8s %10.2f %14.2f %6d x %-6d  %s\n", prima_type_name (t), p->cpu_flops[t] / 1e9,
            p->cpu_bytes_per_s[t] / 1e9, p->shape_rows[t], p->shape_cols[t],
            prima_type_name (prima_type_get_traits (t)->vec_dot_type));
  }
  if (p->layer_count > 0)
    fprintf (out, "\ndecode layer (%s): %.3f ms per layer, its products %.3f ms at these rates: overhead %.3f ms per "
        "layer (%.2f CPUs busy)\n", p->layer_note, p->layer_time * 1e3, p->layer_matvec_time * 1e3,
        p->layer_overhead * 1e3, p->cpu_busy);
  else
    fprintf (out, "\ndecode layer: not measured (%s)\n", p->layer_note[0] ? p->layer_note : "no model");
  fprintf (out, "timed passes: %d kept, %d throttled by the CPU quota (left out)\n", p->passes_kept,
      p->passes_throttled);
  fprintf (out, "\nprofiled in %.2f s (CPU %.2f s, layers %.2f s, memory %.2f s, disk %.2f s)\n", p->t_total, p->t_cpu,
      p->t_layer, p->t_membw, p->t_disk);
  g_free (cg);
}
