/* gst-prima: one hop of the ring as a persistent, authenticated WebSocket.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "ring-link.h"
#include <glib/gi18n-lib.h>

#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

G_DEFINE_QUARK (prima-link-error-quark, prima_link_error)

#define AUTH_TIMEOUT_MS 5000
/* Before authentication a peer may send only the small handshake texts. */
#define PRE_AUTH_MAX_PAYLOAD 4096
/* refusals at accept come in bursts (a flood): one line per second at most */
#define REFUSAL_LOG_INTERVAL_US G_USEC_PER_SEC
#define REPLAY_CACHE 1024
#define MAX_RETRY_MS 1000
#define CLOSE_GRACE_US (250 * 1000)
#define LISTEN_RETRY_US (2 * G_USEC_PER_SEC)

typedef enum {
  CONN_HANDSHAKE,
  CONN_OPEN,
  CONN_CLOSING,
} conn_state;

typedef struct conn conn;
struct conn {
  prima_link *link;
  SoupWebsocketConnection *ws;
  prima_auth *auth;
  conn_state state;
  int step;                     /* handshake messages received so far */
  char *addr;                   /* host:port of the peer */
  gint32 peer_rank;
  guint32 peer_world;           /* server: a world other than ours that the peer's hello said; 0: same */
  gint64 last_rx;
  GSource *auth_timer;          /* client: the handshake's deadline */
  GSocket *sock;                /* server: the accepted socket (borrowed from ws) */
  gboolean nodelay;
};

/* Server: a connection from its accept until it authenticates. It counts
 * against the pending caps until then, or until its socket is gone. */
typedef struct {
  prima_link *link;
  GWeakRef sock;
  char *addr;                   /* host:port */
  char *ip;
  GSource *deadline;            /* accept + auth_timeout_ms; NULL once fired */
} accepted;

typedef struct {
  GByteArray *buf;
  gboolean text;
  gboolean ready;
} send_slot;

struct prima_link {
  /* configuration, read-only after prima_link_new */
  prima_link_role role;
  guint32 rank;
  gint32 want_peer_rank;
  prima_cluster_key *key;
  char *bind_address;
  char *path;                   /* served WebSocket path, NULL = PRIMA_LINK_PATH */
  guint16 port;
  GTlsCertificate *tls_cert;
  GUri *uri;
  char *peer_addr;
  GTlsCertificate *tls_peer_cert;
  guint connect_timeout_ms, retry_ms, hb_interval_ms, hb_timeout_ms;
  guint auth_timeout_ms, max_pending_per_address;
  guint world;
  gboolean reconnect;
  prima_link_event_func on_event;
  gpointer user_data;
  char *name;
  GThread *thread;
  GMainContext *ctx;
  GMainLoop *loop;

  /* I/O thread only */
  SoupServer *server;
  SoupSession *session;
  SoupMessage *connect_msg;
  GCancellable *cancel;
  GSource *retry_timer;
  guint cur_retry_ms;
  gint64 connect_deadline;
  gboolean logged_wait;
  gboolean stop_connecting;
  conn *active;                 /* client: its connection; server: the authenticated one */
  GList *pending;               /* server: connections still in the handshake */
  GList *accepted;              /* server: unauthenticated sockets since accept (accepted *) */
  gint64 last_refusal_log;
  guint refusals_unlogged;
  GList *closing;               /* connections whose close is in progress */
  GSource *wake;                /* a send slot became ready */
  GSource *watchdog;            /* fires at active->last_rx + timeout */
  GSource *hb_timer;
  guint64 hb_n;
  GByteArray *scratch;
  GHashTable *seen_nonces;
  GQueue seen_order;

  /* shared with other threads, under lock */
  GMutex lock;
  GCond cond;                   /* events, ready, free slots, startup */
  send_slot *slots;
  guint n_slots, head, count;
  GQueue events;
  gboolean ready;
  gboolean failed;              /* a client gave up */
  char *fail_message;
  gboolean shutting_down;
  prima_frame_limits limits;
  prima_link_stats stats;
  gboolean started;
  GError *start_error;
};

static void conn_close (conn *c, gushort code, const char *reason);
static void accepted_forget (prima_link *link, GSocket *sock);
static void client_connect (prima_link *link);

const char *
prima_link_lost_reason_name (prima_link_lost_reason reason)
{
  switch (reason) {
    case PRIMA_LINK_LOST_DISCONNECTED: return "disconnected";
    case PRIMA_LINK_LOST_CLOSED: return "closed";
    case PRIMA_LINK_LOST_TIMEOUT: return "timeout";
    case PRIMA_LINK_LOST_PROTOCOL: return "protocol error";
    case PRIMA_LINK_LOST_AUTH: return "authentication";
    case PRIMA_LINK_LOST_CONNECT: return "connect";
    case PRIMA_LINK_LOST_REPLACED: return "replaced";
    case PRIMA_LINK_LOST_FAILED: return "failed";
    default: return "unknown";
  }
}

/* ---- small helpers ---- */

static char *
format_address (GSocketAddress *sa)
{
  GInetAddress *ia;
  char *ip, *s;
  if (sa == NULL || !G_IS_INET_SOCKET_ADDRESS (sa))
    return g_strdup ("(unknown)");
  ia = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
  ip = g_inet_address_to_string (ia);
  if (g_inet_address_get_family (ia) == G_SOCKET_FAMILY_IPV6)
    s = g_strdup_printf ("[%s]:%u", ip, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)));
  else
    s = g_strdup_printf ("%s:%u", ip, g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (sa)));
  g_free (ip);
  return s;
}

/* "rank 2 at 10.0.0.3:9002", or "peer at ..." before the peer said its rank */
static char *
peer_desc (const conn *c)
{
  if (c->peer_rank >= 0)
    return g_strdup_printf ("rank %d at %s", c->peer_rank, c->addr);
  return g_strdup_printf ("peer at %s", c->addr);
}

/* The GSocket under the WebSocket's stream: through SoupIOStream
 * ("base-iostream") and a GTlsConnection ("base-io-stream") if any. */
static GSocket *
socket_of_stream (GIOStream *s)
{
  GIOStream *top = s;
  for (int depth = 0; s != NULL && depth < 4; depth++) {
    GIOStream *base = NULL;
    if (G_IS_SOCKET_CONNECTION (s))
      return g_socket_connection_get_socket (G_SOCKET_CONNECTION (s));
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (s), "base-iostream"))
      g_object_get (s, "base-iostream", &base, NULL);
    else if (g_object_class_find_property (G_OBJECT_GET_CLASS (s), "base-io-stream"))
      g_object_get (s, "base-io-stream", &base, NULL);
    if (base == NULL)
      break;
    g_object_unref (base);      /* s keeps its base alive */
    s = base;
  }
  /* libsoup also attaches the socket to a stolen client stream */
  if (top && G_IS_SOCKET (g_object_get_data (G_OBJECT (top), "GSocket")))
    return g_object_get_data (G_OBJECT (top), "GSocket");
  return NULL;
}

/* Nagle would hold a small frame back until the previous one is acked: a
 * whole RTT per token on some hops. */
static gboolean
set_nodelay (GSocket *sock)
{
  gint v = 0;
  if (sock == NULL)
    return FALSE;
  if (!g_socket_set_option (sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL))
    return FALSE;
  return g_socket_get_option (sock, IPPROTO_TCP, TCP_NODELAY, &v, NULL) && v != 0;
}

static gboolean
rt_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  return callback (data);
}

/* A source driven only by its ready time: armed from any thread with
 * g_source_set_ready_time, no allocation per use. */
static GSourceFuncs rt_funcs = { NULL, NULL, rt_dispatch, NULL, NULL, NULL };

static GSource *
rt_source_new (prima_link *link, GSourceFunc cb, int priority)
{
  GSource *s = g_source_new (&rt_funcs, sizeof (GSource));
  g_source_set_callback (s, cb, link, NULL);
  g_source_set_priority (s, priority);
  g_source_set_ready_time (s, -1);
  g_source_attach (s, link->ctx);
  return s;
}

static void
destroy_source (GSource **s)
{
  if (*s) {
    g_source_destroy (*s);
    g_source_unref (*s);
    *s = NULL;
  }
}

/* ---- events ---- */

void
prima_link_event_free (prima_link_event *ev)
{
  if (ev == NULL)
    return;
  if (ev->bytes)
    g_bytes_unref (ev->bytes);
  if (ev->type == PRIMA_LINK_EVENT_CONTROL)
    prima_ctl_msg_clear (&ev->control);
  g_free (ev->message);
  g_free (ev);
}

static prima_link_event *
event_new (prima_link_event_type type, gint32 peer_rank)
{
  prima_link_event *ev = g_new0 (prima_link_event, 1);
  ev->type = type;
  ev->peer_rank = peer_rank;
  return ev;
}

static void
emit (prima_link *link, prima_link_event *ev)
{
  if (link->on_event && link->on_event (link, ev, link->user_data)) {
    prima_link_event_free (ev);
    return;
  }
  ev->node_.data = ev;
  g_mutex_lock (&link->lock);
  g_queue_push_tail_link (&link->events, &ev->node_);
  g_cond_broadcast (&link->cond);
  g_mutex_unlock (&link->lock);
}

