/* gst-prima: GGUF v2/v3 reader (over mmap) and writer.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The reader validates every count, size and offset against the file length
 * before it uses it. Any problem gives a GError whose message is one line:
 * "FILE: what is wrong (at offset N)". Tensor data stay in the mapping: the
 * tensor infos point into it, nothing is copied or read ahead.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdbool.h>
#include "tensor-types.h"

#define PRIMA_GGUF_ERROR (prima_gguf_error_quark ())
GQuark prima_gguf_error_quark (void);

typedef enum {
  PRIMA_GGUF_ERROR_IO,          /* cannot open / stat / map */
  PRIMA_GGUF_ERROR_FORMAT,      /* bad magic, version, truncated, out of bounds, bad type */
  PRIMA_GGUF_ERROR_MISSING,     /* a required key or tensor is absent (used by callers) */
} PrimaGgufError;

typedef enum {
  GGUF_TYPE_UINT8 = 0,
  GGUF_TYPE_INT8 = 1,
  GGUF_TYPE_UINT16 = 2,
  GGUF_TYPE_INT16 = 3,
  GGUF_TYPE_UINT32 = 4,
  GGUF_TYPE_INT32 = 5,
  GGUF_TYPE_FLOAT32 = 6,
  GGUF_TYPE_BOOL = 7,
  GGUF_TYPE_STRING = 8,
  GGUF_TYPE_ARRAY = 9,
  GGUF_TYPE_UINT64 = 10,
  GGUF_TYPE_INT64 = 11,
  GGUF_TYPE_FLOAT64 = 12,
  GGUF_TYPE_COUNT
} gguf_type;

#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

typedef struct {
  char *name;
  uint32_t n_dims;
  int64_t ne[GGUF_MAX_DIMS];    /* ne[0] is the row length; unused dims are 1 */
  uint32_t type;                /* prima_type id */
  uint64_t offset;              /* from the start of the data section */
  uint64_t size;                /* bytes */
  const uint8_t *data;          /* inside the mapping */
} gguf_tensor;

typedef struct gguf_file gguf_file;

gguf_file *gguf_open (const char *path, GError **error);
/* Parse a buffer the caller keeps alive (the fuzz target, tests). */
gguf_file *gguf_open_memory (const void *data, size_t size, const char *name, GError **error);
void gguf_close (gguf_file *f);

const char *gguf_path (const gguf_file *f);
uint32_t gguf_version (const gguf_file *f);
uint32_t gguf_alignment (const gguf_file *f);
const uint8_t *gguf_mapping (const gguf_file *f, size_t *size);
uint64_t gguf_data_offset (const gguf_file *f);      /* file offset of the data section */
/* The open descriptor of a mapped file (the mapping starts at offset 0), for
 * page cache advice; -1 for gguf_open_memory. Owned by f. */
int gguf_fd (const gguf_file *f);

/* Key/values. */
int64_t gguf_n_kv (const gguf_file *f);
int64_t gguf_find_key (const gguf_file *f, const char *key);   /* -1 if absent */
const char *gguf_key (const gguf_file *f, int64_t id);
gguf_type gguf_kv_type (const gguf_file *f, int64_t id);
gguf_type gguf_arr_type (const gguf_file *f, int64_t id);      /* for ARRAY values */
uint64_t gguf_arr_n (const gguf_file *f, int64_t id);
/* Raw little-endian elements of a numeric array (unaligned: use memcpy). */
const void *gguf_arr_data (const gguf_file *f, int64_t id);
/* NUL-terminated copy of element i of a string array (may contain embedded NULs:
 * gguf_arr_str_len gives the true length). */
const char *gguf_arr_str (const gguf_file *f, int64_t id, uint64_t i);
uint64_t gguf_arr_str_len (const gguf_file *f, int64_t id, uint64_t i);
const char *gguf_kv_str (const gguf_file *f, int64_t id);      /* STRING values */
uint64_t gguf_kv_str_len (const gguf_file *f, int64_t id);     /* its true length */
/* Raw little-endian bytes of a scalar (not STRING, not ARRAY) value (unaligned). */
const void *gguf_kv_data (const gguf_file *f, int64_t id);
/* Bytes of one element of a scalar type; 0 for STRING, ARRAY and unknown ids. */
size_t gguf_type_size (gguf_type t);
const char *gguf_type_name (gguf_type t);                      /* "uint32", NULL if unknown */

/* Typed lookups by key, converting between integer widths and float widths.
 * Return FALSE (and leave *out alone) if the key is absent or of another kind. */
gboolean gguf_get_u32 (const gguf_file *f, const char *key, uint32_t *out);
gboolean gguf_get_i64 (const gguf_file *f, const char *key, int64_t *out);
gboolean gguf_get_f32 (const gguf_file *f, const char *key, float *out);
gboolean gguf_get_bool (const gguf_file *f, const char *key, gboolean *out);
const char *gguf_get_str (const gguf_file *f, const char *key);  /* NULL if absent */

/* Tensors. */
int64_t gguf_n_tensors (const gguf_file *f);
const gguf_tensor *gguf_tensor_at (const gguf_file *f, int64_t i);
const gguf_tensor *gguf_find_tensor (const gguf_file *f, const char *name);  /* NULL if absent */

/* ---- Writer: metadata first, then tensors streamed one at a time, so a
 * 40 GB model is written without holding it in memory. ---- */
typedef struct gguf_writer gguf_writer;
/* Fill buf (size bytes) with the data of one tensor. Return FALSE and set error to abort. */
typedef gboolean (*gguf_fill_fn) (void *buf, size_t size, gpointer user_data, GError **error);

gguf_writer *gguf_writer_new (void);
void gguf_writer_free (gguf_writer *w);
/* Any scalar type (not STRING/ARRAY); value points to one host-order element. */
void gguf_writer_set_val (gguf_writer *w, const char *key, gguf_type type, const void *value);
void gguf_writer_set_u32 (gguf_writer *w, const char *key, uint32_t v);
void gguf_writer_set_i32 (gguf_writer *w, const char *key, int32_t v);
void gguf_writer_set_f32 (gguf_writer *w, const char *key, float v);
void gguf_writer_set_bool (gguf_writer *w, const char *key, gboolean v);
void gguf_writer_set_str (gguf_writer *w, const char *key, const char *v);
void gguf_writer_set_arr (gguf_writer *w, const char *key, gguf_type elem_type, const void *data, uint64_t n);
void gguf_writer_set_arr_str (gguf_writer *w, const char *key, const char *const *strs, uint64_t n);
/* Copy one key/value (any type, arrays included) from a file being read. */
void gguf_writer_copy_kv (gguf_writer *w, const gguf_file *src, int64_t id);
/* Declare a tensor; its bytes come from fill (called during write, in order,
 * on the calling thread; fill must set all size bytes). While tensor i+1 is
 * filled, tensor i is still being written from another buffer, so fill must
 * not keep pointers to earlier buffers. A bad name/type/shape is reported by
 * gguf_writer_write. A key set twice keeps its first position, last value. */
void gguf_writer_add_tensor (gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
    const int64_t *ne, gguf_fill_fn fill, gpointer user_data);
gboolean gguf_writer_write (gguf_writer *w, const char *path, GError **error);
