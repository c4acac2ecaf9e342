/* gst-prima: primalayers, a window of a model's layers with its KV cache.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primalayers
 * @title: primalayers
 *
 * Runs the layers [#GstPrimaLayers:first-layer, #GstPrimaLayers:last-layer)
 * of a llama or qwen2 GGUF model over each input buffer and keeps their KV
 * cache. A window that starts at layer 0 takes token ids (it embeds them); a
 * window that ends at the model's last layer gives logits (it applies the
 * output head); a window in the middle takes and gives hidden states.
 *
 * Every input buffer is one batch of consecutive positions; for a window with
 * the output head, one logits buffer comes out for the last token of each
 * input buffer, carrying the evaluated ids and the position in its header
 * (a buffer of primadraft's, flagged %PRIMA_FLAG_DRAFT, gets one logits row
 * per token: speculative decoding's verification pass).
 * The element tracks the next position: input that says "append" (position
 * -1) goes there. A flush, a new segment or the custom downstream event
 * `prima-kv-clear` starts again at position 0. It answers the custom
 * `prima-context` query with the context size ("n-ctx") and the next
 * position ("position").
 *
 * The first pass over the weights faults them in from the file: for each
 * layer of it the element posts a `prima-loading` element message (layer,
 * n-layers, bytes, seconds, window-resident, window-done, done;
 * prima-events.h), which `prima run` shows as its progress line.
 * #GstPrimaLayers:prefetch-mode and #GstPrimaLayers:release-policy choose
 * how the weights come and go (docs/memory.md).
 *
 * With #GstPrimaLayers:windows it is a ring worker (docs/ring.md): several
 * windows, hidden states in and out; the ring's head is primaringhead.
 *
 * Corrupt weight data shows as NaN or infinite values: each hidden state is
 * checked where it is normalised anyway, and the logits once per token, and
 * the element stops with an error that names the first layer (or the
 * embedding, the output head) that gave them.
 *
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primalayers threads=2 ! fakesink dump=true
 * ]| dumps the logits of the prompt's last token.
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -m fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primalayers prefetch-mode=advise release-policy=always ! fakesink
 * ]| shows the prima-loading messages of the first pass, with the weights
 * read ahead by advice and released after each use.
 *
 * Since: 0.1
 */

#include "gstprimalayers.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "prima-element.h"
#include "model.h"
#include "forward.h"
#include "prima-window.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_layers_debug);
#define GST_CAT_DEFAULT gst_prima_layers_debug

#define DEFAULT_CONTEXT_SIZE 0
#define DEFAULT_THREADS 0
#define DEFAULT_FIRST_LAYER 0
#define DEFAULT_LAST_LAYER -1

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_CONTEXT_SIZE,
  PROP_THREADS,
  PROP_FIRST_LAYER,
  PROP_LAST_LAYER,
  PROP_N_EVALUATED,
  PROP_WINDOWS,
  PROP_ALL_LOGITS,
  PROP_PREFETCH_MODE,
  PROP_RELEASE_POLICY,
};

struct _GstPrimaLayers
{
  GstBaseTransform parent;

  /* properties, under the object lock */
  gchar *model_path;
  PrimaSharedModel *shared;      /* the model's identity while started */
  PrimaSharedModel *context_model;       /* from the pipeline's "prima.model" context */
  gint context_size;
  gint threads;
  gint first_layer;
  gint last_layer;
  gboolean all_logits;
  gchar *windows_spec;          /* "a-b,c-d", "plan" or NULL */
  prima_prefetch_mode prefetch_mode;
  prima_release_policy release_policy;

  /* from READY to PAUSED */
  prima_model *model;
  prima_context *ctx;           /* one window (no windows property) */
  gint first, last;             /* the window, resolved */
  gint n_ctx;
  GstBufferPool *pool;          /* output buffers of single-token input */
  gsize single_size;

  /* a ring worker (docs/design.md section 3): several windows, dealt by the
   * plan; NULL until it came. Replaced on the streaming thread under the
   * object lock, which readers on other threads take. */
  gboolean ring;
  PrimaWindows *windows;

  /* next position to evaluate, under the object lock */
  gint next_pos;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS "; " PRIMA_CAPS_HIDDEN));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_LOGITS "; " PRIMA_CAPS_HIDDEN));

#define gst_prima_layers_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaLayers, gst_prima_layers, GST_TYPE_BASE_TRANSFORM,
    GST_DEBUG_CATEGORY_INIT (gst_prima_layers_debug, "primalayers", 0, "prima layers"));
