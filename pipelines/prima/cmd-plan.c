/* gst-prima: `prima plan`: solve the layer assignment offline from saved device profiles.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <glib/gi18n-lib.h>
#include <string.h>

#include "cli-args.h"
#include "prima-commands.h"
#include "halda.h"
#include "halda-io.h"

/* A hand-written plan (-lw), evaluated by the model: windows in the
 * profiles' order, the uneven last round on a prefix of the cycle. */
static halda_plan *
plan_from_lw (const halda_model *desc, GArray *devs, const halda_options *opt, const char *lw, GError **error)
{
  char **parts = g_strsplit (lw, ",", -1);
  int M = (int) devs->len, W = 0, head = 0, k_f, r, before = 0;
  halda_plan *plan = g_new0 (halda_plan, 1);

  plan->n_devices = M;
  plan->dev = g_new0 (halda_device_plan, M);
  if ((int) g_strv_length (parts) != M) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "-lw has %u windows for %d devices", g_strv_length (parts), M);
    goto fail;
  }
  for (int m = 0; m < M; m++) {
    char *end;
    gint64 v = g_ascii_strtoll (parts[m], &end, 10);
    if (end == parts[m] || *end || v < 0 || v > desc->n_layer) {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "-lw: '%s' is not a window size", parts[m]);
      goto fail;
    }
    plan->dev[m].w = (int) v;
    W += (int) v;
    if (g_array_index (devs, halda_device, m).is_head)
      head = m;
  }
  if (W < 1) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "-lw gives no layers");
    goto fail;
  }
  plan->W = W;
  k_f = desc->n_layer / W;
  r = desc->n_layer - k_f * W;
  for (int i = 0; i < M; i++) {
    int d = (head + 1 + i) % M;
    plan->dev[d].p = CLAMP (r - before, 0, plan->dev[d].w);
    before += plan->dev[d].w;
  }
  g_strfreev (parts);
  if (!halda_plan_evaluate (desc, (const halda_device *) (void *) devs->data, M, opt, plan, error)) {
    halda_plan_free (plan);
    return NULL;
  }
  return plan;
fail:
  g_strfreev (parts);
  halda_plan_free (plan);
  return NULL;
}

