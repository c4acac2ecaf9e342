/* gst-prima: the cluster key and the HMAC-SHA256 challenge/response.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "ring-auth.h"
#include <glib/gi18n-lib.h>
#include <inttypes.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (prima-auth-error-quark, prima_auth_error)

#define AUTH_LABEL "prima-ring-auth-v1"

struct prima_cluster_key {
  gint ref;
  gsize len;
  guint8 *bytes;
};

struct prima_auth {
  prima_cluster_key *key;
  prima_auth_role role;
  guint32 rank;
  guint32 peer_rank;
  gboolean have_peer;
  gboolean verified;            /* verify was called (whatever its outcome) */
  guint8 nonce[PRIMA_AUTH_NONCE_SIZE];
  guint8 peer_nonce[PRIMA_AUTH_NONCE_SIZE];
  char nonce_hex[PRIMA_AUTH_NONCE_HEX + 1];
};

/* memset that the compiler may not drop because the memory dies next */
static void
wipe (void *p, gsize n)
{
  volatile guint8 *v = p;
  while (n--)
    *v++ = 0;
}

gboolean
prima_memeq_const_time (const guint8 *a, const guint8 *b, gsize n)
{
  volatile guint8 acc = 0;
  for (gsize i = 0; i < n; i++)
    acc |= a[i] ^ b[i];
  return acc == 0;
}

void
prima_hex_encode (const guint8 *in, gsize n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (gsize i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

gboolean
prima_hex_decode (const char *hex, guint8 *out, gsize n)
{
  if (hex == NULL || strlen (hex) != 2 * n)
    return FALSE;
  for (gsize i = 0; i < n; i++) {
    int hi = g_ascii_xdigit_value (hex[2 * i]);
    int lo = g_ascii_xdigit_value (hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return FALSE;
    out[i] = (guint8) (hi << 4 | lo);
  }
  return TRUE;
}

gboolean
prima_random_bytes (guint8 *buf, gsize n, GError **error)
{
  gsize done = 0;
  while (done < n) {
    ssize_t r = getrandom (buf + done, n - done, 0);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_STATE,
          _("cannot draw random bytes: %s"), g_strerror (errno));
      return FALSE;
    }
    done += (gsize) r;
  }
  return TRUE;
}

static prima_cluster_key *
key_from_bytes (const guint8 *bytes, gsize len, const char *origin, GError **error)
{
  prima_cluster_key *key;

  if (len < PRIMA_CLUSTER_KEY_MIN) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_BAD_KEY,
        _("cluster key from %s is too short (%zu bytes, at least %d; "
        "generate one with `openssl rand -hex 32`)"), origin, len, PRIMA_CLUSTER_KEY_MIN);
    return NULL;
  }
  if (len > PRIMA_CLUSTER_KEY_MAX) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_BAD_KEY,
        _("cluster key from %s is too long (%zu bytes, at most %d)"), origin, len,
        PRIMA_CLUSTER_KEY_MAX);
    return NULL;
  }
  key = g_new0 (prima_cluster_key, 1);
  key->ref = 1;
  key->len = len;
  key->bytes = g_memdup2 (bytes, len);
  return key;
}

prima_cluster_key *
prima_cluster_key_new (const char *key, GError **error)
{
  if (key == NULL || *key == '\0') {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_NO_KEY, _("cluster key is empty"));
    return NULL;
  }
  return key_from_bytes ((const guint8 *) key, strlen (key), "the command line", error);
}

prima_cluster_key *
prima_cluster_key_new_from_file (const char *path, GError **error)
{
  struct stat st;
  guint8 buf[PRIMA_CLUSTER_KEY_MAX + 2];
  gsize len = 0, start = 0;
  prima_cluster_key *key;
  int fd;

  /* open first, then fstat the descriptor: what is checked is what is read;
   * O_NONBLOCK so that a FIFO is refused below instead of blocking the open */
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_BAD_KEY,
        _("cannot open key file %s: %s"), path, g_strerror (errno));
    return NULL;
  }
  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_BAD_KEY,
        _("key file %s is not a regular file"), path);
    close (fd);
    return NULL;
  }
  if (st.st_mode & 077) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_BAD_KEY,
        _("key file %s is accessible by group or others (mode %04o); run `chmod 600 %s`"),
        path, (unsigned) (st.st_mode & 07777), path);
    close (fd);
    return NULL;
  }
  if (st.st_uid != geteuid () && st.st_uid != 0) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_BAD_KEY,
        _("key file %s belongs to another user (uid %u)"), path, (unsigned) st.st_uid);
    close (fd);
    return NULL;
  }
  while (len < sizeof buf) {
    ssize_t r = read (fd, buf + len, sizeof buf - len);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_BAD_KEY,
          _("cannot read key file %s: %s"), path, g_strerror (errno));
      close (fd);
      wipe (buf, sizeof buf);
      return NULL;
    }
    if (r == 0)
      break;
    len += (gsize) r;
  }
  close (fd);
  /* drop the trailing newline an editor adds, and any other white space */
  while (len > 0 && g_ascii_isspace (buf[len - 1]))
    len--;
  while (start < len && g_ascii_isspace (buf[start]))
    start++;
  {
    char *origin = g_strdup_printf ("key file %s", path);
    key = key_from_bytes (buf + start, len - start, origin, error);
    g_free (origin);
  }
  wipe (buf, sizeof buf);
  return key;
}

