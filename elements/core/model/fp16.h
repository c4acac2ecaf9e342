/* gst-prima: IEEE half and bfloat16 conversions (scalar, exact).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stdint.h>
#include <string.h>

typedef uint16_t prima_fp16;
typedef uint16_t prima_bf16;

static inline float
prima_fp32_from_bits (uint32_t w)
{
  float f;
  memcpy (&f, &w, sizeof f);
  return f;
}

static inline uint32_t
prima_fp32_to_bits (float f)
{
  uint32_t w;
  memcpy (&w, &f, sizeof w);
  return w;
}

/* Half to float by exponent re-biasing through float multiplication: exact
 * for normals, subnormals, infinities and NaN. */
static inline float
prima_fp16_to_fp32 (prima_fp16 h)
{
  const uint32_t w = (uint32_t) h << 16;
  const uint32_t sign = w & 0x80000000u;
  const uint32_t two_w = w + w;
  const uint32_t exp_offset = 0xE0u << 23;
  const float exp_scale = 0x1.0p-112f;
  const float normalized = prima_fp32_from_bits ((two_w >> 4) + exp_offset) * exp_scale;
  const uint32_t magic_mask = 126u << 23;
  const float magic_bias = 0.5f;
  const float denormalized = prima_fp32_from_bits ((two_w >> 17) | magic_mask) - magic_bias;
  const uint32_t denormalized_cutoff = 1u << 27;
  const uint32_t result = sign |
      (two_w < denormalized_cutoff ? prima_fp32_to_bits (denormalized) : prima_fp32_to_bits (normalized));
  return prima_fp32_from_bits (result);
}

/* Float to half, round to nearest even, as the F16C instruction does. */
static inline prima_fp16
prima_fp32_to_fp16 (float f)
{
  const float scale_to_inf = 0x1.0p+112f;
  const float scale_to_zero = 0x1.0p-110f;
  float base = (f < 0 ? -f : f) * scale_to_inf;
  base *= scale_to_zero;
  const uint32_t w = prima_fp32_to_bits (f);
  const uint32_t shl1_w = w + w;
  const uint32_t sign = w & 0x80000000u;
  uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u)
    bias = 0x71000000u;
  base = prima_fp32_from_bits ((bias >> 1) + 0x07800000u) + base;
  const uint32_t bits = prima_fp32_to_bits (base);
  const uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const uint32_t mantissa_bits = bits & 0x00000FFFu;
  const uint32_t nonsign = exp_bits + mantissa_bits;
  return (prima_fp16) ((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

static inline float
prima_bf16_to_fp32 (prima_bf16 h)
{
  return prima_fp32_from_bits ((uint32_t) h << 16);
}

/* Round to nearest even; NaN stays a quiet NaN (as ggml does). */
static inline prima_bf16
prima_fp32_to_bf16 (float f)
{
  uint32_t u = prima_fp32_to_bits (f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (prima_bf16) ((u >> 16) | 64);
  return (prima_bf16) ((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}
