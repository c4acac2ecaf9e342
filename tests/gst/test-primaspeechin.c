/* gst-prima tests: primaspeechin: spoken questions (synthesized with espeak-ng
 * at test time) become one line of text each, equal to pocketsphinx's own
 * transcript, after a prima-speech-started event and with a prima-utterance
 * message; silence gives nothing; a missing model is an error naming its
 * Debian package. Skipped (77) without libpocketsphinx, its en-us model or
 * espeak-ng.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include <string.h>
#include <glib/gstdio.h>

#ifdef PRIMA_HAVE_POCKETSPHINX
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

#define RATE 16000
#define Q1 "what is the color of the sky"
#define Q2 "how far away is the moon"

/* ---- audio: espeak-ng's WAV, resampled to 16 kHz by audioresample ---- */

/* espeak-ng -w FILE TEXT: its samples (S16LE mono) and rate. */
static GArray *
synthesize (const gchar * text, gint * rate)
{
  gchar *dir = g_dir_make_tmp ("prima-speechin-XXXXXX", NULL), *wav = g_build_filename (dir, "q.wav", NULL);
  const gchar *argv[] = { "espeak-ng", "-w", wav, text, NULL };
  gchar *out = NULL;
  gsize len = 0, off = 12;
  gint status;
  GError *error = NULL;
  GArray *samples = NULL;

  fail_unless (g_spawn_sync (NULL, (gchar **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
          G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, &error), "espeak-ng: %s",
      error ? error->message : "");
  fail_unless (g_spawn_check_wait_status (status, NULL), "espeak-ng failed");
  fail_unless (g_file_get_contents (wav, &out, &len, NULL));
  g_unlink (wav);
  g_rmdir (dir);
  g_free (wav);
  g_free (dir);
  fail_unless (len > 44 && memcmp (out, "RIFF", 4) == 0 && memcmp (out + 8, "WAVE", 4) == 0, "not a WAV file");
  while (off + 8 <= len) {
    const guint8 *p = (const guint8 *) out + off;
    guint32 size = GST_READ_UINT32_LE (p + 4);

    if (memcmp (p, "fmt ", 4) == 0) {
      fail_unless_equals_int (GST_READ_UINT16_LE (p + 8), 1);   /* PCM */
      fail_unless_equals_int (GST_READ_UINT16_LE (p + 10), 1);  /* mono */
      *rate = GST_READ_UINT32_LE (p + 12);
      fail_unless_equals_int (GST_READ_UINT16_LE (p + 22), 16);
    } else if (memcmp (p, "data", 4) == 0) {
      gsize n = MIN ((gsize) size, len - off - 8) / 2;

      samples = g_array_sized_new (FALSE, FALSE, 2, n);
      for (gsize i = 0; i < n; i++) {
        gint16 s = GST_READ_UINT16_LE (p + 8 + 2 * i);
        g_array_append_val (samples, s);
      }
      break;
    }
    off += 8 + size + (size & 1);
  }
  fail_unless (samples != NULL && samples->len > 0, "no audio from espeak-ng");
  g_free (out);
  return samples;
}

static void
append_silence (GArray * samples, gint rate, gdouble seconds)
{
  guint n = (guint) (rate * seconds);

  for (guint i = 0; i < n; i++) {
    gint16 s = 0;
    g_array_append_val (samples, s);
  }
}

/* The samples at 16 kHz, through GStreamer's audioresample. */
static GArray *
resample (GArray * in, gint rate)
{
  GstHarness *h = gst_harness_new_parse ("audioresample");
  GArray *out = g_array_new (FALSE, FALSE, 2);
  gchar *caps = g_strdup_printf ("audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate=%d", rate);
  GstBuffer *buf;

  gst_harness_set_src_caps_str (h, caps);
  gst_harness_set_sink_caps_str (h, "audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate=16000");
  buf = gst_buffer_new_memdup (in->data, in->len * 2);
  GST_BUFFER_PTS (buf) = 0;
  fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while ((buf = gst_harness_try_pull (h)) != NULL) {
    GstMapInfo map;

    gst_buffer_map (buf, &map, GST_MAP_READ);
    g_array_append_vals (out, map.data, map.size / 2);
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
  }
  gst_harness_teardown (h);
  g_free (caps);
  return out;
}

/* A spoken text at 16 kHz, with `lead` seconds of silence before and
 * `tail` after. */
static GArray *
spoken (const gchar * text, gdouble lead, gdouble tail)
{
  gint rate = 0;
  GArray *speech = synthesize (text, &rate), *all = g_array_new (FALSE, FALSE, 2), *out;

  append_silence (all, rate, lead);
  g_array_append_vals (all, speech->data, speech->len);
  append_silence (all, rate, tail);
  out = resample (all, rate);
  g_array_unref (speech);
  g_array_unref (all);
  return out;
}

/* ---- the reference: pocketsphinx's own transcript, the whole audio as one
 * batch utterance ---- */

static void
quiet_log (void *user_data, err_lvl_t level, const char *fmt, ...)
{
}

/* The utterances pocketsphinx_continuous -infile prints (the program is not
 * in Debian's packages): its loop, over the library with its default
 * configuration, reading 2048 samples at a time. */
static GPtrArray *
pocketsphinx_transcripts (GArray * samples)
{
  const gchar *dir = "/usr/share/pocketsphinx/model/en-us";
  gchar *hmm = g_build_filename (dir, "en-us", NULL), *lm = g_build_filename (dir, "en-us.lm.bin", NULL);
  gchar *dict = g_build_filename (dir, "cmudict-en-us.dict", NULL);
  GPtrArray *texts = g_ptr_array_new_with_free_func (g_free);
  gboolean utt_started = FALSE;
  cmd_ln_t *config;
  ps_decoder_t *ps;
  const char *hyp;

  err_set_callback (quiet_log, NULL);
  config = cmd_ln_init (NULL, ps_args (), TRUE, "-hmm", hmm, "-lm", lm, "-dict", dict, NULL);
  fail_unless (config != NULL);
  ps = ps_init (config);
  fail_unless (ps != NULL);
  ps_start_utt (ps);
  for (guint i = 0; i < samples->len; i += 2048) {
    ps_process_raw (ps, (const int16 *) samples->data + i, MIN (2048, samples->len - i), FALSE, FALSE);
    if (ps_get_in_speech (ps) && !utt_started)
      utt_started = TRUE;
    if (!ps_get_in_speech (ps) && utt_started) {
      ps_end_utt (ps);
      hyp = ps_get_hyp (ps, NULL);
      if (hyp && *hyp)
        g_ptr_array_add (texts, g_strdup (hyp));
      ps_start_utt (ps);
      utt_started = FALSE;
    }
  }
  ps_end_utt (ps);
  if (utt_started) {
    hyp = ps_get_hyp (ps, NULL);
    if (hyp && *hyp)
      g_ptr_array_add (texts, g_strdup (hyp));
  }
  ps_free (ps);
  cmd_ln_free_r (config);
  g_free (hmm);
  g_free (lm);
  g_free (dict);
  return texts;
}

/* ---- the element in a harness ---- */

typedef struct
{
  GString *order;               /* what left the src pad: "S" a speech start, "T" a text */
  GPtrArray *texts;
  GArray *pts;                  /* the texts' timestamps */
} Seen;

static GstPadProbeReturn
record (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Seen *seen = user_data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    GstMapInfo map;

    gst_buffer_map (buf, &map, GST_MAP_READ);
    g_ptr_array_add (seen->texts, g_strndup ((const gchar *) map.data, map.size));
    g_array_append_val (seen->pts, GST_BUFFER_PTS (buf));
    gst_buffer_unmap (buf, &map);
    g_string_append_c (seen->order, 'T');
  } else if (prima_event_is_speech_started (GST_PAD_PROBE_INFO_EVENT (info))) {
    g_string_append_c (seen->order, 'S');
  }
  return GST_PAD_PROBE_OK;
}

