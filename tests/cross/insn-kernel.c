/* gst-prima tools: calls one type's vec_dot of one ISA N times over a row of 4096 elements, for
 * counting its instructions under qemu (tests/cross/count-insns.sh runs it with N and 2N calls: the
 * difference is N calls' worth, without the set-up). Prints the dot product so none is optimized away.
 *   insn-kernel TYPE ISA N      e.g. insn-kernel Q4_K dotprod 200
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quants.h"

int
main (int argc, char **argv)
{
  const int64_t n = 4096;
  prima_type type;
  int isa = -1;
  if (argc != 4 || !prima_type_from_name (argv[1], &type)) {
    fprintf (stderr, "usage: insn-kernel TYPE ISA N\n");
    return 2;
  }
  for (int i = 0; i < PRIMA_ISA_COUNT; i++)
    if (strcmp (argv[2], prima_isa_name ((prima_isa) i)) == 0)
      isa = i;
  const prima_type_traits *ref = prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR);
  const prima_type_traits *t = isa >= 0 ? prima_type_get_traits_isa (type, (prima_isa) isa) : NULL;
  if (ref == NULL || ref->vec_dot == NULL || t == NULL) {
    fprintf (stderr, "insn-kernel: no %s kernel for %s on this CPU\n", argv[2], argv[1]);
    return 1;
  }
  const prima_type_traits *yt = prima_type_get_traits_isa (t->vec_dot_type, (prima_isa) isa);
  float *x = g_new (float, n), *y = g_new (float, n), s = 0, total = 0;
  void *qx = g_malloc0 (prima_row_size (type, n)), *qy = g_malloc0 (prima_row_size (t->vec_dot_type, n));
  GRand *r = g_rand_new_with_seed (5);
  for (int64_t i = 0; i < n; i++) {
    x[i] = (float) g_rand_double_range (r, -1, 1);
    y[i] = (float) g_rand_double_range (r, -1, 1);
  }
  ref->from_float (x, qx, n);
  yt->from_float (y, qy, n);
  const long calls = atol (argv[3]);
  for (long c = 0; c < calls; c++) {
    t->vec_dot ((int) n, &s, qx, qy);
    total += s;
  }
  printf ("%s %s: %ld calls of %" G_GINT64_FORMAT " blocks of %" G_GINT64_FORMAT ", sum %g\n", argv[1], argv[2], calls,
      n / ref->blck_size, ref->blck_size, total);
  g_rand_free (r);
  g_free (x);
  g_free (y);
  g_free (qx);
  g_free (qy);
  return 0;
}
