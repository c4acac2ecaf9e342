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
 * input buffer, carrying the evaluated ids and the position in its header.
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
 * Corrupt weight data shows as NaN or infinite values: each hidden state is
 * checked where it is normalised anyway, and the logits once per token, and
 * the element stops with an error that names the first layer (or the
 * embedding, the output head) that gave them.
 *
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primalayers model=tests/data/stories260K-f32.gguf threads=2 ! fakesink dump=true
 * ]| dumps the logits of the prompt's last token.
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -m fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primalayers model=tests/data/stories260K-f32.gguf prefetch-mode=advise release-policy=always ! fakesink
 * ]| shows the prima-loading messages of the first pass, with the weights
 * read ahead by advice and released after each use.
 *
 * Since: 0.1
 */

#include "gstprimalayers.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "model.h"
#include "forward.h"

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

/* One of a ring device's windows [first, last) with its own KV cache. */
typedef struct
{
  gint first, last;
  prima_context *ctx;
  gint next_pos;
} LayersWindow;

struct _GstPrimaLayers
{
  GstBaseTransform parent;

  /* properties, under the object lock */
  gchar *model_path;
  gint context_size;
  gint threads;
  gint first_layer;
  gint last_layer;
  gboolean all_logits;
  prima_prefetch_mode prefetch_mode;
  prima_release_policy release_policy;

  /* from READY to PAUSED */
  prima_model *model;
  prima_context *ctx;
  gint first, last;             /* the window, resolved */
  gint n_ctx;
  GstBufferPool *pool;          /* output buffers of single-token input */
  gsize single_size;

  /* next position to evaluate, under the object lock */
  gint next_pos;

  /* ring mode (docs/design.md section 3): several windows, dealt by the plan */
  gchar *windows_spec;          /* property: "a-b,c-d", "plan" or NULL */
  GArray *windows;              /* LayersWindow, ascending; NULL outside ring mode */
  prima_residency *residency;   /* the windows' one residency engine */
  gboolean ring;                /* ring mode: windows_spec was set */
  GstPad *ring_sinkpad, *ring_srcpad;    /* the head's hop pads (requested) */
  GMutex eval_lock;             /* the windows, in_ids; two streaming threads evaluate */
  GArray *in_ids;               /* head: the ids of the batch in the ring */
  gint in_pos0;
  guint16 in_flags;
  gboolean ring_src_started;
  gboolean sink_eos, ring_eos;  /* head: end-of-stream waits for both */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS "; " PRIMA_CAPS_HIDDEN));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_LOGITS "; " PRIMA_CAPS_HIDDEN));

/* The head of a ring: hidden states to the next device and from the last one. */
static GstStaticPadTemplate ring_sink_template = GST_STATIC_PAD_TEMPLATE ("ring_sink",
    GST_PAD_SINK,
    GST_PAD_REQUEST,
    GST_STATIC_CAPS (PRIMA_CAPS_HIDDEN));

static GstStaticPadTemplate ring_src_template = GST_STATIC_PAD_TEMPLATE ("ring_src",
    GST_PAD_SRC,
    GST_PAD_REQUEST,
    GST_STATIC_CAPS (PRIMA_CAPS_HIDDEN));

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

/* The residency engine's report of the first pass, on the streaming thread:
 * posted as a prima-loading message (the core prints nothing). */
static void
gst_prima_layers_loading (const prima_residency_progress * p, gpointer user_data)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (user_data);
  PrimaLoadingInfo info = {
    .layer = p->layer, .n_layers = p->n_layers, .bytes = p->bytes, .seconds = p->seconds,
    .window_resident = p->window_resident, .window_done = p->window_done, .done = p->done,
  };

  gst_element_post_message (GST_ELEMENT (self), prima_message_new_loading (GST_OBJECT (self), &info));
}

static gsize gst_prima_layers_output_payload (GstPrimaLayers * self, const PrimaHeader * in);
static GstCaps *gst_prima_layers_hidden_caps (GstPrimaLayers * self);

/* Decoding pushes one token at a time: its output buffers (the logits of a
 * whole vocabulary) come from a pool instead of a fresh allocation each. */
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


/* ---- ring mode: several windows on one device (docs/design.md section 3) ---- */

static void
gst_prima_layers_free_windows (GstPrimaLayers * self)
{
  if (self->windows == NULL)
    return;
  for (guint i = 0; i < self->windows->len; i++)
    prima_context_free (g_array_index (self->windows, LayersWindow, i).ctx);
  g_clear_pointer (&self->windows, g_array_unref);
  /* after the contexts that use it */
  g_clear_pointer (&self->residency, prima_residency_free);
}

