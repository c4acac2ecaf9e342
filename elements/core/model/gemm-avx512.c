/* gst-prima: AVX-512 tile kernels for prompt batches (weight row x tokens).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Each kernel is its type's vec_dot of quants-avx512.c / quants-iq-avx512.c
 * with the loops turned inside out: per super-block, the work that depends
 * on the weights only (unpacking the levels, spreading the scales) is done
 * once and then each of up to GEMM_T tokens runs the activation half with
 * its own accumulators. Every output goes through the same integer sums per
 * lane and the same float operations in the same order as the vec_dot, so
 * it is bit-identical to it (tests/model/test-gemm checks with memcmp). A
 * change to one of those vec_dots must be made here too.
 */
#include "quants.h"
#include "quants-iq.h"

#include <immintrin.h>
#include <string.h>

#include "simd-avx512.h"
#include "gemm-tiles.h"

/* most tokens per tile (each type picks its own, up to this): the
 * accumulators of 8 tokens plus the unpacked weights of a super-block about
 * fill the 32 vector registers */
#define GEMM_T 8
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* ---- helpers (the shared ones are in simd-avx512.h) ---- */

/* fp16 scales of eight consecutive blocks of a 32-block row */
#define HALF_SCALES_8(x, i) _mm256_cvtph_ps (_mm_setr_epi16 ((short) x[i].d, (short) x[i + 1].d, \
        (short) x[i + 2].d, (short) x[i + 3].d, (short) x[i + 4].d, (short) x[i + 5].d, (short) x[i + 6].d, \
        (short) x[i + 7].d))

/* ---------------------------------------------------------------------
 * One weight row against nt (compile-time) tokens. act: the activation
 * rows, act_stride bytes apart; out[t]: the dot with token t.
 * --------------------------------------------------------------------- */

ALWAYS_INLINE void
q4_K_tile (int n, const void *vx, const uint8_t *act, size_t act_stride, float *out, const int nt)
{
  const block_q4_K *x = vx;
  const int nb = n / QK_K;
  const __m512i m4 = _mm512_set1_epi8 (0x0F);
  const __m512i c02 = word_halves_ctrl (0, 2), c13 = word_halves_ctrl (1, 3);
  const __m512i c46 = word_halves_ctrl (4, 6), c57 = word_halves_ctrl (5, 7);
  __m512 acc[GEMM_T];
  __m128 acc_m[GEMM_T];
  for (int t = 0; t < nt; t++) {
    acc[t] = _mm512_setzero_ps ();
    acc_m[t] = _mm_setzero_ps ();
  }
  for (int i = 0; i < nb; i++) {
    uint32_t dd;
    memcpy (&dd, &x[i].d, sizeof dd);
    const __m128 dmx = _mm_cvtph_ps (_mm_cvtsi32_si128 ((int) dd));
    const __m128i sm = k4_scales_mins (x[i].scales);
    const __m128i mins = _mm_unpackhi_epi8 (sm, _mm_setzero_si128 ());
    const __m512i scb = _mm512_broadcast_i32x4 (_mm_cvtepu8_epi16 (sm));
    const __m512i sc02 = _mm512_shuffle_epi8 (scb, c02), sc13 = _mm512_shuffle_epi8 (scb, c13);
    const __m512i sc46 = _mm512_shuffle_epi8 (scb, c46), sc57 = _mm512_shuffle_epi8 (scb, c57);
    const __m512i v0 = _mm512_loadu_si512 (x[i].qs), v1 = _mm512_loadu_si512 (x[i].qs + 64);
    const __m512i w0 = _mm512_and_si512 (v0, m4), w1 = _mm512_and_si512 (_mm512_srli_epi16 (v0, 4), m4);
    const __m512i w2 = _mm512_and_si512 (v1, m4), w3 = _mm512_and_si512 (_mm512_srli_epi16 (v1, 4), m4);
    for (int t = 0; t < nt; t++) {
      const block_q8_K_x *y = (const block_q8_K_x *) (act + (size_t) t * act_stride) + i;
      const __m128 dm = _mm_mul_ps (dmx, _mm_set1_ps (y->d));
      const __m128i mprod = _mm_madd_epi16 (mins, _mm_loadu_si128 ((const __m128i *) y->bsums32));
      acc_m[t] = _mm_fmadd_ps (_mm_permute_ps (dm, _MM_SHUFFLE (1, 1, 1, 1)), _mm_cvtepi32_ps (mprod), acc_m[t]);
      const int8_t *q8 = y->qs;
      const __m512i p0 = _mm512_maddubs_epi16 (w0, _mm512_loadu_si512 (q8));
      const __m512i p1 = _mm512_maddubs_epi16 (w1, _mm512_loadu_si512 (q8 + 64));
      const __m512i p2 = _mm512_maddubs_epi16 (w2, _mm512_loadu_si512 (q8 + 128));
      const __m512i p3 = _mm512_maddubs_epi16 (w3, _mm512_loadu_si512 (q8 + 192));
      __m512i s0 = _mm512_madd_epi16 (p0, sc02);
      __m512i s1 = _mm512_madd_epi16 (p1, sc13);
      s0 = _mm512_dpwssd_epi32 (s0, p2, sc46);
      s1 = _mm512_dpwssd_epi32 (s1, p3, sc57);
      acc[t] = _mm512_fmadd_ps (_mm512_broadcastss_ps (dm), _mm512_cvtepi32_ps (_mm512_add_epi32 (s0, s1)), acc[t]);
    }
  }
  for (int t = 0; t < nt; t++) {
    __m128 m = _mm_add_ps (acc_m[t], _mm_movehl_ps (acc_m[t], acc_m[t]));
    m = _mm_add_ss (m, _mm_movehdup_ps (m));
    out[t] = _mm512_reduce_add_ps (acc[t]) - _mm_cvtss_f32 (m);
  }
}

