/* gst-prima: primaloop, the autoregressive cycle.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primaloop
 * @title: primaloop
 * @see_also: primafeedback
 *
 * Closes the autoregressive cycle of generation. The prompt's tokens come in
 * on `sink` (from primatokenizer) and are collected until the end of the
 * user's turn: end-of-stream, or the custom `prima-end-of-turn` event that
 * primatokenizer sends in chat mode. Then they go out on `src` (to
 * primalayers) as one batch. Each token that primasampler picks comes back
 * through a primafeedback element with the same #GstPrimaLoop:channel and
 * goes out again on `src`, at the next position, until one of these ends the
 * turn: an end-of-generation token (unless #GstPrimaLoop:ignore-eos), the
 * #GstPrimaLoop:n-predict-th generated token, the context limit (asked from
 * primalayers with the `prima-context` query), one of the
 * #GstPrimaLoop:stop strings at the end of the generated text, a
 * `prima-interrupt` event, or (barge-in) a `prima-speech-started` event from
 * primaspeechin upstream: the user started speaking again.
 *
 * A turn whose prompt ended with end-of-stream ends with end-of-stream on
 * `src`. A chat turn (its prompt ended with `prima-end-of-turn`) ends with a
 * `prima-end-of-turn` event on `src` instead: the KV cache is kept, the
 * next user turn continues at the next position, and the generated tokens
 * that went into the cache travel upstream to primatokenizer in a
 * `prima-answer` event so that its conversation holds the answer. An
 * end-of-stream that arrives during a chat turn goes out after that turn.
 * Each turn ends with a `prima-turn` element message on the bus: token
 * counts, prompt and decode time, and why it ended.
 *
 * A chat message that does not fit in the context (after a context shift,
 * where #GstPrimaLoop:context-shift allows one) is not answered: the turn
 * ends at once with a warning, and the `prima-answer` event says "refused"
 * so that primatokenizer drops the message from its conversation.
 *
 * The feedback is not a pad link: primafeedback hands its tokens to the
 * loop registered under its channel name, so the pipeline graph stays
 * acyclic. A loop that has sent a prompt while no primafeedback (in PAUSED
 * or PLAYING) uses its channel posts an error instead of waiting forever.
 * `src` runs its own streaming thread: a fed-back token is only queued, so
 * the thread that hands it over returns at once and the cycle never
 * recurses. The token that ends the turn has already reached the other
 * branches of the tee (so with n-predict=N exactly N tokens come out) but is
 * not evaluated.
 *
 * With speculative decoding (primadraft before the layers) a fed-back buffer
 * may hold several tokens: the drafts the sampler kept, already in the KV
 * cache, and the target's next token. Each counts as generated and may end
 * the turn; only the last goes out again, at its position, which rolls the
 * caches back over the rejected drafts.
 *
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primaloop n-predict=64 ! primalayers ! primasampler temperature=0 ! tee name=t ! queue ! primadetokenizer ! primafdsink fd=1 t. ! primafeedback
 * ]| continues the prompt with 64 greedily chosen tokens.
 *
 * Since: 0.1
 */

#include "gstprimaloop.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "prima-element.h"
#include "gguf.h"
#include "tokenizer.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_loop_debug);
#define GST_CAT_DEFAULT gst_prima_loop_debug

#define DEFAULT_N_PREDICT -1
#define DEFAULT_IGNORE_EOS FALSE
#define DEFAULT_CHANNEL "default"

enum
{
  PROP_0,
  PROP_N_PREDICT,
  PROP_MODEL,
  PROP_STOP,
  PROP_IGNORE_EOS,
  PROP_CHANNEL,
  PROP_CONTEXT_SHIFT,
  PROP_N_KEEP,
};

