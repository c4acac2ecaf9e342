/* gst-prima: primaloop, the autoregressive cycle.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primaloop
 * @title: primaloop
 *
 * Closes the autoregressive cycle of generation. The prompt's tokens come in
 * on `sink` (from primatokenizer) and are collected until its end-of-stream;
 * then they go out on `src` (to primalayers) as one batch. Each token that
 * primasampler picks comes back on `feedback` (through a tee) and goes out
 * again on `src`, at the next position, until one of these ends the turn:
 * an end-of-generation token (unless #GstPrimaLoop:ignore-eos), the
 * #GstPrimaLoop:n-predict-th generated token, the context limit (asked from
 * primalayers with the `prima-context` query), or one of the
 * #GstPrimaLoop:stop strings at the end of the generated text. The turn then
 * ends with end-of-stream on `src`.
 *
 * `src` runs its own streaming thread: a token arriving on `feedback` is only
 * queued, so the thread that pushed it returns at once and the cycle never
 * recurses. Queries and events are never forwarded out of `feedback`, so
 * nothing travels around the cycle. The token that ends the turn has already
 * reached the other branches of the tee (so with n-predict=N exactly N tokens
 * come out) but is not evaluated.
 *
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primaloop name=loop model=tests/data/stories260K-f32.gguf n-predict=64 ! primalayers model=tests/data/stories260K-f32.gguf ! primasampler temperature=0 ! tee name=t ! queue ! primadetokenizer model=tests/data/stories260K-f32.gguf ! fdsink fd=1 t. ! queue ! loop.feedback
 * ]| continues the prompt with 64 greedily chosen tokens.
 *
 * Since: 0.1
 */

#include "gstprimaloop.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "gguf.h"
#include "tokenizer.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_loop_debug);
#define GST_CAT_DEFAULT gst_prima_loop_debug

#define DEFAULT_N_PREDICT -1
#define DEFAULT_IGNORE_EOS FALSE

enum
{
  PROP_0,
  PROP_N_PREDICT,
  PROP_MODEL,
  PROP_STOP,
  PROP_IGNORE_EOS,
};

struct _GstPrimaLoop
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *feedbackpad;
  GstPad *srcpad;

  /* properties, under the object lock */
  gint n_predict;
  gchar *model;
  gchar **stop;
  gboolean ignore_eos;

  /* from READY to PAUSED */
  gguf_file *file;
  prima_tokenizer *tok;

  /* sink streaming thread: the prompt being collected */
  GArray *prompt;

  /* the rest under lock; cond wakes the src task */
  GMutex lock;
  GCond cond;
  GQueue queue;                 /* buffers and events for the src task */
  gboolean flushing;
  gboolean generating;          /* the prompt went out; feedback is expected */
  gboolean done;                /* the turn ended; feedback is dropped */
  gint next_pos;                /* position of the next token to send */
  gint n_generated;
  gint n_ctx;                   /* from downstream; 0 = unknown */
  GString *tail;                /* end of the generated text, for stop strings */
  gboolean need_segment;        /* src task: push stream-start, caps, segment first */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