ALWAYS_INLINE void
q5_K_tile (int n, const void *vx, const uint8_t *act, size_t act_stride, float *out, const int nt)
{
  const block_q5_K *x = vx;
  const int nb = n / QK_K;
  const __m512i m4 = _mm512_set1_epi8 (0x0F);
  const __m512i one = _mm512_set1_epi8 (1);
  const __m512i nib_shift = _mm512_inserti64x4 (_mm512_setzero_si512 (), _mm256_set1_epi16 (4), 1);
  const __m512i c01 = word_halves_ctrl (0, 1), c23 = word_halves_ctrl (2, 3);
  const __m512i c45 = word_halves_ctrl (4, 5), c67 = word_halves_ctrl (6, 7);
  __m512i hshift[4];
  for (int j = 0; j < 4; j++)
    hshift[j] = _mm512_inserti64x4 (_mm512_set1_epi16 ((short) (2 * j)), _mm256_set1_epi16 ((short) (2 * j + 1)), 1);
  __m512 acc[GEMM_T];
  __m256 acc_m[GEMM_T];
  for (int t = 0; t < nt; t++) {
    acc[t] = _mm512_setzero_ps ();
    acc_m[t] = _mm256_setzero_ps ();
  }
  for (int i = 0; i < nb; i++) {
    uint32_t dd;
    memcpy (&dd, &x[i].d, sizeof dd);
    const __m128 dmx = _mm_cvtph_ps (_mm_cvtsi32_si128 ((int) dd));
    const __m128i sm = k4_scales_mins (x[i].scales);
    const __m256i mn16 = _mm256_cvtepu8_epi16 (_mm_unpackhi_epi8 (sm, sm));
    const __m512i scb = _mm512_broadcast_i32x4 (_mm_cvtepu8_epi16 (sm));
    const __m512i sc01 = _mm512_shuffle_epi8 (scb, c01), sc23 = _mm512_shuffle_epi8 (scb, c23);
    const __m512i sc45 = _mm512_shuffle_epi8 (scb, c45), sc67 = _mm512_shuffle_epi8 (scb, c67);
    const __m512i qh = _mm512_broadcast_i64x4 (_mm256_loadu_si256 ((const __m256i *) x[i].qh));
    const uint8_t *q = x[i].qs;
#define CHUNK(j) _mm512_or_si512 ( \
        _mm512_and_si512 (_mm512_srlv_epi16 (_mm512_broadcast_i64x4 ( \
                _mm256_loadu_si256 ((const __m256i *) (q + 32 * (j)))), nib_shift), m4), \
        _mm512_slli_epi16 (_mm512_and_si512 (_mm512_srlv_epi16 (qh, hshift[j]), one), 4))
    const __m512i w0 = CHUNK (0), w1 = CHUNK (1), w2 = CHUNK (2), w3 = CHUNK (3);
#undef CHUNK
    for (int t = 0; t < nt; t++) {
      const block_q8_K *y = (const block_q8_K *) (act + (size_t) t * act_stride) + i;
      const __m128 dm = _mm_mul_ps (dmx, _mm_set1_ps (y->d));
      const __m512 d = _mm512_broadcastss_ps (dm);
      const __m256 dmin = _mm256_broadcastss_ps (_mm_movehdup_ps (dm));
      const __m256i mprod = _mm256_madd_epi16 (mn16, _mm256_loadu_si256 ((const __m256i *) y->bsums));
      acc_m[t] = _mm256_fmadd_ps (dmin, _mm256_cvtepi32_ps (mprod), acc_m[t]);
      const int8_t *q8 = y->qs;
      const __m512i p0 = _mm512_maddubs_epi16 (w0, _mm512_loadu_si512 (q8));
      const __m512i p1 = _mm512_maddubs_epi16 (w1, _mm512_loadu_si512 (q8 + 64));
      const __m512i p2 = _mm512_maddubs_epi16 (w2, _mm512_loadu_si512 (q8 + 128));
      const __m512i p3 = _mm512_maddubs_epi16 (w3, _mm512_loadu_si512 (q8 + 192));
      __m512i s0 = _mm512_madd_epi16 (p0, sc01);
      __m512i s1 = _mm512_madd_epi16 (p1, sc23);
      s0 = _mm512_dpwssd_epi32 (s0, p2, sc45);
      s1 = _mm512_dpwssd_epi32 (s1, p3, sc67);
      acc[t] = _mm512_fmadd_ps (d, _mm512_cvtepi32_ps (_mm512_add_epi32 (s0, s1)), acc[t]);
    }
  }
  for (int t = 0; t < nt; t++)
    out[t] = _mm512_reduce_add_ps (acc[t]) - hsum256_ps (acc_m[t]);
}

