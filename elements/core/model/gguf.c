/* gst-prima: GGUF v2/v3 reader over a read-only mapping.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Every count, length and offset read from the file is checked against the
 * bytes that are left before it is used, and before anything is allocated
 * from it, so a hostile file fails fast with a one-line error.
 */
#include "gguf.h"
#include <glib/gi18n-lib.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (prima-gguf-error-quark, prima_gguf_error)

/* Smallest encodings, used to bound counts by the bytes left: a kv is a
 * key length, a type and a value of at least one byte; a tensor info is a
 * name length, n_dims, a type and an offset. */
#define MIN_KV_BYTES (8 + 4 + 1)
#define MIN_TENSOR_INFO_BYTES (8 + 4 + 4 + 8)

typedef struct {
  char *key;
  gguf_type type;
  gguf_type arr_type;           /* ARRAY only */
  uint64_t n;                   /* array length; string length for STRING */
  const uint8_t *data;          /* scalar value or numeric array, in the buffer */
  char *str;                    /* STRING: NUL-terminated copy */
  char **strs;                  /* string array: n + 1 pointers into one chunk */
} gguf_kv;

struct gguf_file {
  char *path;
  const uint8_t *base;
  size_t size;
  gboolean mapped;
  int fd;                       /* kept open for posix_fadvise on the mapped file; -1 if none */
  uint32_t version;
  uint32_t alignment;
  uint64_t data_offset;
  GArray *kvs;                  /* gguf_kv */
  gguf_tensor *tensors;
  int64_t n_tensors;
  GHashTable *key_index;        /* key -> id + 1 */
  GHashTable *tensor_index;     /* name -> index + 1 */
  GStringChunk *names;          /* keys, string values, tensor names */
};

typedef struct {
  gguf_file *f;
  size_t pos;
  GError **error;
  char shown[2][208];           /* names made printable for messages */
  int next_shown;
} reader;

static const char *const type_names[GGUF_TYPE_COUNT] = {
  "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool",
  "string", "array", "uint64", "int64", "float64",
};

static const size_t type_sizes[GGUF_TYPE_COUNT] = {
  1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8,
};

size_t
gguf_type_size (gguf_type t)
{
  return (unsigned) t < GGUF_TYPE_COUNT ? type_sizes[t] : 0;
}

const char *
gguf_type_name (gguf_type t)
{
  return (unsigned) t < GGUF_TYPE_COUNT ? type_names[t] : NULL;
}

G_GNUC_PRINTF (3, 4) static gboolean
fail_at (reader *r, uint64_t offset, const char *fmt, ...)
{
  va_list ap;
  char *what;
  va_start (ap, fmt);
  what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (r->error != NULL && *r->error == NULL)
    g_set_error (r->error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_FORMAT, _("%s: %s at offset %" PRIu64),
        r->f->path, what, offset);
  g_free (what);
  return FALSE;
}

/* A name as it may appear in a one-line message: control bytes replaced,
 * long names cut. Two can be alive at once (for the overlap message). */
static const char *
shown (reader *r, const char *name)
{
  char *out = r->shown[r->next_shown];
  size_t i = 0;
  r->next_shown ^= 1;
  for (; name[i] != '\0' && i < 200; i++)
    out[i] = (unsigned char) name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
  if (name[i] != '\0')
    out[i++] = '.', out[i++] = '.', out[i++] = '.';
  out[i] = '\0';
  return out;
}

static size_t
left (const reader *r)
{
  return r->f->size - r->pos;
}

/* Ensure n more bytes exist; what names the field for the message. */
static gboolean
need (reader *r, uint64_t n, const char *ctx, const char *what)
{
  if (n <= left (r))
    return TRUE;
  return fail_at (r, r->pos, "file truncated: %s%s needs %" PRIu64 " bytes but only %zu are left",
      ctx, what, n, left (r));
}

static gboolean
read_u32 (reader *r, const char *ctx, const char *what, uint32_t *out)
{
  uint32_t v;
  if (!need (r, 4, ctx, what))
    return FALSE;
  memcpy (&v, r->f->base + r->pos, 4);
  *out = GUINT32_FROM_LE (v);
  r->pos += 4;
  return TRUE;
}

