/* gst-prima: primaringhead, the head of a pipelined ring of devices.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primaringhead
 * @title: primaringhead
 *
 * The head (rank 0) of a pipelined ring (docs/ring.md): token ids come in on
 * `sink`; the element embeds them and sends the hidden states round the
 * ring on `ring_src` (to a primawssink, the next device). What comes back
 * from the last device on `ring_sink` (from a primawssrc) runs the head's
 * own #GstPrimaRingHead:windows, the last of each cycle, each with its own
 * KV cache; the window that ends at the model's last layer applies the
 * output head and its logits leave on `src`, carrying the ids the head
 * embedded, so a sampler's penalties work as on one device. A window that
 * starts at layer 0 runs at once on the embedded tokens (a ring of one).
 *
 * Like primalayers it tracks the next position (input with position -1
 * appends), answers the `prima-context` query and applies `prima-kv-clear`,
 * `prima-kv-remove` and `prima-kv-shift` to every window; these events also
 * go round the ring on `ring_src`, in order with the frames. End-of-stream
 * is the ring's ordered stop: it goes round, and `src` ends only when it
 * has come back on `ring_sink`. NaN or infinite values stop the element
 * with an error that names the layer. As primalayers it posts
 * `prima-loading` messages for the first pass over its weights, and
 * #GstPrimaRingHead:prefetch-mode and #GstPrimaRingHead:release-policy
 * choose how they come and go (docs/memory.md).
 *
 * Workers run primalayers windows=plan between a primawssrc and a
 * primawssink (pipelines/worker.pipeline); `prima run --world N` fills
 * pipelines/ring-head.pipeline with this element.
 *
 * ## Example launch line
 * A ring of one: the head's own server takes its hidden states back.
 * |[
 * export PRIMA_CLUSTER_KEY=$(openssl rand -hex 32)
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primaringhead name=head model=tests/data/stories260K-f32.gguf windows=0-5 ! fakesink dump=true head.ring_src ! primawssink url=ws://127.0.0.1:9000 rank=0 peer-rank=0 world=1 primawssrc port=9000 rank=0 peer-rank=0 ! head.ring_sink
 * ]| dumps the logits of the prompt's last token.
 *
 * Since: 0.2
 */

#include "gstprimaringhead.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "model.h"
#include "forward.h"
#include "prima-window.h"
#include "gstprimalayers.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_ring_head_debug);
#define GST_CAT_DEFAULT gst_prima_ring_head_debug

#define DEFAULT_CONTEXT_SIZE 0
#define DEFAULT_THREADS 0

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_CONTEXT_SIZE,
  PROP_THREADS,
  PROP_WINDOWS,
  PROP_ALL_LOGITS,
  PROP_N_EVALUATED,
  PROP_PREFETCH_MODE,
  PROP_RELEASE_POLICY,
};

struct _GstPrimaRingHead
{
  GstElement parent;

  GstPad *sinkpad, *srcpad, *ring_sinkpad, *ring_srcpad;

  /* properties, under the object lock */
  gchar *model_path;
  gint context_size;
  gint threads;
  gchar *windows_spec;
  gboolean all_logits;
  prima_prefetch_mode prefetch_mode;
  prima_release_policy release_policy;

  /* from READY to PAUSED */
  prima_model *model;

  /* two streaming threads (sink, ring_sink) evaluate: the windows, the ids
   * and the ring_src's start are under eval_lock */
  GMutex eval_lock;
  PrimaWindows *windows;
  GArray *in_ids;               /* the ids of the batch in the ring */
  gint in_pos0;
  guint16 in_flags;
  gboolean ring_src_started;

  /* under the object lock */
  gint n_ctx;
  gint next_pos;
  gboolean sink_eos, ring_eos;  /* end-of-stream waits for both */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_LOGITS));

