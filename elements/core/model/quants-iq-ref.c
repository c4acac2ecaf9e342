/* gst-prima: scalar reference kernels of the IQ types IQ4_NL, IQ4_XS, IQ2_XXS,
 * IQ1_S and IQ1_M.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Dequantization must reproduce ggml bit for bit, so each one keeps the float
 * types and the order of operations that define the values (e.g. IQ2_XXS
 * scales as d * (0.5 + s) * 0.25, never d * (2s + 1) / 8, which rounds
 * differently). The dot products sum integers per sub-block and scale once,
 * in the same order as the reference, so the SIMD kernels have a fixed target.
 */
#include "quants-iq.h"

#include <math.h>
#include <string.h>

/* ---- dequantization ---- */

void
dequantize_row_iq4_nl (const block_iq4_nl *x, float *y, int64_t n)
{
  assert (n % QK4_NL == 0);
  const int64_t nb = n / QK4_NL;

  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    const uint8_t *qs = x[i].qs;
    for (int j = 0; j < QK4_NL / 2; j++) {
      y[j] = d * kvalues_iq4nl[qs[j] & 0xf];
      y[j + QK4_NL / 2] = d * kvalues_iq4nl[qs[j] >> 4];
    }
    y += QK4_NL;
  }
}

/* 6-bit scale of sub-block ib: low 4 bits in scales_l, high 2 in scales_h. */
static inline int
iq4_xs_scale (const block_iq4_xs *b, int ib)
{
  return ((b->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((b->scales_h >> 2 * ib) & 3) << 4);
}

void
dequantize_row_iq4_xs (const block_iq4_xs *x, float *y, int64_t n)
{
  assert (n % QK_K == 0);
  const int64_t nb = n / QK_K;

  for (int64_t i = 0; i < nb; i++) {
    const uint8_t *qs = x[i].qs;
    const float d = prima_fp16_to_fp32 (x[i].d);
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const float dl = d * (iq4_xs_scale (&x[i], ib) - 32);
      for (int j = 0; j < 16; j++) {
        y[j] = dl * kvalues_iq4nl[qs[j] & 0xf];
        y[j + 16] = dl * kvalues_iq4nl[qs[j] >> 4];
      }
      y += 32;
      qs += 16;
    }
  }
}

void
dequantize_row_iq2_xxs (const block_iq2_xxs *x, float *y, int64_t n)
{
  assert (n % QK_K == 0);
  const int64_t nb = n / QK_K;

  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    for (int ib = 0; ib < QK_K / 32; ib++) {
      /* Per 32: 4 grid indices (bytes of the first word), then 4 x 7 sign
       * bits and a 4-bit scale in the second word. */
      uint32_t aux[2];
      memcpy (aux, x[i].qs + 4 * ib, sizeof aux);
      const uint8_t *idx = (const uint8_t *) aux;
      const float db = d * (0.5f + (aux[1] >> 28)) * 0.25f;
      for (int l = 0; l < 4; l++) {
        const uint8_t *grid = (const uint8_t *) (iq2xxs_grid + idx[l]);
        const uint8_t signs = ksigns_iq2xs[(aux[1] >> 7 * l) & 127];
        for (int j = 0; j < 8; j++)
          y[j] = db * grid[j] * (signs & kmask_iq2xs[j] ? -1.f : 1.f);
        y += 8;
      }
    }
  }
}

void
dequantize_row_iq1_s (const block_iq1_s *x, float *y, int64_t n)
{
  assert (n % QK_K == 0);
  const int64_t nb = n / QK_K;

  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    const uint8_t *qs = x[i].qs;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      /* qh: 4 x 3 high index bits, a 3-bit scale, the sign of the shift. */
      const uint16_t qh = x[i].qh[ib];
      const float dl = d * (2 * ((qh >> 12) & 7) + 1);
      const float delta = qh & 0x8000 ? -IQ1S_DELTA : IQ1S_DELTA;
      for (int l = 0; l < 4; l++) {
        const int8_t *grid = (const int8_t *) (iq1s_grid + (qs[l] | (((qh >> 3 * l) & 7) << 8)));
        for (int j = 0; j < 8; j++)
          y[j] = dl * (grid[j] + delta);
        y += 8;
      }
      qs += 4;
    }
  }
}

