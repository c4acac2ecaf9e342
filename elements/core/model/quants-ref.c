/* gst-prima: scalar reference kernels for the float, legacy and K-quant types.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Dequantization follows the GGUF reference bit for bit: the same float
 * operations in the same order, so the golden tensors compare with memcmp.
 * The activation quantizers (Q8_0, Q8_1, Q8_K) round exactly as the reference
 * does, since the golden logits were computed from activations rounded that
 * way. Dot products are done in integers per block and scaled per block.
 */
#include "quants.h"

#include <math.h>
#include <float.h>
#include <string.h>

/* A fused multiply-add would change the rounding of "x*d + m" and break the
 * bit-exact dequantization, whatever flags the file is built with. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize ("fp-contract=off")
#endif

#define MIN_I(a, b) ((a) < (b) ? (a) : (b))
#define MAX_I(a, b) ((a) > (b) ? (a) : (b))

/* Round to nearest, ties to even, as the FPU does in its default mode:
 * adding 1.5 * 2^23 leaves the integer in the low mantissa bits. Valid for
 * |f| < 2^22, which every caller guarantees. */
static inline int
nearest_int (float f)
{
  float v = f + 12582912.f;
  int32_t i;
  memcpy (&i, &v, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

/* ---------------------------------------------------------------------
 * Float types
 * --------------------------------------------------------------------- */

void
dequantize_row_f32 (const void *vx, float *y, int64_t n)
{
  memcpy (y, vx, (size_t) n * sizeof (float));
}

void
quantize_row_f32_ref (const float *x, void *vy, int64_t n)
{
  memcpy (vy, x, (size_t) n * sizeof (float));
}

void
dequantize_row_f16 (const void *vx, float *y, int64_t n)
{
  const prima_fp16 *x = vx;
  for (int64_t i = 0; i < n; i++)
    y[i] = prima_fp16_to_fp32 (x[i]);
}

void
quantize_row_f16_ref (const float *x, void *vy, int64_t n)
{
  prima_fp16 *y = vy;
  for (int64_t i = 0; i < n; i++)
    y[i] = prima_fp32_to_fp16 (x[i]);
}

void
dequantize_row_bf16 (const void *vx, float *y, int64_t n)
{
  const prima_bf16 *x = vx;
  for (int64_t i = 0; i < n; i++)
    y[i] = prima_bf16_to_fp32 (x[i]);
}

void
quantize_row_bf16_ref (const float *x, void *vy, int64_t n)
{
  prima_bf16 *y = vy;
  for (int64_t i = 0; i < n; i++)
    y[i] = prima_fp32_to_bf16 (x[i]);
}

/* Float dot products accumulate in double: the reference is meant to be the
 * accurate one that the SIMD versions are measured against. */
void
vec_dot_f32_f32_ref (int n, float *s, const void *vx, const void *vy)
{
  const float *x = vx, *y = vy;
  double sum = 0;
  for (int i = 0; i < n; i++)
    sum += (double) x[i] * (double) y[i];
  *s = (float) sum;
}

void
vec_dot_f16_f16_ref (int n, float *s, const void *vx, const void *vy)
{
  const prima_fp16 *x = vx, *y = vy;
  double sum = 0;
  for (int i = 0; i < n; i++)
    sum += (double) prima_fp16_to_fp32 (x[i]) * (double) prima_fp16_to_fp32 (y[i]);
  *s = (float) sum;
}

void
vec_dot_bf16_bf16_ref (int n, float *s, const void *vx, const void *vy)
{
  const prima_bf16 *x = vx, *y = vy;
  double sum = 0;
  for (int i = 0; i < n; i++)
    sum += (double) prima_bf16_to_fp32 (x[i]) * (double) prima_bf16_to_fp32 (y[i]);
  *s = (float) sum;
}

/* ---------------------------------------------------------------------
 * Dequantization (bit-exact with the reference)
 * --------------------------------------------------------------------- */

void
dequantize_row_q4_0 (const void *vx, float *y, int64_t n)
{
  const block_q4_0 *x = vx;
  const int64_t nb = n / QK4_0;
  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    for (int j = 0; j < QK4_0 / 2; j++) {
      const int x0 = (x[i].qs[j] & 0x0F) - 8;
      const int x1 = (x[i].qs[j] >> 4) - 8;
      y[i * QK4_0 + j] = x0 * d;
      y[i * QK4_0 + j + QK4_0 / 2] = x1 * d;
    }
  }
}

void
dequantize_row_q4_1 (const void *vx, float *y, int64_t n)
{
  const block_q4_1 *x = vx;
  const int64_t nb = n / QK4_1;
  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    const float m = prima_fp16_to_fp32 (x[i].m);
    for (int j = 0; j < QK4_1 / 2; j++) {
      const int x0 = x[i].qs[j] & 0x0F;
      const int x1 = x[i].qs[j] >> 4;
      y[i * QK4_1 + j] = x0 * d + m;
      y[i * QK4_1 + j + QK4_1 / 2] = x1 * d + m;
    }
  }
}

void
dequantize_row_q5_0 (const void *vx, float *y, int64_t n)
{
  const block_q5_0 *x = vx;
  const int64_t nb = n / QK5_0;
  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    uint32_t qh;
    memcpy (&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < QK5_0 / 2; j++) {
      /* bit j of qh is the 5th bit of element j, bit j+16 that of j+16 */
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      const int x0 = ((x[i].qs[j] & 0x0F) | h0) - 16;
      const int x1 = ((x[i].qs[j] >> 4) | h1) - 16;
      y[i * QK5_0 + j] = x0 * d;
      y[i * QK5_0 + j + QK5_0 / 2] = x1 * d;
    }
  }
}

