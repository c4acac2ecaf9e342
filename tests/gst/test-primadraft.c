/* gst-prima tests: primadraft: its drafts are the draft model's greedy
 * continuation, it rolls its cache back to each buffer's position (the
 * rejected drafts), and it drafts no more than n-predict leaves room for;
 * primalayers answers a draft buffer with a row per token.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"
#include "forward.h"
#include "sampler.h"

#define N_DRAFT 4

/* The greedy continuation of ids (n of them) by n_out tokens, by the core. */
static void
greedy (const prima_model * model, const gint32 * ids, gint n, gint32 * out, gint n_out)
{
  GError *error = NULL;
  prima_context *ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = 64,.n_threads = 1}, &error);
  float *logits = g_new (float, model->hp.n_vocab);
  gint32 t;

  fail_unless (ctx != NULL);
  fail_unless (prima_context_eval (ctx, n, ids, NULL, 0, logits, FALSE, &error));
  for (gint i = 0; i < n_out; i++) {
    out[i] = t = prima_argmax (logits, model->hp.n_vocab);
    fail_unless (prima_context_eval (ctx, 1, &t, NULL, n + i, logits, FALSE, &error));
  }
  g_free (logits);
  prima_context_free (ctx);
}

static GstBuffer *
tokens_at (const gint32 * ids, guint n, gint pos0, guint16 flags)
{
  return prima_tokens_buffer_new (ids, n, pos0, 0, flags);
}

/* Pulls a buffer: its ids, and checks its position and draft count. */
static GArray *
pull_checked (GstHarness * h, gint pos0, guint n_draft)
{
  GstBuffer *out = gst_harness_pull (h);
  PrimaHeader hdr;
  GArray *ids = tokens_of (out, &hdr);

  fail_unless_equals_int (hdr.pos0, pos0);
  fail_unless_equals_int ((hdr.flags & PRIMA_FLAG_DRAFT) != 0, n_draft > 0);
  if (n_draft > 0)
    fail_unless_equals_int (hdr.next_layer, n_draft);
  gst_buffer_unref (out);
  return ids;
}

GST_START_TEST (test_draft_rollback)
{
  gchar *model_file = model_path ();
  GError *error = NULL;
  prima_model *model = prima_model_load (model_file, &error);
  const gint32 prompt[5] = { 1, 403, 407, 261, 378 };
  gint32 hist[16], want[N_DRAFT];
  guint64 drafted, accepted;
  GstHarness *h;
  GArray *ids;

  fail_unless (model != NULL);
  h = harness_new ("primadraft", "model", model_file, "n-draft", N_DRAFT, "threads", 1, "context-size", 64, NULL);
  gst_harness_set_src_caps_str (h, "application/x-prima-tokens");

  /* the prompt goes on as it is */
  fail_unless_equals_int (gst_harness_push (h, tokens_at (prompt, 5, 0, PRIMA_FLAG_PROMPT)), GST_FLOW_OK);
  ids = pull_checked (h, 0, 0);
  fail_unless_equals_int (ids->len, 5);
  g_array_free (ids, TRUE);

  /* a generated token: it and N_DRAFT drafts, the greedy continuation */
  memcpy (hist, prompt, sizeof prompt);
  hist[5] = 300;
  fail_unless_equals_int (gst_harness_push (h, tokens_at (&hist[5], 1, 5, 0)), GST_FLOW_OK);
  ids = pull_checked (h, 5, N_DRAFT);
  fail_unless_equals_int (ids->len, 1 + N_DRAFT);
  fail_unless_equals_int (g_array_index (ids, gint32, 0), 300);
  greedy (model, hist, 6, want, N_DRAFT);
  for (gint i = 0; i < N_DRAFT; i++)
    fail_unless_equals_int (g_array_index (ids, gint32, 1 + i), want[i]);
  g_array_free (ids, TRUE);

  /* the target kept the first draft and chose another token after it: the
   * draft's cache rolls back over the other drafts */
  hist[6] = want[0];
  hist[7] = want[1] == 17 ? 18 : 17;
  fail_unless_equals_int (gst_harness_push (h, tokens_at (&hist[7], 1, 7, 0)), GST_FLOW_OK);
  ids = pull_checked (h, 7, N_DRAFT);
  greedy (model, hist, 8, want, N_DRAFT);
  for (gint i = 0; i < N_DRAFT; i++)
    fail_unless_equals_int (g_array_index (ids, gint32, 1 + i), want[i]);
  g_array_free (ids, TRUE);
  g_object_get (gst_harness_find_element (h, "primadraft"), "n-drafted", &drafted, "n-accepted", &accepted, NULL);
  fail_unless_equals_int (drafted, N_DRAFT);
  fail_unless_equals_int (accepted, 1);

  gst_harness_teardown (h);
  prima_model_free (model);
  g_free (model_file);
}

GST_END_TEST;

/* n-predict 3: after the prompt, the first generated token leaves room for
 * the target's two more, one of them a draft; the third none. */
