/* gst-prima: `prima tokenize`: print the token ids of a text.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <glib/gi18n-lib.h>

#include "prima-commands.h"
#include "cli-args.h"

int
prima_cmd_tokenize (int argc, char **argv)
{
  const char *model_path = NULL, *prompt = NULL, *file = NULL;
  gboolean no_bos = FALSE, no_special = FALSE, show_pieces = FALSE, help;
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &model_path, "FILE", N_("GGUF model or vocabulary (default: the embedded model)")},
    {"-p,--prompt", CLI_STRING, &prompt, "TEXT", N_("text to tokenize")},
    {"-f,--file", CLI_STRING, &file, "FILE", N_("read the text from a file")},
    {"--no-bos", CLI_FLAG, &no_bos, NULL, N_("add no BOS/EOS tokens")},
    {"--no-special", CLI_FLAG, &no_special, NULL, N_("treat special-token text as plain text")},
    {"--pieces", CLI_FLAG, &show_pieces, NULL, N_("also print each token's piece on its own line")},
  };
  gguf_file *f;
  prima_tokenizer *tok;
  GError *error = NULL;
  char *text = NULL;
  GArray *ids;

  if (!cli_parse ("tokenize", "[-m MODEL] -p TEXT", options, G_N_ELEMENTS (options), argc, argv, &help, NULL))
    return 2;
  if (help)
    return 0;
  if (file) {
    if (!(text = prima_read_prompt_file ("tokenize", file)))
      return 1;
    prompt = text;
  }
  if (prompt == NULL) {
    fprintf (stderr, _("prima tokenize: no text given (-p TEXT or -f FILE)\n"));
    return 2;
  }
  /* A vocabulary-only GGUF is enough here, so do not require model tensors. */
  f = gguf_open (model_path ? model_path : prima_default_model_path (), &error);
  if (f == NULL) {
    fprintf (stderr, _("prima tokenize: %s\n"), error->message);
    g_error_free (error);
    g_free (text);
    return 1;
  }
  tok = prima_tokenizer_new (f, &error);
  if (tok == NULL) {
    fprintf (stderr, _("prima tokenize: %s\n"), error->message);
    g_error_free (error);
    gguf_close (f);
    g_free (text);
    return 1;
  }
  ids = prima_tokenize (tok, prompt, -1, !no_bos, !no_special);
  for (guint i = 0; i < ids->len; i++)
    printf ("%s%d", i ? " " : "", g_array_index (ids, int32_t, i));
  printf ("\n");
  if (show_pieces) {
    GString *piece = g_string_new (NULL);
    for (guint i = 0; i < ids->len; i++) {
      g_string_truncate (piece, 0);
      prima_token_to_piece (tok, g_array_index (ids, int32_t, i), TRUE, piece);
      printf ("%6d -> '%.*s'\n", g_array_index (ids, int32_t, i), (int) piece->len, piece->str);
    }
    g_string_free (piece, TRUE);
  }
  g_array_free (ids, TRUE);
  prima_tokenizer_free (tok);
  gguf_close (f);
  g_free (text);
  return 0;
}
