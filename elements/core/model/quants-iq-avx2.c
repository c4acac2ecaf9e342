/* gst-prima: AVX2 dot products of the IQ types IQ4_NL, IQ4_XS, IQ2_XXS,
 * IQ1_S and IQ1_M against 8-bit activations.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Built with -mavx2 -mfma -mf16c -mbmi2 and only called when the CPU has them.
 * Weights become bytes through table lookups (pshufb for the 16 IQ4 levels,
 * 64-bit grid loads for the others), then u8 x s8 products (maddubs) and
 * int16 x scale (madd) give exact integer sums per super-block. IQ2_XXS,
 * IQ1_S and IQ1_M then scale exactly as the scalar reference does, so they
 * match it bit for bit; the IQ4 kernels keep vector float accumulators and
 * differ from it only by float summation order.
 */
#include "quants-iq.h"

#if defined(__AVX2__)

#include <immintrin.h>
#include <string.h>

#include "simd-avx2.h"

/* Keeps a product out of a following addition, so the compiler cannot fuse
 * them into an FMA that would round differently from the scalar reference. */
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

/* Sum of a[i] * b[i] over pairs, both signed bytes, as int16 pairs: maddubs
 * wants one unsigned operand, so move a's sign onto b. Exact while no
 * |a| or |b| is 128. */
static inline __m256i
mul_s8_pairs (__m256i a, __m256i b)
{
  return _mm256_maddubs_epi16 (_mm256_sign_epi8 (a, a), _mm256_sign_epi8 (b, a));
}

static inline __m256i
iq4_table (void)
{
  return _mm256_broadcastsi128_si256 (_mm_loadu_si128 ((const __m128i *) kvalues_iq4nl));
}

/* 16 bytes of nibbles -> 32 levels: low nibbles (elements 0..15) in the low
 * lane, high nibbles (16..31) in the high lane. */
static inline __m256i
iq4_levels (__m256i table, __m128i q4)
{
  const __m128i m4 = _mm_set1_epi8 (0x0f);
  __m128i lo = _mm_and_si128 (q4, m4);
  __m128i hi = _mm_and_si128 (_mm_srli_epi16 (q4, 4), m4);
  return _mm256_shuffle_epi8 (table, _mm256_set_m128i (hi, lo));
}

static void
vec_dot_iq4_nl_q8_0_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_iq4_nl *x = vx;
  const block_q8_0 *y = vy;
  const int nb = n / QK4_NL;
  const __m256i table = iq4_table ();
  const __m256i ones = _mm256_set1_epi16 (1);
  __m256 acc0 = _mm256_setzero_ps (), acc1 = _mm256_setzero_ps ();
  int i = 0;

  /* Two blocks per step into two accumulators, to hide the FMA latency. */
  for (; i + 1 < nb; i += 2) {
    __m256i w0 = iq4_levels (table, _mm_loadu_si128 ((const __m128i *) x[i].qs));
    __m256i w1 = iq4_levels (table, _mm_loadu_si128 ((const __m128i *) x[i + 1].qs));
    __m256i p0 = _mm256_madd_epi16 (mul_s8_pairs (w0, _mm256_loadu_si256 ((const __m256i *) y[i].qs)), ones);
    __m256i p1 = _mm256_madd_epi16 (mul_s8_pairs (w1, _mm256_loadu_si256 ((const __m256i *) y[i + 1].qs)), ones);
    const float d0 = _cvtsh_ss (x[i].d) * _cvtsh_ss (y[i].d);
    const float d1 = _cvtsh_ss (x[i + 1].d) * _cvtsh_ss (y[i + 1].d);
    acc0 = _mm256_fmadd_ps (_mm256_set1_ps (d0), _mm256_cvtepi32_ps (p0), acc0);
    acc1 = _mm256_fmadd_ps (_mm256_set1_ps (d1), _mm256_cvtepi32_ps (p1), acc1);
  }
  for (; i < nb; i++) {
    __m256i w = iq4_levels (table, _mm_loadu_si128 ((const __m128i *) x[i].qs));
    __m256i p = _mm256_madd_epi16 (mul_s8_pairs (w, _mm256_loadu_si256 ((const __m256i *) y[i].qs)), ones);
    const float d = _cvtsh_ss (x[i].d) * _cvtsh_ss (y[i].d);
    acc0 = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (p), acc0);
  }
  *s = hsum_ps (_mm256_add_ps (acc0, acc1));
}

