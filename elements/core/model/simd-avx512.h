/* gst-prima: AVX-512 helpers shared by quants-avx512.c, quants-iq-avx512.c and
 * gemm-avx512.c (the tile kernels must compute the very bits of the vec_dots,
 * so they use the same helpers). Include only from files compiled with the
 * AVX-512 flags (elements/core/model/meson.build).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#ifndef PRIMA_SIMD_AVX512_H
#define PRIMA_SIMD_AVX512_H

#include "quants.h"

#include <immintrin.h>
#include <stdint.h>

static inline float
fp16 (prima_fp16 h)
{
  return _cvtsh_ss (h);
}

static inline float
hsum256_ps (__m256 v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_movehdup_ps (s));
  return _mm_cvtss_f32 (s);
}

static inline __m256i
nibbles_32 (const uint8_t *p)
{
  const __m128i t = _mm_loadu_si128 ((const __m128i *) p);
  const __m256i b = _mm256_set_m128i (_mm_srli_epi16 (t, 4), t);
  return _mm256_and_si256 (b, _mm256_set1_epi8 (0x0F));
}

/* signed x signed bytes -> 8 int32: vpdpbusd wants unsigned x signed, so
 * move x's sign onto y */
static inline __m256i
dot_i8_vnni (__m256i x, __m256i y)
{
  return _mm256_dpbusd_epi32 (_mm256_setzero_si256 (), _mm256_abs_epi8 (x), _mm256_sign_epi8 (y, x));
}

/* permutexvar index: float k in the low half, k + 1 in the high half */
static inline __m512i
pair_index (int k)
{
  return _mm512_inserti64x4 (_mm512_castsi256_si512 (_mm256_set1_epi32 (k)), _mm256_set1_epi32 (k + 1), 1);
}

static inline __m512i
load_2x32 (const int8_t *a, const int8_t *b)
{
  return _mm512_inserti64x4 (_mm512_castsi256_si512 (_mm256_loadu_si256 ((const __m256i *) a)),
      _mm256_loadu_si256 ((const __m256i *) b), 1);
}

/* The 12-byte scale/min field of Q4_K / Q5_K decoded in SIMD (same result as
 * k4_scale_min in quants-ref.c): bytes 0..7 the scales, 8..15 the mins.
 * Reads 16 bytes; the 4 past the field are the block's first quants. With
 * the field as words w0 w1 w2: scales 0-3 = w0 & 0x3f.., mins 0-3 =
 * w1 & 0x3f.., scales 4-7 = (w2 & 0x0f..) | top bits of w0 << 4, mins 4-7 =
 * (w2 >> 4 & 0x0f..) | top bits of w1 << 4. */
static inline __m128i
k4_scales_mins (const uint8_t *packed)
{
  const __m128i v = _mm_loadu_si128 ((const __m128i *) packed);
  const __m128i a = _mm_srlv_epi32 (_mm_shuffle_epi32 (v, _MM_SHUFFLE (2, 1, 2, 0)),
      _mm_setr_epi32 (0, 0, 0, 4));
  const __m128i lo = _mm_and_si128 (a, _mm_setr_epi32 (0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
  const __m128i b = _mm_srli_epi32 (_mm_shuffle_epi32 (v, _MM_SHUFFLE (1, 1, 0, 0)), 2);
  /* (b & mask) | lo */
  return _mm_ternarylogic_epi32 (b, _mm_setr_epi32 (0, 0x30303030, 0, 0x30303030), lo, 0xEA);
}

/* pshufb control: word a of the lane in 128-bit lanes 0-1, word b in 2-3 */
static inline __m512i
word_halves_ctrl (int a, int b)
{
  const __m256i lo = _mm256_set1_epi16 ((short) ((2 * a) | ((2 * a + 1) << 8)));
  const __m256i hi = _mm256_set1_epi16 ((short) ((2 * b) | ((2 * b + 1) << 8)));
  return _mm512_inserti64x4 (_mm512_castsi256_si512 (lo), hi, 1);
}

/* vpermw indices spreading 16 per-16 scales over the maddubs products of
 * 64 elements: 128-bit lane i of vector k takes the scale of group 4k + i */
static inline void
group_scale_index (__m512i idx[4])
{
  for (int k = 0; k < 4; k++)
    idx[k] = _mm512_inserti64x4 (_mm512_castsi256_si512 (_mm256_set_m128i (_mm_set1_epi16 ((short) (4 * k + 1)),
                _mm_set1_epi16 ((short) (4 * k)))),
        _mm256_set_m128i (_mm_set1_epi16 ((short) (4 * k + 3)), _mm_set1_epi16 ((short) (4 * k + 2))), 1);
}

/* 16 bytes a and 16 bytes b -> [a, a, b, b] in 128-bit lanes. */
static inline __m512i
dup_lanes (const uint8_t *a, const uint8_t *b)
{
  __m256i va = _mm256_broadcastsi128_si256 (_mm_loadu_si128 ((const __m128i *) a));
  __m256i vb = _mm256_broadcastsi128_si256 (_mm_loadu_si128 ((const __m128i *) b));
  return _mm512_inserti64x4 (_mm512_castsi256_si512 (va), vb, 1);
}

/* Nibbles of two 16-byte groups -> their 64 levels: per group, low nibbles
 * (elements 0..15) then high nibbles (16..31). */
static inline __m512i
iq4_levels (__m512i table, const uint8_t *a, const uint8_t *b)
{
  const __m512i shift = _mm512_set_epi64 (4, 4, 0, 0, 4, 4, 0, 0);
  __m512i idx = _mm512_and_si512 (_mm512_srlv_epi64 (dup_lanes (a, b), shift), _mm512_set1_epi8 (0x0f));
  return _mm512_shuffle_epi8 (table, idx);
}

/* [lo x 16 words, hi x 16 words] */
static inline __m512i
two_scales16 (int lo, int hi)
{
  return _mm512_inserti64x4 (_mm512_castsi256_si512 (_mm256_set1_epi16 ((short) lo)),
      _mm256_set1_epi16 ((short) hi), 1);
}

#endif /* PRIMA_SIMD_AVX512_H */