struct _GstPrimaLoop
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* properties, under the object lock */
  gint n_predict;
  gchar *model;
  gchar **stop;
  gboolean ignore_eos;
  gchar *channel;
  gboolean context_shift;
  gint n_keep;

  /* from READY to PAUSED */
  PrimaSharedModel *shared;      /* in use from READY->PAUSED to PAUSED->READY */
  PrimaSharedModel *context_model;       /* from the pipeline's "prima.model" context */
  const gguf_file *file;        /* owned by shared */
  const prima_tokenizer *tok;

  /* from NULL to READY: the channel this loop is registered under */
  gchar *registered;

  /* sink streaming thread: the prompt being collected and its position
   * (-1: append) */
  GArray *prompt;
  gint prompt_pos;

  /* the rest under lock; cond wakes the src task */
  GMutex lock;
  GCond cond;
  GQueue queue;                 /* buffers and events for the src task */
  gboolean flushing;
  gboolean generating;          /* the prompt went out; feedback is expected */
  gboolean done;                /* the turn ended; feedback is dropped */
  gboolean chat;                /* the turn ends with prima-end-of-turn */
  gboolean eos_pending;         /* end-of-stream after the current turn */
  gboolean interrupt;           /* a prima-interrupt arrived during the turn */
  gint next_pos;                /* position of the next token to send */
  gint n_generated;
  gint n_prompt;
  gint n_ctx;                   /* from downstream; 0 = unknown */
  gint first_prompt;            /* tokens of the conversation's first prompt */
  gint n_shifts;                /* context shifts this turn */
  GArray *answer;               /* generated tokens that went out this turn */
  gint answer_pos;              /* position of the first of them */
  GstClockTime t_prompt;        /* when the prompt went out */
  GstClockTime t_first;         /* when its first token came back */
  GstClockTime prompt_time;
  GString *tail;                /* end of the generated text, for stop strings */
  gboolean need_segment;        /* src task: push stream-start, caps, segment first */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
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

/* ---- the channels: name -> loop (not reffed: a loop leaves its channel
 * before it is finalized) ---- */

static GMutex channels_lock;
static GHashTable *channels;

static gboolean
gst_prima_loop_register (GstPrimaLoop * self)
{
  gchar *name;
  gboolean ok;

  GST_OBJECT_LOCK (self);
  name = g_strdup (self->channel ? self->channel : DEFAULT_CHANNEL);
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&channels_lock);
  if (channels == NULL)
    channels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ok = !g_hash_table_contains (channels, name);
  if (ok)
    g_hash_table_insert (channels, g_strdup (name), self);
  g_mutex_unlock (&channels_lock);

  if (!ok) {
    GST_ELEMENT_ERROR (self, RESOURCE, BUSY, (_("Another primaloop already uses the channel \"%s\"."), name),
        ("set a different channel property on each loop"));
    g_free (name);
    return FALSE;
  }
  GST_DEBUG_OBJECT (self, "registered on channel \"%s\"", name);
  self->registered = name;
  return TRUE;
}

static void
gst_prima_loop_unregister (GstPrimaLoop * self)
{
  if (self->registered == NULL)
    return;
  g_mutex_lock (&channels_lock);
  if (g_hash_table_lookup (channels, self->registered) == self)
    g_hash_table_remove (channels, self->registered);
  g_mutex_unlock (&channels_lock);
  g_clear_pointer (&self->registered, g_free);
}

/**
 * gst_prima_loop_find_channel:
 * @channel: a channel name
 *
 * Returns: (transfer full) (nullable): the loop registered under @channel
 * (loops register when they go to READY), or %NULL.
 */
GstPrimaLoop *
gst_prima_loop_find_channel (const gchar * channel)
{
  GstPrimaLoop *self = NULL;

  g_mutex_lock (&channels_lock);
  if (channels)
    self = g_hash_table_lookup (channels, channel ? channel : DEFAULT_CHANNEL);
  if (self)
    gst_object_ref (self);
  g_mutex_unlock (&channels_lock);
  return self;
}

/* ---- the primafeedback elements of each channel (name -> count), so that
 * a loop with nobody to hand its tokens back says so instead of waiting
 * forever ---- */

static GHashTable *feedbacks;

/**
 * gst_prima_loop_add_feedback:
 * @channel: a channel name
 *
 * A primafeedback element hands tokens back on @channel (it calls this when
 * it goes to PAUSED, and gst_prima_loop_remove_feedback() when it leaves).
 */
void
gst_prima_loop_add_feedback (const gchar * channel)
{
  const gchar *name = channel ? channel : DEFAULT_CHANNEL;

  g_mutex_lock (&channels_lock);
  if (feedbacks == NULL)
    feedbacks = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (feedbacks, g_strdup (name),
      GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (feedbacks, name)) + 1));
  g_mutex_unlock (&channels_lock);
}

