/* gst-prima: the llama/qwen2 forward pass over a window of layers.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The numerics follow the reference where it rounds: activations are quantized
 * to the weight type's vec_dot_type before each matrix product, queries and
 * attention probabilities are rounded to F16 against the F16 KV cache, norms
 * and softmax sums accumulate in double. */
#include "forward.h"
#include "threadpool.h"
#include "fp16.h"
#include "attention.h"
#include "memstat.h"
#include "cpu-topology.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <stdatomic.h>
#include <unistd.h>
#include <sys/mman.h>
#include <dlfcn.h>
#include <time.h>

G_DEFINE_QUARK (prima-context-error-quark, prima_context_error)

#define MAX_MATMUL_JOBS 3
#define MATMUL_MAX_THREADS 64
/* Matmul rows are claimed in chunks; with many chunks per thread the last
 * one, which a thread finishes alone while the others wait, stays short. */
#define PRIMA_CHUNKS_PER_THREAD 16
#define MATMUL_PREFETCH_ROWS 2
#define MATMUL_PREFETCH_LINES 4
/* Bytes of the next matrix product's weights that a worker loads, at the
 * start of its share and of the caller's, once its share of a decode matrix
 * product is done (see next_matmul). */
#define MATMUL_NEXT_PREFETCH_BYTES (128 << 10)



/* The KV cache of one sequence, one pair per layer of the window, F16: K as
 * [n_ctx][n_kv_dim]; V per chunk of PRIMA_ATTN_CHUNK cells, [chunk][n_kv_dim]
 * [cell in chunk] (prima_attn_v_index), so that probabilities times V is
 * one F16 dot product per output dimension and chunk, as in the reference,
 * and one chunk's K and V are two contiguous blocks that attention reads
 * whole, in order.
 * Cells are position-tagged (llama.cpp's cells): cell i holds position
 * cell_pos[i]; cells 0 .. n_cells-1 are used. Evaluating appends, removing
 * compacts, shifting re-tags and re-rotates the keys. */
typedef struct {
  prima_fp16 **k_cache, **v_cache;
  int *cell_pos;
  int n_cells;
} kv_seq;

struct prima_context {
  const prima_model *model;
  prima_hparams hp;
  int first, last;
  gboolean early_head;           /* the output head after last < n_layer (a self-draft) */
  int n_ctx, n_batch;
  int n_kv_dim;                 /* n_head_kv * head_dim */
  prima_threadpool *pool;
  guint64 n_evaluated;

  /* One cache per sequence; each token of a chunk has its sequence, position
   * and cell (n_batch each). */
  kv_seq *seqs;
  int n_seq;
  int *tok_seq, *tok_pos, *tok_cell;
  int *head_rows;               /* the chunk's tokens that get logits */

  /* Scratch for n_batch tokens. */
  float *x, *cur, *q, *k, *v, *attn, *gate, *up;
  /* Quantized activations, two slots: weights that share an input may want
   * different activation types (Q4_K and Q6_K in one Q4_K_M layer's q/k/v). */
  void *xq[2];
  size_t xq_stride;
  const void *xq_src[2];        /* what each slot holds, to quantize once per input and type */
  uint32_t xq_type[2];
  int xq_rows[2];
  /* Attention (attention.h): per thread, one chunk of the query heads of
   * some KV heads; the partial results of tokens with several chunks (up to
   * att_cap (token, KV head, chunk) slots per round) and per (token, KV
   * head) the count of its chunks done; per token of a round its first
   * work item and first slot. */
  int att_group, att_cap;
  float *att_scores;            /* per thread: n_head * PRIMA_ATTN_CHUNK */
  float *att_qf;                /* per thread: n_head * head_dim */
  prima_fp16 *att_q16;          /* the queries rounded to F16: n_batch * n_embd */
  prima_fp16 *att_p16;          /* per thread: n_head * PRIMA_ATTN_CHUNK */
  float *att_parts;             /* att_cap * group * head_dim */
  float *att_m;                 /* att_cap * group */
  double *att_s;                /* att_cap * group */
  atomic_int *att_done;         /* n_batch * n_head_kv */
  int *att_item0, *att_slot0;   /* n_batch + 1 */
  float *rope_freq_factors;     /* n_rot / 2 or NULL */
  float *rope_cs;               /* cos, sin pairs of one position: n_rot */

  prima_residency *residency;
  gboolean own_residency;

  /* The matrix product that follows the next one at decode (next_matmul). */
  const gguf_tensor *next_w[MAX_MATMUL_JOBS];
  int next_n_jobs;
  gboolean next_glu;

  gboolean profiling;
  prima_phase_times prof;
  guint64 prof_t;               /* when the current phase began */
};

/* Live contexts, for prima_context_memory_report. */
static GMutex live_lock;
static GList *live_contexts;

static int
online_cpus (void)
{
#if defined(__aarch64__) || defined(__arm__)
  /* big.LITTLE: a matrix-vector product waits for its slowest thread, so not the little cores */
  return prima_cpu_default_threads ();
#else
  long n = sysconf (_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int) n : 1;
#endif
}

/* KV blocks are anonymous mappings, not calloc: their pages are mapped only
 * when touched, so a large n_ctx, or a sequence never used, costs only what
 * is used (calloc would clear them itself under MALLOC_PERTURB_, and keeps a
 * header page resident per block). */
static size_t
kv_block_bytes (const prima_context *ctx, gboolean is_v)
{
  /* V in whole chunks */
  const int cells = is_v ? prima_attn_n_chunks (ctx->n_ctx, PRIMA_ATTN_CHUNK) * PRIMA_ATTN_CHUNK : ctx->n_ctx;
  return (size_t) cells * ctx->n_kv_dim * sizeof (prima_fp16);
}

