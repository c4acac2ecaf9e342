/* gst-prima: block layouts of the quantized tensor types (bit-exact with the
 * GGUF format) and the kernels on them.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Naming: dequantize_row_T (one implementation, scalar), quantize_row_T_ref,
 * vec_dot_T_U_ref (scalar reference), vec_dot_T_U_avx2 / _avx512 (same result
 * up to float summation order).
 */
#pragma once

#include <stdint.h>
#include <assert.h>
#include "fp16.h"
#include "tensor-types.h"

#define QK4_0 32
typedef struct {
  prima_fp16 d;                 /* scale */
  uint8_t qs[QK4_0 / 2];        /* nibbles: low = elements 0..15, high = 16..31 */
} block_q4_0;
_Static_assert (sizeof (block_q4_0) == 18, "wrong q4_0 block size");

#define QK4_1 32
typedef struct {
  prima_fp16 d;                 /* scale */
  prima_fp16 m;                 /* min */
  uint8_t qs[QK4_1 / 2];
} block_q4_1;
_Static_assert (sizeof (block_q4_1) == 20, "wrong q4_1 block size");

#define QK5_0 32
typedef struct {
  prima_fp16 d;
  uint8_t qh[4];                /* 5th bits */
  uint8_t qs[QK5_0 / 2];
} block_q5_0;
_Static_assert (sizeof (block_q5_0) == 22, "wrong q5_0 block size");

#define QK5_1 32
typedef struct {
  prima_fp16 d;
  prima_fp16 m;
  uint8_t qh[4];
  uint8_t qs[QK5_1 / 2];
} block_q5_1;
_Static_assert (sizeof (block_q5_1) == 24, "wrong q5_1 block size");

#define QK8_0 32
typedef struct {
  prima_fp16 d;
  int8_t qs[QK8_0];
} block_q8_0;
_Static_assert (sizeof (block_q8_0) == 34, "wrong q8_0 block size");

#define QK8_1 32
typedef struct {
  prima_fp16 d;                 /* scale */
  prima_fp16 s;                 /* d * sum(qs) */
  int8_t qs[QK8_1];
} block_q8_1;
_Static_assert (sizeof (block_q8_1) == 36, "wrong q8_1 block size");

/* K-quants: super-blocks of 256. */
#define QK_K 256
#define K_SCALE_SIZE 12

typedef struct {
  uint8_t scales[QK_K / 16];    /* 4-bit scale and 4-bit min per 16 */
  uint8_t qs[QK_K / 4];         /* 2-bit quants */
  prima_fp16 d;
  prima_fp16 dmin;
} block_q2_K;
_Static_assert (sizeof (block_q2_K) == 84, "wrong q2_K block size");

typedef struct {
  uint8_t hmask[QK_K / 8];      /* high bit */
  uint8_t qs[QK_K / 4];         /* low 2 bits */
  uint8_t scales[12];           /* 6-bit scales, packed */
  prima_fp16 d;
} block_q3_K;
_Static_assert (sizeof (block_q3_K) == 110, "wrong q3_K block size");

typedef struct {
  prima_fp16 d;
  prima_fp16 dmin;
  uint8_t scales[K_SCALE_SIZE]; /* 6-bit scales and mins, packed */
  uint8_t qs[QK_K / 2];
} block_q4_K;
_Static_assert (sizeof (block_q4_K) == 144, "wrong q4_K block size");

typedef struct {
  prima_fp16 d;
  prima_fp16 dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
} block_q5_K;
_Static_assert (sizeof (block_q5_K) == 176, "wrong q5_K block size");

typedef struct {
  uint8_t ql[QK_K / 2];         /* low 4 bits */
  uint8_t qh[QK_K / 4];         /* high 2 bits */
  int8_t scales[QK_K / 16];
  prima_fp16 d;
} block_q6_K;
_Static_assert (sizeof (block_q6_K) == 210, "wrong q6_K block size");

/* Activations for K-quant and IQ dot products. */
typedef struct {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];     /* sums of qs in groups of 16 */
} block_q8_K;
_Static_assert (sizeof (block_q8_K) == 292, "wrong q8_K block size");

