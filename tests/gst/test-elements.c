/* gst-prima tests: the elements of the "prima" plugin, alone (GstHarness) and
 * in the generation pipeline of pipelines/generate.pipeline.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/base/gstpushsrc.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "model.h"
#include "forward.h"
#include "tokenizer.h"
#include "chat-template.h"
#include "test-common.h"

#define MODEL "stories260K-f32.gguf"
#define REFERENCE "stories260K-f32.json"

static gchar *
model_path (void)
{
  return test_data_path (MODEL);
}

typedef struct
{
  gchar *prompt;
  GArray *prompt_tokens;
  GArray *greedy_tokens;
  gchar *greedy_text;
} Reference;

static GArray *
json_ids (JsonObject * o, const gchar * member)
{
  JsonArray *a = json_object_get_array_member (o, member);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    gint32 id = (gint32) json_array_get_int_element (a, i);
    g_array_append_val (ids, id);
  }
  return ids;
}

static Reference *
reference_load_from (const gchar * file)
{
  gchar *path = test_data_path (file);
  JsonParser *parser = json_parser_new ();
  GError *error = NULL;
  Reference *r = g_new0 (Reference, 1);
  JsonObject *o;

  fail_unless (json_parser_load_from_file (parser, path, &error), "%s: %s", path, error ? error->message : "");
  o = json_node_get_object (json_parser_get_root (parser));
  r->prompt = g_strdup (json_object_get_string_member (o, "prompt"));
  r->prompt_tokens = json_ids (o, "prompt_tokens");
  r->greedy_tokens = json_ids (o, "greedy_tokens");
  r->greedy_text = g_strdup (json_object_get_string_member (o, "greedy_text"));
  g_object_unref (parser);
  g_free (path);
  return r;
}

static Reference *
reference_load (void)
{
  return reference_load_from (REFERENCE);
}

static void
reference_free (Reference * r)
{
  g_free (r->prompt);
  g_array_free (r->prompt_tokens, TRUE);
  g_array_free (r->greedy_tokens, TRUE);
  g_free (r->greedy_text);
  g_free (r);
}

/* An element of the plugin with its model set, in a harness (which sets it
 * to PLAYING, so the model must be set before). */
static GstHarness *
harness_new (const gchar * factory, const gchar * first_property, ...)
{
  GstElement *element = gst_element_factory_make (factory, NULL);
  GstHarness *h;
  va_list args;

  fail_unless (element != NULL, "no element %s: is the plugin on GST_PLUGIN_PATH?", factory);
  if (first_property) {
    va_start (args, first_property);
    g_object_set_valist (G_OBJECT (element), first_property, args);
    va_end (args);
  }
  h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  return h;
}

/* The header and ids of a tokens buffer. */
static GArray *
tokens_of (GstBuffer * buf, PrimaHeader * h)
{
  GstMapInfo map;
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  fail_unless (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_TOKENS, h), "not a tokens buffer");
  fail_unless_equals_int (h->payload_size, h->n_tokens * sizeof (gint32));
  g_array_append_vals (ids, map.data + PRIMA_HEADER_SIZE, h->n_tokens);
  gst_buffer_unmap (buf, &map);
  return ids;
}

static void
assert_ids_equal (GArray * got, GArray * want)
{
  fail_unless_equals_int (got->len, want->len);
  for (guint i = 0; i < want->len; i++)
    fail_unless_equals_int (g_array_index (got, gint32, i), g_array_index (want, gint32, i));
}

/* ---- primatokenizer ---- */

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

/* ---- primasampler ---- */

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

/* ---- primadetokenizer ---- */

static GstBuffer *
tokens_buffer (const gint32 * ids, guint n)
{
  return prima_tokens_buffer_new (ids, n, -1, 0, 0);
}

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

/* ---- primaringhead ---- */

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

/* primawssrc is a live GstPushSrc: live in the latency query, and a state
 * change wakes its waiting create at once, with no peer ever connected. */