static GstStaticPadTemplate feedback_template = GST_STATIC_PAD_TEMPLATE ("feedback",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

#define gst_prima_loop_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaLoop, gst_prima_loop, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_prima_loop_debug, "primaloop", 0, "prima autoregressive loop"));
GST_ELEMENT_REGISTER_DEFINE (primaloop, "primaloop", GST_RANK_NONE, GST_TYPE_PRIMA_LOOP);

static void gst_prima_loop_src_loop (GstPrimaLoop * self);

/* Under lock. */
static void
gst_prima_loop_enqueue (GstPrimaLoop * self, gpointer item)
{
  g_queue_push_tail (&self->queue, item);
  g_cond_signal (&self->cond);
}

/* Under lock: forget the turn (not the positions). */
static void
gst_prima_loop_clear (GstPrimaLoop * self)
{
  gpointer item;

  while ((item = g_queue_pop_head (&self->queue)))
    gst_mini_object_unref (item);
  self->generating = FALSE;
  self->done = FALSE;
  self->n_generated = 0;
  g_string_truncate (self->tail, 0);
}

static gboolean
gst_prima_loop_open (GstPrimaLoop * self)
{
  GError *err = NULL;
  gchar *path;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model);
  GST_OBJECT_UNLOCK (self);

  if (path == NULL || *path == '\0') {
    GST_WARNING_OBJECT (self, "no model set: end-of-generation tokens and stop strings are not detected");
    g_free (path);
    return TRUE;
  }
  self->file = gguf_open (path, &err);
  if (self->file == NULL)
    goto failed;
  self->tok = prima_tokenizer_new (self->file, &err);
  if (self->tok == NULL)
    goto failed;
  g_free (path);
  return TRUE;

failed:
  PRIMA_ELEMENT_MODEL_ERROR (self, path, err);
  g_clear_error (&err);
  g_clear_pointer (&self->file, gguf_close);
  g_free (path);
  return FALSE;
}

static void
gst_prima_loop_close (GstPrimaLoop * self)
{
  g_clear_pointer (&self->tok, prima_tokenizer_free);
  g_clear_pointer (&self->file, gguf_close);
}

/* ---- sink: the prompt ---- */

static GstFlowReturn
gst_prima_loop_sink_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (parent);
  GstMapInfo map;
  PrimaHeader h;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  if (!prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_TOKENS, &h)
      || h.payload_size != h.n_tokens * sizeof (gint32)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed tokens buffer.")),
        ("%" G_GSIZE_FORMAT " bytes on the prompt pad", map.size));
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  g_array_append_vals (self->prompt, map.data + PRIMA_HEADER_SIZE, h.n_tokens);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  return GST_FLOW_OK;
}

/* End of the prompt: it goes out as one batch (or the turn ends at once). */
static void
gst_prima_loop_prompt_done (GstPrimaLoop * self)
{
  gint n_predict;

  GST_OBJECT_LOCK (self);
  n_predict = self->n_predict;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (self->prompt->len == 0 || n_predict == 0) {
    GST_DEBUG_OBJECT (self, "nothing to generate (%u prompt tokens, n-predict %d)", self->prompt->len, n_predict);
    self->done = TRUE;
    gst_prima_loop_enqueue (self, gst_event_new_eos ());
  } else {
    GST_DEBUG_OBJECT (self, "prompt of %u tokens at position %d", self->prompt->len, self->next_pos);
    gst_prima_loop_enqueue (self, prima_tokens_buffer_new ((const gint32 *) self->prompt->data, self->prompt->len,
            self->next_pos, 0, PRIMA_FLAG_PROMPT));
    self->next_pos += self->prompt->len;
    self->generating = TRUE;
  }
  g_array_set_size (self->prompt, 0);
  g_mutex_unlock (&self->lock);
}

static gboolean
gst_prima_loop_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
    case GST_EVENT_CAPS:
    case GST_EVENT_SEGMENT:
      /* src has its own stream, fixed caps and segment */
      gst_event_unref (event);
      return TRUE;
    case GST_EVENT_EOS:
      gst_event_unref (event);
      gst_prima_loop_prompt_done (self);
      return TRUE;
    case GST_EVENT_FLUSH_START:
      g_mutex_lock (&self->lock);
      self->flushing = TRUE;
      g_cond_signal (&self->cond);
      g_mutex_unlock (&self->lock);
      gst_pad_push_event (self->srcpad, event);
      gst_pad_pause_task (self->srcpad);
      return TRUE;
    case GST_EVENT_FLUSH_STOP:
      g_mutex_lock (&self->lock);
      gst_prima_loop_clear (self);
      self->next_pos = 0;
      self->need_segment = TRUE;
      self->flushing = FALSE;
      g_mutex_unlock (&self->lock);
      g_array_set_size (self->prompt, 0);
      gst_pad_push_event (self->srcpad, event);
      return gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_prima_loop_src_loop, self, NULL);
    default:
      if (GST_EVENT_IS_SERIALIZED (event)) {
        if (GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_DOWNSTREAM) {
          /* in order with the tokens, e.g. prima-kv-clear */
          g_mutex_lock (&self->lock);
          if (prima_event_is_kv_clear (event))
            self->next_pos = 0;
          gst_prima_loop_enqueue (self, event);
          g_mutex_unlock (&self->lock);
        } else {
          gst_event_unref (event);
        }
        return TRUE;
      }
      return gst_pad_push_event (self->srcpad, event);
  }
}

