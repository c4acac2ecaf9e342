/* gst-prima tests: GGUF reader and writer, valid and hostile files.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <math.h>

#include "gguf.h"
#include "mkmodel.h"
#include "test-common.h"

/* ---- helpers ---- */

/* Touch everything a caller could read, so ASan sees any bad pointer. */
static void
walk (const gguf_file *f)
{
  volatile uint8_t sink = 0;
  for (int64_t i = 0; i < gguf_n_kv (f); i++) {
    const char *key = gguf_key (f, i);
    gguf_type t = gguf_kv_type (f, i);
    uint32_t u32;
    int64_t i64;
    float f32;
    gboolean b;
    g_assert_nonnull (key);
    g_assert_cmpint (gguf_find_key (f, key), ==, i);
    gguf_get_u32 (f, key, &u32);
    gguf_get_i64 (f, key, &i64);
    gguf_get_f32 (f, key, &f32);
    gguf_get_bool (f, key, &b);
    gguf_get_str (f, key);
    if (t == GGUF_TYPE_STRING) {
      const char *s = gguf_kv_str (f, i);
      uint64_t n = gguf_kv_str_len (f, i);
      for (uint64_t k = 0; k <= n; k++)
        sink ^= (uint8_t) s[k];
    } else if (t == GGUF_TYPE_ARRAY) {
      uint64_t n = gguf_arr_n (f, i);
      if (gguf_arr_type (f, i) == GGUF_TYPE_STRING) {
        for (uint64_t k = 0; k < n; k++) {
          const char *s = gguf_arr_str (f, i, k);
          uint64_t len = gguf_arr_str_len (f, i, k);
          g_assert_cmpint (s[len], ==, 0);
          for (uint64_t c = 0; c < len; c++)
            sink ^= (uint8_t) s[c];
        }
      } else {
        const uint8_t *p = gguf_arr_data (f, i);
        uint64_t bytes = n * gguf_type_size (gguf_arr_type (f, i));
        for (uint64_t k = 0; k < bytes; k++)
          sink ^= p[k];
      }
    } else {
      const uint8_t *p = gguf_kv_data (f, i);
      for (size_t k = 0; k < gguf_type_size (t); k++)
        sink ^= p[k];
    }
  }
  for (int64_t i = 0; i < gguf_n_tensors (f); i++) {
    const gguf_tensor *t = gguf_tensor_at (f, i);
    g_assert_true (gguf_find_tensor (f, t->name) == t);
    g_assert_cmpuint (t->size, ==, prima_row_size (t->type, t->ne[0]) * t->ne[1] * t->ne[2] * t->ne[3]);
    g_assert_cmpuint (t->offset % gguf_alignment (f), ==, 0);
    if (t->size > 0)
      sink ^= t->data[0] ^ t->data[t->size - 1];
  }
  (void) sink;
}

/* Open a copy of exactly len bytes, so ASan catches any read past the end. */
static gguf_file *
open_copy (const uint8_t *data, size_t len, GError **error, uint8_t **copy)
{
  *copy = g_malloc (len > 0 ? len : 1);
  memcpy (*copy, data, len);
  return gguf_open_memory (*copy, len, "broken.gguf", error);
}

/* ---- a small file built by hand, with the position of every field ---- */

typedef struct {
  GByteArray *b;
  size_t version, n_tensors, n_kv;
  size_t kv_key_len[5], kv_key[5], kv_type[5], kv_value[5];
  size_t arr_count[5];
  size_t t_name[2], t_n_dims[2], t_ne[2], t_type[2], t_offset[2];
  size_t data_start;
} sample;

static size_t
b_u32 (GByteArray *b, uint32_t v)
{
  size_t at = b->len;
  v = GUINT32_TO_LE (v);
  g_byte_array_append (b, (guint8 *) &v, 4);
  return at;
}

static size_t
b_u64 (GByteArray *b, uint64_t v)
{
  size_t at = b->len;
  v = GUINT64_TO_LE (v);
  g_byte_array_append (b, (guint8 *) &v, 8);
  return at;
}

static size_t
b_str (GByteArray *b, const char *s)
{
  size_t at = b_u64 (b, strlen (s));
  g_byte_array_append (b, (const guint8 *) s, strlen (s));
  return at;
}

static const char *const sample_tokens[] = { "a", "bc", "" };
static const float sample_floats[] = { 1.0f, 2.0f, 3.0f };

static uint8_t
pattern (int tensor, size_t j)
{
  return (uint8_t) (tensor * 31 + j * 7 + (j >> 8));
}

static void
sample_build (sample *s)
{
  GByteArray *b = g_byte_array_new ();
  memset (s, 0, sizeof *s);
  s->b = b;
  g_byte_array_append (b, (const guint8 *) "GGUF", 4);
  s->version = b_u32 (b, 3);
  s->n_tensors = b_u64 (b, 2);
  s->n_kv = b_u64 (b, 5);

  s->kv_key_len[0] = b_str (b, "general.architecture");
  s->kv_type[0] = b_u32 (b, GGUF_TYPE_STRING);
  s->kv_value[0] = b_str (b, "llama");

  s->kv_key_len[1] = b_str (b, "general.alignment");
  s->kv_type[1] = b_u32 (b, GGUF_TYPE_UINT32);
  s->kv_value[1] = b_u32 (b, 32);

  s->kv_key_len[2] = b_str (b, "tokenizer.ggml.tokens");
  s->kv_type[2] = b_u32 (b, GGUF_TYPE_ARRAY);
  s->kv_value[2] = b_u32 (b, GGUF_TYPE_STRING);
  s->arr_count[2] = b_u64 (b, 3);
  for (int i = 0; i < 3; i++)
    b_str (b, sample_tokens[i]);

  s->kv_key_len[3] = b_str (b, "some.f32arr");
  s->kv_type[3] = b_u32 (b, GGUF_TYPE_ARRAY);
  s->kv_value[3] = b_u32 (b, GGUF_TYPE_FLOAT32);
  s->arr_count[3] = b_u64 (b, 3);
  for (int i = 0; i < 3; i++) {
    uint32_t w;
    memcpy (&w, &sample_floats[i], 4);
    b_u32 (b, w);
  }

  s->kv_key_len[4] = b_str (b, "some.u64val");
  s->kv_type[4] = b_u32 (b, GGUF_TYPE_UINT64);
  s->kv_value[4] = b_u64 (b, 123);
  for (int i = 0; i < 5; i++)
    s->kv_key[i] = s->kv_key_len[i] + 8;

  /* tok.weight: F32 [4, 2] = 32 bytes at 0; out.weight: Q8_0 [32, 2] = 68 bytes at 32 */
  s->t_name[0] = b_str (b, "tok.weight");
  s->t_n_dims[0] = b_u32 (b, 2);
  s->t_ne[0] = b_u64 (b, 4);
  b_u64 (b, 2);
  s->t_type[0] = b_u32 (b, PRIMA_TYPE_F32);
  s->t_offset[0] = b_u64 (b, 0);

  s->t_name[1] = b_str (b, "out.weight");
  s->t_n_dims[1] = b_u32 (b, 2);
  s->t_ne[1] = b_u64 (b, 32);
  b_u64 (b, 2);
  s->t_type[1] = b_u32 (b, PRIMA_TYPE_Q8_0);
  s->t_offset[1] = b_u64 (b, 32);

  while (b->len % 32 != 0)
    g_byte_array_append (b, (const guint8 *) "", 1);
  s->data_start = b->len;
  for (size_t j = 0; j < 32; j++) {
    uint8_t v = pattern (0, j);
    g_byte_array_append (b, &v, 1);
  }
  for (size_t j = 0; j < 68; j++) {
    uint8_t v = pattern (1, j);
    g_byte_array_append (b, &v, 1);
  }
}