static prima_fp16 *
kv_block_new (const prima_context *ctx, gboolean is_v)
{
  void *p = mmap (NULL, kv_block_bytes (ctx, is_v), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void
kv_block_free (const prima_context *ctx, prima_fp16 *p, gboolean is_v)
{
  if (p)
    munmap (p, kv_block_bytes (ctx, is_v));
}

prima_context *
prima_context_new (const prima_model *model, const prima_context_params *params, GError **error)
{
  prima_context *ctx;
  const prima_hparams *hp = &model->hp;
  prima_context_params p = params ? *params : (prima_context_params) { 0 };
  int n_threads;
  size_t n_wide;

  if (p.last_layer <= 0)
    p.last_layer = hp->n_layer;
  if (p.first_layer < 0 || p.first_layer >= p.last_layer || p.last_layer > hp->n_layer) {
    g_set_error (error, PRIMA_CONTEXT_ERROR, 0, "layer window [%d, %d) is not inside the model's %d layers",
        p.first_layer, p.last_layer, hp->n_layer);
    return NULL;
  }
  if (p.n_ctx <= 0)
    p.n_ctx = MIN (hp->n_ctx_train, 4096);
  if (p.n_batch <= 0)
    p.n_batch = 512;
  n_threads = p.n_threads > 0 ? p.n_threads : online_cpus ();

  ctx = g_new0 (prima_context, 1);
  ctx->model = model;
  ctx->hp = *hp;
  ctx->first = p.first_layer;
  ctx->last = p.last_layer;
  ctx->early_head = p.early_head && p.first_layer == 0;
  ctx->n_ctx = p.n_ctx;
  ctx->n_batch = p.n_batch;
  ctx->n_kv_dim = hp->n_head_kv * hp->head_dim;
  ctx->n_seq = p.n_seq > 0 ? p.n_seq : 1;

  ctx->seqs = g_new0 (kv_seq, ctx->n_seq);
  for (int s = 0; s < ctx->n_seq; s++) {
    kv_seq *sq = &ctx->seqs[s];
    sq->k_cache = g_new0 (prima_fp16 *, ctx->last - ctx->first);
    sq->v_cache = g_new0 (prima_fp16 *, ctx->last - ctx->first);
    sq->cell_pos = g_new (int, ctx->n_ctx);
    for (int i = 0; i < ctx->last - ctx->first; i++) {
      sq->k_cache[i] = kv_block_new (ctx, FALSE);
      sq->v_cache[i] = kv_block_new (ctx, TRUE);
      if (sq->k_cache[i] == NULL || sq->v_cache[i] == NULL) {
        g_set_error (error, PRIMA_CONTEXT_ERROR, 0, "cannot allocate the KV cache for %d sequences of %d positions",
            ctx->n_seq, ctx->n_ctx);
        prima_context_free (ctx);
        return NULL;
      }
    }
  }
  ctx->tok_seq = g_new (int, p.n_batch);
  ctx->tok_pos = g_new (int, p.n_batch);
  ctx->tok_cell = g_new (int, p.n_batch);
  ctx->head_rows = g_new (int, p.n_batch);

  n_wide = (size_t) MAX (hp->n_embd, hp->n_ff);
  ctx->x = g_new (float, (size_t) p.n_batch * hp->n_embd);
  ctx->cur = g_new (float, (size_t) p.n_batch * hp->n_embd);
  ctx->q = g_new (float, (size_t) p.n_batch * hp->n_embd);
  ctx->k = g_new (float, (size_t) p.n_batch * ctx->n_kv_dim);
  ctx->v = g_new (float, (size_t) p.n_batch * ctx->n_kv_dim);
  ctx->attn = g_new (float, (size_t) p.n_batch * hp->n_embd);
  ctx->gate = g_new (float, (size_t) p.n_batch * hp->n_ff);
  ctx->up = g_new (float, (size_t) p.n_batch * hp->n_ff);
  /* Any vec_dot_type row is at most as large as the f32 row. */
  ctx->xq_stride = (n_wide * sizeof (float) + 63) & ~(size_t) 63;
  ctx->xq[0] = g_malloc ((size_t) p.n_batch * ctx->xq_stride);
  /* xq[1] only when a model mixes activation types (prepare_input) */
  ctx->att_group = hp->n_head / hp->n_head_kv;
  /* room for two tokens of the full context */
  ctx->att_cap = 2 * hp->n_head_kv * prima_attn_n_chunks (ctx->n_ctx, PRIMA_ATTN_CHUNK);
  ctx->att_scores = g_new (float, (size_t) n_threads * hp->n_head * PRIMA_ATTN_CHUNK);
  ctx->att_qf = g_new (float, (size_t) n_threads * hp->n_head * hp->head_dim);
  ctx->att_q16 = g_new (prima_fp16, (size_t) p.n_batch * hp->n_embd);
  ctx->att_p16 = g_new (prima_fp16, (size_t) n_threads * hp->n_head * PRIMA_ATTN_CHUNK);
  ctx->att_parts = g_new (float, (size_t) ctx->att_cap * ctx->att_group * hp->head_dim);
  ctx->att_m = g_new (float, (size_t) ctx->att_cap * ctx->att_group);
  ctx->att_s = g_new (double, (size_t) ctx->att_cap * ctx->att_group);
  ctx->att_done = g_new0 (atomic_int, (size_t) p.n_batch * hp->n_head_kv);
  ctx->att_item0 = g_new (int, p.n_batch + 1);
  ctx->att_slot0 = g_new (int, p.n_batch + 1);
  if (model->rope_freqs) {
    ctx->rope_freq_factors = g_new (float, hp->n_rot / 2);
    memcpy (ctx->rope_freq_factors, model->rope_freqs->data, sizeof (float) * (hp->n_rot / 2));
  }
  ctx->rope_cs = g_new (float, hp->n_rot);
  ctx->pool = prima_threadpool_new (n_threads);
  if (p.residency) {
    ctx->residency = p.residency;
  } else {
    prima_residency_params rp = { .prefetch = p.prefetch, .release = p.release, .budget = p.weight_budget,
      .progress = p.progress, .progress_data = p.progress_data };
    ctx->residency = prima_residency_new (model, &rp);
    ctx->own_residency = TRUE;
    prima_residency_add_windows (ctx->residency, ctx->first, ctx->last, p.window_layers, TRUE);
  }
  g_mutex_lock (&live_lock);
  live_contexts = g_list_prepend (live_contexts, ctx);
  g_mutex_unlock (&live_lock);
  return ctx;
}

void
prima_context_free (prima_context *ctx)
{
  if (ctx == NULL)
    return;
  g_mutex_lock (&live_lock);
  live_contexts = g_list_remove (live_contexts, ctx);
  g_mutex_unlock (&live_lock);
  if (ctx->pool)
    prima_threadpool_free (ctx->pool);
  if (ctx->own_residency)
    prima_residency_free (ctx->residency);
  for (int s = 0; ctx->seqs && s < ctx->n_seq; s++) {
    kv_seq *sq = &ctx->seqs[s];
    for (int i = 0; sq->k_cache && i < ctx->last - ctx->first; i++) {
      kv_block_free (ctx, sq->k_cache[i], FALSE);
      kv_block_free (ctx, sq->v_cache[i], TRUE);
    }
    g_free (sq->k_cache);
    g_free (sq->v_cache);
    g_free (sq->cell_pos);
  }
  g_free (ctx->seqs);
  g_free (ctx->tok_seq);
  g_free (ctx->tok_pos);
  g_free (ctx->tok_cell);
  g_free (ctx->head_rows);
  g_free (ctx->x);
  g_free (ctx->cur);
  g_free (ctx->q);
  g_free (ctx->k);
  g_free (ctx->v);
  g_free (ctx->attn);
  g_free (ctx->gate);
  g_free (ctx->up);
  g_free (ctx->xq[0]);
  g_free (ctx->xq[1]);
  g_free (ctx->att_scores);
  g_free (ctx->att_qf);
  g_free (ctx->att_q16);
  g_free (ctx->att_p16);
  g_free (ctx->att_parts);
  g_free (ctx->att_m);
  g_free (ctx->att_s);
  g_free (ctx->att_done);
  g_free (ctx->att_item0);
  g_free (ctx->att_slot0);
  g_free (ctx->rope_freq_factors);
  g_free (ctx->rope_cs);
  g_free (ctx);
}

int
prima_context_n_ctx (const prima_context *ctx)
{
  return ctx->n_ctx;
}

int
prima_context_n_threads (const prima_context *ctx)
{
  return prima_threadpool_n_threads (ctx->pool);
}

gboolean
prima_context_has_embedding (const prima_context *ctx)
{
  return ctx->first == 0;
}

gboolean
prima_context_has_head (const prima_context *ctx)
{
  return ctx->last == ctx->hp.n_layer || ctx->early_head;
}

guint64
prima_context_n_evaluated (const prima_context *ctx)
{
  return ctx->n_evaluated;
}

prima_residency *
prima_context_residency (const prima_context *ctx)
{
  return ctx->residency;
}

void
prima_context_kv_bytes (const prima_context *ctx, guint64 *allocated, guint64 *resident)
{
  const size_t kb = kv_block_bytes (ctx, FALSE), vb = kv_block_bytes (ctx, TRUE);
  guint64 res = 0;
  for (int s = 0; s < ctx->n_seq; s++)
    for (int i = 0; i < ctx->last - ctx->first; i++)
      res += MIN (prima_memstat_resident (ctx->seqs[s].k_cache[i], kb), kb)
          + MIN (prima_memstat_resident (ctx->seqs[s].v_cache[i], vb), vb);
  if (allocated)
    *allocated = (guint64) (kb + vb) * (ctx->last - ctx->first) * ctx->n_seq;
  if (resident)
    *resident = res;
}

static gint
compare_gint64 (gconstpointer a, gconstpointer b)
{
  const gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

void
prima_context_memory_report (GString *out)
{
  prima_memstat ms;
  prima_memwatch w;
  const double mib = 1048576.0;
  guint64 total_resident = 0;
  g_mutex_lock (&live_lock);
  /* one report per residency engine: a ring device's windows share one */
  GList *seen = NULL;
  for (GList *l = live_contexts; l; l = l->next) {
    const prima_context *ctx = l->data;
    prima_residency_stats st;
    guint64 kv_alloc = 0, kv_res = 0;
    GString *ranges = g_string_new (NULL);
    if (g_list_find (seen, ctx->residency))
      continue;
    seen = g_list_prepend (seen, ctx->residency);
    GArray *firsts = g_array_new (FALSE, FALSE, sizeof (gint64));
    for (GList *m = l; m; m = m->next) {
      const prima_context *c = m->data;
      guint64 a, r;
      gint64 range = ((gint64) c->first << 32) | c->last;
      if (c->residency != ctx->residency)
        continue;
      prima_context_kv_bytes (c, &a, &r);
      kv_alloc += a;
      kv_res += r;
      g_array_append_val (firsts, range);
    }
    g_array_sort (firsts, compare_gint64);
    for (guint i = 0; i < firsts->len; i++) {
      const gint64 range = g_array_index (firsts, gint64, i);
      g_string_append_printf (ranges, "%s[%d, %d)", i ? " " : "", (int) (range >> 32), (int) (range & 0xFFFFFFFF));
    }
    g_array_free (firsts, TRUE);
    prima_residency_get_stats (ctx->residency, &st);
    total_resident = MAX (total_resident, st.resident_bytes);
    g_string_append_printf (out, "memory: layers %s: weights %.1f MiB in %d windows, %d kept (%.1f MiB), "
        "budget %.1f MiB, policy prefetch=%s release=%s\n", ranges->str, st.window_bytes / mib,
        st.n_windows, st.n_kept, st.kept_bytes / mib, st.budget == G_MAXUINT64 ? -1.0 : st.budget / mib,
        prima_prefetch_mode_name (st.prefetch), prima_release_policy_name (st.release));
    g_string_append_printf (out, "memory: resident weights %.1f MiB; prefetched %.1f MiB, released %.1f MiB; "
        "KV cache %.2f MiB resident of %.2f MiB allocated\n", st.resident_bytes / mib, st.prefetched_bytes / mib,
        st.released_bytes / mib, kv_res / mib, kv_alloc / mib);
    g_string_free (ranges, TRUE);
  }
  g_list_free (seen);
  g_mutex_unlock (&live_lock);
  if (prima_memstat_read (&ms))
    g_string_append_printf (out, "memory: device %.1f MiB (%s), used %.1f MiB, page cache %.1f MiB, anon %.1f MiB, "
        "available %.1f MiB; page-cache pressure (resident weights / device) %.2f%%\n", ms.total / mib,
        ms.cgroup_version ? (ms.cgroup_version == 1 ? "cgroup v1 limit" : "cgroup v2 limit") : "machine",
        ms.used / mib, ms.file / mib, ms.anon / mib, ms.available / mib,
        ms.total ? 100.0 * total_resident / ms.total : 0.0);
  if (prima_memwatch_global_get (&w))
    g_string_append_printf (out, "memory: memory pressure %.2f%% (available %.1f MiB at start, lowest %.1f MiB, "
        "%d samples)\n", 100.0 * prima_memwatch_pressure (&w), w.start.available / mib, w.min_available / mib,
        w.n_samples);
}

/* ---- profiling ---- */

static guint64
now_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * 1000000000u + (guint64) ts.tv_nsec;
}

/* The time since the last mark goes to phase. */
static inline void
phase_mark (prima_context *ctx, prima_phase phase)
{
  if (ctx->profiling) {
    const guint64 t = now_ns ();
    ctx->prof.ns[phase] += t - ctx->prof_t;
    ctx->prof_t = t;
  }
}

const char *
prima_phase_name (prima_phase phase)
{
  static const char *const names[PRIMA_PHASE_COUNT] = { "norms", "qkv", "rope", "attention", "wo",
    "ffn_gate_up", "ffn_down", "head", "wait" };
  return phase < PRIMA_PHASE_COUNT ? names[phase] : "?";
}

void
prima_context_set_phase_timing (prima_context *ctx, gboolean on)
{
  ctx->profiling = on;
  memset (&ctx->prof, 0, sizeof ctx->prof);
  prima_threadpool_set_profiling (ctx->pool, on);
}

void
prima_context_get_phase_times (const prima_context *ctx, prima_phase_times *out)
{
  uint64_t wait, calls;
  *out = ctx->prof;
  prima_threadpool_get_profile (ctx->pool, &wait, &calls);
  out->ns[PRIMA_PHASE_WAIT] = wait;
  out->n_dispatches = calls;
}

/* ---- parallel helpers ---- */

typedef struct {
  const float *src;
  void *dst;
  size_t src_stride;            /* floats */
  size_t dst_stride;            /* bytes */
  int n_rows;
  int n;
  prima_from_float_fn from_float;
  atomic_int next;
} quantize_task;

static void
quantize_rows (int ith, int nth, void *arg)
{
  quantize_task *t = arg;
  int r;
  (void) ith;
  (void) nth;
  while ((r = atomic_fetch_add (&t->next, 1)) < t->n_rows)
    t->from_float (t->src + (size_t) r * t->src_stride, (uint8_t *) t->dst + (size_t) r * t->dst_stride, t->n);
}

/* Convert n_rows rows of n floats to the activation type vtype in slot
 * ctx->xq[slot], unless that slot already holds exactly that. */
static const void *
prepare_input (prima_context *ctx, int slot, const float *src, size_t src_stride, int n_rows, int n,
    uint32_t vtype)
{
  const prima_type_traits *vt;
  quantize_task t;
  if (vtype == PRIMA_TYPE_F32)
    return src;
  if (ctx->xq_src[slot] == src && ctx->xq_type[slot] == vtype && ctx->xq_rows[slot] == n_rows)
    return ctx->xq[slot];
  vt = prima_type_get_traits (vtype);
  if (ctx->xq[slot] == NULL)
    ctx->xq[slot] = g_malloc ((size_t) ctx->n_batch * ctx->xq_stride);
  t = (quantize_task) { src, ctx->xq[slot], src_stride, ctx->xq_stride, n_rows, n, vt->from_float };
  atomic_store (&t.next, 0);
  if (n_rows == 1)
    quantize_rows (0, 1, &t);
  else
    prima_threadpool_run_dynamic (ctx->pool, quantize_rows, &t);
  ctx->xq_src[slot] = src;
  ctx->xq_type[slot] = vtype;
  ctx->xq_rows[slot] = n_rows;
  return ctx->xq[slot];
}

static void
invalidate_input (prima_context *ctx)
{
  ctx->xq_src[0] = ctx->xq_src[1] = NULL;
}

typedef struct {
  const gguf_tensor *w;
  prima_vec_dot_fn vec_dot;
  prima_gemm_fn gemm;           /* NULL: vec_dot per (row, token) */
  size_t row_bytes;
  const void *xq;               /* n_tokens rows of the activation type */
  size_t xq_stride;             /* bytes between activation rows */
  float *y;                     /* [n_tokens][y_stride] */
  int y_stride;
  int n_out;
} matmul_job;

/* Where a thread's share of a matrix product begins: up to two weight
 * regions (gate and up for SwiGLU). */
typedef struct {
  const uint8_t *p[2];
  size_t bytes[2];
} share_start;

typedef struct {
  matmul_job jobs[MAX_MATMUL_JOBS];
  int n_jobs;
  int n_in;
  int n_tokens;
  int chunk_rows;
  int n_chunks;                 /* over all jobs */
  int job_first_chunk[MAX_MATMUL_JOBS + 1];
  /* SwiGLU: jobs 0 and 1 are gate and up; a chunk covers the same rows of
   * both and writes silu(gate) * up into job 0's output, so the
   * elementwise step runs on all threads instead of after the barrier. */
  gboolean glu;
  /* PRIMA_GEMM=openblas (a bench option): F32 SGEMM of the input x against
   * each chunk of weight rows dequantized once; not bit-identical to
   * vec_dot, so never on by default (docs/numerics.md has the figures) */
  gboolean blas;
  const float *x;               /* n_tokens rows of n_in floats */
  /* Thread i owns the chunks [lo, hi) packed as (hi << 32) | lo: it takes
   * from the front, so its weight stream stays contiguous; a thread that runs
   * out takes from the back of another's range. */
  _Atomic uint64_t range[MATMUL_MAX_THREADS];
  int n_ranges;
  /* Decode: the first bytes of each thread's share of the matrix product
   * that comes next, which workers load into cache when their share of this
   * one is done: the caller's norms, RoPE, attention and activation
   * quantization in between leave the memory idle otherwise, and every
   * product restarts the hardware prefetchers. */
  share_start next[MATMUL_MAX_THREADS];
  gboolean has_next;
} matmul_task;

static int
take_front (_Atomic uint64_t *range)
{
  uint64_t v = atomic_load (range);
  while ((uint32_t) v < (uint32_t) (v >> 32))
    if (atomic_compare_exchange_weak (range, &v, v + 1))
      return (int) (uint32_t) v;
  return -1;
}

static int
take_back (_Atomic uint64_t *range)
{
  uint64_t v = atomic_load (range);
  while ((uint32_t) v < (uint32_t) (v >> 32))
    if (atomic_compare_exchange_weak (range, &v, v - (UINT64_C (1) << 32)))
      return (int) (v >> 32) - 1;
  return -1;
}

/* The next chunk for thread ith: its own first, then stolen ones. */
static int
next_chunk (matmul_task *t, int ith)
{
  int c = take_front (&t->range[ith % t->n_ranges]);
  for (int k = 1; c < 0 && k < t->n_ranges; k++)
    c = take_back (&t->range[(ith + k) % t->n_ranges]);
  return c;
}

static inline float
silu (float x)
{
  return x / (1.0f + expf (-x));
}

/* Tokens are processed in blocks so a block of activation rows stays in
 * cache while a chunk of weight rows is swept over it. */
#define MATMUL_TOKEN_BLOCK 32
/* rows of gate and up computed into scratch before the SwiGLU combines them */
#define MATMUL_GLU_ROWS 16

/* Hardware prefetchers stop at 4 KiB page boundaries and need a few misses
 * in a new page to start again. Asking for the first lines of each page that
 * begins inside a row a few rows ahead restarts them early; prefetching every
 * line of that row instead cost more instructions than it saved (streaming a
 * Q4_K matrix from the page cache, 2 threads on the Zen 5 VM: 60-61 GB/s
 * with this, 50 GB/s with every line, 53-54 GB/s with no software prefetch). */
static inline void
prefetch_page_starts (const uint8_t *row, size_t bytes)
{
  const uintptr_t a = (uintptr_t) row, end = a + bytes;
  for (uintptr_t page = (a + 4095) & ~(uintptr_t) 4095; page < end; page += 4096)
    for (int line = 0; line < MATMUL_PREFETCH_LINES; line++)
      __builtin_prefetch ((const void *) (page + 64 * line), 0, 0);
}

/* How prompt batches multiply: PRIMA_GEMM=tile (default: the types' tile
 * kernels), vec_dot (one vec_dot per row and token: the same bits, for
 * timing the tiles in one binary) or openblas (SGEMM on dequantized rows
 * for batches of MATMUL_BLAS_MIN_TOKENS or more; other bits; for timing it
 * against the tiles: prima bench --gemm). */
typedef enum { GEMM_TILE, GEMM_VEC_DOT, GEMM_OPENBLAS } gemm_mode;

#define MATMUL_BLAS_MIN_TOKENS 64

/* OpenBLAS is loaded at run time, only for PRIMA_GEMM=openblas: linked in,
 * its thread pool would start in every process of the core for a bench
 * option. The CBLAS constants are fixed by the CBLAS interface. */
typedef void (*cblas_sgemm_fn) (int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
    const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };
static cblas_sgemm_fn blas_sgemm;

static gboolean
load_openblas (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    void *lib = dlopen ("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      void (*set_threads) (int) = (void (*) (int)) dlsym (lib, "openblas_set_num_threads");
      blas_sgemm = (cblas_sgemm_fn) dlsym (lib, "cblas_sgemm");
      /* our threads split the rows; each SGEMM runs on its caller's thread */
      if (set_threads)
        set_threads (1);
    }
    g_once_init_leave (&once, 1);
  }
  return blas_sgemm != NULL;
}

static gemm_mode
get_gemm_mode (void)
{
  static gsize once = 0;
  static gemm_mode mode;
  if (g_once_init_enter (&once)) {
    const char *v = g_getenv ("PRIMA_GEMM");
    mode = GEMM_TILE;
    if (g_strcmp0 (v, "vec_dot") == 0)
      mode = GEMM_VEC_DOT;
    if (g_strcmp0 (v, "openblas") == 0 && load_openblas ())
      mode = GEMM_OPENBLAS;
    g_once_init_leave (&once, 1);
  }
  return mode;
}

gboolean
prima_gemm_mode_valid (const char *mode)
{
  return g_strcmp0 (mode, "tile") == 0 || g_strcmp0 (mode, "vec_dot") == 0
      || (g_strcmp0 (mode, "openblas") == 0 && load_openblas ());
}

/* y[tok * y_stride + r] (r from r0) = x[tok] . W row r, for nr rows: the rows
 * dequantized into a per-thread buffer, then one SGEMM. */
static void
matmul_blas (const matmul_job *job, const float *x, int n_tokens, int n_in, int r0, int nr, float *y,
    size_t y_stride)
{
  static __thread float *wf;
  static __thread size_t wf_cap;
  const prima_type_traits *tr = prima_type_get_traits (job->w->type);
  const size_t need = (size_t) nr * n_in;
  if (need > wf_cap) {
    g_free (wf);
    wf = g_new (float, need);
    wf_cap = need;
  }
  const uint8_t *w = (const uint8_t *) job->w->data + (size_t) r0 * job->row_bytes;
  for (int r = 0; r < nr; r++)
    tr->to_float (w + (size_t) r * job->row_bytes, wf + (size_t) r * n_in, n_in);
  blas_sgemm (CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, n_tokens, nr, n_in, 1.0f, x, n_in, wf, n_in, 0.0f, y,
      (int) y_stride);
}

/* y[tok * y_stride + r] for rows r0..r0+nr-1 (r counted from r0) and
 * tokens tb..tb+nt-1 (tok counted from tb) of one job: the type's tile
 * kernel, which shares the weight unpacking across tokens and gives the
 * very bits of vec_dot, or vec_dot per (row, token) where it has none. */
static void
matmul_tile (const matmul_job *job, int n_in, int r0, int nr, int tb, int nt, float *y, size_t y_stride)
{
  const uint8_t *w = (const uint8_t *) job->w->data + (size_t) r0 * job->row_bytes;
  const uint8_t *xq = (const uint8_t *) job->xq + (size_t) tb * job->xq_stride;
  if (job->gemm) {
    job->gemm (n_in, nr, nt, y, y_stride, w, job->row_bytes, xq, job->xq_stride);
    return;
  }
  for (int r = 0; r < nr; r++)
    for (int tok = 0; tok < nt; tok++)
      job->vec_dot (n_in, &y[(size_t) tok * y_stride + r], w + (size_t) r * job->row_bytes,
          xq + (size_t) tok * job->xq_stride);
}

/* Every line of a region into the cache (L2). */
static void
prefetch_region (const uint8_t *p, size_t bytes)
{
  for (size_t off = 0; off < bytes; off += 64)
    __builtin_prefetch (p + off, 0, 2);
}

static void
prefetch_share_start (const share_start *s)
{
  for (int k = 0; k < 2; k++)
    if (s->p[k])
      prefetch_region (s->p[k], s->bytes[k]);
}

static void
matmul_worker (int ith, int nth, void *arg)
{
  matmul_task *t = arg;
  int c;
  while ((c = next_chunk (t, ith)) >= 0) {
    int j = 0;
    while (c >= t->job_first_chunk[j + 1])
      j++;
    const matmul_job *job = &t->jobs[j];
    int r0 = (c - t->job_first_chunk[j]) * t->chunk_rows;
    int r1 = MIN (r0 + t->chunk_rows, job->n_out);
    const uint8_t *wbase = job->w->data;
    if (t->blas && t->glu) {
      const matmul_job *up = &t->jobs[1];
      float *g = g_new (float, (size_t) 2 * t->n_tokens * MATMUL_GLU_ROWS), *u = g + t->n_tokens * MATMUL_GLU_ROWS;
      for (int rb = r0; rb < r1; rb += MATMUL_GLU_ROWS) {
        const int nr = MIN (MATMUL_GLU_ROWS, r1 - rb);
        matmul_blas (job, t->x, t->n_tokens, t->n_in, rb, nr, g, nr);
        matmul_blas (up, t->x, t->n_tokens, t->n_in, rb, nr, u, nr);
        for (int tok = 0; tok < t->n_tokens; tok++) {
          float *yg = job->y + (size_t) tok * job->y_stride + rb;
          for (int r = 0; r < nr; r++)
            yg[r] = silu (g[tok * nr + r]) * u[tok * nr + r];
        }
      }
      g_free (g);
      continue;
    }
    if (t->blas) {
      matmul_blas (job, t->x, t->n_tokens, t->n_in, r0, r1 - r0, job->y + r0, job->y_stride);
      continue;
    }
    if (t->glu && t->n_tokens > 1) {
      /* gate and up over a tile of rows x a block of tokens into scratch,
       * then the SwiGLU; each value is what vec_dot gives (see below) */
      const matmul_job *up = &t->jobs[1];
      float g[MATMUL_GLU_ROWS * MATMUL_TOKEN_BLOCK], u[MATMUL_GLU_ROWS * MATMUL_TOKEN_BLOCK];
      for (int tb = 0; tb < t->n_tokens; tb += MATMUL_TOKEN_BLOCK) {
        const int nt = MIN (MATMUL_TOKEN_BLOCK, t->n_tokens - tb);
        for (int rb = r0; rb < r1; rb += MATMUL_GLU_ROWS) {
          const int nr = MIN (MATMUL_GLU_ROWS, r1 - rb);
          matmul_tile (job, t->n_in, rb, nr, tb, nt, g, nr);
          matmul_tile (up, t->n_in, rb, nr, tb, nt, u, nr);
          for (int tok = 0; tok < nt; tok++) {
            float *yg = job->y + (size_t) (tb + tok) * job->y_stride + rb;
            for (int r = 0; r < nr; r++)
              yg[r] = silu (g[tok * nr + r]) * u[tok * nr + r];
          }
        }
      }
      continue;
    }
    if (t->glu) {
      const matmul_job *up = &t->jobs[1];
      const uint8_t *ubase = up->w->data;
      for (int tok = 0; tok < t->n_tokens; tok++) {
        const uint8_t *xg = (const uint8_t *) job->xq + (size_t) tok * job->xq_stride;
        const uint8_t *xu = (const uint8_t *) up->xq + (size_t) tok * up->xq_stride;
        float *yg = job->y + (size_t) tok * job->y_stride;
        for (int r = r0; r < r1; r++) {
          float g, u;
          /* past the chunk's end too: a thread's next chunk follows it */
          if (t->n_tokens == 1 && r + MATMUL_PREFETCH_ROWS < job->n_out) {
            prefetch_page_starts (wbase + (size_t) (r + MATMUL_PREFETCH_ROWS) * job->row_bytes, job->row_bytes);
            prefetch_page_starts (ubase + (size_t) (r + MATMUL_PREFETCH_ROWS) * up->row_bytes, up->row_bytes);
          }
          job->vec_dot (t->n_in, &g, wbase + (size_t) r * job->row_bytes, xg);
          up->vec_dot (t->n_in, &u, ubase + (size_t) r * up->row_bytes, xu);
          yg[r] = silu (g) * u;
        }
      }
      continue;
    }
    if (t->n_tokens == 1) {
      for (int r = r0; r < r1; r++) {
        if (r + MATMUL_PREFETCH_ROWS < job->n_out)
          prefetch_page_starts (wbase + (size_t) (r + MATMUL_PREFETCH_ROWS) * job->row_bytes, job->row_bytes);
        job->vec_dot (t->n_in, &job->y[r], wbase + (size_t) r * job->row_bytes, job->xq);
      }
      continue;
    }
    for (int tb = 0; tb < t->n_tokens; tb += MATMUL_TOKEN_BLOCK) {
      const int nt = MIN (MATMUL_TOKEN_BLOCK, t->n_tokens - tb);
      matmul_tile (job, t->n_in, r0, r1 - r0, tb, nt, job->y + (size_t) tb * job->y_stride + r0, job->y_stride);
    }
  }
  /* Workers only: the caller goes on to the serial steps, which would wait
   * for these loads. Worker 1 also loads the start of the caller's share. */
  if (t->has_next && ith > 0 && ith < t->n_ranges) {
    prefetch_share_start (&t->next[ith]);
    if (ith == 1)
      prefetch_share_start (&t->next[0]);
  }
  (void) nth;
}

static int
matmul_chunk_rows (int total_rows, int n_threads)
{
  return MAX (4, total_rows / (n_threads * PRIMA_CHUNKS_PER_THREAD));
}

/* The start of each thread's share of a decode matrix product over w
 * (n_jobs weights, glu as matmul_ex): the same chunks and ranges as
 * matmul_ex makes, MATMUL_NEXT_PREFETCH_BYTES from each. */
static void
plan_share_starts (const gguf_tensor *const *w, int n_jobs, gboolean glu, int n_ranges, int n_threads,
    share_start *out)
{
  int total_rows = 0, first_chunk[MAX_MATMUL_JOBS + 1] = { 0 }, chunk_rows, n_chunks;
  for (int j = 0; j < n_jobs; j++)
    total_rows += (int) w[j]->ne[1];
  chunk_rows = matmul_chunk_rows (total_rows, n_threads);
  for (int j = 0; j < n_jobs; j++)
    first_chunk[j + 1] = first_chunk[j] + ((int) w[j]->ne[1] + chunk_rows - 1) / chunk_rows;
  n_chunks = first_chunk[glu ? 1 : n_jobs];
  for (int i = 0; i < n_ranges; i++) {
    const int c = (int) ((uint64_t) n_chunks * i / n_ranges);
    int j = 0;
    memset (&out[i], 0, sizeof out[i]);
    if (c >= n_chunks)
      continue;
    while (c >= first_chunk[j + 1])
      j++;
    const int r0 = (c - first_chunk[j]) * chunk_rows;
    for (int k = 0; k < (glu ? 2 : 1); k++) {
      const gguf_tensor *m = w[j + k];
      const size_t row = prima_row_size (m->type, m->ne[0]), off = (size_t) r0 * row;
      out[i].p[k] = m->data + off;
      out[i].bytes[k] = MIN ((size_t) MATMUL_NEXT_PREFETCH_BYTES / (glu ? 2 : 1), row * (size_t) m->ne[1] - off);
    }
  }
}

/* Decode: the matrix product that runs after the next call of matmul_ex
 * (n_jobs 0: none known), for its workers to start loading. */
static void
next_matmul (prima_context *ctx, int n_jobs, const gguf_tensor *w0, const gguf_tensor *w1,
    const gguf_tensor *w2, gboolean glu)
{
  ctx->next_n_jobs = n_jobs;
  ctx->next_w[0] = w0;
  ctx->next_w[1] = w1;
  ctx->next_w[2] = w2;
  ctx->next_glu = glu;
}

/* y_j[tok][r] = dot(W_j row r, x[tok]) for up to three weights sharing the
 * input x (n_tokens rows of n_in floats, stride n_in). */
static void
matmul_ex (prima_context *ctx, const float *x, int n_tokens, int n_in, int n_jobs,
    const gguf_tensor *const *w, float *const *y, const int *y_stride, gboolean glu)
{
  matmul_task t;
  int n_threads = prima_threadpool_n_threads (ctx->pool);
  int total_rows = 0;

  memset (&t, 0, sizeof t);
  t.n_jobs = n_jobs;
  t.n_in = n_in;
  t.n_tokens = n_tokens;
  for (int j = 0; j < n_jobs; j++)
    total_rows += (int) w[j]->ne[1];
  t.chunk_rows = matmul_chunk_rows (total_rows, n_threads);
  /* Jobs share the converted input: those that want the first job's
   * activation type use slot 0, one other type slot 1; a third type (no
   * real model mixes that many) runs the jobs one by one. */
  uint32_t vtype[2] = { prima_type_get_traits (w[0]->type)->vec_dot_type, G_MAXUINT32 };
  for (int j = 1; j < n_jobs; j++) {
    const uint32_t v = prima_type_get_traits (w[j]->type)->vec_dot_type;
    if (v == vtype[0] || v == vtype[1])
      continue;
    if (vtype[1] == G_MAXUINT32) {
      vtype[1] = v;
      continue;
    }
    for (int k = 0; k < n_jobs; k++)
      matmul_ex (ctx, x, n_tokens, n_in, 1, w + k, y + k, y_stride + k, FALSE);
    return;
  }
  for (int j = 0; j < n_jobs; j++) {
    const prima_type_traits *tr = prima_type_get_traits (w[j]->type);
    matmul_job *job = &t.jobs[j];
    job->w = w[j];
    job->vec_dot = tr->vec_dot;
    job->gemm = get_gemm_mode () == GEMM_TILE ? tr->gemm : NULL;
    job->row_bytes = prima_row_size (w[j]->type, n_in);
    const int slot = tr->vec_dot_type == vtype[0] ? 0 : 1;
    job->xq = prepare_input (ctx, slot, x, n_in, n_tokens, n_in, tr->vec_dot_type);
    job->xq_stride = tr->vec_dot_type == PRIMA_TYPE_F32 ? n_in * sizeof (float) : ctx->xq_stride;
    job->y = y[j];
    job->y_stride = y_stride[j];
    job->n_out = (int) w[j]->ne[1];
    t.job_first_chunk[j + 1] = t.job_first_chunk[j] + (job->n_out + t.chunk_rows - 1) / t.chunk_rows;
  }
  t.glu = glu;
  t.x = x;
  t.blas = get_gemm_mode () == GEMM_OPENBLAS && n_tokens >= MATMUL_BLAS_MIN_TOKENS;
  /* With glu, only job 0's chunks are enumerated: each also covers job 1. */
  t.n_chunks = t.job_first_chunk[glu ? 1 : n_jobs];
  t.n_ranges = MIN (n_threads, MATMUL_MAX_THREADS);
  for (int i = 0; i < t.n_ranges; i++) {
    uint64_t lo = (uint64_t) t.n_chunks * i / t.n_ranges, hi = (uint64_t) t.n_chunks * (i + 1) / t.n_ranges;
    atomic_store (&t.range[i], (hi << 32) | lo);
  }
  if (n_tokens == 1 && ctx->next_n_jobs > 0 && n_threads > 1) {
    plan_share_starts (ctx->next_w, ctx->next_n_jobs, ctx->next_glu, t.n_ranges, n_threads, t.next);
    t.has_next = TRUE;
  }
  ctx->next_n_jobs = 0;
  prima_threadpool_run_dynamic (ctx->pool, matmul_worker, &t);
}

static void
matmul (prima_context *ctx, const float *x, int n_tokens, int n_in, int n_jobs,
    const gguf_tensor *const *w, float *const *y, const int *y_stride)
{
  matmul_ex (ctx, x, n_tokens, n_in, n_jobs, w, y, y_stride, FALSE);
}

/* ---- elementwise pieces ---- */

/* Returns whether x is finite: its sum of squares is NaN or infinite as soon
 * as one value is (a check of every hidden state at no extra cost). */
static gboolean
rms_norm (float *out, const float *x, const float *weight, int n, float eps)
{
  double sum = 0.0;
  for (int i = 0; i < n; i++)
    sum += (double) x[i] * x[i];
  const float scale = 1.0f / sqrtf ((float) (sum / n) + eps);
  for (int i = 0; i < n; i++)
    out[i] = x[i] * scale * weight[i];
  return isfinite (sum);
}

/* Whether n floats are all finite: x * 0 is 0, or NaN for a NaN or an
 * infinity; eight sums in step keep it at memory speed (the logits of a
 * large vocabulary, once per token). */
static gboolean
all_finite (const float *x, size_t n)
{
  float acc[8] = { 0 };
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++)
      acc[j] += x[i + j] * 0.0f;
  for (; i < n; i++)
    acc[0] += x[i] * 0.0f;
  return acc[0] + acc[1] + acc[2] + acc[3] + acc[4] + acc[5] + acc[6] + acc[7] == 0.0f;
}