prima_cluster_key *
prima_cluster_key_resolve (const char *key, const char *key_file, GError **error)
{
  const char *env;

  if (key != NULL && *key != '\0')
    return prima_cluster_key_new (key, error);
  if (key_file != NULL && *key_file != '\0')
    return prima_cluster_key_new_from_file (key_file, error);
  env = g_getenv (PRIMA_CLUSTER_KEY_ENV);
  if (env != NULL && *env != '\0') {
    gsize len = strlen (env);
    while (len > 0 && g_ascii_isspace (env[len - 1]))
      len--;
    return key_from_bytes ((const guint8 *) env, len, "$" PRIMA_CLUSTER_KEY_ENV, error);
  }
  env = g_getenv (PRIMA_CLUSTER_KEY_FILE_ENV);
  if (env != NULL && *env != '\0')
    return prima_cluster_key_new_from_file (env, error);
  g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_NO_KEY,
      _("no cluster key: pass --cluster-key or --cluster-key-file, or set %s or %s"), PRIMA_CLUSTER_KEY_ENV,
      PRIMA_CLUSTER_KEY_FILE_ENV);
  return NULL;
}

prima_cluster_key *
prima_cluster_key_ref (prima_cluster_key *key)
{
  g_atomic_int_inc (&key->ref);
  return key;
}

void
prima_cluster_key_unref (prima_cluster_key *key)
{
  if (key == NULL || !g_atomic_int_dec_and_test (&key->ref))
    return;
  wipe (key->bytes, key->len);
  g_free (key->bytes);
  g_free (key);
}

char *
prima_cluster_key_fingerprint (const prima_cluster_key *key)
{
  /* a keyed hash of a fixed label, so the fingerprint says nothing useful
   * about the key itself */
  GHmac *h = g_hmac_new (G_CHECKSUM_SHA256, key->bytes, key->len);
  guint8 digest[32];
  gsize dlen = sizeof digest;
  char hex[9];

  g_hmac_update (h, (const guchar *) "prima-key-fingerprint", 21);
  g_hmac_get_digest (h, digest, &dlen);
  g_hmac_unref (h);
  prima_hex_encode (digest, 4, hex);
  return g_strdup (hex);
}

char *
prima_cluster_key_generate_hex (void)
{
  guint8 raw[32];
  char hex[65];

  if (!prima_random_bytes (raw, sizeof raw, NULL))
    g_error ("the OS refused random bytes");
  prima_hex_encode (raw, sizeof raw, hex);
  wipe (raw, sizeof raw);
  return g_strdup (hex);
}

prima_auth *
prima_auth_new (prima_cluster_key *key, prima_auth_role role, guint32 rank, GError **error)
{
  prima_auth *auth = g_new0 (prima_auth, 1);

  auth->role = role;
  auth->rank = rank;
  if (!prima_random_bytes (auth->nonce, sizeof auth->nonce, error)) {
    g_free (auth);
    return NULL;
  }
  auth->key = prima_cluster_key_ref (key);
  prima_hex_encode (auth->nonce, sizeof auth->nonce, auth->nonce_hex);
  return auth;
}

void
prima_auth_free (prima_auth *auth)
{
  if (auth == NULL)
    return;
  prima_cluster_key_unref (auth->key);
  wipe (auth, sizeof *auth);
  g_free (auth);
}

const char *
prima_auth_nonce (const prima_auth *auth)
{
  return auth->nonce_hex;
}

