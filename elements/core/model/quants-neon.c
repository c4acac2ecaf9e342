/* gst-prima: ARM64 Advanced SIMD (NEON) kernels: the float dot products, the block types' integer
 * dot products (quants-neon-impl.h, with SMULL/SADALP) and the dequantization of the 32-blocks.
 * NEON is part of every ARMv8-A core, so these need no runtime check beyond the architecture.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#if defined(__aarch64__)

#define PRIMA_NEON_SFX(f) f##_neon
#include "quants-neon-impl.h"

/* Float dot products in float32 lanes with fused multiply-adds, 16 partial sums (the reference sums in
 * double; the difference is far inside the test's 1e-5 of sum |x y|). */
static float
hsum4 (float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d)
{
  return vaddvq_f32 (vaddq_f32 (vaddq_f32 (a, b), vaddq_f32 (c, d)));
}

static void
vec_dot_f32_f32_neon (int n, float *s, const void *vx, const void *vy)
{
  const float *x = vx, *y = vy;
  float32x4_t a0 = vdupq_n_f32 (0), a1 = a0, a2 = a0, a3 = a0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = vfmaq_f32 (a0, vld1q_f32 (x + i), vld1q_f32 (y + i));
    a1 = vfmaq_f32 (a1, vld1q_f32 (x + i + 4), vld1q_f32 (y + i + 4));
    a2 = vfmaq_f32 (a2, vld1q_f32 (x + i + 8), vld1q_f32 (y + i + 8));
    a3 = vfmaq_f32 (a3, vld1q_f32 (x + i + 12), vld1q_f32 (y + i + 12));
  }
  float sum = hsum4 (a0, a1, a2, a3);
  for (; i < n; i++)
    sum += x[i] * y[i];
  *s = sum;
}

static inline float32x4_t
load_f16 (const prima_fp16 *p)
{
  return vcvt_f32_f16 (vreinterpret_f16_u16 (vld1_u16 ((const uint16_t *) p)));
}

static inline float32x4_t
load_bf16 (const prima_bf16 *p)
{
  return vreinterpretq_f32_u32 (vshll_n_u16 (vld1_u16 ((const uint16_t *) p), 16));
}

static void
vec_dot_f16_f16_neon (int n, float *s, const void *vx, const void *vy)
{
  const prima_fp16 *x = vx, *y = vy;
  float32x4_t a0 = vdupq_n_f32 (0), a1 = a0, a2 = a0, a3 = a0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = vfmaq_f32 (a0, load_f16 (x + i), load_f16 (y + i));
    a1 = vfmaq_f32 (a1, load_f16 (x + i + 4), load_f16 (y + i + 4));
    a2 = vfmaq_f32 (a2, load_f16 (x + i + 8), load_f16 (y + i + 8));
    a3 = vfmaq_f32 (a3, load_f16 (x + i + 12), load_f16 (y + i + 12));
  }
  float sum = hsum4 (a0, a1, a2, a3);
  for (; i < n; i++)
    sum += prima_fp16_to_fp32 (x[i]) * prima_fp16_to_fp32 (y[i]);
  *s = sum;
}

static void
vec_dot_bf16_bf16_neon (int n, float *s, const void *vx, const void *vy)
{
  const prima_bf16 *x = vx, *y = vy;
  float32x4_t a0 = vdupq_n_f32 (0), a1 = a0, a2 = a0, a3 = a0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = vfmaq_f32 (a0, load_bf16 (x + i), load_bf16 (y + i));
    a1 = vfmaq_f32 (a1, load_bf16 (x + i + 4), load_bf16 (y + i + 4));
    a2 = vfmaq_f32 (a2, load_bf16 (x + i + 8), load_bf16 (y + i + 8));
    a3 = vfmaq_f32 (a3, load_bf16 (x + i + 12), load_bf16 (y + i + 12));
  }
  float sum = hsum4 (a0, a1, a2, a3);
  for (; i < n; i++)
    sum += prima_bf16_to_fp32 (x[i]) * prima_bf16_to_fp32 (y[i]);
  *s = sum;
}

/* ---- dequantization: the reference's roundings (level * d, level converted exactly; + m apart) ---- */

static void
dequantize_row_f16_neon (const void *vx, float *y, int64_t n)
{
  const prima_fp16 *x = vx;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32 (y + i, load_f16 (x + i));
  for (; i < n; i++)
    y[i] = prima_fp16_to_fp32 (x[i]);
}

static void
dequantize_row_bf16_neon (const void *vx, float *y, int64_t n)
{
  const prima_bf16 *x = vx;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    vst1q_f32 (y + i, load_bf16 (x + i));
  for (; i < n; i++)
    y[i] = prima_bf16_to_fp32 (x[i]);
}

/* 16 int8 levels times d into y[0..15] */
static inline void
store_scaled (int8x16_t q, float d, float *y)
{
  const int16x8_t lo = vmovl_s8 (vget_low_s8 (q)), hi = vmovl_high_s8 (q);
  vst1q_f32 (y, vmulq_n_f32 (vcvtq_f32_s32 (vmovl_s16 (vget_low_s16 (lo))), d));
  vst1q_f32 (y + 4, vmulq_n_f32 (vcvtq_f32_s32 (vmovl_high_s16 (lo)), d));
  vst1q_f32 (y + 8, vmulq_n_f32 (vcvtq_f32_s32 (vmovl_s16 (vget_low_s16 (hi))), d));
  vst1q_f32 (y + 12, vmulq_n_f32 (vcvtq_f32_s32 (vmovl_high_s16 (hi)), d));
}

