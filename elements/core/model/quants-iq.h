/* gst-prima: block layouts of the IQ ("importance") quantized types and their
 * lookup grids (bit-exact with the GGUF format).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "quants.h"

#define QK4_NL 32
typedef struct {
  prima_fp16 d;
  uint8_t qs[QK4_NL / 2];       /* indices into the non-linear value table */
} block_iq4_nl;
_Static_assert (sizeof (block_iq4_nl) == 18, "wrong iq4_nl block size");

typedef struct {
  prima_fp16 d;
  uint16_t scales_h;
  uint8_t scales_l[QK_K / 64];
  uint8_t qs[QK_K / 2];
} block_iq4_xs;
_Static_assert (sizeof (block_iq4_xs) == 136, "wrong iq4_xs block size");

typedef struct {
  prima_fp16 d;
  uint16_t qs[QK_K / 8];
} block_iq2_xxs;
_Static_assert (sizeof (block_iq2_xxs) == 66, "wrong iq2_xxs block size");

typedef struct {
  prima_fp16 d;
  uint8_t qs[QK_K / 8];
  uint16_t qh[QK_K / 32];
} block_iq1_s;
_Static_assert (sizeof (block_iq1_s) == 50, "wrong iq1_s block size");

/* IQ1_M has no separate fp16 scale: it is spread over the top nibbles of scales. */
typedef struct {
  uint8_t qs[QK_K / 8];
  uint8_t qh[QK_K / 16];
  uint8_t scales[QK_K / 32];
} block_iq1_m;
_Static_assert (sizeof (block_iq1_m) == 56, "wrong iq1_m block size");

/* Lookup tables (iq-grids.c). Grid entries hold 8 bytes, element j in byte j
 * (little-endian order of the uint64). */
#define IQ1S_DELTA 0.125f
#define IQ1M_DELTA 0.125f
#define IQ1S_GRID_SIZE 2048
extern const int8_t kvalues_iq4nl[16];
extern const uint8_t kmask_iq2xs[8];
extern const uint8_t ksigns_iq2xs[128];
extern const uint64_t iq2xxs_grid[256];
extern const uint64_t iq1s_grid[IQ1S_GRID_SIZE];

/* Scalar kernels (quants-iq-ref.c). Dequantization is bit-exact with ggml. */
void dequantize_row_iq4_nl (const block_iq4_nl *x, float *y, int64_t n);
void dequantize_row_iq4_xs (const block_iq4_xs *x, float *y, int64_t n);
void dequantize_row_iq2_xxs (const block_iq2_xxs *x, float *y, int64_t n);
void dequantize_row_iq1_s (const block_iq1_s *x, float *y, int64_t n);
void dequantize_row_iq1_m (const block_iq1_m *x, float *y, int64_t n);

void quantize_row_iq4_nl_ref (const float *x, block_iq4_nl *y, int64_t n);
void quantize_row_iq4_xs_ref (const float *x, block_iq4_xs *y, int64_t n);

/* x: row of the IQ type; y: row of block_q8_0 (IQ4_NL) or block_q8_K (others). */
void vec_dot_iq4_nl_q8_0_ref (int n, float *s, const void *x, const void *y);
void vec_dot_iq4_xs_q8_K_ref (int n, float *s, const void *x, const void *y);
void vec_dot_iq2_xxs_q8_K_ref (int n, float *s, const void *x, const void *y);
void vec_dot_iq1_s_q8_K_ref (int n, float *s, const void *x, const void *y);
void vec_dot_iq1_m_q8_K_ref (int n, float *s, const void *x, const void *y);

/* The fp16 scale of an IQ1_M block: its 4 nibbles are the top nibbles of the
 * four 16-bit words of scales[]. */
static inline prima_fp16
iq1m_block_scale (const block_iq1_m *b)
{
  uint16_t sc[4];
  memcpy (sc, b->scales, sizeof sc);
  return (prima_fp16) ((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
}
