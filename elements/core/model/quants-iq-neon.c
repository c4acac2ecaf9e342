/* gst-prima: the IQ types' dot products with plain NEON (quants-iq-neon-impl.h).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#if defined(__aarch64__)

#define PRIMA_NEON_SFX(f) f##_neon
#define PRIMA_NEON_HELPERS_ONLY 1
#include "quants-neon-impl.h"
#include "quants-iq-neon-impl.h"

void
prima_quants_iq_neon_register (prima_type_traits *table)
{
  register_iq_neon (table);
}

#endif
