/* gst-prima tests: the protocol header (elements/prima-events.h): every custom
 * event, message and query through new / parse / is; primalayers' GEnum
 * properties from a gst-launch string; its prima-loading messages, and the
 * progress line `prima run` makes of them.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <string.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "residency.h"
#include "gst-test-common.h"

/* Each event is of its own kind only: the is functions of the others say no. */
typedef gboolean (*IsEvent) (GstEvent * event);
static const struct
{
  const gchar *name;
  IsEvent is;
} event_kinds[] = {
  {PRIMA_EVENT_KV_CLEAR, prima_event_is_kv_clear},
  {PRIMA_EVENT_KV_REMOVE, prima_event_is_kv_remove},
  {PRIMA_EVENT_KV_SHIFT, prima_event_is_kv_shift},
  {PRIMA_EVENT_KV_SHIFTED, prima_event_is_kv_shifted},
  {PRIMA_EVENT_END_OF_TURN, prima_event_is_end_of_turn},
  {PRIMA_EVENT_ANSWER, prima_event_is_answer},
  {PRIMA_EVENT_INTERRUPT, prima_event_is_interrupt},
  {PRIMA_EVENT_DEVICE_FAILED, prima_event_is_device_failed},
  {PRIMA_EVENT_RING_PLAN, prima_event_is_ring_plan},
  {PRIMA_EVENT_RING_FAILURE, prima_event_is_ring_failure},
  {PRIMA_EVENT_RING_CONTROL, prima_event_is_ring_control},
  {PRIMA_EVENT_RING_SUSPEND, prima_event_is_ring_suspend},
  {PRIMA_EVENT_RING_RESUME, prima_event_is_ring_resume},
  {PRIMA_EVENT_SPEECH_STARTED, prima_event_is_speech_started},
};

static void
assert_only (GstEvent * event, const gchar * name, gboolean serialized, gboolean downstream)
{
  fail_unless (GST_EVENT_IS_SERIALIZED (event) == serialized, "%s: serialized", name);
  fail_unless (downstream ? GST_EVENT_IS_DOWNSTREAM (event) : GST_EVENT_IS_UPSTREAM (event), "%s: direction", name);
  fail_unless (gst_event_has_name (event, name));
  for (guint i = 0; i < G_N_ELEMENTS (event_kinds); i++)
    fail_unless (event_kinds[i].is (event) == (strcmp (event_kinds[i].name, name) == 0), "%s is %s", name,
        event_kinds[i].name);
}

GST_START_TEST (test_kv_events)
{
  GstEvent *e;
  gint seq = 0, p0 = 0, p1 = 0, delta = 0, n_keep = 0, n_discard = 0;

  e = prima_event_new_kv_clear ();
  assert_only (e, PRIMA_EVENT_KV_CLEAR, TRUE, TRUE);
  gst_event_unref (e);

  e = prima_event_new_kv_remove (3, 10, -1);
  assert_only (e, PRIMA_EVENT_KV_REMOVE, TRUE, TRUE);
  fail_unless (prima_event_parse_kv_remove (e, &seq, &p0, &p1));
  fail_unless (seq == 3 && p0 == 10 && p1 == -1);
  fail_unless (prima_event_parse_kv_remove (e, NULL, NULL, NULL));
  fail_if (prima_event_parse_kv_shift (e, &seq, &p0, &p1, &delta));
  gst_event_unref (e);

  e = prima_event_new_kv_shift (-1, 20, 40, -7);
  assert_only (e, PRIMA_EVENT_KV_SHIFT, TRUE, TRUE);
  fail_unless (prima_event_parse_kv_shift (e, &seq, &p0, &p1, &delta));
  fail_unless (seq == -1 && p0 == 20 && p1 == 40 && delta == -7);
  fail_if (prima_event_parse_kv_remove (e, &seq, &p0, &p1));
  gst_event_unref (e);

  e = prima_event_new_kv_shifted (4, 12);
  assert_only (e, PRIMA_EVENT_KV_SHIFTED, FALSE, FALSE);
  fail_unless (prima_event_parse_kv_shifted (e, &n_keep, &n_discard));
  fail_unless (n_keep == 4 && n_discard == 12);
  gst_event_unref (e);
  fail_unless_equals_int (prima_kv_shifted_position (20, 4, 12), 8);
  fail_unless_equals_int (prima_kv_shifted_position (10, 4, 12), 4);
  fail_unless_equals_int (prima_kv_shifted_position (2, 4, 12), 2);
}

