/* gst-prima: writes the seed corpora of the network fuzz targets.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * gen-fuzz-corpus DIR writes DIR/ring-frame, DIR/ring-control and
 * DIR/ring-auth from the real encoders (prima_frame_encode*,
 * prima_ctl_to_json), so the seeds are what peers put on the wire. The
 * files are checked in under tests/fuzz/corpus/; rerun this after a change
 * to the wire format. Auth seeds start with the target's mode byte
 * (fuzz-ring-auth.c). */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "ring-auth.h"
#include "ring-control.h"
#include "ring-frame.h"

static const char *out_dir;

static void
put (const char *sub, const char *name, const void *data, gsize len)
{
  char *dir = g_build_filename (out_dir, sub, NULL);
  char *path = g_build_filename (dir, name, NULL);
  GError *error = NULL;
  g_mkdir_with_parents (dir, 0755);
  if (!g_file_set_contents (path, data, (gssize) len, &error))
    g_error ("%s", error->message);
  g_free (path);
  g_free (dir);
}

static char *
json_of (prima_ctl_msg *m, gsize *len)
{
  GError *error = NULL;
  char *json = prima_ctl_to_json (m, len, &error);
  if (json == NULL)
    g_error ("%s: %s", prima_ctl_type_name (m->type), error->message);
  return json;
}

static void
put_ctl (const char *name, prima_ctl_msg *m)
{
  gsize len;
  char *json = json_of (m, &len);
  put ("ring-control", name, json, len);
  g_free (json);
  prima_ctl_msg_clear (m);
}

/* Deterministic "nonces" and proofs, so the corpus does not change from run
 * to run (the parsers only check the hex). */
static void
fake_hex (char *out, gsize n_hex, guint8 salt)
{
  guint8 b[64];
  for (gsize i = 0; i < n_hex / 2; i++)
    b[i] = (guint8) (i * 37 + salt);
  prima_hex_encode (b, n_hex / 2, out);
}

static void
frames (void)
{
  GByteArray *buf = g_byte_array_new ();
  prima_frame_header h;
  float rows[3 * 8];
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    rows[i] = (float) i * 0.25f - 2.0f;

  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, 0, 1, 1, 8);
  prima_frame_encode_f32 (&h, rows, buf, NULL);
  put ("ring-frame", "f32-1x8", buf->data, buf->len);

  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F16, 3, 17, 3, 2, 8);
  h.origin_us = 1234567;
  prima_frame_encode_f32 (&h, rows, buf, NULL);
  put ("ring-frame", "f16-3x8", buf->data, buf->len);

  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 1, 5, 2, 3, 4);
  h.flags = PRIMA_FRAME_FLAG_ALL_LOGITS;
  prima_frame_encode_f32 (&h, rows, buf, NULL);
  put ("ring-frame", "f32-all-logits", buf->data, buf->len);

  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F16, 0, 0, 2, 1, 8);
  h.flags = PRIMA_FRAME_FLAG_NO_LOGITS;
  prima_frame_encode_f32 (&h, rows, buf, NULL);
  put ("ring-frame", "f16-no-logits", buf->data, buf->len);

  /* Refused seeds: a header alone (truncated payload) and a bad magic. */
  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, 0, 1, 0, 8);
  prima_frame_encode_f32 (&h, rows, buf, NULL);
  put ("ring-frame", "truncated", buf->data, PRIMA_FRAME_HEADER_SIZE);
  buf->data[0] = 'X';
  put ("ring-frame", "bad-magic", buf->data, buf->len);
  g_byte_array_unref (buf);
}

