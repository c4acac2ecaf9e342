/* Decode attention kernels: attention.h. */
#include "attention.h"
#include "tensor-types.h"
#include <glib.h>
#include <math.h>

void
prima_attn_ref (const float *q, const prima_fp16 *k, size_t k_stride, const prima_fp16 *v, size_t v_stride,
    int head_dim, int n_kv, float *scores, prima_fp16 *q16, prima_fp16 *p16, float *out)
{
  const prima_type_traits *f16 = prima_type_get_traits (PRIMA_TYPE_F16);
  const float scale = 1.0f / sqrtf ((float) head_dim);
  float max = -INFINITY;
  double sum = 0.0;

  for (int d = 0; d < head_dim; d++)
    q16[d] = prima_fp32_to_fp16 (q[d]);
  for (int j = 0; j < n_kv; j++) {
    float sc;
    f16->vec_dot (head_dim, &sc, k + (size_t) j * k_stride, q16);
    scores[j] = sc * scale;
    max = MAX (max, scores[j]);
  }
  for (int j = 0; j < n_kv; j++) {
    scores[j] = expf (scores[j] - max);
    sum += scores[j];
  }
  const float inv = (float) (1.0 / sum);
  for (int j = 0; j < n_kv; j++)
    p16[j] = prima_fp32_to_fp16 (scores[j] * inv);
  for (int d = 0; d < head_dim; d++)
    f16->vec_dot (n_kv, &out[d], v + (size_t) d * v_stride, p16);
}

/* exp(x) for x <= 0 (a score minus the max), branch-free so the loops
 * vectorize: x = n ln 2 + r, |r| <= ln 2 / 2, a degree-6 polynomial for
 * e^r (Cephes expf, about 1 ulp), times 2^n. Below -87 (where e^x is under
 * the smallest normal float, and F16 rounds any probability to 0 long
 * before) it returns e^-87. */
static inline float
exp_neg (float x)
{
  const float magic = 12582912.0f;   /* 1.5 * 2^23: adding it rounds to an integer */
  x = x < -87.0f ? -87.0f : x;
  const float n = (x * 1.44269504088896341f + magic) - magic;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * prima_fp32_from_bits ((uint32_t) ((int32_t) n + 127) << 23);
}

/* With an ISA's clone, the softmax loops (max, exp, sum, F16 rounding) run
 * in vectors. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define ATTN_CLONES __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ATTN_CLONES
#endif

/* The prefetch distance of the scalar path's K rows, in cells. */
#define ATTN_PREFETCH_ROWS 8

ATTN_CLONES void
prima_attn_chunk (const prima_fp16 *q16, int n_kvh, int n_group, const prima_fp16 *k, size_t k_stride,
    const prima_fp16 *v, size_t v_stride, int head_dim, int n, float *qf, float *scores, prima_fp16 *p16,
    float *out, size_t out_stride, size_t out_head_stride, float *m, double *s, size_t ms_head_stride)
{
  const prima_type_traits *f16 = prima_type_get_traits (PRIMA_TYPE_F16);
  const float scale = 1.0f / sqrtf ((float) head_dim);
  const int n_q = n_kvh * n_group;
  gboolean avx512 = FALSE;

#if defined(__x86_64__)
  avx512 = prima_active_isa () >= PRIMA_ISA_AVX512;
#endif
  (void) avx512;
  (void) qf;
  /* scores: each K row read once, whole, for every query head */
#if defined(__x86_64__)
  if (avx512 && head_dim % 16 == 0 && head_dim <= 256 && n_group <= 16) {
    for (int i = 0; i < n_q * head_dim; i++)
      qf[i] = prima_fp16_to_fp32 (q16[i]);
    prima_attn_scores_avx512 (qf, n_kvh, n_group, k, k_stride, head_dim, n, scale, scores, n);
  } else
#endif
  {
    for (int j = 0; j < n; j++) {
      const prima_fp16 *kr = k + (size_t) j * k_stride;
      if (j + ATTN_PREFETCH_ROWS < n)
        for (int b = 0; b < n_kvh * head_dim; b += 32)
          __builtin_prefetch (kr + ATTN_PREFETCH_ROWS * k_stride + b);
      for (int q = 0; q < n_q; q++) {
        float sc;
        f16->vec_dot (head_dim, &sc, kr + (size_t) (q / n_group) * head_dim, q16 + (size_t) q * head_dim);
        scores[(size_t) q * n + j] = sc * scale;
      }
    }
  }
  for (int q = 0; q < n_q; q++) {
    float *sg = scores + (size_t) q * n, max = -INFINITY, mx[8];
    prima_fp16 *pg = p16 + (size_t) q * n;
    double sum = 0.0, acc[8] = { 0 };
    int j = 0;
    for (int l = 0; l < 8; l++)
      mx[l] = -INFINITY;
    for (; j + 8 <= n; j += 8)
      for (int l = 0; l < 8; l++)
        mx[l] = mx[l] > sg[j + l] ? mx[l] : sg[j + l];
    for (; j < n; j++)
      max = MAX (max, sg[j]);
    for (int l = 0; l < 8; l++)
      max = MAX (max, mx[l]);
    for (j = 0; j < n; j++)
#ifdef ATTN_LIBM_EXP
      sg[j] = expf (sg[j] - max);
#else
      sg[j] = exp_neg (sg[j] - max);
#endif
    for (j = 0; j + 8 <= n; j += 8)
      for (int l = 0; l < 8; l++)
        acc[l] += sg[j + l];
    for (; j < n; j++)
      sum += sg[j];
    sum += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    const float inv = (float) (1.0 / sum);
    /* the probabilities in F16, and (for the AVX-512 values) the same
     * values as floats in place of the scores */
#if defined(__x86_64__)
    if (avx512)
      prima_attn_probs_avx512 (sg, n, inv, pg);
    else
#endif
      for (int j = 0; j < n; j++) {
        pg[j] = prima_fp32_to_fp16 (sg[j] * inv);
        sg[j] = prima_fp16_to_fp32 (pg[j]);
      }
    const size_t ms = (size_t) (q / n_group) * ms_head_stride + q % n_group;
    if (m)
      m[ms] = max;
    if (s)
      s[ms] = sum;
  }
  /* each V segment once, for every head of the group; a KV head's V rows of
   * the chunk are one contiguous block */
  for (int h = 0; h < n_kvh; h++) {
    const prima_fp16 *vh = v + (size_t) h * head_dim * v_stride;
    float *oh = out + (size_t) h * out_head_stride;
#if defined(__x86_64__)
    if (avx512)
      prima_attn_values_avx512 (scores + (size_t) h * n_group * n, n_group, vh, v_stride, head_dim, n, oh,
          out_stride);
    else
#endif
      for (int d = 0; d < head_dim; d++)
        for (int g = 0; g < n_group; g++)
          f16->vec_dot (n, &oh[(size_t) g * out_stride + d], vh + (size_t) d * v_stride,
              p16 + (size_t) (h * n_group + g) * n);
  }
}