void
dequantize_row_q5_1 (const void *vx, float *y, int64_t n)
{
  const block_q5_1 *x = vx;
  const int64_t nb = n / QK5_1;
  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    const float m = prima_fp16_to_fp32 (x[i].m);
    uint32_t qh;
    memcpy (&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < QK5_1 / 2; j++) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      const int x0 = (x[i].qs[j] & 0x0F) | h0;
      const int x1 = (x[i].qs[j] >> 4) | h1;
      y[i * QK5_1 + j] = x0 * d + m;
      y[i * QK5_1 + j + QK5_1 / 2] = x1 * d + m;
    }
  }
}

void
dequantize_row_q8_0 (const void *vx, float *y, int64_t n)
{
  const block_q8_0 *x = vx;
  const int64_t nb = n / QK8_0;
  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    for (int j = 0; j < QK8_0; j++)
      y[i * QK8_0 + j] = x[i].qs[j] * d;
  }
}

void
dequantize_row_q8_1 (const void *vx, float *y, int64_t n)
{
  const block_q8_1 *x = vx;
  const int64_t nb = n / QK8_1;
  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    for (int j = 0; j < QK8_1; j++)
      y[i * QK8_1 + j] = x[i].qs[j] * d;
  }
}

void
dequantize_row_q2_K (const void *vx, float *y, int64_t n)
{
  const block_q2_K *x = vx;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    const float min = prima_fp16_to_fp32 (x[i].dmin);
    const uint8_t *q = x[i].qs;
    int is = 0;
    for (int half = 0; half < 2; half++) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int k = 0; k < 2; k++) {
          /* low nibble of the scale byte scales, high nibble is the min */
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * (sc & 0xF);
          const float ml = min * (sc >> 4);
          for (int l = 0; l < 16; l++)
            *y++ = dl * ((q[l + 16 * k] >> shift) & 3) - ml;
        }
      }
      q += 32;
    }
  }
}

/* Unpack the 16 six-bit Q3_K scales (still biased by 32). Bytes 0..7 hold the
 * low nibbles (of scales 0..7 in the low half, 8..15 in the high half), bytes
 * 8..11 the high two bits, scale j at bits 2*(j/4) of byte 8 + j%4. */
static inline void
q3_k_unpack_scales (const uint8_t *packed, int8_t *sc)
{
  for (int j = 0; j < 16; j++) {
    const int lo = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
    const int hi = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    sc[j] = (int8_t) (lo | (hi << 4));
  }
}

void
dequantize_row_q3_K (const void *vx, float *y, int64_t n)
{
  const block_q3_K *x = vx;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const float d_all = prima_fp16_to_fp32 (x[i].d);
    const uint8_t *q = x[i].qs;
    const uint8_t *hm = x[i].hmask;
    int8_t scales[16];
    uint8_t m = 1;
    int is = 0;
    q3_k_unpack_scales (x[i].scales, scales);
    for (int half = 0; half < 2; half++) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int k = 0; k < 2; k++) {
          const float dl = d_all * (scales[is++] - 32);
          for (int l = 16 * k; l < 16 * k + 16; l++)
            *y++ = dl * (((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
        }
        m <<= 1;
      }
      q += 32;
    }
  }
}

/* Scale and min j (0..7) of the 12-byte Q4_K / Q5_K packing: j < 4 in the low
 * six bits of bytes j and j+4; j >= 4 split between byte j+4 (low nibbles)
 * and the top two bits of bytes j-4 (scale) and j (min). */
static inline void
k4_scale_min (int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void
dequantize_row_q4_K (const void *vx, float *y, int64_t n)
{
  const block_q4_K *x = vx;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const uint8_t *q = x[i].qs;
    const float d = prima_fp16_to_fp32 (x[i].d);
    const float min = prima_fp16_to_fp32 (x[i].dmin);
    for (int is = 0; is < 8; is += 2) {
      uint8_t sc, m;
      k4_scale_min (is, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      k4_scale_min (is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; l++)
        *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; l++)
        *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
    }
  }
}

void
dequantize_row_q5_K (const void *vx, float *y, int64_t n)
{
  const block_q5_K *x = vx;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const uint8_t *ql = x[i].qs;
    const uint8_t *qh = x[i].qh;
    const float d = prima_fp16_to_fp32 (x[i].d);
    const float min = prima_fp16_to_fp32 (x[i].dmin);
    uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < 8; is += 2) {
      uint8_t sc, m;
      k4_scale_min (is, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      k4_scale_min (is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; l++)
        *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; l++)
        *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

void
dequantize_row_q6_K (const void *vx, float *y, int64_t n)
{
  const block_q6_K *x = vx;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++) {
    const float d = prima_fp16_to_fp32 (x[i].d);
    const uint8_t *ql = x[i].ql;
    const uint8_t *qh = x[i].qh;
    const int8_t *sc = x[i].scales;
    for (int half = 0; half < 2; half++) {
      for (int l = 0; l < 32; l++) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        /* (d * scale) first, then the quant: the reference's order */
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

void
dequantize_row_q8_K (const void *vx, float *y, int64_t n)
{
  const block_q8_K *x = vx;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++)
    for (int j = 0; j < QK_K; j++)
      y[i * QK_K + j] = x[i].d * x[i].qs[j];
}

void
dequantize_row_q8_K_x (const void *vx, float *y, int64_t n)
{
  const block_q8_K_x *x = vx;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++)
    for (int j = 0; j < QK_K; j++)
      y[i * QK_K + j] = x[i].d * x[i].qs[q8_K_x_index (j)];
}

/* ---------------------------------------------------------------------
 * Activation quantizers: exactly the reference rounding
 * --------------------------------------------------------------------- */

void
quantize_row_q8_0_ref (const float *x, void *vy, int64_t n)
{
  block_q8_0 *y = vy;
  const int64_t nb = n / QK8_0;
  for (int64_t i = 0; i < nb; i++) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++) {
      const float a = fabsf (x[i * QK8_0 + j]);
      amax = amax > a ? amax : a;
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = prima_fp32_to_fp16 (d);
    /* roundf: ties away from zero */
    for (int j = 0; j < QK8_0; j++)
      y[i].qs[j] = (int8_t) roundf (x[i * QK8_0 + j] * id);
  }
}

