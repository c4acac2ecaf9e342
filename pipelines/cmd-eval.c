/* gst-prima: `prima eval`: run a prompt as one batch and write its logits.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <errno.h>
#include <string.h>

#include "prima-commands.h"
#include "cli-args.h"
#include "forward.h"

int
prima_cmd_eval (int argc, char **argv)
{
  const char *model_path = NULL, *prompt = NULL, *file = NULL, *ids_text = NULL, *logits_path = NULL;
  int n_threads = 0, n_batch = 512;
  gboolean help;
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &model_path, "FILE", "GGUF model (default: the embedded model)"},
    {"-p,--prompt", CLI_STRING, &prompt, "TEXT", "prompt (tokenized with BOS as the model says)"},
    {"-f,--file", CLI_STRING, &file, "FILE", "read the prompt from a file"},
    {"--tokens", CLI_STRING, &ids_text, "IDS", "evaluate these token ids instead of a text (\"1,2,3\")"},
    {"--logits", CLI_STRING, &logits_path, "FILE", "write n_tokens x n_vocab float32 logits (little-endian) here"},
    {"-t,--threads", CLI_INT, &n_threads, "N", "threads (default: all cores)"},
    {"-b,--batch-size", CLI_INT, &n_batch, "N", "tokens per compute chunk (default 512)"},
  };
  prima_model *model = NULL;
  prima_tokenizer *tok = NULL;
  prima_context *ctx = NULL;
  GArray *ids = NULL;
  float *logits = NULL;
  GError *error = NULL;
  char *text = NULL;
  int status = 1;

  if (!cli_parse ("eval", "[-m MODEL] -p TEXT --logits FILE", options, G_N_ELEMENTS (options), argc, argv, &help, NULL))
    return 2;
  if (help)
    return 0;
  if (file) {
    if (!(text = prima_read_prompt_file ("eval", file)))
      return 1;
    prompt = text;
  }
  if ((prompt == NULL) == (ids_text == NULL)) {
    fprintf (stderr, "prima eval: give either a prompt (-p/-f) or --tokens\n");
    g_free (text);
    return 2;
  }
  if (!prima_open_model ("eval", model_path ? model_path : prima_default_model_path (), &model, &tok))
    goto out;
  ids = prompt ? prima_tokenize (tok, prompt, -1, TRUE, TRUE) : prima_parse_ids ("eval", ids_text);
  if (ids == NULL)
    goto out;
  if (ids->len == 0) {
    fprintf (stderr, "prima eval: the prompt has no tokens\n");
    goto out;
  }
  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = (int) ids->len, .n_threads = n_threads,
      .n_batch = n_batch}, &error);
  if (ctx == NULL)
    goto fail;
  logits = g_try_malloc_n ((gsize) ids->len * model->hp.n_vocab, sizeof (float));
  if (logits == NULL) {
    fprintf (stderr, "prima eval: cannot allocate %u x %d logits\n", ids->len, model->hp.n_vocab);
    goto out;
  }
  if (!prima_context_eval (ctx, (int) ids->len, (const int32_t *) ids->data, NULL, 0, logits, TRUE, &error))
    goto fail;
  if (logits_path) {
    FILE *out = fopen (logits_path, "wb");
    size_t n = (size_t) ids->len * model->hp.n_vocab;
    if (out == NULL || fwrite (logits, sizeof (float), n, out) != n || fclose (out) != 0) {
      fprintf (stderr, "prima eval: cannot write %s: %s\n", logits_path, g_strerror (errno));
      goto out;
    }
  }
  for (guint i = 0; i < ids->len; i++)
    printf ("%s%d", i ? " " : "", g_array_index (ids, int32_t, i));
  printf ("\n");
  status = 0;
  goto out;

fail:
  fprintf (stderr, "prima eval: %s\n", error->message);
  g_error_free (error);
out:
  g_free (logits);
  prima_context_free (ctx);
  if (ids)
    g_array_free (ids, TRUE);
  prima_tokenizer_free (tok);
  prima_model_free (model);
  g_free (text);
  return status;
}
