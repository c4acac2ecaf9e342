/* gst-prima: one hop of the ring as a persistent, authenticated WebSocket.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A hop joins an upstream device (the client, which connects) and a
 * downstream device (the server, which listens). Once connected, both ends
 * send activation frames (binary) and control messages (JSON text) to each
 * other over one TCP connection with TCP_NODELAY; nothing is set up per
 * token.
 *
 * Threads: each link runs its own I/O thread ("prima-link") with a private
 * GMainContext; every libsoup object of the link lives and is used only
 * there. The event callback, when given, is called on that thread and must
 * not block. All public functions are thread-safe and may be called from any
 * thread (the layers element's streaming thread, the application), except
 * prima_link_free, which must not be called from the event callback.
 *
 * Frames still queued when a connection drops are discarded; the LOST event
 * says so, and the owner decides what to resend (the head replays tokens).
 * No other thread may use a link once prima_link_free has started.
 *
 * Two ways to receive: the event callback (on the I/O thread, lowest
 * latency), or a blocking queue (prima_link_pop with a timeout) that gets
 * every event the callback did not take. Events: READY (a peer authenticated),
 * FRAME, CONTROL, LOST (with a reason and a one-line message such as
 * "rank 2 at 10.0.0.3:9002 stopped answering (no heartbeat for 3.0 s)").
 *
 * Sending: prima_link_send_frame copies the frame once, into a send slot
 * that is reused (no allocation on our side once the slots have grown); the
 * I/O thread then hands it to libsoup, which builds its own WebSocket frame
 * (one more copy and one allocation per message inside libsoup; its public
 * API offers no way to send from a caller's buffer). Called on the I/O
 * thread itself (from the callback), the send goes straight to libsoup.
 *
 * Security: before anything else the two ends run the HMAC handshake of
 * ring-auth.h; a server refuses a peer that fails it (or speaks out of turn,
 * replays a nonce, claims an unexpected rank, or takes too long) with a
 * close frame and one warning line, and keeps serving its authenticated
 * peer. Frames and control messages are validated; a peer that sends garbage
 * after authenticating is disconnected with an error (LOST, PROTOCOL).
 * TLS: give the server a certificate and the client a wss:// URL. */
#pragma once

#include <gio/gio.h>

#include "ring-auth.h"
#include "ring-control.h"
#include "ring-frame.h"

G_BEGIN_DECLS

#define PRIMA_LINK_PATH "/prima/ring"
/* The setup round's path on the same ports (scheduler/ring-setup.c). A
 * data server (PRIMA_LINK_PATH) answers a request for it with HTTP 409 and
 * the reason "serving another head (HOST:PORT)": its device serves a head
 * already (one head at a time per ring); the client keeps retrying and
 * counts it (prima_link_stats.refused_head). */
#define PRIMA_LINK_SETUP_PATH "/prima/setup"
#define PRIMA_LINK_SUBPROTOCOL "prima-ring.v1"

/* Close codes (4000-4999 are the application's in RFC 6455). */
#define PRIMA_LINK_CLOSE_AUTH 4001        /* authentication failed or out of order */
#define PRIMA_LINK_CLOSE_PROTOCOL 4002    /* malformed frame or control message */
#define PRIMA_LINK_CLOSE_REPLACED 4003    /* a newer authenticated connection took over */
#define PRIMA_LINK_CLOSE_TIMEOUT 4004     /* no heartbeat, or the handshake took too long */
#define PRIMA_LINK_CLOSE_BUSY 4005        /* too many unauthenticated connections */
#define PRIMA_LINK_CLOSE_FAILED 4006      /* the device failed; the reason says why */

/* A close frame's reason: at most this many bytes (RFC 6455: 125 - the code). */
#define PRIMA_LINK_CLOSE_REASON_MAX 123

/* Server: unauthenticated connections (from accept to the end of the
 * handshake) allowed at once, from one IP address and in all; beyond them a
 * new connection is closed at once. */
#define PRIMA_LINK_MAX_PENDING_PER_ADDRESS 8
#define PRIMA_LINK_MAX_PENDING 32

#define PRIMA_LINK_ERROR (prima_link_error_quark ())
GQuark prima_link_error_quark (void);

