/* gst-prima: the IQ types' dot products on ARM64, written once and compiled for plain NEON
 * (quants-iq-neon.c, with the helpers of quants-neon-impl.h) and for SDOT (quants-dotprod.c, which includes quants-neon-impl.h first for
 * dot16 / dot32). Non-linear levels come from a table lookup (TBL) for IQ4; the grids of IQ2_XXS and
 * IQ1_S/IQ1_M are 8-byte rows loaded straight into a vector. Integer sums as in quants-iq-ref.c.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "quants-iq.h"

static void
PRIMA_NEON_SFX (vec_dot_iq4_nl_q8_0) (int n, float *s, const void *vx, const void *vy)
{
  const block_iq4_nl *x = vx;
  const block_q8_0 *y = vy;
  const int8x16_t values = vld1q_s8 (kvalues_iq4nl);
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  float sumf = 0.f;
  for (int i = 0; i < n / QK4_NL; i++) {
    const float d = f16 (y[i].d) * f16 (x[i].d);
    const uint8x16_t q = vld1q_u8 (x[i].qs);
    const int32_t sumi = dot32 (vqtbl1q_s8 (values, vandq_u8 (q, m4)), vqtbl1q_s8 (values, vshrq_n_u8 (q, 4)),
        y[i].qs);
    sumf += d * sumi;
  }
  *s = sumf;
}

static void
PRIMA_NEON_SFX (vec_dot_iq4_xs_q8_K) (int n, float *s, const void *vx, const void *vy)
{
  const block_iq4_xs *x = vx;
  const block_q8_K *y = vy;
  const int8x16_t values = vld1q_s8 (kvalues_iq4nl);
  const uint8x16_t m4 = vdupq_n_u8 (0x0F);
  float sumf = 0.f;
  for (int i = 0; i < n / QK_K; i++) {
    const float d4d8 = f16 (x[i].d) * y[i].d;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
      const float dl = d4d8 * (ls - 32);
      const uint8x16_t q = vld1q_u8 (x[i].qs + 16 * ib);
      const int32_t sumi = dot32 (vqtbl1q_s8 (values, vandq_u8 (q, m4)), vqtbl1q_s8 (values, vshrq_n_u8 (q, 4)),
          y[i].qs + 32 * ib);
      sumf += dl * sumi;
    }
  }
  *s = sumf;
}

/* two 8-byte grid rows as one vector */
static inline int8x16_t
grid2 (const uint64_t *grid, int a, int b)
{
  return vreinterpretq_s8_u64 (vcombine_u64 (vcreate_u64 (grid[a]), vcreate_u64 (grid[b])));
}

static void
PRIMA_NEON_SFX (vec_dot_iq2_xxs_q8_K) (int n, float *s, const void *vx, const void *vy)
{
  const block_iq2_xxs *x = vx;
  const block_q8_K *y = vy;
  const uint8x16_t bits = vreinterpretq_u8_u64 (vdupq_n_u64 (0x8040201008040201ULL));
  float sumf = 0.f;
  for (int i = 0; i < n / QK_K; i++) {
    const float d = f16 (x[i].d) * y[i].d;
    const int8_t *q8 = y[i].qs;
    int32_t bsum = 0;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      uint32_t aux[2];
      memcpy (aux, x[i].qs + 4 * ib, sizeof aux);
      const uint8_t *idx = (const uint8_t *) aux;
      const int32_t ls = 2 * (int32_t) (aux[1] >> 28) + 1;
      int8x16_t g[2];
      for (int p = 0; p < 2; p++) {
        /* the signs of the two rows of 8: bit j of ksigns negates element j (grid levels <= 43) */
        const uint8x16_t sg = vcombine_u8 (vdup_n_u8 (ksigns_iq2xs[(aux[1] >> 14 * p) & 127]),
            vdup_n_u8 (ksigns_iq2xs[(aux[1] >> (14 * p + 7)) & 127]));
        const int8x16_t v = vreinterpretq_s8_u64 (vcombine_u64 (vcreate_u64 (iq2xxs_grid[idx[2 * p]]),
                vcreate_u64 (iq2xxs_grid[idx[2 * p + 1]])));
        g[p] = vbslq_s8 (vtstq_u8 (sg, bits), vnegq_s8 (v), v);
      }
      bsum += dot32 (g[0], g[1], q8) * ls;
      q8 += 32;
    }
    sumf += d * bsum;
  }
  *s = 0.125f * sumf;
}

