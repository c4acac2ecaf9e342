/* gst-prima tests: the binary activation frame. Round trips in f32 and f16,
 * reuse of the encode buffer, and every malformed header a decoder must
 * refuse, with the one-line message it gives.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <string.h>

#include "ring-frame.h"

static void
fill_rows (float *x, gsize n)
{
  for (gsize i = 0; i < n; i++)
    x[i] = (float) ((int) (i % 97) - 48) * 0.125f;
}

static GByteArray *
valid_frame (guint32 n_tokens, guint32 n_embd)
{
  prima_frame_header h;
  GByteArray *buf = g_byte_array_new ();
  float *x = g_new (float, (gsize) n_tokens * n_embd);
  fill_rows (x, (gsize) n_tokens * n_embd);
  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 3, 17, n_tokens, 5, n_embd);
  g_assert_true (prima_frame_encode (&h, x, buf, NULL));
  g_free (x);
  return buf;
}

static void
test_round_trip_f32 (void)
{
  const guint32 n_tokens = 3, n_embd = 4096;
  prima_frame_header h, d;
  GByteArray *buf = g_byte_array_new ();
  float *x = g_new (float, n_tokens * n_embd), *y = g_new (float, n_tokens * n_embd);
  const guint8 *payload;
  GError *err = NULL;

  fill_rows (x, n_tokens * n_embd);
  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 7, 1234, n_tokens, 12, n_embd);
  h.flags = PRIMA_FRAME_FLAG_ALL_LOGITS;
  h.origin_us = G_GUINT64_CONSTANT (0x0123456789abcdef);
  g_assert_cmpuint (h.payload_len, ==, (guint64) n_tokens * n_embd * 4);
  g_assert_true (prima_frame_encode (&h, x, buf, &err));
  g_assert_no_error (err);
  g_assert_cmpuint (buf->len, ==, PRIMA_FRAME_HEADER_SIZE + h.payload_len);
  g_assert_cmpmem (buf->data, 4, "PRIM", 4);

  g_assert_true (prima_frame_decode (buf->data, buf->len, NULL, &d, &payload, &err));
  g_assert_no_error (err);
  g_assert_cmpint (memcmp (&h, &d, sizeof h), ==, 0);
  g_assert_true (payload == buf->data + PRIMA_FRAME_HEADER_SIZE);
  prima_frame_payload_to_f32 (&d, payload, y);
  g_assert_cmpmem (x, n_tokens * n_embd * 4, y, n_tokens * n_embd * 4);
  g_free (x);
  g_free (y);
  g_byte_array_unref (buf);
}

static void
test_round_trip_f16 (void)
{
  const guint32 n_tokens = 2, n_embd = 64;
  prima_frame_header h, d;
  GByteArray *buf = g_byte_array_new ();
  float x[2 * 64], y[2 * 64];
  const guint8 *payload;

  fill_rows (x, G_N_ELEMENTS (x));   /* multiples of 1/8: exact in half precision */
  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F16, 0, 0, n_tokens, 0, n_embd);
  g_assert_cmpuint (h.payload_len, ==, n_tokens * n_embd * 2);
  g_assert_true (prima_frame_encode_f32 (&h, x, buf, NULL));
  g_assert_cmpuint (buf->len, ==, PRIMA_FRAME_HEADER_SIZE + n_tokens * n_embd * 2);
  g_assert_true (prima_frame_decode (buf->data, buf->len, NULL, &d, &payload, NULL));
  g_assert_cmpuint (d.dtype, ==, PRIMA_FRAME_DTYPE_F16);
  prima_frame_payload_to_f32 (&d, payload, y);
  g_assert_cmpmem (x, sizeof x, y, sizeof y);
  g_byte_array_unref (buf);
}

/* A reused buffer keeps its allocation: the hot path allocates nothing. */
static void
test_buffer_reuse (void)
{
  GByteArray *buf = g_byte_array_new ();
  float *x = g_new0 (float, 4096);
  prima_frame_header h;
  guint8 *first;

  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, 0, 1, 0, 4096);
  g_assert_true (prima_frame_encode (&h, x, buf, NULL));
  first = buf->data;
  for (int i = 0; i < 100; i++) {
    h.pos0 = i;
    g_assert_true (prima_frame_encode (&h, x, buf, NULL));
    g_assert_true (buf->data == first);
  }
  /* a smaller frame fits in the same allocation too */
  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F16, 0, 0, 1, 0, 4096);
  g_assert_true (prima_frame_encode_f32 (&h, x, buf, NULL));
  g_assert_true (buf->data == first);
  g_free (x);
  g_byte_array_unref (buf);
}

static void
put32 (guint8 *p, guint32 v)
{
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = v >> 24;
}

static void
put16 (guint8 *p, guint16 v)
{
  p[0] = v & 0xff;
  p[1] = v >> 8;
}

static void
put64 (guint8 *p, guint64 v)
{
  put32 (p, (guint32) v);
  put32 (p + 4, (guint32) (v >> 32));
}

typedef void (*mutate_fn) (GByteArray *b);