/* Runs the samples through primaspeechin in buffers of `block` samples,
 * then EOS; fills seen and returns the prima-utterance messages. */
static GList *
recognize_in (GArray * samples, guint block, Seen * seen, gdouble * seconds)
{
  GstHarness *h = gst_harness_new ("primaspeechin");
  GstBus *bus = gst_bus_new ();
  GstPad *src = gst_element_get_static_pad (h->element, "src");
  GList *messages = NULL;
  GstMessage *m;
  gint64 t0;

  seen->order = g_string_new (NULL);
  seen->texts = g_ptr_array_new_with_free_func (g_free);
  seen->pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime));
  gst_element_set_bus (h->element, bus);
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, record, seen, NULL);
  gst_harness_set_src_caps_str (h, "audio/x-raw,format=S16LE,layout=interleaved,channels=1,rate=16000");
  t0 = g_get_monotonic_time ();
  for (guint i = 0; i < samples->len; i += block) {
    guint n = MIN (block, samples->len - i);
    GstBuffer *buf = gst_buffer_new_memdup ((const gint16 *) samples->data + i, n * 2);

    GST_BUFFER_PTS (buf) = gst_util_uint64_scale_int (i, GST_SECOND, RATE);
    GST_BUFFER_DURATION (buf) = gst_util_uint64_scale_int (n, GST_SECOND, RATE);
    fail_unless_equals_int (gst_harness_push (h, buf), GST_FLOW_OK);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  *seconds = (g_get_monotonic_time () - t0) / 1e6;
  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT)) != NULL) {
    if (prima_message_is_utterance (m))
      messages = g_list_append (messages, m);
    else
      gst_message_unref (m);
  }
  gst_object_unref (src);
  gst_element_set_bus (h->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (h);
  return messages;
}

