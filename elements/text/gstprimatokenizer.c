/* gst-prima: primatokenizer, text to token ids.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primatokenizer
 * @title: primatokenizer
 *
 * Turns UTF-8 text into the token ids of a GGUF model's tokenizer
 * (SentencePiece "llama" or byte-level BPE "gpt2", built from the file's
 * tokenizer.ggml.* metadata). The text of a stream is one prompt: it is
 * collected until end-of-stream and then tokenized as a whole, so that a
 * word split over two input buffers still gives the tokens of the whole word.
 * Input without caps (fdsrc, filesrc) is taken as UTF-8 text.
 * One tokens buffer (position -1: "append", flagged as prompt) is pushed
 * before the end-of-stream.
 *
 * With #GstPrimaTokenizer:chat the element holds a conversation instead:
 * each line of input text (up to a newline; the rest at end-of-stream; empty
 * lines are skipped) is a user turn. The conversation (an optional
 * #GstPrimaTokenizer:system-prompt, the user turns and the answers) is
 * rendered with the model's chat template (`tokenizer.chat_template`,
 * recognised per family; #GstPrimaTokenizer:chat-template names one
 * instead), and only the tokens of the text that is not in the KV cache yet
 * are pushed, followed by a `prima-end-of-turn` event. The answer comes back
 * from primaloop in a `prima-answer` upstream event; until it has, the next
 * line waits (the streaming thread blocks), so a whole conversation can be
 * piped in. Where a template rewrites earlier text (e.g. Qwen 3 drops the
 * thinking of earlier answers), the buffer carries the position to
 * re-evaluate from. A `prima-kv-clear` event or a flush starts a new
 * conversation. A line that is not valid UTF-8 is refused with a warning
 * (its turn ends at once, empty), and a message that the loop refuses (it
 * does not fit in the context) leaves the conversation: the chat goes on.
 *
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! fakesink dump=true
 * ]| prints the tokens buffer of the prompt (a 32-byte header, then the ids 1 403 407 261 378).
 * |[
 * printf 'Hello\nHow are you?\n' | gst-launch-1.0 -q $(grep -v '^#' pipelines/chat.pipeline)
 * ]| chats two turns with the embedded model (from the source tree).
 *
 * Since: 0.1
 */

#include "gstprimatokenizer.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "prima-element.h"
#include "gguf.h"
#include "tokenizer.h"
#include "chat-template.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_tokenizer_debug);
#define GST_CAT_DEFAULT gst_prima_tokenizer_debug

#define DEFAULT_ADD_SPECIAL TRUE
#define DEFAULT_PARSE_SPECIAL TRUE
#define DEFAULT_CHAT FALSE

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_ADD_SPECIAL,
  PROP_PARSE_SPECIAL,
  PROP_CHAT,
  PROP_CHAT_TEMPLATE,
  PROP_SYSTEM_PROMPT,
};

/* A stretch of the cached text that went into the KV cache as a unit (a
 * rendered prompt or an answer): where the cache can be rolled back to. */
typedef struct
{
  gsize offset;                 /* in cached */
  gint pos;                     /* its first position */
} Chunk;

struct _GstPrimaTokenizer
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* properties, under the object lock */
  gchar *model;
  gboolean add_special;
  gboolean parse_special;
  gboolean chat;
  gchar *chat_template;
  gchar *system_prompt;

  /* from READY to PAUSED */
  PrimaSharedModel *shared;      /* in use from READY->PAUSED to PAUSED->READY */
  PrimaSharedModel *context_model;       /* from the pipeline's "prima.model" context */
  const gguf_file *file;        /* owned by shared */
  const prima_tokenizer *tok;
  prima_chat_template_kind kind;
  gchar *bos_text, *eos_text;

  /* streaming thread */
  GString *text;
  /* the conversation (chat mode): role and content, in pairs */
  GPtrArray *messages;
  GString *cached;              /* the text in the KV cache */
  GArray *chunks;               /* Chunk */
  gint position;                /* next position in the KV cache */
  gboolean started;             /* the first turn went out */

  /* under lock: the answer to the last turn */
  GMutex lock;
  GCond cond;
  gboolean awaiting;
  gboolean flushing;
  GArray *answer;
  gint answer_pos;
  gint answer_end;
  gboolean refused;             /* the message did not fit: drop it */
  gboolean skip_answer;         /* the turn was an empty one for a refused line */
  GArray *shifts;               /* context shifts not applied yet: n_keep, n_discard pairs */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TEXT));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