GST_END_TEST;

GST_START_TEST (test_turn_events)
{
  const gint32 ids[] = { 5, 6, 7 };
  GstBuffer *buf = prima_tokens_buffer_new (ids, 3, 40, 0, 0), *got = NULL;
  const gchar *reason = (const gchar *) 1;
  gint position = 0;
  gboolean refused = TRUE;
  GstEvent *e;
  GstMapInfo map;
  PrimaHeader h;

  e = prima_event_new_end_of_turn (NULL);
  assert_only (e, PRIMA_EVENT_END_OF_TURN, TRUE, TRUE);
  fail_unless (prima_event_parse_end_of_turn (e, &reason));
  fail_unless (reason == NULL);
  gst_event_unref (e);
  e = prima_event_new_end_of_turn ("n-predict");
  fail_unless (prima_event_parse_end_of_turn (e, &reason));
  fail_unless_equals_string (reason, "n-predict");
  gst_event_unref (e);

  e = prima_event_new_answer (buf, 43);
  assert_only (e, PRIMA_EVENT_ANSWER, FALSE, FALSE);
  fail_unless (prima_event_parse_answer (e, &got, &position, &refused));
  fail_unless (got != NULL && position == 43 && !refused);
  fail_unless (gst_buffer_map (got, &map, GST_MAP_READ));
  fail_unless (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_TOKENS, &h));
  fail_unless (h.n_tokens == 3 && h.pos0 == 40 && memcmp (map.data + PRIMA_HEADER_SIZE, ids, sizeof ids) == 0);
  gst_buffer_unmap (got, &map);
  gst_buffer_unref (got);
  e = prima_event_answer_set_refused (e);
  assert_only (e, PRIMA_EVENT_ANSWER, FALSE, FALSE);
  fail_unless (prima_event_parse_answer (e, NULL, &position, &refused));
  fail_unless (position == 43 && refused);
  gst_event_unref (e);
  gst_buffer_unref (buf);

  e = prima_event_new_interrupt ();
  assert_only (e, PRIMA_EVENT_INTERRUPT, FALSE, FALSE);
  gst_event_unref (e);

  /* barge-in, in order with the text (serialized) */
  {
    GstClockTime at = 0;

    e = prima_event_new_speech_started (1500 * GST_MSECOND);
    assert_only (e, PRIMA_EVENT_SPEECH_STARTED, TRUE, TRUE);
    fail_unless (prima_event_parse_speech_started (e, &at));
    fail_unless_equals_uint64 (at, 1500 * GST_MSECOND);
    gst_event_unref (e);
    e = prima_event_new_speech_started (GST_CLOCK_TIME_NONE);
    fail_unless (prima_event_parse_speech_started (e, &at));
    fail_unless (at == GST_CLOCK_TIME_NONE);
    fail_if (prima_event_parse_end_of_turn (e, NULL));
    gst_event_unref (e);
  }
}

GST_END_TEST;