ALWAYS_INLINE void
q6_K_tile (int n, const void *vx, const uint8_t *act, size_t act_stride, float *out, const int nt)
{
  const block_q6_K *x = vx;
  const int nb = n / QK_K;
  const __m512i m4 = _mm512_set1_epi8 (0x0F);
  const __m512i m30 = _mm512_set1_epi8 (0x30);
  const __m512i shl_lo = _mm512_inserti64x4 (_mm512_set1_epi16 (4), _mm256_set1_epi16 (2), 1);
  const __m512i shr_hi = _mm512_inserti64x4 (_mm512_setzero_si512 (), _mm256_set1_epi16 (2), 1);
  __m512i sidx[4];
  group_scale_index (sidx);
  __m512 acc[GEMM_T];
  for (int t = 0; t < nt; t++)
    acc[t] = _mm512_setzero_ps ();
  for (int i = 0; i < nb; i++) {
    const float xd = fp16 (x[i].d);
    const __m256i sc16 = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) x[i].scales));
    const __m512i sc16z = _mm512_zextsi256_si512 (sc16);
    __m512i q_lo[2], q_hi[2], s_lo[2], s_hi[2];
    for (int h = 0; h < 2; h++) {
      const __m512i l = _mm512_loadu_si512 (x[i].ql + 64 * h);
      const __m512i hb = _mm512_broadcast_i64x4 (_mm256_loadu_si256 ((const __m256i *) (x[i].qh + 32 * h)));
      const __m512i h_lo = _mm512_and_si512 (_mm512_sllv_epi16 (hb, shl_lo), m30);
      const __m512i h_hi = _mm512_and_si512 (_mm512_srlv_epi16 (hb, shr_hi), m30);
      q_lo[h] = _mm512_ternarylogic_epi32 (l, m4, h_lo, 0xEA);
      q_hi[h] = _mm512_ternarylogic_epi32 (_mm512_srli_epi16 (l, 4), m4, h_hi, 0xEA);
      s_lo[h] = _mm512_permutexvar_epi16 (sidx[2 * h], sc16z);
      s_hi[h] = _mm512_permutexvar_epi16 (sidx[2 * h + 1], sc16z);
    }
    for (int t = 0; t < nt; t++) {
      const block_q8_K *y = (const block_q8_K *) (act + (size_t) t * act_stride) + i;
      const float d = y->d * xd;
      const __m256i corr = _mm256_madd_epi16 (sc16, _mm256_loadu_si256 ((const __m256i *) y->bsums));
      __m512i sumi[2];
      for (int h = 0; h < 2; h++) {
        const __m512i p_lo = _mm512_maddubs_epi16 (q_lo[h], _mm512_loadu_si512 (y->qs + 128 * h));
        const __m512i p_hi = _mm512_maddubs_epi16 (q_hi[h], _mm512_loadu_si512 (y->qs + 128 * h + 64));
        sumi[h] = _mm512_dpwssd_epi32 (_mm512_madd_epi16 (p_lo, s_lo[h]), p_hi, s_hi[h]);
      }
      __m512i tot = _mm512_add_epi32 (sumi[0], sumi[1]);
      tot = _mm512_sub_epi32 (tot, _mm512_zextsi256_si512 (_mm256_slli_epi32 (corr, 5)));
      acc[t] = _mm512_fmadd_ps (_mm512_set1_ps (d), _mm512_cvtepi32_ps (tot), acc[t]);
    }
  }
  for (int t = 0; t < nt; t++)
    out[t] = _mm512_reduce_add_ps (acc[t]);
}

