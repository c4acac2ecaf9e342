/* gst-prima: one model per file, shared by the elements of a pipeline.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A PrimaSharedModel stands for one GGUF file (found by device and inode, so
 * two spellings of a path are one model): its path and, parsed once on first
 * use, its vocabulary (the GGUF metadata and the tokenizer). It is reference
 * counted; a process-wide cache hands out the same one for the same file while
 * anyone holds it.
 *
 * The elements find it through a GstContext of type "prima.model" (as GL
 * elements share a display): an element with the model property answers the
 * GST_QUERY_CONTEXT of its neighbours and posts GST_MESSAGE_HAVE_CONTEXT; one
 * without asks up and down the chain, then the bin (GST_MESSAGE_NEED_CONTEXT).
 * An application may also set such a context on the pipeline
 * (prima_model_context_new() and gst_element_set_context()). */
#pragma once

#include <gst/gst.h>
#include "gguf.h"
#include "tokenizer.h"

G_BEGIN_DECLS

#define PRIMA_MODEL_CONTEXT_TYPE "prima.model"

typedef struct _PrimaSharedModel PrimaSharedModel;

#define PRIMA_TYPE_SHARED_MODEL (prima_shared_model_get_type ())
GType prima_shared_model_get_type (void);

/* The model of the file at @path (a new reference): the cached one when the
 * same file is already open, else a new one. NULL and @error when the file
 * cannot be found. The file is not parsed here. */
PrimaSharedModel *prima_shared_model_get (const gchar * path, GError ** error);
PrimaSharedModel *prima_shared_model_ref (PrimaSharedModel * model);
void prima_shared_model_unref (PrimaSharedModel * model);

/* The path it was first opened with. */
const gchar *prima_shared_model_get_path (const PrimaSharedModel * model);
/* Whether both are the same file. */
gboolean prima_shared_model_same_file (const PrimaSharedModel * a, const PrimaSharedModel * b);

/* The GGUF metadata and the tokenizer, parsed on the first call (from any
 * thread) and owned by @model. FALSE and @error when the file is not a valid
 * GGUF or has no usable tokenizer (the same error again on later calls). */
gboolean prima_shared_model_get_vocabulary (PrimaSharedModel * model, const gguf_file ** file,
    const prima_tokenizer ** tok, GError ** error);

/* For tests and logs: how many times the vocabulary was parsed (0 or 1), how
 * many times it was asked for, and the current reference count. */
guint prima_shared_model_get_vocabulary_parses (const PrimaSharedModel * model);
guint prima_shared_model_get_vocabulary_users (const PrimaSharedModel * model);
guint prima_shared_model_get_refcount (const PrimaSharedModel * model);

/* A "prima.model" context holding @model (its fields: "path", a string, and
 * "model", a PrimaSharedModel). Not persistent: a pipeline back in NULL
 * forgets it. */
GstContext *prima_model_context_new (PrimaSharedModel * model);
/* *model: a new reference. FALSE when @context is not a "prima.model" one. */
gboolean prima_model_context_parse (GstContext * context, PrimaSharedModel ** model);

G_END_DECLS