GST_START_TEST (test_ring_events)
{
  const gchar *json = NULL, *windows = NULL, *message = NULL;
  gint rank = 0, n_layer = 0, n_ctx = 0, lost = 0;
  GstEvent *e;

  e = prima_event_new_device_failed (2, "NaN in layer 3");
  assert_only (e, PRIMA_EVENT_DEVICE_FAILED, FALSE, FALSE);
  fail_unless (prima_event_parse_device_failed (e, &rank, &message));
  fail_unless (rank == 2);
  fail_unless_equals_string (message, "NaN in layer 3");
  gst_event_unref (e);
  e = prima_event_new_device_failed (-1, NULL);
  fail_unless (prima_event_parse_device_failed (e, &rank, &message));
  fail_unless (rank == -1);
  fail_unless_equals_string (message, "unknown error");
  gst_event_unref (e);

  e = prima_event_new_ring_plan ("{\"type\":\"plan\"}", 1, "2-4,6-8", 8, 512);
  assert_only (e, PRIMA_EVENT_RING_PLAN, TRUE, TRUE);
  fail_unless (prima_event_parse_ring_plan (e, &json, &rank, &windows, &n_layer, &n_ctx));
  fail_unless_equals_string (json, "{\"type\":\"plan\"}");
  fail_unless_equals_string (windows, "2-4,6-8");
  fail_unless (rank == 1 && n_layer == 8 && n_ctx == 512);
  fail_unless (prima_event_parse_ring_plan (e, NULL, NULL, NULL, NULL, NULL));
  gst_event_unref (e);

  e = prima_event_new_ring_failure (3, "rank 3 failed");
  assert_only (e, PRIMA_EVENT_RING_FAILURE, TRUE, TRUE);
  fail_unless (prima_event_parse_ring_failure (e, &rank, &message));
  fail_unless (rank == 3);
  fail_unless_equals_string (message, "rank 3 failed");
  /* made without a lost rank: unknown */
  rank = 0;
  fail_unless (prima_event_parse_ring_failure_lost (e, &rank, &lost, NULL));
  fail_unless (rank == 3 && lost == -1);
  gst_event_unref (e);
  e = prima_event_new_ring_failure_lost (-1, 2, "rank 2 at 127.0.0.1:9002 disconnected");
  assert_only (e, PRIMA_EVENT_RING_FAILURE, TRUE, TRUE);
  fail_unless (prima_event_parse_ring_failure_lost (e, &rank, &lost, &message));
  fail_unless (rank == -1 && lost == 2);
  fail_unless_equals_string (message, "rank 2 at 127.0.0.1:9002 disconnected");
  fail_unless (prima_event_parse_ring_failure (e, &rank, &message));
  fail_unless (rank == -1);
  gst_event_unref (e);

  /* sent to the element, not in order with the stream */
  e = prima_event_new_ring_suspend ();
  assert_only (e, PRIMA_EVENT_RING_SUSPEND, FALSE, TRUE);
  gst_event_unref (e);
  e = prima_event_new_ring_resume ();
  assert_only (e, PRIMA_EVENT_RING_RESUME, FALSE, TRUE);
  gst_event_unref (e);

  e = prima_event_new_ring_control ("{\"type\":\"profile\"}");
  assert_only (e, PRIMA_EVENT_RING_CONTROL, FALSE, FALSE);
  fail_unless (prima_event_parse_ring_control (e, &json));
  fail_unless_equals_string (json, "{\"type\":\"profile\"}");
  gst_event_unref (e);

  /* not ours: every parse says no */
  e = gst_event_new_eos ();
  for (guint i = 0; i < G_N_ELEMENTS (event_kinds); i++)
    fail_if (event_kinds[i].is (e));
  fail_if (prima_event_parse_ring_control (e, &json));
  fail_if (prima_event_parse_device_failed (e, &rank, &message));
  gst_event_unref (e);
}

GST_END_TEST;