#define gst_prima_tokenizer_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaTokenizer, gst_prima_tokenizer, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_prima_tokenizer_debug, "primatokenizer", 0, "prima tokenizer"));
GST_ELEMENT_REGISTER_DEFINE (primatokenizer, "primatokenizer", GST_RANK_NONE, GST_TYPE_PRIMA_TOKENIZER);

/* The chat template and the BOS/EOS texts it uses. */
static gboolean
gst_prima_tokenizer_open_chat (GstPrimaTokenizer * self)
{
  gchar *name, *note = NULL;
  gboolean chat;
  gint32 id;

  GST_OBJECT_LOCK (self);
  chat = self->chat;
  name = g_strdup (self->chat_template);
  GST_OBJECT_UNLOCK (self);

  if (!chat) {
    g_free (name);
    return TRUE;
  }
  self->kind = prima_chat_template_resolve (name && *name ? name : NULL,
      gguf_get_str (self->file, "tokenizer.chat_template"), &note);
  if (self->kind == PRIMA_CHAT_TEMPLATE_UNKNOWN) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("Unknown chat template \"%s\"."), name),
        ("%s", note ? note : ""));
    g_free (note);
    g_free (name);
    return FALSE;
  }
  if (note) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("%s", note), (NULL));
    g_free (note);
  }
  GST_INFO_OBJECT (self, "chat template %s", prima_chat_template_name (self->kind));
  g_free (name);
  id = prima_tokenizer_bos (self->tok);
  self->bos_text = id >= 0 ? g_strdup (prima_tokenizer_token_text (self->tok, id, NULL)) : NULL;
  id = prima_tokenizer_eos (self->tok);
  self->eos_text = id >= 0 ? g_strdup (prima_tokenizer_token_text (self->tok, id, NULL)) : NULL;
  return TRUE;
}

static gboolean
gst_prima_tokenizer_open (GstPrimaTokenizer * self)
{
  gchar *path;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model);
  GST_OBJECT_UNLOCK (self);

  if (!prima_element_open_vocabulary (GST_ELEMENT (self), path, &self->context_model, FALSE, &self->shared,
          &self->file, &self->tok)) {
    g_free (path);
    return FALSE;
  }
  g_free (path);
  return gst_prima_tokenizer_open_chat (self);
}

static void
gst_prima_tokenizer_close (GstPrimaTokenizer * self)
{
  self->tok = NULL;
  self->file = NULL;
  prima_element_release_model (GST_ELEMENT (self), &self->shared);
  g_clear_pointer (&self->bos_text, g_free);
  g_clear_pointer (&self->eos_text, g_free);
}

/* A new conversation: nothing in the cache, no answer awaited. */
static void
gst_prima_tokenizer_reset (GstPrimaTokenizer * self)
{
  g_ptr_array_set_size (self->messages, 0);
  g_string_truncate (self->cached, 0);
  g_array_set_size (self->chunks, 0);
  self->position = 0;
  self->started = FALSE;
  g_mutex_lock (&self->lock);
  self->awaiting = FALSE;
  self->refused = FALSE;
  self->skip_answer = FALSE;
  g_array_set_size (self->answer, 0);
  g_array_set_size (self->shifts, 0);
  g_mutex_unlock (&self->lock);
}

