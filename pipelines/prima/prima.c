/* gst-prima: the `prima` program: one dispatch table of subcommands.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <glib/gi18n-lib.h>
#include <stdio.h>
#include <string.h>
#include <locale.h>

#include "prima-commands.h"
#include "cli-args.h"
#include "prima-pipeline.h"

static const struct {
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} commands[] = {
  {"run", prima_cmd_run, N_("generate text from a prompt (llama-cli flags)")},
  {"serve", prima_cmd_serve, N_("serve the model over an OpenAI-compatible HTTP API (llama-server flags)")},
  {"worker", prima_cmd_worker, N_("serve as one device (rank >= 1) of a ring (prima.cpp flags)")},
  {"eval", prima_cmd_eval, N_("evaluate a prompt as one batch and write its logits")},
  {"tokenize", prima_cmd_tokenize, N_("print the token ids of a text")},
  {"bench", prima_cmd_bench, N_("measure prompt and decode speed and memory bandwidth")},
  {"mkmodel", prima_cmd_mkmodel, N_("write a random-weight model of a given shape")},
  {"plan", prima_cmd_plan, N_("assign layers to devices from saved profiles (Halda)")},
  {"profile", prima_cmd_profile, N_("measure this device for the scheduler")},
};

static void
usage (FILE *out)
{
  fprintf (out, _("usage: prima COMMAND [OPTIONS]\n\ncommands:\n"));
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  fprintf (out, _("\n'prima COMMAND --help' describes the options of a command; 'prima --version' prints the version.\n"));
}

/* prima(1): the commands, each with its own page (prima-CMD(1)) */
static void
print_man (void)
{
  GString *see = g_string_new ("primad(1)");
  cli_man_header (stdout, "prima", _("fast, distributed LLM inference for home clusters"));
  fputs (".SH SYNOPSIS\n.B prima\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR]\n.SH DESCRIPTION\n", stdout);
  cli_roff_text (stdout, _("prima runs GGUF language models (Llama, Qwen, DeepSeek-R1 distills) on this device or "
          "over a ring of devices, and serves them over an OpenAI-compatible HTTP API. Each command has its own "
          "options and manual page; 'prima COMMAND --help' prints them."));
  fputs ("\n.SH COMMANDS\n", stdout);
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++) {
    printf (".TP\n.BR prima\\-%s (1)\n", commands[i].name);
    cli_roff_text (stdout, _(commands[i].summary));
    fputc ('\n', stdout);
    g_string_append_printf (see, ", prima-%s(1)", commands[i].name);
  }
  fputs (".SH OPTIONS\n.TP\n\\fB\\-\\-help\\fR\nthe commands\n.TP\n\\fB\\-\\-version\\fR\nthe version\n", stdout);
  cli_man_footer (stdout, see->str);
  g_string_free (see, TRUE);
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  prima_i18n_init ();
  cli_log_setup ();
  /* bare `prima` is asking what it does (as llama-cli's tools answer) */
  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
    usage (stdout);
    return 0;
  }
  if (strcmp (argv[1], "--man") == 0) {
    print_man ();
    return 0;
  }
  if (strcmp (argv[1], "--version") == 0) {
    cli_print_version ();
    return 0;
  }
  for (size_t i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0) {
      cli_set_command_summary (_(commands[i].summary));
      return commands[i].run (argc - 1, argv + 1);
    }
  fprintf (stderr, _("prima: unknown command '%s'\n"), argv[1]);
  usage (stderr);
  return 2;
}