GST_START_TEST (test_messages)
{
  GstObject *src = GST_OBJECT (gst_bin_new ("src"));
  PrimaTurnInfo turn = {
    .prompt_tokens = 6, .prompt_time = 2 * GST_MSECOND, .generated = 8, .decode_tokens = 7,
    .decode_time = 5 * GST_MSECOND, .position = 14, .context_shifts = 1, .chat = TRUE, .reason = "n-predict",
  }, t;
  PrimaLoadingInfo load = {
    .layer = 3, .n_layers = 5, .bytes = G_GUINT64_CONSTANT (5000000000), .seconds = 1.5,
    .window_resident = 0.25, .window_done = TRUE, .done = FALSE,
  }, l;
  const gchar *what = NULL, *text = NULL;
  gint rank = 0;
  guint port = 0;
  GstMessage *m;

  m = prima_message_new_turn (src, &turn);
  fail_unless (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT && GST_MESSAGE_SRC (m) == src);
  fail_unless (prima_message_is_turn (m) && !prima_message_is_ring (m) && !prima_message_is_loading (m));
  fail_unless (prima_message_parse_turn (m, &t));
  fail_unless_equals_string (t.reason, "n-predict");
  fail_unless (t.prompt_tokens == 6 && t.prompt_time == 2 * GST_MSECOND && t.generated == 8
      && t.decode_tokens == 7 && t.decode_time == 5 * GST_MSECOND && t.position == 14 && t.context_shifts == 1
      && t.chat);
  fail_if (prima_message_parse_loading (m, &l));
  gst_message_unref (m);

  {
    PrimaUtteranceInfo utt = {.text = "what is our god",.confidence = 0.25,.score = -10267,
      .start = 30 * GST_MSECOND,.end = 1670 * GST_MSECOND }, u;

    m = prima_message_new_utterance (src, &utt);
    fail_unless (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT && GST_MESSAGE_SRC (m) == src);
    fail_unless (prima_message_is_utterance (m) && !prima_message_is_turn (m));
    fail_unless (prima_message_parse_utterance (m, &u));
    fail_unless_equals_string (u.text, "what is our god");
    fail_unless (u.confidence == 0.25 && u.score == -10267 && u.start == 30 * GST_MSECOND
        && u.end == 1670 * GST_MSECOND);
    fail_if (prima_message_parse_turn (m, &t));
    gst_message_unref (m);
  }

  m = prima_message_new_ring (src, "listening", 2, 9001, "rank 2 on port 9001");
  fail_unless (prima_message_is_ring (m) && !prima_message_is_turn (m));
  fail_unless (prima_message_parse_ring (m, &what, &rank, &port, &text));
  fail_unless_equals_string (what, "listening");
  fail_unless_equals_string (text, "rank 2 on port 9001");
  fail_unless (rank == 2 && port == 9001);
  gst_message_unref (m);
  m = prima_message_new_ring (src, "connected", 1, 0, NULL);
  fail_unless (prima_message_parse_ring (m, &what, &rank, &port, &text));
  fail_unless_equals_string (text, "");
  gst_message_unref (m);

  m = prima_message_new_loading (src, &load);
  fail_unless (prima_message_is_loading (m) && !prima_message_is_turn (m));
  fail_unless (prima_message_parse_loading (m, &l));
  fail_unless (l.layer == 3 && l.n_layers == 5 && l.bytes == load.bytes && l.seconds == 1.5
      && l.window_resident == 0.25 && l.window_done && !l.done);
  gst_message_unref (m);

  {
    gchar *windows[] = { (gchar *) "0-3", (gchar *) "3-5,7-8", NULL };
    gchar *cases[] = { (gchar *) "M1", (gchar *) "", NULL };
    PrimaPlanInfo plan = {
      .devices = 3, .world = 2, .rounds = 2, .n_layer = 8, .context_size = 512, .predicted_tpot = 0.125,
      .windows = windows, .cases = cases, .plan = (gchar *) "{\"k\":2}",
    }, p;

    m = prima_message_new_plan (src, &plan);
    fail_unless (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT && GST_MESSAGE_SRC (m) == src);
    fail_unless (prima_message_is_plan (m) && !prima_message_is_turn (m) && !prima_message_is_loading (m));
    fail_unless (prima_message_parse_plan (m, &p));
    fail_unless (p.devices == 3 && p.world == 2 && p.rounds == 2 && p.n_layer == 8 && p.context_size == 512
        && p.predicted_tpot == 0.125);
    fail_unless (g_strv_length (p.windows) == 2 && g_strv_length (p.cases) == 2);
    fail_unless_equals_string (p.windows[0], "0-3");
    fail_unless_equals_string (p.windows[1], "3-5,7-8");
    fail_unless_equals_string (p.cases[0], "M1");
    fail_unless_equals_string (p.cases[1], "");
    fail_unless_equals_string (p.plan, "{\"k\":2}");
    prima_plan_info_clear (&p);
    fail_unless (p.windows == NULL && p.cases == NULL && p.plan == NULL);
    gst_message_unref (m);

    /* another message is not a plan, and parsing it fills nothing */
    m = prima_message_new_loading (src, &load);
    fail_if (prima_message_is_plan (m));
    fail_if (prima_message_parse_plan (m, &p));
    fail_unless (p.windows == NULL && p.plan == NULL);
    gst_message_unref (m);
  }

  {
    gchar *windows[] = { (gchar *) "2-3,4-5", (gchar *) "0-1", (gchar *) "1-2,3-4", NULL };
    PrimaRecoveredInfo rec = {
      .lost_rank = 2, .lost_address = (gchar *) "127.0.0.1:9002", .tokens = 37, .devices = 3, .seconds = 0.25,
      .windows = windows,
    }, r;

    m = prima_message_new_ring_recovered (src, &rec);
    fail_unless (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT && GST_MESSAGE_SRC (m) == src);
    fail_unless (prima_message_is_ring_recovered (m) && !prima_message_is_plan (m) && !prima_message_is_ring (m));
    fail_unless (prima_message_parse_ring_recovered (m, &r));
    fail_unless (r.lost_rank == 2 && r.tokens == 37 && r.devices == 3 && r.seconds == 0.25);
    fail_unless_equals_string (r.lost_address, "127.0.0.1:9002");
    fail_unless (g_strv_length (r.windows) == 3);
    fail_unless_equals_string (r.windows[2], "1-2,3-4");
    prima_recovered_info_clear (&r);
    fail_unless (r.windows == NULL && r.lost_address == NULL);
    gst_message_unref (m);

    m = prima_message_new_loading (src, &load);
    fail_if (prima_message_is_ring_recovered (m));
    fail_if (prima_message_parse_ring_recovered (m, &r));
    fail_unless (r.windows == NULL && r.lost_address == NULL);
    gst_message_unref (m);
  }

  /* primaspeechout's: the first audio of a turn, and the end of its audio */
  {
    PrimaSpeechInfo start = {.end = FALSE, .turn = 2, .pts = 3 * GST_SECOND, .wall_time = G_GINT64_CONSTANT (1796643269763929) },
        end = {.end = TRUE, .turn = 2, .samples = 44100, .duration = 2 * GST_SECOND, .interrupted = TRUE }, sp;

    m = prima_message_new_speech (src, &start);
    fail_unless (prima_message_is_speech (m) && !prima_message_is_turn (m));
    fail_unless (prima_message_parse_speech (m, &sp));
    fail_if (sp.end);
    fail_unless_equals_int (sp.turn, 2);
    fail_unless_equals_uint64 (sp.pts, 3 * GST_SECOND);
    fail_unless_equals_int64 (sp.wall_time, start.wall_time);
    gst_message_unref (m);
    m = prima_message_new_speech (src, &end);
    fail_unless (prima_message_parse_speech (m, &sp));
    fail_unless (sp.end && sp.interrupted && sp.turn == 2);
    fail_unless_equals_uint64 (sp.samples, 44100);
    fail_unless_equals_uint64 (sp.duration, 2 * GST_SECOND);
    gst_message_unref (m);
    m = prima_message_new_loading (src, &load);
    fail_if (prima_message_parse_speech (m, &sp));
    gst_message_unref (m);
  }

  /* a message of another type with the same structure name is not ours */
  m = gst_message_new_application (src, gst_structure_new_empty (PRIMA_MESSAGE_TURN));
  fail_if (prima_message_is_turn (m));
  gst_message_unref (m);
  gst_object_unref (src);
}

