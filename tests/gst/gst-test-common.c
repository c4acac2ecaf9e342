/* gst-prima tests: helpers shared by the GStreamer tests of tests/gst/.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <unistd.h>

gchar *
model_path (void)
{
  return test_data_path (MODEL);
}

static GArray *
json_ids (JsonObject * o, const gchar * member)
{
  JsonArray *a = json_object_get_array_member (o, member);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    gint32 id = (gint32) json_array_get_int_element (a, i);
    g_array_append_val (ids, id);
  }
  return ids;
}

Reference *
reference_load_from (const gchar * file)
{
  gchar *path = test_data_path (file);
  JsonParser *parser = json_parser_new ();
  GError *error = NULL;
  Reference *r = g_new0 (Reference, 1);
  JsonObject *o;

  fail_unless (json_parser_load_from_file (parser, path, &error), "%s: %s", path, error ? error->message : "");
  o = json_node_get_object (json_parser_get_root (parser));
  r->prompt = g_strdup (json_object_get_string_member (o, "prompt"));
  r->prompt_tokens = json_ids (o, "prompt_tokens");
  r->greedy_tokens = json_ids (o, "greedy_tokens");
  r->greedy_text = g_strdup (json_object_get_string_member (o, "greedy_text"));
  g_object_unref (parser);
  g_free (path);
  return r;
}

Reference *
reference_load (void)
{
  return reference_load_from (REFERENCE);
}

void
reference_free (Reference * r)
{
  g_free (r->prompt);
  g_array_free (r->prompt_tokens, TRUE);
  g_array_free (r->greedy_tokens, TRUE);
  g_free (r->greedy_text);
  g_free (r);
}

GstHarness *
harness_new (const gchar * factory, const gchar * first_property, ...)
{
  GstElement *element = gst_element_factory_make (factory, NULL);
  GstHarness *h;
  va_list args;

  fail_unless (element != NULL, "no element %s: is the plugin on GST_PLUGIN_PATH?", factory);
  if (first_property) {
    va_start (args, first_property);
    g_object_set_valist (G_OBJECT (element), first_property, args);
    va_end (args);
  }
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  return h;
}

GArray *
tokens_of (GstBuffer * buf, PrimaHeader * h)
{
  GstMapInfo map;
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  fail_unless (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_TOKENS, h), "not a tokens buffer");
  fail_unless_equals_int (h->payload_size, h->n_tokens * sizeof (gint32));
  g_array_append_vals (ids, map.data + PRIMA_HEADER_SIZE, h->n_tokens);
  gst_buffer_unmap (buf, &map);
  return ids;
}

void
assert_ids_equal (GArray * got, GArray * want)
{
  fail_unless_equals_int (got->len, want->len);
  for (guint i = 0; i < want->len; i++)
    fail_unless_equals_int (g_array_index (got, gint32, i), g_array_index (want, gint32, i));
}

GstBuffer *
tokens_buffer (const gint32 * ids, guint n)
{
  return prima_tokens_buffer_new (ids, n, -1, 0, 0);
}

GstMessage *
run_pipeline (GstElement * pipeline, GstClockTime timeout)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  else
    msg = gst_bus_timed_pop_filtered (bus, timeout, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  fail_unless (msg != NULL, "the pipeline neither ended nor failed");
  return msg;
}

gchar *
read_pipeline (const gchar * name)
{
  gchar *path = g_build_filename (g_getenv ("PRIMA_PIPELINES_DIR"), name, NULL);
  gchar *contents = NULL;
  GString *desc = g_string_new (NULL);
  gchar **lines;

  fail_unless (g_file_get_contents (path, &contents, NULL, NULL), "cannot read %s", path);
  lines = g_strsplit (contents, "\n", -1);
  for (gchar ** l = lines; *l; l++)
    if (**l != '#')
      g_string_append_printf (desc, "%s ", *l);
  g_strfreev (lines);
  g_free (contents);
  g_free (path);
  return g_string_free (desc, FALSE);
}

void
set_by_name (GstElement * pipeline, const gchar * name, const gchar * property, ...)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  va_list args;

  fail_unless (e != NULL, "the pipeline has no element named %s", name);
  va_start (args, property);
  g_object_set_valist (G_OBJECT (e), property, args);
  va_end (args);
  gst_object_unref (e);
}

gchar *
gst_test_add_core_plugin (void)
{
  const gchar *core = g_getenv ("PRIMA_GST_CORE_PLUGIN");
  gchar *dir, *link, *path;

  if (core == NULL)
    return NULL;
  dir = g_dir_make_tmp ("prima-gst-core-XXXXXX", NULL);
  link = g_build_filename (dir, "libgstcoreelements.so", NULL);
  if (symlink (core, link) != 0)
    g_error ("cannot link %s: %s", core, g_strerror (errno));
  path = g_getenv ("GST_PLUGIN_PATH") ? g_strdup_printf ("%s:%s", g_getenv ("GST_PLUGIN_PATH"), dir) : g_strdup (dir);
  g_setenv ("GST_PLUGIN_PATH", path, TRUE);
  g_free (path);
  g_free (link);
  return dir;
}

void
gst_test_remove_core_plugin (gchar * dir)
{
  gchar *link;

  if (dir == NULL)
    return;
  link = g_build_filename (dir, "libgstcoreelements.so", NULL);
  g_unlink (link);
  g_rmdir (dir);
  g_free (link);
  g_free (dir);
}

int
gst_test_run_suite (int *argc, char ***argv, Suite * (*make_suite) (void), const gchar * name, const gchar * file)
{
  gchar *core_dir = gst_test_add_core_plugin ();
  int failed;

  gst_check_init (argc, argv);
  failed = gst_check_run_suite (make_suite (), name, file);
  gst_test_remove_core_plugin (core_dir);
  return failed;
}