/* ---- sending on the I/O thread ---- */

static gboolean
io_send (prima_link *link, gboolean text, const guint8 *data, gsize len)
{
  conn *c = link->active;
  if (c == NULL || c->state != CONN_OPEN
      || soup_websocket_connection_get_state (c->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return FALSE;
  if (text)
    soup_websocket_connection_send_text (c->ws, (const char *) data);
  else
    soup_websocket_connection_send_binary (c->ws, data, len);
  return TRUE;
}

/* Messages of the handshake go out before the connection is open. */
static void
conn_send_ctl (conn *c, const prima_ctl_msg *m)
{
  GError *err = NULL;
  char *json = prima_ctl_to_json (m, NULL, &err);
  if (json == NULL) {
    g_critical ("%s: cannot build %s: %s", c->link->name, prima_ctl_type_name (m->type), err->message);
    g_error_free (err);
    return;
  }
  if (soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (c->ws, json);
  g_free (json);
}

static void
account_sent (prima_link *link, gboolean text, gsize len)
{
  if (text) {
    link->stats.controls_sent++;
  } else {
    link->stats.frames_sent++;
    link->stats.bytes_sent += len;
  }
}

static void
drain_slots (prima_link *link)
{
  g_mutex_lock (&link->lock);
  while (link->count > 0 && link->slots[link->head].ready) {
    send_slot *s = &link->slots[link->head];
    gboolean sent;
    g_mutex_unlock (&link->lock);
    sent = io_send (link, s->text, s->buf->data, s->buf->len);
    g_mutex_lock (&link->lock);
    if (sent)
      account_sent (link, s->text, s->buf->len);
    link->head = (link->head + 1) % link->n_slots;
    link->count--;
    g_cond_broadcast (&link->cond);
  }
  g_mutex_unlock (&link->lock);
}

static gboolean
on_wake (gpointer data)
{
  prima_link *link = data;
  /* disarm before draining: a producer that commits after this re-arms */
  g_source_set_ready_time (link->wake, -1);
  drain_slots (link);
  return G_SOURCE_CONTINUE;
}

/* ---- connection lifecycle ---- */

static void
set_ready (prima_link *link, gboolean ready)
{
  g_mutex_lock (&link->lock);
  link->ready = ready;
  g_cond_broadcast (&link->cond);
  g_mutex_unlock (&link->lock);
}

static void
set_failed (prima_link *link, const char *message)
{
  g_mutex_lock (&link->lock);
  link->failed = TRUE;
  g_free (link->fail_message);
  link->fail_message = g_strdup (message);
  g_cond_broadcast (&link->cond);
  g_mutex_unlock (&link->lock);
}

static void
conn_free (conn *c)
{
  g_signal_handlers_disconnect_by_data (c->ws, c);
  destroy_source (&c->auth_timer);
  prima_auth_free (c->auth);
  g_object_unref (c->ws);
  g_free (c->addr);
  g_free (c);
}

static void
on_ws_error (SoupWebsocketConnection *ws, GError *error, gpointer data)
{
  conn *c = data;
  g_debug ("%s: websocket error from %s: %s", c->link->name, c->addr, error->message);
}

static void
schedule_reconnect (prima_link *link);

/* The active connection is gone: tell the owner once, then close it. */
static void
conn_lost (conn *c, prima_link_lost_reason reason, const char *message, gushort code, const char *close_reason)
{
  prima_link *link = c->link;
  prima_link_event *ev;

  g_assert (link->active == c);
  link->active = NULL;
  g_source_set_ready_time (link->watchdog, -1);
  set_ready (link, FALSE);
  /* a log line only: the owner says it (the LOST event), as an error or,
   * in a ring that re-forms itself, as the one line of its recovery */
  g_message ("%s: %s", link->name, message);
  ev = event_new (PRIMA_LINK_EVENT_LOST, c->peer_rank);
  ev->reason = reason;
  ev->message = g_strdup (message);
  emit (link, ev);
  conn_close (c, code, close_reason);
  if (link->role == PRIMA_LINK_CLIENT) {
    if (link->reconnect && reason != PRIMA_LINK_LOST_AUTH && !link->stop_connecting) {
      /* a fresh connect_timeout_ms for each reconnection */
      link->connect_deadline = g_get_monotonic_time () + (gint64) link->connect_timeout_ms * 1000;
      schedule_reconnect (link);
    }
    else
      set_failed (link, message);
  }
}

/* Starts an orderly close; the conn is freed when libsoup reports "closed". */
static void
conn_close (conn *c, gushort code, const char *reason)
{
  prima_link *link = c->link;

  link->pending = g_list_remove (link->pending, c);
  if (link->active == c)
    link->active = NULL;
  destroy_source (&c->auth_timer);
  if (c->state == CONN_CLOSING)
    return;
  c->state = CONN_CLOSING;
  if (soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_CLOSED) {
    conn_free (c);
    return;
  }
  link->closing = g_list_prepend (link->closing, c);
  if (soup_websocket_connection_get_state (c->ws) == SOUP_WEBSOCKET_STATE_OPEN) {
    /* a close frame carries at most 123 bytes of reason, and the peer
     * drops a connection whose reason is not UTF-8 */
    char *short_reason = prima_link_utf8_truncate (reason ? reason : "", PRIMA_LINK_CLOSE_REASON_MAX);
    soup_websocket_connection_close (c->ws, code, short_reason);
    g_free (short_reason);
  }
}

/* A peer of another ring size: counted (before the log line) with both
 * numbers, so the owner can say which device was started wrong. */
static char *
world_mismatch (prima_link *link, gint32 peer_rank, guint32 peer_world)
{
  g_mutex_lock (&link->lock);
  link->stats.refused_world++;
  link->stats.world_peer_rank = peer_rank;
  link->stats.world_peer_world = peer_world;
  g_mutex_unlock (&link->lock);
  return g_strdup_printf ("rank %d was started with --world %u, this device has --world %u", peer_rank, peer_world,
      link->world);
}

/* Server: a peer that failed the handshake gets a close frame and one line. */
static void
conn_refuse (conn *c, gushort code, const char *why)
{
  prima_link *link = c->link;
  char *who = c->peer_rank >= 0 ? g_strdup_printf ("peer %s (claims rank %d)", c->addr, c->peer_rank)
                                : g_strdup_printf ("peer %s", c->addr);
  /* count before the log line: a reader that sees the line sees the count */
  g_mutex_lock (&link->lock);
  link->stats.refused++;
  g_mutex_unlock (&link->lock);
  g_warning (_("%s: refused %s: %s"), link->name, who, why);
  g_free (who);
  conn_close (c, code, why);
}

/* An authenticated peer sent garbage: tell it why, then drop it. */
static void
protocol_error (conn *c, const char *what, const GError *err)
{
  prima_ctl_msg m;
  char *desc = peer_desc (c);
  char *message = g_strdup_printf ("%s sent %s (%s); disconnected", desc, what, err->message);

  prima_ctl_msg_init (&m, PRIMA_CTL_ERROR_MSG);
  m.text = g_strndup (err->message, 1000);
  conn_send_ctl (c, &m);
  prima_ctl_msg_clear (&m);
  conn_lost (c, PRIMA_LINK_LOST_PROTOCOL, message, PRIMA_LINK_CLOSE_PROTOCOL, "protocol error");
  g_free (message);
  g_free (desc);
}

static gint64
max_frame_bytes (prima_link *link)
{
  guint64 p;
  g_mutex_lock (&link->lock);
  p = link->limits.max_payload ? link->limits.max_payload : PRIMA_FRAME_DEFAULT_MAX_PAYLOAD;
  g_mutex_unlock (&link->lock);
  return (gint64) MAX (p + PRIMA_FRAME_HEADER_SIZE, PRIMA_CTL_MAX_TEXT);
}

static void
promote (conn *c)
{
  prima_link *link = c->link;
  prima_link_event *ev;
  char *desc;

  destroy_source (&c->auth_timer);
  link->pending = g_list_remove (link->pending, c);
  if (c->sock)
    accepted_forget (link, c->sock);
  if (link->active != NULL && link->active != c) {
    conn *old = link->active;
    char *od = peer_desc (old);
    char *msg = g_strdup_printf ("%s replaced by a new authenticated connection from %s", od, c->addr);
    conn_lost (old, PRIMA_LINK_LOST_REPLACED, msg, PRIMA_LINK_CLOSE_REPLACED, "replaced by a newer connection");
    g_free (msg);
    g_free (od);
  }
  link->active = c;
  c->state = CONN_OPEN;
  c->last_rx = g_get_monotonic_time ();
  /* +1: libsoup refuses a payload equal to the limit */
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, (guint64) max_frame_bytes (link) + 1);
  g_source_set_ready_time (link->watchdog, c->last_rx + (gint64) link->hb_timeout_ms * 1000);
  g_mutex_lock (&link->lock);
  link->stats.connects++;
  link->stats.nodelay = c->nodelay;
  g_mutex_unlock (&link->lock);
  link->cur_retry_ms = link->retry_ms;
  link->logged_wait = FALSE;
  desc = peer_desc (c);
  ev = event_new (PRIMA_LINK_EVENT_READY, c->peer_rank);
  ev->message = g_strdup_printf ("%s connected", desc);
  g_message ("%s: %s%s", link->name, ev->message, c->nodelay ? "" : " (TCP_NODELAY could not be set)");
  g_free (desc);
  set_ready (link, TRUE);
  emit (link, ev);
}

/* ---- the handshake ---- */

static gboolean
remember_nonce (prima_link *link, const char *nonce)
{
  char *lower = g_ascii_strdown (nonce, -1);
  if (g_hash_table_contains (link->seen_nonces, lower)) {
    g_free (lower);
    return FALSE;
  }
  g_hash_table_add (link->seen_nonces, lower);
  g_queue_push_tail (&link->seen_order, lower);
  if (g_queue_get_length (&link->seen_order) > REPLAY_CACHE)
    g_hash_table_remove (link->seen_nonces, g_queue_pop_head (&link->seen_order));
  return TRUE;
}

static void
server_handshake (conn *c, const prima_ctl_msg *m)
{
  prima_link *link = c->link;
  GError *err = NULL;
  prima_ctl_msg out;

  if (c->step == 0) {
    char *why;
    if (m->type != PRIMA_CTL_HELLO) {
      why = g_strdup_printf ("expected hello, got %s", prima_ctl_type_name (m->type));
      conn_refuse (c, PRIMA_LINK_CLOSE_AUTH, why);
      g_free (why);
      return;
    }
    c->peer_rank = m->rank;
    /* Another ring size explains an unexpected rank too. The refusal waits
     * for the response: the challenge tells the peer our size first, so
     * both ends can say what differs. */
    if (link->world > 0 && m->world > 0 && m->world != link->world)
      c->peer_world = m->world;
    else if (link->want_peer_rank >= 0 && m->rank != link->want_peer_rank) {
      why = g_strdup_printf ("this hop expects rank %d", link->want_peer_rank);
      conn_refuse (c, PRIMA_LINK_CLOSE_AUTH, why);
      g_free (why);
      return;
    }
    if (!remember_nonce (link, m->nonce)) {
      conn_refuse (c, PRIMA_LINK_CLOSE_AUTH, "replayed handshake (nonce seen before)");
      return;
    }
    c->auth = prima_auth_new (link->key, PRIMA_AUTH_ROLE_SERVER, link->rank, &err);
    prima_ctl_msg_init (&out, PRIMA_CTL_CHALLENGE);
    out.rank = (gint32) link->rank;
    out.world = link->world;
    if (c->auth == NULL || !prima_auth_set_peer (c->auth, (guint32) m->rank, m->nonce, &err)
        || !prima_auth_prove (c->auth, out.proof, &err)) {
      conn_refuse (c, PRIMA_LINK_CLOSE_AUTH, err->message);
      g_error_free (err);
      return;
    }
    g_strlcpy (out.nonce, prima_auth_nonce (c->auth), sizeof out.nonce);
    conn_send_ctl (c, &out);
    c->step = 1;
    return;
  }
  if (m->type != PRIMA_CTL_RESPONSE) {
    char *why = g_strdup_printf ("expected response, got %s", prima_ctl_type_name (m->type));
    conn_refuse (c, PRIMA_LINK_CLOSE_AUTH, why);
    g_free (why);
    return;
  }
  if (!prima_auth_verify (c->auth, m->proof, &err)) {
    /* The expected device, but it cannot prove the key: a key mismatch, as
     * opposed to a stray or misrouted peer. */
    g_mutex_lock (&link->lock);
    link->stats.refused_key++;
    g_mutex_unlock (&link->lock);
    conn_refuse (c, PRIMA_LINK_CLOSE_AUTH, err->message);
    g_error_free (err);
    return;
  }
  /* a device of the cluster, but of a ring of another size */
  if (c->peer_world > 0) {
    char *why = world_mismatch (link, c->peer_rank, c->peer_world);
    conn_refuse (c, PRIMA_LINK_CLOSE_AUTH, why);
    g_free (why);
    return;
  }
  prima_ctl_msg_init (&out, PRIMA_CTL_WELCOME);
  out.rank = (gint32) link->rank;
  conn_send_ctl (c, &out);
  promote (c);
}

/* Client: the server failed to prove the key, or refused us. No retry: a
 * wrong key does not fix itself. */
static void
client_auth_failed_close (conn *c, const char *why, const char *close_reason)
{
  prima_link *link = c->link;
  char *desc = peer_desc (c);
  char *message = g_strdup_printf ("%s: %s", desc, why);
  prima_link_event *ev;

  /* state first, then the log line (a reader that sees it sees the count) */
  g_mutex_lock (&link->lock);
  link->stats.refused++;
  g_mutex_unlock (&link->lock);
  link->active = NULL;
  ev = event_new (PRIMA_LINK_EVENT_LOST, c->peer_rank);
  ev->reason = PRIMA_LINK_LOST_AUTH;
  ev->message = g_strdup (message);
  set_failed (link, message);
  g_warning ("%s: %s", link->name, message);
  emit (link, ev);
  conn_close (c, PRIMA_LINK_CLOSE_AUTH, close_reason);
  g_free (message);
  g_free (desc);
}

static void
client_auth_failed (conn *c, const char *why)
{
  client_auth_failed_close (c, why, "authentication failed");
}

static void
client_handshake (conn *c, const prima_ctl_msg *m)
{
  prima_link *link = c->link;
  GError *err = NULL;
  prima_ctl_msg out;
  gboolean world_differs;

  if (c->step == 0) {
    if (m->type != PRIMA_CTL_CHALLENGE) {
      char *why = g_strdup_printf ("sent %s instead of a challenge", prima_ctl_type_name (m->type));
      client_auth_failed (c, why);
      g_free (why);
      return;
    }
    c->peer_rank = m->rank;
    /* another ring size explains another rank too (checked below) */
    world_differs = link->world > 0 && m->world > 0 && m->world != link->world;
    if (!world_differs && link->want_peer_rank >= 0 && m->rank != link->want_peer_rank) {
      char *why = g_strdup_printf ("is not the expected rank %d", link->want_peer_rank);
      client_auth_failed (c, why);
      g_free (why);
      return;
    }
    /* answer first, then check the server's proof: a server with another
     * key then refuses us too and logs it, so both ends say what is wrong */
    prima_ctl_msg_init (&out, PRIMA_CTL_RESPONSE);
    if (!prima_auth_set_peer (c->auth, (guint32) m->rank, m->nonce, &err)
        || !prima_auth_prove (c->auth, out.proof, &err)) {
      client_auth_failed (c, err->message);
      g_error_free (err);
      return;
    }
    conn_send_ctl (c, &out);
    if (!prima_auth_verify (c->auth, m->proof, &err)) {
      char *why = g_strdup_printf ("failed to prove the cluster key (%s); closing", err->message);
      client_auth_failed (c, why);
      g_free (why);
      g_error_free (err);
      return;
    }
    /* Only a server that proved the key can make us report its ring size
     * (a stray peer could claim any); our response went out first, so the
     * server can check our proof and say the same. */
    if (world_differs) {
      char *why = world_mismatch (link, m->rank, m->world);
      char *reason = g_strdup_printf ("rank %u has --world %u, rank %d --world %u", link->rank, link->world, m->rank,
          m->world);
      client_auth_failed_close (c, why, reason);
      g_free (reason);
      g_free (why);
      return;
    }
    c->step = 1;
    return;
  }
  if (m->type != PRIMA_CTL_WELCOME) {
    char *why = g_strdup_printf ("sent %s instead of welcome", prima_ctl_type_name (m->type));
    client_auth_failed (c, why);
    g_free (why);
    return;
  }
  promote (c);
}

static void
handshake_message (conn *c, gint type, const guint8 *data, gsize len)
{
  prima_link *link = c->link;
  prima_ctl_msg m;
  GError *err = NULL;

  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    if (link->role == PRIMA_LINK_SERVER)
      conn_refuse (c, PRIMA_LINK_CLOSE_AUTH, "binary message before authentication");
    else
      client_auth_failed (c, "sent a binary message before authentication");
    return;
  }
  if (!prima_ctl_parse ((const char *) data, len, &m, &err)) {
    char *why = g_strdup_printf ("bad handshake message: %s", err->message);
    if (link->role == PRIMA_LINK_SERVER)
      conn_refuse (c, PRIMA_LINK_CLOSE_AUTH, why);
    else
      client_auth_failed (c, why);
    g_free (why);
    g_error_free (err);
    prima_ctl_msg_clear (&m);
    return;
  }
  if (link->role == PRIMA_LINK_SERVER)
    server_handshake (c, &m);
  else
    client_handshake (c, &m);
  prima_ctl_msg_clear (&m);
}

/* ---- traffic on an open connection ---- */

static void
open_frame (conn *c, GBytes *message, const guint8 *data, gsize len)
{
  prima_link *link = c->link;
  prima_frame_limits lim;
  prima_frame_header h;
  const guint8 *payload;
  GError *err = NULL;
  prima_link_event *ev;

  g_mutex_lock (&link->lock);
  lim = link->limits;
  g_mutex_unlock (&link->lock);
  if (!prima_frame_decode (data, len, &lim, &h, &payload, &err)) {
    protocol_error (c, "a malformed frame", err);
    g_error_free (err);
    return;
  }
  g_mutex_lock (&link->lock);
  link->stats.frames_received++;
  link->stats.bytes_received += len;
  g_mutex_unlock (&link->lock);
  ev = event_new (PRIMA_LINK_EVENT_FRAME, c->peer_rank);
  ev->frame = h;
  ev->payload = payload;
  ev->bytes = g_bytes_ref (message);
  emit (link, ev);
}

static void
open_control (conn *c, const guint8 *data, gsize len)
{
  prima_link *link = c->link;
  prima_link_event *ev;
  GError *err = NULL;

  ev = event_new (PRIMA_LINK_EVENT_CONTROL, c->peer_rank);
  if (!prima_ctl_parse ((const char *) data, len, &ev->control, &err)) {
    protocol_error (c, "a malformed control message", err);
    g_error_free (err);
    prima_link_event_free (ev);
    return;
  }
  switch (ev->control.type) {
    case PRIMA_CTL_HEARTBEAT:
      /* only its arrival matters (last_rx is already updated) */
      g_mutex_lock (&link->lock);
      link->stats.heartbeats_received++;
      g_mutex_unlock (&link->lock);
      prima_link_event_free (ev);
      return;
    case PRIMA_CTL_HELLO:
    case PRIMA_CTL_CHALLENGE:
    case PRIMA_CTL_RESPONSE:
    case PRIMA_CTL_WELCOME:
      g_set_error (&err, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_TYPE, _("%s after authentication"),
          prima_ctl_type_name (ev->control.type));
      protocol_error (c, "a handshake message", err);
      g_error_free (err);
      prima_link_event_free (ev);
      return;
    default:
      break;
  }
  g_mutex_lock (&link->lock);
  link->stats.controls_received++;
  g_mutex_unlock (&link->lock);
  emit (link, ev);
}

static void
on_ws_message (SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data)
{
  conn *c = data;
  gsize len = 0;
  const guint8 *bytes = message ? g_bytes_get_data (message, &len) : NULL;
  static const guint8 empty[1] = { 0 };

  if (bytes == NULL)
    bytes = empty;
  switch (c->state) {
    case CONN_HANDSHAKE:
      handshake_message (c, type, bytes, len);
      break;
    case CONN_OPEN:
      c->last_rx = g_get_monotonic_time ();
      if (type == SOUP_WEBSOCKET_DATA_BINARY)
        open_frame (c, message, bytes, len);
      else
        open_control (c, bytes, len);
      break;
    case CONN_CLOSING:
      break;
  }
}

static void
on_ws_closed (SoupWebsocketConnection *ws, gpointer data)
{
  conn *c = data;
  prima_link *link = c->link;
  gushort code = soup_websocket_connection_get_close_code (ws);
  const char *cdata = soup_websocket_connection_get_close_data (ws);
  char *desc, *message;

  switch (c->state) {
    case CONN_CLOSING:
      link->closing = g_list_remove (link->closing, c);
      conn_free (c);
      return;
    case CONN_HANDSHAKE:
      if (link->role == PRIMA_LINK_SERVER) {
        if (code == PRIMA_LINK_CLOSE_AUTH) {
          /* the expected device found our proof wrong: the keys differ
           * (counted before the log line, which tests wait for); or it
           * found our world size wrong */
          if (c->peer_world > 0) {
            /* another ring size, claimed but not proven (a proven one is
             * refused at the response): nothing to count */
          } else if (c->step > 0) {
            g_mutex_lock (&link->lock);
            link->stats.refused_key++;
            g_mutex_unlock (&link->lock);
          }
          g_warning (_("%s: peer %s gave up the handshake (%s)"), link->name, c->addr,
              cdata && *cdata ? cdata : "authentication failed");
        }
        else
          g_debug ("%s: %s left during the handshake", link->name, c->addr);
        link->pending = g_list_remove (link->pending, c);
        conn_free (c);
        return;
      }
      link->active = NULL;
      if (code == PRIMA_LINK_CLOSE_AUTH) {
        /* the server refused us: say so once and stop */
        char *why = g_strdup_printf ("refused us (%s); is the cluster key the same on both devices?",
            cdata && *cdata ? cdata : "authentication failed");
        c->state = CONN_CLOSING;
        client_auth_failed (c, why);
        g_free (why);
        conn_free (c);
        return;
      }
      conn_free (c);
      schedule_reconnect (link);
      return;
    case CONN_OPEN:
      desc = peer_desc (c);
      if (code == SOUP_WEBSOCKET_CLOSE_NORMAL || code == SOUP_WEBSOCKET_CLOSE_GOING_AWAY)
        message = g_strdup_printf ("%s closed the connection%s%s%s", desc,
            cdata && *cdata ? " (" : "", cdata && *cdata ? cdata : "", cdata && *cdata ? ")" : "");
      else if (code == PRIMA_LINK_CLOSE_FAILED)
        message = g_strdup_printf ("%s failed: %s", desc, cdata && *cdata ? cdata : "no reason given");
      else if (code != 0)
        message = g_strdup_printf ("%s disconnected (close code %u%s%s)", desc, code,
            cdata && *cdata ? ": " : "", cdata && *cdata ? cdata : "");
      else
        message = g_strdup_printf ("%s disconnected", desc);
      /* the websocket is closed already, so this frees c */
      conn_lost (c, code == SOUP_WEBSOCKET_CLOSE_NORMAL || code == SOUP_WEBSOCKET_CLOSE_GOING_AWAY
          ? PRIMA_LINK_LOST_CLOSED : code == PRIMA_LINK_CLOSE_FAILED ? PRIMA_LINK_LOST_FAILED
          : PRIMA_LINK_LOST_DISCONNECTED, message, 0, NULL);
      g_free (message);
      g_free (desc);
      return;
  }
}

/* Client: the server did not finish the handshake (the server's own
 * deadline runs from accept, see on_accept_deadline). */
static gboolean
on_auth_timeout (gpointer data)
{
  conn *c = data;
  prima_link *link = c->link;
  g_source_unref (c->auth_timer);
  c->auth_timer = NULL;
  g_warning (_("%s: %s did not complete the handshake within %g s; reconnecting"), link->name, c->addr,
      link->auth_timeout_ms / 1000.0);
  conn_close (c, PRIMA_LINK_CLOSE_TIMEOUT, "handshake timeout");
  schedule_reconnect (link);
  return G_SOURCE_REMOVE;
}

static conn *
conn_new (prima_link *link, SoupWebsocketConnection *ws, char *addr)
{
  conn *c = g_new0 (conn, 1);
  c->link = link;
  c->ws = g_object_ref (ws);
  c->addr = addr;
  c->peer_rank = -1;
  c->state = CONN_HANDSHAKE;
  c->nodelay = set_nodelay (socket_of_stream (soup_websocket_connection_get_io_stream (ws)));
  soup_websocket_connection_set_max_incoming_payload_size (ws, PRE_AUTH_MAX_PAYLOAD);
  /* our own heartbeats replace libsoup's pings */
  soup_websocket_connection_set_keepalive_interval (ws, 0);
  g_signal_connect (ws, "message", G_CALLBACK (on_ws_message), c);
  g_signal_connect (ws, "closed", G_CALLBACK (on_ws_closed), c);
  g_signal_connect (ws, "error", G_CALLBACK (on_ws_error), c);
  if (link->role == PRIMA_LINK_CLIENT) {
    c->auth_timer = g_timeout_source_new (link->auth_timeout_ms);
    g_source_set_callback (c->auth_timer, on_auth_timeout, c, NULL);
    g_source_attach (c->auth_timer, link->ctx);
  }
  return c;
}

/* ---- heartbeats and the watchdog ---- */

static gboolean
on_heartbeat (gpointer data)
{
  prima_link *link = data;
  conn *c = link->active;
  prima_ctl_msg m;

  if (c == NULL || c->state != CONN_OPEN)
    return G_SOURCE_CONTINUE;
  prima_ctl_msg_init (&m, PRIMA_CTL_HEARTBEAT);
  m.rank = (gint32) link->rank;
  m.n = ++link->hb_n;
  conn_send_ctl (c, &m);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_watchdog (gpointer data)
{
  prima_link *link = data;
  conn *c = link->active;
  gint64 now = g_get_monotonic_time ();
  gint64 timeout = (gint64) link->hb_timeout_ms * 1000;

  if (c == NULL || c->state != CONN_OPEN) {
    g_source_set_ready_time (link->watchdog, -1);
    return G_SOURCE_CONTINUE;
  }
  if (now - c->last_rx >= timeout) {
    char *desc = peer_desc (c);
    char *message = g_strdup_printf ("%s stopped answering (no heartbeat for %.1f s)", desc,
        (now - c->last_rx) / 1e6);
    conn_lost (c, PRIMA_LINK_LOST_TIMEOUT, message, PRIMA_LINK_CLOSE_TIMEOUT, "no heartbeat");
    g_free (message);
    g_free (desc);
  } else {
    g_source_set_ready_time (link->watchdog, c->last_rx + timeout);
  }
  return G_SOURCE_CONTINUE;
}

/* ---- server: connections from accept to authentication ---- */

/* libsoup serves every connection until its peer goes away: one that never
 * sends a request (or never finishes a TLS or WebSocket handshake) would
 * hold its descriptor forever, and enough of them exhaust the process's
 * descriptors before the real peer comes. So each accepted socket is
 * tracked from SoupServer::request-started, which libsoup 3 emits as soon
 * as it accepts (before TLS and before reading anything): it must
 * authenticate within auth_timeout_ms, and only a few may be pending at once
 * per IP address and in all. The socket is shut down to end one: libsoup
 * then sees end-of-stream wherever it is and frees the connection. */

static void
accepted_free (accepted *a)
{
  destroy_source (&a->deadline);
  g_weak_ref_clear (&a->sock);
  g_free (a->addr);
  g_free (a->ip);
  g_free (a);
}

/* The record's socket, with a reference; NULL when libsoup is done with it. */
static GSocket *
accepted_socket (accepted *a)
{
  GSocket *s = g_weak_ref_get (&a->sock);
  if (s != NULL && g_socket_is_closed (s))
    g_clear_object (&s);
  return s;
}

/* Drops the records of sockets that are gone. */
static void
accepted_prune (prima_link *link)
{
  GList *l = link->accepted;
  while (l) {
    GList *next = l->next;
    GSocket *s = accepted_socket (l->data);
    if (s == NULL) {
      accepted_free (l->data);
      link->accepted = g_list_delete_link (link->accepted, l);
    }
    g_clear_object (&s);
    l = next;
  }
}

static GList *
accepted_find (prima_link *link, GSocket *sock)
{
  for (GList *l = link->accepted; l; l = l->next) {
    GSocket *s = g_weak_ref_get (&((accepted *) l->data)->sock);
    gboolean same = s == sock;
    g_clear_object (&s);
    if (same)
      return l;
  }
  return NULL;
}

/* It authenticated: it no longer counts as pending. */
static void
accepted_forget (prima_link *link, GSocket *sock)
{
  GList *l = accepted_find (link, sock);
  if (l) {
    accepted_free (l->data);
    link->accepted = g_list_delete_link (link->accepted, l);
  }
}

static void
refuse_socket (prima_link *link, GSocket *sock, const char *addr, const char *why, gboolean rate_limited)
{
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&link->lock);
  link->stats.refused++;
  g_mutex_unlock (&link->lock);
  if (!rate_limited || link->last_refusal_log == 0 || now - link->last_refusal_log >= REFUSAL_LOG_INTERVAL_US) {
    if (link->refusals_unlogged > 0)
      g_warning (_("%s: refused peer %s: %s (and %u more connections at accept since the last such line)"),
          link->name, addr, why, link->refusals_unlogged);
    else
      g_warning (_("%s: refused peer %s: %s"), link->name, addr, why);
    link->refusals_unlogged = 0;
    if (rate_limited)
      link->last_refusal_log = now;
  } else {
    link->refusals_unlogged++;
  }
  g_socket_shutdown (sock, TRUE, TRUE, NULL);
}

static gboolean
on_accept_deadline (gpointer data)
{
  accepted *a = data;
  prima_link *link = a->link;
  GSocket *s = accepted_socket (a);
  GList *l;

  g_source_unref (a->deadline);
  a->deadline = NULL;
  if (s == NULL)
    return G_SOURCE_REMOVE;
  /* a WebSocket in the handshake gets its close frame; anything else
   * (no request, an unfinished TLS handshake, a plain HTTP request) is cut */
  for (l = link->pending; l; l = l->next) {
    conn *c = l->data;
    if (c->sock == s) {
      char *why = g_strdup_printf ("no authentication within %g s", link->auth_timeout_ms / 1000.0);
      conn_refuse (c, PRIMA_LINK_CLOSE_TIMEOUT, why);
      g_free (why);
      break;
    }
  }
  if (l == NULL) {
    char *why = g_strdup_printf ("no authentication within %g s (no WebSocket handshake)",
        link->auth_timeout_ms / 1000.0);
    refuse_socket (link, s, a->addr, why, FALSE);
    g_free (why);
  }
  /* the record counts until the socket is gone */
  g_object_unref (s);
  return G_SOURCE_REMOVE;
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  prima_link *link = data;
  GSocket *sock = soup_server_message_get_socket (msg);
  GSocketAddress *ra;
  GInetAddress *ia;
  accepted *a;
  guint from_ip = 0, total = 0;
  char *addr, *ip;

  /* NULL: a stream given to soup_server_accept_iostream (not used here);
   * found: the next request of a kept-alive connection, tracked already */
  if (sock == NULL || accepted_find (link, sock) != NULL)
    return;
  ra = g_socket_get_remote_address (sock, NULL);
  if (ra == NULL || !G_IS_INET_SOCKET_ADDRESS (ra)) {
    g_clear_object (&ra);
    g_socket_shutdown (sock, TRUE, TRUE, NULL);
    return;
  }
  addr = format_address (ra);
  ia = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (ra));
  ip = g_inet_address_to_string (ia);
  g_object_unref (ra);

  accepted_prune (link);
  for (GList *l = link->accepted; l; l = l->next) {
    total++;
    if (strcmp (((accepted *) l->data)->ip, ip) == 0)
      from_ip++;
  }
  if (link->stop_connecting || from_ip >= link->max_pending_per_address || total >= PRIMA_LINK_MAX_PENDING) {
    char *why = link->stop_connecting ? g_strdup ("shutting down")
        : from_ip >= link->max_pending_per_address
        ? g_strdup_printf ("too many unauthenticated connections from %s (%u)", ip, from_ip)
        : g_strdup_printf ("too many unauthenticated connections (%u)", total);
    refuse_socket (link, sock, addr, why, TRUE);
    g_free (why);
    g_free (addr);
    g_free (ip);
    return;
  }
  a = g_new0 (accepted, 1);
  a->link = link;
  g_weak_ref_init (&a->sock, sock);
  a->addr = addr;
  a->ip = ip;
  a->deadline = g_timeout_source_new (link->auth_timeout_ms);
  g_source_set_callback (a->deadline, on_accept_deadline, a, NULL);
  g_source_attach (a->deadline, link->ctx);
  link->accepted = g_list_prepend (link->accepted, a);
}