void
gst_prima_loop_remove_feedback (const gchar * channel)
{
  const gchar *name = channel ? channel : DEFAULT_CHANNEL;
  gint n;

  g_mutex_lock (&channels_lock);
  n = feedbacks ? GPOINTER_TO_INT (g_hash_table_lookup (feedbacks, name)) : 0;
  if (n > 1)
    g_hash_table_insert (feedbacks, g_strdup (name), GINT_TO_POINTER (n - 1));
  else if (n == 1)
    g_hash_table_remove (feedbacks, name);
  g_mutex_unlock (&channels_lock);
}

static gboolean
gst_prima_loop_has_feedback (const gchar * channel)
{
  gboolean found;

  g_mutex_lock (&channels_lock);
  found = feedbacks && g_hash_table_contains (feedbacks, channel ? channel : DEFAULT_CHANNEL);
  g_mutex_unlock (&channels_lock);
  return found;
}

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
  self->chat = FALSE;
  self->eos_pending = FALSE;
  self->interrupt = FALSE;
  self->n_generated = 0;
  self->n_prompt = 0;
  g_array_set_size (self->answer, 0);
  g_string_truncate (self->tail, 0);
}

static gboolean
gst_prima_loop_open (GstPrimaLoop * self)
{
  gboolean ok;
  gchar *path;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model);
  GST_OBJECT_UNLOCK (self);

  ok = prima_element_open_vocabulary (GST_ELEMENT (self), path, &self->context_model, TRUE, &self->shared,
      &self->file, &self->tok);
  g_free (path);
  if (ok && self->tok == NULL)
    GST_WARNING_OBJECT (self, "no model in the pipeline: end-of-generation tokens and stop strings are not detected");
  return ok;
}

static void
gst_prima_loop_close (GstPrimaLoop * self)
{
  self->tok = NULL;
  self->file = NULL;
  prima_element_release_model (GST_ELEMENT (self), &self->shared);
}

/* Under lock: the turn ends for @reason. Posts the prima-turn message and
 * queues what ends the turn on src; returns the prima-answer event to send
 * upstream (after unlocking) for a chat turn. */
static GstEvent *
gst_prima_loop_end_turn (GstPrimaLoop * self, const gchar * reason)
{
  GstClockTime now = gst_util_get_timestamp ();
  GstEvent *answer = NULL;
  PrimaTurnInfo turn;
  GstMessage *message;

  self->done = TRUE;
  self->interrupt = FALSE;
  if (self->n_generated == 0)
    self->prompt_time = self->generating ? now - self->t_prompt : 0;
  turn.prompt_tokens = self->n_prompt;
  turn.prompt_time = self->prompt_time;
  turn.generated = self->n_generated;
  turn.decode_tokens = MAX (self->n_generated - 1, 0);
  turn.decode_time = self->n_generated > 0 ? now - self->t_first : 0;
  turn.position = self->next_pos;
  turn.context_shifts = self->n_shifts;
  turn.chat = self->chat;
  turn.reason = reason;
  message = prima_message_new_turn (GST_OBJECT (self), &turn);
  GST_DEBUG_OBJECT (self, "end of turn: %" GST_PTR_FORMAT, gst_message_get_structure (message));
  gst_element_post_message (GST_ELEMENT (self), message);

  if (self->chat) {
    GstBuffer *ids = prima_tokens_buffer_new ((const gint32 *) self->answer->data, self->answer->len,
        self->answer_pos, 0, 0);
    answer = prima_event_new_answer (ids, self->next_pos);
    gst_buffer_unref (ids);
    gst_prima_loop_enqueue (self, prima_event_new_end_of_turn (reason));
    if (self->eos_pending)
      gst_prima_loop_enqueue (self, gst_event_new_eos ());
  } else {
    gst_prima_loop_enqueue (self, gst_event_new_eos ());
  }
  self->eos_pending = FALSE;
  return answer;
}

static void
gst_prima_loop_send_answer (GstPrimaLoop * self, GstEvent * answer)
{
  if (answer && !gst_pad_push_event (self->sinkpad, answer))
    GST_DEBUG_OBJECT (self, "nobody upstream took the answer");
}

/* How many positions after n_keep a context shift of a cache that ends at
 * @end discards (halving the rest as often as needed) so that @need more fit
 * in @n_ctx; 0 when no shift makes room. */
