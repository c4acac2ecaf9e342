/* gst-prima tests: quantization kernels, every ISA against the scalar reference.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * - SIMD vec_dot equals the scalar reference within 1e-5 of sum |x_i y_i|
 *   (the integer parts are exact; only float summation order differs);
 * - the scalar reference equals a double-precision dot of the dequantized rows;
 * - fast activation quantizers (Q8_0, Q8_1, Q8_K) give the very bytes of the
 *   reference, ties and edge cases included;
 * - quantize -> dequantize error stays under a per-type bound;
 * - dequantization is identical whatever ISA is active.
 */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "quants.h"

static const prima_type weight_types[] = {
  PRIMA_TYPE_F32, PRIMA_TYPE_F16, PRIMA_TYPE_BF16,
  PRIMA_TYPE_Q4_0, PRIMA_TYPE_Q4_1, PRIMA_TYPE_Q5_0, PRIMA_TYPE_Q5_1, PRIMA_TYPE_Q8_0,
  PRIMA_TYPE_Q2_K, PRIMA_TYPE_Q3_K, PRIMA_TYPE_Q4_K, PRIMA_TYPE_Q5_K, PRIMA_TYPE_Q6_K,
};

static const prima_type act_types[] = { PRIMA_TYPE_Q8_0, PRIMA_TYPE_Q8_1, PRIMA_TYPE_Q8_K, PRIMA_TYPE_Q8_K_X };

/* The activations an ISA's kernel for type reads: qy (the reference's
 * vec_dot_type) when it is the same type, else y quantized to the ISA's own
 * activation layout into *own (freed by the caller). */
static const void *
isa_activations (const prima_type_traits *t, const prima_type_traits *ref, prima_isa isa, const float *y,
    const void *qy, int64_t n, void **own)
{
  *own = NULL;
  if (t->vec_dot_type == ref->vec_dot_type)
    return qy;
  const prima_type_traits *yt = prima_type_get_traits_isa (t->vec_dot_type, isa);
  g_assert_nonnull (yt);
  *own = g_malloc0 (prima_row_size (t->vec_dot_type, n));
  yt->from_float (y, *own, n);
  return *own;
}

static double
gauss (GRand *r)
{
  const double u = g_rand_double_range (r, 1e-12, 1.0), v = g_rand_double (r);
  return sqrt (-2 * log (u)) * cos (2 * G_PI * v);
}

/* Gaussian data with a few outliers and a varying scale per 32, so blocks
 * differ in range the way real weights and activations do. */
static void
fill_random (GRand *r, float *x, int64_t n)
{
  for (int64_t i = 0; i < n; i += 32) {
    const double scale = exp (g_rand_double_range (r, -2, 2));
    for (int64_t j = i; j < i + 32 && j < n; j++)
      x[j] = (float) (scale * gauss (r) * (g_rand_int_range (r, 0, 64) == 0 ? 4 : 1));
  }
}

static size_t
row_bytes (prima_type type, int64_t n)
{
  return prima_row_size (type, n);
}

/* ---- round trip ---- */

static double
roundtrip_bound (prima_type t)
{
  switch (t) {
    case PRIMA_TYPE_F32: return 1e-7;
    case PRIMA_TYPE_F16: return 1e-3;
    case PRIMA_TYPE_BF16: return 5e-3;
    case PRIMA_TYPE_Q8_0: case PRIMA_TYPE_Q8_1: return 0.01;
    case PRIMA_TYPE_Q8_K: case PRIMA_TYPE_Q8_K_X: return 0.03;    /* one scale per 256 over blocks of varying range */
    case PRIMA_TYPE_Q4_0: return 0.12;
    case PRIMA_TYPE_Q4_1: return 0.10;
    case PRIMA_TYPE_Q5_0: return 0.06;
    case PRIMA_TYPE_Q5_1: return 0.05;
    case PRIMA_TYPE_Q2_K: return 0.40;
    case PRIMA_TYPE_Q3_K: return 0.20;
    case PRIMA_TYPE_Q4_K: return 0.10;
    case PRIMA_TYPE_Q5_K: return 0.05;
    case PRIMA_TYPE_Q6_K: return 0.03;
    default: return 0;
  }
}