/* ---- feedback: the sampled tokens ---- */

/* Under lock. Appends the token's text and says whether a stop string now
 * ends the generated text. */
static gboolean
gst_prima_loop_hits_stop (GstPrimaLoop * self, gchar ** stop, gint32 token)
{
  gsize max_len = 0, before = self->tail->len;
  gboolean hit = FALSE;

  if (stop == NULL || self->tok == NULL)
    return FALSE;
  prima_token_to_piece (self->tok, token, FALSE, self->tail);
  for (gchar ** s = stop; *s; s++) {
    gsize len = strlen (*s);
    gsize from = before + 1 > len ? before + 1 - len : 0;
    max_len = MAX (max_len, len);
    if (len > 0 && self->tail->len >= len && memmem (self->tail->str + from, self->tail->len - from, *s, len)) {
      GST_DEBUG_OBJECT (self, "stop string \"%s\"", *s);
      hit = TRUE;
    }
  }
  /* the next match must use a byte of the next piece */
  if (max_len > 0 && self->tail->len >= max_len)
    g_string_erase (self->tail, 0, self->tail->len - (max_len - 1));
  return hit;
}

static GstFlowReturn
gst_prima_loop_feedback_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (parent);
  gboolean ignore_eos, stop = FALSE;
  gchar **stop_strings;
  gint n_predict;
  GstMapInfo map;
  PrimaHeader h;
  gint32 token;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  if (!prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_TOKENS, &h) || h.n_tokens != 1
      || h.payload_size != sizeof (gint32)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed tokens buffer.")),
        ("%" G_GSIZE_FORMAT " bytes on the feedback pad; expected one token", map.size));
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  memcpy (&token, map.data + PRIMA_HEADER_SIZE, sizeof token);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);

  GST_OBJECT_LOCK (self);
  n_predict = self->n_predict;
  ignore_eos = self->ignore_eos;
  stop_strings = g_strdupv (self->stop);
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    g_strfreev (stop_strings);
    return GST_FLOW_FLUSHING;
  }
  if (!self->generating || self->done || (h.pos0 >= 0 && h.pos0 != self->next_pos)) {
    GST_DEBUG_OBJECT (self, "dropping token %d at position %d (expecting %d)", token, h.pos0, self->next_pos);
    goto out;
  }
  self->n_generated++;
  if (!ignore_eos && self->tok && prima_tokenizer_is_eog (self->tok, token)) {
    GST_DEBUG_OBJECT (self, "end of generation: token %d", token);
    stop = TRUE;
  } else if (n_predict >= 0 && self->n_generated >= n_predict) {
    GST_DEBUG_OBJECT (self, "generated %d tokens", self->n_generated);
    stop = TRUE;
  } else if (self->n_ctx > 0 && self->next_pos + 1 >= self->n_ctx) {
    GST_INFO_OBJECT (self, "context full (%d positions)", self->n_ctx);
    stop = TRUE;
  } else if (gst_prima_loop_hits_stop (self, stop_strings, token)) {
    stop = TRUE;
  }

  if (stop) {
    self->done = TRUE;
    gst_prima_loop_enqueue (self, gst_event_new_eos ());
  } else {
    gst_prima_loop_enqueue (self, prima_tokens_buffer_new (&token, 1, self->next_pos, h.seq_id, 0));
    self->next_pos++;
  }