static gint
gst_prima_loop_shift_discard (gint end, gint need, gint n_keep, gint n_ctx)
{
  gint total = 0;

  while (end + need >= n_ctx) {
    gint d = (end - n_keep) / 2;
    if (d <= 0)
      return 0;
    total += d;
    end -= d;
  }
  return total;
}

/* Under lock: llama-cli's context shift of a cache that ends at @end (keep
 * n_keep, discard half of the rest, shift the rest down) so that @need more
 * positions fit. Returns the KV events to send downstream, in order, before
 * the next tokens (NULL when no shift makes room), and the shift. */
static GList *
gst_prima_loop_shift (GstPrimaLoop * self, gint end, gint need, gint * n_keep_out, gint * n_discard_out)
{
  gint n_keep, n_discard, keep_prop;
  gboolean shift;
  GList *events = NULL;

  GST_OBJECT_LOCK (self);
  shift = self->context_shift;
  keep_prop = self->n_keep;
  GST_OBJECT_UNLOCK (self);
  if (!shift || self->n_ctx <= 0)
    return NULL;
  n_keep = keep_prop >= 0 ? keep_prop : self->first_prompt;
  n_keep = CLAMP (n_keep, 0, self->n_ctx - 4);
  n_discard = gst_prima_loop_shift_discard (end, need, n_keep, self->n_ctx);
  if (n_discard == 0 && n_keep > 1) {
    /* the kept start leaves no room for the new text (a long first prompt
     * in a small context): keep only the first position (the BOS, as
     * llama-cli's default n_keep) rather than refuse every later message */
    GST_INFO_OBJECT (self, "keeping %d positions leaves no room for %d more: keeping 1", n_keep, need);
    n_keep = 1;
    n_discard = gst_prima_loop_shift_discard (end, need, n_keep, self->n_ctx);
  }
  if (n_discard == 0)
    return NULL;
  events = g_list_append (events, prima_event_new_kv_remove (0, n_keep, n_keep + n_discard));
  events = g_list_append (events, prima_event_new_kv_shift (0, n_keep + n_discard, -1, -n_discard));
  GST_INFO_OBJECT (self, "context shift: keeping %d, discarding %d, the rest moves down", n_keep, n_discard);
  self->next_pos = prima_kv_shifted_position (self->next_pos, n_keep, n_discard);
  self->answer_pos = prima_kv_shifted_position (self->answer_pos, n_keep, n_discard);
  self->n_shifts++;
  *n_keep_out = n_keep;
  *n_discard_out = n_discard;
  return events;
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
  /* an explicit position on the first buffer of a turn places the prompt
   * there (primatokenizer rolls the cache back that way) */
  if (self->prompt->len == 0 && h.pos0 >= 0)
    self->prompt_pos = h.pos0;
  g_array_append_vals (self->prompt, map.data + PRIMA_HEADER_SIZE, h.n_tokens);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  return GST_FLOW_OK;
}

/* End of the user's turn (chat) or of the prompt's stream: the prompt goes
 * out as one batch, or the turn ends at once. */
static void
gst_prima_loop_prompt_done (GstPrimaLoop * self, gboolean chat)
{
  GstEvent *answer = NULL;
  gint n_predict;

  GST_OBJECT_LOCK (self);
  n_predict = self->n_predict;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (self->prompt_pos >= 0) {
    if (self->prompt_pos > self->next_pos)
      GST_WARNING_OBJECT (self, "prompt at position %d after the cache's %d: appending", self->prompt_pos,
          self->next_pos);
    else
      self->next_pos = self->prompt_pos;
  }
  self->generating = FALSE;
  self->done = FALSE;
  self->chat = chat;
  self->interrupt = FALSE;
  self->n_generated = 0;
  self->n_prompt = self->prompt->len;
  self->n_shifts = 0;
  /* the first prompt of a conversation (system prompt, first turn) is what
   * a context shift keeps by default, as llama-cli's n_keep */
  if (self->next_pos == 0)
    self->first_prompt = self->prompt->len;
  self->prompt_time = 0;
  g_array_set_size (self->answer, 0);
  g_string_truncate (self->tail, 0);
  if (self->prompt->len == 0 || n_predict == 0) {
    /* the prompt is not evaluated: the answer event says where the cache
     * ends, so a chat tokenizer sends the text again with the next turn */
    GST_DEBUG_OBJECT (self, "nothing to generate (%u prompt tokens, n-predict %d)", self->prompt->len, n_predict);
    self->n_prompt = 0;
    self->answer_pos = self->next_pos;
    if (chat)
      answer = gst_prima_loop_end_turn (self, "empty");
    else
      gst_prima_loop_enqueue (self, gst_event_new_eos ());
  } else {
    GST_DEBUG_OBJECT (self, "prompt of %u tokens at position %d", self->prompt->len, self->next_pos);
    gst_prima_loop_enqueue (self, prima_tokens_buffer_new ((const gint32 *) self->prompt->data, self->prompt->len,
            self->next_pos, 0, PRIMA_FLAG_PROMPT));
    self->next_pos += self->prompt->len;
    self->answer_pos = self->next_pos;
    self->generating = TRUE;
  }
  g_array_set_size (self->prompt, 0);
  self->prompt_pos = -1;
  g_mutex_unlock (&self->lock);
  gst_prima_loop_send_answer (self, answer);
}