static void
vec_dot_iq4_xs_q8_K_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_iq4_xs *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  const __m256i table = iq4_table ();
  const __m256i m4 = _mm256_set1_epi8 (0x0f);
  __m256 acc = _mm256_setzero_ps ();

  for (int i = 0; i < nb; i++) {
    const uint8_t *qs = x[i].qs;
    const int8_t *q8 = y[i].qs;
    const uint16_t sh = x[i].scales_h;
    __m256i sumi = _mm256_setzero_si256 ();
    for (int ib = 0; ib < QK_K / 32; ib += 2) {
      /* 32 bytes of nibbles = sub-blocks ib (low lane) and ib + 1. */
      __m256i q4 = _mm256_loadu_si256 ((const __m256i *) qs);
      __m256i lo = _mm256_and_si256 (q4, m4);
      __m256i hi = _mm256_and_si256 (_mm256_srli_epi16 (q4, 4), m4);
      __m256i w0 = _mm256_shuffle_epi8 (table, _mm256_permute2x128_si256 (lo, hi, 0x20));
      __m256i w1 = _mm256_shuffle_epi8 (table, _mm256_permute2x128_si256 (lo, hi, 0x31));
      const uint8_t sl = x[i].scales_l[ib / 2];
      const int ls0 = ((sl & 0xf) | (((sh >> 2 * ib) & 3) << 4)) - 32;
      const int ls1 = ((sl >> 4) | (((sh >> (2 * ib + 2)) & 3) << 4)) - 32;
      __m256i p0 = mul_s8_pairs (w0, _mm256_loadu_si256 ((const __m256i *) q8));
      __m256i p1 = mul_s8_pairs (w1, _mm256_loadu_si256 ((const __m256i *) (q8 + 32)));
      p0 = _mm256_madd_epi16 (p0, _mm256_set1_epi16 ((short) ls0));
      p1 = _mm256_madd_epi16 (p1, _mm256_set1_epi16 ((short) ls1));
      sumi = _mm256_add_epi32 (sumi, _mm256_add_epi32 (p0, p1));
      qs += 32;
      q8 += 64;
    }
    const float d = _cvtsh_ss (x[i].d) * y[i].d;
    acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
  }
  *s = hsum_ps (acc);
}

/* The 4 sign bytes of an IQ2_XXS sub-block from the 4 x 7 stored bits: the
 * 8th bit of each byte makes its count of set bits even. */
static inline uint32_t
iq2xxs_sign_bytes (uint32_t aux1)
{
  uint32_t w = _pdep_u32 (aux1, 0x7f7f7f7fu);
  uint32_t t = w ^ (w >> 4);
  t ^= t >> 2;
  t ^= t >> 1;
  return w | ((t & 0x01010101u) << 7);
}

/* 32 sign bits -> 32 bytes of 0xff (bit set) or 0. */
static inline __m256i
expand_sign_bits (uint32_t bits)
{
  const __m256i spread = _mm256_set_epi64x (0x0303030303030303, 0x0202020202020202,
      0x0101010101010101, 0x0000000000000000);
  const __m256i bit = _mm256_set1_epi64x ((long long) 0x8040201008040201ull);
  __m256i v = _mm256_shuffle_epi8 (_mm256_set1_epi32 ((int) bits), spread);
  return _mm256_cmpeq_epi8 (_mm256_and_si256 (v, bit), bit);
}

static void
vec_dot_iq2_xxs_q8_K_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_iq2_xxs *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const int8_t *q8 = y[i].qs;
    __m256i sumi = _mm256_setzero_si256 ();
    for (int ib = 0; ib < QK_K / 32; ib++) {
      uint32_t aux[2];
      memcpy (aux, x[i].qs + 4 * ib, sizeof aux);
      __m256i g = _mm256_set_epi64x ((long long) iq2xxs_grid[aux[0] >> 24],
          (long long) iq2xxs_grid[(aux[0] >> 16) & 0xff],
          (long long) iq2xxs_grid[(aux[0] >> 8) & 0xff], (long long) iq2xxs_grid[aux[0] & 0xff]);
      __m256i neg = expand_sign_bits (iq2xxs_sign_bytes (aux[1]));
      __m256i q = _mm256_loadu_si256 ((const __m256i *) q8);
      q = _mm256_sub_epi8 (_mm256_xor_si256 (q, neg), neg);
      __m256i p = _mm256_maddubs_epi16 (g, q);
      p = _mm256_madd_epi16 (p, _mm256_set1_epi16 ((short) (2 * (aux[1] >> 28) + 1)));
      sumi = _mm256_add_epi32 (sumi, p);
      q8 += 32;
    }
    const float d = _cvtsh_ss (x[i].d) * y[i].d;
    sumf += no_contract (d * hsum_i32 (sumi));
  }
  *s = 0.125f * sumf;
}

