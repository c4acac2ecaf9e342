/* gst-prima tests: ring links over loopback. Frames and control messages in
 * order both ways (client started before its server), a wrong key refused
 * with a log line, replayed handshakes refused, garbage from raw peers
 * rejected while the real link keeps working, a stopped (SIGSTOP) or killed
 * peer detected by heartbeats within 3 s, wss:// with a pinned
 * certificate, and a setup client refused (409) by a data server. Every wait is bounded.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <gio/gio.h>
#include <glib.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ring-link.h"

#define KEY_A "test cluster key number one 0001"
#define KEY_B "test cluster key number two 0002"
#define SEC G_USEC_PER_SEC

/* Throwaway self-signed certificates (EC P-256, CN prima-test-a/-b, 127.0.0.1),
 * made with openssl for these tests only. */
static const char tls_pem_a[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBoDCCAUegAwIBAgIUC1uscAKp/cZPt6gw1OpTb0t04cIwCgYIKoZIzj0EAwIw\n"
  "FzEVMBMGA1UEAwwMcHJpbWEtdGVzdC1hMCAXDTI2MTEyMjA0NDkxOFoYDzIxMjYx\n"
  "MDI5MDQ0OTE4WjAXMRUwEwYDVQQDDAxwcmltYS10ZXN0LWEwWTATBgcqhkjOPQIB\n"
  "BggqhkjOPQMBBwNCAAR+LHRqyDQxNNRBKsL60niun8HV2HFwPTxUoUd/FUvGlSgo\n"
  "TWoqL1RhpzdI3fQULjwO3XCDB7dHwUU0ldSQCMb7o28wbTAdBgNVHQ4EFgQU7JMC\n"
  "YNt2XvMale7Zs82lWx+zU/YwHwYDVR0jBBgwFoAU7JMCYNt2XvMale7Zs82lWx+z\n"
  "U/YwDwYDVR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3Qw\n"
  "CgYIKoZIzj0EAwIDRwAwRAIgEiGzgQiLemZ+aifBy1yUIvGC8x31t/md9Zm9Wo2h\n"
  "lTsCIAxyhl0WB9teMcqqjlDcHkSV/Ao0Z6YERVngh8kXD9gb\n"
  "-----END CERTIFICATE-----\n"
  "-----BEGIN PRIVATE KEY-----\n"
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgmZbQH1HBOGR3DryW\n"
  "kuoSQoRx+efn2WZPtHaDqCQ+uauhRANCAAR+LHRqyDQxNNRBKsL60niun8HV2HFw\n"
  "PTxUoUd/FUvGlSgoTWoqL1RhpzdI3fQULjwO3XCDB7dHwUU0ldSQCMb7\n"
  "-----END PRIVATE KEY-----\n";

static const char tls_pem_b[] =
  "-----BEGIN CERTIFICATE-----\n"
  "MIIBoDCCAUegAwIBAgIUSUDlExeLxjClQS4Mg4t/S4ML6O0wCgYIKoZIzj0EAwIw\n"
  "FzEVMBMGA1UEAwwMcHJpbWEtdGVzdC1iMCAXDTI2MTEyMjA0NDkxOFoYDzIxMjYx\n"
  "MDI5MDQ0OTE4WjAXMRUwEwYDVQQDDAxwcmltYS10ZXN0LWIwWTATBgcqhkjOPQIB\n"
  "BggqhkjOPQMBBwNCAATQun4s+WLtI+7AckU6ISC6dGj4tleuYQs/twxggMm74EJI\n"
  "YAtI5wQu+VWS+IdehjWmR4chpj/NOf62c1Z3dNswo28wbTAdBgNVHQ4EFgQUNTEY\n"
  "t558n5Fd+xoMoZ4t5jswqYswHwYDVR0jBBgwFoAUNTEYt558n5Fd+xoMoZ4t5jsw\n"
  "qYswDwYDVR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3Qw\n"
  "CgYIKoZIzj0EAwIDRwAwRAIgIu7PM+duzzEYafY7CqyQTsjNHBtohO1GYg+QILv6\n"
  "T9cCIEM61J8HWGUE8UPu3qfI9twbBkjkpsAoPdyoMC8RdCdK\n"
  "-----END CERTIFICATE-----\n"
  "-----BEGIN PRIVATE KEY-----\n"
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQ+4MqmipEoVxnc2w\n"
  "qdLw/wqWQa88Pm3EjgBsNGeCD7ahRANCAATQun4s+WLtI+7AckU6ISC6dGj4tleu\n"
  "YQs/twxggMm74EJIYAtI5wQu+VWS+IdehjWmR4chpj/NOf62c1Z3dNsw\n"
  "-----END PRIVATE KEY-----\n";

/* ---- captured log lines ---- */

static GMutex log_lock;
static GPtrArray *log_lines;
/* When set, the thread that logs a line holding log_stall_on stalls 300 ms
 * after it, as a preempted I/O thread would: whatever it updates after its
 * log line is then seen late, deterministically (a loaded machine did that
 * 1 run in 10). */
static const char *volatile log_stall_on;

static void
capture_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  g_mutex_lock (&log_lock);
  g_ptr_array_add (log_lines, g_strdup (message));
  g_mutex_unlock (&log_lock);
  if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))
    g_printerr ("# [log] %s\n", message);
  if (log_stall_on != NULL && strstr (message, log_stall_on) != NULL)
    g_usleep (300 * 1000);
}

static void
log_clear (void)
{
  g_mutex_lock (&log_lock);
  g_ptr_array_set_size (log_lines, 0);
  g_mutex_unlock (&log_lock);
}

static gboolean
log_has (const char *a, const char *b)
{
  gboolean found = FALSE;
  g_mutex_lock (&log_lock);
  for (guint i = 0; i < log_lines->len && !found; i++) {
    const char *l = log_lines->pdata[i];
    found = strstr (l, a) != NULL && (b == NULL || strstr (l, b) != NULL);
  }
  g_mutex_unlock (&log_lock);
  return found;
}

/* Waits until a log line holds both substrings. */
static void
wait_log (const char *a, const char *b, gint64 timeout_us)
{
  gint64 end = g_get_monotonic_time () + timeout_us;
  while (!log_has (a, b)) {
    if (g_get_monotonic_time () > end)
      g_error ("no log line with \"%s\" and \"%s\" within %.1f s", a, b ? b : "", timeout_us / 1e6);
    g_usleep (5000);
  }
}

/* ---- helpers ---- */

static prima_cluster_key *
key (const char *k)
{
  prima_cluster_key *ck = prima_cluster_key_new (k, NULL);
  g_assert_nonnull (ck);
  return ck;
}

static prima_link *
new_server (const char *k, guint16 port, gint32 peer_rank)
{
  prima_link_config cfg = { 0 };
  prima_cluster_key *ck = key (k);
  GError *err = NULL;
  prima_link *l;

  cfg.role = PRIMA_LINK_SERVER;
  cfg.rank = 2;
  cfg.peer_rank = peer_rank;
  cfg.key = ck;
  cfg.bind_address = "127.0.0.1";
  cfg.port = port;
  l = prima_link_new (&cfg, &err);
  g_assert_no_error (err);
  prima_cluster_key_unref (ck);
  return l;
}

