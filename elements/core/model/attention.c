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

ATTN_CLONES void
prima_attn_chunk (const prima_fp16 *q16, int n_group, const prima_fp16 *k, size_t k_stride, const prima_fp16 *v,
    size_t v_stride, int head_dim, int j0, int j1, float *scores, prima_fp16 *p16, float *out, size_t out_stride,
    float *m, double *s)
{
  const prima_type_traits *f16 = prima_type_get_traits (PRIMA_TYPE_F16);
  const float scale = 1.0f / sqrtf ((float) head_dim);
  const int n = j1 - j0;

  /* scores: each K row once, for every head of the group */
#if defined(__x86_64__)
  if (head_dim % 16 == 0 && head_dim <= 256 && n_group <= 16 && prima_active_isa () >= PRIMA_ISA_AVX512)
    prima_attn_scores_avx512 (q16, n_group, k, k_stride, head_dim, j0, j1, scale, scores);
  else
#endif
  for (int j = 0; j < n; j++) {
    const prima_fp16 *kr = k + (size_t) (j0 + j) * k_stride;
    for (int g = 0; g < n_group; g++) {
      float sc;
      f16->vec_dot (head_dim, &sc, kr, q16 + (size_t) g * head_dim);
      scores[(size_t) g * n + j] = sc * scale;
    }
  }
  for (int g = 0; g < n_group; g++) {
    float *sg = scores + (size_t) g * n, max = -INFINITY, mx[8];
    prima_fp16 *pg = p16 + (size_t) g * n;
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
    for (int j = 0; j < n; j++)
      pg[j] = prima_fp32_to_fp16 (sg[j] * inv);
    if (m)
      m[g] = max;
    if (s)
      s[g] = sum;
  }
  /* each V segment once, for every head of the group */
#if defined(__x86_64__)
  if (prima_active_isa () >= PRIMA_ISA_AVX512)
    prima_attn_values_avx512 (p16, n_group, v, v_stride, head_dim, j0, j1, out, out_stride);
  else
#endif
  for (int d = 0; d < head_dim; d++) {
    const prima_fp16 *vr = v + (size_t) d * v_stride + j0;
    for (int g = 0; g < n_group; g++)
      f16->vec_dot (n, &out[(size_t) g * out_stride + d], vr, p16 + (size_t) g * n);
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
prima_attn_fused (const float *q, int n_group, const prima_fp16 *k, size_t k_stride, const prima_fp16 *v,
    size_t v_stride, int head_dim, int n_kv, int chunk, float *scores, prima_fp16 *q16, prima_fp16 *p16,
    float *parts, float *m, double *s, float *out)
{
  const int nc = prima_attn_n_chunks (n_kv, chunk);
  for (int i = 0; i < n_group * head_dim; i++)
    q16[i] = prima_fp32_to_fp16 (q[i]);
  if (nc == 1) {
    prima_attn_chunk (q16, n_group, k, k_stride, v, v_stride, head_dim, 0, n_kv, scores, p16, out, head_dim,
        NULL, NULL);
    return;
  }
  /* parts: chunk c, head g at (c * n_group + g) * head_dim */
  for (int c = 0; c < nc; c++)
    prima_attn_chunk (q16, n_group, k, k_stride, v, v_stride, head_dim, c * chunk, MIN (n_kv, (c + 1) * chunk),
        scores, p16, parts + (size_t) c * n_group * head_dim, head_dim, m + (size_t) c * n_group,
        s + (size_t) c * n_group);
  for (int g = 0; g < n_group; g++)
    prima_attn_merge (head_dim, nc, parts + (size_t) g * head_dim, (size_t) n_group * head_dim, m + g, s + g,
        n_group, out + (size_t) g * head_dim);
}
