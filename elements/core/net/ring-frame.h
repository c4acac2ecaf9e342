/* gst-prima: the binary activation frame that crosses one ring hop.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A frame is a fixed 48-byte little-endian header followed by the payload
 * (n_tokens x n_embd values of the header's dtype), carried as one binary
 * WebSocket message. docs/wire-protocol.md documents the layout byte by byte.
 *
 * Encoding writes into a caller-owned GByteArray that is reused from token to
 * token (no allocation once it has grown to the largest frame). Decoding takes
 * untrusted bytes, checks every field and gives a one-line GError that names
 * the problem; on success the payload points into the caller's bytes. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define PRIMA_FRAME_MAGIC "PRIM"
#define PRIMA_FRAME_VERSION 1
#define PRIMA_FRAME_HEADER_SIZE 48

/* Hard limits of the format: a decoder refuses anything larger whatever the
 * caller's limits say (they also bound n_tokens x n_embd x 4 below 2^32). */
#define PRIMA_FRAME_MAX_TOKENS 16384
#define PRIMA_FRAME_MAX_EMBD 65536
/* Default payload cap: a 512-token prefill chunk of n_embd 16384 in f32. */
#define PRIMA_FRAME_DEFAULT_MAX_PAYLOAD (G_GUINT64_CONSTANT (32) << 20)

#define PRIMA_FRAME_ERROR (prima_frame_error_quark ())
GQuark prima_frame_error_quark (void);

typedef enum {
  PRIMA_FRAME_ERROR_TRUNCATED,  /* fewer bytes than the header or the payload length */
  PRIMA_FRAME_ERROR_MAGIC,
  PRIMA_FRAME_ERROR_VERSION,
  PRIMA_FRAME_ERROR_INVALID,    /* a field out of range or inconsistent with another */
  PRIMA_FRAME_ERROR_LIMIT,      /* valid but beyond the receiver's limits */
} PrimaFrameError;

typedef enum {
  PRIMA_FRAME_TYPE_HIDDEN = 1,  /* hidden states entering layer next_layer */
} prima_frame_type;

/* Values match ggml's type ids for the two float types. */
typedef enum {
  PRIMA_FRAME_DTYPE_F32 = 0,
  PRIMA_FRAME_DTYPE_F16 = 1,
} prima_frame_dtype;

typedef enum {
  /* The device that applies the output head returns logits for every row
   * (evaluation, perplexity), not only for the last one. */
  PRIMA_FRAME_FLAG_ALL_LOGITS = 1u << 0,
  /* An intermediate chunk of a prompt: no logits are wanted at all. */
  PRIMA_FRAME_FLAG_NO_LOGITS = 1u << 1,
} prima_frame_flags;
#define PRIMA_FRAME_KNOWN_FLAGS (PRIMA_FRAME_FLAG_ALL_LOGITS | PRIMA_FRAME_FLAG_NO_LOGITS)

typedef struct {
  guint8 type;                  /* prima_frame_type */
  guint8 dtype;                 /* prima_frame_dtype */
  guint16 flags;                /* prima_frame_flags */
  guint32 seq_id;               /* the conversation (KV sequence) the rows belong to */
  gint32 pos0;                  /* position of the first row; rows are pos0 .. pos0+n_tokens-1 */
  guint32 n_tokens;
  guint32 next_layer;           /* first layer the receiver must run */
  guint32 n_embd;
  guint64 payload_len;          /* bytes; = n_tokens x n_embd x dtype size */
  guint64 origin_us;            /* opaque to hops: the originator's timestamp, copied unchanged */
} prima_frame_header;

/* What a receiver accepts beyond the format's own checks; 0 means "any".
 * A NULL limits pointer means all zero with max_payload the default. */
typedef struct {
  guint32 n_embd;               /* exact n_embd of the model */
  guint32 n_layer;              /* next_layer must be < n_layer */
  guint32 max_tokens;
  guint64 max_payload;          /* 0 = PRIMA_FRAME_DEFAULT_MAX_PAYLOAD */
} prima_frame_limits;

gsize prima_frame_dtype_size (guint8 dtype);   /* 0 for an unknown dtype */

/* Fills payload_len from n_tokens, n_embd and dtype (encoders need not). */
void prima_frame_header_init (prima_frame_header *h, prima_frame_type type, prima_frame_dtype dtype,
    guint32 seq_id, gint32 pos0, guint32 n_tokens, guint32 next_layer, guint32 n_embd);

/* Checks a header's fields against the format and the limits (decode does
 * this too; encode does it so a bug never reaches the wire). */
gboolean prima_frame_header_validate (const prima_frame_header *h, const prima_frame_limits *limits,
    GError **error);

/* Writes the 48 header bytes into out. The header must be valid. */
void prima_frame_header_write (const prima_frame_header *h, guint8 out[PRIMA_FRAME_HEADER_SIZE]);

/* Encodes header + payload (payload_len bytes, already in the header's dtype)
 * into buf, replacing its contents. buf keeps its capacity between calls, so a
 * reused buffer does not allocate once it has grown. */
gboolean prima_frame_encode (const prima_frame_header *h, const void *payload, GByteArray *buf,
    GError **error);

/* Encodes from f32 rows (n_tokens x n_embd), converting to the header's dtype
 * on the way into buf (f16 halves the bytes on the wire). */
gboolean prima_frame_encode_f32 (const prima_frame_header *h, const float *rows, GByteArray *buf,
    GError **error);

/* Decodes untrusted bytes. On success *h is filled and *payload (when not
 * NULL) points at the payload inside data (no copy; it need not be aligned). */
gboolean prima_frame_decode (const guint8 *data, gsize len, const prima_frame_limits *limits,
    prima_frame_header *h, const guint8 **payload, GError **error);

/* Converts a decoded payload to f32 rows (n_tokens x n_embd floats), from
 * f32 or f16, whatever the payload's alignment. */
void prima_frame_payload_to_f32 (const prima_frame_header *h, const guint8 *payload, float *out);

G_END_DECLS