static prima_link *
new_client (const char *k, guint16 port, guint32 rank, guint connect_timeout_ms)
{
  prima_link_config cfg = { 0 };
  prima_cluster_key *ck = key (k);
  char *url = g_strdup_printf ("ws://127.0.0.1:%u", port);
  GError *err = NULL;
  prima_link *l;

  cfg.role = PRIMA_LINK_CLIENT;
  cfg.rank = rank;
  cfg.peer_rank = -1;
  cfg.key = ck;
  cfg.url = url;
  cfg.connect_timeout_ms = connect_timeout_ms;
  l = prima_link_new (&cfg, &err);
  g_assert_no_error (err);
  prima_cluster_key_unref (ck);
  g_free (url);
  return l;
}

static void
wait_ready (prima_link *l)
{
  GError *err = NULL;
  if (!prima_link_wait_ready (l, 10 * SEC, &err))
    g_error ("%s", err->message);
}

/* Next event of a type; others (READY of a reconnect, etc.) are skipped. */
static prima_link_event *
pop_type (prima_link *l, prima_link_event_type type, gint64 timeout_us)
{
  gint64 end = g_get_monotonic_time () + timeout_us;
  for (;;) {
    gint64 left = end - g_get_monotonic_time ();
    prima_link_event *ev = prima_link_pop (l, MAX (left, 0));
    if (ev == NULL)
      g_error ("%s: no event of type %d within %.1f s", prima_link_name (l), type, timeout_us / 1e6);
    if (ev->type == type)
      return ev;
    prima_link_event_free (ev);
  }
}

static guint16
free_port (void)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *sa = g_inet_socket_address_new (lo, 0), *la;
  guint16 port;
  g_assert_true (g_socket_bind (s, sa, TRUE, NULL));
  la = g_socket_get_local_address (s, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (la));
  g_object_unref (la);
  g_object_unref (sa);
  g_object_unref (lo);
  g_socket_close (s, NULL);
  g_object_unref (s);
  return port;
}

static void
send_test_frame (prima_link *l, guint32 i, guint32 n_embd)
{
  prima_frame_header h;
  float *x = g_new (float, n_embd);
  GError *err = NULL;
  for (guint32 j = 0; j < n_embd; j++)
    x[j] = (float) i + j * 0.5f;
  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, (gint32) i, 1, 3, n_embd);
  if (!prima_link_send_frame (l, &h, x, &err))
    g_error ("%s", err->message);
  g_free (x);
}

static void
expect_test_frame (prima_link *l, guint32 i, guint32 n_embd)
{
  prima_link_event *ev = pop_type (l, PRIMA_LINK_EVENT_FRAME, 5 * SEC);
  float *y = g_new (float, n_embd);
  g_assert_cmpint (ev->frame.pos0, ==, (gint32) i);
  g_assert_cmpuint (ev->frame.n_embd, ==, n_embd);
  g_assert_cmpuint (ev->frame.next_layer, ==, 3);
  prima_frame_payload_to_f32 (&ev->frame, ev->payload, y);
  for (guint32 j = 0; j < n_embd; j++)
    g_assert_cmpfloat (y[j], ==, (float) i + j * 0.5f);
  g_free (y);
  prima_link_event_free (ev);
}

/* ---- a raw WebSocket peer (libsoup, on the test thread) ---- */

typedef struct {
  GMainContext *ctx;
  SoupSession *session;
  SoupWebsocketConnection *ws;
  GQueue messages;              /* GBytes, text messages */
  gboolean closed;
  gboolean done;
  GError *error;
} raw_peer;

static void
raw_on_message (SoupWebsocketConnection *ws, gint type, GBytes *msg, gpointer data)
{
  raw_peer *p = data;
  g_queue_push_tail (&p->messages, g_bytes_ref (msg));
}

static void
raw_on_closed (SoupWebsocketConnection *ws, gpointer data)
{
  ((raw_peer *) data)->closed = TRUE;
}

static void
raw_on_connected (GObject *src, GAsyncResult *res, gpointer data)
{
  raw_peer *p = data;
  p->ws = soup_session_websocket_connect_finish (SOUP_SESSION (src), res, &p->error);
  p->done = TRUE;
}

static void
raw_iterate_until (raw_peer *p, gboolean *flag, gint64 timeout_us)
{
  gint64 end = g_get_monotonic_time () + timeout_us;
  while (!*flag && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (p->ctx, FALSE))
      g_usleep (1000);
}

static raw_peer *
raw_connect (guint16 port)
{
  raw_peer *p = g_new0 (raw_peer, 1);
  char *url = g_strdup_printf ("ws://127.0.0.1:%u%s", port, PRIMA_LINK_PATH);
  char *protocols[] = { (char *) PRIMA_LINK_SUBPROTOCOL, NULL };
  SoupMessage *msg;

  p->ctx = g_main_context_new ();
  g_main_context_push_thread_default (p->ctx);
  p->session = soup_session_new ();
  msg = soup_message_new ("GET", url);
  soup_session_websocket_connect_async (p->session, msg, NULL, protocols, G_PRIORITY_DEFAULT, NULL,
      raw_on_connected, p);
  raw_iterate_until (p, &p->done, 5 * SEC);
  g_assert_no_error (p->error);
  g_assert_nonnull (p->ws);
  g_signal_connect (p->ws, "message", G_CALLBACK (raw_on_message), p);
  g_signal_connect (p->ws, "closed", G_CALLBACK (raw_on_closed), p);
  g_object_unref (msg);
  g_free (url);
  g_main_context_pop_thread_default (p->ctx);
  return p;
}

static void
raw_send_text (raw_peer *p, const char *text)
{
  g_main_context_push_thread_default (p->ctx);
  soup_websocket_connection_send_text (p->ws, text);
  g_main_context_pop_thread_default (p->ctx);
}

static void
raw_send_binary (raw_peer *p, const void *data, gsize len)
{
  g_main_context_push_thread_default (p->ctx);
  soup_websocket_connection_send_binary (p->ws, data, len);
  g_main_context_pop_thread_default (p->ctx);
}

/* Next text message parsed, or FALSE when the connection closed first. */
static gboolean
raw_recv (raw_peer *p, prima_ctl_msg *m)
{
  gint64 end = g_get_monotonic_time () + 5 * SEC;
  GBytes *b;
  gsize len;
  const char *data;
  gboolean ok;

  g_main_context_push_thread_default (p->ctx);
  while (g_queue_is_empty (&p->messages) && !p->closed && g_get_monotonic_time () < end)
    if (!g_main_context_iteration (p->ctx, FALSE))
      g_usleep (1000);
  g_main_context_pop_thread_default (p->ctx);
  b = g_queue_pop_head (&p->messages);
  if (b == NULL)
    return FALSE;
  data = g_bytes_get_data (b, &len);
  ok = prima_ctl_parse (data, len, m, NULL);
  g_bytes_unref (b);
  return ok;
}

static gushort
raw_wait_closed (raw_peer *p)
{
  g_main_context_push_thread_default (p->ctx);
  raw_iterate_until (p, &p->closed, 5 * SEC);
  g_main_context_pop_thread_default (p->ctx);
  g_assert_true (p->closed);
  return soup_websocket_connection_get_close_code (p->ws);
}

