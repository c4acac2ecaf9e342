/* gst-prima tests: IQ kernels (IQ4_NL, IQ4_XS, IQ2_XXS, IQ1_S, IQ1_M).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * - the traits table registers them with the right activation type;
 * - the scalar vec_dot equals a double-precision dot of the dequantized rows
 *   (so dot and dequantization agree on the format);
 * - every SIMD vec_dot the CPU runs equals the scalar one: bit for bit for
 *   IQ2_XXS / IQ1_S / IQ1_M (exact integer sums, same final float steps),
 *   within 1e-5 of sum |x_i y_i| for the IQ4 types (float summation order);
 *   random bytes are valid blocks once the fp16 scales are sane;
 * - dequantization is identical whatever ISA table is used;
 * - the IQ4 quantizers round-trip with a bounded error.
 * Bit-exactness against ggml's dequantization is tests/model/test-dequant-golden.c.
 */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "quants-iq.h"

static const prima_type iq_types[] = {
  PRIMA_TYPE_IQ4_NL, PRIMA_TYPE_IQ4_XS, PRIMA_TYPE_IQ2_XXS, PRIMA_TYPE_IQ1_S, PRIMA_TYPE_IQ1_M,
};

/* Row lengths: single blocks, odd block counts (SIMD tails), long rows. */
static const int row_lengths_32[] = { 32, 64, 96, 128, 160, 224, 1024, 4096 + 96 };
static const int row_lengths_256[] = { 256, 512, 768, 1280, 4096, 8192 + 256 };

/* A sane fp16 scale: random sign, magnitude 2^-12 .. 2^-2. */
static prima_fp16
random_scale (GRand *r)
{
  float v = (float) exp2 (g_rand_double_range (r, -12, -2));
  if (g_rand_boolean (r))
    v = -v;
  return prima_fp32_to_fp16 (v);
}

static void
random_bytes (GRand *r, void *p, size_t n)
{
  uint8_t *b = p;
  for (size_t i = 0; i < n; i++)
    b[i] = (uint8_t) g_rand_int_range (r, 0, 256);
}

/* Random weight blocks of an IQ type: random bytes, then sane scales. */
static void *
random_iq_row (GRand *r, prima_type type, int n)
{
  const size_t size = prima_row_size (type, n);
  uint8_t *q = g_malloc (size);
  random_bytes (r, q, size);
  switch (type) {
    case PRIMA_TYPE_IQ4_NL:
      for (int i = 0; i < n / QK4_NL; i++)
        ((block_iq4_nl *) q)[i].d = random_scale (r);
      break;
    case PRIMA_TYPE_IQ4_XS:
      for (int i = 0; i < n / QK_K; i++)
        ((block_iq4_xs *) q)[i].d = random_scale (r);
      break;
    case PRIMA_TYPE_IQ2_XXS:
      for (int i = 0; i < n / QK_K; i++)
        ((block_iq2_xxs *) q)[i].d = random_scale (r);
      break;
    case PRIMA_TYPE_IQ1_S:
      for (int i = 0; i < n / QK_K; i++)
        ((block_iq1_s *) q)[i].d = random_scale (r);
      break;
    case PRIMA_TYPE_IQ1_M:
      for (int i = 0; i < n / QK_K; i++) {
        /* The fp16 scale lives in the top nibbles of the 4 scale words. */
        block_iq1_m *b = &((block_iq1_m *) q)[i];
        const prima_fp16 d = random_scale (r);
        uint16_t sc[4];
        memcpy (sc, b->scales, sizeof sc);
        for (int k = 0; k < 4; k++)
          sc[k] = (uint16_t) ((sc[k] & 0x0fff) | (((d >> (4 * k)) & 0xf) << 12));
        memcpy (b->scales, sc, sizeof sc);
        g_assert_cmpuint (iq1m_block_scale (b), ==, d);
      }
      break;
    default:
      g_assert_not_reached ();
  }
  return q;
}

/* Random activation blocks: quants in [-127, 127] (what the Q8 quantizers
 * produce; -128 never occurs), consistent bsums. */
static void *
random_act_row (GRand *r, prima_type type, int n)
{
  if (type == PRIMA_TYPE_Q8_0) {
    block_q8_0 *y = g_new (block_q8_0, n / QK8_0);
    for (int i = 0; i < n / QK8_0; i++) {
      y[i].d = prima_fp32_to_fp16 (fabsf (prima_fp16_to_fp32 (random_scale (r))));
      for (int j = 0; j < QK8_0; j++)
        y[i].qs[j] = (int8_t) g_rand_int_range (r, -127, 128);
    }
    return y;
  }
  g_assert_cmpint (type, ==, PRIMA_TYPE_Q8_K);
  block_q8_K *y = g_new (block_q8_K, n / QK_K);
  for (int i = 0; i < n / QK_K; i++) {
    y[i].d = (float) g_rand_double_range (r, 1e-4, 1e-1);
    for (int j = 0; j < QK_K; j++)
      y[i].qs[j] = (int8_t) g_rand_int_range (r, -127, 128);
    for (int j = 0; j < QK_K / 16; j++) {
      int sum = 0;
      for (int k = 0; k < 16; k++)
        sum += y[i].qs[16 * j + k];
      y[i].bsums[j] = (int16_t) sum;
    }
  }
  return y;
}