GST_START_TEST (test_wssrc_live)
{
  GstElement *pipeline = gst_parse_launch ("primawssrc name=src port=0 cluster-key=0123456789abcdef0123 "
      "! fakesink sync=false", NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  GstQuery *query = gst_query_new_latency ();
  gboolean live = FALSE;
  GstClockTime min = 0, max = 0;
  gint64 t0;

  fail_unless (GST_IS_PUSH_SRC (src));
  fail_unless (gst_base_src_is_live (GST_BASE_SRC (src)));
  /* the sink waits for a first buffer that never comes: no preroll */
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  fail_unless (gst_element_query (src, query));
  gst_query_parse_latency (query, &live, &min, &max);
  fail_unless (live);
  /* create is waiting on the link now */
  g_usleep (250 * 1000);
  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  /* create polls the link every 0.1 s at most */
  fail_unless (g_get_monotonic_time () - t0 < G_USEC_PER_SEC / 2);

  gst_query_unref (query);
  gst_object_unref (src);
  gst_object_unref (pipeline);
}

GST_END_TEST;

/* ---- primalayers ---- */

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

/* ---- negotiation ---- */

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

/* Runs a pipeline to its end; returns the error message posted, if any. */
static GstMessage *
run_pipeline (GstElement * pipeline, GstClockTime timeout)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  else
    msg = gst_bus_timed_pop_filtered (bus, timeout, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  fail_unless (msg != NULL, "the pipeline neither ended nor failed");
  return msg;
}

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

/* ---- model errors ---- */

/* The error that the element posts when it goes to PAUSED with this model. */
static gchar *
model_error (const gchar * factory, const gchar * path)
{
  GstElement *element = gst_element_factory_make (factory, NULL);
  GstBus *bus = gst_bus_new ();
  GError *error = NULL;
  GstMessage *msg;
  gchar *text;

  gst_element_set_bus (element, bus);
  g_object_set (element, "model", path, NULL);
  fail_unless_equals_int (gst_element_set_state (element, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "%s posted no error", factory);
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (error->domain == GST_RESOURCE_ERROR, "%s", error->message);
  text = g_strdup (error->message);
  g_error_free (error);
  gst_message_unref (msg);
  gst_element_set_state (element, GST_STATE_NULL);
  gst_element_set_bus (element, NULL);
  gst_object_unref (bus);
  gst_object_unref (element);
  return text;
}

static const gchar *model_elements[] = { "primatokenizer", "primaloop", "primalayers", "primadetokenizer" };

GST_START_TEST (test_missing_model)
{
  const gchar *path = "/nonexistent/prima/model.gguf";

  for (guint i = 0; i < G_N_ELEMENTS (model_elements); i++) {
    gchar *text = model_error (model_elements[i], path);
    fail_unless_equals_string (text, "Model file \"/nonexistent/prima/model.gguf\" does not exist.");
    g_free (text);
  }
}

GST_END_TEST;

GST_START_TEST (test_corrupt_model)
{
  gchar *dir = g_dir_make_tmp ("prima-gst-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "corrupt.gguf", NULL);
  gchar *text;

  fail_unless (g_file_set_contents (path, "this is not a GGUF file at all, only text", -1, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (model_elements); i++) {
    gchar *want = g_strdup_printf ("Could not load the model: %s: not a GGUF file (bad magic) at offset 0", path);
    text = model_error (model_elements[i], path);
    fail_unless_equals_string (text, want);
    g_free (text);
    g_free (want);
  }
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

GST_END_TEST;

/* ---- the generation pipeline ---- */

static gchar *
read_pipeline (const gchar * name)
{
  gchar *path = g_build_filename (g_getenv ("PRIMA_PIPELINES_DIR"), name, NULL);
  gchar *contents = NULL;
  GString *desc = g_string_new (NULL);
  gchar **lines;

  fail_unless (g_file_get_contents (path, &contents, NULL, NULL), "cannot read %s", path);
  lines = g_strsplit (contents, "\n", -1);
  for (gchar ** l = lines; *l; l++)
    if (**l != '#')
      g_string_append_printf (desc, "%s ", *l);
  g_strfreev (lines);
  g_free (contents);
  g_free (path);
  return g_string_free (desc, FALSE);
}

static void
set_by_name (GstElement * pipeline, const gchar * name, const gchar * property, ...)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  va_list args;

  fail_unless (e != NULL, "the pipeline has no element named %s", name);
  va_start (args, property);
  g_object_set_valist (G_OBJECT (e), property, args);
  va_end (args);
  gst_object_unref (e);
}

/* Runs pipelines/generate.pipeline on the prompt with the tiny model and
 * greedy sampling; returns the text it wrote. */
static gchar *
generate (const gchar * prompt, gint n_predict, const gchar * stop)
{
  gchar *model = model_path ();
  gchar *desc = read_pipeline ("generate.pipeline");
  gchar *dir = g_dir_make_tmp ("prima-gst-XXXXXX", NULL);
  gchar *out_path = g_build_filename (dir, "out.txt", NULL);
  GError *error = NULL;
  GstElement *pipeline;
  GstMessage *msg;
  gchar *text = NULL;
  int fds[2], out_fd;

  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL && error == NULL, "%s: %s", desc, error ? error->message : "");
  fail_unless (pipe (fds) == 0);
  fail_unless_equals_int (write (fds[1], prompt, strlen (prompt)), (int) strlen (prompt));
  close (fds[1]);
  out_fd = g_open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  fail_unless (out_fd >= 0);

  set_by_name (pipeline, "input", "fd", fds[0], NULL);
  set_by_name (pipeline, "output", "fd", out_fd, NULL);
  set_by_name (pipeline, "tokenizer", "model", model, NULL);
  set_by_name (pipeline, "loop", "model", model, "n-predict", n_predict, NULL);
  set_by_name (pipeline, "layers", "model", model, NULL);
  set_by_name (pipeline, "sampler", "temperature", 0.0f, NULL);
  if (stop) {
    GstElement *loop = gst_bin_get_by_name (GST_BIN (pipeline), "loop");
    gst_util_set_object_arg (G_OBJECT (loop), "stop", stop);
    gst_object_unref (loop);
  }
  set_by_name (pipeline, "detokenizer", "model", model, NULL);

  msg = run_pipeline (pipeline, 120 * GST_SECOND);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gchar *debug = NULL;
    gst_message_parse_error (msg, &error, &debug);
    fail ("the pipeline failed: %s (%s)", error->message, debug);
  }
  gst_message_unref (msg);
  close (out_fd);
  close (fds[0]);
  fail_unless (g_file_get_contents (out_path, &text, NULL, NULL));

  gst_object_unref (pipeline);
  g_unlink (out_path);
  g_rmdir (dir);
  g_free (out_path);
  g_free (dir);
  g_free (desc);
  g_free (model);
  return text;
}

GST_START_TEST (test_generate_pipeline)
{
  Reference *ref = reference_load ();
  gchar *text = generate (ref->prompt, ref->greedy_tokens->len, NULL);

  fail_unless_equals_string (text, ref->greedy_text);
  g_free (text);
  reference_free (ref);
}

GST_END_TEST;

GST_START_TEST (test_generate_n_predict)
{
  Reference *ref = reference_load ();
  gchar *model = model_path ();
  gguf_file *file = gguf_open (model, NULL);
  prima_tokenizer *tok = prima_tokenizer_new (file, NULL);
  GString *want = g_string_new (NULL);
  gchar *text;

  /* n-predict=N gives the text of the first N greedy tokens */
  for (guint i = 0; i < 8; i++)
    prima_token_to_piece (tok, g_array_index (ref->greedy_tokens, gint32, i), FALSE, want);
  text = generate (ref->prompt, 8, NULL);
  fail_unless_equals_string (text, want->str);
  fail_unless (g_str_has_prefix (ref->greedy_text, text));
  g_free (text);
  /* n-predict=0 generates nothing */
  text = generate (ref->prompt, 0, NULL);
  fail_unless_equals_string (text, "");
  g_free (text);

  g_string_free (want, TRUE);
  prima_tokenizer_free (tok);
  gguf_close (file);
  g_free (model);
  reference_free (ref);
}

GST_END_TEST;

/* Stop strings end the turn after the token that completes them. */
GST_START_TEST (test_generate_stop)
{
  Reference *ref = reference_load ();
  gchar *text = generate (ref->prompt, -1, "<\"Lily\", \"never matches\">");
  const gchar *end = strstr (ref->greedy_text, "Lily") + strlen ("Lily");

  fail_unless_equals_int (strlen (text), end - ref->greedy_text);
  fail_unless (strncmp (text, ref->greedy_text, strlen (text)) == 0, "%s", text);
  g_free (text);
  reference_free (ref);
}

GST_END_TEST;

/* Without n-predict the turn ends where `prima run` ends: at an
 * end-of-generation token or when the context is full. */
GST_START_TEST (test_generate_until_end)
{
  Reference *ref = reference_load ();
  gchar *model = model_path ();
  gchar *argv[] = { (gchar *) g_getenv ("PRIMA_BIN"), (gchar *) "run", (gchar *) "-m", model, (gchar *) "-p",
    ref->prompt, (gchar *) "-n", (gchar *) "-1", (gchar *) "--temp", (gchar *) "0",
    (gchar *) "--no-display-prompt", NULL
  };
  gchar *want = NULL, *text;
  gint status;

  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &want, NULL, &status,
          NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "prima run failed");
  fail_unless (g_str_has_suffix (want, "\n"));
  want[strlen (want) - 1] = '\0';     /* prima run ends with a newline */
  text = generate (ref->prompt, -1, NULL);
  fail_unless_equals_string (text, want);
  g_free (text);
  g_free (want);
  g_free (model);
  reference_free (ref);
}

GST_END_TEST;

/* The documented line run by gst-launch-1.0 itself. */
static void
check_gst_launch (const gchar * model, const gchar * reference)
{
  Reference *ref = reference_load_from (reference);
  gchar *cmd = g_strdup_printf ("printf '%%s' '%s' | '%s' -q fdsrc fd=0 ! primatokenizer model=%s "
      "! primaloop name=loop model=%s n-predict=64 ! primalayers model=%s ! primasampler temperature=0 "
      "! tee name=t ! queue ! primadetokenizer model=%s ! fdsink fd=1  t. ! primafeedback",
      ref->prompt, g_getenv ("GST_LAUNCH"), model, model, model, model);
  gchar *argv[] = { (gchar *) "/bin/sh", (gchar *) "-c", cmd, NULL };
  gchar *out = NULL, *err = NULL;
  GError *error = NULL;
  gint status;

  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error),
      "%s", error ? error->message : "");
  fail_unless (g_spawn_check_wait_status (status, NULL), "gst-launch-1.0 failed: %s", err);
  fail_unless_equals_string (out, ref->greedy_text);
  /* the graph has no cycle: GstBin has nothing to warn about */
  fail_unless (strstr (err, "loop detected") == NULL, "%s", err);
  g_free (out);
  g_free (err);
  g_free (cmd);
  reference_free (ref);
}

