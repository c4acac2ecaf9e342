/* gst-prima: llama-cli style option parsing.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "cli-args.h"
#include <glib/gi18n-lib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>

static gboolean
name_matches (const char *names, const char *arg)
{
  gboolean found = FALSE;
  char **list = g_strsplit (names, ",", -1);
  for (char **n = list; *n && !found; n++)
    found = strcmp (*n, arg) == 0;
  g_strfreev (list);
  return found;
}

static void
print_usage (const char *command, const char *synopsis, const cli_group *groups, int n_groups)
{
  printf (_("usage: prima %s %s\n"), command, synopsis);
  for (int g = 0; g < n_groups; g++) {
    printf ("\n%s:\n", groups[g].title ? _(groups[g].title) : _("options"));
    for (int i = 0; i < groups[g].n_options; i++) {
      const cli_option *o = &groups[g].options[i];
      char *left = g_strdup_printf ("%s%s%s", o->names, o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
      printf ("  %-28s %s\n", left, _(o->help));
      g_free (left);
    }
  }
}

/* The manual pages (meson writes them at build time with `prima CMD --man`):
 * the same tables as --help, so that the two cannot disagree. */
static const char *command_summary;

void
cli_set_command_summary (const char *summary)
{
  command_summary = summary;
}

void
cli_roff_text (FILE *out, const char *text)
{
  /* a line that starts with . or ' would be a request; - is a hyphen
   * unless escaped, and \ starts an escape */
  if (*text == '.' || *text == '\'')
    fputs ("\\&", out);
  for (const char *p = text; *p; p++) {
    if (*p == '\\')
      fputs ("\\e", out);
    else if (*p == '-')
      fputs ("\\-", out);
    else if (*p == '\n') {
      fputc ('\n', out);
      if (p[1] == '.' || p[1] == '\'')
        fputs ("\\&", out);
    } else
      fputc (*p, out);
  }
}

void
cli_man_header (FILE *out, const char *page, const char *summary)
{
  char *upper = g_ascii_strup (page, -1);
  fprintf (out, ".TH %s 1 \"\" \"gst-prima %s\" \"User Commands\"\n.SH NAME\n", upper, PRIMA_VERSION);
  cli_roff_text (out, page);
  fputs (" \\- ", out);
  cli_roff_text (out, summary);
  fputc ('\n', out);
  g_free (upper);
}

void
cli_man_footer (FILE *out, const char *see_also)
{
  fputs (".SH ENVIRONMENT\n.TP\n.B PRIMA_CLUSTER_KEY\nthe cluster key of a ring (instead of \\-\\-cluster\\-key)\n"
      ".TP\n.B PRIMA_DATA_DIR\\fR, \\fBPRIMA_PIPELINES_DIR\nother folders for the embedded model and the pipeline "
      "descriptions\n.TP\n.B LANGUAGE\\fR, \\fBLANG\\fR, \\fBLC_ALL\nthe language of the messages (German and "
      "Simplified Chinese are translated)\n", out);
  fputs (".SH SEE ALSO\n", out);
  cli_roff_text (out, see_also);
  fputs ("\n.PP\nThe user\\(aqs guide: docs/guide.md in the gst\\-prima sources.\n", out);
}

static void
print_man (const char *command, const char *synopsis, const cli_group *groups, int n_groups)
{
  char *page = g_strdup_printf ("prima-%s", command);
  cli_man_header (stdout, page, command_summary ? command_summary : command);
  printf (".SH SYNOPSIS\n.B prima %s\n", command);
  cli_roff_text (stdout, synopsis);
  printf ("\n.SH DESCRIPTION\n");
  cli_roff_text (stdout, command_summary ? command_summary : command);
  printf (".\n");
  for (int g = 0; g < n_groups; g++) {
    if (g == 0)
      printf (".SH OPTIONS\n");
    if (groups[g].title) {
      printf (".SS ");
      cli_roff_text (stdout, groups[g].title);
      printf ("\n");
    }
    for (int i = 0; i < groups[g].n_options; i++) {
      const cli_option *o = &groups[g].options[i];
      char **names = g_strsplit (o->names, ",", -1);
      printf (".TP\n");
      for (char **n = names; *n; n++) {
        printf ("%s\\fB", n == names ? "" : ", ");
        cli_roff_text (stdout, *n);
        printf ("\\fR");
      }
      if (o->arg_name) {
        printf (" \\fI");
        cli_roff_text (stdout, o->arg_name);
        printf ("\\fR");
      }
      printf ("\n");
      cli_roff_text (stdout, o->help);
      printf ("\n");
      g_strfreev (names);
    }
  }
  cli_man_footer (stdout, "prima(1)");
  g_free (page);
}

static const cli_option *
find_option (const cli_group *groups, int n_groups, const char *opt)
{
  for (int g = 0; g < n_groups; g++)
    for (int k = 0; k < groups[g].n_options; k++)
      if (name_matches (groups[g].options[k].names, opt))
        return &groups[g].options[k];
  return NULL;
}

static gboolean show_messages;

static void
filter_message (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
  if (show_messages || g_getenv ("G_MESSAGES_DEBUG") != NULL)
    g_log_default_handler (domain, level, message, data);
}

void
cli_log_setup (void)
{
  /* the project's code logs in one domain (meson.build: G_LOG_DOMAIN) */
  g_log_set_handler (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, filter_message, NULL);
}

void
cli_show_messages (void)
{
  show_messages = TRUE;
}

void
cli_print_version (void)
{
  printf (_("prima (gst-prima) %s\n"), PRIMA_VERSION);
}