static void
sample_free (sample *s)
{
  g_byte_array_unref (s->b);
}

static void
patch_u32 (sample *s, size_t at, uint32_t v)
{
  v = GUINT32_TO_LE (v);
  memcpy (s->b->data + at, &v, 4);
}

static void
patch_u64 (sample *s, size_t at, uint64_t v)
{
  v = GUINT64_TO_LE (v);
  memcpy (s->b->data + at, &v, 8);
}

/* Open the (patched) sample and check it fails with a one-line message
 * that names the file, contains each phrase, and ends "at offset N". */
static void
expect_error (sample *s, const char *const *phrases, int64_t at_offset)
{
  GError *error = NULL;
  uint8_t *copy;
  gguf_file *f = open_copy (s->b->data, s->b->len, &error, &copy);
  g_assert_null (f);
  g_assert_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_FORMAT);
  g_test_message ("%s", error->message);
  g_assert_null (strchr (error->message, '\n'));
  g_assert_true (g_str_has_prefix (error->message, "broken.gguf: "));
  g_assert_nonnull (strstr (error->message, " at offset "));
  for (const char *const *p = phrases; *p != NULL; p++)
    if (strstr (error->message, *p) == NULL)
      g_error ("'%s' does not contain '%s'", error->message, *p);
  if (at_offset >= 0) {
    char *tail = g_strdup_printf (" at offset %" G_GINT64_FORMAT, at_offset);
    if (!g_str_has_suffix (error->message, tail))
      g_error ("'%s' does not end with '%s'", error->message, tail);
    g_free (tail);
  }
  g_error_free (error);
  g_free (copy);
}

#define EXPECT(s, at, ...) do { \
    const char *const phrases_[] = { __VA_ARGS__, NULL }; \
    expect_error ((s), phrases_, (at)); \
  } while (0)

/* ---- tests ---- */

static void
test_sample_valid (void)
{
  sample s;
  GError *error = NULL;
  gguf_file *f;
  uint8_t *copy;
  uint64_t u64;
  int64_t id;
  const gguf_tensor *t;

  sample_build (&s);
  f = open_copy (s.b->data, s.b->len, &error, &copy);
  g_assert_no_error (error);
  g_assert_cmpuint (gguf_version (f), ==, 3);
  g_assert_cmpuint (gguf_alignment (f), ==, 32);
  g_assert_cmpuint (gguf_data_offset (f), ==, s.data_start);
  g_assert_cmpint (gguf_n_kv (f), ==, 5);
  g_assert_cmpint (gguf_n_tensors (f), ==, 2);
  g_assert_cmpstr (gguf_get_str (f, "general.architecture"), ==, "llama");
  id = gguf_find_key (f, "tokenizer.ggml.tokens");
  g_assert_cmpint (id, ==, 2);
  g_assert_cmpint (gguf_arr_type (f, id), ==, GGUF_TYPE_STRING);
  g_assert_cmpuint (gguf_arr_n (f, id), ==, 3);
  for (int i = 0; i < 3; i++) {
    g_assert_cmpstr (gguf_arr_str (f, id, i), ==, sample_tokens[i]);
    g_assert_cmpuint (gguf_arr_str_len (f, id, i), ==, strlen (sample_tokens[i]));
  }
  id = gguf_find_key (f, "some.f32arr");
  g_assert_cmpmem (gguf_arr_data (f, id), 12, sample_floats, 12);
  id = gguf_find_key (f, "some.u64val");
  memcpy (&u64, gguf_kv_data (f, id), 8);
  g_assert_cmpuint (u64, ==, 123);
  g_assert_cmpint (gguf_find_key (f, "absent"), ==, -1);
  g_assert_null (gguf_find_tensor (f, "absent"));
  t = gguf_find_tensor (f, "out.weight");
  g_assert_nonnull (t);
  g_assert_cmpuint (t->type, ==, PRIMA_TYPE_Q8_0);
  g_assert_cmpint (t->ne[0], ==, 32);
  g_assert_cmpint (t->ne[1], ==, 2);
  g_assert_cmpint (t->ne[2], ==, 1);
  g_assert_cmpuint (t->size, ==, 68);
  g_assert_true (t->data == copy + s.data_start + 32);
  for (size_t j = 0; j < 68; j++)
    g_assert_cmpuint (t->data[j], ==, pattern (1, j));
  walk (f);
  gguf_close (f);
  g_free (copy);

  /* Version 2 has the same layout. */
  patch_u32 (&s, s.version, 2);
  f = open_copy (s.b->data, s.b->len, &error, &copy);
  g_assert_no_error (error);
  g_assert_cmpuint (gguf_version (f), ==, 2);
  gguf_close (f);
  g_free (copy);
  sample_free (&s);
}

/* The writer lays the same content out byte for byte as the hand-built file. */
static gboolean
fill_pattern (void *buf, size_t size, gpointer user_data, GError **error)
{
  int tensor = GPOINTER_TO_INT (user_data);
  uint8_t *p = buf;
  for (size_t j = 0; j < size; j++)
    p[j] = pattern (tensor, j);
  return TRUE;
}

static char *
tmp_path (const char *name)
{
  static char *dir = NULL;
  if (dir == NULL) {
    GError *error = NULL;
    dir = g_dir_make_tmp ("test-gguf-XXXXXX", &error);
    g_assert_no_error (error);
  }
  return g_build_filename (dir, name, NULL);
}

static void
test_writer_matches_sample (void)
{
  sample s;
  gguf_writer *w = gguf_writer_new ();
  const int64_t ne0[2] = { 4, 2 }, ne1[2] = { 32, 2 };
  char *path = tmp_path ("sample.gguf");
  GError *error = NULL;
  char *contents;
  gsize len;

  gguf_writer_set_str (w, "general.architecture", "llama");
  gguf_writer_set_u32 (w, "general.alignment", 32);
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", sample_tokens, 3);
  gguf_writer_set_arr (w, "some.f32arr", GGUF_TYPE_FLOAT32, sample_floats, 3);
  {
    uint64_t v = 7;
    gguf_writer_set_val (w, "some.u64val", GGUF_TYPE_UINT64, &v);
    v = 123;                    /* set twice: first position, last value */
    gguf_writer_set_val (w, "some.u64val", GGUF_TYPE_UINT64, &v);
  }
  gguf_writer_add_tensor (w, "tok.weight", PRIMA_TYPE_F32, 2, ne0, fill_pattern, GINT_TO_POINTER (0));
  gguf_writer_add_tensor (w, "out.weight", PRIMA_TYPE_Q8_0, 2, ne1, fill_pattern, GINT_TO_POINTER (1));
  g_assert_true (gguf_writer_write (w, path, &error));
  g_assert_no_error (error);
  gguf_writer_free (w);

  sample_build (&s);
  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  g_assert_cmpmem (contents, len, s.b->data, s.b->len);
  g_free (contents);
  sample_free (&s);
  g_unlink (path);
  g_free (path);
}

