/* gst-prima tests: primaspeechout: streaming text spoken sentence by sentence
 * with espeak-ng, its timestamps, messages, interrupts and properties.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include <glib/gstdio.h>
#include <unistd.h>

/* What came out of the element so far, checked as it is pulled. */
typedef struct
{
  guint buffers;
  guint64 samples;
  GstClockTime next_pts;        /* where the next buffer must start */
  gint rate;
} Audio;

static GstHarness *
speech_harness (const gchar * first_property, ...)
{
  GstElement *element = gst_element_factory_make ("primaspeechout", NULL);
  GstHarness *h;
  va_list args;

  fail_unless (element != NULL);
  if (first_property) {
    va_start (args, first_property);
    g_object_set_valist (G_OBJECT (element), first_property, args);
    va_end (args);
  }
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_src_caps_str (h, PRIMA_CAPS_TEXT);
  return h;
}

static GstFlowReturn
push_text (GstHarness * h, const gchar * text)
{
  return gst_harness_push (h, gst_buffer_new_memdup (text, strlen (text)));
}

static void
end_turn (GstHarness * h)
{
  fail_unless (gst_harness_push_event (h, prima_event_new_end_of_turn (NULL)));
}

/* Pulls every buffer waiting: each one S16 samples, starting where the last
 * one ended, its duration that of its samples. Returns how many came. */
static guint
pull_audio (GstHarness * h, Audio * a)
{
  GstBuffer *buf;
  guint n = 0;

  while ((buf = gst_harness_try_pull (h)) != NULL) {
    gsize size = gst_buffer_get_size (buf);
    guint64 samples = size / 2;
    GstClockTime end;

    if (a->rate == 0) {
      GstCaps *caps = gst_pad_get_current_caps (h->sinkpad);
      GstStructure *s;

      fail_unless (caps != NULL);
      s = gst_caps_get_structure (caps, 0);
      fail_unless (gst_structure_get_int (s, "rate", &a->rate));
      gst_caps_unref (caps);
    }
    fail_unless (size > 0 && size % 2 == 0);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), a->next_pts);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), a->samples);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (buf), a->samples + samples);
    end = gst_util_uint64_scale_int (a->samples + samples, GST_SECOND, a->rate);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buf) + GST_BUFFER_DURATION (buf), end);
    a->next_pts = end;
    a->samples += samples;
    a->buffers++;
    n++;
    gst_buffer_unref (buf);
  }
  return n;
}

/* The next prima-speech message on bus (fails when there is none). */
static PrimaSpeechInfo
pop_speech (GstBus * bus)
{
  GstMessage *m;
  PrimaSpeechInfo info;

  while ((m = gst_bus_pop (bus)) != NULL) {
    gboolean is = prima_message_parse_speech (m, &info);
    gst_message_unref (m);
    if (is)
      return info;
  }
  fail ("no prima-speech message");
  return info;
}

static void
assert_no_speech (GstBus * bus)
{
  GstMessage *m;

  while ((m = gst_bus_pop (bus)) != NULL) {
    fail_if (prima_message_is_speech (m), "an unexpected prima-speech message");
    gst_message_unref (m);
  }
}

/* Samples of one turn of @text, spoken with the given properties. */
static guint64
speak_samples (const gchar * text, const gchar * first_property, ...)
{
  GstElement *element = gst_element_factory_make ("primaspeechout", NULL);
  GstHarness *h;
  Audio a = { 0 };
  va_list args;

  if (first_property) {
    va_start (args, first_property);
    g_object_set_valist (G_OBJECT (element), first_property, args);
    va_end (args);
  }
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_src_caps_str (h, PRIMA_CAPS_TEXT);
  fail_unless_equals_int (push_text (h, text), GST_FLOW_OK);
  end_turn (h);
  pull_audio (h, &a);
  gst_harness_teardown (h);
  return a.samples;
}

