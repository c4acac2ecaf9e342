/* gst-prima tests: primalayers: the whole model's logits, the context query and kv-clear,
 * two windows chained through hidden states, caps it refuses in a pipeline.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include <math.h>
#include <string.h>

#include "model.h"
#include "forward.h"

static void
assert_logits_buffer (GstBuffer * buf, GArray * ids, gint pos0, const float *want, gint n_vocab)
{
  GstMapInfo map;
  PrimaHeader h;
  gsize ids_size = ids->len * sizeof (gint32);

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  fail_unless (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_LOGITS, &h), "not a logits buffer");
  fail_unless_equals_int (h.n_tokens, ids->len);
  fail_unless_equals_int (h.pos0, pos0);
  fail_unless_equals_int (h.payload_size, ids_size + n_vocab * sizeof (float));
  fail_unless (memcmp (map.data + PRIMA_HEADER_SIZE, ids->data, ids_size) == 0, "the evaluated ids differ");
  for (gint i = 0; i < n_vocab; i++) {
    float got = ((const float *) (map.data + PRIMA_HEADER_SIZE + ids_size))[i];
    fail_unless (fabsf (got - want[i]) <= 1e-5f * MAX (1.0f, fabsf (want[i])), "logit %d: %g, expected %g", i,
        got, want[i]);
  }
  gst_buffer_unmap (buf, &map);
}

GST_START_TEST (test_layers_logits)
{
  gchar *model_file = model_path ();
  Reference *ref = reference_load ();
  GError *error = NULL;
  prima_model *model = prima_model_load (model_file, &error);
  prima_context *ctx;
  GstHarness *h;
  GstBuffer *out;
  GstQuery *query;
  float *want, *want_next;
  gint n_vocab, n_ctx = 0, position = -1;
  GArray *next = g_array_new (FALSE, FALSE, sizeof (gint32));

  fail_unless (model != NULL, "%s", error ? error->message : "");
  n_vocab = model->hp.n_vocab;
  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = 64,.n_threads = 1}, &error);
  fail_unless (ctx != NULL, "%s", error ? error->message : "");
  want = g_new (float, n_vocab);
  want_next = g_new (float, n_vocab);
  fail_unless (prima_context_eval (ctx, ref->prompt_tokens->len, (const int32_t *) ref->prompt_tokens->data, NULL,
          0, want, FALSE, &error));
  g_array_append_val (next, g_array_index (ref->greedy_tokens, gint32, 0));
  fail_unless (prima_context_eval (ctx, 1, (const int32_t *) next->data, NULL, ref->prompt_tokens->len, want_next,
          FALSE, &error));

  h = harness_new ("primalayers", "model", model_file, "threads", 1, "context-size", 64, NULL);
  gst_harness_set_src_caps_str (h, "application/x-prima-tokens");

  /* the prompt, "append" */
  fail_unless_equals_int (gst_harness_push (h, tokens_buffer ((const gint32 *) ref->prompt_tokens->data,
              ref->prompt_tokens->len)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  assert_logits_buffer (out, ref->prompt_tokens, 0, want, n_vocab);
  gst_buffer_unref (out);

  /* the next token goes at the next position */
  fail_unless_equals_int (gst_harness_push (h, tokens_buffer ((const gint32 *) next->data, 1)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  assert_logits_buffer (out, next, ref->prompt_tokens->len, want_next, n_vocab);
  gst_buffer_unref (out);

  /* the custom query */
  query = prima_query_new_context ();
  fail_unless (gst_pad_peer_query (h->srcpad, query));
  gst_structure_get_int (gst_query_get_structure (query), "n-ctx", &n_ctx);
  gst_structure_get_int (gst_query_get_structure (query), "position", &position);
  fail_unless_equals_int (n_ctx, 64);
  fail_unless_equals_int (position, ref->prompt_tokens->len + 1);
  gst_query_unref (query);

  /* prima-kv-clear: the prompt again from position 0 gives the same logits */
  fail_unless (gst_harness_push_event (h, prima_event_new_kv_clear ()));
  fail_unless_equals_int (gst_harness_push (h, tokens_buffer ((const gint32 *) ref->prompt_tokens->data,
              ref->prompt_tokens->len)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  assert_logits_buffer (out, ref->prompt_tokens, 0, want, n_vocab);
  gst_buffer_unref (out);

  gst_harness_teardown (h);
  g_array_free (next, TRUE);
  g_free (want);
  g_free (want_next);
  prima_context_free (ctx);
  prima_model_free (model);
  reference_free (ref);
  g_free (model_file);
}

GST_END_TEST;

/* Two windows chained through hidden states give the whole model's logits. */
GST_START_TEST (test_layers_windows)
{
  gchar *model_file = model_path ();
  Reference *ref = reference_load ();
  GError *error = NULL;
  prima_model *model = prima_model_load (model_file, &error);
  prima_context *ctx;
  gchar *desc;
  GstHarness *h;
  GstBuffer *out;
  GstMapInfo map;
  PrimaHeader hdr;
  float *want;
  gint split;

  fail_unless (model != NULL, "%s", error ? error->message : "");
  fail_unless (model->hp.n_layer >= 2);
  split = model->hp.n_layer / 2;
  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = 64,.n_threads = 1}, &error);
  want = g_new (float, model->hp.n_vocab);
  fail_unless (prima_context_eval (ctx, ref->prompt_tokens->len, (const int32_t *) ref->prompt_tokens->data, NULL,
          0, want, FALSE, &error));

  desc = g_strdup_printf ("primalayers model=%s threads=1 context-size=64 last-layer=%d ! "
      "primalayers model=%s threads=1 context-size=64 first-layer=%d", model_file, split, model_file, split);
  h = gst_harness_new_parse (desc);
  gst_harness_set_src_caps_str (h, "application/x-prima-tokens");
  fail_unless_equals_int (gst_harness_push (h, tokens_buffer ((const gint32 *) ref->prompt_tokens->data,
              ref->prompt_tokens->len)), GST_FLOW_OK);
  out = gst_harness_pull (h);
  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  fail_unless (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_LOGITS, &hdr));
  fail_unless (hdr.flags & PRIMA_FLAG_NO_IDS);
  fail_unless_equals_int (hdr.pos0, 0);
  fail_unless_equals_int (hdr.payload_size, model->hp.n_vocab * sizeof (float));
  for (gint i = 0; i < model->hp.n_vocab; i++) {
    float got = ((const float *) (map.data + PRIMA_HEADER_SIZE))[i];
    fail_unless (fabsf (got - want[i]) <= 1e-4f * MAX (1.0f, fabsf (want[i])), "logit %d: %g, expected %g", i,
        got, want[i]);
  }
  gst_buffer_unmap (out, &map);
  gst_buffer_unref (out);

  gst_harness_teardown (h);
  g_free (desc);
  g_free (want);
  prima_context_free (ctx);
  prima_model_free (model);
  reference_free (ref);
  g_free (model_file);
}

GST_END_TEST;

/* Hidden states of another width in a pipeline: a stream error, not a crash. */
GST_START_TEST (test_bad_caps_pipeline)
{
  gchar *model = model_path ();
  gchar *desc = g_strdup_printf ("fakesrc num-buffers=1 sizetype=fixed sizemax=64 ! "
      "capsfilter caps=\"application/x-prima-hidden, n-embd=(int)7, format=F32\" ! "
      "primalayers model=%s ! fakesink", model);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GstMessage *msg;
  gchar *debug = NULL;

  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  msg = run_pipeline (pipeline, 30 * GST_SECOND);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &error, &debug);
  /* capsfilter finds no common caps (the window takes tokens, not hidden
   * states), or the source's push is refused: either way a stream error */
  fail_unless (error->domain == GST_STREAM_ERROR, "%s", error->message);
  fail_unless (error->code == GST_STREAM_ERROR_FORMAT || (debug && strstr (debug, "not-negotiated")),
      "not a negotiation failure: %s / %s", error->message, debug ? debug : "");
  g_clear_error (&error);
  g_free (debug);
  gst_message_unref (msg);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (model);
}

GST_END_TEST;

static Suite *
primalayers_suite (void)
{
  Suite *s = suite_create ("primalayers");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_layers_logits);
  tcase_add_test (tc, test_layers_windows);
  tcase_add_test (tc, test_bad_caps_pipeline);
  return s;
}

GST_TEST_MAIN (primalayers_suite, "primalayers");