/* Hidden states to the next device and from the last one. */
static GstStaticPadTemplate ring_sink_template = GST_STATIC_PAD_TEMPLATE ("ring_sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_HIDDEN));

static GstStaticPadTemplate ring_src_template = GST_STATIC_PAD_TEMPLATE ("ring_src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_HIDDEN));

#define gst_prima_ring_head_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaRingHead, gst_prima_ring_head, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_prima_ring_head_debug, "primaringhead", 0, "prima ring head"));
GST_ELEMENT_REGISTER_DEFINE (primaringhead, "primaringhead", GST_RANK_NONE, GST_TYPE_PRIMA_RING_HEAD);

static GstCaps *
gst_prima_ring_head_hidden_caps (GstPrimaRingHead * self)
{
  return gst_caps_new_simple ("application/x-prima-hidden", "n-embd", G_TYPE_INT, self->model->hp.n_embd,
      "format", G_TYPE_STRING, "F32", NULL);
}

static GstCaps *
gst_prima_ring_head_logits_caps (GstPrimaRingHead * self)
{
  return gst_caps_new_simple ("application/x-prima-logits", "n-vocab", G_TYPE_INT, self->model->hp.n_vocab, NULL);
}

static GstBuffer *
gst_prima_ring_head_hidden_buffer (GstPrimaRingHead * self, const PrimaHeader * in, gint pos0, gint next_layer)
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

/* Under eval_lock: the ring's stream starts with the first thing sent. */
static void
gst_prima_ring_head_ring_src_start (GstPrimaRingHead * self)
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
  caps = gst_prima_ring_head_hidden_caps (self);
  gst_pad_push_event (self->ring_srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (self->ring_srcpad, gst_event_new_segment (&segment));
}

/* Under eval_lock: the prompt's tokens embedded, into *cur (entering layer
 * 0); their ids are kept for the logits. */
static GstFlowReturn
gst_prima_ring_head_embed (GstPrimaRingHead * self, const PrimaHeader * h, const guint8 * payload, gint * pos0,
    GstBuffer ** cur)
{
  GError *err = NULL;
  GstMapInfo map;
  gint next_pos;

  GST_OBJECT_LOCK (self);
  next_pos = self->next_pos;
  GST_OBJECT_UNLOCK (self);
  *pos0 = h->pos0 < 0 ? next_pos : h->pos0;
  if (*pos0 > next_pos || (gint64) * pos0 + h->n_tokens > self->n_ctx) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("The context of %d positions is full."), self->n_ctx),
        ("%u tokens at position %d", h->n_tokens, h->pos0));
    return GST_FLOW_ERROR;
  }
  *cur = gst_prima_ring_head_hidden_buffer (self, h, *pos0, 0);
  gst_buffer_map (*cur, &map, GST_MAP_WRITE);
  if (!prima_embed_tokens (self->model, (const int32_t *) payload, (int) h->n_tokens,
          (float *) (map.data + PRIMA_HEADER_SIZE), &err)) {
    gst_buffer_unmap (*cur, &map);
    gst_clear_buffer (cur);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Token not in the model's vocabulary: %s"), err->message), (NULL));
    g_clear_error (&err);
    return GST_FLOW_ERROR;
  }
  gst_buffer_unmap (*cur, &map);
  g_array_set_size (self->in_ids, 0);
  g_array_append_vals (self->in_ids, payload, h->n_tokens);
  self->in_pos0 = *pos0;
  self->in_flags = h->flags;
  GST_OBJECT_LOCK (self);
  self->next_pos = *pos0 + (gint) h->n_tokens;
  GST_OBJECT_UNLOCK (self);
  return GST_FLOW_OK;
}

/* Under eval_lock: hidden states entering next_layer through the head's
 * windows that follow each other from there, into *out: logits after the
 * last layer, else hidden states for the next device. */