typedef struct {
  const char *key;
  gguf_type type;
  uint8_t bytes[8];
} scalar_case;

static void
test_round_trip (void)
{
  const uint8_t u8 = 250;
  const int8_t i8 = -100;
  const uint16_t u16 = 65000;
  const int16_t i16 = -32000;
  const uint32_t u32 = 4000000000u;
  const int32_t i32 = -2000000000;
  const float f32 = 3.25f;
  const uint8_t bl = 1;
  const uint64_t u64 = G_GUINT64_CONSTANT (18000000000000000000);
  const int64_t i64 = G_GINT64_CONSTANT (-9000000000000000000);
  const double f64 = 1e300;
  const void *values[GGUF_TYPE_COUNT] = {
    &u8, &i8, &u16, &i16, &u32, &i32, &f32, &bl, NULL, NULL, &u64, &i64, &f64,
  };
  const int64_t ne_f32[2] = { 8, 3 }, ne_f16[1] = { 16 }, ne_q8[3] = { 64, 2, 2 }, ne_i32[1] = { 5 };
  const int64_t ne_bf16[4] = { 3, 1, 2, 1 }, ne_q4k[2] = { 256, 3 };
  struct {
    const char *name;
    uint32_t type;
    uint32_t n_dims;
    const int64_t *ne;
  } tensors[] = {
    {"a.f32", PRIMA_TYPE_F32, 2, ne_f32},
    {"b.f16", PRIMA_TYPE_F16, 1, ne_f16},
    {"c.q8_0", PRIMA_TYPE_Q8_0, 3, ne_q8},
    {"d.i32", PRIMA_TYPE_I32, 1, ne_i32},
    {"e.bf16", PRIMA_TYPE_BF16, 4, ne_bf16},
    {"f.q4_k", PRIMA_TYPE_Q4_K, 2, ne_q4k},
  };
  char *path = tmp_path ("round-trip.gguf");
  gguf_writer *w = gguf_writer_new ();
  GError *error = NULL;
  gguf_file *f;
  GPtrArray *strs = g_ptr_array_new_with_free_func (g_free);
  uint8_t arr[GGUF_TYPE_COUNT][5 * 8];
  uint32_t gu32;
  int64_t gi64;
  float gf32;
  gboolean gb;

  for (int t = 0; t < GGUF_TYPE_COUNT; t++) {
    char key[64];
    if (values[t] == NULL)
      continue;
    g_snprintf (key, sizeof key, "scalar.%s", gguf_type_name (t));
    gguf_writer_set_val (w, key, t, values[t]);
    for (size_t k = 0; k < sizeof arr[t]; k++)
      arr[t][k] = (uint8_t) (t * 13 + k);
    if (t == GGUF_TYPE_BOOL)
      for (size_t k = 0; k < 5; k++)
        arr[t][k] = k & 1;
    g_snprintf (key, sizeof key, "array.%s", gguf_type_name (t));
    gguf_writer_set_arr (w, key, t, arr[t], 5);
  }
  gguf_writer_set_u32 (w, "general.alignment", 64);
  gguf_writer_set_i32 (w, "typed.i32", -5);
  gguf_writer_set_f32 (w, "typed.f32", 0.5f);
  gguf_writer_set_bool (w, "typed.bool", TRUE);
  gguf_writer_set_str (w, "typed.str", "h\xc3\xa9llo w\xc3\xb6rld");
  gguf_writer_set_str (w, "typed.empty", "");
  gguf_writer_set_arr (w, "array.empty", GGUF_TYPE_INT32, NULL, 0);
  gguf_writer_set_arr_str (w, "array.str.empty", NULL, 0);
  for (int i = 0; i < 20000; i++)
    g_ptr_array_add (strs, i % 97 == 0 ? g_strdup ("") : g_strdup_printf ("tok%d\xe2\x96\x81", i));
  gguf_writer_set_arr_str (w, "array.str", (const char *const *) strs->pdata, strs->len);
  for (guint i = 0; i < G_N_ELEMENTS (tensors); i++)
    gguf_writer_add_tensor (w, tensors[i].name, tensors[i].type, tensors[i].n_dims, tensors[i].ne,
        fill_pattern, GINT_TO_POINTER (i));
  g_assert_true (gguf_writer_write (w, path, &error));
  g_assert_no_error (error);
  gguf_writer_free (w);

  f = gguf_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (gguf_version (f), ==, 3);
  g_assert_cmpuint (gguf_alignment (f), ==, 64);
  g_assert_cmpuint (gguf_data_offset (f) % 64, ==, 0);
  walk (f);
  for (int t = 0; t < GGUF_TYPE_COUNT; t++) {
    char key[64];
    int64_t id;
    if (values[t] == NULL)
      continue;
    g_snprintf (key, sizeof key, "scalar.%s", gguf_type_name (t));
    id = gguf_find_key (f, key);
    g_assert_cmpint (id, >=, 0);
    g_assert_cmpint (gguf_kv_type (f, id), ==, t);
    g_assert_cmpmem (gguf_kv_data (f, id), gguf_type_size (t), values[t], gguf_type_size (t));
    g_snprintf (key, sizeof key, "array.%s", gguf_type_name (t));
    id = gguf_find_key (f, key);
    g_assert_cmpint (gguf_kv_type (f, id), ==, GGUF_TYPE_ARRAY);
    g_assert_cmpint (gguf_arr_type (f, id), ==, t);
    g_assert_cmpuint (gguf_arr_n (f, id), ==, 5);
    g_assert_cmpmem (gguf_arr_data (f, id), 5 * gguf_type_size (t), arr[t], 5 * gguf_type_size (t));
  }
  /* Typed getters convert integer widths, refuse what does not fit. */
  g_assert_true (gguf_get_u32 (f, "scalar.uint8", &gu32) && gu32 == 250);
  g_assert_true (gguf_get_u32 (f, "scalar.uint32", &gu32) && gu32 == 4000000000u);
  g_assert_false (gguf_get_u32 (f, "scalar.int8", &gu32));
  g_assert_false (gguf_get_u32 (f, "scalar.uint64", &gu32));
  g_assert_false (gguf_get_u32 (f, "scalar.float32", &gu32));
  g_assert_false (gguf_get_u32 (f, "absent", &gu32));
  g_assert_true (gguf_get_i64 (f, "scalar.int16", &gi64) && gi64 == -32000);
  g_assert_true (gguf_get_i64 (f, "scalar.int64", &gi64) && gi64 == i64);
  g_assert_false (gguf_get_i64 (f, "scalar.uint64", &gi64));
  g_assert_true (gguf_get_i64 (f, "typed.i32", &gi64) && gi64 == -5);
  g_assert_true (gguf_get_f32 (f, "scalar.float32", &gf32) && gf32 == 3.25f);
  g_assert_true (gguf_get_f32 (f, "typed.f32", &gf32) && gf32 == 0.5f);
  g_assert_true (gguf_get_f32 (f, "scalar.float64", &gf32) && isinf (gf32));
  g_assert_false (gguf_get_f32 (f, "scalar.int32", &gf32));
  g_assert_true (gguf_get_bool (f, "typed.bool", &gb) && gb);
  g_assert_false (gguf_get_bool (f, "scalar.uint8", &gb));
  g_assert_cmpstr (gguf_get_str (f, "typed.str"), ==, "h\xc3\xa9llo w\xc3\xb6rld");
  g_assert_cmpstr (gguf_get_str (f, "typed.empty"), ==, "");
  g_assert_null (gguf_get_str (f, "typed.i32"));
  g_assert_cmpuint (gguf_arr_n (f, gguf_find_key (f, "array.empty")), ==, 0);
  g_assert_cmpuint (gguf_arr_n (f, gguf_find_key (f, "array.str.empty")), ==, 0);
  {
    int64_t id = gguf_find_key (f, "array.str");
    g_assert_cmpuint (gguf_arr_n (f, id), ==, strs->len);
    for (guint i = 0; i < strs->len; i++) {
      g_assert_cmpstr (gguf_arr_str (f, id, i), ==, strs->pdata[i]);
      g_assert_cmpuint (gguf_arr_str_len (f, id, i), ==, strlen (strs->pdata[i]));
    }
  }
  g_assert_cmpint (gguf_n_tensors (f), ==, G_N_ELEMENTS (tensors));
  for (guint i = 0; i < G_N_ELEMENTS (tensors); i++) {
    const gguf_tensor *t = gguf_tensor_at (f, i);
    size_t size = prima_row_size (tensors[i].type, tensors[i].ne[0]);
    g_assert_cmpstr (t->name, ==, tensors[i].name);
    g_assert_cmpuint (t->type, ==, tensors[i].type);
    g_assert_cmpuint (t->n_dims, ==, tensors[i].n_dims);
    for (int d = 0; d < GGUF_MAX_DIMS; d++) {
      int64_t want = (uint32_t) d < tensors[i].n_dims ? tensors[i].ne[d] : 1;
      g_assert_cmpint (t->ne[d], ==, want);
      if (d > 0)
        size *= want;
    }
    g_assert_cmpuint (t->size, ==, size);
    g_assert_cmpuint (t->offset % 64, ==, 0);
    for (size_t j = 0; j < t->size; j++)
      if (t->data[j] != pattern (i, j))
        g_error ("tensor %s byte %zu differs", t->name, j);
  }

  /* copy_kv reproduces every value: copy all into a second file, compare. */
  {
    char *path2 = tmp_path ("copy.gguf");
    gguf_file *g;
    w = gguf_writer_new ();
    for (int64_t i = 0; i < gguf_n_kv (f); i++)
      gguf_writer_copy_kv (w, f, i);
    g_assert_true (gguf_writer_write (w, path2, &error));
    g_assert_no_error (error);
    gguf_writer_free (w);
    g = gguf_open (path2, &error);
    g_assert_no_error (error);
    g_assert_cmpint (gguf_n_kv (g), ==, gguf_n_kv (f));
    g_assert_cmpint (gguf_n_tensors (g), ==, 0);
    /* Same bytes for the whole key/value section. */
    {
      size_t fs, gs;
      const uint8_t *fm = gguf_mapping (f, &fs), *gm = gguf_mapping (g, &gs);
      size_t kv_end = gs;
      g_assert_cmpuint (gs, <=, fs);
      g_assert_cmpmem (fm + 24, kv_end - 24, gm + 24, kv_end - 24);
    }
    gguf_close (g);
    g_unlink (path2);
    g_free (path2);
  }
  gguf_close (f);
  g_ptr_array_unref (strs);
  g_unlink (path);
  g_free (path);
}

