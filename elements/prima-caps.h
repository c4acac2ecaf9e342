/* gst-prima: caps, the buffer header and the custom events and queries shared
 * by the prima elements.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every application/x-prima-* buffer starts with a 32-byte little-endian
 * header (PrimaHeader) and then its payload:
 *
 *   tokens  n_tokens int32 ids at positions pos0 .. pos0+n_tokens-1
 *           (pos0 = -1: "right after the previous buffer", the receiver counts)
 *   hidden  n_tokens x n-embd activations (dtype f32), next_layer = the first
 *           layer still to run
 *   logits  the ids of the n_tokens evaluated tokens (absent when the header has
 *           PRIMA_FLAG_NO_IDS), then n-vocab f32 logits of the last of them
 *           (at position pos0+n_tokens-1); the ids let the sampler keep its
 *           penalty history without a side channel
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

/* Custom serialized downstream event: forget the KV cache (and the sampler's
 * penalty history); the next tokens start at position 0. */
#define PRIMA_EVENT_KV_CLEAR "prima-kv-clear"

static inline GstEvent *
prima_event_new_kv_clear (void)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new_empty (PRIMA_EVENT_KV_CLEAR));
}

static inline gboolean
prima_event_is_kv_clear (GstEvent * event)
{
  return GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_DOWNSTREAM && gst_event_has_name (event, PRIMA_EVENT_KV_CLEAR);
}

/* Custom serialized downstream events: drop the cached positions [p0, p1)
 * (p1 -1: to the end), or add delta to the positions [p0, p1); both with
 * "seq" (int, -1: every sequence). primaloop sends them for a context shift;
 * primalayers applies them to its windows and, on the head of a ring, sends
 * them around it (net/gstprimawssrc.h). */
#ifndef PRIMA_EVENT_KV_REMOVE
#define PRIMA_EVENT_KV_REMOVE "prima-kv-remove"
#endif
#ifndef PRIMA_EVENT_KV_SHIFT
#define PRIMA_EVENT_KV_SHIFT "prima-kv-shift"
#endif

static inline GstEvent *
prima_event_new_kv_remove (gint seq, gint p0, gint p1)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new (PRIMA_EVENT_KV_REMOVE,
          "seq", G_TYPE_INT, seq, "p0", G_TYPE_INT, p0, "p1", G_TYPE_INT, p1, NULL));
}

static inline GstEvent *
prima_event_new_kv_shift (gint seq, gint p0, gint p1, gint delta)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new (PRIMA_EVENT_KV_SHIFT,
          "seq", G_TYPE_INT, seq, "p0", G_TYPE_INT, p0, "p1", G_TYPE_INT, p1, "delta", G_TYPE_INT, delta, NULL));
}

/* Custom upstream event from primaloop to primatokenizer after a context
 * shift (llama-cli's): the positions [n-keep, n-keep + n-discard) left the
 * KV cache and the later ones moved down by n-discard. */
#define PRIMA_EVENT_KV_SHIFTED "prima-kv-shifted"

static inline GstEvent *
prima_event_new_kv_shifted (gint n_keep, gint n_discard)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new (PRIMA_EVENT_KV_SHIFTED,
          "n-keep", G_TYPE_INT, n_keep, "n-discard", G_TYPE_INT, n_discard, NULL));
}

/* Where position p of the cache went after that shift (a discarded one: to
 * n_keep, where re-evaluated text would start). */
static inline gint
prima_kv_shifted_position (gint p, gint n_keep, gint n_discard)
{
  return p >= n_keep + n_discard ? p - n_discard : MIN (p, n_keep);
}

/* Custom serialized downstream event: the end of a turn. From
 * primatokenizer in chat mode it follows the tokens of a user turn (the loop
 * starts generating); from primaloop it follows the last token of an answer
 * in chat mode, instead of end-of-stream (the detokenizer flushes, the
 * application prints its prompt). Fields of the loop's: "reason" (string, as
 * in the prima-turn message). */
#define PRIMA_EVENT_END_OF_TURN "prima-end-of-turn"

static inline GstEvent *
prima_event_new_end_of_turn (const gchar * reason)
{
  GstStructure *s = gst_structure_new_empty (PRIMA_EVENT_END_OF_TURN);

  if (reason)
    gst_structure_set (s, "reason", G_TYPE_STRING, reason, NULL);
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, s);
}

static inline gboolean
prima_event_is_end_of_turn (GstEvent * event)
{
  return GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_DOWNSTREAM && gst_event_has_name (event, PRIMA_EVENT_END_OF_TURN);
}

/* Custom upstream event from primaloop to primatokenizer at the end of a
 * chat turn: "ids" (GstBuffer, a tokens buffer holding the generated tokens
 * that were evaluated, i.e. that are in the KV cache, at their positions) and
 * "position" (int, the next free position). The tokenizer adds the answer to
 * its conversation. The optional "refused" (boolean) says that the user's
 * message did not fit and was dropped. */
