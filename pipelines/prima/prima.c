/* gst-prima: the `prima` program: one dispatch table of subcommands.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <locale.h>

#include "prima-commands.h"
#include "cli-args.h"

static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  {"run", prima_cmd_run, "generate text from a prompt (llama-cli flags)"},
  {"serve", prima_cmd_serve, "serve the model over an OpenAI-compatible HTTP API (llama-server flags)"},
  {"worker", prima_cmd_worker, "serve as one device (rank >= 1) of a ring (prima.cpp flags)"},
  {"eval", prima_cmd_eval, "evaluate a prompt as one batch and write its logits"},
  {"tokenize", prima_cmd_tokenize, "print the token ids of a text"},
  {"bench", prima_cmd_bench, "measure prompt and decode speed and memory bandwidth"},
  {"mkmodel", prima_cmd_mkmodel, "write a random-weight model of a given shape"},
  {"plan", prima_cmd_plan, "assign layers to devices from saved profiles (Halda)"},
  {"profile", prima_cmd_profile, "measure this device for the scheduler"},
};

static void
usage (FILE *out)
{
  fprintf (out, "usage: prima COMMAND [OPTIONS]\n\ncommands:\n");
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\n'prima COMMAND --help' describes the options of a command; 'prima --version' prints the version.\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  cli_log_setup ();
  /* bare `prima` is asking what it does (as llama-cli's tools answer) */
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
    usage (stdout);
    return 0;
  }
  if (strcmp (argv[1], "--version") == 0) {
    cli_print_version ();
    return 0;
  }
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].run (argc - 1, argv + 1);
  fprintf (stderr, "prima: unknown command '%s'\n", argv[1]);
  usage (stderr);
  return 2;
}
