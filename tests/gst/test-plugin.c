/* gst-prima tests: the plugin as a whole: gst-inspect-1.0 prima (test_inspect: the element
 * count and every element's pads and properties), and the errors that every
 * element with a model property posts for a missing or corrupt file.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include <glib/gstdio.h>
#include <string.h>

/* ---- gst-inspect-1.0 ---- */

/* gst-inspect-1.0 shows every element with its documentation, pads and properties. */
static gchar *
inspect (const gchar * what)
{
  gchar *argv[] = { (gchar *) g_getenv ("GST_INSPECT"), (gchar *) what, NULL };
  gchar *out = NULL;
  GError *error = NULL;
  gint status;

  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status,
          &error), "%s", error ? error->message : "");
  fail_unless (g_spawn_check_wait_status (status, NULL), "gst-inspect-1.0 %s failed", what);
  return out;
}

GST_START_TEST (test_inspect)
{
  static const struct
  {
    const gchar *name;
    const gchar *words[12];
  } elements[] = {
    {"primatokenizer", {"SINK template: 'sink'", "text/x-raw", "SRC template: 'src'", "application/x-prima-tokens",
            "model", "add-special", "parse-special"}},
    {"primatokenizer", {"chat", "chat-template", "system-prompt"}},
    {"primaloop", {"SINK template: 'sink'", "SRC template: 'src'", "n-predict", "model", "stop", "ignore-eos",
            "channel"}},
    {"primafeedback", {"SINK template: 'sink'", "application/x-prima-tokens", "channel"}},
    {"primalayers", {"application/x-prima-logits", "application/x-prima-hidden", "model", "context-size",
            "threads", "first-layer", "last-layer", "n-evaluated"}},
    {"primaringhead", {"SINK template: 'ring_sink'", "SRC template: 'ring_src'", "application/x-prima-tokens",
            "application/x-prima-logits", "model", "windows", "all-logits", "n-evaluated"}},
    {"primasampler", {"application/x-prima-logits", "temperature", "top-k", "top-p", "min-p", "repeat-penalty",
            "repeat-last-n", "frequency-penalty", "presence-penalty", "seed"}},
    {"primadraft", {"SINK template: 'sink'", "application/x-prima-tokens", "model", "layers", "n-draft",
            "n-draft-min", "p-min", "n-predict", "stop", "n-drafted", "n-accepted"}},
    {"primadetokenizer", {"application/x-prima-tokens", "text/x-raw", "model", "special"}},
    {"primafdsink", {"SINK template: 'sink'", "ANY", "fd"}},
    {"primawssrc", {"application/x-prima-hidden", "port", "rank", "peer-rank", "cluster-key", "cluster-key-file",
            "tls-certificate-file", "heartbeat-timeout"}},
    {"primawssink", {"application/x-prima-hidden", "url", "rank", "peer-rank", "cluster-key", "cluster-key-file",
            "tls-peer-certificate-file", "world", "plan"}},
    {"primascheduler", {"world", "port", "next", "devices", "profiles", "layer-window", "rounds", "even",
            "context-size", "cluster-key-file", "ring-timeout"}},
  };
  /* the speech elements (issue 15) are there only where their engines were found at build time */
  static const struct
  {
    const gchar *name;
    const gchar *words[12];
  } optional[] = {
    {"primaspeechin", {"SINK template: 'sink'", "audio/x-raw", "S16LE", "16000", "text/x-raw", "hmm", "lm", "dict",
            "silence-ms"}},
    {"primaspeechout", {"SINK template: 'sink'", "text/x-raw", "SRC template: 'src'", "audio/x-raw", "S16LE",
            "voice", "rate", "pitch", "volume"}},
  };
  guint n_elements = 12;
  gchar *count;
  gchar *out;

  for (guint i = 0; i < G_N_ELEMENTS (optional); i++) {
    GstElementFactory *factory = gst_element_factory_find (optional[i].name);

    if (factory == NULL)
      continue;
    gst_object_unref (factory);
    n_elements++;
    out = inspect (optional[i].name);
    for (guint j = 0; j < G_N_ELEMENTS (optional[i].words) && optional[i].words[j]; j++)
      fail_unless (strstr (out, optional[i].words[j]) != NULL, "%s: no \"%s\" in\n%s", optional[i].name,
          optional[i].words[j], out);
    g_free (out);
  }

  out = inspect ("prima");
  count = g_strdup_printf ("%u elements", n_elements);
  fail_unless (strstr (out, "Name                     prima") != NULL, "%s", out);
  fail_unless (strstr (out, count) != NULL, "no \"%s\" in %s", count, out);
  g_free (count);
  for (guint i = 0; i < G_N_ELEMENTS (elements); i++)
    fail_unless (strstr (out, elements[i].name) != NULL, "%s not listed", elements[i].name);
  g_free (out);

  for (guint i = 0; i < G_N_ELEMENTS (elements); i++) {
    out = inspect (elements[i].name);
    fail_unless (strstr (out, "Description") != NULL, "%s", out);
    for (guint j = 0; j < G_N_ELEMENTS (elements[i].words) && elements[i].words[j]; j++)
      fail_unless (strstr (out, elements[i].words[j]) != NULL, "%s: no \"%s\" in\n%s", elements[i].name,
          elements[i].words[j], out);
    g_free (out);
  }
}

GST_END_TEST;

/* ---- model errors ---- */

/* The error that the element posts when it goes to PAUSED with this model. */
static gchar *
model_error (const gchar * factory, const gchar * path)
{
  GstElement *element = gst_element_factory_make (factory, NULL);
  GstBus *bus = gst_bus_new ();
  GError *error = NULL;
  GstMessage *msg;
  gchar *text;

  gst_element_set_bus (element, bus);
  g_object_set (element, "model", path, NULL);
  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "%s posted no error", factory);
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (error->domain == GST_RESOURCE_ERROR, "%s", error->message);
  text = g_strdup (error->message);
  g_error_free (error);
  gst_message_unref (msg);
  gst_element_set_state (element, GST_STATE_NULL);
  gst_element_set_bus (element, NULL);
  gst_object_unref (bus);
  gst_object_unref (element);
  return text;
}

static const gchar *model_elements[] = { "primatokenizer", "primaloop", "primalayers", "primadetokenizer" };

GST_START_TEST (test_missing_model)
{
  const gchar *path = "/nonexistent/prima/model.gguf";

  for (guint i = 0; i < G_N_ELEMENTS (model_elements); i++) {
    gchar *text = model_error (model_elements[i], path);
    fail_unless_equals_string (text, "Model file \"/nonexistent/prima/model.gguf\" does not exist.");
    g_free (text);
  }
}

GST_END_TEST;

GST_START_TEST (test_corrupt_model)
{
  gchar *dir = g_dir_make_tmp ("prima-gst-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "corrupt.gguf", NULL);
  gchar *text;

  fail_unless (g_file_set_contents (path, "this is not a GGUF file at all, only text", -1, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (model_elements); i++) {
    gchar *want = g_strdup_printf ("Could not load the model: %s: not a GGUF file (bad magic) at offset 0", path);
    text = model_error (model_elements[i], path);
    fail_unless_equals_string (text, want);
    g_free (text);
    g_free (want);
  }
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

GST_END_TEST;

static Suite *
plugin_suite (void)
{
  Suite *s = suite_create ("plugin");
  TCase *tc = tcase_create ("plugin");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_inspect);
  tcase_add_test (tc, test_missing_model);
  tcase_add_test (tc, test_corrupt_model);
  return s;
}

GST_TEST_MAIN (plugin_suite, "plugin");
