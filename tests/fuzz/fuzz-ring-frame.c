/* gst-prima: libFuzzer target for the ring's binary frame decoder.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Decodes the input as one frame, with the format's own limits and with a
 * receiver's tighter ones. A frame that decodes must be self-consistent
 * (payload inside the input, length = tokens x embd x dtype size), convert
 * to f32 without reading outside the payload, and encode back to exactly the
 * input bytes (the layout has no slack, so decoding is the inverse of
 * encoding). Built with -DPRIMA_FUZZ_REPLAY it replays a corpus. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "ring-frame.h"

static volatile float sink;

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_error (GError *error)
{
  /* Every refusal explains itself in one line of the frame domain. */
  if (error == NULL || error->domain != PRIMA_FRAME_ERROR || error->message == NULL
      || strchr (error->message, '\n') != NULL)
    __builtin_trap ();
  g_error_free (error);
}

static void
decode_with (const uint8_t *data, size_t size, const prima_frame_limits *limits)
{
  prima_frame_header h;
  const guint8 *payload = NULL;
  GError *error = NULL;

  if (!prima_frame_decode (data, size, limits, &h, &payload, &error)) {
    check_error (error);
    return;
  }
  if (error != NULL || payload != data + PRIMA_FRAME_HEADER_SIZE)
    __builtin_trap ();
  if (h.payload_len != (guint64) h.n_tokens * h.n_embd * prima_frame_dtype_size (h.dtype)
      || h.payload_len != size - PRIMA_FRAME_HEADER_SIZE)
    __builtin_trap ();
  if (limits != NULL && ((limits->n_embd && h.n_embd != limits->n_embd)
          || (limits->n_layer && h.next_layer >= limits->n_layer)
          || (limits->max_tokens && h.n_tokens > limits->max_tokens)))
    __builtin_trap ();
  if (!prima_frame_header_validate (&h, limits, NULL))
    __builtin_trap ();

  {
    gsize n = (gsize) h.n_tokens * h.n_embd;
    float *rows = g_new (float, MAX (n, 1));
    GByteArray *buf = g_byte_array_new ();
    prima_frame_header back;
    const guint8 *back_payload;
    float acc = 0;
    prima_frame_payload_to_f32 (&h, payload, rows);
    for (gsize i = 0; i < n; i++)
      acc += rows[i];
    sink = acc;
    if (!prima_frame_encode (&h, payload, buf, NULL) || buf->len != size || memcmp (buf->data, data, size) != 0)
      __builtin_trap ();
    if (!prima_frame_decode (buf->data, buf->len, limits, &back, &back_payload, NULL)
        || memcmp (&back, &h, sizeof h) != 0)
      __builtin_trap ();
    g_byte_array_unref (buf);
    g_free (rows);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* The receiver of a small model: 4 layers of width 8, 64 tokens at most. */
  static const prima_frame_limits tight = { 8, 4, 64, 4096 };
  decode_with (data, size, NULL);
  decode_with (data, size, &tight);
  return 0;
}

#include "fuzz-main.h"
