/* gst-prima: writes docs/elements-reference.md from the built plugin.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * elements-reference PLUGIN.so [OUTPUT.md]
 *
 * Loads only the given plugin (no system plugins, a private registry) and
 * prints every element it registers: metadata, pad templates with their caps,
 * the element's own properties (type, range or enum values, default, flags,
 * blurb) and its own signals, as Markdown, sorted by name so that the output
 * depends on the code alone. The properties inherited from GStreamer's base
 * classes are named by their class only, so the file does not change with the
 * installed GStreamer version. `meson compile -C build elements-reference`
 * refreshes the committed file; the test test-elements-reference fails when
 * it differs (tests/gst/test-elements-reference.sh). */
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

/* A table cell: no line breaks, no unescaped pipes. */
static void
cell (GString * out, const gchar * text)
{
  for (const gchar * p = text ? text : ""; *p; p++) {
    if (*p == '|')
      g_string_append (out, "\\|");
    else if (*p == '\n')
      g_string_append_c (out, ' ');
    else
      g_string_append_c (out, *p);
  }
}

static gint
compare_pspec (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 ((*(GParamSpec **) a)->name, (*(GParamSpec **) b)->name);
}

static gint
compare_template (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (((GstStaticPadTemplate *) a)->name_template, ((GstStaticPadTemplate *) b)->name_template);
}

static gint
compare_feature (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (gst_plugin_feature_get_name ((GstPluginFeature *) a),
      gst_plugin_feature_get_name ((GstPluginFeature *) b));
}

/* The value as a string: numbers in C notation, strings quoted, enums by nick. */
static gchar *
value_string (GParamSpec * pspec, const GValue * v)
{
  GType t = G_PARAM_SPEC_VALUE_TYPE (pspec);

  if (G_VALUE_HOLDS_STRING (v)) {
    const gchar *s = g_value_get_string (v);
    return s ? g_strdup_printf ("\"%s\"", s) : g_strdup ("NULL");
  }
  if (G_TYPE_IS_ENUM (t)) {
    GEnumValue *ev = g_enum_get_value (G_ENUM_CLASS (g_type_class_peek (t)), g_value_get_enum (v));
    return ev ? g_strdup_printf ("%s (%d)", ev->value_nick, ev->value) : g_strdup_printf ("%d", g_value_get_enum (v));
  }
  if (G_TYPE_IS_FLAGS (t))
    return g_strdup_printf ("0x%08x", g_value_get_flags (v));
  if (G_VALUE_HOLDS_FLOAT (v))
    return g_strdup_printf ("%g", g_value_get_float (v));
  if (G_VALUE_HOLDS_DOUBLE (v))
    return g_strdup_printf ("%g", g_value_get_double (v));
  if (G_TYPE_IS_OBJECT (t) || G_TYPE_IS_BOXED (t) || t == G_TYPE_POINTER)
    return g_strdup ("NULL");
  return g_strdup_value_contents (v);
}

