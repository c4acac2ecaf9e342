/* gst-prima: which SIMD kernels this CPU can run.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "tensor-types.h"

#include <string.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__) && !defined(PRIMA_NO_LINUX_APIS)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif
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
#if defined(__aarch64__)
  /* Advanced SIMD is part of every ARMv8-A core; dotprod and i8mm are
   * optional until ARMv8.4 / ARMv8.6 and come from the kernel's hwcaps. */
#if defined(__linux__) && !defined(PRIMA_NO_LINUX_APIS)
  const unsigned long hw = getauxval (AT_HWCAP), hw2 = getauxval (AT_HWCAP2);
  if ((hw & HWCAP_ASIMDDP) && (hw2 & HWCAP2_I8MM))
    return PRIMA_ISA_I8MM;
  if (hw & HWCAP_ASIMDDP)
    return PRIMA_ISA_DOTPROD;
#elif defined(__ARM_FEATURE_MATMUL_INT8) && defined(__ARM_FEATURE_DOTPROD)
  return PRIMA_ISA_I8MM;        /* no hwcaps (macOS): what the compiler targets */
#elif defined(__ARM_FEATURE_DOTPROD)
  return PRIMA_ISA_DOTPROD;
#endif
  return PRIMA_ISA_NEON;
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

gboolean
prima_isa_runs (prima_isa isa)
{
  const prima_isa best = prima_cpu_best_isa ();
  if (isa == PRIMA_ISA_SCALAR)
    return TRUE;
  if (isa >= PRIMA_ISA_COUNT || isa > best)
    return FALSE;
  /* the two families do not include each other */
  return (isa >= PRIMA_ISA_NEON) == (best >= PRIMA_ISA_NEON);
}

const char *
prima_isa_name (prima_isa isa)
{
  switch (isa) {
    case PRIMA_ISA_I8MM:
      return "i8mm";
    case PRIMA_ISA_DOTPROD:
      return "dotprod";
    case PRIMA_ISA_NEON:
      return "neon";
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
        if (strcmp (env, prima_isa_name ((prima_isa) i)) == 0 && prima_isa_runs ((prima_isa) i))
          active = (prima_isa) i;
    }
    g_once_init_leave (&once, 1);
  }
  return active;
}
