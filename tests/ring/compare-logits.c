/* gst-prima tests: two float32 logits files (prima eval --logits) agree
 * within a relative tolerance: |a - b| <= tol * max(|a|, |b|) + 1e-6.
 * Usage: compare-logits A B [TOL]; exit 0 when they agree, 1 otherwise.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int
main (int argc, char **argv)
{
  gchar *a = NULL, *b = NULL;
  gsize na = 0, nb = 0;
  double tol = argc > 3 ? atof (argv[3]) : 1e-5, worst = 0;
  gsize bad = 0;

  if (argc < 3 || !g_file_get_contents (argv[1], &a, &na, NULL) || !g_file_get_contents (argv[2], &b, &nb, NULL)) {
    fprintf (stderr, "compare-logits: cannot read the files\n");
    return 2;
  }
  if (na != nb || na % sizeof (float) != 0 || na == 0) {
    fprintf (stderr, "compare-logits: sizes differ (%zu and %zu bytes)\n", na, nb);
    return 1;
  }
  for (gsize i = 0; i < na / sizeof (float); i++) {
    double x = ((const float *) a)[i], y = ((const float *) b)[i];
    double d = fabs (x - y), m = MAX (fabs (x), fabs (y));
    if (d > tol * m + 1e-6)
      bad++;
    if (m > 0)
      worst = MAX (worst, d / m);
  }
  printf ("%zu logits, largest relative difference %.3g, %zu beyond %.0e\n", na / sizeof (float), worst, bad, tol);
  g_free (a);
  g_free (b);
  return bad ? 1 : 0;
}