GST_START_TEST (test_gst_launch)
{
  gchar *model = model_path ();
  check_gst_launch (model, REFERENCE);
  g_free (model);
}

GST_END_TEST;

/* The same on the embedded default model of data/. */
GST_START_TEST (test_gst_launch_embedded)
{
  gchar *model = g_build_filename (g_getenv ("PRIMA_DATA_DIR"), "TinyStories-656K-f32.gguf", NULL);
  check_gst_launch (model, "TinyStories-656K-f32.json");
  g_free (model);
}

GST_END_TEST;

/* gst-inspect-1.0 shows every element with its documentation, pads and properties. */
static gchar *
inspect (const gchar * what)
{
  gchar *argv[] = { (gchar *) g_getenv ("GST_INSPECT"), (gchar *) what, NULL };
  gchar *out = NULL;
  GError *error = NULL;
  gint status;

  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, &status,
          &error), "%s", error ? error->message : "");
  fail_unless (g_spawn_check_wait_status (status, NULL), "gst-inspect-1.0 %s failed", what);
  return out;
}

GST_START_TEST (test_inspect)
{
  static const struct
  {
    const gchar *name;
    const gchar *words[12];
  } elements[] = {
    {"primatokenizer", {"SINK template: 'sink'", "text/x-raw", "SRC template: 'src'", "application/x-prima-tokens",
            "model", "add-special", "parse-special"}},
    {"primatokenizer", {"chat", "chat-template", "system-prompt"}},
    {"primaloop", {"SINK template: 'sink'", "SRC template: 'src'", "n-predict", "model", "stop", "ignore-eos",
            "channel"}},
    {"primafeedback", {"SINK template: 'sink'", "application/x-prima-tokens", "channel"}},
    {"primalayers", {"application/x-prima-logits", "application/x-prima-hidden", "model", "context-size",
            "threads", "first-layer", "last-layer", "n-evaluated"}},
    {"primaringhead", {"SINK template: 'ring_sink'", "SRC template: 'ring_src'", "application/x-prima-tokens",
            "application/x-prima-logits", "model", "windows", "all-logits", "n-evaluated"}},
    {"primasampler", {"application/x-prima-logits", "temperature", "top-k", "top-p", "min-p", "repeat-penalty",
            "repeat-last-n", "frequency-penalty", "presence-penalty", "seed"}},
    {"primadetokenizer", {"application/x-prima-tokens", "text/x-raw", "model", "special"}},
    {"primafdsink", {"SINK template: 'sink'", "ANY", "fd"}},
    {"primawssrc", {"application/x-prima-hidden", "port", "rank", "peer-rank", "cluster-key", "cluster-key-file",
            "tls-certificate-file", "heartbeat-timeout"}},
    {"primawssink", {"application/x-prima-hidden", "url", "rank", "peer-rank", "cluster-key", "cluster-key-file",
            "tls-peer-certificate-file", "world", "plan"}},
    {"primascheduler", {"world", "port", "next", "devices", "profiles", "layer-window", "rounds", "even",
            "context-size", "cluster-key-file", "ring-timeout"}},
  };
  gchar *out = inspect ("prima");

  fail_unless (strstr (out, "Name                     prima") != NULL, "%s", out);
  fail_unless (strstr (out, "11 elements") != NULL, "%s", out);
  for (guint i = 0; i < G_N_ELEMENTS (elements); i++)
    fail_unless (strstr (out, elements[i].name) != NULL, "%s not listed", elements[i].name);
  g_free (out);

  for (guint i = 0; i < G_N_ELEMENTS (elements); i++) {
    out = inspect (elements[i].name);
    fail_unless (strstr (out, "Description") != NULL, "%s", out);
    for (guint j = 0; j < G_N_ELEMENTS (elements[i].words) && elements[i].words[j]; j++)
      fail_unless (strstr (out, elements[i].words[j]) != NULL, "%s: no \"%s\" in\n%s", elements[i].name,
          elements[i].words[j], out);
    g_free (out);
  }
}