static GstFlowReturn
gst_prima_ring_head_run_windows (GstPrimaRingHead * self, const PrimaHeader * h, GstBuffer * cur, gint pos0,
    gint next_layer, gint end, GstBuffer ** out)
{
  const gint n_layer = self->model->hp.n_layer;
  const PrimaWindow *bad;
  gboolean all_rows = FALSE;
  gsize ids_size = 0;
  GError *err = NULL;
  GstMapInfo cm, om;
  gboolean ok;

  bad = prima_windows_check (self->windows, next_layer, pos0, h->n_tokens);
  if (bad) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("Tokens at position %d, but layers %d-%d hold %d positions."),
            pos0, bad->first, bad->last, bad->next_pos), (NULL));
    return GST_FLOW_ERROR;
  }
  if (end == n_layer) {
    PrimaHeader oh;
    gboolean with_ids = self->in_pos0 == pos0 && self->in_ids->len == h->n_tokens;
    ids_size = with_ids ? h->n_tokens * sizeof (gint32) : 0;
    GST_OBJECT_LOCK (self);
    all_rows = self->all_logits;
    GST_OBJECT_UNLOCK (self);
    prima_header_init (&oh, PRIMA_PAYLOAD_LOGITS, h->n_tokens, ids_size
        + (all_rows ? h->n_tokens : 1) * self->model->hp.n_vocab * sizeof (float));
    oh.seq_id = h->seq_id;
    oh.pos0 = pos0;
    oh.next_layer = n_layer;
    oh.flags = with_ids ? self->in_flags & PRIMA_FLAG_PROMPT : PRIMA_FLAG_NO_IDS;
    *out = prima_buffer_new (&oh);
    if (with_ids)
      gst_buffer_fill (*out, PRIMA_HEADER_SIZE, self->in_ids->data, ids_size);
    GST_BUFFER_OFFSET (*out) = pos0;
  } else {
    *out = gst_prima_ring_head_hidden_buffer (self, h, pos0, end);
  }
  gst_buffer_copy_into (*out, cur, GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  gst_buffer_map (cur, &cm, GST_MAP_READ);
  gst_buffer_map (*out, &om, GST_MAP_WRITE);
  ok = prima_windows_eval (self->windows, next_layer, pos0, h->n_tokens, (const float *) (cm.data + PRIMA_HEADER_SIZE),
      (float *) (om.data + PRIMA_HEADER_SIZE + ids_size), all_rows, &err);
  gst_buffer_unmap (*out, &om);
  gst_buffer_unmap (cur, &cm);
  if (!ok) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, (_("Evaluating the layers failed: %s"), err->message), (NULL));
    g_clear_error (&err);
    gst_clear_buffer (out);
    return GST_FLOW_ERROR;
  }
  GST_LOG_OBJECT (self, "evaluated %u tokens at %d through layers %d-%d", h->n_tokens, pos0, next_layer, end);
  return GST_FLOW_OK;
}

/* One batch: tokens (sink, embedded here) or hidden states back from the
 * ring (ring_sink). It runs the head's windows that come next, if any, and
 * goes out where it belongs: logits on src, hidden states on ring_src. */
static GstFlowReturn
gst_prima_ring_head_process (GstPrimaRingHead * self, GstBuffer * inbuf, gboolean tokens)
{
  const gint n_embd = self->model->hp.n_embd, n_layer = self->model->hp.n_layer;
  GstBuffer *cur = NULL, *outbuf = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo in;
  PrimaHeader h;
  gint pos0, next_layer, end;

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
  if (tokens) {
    ret = gst_prima_ring_head_embed (self, &h, in.data + PRIMA_HEADER_SIZE, &pos0, &cur);
    next_layer = 0;
  } else {
    pos0 = h.pos0;
    next_layer = h.next_layer;
    cur = gst_buffer_ref (inbuf);
  }
  if (ret != GST_FLOW_OK) {
    g_mutex_unlock (&self->eval_lock);
    goto done;
  }
  gst_buffer_copy_into (cur, inbuf, GST_BUFFER_COPY_TIMESTAMPS, 0, -1);

  end = prima_windows_chain_end (self->windows, next_layer);
  if (end < 0) {
    /* another device's layer */
    outbuf = g_steal_pointer (&cur);
  } else {
    ret = gst_prima_ring_head_run_windows (self, &h, cur, pos0, next_layer, end, &outbuf);
    if (ret != GST_FLOW_OK) {
      g_mutex_unlock (&self->eval_lock);
      goto done;
    }
  }
  if (end < n_layer)
    gst_prima_ring_head_ring_src_start (self);
  g_mutex_unlock (&self->eval_lock);
  gst_clear_buffer (&cur);
  gst_buffer_unmap (inbuf, &in);
  gst_buffer_unref (inbuf);
  return gst_pad_push (end == n_layer ? self->srcpad : self->ring_srcpad, outbuf);

done:
  gst_clear_buffer (&cur);
  gst_buffer_unmap (inbuf, &in);
  gst_buffer_unref (inbuf);
  return ret;
}