/* cos/sin of the rotation angles of one position, built as the reference
 * builds them: theta = pos * base^(-2i/n_rot) by repeated float
 * multiplication, divided by rope_freqs when the model has it. */
static void
rope_angles (const prima_context *ctx, int pos, float *cs)
{
  const int n_rot = ctx->hp.n_rot;
  const float theta_scale = powf (ctx->hp.rope_base, -2.0f / n_rot);
  float theta = (float) pos / ctx->hp.rope_scale;
  for (int i0 = 0; i0 < n_rot; i0 += 2) {
    const float ff = ctx->rope_freq_factors ? ctx->rope_freq_factors[i0 / 2] : 1.0f;
    cs[i0] = cosf (theta / ff);
    cs[i0 + 1] = sinf (theta / ff);
    theta *= theta_scale;
  }
}

/* Rotate one head in place: adjacent pairs (llama) or halves (NEOX, qwen2). */
static void
rope_head (float *x, const float *cs, int n_rot, gboolean neox)
{
  for (int i0 = 0; i0 < n_rot; i0 += 2) {
    const float c = cs[i0], s = cs[i0 + 1];
    const int a = neox ? i0 / 2 : i0;
    const int b = neox ? i0 / 2 + n_rot / 2 : i0 + 1;
    const float x0 = x[a], x1 = x[b];
    x[a] = x0 * c - x1 * s;
    x[b] = x0 * s + x1 * c;
  }
}

