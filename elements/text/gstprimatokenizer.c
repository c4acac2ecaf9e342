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
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! fakesink dump=true
 * ]| prints the tokens buffer of the prompt (a 32-byte header, then the ids 1 403 407 261 378).
 *
 * Since: 0.1
 */

#include "gstprimatokenizer.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "gguf.h"
#include "tokenizer.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_tokenizer_debug);
#define GST_CAT_DEFAULT gst_prima_tokenizer_debug

#define DEFAULT_ADD_SPECIAL TRUE
#define DEFAULT_PARSE_SPECIAL TRUE

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_ADD_SPECIAL,
  PROP_PARSE_SPECIAL,
};

struct _GstPrimaTokenizer
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* properties, under the object lock */
  gchar *model;
  gboolean add_special;
  gboolean parse_special;

  /* from READY to PAUSED */
  gguf_file *file;
  prima_tokenizer *tok;

  /* streaming thread */
  GString *text;
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

static gboolean
gst_prima_tokenizer_open (GstPrimaTokenizer * self)
{
  GError *err = NULL;
  gchar *path;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model);
  GST_OBJECT_UNLOCK (self);

  if (path == NULL || *path == '\0')
    goto failed;
  self->file = gguf_open (path, &err);
  if (self->file == NULL)
    goto failed;
  self->tok = prima_tokenizer_new (self->file, &err);
  if (self->tok == NULL)
    goto failed;
  GST_INFO_OBJECT (self, "model %s: %d tokens", path, prima_tokenizer_n_vocab (self->tok));
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
gst_prima_tokenizer_close (GstPrimaTokenizer * self)
{
  g_clear_pointer (&self->tok, prima_tokenizer_free);
  g_clear_pointer (&self->file, gguf_close);
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
  if (ids->len > 0)
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
      GstFlowReturn ret = gst_prima_tokenizer_drain (self);
      if (ret < GST_FLOW_EOS && ret != GST_FLOW_NOT_LINKED)
        GST_ELEMENT_FLOW_ERROR (self, ret);
      break;
    }
    case GST_EVENT_FLUSH_STOP:
      g_string_truncate (self->text, 0);
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
gst_prima_tokenizer_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaTokenizer *self = GST_PRIMA_TOKENIZER (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      if (!gst_prima_tokenizer_open (self))
        return GST_STATE_CHANGE_FAILURE;
      g_string_truncate (self->text, 0);
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
      g_string_truncate (self->text, 0);
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
  g_free (self->model);
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
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Path of the GGUF model file", NULL,
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

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_tokenizer_change_state);

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
  GST_PAD_SET_ACCEPT_TEMPLATE (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->add_special = DEFAULT_ADD_SPECIAL;
  self->parse_special = DEFAULT_PARSE_SPECIAL;
  self->text = g_string_new (NULL);
}
