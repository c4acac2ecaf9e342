/* gst-prima: the head of a pipelined ring for `prima run` (DESIGN.md section 3).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "ring-head.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model.h"
#include "prima-pipeline.h"
#include "ring-auth.h"
#include "ring-schedule.h"

#define CMD(ro) ((ro)->command ? (ro)->command : "run")

gboolean
prima_ring_active (const PrimaRingOptions *ro)
{
  return ro->world > 1 || ro->local_ring > 1;
}

gboolean
prima_ring_deal (const char *command, int n_layer, int world, const char *lw, int k, char ***windows_out,
    int *k_out)
{
  int *w = g_new0 (int, world), W = 0, cycles, remaining, pos = 0;
  GString **win = g_new0 (GString *, world);
  gchar **parts = NULL;
  gboolean ok = FALSE;

  if (lw && *lw) {
    parts = g_strsplit_set (lw, ", ", -1);
    if (g_strv_length (parts) != (guint) world) {
      fprintf (stderr, "prima %s: -lw \"%s\" gives %u windows for %d devices\n", command, lw,
          g_strv_length (parts), world);
      goto out;
    }
    for (int r = 0; r < world; r++) {
      char *end;
      w[r] = (int) g_ascii_strtoll (parts[r], &end, 10);
      if (*end || w[r] <= 0) {
        fprintf (stderr, "prima %s: -lw: \"%s\" is not a positive number of layers (a device without layers "
            "is not supported yet)\n", command, parts[r]);
        goto out;
      }
    }
  } else {
    /* even: the same share per device and cycle, the rest one more each */
    int per = n_layer / (MAX (k, 1) * world), extra = n_layer % world;
    if (per < 1) {
      fprintf (stderr, "prima %s: %d layers cannot go round %d devices %d times\n", command, n_layer, world,
          MAX (k, 1));
      goto out;
    }
    for (int r = 0; r < world; r++)
      w[r] = per + (k <= 1 && r < extra ? 1 : 0);
  }
  for (int r = 0; r < world; r++)
    W += w[r];
  cycles = (n_layer + W - 1) / W;
  if (k > 0 && k != cycles) {
    fprintf (stderr, "prima %s: -lw \"%s\" (%d layers a cycle) makes %d rounds of %d layers, not -k %d\n", command,
        lw ? lw : "", W, cycles, n_layer, k);
    goto out;
  }
  for (int r = 0; r < world; r++)
    win[r] = g_string_new (NULL);
  for (int c = 0; c < cycles; c++) {
    remaining = n_layer - pos;
    if (remaining >= W) {
      for (int i = 0; i < world; i++) {
        int r = (i + 1) % world;        /* 1, 2, ..., M-1, 0 */
        g_string_append_printf (win[r], "%s%d-%d", win[r]->len ? "," : "", pos, pos + w[r]);
        pos += w[r];
      }
    } else {
      /* the short last cycle keeps its end: 0 last, then M-1, ... */
      int *take = g_new0 (int, world), left = remaining;
      for (int i = world - 1; i >= 0 && left > 0; i--) {
        int r = (i + 1) % world;
        take[r] = MIN (w[r], left);
        left -= take[r];
      }
      for (int i = 0; i < world; i++) {
        int r = (i + 1) % world;
        if (take[r] == 0)
          continue;
        g_string_append_printf (win[r], "%s%d-%d", win[r]->len ? "," : "", pos, pos + take[r]);
        pos += take[r];
      }
      g_free (take);
    }
  }
  *windows_out = g_new0 (char *, world + 1);
  for (int r = 0; r < world; r++)
    (*windows_out)[r] = g_string_free (win[r], FALSE);
  *k_out = cycles;
  ok = TRUE;
out:
  if (!ok)
    for (int r = 0; r < world; r++)
      if (win[r])
        g_string_free (win[r], TRUE);
  g_free (win);
  g_free (w);
  g_strfreev (parts);
  return ok;
}

