/* gst-prima: one model per file, shared by the elements of a pipeline.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "prima-shared-model.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

struct _PrimaSharedModel
{
  gint refcount;                /* atomic; drops to 0 only under cache_lock */
  gchar *path;
  gchar *key;                   /* "dev:inode" */
  dev_t dev;
  ino_t ino;

  GMutex lock;                  /* the vocabulary */
  gguf_file *file;
  prima_tokenizer *tok;
  GError *error;                /* the first parse's failure, given again */
  guint parses, users;

  /* The cache that made it. This code is linked into the plugin and into the
   * tests that read the plugin's contexts: the last unref must reach the
   * cache of the copy that made the model. */
  void (*release) (PrimaSharedModel * model);
};

static GMutex cache_lock;
static GHashTable *cache;       /* key -> PrimaSharedModel, not holding a reference */

static void
prima_shared_model_release (PrimaSharedModel * model)
{
  g_mutex_lock (&cache_lock);
  if (!g_atomic_int_dec_and_test (&model->refcount)) {
    g_mutex_unlock (&cache_lock);
    return;
  }
  if (cache && g_hash_table_lookup (cache, model->key) == model)
    g_hash_table_remove (cache, model->key);
  g_mutex_unlock (&cache_lock);

  g_clear_pointer (&model->tok, prima_tokenizer_free);
  g_clear_pointer (&model->file, gguf_close);
  g_clear_error (&model->error);
  g_mutex_clear (&model->lock);
  g_free (model->path);
  g_free (model->key);
  g_free (model);
}

PrimaSharedModel *
prima_shared_model_ref (PrimaSharedModel * model)
{
  g_return_val_if_fail (model != NULL, NULL);
  g_atomic_int_inc (&model->refcount);
  return model;
}

void
prima_shared_model_unref (PrimaSharedModel * model)
{
  if (model)
    model->release (model);
}

GType
prima_shared_model_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type)) {
    /* a second copy of this code (a test linking it) finds the plugin's type */
    GType t = g_type_from_name ("PrimaSharedModel");

    if (t == 0)
      t = g_boxed_type_register_static ("PrimaSharedModel", (GBoxedCopyFunc) prima_shared_model_ref,
          (GBoxedFreeFunc) prima_shared_model_unref);
    g_once_init_leave (&type, t);
  }
  return type;
}

PrimaSharedModel *
prima_shared_model_get (const gchar * path, GError ** error)
{
  PrimaSharedModel *model;
  struct stat st;
  gchar *key;

  g_return_val_if_fail (path != NULL, NULL);
  if (stat (path, &st) != 0) {
    int e = errno;

    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e), "%s: %s", path, g_strerror (e));
    return NULL;
  }
  key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, (guint64) st.st_dev, (guint64) st.st_ino);

  g_mutex_lock (&cache_lock);
  if (cache == NULL)
    cache = g_hash_table_new (g_str_hash, g_str_equal);
  model = g_hash_table_lookup (cache, key);
  if (model) {
    g_atomic_int_inc (&model->refcount);
    g_free (key);
  } else {
    model = g_new0 (PrimaSharedModel, 1);
    model->refcount = 1;
    model->path = g_strdup (path);
    model->key = key;
    model->dev = st.st_dev;
    model->ino = st.st_ino;
    g_mutex_init (&model->lock);
    model->release = prima_shared_model_release;
    g_hash_table_insert (cache, model->key, model);
  }
  g_mutex_unlock (&cache_lock);
  return model;
}

const gchar *
prima_shared_model_get_path (const PrimaSharedModel * model)
{
  return model->path;
}

gboolean
prima_shared_model_same_file (const PrimaSharedModel * a, const PrimaSharedModel * b)
{
  return a == b || (a->dev == b->dev && a->ino == b->ino);
}

gboolean
prima_shared_model_get_vocabulary (PrimaSharedModel * model, const gguf_file ** file,
    const prima_tokenizer ** tok, GError ** error)
{
  gboolean ok;

  g_mutex_lock (&model->lock);
  model->users++;
  if (model->file == NULL && model->error == NULL) {
    GError *err = NULL;

    model->parses++;
    if ((model->file = gguf_open (model->path, &err)) != NULL
        && (model->tok = prima_tokenizer_new (model->file, &err)) == NULL)
      g_clear_pointer (&model->file, gguf_close);
    model->error = err;
  }
  ok = model->tok != NULL;
  if (ok) {
    if (file)
      *file = model->file;
    if (tok)
      *tok = model->tok;
  } else if (error) {
    *error = g_error_copy (model->error);
  }
  g_mutex_unlock (&model->lock);
  return ok;
}

guint
prima_shared_model_get_vocabulary_parses (const PrimaSharedModel * model)
{
  return model->parses;
}

guint
prima_shared_model_get_vocabulary_users (const PrimaSharedModel * model)
{
  return model->users;
}

guint
prima_shared_model_get_refcount (const PrimaSharedModel * model)
{
  return (guint) g_atomic_int_get (&model->refcount);
}

GstContext *
prima_model_context_new (PrimaSharedModel * model)
{
  GstContext *context = gst_context_new (PRIMA_MODEL_CONTEXT_TYPE, FALSE);

  gst_structure_set (gst_context_writable_structure (context), "path", G_TYPE_STRING, model->path,
      "model", PRIMA_TYPE_SHARED_MODEL, model, NULL);
  return context;
}

gboolean
prima_model_context_parse (GstContext * context, PrimaSharedModel ** model)
{
  const GstStructure *s;

  *model = NULL;
  if (context == NULL || !gst_context_has_context_type (context, PRIMA_MODEL_CONTEXT_TYPE))
    return FALSE;
  s = gst_context_get_structure (context);
  return gst_structure_get (s, "model", PRIMA_TYPE_SHARED_MODEL, model, NULL) && *model != NULL;
}
