/* gst-prima: AVX2 (+FMA, F16C) dot products and activation quantizers.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Compiled with -mavx2 -mfma -mf16c -mbmi2 and only called when the CPU has
 * them. Integer work is exact, so each block's integer sum equals the scalar
 * reference; only the float accumulation order differs. The activation
 * quantizers produce the very same blocks as the _ref versions.
 */
#include "quants.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "simd-avx2.h"

/* ---------------------------------------------------------------------
 * Helpers (those gemm-avx2.c shares are in simd-avx2.h)
 * --------------------------------------------------------------------- */

static inline int
hsum_epi32_128 (__m128i v)
{
  v = _mm_add_epi32 (v, _mm_shuffle_epi32 (v, _MM_SHUFFLE (1, 0, 3, 2)));
  v = _mm_add_epi32 (v, _mm_shuffle_epi32 (v, _MM_SHUFFLE (2, 3, 0, 1)));
  return _mm_cvtsi128_si32 (v);
}

/* 16 packed bytes -> 32 nibbles: low nibbles in bytes 0..15, high in 16..31,
 * which is the element order of the 32-blocks. */
static inline __m256i
nibbles_32 (const uint8_t *p)
{
  const __m128i t = _mm_loadu_si128 ((const __m128i *) p);
  const __m256i b = _mm256_set_m128i (_mm_srli_epi16 (t, 4), t);
  return _mm256_and_si256 (b, _mm256_set1_epi8 (0x0F));
}

/* 32 bits -> 32 bytes, 0xFF where the bit is set. Byte j takes byte j/8 of
 * the word, ORs in every bit but j%8, and is all ones iff bit j%8 was set. */
static inline __m256i
bits_to_bytes_32 (const uint8_t *p)
{
  uint32_t w;
  memcpy (&w, p, sizeof w);
  const __m256i spread = _mm256_shuffle_epi8 (_mm256_set1_epi32 ((int) w),
      _mm256_set_epi64x (0x0303030303030303LL, 0x0202020202020202LL,
          0x0101010101010101LL, 0x0000000000000000LL));
  const __m256i others = _mm256_set1_epi64x (0x7fbfdfeff7fbfdfeLL);
  return _mm256_cmpeq_epi8 (_mm256_or_si256 (spread, others), _mm256_set1_epi64x (-1));
}

/* Signed x signed bytes -> 8 int32 sums of 4 products. maddubs wants its
 * first operand unsigned, so move x's sign onto y. */
static inline __m256i
dot_i8_i32 (__m256i x, __m256i y)
{
  const __m256i ax = _mm256_sign_epi8 (x, x);
  const __m256i sy = _mm256_sign_epi8 (y, x);
  return _mm256_madd_epi16 (_mm256_maddubs_epi16 (ax, sy), _mm256_set1_epi16 (1));
}

/* Unsigned x signed bytes -> 8 int32 sums of 4 products (x < 128). */
static inline __m256i
dot_u8_i32 (__m256i ux, __m256i y)
{
  return _mm256_madd_epi16 (_mm256_maddubs_epi16 (ux, y), _mm256_set1_epi16 (1));
}

/* ---------------------------------------------------------------------
 * Float types
 * --------------------------------------------------------------------- */

static void
vec_dot_f32_f32_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const float *x = vx, *y = vy;
  __m256 a0 = _mm256_setzero_ps (), a1 = a0, a2 = a0, a3 = a0;
  int i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps (_mm256_loadu_ps (x + i), _mm256_loadu_ps (y + i), a0);
    a1 = _mm256_fmadd_ps (_mm256_loadu_ps (x + i + 8), _mm256_loadu_ps (y + i + 8), a1);
    a2 = _mm256_fmadd_ps (_mm256_loadu_ps (x + i + 16), _mm256_loadu_ps (y + i + 16), a2);
    a3 = _mm256_fmadd_ps (_mm256_loadu_ps (x + i + 24), _mm256_loadu_ps (y + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8)
    a0 = _mm256_fmadd_ps (_mm256_loadu_ps (x + i), _mm256_loadu_ps (y + i), a0);
  float sum = hsum_ps (_mm256_add_ps (_mm256_add_ps (a0, a1), _mm256_add_ps (a2, a3)));
  for (; i < n; i++)
    sum += x[i] * y[i];
  *s = sum;
}