out:
  g_mutex_unlock (&self->lock);
  g_strfreev (stop_strings);
  return GST_FLOW_OK;
}

static gboolean
gst_prima_loop_feedback_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  /* caps were checked against the template; the rest (our own stream coming
   * back, EOS after the turn, flushes) must not travel on */
  gst_event_unref (event);
  return TRUE;
}

static gboolean
gst_prima_loop_feedback_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
    case GST_QUERY_ACCEPT_CAPS:
      return gst_pad_query_default (pad, parent, query);
    default:
      return FALSE;             /* never around the cycle */
  }
}

/* ---- src: the task ---- */

static void
gst_prima_loop_push_stream_start (GstPrimaLoop * self)
{
  gchar *upstream = gst_pad_get_stream_id (self->sinkpad);
  gchar *id;
  GstSegment segment;
  GstQuery *query;
  GstCaps *caps;

  /* gst_pad_create_stream_id() wants at most one sink pad: derive the id
   * from the prompt's stream, or make a random one as it would */
  if (upstream)
    id = g_strdup_printf ("%s/prima-loop", upstream);
  else
    id = g_strdup_printf ("%08x%08x%08x%08x/prima-loop", g_random_int (), g_random_int (), g_random_int (),
        g_random_int ());
  gst_pad_push_event (self->srcpad, gst_event_new_stream_start (id));
  g_free (upstream);
  g_free (id);
  caps = gst_static_pad_template_get_caps (&src_template);
  gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (self->srcpad, gst_event_new_segment (&segment));

  query = prima_query_new_context ();
  if (gst_pad_peer_query (self->srcpad, query)) {
    gint n_ctx = 0;
    gst_structure_get_int (gst_query_get_structure (query), "n-ctx", &n_ctx);
    g_mutex_lock (&self->lock);
    self->n_ctx = n_ctx;
    g_mutex_unlock (&self->lock);
    GST_DEBUG_OBJECT (self, "downstream context: %d positions", n_ctx);
  }
  gst_query_unref (query);
}

static void
gst_prima_loop_src_loop (GstPrimaLoop * self)
{
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean need_segment;
  gpointer item;
  gint n_ctx;

  g_mutex_lock (&self->lock);
  while (g_queue_is_empty (&self->queue) && !self->flushing)
    g_cond_wait (&self->cond, &self->lock);
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    goto pause;
  }
  item = g_queue_pop_head (&self->queue);
  need_segment = self->need_segment;
  self->need_segment = FALSE;
  g_mutex_unlock (&self->lock);

  if (need_segment)
    gst_prima_loop_push_stream_start (self);

  if (GST_IS_EVENT (item)) {
    GstEvent *event = GST_EVENT (item);
    gboolean eos = GST_EVENT_TYPE (event) == GST_EVENT_EOS;
    GST_DEBUG_OBJECT (self, "pushing %" GST_PTR_FORMAT, event);
    gst_pad_push_event (self->srcpad, event);
    if (eos)
      goto pause;
    return;
  }

  g_mutex_lock (&self->lock);
  n_ctx = self->n_ctx;
  g_mutex_unlock (&self->lock);
  if (n_ctx > 0) {
    PrimaHeader h;
    gst_buffer_extract (item, 0, &h, sizeof h);
    if ((h.flags & PRIMA_FLAG_PROMPT) && (gint64) h.pos0 + h.n_tokens >= n_ctx) {
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("The prompt has %u tokens, more than the context of %d."),
              h.n_tokens, n_ctx), ("at position %d", h.pos0));
      gst_buffer_unref (item);
      ret = GST_FLOW_ERROR;
      goto error;
    }
  }
  ret = gst_pad_push (self->srcpad, GST_BUFFER (item));
  if (ret != GST_FLOW_OK)
    goto error;
  return;