/* "a-b,c-d": windows [a, b), ascending, disjoint, inside the model. */
static GArray *
gst_prima_layers_parse_windows (const gchar * spec, gint n_layer, GError ** error)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (LayersWindow));
  gchar **parts = g_strsplit (spec, ",", -1);
  gint prev = 0;

  for (guint i = 0; parts[i]; i++) {
    LayersWindow w = { 0 };
    gchar *end;
    if (*g_strstrip (parts[i]) == '\0')
      continue;
    w.first = (gint) g_ascii_strtoll (parts[i], &end, 10);
    if (*end == '-')
      w.last = (gint) g_ascii_strtoll (end + 1, &end, 10);
    if (*end != '\0' || w.first < prev || w.last <= w.first || w.last > n_layer) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "\"%s\" is not a window \"first-last\" after layer %d inside the model's %d layers", parts[i], prev,
          n_layer);
      g_array_unref (out);
      g_strfreev (parts);
      return NULL;
    }
    prev = w.last;
    g_array_append_val (out, w);
  }
  g_strfreev (parts);
  return out;
}

/* Under eval_lock (or before streaming). Makes one context per window. */
static gboolean
gst_prima_layers_set_windows (GstPrimaLayers * self, const gchar * spec)
{
  prima_context_params params = { 0 };
  prima_residency_params rparams = { 0 };
  prima_residency *residency;
  GError *err = NULL;
  GArray *windows;

  windows = gst_prima_layers_parse_windows (spec, self->model->hp.n_layer, &err);
  if (windows == NULL)
    goto failed;
  GST_OBJECT_LOCK (self);
  params.n_ctx = MIN (self->context_size, self->model->hp.n_ctx_train);
  params.n_threads = self->threads;
  rparams.prefetch = self->prefetch_mode;
  rparams.release = self->release_policy;
  GST_OBJECT_UNLOCK (self);
  rparams.progress = gst_prima_layers_loading;
  rparams.progress_data = self;
  /* One residency engine for all the device's windows, added in the order
   * they run each token: its budget and release plan then cover the whole
   * device, and its prefetch reaches from one window to the next. An engine
   * per window would each take the whole device's memory as its budget and
   * never release (docs/memory.md). */
  residency = windows->len ? prima_residency_new (self->model, &rparams) : NULL;
  for (guint i = 0; i < windows->len; i++) {
    LayersWindow *w = &g_array_index (windows, LayersWindow, i);
    prima_residency_add_windows (residency, w->first, w->last, 0, TRUE);
  }
  params.residency = residency;
  for (guint i = 0; i < windows->len; i++) {
    LayersWindow *w = &g_array_index (windows, LayersWindow, i);
    params.first_layer = w->first;
    params.last_layer = w->last;
    w->ctx = prima_context_new (self->model, &params, &err);
    if (w->ctx == NULL) {
      for (guint j = 0; j < i; j++)
        prima_context_free (g_array_index (windows, LayersWindow, j).ctx);
      g_array_unref (windows);
      prima_residency_free (residency);
      goto failed;
    }
    self->n_ctx = prima_context_n_ctx (w->ctx);
  }
  if (windows->len == 0)
    self->n_ctx = params.n_ctx > 0 ? params.n_ctx : MIN (self->model->hp.n_ctx_train, 4096);
  gst_prima_layers_free_windows (self);
  self->windows = windows;
  self->residency = residency;
  GST_INFO_OBJECT (self, "windows %s of %d layers, context %d", spec, self->model->hp.n_layer, self->n_ctx);
  return TRUE;

failed:
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("Could not set up the layer windows \"%s\": %s"), spec,
          err->message), (NULL));
  g_clear_error (&err);
  return FALSE;
}

static void
gst_prima_layers_ring_reset (GstPrimaLayers * self, gint pos)
{
  g_mutex_lock (&self->eval_lock);
  for (guint i = 0; self->windows && i < self->windows->len; i++) {
    LayersWindow *w = &g_array_index (self->windows, LayersWindow, i);
    w->next_pos = MIN (w->next_pos, pos);
  }
  g_mutex_unlock (&self->eval_lock);
  GST_OBJECT_LOCK (self);
  self->next_pos = MIN (self->next_pos, pos);
  GST_OBJECT_UNLOCK (self);
}