/* The activation half of the Q8_0 and Q4_0 tiles, one token. Eight blocks
 * from i: w[k] holds the weights of blocks i + 2k and i + 2k + 1 as unsigned
 * bytes (the signed value + bias), dx their eight scales. */
ALWAYS_INLINE __m512
q8_0_act8 (__m512 acc, const __m512i w[4], __m512i bias, __m256 dx, const block_q8_0 *y, int i,
    const __m512i idx[4])
{
  const __m512 d8 = _mm512_castps256_ps512 (_mm256_mul_ps (dx, HALF_SCALES_8 (y, i)));
  for (int k = 0; k < 4; k++) {
    const __m512i yy = load_2x32 (y[i + 2 * k].qs, y[i + 2 * k + 1].qs);
    const __m512i s = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), w[k], yy);
    const __m512i u = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), bias, yy);
    acc = _mm512_fmadd_ps (_mm512_permutexvar_ps (idx[k], d8), _mm512_cvtepi32_ps (_mm512_sub_epi32 (s, u)), acc);
  }
  return acc;
}

/* one block i (the tail past the last eight): xq the signed weights */
ALWAYS_INLINE __m256
q8_0_act1 (__m256 acc0, __m256i xq, float dx, const block_q8_0 *y, int i)
{
  const __m256i p = dot_i8_vnni (xq, _mm256_loadu_si256 ((const __m256i *) y[i].qs));
  return _mm256_fmadd_ps (_mm256_set1_ps (dx * fp16 (y[i].d)), _mm256_cvtepi32_ps (p), acc0);
}

ALWAYS_INLINE void
q8_0_tile (int n, const void *vx, const uint8_t *act, size_t act_stride, float *out, const int nt)
{
  const block_q8_0 *x = vx;
  const int nb = n / QK8_0;
  const __m512i bias = _mm512_set1_epi8 ((char) 0x80);
  const __m512i idx[4] = { pair_index (0), pair_index (2), pair_index (4), pair_index (6) };
  __m512 acc[GEMM_T];
  __m256 acc0[GEMM_T];
  for (int t = 0; t < nt; t++) {
    acc[t] = _mm512_setzero_ps ();
    acc0[t] = _mm256_setzero_ps ();
  }
  int i = 0;
  for (; i + 8 <= nb; i += 8) {
    const __m256 dx = HALF_SCALES_8 (x, i);
    __m512i xb[4];
    for (int k = 0; k < 4; k++)
      xb[k] = _mm512_xor_si512 (load_2x32 (x[i + 2 * k].qs, x[i + 2 * k + 1].qs), bias);
    for (int t = 0; t < nt; t++)
      acc[t] = q8_0_act8 (acc[t], xb, bias, dx, (const block_q8_0 *) (act + (size_t) t * act_stride), i, idx);
  }
  for (; i < nb; i++) {
    const __m256i xq = _mm256_loadu_si256 ((const __m256i *) x[i].qs);
    const float dx = fp16 (x[i].d);
    for (int t = 0; t < nt; t++)
      acc0[t] = q8_0_act1 (acc0[t], xq, dx, (const block_q8_0 *) (act + (size_t) t * act_stride), i);
  }
  for (int t = 0; t < nt; t++)
    out[t] = _mm512_reduce_add_ps (acc[t]) + hsum256_ps (acc0[t]);
}

