/* gst-prima: single-thread vec_dot throughput per weight type (a bench, not a test).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * bench-vec-dot MODEL.gguf [PREFETCH_BYTES]
 * bench-vec-dot --type TYPE [N_IN]      (random weights, in cache only)
 *
 * For each weight matrix kind of the model's layers (wq .. ffn_down), one
 * thread runs vec_dot over (a) the first rows of the layer-0 matrix that fit
 * in 512 KiB, again and again: the kernel's speed with the weights in cache
 * (its compute bound; the best of 50 passes), and (b) that matrix in every layer, in order, as
 * decode reads them from the mapping: the streaming speed. A kernel whose
 * cached GB/s is not well above the per-thread bandwidth (prima bench -t 1)
 * cannot reach the bandwidth at decode. Times are the thread's CPU time, so
 * that other programs on the machine do not count. */
#include "model.h"
#include "tensor-types.h"
#include "membw.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

/* Thread CPU time: on a shared machine, the time this thread ran. */
static double
now (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
prefetch_page_starts (const uint8_t *row, size_t bytes)
{
  const uintptr_t a = (uintptr_t) row, end = a + bytes;
  for (uintptr_t page = (a + 4095) & ~(uintptr_t) 4095; page < end; page += 4096)
    for (int line = 0; line < 4; line++)
      __builtin_prefetch ((const void *) (page + 64 * line), 0, 0);
}

static float sink;

/* GB/s of vec_dot over rows [0, n_rows) of w, reps times. */
static double
run_rows (const prima_type_traits *tr, const uint8_t *w, size_t row_bytes, int n_in, int n_rows,
    const void *xq, int reps, gboolean prefetch)
{
  double t0 = now ();
  float s, acc = 0.0f;
  for (int k = 0; k < reps; k++)
    for (int r = 0; r < n_rows; r++) {
      if (prefetch && r + 2 < n_rows)
        prefetch_page_starts (w + (size_t) (r + 2) * row_bytes, row_bytes);
      tr->vec_dot (n_in, &s, w + (size_t) r * row_bytes, xq);
      acc += s;
    }
  sink += acc;
  return (double) row_bytes * n_rows * reps / (now () - t0) / 1e9;
}

/* In-cache speed of one type on random weights (quantized by the type's
 * own quantizer): a type without a model at hand. */
static int
bench_type (const char *name, int n_in)
{
  prima_type type;
  const prima_type_traits *tr, *vt;
  if (!prima_type_from_name (name, &type) || !(tr = prima_type_get_traits (type)) || !tr->from_float
      || !tr->vec_dot || n_in % tr->blck_size) {
    fprintf (stderr, "bench-vec-dot: no quantizer and vec_dot for type %s with rows of %d\n", name, n_in);
    return 1;
  }
  vt = prima_type_get_traits (tr->vec_dot_type);
  const size_t row_bytes = prima_row_size (type, n_in);
  const int n_rows = MAX (1, (int) ((512 << 10) / row_bytes));
  float *x = g_new (float, (size_t) n_in * n_rows);
  uint8_t *w = g_malloc (row_bytes * n_rows);
  void *xq = g_malloc (n_in * sizeof (float) + 64);
  GRand *rand = g_rand_new_with_seed (1);
  for (size_t i = 0; i < (size_t) n_in * n_rows; i++)
    x[i] = (float) g_rand_double_range (rand, -1.0, 1.0);
  for (int r = 0; r < n_rows; r++)
    tr->from_float (x + (size_t) r * n_in, w + r * row_bytes, n_in);
  if (tr->vec_dot_type == PRIMA_TYPE_F32)
    memcpy (xq, x, n_in * sizeof (float));
  else
    vt->from_float (x, xq, n_in);
  double hot = 0;
  for (int pass = 0; pass < 50; pass++)
    hot = MAX (hot, run_rows (tr, w, row_bytes, n_in, n_rows, xq, MAX (1, (int) ((4 << 20) / (n_rows * row_bytes))),
            FALSE));
  printf ("| random | %s | %d x %d | %.2f | |\n", name, n_rows, n_in, hot);
  g_rand_free (rand);
  g_free (x);
  g_free (w);
  g_free (xq);
  return 0;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  prima_model *m;
  if (argc >= 3 && strcmp (argv[1], "--type") == 0) {
    printf ("| matrix | type | rows x n_in | cached GB/s | streamed GB/s |\n|---|---|---|---|---|\n");
    return bench_type (argv[2], argc > 3 ? atoi (argv[3]) : 2048);
  }
  /* software prefetch: -1 the page starts two rows ahead (forward.c), 0
   * none, else the page starts this many bytes ahead */
  long dist = argc > 2 ? atol (argv[2]) : -1;
  if (argc < 2) {
    fprintf (stderr, "usage: bench-vec-dot MODEL.gguf [PREFETCH_BYTES]\n");
    return 2;
  }
  m = prima_model_load (argv[1], &error);
  if (!m) {
    fprintf (stderr, "bench-vec-dot: %s\n", error->message);
    return 1;
  }
  printf ("probe, 1 thread: %.2f GB/s\n", prima_measure_read_bandwidth (1, (size_t) 512 << 20) / 1e9);
  printf ("| matrix | type | rows x n_in | cached GB/s | streamed GB/s |\n|---|---|---|---|---|\n");
  const char *names[] = { "wq", "wk", "wv", "wo", "ffn_gate", "ffn_up", "ffn_down" };
  for (int k = 0; k < 7; k++) {
    const prima_layer_weights *l0 = &m->layers[0];
    const gguf_tensor *ts0[] = { l0->wq, l0->wk, l0->wv, l0->wo, l0->ffn_gate, l0->ffn_up, l0->ffn_down };
    const gguf_tensor *w = ts0[k];
    const prima_type_traits *tr = prima_type_get_traits (w->type);
    const prima_type_traits *vt = prima_type_get_traits (tr->vec_dot_type);
    const int n_in = (int) w->ne[0], n_out = (int) w->ne[1];
    const size_t row_bytes = prima_row_size (w->type, n_in);
    float *x = g_new (float, n_in);
    void *xq = g_malloc (n_in * sizeof (float) + 64);
    for (int i = 0; i < n_in; i++)
      x[i] = (float) ((i * 7919) % 1000) / 1000.0f - 0.5f;
    if (tr->vec_dot_type == PRIMA_TYPE_F32)
      memcpy (xq, x, n_in * sizeof (float));
    else
      vt->from_float (x, xq, n_in);
    int hot_rows = MAX (1, MIN (n_out, (int) ((512 << 10) / row_bytes)));
    run_rows (tr, w->data, row_bytes, n_in, hot_rows, xq, 2, FALSE);
    /* best of 50 short passes: what the kernel does when nothing else runs */
    double hot = 0;
    for (int pass = 0; pass < 50; pass++)
      hot = MAX (hot, run_rows (tr, w->data, row_bytes, n_in, hot_rows, xq,
              MAX (1, (int) ((4 << 20) / (hot_rows * row_bytes))), FALSE));
    double t0 = 0, bytes = 0;
    float acc = 0;
    /* pass 0 maps the pages (and reads any not in the page cache) */
    for (int pass = 0; pass < 2; pass++) {
      t0 = now ();
      bytes = 0;
      for (int il = 0; il < m->hp.n_layer; il++) {
        const prima_layer_weights *l = &m->layers[il];
        const gguf_tensor *ts[] = { l->wq, l->wk, l->wv, l->wo, l->ffn_gate, l->ffn_up, l->ffn_down };
        const uint8_t *wd = ts[k]->data;
        for (int r = 0; r < n_out; r++) {
          float s;
          if (dist < 0) {
            if (r + 2 < n_out)
              prefetch_page_starts (wd + (size_t) (r + 2) * row_bytes, row_bytes);
          } else if (dist > 0) {
            prefetch_page_starts (wd + (size_t) r * row_bytes + dist, row_bytes);
          }
          tr->vec_dot (n_in, &s, wd + (size_t) r * row_bytes, xq);
          acc += s;
        }
        bytes += (double) row_bytes * n_out;
      }
    }
    sink += acc;
    double stream = bytes / (now () - t0) / 1e9;
    printf ("| %s | %s | %d x %d | %.2f | %.2f |\n", names[k], prima_type_name (w->type), n_out, n_in, hot, stream);
    g_free (x);
    g_free (xq);
  }
  prima_model_free (m);
  return sink == 12345.0f;
}