GST_START_TEST (test_draft_n_predict)
{
  gchar *model_file = model_path ();
  const gint32 prompt[3] = { 1, 403, 407 }, t = 300;
  GstHarness *h;
  GArray *ids;

  h = harness_new ("primadraft", "model", model_file, "n-draft", N_DRAFT, "n-predict", 3, "threads", 1,
      "context-size", 64, NULL);
  gst_harness_set_src_caps_str (h, "application/x-prima-tokens");
  fail_unless_equals_int (gst_harness_push (h, tokens_at (prompt, 3, 0, PRIMA_FLAG_PROMPT)), GST_FLOW_OK);
  g_array_free (pull_checked (h, 0, 0), TRUE);
  fail_unless_equals_int (gst_harness_push (h, tokens_at (&t, 1, 3, 0)), GST_FLOW_OK);
  ids = pull_checked (h, 3, 1);
  fail_unless_equals_int (ids->len, 2);
  g_array_free (ids, TRUE);
  fail_unless_equals_int (gst_harness_push (h, tokens_at (&t, 1, 5, 0)), GST_FLOW_OK);
  ids = pull_checked (h, 5, 0);
  fail_unless_equals_int (ids->len, 1);
  g_array_free (ids, TRUE);
  gst_harness_teardown (h);
  g_free (model_file);
}

GST_END_TEST;

/* primadraft ! primalayers: a row per token, each equal to the target's
 * logits token by token, bit for bit. */
GST_START_TEST (test_draft_layers_rows)
{
  gchar *model_file = model_path ();
  GError *error = NULL;
  prima_model *model = prima_model_load (model_file, &error);
  const gint32 prompt[5] = { 1, 403, 407, 261, 378 };
  gint32 seq[5 + 1 + N_DRAFT];
  GstElement *bin;
  GstHarness *h;
  GstBuffer *out;
  GstMapInfo map;
  PrimaHeader hdr;
  gint n_vocab;
  float *solo;
  prima_context *ctx;

  fail_unless (model != NULL);
  n_vocab = model->hp.n_vocab;
  bin = gst_parse_bin_from_description_full ("primadraft n-draft=4 threads=1 name=d ! primalayers threads=1 "
      "context-size=64 name=l", TRUE, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  fail_unless (bin != NULL, "%s", error ? error->message : "");
  g_object_set (gst_bin_get_by_name (GST_BIN (bin), "d"), "model", model_file, NULL);
  g_object_set (gst_bin_get_by_name (GST_BIN (bin), "l"), "model", model_file, NULL);
  h = gst_harness_new_with_element (bin, "sink", "src");
  gst_harness_set_src_caps_str (h, "application/x-prima-tokens");
  fail_unless_equals_int (gst_harness_push (h, tokens_at (prompt, 5, 0, PRIMA_FLAG_PROMPT)), GST_FLOW_OK);
  gst_buffer_unref (gst_harness_pull (h));
  memcpy (seq, prompt, sizeof prompt);
  seq[5] = 300;
  fail_unless_equals_int (gst_harness_push (h, tokens_at (&seq[5], 1, 5, 0)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  fail_unless (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_LOGITS, &hdr));
  fail_unless (hdr.flags & PRIMA_FLAG_DRAFT);
  fail_unless_equals_int (hdr.n_tokens, 1 + N_DRAFT);
  fail_unless_equals_int (hdr.next_layer, N_DRAFT);
  fail_unless_equals_int (hdr.payload_size, (1 + N_DRAFT) * (sizeof (gint32) + n_vocab * sizeof (float)));
  memcpy (&seq[6], map.data + PRIMA_HEADER_SIZE + sizeof (gint32), N_DRAFT * sizeof (gint32));
  /* token by token on the core */
  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = 64,.n_threads = 1}, &error);
  solo = g_new (float, n_vocab);
  fail_unless (prima_context_eval (ctx, 5, seq, NULL, 0, solo, FALSE, &error));
  for (gint i = 0; i <= N_DRAFT; i++) {
    const float *row = (const float *) (map.data + PRIMA_HEADER_SIZE + (1 + N_DRAFT) * sizeof (gint32)) + i * n_vocab;
    fail_unless (prima_context_eval (ctx, 1, &seq[5 + i], NULL, 5 + i, solo, FALSE, &error));
    fail_unless (memcmp (row, solo, n_vocab * sizeof (float)) == 0, "row %d differs", i);
  }
  gst_buffer_unmap (out, &map);
  gst_buffer_unref (out);
  g_free (solo);
  prima_context_free (ctx);
  gst_harness_teardown (h);
  gst_object_unref (bin);
  prima_model_free (model);
  g_free (model_file);
}

GST_END_TEST;

GST_START_TEST (test_draft_no_model)
{
  GstElement *e = gst_element_factory_make ("primadraft", NULL);

  fail_unless (e != NULL);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}

GST_END_TEST;

static Suite *
primadraft_suite (void)
{
  Suite *s = suite_create ("primadraft");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_draft_rollback);
  tcase_add_test (tc, test_draft_n_predict);
  tcase_add_test (tc, test_draft_layers_rows);
  tcase_add_test (tc, test_draft_no_model);
  return s;
}

GST_TEST_MAIN (primadraft_suite, "primadraft");
