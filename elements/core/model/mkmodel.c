/* gst-prima: random-weight model files of real shapes.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Weights are generated row by row from a seed, the tensor name and the row
 * index, so the output does not depend on the number of threads, and each
 * row is quantized as soon as it exists. Rows are spread over the CPUs; the
 * GGUF writer writes the previous tensor meanwhile.
 */
#include "mkmodel.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "tensor-types.h"
#include "quants.h"
#include "fp16.h"

G_STATIC_ASSERT (sizeof (float) == 4);

/* ---- shapes, types ---- */

static const struct {
  const char *name;
  int64_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx;
  gboolean qwen2_tied;          /* Qwen2.5 ties embeddings up to 3B */
} presets[] = {
  {"tiny", 256, 4, 8, 4, 768, 2048, TRUE},
  {"1b", 2048, 16, 32, 8, 8192, 131072, TRUE},      /* Llama-3.2-1B */
  {"8b", 4096, 32, 32, 8, 14336, 8192, FALSE},      /* Llama-3-8B */
  {"14b", 5120, 48, 40, 8, 13824, 32768, FALSE},    /* Qwen2.5-14B */
  {"32b", 5120, 64, 40, 8, 27648, 32768, FALSE},    /* Qwen2.5-32B */
  {"70b", 8192, 80, 64, 8, 28672, 8192, FALSE},     /* Llama-3-70B */
};

/* general.file_type ids are llama.cpp's enum llama_ftype (format facts). */
static const struct {
  const char *name;
  uint32_t ftype;
  prima_type base;
  gboolean mix;                 /* llama.cpp's _M mix on top of base */
} file_types[] = {
  {"F32", 0, PRIMA_TYPE_F32, FALSE},
  {"F16", 1, PRIMA_TYPE_F16, FALSE},
  {"Q4_0", 2, PRIMA_TYPE_Q4_0, FALSE},
  {"Q4_1", 3, PRIMA_TYPE_Q4_1, FALSE},
  {"Q8_0", 7, PRIMA_TYPE_Q8_0, FALSE},
  {"Q5_0", 8, PRIMA_TYPE_Q5_0, FALSE},
  {"Q5_1", 9, PRIMA_TYPE_Q5_1, FALSE},
  {"Q2_K", 10, PRIMA_TYPE_Q2_K, FALSE},
  {"Q3_K", 11, PRIMA_TYPE_Q3_K, FALSE},
  {"Q4_K", 14, PRIMA_TYPE_Q4_K, FALSE},
  {"Q4_K_M", 15, PRIMA_TYPE_Q4_K, TRUE},
  {"Q5_K", 16, PRIMA_TYPE_Q5_K, FALSE},
  {"Q5_K_M", 17, PRIMA_TYPE_Q5_K, TRUE},
  {"Q6_K", 18, PRIMA_TYPE_Q6_K, FALSE},
  {"IQ2_XXS", 19, PRIMA_TYPE_IQ2_XXS, FALSE},
  {"IQ2_XS", 20, PRIMA_TYPE_IQ2_XS, FALSE},
  {"IQ3_XXS", 23, PRIMA_TYPE_IQ3_XXS, FALSE},
  {"IQ1_S", 24, PRIMA_TYPE_IQ1_S, FALSE},
  {"IQ4_NL", 25, PRIMA_TYPE_IQ4_NL, FALSE},
  {"IQ3_S", 26, PRIMA_TYPE_IQ3_S, FALSE},
  {"IQ2_S", 28, PRIMA_TYPE_IQ2_S, FALSE},
  {"IQ4_XS", 30, PRIMA_TYPE_IQ4_XS, FALSE},
  {"IQ1_M", 31, PRIMA_TYPE_IQ1_M, FALSE},
  {"BF16", 32, PRIMA_TYPE_BF16, FALSE},
};

static int
find_file_type (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (file_types); i++)
    if (g_ascii_strcasecmp (name, file_types[i].name) == 0)
      return (int) i;
  return -1;
}