static gboolean
fill_fails (void *buf, size_t size, gpointer user_data, GError **error)
{
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "no data for this one");
  return FALSE;
}

static void
test_writer_errors (void)
{
  const int64_t ne[2] = { 32, 2 }, bad_ne[2] = { 16, 2 }, zero_ne[2] = { 32, 0 };
  char *path = tmp_path ("errors.gguf");
  char *tmp = g_strconcat (path, ".tmp", NULL);
  GError *error = NULL;
  gguf_writer *w;

  w = gguf_writer_new ();
  gguf_writer_add_tensor (w, "x", PRIMA_TYPE_F32, 2, ne, fill_pattern, NULL);
  gguf_writer_add_tensor (w, "x", PRIMA_TYPE_F32, 2, ne, fill_pattern, NULL);
  g_assert_false (gguf_writer_write (w, path, &error));
  g_assert_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "duplicate tensor name 'x'"));
  g_clear_error (&error);
  gguf_writer_free (w);

  w = gguf_writer_new ();
  gguf_writer_add_tensor (w, "q", PRIMA_TYPE_Q8_0, 2, bad_ne, fill_pattern, NULL);
  g_assert_false (gguf_writer_write (w, path, &error));
  g_assert_nonnull (strstr (error->message, "block size"));
  g_clear_error (&error);
  gguf_writer_free (w);

  w = gguf_writer_new ();
  gguf_writer_add_tensor (w, "z", PRIMA_TYPE_F32, 2, zero_ne, fill_pattern, NULL);
  g_assert_false (gguf_writer_write (w, path, &error));
  g_assert_nonnull (strstr (error->message, "must be positive"));
  g_clear_error (&error);
  gguf_writer_free (w);

  w = gguf_writer_new ();
  gguf_writer_add_tensor (w, "u", 99, 2, ne, fill_pattern, NULL);
  g_assert_false (gguf_writer_write (w, path, &error));
  g_assert_nonnull (strstr (error->message, "unknown type id 99"));
  g_clear_error (&error);
  gguf_writer_free (w);

  w = gguf_writer_new ();
  gguf_writer_set_u32 (w, "general.alignment", 48);
  g_assert_false (gguf_writer_write (w, path, &error));
  g_assert_nonnull (strstr (error->message, "bad alignment 48"));
  g_clear_error (&error);
  gguf_writer_free (w);

  /* A failing fill aborts and leaves neither the file nor the .tmp. */
  w = gguf_writer_new ();
  gguf_writer_add_tensor (w, "ok", PRIMA_TYPE_F32, 2, ne, fill_pattern, NULL);
  gguf_writer_add_tensor (w, "bad", PRIMA_TYPE_F32, 2, ne, fill_fails, NULL);
  g_assert_false (gguf_writer_write (w, path, &error));
  g_assert_nonnull (strstr (error->message, "tensor 'bad': no data for this one"));
  g_assert_null (strchr (error->message, '\n'));
  g_clear_error (&error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  gguf_writer_free (w);

  w = gguf_writer_new ();
  g_assert_false (gguf_writer_write (w, "/nonexistent-dir/x.gguf", &error));
  g_assert_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO);
  g_clear_error (&error);
  gguf_writer_free (w);

  /* Reader I/O errors. */
  g_assert_null (gguf_open ("/nonexistent-dir/x.gguf", &error));
  g_assert_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO);
  g_clear_error (&error);
  g_assert_null (gguf_open ("/", &error));
  g_assert_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO);
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  g_assert_null (gguf_open (path, &error));
  g_assert_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "truncated"));
  g_clear_error (&error);
  g_unlink (path);
  g_free (tmp);
  g_free (path);
}