static void
check_roundtrip (prima_type type, GRand *r)
{
  const prima_type_traits *t = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR);
  const int64_t n = 8192;
  float *x = g_new (float, n), *y = g_new (float, n);
  void *q = g_malloc0 (row_bytes (type, n));
  double err = 0, ref = 0;
  g_assert_nonnull (t);
  g_assert_nonnull (t->from_float);
  g_assert_nonnull (t->to_float);
  fill_random (r, x, n);
  t->from_float (x, q, n);
  t->to_float (q, y, n);
  /* error relative to the data, per 256 so the varying block scales do not
   * let large blocks hide bad small ones */
  for (int64_t b = 0; b < n; b += 256) {
    double e = 0, s = 0;
    for (int64_t i = b; i < b + 256; i++) {
      e += (double) (y[i] - x[i]) * (y[i] - x[i]);
      s += (double) x[i] * x[i];
    }
    err += e / s;
    ref += 1;
  }
  const double rel = sqrt (err / ref);
  g_test_message ("%s: round-trip rmse / rms = %.4f (bound %.4f)", t->name, rel, roundtrip_bound (type));
  if (!(rel < roundtrip_bound (type)))
    g_error ("%s: round-trip rmse / rms %.4f over the bound %.4f", t->name, rel, roundtrip_bound (type));

  /* all-zero and constant rows must not produce NaN */
  memset (x, 0, (size_t) n * sizeof *x);
  t->from_float (x, q, n);
  t->to_float (q, y, n);
  for (int64_t i = 0; i < n; i++)
    g_assert_true (y[i] == 0.0f);
  for (int64_t i = 0; i < n; i++)
    x[i] = 0.75f;
  t->from_float (x, q, n);
  t->to_float (q, y, n);
  for (int64_t i = 0; i < n; i++)
    g_assert_true (fabsf (y[i] - 0.75f) < 0.05f);
  g_free (x);
  g_free (y);
  g_free (q);
}

static void
test_roundtrip (void)
{
  GRand *r = g_rand_new_with_seed (1234);
  for (size_t i = 0; i < G_N_ELEMENTS (weight_types); i++)
    check_roundtrip (weight_types[i], r);
  check_roundtrip (PRIMA_TYPE_Q8_1, r);
  check_roundtrip (PRIMA_TYPE_Q8_K, r);
  check_roundtrip (PRIMA_TYPE_Q8_K_X, r);
  g_rand_free (r);
}

/* ---- vec_dot ---- */

static void
check_vec_dot (prima_type type, int64_t n, GRand *r)
{
  const prima_type_traits *ref = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR);
  const prima_type_traits *yref = prima_type_get_traits_isa (ref->vec_dot_type, PRIMA_ISA_SCALAR);
  float *x = g_new (float, n), *y = g_new (float, n), *dx = g_new (float, n), *dy = g_new (float, n);
  void *qx = g_malloc0 (row_bytes (type, n));
  void *qy = g_malloc0 (row_bytes (ref->vec_dot_type, n));
  fill_random (r, x, n);
  fill_random (r, y, n);
  ref->from_float (x, qx, n);
  yref->from_float (y, qy, n);
  ref->to_float (qx, dx, n);
  yref->to_float (qy, dy, n);
  double exact = 0, scale = 0;
  for (int64_t i = 0; i < n; i++) {
    exact += (double) dx[i] * dy[i];
    scale += fabs ((double) dx[i] * dy[i]);
  }
  float s_ref = NAN;
  ref->vec_dot ((int) n, &s_ref, qx, qy);
  /* the *_1 types carry the activation sum as an fp16 (d * sum), so their
   * reference is off the dequantized dot by that rounding */
  const double ref_tol = (type == PRIMA_TYPE_Q4_1 || type == PRIMA_TYPE_Q5_1) ? 5e-3 : 1e-5;
  if (!(fabs (s_ref - exact) <= ref_tol * scale + 1e-30))
    g_error ("%s n=%" G_GINT64_FORMAT ": reference dot %.9g, dequantized dot %.9g", ref->name, n, s_ref, exact);

  for (int isa = PRIMA_ISA_AVX2; isa < PRIMA_ISA_COUNT; isa++) {
    const prima_type_traits *t = prima_type_get_traits_isa (type, (prima_isa) isa);
    if (t == NULL)
      continue;
    void *own;
    const void *qyi = isa_activations (t, ref, (prima_isa) isa, y, qy, n, &own);
    float s = NAN;
    t->vec_dot ((int) n, &s, qx, qyi);
    g_free (own);
    if (!(fabs (s - s_ref) <= 1e-5 * scale + 1e-30))
      g_error ("%s n=%" G_GINT64_FORMAT " %s: vec_dot %.9g, reference %.9g (rel %.3g)", ref->name, n,
          prima_isa_name ((prima_isa) isa), s, s_ref, fabs (s - s_ref) / scale);
  }
  g_free (x);
  g_free (y);
  g_free (dx);
  g_free (dy);
  g_free (qx);
  g_free (qy);
}

