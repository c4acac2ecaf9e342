/* gst-prima: streaming GGUF v3 writer.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Metadata and tensor infos are serialized in memory (they are small), then
 * the tensors are produced one at a time by their fill callbacks. Two
 * buffers alternate: while one tensor is written out by a helper thread the
 * next one is filled, so generation and I/O overlap without ever holding
 * more than two tensors. The output goes to PATH.tmp and is renamed into
 * place only when complete.
 */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *key;
  GByteArray *value;            /* uint32 type + encoded value, little-endian */
} wkv;

typedef struct {
  char *name;
  uint32_t type;
  uint32_t n_dims;
  int64_t ne[GGUF_MAX_DIMS];
  uint64_t size;
  uint64_t offset;
  gguf_fill_fn fill;
  gpointer user_data;
} wtensor;

struct gguf_writer {
  GPtrArray *kvs;               /* wkv *, in insertion order */
  GHashTable *key_index;        /* key -> wkv * */
  GArray *tensors;              /* wtensor */
  GHashTable *tensor_names;
  char *deferred_error;         /* first bad call, reported by write */
};

static void
wkv_free (gpointer p)
{
  wkv *kv = p;
  g_free (kv->key);
  g_byte_array_unref (kv->value);
  g_free (kv);
}

gguf_writer *
gguf_writer_new (void)
{
  gguf_writer *w = g_new0 (gguf_writer, 1);
  w->kvs = g_ptr_array_new_with_free_func (wkv_free);
  w->key_index = g_hash_table_new (g_str_hash, g_str_equal);
  w->tensors = g_array_new (FALSE, TRUE, sizeof (wtensor));
  w->tensor_names = g_hash_table_new (g_str_hash, g_str_equal);
  return w;
}

void
gguf_writer_free (gguf_writer *w)
{
  if (w == NULL)
    return;
  g_hash_table_destroy (w->key_index);
  g_ptr_array_unref (w->kvs);
  g_hash_table_destroy (w->tensor_names);
  for (guint i = 0; i < w->tensors->len; i++)
    g_free (g_array_index (w->tensors, wtensor, i).name);
  g_array_free (w->tensors, TRUE);
  g_free (w->deferred_error);
  g_free (w);
}

G_GNUC_PRINTF (2, 3) static void
defer_error (gguf_writer *w, const char *fmt, ...)
{
  va_list ap;
  if (w->deferred_error != NULL)
    return;
  va_start (ap, fmt);
  w->deferred_error = g_strdup_vprintf (fmt, ap);
  va_end (ap);
}

static void
put_u32 (GByteArray *b, uint32_t v)
{
  v = GUINT32_TO_LE (v);
  g_byte_array_append (b, (const guint8 *) &v, 4);
}

static void
put_u64 (GByteArray *b, uint64_t v)
{
  v = GUINT64_TO_LE (v);
  g_byte_array_append (b, (const guint8 *) &v, 8);
}

static void
put_str (GByteArray *b, const char *s, uint64_t len)
{
  put_u64 (b, len);
  g_byte_array_append (b, (const guint8 *) s, (guint) len);
}

/* Elements of a scalar type from host order to little-endian. */
static void
put_elems (GByteArray *b, gguf_type t, const void *data, uint64_t n)
{
  size_t es = gguf_type_size (t);
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  g_byte_array_append (b, data, (guint) (n * es));
#else
  const uint8_t *p = data;
  for (uint64_t i = 0; i < n; i++)
    for (size_t k = 0; k < es; k++)
      g_byte_array_append (b, p + i * es + es - 1 - k, 1);
#endif
}

/* The value record of key, created or emptied (a key set twice keeps its
 * first position and its last value, as llama.cpp's writer does). */
static GByteArray *
begin_kv (gguf_writer *w, const char *key, gguf_type type)
{
  wkv *kv;
  g_return_val_if_fail (w != NULL && key != NULL, NULL);
  kv = g_hash_table_lookup (w->key_index, key);
  if (kv == NULL) {
    kv = g_new0 (wkv, 1);
    kv->key = g_strdup (key);
    kv->value = g_byte_array_new ();
    g_ptr_array_add (w->kvs, kv);
    g_hash_table_insert (w->key_index, kv->key, kv);
  } else {
    g_byte_array_set_size (kv->value, 0);
  }
  put_u32 (kv->value, type);
  return kv->value;
}