void
quantize_row_q8_1_ref (const float *x, void *vy, int64_t n)
{
  block_q8_1 *y = vy;
  const int64_t nb = n / QK8_1;
  for (int64_t i = 0; i < nb; i++) {
    float amax = 0.0f;
    for (int j = 0; j < QK8_1; j++) {
      const float a = fabsf (x[i * QK8_1 + j]);
      amax = amax > a ? amax : a;
    }
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    y[i].d = prima_fp32_to_fp16 (d);
    for (int j = 0; j < QK8_1; j++) {
      y[i].qs[j] = (int8_t) roundf (x[i * QK8_1 + j] * id);
      sum += y[i].qs[j];
    }
    /* the sum uses the unrounded d, as the reference does */
    y[i].s = prima_fp32_to_fp16 (sum * d);
  }
}

void
quantize_row_q8_K_ref (const float *x, void *vy, int64_t n)
{
  block_q8_K *y = vy;
  const int64_t nb = n / QK_K;
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    float max = 0, amax = 0;
    /* the signed value of largest magnitude, the first one on ties */
    for (int j = 0; j < QK_K; j++) {
      const float ax = fabsf (x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      memset (&y[i], 0, sizeof y[i]);
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; j++) {
      const int v = nearest_int (iscale * x[j]);
      y[i].qs[j] = (int8_t) MIN_I (127, v);
    }
    for (int j = 0; j < QK_K / 16; j++) {
      int sum = 0;
      for (int l = 0; l < 16; l++)
        sum += y[i].qs[16 * j + l];
      y[i].bsums[j] = (int16_t) sum;
    }
    y[i].d = 1 / iscale;
  }
}

void
q8_K_to_q8_K_x (const void *vsrc, void *vdst, int64_t n)
{
  const block_q8_K *src = vsrc;
  block_q8_K_x *dst = vdst;
  for (int64_t i = 0; i < n / QK_K; i++) {
    dst[i].d = src[i].d;
    for (int j = 0; j < QK_K; j++)
      dst[i].qs[q8_K_x_index (j)] = src[i].qs[j];
    for (int j = 0; j < QK_K / 32; j++)
      dst[i].bsums32[j] = (int16_t) (src[i].bsums[2 * j] + src[i].bsums[2 * j + 1]);
  }
}

void
quantize_row_q8_K_x_ref (const float *x, void *vy, int64_t n)
{
  block_q8_K tmp;
  for (int64_t i = 0; i < n / QK_K; i++) {
    quantize_row_q8_K_ref (x + i * QK_K, &tmp, QK_K);
    q8_K_to_q8_K_x (&tmp, (block_q8_K_x *) vy + i, QK_K);
  }
}

/* ---------------------------------------------------------------------
 * Weight quantizers: least-squares searches (our own; only the block
 * layouts must match the format)
 * --------------------------------------------------------------------- */

/* Symmetric fit x ~ s * l with integer l in [-nlo, nhi], minimising the
 * weighted squared error. Candidate grids map the value of largest magnitude
 * near either end of the range; for each rounding the best s is closed-form
 * (sum w x l / sum w l^2), and the grid point that explains the most energy
 * (sum w x l)^2 / sum w l^2 wins. Writes l (signed) to L; returns s. */
static float
fit_symmetric (int n, const float *x, const float *w, int nlo, int nhi, int8_t *L)
{
  float amax = 0, max = 0;
  for (int i = 0; i < n; i++)
    if (fabsf (x[i]) > amax) {
      amax = fabsf (x[i]);
      max = x[i];
    }
  if (amax < 1e-30f) {
    memset (L, 0, (size_t) n);
    return 0.0f;
  }
  float best_s = 0, best_gain = -1;
  for (int side = 0; side < 2; side++) {
    /* side 0: max maps to -nlo (uses the longer end), side 1: to +nhi */
    const float end = side == 0 ? -(float) nlo : (float) nhi;
    for (int k = -12; k <= 6; k++) {
      const float target = end + (end < 0 ? -0.1f : 0.1f) * k;
      if (target == 0)
        continue;
      const float iscale = target / max;
      double sxl = 0, sll = 0;
      for (int i = 0; i < n; i++) {
        int l = nearest_int (iscale * x[i]);
        l = MAX_I (-nlo, MIN_I (nhi, l));
        sxl += (double) w[i] * x[i] * l;
        sll += (double) w[i] * l * l;
      }
      if (sll > 0 && sxl * sxl / sll > best_gain) {
        best_gain = (float) (sxl * sxl / sll);
        best_s = (float) (sxl / sll);
      }
    }
  }
  if (best_s == 0.0f) {
    memset (L, 0, (size_t) n);
    return 0.0f;
  }
  for (int i = 0; i < n; i++) {
    const int l = nearest_int (x[i] / best_s);
    L[i] = (int8_t) MAX_I (-nlo, MIN_I (nhi, l));
  }
  return best_s;
}

/* Affine fit x ~ s * l + m with l in [0, nmax]. With nonpositive_min the
 * offset is kept <= 0 (the K-quants store it as a subtracted, unsigned min).
 * Each grid step rounds with a trial scale, then solves the 2x2 weighted
 * least squares for s and m; the lowest error wins. Returns s, sets *m. */
