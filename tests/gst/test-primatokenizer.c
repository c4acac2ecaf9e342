/* gst-prima tests: primatokenizer: a prompt in pieces, chat turns with the loop's answers,
 * the events before an empty prompt's BOS, caps it refuses.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include <string.h>
#include <unistd.h>

#include "tokenizer.h"
#include "chat-template.h"

GST_START_TEST (test_tokenizer_prompt)
{
  gchar *model = model_path ();
  Reference *ref = reference_load ();
  GstHarness *h = harness_new ("primatokenizer", "model", model, NULL);
  gsize split = strlen (ref->prompt) / 2;
  PrimaHeader hdr;
  GstBuffer *out;
  GArray *ids;

  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  /* the prompt in two pieces: the element tokenizes the whole text at EOS */
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup (ref->prompt, split)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup (ref->prompt + split,
              strlen (ref->prompt) - split)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  out = gst_harness_pull (h);
  ids = tokens_of (out, &hdr);
  assert_ids_equal (ids, ref->prompt_tokens);
  fail_unless_equals_int (hdr.pos0, -1);
  fail_unless (hdr.flags & PRIMA_FLAG_PROMPT);
  g_array_free (ids, TRUE);
  gst_buffer_unref (out);

  gst_harness_teardown (h);
  reference_free (ref);
  g_free (model);
}

GST_END_TEST;

/* The tokens buffer and then the prima-end-of-turn event of one turn. */
static GArray *
pull_turn (GstHarness * h, PrimaHeader * hdr)
{
  GstBuffer *out = gst_harness_pull (h);
  GArray *ids = tokens_of (out, hdr);
  GstEvent *event;

  gst_buffer_unref (out);
  while ((event = gst_harness_pull_event (h)) && !prima_event_is_end_of_turn (event))
    gst_event_unref (event);
  fail_unless (event != NULL, "no prima-end-of-turn after the turn's tokens");
  gst_event_unref (event);
  return ids;
}

GST_START_TEST (test_tokenizer_chat)
{
  gchar *model = test_data_path ("TinyStories-656K-q8_0.gguf");
  gguf_file *file = gguf_open (model, NULL);
  prima_tokenizer *tok = prima_tokenizer_new (file, NULL);
  GstHarness *h = harness_new ("primatokenizer", "model", model, "chat", TRUE, "chat-template", "chatml",
      "system-prompt", "Tell stories.", NULL);
  const gint32 answer_ids[3] = { 403, 407, 261 };
  prima_chat_message msgs[4] = {
    {"system", "Tell stories."}, {"user", "Hello"}, {"assistant", NULL}, {"user", "More"}
  };
  GString *answer = g_string_new (NULL);
  gchar *first, *all, *want_text;
  GArray *ids, *want;
  PrimaHeader hdr;
  GstBuffer *abuf;
  gint pos;

  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  /* a turn is a line: nothing before its newline */
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup ("Hel", 3)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup ("lo\n", 3)), GST_FLOW_OK);
  ids = pull_turn (h, &hdr);
  first = prima_chat_template_render (PRIMA_CHAT_TEMPLATE_CHATML, msgs, 2, TRUE, NULL, NULL, NULL);
  want = prima_tokenize (tok, first, -1, FALSE, TRUE);
  if (prima_tokenizer_add_bos (tok)) {
    gint32 bos = prima_tokenizer_bos (tok);
    g_array_prepend_val (want, bos);
  }
  assert_ids_equal (ids, want);
  fail_unless (hdr.flags & PRIMA_FLAG_PROMPT);
  pos = ids->len;
  g_array_free (ids, TRUE);
  g_array_free (want, TRUE);

  /* the loop's answer comes back upstream; the next turn sends only what
   * follows it */
  abuf = prima_tokens_buffer_new (answer_ids, 3, pos, 0, 0);
  fail_unless (gst_harness_push_upstream_event (h, prima_event_new_answer (abuf, pos + 3)));
  gst_buffer_unref (abuf);
  for (guint i = 0; i < 3; i++)
    prima_token_to_piece (tok, answer_ids[i], TRUE, answer);
  msgs[2].content = answer->str;
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup ("More\n", 5)), GST_FLOW_OK);
  ids = pull_turn (h, &hdr);
  all = prima_chat_template_render (PRIMA_CHAT_TEMPLATE_CHATML, msgs, 4, TRUE, NULL, NULL, NULL);
  want_text = g_strconcat (first, answer->str, NULL);
  fail_unless (g_str_has_prefix (all, want_text));
  want = prima_tokenize (tok, all + strlen (want_text), -1, FALSE, TRUE);
  assert_ids_equal (ids, want);
  fail_unless_equals_int (hdr.pos0, -1);        /* a pure append */
  g_array_free (ids, TRUE);
  g_array_free (want, TRUE);

  /* end-of-stream with no answer pending goes on at once */
  abuf = prima_tokens_buffer_new (NULL, 0, pos + 3, 0, 0);
  fail_unless (gst_harness_push_upstream_event (h, prima_event_new_answer (abuf, pos + 3)));
  gst_buffer_unref (abuf);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  g_free (want_text);
  g_free (all);
  g_free (first);
  g_string_free (answer, TRUE);
  gst_harness_teardown (h);
  prima_tokenizer_free (tok);
  gguf_close (file);
  g_free (model);
}