void
gguf_writer_set_val (gguf_writer *w, const char *key, gguf_type type, const void *value)
{
  g_return_if_fail (gguf_type_size (type) > 0 && value != NULL);
  put_elems (begin_kv (w, key, type), type, value, 1);
}

void
gguf_writer_set_u32 (gguf_writer *w, const char *key, uint32_t v)
{
  gguf_writer_set_val (w, key, GGUF_TYPE_UINT32, &v);
}

void
gguf_writer_set_i32 (gguf_writer *w, const char *key, int32_t v)
{
  gguf_writer_set_val (w, key, GGUF_TYPE_INT32, &v);
}

void
gguf_writer_set_f32 (gguf_writer *w, const char *key, float v)
{
  gguf_writer_set_val (w, key, GGUF_TYPE_FLOAT32, &v);
}

void
gguf_writer_set_bool (gguf_writer *w, const char *key, gboolean v)
{
  uint8_t b = v ? 1 : 0;
  gguf_writer_set_val (w, key, GGUF_TYPE_BOOL, &b);
}

void
gguf_writer_set_str (gguf_writer *w, const char *key, const char *v)
{
  g_return_if_fail (v != NULL);
  put_str (begin_kv (w, key, GGUF_TYPE_STRING), v, strlen (v));
}

void
gguf_writer_set_arr (gguf_writer *w, const char *key, gguf_type elem_type, const void *data, uint64_t n)
{
  GByteArray *b;
  g_return_if_fail (gguf_type_size (elem_type) > 0);
  g_return_if_fail (n == 0 || data != NULL);
  /* Values are staged in a GByteArray, whose length is a guint. */
  g_return_if_fail (n <= (G_MAXUINT - 16) / gguf_type_size (elem_type));
  b = begin_kv (w, key, GGUF_TYPE_ARRAY);
  put_u32 (b, elem_type);
  put_u64 (b, n);
  put_elems (b, elem_type, data, n);
}

void
gguf_writer_set_arr_str (gguf_writer *w, const char *key, const char *const *strs, uint64_t n)
{
  GByteArray *b;
  g_return_if_fail (n == 0 || strs != NULL);
  b = begin_kv (w, key, GGUF_TYPE_ARRAY);
  put_u32 (b, GGUF_TYPE_STRING);
  put_u64 (b, n);
  for (uint64_t i = 0; i < n; i++)
    put_str (b, strs[i], strlen (strs[i]));
}

void
gguf_writer_copy_kv (gguf_writer *w, const gguf_file *src, int64_t id)
{
  const char *key = gguf_key (src, id);
  gguf_type t = gguf_kv_type (src, id);
  GByteArray *b;
  g_return_if_fail (key != NULL);
  b = begin_kv (w, key, t);
  if (t == GGUF_TYPE_STRING) {
    put_str (b, gguf_kv_str (src, id), gguf_kv_str_len (src, id));
  } else if (t == GGUF_TYPE_ARRAY) {
    gguf_type et = gguf_arr_type (src, id);
    uint64_t n = gguf_arr_n (src, id);
    put_u32 (b, et);
    put_u64 (b, n);
    if (et == GGUF_TYPE_STRING) {
      for (uint64_t i = 0; i < n; i++)
        put_str (b, gguf_arr_str (src, id, i), gguf_arr_str_len (src, id, i));
    } else {
      /* Already little-endian in the source file. */
      g_byte_array_append (b, gguf_arr_data (src, id), (guint) (n * gguf_type_size (et)));
    }
  } else {
    g_byte_array_append (b, gguf_kv_data (src, id), (guint) gguf_type_size (t));
  }
}