static void
dequantize_row_q8_0_neon (const void *vx, float *y, int64_t n)
{
  const block_q8_0 *x = vx;
  for (int64_t i = 0; i < n / QK8_0; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    store_scaled (vld1q_s8 (x[i].qs), d, y + 32 * i);
    store_scaled (vld1q_s8 (x[i].qs + 16), d, y + 32 * i + 16);
  }
}

static void
dequantize_row_q4_0_neon (const void *vx, float *y, int64_t n)
{
  const block_q4_0 *x = vx;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  const int8x16_t eight = vdupq_n_s8 (8);
  for (int64_t i = 0; i < n / QK4_0; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    const uint8x16_t q = vld1q_u8 (x[i].qs);
    store_scaled (vsubq_s8 (vreinterpretq_s8_u8 (vandq_u8 (q, m4)), eight), d, y + 32 * i);
    store_scaled (vsubq_s8 (vreinterpretq_s8_u8 (vshrq_n_u8 (q, 4)), eight), d, y + 32 * i + 16);
  }
}

/* 16 levels times d plus m: a multiply and an add, each rounded, as the reference's x * d + m */
static inline void
store_affine (int8x16_t q, float d, float m, float *y)
{
  const int16x8_t lo = vmovl_s8 (vget_low_s8 (q)), hi = vmovl_high_s8 (q);
  const float32x4_t vm = vdupq_n_f32 (m);
  vst1q_f32 (y, vaddq_f32 (vmulq_n_f32 (vcvtq_f32_s32 (vmovl_s16 (vget_low_s16 (lo))), d), vm));
  vst1q_f32 (y + 4, vaddq_f32 (vmulq_n_f32 (vcvtq_f32_s32 (vmovl_high_s16 (lo)), d), vm));
  vst1q_f32 (y + 8, vaddq_f32 (vmulq_n_f32 (vcvtq_f32_s32 (vmovl_s16 (vget_low_s16 (hi))), d), vm));
  vst1q_f32 (y + 12, vaddq_f32 (vmulq_n_f32 (vcvtq_f32_s32 (vmovl_high_s16 (hi)), d), vm));
}

static void
dequantize_row_q4_1_neon (const void *vx, float *y, int64_t n)
{
  const block_q4_1 *x = vx;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  for (int64_t i = 0; i < n / QK4_1; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d), m = prima_fp16_to_fp32 (x[i].m);
    const uint8x16_t q = vld1q_u8 (x[i].qs);
    store_affine (vreinterpretq_s8_u8 (vandq_u8 (q, m4)), d, m, y + 32 * i);
    store_affine (vreinterpretq_s8_u8 (vshrq_n_u8 (q, 4)), d, m, y + 32 * i + 16);
  }
}

static void
dequantize_row_q5_0_neon (const void *vx, float *y, int64_t n)
{
  const block_q5_0 *x = vx;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  const int8x16_t sixteen = vdupq_n_s8 (16);
  for (int64_t i = 0; i < n / QK5_0; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    uint8x16_t hlo, hhi;
    q5_high_bits (x[i].qh, &hlo, &hhi);
    const uint8x16_t q = vld1q_u8 (x[i].qs);
    store_scaled (vsubq_s8 (vreinterpretq_s8_u8 (vorrq_u8 (vandq_u8 (q, m4), hlo)), sixteen), d, y + 32 * i);
    store_scaled (vsubq_s8 (vreinterpretq_s8_u8 (vorrq_u8 (vshrq_n_u8 (q, 4), hhi)), sixteen), d, y + 32 * i + 16);
  }
}

static void
dequantize_row_q5_1_neon (const void *vx, float *y, int64_t n)
{
  const block_q5_1 *x = vx;
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  for (int64_t i = 0; i < n / QK5_1; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d), m = prima_fp16_to_fp32 (x[i].m);
    uint8x16_t hlo, hhi;
    q5_high_bits (x[i].qh, &hlo, &hhi);
    const uint8x16_t q = vld1q_u8 (x[i].qs);
    store_affine (vreinterpretq_s8_u8 (vorrq_u8 (vandq_u8 (q, m4), hlo)), d, m, y + 32 * i);
    store_affine (vreinterpretq_s8_u8 (vorrq_u8 (vshrq_n_u8 (q, 4), hhi)), d, m, y + 32 * i + 16);
  }
}

void
prima_quants_neon_register (prima_type_traits *table)
{
  table[PRIMA_TYPE_F32].vec_dot = vec_dot_f32_f32_neon;
  table[PRIMA_TYPE_F16].vec_dot = vec_dot_f16_f16_neon;
  table[PRIMA_TYPE_BF16].vec_dot = vec_dot_bf16_bf16_neon;
  table[PRIMA_TYPE_F16].to_float = dequantize_row_f16_neon;
  table[PRIMA_TYPE_BF16].to_float = dequantize_row_bf16_neon;
  table[PRIMA_TYPE_Q8_0].to_float = dequantize_row_q8_0_neon;
  table[PRIMA_TYPE_Q4_0].to_float = dequantize_row_q4_0_neon;
  table[PRIMA_TYPE_Q4_1].to_float = dequantize_row_q4_1_neon;
  table[PRIMA_TYPE_Q5_0].to_float = dequantize_row_q5_0_neon;
  table[PRIMA_TYPE_Q5_1].to_float = dequantize_row_q5_1_neon;
  register_int_neon (table);
}

#endif
