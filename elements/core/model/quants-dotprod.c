/* gst-prima: ARM64 kernels with the ARMv8.2 dot-product instructions (SDOT: four int8 products summed
 * into each int32 lane): the block types' and IQ types' integer dot products of quants-neon-impl.h and
 * quants-iq-neon-impl.h, compiled with -march=armv8.2-a+dotprod and only called when the kernel's
 * hwcaps report asimddp (cpu-features.c).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#if defined(__aarch64__)

#define PRIMA_NEON_DOTPROD 1
#define PRIMA_NEON_SFX(f) f##_dotprod
#include "quants-neon-impl.h"
#include "quants-iq-neon-impl.h"

void
prima_quants_dotprod_register (prima_type_traits *table)
{
  register_int_dotprod (table);
  register_iq_dotprod (table);
}

#endif
