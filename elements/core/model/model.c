/* gst-prima: a llama/qwen2 model mapped from a GGUF file.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "model.h"
#include <glib/gi18n-lib.h>
#include <inttypes.h>

#include <string.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (prima-model-error-quark, prima_model_error)

const char *
prima_arch_name (prima_arch arch)
{
  return arch == PRIMA_ARCH_QWEN2 ? "qwen2" : "llama";
}

static gboolean
get_int_key (gguf_file *f, const char *arch, const char *suffix, gboolean required,
    int def, int *out, GError **error)
{
  char *key = g_strdup_printf ("%s.%s", arch, suffix);
  int64_t v;
  gboolean ok = gguf_get_i64 (f, key, &v);
  if (!ok && required) {
    g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: missing metadata key '%s'"), gguf_path (f), key);
    g_free (key);
    return FALSE;
  }
  if (ok && (v <= 0 || v > G_MAXINT / 16)) {
    g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: metadata key '%s' has an invalid value %" PRId64),
        gguf_path (f), key, v);
    g_free (key);
    return FALSE;
  }
  *out = ok ? (int) v : def;
  g_free (key);
  return TRUE;
}

static float
get_float_key (gguf_file *f, const char *arch, const char *suffix, float def)
{
  char *key = g_strdup_printf ("%s.%s", arch, suffix);
  float v = def;
  gguf_get_f32 (f, key, &v);
  g_free (key);
  return v;
}

/* Find a tensor, check its shape (ne0, ne1; ne1 < 0 means a vector) and that we
 * can compute with its type. */
static const gguf_tensor *
want_tensor (gguf_file *f, const char *name, int64_t ne0, int64_t ne1, gboolean required, GError **error)
{
  const gguf_tensor *t = gguf_find_tensor (f, name);
  const prima_type_traits *tr;
  if (t == NULL) {
    if (required)
      g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: missing tensor '%s'"), gguf_path (f), name);
    return NULL;
  }
  if (t->ne[0] != ne0 || (ne1 < 0 ? t->n_dims != 1 : t->ne[1] != ne1) || t->ne[2] != 1 || t->ne[3] != 1) {
    g_set_error (error, PRIMA_MODEL_ERROR, 0,
        _("%s: tensor '%s' has shape [%" PRId64 ", %" PRId64 "], expected [%" PRId64
        ", %" PRId64 "]"), gguf_path (f), name, t->ne[0], t->ne[1], ne0, ne1 < 0 ? 1 : ne1);
    return NULL;
  }
  tr = prima_type_get_traits (t->type);
  if (tr == NULL || tr->to_float == NULL || (ne1 >= 0 && tr->vec_dot == NULL)) {
    g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: tensor '%s' has type %s, which this build cannot compute with"),
        gguf_path (f), name, prima_type_name (t->type) ? prima_type_name (t->type) : "?");
    return NULL;
  }
  if (ne1 < 0 && t->type != PRIMA_TYPE_F32) {
    g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: tensor '%s' has type %s, expected F32"),
        gguf_path (f), name, prima_type_name (t->type));
    return NULL;
  }
  return t;
}