/* in 100 ms buffers */
static GList *
recognize (GArray * samples, Seen * seen, gdouble * seconds)
{
  return recognize_in (samples, RATE / 10, seen, seconds);
}

static void
seen_clear (Seen * seen)
{
  g_string_free (seen->order, TRUE);
  g_ptr_array_unref (seen->texts);
  g_array_unref (seen->pts);
}

/* The utterance message matches the text (and its buffer's timestamp: the
 * harness's segment starts at 0) and lies within [lo, hi]. */
static void
check_message (GstMessage * m, const gchar * text, GstClockTime pts, GstClockTime lo, GstClockTime hi)
{
  PrimaUtteranceInfo u;

  fail_unless (prima_message_parse_utterance (m, &u));
  fail_unless_equals_uint64 (u.start, pts);
  fail_unless_equals_string (u.text, text);
  fail_unless (u.confidence >= 0.0 && u.confidence <= 1.0, "confidence %f", u.confidence);
  fail_unless (GST_CLOCK_TIME_IS_VALID (u.start) && GST_CLOCK_TIME_IS_VALID (u.end));
  fail_unless (lo <= u.start && u.start < u.end && u.end <= hi,
      "utterance %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT " outside %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT,
      GST_TIME_ARGS (u.start), GST_TIME_ARGS (u.end), GST_TIME_ARGS (lo), GST_TIME_ARGS (hi));
}

static gdouble
duration_of (GArray * samples)
{
  return (gdouble) samples->len / RATE;
}