GST_END_TEST;

/* ---- primafeedback: the channel ---- */

/* generate.pipeline with the loop and the feedback on given channels;
 * returns the message that ended it. */
static GstMessage *
generate_on_channels (const gchar * loop_channel, const gchar * feedback_channel, gchar ** text)
{
  gchar *model = model_path ();
  gchar *desc = read_pipeline ("generate.pipeline");
  gchar *dir = g_dir_make_tmp ("prima-gst-XXXXXX", NULL);
  gchar *out_path = g_build_filename (dir, "out.txt", NULL);
  Reference *ref = reference_load ();
  GError *error = NULL;
  GstElement *pipeline;
  GstMessage *msg;
  int fds[2], out_fd;

  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  fail_unless (pipe (fds) == 0);
  fail_unless_equals_int (write (fds[1], ref->prompt, strlen (ref->prompt)), (int) strlen (ref->prompt));
  close (fds[1]);
  out_fd = g_open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  set_by_name (pipeline, "input", "fd", fds[0], NULL);
  set_by_name (pipeline, "output", "fd", out_fd, NULL);
  set_by_name (pipeline, "tokenizer", "model", model, NULL);
  set_by_name (pipeline, "loop", "model", model, "n-predict", 16, "channel", loop_channel, NULL);
  set_by_name (pipeline, "layers", "model", model, NULL);
  set_by_name (pipeline, "sampler", "temperature", 0.0f, NULL);
  set_by_name (pipeline, "detokenizer", "model", model, NULL);
  set_by_name (pipeline, "feedback", "channel", feedback_channel, NULL);
  msg = run_pipeline (pipeline, 60 * GST_SECOND);
  close (out_fd);
  close (fds[0]);
  if (text)
    fail_unless (g_file_get_contents (out_path, text, NULL, NULL));
  g_unlink (out_path);
  g_rmdir (dir);
  gst_object_unref (pipeline);
  reference_free (ref);
  g_free (out_path);
  g_free (dir);
  g_free (desc);
  g_free (model);
  return msg;
}