static gboolean
read_u64 (reader *r, const char *ctx, const char *what, uint64_t *out)
{
  uint64_t v;
  if (!need (r, 8, ctx, what))
    return FALSE;
  memcpy (&v, r->f->base + r->pos, 8);
  *out = GUINT64_FROM_LE (v);
  r->pos += 8;
  return TRUE;
}

/* A gguf string: validate its length, return where its bytes start. */
static gboolean
read_str (reader *r, const char *ctx, const uint8_t **bytes, uint64_t *len)
{
  uint64_t n;
  if (!read_u64 (r, ctx, "string length", &n))
    return FALSE;
  if (n > left (r))
    return fail_at (r, r->pos, "file truncated: %sstring length %" PRIu64
        " exceeds the %zu bytes left", ctx, n, left (r));
  *bytes = r->f->base + r->pos;
  *len = n;
  r->pos += n;
  return TRUE;
}

/* Keys and tensor names are looked up as C strings: an embedded NUL would
 * make two different names collide. */
static gboolean
read_name (reader *r, const char *ctx, char **out)
{
  const uint8_t *bytes = NULL;
  uint64_t len = 0;
  size_t start = r->pos + 8;
  if (!read_str (r, ctx, &bytes, &len))
    return FALSE;
  if (memchr (bytes, 0, len) != NULL)
    return fail_at (r, start, "%scontains a NUL byte", ctx);
  *out = g_string_chunk_insert_len (r->f->names, (const char *) bytes, (gssize) len);
  return TRUE;
}

static gboolean
read_string_array (reader *r, gguf_kv *kv, const char *ctx)
{
  size_t start = r->pos;
  uint64_t total = 0;
  char *chunk;
  /* Each element needs at least its 8-byte length. */
  if (kv->n > left (r) / 8)
    return fail_at (r, r->pos, "file truncated or corrupt: %sarray count %" PRIu64
        " of strings needs more than the %zu bytes left", ctx, kv->n, left (r));
  /* Pass 1: validate every length and size the chunk (the message context
   * is only formatted on failure: vocabularies have 150k elements). */
  for (uint64_t i = 0; i < kv->n; i++) {
    uint64_t len;
    if (left (r) < 8 || (memcpy (&len, r->f->base + r->pos, 8), len = GUINT64_FROM_LE (len),
            len > left (r) - 8)) {
      char elem_ctx[64 + 208];
      const uint8_t *bytes = NULL;
      g_snprintf (elem_ctx, sizeof elem_ctx, "%selement %" PRIu64 ": ", ctx, i);
      return read_str (r, elem_ctx, &bytes, &len);
    }
    r->pos += 8 + len;
    total += len + 1;
  }
  /* Pass 2: one chunk for all the characters, one for the pointers. The
   * sentinel pointer gives each element's length, NULs included. */
  kv->strs = g_new (char *, kv->n + 1);
  chunk = g_malloc (total > 0 ? total : 1);
  r->pos = start;
  for (uint64_t i = 0; i < kv->n; i++) {
    uint64_t len;
    memcpy (&len, r->f->base + r->pos, 8);
    len = GUINT64_FROM_LE (len);
    kv->strs[i] = chunk;
    memcpy (chunk, r->f->base + r->pos + 8, len);
    chunk[len] = '\0';
    chunk += len + 1;
    r->pos += 8 + len;
  }
  kv->strs[kv->n] = chunk;
  return TRUE;
}

