/* gst-prima tests: helpers shared by the GStreamer tests of tests/gst/ (one
 * file per element, test-pipelines.c, test-plugin.c, ...): the reference
 * model and its greedy continuation, harnesses, tokens buffers, running a
 * pipeline of pipelines/ and the private plugin registry.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "test-common.h"

/* The tiny model of tests/data and its reference (prompt, tokens, greedy text). */
#define MODEL "stories260K-f32.gguf"
#define REFERENCE "stories260K-f32.json"

typedef struct
{
  gchar *prompt;
  GArray *prompt_tokens;
  GArray *greedy_tokens;
  gchar *greedy_text;
} Reference;

/* tests/data/MODEL */
gchar *model_path (void);
/* A reference JSON file of tests/data (REFERENCE for reference_load). */
Reference *reference_load_from (const gchar * file);
Reference *reference_load (void);
void reference_free (Reference * r);

/* An element of the plugin with its properties set, in a harness on its
 * "sink" and "src" pads (the harness sets it to PLAYING, so the model must
 * be set before). */
GstHarness *harness_new (const gchar * factory, const gchar * first_property, ...) G_GNUC_NULL_TERMINATED;

/* The header and ids of a tokens buffer (fails the test on anything else). */
GArray *tokens_of (GstBuffer * buf, PrimaHeader * h);
void assert_ids_equal (GArray * got, GArray * want);
/* A tokens buffer that appends @ids (pos0 -1). */
GstBuffer *tokens_buffer (const gint32 * ids, guint n);

/* Runs a pipeline to its end; returns the error or end-of-stream message. */
GstMessage *run_pipeline (GstElement * pipeline, GstClockTime timeout);
/* pipelines/NAME (PRIMA_PIPELINES_DIR) without its comment lines, for gst_parse_launch. */
gchar *read_pipeline (const gchar * name);
/* g_object_set on the element of @pipeline named @name. */
void set_by_name (GstElement * pipeline, const gchar * name, const gchar * property, ...) G_GNUC_NULL_TERMINATED;

/* Only the plugin under test and GStreamer's core elements: the test
 * environment (tests/gst/meson.build) empties the system plugin path, so
 * PRIMA_GST_CORE_PLUGIN is linked into a private folder added to
 * GST_PLUGIN_PATH. Call it before gst_init, so that child processes see the
 * same plugins; returns the folder (NULL without PRIMA_GST_CORE_PLUGIN) for
 * gst_test_remove_core_plugin. */
gchar *gst_test_add_core_plugin (void);
void gst_test_remove_core_plugin (gchar * dir);

/* main() of a gst-check test: the core plugin, gst_check_init, the suite
 * that @make_suite builds. */
int gst_test_run_suite (int *argc, char ***argv, Suite * (*make_suite) (void), const gchar * name,
    const gchar * file);

#define GST_TEST_MAIN(make_suite, name)                                     \
  int                                                                       \
  main (int argc, char **argv)                                              \
  {                                                                         \
    return gst_test_run_suite (&argc, &argv, make_suite, name, __FILE__);   \
  }
