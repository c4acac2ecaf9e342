/* gst-prima: primaspeechin, speech to user turns with pocketsphinx.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primaspeechin
 * @title: primaspeechin
 *
 * Recognizes speech with libpocketsphinx and turns each utterance into one
 * user turn for primatokenizer in chat mode: one text buffer per utterance,
 * the final hypothesis only (never a partial one), a line ending with "\n".
 *
 * Its input is 16 kHz mono S16LE audio: put `audioconvert ! audioresample`
 * before it. The recognizer's voice activity detector finds the utterances:
 * one ends after #GstPrimaSpeechIn:silence-ms of silence, and end-of-stream
 * ends one in progress. When speech begins, the element pushes the custom
 * downstream event `prima-speech-started` (prima-events.h) at once, before
 * the utterance's text, so that the chain can stop an answer that is playing
 * (barge-in). Speech that yields no words gives that event and no text.
 *
 * With each text buffer it posts the element message `prima-utterance`
 * (prima_message_parse_utterance()): the text, the recognizer's confidence,
 * its path score, and the stream times of the speech's start and end, as
 * the detector estimates them (to within its 128 ms reads). The text
 * buffer's timestamp and duration span the same speech.
 *
 * The model is US English by default (the Debian package pocketsphinx-en-us);
 * the hmm, lm and dict properties name another.
 *
 * ## Example launch line
 * |[
 * espeak-ng -w q.wav "what is the color of the sky"
 * gst-launch-1.0 filesrc location=q.wav ! wavparse ! audioconvert ! audioresample ! primaspeechin ! fdsink
 * ]| prints what pocketsphinx heard, one line per utterance (synthetic speech is often misheard).
 * From a microphone, as turns of a chat: `autoaudiosrc ! audioconvert ! audioresample ! primaspeechin !
 * primatokenizer chat=true ! ...`.
 *
 * Since: 0.3
 */

#include "gstprimaspeechin.h"

#include <string.h>
#include <stdarg.h>
#include <glib/gi18n-lib.h>
#include <gst/base/gstadapter.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>      /* err_set_callback */

#include "prima-caps.h"
#include "prima-events.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_speech_in_debug);
#define GST_CAT_DEFAULT gst_prima_speech_in_debug

#define RATE 16000
/* Audio fed to the decoder at a time, whatever the buffers upstream: where
 * an utterance ends, and so what the next one hears, depends on it. 2048
 * samples (128 ms) as pocketsphinx_continuous reads them, so that the
 * element hears a file as pocketsphinx's own program does; a speech start
 * is seen within 128 ms. */
#define CHUNK_SAMPLES 2048
/* The detector's frames are 10 ms; it calls speech after this many
 * (pocketsphinx's -vad_startspeech default) */
#define VAD_START_FRAMES 10

#define DEFAULT_SILENCE_MS 500

enum
{
  PROP_0,
  PROP_HMM,
  PROP_LM,
  PROP_DICT,
  PROP_SILENCE_MS,
};

struct _GstPrimaSpeechIn
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* properties, under the object lock */
  gchar *hmm;
  gchar *lm;
  gchar *dict;
  guint silence_ms;

  /* from NULL->READY to READY->NULL */
  cmd_ln_t *config;
  ps_decoder_t *ps;

  /* streaming thread */
  GstSegment segment;
  GstAdapter *adapter;          /* samples waiting for a whole chunk */
  GstClockTime position;        /* segment time of the adapter's first sample */
  gboolean utt_open;            /* ps_start_utt was called */
  gboolean in_speech;           /* the detector heard speech in this utterance */
  GstClockTime speech_start;    /* segment time the speech began */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) S16LE, rate = (int) 16000, channels = (int) 1, "
        "layout = (string) interleaved"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TEXT));

#define gst_prima_speech_in_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaSpeechIn, gst_prima_speech_in, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_prima_speech_in_debug, "primaspeechin", 0, "prima speech recognition"));
GST_ELEMENT_REGISTER_DEFINE (primaspeechin, "primaspeechin", GST_RANK_NONE, GST_TYPE_PRIMA_SPEECH_IN);

/* pocketsphinx logs a lot on stderr: into our debug category instead. It
 * calls this with pieces of lines, so they are logged as they come. */
static void
gst_prima_speech_in_ps_log (void *user_data, err_lvl_t level, const char *fmt, ...)
{
  gchar *msg;
  va_list ap;

  if (gst_debug_category_get_threshold (GST_CAT_DEFAULT) < GST_LEVEL_LOG && level < ERR_WARN)
    return;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_strchomp (msg);
  if (*msg) {
    if (level >= ERR_ERROR)
      GST_WARNING ("pocketsphinx: %s", msg);
    else
      GST_LOG ("pocketsphinx: %s", msg);
  }
  g_free (msg);
}