static GstBuffer *
gst_prima_layers_hidden_buffer (GstPrimaLayers * self, const PrimaHeader * in, gint pos0, gint next_layer)
{
  PrimaHeader h;
  prima_header_init (&h, PRIMA_PAYLOAD_HIDDEN, in->n_tokens,
      in->n_tokens * (guint32) self->model->hp.n_embd * sizeof (float));
  h.seq_id = in->seq_id;
  h.pos0 = pos0;
  h.next_layer = next_layer;
  h.flags = in->flags & PRIMA_FLAG_PROMPT;
  return prima_buffer_new (&h);
}

static void
gst_prima_layers_ring_src_start (GstPrimaLayers * self)
{
  GstSegment segment;
  GstCaps *caps;
  gchar *id;

  if (self->ring_src_started)
    return;
  self->ring_src_started = TRUE;
  /* two sink pads: no upstream stream id to derive one from */
  id = g_strdup_printf ("%08x%08x/ring", g_random_int (), g_random_int ());
  gst_pad_push_event (self->ring_srcpad, gst_event_new_stream_start (id));
  g_free (id);
  caps = gst_prima_layers_hidden_caps (self);
  gst_pad_push_event (self->ring_srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (self->ring_srcpad, gst_event_new_segment (&segment));
}

/* One batch through every window of this device that comes next: tokens
 * (the head's sink: embedded here) or hidden states entering next_layer.
 * The result goes out where it belongs: logits on src, hidden states for
 * another device's layer on ring_src (head) or src (worker). */
static GstFlowReturn
gst_prima_layers_ring_process (GstPrimaLayers * self, GstBuffer * inbuf, gboolean from_ring)
{
  const gboolean head = self->ring_srcpad != NULL;
  const gboolean tokens = head && !from_ring;
  const gint n_embd = self->model->hp.n_embd, n_layer = self->model->hp.n_layer;
  GstBuffer *cur = NULL, *outbuf = NULL;
  GstPad *out_pad = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  GError *err = NULL;
  GstMapInfo in, map;
  PrimaHeader h;
  gint pos0, next_layer;

  if (!gst_buffer_map (inbuf, &in, GST_MAP_READ)) {
    gst_buffer_unref (inbuf);
    return GST_FLOW_ERROR;
  }
  if (!prima_header_parse (in.data, in.size, tokens ? PRIMA_PAYLOAD_TOKENS : PRIMA_PAYLOAD_HIDDEN, &h)
      || h.payload_size != (gsize) h.n_tokens * (tokens ? sizeof (gint32) : n_embd * sizeof (float))
      || (!tokens && (h.dtype != PRIMA_DTYPE_F32 || h.pos0 < 0 || h.next_layer < 0 || h.next_layer >= n_layer))) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed %s buffer."),
            tokens ? "tokens" : "hidden-state"), ("%" G_GSIZE_FORMAT " bytes", in.size));
    ret = GST_FLOW_ERROR;
    goto done;
  }
  if (h.n_tokens == 0)
    goto done;

  g_mutex_lock (&self->eval_lock);
  if (self->windows == NULL) {
    g_mutex_unlock (&self->eval_lock);
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("Activations arrived before the ring's plan.")), (NULL));
    ret = GST_FLOW_ERROR;
    goto done;
  }
  if (tokens) {
    GST_OBJECT_LOCK (self);
    pos0 = h.pos0 < 0 ? self->next_pos : h.pos0;
    if (pos0 > self->next_pos)
      pos0 = -1;
    GST_OBJECT_UNLOCK (self);
    if (pos0 < 0 || (gint64) pos0 + h.n_tokens > self->n_ctx) {
      g_mutex_unlock (&self->eval_lock);
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("The context of %d positions is full."), self->n_ctx),
          ("%u tokens at position %d", h.n_tokens, h.pos0));
      ret = GST_FLOW_ERROR;
      goto done;
    }
    cur = gst_prima_layers_hidden_buffer (self, &h, pos0, 0);
    gst_buffer_map (cur, &map, GST_MAP_WRITE);
    if (!prima_embed_tokens (self->model, (const int32_t *) (in.data + PRIMA_HEADER_SIZE), (int) h.n_tokens,
            (float *) (map.data + PRIMA_HEADER_SIZE), &err)) {
      gst_buffer_unmap (cur, &map);
      g_mutex_unlock (&self->eval_lock);
      GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Token not in the model's vocabulary: %s"), err->message),
          (NULL));
      g_clear_error (&err);
      ret = GST_FLOW_ERROR;
      goto done;
    }
    gst_buffer_unmap (cur, &map);
    g_array_set_size (self->in_ids, 0);
    g_array_append_vals (self->in_ids, in.data + PRIMA_HEADER_SIZE, h.n_tokens);
    self->in_pos0 = pos0;
    self->in_flags = h.flags;
    GST_OBJECT_LOCK (self);
    self->next_pos = pos0 + (gint) h.n_tokens;
    GST_OBJECT_UNLOCK (self);
    next_layer = 0;
  } else {
    pos0 = h.pos0;
    next_layer = h.next_layer;
    cur = gst_buffer_ref (inbuf);
  }
  gst_buffer_copy_into (cur, inbuf, GST_BUFFER_COPY_TIMESTAMPS, 0, -1);

  for (;;) {
    LayersWindow *w = NULL;
    gboolean last, all_rows = FALSE;
    GstMapInfo cm;
    gsize ids_size = 0;

    for (guint i = 0; i < self->windows->len; i++)
      if (g_array_index (self->windows, LayersWindow, i).first == next_layer)
        w = &g_array_index (self->windows, LayersWindow, i);
    if (w == NULL) {
      /* another device's layer */
      out_pad = head ? self->ring_srcpad : GST_BASE_TRANSFORM_SRC_PAD (self);
      outbuf = cur;
      cur = NULL;
      break;
    }
    if (pos0 > w->next_pos || (gint64) pos0 + h.n_tokens > self->n_ctx) {
      g_mutex_unlock (&self->eval_lock);
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("Tokens at position %d, but layers %d-%d hold %d positions."),
              pos0, w->first, w->last, w->next_pos), (NULL));
      ret = GST_FLOW_ERROR;
      goto done;
    }
    last = w->last == n_layer;
    if (last) {
      PrimaHeader oh;
      gboolean with_ids = head && self->in_pos0 == pos0 && self->in_ids->len == h.n_tokens;
      ids_size = with_ids ? h.n_tokens * sizeof (gint32) : 0;
      GST_OBJECT_LOCK (self);
      all_rows = self->all_logits;
      GST_OBJECT_UNLOCK (self);
      prima_header_init (&oh, PRIMA_PAYLOAD_LOGITS, h.n_tokens, ids_size
          + (all_rows ? h.n_tokens : 1) * self->model->hp.n_vocab * sizeof (float));
      oh.seq_id = h.seq_id;
      oh.pos0 = pos0;
      oh.next_layer = n_layer;
      oh.flags = (with_ids ? self->in_flags & PRIMA_FLAG_PROMPT : 0) | (with_ids ? 0 : PRIMA_FLAG_NO_IDS);
      outbuf = prima_buffer_new (&oh);
      if (with_ids)
        gst_buffer_fill (outbuf, PRIMA_HEADER_SIZE, self->in_ids->data, ids_size);
      GST_BUFFER_OFFSET (outbuf) = pos0;
    } else {
      outbuf = gst_prima_layers_hidden_buffer (self, &h, pos0, w->last);
    }
    gst_buffer_copy_into (outbuf, inbuf, GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
    gst_buffer_map (cur, &cm, GST_MAP_READ);
    gst_buffer_map (outbuf, &map, GST_MAP_WRITE);
    if (!prima_context_eval (w->ctx, (int) h.n_tokens, NULL, (const float *) (cm.data + PRIMA_HEADER_SIZE), pos0,
            (float *) (map.data + PRIMA_HEADER_SIZE + ids_size), all_rows, &err)) {
      gst_buffer_unmap (outbuf, &map);
      gst_buffer_unmap (cur, &cm);
      g_mutex_unlock (&self->eval_lock);
      GST_ELEMENT_ERROR (self, LIBRARY, FAILED, (_("Evaluating the layers failed: %s"), err->message), (NULL));
      g_clear_error (&err);
      gst_clear_buffer (&outbuf);
      ret = GST_FLOW_ERROR;
      goto done;
    }
    gst_buffer_unmap (outbuf, &map);
    gst_buffer_unmap (cur, &cm);
    w->next_pos = pos0 + (gint) h.n_tokens;
    GST_LOG_OBJECT (self, "evaluated %u tokens at %d through layers %d-%d", h.n_tokens, pos0, w->first, w->last);
    gst_buffer_unref (cur);
    cur = NULL;
    if (last) {
      out_pad = GST_BASE_TRANSFORM_SRC_PAD (self);
      break;
    }
    cur = outbuf;
    outbuf = NULL;
    next_layer = w->last;
  }
  if (out_pad == self->ring_srcpad)
    gst_prima_layers_ring_src_start (self);
  g_mutex_unlock (&self->eval_lock);
  gst_buffer_unmap (inbuf, &in);
  gst_buffer_unref (inbuf);
  return gst_pad_push (out_pad, outbuf);

