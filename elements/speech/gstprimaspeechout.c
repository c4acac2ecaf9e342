/* gst-prima: primaspeechout, streaming text to speech with libespeak-ng.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primaspeechout
 * @title: primaspeechout
 *
 * Speaks the streaming answer of a chat: UTF-8 text in (the pieces that
 * primadetokenizer pushes as the tokens come), mono 16-bit audio out at
 * espeak-ng's sample rate (usually 22050 Hz), synthesized with libespeak-ng.
 *
 * The text is spoken sentence by sentence as it arrives: it is collected
 * until a sentence ends (a '.', '!' or '?' followed by a space or a newline,
 * or a newline), and that sentence is synthesized and pushed at once, so the
 * first sentence plays while the rest of the answer is still being
 * generated. What is left is spoken at the end of the turn (the
 * `prima-end-of-turn` event, which then travels on) and at end-of-stream.
 *
 * The audio has a TIME segment and timestamps counted from its samples,
 * continuous across sentences and turns, so that it plays to
 * `autoaudiosink` or muxes into a WAV file with `wavenc ! filesink`
 * (for example `fdsrc ! primaspeechout ! wavenc ! filesink location=answer.wav`).
 *
 * A `prima-interrupt` event sent upstream through the element, or a flush,
 * drops the text that waits and stops the sentence being synthesized; with
 * `prima-interrupt`, the rest of that turn's text is dropped up to its
 * `prima-end-of-turn`, and so is the text of a turn that ends "interrupted"
 * (barge-in: primaloop ended the answer because the user spoke again). The
 * audio already pushed is the sink's: with #GstPrimaSpeechOut:flush-on-speech
 * the `prima-speech-started` event that follows flushes it (live playback
 * with a `queue` before the audio sink).
 *
 * The element posts a `prima-speech` element message (elements/prima-events.h)
 * when it pushes the first audio buffer of a turn (its timestamp and the
 * wall-clock time) and when the turn's audio ends (its samples and duration).
 *
 * espeak-ng has one engine per process: elements in one process take turns
 * on it, a sentence at a time.
 *
 * ## Example launch line
 * |[
 * printf 'Hello there. How are you today?\n' | gst-launch-1.0 -q fdsrc fd=0 ! primaspeechout rate=200 ! filesink location=answer.raw
 * ]| writes the two sentences as raw S16LE mono samples at espeak-ng's rate; put
 * `wavenc` before the filesink for a WAV file, or play it with `autoaudiosink`.
 *
 * Since: 0.3
 */

#include "gstprimaspeechout.h"

#include <string.h>
#include <glib/gi18n-lib.h>
#include <espeak-ng/speak_lib.h>
#include <espeak-ng/espeak_ng.h>

#include "prima-caps.h"
#include "prima-events.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_speech_out_debug);
#define GST_CAT_DEFAULT gst_prima_speech_out_debug

#define DEFAULT_VOICE "en"
#define DEFAULT_RATE espeakRATE_NORMAL
#define DEFAULT_PITCH 50
#define DEFAULT_VOLUME 100

/* Text without a sentence end is spoken up to its last space once it is
 * this long: an answer without punctuation still streams, its first words
 * heard after about 30 words (some 10 s of speech) rather than at its end. */
#define MAX_PENDING 200

enum
{
  PROP_0,
  PROP_VOICE,
  PROP_RATE,
  PROP_PITCH,
  PROP_VOLUME,
  PROP_FLUSH_ON_SPEECH,
};

struct _GstPrimaSpeechOut
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* properties, under the object lock */
  gchar *voice;
  gint rate;
  gint pitch;
  gint volume;
  gboolean flush_on_speech;

  /* set from any thread (prima-interrupt, flush-start); the streaming thread
   * takes it, and the synthesis callback stops when it is set */
  gint interrupt;

  /* streaming thread */
  gint sample_rate;             /* espeak-ng's, from READY */
  GString *pending;             /* text of the sentence being collected */
  GArray *samples;              /* gint16: the sentence being synthesized */
  guint64 total;                /* samples pushed since the stream started: the timestamps */
  gboolean need_segment;
  gboolean discont;
  guint turn;
  gboolean turn_open;           /* text came in this turn */
  gboolean turn_started;        /* its first audio buffer left */
  guint64 turn_samples;
  gboolean dropping;            /* interrupted: the turn's text is dropped up to its end */
  gboolean turn_interrupted;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TEXT));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("audio/x-raw, format = (string) S16LE, layout = (string) interleaved, "
        "channels = (int) 1, rate = (int) [ 1, MAX ]"));