static void
gst_prima_tokenizer_set_flushing (GstPrimaTokenizer * self, gboolean flushing)
{
  g_mutex_lock (&self->lock);
  self->flushing = flushing;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static void
gst_prima_tokenizer_add_message (GstPrimaTokenizer * self, const gchar * role, gchar * content)
{
  g_ptr_array_add (self->messages, g_strdup (role));
  g_ptr_array_add (self->messages, content);
}

static gboolean gst_prima_tokenizer_ensure_caps (GstPrimaTokenizer * self);

/* Before the first data on src: stream-start, caps and a segment, whatever
 * upstream sent (an empty input may end before its segment). */
static gboolean
gst_prima_tokenizer_ensure_events (GstPrimaTokenizer * self)
{
  GstEvent *event;

  event = gst_pad_get_sticky_event (self->srcpad, GST_EVENT_STREAM_START, 0);
  if (event)
    gst_event_unref (event);
  else {
    gchar *id = gst_pad_create_stream_id (self->srcpad, GST_ELEMENT (self), NULL);
    gst_pad_push_event (self->srcpad, gst_event_new_stream_start (id));
    g_free (id);
  }
  if (!gst_prima_tokenizer_ensure_caps (self))
    return FALSE;
  event = gst_pad_get_sticky_event (self->srcpad, GST_EVENT_SEGMENT, 0);
  if (event)
    gst_event_unref (event);
  else {
    GstSegment segment;
    gst_segment_init (&segment, GST_FORMAT_TIME);
    gst_pad_push_event (self->srcpad, gst_event_new_segment (&segment));
  }
  return TRUE;
}

/* Waits for the answer to the previous turn and adds it to the
 * conversation. */
static GstFlowReturn
gst_prima_tokenizer_take_answer (GstPrimaTokenizer * self)
{
  GString *content;
  gboolean refused;
  gint pos0, end;

  g_mutex_lock (&self->lock);
  while (self->awaiting && !self->flushing)
    g_cond_wait (&self->cond, &self->lock);
  if (self->flushing) {
    g_mutex_unlock (&self->lock);
    return GST_FLOW_FLUSHING;
  }
  if (self->skip_answer) {
    /* the empty turn of a refused line: nothing to add */
    self->skip_answer = FALSE;
    self->refused = FALSE;
    g_array_set_size (self->answer, 0);
    g_mutex_unlock (&self->lock);
    return GST_FLOW_OK;
  }
  if (!self->started) {
    g_mutex_unlock (&self->lock);
    return GST_FLOW_OK;
  }
  content = g_string_new (NULL);
  for (guint i = 0; i < self->answer->len; i++)
    prima_token_to_piece (self->tok, g_array_index (self->answer, gint32, i), TRUE, content);
  pos0 = self->answer_pos;
  end = self->answer_end;
  refused = self->refused;
  self->refused = FALSE;
  g_array_set_size (self->answer, 0);
  /* the loop shifted the context during the turn: the cached text keeps
   * its place in the conversation, its positions move as the cache's did */
  for (guint i = 0; i + 1 < self->shifts->len; i += 2) {
    gint k = g_array_index (self->shifts, gint, i), d = g_array_index (self->shifts, gint, i + 1);
    self->position = prima_kv_shifted_position (self->position, k, d);
    for (guint j = 0; j < self->chunks->len; j++) {
      Chunk *c = &g_array_index (self->chunks, Chunk, j);
      c->pos = prima_kv_shifted_position (c->pos, k, d);
    }
    GST_DEBUG_OBJECT (self, "context shift: kept %d, discarded %d; the cache ends at %d", k, d, self->position);
  }
  g_array_set_size (self->shifts, 0);
  g_mutex_unlock (&self->lock);

  if (pos0 != self->position) {
    /* the loop did not evaluate all of the last prompt (it did not fit, or
     * n-predict is 0): forget the cache after the last chunk that starts
     * at or before where the answer starts */
    guint i = self->chunks->len;
    while (i > 0 && g_array_index (self->chunks, Chunk, i - 1).pos > pos0)
      i--;
    GST_DEBUG_OBJECT (self, "the answer starts at %d, not %d: rolling back", pos0, self->position);
    if (i == 0) {
      g_string_truncate (self->cached, 0);
      g_array_set_size (self->chunks, 0);
      self->position = 0;
      self->started = FALSE;
    } else {
      Chunk *c = &g_array_index (self->chunks, Chunk, i - 1);
      g_string_truncate (self->cached, c->offset);
      self->position = c->pos;
      g_array_set_size (self->chunks, i - 1);
      /* back to an empty cache: the next prompt starts with BOS again */
      if (self->position == 0)
        self->started = FALSE;
    }
  } else if (end > pos0) {
    Chunk c = { self->cached->len, pos0 };
    g_array_append_val (self->chunks, c);
    g_string_append_len (self->cached, content->str, content->len);
    self->position = end;
  }
  if (refused) {
    /* the user's message did not fit in the context: it leaves the
     * conversation, which goes on as it was before it */
    GST_DEBUG_OBJECT (self, "the last message was refused: dropping it");
    if (self->messages->len >= 2)
      g_ptr_array_set_size (self->messages, self->messages->len - 2);
    g_string_free (content, TRUE);
    return GST_FLOW_OK;
  }
  gst_prima_tokenizer_add_message (self, "assistant", g_string_free (content, FALSE));
  return GST_FLOW_OK;
}

/* One user turn: render the conversation, push the tokens of the text that
 * is not in the cache yet, then prima-end-of-turn. */
static GstFlowReturn
gst_prima_tokenizer_chat_turn (GstPrimaTokenizer * self, const gchar * line, gsize len)
{
  prima_chat_render_options opts = {.add_generation_prompt = TRUE };
  GPtrArray *msgs;
  GstFlowReturn ret;
  gchar *delta, *system;
  gsize keep = 0;
  gint pos0 = -1;
  GArray *ids;

  ret = gst_prima_tokenizer_take_answer (self);
  if (ret != GST_FLOW_OK)
    return ret;
  if (!g_utf8_validate_len (line, len, NULL)) {
    /* one bad line does not end the chat: it is refused, and its turn ends
     * at once (empty) so that an application waiting for the end of the
     * turn goes on */
    GST_ELEMENT_WARNING (self, STREAM, DECODE, (_("The message is not valid UTF-8 text: it is not answered.")),
        ("%" G_GSIZE_FORMAT " bytes of input", len));
    g_mutex_lock (&self->lock);
    self->awaiting = TRUE;
    self->skip_answer = TRUE;
    g_mutex_unlock (&self->lock);
    if (!gst_prima_tokenizer_ensure_events (self))
      return GST_FLOW_NOT_NEGOTIATED;
    if (!gst_pad_push_event (self->srcpad, prima_event_new_end_of_turn (NULL)))
      return GST_FLOW_FLUSHING;
    return GST_FLOW_OK;
  }

  if (self->messages->len == 0) {
    GST_OBJECT_LOCK (self);
    system = g_strdup (self->system_prompt);
    GST_OBJECT_UNLOCK (self);
    if (system && *system)
      gst_prima_tokenizer_add_message (self, "system", system);
    else
      g_free (system);
  }
  gst_prima_tokenizer_add_message (self, "user", g_strndup (line, len));

  msgs = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->messages->len; i += 2) {
    prima_chat_message *m = g_new (prima_chat_message, 1);
    m->role = g_ptr_array_index (self->messages, i);
    m->content = g_ptr_array_index (self->messages, i + 1);
    g_ptr_array_add (msgs, m);
  }
  opts.bos_text = self->bos_text;
  opts.eos_text = self->eos_text;
  {
    prima_chat_message *flat = g_new (prima_chat_message, msgs->len);
    for (guint i = 0; i < msgs->len; i++)
      flat[i] = *(prima_chat_message *) g_ptr_array_index (msgs, i);
    delta = prima_chat_template_render_continue (self->kind, flat, msgs->len, &opts, self->cached->str, &keep);
    g_free (flat);
  }
  g_ptr_array_unref (msgs);

  if (keep < self->cached->len) {
    /* the template rewrote text in the cache: go back to the last chunk
     * that is still intact and send everything after it again */
    guint i = self->chunks->len;
    Chunk c = { 0, 0 };
    gchar *full;
    while (i > 0 && g_array_index (self->chunks, Chunk, i - 1).offset > keep)
      i--;
    if (i > 0)
      c = g_array_index (self->chunks, Chunk, i - 1);
    g_array_set_size (self->chunks, i > 0 ? i - 1 : 0);
    full = g_strconcat (self->cached->str + c.offset, "", NULL);
    full[keep - c.offset] = '\0';
    GST_DEBUG_OBJECT (self, "the template changed the cached text after byte %" G_GSIZE_FORMAT
        ": again from position %d", keep, c.pos);
    {
      gchar *tmp = g_strconcat (full, delta, NULL);
      g_free (delta);
      delta = tmp;
    }
    g_free (full);
    g_string_truncate (self->cached, c.offset);
    self->position = pos0 = c.pos;
    if (c.pos == 0)
      self->started = FALSE;
  }

  ids = prima_tokenize (self->tok, delta, -1, FALSE, TRUE);
  if (!self->started)
    prima_tokenizer_prepend_bos (self->tok, ids);
  GST_DEBUG_OBJECT (self, "turn: %" G_GSIZE_FORMAT " new bytes -> %u tokens at position %d", strlen (delta),
      ids->len, self->position);
  {
    Chunk c = { self->cached->len, self->position };
    g_array_append_val (self->chunks, c);
  }
  g_string_append (self->cached, delta);
  g_free (delta);
  self->position += ids->len;
  self->started = TRUE;

  g_mutex_lock (&self->lock);
  self->awaiting = TRUE;
  g_mutex_unlock (&self->lock);

  ret = GST_FLOW_OK;
  if (!gst_prima_tokenizer_ensure_events (self))
    ret = GST_FLOW_NOT_NEGOTIATED;
  else if (ids->len > 0)
    ret = gst_pad_push (self->srcpad, prima_tokens_buffer_new ((const gint32 *) ids->data, ids->len, pos0, 0,
            PRIMA_FLAG_PROMPT));
  g_array_free (ids, TRUE);
  if (ret == GST_FLOW_OK && !gst_pad_push_event (self->srcpad, prima_event_new_end_of_turn (NULL)))
    ret = GST_FLOW_FLUSHING;
  return ret;
}