void
dequantize_row_iq1_m (const block_iq1_m *x, float *y, int64_t n)
{
  assert (n % QK_K == 0);
  const int64_t nb = n / QK_K;

  for (int64_t i = 0; i < nb; i++) {
    uint16_t sc[4];
    memcpy (sc, x[i].scales, sizeof sc);
    const float d = prima_fp16_to_fp32 (iq1m_block_scale (&x[i]));
    const uint8_t *qs = x[i].qs;
    const uint8_t *qh = x[i].qh;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      /* Two 3-bit scales per 32 (one per 16); per 8 a 3-bit high index
       * nibble part and a shift sign bit in qh. */
      const float dl1 = d * (2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 0x7) + 1);
      const float dl2 = d * (2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 0x7) + 1);
      uint16_t idx[4];
      float delta[4];
      idx[0] = qs[0] | ((qh[0] << 8) & 0x700);
      idx[1] = qs[1] | ((qh[0] << 4) & 0x700);
      idx[2] = qs[2] | ((qh[1] << 8) & 0x700);
      idx[3] = qs[3] | ((qh[1] << 4) & 0x700);
      delta[0] = qh[0] & 0x08 ? -IQ1M_DELTA : IQ1M_DELTA;
      delta[1] = qh[0] & 0x80 ? -IQ1M_DELTA : IQ1M_DELTA;
      delta[2] = qh[1] & 0x08 ? -IQ1M_DELTA : IQ1M_DELTA;
      delta[3] = qh[1] & 0x80 ? -IQ1M_DELTA : IQ1M_DELTA;
      for (int l = 0; l < 4; l++) {
        const int8_t *grid = (const int8_t *) (iq1s_grid + idx[l]);
        const float dl = l < 2 ? dl1 : dl2;
        for (int j = 0; j < 8; j++)
          y[j] = dl * (grid[j] + delta[l]);
        y += 8;
      }
      qs += 4;
      qh += 2;
    }
  }
}

/* ---- quantization (IQ4 only; the grid types need importance data) ---- */

/* Index of the level of kvalues_iq4nl nearest to v (ties to the lower). */
static inline int
iq4nl_nearest (float v)
{
  if (v <= kvalues_iq4nl[0])
    return 0;
  if (v >= kvalues_iq4nl[15])
    return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    int mid = (lo + hi) / 2;
    if (v < kvalues_iq4nl[mid])
      hi = mid;
    else
      lo = mid;
  }
  return v - kvalues_iq4nl[lo] <= kvalues_iq4nl[hi] - v ? lo : hi;
}

/* Best scale for n values on the IQ4 levels (least squares): try several
 * mappings of the extreme value near the end levels, keep the one whose
 * refitted scale leaves the smallest squared error. Returns 0 for a block of
 * zeros. */