#define gst_prima_speech_out_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaSpeechOut, gst_prima_speech_out, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_prima_speech_out_debug, "primaspeechout", 0, "prima speech out"));
GST_ELEMENT_REGISTER_DEFINE (primaspeechout, "primaspeechout", GST_RANK_NONE, GST_TYPE_PRIMA_SPEECH_OUT);

/* espeak-ng's API is global (one engine, one callback, one voice per
 * process): everything that touches it holds this lock. */
static GMutex espeak_lock;
static gint espeak_sample_rate;         /* 0: not initialized yet; < 0: failed */
static gchar *espeak_voice;             /* the voice set in the engine */

/* Collects the samples of the element that synthesizes (its pointer is the
 * user data of espeak_Synth); a non-zero return stops the synthesis. */
static int
synth_callback (short *wav, int n, espeak_EVENT * events)
{
  GstPrimaSpeechOut *self = events ? events->user_data : NULL;

  if (self == NULL)
    return 0;
  if (g_atomic_int_get (&self->interrupt))
    return 1;
  if (wav && n > 0)
    g_array_append_vals (self->samples, wav, n);
  return 0;
}

/* espeak_Initialize (AUDIO_OUTPUT_SYNCHRONOUS) in its espeak_ng steps: the
 * old call exits the process when the data is missing, or hides the failure
 * (espeakINITIALIZE_DONT_EXIT); *why: the failure's message. */
static gboolean
espeak_init_locked (gchar ** why)
{
  static gchar *failure;

  if (espeak_sample_rate == 0) {
    espeak_ng_ERROR_CONTEXT context = NULL;
    espeak_ng_STATUS status;

    espeak_ng_InitializePath (NULL);
    status = espeak_ng_Initialize (&context);
    if (status == ENS_OK)
      status = espeak_ng_InitializeOutput (ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL);
    if (status == ENS_OK && espeak_ng_GetSampleRate () > 0) {
      espeak_sample_rate = espeak_ng_GetSampleRate ();
      espeak_SetSynthCallback (synth_callback);
    } else {
      gchar message[512] = "";

      espeak_ng_GetStatusCodeMessage (status, message, sizeof message);
      failure = g_strdup (message);
      espeak_sample_rate = -1;
    }
    espeak_ng_ClearErrorContext (&context);
  }
  if (espeak_sample_rate < 0)
    *why = g_strdup (failure);
  return espeak_sample_rate > 0;
}

/* The engine's voice, set only when it changes (loading one reads files). */
static gboolean
espeak_set_voice_locked (const gchar * voice)
{
  if (g_strcmp0 (espeak_voice, voice) == 0)
    return TRUE;
  if (espeak_SetVoiceByName (voice) != EE_OK)
    return FALSE;
  g_free (espeak_voice);
  espeak_voice = g_strdup (voice);
  return TRUE;
}

static void
post_voice_error (GstPrimaSpeechOut * self, const gchar * voice)
{
  GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, (_("espeak-ng has no voice \"%s\"."), voice),
      ("espeak_SetVoiceByName failed; `espeak-ng --voices` lists the voices"));
}

static GstCaps *
audio_caps (GstPrimaSpeechOut * self)
{
  return gst_caps_new_simple ("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "layout", G_TYPE_STRING,
      "interleaved", "channels", G_TYPE_INT, 1, "rate", G_TYPE_INT, self->sample_rate, NULL);
}

static gboolean
ensure_caps_and_segment (GstPrimaSpeechOut * self)
{
  if (!gst_pad_has_current_caps (self->srcpad)) {
    GstCaps *caps = audio_caps (self);
    gboolean ok = gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));
    gst_caps_unref (caps);
    if (!ok)
      return FALSE;
  }
  if (self->need_segment) {
    GstSegment segment;

    /* our own TIME segment: the text's (bytes, or none) says nothing of the audio */
    gst_segment_init (&segment, GST_FORMAT_TIME);
    segment.start = gst_util_uint64_scale_int (self->total, GST_SECOND, self->sample_rate);
    segment.time = segment.start;
    segment.position = segment.start;
    self->need_segment = FALSE;
    if (!gst_pad_push_event (self->srcpad, gst_event_new_segment (&segment)))
      return FALSE;
  }
  return TRUE;
}

