/* gst-prima tests: primawssink and primawssrc, each in a GstHarness, joined
 * over a loopback WebSocket (port 0, a cluster key). Hidden-state buffers
 * arrive byte for byte, end-of-stream is the ordered stop that reaches the
 * other side, and a wrong key is an element error on the sink, not a hang
 * (the source goes on serving). primawssrc is a live GstPushSrc that a state
 * change wakes at once. With loss-action=notify a lost peer is the
 * peer-lost signal (once, with the peer's rank) instead of an error.
 * Every wait is bounded.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/base/gstpushsrc.h>
#include <string.h>

#include "gst-test-common.h"
#include "prima-events.h"

#define KEY_A "wss harness test key 0123456789"
#define KEY_B "another cluster key 9876543210ab"
#define N_EMBD 8
#define HEADER_SIZE 32

/* A hidden-state buffer as docs/elements.md documents the 32-byte header
 * (written here field by field, so the test checks the documented layout). */
static GstBuffer *
hidden_buffer (gint32 pos0, guint32 n_tokens, gint32 next_layer, gfloat base)
{
  guint32 payload = n_tokens * N_EMBD * sizeof (gfloat);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, HEADER_SIZE + payload, NULL);
  GstMapInfo map;
  gfloat *x;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  memset (map.data, 0, HEADER_SIZE);
  memcpy (map.data, "PRMA", 4);                 /* magic */
  GST_WRITE_UINT16_LE (map.data + 4, 1);        /* version */
  GST_WRITE_UINT16_LE (map.data + 6, 2);        /* type: hidden */
  GST_WRITE_UINT32_LE (map.data + 8, 0);        /* seq_id */
  GST_WRITE_UINT32_LE (map.data + 12, (guint32) pos0);
  GST_WRITE_UINT32_LE (map.data + 16, n_tokens);
  GST_WRITE_UINT32_LE (map.data + 20, (guint32) next_layer);
  GST_WRITE_UINT16_LE (map.data + 24, 1);       /* dtype: f32 */
  GST_WRITE_UINT16_LE (map.data + 26, 0);       /* flags */
  GST_WRITE_UINT32_LE (map.data + 28, payload);
  x = (gfloat *) (map.data + HEADER_SIZE);
  /* values that survive only an exact copy (no f16 rounding, signs, tiny ones) */
  for (guint i = 0; i < n_tokens * N_EMBD; i++)
    x[i] = base + (gfloat) i / 7.0f - (i % 3 == 0 ? 1e-30f * i : 0.0f);
  gst_buffer_unmap (buf, &map);
  return buf;
}

static void
assert_same_bytes (GstBuffer * sent, GstBuffer * got, guint i)
{
  GstMapInfo a, b;

  fail_unless (gst_buffer_map (sent, &a, GST_MAP_READ));
  fail_unless (gst_buffer_map (got, &b, GST_MAP_READ));
  fail_unless_equals_uint64 (b.size, a.size);
  for (gsize j = 0; j < a.size; j++)
    fail_unless (a.data[j] == b.data[j], "buffer %u differs at byte %" G_GSIZE_FORMAT ": sent 0x%02x, got 0x%02x",
        i, j, a.data[j], b.data[j]);
  gst_buffer_unmap (sent, &a);
  gst_buffer_unmap (got, &b);
}

/* A worker's source (rank 1, the head's sink must claim rank 0) on a free
 * loopback port, already listening. */
static GstHarness *
source_harness (const gchar * key, guint * port)
{
  GstElement *src = gst_element_factory_make ("primawssrc", NULL);
  GstHarness *h;

  fail_unless (src != NULL, "no primawssrc: is the plugin on GST_PLUGIN_PATH?");
  g_object_set (src, "address", "127.0.0.1", "port", 0, "rank", 1, "peer-rank", 0, "cluster-key", key,
      "heartbeat-timeout", 10000, NULL);
  h = gst_harness_new_with_element (src, NULL, "src");
  gst_object_unref (src);
  gst_harness_play (h);         /* a source without upstream is not started by the harness */
  g_object_get (h->element, "bound-port", port, NULL);
  fail_unless (*port > 0, "primawssrc did not report the port it listens on");
  return h;
}