gboolean
prima_mk_arch_from_name (const char *name, prima_mk_arch *out)
{
  if (g_ascii_strcasecmp (name, "llama") == 0)
    *out = PRIMA_MK_ARCH_LLAMA;
  else if (g_ascii_strcasecmp (name, "qwen2") == 0)
    *out = PRIMA_MK_ARCH_QWEN2;
  else
    return FALSE;
  return TRUE;
}

const char *
prima_mk_arch_name (prima_mk_arch arch)
{
  return arch == PRIMA_MK_ARCH_QWEN2 ? "qwen2" : "llama";
}

gboolean
prima_mk_preset (const char *preset, prima_mk_arch arch, prima_mk_params *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (presets); i++) {
    if (g_ascii_strcasecmp (preset, presets[i].name) != 0)
      continue;
    memset (out, 0, sizeof *out);
    out->arch = arch;
    out->n_embd = presets[i].n_embd;
    out->n_layer = presets[i].n_layer;
    out->n_head = presets[i].n_head;
    out->n_head_kv = presets[i].n_head_kv;
    out->n_ff = presets[i].n_ff;
    out->n_ctx = presets[i].n_ctx;
    out->tied_output = arch == PRIMA_MK_ARCH_QWEN2 && presets[i].qwen2_tied;
    g_strlcpy (out->file_type, "Q4_K_M", sizeof out->file_type);
    out->seed = 1;
    return TRUE;
  }
  return FALSE;
}

gboolean
prima_mk_file_type_id (const char *file_type, uint32_t *out)
{
  int k = find_file_type (file_type);
  if (k < 0)
    return FALSE;
  *out = file_types[k].ftype;
  return TRUE;
}

/* llama.cpp spends more bits on the first and last eighth of the layers and
 * every third one between. */