static GstFlowReturn
gst_prima_ring_head_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (parent);

  if (self->windows == NULL) {
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  return gst_prima_ring_head_process (self, buf, pad == self->sinkpad);
}

/* Sends an event round the ring, starting the ring's stream first. */
static void
gst_prima_ring_head_push_ring (GstPrimaRingHead * self, GstEvent * event)
{
  g_mutex_lock (&self->eval_lock);
  gst_prima_ring_head_ring_src_start (self);
  g_mutex_unlock (&self->eval_lock);
  gst_pad_push_event (self->ring_srcpad, event);
}

/* A new start at position 0: a flush, a new segment, prima-kv-clear. */
static void
gst_prima_ring_head_reset (GstPrimaRingHead * self)
{
  g_mutex_lock (&self->eval_lock);
  if (self->windows)
    prima_windows_rewind (self->windows, 0);
  g_mutex_unlock (&self->eval_lock);
  GST_OBJECT_LOCK (self);
  GST_DEBUG_OBJECT (self, "back to position 0 (from %d)", self->next_pos);
  self->next_pos = 0;
  GST_OBJECT_UNLOCK (self);
}

/* prima-kv-clear, -remove or -shift on every window: they hold the same
 * positions. */
static void
gst_prima_ring_head_apply_kv (GstPrimaRingHead * self, PrimaKvOp op, gint p0, gint p1, gint delta)
{
  gint next = -1;

  g_mutex_lock (&self->eval_lock);
  if (self->windows)
    next = prima_windows_kv_apply (self->windows, op, p0, p1, delta);
  g_mutex_unlock (&self->eval_lock);
  GST_DEBUG_OBJECT (self, "kv operation %d [%d, %d) %+d: next position %d", op, p0, p1, delta, next);
  if (op == PRIMA_KV_CLEAR)
    gst_prima_ring_head_reset (self);
  else if (next >= 0) {
    GST_OBJECT_LOCK (self);
    self->next_pos = next;
    GST_OBJECT_UNLOCK (self);
  }
}

static gboolean
gst_prima_ring_head_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gst_event_unref (event);
      if (self->model == NULL)
        return FALSE;
      caps = gst_prima_ring_head_logits_caps (self);
      event = gst_event_new_caps (caps);
      gst_caps_unref (caps);
      break;
    }
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_SEGMENT:
      gst_prima_ring_head_reset (self);
      break;
    case GST_EVENT_EOS:{
      gboolean forward;
      GST_OBJECT_LOCK (self);
      self->sink_eos = TRUE;
      forward = self->ring_eos;
      GST_OBJECT_UNLOCK (self);
      /* the stop goes round the ring; the output ends when it is back */
      gst_prima_ring_head_push_ring (self, gst_event_new_eos ());
      if (!forward) {
        gst_event_unref (event);
        return TRUE;
      }
      break;
    }
    case GST_EVENT_CUSTOM_DOWNSTREAM:{
      gint p0, p1, delta;
      PrimaKvOp op;
      if (gst_prima_layers_kv_op (event, &op, &p0, &p1, &delta)) {
        gst_prima_ring_head_apply_kv (self, op, p0, p1, delta);
        /* the workers' windows hold the same positions */
        gst_prima_ring_head_push_ring (self, gst_event_ref (event));
      }
      break;
    }
    default:
      break;
  }
  /* the rest goes to src only: the ring's stream is the element's own */
  return gst_pad_push_event (self->srcpad, event);
}

