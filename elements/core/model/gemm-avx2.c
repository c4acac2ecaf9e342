/* gst-prima: AVX2 tile kernels for prompt batches (weight row x tokens).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Q4_K and Q6_K (the types of Q4_K_M models) as in gemm-avx512.c: the
 * vec_dot of quants-avx2.c with the weight unpacking done once per
 * super-block and shared by up to GEMM_T tokens, each with its own
 * accumulators: same integer sums per lane, same float operations in the
 * same order, so the very bits of that vec_dot (tests/model/test-gemm).
 * A change to one of those vec_dots must be made here too.
 */
#include "quants.h"

#include <immintrin.h>
#include <string.h>

#include "simd-avx2.h"
#include "gemm-tiles.h"

/* 16 ymm registers: the unpacked weights of one 64-level step plus the
 * integer sums of 4 tokens */
#define GEMM_T 4
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- helpers: simd-avx2.h, shared with quants-avx2.c ---- */

/* ---- one weight row against nt (compile-time) tokens ---- */

ALWAYS_INLINE void
q4_K_tile (int n, const void *vx, const uint8_t *act, size_t act_stride, float *out, const int nt)
{
  const block_q4_K *x = vx;
  const __m256i m4 = _mm256_set1_epi8 (0x0F);
  __m256 acc[GEMM_T];
  __m128 acc_m[GEMM_T];
  __m256i sumi[GEMM_T];
  for (int t = 0; t < nt; t++) {
    acc[t] = _mm256_setzero_ps ();
    acc_m[t] = _mm_setzero_ps ();
  }
  for (int i = 0; i < n / QK_K; i++) {
    const float xd = fp16 (x[i].d), xmin = fp16 (x[i].dmin);
    const __m256i sm = _mm256_cvtepu8_epi16 (k4_scales_mins (x[i].scales));
    const __m128i mins = _mm256_extracti128_si256 (sm, 1);
    const __m256i scales = _mm256_broadcastsi128_si256 (_mm256_castsi256_si128 (sm));
    for (int t = 0; t < nt; t++) {
      const block_q8_K *y = (const block_q8_K *) (act + (size_t) t * act_stride) + i;
      const float dmin = -y->d * xmin;
      const __m128i bs_lo = _mm_loadu_si128 ((const __m128i *) y->bsums);
      const __m128i bs_hi = _mm_loadu_si128 ((const __m128i *) (y->bsums + 8));
      const __m128i prod = _mm_madd_epi16 (mins, _mm_hadd_epi16 (bs_lo, bs_hi));
      acc_m[t] = _mm_fmadd_ps (_mm_set1_ps (dmin), _mm_cvtepi32_ps (prod), acc_m[t]);
      sumi[t] = _mm256_setzero_si256 ();
    }
    for (int j = 0; j < 4; j++) {
      const __m256i sc_l = _mm256_shuffle_epi8 (scales, word_bcast_ctrl (2 * j));
      const __m256i sc_h = _mm256_shuffle_epi8 (scales, word_bcast_ctrl (2 * j + 1));
      const __m256i bits = _mm256_loadu_si256 ((const __m256i *) (x[i].qs + 32 * j));
      const __m256i ql = _mm256_and_si256 (bits, m4);
      const __m256i qh = _mm256_and_si256 (_mm256_srli_epi16 (bits, 4), m4);
      for (int t = 0; t < nt; t++) {
        const int8_t *q8 = ((const block_q8_K *) (act + (size_t) t * act_stride))[i].qs + 64 * j;
        __m256i pl = _mm256_maddubs_epi16 (ql, _mm256_loadu_si256 ((const __m256i *) q8));
        __m256i ph = _mm256_maddubs_epi16 (qh, _mm256_loadu_si256 ((const __m256i *) (q8 + 32)));
        pl = _mm256_madd_epi16 (sc_l, pl);
        ph = _mm256_madd_epi16 (sc_h, ph);
        sumi[t] = _mm256_add_epi32 (sumi[t], _mm256_add_epi32 (pl, ph));
      }
    }
    for (int t = 0; t < nt; t++) {
      const float d = ((const block_q8_K *) (act + (size_t) t * act_stride))[i].d * xd;
      acc[t] = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi[t]), acc[t]);
    }
  }
  for (int t = 0; t < nt; t++) {
    __m128 m = _mm_add_ps (acc_m[t], _mm_movehl_ps (acc_m[t], acc_m[t]));
    m = _mm_add_ss (m, _mm_movehdup_ps (m));
    out[t] = hsum_ps (acc[t]) + _mm_cvtss_f32 (m);
  }
}