GST_ELEMENT_REGISTER_DEFINE (primalayers, "primalayers", GST_RANK_NONE, GST_TYPE_PRIMA_LAYERS);

GType
gst_prima_prefetch_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {PRIMA_PREFETCH_NONE, "No prefetch: the kernel reads the weights when they are used", "none"},
    {PRIMA_PREFETCH_ADVISE, "Advise the kernel to read the next window ahead (WILLNEED)", "advise"},
    {PRIMA_PREFETCH_FORCE, "Advise, then fault the next window in from a helper thread", "force"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstPrimaPrefetchMode", values));
  return type;
}

GType
gst_prima_release_policy_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {PRIMA_RELEASE_AUTO, "Release only the windows that do not fit the memory budget", "auto"},
    {PRIMA_RELEASE_NEVER, "Never release: the kernel evicts as it likes", "never"},
    {PRIMA_RELEASE_ALWAYS, "Release every window after use", "always"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstPrimaReleasePolicy", values));
  return type;
}

void
gst_prima_layers_post_loading (GstElement * element, const prima_residency_progress * p)
{
  PrimaLoadingInfo info = {
    .layer = p->layer, .n_layers = p->n_layers, .bytes = p->bytes, .seconds = p->seconds,
    .window_resident = p->window_resident, .window_done = p->window_done, .done = p->done,
  };

  gst_element_post_message (element, prima_message_new_loading (GST_OBJECT (element), &info));
}

/* The residency engine's report of the first pass, on the streaming thread:
 * posted as a prima-loading message (the core prints nothing). */
static void
gst_prima_layers_loading (const prima_residency_progress * p, gpointer user_data)
{
  gst_prima_layers_post_loading (GST_ELEMENT (user_data), p);
}

/* The residency choices of the properties, with the progress reports. */
static void
gst_prima_layers_residency_params (GstPrimaLayers * self, prima_residency_params * res)
{
  memset (res, 0, sizeof *res);
  GST_OBJECT_LOCK (self);
  res->prefetch = self->prefetch_mode;
  res->release = self->release_policy;
  GST_OBJECT_UNLOCK (self);
  res->progress = gst_prima_layers_loading;
  res->progress_data = self;
}

static gsize gst_prima_layers_output_payload (GstPrimaLayers * self, const PrimaHeader * in);

/* Decoding pushes one token at a time: its output buffers (the logits of a
 * whole vocabulary, or one hidden state) come from a pool instead of a
 * fresh allocation each. */
static void
gst_prima_layers_make_pool (GstPrimaLayers * self)
{
  PrimaHeader one = {.n_tokens = 1 };
  GstStructure *config;

  self->single_size = PRIMA_HEADER_SIZE + gst_prima_layers_output_payload (self, &one);
  self->pool = gst_buffer_pool_new ();
  config = gst_buffer_pool_get_config (self->pool);
  gst_buffer_pool_config_set_params (config, NULL, self->single_size, 2, 0);
  if (!gst_buffer_pool_set_config (self->pool, config) || !gst_buffer_pool_set_active (self->pool, TRUE)) {
    GST_WARNING_OBJECT (self, "no buffer pool: allocating each output buffer");
    gst_clear_object (&self->pool);
  }
}

/* A ring worker's windows ("a-b,c-d"); on the streaming thread (or before
 * streaming). The output head belongs to the ring's head, primaringhead. */
static gboolean
gst_prima_layers_set_windows (GstPrimaLayers * self, const gchar * spec)
{
  PrimaWindows *windows, *old;
  prima_residency_params res;
  GError *err = NULL;
  gint n_ctx, threads;

  GST_OBJECT_LOCK (self);
  n_ctx = self->context_size;
  threads = self->threads;
  GST_OBJECT_UNLOCK (self);
  gst_prima_layers_residency_params (self, &res);
  windows = prima_windows_new (self->model, spec, n_ctx, threads, &res, &err);
  if (windows == NULL)
    goto failed;
  for (guint i = 0; i < prima_windows_count (windows); i++)
    if (prima_windows_get (windows, i)->last == self->model->hp.n_layer) {
      g_set_error (&err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "the last layer (the output head) belongs to the ring's head, primaringhead");
      prima_windows_free (windows);
      goto failed;
    }
  GST_OBJECT_LOCK (self);
  old = self->windows;
  self->windows = windows;
  self->n_ctx = prima_windows_n_ctx (windows);
  GST_OBJECT_UNLOCK (self);
  prima_windows_free (old);
  GST_INFO_OBJECT (self, "windows %s of %d layers, context %d", spec, self->model->hp.n_layer, self->n_ctx);
  return TRUE;

failed:
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("Could not set up the layer windows \"%s\": %s"), spec,
          err->message), (NULL));
  g_clear_error (&err);
  return FALSE;
}