static gchar *
model_path (const gchar * set, const gchar * file)
{
  return set ? g_strdup (set) : g_build_filename (PRIMA_POCKETSPHINX_MODELDIR, file, NULL);
}

static gboolean
gst_prima_speech_in_open (GstPrimaSpeechIn * self)
{
  gchar *hmm, *lm, *dict, *mdef, *postspeech;
  const gchar *missing = NULL;
  gboolean ok = FALSE;
  guint silence_ms;

  GST_OBJECT_LOCK (self);
  hmm = model_path (self->hmm, "en-us");
  lm = model_path (self->lm, "en-us.lm.bin");
  dict = model_path (self->dict, "cmudict-en-us.dict");
  silence_ms = self->silence_ms;
  GST_OBJECT_UNLOCK (self);

  /* pocketsphinx says only "failed" for a missing file: say which, and
   * where it comes from */
  mdef = g_build_filename (hmm, "mdef", NULL);
  if (!g_file_test (mdef, G_FILE_TEST_IS_REGULAR))
    missing = hmm;
  else if (!g_file_test (lm, G_FILE_TEST_IS_REGULAR))
    missing = lm;
  else if (!g_file_test (dict, G_FILE_TEST_IS_REGULAR))
    missing = dict;
  if (missing) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        (_("The speech recognition model \"%s\" is missing: install the Debian package pocketsphinx-en-us, "
                "or name another model with the hmm, lm and dict properties."), missing),
        ("no %s", missing == hmm ? mdef : missing));
    goto done;
  }

  /* the detector ends speech after this many 10 ms frames of silence */
  postspeech = g_strdup_printf ("%u", MAX (silence_ms / 10, 1));
  self->config = cmd_ln_init (NULL, ps_args (), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict,
      "-vad_postspeech", postspeech, NULL);
  g_free (postspeech);
  if (self->config)
    self->ps = ps_init (self->config);
  if (self->ps == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT,
        (_("Could not load the speech recognition model (hmm \"%s\", lm \"%s\", dict \"%s\")."), hmm, lm, dict),
        ("ps_init failed; set GST_DEBUG=primaspeechin:6 for pocketsphinx's log"));
    if (self->config)
      cmd_ln_free_r (self->config);
    self->config = NULL;
    goto done;
  }
  ok = TRUE;

done:
  g_free (mdef);
  g_free (hmm);
  g_free (lm);
  g_free (dict);
  return ok;
}

static void
gst_prima_speech_in_close (GstPrimaSpeechIn * self)
{
  if (self->ps)
    ps_free (self->ps);
  self->ps = NULL;
  if (self->config)
    cmd_ln_free_r (self->config);
  self->config = NULL;
}

static void
gst_prima_speech_in_start_utt (GstPrimaSpeechIn * self)
{
  if (ps_start_utt (self->ps) < 0)
    GST_WARNING_OBJECT (self, "ps_start_utt failed");
  self->utt_open = TRUE;
  self->in_speech = FALSE;
}

static GstClockTime
stream_time (GstPrimaSpeechIn * self, GstClockTime t)
{
  return gst_segment_to_stream_time (&self->segment, GST_FORMAT_TIME, t);
}

/* Ends the utterance; with speech in it, pushes its text and posts its
 * message. end: segment time where the speech ended. */
static GstFlowReturn
gst_prima_speech_in_end_utt (GstPrimaSpeechIn * self, GstClockTime end)
{
  PrimaUtteranceInfo info = { 0 };
  const char *hyp;
  gboolean had_speech = self->in_speech;
  int32 score = 0;
  GstBuffer *out;
  gchar *line;
  gint64 t0 = g_get_monotonic_time ();

  if (!self->utt_open)
    return GST_FLOW_OK;
  ps_end_utt (self->ps);
  self->utt_open = FALSE;
  self->in_speech = FALSE;
  if (!had_speech)
    return GST_FLOW_OK;
  hyp = ps_get_hyp (self->ps, &score);
  if (hyp == NULL || *hyp == '\0') {
    GST_DEBUG_OBJECT (self, "speech without words");
    return GST_FLOW_OK;
  }

  info.text = hyp;
  info.score = score;
  info.confidence = logmath_exp (ps_get_logmath (self->ps), ps_get_prob (self->ps));
  info.start = stream_time (self, self->speech_start);
  info.end = stream_time (self, end);
  GST_INFO_OBJECT (self, "utterance \"%s\" (confidence %.3f, score %d) %" GST_TIME_FORMAT " - %"
      GST_TIME_FORMAT ", final search %.1f ms", hyp, info.confidence, score, GST_TIME_ARGS (info.start),
      GST_TIME_ARGS (info.end), (g_get_monotonic_time () - t0) / 1e3);

  /* one turn is one line for primatokenizer chat=true */
  line = g_strconcat (hyp, "\n", NULL);
  out = gst_buffer_new_wrapped (line, strlen (line));
  GST_BUFFER_PTS (out) = self->speech_start;
  if (GST_CLOCK_TIME_IS_VALID (self->speech_start) && GST_CLOCK_TIME_IS_VALID (end) && end >= self->speech_start)
    GST_BUFFER_DURATION (out) = end - self->speech_start;
  /* the message first: an application that sees the text downstream has it */
  gst_element_post_message (GST_ELEMENT (self), prima_message_new_utterance (GST_OBJECT (self), &info));
  return gst_pad_push (self->srcpad, out);
}

