/* gst-prima: the serving engine behind `prima serve` and primad (docs/serve.md).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A session manager that owns one model (on this device, or a ring as its
 * head) and runs jobs: a completion or a chat turn. On one device every job
 * gets a slot, its own KV sequence in one multi-sequence context; the decode
 * steps of all running slots (and the next prompt chunk of a slot that is
 * reading its prompt) go through one batched forward pass (continuous
 * batching). A slot keeps the tokens it holds after its job, and a new job
 * takes the idle slot whose tokens share the longest prefix with its prompt,
 * so a conversation's earlier turns are not evaluated again (prompt cache).
 * Over a ring the jobs run one at a time through the ring's head pipeline
 * (pipelines/serve-ring.pipeline): one slot, the same prompt cache.
 *
 * Threads: the engine computes in a thread of its own; every signal of a
 * PrimaJob is emitted in the GMainContext that was the thread-default one
 * when the engine was created (the caller's main loop), never in the compute
 * thread. Functions of this header are called from that main context. */
#pragma once

#include <glib-object.h>
#include <stdint.h>

#include "sampler.h"
#include "chat-template.h"

G_BEGIN_DECLS

#define PRIMA_ENGINE_ERROR (prima_engine_error_quark ())
GQuark prima_engine_error_quark (void);

typedef enum {
  PRIMA_ENGINE_ERROR_FAILED,      /* the model or the ring failed (a server error, 500) */
  PRIMA_ENGINE_ERROR_INVALID,     /* the request cannot be run: bad parameter (400) */
  PRIMA_ENGINE_ERROR_TOO_LONG,    /* the prompt does not fit the context (400) */
  PRIMA_ENGINE_ERROR_BUSY,        /* every slot busy and the queue full (503, retry) */
  PRIMA_ENGINE_ERROR_STOPPED,     /* the engine is stopping or stopped (503) */
} PrimaEngineError;

/* Why a job ended; the strings are OpenAI's finish_reason where one exists. */
typedef enum {
  PRIMA_FINISH_NONE,              /* still running */
  PRIMA_FINISH_STOP,              /* end-of-generation token or a stop string: "stop" */
  PRIMA_FINISH_LENGTH,            /* max_tokens reached, or the slot's context is full: "length" */
  PRIMA_FINISH_CANCELLED,         /* prima_job_cancel (a client that went away): "cancelled" */
  PRIMA_FINISH_ERROR,             /* the model or the ring failed: "error" (the job's error says why) */
} PrimaFinishReason;

const char *prima_finish_reason_name (PrimaFinishReason reason);

typedef struct {
  const char *model_path;       /* GGUF file */
  int n_ctx;                    /* KV positions per slot; <= 0: min(n_ctx_train, 4096) */
  int n_threads;                /* <= 0: the online CPUs */
  int n_parallel;               /* slots (concurrent jobs); <= 0: 4 (1 over a ring) */
  int max_queued;               /* jobs waiting for a slot beyond those running; < 0: 64 */
  int n_batch;                  /* prompt tokens per forward pass; <= 0: 512 */
  const char *chat_template;    /* NULL: the model's own (prima_chat_template_resolve) */
  /* Over a ring: the head's flags as `prima run` takes them (ring-head.h's
   * PrimaRingOptions, opaque here); NULL or not active: this device alone. */
  gpointer ring;
} PrimaEngineOptions;

typedef struct {
  /* Exactly one of prompt (a completion: tokenized with BOS as `prima run -p`)
   * and messages (a chat turn: rendered with the chat template, with the
   * generation prompt) is set. */
  const char *prompt;
  const prima_chat_message *messages;
  gsize n_messages;
  int max_tokens;               /* < 0: until end of generation or a full context */
  prima_sampler_params sampling;
  const char *const *stop;      /* NULL-terminated stop strings (not part of the text); NULL: none */
  gboolean ignore_eos;
} PrimaJobParams;

/* prima_sampler_params_init, max_tokens -1, no stop strings. */
void prima_job_params_init (PrimaJobParams *p);

#define PRIMA_TYPE_JOB prima_job_get_type ()
G_DECLARE_FINAL_TYPE (PrimaJob, prima_job, PRIMA, JOB, GObject)

/* Signals of a PrimaJob (in the engine's main context):
 *   "started"  ()                         : it got a slot (prompt evaluation begins)
 *   "text"     (const char *delta, guint n_tokens) : new answer text, whole UTF-8 characters,
 *              stop strings held back until they cannot match; n_tokens the tokens it took
 *   "finished" (PrimaFinishReason reason) : once, last; after it the job's counters are final
 * A job holds a reference to itself until "finished" has been emitted. */
