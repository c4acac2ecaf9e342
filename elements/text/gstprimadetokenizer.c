/* gst-prima: primadetokenizer, token ids to UTF-8 text.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primadetokenizer
 * @title: primadetokenizer
 *
 * Turns token ids into the text of their pieces, as they stream. A UTF-8
 * character whose bytes come in two tokens (byte-fallback tokens) is never
 * split across output buffers: the incomplete bytes wait for the next token,
 * and whatever is still waiting goes out at end-of-stream or at the end of a
 * chat turn (the `prima-end-of-turn` event, which then travels on). A token
 * that completes no character produces no buffer.
 *
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primadetokenizer model=tests/data/stories260K-f32.gguf ! primafdsink fd=1
 * ]| prints the prompt back from its tokens (" Once upon a time": the BOS renders as nothing, and
 * SentencePiece's word-start mark as a space).
 *
 * Since: 0.1
 */

#include "gstprimadetokenizer.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "prima-element.h"
#include "gguf.h"
#include "tokenizer.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_detokenizer_debug);
#define GST_CAT_DEFAULT gst_prima_detokenizer_debug

#define DEFAULT_SPECIAL FALSE

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_SPECIAL,
};

struct _GstPrimaDetokenizer
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* properties, under the object lock */
  gchar *model;
  gboolean special;

  /* from READY to PAUSED */
  gguf_file *file;
  prima_tokenizer *tok;

  /* streaming thread: bytes of an incomplete UTF-8 character */
  GString *pending;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TEXT));

#define gst_prima_detokenizer_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaDetokenizer, gst_prima_detokenizer, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_prima_detokenizer_debug, "primadetokenizer", 0, "prima detokenizer"));
GST_ELEMENT_REGISTER_DEFINE (primadetokenizer, "primadetokenizer", GST_RANK_NONE, GST_TYPE_PRIMA_DETOKENIZER);

/* Length of the longest prefix of buf that ends on a UTF-8 character
 * boundary: a lead byte whose continuation bytes have not all arrived is
 * held back with them. Bytes that cannot start a character pass through. */
static gsize
complete_utf8_prefix (const guint8 * buf, gsize len)
{
  for (gsize back = 1; back <= MIN (len, 4); back++) {
    guint8 c = buf[len - back];
    guint need;

    if ((c & 0xC0) == 0x80)
      continue;                 /* continuation byte: look further back */
    need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return back >= need ? len : len - back;
  }
  return len;
}

static gboolean
gst_prima_detokenizer_open (GstPrimaDetokenizer * self)
{
  gboolean ok;
  gchar *path;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model);
  GST_OBJECT_UNLOCK (self);

  ok = prima_element_open_vocabulary (GST_ELEMENT (self), path, &self->file, &self->tok);
  g_free (path);
  return ok;
}

static void
gst_prima_detokenizer_close (GstPrimaDetokenizer * self)
{
  g_clear_pointer (&self->tok, prima_tokenizer_free);
  g_clear_pointer (&self->file, gguf_close);
}

static GstFlowReturn
gst_prima_detokenizer_push_text (GstPrimaDetokenizer * self, gsize n, GstBuffer * inbuf)
{
  GstBuffer *out;

  if (n == 0)
    return GST_FLOW_OK;
  out = gst_buffer_new_memdup (self->pending->str, n);
  if (inbuf)
    gst_buffer_copy_into (out, inbuf, GST_BUFFER_COPY_METADATA, 0, -1);
  g_string_erase (self->pending, 0, n);
  return gst_pad_push (self->srcpad, out);
}

static GstFlowReturn
gst_prima_detokenizer_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaDetokenizer *self = GST_PRIMA_DETOKENIZER (parent);
  GstFlowReturn ret;
  gboolean special;
  GstMapInfo map;
  PrimaHeader h;

  if (self->tok == NULL) {
    gst_buffer_unref (buf);
    return GST_FLOW_FLUSHING;
  }
  GST_OBJECT_LOCK (self);
  special = self->special;
  GST_OBJECT_UNLOCK (self);

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL), ("could not map a buffer"));
    return GST_FLOW_ERROR;
  }
  if (!prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_TOKENS, &h)
      || h.payload_size != h.n_tokens * sizeof (gint32)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed tokens buffer.")),
        ("%" G_GSIZE_FORMAT " bytes", map.size));
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  for (guint i = 0; i < h.n_tokens; i++) {
    gint32 id;
    memcpy (&id, map.data + PRIMA_HEADER_SIZE + i * sizeof id, sizeof id);
    if (id < 0 || id >= prima_tokenizer_n_vocab (self->tok)) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Token %d is not in the model's vocabulary."), id),
          ("the vocabulary has %d tokens", prima_tokenizer_n_vocab (self->tok)));
      gst_buffer_unmap (buf, &map);
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
    }
    prima_token_to_piece (self->tok, id, special, self->pending);
  }
  gst_buffer_unmap (buf, &map);

  ret = gst_prima_detokenizer_push_text (self,
      complete_utf8_prefix ((const guint8 *) self->pending->str, self->pending->len), buf);
  gst_buffer_unref (buf);
  return ret;
}

