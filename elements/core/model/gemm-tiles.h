/* gst-prima: the driver the SIMD tile kernels share (gemm-avx2.c, gemm-avx512.c).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * An ISA file writes one ALWAYS_INLINE T_tile (n, x, act, act_stride, out, nt)
 * per type, spells out its fixed-width tiles with GEMM_TILE_FN and calls
 * gemm_tiles from its prima_gemm_fn. No ISA code here.
 */
#ifndef PRIMA_GEMM_TILES_H
#define PRIMA_GEMM_TILES_H

#include <stddef.h>
#include <stdint.h>

/* the most tokens a tile takes */
#define GEMM_TILE_MAX 8

/* one weight row x against the first K tokens of act (K fixed per function) */
typedef void (*gemm_tile_fn) (int n, const void *x, const uint8_t *act, size_t act_stride, float *out);

/* T_tileK: T_tile with nt = K, a compile-time constant */
#define GEMM_TILE_FN(T, K) \
  static void T##_tile##K (int n, const void *x, const uint8_t *a, size_t as, float *o) { T##_tile (n, x, a, as, o, K); }

/* Rows outer, tiles of max_t tokens inner: a weight row stays in L1 while
 * the token tiles sweep it; the caller keeps the token count small enough
 * (a block of tokens) for their activations to stay in L2. tiles[k]: the
 * tile of k tokens, 1 <= k <= max_t <= GEMM_TILE_MAX. */
static inline __attribute__((always_inline)) void
gemm_tiles (const gemm_tile_fn *tiles, int max_t, int n, int n_rows, int n_tok, float *y, size_t y_stride,
    const void *x, size_t x_stride, const void *act, size_t act_stride)
{
  for (int r = 0; r < n_rows; r++) {
    const void *xr = (const uint8_t *) x + (size_t) r * x_stride;
    for (int t0 = 0; t0 < n_tok; t0 += max_t) {
      const int nt = n_tok - t0 < max_t ? n_tok - t0 : max_t;
      float out[GEMM_TILE_MAX];
      tiles[nt] (n, xr, (const uint8_t *) act + (size_t) t0 * act_stride, act_stride, out);
      for (int t = 0; t < nt; t++)
        y[(size_t) (t0 + t) * y_stride + r] = out[t];
    }
  }
}

#endif /* PRIMA_GEMM_TILES_H */