GST_START_TEST (test_feedback_channel)
{
  Reference *ref = reference_load ();
  GError *error = NULL;
  GstMessage *msg;
  gchar *text = NULL;

  /* a named channel: the same text as the default one */
  msg = generate_on_channels ("story", "story", &text);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  fail_unless (strlen (text) > 0 && g_str_has_prefix (ref->greedy_text, text), "%s", text);
  g_free (text);

  /* no loop on the feedback's channel: a clear error */
  msg = generate_on_channels ("story", "elsewhere", NULL);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &error, NULL);
  fail_unless_equals_string (error->message, "No primaloop uses the channel \"elsewhere\".");
  g_clear_error (&error);
  gst_message_unref (msg);
  reference_free (ref);
}

GST_END_TEST;

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

/* ---- primatokenizer in chat mode ---- */

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

/* ---- chat.pipeline: three turns in one go ---- */

typedef struct
{
  gint prompt_tokens, generated, decode_tokens, position;
  gchar *reason;
} Turn;

GST_START_TEST (test_chat_pipeline)
{
  gchar *model = test_data_path ("TinyStories-656K-q8_0.gguf");
  gchar *desc = read_pipeline ("chat.pipeline");
  const gchar *input = "Hello\nTell me about a cat\n\nAnd the dog?";
  const gchar *users[3] = { "Hello", "Tell me about a cat", "And the dog?" };
  gguf_file *file = gguf_open (model, NULL);
  prima_tokenizer *tok = prima_tokenizer_new (file, NULL);
  GError *error = NULL;
  GstElement *pipeline, *layers;
  GstBus *bus;
  GArray *turns = g_array_new (FALSE, TRUE, sizeof (Turn));
  guint64 n_evaluated = 0;
  gint sum = 0;
  int fds[2], out[2];
  gchar buf[65536];
  gssize n;

  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  fail_unless (pipe (fds) == 0 && pipe (out) == 0);
  fail_unless_equals_int (write (fds[1], input, strlen (input)), (int) strlen (input));
  close (fds[1]);
  set_by_name (pipeline, "input", "fd", fds[0], NULL);
  set_by_name (pipeline, "output", "fd", out[1], NULL);
  set_by_name (pipeline, "tokenizer", "model", model, NULL);
  set_by_name (pipeline, "loop", "model", model, "n-predict", 12, NULL);
  set_by_name (pipeline, "layers", "model", model, "context-size", 256, NULL);
  set_by_name (pipeline, "sampler", "temperature", 0.0f, NULL);
  set_by_name (pipeline, "detokenizer", "model", model, NULL);
  layers = gst_bin_get_by_name (GST_BIN (pipeline), "layers");

  bus = gst_element_get_bus (pipeline);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "the chat did not end");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &error, NULL);
      fail ("%s", error->message);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      gst_message_unref (msg);
      break;
    }
    if (gst_structure_has_name (gst_message_get_structure (msg), PRIMA_MESSAGE_TURN)) {
      Turn t = { 0 };
      gboolean chat = FALSE;
      gst_structure_get (gst_message_get_structure (msg), "prompt-tokens", G_TYPE_INT, &t.prompt_tokens,
          "generated", G_TYPE_INT, &t.generated, "decode-tokens", G_TYPE_INT, &t.decode_tokens,
          "position", G_TYPE_INT, &t.position, "reason", G_TYPE_STRING, &t.reason, "chat", G_TYPE_BOOLEAN, &chat,
          NULL);
      fail_unless (chat);
      g_array_append_val (turns, t);
    }
    gst_message_unref (msg);
  }
  g_object_get (layers, "n-evaluated", &n_evaluated, NULL);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  close (out[1]);
  n = read (out[0], buf, sizeof buf - 1);
  fail_unless (n > 0, "no text came out");

  /* three turns (the empty line is none); each evaluates its own prompt and
   * the fed-back tokens, never an earlier turn */
  fail_unless_equals_int (turns->len, 3);
  for (guint i = 0; i < turns->len; i++) {
    Turn *t = &g_array_index (turns, Turn, i);
    fail_unless_equals_string (t->reason, "n-predict");
    fail_unless_equals_int (t->generated, 12);
    sum += t->prompt_tokens + t->decode_tokens;
    fail_unless_equals_int (t->position, sum);
    if (i > 0) {
      /* only the new turn: "<|im_end|>\n" closing the answer and the
       * rendered user message */
      prima_chat_message m = { "user", users[i] };
      gchar *alone = prima_chat_template_render (PRIMA_CHAT_TEMPLATE_CHATML, &m, 1, TRUE, NULL, NULL, NULL);
      gchar *delta = g_strconcat ("<|im_end|>\n", alone, NULL);
      GArray *want = prima_tokenize (tok, delta, -1, FALSE, TRUE);
      fail_unless (t->prompt_tokens <= (gint) want->len + 2, "turn %u sent %d tokens for %u of new text", i + 1,
          t->prompt_tokens, want->len);
      g_array_free (want, TRUE);
      g_free (delta);
      g_free (alone);
    }
    g_free (t->reason);
  }
  fail_unless_equals_int ((gint) n_evaluated, sum);

  g_array_free (turns, TRUE);
  gst_object_unref (layers);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  close (fds[0]);
  close (out[0]);
  prima_tokenizer_free (tok);
  gguf_close (file);
  g_free (desc);
  g_free (model);
}

GST_END_TEST;

