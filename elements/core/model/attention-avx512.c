/* gst-prima: AVX-512 decode attention kernels (attention.h).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Per score and per output the sums run exactly as vec_dot_f16_f16_avx512
 * runs them (four accumulators per 64, the rest of the 16s into the first,
 * a masked tail into the second, then (a0 + a1) + (a2 + a3) and the
 * horizontal sum of _mm512_reduce_add_ps), so the results are the same bits
 * as the F16 vec_dot of the scalar path. What changes is only the work
 * around them: K rows read whole, 16 horizontal sums done at once by a
 * transposing tree with the same pairs, the F16 probabilities read as
 * floats (exact) so each V segment is converted once for the group.
 */
#include "attention.h"

#include <immintrin.h>

/* How many 16-row tiles ahead the K rows are prefetched: the hardware
 * prefetchers stop at 4 KiB pages, a tile of the 1B shape is 16 KiB (one
 * tile ahead: 16.0 ms for 16 layers of 4096 cells, two 17.6, none 22.6,
 * into L2 instead of L1 22.5; one thread, memory shared with other work;
 * docs/numerics.md). */
#define SCORES_PREFETCH_TILES 1
/* and the V rows of a KV head, rows ahead */
#define VALUES_PREFETCH_ROWS 4

/* The lanes of v[s] summed as _mm512_reduce_add_ps sums them (x[i] + x[i +
 * 8], then + 4, then the pairs (0, 2) and (1, 3), then the two), for 16
 * vectors at once: result lane 4 * p + i is the sum of v[p + 4 * i]. */
static inline __attribute__ ((always_inline)) __m512
reduce16 (const __m512 *v)
{
  __m512 w[8], y[4], u[2];
  for (int k = 0; k < 8; k++)
    w[k] = _mm512_add_ps (_mm512_shuffle_f32x4 (v[2 * k], v[2 * k + 1], 0x44),
        _mm512_shuffle_f32x4 (v[2 * k], v[2 * k + 1], 0xee));
  for (int k = 0; k < 4; k++)
    y[k] = _mm512_add_ps (_mm512_shuffle_f32x4 (w[2 * k], w[2 * k + 1], 0x88),
        _mm512_shuffle_f32x4 (w[2 * k], w[2 * k + 1], 0xdd));
  for (int k = 0; k < 2; k++)
    u[k] = _mm512_add_ps (_mm512_shuffle_ps (y[2 * k], y[2 * k + 1], 0x44),
        _mm512_shuffle_ps (y[2 * k], y[2 * k + 1], 0xee));
  return _mm512_add_ps (_mm512_shuffle_ps (u[0], u[1], 0x88), _mm512_shuffle_ps (u[0], u[1], 0xdd));
}

/* the slot of reduce16's input whose sum lands in lane r (an involution) */
static inline int
reduce16_slot (int r)
{
  return 4 * (r & 3) + (r >> 2);
}

/* (a0 + a1) + (a2 + a3) of one K row (nb vectors kz) and one query */
static inline __attribute__ ((always_inline)) __m512
dot_vec (const __m512 *kz, const float *qg, int nb)
{
  __m512 a0 = _mm512_setzero_ps (), a1 = a0, a2 = a0, a3 = a0;
  int b = 0;
  for (; b + 4 <= nb; b += 4) {
    a0 = _mm512_fmadd_ps (kz[b], _mm512_loadu_ps (qg + 16 * b), a0);
    a1 = _mm512_fmadd_ps (kz[b + 1], _mm512_loadu_ps (qg + 16 * b + 16), a1);
    a2 = _mm512_fmadd_ps (kz[b + 2], _mm512_loadu_ps (qg + 16 * b + 32), a2);
    a3 = _mm512_fmadd_ps (kz[b + 3], _mm512_loadu_ps (qg + 16 * b + 48), a3);
  }
  for (; b < nb; b++)
    a0 = _mm512_fmadd_ps (kz[b], _mm512_loadu_ps (qg + 16 * b), a0);
  return _mm512_add_ps (_mm512_add_ps (a0, a1), _mm512_add_ps (a2, a3));
}

