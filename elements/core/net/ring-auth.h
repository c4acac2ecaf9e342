/* gst-prima: the cluster key and the HMAC-SHA256 challenge/response.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every device of a ring shares one cluster key. A connection is used only
 * after both ends proved they know it:
 *   client -> server  hello      {rank_c, nonce_c}
 *   server -> client  challenge  {rank_s, nonce_s, proof_s}
 *   client -> server  response   {proof_c}
 *   server -> client  welcome
 * proof_X = HMAC-SHA256(key, "prima-ring-auth-v1" 0 role_X rank_c rank_s nonce_c nonce_s)
 * with role 'c' or 's' and ranks as u32 little-endian. Each side draws a
 * fresh 32-byte nonce per connection from the OS, so a recorded proof is
 * worthless on any other connection (replay), and the role byte keeps one
 * side's proof from being reflected back as the other's. Proofs are compared
 * in constant time and each prima_auth verifies at most once.
 * docs/wire-protocol.md describes the messages. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PRIMA_AUTH_NONCE_SIZE 32
#define PRIMA_AUTH_NONCE_HEX (2 * PRIMA_AUTH_NONCE_SIZE)
#define PRIMA_AUTH_PROOF_SIZE 32
#define PRIMA_AUTH_PROOF_HEX (2 * PRIMA_AUTH_PROOF_SIZE)

#define PRIMA_CLUSTER_KEY_ENV "PRIMA_CLUSTER_KEY"
#define PRIMA_CLUSTER_KEY_FILE_ENV "PRIMA_CLUSTER_KEY_FILE"
#define PRIMA_CLUSTER_KEY_MIN 16
#define PRIMA_CLUSTER_KEY_MAX 1024

#define PRIMA_AUTH_ERROR (prima_auth_error_quark ())
GQuark prima_auth_error_quark (void);

typedef enum {
  PRIMA_AUTH_ERROR_NO_KEY,      /* no key given anywhere */
  PRIMA_AUTH_ERROR_BAD_KEY,     /* too short, too long, unreadable or unsafe key file */
  PRIMA_AUTH_ERROR_MALFORMED,   /* a nonce or proof that is not the right hex */
  PRIMA_AUTH_ERROR_REFUSED,     /* the peer's proof is wrong: it does not have the key */
  PRIMA_AUTH_ERROR_STATE,       /* out of order: proof before the peer's nonce, second verify */
} PrimaAuthError;

typedef struct prima_cluster_key prima_cluster_key;

/* The key is the bytes of the string (hex from prima_cluster_key_generate_hex
 * or any passphrase of PRIMA_CLUSTER_KEY_MIN bytes or more). */
prima_cluster_key *prima_cluster_key_new (const char *key, GError **error);
/* Reads a key file: a regular file owned by the user (or root) that neither
 * group nor others may access (mode 0600 or stricter); surrounding white
 * space is dropped. */
prima_cluster_key *prima_cluster_key_new_from_file (const char *path, GError **error);
/* The first of: key, key_file, $PRIMA_CLUSTER_KEY, $PRIMA_CLUSTER_KEY_FILE. */
prima_cluster_key *prima_cluster_key_resolve (const char *key, const char *key_file, GError **error);
prima_cluster_key *prima_cluster_key_ref (prima_cluster_key *key);
void prima_cluster_key_unref (prima_cluster_key *key);   /* wipes the bytes */
/* A short, non-secret fingerprint for logs ("a1b2c3d4"), so two devices can
 * be seen to use the same key without printing it. */
char *prima_cluster_key_fingerprint (const prima_cluster_key *key);

/* 32 random bytes from the OS as 64 hex characters: a key for a local ring. */
char *prima_cluster_key_generate_hex (void);

/* Cryptographic random bytes (getrandom); FALSE only if the OS refuses. */
gboolean prima_random_bytes (guint8 *buf, gsize n, GError **error);

/* Equal-length comparison whose time does not depend on where bytes differ. */
gboolean prima_memeq_const_time (const guint8 *a, const guint8 *b, gsize n);

typedef enum {
  PRIMA_AUTH_ROLE_CLIENT,       /* the side that connects (upstream) */
  PRIMA_AUTH_ROLE_SERVER,       /* the side that accepts (downstream) */
} prima_auth_role;

typedef struct prima_auth prima_auth;

/* One handshake: draws this side's nonce. */
prima_auth *prima_auth_new (prima_cluster_key *key, prima_auth_role role, guint32 rank, GError **error);
void prima_auth_free (prima_auth *auth);
/* This side's nonce, PRIMA_AUTH_NONCE_HEX lowercase hex characters. */
const char *prima_auth_nonce (const prima_auth *auth);
/* Records the peer's rank and nonce; refuses malformed hex and a nonce equal
 * to ours (a reflected handshake). */
gboolean prima_auth_set_peer (prima_auth *auth, guint32 peer_rank, const char *peer_nonce_hex,
    GError **error);
/* This side's proof as hex (PRIMA_AUTH_PROOF_HEX characters + NUL). */
gboolean prima_auth_prove (const prima_auth *auth, char out[PRIMA_AUTH_PROOF_HEX + 1], GError **error);
/* Checks the peer's proof; succeeds at most once per prima_auth, and a
 * failure ends the handshake too (no second guess on the same nonces). */
gboolean prima_auth_verify (prima_auth *auth, const char *peer_proof_hex, GError **error);

/* Hex helpers shared with the control messages: exact length, either case. */
gboolean prima_hex_decode (const char *hex, guint8 *out, gsize n);
void prima_hex_encode (const guint8 *in, gsize n, char *out);   /* writes 2n chars + NUL */

G_END_DECLS