static gboolean
read_kv (reader *r, int64_t index)
{
  gguf_kv kv = { 0 };
  uint32_t type;
  size_t key_pos = r->pos;
  char ctx[64 + 208];
  char *key = NULL;
  g_snprintf (ctx, sizeof ctx, "key %" PRId64 ": ", index);
  if (!read_name (r, ctx, &key))
    return FALSE;
  kv.key = key;
  if (g_hash_table_contains (r->f->key_index, key))
    return fail_at (r, key_pos, "duplicate key '%s'", shown (r, key));
  g_snprintf (ctx, sizeof ctx, "key '%s': ", shown (r, key));

  size_t type_pos = r->pos;
  if (!read_u32 (r, ctx, "value type", &type))
    return FALSE;
  if (type >= GGUF_TYPE_COUNT)
    return fail_at (r, type_pos, "%sunknown value type %u", ctx, type);
  kv.type = (gguf_type) type;

  if (kv.type == GGUF_TYPE_ARRAY) {
    uint32_t et;
    size_t et_pos = r->pos;
    if (!read_u32 (r, ctx, "array element type", &et) || !read_u64 (r, ctx, "array count", &kv.n))
      return FALSE;
    if (et >= GGUF_TYPE_COUNT)
      return fail_at (r, et_pos, "%sunknown array element type %u", ctx, et);
    if (et == GGUF_TYPE_ARRAY)
      return fail_at (r, et_pos, "%sarrays of arrays are not supported", ctx);
    kv.arr_type = (gguf_type) et;
    if (kv.arr_type == GGUF_TYPE_STRING) {
      /* Allocates only once every element is validated. */
      if (!read_string_array (r, &kv, ctx))
        return FALSE;
    } else {
      size_t es = type_sizes[et];
      /* Division, not n * es: the product could wrap. */
      if (kv.n > left (r) / es)
        return fail_at (r, r->pos, "file truncated: %sarray count %" PRIu64 " of %s (%zu bytes each)"
            " exceeds the %zu bytes left", ctx, kv.n, type_names[et], es, left (r));
      kv.data = r->f->base + r->pos;
      r->pos += kv.n * es;
    }
  } else if (kv.type == GGUF_TYPE_STRING) {
    const uint8_t *bytes;
    if (!read_str (r, ctx, &bytes, &kv.n))
      return FALSE;
    kv.str = g_string_chunk_insert_len (r->f->names, (const char *) bytes, (gssize) kv.n);
  } else {
    if (!need (r, type_sizes[type], ctx, type_names[type]))
      return FALSE;
    kv.data = r->f->base + r->pos;
    kv.n = 1;
    r->pos += type_sizes[type];
  }

  /* Owned by the file from here on, so every later failure frees it. */
  g_array_append_val (r->f->kvs, kv);
  g_hash_table_insert (r->f->key_index, key, GSIZE_TO_POINTER ((gsize) index + 1));

  if (strcmp (key, "general.alignment") == 0) {
    uint32_t a;
    if (kv.type != GGUF_TYPE_UINT32)
      return fail_at (r, type_pos, "general.alignment has type %s, expected uint32", type_names[kv.type]);
    memcpy (&a, kv.data, 4);
    a = GUINT32_FROM_LE (a);
    if (a == 0 || (a & (a - 1)) != 0)
      return fail_at (r, type_pos + 4, "bad alignment %u (general.alignment must be a non-zero power of two)",
          a);
    r->f->alignment = a;
  }
  return TRUE;
}

