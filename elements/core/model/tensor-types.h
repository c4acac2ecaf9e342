/* gst-prima: tensor element types and their kernels.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Type ids are those of the GGUF format (ggml's enum ggml_type): they are facts
 * of the file format. Each type has a traits record: its block geometry and its
 * kernels. The scalar reference kernels live in quants-ref.c / quants-iq-ref.c;
 * the ISA files override what they accelerate, chosen once at run time.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

typedef enum {
  PRIMA_TYPE_F32 = 0,
  PRIMA_TYPE_F16 = 1,
  PRIMA_TYPE_Q4_0 = 2,
  PRIMA_TYPE_Q4_1 = 3,
  PRIMA_TYPE_Q5_0 = 6,
  PRIMA_TYPE_Q5_1 = 7,
  PRIMA_TYPE_Q8_0 = 8,
  PRIMA_TYPE_Q8_1 = 9,
  PRIMA_TYPE_Q2_K = 10,
  PRIMA_TYPE_Q3_K = 11,
  PRIMA_TYPE_Q4_K = 12,
  PRIMA_TYPE_Q5_K = 13,
  PRIMA_TYPE_Q6_K = 14,
  PRIMA_TYPE_Q8_K = 15,
  PRIMA_TYPE_IQ2_XXS = 16,
  PRIMA_TYPE_IQ2_XS = 17,
  PRIMA_TYPE_IQ3_XXS = 18,
  PRIMA_TYPE_IQ1_S = 19,
  PRIMA_TYPE_IQ4_NL = 20,
  PRIMA_TYPE_IQ3_S = 21,
  PRIMA_TYPE_IQ2_S = 22,
  PRIMA_TYPE_IQ4_XS = 23,
  PRIMA_TYPE_I8 = 24,
  PRIMA_TYPE_I16 = 25,
  PRIMA_TYPE_I32 = 26,
  PRIMA_TYPE_I64 = 27,
  PRIMA_TYPE_F64 = 28,
  PRIMA_TYPE_IQ1_M = 29,
  PRIMA_TYPE_BF16 = 30,
  /* Ids from here on are ours, never in a file: activation layouts that a
   * kernel of one ISA asks for (the GGUF reader refuses them). */
  PRIMA_TYPE_FIRST_INTERNAL = 36,
  PRIMA_TYPE_Q8_K_X = 36,
  PRIMA_TYPE_COUNT = 40,
} prima_type;

typedef enum {
  PRIMA_ISA_SCALAR = 0,
  PRIMA_ISA_AVX2 = 1,
  PRIMA_ISA_AVX512 = 2,
  /* ARM64: each level includes the one before (NEON is in every ARMv8-A). */
  PRIMA_ISA_NEON = 3,
  PRIMA_ISA_DOTPROD = 4,          /* + SDOT/UDOT (ARMv8.2 dotprod) */
  PRIMA_ISA_I8MM = 5,             /* + SMMLA (ARMv8.6 i8mm) */
  PRIMA_ISA_COUNT
} prima_isa;

/* Dequantize n elements (a multiple of the block size) of a row. */
typedef void (*prima_to_float_fn) (const void *x, float *y, int64_t n);
/* Quantize n floats (a multiple of the block size) into blocks of this type. */
typedef void (*prima_from_float_fn) (const float *x, void *y, int64_t n);
/* *s = dot(x, y) over n elements: x is a row of this type, y a row of vec_dot_type. */
typedef void (*prima_vec_dot_fn) (int n, float *s, const void *x, const void *y);
/* y[tok * y_stride + r] = dot(x row r, act row tok) for n_rows weight rows
 * (x_stride bytes apart) and n_tok activation rows of vec_dot_type
 * (act_stride bytes apart): a prompt batch. Bit-identical to vec_dot on
 * every (r, tok); it only shares the weight unpacking across tokens. */
typedef void (*prima_gemm_fn) (int n, int n_rows, int n_tok, float *y, size_t y_stride, const void *x,
    size_t x_stride, const void *act, size_t act_stride);

typedef struct {
  const char *name;
  int64_t blck_size;            /* elements per block */
  size_t type_size;             /* bytes per block */
  prima_type vec_dot_type;      /* what activations are converted to for vec_dot */
  prima_to_float_fn to_float;
  prima_from_float_fn from_float;
  prima_vec_dot_fn vec_dot;
  prima_gemm_fn gemm;           /* NULL: call vec_dot per (row, token) */
} prima_type_traits;

/* Traits with the best kernels this CPU runs (or those forced by the
 * environment variable PRIMA_ISA=scalar|avx2|avx512|neon|dotprod|i8mm). NULL for an id whose
 * layout we do not know. */
const prima_type_traits *prima_type_get_traits (uint32_t type);
/* Traits with the kernels of one ISA (falling back to scalar where that ISA
 * has no kernel); NULL if the CPU cannot run that ISA. For tests and benches. */
const prima_type_traits *prima_type_get_traits_isa (uint32_t type, prima_isa isa);

const char *prima_type_name (uint32_t type);     /* "Q4_K", or NULL if unknown */
gboolean prima_type_from_name (const char *name, prima_type *out);
/* Bytes of a row of n elements; 0 when n is not a multiple of the block size. */
size_t prima_row_size (uint32_t type, int64_t n);

prima_isa prima_cpu_best_isa (void);              /* what this CPU can run */
/* TRUE when this CPU runs isa: scalar, or one of its own family (x86 or ARM)
 * up to its best. */
gboolean prima_isa_runs (prima_isa isa);
prima_isa prima_active_isa (void);                /* honouring PRIMA_ISA */
const char *prima_isa_name (prima_isa isa);

/* Each kernel file fills the entries it provides. The scalar files fill every
 * field; ISA files only replace function pointers. Called once, in order. */
void prima_quants_ref_register (prima_type_traits *table);
void prima_quants_iq_ref_register (prima_type_traits *table);
void prima_quants_avx2_register (prima_type_traits *table);
void prima_quants_iq_avx2_register (prima_type_traits *table);
void prima_quants_avx512_register (prima_type_traits *table);
void prima_quants_iq_avx512_register (prima_type_traits *table);
void prima_gemm_ref_register (prima_type_traits *table);
void prima_gemm_avx2_register (prima_type_traits *table);
void prima_gemm_avx512_register (prima_type_traits *table);
void prima_quants_neon_register (prima_type_traits *table);
void prima_quants_iq_neon_register (prima_type_traits *table);
void prima_quants_dotprod_register (prima_type_traits *table);
void prima_quants_i8mm_register (prima_type_traits *table);
