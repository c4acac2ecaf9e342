/* gst-prima: the binary activation frame that crosses one ring hop.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "ring-frame.h"

#include <string.h>

#include "fp16.h"

G_DEFINE_QUARK (prima-frame-error-quark, prima_frame_error)

/* Payloads are copied as they are in memory; the wire is little-endian (as
 * GGUF files, which the rest of the project maps in place). */
G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);

/* No model has anywhere near this many layers; it keeps a corrupt next_layer
 * from passing when the receiver gave no n_layer. */
#define MAX_LAYER_INDEX 65535

/* Byte offsets of the fields (docs/wire-protocol.md). */
enum {
  OFF_MAGIC = 0,
  OFF_VERSION = 4,
  OFF_HEADER_SIZE = 6,
  OFF_TYPE = 8,
  OFF_DTYPE = 9,
  OFF_FLAGS = 10,
  OFF_SEQ_ID = 12,
  OFF_POS0 = 16,
  OFF_N_TOKENS = 20,
  OFF_NEXT_LAYER = 24,
  OFF_N_EMBD = 28,
  OFF_PAYLOAD_LEN = 32,
  OFF_ORIGIN_US = 40,
};

static inline guint16
rd16 (const guint8 *p)
{
  return (guint16) (p[0] | (p[1] << 8));
}

static inline guint32
rd32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16) | ((guint32) p[3] << 24);
}

static inline guint64
rd64 (const guint8 *p)
{
  return (guint64) rd32 (p) | ((guint64) rd32 (p + 4) << 32);
}

static inline void
wr16 (guint8 *p, guint16 v)
{
  p[0] = v & 0xff;
  p[1] = v >> 8;
}

static inline void
wr32 (guint8 *p, guint32 v)
{
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = v >> 24;
}

static inline void
wr64 (guint8 *p, guint64 v)
{
  wr32 (p, (guint32) v);
  wr32 (p + 4, (guint32) (v >> 32));
}

gsize
prima_frame_dtype_size (guint8 dtype)
{
  switch (dtype) {
    case PRIMA_FRAME_DTYPE_F32:
      return 4;
    case PRIMA_FRAME_DTYPE_F16:
      return 2;
    default:
      return 0;
  }
}

void
prima_frame_header_init (prima_frame_header *h, prima_frame_type type, prima_frame_dtype dtype,
    guint32 seq_id, gint32 pos0, guint32 n_tokens, guint32 next_layer, guint32 n_embd)
{
  memset (h, 0, sizeof *h);
  h->type = type;
  h->dtype = dtype;
  h->seq_id = seq_id;
  h->pos0 = pos0;
  h->n_tokens = n_tokens;
  h->next_layer = next_layer;
  h->n_embd = n_embd;
  h->payload_len = (guint64) n_tokens * n_embd * prima_frame_dtype_size (dtype);
}