static gboolean
read_tensor_info (reader *r, int64_t index, gguf_tensor *t)
{
  char ctx[64 + 208];
  size_t pos = r->pos;
  uint32_t n_dims, type;
  uint64_t nrows = 1;
  const prima_type_traits *tr;

  g_snprintf (ctx, sizeof ctx, "tensor %" PRId64 ": ", index);
  if (!read_name (r, ctx, &t->name))
    return FALSE;
  if (g_hash_table_contains (r->f->tensor_index, t->name))
    return fail_at (r, pos, "duplicate tensor name '%s'", shown (r, t->name));
  g_snprintf (ctx, sizeof ctx, "tensor '%s': ", shown (r, t->name));

  pos = r->pos;
  if (!read_u32 (r, ctx, "n_dims", &n_dims))
    return FALSE;
  if (n_dims > GGUF_MAX_DIMS)
    return fail_at (r, pos, "tensor '%s' has %u dimensions (at most %d)", shown (r, t->name), n_dims, GGUF_MAX_DIMS);
  t->n_dims = n_dims;
  for (int d = 0; d < GGUF_MAX_DIMS; d++)
    t->ne[d] = 1;
  for (uint32_t d = 0; d < n_dims; d++) {
    uint64_t v;
    pos = r->pos;
    if (!read_u64 (r, ctx, "dimension", &v))
      return FALSE;
    if (v == 0 || v > INT64_MAX)
      return fail_at (r, pos, "tensor '%s' dimension %u is %" PRId64 " (must be positive)", shown (r, t->name), d,
          (int64_t) v);
    t->ne[d] = (int64_t) v;
  }
  /* Rows beyond ne[0]; then the whole element count must fit int64. */
  for (int d = 1; d < GGUF_MAX_DIMS; d++) {
    if ((uint64_t) t->ne[d] > (uint64_t) INT64_MAX / nrows)
      return fail_at (r, pos, "tensor '%s' has too many elements (shape overflows)", shown (r, t->name));
    nrows *= (uint64_t) t->ne[d];
  }
  if ((uint64_t) t->ne[0] > (uint64_t) INT64_MAX / nrows)
    return fail_at (r, pos, "tensor '%s' has too many elements (shape overflows)", shown (r, t->name));

  pos = r->pos;
  if (!read_u32 (r, ctx, "type", &type))
    return FALSE;
  tr = type < PRIMA_TYPE_FIRST_INTERNAL && prima_type_name (type) != NULL
      ? prima_type_get_traits_isa (type, PRIMA_ISA_SCALAR) : NULL;
  if (tr == NULL)
    return fail_at (r, pos, "tensor '%s' has unknown type id %u", shown (r, t->name), type);
  t->type = type;
  if (t->ne[0] % tr->blck_size != 0)
    return fail_at (r, pos, "tensor '%s' row length %" PRId64 " is not a multiple of the %s block size %"
        PRId64, shown (r, t->name), t->ne[0], tr->name, tr->blck_size);
  {
    uint64_t blocks = (uint64_t) (t->ne[0] / tr->blck_size);
    uint64_t row;
    if (blocks > UINT64_MAX / tr->type_size)
      return fail_at (r, pos, "tensor '%s' is too large (size overflows)", shown (r, t->name));
    row = blocks * tr->type_size;
    if (row != 0 && nrows > UINT64_MAX / row)
      return fail_at (r, pos, "tensor '%s' is too large (size overflows)", shown (r, t->name));
    t->size = row * nrows;
  }

  pos = r->pos;
  if (!read_u64 (r, ctx, "data offset", &t->offset))
    return FALSE;
  /* The key/values precede the tensor infos: the alignment is final here. */
  if (t->offset % r->f->alignment != 0)
    return fail_at (r, pos, "tensor '%s' data offset %" PRIu64 " is not a multiple of the alignment %u",
        shown (r, t->name), t->offset, r->f->alignment);
  g_hash_table_insert (r->f->tensor_index, t->name, GSIZE_TO_POINTER ((gsize) index + 1));
  return TRUE;
}

