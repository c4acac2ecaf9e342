/* gst-prima: AVX-512 (BW, VL, DQ, VNNI) dot products of the IQ types IQ4_NL,
 * IQ4_XS, IQ2_XXS, IQ1_S and IQ1_M against 8-bit activations.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Same plan as the AVX2 file, two sub-blocks of 32 per 512-bit vector. Sign
 * handling uses mask registers (a sign byte of IQ2_XXS is already a mask of
 * 8 elements), and per-sub-block integer scales are applied by vpdpwssd on
 * the int16 pair sums. IQ2_XXS, IQ1_S and IQ1_M match the scalar reference
 * bit for bit; the IQ4 kernels differ only by float summation order.
 */
#include "quants-iq.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512VNNI__)

#include <immintrin.h>
#include <string.h>

#include "simd-avx512.h"

static inline float
no_contract (float v)
{
  __asm__ ("" : "+x" (v));
  return v;
}

static inline int
hsum_i32 (__m256i v)
{
  __m128i s = _mm_add_epi32 (_mm256_castsi256_si128 (v), _mm256_extracti128_si256 (v, 1));
  s = _mm_add_epi32 (s, _mm_shuffle_epi32 (s, _MM_SHUFFLE (1, 0, 3, 2)));
  s = _mm_add_epi32 (s, _mm_shuffle_epi32 (s, _MM_SHUFFLE (2, 3, 0, 1)));
  return _mm_cvtsi128_si32 (s);
}

/* The two integer corrections of IQ1_S from the q8 group sums: sum of
 * ls * bsum (undoes the +1 on the grid) and sum of ls * sign * bsum (the
 * +-delta shift), per sub-block ls = 2 s + 1 from bits 12..14 of qh and the
 * sign from bit 15. */
static inline void
iq1s_corrections (const uint16_t *qh, const int16_t *bsums, int *sum_q8, int *sumi1)
{
  const __m128i h = _mm_loadu_si128 ((const __m128i *) qh);
  const __m128i ls = _mm_or_si128 (_mm_slli_epi16 (_mm_and_si128 (_mm_srli_epi16 (h, 12), _mm_set1_epi16 (7)), 1),
      _mm_set1_epi16 (1));
  const __m128i lsd = _mm_sign_epi16 (ls, _mm_or_si128 (h, _mm_set1_epi16 (1)));
  const __m256i b = _mm256_loadu_si256 ((const __m256i *) bsums);
  const __m256i l2 = _mm256_set_m128i (_mm_unpackhi_epi16 (ls, ls), _mm_unpacklo_epi16 (ls, ls));
  const __m256i d2 = _mm256_set_m128i (_mm_unpackhi_epi16 (lsd, lsd), _mm_unpacklo_epi16 (lsd, lsd));
  *sum_q8 = hsum_i32 (_mm256_madd_epi16 (b, l2));
  *sumi1 = hsum_i32 (_mm256_madd_epi16 (b, d2));
}

/* Signed w times signed q, as |w| and q with w's sign. */
static inline __m512i
move_sign (__m512i w, __m512i q)
{
  return _mm512_mask_sub_epi8 (q, _mm512_movepi8_mask (w), _mm512_setzero_si512 (), q);
}

