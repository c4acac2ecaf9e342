/* gst-prima: helpers shared by the elements of the plugin.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>
#include "gguf.h"
#include "tokenizer.h"
#include "prima-shared-model.h"

G_BEGIN_DECLS

/* The model an element uses when it starts (a new reference), shared through
 * the "prima.model" context (prima-shared-model.h):
 *  - @path set (the element's model property): that file's model; when a
 *    linked element up or down the chain already names another file, an
 *    element error naming both; else it is announced (HAVE_CONTEXT).
 *  - @path unset: the model a linked element names or uses (a context query
 *    up and down the chain), else the pipeline's (NEED_CONTEXT: the bin sets
 *    it on the element, which keeps it in *@context_slot under the object
 *    lock), else NULL and no error: the caller says what is missing.
 * Errors are posted on @element; NULL is returned. */
PrimaSharedModel *prima_element_acquire_model (GstElement * element, const gchar * path,
    PrimaSharedModel ** context_slot);

/* The same, with the vocabulary parsed (once per file for the process). A
 * missing model is an element error unless @optional (then TRUE with *model
 * NULL). */
gboolean prima_element_open_vocabulary (GstElement * element, const gchar * path,
    PrimaSharedModel ** context_slot, gboolean optional, PrimaSharedModel ** model,
    const gguf_file ** file, const prima_tokenizer ** tok);

/* An element's answer to a GST_QUERY_CONTEXT for "prima.model" (its pads'
 * query functions call it first): the model in use (*@current_slot), else the
 * one its model property names (*@path_slot), else the one the bin set
 * (*@context_slot), all read under the object lock. FALSE (let the query
 * travel on) when it has none or the query is for another context. */
gboolean prima_element_model_query (GstElement * element, GstQuery * query, PrimaSharedModel ** current_slot,
    gchar ** path_slot, PrimaSharedModel ** context_slot);

/* For the elements that load the weights themselves: the path of the model
 * to load (prima_element_acquire_model(), kept in *@current_slot under the
 * object lock), or NULL with an element error posted. */
gchar *prima_element_resolve_model (GstElement * element, const gchar * path, PrimaSharedModel ** context_slot,
    PrimaSharedModel ** current_slot);

/* Drops the model in use (*@current_slot, under the object lock). */
void prima_element_release_model (GstElement * element, PrimaSharedModel ** current_slot);

/* An element's set_context: keeps a "prima.model" context's model in
 * *@context_slot (under the object lock). */
void prima_element_model_set_context (GstElement * element, GstContext * context, PrimaSharedModel ** context_slot);

G_END_DECLS