error:
  GST_DEBUG_OBJECT (self, "pausing: %s", gst_flow_get_name (ret));
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS) {
    if (ret != GST_FLOW_ERROR)
      GST_ELEMENT_FLOW_ERROR (self, ret);
    gst_pad_push_event (self->srcpad, gst_event_new_eos ());
  }
pause:
  gst_pad_pause_task (self->srcpad);
}

static gboolean
gst_prima_loop_src_activate_mode (GstPad * pad, GstObject * parent, GstPadMode mode, gboolean active)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (parent);

  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  if (active) {
    g_mutex_lock (&self->lock);
    gst_prima_loop_clear (self);
    self->flushing = FALSE;
    self->need_segment = TRUE;
    self->next_pos = 0;
    self->n_ctx = 0;
    g_mutex_unlock (&self->lock);
    return gst_pad_start_task (pad, (GstTaskFunction) gst_prima_loop_src_loop, self, NULL);
  }
  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->lock);
  return gst_pad_stop_task (pad);
}

static gboolean
gst_prima_loop_src_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (parent);

  /* upstream events go to the prompt's side only */
  return gst_pad_push_event (self->sinkpad, event);
}

static gboolean
gst_prima_loop_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
    case GST_QUERY_ACCEPT_CAPS:
      return gst_pad_query_default (pad, parent, query);
    default:
      return gst_pad_peer_query (self->sinkpad, query);
  }
}

static gboolean
gst_prima_loop_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (parent);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
    case GST_QUERY_ACCEPT_CAPS:
      return gst_pad_query_default (pad, parent, query);
    case GST_QUERY_ALLOCATION:
      return FALSE;
    default:
      return gst_pad_peer_query (self->srcpad, query);
  }
}

/* src links to sink only, feedback to nothing: default handlers never walk
 * around the cycle. */
static GstIterator *
gst_prima_loop_iterate_internal_links (GstPad * pad, GstObject * parent)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (parent);
  GstPad *other = pad == self->srcpad ? self->sinkpad : pad == self->sinkpad ? self->srcpad : NULL;
  GValue value = G_VALUE_INIT;
  GstIterator *it;

  if (other == NULL)
    return gst_iterator_new_single (GST_TYPE_PAD, NULL);
  g_value_init (&value, GST_TYPE_PAD);
  g_value_set_object (&value, other);
  it = gst_iterator_new_single (GST_TYPE_PAD, &value);
  g_value_unset (&value);
  return it;
}

static GstStateChangeReturn
gst_prima_loop_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!gst_prima_loop_open (self))
        return GST_STATE_CHANGE_FAILURE;
      g_array_set_size (self->prompt, 0);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      g_mutex_lock (&self->lock);
      gst_prima_loop_clear (self);
      g_mutex_unlock (&self->lock);
      g_array_set_size (self->prompt, 0);
      gst_prima_loop_close (self);
      break;
    default:
      break;
  }
  return ret;
}