static void
vec_dot_iq4_nl_q8_0_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_iq4_nl *x = vx;
  const block_q8_0 *y = vy;
  const int nb = n / QK4_NL;
  const __m512i table = _mm512_broadcast_i32x4 (_mm_loadu_si128 ((const __m128i *) kvalues_iq4nl));
  __m512 acc0 = _mm512_setzero_ps (), acc1 = _mm512_setzero_ps ();
  int i = 0;

  for (; i + 3 < nb; i += 4) {
    __m512i w0 = iq4_levels (table, x[i].qs, x[i + 1].qs);
    __m512i w1 = iq4_levels (table, x[i + 2].qs, x[i + 3].qs);
    __m512i q0 = load_2x32 (y[i].qs, y[i + 1].qs);
    __m512i q1 = load_2x32 (y[i + 2].qs, y[i + 3].qs);
    __m512i p0 = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), _mm512_abs_epi8 (w0), move_sign (w0, q0));
    __m512i p1 = _mm512_dpbusd_epi32 (_mm512_setzero_si512 (), _mm512_abs_epi8 (w1), move_sign (w1, q1));
    __m256 d0 = _mm256_set1_ps (_cvtsh_ss (x[i].d) * _cvtsh_ss (y[i].d));
    __m256 d1 = _mm256_set1_ps (_cvtsh_ss (x[i + 1].d) * _cvtsh_ss (y[i + 1].d));
    __m256 d2 = _mm256_set1_ps (_cvtsh_ss (x[i + 2].d) * _cvtsh_ss (y[i + 2].d));
    __m256 d3 = _mm256_set1_ps (_cvtsh_ss (x[i + 3].d) * _cvtsh_ss (y[i + 3].d));
    acc0 = _mm512_fmadd_ps (_mm512_insertf32x8 (_mm512_castps256_ps512 (d0), d1, 1), _mm512_cvtepi32_ps (p0), acc0);
    acc1 = _mm512_fmadd_ps (_mm512_insertf32x8 (_mm512_castps256_ps512 (d2), d3, 1), _mm512_cvtepi32_ps (p1), acc1);
  }
  float sumf = _mm512_reduce_add_ps (_mm512_add_ps (acc0, acc1));
  /* Up to 3 blocks left: 256-bit steps. */
  __m256 acc = _mm256_setzero_ps ();
  const __m256i table256 = _mm512_castsi512_si256 (table);
  for (; i < nb; i++) {
    __m128i q4 = _mm_loadu_si128 ((const __m128i *) x[i].qs);
    __m128i lo = _mm_and_si128 (q4, _mm_set1_epi8 (0x0f));
    __m128i hi = _mm_and_si128 (_mm_srli_epi16 (q4, 4), _mm_set1_epi8 (0x0f));
    __m256i w = _mm256_shuffle_epi8 (table256, _mm256_set_m128i (hi, lo));
    __m256i q = _mm256_loadu_si256 ((const __m256i *) y[i].qs);
    q = _mm256_mask_sub_epi8 (q, _mm256_movepi8_mask (w), _mm256_setzero_si256 (), q);
    __m256i p = _mm256_dpbusd_epi32 (_mm256_setzero_si256 (), _mm256_abs_epi8 (w), q);
    const float d = _cvtsh_ss (x[i].d) * _cvtsh_ss (y[i].d);
    acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (p), acc);
  }
  __m128 t = _mm_add_ps (_mm256_castps256_ps128 (acc), _mm256_extractf128_ps (acc, 1));
  t = _mm_add_ps (t, _mm_movehl_ps (t, t));
  t = _mm_add_ss (t, _mm_movehdup_ps (t));
  *s = sumf + _mm_cvtss_f32 (t);
}

/* vpermw indices: word 2k of the low 128 bits in the low 256 bits, word
 * 2k + 1 in the high 256 (two_scales16 of sub-blocks 2k and 2k + 1) */
#define SC16(a) a, a, a, a, a, a, a, a, a, a, a, a, a, a, a, a
#define SC_PAIR(k) { SC16 (2 * (k)), SC16 (2 * (k) + 1) }
static const int16_t iq4_xs_scale_idx[4][32] __attribute__ ((aligned (64))) = {
  SC_PAIR (0), SC_PAIR (1), SC_PAIR (2), SC_PAIR (3)
};

/* The same integer lanes as before, from fewer instructions (decode was
 * compute-bound on this kernel: 23 GB/s per thread in cache, under the
 * per-thread bandwidth): 64 bytes of nibbles per load, split into low and
 * high nibbles, then two qword permutes put each 16-byte group's low then
 * high nibbles side by side as iq4_levels does; |w| comes from a table of
 * absolute values and w's sign from the index, so no abs and no sign
 * extraction per level; the eight
 * 6-bit sub-block scales by two pdep (low nibbles of scales_l, two bits of
 * scales_h per byte) and one word permute per pair of sub-blocks. */