/* ---- server ---- */

static void
on_ws_accept (SoupServer *server, SoupServerMessage *msg, const char *path, SoupWebsocketConnection *ws,
    gpointer data)
{
  prima_link *link = data;
  char *addr = format_address (soup_server_message_get_remote_address (msg));
  conn *c;

  if (link->stop_connecting) {
    g_free (addr);
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "shutting down");
    return;
  }
  c = conn_new (link, ws, addr);
  c->sock = soup_server_message_get_socket (msg);
  if (!c->nodelay)
    c->nodelay = set_nodelay (c->sock);
  /* the caps and the deadline were applied at accept (on_request_started) */
  link->pending = g_list_prepend (link->pending, c);
}

/* A data server's answer to the setup round's path: its device serves a
 * head (one head at a time per ring). The head is named when it is the
 * peer (rank 0 of the data ring). */
static void
on_setup_request (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  prima_link *link = data;
  char *why;

  guint status = SOUP_STATUS_CONFLICT;

  if (link->active && link->active->state == CONN_OPEN && link->active->peer_rank == 0)
    why = g_strdup_printf ("serving another head (%s)", link->active->addr);
  else if (link->active && link->active->state == CONN_OPEN)
    why = g_strdup ("serving another head");
  else {
    /* No device before us: this data ring has not formed (its head may
     * have died before it connected) and the device goes back to its setup
     * round shortly; the client retries as for a device not up yet. */
    why = g_strdup ("not serving a head yet");
    status = SOUP_STATUS_SERVICE_UNAVAILABLE;
  }
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_COPY, why, strlen (why));
  soup_server_message_set_status (msg, status, why);
  g_free (why);
}