static void
dequant_act (prima_type type, const void *vy, float *out, int n)
{
  if (type == PRIMA_TYPE_Q8_0) {
    const block_q8_0 *y = vy;
    for (int i = 0; i < n; i++)
      out[i] = prima_fp16_to_fp32 (y[i / QK8_0].d) * y[i / QK8_0].qs[i % QK8_0];
  } else {
    const block_q8_K *y = vy;
    for (int i = 0; i < n; i++)
      out[i] = y[i / QK_K].d * y[i / QK_K].qs[i % QK_K];
  }
}

static gboolean
exact_type (prima_type type)
{
  return type == PRIMA_TYPE_IQ2_XXS || type == PRIMA_TYPE_IQ1_S || type == PRIMA_TYPE_IQ1_M;
}

static void
test_registered (void)
{
  for (guint k = 0; k < G_N_ELEMENTS (iq_types); k++) {
    const prima_type type = iq_types[k];
    for (int isa = 0; isa < PRIMA_ISA_COUNT; isa++) {
      const prima_type_traits *t = prima_type_get_traits_isa (type, (prima_isa) isa);
      if (t == NULL)
        continue;
      g_assert_nonnull (t->to_float);
      g_assert_nonnull (t->vec_dot);
      g_assert_cmpint (t->vec_dot_type, ==, type == PRIMA_TYPE_IQ4_NL ? PRIMA_TYPE_Q8_0 : PRIMA_TYPE_Q8_K);
      const gboolean has_quantizer = type == PRIMA_TYPE_IQ4_NL || type == PRIMA_TYPE_IQ4_XS;
      g_assert_true ((t->from_float != NULL) == has_quantizer);
    }
  }
}

static void
test_vec_dot (void)
{
  GRand *r = g_rand_new_with_seed (1234);
  for (guint k = 0; k < G_N_ELEMENTS (iq_types); k++) {
    const prima_type type = iq_types[k];
    const prima_type_traits *ref = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR);
    const gboolean small = type == PRIMA_TYPE_IQ4_NL;
    const int *lengths = small ? row_lengths_32 : row_lengths_256;
    const guint n_lengths = small ? G_N_ELEMENTS (row_lengths_32) : G_N_ELEMENTS (row_lengths_256);
    int n_exact = 0, n_checked = 0;
    for (guint li = 0; li < n_lengths; li++) {
      const int n = lengths[li];
      for (int rep = 0; rep < 20; rep++) {
        void *x = random_iq_row (r, type, n);
        void *y = random_act_row (r, ref->vec_dot_type, n);
        float *xf = g_new (float, n), *yf = g_new (float, n);
        ref->to_float (x, xf, n);
        dequant_act (ref->vec_dot_type, y, yf, n);
        double dot = 0, bound = 0;
        for (int i = 0; i < n; i++) {
          dot += (double) xf[i] * yf[i];
          bound += fabs ((double) xf[i] * yf[i]);
        }
        float s_ref = NAN;
        ref->vec_dot (n, &s_ref, x, y);
        if (fabs (s_ref - dot) > 1e-5 * bound + 1e-30)
          g_error ("%s n=%d: scalar vec_dot %.9g, dequantized dot %.9g (bound %.3g)",
              ref->name, n, s_ref, dot, bound);
        for (int isa = PRIMA_ISA_AVX2; isa < PRIMA_ISA_COUNT; isa++) {
          const prima_type_traits *t = prima_type_get_traits_isa (type, (prima_isa) isa);
          if (t == NULL || t->vec_dot == ref->vec_dot)
            continue;
          float s = NAN;
          t->vec_dot (n, &s, x, y);
          n_checked++;
          n_exact += memcmp (&s, &s_ref, sizeof s) == 0;
          if (exact_type (type) ? memcmp (&s, &s_ref, sizeof s) != 0 : fabs (s - s_ref) > 1e-5 * bound + 1e-30)
            g_error ("%s n=%d %s: vec_dot %.9g, scalar %.9g (diff %.3g of bound %.3g)", ref->name, n,
                prima_isa_name ((prima_isa) isa), s, s_ref, fabs (s - s_ref), bound);
        }
        g_free (xf);
        g_free (yf);
        g_free (x);
        g_free (y);
      }
    }
    g_test_message ("%s: %d SIMD results checked, %d bit-identical to scalar", ref->name, n_checked, n_exact);
  }
  g_rand_free (r);
}