/* What comes back round the ring: the control events the head sent end
 * here; end-of-stream (the ordered stop) ends the output once the head's
 * own input ended too. */
static gboolean
gst_prima_ring_head_ring_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (parent);
  gboolean forward = FALSE;

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    GST_OBJECT_LOCK (self);
    self->ring_eos = TRUE;
    forward = self->sink_eos;
    GST_OBJECT_UNLOCK (self);
    GST_DEBUG_OBJECT (self, "the ring stopped%s", forward ? ": end of stream" : "");
  }
  if (forward)
    return gst_pad_push_event (self->srcpad, event);
  gst_event_unref (event);
  return TRUE;
}

static gboolean
gst_prima_ring_head_src_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (parent);

  return gst_pad_push_event (self->sinkpad, event);
}

/* Upstream events from the next device's sink end here. */
static gboolean
gst_prima_ring_head_ring_src_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  gst_event_unref (event);
  return FALSE;
}

static gboolean
gst_prima_ring_head_context_query (GstPrimaRingHead * self, GstQuery * query)
{
  gint n_ctx, position;

  if (self->model == NULL)
    return FALSE;
  GST_OBJECT_LOCK (self);
  n_ctx = self->n_ctx;
  position = self->next_pos;
  GST_OBJECT_UNLOCK (self);
  prima_query_set_context (query, n_ctx, position);
  return TRUE;
}

static gboolean
gst_prima_ring_head_caps_query (GstPrimaRingHead * self, GstPad * pad, GstQuery * query)
{
  GstCaps *filter, *caps;

  gst_query_parse_caps (query, &filter);
  if (self->model == NULL)
    caps = gst_pad_get_pad_template_caps (pad);
  else if (pad == self->srcpad)
    caps = gst_prima_ring_head_logits_caps (self);
  else if (pad == self->sinkpad)
    caps = gst_caps_new_empty_simple ("application/x-prima-tokens");
  else
    caps = gst_prima_ring_head_hidden_caps (self);
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  gst_query_set_caps_result (query, caps);
  gst_caps_unref (caps);
  return TRUE;
}

static gboolean
gst_prima_ring_head_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (parent);

  if (prima_query_is_context (query))
    return gst_prima_ring_head_context_query (self, query);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      return gst_prima_ring_head_caps_query (self, pad, query);
    case GST_QUERY_ACCEPT_CAPS:
      return gst_pad_query_default (pad, parent, query);
    default:
      break;
  }
  /* sink and src form the element's stream; the ring pads ask upstream */
  if (pad == self->sinkpad)
    return gst_pad_peer_query (self->srcpad, query);
  if (pad == self->ring_sinkpad)
    return FALSE;
  return gst_pad_peer_query (self->sinkpad, query);
}

/* The residency engine's report of the first pass: a prima-loading message. */
static void
gst_prima_ring_head_loading (const prima_residency_progress * p, gpointer user_data)
{
  gst_prima_layers_post_loading (GST_ELEMENT (user_data), p);
}