/* Q8_K with each 128 levels stored as sub-blocks 0, 2, 1, 3 (levels 0-31,
 * 64-95, 32-63, 96-127): the order in which a 64-byte load of Q4_K nibbles
 * splits into low and high halves, so the AVX-512 Q4_K kernel needs no
 * shuffles to line weights up with activations. Sums per 32 levels (in
 * level order) serve the Q4_K mins directly. Not a file type. */
typedef struct {
  float d;
  int8_t qs[QK_K];
  int16_t bsums32[QK_K / 32];
} block_q8_K_x;
_Static_assert (sizeof (block_q8_K_x) == 276, "wrong q8_K_x block size");

/* position in block_q8_K_x.qs of level j (0..255) */
static inline int
q8_K_x_index (int j)
{
  const int sub = (j >> 5) & 3;
  return (j & ~127) | ((((sub & 1) << 1) | (sub >> 1)) << 5) | (j & 31);
}

/* ---- Scalar reference kernels (quants-ref.c). The signatures are those of
 * the traits so they can be registered directly. ---- */
void dequantize_row_f32 (const void *x, float *y, int64_t n);
void dequantize_row_f16 (const void *x, float *y, int64_t n);
void dequantize_row_bf16 (const void *x, float *y, int64_t n);
void dequantize_row_q4_0 (const void *x, float *y, int64_t n);
void dequantize_row_q4_1 (const void *x, float *y, int64_t n);
void dequantize_row_q5_0 (const void *x, float *y, int64_t n);
void dequantize_row_q5_1 (const void *x, float *y, int64_t n);
void dequantize_row_q8_0 (const void *x, float *y, int64_t n);
void dequantize_row_q8_1 (const void *x, float *y, int64_t n);
void dequantize_row_q2_K (const void *x, float *y, int64_t n);
void dequantize_row_q3_K (const void *x, float *y, int64_t n);
void dequantize_row_q4_K (const void *x, float *y, int64_t n);
void dequantize_row_q5_K (const void *x, float *y, int64_t n);
void dequantize_row_q6_K (const void *x, float *y, int64_t n);
void dequantize_row_q8_K (const void *x, float *y, int64_t n);
void dequantize_row_q8_K_x (const void *x, float *y, int64_t n);

void quantize_row_f32_ref (const float *x, void *y, int64_t n);
void quantize_row_f16_ref (const float *x, void *y, int64_t n);
void quantize_row_bf16_ref (const float *x, void *y, int64_t n);
void quantize_row_q4_0_ref (const float *x, void *y, int64_t n);
void quantize_row_q4_1_ref (const float *x, void *y, int64_t n);
void quantize_row_q5_0_ref (const float *x, void *y, int64_t n);
void quantize_row_q5_1_ref (const float *x, void *y, int64_t n);
void quantize_row_q8_0_ref (const float *x, void *y, int64_t n);
void quantize_row_q8_1_ref (const float *x, void *y, int64_t n);
void quantize_row_q2_K_ref (const float *x, void *y, int64_t n);
void quantize_row_q3_K_ref (const float *x, void *y, int64_t n);
void quantize_row_q4_K_ref (const float *x, void *y, int64_t n);
void quantize_row_q5_K_ref (const float *x, void *y, int64_t n);
void quantize_row_q6_K_ref (const float *x, void *y, int64_t n);
void quantize_row_q8_K_ref (const float *x, void *y, int64_t n);
void quantize_row_q8_K_x_ref (const float *x, void *y, int64_t n);
/* Reorder n levels of Q8_K into Q8_K_X (same values, same d). */
void q8_K_to_q8_K_x (const void *q8_K, void *q8_K_x, int64_t n);

void vec_dot_f32_f32_ref (int n, float *s, const void *x, const void *y);
void vec_dot_f16_f16_ref (int n, float *s, const void *x, const void *y);
void vec_dot_bf16_bf16_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q4_0_q8_0_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q4_1_q8_1_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q5_0_q8_0_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q5_1_q8_1_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q8_0_q8_0_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q2_K_q8_K_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q3_K_q8_K_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q4_K_q8_K_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q4_K_q8_K_x_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q5_K_q8_K_ref (int n, float *s, const void *x, const void *y);
void vec_dot_q6_K_q8_K_ref (int n, float *s, const void *x, const void *y);