static void
vec_dot_iq4_xs_q8_K_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_iq4_xs *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  /* |kvalues_iq4nl|: its values are negative at indices 0-7 (bit 3 clear) */
  const __m512i abs_table = _mm512_abs_epi8 (_mm512_broadcast_i32x4 (_mm_loadu_si128 ((const __m128i *) kvalues_iq4nl)));
  const __m512i m4 = _mm512_set1_epi8 (0x0f), eight = _mm512_set1_epi8 (8);
  /* [lo0, hi0, lo1, hi1] and [lo2, hi2, lo3, hi3] of 128-bit lanes */
  const __m512i first = _mm512_setr_epi64 (0, 1, 8, 9, 2, 3, 10, 11);
  const __m512i second = _mm512_setr_epi64 (4, 5, 12, 13, 6, 7, 14, 15);
  __m512 acc = _mm512_setzero_ps ();

  for (int i = 0; i < nb; i++) {
    const uint8_t *qs = x[i].qs;
    const int8_t *q8 = y[i].qs;
    uint32_t sl;
    memcpy (&sl, x[i].scales_l, sizeof sl);
    const uint64_t ls_bytes = _pdep_u64 (sl, 0x0f0f0f0f0f0f0f0full) | _pdep_u64 (x[i].scales_h, 0x3030303030303030ull);
    const __m512i ls = _mm512_castsi128_si512 (_mm_sub_epi16 (_mm_cvtepu8_epi16 (_mm_cvtsi64_si128 ((long long) ls_bytes)),
            _mm_set1_epi16 (32)));
    /* Two accumulators: independent dpwssd chains. */
    __m512i sumi0 = _mm512_setzero_si512 (), sumi1 = _mm512_setzero_si512 ();
    for (int half = 0; half < 2; half++) {
      const __m512i v = _mm512_loadu_si512 (qs);
      const __m512i lo = _mm512_and_si512 (v, m4), hi = _mm512_and_si512 (_mm512_srli_epi16 (v, 4), m4);
      const __m512i i0 = _mm512_permutex2var_epi64 (lo, first, hi);
      const __m512i i1 = _mm512_permutex2var_epi64 (lo, second, hi);
      const __m512i q0 = _mm512_loadu_si512 (q8);
      const __m512i q1 = _mm512_loadu_si512 (q8 + 64);
      /* |w| and q with w's sign, as move_sign: w < 0 exactly for indices 0-7 */
      const __m512i p0 = _mm512_maddubs_epi16 (_mm512_shuffle_epi8 (abs_table, i0),
          _mm512_mask_sub_epi8 (q0, _mm512_testn_epi8_mask (i0, eight), _mm512_setzero_si512 (), q0));
      const __m512i p1 = _mm512_maddubs_epi16 (_mm512_shuffle_epi8 (abs_table, i1),
          _mm512_mask_sub_epi8 (q1, _mm512_testn_epi8_mask (i1, eight), _mm512_setzero_si512 (), q1));
      sumi0 = _mm512_dpwssd_epi32 (sumi0, p0,
          _mm512_permutexvar_epi16 (_mm512_load_si512 (iq4_xs_scale_idx[2 * half]), ls));
      sumi1 = _mm512_dpwssd_epi32 (sumi1, p1,
          _mm512_permutexvar_epi16 (_mm512_load_si512 (iq4_xs_scale_idx[2 * half + 1]), ls));
      qs += 64;
      q8 += 128;
    }
    const float d = _cvtsh_ss (x[i].d) * y[i].d;
    acc = _mm512_fmadd_ps (_mm512_set1_ps (d), _mm512_cvtepi32_ps (_mm512_add_epi32 (sumi0, sumi1)), acc);
  }
  *s = _mm512_reduce_add_ps (acc);
}

/* Sign bytes of two IQ2_XXS sub-blocks (their second words a1, b1) as one
 * 64-bit mask, bit j = element j negative: 7 stored bits per byte, the 8th
 * makes the byte's count of set bits even. */
static inline uint64_t
iq2xxs_sign_mask (uint32_t a1, uint32_t b1)
{
  uint64_t bits = (uint64_t) (a1 & 0x0fffffff) | ((uint64_t) (b1 & 0x0fffffff) << 28);
  uint64_t w = _pdep_u64 (bits, 0x7f7f7f7f7f7f7f7full);
  uint64_t t = w ^ (w >> 4);
  t ^= t >> 2;
  t ^= t >> 1;
  return w | ((t & 0x0101010101010101ull) << 7);
}