static GstClockTime
sample_time (GstClockTime base, guint64 n)
{
  return GST_CLOCK_TIME_IS_VALID (base) ? base + gst_util_uint64_scale_int (n, GST_SECOND, RATE) : base;
}

/* Feeds n samples starting at segment time self->position to the decoder
 * and follows its detector. */
static GstFlowReturn
gst_prima_speech_in_process (GstPrimaSpeechIn * self, const gint16 * samples, gsize n)
{
  GstClockTime t, silence;
  gboolean speech;

  GST_OBJECT_LOCK (self);
  silence = self->silence_ms * GST_MSECOND;
  GST_OBJECT_UNLOCK (self);

  if (!self->utt_open)
    gst_prima_speech_in_start_utt (self);
  ps_process_raw (self->ps, samples, n, FALSE, FALSE);
  t = self->position = sample_time (self->position, n);
  speech = ps_get_in_speech (self->ps) != 0;
  if (speech && !self->in_speech) {
    /* the detector calls speech some frames after it began */
    GstClockTime lag = VAD_START_FRAMES * 10 * GST_MSECOND;
    GstClockTime first = GST_CLOCK_TIME_IS_VALID (self->segment.start) ? self->segment.start : 0;

    self->in_speech = TRUE;
    self->speech_start = GST_CLOCK_TIME_IS_VALID (t) ? MAX (first, t > lag ? t - lag : 0) : t;
    GST_DEBUG_OBJECT (self, "speech started at %" GST_TIME_FORMAT, GST_TIME_ARGS (self->speech_start));
    /* barge-in: downstream hears at once, before the text */
    gst_pad_push_event (self->srcpad, prima_event_new_speech_started (stream_time (self, self->speech_start)));
  } else if (!speech && self->in_speech) {
    return gst_prima_speech_in_end_utt (self, GST_CLOCK_TIME_IS_VALID (t) && t > silence ? t - silence : t);
  }
  return GST_FLOW_OK;
}

/* Feeds the adapter's whole chunks (with all: the rest too). */
static GstFlowReturn
gst_prima_speech_in_drain (GstPrimaSpeechIn * self, gboolean all)
{
  GstFlowReturn ret = GST_FLOW_OK;
  gsize avail;

  while (ret == GST_FLOW_OK && (avail = gst_adapter_available (self->adapter) / 2 * 2) > 0) {
    gsize n = MIN (avail / 2, CHUNK_SAMPLES);
    GstBuffer *chunk;
    GstMapInfo map;

    if (n < CHUNK_SAMPLES && !all)
      break;
    chunk = gst_adapter_take_buffer (self->adapter, n * 2);
    gst_buffer_map (chunk, &map, GST_MAP_READ);
    ret = gst_prima_speech_in_process (self, (const gint16 *) map.data, n);
    gst_buffer_unmap (chunk, &map);
    gst_buffer_unref (chunk);
  }
  return ret;
}

static GstFlowReturn
gst_prima_speech_in_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaSpeechIn *self = GST_PRIMA_SPEECH_IN (parent);

  if (self->ps == NULL) {
    gst_buffer_unref (buf);
    return GST_FLOW_FLUSHING;
  }
  /* the times follow the buffers' timestamps where a chunk begins */
  if (gst_adapter_available (self->adapter) == 0 && GST_BUFFER_PTS_IS_VALID (buf))
    self->position = GST_BUFFER_PTS (buf);
  gst_adapter_push (self->adapter, buf);
  return gst_prima_speech_in_drain (self, FALSE);
}

