/* gst-prima tests: the residency engine's read-ahead plan (which windows it
 * reads ahead, and when), driven by hand through layer_begin/end: no
 * timing, no memory cap.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>

#include "model.h"
#include "residency.h"
#include "test-common.h"

static prima_model *
load (void)
{
  GError *error = NULL;
  char *path = test_data_path ("stories260K-f32.gguf");
  prima_model *m = prima_model_load (path, &error);
  g_assert_no_error (error);
  g_free (path);
  return m;
}

static guint64
layer_bytes (const prima_model *m, int first, int last, gboolean head)
{
  GArray *r = prima_model_window_ranges (m, first, last, head);
  guint64 b = prima_byte_ranges_total (r);
  g_array_unref (r);
  return b;
}

static guint
prefetches (prima_residency *r)
{
  prima_residency_stats st;
  prima_residency_sync (r);
  prima_residency_get_stats (r, &st);
  return st.n_prefetches;
}

static void
run_window (prima_residency *r, int first, int last)
{
  for (int l = first; l < last; l++) {
    prima_residency_layer_begin (r, l);
    prima_residency_layer_end (r, l);
  }
}

/* One-layer windows, all streamed, a budget of three of them: the engine
 * reads ahead two windows beside the computing one, and the next as soon
 * as one is released; the output head is a window of its own. */
static void
test_read_ahead (void)
{
  prima_model *m = load ();
  const int n = m->hp.n_layer;
  prima_residency_params p = { .prefetch = PRIMA_PREFETCH_ADVISE, .release = PRIMA_RELEASE_ALWAYS };
  prima_residency *r;
  prima_residency_stats st;
  guint64 biggest = 0;

  g_assert_cmpint (n, >=, 5);
  for (int l = 0; l < n; l++)
    biggest = MAX (biggest, layer_bytes (m, l, l + 1, FALSE));
  p.budget = 3 * biggest;
  g_unsetenv ("PRIMA_PREFETCH_AHEAD");
  r = prima_residency_new (m, &p);
  prima_residency_add_windows (r, 0, n, 1, TRUE);
  g_assert_cmpint (prima_residency_n_windows (r), ==, n + 1);

  prima_residency_layer_begin (r, 0);
  g_assert_cmpuint (prefetches (r), ==, 2);     /* windows 1 and 2 */
  prima_residency_layer_end (r, 0);
  g_assert_cmpuint (prefetches (r), ==, 3);     /* window 0 released: 3 */
  run_window (r, 1, 2);
  g_assert_cmpuint (prefetches (r), ==, 4);     /* 4 */
  /* the rest of the first pass, then two tokens: every window (the head's
   * too) read once per token, and what is read ahead and not yet released
   * never above the budget */
  for (int tok = 0; tok < 3; tok++) {
    guint before = prefetches (r);
    for (int l = tok == 0 ? 2 : 0; l <= n; l++) {
      prima_residency_layer_begin (r, l);
      prima_residency_sync (r);
      prima_residency_get_stats (r, &st);
      g_assert_cmpuint (st.prefetched_bytes - MIN (st.prefetched_bytes, st.released_bytes), <=, p.budget);
      prima_residency_layer_end (r, l);
    }
    if (tok > 0)
      g_assert_cmpuint (prefetches (r) - before, ==, (guint) n + 1);
  }
  prima_residency_get_stats (r, &st);
  g_assert_cmpint (st.n_kept, ==, 0);
  g_assert_cmpuint (st.n_releases, ==, 3 * ((guint) n + 1));
  {
    /* every layer's window, then the head's (page-aligned: neighbours may share a page) */
    guint64 sum = layer_bytes (m, n, n, TRUE);
    for (int l = 0; l < n; l++)
      sum += layer_bytes (m, l, l + 1, FALSE);
    g_assert_cmpuint (st.window_bytes, ==, sum);
  }
  prima_residency_free (r);

  /* PRIMA_PREFETCH_AHEAD=1, the former read-ahead: one window ahead only */
  g_setenv ("PRIMA_PREFETCH_AHEAD", "1", TRUE);
  r = prima_residency_new (m, &p);
  prima_residency_add_windows (r, 0, n, 1, TRUE);
  prima_residency_layer_begin (r, 0);
  g_assert_cmpuint (prefetches (r), ==, 1);
  prima_residency_layer_end (r, 0);
  g_assert_cmpuint (prefetches (r), ==, 1);
  run_window (r, 1, 2);
  g_assert_cmpuint (prefetches (r), ==, 2);
  prima_residency_free (r);
  g_unsetenv ("PRIMA_PREFETCH_AHEAD");
  prima_model_free (m);
}

/* A budget with room for everything: every window is kept and, after the
 * first pass, nothing is read again. */
static void
test_all_kept (void)
{
  prima_model *m = load ();
  const int n = m->hp.n_layer;
  prima_residency_params p = { .prefetch = PRIMA_PREFETCH_ADVISE, .release = PRIMA_RELEASE_AUTO };
  prima_residency *r;
  prima_residency_stats st;
  guint after_first;

  p.budget = 4 * layer_bytes (m, 0, n, TRUE);
  r = prima_residency_new (m, &p);
  prima_residency_add_windows (r, 0, n, 2, TRUE);
  for (int tok = 0; tok < 3; tok++) {
    run_window (r, 0, n + 1);
    if (tok == 0)
      after_first = prefetches (r);
  }
  g_assert_cmpuint (prefetches (r), ==, after_first);
  prima_residency_get_stats (r, &st);
  g_assert_cmpint (st.n_kept, ==, st.n_windows);
  g_assert_cmpuint (st.n_releases, ==, 0);
  prima_residency_free (r);
  prima_model_free (m);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/residency/read-ahead", test_read_ahead);
  g_test_add_func ("/residency/all-kept", test_all_kept);
  return g_test_run ();
}