static void
vec_dot_f16_f16_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const prima_fp16 *x = vx, *y = vy;
  __m256 a0 = _mm256_setzero_ps (), a1 = a0, a2 = a0, a3 = a0;
  int i = 0;
#define LD(p) _mm256_cvtph_ps (_mm_loadu_si128 ((const __m128i *) (p)))
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_fmadd_ps (LD (x + i), LD (y + i), a0);
    a1 = _mm256_fmadd_ps (LD (x + i + 8), LD (y + i + 8), a1);
    a2 = _mm256_fmadd_ps (LD (x + i + 16), LD (y + i + 16), a2);
    a3 = _mm256_fmadd_ps (LD (x + i + 24), LD (y + i + 24), a3);
  }
  for (; i + 8 <= n; i += 8)
    a0 = _mm256_fmadd_ps (LD (x + i), LD (y + i), a0);
#undef LD
  float sum = hsum_ps (_mm256_add_ps (_mm256_add_ps (a0, a1), _mm256_add_ps (a2, a3)));
  for (; i < n; i++)
    sum += fp16 (x[i]) * fp16 (y[i]);
  *s = sum;
}

static void
vec_dot_bf16_bf16_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const prima_bf16 *x = vx, *y = vy;
  __m256 a0 = _mm256_setzero_ps (), a1 = a0;
  int i = 0;
  /* bf16 is the top half of a float: widen and shift */
#define LD(p) _mm256_castsi256_ps (_mm256_slli_epi32 (_mm256_cvtepu16_epi32 ( \
      _mm_loadu_si128 ((const __m128i *) (p))), 16))
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_fmadd_ps (LD (x + i), LD (y + i), a0);
    a1 = _mm256_fmadd_ps (LD (x + i + 8), LD (y + i + 8), a1);
  }
  for (; i + 8 <= n; i += 8)
    a0 = _mm256_fmadd_ps (LD (x + i), LD (y + i), a0);
#undef LD
  float sum = hsum_ps (_mm256_add_ps (a0, a1));
  for (; i < n; i++)
    sum += prima_bf16_to_fp32 (x[i]) * prima_bf16_to_fp32 (y[i]);
  *s = sum;
}

/* ---------------------------------------------------------------------
 * Activation quantizers (bit-identical to the _ref versions)
 * --------------------------------------------------------------------- */

/* roundf (ties away from zero) of 8 floats, as int32. Truncate, then step
 * away from zero where the (exact) remainder is at least one half. */