void
gguf_writer_add_tensor (gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
    const int64_t *ne, gguf_fill_fn fill, gpointer user_data)
{
  wtensor t = { 0 };
  const prima_type_traits *tr;
  uint64_t nrows = 1;
  size_t row;

  g_return_if_fail (w != NULL && name != NULL && fill != NULL);
  g_return_if_fail (n_dims <= GGUF_MAX_DIMS && (n_dims == 0 || ne != NULL));
  if (g_hash_table_contains (w->tensor_names, name)) {
    defer_error (w, "duplicate tensor name '%s'", name);
    return;
  }
  tr = prima_type_name (type) != NULL ? prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR) : NULL;
  if (tr == NULL) {
    defer_error (w, "tensor '%s' has unknown type id %u", name, type);
    return;
  }
  for (int d = 0; d < GGUF_MAX_DIMS; d++)
    t.ne[d] = (uint32_t) d < n_dims ? ne[d] : 1;
  for (int d = 0; d < GGUF_MAX_DIMS; d++)
    if (t.ne[d] <= 0) {
      defer_error (w, "tensor '%s' dimension %d is %" PRId64 " (must be positive)", name, d, t.ne[d]);
      return;
    }
  for (int d = 1; d < GGUF_MAX_DIMS; d++) {
    if ((uint64_t) t.ne[d] > (uint64_t) INT64_MAX / nrows) {
      defer_error (w, "tensor '%s' is too large", name);
      return;
    }
    nrows *= (uint64_t) t.ne[d];
  }
  row = prima_row_size (type, t.ne[0]);
  if (row == 0) {
    defer_error (w, "tensor '%s' row length %" PRId64 " is not a multiple of the %s block size %" PRId64,
        name, t.ne[0], tr->name, tr->blck_size);
    return;
  }
  if (nrows > SIZE_MAX / row) {
    defer_error (w, "tensor '%s' is too large", name);
    return;
  }
  t.name = g_strdup (name);
  t.type = type;
  t.n_dims = n_dims;
  t.size = row * nrows;
  t.fill = fill;
  t.user_data = user_data;
  g_array_append_val (w->tensors, t);
  g_hash_table_add (w->tensor_names, t.name);
}

/* ---- output ---- */

typedef struct {
  int fd;
  const uint8_t *data;
  size_t size;
  size_t pad;
  int err;                      /* errno of a failed write, 0 if fine */
} write_job;