static void
add_bias (float *y, const gguf_tensor *bias, int n_tokens, int n)
{
  const float *b = (const float *) bias->data;
  for (int t = 0; t < n_tokens; t++)
    for (int i = 0; i < n; i++)
      y[(size_t) t * n + i] += b[i];
}

/* ---- attention ---- */

/* One work item per (token, chunk of PRIMA_ATTN_CHUNK cells, part of the
 * KV heads): all query heads of those KV heads at once, so each K row is
 * read once and whole (all heads, when the token has chunks enough to keep
 * the threads busy) and each V block in order, and a long context split
 * into chunks that threads share (decode). The chunks of a token are fixed
 * by its own number of cells, and merged in chunk order by whichever thread
 * finishes the last of them; a query head's result does not depend on
 * which heads share its item; so a token's result depends neither on the
 * batch nor on the threads (docs/numerics.md). */
typedef struct {
  prima_context *ctx;
  int layer;                    /* index within the window */
  int t0, t1;                   /* the tokens of this round */
  int n_parts, part_kvh;        /* the KV heads in parts of part_kvh */
  atomic_int next;
} attention_task;

static void
attention_worker (int ith, int nth, void *arg)
{
  attention_task *t = arg;
  prima_context *ctx = t->ctx;
  const prima_hparams *hp = &ctx->hp;
  const int hd = hp->head_dim, group = ctx->att_group, n_items = ctx->att_item0[t->t1 - t->t0];
  const int pk = t->part_kvh, chunk_v = PRIMA_ATTN_CHUNK * ctx->n_kv_dim;
  float *scores = ctx->att_scores + (size_t) ith * hp->n_head * PRIMA_ATTN_CHUNK;
  float *qf = ctx->att_qf + (size_t) ith * hp->n_head * hd;
  prima_fp16 *p16 = ctx->att_p16 + (size_t) ith * hp->n_head * PRIMA_ATTN_CHUNK;
  int item, tok = t->t0;
  (void) nth;

  while ((item = atomic_fetch_add (&t->next, 1)) < n_items) {
    /* items are handed out in order: the token only moves forward */
    while (ctx->att_item0[tok + 1 - t->t0] <= item)
      tok++;
    const int i = tok - t->t0;
    const kv_seq *sq = &ctx->seqs[ctx->tok_seq[tok]];
    /* causal: every older cell of the sequence holds an earlier position
     * (eval drops the later ones), then the batch's own cells of that
     * sequence up to this token */
    const int n_kv = ctx->tok_cell[tok] + 1, nc = prima_attn_n_chunks (n_kv, PRIMA_ATTN_CHUNK);
    const int rem = item - ctx->att_item0[i], c = rem / t->n_parts, kvh = rem % t->n_parts * pk;
    const int j0 = c * PRIMA_ATTN_CHUNK, n = MIN (n_kv, j0 + PRIMA_ATTN_CHUNK) - j0;
    const prima_fp16 *kc = sq->k_cache[t->layer] + (size_t) j0 * ctx->n_kv_dim + (size_t) kvh * hd;
    const prima_fp16 *vc = sq->v_cache[t->layer] + (size_t) c * chunk_v + (size_t) kvh * hd * PRIMA_ATTN_CHUNK;
    const prima_fp16 *q16 = ctx->att_q16 + (size_t) tok * hp->n_embd + (size_t) kvh * group * hd;
    float *out = ctx->attn + (size_t) tok * hp->n_embd + (size_t) kvh * group * hd;

    if (nc == 1) {
      prima_attn_chunk (q16, pk, group, kc, ctx->n_kv_dim, vc, PRIMA_ATTN_CHUNK, hd, n, qf, scores, p16, out, hd,
          (size_t) group * hd, NULL, NULL, 0);
    } else {
      /* partial results: slot (token's first) + KV head * nc + chunk */
      const size_t base = (size_t) ctx->att_slot0[i], slot = base + (size_t) kvh * nc + c;
      prima_attn_chunk (q16, pk, group, kc, ctx->n_kv_dim, vc, PRIMA_ATTN_CHUNK, hd, n, qf, scores, p16,
          ctx->att_parts + slot * group * hd, hd, (size_t) nc * group * hd, ctx->att_m + slot * group,
          ctx->att_s + slot * group, (size_t) nc * group);
      /* per KV head, the last chunk done merges them all (the atomic orders
       * the parts) */
      for (int h = kvh; h < kvh + pk; h++) {
        const size_t hb = base + (size_t) h * nc;
        if (atomic_fetch_add (&ctx->att_done[(size_t) tok * hp->n_head_kv + h], 1) == nc - 1)
          for (int g = 0; g < group; g++)
            prima_attn_merge (hd, nc, ctx->att_parts + (hb * group + g) * hd, (size_t) group * hd,
                ctx->att_m + hb * group + g, ctx->att_s + hb * group + g, group,
                ctx->attn + (size_t) tok * hp->n_embd + (size_t) (h * group + g) * hd);
      }
    }
  }
}

