/* gst-prima tests: primasampler: greedy sampling of logits buffers.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

static GstBuffer *
logits_buffer (const float *logits, gint n_vocab, const gint32 * ids, guint n_ids, gint pos0)
{
  PrimaHeader h;
  GstBuffer *buf;
  gsize ids_size = n_ids * sizeof (gint32);

  prima_header_init (&h, PRIMA_PAYLOAD_LOGITS, MAX (n_ids, 1), ids_size + n_vocab * sizeof (float));
  h.pos0 = pos0;
  if (n_ids == 0)
    h.flags |= PRIMA_FLAG_NO_IDS;
  buf = prima_buffer_new (&h);
  if (ids_size)
    gst_buffer_fill (buf, PRIMA_HEADER_SIZE, ids, ids_size);
  gst_buffer_fill (buf, PRIMA_HEADER_SIZE + ids_size, logits, n_vocab * sizeof (float));
  return buf;
}

static gint32
pull_token (GstHarness * h, gint * pos0)
{
  GstBuffer *out = gst_harness_pull (h);
  PrimaHeader hdr;
  GArray *ids = tokens_of (out, &hdr);
  gint32 token;

  fail_unless_equals_int (ids->len, 1);
  token = g_array_index (ids, gint32, 0);
  if (pos0)
    *pos0 = hdr.pos0;
  g_array_free (ids, TRUE);
  gst_buffer_unref (out);
  return token;
}

GST_START_TEST (test_sampler_greedy)
{
  GstHarness *h = harness_new ("primasampler", "temperature", 0.0f, NULL);
  const float logits[8] = { 0.5f, -1.0f, 2.0f, 7.25f, 3.0f, 7.5f, -9.0f, 1.0f };
  const float ties[8] = { 0.0f, 4.0f, 1.0f, 4.0f, 4.0f, 0.0f, 0.0f, 0.0f };
  const gint32 ids[3] = { 1, 2, 3 };
  gint pos0;

  gst_harness_set_src_caps_str (h, "application/x-prima-logits, n-vocab=(int)8");
  fail_unless_equals_int (gst_harness_push (h, logits_buffer (logits, 8, ids, 3, 0)), GST_FLOW_OK);
  fail_unless_equals_int (pull_token (h, &pos0), 5);
  fail_unless_equals_int (pos0, 3);     /* after the 3 evaluated tokens */
  /* ties go to the lowest id */
  fail_unless_equals_int (gst_harness_push (h, logits_buffer (ties, 8, NULL, 0, 3)), GST_FLOW_OK);
  fail_unless_equals_int (pull_token (h, &pos0), 1);
  fail_unless_equals_int (pos0, 4);
  gst_harness_teardown (h);
}

GST_END_TEST;

static Suite *
primasampler_suite (void)
{
  Suite *s = suite_create ("primasampler");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_sampler_greedy);
  return s;
}

GST_TEST_MAIN (primasampler_suite, "primasampler");