static void
test_vec_dot (void)
{
  GRand *r = g_rand_new_with_seed (42);
  for (size_t i = 0; i < G_N_ELEMENTS (weight_types); i++) {
    const prima_type type = weight_types[i];
    const int64_t bs = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR)->blck_size;
    if (bs == 1) {
      const int64_t lens[] = { 1, 7, 8, 15, 16, 31, 32, 33, 100, 256, 4096, 8192 + 5 };
      for (size_t k = 0; k < G_N_ELEMENTS (lens); k++)
        check_vec_dot (type, lens[k], r);
    } else {
      const int64_t blocks[] = { 1, 2, 3, 8, 17, 64 };
      for (size_t k = 0; k < G_N_ELEMENTS (blocks); k++)
        for (int rep = 0; rep < 3; rep++)
          check_vec_dot (type, bs * blocks[k], r);
      check_vec_dot (type, 8192, r);
    }
  }
  g_rand_free (r);
}

/* Extreme blocks: all-maximum levels against all-maximum activations, to
 * catch int16 overflow in maddubs/madd paths. */
static void
test_vec_dot_extremes (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (weight_types); i++) {
    const prima_type type = weight_types[i];
    const prima_type_traits *ref = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR);
    if (ref->blck_size == 1)
      continue;
    const int64_t n = 4 * QK_K;
    const size_t xb = row_bytes (type, n), yb = row_bytes (ref->vec_dot_type, n);
    guint8 *qx = g_malloc (xb), *qy = g_malloc (yb);
    float *dx = g_new (float, n), *dy = g_new (float, n);
    const prima_type_traits *yref = prima_type_get_traits_isa (ref->vec_dot_type, PRIMA_ISA_SCALAR);
    for (int pattern = 0; pattern < 4; pattern++) {
      float *y = g_new (float, n);
      /* weights: raw bytes all 0xFF or 0x00 or alternating, scales included
       * (then the fp16 fields are set to sane values) */
      memset (qx, pattern == 0 ? 0xFF : pattern == 1 ? 0x00 : pattern == 2 ? 0x77 : 0x88, xb);
      const int64_t nb = n / ref->blck_size;
      for (int64_t b = 0; b < nb; b++) {
        guint8 *blk = qx + b * ref->type_size;
        const prima_fp16 one = prima_fp32_to_fp16 (pattern == 3 ? -0.01f : 0.01f);
        switch (type) {
          case PRIMA_TYPE_Q4_0: case PRIMA_TYPE_Q5_0: case PRIMA_TYPE_Q8_0:
            memcpy (blk, &one, 2);
            break;
          case PRIMA_TYPE_Q4_1: case PRIMA_TYPE_Q5_1: case PRIMA_TYPE_Q4_K: case PRIMA_TYPE_Q5_K:
            memcpy (blk, &one, 2);
            memcpy (blk + 2, &one, 2);
            break;
          case PRIMA_TYPE_Q2_K:
            memcpy (blk + 80, &one, 2);
            memcpy (blk + 82, &one, 2);
            break;
          case PRIMA_TYPE_Q3_K:
            memcpy (blk + 108, &one, 2);
            break;
          case PRIMA_TYPE_Q6_K:
            memcpy (blk + 208, &one, 2);
            break;
          default:
            break;
        }
      }
      for (int64_t k = 0; k < n; k++)
        y[k] = pattern & 1 ? -1.0f : (k % 3 == 0 ? 1.0f : -1.0f);
      if (pattern == 2)
        for (int64_t k = 0; k < n; k++)
          y[k] = 1.0f;
      yref->from_float (y, qy, n);
      ref->to_float (qx, dx, n);
      yref->to_float (qy, dy, n);
      double exact = 0, scale = 0;
      for (int64_t k = 0; k < n; k++) {
        exact += (double) dx[k] * dy[k];
        scale += fabs ((double) dx[k] * dy[k]);
      }
      float s_ref;
      ref->vec_dot ((int) n, &s_ref, qx, qy);
      const double ref_tol = (type == PRIMA_TYPE_Q4_1 || type == PRIMA_TYPE_Q5_1) ? 5e-3 : 1e-5;
      if (!(fabs (s_ref - exact) <= ref_tol * scale + 1e-20))
        g_error ("%s pattern %d: reference %.9g vs dequantized %.9g", ref->name, pattern, s_ref, exact);
      for (int isa = PRIMA_ISA_AVX2; isa < PRIMA_ISA_COUNT; isa++) {
        const prima_type_traits *t = prima_type_get_traits_isa (type, (prima_isa) isa);
        float s;
        void *own;
        if (t == NULL)
          continue;
        t->vec_dot ((int) n, &s, qx, isa_activations (t, ref, (prima_isa) isa, y, qy, n, &own));
        g_free (own);
        if (!(fabs (s - s_ref) <= 1e-5 * scale + 1e-20))
          g_error ("%s pattern %d %s: %.9g vs reference %.9g", ref->name, pattern,
              prima_isa_name ((prima_isa) isa), s, s_ref);
      }
      g_free (y);
    }
    g_free (qx);
    g_free (qy);
    g_free (dx);
    g_free (dy);
  }
}