/* Attention of tokens 0..n_tokens-1, in rounds whose split tokens fit the
 * partial results' room. The KV heads go in as few parts as keep every
 * thread busy (about 4 items per thread); that changes no result. */
static void
attention (prima_context *ctx, int il, int n_tokens)
{
  const int n_head_kv = ctx->hp.n_head_kv, nth = prima_threadpool_n_threads (ctx->pool);
  int t0 = 0, n_parts = 1, total = 0;
  /* the queries rounded once, not once per chunk */
  for (size_t i = 0; i < (size_t) n_tokens * ctx->hp.n_embd; i++)
    ctx->att_q16[i] = prima_fp32_to_fp16 (ctx->q[i]);
  for (int t = 0; t < n_tokens; t++)
    total += prima_attn_n_chunks (ctx->tok_cell[t] + 1, PRIMA_ATTN_CHUNK);
  while (nth > 1 && n_parts < n_head_kv && (total * n_parts < 4 * nth || n_head_kv % n_parts != 0))
    n_parts++;
  while (t0 < n_tokens) {
    attention_task at = { ctx, il, t0, t0, n_parts, n_head_kv / n_parts };
    int items = 0, slots = 0;
    while (at.t1 < n_tokens) {
      const int nc = prima_attn_n_chunks (ctx->tok_cell[at.t1] + 1, PRIMA_ATTN_CHUNK);
      const int need = nc > 1 ? n_head_kv * nc : 0;
      if (at.t1 > t0 && slots + need > ctx->att_cap)
        break;
      ctx->att_item0[at.t1 - t0] = items;
      ctx->att_slot0[at.t1 - t0] = slots;
      for (int h = 0; h < n_head_kv; h++)
        atomic_store (&ctx->att_done[(size_t) at.t1 * n_head_kv + h], 0);
      items += n_parts * nc;
      slots += need;
      at.t1++;
    }
    ctx->att_item0[at.t1 - t0] = items;
    atomic_store (&at.next, 0);
    prima_threadpool_run_dynamic (ctx->pool, attention_worker, &at);
    t0 = at.t1;
  }
}