static gboolean
gst_prima_detokenizer_ensure_caps (GstPrimaDetokenizer * self)
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
gst_prima_detokenizer_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaDetokenizer *self = GST_PRIMA_DETOKENIZER (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      gst_event_unref (event);
      return gst_prima_detokenizer_ensure_caps (self);
    case GST_EVENT_SEGMENT:
      gst_prima_detokenizer_ensure_caps (self);
      break;
    case GST_EVENT_EOS:{
      /* what is left is an incomplete character: it goes out as it is */
      GstFlowReturn ret = gst_prima_detokenizer_push_text (self, self->pending->len, NULL);
      if (ret < GST_FLOW_EOS && ret != GST_FLOW_NOT_LINKED)
        GST_ELEMENT_FLOW_ERROR (self, ret);
      break;
    }
    case GST_EVENT_FLUSH_STOP:
      g_string_truncate (self->pending, 0);
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      if (prima_event_is_end_of_turn (event)) {
        /* the answer is complete: nothing waits for the next token */
        GstFlowReturn ret = gst_prima_detokenizer_push_text (self, self->pending->len, NULL);
        if (ret < GST_FLOW_EOS && ret != GST_FLOW_NOT_LINKED)
          GST_ELEMENT_FLOW_ERROR (self, ret);
      }
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
gst_prima_detokenizer_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaDetokenizer *self = GST_PRIMA_DETOKENIZER (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!gst_prima_detokenizer_open (self))
        return GST_STATE_CHANGE_FAILURE;
      g_string_truncate (self->pending, 0);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      gst_prima_detokenizer_close (self);
      g_string_truncate (self->pending, 0);
      break;
    default:
      break;
  }
  return ret;
}

static void
gst_prima_detokenizer_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaDetokenizer *self = GST_PRIMA_DETOKENIZER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model);
      self->model = g_value_dup_string (value);
      break;
    case PROP_SPECIAL:
      self->special = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_detokenizer_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaDetokenizer *self = GST_PRIMA_DETOKENIZER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_SPECIAL:
      g_value_set_boolean (value, self->special);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_detokenizer_finalize (GObject * object)
{
  GstPrimaDetokenizer *self = GST_PRIMA_DETOKENIZER (object);

  gst_prima_detokenizer_close (self);
  g_string_free (self->pending, TRUE);
  g_free (self->model);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_prima_detokenizer_class_init (GstPrimaDetokenizerClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_prima_detokenizer_set_property;
  gobject_class->get_property = gst_prima_detokenizer_get_property;
  gobject_class->finalize = gst_prima_detokenizer_finalize;

  /**
   * GstPrimaDetokenizer:model:
   *
   * Path of the GGUF model whose vocabulary is used. The file is opened
   * when the element goes to PAUSED.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Path of the GGUF model file", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  /**
   * GstPrimaDetokenizer:special:
   *
   * Render special and control tokens (such as "</s>" or "<|im_end|>") as
   * their text instead of dropping them.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_SPECIAL,
      g_param_spec_boolean ("special", "Render special tokens", "Render special tokens as their text",
          DEFAULT_SPECIAL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_detokenizer_change_state);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Prima detokenizer", "Filter/Converter/Text",
      "Turns token ids into UTF-8 text", "gst-prima authors");
}

static void
gst_prima_detokenizer_init (GstPrimaDetokenizer * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_detokenizer_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_detokenizer_sink_event));
  GST_PAD_SET_ACCEPT_TEMPLATE (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->special = DEFAULT_SPECIAL;
  self->pending = g_string_new (NULL);
}