/* One KV head over the 16 rows of a tile from row j; nb and n_group are
 * constants where inlined for the common shapes, so kz and t stay in
 * registers. */
static inline __attribute__ ((always_inline)) void
scores_tile (const float *qh, int n_group, const prima_fp16 *k, size_t k_stride, int nb, __m512 vscale,
    float *scores, size_t s_stride)
{
  __m512 kz[16], t[16 * 16];
  for (int r = 0; r < 16; r++) {
    const prima_fp16 *kr = k + (size_t) r * k_stride;
    for (int b = 0; b < nb; b++)
      kz[b] = _mm512_cvtph_ps (_mm256_loadu_si256 ((const __m256i *) (kr + b * 16)));
    for (int g = 0; g < n_group; g++)
      t[g * 16 + reduce16_slot (r)] = dot_vec (kz, qh + (size_t) g * nb * 16, nb);
  }
  for (int g = 0; g < n_group; g++)
    _mm512_storeu_ps (scores + (size_t) g * s_stride, _mm512_mul_ps (reduce16 (t + g * 16), vscale));
}

void
prima_attn_scores_avx512 (const float *qf, int n_kvh, int n_group, const prima_fp16 *k, size_t k_stride,
    int head_dim, int n, float scale, float *scores, size_t s_stride)
{
  const int nb = head_dim / 16;
  const __m512 vscale = _mm512_set1_ps (scale);
  __m512 kz[16];
  int j = 0;

  for (; j + 16 <= n; j += 16) {
    for (int h = 0; h < n_kvh; h++) {
      const float *qh = qf + (size_t) h * n_group * head_dim;
      const prima_fp16 *kt = k + (size_t) j * k_stride + (size_t) h * head_dim;
      float *st = scores + (size_t) h * n_group * s_stride + j;
      if (j + 16 * (SCORES_PREFETCH_TILES + 1) <= n)
        for (int r = 0; r < 16; r++) {
          const char *p = (const char *) (kt + (size_t) (16 * SCORES_PREFETCH_TILES + r) * k_stride);
          for (int b = 0; b < head_dim * 2; b += 64)
            _mm_prefetch (p + b, _MM_HINT_T0);
        }
      if (nb == 4 && n_group == 4)
        scores_tile (qh, 4, kt, k_stride, 4, vscale, st, s_stride);
      else if (nb == 4 && n_group == 8)
        scores_tile (qh, 8, kt, k_stride, 4, vscale, st, s_stride);
      else if (nb == 8 && n_group == 4)
        scores_tile (qh, 4, kt, k_stride, 8, vscale, st, s_stride);
      else
        scores_tile (qh, n_group, kt, k_stride, nb, vscale, st, s_stride);
    }
  }
  for (; j < n; j++)
    for (int h = 0; h < n_kvh; h++) {
      const prima_fp16 *kr = k + (size_t) j * k_stride + (size_t) h * head_dim;
      for (int b = 0; b < nb; b++)
        kz[b] = _mm512_cvtph_ps (_mm256_loadu_si256 ((const __m256i *) (kr + b * 16)));
      for (int g = 0; g < n_group; g++)
        scores[(size_t) (h * n_group + g) * s_stride + j] =
            _mm512_reduce_add_ps (dot_vec (kz, qf + (size_t) (h * n_group + g) * head_dim, nb)) * scale;
    }
}

/* The vectors (a0 + a1) + (a2 + a3) of V row vr against ng (at most 4)
 * heads' probabilities; ng a constant where inlined. */
