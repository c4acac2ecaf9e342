/* gst-prima: the integer dot products of the block types on ARM64, written once and compiled twice:
 * quants-neon.c (plain Advanced SIMD: SMULL + SADALP) and quants-dotprod.c (ARMv8.2 SDOT), each with
 * its own -march. The includer defines PRIMA_NEON_SFX(name) and, for dotprod, PRIMA_NEON_DOTPROD.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every kernel forms the same exact integer sums as its scalar reference (quants-ref.c) and scales
 * them in the reference's order (one float multiply-add per block or group), so the results equal the
 * reference's but for float summation order: well within the 1e-5 of test-quants.
 */
#include <arm_neon.h>
#include <string.h>

#include "quants.h"

/* fp16 to float in one FCVT (the reference's software conversion gives the same, exact, value) */
static inline float
f16 (prima_fp16 h)
{
  __fp16 v;
  memcpy (&v, &h, sizeof v);
  return (float) v;
}

/* acc + the four sums of 4 adjacent products of a and b (int8 x int8 fits int16 in SMULL) */
static inline int32x4_t
dot16 (int32x4_t acc, int8x16_t a, int8x16_t b)
{
#if defined(PRIMA_NEON_DOTPROD)
  return vdotq_s32 (acc, a, b);
#else
  const int16x8_t p0 = vmull_s8 (vget_low_s8 (a), vget_low_s8 (b));
  const int16x8_t p1 = vmull_high_s8 (a, b);
  return vpadalq_s16 (vpadalq_s16 (acc, p0), p1);
#endif
}

/* sum of a[i] * b[i] over 32 int8 */
static inline int32_t
dot32 (int8x16_t a0, int8x16_t a1, const int8_t *b)
{
  return vaddvq_s32 (dot16 (dot16 (vdupq_n_s32 (0), a0, vld1q_s8 (b)), a1, vld1q_s8 (b + 16)));
}

static inline int32_t
dot16s (int8x16_t a, const int8_t *b)
{
  return vaddvq_s32 (dot16 (vdupq_n_s32 (0), a, vld1q_s8 (b)));
}

/* the 32 fifth bits of Q5_0/Q5_1 as 0x10 bytes: bit j of qh for element j */
static inline void
q5_high_bits (const uint8_t qh[4], uint8x16_t *lo, uint8x16_t *hi)
{
  static const uint8_t bit[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
  static const uint8_t idx_lo[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 };
  static const uint8_t idx_hi[16] = { 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3 };
  uint32_t v;
  memcpy (&v, qh, 4);
  const uint8x16_t q = vreinterpretq_u8_u32 (vdupq_n_u32 (v)), b = vld1q_u8 (bit), h = vdupq_n_u8 (0x10);
  *lo = vandq_u8 (vtstq_u8 (vqtbl1q_u8 (q, vld1q_u8 (idx_lo)), b), h);
  *hi = vandq_u8 (vtstq_u8 (vqtbl1q_u8 (q, vld1q_u8 (idx_hi)), b), h);
}

#if !defined(PRIMA_NEON_HELPERS_ONLY)      /* quants-iq-neon.c takes only the helpers above */

static void
PRIMA_NEON_SFX (vec_dot_q8_0_q8_0) (int n, float *s, const void *vx, const void *vy)
{
  const block_q8_0 *x = vx;
  const block_q8_0 *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK8_0; i++) {
    const int32_t isum = dot32 (vld1q_s8 (x[i].qs), vld1q_s8 (x[i].qs + 16), y[i].qs);
    sum += f16 (x[i].d) * f16 (y[i].d) * (float) isum;
  }
  *s = sum;
}

static void
PRIMA_NEON_SFX (vec_dot_q4_0_q8_0) (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_0 *x = vx;
  const block_q8_0 *y = vy;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  const int8x16_t eight = vdupq_n_s8 (8);
  float sum = 0;
  for (int i = 0; i < n / QK8_0; i++) {
    const uint8x16_t q = vld1q_u8 (x[i].qs);
    const int8x16_t lo = vsubq_s8 (vreinterpretq_s8_u8 (vandq_u8 (q, m4)), eight);
    const int8x16_t hi = vsubq_s8 (vreinterpretq_s8_u8 (vshrq_n_u8 (q, 4)), eight);
    sum += f16 (x[i].d) * f16 (y[i].d) * (float) dot32 (lo, hi, y[i].qs);
  }
  *s = sum;
}

