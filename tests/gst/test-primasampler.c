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
/* A verification buffer (speculative decoding): ids, then a row per id. */
static GstBuffer *
draft_buffer (const float *rows, gint n_vocab, const gint32 * ids, guint n_ids, guint n_draft, gint pos0)
{
  PrimaHeader h;
  GstBuffer *buf;

  prima_header_init (&h, PRIMA_PAYLOAD_LOGITS, n_ids, n_ids * (sizeof (gint32) + n_vocab * sizeof (float)));
  h.pos0 = pos0;
  h.flags = PRIMA_FLAG_DRAFT;
  h.next_layer = n_draft;
  buf = prima_buffer_new (&h);
  gst_buffer_fill (buf, PRIMA_HEADER_SIZE, ids, n_ids * sizeof (gint32));
  gst_buffer_fill (buf, PRIMA_HEADER_SIZE + n_ids * sizeof (gint32), rows, n_ids * n_vocab * sizeof (float));
  return buf;
}

static GArray *
pull_tokens (GstHarness * h, gint * pos0)
{
  GstBuffer *out = gst_harness_pull (h);
  PrimaHeader hdr;
  GArray *ids = tokens_of (out, &hdr);
  *pos0 = hdr.pos0;
  gst_buffer_unref (out);
  return ids;
}

/* One-hot-ish rows: row i's arg-max is best[i]. */
static void
fill_rows (float *rows, const gint32 * best, guint n)
{
  for (guint i = 0; i < n; i++)
    for (gint v = 0; v < 8; v++)
      rows[i * 8 + v] = v == best[i] ? 30.0f : (float) v * 0.1f;
}

GST_START_TEST (test_sampler_verify_greedy)
{
  GstHarness *h = harness_new ("primasampler", "temperature", 0.0f, NULL);
  const gint32 ids[4] = { 5, 3, 2, 7 };       /* 5 evaluated, then drafts 3 2 7 */
  const gint32 reject[4] = { 3, 2, 6, 1 };    /* the target: 3, 2, then 6 where the draft said 7 */
  const gint32 all[4] = { 3, 2, 7, 4 };       /* the target agrees, then 4 */
  float rows[4 * 8];
  gint pos0;
  GArray *got;

  gst_harness_set_src_caps_str (h, "application/x-prima-logits, n-vocab=(int)8");
  fill_rows (rows, reject, 4);
  fail_unless_equals_int (gst_harness_push (h, draft_buffer (rows, 8, ids, 4, 3, 10)), GST_FLOW_OK);
  got = pull_tokens (h, &pos0);
  fail_unless_equals_int (pos0, 11);   /* after the one evaluated token */
  fail_unless_equals_int (got->len, 3);
  fail_unless_equals_int (g_array_index (got, gint32, 0), 3);
  fail_unless_equals_int (g_array_index (got, gint32, 1), 2);
  fail_unless_equals_int (g_array_index (got, gint32, 2), 6);
  g_array_free (got, TRUE);

  fill_rows (rows, all, 4);
  fail_unless_equals_int (gst_harness_push (h, draft_buffer (rows, 8, ids, 4, 3, 13)), GST_FLOW_OK);
  got = pull_tokens (h, &pos0);
  fail_unless_equals_int (pos0, 14);
  fail_unless_equals_int (got->len, 4);
  fail_unless_equals_int (g_array_index (got, gint32, 2), 7);
  fail_unless_equals_int (g_array_index (got, gint32, 3), 4);
  g_array_free (got, TRUE);
  gst_harness_teardown (h);
}

GST_END_TEST;

/* With a temperature: a draft token the chain cuts (min-p) is always
 * rejected and replaced by another; one that holds all the probability is
 * always kept. */
GST_START_TEST (test_sampler_verify_sampling)
{
  GstHarness *h = harness_new ("primasampler", "temperature", 1.0f, "seed", 7, "min-p", 0.05f, NULL);
  const gint32 ids[3] = { 5, 3, 1 };
  const gint32 best[3] = { 3, 2, 0 };
  float rows[3 * 8];
  gint pos0;

  gst_harness_set_src_caps_str (h, "application/x-prima-logits, n-vocab=(int)8");
  fill_rows (rows, best, 3);
  for (gint k = 0; k < 20; k++) {
    GArray *got;
    fail_unless_equals_int (gst_harness_push (h, draft_buffer (rows, 8, ids, 3, 2, 0)), GST_FLOW_OK);
    got = pull_tokens (h, &pos0);
    fail_unless_equals_int (got->len, 2);
    fail_unless_equals_int (g_array_index (got, gint32, 0), 3);       /* p(3) ~ 1 */
    fail_unless_equals_int (g_array_index (got, gint32, 1), 2);       /* 1 is cut; 2 is all that is left */
    g_array_free (got, TRUE);
  }
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
  tcase_add_test (tc, test_sampler_verify_greedy);
  tcase_add_test (tc, test_sampler_verify_sampling);
  return s;
}

GST_TEST_MAIN (primasampler_suite, "primasampler");