/* Every complete line of the collected text is a turn (at end-of-stream
 * also the rest). */
static GstFlowReturn
gst_prima_tokenizer_chat_lines (GstPrimaTokenizer * self, gboolean at_eos)
{
  GstFlowReturn ret = GST_FLOW_OK;

  while (ret == GST_FLOW_OK && self->text->len > 0) {
    gchar *nl = memchr (self->text->str, '\n', self->text->len);
    gsize len = nl ? (gsize) (nl - self->text->str) : self->text->len;
    gchar *line;

    if (nl == NULL && !at_eos)
      break;
    line = g_strndup (self->text->str, len);
    g_string_erase (self->text, 0, nl ? len + 1 : len);
    g_strstrip (line);
    if (*line)
      ret = gst_prima_tokenizer_chat_turn (self, line, strlen (line));
    g_free (line);
  }
  return ret;
}

/* Tokenizes the collected text and pushes it as one buffer. */
static GstFlowReturn
gst_prima_tokenizer_drain (GstPrimaTokenizer * self)
{
  gboolean add_special, parse_special;
  GstFlowReturn ret = GST_FLOW_OK;
  GArray *ids;

  if (self->tok == NULL)
    return GST_FLOW_FLUSHING;

  GST_OBJECT_LOCK (self);
  add_special = self->add_special;
  parse_special = self->parse_special;
  GST_OBJECT_UNLOCK (self);

  if (!g_utf8_validate_len (self->text->str, self->text->len, NULL)) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, (_("The text is not valid UTF-8.")),
        ("%" G_GSIZE_FORMAT " bytes of input", self->text->len));
    g_string_truncate (self->text, 0);
    return GST_FLOW_ERROR;
  }

  ids = prima_tokenize (self->tok, self->text->str, self->text->len, add_special, parse_special);
  GST_DEBUG_OBJECT (self, "%" G_GSIZE_FORMAT " bytes -> %u tokens", self->text->len, ids->len);
  g_string_truncate (self->text, 0);
  /* an empty input (no buffer, maybe no segment) still gives the BOS: the
   * stream's events go first */
  if (!gst_prima_tokenizer_ensure_events (self))
    ret = GST_FLOW_NOT_NEGOTIATED;
  else if (ids->len > 0)
    ret = gst_pad_push (self->srcpad, prima_tokens_buffer_new ((const gint32 *) ids->data, ids->len, -1, 0,
            PRIMA_FLAG_PROMPT));
  g_array_free (ids, TRUE);
  return ret;
}