/* "an integer from 1 to 1024", "a finite number >= 0", ... (numbers in the
 * C locale: the parser reads them so) */
static char *
describe_range (const cli_option *o)
{
  const char *what = o->kind == CLI_FLOAT ? _("a finite number") : _("an integer");
  double top = o->kind == CLI_INT ? G_MAXINT : o->kind == CLI_INT64 ? (double) G_MAXINT64 : G_MAXFLOAT;
  char lo[G_ASCII_DTOSTR_BUF_SIZE], hi[G_ASCII_DTOSTR_BUF_SIZE];

  if (!o->ranged || (o->min <= -top && o->max >= top))
    return g_strdup (what);
  g_ascii_formatd (lo, sizeof lo, "%.15g", o->min);
  g_ascii_formatd (hi, sizeof hi, "%.15g", o->max);
  if (o->min == o->max)
    return g_strdup (lo);
  if (o->max >= top)
    return g_strdup_printf (_("%s >= %s"), what, lo);
  return g_strdup_printf (_("%s from %s to %s"), what, lo, hi);
}

static gboolean
in_range (const cli_option *o, double v)
{
  return !o->ranged || (v >= o->min && v <= o->max);
}

static gboolean
parse_value (const char *command, const char *opt, const cli_option *o, const char *text)
{
  char *end = NULL;
  errno = 0;
  switch (o->kind) {
    case CLI_INT:{
      long v = strtol (text, &end, 10);
      if (errno || end == text || *end || v < G_MININT || v > G_MAXINT || !in_range (o, v))
        goto bad;
      *(int *) o->value = (int) v;
      return TRUE;
    }
    case CLI_INT64:{
      long long v = strtoll (text, &end, 10);
      if (errno || end == text || *end || !in_range (o, (double) v))
        goto bad;
      *(gint64 *) o->value = v;
      return TRUE;
    }
    case CLI_FLOAT:{
      double v = g_ascii_strtod (text, &end);
      /* nan passes every comparison, and a float overflows to inf */
      if (errno || end == text || *end || !isfinite (v) || fabs (v) > G_MAXFLOAT || !in_range (o, v))
        goto bad;
      *(float *) o->value = (float) v;
      return TRUE;
    }
    case CLI_STRING:
      *(const char **) o->value = text;
      return TRUE;
    case CLI_STRING_LIST:
      if (*(GPtrArray **) o->value == NULL)
        *(GPtrArray **) o->value = g_ptr_array_new ();
      g_ptr_array_add (*(GPtrArray **) o->value, (gpointer) text);
      return TRUE;
    case CLI_FLAG:
      break;
  }
bad:
  {
    char *range = describe_range (o);
    fprintf (stderr, _("prima %s: %s %s: expected %s\n"), command, opt, text, range);
    g_free (range);
  }
  return FALSE;
}

gboolean
cli_parse_groups (const char *command, const char *synopsis, const cli_group *groups, int n_groups,
    int argc, char **argv, gboolean *help_shown, GPtrArray **positional)
{
  *help_shown = FALSE;
  if (positional)
    *positional = NULL;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const cli_option *o = NULL;
    char *opt = NULL;
    const char *inline_value = NULL;
    gboolean ok;

    if (strcmp (arg, "-h") == 0 || strcmp (arg, "--help") == 0) {
      print_usage (command, synopsis, groups, n_groups);
      *help_shown = TRUE;
      return TRUE;
    }
    if (strcmp (arg, "--man") == 0) {
      print_man (command, synopsis, groups, n_groups);
      *help_shown = TRUE;
      return TRUE;
    }
    if (strcmp (arg, "--version") == 0) {
      cli_print_version ();
      *help_shown = TRUE;
      return TRUE;
    }
    if (arg[0] != '-' || arg[1] == '\0') {
      if (positional == NULL) {
        fprintf (stderr, _("prima %s: unexpected argument '%s'\n"), command, arg);
        return FALSE;
      }
      if (*positional == NULL)
        *positional = g_ptr_array_new ();
      g_ptr_array_add (*positional, argv[i]);
      continue;
    }
    /* --name=value */
    if (arg[1] == '-' && strchr (arg, '=') != NULL) {
      opt = g_strndup (arg, strchr (arg, '=') - arg);
      inline_value = strchr (arg, '=') + 1;
    } else {
      opt = g_strdup (arg);
    }
    o = find_option (groups, n_groups, opt);
    if (o == NULL) {
      fprintf (stderr, _("prima %s: unknown option '%s' (see 'prima %s --help')\n"), command, opt, command);
      g_free (opt);
      return FALSE;
    }
    if (o->kind == CLI_FLAG) {
      *(gboolean *) o->value = TRUE;
      g_free (opt);
      continue;
    }
    if (inline_value == NULL) {
      if (i + 1 >= argc) {
        fprintf (stderr, _("prima %s: option %s needs a value\n"), command, opt);
        g_free (opt);
        return FALSE;
      }
      inline_value = argv[++i];
    }
    ok = parse_value (command, opt, o, inline_value);
    g_free (opt);
    if (!ok)
      return FALSE;
  }
  if (positional && *positional)
    g_ptr_array_add (*positional, NULL);
  return TRUE;
}

gboolean
cli_parse (const char *command, const char *synopsis, const cli_option *options,
    int n_options, int argc, char **argv, gboolean *help_shown, GPtrArray **positional)
{
  const cli_group group = { NULL, options, n_options };
  return cli_parse_groups (command, synopsis, &group, 1, argc, argv, help_shown, positional);
}