static void gst_prima_loop_interrupt (GstPrimaLoop * self);

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
      g_mutex_lock (&self->lock);
      if (self->prompt->len == 0 && self->generating && !self->done && self->chat) {
        /* the last chat turn is still being answered */
        self->eos_pending = TRUE;
        g_mutex_unlock (&self->lock);
        return TRUE;
      }
      if (self->prompt->len == 0 && (self->chat || self->done)) {
        gst_prima_loop_enqueue (self, gst_event_new_eos ());
        g_mutex_unlock (&self->lock);
        return TRUE;
      }
      g_mutex_unlock (&self->lock);
      gst_prima_loop_prompt_done (self, FALSE);
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
      self->prompt_pos = -1;
      gst_pad_push_event (self->srcpad, event);
      return gst_pad_start_task (self->srcpad, (GstTaskFunction) gst_prima_loop_src_loop, self, NULL);
    default:
      if (prima_event_is_end_of_turn (event)) {
        gst_event_unref (event);
        gst_prima_loop_prompt_done (self, TRUE);
        return TRUE;
      }
      /* barge-in: the user speaks again, so the answer being generated
       * ends after its current token (as prima-interrupt); the event goes on
       * in order, for primaspeechout */
      if (prima_event_is_speech_started (event))
        gst_prima_loop_interrupt (self);
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

/* ---- the feedback: the sampled tokens ---- */

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

/**
 * gst_prima_loop_push_feedback:
 * @self: a #GstPrimaLoop
 * @buf: (transfer full): a tokens buffer holding the sampled token (or,
 *   after speculative decoding's verification, the kept drafts and then it)
 *
 * Hands the sampled tokens to the loop (what primafeedback does): each
 * counts as generated and may end the turn; the last one goes out again on
 * `src` at the next position (the kept drafts are in the cache already).
 *
 * Returns: %GST_FLOW_OK, %GST_FLOW_FLUSHING while the loop flushes, or
 * %GST_FLOW_ERROR for a malformed buffer (the loop posts the error).
 */