static void m_magic (GByteArray *b) { b->data[0] = 'X'; }
static void m_version (GByteArray *b) { put16 (b->data + 4, 2); }
static void m_header_size (GByteArray *b) { put16 (b->data + 6, 64); }
static void m_type (GByteArray *b) { b->data[8] = 9; }
static void m_dtype (GByteArray *b) { b->data[9] = 7; }
static void m_flags (GByteArray *b) { put16 (b->data + 10, 0x80); }
static void m_both_logits (GByteArray *b) { put16 (b->data + 10, 3); }
static void m_seq (GByteArray *b) { put32 (b->data + 12, 0x80000000u); }
static void m_pos_neg (GByteArray *b) { put32 (b->data + 16, (guint32) -5); }
static void m_pos_overflow (GByteArray *b) { put32 (b->data + 16, 0x7ffffffe); }
static void m_tokens_zero (GByteArray *b) { put32 (b->data + 20, 0); }
static void m_tokens_huge (GByteArray *b) { put32 (b->data + 20, 1000000); }
static void m_layer_huge (GByteArray *b) { put32 (b->data + 24, 0x10000000); }
static void m_embd_zero (GByteArray *b) { put32 (b->data + 28, 0); }
static void m_embd_huge (GByteArray *b) { put32 (b->data + 28, 0x40000000); }
static void m_len_mismatch (GByteArray *b) { put64 (b->data + 32, 12); }
static void m_len_huge (GByteArray *b) { put64 (b->data + 32, G_MAXUINT64); }
static void m_truncated (GByteArray *b) { g_byte_array_set_size (b, b->len - 1); }
static void m_trailing (GByteArray *b) { guint8 z = 0; g_byte_array_append (b, &z, 1); }
static void m_short (GByteArray *b) { g_byte_array_set_size (b, 20); }
static void m_empty (GByteArray *b) { g_byte_array_set_size (b, 0); }

typedef struct {
  const char *name;
  mutate_fn mutate;
  int code;
  const char *message;          /* a substring of the error's message */
} bad_case;

static const bad_case bad_cases[] = {
  { "magic", m_magic, PRIMA_FRAME_ERROR_MAGIC, "bad magic 58 52 49 4d" },
  { "version", m_version, PRIMA_FRAME_ERROR_VERSION, "unsupported version 2" },
  { "header-size", m_header_size, PRIMA_FRAME_ERROR_INVALID, "header size 64" },
  { "type", m_type, PRIMA_FRAME_ERROR_INVALID, "unknown message type 9" },
  { "dtype", m_dtype, PRIMA_FRAME_ERROR_INVALID, "unknown dtype 7" },
  { "flags", m_flags, PRIMA_FRAME_ERROR_INVALID, "unknown flags 0x0080" },
  { "both-logits", m_both_logits, PRIMA_FRAME_ERROR_INVALID, "ALL_LOGITS and NO_LOGITS" },
  { "seq", m_seq, PRIMA_FRAME_ERROR_INVALID, "sequence id 2147483648" },
  { "pos-negative", m_pos_neg, PRIMA_FRAME_ERROR_INVALID, "positions -5" },
  { "pos-overflow", m_pos_overflow, PRIMA_FRAME_ERROR_INVALID, "positions 2147483646 + 2" },
  { "tokens-zero", m_tokens_zero, PRIMA_FRAME_ERROR_INVALID, "n_tokens is 0" },
  { "tokens-huge", m_tokens_huge, PRIMA_FRAME_ERROR_LIMIT, "n_tokens 1000000 exceeds" },
  { "layer-huge", m_layer_huge, PRIMA_FRAME_ERROR_INVALID, "next layer 268435456" },
  { "embd-zero", m_embd_zero, PRIMA_FRAME_ERROR_INVALID, "n_embd 0 out of range" },
  { "embd-huge", m_embd_huge, PRIMA_FRAME_ERROR_INVALID, "n_embd 1073741824 out of range" },
  { "len-mismatch", m_len_mismatch, PRIMA_FRAME_ERROR_INVALID, "payload length 12 is not n_tokens 2 x n_embd 8 x 4 = 64" },
  { "len-huge", m_len_huge, PRIMA_FRAME_ERROR_INVALID, "payload length 18446744073709551615" },
  { "truncated", m_truncated, PRIMA_FRAME_ERROR_TRUNCATED, "payload truncated (63 of 64 bytes)" },
  { "trailing", m_trailing, PRIMA_FRAME_ERROR_INVALID, "1 trailing bytes" },
  { "short", m_short, PRIMA_FRAME_ERROR_TRUNCATED, "20 bytes, shorter than the 48-byte header" },
  { "empty", m_empty, PRIMA_FRAME_ERROR_TRUNCATED, "0 bytes" },
};