static float
fit_affine (int n, const float *x, const float *w, int nmax, gboolean nonpositive_min,
    uint8_t *L, float *m_out)
{
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; i++) {
    lo = x[i] < lo ? x[i] : lo;
    hi = x[i] > hi ? x[i] : hi;
  }
  if (nonpositive_min && lo > 0)
    lo = 0;
  if (hi == lo) {
    memset (L, 0, (size_t) n);
    *m_out = lo;
    return 0.0f;
  }
  double sw = 0, swx = 0;
  for (int i = 0; i < n; i++) {
    sw += w[i];
    swx += (double) w[i] * x[i];
  }
  float best_s = (hi - lo) / nmax, best_m = lo;
  double best_err = 0;
  for (int i = 0; i < n; i++) {
    int l = nearest_int ((x[i] - lo) / best_s);
    l = MAX_I (0, MIN_I (nmax, l));
    const double e = best_s * l + lo - x[i];
    best_err += w[i] * e * e;
  }
  uint8_t Lt[QK_K];
  for (int k = -10; k <= 10; k++) {
    const float iscale = (nmax + 0.1f * k) / (hi - lo);
    double sl = 0, sll = 0, sxl = 0;
    for (int i = 0; i < n; i++) {
      int l = nearest_int (iscale * (x[i] - lo));
      l = MAX_I (0, MIN_I (nmax, l));
      Lt[i] = (uint8_t) l;
      sl += (double) w[i] * l;
      sll += (double) w[i] * l * l;
      sxl += (double) w[i] * l * x[i];
    }
    const double det = sw * sll - sl * sl;
    if (det <= 0)
      continue;
    double s = (sw * sxl - swx * sl) / det;
    double m = (sll * swx - sl * sxl) / det;
    if (nonpositive_min && m > 0) {
      m = 0;
      s = sxl / sll;
    }
    double err = 0;
    for (int i = 0; i < n; i++) {
      const double e = s * Lt[i] + m - x[i];
      err += w[i] * e * e;
    }
    if (err < best_err && s > 0) {
      best_err = err;
      best_s = (float) s;
      best_m = (float) m;
    }
  }
  for (int i = 0; i < n; i++) {
    int l = nearest_int ((x[i] - best_m) / best_s);
    L[i] = (uint8_t) MAX_I (0, MIN_I (nmax, l));
  }
  *m_out = best_m;
  return best_s;
}

/* Weights favouring large values a little, which is what matters for the
 * dot products these blocks take part in. */
static void
default_weights (int n, const float *x, float *w)
{
  float s2 = 0;
  for (int i = 0; i < n; i++)
    s2 += x[i] * x[i];
  const float rms = sqrtf (s2 / n);
  for (int i = 0; i < n; i++)
    w[i] = rms + fabsf (x[i]);
}

static void
uniform_weights (int n, float *w)
{
  for (int i = 0; i < n; i++)
    w[i] = 1.0f;
}

void
quantize_row_q4_0_ref (const float *x, void *vy, int64_t n)
{
  block_q4_0 *y = vy;
  const int64_t nb = n / QK4_0;
  float w[QK4_0];
  int8_t L[QK4_0];
  uniform_weights (QK4_0, w);
  for (int64_t i = 0; i < nb; i++, x += QK4_0) {
    y[i].d = prima_fp32_to_fp16 (fit_symmetric (QK4_0, x, w, 8, 7, L));
    /* requantize with the stored (fp16-rounded) scale */
    const float d = prima_fp16_to_fp32 (y[i].d);
    for (int j = 0; j < QK4_0; j++) {
      const int l = d != 0.0f ? MAX_I (-8, MIN_I (7, nearest_int (x[j] / d))) : 0;
      L[j] = (int8_t) (l + 8);
    }
    for (int j = 0; j < QK4_0 / 2; j++)
      y[i].qs[j] = (uint8_t) (L[j] | (L[j + QK4_0 / 2] << 4));
  }
}

void
quantize_row_q5_0_ref (const float *x, void *vy, int64_t n)
{
  block_q5_0 *y = vy;
  const int64_t nb = n / QK5_0;
  float w[QK5_0];
  int8_t L[QK5_0];
  uniform_weights (QK5_0, w);
  for (int64_t i = 0; i < nb; i++, x += QK5_0) {
    y[i].d = prima_fp32_to_fp16 (fit_symmetric (QK5_0, x, w, 16, 15, L));
    const float d = prima_fp16_to_fp32 (y[i].d);
    uint32_t qh = 0;
    for (int j = 0; j < QK5_0; j++) {
      const int l = d != 0.0f ? MAX_I (-16, MIN_I (15, nearest_int (x[j] / d))) : 0;
      L[j] = (int8_t) (l + 16);
      qh |= (uint32_t) ((L[j] >> 4) & 1) << j;
    }
    for (int j = 0; j < QK5_0 / 2; j++)
      y[i].qs[j] = (uint8_t) ((L[j] & 0xF) | ((L[j + QK5_0 / 2] & 0xF) << 4));
    memcpy (y[i].qh, &qh, sizeof qh);
  }
}

/* Q4_1 / Q5_1: value = d * l + m, the min stored as is (any sign). */
static void
quantize_affine_32 (const float *x, prima_fp16 *d_out, prima_fp16 *m_out, uint8_t *L, int nmax)
{
  float w[32], m;
  uniform_weights (32, w);
  const float s = fit_affine (32, x, w, nmax, FALSE, L, &m);
  *d_out = prima_fp32_to_fp16 (s);
  *m_out = prima_fp32_to_fp16 (m);
  const float d = prima_fp16_to_fp32 (*d_out), mm = prima_fp16_to_fp32 (*m_out);
  for (int j = 0; j < 32; j++) {
    const int l = d != 0.0f ? nearest_int ((x[j] - mm) / d) : 0;
    L[j] = (uint8_t) MAX_I (0, MIN_I (nmax, l));
  }
}

void
quantize_row_q4_1_ref (const float *x, void *vy, int64_t n)
{
  block_q4_1 *y = vy;
  const int64_t nb = n / QK4_1;
  uint8_t L[QK4_1];
  for (int64_t i = 0; i < nb; i++, x += QK4_1) {
    quantize_affine_32 (x, &y[i].d, &y[i].m, L, 15);
    for (int j = 0; j < QK4_1 / 2; j++)
      y[i].qs[j] = (uint8_t) (L[j] | (L[j + QK4_1 / 2] << 4));
  }
}