static void
raw_free (raw_peer *p)
{
  g_main_context_push_thread_default (p->ctx);
  if (p->ws && soup_websocket_connection_get_state (p->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (p->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  raw_iterate_until (p, &p->closed, SEC);
  g_clear_object (&p->ws);
  g_queue_clear_full (&p->messages, (GDestroyNotify) g_bytes_unref);
  g_object_unref (p->session);
  for (int i = 0; i < 100 && g_main_context_iteration (p->ctx, FALSE); i++)
    ;
  g_main_context_pop_thread_default (p->ctx);
  g_main_context_unref (p->ctx);
  g_free (p);
}

static void
raw_hello (raw_peer *p, guint32 rank, const char *nonce)
{
  prima_ctl_msg m;
  char *json;
  prima_ctl_msg_init (&m, PRIMA_CTL_HELLO);
  m.rank = (gint32) rank;
  g_strlcpy (m.nonce, nonce, sizeof m.nonce);
  json = prima_ctl_to_json (&m, NULL, NULL);
  raw_send_text (p, json);
  g_free (json);
}

static void
raw_response (raw_peer *p, const char *proof)
{
  prima_ctl_msg m;
  char *json;
  prima_ctl_msg_init (&m, PRIMA_CTL_RESPONSE);
  g_strlcpy (m.proof, proof, sizeof m.proof);
  json = prima_ctl_to_json (&m, NULL, NULL);
  raw_send_text (p, json);
  g_free (json);
}

/* ---- tests ---- */

/* The client starts first and retries until its server is up; then frames
 * and control messages flow both ways, in order, with TCP_NODELAY. */
static void
test_exchange (void)
{
  guint16 port = free_port ();
  prima_link *client = new_client (KEY_A, port, 1, 10000);
  prima_link *server;
  prima_link_event *ev;
  prima_link_stats ss, cs;
  prima_ctl_msg m;
  GError *err = NULL;

  g_usleep (300 * 1000);
  g_assert_false (prima_link_is_ready (client));
  g_assert_false (prima_link_send_frame (client, &(prima_frame_header) { 0 }, NULL, &err));
  g_clear_error (&err);
  server = new_server (KEY_A, port, 1);
  g_assert_cmpuint (prima_link_get_port (server), ==, port);
  wait_ready (client);
  wait_ready (server);
  ev = pop_type (server, PRIMA_LINK_EVENT_READY, 5 * SEC);
  g_assert_cmpint (ev->peer_rank, ==, 1);
  g_assert_true (g_str_has_prefix (ev->message, "rank 1 at 127.0.0.1:"));
  prima_link_event_free (ev);
  ev = pop_type (client, PRIMA_LINK_EVENT_READY, 5 * SEC);
  g_assert_cmpint (ev->peer_rank, ==, 2);
  prima_link_event_free (ev);

  for (guint32 i = 0; i < 200; i++)
    send_test_frame (client, i, 4096);
  for (guint32 i = 0; i < 200; i++)
    expect_test_frame (server, i, 4096);
  for (guint32 i = 0; i < 50; i++)
    send_test_frame (server, i, 64);

  prima_ctl_msg_init (&m, PRIMA_CTL_KV_REMOVE);
  m.seq = 0;
  m.p0 = 7;
  m.p1 = -1;
  g_assert_true (prima_link_send_control (server, &m, NULL));
  for (guint32 i = 0; i < 50; i++)
    expect_test_frame (client, i, 64);
  ev = pop_type (client, PRIMA_LINK_EVENT_CONTROL, 5 * SEC);
  g_assert_cmpint (ev->control.type, ==, PRIMA_CTL_KV_REMOVE);
  g_assert_cmpint (ev->control.p0, ==, 7);
  prima_link_event_free (ev);

  /* the link runs the handshake itself */
  prima_ctl_msg_init (&m, PRIMA_CTL_WELCOME);
  m.rank = 1;
  g_assert_false (prima_link_send_control (client, &m, &err));
  g_clear_error (&err);

  /* heartbeats flow while nothing else does */
  g_usleep (1300 * 1000);
  prima_link_get_stats (server, &ss);
  prima_link_get_stats (client, &cs);
  g_assert_true (ss.nodelay);
  g_assert_true (cs.nodelay);
  g_assert_cmpuint (ss.frames_received, ==, 200);
  g_assert_cmpuint (cs.frames_received, ==, 50);
  g_assert_cmpuint (ss.bytes_received, ==, 200 * (PRIMA_FRAME_HEADER_SIZE + 4096 * 4));
  g_assert_cmpuint (cs.controls_received, ==, 1);
  g_assert_cmpuint (ss.heartbeats_received, >=, 1);
  g_assert_cmpuint (cs.heartbeats_received, >=, 1);
  g_assert_cmpuint (ss.connects, ==, 1);
  g_assert_cmpuint (ss.refused, ==, 0);

  /* an orderly close is seen as such by the other end */
  prima_link_close (client, "done");
  ev = pop_type (server, PRIMA_LINK_EVENT_LOST, 5 * SEC);
  g_assert_cmpint (ev->reason, ==, PRIMA_LINK_LOST_CLOSED);
  g_assert_nonnull (strstr (ev->message, "closed the connection (done)"));
  prima_link_event_free (ev);
  prima_link_free (client);
  prima_link_free (server);
}

/* Frames sent from the I/O thread itself (the callback) and an f16 frame. */
static gboolean
echo_cb (prima_link *link, const prima_link_event *ev, gpointer data)
{
  if (ev->type != PRIMA_LINK_EVENT_FRAME)
    return FALSE;
  g_assert_true (prima_link_send_frame (link, &ev->frame, ev->payload, NULL));
  return TRUE;
}

static void
test_callback_echo (void)
{
  prima_link_config cfg = { 0 };
  prima_cluster_key *ck = key (KEY_A);
  prima_link *server, *client;
  prima_frame_header h;
  float x[256];

  cfg.role = PRIMA_LINK_SERVER;
  cfg.rank = 2;
  cfg.peer_rank = -1;
  cfg.key = ck;
  cfg.bind_address = "127.0.0.1";
  cfg.on_event = echo_cb;
  server = prima_link_new (&cfg, NULL);
  client = new_client (KEY_A, prima_link_get_port (server), 1, 10000);
  wait_ready (client);
  for (int i = 0; i < 256; i++)
    x[i] = i * 0.25f;
  for (int r = 0; r < 20; r++) {
    prima_link_event *ev;
    float y[256];
    prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F16, 5, r, 1, 1, 256);
    g_assert_true (prima_link_send_frame_f32 (client, &h, x, NULL));
    ev = pop_type (client, PRIMA_LINK_EVENT_FRAME, 5 * SEC);
    g_assert_cmpint (ev->frame.pos0, ==, r);
    g_assert_cmpuint (ev->frame.dtype, ==, PRIMA_FRAME_DTYPE_F16);
    g_assert_cmpuint (ev->frame.seq_id, ==, 5);
    prima_frame_payload_to_f32 (&ev->frame, ev->payload, y);
    g_assert_cmpmem (x, sizeof x, y, sizeof y);
    prima_link_event_free (ev);
  }
  prima_link_free (client);
  prima_link_free (server);
  prima_cluster_key_unref (ck);
}

/* A peer with another key is refused by the server, with a log line, and
 * gives up (no retry loop); the server then still serves the right peer. */
static void
test_wrong_key (void)
{
  prima_link *server = new_server (KEY_A, 0, -1);
  guint16 port = prima_link_get_port (server);
  prima_link *bad, *good;
  prima_link_stats st;
  GError *err = NULL;

  log_clear ();
  /* the counters must be updated before the log lines that report them */
  log_stall_on = "refused peer";
  bad = new_client (KEY_B, port, 1, 10000);
  g_assert_false (prima_link_wait_ready (bad, 5 * SEC, &err));
  g_assert_error (err, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_FAILED);
  g_assert_nonnull (strstr (err->message, "failed to prove the cluster key"));
  g_clear_error (&err);
  prima_link_get_stats (bad, &st);
  g_assert_cmpuint (st.refused, ==, 1);
  wait_log ("refused peer 127.0.0.1:", "(claims rank 1): authentication failed: the peer does not know the cluster key",
      5 * SEC);
  g_assert_false (prima_link_is_ready (server));
  prima_link_get_stats (server, &st);
  g_assert_cmpuint (st.refused, ==, 1);
  g_assert_cmpuint (st.connects, ==, 0);
  log_stall_on = NULL;
  prima_link_free (bad);

  good = new_client (KEY_A, port, 1, 10000);
  wait_ready (good);
  send_test_frame (good, 9, 16);
  expect_test_frame (server, 9, 16);
  prima_link_free (good);
  prima_link_free (server);
}

/* ---- an unauthenticated flood (a child process holds the sockets) ---- */

#define FLOOD_N 200

/* Opens FLOOD_N TCP connections to the port, writes how many connected,
 * then waits up to 15 s for the server to close them and writes how many it
 * closed. Plain system calls only: this runs in a forked child. Most send
 * nothing; every tenth starts an HTTP request and stops halfway. */
static void
flood_child (guint16 port, int out, const struct rlimit *lim)
{
  static int fds[FLOOD_N];
  static const char half[] = "GET /prima/ring HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  struct sockaddr_in sa = { 0 };
  struct timeval tv = { 0, 200 * 1000 };
  int n = 0, closed = 0;
  struct timespec t0, t;

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  /* the descriptor limit is the server's (the parent's), not ours */
  setrlimit (RLIMIT_NOFILE, lim);
  sa.sin_family = AF_INET;
  sa.sin_port = htons (port);
  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  for (int i = 0; i < FLOOD_N; i++) {
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
      break;
    /* a full accept queue (a server out of descriptors) drops SYNs: bounded */
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect (fd, (struct sockaddr *) &sa, sizeof sa) != 0) {
      close (fd);
      continue;
    }
    if (i % 10 == 0 && write (fd, half, sizeof half - 1) < 0) {
      close (fd);
      continue;
    }
    fds[n++] = fd;
  }
  if (write (out, &n, sizeof n) != sizeof n)
    _exit (1);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  for (;;) {
    closed = 0;
    for (int i = 0; i < n; i++) {
      struct pollfd pfd = { fds[i], POLLIN, 0 };
      char buf[256];
      if (fds[i] < 0) {
        closed++;
        continue;
      }
      if (poll (&pfd, 1, 0) == 1 && read (fds[i], buf, sizeof buf) <= 0) {
        close (fds[i]);
        fds[i] = -1;
        closed++;
      }
    }
    clock_gettime (CLOCK_MONOTONIC, &t);
    if (closed == n || t.tv_sec - t0.tv_sec > 15)
      break;
    usleep (20 * 1000);
  }
  if (write (out, &closed, sizeof closed) != sizeof closed)
    _exit (1);
  _exit (0);
}

/* 200 idle connections from the same address as the real peer, with the
 * server's process limited to 128 descriptors: the server caps the pending
 * connections per address (refusing the rest at once, with a log line),
 * closes the ones that do not authenticate within the deadline (1 s here,
 * counted from accept: most never send an HTTP request), and the real
 * client authenticates. */
static void
test_idle_flood (void)
{
  prima_link_config cfg = { 0 };
  prima_cluster_key *ck = key (KEY_A);
  prima_link *server, *client;
  struct rlimit old_lim, lim;
  GError *err = NULL;
  int pipefd[2], n = 0, closed = -1, status;
  pid_t pid;

  cfg.role = PRIMA_LINK_SERVER;
  cfg.rank = 2;
  cfg.peer_rank = -1;
  cfg.key = ck;
  cfg.bind_address = "127.0.0.1";
  cfg.auth_timeout_ms = 1000;
  server = prima_link_new (&cfg, &err);
  g_assert_no_error (err);
  log_clear ();

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &old_lim), ==, 0);
  lim = old_lim;
  lim.rlim_cur = 128;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &lim), ==, 0);

  g_assert_cmpint (pipe (pipefd), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    flood_child (prima_link_get_port (server), pipefd[1], &old_lim);
  close (pipefd[1]);
  g_assert_cmpint (read (pipefd[0], &n, sizeof n), ==, sizeof n);
  g_test_message ("%d idle connections open", n);
  g_assert_cmpint (n, >, 128);

  /* the flood holds this address's cap until its deadline */
  client = new_client (KEY_A, prima_link_get_port (server), 1, 0);
  if (!prima_link_wait_ready (client, 30 * SEC, &err))
    g_error ("the real peer did not get through the flood: %s", err->message);
  wait_ready (server);
  send_test_frame (client, 1, 64);
  expect_test_frame (server, 1, 64);

  g_assert_cmpint (read (pipefd[0], &closed, sizeof closed), ==, sizeof closed);
  close (pipefd[0]);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_cmpint (closed, ==, n);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &old_lim), ==, 0);
  wait_log ("refused peer 127.0.0.1:", "too many unauthenticated connections from 127.0.0.1 (8)", 5 * SEC);
  wait_log ("refused peer 127.0.0.1:", "no authentication within 1 s (no WebSocket handshake)", 5 * SEC);

  /* the authenticated link is not affected */
  send_test_frame (client, 2, 64);
  expect_test_frame (server, 2, 64);
  prima_link_free (client);
  prima_link_free (server);
  prima_cluster_key_unref (ck);
}

