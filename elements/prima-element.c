/* gst-prima: helpers shared by the elements of the plugin.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "prima-element.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "prima-caps.h"

/* Neither this element nor the pipeline names a model. */
static void
prima_element_no_model_error (GstElement * element)
{
  GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND,
      (_("No model file was given (set the \"model\" property).")),
      ("no element of the pipeline names a model (the \"prima.model\" context)"));
}

/* The peers of @element's pads of @direction, until one answers. */
static gboolean
prima_element_run_query (GstElement * element, GstQuery * query, GstPadDirection direction)
{
  GstIterator *it;
  GValue item = G_VALUE_INIT;
  gboolean done = FALSE, answered = FALSE;

  it = direction == GST_PAD_SRC ? gst_element_iterate_src_pads (element) : gst_element_iterate_sink_pads (element);
  while (!done && !answered) {
    switch (gst_iterator_next (it, &item)) {
      case GST_ITERATOR_OK:
        answered = gst_pad_peer_query (g_value_get_object (&item), query);
        g_value_reset (&item);
        break;
      case GST_ITERATOR_RESYNC:
        gst_iterator_resync (it);
        break;
      default:
        done = TRUE;
        break;
    }
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return answered;
}

/* The model a linked element names or uses, downstream first. */
static PrimaSharedModel *
prima_element_query_model (GstElement * element)
{
  GstQuery *query = gst_query_new_context (PRIMA_MODEL_CONTEXT_TYPE);
  PrimaSharedModel *model = NULL;
  GstContext *context = NULL;

  if (prima_element_run_query (element, query, GST_PAD_SRC)
      || prima_element_run_query (element, query, GST_PAD_SINK)) {
    gst_query_parse_context (query, &context);
    prima_model_context_parse (context, &model);
  }
  gst_query_unref (query);
  return model;
}

static PrimaSharedModel *
prima_element_slot_model (GstElement * element, PrimaSharedModel ** context_slot)
{
  PrimaSharedModel *model;

  GST_OBJECT_LOCK (element);
  model = *context_slot ? prima_shared_model_ref (*context_slot) : NULL;
  GST_OBJECT_UNLOCK (element);
  return model;
}

PrimaSharedModel *
prima_element_acquire_model (GstElement * element, const gchar * path, PrimaSharedModel ** context_slot)
{
  PrimaSharedModel *own = NULL, *linked;
  GError *err = NULL;

  if (path != NULL && *path != '\0') {
    own = prima_shared_model_get (path, &err);
    if (own == NULL) {
      PRIMA_ELEMENT_MODEL_ERROR (element, path, err);
      g_clear_error (&err);
      return NULL;
    }
  }

  linked = prima_element_query_model (element);
  if (own == NULL) {
    if (linked == NULL)
      linked = prima_element_slot_model (element, context_slot);
    if (linked == NULL) {
      /* the bin answers synchronously with the context an element announced */
      gst_element_post_message (element, gst_message_new_need_context (GST_OBJECT (element),
              PRIMA_MODEL_CONTEXT_TYPE));
      linked = prima_element_slot_model (element, context_slot);
    }
    if (linked)
      GST_INFO_OBJECT (element, "model %s from the pipeline", prima_shared_model_get_path (linked));
    return linked;
  }

  if (linked && !prima_shared_model_same_file (own, linked)) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        (_("Two different models in one pipeline: \"%s\" and \"%s\"."), path, prima_shared_model_get_path (linked)),
        ("this element's model property names the first, a linked element uses the second"));
    prima_shared_model_unref (linked);
    prima_shared_model_unref (own);
    return NULL;
  }
  g_clear_pointer (&linked, prima_shared_model_unref);
  gst_element_post_message (element, gst_message_new_have_context (GST_OBJECT (element),
          prima_model_context_new (own)));
  return own;
}

