/* gst-prima tests: `prima run`, which runs pipelines/generate.pipeline and
 * pipelines/chat.pipeline: the same text as the description run by
 * gst-launch-1.0, seeds, and a chat driven through stdin that keeps its KV
 * cache between turns.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "gst-test-common.h"

#define PROMPT "Once upon a time"

/* Runs a shell command line; returns its stdout, and its stderr in *err. */
static gchar *
sh (const gchar * cmd, gchar ** err, gint * status)
{
  gchar *argv[] = { (gchar *) "/bin/sh", (gchar *) "-c", (gchar *) cmd, NULL };
  gchar *out = NULL, *e = NULL;
  GError *error = NULL;
  gint st;

  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &e, &st, &error))
    g_error ("%s: %s", cmd, error->message);
  if (status)
    *status = st;
  else if (!g_spawn_check_wait_status (st, NULL))
    g_error ("failed: %s\n%s", cmd, e);
  if (err)
    *err = e;
  else
    g_free (e);
  return out;
}

static gchar *
model_in (const gchar * dir_env, const gchar * name)
{
  return g_build_filename (g_getenv (dir_env), name, NULL);
}

/* The description of pipelines/NAME as one gst-launch-1.0 argument list,
 * with the model and some properties replaced. */
static gchar *
launch_line (const gchar * name, const gchar * model, gint n_predict)
{
  gchar *path = g_build_filename (g_getenv ("PRIMA_PIPELINES_DIR"), name, NULL);
  gchar *contents, *desc, *n;
  GString *s = g_string_new (NULL);
  gchar **lines, **parts;

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  lines = g_strsplit (contents, "\n", -1);
  for (gchar ** l = lines; *l; l++)
    if (**l != '#')
      g_string_append_printf (s, "%s ", *l);
  parts = g_strsplit (s->str, "data/TinyStories-656K-f32.gguf", -1);
  desc = g_strjoinv (model, parts);
  g_strfreev (parts);
  n = g_strdup_printf ("n-predict=%d", n_predict);
  parts = g_strsplit (desc, "n-predict=-1", -1);
  g_free (desc);
  desc = g_strjoinv (n, parts);
  g_strfreev (parts);
  parts = g_strsplit (desc, "temperature=0.8", -1);
  g_free (desc);
  desc = g_strjoinv ("temperature=0", parts);
  g_strfreev (parts);
  g_strfreev (lines);
  g_string_free (s, TRUE);
  g_free (contents);
  g_free (path);
  g_free (n);
  return desc;
}

/* (a) prima run --temp 0 prints what the description prints under
 * gst-launch-1.0, for every golden model in the clone. */
static void
test_run_equals_launch (gconstpointer data)
{
  const gchar *const *m = data;
  gchar *model = model_in (m[0], m[1]);
  gchar *desc = launch_line ("generate.pipeline", model, 48);
  gchar *cmd = g_strdup_printf ("'%s' run -m '%s' -p '%s' -n 48 --temp 0 --no-display-prompt -t 2",
      g_getenv ("PRIMA_BIN"), model, PROMPT);
  gchar *launch = g_strdup_printf ("printf '%%s' '%s' | '%s' -q %s", PROMPT, g_getenv ("GST_LAUNCH"), desc);
  gchar *err = NULL;
  gchar *run_out = sh (cmd, &err, NULL);
  gchar *launch_out;

  g_assert_true (g_str_has_suffix (run_out, "\n"));
  run_out[strlen (run_out) - 1] = '\0';
  g_assert_nonnull (strstr (err, "tok/s"));
  g_free (err);
  launch_out = sh (launch, &err, NULL);
  g_assert_null (strstr (err, "loop detected"));
  g_assert_cmpuint (strlen (launch_out), >, 0);
  g_assert_cmpstr (run_out, ==, launch_out);
  g_free (err);
  g_free (launch_out);
  g_free (run_out);
  g_free (launch);
  g_free (cmd);
  g_free (desc);
  g_free (model);
}

static gchar *
run_seed (const gchar * seed)
{
  gchar *model = model_in ("PRIMA_DATA_DIR", "TinyStories-656K-f32.gguf");
  gchar *cmd = g_strdup_printf ("'%s' run -m '%s' -p '%s' -n 64 --temp 0.8 -s %s --no-display-prompt",
      g_getenv ("PRIMA_BIN"), model, PROMPT, seed);
  gchar *out = sh (cmd, NULL, NULL);
  g_free (cmd);
  g_free (model);
  return out;
}

/* (b) the same seed gives the same text at temperature 0.8; another seed
 * another text. */
static void
test_run_seed (void)
{
  gchar *a = run_seed ("42"), *b = run_seed ("42"), *c = run_seed ("43");

  g_assert_cmpuint (strlen (a), >, 10);
  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
  g_free (a);
  g_free (b);
  g_free (c);
}

typedef struct
{
  gint prompt, generated, evaluated, all, positions;
} TurnCounts;

/* (c) prima run -cnv --verbose, user turns through stdin; returns the
 * per-turn counts it printed. */