GstFlowReturn
gst_prima_loop_push_feedback (GstPrimaLoop * self, GstBuffer * buf)
{
  gboolean ignore_eos;
  const gchar *reason = NULL;
  GstEvent *answer = NULL, *shifted = NULL;
  GList *kv = NULL;
  gchar **stop_strings;
  gint n_predict, n_keep = 0, n_discard = 0;
  GstMapInfo map;
  PrimaHeader h;
  gint32 *tokens;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  if (!prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_TOKENS, &h) || h.n_tokens < 1
      || h.payload_size != h.n_tokens * sizeof (gint32)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed tokens buffer.")),
        ("%" G_GSIZE_FORMAT " bytes of feedback; expected sampled tokens", map.size));
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  tokens = g_memdup2 (map.data + PRIMA_HEADER_SIZE, h.payload_size);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);

  GST_OBJECT_LOCK (self);
  n_predict = self->n_predict;
  ignore_eos = self->ignore_eos;
  stop_strings = self->stop ? g_strdupv (self->stop) : NULL;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    g_strfreev (stop_strings);
    g_free (tokens);
    return GST_FLOW_FLUSHING;
  }
  if (!self->generating || self->done || (h.pos0 >= 0 && h.pos0 != self->next_pos)) {
    GST_DEBUG_OBJECT (self, "dropping token %d at position %d (expecting %d)", tokens[0], h.pos0, self->next_pos);
    goto out;
  }
  /* Several tokens: speculative decoding's kept drafts (already in the
   * cache) and the target's next token; only the last one goes out again. */
  for (guint i = 0; i < h.n_tokens && !reason; i++) {
    gint32 token = tokens[i];
    gboolean last = i + 1 == h.n_tokens;
    if (self->n_generated++ == 0) {
      self->t_first = gst_util_get_timestamp ();
      self->prompt_time = self->t_first - self->t_prompt;
    }
    if (self->interrupt && last) {
      GST_DEBUG_OBJECT (self, "interrupted");
      reason = "interrupted";
    } else if (!ignore_eos && self->tok && prima_tokenizer_is_eog (self->tok, token)) {
      GST_DEBUG_OBJECT (self, "end of generation: token %d", token);
      reason = "end-of-generation";
    } else if (n_predict >= 0 && self->n_generated >= n_predict) {
      GST_DEBUG_OBJECT (self, "generated %d tokens", self->n_generated);
      reason = "n-predict";
    } else if (self->n_ctx > 0 && self->next_pos + 1 >= self->n_ctx
        && self->chat && (kv = gst_prima_loop_shift (self, self->next_pos, 1, &n_keep, &n_discard))) {
      shifted = prima_event_new_kv_shifted (n_keep, n_discard);
      for (GList * l = kv; l; l = l->next)
        gst_prima_loop_enqueue (self, l->data);
      g_list_free (kv);
    } else if (self->n_ctx > 0 && self->next_pos + 1 >= self->n_ctx) {
      GST_INFO_OBJECT (self, "context full (%d positions)", self->n_ctx);
      GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
          (_("The context of %d positions is full: the answer stops here."), self->n_ctx), (NULL));
      reason = "context-full";
    } else if (gst_prima_loop_hits_stop (self, stop_strings, token)) {
      reason = "stop-string";
    }

    if (reason) {
      answer = gst_prima_loop_end_turn (self, reason);
    } else {
      if (last)
        gst_prima_loop_enqueue (self, prima_tokens_buffer_new (&token, 1, self->next_pos, h.seq_id, 0));
      g_array_append_val (self->answer, token);
      self->next_pos++;
    }
  }
out:
  g_mutex_unlock (&self->lock);
  g_strfreev (stop_strings);
  g_free (tokens);
  /* the tokenizer moves its conversation's positions the same way */
  if (shifted && !gst_pad_push_event (self->sinkpad, shifted))
    GST_DEBUG_OBJECT (self, "nobody upstream took the context shift");
  gst_prima_loop_send_answer (self, answer);
  return GST_FLOW_OK;
}

static void
gst_prima_loop_interrupt (GstPrimaLoop * self)
{
  g_mutex_lock (&self->lock);
  if (self->generating && !self->done) {
    GST_DEBUG_OBJECT (self, "interrupt: the turn ends after the token being evaluated");
    self->interrupt = TRUE;
  }
  g_mutex_unlock (&self->lock);
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
    prima_query_parse_context (query, &n_ctx, NULL);
    g_mutex_lock (&self->lock);
    self->n_ctx = n_ctx;
    g_mutex_unlock (&self->lock);
    GST_DEBUG_OBJECT (self, "downstream context: %d positions", n_ctx);
  }
  gst_query_unref (query);
}

/* A prompt that does not fit: an error for a single prompt; a chat turn
 * ends at once with a warning, and the cache stays as it was. */
static gboolean
gst_prima_loop_prompt_too_long (GstPrimaLoop * self, GstBuffer * item, const PrimaHeader * h, gint n_ctx)
{
  GstEvent *answer = NULL;
  gboolean chat;

  g_mutex_lock (&self->lock);
  chat = self->chat;
  if (chat) {
    self->next_pos = h->pos0;
    self->answer_pos = h->pos0;
    self->n_prompt = 0;
    /* the tokenizer drops the message, so the next one is answered */
    answer = prima_event_answer_set_refused (gst_prima_loop_end_turn (self, "context-full"));
  }
  g_mutex_unlock (&self->lock);
  gst_buffer_unref (item);

  if (!chat) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("The prompt has %u tokens, more than the context of %d."),
            h->n_tokens, n_ctx), ("at position %d", h->pos0));
    return FALSE;
  }
  GST_ELEMENT_WARNING (self, RESOURCE, NO_SPACE_LEFT,
      (_("The message does not fit in the context of %d positions (%d used, %u more): it is not answered."),
          n_ctx, h->pos0, h->n_tokens), (NULL));
  gst_prima_loop_send_answer (self, answer);
  return TRUE;
}