static void
test_golden_files_open (void)
{
  const char *dirs[] = { "golden", "vocab" };
  int opened = 0;
  for (guint d = 0; d < G_N_ELEMENTS (dirs); d++) {
    char *dir = test_shared_path (dirs[d]);
    GDir *gd;
    const char *name;
    if (dir == NULL)
      return;
    gd = g_dir_open (dir, 0, NULL);
    g_assert_nonnull (gd);
    while ((name = g_dir_read_name (gd)) != NULL) {
      char *path;
      GError *error = NULL;
      gguf_file *f;
      if (!g_str_has_suffix (name, ".gguf"))
        continue;
      path = g_build_filename (dir, name, NULL);
      f = gguf_open (path, &error);
      g_assert_no_error (error);
      g_test_message ("%s: %" G_GINT64_FORMAT " keys, %" G_GINT64_FORMAT " tensors", name,
          gguf_n_kv (f), gguf_n_tensors (f));
      g_assert_nonnull (gguf_get_str (f, "general.architecture"));
      g_assert_cmpint (gguf_find_key (f, "tokenizer.ggml.tokens"), >=, 0);
      walk (f);
      gguf_close (f);
      g_free (path);
      opened++;
    }
    g_dir_close (gd);
    g_free (dir);
  }
  g_assert_cmpint (opened, >=, 10);
}

/* A real vocabulary copied key by key comes back identical. */
static void
test_copy_vocab (void)
{
  char *src_path = test_shared_path ("vocab/ggml-vocab-llama-spm.gguf");
  char *path;
  GError *error = NULL;
  gguf_file *src, *dst;
  gguf_writer *w;
  size_t ss, ds;
  const uint8_t *sm, *dm;
  if (src_path == NULL)
    return;
  src = gguf_open (src_path, &error);
  g_assert_no_error (error);
  w = gguf_writer_new ();
  for (int64_t i = 0; i < gguf_n_kv (src); i++)
    gguf_writer_copy_kv (w, src, i);
  path = tmp_path ("vocab-copy.gguf");
  g_assert_true (gguf_writer_write (w, path, &error));
  g_assert_no_error (error);
  gguf_writer_free (w);
  dst = gguf_open (path, &error);
  g_assert_no_error (error);
  sm = gguf_mapping (src, &ss);
  dm = gguf_mapping (dst, &ds);
  /* Same header and key/values; a file without tensors needs no padding. */
  g_assert_cmpuint (ds, <=, ss);
  g_assert_cmpuint (ss - ds, <, 32);
  g_assert_cmpmem (sm + 8, ds - 8, dm + 8, ds - 8);
  gguf_close (dst);
  gguf_close (src);
  g_unlink (path);
  g_free (path);
  g_free (src_path);
}

static void
test_truncated_everywhere (void)
{
  sample s;
  sample_build (&s);
  for (size_t len = 0; len < s.b->len; len++) {
    GError *error = NULL;
    uint8_t *copy;
    gguf_file *f = open_copy (s.b->data, len, &error, &copy);
    if (f != NULL)
      g_error ("a file truncated to %zu of %u bytes opened", len, s.b->len);
    g_assert_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_FORMAT);
    g_assert_null (strchr (error->message, '\n'));
    g_assert_nonnull (strstr (error->message, " at offset "));
    if (strstr (error->message, "truncated") == NULL && strstr (error->message, "past the end") == NULL)
      g_error ("truncated to %zu: unexpected message '%s'", len, error->message);
    /* Inside the data section the reader names the tensor that does not fit. */
    if (len >= s.data_start)
      g_assert_nonnull (strstr (error->message, "past the end of the file"));
    g_error_free (error);
    g_free (copy);
  }
  sample_free (&s);
}

static void
test_broken_header (void)
{
  sample s;

  sample_build (&s);
  memcpy (s.b->data, "GGUG", 4);
  EXPECT (&s, 0, "not a GGUF file (bad magic)");
  sample_free (&s);

  sample_build (&s);
  patch_u32 (&s, s.version, 1);
  EXPECT (&s, 4, "version 1 is not supported");
  patch_u32 (&s, s.version, 99);
  EXPECT (&s, 4, "unsupported GGUF version 99");
  patch_u32 (&s, s.version, GUINT32_SWAP_LE_BE (3));
  EXPECT (&s, 4, "big-endian");
  sample_free (&s);

  sample_build (&s);
  patch_u64 (&s, s.n_kv, G_GUINT64_CONSTANT (1) << 60);
  EXPECT (&s, 16, "key/value count 1152921504606846976");
  patch_u64 (&s, s.n_kv, G_MAXUINT64);
  EXPECT (&s, 16, "key/value count");
  sample_free (&s);

  sample_build (&s);
  patch_u64 (&s, s.n_tensors, G_GUINT64_CONSTANT (1) << 60);
  EXPECT (&s, 8, "tensor count 1152921504606846976");
  /* Small enough to pass the first bound, too many for what follows the kvs. */
  patch_u64 (&s, s.n_tensors, 10);
  EXPECT (&s, -1, "tensor count 10");
  sample_free (&s);

  /* A kv count one too high runs into the tensor infos: some error, no crash. */
  sample_build (&s);
  patch_u64 (&s, s.n_kv, 6);
  EXPECT (&s, -1, "file truncated");
  sample_free (&s);
}