GST_END_TEST;

/* An empty prompt: the BOS goes out after stream-start, caps and a
 * segment (GStreamer warned "Got data flow before segment event"). */
static GstPadProbeReturn
record_order (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GString *order = data;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER)
    g_string_append (order, "buffer ");
  else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM)
    g_string_append_printf (order, "%s ", GST_EVENT_TYPE_NAME (GST_PAD_PROBE_INFO_EVENT (info)));
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_tokenizer_empty_prompt)
{
  gchar *model = model_path ();
  gchar *desc = g_strdup_printf ("fdsrc name=input ! primatokenizer name=tokenizer model=%s ! fakesink", model);
  GString *order = g_string_new (NULL);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GstElement *tok;
  GstMessage *msg;
  GstPad *pad;
  int fds[2];

  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  fail_unless (pipe (fds) == 0);
  close (fds[1]);
  set_by_name (pipeline, "input", "fd", fds[0], NULL);
  tok = gst_bin_get_by_name (GST_BIN (pipeline), "tokenizer");
  pad = gst_element_get_static_pad (tok, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, record_order, order,
      NULL);
  msg = run_pipeline (pipeline, 60 * GST_SECOND);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  /* the BOS of the empty prompt, after the stream's events */
  fail_unless_equals_string (order->str, "stream-start caps segment buffer eos ");
  gst_object_unref (pad);
  gst_object_unref (tok);
  gst_object_unref (pipeline);
  close (fds[0]);
  g_string_free (order, TRUE);
  g_free (desc);
  g_free (model);
}

GST_END_TEST;

/* Caps it does not take: refused by the caps query, not-negotiated on a push. */
GST_START_TEST (test_bad_caps_harness)
{
  gchar *model = model_path ();
  GstHarness *h = harness_new ("primatokenizer", "model", model, NULL);
  GstCaps *caps = gst_caps_from_string ("text/x-raw, format=pango-markup");
  GstSegment segment;

  fail_if (gst_pad_peer_query_accept_caps (h->srcpad, caps), "pango markup was accepted");
  fail_unless (gst_pad_push_event (h->srcpad, gst_event_new_stream_start ("bad-caps")));
  gst_pad_push_event (h->srcpad, gst_event_new_caps (gst_caps_ref (caps)));
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (h->srcpad, gst_event_new_segment (&segment));
  fail_unless_equals_int (gst_pad_push (h->srcpad, gst_buffer_new_memdup ("<b>x</b>", 8)), GST_FLOW_NOT_NEGOTIATED);
  gst_caps_unref (caps);
  gst_harness_teardown (h);
  g_free (model);
}

GST_END_TEST;

static Suite *
primatokenizer_suite (void)
{
  Suite *s = suite_create ("primatokenizer");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_tokenizer_prompt);
  tcase_add_test (tc, test_tokenizer_chat);
  tcase_add_test (tc, test_tokenizer_empty_prompt);
  tcase_add_test (tc, test_bad_caps_harness);
  return s;
}

GST_TEST_MAIN (primatokenizer_suite, "primatokenizer");