done:
  gst_clear_buffer (&cur);
  gst_buffer_unmap (inbuf, &in);
  gst_buffer_unref (inbuf);
  return ret;
}

static GstFlowReturn
gst_prima_layers_submit_input_buffer (GstBaseTransform * trans, gboolean is_discont, GstBuffer * input)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);

  if (!self->ring)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->submit_input_buffer (trans, is_discont, input);
  return gst_prima_layers_ring_process (self, input, FALSE);
}

static GstFlowReturn
gst_prima_layers_generate_output (GstBaseTransform * trans, GstBuffer ** outbuf)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);

  if (!self->ring)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->generate_output (trans, outbuf);
  *outbuf = NULL;
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_prima_layers_ring_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (parent);

  if (!self->ring || self->model == NULL) {
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  return gst_prima_layers_ring_process (self, buf, TRUE);
}

/* The head's ring_sink: what comes back around. Control events the head
 * sent come back here and end; end-of-stream (the ordered stop) ends the
 * head's output once its own input ended too. */
static gboolean
gst_prima_layers_ring_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (parent);
  gboolean forward = FALSE;

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    GST_OBJECT_LOCK (self);
    self->ring_eos = TRUE;
    forward = self->sink_eos;
    GST_OBJECT_UNLOCK (self);
    GST_DEBUG_OBJECT (self, "the ring stopped%s", forward ? ": end of stream" : "");
  }
  if (forward)
    return gst_pad_push_event (GST_BASE_TRANSFORM_SRC_PAD (self), event);
  gst_event_unref (event);
  return TRUE;
}

