/* gst-prima: llama-cli style option parsing (multi-letter single-dash flags
 * such as -ngl and -cnv, which GOption cannot express).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <stdio.h>

typedef enum {
  CLI_FLAG,                     /* gboolean *, set to TRUE */
  CLI_INT,                      /* int * */
  CLI_INT64,                    /* gint64 * */
  CLI_FLOAT,                    /* float * */
  CLI_STRING,                   /* const char ** (points into argv) */
  CLI_STRING_LIST,              /* GPtrArray ** of const char * (into argv), created on first use;
                                 * the option may be repeated */
} cli_kind;

typedef struct {
  const char *names;            /* "-m,--model" */
  cli_kind kind;
  void *value;
  const char *arg_name;         /* "FILE", NULL for flags */
  const char *help;
  /* Numbers only: with ranged, values outside [min, max] are refused with
   * one line naming the option and the range. Floats are always refused
   * when not finite (nan, inf). Appended last so that initializers without
   * a range still compile: write CLI_RANGE (lo, hi) after the help. */
  gboolean ranged;
  double min, max;
} cli_option;

#define CLI_RANGE(lo, hi) TRUE, (double) (lo), (double) (hi)
/* The largest thread count the parser takes (as the layers element). */
#define CLI_MAX_THREADS 1024

/* The version line of `prima --version` (and `prima COMMAND --version`). */
void cli_print_version (void);

/* g_message lines (the ring links' connection log) are progress for
 * whoever debugs, not for a user: after cli_log_setup they reach stderr only
 * with G_MESSAGES_DEBUG set or after cli_show_messages (--verbose). */
void cli_log_setup (void);
void cli_show_messages (void);

/* Options that several commands share (the ring flags, the memory flags:
 * pipelines/prima/cmd-options.h) come as a group, defined once; --help prints each
 * group under its title, as llama-cli prints its parameter groups. */
typedef struct {
  const char *title;            /* "ring options", NULL for the command's own */
  const cli_option *options;
  int n_options;
} cli_group;

/* The one-line summary of the command about to parse its options (prima.c's
 * table): the NAME and DESCRIPTION of its manual page. */
void cli_set_command_summary (const char *summary);
/* roff for the manual pages: text with - \\ and leading . escaped; the
 * header (.TH, NAME) and the footer (ENVIRONMENT, SEE ALSO). */
void cli_roff_text (FILE *out, const char *text);
void cli_man_header (FILE *out, const char *page, const char *summary);
void cli_man_footer (FILE *out, const char *see_also);

/* Parse argv (argv[0] is the command name) against the options of all
 * n_groups groups. Unknown options or bad values print one line to stderr
 * and return FALSE. --help prints the usage and sets *help_shown; so does the
 * hidden --man, with the command's manual page (roff) instead. Leftover
 * positional arguments are returned in *positional (NULL-terminated, may be
 * NULL). */
gboolean cli_parse_groups (const char *command, const char *synopsis, const cli_group *groups, int n_groups,
    int argc, char **argv, gboolean *help_shown, GPtrArray **positional);
/* cli_parse_groups with one untitled group of n_options entries. */
gboolean cli_parse (const char *command, const char *synopsis, const cli_option *options,
    int n_options, int argc, char **argv, gboolean *help_shown, GPtrArray **positional);