/* The head's sink (rank 0), sending to the source on PORT. */
static GstHarness *
sink_harness (const gchar * key, guint port)
{
  GstElement *sink = gst_element_factory_make ("primawssink", NULL);
  gchar *url = g_strdup_printf ("ws://127.0.0.1:%u", port);
  GstHarness *h;

  fail_unless (sink != NULL, "no primawssink: is the plugin on GST_PLUGIN_PATH?");
  g_object_set (sink, "url", url, "rank", 0, "peer-rank", 1, "cluster-key", key, "heartbeat-timeout", 10000,
      NULL);
  g_free (url);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, "application/x-prima-hidden, n-embd=(int)8, format=(string)F32");
  return h;
}

/* The next event of the source harness that is not a sticky start event. */
static GstEvent *
pull_event_of_type (GstHarness * h, GstEventType type)
{
  for (;;) {
    GstEvent *ev = gst_harness_pull_event (h); /* waits at most 60 s */
    fail_unless (ev != NULL, "no %s event within 60 s", gst_event_type_get_name (type));
    if (GST_EVENT_TYPE (ev) == type)
      return ev;
    gst_event_unref (ev);
  }
}

GST_START_TEST (test_wss_loopback_bytes)
{
  const struct
  {
    gint32 pos0;
    guint32 n_tokens;
    gint32 next_layer;
  } frames[] = { {0, 5, 1}, {5, 1, 1}, {6, 1, 3}, {7, 3, 2}, {10, 1, 0} };
  GstBuffer *sent[G_N_ELEMENTS (frames)];
  GstHarness *src, *sink;
  GstCaps *caps;
  GstEvent *ev;
  guint port;

  src = source_harness (KEY_A, &port);
  sink = sink_harness (KEY_A, port);

  for (guint i = 0; i < G_N_ELEMENTS (frames); i++) {
    sent[i] = hidden_buffer (frames[i].pos0, frames[i].n_tokens, frames[i].next_layer, (gfloat) i - 2.5f);
    fail_unless_equals_int (gst_harness_push (sink, gst_buffer_ref (sent[i])), GST_FLOW_OK);
  }
  for (guint i = 0; i < G_N_ELEMENTS (frames); i++) {
    GstBuffer *got = gst_harness_pull (src);    /* waits at most 60 s */
    fail_unless (got != NULL, "frame %u did not arrive", i);
    assert_same_bytes (sent[i], got, i);
    gst_buffer_unref (got);
    gst_buffer_unref (sent[i]);
  }

  /* the source's caps carry the width the frames gave */
  caps = gst_pad_get_current_caps (src->sinkpad);
  fail_unless (caps != NULL);
  {
    GstStructure *s = gst_caps_get_structure (caps, 0);
    gint n_embd = 0;
    fail_unless (gst_structure_has_name (s, "application/x-prima-hidden"));
    fail_unless (gst_structure_get_int (s, "n-embd", &n_embd));
    fail_unless_equals_int (n_embd, N_EMBD);
  }
  gst_caps_unref (caps);

  /* end-of-stream is the ordered stop: it leaves the sink and ends the source's stream */
  fail_unless (gst_harness_push_event (sink, gst_event_new_eos ()));
  ev = pull_event_of_type (src, GST_EVENT_EOS);
  gst_event_unref (ev);

  gst_harness_teardown (sink);
  gst_harness_teardown (src);
}

GST_END_TEST;

