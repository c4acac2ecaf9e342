/* gst-prima: where the serving engine's forward passes run (docs/serve.md).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Two backends: this device (one multi-sequence context, every slot a KV
 * sequence, batches as they come) and a ring (the head's pipeline,
 * pipelines/serve-ring.pipeline, one sequence). The engine calls eval from
 * its compute thread only; the rest from the main context. */
#pragma once

#include "prima-engine.h"
#include "forward.h"

typedef struct _PrimaEngineBackend PrimaEngineBackend;

struct _PrimaEngineBackend {
  /* One forward pass: logits of the batch's wanted tokens, in order. */
  gboolean (*eval) (PrimaEngineBackend *b, const prima_batch *batch, float *logits, GError **error);
  /* After a failed eval: TRUE when nothing more can run (the ring is gone). */
  gboolean (*fatal) (PrimaEngineBackend *b);
  /* From the main context while eval may be running: end it soon (an error). */
  void (*interrupt) (PrimaEngineBackend *b);
  /* After the compute thread has ended. */
  void (*stop) (PrimaEngineBackend *b);
  const char *(*plan_json) (PrimaEngineBackend *b);
  /* A snapshot per device, rank order; entries and strings newly allocated. */
  void (*device_stats) (PrimaEngineBackend *b, PrimaEngineDeviceStats **devices, guint *n);
  void (*free) (PrimaEngineBackend *b);
};

gboolean prima_engine_backend_is_ring (const PrimaEngineOptions *opts);
PrimaEngineBackend *prima_engine_backend_local_new (const PrimaEngineOptions *opts, const prima_model *model,
    int n_ctx, int n_seq, int n_batch, GError **error);
PrimaEngineBackend *prima_engine_backend_ring_new (const PrimaEngineOptions *opts, const prima_model *model,
    int n_ctx, GError **error);

/* The chat template rendering of a conversation as the engine feeds it
 * (generation prompt added), for tests comparing with `prima run`. */
char *prima_engine_render_chat (PrimaEngine *engine, const prima_chat_message *msgs, gsize n);