gboolean
prima_auth_set_peer (prima_auth *auth, guint32 peer_rank, const char *peer_nonce_hex, GError **error)
{
  guint8 nonce[PRIMA_AUTH_NONCE_SIZE];

  if (auth->have_peer) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_STATE, _("auth: peer nonce sent twice"));
    return FALSE;
  }
  if (!prima_hex_decode (peer_nonce_hex, nonce, sizeof nonce)) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_MALFORMED,
        _("auth: peer nonce is not %d hex digits"), PRIMA_AUTH_NONCE_HEX);
    return FALSE;
  }
  if (prima_memeq_const_time (nonce, auth->nonce, sizeof nonce)) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_REFUSED,
        _("auth: peer echoed our own nonce (reflected handshake)"));
    return FALSE;
  }
  memcpy (auth->peer_nonce, nonce, sizeof nonce);
  auth->peer_rank = peer_rank;
  auth->have_peer = TRUE;
  return TRUE;
}

/* HMAC over the label, the prover's role and both (rank, nonce) pairs in
 * client, server order, so both sides hash the same bytes. */
static void
compute_proof (const prima_auth *auth, prima_auth_role prover, guint8 out[PRIMA_AUTH_PROOF_SIZE])
{
  const gboolean we_are_client = auth->role == PRIMA_AUTH_ROLE_CLIENT;
  const guint8 *nonce_c = we_are_client ? auth->nonce : auth->peer_nonce;
  const guint8 *nonce_s = we_are_client ? auth->peer_nonce : auth->nonce;
  guint32 rank_c = we_are_client ? auth->rank : auth->peer_rank;
  guint32 rank_s = we_are_client ? auth->peer_rank : auth->rank;
  guint8 ranks[8];
  guint8 role = prover == PRIMA_AUTH_ROLE_CLIENT ? 'c' : 's';
  gsize len = PRIMA_AUTH_PROOF_SIZE;
  GHmac *h;

  rank_c = GUINT32_TO_LE (rank_c);
  rank_s = GUINT32_TO_LE (rank_s);
  memcpy (ranks, &rank_c, 4);
  memcpy (ranks + 4, &rank_s, 4);
  h = g_hmac_new (G_CHECKSUM_SHA256, auth->key->bytes, auth->key->len);
  g_hmac_update (h, (const guchar *) AUTH_LABEL, sizeof AUTH_LABEL);   /* includes the NUL */
  g_hmac_update (h, &role, 1);
  g_hmac_update (h, ranks, sizeof ranks);
  g_hmac_update (h, nonce_c, PRIMA_AUTH_NONCE_SIZE);
  g_hmac_update (h, nonce_s, PRIMA_AUTH_NONCE_SIZE);
  g_hmac_get_digest (h, out, &len);
  g_hmac_unref (h);
}

gboolean
prima_auth_prove (const prima_auth *auth, char out[PRIMA_AUTH_PROOF_HEX + 1], GError **error)
{
  guint8 proof[PRIMA_AUTH_PROOF_SIZE];

  if (!auth->have_peer) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_STATE,
        _("auth: cannot prove before the peer's nonce arrived"));
    return FALSE;
  }
  compute_proof (auth, auth->role, proof);
  prima_hex_encode (proof, sizeof proof, out);
  return TRUE;
}

gboolean
prima_auth_verify (prima_auth *auth, const char *peer_proof_hex, GError **error)
{
  guint8 want[PRIMA_AUTH_PROOF_SIZE], got[PRIMA_AUTH_PROOF_SIZE];
  gboolean ok;

  if (!auth->have_peer || auth->verified) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_STATE,
        auth->verified ? "auth: proof already checked on this connection"
                       : "auth: proof arrived before the peer's nonce");
    return FALSE;
  }
  auth->verified = TRUE;
  if (!prima_hex_decode (peer_proof_hex, got, sizeof got)) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_MALFORMED,
        _("auth: peer proof is not %d hex digits"), PRIMA_AUTH_PROOF_HEX);
    return FALSE;
  }
  compute_proof (auth, auth->role == PRIMA_AUTH_ROLE_CLIENT ? PRIMA_AUTH_ROLE_SERVER
                                                            : PRIMA_AUTH_ROLE_CLIENT, want);
  ok = prima_memeq_const_time (want, got, sizeof want);
  wipe (want, sizeof want);
  if (!ok) {
    g_set_error (error, PRIMA_AUTH_ERROR, PRIMA_AUTH_ERROR_REFUSED,
        _("authentication failed: the peer does not know the cluster key"));
    return FALSE;
  }
  return TRUE;
}