static gboolean
gst_prima_speech_in_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaSpeechIn *self = GST_PRIMA_SPEECH_IN (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      /* the audio format is fixed by the template; text leaves */
      GstCaps *caps = gst_static_pad_template_get_caps (&src_template);
      gboolean ok = gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));

      gst_caps_unref (caps);
      gst_event_unref (event);
      return ok;
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->segment);
      if (self->segment.format != GST_FORMAT_TIME) {
        GST_ELEMENT_ERROR (self, STREAM, FORMAT, (NULL), ("segment not in TIME format"));
        gst_event_unref (event);
        return FALSE;
      }
      self->position = self->segment.start;
      break;
    case GST_EVENT_EOS:
      /* the last utterance may have had no silence after it */
      if (self->ps) {
        gst_prima_speech_in_drain (self, TRUE);
        if (self->utt_open)
          gst_prima_speech_in_end_utt (self, self->position);
      }
      break;
    case GST_EVENT_FLUSH_STOP:
      /* what was heard before the flush is dropped */
      if (self->ps && self->utt_open) {
        ps_end_utt (self->ps);
        self->utt_open = FALSE;
        self->in_speech = FALSE;
      }
      gst_adapter_clear (self->adapter);
      gst_segment_init (&self->segment, GST_FORMAT_TIME);
      self->position = GST_CLOCK_TIME_NONE;
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
gst_prima_speech_in_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaSpeechIn *self = GST_PRIMA_SPEECH_IN (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_prima_speech_in_open (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      gst_segment_init (&self->segment, GST_FORMAT_TIME);
      self->position = GST_CLOCK_TIME_NONE;
      self->utt_open = FALSE;
      self->in_speech = FALSE;
      gst_adapter_clear (self->adapter);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* the streaming thread has stopped */
      if (self->utt_open)
        ps_end_utt (self->ps);
      self->utt_open = FALSE;
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_prima_speech_in_close (self);
      break;
    default:
      break;
  }
  return ret;
}

static void
gst_prima_speech_in_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaSpeechIn *self = GST_PRIMA_SPEECH_IN (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_HMM:
      g_free (self->hmm);
      self->hmm = g_value_dup_string (value);
      break;
    case PROP_LM:
      g_free (self->lm);
      self->lm = g_value_dup_string (value);
      break;
    case PROP_DICT:
      g_free (self->dict);
      self->dict = g_value_dup_string (value);
      break;
    case PROP_SILENCE_MS:
      self->silence_ms = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_speech_in_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaSpeechIn *self = GST_PRIMA_SPEECH_IN (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_HMM:
      g_value_set_string (value, self->hmm);
      break;
    case PROP_LM:
      g_value_set_string (value, self->lm);
      break;
    case PROP_DICT:
      g_value_set_string (value, self->dict);
      break;
    case PROP_SILENCE_MS:
      g_value_set_uint (value, self->silence_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_speech_in_finalize (GObject * object)
{
  GstPrimaSpeechIn *self = GST_PRIMA_SPEECH_IN (object);

  gst_prima_speech_in_close (self);
  g_object_unref (self->adapter);
  g_free (self->hmm);
  g_free (self->lm);
  g_free (self->dict);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_prima_speech_in_class_init (GstPrimaSpeechInClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_prima_speech_in_set_property;
  gobject_class->get_property = gst_prima_speech_in_get_property;
  gobject_class->finalize = gst_prima_speech_in_finalize;
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_speech_in_change_state);

  /**
   * GstPrimaSpeechIn:hmm:
   *
   * The acoustic model's folder; NULL: the US English one of pocketsphinx-en-us.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_HMM,
      g_param_spec_string ("hmm", "Acoustic model",
          "Folder of the pocketsphinx acoustic model (NULL: pocketsphinx-en-us's US English model)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstPrimaSpeechIn:lm:
   *
   * The language model file; NULL: en-us.lm.bin of pocketsphinx-en-us.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_LM,
      g_param_spec_string ("lm", "Language model",
          "The pocketsphinx language model file (NULL: pocketsphinx-en-us's en-us.lm.bin)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstPrimaSpeechIn:dict:
   *
   * The pronunciation dictionary; NULL: cmudict-en-us.dict of pocketsphinx-en-us.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_DICT,
      g_param_spec_string ("dict", "Dictionary",
          "The pocketsphinx pronunciation dictionary (NULL: pocketsphinx-en-us's cmudict-en-us.dict)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstPrimaSpeechIn:silence-ms:
   *
   * How long a silence ends an utterance, in milliseconds: shorter answers
   * sooner, longer lets the speaker pause within a question.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_SILENCE_MS,
      g_param_spec_uint ("silence-ms", "Silence (ms)",
          "Milliseconds of silence after speech that end an utterance", 50, 10000, DEFAULT_SILENCE_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Prima speech in", "Filter/Audio/Text",
      "Recognizes speech (pocketsphinx) and pushes one line of text per utterance, a user turn for a chat",
      "gst-prima authors");

  /* its messages into our debug log; its configuration table, which it
   * writes to the log file itself, nowhere */
  err_set_callback (gst_prima_speech_in_ps_log, NULL);
  err_set_logfp (NULL);
}

static void
gst_prima_speech_in_init (GstPrimaSpeechIn * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_speech_in_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_speech_in_sink_event));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->silence_ms = DEFAULT_SILENCE_MS;
  self->adapter = gst_adapter_new ();
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  self->position = GST_CLOCK_TIME_NONE;
}