static inline __m256i
roundf_epi32 (__m256 v)
{
  const __m256 t = _mm256_round_ps (v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_sub_ps (v, t);
  const __m256 sign_mask = _mm256_set1_ps (-0.0f);
  const __m256 afrac = _mm256_andnot_ps (sign_mask, frac);
  const __m256 one = _mm256_or_ps (_mm256_set1_ps (1.0f), _mm256_and_ps (v, sign_mask));
  const __m256 step = _mm256_and_ps (_mm256_cmp_ps (afrac, _mm256_set1_ps (0.5f), _CMP_GE_OQ), one);
  return _mm256_cvttps_epi32 (_mm256_add_ps (t, step));
}

/* Four vectors of 8 int32 in [-128, 127] -> 32 bytes in element order. */
static inline __m256i
pack_epi32_epi8 (__m256i a, __m256i b, __m256i c, __m256i d)
{
  const __m256i ab = _mm256_packs_epi32 (a, b);
  const __m256i cd = _mm256_packs_epi32 (c, d);
  const __m256i abcd = _mm256_packs_epi16 (ab, cd);
  /* the packs work per 128-bit lane: put the dwords back in order */
  return _mm256_permutevar8x32_epi32 (abcd, _mm256_setr_epi32 (0, 4, 1, 5, 2, 6, 3, 7));
}

static inline float
amax_32 (const float *x)
{
  const __m256 abs_mask = _mm256_castsi256_ps (_mm256_set1_epi32 (0x7fffffff));
  __m256 m = _mm256_and_ps (_mm256_loadu_ps (x), abs_mask);
  m = _mm256_max_ps (m, _mm256_and_ps (_mm256_loadu_ps (x + 8), abs_mask));
  m = _mm256_max_ps (m, _mm256_and_ps (_mm256_loadu_ps (x + 16), abs_mask));
  m = _mm256_max_ps (m, _mm256_and_ps (_mm256_loadu_ps (x + 24), abs_mask));
  __m128 h = _mm_max_ps (_mm256_castps256_ps128 (m), _mm256_extractf128_ps (m, 1));
  h = _mm_max_ps (h, _mm_movehl_ps (h, h));
  h = _mm_max_ss (h, _mm_movehdup_ps (h));
  return _mm_cvtss_f32 (h);
}

/* One 32-block: same d and id as the reference (amax / 127, 1 / d), then
 * the same roundf of x * id. Returns the sum of the quants. */
static inline int
quantize_block_32 (const float *x, prima_fp16 *d_out, int8_t *qs, float *d_float)
{
  const float amax = amax_32 (x);
  const float d = amax / 127;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m256 vid = _mm256_set1_ps (id);
  const __m256i q0 = roundf_epi32 (_mm256_mul_ps (_mm256_loadu_ps (x), vid));
  const __m256i q1 = roundf_epi32 (_mm256_mul_ps (_mm256_loadu_ps (x + 8), vid));
  const __m256i q2 = roundf_epi32 (_mm256_mul_ps (_mm256_loadu_ps (x + 16), vid));
  const __m256i q3 = roundf_epi32 (_mm256_mul_ps (_mm256_loadu_ps (x + 24), vid));
  _mm256_storeu_si256 ((__m256i *) qs, pack_epi32_epi8 (q0, q1, q2, q3));
  *d_out = prima_fp32_to_fp16 (d);
  *d_float = d;
  const __m256i s = _mm256_add_epi32 (_mm256_add_epi32 (q0, q1), _mm256_add_epi32 (q2, q3));
  return hsum_epi32_128 (_mm_add_epi32 (_mm256_castsi256_si128 (s), _mm256_extracti128_si256 (s, 1)));
}

static void
quantize_row_q8_0_avx2 (const float *x, void *vy, int64_t n)
{
  block_q8_0 *y = vy;
  float d;
  for (int64_t i = 0; i < n / QK8_0; i++)
    quantize_block_32 (x + i * QK8_0, &y[i].d, y[i].qs, &d);
}

static void
quantize_row_q8_1_avx2 (const float *x, void *vy, int64_t n)
{
  block_q8_1 *y = vy;
  for (int64_t i = 0; i < n / QK8_1; i++) {
    float d;
    const int sum = quantize_block_32 (x + i * QK8_1, &y[i].d, y[i].qs, &d);
    y[i].s = prima_fp32_to_fp16 (sum * d);
  }
}

static void
quantize_row_q8_K_avx2 (const float *x, void *vy, int64_t n)
{
  block_q8_K *y = vy;
  const __m256 abs_mask = _mm256_castsi256_ps (_mm256_set1_epi32 (0x7fffffff));
  for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
    __m256 m = _mm256_setzero_ps ();
    for (int j = 0; j < QK_K; j += 8)
      m = _mm256_max_ps (m, _mm256_and_ps (_mm256_loadu_ps (x + j), abs_mask));
    __m128 h = _mm_max_ps (_mm256_castps256_ps128 (m), _mm256_extractf128_ps (m, 1));
    h = _mm_max_ps (h, _mm_movehl_ps (h, h));
    h = _mm_max_ss (h, _mm_movehdup_ps (h));
    const float amax = _mm_cvtss_f32 (h);
    if (amax == 0.0f) {
      memset (&y[i], 0, sizeof y[i]);
      continue;
    }
    /* the reference keeps the first element of largest magnitude (its sign
     * matters): find it */
    float max = 0;
    const __m256 vamax = _mm256_set1_ps (amax);
    for (int j = 0; j < QK_K; j += 8) {
      const __m256 a = _mm256_and_ps (_mm256_loadu_ps (x + j), abs_mask);
      const int mask = _mm256_movemask_ps (_mm256_cmp_ps (a, vamax, _CMP_EQ_OQ));
      if (mask) {
        max = x[j + __builtin_ctz ((unsigned) mask)];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m256 vs = _mm256_set1_ps (iscale);
    for (int j = 0; j < QK_K; j += 64) {
      __m256i q[8];
      /* cvtps rounds to nearest even, as the reference's nearest_int */
      for (int k = 0; k < 8; k++)
        q[k] = _mm256_cvtps_epi32 (_mm256_mul_ps (_mm256_loadu_ps (x + j + 8 * k), vs));
      /* packs saturate at 127, which is the reference's MIN (127, v) */
      _mm256_storeu_si256 ((__m256i *) (y[i].qs + j), pack_epi32_epi8 (q[0], q[1], q[2], q[3]));
      _mm256_storeu_si256 ((__m256i *) (y[i].qs + j + 32), pack_epi32_epi8 (q[4], q[5], q[6], q[7]));
    }
    /* group sums from the stored bytes (the clamped values) */
    for (int g = 0; g < QK_K / 16; g += 4) {
      const __m256i b0 = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) (y[i].qs + 16 * g)));
      const __m256i b1 = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) (y[i].qs + 16 * g + 16)));
      const __m256i b2 = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) (y[i].qs + 16 * g + 32)));
      const __m256i b3 = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) (y[i].qs + 16 * g + 48)));
      const __m256i ones = _mm256_set1_epi16 (1);
      const __m256i s01 = _mm256_hadd_epi32 (_mm256_madd_epi16 (b0, ones), _mm256_madd_epi16 (b1, ones));
      const __m256i s23 = _mm256_hadd_epi32 (_mm256_madd_epi16 (b2, ones), _mm256_madd_epi16 (b3, ones));
      const __m256i s = _mm256_hadd_epi32 (s01, s23);
      const __m128i t = _mm_add_epi32 (_mm256_castsi256_si128 (s), _mm256_extracti128_si256 (s, 1));
      _mm_storel_epi64 ((__m128i *) (y[i].bsums + g), _mm_packs_epi32 (t, t));
    }
    y[i].d = 1 / iscale;
  }
}

