/* gst-prima tests: primaloop: a prima-interrupt or a barge-in ends the answer, a channel used by two loops.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

/* A prima-interrupt (or, barge_in, a prima-speech-started from upstream:
 * the user speaks again) ends the answer after the token being evaluated. */
static void
run_interrupt (gboolean barge_in)
{
  GstHarness *h = gst_harness_new_with_padnames ("primaloop", "sink", "src");
  GstHarness *fb = gst_harness_new_with_padnames ("primafeedback", "sink", NULL);
  const gint32 prompt[2] = { 1, 403 };
  gint32 token = 407;
  GstElement *loop = h->element;
  GstBuffer *out;
  GstEvent *event;
  PrimaHeader hdr;
  GArray *ids;

  gst_harness_set_src_caps_str (h, "application/x-prima-tokens");
  fail_unless_equals_int (gst_harness_push (h, prima_tokens_buffer_new (prompt, 2, -1, 0, PRIMA_FLAG_PROMPT)),
      GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, prima_event_new_end_of_turn (NULL)));
  out = gst_harness_pull (h);
  ids = tokens_of (out, &hdr);
  fail_unless_equals_int (ids->len, 2);
  fail_unless_equals_int (hdr.pos0, 0);
  g_array_free (ids, TRUE);
  gst_buffer_unref (out);

  /* a sampled token goes out again at the next position */
  gst_harness_set_src_caps_str (fb, "application/x-prima-tokens");
  fail_unless_equals_int (gst_harness_push (fb, prima_tokens_buffer_new (&token, 1, 2, 0, 0)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  ids = tokens_of (out, &hdr);
  fail_unless_equals_int (hdr.pos0, 2);
  g_array_free (ids, TRUE);
  gst_buffer_unref (out);

  if (barge_in)
    fail_unless (gst_harness_push_event (h, prima_event_new_speech_started (5 * GST_SECOND)));
  else
    fail_unless (gst_element_send_event (loop, prima_event_new_interrupt ()));
  fail_unless_equals_int (gst_harness_push (fb, prima_tokens_buffer_new (&token, 1, 3, 0, 0)), GST_FLOW_OK);
  {
    gboolean seen_speech = FALSE;
    while ((event = gst_harness_pull_event (h)) && !prima_event_is_end_of_turn (event)) {
      seen_speech |= prima_event_is_speech_started (event);
      gst_event_unref (event);
    }
    fail_unless (event != NULL);
    fail_unless_equals_string (gst_structure_get_string (gst_event_get_structure (event), "reason"), "interrupted");
    gst_event_unref (event);
    if (barge_in && !seen_speech) {
      /* it goes on after the interrupted turn's end, for primaspeechout */
      while ((event = gst_harness_try_pull_event (h)) && !prima_event_is_speech_started (event))
        gst_event_unref (event);
      fail_unless (event != NULL, "prima-speech-started did not go on downstream");
      gst_event_unref (event);
    }
  }
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  /* the answer (the one evaluated token) went upstream */
  while ((event = gst_harness_pull_upstream_event (h)) && !prima_event_is_answer (event))
    gst_event_unref (event);
  fail_unless (event != NULL, "no prima-answer upstream");
  {
    const GstStructure *s = gst_event_get_structure (event);
    GstBuffer *abuf = NULL;
    gint position = 0;
    gst_structure_get (s, "ids", GST_TYPE_BUFFER, &abuf, "position", G_TYPE_INT, &position, NULL);
    ids = tokens_of (abuf, &hdr);
    fail_unless_equals_int (ids->len, 1);
    fail_unless_equals_int (g_array_index (ids, gint32, 0), 407);
    fail_unless_equals_int (hdr.pos0, 2);
    fail_unless_equals_int (position, 3);
    g_array_free (ids, TRUE);
    gst_buffer_unref (abuf);
  }
  gst_event_unref (event);
  gst_harness_teardown (fb);
  gst_harness_teardown (h);
}

GST_START_TEST (test_loop_interrupt)
{
  run_interrupt (FALSE);
}

GST_END_TEST;

GST_START_TEST (test_loop_barge_in)
{
  run_interrupt (TRUE);
}

GST_END_TEST;

/* A second primaloop on a channel already in use fails to start; the channel
 * is free again once the first one stops. */
GST_START_TEST (test_feedback_channel_taken)
{
  GstElement *a = gst_element_factory_make ("primaloop", NULL);
  GstElement *b = gst_element_factory_make ("primaloop", NULL);
  GstBus *bus = gst_bus_new ();
  GError *error = NULL;
  GstMessage *msg;

  g_object_set (a, "channel", "same", NULL);
  g_object_set (b, "channel", "same", NULL);
  gst_element_set_bus (b, bus);
  fail_unless_equals_int (gst_element_set_state (a, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (b, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &error, NULL);
  fail_unless_equals_string (error->message, "Another primaloop already uses the channel \"same\".");
  g_clear_error (&error);
  gst_message_unref (msg);
  /* the channel is free again once the first loop leaves READY */
  gst_element_set_state (a, GST_STATE_NULL);
  fail_unless_equals_int (gst_element_set_state (b, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  gst_element_set_state (b, GST_STATE_NULL);
  gst_element_set_bus (b, NULL);
  gst_object_unref (bus);
  gst_object_unref (a);
  gst_object_unref (b);
}

GST_END_TEST;

static Suite *
primaloop_suite (void)
{
  Suite *s = suite_create ("primaloop");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_loop_interrupt);
  tcase_add_test (tc, test_loop_barge_in);
  tcase_add_test (tc, test_feedback_channel_taken);
  return s;
}

GST_TEST_MAIN (primaloop_suite, "primaloop");