gboolean
prima_frame_header_validate (const prima_frame_header *h, const prima_frame_limits *limits,
    GError **error)
{
  static const prima_frame_limits no_limits = { 0, 0, 0, 0 };
  const prima_frame_limits *lim = limits ? limits : &no_limits;
  guint64 max_payload = lim->max_payload ? lim->max_payload : PRIMA_FRAME_DEFAULT_MAX_PAYLOAD;
  guint32 max_tokens = lim->max_tokens && lim->max_tokens < PRIMA_FRAME_MAX_TOKENS
      ? lim->max_tokens : PRIMA_FRAME_MAX_TOKENS;
  gsize dsize = prima_frame_dtype_size (h->dtype);
  guint64 expect;

  if (h->type != PRIMA_FRAME_TYPE_HIDDEN) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: unknown message type %u", h->type);
    return FALSE;
  }
  if (dsize == 0) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: unknown dtype %u (0 = f32, 1 = f16)", h->dtype);
    return FALSE;
  }
  if (h->flags & ~PRIMA_FRAME_KNOWN_FLAGS) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: unknown flags 0x%04x", h->flags & ~PRIMA_FRAME_KNOWN_FLAGS);
    return FALSE;
  }
  if ((h->flags & PRIMA_FRAME_FLAG_ALL_LOGITS) && (h->flags & PRIMA_FRAME_FLAG_NO_LOGITS)) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: flags ALL_LOGITS and NO_LOGITS together");
    return FALSE;
  }
  if (h->seq_id > G_MAXINT32) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: sequence id %u out of range", h->seq_id);
    return FALSE;
  }
  if (h->n_tokens == 0) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID, "frame: n_tokens is 0");
    return FALSE;
  }
  if (h->n_tokens > max_tokens) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_LIMIT,
        "frame: n_tokens %u exceeds the limit %u", h->n_tokens, max_tokens);
    return FALSE;
  }
  if (h->n_embd == 0 || h->n_embd > PRIMA_FRAME_MAX_EMBD) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: n_embd %u out of range (1..%u)", h->n_embd, PRIMA_FRAME_MAX_EMBD);
    return FALSE;
  }
  if (lim->n_embd && h->n_embd != lim->n_embd) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_LIMIT,
        "frame: n_embd %u does not match the model's %u", h->n_embd, lim->n_embd);
    return FALSE;
  }
  if (h->pos0 < 0 || (gint64) h->pos0 + h->n_tokens > G_MAXINT32) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: positions %d + %u out of range", h->pos0, h->n_tokens);
    return FALSE;
  }
  if (h->next_layer > MAX_LAYER_INDEX || (lim->n_layer && h->next_layer >= lim->n_layer)) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: next layer %u out of range (model has %u layers)", h->next_layer,
        lim->n_layer ? lim->n_layer : MAX_LAYER_INDEX + 1);
    return FALSE;
  }
  /* cannot overflow: both factors are bounded above */
  expect = (guint64) h->n_tokens * h->n_embd * dsize;
  if (h->payload_len != expect) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: payload length %" G_GUINT64_FORMAT " is not n_tokens %u x n_embd %u x %" G_GSIZE_FORMAT
        " = %" G_GUINT64_FORMAT, h->payload_len, h->n_tokens, h->n_embd, dsize, expect);
    return FALSE;
  }
  if (h->payload_len > max_payload) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_LIMIT,
        "frame: payload of %" G_GUINT64_FORMAT " bytes exceeds the limit %" G_GUINT64_FORMAT,
        h->payload_len, max_payload);
    return FALSE;
  }
  return TRUE;
}

void
prima_frame_header_write (const prima_frame_header *h, guint8 out[PRIMA_FRAME_HEADER_SIZE])
{
  memcpy (out + OFF_MAGIC, PRIMA_FRAME_MAGIC, 4);
  wr16 (out + OFF_VERSION, PRIMA_FRAME_VERSION);
  wr16 (out + OFF_HEADER_SIZE, PRIMA_FRAME_HEADER_SIZE);
  out[OFF_TYPE] = h->type;
  out[OFF_DTYPE] = h->dtype;
  wr16 (out + OFF_FLAGS, h->flags);
  wr32 (out + OFF_SEQ_ID, h->seq_id);
  wr32 (out + OFF_POS0, (guint32) h->pos0);
  wr32 (out + OFF_N_TOKENS, h->n_tokens);
  wr32 (out + OFF_NEXT_LAYER, h->next_layer);
  wr32 (out + OFF_N_EMBD, h->n_embd);
  wr64 (out + OFF_PAYLOAD_LEN, h->payload_len);
  wr64 (out + OFF_ORIGIN_US, h->origin_us);
}

/* Encoders validate against the format only (no receiver limits), but with
 * the largest payload the format allows. */
static gboolean
validate_for_encode (const prima_frame_header *h, GError **error)
{
  prima_frame_limits lim = { 0, 0, 0, G_MAXUINT64 };
  return prima_frame_header_validate (h, &lim, error);
}

gboolean
prima_frame_encode (const prima_frame_header *h, const void *payload, GByteArray *buf,
    GError **error)
{
  if (!validate_for_encode (h, error))
    return FALSE;
  /* set_size keeps the allocation when it is large enough already */
  g_byte_array_set_size (buf, PRIMA_FRAME_HEADER_SIZE + h->payload_len);
  prima_frame_header_write (h, buf->data);
  memcpy (buf->data + PRIMA_FRAME_HEADER_SIZE, payload, h->payload_len);
  return TRUE;
}