gboolean
gst_prima_layers_kv_op (GstEvent * event, PrimaKvOp * op, gint * p0, gint * p1, gint * delta)
{
  *p0 = 0;
  *p1 = -1;
  *delta = 0;
  if (prima_event_is_kv_clear (event))
    *op = PRIMA_KV_CLEAR;
  else if (prima_event_parse_kv_remove (event, NULL, p0, p1))
    *op = PRIMA_KV_REMOVE;
  else if (prima_event_parse_kv_shift (event, NULL, p0, p1, delta))
    *op = PRIMA_KV_SHIFT;
  else
    return FALSE;
  return TRUE;
}

static gboolean
gst_prima_layers_start (GstBaseTransform * trans)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);
  GError *err = NULL;
  gchar *path, *windows, *resolved;
  gint n_ctx, threads, first, last;
  prima_residency_params res;
  gboolean clamped;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  windows = g_strdup (self->windows_spec);
  n_ctx = self->context_size;
  threads = self->threads;
  first = self->first_layer;
  last = self->last_layer;
  GST_OBJECT_UNLOCK (self);

  /* the model property, else the model of the pipeline ("prima.model") */
  resolved = prima_element_resolve_model (GST_ELEMENT (self), path, &self->context_model, &self->shared);
  g_free (path);
  if ((path = resolved) == NULL) {
    g_free (windows);
    return FALSE;
  }
  self->model = prima_model_load (path, &err);
  if (self->model == NULL)
    goto model_failed;
  self->ring = windows != NULL && *windows != '\0';
  GST_OBJECT_LOCK (self);
  self->next_pos = 0;
  GST_OBJECT_UNLOCK (self);
  if (self->ring) {
    gboolean ok = TRUE;
    /* until the plan says more */
    self->n_ctx = MIN (n_ctx > 0 ? n_ctx : 4096, self->model->hp.n_ctx_train);
    if (strcmp (windows, "plan") != 0)
      ok = gst_prima_layers_set_windows (self, windows);
    if (ok)
      gst_prima_layers_make_pool (self);
    else
      g_clear_pointer (&self->model, prima_model_free);
    g_free (windows);
    g_free (path);
    return ok;
  }
  g_free (windows);
  gst_prima_layers_residency_params (self, &res);
  self->ctx = prima_window_context_new (self->model, first, last, n_ctx, threads, &res, &clamped, &err);
  if (clamped)
    GST_WARNING_OBJECT (self, "context-size %d is more than the model's %d", n_ctx, self->model->hp.n_ctx_train);
  if (self->ctx == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("Could not set up the layers of \"%s\": %s"), path,
            err->message), (NULL));
    g_clear_error (&err);
    g_clear_pointer (&self->model, prima_model_free);
    g_free (path);
    return FALSE;
  }
  self->first = first;
  self->last = last > 0 ? last : self->model->hp.n_layer;
  self->n_ctx = prima_context_n_ctx (self->ctx);
  gst_prima_layers_make_pool (self);
  GST_INFO_OBJECT (self, "%s: layers [%d, %d) of %d, context %d, %d threads", path, self->first, self->last,
      self->model->hp.n_layer, self->n_ctx, prima_context_n_threads (self->ctx));
  g_free (path);
  return TRUE;

model_failed:
  PRIMA_ELEMENT_MODEL_ERROR (self, path, err);
  g_clear_error (&err);
  g_free (path);
  g_free (windows);
  return FALSE;
}

static gboolean
gst_prima_layers_stop (GstBaseTransform * trans)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);
  PrimaWindows *windows;

  if (self->pool) {
    gst_buffer_pool_set_active (self->pool, FALSE);
    gst_clear_object (&self->pool);
  }
  GST_OBJECT_LOCK (self);
  g_clear_pointer (&self->ctx, prima_context_free);
  windows = g_steal_pointer (&self->windows);
  GST_OBJECT_UNLOCK (self);
  prima_windows_free (windows);
  g_clear_pointer (&self->model, prima_model_free);
  prima_element_release_model (GST_ELEMENT (self), &self->shared);
  return TRUE;
}