static void
gst_prima_loop_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_N_PREDICT:
      self->n_predict = g_value_get_int (value);
      break;
    case PROP_MODEL:
      g_free (self->model);
      self->model = g_value_dup_string (value);
      break;
    case PROP_STOP:{
      guint n = gst_value_array_get_size (value);
      g_strfreev (self->stop);
      self->stop = n ? g_new0 (gchar *, n + 1) : NULL;
      for (guint i = 0; i < n; i++)
        self->stop[i] = g_value_dup_string (gst_value_array_get_value (value, i));
      break;
    }
    case PROP_IGNORE_EOS:
      self->ignore_eos = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_loop_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_N_PREDICT:
      g_value_set_int (value, self->n_predict);
      break;
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_STOP:
      for (gchar ** s = self->stop; s && *s; s++) {
        GValue v = G_VALUE_INIT;
        g_value_init (&v, G_TYPE_STRING);
        g_value_set_string (&v, *s);
        gst_value_array_append_and_take_value (value, &v);
      }
      break;
    case PROP_IGNORE_EOS:
      g_value_set_boolean (value, self->ignore_eos);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_loop_finalize (GObject * object)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (object);

  gst_prima_loop_clear (self);
  gst_prima_loop_close (self);
  g_array_free (self->prompt, TRUE);
  g_string_free (self->tail, TRUE);
  g_strfreev (self->stop);
  g_free (self->model);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_prima_loop_class_init (GstPrimaLoopClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_prima_loop_set_property;
  gobject_class->get_property = gst_prima_loop_get_property;
  gobject_class->finalize = gst_prima_loop_finalize;

  /**
   * GstPrimaLoop:n-predict:
   *
   * Tokens to generate after the prompt; -1 generates until an
   * end-of-generation token or the context is full.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_N_PREDICT,
      g_param_spec_int ("n-predict", "Tokens to predict",
          "Tokens to generate (-1 = until end-of-generation or a full context)", -1, G_MAXINT, DEFAULT_N_PREDICT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstPrimaLoop:model:
   *
   * Path of the GGUF model whose tokenizer gives the end-of-generation
   * tokens and the text matched against #GstPrimaLoop:stop. Without it
   * neither is detected.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Path of the GGUF model file (for its end-of-generation tokens)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstPrimaLoop:stop:
   *
   * Strings that end the turn when the generated text ends with one of them
   * (the text of the stop string is still output), e.g.
   * `stop="<\"User:\">"`.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_STOP,
      gst_param_spec_array ("stop", "Stop strings", "Strings that end the generation",
          g_param_spec_string ("stop-string", "Stop string", "A string that ends the generation", NULL,
              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS),
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstPrimaLoop:ignore-eos:
   *
   * Keep generating after an end-of-generation token.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_IGNORE_EOS,
      g_param_spec_boolean ("ignore-eos", "Ignore EOS", "Keep generating after an end-of-generation token",
          DEFAULT_IGNORE_EOS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_loop_change_state);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &feedback_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Prima loop", "Generic",
      "Feeds each sampled token back to the model until the end of the turn", "gst-prima authors");
}

static void
gst_prima_loop_init (GstPrimaLoop * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_loop_sink_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_loop_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_loop_sink_query));
  gst_pad_set_iterate_internal_links_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_prima_loop_iterate_internal_links));
  GST_PAD_SET_ACCEPT_TEMPLATE (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->feedbackpad = gst_pad_new_from_static_template (&feedback_template, "feedback");
  gst_pad_set_chain_function (self->feedbackpad, GST_DEBUG_FUNCPTR (gst_prima_loop_feedback_chain));
  gst_pad_set_event_function (self->feedbackpad, GST_DEBUG_FUNCPTR (gst_prima_loop_feedback_event));
  gst_pad_set_query_function (self->feedbackpad, GST_DEBUG_FUNCPTR (gst_prima_loop_feedback_query));
  gst_pad_set_iterate_internal_links_function (self->feedbackpad,
      GST_DEBUG_FUNCPTR (gst_prima_loop_iterate_internal_links));
  GST_PAD_SET_ACCEPT_TEMPLATE (self->feedbackpad);
  gst_element_add_pad (GST_ELEMENT (self), self->feedbackpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_activatemode_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_loop_src_activate_mode));
  gst_pad_set_event_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_loop_src_event));
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_loop_src_query));
  gst_pad_set_iterate_internal_links_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_prima_loop_iterate_internal_links));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->n_predict = DEFAULT_N_PREDICT;
  self->ignore_eos = DEFAULT_IGNORE_EOS;
  self->prompt = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->tail = g_string_new (NULL);
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->queue);
}
