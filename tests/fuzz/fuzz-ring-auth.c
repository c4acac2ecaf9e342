/* gst-prima: libFuzzer target for the ring's handshake (cluster-key auth).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The first byte picks a role, the rest is what the peer sent, with a fixed
 * cluster key:
 *   0  server: the peer's hello, a newline, then its response. The hello's
 *      rank and nonce go into prima_auth_set_peer as ring-link.c does, our
 *      proof is made, then the response's proof is verified.
 *   1  client: the peer's challenge; its nonce is recorded and its proof
 *      verified.
 *   2  a proof for an honest client's handshake: verify must succeed exactly
 *      when the bytes decode (hex, either case) to the client's real proof,
 *      and a second verify must always fail.
 *   3  a cluster key (the command line's string): accepted or refused with
 *      one line, and an accepted key has an 8-hex-digit fingerprint.
 * A fuzzer cannot forge an HMAC, so success in modes 0 and 1 (fresh random
 * nonces) is a bug. Built with -DPRIMA_FUZZ_REPLAY it replays a corpus. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "ring-auth.h"
#include "ring-control.h"

#define FUZZ_KEY "fuzz-cluster-key-0123456789abcdef"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_error (GError *error)
{
  if (error == NULL || error->message == NULL || strchr (error->message, '\n') != NULL)
    __builtin_trap ();
  g_error_free (error);
}

static prima_cluster_key *
fixed_key (void)
{
  static prima_cluster_key *key;
  if (key == NULL)
    key = prima_cluster_key_new (FUZZ_KEY, NULL);
  if (key == NULL)
    __builtin_trap ();
  return key;
}

/* Parses one message; FALSE (and m cleared) when it is not of type want. */
static gboolean
parse_as (const char *text, gsize len, prima_ctl_type want, prima_ctl_msg *m)
{
  GError *error = NULL;
  if (!prima_ctl_parse (text, len, m, &error)) {
    check_error (error);
    prima_ctl_msg_clear (m);
    return FALSE;
  }
  if (m->type != want) {
    prima_ctl_msg_clear (m);
    return FALSE;
  }
  return TRUE;
}

static void
fuzz_server (const char *text, gsize len)
{
  const char *nl = memchr (text, '\n', len);
  gsize hello_len = nl ? (gsize) (nl - text) : len;
  prima_ctl_msg hello, response;
  prima_auth *auth;
  char proof[PRIMA_AUTH_PROOF_HEX + 1];
  GError *error = NULL;

  if (!parse_as (text, hello_len, PRIMA_CTL_HELLO, &hello))
    return;
  auth = prima_auth_new (fixed_key (), PRIMA_AUTH_ROLE_SERVER, 0, NULL);
  if (auth == NULL)
    __builtin_trap ();
  if (!prima_auth_set_peer (auth, (guint32) hello.rank, hello.nonce, &error)) {
    check_error (error);
    goto out;
  }
  if (!prima_auth_prove (auth, proof, NULL) || strlen (proof) != PRIMA_AUTH_PROOF_HEX)
    __builtin_trap ();
  if (nl != NULL && parse_as (nl + 1, len - hello_len - 1, PRIMA_CTL_RESPONSE, &response)) {
    if (prima_auth_verify (auth, response.proof, &error))
      __builtin_trap ();
    check_error (error);
    prima_ctl_msg_clear (&response);
  }
out:
  prima_auth_free (auth);
  prima_ctl_msg_clear (&hello);
}

static void
fuzz_client (const char *text, gsize len)
{
  prima_ctl_msg challenge;
  prima_auth *auth;
  char proof[PRIMA_AUTH_PROOF_HEX + 1];
  GError *error = NULL;

  if (!parse_as (text, len, PRIMA_CTL_CHALLENGE, &challenge))
    return;
  auth = prima_auth_new (fixed_key (), PRIMA_AUTH_ROLE_CLIENT, 1, NULL);
  if (auth == NULL)
    __builtin_trap ();
  if (!prima_auth_set_peer (auth, (guint32) challenge.rank, challenge.nonce, &error)) {
    check_error (error);
  } else {
    if (!prima_auth_prove (auth, proof, NULL))
      __builtin_trap ();
    if (prima_auth_verify (auth, challenge.proof, &error))
      __builtin_trap ();
    check_error (error);
  }
  prima_auth_free (auth);
  prima_ctl_msg_clear (&challenge);
}

static void
fuzz_proof (const char *text)
{
  prima_auth *client = prima_auth_new (fixed_key (), PRIMA_AUTH_ROLE_CLIENT, 1, NULL);
  prima_auth *server = prima_auth_new (fixed_key (), PRIMA_AUTH_ROLE_SERVER, 0, NULL);
  char real[PRIMA_AUTH_PROOF_HEX + 1];
  guint8 want[PRIMA_AUTH_PROOF_SIZE], got[PRIMA_AUTH_PROOF_SIZE];
  gboolean same, ok;
  GError *error = NULL;

  if (client == NULL || server == NULL
      || !prima_auth_set_peer (client, 0, prima_auth_nonce (server), NULL)
      || !prima_auth_set_peer (server, 1, prima_auth_nonce (client), NULL)
      || !prima_auth_prove (client, real, NULL))
    __builtin_trap ();
  if (!prima_hex_decode (real, want, sizeof want))
    __builtin_trap ();
  same = prima_hex_decode (text, got, sizeof got) && memcmp (got, want, sizeof want) == 0;
  ok = prima_auth_verify (server, text, &error);
  if (ok != same)
    __builtin_trap ();
  if (!ok) {
    check_error (error);
    error = NULL;
  }
  /* At most one verify per handshake, whatever the first gave. */
  if (prima_auth_verify (server, real, &error))
    __builtin_trap ();
  check_error (error);
  prima_auth_free (client);
  prima_auth_free (server);
}

static void
fuzz_key (const char *text)
{
  GError *error = NULL;
  prima_cluster_key *key = prima_cluster_key_new (text, &error);
  gsize len = strlen (text);
  if (key == NULL) {
    check_error (error);
    if (len >= PRIMA_CLUSTER_KEY_MIN && len <= PRIMA_CLUSTER_KEY_MAX)
      __builtin_trap ();
    return;
  }
  if (len < PRIMA_CLUSTER_KEY_MIN || len > PRIMA_CLUSTER_KEY_MAX)
    __builtin_trap ();
  {
    char *fp = prima_cluster_key_fingerprint (key);
    guint8 raw[4];
    if (fp == NULL || !prima_hex_decode (fp, raw, sizeof raw))
      __builtin_trap ();
    g_free (fp);
  }
  prima_cluster_key_unref (key);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text;

  if (size == 0)
    return 0;
  /* The parsers take lengths; the proof and key paths take C strings, as
   * they get them from a parsed message or the command line. */
  text = g_strndup ((const char *) data + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      fuzz_server ((const char *) data + 1, size - 1);
      break;
    case 1:
      fuzz_client ((const char *) data + 1, size - 1);
      break;
    case 2:
      fuzz_proof (text);
      break;
    default:
      fuzz_key (text);
      break;
  }
  g_free (text);
  return 0;
}

#include "fuzz-main.h"