ALWAYS_INLINE void
q6_K_tile (int n, const void *vx, const uint8_t *act, size_t act_stride, float *out, const int nt)
{
  const block_q6_K *x = vx;
  const __m256i m4 = _mm256_set1_epi8 (0x0F);
  const __m256i m2 = _mm256_set1_epi8 (0x03);
  __m256 acc[GEMM_T];
  __m256i sumi[GEMM_T];
  for (int t = 0; t < nt; t++)
    acc[t] = _mm256_setzero_ps ();
  for (int i = 0; i < n / QK_K; i++) {
    const float xd = fp16 (x[i].d);
    const __m256i sc16 = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) x[i].scales));
    __m256i sc[8];
    scales16_pairs (sc16, sc);
    for (int t = 0; t < nt; t++)
      sumi[t] = _mm256_setzero_si256 ();
    for (int h = 0; h < 2; h++) {
      const __m256i l1 = _mm256_loadu_si256 ((const __m256i *) (x[i].ql + 64 * h));
      const __m256i l2 = _mm256_loadu_si256 ((const __m256i *) (x[i].ql + 64 * h + 32));
      const __m256i hb = _mm256_loadu_si256 ((const __m256i *) (x[i].qh + 32 * h));
      const __m256i q0 = _mm256_or_si256 (_mm256_and_si256 (l1, m4),
          _mm256_slli_epi16 (_mm256_and_si256 (hb, m2), 4));
      const __m256i q1 = _mm256_or_si256 (_mm256_and_si256 (l2, m4),
          _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (hb, 2), m2), 4));
      const __m256i q2 = _mm256_or_si256 (_mm256_and_si256 (_mm256_srli_epi16 (l1, 4), m4),
          _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (hb, 4), m2), 4));
      const __m256i q3 = _mm256_or_si256 (_mm256_and_si256 (_mm256_srli_epi16 (l2, 4), m4),
          _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (hb, 6), m2), 4));
      for (int t = 0; t < nt; t++) {
        const int8_t *q8 = ((const block_q8_K *) (act + (size_t) t * act_stride))[i].qs + 128 * h;
        const __m256i p0 = _mm256_maddubs_epi16 (q0, _mm256_loadu_si256 ((const __m256i *) q8));
        const __m256i p1 = _mm256_maddubs_epi16 (q1, _mm256_loadu_si256 ((const __m256i *) (q8 + 32)));
        const __m256i p2 = _mm256_maddubs_epi16 (q2, _mm256_loadu_si256 ((const __m256i *) (q8 + 64)));
        const __m256i p3 = _mm256_maddubs_epi16 (q3, _mm256_loadu_si256 ((const __m256i *) (q8 + 96)));
        sumi[t] = _mm256_add_epi32 (sumi[t], _mm256_add_epi32 (_mm256_madd_epi16 (p0, sc[4 * h]),
                _mm256_madd_epi16 (p1, sc[4 * h + 1])));
        sumi[t] = _mm256_add_epi32 (sumi[t], _mm256_add_epi32 (_mm256_madd_epi16 (p2, sc[4 * h + 2]),
                _mm256_madd_epi16 (p3, sc[4 * h + 3])));
      }
    }
    for (int t = 0; t < nt; t++) {
      const block_q8_K *y = (const block_q8_K *) (act + (size_t) t * act_stride) + i;
      const float d = y->d * xd;
      const __m256i corr = _mm256_madd_epi16 (sc16, _mm256_loadu_si256 ((const __m256i *) y->bsums));
      const __m256i s = _mm256_sub_epi32 (sumi[t], _mm256_slli_epi32 (corr, 5));
      acc[t] = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (s), acc[t]);
    }
  }
  for (int t = 0; t < nt; t++)
    out[t] = hsum_ps (acc[t]);
}

#define DEFINE_GEMM(T) \
  GEMM_TILE_FN (T, 1) GEMM_TILE_FN (T, 2) GEMM_TILE_FN (T, 3) GEMM_TILE_FN (T, 4) \
  static void \
  gemm_##T##_avx2 (int n, int n_rows, int n_tok, float *y, size_t y_stride, const void *x, size_t x_stride, \
      const void *act, size_t act_stride) \
  { \
    static const gemm_tile_fn tiles[GEMM_T + 1] = { NULL, T##_tile1, T##_tile2, T##_tile3, T##_tile4 }; \
    gemm_tiles (tiles, GEMM_T, n, n_rows, n_tok, y, y_stride, x, x_stride, act, act_stride); \
  }

_Static_assert (GEMM_T == 4, "DEFINE_GEMM spells out tiles 1..4");

DEFINE_GEMM (q4_K)
DEFINE_GEMM (q6_K)

void
prima_gemm_avx2_register (prima_type_traits *table)
{
  table[PRIMA_TYPE_Q4_K].gemm = gemm_q4_K_avx2;
  table[PRIMA_TYPE_Q6_K].gemm = gemm_q6_K_avx2;
}