static void
test_broken_kv (void)
{
  sample s;

  sample_build (&s);
  patch_u64 (&s, s.kv_key_len[0], G_GUINT64_CONSTANT (4294967296));
  EXPECT (&s, (int64_t) s.kv_key_len[0] + 8, "file truncated", "string length 4294967296 exceeds the");
  patch_u64 (&s, s.kv_key_len[0], G_MAXUINT64);
  EXPECT (&s, -1, "string length 18446744073709551615");
  sample_free (&s);

  sample_build (&s);
  patch_u64 (&s, s.kv_value[0], 1000);
  EXPECT (&s, -1, "key 'general.architecture'", "string length 1000");
  sample_free (&s);

  sample_build (&s);
  patch_u32 (&s, s.kv_type[4], 13);
  EXPECT (&s, (int64_t) s.kv_type[4], "key 'some.u64val'", "unknown value type 13");
  sample_free (&s);

  sample_build (&s);
  patch_u32 (&s, s.kv_value[3], GGUF_TYPE_ARRAY);
  EXPECT (&s, (int64_t) s.kv_value[3], "arrays of arrays are not supported");
  patch_u32 (&s, s.kv_value[3], 77);
  EXPECT (&s, (int64_t) s.kv_value[3], "unknown array element type 77");
  sample_free (&s);

  /* Huge array counts: n * elemsize would wrap 64 bits. */
  sample_build (&s);
  patch_u64 (&s, s.arr_count[3], G_GUINT64_CONSTANT (1) << 62);
  EXPECT (&s, -1, "some.f32arr", "array count 4611686018427387904");
  patch_u64 (&s, s.arr_count[3], G_MAXUINT64);
  EXPECT (&s, -1, "array count 18446744073709551615");
  sample_free (&s);

  sample_build (&s);
  patch_u64 (&s, s.arr_count[2], G_GUINT64_CONSTANT (1) << 60);
  EXPECT (&s, -1, "tokenizer.ggml.tokens", "array count 1152921504606846976");
  /* One element more than stored: the next key is read as a string. */
  patch_u64 (&s, s.arr_count[2], 4);
  EXPECT (&s, -1, "file truncated");
  sample_free (&s);

  sample_build (&s);
  patch_u64 (&s, s.arr_count[2] + 8, G_GUINT64_CONSTANT (1) << 40);
  EXPECT (&s, -1, "element 0: string length 1099511627776");
  sample_free (&s);

  sample_build (&s);
  memcpy (s.b->data + s.kv_key[4], "some.f32arr", 11);
  EXPECT (&s, (int64_t) s.kv_key_len[4], "duplicate key 'some.f32arr'");
  sample_free (&s);

  sample_build (&s);
  s.b->data[s.kv_key[3] + 4] = 0;
  EXPECT (&s, (int64_t) s.kv_key[3], "NUL byte");
  sample_free (&s);

  /* A control character in a name must not break the one-line message. */
  sample_build (&s);
  s.b->data[s.kv_key[4] + 4] = '\n';
  patch_u32 (&s, s.kv_type[4], 13);
  EXPECT (&s, -1, "key 'some?u64val'");
  sample_free (&s);
}

static void
test_broken_alignment (void)
{
  sample s;
  sample_build (&s);
  patch_u32 (&s, s.kv_value[1], 0);
  EXPECT (&s, (int64_t) s.kv_value[1], "bad alignment 0");
  patch_u32 (&s, s.kv_value[1], 3);
  EXPECT (&s, (int64_t) s.kv_value[1], "bad alignment 3");
  patch_u32 (&s, s.kv_value[1], 0x80000001u);
  EXPECT (&s, -1, "bad alignment 2147483649");
  /* Valid, but then the second tensor's offset 32 is misaligned. */
  patch_u32 (&s, s.kv_value[1], 64);
  EXPECT (&s, (int64_t) s.t_offset[1], "tensor 'out.weight' data offset 32 is not a multiple of the alignment 64");
  patch_u32 (&s, s.kv_value[1], 32);
  patch_u32 (&s, s.kv_type[1], GGUF_TYPE_INT32);
  EXPECT (&s, (int64_t) s.kv_type[1], "general.alignment has type int32");
  sample_free (&s);
}

static void
test_broken_tensors (void)
{
  sample s;

  sample_build (&s);
  patch_u32 (&s, s.t_n_dims[0], 5);
  EXPECT (&s, (int64_t) s.t_n_dims[0], "tensor 'tok.weight' has 5 dimensions");
  patch_u32 (&s, s.t_n_dims[0], G_MAXUINT32);
  EXPECT (&s, (int64_t) s.t_n_dims[0], "4294967295 dimensions");
  sample_free (&s);

  sample_build (&s);
  patch_u64 (&s, s.t_ne[0] + 8, 0);
  EXPECT (&s, (int64_t) s.t_ne[0] + 8, "tensor 'tok.weight' dimension 1 is 0");
  patch_u64 (&s, s.t_ne[0] + 8, (uint64_t) -1);
  EXPECT (&s, (int64_t) s.t_ne[0] + 8, "dimension 1 is -1");
  patch_u64 (&s, s.t_ne[0], 0);
  EXPECT (&s, (int64_t) s.t_ne[0], "dimension 0 is 0");
  sample_free (&s);

  /* Element count overflow: 2^32 * 2^32. */
  sample_build (&s);
  patch_u64 (&s, s.t_ne[0], G_GUINT64_CONSTANT (1) << 32);
  patch_u64 (&s, s.t_ne[0] + 8, G_GUINT64_CONSTANT (1) << 32);
  EXPECT (&s, -1, "too many elements");
  /* No overflow, but far larger than the file. */
  patch_u64 (&s, s.t_ne[0], G_GUINT64_CONSTANT (1) << 30);
  patch_u64 (&s, s.t_ne[0] + 8, G_GUINT64_CONSTANT (1) << 30);
  EXPECT (&s, -1, "tensor 'tok.weight' data", "past the end of the file");
  sample_free (&s);

  sample_build (&s);
  patch_u32 (&s, s.t_type[1], 99);
  EXPECT (&s, (int64_t) s.t_type[1], "tensor 'out.weight' has unknown type id 99");
  patch_u32 (&s, s.t_type[1], 4);     /* Q4_2: retired, no layout */
  EXPECT (&s, (int64_t) s.t_type[1], "unknown type id 4");
  patch_u32 (&s, s.t_type[1], G_MAXUINT32);
  EXPECT (&s, (int64_t) s.t_type[1], "unknown type id 4294967295");
  patch_u32 (&s, s.t_type[1], PRIMA_TYPE_Q8_K_X);   /* our own activation layout, never a file type */
  EXPECT (&s, (int64_t) s.t_type[1], "unknown type id 36");
  patch_u32 (&s, s.t_type[1], PRIMA_TYPE_Q4_K);
  EXPECT (&s, (int64_t) s.t_type[1], "row length 32 is not a multiple of the Q4_K block size 256");
  sample_free (&s);

  sample_build (&s);
  patch_u64 (&s, s.t_offset[1], 33);
  EXPECT (&s, (int64_t) s.t_offset[1], "data offset 33 is not a multiple of the alignment 32");
  patch_u64 (&s, s.t_offset[1], 1 << 20);
  EXPECT (&s, (int64_t) s.data_start + (1 << 20), "tensor 'out.weight' data (68 bytes) extends past the end");
  patch_u64 (&s, s.t_offset[1], G_MAXUINT64 - 31);
  EXPECT (&s, -1, "past the end of the file");
  patch_u64 (&s, s.t_offset[1], 64);     /* in the file, but 68 bytes do not fit */
  EXPECT (&s, -1, "past the end of the file");
  patch_u64 (&s, s.t_offset[1], 0);
  EXPECT (&s, (int64_t) s.data_start, "tensors 'tok.weight' and 'out.weight' overlap");
  sample_free (&s);

  sample_build (&s);
  memcpy (s.b->data + s.t_name[1] + 8, "tok.weight", 10);
  EXPECT (&s, (int64_t) s.t_name[1], "duplicate tensor name 'tok.weight'");
  sample_free (&s);

  sample_build (&s);
  patch_u64 (&s, s.t_name[1], G_GUINT64_CONSTANT (1) << 33);
  EXPECT (&s, -1, "tensor 1: string length 8589934592 exceeds");
  sample_free (&s);
}

