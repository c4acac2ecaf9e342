/* gst-prima: scalar reference of the tile kernels (prima_gemm_fn).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The definition the SIMD tiles are held to: each output is the type's
 * vec_dot on one (row, token). The ISA files share the weight unpacking
 * across tokens and must give the same bits as their own vec_dot.
 */
#include "quants.h"
#include "quants-iq.h"

#define DEFINE_GEMM_REF(T, VEC_DOT) \
  static void \
  gemm_##T##_ref (int n, int n_rows, int n_tok, float *y, size_t y_stride, const void *x, size_t x_stride, \
      const void *act, size_t act_stride) \
  { \
    for (int r = 0; r < n_rows; r++) \
      for (int t = 0; t < n_tok; t++) \
        VEC_DOT (n, &y[(size_t) t * y_stride + r], (const uint8_t *) x + (size_t) r * x_stride, \
            (const uint8_t *) act + (size_t) t * act_stride); \
  }

DEFINE_GEMM_REF (q4_K, vec_dot_q4_K_q8_K_ref)
DEFINE_GEMM_REF (q5_K, vec_dot_q5_K_q8_K_ref)
DEFINE_GEMM_REF (q6_K, vec_dot_q6_K_q8_K_ref)
DEFINE_GEMM_REF (q8_0, vec_dot_q8_0_q8_0_ref)
DEFINE_GEMM_REF (q4_0, vec_dot_q4_0_q8_0_ref)
DEFINE_GEMM_REF (iq4_xs, vec_dot_iq4_xs_q8_K_ref)

/* Registered after the scalar vec_dots; tensor-types.c drops each where an
 * ISA file replaces the vec_dot it stands for. */
void
prima_gemm_ref_register (prima_type_traits *table)
{
  table[PRIMA_TYPE_Q4_K].gemm = gemm_q4_K_ref;
  table[PRIMA_TYPE_Q5_K].gemm = gemm_q5_K_ref;
  table[PRIMA_TYPE_Q6_K].gemm = gemm_q6_K_ref;
  table[PRIMA_TYPE_Q8_0].gemm = gemm_q8_0_ref;
  table[PRIMA_TYPE_Q4_0].gemm = gemm_q4_0_ref;
  table[PRIMA_TYPE_IQ4_XS].gemm = gemm_iq4_xs_ref;
}
