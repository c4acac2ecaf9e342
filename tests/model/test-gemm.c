/* gst-prima tests: the tile kernels (traits gemm) against vec_dot.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * For every ISA this CPU runs and every type with a gemm: random weights and
 * activations, row and token counts that are not multiples of the tile,
 * strided activations and outputs; every output must have the very bits of
 * that ISA's vec_dot on the same (row, token) (memcmp, no tolerance), and
 * outputs outside the tile must stay untouched. Batched prefill, batched
 * decode and speculative verification rely on this to equal solo decoding.
 */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "quants.h"

static const prima_type types[] = {
  PRIMA_TYPE_Q4_K, PRIMA_TYPE_Q5_K, PRIMA_TYPE_Q6_K, PRIMA_TYPE_Q8_0, PRIMA_TYPE_Q4_0, PRIMA_TYPE_IQ4_XS,
};

static void
fill_random (GRand *r, float *x, int64_t n)
{
  for (int64_t i = 0; i < n; i += 32) {
    const double scale = exp (g_rand_double_range (r, -2, 2));
    for (int64_t j = i; j < i + 32 && j < n; j++)
      x[j] = (float) (scale * g_rand_double_range (r, -1, 1) * (g_rand_int_range (r, 0, 64) == 0 ? 4 : 1));
  }
}

static void
check (prima_type type, prima_isa isa, int n, int n_rows, int n_tok, GRand *rnd)
{
  const prima_type_traits *t = prima_type_get_traits_isa (type, isa);
  const prima_type_traits *at = prima_type_get_traits_isa (t->vec_dot_type, isa);
  const size_t w_bytes = prima_row_size (type, n), a_bytes = prima_row_size (t->vec_dot_type, n);
  const size_t x_stride = w_bytes + 16, act_stride = a_bytes + 64, y_stride = n_rows + 3;
  float *f = g_new (float, n);
  uint8_t *w = g_malloc0 (x_stride * n_rows), *a = g_malloc0 (act_stride * n_tok);
  float *y = g_new (float, y_stride * n_tok), *want = g_new (float, y_stride * n_tok);

  for (int r = 0; r < n_rows; r++) {
    fill_random (rnd, f, n);
    prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR)->from_float (f, w + r * x_stride, n);
  }
  for (int k = 0; k < n_tok; k++) {
    fill_random (rnd, f, n);
    at->from_float (f, a + k * act_stride, n);
  }
  for (size_t i = 0; i < y_stride * n_tok; i++)
    y[i] = want[i] = -12345.f;
  for (int k = 0; k < n_tok; k++)
    for (int r = 0; r < n_rows; r++)
      t->vec_dot (n, &want[k * y_stride + r], w + r * x_stride, a + k * act_stride);
  t->gemm (n, n_rows, n_tok, y, y_stride, w, x_stride, a, act_stride);
  if (memcmp (y, want, sizeof (float) * y_stride * n_tok) != 0) {
    for (int k = 0; k < n_tok; k++)
      for (size_t r = 0; r < y_stride; r++)
        if (memcmp (&y[k * y_stride + r], &want[k * y_stride + r], sizeof (float)) != 0)
          g_error ("%s %s n=%d %dx%d: token %d row %zu: gemm %.9g, vec_dot %.9g", t->name, prima_isa_name (isa), n,
              n_rows, n_tok, k, r, y[k * y_stride + r], want[k * y_stride + r]);
  }
  g_free (f);
  g_free (w);
  g_free (a);
  g_free (y);
  g_free (want);
}

static void
test_bit_identical (void)
{
  static const int ns[] = { 256, 768, 32 * 19 };      /* 19 = 2 x 8 + 3: the 8-block loop and its tail */
  GRand *rnd = g_rand_new_with_seed (16);
  int checked = 0;
  for (prima_isa isa = PRIMA_ISA_SCALAR; isa < PRIMA_ISA_COUNT; isa++)
    for (size_t i = 0; i < G_N_ELEMENTS (types); i++) {
      const prima_type_traits *t = prima_type_get_traits_isa (types[i], isa);
      if (t == NULL || t->gemm == NULL)       /* an ISA this CPU cannot run, or no tile kernel */
        continue;
      for (size_t k = 0; k < G_N_ELEMENTS (ns); k++) {
        if (ns[k] % t->blck_size != 0)
          continue;
        for (int rows = 1; rows <= 5; rows += 2)
          for (int tok = 1; tok <= 9; tok++)
            check (types[i], isa, ns[k], rows, tok, rnd);
        checked++;
      }
    }
  g_test_message ("%d type x ISA x width cases", checked);
  g_rand_free (rnd);
}

/* The scalar table and (where the CPU has it) the AVX-512 one have a gemm for
 * every listed type, AVX2 for Q4_K and Q6_K; losing one would silently fall
 * back to vec_dot. */
static void
test_registered (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (types); i++) {
    g_assert_nonnull (prima_type_get_traits_isa (types[i], PRIMA_ISA_SCALAR)->gemm);
    if (prima_isa_runs (PRIMA_ISA_AVX2) && (types[i] == PRIMA_TYPE_Q4_K || types[i] == PRIMA_TYPE_Q6_K))
      g_assert_nonnull (prima_type_get_traits_isa (types[i], PRIMA_ISA_AVX2)->gemm);
    if (prima_isa_runs (PRIMA_ISA_AVX512))
      g_assert_nonnull (prima_type_get_traits_isa (types[i], PRIMA_ISA_AVX512)->gemm);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gemm/registered", test_registered);
  g_test_add_func ("/gemm/bit-identical", test_bit_identical);
  return g_test_run ();
}
