/* gst-prima: which SIMD kernels this CPU can run.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "tensor-types.h"

#include <string.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#if defined(__x86_64__)
/* BMI2 and F16C by CPUID: clang's __builtin_cpu_supports does not know them. */
static gboolean
has_bmi2_f16c (void)
{
  unsigned a, b, c, d;
  gboolean f16c, bmi2;
  if (!__get_cpuid (1, &a, &b, &c, &d))
    return FALSE;
  f16c = (c >> 29) & 1;
  if (!__get_cpuid_count (7, 0, &a, &b, &c, &d))
    return FALSE;
  bmi2 = (b >> 8) & 1;
  return f16c && bmi2;
}
#endif

static prima_isa
detect_best_isa (void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
      && __builtin_cpu_supports ("avx512vl") && __builtin_cpu_supports ("avx512dq")
      && __builtin_cpu_supports ("avx512vnni") && __builtin_cpu_supports ("fma") && has_bmi2_f16c ())
    return PRIMA_ISA_AVX512;
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma") && has_bmi2_f16c ())
    return PRIMA_ISA_AVX2;
#endif
  return PRIMA_ISA_SCALAR;
}

/* Cached: CPUID traps to the hypervisor in a VM and costs microseconds. */
prima_isa
prima_cpu_best_isa (void)
{
  static gsize once = 0;
  static prima_isa best;
  if (g_once_init_enter (&once)) {
    best = detect_best_isa ();
    g_once_init_leave (&once, 1);
  }
  return best;
}

const char *
prima_isa_name (prima_isa isa)
{
  switch (isa) {
    case PRIMA_ISA_AVX512:
      return "avx512";
    case PRIMA_ISA_AVX2:
      return "avx2";
    default:
      return "scalar";
  }
}

/* PRIMA_ISA lets tests and users pin a lower ISA (never a higher one than the
 * CPU has), so every kernel path stays exercised on an AVX-512 machine. */
prima_isa
prima_active_isa (void)
{
  static gsize once = 0;
  static prima_isa active;
  if (g_once_init_enter (&once)) {
    prima_isa best = prima_cpu_best_isa ();
    const char *env = g_getenv ("PRIMA_ISA");
    active = best;
    if (env != NULL) {
      for (int i = 0; i < PRIMA_ISA_COUNT; i++)
        if (strcmp (env, prima_isa_name ((prima_isa) i)) == 0 && (prima_isa) i <= best)
          active = (prima_isa) i;
    }
    g_once_init_leave (&once, 1);
  }
  return active;
}