typedef enum {
  PRIMA_LINK_ERROR_CONFIG,
  PRIMA_LINK_ERROR_LISTEN,
  PRIMA_LINK_ERROR_NOT_CONNECTED,
  PRIMA_LINK_ERROR_TIMEOUT,
  PRIMA_LINK_ERROR_FAILED,      /* the link gave up (see the message) */
  PRIMA_LINK_ERROR_CLOSED,      /* the link is being freed */
} PrimaLinkError;

typedef enum {
  PRIMA_LINK_SERVER,
  PRIMA_LINK_CLIENT,
} prima_link_role;

typedef enum {
  PRIMA_LINK_EVENT_READY,
  PRIMA_LINK_EVENT_FRAME,
  PRIMA_LINK_EVENT_CONTROL,
  PRIMA_LINK_EVENT_LOST,
} prima_link_event_type;

typedef enum {
  PRIMA_LINK_LOST_DISCONNECTED, /* the connection broke (peer died, network) */
  PRIMA_LINK_LOST_CLOSED,       /* the peer closed it in order */
  PRIMA_LINK_LOST_TIMEOUT,      /* no heartbeat within the timeout */
  PRIMA_LINK_LOST_PROTOCOL,     /* the peer sent something malformed */
  PRIMA_LINK_LOST_AUTH,         /* client: the server refused us, or failed to prove the key */
  PRIMA_LINK_LOST_CONNECT,      /* client: could not connect within connect_timeout_ms */
  PRIMA_LINK_LOST_REPLACED,     /* server: a newer authenticated connection took over */
  PRIMA_LINK_LOST_FAILED,       /* the peer failed and said why (close code 4006) */
} prima_link_lost_reason;

typedef struct {
  prima_link_event_type type;
  gint32 peer_rank;             /* -1 when unknown */
  /* FRAME: payload points into bytes and lives as long as the event */
  prima_frame_header frame;
  const guint8 *payload;
  GBytes *bytes;
  /* CONTROL */
  prima_ctl_msg control;
  /* LOST */
  prima_link_lost_reason reason;
  /* READY, LOST: one line for people ("rank 1 at 127.0.0.1:40112 connected") */
  char *message;
  GList node_;                  /* private: queue linkage */
} prima_link_event;

typedef struct prima_link prima_link;

/* Return TRUE when the event was consumed; FALSE puts it on the queue. The
 * event (and its payload) is only valid during the call. */
typedef gboolean (*prima_link_event_func) (prima_link *link, const prima_link_event *event, gpointer user_data);

typedef struct {
  prima_link_role role;
  guint32 rank;                 /* ours */
  gint32 peer_rank;             /* the rank the peer must claim; -1 accepts any */
  prima_cluster_key *key;       /* required; the link keeps a reference */
  /* server */
  const char *bind_address;     /* an IP address; NULL listens on all interfaces */
  guint16 port;                 /* 0 picks a free port (prima_link_get_port) */
  GTlsCertificate *tls_certificate;        /* with a private key: serve wss:// */
  const char *path;             /* the WebSocket path served; NULL = PRIMA_LINK_PATH. A different
                                   path keeps clients of another phase (ring setup) apart */
  guint auth_timeout_ms;        /* a connection must authenticate within this from its accept
                                   (TCP, TLS, HTTP upgrade and handshake); 0 = 5000 */
  guint max_pending_per_address;  /* unauthenticated connections at once from one IP address;
                                     0 = PRIMA_LINK_MAX_PENDING_PER_ADDRESS */
  /* client */
  const char *url;              /* ws://host:port or wss://host:port; the path defaults to PRIMA_LINK_PATH */
  GTlsCertificate *tls_peer_certificate;   /* wss: accept exactly this certificate (self-signed
                                              clusters); NULL uses the system's trust store */
  guint connect_timeout_ms;     /* give up connecting after this; 0 = keep trying */
  guint retry_interval_ms;      /* first retry delay, doubling up to 1 s; 0 = 50 */
  gboolean reconnect;           /* after a loss, connect again (not after an auth failure) */
  /* both */
  guint world;                  /* devices in our ring, said in the handshake: a peer that says
                                   another number is refused (both numbers in the stats and the
                                   log); 0 = not said, not checked */
  guint heartbeat_interval_ms;  /* 0 = 1000 */
  guint heartbeat_timeout_ms;   /* 0 = 3000 */
  prima_frame_limits limits;    /* applied to every received frame */
  guint send_slots;             /* frames queued between threads; 0 = 4 */
  prima_link_event_func on_event;          /* optional, called on the I/O thread */
  gpointer user_data;
} prima_link_config;

