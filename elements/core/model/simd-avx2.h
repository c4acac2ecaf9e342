/* gst-prima: AVX2 helpers shared by quants-avx2.c, quants-iq-avx2.c and
 * gemm-avx2.c (the tile kernels must compute the very bits of the vec_dots,
 * so they use the same helpers). Include only from files compiled with the
 * AVX2 flags (elements/core/model/meson.build).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef PRIMA_SIMD_AVX2_H
#define PRIMA_SIMD_AVX2_H

#include "quants.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

static inline float
hsum_ps (__m256 v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

static inline float
fp16 (prima_fp16 h)
{
  return _cvtsh_ss (h);
}

/* Unpack the 12-byte scale/min field of Q4_K / Q5_K into 8 scales (bytes
 * 0..7) and 8 mins (bytes 8..15); see k4_scale_min in quants-ref.c. */
static inline __m128i
k4_scales_mins (const uint8_t *packed)
{
  uint32_t w[3];
  memcpy (w, packed, sizeof w);
  const uint32_t sc_lo = w[0] & 0x3f3f3f3f;
  const uint32_t mn_lo = w[1] & 0x3f3f3f3f;
  const uint32_t sc_hi = (w[2] & 0x0f0f0f0f) | (((w[0] >> 6) & 0x03030303) << 4);
  const uint32_t mn_hi = ((w[2] >> 4) & 0x0f0f0f0f) | (((w[1] >> 6) & 0x03030303) << 4);
  return _mm_set_epi32 ((int) mn_hi, (int) mn_lo, (int) sc_hi, (int) sc_lo);
}

/* pshufb control broadcasting 16-bit word w of each 128-bit lane */
static inline __m256i
word_bcast_ctrl (int w)
{
  return _mm256_set1_epi16 ((short) ((2 * w) | ((2 * w + 1) << 8)));
}

/* pshufb control putting word a in every word of the low lane, b of the high */
static inline __m256i
word_pair_ctrl (int a, int b)
{
  const __m128i lo = _mm_set1_epi16 ((short) ((2 * a) | ((2 * a + 1) << 8)));
  const __m128i hi = _mm_set1_epi16 ((short) ((2 * b) | ((2 * b + 1) << 8)));
  return _mm256_set_m128i (hi, lo);
}

/* Per-16 signed scales as words, in the shape a 32-element maddubs product
 * wants: vector k has scale 2k in its low lane and 2k+1 in its high lane. */
static inline void
scales16_pairs (__m256i sc16, __m256i out[8])
{
  const __m256i lo = _mm256_permute2x128_si256 (sc16, sc16, 0x00);
  const __m256i hi = _mm256_permute2x128_si256 (sc16, sc16, 0x11);
  for (int k = 0; k < 4; k++) {
    const __m256i ctrl = word_pair_ctrl (2 * k, 2 * k + 1);
    out[k] = _mm256_shuffle_epi8 (lo, ctrl);
    out[k + 4] = _mm256_shuffle_epi8 (hi, ctrl);
  }
}

#endif /* PRIMA_SIMD_AVX2_H */