GST_END_TEST;

GST_START_TEST (test_context_query)
{
  GstQuery *q = prima_query_new_context ();
  gint n_ctx = 0, position = 0;

  fail_unless (prima_query_is_context (q));
  /* not answered yet */
  fail_if (prima_query_parse_context (q, &n_ctx, &position));
  prima_query_set_context (q, 256, 17);
  fail_unless (prima_query_parse_context (q, &n_ctx, &position));
  fail_unless (n_ctx == 256 && position == 17);
  gst_query_unref (q);
  q = gst_query_new_latency ();
  fail_if (prima_query_is_context (q));
  gst_query_unref (q);
}

GST_END_TEST;

/* ---- primalayers: settings as properties, progress as messages ---- */

static gchar *
enum_nick (GObject * obj, const gchar * property)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (obj), property);
  GEnumClass *klass;
  gint value = -1;
  gchar *nick;

  fail_unless (pspec != NULL && G_IS_PARAM_SPEC_ENUM (pspec), "%s is not a GEnum property", property);
  g_object_get (obj, property, &value, NULL);
  klass = g_type_class_ref (pspec->value_type);
  nick = g_strdup (g_enum_get_value (klass, value)->value_nick);
  g_type_class_unref (klass);
  return nick;
}

GST_START_TEST (test_layers_enum_properties)
{
  GError *error = NULL;
  GstElement *pipeline, *layers;
  gint mode = -1, policy = -1;
  gchar *nick;

  /* the defaults: the measured ones (docs/memory.md) */
  layers = gst_element_factory_make ("primalayers", NULL);
  fail_unless (layers != NULL);
  nick = enum_nick (G_OBJECT (layers), "prefetch-mode");
  fail_unless_equals_string (nick, prima_prefetch_mode_name (prima_prefetch_mode_resolve (PRIMA_PREFETCH_DEFAULT)));
  g_free (nick);
  nick = enum_nick (G_OBJECT (layers), "release-policy");
  fail_unless_equals_string (nick, prima_release_policy_name (prima_release_policy_resolve (PRIMA_RELEASE_DEFAULT)));
  g_free (nick);
  gst_object_unref (layers);

  pipeline = gst_parse_launch_full ("fakesrc ! primalayers name=layers prefetch-mode=advise release-policy=always "
      "! fakesink", NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "?");
  layers = gst_bin_get_by_name (GST_BIN (pipeline), "layers");
  g_object_get (layers, "prefetch-mode", &mode, "release-policy", &policy, NULL);
  /* the GEnums carry the core's values */
  fail_unless_equals_int (mode, PRIMA_PREFETCH_ADVISE);
  fail_unless_equals_int (policy, PRIMA_RELEASE_ALWAYS);
  nick = enum_nick (G_OBJECT (layers), "prefetch-mode");
  fail_unless_equals_string (nick, "advise");
  g_free (nick);
  gst_object_unref (layers);
  gst_object_unref (pipeline);

  pipeline = gst_parse_launch_full ("fakesrc ! primalayers name=layers prefetch-mode=none release-policy=never "
      "! fakesink", NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "?");
  layers = gst_bin_get_by_name (GST_BIN (pipeline), "layers");
  g_object_get (layers, "prefetch-mode", &mode, "release-policy", &policy, NULL);
  fail_unless_equals_int (mode, PRIMA_PREFETCH_NONE);
  fail_unless_equals_int (policy, PRIMA_RELEASE_NEVER);
  gst_object_unref (layers);
  gst_object_unref (pipeline);

  /* a value that is not one is an error of the description */
  pipeline = gst_parse_launch_full ("fakesrc ! primalayers prefetch-mode=sometimes ! fakesink", NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, &error);
  fail_unless (pipeline == NULL && error != NULL);
  g_clear_error (&error);
}

