/* gst-prima tests: cluster keys and the HMAC challenge/response. Keys from a
 * string, the environment or a 0600 file; the handshake succeeds with one
 * key and fails with another; recorded, reflected and repeated proofs are
 * refused.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ring-auth.h"

#define KEY_A "correct horse battery staple 42"
#define KEY_B "correct horse battery staple 43"

static void
test_key_sources (void)
{
  GError *err = NULL;
  prima_cluster_key *k, *k2;
  char *fa, *fb, *dir, *path;

  k = prima_cluster_key_new (KEY_A, &err);
  g_assert_no_error (err);
  fa = prima_cluster_key_fingerprint (k);
  g_assert_cmpuint (strlen (fa), ==, 8);

  g_assert_null (prima_cluster_key_new ("short", &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_BAD_KEY);
  g_assert_nonnull (strstr (err->message, "too short (5 bytes, at least 16"));
  g_clear_error (&err);
  g_assert_null (prima_cluster_key_new ("", &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_NO_KEY);
  g_clear_error (&err);

  /* key file: surrounding white space dropped, same key as the string */
  dir = g_dir_make_tmp ("prima-auth-XXXXXX", &err);
  g_assert_no_error (err);
  path = g_build_filename (dir, "cluster.key", NULL);
  g_assert_true (g_file_set_contents (path, "  " KEY_A "\n", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  k2 = prima_cluster_key_new_from_file (path, &err);
  g_assert_no_error (err);
  fb = prima_cluster_key_fingerprint (k2);
  g_assert_cmpstr (fa, ==, fb);
  g_free (fb);
  prima_cluster_key_unref (k2);

  /* readable by others: refused, with the fix in the message */
  g_assert_cmpint (g_chmod (path, 0644), ==, 0);
  g_assert_null (prima_cluster_key_new_from_file (path, &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_BAD_KEY);
  g_assert_nonnull (strstr (err->message, "accessible by group or others (mode 0644); run `chmod 600"));
  g_clear_error (&err);
  g_assert_cmpint (g_chmod (path, 0640), ==, 0);
  g_assert_null (prima_cluster_key_new_from_file (path, &err));
  g_clear_error (&err);

  /* missing file, a directory */
  g_assert_null (prima_cluster_key_new_from_file ("/nonexistent/prima.key", &err));
  g_assert_nonnull (strstr (err->message, "cannot open key file /nonexistent/prima.key"));
  g_clear_error (&err);
  g_assert_cmpint (g_chmod (dir, 0700), ==, 0);
  g_assert_null (prima_cluster_key_new_from_file (dir, &err));
  g_assert_nonnull (strstr (err->message, "not a regular file"));
  g_clear_error (&err);

  /* resolution order: argument, file, $PRIMA_CLUSTER_KEY, $PRIMA_CLUSTER_KEY_FILE */
  g_assert_cmpint (g_chmod (path, 0600), ==, 0);
  g_setenv (PRIMA_CLUSTER_KEY_ENV, KEY_B, TRUE);
  k2 = prima_cluster_key_resolve (NULL, NULL, &err);
  g_assert_no_error (err);
  fb = prima_cluster_key_fingerprint (k2);
  g_assert_cmpstr (fa, !=, fb);
  g_free (fb);
  prima_cluster_key_unref (k2);
  k2 = prima_cluster_key_resolve (NULL, path, &err);
  fb = prima_cluster_key_fingerprint (k2);
  g_assert_cmpstr (fa, ==, fb);
  g_free (fb);
  prima_cluster_key_unref (k2);
  g_unsetenv (PRIMA_CLUSTER_KEY_ENV);
  g_setenv (PRIMA_CLUSTER_KEY_FILE_ENV, path, TRUE);
  k2 = prima_cluster_key_resolve (NULL, NULL, &err);
  g_assert_no_error (err);
  prima_cluster_key_unref (k2);
  g_unsetenv (PRIMA_CLUSTER_KEY_FILE_ENV);
  g_assert_null (prima_cluster_key_resolve (NULL, NULL, &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_NO_KEY);
  g_assert_nonnull (strstr (err->message, "no cluster key: pass --cluster-key"));
  g_clear_error (&err);

  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  g_free (fa);
  prima_cluster_key_unref (k);
}

static void
test_generate (void)
{
  char *a = prima_cluster_key_generate_hex ();
  char *b = prima_cluster_key_generate_hex ();
  guint8 raw[32];
  prima_cluster_key *k;

  g_assert_cmpuint (strlen (a), ==, 64);
  g_assert_true (prima_hex_decode (a, raw, sizeof raw));
  g_assert_cmpstr (a, !=, b);
  k = prima_cluster_key_new (a, NULL);
  g_assert_nonnull (k);
  prima_cluster_key_unref (k);
  g_free (a);
  g_free (b);

  g_assert_true (prima_memeq_const_time ((const guint8 *) "abcd", (const guint8 *) "abcd", 4));
  g_assert_false (prima_memeq_const_time ((const guint8 *) "abcd", (const guint8 *) "abce", 4));
  g_assert_false (prima_memeq_const_time ((const guint8 *) "xbcd", (const guint8 *) "abcd", 4));
  g_assert_false (prima_hex_decode ("0g", raw, 1));
  g_assert_false (prima_hex_decode ("000", raw, 1));
  g_assert_true (prima_hex_decode ("Ab", raw, 1) && raw[0] == 0xab);
}

/* Runs the four-message handshake between two prima_auth; returns what the
 * server concluded, with the error. */
static gboolean
handshake (prima_cluster_key *client_key, prima_cluster_key *server_key, gboolean *client_ok, GError **error)
{
  prima_auth *c = prima_auth_new (client_key, PRIMA_AUTH_ROLE_CLIENT, 1, NULL);
  prima_auth *s = prima_auth_new (server_key, PRIMA_AUTH_ROLE_SERVER, 2, NULL);
  char proof_s[PRIMA_AUTH_PROOF_HEX + 1], proof_c[PRIMA_AUTH_PROOF_HEX + 1];
  gboolean ok;

  /* hello: client rank + nonce */
  g_assert_true (prima_auth_set_peer (s, 1, prima_auth_nonce (c), NULL));
  /* challenge: server rank + nonce + proof */
  g_assert_true (prima_auth_prove (s, proof_s, NULL));
  g_assert_true (prima_auth_set_peer (c, 2, prima_auth_nonce (s), NULL));
  *client_ok = prima_auth_verify (c, proof_s, NULL);
  /* response */
  g_assert_true (prima_auth_prove (c, proof_c, NULL));
  ok = prima_auth_verify (s, proof_c, error);
  prima_auth_free (c);
  prima_auth_free (s);
  return ok;
}

static void
test_handshake (void)
{
  prima_cluster_key *a = prima_cluster_key_new (KEY_A, NULL);
  prima_cluster_key *b = prima_cluster_key_new (KEY_B, NULL);
  gboolean client_ok;
  GError *err = NULL;

  g_assert_true (handshake (a, a, &client_ok, &err));
  g_assert_no_error (err);
  g_assert_true (client_ok);

  /* one key differs: both sides refuse the other */
  g_assert_false (handshake (b, a, &client_ok, &err));
  g_assert_false (client_ok);
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_REFUSED);
  g_assert_cmpstr (err->message, ==, "authentication failed: the peer does not know the cluster key");
  g_clear_error (&err);

  prima_cluster_key_unref (a);
  prima_cluster_key_unref (b);
}

/* A proof recorded on one connection is worthless on the next: the server's
 * nonce is new. */
static void
test_replay (void)
{
  prima_cluster_key *k = prima_cluster_key_new (KEY_A, NULL);
  prima_auth *c = prima_auth_new (k, PRIMA_AUTH_ROLE_CLIENT, 1, NULL);
  prima_auth *s1 = prima_auth_new (k, PRIMA_AUTH_ROLE_SERVER, 2, NULL);
  prima_auth *s2 = prima_auth_new (k, PRIMA_AUTH_ROLE_SERVER, 2, NULL);
  prima_auth *c2;
  char recorded_hello[PRIMA_AUTH_NONCE_HEX + 1], recorded_proof[PRIMA_AUTH_PROOF_HEX + 1];
  char proof_s[PRIMA_AUTH_PROOF_HEX + 1];
  GError *err = NULL;

  g_assert_cmpstr (prima_auth_nonce (s1), !=, prima_auth_nonce (s2));
  /* a legitimate exchange, recorded by an eavesdropper */
  g_strlcpy (recorded_hello, prima_auth_nonce (c), sizeof recorded_hello);
  g_assert_true (prima_auth_set_peer (s1, 1, recorded_hello, NULL));
  g_assert_true (prima_auth_set_peer (c, 2, prima_auth_nonce (s1), NULL));
  g_assert_true (prima_auth_prove (c, recorded_proof, NULL));
  g_assert_true (prima_auth_verify (s1, recorded_proof, NULL));

  /* the eavesdropper replays hello and response to a new connection */
  g_assert_true (prima_auth_set_peer (s2, 1, recorded_hello, NULL));
  g_assert_false (prima_auth_verify (s2, recorded_proof, &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_REFUSED);
  g_clear_error (&err);

  /* ... and the server's recorded challenge to a new client */
  g_assert_true (prima_auth_prove (s1, proof_s, NULL));
  c2 = prima_auth_new (k, PRIMA_AUTH_ROLE_CLIENT, 1, NULL);
  g_assert_true (prima_auth_set_peer (c2, 2, prima_auth_nonce (s1), NULL));
  g_assert_false (prima_auth_verify (c2, proof_s, &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_REFUSED);
  g_clear_error (&err);

  prima_auth_free (c);
  prima_auth_free (c2);
  prima_auth_free (s1);
  prima_auth_free (s2);
  prima_cluster_key_unref (k);
}

/* Reflection: our own nonce or our own proof sent back is refused. */
static void
test_reflection_and_single_use (void)
{
  prima_cluster_key *k = prima_cluster_key_new (KEY_A, NULL);
  prima_auth *s = prima_auth_new (k, PRIMA_AUTH_ROLE_SERVER, 2, NULL);
  prima_auth *c = prima_auth_new (k, PRIMA_AUTH_ROLE_CLIENT, 1, NULL);
  char proof_s[PRIMA_AUTH_PROOF_HEX + 1], proof_c[PRIMA_AUTH_PROOF_HEX + 1];
  char own[PRIMA_AUTH_NONCE_HEX + 1];
  GError *err = NULL;

  g_strlcpy (own, prima_auth_nonce (s), sizeof own);
  g_assert_false (prima_auth_set_peer (s, 1, own, &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_REFUSED);
  g_assert_nonnull (strstr (err->message, "reflected"));
  g_clear_error (&err);
  g_assert_false (prima_auth_prove (s, proof_s, &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_STATE);
  g_clear_error (&err);
  g_assert_false (prima_auth_set_peer (s, 1, "nothex", &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_MALFORMED);
  g_clear_error (&err);

  g_assert_true (prima_auth_set_peer (s, 1, prima_auth_nonce (c), NULL));
  g_assert_true (prima_auth_set_peer (c, 2, prima_auth_nonce (s), NULL));
  g_assert_true (prima_auth_prove (s, proof_s, NULL));
  g_assert_true (prima_auth_prove (c, proof_c, NULL));
  g_assert_cmpstr (proof_s, !=, proof_c);
  /* the server's own proof, reflected as the client's: the role byte differs */
  g_assert_false (prima_auth_verify (s, proof_s, &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_REFUSED);
  g_clear_error (&err);
  /* and after one failed guess, even the right proof is not accepted */
  g_assert_false (prima_auth_verify (s, proof_c, &err));
  g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_STATE);
  g_clear_error (&err);

  /* a rank that differs from what was claimed changes the proof */
  {
    prima_auth *s3 = prima_auth_new (k, PRIMA_AUTH_ROLE_SERVER, 2, NULL);
    prima_auth *c3 = prima_auth_new (k, PRIMA_AUTH_ROLE_CLIENT, 1, NULL);
    char p[PRIMA_AUTH_PROOF_HEX + 1];
    g_assert_true (prima_auth_set_peer (s3, 5, prima_auth_nonce (c3), NULL));   /* server heard rank 5 */
    g_assert_true (prima_auth_set_peer (c3, 2, prima_auth_nonce (s3), NULL));
    g_assert_true (prima_auth_prove (c3, p, NULL));
    g_assert_false (prima_auth_verify (s3, p, NULL));
    prima_auth_free (s3);
    prima_auth_free (c3);
  }

  /* malformed proof */
  {
    prima_auth *s4 = prima_auth_new (k, PRIMA_AUTH_ROLE_SERVER, 2, NULL);
    g_assert_true (prima_auth_set_peer (s4, 1, prima_auth_nonce (c), NULL));
    g_assert_false (prima_auth_verify (s4, "abc", &err));
    g_assert_error (err, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_MALFORMED);
    g_clear_error (&err);
    prima_auth_free (s4);
  }
  prima_auth_free (s);
  prima_auth_free (c);
  prima_cluster_key_unref (k);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv (PRIMA_CLUSTER_KEY_ENV);
  g_unsetenv (PRIMA_CLUSTER_KEY_FILE_ENV);
  g_test_add_func ("/ring-auth/key-sources", test_key_sources);
  g_test_add_func ("/ring-auth/generate", test_generate);
  g_test_add_func ("/ring-auth/handshake", test_handshake);
  g_test_add_func ("/ring-auth/replay", test_replay);
  g_test_add_func ("/ring-auth/reflection-single-use", test_reflection_and_single_use);
  return g_test_run ();
}