GST_START_TEST (test_speechin_one_question)
{
  GArray *samples = spoken (Q1, 0.5, 0.8);
  GPtrArray *ref = pocketsphinx_transcripts (samples);
  gchar *want, *line;
  gdouble seconds;
  Seen seen;
  GList *messages = recognize (samples, &seen, &seconds);

  fail_unless_equals_int (ref->len, 1);
  want = g_ptr_array_index (ref, 0);

  g_print ("# one question: pocketsphinx heard \"%s\"; %.2f s of audio recognized in %.3f s (%.2fx real time)\n",
      want, duration_of (samples), seconds, seconds / duration_of (samples));
  fail_unless (*want != '\0', "pocketsphinx heard nothing in the question");
  fail_unless_equals_string (seen.order->str, "ST");
  line = g_strconcat (want, "\n", NULL);
  fail_unless_equals_string (g_ptr_array_index (seen.texts, 0), line);
  fail_unless_equals_int (g_list_length (messages), 1);
  check_message (messages->data, want, g_array_index (seen.pts, GstClockTime, 0), 0.3 * GST_SECOND,
      (GstClockTime) (duration_of (samples) * GST_SECOND));

  /* the same from 10 ms buffers: the decoder hears the same chunks */
  {
    Seen small;
    GList *again = recognize_in (samples, RATE / 100, &small, &seconds);

    fail_unless_equals_string (small.order->str, "ST");
    fail_unless_equals_string (g_ptr_array_index (small.texts, 0), line);
    fail_unless_equals_uint64 (g_array_index (small.pts, GstClockTime, 0), g_array_index (seen.pts, GstClockTime, 0));
    g_list_free_full (again, (GDestroyNotify) gst_message_unref);
    seen_clear (&small);
  }

  g_list_free_full (messages, (GDestroyNotify) gst_message_unref);
  seen_clear (&seen);
  g_free (line);
  g_ptr_array_unref (ref);
  g_array_unref (samples);
}

GST_END_TEST;

GST_START_TEST (test_speechin_two_questions)
{
  GArray *a = spoken (Q1, 0.5, 0.5), *b = spoken (Q2, 0.5, 0.8), *both = g_array_new (FALSE, FALSE, 2);
  GPtrArray *ref;
  gchar *want_a, *want_b, *line;
  GstClockTime split;
  gdouble seconds;
  GList *messages;
  Seen seen;

  /* 1 s of silence between the questions */
  g_array_append_vals (both, a->data, a->len);
  g_array_append_vals (both, b->data, b->len);
  split = (GstClockTime) (duration_of (a) * GST_SECOND);
  ref = pocketsphinx_transcripts (both);
  fail_unless_equals_int (ref->len, 2);
  want_a = g_ptr_array_index (ref, 0);
  want_b = g_ptr_array_index (ref, 1);
  messages = recognize (both, &seen, &seconds);
  g_print ("# two questions: \"%s\", \"%s\"; %.2f s of audio in %.3f s\n", want_a, want_b, duration_of (both),
      seconds);
  fail_unless (*want_a != '\0' && *want_b != '\0');
  fail_unless_equals_string (seen.order->str, "STST");
  line = g_strconcat (want_a, "\n", NULL);
  fail_unless_equals_string (g_ptr_array_index (seen.texts, 0), line);
  g_free (line);
  line = g_strconcat (want_b, "\n", NULL);
  fail_unless_equals_string (g_ptr_array_index (seen.texts, 1), line);
  g_free (line);
  fail_unless_equals_int (g_list_length (messages), 2);
  check_message (messages->data, want_a, g_array_index (seen.pts, GstClockTime, 0), 0, split);
  check_message (messages->next->data, want_b, g_array_index (seen.pts, GstClockTime, 1), split,
      (GstClockTime) (duration_of (both) * GST_SECOND));

  g_list_free_full (messages, (GDestroyNotify) gst_message_unref);
  seen_clear (&seen);
  g_ptr_array_unref (ref);
  g_array_unref (a);
  g_array_unref (b);
  g_array_unref (both);
}

GST_END_TEST;

GST_START_TEST (test_speechin_silence)
{
  GArray *samples = g_array_new (FALSE, FALSE, 2);
  gdouble seconds;
  GList *messages;
  Seen seen;

  append_silence (samples, RATE, 3.0);
  messages = recognize (samples, &seen, &seconds);
  fail_unless_equals_string (seen.order->str, "");
  fail_unless (messages == NULL);
  seen_clear (&seen);
  g_array_unref (samples);
}

GST_END_TEST;

/* The question ends with the stream, without a silence after it: EOS ends
 * the utterance. */