GST_END_TEST;

GST_START_TEST (test_layers_loading_messages)
{
  gchar *model = test_data_path ("stories260K-f32.gguf");
  gchar *dir = g_dir_make_tmp ("prima-events-XXXXXX", NULL);
  gchar *prompt = g_build_filename (dir, "prompt.txt", NULL);
  gchar *desc;
  GError *error = NULL;
  GstElement *pipeline, *layers;
  GstBus *bus;
  GstMessage *msg;
  gint seen = 0, n_layers = 0;
  gboolean done = FALSE;
  guint64 bytes = 0;

  fail_unless (g_file_set_contents (prompt, "Once upon a time", -1, NULL));
  desc = g_strdup_printf ("filesrc location=\"%s\" ! primatokenizer model=\"%s\" ! primalayers name=layers "
      "model=\"%s\" threads=1 prefetch-mode=none release-policy=never ! fakesink", prompt, model, model);
  pipeline = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "?");
  layers = gst_bin_get_by_name (GST_BIN (pipeline), "layers");
  bus = gst_element_get_bus (pipeline);
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  while ((msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
              GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR))) {
    PrimaLoadingInfo l;
    GstMessageType type = GST_MESSAGE_TYPE (msg);

    if (type == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      fail ("error: %s", err->message);
    }
    if (prima_message_parse_loading (msg, &l)) {
      /* one for each layer of the first pass, in order, from the layers element */
      fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (layers));
      fail_if (done, "a message after the first pass");
      fail_unless_equals_int (l.layer, seen + 1);
      fail_unless (l.n_layers > 0 && l.layer <= l.n_layers);
      fail_unless (l.bytes > 0 && l.bytes >= bytes);
      fail_unless (l.seconds >= 0 && l.window_resident >= 0 && l.window_resident <= 1.0001);
      n_layers = l.n_layers;
      bytes = l.bytes;
      done = l.done;
      if (done)
        fail_unless (l.window_done && l.layer == l.n_layers);
      seen++;
    }
    gst_message_unref (msg);
    if (type == GST_MESSAGE_EOS)
      break;
  }
  fail_unless (done, "the first pass did not end (%d messages)", seen);
  fail_unless_equals_int (seen, n_layers);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (layers);
  gst_object_unref (pipeline);
  g_unlink (prompt);
  g_rmdir (dir);
  g_free (desc);
  g_free (prompt);
  g_free (dir);
  g_free (model);
}