/* The range of a number: "min .. max". */
static gchar *
range_string (GParamSpec * p)
{
#define RANGE(TYPE, fmt, cast) \
  if (G_IS_PARAM_SPEC_##TYPE (p)) \
    return g_strdup_printf (fmt " .. " fmt, (cast) G_PARAM_SPEC_##TYPE (p)->minimum, \
        (cast) G_PARAM_SPEC_##TYPE (p)->maximum);
  RANGE (INT, "%d", gint);
  RANGE (UINT, "%u", guint);
  RANGE (LONG, "%ld", glong);
  RANGE (ULONG, "%lu", gulong);
  RANGE (INT64, "%" G_GINT64_FORMAT, gint64);
  RANGE (UINT64, "%" G_GUINT64_FORMAT, guint64);
  RANGE (FLOAT, "%g", gdouble);
  RANGE (DOUBLE, "%g", gdouble);
#undef RANGE
  return NULL;
}

static void
dump_flags (GString * out, GParamSpec * p)
{
  const gchar *sep = "";
  if (p->flags & G_PARAM_READABLE) {
    g_string_append (out, "readable");
    sep = ", ";
  }
  if (p->flags & G_PARAM_WRITABLE) {
    g_string_append_printf (out, "%swritable", sep);
    sep = ", ";
  }
  if (p->flags & G_PARAM_CONSTRUCT_ONLY)
    g_string_append_printf (out, "%sconstruct-only", sep);
  if (p->flags & GST_PARAM_CONTROLLABLE)
    g_string_append_printf (out, "%scontrollable", sep);
  if (p->flags & GST_PARAM_MUTABLE_READY)
    g_string_append_printf (out, "%schangeable in NULL or READY", sep);
  if (p->flags & GST_PARAM_MUTABLE_PAUSED)
    g_string_append_printf (out, "%schangeable up to PAUSED", sep);
  if (p->flags & GST_PARAM_MUTABLE_PLAYING)
    g_string_append_printf (out, "%schangeable up to PLAYING", sep);
}

static void
dump_properties (GString * out, GstElementFactory * factory, GType type)
{
  GObjectClass *klass = g_type_class_ref (type);
  guint n;
  GParamSpec **all = g_object_class_list_properties (klass, &n);
  GPtrArray *own = g_ptr_array_new ();
  GPtrArray *enums = g_ptr_array_new ();
  GString *parents = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    if (all[i]->owner_type == type)
      g_ptr_array_add (own, all[i]);
  g_ptr_array_sort (own, compare_pspec);

  g_string_append (out, "\n### Properties\n\n");
  if (own->len == 0)
    g_string_append (out, "None of its own.\n");
  else {
    g_string_append (out, "| name | type | range | default | flags | description |\n");
    g_string_append (out, "|---|---|---|---|---|---|\n");
  }
  for (guint i = 0; i < own->len; i++) {
    GParamSpec *p = g_ptr_array_index (own, i);
    GType vt = G_PARAM_SPEC_VALUE_TYPE (p);
    gchar *range = range_string (p), *def;

    g_string_append_printf (out, "| `%s` | `%s` | ", p->name, g_type_name (vt));
    if (range)
      cell (out, range);
    else if (G_TYPE_IS_ENUM (vt) || G_TYPE_IS_FLAGS (vt)) {
      g_string_append_printf (out, "see `%s`", g_type_name (vt));
      if (!g_ptr_array_find (enums, GSIZE_TO_POINTER (vt), NULL))
        g_ptr_array_add (enums, GSIZE_TO_POINTER (vt));
    }
    g_string_append (out, " | ");
    def = value_string (p, g_param_spec_get_default_value (p));
    g_string_append (out, "`");
    cell (out, def);
    g_string_append (out, "` | ");
    dump_flags (out, p);
    g_string_append (out, " | ");
    cell (out, g_param_spec_get_blurb (p));
    g_string_append (out, " |\n");
    g_free (range);
    g_free (def);
  }

  /* the enums and flags the properties take */
  for (guint i = 0; i < enums->len; i++) {
    GType vt = GPOINTER_TO_SIZE (g_ptr_array_index (enums, i));
    gpointer tc = g_type_class_ref (vt);

    g_string_append_printf (out, "\n`%s`:\n\n| nick | value | description |\n|---|---|---|\n", g_type_name (vt));
    if (G_TYPE_IS_ENUM (vt)) {
      GEnumClass *ec = tc;
      for (guint j = 0; j < ec->n_values; j++) {
        g_string_append_printf (out, "| `%s` | %d | ", ec->values[j].value_nick, ec->values[j].value);
        cell (out, ec->values[j].value_name);
        g_string_append (out, " |\n");
      }
    } else {
      GFlagsClass *fc = tc;
      for (guint j = 0; j < fc->n_values; j++) {
        g_string_append_printf (out, "| `%s` | 0x%08x | ", fc->values[j].value_nick, fc->values[j].value);
        cell (out, fc->values[j].value_name);
        g_string_append (out, " |\n");
      }
    }
    g_type_class_unref (tc);
  }

  /* the ancestors, by name only: their properties belong to GStreamer */
  for (GType t = g_type_parent (type); t != 0 && t != G_TYPE_INITIALLY_UNOWNED; t = g_type_parent (t))
    g_string_append_printf (parents, "%s`%s`", parents->len ? ", " : "", g_type_name (t));
  g_string_append_printf (out, "\nInherits the properties of %s (`gst-inspect-1.0 %s` lists them).\n",
      parents->str, gst_plugin_feature_get_name (GST_PLUGIN_FEATURE (factory)));

  g_string_free (parents, TRUE);
  g_ptr_array_free (enums, TRUE);
  g_ptr_array_free (own, TRUE);
  g_free (all);
  g_type_class_unref (klass);
}

static void
dump_signals (GString * out, GType type)
{
  guint n;
  guint *ids = g_signal_list_ids (type, &n);
  GPtrArray *names = g_ptr_array_new ();

  g_string_append (out, "\n### Signals\n\n");
  for (guint i = 0; i < n; i++) {
    GSignalQuery q;
    GString *line = g_string_new (NULL);

    g_signal_query (ids[i], &q);
    g_string_append_printf (line, "- `%s` %s (", q.signal_name,
        (q.signal_flags & G_SIGNAL_ACTION) ? "(action)" : "");
    for (guint j = 0; j < q.n_params; j++)
      g_string_append_printf (line, "%s`%s`", j ? ", " : "", g_type_name (q.param_types[j] &
              ~G_SIGNAL_TYPE_STATIC_SCOPE));
    g_string_append_printf (line, ") returns `%s`\n", g_type_name (q.return_type & ~G_SIGNAL_TYPE_STATIC_SCOPE));
    g_ptr_array_add (names, g_string_free (line, FALSE));
  }
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  if (names->len == 0)
    g_string_append (out, "None of its own.\n");
  for (guint i = 0; i < names->len; i++)
    g_string_append (out, g_ptr_array_index (names, i));
  g_ptr_array_free (names, TRUE);
  g_free (ids);
}

static const gchar *
direction_name (GstPadDirection d)
{
  return d == GST_PAD_SRC ? "src" : d == GST_PAD_SINK ? "sink" : "unknown";
}

static const gchar *
presence_name (GstPadPresence p)
{
  return p == GST_PAD_ALWAYS ? "always" : p == GST_PAD_SOMETIMES ? "sometimes" : "request";
}

static void
dump_element (GString * out, GstElementFactory * factory)
{
  GstElementFactory *loaded = GST_ELEMENT_FACTORY (gst_plugin_feature_load (GST_PLUGIN_FEATURE (factory)));
  GType type = gst_element_factory_get_element_type (loaded);
  GList *templates = g_list_sort (g_list_copy ((GList *)
          gst_element_factory_get_static_pad_templates (loaded)), compare_template);

  g_string_append_printf (out, "\n## %s\n\n", gst_plugin_feature_get_name (GST_PLUGIN_FEATURE (loaded)));
  g_string_append (out, "| | |\n|---|---|\n");
  g_string_append (out, "| long name | ");
  cell (out, gst_element_factory_get_metadata (loaded, GST_ELEMENT_METADATA_LONGNAME));
  g_string_append (out, " |\n| class | ");
  cell (out, gst_element_factory_get_metadata (loaded, GST_ELEMENT_METADATA_KLASS));
  g_string_append (out, " |\n| description | ");
  cell (out, gst_element_factory_get_metadata (loaded, GST_ELEMENT_METADATA_DESCRIPTION));
  g_string_append_printf (out, " |\n| GType | `%s`, a `%s` |\n| rank | %u |\n", g_type_name (type),
      g_type_name (g_type_parent (type)), gst_plugin_feature_get_rank (GST_PLUGIN_FEATURE (loaded)));

  g_string_append (out, "\n### Pads\n\n");
  if (templates == NULL)
    g_string_append (out, "None.\n");
  else
    g_string_append (out, "| template | direction | presence | caps |\n|---|---|---|---|\n");
  for (GList * l = templates; l; l = l->next) {
    GstStaticPadTemplate *t = l->data;
    GstCaps *caps = gst_static_caps_get (&t->static_caps);
    gchar *s = gst_caps_to_string (caps);

    g_string_append_printf (out, "| `%s` | %s | %s | `", t->name_template, direction_name (t->direction),
        presence_name (t->presence));
    cell (out, s);
    g_string_append (out, "` |\n");
    g_free (s);
    gst_caps_unref (caps);
  }

  dump_properties (out, loaded, type);
  dump_signals (out, type);
  g_list_free (templates);
  gst_object_unref (loaded);
}

int
main (int argc, char **argv)
{
  gchar *dir, *registry;
  GError *err = NULL;
  GstPlugin *plugin;
  GList *features;
  GString *out;
  int rc = 0;

  if (argc < 2 || argc > 3) {
    fprintf (stderr, "usage: %s PLUGIN.so [OUTPUT.md]\n", argv[0]);
    return 2;
  }
  /* only this plugin, in a throw-away registry */
  dir = g_dir_make_tmp ("prima-elements-reference-XXXXXX", NULL);
  registry = g_build_filename (dir, "registry.bin", NULL);
  g_setenv ("GST_REGISTRY", registry, TRUE);
  g_setenv ("GST_REGISTRY_FORK", "no", TRUE);
  g_setenv ("GST_PLUGIN_SYSTEM_PATH_1_0", "", TRUE);
  g_setenv ("GST_PLUGIN_PATH_1_0", "", TRUE);
  g_setenv ("GST_PLUGIN_PATH", "", TRUE);
  gst_init (NULL, NULL);

  plugin = gst_plugin_load_file (argv[1], &err);
  if (plugin == NULL) {
    fprintf (stderr, "%s: cannot load %s: %s\n", argv[0], argv[1], err->message);
    return 1;
  }

  out = g_string_new (NULL);
  g_string_append_printf (out, "# Element reference: the `%s` plugin\n\n", gst_plugin_get_name (plugin));
  g_string_append (out, "<!-- Generated from the built plugin by tests/gst/elements-reference.c: do not edit.\n"
      "     Refresh: meson compile -C build elements-reference\n"
      "     The test test-elements-reference fails when this file is out of date. -->\n\n");
  g_string_append_printf (out, "%s. License %s. The elements' own documentation (with a launch line each) is the\n"
      "gtk-doc block at the top of each element's `.c` file; [elements.md](elements.md) explains how they work together.\n",
      gst_plugin_get_description (plugin), gst_plugin_get_license (plugin));

  features = g_list_sort (gst_registry_get_feature_list_by_plugin (gst_registry_get (),
          gst_plugin_get_name (plugin)), compare_feature);
  g_string_append (out, "\n| element | description |\n|---|---|\n");
  for (GList * l = features; l; l = l->next) {
    if (!GST_IS_ELEMENT_FACTORY (l->data))
      continue;
    g_string_append_printf (out, "| [`%s`](#%s) | ", gst_plugin_feature_get_name (l->data),
        gst_plugin_feature_get_name (l->data));
    cell (out, gst_element_factory_get_metadata (l->data, GST_ELEMENT_METADATA_DESCRIPTION));
    g_string_append (out, " |\n");
  }
  for (GList * l = features; l; l = l->next)
    if (GST_IS_ELEMENT_FACTORY (l->data))
      dump_element (out, l->data);

  if (argc == 3) {
    if (!g_file_set_contents (argv[2], out->str, out->len, &err)) {
      fprintf (stderr, "%s: %s\n", argv[0], err->message);
      rc = 1;
    } else
      fprintf (stderr, "wrote %s\n", argv[2]);
  } else
    fwrite (out->str, 1, out->len, stdout);

  g_string_free (out, TRUE);
  gst_plugin_list_free (features);
  gst_object_unref (plugin);
  g_unlink (registry);
  g_rmdir (dir);
  g_free (registry);
  g_free (dir);
  return rc;
}