char *
prima_ring_plan_json (int n_layer, int n_ctx, int world, char **windows, const char *next, int port)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "{\"type\":\"plan\",\"id\":1,\"n_layer\":%d,\"n_ctx\":%d,\"ranks\":[", n_layer, n_ctx);
  for (int r = 0; r < world; r++) {
    gchar **parts = g_strsplit (windows[r], ",", -1);
    g_string_append_printf (s, "%s{\"rank\":%d,\"gpu_layers\":0,\"windows\":[", r ? "," : "", r);
    for (guint i = 0; parts[i]; i++) {
      int a = 0, b = 0;
      sscanf (parts[i], "%d-%d", &a, &b);
      g_string_append_printf (s, "%s[%d,%d]", i ? "," : "", a, b);
    }
    g_string_append (s, "]}");
    g_strfreev (parts);
  }
  g_string_append (s, "]}");
  return g_string_free (s, FALSE);
}

static gboolean
spawn_workers (PrimaRingOptions *ro, const char *model, const char *key, int n_ctx, int n_threads)
{
  char *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  gchar **envp = g_environ_setenv (g_get_environ (), PRIMA_CLUSTER_KEY_ENV, key, TRUE);

  ro->workers = g_new0 (GPid, ro->world);
  for (int r = 1; r < ro->world; r++) {
    GError *err = NULL;
    char *world = g_strdup_printf ("%d", ro->world), *rank = g_strdup_printf ("%d", r);
    char *port = g_strdup_printf ("%d", ro->port), *ctx = g_strdup_printf ("%d", n_ctx);
    char *threads = g_strdup_printf ("%d", n_threads);
    char *argv[] = { self_exe ? self_exe : (char *) "prima", (char *) "worker", (char *) "--world", world,
      (char *) "--rank", rank, (char *) "--master", (char *) "127.0.0.1", (char *) "--next", (char *) "127.0.0.1",
      (char *) "--port", port, (char *) "-m", (char *) model, (char *) "-c", ctx, (char *) "-t", threads, NULL };
    gboolean ok = g_spawn_async (NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &ro->workers[r], &err);
    g_free (world);
    g_free (rank);
    g_free (port);
    g_free (ctx);
    g_free (threads);
    if (!ok) {
      fprintf (stderr, "prima %s: cannot start local worker %d: %s\n", CMD (ro), r, err->message);
      g_error_free (err);
      g_strfreev (envp);
      g_free (self_exe);
      return FALSE;
    }
    ro->n_workers = r;
  }
  g_strfreev (envp);
  g_free (self_exe);
  return TRUE;
}