static gboolean
server_start (prima_link *link, GError **error)
{
  char *protocols[] = { (char *) PRIMA_LINK_SUBPROTOCOL, NULL };
  SoupServerListenOptions opts = link->tls_cert ? SOUP_SERVER_LISTEN_HTTPS : 0;
  GSList *listeners;
  GError *lerr = NULL;
  gboolean ok;

  link->server = soup_server_new ("server-header", "gst-prima", NULL);
  if (link->tls_cert)
    soup_server_set_tls_certificate (link->server, link->tls_cert);
  /* no permessage-deflate: activations do not compress, and it costs latency */
  soup_server_remove_websocket_extension (link->server, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  g_signal_connect (link->server, "request-started", G_CALLBACK (on_request_started), link);
  soup_server_add_websocket_handler (link->server, link->path ? link->path : PRIMA_LINK_PATH, NULL, protocols,
      on_ws_accept, link, NULL);
  if (g_strcmp0 (link->path ? link->path : PRIMA_LINK_PATH, PRIMA_LINK_PATH) == 0)
    soup_server_add_handler (link->server, PRIMA_LINK_SETUP_PATH, on_setup_request, link, NULL);
  if (link->bind_address) {
    GInetAddress *ia = g_inet_address_new_from_string (link->bind_address);
    GSocketAddress *sa;
    if (ia == NULL) {
      g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_CONFIG,
          _("bind address \"%s\" is not an IP address"), link->bind_address);
      return FALSE;
    }
    sa = g_inet_socket_address_new (ia, link->port);
    ok = soup_server_listen (link->server, sa, opts, &lerr);
    g_object_unref (sa);
    g_object_unref (ia);
  } else {
    /* The port may still be held for a moment by this process's own server
     * of the phase before (the setup round's, when a ring is re-formed after
     * a loss): try again for a short while before saying it is taken. */
    gint64 deadline = g_get_monotonic_time () + LISTEN_RETRY_US;
    while (!(ok = soup_server_listen_all (link->server, link->port, opts, &lerr))
        && link->port != 0 && g_error_matches (lerr, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)
        && g_get_monotonic_time () < deadline) {
      g_clear_error (&lerr);
      soup_server_disconnect (link->server);
      g_usleep (50 * 1000);
    }
  }
  if (!ok) {
    g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_LISTEN, _("cannot listen on port %u: %s"), link->port,
        lerr->message);
    g_error_free (lerr);
    return FALSE;
  }
  listeners = soup_server_get_listeners (link->server);
  if (listeners) {
    GSocketAddress *la = g_socket_get_local_address (listeners->data, NULL);
    if (la) {
      link->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (la));
      g_object_unref (la);
    }
  }
  g_slist_free (listeners);
  g_free (link->name);
  link->name = g_strdup_printf ("ring server %s:%u rank %u", link->bind_address ? link->bind_address : "*",
      link->port, link->rank);
  return TRUE;
}