static GstCaps *
gst_prima_layers_hidden_caps (GstPrimaLayers * self)
{
  return gst_caps_new_simple ("application/x-prima-hidden", "n-embd", G_TYPE_INT, self->model->hp.n_embd,
      "format", G_TYPE_STRING, "F32", NULL);
}

static GstCaps *
gst_prima_layers_transform_caps (GstBaseTransform * trans, GstPadDirection direction, GstCaps * caps,
    GstCaps * filter)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);
  GstCaps *res;

  if (self->ring && self->model)
    res = gst_prima_layers_hidden_caps (self);
  else if (self->ctx == NULL)
    res = gst_static_pad_template_get_caps (direction == GST_PAD_SINK ? &src_template : &sink_template);
  else if (direction == GST_PAD_SINK)
    res = prima_context_has_head (self->ctx)
        ? gst_caps_new_simple ("application/x-prima-logits", "n-vocab", G_TYPE_INT, self->model->hp.n_vocab, NULL)
        : gst_prima_layers_hidden_caps (self);
  else
    res = prima_context_has_embedding (self->ctx)
        ? gst_caps_new_empty_simple ("application/x-prima-tokens") : gst_prima_layers_hidden_caps (self);

  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, res, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (res);
    res = tmp;
  }
  return res;
}

/* The input's header and its expected payload, checked against the window
 * (a ring worker: any layer of the model, the windows are checked later). */
static gboolean
gst_prima_layers_parse_input (GstPrimaLayers * self, const GstMapInfo * map, PrimaHeader * h)
{
  gboolean tokens = !self->ring && prima_context_has_embedding (self->ctx);

  if (!prima_header_parse (map->data, map->size, tokens ? PRIMA_PAYLOAD_TOKENS : PRIMA_PAYLOAD_HIDDEN, h))
    return FALSE;
  if (tokens)
    return h->payload_size == (gsize) h->n_tokens * sizeof (gint32);
  if (h->dtype != PRIMA_DTYPE_F32 || h->payload_size != (gsize) h->n_tokens * self->model->hp.n_embd * sizeof (float))
    return FALSE;
  if (self->ring)
    return h->pos0 >= 0 && h->next_layer >= 0 && h->next_layer < self->model->hp.n_layer;
  return h->next_layer == self->first;
}

static gsize
gst_prima_layers_output_payload (GstPrimaLayers * self, const PrimaHeader * in)
{
  if (!self->ring && prima_context_has_head (self->ctx))
    return (prima_context_has_embedding (self->ctx) ? in->n_tokens * sizeof (gint32) : 0)
        + (gsize) (self->all_logits || (in->flags & PRIMA_FLAG_DRAFT) ? in->n_tokens : 1)
        * self->model->hp.n_vocab * sizeof (float);
  return (gsize) in->n_tokens * self->model->hp.n_embd * sizeof (float);
}

static GstFlowReturn
gst_prima_layers_prepare_output_buffer (GstBaseTransform * trans, GstBuffer * inbuf, GstBuffer ** outbuf)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);
  GstMapInfo map;
  PrimaHeader h;
  gboolean ok;

  if (self->model == NULL || (!self->ring && self->ctx == NULL))
    return GST_FLOW_NOT_NEGOTIATED;
  if (self->ring && self->windows == NULL) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("Activations arrived before the ring's plan.")), (NULL));
    return GST_FLOW_ERROR;
  }
  if (!gst_buffer_map (inbuf, &map, GST_MAP_READ))
    return GST_FLOW_ERROR;
  ok = gst_prima_layers_parse_input (self, &map, &h);
  gst_buffer_unmap (inbuf, &map);
  if (!ok) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed %s buffer."),
            !self->ring && prima_context_has_embedding (self->ctx) ? "tokens" : "hidden-state"),
        ("%" G_GSIZE_FORMAT " bytes; a window starting at layer %d", map.size, self->ring ? h.next_layer :
            self->first));
    return GST_FLOW_ERROR;
  }
  if (h.n_tokens == 1 && self->pool) {
    GstFlowReturn ret = gst_buffer_pool_acquire_buffer (self->pool, outbuf, NULL);
    if (ret != GST_FLOW_OK)
      return ret;
  } else {
    *outbuf = gst_buffer_new_allocate (NULL, PRIMA_HEADER_SIZE + gst_prima_layers_output_payload (self, &h), NULL);
  }
  gst_buffer_copy_into (*outbuf, inbuf, GST_BUFFER_COPY_METADATA, 0, -1);
  return GST_FLOW_OK;
}