static int
cmp_by_offset (gconstpointer a, gconstpointer b)
{
  const gguf_tensor *x = *(const gguf_tensor * const *) a, *y = *(const gguf_tensor * const *) b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static gboolean
parse (gguf_file *f, GError **error)
{
  reader r = { .f = f, .pos = 0, .error = error };
  uint64_t n_tensors, n_kv;
  uint32_t version;

  if (f->size < 4 ? memcmp (f->base, "GGUF", f->size) != 0 : memcmp (f->base, "GGUF", 4) != 0)
    return fail_at (&r, 0, _("not a GGUF file (bad magic)"));
  if (!need (&r, 4, "", "magic"))
    return FALSE;
  r.pos = 4;
  if (!read_u32 (&r, "", "version", &version))
    return FALSE;
  if (version == 1)
    return fail_at (&r, 4, "GGUF version 1 is not supported (only versions 2 and 3)");
  if (version != 2 && version != 3) {
    if (GUINT32_SWAP_LE_BE (version) == 2 || GUINT32_SWAP_LE_BE (version) == 3)
      return fail_at (&r, 4, "big-endian GGUF files are not supported");
    return fail_at (&r, 4, "unsupported GGUF version %u (only versions 2 and 3)", version);
  }
  f->version = version;
  if (!read_u64 (&r, "", "tensor count", &n_tensors) || !read_u64 (&r, "", "key/value count", &n_kv))
    return FALSE;
  /* Bound both counts by what the rest of the file can hold, before any
   * allocation or loop depends on them. */
  if (n_kv > left (&r) / MIN_KV_BYTES)
    return fail_at (&r, 16, "file truncated or corrupt: key/value count %" PRIu64 " needs more than the %zu bytes left",
        n_kv, left (&r));
  if (n_tensors > left (&r) / MIN_TENSOR_INFO_BYTES)
    return fail_at (&r, 8, "file truncated or corrupt: tensor count %" PRIu64 " needs more than the %zu bytes left",
        n_tensors, left (&r));

  for (uint64_t i = 0; i < n_kv; i++)
    if (!read_kv (&r, (int64_t) i))
      return FALSE;
  if (n_tensors > left (&r) / MIN_TENSOR_INFO_BYTES)
    return fail_at (&r, 8, "file truncated or corrupt: tensor count %" PRIu64 " needs more than the %zu"
        " bytes left after the key/values", n_tensors, left (&r));

  f->tensors = g_new0 (gguf_tensor, n_tensors > 0 ? n_tensors : 1);
  for (uint64_t i = 0; i < n_tensors; i++) {
    if (!read_tensor_info (&r, (int64_t) i, &f->tensors[i]))
      return FALSE;
    f->n_tensors = (int64_t) i + 1;
  }

  /* pos <= size and alignment <= 2^31, so this cannot wrap. */
  f->data_offset = ((uint64_t) r.pos + f->alignment - 1) / f->alignment * f->alignment;
  for (int64_t i = 0; i < f->n_tensors; i++) {
    gguf_tensor *t = &f->tensors[i];
    if (f->data_offset > f->size || t->offset > f->size - f->data_offset
        || t->size > f->size - f->data_offset - t->offset)
      return fail_at (&r, t->offset > UINT64_MAX - f->data_offset ? UINT64_MAX : f->data_offset + t->offset,
          "tensor '%s' data (%" PRIu64 " bytes) extends past the end of the file (%zu bytes)",
          shown (&r, t->name), t->size, f->size);
    t->data = f->base + f->data_offset + t->offset;
  }

  if (f->n_tensors > 1) {
    g_autofree gguf_tensor **order = g_new (gguf_tensor *, f->n_tensors);
    for (int64_t i = 0; i < f->n_tensors; i++)
      order[i] = &f->tensors[i];
    qsort (order, f->n_tensors, sizeof *order, cmp_by_offset);
    for (int64_t i = 0; i + 1 < f->n_tensors; i++)
      if (order[i]->offset + order[i]->size > order[i + 1]->offset)
        return fail_at (&r, f->data_offset + order[i + 1]->offset, "tensors '%s' and '%s' overlap",
            shown (&r, order[i]->name), shown (&r, order[i + 1]->name));
  }
  return TRUE;
}

static gguf_file *
file_new (const char *name)
{
  gguf_file *f = g_new0 (gguf_file, 1);
  f->path = g_strdup (name ? name : "(memory)");
  f->alignment = GGUF_DEFAULT_ALIGNMENT;
  f->fd = -1;
  f->kvs = g_array_new (FALSE, TRUE, sizeof (gguf_kv));
  f->key_index = g_hash_table_new (g_str_hash, g_str_equal);
  f->tensor_index = g_hash_table_new (g_str_hash, g_str_equal);
  f->names = g_string_chunk_new (4096);
  return f;
}

gguf_file *
gguf_open_memory (const void *data, size_t size, const char *name, GError **error)
{
  static const uint8_t empty[1];
  gguf_file *f = file_new (name);
  f->base = data != NULL ? data : empty;
  f->size = data != NULL ? size : 0;
  if (!parse (f, error)) {
    gguf_close (f);
    return NULL;
  }
  return f;
}

gguf_file *
gguf_open (const char *path, GError **error)
{
  struct stat st;
  void *map = NULL;
  int fd;
  gguf_file *f;

  g_return_val_if_fail (path != NULL, NULL);
  /* O_NONBLOCK: opening a FIFO for reading would block until a writer
   * comes; on a regular file the flag changes nothing */
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    int e = errno;
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, _("%s: cannot open: %s"), path, g_strerror (e));
    return NULL;
  }
  if (fstat (fd, &st) != 0) {
    int e = errno;
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, _("%s: cannot open: %s"), path, g_strerror (e));
    close (fd);
    return NULL;
  }
  if (!S_ISREG (st.st_mode)) {
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, _("%s: not a regular file"), path);
    close (fd);
    return NULL;
  }
  if ((uint64_t) st.st_size > SIZE_MAX) {
    g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, _("%s: file too large to map"), path);
    close (fd);
    return NULL;
  }
  if (st.st_size > 0) {
    /* No MAP_POPULATE: weights are paged in as the model touches them. */
    map = mmap (NULL, (size_t) st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      int e = errno;
      g_set_error (error, PRIMA_GGUF_ERROR, PRIMA_GGUF_ERROR_IO, _("%s: cannot map: %s"), path, g_strerror (e));
      close (fd);
      return NULL;
    }
  }
  f = file_new (path);
  /* The descriptor stays open: dropping a window's pages from the page cache
   * (posix_fadvise DONTNEED) needs it. */
  f->fd = fd;
  if (map != NULL) {
    f->base = map;
    f->size = (size_t) st.st_size;
    f->mapped = TRUE;
  } else {
    static const uint8_t empty[1];
    f->base = empty;
    f->size = 0;
  }
  if (!parse (f, error)) {
    gguf_close (f);
    return NULL;
  }
  return f;
}

