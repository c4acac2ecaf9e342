/* gst-prima tests: greedy generation through the core API with a residency
 * policy, reporting tokens, TPOT and the memory accounting (the program the
 * memory tests and tests/memory/bench-memory.sh run under a memory cap).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * mem-run MODEL [--prefetch none|advise|force|default] [--release auto|never|always|default]
 *   [--n-gen N] [--threads N] [--window-layers N] [--budget-mib N] [--drop-cache] [--progress]
 * Prints key=value lines on stdout: tokens=..., tpot_ms=..., and the figures
 * of docs/memory.md. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forward.h"
#include "memstat.h"

static int
argmax (const float *v, int n)
{
  int best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

/* The engine reports, the tool prints (non-terminal style: one line a window). */
static void
print_progress (const prima_residency_progress *p, gpointer user_data)
{
  if (p->window_done)
    fprintf (stderr, "loading weights: layer %d/%d, %.2f GB, %.1f s\n", p->layer, p->n_layers, p->bytes / 1e9,
        p->seconds);
}

int
main (int argc, char **argv)
{
  const char *path = NULL;
  prima_context_params cp = { 0 };
  int n_gen = 8;
  gboolean drop_cache = FALSE;
  prima_memwatch watch;
  GError *error = NULL;
  prima_model *model;
  prima_context *ctx;
  float *logits;
  int32_t prompt[] = { 1, 450, 4996, 17354, 1701 };     /* any ids inside the vocabulary */
  const int n_prompt = G_N_ELEMENTS (prompt);
  GString *tokens = g_string_new (NULL);
  gint64 t_load, t_prompt, t_first = 0, t_last = 0;
  guint64 max_resident = 0, kv_alloc = 0, kv_res = 0;
  prima_residency_stats st;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp (a, "--prefetch") == 0 && v) {
      if (!prima_prefetch_mode_from_name (v, &cp.prefetch))
        goto usage;
      i++;
    } else if (strcmp (a, "--release") == 0 && v) {
      if (!prima_release_policy_from_name (v, &cp.release))
        goto usage;
      i++;
    } else if (strcmp (a, "--n-gen") == 0 && v) {
      n_gen = atoi (v);
      i++;
    } else if (strcmp (a, "--threads") == 0 && v) {
      cp.n_threads = atoi (v);
      i++;
    } else if (strcmp (a, "--window-layers") == 0 && v) {
      cp.window_layers = atoi (v);
      i++;
    } else if (strcmp (a, "--budget-mib") == 0 && v) {
      cp.weight_budget = (guint64) g_ascii_strtoull (v, NULL, 10) << 20;
      i++;
    } else if (strcmp (a, "--drop-cache") == 0) {
      drop_cache = TRUE;
    } else if (strcmp (a, "--progress") == 0) {
      cp.progress = print_progress;
    } else if (a[0] != '-' && path == NULL) {
      path = a;
    } else {
      goto usage;
    }
  }
  if (path == NULL)
    goto usage;

  /* Before anything is mapped: the baseline of what others could get. */
  prima_memwatch_start (&watch);
  if (drop_cache) {
    /* Pages cached earlier were charged to whoever read them; dropping them
     * makes this process fault (and be charged for) every page it uses. */
    int fd = open (path, O_RDONLY);
    if (fd >= 0) {
      posix_fadvise (fd, 0, 0, POSIX_FADV_DONTNEED);
      close (fd);
    }
  }
  t_load = g_get_monotonic_time ();
  model = prima_model_load (path, &error);
  if (model == NULL) {
    fprintf (stderr, "mem-run: %s\n", error->message);
    return 1;
  }
  cp.n_ctx = n_prompt + n_gen + 1;
  ctx = prima_context_new (model, &cp, &error);
  if (ctx == NULL) {
    fprintf (stderr, "mem-run: %s\n", error->message);
    return 1;
  }
  printf ("load_ms=%.1f\n", (g_get_monotonic_time () - t_load) / 1e3);
  logits = g_new (float, model->hp.n_vocab);
  for (int i = 0; i < n_prompt; i++)
    prompt[i] %= model->hp.n_vocab;

  t_prompt = g_get_monotonic_time ();
  if (!prima_context_eval (ctx, n_prompt, prompt, NULL, 0, logits, FALSE, &error))
    goto fail;
  printf ("prompt_ms=%.1f\n", (g_get_monotonic_time () - t_prompt) / 1e3);
  fflush (stdout);
  for (int i = 0; i < n_gen; i++) {
    int32_t next = argmax (logits, model->hp.n_vocab);
    prima_residency_stats s;
    g_string_append_printf (tokens, "%s%d", i ? "," : "", next);
    if (i == 0)
      t_first = g_get_monotonic_time ();
    t_last = g_get_monotonic_time ();
    prima_memwatch_sample (&watch);
    prima_residency_get_stats (prima_context_residency (ctx), &s);
    max_resident = MAX (max_resident, s.resident_bytes);
    if (i == n_gen - 1)
      break;
    if (!prima_context_eval (ctx, 1, &next, NULL, n_prompt + i, logits, FALSE, &error))
      goto fail;
    fprintf (stderr, "mem-run: token %d/%d, %.0f ms\n", i + 2, n_gen, (g_get_monotonic_time () - t_last) / 1e3);
  }
  prima_residency_sync (prima_context_residency (ctx));
  prima_memwatch_sample (&watch);
  prima_residency_get_stats (prima_context_residency (ctx), &st);
  prima_context_kv_bytes (ctx, &kv_alloc, &kv_res);

  printf ("tokens=%s\n", tokens->str);
  printf ("tpot_ms=%.1f\n", n_gen > 1 ? (t_last - t_first) / 1e3 / (n_gen - 1) : 0.0);
  printf ("policy=%s+%s\n", prima_prefetch_mode_name (st.prefetch), prima_release_policy_name (st.release));
  printf ("windows=%d kept=%d window_mib=%.1f kept_mib=%.1f budget_mib=%.1f\n", st.n_windows, st.n_kept,
      st.window_bytes / 1048576.0, st.kept_bytes / 1048576.0,
      st.budget == G_MAXUINT64 ? -1.0 : st.budget / 1048576.0);
  printf ("resident_weights_mib=%.1f max_resident_weights_mib=%.1f\n", st.resident_bytes / 1048576.0,
      max_resident / 1048576.0);
  printf ("prefetched_mib=%.1f released_mib=%.1f helper_busy_s=%.2f\n", st.prefetched_bytes / 1048576.0,
      st.released_bytes / 1048576.0, st.helper_busy_s);
  printf ("kv_alloc_mib=%.2f kv_resident_mib=%.2f\n", kv_alloc / 1048576.0, kv_res / 1048576.0);
  printf ("device_mib=%.1f cgroup=v%d start_available_mib=%.1f min_available_mib=%.1f\n",
      watch.start.total / 1048576.0, watch.start.cgroup_version, watch.start.available / 1048576.0,
      watch.min_available / 1048576.0);
  printf ("page_cache_mib=%.1f anon_mib=%.1f\n", watch.last.file / 1048576.0, watch.last.anon / 1048576.0);
  printf ("page_cache_pressure=%.4f\n", watch.start.total ? (double) st.resident_bytes / watch.start.total : 0.0);
  printf ("memory_pressure=%.4f\n", prima_memwatch_pressure (&watch));
  prima_context_free (ctx);
  prima_model_free (model);
  g_free (logits);
  g_string_free (tokens, TRUE);
  return 0;

fail:
  fprintf (stderr, "mem-run: %s\n", error->message);
  return 1;
usage:
  fprintf (stderr, "usage: mem-run MODEL [--prefetch none|advise|force] [--release auto|never|always] "
      "[--n-gen N] [--threads N] [--window-layers N] [--budget-mib N] [--drop-cache] [--progress]\n");
  return 2;
}