GST_START_TEST (test_speechin_eos_flushes)
{
  GArray *samples = spoken (Q1, 0.5, 0.0);
  gdouble seconds;
  GList *messages;
  Seen seen;

  messages = recognize (samples, &seen, &seconds);
  fail_unless_equals_string (seen.order->str, "ST");
  fail_unless (strlen (g_ptr_array_index (seen.texts, 0)) > 1);
  fail_unless_equals_int (g_list_length (messages), 1);
  g_list_free_full (messages, (GDestroyNotify) gst_message_unref);
  seen_clear (&seen);
  g_array_unref (samples);
}

GST_END_TEST;

GST_START_TEST (test_speechin_missing_model)
{
  GstElement *e = gst_element_factory_make ("primaspeechin", NULL);
  GstBus *bus = gst_bus_new ();
  GError *error = NULL;
  GstMessage *m;

  g_object_set (e, "hmm", "/nonexistent/en-us", NULL);
  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (m != NULL);
  gst_message_parse_error (m, &error, NULL);
  fail_unless (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND));
  fail_unless (strstr (error->message, "pocketsphinx-en-us") != NULL, "%s", error->message);
  fail_unless (strstr (error->message, "/nonexistent/en-us") != NULL, "%s", error->message);
  g_error_free (error);
  gst_message_unref (m);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_element_set_bus (e, NULL);
  gst_object_unref (bus);
  gst_object_unref (e);
}

GST_END_TEST;

static Suite *
primaspeechin_suite (void)
{
  Suite *s = suite_create ("primaspeechin");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_speechin_one_question);
  tcase_add_test (tc, test_speechin_two_questions);
  tcase_add_test (tc, test_speechin_silence);
  tcase_add_test (tc, test_speechin_eos_flushes);
  tcase_add_test (tc, test_speechin_missing_model);
  return s;
}

/* What this test needs beyond the build; NULL when all is there. */
static gchar *
missing (void)
{
  const gchar *core = g_getenv ("PRIMA_GST_CORE_PLUGIN");
  gchar *path, *espeak;
  GstPluginFeature *f;

  if (!g_file_test ("/usr/share/pocketsphinx/model/en-us/en-us/mdef", G_FILE_TEST_IS_REGULAR))
    return g_strdup ("the pocketsphinx en-us model is not installed (Debian package pocketsphinx-en-us)");
  espeak = g_find_program_in_path ("espeak-ng");
  if (espeak == NULL)
    return g_strdup ("espeak-ng is not installed (Debian package espeak-ng)");
  g_free (espeak);
  f = gst_registry_lookup_feature (gst_registry_get (), "primaspeechin");
  if (f == NULL)
    return g_strdup ("the plugin has no primaspeechin");
  gst_object_unref (f);
  /* audioresample (gstreamer1.0-plugins-base) beside the core elements: the
   * test environment loads no system plugin by itself */
  if (core == NULL)
    return g_strdup ("PRIMA_GST_CORE_PLUGIN is not set");
  {
    gchar *dir = g_path_get_dirname (core);

    path = g_build_filename (dir, "libgstaudioresample.so", NULL);
    g_free (dir);
  }
  {
    GstPlugin *p = gst_plugin_load_file (path, NULL);

    if (p == NULL) {
      gchar *why = g_strdup_printf ("%s cannot be loaded (Debian package gstreamer1.0-plugins-base)", path);

      g_free (path);
      return why;
    }
    gst_registry_add_plugin (gst_registry_get (), p);
  }
  g_free (path);
  return NULL;
}

int
main (int argc, char **argv)
{
  gchar *core_dir = gst_test_add_core_plugin ();
  gchar *why;
  int failed;

  gst_check_init (&argc, &argv);
  why = missing ();
  if (why) {
    g_print ("SKIP: %s\n", why);
    g_free (why);
    gst_test_remove_core_plugin (core_dir);
    return 77;
  }
  failed = gst_check_run_suite (primaspeechin_suite (), "primaspeechin", __FILE__);
  gst_test_remove_core_plugin (core_dir);
  return failed;
}

#else

int
main (void)
{
  g_print ("SKIP: gst-prima was built without libpocketsphinx (Debian package libpocketsphinx-dev)\n");
  return 77;
}

#endif