void
gguf_close (gguf_file *f)
{
  if (f == NULL)
    return;
  for (guint i = 0; i < f->kvs->len; i++) {
    gguf_kv *kv = &g_array_index (f->kvs, gguf_kv, i);
    if (kv->strs != NULL) {
      g_free (kv->strs[0]);
      g_free (kv->strs);
    }
  }
  g_array_free (f->kvs, TRUE);
  g_hash_table_destroy (f->key_index);
  g_hash_table_destroy (f->tensor_index);
  g_string_chunk_free (f->names);
  g_free (f->tensors);
  if (f->mapped)
    munmap ((void *) f->base, f->size);
  if (f->fd >= 0)
    close (f->fd);
  g_free (f->path);
  g_free (f);
}

const char *
gguf_path (const gguf_file *f)
{
  return f->path;
}

uint32_t
gguf_version (const gguf_file *f)
{
  return f->version;
}

uint32_t
gguf_alignment (const gguf_file *f)
{
  return f->alignment;
}

const uint8_t *
gguf_mapping (const gguf_file *f, size_t *size)
{
  if (size != NULL)
    *size = f->size;
  return f->base;
}

int
gguf_fd (const gguf_file *f)
{
  return f->fd;
}

uint64_t
gguf_data_offset (const gguf_file *f)
{
  return f->data_offset;
}

/* ---- key/values ---- */

static const gguf_kv *
kv_at (const gguf_file *f, int64_t id)
{
  g_return_val_if_fail (f != NULL, NULL);
  g_return_val_if_fail (id >= 0 && id < (int64_t) f->kvs->len, NULL);
  return &g_array_index (f->kvs, gguf_kv, id);
}

int64_t
gguf_n_kv (const gguf_file *f)
{
  return f->kvs->len;
}

int64_t
gguf_find_key (const gguf_file *f, const char *key)
{
  gpointer v = g_hash_table_lookup (f->key_index, key);
  return v != NULL ? (int64_t) GPOINTER_TO_SIZE (v) - 1 : -1;
}

const char *
gguf_key (const gguf_file *f, int64_t id)
{
  const gguf_kv *kv = kv_at (f, id);
  return kv ? kv->key : NULL;
}

gguf_type
gguf_kv_type (const gguf_file *f, int64_t id)
{
  const gguf_kv *kv = kv_at (f, id);
  return kv ? kv->type : GGUF_TYPE_COUNT;
}