/* An interrupt that came since the last look: the waiting text goes, and
 * the rest of an open turn is dropped up to its end. */
static gboolean
take_interrupt (GstPrimaSpeechOut * self)
{
  if (!g_atomic_int_compare_and_exchange (&self->interrupt, 1, 0))
    return FALSE;
  GST_DEBUG_OBJECT (self, "interrupted: dropping %" G_GSIZE_FORMAT " bytes of text", self->pending->len);
  g_string_truncate (self->pending, 0);
  if (self->turn_open) {
    self->dropping = TRUE;
    self->turn_interrupted = TRUE;
  }
  return TRUE;
}

static void
end_turn (GstPrimaSpeechOut * self)
{
  if (self->turn_started) {
    PrimaSpeechInfo info = { 0 };

    info.end = TRUE;
    info.turn = self->turn;
    info.samples = self->turn_samples;
    info.duration = gst_util_uint64_scale_int (self->turn_samples, GST_SECOND, self->sample_rate);
    info.interrupted = self->turn_interrupted;
    gst_element_post_message (GST_ELEMENT (self), prima_message_new_speech (GST_OBJECT (self), &info));
  }
  if (self->turn_open || self->turn_started)
    self->turn++;
  self->turn_open = FALSE;
  self->turn_started = FALSE;
  self->turn_samples = 0;
  self->dropping = FALSE;
  self->turn_interrupted = FALSE;
}

static GstFlowReturn
push_samples (GstPrimaSpeechOut * self)
{
  guint n = self->samples->len;
  GstClockTime pts, end;
  GstBuffer *buf;

  if (n == 0)
    return GST_FLOW_OK;
  if (!ensure_caps_and_segment (self))
    return GST_FLOW_NOT_NEGOTIATED;
  buf = gst_buffer_new_memdup (self->samples->data, (gsize) n * sizeof (gint16));
  g_array_set_size (self->samples, 0);
  pts = gst_util_uint64_scale_int (self->total, GST_SECOND, self->sample_rate);
  end = gst_util_uint64_scale_int (self->total + n, GST_SECOND, self->sample_rate);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = end - pts;
  GST_BUFFER_OFFSET (buf) = self->total;
  GST_BUFFER_OFFSET_END (buf) = self->total + n;
  if (self->discont) {
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    self->discont = FALSE;
  }
  self->total += n;
  self->turn_samples += n;
  if (!self->turn_started) {
    PrimaSpeechInfo info = { 0 };

    self->turn_started = TRUE;
    info.turn = self->turn;
    info.pts = pts;
    info.wall_time = g_get_real_time ();
    gst_element_post_message (GST_ELEMENT (self), prima_message_new_speech (GST_OBJECT (self), &info));
  }
  return gst_pad_push (self->srcpad, buf);
}

/* Synthesizes and pushes the first n bytes of the waiting text. */
static GstFlowReturn
speak (GstPrimaSpeechOut * self, gsize n)
{
  /* sentences end at ASCII characters, so only a source that cuts
   * characters (fdsrc) leaves invalid bytes: they become U+FFFD */
  gchar *text = g_utf8_make_valid (self->pending->str, n);
  gint rate, pitch, volume;
  gchar *voice;
  espeak_ERROR err;

  g_string_erase (self->pending, 0, n);
  if (*g_strstrip (text) == '\0') {
    g_free (text);
    return GST_FLOW_OK;
  }

  GST_OBJECT_LOCK (self);
  voice = g_strdup (self->voice);
  rate = self->rate;
  pitch = self->pitch;
  volume = self->volume;
  GST_OBJECT_UNLOCK (self);

  GST_LOG_OBJECT (self, "speaking \"%s\"", text);
  g_array_set_size (self->samples, 0);
  g_mutex_lock (&espeak_lock);
  if (!espeak_set_voice_locked (voice)) {
    g_mutex_unlock (&espeak_lock);
    post_voice_error (self, voice);
    g_free (voice);
    g_free (text);
    return GST_FLOW_ERROR;
  }
  /* another element of this process may have set its own */
  espeak_SetParameter (espeakRATE, rate, 0);
  espeak_SetParameter (espeakPITCH, pitch, 0);
  espeak_SetParameter (espeakVOLUME, volume, 0);
  err = espeak_Synth (text, strlen (text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, self);
  if (g_atomic_int_get (&self->interrupt))
    espeak_Cancel ();           /* the callback stopped it: leave nothing queued in the engine */
  g_mutex_unlock (&espeak_lock);
  g_free (voice);

  if (err != EE_OK && !g_atomic_int_get (&self->interrupt)) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, (_("espeak-ng could not synthesize the text.")),
        ("espeak_Synth returned %d for \"%s\"", err, text));
    g_free (text);
    return GST_FLOW_ERROR;
  }
  g_free (text);
  if (take_interrupt (self)) {
    /* the sentence in progress stops here: none of it is pushed */
    g_array_set_size (self->samples, 0);
    return GST_FLOW_OK;
  }
  return push_samples (self);
}