ALWAYS_INLINE void
q4_0_tile (int n, const void *vx, const uint8_t *act, size_t act_stride, float *out, const int nt)
{
  const block_q4_0 *x = vx;
  const int nb = n / QK8_0;
  const __m512i m4 = _mm512_set1_epi8 (0x0F);
  const __m512i eights = _mm512_set1_epi8 (8);
  const __m512i nib_shift = _mm512_setr_epi64 (0, 0, 0x0004000400040004LL, 0x0004000400040004LL,
      0, 0, 0x0004000400040004LL, 0x0004000400040004LL);
  const __m512i idx[4] = { pair_index (0), pair_index (2), pair_index (4), pair_index (6) };
  __m512 acc[GEMM_T];
  __m256 acc0[GEMM_T];
  for (int t = 0; t < nt; t++) {
    acc[t] = _mm512_setzero_ps ();
    acc0[t] = _mm256_setzero_ps ();
  }
  int i = 0;
  for (; i + 8 <= nb; i += 8) {
    const __m256 dx = HALF_SCALES_8 (x, i);
    __m512i qn[4];
    for (int k = 0; k < 4; k++) {
      const block_q4_0 *b = x + i + 2 * k;
      const __m256i q2 = _mm256_inserti128_si256 (_mm256_castsi128_si256 (_mm_loadu_si128 ((const __m128i *) b[0].qs)),
          _mm_loadu_si128 ((const __m128i *) b[1].qs), 1);
      const __m512i q4 = _mm512_shuffle_i64x2 (_mm512_castsi256_si512 (q2), _mm512_castsi256_si512 (q2),
          _MM_SHUFFLE (1, 1, 0, 0));
      qn[k] = _mm512_and_si512 (_mm512_srlv_epi16 (q4, nib_shift), m4);
    }
    for (int t = 0; t < nt; t++)
      acc[t] = q8_0_act8 (acc[t], qn, eights, dx, (const block_q8_0 *) (act + (size_t) t * act_stride), i, idx);
  }
  for (; i < nb; i++) {
    const __m256i xq = _mm256_sub_epi8 (nibbles_32 (x[i].qs), _mm256_set1_epi8 (8));
    const float dx = fp16 (x[i].d);
    for (int t = 0; t < nt; t++)
      acc0[t] = q8_0_act1 (acc0[t], xq, dx, (const block_q8_0 *) (act + (size_t) t * act_stride), i);
  }
  for (int t = 0; t < nt; t++)
    out[t] = _mm512_reduce_add_ps (acc[t]) + hsum256_ps (acc0[t]);
}