gguf_type
gguf_arr_type (const gguf_file *f, int64_t id)
{
  const gguf_kv *kv = kv_at (f, id);
  g_return_val_if_fail (kv == NULL || kv->type == GGUF_TYPE_ARRAY, GGUF_TYPE_COUNT);
  return kv ? kv->arr_type : GGUF_TYPE_COUNT;
}

uint64_t
gguf_arr_n (const gguf_file *f, int64_t id)
{
  const gguf_kv *kv = kv_at (f, id);
  g_return_val_if_fail (kv == NULL || kv->type == GGUF_TYPE_ARRAY, 0);
  return kv ? kv->n : 0;
}

const void *
gguf_arr_data (const gguf_file *f, int64_t id)
{
  const gguf_kv *kv = kv_at (f, id);
  g_return_val_if_fail (kv == NULL || (kv->type == GGUF_TYPE_ARRAY && kv->arr_type != GGUF_TYPE_STRING), NULL);
  return kv ? kv->data : NULL;
}

const char *
gguf_arr_str (const gguf_file *f, int64_t id, uint64_t i)
{
  const gguf_kv *kv = kv_at (f, id);
  g_return_val_if_fail (kv == NULL || (kv->type == GGUF_TYPE_ARRAY && kv->arr_type == GGUF_TYPE_STRING), NULL);
  g_return_val_if_fail (kv == NULL || i < kv->n, NULL);
  return kv ? kv->strs[i] : NULL;
}

uint64_t
gguf_arr_str_len (const gguf_file *f, int64_t id, uint64_t i)
{
  const gguf_kv *kv = kv_at (f, id);
  g_return_val_if_fail (kv == NULL || (kv->type == GGUF_TYPE_ARRAY && kv->arr_type == GGUF_TYPE_STRING), 0);
  g_return_val_if_fail (kv == NULL || i < kv->n, 0);
  return kv ? (uint64_t) (kv->strs[i + 1] - kv->strs[i] - 1) : 0;
}

const char *
gguf_kv_str (const gguf_file *f, int64_t id)
{
  const gguf_kv *kv = kv_at (f, id);
  g_return_val_if_fail (kv == NULL || kv->type == GGUF_TYPE_STRING, NULL);
  return kv ? kv->str : NULL;
}

uint64_t
gguf_kv_str_len (const gguf_file *f, int64_t id)
{
  const gguf_kv *kv = kv_at (f, id);
  g_return_val_if_fail (kv == NULL || kv->type == GGUF_TYPE_STRING, 0);
  return kv ? kv->n : 0;
}

const void *
gguf_kv_data (const gguf_file *f, int64_t id)
{
  const gguf_kv *kv = kv_at (f, id);
  g_return_val_if_fail (kv == NULL || (kv->type != GGUF_TYPE_ARRAY && kv->type != GGUF_TYPE_STRING), NULL);
  return kv ? kv->data : NULL;
}

/* An integer value of any width as a signed 128-bit-safe pair: the value
 * fits int64 (neg or small) or is a uint64 above INT64_MAX (big). */