static int
write_all (int fd, const void *data, size_t size)
{
  const uint8_t *p = data;
  while (size > 0) {
    ssize_t k = write (fd, p, MIN (size, (size_t) 1 << 30));
    if (k < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    p += k;
    size -= (size_t) k;
  }
  return 0;
}

static int
write_padding (int fd, size_t pad)
{
  static const uint8_t zeros[256];
  while (pad > 0) {
    size_t k = MIN (pad, sizeof zeros);
    int e = write_all (fd, zeros, k);
    if (e != 0)
      return e;
    pad -= k;
  }
  return 0;
}

static gpointer
write_job_run (gpointer p)
{
  write_job *j = p;
  j->err = write_all (j->fd, j->data, j->size);
  if (j->err == 0)
    j->err = write_padding (j->fd, j->pad);
  return NULL;
}

static uint64_t
align_up (uint64_t x, uint32_t a)
{
  return (x + a - 1) / a * a;
}

gboolean
gguf_writer_write (gguf_writer *w, const char *path, GError **error)
{
  uint32_t alignment = GGUF_DEFAULT_ALIGNMENT;
  GByteArray *head = NULL;
  g_autofree char *tmp = NULL;
  uint8_t *bufs[2] = { NULL, NULL };
  size_t caps[2] = { 0, 0 };
  write_job jobs[2];
  GThread *pending = NULL;
  write_job *pending_job = NULL;
  uint64_t offset = 0;
  int fd = -1, e;
  gboolean ok = FALSE, created = FALSE;

  g_return_val_if_fail (w != NULL && path != NULL, FALSE);
  if (w->deferred_error != NULL) {
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_FORMAT, "%s: %s", path, w->deferred_error);
    return FALSE;
  }
  {
    wkv *kv = g_hash_table_lookup (w->key_index, "general.alignment");
    if (kv != NULL) {
      uint32_t t, a;
      memcpy (&t, kv->value->data, 4);
      if (GUINT32_FROM_LE (t) != GGUF_TYPE_UINT32) {
        g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_FORMAT,
            "%s: general.alignment must be a uint32", path);
        return FALSE;
      }
      memcpy (&a, kv->value->data + 4, 4);
      a = GUINT32_FROM_LE (a);
      if (a == 0 || (a & (a - 1)) != 0) {
        g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_FORMAT,
            "%s: bad alignment %u (general.alignment must be a non-zero power of two)", path, a);
        return FALSE;
      }
      alignment = a;
    }
  }

  head = g_byte_array_new ();
  g_byte_array_append (head, (const guint8 *) "GGUF", 4);
  put_u32 (head, 3);
  put_u64 (head, w->tensors->len);
  put_u64 (head, w->kvs->len);
  for (guint i = 0; i < w->kvs->len; i++) {
    wkv *kv = g_ptr_array_index (w->kvs, i);
    put_str (head, kv->key, strlen (kv->key));
    g_byte_array_append (head, kv->value->data, kv->value->len);
  }
  for (guint i = 0; i < w->tensors->len; i++) {
    wtensor *t = &g_array_index (w->tensors, wtensor, i);
    t->offset = offset;
    put_str (head, t->name, strlen (t->name));
    put_u32 (head, t->n_dims);
    for (uint32_t d = 0; d < t->n_dims; d++)
      put_u64 (head, (uint64_t) t->ne[d]);
    put_u32 (head, t->type);
    put_u64 (head, t->offset);
    offset = align_up (offset + t->size, alignment);
  }

  tmp = g_strconcat (path, ".tmp", NULL);
  fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    e = errno;
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, "%s: cannot create %s: %s", path, tmp,
        g_strerror (e));
    goto out;
  }
  created = TRUE;
  e = write_all (fd, head->data, head->len);
  if (e == 0 && w->tensors->len > 0)
    e = write_padding (fd, align_up (head->len, alignment) - head->len);
  if (e != 0) {
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, "%s: cannot write %s: %s", path, tmp,
        g_strerror (e));
    goto out;
  }

  for (guint i = 0; i < w->tensors->len; i++) {
    wtensor *t = &g_array_index (w->tensors, wtensor, i);
    int k = i & 1;
    GError *fill_error = NULL;
    if (caps[k] < t->size) {
      /* Fill does not need the old contents: free first to keep the peak low. */
      g_free (bufs[k]);
      bufs[k] = g_malloc (t->size);
      caps[k] = t->size;
    }
    /* The other buffer may still be in flight: only bufs[k] is touched. */
    if (!t->fill (bufs[k], t->size, t->user_data, &fill_error)) {
      if (fill_error == NULL)
        g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, "%s: tensor '%s': fill failed", path,
            t->name);
      else {
        g_propagate_prefixed_error (error, fill_error, "%s: tensor '%s': ", path, t->name);
      }
      goto out;
    }
    if (pending != NULL) {
      g_thread_join (pending);
      pending = NULL;
      if (pending_job->err != 0) {
        g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, "%s: cannot write %s: %s", path, tmp,
            g_strerror (pending_job->err));
        goto out;
      }
    }
    jobs[k] = (write_job) { fd, bufs[k], t->size, 0, 0 };
    if (i + 1 < w->tensors->len)
      jobs[k].pad = align_up (t->size, alignment) - t->size;
    pending_job = &jobs[k];
    pending = g_thread_new ("gguf-write", write_job_run, pending_job);
  }
  if (pending != NULL) {
    g_thread_join (pending);
    pending = NULL;
    if (pending_job->err != 0) {
      g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, "%s: cannot write %s: %s", path, tmp,
          g_strerror (pending_job->err));
      goto out;
    }
  }
  if (fsync (fd) != 0 && errno != EINVAL) {
    e = errno;
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, "%s: cannot write %s: %s", path, tmp,
        g_strerror (e));
    goto out;
  }
  e = close (fd) != 0 ? errno : 0;
  fd = -1;
  if (e != 0) {
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, "%s: cannot write %s: %s", path, tmp,
        g_strerror (e));
    goto out;
  }
  if (rename (tmp, path) != 0) {
    e = errno;
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, "%s: cannot rename %s: %s", path, tmp,
        g_strerror (e));
    goto out;
  }
  ok = TRUE;

out:
  if (pending != NULL)
    g_thread_join (pending);
  if (fd >= 0)
    close (fd);
  if (!ok && created)
    unlink (tmp);
  g_free (bufs[0]);
  g_free (bufs[1]);
  if (head != NULL)
    g_byte_array_unref (head);
  return ok;
}