/* Ends of different ring sizes refuse each other at the handshake, each
 * with both numbers (before the rank check: another size explains another
 * rank), and nobody retries. */
static void
test_world_mismatch (void)
{
  prima_link_config cfg = { 0 };
  prima_cluster_key *ck = key (KEY_A);
  char *url;
  prima_link *server, *client;
  prima_link_stats st;
  GError *err = NULL;

  cfg.role = PRIMA_LINK_SERVER;
  cfg.rank = 1;
  cfg.peer_rank = 0;
  cfg.key = ck;
  cfg.bind_address = "127.0.0.1";
  cfg.world = 2;
  server = prima_link_new (&cfg, &err);
  g_assert_no_error (err);
  log_clear ();

  /* a peer without the key cannot make either end report a ring size */
  memset (&cfg, 0, sizeof cfg);
  url = g_strdup_printf ("ws://127.0.0.1:%u", prima_link_get_port (server));
  cfg.role = PRIMA_LINK_CLIENT;
  cfg.rank = 2;
  cfg.peer_rank = -1;
  cfg.key = key (KEY_B);
  cfg.url = url;
  cfg.world = 3;
  client = prima_link_new (&cfg, &err);
  prima_cluster_key_unref (cfg.key);
  g_assert_no_error (err);
  g_assert_false (prima_link_wait_ready (client, 5 * SEC, &err));
  g_assert_nonnull (strstr (err->message, "failed to prove the cluster key"));
  g_clear_error (&err);
  wait_log ("refused peer 127.0.0.1:", "the peer does not know the cluster key", 5 * SEC);
  prima_link_get_stats (client, &st);
  g_assert_cmpuint (st.refused_world, ==, 0);
  prima_link_get_stats (server, &st);
  g_assert_cmpuint (st.refused_world, ==, 0);
  g_assert_cmpuint (st.refused_key, ==, 1);
  prima_link_free (client);

  cfg.key = ck;
  client = prima_link_new (&cfg, &err);
  g_assert_no_error (err);
  g_assert_false (prima_link_wait_ready (client, 5 * SEC, &err));
  g_assert_error (err, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_FAILED);
  g_assert_nonnull (strstr (err->message, "rank 1 was started with --world 2, this device has --world 3"));
  g_clear_error (&err);
  prima_link_get_stats (client, &st);
  g_assert_cmpuint (st.refused_world, ==, 1);
  g_assert_cmpint (st.world_peer_rank, ==, 1);
  g_assert_cmpuint (st.world_peer_world, ==, 2);

  /* the server counts it when the client gives up (not as a key mismatch) */
  for (gint64 end = g_get_monotonic_time () + 5 * SEC; g_get_monotonic_time () < end;) {
    prima_link_get_stats (server, &st);
    if (st.refused_world > 0)
      break;
    g_usleep (10 * 1000);
  }
  g_assert_cmpuint (st.refused_world, ==, 1);
  g_assert_cmpint (st.world_peer_rank, ==, 2);
  g_assert_cmpuint (st.world_peer_world, ==, 3);
  g_assert_cmpuint (st.refused_key, ==, 1);     /* the first client's only */
  g_assert_cmpuint (st.connects, ==, 0);
  prima_link_free (client);
  prima_link_free (server);
  prima_cluster_key_unref (ck);
  g_free (url);
}