/* ---------------------------------------------------------------------
 * Legacy 32-blocks
 * --------------------------------------------------------------------- */

static void
vec_dot_q4_0_q8_0_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_0 *x = vx;
  const block_q8_0 *y = vy;
  __m256 acc = _mm256_setzero_ps ();
  for (int i = 0; i < n / QK8_0; i++) {
    const __m256 d = _mm256_set1_ps (fp16 (x[i].d) * fp16 (y[i].d));
    const __m256i qx = _mm256_sub_epi8 (nibbles_32 (x[i].qs), _mm256_set1_epi8 (8));
    const __m256i qy = _mm256_loadu_si256 ((const __m256i *) y[i].qs);
    acc = _mm256_fmadd_ps (d, _mm256_cvtepi32_ps (dot_i8_i32 (qx, qy)), acc);
  }
  *s = hsum_ps (acc);
}

static void
vec_dot_q4_1_q8_1_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_1 *x = vx;
  const block_q8_1 *y = vy;
  __m256 acc = _mm256_setzero_ps ();
  float summs = 0;
  for (int i = 0; i < n / QK8_1; i++) {
    summs += fp16 (x[i].m) * fp16 (y[i].s);
    const __m256 d = _mm256_set1_ps (fp16 (x[i].d) * fp16 (y[i].d));
    const __m256i qy = _mm256_loadu_si256 ((const __m256i *) y[i].qs);
    acc = _mm256_fmadd_ps (d, _mm256_cvtepi32_ps (dot_u8_i32 (nibbles_32 (x[i].qs), qy)), acc);
  }
  *s = hsum_ps (acc) + summs;
}

static void
vec_dot_q5_0_q8_0_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_q5_0 *x = vx;
  const block_q8_0 *y = vy;
  __m256 acc = _mm256_setzero_ps ();
  for (int i = 0; i < n / QK8_0; i++) {
    const __m256 d = _mm256_set1_ps (fp16 (x[i].d) * fp16 (y[i].d));
    /* nibble | 0xF0 is nibble - 16 as a signed byte: set those bits where
     * the fifth bit is clear */
    const __m256i hi = _mm256_andnot_si256 (bits_to_bytes_32 (x[i].qh), _mm256_set1_epi8 ((char) 0xF0));
    const __m256i qx = _mm256_or_si256 (nibbles_32 (x[i].qs), hi);
    const __m256i qy = _mm256_loadu_si256 ((const __m256i *) y[i].qs);
    acc = _mm256_fmadd_ps (d, _mm256_cvtepi32_ps (dot_i8_i32 (qx, qy)), acc);
  }
  *s = hsum_ps (acc);
}