/* ---- client ---- */

static gboolean
on_retry (gpointer data)
{
  prima_link *link = data;
  g_source_unref (link->retry_timer);
  link->retry_timer = NULL;
  client_connect (link);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (prima_link *link)
{
  if (link->stop_connecting || link->retry_timer)
    return;
  if (link->connect_timeout_ms && g_get_monotonic_time () >= link->connect_deadline) {
    char *message = g_strdup_printf ("could not connect to %s within %.1f s", link->peer_addr,
        link->connect_timeout_ms / 1000.0);
    prima_link_event *ev = event_new (PRIMA_LINK_EVENT_LOST, -1);
    ev->reason = PRIMA_LINK_LOST_CONNECT;
    ev->message = g_strdup (message);
    set_failed (link, message);
    g_warning ("%s: %s", link->name, message);
    emit (link, ev);
    g_free (message);
    return;
  }
  link->retry_timer = g_timeout_source_new (link->cur_retry_ms);
  g_source_set_callback (link->retry_timer, on_retry, link, NULL);
  g_source_attach (link->retry_timer, link->ctx);
  link->cur_retry_ms = MIN (link->cur_retry_ms * 2, MAX_RETRY_MS);
}

static gboolean
on_accept_certificate (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors, gpointer data)
{
  prima_link *link = data;
  return link->tls_peer_cert != NULL && g_tls_certificate_is_same (cert, link->tls_peer_cert);
}

static void
on_client_connected (GObject *source, GAsyncResult *res, gpointer data)
{
  prima_link *link = data;
  GError *err = NULL;
  SoupWebsocketConnection *ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), res, &err);
  SoupMessage *msg = link->connect_msg;
  prima_ctl_msg hello;
  conn *c;

  link->connect_msg = NULL;
  if (ws == NULL) {
    gboolean cancelled = g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    if (!cancelled && msg && soup_message_get_status (msg) == SOUP_STATUS_CONFLICT) {
      /* a data server serving a head: the caller decides how long to wait */
      const char *why = soup_message_get_reason_phrase (msg);
      g_mutex_lock (&link->lock);
      link->stats.refused_head++;
      g_strlcpy (link->stats.head_reason, why && *why ? why : "serving another head",
          sizeof link->stats.head_reason);
      g_mutex_unlock (&link->lock);
      if (!link->logged_wait)
        g_message ("%s: %s is %s; retrying", link->name, link->peer_addr, why && *why ? why : "serving another head");
      link->logged_wait = TRUE;
    }
    if (!cancelled && !link->logged_wait) {
      g_message ("%s: waiting for %s (%s); retrying", link->name, link->peer_addr, err->message);
      link->logged_wait = TRUE;
    }
    g_error_free (err);
    g_clear_object (&msg);
    if (!cancelled)
      schedule_reconnect (link);
    return;
  }
  /* a pinned certificate must be the one we got, even one the system trusts */
  if (link->tls_peer_cert) {
    GTlsCertificate *got = soup_message_get_tls_peer_certificate (msg);
    if (got == NULL || !g_tls_certificate_is_same (got, link->tls_peer_cert)) {
      soup_websocket_connection_close (ws, PRIMA_LINK_CLOSE_AUTH, "certificate mismatch");
      g_object_unref (ws);
      g_object_unref (msg);
      set_failed (link, "TLS certificate mismatch");
      g_warning (_("%s: %s presented another TLS certificate than the pinned one; closing"), link->name,
          link->peer_addr);
      return;
    }
  }
  g_object_unref (msg);
  if (link->stop_connecting) {
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "shutting down");
    g_object_unref (ws);
    return;
  }
  c = conn_new (link, ws, g_strdup (link->peer_addr));
  g_object_unref (ws);
  link->active = c;
  c->auth = prima_auth_new (link->key, PRIMA_AUTH_ROLE_CLIENT, link->rank, &err);
  if (c->auth == NULL) {
    client_auth_failed (c, err->message);
    g_error_free (err);
    return;
  }
  prima_ctl_msg_init (&hello, PRIMA_CTL_HELLO);
  hello.rank = (gint32) link->rank;
  hello.world = link->world;
  g_strlcpy (hello.nonce, prima_auth_nonce (c->auth), sizeof hello.nonce);
  conn_send_ctl (c, &hello);
}