/* A ring worker: the batch runs the windows of this device that follow
 * each other from its next layer; hidden states go on to the next device
 * (unchanged when none of this device's windows starts there). */
static GstFlowReturn
gst_prima_layers_transform_windows (GstPrimaLayers * self, const PrimaHeader * h, const guint8 * payload,
    GstMapInfo * out, gint64 * t_start, gint64 * t_end)
{
  const gsize size = (gsize) h->n_tokens * self->model->hp.n_embd * sizeof (float);
  const PrimaWindow *bad;
  PrimaHeader oh;
  GError *err = NULL;
  gint end;

  end = prima_windows_chain_end (self->windows, h->next_layer);
  if (end < 0) {
    /* another device's layer */
    memcpy (out->data, payload - PRIMA_HEADER_SIZE, PRIMA_HEADER_SIZE + size);
    return GST_FLOW_OK;
  }
  if ((bad = prima_windows_check (self->windows, h->next_layer, h->pos0, h->n_tokens)) != NULL) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("Tokens at position %d, but layers %d-%d hold %d positions."),
            h->pos0, bad->first, bad->last, bad->next_pos), (NULL));
    return GST_FLOW_ERROR;
  }
  *t_start = g_get_monotonic_time ();
  if (!prima_windows_eval (self->windows, h->next_layer, h->pos0, h->n_tokens, (const float *) payload,
          (float *) (out->data + PRIMA_HEADER_SIZE), FALSE, &err)) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, (_("Evaluating the layers failed: %s"), err->message), (NULL));
    g_clear_error (&err);
    return GST_FLOW_ERROR;
  }
  *t_end = g_get_monotonic_time ();
  GST_LOG_OBJECT (self, "evaluated %u tokens at %d through layers %d-%d", h->n_tokens, h->pos0, h->next_layer, end);
  prima_header_init (&oh, PRIMA_PAYLOAD_HIDDEN, h->n_tokens, size);
  oh.seq_id = h->seq_id;
  oh.pos0 = h->pos0;
  oh.next_layer = end;
  oh.flags = h->flags & PRIMA_FLAG_PROMPT;
  memcpy (out->data, &oh, PRIMA_HEADER_SIZE);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_prima_layers_transform (GstBaseTransform * trans, GstBuffer * inbuf, GstBuffer * outbuf)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);
  gboolean tokens, head;
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo in, out;
  PrimaHeader h, oh;
  GError *err = NULL;
  const guint8 *payload;
  gsize ids_size;
  gint pos0, next_pos;
  /* the layers' time, for the ring's stats (primawssink reads it) */
  gint64 t_start = 0, t_end = 0;

  if (!gst_buffer_map (inbuf, &in, GST_MAP_READ))
    return GST_FLOW_ERROR;
  if (!gst_prima_layers_parse_input (self, &in, &h)) {
    gst_buffer_unmap (inbuf, &in);
    return GST_FLOW_ERROR;      /* prepare_output_buffer posted the error */
  }
  if (h.n_tokens == 0) {
    gst_buffer_unmap (inbuf, &in);
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  }
  payload = in.data + PRIMA_HEADER_SIZE;
  if (self->ring) {
    if (gst_buffer_map (outbuf, &out, GST_MAP_WRITE)) {
      ret = gst_prima_layers_transform_windows (self, &h, payload, &out, &t_start, &t_end);
      gst_buffer_unmap (outbuf, &out);
    } else {
      ret = GST_FLOW_ERROR;
    }
    goto done_in;
  }
  tokens = prima_context_has_embedding (self->ctx);
  head = prima_context_has_head (self->ctx);

  GST_OBJECT_LOCK (self);
  next_pos = self->next_pos;
  GST_OBJECT_UNLOCK (self);
  pos0 = h.pos0 < 0 ? next_pos : h.pos0;
  if (pos0 > next_pos) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("Tokens at position %d, but the cache holds only %d positions."),
            pos0, next_pos), (NULL));
    ret = GST_FLOW_ERROR;
    goto done_in;
  }
  if ((gint64) pos0 + h.n_tokens > self->n_ctx) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("The context of %d positions is full."), self->n_ctx),
        ("%u tokens at position %d", h.n_tokens, pos0));
    ret = GST_FLOW_ERROR;
    goto done_in;
  }
  if (tokens) {
    const gint32 *ids = (const gint32 *) payload;
    for (guint i = 0; i < h.n_tokens; i++)
      if (ids[i] < 0 || ids[i] >= self->model->hp.n_vocab) {
        GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Token %d is not in the model's vocabulary."), ids[i]),
            ("the model has %d tokens", self->model->hp.n_vocab));
        ret = GST_FLOW_ERROR;
        goto done_in;
      }
  }

  if (!gst_buffer_map (outbuf, &out, GST_MAP_WRITE)) {
    ret = GST_FLOW_ERROR;
    goto done_in;
  }
  ids_size = head && tokens ? h.n_tokens * sizeof (gint32) : 0;
  t_start = g_get_monotonic_time ();
  if (!prima_context_eval (self->ctx, (int) h.n_tokens, tokens ? (const int32_t *) payload : NULL,
          tokens ? NULL : (const float *) payload, pos0, (float *) (out.data + PRIMA_HEADER_SIZE + ids_size),
          self->all_logits || (h.flags & PRIMA_FLAG_DRAFT), &err)) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, (_("Evaluating the layers failed: %s"), err->message), (NULL));
    g_clear_error (&err);
    ret = GST_FLOW_ERROR;
    goto done_out;
  }
  t_end = g_get_monotonic_time ();

  prima_header_init (&oh, head ? PRIMA_PAYLOAD_LOGITS : PRIMA_PAYLOAD_HIDDEN, h.n_tokens,
      out.size - PRIMA_HEADER_SIZE);
  oh.seq_id = h.seq_id;
  oh.pos0 = pos0;
  oh.next_layer = self->last;
  oh.flags = h.flags & PRIMA_FLAG_PROMPT;
  if (head && tokens && (h.flags & PRIMA_FLAG_DRAFT)) {
    /* speculative decoding: a row per token, the drafts counted as they came */
    oh.flags |= PRIMA_FLAG_DRAFT;
    oh.next_layer = h.next_layer;
  }
  if (head && !tokens)
    oh.flags |= PRIMA_FLAG_NO_IDS;
  memcpy (out.data, &oh, PRIMA_HEADER_SIZE);
  if (ids_size)
    memcpy (out.data + PRIMA_HEADER_SIZE, payload, ids_size);
  GST_BUFFER_OFFSET (outbuf) = pos0;

  GST_OBJECT_LOCK (self);
  self->next_pos = pos0 + (gint) h.n_tokens;
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "evaluated %u tokens at position %d", h.n_tokens, pos0);

