/* gst-prima tests: primadetokenizer: UTF-8 characters split over tokens are held back
 * until they are whole.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include "model.h"
#include "tokenizer.h"

static gchar *
pull_text (GstHarness * h)
{
  GstBuffer *out = gst_harness_pull (h);
  GstMapInfo map;
  gchar *text;

  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  text = g_strndup ((const gchar *) map.data, map.size);
  gst_buffer_unmap (out, &map);
  gst_buffer_unref (out);
  return text;
}

GST_START_TEST (test_detokenizer_split_utf8)
{
  gchar *model = model_path ();
  GError *error = NULL;
  gguf_file *file = gguf_open (model, &error);
  prima_tokenizer *tok;
  GstHarness *h;
  Reference *ref = reference_load ();
  gint32 c3, a9, last;
  gchar *text;

  fail_unless (file != NULL, "%s", error ? error->message : "");
  tok = prima_tokenizer_new (file, &error);
  fail_unless (tok != NULL, "%s", error ? error->message : "");
  /* "é" is C3 A9: two byte-fallback tokens */
  c3 = prima_tokenizer_find_token (tok, "<0xC3>", -1);
  a9 = prima_tokenizer_find_token (tok, "<0xA9>", -1);
  fail_unless (c3 >= 0 && a9 >= 0, "the model has no byte tokens");
  last = g_array_index (ref->greedy_tokens, gint32, 0);  /* "," */

  h = harness_new ("primadetokenizer", "model", model, NULL);
  gst_harness_set_src_caps_str (h, "application/x-prima-tokens");

  fail_unless_equals_int (gst_harness_push (h, tokens_buffer (&c3, 1)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);        /* held back */
  fail_unless_equals_int (gst_harness_push (h, tokens_buffer (&a9, 1)), GST_FLOW_OK);
  text = pull_text (h);
  fail_unless_equals_string (text, "\xc3\xa9");
  g_free (text);

  /* a whole character and the start of the next one in one buffer */
  {
    const gint32 ids[2] = { last, c3 };
    fail_unless_equals_int (gst_harness_push (h, tokens_buffer (ids, 2)), GST_FLOW_OK);
    text = pull_text (h);
    fail_unless_equals_string (text, ",");
    g_free (text);
  }
  fail_unless_equals_int (gst_harness_push (h, tokens_buffer (&a9, 1)), GST_FLOW_OK);
  text = pull_text (h);
  fail_unless_equals_string (text, "\xc3\xa9");
  g_free (text);

  gst_harness_teardown (h);
  prima_tokenizer_free (tok);
  gguf_close (file);
  reference_free (ref);
  g_free (model);
}

GST_END_TEST;

static Suite *
primadetokenizer_suite (void)
{
  Suite *s = suite_create ("primadetokenizer");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_detokenizer_split_utf8);
  return s;
}

GST_TEST_MAIN (primadetokenizer_suite, "primadetokenizer");
