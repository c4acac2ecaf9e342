/* gst-prima: running the pipeline descriptions of pipelines/.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "prima-pipeline.h"

#include <stdio.h>
#include <string.h>

gboolean
prima_running_uninstalled (void)
{
  static int uninstalled = -1;
  if (uninstalled < 0) {
    char *exe = g_file_read_link ("/proc/self/exe", NULL);
    char *root = g_strconcat (PRIMA_BUILD_ROOT, G_DIR_SEPARATOR_S, NULL);
    uninstalled = exe != NULL && g_str_has_prefix (exe, root);
    g_free (root);
    g_free (exe);
  }
  return uninstalled;
}

gboolean
prima_gst_init (const char *command)
{
  GstPlugin *plugin;

  if (prima_running_uninstalled ()) {
    const char *old = g_getenv ("GST_PLUGIN_PATH");
    char *path = old && *old ? g_strconcat (PRIMA_BUILD_PLUGIN_DIR, G_SEARCHPATH_SEPARATOR_S, old, NULL)
        : g_strdup (PRIMA_BUILD_PLUGIN_DIR);
    g_setenv ("GST_PLUGIN_PATH", path, TRUE);
    g_free (path);
  }
  gst_init (NULL, NULL);
  plugin = gst_registry_find_plugin (gst_registry_get (), "prima");
  if (plugin == NULL && !prima_running_uninstalled ()) {
    gst_registry_scan_path (gst_registry_get (), PRIMA_INSTALL_PLUGIN_DIR);
    plugin = gst_registry_find_plugin (gst_registry_get (), "prima");
  }
  if (plugin == NULL) {
    fprintf (stderr, "prima %s: the GStreamer plugin \"prima\" was not found (looked in %s and GStreamer's plugin path)\n",
        command, prima_running_uninstalled () ? PRIMA_BUILD_PLUGIN_DIR : PRIMA_INSTALL_PLUGIN_DIR);
    return FALSE;
  }
  gst_object_unref (plugin);
  return TRUE;
}

char *
prima_pipeline_path (const char *name)
{
  const char *dir = g_getenv ("PRIMA_PIPELINES_DIR");
  if (dir && *dir)
    return g_build_filename (dir, name, NULL);
  if (prima_running_uninstalled ())
    return g_build_filename (PRIMA_SOURCE_PIPELINES_DIR, name, NULL);
  return g_build_filename (PRIMA_INSTALL_PIPELINES_DIR, name, NULL);
}

GstElement *
prima_pipeline_load (const char *command, const char *name)
{
  char *path = prima_pipeline_path (name);
  char *contents = NULL;
  GError *error = NULL;
  GString *desc;
  GstElement *pipeline;
  char **lines;

  if (!g_file_get_contents (path, &contents, NULL, &error)) {
    fprintf (stderr, "prima %s: %s\n", command, error->message);
    g_error_free (error);
    g_free (path);
    return NULL;
  }
  desc = g_string_new (NULL);
  lines = g_strsplit (contents, "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l != '#')
      g_string_append_printf (desc, "%s ", *l);
  g_strfreev (lines);
  g_free (contents);

  pipeline = gst_parse_launch_full (desc->str, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (pipeline == NULL) {
    fprintf (stderr, "prima %s: %s: %s\n", command, path, error ? error->message : "cannot parse");
    g_clear_error (&error);
  }
  g_string_free (desc, TRUE);
  g_free (path);
  return pipeline;
}

GstElement *
prima_pipeline_get (GstElement *pipeline, const char *name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  if (e == NULL)
    g_error ("the pipeline description has no element named \"%s\"", name);
  return e;
}

void
prima_pipeline_set (GstElement *pipeline, const char *name, const char *first_property, ...)
{
  GstElement *e = prima_pipeline_get (pipeline, name);
  va_list args;

  va_start (args, first_property);
  g_object_set_valist (G_OBJECT (e), first_property, args);
  va_end (args);
  gst_object_unref (e);
}