static gboolean
use_more_bits (int64_t i, int64_t n)
{
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

gboolean
prima_mk_tensor_type (const char *file_type, const char *name, int64_t layer, int64_t n_layer,
    gboolean tied_output, uint32_t *out)
{
  int k = find_file_type (file_type);
  if (k < 0)
    return FALSE;
  if (g_str_has_suffix (name, "_norm.weight") || g_str_has_suffix (name, ".bias")) {
    *out = PRIMA_TYPE_F32;
    return TRUE;
  }
  *out = file_types[k].base;
  if (!file_types[k].mix)
    return TRUE;
  /* With tied embeddings token_embd is also the output head: it gets the
   * output's type, as llama.cpp does. */
  if (strcmp (name, "output.weight") == 0 || (tied_output && strcmp (name, "token_embd.weight") == 0))
    *out = PRIMA_TYPE_Q6_K;
  else if ((g_str_has_suffix (name, ".attn_v.weight") || g_str_has_suffix (name, ".ffn_down.weight"))
      && use_more_bits (layer, n_layer))
    *out = PRIMA_TYPE_Q6_K;
  return TRUE;
}

/* ---- random weights ---- */

static uint64_t
splitmix64 (uint64_t *s)
{
  uint64_t z = (*s += G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static uint64_t
fnv1a (const char *s)
{
  uint64_t h = G_GUINT64_CONSTANT (0xcbf29ce484222325);
  for (; *s; s++)
    h = (h ^ (uint8_t) *s) * G_GUINT64_CONSTANT (0x100000001b3);
  return h;
}

/* One row of normal-ish values (Irwin-Hall sum of four uniforms, rescaled
 * to unit variance): cheap, bounded, good enough for random weights. */
static void
random_row (uint64_t seed, float std, float *y, int64_t n)
{
  uint64_t s = seed, x = splitmix64 (&s) | 1;
  const float scale = std * 1.7320508f / 65536.0f;
  for (int64_t i = 0; i < n; i++) {
    uint64_t a, b;
    /* xorshift64* */
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    a = x * G_GUINT64_CONSTANT (2685821657736338717);
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    b = x * G_GUINT64_CONSTANT (2685821657736338717);
    {
      int64_t sum = (int64_t) (a >> 48) + (int64_t) ((a >> 16) & 0xffff)
          + (int64_t) (b >> 48) + (int64_t) ((b >> 16) & 0xffff);
      y[i] = (float) (sum - 2 * 65536 + 2) * scale;
    }
  }
}

/* ---- fast K-quant quantizers ----
 * The library's Q4_K/Q5_K/Q6_K quantizers search a grid of scales for every
 * sub-block (least squares), which makes a 14B model take most of an hour on
 * a small machine. For random weights the search buys nothing measurable, so
 * these are one-pass quantizers: the range of each sub-block gives its scale
 * (and min), the sub-block scales are themselves quantized to the format's
 * 6 or 8 bits against the super-block maximum, and the values are rounded
 * against the scales as they will decode. Same block layouts, same decoder. */

static inline int
round_clamp (float v, int lo, int hi)
{
  int q = (int) lrintf (v);
  return q < lo ? lo : q > hi ? hi : q;
}

/* Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-blocks of 32, x ~ d*sc*q - dmin*m. */
static void
fast_k4_superblock (const float *x, int nmax, prima_fp16 *d_out, prima_fp16 *dmin_out, uint8_t *packed,
    uint8_t *L)
{
  float scale[8], mn[8], max_scale = 0, max_min = 0;
  uint8_t ls[8], lm[8];
  for (int j = 0; j < 8; j++) {
    float lo = x[32 * j], hi = lo;
    for (int l = 1; l < 32; l++) {
      lo = MIN (lo, x[32 * j + l]);
      hi = MAX (hi, x[32 * j + l]);
    }
    lo = MIN (lo, 0.0f);        /* the min is stored as a subtracted, unsigned offset */
    scale[j] = (hi - lo) / nmax;
    mn[j] = -lo;
    max_scale = MAX (max_scale, scale[j]);
    max_min = MAX (max_min, mn[j]);
  }
  {
    const float ds = max_scale / 63, dm = max_min / 63;
    for (int j = 0; j < 8; j++) {
      ls[j] = ds > 0 ? (uint8_t) round_clamp (scale[j] / ds, 0, 63) : 0;
      lm[j] = dm > 0 ? (uint8_t) round_clamp (mn[j] / dm, 0, 63) : 0;
    }
    *d_out = prima_fp32_to_fp16 (ds);
    *dmin_out = prima_fp32_to_fp16 (dm);
  }
  memset (packed, 0, K_SCALE_SIZE);
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      packed[j] = ls[j];
      packed[j + 4] = lm[j];
    } else {
      packed[j + 4] = (uint8_t) ((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
      packed[j - 4] |= (uint8_t) ((ls[j] >> 4) << 6);
      packed[j] |= (uint8_t) ((lm[j] >> 4) << 6);
    }
  }
  {
    const float d = prima_fp16_to_fp32 (*d_out), dmin = prima_fp16_to_fp32 (*dmin_out);
    for (int j = 0; j < 8; j++) {
      const float dl = d * ls[j], ml = dmin * lm[j];
      const float inv = dl > 0 ? 1.0f / dl : 0.0f;
      for (int l = 0; l < 32; l++)
        L[32 * j + l] = (uint8_t) round_clamp ((x[32 * j + l] + ml) * inv, 0, nmax);
    }
  }
}

static void
fast_quantize_q4_K (const float *x, void *vy, int64_t n)
{
  block_q4_K *y = vy;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    fast_k4_superblock (x, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 32; l++)
        y[i].qs[32 * j + l] = (uint8_t) (L[64 * j + l] | (L[64 * j + 32 + l] << 4));
  }
}

static void
fast_quantize_q5_K (const float *x, void *vy, int64_t n)
{
  block_q5_K *y = vy;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    fast_k4_superblock (x, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
    memset (y[i].qh, 0, sizeof y[i].qh);
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 32; l++) {
        const int a = L[64 * j + l], b = L[64 * j + 32 + l];
        y[i].qs[32 * j + l] = (uint8_t) ((a & 0xF) | ((b & 0xF) << 4));
        y[i].qh[l] |= (uint8_t) (((a >> 4) << (2 * j)) | ((b >> 4) << (2 * j + 1)));
      }
  }
}

/* Q6_K: 16 sub-blocks of 16, symmetric, x ~ d*sc*q with q in [-32, 31]. */
static void
fast_quantize_q6_K (const float *x, void *vy, int64_t n)
{
  block_q6_K *y = vy;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    float scale[16], amax_scale = 0;
    for (int j = 0; j < 16; j++) {
      float amax = 0;
      for (int l = 0; l < 16; l++)
        amax = MAX (amax, fabsf (x[16 * j + l]));
      scale[j] = amax / 31;
      amax_scale = MAX (amax_scale, scale[j]);
    }
    {
      const float ds = amax_scale / 127;
      float d;
      y[i].d = prima_fp32_to_fp16 (ds);
      d = prima_fp16_to_fp32 (y[i].d);
      for (int j = 0; j < 16; j++) {
        const int sc = ds > 0 ? round_clamp (scale[j] / ds, -128, 127) : 0;
        const float dl = d * sc, inv = dl != 0.0f ? 1.0f / dl : 0.0f;
        y[i].scales[j] = (int8_t) sc;
        for (int l = 0; l < 16; l++)
          L[16 * j + l] = (uint8_t) (round_clamp (x[16 * j + l] * inv, -32, 31) + 32);
      }
    }
    for (int h = 0; h < 2; h++) {
      uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
      const uint8_t *Lh = L + 128 * h;
      for (int l = 0; l < 32; l++) {
        ql[l] = (uint8_t) ((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
        ql[l + 32] = (uint8_t) ((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
        qh[l] = (uint8_t) ((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2)
            | ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
}

/* The quantizer mkmodel uses for type: the fast one where there is one,
 * unless the searching one was asked for. */
static prima_from_float_fn
weight_quantizer (uint32_t type, gboolean search)
{
  if (!search) {
    switch (type) {
      case PRIMA_TYPE_Q4_K:
        return fast_quantize_q4_K;
      case PRIMA_TYPE_Q5_K:
        return fast_quantize_q5_K;
      case PRIMA_TYPE_Q6_K:
        return fast_quantize_q6_K;
      default:
        break;
    }
  }
  return prima_type_get_traits (type)->from_float;
}

typedef enum {
  KIND_WEIGHT,
  KIND_NORM,
  KIND_BIAS,
} tensor_kind;

typedef struct mk_job mk_job;

typedef struct {
  char *name;
  uint32_t type;
  uint32_t n_dims;
  int64_t ne[2];
  tensor_kind kind;
  float std;
  size_t size;
  mk_job *job;
} mk_tensor;

struct mk_job {
  const prima_mk_params *p;
  GPtrArray *tensors;           /* mk_tensor * */
  uint64_t total_bytes;
  uint64_t done_bytes;
  int n_done;
  int n_threads;
  gint64 start_us;
};

typedef struct {
  const mk_tensor *t;
  uint8_t *dst;
  int64_t row_begin, row_end;
} row_range;

static void
fill_rows (const mk_tensor *t, uint8_t *dst, int64_t r0, int64_t r1)
{
  const prima_from_float_fn quantize = weight_quantizer (t->type, t->job->p->search_quant);
  size_t row_size = prima_row_size (t->type, t->ne[0]);
  float *row = t->type == PRIMA_TYPE_F32 ? NULL : g_new (float, t->ne[0]);
  uint64_t base = t->job->p->seed * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15) ^ fnv1a (t->name);

  for (int64_t r = r0; r < r1; r++) {
    uint8_t *out = dst + (size_t) r * row_size;
    /* F32 rows are generated in place. */
    float *y = row != NULL ? row : (float *) (void *) out;
    if (t->kind == KIND_NORM) {
      for (int64_t i = 0; i < t->ne[0]; i++)
        y[i] = 1.0f;
    } else {
      uint64_t s = base + (uint64_t) r * G_GUINT64_CONSTANT (0xD1B54A32D192ED03);
      random_row (splitmix64 (&s), t->std, y, t->ne[0]);
    }
    if (row != NULL)
      quantize (row, out, t->ne[0]);
  }
  g_free (row);
}

static gpointer
fill_rows_thread (gpointer data)
{
  row_range *rr = data;
  fill_rows (rr->t, rr->dst, rr->row_begin, rr->row_end);
  return NULL;
}

static void
report_progress (mk_job *job, const mk_tensor *t)
{
  prima_mk_progress pr = { 0 };
  if (job->p->progress == NULL)
    return;
  pr.file_type = job->p->file_type;
  pr.n_layer = job->p->n_layer;
  pr.n_embd = job->p->n_embd;
  pr.n_threads = job->n_threads;
  pr.n_done = job->n_done;
  pr.n_tensors = job->tensors->len;
  pr.done_bytes = job->done_bytes;
  pr.total_bytes = job->total_bytes;
  pr.seconds = job->start_us ? (g_get_monotonic_time () - job->start_us) / 1e6 : 0;
  pr.tensor = t ? t->name : NULL;
  job->p->progress (&pr, job->p->progress_data);
}

static gboolean
fill_tensor (void *buf, size_t size, gpointer user_data, GError **error)
{
  mk_tensor *t = user_data;
  mk_job *job = t->job;
  int64_t nrows = t->ne[1];
  /* Small tensors are not worth a thread. */
  int n = (int) MIN ((int64_t) job->n_threads, MAX ((int64_t) 1, nrows * t->ne[0] / 65536));

  g_assert (size == t->size);
  if (n <= 1) {
    fill_rows (t, buf, 0, nrows);
  } else {
    row_range *rr = g_new (row_range, n);
    GThread **th = g_new (GThread *, n);
    for (int i = 0; i < n; i++) {
      rr[i] = (row_range) { t, buf, nrows * i / n, nrows * (i + 1) / n };
      th[i] = i == 0 ? NULL : g_thread_new ("mkmodel", fill_rows_thread, &rr[i]);
    }
    fill_rows_thread (&rr[0]);
    for (int i = 1; i < n; i++)
      g_thread_join (th[i]);
    g_free (th);
    g_free (rr);
  }
  job->done_bytes += size;
  job->n_done++;
  report_progress (job, t);
  return TRUE;
}

static void
mk_tensor_free (gpointer p)
{
  mk_tensor *t = p;
  g_free (t->name);
  g_free (t);
}

static gboolean
add_tensor (mk_job *job, const char *name, int64_t layer, int64_t ne0, int64_t ne1, tensor_kind kind,
    float std, GError **error)
{
  const prima_mk_params *p = job->p;
  mk_tensor *t = g_new0 (mk_tensor, 1);
  const prima_type_traits *tr;

  t->name = g_strdup (name);
  t->kind = kind;
  t->std = std;
  t->ne[0] = ne0;
  t->ne[1] = ne1;
  t->n_dims = ne1 > 1 || kind == KIND_WEIGHT ? 2 : 1;
  t->job = job;
  g_ptr_array_add (job->tensors, t);
  if (!prima_mk_tensor_type (p->file_type, name, layer, p->n_layer, p->tied_output, &t->type)) {
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_MISSING, "unknown file type '%s'", p->file_type);
    return FALSE;
  }
  tr = prima_type_get_traits (t->type);
  t->size = prima_row_size (t->type, ne0);
  if (tr == NULL || t->size == 0) {
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_FORMAT,
        "tensor %s: row length %" PRId64 " is not a multiple of the %s block size %" PRId64, name, ne0,
        prima_type_name (t->type), tr ? tr->blck_size : 0);
    return FALSE;
  }
  if (t->type != PRIMA_TYPE_F32 && tr->from_float == NULL) {
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_MISSING,
        "no quantizer for type %s yet (tensor %s)", tr->name, name);
    return FALSE;
  }
  t->size *= (size_t) ne1;
  job->total_bytes += t->size;
  return TRUE;
}

static gboolean
check_shape (const prima_mk_params *p, GError **error)
{
  const char *bad = NULL;
  if (p->n_embd <= 0 || p->n_layer <= 0 || p->n_head <= 0 || p->n_head_kv <= 0 || p->n_ff <= 0
      || p->n_ctx <= 0)
    bad = "every dimension must be positive";
  else if (p->n_layer > 100000 || p->n_embd > (1 << 20) || p->n_ff > (1 << 22) || p->n_ctx > G_MAXUINT32)
    bad = "a dimension is implausibly large";
  else if (p->n_embd % p->n_head != 0)
    bad = "n_embd must be a multiple of n_head";
  else if (p->n_head % p->n_head_kv != 0)
    bad = "n_head must be a multiple of n_head_kv";
  else if ((p->n_embd / p->n_head) % 2 != 0)
    bad = "the head size n_embd/n_head must be even (RoPE rotates pairs)";
  if (bad != NULL)
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_FORMAT, "bad shape (n_embd %" PRId64
        ", n_layer %" PRId64 ", n_head %" PRId64 ", n_head_kv %" PRId64 ", n_ff %" PRId64 "): %s",
        p->n_embd, p->n_layer, p->n_head, p->n_head_kv, p->n_ff, bad);
  return bad == NULL;
}

gboolean
prima_mk_write (const prima_mk_params *p, const char *vocab_path, const char *out_path, GError **error)
{
  const char *arch = prima_mk_arch_name (p->arch);
  gboolean qwen2 = p->arch == PRIMA_MK_ARCH_QWEN2;
  int64_t n_embd_kv, n_vocab, tokens_id;
  gguf_file *vocab;
  gguf_writer *w = NULL;
  mk_job job = { 0 };
  gboolean ok = FALSE, quantized = FALSE;
  uint32_t ftype;
  char key[128], name[128];
  /* Scales that keep the residual stream sane: projections read normalized
   * inputs (std 1), so std ~ 1/sqrt(fan_in) gives unit outputs; the two
   * projections back into the residual stream are shrunk by the depth. */
  float in_std = 1.0f / sqrtf ((float) p->n_embd);
  float out_std = in_std / sqrtf (2.0f * (float) p->n_layer);
  float down_std = 1.0f / sqrtf ((float) p->n_ff) / sqrtf (2.0f * (float) p->n_layer);

  if (!prima_mk_file_type_id (p->file_type, &ftype)) {
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_MISSING, "unknown file type '%s'", p->file_type);
    return FALSE;
  }
  if (!check_shape (p, error))
    return FALSE;
  n_embd_kv = p->n_embd / p->n_head * p->n_head_kv;

  vocab = gguf_open (vocab_path, error);
  if (vocab == NULL)
    return FALSE;
  tokens_id = gguf_find_key (vocab, "tokenizer.ggml.tokens");
  if (tokens_id < 0 || gguf_kv_type (vocab, tokens_id) != GGUF_TYPE_ARRAY
      || gguf_arr_type (vocab, tokens_id) != GGUF_TYPE_STRING || gguf_arr_n (vocab, tokens_id) == 0) {
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_MISSING,
        "%s: no vocabulary (tokenizer.ggml.tokens string array)", vocab_path);
    gguf_close (vocab);
    return FALSE;
  }
  n_vocab = (int64_t) gguf_arr_n (vocab, tokens_id);

  job.p = p;
  job.tensors = g_ptr_array_new_with_free_func (mk_tensor_free);
  job.n_threads = (int) MAX (1u, g_get_num_processors ());

  /* Tensor list, in llama.cpp's order. */
  if (!add_tensor (&job, "token_embd.weight", -1, p->n_embd, n_vocab, KIND_WEIGHT, 0.02f, error)
      || !add_tensor (&job, "output_norm.weight", -1, p->n_embd, 1, KIND_NORM, 0, error)
      || (!p->tied_output
          && !add_tensor (&job, "output.weight", -1, p->n_embd, n_vocab, KIND_WEIGHT, in_std, error)))
    goto out;
  for (int64_t i = 0; i < p->n_layer; i++) {
    static const char *const suffix[] = {
      "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down",
    };
    const int64_t ne0[] = { p->n_embd, p->n_embd, p->n_embd, p->n_embd, p->n_embd, p->n_embd, p->n_embd,
      p->n_embd, p->n_ff };
    const int64_t ne1[] = { 1, p->n_embd, n_embd_kv, n_embd_kv, p->n_embd, 1, p->n_ff, p->n_ff, p->n_embd };
    const float std[] = { 0, in_std, in_std, in_std, out_std, 0, in_std, in_std, down_std };
    for (guint k = 0; k < G_N_ELEMENTS (suffix); k++) {
      tensor_kind kind = g_str_has_suffix (suffix[k], "_norm") ? KIND_NORM : KIND_WEIGHT;
      g_snprintf (name, sizeof name, "blk.%" PRId64 ".%s.weight", i, suffix[k]);
      if (!add_tensor (&job, name, i, ne0[k], ne1[k], kind, std[k], error))
        goto out;
      /* Qwen2's q/k/v biases follow their weights. */
      if (qwen2 && k >= 1 && k <= 3) {
        g_snprintf (name, sizeof name, "blk.%" PRId64 ".%s.bias", i, suffix[k]);
        if (!add_tensor (&job, name, i, ne1[k], 1, KIND_BIAS, 0.02f, error))
          goto out;
      }
    }
  }

  w = gguf_writer_new ();
  gguf_writer_set_str (w, "general.architecture", arch);
  g_snprintf (name, sizeof name, "prima-mkmodel %s %" PRId64 "x%" PRId64 " %s", arch, p->n_layer, p->n_embd,
      p->file_type);
  gguf_writer_set_str (w, "general.name", name);
#define ARCH_KEY(suffix) (g_snprintf (key, sizeof key, "%s." suffix, arch), key)
  gguf_writer_set_u32 (w, ARCH_KEY ("context_length"), (uint32_t) p->n_ctx);
  gguf_writer_set_u32 (w, ARCH_KEY ("embedding_length"), (uint32_t) p->n_embd);
  gguf_writer_set_u32 (w, ARCH_KEY ("block_count"), (uint32_t) p->n_layer);
  gguf_writer_set_u32 (w, ARCH_KEY ("feed_forward_length"), (uint32_t) p->n_ff);
  gguf_writer_set_u32 (w, ARCH_KEY ("attention.head_count"), (uint32_t) p->n_head);
  gguf_writer_set_u32 (w, ARCH_KEY ("attention.head_count_kv"), (uint32_t) p->n_head_kv);
  gguf_writer_set_f32 (w, ARCH_KEY ("attention.layer_norm_rms_epsilon"), qwen2 ? 1e-6f : 1e-5f);
  gguf_writer_set_f32 (w, ARCH_KEY ("rope.freq_base"), qwen2 ? 1e6f : 500000.0f);
  gguf_writer_set_u32 (w, ARCH_KEY ("rope.dimension_count"), (uint32_t) (p->n_embd / p->n_head));
  gguf_writer_set_u32 (w, "general.file_type", ftype);
  gguf_writer_set_u32 (w, ARCH_KEY ("vocab_size"), (uint32_t) n_vocab);
#undef ARCH_KEY
  for (int64_t i = 0; i < gguf_n_kv (vocab); i++)
    if (g_str_has_prefix (gguf_key (vocab, i), "tokenizer."))
      gguf_writer_copy_kv (w, vocab, i);
  for (guint i = 0; i < job.tensors->len; i++) {
    mk_tensor *t = g_ptr_array_index (job.tensors, i);
    quantized |= t->type != PRIMA_TYPE_F32 && t->type != PRIMA_TYPE_F16 && t->type != PRIMA_TYPE_BF16;
    gguf_writer_add_tensor (w, t->name, t->type, t->n_dims, t->ne, fill_tensor, t);
  }
  if (quantized)
    gguf_writer_set_u32 (w, "general.quantization_version", 2);
  /* The vocabulary is copied: its mapping can go before the long write. */
  gguf_close (vocab);
  vocab = NULL;

  if (p->progress) {
    prima_mk_progress plan = {
      .arch = arch, .file_type = p->file_type, .out_path = out_path, .n_layer = p->n_layer, .n_embd = p->n_embd,
      .n_vocab = n_vocab, .n_threads = job.n_threads, .n_tensors = job.tensors->len,
      .total_bytes = job.total_bytes,
    };
    p->progress (&plan, p->progress_data);
  }
  job.start_us = g_get_monotonic_time ();
  ok = gguf_writer_write (w, out_path, error);

out:
  gguf_writer_free (w);
  gguf_close (vocab);
  g_ptr_array_unref (job.tensors);
  return ok;
}
