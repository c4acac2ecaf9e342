/* gst-prima tests: primaringhead: its four always pads, and a ring of two in one process
 * (the head and a primalayers worker) with the single context's logits; a
 * ring rebuilt under it (suspend, a fresh worker, resume): the replay gives
 * the outstanding batch's logits, and only then, and the history follows
 * the KV operations.
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

/* The ring of test_ring_head_loop, whose worker can be replaced. */
typedef struct
{
  gchar *model_file;
  prima_model *model;
  prima_context *ctx;           /* the single context, token by token */
  GstElement *head;
  GstHarness *h, *ring, *worker;
  gchar *hidden_caps;
} Ring;

static GstHarness *
new_worker (Ring * r)
{
  gchar *desc = g_strdup_printf ("primalayers model=%s threads=1 context-size=64 windows=1-2", r->model_file);
  GstHarness *w = gst_harness_new_parse (desc);

  gst_harness_set_src_caps_str (w, r->hidden_caps);
  g_free (desc);
  return w;
}

/* Evaluates ids at pos in the single context (want: their last logits),
 * pushes them into the head and, when round, passes them round the ring. */
static void
step (Ring * r, const gint32 * ids, guint n, gint pos, guint16 flags, float *want, gboolean round)
{
  GError *error = NULL;

  fail_unless (prima_context_eval (r->ctx, n, ids, NULL, pos, want, FALSE, &error), "%s",
      error ? error->message : "");
  fail_unless_equals_int (gst_harness_push (r->h, prima_tokens_buffer_new (ids, n, -1, 0, flags)), GST_FLOW_OK);
  if (round)
    ring_round (r->ring, r->worker);
}

static void
check_step (Ring * r, const float *want, const gint32 * ids, guint n, gint pos)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (gint32));
  GstBuffer *out = gst_harness_pull (r->h);

  fail_unless (out != NULL, "no logits for the tokens at %d", pos);
  g_array_append_vals (a, ids, n);
  check_logits (out, want, r->model->hp.n_vocab, a, pos);
  gst_buffer_unref (out);
  g_array_unref (a);
}

/* The device after the head is gone: a fresh worker takes its place. */
static void
replace_worker (Ring * r)
{
  gst_harness_teardown (r->worker);
  r->worker = new_worker (r);
}

static gboolean
replaying (Ring * r)
{
  gboolean b = FALSE;
  g_object_get (r->head, "replaying", &b, NULL);
  return b;
}

/* The push into the next device fails as the head hears of the loss (as
 * primawssink with loss-action=notify: its peer-lost handler suspends the
 * head before the push returns). */