static float
iq4_best_scale (const float *x, int n)
{
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < n; j++) {
    float ax = fabsf (x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (amax < 1e-30f)
    return 0.f;

  float best_d = max / kvalues_iq4nl[0];
  float best_score = -1.f;
  /* The extreme value goes to -127 (or +113 for the other sign choice),
   * stretched by up to +-10 levels. */
  for (int side = 0; side < 2; side++) {
    const float end = side == 0 ? kvalues_iq4nl[0] : kvalues_iq4nl[15];
    for (int t = -10; t <= 10; t++) {
      const float id = (end + (side == 0 ? -t : t)) / max;
      float sumqx = 0.f, sumq2 = 0.f;
      for (int j = 0; j < n; j++) {
        const float q = kvalues_iq4nl[iq4nl_nearest (id * x[j])];
        sumqx += q * x[j];
        sumq2 += q * q;
      }
      if (sumq2 > 0.f && sumqx * sumqx > best_score * sumq2) {
        best_score = sumqx * sumqx / sumq2;
        best_d = sumqx / sumq2;
      }
    }
  }
  return best_d;
}

/* Pack n (16 or 32: one sub-block) values as nibbles for scale d. */
static void
iq4_pack (const float *x, float d, uint8_t *qs)
{
  const float id = d != 0.f ? 1.f / d : 0.f;
  for (int j = 0; j < 16; j++) {
    const int lo = iq4nl_nearest (id * x[j]);
    const int hi = iq4nl_nearest (id * x[j + 16]);
    qs[j] = (uint8_t) (lo | (hi << 4));
  }
}

void
quantize_row_iq4_nl_ref (const float *x, block_iq4_nl *y, int64_t n)
{
  assert (n % QK4_NL == 0);
  const int64_t nb = n / QK4_NL;

  for (int64_t i = 0; i < nb; i++) {
    const float d = iq4_best_scale (x, QK4_NL);
    y[i].d = prima_fp32_to_fp16 (d);
    /* Assign levels with the scale as stored, not as computed. */
    iq4_pack (x, prima_fp16_to_fp32 (y[i].d), y[i].qs);
    x += QK4_NL;
  }
}

void
quantize_row_iq4_xs_ref (const float *x, block_iq4_xs *y, int64_t n)
{
  assert (n % QK_K == 0);
  const int64_t nb = n / QK_K;

  for (int64_t i = 0; i < nb; i++) {
    float scales[QK_K / 32];
    float amax = 0.f, max = 0.f;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      scales[ib] = iq4_best_scale (x + 32 * ib, 32);
      if (fabsf (scales[ib]) > amax) {
        amax = fabsf (scales[ib]);
        max = scales[ib];
      }
    }
    memset (&y[i], 0, sizeof y[i]);
    /* The largest sub-scale maps to level -32, the widest of [-32, 31]. */
    const float d = max / -32.f;
    y[i].d = prima_fp32_to_fp16 (d);
    const float dr = prima_fp16_to_fp32 (y[i].d);
    const float id = dr != 0.f ? 1.f / dr : 0.f;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      int l = (int) lrintf (id * scales[ib]);
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      const int ls = l + 32;
      y[i].scales_l[ib / 2] |= (uint8_t) ((ls & 0xf) << 4 * (ib % 2));
      y[i].scales_h |= (uint16_t) ((ls >> 4) << 2 * ib);
      iq4_pack (x + 32 * ib, dr * l, y[i].qs + 16 * ib);
    }
    x += QK_K;
  }
}

/* ---- dot products ---- */

void
vec_dot_iq4_nl_q8_0_ref (int n, float *s, const void *vx, const void *vy)
{
  assert (n % QK4_NL == 0);
  const block_iq4_nl *x = vx;
  const block_q8_0 *y = vy;
  const int nb = n / QK4_NL;
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (y[i].d) * prima_fp16_to_fp32 (x[i].d);
    int sumi1 = 0, sumi2 = 0;
    for (int j = 0; j < QK4_NL / 2; j++) {
      sumi1 += y[i].qs[j] * kvalues_iq4nl[x[i].qs[j] & 0xf];
      sumi2 += y[i].qs[j + QK4_NL / 2] * kvalues_iq4nl[x[i].qs[j] >> 4];
    }
    sumf += d * (sumi1 + sumi2);
  }
  *s = sumf;
}