static inline __attribute__ ((always_inline)) void
values_row (const prima_fp16 *vr, const float *pf, int n, int ng, __m512 *res)
{
  const int rest = n % 16;
  const __mmask16 mask = (__mmask16) ((1u << rest) - 1);
  __m512 a[4][4];
  int i = 0;
  for (int g = 0; g < 4; g++)
    for (int l = 0; l < 4; l++)
      a[g][l] = _mm512_setzero_ps ();
#define LD(p) _mm512_cvtph_ps (_mm256_loadu_si256 ((const __m256i *) (p)))
  for (; i + 64 <= n; i += 64) {
    const __m512 x0 = LD (vr + i), x1 = LD (vr + i + 16), x2 = LD (vr + i + 32), x3 = LD (vr + i + 48);
    for (int g = 0; g < ng; g++) {
      const float *pg = pf + (size_t) g * n + i;
      a[g][0] = _mm512_fmadd_ps (x0, _mm512_loadu_ps (pg), a[g][0]);
      a[g][1] = _mm512_fmadd_ps (x1, _mm512_loadu_ps (pg + 16), a[g][1]);
      a[g][2] = _mm512_fmadd_ps (x2, _mm512_loadu_ps (pg + 32), a[g][2]);
      a[g][3] = _mm512_fmadd_ps (x3, _mm512_loadu_ps (pg + 48), a[g][3]);
    }
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 x0 = LD (vr + i);
    for (int g = 0; g < ng; g++)
      a[g][0] = _mm512_fmadd_ps (x0, _mm512_loadu_ps (pf + (size_t) g * n + i), a[g][0]);
  }
#undef LD
  if (rest) {
    const __m512 x0 = _mm512_cvtph_ps (_mm256_maskz_loadu_epi16 (mask, vr + i));
    for (int g = 0; g < ng; g++)
      a[g][1] = _mm512_fmadd_ps (x0, _mm512_maskz_loadu_ps (mask, pf + (size_t) g * n + i), a[g][1]);
  }
  for (int g = 0; g < ng; g++)
    res[g] = _mm512_add_ps (_mm512_add_ps (a[g][0], a[g][1]), _mm512_add_ps (a[g][2], a[g][3]));
}

/* Outputs in fours of groups per V row; their vectors gathered 16 at a
 * time for reduce16. */
void
prima_attn_values_avx512 (const float *pf, int n_group, const prima_fp16 *v, size_t v_stride, int head_dim,
    int n, float *out, size_t out_stride)
{
  __m512 t[16], res4[4];
  float *dst[16], res[16];
  int nt = 0;

  for (int d = 0; d < head_dim; d++) {
    const prima_fp16 *vr = v + (size_t) d * v_stride;
    if (d + VALUES_PREFETCH_ROWS < head_dim)
      for (int i = 0; i < n; i += 32)
        _mm_prefetch ((const char *) (vr + VALUES_PREFETCH_ROWS * v_stride + i), _MM_HINT_T0);
    for (int g0 = 0; g0 < n_group; g0 += 4) {
      const int ng = n_group - g0 < 4 ? n_group - g0 : 4;
      if (ng == 4)
        values_row (vr, pf + (size_t) g0 * n, n, 4, res4);
      else
        values_row (vr, pf + (size_t) g0 * n, n, ng, res4);
      for (int g = 0; g < ng; g++) {
        t[reduce16_slot (nt)] = res4[g];
        dst[nt++] = out + (size_t) (g0 + g) * out_stride + d;
        if (nt == 16) {
          _mm512_storeu_ps (res, reduce16 (t));
          for (int r = 0; r < 16; r++)
            *dst[r] = res[r];
          nt = 0;
        }
      }
    }
  }
  for (int r = 0; r < nt; r++)
    *dst[r] = _mm512_reduce_add_ps (t[reduce16_slot (r)]);
}

void
prima_attn_probs_avx512 (float *e, int n, float inv, prima_fp16 *p16)
{
  const __m512 vinv = _mm512_set1_ps (inv);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i h = _mm512_cvtps_ph (_mm512_mul_ps (_mm512_loadu_ps (e + i), vinv), _MM_FROUND_TO_NEAREST_INT);
    _mm256_storeu_si256 ((__m256i *) (p16 + i), h);
    _mm512_storeu_ps (e + i, _mm512_cvtph_ps (h));
  }
  if (i < n) {
    const __mmask16 m = (__mmask16) ((1u << (n - i)) - 1);
    const __m256i h = _mm512_cvtps_ph (_mm512_mul_ps (_mm512_maskz_loadu_ps (m, e + i), vinv),
        _MM_FROUND_TO_NEAREST_INT);
    _mm256_mask_storeu_epi16 (p16 + i, m, h);
    _mm512_mask_storeu_ps (e + i, m, _mm512_cvtph_ps (h));
  }
}