/* ---- activation quantizers: bit-identical ---- */

static void
check_quantize_same (prima_type type, const float *x, int64_t n, const char *what)
{
  const prima_type_traits *ref = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR);
  const size_t bytes = row_bytes (type, n);
  guint8 *a = g_malloc0 (bytes), *b = g_malloc0 (bytes);
  ref->from_float (x, a, n);
  for (int isa = PRIMA_ISA_AVX2; isa < PRIMA_ISA_COUNT; isa++) {
    const prima_type_traits *t = prima_type_get_traits_isa (type, (prima_isa) isa);
    if (t == NULL)
      continue;
    memset (b, 0xAA, bytes);
    t->from_float (x, b, n);
    for (size_t k = 0; k < bytes; k++)
      if (a[k] != b[k])
        g_error ("%s %s (%s): byte %zu of block %zu differs: %d vs reference %d", ref->name,
            prima_isa_name ((prima_isa) isa), what, k % ref->type_size, k / ref->type_size, b[k], a[k]);
  }
  g_free (a);
  g_free (b);
}

static void
test_quantize_activations (void)
{
  GRand *r = g_rand_new_with_seed (7);
  const int64_t n = 4096;
  float *x = g_new (float, n);
  for (size_t i = 0; i < G_N_ELEMENTS (act_types); i++) {
    const prima_type type = act_types[i];
    for (int rep = 0; rep < 20; rep++) {
      fill_random (r, x, n);
      check_quantize_same (type, x, n, "random");
    }
    /* ties: values landing exactly on k + 0.5 after scaling (127 / 127 = 1) */
    for (int64_t k = 0; k < n; k++)
      x[k] = (float) ((k % 255) - 127) + ((k & 1) ? 0.5f : -0.5f);
    for (int64_t k = 0; k < n; k += 32)
      x[k] = 127.0f;
    check_quantize_same (type, x, n, "ties");
    for (int64_t k = 0; k < n; k++)
      x[k] = (float) (k % 7) * 0.5f - 1.5f;
    check_quantize_same (type, x, n, "halves");
    /* zeros, a negative maximum, equal magnitudes of both signs */
    memset (x, 0, (size_t) n * sizeof *x);
    check_quantize_same (type, x, n, "zeros");
    for (int64_t k = 0; k < n; k++)
      x[k] = (k % 5 == 0) ? -3.0f : ((k % 5 == 1) ? 3.0f : (float) gauss (r));
    check_quantize_same (type, x, n, "both signs");
    for (int64_t k = 0; k < n; k++)
      x[k] = (float) gauss (r) * 1e-30f;
    check_quantize_same (type, x, n, "tiny");
    for (int64_t k = 0; k < n; k++)
      x[k] = (float) gauss (r) * 1e30f;
    check_quantize_same (type, x, n, "huge");
  }
  g_free (x);
  g_rand_free (r);
}

/* ---- dequantization is the same on every ISA ---- */