/* A source that is set up after its sink: the sink retries until the server is up. */
GST_START_TEST (test_wss_sink_first)
{
  GstHarness *src, *sink, *probe;
  GstBuffer *buf, *got;
  guint port;

  /* a free port: listen once, note it, stop; the sink then waits for a server there */
  probe = source_harness (KEY_A, &port);
  gst_harness_teardown (probe);

  sink = sink_harness (KEY_A, port);
  g_usleep (200 * 1000);
  {
    GstElement *e = gst_element_factory_make ("primawssrc", NULL);
    g_object_set (e, "address", "127.0.0.1", "port", port, "rank", 1, "peer-rank", 0, "cluster-key", KEY_A,
        "heartbeat-timeout", 10000, NULL);
    src = gst_harness_new_with_element (e, NULL, "src");
    gst_object_unref (e);
    gst_harness_play (src);
  }
  buf = hidden_buffer (0, 2, 1, 0.25f);
  fail_unless_equals_int (gst_harness_push (sink, gst_buffer_ref (buf)), GST_FLOW_OK);
  got = gst_harness_pull (src);
  fail_unless (got != NULL);
  assert_same_bytes (buf, got, 0);
  gst_buffer_unref (got);
  gst_buffer_unref (buf);
  gst_harness_teardown (sink);
  gst_harness_teardown (src);
}

GST_END_TEST;

static GstMessage *
pop_error (GstBus * bus, GstClockTime timeout)
{
  return gst_bus_timed_pop_filtered (bus, timeout, GST_MESSAGE_ERROR);
}

/* Another cluster key: the sink's push fails and it posts an element error
 * within seconds; the source refuses the peer with a warning and stays up,
 * so a sink with the right key then gets through. */
GST_START_TEST (test_wss_wrong_key)
{
  GstHarness *src, *sink;
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *err = NULL;
  gchar *debug = NULL;
  GstFlowReturn ret;
  gint64 start;
  guint port;

  /* the source's link logs the refused peer; that line is expected here */
  gst_check_add_log_filter ("prima", G_LOG_LEVEL_WARNING, g_regex_new (".*", 0, 0, NULL), NULL, NULL, NULL);

  src = source_harness (KEY_A, &port);
  sink = sink_harness (KEY_B, port);
  gst_element_set_bus (sink->element, bus);

  start = g_get_monotonic_time ();
  ret = gst_harness_push (sink, hidden_buffer (0, 1, 1, 1.0f));
  fail_unless (ret == GST_FLOW_ERROR, "push with the wrong key returned %s", gst_flow_get_name (ret));
  msg = pop_error (bus, 20 * GST_SECOND);
  fail_unless (msg != NULL, "no element error within 20 s");
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT (sink->element));
  gst_message_parse_error (msg, &err, &debug);
  GST_INFO ("error: %s (%s)", err->message, debug);
  fail_unless (err->domain == GST_RESOURCE_ERROR, "%s", err->message);
  fail_unless (strstr (err->message, "ring") != NULL, "%s", err->message);
  fail_unless (g_get_monotonic_time () - start < 20 * G_USEC_PER_SEC);
  g_clear_error (&err);
  g_free (debug);
  gst_message_unref (msg);

  /* nothing reached the source */
  fail_unless (gst_harness_try_pull (src) == NULL);
  gst_element_set_bus (sink->element, NULL);
  gst_object_unref (bus);
  gst_harness_teardown (sink);

  /* the source is still listening: a sink with the right key gets through */
  sink = sink_harness (KEY_A, port);
  {
    GstBuffer *buf = hidden_buffer (0, 2, 1, -0.5f), *got;
    fail_unless_equals_int (gst_harness_push (sink, gst_buffer_ref (buf)), GST_FLOW_OK);
    got = gst_harness_pull (src);
    fail_unless (got != NULL, "the frame after a refused peer did not arrive");
    assert_same_bytes (buf, got, 0);
    gst_buffer_unref (got);
    gst_buffer_unref (buf);
  }
  gst_harness_teardown (sink);
  gst_harness_teardown (src);
  gst_check_clear_log_filter ();
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