#define PRIMA_EVENT_ANSWER "prima-answer"

static inline GstEvent *
prima_event_new_answer (GstBuffer * ids, gint position)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new (PRIMA_EVENT_ANSWER,
          "ids", GST_TYPE_BUFFER, ids, "position", G_TYPE_INT, position, NULL));
}

static inline gboolean
prima_event_is_answer (GstEvent * event)
{
  return GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM && gst_event_has_name (event, PRIMA_EVENT_ANSWER);
}

/* The answer to a user message that did not fit in the context: nothing was
 * evaluated, and the tokenizer drops the message from its conversation (field
 * "refused", boolean), so that the next message is answered. */
static inline GstEvent *
prima_event_answer_set_refused (GstEvent * event)
{
  event = (GstEvent *) gst_mini_object_make_writable (GST_MINI_OBJECT_CAST (event));
  gst_structure_set (gst_event_writable_structure (event), "refused", G_TYPE_BOOLEAN, TRUE, NULL);
  return event;
}

static inline gboolean
prima_event_answer_is_refused (GstEvent * event)
{
  gboolean refused = FALSE;

  gst_structure_get_boolean (gst_event_get_structure (event), "refused", &refused);
  return refused;
}

/* Custom upstream event (or one sent to primaloop with
 * gst_element_send_event()): stop the current answer after the token being
 * evaluated; the turn ends with reason "interrupted". */
#define PRIMA_EVENT_INTERRUPT "prima-interrupt"

static inline GstEvent *
prima_event_new_interrupt (void)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new_empty (PRIMA_EVENT_INTERRUPT));
}

static inline gboolean
prima_event_is_interrupt (GstEvent * event)
{
  return GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM && gst_event_has_name (event, PRIMA_EVENT_INTERRUPT);
}

/* Custom upstream event for the ring's elements (primawssrc, primawssink),
 * sent to each with gst_element_send_event() by the application of a device
 * that failed: "rank" (int, the device's rank; -1 unknown) and "message"
 * (string, why). The element sends the reason to its peer (an `error`
 * message and a close with code 4006, docs/wire-protocol.md), so it travels
 * round the ring to the head. */
#define PRIMA_EVENT_DEVICE_FAILED "prima-device-failed"

static inline GstEvent *
prima_event_new_device_failed (gint rank, const gchar * message)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new (PRIMA_EVENT_DEVICE_FAILED,
          "rank", G_TYPE_INT, rank, "message", G_TYPE_STRING, message ? message : "unknown error", NULL));
}

static inline gboolean
prima_event_is_device_failed (GstEvent * event)
{
  return GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM
      && gst_event_has_name (event, PRIMA_EVENT_DEVICE_FAILED);
}

/* The event's fields; message points into the event. FALSE when it is not one. */
static inline gboolean
prima_event_parse_device_failed (GstEvent * event, gint * rank, const gchar ** message)
{
  const GstStructure *s;

  if (!prima_event_is_device_failed (event))
    return FALSE;
  s = gst_event_get_structure (event);
  if (rank && !gst_structure_get_int (s, "rank", rank))
    *rank = -1;
  if (message) {
    *message = gst_structure_get_string (s, "message");
    if (*message == NULL)
      *message = "unknown error";
  }
  return TRUE;
}

/* Element message that primaloop posts at the end of each turn:
 * "prompt-tokens" (int), "prompt-time" (guint64 ns: from sending the prompt
 * to its first sampled token), "generated" (int, tokens sampled),
 * "decode-tokens" (int, of them evaluated after the first: generated - 1),
 * "decode-time" (guint64 ns: from the first sampled token to the last),
 * "position" (int, positions in the KV cache), "chat" (boolean) and "reason"
 * (string: "end-of-generation", "n-predict", "context-full", "stop-string",
 * "interrupted" or "empty"). */
#define PRIMA_MESSAGE_TURN "prima-turn"

/* Custom query answered by primalayers: "n-ctx" (int, KV positions) and
 * "position" (int, the next position it will evaluate). */
#define PRIMA_QUERY_CONTEXT "prima-context"

static inline GstQuery *
prima_query_new_context (void)
{
  return gst_query_new_custom (GST_QUERY_CUSTOM, gst_structure_new_empty (PRIMA_QUERY_CONTEXT));
}

static inline gboolean
prima_query_is_context (GstQuery * query)
{
  const GstStructure *s;

  if (GST_QUERY_TYPE (query) != GST_QUERY_CUSTOM)
    return FALSE;
  s = gst_query_get_structure (query);
  return s != NULL && gst_structure_has_name (s, PRIMA_QUERY_CONTEXT);
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