GST_START_TEST (test_speechout_sentences_stream)
{
  GstHarness *h = speech_harness (NULL);
  GstBus *bus = gst_bus_new ();
  Audio a = { 0 };
  PrimaSpeechInfo info;
  GstCaps *caps;
  GstStructure *s;
  GstEvent *ev;
  const gchar *format;
  gint channels;
  guint64 first;
  GstClockTime turn_start;

  gst_element_set_bus (h->element, bus);

  /* from READY, before any caps, downstream already sees the one rate it will get */
  {
    GstElement *e = gst_element_factory_make ("primaspeechout", NULL);
    GstPad *src = gst_element_get_static_pad (e, "src");

    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
    caps = gst_pad_query_caps (src, NULL);
    fail_unless (gst_caps_is_fixed (caps), "the caps are not fixed at READY");
    gst_caps_unref (caps);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_object_unref (src);
    gst_object_unref (e);
  }

  /* a sentence is spoken once the text after its end arrives, piece by piece */
  fail_unless_equals_int (push_text (h, "Hello"), GST_FLOW_OK);
  fail_unless_equals_int (push_text (h, " there."), GST_FLOW_OK);
  fail_unless_equals_int (pull_audio (h, &a), 0);       /* "there." may go on ("there.5") */
  fail_unless_equals_int (push_text (h, " How"), GST_FLOW_OK);
  fail_unless (pull_audio (h, &a) > 0, "no audio after the first sentence ended");
  first = a.samples;
  info = pop_speech (bus);
  fail_if (info.end);
  fail_unless_equals_int (info.turn, 0);
  fail_unless_equals_uint64 (info.pts, 0);
  fail_unless (info.wall_time > 0);
  assert_no_speech (bus);

  /* the caps: mono S16LE at espeak-ng's rate */
  caps = gst_pad_get_current_caps (h->sinkpad);
  s = gst_caps_get_structure (caps, 0);
  fail_unless (gst_structure_has_name (s, "audio/x-raw"));
  format = gst_structure_get_string (s, "format");
  fail_unless_equals_string (format, "S16LE");
  fail_unless (gst_structure_get_int (s, "channels", &channels) && channels == 1);
  fail_unless (a.rate >= 8000 && a.rate <= 48000, "rate %d", a.rate);
  gst_caps_unref (caps);
  /* about half a second or more of "Hello there." */
  fail_unless (a.samples > (guint64) a.rate / 4, "%" G_GUINT64_FORMAT " samples", a.samples);

  /* a question ends a sentence too, and so does a newline */
  fail_unless_equals_int (push_text (h, " are you"), GST_FLOW_OK);
  fail_unless_equals_int (push_text (h, "?"), GST_FLOW_OK);
  fail_unless_equals_int (pull_audio (h, &a), 0);
  fail_unless_equals_int (push_text (h, " Fine\nThe rest"), GST_FLOW_OK);
  fail_unless_equals_int (pull_audio (h, &a), 2);       /* "How are you?" and "Fine" */
  assert_no_speech (bus);

  /* the rest at the end of the turn, whose event goes on after the audio */
  end_turn (h);
  fail_unless_equals_int (pull_audio (h, &a), 1);
  while ((ev = gst_harness_try_pull_event (h)) != NULL && !prima_event_is_end_of_turn (ev))
    gst_event_unref (ev);
  fail_unless (ev != NULL, "the end of the turn did not travel on");
  gst_event_unref (ev);
  info = pop_speech (bus);
  fail_unless (info.end);
  fail_unless_equals_int (info.turn, 0);
  fail_unless_equals_uint64 (info.samples, a.samples);
  fail_unless_equals_uint64 (info.duration, gst_util_uint64_scale_int (a.samples, GST_SECOND, a.rate));
  fail_if (info.interrupted);

  /* the next turn's timestamps go on from the last one's */
  turn_start = a.next_pts;
  fail_unless_equals_int (push_text (h, "Goodbye.\n"), GST_FLOW_OK);
  fail_unless_equals_int (pull_audio (h, &a), 1);       /* pull_audio checks the pts */
  info = pop_speech (bus);
  fail_unless_equals_int (info.turn, 1);
  fail_unless_equals_uint64 (info.pts, turn_start);
  fail_unless (info.pts > 0);

  /* and the rest at end-of-stream */
  fail_unless_equals_int (push_text (h, "Really"), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  fail_unless_equals_int (pull_audio (h, &a), 1);
  info = pop_speech (bus);
  fail_unless (info.end);
  fail_unless_equals_int (info.turn, 1);
  fail_unless (a.samples > first);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

GST_START_TEST (test_speechout_duration_grows)
{
  guint64 one = speak_samples ("The cat sat on the mat.", NULL);
  guint64 two = speak_samples ("The cat sat on the mat. The dog lay on the rug by the door.", NULL);

  fail_unless (one > 0);
  fail_unless (two > one + one / 2, "%" G_GUINT64_FORMAT " then %" G_GUINT64_FORMAT " samples", one, two);
}

GST_END_TEST;

GST_START_TEST (test_speechout_properties)
{
  const gchar *text = "Speech synthesis changes with its settings.";
  guint64 normal = speak_samples (text, NULL);
  guint64 slow = speak_samples (text, "rate", 100, NULL);
  guint64 fast = speak_samples (text, "rate", 400, NULL);
  /* numbers are read out in the voice's language: French's are shorter */
  guint64 english = speak_samples ("1234567.", "voice", "en", NULL);
  guint64 french = speak_samples ("1234567.", "voice", "fr", NULL);

  fail_unless (slow > normal && normal > fast, "rate 100: %" G_GUINT64_FORMAT ", 175: %" G_GUINT64_FORMAT
      ", 400: %" G_GUINT64_FORMAT " samples", slow, normal, fast);
  fail_unless (fast < normal * 2 / 3);
  fail_unless (french < english * 9 / 10, "en: %" G_GUINT64_FORMAT ", fr: %" G_GUINT64_FORMAT " samples",
      english, french);
}

GST_END_TEST;

GST_START_TEST (test_speechout_interrupt)
{
  GstHarness *h = speech_harness (NULL);
  GstBus *bus = gst_bus_new ();
  Audio a = { 0 };
  PrimaSpeechInfo info;
  GstEvent *ev;
  guint64 before;

  gst_element_set_bus (h->element, bus);
  fail_unless_equals_int (push_text (h, "The first sentence is spoken. The second one waits"), GST_FLOW_OK);
  fail_unless_equals_int (pull_audio (h, &a), 1);
  before = a.samples;
  pop_speech (bus);

  /* barge-in: the interrupt passes upstream, and the waiting text and the
   * rest of the turn are dropped */
  fail_unless (gst_harness_push_upstream_event (h, prima_event_new_interrupt ()));
  while ((ev = gst_harness_try_pull_upstream_event (h)) != NULL && !prima_event_is_interrupt (ev))
    gst_event_unref (ev);
  fail_unless (ev != NULL, "the interrupt did not pass upstream");
  gst_event_unref (ev);
  fail_unless_equals_int (push_text (h, " for its end. And a third one. "), GST_FLOW_OK);
  end_turn (h);
  fail_unless_equals_int (pull_audio (h, &a), 0);
  fail_unless_equals_uint64 (a.samples, before);
  info = pop_speech (bus);
  fail_unless (info.end && info.interrupted);
  fail_unless_equals_uint64 (info.samples, before);

  /* the next turn is spoken */
  fail_unless_equals_int (push_text (h, "A new answer."), GST_FLOW_OK);
  end_turn (h);
  fail_unless_equals_int (pull_audio (h, &a), 1);
  info = pop_speech (bus);
  fail_unless (!info.end && info.turn == 1);
  info = pop_speech (bus);
  fail_unless (info.end && !info.interrupted && info.turn == 1);

  /* a flush drops the waiting text too */
  fail_unless_equals_int (push_text (h, "Text that waits"), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  while ((ev = gst_harness_try_pull_event (h)) != NULL)
    gst_event_unref (ev);
  {
    GstSegment segment;

    gst_segment_init (&segment, GST_FORMAT_BYTES);
    fail_unless (gst_harness_push_event (h, gst_event_new_segment (&segment)));
  }
  end_turn (h);
  fail_unless_equals_int (pull_audio (h, &a), 0);
  assert_no_speech (bus);

  /* after the flush a new segment, where the audio goes on */
  fail_unless_equals_int (push_text (h, "After the flush.\n"), GST_FLOW_OK);
  while ((ev = gst_harness_try_pull_event (h)) != NULL && GST_EVENT_TYPE (ev) != GST_EVENT_SEGMENT)
    gst_event_unref (ev);
  fail_unless (ev != NULL, "no segment after the flush");
  {
    const GstSegment *segment;

    gst_event_parse_segment (ev, &segment);
    fail_unless_equals_int (segment->format, GST_FORMAT_TIME);
    fail_unless_equals_uint64 (segment->start, a.next_pts);
  }
  gst_event_unref (ev);
  fail_unless_equals_int (pull_audio (h, &a), 1);

  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Barge-in down the chain: an answer that ends "interrupted" (primaloop
 * saw prima-speech-started) does not say the rest of its text; the
 * speech-started event after it flushes the audio queued downstream only
 * with flush-on-speech (a file would be emptied), and goes no further. */
GST_START_TEST (test_speechout_barge_in)
{
  for (gint flush = 0; flush < 2; flush++) {
    GstHarness *h = speech_harness ("flush-on-speech", (gboolean) flush, NULL);
    GstBus *bus = gst_bus_new ();
    Audio a = { 0 };
    PrimaSpeechInfo info;
    GstEvent *ev;
    guint64 before;
    gboolean flushed = FALSE, passed = FALSE;

    gst_element_set_bus (h->element, bus);
    fail_unless_equals_int (push_text (h, "The first sentence is spoken. The second one was"), GST_FLOW_OK);
    fail_unless_equals_int (pull_audio (h, &a), 1);
    before = a.samples;
    pop_speech (bus);
    fail_unless (gst_harness_push_event (h, prima_event_new_end_of_turn ("interrupted")));
    fail_unless_equals_int (pull_audio (h, &a), 0);
    fail_unless_equals_uint64 (a.samples, before);
    info = pop_speech (bus);
    fail_unless (info.end && info.interrupted);
    fail_unless (gst_harness_push_event (h, prima_event_new_speech_started (3 * GST_SECOND)));
    while ((ev = gst_harness_try_pull_event (h)) != NULL) {
      flushed |= GST_EVENT_TYPE (ev) == GST_EVENT_FLUSH_STOP;
      passed |= prima_event_is_speech_started (ev);
      gst_event_unref (ev);
    }
    fail_unless_equals_int (flushed, flush);
    fail_if (passed, "prima-speech-started went on downstream of the audio");
    /* the next answer is spoken, its segment where the audio goes on */
    fail_unless_equals_int (push_text (h, "The next answer."), GST_FLOW_OK);
    end_turn (h);
    fail_unless_equals_int (pull_audio (h, &a), 1);
    gst_element_set_bus (h->element, NULL);
    gst_object_unref (bus);
    gst_harness_teardown (h);
  }
}

GST_END_TEST;

GST_START_TEST (test_speechout_bad_voice)
{
  GstElement *element = gst_element_factory_make ("primaspeechout", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  GError *error = NULL;

  g_object_set (element, "voice", "no-such-voice", NULL);
  gst_element_set_bus (element, bus);
  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (m != NULL, "no error message");
  gst_message_parse_error (m, &error, NULL);
  fail_unless (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND));
  fail_unless (strstr (error->message, "no-such-voice") != NULL, "%s", error->message);
  g_error_free (error);
  gst_message_unref (m);
  gst_element_set_state (element, GST_STATE_NULL);
  gst_element_set_bus (element, NULL);
  gst_object_unref (bus);
  gst_object_unref (element);
}

GST_END_TEST;

/* In the chat pipeline (the tiny model): the answer's first sentence is
 * heard before its generation ends. Without a queue the speech runs in the
 * generation's thread, so the order of the messages is the order of events. */
GST_START_TEST (test_speechout_chat_pipeline)
{
  gchar *model = model_path ();
  gchar *question = NULL;
  gint fd = g_file_open_tmp ("prima-question-XXXXXX", &question, NULL);
  gchar *desc;
  GstElement *pipeline;
  GstBus *bus;
  GstMessage *m;
  gint first_audio = -1, turn = -1, end = -1, i = 0;
  PrimaSpeechInfo info, end_info = { 0 };
  gboolean done = FALSE;

  fail_unless (fd >= 0);
  fail_unless (write (fd, "Tell me a story\n", 16) == 16);
  close (fd);
  desc = g_strdup_printf ("filesrc location=%s ! primatokenizer chat=true model=%s ! primaloop n-predict=100 "
      "! primalayers ! primasampler temperature=0 ! tee name=t t. ! primadetokenizer ! primaspeechout "
      "! fakesink t. ! primafeedback", question, model);
  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  while (!done && (m = gst_bus_timed_pop (bus, 60 * GST_SECOND)) != NULL) {
    i++;
    if (prima_message_parse_speech (m, &info)) {
      if (!info.end && first_audio < 0)
        first_audio = i;
      else if (info.end) {
        end = i;
        end_info = info;
      }
    } else if (prima_message_is_turn (m) && turn < 0)
      turn = i;
    else if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR)
      fail ("error from %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)));
    else if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS)
      done = TRUE;
    gst_message_unref (m);
  }
  fail_unless (done, "the chat did not end");
  fail_unless (first_audio > 0 && turn > 0 && end > 0, "first audio %d, turn %d, end %d", first_audio, turn, end);
  fail_unless (first_audio < turn, "the first audio left after the generation ended");
  fail_unless (end > turn);
  fail_unless (end_info.samples > 0 && !end_info.interrupted);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_unlink (question);
  g_free (question);
  g_free (desc);
  g_free (model);
}

GST_END_TEST;

/* Without espeak-ng's data the element fails at READY, naming the package (a
 * process of its own: the engine is initialized once per process). */
GST_START_TEST (test_speechout_no_data)
{
  gchar *dir = g_dir_make_tmp ("prima-espeak-XXXXXX", NULL);
  gchar *data = g_build_filename (dir, "espeak-ng-data", NULL);
  const gchar *launch = g_getenv ("GST_LAUNCH");
  gchar *argv[] = { (gchar *) (launch ? launch : "gst-launch-1.0"), "fakesrc", "num-buffers=1", "!",
    "primaspeechout", "!", "fakesink", NULL
  };
  gchar **envp = g_environ_setenv (g_get_environ (), "ESPEAK_DATA_PATH", dir, TRUE);
  gchar *out = NULL, *err = NULL;
  gint status;

  /* an empty data folder: espeak-ng takes ESPEAK_DATA_PATH only where it exists */
  fail_unless (g_mkdir (data, 0700) == 0);
  fail_unless (g_spawn_sync (NULL, argv, envp, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, NULL));
  fail_if (g_spawn_check_wait_status (status, NULL), "it ran without espeak-ng's data");
  fail_unless (strstr (out, "espeak-ng-data") != NULL || strstr (err, "espeak-ng-data") != NULL, "%s%s", out, err);
  g_rmdir (data);
  g_rmdir (dir);
  g_free (out);
  g_free (err);
  g_strfreev (envp);
  g_free (data);
  g_free (dir);
}

GST_END_TEST;

static Suite *
primaspeechout_suite (void)
{
  Suite *s = suite_create ("primaspeechout");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_speechout_sentences_stream);
  tcase_add_test (tc, test_speechout_duration_grows);
  tcase_add_test (tc, test_speechout_properties);
  tcase_add_test (tc, test_speechout_interrupt);
  tcase_add_test (tc, test_speechout_barge_in);
  tcase_add_test (tc, test_speechout_bad_voice);
  tcase_add_test (tc, test_speechout_no_data);
  tcase_add_test (tc, test_speechout_chat_pipeline);
  return s;
}

/* Speech is optional at build time: without libespeak-ng the plugin has no
 * primaspeechout, and the test is skipped (exit 77) saying what to install. */
int
main (int argc, char **argv)
{
  gchar *core_dir = gst_test_add_core_plugin ();
  GstElementFactory *factory;
  int failed;

  gst_check_init (&argc, &argv);
  factory = gst_element_factory_find ("primaspeechout");
  if (factory == NULL) {
    g_print ("SKIP: the plugin has no primaspeechout: gst-prima was built without libespeak-ng "
        "(Debian package libespeak-ng-dev)\n");
    gst_test_remove_core_plugin (core_dir);
    return 77;
  }
  gst_object_unref (factory);
  failed = gst_check_run_suite (primaspeechout_suite (), "primaspeechout", __FILE__);
  gst_test_remove_core_plugin (core_dir);
  return failed;
}