/* Random byte changes: every result is a clean open or a clean error. */
static void
test_random_mutations (void)
{
  sample s;
  GRand *rng = g_rand_new_with_seed (1234);
  int opened = 0;
  sample_build (&s);
  for (int it = 0; it < 20000; it++) {
    GByteArray *m = g_byte_array_sized_new (s.b->len);
    GError *error = NULL;
    uint8_t *copy;
    gguf_file *f;
    int changes = g_rand_int_range (rng, 1, 5);
    g_byte_array_append (m, s.b->data, s.b->len);
    for (int c = 0; c < changes; c++) {
      guint at = g_rand_int_range (rng, 0, (gint32) m->len);
      switch (g_rand_int_range (rng, 0, 3)) {
        case 0:
          m->data[at] = (uint8_t) g_rand_int (rng);
          break;
        case 1:
          m->data[at] ^= (uint8_t) (1u << g_rand_int_range (rng, 0, 8));
          break;
        default:
          m->data[at] = g_rand_boolean (rng) ? 0xff : 0;
          break;
      }
    }
    f = open_copy (m->data, m->len, &error, &copy);
    if (f != NULL) {
      g_assert_no_error (error);
      walk (f);
      gguf_close (f);
      opened++;
    } else {
      g_assert_nonnull (error);
      g_assert_null (strchr (error->message, '\n'));
      g_error_free (error);
    }
    g_free (copy);
    g_byte_array_unref (m);
  }
  g_test_message ("%d of 20000 mutated files opened", opened);
  sample_free (&s);
  g_rand_free (rng);
}


/* ---- mkmodel ---- */

/* llama.cpp's Q4_K_M / Q5_K_M choices, checked against the reference files. */
static void
test_mkmodel_mix_matches_golden (void)
{
  const struct {
    const char *file, *ftype;
    gboolean tied;
  } cases[] = {
    {"golden/tiny-llama-Q4_K_M.gguf", "Q4_K_M", FALSE},
    {"golden/tiny-llama-Q5_K_M.gguf", "Q5_K_M", FALSE},
    {"golden/tiny-qwen2-Q4_K_M.gguf", "Q4_K_M", TRUE},
    {"golden/spm-llama-Q4_K_M.gguf", "Q4_K_M", FALSE},
    {"golden/tiny-llama-Q8_0.gguf", "Q8_0", FALSE},
    {"golden/tiny-llama-F16.gguf", "F16", FALSE},
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    char *path = test_shared_path (cases[c].file);
    GError *error = NULL;
    gguf_file *f;
    uint32_t n_layer = 0, ftype = 0, want_ftype = 0;
    if (path == NULL)
      return;
    f = gguf_open (path, &error);
    g_assert_no_error (error);
    g_assert_true (gguf_get_u32 (f, "general.file_type", &ftype));
    g_assert_true (prima_mk_file_type_id (cases[c].ftype, &want_ftype));
    g_assert_cmpuint (ftype, ==, want_ftype);
    {
      char *key = g_strdup_printf ("%s.block_count", gguf_get_str (f, "general.architecture"));
      g_assert_true (gguf_get_u32 (f, key, &n_layer));
      g_free (key);
    }
    for (int64_t i = 0; i < gguf_n_tensors (f); i++) {
      const gguf_tensor *t = gguf_tensor_at (f, i);
      int64_t layer = -1;
      uint32_t type;
      if (g_str_has_prefix (t->name, "rope_freqs"))
        continue;
      /* Plain types: llama.cpp gives output.weight Q6_K; mkmodel keeps the plain type. */
      if (strcmp (t->name, "output.weight") == 0 && strstr (cases[c].ftype, "_K_M") == NULL)
        continue;
      if (g_str_has_prefix (t->name, "blk."))
        layer = g_ascii_strtoll (t->name + 4, NULL, 10);
      g_assert_true (prima_mk_tensor_type (cases[c].ftype, t->name, layer, n_layer, cases[c].tied, &type));
      if (type != t->type)
        g_error ("%s: %s is %s, mkmodel would write %s", cases[c].file, t->name, prima_type_name (t->type),
            prima_type_name (type));
    }
    gguf_close (f);
    g_free (path);
  }
}

static void
write_small_vocab (const char *path, int n)
{
  gguf_writer *w = gguf_writer_new ();
  GPtrArray *toks = g_ptr_array_new_with_free_func (g_free);
  float *scores = g_new (float, n);
  int32_t *types = g_new (int32_t, n);
  GError *error = NULL;
  for (int i = 0; i < n; i++) {
    g_ptr_array_add (toks, g_strdup_printf ("<0x%02X>%d", i & 0xff, i));
    scores[i] = -i;
    types[i] = 1;
  }
  gguf_writer_set_str (w, "general.architecture", "llama");
  gguf_writer_set_str (w, "tokenizer.ggml.model", "llama");
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", (const char *const *) toks->pdata, n);
  gguf_writer_set_arr (w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, n);
  gguf_writer_set_arr (w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n);
  gguf_writer_set_u32 (w, "tokenizer.ggml.bos_token_id", 1);
  gguf_writer_set_u32 (w, "llama.not_copied", 7);
  g_assert_true (gguf_writer_write (w, path, &error));
  g_assert_no_error (error);
  gguf_writer_free (w);
  g_ptr_array_unref (toks);
  g_free (scores);
  g_free (types);
}

static double
tensor_std (const gguf_tensor *t)
{
  const prima_type_traits *tr = prima_type_get_traits (t->type);
  int64_t n = t->ne[0] * t->ne[1];
  float *y = g_new (float, n);
  double sum = 0, sum2 = 0;
  g_assert_nonnull (tr->to_float);
  tr->to_float (t->data, y, n);
  for (int64_t i = 0; i < n; i++) {
    g_assert_true (isfinite (y[i]));
    sum += y[i];
    sum2 += (double) y[i] * y[i];
  }
  g_free (y);
  return sqrt (sum2 / n - (sum / n) * (sum / n));
}