/* ---- one chunk of tokens through the window ---- */

/* Where NaN or infinite values (corrupt weights) were first seen: in a
 * layer's input, after its attention, or in the logits of the head. */
typedef enum {
  NOT_FINITE_NONE,
  NOT_FINITE_INPUT,
  NOT_FINITE_LAYER,
  NOT_FINITE_HEAD,
} not_finite;

/* Returns NOT_FINITE_NONE, or where the hidden state stopped being finite:
 * its input (checked by the attention norm) or the layer's attention
 * (checked by the feed-forward norm); the next layer's norm checks this
 * layer's feed-forward part. */
static not_finite
run_layer (prima_context *ctx, int il, int n_tokens)
{
  const prima_hparams *hp = &ctx->hp;
  const prima_layer_weights *lw = &ctx->model->layers[ctx->first + il];
  const int n_embd = hp->n_embd, n_kv_dim = ctx->n_kv_dim, n_ff = hp->n_ff, hd = hp->head_dim;
  const gboolean neox = hp->arch == PRIMA_ARCH_QWEN2;
  gboolean finite = TRUE;

  for (int t = 0; t < n_tokens; t++)
    finite &= rms_norm (ctx->cur + (size_t) t * n_embd, ctx->x + (size_t) t * n_embd,
        (const float *) lw->attn_norm->data, n_embd, hp->rms_eps);
  if (!finite)
    return NOT_FINITE_INPUT;
  invalidate_input (ctx);
  phase_mark (ctx, PRIMA_PHASE_NORMS);
  {
    const gguf_tensor *w[3] = { lw->wq, lw->wk, lw->wv };
    float *y[3] = { ctx->q, ctx->k, ctx->v };
    const int ys[3] = { n_embd, n_kv_dim, n_kv_dim };
    next_matmul (ctx, 1, lw->wo, NULL, NULL, FALSE);
    matmul (ctx, ctx->cur, n_tokens, n_embd, 3, w, y, ys);
  }
  if (lw->bq) {
    add_bias (ctx->q, lw->bq, n_tokens, n_embd);
    add_bias (ctx->k, lw->bk, n_tokens, n_kv_dim);
    add_bias (ctx->v, lw->bv, n_tokens, n_kv_dim);
  }
  phase_mark (ctx, PRIMA_PHASE_QKV);
  for (int t = 0; t < n_tokens; t++) {
    const kv_seq *sq = &ctx->seqs[ctx->tok_seq[t]];
    prima_fp16 *krow = sq->k_cache[il] + (size_t) ctx->tok_cell[t] * n_kv_dim;
    prima_fp16 *vcol = sq->v_cache[il] + prima_attn_v_index (ctx->tok_cell[t], 0, n_kv_dim);
    rope_angles (ctx, ctx->tok_pos[t], ctx->rope_cs);
    for (int h = 0; h < hp->n_head; h++)
      rope_head (ctx->q + (size_t) t * n_embd + (size_t) h * hd, ctx->rope_cs, hp->n_rot, neox);
    for (int h = 0; h < hp->n_head_kv; h++)
      rope_head (ctx->k + (size_t) t * n_kv_dim + (size_t) h * hd, ctx->rope_cs, hp->n_rot, neox);
    for (int i = 0; i < n_kv_dim; i++) {
      krow[i] = prima_fp32_to_fp16 (ctx->k[(size_t) t * n_kv_dim + i]);
      vcol[(size_t) i * PRIMA_ATTN_CHUNK] = prima_fp32_to_fp16 (ctx->v[(size_t) t * n_kv_dim + i]);
    }
  }
  phase_mark (ctx, PRIMA_PHASE_ROPE);
  attention (ctx, il, n_tokens);
  phase_mark (ctx, PRIMA_PHASE_ATTENTION);
  invalidate_input (ctx);
  {
    const gguf_tensor *w[1] = { lw->wo };
    float *y[1] = { ctx->cur };
    const int ys[1] = { n_embd };
    next_matmul (ctx, 2, lw->ffn_gate, lw->ffn_up, NULL, TRUE);
    matmul (ctx, ctx->attn, n_tokens, n_embd, 1, w, y, ys);
  }
  phase_mark (ctx, PRIMA_PHASE_WO);
  for (size_t i = 0; i < (size_t) n_tokens * n_embd; i++)
    ctx->x[i] += ctx->cur[i];

  for (int t = 0; t < n_tokens; t++)
    finite &= rms_norm (ctx->cur + (size_t) t * n_embd, ctx->x + (size_t) t * n_embd,
        (const float *) lw->ffn_norm->data, n_embd, hp->rms_eps);
  if (!finite)
    return NOT_FINITE_LAYER;
  invalidate_input (ctx);
  phase_mark (ctx, PRIMA_PHASE_NORMS);
  {
    const gguf_tensor *w[2] = { lw->ffn_gate, lw->ffn_up };
    float *y[2] = { ctx->gate, ctx->up };
    const int ys[2] = { n_ff, n_ff };
    next_matmul (ctx, 1, lw->ffn_down, NULL, NULL, FALSE);
    matmul_ex (ctx, ctx->cur, n_tokens, n_embd, 2, w, y, ys, TRUE);
  }
  phase_mark (ctx, PRIMA_PHASE_FFN_GATE_UP);
  invalidate_input (ctx);
  {
    const gguf_tensor *w[1] = { lw->ffn_down };
    float *y[1] = { ctx->cur };
    const int ys[1] = { n_embd };
    if (ctx->first + il + 1 < ctx->last) {
      const prima_layer_weights *nl = &ctx->model->layers[ctx->first + il + 1];
      next_matmul (ctx, 3, nl->wq, nl->wk, nl->wv, FALSE);
    } else if (prima_context_has_head (ctx)) {
      next_matmul (ctx, 1, ctx->model->output, NULL, NULL, FALSE);
    }
    matmul (ctx, ctx->gate, n_tokens, n_ff, 1, w, y, ys);
  }
  phase_mark (ctx, PRIMA_PHASE_FFN_DOWN);
  for (size_t i = 0; i < (size_t) n_tokens * n_embd; i++)
    ctx->x[i] += ctx->cur[i];
  phase_mark (ctx, PRIMA_PHASE_NORMS);
  return NOT_FINITE_NONE;
}