/* A server that expects rank 1 upstream refuses rank 3. */
static void
test_wrong_rank (void)
{
  prima_link *server = new_server (KEY_A, 0, 1);
  prima_link *c3;
  GError *err = NULL;

  log_clear ();
  c3 = new_client (KEY_A, prima_link_get_port (server), 3, 10000);
  g_assert_false (prima_link_wait_ready (c3, 5 * SEC, &err));
  g_assert_nonnull (strstr (err->message, "refused us"));
  g_clear_error (&err);
  wait_log ("(claims rank 3): this hop expects rank 1", NULL, 5 * SEC);
  prima_link_free (c3);
  prima_link_free (server);
}

/* Replays of a recorded handshake are refused: the same hello twice, and a
 * recorded response on a new connection. */
static void
test_replay (void)
{
  prima_link *server = new_server (KEY_A, 0, -1);
  guint16 port = prima_link_get_port (server);
  prima_cluster_key *ck = key (KEY_A);
  prima_auth *auth = prima_auth_new (ck, PRIMA_AUTH_ROLE_CLIENT, 1, NULL);
  char hello_nonce[PRIMA_AUTH_NONCE_HEX + 1], proof[PRIMA_AUTH_PROOF_HEX + 1];
  prima_ctl_msg m;
  raw_peer *p;

  log_clear ();
  /* 1: a legitimate handshake by hand, recorded */
  p = raw_connect (port);
  g_strlcpy (hello_nonce, prima_auth_nonce (auth), sizeof hello_nonce);
  raw_hello (p, 1, hello_nonce);
  g_assert_true (raw_recv (p, &m));
  g_assert_cmpint (m.type, ==, PRIMA_CTL_CHALLENGE);
  g_assert_true (prima_auth_set_peer (auth, (guint32) m.rank, m.nonce, NULL));
  g_assert_true (prima_auth_verify (auth, m.proof, NULL));
  g_assert_true (prima_auth_prove (auth, proof, NULL));
  prima_ctl_msg_clear (&m);
  raw_response (p, proof);
  g_assert_true (raw_recv (p, &m));
  g_assert_cmpint (m.type, ==, PRIMA_CTL_WELCOME);
  prima_ctl_msg_clear (&m);
  wait_ready (server);
  raw_free (p);

  /* 2: the same hello again */
  p = raw_connect (port);
  raw_hello (p, 1, hello_nonce);
  g_assert_cmpuint (raw_wait_closed (p), ==, PRIMA_LINK_CLOSE_AUTH);
  wait_log ("refused peer", "replayed handshake (nonce seen before)", 5 * SEC);
  raw_free (p);

  /* 3: a fresh hello, then the recorded response */
  {
    prima_auth *fresh = prima_auth_new (ck, PRIMA_AUTH_ROLE_CLIENT, 1, NULL);
    p = raw_connect (port);
    raw_hello (p, 1, prima_auth_nonce (fresh));
    g_assert_true (raw_recv (p, &m));
    g_assert_cmpint (m.type, ==, PRIMA_CTL_CHALLENGE);
    prima_ctl_msg_clear (&m);
    raw_response (p, proof);
    g_assert_cmpuint (raw_wait_closed (p), ==, PRIMA_LINK_CLOSE_AUTH);
    wait_log ("refused peer", "authentication failed: the peer does not know the cluster key", 5 * SEC);
    raw_free (p);
    prima_auth_free (fresh);
  }
  prima_auth_free (auth);
  prima_cluster_key_unref (ck);
  prima_link_free (server);
}

/* Garbage from raw peers (not HTTP, binary before auth, bad JSON, a frame
 * too large for the pre-auth limit) is rejected with a log line while the
 * authenticated link keeps exchanging frames; then an authenticated peer
 * that sends a malformed frame is disconnected with an error. */