static void
test_mkmodel (void)
{
  char *vocab = tmp_path ("mk-vocab.gguf");
  const struct {
    prima_mk_arch arch;
    const char *type;
  } cases[] = {
    {PRIMA_MK_ARCH_LLAMA, "F32"},
    {PRIMA_MK_ARCH_LLAMA, "Q4_K_M"},
    {PRIMA_MK_ARCH_QWEN2, "Q8_0"},
  };
  write_small_vocab (vocab, 512);
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    char *out = tmp_path ("mk-model.gguf");
    prima_mk_params p;
    GError *error = NULL;
    gguf_file *f, *v;
    uint32_t u32;
    float f32;
    gboolean qwen2 = cases[c].arch == PRIMA_MK_ARCH_QWEN2;
    const char *arch = prima_mk_arch_name (cases[c].arch);
    char key[64];
    int64_t expect_tensors;

    g_assert_true (prima_mk_preset ("tiny", cases[c].arch, &p));
    g_strlcpy (p.file_type, cases[c].type, sizeof p.file_type);
    p.n_layer = 2;
    p.seed = 42;
    g_assert_true (prima_mk_write (&p, vocab, out, &error));
    g_assert_no_error (error);
    f = gguf_open (out, &error);
    g_assert_no_error (error);
    walk (f);
    g_assert_cmpstr (gguf_get_str (f, "general.architecture"), ==, arch);
#define CHECK_U32(suffix, want) \
    g_snprintf (key, sizeof key, "%s." suffix, arch); \
    g_assert_true (gguf_get_u32 (f, key, &u32)); \
    g_assert_cmpuint (u32, ==, (want))
    CHECK_U32 ("embedding_length", 256);
    CHECK_U32 ("block_count", 2);
    CHECK_U32 ("feed_forward_length", 768);
    CHECK_U32 ("attention.head_count", 8);
    CHECK_U32 ("attention.head_count_kv", 4);
    CHECK_U32 ("rope.dimension_count", 32);
    CHECK_U32 ("vocab_size", 512);
#undef CHECK_U32
    g_snprintf (key, sizeof key, "%s.rope.freq_base", arch);
    g_assert_true (gguf_get_f32 (f, key, &f32));
    g_assert_cmpfloat (f32, ==, qwen2 ? 1e6f : 500000.0f);
    g_assert_cmpint (gguf_find_key (f, "llama.not_copied"), ==, -1);
    /* The tokenizer keys are byte-identical to the vocabulary's. */
    v = gguf_open (vocab, &error);
    g_assert_no_error (error);
    for (int64_t i = 0; i < gguf_n_kv (v); i++) {
      const char *k = gguf_key (v, i);
      if (!g_str_has_prefix (k, "tokenizer."))
        continue;
      g_assert_cmpint (gguf_find_key (f, k), >=, 0);
      g_assert_cmpint (gguf_kv_type (f, gguf_find_key (f, k)), ==, gguf_kv_type (v, i));
    }
    g_assert_cmpstr (gguf_arr_str (f, gguf_find_key (f, "tokenizer.ggml.tokens"), 300),
        ==, gguf_arr_str (v, gguf_find_key (v, "tokenizer.ggml.tokens"), 300));
    gguf_close (v);

    /* qwen2 tiny ties the output head; llama has one. */
    expect_tensors = 2 + (qwen2 ? 0 : 1) + 2 * (9 + (qwen2 ? 3 : 0));
    g_assert_cmpint (gguf_n_tensors (f), ==, expect_tensors);
    g_assert_true ((gguf_find_tensor (f, "output.weight") == NULL) == qwen2);
    {
      const gguf_tensor *t;
      t = gguf_find_tensor (f, "token_embd.weight");
      g_assert_cmpint (t->ne[0], ==, 256);
      g_assert_cmpint (t->ne[1], ==, 512);
      t = gguf_find_tensor (f, "blk.1.attn_k.weight");
      g_assert_cmpint (t->ne[0], ==, 256);
      g_assert_cmpint (t->ne[1], ==, 128);
      t = gguf_find_tensor (f, "blk.0.ffn_down.weight");
      g_assert_cmpint (t->ne[0], ==, 768);
      g_assert_cmpint (t->ne[1], ==, 256);
      t = gguf_find_tensor (f, "blk.0.ffn_gate.weight");
      g_assert_cmpint (t->ne[0], ==, 256);
      g_assert_cmpint (t->ne[1], ==, 768);
      t = gguf_find_tensor (f, "blk.1.ffn_norm.weight");
      g_assert_cmpuint (t->type, ==, PRIMA_TYPE_F32);
      g_assert_cmpint (t->n_dims, ==, 1);
      for (int i = 0; i < 256; i++) {
        float x;
        memcpy (&x, t->data + 4 * i, 4);
        g_assert_cmpfloat (x, ==, 1.0f);
      }
      if (qwen2) {
        t = gguf_find_tensor (f, "blk.0.attn_v.bias");
        g_assert_nonnull (t);
        g_assert_cmpuint (t->type, ==, PRIMA_TYPE_F32);
        g_assert_cmpint (t->ne[0], ==, 128);
      }
      /* Weights are random with the intended scale: 1/sqrt(n_embd) for q. */
      t = gguf_find_tensor (f, "blk.0.attn_q.weight");
      {
        double sd = tensor_std (t);
        g_test_message ("%s attn_q std %.4f", cases[c].type, sd);
        g_assert_cmpfloat (sd, >, 0.0625 * 0.85);
        g_assert_cmpfloat (sd, <, 0.0625 * 1.15);
      }
    }
    /* Same seed, same bytes (row seeds do not depend on the threads). */
    if (c == 1) {
      char *out2 = tmp_path ("mk-model-2.gguf");
      char *a, *b;
      gsize la, lb;
      g_assert_true (prima_mk_write (&p, vocab, out2, &error));
      g_assert_true (g_file_get_contents (out, &a, &la, NULL));
      g_assert_true (g_file_get_contents (out2, &b, &lb, NULL));
      g_assert_cmpmem (a, la, b, lb);
      g_free (a);
      g_free (b);
      g_unlink (out2);
      g_free (out2);
    }
    gguf_close (f);
    g_unlink (out);
    g_free (out);
  }

  /* Shapes a type cannot hold are refused before anything is written. */
  {
    char *out = tmp_path ("mk-bad.gguf");
    prima_mk_params p;
    GError *error = NULL;
    g_assert_true (prima_mk_preset ("tiny", PRIMA_MK_ARCH_LLAMA, &p));
    p.n_ff = 100;
    g_assert_false (prima_mk_write (&p, vocab, out, &error));
    g_assert_nonnull (strstr (error->message, "block size 256"));
    g_clear_error (&error);
    g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
    p.n_ff = 768;
    p.n_head = 7;
    g_assert_false (prima_mk_write (&p, vocab, out, &error));
    g_assert_nonnull (strstr (error->message, "multiple of n_head"));
    g_clear_error (&error);
    g_free (out);
  }
  g_unlink (vocab);
  g_free (vocab);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gguf/sample-valid", test_sample_valid);
  g_test_add_func ("/gguf/writer-matches-sample", test_writer_matches_sample);
  g_test_add_func ("/gguf/round-trip", test_round_trip);
  g_test_add_func ("/gguf/writer-errors", test_writer_errors);
  g_test_add_func ("/gguf/golden-files-open", test_golden_files_open);
  g_test_add_func ("/gguf/copy-vocab", test_copy_vocab);
  g_test_add_func ("/gguf/broken/truncated-everywhere", test_truncated_everywhere);
  g_test_add_func ("/gguf/broken/header", test_broken_header);
  g_test_add_func ("/gguf/broken/kv", test_broken_kv);
  g_test_add_func ("/gguf/broken/alignment", test_broken_alignment);
  g_test_add_func ("/gguf/broken/tensors", test_broken_tensors);
  g_test_add_func ("/gguf/broken/random-mutations", test_random_mutations);
  g_test_add_func ("/gguf/mkmodel/mix-matches-golden", test_mkmodel_mix_matches_golden);
  g_test_add_func ("/gguf/mkmodel/write", test_mkmodel);
  return g_test_run ();
}
