/* gst-prima: the serving engine's forward passes on this device.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One context over all the model's layers with a KV sequence per slot:
 * every pass is one prima_context_eval_batch, so the slots' decode steps
 * read the weights once between them. */
#include "engine-backend.h"

typedef struct {
  PrimaEngineBackend base;
  prima_context *ctx;
  int n_layer;
  GMutex lock;                  /* the counters */
  double compute_seconds;
  guint64 rounds;
} LocalBackend;

static gboolean
local_eval (PrimaEngineBackend *b, const prima_batch *batch, float *logits, GError **error)
{
  LocalBackend *lb = (LocalBackend *) b;
  const gint64 t0 = g_get_monotonic_time ();
  const gboolean ok = prima_context_eval_batch (lb->ctx, batch, logits, error);
  g_mutex_lock (&lb->lock);
  lb->compute_seconds += (g_get_monotonic_time () - t0) / 1e6;
  lb->rounds++;
  g_mutex_unlock (&lb->lock);
  return ok;
}

static gboolean
local_fatal (PrimaEngineBackend *b)
{
  /* a full sequence or bad input fails one pass; NaN weights fail every
   * later pass too, but each with its own clear error */
  return FALSE;
}

static void
local_device_stats (PrimaEngineBackend *b, PrimaEngineDeviceStats **devices, guint *n)
{
  LocalBackend *lb = (LocalBackend *) b;
  PrimaEngineDeviceStats *d = g_new0 (PrimaEngineDeviceStats, 1);
  d->rank = 0;
  d->layers = g_strdup_printf ("0-%d", lb->n_layer - 1);
  g_mutex_lock (&lb->lock);
  d->compute_seconds = lb->compute_seconds;
  d->rounds = lb->rounds;
  g_mutex_unlock (&lb->lock);
  *devices = d;
  *n = 1;
}

static void
local_free (PrimaEngineBackend *b)
{
  LocalBackend *lb = (LocalBackend *) b;
  prima_context_free (lb->ctx);
  g_mutex_clear (&lb->lock);
  g_free (lb);
}

PrimaEngineBackend *
prima_engine_backend_local_new (const PrimaEngineOptions *opts, const prima_model *model, int n_ctx, int n_seq,
    int n_batch, GError **error)
{
  prima_context_params cp = { 0 };
  LocalBackend *lb;

  cp.n_ctx = n_ctx;
  cp.n_threads = opts->n_threads;
  cp.n_batch = n_batch;
  cp.n_seq = n_seq;
  lb = g_new0 (LocalBackend, 1);
  lb->ctx = prima_context_new (model, &cp, error);
  if (lb->ctx == NULL) {
    g_free (lb);
    return NULL;
  }
  g_mutex_init (&lb->lock);
  lb->n_layer = model->hp.n_layer;
  lb->base.eval = local_eval;
  lb->base.fatal = local_fatal;
  lb->base.device_stats = local_device_stats;
  lb->base.free = local_free;
  return &lb->base;
}