static GstFlowReturn
gst_prima_tokenizer_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaTokenizer *self = GST_PRIMA_TOKENIZER (parent);
  GstMapInfo map;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (self, RESOURCE, READ, (NULL), ("could not map the input buffer"));
    return GST_FLOW_ERROR;
  }
  g_string_append_len (self->text, (const gchar *) map.data, map.size);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);
  if (self->kind != PRIMA_CHAT_TEMPLATE_UNKNOWN) {
    if (!gst_prima_tokenizer_ensure_events (self))
      return GST_FLOW_NOT_NEGOTIATED;
    return gst_prima_tokenizer_chat_lines (self, FALSE);
  }
  return GST_FLOW_OK;
}

static gboolean
gst_prima_tokenizer_ensure_caps (GstPrimaTokenizer * self)
{
  GstCaps *caps;
  gboolean ret;

  if (gst_pad_has_current_caps (self->srcpad))
    return TRUE;
  caps = gst_static_pad_template_get_caps (&src_template);
  ret = gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  return ret;
}

static gboolean
gst_prima_tokenizer_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaTokenizer *self = GST_PRIMA_TOKENIZER (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      /* the template already checked that it is UTF-8 text */
      gst_event_unref (event);
      return gst_prima_tokenizer_ensure_caps (self);
    case GST_EVENT_SEGMENT:{
      /* a byte segment of the text says nothing about tokens: ours is a
       * fresh one; caps go first (a source like fdsrc sends none) */
      GstSegment segment;
      gst_event_unref (event);
      gst_prima_tokenizer_ensure_caps (self);
      gst_segment_init (&segment, GST_FORMAT_TIME);
      return gst_pad_push_event (self->srcpad, gst_event_new_segment (&segment));
    }
    case GST_EVENT_EOS:{
      GstFlowReturn ret = self->kind != PRIMA_CHAT_TEMPLATE_UNKNOWN
          ? gst_prima_tokenizer_chat_lines (self, TRUE) : gst_prima_tokenizer_drain (self);
      if (ret < GST_FLOW_EOS && ret != GST_FLOW_NOT_LINKED)
        GST_ELEMENT_FLOW_ERROR (self, ret);
      break;
    }
    case GST_EVENT_FLUSH_START:
      gst_prima_tokenizer_set_flushing (self, TRUE);
      break;
    case GST_EVENT_FLUSH_STOP:
      g_string_truncate (self->text, 0);
      gst_prima_tokenizer_reset (self);
      gst_prima_tokenizer_set_flushing (self, FALSE);
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      if (prima_event_is_kv_clear (event))
        gst_prima_tokenizer_reset (self);
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_prima_tokenizer_src_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaTokenizer *self = GST_PRIMA_TOKENIZER (parent);
  gint k[2] = { 0, 0 };

  if (prima_event_parse_kv_shifted (event, &k[0], &k[1])) {
    g_mutex_lock (&self->lock);
    g_array_append_vals (self->shifts, k, 2);
    g_mutex_unlock (&self->lock);
    gst_event_unref (event);
    return TRUE;
  }
  if (prima_event_is_answer (event)) {
    GstBuffer *ids = NULL;
    gint position = -1;
    gboolean refused = FALSE;
    GstMapInfo map;
    PrimaHeader h;

    prima_event_parse_answer (event, &ids, &position, &refused);
    g_mutex_lock (&self->lock);
    g_array_set_size (self->answer, 0);
    self->answer_pos = position;
    self->answer_end = position;
    self->refused = refused;
    if (ids && gst_buffer_map (ids, &map, GST_MAP_READ)) {
      if (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_TOKENS, &h)
          && h.payload_size == h.n_tokens * sizeof (gint32)) {
        g_array_append_vals (self->answer, map.data + PRIMA_HEADER_SIZE, h.n_tokens);
        if (h.pos0 >= 0)
          self->answer_pos = h.pos0;
      }
      gst_buffer_unmap (ids, &map);
    }
    GST_DEBUG_OBJECT (self, "answer of %u tokens at position %d, cache ends at %d", self->answer->len,
        self->answer_pos, position);
    self->awaiting = FALSE;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    gst_clear_buffer (&ids);
    gst_event_unref (event);
    return TRUE;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_prima_tokenizer_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstPrimaTokenizer *self = GST_PRIMA_TOKENIZER (parent);

  if (prima_element_model_query (GST_ELEMENT (self), query, &self->shared, &self->model, &self->context_model))
    return TRUE;
  return gst_pad_query_default (pad, parent, query);
}