void
prima_attn_merge (int head_dim, int n_chunks, const float *parts, size_t part_stride, const float *m,
    const double *s, size_t ms_stride, float *out)
{
  float max = -INFINITY;
  double total = 0.0;
  for (int c = 0; c < n_chunks; c++)
    max = MAX (max, m[(size_t) c * ms_stride]);
  for (int c = 0; c < n_chunks; c++)
    total += s[(size_t) c * ms_stride] * exp ((double) m[(size_t) c * ms_stride] - max);
  for (int d = 0; d < head_dim; d++)
    out[d] = 0.0f;
  for (int c = 0; c < n_chunks; c++) {
    const float w = (float) (s[(size_t) c * ms_stride] * exp ((double) m[(size_t) c * ms_stride] - max) / total);
    const float *p = parts + (size_t) c * part_stride;
    for (int d = 0; d < head_dim; d++)
      out[d] += w * p[d];
  }
}

void
prima_attn_fused (const float *q, int n_kvh, int n_group, const prima_fp16 *k, size_t k_stride,
    const prima_fp16 *v, size_t v_stride, size_t v_chunk_stride, int head_dim, int n_kv, int chunk, float *qf,
    float *scores, prima_fp16 *q16, prima_fp16 *p16, float *parts, float *m, double *s, float *out)
{
  const int nc = prima_attn_n_chunks (n_kv, chunk), n_q = n_kvh * n_group;
  for (int i = 0; i < n_q * head_dim; i++)
    q16[i] = prima_fp32_to_fp16 (q[i]);
  if (nc == 1) {
    prima_attn_chunk (q16, n_kvh, n_group, k, k_stride, v, v_stride, head_dim, n_kv, qf, scores, p16, out,
        head_dim, (size_t) n_group * head_dim, NULL, NULL, 0);
    return;
  }
  /* parts: chunk c, query head q at (c * n_q + q) * head_dim */
  for (int c = 0; c < nc; c++)
    prima_attn_chunk (q16, n_kvh, n_group, k + (size_t) c * chunk * k_stride, k_stride,
        v + (size_t) c * v_chunk_stride, v_stride, head_dim, MIN (n_kv, (c + 1) * chunk) - c * chunk, qf, scores,
        p16, parts + (size_t) c * n_q * head_dim, head_dim, (size_t) n_group * head_dim, m + (size_t) c * n_q,
        s + (size_t) c * n_q, n_group);
  for (int q = 0; q < n_q; q++)
    prima_attn_merge (head_dim, nc, parts + (size_t) q * head_dim, (size_t) n_q * head_dim, m + q, s + q, n_q,
        out + (size_t) q * head_dim);
}