static void
vec_dot_iq1_s_q8_K_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_iq1_s *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  const __m256i ones8 = _mm256_set1_epi8 (1);
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const int8_t *q8 = y[i].qs;
    const uint8_t *qs = x[i].qs;
    __m256i acc = _mm256_setzero_si256 ();
    /* Grid values g in {-1, 0, 1} enter maddubs as g + 1; the extra sum of
     * q8 comes back out through bsums (sum_q8), as does the delta term. */
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const uint32_t qh = x[i].qh[ib];
      const int ls = 2 * ((qh >> 12) & 7) + 1;
      __m256i g = _mm256_set_epi64x ((long long) iq1s_grid[qs[3] | ((qh >> 1) & 0x700)],
          (long long) iq1s_grid[qs[2] | ((qh << 2) & 0x700)],
          (long long) iq1s_grid[qs[1] | ((qh << 5) & 0x700)],
          (long long) iq1s_grid[qs[0] | ((qh << 8) & 0x700)]);
      __m256i p = _mm256_maddubs_epi16 (_mm256_add_epi8 (g, ones8), _mm256_loadu_si256 ((const __m256i *) q8));
      acc = _mm256_add_epi32 (acc, _mm256_madd_epi16 (p, _mm256_set1_epi16 ((short) ls)));
      qs += 4;
      q8 += 32;
    }
    int sum_q8, sumi1;
    iq1s_corrections (x[i].qh, y[i].bsums, &sum_q8, &sumi1);
    const int sumi = hsum_i32 (acc) - sum_q8;
    const float d = _cvtsh_ss (x[i].d) * y[i].d;
    sumf += no_contract (d * (sumi + IQ1S_DELTA * sumi1));
  }
  *s = sumf;
}

static void
vec_dot_iq1_m_q8_K_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_iq1_m *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  const __m256i ones8 = _mm256_set1_epi8 (1);
  const __m256i twos8 = _mm256_set1_epi8 (2);
  /* The shift sign bits of the four 8-groups of a sub-block, as bits of
   * qh[0] | qh[1] << 8, each tested in the 16-bit words of its group. */
  const __m256i dbit = _mm256_set_epi64x (0x8000800080008000ll, 0x0800080008000800ll,
      0x0080008000800080ll, 0x0008000800080008ll);
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const int8_t *q8 = y[i].qs;
    const uint8_t *qs = x[i].qs;
    const uint8_t *qh = x[i].qh;
    uint16_t sc[4];
    memcpy (sc, x[i].scales, sizeof sc);
    __m256i acc = _mm256_setzero_si256 ();
    int sum_q8 = 0;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const int ls1 = 2 * ((sc[ib / 2] >> (6 * (ib % 2))) & 7) + 1;
      const int ls2 = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1;
      __m256i g = _mm256_set_epi64x ((long long) iq1s_grid[qs[3] | ((qh[1] << 4) & 0x700)],
          (long long) iq1s_grid[qs[2] | ((qh[1] << 8) & 0x700)],
          (long long) iq1s_grid[qs[1] | ((qh[0] << 4) & 0x700)],
          (long long) iq1s_grid[qs[0] | ((qh[0] << 8) & 0x700)]);
      /* One byte weight u = 8 (g + 1) + (delta + 1) = (8 g + delta) + 9, in
       * [0, 18]: the grid and shift parts in one product, the grid part
       * counted 8 times (undone by the final 1/8, exactly). */
      __m256i pos = _mm256_cmpeq_epi16 (_mm256_and_si256 (_mm256_set1_epi16 ((short) (qh[0] | (qh[1] << 8))), dbit),
          _mm256_setzero_si256 ());
      __m256i u = _mm256_slli_epi16 (_mm256_add_epi8 (g, ones8), 3);
      u = _mm256_add_epi8 (u, _mm256_and_si256 (pos, twos8));
      __m256i p = _mm256_maddubs_epi16 (u, _mm256_loadu_si256 ((const __m256i *) q8));
      /* Elements 0..15 (low lane) use ls1, 16..31 ls2. */
      __m256i ls = _mm256_set_m128i (_mm_set1_epi16 ((short) ls2), _mm_set1_epi16 ((short) ls1));
      acc = _mm256_add_epi32 (acc, _mm256_madd_epi16 (p, ls));
      sum_q8 += ls1 * y[i].bsums[2 * ib] + ls2 * y[i].bsums[2 * ib + 1];
      qs += 4;
      qh += 2;
      q8 += 32;
    }
    /* total = 8 * sumi1 + sumi2 of the reference, below 2^24 in magnitude,
     * so total * 1/8 equals its sumi1 + sumi2 / 8 exactly. */
    const int total = hsum_i32 (acc) - 9 * sum_q8;
    const float d = _cvtsh_ss (iq1m_block_scale (&x[i])) * y[i].d;
    sumf += no_contract (d * (total * IQ1M_DELTA));
  }
  *s = sumf;
}

void
prima_quants_iq_avx2_register (prima_type_traits *table)
{
  table[PRIMA_TYPE_IQ4_NL].vec_dot = vec_dot_iq4_nl_q8_0_avx2;
  table[PRIMA_TYPE_IQ4_XS].vec_dot = vec_dot_iq4_xs_q8_K_avx2;
  table[PRIMA_TYPE_IQ2_XXS].vec_dot = vec_dot_iq2_xxs_q8_K_avx2;
  table[PRIMA_TYPE_IQ1_S].vec_dot = vec_dot_iq1_s_q8_K_avx2;
  table[PRIMA_TYPE_IQ1_M].vec_dot = vec_dot_iq1_m_q8_K_avx2;
}

#else

void
prima_quants_iq_avx2_register (prima_type_traits *table)
{
  (void) table;
}

#endif