void
quantize_row_q5_1_ref (const float *x, void *vy, int64_t n)
{
  block_q5_1 *y = vy;
  const int64_t nb = n / QK5_1;
  uint8_t L[QK5_1];
  for (int64_t i = 0; i < nb; i++, x += QK5_1) {
    uint32_t qh = 0;
    quantize_affine_32 (x, &y[i].d, &y[i].m, L, 31);
    for (int j = 0; j < QK5_1; j++)
      qh |= (uint32_t) ((L[j] >> 4) & 1) << j;
    for (int j = 0; j < QK5_1 / 2; j++)
      y[i].qs[j] = (uint8_t) ((L[j] & 0xF) | ((L[j + QK5_1 / 2] & 0xF) << 4));
    memcpy (y[i].qh, &qh, sizeof qh);
  }
}

/* Quantize nonnegative sub-block values v[0..n) to integers in [0, nmax]
 * with one float step, least squares on the weights sw; returns the step. */
static float
fit_levels (int n, const float *v, const float *sw, int nmax, uint8_t *L)
{
  float max = 0;
  for (int i = 0; i < n; i++)
    max = v[i] > max ? v[i] : max;
  if (max <= 0) {
    memset (L, 0, (size_t) n);
    return 0.0f;
  }
  float best_s = max / nmax;
  double best_err = -1;
  for (int k = -6; k <= 4; k++) {
    const float s = max / (nmax + 0.1f * k);
    double err = 0;
    for (int i = 0; i < n; i++) {
      const int l = MAX_I (0, MIN_I (nmax, nearest_int (v[i] / s)));
      const double e = s * l - v[i];
      err += sw[i] * e * e;
    }
    if (best_err < 0 || err < best_err) {
      best_err = err;
      best_s = s;
    }
  }
  for (int i = 0; i < n; i++)
    L[i] = (uint8_t) MAX_I (0, MIN_I (nmax, nearest_int (v[i] / best_s)));
  return best_s;
}

/* Shared by Q4_K and Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins.
 * Fills d, dmin, the packed scales and the final levels L[256]. */
static void
quantize_k4_superblock (const float *x, int nmax, prima_fp16 *d_out, prima_fp16 *dmin_out,
    uint8_t *packed, uint8_t *L)
{
  float scales[8], mins[8], sw[8], w[32];
  uint8_t Ls[8], Lm[8];
  for (int j = 0; j < 8; j++) {
    float m;
    default_weights (32, x + 32 * j, w);
    sw[j] = 0;
    for (int l = 0; l < 32; l++)
      sw[j] += w[l];
    scales[j] = fit_affine (32, x + 32 * j, w, nmax, TRUE, L + 32 * j, &m);
    mins[j] = -m;
  }
  const float ds = fit_levels (8, scales, sw, 63, Ls);
  const float dm = fit_levels (8, mins, sw, 63, Lm);
  memset (packed, 0, K_SCALE_SIZE);
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      packed[j] = Ls[j];
      packed[j + 4] = Lm[j];
    } else {
      packed[j + 4] = (uint8_t) ((Ls[j] & 0xF) | ((Lm[j] & 0xF) << 4));
      packed[j - 4] |= (uint8_t) ((Ls[j] >> 4) << 6);
      packed[j] |= (uint8_t) ((Lm[j] >> 4) << 6);
    }
  }
  *d_out = prima_fp32_to_fp16 (ds);
  *dmin_out = prima_fp32_to_fp16 (dm);
  /* requantize against the scales as they will be decoded */
  const float d = prima_fp16_to_fp32 (*d_out), dmin = prima_fp16_to_fp32 (*dmin_out);
  for (int j = 0; j < 8; j++) {
    uint8_t sc, m;
    k4_scale_min (j, packed, &sc, &m);
    const float dl = d * sc, ml = dmin * m;
    for (int l = 0; l < 32; l++) {
      const int q = dl != 0.0f ? nearest_int ((x[32 * j + l] + ml) / dl) : 0;
      L[32 * j + l] = (uint8_t) MAX_I (0, MIN_I (nmax, q));
    }
  }
}

void
quantize_row_q4_K_ref (const float *x, void *vy, int64_t n)
{
  block_q4_K *y = vy;
  const int64_t nb = n / QK_K;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    quantize_k4_superblock (x, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 32; l++)
        y[i].qs[32 * j + l] = (uint8_t) (L[64 * j + l] | (L[64 * j + 32 + l] << 4));
  }
}

void
quantize_row_q5_K_ref (const float *x, void *vy, int64_t n)
{
  block_q5_K *y = vy;
  const int64_t nb = n / QK_K;
  uint8_t L[QK_K];
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    quantize_k4_superblock (x, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
    memset (y[i].qh, 0, sizeof y[i].qh);
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 32; l++) {
        const int a = L[64 * j + l], b = L[64 * j + 32 + l];
        y[i].qs[32 * j + l] = (uint8_t) ((a & 0xF) | ((b & 0xF) << 4));
        y[i].qh[l] |= (uint8_t) (((a >> 4) << (2 * j)) | ((b >> 4) << (2 * j + 1)));
      }
  }
}

void
quantize_row_q2_K_ref (const float *x, void *vy, int64_t n)
{
  block_q2_K *y = vy;
  const int64_t nb = n / QK_K;
  uint8_t L[QK_K], Ls[16], Lm[16];
  float scales[16], mins[16], sw[16], w[16];
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    for (int j = 0; j < 16; j++) {
      float m;
      default_weights (16, x + 16 * j, w);
      sw[j] = 0;
      for (int l = 0; l < 16; l++)
        sw[j] += w[l];
      scales[j] = fit_affine (16, x + 16 * j, w, 3, TRUE, L + 16 * j, &m);
      mins[j] = -m;
    }
    const float ds = fit_levels (16, scales, sw, 15, Ls);
    const float dm = fit_levels (16, mins, sw, 15, Lm);
    for (int j = 0; j < 16; j++)
      y[i].scales[j] = (uint8_t) (Ls[j] | (Lm[j] << 4));
    y[i].d = prima_fp32_to_fp16 (ds);
    y[i].dmin = prima_fp32_to_fp16 (dm);
    const float d = prima_fp16_to_fp32 (y[i].d), dmin = prima_fp16_to_fp32 (y[i].dmin);
    for (int j = 0; j < 16; j++) {
      const float dl = d * (y[i].scales[j] & 0xF), ml = dmin * (y[i].scales[j] >> 4);
      for (int l = 0; l < 16; l++) {
        const int q = dl != 0.0f ? nearest_int ((x[16 * j + l] + ml) / dl) : 0;
        L[16 * j + l] = (uint8_t) MAX_I (0, MIN_I (3, q));
      }
    }
    /* element 128h + 32k + l sits at bits 2k of byte 32h + l */
    for (int h = 0; h < 2; h++)
      for (int l = 0; l < 32; l++)
        y[i].qs[32 * h + l] = (uint8_t) (L[128 * h + l] | (L[128 * h + 32 + l] << 2)
            | (L[128 * h + 64 + l] << 4) | (L[128 * h + 96 + l] << 6));
  }
}