static void
PRIMA_NEON_SFX (vec_dot_iq1_s_q8_K) (int n, float *s, const void *vx, const void *vy)
{
  const block_iq1_s *x = vx;
  const block_q8_K *y = vy;
  float sumf = 0.f;
  for (int i = 0; i < n / QK_K; i++) {
    const int8_t *q8 = y[i].qs;
    const uint8_t *qs = x[i].qs;
    int sumi = 0, sumi1 = 0;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const uint16_t qh = x[i].qh[ib];
      const int ls = 2 * ((qh >> 12) & 7) + 1;
      const int delta = qh & 0x8000 ? -1 : 1;
      const int8x16_t g0 = grid2 (iq1s_grid, qs[0] | ((qh << 8) & 0x700), qs[1] | ((qh << 5) & 0x700));
      const int8x16_t g1 = grid2 (iq1s_grid, qs[2] | ((qh << 2) & 0x700), qs[3] | ((qh >> 1) & 0x700));
      sumi += ls * dot32 (g0, g1, q8);
      sumi1 += ls * delta * (y[i].bsums[2 * ib] + y[i].bsums[2 * ib + 1]);
      q8 += 32;
      qs += 4;
    }
    sumf += f16 (x[i].d) * y[i].d * (sumi + IQ1S_DELTA * sumi1);
  }
  *s = sumf;
}

static void
PRIMA_NEON_SFX (vec_dot_iq1_m_q8_K) (int n, float *s, const void *vx, const void *vy)
{
  const block_iq1_m *x = vx;
  const block_q8_K *y = vy;
  float sumf = 0.f;
  for (int i = 0; i < n / QK_K; i++) {
    const int8_t *q8 = y[i].qs;
    const uint8_t *qs = x[i].qs;
    const uint8_t *qh = x[i].qh;
    uint16_t sc[4];
    memcpy (sc, x[i].scales, sizeof sc);
    int sumi1 = 0, sumi2 = 0;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      int sum1[2], sum2[2];
      for (int p = 0; p < 2; p++) {
        const int8x16_t g = grid2 (iq1s_grid, qs[2 * p] | ((qh[p] << 8) & 0x700), qs[2 * p + 1] | ((qh[p] << 4) & 0x700));
        const int8x16_t q = vld1q_s8 (q8 + 16 * p);
        /* the +-delta shift per row of 8: the row's activation sum with its sign */
        const int16x8_t rs = vpaddlq_s8 (q);
        const int r0 = vaddvq_s16 (vcombine_s16 (vget_low_s16 (rs), vdup_n_s16 (0)));
        const int r1 = vaddvq_s16 (vcombine_s16 (vget_high_s16 (rs), vdup_n_s16 (0)));
        sum1[p] = vaddvq_s32 (dot16 (vdupq_n_s32 (0), g, q));
        sum2[p] = (qh[p] & 0x08 ? -r0 : r0) + (qh[p] & 0x80 ? -r1 : r1);
      }
      const int ls1 = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 0x7) + 1;
      const int ls2 = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 0x7) + 1;
      sumi1 += sum1[0] * ls1 + sum1[1] * ls2;
      sumi2 += sum2[0] * ls1 + sum2[1] * ls2;
      q8 += 32;
      qs += 4;
      qh += 2;
    }
    sumf += f16 (iq1m_block_scale (&x[i])) * y[i].d * (sumi1 + IQ1M_DELTA * sumi2);
  }
  *s = sumf;
}

static void
PRIMA_NEON_SFX (register_iq) (prima_type_traits *table)
{
  table[PRIMA_TYPE_IQ4_NL].vec_dot = PRIMA_NEON_SFX (vec_dot_iq4_nl_q8_0);
  table[PRIMA_TYPE_IQ4_XS].vec_dot = PRIMA_NEON_SFX (vec_dot_iq4_xs_q8_K);
  table[PRIMA_TYPE_IQ2_XXS].vec_dot = PRIMA_NEON_SFX (vec_dot_iq2_xxs_q8_K);
  table[PRIMA_TYPE_IQ1_S].vec_dot = PRIMA_NEON_SFX (vec_dot_iq1_s_q8_K);
  table[PRIMA_TYPE_IQ1_M].vec_dot = PRIMA_NEON_SFX (vec_dot_iq1_m_q8_K);
}