/* Length of the first complete sentence of the waiting text (0: none yet). */
static gsize
sentence_end (const GString * s)
{
  for (gsize i = 0; i < s->len; i++) {
    gchar c = s->str[i];

    if (c == '\n')
      return i + 1;
    if ((c == '.' || c == '!' || c == '?') && i + 1 < s->len && (s->str[i + 1] == ' ' || s->str[i + 1] == '\n'))
      return i + 2;
  }
  if (s->len >= MAX_PENDING) {
    const gchar *space = g_strrstr_len (s->str, s->len, " ");
    return space && space > s->str ? (gsize) (space - s->str) + 1 : s->len;
  }
  return 0;
}

static GstFlowReturn
gst_prima_speech_out_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaSpeechOut *self = GST_PRIMA_SPEECH_OUT (parent);
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo map;
  gsize n;

  take_interrupt (self);
  if (self->dropping) {
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }
  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (self, RESOURCE, READ, (NULL), ("could not map the input buffer"));
    return GST_FLOW_ERROR;
  }
  if (map.size > 0)
    self->turn_open = TRUE;
  g_string_append_len (self->pending, (const gchar *) map.data, map.size);
  gst_buffer_unmap (buf, &map);
  gst_buffer_unref (buf);

  while (ret == GST_FLOW_OK && !self->dropping && (n = sentence_end (self->pending)) > 0)
    ret = speak (self, n);
  return ret;
}

/* The end of a turn or of the stream: the rest of the text is spoken. */
static void
finish_turn (GstPrimaSpeechOut * self)
{
  GstFlowReturn ret = GST_FLOW_OK;

  take_interrupt (self);
  if (!self->dropping && self->pending->len > 0)
    ret = speak (self, self->pending->len);
  g_string_truncate (self->pending, 0);
  if (ret < GST_FLOW_EOS && ret != GST_FLOW_NOT_LINKED && ret != GST_FLOW_ERROR)
    GST_ELEMENT_FLOW_ERROR (self, ret);
  end_turn (self);
}