static void
test_bad_header (gconstpointer data)
{
  const bad_case *bc = data;
  GByteArray *b = valid_frame (2, 8);
  prima_frame_header h;
  const guint8 *payload = NULL;
  GError *err = NULL;

  g_assert_true (prima_frame_decode (b->data, b->len, NULL, &h, &payload, NULL));
  bc->mutate (b);
  g_assert_false (prima_frame_decode (b->data, b->len, NULL, &h, &payload, &err));
  g_assert_error (err, PRIMA_FRAME_ERROR, bc->code);
  if (strstr (err->message, bc->message) == NULL)
    g_error ("%s: message \"%s\" lacks \"%s\"", bc->name, err->message, bc->message);
  g_assert_null (strchr (err->message, '\n'));
  g_assert_true (g_str_has_prefix (err->message, "frame: "));
  g_error_free (err);
  g_byte_array_unref (b);
}

/* The receiver's limits: model width, layer count, tokens, payload cap. */
static void
test_limits (void)
{
  GByteArray *b = valid_frame (4, 64);   /* next_layer 5, 4 x 64 x 4 = 1024 bytes */
  prima_frame_header h;
  GError *err = NULL;
  prima_frame_limits lim = { 0 };

  lim.n_embd = 64;
  lim.n_layer = 6;
  lim.max_tokens = 4;
  lim.max_payload = 1024;
  g_assert_true (prima_frame_decode (b->data, b->len, &lim, &h, NULL, &err));
  g_assert_no_error (err);

  lim.n_embd = 4096;
  g_assert_false (prima_frame_decode (b->data, b->len, &lim, &h, NULL, &err));
  g_assert_error (err, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_LIMIT);
  g_assert_nonnull (strstr (err->message, "n_embd 64 does not match the model's 4096"));
  g_clear_error (&err);
  lim.n_embd = 64;

  lim.n_layer = 5;
  g_assert_false (prima_frame_decode (b->data, b->len, &lim, &h, NULL, &err));
  g_assert_nonnull (strstr (err->message, "next layer 5 out of range (model has 5 layers)"));
  g_clear_error (&err);
  lim.n_layer = 6;

  lim.max_tokens = 3;
  g_assert_false (prima_frame_decode (b->data, b->len, &lim, &h, NULL, &err));
  g_assert_error (err, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_LIMIT);
  g_clear_error (&err);
  lim.max_tokens = 4;

  lim.max_payload = 1023;
  g_assert_false (prima_frame_decode (b->data, b->len, &lim, &h, NULL, &err));
  g_assert_error (err, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_LIMIT);
  g_assert_nonnull (strstr (err->message, "payload of 1024 bytes exceeds the limit 1023"));
  g_clear_error (&err);
  g_byte_array_unref (b);
}

/* An encoder refuses a header a decoder would refuse. */
static void
test_encode_refuses_invalid (void)
{
  GByteArray *buf = g_byte_array_new ();
  prima_frame_header h;
  float x[8] = { 0 };
  GError *err = NULL;

  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, 0, 1, 0, 8);
  h.payload_len = 4;
  g_assert_false (prima_frame_encode (&h, x, buf, &err));
  g_assert_error (err, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID);
  g_clear_error (&err);
  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, -1, 1, 0, 8);
  g_assert_false (prima_frame_encode (&h, x, buf, &err));
  g_clear_error (&err);
  g_byte_array_unref (buf);
}

/* Deterministic mutations of valid frames: decoding never crashes, and what
 * it accepts is self-consistent. */
static void
test_mutations (void)
{
  GRand *r = g_rand_new_with_seed (20260101);
  for (int iter = 0; iter < 20000; iter++) {
    GByteArray *b = valid_frame (1 + g_rand_int_range (r, 0, 3), 1 + g_rand_int_range (r, 0, 16));
    prima_frame_header h;
    const guint8 *payload;
    int n = 1 + g_rand_int_range (r, 0, 4);
    for (int k = 0; k < n; k++) {
      guint pos = g_rand_int_range (r, 0, MIN (b->len, PRIMA_FRAME_HEADER_SIZE + 8));
      b->data[pos] = (guint8) g_rand_int_range (r, 0, 256);
    }
    if (g_rand_boolean (r))
      g_byte_array_set_size (b, g_rand_int_range (r, 0, b->len + 1));
    if (prima_frame_decode (b->data, b->len, NULL, &h, &payload, NULL)) {
      g_assert_cmpuint (h.payload_len + PRIMA_FRAME_HEADER_SIZE, ==, b->len);
      g_assert_cmpuint (h.payload_len, ==, (guint64) h.n_tokens * h.n_embd * prima_frame_dtype_size (h.dtype));
    }
    g_byte_array_unref (b);
  }
  g_rand_free (r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ring-frame/round-trip-f32", test_round_trip_f32);
  g_test_add_func ("/ring-frame/round-trip-f16", test_round_trip_f16);
  g_test_add_func ("/ring-frame/buffer-reuse", test_buffer_reuse);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++) {
    char *path = g_strdup_printf ("/ring-frame/bad/%s", bad_cases[i].name);
    g_test_add_data_func (path, &bad_cases[i], test_bad_header);
    g_free (path);
  }
  g_test_add_func ("/ring-frame/limits", test_limits);
  g_test_add_func ("/ring-frame/encode-refuses-invalid", test_encode_refuses_invalid);
  g_test_add_func ("/ring-frame/mutations", test_mutations);
  return g_test_run ();
}