static gboolean
gst_prima_layers_ring_src_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  gst_event_unref (event);
  return FALSE;
}

static GstPad *
gst_prima_layers_request_new_pad (GstElement * element, GstPadTemplate * templ, const gchar * name,
    const GstCaps * caps)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (element);
  GstPad *pad;

  if (GST_PAD_TEMPLATE_DIRECTION (templ) == GST_PAD_SINK) {
    if (self->ring_sinkpad)
      return NULL;
    pad = self->ring_sinkpad = gst_pad_new_from_template (templ, "ring_sink");
    gst_pad_set_chain_function (pad, GST_DEBUG_FUNCPTR (gst_prima_layers_ring_chain));
    gst_pad_set_event_function (pad, GST_DEBUG_FUNCPTR (gst_prima_layers_ring_sink_event));
  } else {
    if (self->ring_srcpad)
      return NULL;
    pad = self->ring_srcpad = gst_pad_new_from_template (templ, "ring_src");
    gst_pad_set_event_function (pad, GST_DEBUG_FUNCPTR (gst_prima_layers_ring_src_event));
    gst_pad_use_fixed_caps (pad);
  }
  gst_pad_set_active (pad, TRUE);
  gst_element_add_pad (element, pad);
  return pad;
}

static void
gst_prima_layers_release_pad (GstElement * element, GstPad * pad)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (element);

  if (pad == self->ring_sinkpad)
    self->ring_sinkpad = NULL;
  else if (pad == self->ring_srcpad)
    self->ring_srcpad = NULL;
  gst_element_remove_pad (element, pad);
}

/* Applies a prima-kv-clear, -remove or -shift event to one context; returns
 * the next position after it (the largest cached one + 1). */
static gint
gst_prima_layers_apply_kv (GstPrimaLayers * self, prima_context * ctx, GstEvent * event)
{
  gint p0 = 0, p1 = -1, delta = 0;

  if (prima_event_is_kv_clear (event))
    prima_context_kv_clear (ctx);
  else if (prima_event_parse_kv_remove (event, NULL, &p0, &p1))
    prima_context_kv_remove (ctx, p0, p1);
  else if (prima_event_parse_kv_shift (event, NULL, &p0, &p1, &delta))
    prima_context_kv_shift (ctx, p0, p1, delta);
  GST_DEBUG_OBJECT (self, "%" GST_PTR_FORMAT ": %d cells, next position %d", event,
      prima_context_kv_n_cells (ctx), prima_context_kv_pos_max (ctx) + 1);
  return prima_context_kv_pos_max (ctx) + 1;
}