static void
vec_dot_q5_1_q8_1_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_q5_1 *x = vx;
  const block_q8_1 *y = vy;
  __m256 acc = _mm256_setzero_ps ();
  float summs = 0;
  for (int i = 0; i < n / QK8_1; i++) {
    summs += fp16 (x[i].m) * fp16 (y[i].s);
    const __m256 d = _mm256_set1_ps (fp16 (x[i].d) * fp16 (y[i].d));
    const __m256i hi = _mm256_and_si256 (bits_to_bytes_32 (x[i].qh), _mm256_set1_epi8 (0x10));
    const __m256i qx = _mm256_or_si256 (nibbles_32 (x[i].qs), hi);
    const __m256i qy = _mm256_loadu_si256 ((const __m256i *) y[i].qs);
    acc = _mm256_fmadd_ps (d, _mm256_cvtepi32_ps (dot_u8_i32 (qx, qy)), acc);
  }
  *s = hsum_ps (acc) + summs;
}

static void
vec_dot_q8_0_q8_0_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_q8_0 *x = vx;
  const block_q8_0 *y = vy;
  __m256 acc = _mm256_setzero_ps ();
  for (int i = 0; i < n / QK8_0; i++) {
    const __m256 d = _mm256_set1_ps (fp16 (x[i].d) * fp16 (y[i].d));
    const __m256i qx = _mm256_loadu_si256 ((const __m256i *) x[i].qs);
    const __m256i qy = _mm256_loadu_si256 ((const __m256i *) y[i].qs);
    acc = _mm256_fmadd_ps (d, _mm256_cvtepi32_ps (dot_i8_i32 (qx, qy)), acc);
  }
  *s = hsum_ps (acc);
}

/* ---------------------------------------------------------------------
 * K-quants
 * --------------------------------------------------------------------- */

static void
vec_dot_q4_K_q8_K_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_K *x = vx;
  const block_q8_K *y = vy;
  const __m256i m4 = _mm256_set1_epi8 (0x0F);
  __m256 acc = _mm256_setzero_ps ();
  __m128 acc_m = _mm_setzero_ps ();
  for (int i = 0; i < n / QK_K; i++) {
    const float d = y[i].d * fp16 (x[i].d);
    const float dmin = -y[i].d * fp16 (x[i].dmin);
    const __m256i sm = _mm256_cvtepu8_epi16 (k4_scales_mins (x[i].scales));
    /* mins times the group-of-32 activation sums */
    const __m128i bs_lo = _mm_loadu_si128 ((const __m128i *) y[i].bsums);
    const __m128i bs_hi = _mm_loadu_si128 ((const __m128i *) (y[i].bsums + 8));
    const __m128i prod = _mm_madd_epi16 (_mm256_extracti128_si256 (sm, 1), _mm_hadd_epi16 (bs_lo, bs_hi));
    acc_m = _mm_fmadd_ps (_mm_set1_ps (dmin), _mm_cvtepi32_ps (prod), acc_m);

    const __m256i scales = _mm256_broadcastsi128_si256 (_mm256_castsi256_si128 (sm));
    const uint8_t *q = x[i].qs;
    const int8_t *q8 = y[i].qs;
    __m256i sumi = _mm256_setzero_si256 ();
    for (int j = 0; j < 4; j++) {
      const __m256i sc_l = _mm256_shuffle_epi8 (scales, word_bcast_ctrl (2 * j));
      const __m256i sc_h = _mm256_shuffle_epi8 (scales, word_bcast_ctrl (2 * j + 1));
      const __m256i bits = _mm256_loadu_si256 ((const __m256i *) (q + 32 * j));
      const __m256i ql = _mm256_and_si256 (bits, m4);
      const __m256i qh = _mm256_and_si256 (_mm256_srli_epi16 (bits, 4), m4);
      __m256i pl = _mm256_maddubs_epi16 (ql, _mm256_loadu_si256 ((const __m256i *) (q8 + 64 * j)));
      __m256i ph = _mm256_maddubs_epi16 (qh, _mm256_loadu_si256 ((const __m256i *) (q8 + 64 * j + 32)));
      pl = _mm256_madd_epi16 (sc_l, pl);
      ph = _mm256_madd_epi16 (sc_h, ph);
      sumi = _mm256_add_epi32 (sumi, _mm256_add_epi32 (pl, ph));
    }
    acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
  }
  acc_m = _mm_add_ps (acc_m, _mm_movehl_ps (acc_m, acc_m));
  acc_m = _mm_add_ss (acc_m, _mm_movehdup_ps (acc_m));
  *s = hsum_ps (acc) + _mm_cvtss_f32 (acc_m);
}