static void
test_garbage (void)
{
  prima_link *server = new_server (KEY_A, 0, -1);
  guint16 port = prima_link_get_port (server);
  prima_link *client = new_client (KEY_A, port, 1, 10000);
  prima_link_event *ev;
  raw_peer *p;
  guint32 n = 0;

  wait_ready (client);
  wait_ready (server);
  log_clear ();

  /* not even HTTP */
  {
    GSocketClient *sc = g_socket_client_new ();
    GSocketConnection *conn = g_socket_client_connect_to_host (sc, "127.0.0.1", port, NULL, NULL);
    GOutputStream *out;
    guint8 junk[4096];
    GRand *r = g_rand_new_with_seed (1);
    g_assert_nonnull (conn);
    out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
    for (gsize i = 0; i < sizeof junk; i++)
      junk[i] = (guint8) g_rand_int (r);
    g_output_stream_write_all (out, "\x16\x03\x01 GARBAGE\r\n\r\n", 16, NULL, NULL, NULL);
    g_output_stream_write_all (out, junk, sizeof junk, NULL, NULL, NULL);
    send_test_frame (client, n, 32);
    expect_test_frame (server, n++, 32);
    g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
    g_object_unref (conn);
    g_object_unref (sc);
    g_rand_free (r);
  }

  /* a WebSocket that sends a binary frame before authenticating */
  p = raw_connect (port);
  raw_send_binary (p, "PRIM\x01\x00garbage", 13);
  g_assert_cmpuint (raw_wait_closed (p), ==, PRIMA_LINK_CLOSE_AUTH);
  wait_log ("refused peer", "binary message before authentication", 5 * SEC);
  raw_free (p);
  send_test_frame (client, n, 32);
  expect_test_frame (server, n++, 32);

  /* bad JSON */
  p = raw_connect (port);
  raw_send_text (p, "{\"type\": \"hello\", \"rank\": ");
  g_assert_cmpuint (raw_wait_closed (p), ==, PRIMA_LINK_CLOSE_AUTH);
  wait_log ("refused peer", "bad handshake message: control: malformed JSON", 5 * SEC);
  raw_free (p);

  /* a big message before authentication: libsoup's limit closes it */
  p = raw_connect (port);
  {
    guint8 *big = g_malloc0 (64 * 1024);
    raw_send_binary (p, big, 64 * 1024);
    g_free (big);
  }
  raw_wait_closed (p);
  raw_free (p);

  /* the real link did not notice */
  for (int i = 0; i < 10; i++)
    send_test_frame (client, n + i, 4096);
  for (int i = 0; i < 10; i++)
    expect_test_frame (server, n + i, 4096);
  n += 10;
  g_assert_true (prima_link_is_ready (server));
  g_assert_true (prima_link_is_ready (client));

  /* now the authenticated client turns bad: a frame with a wrong length */
  {
    GByteArray *buf = g_byte_array_new ();
    prima_frame_header h;
    float x[8] = { 0 };
    prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, 0, 1, 0, 8);
    g_assert_true (prima_frame_encode (&h, x, buf, NULL));
    g_byte_array_set_size (buf, buf->len - 4);
    g_assert_true (prima_link_send_raw (client, FALSE, buf->data, buf->len, NULL));
    g_byte_array_unref (buf);
  }
  ev = pop_type (server, PRIMA_LINK_EVENT_LOST, 5 * SEC);
  g_assert_cmpint (ev->reason, ==, PRIMA_LINK_LOST_PROTOCOL);
  g_assert_true (g_str_has_prefix (ev->message, "rank 1 at 127.0.0.1:"));
  g_assert_nonnull (strstr (ev->message, "sent a malformed frame (frame: payload truncated (28 of 32 bytes)); disconnected"));
  prima_link_event_free (ev);
  ev = pop_type (client, PRIMA_LINK_EVENT_CONTROL, 5 * SEC);
  g_assert_cmpint (ev->control.type, ==, PRIMA_CTL_ERROR_MSG);
  g_assert_nonnull (strstr (ev->control.text, "payload truncated"));
  prima_link_event_free (ev);
  ev = pop_type (client, PRIMA_LINK_EVENT_LOST, 5 * SEC);
  g_assert_nonnull (strstr (ev->message, "close code 4002"));
  prima_link_event_free (ev);
  prima_link_free (client);

  /* and a malformed control message likewise */
  client = new_client (KEY_A, port, 1, 10000);
  wait_ready (client);
  g_assert_true (prima_link_send_raw (client, TRUE, "{\"type\":\"kv-shift\"}", 19, NULL));
  ev = pop_type (server, PRIMA_LINK_EVENT_LOST, 5 * SEC);
  g_assert_cmpint (ev->reason, ==, PRIMA_LINK_LOST_PROTOCOL);
  g_assert_nonnull (strstr (ev->message, "sent a malformed control message (kv-shift: \"seq\" is missing)"));
  prima_link_event_free (ev);
  prima_link_free (client);
  prima_link_free (server);
}

/* ---- a peer in another process, to stop or kill ---- */

static int
run_peer (const char *role, const char *port_s)
{
  prima_link_config cfg = { 0 };
  GError *err = NULL;
  prima_cluster_key *ck;
  prima_link *l;
  char *url = NULL;
  gint64 end = g_get_monotonic_time () + 60 * SEC;

  /* never outlive the test */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
  ck = prima_cluster_key_resolve (NULL, NULL, &err);
  if (ck == NULL) {
    g_printerr ("peer: %s\n", err->message);
    return 1;
  }
  cfg.key = ck;
  cfg.peer_rank = -1;
  if (strcmp (role, "client") == 0) {
    url = g_strdup_printf ("ws://127.0.0.1:%s", port_s);
    cfg.role = PRIMA_LINK_CLIENT;
    cfg.rank = 1;
    cfg.url = url;
  } else {
    cfg.role = PRIMA_LINK_SERVER;
    cfg.rank = 2;
    cfg.bind_address = "127.0.0.1";
  }
  l = prima_link_new (&cfg, &err);
  if (l == NULL) {
    g_printerr ("peer: %s\n", err->message);
    return 1;
  }
  printf ("%u\n", prima_link_get_port (l));
  fflush (stdout);
  while (g_get_monotonic_time () < end) {
    prima_link_event *ev = prima_link_pop (l, SEC);
    prima_link_event_free (ev);
  }
  prima_link_free (l);
  prima_cluster_key_unref (ck);
  g_free (url);
  return 0;
}

static GPid
spawn_peer (const char *role, guint16 port, guint16 *child_port)
{
  char port_s[16];
  char *argv[] = { (char *) "/proc/self/exe", (char *) "--peer", (char *) role, port_s, NULL };
  char **envp = g_environ_setenv (g_get_environ (), PRIMA_CLUSTER_KEY_ENV, KEY_A, TRUE);
  GError *err = NULL;
  GPid pid;
  gint out_fd;
  char line[32] = { 0 };
  gssize n;

  g_snprintf (port_s, sizeof port_s, "%u", port);
  g_assert_true (g_spawn_async_with_pipes (NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &pid, NULL,
      &out_fd, NULL, &err));
  g_assert_no_error (err);
  n = read (out_fd, line, sizeof line - 1);
  g_assert_cmpint (n, >, 0);
  close (out_fd);
  if (child_port)
    *child_port = (guint16) atoi (line);
  g_strfreev (envp);
  return pid;
}

static void
kill_peer (GPid pid)
{
  int status;
  kill (pid, SIGKILL);
  waitpid (pid, &status, 0);
  g_spawn_close_pid (pid);
}

/* A peer that stops answering (SIGSTOP: its TCP connection stays open) is
 * reported within the 3 s heartbeat timeout, by a server and by a client. */
static void
test_heartbeat_timeout (gconstpointer data)
{
  gboolean we_are_server = GPOINTER_TO_INT (data);
  prima_link *l;
  prima_link_event *ev;
  guint16 child_port = 0;
  GPid pid;
  gint64 t0, elapsed;
  char *expect;

  if (we_are_server) {
    l = new_server (KEY_A, 0, -1);
    pid = spawn_peer ("client", prima_link_get_port (l), NULL);
  } else {
    pid = spawn_peer ("server", 0, &child_port);
    l = new_client (KEY_A, child_port, 1, 10000);
  }
  wait_ready (l);
  ev = pop_type (l, PRIMA_LINK_EVENT_READY, 5 * SEC);
  prima_link_event_free (ev);
  /* let a heartbeat or two pass, then freeze the peer */
  g_usleep (1500 * 1000);
  kill (pid, SIGSTOP);
  t0 = g_get_monotonic_time ();
  ev = pop_type (l, PRIMA_LINK_EVENT_LOST, 6 * SEC);
  elapsed = g_get_monotonic_time () - t0;
  g_test_message ("stopped peer detected after %.3f s: %s", elapsed / 1e6, ev->message);
  g_assert_cmpint (ev->reason, ==, PRIMA_LINK_LOST_TIMEOUT);
  /* 3 s after the last message, which arrived before the stop (about 1 s
   * before at most, heartbeat interval); slack for a loaded machine */
  g_assert_cmpint (elapsed, <=, 3 * SEC + 500 * 1000);
  g_assert_cmpint (elapsed, >=, SEC);
  expect = we_are_server ? g_strdup ("rank 1 at 127.0.0.1:")
                         : g_strdup_printf ("rank 2 at 127.0.0.1:%u stopped answering", child_port);
  g_assert_true (g_str_has_prefix (ev->message, expect));
  g_assert_nonnull (strstr (ev->message, "stopped answering (no heartbeat for 3.0 s)"));
  g_free (expect);
  g_assert_false (prima_link_is_ready (l));
  prima_link_event_free (ev);
  kill_peer (pid);
  prima_link_free (l);
}