void
vec_dot_iq4_xs_q8_K_ref (int n, float *s, const void *vx, const void *vy)
{
  assert (n % QK_K == 0);
  const block_iq4_xs *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const float d4d8 = prima_fp16_to_fp32 (x[i].d) * y[i].d;
    const uint8_t *qs = x[i].qs;
    const int8_t *q8 = y[i].qs;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const float dl = d4d8 * (iq4_xs_scale (&x[i], ib) - 32);
      int sumi1 = 0, sumi2 = 0;
      for (int j = 0; j < 16; j++) {
        sumi1 += q8[j] * kvalues_iq4nl[qs[j] & 0xf];
        sumi2 += q8[j + 16] * kvalues_iq4nl[qs[j] >> 4];
      }
      sumf += dl * (sumi1 + sumi2);
      qs += 16;
      q8 += 32;
    }
  }
  *s = sumf;
}

void
vec_dot_iq2_xxs_q8_K_ref (int n, float *s, const void *vx, const void *vy)
{
  assert (n % QK_K == 0);
  const block_iq2_xxs *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d) * y[i].d;
    const int8_t *q8 = y[i].qs;
    int32_t bsum = 0;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      uint32_t aux[2];
      memcpy (aux, x[i].qs + 4 * ib, sizeof aux);
      const uint8_t *idx = (const uint8_t *) aux;
      /* 2s + 1 here; the 1/8 of (0.5 + s) / 4 is applied once at the end. */
      const int32_t ls = 2 * (int32_t) (aux[1] >> 28) + 1;
      int32_t sumi = 0;
      for (int l = 0; l < 4; l++) {
        const uint8_t *grid = (const uint8_t *) (iq2xxs_grid + idx[l]);
        const uint8_t signs = ksigns_iq2xs[(aux[1] >> 7 * l) & 127];
        for (int j = 0; j < 8; j++)
          sumi += grid[j] * q8[j] * (signs & kmask_iq2xs[j] ? -1 : 1);
        q8 += 8;
      }
      bsum += sumi * ls;
    }
    sumf += d * bsum;
  }
  *s = 0.125f * sumf;
}

void
vec_dot_iq1_s_q8_K_ref (int n, float *s, const void *vx, const void *vy)
{
  assert (n % QK_K == 0);
  const block_iq1_s *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const int8_t *q8 = y[i].qs;
    const uint8_t *qs = x[i].qs;
    /* sumi: grid part; sumi1: the +-delta shift, through the q8 group sums. */
    int sumi = 0, sumi1 = 0;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      const uint16_t qh = x[i].qh[ib];
      const int ls = 2 * ((qh >> 12) & 7) + 1;
      const int delta = qh & 0x8000 ? -1 : 1;
      int lsum = 0;
      for (int l = 0; l < 4; l++) {
        const int8_t *grid = (const int8_t *) (iq1s_grid + (qs[l] | (((qh >> 3 * l) & 7) << 8)));
        for (int j = 0; j < 8; j++)
          lsum += q8[j] * grid[j];
        q8 += 8;
      }
      sumi += ls * lsum;
      sumi1 += ls * delta * (y[i].bsums[2 * ib] + y[i].bsums[2 * ib + 1]);
      qs += 4;
    }
    sumf += prima_fp16_to_fp32 (x[i].d) * y[i].d * (sumi + IQ1S_DELTA * sumi1);
  }
  *s = sumf;
}