static void
vec_dot_q5_K_q8_K_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_q5_K *x = vx;
  const block_q8_K *y = vy;
  const __m256i m4 = _mm256_set1_epi8 (0x0F);
  const __m256i one = _mm256_set1_epi8 (1);
  __m256 acc = _mm256_setzero_ps ();
  __m128 acc_m = _mm_setzero_ps ();
  for (int i = 0; i < n / QK_K; i++) {
    const float d = y[i].d * fp16 (x[i].d);
    const float dmin = -y[i].d * fp16 (x[i].dmin);
    const __m256i sm = _mm256_cvtepu8_epi16 (k4_scales_mins (x[i].scales));
    const __m128i bs_lo = _mm_loadu_si128 ((const __m128i *) y[i].bsums);
    const __m128i bs_hi = _mm_loadu_si128 ((const __m128i *) (y[i].bsums + 8));
    const __m128i prod = _mm_madd_epi16 (_mm256_extracti128_si256 (sm, 1), _mm_hadd_epi16 (bs_lo, bs_hi));
    acc_m = _mm_fmadd_ps (_mm_set1_ps (dmin), _mm_cvtepi32_ps (prod), acc_m);

    const __m256i scales = _mm256_broadcastsi128_si256 (_mm256_castsi256_si128 (sm));
    const __m256i hbits = _mm256_loadu_si256 ((const __m256i *) x[i].qh);
    const uint8_t *q = x[i].qs;
    const int8_t *q8 = y[i].qs;
    __m256i sumi = _mm256_setzero_si256 ();
    for (int j = 0; j < 4; j++) {
      const __m256i sc_l = _mm256_shuffle_epi8 (scales, word_bcast_ctrl (2 * j));
      const __m256i sc_h = _mm256_shuffle_epi8 (scales, word_bcast_ctrl (2 * j + 1));
      const __m256i bits = _mm256_loadu_si256 ((const __m256i *) (q + 32 * j));
      /* fifth bits: bit 2j of qh[l] for the low nibbles, 2j+1 for the high */
      const __m256i h_l = _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (hbits, 2 * j), one), 4);
      const __m256i h_h = _mm256_slli_epi16 (_mm256_and_si256 (_mm256_srli_epi16 (hbits, 2 * j + 1), one), 4);
      const __m256i ql = _mm256_or_si256 (_mm256_and_si256 (bits, m4), h_l);
      const __m256i qh = _mm256_or_si256 (_mm256_and_si256 (_mm256_srli_epi16 (bits, 4), m4), h_h);
      __m256i pl = _mm256_maddubs_epi16 (ql, _mm256_loadu_si256 ((const __m256i *) (q8 + 64 * j)));
      __m256i ph = _mm256_maddubs_epi16 (qh, _mm256_loadu_si256 ((const __m256i *) (q8 + 64 * j + 32)));
      pl = _mm256_madd_epi16 (sc_l, pl);
      ph = _mm256_madd_epi16 (sc_h, ph);
      sumi = _mm256_add_epi32 (sumi, _mm256_add_epi32 (pl, ph));
    }
    acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
  }
  acc_m = _mm_add_ps (acc_m, _mm_movehl_ps (acc_m, acc_m));
  acc_m = _mm_add_ss (acc_m, _mm_movehdup_ps (acc_m));
  *s = hsum_ps (acc) + _mm_cvtss_f32 (acc_m);
}