static gboolean
gst_prima_ring_head_start (GstPrimaRingHead * self)
{
  prima_residency_params res = {.progress = gst_prima_ring_head_loading,.progress_data = self };
  GError *err = NULL;
  gchar *path, *spec;
  gint n_ctx, threads;

  GST_OBJECT_LOCK (self);
  res.prefetch = self->prefetch_mode;
  res.release = self->release_policy;
  path = g_strdup (self->model_path);
  spec = g_strdup (self->windows_spec);
  n_ctx = self->context_size;
  threads = self->threads;
  self->next_pos = 0;
  self->sink_eos = self->ring_eos = FALSE;
  GST_OBJECT_UNLOCK (self);

  if (path == NULL || *path == '\0') {
    PRIMA_ELEMENT_MODEL_ERROR (self, path, err);
    goto failed;
  }
  self->model = prima_model_load (path, &err);
  if (self->model == NULL) {
    PRIMA_ELEMENT_MODEL_ERROR (self, path, err);
    goto failed;
  }
  if (spec == NULL || *spec == '\0') {
    g_set_error (&err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "the head has no windows");
  } else {
    g_mutex_lock (&self->eval_lock);
    self->windows = prima_windows_new (self->model, spec, n_ctx, threads, &res, &err);
    self->ring_src_started = FALSE;
    self->in_pos0 = -1;
    g_array_set_size (self->in_ids, 0);
    g_mutex_unlock (&self->eval_lock);
  }
  /* the head ends every cycle: the output head is its */
  if (self->windows && (prima_windows_count (self->windows) == 0
          || prima_windows_get (self->windows, prima_windows_count (self->windows) - 1)->last
          != self->model->hp.n_layer))
    g_set_error (&err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "the head's last window must end at the model's last layer, %d", self->model->hp.n_layer);
  if (err) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("Could not set up the layer windows \"%s\": %s"),
            spec ? spec : "", err->message), (NULL));
    g_clear_pointer (&self->windows, prima_windows_free);
    g_clear_pointer (&self->model, prima_model_free);
    goto failed;
  }
  GST_OBJECT_LOCK (self);
  self->n_ctx = prima_windows_n_ctx (self->windows);
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "%s: windows %s of %d layers, context %d", path, spec, self->model->hp.n_layer,
      self->n_ctx);
  g_free (path);
  g_free (spec);
  return TRUE;

failed:
  g_clear_error (&err);
  g_free (path);
  g_free (spec);
  return FALSE;
}

static void
gst_prima_ring_head_stop (GstPrimaRingHead * self)
{
  g_mutex_lock (&self->eval_lock);
  g_clear_pointer (&self->windows, prima_windows_free);
  g_mutex_unlock (&self->eval_lock);
  g_clear_pointer (&self->model, prima_model_free);
}

static GstStateChangeReturn
gst_prima_ring_head_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !gst_prima_ring_head_start (self))
    return GST_STATE_CHANGE_FAILURE;
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_prima_ring_head_stop (self);
  return ret;
}