done_out:
  gst_buffer_unmap (outbuf, &out);
done_in:
  gst_buffer_unmap (inbuf, &in);
  if (ret == GST_FLOW_OK && t_end > 0)
    prima_buffer_set_compute_time (outbuf, (GstClockTime) t_start * GST_USECOND,
        (GstClockTime) (t_end - t_start) * GST_USECOND);
  return ret;
}

static void
gst_prima_layers_reset (GstPrimaLayers * self)
{
  GST_OBJECT_LOCK (self);
  GST_DEBUG_OBJECT (self, "back to position 0 (from %d)", self->next_pos);
  self->next_pos = 0;
  if (self->windows)
    prima_windows_rewind (self->windows, 0);
  GST_OBJECT_UNLOCK (self);
}

static gboolean
gst_prima_layers_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_SEGMENT:
      gst_prima_layers_reset (self);
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      const gchar *windows = NULL;
      gint p0, p1, delta;
      PrimaKvOp op;
      if (self->ring && self->model && prima_event_parse_ring_plan (event, NULL, NULL, &windows, NULL, NULL)) {
        /* a worker's windows; the sink sends the plan on */
        if (!gst_prima_layers_set_windows (self, windows ? windows : "")) {
          gst_event_unref (event);
          return TRUE;
        }
      } else if (gst_prima_layers_kv_op (event, &op, &p0, &p1, &delta)) {
        gint next = -1;
        if (self->ctx)
          next = prima_window_kv_apply (self->ctx, op, p0, p1, delta);
        else if (self->windows)
          next = prima_windows_kv_apply (self->windows, op, p0, p1, delta);
        GST_DEBUG_OBJECT (self, "%" GST_PTR_FORMAT ": next position %d", event, next);
        if (op == PRIMA_KV_CLEAR)
          gst_prima_layers_reset (self);
        else if (next >= 0) {
          GST_OBJECT_LOCK (self);
          self->next_pos = next;
          GST_OBJECT_UNLOCK (self);
        }
      }
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_prima_layers_query (GstBaseTransform * trans, GstPadDirection direction, GstQuery * query)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);

  if (prima_element_model_query (GST_ELEMENT (self), query, &self->shared, &self->model_path, &self->context_model))
    return TRUE;
  if (prima_query_is_context (query)) {
    gint n_ctx, position;
    if (self->ctx == NULL && !(self->ring && self->model))
      return FALSE;
    GST_OBJECT_LOCK (self);
    n_ctx = self->n_ctx;
    position = self->next_pos;
    GST_OBJECT_UNLOCK (self);
    prima_query_set_context (query, n_ctx, position);
    return TRUE;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);
}