static void
PRIMA_NEON_SFX (vec_dot_q4_1_q8_1) (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_1 *x = vx;
  const block_q8_1 *y = vy;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  float sum = 0;
  for (int i = 0; i < n / QK8_1; i++) {
    const uint8x16_t q = vld1q_u8 (x[i].qs);
    const int32_t isum = dot32 (vreinterpretq_s8_u8 (vandq_u8 (q, m4)), vreinterpretq_s8_u8 (vshrq_n_u8 (q, 4)),
        y[i].qs);
    sum += f16 (x[i].d) * f16 (y[i].d) * (float) isum
        + f16 (x[i].m) * f16 (y[i].s);
  }
  *s = sum;
}

static void
PRIMA_NEON_SFX (vec_dot_q5_0_q8_0) (int n, float *s, const void *vx, const void *vy)
{
  const block_q5_0 *x = vx;
  const block_q8_0 *y = vy;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  const int8x16_t sixteen = vdupq_n_s8 (16);
  float sum = 0;
  for (int i = 0; i < n / QK8_0; i++) {
    uint8x16_t hlo, hhi;
    q5_high_bits (x[i].qh, &hlo, &hhi);
    const uint8x16_t q = vld1q_u8 (x[i].qs);
    const int8x16_t lo = vsubq_s8 (vreinterpretq_s8_u8 (vorrq_u8 (vandq_u8 (q, m4), hlo)), sixteen);
    const int8x16_t hi = vsubq_s8 (vreinterpretq_s8_u8 (vorrq_u8 (vshrq_n_u8 (q, 4), hhi)), sixteen);
    sum += f16 (x[i].d) * f16 (y[i].d) * (float) dot32 (lo, hi, y[i].qs);
  }
  *s = sum;
}

static void
PRIMA_NEON_SFX (vec_dot_q5_1_q8_1) (int n, float *s, const void *vx, const void *vy)
{
  const block_q5_1 *x = vx;
  const block_q8_1 *y = vy;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  float sum = 0;
  for (int i = 0; i < n / QK8_1; i++) {
    uint8x16_t hlo, hhi;
    q5_high_bits (x[i].qh, &hlo, &hhi);
    const uint8x16_t q = vld1q_u8 (x[i].qs);
    const int8x16_t lo = vreinterpretq_s8_u8 (vorrq_u8 (vandq_u8 (q, m4), hlo));
    const int8x16_t hi = vreinterpretq_s8_u8 (vorrq_u8 (vshrq_n_u8 (q, 4), hhi));
    sum += f16 (x[i].d) * f16 (y[i].d) * (float) dot32 (lo, hi, y[i].qs)
        + f16 (x[i].m) * f16 (y[i].s);
  }
  *s = sum;
}

/* Q3_K's 16 6-bit scales (as q3_k_unpack_scales in quants-ref.c) */
static inline void
q3_sc (const uint8_t *packed, int8_t *sc)
{
  for (int j = 0; j < 16; j++) {
    const int lo = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
    const int hi = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    sc[j] = (int8_t) (lo | (hi << 4));
  }
}

/* 6-bit scale and min j of a Q4_K/Q5_K block (as k4_scale_min in quants-ref.c) */
static inline void
k4_sm (int j, const uint8_t *q, int *sc, int *m)
{
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

static void
PRIMA_NEON_SFX (vec_dot_q4_K_q8_K) (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_K *x = vx;
  const block_q8_K *y = vy;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    int isum = 0, msum = 0;
    for (int jj = 0; jj < 4; jj++) {
      /* 32 bytes: low nibbles are sub-block 2jj, high nibbles 2jj + 1 */
      const uint8x16_t b0 = vld1q_u8 (x[i].qs + 32 * jj), b1 = vld1q_u8 (x[i].qs + 32 * jj + 16);
      const int8_t *q8 = y[i].qs + 64 * jj;
      int sc0, m0, sc1, m1;
      k4_sm (2 * jj, x[i].scales, &sc0, &m0);
      k4_sm (2 * jj + 1, x[i].scales, &sc1, &m1);
      isum += sc0 * dot32 (vreinterpretq_s8_u8 (vandq_u8 (b0, m4)), vreinterpretq_s8_u8 (vandq_u8 (b1, m4)), q8);
      isum += sc1 * dot32 (vreinterpretq_s8_u8 (vshrq_n_u8 (b0, 4)), vreinterpretq_s8_u8 (vshrq_n_u8 (b1, 4)),
          q8 + 32);
      msum += m0 * (y[i].bsums[4 * jj] + y[i].bsums[4 * jj + 1]) + m1 * (y[i].bsums[4 * jj + 2] + y[i].bsums[4 * jj + 3]);
    }
    sum += y[i].d * f16 (x[i].d) * (float) isum
        - y[i].d * f16 (x[i].dmin) * (float) msum;
  }
  *s = sum;
}

