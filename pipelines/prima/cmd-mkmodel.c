/* gst-prima: `prima mkmodel`: write a random-weight model of a given shape.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <inttypes.h>
#include <glib/gi18n-lib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli-args.h"
#include "prima-commands.h"
#include "gguf.h"
#include "mkmodel.h"

/* The library reports, the program prints: the plan, then one updated line
 * on a terminal, else a line every 10%. */
static void
show_progress (const prima_mk_progress *pr, gpointer user_data)
{
  int *last_percent = user_data;
  int percent = pr->total_bytes ? (int) (100.0 * pr->done_bytes / pr->total_bytes) : 100;
  gboolean last = pr->n_done == (int) pr->n_tensors;

  if (pr->tensor == NULL) {
    fprintf (stderr, _("mkmodel: %s %s, %" PRId64 " layers, %" PRId64 " embd, %" PRId64 " vocab: %u tensors, "
        "%.2f GB, %d threads -> %s\n"), pr->arch, pr->file_type, pr->n_layer, pr->n_embd, pr->n_vocab, pr->n_tensors,
        pr->total_bytes / 1e9, pr->n_threads, pr->out_path);
  } else if (isatty (2)) {
    fputc ('\r', stderr);
    fprintf (stderr, _("mkmodel: %3d%%  tensor %d/%u  %.1f/%.1f GB  %.0f s  %-32.32s"), percent, pr->n_done,
        pr->n_tensors, pr->done_bytes / 1e9, pr->total_bytes / 1e9, pr->seconds, pr->tensor);
    if (last)
      fputc ('\n', stderr);
  } else if (percent / 10 != *last_percent / 10 || last) {
    fprintf (stderr, _("mkmodel: %d%% (tensor %d/%u, %.1f GB, %.0f s)\n"), percent, pr->n_done, pr->n_tensors,
        pr->done_bytes / 1e9, pr->seconds);
  }
  if (pr->tensor)
    *last_percent = percent;
  fflush (stderr);
}

int
prima_cmd_mkmodel (int argc, char **argv)
{
  const char *arch_name = "llama", *preset = "tiny", *type = "Q4_K_M", *vocab = NULL;
  gint64 n_embd = 0, n_layer = 0, n_head = 0, n_head_kv = 0, n_ff = 0, n_ctx = 0, seed = 1;
  gboolean tied = FALSE, untied = FALSE, quiet = FALSE, help = FALSE;
  GPtrArray *positional = NULL;
  GError *error = NULL;
  prima_mk_params p;
  prima_mk_arch arch;
  uint32_t ftype;
  int rc = 1, last_percent = -1;
  const cli_option options[] = {
    {"--arch", CLI_STRING, &arch_name, "ARCH", N_("llama or qwen2 (default llama)")},
    {"--preset", CLI_STRING, &preset, "NAME", N_("shape: tiny, 1b, 8b, 14b, 32b, 70b (default tiny)")},
    {"--n-embd", CLI_INT64, &n_embd, "N", N_("override the embedding width (0: the preset's)"), CLI_RANGE (0, G_MAXINT)},
    {"--n-layer", CLI_INT64, &n_layer, "N", N_("override the number of layers (0: the preset's)"), CLI_RANGE (0, G_MAXINT)},
    {"--n-head", CLI_INT64, &n_head, "N", N_("override the number of attention heads (0: the preset's)"), CLI_RANGE (0, G_MAXINT)},
    {"--n-head-kv", CLI_INT64, &n_head_kv, "N", N_("override the number of KV heads (0: the preset's)"), CLI_RANGE (0, G_MAXINT)},
    {"--n-ff", CLI_INT64, &n_ff, "N", N_("override the feed-forward width (0: the preset's)"), CLI_RANGE (0, G_MAXINT)},
    {"--n-ctx", CLI_INT64, &n_ctx, "N", N_("override the training context length (0: the preset's)"), CLI_RANGE (0, G_MAXINT)},
    {"--type", CLI_STRING, &type, "TYPE", N_("Q4_K_M, Q5_K_M or a tensor type (Q8_0, Q4_0, Q6_K, F16, F32, ...)")},
    {"--vocab-from", CLI_STRING, &vocab, "VOCAB.gguf", N_("copy the vocabulary and tokenizer keys from this file")},
    {"--seed", CLI_INT64, &seed, "N", N_("random seed (default 1)")},
    {"--tied", CLI_FLAG, &tied, NULL, N_("no output.weight: reuse token_embd (qwen2 tiny/1b default)")},
    {"--untied", CLI_FLAG, &untied, NULL, N_("write a separate output.weight")},
    {"-q,--quiet", CLI_FLAG, &quiet, NULL, N_("no progress on stderr")},
  };

  if (!cli_parse ("mkmodel", "--vocab-from VOCAB.gguf [OPTIONS] OUT.gguf", options, G_N_ELEMENTS (options),
          argc, argv, &help, &positional))
    return 2;
  if (help)
    return 0;
  if (positional == NULL || positional->len != 2) {
    fprintf (stderr, _("prima mkmodel: expected one output file (see 'prima mkmodel --help')\n"));
    goto out_usage;
  }
  if (vocab == NULL) {
    fprintf (stderr, _("prima mkmodel: --vocab-from VOCAB.gguf is required\n"));
    goto out_usage;
  }
  if (!prima_mk_arch_from_name (arch_name, &arch)) {
    fprintf (stderr, _("prima mkmodel: unknown architecture '%s' (llama or qwen2)\n"), arch_name);
    goto out_usage;
  }
  if (!prima_mk_preset (preset, arch, &p)) {
    fprintf (stderr, _("prima mkmodel: unknown preset '%s' (tiny, 1b, 8b, 14b, 32b, 70b)\n"), preset);
    goto out_usage;
  }
  if (!prima_mk_file_type_id (type, &ftype) || strlen (type) >= sizeof p.file_type) {
    fprintf (stderr, _("prima mkmodel: unknown type '%s'\n"), type);
    goto out_usage;
  }
  if (tied && untied) {
    fprintf (stderr, _("prima mkmodel: --tied and --untied exclude each other\n"));
    goto out_usage;
  }
  g_strlcpy (p.file_type, type, sizeof p.file_type);
  if (n_embd)
    p.n_embd = n_embd;
  if (n_layer)
    p.n_layer = n_layer;
  if (n_head)
    p.n_head = n_head;
  if (n_head_kv)
    p.n_head_kv = n_head_kv;
  if (n_ff)
    p.n_ff = n_ff;
  if (n_ctx)
    p.n_ctx = n_ctx;
  if (tied || untied)
    p.tied_output = tied;
  p.seed = (uint64_t) seed;
  if (!quiet) {
    p.progress = show_progress;
    p.progress_data = &last_percent;
  }

  if (!prima_mk_write (&p, vocab, g_ptr_array_index (positional, 0), &error)) {
    fprintf (stderr, _("prima mkmodel: %s\n"), error->message);
    g_error_free (error);
  } else {
    rc = 0;
  }
  g_ptr_array_unref (positional);
  return rc;

out_usage:
  if (positional)
    g_ptr_array_unref (positional);
  return 2;
}