static void
client_connect (prima_link *link)
{
  char *protocols[] = { (char *) PRIMA_LINK_SUBPROTOCOL, NULL };
  SoupMessage *msg;

  if (link->stop_connecting || link->active || link->connect_msg)
    return;
  msg = soup_message_new_from_uri (SOUP_METHOD_GET, link->uri);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), link);
  link->connect_msg = g_object_ref (msg);
  soup_session_websocket_connect_async (link->session, msg, NULL, protocols, G_PRIORITY_DEFAULT, link->cancel,
      on_client_connected, link);
  g_object_unref (msg);
}

static gboolean
client_start (prima_link *link, GError **error)
{
  GProxyResolver *direct = g_simple_proxy_resolver_new (NULL, NULL);
  guint timeout_s = MAX (1, (link->hb_timeout_ms + 999) / 1000);

  /* ring traffic never goes through a proxy; a stalled handshake fails
   * after the heartbeat timeout and is retried */
  link->session = soup_session_new_with_options ("proxy-resolver", direct, "timeout", timeout_s,
      "idle-timeout", 0, NULL);
  g_object_unref (direct);
  soup_session_remove_feature_by_type (link->session, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
  link->cancel = g_cancellable_new ();
  link->connect_deadline = g_get_monotonic_time () + (gint64) link->connect_timeout_ms * 1000;
  client_connect (link);
  return TRUE;
}

/* ---- the I/O thread ---- */

static gboolean
on_quit (gpointer data)
{
  prima_link *link = data;
  g_main_loop_quit (link->loop);
  return G_SOURCE_REMOVE;
}

static void
io_teardown (prima_link *link)
{
  gint64 deadline;

  link->stop_connecting = TRUE;
  if (link->cancel)
    g_cancellable_cancel (link->cancel);
  destroy_source (&link->retry_timer);
  /* what was queued before the free still goes (a failure passed on) */
  if (link->active)
    drain_slots (link);
  if (link->active)
    conn_close (link->active, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "shutting down");
  while (link->pending)
    conn_close (link->pending->data, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "shutting down");
  /* give close frames and the peers' answers a moment, then force */
  deadline = g_get_monotonic_time () + CLOSE_GRACE_US;
  while ((link->closing || link->connect_msg) && g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (link->ctx, FALSE))
      g_usleep (1000);
  }
  while (link->closing) {
    conn *c = link->closing->data;
    link->closing = g_list_delete_link (link->closing, link->closing);
    conn_free (c);
  }
  if (link->server) {
    g_signal_handlers_disconnect_by_data (link->server, link);
    soup_server_disconnect (link->server);
    g_clear_object (&link->server);
  }
  g_list_free_full (link->accepted, (GDestroyNotify) accepted_free);
  link->accepted = NULL;
  if (link->session) {
    soup_session_abort (link->session);
    g_clear_object (&link->session);
  }
  destroy_source (&link->wake);
  destroy_source (&link->watchdog);
  destroy_source (&link->hb_timer);
  /* let the async stream closes that libsoup started finish */
  for (int i = 0; i < 1000 && g_main_context_pending (link->ctx); i++)
    g_main_context_iteration (link->ctx, FALSE);
  g_clear_object (&link->cancel);
}