GST_END_TEST;

/* `prima run --verbose` renders them as its progress line (not a terminal:
 * one line a window); the engine itself prints nothing. */
GST_START_TEST (test_run_progress_line)
{
  gchar *model = test_data_path ("stories260K-f32.gguf");
  gchar *argv[] = { (gchar *) g_getenv ("PRIMA_BIN"), (gchar *) "run", (gchar *) "-m", model, (gchar *) "-p",
    (gchar *) "Once upon a time", (gchar *) "-n", (gchar *) "2", (gchar *) "-t", (gchar *) "1",
    (gchar *) "--prefetch-mode", (gchar *) "advise", (gchar *) "--release-policy", (gchar *) "always", NULL, NULL
  };
  gchar *out = NULL, *err = NULL;
  gint status = -1;

  fail_unless (argv[0] != NULL);
  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL, &out, &err, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "%s", err);
  /* without --verbose and not on a terminal: no progress line */
  fail_if (strstr (err, "loading weights") != NULL, "%s", err);
  g_free (out);
  g_free (err);

  argv[14] = (gchar *) "--verbose";
  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL, &out, &err, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "%s", err);
  fail_unless (strstr (err, "loading weights: layer ") != NULL, "%s", err);
  /* the options reached the layers element as properties */
  fail_unless (strstr (err, "policy prefetch=advise release=always") != NULL, "%s", err);
  g_free (out);
  g_free (err);
  g_free (model);
}

GST_END_TEST;

static Suite *
events_suite (void)
{
  Suite *s = suite_create ("prima-events");
  TCase *tc = tcase_create ("protocol");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_kv_events);
  tcase_add_test (tc, test_turn_events);
  tcase_add_test (tc, test_ring_events);
  tcase_add_test (tc, test_messages);
  tcase_add_test (tc, test_context_query);
  tc = tcase_create ("layers");
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_layers_enum_properties);
  tcase_add_test (tc, test_layers_loading_messages);
  tcase_add_test (tc, test_run_progress_line);
  return s;
}

GST_TEST_MAIN (events_suite, "prima-events");
