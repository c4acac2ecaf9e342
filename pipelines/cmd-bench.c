/* gst-prima: `prima bench`: prompt and decode speed, memory bandwidth and
 * decode efficiency (how close decode comes to the bandwidth bound).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "prima-commands.h"
#include "cli-args.h"
#include "forward.h"
#include "membw.h"

static double
seconds_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1e6;
}

int
prima_cmd_bench (int argc, char **argv)
{
  const char *model_path = NULL, *pp_list = "128,512";
  int n_threads = 0, n_gen = 64, reps = 2;
  gint64 bw_mib = 1024;
  gboolean help;
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &model_path, "FILE", "GGUF model (default: the embedded model)"},
    {"-t,--threads", CLI_INT, &n_threads, "N", "threads (default: all cores)"},
    {"-p,--n-prompt", CLI_STRING, &pp_list, "N,N", "prompt lengths to time (default 128,512; 0 to skip)"},
    {"-n,--n-gen", CLI_INT, &n_gen, "N", "tokens to decode (default 64; 0 to skip)"},
    {"-r,--repetitions", CLI_INT, &reps, "N", "repetitions of each test (default 2)"},
    {"--bandwidth-mib", CLI_INT64, &bw_mib, "MiB", "buffer size of the bandwidth probe (default 1024)"},
  };
  prima_model *model = NULL;
  prima_context *ctx = NULL;
  GError *error = NULL;
  GArray *pps;
  int max_pp = 1, status = 1;
  float *out = NULL;
  int32_t *tokens = NULL;
  double bandwidth, tg_rate = 0.0;
  guint64 weight_bytes;
  GRand *rand;

  if (!cli_parse ("bench", "[-m MODEL] [-t N] [-p 128,512] [-n 64]", options, G_N_ELEMENTS (options), argc, argv,
          &help, NULL))
    return 2;
  if (help)
    return 0;
  if (n_threads <= 0)
    n_threads = (int) MAX (1, sysconf (_SC_NPROCESSORS_ONLN));
  if (!(pps = prima_parse_ids ("bench", pp_list)))
    return 2;
  for (guint i = 0; i < pps->len; i++)
    max_pp = MAX (max_pp, g_array_index (pps, int32_t, i));
  if (!prima_open_model ("bench", model_path ? model_path : prima_default_model_path (), &model, NULL))
    goto out;
  weight_bytes = prima_model_weight_bytes (model, 0, model->hp.n_layer);
  printf ("model: %s (%s, %d layers, %d embd, %d vocab), %s\n", model->name, prima_arch_name (model->hp.arch),
      model->hp.n_layer, model->hp.n_embd, model->hp.n_vocab, gguf_path (model->file));
  printf ("weights read per decoded token: %.1f MiB; threads: %d; kernels: %s\n", weight_bytes / 1048576.0,
      n_threads, prima_isa_name (prima_active_isa ()));
  fflush (stdout);

  bandwidth = prima_measure_read_bandwidth (n_threads, (size_t) bw_mib << 20);
  printf ("memory read bandwidth (%d threads): %.2f GB/s\n", n_threads, bandwidth / 1e9);
  fflush (stdout);

  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = MAX (max_pp, n_gen + 1), .n_threads = n_threads},
      &error);
  if (ctx == NULL)
    goto fail;
  out = g_new (float, model->hp.n_vocab);
  tokens = g_new (int32_t, MAX (max_pp, 1));
  rand = g_rand_new_with_seed (1234);
  for (int i = 0; i < MAX (max_pp, 1); i++)
    tokens[i] = g_rand_int_range (rand, 0, model->hp.n_vocab);
  g_rand_free (rand);

  /* Touch every weight once so the first timing does not include page faults. */
  if (!prima_context_eval (ctx, 1, tokens, NULL, 0, out, FALSE, &error))
    goto fail;

  printf ("\n| test   | tokens/s | ms/token |\n|--------|----------|----------|\n");
  for (guint i = 0; i < pps->len; i++) {
    int n = g_array_index (pps, int32_t, i);
    double total = 0.0;
    if (n <= 0)
      continue;
    for (int r = 0; r < reps; r++) {
      gint64 t0 = g_get_monotonic_time ();
      if (!prima_context_eval (ctx, n, tokens, NULL, 0, out, FALSE, &error))
        goto fail;
      total += seconds_since (t0);
    }
    printf ("| pp%-4d | %8.2f | %8.3f |\n", n, n * reps / total, total * 1e3 / (n * reps));
    fflush (stdout);
  }
  if (n_gen > 0) {
    double total = 0.0;
    for (int r = 0; r < reps; r++) {
      int32_t tok = tokens[0];
      gint64 t0 = g_get_monotonic_time ();
      for (int pos = 0; pos < n_gen; pos++) {
        if (!prima_context_eval (ctx, 1, &tok, NULL, pos, out, FALSE, &error))
          goto fail;
        tok = (tok + 7) % model->hp.n_vocab;
      }
      total += seconds_since (t0);
    }
    tg_rate = n_gen * reps / total;
    printf ("| tg%-4d | %8.2f | %8.3f |\n", n_gen, tg_rate, total * 1e3 / (n_gen * reps));
    printf ("\ndecode reads %.2f GB/s of weights = %.1f%% of the measured bandwidth (decode efficiency)\n",
        weight_bytes * tg_rate / 1e9, 100.0 * weight_bytes * tg_rate / bandwidth);
  }
  status = 0;
  goto out;

fail:
  fprintf (stderr, "prima bench: %s\n", error->message);
  g_error_free (error);
out:
  g_free (out);
  g_free (tokens);
  prima_context_free (ctx);
  prima_model_free (model);
  g_array_free (pps, TRUE);
  return status;
}