/* Fit signed per-16 scales to a signed integer grid with one fp16 step:
 * the scale of largest magnitude maps to -lo_end (the longer end). Returns
 * the fp16 step; writes the integer scales. */
static prima_fp16
fit_signed_scales (const float *scales, int n, int lo_end, int hi_end, int *out)
{
  float amax = 0, max = 0;
  for (int j = 0; j < n; j++)
    if (fabsf (scales[j]) > amax) {
      amax = fabsf (scales[j]);
      max = scales[j];
    }
  if (amax == 0) {
    for (int j = 0; j < n; j++)
      out[j] = 0;
    return prima_fp32_to_fp16 (0.0f);
  }
  const float iscale = -(float) lo_end / max;
  for (int j = 0; j < n; j++)
    out[j] = MAX_I (-lo_end, MIN_I (hi_end, nearest_int (iscale * scales[j])));
  return prima_fp32_to_fp16 (1 / iscale);
}

void
quantize_row_q3_K_ref (const float *x, void *vy, int64_t n)
{
  block_q3_K *y = vy;
  const int64_t nb = n / QK_K;
  int8_t Lq[16];
  uint8_t L[QK_K];
  float scales[16], w[16];
  int isc[16];
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    for (int j = 0; j < 16; j++) {
      default_weights (16, x + 16 * j, w);
      scales[j] = fit_symmetric (16, x + 16 * j, w, 4, 3, Lq);
    }
    y[i].d = fit_signed_scales (scales, 16, 32, 31, isc);
    memset (y[i].scales, 0, sizeof y[i].scales);
    for (int j = 0; j < 16; j++) {
      const int l = isc[j] + 32;
      if (j < 8)
        y[i].scales[j] = (uint8_t) (l & 0xF);
      else
        y[i].scales[j - 8] |= (uint8_t) ((l & 0xF) << 4);
      y[i].scales[8 + j % 4] |= (uint8_t) ((l >> 4) << (2 * (j / 4)));
    }
    const float d = prima_fp16_to_fp32 (y[i].d);
    for (int j = 0; j < 16; j++) {
      const float dl = d * isc[j];
      for (int l = 0; l < 16; l++) {
        const int q = dl != 0.0f ? nearest_int (x[16 * j + l] / dl) : 0;
        L[16 * j + l] = (uint8_t) (MAX_I (-4, MIN_I (3, q)) + 4);
      }
    }
    /* high bit of element 128h + 32k + l: bit 4h + k of hmask[l] */
    memset (y[i].hmask, 0, sizeof y[i].hmask);
    for (int e = 0; e < QK_K; e++)
      if (L[e] > 3) {
        y[i].hmask[e % 32] |= (uint8_t) (1 << (e / 32));
        L[e] -= 4;
      }
    for (int h = 0; h < 2; h++)
      for (int l = 0; l < 32; l++)
        y[i].qs[32 * h + l] = (uint8_t) (L[128 * h + l] | (L[128 * h + 32 + l] << 2)
            | (L[128 * h + 64 + l] << 4) | (L[128 * h + 96 + l] << 6));
  }
}