static void
PRIMA_NEON_SFX (vec_dot_q5_K_q8_K) (int n, float *s, const void *vx, const void *vy)
{
  const block_q5_K *x = vx;
  const block_q8_K *y = vy;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F), h = vdupq_n_u8 (0x10);
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    const uint8x16_t qh0 = vld1q_u8 (x[i].qh), qh1 = vld1q_u8 (x[i].qh + 16);
    int isum = 0, msum = 0;
    for (int jj = 0; jj < 4; jj++) {
      const uint8x16_t b0 = vld1q_u8 (x[i].qs + 32 * jj), b1 = vld1q_u8 (x[i].qs + 32 * jj + 16);
      const uint8x16_t t0 = vdupq_n_u8 ((uint8_t) (1 << (2 * jj))), t1 = vdupq_n_u8 ((uint8_t) (2 << (2 * jj)));
      const int8_t *q8 = y[i].qs + 64 * jj;
      int sc0, m0, sc1, m1;
      k4_sm (2 * jj, x[i].scales, &sc0, &m0);
      k4_sm (2 * jj + 1, x[i].scales, &sc1, &m1);
      const int8x16_t l0 = vreinterpretq_s8_u8 (vorrq_u8 (vandq_u8 (b0, m4), vandq_u8 (vtstq_u8 (qh0, t0), h)));
      const int8x16_t l1 = vreinterpretq_s8_u8 (vorrq_u8 (vandq_u8 (b1, m4), vandq_u8 (vtstq_u8 (qh1, t0), h)));
      const int8x16_t u0 = vreinterpretq_s8_u8 (vorrq_u8 (vshrq_n_u8 (b0, 4), vandq_u8 (vtstq_u8 (qh0, t1), h)));
      const int8x16_t u1 = vreinterpretq_s8_u8 (vorrq_u8 (vshrq_n_u8 (b1, 4), vandq_u8 (vtstq_u8 (qh1, t1), h)));
      isum += sc0 * dot32 (l0, l1, q8) + sc1 * dot32 (u0, u1, q8 + 32);
      msum += m0 * (y[i].bsums[4 * jj] + y[i].bsums[4 * jj + 1]) + m1 * (y[i].bsums[4 * jj + 2] + y[i].bsums[4 * jj + 3]);
    }
    sum += y[i].d * f16 (x[i].d) * (float) isum
        - y[i].d * f16 (x[i].dmin) * (float) msum;
  }
  *s = sum;
}

static void
PRIMA_NEON_SFX (vec_dot_q6_K_q8_K) (int n, float *s, const void *vx, const void *vy)
{
  const block_q6_K *x = vx;
  const block_q8_K *y = vy;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F), m3 = vdupq_n_u8 (0x30);
  const int8x16_t off = vdupq_n_s8 (32);
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    int isum = 0;
    for (int h = 0; h < 2; h++) {
      const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
      const int8_t *sc = x[i].scales + 8 * h, *q8 = y[i].qs + 128 * h;
      for (int half = 0; half < 2; half++) {
        /* elements l = 16 half .. 16 half + 15 of each of the four 32-runs k */
        const uint8x16_t a = vld1q_u8 (ql + 16 * half), b = vld1q_u8 (ql + 32 + 16 * half);
        const uint8x16_t hb = vld1q_u8 (qh + 16 * half);
        const uint8x16_t lo[4] = { vandq_u8 (a, m4), vandq_u8 (b, m4), vshrq_n_u8 (a, 4), vshrq_n_u8 (b, 4) };
        for (int k = 0; k < 4; k++) {
          const uint8x16_t hi = vandq_u8 (k == 0 ? vshlq_n_u8 (hb, 4) : k == 1 ? vshlq_n_u8 (hb, 2)
              : k == 2 ? hb : vshrq_n_u8 (hb, 2), m3);
          const int8x16_t q = vsubq_s8 (vreinterpretq_s8_u8 (vorrq_u8 (lo[k], hi)), off);
          isum += sc[2 * k + half] * dot16s (q, q8 + 32 * k + 16 * half);
        }
      }
    }
    sum += y[i].d * f16 (x[i].d) * (float) isum;
  }
  *s = sum;
}