static GstPadProbeReturn
lose_on_push (GstPad * pad, GstPadProbeInfo * info, gpointer head)
{
  gst_element_send_event (GST_ELEMENT (head), prima_event_new_ring_suspend ());
  gst_buffer_unref (GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  GST_PAD_PROBE_INFO_FLOW_RETURN (info) = GST_FLOW_FLUSHING;
  return GST_PAD_PROBE_HANDLED;
}

typedef struct
{
  GstHarness *h;
  gint32 id;
} Pusher;

static gpointer
push_one (gpointer data)
{
  Pusher *p = data;
  return GINT_TO_POINTER (gst_harness_push (p->h, prima_tokens_buffer_new (&p->id, 1, -1, 0, 0)));
}

GST_START_TEST (test_ring_head_replay)
{
  Reference *ref = reference_load ();
  const gint32 *prompt = (const gint32 *) ref->prompt_tokens->data, *g = (const gint32 *) ref->greedy_tokens->data;
  const gint n = (gint) ref->prompt_tokens->len;
  GError *error = NULL;
  Ring r = { 0 };
  gchar *desc;
  float *want;
  guint answer = 0;
  gulong probe;
  GThread *thread;
  Pusher pusher;

  r.model_file = model_path ();
  r.model = prima_model_load (r.model_file, &error);
  fail_unless (r.model != NULL, "%s", error ? error->message : "");
  fail_unless (n >= 3 && ref->greedy_tokens->len >= 6);
  r.ctx = prima_context_new (r.model, &(prima_context_params) {.n_ctx = 64,.n_threads = 1}, &error);
  want = g_new (float, r.model->hp.n_vocab);
  desc = g_strdup_printf ("0-1,2-%d", r.model->hp.n_layer);
  r.head = gst_element_factory_make ("primaringhead", NULL);
  g_object_set (r.head, "model", r.model_file, "threads", 1, "context-size", 64, "windows", desc, NULL);
  g_free (desc);
  r.h = gst_harness_new_with_element (r.head, "sink", "src");
  r.ring = gst_harness_new_with_element (r.head, "ring_sink", "ring_src");
  r.hidden_caps = g_strdup_printf ("application/x-prima-hidden, n-embd=(int)%d, format=F32", r.model->hp.n_embd);
  gst_harness_set_src_caps_str (r.h, "application/x-prima-tokens");
  gst_harness_set_src_caps_str (r.ring, r.hidden_caps);
  r.worker = new_worker (&r);

  /* the prompt and a first token as usual */
  step (&r, prompt, n, 0, PRIMA_FLAG_PROMPT, want, TRUE);
  check_step (&r, want, prompt, n, 0);
  step (&r, &g[0], 1, n, 0, want, TRUE);
  check_step (&r, want, &g[0], 1, n);
  g_object_get (r.head, "answer-tokens", &answer, NULL);
  fail_unless_equals_int (answer, 2);

  /* outstanding: g1 goes out as the ring breaks (the push fails) */
  probe = gst_pad_add_probe (r.ring->sinkpad, GST_PAD_PROBE_TYPE_BUFFER, lose_on_push, r.head, NULL);
  step (&r, &g[1], 1, n + 1, 0, want, FALSE);
  gst_pad_remove_probe (r.ring->sinkpad, probe);
  fail_unless (gst_harness_try_pull (r.h) == NULL);
  /* what the old ring still hands back is dropped */
  {
    PrimaHeader hh;
    prima_header_init (&hh, PRIMA_PAYLOAD_HIDDEN, 1, r.model->hp.n_embd * sizeof (float));
    hh.pos0 = n + 1;
    hh.next_layer = 2;
    fail_unless_equals_int (gst_harness_push (r.ring, prima_buffer_new (&hh)), GST_FLOW_OK);
    fail_unless (gst_harness_try_pull (r.h) == NULL, "the suspended head let a stale frame through");
  }
  replace_worker (&r);
  fail_if (replaying (&r));
  fail_unless (gst_element_send_event (r.head, prima_event_new_ring_resume ()));
  fail_unless (replaying (&r));
  /* the whole history (prompt, g0, g1) as one batch, once round */
  fail_unless_equals_int (gst_harness_buffers_in_queue (r.ring), 1);
  ring_round (r.ring, r.worker);
  fail_if (replaying (&r));
  /* the replay's last row is g1's logits, token by token's */
  check_step (&r, want, &g[1], 1, n + 1);
  g_object_get (r.head, "answer-tokens", &answer, NULL);
  fail_unless_equals_int (answer, 3);

  /* not outstanding: g2's logits are out when the ring breaks; the replay gives none */
  step (&r, &g[2], 1, n + 2, 0, want, TRUE);
  check_step (&r, want, &g[2], 1, n + 2);
  fail_unless (gst_element_send_event (r.head, prima_event_new_ring_suspend ()));
  replace_worker (&r);
  fail_unless (gst_element_send_event (r.head, prima_event_new_ring_resume ()));
  ring_round (r.ring, r.worker);
  fail_if (replaying (&r));
  fail_unless (gst_harness_try_pull (r.h) == NULL, "logits from a replay with no batch outstanding");
  step (&r, &g[3], 1, n + 3, 0, want, TRUE);
  check_step (&r, want, &g[3], 1, n + 3);

  /* suspended, the sink waits: g4 goes out after the replay */
  fail_unless (gst_element_send_event (r.head, prima_event_new_ring_suspend ()));
  fail_unless (prima_context_eval (r.ctx, 1, &g[4], NULL, n + 4, want, FALSE, &error));
  pusher.h = r.h;
  pusher.id = g[4];
  thread = g_thread_new ("push", push_one, &pusher);
  g_usleep (200 * 1000);
  fail_unless_equals_int (gst_harness_buffers_in_queue (r.ring), 0);
  replace_worker (&r);
  fail_unless (gst_element_send_event (r.head, prima_event_new_ring_resume ()));
  fail_unless_equals_int (GPOINTER_TO_INT (g_thread_join (thread)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_buffers_in_queue (r.ring), 2);
  ring_round (r.ring, r.worker);        /* the replay: no logits */
  ring_round (r.ring, r.worker);        /* g4 */
  check_step (&r, want, &g[4], 1, n + 4);
  fail_unless (gst_harness_try_pull (r.h) == NULL);

  /* a context shift (positions 1, 2 dropped, the rest moved down), then a
   * loss: the replay holds what the cache held, so the next token's logits
   * are those of the kept tokens evaluated afresh */
  fail_unless (gst_harness_push_event (r.h, prima_event_new_kv_remove (0, 1, 3)));
  fail_unless (gst_harness_push_event (r.h, prima_event_new_kv_shift (0, 3, -1, -2)));
  fail_unless (gst_element_send_event (r.head, prima_event_new_ring_suspend ()));
  replace_worker (&r);
  fail_unless (gst_element_send_event (r.head, prima_event_new_ring_resume ()));
  ring_round (r.ring, r.worker);
  fail_unless (gst_harness_try_pull (r.h) == NULL);
  {
    GArray *kept = g_array_new (FALSE, FALSE, sizeof (gint32));
    g_array_append_val (kept, prompt[0]);
    g_array_append_vals (kept, prompt + 3, n - 3);
    g_array_append_vals (kept, g, 5);
    prima_context_free (r.ctx);
    r.ctx = prima_context_new (r.model, &(prima_context_params) {.n_ctx = 64,.n_threads = 1}, &error);
    fail_unless (prima_context_eval (r.ctx, kept->len, (const int32_t *) kept->data, NULL, 0, want, FALSE, &error));
    step (&r, &g[5], 1, (gint) kept->len, 0, want, TRUE);
    check_step (&r, want, &g[5], 1, (gint) kept->len);
    g_array_unref (kept);
  }

  gst_harness_teardown (r.worker);
  gst_harness_teardown (r.ring);
  gst_harness_teardown (r.h);
  gst_object_unref (r.head);
  g_free (r.hidden_caps);
  g_free (want);
  prima_context_free (r.ctx);
  prima_model_free (r.model);
  reference_free (ref);
  g_free (r.model_file);
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
  tcase_add_test (tc, test_ring_head_replay);
  return s;
}

GST_TEST_MAIN (primaringhead_suite, "primaringhead");
