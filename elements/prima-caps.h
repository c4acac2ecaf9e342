/* gst-prima: caps and the buffer header shared by the prima elements (their
 * custom events, messages and queries: prima-events.h).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every application/x-prima-* buffer starts with a 32-byte little-endian
 * header (PrimaHeader) and then its payload:
 *
 *   tokens  n_tokens int32 ids at positions pos0 .. pos0+n_tokens-1
 *           (pos0 = -1: "right after the previous buffer", the receiver counts);
 *           with PRIMA_FLAG_DRAFT the last next_layer of them are drafts
 *           (primadraft) to verify
 *   hidden  n_tokens x n-embd activations (dtype f32), next_layer = the first
 *           layer still to run
 *   logits  the ids of the n_tokens evaluated tokens (absent when the header has
 *           PRIMA_FLAG_NO_IDS), then n-vocab f32 logits of the last of them
 *           (at position pos0+n_tokens-1); the ids let the sampler keep its
 *           penalty history without a side channel; with PRIMA_FLAG_DRAFT
 *           (speculative decoding) n_tokens rows of logits, and next_layer is
 *           the number of draft tokens at the end of the ids, as on the
 *           tokens buffer it answers
 *
 * The header is the same one that later crosses the network between devices
 * (docs/design.md section 3): magic, version, message type, sequence id, first
 * position, n_tokens, next layer, dtype, payload length. Keeping it in the
 * buffer (not in a GstMeta) means a buffer can be sent as it is. */
#pragma once

#include <gst/gst.h>
#include <string.h>

#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "gst-prima's buffer payloads are little-endian; big-endian hosts are not supported"
#endif

G_BEGIN_DECLS

#define PRIMA_CAPS_TEXT "text/x-raw, format = (string) utf8"
#define PRIMA_CAPS_TOKENS "application/x-prima-tokens"
#define PRIMA_CAPS_LOGITS "application/x-prima-logits, n-vocab = (int) [ 1, MAX ]"
#define PRIMA_CAPS_HIDDEN "application/x-prima-hidden, n-embd = (int) [ 1, MAX ], format = (string) F32"

#define PRIMA_HEADER_MAGIC 0x414d5250u  /* "PRMA" read as little-endian */
#define PRIMA_HEADER_VERSION 1
#define PRIMA_HEADER_SIZE 32

typedef enum {
  PRIMA_PAYLOAD_TOKENS = 1,
  PRIMA_PAYLOAD_HIDDEN = 2,
  PRIMA_PAYLOAD_LOGITS = 3,
} PrimaPayloadType;

typedef enum {
  PRIMA_DTYPE_I32 = 0,
  PRIMA_DTYPE_F32 = 1,
  PRIMA_DTYPE_F16 = 2,
} PrimaDType;

typedef enum {
  PRIMA_FLAG_PROMPT = 1 << 0,   /* the tokens come from the user's text */
  PRIMA_FLAG_NO_IDS = 1 << 1,   /* logits without the evaluated ids (hidden input) */
  PRIMA_FLAG_DRAFT = 1 << 2,    /* speculative decoding: the last next_layer tokens are drafts
                                 * (tokens), and one logits row per token follows the ids (logits) */
} PrimaHeaderFlags;

typedef struct {
  guint32 magic;
  guint16 version;
  guint16 type;                 /* PrimaPayloadType */
  guint32 seq_id;
  gint32 pos0;
  guint32 n_tokens;
  gint32 next_layer;
  guint16 dtype;                /* PrimaDType */
  guint16 flags;                /* PrimaHeaderFlags */
  guint32 payload_size;         /* bytes after the header */
} PrimaHeader;

G_STATIC_ASSERT (sizeof (PrimaHeader) == PRIMA_HEADER_SIZE);

static inline void
prima_header_init (PrimaHeader * h, PrimaPayloadType type, guint32 n_tokens, guint32 payload_size)
{
  memset (h, 0, sizeof *h);
  h->magic = PRIMA_HEADER_MAGIC;
  h->version = PRIMA_HEADER_VERSION;
  h->type = type;
  h->pos0 = -1;
  h->n_tokens = n_tokens;
  h->dtype = type == PRIMA_PAYLOAD_TOKENS ? PRIMA_DTYPE_I32 : PRIMA_DTYPE_F32;
  h->payload_size = payload_size;
}

/* Reads and checks the header of a mapped buffer: the magic, the version,
 * the type and that the payload fills the rest of the buffer exactly. */
static inline gboolean
prima_header_parse (const guint8 * data, gsize size, PrimaPayloadType type, PrimaHeader * h)
{
  if (size < PRIMA_HEADER_SIZE)
    return FALSE;
  memcpy (h, data, PRIMA_HEADER_SIZE);
  return h->magic == PRIMA_HEADER_MAGIC && h->version == PRIMA_HEADER_VERSION && h->type == type
      && (gsize) h->payload_size == size - PRIMA_HEADER_SIZE;
}

/* A new buffer with the header written and room for its payload. */
static inline GstBuffer *
prima_buffer_new (const PrimaHeader * h)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, PRIMA_HEADER_SIZE + h->payload_size, NULL);
  gst_buffer_fill (buf, 0, h, PRIMA_HEADER_SIZE);
  return buf;
}

/* A tokens buffer holding n ids. */
static inline GstBuffer *
prima_tokens_buffer_new (const gint32 * ids, guint n, gint32 pos0, guint32 seq_id, guint16 flags)
{
  PrimaHeader h;
  GstBuffer *buf;
  prima_header_init (&h, PRIMA_PAYLOAD_TOKENS, n, n * sizeof (gint32));
  h.pos0 = pos0;
  h.seq_id = seq_id;
  h.flags = flags;
  buf = prima_buffer_new (&h);
  gst_buffer_fill (buf, PRIMA_HEADER_SIZE, ids, n * sizeof (gint32));
  GST_BUFFER_OFFSET (buf) = pos0 >= 0 ? (guint64) pos0 : GST_BUFFER_OFFSET_NONE;
  return buf;
}

/* Posts the element error for a model file that cannot be used: the file is
 * not set, does not exist, or is not a usable GGUF (err says why). A macro so
 * the log lines land in the calling element's debug category. */
#define PRIMA_ELEMENT_MODEL_ERROR(el, path, err)                                        \
  G_STMT_START {                                                                        \
    if ((path) == NULL || *(const char *) (path) == '\0')                               \
      GST_ELEMENT_ERROR ((el), RESOURCE, NOT_FOUND,                                     \
          (_("No model file was given (set the \"model\" property).")), (NULL));       \
    else if (!g_file_test ((path), G_FILE_TEST_EXISTS))                                 \
      GST_ELEMENT_ERROR ((el), RESOURCE, NOT_FOUND,                                     \
          (_("Model file \"%s\" does not exist."), (path)),                             \
          ("%s", (err) ? (err)->message : "no such file"));                             \
    else if ((err) && strstr ((err)->message, (path)))                                  \
      GST_ELEMENT_ERROR ((el), RESOURCE, OPEN_READ,                                     \
          (_("Could not load the model: %s"), (err)->message), (NULL));                \
    else                                                                                \
      GST_ELEMENT_ERROR ((el), RESOURCE, OPEN_READ,                                     \
          (_("Could not load the model \"%s\": %s"), (path),                            \
              (err) ? (err)->message : "unknown error"), (NULL));                       \
  } G_STMT_END

G_END_DECLS
