/* gst-prima: the IQ types' dot products with plain NEON (quants-iq-neon-impl.h).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#if defined(__aarch64__)

#define PRIMA_NEON_SFX(f) f##_neon
#define PRIMA_NEON_HELPERS_ONLY 1
#include "quants-neon-impl.h"
#include "quants-iq-neon-impl.h"

/* d * the table's level, as the reference (the int8 level converts exactly) */
static void
dequantize_row_iq4_nl_neon (const void *vx, float *y, int64_t n)
{
  const block_iq4_nl *x = vx;
  const int8x16_t values = vld1q_s8 (kvalues_iq4nl);
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  for (int64_t i = 0; i < n / QK4_NL; i++) {
    const float d = f16 (x[i].d);
    const uint8x16_t q = vld1q_u8 (x[i].qs);
    const int8x16_t half[2] = { vqtbl1q_s8 (values, vandq_u8 (q, m4)), vqtbl1q_s8 (values, vshrq_n_u8 (q, 4)) };
    for (int h = 0; h < 2; h++) {
      const int16x8_t lo = vmovl_s8 (vget_low_s8 (half[h])), hi = vmovl_high_s8 (half[h]);
      float *o = y + 32 * i + 16 * h;
      vst1q_f32 (o, vmulq_n_f32 (vcvtq_f32_s32 (vmovl_s16 (vget_low_s16 (lo))), d));
      vst1q_f32 (o + 4, vmulq_n_f32 (vcvtq_f32_s32 (vmovl_high_s16 (lo)), d));
      vst1q_f32 (o + 8, vmulq_n_f32 (vcvtq_f32_s32 (vmovl_s16 (vget_low_s16 (hi))), d));
      vst1q_f32 (o + 12, vmulq_n_f32 (vcvtq_f32_s32 (vmovl_high_s16 (hi)), d));
    }
  }
}

void
prima_quants_iq_neon_register (prima_type_traits *table)
{
  register_iq_neon (table);
  table[PRIMA_TYPE_IQ4_NL].to_float = dequantize_row_iq4_nl_neon;
}

#endif