static void
test_dequant_isa (void)
{
  GRand *r = g_rand_new_with_seed (99);
  for (guint k = 0; k < G_N_ELEMENTS (iq_types); k++) {
    const prima_type type = iq_types[k];
    const int n = 2048;
    void *x = random_iq_row (r, type, n);
    float *a = g_new (float, n), *b = g_new (float, n);
    const prima_type_traits *ref = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR);
    ref->to_float (x, a, n);
    for (int i = 0; i < n; i++)
      g_assert_true (isfinite (a[i]));
    for (int isa = PRIMA_ISA_AVX2; isa < PRIMA_ISA_COUNT; isa++) {
      const prima_type_traits *t = prima_type_get_traits_isa (type, (prima_isa) isa);
      if (t == NULL)
        continue;
      memset (b, 0xff, n * sizeof *b);
      t->to_float (x, b, n);
      g_assert_cmpmem (a, n * sizeof *a, b, n * sizeof *b);
    }
    g_free (a);
    g_free (b);
    g_free (x);
  }
  g_rand_free (r);
}

static double
gauss (GRand *r)
{
  const double u = g_rand_double_range (r, 1e-12, 1.0), v = g_rand_double (r);
  return sqrt (-2 * log (u)) * cos (2 * G_PI * v);
}

/* quantize -> dequantize: relative RMS error per row under a bound set from
 * the format (4.25-4.5 bits on Gaussian data gives about 0.09), exact zeros
 * for zero blocks, and (IQ4_NL) a per-element bound. */
static void
test_iq4_roundtrip (void)
{
  GRand *r = g_rand_new_with_seed (7);
  const prima_type types[] = { PRIMA_TYPE_IQ4_NL, PRIMA_TYPE_IQ4_XS };
  for (guint k = 0; k < G_N_ELEMENTS (types); k++) {
    for (int isa = 0; isa < PRIMA_ISA_COUNT; isa++) {
      const prima_type_traits *t = prima_type_get_traits_isa (types[k], (prima_isa) isa);
      if (t == NULL)
        continue;
      const int n = 4096;
      float *x = g_new (float, n), *z = g_new (float, n);
      void *q = g_malloc (prima_row_size (types[k], n));
      double worst = 0;
      for (int rep = 0; rep < 8; rep++) {
        for (int i = 0; i < n; i += 32) {
          const double scale = exp (g_rand_double_range (r, -3, 3));
          for (int j = i; j < i + 32; j++)
            x[j] = (float) (scale * gauss (r) * (g_rand_int_range (r, 0, 64) == 0 ? 4 : 1));
        }
        memset (x + 256, 0, 256 * sizeof *x);   /* a zero super-block */
        t->from_float (x, q, n);
        t->to_float (q, z, n);
        double err = 0, sig = 0;
        for (int i = 0; i < n; i++) {
          err += ((double) x[i] - z[i]) * ((double) x[i] - z[i]);
          sig += (double) x[i] * x[i];
        }
        for (int i = 256; i < 512; i++)
          g_assert_cmpfloat (z[i], ==, 0.f);
        /* IQ4_NL: a value inside the span of the levels lands within half
         * the widest gap (23) of them; one outside it (clipped, after the
         * least-squares refit of the scale) within a fifth of the block's
         * largest magnitude. */
        if (types[k] == PRIMA_TYPE_IQ4_NL) {
          for (int b = 0; b < n / QK4_NL; b++) {
            const float d = prima_fp16_to_fp32 (((block_iq4_nl *) q)[b].d);
            const float lo = MIN (d * kvalues_iq4nl[0], d * kvalues_iq4nl[15]);
            const float hi = MAX (d * kvalues_iq4nl[0], d * kvalues_iq4nl[15]);
            float amax = 0.f;
            for (int j = b * 32; j < b * 32 + 32; j++)
              amax = MAX (amax, fabsf (x[j]));
            for (int j = b * 32; j < b * 32 + 32; j++) {
              if (x[j] >= lo && x[j] <= hi)
                g_assert_cmpfloat (fabsf (x[j] - z[j]), <=, 11.5f * fabsf (d) * 1.001f);
              else
                g_assert_cmpfloat (fabsf (x[j] - z[j]), <=, 0.2f * amax);
            }
          }
        }
        worst = MAX (worst, sqrt (err / sig));
      }
      g_test_message ("%s (%s): worst relative RMS round-trip error %.4f", t->name,
          prima_isa_name ((prima_isa) isa), worst);
      g_assert_cmpfloat (worst, <, types[k] == PRIMA_TYPE_IQ4_NL ? 0.12 : 0.13);
      g_free (x);
      g_free (z);
      g_free (q);
    }
  }
  g_rand_free (r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/quants-iq/registered", test_registered);
  g_test_add_func ("/quants-iq/vec-dot", test_vec_dot);
  g_test_add_func ("/quants-iq/dequant-isa", test_dequant_isa);
  g_test_add_func ("/quants-iq/iq4-roundtrip", test_iq4_roundtrip);
  return g_test_run ();
}