static void
test_dequant_isa (void)
{
  GRand *r = g_rand_new_with_seed (99);
  const int64_t n = 4096;
  float *x = g_new (float, n), *a = g_new (float, n), *b = g_new (float, n);
  for (size_t i = 0; i < G_N_ELEMENTS (weight_types); i++) {
    const prima_type type = weight_types[i];
    const prima_type_traits *ref = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR);
    void *q = g_malloc0 (row_bytes (type, n));
    fill_random (r, x, n);
    ref->from_float (x, q, n);
    ref->to_float (q, a, n);
    for (int isa = PRIMA_ISA_AVX2; isa < PRIMA_ISA_COUNT; isa++) {
      const prima_type_traits *t = prima_type_get_traits_isa (type, (prima_isa) isa);
      if (t == NULL)
        continue;
      t->to_float (q, b, n);
      g_assert_cmpmem (a, n * sizeof (float), b, n * sizeof (float));
      /* an ISA may read its activations in its own layout of the same levels */
      g_assert_true (t->vec_dot_type == ref->vec_dot_type
          || (ref->vec_dot_type == PRIMA_TYPE_Q8_K && t->vec_dot_type == PRIMA_TYPE_Q8_K_X));
      g_assert_cmpint (t->blck_size, ==, ref->blck_size);
      g_assert_cmpuint (t->type_size, ==, ref->type_size);
    }
    g_free (q);
  }
  g_free (x);
  g_free (a);
  g_free (b);
  g_rand_free (r);
}

/* The active table follows PRIMA_ISA (scalar / avx2 / avx512). */
static void
test_active_isa (void)
{
  const prima_isa active = prima_active_isa ();
  g_test_message ("CPU best ISA %s, active %s", prima_isa_name (prima_cpu_best_isa ()),
      prima_isa_name (active));
  g_assert_true (active <= prima_cpu_best_isa ());
  for (size_t i = 0; i < G_N_ELEMENTS (weight_types); i++)
    g_assert_true (prima_type_get_traits (weight_types[i])
        == prima_type_get_traits_isa (weight_types[i], active));
  const char *env = g_getenv ("PRIMA_ISA");
  if (env != NULL && strcmp (env, "scalar") == 0)
    g_assert_cmpint (active, ==, PRIMA_ISA_SCALAR);
}

/* Q8_K_X is Q8_K reordered: same levels, same sums, and the Q4_K reference
 * on it gives the plain reference's result bit for bit. */
static void
test_q8_K_x_layout (void)
{
  GRand *r = g_rand_new_with_seed (11);
  const int64_t n = 8 * QK_K;
  float *x = g_new (float, n), *a = g_new (float, n), *b = g_new (float, n);
  block_q8_K *k = g_new0 (block_q8_K, n / QK_K);
  block_q8_K_x *kx = g_new0 (block_q8_K_x, n / QK_K);
  guint8 *w = g_malloc0 (row_bytes (PRIMA_TYPE_Q4_K, n));
  for (int rep = 0; rep < 20; rep++) {
    fill_random (r, x, n);
    quantize_row_q8_K_ref (x, k, n);
    quantize_row_q8_K_x_ref (x, kx, n);
    dequantize_row_q8_K (k, a, n);
    dequantize_row_q8_K_x (kx, b, n);
    g_assert_cmpmem (a, n * sizeof (float), b, n * sizeof (float));
    for (int64_t i = 0; i < n / QK_K; i++)
      for (int j = 0; j < QK_K / 32; j++)
        g_assert_cmpint (kx[i].bsums32[j], ==, k[i].bsums[2 * j] + k[i].bsums[2 * j + 1]);
    fill_random (r, x, n);
    quantize_row_q4_K_ref (x, w, n);
    float s1, s2;
    vec_dot_q4_K_q8_K_ref ((int) n, &s1, w, k);
    vec_dot_q4_K_q8_K_x_ref ((int) n, &s2, w, kx);
    g_assert_cmpmem (&s1, sizeof s1, &s2, sizeof s2);
  }
  /* every level lands on its own slot */
  gboolean seen[QK_K] = { 0 };
  for (int j = 0; j < QK_K; j++) {
    g_assert_false (seen[q8_K_x_index (j)]);
    seen[q8_K_x_index (j)] = TRUE;
  }
  g_free (x);
  g_free (a);
  g_free (b);
  g_free (k);
  g_free (kx);
  g_free (w);
  g_rand_free (r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/quants/roundtrip", test_roundtrip);
  g_test_add_func ("/quants/vec-dot", test_vec_dot);
  g_test_add_func ("/quants/vec-dot-extremes", test_vec_dot_extremes);
  g_test_add_func ("/quants/quantize-activations", test_quantize_activations);
  g_test_add_func ("/quants/dequant-isa", test_dequant_isa);
  g_test_add_func ("/quants/active-isa", test_active_isa);
  g_test_add_func ("/quants/q8-K-x-layout", test_q8_K_x_layout);
  return g_test_run ();
}