static gpointer
io_thread (gpointer data)
{
  prima_link *link = data;
  GError *err = NULL;
  gboolean ok;

  g_main_context_push_thread_default (link->ctx);
  link->wake = rt_source_new (link, on_wake, G_PRIORITY_HIGH);
  link->watchdog = rt_source_new (link, on_watchdog, G_PRIORITY_DEFAULT);
  link->hb_timer = g_timeout_source_new (link->hb_interval_ms);
  g_source_set_callback (link->hb_timer, on_heartbeat, link, NULL);
  g_source_attach (link->hb_timer, link->ctx);
  ok = link->role == PRIMA_LINK_SERVER ? server_start (link, &err) : client_start (link, &err);
  g_mutex_lock (&link->lock);
  link->started = TRUE;
  link->start_error = err;
  g_cond_broadcast (&link->cond);
  g_mutex_unlock (&link->lock);
  if (ok)
    g_main_loop_run (link->loop);
  io_teardown (link);
  g_main_context_pop_thread_default (link->ctx);
  return NULL;
}

static void
link_free_resources (prima_link *link)
{
  GList *l;
  while ((l = g_queue_pop_head_link (&link->events)) != NULL)
    prima_link_event_free (l->data);
  for (guint i = 0; i < link->n_slots; i++)
    g_byte_array_unref (link->slots[i].buf);
  g_free (link->slots);
  if (link->scratch)
    g_byte_array_unref (link->scratch);
  g_hash_table_destroy (link->seen_nonces);
  g_queue_clear (&link->seen_order);
  if (link->loop)
    g_main_loop_unref (link->loop);
  if (link->ctx)
    g_main_context_unref (link->ctx);
  prima_cluster_key_unref (link->key);
  g_clear_object (&link->tls_cert);
  g_clear_object (&link->tls_peer_cert);
  if (link->uri)
    g_uri_unref (link->uri);
  g_free (link->bind_address);
  g_free (link->path);
  g_free (link->peer_addr);
  g_free (link->fail_message);
  g_free (link->name);
  g_mutex_clear (&link->lock);
  g_cond_clear (&link->cond);
  g_free (link);
}

static gboolean
parse_client_url (prima_link *link, const char *url, GError **error)
{
  GError *err = NULL;
  GUri *u = g_uri_parse (url, G_URI_FLAGS_NONE, &err);
  const char *scheme;
  int port;

  if (u == NULL) {
    g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_CONFIG, _("bad peer URL \"%s\": %s"), url, err->message);
    g_error_free (err);
    return FALSE;
  }
  scheme = g_uri_get_scheme (u);
  if (g_ascii_strcasecmp (scheme, "ws") != 0 && g_ascii_strcasecmp (scheme, "wss") != 0) {
    g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_CONFIG,
        _("peer URL \"%s\" must start with ws:// or wss://"), url);
    g_uri_unref (u);
    return FALSE;
  }
  if (g_uri_get_host (u) == NULL || *g_uri_get_host (u) == '\0') {
    g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_CONFIG, _("peer URL \"%s\" has no host"), url);
    g_uri_unref (u);
    return FALSE;
  }
  port = g_uri_get_port (u);
  if (port < 0)
    port = g_ascii_strcasecmp (scheme, "wss") == 0 ? 443 : 80;
  if (*g_uri_get_path (u) == '\0' || strcmp (g_uri_get_path (u), "/") == 0) {
    GUri *v = g_uri_build (G_URI_FLAGS_NONE, scheme, NULL, g_uri_get_host (u), port, PRIMA_LINK_PATH, NULL, NULL);
    g_uri_unref (u);
    u = v;
  }
  link->uri = u;
  link->peer_addr = strchr (g_uri_get_host (u), ':')
      ? g_strdup_printf ("[%s]:%d", g_uri_get_host (u), port)
      : g_strdup_printf ("%s:%d", g_uri_get_host (u), port);
  return TRUE;
}

prima_link *
prima_link_new (const prima_link_config *cfg, GError **error)
{
  prima_link *link;
  GError *start_error;

  if (cfg->key == NULL) {
    g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_CONFIG, _("ring link: no cluster key"));
    return NULL;
  }
  if (cfg->role == PRIMA_LINK_CLIENT && cfg->url == NULL) {
    g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_CONFIG, _("ring link: a client needs the peer's URL"));
    return NULL;
  }
  link = g_new0 (prima_link, 1);
  g_mutex_init (&link->lock);
  g_cond_init (&link->cond);
  g_queue_init (&link->events);
  g_queue_init (&link->seen_order);
  link->seen_nonces = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  link->role = cfg->role;
  link->rank = cfg->rank;
  link->want_peer_rank = cfg->peer_rank;
  link->key = prima_cluster_key_ref (cfg->key);
  link->bind_address = g_strdup (cfg->bind_address);
  link->path = g_strdup (cfg->path);
  link->port = cfg->port;
  link->tls_cert = cfg->tls_certificate ? g_object_ref (cfg->tls_certificate) : NULL;
  link->tls_peer_cert = cfg->tls_peer_certificate ? g_object_ref (cfg->tls_peer_certificate) : NULL;
  link->connect_timeout_ms = cfg->connect_timeout_ms;
  link->retry_ms = cfg->retry_interval_ms ? cfg->retry_interval_ms : 50;
  link->cur_retry_ms = link->retry_ms;
  link->hb_interval_ms = cfg->heartbeat_interval_ms ? cfg->heartbeat_interval_ms : 1000;
  link->hb_timeout_ms = cfg->heartbeat_timeout_ms ? cfg->heartbeat_timeout_ms : 3000;
  link->auth_timeout_ms = cfg->auth_timeout_ms ? cfg->auth_timeout_ms : AUTH_TIMEOUT_MS;
  link->world = cfg->world;
  link->max_pending_per_address = cfg->max_pending_per_address ? cfg->max_pending_per_address
      : PRIMA_LINK_MAX_PENDING_PER_ADDRESS;
  link->reconnect = cfg->reconnect;
  link->limits = cfg->limits;
  link->on_event = cfg->on_event;
  link->user_data = cfg->user_data;
  link->n_slots = cfg->send_slots ? cfg->send_slots : 4;
  link->slots = g_new0 (send_slot, link->n_slots);
  for (guint i = 0; i < link->n_slots; i++)
    link->slots[i].buf = g_byte_array_new ();
  link->scratch = g_byte_array_new ();
  if (cfg->role == PRIMA_LINK_CLIENT) {
    if (!parse_client_url (link, cfg->url, error)) {
      link_free_resources (link);
      return NULL;
    }
    link->name = g_strdup_printf ("ring client -> %s rank %u", link->peer_addr, link->rank);
  } else {
    link->name = g_strdup_printf ("ring server :%u rank %u", link->port, link->rank);
  }
  link->ctx = g_main_context_new ();
  link->loop = g_main_loop_new (link->ctx, FALSE);
  link->thread = g_thread_new ("prima-link", io_thread, link);
  g_mutex_lock (&link->lock);
  while (!link->started)
    g_cond_wait (&link->cond, &link->lock);
  start_error = link->start_error;
  link->start_error = NULL;
  g_mutex_unlock (&link->lock);
  if (start_error) {
    g_thread_join (link->thread);
    link_free_resources (link);
    g_propagate_error (error, start_error);
    return NULL;
  }
  return link;
}

void
prima_link_free (prima_link *link)
{
  if (link == NULL)
    return;
  g_return_if_fail (g_thread_self () != link->thread);
  g_mutex_lock (&link->lock);
  link->shutting_down = TRUE;
  g_cond_broadcast (&link->cond);
  g_mutex_unlock (&link->lock);
  g_main_context_invoke (link->ctx, on_quit, link);
  g_thread_join (link->thread);
  link_free_resources (link);
}

guint16
prima_link_get_port (prima_link *link)
{
  return link->port;
}

const char *
prima_link_name (prima_link *link)
{
  return link->name;
}

gboolean
prima_link_is_ready (prima_link *link)
{
  gboolean r;
  g_mutex_lock (&link->lock);
  r = link->ready;
  g_mutex_unlock (&link->lock);
  return r;
}

