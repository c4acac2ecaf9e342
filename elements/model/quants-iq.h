/* gst-prima: block layouts of the IQ ("importance") quantized types and their
 * lookup grids (bit-exact with the GGUF format).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "quants.h"

#define QK4_NL 32
typedef struct {
  prima_fp16 d;
  uint8_t qs[QK4_NL / 2];       /* indices into the non-linear value table */
} block_iq4_nl;
_Static_assert (sizeof (block_iq4_nl) == 18, "wrong iq4_nl block size");

typedef struct {
  prima_fp16 d;
  uint16_t scales_h;
  uint8_t scales_l[QK_K / 64];
  uint8_t qs[QK_K / 2];
} block_iq4_xs;
_Static_assert (sizeof (block_iq4_xs) == 136, "wrong iq4_xs block size");

typedef struct {
  prima_fp16 d;
  uint16_t qs[QK_K / 8];
} block_iq2_xxs;
_Static_assert (sizeof (block_iq2_xxs) == 66, "wrong iq2_xxs block size");

typedef struct {
  prima_fp16 d;
  uint8_t qs[QK_K / 8];
  uint16_t qh[QK_K / 32];
} block_iq1_s;
_Static_assert (sizeof (block_iq1_s) == 50, "wrong iq1_s block size");

/* IQ1_M has no separate fp16 scale: it is spread over the top nibbles of scales. */
typedef struct {
  uint8_t qs[QK_K / 8];
  uint8_t qh[QK_K / 16];
  uint8_t scales[QK_K / 32];
} block_iq1_m;
_Static_assert (sizeof (block_iq1_m) == 56, "wrong iq1_m block size");
