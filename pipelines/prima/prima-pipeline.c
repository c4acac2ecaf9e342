/* gst-prima: running the pipeline descriptions of pipelines/.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "prima-pipeline.h"
#include <glib/gi18n-lib.h>

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

char *
prima_program_path (void)
{
  char *exe = g_file_read_link ("/proc/self/exe", NULL);
  char *path = NULL;

  if (g_getenv ("PRIMA_BIN") && *g_getenv ("PRIMA_BIN")) {
    g_free (exe);
    return g_strdup (g_getenv ("PRIMA_BIN"));
  }
  if (exe) {
    char *base = g_path_get_basename (exe), *dir = g_path_get_dirname (exe);
    if (strcmp (base, "prima") == 0)
      path = g_strdup (exe);
    else {
      /* the build tree keeps primad in pipelines/primad/, prima in pipelines/ */
      char *beside = g_build_filename (dir, "prima", NULL);
      char *up = g_build_filename (dir, "..", "prima", NULL);
      if (g_file_test (beside, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test (beside, G_FILE_TEST_IS_DIR))
        path = g_steal_pointer (&beside);
      else if (g_file_test (up, G_FILE_TEST_IS_EXECUTABLE) && !g_file_test (up, G_FILE_TEST_IS_DIR))
        path = g_canonicalize_filename (up, NULL);
      g_free (beside);
      g_free (up);
    }
    g_free (base);
    g_free (dir);
    g_free (exe);
  }
  if (path == NULL)
    path = g_find_program_in_path ("prima");
  return path ? path : g_strdup ("prima");
}

/* PREFIX/BINDIR when this executable runs from there, found from its own path:
 * an installed tree that was moved, or installed with DESTDIR, still finds
 * its plugin and data next to it. NULL when the executable is not in a
 * folder that ends like the configured bindir. */
static const char *
prima_exe_prefix (void)
{
  static char *prefix;
  static gsize once;

  if (g_once_init_enter (&once)) {
    char *exe = g_file_read_link ("/proc/self/exe", NULL);
    const char *bindir = PRIMA_INSTALL_BINDIR;

    if (exe && g_str_has_prefix (bindir, PRIMA_INSTALL_PREFIX)) {
      /* the bindir below the prefix ("/bin"), which the executable's folder must end with */
      const char *rel = bindir + strlen (PRIMA_INSTALL_PREFIX);
      char *dir = g_path_get_dirname (exe);
      gsize n = strlen (dir), r = strlen (rel);

      if (*rel == G_DIR_SEPARATOR && n >= r && strcmp (dir + n - r, rel) == 0)
        prefix = g_strndup (dir, n - r);
      g_free (dir);
    }
    g_free (exe);
    g_once_init_leave (&once, 1);
  }
  return prefix;
}

/* An installed path (under the configured prefix) as it is next to this
 * executable when that copy exists, else the configured path itself. */
static char *
prima_installed_path (const char *configured)
{
  const char *prefix = prima_exe_prefix ();
  gsize n = strlen (PRIMA_INSTALL_PREFIX);

  if (prefix && strncmp (configured, PRIMA_INSTALL_PREFIX, n) == 0 && configured[n] == G_DIR_SEPARATOR) {
    char *moved = g_strconcat (prefix, configured + n, NULL);
    if (g_file_test (moved, G_FILE_TEST_IS_DIR))
      return moved;
    g_free (moved);
  }
  return g_strdup (configured);
}

void
prima_i18n_init (void)
{
#ifdef ENABLE_NLS
  const char *dir = g_getenv ("PRIMA_LOCALEDIR");
  char *found = NULL;

  if (dir == NULL || *dir == '\0') {
    /* the build tree has PO/LANG/LC_MESSAGES/gst-prima.mo (meson's i18n module) */
    found = prima_running_uninstalled () ? g_build_filename (PRIMA_BUILD_ROOT, "po", NULL)
        : prima_installed_path (LOCALEDIR);
    dir = found;
    /* the plugin, loaded later, and the programs this one starts bind the same folder */
    g_setenv ("PRIMA_LOCALEDIR", dir, TRUE);
  }
  bindtextdomain (GETTEXT_PACKAGE, dir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  g_free (found);
#endif
}

gboolean
prima_gst_init (const char *command)
{
  GstPlugin *plugin;
  char *plugin_dir = prima_running_uninstalled () ? g_strdup (PRIMA_BUILD_PLUGIN_DIR)
      : prima_installed_path (PRIMA_INSTALL_PLUGIN_DIR);

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
    gst_registry_scan_path (gst_registry_get (), plugin_dir);
    plugin = gst_registry_find_plugin (gst_registry_get (), "prima");
  }
  if (plugin == NULL) {
    fprintf (stderr, _("prima %s: the GStreamer plugin \"prima\" was not found (looked in %s and GStreamer's plugin path)\n"),
        command, plugin_dir);
    g_free (plugin_dir);
    return FALSE;
  }
  g_free (plugin_dir);
  gst_object_unref (plugin);
  return TRUE;
}

char *
prima_pipeline_path (const char *name)
{
  const char *dir = g_getenv ("PRIMA_PIPELINES_DIR");
  char *installed, *path;

  if (dir && *dir)
    return g_build_filename (dir, name, NULL);
  if (prima_running_uninstalled ())
    return g_build_filename (PRIMA_SOURCE_PIPELINES_DIR, name, NULL);
  installed = prima_installed_path (PRIMA_INSTALL_PIPELINES_DIR);
  path = g_build_filename (installed, name, NULL);
  g_free (installed);
  return path;
}

char *
prima_data_path (const char *name)
{
  const char *dir = g_getenv ("PRIMA_DATA_DIR");
  char *installed, *path;

  if (dir && *dir)
    return g_build_filename (dir, name, NULL);
  if (prima_running_uninstalled ())
    return g_build_filename (PRIMA_SOURCE_DATA_DIR, name, NULL);
  installed = prima_installed_path (PRIMA_INSTALL_DATA_DIR);
  path = g_build_filename (installed, name, NULL);
  g_free (installed);
  return path;
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
    fprintf (stderr, _("prima %s: %s\n"), command, error->message);
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
    fprintf (stderr, _("prima %s: %s: %s\n"), command, path, error ? error->message : "cannot parse");
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
