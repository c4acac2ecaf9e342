/* gst-prima: what the programs share to run the pipeline descriptions of
 * pipelines/ (*.pipeline, gst-launch syntax).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

/* gst_init, with the "prima" plugin made findable: run from the build folder
 * the build's plugin is used (its folder goes first on GST_PLUGIN_PATH);
 * installed, the installed plugin folder is scanned when GStreamer's paths do
 * not hold it. Prints one error line and returns FALSE when the plugin
 * cannot be found. */
gboolean prima_gst_init (const char *command);
/* setlocale's partner: binds the message catalogue (po/) of the build tree when
 * run uninstalled, else the installed one next to this executable
 * (PREFIX/share/locale), or $PRIMA_LOCALEDIR; exports the folder as
 * PRIMA_LOCALEDIR for the plugin. */
void prima_i18n_init (void);

/* TRUE when the program runs from its build folder. */
gboolean prima_running_uninstalled (void);

/* The `prima` program for the processes a program starts (the local
 * workers of --local-ring): $PRIMA_BIN when set, this executable when it
 * is prima, else prima beside it (primad in the same bin or build folder),
 * else PATH's. */
char *prima_program_path (void);

/* The path of pipelines/NAME: $PRIMA_PIPELINES_DIR/NAME when set, the source
 * tree's when run uninstalled, else the installed copy in DATADIR/gst-prima
 * (next to the executable when the installed tree was moved or installed
 * with DESTDIR: PREFIX/BINDIR/prima looks in PREFIX/DATADIR/gst-prima first). */
char *prima_pipeline_path (const char *name);

/* The path of data/NAME (the embedded model): $PRIMA_DATA_DIR/NAME when set,
 * the source tree's data/ when run uninstalled, else DATADIR/gst-prima as
 * for prima_pipeline_path. */
char *prima_data_path (const char *name);

/* Reads pipelines/NAME, drops its comment lines and parses it with
 * gst_parse_launch. Prints one error line and returns NULL on failure. */
GstElement *prima_pipeline_load (const char *command, const char *name);

/* The element called name in the pipeline (a new reference); aborts with a
 * message naming the description when there is none. */
GstElement *prima_pipeline_get (GstElement *pipeline, const char *name);

/* g_object_set on the element called name. */
void prima_pipeline_set (GstElement *pipeline, const char *name, const char *first_property, ...) G_GNUC_NULL_TERMINATED;