/* Sink events of ring mode; TRUE when the event was taken. */
static gboolean
gst_prima_layers_ring_sink_event_main (GstPrimaLayers * self, GstEvent * event)
{
  const gchar *windows = NULL;

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->ring_srcpad) {
    gboolean forward;
    GST_OBJECT_LOCK (self);
    self->sink_eos = TRUE;
    forward = self->ring_eos;
    GST_OBJECT_UNLOCK (self);
    /* the stop goes around the ring; the output ends when it is back */
    g_mutex_lock (&self->eval_lock);
    gst_prima_layers_ring_src_start (self);
    g_mutex_unlock (&self->eval_lock);
    gst_pad_push_event (self->ring_srcpad, gst_event_new_eos ());
    if (!forward) {
      gst_event_unref (event);
      return TRUE;
    }
    return FALSE;
  }
  if (prima_event_parse_ring_plan (event, NULL, NULL, &windows, NULL, NULL)) {
    gboolean ok;
    g_mutex_lock (&self->eval_lock);
    ok = self->model && gst_prima_layers_set_windows (self, windows ? windows : "");
    g_mutex_unlock (&self->eval_lock);
    if (!ok) {
      gst_event_unref (event);
      return TRUE;
    }
  } else if (prima_event_is_kv_remove (event) || prima_event_is_kv_shift (event) || prima_event_is_kv_clear (event)) {
    /* every window holds the same positions: the operation applies to each */
    gint next = -1;
    g_mutex_lock (&self->eval_lock);
    for (guint i = 0; self->windows && i < self->windows->len; i++) {
      LayersWindow *w = &g_array_index (self->windows, LayersWindow, i);
      w->next_pos = gst_prima_layers_apply_kv (self, w->ctx, event);
      next = next < 0 ? w->next_pos : MIN (next, w->next_pos);
    }
    g_mutex_unlock (&self->eval_lock);
    if (next >= 0) {
      GST_OBJECT_LOCK (self);
      self->next_pos = next;
      GST_OBJECT_UNLOCK (self);
    }
  } else {
    return FALSE;
  }
  /* KV operations also go around the ring from the head */
  if (self->ring_srcpad && !prima_event_is_ring_plan (event)) {
    g_mutex_lock (&self->eval_lock);
    gst_prima_layers_ring_src_start (self);
    g_mutex_unlock (&self->eval_lock);
    gst_pad_push_event (self->ring_srcpad, gst_event_ref (event));
  }
  return FALSE;
}

static gboolean
gst_prima_layers_start (GstBaseTransform * trans)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);
  prima_context_params params = { 0 };
  GError *err = NULL;
  gchar *path, *windows;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  params.n_ctx = self->context_size;
  params.n_threads = self->threads;
  params.first_layer = self->first_layer;
  params.last_layer = self->last_layer;
  params.prefetch = self->prefetch_mode;
  params.release = self->release_policy;
  GST_OBJECT_UNLOCK (self);
  params.progress = gst_prima_layers_loading;
  params.progress_data = self;

  if (path == NULL || *path == '\0')
    goto model_failed;
  self->model = prima_model_load (path, &err);
  if (self->model == NULL)
    goto model_failed;
  GST_OBJECT_LOCK (self);
  windows = g_strdup (self->windows_spec);
  GST_OBJECT_UNLOCK (self);
  self->ring = windows != NULL && *windows != '\0';
  if (self->ring) {
    gboolean ok = TRUE;
    self->ring_src_started = FALSE;
    self->sink_eos = self->ring_eos = FALSE;
    self->in_pos0 = -1;
    g_array_set_size (self->in_ids, 0);
    self->n_ctx = MIN (params.n_ctx > 0 ? params.n_ctx : 4096, self->model->hp.n_ctx_train);
    if (strcmp (windows, "plan") != 0)
      ok = gst_prima_layers_set_windows (self, windows);
    g_free (windows);
    GST_OBJECT_LOCK (self);
    self->next_pos = 0;
    GST_OBJECT_UNLOCK (self);
    if (!ok)
      g_clear_pointer (&self->model, prima_model_free);
    g_free (path);
    return ok;
  }
  g_free (windows);
  if (params.last_layer <= 0)
    params.last_layer = self->model->hp.n_layer;
  if (params.n_ctx > self->model->hp.n_ctx_train) {
    GST_WARNING_OBJECT (self, "context-size %d is more than the model's %d", params.n_ctx,
        self->model->hp.n_ctx_train);
    params.n_ctx = self->model->hp.n_ctx_train;
  }
  self->ctx = prima_context_new (self->model, &params, &err);
  if (self->ctx == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("Could not set up the layers of \"%s\": %s"), path,
            err->message), (NULL));
    g_clear_error (&err);
    g_clear_pointer (&self->model, prima_model_free);
    g_free (path);
    return FALSE;
  }
  self->first = params.first_layer;
  self->last = params.last_layer;
  self->n_ctx = prima_context_n_ctx (self->ctx);
  gst_prima_layers_make_pool (self);
  GST_OBJECT_LOCK (self);
  self->next_pos = 0;
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "%s: layers [%d, %d) of %d, context %d, %d threads", path, self->first, self->last,
      self->model->hp.n_layer, self->n_ctx, prima_context_n_threads (self->ctx));
  g_free (path);
  return TRUE;