static void
gst_prima_loop_src_loop (GstPrimaLoop * self)
{
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean need_segment;
  gpointer item;
  gint n_ctx;
  PrimaHeader h;

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

  gst_buffer_extract (item, 0, &h, sizeof h);
  if (h.flags & PRIMA_FLAG_PROMPT) {
    g_mutex_lock (&self->lock);
    n_ctx = self->n_ctx;
    self->t_prompt = gst_util_get_timestamp ();
    g_mutex_unlock (&self->lock);
    if (n_ctx > 0 && (gint64) h.pos0 + h.n_tokens >= n_ctx && h.pos0 >= 0) {
      gint n_keep = 0, n_discard = 0;
      GList *kv = NULL;
      g_mutex_lock (&self->lock);
      if (self->chat)
        kv = gst_prima_loop_shift (self, h.pos0, (gint) h.n_tokens, &n_keep, &n_discard);
      g_mutex_unlock (&self->lock);
      if (kv) {
        /* the prompt goes in after the shift, at its new position */
        for (GList * l = kv; l; l = l->next)
          gst_pad_push_event (self->srcpad, l->data);
        g_list_free (kv);
        item = gst_buffer_make_writable (GST_BUFFER (item));
        h.pos0 -= n_discard;
        gst_buffer_fill (GST_BUFFER (item), 0, &h, sizeof h);
        GST_BUFFER_OFFSET (GST_BUFFER (item)) = h.pos0;
        if (!gst_pad_push_event (self->sinkpad, prima_event_new_kv_shifted (n_keep, n_discard)))
          GST_DEBUG_OBJECT (self, "nobody upstream took the context shift");
      }
    }
    if (n_ctx > 0 && (gint64) h.pos0 + h.n_tokens >= n_ctx) {
      if (gst_prima_loop_prompt_too_long (self, item, &h, n_ctx))
        return;
      ret = GST_FLOW_ERROR;
      goto error;
    }
  }
  ret = gst_pad_push (self->srcpad, GST_BUFFER (item));
  if (ret != GST_FLOW_OK)
    goto error;
  /* the answer needs its sampled tokens back: without a primafeedback on
   * the channel the turn would wait forever (checked after the push, so a
   * feedback on another channel reports its own error first) */
  if ((h.flags & PRIMA_FLAG_PROMPT) && self->registered && !gst_prima_loop_has_feedback (self->registered)) {
    GST_ELEMENT_ERROR (self, CORE, PAD,
        (_("No primafeedback hands the sampled tokens back to the primaloop of the channel \"%s\"."),
            self->registered), ("add \"t. ! primafeedback channel=%s\" after the sampler's tee", self->registered));
    ret = GST_FLOW_ERROR;
    goto error;
  }
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

  if (prima_event_is_interrupt (event)) {
    gst_prima_loop_interrupt (self);
    gst_event_unref (event);
    return TRUE;
  }
  /* upstream events go to the prompt's side only */
  return gst_pad_push_event (self->sinkpad, event);
}

static gboolean
gst_prima_loop_send_event (GstElement * element, GstEvent * event)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (element);

  if (prima_event_is_interrupt (event)) {
    gst_prima_loop_interrupt (self);
    gst_event_unref (event);
    return TRUE;
  }
  return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);
}

static gboolean
gst_prima_loop_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (parent);

  if (prima_element_model_query (GST_ELEMENT (self), query, &self->shared, &self->model, &self->context_model))
    return TRUE;
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

  if (prima_element_model_query (GST_ELEMENT (self), query, &self->shared, &self->model, &self->context_model))
    return TRUE;
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

static void
gst_prima_loop_set_context (GstElement * element, GstContext * context)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (element);

  prima_element_model_set_context (element, context, &self->context_model);
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