void
quantize_row_q6_K_ref (const float *x, void *vy, int64_t n)
{
  block_q6_K *y = vy;
  const int64_t nb = n / QK_K;
  int8_t Lq[16];
  uint8_t L[QK_K];
  float scales[16], w[16];
  int isc[16];
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    for (int j = 0; j < 16; j++) {
      default_weights (16, x + 16 * j, w);
      scales[j] = fit_symmetric (16, x + 16 * j, w, 32, 31, Lq);
    }
    y[i].d = fit_signed_scales (scales, 16, 128, 127, isc);
    for (int j = 0; j < 16; j++)
      y[i].scales[j] = (int8_t) isc[j];
    const float d = prima_fp16_to_fp32 (y[i].d);
    for (int j = 0; j < 16; j++) {
      const float dl = d * isc[j];
      for (int l = 0; l < 16; l++) {
        const int q = dl != 0.0f ? nearest_int (x[16 * j + l] / dl) : 0;
        L[16 * j + l] = (uint8_t) (MAX_I (-32, MIN_I (31, q)) + 32);
      }
    }
    for (int h = 0; h < 2; h++) {
      uint8_t *ql = y[i].ql + 64 * h, *qh = y[i].qh + 32 * h;
      const uint8_t *Lh = L + 128 * h;
      for (int l = 0; l < 32; l++) {
        ql[l] = (uint8_t) ((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
        ql[l + 32] = (uint8_t) ((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
        qh[l] = (uint8_t) ((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2)
            | ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
}

/* ---------------------------------------------------------------------
 * Dot products: integer sums per block, scaled per block
 * --------------------------------------------------------------------- */

void
vec_dot_q4_0_q8_0_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_0 *x = vx;
  const block_q8_0 *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK8_0; i++) {
    int isum = 0;
    for (int j = 0; j < QK8_0 / 2; j++) {
      isum += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j];
      isum += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + QK8_0 / 2];
    }
    sum += prima_fp16_to_fp32 (x[i].d) * prima_fp16_to_fp32 (y[i].d) * (float) isum;
  }
  *s = sum;
}

void
vec_dot_q4_1_q8_1_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_1 *x = vx;
  const block_q8_1 *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK8_1; i++) {
    int isum = 0;
    for (int j = 0; j < QK8_1 / 2; j++) {
      isum += (x[i].qs[j] & 0xF) * y[i].qs[j];
      isum += (x[i].qs[j] >> 4) * y[i].qs[j + QK8_1 / 2];
    }
    /* the min times the activation sum, which q8_1 carries as s = d * sum */
    sum += prima_fp16_to_fp32 (x[i].d) * prima_fp16_to_fp32 (y[i].d) * (float) isum
        + prima_fp16_to_fp32 (x[i].m) * prima_fp16_to_fp32 (y[i].s);
  }
  *s = sum;
}

void
vec_dot_q5_0_q8_0_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q5_0 *x = vx;
  const block_q8_0 *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK8_0; i++) {
    uint32_t qh;
    int isum = 0;
    memcpy (&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < QK8_0 / 2; j++) {
      const int v0 = ((x[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - 16;
      const int v1 = ((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
      isum += v0 * y[i].qs[j] + v1 * y[i].qs[j + QK8_0 / 2];
    }
    sum += prima_fp16_to_fp32 (x[i].d) * prima_fp16_to_fp32 (y[i].d) * (float) isum;
  }
  *s = sum;
}

void
vec_dot_q5_1_q8_1_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q5_1 *x = vx;
  const block_q8_1 *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK8_1; i++) {
    uint32_t qh;
    int isum = 0;
    memcpy (&qh, x[i].qh, sizeof qh);
    for (int j = 0; j < QK8_1 / 2; j++) {
      const int v0 = (x[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4);
      const int v1 = (x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      isum += v0 * y[i].qs[j] + v1 * y[i].qs[j + QK8_1 / 2];
    }
    sum += prima_fp16_to_fp32 (x[i].d) * prima_fp16_to_fp32 (y[i].d) * (float) isum
        + prima_fp16_to_fp32 (x[i].m) * prima_fp16_to_fp32 (y[i].s);
  }
  *s = sum;
}

void
vec_dot_q8_0_q8_0_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q8_0 *x = vx;
  const block_q8_0 *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK8_0; i++) {
    int isum = 0;
    for (int j = 0; j < QK8_0; j++)
      isum += x[i].qs[j] * y[i].qs[j];
    sum += prima_fp16_to_fp32 (x[i].d) * prima_fp16_to_fp32 (y[i].d) * (float) isum;
  }
  *s = sum;
}

/* The K-quant dot products unpack one super-block into signed levels and
 * per-16 integer scales, so the arithmetic is plain and obviously right. */
void
vec_dot_q2_K_q8_K_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q2_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    int isum = 0, msum = 0;
    for (int e = 0; e < QK_K; e++) {
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      const int q = (x[i].qs[32 * h + l] >> (2 * k)) & 3;
      isum += (x[i].scales[e / 16] & 0xF) * q * y[i].qs[e];
    }
    for (int g = 0; g < 16; g++)
      msum += (x[i].scales[g] >> 4) * y[i].bsums[g];
    sum += y[i].d * prima_fp16_to_fp32 (x[i].d) * (float) isum
        - y[i].d * prima_fp16_to_fp32 (x[i].dmin) * (float) msum;
  }
  *s = sum;
}

void
vec_dot_q3_K_q8_K_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q3_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    int8_t sc[16];
    int isum = 0;
    q3_k_unpack_scales (x[i].scales, sc);
    for (int e = 0; e < QK_K; e++) {
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      const int q = ((x[i].qs[32 * h + l] >> (2 * k)) & 3)
          - ((x[i].hmask[l] >> (4 * h + k)) & 1 ? 0 : 4);
      isum += (sc[e / 16] - 32) * q * y[i].qs[e];
    }
    sum += y[i].d * prima_fp16_to_fp32 (x[i].d) * (float) isum;
  }
  *s = sum;
}

/* One Q4_K block against activations q8 (levels in order when x_layout is
 * FALSE, in Q8_K_X order when TRUE) with their sums per 32 levels: the
 * scale-weighted sum and the min-weighted sum, both exact integers. */
static void
q4_K_block_sums (const block_q4_K *x, const int8_t *q8, gboolean x_layout, const int *sums32, int *isum, int *msum)
{
  *isum = *msum = 0;
  for (int j = 0; j < 8; j++) {
    uint8_t sc, m;
    int sub = 0;
    k4_scale_min (j, x->scales, &sc, &m);
    for (int l = 0; l < 32; l++) {
      const uint8_t b = x->qs[32 * (j / 2) + l];
      const int e = 32 * j + l;
      sub += ((j & 1) ? b >> 4 : b & 0xF) * q8[x_layout ? q8_K_x_index (e) : e];
    }
    *isum += sc * sub;
    *msum += m * sums32[j];
  }
}

static float
q4_K_block_value (const block_q4_K *x, float yd, int isum, int msum)
{
  return yd * prima_fp16_to_fp32 (x->d) * (float) isum - yd * prima_fp16_to_fp32 (x->dmin) * (float) msum;
}

void
vec_dot_q4_K_q8_K_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    int sums32[8], isum, msum;
    for (int j = 0; j < 8; j++)
      sums32[j] = y[i].bsums[2 * j] + y[i].bsums[2 * j + 1];
    q4_K_block_sums (&x[i], y[i].qs, FALSE, sums32, &isum, &msum);
    sum += q4_K_block_value (&x[i], y[i].d, isum, msum);
  }
  *s = sum;
}

/* The same sum over the reordered activations (the reference for the
 * AVX-512 kernel, which reads Q8_K_X). */
void
vec_dot_q4_K_q8_K_x_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q4_K *x = vx;
  const block_q8_K_x *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    int sums32[8], isum, msum;
    for (int j = 0; j < 8; j++)
      sums32[j] = y[i].bsums32[j];
    q4_K_block_sums (&x[i], y[i].qs, TRUE, sums32, &isum, &msum);
    sum += q4_K_block_value (&x[i], y[i].d, isum, msum);
  }
  *s = sum;
}

