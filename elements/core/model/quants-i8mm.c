/* gst-prima: ARM64 kernels with the ARMv8.6 int8 matrix multiply (SMMLA: a 2x8 by 8x2 int8 product
 * accumulated into a 2x2 int32 tile). A vec_dot is one row, so two consecutive blocks go into the
 * tile as its two rows against their own two activation blocks as its two columns, and the diagonal
 * (lanes 0 and 3) holds each block's integer sum: four SMMLA per 64 levels where SDOT needs eight
 * for the same pair. Compiled with -march=armv8.2-a+dotprod+i8mm and only called when the hwcaps
 * report i8mm; the other types keep their SDOT kernels (quants-dotprod.c, registered before).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#if defined(__aarch64__)

#include <arm_neon.h>

#include <string.h>

#include "quants.h"

static inline float
f16 (prima_fp16 h)
{
  __fp16 v;
  memcpy (&v, &h, sizeof v);
  return (float) v;
}

/* a: 32 levels of block 0, b: of block 1 (two int8x16 each), ya / yb their activations: the two
 * integer dot products, in lanes 0 and 3 */
static inline int32x4_t
mmla_pair (const int8x16_t a[2], const int8x16_t b[2], const int8_t *ya, const int8_t *yb)
{
  int32x4_t acc = vdupq_n_s32 (0);
  for (int h = 0; h < 2; h++) {
    const int64x2_t xa = vreinterpretq_s64_s8 (a[h]), xb = vreinterpretq_s64_s8 (b[h]);
    const int64x2_t va = vreinterpretq_s64_s8 (vld1q_s8 (ya + 16 * h)), vb = vreinterpretq_s64_s8 (vld1q_s8 (yb + 16 * h));
    acc = vmmlaq_s32 (acc, vreinterpretq_s8_s64 (vzip1q_s64 (xa, xb)), vreinterpretq_s8_s64 (vzip1q_s64 (va, vb)));
    acc = vmmlaq_s32 (acc, vreinterpretq_s8_s64 (vzip2q_s64 (xa, xb)), vreinterpretq_s8_s64 (vzip2q_s64 (va, vb)));
  }
  return acc;
}

static inline int32_t
dot32_sdot (const int8x16_t a[2], const int8_t *y)
{
  return vaddvq_s32 (vdotq_s32 (vdotq_s32 (vdupq_n_s32 (0), a[0], vld1q_s8 (y)), a[1], vld1q_s8 (y + 16)));
}

static void
vec_dot_q8_0_q8_0_i8mm (int n, float *s, const void *vx, const void *vy)
{
  const block_q8_0 *x = vx;
  const block_q8_0 *y = vy;
  const int nb = n / QK8_0;
  float sum = 0;
  int i = 0;
  for (; i + 2 <= nb; i += 2) {
    const int8x16_t a[2] = { vld1q_s8 (x[i].qs), vld1q_s8 (x[i].qs + 16) };
    const int8x16_t b[2] = { vld1q_s8 (x[i + 1].qs), vld1q_s8 (x[i + 1].qs + 16) };
    const int32x4_t t = mmla_pair (a, b, y[i].qs, y[i + 1].qs);
    sum += f16 (x[i].d) * f16 (y[i].d) * (float) vgetq_lane_s32 (t, 0);
    sum += f16 (x[i + 1].d) * f16 (y[i + 1].d) * (float) vgetq_lane_s32 (t, 3);
  }
  for (; i < nb; i++) {
    const int8x16_t a[2] = { vld1q_s8 (x[i].qs), vld1q_s8 (x[i].qs + 16) };
    sum += f16 (x[i].d) * f16 (y[i].d) * (float) dot32_sdot (a, y[i].qs);
  }
  *s = sum;
}

static inline void
q4_0_levels (const block_q4_0 *b, int8x16_t out[2])
{
  const uint8x16_t q = vld1q_u8 (b->qs);
  const int8x16_t eight = vdupq_n_s8 (8);
  out[0] = vsubq_s8 (vreinterpretq_s8_u8 (vandq_u8 (q, vdupq_n_u8 (0x0F))), eight);
  out[1] = vsubq_s8 (vreinterpretq_s8_u8 (vshrq_n_u8 (q, 4)), eight);
}

static void
vec_dot_q4_0_q8_0_i8mm (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_0 *x = vx;
  const block_q8_0 *y = vy;
  const int nb = n / QK8_0;
  float sum = 0;
  int i = 0;
  for (; i + 2 <= nb; i += 2) {
    int8x16_t a[2], b[2];
    q4_0_levels (&x[i], a);
    q4_0_levels (&x[i + 1], b);
    const int32x4_t t = mmla_pair (a, b, y[i].qs, y[i + 1].qs);
    sum += f16 (x[i].d) * f16 (y[i].d) * (float) vgetq_lane_s32 (t, 0);
    sum += f16 (x[i + 1].d) * f16 (y[i + 1].d) * (float) vgetq_lane_s32 (t, 3);
  }
  for (; i < nb; i++) {
    int8x16_t a[2];
    q4_0_levels (&x[i], a);
    sum += f16 (x[i].d) * f16 (y[i].d) * (float) dot32_sdot (a, y[i].qs);
  }
  *s = sum;
}

void
prima_quants_i8mm_register (prima_type_traits *table)
{
  table[PRIMA_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_i8mm;
  table[PRIMA_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_i8mm;
}

#endif