void
vec_dot_iq1_m_q8_K_ref (int n, float *s, const void *vx, const void *vy)
{
  assert (n % QK_K == 0);
  const block_iq1_m *x = vx;
  const block_q8_K *y = vy;
  const int nb = n / QK_K;
  float sumf = 0.f;

  for (int i = 0; i < nb; i++) {
    const int8_t *q8 = y[i].qs;
    const uint8_t *qs = x[i].qs;
    const uint8_t *qh = x[i].qh;
    uint16_t sc[4];
    memcpy (sc, x[i].scales, sizeof sc);
    int sumi1 = 0, sumi2 = 0;
    for (int ib = 0; ib < QK_K / 32; ib++) {
      int delta[4], sum1[2] = { 0, 0 }, sum2[2] = { 0, 0 };
      delta[0] = qh[0] & 0x08 ? -1 : 1;
      delta[1] = qh[0] & 0x80 ? -1 : 1;
      delta[2] = qh[1] & 0x08 ? -1 : 1;
      delta[3] = qh[1] & 0x80 ? -1 : 1;
      for (int l = 0; l < 4; l++) {
        const int8_t *grid = (const int8_t *) (iq1s_grid + (qs[l] | (((uint16_t) qh[l / 2] << (8 - 4 * (l % 2))) & 0x700)));
        int lsum1 = 0, lsum2 = 0;
        for (int j = 0; j < 8; j++) {
          lsum1 += q8[j] * grid[j];
          lsum2 += q8[j];
        }
        q8 += 8;
        sum1[l / 2] += lsum1;
        sum2[l / 2] += lsum2 * delta[l];
      }
      const int ls1 = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 0x7) + 1;
      const int ls2 = 2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 0x7) + 1;
      sumi1 += sum1[0] * ls1 + sum1[1] * ls2;
      sumi2 += sum2[0] * ls1 + sum2[1] * ls2;
      qs += 4;
      qh += 2;
    }
    sumf += prima_fp16_to_fp32 (iq1m_block_scale (&x[i])) * y[i].d * (sumi1 + IQ1M_DELTA * sumi2);
  }
  *s = sumf;
}

/* ---- registration ---- */

static void
to_float_iq4_nl (const void *x, float *y, int64_t n)
{
  dequantize_row_iq4_nl (x, y, n);
}

static void
to_float_iq4_xs (const void *x, float *y, int64_t n)
{
  dequantize_row_iq4_xs (x, y, n);
}

static void
to_float_iq2_xxs (const void *x, float *y, int64_t n)
{
  dequantize_row_iq2_xxs (x, y, n);
}

static void
to_float_iq1_s (const void *x, float *y, int64_t n)
{
  dequantize_row_iq1_s (x, y, n);
}

static void
to_float_iq1_m (const void *x, float *y, int64_t n)
{
  dequantize_row_iq1_m (x, y, n);
}

static void
from_float_iq4_nl (const float *x, void *y, int64_t n)
{
  quantize_row_iq4_nl_ref (x, y, n);
}

static void
from_float_iq4_xs (const float *x, void *y, int64_t n)
{
  quantize_row_iq4_xs_ref (x, y, n);
}

void
prima_quants_iq_ref_register (prima_type_traits *table)
{
  prima_type_traits *t;

  t = &table[PRIMA_TYPE_IQ4_NL];
  t->to_float = to_float_iq4_nl;
  t->from_float = from_float_iq4_nl;
  t->vec_dot = vec_dot_iq4_nl_q8_0_ref;
  t->vec_dot_type = PRIMA_TYPE_Q8_0;

  t = &table[PRIMA_TYPE_IQ4_XS];
  t->to_float = to_float_iq4_xs;
  t->from_float = from_float_iq4_xs;
  t->vec_dot = vec_dot_iq4_xs_q8_K_ref;
  t->vec_dot_type = PRIMA_TYPE_Q8_K;

  /* The grid types need an importance matrix to quantize well: read only. */
  t = &table[PRIMA_TYPE_IQ2_XXS];
  t->to_float = to_float_iq2_xxs;
  t->from_float = NULL;
  t->vec_dot = vec_dot_iq2_xxs_q8_K_ref;
  t->vec_dot_type = PRIMA_TYPE_Q8_K;

  t = &table[PRIMA_TYPE_IQ1_S];
  t->to_float = to_float_iq1_s;
  t->from_float = NULL;
  t->vec_dot = vec_dot_iq1_s_q8_K_ref;
  t->vec_dot_type = PRIMA_TYPE_Q8_K;

  t = &table[PRIMA_TYPE_IQ1_M];
  t->to_float = to_float_iq1_m;
  t->from_float = NULL;
  t->vec_dot = vec_dot_iq1_m_q8_K_ref;
  t->vec_dot_type = PRIMA_TYPE_Q8_K;
}