static void
gst_prima_layers_set_context (GstElement * element, GstContext * context)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (element);

  prima_element_model_set_context (element, context, &self->context_model);
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

static void
gst_prima_layers_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_CONTEXT_SIZE:
      self->context_size = g_value_get_int (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_FIRST_LAYER:
      self->first_layer = g_value_get_int (value);
      break;
    case PROP_LAST_LAYER:
      self->last_layer = g_value_get_int (value);
      break;
    case PROP_WINDOWS:
      g_free (self->windows_spec);
      self->windows_spec = g_value_dup_string (value);
      break;
    case PROP_ALL_LOGITS:
      self->all_logits = g_value_get_boolean (value);
      break;
    case PROP_PREFETCH_MODE:
      self->prefetch_mode = g_value_get_enum (value);
      break;
    case PROP_RELEASE_POLICY:
      self->release_policy = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_layers_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_CONTEXT_SIZE:
      g_value_set_int (value, self->context_size);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_FIRST_LAYER:
      g_value_set_int (value, self->first_layer);
      break;
    case PROP_LAST_LAYER:
      g_value_set_int (value, self->last_layer);
      break;
    case PROP_N_EVALUATED:
      g_value_set_uint64 (value, self->ctx ? prima_context_n_evaluated (self->ctx)
          : self->windows ? prima_windows_n_evaluated (self->windows) : 0);
      break;
    case PROP_WINDOWS:
      g_value_set_string (value, self->windows_spec);
      break;
    case PROP_ALL_LOGITS:
      g_value_set_boolean (value, self->all_logits);
      break;
    case PROP_PREFETCH_MODE:
      g_value_set_enum (value, self->prefetch_mode);
      break;
    case PROP_RELEASE_POLICY:
      g_value_set_enum (value, self->release_policy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_layers_finalize (GObject * object)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (object);

  prima_context_free (self->ctx);
  prima_windows_free (self->windows);
  prima_model_free (self->model);
  g_free (self->model_path);
  prima_element_release_model (GST_ELEMENT (self), &self->shared);
  g_clear_pointer (&self->context_model, prima_shared_model_unref);
  g_free (self->windows_spec);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_prima_layers_class_init (GstPrimaLayersClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  element_class->set_context = GST_DEBUG_FUNCPTR (gst_prima_layers_set_context);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_prima_layers_set_property;
  gobject_class->get_property = gst_prima_layers_get_property;
  gobject_class->finalize = gst_prima_layers_finalize;

  /**
   * GstPrimaLayers:model:
   *
   * Path of the GGUF model. Its weights stay in the file mapping; only the
   * KV cache and scratch memory are allocated. Loaded when the element goes
   * to PAUSED.
   * Unset (since 0.2): the model of the chain, from a linked element that
   * names one or from the pipeline's "prima.model" context (docs/elements.md);
   * a model that differs from the chain's is an error naming both.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Path of the GGUF model file (unset: the model of the pipeline)", NULL, PARAM_FLAGS));
  /**
   * GstPrimaLayers:context-size:
   *
   * KV cache positions; 0 takes the model's training context, at most 4096.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CONTEXT_SIZE,
      g_param_spec_int ("context-size", "Context size",
          "KV cache positions (0 = the model's, at most 4096)", 0, G_MAXINT, DEFAULT_CONTEXT_SIZE, PARAM_FLAGS));
  /**
   * GstPrimaLayers:threads:
   *
   * Compute threads; 0 uses every online CPU.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads", "Compute threads (0 = all CPUs)", 0, 1024, DEFAULT_THREADS,
          PARAM_FLAGS));
  /**
   * GstPrimaLayers:first-layer:
   *
   * First layer of the window. A window that starts at 0 takes token ids,
   * any other takes hidden states.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_FIRST_LAYER,
      g_param_spec_int ("first-layer", "First layer", "First layer of the window", 0, G_MAXINT,
          DEFAULT_FIRST_LAYER, PARAM_FLAGS));
  /**
   * GstPrimaLayers:last-layer:
   *
   * End of the window (exclusive); -1 is the model's last layer, where the
   * output head gives logits.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_LAST_LAYER,
      g_param_spec_int ("last-layer", "Last layer", "End of the window, exclusive (-1 = all layers)", -1,
          G_MAXINT, DEFAULT_LAST_LAYER, PARAM_FLAGS));

  /**
   * GstPrimaLayers:n-evaluated:
   *
   * Tokens evaluated since the element went to PAUSED (prompts and fed-back
   * tokens): shows that a chat never evaluates an earlier turn again.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_N_EVALUATED,
      g_param_spec_uint64 ("n-evaluated", "Evaluated tokens", "Tokens evaluated since the model was loaded", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * GstPrimaLayers:windows:
   *
   * A ring worker (docs/design.md section 3): the device's layer windows as
   * "first-last,first-last" (each [first, last), ascending), or "plan" to
   * take them from the ring's `prima-ring-plan` event. Each window keeps its
   * own KV cache; a hidden-state buffer runs the window that starts at its
   * next layer, then the next one of this device if it follows directly,
   * and goes on as hidden states: sink and src carry hidden states. The
   * last layer (the output head) is the ring head's, primaringhead.
   * Overrides first-layer and last-layer.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WINDOWS,
      g_param_spec_string ("windows", "Windows", "Ring mode: layer windows \"a-b,c-d\" or \"plan\"", NULL,
          PARAM_FLAGS));

  /**
   * GstPrimaLayers:all-logits:
   *
   * The output head gives the logits of every token of a batch (n_tokens x
   * n_vocab after the ids) instead of the last one's: what `prima eval`
   * needs, also over a ring.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_ALL_LOGITS,
      g_param_spec_boolean ("all-logits", "All logits", "Logits of every token of a batch, not only the last",
          FALSE, PARAM_FLAGS));

  /**
   * GstPrimaLayers:prefetch-mode:
   *
   * How the weights of the window that runs next are read ahead while this
   * one computes (docs/memory.md): not at all, by advice to the kernel, or
   * also faulted in from a helper thread. The result never depends on it.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_PREFETCH_MODE,
      g_param_spec_enum ("prefetch-mode", "Prefetch mode", "How the next window's weights are read ahead",
          GST_TYPE_PRIMA_PREFETCH_MODE, prima_prefetch_mode_resolve (PRIMA_PREFETCH_DEFAULT), PARAM_FLAGS));
  /**
   * GstPrimaLayers:release-policy:
   *
   * Which windows give their weights' memory back after use
   * (docs/memory.md): those that do not fit the device's memory beside the
   * others, none, or all. The result never depends on it.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_RELEASE_POLICY,
      g_param_spec_enum ("release-policy", "Release policy", "Which windows release their weights after use",
          GST_TYPE_PRIMA_RELEASE_POLICY, prima_release_policy_resolve (PRIMA_RELEASE_DEFAULT), PARAM_FLAGS));
  gst_type_mark_as_plugin_api (GST_TYPE_PRIMA_PREFETCH_MODE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_PRIMA_RELEASE_POLICY, 0);

  trans_class->start = GST_DEBUG_FUNCPTR (gst_prima_layers_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_prima_layers_stop);
  trans_class->transform_caps = GST_DEBUG_FUNCPTR (gst_prima_layers_transform_caps);
  trans_class->prepare_output_buffer = GST_DEBUG_FUNCPTR (gst_prima_layers_prepare_output_buffer);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_prima_layers_transform);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_prima_layers_sink_event);
  trans_class->query = GST_DEBUG_FUNCPTR (gst_prima_layers_query);
  trans_class->passthrough_on_same_caps = FALSE;

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Prima layers", "Filter/Converter",
      "Runs a window of a GGUF model's layers over tokens or hidden states, with its KV cache",
      "gst-prima authors");
}

static void
gst_prima_layers_init (GstPrimaLayers * self)
{
  self->context_size = DEFAULT_CONTEXT_SIZE;
  self->threads = DEFAULT_THREADS;
  self->first_layer = DEFAULT_FIRST_LAYER;
  self->last_layer = DEFAULT_LAST_LAYER;
  self->prefetch_mode = prima_prefetch_mode_resolve (PRIMA_PREFETCH_DEFAULT);
  self->release_policy = prima_release_policy_resolve (PRIMA_RELEASE_DEFAULT);
}