model_failed:
  PRIMA_ELEMENT_MODEL_ERROR (self, path, err);
  g_clear_error (&err);
  g_free (path);
  return FALSE;
}

static gboolean
gst_prima_layers_stop (GstBaseTransform * trans)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);

  if (self->pool) {
    gst_buffer_pool_set_active (self->pool, FALSE);
    gst_clear_object (&self->pool);
  }
  GST_OBJECT_LOCK (self);
  g_clear_pointer (&self->ctx, prima_context_free);
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->eval_lock);
  gst_prima_layers_free_windows (self);
  g_mutex_unlock (&self->eval_lock);
  g_clear_pointer (&self->model, prima_model_free);
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

  if (self->ring && self->model) {
    gboolean head = self->ring_srcpad != NULL;
    if (direction == GST_PAD_SINK)
      res = head ? gst_caps_new_simple ("application/x-prima-logits", "n-vocab", G_TYPE_INT,
          self->model->hp.n_vocab, NULL) : gst_prima_layers_hidden_caps (self);
    else
      res = head ? gst_caps_new_empty_simple ("application/x-prima-tokens") : gst_prima_layers_hidden_caps (self);
  } else if (self->ctx == NULL)
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

/* The input's header and its expected payload, checked against the window. */
static gboolean
gst_prima_layers_parse_input (GstPrimaLayers * self, const GstMapInfo * map, PrimaHeader * h)
{
  gboolean tokens = prima_context_has_embedding (self->ctx);

  if (!prima_header_parse (map->data, map->size, tokens ? PRIMA_PAYLOAD_TOKENS : PRIMA_PAYLOAD_HIDDEN, h))
    return FALSE;
  if (tokens)
    return h->payload_size == (gsize) h->n_tokens * sizeof (gint32);
  return h->dtype == PRIMA_DTYPE_F32 && h->next_layer == self->first
      && h->payload_size == (gsize) h->n_tokens * self->model->hp.n_embd * sizeof (float);
}

static gsize
gst_prima_layers_output_payload (GstPrimaLayers * self, const PrimaHeader * in)
{
  if (prima_context_has_head (self->ctx))
    return (prima_context_has_embedding (self->ctx) ? in->n_tokens * sizeof (gint32) : 0)
        + (gsize) (self->all_logits ? in->n_tokens : 1) * self->model->hp.n_vocab * sizeof (float);
  return (gsize) in->n_tokens * self->model->hp.n_embd * sizeof (float);
}

static GstFlowReturn
gst_prima_layers_prepare_output_buffer (GstBaseTransform * trans, GstBuffer * inbuf, GstBuffer ** outbuf)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);
  GstMapInfo map;
  PrimaHeader h;
  gboolean ok;

  if (self->ctx == NULL)
    return GST_FLOW_NOT_NEGOTIATED;
  if (!gst_buffer_map (inbuf, &map, GST_MAP_READ))
    return GST_FLOW_ERROR;
  ok = gst_prima_layers_parse_input (self, &map, &h);
  gst_buffer_unmap (inbuf, &map);
  if (!ok) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed %s buffer."),
            prima_context_has_embedding (self->ctx) ? "tokens" : "hidden-state"),
        ("%" G_GSIZE_FORMAT " bytes; a window starting at layer %d", map.size, self->first));
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