/* A prima-interrupt ends the answer after the token being evaluated. */
GST_START_TEST (test_loop_interrupt)
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

  fail_unless (gst_element_send_event (loop, prima_event_new_interrupt ()));
  fail_unless_equals_int (gst_harness_push (fb, prima_tokens_buffer_new (&token, 1, 3, 0, 0)), GST_FLOW_OK);
  while ((event = gst_harness_pull_event (h)) && !prima_event_is_end_of_turn (event))
    gst_event_unref (event);
  fail_unless (event != NULL);
  fail_unless_equals_string (gst_structure_get_string (gst_event_get_structure (event), "reason"), "interrupted");
  gst_event_unref (event);
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

GST_END_TEST;

/* ---- issue 11: refused messages, bad input, missing feedback, empty
 * prompts, corrupt weights ---- */

typedef struct
{
  gint prompt_tokens, generated, shifts;
  gchar *reason;
} ChatTurn;

/* chat.pipeline on @input with the small q8_0 model, greedy, @n_ctx
 * positions; returns the turns (prima-turn messages) and the warnings. */
static GArray *
chat_turns (const gchar * input, gint n_ctx, gint n_predict, gboolean shift, GString * warnings)
{
  gchar *model = test_data_path ("TinyStories-656K-q8_0.gguf");
  gchar *desc = read_pipeline ("chat.pipeline");
  GArray *turns = g_array_new (FALSE, TRUE, sizeof (ChatTurn));
  GError *error = NULL;
  GstElement *pipeline;
  GstBus *bus;
  int fds[2], out_fd;

  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  fail_unless (pipe (fds) == 0);
  fail_unless_equals_int (write (fds[1], input, strlen (input)), (int) strlen (input));
  close (fds[1]);
  out_fd = g_open ("/dev/null", O_WRONLY, 0);
  set_by_name (pipeline, "input", "fd", fds[0], NULL);
  set_by_name (pipeline, "output", "fd", out_fd, NULL);
  set_by_name (pipeline, "tokenizer", "model", model, "chat-template", "chatml", NULL);
  set_by_name (pipeline, "loop", "model", model, "n-predict", n_predict, "context-shift", shift, NULL);
  set_by_name (pipeline, "layers", "model", model, "context-size", n_ctx, NULL);
  set_by_name (pipeline, "sampler", "temperature", 0.0f, NULL);
  set_by_name (pipeline, "detokenizer", "model", model, NULL);

  bus = gst_element_get_bus (pipeline);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_WARNING | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "the chat did not end");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &error, NULL);
      fail ("%s", error->message);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      gst_message_parse_warning (msg, &error, NULL);
      g_string_append_printf (warnings, "%s\n", error->message);
      g_clear_error (&error);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      gst_message_unref (msg);
      break;
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (gst_message_get_structure (msg), PRIMA_MESSAGE_TURN)) {
      ChatTurn t = { 0 };
      gst_structure_get (gst_message_get_structure (msg), "prompt-tokens", G_TYPE_INT, &t.prompt_tokens,
          "generated", G_TYPE_INT, &t.generated, "context-shifts", G_TYPE_INT, &t.shifts,
          "reason", G_TYPE_STRING, &t.reason, NULL);
      g_array_append_val (turns, t);
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  close (out_fd);
  close (fds[0]);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (model);
  return turns;
}

static void
chat_turns_free (GArray * turns)
{
  for (guint i = 0; i < turns->len; i++)
    g_free (g_array_index (turns, ChatTurn, i).reason);
  g_array_free (turns, TRUE);
}

/* A message too long for the context is refused, and leaves the
 * conversation as it was: the next message is answered (it was refused too,
 * with a growing count, when the tokenizer kept the long one). */
GST_START_TEST (test_chat_refused_message)
{
  GString *input = g_string_new ("Once upon a time\n");
  GString *warnings = g_string_new (NULL);
  GArray *turns;
  ChatTurn *t;

  for (gint i = 0; i < 40; i++)
    g_string_append (input, "the dog ran fast. ");
  g_string_append (input, "\nhi\n");
  turns = chat_turns (input->str, 128, 10, TRUE, warnings);
  fail_unless_equals_int (turns->len, 3);
  t = &g_array_index (turns, ChatTurn, 0);
  fail_unless_equals_string (t->reason, "n-predict");
  t = &g_array_index (turns, ChatTurn, 1);
  fail_unless_equals_string (t->reason, "context-full");
  fail_unless_equals_int (t->generated, 0);
  t = &g_array_index (turns, ChatTurn, 2);
  fail_unless_equals_string (t->reason, "n-predict");
  fail_unless_equals_int (t->generated, 10);
  /* only the user's short line and the template's markers went out */
  fail_unless (t->prompt_tokens < 48, "the last turn sent %d tokens", t->prompt_tokens);
  fail_unless (strstr (warnings->str, "does not fit in the context") != NULL, "%s", warnings->str);
  fail_unless (strstr (strstr (warnings->str, "does not fit") + 1, "does not fit") == NULL,
      "more than one message refused: %s", warnings->str);
  chat_turns_free (turns);
  g_string_free (warnings, TRUE);
  g_string_free (input, TRUE);
}

GST_END_TEST;

/* 30 ordinary turns in 64 positions: the chat goes on by context shift, every
 * message is answered (even where the first prompt is most of the context). */