static void
gst_prima_tokenizer_set_context (GstElement * element, GstContext * context)
{
  GstPrimaTokenizer *self = GST_PRIMA_TOKENIZER (element);

  prima_element_model_set_context (element, context, &self->context_model);
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

static GstStateChangeReturn
gst_prima_tokenizer_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaTokenizer *self = GST_PRIMA_TOKENIZER (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      self->kind = PRIMA_CHAT_TEMPLATE_UNKNOWN;
      if (!gst_prima_tokenizer_open (self)) {
        gst_prima_tokenizer_close (self);
        return GST_STATE_CHANGE_FAILURE;
      }
      g_string_truncate (self->text, 0);
      gst_prima_tokenizer_reset (self);
      gst_prima_tokenizer_set_flushing (self, FALSE);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* a turn waiting for its answer gives up */
      gst_prima_tokenizer_set_flushing (self, TRUE);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_prima_tokenizer_close (self);
      self->kind = PRIMA_CHAT_TEMPLATE_UNKNOWN;
      g_string_truncate (self->text, 0);
      gst_prima_tokenizer_reset (self);
      break;
    default:
      break;
  }
  return ret;
}

static void
gst_prima_tokenizer_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaTokenizer *self = GST_PRIMA_TOKENIZER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model);
      self->model = g_value_dup_string (value);
      break;
    case PROP_ADD_SPECIAL:
      self->add_special = g_value_get_boolean (value);
      break;
    case PROP_PARSE_SPECIAL:
      self->parse_special = g_value_get_boolean (value);
      break;
    case PROP_CHAT:
      self->chat = g_value_get_boolean (value);
      break;
    case PROP_CHAT_TEMPLATE:
      g_free (self->chat_template);
      self->chat_template = g_value_dup_string (value);
      break;
    case PROP_SYSTEM_PROMPT:
      g_free (self->system_prompt);
      self->system_prompt = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_tokenizer_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaTokenizer *self = GST_PRIMA_TOKENIZER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_ADD_SPECIAL:
      g_value_set_boolean (value, self->add_special);
      break;
    case PROP_PARSE_SPECIAL:
      g_value_set_boolean (value, self->parse_special);
      break;
    case PROP_CHAT:
      g_value_set_boolean (value, self->chat);
      break;
    case PROP_CHAT_TEMPLATE:
      g_value_set_string (value, self->chat_template);
      break;
    case PROP_SYSTEM_PROMPT:
      g_value_set_string (value, self->system_prompt);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_tokenizer_finalize (GObject * object)
{
  GstPrimaTokenizer *self = GST_PRIMA_TOKENIZER (object);

  gst_prima_tokenizer_close (self);
  g_string_free (self->text, TRUE);
  g_ptr_array_unref (self->messages);
  g_string_free (self->cached, TRUE);
  g_array_free (self->chunks, TRUE);
  g_array_free (self->answer, TRUE);
  g_array_free (self->shifts, TRUE);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self->chat_template);
  g_free (self->system_prompt);
  g_free (self->model);
  g_clear_pointer (&self->context_model, prima_shared_model_unref);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_prima_tokenizer_class_init (GstPrimaTokenizerClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_prima_tokenizer_set_property;
  gobject_class->get_property = gst_prima_tokenizer_get_property;
  gobject_class->finalize = gst_prima_tokenizer_finalize;

  /**
   * GstPrimaTokenizer:model:
   *
   * Path of the GGUF model whose tokenizer is used. The file is opened when
   * the element goes to PAUSED.
   * Unset (since 0.2): the model of the chain, from a linked element that
   * names one or from the pipeline's "prima.model" context (docs/elements.md);
   * a model that differs from the chain's is an error naming both.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Path of the GGUF model file (unset: the model of the pipeline)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  /**
   * GstPrimaTokenizer:add-special:
   *
   * Add the BOS (and EOS) tokens that the model's metadata asks for.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_ADD_SPECIAL,
      g_param_spec_boolean ("add-special", "Add special tokens",
          "Add BOS/EOS as the model's metadata says", DEFAULT_ADD_SPECIAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  /**
   * GstPrimaTokenizer:parse-special:
   *
   * Turn the text of special and control tokens (such as "<|im_start|>")
   * into those tokens, as llama-cli does with prompts.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_PARSE_SPECIAL,
      g_param_spec_boolean ("parse-special", "Parse special tokens",
          "Turn the text of special tokens into those tokens", DEFAULT_PARSE_SPECIAL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  /**
   * GstPrimaTokenizer:chat:
   *
   * Chat mode: each input line is a user turn of a conversation rendered
   * with the chat template; see the element's description.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CHAT,
      g_param_spec_boolean ("chat", "Chat", "Each input line is a user turn of a conversation", DEFAULT_CHAT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  /**
   * GstPrimaTokenizer:chat-template:
   *
   * The chat template to use instead of the model's: a name such as
   * "chatml", "llama2", "llama3", "qwen2.5" or "deepseek-r1" (llama.cpp's
   * --chat-template names), or a Jinja template text to recognise. Unset:
   * the model's `tokenizer.chat_template`, or ChatML with a warning.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CHAT_TEMPLATE,
      g_param_spec_string ("chat-template", "Chat template",
          "Chat template name (chatml, llama2, llama3, qwen2.5, deepseek-r1, ...); unset: the model's", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  /**
   * GstPrimaTokenizer:system-prompt:
   *
   * The system message that opens the conversation in chat mode.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_SYSTEM_PROMPT,
      g_param_spec_string ("system-prompt", "System prompt", "System message at the start of a chat", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_tokenizer_change_state);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_prima_tokenizer_set_context);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Prima tokenizer", "Filter/Converter/Text",
      "Turns UTF-8 text into the token ids of a GGUF model", "gst-prima authors");
}

static void
gst_prima_tokenizer_init (GstPrimaTokenizer * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_tokenizer_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_tokenizer_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_tokenizer_query));
  GST_PAD_SET_ACCEPT_TEMPLATE (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_event_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_tokenizer_src_event));
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_tokenizer_query));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->add_special = DEFAULT_ADD_SPECIAL;
  self->parse_special = DEFAULT_PARSE_SPECIAL;
  self->chat = DEFAULT_CHAT;
  self->text = g_string_new (NULL);
  self->messages = g_ptr_array_new_with_free_func (g_free);
  self->cached = g_string_new (NULL);
  self->chunks = g_array_new (FALSE, FALSE, sizeof (Chunk));
  self->answer = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->shifts = g_array_new (FALSE, FALSE, sizeof (gint));
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
}