/* A peer that dies is reported at once as disconnected. */
static void
test_disconnect (void)
{
  prima_link *server = new_server (KEY_A, 0, -1);
  prima_link_event *ev;
  GPid pid = spawn_peer ("client", prima_link_get_port (server), NULL);
  gint64 t0;

  wait_ready (server);
  kill (pid, SIGKILL);
  t0 = g_get_monotonic_time ();
  ev = pop_type (server, PRIMA_LINK_EVENT_LOST, 5 * SEC);
  g_test_message ("killed peer detected after %.3f s: %s", (g_get_monotonic_time () - t0) / 1e6, ev->message);
  g_assert_cmpint (ev->reason, ==, PRIMA_LINK_LOST_DISCONNECTED);
  g_assert_true (g_str_has_prefix (ev->message, "rank 1 at 127.0.0.1:"));
  g_assert_true (g_str_has_suffix (ev->message, " disconnected"));
  g_assert_cmpint (g_get_monotonic_time () - t0, <, SEC);
  prima_link_event_free (ev);
  kill_peer (pid);

  /* a restarted peer is accepted again */
  pid = spawn_peer ("client", prima_link_get_port (server), NULL);
  ev = pop_type (server, PRIMA_LINK_EVENT_READY, 5 * SEC);
  prima_link_event_free (ev);
  kill_peer (pid);
  prima_link_free (server);
}

/* A device that fails says why: its peer gets the error message (rank and
 * the whole reason), then LOST/FAILED with the reason of the close frame
 * (code 4006), cut to 123 bytes on a UTF-8 boundary; both still go out when
 * the failing end frees its link at once, as a process that exits does. */
static void
test_close_failed (void)
{
  guint16 port = free_port ();
  prima_link *server = new_server (KEY_A, port, 1);
  prima_link *client = new_client (KEY_A, port, 1, 10000);
  GString *why = g_string_new ("NaN or infinite values from layer 2 (blk.2) on: ");
  prima_link_event *ev;
  char *cut;

  /* 3-byte characters: 123 bytes would split one */
  while (why->len < 300)
    g_string_append (why, "\xe2\x82\xac");
  wait_ready (client);
  wait_ready (server);
  prima_link_close_failed (client, 1, why->str);
  prima_link_free (client);

  ev = pop_type (server, PRIMA_LINK_EVENT_CONTROL, 5 * SEC);
  g_assert_cmpint (ev->control.type, ==, PRIMA_CTL_ERROR_MSG);
  g_assert_cmpint (ev->control.rank, ==, 1);
  g_assert_cmpstr (ev->control.text, ==, why->str);
  prima_link_event_free (ev);
  ev = pop_type (server, PRIMA_LINK_EVENT_LOST, 5 * SEC);
  g_assert_cmpint (ev->reason, ==, PRIMA_LINK_LOST_FAILED);
  g_assert_cmpstr (prima_link_lost_reason_name (ev->reason), ==, "failed");
  g_assert_true (g_str_has_prefix (ev->message, "rank 1 at 127.0.0.1:"));
  cut = strstr (ev->message, " failed: ");
  g_assert_nonnull (cut);
  cut += strlen (" failed: ");
  g_assert_true (g_utf8_validate (cut, -1, NULL));
  g_assert_cmpuint (strlen (cut), <=, PRIMA_LINK_CLOSE_REASON_MAX);
  g_assert_cmpuint (strlen (cut), >, PRIMA_LINK_CLOSE_REASON_MAX - 3);
  g_assert_true (strncmp (cut, why->str, strlen (cut)) == 0);
  prima_link_event_free (ev);
  prima_link_free (server);
  g_string_free (why, TRUE);

  /* the cut itself: whole characters only, valid text kept as it is */
  cut = prima_link_utf8_truncate ("ab\xe2\x82\xac", 4);
  g_assert_cmpstr (cut, ==, "ab");
  g_free (cut);
  cut = prima_link_utf8_truncate ("ab\xe2\x82\xac", 5);
  g_assert_cmpstr (cut, ==, "ab\xe2\x82\xac");
  g_free (cut);
  cut = prima_link_utf8_truncate ("a\xff" "b", 123);
  g_assert_true (g_utf8_validate (cut, -1, NULL));
  g_free (cut);
}

/* A client that cannot reach its server gives up after connect_timeout_ms. */
static void
test_connect_timeout (void)
{
  prima_link *c = new_client (KEY_A, free_port (), 1, 400);
  prima_link_event *ev = pop_type (c, PRIMA_LINK_EVENT_LOST, 5 * SEC);
  GError *err = NULL;
  g_assert_cmpint (ev->reason, ==, PRIMA_LINK_LOST_CONNECT);
  g_assert_nonnull (strstr (ev->message, "could not connect to 127.0.0.1:"));
  g_assert_false (prima_link_wait_ready (c, SEC, &err));
  g_assert_error (err, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_FAILED);
  g_clear_error (&err);
  prima_link_event_free (ev);
  prima_link_free (c);
}

/* wss:// with a pinned self-signed certificate; a client pinned to another
 * certificate does not connect. */
static void
test_tls (void)
{
  prima_link_config cfg = { 0 };
  prima_cluster_key *ck;
  GTlsCertificate *ca, *cb;
  prima_link *server, *client, *wrong;
  GError *err = NULL;
  char *url;

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
    g_test_skip ("no TLS backend (install glib-networking)");
    return;
  }
  ca = g_tls_certificate_new_from_pem (tls_pem_a, -1, &err);
  g_assert_no_error (err);
  cb = g_tls_certificate_new_from_pem (tls_pem_b, -1, &err);
  g_assert_no_error (err);
  ck = key (KEY_A);
  cfg.role = PRIMA_LINK_SERVER;
  cfg.rank = 2;
  cfg.peer_rank = -1;
  cfg.key = ck;
  cfg.bind_address = "127.0.0.1";
  cfg.tls_certificate = ca;
  server = prima_link_new (&cfg, &err);
  g_assert_no_error (err);
  url = g_strdup_printf ("wss://127.0.0.1:%u", prima_link_get_port (server));

  memset (&cfg, 0, sizeof cfg);
  cfg.role = PRIMA_LINK_CLIENT;
  cfg.rank = 1;
  cfg.peer_rank = 2;
  cfg.key = ck;
  cfg.url = url;
  cfg.connect_timeout_ms = 3000;
  cfg.tls_peer_certificate = cb;
  wrong = prima_link_new (&cfg, &err);
  g_assert_no_error (err);
  g_assert_false (prima_link_wait_ready (wrong, 5 * SEC, &err));
  g_clear_error (&err);
  prima_link_free (wrong);

  cfg.tls_peer_certificate = ca;
  client = prima_link_new (&cfg, &err);
  g_assert_no_error (err);
  wait_ready (client);
  for (guint32 i = 0; i < 20; i++)
    send_test_frame (client, i, 4096);
  for (guint32 i = 0; i < 20; i++)
    expect_test_frame (server, i, 4096);
  send_test_frame (server, 1, 8);
  expect_test_frame (client, 1, 8);
  prima_link_free (client);
  prima_link_free (server);
  g_free (url);
  g_object_unref (ca);
  g_object_unref (cb);
  prima_cluster_key_unref (ck);
}