static GstStateChangeReturn
gst_prima_loop_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaLoop *self = GST_PRIMA_LOOP (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_prima_loop_register (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!gst_prima_loop_open (self))
        return GST_STATE_CHANGE_FAILURE;
      g_array_set_size (self->prompt, 0);
      self->prompt_pos = -1;
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    if (transition == GST_STATE_CHANGE_NULL_TO_READY)
      gst_prima_loop_unregister (self);
    return ret;
  }

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      g_mutex_lock (&self->lock);
      gst_prima_loop_clear (self);
      g_mutex_unlock (&self->lock);
      g_array_set_size (self->prompt, 0);
      gst_prima_loop_close (self);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_prima_loop_unregister (self);
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
    case PROP_CONTEXT_SHIFT:
      self->context_shift = g_value_get_boolean (value);
      break;
    case PROP_N_KEEP:
      self->n_keep = g_value_get_int (value);
      break;
    case PROP_CHANNEL:
      g_free (self->channel);
      self->channel = g_value_dup_string (value);
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
    case PROP_CONTEXT_SHIFT:
      g_value_set_boolean (value, self->context_shift);
      break;
    case PROP_N_KEEP:
      g_value_set_int (value, self->n_keep);
      break;
    case PROP_CHANNEL:
      g_value_set_string (value, self->channel);
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

  gst_prima_loop_unregister (self);
  gst_prima_loop_clear (self);
  gst_prima_loop_close (self);
  g_array_free (self->prompt, TRUE);
  g_array_free (self->answer, TRUE);
  g_string_free (self->tail, TRUE);
  g_strfreev (self->stop);
  g_free (self->model);
  g_clear_pointer (&self->context_model, prima_shared_model_unref);
  g_free (self->channel);
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
   * Tokens to generate after each prompt; -1 generates until an
   * end-of-generation token or the context is full.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_N_PREDICT,
      g_param_spec_int ("n-predict", "Tokens to predict",
          "Tokens to generate per turn (-1 = until end-of-generation or a full context)", -1, G_MAXINT,
          DEFAULT_N_PREDICT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstPrimaLoop:model:
   *
   * Path of the GGUF model whose tokenizer gives the end-of-generation
   * tokens and the text matched against #GstPrimaLoop:stop. Without a
   * model (here or in the chain) neither is detected.
   * Unset (since 0.2): the model of the chain, from a linked element that
   * names one or from the pipeline's "prima.model" context (docs/elements.md);
   * a model that differs from the chain's is an error naming both.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Path of the GGUF model file, for its end-of-generation tokens (unset: the model of the pipeline)", NULL,
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
  /**
   * GstPrimaLoop:channel:
   *
   * Name under which the loop takes the sampled tokens that primafeedback
   * elements with the same #GstPrimaFeedback:channel hand over. Each loop in
   * a process needs its own channel.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CHANNEL,
      g_param_spec_string ("channel", "Channel", "Name of the feedback channel (shared with primafeedback)",
          DEFAULT_CHANNEL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstPrimaLoop:context-shift:
   *
   * In a chat, a full context does not end the answer: llama-cli's context
   * shift keeps the first #GstPrimaLoop:n-keep positions, drops half of the
   * rest (`prima-kv-remove`), moves the later ones down (`prima-kv-shift`,
   * the layers re-rotate their cached keys) and goes on; the tokenizer
   * upstream hears of it through `prima-kv-shifted`. A prompt that does not
   * fit shifts the same way first. Where keeping #GstPrimaLoop:n-keep
   * positions leaves no room, the shift keeps only the first position (the
   * BOS), as llama-cli's default does.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CONTEXT_SHIFT,
      g_param_spec_boolean ("context-shift", "Context shift", "Chat: shift the context when it is full",
          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstPrimaLoop:n-keep:
   *
   * Positions a context shift keeps at the start; -1 keeps the first prompt
   * of the conversation (the system prompt and first turn).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_N_KEEP,
      g_param_spec_int ("n-keep", "Keep", "Positions a context shift keeps (-1 = the first prompt)", -1,
          G_MAXINT, -1, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_loop_change_state);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_prima_loop_set_context);
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_prima_loop_send_event);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
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
  GST_PAD_SET_ACCEPT_TEMPLATE (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_activatemode_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_loop_src_activate_mode));
  gst_pad_set_event_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_loop_src_event));
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_loop_src_query));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->n_predict = DEFAULT_N_PREDICT;
  self->ignore_eos = DEFAULT_IGNORE_EOS;
  self->n_keep = -1;
  self->channel = g_strdup (DEFAULT_CHANNEL);
  self->prompt = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->prompt_pos = -1;
  self->answer = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->tail = g_string_new (NULL);
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->queue);
}
