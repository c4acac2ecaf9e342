/* gst-prima tests: primaringhead: its four always pads, and a ring of two in one process
 * (the head and a primalayers worker) with the single context's logits.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include <math.h>
#include <string.h>

#include "model.h"
#include "forward.h"

/* The ring's head is its own element with four always pads; primalayers is
 * a plain transform again, without request pads. */
GST_START_TEST (test_ring_head_pads)
{
  static const gchar *pads[] = { "sink", "src", "ring_sink", "ring_src" };
  GstElement *head = gst_element_factory_make ("primaringhead", NULL);
  GstElement *layers = gst_element_factory_make ("primalayers", NULL);
  GstElementFactory *factory;
  const GList *l;
  guint n = 0;

  fail_unless (head != NULL);
  fail_unless (layers != NULL);
  for (guint i = 0; i < G_N_ELEMENTS (pads); i++) {
    GstPad *pad = gst_element_get_static_pad (head, pads[i]);
    GstPadTemplate *templ;
    fail_unless (pad != NULL, "no pad %s", pads[i]);
    templ = gst_pad_get_pad_template (pad);
    fail_unless_equals_int (GST_PAD_TEMPLATE_PRESENCE (templ), GST_PAD_ALWAYS);
    gst_object_unref (templ);
    gst_object_unref (pad);
  }
  fail_unless_equals_int (head->numpads, 4);

  factory = gst_element_get_factory (layers);
  for (l = gst_element_factory_get_static_pad_templates (factory); l; l = l->next, n++)
    fail_unless_equals_int (((GstStaticPadTemplate *) l->data)->presence, GST_PAD_ALWAYS);
  fail_unless_equals_int (n, 2);
  fail_unless (gst_element_request_pad_simple (layers, "ring_src") == NULL);
  fail_unless (gst_element_request_pad_simple (layers, "ring_sink") == NULL);
  fail_unless_equals_int (layers->numpads, 2);

  gst_object_unref (head);
  gst_object_unref (layers);
}

GST_END_TEST;

static void
check_logits (GstBuffer * out, const float *want, gint n_vocab, const GArray * ids, gint pos0)
{
  GstMapInfo map;
  PrimaHeader hdr;
  const float *got;

  fail_unless (gst_buffer_map (out, &map, GST_MAP_READ));
  fail_unless (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_LOGITS, &hdr));
  fail_if (hdr.flags & PRIMA_FLAG_NO_IDS);
  fail_unless_equals_int (hdr.pos0, pos0);
  fail_unless_equals_int (hdr.n_tokens, ids->len);
  fail_unless_equals_int (hdr.payload_size, ids->len * sizeof (gint32) + n_vocab * sizeof (float));
  fail_unless (memcmp (map.data + PRIMA_HEADER_SIZE, ids->data, ids->len * sizeof (gint32)) == 0);
  got = (const float *) (map.data + PRIMA_HEADER_SIZE + ids->len * sizeof (gint32));
  for (gint i = 0; i < n_vocab; i++)
    fail_unless (fabsf (got[i] - want[i]) <= 1e-5f * MAX (1.0f, fabsf (want[i])), "logit %d: %g, expected %g", i,
        got[i], want[i]);
  gst_buffer_unmap (out, &map);
}

/* Passes what the head sent on ring_src through a worker (another
 * harness) back into ring_sink, as the ring would. */