prima_model *
prima_model_new (gguf_file *f, GError **error)
{
  prima_model *m = g_new0 (prima_model, 1);
  prima_hparams *hp = &m->hp;
  const char *arch = gguf_get_str (f, "general.architecture");
  GError *local = NULL;
  int key_len = 0, val_len = 0;

  m->file = f;
  if (arch == NULL) {
    g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: missing metadata key 'general.architecture'"), gguf_path (f));
    goto fail;
  }
  if (strcmp (arch, "llama") == 0)
    hp->arch = PRIMA_ARCH_LLAMA;
  else if (strcmp (arch, "qwen2") == 0)
    hp->arch = PRIMA_ARCH_QWEN2;
  else {
    g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: model architecture '%s' is not supported (supported: llama, qwen2)"),
        gguf_path (f), arch);
    goto fail;
  }
  m->name = g_strdup (gguf_get_str (f, "general.name") ? gguf_get_str (f, "general.name") : arch);

  if (!get_int_key (f, arch, "embedding_length", TRUE, 0, &hp->n_embd, error)
      || !get_int_key (f, arch, "block_count", TRUE, 0, &hp->n_layer, error)
      || !get_int_key (f, arch, "feed_forward_length", TRUE, 0, &hp->n_ff, error)
      || !get_int_key (f, arch, "attention.head_count", TRUE, 0, &hp->n_head, error)
      || !get_int_key (f, arch, "attention.head_count_kv", FALSE, hp->n_head, &hp->n_head_kv, error)
      || !get_int_key (f, arch, "context_length", FALSE, 4096, &hp->n_ctx_train, error)
      || !get_int_key (f, arch, "attention.key_length", FALSE, 0, &key_len, error)
      || !get_int_key (f, arch, "attention.value_length", FALSE, 0, &val_len, error))
    goto fail;
  if (hp->n_embd % hp->n_head != 0 || hp->n_head % hp->n_head_kv != 0) {
    g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: %d heads do not divide %d embedding dims into %d KV groups"),
        gguf_path (f), hp->n_head, hp->n_embd, hp->n_head_kv);
    goto fail;
  }
  hp->head_dim = hp->n_embd / hp->n_head;
  if ((key_len && key_len != hp->head_dim) || (val_len && val_len != hp->head_dim)) {
    g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: head sizes other than n_embd / n_head are not supported"), gguf_path (f));
    goto fail;
  }
  if (!get_int_key (f, arch, "rope.dimension_count", FALSE, hp->head_dim, &hp->n_rot, error))
    goto fail;
  if (hp->n_rot > hp->head_dim || hp->n_rot % 2) {
    g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: rope.dimension_count %d does not fit head size %d"),
        gguf_path (f), hp->n_rot, hp->head_dim);
    goto fail;
  }
  hp->rms_eps = get_float_key (f, arch, "attention.layer_norm_rms_epsilon", 1e-5f);
  hp->rope_base = get_float_key (f, arch, "rope.freq_base", 10000.0f);
  hp->rope_scale = 1.0f;
  {
    const char *scaling = NULL;
    char *key = g_strdup_printf ("%s.rope.scaling.type", arch);
    scaling = gguf_get_str (f, key);
    g_free (key);
    if (scaling && strcmp (scaling, "linear") == 0)
      hp->rope_scale = get_float_key (f, arch, "rope.scaling.factor", 1.0f);
    else if (scaling && strcmp (scaling, "none") != 0) {
      g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: rope scaling '%s' is not supported"), gguf_path (f), scaling);
      goto fail;
    }
    if (!(hp->rope_scale > 0))
      hp->rope_scale = 1.0f;
  }

  m->tok_embd = gguf_find_tensor (f, "token_embd.weight");
  if (m->tok_embd == NULL) {
    g_set_error (error, PRIMA_MODEL_ERROR, 0, _("%s: missing tensor 'token_embd.weight'"), gguf_path (f));
    goto fail;
  }
  hp->n_vocab = (int) m->tok_embd->ne[1];
  if (!(m->tok_embd = want_tensor (f, "token_embd.weight", hp->n_embd, hp->n_vocab, TRUE, error))
      || !(m->output_norm = want_tensor (f, "output_norm.weight", hp->n_embd, -1, TRUE, error)))
    goto fail;
  m->output = want_tensor (f, "output.weight", hp->n_embd, hp->n_vocab, FALSE, &local);
  if (local) {
    g_propagate_error (error, local);
    goto fail;
  }
  if (m->output == NULL)
    m->output = m->tok_embd;
  m->rope_freqs = want_tensor (f, "rope_freqs.weight", hp->n_rot / 2, -1, FALSE, &local);
  if (local) {
    g_propagate_error (error, local);
    goto fail;
  }

  m->layers = g_new0 (prima_layer_weights, hp->n_layer);
  {
    const int64_t n_embd = hp->n_embd, n_kv = (int64_t) hp->n_head_kv * hp->head_dim, n_ff = hp->n_ff;
    const gboolean bias = hp->arch == PRIMA_ARCH_QWEN2;
    for (int i = 0; i < hp->n_layer; i++) {
      prima_layer_weights *l = &m->layers[i];
      char name[96];
#define WANT(field, suffix, ne0, ne1, req) \
      g_snprintf (name, sizeof name, "blk.%d." suffix, i); \
      l->field = want_tensor (f, name, ne0, ne1, req, &local); \
      if (local) { g_propagate_error (error, local); goto fail; }
      WANT (attn_norm, "attn_norm.weight", n_embd, -1, TRUE);
      WANT (wq, "attn_q.weight", n_embd, n_embd, TRUE);
      WANT (wk, "attn_k.weight", n_embd, n_kv, TRUE);
      WANT (wv, "attn_v.weight", n_embd, n_kv, TRUE);
      WANT (wo, "attn_output.weight", n_embd, n_embd, TRUE);
      WANT (bq, "attn_q.bias", n_embd, -1, bias);
      WANT (bk, "attn_k.bias", n_kv, -1, bias);
      WANT (bv, "attn_v.bias", n_kv, -1, bias);
      WANT (ffn_norm, "ffn_norm.weight", n_embd, -1, TRUE);
      WANT (ffn_gate, "ffn_gate.weight", n_embd, n_ff, TRUE);
      WANT (ffn_up, "ffn_up.weight", n_embd, n_ff, TRUE);
      WANT (ffn_down, "ffn_down.weight", n_ff, n_embd, TRUE);
#undef WANT
    }
  }
  return m;