GST_START_TEST (test_chat_context_shift_turns)
{
  GString *input = g_string_new (NULL);
  GString *warnings = g_string_new (NULL);
  GArray *turns;
  gint shifts = 0;

  for (gint i = 1; i <= 30; i++)
    g_string_append_printf (input, "Tell me about the cat number %d\n", i);
  turns = chat_turns (input->str, 64, 10, TRUE, warnings);
  fail_unless_equals_int (turns->len, 30);
  for (guint i = 0; i < turns->len; i++) {
    ChatTurn *t = &g_array_index (turns, ChatTurn, i);
    fail_unless_equals_string (t->reason, "n-predict");
    fail_unless_equals_int (t->generated, 10);
    shifts += t->shifts;
  }
  fail_unless (shifts > 0);
  fail_unless (strstr (warnings->str, "does not fit") == NULL, "%s", warnings->str);
  chat_turns_free (turns);
  g_string_free (warnings, TRUE);
  g_string_free (input, TRUE);
}

GST_END_TEST;

/* A line that is not UTF-8 is refused with a warning; the chat goes on. */
GST_START_TEST (test_chat_invalid_utf8)
{
  GString *warnings = g_string_new (NULL);
  GArray *turns = chat_turns ("Hello\n\xff\xfe bad\nhi\n", 256, 8, FALSE, warnings);

  fail_unless_equals_int (turns->len, 3);
  fail_unless_equals_string (g_array_index (turns, ChatTurn, 0).reason, "n-predict");
  fail_unless_equals_string (g_array_index (turns, ChatTurn, 1).reason, "empty");
  fail_unless_equals_int (g_array_index (turns, ChatTurn, 1).prompt_tokens, 0);
  fail_unless_equals_string (g_array_index (turns, ChatTurn, 2).reason, "n-predict");
  fail_unless_equals_int (g_array_index (turns, ChatTurn, 2).generated, 8);
  fail_unless (strstr (warnings->str, "not valid UTF-8") != NULL, "%s", warnings->str);
  chat_turns_free (turns);
  g_string_free (warnings, TRUE);
}

GST_END_TEST;

/* A pipeline without primafeedback (or with it on another channel) gets
 * an error instead of waiting forever for the first sampled token. */
GST_START_TEST (test_loop_without_feedback)
{
  gchar *model = model_path ();
  const gchar *variants[2] = { "", "t. ! primafeedback channel=nobody" };

  for (guint i = 0; i < G_N_ELEMENTS (variants); i++) {
    gchar *desc = g_strdup_printf ("fdsrc name=input ! primatokenizer model=%s ! primaloop model=%s n-predict=8 "
        "! primalayers model=%s ! primasampler temperature=0 ! tee name=t ! primadetokenizer model=%s "
        "! fakesink %s", model, model, model, model, variants[i]);
    GError *error = NULL;
    GstElement *pipeline = gst_parse_launch (desc, &error);
    GstMessage *msg;
    int fds[2];

    fail_unless (pipeline != NULL, "%s", error ? error->message : "");
    fail_unless (pipe (fds) == 0);
    fail_unless_equals_int (write (fds[1], "Once", 4), 4);
    close (fds[1]);
    set_by_name (pipeline, "input", "fd", fds[0], NULL);
    msg = run_pipeline (pipeline, 60 * GST_SECOND);
    fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_ERROR);
    gst_message_parse_error (msg, &error, NULL);
    if (i == 0) {
      fail_unless_equals_string (error->message,
          "No primafeedback hands the sampled tokens back to the primaloop of the channel \"default\".");
    } else {
      fail_unless (strstr (error->message, "channel") != NULL, "%s", error->message);
    }
    g_clear_error (&error);
    gst_message_unref (msg);
    gst_object_unref (pipeline);
    close (fds[0]);
    g_free (desc);
  }
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

/* prima run -cnv through stdin: a line that is not UTF-8 and a message too
 * long for the context are refused with one line each, and the last message
 * is answered. */
GST_START_TEST (test_run_chat_goes_on)
{
  GString *input = g_string_new ("Hello\\n\\377\\376 bad\\n");
  gchar *cmd, *out = NULL, *err = NULL;
  gchar *argv[4] = { (gchar *) "/bin/sh", (gchar *) "-c", NULL, NULL };
  gint status;

  for (gint i = 0; i < 40; i++)
    g_string_append (input, "the dog ran fast. ");
  g_string_append (input, "\\nhi\\n");
  cmd = g_strdup_printf ("printf '%s' | '%s' run -cnv --verbose -c 128 -n 8 --temp 0 -t 2", input->str,
      g_getenv ("PRIMA_BIN"));
  argv[2] = cmd;
  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "%s", err);
  fail_unless (strstr (err, "prima run: warning: The message is not valid UTF-8 text: it is not answered.\n"),
      "%s", err);
  fail_unless (strstr (err, "prima run: warning: The message does not fit in the context of 128 positions"), "%s",
      err);
  fail_unless (strstr (err, "turn 4: ") && strstr (strstr (err, "turn 4: "), "8 generated"), "%s", err);
  g_free (out);
  g_free (err);
  g_free (cmd);
  g_string_free (input, TRUE);
}

GST_END_TEST;

/* A model with a NaN in the weights of layer 2: prima run stops with an
 * error that names the layer (it printed nothing and exited 0). */
