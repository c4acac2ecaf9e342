/* gst-prima: `prima run`: generate text from a prompt, with llama-cli's flags.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <string.h>

#include "prima-commands.h"
#include "cli-args.h"
#include "forward.h"
#include "sampler.h"

/* Length of the longest prefix of buf that ends on a UTF-8 character
 * boundary, so a character split over two tokens is printed whole. */
static gsize
complete_utf8_prefix (const char *buf, gsize len)
{
  gsize i = len;
  int back = 0;
  while (i > 0 && back < 4) {
    unsigned char c = (unsigned char) buf[i - 1];
    if ((c & 0xC0) != 0x80) {
      int need = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
      return (back + 1 >= need) ? len : i - 1;
    }
    i--;
    back++;
  }
  return len;
}

int
prima_cmd_run (int argc, char **argv)
{
  const char *model_path = NULL, *prompt = NULL, *file = NULL, *ids_out = NULL, *gpu_mem = NULL;
  int n_predict = -1, n_ctx = 4096, n_threads = 0, n_batch = 512, n_gpu_layers = 0;
  gboolean ignore_eos = FALSE, no_display_prompt = FALSE, help;
  prima_sampler_params sp;
  gint64 seed = -1;
  prima_sampler_params_init (&sp);
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &model_path, "FILE", "GGUF model (default: the embedded model)"},
    {"-p,--prompt", CLI_STRING, &prompt, "TEXT", "prompt to start the generation with"},
    {"-f,--file", CLI_STRING, &file, "FILE", "read the prompt from a file"},
    {"-n,--n-predict", CLI_INT, &n_predict, "N", "tokens to predict (default -1: until EOS or the context is full)"},
    {"-c,--ctx-size", CLI_INT, &n_ctx, "N", "context size (default 4096, at most the model's)"},
    {"-t,--threads", CLI_INT, &n_threads, "N", "threads (default: all cores)"},
    {"-b,--batch-size", CLI_INT, &n_batch, "N", "prompt tokens per compute chunk (default 512)"},
    {"-s,--seed", CLI_INT64, &seed, "N", "random seed (default -1: random)"},
    {"--temp", CLI_FLOAT, &sp.temperature, "T", "temperature (default 0.8; 0 = greedy)"},
    {"--top-k", CLI_INT, &sp.top_k, "N", "top-k sampling (default 40, 0 = off)"},
    {"--top-p", CLI_FLOAT, &sp.top_p, "P", "top-p sampling (default 0.95, 1.0 = off)"},
    {"--min-p", CLI_FLOAT, &sp.min_p, "P", "min-p sampling (default 0.05, 0.0 = off)"},
    {"--repeat-penalty", CLI_FLOAT, &sp.repeat_penalty, "F", "penalize repeated tokens (default 1.0 = off)"},
    {"--repeat-last-n", CLI_INT, &sp.penalty_last_n, "N", "tokens the penalties look back over (default 64)"},
    {"--frequency-penalty", CLI_FLOAT, &sp.frequency_penalty, "F", "frequency penalty (default 0.0 = off)"},
    {"--presence-penalty", CLI_FLOAT, &sp.presence_penalty, "F", "presence penalty (default 0.0 = off)"},
    {"--ignore-eos", CLI_FLAG, &ignore_eos, NULL, "keep generating after end-of-sequence"},
    {"--no-display-prompt", CLI_FLAG, &no_display_prompt, NULL, "print only the generated text"},
    {"-ngl,--gpu-layers,--n-gpu-layers", CLI_INT, &n_gpu_layers, "N", "layers to offload to a GPU (no GPU backend yet)"},
    {"--gpu-mem", CLI_STRING, &gpu_mem, "GiB", "GPU memory to use (no GPU backend yet)"},
    {"--ids-out", CLI_STRING, &ids_out, "FILE", "write the generated token ids to FILE"},
  };
  prima_model *model = NULL;
  prima_tokenizer *tok = NULL;
  prima_context *ctx = NULL;
  prima_sampler *sampler = NULL;
  GArray *ids = NULL, *generated = NULL;
  GString *pending = g_string_new (NULL);
  GError *error = NULL;
  float *logits = NULL;
  char *text = NULL;
  int status = 1;
  gint64 t0, t1, t2;

  if (!cli_parse ("run", "[-m MODEL] -p TEXT [-n N] [--temp T]", options, G_N_ELEMENTS (options), argc, argv,
          &help, NULL))
    return 2;
  if (help)
    return 0;
  if (n_gpu_layers > 0 || gpu_mem)
    fprintf (stderr, "prima run: warning: no GPU backend in this build; -ngl/--gpu-mem are ignored\n");
  sp.seed = seed < 0 ? 0xFFFFFFFFu : (guint64) seed;
  if (file) {
    if (!(text = prima_read_prompt_file ("run", file)))
      return 1;
    prompt = text;
  }
  if (prompt == NULL)
    prompt = "";
  if (!prima_open_model ("run", model_path ? model_path : prima_default_model_path (), &model, &tok))
    goto out;
  if (n_ctx <= 0 || n_ctx > model->hp.n_ctx_train)
    n_ctx = model->hp.n_ctx_train;
  ids = prima_tokenize (tok, prompt, -1, TRUE, TRUE);
  if (ids->len == 0) {
    fprintf (stderr, "prima run: the prompt has no tokens (the model adds no BOS): give a prompt with -p\n");
    goto out;
  }
  if ((int) ids->len >= n_ctx) {
    fprintf (stderr, "prima run: the prompt has %u tokens, more than the context of %d (-c)\n", ids->len, n_ctx);
    goto out;
  }
  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = n_ctx, .n_threads = n_threads,
      .n_batch = n_batch}, &error);
  if (ctx == NULL)
    goto fail;
  sampler = prima_sampler_new (&sp, model->hp.n_vocab);
  logits = g_new (float, model->hp.n_vocab);
  generated = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (guint i = 0; i < ids->len; i++)
    prima_sampler_accept (sampler, g_array_index (ids, int32_t, i));

  if (!no_display_prompt) {
    fputs (prompt, stdout);
    fflush (stdout);
  }
  t0 = g_get_monotonic_time ();
  if (!prima_context_eval (ctx, (int) ids->len, (const int32_t *) ids->data, NULL, 0, logits, FALSE, &error))
    goto fail;
  t1 = g_get_monotonic_time ();
  for (int pos = (int) ids->len; n_predict < 0 || (int) generated->len < n_predict; pos++) {
    int32_t next = prima_sampler_sample (sampler, logits);
    if (!ignore_eos && prima_tokenizer_is_eog (tok, next))
      break;
    g_array_append_val (generated, next);
    prima_sampler_accept (sampler, next);
    prima_token_to_piece (tok, next, FALSE, pending);
    gsize n = complete_utf8_prefix (pending->str, pending->len);
    fwrite (pending->str, 1, n, stdout);
    fflush (stdout);
    g_string_erase (pending, 0, n);
    if (pos + 1 >= n_ctx) {
      fprintf (stderr, "\nprima run: context full (%d tokens)\n", n_ctx);
      break;
    }
    if ((int) generated->len == n_predict)
      break;
    if (!prima_context_eval (ctx, 1, &next, NULL, pos, logits, FALSE, &error))
      goto fail;
  }
  t2 = g_get_monotonic_time ();
  fwrite (pending->str, 1, pending->len, stdout);
  printf ("\n");
  fflush (stdout);
  {
    double pt = (t1 - t0) / 1e3, dt = (t2 - t1) / 1e3;
    /* Decode time counts the forward passes after the prompt: generated - 1 of them. */
    int nd = MAX ((int) generated->len - 1, 0);
    fprintf (stderr, "\nprima run: prompt %u tokens in %.2f ms (%.2f tok/s)\n", ids->len, pt,
        pt > 0 ? ids->len * 1e3 / pt : 0.0);
    fprintf (stderr, "prima run: decode %d tokens in %.2f ms (%.2f tok/s)\n", nd, dt, dt > 0 ? nd * 1e3 / dt : 0.0);
  }
  if (ids_out) {
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < generated->len; i++)
      g_string_append_printf (s, "%s%d", i ? " " : "", g_array_index (generated, int32_t, i));
    g_string_append_c (s, '\n');
    if (!g_file_set_contents (ids_out, s->str, s->len, &error)) {
      g_string_free (s, TRUE);
      goto fail;
    }
    g_string_free (s, TRUE);
  }
  status = 0;
  goto out;

fail:
  fprintf (stderr, "prima run: %s\n", error->message);
  g_error_free (error);
out:
  g_string_free (pending, TRUE);
  g_free (logits);
  prima_sampler_free (sampler);
  prima_context_free (ctx);
  if (ids)
    g_array_free (ids, TRUE);
  if (generated)
    g_array_free (generated, TRUE);
  prima_tokenizer_free (tok);
  prima_model_free (model);
  g_free (text);
  return status;
}