fail:
  m->file = NULL;               /* the caller keeps the file on failure */
  prima_model_free (m);
  return NULL;
}

/* Models loaded by path are shared in the process while anyone holds one:
 * the same file (device, inode, size, modification time) gives the same
 * mapping. A persistent ring worker keeps its model this way between the
 * heads it serves (each head's layers element loads it again), and the
 * setup round's checks do not map it again either. */
typedef struct {
  prima_model *model;
  guint refs;
  dev_t dev;
  ino_t ino;
  off_t size;
  gint64 mtime_ns;
} SharedModel;

static GMutex shared_lock;
static GList *shared_models;    /* SharedModel * */
static guint shared_maps;

static gboolean
stat_key (const struct stat *st, SharedModel *key)
{
  if (!S_ISREG (st->st_mode))
    return FALSE;
  key->dev = st->st_dev;
  key->ino = st->st_ino;
  key->size = st->st_size;
  key->mtime_ns = (gint64) st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  return TRUE;
}

static SharedModel *
shared_find (const SharedModel *key)
{
  for (GList *l = shared_models; l; l = l->next) {
    SharedModel *e = l->data;
    if (e->dev == key->dev && e->ino == key->ino && e->size == key->size && e->mtime_ns == key->mtime_ns)
      return e;
  }
  return NULL;
}

static void
model_destroy (prima_model *m)
{
  if (m->file)
    gguf_close (m->file);
  g_free (m->layers);
  g_free (m->name);
  g_free (m);
}

prima_model *
prima_model_load (const char *path, GError **error)
{
  gguf_file *f;
  prima_model *m;
  SharedModel key = { 0 }, *e;
  struct stat st;
  gboolean keyed = stat (path, &st) == 0 && stat_key (&st, &key);

  if (keyed) {
    g_mutex_lock (&shared_lock);
    e = shared_find (&key);
    if (e) {
      e->refs++;
      g_mutex_unlock (&shared_lock);
      return e->model;
    }
    g_mutex_unlock (&shared_lock);
  }
  f = gguf_open (path, error);
  if (f == NULL)
    return NULL;
  m = prima_model_new (f, error);
  if (m == NULL) {
    gguf_close (f);
    return NULL;
  }
  /* the key of the file actually opened */
  if (fstat (gguf_fd (f), &st) == 0 && stat_key (&st, &key)) {
    e = g_new0 (SharedModel, 1);
    *e = key;
    e->model = m;
    e->refs = 1;
    g_mutex_lock (&shared_lock);
    shared_models = g_list_prepend (shared_models, e);
    shared_maps++;
    g_mutex_unlock (&shared_lock);
  }
  return m;
}

