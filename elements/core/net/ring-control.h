/* gst-prima: JSON control messages of the ring (text WebSocket frames).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every message is one JSON object with a "type" member; the other members
 * depend on the type (docs/wire-protocol.md lists them). Parsing takes
 * untrusted text: malformed JSON, an unknown type, a missing member, a member
 * of the wrong JSON type or out of range gives a one-line GError naming the
 * message type and the member. Unknown members are ignored, so a newer peer
 * may add some. Building validates the same way, so a bug cannot put a
 * message on the wire that the peer would refuse. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "ring-auth.h"

G_BEGIN_DECLS

#define PRIMA_CTL_PROTO 1
/* Control messages are small; a bigger text frame is refused unparsed. */
#define PRIMA_CTL_MAX_TEXT (1 << 20)
#define PRIMA_CTL_MAX_RANKS 256
#define PRIMA_CTL_MAX_WINDOWS 1024

#define PRIMA_CTL_ERROR (prima_ctl_error_quark ())
GQuark prima_ctl_error_quark (void);

typedef enum {
  PRIMA_CTL_ERROR_SYNTAX,       /* not JSON, not an object, too large */
  PRIMA_CTL_ERROR_TYPE,         /* missing or unknown "type" */
  PRIMA_CTL_ERROR_FIELD,        /* a member missing, of the wrong kind or out of range */
} PrimaCtlError;

typedef enum {
  PRIMA_CTL_HELLO,              /* client -> server: proto, rank, nonce, world (optional) */
  PRIMA_CTL_CHALLENGE,          /* server -> client: proto, rank, nonce, proof, world (optional) */
  PRIMA_CTL_RESPONSE,           /* client -> server: proof */
  PRIMA_CTL_WELCOME,            /* server -> client: rank (authentication done) */
  PRIMA_CTL_PROFILE,            /* rank, profile (an object the scheduler defines) */
  PRIMA_CTL_PLAN,               /* plan */
  PRIMA_CTL_KV_CLEAR,           /* seq (-1: every sequence) */
  PRIMA_CTL_KV_REMOVE,          /* seq, p0, p1 (-1: to the end): drop positions [p0, p1) */
  PRIMA_CTL_KV_SHIFT,           /* seq, p0, p1, delta: positions [p0, p1) move by delta */
  PRIMA_CTL_HEARTBEAT,          /* rank, n (a counter) */
  PRIMA_CTL_STOP,               /* text: reason (optional) */
  PRIMA_CTL_ERROR_MSG,          /* text: message; rank (optional): the device that failed; lost (optional):
                                 * the data rank at fault (a peer that dropped or stalled, or rank itself) */
  PRIMA_CTL_JOIN,               /* rank, ranks: the ranks the sender knows to have joined (ring setup);
                                 * addresses (optional, one per entry of ranks): where that rank connects
                                 * its next hop ("host:port", "" unknown) */
  PRIMA_CTL_ROUTE,              /* rank, absent: setup ranks the round goes around (lost devices);
                                 * addresses: every setup rank's server ("host:port"), indexed by rank */
  PRIMA_CTL_STATS,              /* rank, frames, compute_us, send_us: a worker's own counters since its
                                 * pipeline started (cumulative, so a lost report loses nothing), towards
                                 * the head */
  PRIMA_CTL_N_TYPES
} prima_ctl_type;

typedef struct {
  gint32 first;                 /* layers [first, last) */
  gint32 last;
} prima_plan_window;

typedef struct {
  gint32 rank;
  char *address;                /* "host:port" of this rank's server, or NULL */
  guint n_windows;
  prima_plan_window *windows;   /* ascending, in layer order */
  gint32 gpu_layers;            /* of this rank's layers, how many run on its GPU */
} prima_plan_rank;

/* The head's decision, broadcast to every device. Validation checks that the
 * ranks are 0 .. n_ranks-1 once each and that the windows of all ranks cover
 * every layer exactly once. */
typedef struct {
  guint32 id;                   /* increases with every re-plan */
  gint32 n_layer;
  gint32 n_ctx;
  char *model;                  /* optional identity of the model (file name, hash) */
  guint n_ranks;
  prima_plan_rank *ranks;       /* sorted by rank */
} prima_plan;

typedef struct {
  prima_ctl_type type;
  gint32 proto;                 /* hello, challenge */
  gint32 rank;                  /* hello, challenge, welcome, profile, heartbeat, join, stats; error (-1: unsaid) */
  guint32 world;                /* hello, challenge: devices in the sender's ring (0: unsaid) */
  guint n_ranks;                /* join, route (absent) */
  gint32 *ranks;                /* join, route (absent) (owned) */
  guint n_addresses;            /* join (0 or n_ranks), route */
  char **addresses;             /* join, route (owned, NULL-terminated; "" for unknown) */
  gint32 lost;                  /* error: the data rank at fault (-1: unsaid) */
  char nonce[PRIMA_AUTH_NONCE_HEX + 1];   /* hello, challenge */
  char proof[PRIMA_AUTH_PROOF_HEX + 1];   /* challenge, response */
  gint32 seq;                   /* kv-*: sequence id; -1 means all (kv-clear only) */
  gint32 p0, p1, delta;         /* kv-remove, kv-shift; p1 = -1 means "to the end" */
  guint64 n;                    /* heartbeat counter */
  guint64 frames;               /* stats: frames the device sent on */
  guint64 compute_us;           /* stats: time in its layers */
  guint64 send_us;              /* stats: from its layers' end until its link took the frame */
  char *text;                   /* stop: reason (may be NULL); error: message */
  JsonNode *profile;            /* profile: a JSON object (owned) */
  prima_plan *plan;             /* plan (owned) */
} prima_ctl_msg;

const char *prima_ctl_type_name (prima_ctl_type type);

/* Zeroes m and sets its type (proto = PRIMA_CTL_PROTO, rank = -1, seq = -1,
 * p1 = -1, lost = -1). */
void prima_ctl_msg_init (prima_ctl_msg *m, prima_ctl_type type);
/* Frees what m owns (text, profile, plan) and zeroes it. */
void prima_ctl_msg_clear (prima_ctl_msg *m);

/* Checks the fields of a message as parsing would. */
gboolean prima_ctl_msg_validate (const prima_ctl_msg *m, GError **error);

/* Serializes to compact JSON (NUL-terminated; *length without the NUL). */
char *prima_ctl_to_json (const prima_ctl_msg *m, gsize *length, GError **error);

/* Parses untrusted text (need not be NUL-terminated) into m (initialized by
 * this call; clear it afterwards, also after a failure). */
gboolean prima_ctl_parse (const char *text, gsize length, prima_ctl_msg *m, GError **error);

prima_plan *prima_plan_new (guint n_ranks);
void prima_plan_free (prima_plan *plan);
prima_plan *prima_plan_copy (const prima_plan *plan);
gboolean prima_plan_validate (const prima_plan *plan, GError **error);

G_END_DECLS