static void
vec_dot_iq2_xxs_q8_K_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_iq2_xxs *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const int8_t *q8 = y[i].qs;
    __m512i sumi0 = _mm512_setzero_si512 (), sumi1 = _mm512_setzero_si512 ();
    for (int ib = 0; ib < QK_K / 32; ib += 2) {
      uint32_t aux[4];
      memcpy (aux, x[i].qs + 4 * ib, sizeof aux);
      __m512i g = _mm512_set_epi64 ((long long) iq2xxs_grid[aux[2] >> 24],
          (long long) iq2xxs_grid[(aux[2] >> 16) & 0xff],
          (long long) iq2xxs_grid[(aux[2] >> 8) & 0xff], (long long) iq2xxs_grid[aux[2] & 0xff],
          (long long) iq2xxs_grid[aux[0] >> 24], (long long) iq2xxs_grid[(aux[0] >> 16) & 0xff],
          (long long) iq2xxs_grid[(aux[0] >> 8) & 0xff], (long long) iq2xxs_grid[aux[0] & 0xff]);
      __m512i q = _mm512_loadu_si512 (q8);
      q = _mm512_mask_sub_epi8 (q, iq2xxs_sign_mask (aux[1], aux[3]), _mm512_setzero_si512 (), q);
      __m512i p = _mm512_maddubs_epi16 (g, q);
      __m512i ls = two_scales16 (2 * (aux[1] >> 28) + 1, 2 * (aux[3] >> 28) + 1);
      if (ib & 2)
        sumi1 = _mm512_dpwssd_epi32 (sumi1, p, ls);
      else
        sumi0 = _mm512_dpwssd_epi32 (sumi0, p, ls);
      q8 += 64;
    }
    const float d = _cvtsh_ss (x[i].d) * y[i].d;
    sumf += no_contract (d * _mm512_reduce_add_epi32 (_mm512_add_epi32 (sumi0, sumi1)));
  }
  *s = 0.125f * sumf;
}

static void
vec_dot_iq1_s_q8_K_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_iq1_s *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  const __m512i ones8 = _mm512_set1_epi8 (1);
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const int8_t *q8 = y[i].qs;
    const uint8_t *qs = x[i].qs;
    const uint16_t *qh = x[i].qh;
    __m512i acc0 = _mm512_setzero_si512 (), acc1 = _mm512_setzero_si512 ();
    /* g + 1 in {0, 1, 2} is the unsigned operand; the added sum of q8 and
     * the delta term come from bsums. */
    for (int ib = 0; ib < QK_K / 32; ib += 2) {
      const uint32_t h0 = qh[ib], h1 = qh[ib + 1];
      __m512i g = _mm512_set_epi64 ((long long) iq1s_grid[qs[7] | ((h1 >> 1) & 0x700)],
          (long long) iq1s_grid[qs[6] | ((h1 << 2) & 0x700)],
          (long long) iq1s_grid[qs[5] | ((h1 << 5) & 0x700)],
          (long long) iq1s_grid[qs[4] | ((h1 << 8) & 0x700)],
          (long long) iq1s_grid[qs[3] | ((h0 >> 1) & 0x700)],
          (long long) iq1s_grid[qs[2] | ((h0 << 2) & 0x700)],
          (long long) iq1s_grid[qs[1] | ((h0 << 5) & 0x700)],
          (long long) iq1s_grid[qs[0] | ((h0 << 8) & 0x700)]);
      const int ls0 = 2 * ((h0 >> 12) & 7) + 1;
      const int ls1 = 2 * ((h1 >> 12) & 7) + 1;
      __m512i p = _mm512_maddubs_epi16 (_mm512_add_epi8 (g, ones8), _mm512_loadu_si512 (q8));
      if (ib & 2)
        acc1 = _mm512_dpwssd_epi32 (acc1, p, two_scales16 (ls0, ls1));
      else
        acc0 = _mm512_dpwssd_epi32 (acc0, p, two_scales16 (ls0, ls1));
      qs += 8;
      q8 += 64;
    }
    int sum_q8, sumi1;
    iq1s_corrections (qh, y[i].bsums, &sum_q8, &sumi1);
    const int sumi = _mm512_reduce_add_epi32 (_mm512_add_epi32 (acc0, acc1)) - sum_q8;
    const float d = _cvtsh_ss (x[i].d) * y[i].d;
    sumf += no_contract (d * (sumi + IQ1S_DELTA * sumi1));
  }
  *s = sumf;
}