gboolean
prima_embed_tokens (const prima_model *model, const int32_t *tokens, int n_tokens, float *out, GError **error)
{
  const gguf_tensor *te = model->tok_embd;
  const prima_type_traits *tr = prima_type_get_traits (te->type);
  const size_t row = prima_row_size (te->type, model->hp.n_embd);
  for (int t = 0; t < n_tokens; t++) {
    if (tokens[t] < 0 || tokens[t] >= model->hp.n_vocab) {
      g_set_error (error, PRIMA_CONTEXT_ERROR, 0, "token id %d is outside the vocabulary (0..%d)",
          tokens[t], model->hp.n_vocab - 1);
      return FALSE;
    }
    tr->to_float (te->data + (size_t) tokens[t] * row, out + (size_t) t * model->hp.n_embd, model->hp.n_embd);
  }
  return TRUE;
}

static gboolean
embed (prima_context *ctx, const int32_t *tokens, int n_tokens, GError **error)
{
  return prima_embed_tokens (ctx->model, tokens, n_tokens, ctx->x, error);
}

/* The head over the chunk's rows rows[0 .. n_rows-1], logits in that order:
 * only those rows pay for the output matrix (batched decode wants one row
 * per sequence). Returns NOT_FINITE_NONE, NOT_FINITE_INPUT (the last layer's
 * output) or NOT_FINITE_HEAD (the logits). */
static not_finite
output_head (prima_context *ctx, const int *rows, int n_rows, float *logits)
{
  const prima_hparams *hp = &ctx->hp;
  gboolean finite = TRUE;
  if (n_rows == 0)
    return NOT_FINITE_NONE;
  for (int t = 0; t < n_rows; t++)
    finite &= rms_norm (ctx->cur + (size_t) t * hp->n_embd, ctx->x + (size_t) rows[t] * hp->n_embd,
        (const float *) ctx->model->output_norm->data, hp->n_embd, hp->rms_eps);
  if (!finite)
    return NOT_FINITE_INPUT;
  invalidate_input (ctx);
  {
    const gguf_tensor *w[1] = { ctx->model->output };
    float *y[1] = { logits };
    const int ys[1] = { hp->n_vocab };
    matmul (ctx, ctx->cur, n_rows, hp->n_embd, 1, w, y, ys);
  }
  return all_finite (logits, (size_t) n_rows * hp->n_vocab) ? NOT_FINITE_NONE : NOT_FINITE_HEAD;
}

/* The error for NaN or infinite values: names the first layer (or the
 * embedding, the incoming hidden states, the output head) that gave them. */
static void
set_not_finite_error (prima_context *ctx, int layer, not_finite where, GError **error)
{
  gchar *what;

  if (where == NOT_FINITE_HEAD)
    what = g_strdup ("the output head (output_norm, output)");
  else if (where == NOT_FINITE_LAYER)
    what = g_strdup_printf ("layer %d (blk.%d)", layer, layer);
  else if (layer > ctx->first)
    what = g_strdup_printf ("layer %d (blk.%d)", layer - 1, layer - 1);
  else if (ctx->first == 0)
    what = g_strdup ("the token embedding (token_embd)");
  else
    what = g_strdup_printf ("the hidden states that came in for layer %d", layer);
  g_set_error (error, PRIMA_CONTEXT_ERROR, PRIMA_CONTEXT_ERROR_NOT_FINITE,
      "NaN or infinite values from %s on: the model's weight data is corrupt", what);
  g_free (what);
}

/* One chunk of nb tokens (nb <= n_batch) whose sequence, position and
 * cell are in ctx->tok_seq, tok_pos, tok_cell (the cells of one sequence
 * consecutive from its n_cells on): input tokens (embedded here) or hidden
 * (nb x n_embd); output the logits of the n_rows rows ctx->head_rows, or
 * for a window without the head the hidden states of all nb tokens. The
 * sequences' caches grow only when the chunk succeeds. */
static gboolean
eval_chunk (prima_context *ctx, int nb, const int32_t *tokens, const float *hidden, int n_rows, float *out,
    GError **error)
{
  const prima_hparams *hp = &ctx->hp;
  const gboolean has_head = prima_context_has_head (ctx);
  not_finite bad = NOT_FINITE_NONE;
  int il;

  if (ctx->first == 0 && tokens) {
    if (!embed (ctx, tokens, nb, error))
      return FALSE;
  } else {
    memcpy (ctx->x, hidden, sizeof (float) * nb * hp->n_embd);
  }
  for (int t = 0; t < nb; t++)
    ctx->seqs[ctx->tok_seq[t]].cell_pos[ctx->tok_cell[t]] = ctx->tok_pos[t];
  if (ctx->profiling)
    ctx->prof_t = now_ns ();
  for (il = 0; il < ctx->last - ctx->first && bad == NOT_FINITE_NONE; il++) {
    prima_residency_layer_begin (ctx->residency, ctx->first + il);
    bad = run_layer (ctx, il, nb);
    prima_residency_layer_end (ctx->residency, ctx->first + il);
  }
  if (bad != NOT_FINITE_NONE) {
    set_not_finite_error (ctx, ctx->first + il - 1, bad, error);
    return FALSE;
  }
  if (!has_head) {
    /* the next window may be on another device: say which layer here */
    if (!all_finite (ctx->x, (size_t) nb * hp->n_embd))
      bad = NOT_FINITE_INPUT;
    memcpy (out, ctx->x, sizeof (float) * nb * hp->n_embd);
  } else {
    /* the output head is the residency's pseudo-layer n_layer, a window of its own */
    phase_mark (ctx, PRIMA_PHASE_NORMS);
    prima_residency_layer_begin (ctx->residency, hp->n_layer);
    bad = output_head (ctx, ctx->head_rows, n_rows, out);
    prima_residency_layer_end (ctx->residency, hp->n_layer);
    phase_mark (ctx, PRIMA_PHASE_HEAD);
  }
  if (bad != NOT_FINITE_NONE) {
    set_not_finite_error (ctx, ctx->last, bad, error);
    return FALSE;
  }
  for (int t = 0; t < nb; t++)
    ctx->seqs[ctx->tok_seq[t]].n_cells = ctx->tok_cell[t] + 1;
  ctx->n_evaluated += nb;
  if (ctx->profiling)
    ctx->prof.n_tokens += nb;
  return TRUE;
}

static gboolean
check_input (prima_context *ctx, const int32_t *tokens, const float *hidden, GError **error)
{
  if (ctx->first == 0 ? tokens == NULL && hidden == NULL : hidden == NULL) {
    g_set_error (error, PRIMA_CONTEXT_ERROR, 0, "layer window [%d, %d) needs %s as input",
        ctx->first, ctx->last, ctx->first == 0 ? "token ids" : "hidden states");
    return FALSE;
  }
  return TRUE;
}

gboolean
prima_context_eval (prima_context *ctx, int n, const int32_t *tokens, const float *hidden,
    int pos0, float *out, gboolean all_logits, GError **error)
{
  const prima_hparams *hp = &ctx->hp;
  const gboolean has_head = prima_context_has_head (ctx);
  const size_t out_row = has_head ? (size_t) hp->n_vocab : (size_t) hp->n_embd;
  kv_seq *sq = &ctx->seqs[0];

  if (n <= 0)
    return TRUE;
  if (pos0 < 0) {
    g_set_error (error, PRIMA_CONTEXT_ERROR, 0, "position %d is negative", pos0);
    return FALSE;
  }
  /* evaluating at pos0 rolls the cache back to the positions before it */
  prima_context_kv_remove (ctx, pos0, -1);
  if (sq->n_cells + n > ctx->n_ctx) {
    g_set_error (error, PRIMA_CONTEXT_ERROR, 1, "context is full: %d positions requested, context holds %d",
        sq->n_cells + n, ctx->n_ctx);
    return FALSE;
  }
  if (!check_input (ctx, tokens, hidden, error))
    return FALSE;

  for (int done = 0; done < n; done += ctx->n_batch) {
    const int nb = MIN (ctx->n_batch, n - done);
    int n_rows = 0;
    float *o = out;
    for (int t = 0; t < nb; t++) {
      ctx->tok_seq[t] = 0;
      ctx->tok_pos[t] = pos0 + done + t;
      ctx->tok_cell[t] = sq->n_cells + t;
    }
    if (!has_head || all_logits) {
      o = out + (size_t) done * out_row;
      for (int t = 0; t < nb; t++)
        ctx->head_rows[n_rows++] = t;
    } else if (done + nb == n) {
      ctx->head_rows[n_rows++] = nb - 1;
    }
    if (!eval_chunk (ctx, nb, tokens ? tokens + done : NULL, hidden ? hidden + (size_t) done * hp->n_embd : NULL,
            n_rows, o, error))
      return FALSE;
  }
  return TRUE;
}

int
prima_context_n_seq (const prima_context *ctx)
{
  return ctx->n_seq;
}