/* What a peer-lost handler saw. */
typedef struct
{
  GMutex lock;
  GCond cond;
  gint calls, lost;
  gchar *message;
} Lost;

static void
on_peer_lost (GstElement * element, gint lost, const gchar * message, Lost * l)
{
  g_mutex_lock (&l->lock);
  l->calls++;
  l->lost = lost;
  g_free (l->message);
  l->message = g_strdup (message);
  g_cond_broadcast (&l->cond);
  g_mutex_unlock (&l->lock);
}

static gboolean
wait_lost (Lost * l, gint64 timeout_s)
{
  gint64 end = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  gboolean got;

  g_mutex_lock (&l->lock);
  while (l->calls == 0 && g_cond_wait_until (&l->cond, &l->lock, end));
  got = l->calls > 0;
  g_mutex_unlock (&l->lock);
  return got;
}

/* loss-action=notify on both ends: the source's peer (rank 0) goes away,
 * so the source (a worker, rank 1) passes the failure on with lost=0,
 * emits peer-lost once and posts no error; then the sink's peer (rank 1)
 * goes away and the sink does the same with lost=1, and a push after it
 * returns FLUSHING, not an error. */
GST_START_TEST (test_wss_peer_lost)
{
  GstHarness *src, *sink, *src2;
  GstBus *bus = gst_bus_new ();
  Lost ls = { 0 }, lk = { 0 };
  GstBuffer *got;
  GstEvent *ev;
  const gchar *message = NULL;
  gint rank = 0, lost = 0;
  guint port;

  g_mutex_init (&ls.lock);
  g_cond_init (&ls.cond);
  g_mutex_init (&lk.lock);
  g_cond_init (&lk.cond);

  /* the source loses its upstream */
  src = source_harness (KEY_A, &port);
  gst_util_set_object_arg (G_OBJECT (src->element), "loss-action", "notify");
  g_signal_connect (src->element, "peer-lost", G_CALLBACK (on_peer_lost), &ls);
  gst_element_set_bus (src->element, bus);
  sink = sink_harness (KEY_A, port);
  fail_unless_equals_int (gst_harness_push (sink, hidden_buffer (0, 1, 1, 1.0f)), GST_FLOW_OK);
  got = gst_harness_pull (src);
  fail_unless (got != NULL);
  gst_buffer_unref (got);
  gst_harness_teardown (sink);
  ev = gst_harness_pull_event (src);
  while (ev && !prima_event_is_ring_failure (ev)) {
    gst_event_unref (ev);
    ev = gst_harness_pull_event (src);
  }
  fail_unless (ev != NULL, "no prima-ring-failure from the source within 60 s");
  fail_unless (prima_event_parse_ring_failure_lost (ev, &rank, &lost, &message));
  fail_unless (rank == -1 && lost == 0, "rank %d lost %d", rank, lost);
  fail_unless (strstr (message, "rank 0") != NULL, "%s", message);
  gst_event_unref (ev);
  fail_unless (wait_lost (&ls, 20), "no peer-lost from the source within 20 s");
  fail_unless_equals_int (ls.lost, 0);
  fail_unless (strstr (ls.message, "rank 0") != NULL, "%s", ls.message);
  fail_unless (pop_error (bus, 0) == NULL, "the source posted an error with loss-action=notify");

  /* the sink loses its downstream (a fresh source, rank 1, that then stops) */
  src2 = source_harness (KEY_A, &port);
  sink = sink_harness (KEY_A, port);
  gst_util_set_object_arg (G_OBJECT (sink->element), "loss-action", "notify");
  g_signal_connect (sink->element, "peer-lost", G_CALLBACK (on_peer_lost), &lk);
  gst_element_set_bus (sink->element, bus);
  fail_unless_equals_int (gst_harness_push (sink, hidden_buffer (0, 1, 1, 1.0f)), GST_FLOW_OK);
  got = gst_harness_pull (src2);
  fail_unless (got != NULL);
  gst_buffer_unref (got);
  gst_harness_teardown (src2);
  fail_unless (wait_lost (&lk, 20), "no peer-lost from the sink within 20 s");
  fail_unless_equals_int (lk.lost, 1);
  fail_unless (strstr (lk.message, "rank 1") != NULL, "%s", lk.message);
  fail_unless_equals_int (gst_harness_push (sink, hidden_buffer (1, 1, 1, 1.0f)), GST_FLOW_FLUSHING);
  fail_unless (pop_error (bus, 0) == NULL, "the sink posted an error with loss-action=notify");
  g_mutex_lock (&lk.lock);
  fail_unless_equals_int (lk.calls, 1);
  g_mutex_unlock (&lk.lock);
  g_mutex_lock (&ls.lock);
  fail_unless_equals_int (ls.calls, 1);
  g_mutex_unlock (&ls.lock);

  gst_element_set_bus (sink->element, NULL);
  gst_element_set_bus (src->element, NULL);
  gst_harness_teardown (sink);
  gst_harness_teardown (src);
  gst_object_unref (bus);
  g_free (ls.message);
  g_free (lk.message);
  g_mutex_clear (&ls.lock);
  g_cond_clear (&ls.cond);
  g_mutex_clear (&lk.lock);
  g_cond_clear (&lk.cond);
}

