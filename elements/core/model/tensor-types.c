/* gst-prima: the tensor type table and runtime kernel dispatch.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "tensor-types.h"

#include <string.h>

static prima_type_traits tables[PRIMA_ISA_COUNT][PRIMA_TYPE_COUNT];

/* Geometry of every id we can lay out, including types we do not compute
 * with (so the GGUF reader can size their tensors). */
static const struct {
  uint32_t type;
  const char *name;
  int64_t blck_size;
  size_t type_size;
} geometry[] = {
  {PRIMA_TYPE_F32, "F32", 1, 4},
  {PRIMA_TYPE_F16, "F16", 1, 2},
  {PRIMA_TYPE_Q4_0, "Q4_0", 32, 18},
  {PRIMA_TYPE_Q4_1, "Q4_1", 32, 20},
  {PRIMA_TYPE_Q5_0, "Q5_0", 32, 22},
  {PRIMA_TYPE_Q5_1, "Q5_1", 32, 24},
  {PRIMA_TYPE_Q8_0, "Q8_0", 32, 34},
  {PRIMA_TYPE_Q8_1, "Q8_1", 32, 36},
  {PRIMA_TYPE_Q2_K, "Q2_K", 256, 84},
  {PRIMA_TYPE_Q3_K, "Q3_K", 256, 110},
  {PRIMA_TYPE_Q4_K, "Q4_K", 256, 144},
  {PRIMA_TYPE_Q5_K, "Q5_K", 256, 176},
  {PRIMA_TYPE_Q6_K, "Q6_K", 256, 210},
  {PRIMA_TYPE_Q8_K, "Q8_K", 256, 292},
  {PRIMA_TYPE_IQ2_XXS, "IQ2_XXS", 256, 66},
  {PRIMA_TYPE_IQ2_XS, "IQ2_XS", 256, 74},
  {PRIMA_TYPE_IQ3_XXS, "IQ3_XXS", 256, 98},
  {PRIMA_TYPE_IQ1_S, "IQ1_S", 256, 50},
  {PRIMA_TYPE_IQ4_NL, "IQ4_NL", 32, 18},
  {PRIMA_TYPE_IQ3_S, "IQ3_S", 256, 110},
  {PRIMA_TYPE_IQ2_S, "IQ2_S", 256, 82},
  {PRIMA_TYPE_IQ4_XS, "IQ4_XS", 256, 136},
  {PRIMA_TYPE_I8, "I8", 1, 1},
  {PRIMA_TYPE_I16, "I16", 1, 2},
  {PRIMA_TYPE_I32, "I32", 1, 4},
  {PRIMA_TYPE_I64, "I64", 1, 8},
  {PRIMA_TYPE_F64, "F64", 1, 8},
  {PRIMA_TYPE_IQ1_M, "IQ1_M", 256, 56},
  {PRIMA_TYPE_BF16, "BF16", 1, 2},
  {PRIMA_TYPE_Q8_K_X, "Q8_K_X", 256, 276},
};

static void
snapshot_vec_dots (const prima_type_traits *t, prima_vec_dot_fn *vec_dot)
{
  for (int i = 0; i < PRIMA_TYPE_COUNT; i++)
    vec_dot[i] = t[i].vec_dot;
}

/* A gemm must match its vec_dot bit for bit: where an ISA replaced a
 * type's vec_dot, the gemm registered for the previous one no longer
 * applies (until that ISA registers its own). */
static void
drop_stale_gemms (prima_type_traits *t, const prima_vec_dot_fn *vec_dot)
{
  for (int i = 0; i < PRIMA_TYPE_COUNT; i++)
    if (t[i].vec_dot != vec_dot[i])
      t[i].gemm = NULL;
}

static void
build_tables (void)
{
  prima_isa best = prima_cpu_best_isa ();
  prima_vec_dot_fn vec_dot[PRIMA_TYPE_COUNT];
  for (int isa = 0; isa < PRIMA_ISA_COUNT; isa++) {
    prima_type_traits *t = tables[isa];
    for (size_t i = 0; i < G_N_ELEMENTS (geometry); i++) {
      t[geometry[i].type].name = geometry[i].name;
      t[geometry[i].type].blck_size = geometry[i].blck_size;
      t[geometry[i].type].type_size = geometry[i].type_size;
    }
    prima_quants_ref_register (t);
    prima_quants_iq_ref_register (t);
    prima_gemm_ref_register (t);
#if defined(__x86_64__)
    if (isa >= PRIMA_ISA_AVX2 && best >= PRIMA_ISA_AVX2) {
      snapshot_vec_dots (t, vec_dot);
      prima_quants_avx2_register (t);
      prima_quants_iq_avx2_register (t);
      drop_stale_gemms (t, vec_dot);
      prima_gemm_avx2_register (t);
    }
    if (isa >= PRIMA_ISA_AVX512 && best >= PRIMA_ISA_AVX512) {
      snapshot_vec_dots (t, vec_dot);
      prima_quants_avx512_register (t);
      prima_quants_iq_avx512_register (t);
      drop_stale_gemms (t, vec_dot);
      prima_gemm_avx512_register (t);
    }
#endif
#if defined(__aarch64__)
    /* no ARM tile kernels yet: a type whose vec_dot NEON replaces loses the
     * reference tile (it would give other bits than decode) */
    snapshot_vec_dots (t, vec_dot);
    if (isa >= PRIMA_ISA_NEON && best >= PRIMA_ISA_NEON) {
      prima_quants_neon_register (t);
      prima_quants_iq_neon_register (t);
    }
    if (isa >= PRIMA_ISA_DOTPROD && best >= PRIMA_ISA_DOTPROD)
      prima_quants_dotprod_register (t);
    if (isa >= PRIMA_ISA_I8MM && best >= PRIMA_ISA_I8MM)
      prima_quants_i8mm_register (t);
    drop_stale_gemms (t, vec_dot);
#endif
  }
}

static void
ensure_tables (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    build_tables ();
    g_once_init_leave (&once, 1);
  }
}

const prima_type_traits *
prima_type_get_traits_isa (uint32_t type, prima_isa isa)
{
  if (type >= PRIMA_TYPE_COUNT || isa >= PRIMA_ISA_COUNT || !prima_isa_runs (isa))
    return NULL;
  ensure_tables ();
  return tables[isa][type].name ? &tables[isa][type] : NULL;
}

const prima_type_traits *
prima_type_get_traits (uint32_t type)
{
  return prima_type_get_traits_isa (type, prima_active_isa ());
}

const char *
prima_type_name (uint32_t type)
{
  const prima_type_traits *t = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR);
  return t ? t->name : NULL;
}

gboolean
prima_type_from_name (const char *name, prima_type *out)
{
  for (size_t i = 0; i < G_N_ELEMENTS (geometry); i++)
    if (g_ascii_strcasecmp (name, geometry[i].name) == 0) {
      *out = (prima_type) geometry[i].type;
      return TRUE;
    }
  return FALSE;
}

size_t
prima_row_size (uint32_t type, int64_t n)
{
  const prima_type_traits *t = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR);
  if (t == NULL || n < 0 || n % t->blck_size != 0)
    return 0;
  return (size_t) (n / t->blck_size) * t->type_size;
}