guint64 prima_job_get_id (PrimaJob *job);
PrimaFinishReason prima_job_get_finish_reason (PrimaJob *job);
/* The error of a job that finished with PRIMA_FINISH_ERROR, else NULL. */
const GError *prima_job_get_error (PrimaJob *job);
/* The whole answer so far (stop string excluded). */
const char *prima_job_get_text (PrimaJob *job);
int prima_job_get_n_prompt (PrimaJob *job);        /* prompt tokens */
int prima_job_get_n_cached (PrimaJob *job);        /* of those, found in the slot's cache */
int prima_job_get_n_predicted (PrimaJob *job);     /* tokens generated */
double prima_job_get_queue_seconds (PrimaJob *job);  /* submitted -> slot */
double prima_job_get_ttft_seconds (PrimaJob *job);   /* submitted -> first token */
double prima_job_get_prompt_seconds (PrimaJob *job); /* prompt evaluation */
double prima_job_get_decode_seconds (PrimaJob *job); /* first token -> finished */
/* Ends the job at the next step (a queued job at once): "finished" with
 * PRIMA_FINISH_CANCELLED follows; a finished job is left as it is. */
void prima_job_cancel (PrimaJob *job);

#define PRIMA_TYPE_ENGINE prima_engine_get_type ()
G_DECLARE_FINAL_TYPE (PrimaEngine, prima_engine, PRIMA, ENGINE, GObject)

/* Loads the model (and over a ring forms it: the setup round, which blocks
 * until the ring is up or fails) and starts the compute thread. */
PrimaEngine *prima_engine_new (const PrimaEngineOptions *opts, GError **error);

/* Tokenizes (or renders and tokenizes) the request and queues the job.
 * Errors: INVALID, TOO_LONG (the prompt leaves no room in a slot's context),
 * BUSY (all slots running and max_queued waiting), STOPPED. The returned job
 * (transfer full) starts at once when a slot is free. */
PrimaJob *prima_engine_submit (PrimaEngine *engine, const PrimaJobParams *params, GError **error);

/* Cancels every job, stops the compute thread and (over a ring) the ring's
 * pipeline; "finished" is emitted for every job before this returns
 * (it iterates the main context). Idempotent; dispose calls it. */
void prima_engine_stop (PrimaEngine *engine);

/* What the model is: its file, name (general.name or the file's base name),
 * context per slot, slots. */
const char *prima_engine_get_model_path (PrimaEngine *engine);
const char *prima_engine_get_model_name (PrimaEngine *engine);
int prima_engine_get_n_ctx (PrimaEngine *engine);
int prima_engine_get_n_parallel (PrimaEngine *engine);
/* The ring's plan as JSON (the head's prima-plan), or NULL on one device. */
const char *prima_engine_get_plan_json (PrimaEngine *engine);

/* Tokens of a text as the engine would see a completion prompt (for tests
 * and the API's usage counts). */
GArray *prima_engine_tokenize (PrimaEngine *engine, const char *text, gboolean add_special);

typedef struct {
  int rank;                     /* 0: the head */
  char *address;                /* host:port, or NULL for this device */
  char *layers;                 /* its windows, "0-3,8-9" */
  double compute_seconds;       /* total time in its layers (measured on the device) */
  /* Over a ring: total time from its layers' end until its link took the
   * frame (measured on the device; the wire is in the ring's
   * transfer_seconds, not split per hop: docs/ring.md, "Timing") */
  double hop_seconds;
  guint64 rounds;               /* forward passes it took part in (a reporting worker: frames it sent on) */
} PrimaEngineDeviceStats;

typedef struct {
  guint64 jobs_done, jobs_cancelled, jobs_failed, jobs_rejected;
  guint64 prompt_tokens, predicted_tokens, cached_tokens;
  double prompt_seconds, decode_seconds;    /* wall time the compute thread spent on each */
  double ttft_seconds_sum;                  /* over jobs that produced a token */
  guint64 ttft_count;
  guint queued, running, n_slots;
  double uptime_seconds;
  /* Per device of the ring (one entry, rank 0, on one device). */
  guint n_devices;
  PrimaEngineDeviceStats *devices;
  /* Over a ring (docs/ring.md, "Timing"; 0 on one device): batches back at
   * the head and their time from leaving it until back (measured on the
   * head); the transfer, derived: that time less the head's send and every
   * worker's compute and send, from the latest moment when every worker's
   * report covered exactly the laps done (ring_transfer_laps of them; 0:
   * not yet, or a worker does not report) */
  guint64 ring_laps;
  double ring_lap_seconds;
  guint64 ring_transfer_laps;
  double ring_transfer_seconds;
} PrimaEngineStats;

/* A snapshot; free with prima_engine_stats_clear. */
void prima_engine_get_stats (PrimaEngine *engine, PrimaEngineStats *out);
void prima_engine_stats_clear (PrimaEngineStats *stats);

G_END_DECLS