int
prima_cmd_plan (int argc, char **argv)
{
  const char *profiles = NULL, *model_path = NULL, *preset = NULL, *arch_name = "llama", *type = "Q4_K_M";
  const char *lw = NULL;
  int n_ctx = 0, n_rounds = 0, positions = -1;
  gint64 n_vocab = 0;
  float min_disk = 100;
  gboolean even = FALSE, prima_algo = FALSE, no_comm = FALSE, json = FALSE, help = FALSE, merge = FALSE;
  gboolean per_round = FALSE, fill = FALSE;
  const cli_option options[] = {
    {"--profiles", CLI_STRING, &profiles, "FILE.json", N_("device profiles: a JSON array, one object per device")},
    {"-m,--model", CLI_STRING, &model_path, "FILE", N_("GGUF model (default: the embedded model)")},
    {"-c,--ctx-size", CLI_INT, &n_ctx, "N", N_("context size for the KV cache (default 0: min(training, 4096))"),
      CLI_RANGE (0, G_MAXINT)},
    {"--positions", CLI_INT, &positions, "N",
      N_("cached positions a decoded token attends to, on average (default: the context size, the worst case)"),
      CLI_RANGE (0, G_MAXINT)},
    {"-k,--rounds", CLI_INT, &n_rounds, "K", N_("only plans with K rounds per token (default 0: choose)"), CLI_RANGE (0, G_MAXINT)},
    {"--even", CLI_FLAG, &even, NULL, N_("only cycles W that divide the layer count (prima.cpp's rule)")},
    {"--prima", CLI_FLAG, &prima_algo, NULL, N_("prima.cpp's procedure (fixed point, even rounds, removal)")},
    {"--no-comm", CLI_FLAG, &no_comm, NULL, N_("leave out the network term (as prima.cpp)")},
    {"--min-disk", CLI_FLOAT, &min_disk, "MB/s", N_("slower disks cannot stream weights (default 100)"),
      CLI_RANGE (0, G_MAXFLOAT)},
    {"--preset", CLI_STRING, &preset, "NAME", N_("plan for a shape instead of a file: tiny, 1b, 8b, 14b, 32b, 70b")},
    {"--arch", CLI_STRING, &arch_name, "ARCH", N_("with --preset: llama or qwen2 (default llama)")},
    {"--type", CLI_STRING, &type, "TYPE", N_("with --preset: Q4_K_M, Q4_K, Q8_0, ... (default Q4_K_M)")},
    {"--n-vocab", CLI_INT64, &n_vocab, "N", N_("with --preset: vocabulary size (default 128256, qwen2 152064)"),
      CLI_RANGE (0, G_MAXINT)},
    {"--json", CLI_FLAG, &json, NULL, N_("print the plan as JSON")},
    {"-lw,--layer-window", CLI_STRING, &lw, "W0,W1,...",
      N_("evaluate this plan instead of solving: layers per cycle of each device, in the profiles' order (CPU only)")},
    {"--merge", CLI_FLAG, &merge, NULL,
      N_("merge figures of different devices within their noise, as the ring's setup does (docs/scheduler-plans.md)")},
    {"--prefetch-per-round", CLI_FLAG, &per_round, NULL,
      N_("streaming devices read ahead after each of their windows, not once per token (docs/scheduler-plans.md)")},
    {"--read-ahead-fill", CLI_FLAG, &fill, NULL,
      N_("streaming devices read ahead as far as their memory allows, after each window (docs/memory.md)")},
  };
  prima_model *model = NULL;
  halda_model desc;
  halda_options opt;
  halda_plan *plan = NULL;
  GArray *devs = NULL;
  GError *error = NULL;
  char name[128];
  int status = 1;

  if (!cli_parse ("plan", "--profiles FILE.json [-m MODEL | --preset NAME] [-c N] [OPTIONS]", options,
          G_N_ELEMENTS (options), argc, argv, &help, NULL))
    return 2;
  if (help)
    return 0;
  if (profiles == NULL) {
    fprintf (stderr, _("prima plan: --profiles FILE.json is required (see 'prima plan --help')\n"));
    return 2;
  }
  if (preset && model_path) {
    fprintf (stderr, _("prima plan: -m and --preset exclude each other\n"));
    return 2;
  }
  if (n_ctx < 0 || n_rounds < 0 || n_vocab < 0 || !(min_disk >= 0)) {
    fprintf (stderr, _("prima plan: -c, -k, --n-vocab and --min-disk take numbers >= 0\n"));
    return 2;
  }
  if (!(devs = halda_devices_load (profiles, &error))) {
    fprintf (stderr, _("prima plan: %s\n"), error->message);
    g_error_free (error);
    return 1;
  }

  if (preset) {
    prima_mk_params shape;
    prima_mk_arch arch;
    if (!prima_mk_arch_from_name (arch_name, &arch)) {
      fprintf (stderr, _("prima plan: unknown architecture '%s' (llama or qwen2)\n"), arch_name);
      status = 2;
      goto out;
    }
    if (!prima_mk_preset (preset, arch, &shape)) {
      fprintf (stderr, _("prima plan: unknown preset '%s' (tiny, 1b, 8b, 14b, 32b, 70b)\n"), preset);
      status = 2;
      goto out;
    }
    if (strlen (type) >= sizeof shape.file_type) {
      fprintf (stderr, _("prima plan: unknown type '%s'\n"), type);
      status = 2;
      goto out;
    }
    g_strlcpy (shape.file_type, type, sizeof shape.file_type);
    if (n_vocab == 0)
      n_vocab = arch == PRIMA_MK_ARCH_QWEN2 ? 152064 : 128256;
    if (n_ctx == 0)
      n_ctx = (int) MIN (shape.n_ctx, 4096);
    if (!halda_model_from_shape (&shape, n_vocab, n_ctx, &desc, &error)) {
      fprintf (stderr, _("prima plan: %s\n"), error->message);
      g_error_free (error);
      status = 2;
      goto out;
    }
    g_snprintf (name, sizeof name, "%s %s preset, %s", prima_mk_arch_name (arch), preset, type);
  } else {
    if (!prima_open_model ("plan", model_path ? model_path : prima_default_model_path (), &model, NULL))
      goto out;
    if (n_ctx == 0)
      n_ctx = MIN (model->hp.n_ctx_train > 0 ? model->hp.n_ctx_train : 4096, 4096);
    halda_model_from_prima (model, n_ctx, &desc);
    g_snprintf (name, sizeof name, "%s", model->name ? model->name : gguf_path (model->file));
  }

  if (positions >= 0)
    halda_model_set_attention_positions (&desc, MIN (positions, n_ctx));
  halda_options_init (&opt);
  opt.algo = prima_algo ? HALDA_ALGO_PRIMA : HALDA_ALGO_EXACT;
  opt.n_rounds = n_rounds;
  opt.even_only = even;
  opt.no_comm = no_comm;
  opt.min_disk_speed = min_disk * 1e6;
  opt.prefetch_per_round = per_round;
  opt.prefetch_fill = fill;
  if (merge) {
    opt.merge_tolerance = HALDA_PROFILE_NOISE;
    opt.merge_tolerance_time = HALDA_PROFILE_NOISE_TIME;
  }
  if (lw)
    plan = plan_from_lw (&desc, devs, &opt, lw, &error);
  else
    plan = halda_solve (&desc, (const halda_device *) (void *) devs->data, (int) devs->len, &opt, &error);
  if (plan == NULL) {
    fprintf (stderr, _("prima plan: %s\n"), error->message);
    g_error_free (error);
    goto out;
  }
  if (json) {
    JsonNode *root = halda_plan_to_json (plan, (const halda_device *) (void *) devs->data);
    JsonGenerator *gen = json_generator_new ();
    char *text;
    json_generator_set_pretty (gen, TRUE);
    json_generator_set_root (gen, root);
    text = json_generator_to_data (gen, NULL);
    printf ("%s\n", text);
    g_free (text);
    g_object_unref (gen);
    json_node_unref (root);
  } else {
    printf (_("plan for %s, context %d (attention at %.0f positions), %u devices (%s)\n"), name, n_ctx,
        desc.attention_positions, devs->len, prima_algo ? "prima.cpp's procedure" : "exact");
    halda_plan_print (stdout, plan, (const halda_device *) (void *) devs->data, &desc);
  }
  status = 0;
out:
  halda_plan_free (plan);
  if (model)
    prima_model_free (model);
  g_array_free (devs, TRUE);
  return status;
}