/* A newer authenticated connection replaces the old one (a restarted
 * upstream whose old socket is half-open). */
static void
test_replace (void)
{
  prima_link *server = new_server (KEY_A, 0, 1);
  prima_link *a = new_client (KEY_A, prima_link_get_port (server), 1, 10000);
  prima_link *b;
  prima_link_event *ev;

  wait_ready (a);
  ev = pop_type (server, PRIMA_LINK_EVENT_READY, 5 * SEC);
  prima_link_event_free (ev);
  b = new_client (KEY_A, prima_link_get_port (server), 1, 10000);
  wait_ready (b);
  ev = pop_type (server, PRIMA_LINK_EVENT_LOST, 5 * SEC);
  g_assert_cmpint (ev->reason, ==, PRIMA_LINK_LOST_REPLACED);
  prima_link_event_free (ev);
  ev = pop_type (server, PRIMA_LINK_EVENT_READY, 5 * SEC);
  prima_link_event_free (ev);
  ev = pop_type (a, PRIMA_LINK_EVENT_LOST, 5 * SEC);
  g_assert_nonnull (strstr (ev->message, "4003"));
  prima_link_event_free (ev);
  send_test_frame (b, 4, 16);
  expect_test_frame (server, 4, 16);
  prima_link_free (a);
  prima_link_free (b);
  prima_link_free (server);
}

/* A setup client (PRIMA_LINK_SETUP_PATH) that reaches a data server gets
 * HTTP 409: the device serves a head (named once it is the peer, rank 0);
 * the client counts it and keeps retrying, and the data link is not
 * disturbed. */
static prima_link *
new_setup_client (guint16 port)
{
  prima_link_config cfg = { 0 };
  prima_cluster_key *ck = key (KEY_A);
  char *url = g_strdup_printf ("ws://127.0.0.1:%u" PRIMA_LINK_SETUP_PATH, port);
  GError *err = NULL;
  prima_link *l;

  cfg.role = PRIMA_LINK_CLIENT;
  cfg.rank = 0;
  cfg.peer_rank = -1;
  cfg.key = ck;
  cfg.url = url;
  l = prima_link_new (&cfg, &err);
  g_assert_no_error (err);
  prima_cluster_key_unref (ck);
  g_free (url);
  return l;
}

static void
wait_refused_head (prima_link *l, prima_link_stats *st)
{
  gint64 end = g_get_monotonic_time () + 5 * SEC;

  do {
    prima_link_get_stats (l, st);
    if (st->refused_head > 0)
      return;
    g_usleep (10 * 1000);
  } while (g_get_monotonic_time () < end);
  g_assert_cmpuint (st->refused_head, >, 0);
}

static void
test_serving_head (void)
{
  prima_link *server = new_server (KEY_A, 0, 0);
  prima_link *setup = new_setup_client (prima_link_get_port (server)), *head, *setup2;
  prima_link_event *ev;
  prima_link_stats st;

  /* no head yet: still a data server, serving a head that is coming */
  wait_refused_head (setup, &st);
  g_assert_cmpstr (st.head_reason, ==, "serving another head");
  g_assert_false (prima_link_is_ready (setup));
  prima_link_free (setup);
  /* with its head (rank 0) connected: named by its address */
  head = new_client (KEY_A, prima_link_get_port (server), 0, 10000);
  wait_ready (head);
  ev = pop_type (server, PRIMA_LINK_EVENT_READY, 5 * SEC);
  prima_link_event_free (ev);
  setup2 = new_setup_client (prima_link_get_port (server));
  wait_refused_head (setup2, &st);
  g_assert_true (g_str_has_prefix (st.head_reason, "serving another head (127.0.0.1:"));
  g_assert_true (g_str_has_suffix (st.head_reason, ")"));
  /* it keeps asking (the caller decides how long), the head keeps its hop */
  {
    guint first = st.refused_head;
    gint64 end = g_get_monotonic_time () + 5 * SEC;
    while (st.refused_head == first && g_get_monotonic_time () < end) {
      g_usleep (10 * 1000);
      prima_link_get_stats (setup2, &st);
    }
    g_assert_cmpuint (st.refused_head, >, first);
  }
  g_assert_true (prima_link_is_ready (head));
  send_test_frame (head, 4, 16);
  expect_test_frame (server, 4, 16);
  prima_link_free (setup2);
  prima_link_free (head);
  prima_link_free (server);
}

int
main (int argc, char **argv)
{
  if (argc == 4 && strcmp (argv[1], "--peer") == 0)
    return run_peer (argv[2], argv[3]);

  g_test_init (&argc, &argv, NULL);
  /* warnings are part of what is tested: capture them instead of aborting */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  /* libsoup's debug chatter drowns the test output */
  g_log_set_debug_enabled (FALSE);
  log_lines = g_ptr_array_new_with_free_func (g_free);
  g_log_set_handler ("prima", G_LOG_LEVEL_MASK, capture_log, NULL);
  g_unsetenv ("http_proxy");
  g_unsetenv ("https_proxy");

  g_test_add_func ("/ring-link/exchange", test_exchange);
  g_test_add_func ("/ring-link/callback-echo", test_callback_echo);
  g_test_add_func ("/ring-link/wrong-key", test_wrong_key);
  g_test_add_func ("/ring-link/wrong-rank", test_wrong_rank);
  g_test_add_func ("/ring-link/world-mismatch", test_world_mismatch);
  g_test_add_func ("/ring-link/replay", test_replay);
  g_test_add_func ("/ring-link/garbage", test_garbage);
  g_test_add_func ("/ring-link/idle-flood", test_idle_flood);
  g_test_add_data_func ("/ring-link/heartbeat-timeout/server-side", GINT_TO_POINTER (TRUE), test_heartbeat_timeout);
  g_test_add_data_func ("/ring-link/heartbeat-timeout/client-side", GINT_TO_POINTER (FALSE), test_heartbeat_timeout);
  g_test_add_func ("/ring-link/disconnect", test_disconnect);
  g_test_add_func ("/ring-link/close-failed", test_close_failed);
  g_test_add_func ("/ring-link/connect-timeout", test_connect_timeout);
  g_test_add_func ("/ring-link/replace", test_replace);
  g_test_add_func ("/ring-link/serving-head", test_serving_head);
  g_test_add_func ("/ring-link/tls", test_tls);
  return g_test_run ();
}