gboolean
prima_element_open_vocabulary (GstElement * element, const gchar * path, PrimaSharedModel ** context_slot,
    gboolean optional, PrimaSharedModel ** model, const gguf_file ** file, const prima_tokenizer ** tok)
{
  PrimaSharedModel *m;
  GError *err = NULL;

  *file = NULL;
  *tok = NULL;
  m = prima_element_acquire_model (element, path, context_slot);
  if (m == NULL) {
    /* an error is posted already when a model was named */
    if (path == NULL || *path == '\0') {
      if (optional)
        return TRUE;
      prima_element_no_model_error (element);
    }
    return FALSE;
  }
  if (!prima_shared_model_get_vocabulary (m, file, tok, &err)) {
    PRIMA_ELEMENT_MODEL_ERROR (element, prima_shared_model_get_path (m), err);
    g_clear_error (&err);
    prima_shared_model_unref (m);
    return FALSE;
  }
  GST_INFO_OBJECT (element, "model %s: %d tokens", prima_shared_model_get_path (m), prima_tokenizer_n_vocab (*tok));
  GST_OBJECT_LOCK (element);
  g_clear_pointer (model, prima_shared_model_unref);
  *model = m;
  GST_OBJECT_UNLOCK (element);
  return TRUE;
}

gboolean
prima_element_model_query (GstElement * element, GstQuery * query, PrimaSharedModel ** current_slot,
    gchar ** path_slot, PrimaSharedModel ** context_slot)
{
  const gchar *type;
  PrimaSharedModel *model = NULL;
  GstContext *context;
  gchar *path = NULL;

  if (GST_QUERY_TYPE (query) != GST_QUERY_CONTEXT || !gst_query_parse_context_type (query, &type)
      || g_strcmp0 (type, PRIMA_MODEL_CONTEXT_TYPE) != 0)
    return FALSE;
  GST_OBJECT_LOCK (element);
  if (*current_slot)
    model = prima_shared_model_ref (*current_slot);
  else if (*path_slot != NULL && **path_slot != '\0')
    path = g_strdup (*path_slot);
  else if (*context_slot)
    model = prima_shared_model_ref (*context_slot);
  GST_OBJECT_UNLOCK (element);
  if (path)
    model = prima_shared_model_get (path, NULL);        /* a bad path: the element's start says why */
  g_free (path);
  if (model == NULL)
    return FALSE;
  context = prima_model_context_new (model);
  gst_query_set_context (query, context);
  gst_context_unref (context);
  prima_shared_model_unref (model);
  GST_LOG_OBJECT (element, "answered the model query");
  return TRUE;
}

void
prima_element_model_set_context (GstElement * element, GstContext * context, PrimaSharedModel ** context_slot)
{
  PrimaSharedModel *model, *old;

  if (!prima_model_context_parse (context, &model))
    return;
  GST_OBJECT_LOCK (element);
  old = *context_slot;
  *context_slot = model;
  GST_OBJECT_UNLOCK (element);
  if (old)
    prima_shared_model_unref (old);
}

void
prima_element_release_model (GstElement * element, PrimaSharedModel ** current_slot)
{
  PrimaSharedModel *model;

  GST_OBJECT_LOCK (element);
  model = *current_slot;
  *current_slot = NULL;
  GST_OBJECT_UNLOCK (element);
  if (model)
    prima_shared_model_unref (model);
}

gchar *
prima_element_resolve_model (GstElement * element, const gchar * path, PrimaSharedModel ** context_slot,
    PrimaSharedModel ** current_slot)
{
  PrimaSharedModel *model = prima_element_acquire_model (element, path, context_slot), *old;
  gchar *resolved;

  if (model == NULL) {
    if (path == NULL || *path == '\0')
      prima_element_no_model_error (element);
    return NULL;
  }
  resolved = g_strdup (prima_shared_model_get_path (model));
  GST_OBJECT_LOCK (element);
  old = *current_slot;
  *current_slot = model;
  GST_OBJECT_UNLOCK (element);
  if (old)
    prima_shared_model_unref (old);
  return resolved;
}