typedef struct {
  guint64 frames_sent, frames_received;
  guint64 bytes_sent, bytes_received;      /* frame bytes, header included */
  guint64 controls_sent, controls_received; /* heartbeats excluded */
  guint64 heartbeats_received;
  guint connects;               /* authenticated connections so far */
  guint refused;                /* connections refused (server) or refusing us (client) */
  guint refused_key;            /* server: the expected peer rank failed to prove the key */
  guint refused_world;          /* connections refused because the peer's world differs from ours */
  gint32 world_peer_rank;       /* the last such peer: its rank and world */
  guint32 world_peer_world;
  gboolean nodelay;             /* TCP_NODELAY is set on the current connection */
  guint refused_head;           /* client: answers 409 from a data server that serves a head */
  char head_reason[128];        /* the last such answer's reason ("serving another head (HOST:PORT)") */
} prima_link_stats;

/* A server is listening when this returns; a client starts connecting in the
 * background (retrying until the server is up). */
prima_link *prima_link_new (const prima_link_config *config, GError **error);
/* Closes the connection (going away), stops the I/O thread, drops queued events. */
void prima_link_free (prima_link *link);

guint16 prima_link_get_port (prima_link *link);
/* "server :9002 rank 2" / "client ws://10.0.0.3:9002 rank 1", for logs. */
const char *prima_link_name (prima_link *link);

gboolean prima_link_is_ready (prima_link *link);
/* Blocks until a peer has authenticated. timeout_us < 0 waits forever. Fails
 * at once when a client gave up (authentication refused, connect timeout). */
gboolean prima_link_wait_ready (prima_link *link, gint64 timeout_us, GError **error);

/* Queue one frame (payload: payload_len bytes in the header's dtype). Blocks
 * only while all send slots are taken. Fails when no peer is connected. */
gboolean prima_link_send_frame (prima_link *link, const prima_frame_header *h, const void *payload,
    GError **error);
/* Same, from f32 rows converted to the header's dtype in the copy. */
gboolean prima_link_send_frame_f32 (prima_link *link, const prima_frame_header *h, const float *rows,
    GError **error);
/* Queue one control message, in order with the frames. */
gboolean prima_link_send_control (prima_link *link, const prima_ctl_msg *msg, GError **error);

/* Next queued event, or NULL after timeout_us (< 0: wait until there is one
 * or the link is freed). Free it with prima_link_event_free. */
prima_link_event *prima_link_pop (prima_link *link, gint64 timeout_us);
void prima_link_event_free (prima_link_event *event);

/* Replaces the frame limits (e.g. once the plan gives n_embd and n_layer). */
void prima_link_set_limits (prima_link *link, const prima_frame_limits *limits);

/* Closes the current connection in order (the peer sees LOST, CLOSED). */
void prima_link_close (prima_link *link, const char *reason);

/* This device failed: sends an `error` control message (rank, message; in
 * full, after what is queued) and closes the current connection with
 * PRIMA_LINK_CLOSE_FAILED and the message as the reason (cut to
 * PRIMA_LINK_CLOSE_REASON_MAX bytes on a UTF-8 boundary). The peer sees the
 * CONTROL event, then LOST, FAILED ("rank 1 at 10.0.0.2:40112 failed:
 * <message>"). rank < 0 leaves the rank out. A client stops connecting.
 * Asynchronous, like prima_link_close: prima_link_free afterwards still
 * sends both (within its close grace). No-op without a connection. */
void prima_link_close_failed (prima_link *link, gint32 rank, const char *message);

/* Copies at most max bytes of text (NUL not counted) into a new string,
 * cut back to the last whole UTF-8 character; invalid UTF-8 is replaced. */
char *prima_link_utf8_truncate (const char *text, gsize max);

void prima_link_get_stats (prima_link *link, prima_link_stats *stats);

const char *prima_link_lost_reason_name (prima_link_lost_reason reason);

/* For tests: send raw bytes as one binary (or text) WebSocket message on the
 * current connection, bypassing validation. */
gboolean prima_link_send_raw (prima_link *link, gboolean text, const void *data, gsize len, GError **error);

G_END_DECLS