gboolean
prima_context_eval_batch (prima_context *ctx, const prima_batch *batch, float *out, GError **error)
{
  const prima_hparams *hp = &ctx->hp;
  const gboolean has_head = prima_context_has_head (ctx);
  const int n = batch ? batch->n : 0;
  int *first_pos, *last_pos, *count, *next_cell;
  gboolean ok = FALSE;
  size_t out_rows = 0;

  if (n <= 0)
    return TRUE;
  if (batch->seq == NULL || batch->pos == NULL) {
    g_set_error (error, PRIMA_CONTEXT_ERROR, 0, "batch of %d tokens without sequences or positions", n);
    return FALSE;
  }
  if (!check_input (ctx, batch->tokens, batch->hidden, error))
    return FALSE;
  first_pos = g_new (int, ctx->n_seq);
  last_pos = g_new (int, ctx->n_seq);
  count = g_new0 (int, ctx->n_seq);
  next_cell = g_new (int, ctx->n_seq);
  /* everything is checked before the first cache changes */
  for (int i = 0; i < n; i++) {
    const int s = batch->seq[i], pos = batch->pos[i];
    if (s < 0 || s >= ctx->n_seq) {
      g_set_error (error, PRIMA_CONTEXT_ERROR, 0, "batch token %d: sequence %d is outside 0..%d", i, s,
          ctx->n_seq - 1);
      goto out;
    }
    if (pos < 0) {
      g_set_error (error, PRIMA_CONTEXT_ERROR, 0, "batch token %d: position %d is negative", i, pos);
      goto out;
    }
    if (count[s] > 0 && pos <= last_pos[s]) {
      g_set_error (error, PRIMA_CONTEXT_ERROR, 0, "batch token %d: position %d of sequence %d does not follow "
          "its position %d", i, pos, s, last_pos[s]);
      goto out;
    }
    if (ctx->first == 0 && batch->tokens && (batch->tokens[i] < 0 || batch->tokens[i] >= hp->n_vocab)) {
      g_set_error (error, PRIMA_CONTEXT_ERROR, 0, "batch token %d: token id %d is outside the vocabulary (0..%d)",
          i, batch->tokens[i], hp->n_vocab - 1);
      goto out;
    }
    if (count[s]++ == 0)
      first_pos[s] = pos;
    last_pos[s] = pos;
  }
  for (int s = 0; s < ctx->n_seq; s++) {
    const kv_seq *sq = &ctx->seqs[s];
    int kept = 0;
    if (count[s] == 0)
      continue;
    /* the cells that stay after the rollback to first_pos */
    for (int i = 0; i < sq->n_cells; i++)
      kept += sq->cell_pos[i] < first_pos[s];
    if (kept + count[s] > ctx->n_ctx) {
      g_set_error (error, PRIMA_CONTEXT_ERROR, 1, "context is full: sequence %d needs %d positions, it holds %d",
          s, kept + count[s], ctx->n_ctx);
      goto out;
    }
  }
  for (int s = 0; s < ctx->n_seq; s++) {
    if (count[s] > 0)
      prima_context_seq_kv_remove (ctx, s, first_pos[s], -1);
    next_cell[s] = ctx->seqs[s].n_cells;
  }

  for (int done = 0; done < n; done += ctx->n_batch) {
    const int nb = MIN (ctx->n_batch, n - done);
    int n_rows = 0;
    float *o;
    for (int t = 0; t < nb; t++) {
      const int i = done + t;
      ctx->tok_seq[t] = batch->seq[i];
      ctx->tok_pos[t] = batch->pos[i];
      ctx->tok_cell[t] = next_cell[batch->seq[i]]++;
      if (has_head && (batch->want == NULL || batch->want[i]))
        ctx->head_rows[n_rows++] = t;
    }
    o = out + out_rows * (has_head ? (size_t) hp->n_vocab : (size_t) hp->n_embd);
    if (!eval_chunk (ctx, nb, batch->tokens ? batch->tokens + done : NULL,
            batch->hidden ? batch->hidden + (size_t) done * hp->n_embd : NULL, n_rows, o, error))
      goto out;
    out_rows += has_head ? (size_t) n_rows : (size_t) nb;
  }
  ok = TRUE;
out:
  g_free (first_pos);
  g_free (last_pos);
  g_free (count);
  g_free (next_cell);
  return ok;
}

/* ---- KV cache operations ---- */

void
prima_context_seq_kv_clear (prima_context *ctx, int seq)
{
  g_return_if_fail (seq >= 0 && seq < ctx->n_seq);
  ctx->seqs[seq].n_cells = 0;
}

void
prima_context_kv_clear (prima_context *ctx)
{
  prima_context_seq_kv_clear (ctx, 0);
}

/* Keeps the cells for which keep[i], in order: K rows move down, and so do
 * the cells of V (each with its n_kv_dim values one chunk's row apart). */
static void
kv_compact (prima_context *ctx, kv_seq *sq, const gboolean *keep)
{
  const size_t krow = (size_t) ctx->n_kv_dim * sizeof (prima_fp16);
  int n = 0;

  for (int il = 0; il < ctx->last - ctx->first; il++) {
    prima_fp16 *kc = sq->k_cache[il], *vc = sq->v_cache[il];
    int j = 0;
    for (int i = 0; i < sq->n_cells; i++)
      if (keep[i]) {
        if (i != j)
          memcpy (kc + (size_t) j * ctx->n_kv_dim, kc + (size_t) i * ctx->n_kv_dim, krow);
        j++;
      }
    j = 0;
    for (int i = 0; i < sq->n_cells; i++)
      if (keep[i]) {
        if (i != j)
          for (int d = 0; d < ctx->n_kv_dim; d++)
            vc[prima_attn_v_index (j, d, ctx->n_kv_dim)] = vc[prima_attn_v_index (i, d, ctx->n_kv_dim)];
        j++;
      }
  }
  for (int i = 0; i < sq->n_cells; i++)
    if (keep[i])
      sq->cell_pos[n++] = sq->cell_pos[i];
  sq->n_cells = n;
}

static gboolean
in_range (int pos, int p0, int p1)
{
  return pos >= p0 && (p1 < 0 || pos < p1);
}

void
prima_context_seq_kv_remove (prima_context *ctx, int seq, int p0, int p1)
{
  kv_seq *sq;
  gboolean *keep;
  int first = -1;

  g_return_if_fail (seq >= 0 && seq < ctx->n_seq);
  sq = &ctx->seqs[seq];
  p0 = MAX (p0, 0);
  if (p1 >= 0 && p1 <= p0)
    return;
  for (int i = 0; i < sq->n_cells && first < 0; i++)
    if (in_range (sq->cell_pos[i], p0, p1))
      first = i;
  if (first < 0)
    return;
  /* the common case: the range is the tail (a rollback) */
  {
    gboolean tail = TRUE;
    for (int i = first; i < sq->n_cells && tail; i++)
      tail = in_range (sq->cell_pos[i], p0, p1);
    if (tail) {
      sq->n_cells = first;
      return;
    }
  }
  keep = g_new (gboolean, sq->n_cells);
  for (int i = 0; i < sq->n_cells; i++)
    keep[i] = !in_range (sq->cell_pos[i], p0, p1);
  kv_compact (ctx, sq, keep);
  g_free (keep);
}

void
prima_context_kv_remove (prima_context *ctx, int p0, int p1)
{
  prima_context_seq_kv_remove (ctx, 0, p0, p1);
}

void
prima_context_seq_kv_shift (prima_context *ctx, int seq, int p0, int p1, int delta)
{
  const prima_hparams *hp = &ctx->hp;
  const gboolean neox = hp->arch == PRIMA_ARCH_QWEN2;
  const int hd = hp->head_dim;
  float *cs, *row;
  gboolean *keep = NULL;
  int n_neg = 0;
  kv_seq *sq;

  g_return_if_fail (seq >= 0 && seq < ctx->n_seq);
  sq = &ctx->seqs[seq];
  if (delta == 0)
    return;
  /* rope(k, pos) rotated by delta is rope(k, pos + delta): RoPE angles are
   * linear in the position, so the cached keys are re-rotated in place (in
   * f32, stored back as f16, as llama.cpp's K shift does) */
  cs = g_new (float, hp->n_rot);
  row = g_new (float, ctx->n_kv_dim);
  rope_angles (ctx, delta, cs);
  for (int i = 0; i < sq->n_cells; i++) {
    if (!in_range (sq->cell_pos[i], p0, p1))
      continue;
    sq->cell_pos[i] += delta;
    if (sq->cell_pos[i] < 0) {
      n_neg++;
      continue;
    }
    for (int il = 0; il < ctx->last - ctx->first; il++) {
      prima_fp16 *k = sq->k_cache[il] + (size_t) i * ctx->n_kv_dim;
      for (int d = 0; d < ctx->n_kv_dim; d++)
        row[d] = prima_fp16_to_fp32 (k[d]);
      for (int h = 0; h < hp->n_head_kv; h++)
        rope_head (row + (size_t) h * hd, cs, hp->n_rot, neox);
      for (int d = 0; d < ctx->n_kv_dim; d++)
        k[d] = prima_fp32_to_fp16 (row[d]);
    }
  }
  /* cells shifted below position 0 are gone (as in llama.cpp) */
  if (n_neg > 0) {
    keep = g_new (gboolean, sq->n_cells);
    for (int i = 0; i < sq->n_cells; i++)
      keep[i] = sq->cell_pos[i] >= 0;
    kv_compact (ctx, sq, keep);
    g_free (keep);
  }
  g_free (cs);
  g_free (row);
}

void
prima_context_kv_shift (prima_context *ctx, int p0, int p1, int delta)
{
  prima_context_seq_kv_shift (ctx, 0, p0, p1, delta);
}

int
prima_context_seq_kv_n_cells (const prima_context *ctx, int seq)
{
  g_return_val_if_fail (seq >= 0 && seq < ctx->n_seq, 0);
  return ctx->seqs[seq].n_cells;
}

int
prima_context_seq_kv_pos_max (const prima_context *ctx, int seq)
{
  int m = -1;
  g_return_val_if_fail (seq >= 0 && seq < ctx->n_seq, -1);
  for (int i = 0; i < ctx->seqs[seq].n_cells; i++)
    m = MAX (m, ctx->seqs[seq].cell_pos[i]);
  return m;
}

int
prima_context_kv_n_cells (const prima_context *ctx)
{
  return prima_context_seq_kv_n_cells (ctx, 0);
}

int
prima_context_kv_pos_max (const prima_context *ctx)
{
  return prima_context_seq_kv_pos_max (ctx, 0);
}

gboolean
prima_logits_write (const char *path, const float *logits, size_t n)
{
  FILE *f = fopen (path, "wb");
  if (f == NULL)
    return FALSE;
  if (fwrite (logits, sizeof (float), n, f) != n) {
    const int e = errno ? errno : EIO;
    fclose (f);
    errno = e;
    return FALSE;
  }
  return fclose (f) == 0;
}