gboolean
prima_link_wait_ready (prima_link *link, gint64 timeout_us, GError **error)
{
  gint64 end = timeout_us >= 0 ? g_get_monotonic_time () + timeout_us : -1;
  gboolean ok = TRUE;

  g_mutex_lock (&link->lock);
  while (!link->ready) {
    if (link->failed) {
      g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_FAILED, "%s: %s", link->name, link->fail_message);
      ok = FALSE;
      break;
    }
    if (link->shutting_down) {
      g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_CLOSED, _("%s: shutting down"), link->name);
      ok = FALSE;
      break;
    }
    if (end < 0) {
      g_cond_wait (&link->cond, &link->lock);
    } else if (!g_cond_wait_until (&link->cond, &link->lock, end) && !link->ready) {
      g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_TIMEOUT, _("%s: no peer within %.1f s"), link->name,
          timeout_us / 1e6);
      ok = FALSE;
      break;
    }
  }
  g_mutex_unlock (&link->lock);
  return ok;
}

/* ---- sending from any thread ---- */

/* Reserves the next slot in order; -1 when there is no peer or the link closes. */
static int
reserve_slot (prima_link *link, GError **error)
{
  int idx = -1;
  g_mutex_lock (&link->lock);
  while (link->count == link->n_slots && link->ready && !link->shutting_down)
    g_cond_wait (&link->cond, &link->lock);
  if (link->shutting_down) {
    g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_CLOSED, _("%s: shutting down"), link->name);
  } else if (!link->ready) {
    g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_NOT_CONNECTED, _("%s: no peer connected"), link->name);
  } else {
    idx = (int) ((link->head + link->count) % link->n_slots);
    link->slots[idx].ready = FALSE;
    link->count++;
  }
  g_mutex_unlock (&link->lock);
  return idx;
}

static void
commit_slot (prima_link *link, int idx, gboolean text)
{
  g_mutex_lock (&link->lock);
  link->slots[idx].text = text;
  link->slots[idx].ready = TRUE;
  g_mutex_unlock (&link->lock);
  g_source_set_ready_time (link->wake, 0);
}

static gboolean
send_frame_common (prima_link *link, const prima_frame_header *h, const void *payload, const float *rows,
    GError **error)
{
  GByteArray *buf;
  int idx = -1;
  gboolean on_io = g_thread_self () == link->thread;

  if (!prima_frame_header_validate (h, &(prima_frame_limits) { 0, 0, 0, G_MAXUINT64 }, error))
    return FALSE;
  if (on_io) {
    /* earlier frames from other threads go first */
    drain_slots (link);
    if (link->active == NULL || link->active->state != CONN_OPEN) {
      g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_NOT_CONNECTED, _("%s: no peer connected"), link->name);
      return FALSE;
    }
    buf = link->scratch;
  } else {
    idx = reserve_slot (link, error);
    if (idx < 0)
      return FALSE;
    buf = link->slots[idx].buf;
  }
  /* validated above, so encoding cannot fail */
  if (rows)
    prima_frame_encode_f32 (h, rows, buf, NULL);
  else
    prima_frame_encode (h, payload, buf, NULL);
  if (on_io) {
    if (io_send (link, FALSE, buf->data, buf->len)) {
      g_mutex_lock (&link->lock);
      account_sent (link, FALSE, buf->len);
      g_mutex_unlock (&link->lock);
    }
    return TRUE;
  }
  commit_slot (link, idx, FALSE);
  return TRUE;
}

gboolean
prima_link_send_frame (prima_link *link, const prima_frame_header *h, const void *payload, GError **error)
{
  return send_frame_common (link, h, payload, NULL, error);
}

gboolean
prima_link_send_frame_f32 (prima_link *link, const prima_frame_header *h, const float *rows, GError **error)
{
  return send_frame_common (link, h, NULL, rows, error);
}

static gboolean
send_bytes (prima_link *link, gboolean text, const void *data, gsize len, GError **error)
{
  int idx;
  GByteArray *buf;

  if (g_thread_self () == link->thread) {
    drain_slots (link);
    if (!io_send (link, text, data, len)) {
      g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_NOT_CONNECTED, _("%s: no peer connected"), link->name);
      return FALSE;
    }
    g_mutex_lock (&link->lock);
    account_sent (link, text, len);
    g_mutex_unlock (&link->lock);
    return TRUE;
  }
  idx = reserve_slot (link, error);
  if (idx < 0)
    return FALSE;
  buf = link->slots[idx].buf;
  g_byte_array_set_size (buf, len + (text ? 1 : 0));
  memcpy (buf->data, data, len);
  if (text)
    buf->data[len] = '\0';
  commit_slot (link, idx, text);
  return TRUE;
}

gboolean
prima_link_send_control (prima_link *link, const prima_ctl_msg *msg, GError **error)
{
  gsize len;
  char *json;
  gboolean ok;

  if (msg->type == PRIMA_CTL_HELLO || msg->type == PRIMA_CTL_CHALLENGE || msg->type == PRIMA_CTL_RESPONSE
      || msg->type == PRIMA_CTL_WELCOME) {
    g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_CONFIG, _("%s: the link runs the handshake itself"),
        link->name);
    return FALSE;
  }
  json = prima_ctl_to_json (msg, &len, error);
  if (json == NULL)
    return FALSE;
  ok = send_bytes (link, TRUE, json, len, error);
  g_free (json);
  return ok;
}

gboolean
prima_link_send_raw (prima_link *link, gboolean text, const void *data, gsize len, GError **error)
{
  if (text && (memchr (data, '\0', len) != NULL || !g_utf8_validate (data, len, NULL))) {
    g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_CONFIG, _("raw text must be UTF-8 without NUL"));
    return FALSE;
  }
  return send_bytes (link, text, data, len, error);
}

/* ---- receiving from any thread ---- */

prima_link_event *
prima_link_pop (prima_link *link, gint64 timeout_us)
{
  gint64 end = timeout_us >= 0 ? g_get_monotonic_time () + timeout_us : -1;
  GList *l;

  g_mutex_lock (&link->lock);
  while (g_queue_is_empty (&link->events) && !link->shutting_down) {
    if (end < 0)
      g_cond_wait (&link->cond, &link->lock);
    else if (!g_cond_wait_until (&link->cond, &link->lock, end))
      break;
  }
  l = g_queue_pop_head_link (&link->events);
  g_mutex_unlock (&link->lock);
  return l ? l->data : NULL;
}

void
prima_link_set_limits (prima_link *link, const prima_frame_limits *limits)
{
  g_mutex_lock (&link->lock);
  link->limits = *limits;
  g_mutex_unlock (&link->lock);
}

typedef struct {
  prima_link *link;
  char *reason;
  gboolean failed;              /* prima_link_close_failed: error message, then 4006 */
  gint32 rank;
} close_req;

static gboolean
on_close_req (gpointer data)
{
  close_req *r = data;
  prima_link *link = r->link;
  conn *c = link->active;

  if (c && r->failed) {
    prima_ctl_msg m;
    /* after what is queued: the error is the last message the peer reads */
    drain_slots (link);
    prima_ctl_msg_init (&m, PRIMA_CTL_ERROR_MSG);
    m.rank = r->rank;
    m.text = prima_link_utf8_truncate (r->reason, 4000);
    conn_send_ctl (c, &m);
    prima_ctl_msg_clear (&m);
  }

  if (link->role == PRIMA_LINK_CLIENT) {
    link->stop_connecting = TRUE;
    destroy_source (&link->retry_timer);
    if (link->cancel)
      g_cancellable_cancel (link->cancel);
    set_failed (link, "closed locally");
  }
  if (c) {
    link->active = NULL;
    g_source_set_ready_time (link->watchdog, -1);
    set_ready (link, FALSE);
    conn_close (c, r->failed ? PRIMA_LINK_CLOSE_FAILED : SOUP_WEBSOCKET_CLOSE_NORMAL, r->reason);
  }
  g_free (r->reason);
  g_free (r);
  return G_SOURCE_REMOVE;
}

void
prima_link_close (prima_link *link, const char *reason)
{
  close_req *r = g_new0 (close_req, 1);
  r->link = link;
  r->reason = g_strdup (reason ? reason : "closed");
  g_main_context_invoke (link->ctx, on_close_req, r);
}

void
prima_link_close_failed (prima_link *link, gint32 rank, const char *message)
{
  close_req *r = g_new0 (close_req, 1);
  r->link = link;
  r->reason = g_strdup (message && *message ? message : "unknown error");
  r->failed = TRUE;
  r->rank = rank;
  g_main_context_invoke (link->ctx, on_close_req, r);
}

char *
prima_link_utf8_truncate (const char *text, gsize max)
{
  char *valid = g_utf8_make_valid (text, -1);
  gsize len = strlen (valid);

  if (len > max) {
    /* back to the start of the character that crosses the limit */
    const char *end = g_utf8_find_prev_char (valid, valid + max + 1);
    len = end ? (gsize) (end - valid) : 0;
    valid[len] = '\0';
  }
  return valid;
}

void
prima_link_get_stats (prima_link *link, prima_link_stats *stats)
{
  g_mutex_lock (&link->lock);
  *stats = link->stats;
  g_mutex_unlock (&link->lock);
}