guint
prima_model_load_count (void)
{
  guint n;

  g_mutex_lock (&shared_lock);
  n = shared_maps;
  g_mutex_unlock (&shared_lock);
  return n;
}

void
prima_model_free (prima_model *m)
{
  if (m == NULL)
    return;
  g_mutex_lock (&shared_lock);
  for (GList *l = shared_models; l; l = l->next) {
    SharedModel *e = l->data;
    if (e->model != m)
      continue;
    if (--e->refs > 0) {
      g_mutex_unlock (&shared_lock);
      return;
    }
    shared_models = g_list_delete_link (shared_models, l);
    g_free (e);
    break;
  }
  g_mutex_unlock (&shared_lock);
  model_destroy (m);
}


guint64
prima_model_weight_bytes (const prima_model *m, int first, int last)
{
  guint64 bytes = 0;
  for (int i = MAX (first, 0); i < MIN (last, m->hp.n_layer); i++) {
    const prima_layer_weights *l = &m->layers[i];
    const gguf_tensor *ts[] = { l->attn_norm, l->wq, l->wk, l->wv, l->wo, l->bq, l->bk, l->bv,
      l->ffn_norm, l->ffn_gate, l->ffn_up, l->ffn_down };
    for (size_t k = 0; k < G_N_ELEMENTS (ts); k++)
      if (ts[k])
        bytes += ts[k]->size;
  }
  if (last >= m->hp.n_layer)
    bytes += m->output->size + m->output_norm->size;
  return bytes;
}

static int
compare_ranges (gconstpointer a, gconstpointer b)
{
  const prima_byte_range *x = a, *y = b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void
add_tensor_range (GArray *out, const prima_model *m, const gguf_tensor *t, guint64 page)
{
  size_t map_size;
  const uint8_t *base = gguf_mapping (m->file, &map_size);
  prima_byte_range r;
  guint64 begin, end;
  if (t == NULL || t->size == 0 || base == NULL)
    return;
  begin = (guint64) (t->data - base);
  end = begin + t->size;
  r.offset = begin / page * page;
  r.length = MIN ((end + page - 1) / page * page, ((guint64) map_size + page - 1) / page * page) - r.offset;
  g_array_append_val (out, r);
}

GArray *
prima_model_window_ranges (const prima_model *m, int first, int last, gboolean with_head)
{
  GArray *raw = g_array_new (FALSE, FALSE, sizeof (prima_byte_range));
  GArray *out = g_array_new (FALSE, FALSE, sizeof (prima_byte_range));
  const guint64 page = (guint64) sysconf (_SC_PAGESIZE);

  for (int i = MAX (first, 0); i < MIN (last, m->hp.n_layer); i++) {
    const prima_layer_weights *l = &m->layers[i];
    const gguf_tensor *ts[] = { l->attn_norm, l->wq, l->wk, l->wv, l->wo, l->bq, l->bk, l->bv,
      l->ffn_norm, l->ffn_gate, l->ffn_up, l->ffn_down };
    for (size_t k = 0; k < G_N_ELEMENTS (ts); k++)
      add_tensor_range (raw, m, ts[k], page);
  }
  if (with_head && last >= m->hp.n_layer) {
    add_tensor_range (raw, m, m->output_norm, page);
    add_tensor_range (raw, m, m->output, page);
  }
  g_array_sort (raw, compare_ranges);
  for (guint i = 0; i < raw->len; i++) {
    const prima_byte_range *r = &g_array_index (raw, prima_byte_range, i);
    prima_byte_range *prev = out->len ? &g_array_index (out, prima_byte_range, out->len - 1) : NULL;
    if (prev && r->offset <= prev->offset + prev->length)
      prev->length = MAX (prev->offset + prev->length, r->offset + r->length) - prev->offset;
    else
      g_array_append_val (out, *r);
  }
  g_array_unref (raw);
  return out;
}

guint64
prima_byte_ranges_total (const GArray *ranges)
{
  guint64 total = 0;
  for (guint i = 0; ranges && i < ranges->len; i++)
    total += g_array_index (ranges, prima_byte_range, i).length;
  return total;
}