static GstFlowReturn
gst_prima_layers_transform (GstBaseTransform * trans, GstBuffer * inbuf, GstBuffer * outbuf)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);
  gboolean tokens = prima_context_has_embedding (self->ctx);
  gboolean head = prima_context_has_head (self->ctx);
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo in, out;
  PrimaHeader h, oh;
  GError *err = NULL;
  const guint8 *payload;
  gsize ids_size;
  gint pos0, next_pos;

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
  if (!prima_context_eval (self->ctx, (int) h.n_tokens, tokens ? (const int32_t *) payload : NULL,
          tokens ? NULL : (const float *) payload, pos0, (float *) (out.data + PRIMA_HEADER_SIZE + ids_size),
          self->all_logits, &err)) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, (_("Evaluating the layers failed: %s"), err->message), (NULL));
    g_clear_error (&err);
    ret = GST_FLOW_ERROR;
    goto done_out;
  }

  prima_header_init (&oh, head ? PRIMA_PAYLOAD_LOGITS : PRIMA_PAYLOAD_HIDDEN, h.n_tokens,
      out.size - PRIMA_HEADER_SIZE);
  oh.seq_id = h.seq_id;
  oh.pos0 = pos0;
  oh.next_layer = self->last;
  oh.flags = h.flags & PRIMA_FLAG_PROMPT;
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
  return ret;
}

static void
gst_prima_layers_reset (GstPrimaLayers * self)
{
  GST_OBJECT_LOCK (self);
  GST_DEBUG_OBJECT (self, "back to position 0 (from %d)", self->next_pos);
  self->next_pos = 0;
  GST_OBJECT_UNLOCK (self);
  if (self->ring)
    gst_prima_layers_ring_reset (self, 0);
}

static gboolean
gst_prima_layers_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstPrimaLayers *self = GST_PRIMA_LAYERS (trans);

  if (self->ring && gst_prima_layers_ring_sink_event_main (self, event))
    return TRUE;
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_SEGMENT:
      gst_prima_layers_reset (self);
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      if (prima_event_is_kv_clear (event)) {
        if (self->ctx)
          prima_context_kv_clear (self->ctx);
        gst_prima_layers_reset (self);
      } else if (self->ctx && (prima_event_is_kv_remove (event) || prima_event_is_kv_shift (event))) {
        gint next = gst_prima_layers_apply_kv (self, self->ctx, event);
        GST_OBJECT_LOCK (self);
        self->next_pos = next;
        GST_OBJECT_UNLOCK (self);
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
    case PROP_N_EVALUATED:{
      guint64 n = self->ctx ? prima_context_n_evaluated (self->ctx) : 0;
      for (guint i = 0; self->windows && i < self->windows->len; i++)
        n += prima_context_n_evaluated (g_array_index (self->windows, LayersWindow, i).ctx);
      g_value_set_uint64 (value, n);
      break;
    }
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
  gst_prima_layers_free_windows (self);
  prima_model_free (self->model);
  g_free (self->model_path);
  g_free (self->windows_spec);
  g_array_unref (self->in_ids);
  g_mutex_clear (&self->eval_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_prima_layers_class_init (GstPrimaLayersClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
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
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Path of the GGUF model file", NULL, PARAM_FLAGS));
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
   * Ring mode (docs/design.md section 3): the device's layer windows as
   * "first-last,first-last" (each [first, last), ascending), or "plan" to
   * take them from the ring's `prima-ring-plan` event. Each window keeps its
   * own KV cache; a hidden-state buffer runs the window that starts at its
   * next layer, then the next one of this device if it follows directly.
   * On the head (with the request pads `ring_src` and `ring_sink`) the sink
   * takes tokens, which are embedded here and sent to the ring, and src gives
   * the logits of the window that ends at the last layer; on a worker sink
   * and src carry hidden states. Overrides first-layer and last-layer.
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

  element_class->request_new_pad = GST_DEBUG_FUNCPTR (gst_prima_layers_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_prima_layers_release_pad);
  trans_class->submit_input_buffer = GST_DEBUG_FUNCPTR (gst_prima_layers_submit_input_buffer);
  trans_class->generate_output = GST_DEBUG_FUNCPTR (gst_prima_layers_generate_output);
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
  gst_element_class_add_static_pad_template (element_class, &ring_sink_template);
  gst_element_class_add_static_pad_template (element_class, &ring_src_template);
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
  self->in_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_mutex_init (&self->eval_lock);
}