static void
vec_dot_iq1_m_q8_K_avx512 (int n, float *s, const void *vx, const void *vy)
{
  const block_iq1_m *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  const __m512i ones8 = _mm512_set1_epi8 (1);
  const __m512i twos8 = _mm512_set1_epi8 (2);
  /* Scale of each 16-element half: 3 bits at 3 j of the scale word of its
   * sub-block pair, j = half index within the pair. */
  const __m256i half_shift = _mm256_set_epi16 (9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0, 9, 6, 3, 0);
  const __m256i half_word = _mm256_set_epi16 (3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const int8_t *q8 = y[i].qs;
    const uint8_t *qs = x[i].qs;
    const uint8_t *qh = x[i].qh;
    /* The 16 half scales 2 s + 1 of the super-block, in order. */
    __m256i sc = _mm256_castsi128_si256 (_mm_loadl_epi64 ((const __m128i *) x[i].scales));
    sc = _mm256_permutexvar_epi16 (half_word, sc);
    sc = _mm256_and_si256 (_mm256_srlv_epi16 (sc, half_shift), _mm256_set1_epi16 (7));
    const __m256i ls16 = _mm256_add_epi16 (_mm256_add_epi16 (sc, sc), _mm256_set1_epi16 (1));
    /* sum over halves of ls * (sum of q8), for the +9 offset of u below */
    const __m256i bsums = _mm256_loadu_si256 ((const __m256i *) y[i].bsums);
    const __m256i corr = _mm256_madd_epi16 (ls16, bsums);
    const __m512i ls512 = _mm512_castsi256_si512 (ls16);
    __m512i acc0 = _mm512_setzero_si512 (), acc1 = _mm512_setzero_si512 ();
    for (int ib = 0; ib < QK_K / 32; ib += 2) {
      /* Byte weight u = 8 (g + 1) + (delta + 1) = (8 g + delta) + 9, in
       * [0, 18]: grid counted 8 times, undone exactly by the final 1/8. */
      __m512i g = _mm512_set_epi64 ((long long) iq1s_grid[qs[7] | ((qh[3] << 4) & 0x700)],
          (long long) iq1s_grid[qs[6] | ((qh[3] << 8) & 0x700)],
          (long long) iq1s_grid[qs[5] | ((qh[2] << 4) & 0x700)],
          (long long) iq1s_grid[qs[4] | ((qh[2] << 8) & 0x700)],
          (long long) iq1s_grid[qs[3] | ((qh[1] << 4) & 0x700)],
          (long long) iq1s_grid[qs[2] | ((qh[1] << 8) & 0x700)],
          (long long) iq1s_grid[qs[1] | ((qh[0] << 4) & 0x700)],
          (long long) iq1s_grid[qs[0] | ((qh[0] << 8) & 0x700)]);
      uint32_t h;
      memcpy (&h, qh, sizeof h);
      /* bit 3 of each nibble of qh: the shift sign of one 8-group */
      const __mmask8 positive = (__mmask8) ~_pext_u32 (h, 0x88888888u);
      __m512i u = _mm512_slli_epi16 (_mm512_add_epi8 (g, ones8), 3);
      u = _mm512_add_epi8 (u, _mm512_maskz_mov_epi64 (positive, twos8));
      __m512i p = _mm512_maddubs_epi16 (u, _mm512_loadu_si512 (q8));
      /* lane j (16 elements) takes half scale 2 ib + j */
      const __m512i lidx = _mm512_add_epi16 (_mm512_set1_epi16 ((short) (2 * ib)),
          _mm512_set_epi64 (0x0003000300030003ll, 0x0003000300030003ll, 0x0002000200020002ll,
              0x0002000200020002ll, 0x0001000100010001ll, 0x0001000100010001ll, 0, 0));
      __m512i ls = _mm512_permutexvar_epi16 (lidx, ls512);
      if (ib & 2)
        acc1 = _mm512_dpwssd_epi32 (acc1, p, ls);
      else
        acc0 = _mm512_dpwssd_epi32 (acc0, p, ls);
      qs += 8;
      qh += 4;
      q8 += 64;
    }
    /* = 8 sumi1 + sumi2 of the reference, |total| < 2^24: exact in float */
    const int total = _mm512_reduce_add_epi32 (_mm512_add_epi32 (acc0, acc1)) - 9 * hsum_i32 (corr);
    const float d = _cvtsh_ss (iq1m_block_scale (&x[i])) * y[i].d;
    sumf += no_contract (d * (total * IQ1M_DELTA));
  }
  *s = sumf;
}

void
prima_quants_iq_avx512_register (prima_type_traits *table)
{
  table[PRIMA_TYPE_IQ4_NL].vec_dot = vec_dot_iq4_nl_q8_0_avx512;
  table[PRIMA_TYPE_IQ4_XS].vec_dot = vec_dot_iq4_xs_q8_K_avx512;
  table[PRIMA_TYPE_IQ2_XXS].vec_dot = vec_dot_iq2_xxs_q8_K_avx512;
  table[PRIMA_TYPE_IQ1_S].vec_dot = vec_dot_iq1_s_q8_K_avx512;
  table[PRIMA_TYPE_IQ1_M].vec_dot = vec_dot_iq1_m_q8_K_avx512;
}

#else

void
prima_quants_iq_avx512_register (prima_type_traits *table)
{
  (void) table;
}

#endif