static gboolean
gst_prima_speech_out_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaSpeechOut *self = GST_PRIMA_SPEECH_OUT (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      /* the text's caps say nothing of ours */
      gst_event_unref (event);
      ensure_caps_and_segment (self);
      return TRUE;
    case GST_EVENT_SEGMENT:
      gst_event_unref (event);
      ensure_caps_and_segment (self);
      return TRUE;
    case GST_EVENT_EOS:
      finish_turn (self);
      ensure_caps_and_segment (self);
      break;
    case GST_EVENT_FLUSH_START:
      g_atomic_int_set (&self->interrupt, 1);
      break;
    case GST_EVENT_FLUSH_STOP:
      g_atomic_int_set (&self->interrupt, 0);
      g_string_truncate (self->pending, 0);
      if (self->turn_open)
        self->turn_interrupted = TRUE;
      end_turn (self);
      self->need_segment = TRUE;
      self->discont = TRUE;
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      if (prima_event_is_end_of_turn (event)) {
        const gchar *reason = NULL;
        /* an answer cut short (Ctrl-C, barge-in): what it had not said yet is not said */
        if (prima_event_parse_end_of_turn (event, &reason) && g_strcmp0 (reason, "interrupted") == 0)
          g_atomic_int_set (&self->interrupt, 1);
        finish_turn (self);
      } else if (prima_event_is_speech_started (event)) {
        gboolean flush;
        GST_OBJECT_LOCK (self);
        flush = self->flush_on_speech;
        GST_OBJECT_UNLOCK (self);
        if (flush) {
          /* the audio still queued for the speaker goes; the next answer
           * starts a segment at its own time */
          GST_DEBUG_OBJECT (self, "the user speaks: flushing the audio queued downstream");
          gst_pad_push_event (self->srcpad, gst_event_new_flush_start ());
          gst_pad_push_event (self->srcpad, gst_event_new_flush_stop (TRUE));
          self->need_segment = TRUE;
          self->discont = TRUE;
        }
        /* ours: it does not go on as audio */
        gst_event_unref (event);
        return TRUE;
      }
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_prima_speech_out_src_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaSpeechOut *self = GST_PRIMA_SPEECH_OUT (parent);

  if (prima_event_is_interrupt (event)) {
    /* ours whatever upstream makes of it: the speech stops here */
    g_atomic_int_set (&self->interrupt, 1);
    gst_pad_event_default (pad, parent, event);
    return TRUE;
  }
  return gst_pad_event_default (pad, parent, event);
}

/* The caps at espeak-ng's rate from READY on, before the first buffer
 * fixes them: a sink downstream picks its format early. */