static void
controls (void)
{
  prima_ctl_msg m;

  prima_ctl_msg_init (&m, PRIMA_CTL_HELLO);
  m.rank = 1;
  m.world = 3;
  fake_hex (m.nonce, PRIMA_AUTH_NONCE_HEX, 1);
  put_ctl ("hello", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_CHALLENGE);
  m.rank = 0;
  m.world = 3;
  fake_hex (m.nonce, PRIMA_AUTH_NONCE_HEX, 2);
  fake_hex (m.proof, PRIMA_AUTH_PROOF_HEX, 3);
  put_ctl ("challenge", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_RESPONSE);
  fake_hex (m.proof, PRIMA_AUTH_PROOF_HEX, 4);
  put_ctl ("response", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_WELCOME);
  m.rank = 2;
  put_ctl ("welcome", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_PROFILE);
  m.rank = 1;
  {
    JsonBuilder *b = json_builder_new ();
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, "laptop");
    json_builder_set_member_name (b, "os");
    json_builder_add_string_value (b, "linux");
    json_builder_set_member_name (b, "ram_available_gib");
    json_builder_add_double_value (b, 6.5);
    json_builder_set_member_name (b, "cpu_threads");
    json_builder_add_int_value (b, 8);
    json_builder_set_member_name (b, "cpu_layer_overhead_ms");
    json_builder_add_double_value (b, -0.02);
    json_builder_set_member_name (b, "disk_seq_read_gb_s");
    json_builder_add_double_value (b, 2.1);
    json_builder_set_member_name (b, "net_latency_ms");
    json_builder_add_double_value (b, 0.3);
    json_builder_set_member_name (b, "_next");
    json_builder_add_string_value (b, "10.0.0.3:9001");
    json_builder_end_object (b);
    m.profile = json_builder_get_root (b);
    g_object_unref (b);
  }
  put_ctl ("profile", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_PLAN);
  m.plan = prima_plan_new (2);
  m.plan->id = 4;
  m.plan->n_layer = 5;
  m.plan->n_ctx = 512;
  m.plan->model = g_strdup ("tiny.gguf");
  for (guint r = 0; r < 2; r++) {
    prima_plan_rank *pr = &m.plan->ranks[r];
    pr->rank = (gint32) r;
    pr->address = g_strdup_printf ("127.0.0.1:%u", 9000 + r);
    pr->n_windows = 2 - r;
    pr->windows = g_new0 (prima_plan_window, pr->n_windows);
    pr->gpu_layers = (gint32) r;
  }
  /* rank 0: [0,2) and [3,5); rank 1: [2,3) */
  m.plan->ranks[0].windows[0] = (prima_plan_window) { 0, 2 };
  m.plan->ranks[0].windows[1] = (prima_plan_window) { 3, 5 };
  m.plan->ranks[1].windows[0] = (prima_plan_window) { 2, 3 };
  put_ctl ("plan", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_KV_CLEAR);
  put_ctl ("kv-clear", &m);
  prima_ctl_msg_init (&m, PRIMA_CTL_KV_REMOVE);
  m.seq = 0;
  m.p0 = 7;
  m.p1 = -1;
  put_ctl ("kv-remove", &m);
  prima_ctl_msg_init (&m, PRIMA_CTL_KV_SHIFT);
  m.seq = 1;
  m.p0 = 4;
  m.p1 = 20;
  m.delta = -3;
  put_ctl ("kv-shift", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_HEARTBEAT);
  m.rank = 2;
  m.n = 41;
  put_ctl ("heartbeat", &m);
  prima_ctl_msg_init (&m, PRIMA_CTL_STOP);
  m.text = g_strdup ("done");
  put_ctl ("stop", &m);
  prima_ctl_msg_init (&m, PRIMA_CTL_ERROR_MSG);
  m.rank = 1;
  m.text = g_strdup ("rank 1: out of memory");
  put_ctl ("error", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_JOIN);
  m.rank = 2;
  m.n_ranks = 3;
  m.ranks = g_new (gint32, 3);
  m.ranks[0] = 0;
  m.ranks[1] = 1;
  m.ranks[2] = 2;
  put_ctl ("join", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_JOIN);
  m.rank = 1;
  m.n_ranks = 2;
  m.ranks = g_new (gint32, 2);
  m.ranks[0] = 1;
  m.ranks[1] = 2;
  m.addresses = g_strsplit ("10.0.0.3:9002,10.0.0.1:9000", ",", -1);
  m.n_addresses = 2;
  put_ctl ("join-addresses", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_ROUTE);
  m.rank = 0;
  m.n_ranks = 1;
  m.ranks = g_new (gint32, 1);
  m.ranks[0] = 2;
  m.addresses = g_strsplit ("10.0.0.1:9000,10.0.0.2:9001,10.0.0.3:9002,10.0.0.4:9003", ",", -1);
  m.n_addresses = 4;
  put_ctl ("route", &m);

  prima_ctl_msg_init (&m, PRIMA_CTL_ERROR_MSG);
  m.lost = 2;
  m.text = g_strdup ("rank 2 at 10.0.0.3:9002 stopped answering (no heartbeat for 2.5 s)");
  put_ctl ("error-lost", &m);
}

static void
put_auth (const char *name, char mode, const char *a, gsize a_len, const char *b, gsize b_len)
{
  GString *s = g_string_new (NULL);
  g_string_append_c (s, mode);
  g_string_append_len (s, a, (gssize) a_len);
  if (b != NULL) {
    g_string_append_c (s, '\n');
    g_string_append_len (s, b, (gssize) b_len);
  }
  put ("ring-auth", name, s->str, s->len);
  g_string_free (s, TRUE);
}

static void
auths (void)
{
  prima_ctl_msg hello, challenge, response;
  char *h, *c, *r, proof[PRIMA_AUTH_PROOF_HEX + 1];
  gsize hl, cl, rl;

  prima_ctl_msg_init (&hello, PRIMA_CTL_HELLO);
  hello.rank = 1;
  hello.world = 2;
  fake_hex (hello.nonce, PRIMA_AUTH_NONCE_HEX, 9);
  h = json_of (&hello, &hl);
  prima_ctl_msg_init (&response, PRIMA_CTL_RESPONSE);
  fake_hex (response.proof, PRIMA_AUTH_PROOF_HEX, 10);
  r = json_of (&response, &rl);
  prima_ctl_msg_init (&challenge, PRIMA_CTL_CHALLENGE);
  challenge.rank = 0;
  fake_hex (challenge.nonce, PRIMA_AUTH_NONCE_HEX, 11);
  fake_hex (challenge.proof, PRIMA_AUTH_PROOF_HEX, 12);
  c = json_of (&challenge, &cl);

  put_auth ("server-hello-response", 0, h, hl, r, rl);
  put_auth ("server-hello", 0, h, hl, NULL, 0);
  put_auth ("client-challenge", 1, c, cl, NULL, 0);
  fake_hex (proof, PRIMA_AUTH_PROOF_HEX, 13);
  put_auth ("proof-lower", 2, proof, strlen (proof), NULL, 0);
  put_auth ("proof-upper", 2, g_ascii_strup (proof, -1), strlen (proof), NULL, 0);
  put_auth ("key-hex", 3, "0123456789abcdef0123456789abcdef", 32, NULL, 0);
  put_auth ("key-short", 3, "short", 5, NULL, 0);

  g_free (h);
  g_free (r);
  g_free (c);
  prima_ctl_msg_clear (&hello);
  prima_ctl_msg_clear (&response);
  prima_ctl_msg_clear (&challenge);
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  frames ();
  controls ();
  auths ();
  return 0;
}