ALWAYS_INLINE void
iq4_xs_tile (int n, const void *vx, const uint8_t *act, size_t act_stride, float *out, const int nt)
{
  const block_iq4_xs *x = vx;
  const int nb = n / QK_K;
  const __m512i table = _mm512_broadcast_i32x4 (_mm_loadu_si128 ((const __m128i *) kvalues_iq4nl));
  __m512 acc[GEMM_T];
  __m512i sumi0[GEMM_T], sumi1[GEMM_T];
  for (int t = 0; t < nt; t++)
    acc[t] = _mm512_setzero_ps ();
  for (int i = 0; i < nb; i++) {
    const uint8_t *qs = x[i].qs;
    const uint16_t sh = x[i].scales_h;
    for (int t = 0; t < nt; t++)
      sumi0[t] = sumi1[t] = _mm512_setzero_si512 ();
    for (int ib = 0; ib < QK_K / 32; ib += 4) {
      const __m512i w0 = iq4_levels (table, qs, qs + 16);
      const __m512i w1 = iq4_levels (table, qs + 32, qs + 48);
      const __m512i a0 = _mm512_abs_epi8 (w0), a1 = _mm512_abs_epi8 (w1);
      const __mmask64 n0 = _mm512_movepi8_mask (w0), n1 = _mm512_movepi8_mask (w1);
      const uint8_t sl0 = x[i].scales_l[ib / 2], sl1 = x[i].scales_l[ib / 2 + 1];
      const int ls0 = ((sl0 & 0xf) | (((sh >> (2 * ib + 0)) & 3) << 4)) - 32;
      const int ls1 = ((sl0 >> 4) | (((sh >> (2 * ib + 2)) & 3) << 4)) - 32;
      const int ls2 = ((sl1 & 0xf) | (((sh >> (2 * ib + 4)) & 3) << 4)) - 32;
      const int ls3 = ((sl1 >> 4) | (((sh >> (2 * ib + 6)) & 3) << 4)) - 32;
      const __m512i sc01 = two_scales16 (ls0, ls1), sc23 = two_scales16 (ls2, ls3);
      for (int t = 0; t < nt; t++) {
        const int8_t *q8 = ((const block_q8_K *) (act + (size_t) t * act_stride))[i].qs + 32 * ib;
        const __m512i q0 = _mm512_loadu_si512 (q8);
        const __m512i q1 = _mm512_loadu_si512 (q8 + 64);
        const __m512i p0 = _mm512_maddubs_epi16 (a0, _mm512_mask_sub_epi8 (q0, n0, _mm512_setzero_si512 (), q0));
        const __m512i p1 = _mm512_maddubs_epi16 (a1, _mm512_mask_sub_epi8 (q1, n1, _mm512_setzero_si512 (), q1));
        sumi0[t] = _mm512_dpwssd_epi32 (sumi0[t], p0, sc01);
        sumi1[t] = _mm512_dpwssd_epi32 (sumi1[t], p1, sc23);
      }
      qs += 64;
    }
    const float xd = fp16 (x[i].d);
    for (int t = 0; t < nt; t++) {
      const float d = xd * ((const block_q8_K *) (act + (size_t) t * act_stride))[i].d;
      acc[t] = _mm512_fmadd_ps (_mm512_set1_ps (d), _mm512_cvtepi32_ps (_mm512_add_epi32 (sumi0[t], sumi1[t])),
          acc[t]);
    }
  }
  for (int t = 0; t < nt; t++)
    out[t] = _mm512_reduce_add_ps (acc[t]);
}

#define DEFINE_GEMM(T, MAXT) \
  GEMM_TILE_FN (T, 1) GEMM_TILE_FN (T, 2) GEMM_TILE_FN (T, 3) GEMM_TILE_FN (T, 4) \
  GEMM_TILE_FN (T, 5) GEMM_TILE_FN (T, 6) GEMM_TILE_FN (T, 7) GEMM_TILE_FN (T, 8) \
  static void \
  gemm_##T##_avx512 (int n, int n_rows, int n_tok, float *y, size_t y_stride, const void *x, size_t x_stride, \
      const void *act, size_t act_stride) \
  { \
    static const gemm_tile_fn tiles[9] = { \
      NULL, T##_tile1, T##_tile2, T##_tile3, T##_tile4, T##_tile5, T##_tile6, T##_tile7, T##_tile8 }; \
    gemm_tiles (tiles, MAXT, n, n_rows, n_tok, y, y_stride, x, x_stride, act, act_stride); \
  }

_Static_assert (GEMM_T == 8, "DEFINE_GEMM spells out tiles 1..8");

/* tile widths measured on Zen 5 (1 thread, 2048-wide rows, 32 tokens):
 * IQ4_XS keeps two integer accumulators per token and spills past 4 */
DEFINE_GEMM (q4_K, 8)
DEFINE_GEMM (q5_K, 8)
DEFINE_GEMM (q6_K, 8)
DEFINE_GEMM (q8_0, 8)
DEFINE_GEMM (q4_0, 8)
DEFINE_GEMM (iq4_xs, 4)

void
prima_gemm_avx512_register (prima_type_traits *table)
{
  table[PRIMA_TYPE_Q4_K].gemm = gemm_q4_K_avx512;
  table[PRIMA_TYPE_Q5_K].gemm = gemm_q5_K_avx512;
  table[PRIMA_TYPE_Q6_K].gemm = gemm_q6_K_avx512;
  table[PRIMA_TYPE_Q8_0].gemm = gemm_q8_0_avx512;
  table[PRIMA_TYPE_Q4_0].gemm = gemm_q4_0_avx512;
  table[PRIMA_TYPE_IQ4_XS].gemm = gemm_iq4_xs_avx512;
}