gboolean
prima_frame_encode_f32 (const prima_frame_header *h, const float *rows, GByteArray *buf,
    GError **error)
{
  guint64 n;
  guint8 *out;

  if (h->dtype == PRIMA_FRAME_DTYPE_F32)
    return prima_frame_encode (h, rows, buf, error);
  if (!validate_for_encode (h, error))
    return FALSE;
  g_byte_array_set_size (buf, PRIMA_FRAME_HEADER_SIZE + h->payload_len);
  prima_frame_header_write (h, buf->data);
  out = buf->data + PRIMA_FRAME_HEADER_SIZE;
  n = (guint64) h->n_tokens * h->n_embd;
  for (guint64 i = 0; i < n; i++)
    wr16 (out + 2 * i, prima_fp32_to_fp16 (rows[i]));
  return TRUE;
}

gboolean
prima_frame_decode (const guint8 *data, gsize len, const prima_frame_limits *limits,
    prima_frame_header *h, const guint8 **payload, GError **error)
{
  prima_frame_header tmp;
  guint16 version, header_size;

  if (len < PRIMA_FRAME_HEADER_SIZE) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_TRUNCATED,
        "frame: %" G_GSIZE_FORMAT " bytes, shorter than the %d-byte header", len, PRIMA_FRAME_HEADER_SIZE);
    return FALSE;
  }
  if (memcmp (data + OFF_MAGIC, PRIMA_FRAME_MAGIC, 4) != 0) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_MAGIC,
        "frame: bad magic %02x %02x %02x %02x (expected \"PRIM\")",
        data[0], data[1], data[2], data[3]);
    return FALSE;
  }
  version = rd16 (data + OFF_VERSION);
  if (version != PRIMA_FRAME_VERSION) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_VERSION,
        "frame: unsupported version %u (this build speaks %u)", version, PRIMA_FRAME_VERSION);
    return FALSE;
  }
  header_size = rd16 (data + OFF_HEADER_SIZE);
  if (header_size != PRIMA_FRAME_HEADER_SIZE) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: header size %u, version %u has %d", header_size, version, PRIMA_FRAME_HEADER_SIZE);
    return FALSE;
  }
  tmp.type = data[OFF_TYPE];
  tmp.dtype = data[OFF_DTYPE];
  tmp.flags = rd16 (data + OFF_FLAGS);
  tmp.seq_id = rd32 (data + OFF_SEQ_ID);
  tmp.pos0 = (gint32) rd32 (data + OFF_POS0);
  tmp.n_tokens = rd32 (data + OFF_N_TOKENS);
  tmp.next_layer = rd32 (data + OFF_NEXT_LAYER);
  tmp.n_embd = rd32 (data + OFF_N_EMBD);
  tmp.payload_len = rd64 (data + OFF_PAYLOAD_LEN);
  tmp.origin_us = rd64 (data + OFF_ORIGIN_US);
  if (!prima_frame_header_validate (&tmp, limits, error))
    return FALSE;
  if (len - PRIMA_FRAME_HEADER_SIZE < tmp.payload_len) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_TRUNCATED,
        "frame: payload truncated (%" G_GSIZE_FORMAT " of %" G_GUINT64_FORMAT " bytes)",
        len - PRIMA_FRAME_HEADER_SIZE, tmp.payload_len);
    return FALSE;
  }
  if (len - PRIMA_FRAME_HEADER_SIZE > tmp.payload_len) {
    g_set_error (error, PRIMA_FRAME_ERROR, PRIMA_FRAME_ERROR_INVALID,
        "frame: %" G_GUINT64_FORMAT " trailing bytes after the payload",
        (guint64) (len - PRIMA_FRAME_HEADER_SIZE) - tmp.payload_len);
    return FALSE;
  }
  *h = tmp;
  if (payload)
    *payload = data + PRIMA_FRAME_HEADER_SIZE;
  return TRUE;
}

void
prima_frame_payload_to_f32 (const prima_frame_header *h, const guint8 *payload, float *out)
{
  guint64 n = (guint64) h->n_tokens * h->n_embd;

  if (h->dtype == PRIMA_FRAME_DTYPE_F32) {
    memcpy (out, payload, n * sizeof (float));
    return;
  }
  for (guint64 i = 0; i < n; i++)
    out[i] = prima_fp16_to_fp32 (rd16 (payload + 2 * i));
}