GST_END_TEST;

/* join-timeout: the head's sink (world 3) hears rank 1 join, never rank 2;
 * after a second rank 2 counts as lost (peer-lost with loss-action=notify)
 * and the push that waited returns FLUSHING. */
GST_START_TEST (test_wss_join_timeout)
{
  GstHarness *src, *sink;
  GstBus *bus = gst_bus_new ();
  Lost l = { 0 };
  gint64 t0;
  guint port;

  g_mutex_init (&l.lock);
  g_cond_init (&l.cond);
  src = source_harness (KEY_A, &port);
  sink = sink_harness (KEY_A, port);
  g_object_set (sink->element, "world", 3, "join-timeout", 1, NULL);
  gst_util_set_object_arg (G_OBJECT (sink->element), "loss-action", "notify");
  g_signal_connect (sink->element, "peer-lost", G_CALLBACK (on_peer_lost), &l);
  gst_element_set_bus (sink->element, bus);
  t0 = g_get_monotonic_time ();
  fail_unless_equals_int (gst_harness_push (sink, hidden_buffer (0, 1, 1, 1.0f)), GST_FLOW_FLUSHING);
  fail_unless (g_get_monotonic_time () - t0 >= G_USEC_PER_SEC, "gave up before join-timeout");
  fail_unless (wait_lost (&l, 0) || wait_lost (&l, 1));
  fail_unless_equals_int (l.lost, 2);
  fail_unless (strstr (l.message, "rank 2 did not join within 1 s") != NULL, "%s", l.message);
  fail_unless (pop_error (bus, 0) == NULL);
  fail_unless (gst_harness_try_pull (src) == NULL, "a frame left before the ring was complete");
  gst_element_set_bus (sink->element, NULL);
  gst_harness_teardown (sink);
  gst_harness_teardown (src);
  gst_object_unref (bus);
  g_free (l.message);
  g_mutex_clear (&l.lock);
  g_cond_clear (&l.cond);
}

GST_END_TEST;

static Suite *
wss_suite (void)
{
  Suite *s = suite_create ("primawss");
  TCase *tc = tcase_create ("loopback");

  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_wss_loopback_bytes);
  tcase_add_test (tc, test_wss_sink_first);
  tcase_add_test (tc, test_wss_wrong_key);
  tcase_add_test (tc, test_wssrc_live);
  tcase_add_test (tc, test_wss_peer_lost);
  tcase_add_test (tc, test_wss_join_timeout);
  return s;
}

GST_TEST_MAIN (wss_suite, "wss");
