/* gst-prima: llama-cli style option parsing (multi-letter single-dash flags
 * such as -ngl and -cnv, which GOption cannot express).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

typedef enum {
  CLI_FLAG,                     /* gboolean *, set to TRUE */
  CLI_INT,                      /* int * */
  CLI_INT64,                    /* gint64 * */
  CLI_FLOAT,                    /* float * */
  CLI_STRING,                   /* const char ** (points into argv) */
} cli_kind;

typedef struct {
  const char *names;            /* "-m,--model" */
  cli_kind kind;
  void *value;
  const char *arg_name;         /* "FILE", NULL for flags */
  const char *help;
} cli_option;

/* Parse argv (argv[0] is the command name); n_options entries. Unknown
 * options or bad values print one line to stderr and return FALSE. --help
 * prints the usage and sets *help_shown. Leftover positional arguments are
 * returned in *positional (NULL-terminated, may be NULL). */
gboolean cli_parse (const char *command, const char *synopsis, const cli_option *options,
    int n_options, int argc, char **argv, gboolean *help_shown, GPtrArray **positional);
