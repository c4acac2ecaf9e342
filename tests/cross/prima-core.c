/* gst-prima tests: prima-core, the two `prima` commands that the golden tests run (eval and a greedy
 * run), over the core library alone. The cross build (-Dcore_only=true) has no GStreamer for the
 * target, so its golden tests spawn this program instead of prima: the same model, tokenizer and
 * forward pass (prima_context_eval), driven without a pipeline.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 *   prima-core eval -m MODEL (-p TEXT | --tokens IDS) [--logits FILE] [-t N]
 *   prima-core run -m MODEL -p TEXT -n N [--temp 0] [--ignore-eos] [--no-display-prompt] [--ids-out FILE] [-t N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "forward.h"
#include "tokenizer.h"
#include "sampler.h"

typedef struct {
  const char *model, *prompt, *tokens, *logits, *ids_out;
  int n_predict, n_threads;
  gboolean ignore_eos;
} args;

static gboolean
parse (int argc, char **argv, args *a)
{
  memset (a, 0, sizeof *a);
  a->n_predict = 16;
  for (int i = 2; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp (o, "--ignore-eos") == 0 || strcmp (o, "--no-display-prompt") == 0) {
      a->ignore_eos |= strcmp (o, "--ignore-eos") == 0;
      continue;
    }
    if (v == NULL) {
      fprintf (stderr, "prima-core: %s needs a value\n", o);
      return FALSE;
    }
    i++;
    if (strcmp (o, "-m") == 0)
      a->model = v;
    else if (strcmp (o, "-p") == 0)
      a->prompt = v;
    else if (strcmp (o, "--tokens") == 0)
      a->tokens = v;
    else if (strcmp (o, "--logits") == 0)
      a->logits = v;
    else if (strcmp (o, "--ids-out") == 0)
      a->ids_out = v;
    else if (strcmp (o, "-n") == 0)
      a->n_predict = atoi (v);
    else if (strcmp (o, "-t") == 0)
      a->n_threads = atoi (v);
    else if (strcmp (o, "--temp") == 0) {
      if (strtod (v, NULL) > 0) {
        fprintf (stderr, "prima-core: only greedy decoding (--temp 0)\n");
        return FALSE;
      }
    } else {
      fprintf (stderr, "prima-core: unknown option %s\n", o);
      return FALSE;
    }
  }
  if (a->model == NULL || (a->prompt == NULL) == (a->tokens == NULL)) {
    fprintf (stderr, "prima-core: give -m MODEL and either -p TEXT or --tokens IDS\n");
    return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  args a;
  GError *error = NULL;
  prima_model *model = NULL;
  prima_tokenizer *tok = NULL;
  prima_context *ctx = NULL;
  GArray *ids = NULL, *gen = NULL;
  float *logits = NULL;
  int status = 1;

  if (argc < 2 || (strcmp (argv[1], "eval") != 0 && strcmp (argv[1], "run") != 0)) {
    fprintf (stderr, "usage: prima-core eval|run -m MODEL ...\n");
    return 2;
  }
  const gboolean run = strcmp (argv[1], "run") == 0;
  if (!parse (argc, argv, &a))
    return 2;
  if ((model = prima_model_load (a.model, &error)) == NULL || (tok = prima_tokenizer_new (model->file, &error)) == NULL)
    goto fail;
  if (a.prompt)
    ids = prima_tokenize (tok, a.prompt, -1, TRUE, TRUE);
  else if ((ids = prima_token_ids_parse (a.tokens, NULL)) == NULL) {
    fprintf (stderr, "prima-core: --tokens takes token ids (\"1,2,3\")\n");
    goto out;
  }
  if (ids->len == 0) {
    fprintf (stderr, "prima-core: the prompt has no tokens\n");
    goto out;
  }
  const int n_vocab = model->hp.n_vocab, n_ctx = (int) ids->len + (run ? MAX (a.n_predict, 0) : 0);
  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = n_ctx, .n_threads = a.n_threads,
      .n_batch = 512}, &error);
  if (ctx == NULL)
    goto fail;
  logits = g_new (float, (size_t) ids->len * n_vocab);
  if (!prima_context_eval (ctx, (int) ids->len, (const int32_t *) ids->data, NULL, 0, logits, !run, &error))
    goto fail;
  if (!run) {
    if (a.logits && !prima_logits_write (a.logits, logits, (size_t) ids->len * n_vocab)) {
      fprintf (stderr, "prima-core: cannot write %s: %s\n", a.logits, g_strerror (errno));
      goto out;
    }
    prima_token_ids_print (stdout, ids);
    status = 0;
    goto out;
  }
  /* greedy: the argmax of the last row, fed back one token at a time */
  gen = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (int k = 0; k < a.n_predict; k++) {
    int32_t next = prima_argmax (logits, n_vocab);
    if (!a.ignore_eos && prima_tokenizer_is_eog (tok, next))
      break;
    g_array_append_val (gen, next);
    if (k + 1 == a.n_predict)
      break;
    if (!prima_context_eval (ctx, 1, &next, NULL, (int) (ids->len + gen->len - 1), logits, FALSE, &error))
      goto fail;
  }
  {
    /* piece by piece, as prima run streams them (a SentencePiece leading space stays) */
    GString *text = g_string_new (NULL);
    for (guint k = 0; k < gen->len; k++)
      prima_token_to_piece (tok, g_array_index (gen, int32_t, k), FALSE, text);
    fwrite (text->str, 1, text->len, stdout);
    g_string_free (text, TRUE);
  }
  if (a.ids_out) {
    GString *s = g_string_new (NULL);
    for (guint i = 0; i < gen->len; i++)
      g_string_append_printf (s, "%s%d", i ? " " : "", g_array_index (gen, int32_t, i));
    g_string_append_c (s, '\n');
    if (!g_file_set_contents (a.ids_out, s->str, s->len, &error)) {
      g_string_free (s, TRUE);
      goto fail;
    }
    g_string_free (s, TRUE);
  }
  status = 0;
  goto out;

fail:
  fprintf (stderr, "prima-core: %s\n", error->message);
  g_error_free (error);
out:
  g_free (logits);
  prima_context_free (ctx);
  if (ids)
    g_array_free (ids, TRUE);
  if (gen)
    g_array_free (gen, TRUE);
  prima_tokenizer_free (tok);
  prima_model_free (model);
  return status;
}