gboolean
prima_ring_head_setup (PrimaRingOptions *ro, GstElement *pipeline, const char *model_path, int n_ctx,
    int n_threads)
{
  GError *err = NULL;
  prima_model *model;
  char **windows = NULL, *plan, *url, *key = NULL;
  int k = 0, n_layer, n_ctx_train;
  PrimaRingSetup setup = { 0 };
  gboolean ok;

  if (ro->local_ring > 1)
    ro->world = ro->local_ring;
  if (ro->rank != 0) {
    fprintf (stderr, "prima %s: runs the head (--rank 0); start the other ranks with `prima worker`\n", CMD (ro));
    return FALSE;
  }
  if (ro->port <= 0)
    ro->port = PRIMA_RING_DEFAULT_PORT;
  if (ro->ring_timeout_s < 0) {
    fprintf (stderr, "prima %s: --ring-timeout %d: give seconds, or 0 to wait forever\n", CMD (ro), ro->ring_timeout_s);
    return FALSE;
  }
  model = prima_model_load (model_path, &err);
  if (model == NULL) {
    fprintf (stderr, "prima %s: %s\n", CMD (ro), err->message);
    g_error_free (err);
    return FALSE;
  }
  n_layer = model->hp.n_layer;
  n_ctx_train = model->hp.n_ctx_train;
  prima_model_free (model);
  /* -lw is checked before any worker starts; the setup round deals it again */
  if (ro->lw && !prima_ring_deal (CMD (ro), n_layer, ro->world, ro->lw, ro->k, &windows, &k))
    return FALSE;
  g_clear_pointer (&windows, g_strfreev);
  if (n_ctx <= 0 || n_ctx > n_ctx_train)
    n_ctx = MIN (n_ctx_train, 4096);

  if (ro->local_ring > 1) {
    key = prima_cluster_key_generate_hex ();
    if (!spawn_workers (ro, model_path, key, n_ctx, n_threads)) {
      g_free (key);
      return FALSE;
    }
  }
  /* The setup round (ring-schedule.h): without -lw every device profiles
   * itself and the head solves with Halda; devices without layers leave. */
  {
    prima_cluster_key *ck = prima_cluster_key_resolve (key ? key : ro->cluster_key, ro->cluster_key_file, &err);
    PrimaRingSetupArgs sa = { CMD (ro), ro->world, 0, ro->port, ro->next, ck, model_path, n_ctx, n_threads,
      ro->lw, ro->k, ro->decode_positions, ro->ring_timeout_s };
    if (ck == NULL) {
      fprintf (stderr, "prima %s: %s\n", CMD (ro), err->message);
      g_error_free (err);
      g_free (key);
      return FALSE;
    }
    ok = prima_ring_setup_run (&sa, &setup);
    prima_cluster_key_unref (ck);
    if (!ok) {
      g_free (key);
      return FALSE;
    }
    windows = g_steal_pointer (&setup.windows);
    k = setup.k;
    ro->world = setup.world;
    ro->predicted_s = setup.predicted_s;
  }
  fprintf (stderr, "prima %s: ring of %d devices, %d round%s per token:", CMD (ro), ro->world, k, k == 1 ? "" : "s");
  for (int r = 0; r < ro->world; r++)
    fprintf (stderr, " rank %d [%s]", r, windows[r]);
  fprintf (stderr, "\n");
  plan = prima_ring_plan_json (n_layer, n_ctx, ro->world, windows, ro->next, ro->port);
  url = g_steal_pointer (&setup.next_url);
  prima_pipeline_set (pipeline, "layers", "windows", windows[0], NULL);
  prima_pipeline_set (pipeline, "ring-out", "url", url, "rank", 0u, "peer-rank", 1 % ro->world, "world", (guint) ro->world,
      "plan", plan, NULL);
  prima_pipeline_set (pipeline, "ring-in", "port", (guint) ro->port, "rank", 0u, "peer-rank", ro->world - 1, NULL);
  if (key || ro->cluster_key) {
    prima_pipeline_set (pipeline, "ring-out", "cluster-key", key ? key : ro->cluster_key, NULL);
    prima_pipeline_set (pipeline, "ring-in", "cluster-key", key ? key : ro->cluster_key, NULL);
  } else if (ro->cluster_key_file) {
    prima_pipeline_set (pipeline, "ring-out", "cluster-key-file", ro->cluster_key_file, NULL);
    prima_pipeline_set (pipeline, "ring-in", "cluster-key-file", ro->cluster_key_file, NULL);
  }
  ok = TRUE;
  if (key)
    memset (key, 0, strlen (key));
  g_free (key);
  g_free (url);
  g_free (plan);
  g_strfreev (windows);
  return ok;
}

gboolean
prima_ring_head_finish (PrimaRingOptions *ro, gboolean kill_now)
{
  gboolean ok = TRUE;

  for (int r = 1; r <= ro->n_workers; r++) {
    gint64 end = g_get_monotonic_time () + (kill_now ? 0 : 3 * G_USEC_PER_SEC);
    int status = 0;
    pid_t got = 0;
    while ((got = waitpid (ro->workers[r], &status, WNOHANG)) == 0 && g_get_monotonic_time () < end)
      g_usleep (10 * 1000);
    if (got == 0) {
      kill (ro->workers[r], SIGTERM);
      g_usleep (200 * 1000);
      if (waitpid (ro->workers[r], &status, WNOHANG) == 0) {
        kill (ro->workers[r], SIGKILL);
        waitpid (ro->workers[r], &status, 0);
      }
      ok = FALSE;
    } else if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
      ok = FALSE;
    }
    g_spawn_close_pid (ro->workers[r]);
  }
  g_clear_pointer (&ro->workers, g_free);
  ro->n_workers = 0;
  return ok;
}