static GArray *
chat (const gchar * input, gchar ** out, gint * status)
{
  gchar *model = model_in ("PRIMA_TEST_DATA", "TinyStories-656K-q8_0.gguf");
  gchar *cmd = g_strdup_printf ("printf '%s' | '%s' run -cnv --verbose -m '%s' -n 16 --temp 0 -c 512 -t 2", input,
      g_getenv ("PRIMA_BIN"), model);
  GArray *turns = g_array_new (FALSE, TRUE, sizeof (TurnCounts));
  GRegex *re = g_regex_new ("turn (\\d+): (\\d+) prompt tokens, (\\d+) generated, (\\d+) evaluated "
      "\\((\\d+) in all\\), (\\d+) positions", 0, 0, NULL);
  GMatchInfo *mi;
  gchar *err = NULL;

  *out = sh (cmd, &err, status);
  g_regex_match (re, err, 0, &mi);
  while (g_match_info_matches (mi)) {
    TurnCounts t;
    gchar *v[7];
    for (gint i = 1; i <= 6; i++)
      v[i] = g_match_info_fetch (mi, i);
    g_assert_cmpint (atoi (v[1]), ==, (gint) turns->len + 1);
    t.prompt = atoi (v[2]);
    t.generated = atoi (v[3]);
    t.evaluated = atoi (v[4]);
    t.all = atoi (v[5]);
    t.positions = atoi (v[6]);
    g_array_append_val (turns, t);
    for (gint i = 1; i <= 6; i++)
      g_free (v[i]);
    g_match_info_next (mi, NULL);
  }
  g_match_info_free (mi);
  g_regex_unref (re);
  g_free (err);
  g_free (cmd);
  g_free (model);
  return turns;
}

/* Each turn evaluates its new prompt tokens and the generated tokens fed
 * back (all but the last), nothing of an earlier turn. */
static void
assert_cache_kept (GArray * turns)
{
  gint all = 0;

  for (guint i = 0; i < turns->len; i++) {
    TurnCounts *t = &g_array_index (turns, TurnCounts, i);
    g_assert_cmpint (t->generated, ==, 16);
    g_assert_cmpint (t->evaluated, ==, t->prompt + t->generated - 1);
    all += t->evaluated;
    g_assert_cmpint (t->all, ==, all);
    g_assert_cmpint (t->positions, ==, all);
    if (i > 0)
      /* the user's line and the template's few markers, not the conversation */
      g_assert_cmpint (t->prompt, <, 48);
  }
}

static void
test_chat_exit (void)
{
  gchar *out;
  gint status;
  GArray *turns = chat ("Hello\\nTell me about a cat\\nAnd the dog?\\nexit\\nnot read\\n", &out, &status);

  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpuint (turns->len, ==, 3);
  assert_cache_kept (turns);
  /* a prompt before each turn and before the exit */
  g_assert_cmpuint (g_strv_length (g_strsplit (out, "> ", -1)), ==, 5);
  g_array_free (turns, TRUE);
  g_free (out);
}

static void
test_chat_quit_and_eof (void)
{
  gchar *out;
  gint status;
  GArray *turns = chat ("Hello\\nquit\\n", &out, &status);

  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpuint (turns->len, ==, 1);
  g_array_free (turns, TRUE);
  g_free (out);

  /* end of input without a newline: the last line is a turn too */
  turns = chat ("Hello\\n\\nAnd the dog?", &out, &status);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpuint (turns->len, ==, 2);
  assert_cache_kept (turns);
  g_array_free (turns, TRUE);
  g_free (out);
}

/* -ngl and --gpu-mem are accepted with one warning. */
static void
test_run_gpu_flags (void)
{
  gchar *cmd = g_strdup_printf ("'%s' run -p '%s' -n 4 --temp 0 -ngl 99 --gpu-mem 4", g_getenv ("PRIMA_BIN"),
      PROMPT);
  gchar *err = NULL, *out = sh (cmd, &err, NULL);
  gchar **parts = g_strsplit (err, "no GPU backend", -1);

  g_assert_cmpuint (g_strv_length (parts), ==, 2);
  g_assert_true (g_str_has_prefix (out, PROMPT));
  g_strfreev (parts);
  g_free (out);
  g_free (err);
  g_free (cmd);
}

int
main (int argc, char **argv)
{
  static const gchar *models[][2] = {
    {"PRIMA_TEST_DATA", "stories260K-f32.gguf"},
    {"PRIMA_TEST_DATA", "TinyStories-656K-q8_0.gguf"},
    {"PRIMA_TEST_DATA", "TinyStories-656K-q4_0.gguf"},
    {"PRIMA_DATA_DIR", "TinyStories-656K-f32.gguf"},
  };
  /* only our plugin and core's elements, for the child processes too (gst-test-common.h) */
  gchar *core_dir = gst_test_add_core_plugin ();
  int ret;

  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (models); i++) {
    gchar *name = g_strdup_printf ("/run/equals-gst-launch/%s", models[i][1]);
    g_test_add_data_func (name, models[i], test_run_equals_launch);
    g_free (name);
  }
  g_test_add_func ("/run/seed", test_run_seed);
  g_test_add_func ("/run/gpu-flags", test_run_gpu_flags);
  g_test_add_func ("/run/chat/exit", test_chat_exit);
  g_test_add_func ("/run/chat/quit-and-eof", test_chat_quit_and_eof);
  ret = g_test_run ();
  gst_test_remove_core_plugin (core_dir);
  return ret;
}