GST_START_TEST (test_run_nan_weights)
{
  gchar *model = model_path ();
  gchar *dir = g_dir_make_tmp ("prima-gst-XXXXXX", NULL);
  gchar *bad = g_build_filename (dir, "nan.gguf", NULL);
  const guint32 nan_bits = 0x7fc00000;
  gchar *contents = NULL, *cmd, *out = NULL, *err = NULL;
  const gguf_tensor *t;
  gguf_file *file;
  gsize len;
  gint status;
  guint64 at;

  fail_unless (g_file_get_contents (model, &contents, &len, NULL));
  file = gguf_open (model, NULL);
  fail_unless (file != NULL);
  t = gguf_find_tensor (file, "blk.2.ffn_down.weight");
  fail_unless (t != NULL && t->type == PRIMA_TYPE_F32);
  at = gguf_data_offset (file) + t->offset + 4 * 7;
  fail_unless (at + 4 <= len);
  memcpy (contents + at, &nan_bits, 4);
  gguf_close (file);
  fail_unless (g_file_set_contents (bad, contents, len, NULL));

  cmd = g_strdup_printf ("'%s' run -m '%s' -p 'Once upon a time' -n 8 --temp 0 -t 2", g_getenv ("PRIMA_BIN"), bad);
  fail_unless (g_spawn_command_line_sync (cmd, &out, &err, &status, NULL));
  fail_if (g_spawn_check_wait_status (status, NULL), "prima run exited 0 on a NaN model: %s", err);
  fail_unless (strstr (err, "NaN or infinite values from layer 2 (blk.2)") != NULL, "%s", err);

  g_unlink (bad);
  g_rmdir (dir);
  g_free (cmd);
  g_free (out);
  g_free (err);
  g_free (contents);
  g_free (bad);
  g_free (dir);
  g_free (model);
}

GST_END_TEST;

static Suite *
prima_suite (void)
{
  Suite *s = suite_create ("prima");
  TCase *tc = tcase_create ("elements");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_tokenizer_prompt);
  tcase_add_test (tc, test_sampler_greedy);
  tcase_add_test (tc, test_detokenizer_split_utf8);
  tcase_add_test (tc, test_layers_logits);
  tcase_add_test (tc, test_layers_windows);
  tcase_add_test (tc, test_ring_head_pads);
  tcase_add_test (tc, test_ring_head_loop);
  tcase_add_test (tc, test_wssrc_live);
  tcase_add_test (tc, test_bad_caps_harness);
  tcase_add_test (tc, test_bad_caps_pipeline);
  tcase_add_test (tc, test_missing_model);
  tcase_add_test (tc, test_corrupt_model);
  tcase_add_test (tc, test_generate_pipeline);
  tcase_add_test (tc, test_generate_n_predict);
  tcase_add_test (tc, test_generate_stop);
  tcase_add_test (tc, test_generate_until_end);
  tcase_add_test (tc, test_gst_launch);
  tcase_add_test (tc, test_gst_launch_embedded);
  tcase_add_test (tc, test_inspect);
  tcase_add_test (tc, test_feedback_channel);
  tcase_add_test (tc, test_feedback_channel_taken);
  tcase_add_test (tc, test_tokenizer_chat);
  tcase_add_test (tc, test_chat_pipeline);
  tcase_add_test (tc, test_loop_interrupt);
  tcase_add_test (tc, test_chat_refused_message);
  tcase_add_test (tc, test_chat_context_shift_turns);
  tcase_add_test (tc, test_chat_invalid_utf8);
  tcase_add_test (tc, test_loop_without_feedback);
  tcase_add_test (tc, test_tokenizer_empty_prompt);
  tcase_add_test (tc, test_run_nan_weights);
  tcase_add_test (tc, test_run_chat_goes_on);
  return s;
}

/* Only the plugin under test and GStreamer's core elements: the test
 * environment empties the system plugin path, so the core elements'
 * library is linked into a private folder added to GST_PLUGIN_PATH
 * (before gst_init, so that child processes see the same plugins). */
static gchar *
add_core_plugin (void)
{
  const gchar *core = g_getenv ("PRIMA_GST_CORE_PLUGIN");
  gchar *dir, *link, *path;

  if (core == NULL)
    return NULL;
  dir = g_dir_make_tmp ("prima-gst-core-XXXXXX", NULL);
  link = g_build_filename (dir, "libgstcoreelements.so", NULL);
  if (symlink (core, link) != 0)
    g_error ("cannot link %s: %s", core, g_strerror (errno));
  path = g_getenv ("GST_PLUGIN_PATH") ? g_strdup_printf ("%s:%s", g_getenv ("GST_PLUGIN_PATH"), dir) : g_strdup (dir);
  g_setenv ("GST_PLUGIN_PATH", path, TRUE);
  g_free (path);
  g_free (link);
  return dir;
}

int
main (int argc, char **argv)
{
  gchar *core_dir = add_core_plugin ();
  int failed;

  gst_check_init (&argc, &argv);
  failed = gst_check_run_suite (prima_suite (), "prima", __FILE__);
  if (core_dir) {
    gchar *link = g_build_filename (core_dir, "libgstcoreelements.so", NULL);
    g_unlink (link);
    g_rmdir (core_dir);
    g_free (link);
    g_free (core_dir);
  }
  return failed;
}