static void
vec_dot_q6_K_q8_K_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_q6_K *x = vx;
  const block_q8_K *y = vy;
  const __m256i m4 = _mm256_set1_epi8 (0x0F);
  const __m256i m2 = _mm256_set1_epi8 (0x03);
  __m256 acc = _mm256_setzero_ps ();
  for (int i = 0; i < n / QK_K; i++) {
    const float d = y[i].d * fp16 (x[i].d);
    const __m256i sc16 = _mm256_cvtepi8_epi16 (_mm_loadu_si128 ((const __m128i *) x[i].scales));
    __m256i sc[8];
    scales16_pairs (sc16, sc);
    /* levels are stored +32: take 32 * sum(scale * group sum) off at the end */
    const __m256i corr = _mm256_madd_epi16 (sc16, _mm256_loadu_si256 ((const __m256i *) y[i].bsums));
    __m256i sumi = _mm256_setzero_si256 ();
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
      const int8_t *q8 = y[i].qs + 128 * h;
      const __m256i p0 = _mm256_maddubs_epi16 (q0, _mm256_loadu_si256 ((const __m256i *) q8));
      const __m256i p1 = _mm256_maddubs_epi16 (q1, _mm256_loadu_si256 ((const __m256i *) (q8 + 32)));
      const __m256i p2 = _mm256_maddubs_epi16 (q2, _mm256_loadu_si256 ((const __m256i *) (q8 + 64)));
      const __m256i p3 = _mm256_maddubs_epi16 (q3, _mm256_loadu_si256 ((const __m256i *) (q8 + 96)));
      sumi = _mm256_add_epi32 (sumi, _mm256_add_epi32 (_mm256_madd_epi16 (p0, sc[4 * h]),
              _mm256_madd_epi16 (p1, sc[4 * h + 1])));
      sumi = _mm256_add_epi32 (sumi, _mm256_add_epi32 (_mm256_madd_epi16 (p2, sc[4 * h + 2]),
              _mm256_madd_epi16 (p3, sc[4 * h + 3])));
    }
    sumi = _mm256_sub_epi32 (sumi, _mm256_slli_epi32 (corr, 5));
    acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
  }
  *s = hsum_ps (acc);
}

static void
vec_dot_q2_K_q8_K_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_q2_K *x = vx;
  const block_q8_K *y = vy;
  const __m256i m2 = _mm256_set1_epi8 (0x03);
  __m256 acc = _mm256_setzero_ps ();
  float summs = 0;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = y[i].d * fp16 (x[i].d);
    const float dmin = y[i].d * fp16 (x[i].dmin);
    const __m128i packed = _mm_loadu_si128 ((const __m128i *) x[i].scales);
    const __m256i sc16 = _mm256_cvtepu8_epi16 (_mm_and_si128 (packed, _mm_set1_epi8 (0x0F)));
    const __m256i mn16 = _mm256_cvtepu8_epi16 (_mm_and_si128 (_mm_srli_epi16 (packed, 4), _mm_set1_epi8 (0x0F)));
    const __m256i mprod = _mm256_madd_epi16 (mn16, _mm256_loadu_si256 ((const __m256i *) y[i].bsums));
    summs += dmin * (float) hsum_epi32_128 (_mm_add_epi32 (_mm256_castsi256_si128 (mprod),
            _mm256_extracti128_si256 (mprod, 1)));
    __m256i sc[8];
    scales16_pairs (sc16, sc);
    __m256i sumi = _mm256_setzero_si256 ();
    for (int h = 0; h < 2; h++) {
      const __m256i bits = _mm256_loadu_si256 ((const __m256i *) (x[i].qs + 32 * h));
      const int8_t *q8 = y[i].qs + 128 * h;
      for (int k = 0; k < 4; k++) {
        const __m256i q = _mm256_and_si256 (_mm256_srli_epi16 (bits, 2 * k), m2);
        const __m256i p = _mm256_maddubs_epi16 (q, _mm256_loadu_si256 ((const __m256i *) (q8 + 32 * k)));
        sumi = _mm256_add_epi32 (sumi, _mm256_madd_epi16 (p, sc[4 * h + k]));
      }
    }
    acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
  }
  *s = hsum_ps (acc) - summs;
}