static void
gst_prima_ring_head_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (object);

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
gst_prima_ring_head_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (object);

  if (prop_id == PROP_N_EVALUATED) {
    g_mutex_lock (&self->eval_lock);
    g_value_set_uint64 (value, self->windows ? prima_windows_n_evaluated (self->windows) : 0);
    g_mutex_unlock (&self->eval_lock);
    return;
  }
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
gst_prima_ring_head_finalize (GObject * object)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (object);

  prima_windows_free (self->windows);
  prima_model_free (self->model);
  g_free (self->model_path);
  g_free (self->windows_spec);
  g_array_unref (self->in_ids);
  g_mutex_clear (&self->eval_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_prima_ring_head_class_init (GstPrimaRingHeadClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_prima_ring_head_set_property;
  gobject_class->get_property = gst_prima_ring_head_get_property;
  gobject_class->finalize = gst_prima_ring_head_finalize;

  /**
   * GstPrimaRingHead:model:
   *
   * Path of the GGUF model (the same model as every worker's). Loaded when
   * the element goes to PAUSED.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Path of the GGUF model file", NULL, PARAM_FLAGS));
  /**
   * GstPrimaRingHead:context-size:
   *
   * KV cache positions of each window; 0 takes the model's training
   * context, at most 4096.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_CONTEXT_SIZE,
      g_param_spec_int ("context-size", "Context size",
          "KV cache positions (0 = the model's, at most 4096)", 0, G_MAXINT, DEFAULT_CONTEXT_SIZE, PARAM_FLAGS));
  /**
   * GstPrimaRingHead:threads:
   *
   * Compute threads; 0 uses every online CPU.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads", "Compute threads (0 = all CPUs)", 0, 1024, DEFAULT_THREADS,
          PARAM_FLAGS));
  /**
   * GstPrimaRingHead:windows:
   *
   * The head's layer windows as "first-last,first-last" (each [first,
   * last), ascending), from the ring's plan: the last window of each cycle,
   * the last of all ending at the model's last layer (the output head).
   * Each keeps its own KV cache; one residency engine covers them all.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_WINDOWS,
      g_param_spec_string ("windows", "Windows", "The head's layer windows \"a-b,c-d\", the last ending at the "
          "model's last layer", NULL, PARAM_FLAGS));
  /**
   * GstPrimaRingHead:all-logits:
   *
   * The output head gives the logits of every token of a batch (n_tokens x
   * n_vocab after the ids) instead of the last one's: what `prima eval`
   * needs.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_ALL_LOGITS,
      g_param_spec_boolean ("all-logits", "All logits", "Logits of every token of a batch, not only the last",
          FALSE, PARAM_FLAGS));
  /**
   * GstPrimaRingHead:n-evaluated:
   *
   * Tokens the head's windows evaluated since it went to PAUSED, summed over
   * its windows.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_N_EVALUATED,
      g_param_spec_uint64 ("n-evaluated", "Evaluated tokens", "Tokens evaluated by the head's windows, summed", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * GstPrimaRingHead:prefetch-mode:
   *
   * How the weights of the head's window that runs next are read ahead
   * (docs/memory.md), as #GstPrimaLayers:prefetch-mode. The result never
   * depends on it.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_PREFETCH_MODE,
      g_param_spec_enum ("prefetch-mode", "Prefetch mode", "How the next window's weights are read ahead",
          GST_TYPE_PRIMA_PREFETCH_MODE, prima_prefetch_mode_resolve (PRIMA_PREFETCH_DEFAULT), PARAM_FLAGS));
  /**
   * GstPrimaRingHead:release-policy:
   *
   * Which of the head's windows give their weights' memory back after use
   * (docs/memory.md), as #GstPrimaLayers:release-policy. The result never
   * depends on it.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_RELEASE_POLICY,
      g_param_spec_enum ("release-policy", "Release policy", "Which windows release their weights after use",
          GST_TYPE_PRIMA_RELEASE_POLICY, prima_release_policy_resolve (PRIMA_RELEASE_DEFAULT), PARAM_FLAGS));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_ring_head_change_state);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_add_static_pad_template (element_class, &ring_sink_template);
  gst_element_class_add_static_pad_template (element_class, &ring_src_template);
  gst_element_class_set_static_metadata (element_class, "Prima ring head", "Filter/Converter",
      "The head of a ring of devices: embeds tokens, sends hidden states round the ring, runs its own windows "
      "and the output head", "gst-prima authors");
}

static void
gst_prima_ring_head_init (GstPrimaRingHead * self)
{
  self->context_size = DEFAULT_CONTEXT_SIZE;
  self->threads = DEFAULT_THREADS;
  self->prefetch_mode = prima_prefetch_mode_resolve (PRIMA_PREFETCH_DEFAULT);
  self->release_policy = prima_release_policy_resolve (PRIMA_RELEASE_DEFAULT);
  self->in_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_mutex_init (&self->eval_lock);

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_event_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_src_event));
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_query));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->ring_sinkpad = gst_pad_new_from_static_template (&ring_sink_template, "ring_sink");
  gst_pad_set_chain_function (self->ring_sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_chain));
  gst_pad_set_event_function (self->ring_sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_ring_sink_event));
  gst_pad_set_query_function (self->ring_sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_query));
  gst_element_add_pad (GST_ELEMENT (self), self->ring_sinkpad);

  self->ring_srcpad = gst_pad_new_from_static_template (&ring_src_template, "ring_src");
  gst_pad_set_event_function (self->ring_srcpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_ring_src_event));
  gst_pad_set_query_function (self->ring_srcpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_query));
  gst_element_add_pad (GST_ELEMENT (self), self->ring_srcpad);
}