static gboolean
gst_prima_speech_out_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstPrimaSpeechOut *self = GST_PRIMA_SPEECH_OUT (parent);

  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS && self->sample_rate > 0 && !gst_pad_has_current_caps (pad)) {
    GstCaps *filter, *caps = audio_caps (self);

    gst_query_parse_caps (query, &filter);
    if (filter) {
      GstCaps *both = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref (caps);
      caps = both;
    }
    gst_query_set_caps_result (query, caps);
    gst_caps_unref (caps);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

static void
reset_stream (GstPrimaSpeechOut * self)
{
  g_string_truncate (self->pending, 0);
  g_array_set_size (self->samples, 0);
  g_atomic_int_set (&self->interrupt, 0);
  self->total = 0;
  self->need_segment = TRUE;
  self->discont = FALSE;
  self->turn = 0;
  self->turn_open = FALSE;
  self->turn_started = FALSE;
  self->turn_samples = 0;
  self->dropping = FALSE;
  self->turn_interrupted = FALSE;
}

static GstStateChangeReturn
gst_prima_speech_out_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaSpeechOut *self = GST_PRIMA_SPEECH_OUT (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:{
      gchar *why = NULL;
      gboolean ok;

      g_mutex_lock (&espeak_lock);
      ok = espeak_init_locked (&why);
      self->sample_rate = espeak_sample_rate;
      g_mutex_unlock (&espeak_lock);
      if (!ok) {
        GST_ELEMENT_ERROR (self, LIBRARY, INIT, (_("Could not initialize espeak-ng: is its data installed "
                    "(Debian package espeak-ng-data)?")), ("%s", why ? why : "unknown error"));
        g_free (why);
        return GST_STATE_CHANGE_FAILURE;
      }
      break;
    }
    case GST_STATE_CHANGE_READY_TO_PAUSED:{
      gchar *voice;
      gboolean ok;

      /* a voice that does not exist fails here, not at the first sentence */
      GST_OBJECT_LOCK (self);
      voice = g_strdup (self->voice);
      GST_OBJECT_UNLOCK (self);
      g_mutex_lock (&espeak_lock);
      ok = espeak_set_voice_locked (voice);
      g_mutex_unlock (&espeak_lock);
      if (!ok) {
        post_voice_error (self, voice);
        g_free (voice);
        return GST_STATE_CHANGE_FAILURE;
      }
      g_free (voice);
      reset_stream (self);
      break;
    }
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    reset_stream (self);
  return ret;
}

static void
gst_prima_speech_out_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaSpeechOut *self = GST_PRIMA_SPEECH_OUT (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_VOICE:
      g_free (self->voice);
      self->voice = g_value_dup_string (value);
      if (self->voice == NULL)
        self->voice = g_strdup (DEFAULT_VOICE);
      break;
    case PROP_RATE:
      self->rate = g_value_get_int (value);
      break;
    case PROP_PITCH:
      self->pitch = g_value_get_int (value);
      break;
    case PROP_VOLUME:
      self->volume = g_value_get_int (value);
      break;
    case PROP_FLUSH_ON_SPEECH:
      self->flush_on_speech = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_speech_out_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaSpeechOut *self = GST_PRIMA_SPEECH_OUT (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_VOICE:
      g_value_set_string (value, self->voice);
      break;
    case PROP_RATE:
      g_value_set_int (value, self->rate);
      break;
    case PROP_PITCH:
      g_value_set_int (value, self->pitch);
      break;
    case PROP_VOLUME:
      g_value_set_int (value, self->volume);
      break;
    case PROP_FLUSH_ON_SPEECH:
      g_value_set_boolean (value, self->flush_on_speech);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_speech_out_finalize (GObject * object)
{
  GstPrimaSpeechOut *self = GST_PRIMA_SPEECH_OUT (object);

  g_string_free (self->pending, TRUE);
  g_array_unref (self->samples);
  g_free (self->voice);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_prima_speech_out_class_init (GstPrimaSpeechOutClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_prima_speech_out_set_property;
  gobject_class->get_property = gst_prima_speech_out_get_property;
  gobject_class->finalize = gst_prima_speech_out_finalize;

  /**
   * GstPrimaSpeechOut:voice:
   *
   * The espeak-ng voice, by name or language ("en", "en-us", "de", ...;
   * `espeak-ng --voices` lists them). One that does not exist is an error
   * when the element goes to PAUSED.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_VOICE,
      g_param_spec_string ("voice", "Voice", "The espeak-ng voice, by name or language (espeak-ng --voices)",
          DEFAULT_VOICE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  /**
   * GstPrimaSpeechOut:rate:
   *
   * The speaking rate in words per minute; a change applies from the next
   * sentence.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_RATE,
      g_param_spec_int ("rate", "Rate", "Speaking rate in words per minute",
          espeakRATE_MINIMUM, espeakRATE_MAXIMUM, DEFAULT_RATE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  /**
   * GstPrimaSpeechOut:pitch:
   *
   * The base pitch, 0 (low) to 99 (high); a change applies from the next
   * sentence.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_PITCH,
      g_param_spec_int ("pitch", "Pitch", "Base pitch, 0 (low) to 99 (high)", 0, 99, DEFAULT_PITCH,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  /**
   * GstPrimaSpeechOut:volume:
   *
   * The volume in percent of espeak-ng's normal (0: silence; above 100 it
   * may clip); a change applies from the next sentence.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_VOLUME,
      g_param_spec_int ("volume", "Volume", "Volume in percent of the normal one (0-200)", 0, 200, DEFAULT_VOLUME,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  /**
   * GstPrimaSpeechOut:flush-on-speech:
   *
   * Barge-in for a live speaker: when the user speaks again (the
   * `prima-speech-started` event from primaspeechin comes down the chain),
   * flush the audio queued downstream (a `queue` before the audio sink) so
   * the answer being played stops at once. Leave it off when writing a file:
   * filesink empties its file on a flush.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_FLUSH_ON_SPEECH,
      g_param_spec_boolean ("flush-on-speech", "Flush on speech",
          "When the user speaks again, flush the audio queued downstream (live playback; not for files)", FALSE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_speech_out_change_state);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Prima speech out", "Filter/Converter/Text/Audio",
      "Speaks streaming text sentence by sentence with espeak-ng", "gst-prima authors");
}

static void
gst_prima_speech_out_init (GstPrimaSpeechOut * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_speech_out_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_speech_out_sink_event));
  GST_PAD_SET_ACCEPT_TEMPLATE (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_event_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_speech_out_src_event));
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_speech_out_src_query));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->voice = g_strdup (DEFAULT_VOICE);
  self->rate = DEFAULT_RATE;
  self->pitch = DEFAULT_PITCH;
  self->volume = DEFAULT_VOLUME;
  self->pending = g_string_new (NULL);
  self->samples = g_array_new (FALSE, FALSE, sizeof (gint16));
  self->need_segment = TRUE;
}
