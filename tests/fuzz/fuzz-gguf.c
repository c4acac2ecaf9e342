/* gst-prima: libFuzzer target for the GGUF reader.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Parses the input with gguf_open_memory and, when it opens, reads every
 * key/value and tensor through the public accessors, so the sanitizers see
 * any pointer the reader hands out that is not backed by the input. Built
 * with -DPRIMA_FUZZ_REPLAY (gcc) it runs the files named on its command line
 * through the same code, to replay a corpus or a crash.
 */
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gguf.h"

static volatile uint8_t sink;

static void
touch (const void *p, uint64_t n)
{
  const uint8_t *b = p;
  uint8_t x = 0;
  for (uint64_t i = 0; i < n; i++)
    x ^= b[i];
  sink ^= x;
}

static void
walk (const gguf_file *f, const uint8_t *data, size_t size)
{
  size_t map_size;
  if (gguf_mapping (f, &map_size) != data || map_size != size)
    __builtin_trap ();
  if (gguf_version (f) != 2 && gguf_version (f) != 3)
    __builtin_trap ();
  if (gguf_alignment (f) == 0 || (gguf_alignment (f) & (gguf_alignment (f) - 1)) != 0)
    __builtin_trap ();
  touch (gguf_path (f), strlen (gguf_path (f)));

  for (int64_t i = 0; i < gguf_n_kv (f); i++) {
    const char *key = gguf_key (f, i);
    gguf_type t = gguf_kv_type (f, i);
    uint32_t u32;
    int64_t i64;
    float f32;
    gboolean b;
    const char *s;
    if (gguf_find_key (f, key) != i)
      __builtin_trap ();
    touch (key, strlen (key) + 1);
    if (gguf_get_u32 (f, key, &u32))
      sink ^= (uint8_t) u32;
    if (gguf_get_i64 (f, key, &i64))
      sink ^= (uint8_t) i64;
    if (gguf_get_f32 (f, key, &f32))
      sink ^= (uint8_t) (f32 == f32);
    if (gguf_get_bool (f, key, &b))
      sink ^= (uint8_t) b;
    if ((s = gguf_get_str (f, key)) != NULL)
      touch (s, gguf_kv_str_len (f, i) + 1);

    switch (t) {
      case GGUF_TYPE_STRING:
        touch (gguf_kv_str (f, i), gguf_kv_str_len (f, i) + 1);
        break;
      case GGUF_TYPE_ARRAY:{
        gguf_type et = gguf_arr_type (f, i);
        uint64_t n = gguf_arr_n (f, i);
        if (et == GGUF_TYPE_STRING) {
          for (uint64_t k = 0; k < n; k++) {
            const char *e = gguf_arr_str (f, i, k);
            uint64_t len = gguf_arr_str_len (f, i, k);
            touch (e, len + 1);
            if (e[len] != '\0')
              __builtin_trap ();
          }
        } else {
          const uint8_t *p = gguf_arr_data (f, i);
          uint64_t bytes = n * gguf_type_size (et);
          if (bytes > 0 && (p < data || p + bytes > data + size))
            __builtin_trap ();
          touch (p, bytes);
        }
        break;
      }
      default:
        touch (gguf_kv_data (f, i), gguf_type_size (t));
        break;
    }
  }

  for (int64_t i = 0; i < gguf_n_tensors (f); i++) {
    const gguf_tensor *t = gguf_tensor_at (f, i);
    uint64_t rows = (uint64_t) t->ne[1] * t->ne[2] * t->ne[3];
    if (gguf_find_tensor (f, t->name) != t)
      __builtin_trap ();
    if (prima_type_name (t->type) == NULL || t->n_dims > GGUF_MAX_DIMS)
      __builtin_trap ();
    if (t->size != prima_row_size (t->type, t->ne[0]) * rows)
      __builtin_trap ();
    if (t->data < data || t->size > size || t->data + t->size > data + size)
      __builtin_trap ();
    if (t->offset % gguf_alignment (f) != 0
        || t->data != data + gguf_data_offset (f) + t->offset)
      __builtin_trap ();
    touch (t->name, strlen (t->name) + 1);
    /* First and last byte: enough for ASan to catch a bad range. */
    touch (t->data, 1);
    touch (t->data + t->size - 1, 1);
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  gguf_file *f = gguf_open_memory (data, size, "fuzz.gguf", &error);
  if (f == NULL) {
    /* Every failure explains itself in one line. */
    if (error == NULL || error->message == NULL || strchr (error->message, '\n') != NULL)
      __builtin_trap ();
    g_error_free (error);
    return 0;
  }
  if (error != NULL)
    __builtin_trap ();
  walk (f, data, size);
  gguf_close (f);
  return 0;
}

#ifdef PRIMA_FUZZ_REPLAY
int
main (int argc, char **argv)
{
  int failed = 0;
  for (int i = 1; i < argc; i++) {
    char *contents = NULL;
    gsize len = 0;
    GError *error = NULL;
    if (!g_file_get_contents (argv[i], &contents, &len, &error)) {
      fprintf (stderr, "%s\n", error->message);
      g_error_free (error);
      failed = 1;
      continue;
    }
    /* An exact-size copy, so a read past the end is caught as in the fuzzer. */
    {
      uint8_t *copy = g_memdup2 (contents, len);
      LLVMFuzzerTestOneInput (copy, len);
      g_free (copy);
    }
    g_free (contents);
    printf ("%s: ok\n", argv[i]);
  }
  return failed;
}
#endif