static void
PRIMA_NEON_SFX (vec_dot_q3_K_q8_K) (int n, float *s, const void *vx, const void *vy)
{
  const block_q3_K *x = vx;
  const block_q8_K *y = vy;
  const uint8x16_t m2 = vdupq_n_u8 (3), four = vdupq_n_u8 (4);
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    int8_t sc[16];
    int isum = 0;
    q3_sc (x[i].scales, sc);
    for (int half = 0; half < 2; half++) {
      const uint8x16_t hm = vld1q_u8 (x[i].hmask + 16 * half);
      for (int h = 0; h < 2; h++) {
        const uint8x16_t bits = vld1q_u8 (x[i].qs + 32 * h + 16 * half);
        for (int k = 0; k < 4; k++) {
          const uint8x16_t q2 = vandq_u8 (vshlq_u8 (bits, vdupq_n_s8 ((int8_t) (-2 * k))), m2);
          /* the high bit set means no -4 */
          const uint8x16_t sub = vbicq_u8 (four, vtstq_u8 (hm, vdupq_n_u8 ((uint8_t) (1 << (4 * h + k)))));
          const int8x16_t q = vsubq_s8 (vreinterpretq_s8_u8 (q2), vreinterpretq_s8_u8 (sub));
          isum += (sc[8 * h + 2 * k + half] - 32) * dot16s (q, y[i].qs + 128 * h + 32 * k + 16 * half);
        }
      }
    }
    sum += y[i].d * f16 (x[i].d) * (float) isum;
  }
  *s = sum;
}

static void
PRIMA_NEON_SFX (vec_dot_q2_K_q8_K) (int n, float *s, const void *vx, const void *vy)
{
  const block_q2_K *x = vx;
  const block_q8_K *y = vy;
  const uint8x16_t m2 = vdupq_n_u8 (3);
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    int isum = 0, msum = 0;
    for (int h = 0; h < 2; h++)
      for (int half = 0; half < 2; half++) {
        const uint8x16_t bits = vld1q_u8 (x[i].qs + 32 * h + 16 * half);
        for (int k = 0; k < 4; k++) {
          const int8x16_t q = vreinterpretq_s8_u8 (vandq_u8 (vshlq_u8 (bits, vdupq_n_s8 ((int8_t) (-2 * k))), m2));
          const int g = 8 * h + 2 * k + half;
          isum += (x[i].scales[g] & 0xF) * dot16s (q, y[i].qs + 16 * g);
        }
      }
    for (int g = 0; g < 16; g++)
      msum += (x[i].scales[g] >> 4) * y[i].bsums[g];
    sum += y[i].d * f16 (x[i].d) * (float) isum
        - y[i].d * f16 (x[i].dmin) * (float) msum;
  }
  *s = sum;
}

/* the block types' integer dot products of this ISA */
static void
PRIMA_NEON_SFX (register_int) (prima_type_traits *table)
{
  table[PRIMA_TYPE_Q4_0].vec_dot = PRIMA_NEON_SFX (vec_dot_q4_0_q8_0);
  table[PRIMA_TYPE_Q4_1].vec_dot = PRIMA_NEON_SFX (vec_dot_q4_1_q8_1);
  table[PRIMA_TYPE_Q5_0].vec_dot = PRIMA_NEON_SFX (vec_dot_q5_0_q8_0);
  table[PRIMA_TYPE_Q5_1].vec_dot = PRIMA_NEON_SFX (vec_dot_q5_1_q8_1);
  table[PRIMA_TYPE_Q8_0].vec_dot = PRIMA_NEON_SFX (vec_dot_q8_0_q8_0);
  table[PRIMA_TYPE_Q2_K].vec_dot = PRIMA_NEON_SFX (vec_dot_q2_K_q8_K);
  table[PRIMA_TYPE_Q3_K].vec_dot = PRIMA_NEON_SFX (vec_dot_q3_K_q8_K);
  table[PRIMA_TYPE_Q4_K].vec_dot = PRIMA_NEON_SFX (vec_dot_q4_K_q8_K);
  table[PRIMA_TYPE_Q5_K].vec_dot = PRIMA_NEON_SFX (vec_dot_q5_K_q8_K);
  table[PRIMA_TYPE_Q6_K].vec_dot = PRIMA_NEON_SFX (vec_dot_q6_K_q8_K);
}

#endif