static void
vec_dot_q3_K_q8_K_avx2 (int n, float *s, const void *vx, const void *vy)
{
  const block_q3_K *x = vx;
  const block_q8_K *y = vy;
  const __m256i m2 = _mm256_set1_epi8 (0x03);
  const __m256i one = _mm256_set1_epi8 (1);
  __m256 acc = _mm256_setzero_ps ();
  for (int i = 0; i < n / QK_K; i++) {
    const float d = y[i].d * fp16 (x[i].d);
    /* six-bit scales, unbiased, as words */
    /* built in registers: storing the words and reloading them as one
     * vector would stall on store forwarding */
    uint32_t w[3];
    memcpy (w, x[i].scales, sizeof w);
    const uint32_t a0 = (w[0] & 0x0f0f0f0f) | (((w[2] >> 0) & 0x03030303) << 4);
    const uint32_t a1 = (w[1] & 0x0f0f0f0f) | (((w[2] >> 2) & 0x03030303) << 4);
    const uint32_t a2 = ((w[0] >> 4) & 0x0f0f0f0f) | (((w[2] >> 4) & 0x03030303) << 4);
    const uint32_t a3 = ((w[1] >> 4) & 0x0f0f0f0f) | (((w[2] >> 6) & 0x03030303) << 4);
    const __m128i sc8 = _mm_sub_epi8 (_mm_set_epi32 ((int) a3, (int) a2, (int) a1, (int) a0),
        _mm_set1_epi8 (32));
    const __m256i sc16 = _mm256_cvtepi8_epi16 (sc8);
    __m256i sc[8];
    scales16_pairs (sc16, sc);
    /* levels are stored +4 (high bit set means no -4): take 4 * sum(scale * group sum) off */
    const __m256i corr = _mm256_madd_epi16 (sc16, _mm256_loadu_si256 ((const __m256i *) y[i].bsums));
    const __m256i hbits = _mm256_loadu_si256 ((const __m256i *) x[i].hmask);
    __m256i sumi = _mm256_setzero_si256 ();
    for (int h = 0; h < 2; h++) {
      const __m256i bits = _mm256_loadu_si256 ((const __m256i *) (x[i].qs + 32 * h));
      const int8_t *q8 = y[i].qs + 128 * h;
      for (int k = 0; k < 4; k++) {
        const __m256i hb = _mm256_and_si256 (_mm256_srli_epi16 (hbits, 4 * h + k), one);
        const __m256i q = _mm256_or_si256 (_mm256_and_si256 (_mm256_srli_epi16 (bits, 2 * k), m2),
            _mm256_slli_epi16 (hb, 2));
        const __m256i p = _mm256_maddubs_epi16 (q, _mm256_loadu_si256 ((const __m256i *) (q8 + 32 * k)));
        sumi = _mm256_add_epi32 (sumi, _mm256_madd_epi16 (p, sc[4 * h + k]));
      }
    }
    sumi = _mm256_sub_epi32 (sumi, _mm256_slli_epi32 (corr, 2));
    acc = _mm256_fmadd_ps (_mm256_set1_ps (d), _mm256_cvtepi32_ps (sumi), acc);
  }
  *s = hsum_ps (acc);
}

/* ---------------------------------------------------------------------
 * Registration
 * --------------------------------------------------------------------- */

void
prima_quants_avx2_register (prima_type_traits *table)
{
  table[PRIMA_TYPE_F32].vec_dot = vec_dot_f32_f32_avx2;
  table[PRIMA_TYPE_F16].vec_dot = vec_dot_f16_f16_avx2;
  table[PRIMA_TYPE_BF16].vec_dot = vec_dot_bf16_bf16_avx2;
  table[PRIMA_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_avx2;
  table[PRIMA_TYPE_Q4_1].vec_dot = vec_dot_q4_1_q8_1_avx2;
  table[PRIMA_TYPE_Q5_0].vec_dot = vec_dot_q5_0_q8_0_avx2;
  table[PRIMA_TYPE_Q5_1].vec_dot = vec_dot_q5_1_q8_1_avx2;
  table[PRIMA_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_avx2;
  table[PRIMA_TYPE_Q2_K].vec_dot = vec_dot_q2_K_q8_K_avx2;
  table[PRIMA_TYPE_Q3_K].vec_dot = vec_dot_q3_K_q8_K_avx2;
  table[PRIMA_TYPE_Q4_K].vec_dot = vec_dot_q4_K_q8_K_avx2;
  table[PRIMA_TYPE_Q5_K].vec_dot = vec_dot_q5_K_q8_K_avx2;
  table[PRIMA_TYPE_Q6_K].vec_dot = vec_dot_q6_K_q8_K_avx2;
  table[PRIMA_TYPE_Q8_0].from_float = quantize_row_q8_0_avx2;
  table[PRIMA_TYPE_Q8_1].from_float = quantize_row_q8_1_avx2;
  table[PRIMA_TYPE_Q8_K].from_float = quantize_row_q8_K_avx2;
}