void
vec_dot_q5_K_q8_K_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q5_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    int isum = 0, msum = 0;
    for (int j = 0; j < 8; j++) {
      uint8_t sc, m;
      int sub = 0;
      k4_scale_min (j, x[i].scales, &sc, &m);
      for (int l = 0; l < 32; l++) {
        const uint8_t b = x[i].qs[32 * (j / 2) + l];
        const int q = ((j & 1) ? b >> 4 : b & 0xF) | (((x[i].qh[l] >> j) & 1) << 4);
        sub += q * y[i].qs[32 * j + l];
      }
      isum += sc * sub;
      msum += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    sum += y[i].d * prima_fp16_to_fp32 (x[i].d) * (float) isum
        - y[i].d * prima_fp16_to_fp32 (x[i].dmin) * (float) msum;
  }
  *s = sum;
}

void
vec_dot_q6_K_q8_K_ref (int n, float *s, const void *vx, const void *vy)
{
  const block_q6_K *x = vx;
  const block_q8_K *y = vy;
  float sum = 0;
  for (int i = 0; i < n / QK_K; i++) {
    int isum = 0;
    for (int e = 0; e < QK_K; e++) {
      /* element 128h + 32k + l: nibble k/2 of ql[64h + 32(k%2) + l], bits 2k of qh[32h + l] */
      const int h = e / 128, k = (e % 128) / 32, l = e % 32;
      const uint8_t b = x[i].ql[64 * h + 32 * (k & 1) + l];
      const int lo = (k >> 1) ? b >> 4 : b & 0xF;
      const int hi = (x[i].qh[32 * h + l] >> (2 * k)) & 3;
      isum += x[i].scales[e / 16] * ((lo | (hi << 4)) - 32) * y[i].qs[e];
    }
    sum += y[i].d * prima_fp16_to_fp32 (x[i].d) * (float) isum;
  }
  *s = sum;
}

/* ---------------------------------------------------------------------
 * Registration
 * --------------------------------------------------------------------- */

static void
set (prima_type_traits *t, prima_type vec_dot_type, prima_to_float_fn to_float,
    prima_from_float_fn from_float, prima_vec_dot_fn vec_dot)
{
  t->vec_dot_type = vec_dot_type;
  t->to_float = to_float;
  t->from_float = from_float;
  t->vec_dot = vec_dot;
}

void
prima_quants_ref_register (prima_type_traits *table)
{
  set (&table[PRIMA_TYPE_F32], PRIMA_TYPE_F32, dequantize_row_f32, quantize_row_f32_ref,
      vec_dot_f32_f32_ref);
  set (&table[PRIMA_TYPE_F16], PRIMA_TYPE_F16, dequantize_row_f16, quantize_row_f16_ref,
      vec_dot_f16_f16_ref);
  set (&table[PRIMA_TYPE_BF16], PRIMA_TYPE_BF16, dequantize_row_bf16, quantize_row_bf16_ref,
      vec_dot_bf16_bf16_ref);
  set (&table[PRIMA_TYPE_Q4_0], PRIMA_TYPE_Q8_0, dequantize_row_q4_0, quantize_row_q4_0_ref,
      vec_dot_q4_0_q8_0_ref);
  set (&table[PRIMA_TYPE_Q4_1], PRIMA_TYPE_Q8_1, dequantize_row_q4_1, quantize_row_q4_1_ref,
      vec_dot_q4_1_q8_1_ref);
  set (&table[PRIMA_TYPE_Q5_0], PRIMA_TYPE_Q8_0, dequantize_row_q5_0, quantize_row_q5_0_ref,
      vec_dot_q5_0_q8_0_ref);
  set (&table[PRIMA_TYPE_Q5_1], PRIMA_TYPE_Q8_1, dequantize_row_q5_1, quantize_row_q5_1_ref,
      vec_dot_q5_1_q8_1_ref);
  set (&table[PRIMA_TYPE_Q8_0], PRIMA_TYPE_Q8_0, dequantize_row_q8_0, quantize_row_q8_0_ref,
      vec_dot_q8_0_q8_0_ref);
  /* activation-only types: no dot product of their own */
  set (&table[PRIMA_TYPE_Q8_1], PRIMA_TYPE_Q8_1, dequantize_row_q8_1, quantize_row_q8_1_ref, NULL);
  set (&table[PRIMA_TYPE_Q8_K], PRIMA_TYPE_Q8_K, dequantize_row_q8_K, quantize_row_q8_K_ref, NULL);
  set (&table[PRIMA_TYPE_Q8_K_X], PRIMA_TYPE_Q8_K_X, dequantize_row_q8_K_x, quantize_row_q8_K_x_ref, NULL);
  set (&table[PRIMA_TYPE_Q2_K], PRIMA_TYPE_Q8_K, dequantize_row_q2_K, quantize_row_q2_K_ref,
      vec_dot_q2_K_q8_K_ref);
  set (&table[PRIMA_TYPE_Q3_K], PRIMA_TYPE_Q8_K, dequantize_row_q3_K, quantize_row_q3_K_ref,
      vec_dot_q3_K_q8_K_ref);
  set (&table[PRIMA_TYPE_Q4_K], PRIMA_TYPE_Q8_K, dequantize_row_q4_K, quantize_row_q4_K_ref,
      vec_dot_q4_K_q8_K_ref);
  set (&table[PRIMA_TYPE_Q5_K], PRIMA_TYPE_Q8_K, dequantize_row_q5_K, quantize_row_q5_K_ref,
      vec_dot_q5_K_q8_K_ref);
  set (&table[PRIMA_TYPE_Q6_K], PRIMA_TYPE_Q8_K, dequantize_row_q6_K, quantize_row_q6_K_ref,
      vec_dot_q6_K_q8_K_ref);
}