static gboolean
kv_integer (const gguf_kv *kv, int64_t *v, gboolean *big)
{
  uint8_t b[8];
  *big = FALSE;
  if (kv->type >= GGUF_TYPE_COUNT || kv->type == GGUF_TYPE_ARRAY || kv->type == GGUF_TYPE_STRING)
    return FALSE;
  memcpy (b, kv->data, type_sizes[kv->type]);
  switch (kv->type) {
    case GGUF_TYPE_UINT8:
      *v = b[0];
      return TRUE;
    case GGUF_TYPE_INT8:
      *v = (int8_t) b[0];
      return TRUE;
    case GGUF_TYPE_UINT16:{
      uint16_t x;
      memcpy (&x, b, 2);
      *v = GUINT16_FROM_LE (x);
      return TRUE;
    }
    case GGUF_TYPE_INT16:{
      uint16_t x;
      memcpy (&x, b, 2);
      *v = (int16_t) GUINT16_FROM_LE (x);
      return TRUE;
    }
    case GGUF_TYPE_UINT32:{
      uint32_t x;
      memcpy (&x, b, 4);
      *v = GUINT32_FROM_LE (x);
      return TRUE;
    }
    case GGUF_TYPE_INT32:{
      uint32_t x;
      memcpy (&x, b, 4);
      *v = (int32_t) GUINT32_FROM_LE (x);
      return TRUE;
    }
    case GGUF_TYPE_UINT64:{
      uint64_t x;
      memcpy (&x, b, 8);
      x = GUINT64_FROM_LE (x);
      if (x > INT64_MAX)
        *big = TRUE;
      *v = (int64_t) (x & INT64_MAX);
      return TRUE;
    }
    case GGUF_TYPE_INT64:{
      uint64_t x;
      memcpy (&x, b, 8);
      *v = (int64_t) GUINT64_FROM_LE (x);
      return TRUE;
    }
    default:
      return FALSE;
  }
}

static const gguf_kv *
find (const gguf_file *f, const char *key)
{
  int64_t id;
  g_return_val_if_fail (f != NULL && key != NULL, NULL);
  id = gguf_find_key (f, key);
  return id >= 0 ? &g_array_index (f->kvs, gguf_kv, id) : NULL;
}

gboolean
gguf_get_u32 (const gguf_file *f, const char *key, uint32_t *out)
{
  const gguf_kv *kv = find (f, key);
  int64_t v;
  gboolean big;
  if (kv == NULL || !kv_integer (kv, &v, &big) || big || v < 0 || v > UINT32_MAX)
    return FALSE;
  *out = (uint32_t) v;
  return TRUE;
}

gboolean
gguf_get_i64 (const gguf_file *f, const char *key, int64_t *out)
{
  const gguf_kv *kv = find (f, key);
  int64_t v;
  gboolean big;
  if (kv == NULL || !kv_integer (kv, &v, &big) || big)
    return FALSE;
  *out = v;
  return TRUE;
}

gboolean
gguf_get_f32 (const gguf_file *f, const char *key, float *out)
{
  const gguf_kv *kv = find (f, key);
  if (kv == NULL)
    return FALSE;
  if (kv->type == GGUF_TYPE_FLOAT32) {
    uint32_t x;
    float v;
    memcpy (&x, kv->data, 4);
    x = GUINT32_FROM_LE (x);
    memcpy (&v, &x, 4);
    *out = v;
    return TRUE;
  }
  if (kv->type == GGUF_TYPE_FLOAT64) {
    uint64_t x;
    double v;
    memcpy (&x, kv->data, 8);
    x = GUINT64_FROM_LE (x);
    memcpy (&v, &x, 8);
    *out = (float) v;
    return TRUE;
  }
  return FALSE;
}

gboolean
gguf_get_bool (const gguf_file *f, const char *key, gboolean *out)
{
  const gguf_kv *kv = find (f, key);
  if (kv == NULL || kv->type != GGUF_TYPE_BOOL)
    return FALSE;
  *out = kv->data[0] != 0;
  return TRUE;
}

const char *
gguf_get_str (const gguf_file *f, const char *key)
{
  const gguf_kv *kv = find (f, key);
  return kv != NULL && kv->type == GGUF_TYPE_STRING ? kv->str : NULL;
}

/* ---- tensors ---- */

int64_t
gguf_n_tensors (const gguf_file *f)
{
  return f->n_tensors;
}

const gguf_tensor *
gguf_tensor_at (const gguf_file *f, int64_t i)
{
  g_return_val_if_fail (f != NULL, NULL);
  g_return_val_if_fail (i >= 0 && i < f->n_tensors, NULL);
  return &f->tensors[i];
}

const gguf_tensor *
gguf_find_tensor (const gguf_file *f, const char *name)
{
  gpointer v;
  g_return_val_if_fail (f != NULL && name != NULL, NULL);
  v = g_hash_table_lookup (f->tensor_index, name);
  return v != NULL ? &f->tensors[GPOINTER_TO_SIZE (v) - 1] : NULL;
}