static void
ring_round (GstHarness * ring, GstHarness * worker)
{
  fail_unless_equals_int (gst_harness_push (worker, gst_harness_pull (ring)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (ring, gst_harness_pull (worker)), GST_FLOW_OK);
}

/* A ring of two in one process: the head embeds the prompt and runs its
 * windows 0-1 and 2-n, a worker (primalayers) runs 1-2 between ring_src and
 * ring_sink; the logits and the ids are the single context's, a decoded
 * token follows at the next position, and end-of-stream comes out of src
 * only after it went round. */
GST_START_TEST (test_ring_head_loop)
{
  gchar *model_file = model_path ();
  Reference *ref = reference_load ();
  GError *error = NULL;
  prima_model *model = prima_model_load (model_file, &error);
  prima_context *ctx;
  GArray *next = g_array_new (FALSE, FALSE, sizeof (gint32));
  GstElement *head;
  gchar *desc, *hidden;
  GstHarness *h, *ring, *worker;
  GstBuffer *out;
  GstEvent *ev;
  float *want;
  gint n_layer;
  guint64 n_evaluated = 0;
  gboolean eos = FALSE;

  fail_unless (model != NULL, "%s", error ? error->message : "");
  n_layer = model->hp.n_layer;
  fail_unless (n_layer >= 3);
  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = 64,.n_threads = 1}, &error);
  want = g_new (float, model->hp.n_vocab);
  fail_unless (prima_context_eval (ctx, ref->prompt_tokens->len, (const int32_t *) ref->prompt_tokens->data, NULL,
          0, want, FALSE, &error));

  desc = g_strdup_printf ("0-1,2-%d", n_layer);
  head = gst_element_factory_make ("primaringhead", NULL);
  g_object_set (head, "model", model_file, "threads", 1, "context-size", 64, "windows", desc, NULL);
  g_free (desc);
  h = gst_harness_new_with_element (head, "sink", "src");
  ring = gst_harness_new_with_element (head, "ring_sink", "ring_src");
  desc = g_strdup_printf ("primalayers model=%s threads=1 context-size=64 windows=1-2", model_file);
  worker = gst_harness_new_parse (desc);
  hidden = g_strdup_printf ("application/x-prima-hidden, n-embd=(int)%d, format=F32", model->hp.n_embd);
  gst_harness_set_src_caps_str (h, "application/x-prima-tokens");
  gst_harness_set_src_caps_str (ring, hidden);
  gst_harness_set_src_caps_str (worker, hidden);

  fail_unless_equals_int (gst_harness_push (h, tokens_buffer ((const gint32 *) ref->prompt_tokens->data,
              ref->prompt_tokens->len)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (h), 0);
  ring_round (ring, worker);
  out = gst_harness_pull (h);
  check_logits (out, want, model->hp.n_vocab, ref->prompt_tokens, 0);
  gst_buffer_unref (out);

  g_array_append_val (next, g_array_index (ref->greedy_tokens, gint32, 0));
  fail_unless (prima_context_eval (ctx, 1, (const int32_t *) next->data, NULL, ref->prompt_tokens->len, want, FALSE,
          &error));
  fail_unless_equals_int (gst_harness_push (h, tokens_buffer ((const gint32 *) next->data, 1)), GST_FLOW_OK);
  ring_round (ring, worker);
  out = gst_harness_pull (h);
  check_logits (out, want, model->hp.n_vocab, next, ref->prompt_tokens->len);
  gst_buffer_unref (out);

  g_object_get (head, "n-evaluated", &n_evaluated, NULL);
  /* two windows of the head, each saw every token */
  fail_unless_equals_int (n_evaluated, 2 * (ref->prompt_tokens->len + 1));

  /* the ordered stop: out on ring_src, src ends once it came back */
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while (!eos && (ev = gst_harness_try_pull_event (ring)) != NULL) {
    eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  fail_unless (eos, "no end-of-stream on ring_src");
  while ((ev = gst_harness_try_pull_event (h)) != NULL) {
    fail_if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS, "end-of-stream before the ring stopped");
    gst_event_unref (ev);
  }
  fail_unless (gst_harness_push_event (ring, gst_event_new_eos ()));
  eos = FALSE;
  while (!eos && (ev = gst_harness_try_pull_event (h)) != NULL) {
    eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
  }
  fail_unless (eos, "no end-of-stream on src");

  gst_harness_teardown (worker);
  gst_harness_teardown (ring);
  gst_harness_teardown (h);
  gst_object_unref (head);
  g_free (desc);
  g_free (hidden);
  g_free (want);
  g_array_unref (next);
  prima_context_free (ctx);
  prima_model_free (model);
  reference_free (ref);
  g_free (model_file);
}

GST_END_TEST;

static Suite *
primaringhead_suite (void)
{
  Suite *s = suite_create ("primaringhead");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_ring_head_pads);
  tcase_add_test (tc, test_ring_head_loop);
  return s;
}

GST_TEST_MAIN (primaringhead_suite, "primaringhead");
