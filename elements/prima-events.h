/* gst-prima: the protocol between the prima elements and their applications:
 * every custom event, bus message and query, each with its new / parse / is
 * functions (as GstVideo's force-key-unit events), so that no element or
 * program reads another's structure fields by name.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * prima-caps.h keeps what travels in buffers (caps and the buffer header);
 * this header holds what travels beside them. The structure names are listed
 * here for gst-launch users and debug logs; code uses the functions.
 *
 * Events (custom events: the downstream ones serialized, in order with the
 * buffers; the upstream ones not):
 *
 *   prima-kv-clear      downstream: forget the KV cache (and the sampler's
 *                       penalty history); the next tokens start at position 0.
 *   prima-kv-remove     downstream: drop the cached positions [p0, p1) of
 *                       sequence seq (-1: every one; p1 -1: to the end).
 *   prima-kv-shift      downstream: add delta to the positions [p0, p1).
 *                       primaloop sends both for a context shift; primalayers
 *                       applies them and, on the head of a ring, sends them
 *                       round it.
 *   prima-kv-shifted    upstream, primaloop -> primatokenizer after a context
 *                       shift: [n-keep, n-keep + n-discard) left the cache and
 *                       the later positions moved down by n-discard.
 *   prima-end-of-turn   downstream: the end of a turn. From primatokenizer in
 *                       chat mode after a user turn's tokens; from primaloop
 *                       after the last token of an answer in chat mode,
 *                       instead of end-of-stream, with the turn's reason.
 *   prima-answer        upstream, primaloop -> primatokenizer at the end of a
 *                       chat turn: the evaluated answer tokens (a tokens
 *                       buffer at their positions), the next free position,
 *                       and "refused" when the user's message did not fit and
 *                       was dropped.
 *   prima-interrupt     upstream (or sent to primaloop with
 *                       gst_element_send_event()): stop the current answer
 *                       after the token being evaluated.
 *   prima-device-failed upstream, sent by a device's application to its
 *                       primawssrc and primawssink: this device (rank) failed,
 *                       and why; the peers hear it (close code 4006,
 *                       docs/wire-protocol.md) so it reaches the head.
 *   prima-ring-plan     downstream: the head's plan as it arrived at this
 *                       device (the control message's JSON, this device's
 *                       rank, its windows "a-b,c-d", n-layer, n-ctx).
 *                       primalayers takes its windows from it; primawssink
 *                       sends the plan on.
 *   prima-ring-failure  downstream: a device upstream lost its peer or failed
 *                       itself (rank >= 0: that device, message: its reason;
 *                       lost: the data-ring rank at fault, the peer that
 *                       dropped or stalled, or the failed device itself);
 *                       primawssink passes it on, the head reports it.
 *   prima-speech-started downstream, from primaspeechin when the voice
 *                       activity detector hears speech begin (barge-in): the
 *                       chain can stop an answer that is playing. Its
 *                       stream-time is the estimated start of the speech.
 *   prima-ring-control  upstream: a control message (JSON) for the previous
 *                       device (profiles and failures travel back to the
 *                       head this way). An element that cannot pass it on
 *                       answers FALSE, and the sender handles it itself.
 *
 *   prima-ring-suspend  sent to primaringhead (gst_element_send_event()) when
 *                       its ring broke: it stops sending round the ring (its
 *                       sink waits), drops what comes back and takes a failed
 *                       push on ring_src for no error.
 *   prima-ring-resume   sent to primaringhead once the ring is back: it
 *                       re-creates its windows if `windows` changed, clears
 *                       its KV cache, sends the tokens its cache held round as
 *                       one batch (the logits leave only if a batch was
 *                       outstanding) and goes on.
 *
 * End-of-stream completes the set: it is the ring's ordered "stop".
 *
 * Element messages (on the bus):
 *
 *   prima-turn          primaloop, at the end of each turn (PrimaTurnInfo).
 *   prima-ring          primawssrc and primawssink: the ring's setup as it
 *                       happens ("listening", "connected", "joined",
 *                       "waiting", "complete"), for people.
 *   prima-ring-recovered primascheduler, when the ring survived the loss of
 *                       a device (PrimaRecoveredInfo): `prima run` prints
 *                       its one line from it.
 *   prima-utterance     primaspeechin, for each recognized utterance
 *                       (PrimaUtteranceInfo), as its text leaves.
 *   prima-loading       primalayers, for each layer of the first pass, which
 *                       faults the weights in (PrimaLoadingInfo): `prima`
 *                       renders them as its progress line.
 *   prima-speech        primaspeechout (PrimaSpeechInfo): when it pushes the
 *                       first audio buffer of a turn ("first-audio": its pts
 *                       and the wall-clock time) and when the turn's audio
 *                       ends ("end": samples, duration, whether it was
 *                       interrupted).
 *
 * Queries:
 *
 *   prima-context       custom, answered by primalayers: n-ctx (KV positions)
 *                       and the next position it will evaluate.
 *
 * Contexts (GstContext, GST_QUERY_CONTEXT and the NEED/HAVE_CONTEXT messages):
 *
 *   prima.model         the model of a chain, shared by the elements that
 *                       read it (prima-shared-model.h: prima_model_context_new
 *                       and prima_model_context_parse). */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define PRIMA_EVENT_KV_CLEAR "prima-kv-clear"
#define PRIMA_EVENT_KV_REMOVE "prima-kv-remove"
#define PRIMA_EVENT_KV_SHIFT "prima-kv-shift"
#define PRIMA_EVENT_KV_SHIFTED "prima-kv-shifted"
#define PRIMA_EVENT_END_OF_TURN "prima-end-of-turn"
#define PRIMA_EVENT_ANSWER "prima-answer"
#define PRIMA_EVENT_INTERRUPT "prima-interrupt"
#define PRIMA_EVENT_DEVICE_FAILED "prima-device-failed"
#define PRIMA_EVENT_RING_PLAN "prima-ring-plan"
#define PRIMA_EVENT_RING_FAILURE "prima-ring-failure"
#define PRIMA_EVENT_RING_CONTROL "prima-ring-control"
#define PRIMA_EVENT_RING_SUSPEND "prima-ring-suspend"
#define PRIMA_EVENT_RING_RESUME "prima-ring-resume"
#define PRIMA_EVENT_SPEECH_STARTED "prima-speech-started"
#define PRIMA_MESSAGE_UTTERANCE "prima-utterance"
#define PRIMA_MESSAGE_RING_RECOVERED "prima-ring-recovered"
#define PRIMA_MESSAGE_TURN "prima-turn"
#define PRIMA_MESSAGE_RING "prima-ring"
#define PRIMA_MESSAGE_LOADING "prima-loading"
#define PRIMA_MESSAGE_DEVICE_STATS "prima-device-stats"
#define PRIMA_MESSAGE_SPEECH "prima-speech"
#define PRIMA_QUERY_CONTEXT "prima-context"

/* ---- events ----
 * The parse functions return FALSE when the event is not of their kind; any
 * output pointer may be NULL, and strings point into the event. */

GstEvent *prima_event_new_kv_clear (void);
gboolean prima_event_is_kv_clear (GstEvent * event);

GstEvent *prima_event_new_kv_remove (gint seq, gint p0, gint p1);
gboolean prima_event_is_kv_remove (GstEvent * event);
gboolean prima_event_parse_kv_remove (GstEvent * event, gint * seq, gint * p0, gint * p1);

GstEvent *prima_event_new_kv_shift (gint seq, gint p0, gint p1, gint delta);
gboolean prima_event_is_kv_shift (GstEvent * event);
gboolean prima_event_parse_kv_shift (GstEvent * event, gint * seq, gint * p0, gint * p1, gint * delta);

GstEvent *prima_event_new_kv_shifted (gint n_keep, gint n_discard);
gboolean prima_event_is_kv_shifted (GstEvent * event);
gboolean prima_event_parse_kv_shifted (GstEvent * event, gint * n_keep, gint * n_discard);

/* Where position p of the cache went after that shift (a discarded one: to
 * n_keep, where re-evaluated text would start). */
static inline gint
prima_kv_shifted_position (gint p, gint n_keep, gint n_discard)
{
  return p >= n_keep + n_discard ? p - n_discard : MIN (p, n_keep);
}

/* reason: NULL (the tokenizer's), or the loop's, as in PrimaTurnInfo. */
GstEvent *prima_event_new_end_of_turn (const gchar * reason);
gboolean prima_event_is_end_of_turn (GstEvent * event);
/* *reason: NULL when the event has none. */
gboolean prima_event_parse_end_of_turn (GstEvent * event, const gchar ** reason);

/* ids: a tokens buffer (prima-caps.h) with the answer's evaluated tokens. */
GstEvent *prima_event_new_answer (GstBuffer * ids, gint position);
/* The answer to a user message that did not fit in the context: nothing was
 * evaluated and the tokenizer drops the message from its conversation.
 * Takes the event, returns it writable and marked. */
GstEvent *prima_event_answer_set_refused (GstEvent * event);
gboolean prima_event_is_answer (GstEvent * event);
/* *ids: a new reference (NULL when absent). */
gboolean prima_event_parse_answer (GstEvent * event, GstBuffer ** ids, gint * position, gboolean * refused);

GstEvent *prima_event_new_interrupt (void);
gboolean prima_event_is_interrupt (GstEvent * event);

/* rank -1: unknown; message NULL: "unknown error". */
GstEvent *prima_event_new_device_failed (gint rank, const gchar * message);
gboolean prima_event_is_device_failed (GstEvent * event);
gboolean prima_event_parse_device_failed (GstEvent * event, gint * rank, const gchar ** message);

GstEvent *prima_event_new_ring_plan (const gchar * json, gint rank, const gchar * windows, gint n_layer, gint n_ctx);
gboolean prima_event_is_ring_plan (GstEvent * event);
gboolean prima_event_parse_ring_plan (GstEvent * event, const gchar ** json, gint * rank, const gchar ** windows,
    gint * n_layer, gint * n_ctx);

/* rank -1: the ring itself failed (a lost peer); message says why. */
GstEvent *prima_event_new_ring_failure (gint rank, const gchar * message);
gboolean prima_event_is_ring_failure (GstEvent * event);
gboolean prima_event_parse_ring_failure (GstEvent * event, gint * rank, const gchar ** message);
/* The same with the data-ring rank at fault (lost; -1: unknown). */
GstEvent *prima_event_new_ring_failure_lost (gint rank, gint lost, const gchar * message);
gboolean prima_event_parse_ring_failure_lost (GstEvent * event, gint * rank, gint * lost, const gchar ** message);

/* For primaringhead's send_event (no fields). */
GstEvent *prima_event_new_ring_suspend (void);
gboolean prima_event_is_ring_suspend (GstEvent * event);
GstEvent *prima_event_new_ring_resume (void);
gboolean prima_event_is_ring_resume (GstEvent * event);

GstEvent *prima_event_new_ring_control (const gchar * json);
gboolean prima_event_is_ring_control (GstEvent * event);
gboolean prima_event_parse_ring_control (GstEvent * event, const gchar ** json);

/* stream_time: where the speech began (GST_CLOCK_TIME_NONE: unknown). */
GstEvent *prima_event_new_speech_started (GstClockTime stream_time);
gboolean prima_event_is_speech_started (GstEvent * event);
gboolean prima_event_parse_speech_started (GstEvent * event, GstClockTime * stream_time);

/* ---- messages ---- */

/* One recognized utterance, from primaspeechin. */
typedef struct
{
  const gchar *text;            /* the final hypothesis, without the newline */
  gdouble confidence;           /* the recognizer's posterior probability of it, 0 .. 1 */
  gint score;                   /* its path score (log domain, higher is better) */
  GstClockTime start;           /* stream time of the speech's start */
  GstClockTime end;             /* and of its end */
} PrimaUtteranceInfo;

GstMessage *prima_message_new_utterance (GstObject * src, const PrimaUtteranceInfo * info);
gboolean prima_message_is_utterance (GstMessage * message);
/* info->text points into the message. */
gboolean prima_message_parse_utterance (GstMessage * message, PrimaUtteranceInfo * info);

/* The end of a turn, from primaloop. */
typedef struct
{
  gint prompt_tokens;
  GstClockTime prompt_time;     /* from sending the prompt to its first sampled token */
  gint generated;               /* tokens sampled */
  gint decode_tokens;           /* of them evaluated after the first: generated - 1 */
  GstClockTime decode_time;     /* from the first sampled token to the last */
  gint position;                /* positions in the KV cache */
  gint context_shifts;
  gboolean chat;
  /* "end-of-generation", "n-predict", "context-full", "stop-string",
   * "interrupted" or "empty" */
  const gchar *reason;
} PrimaTurnInfo;

GstMessage *prima_message_new_turn (GstObject * src, const PrimaTurnInfo * info);
gboolean prima_message_is_turn (GstMessage * message);
/* info->reason points into the message. */
gboolean prima_message_parse_turn (GstMessage * message, PrimaTurnInfo * info);

/* what: "listening", "connected", "joined", "waiting", "complete"; port: the
 * bound port (primawssrc; 0 otherwise); message: for people. */
GstMessage *prima_message_new_ring (GstObject * src, const gchar * what, gint rank, guint port, const gchar * message);
gboolean prima_message_is_ring (GstMessage * message);
gboolean prima_message_parse_ring (GstMessage * message, const gchar ** what, gint * rank, guint * port,
    const gchar ** text);

/* One layer of the first pass, from primalayers. */
typedef struct
{
  gint layer;                   /* layers faulted in so far, 1 .. n_layers */
  gint n_layers;                /* the model's */
  guint64 bytes;                /* weight bytes mapped so far */
  gdouble seconds;              /* since the first layer began */
  gdouble window_resident;      /* of the current window's weights, 0 .. 1 */
  gboolean window_done;         /* the layer ends a window */
  gboolean done;                /* the first pass is complete */
} PrimaLoadingInfo;

GstMessage *prima_message_new_loading (GstObject * src, const PrimaLoadingInfo * info);
gboolean prima_message_is_loading (GstMessage * message);
gboolean prima_message_parse_loading (GstMessage * message, PrimaLoadingInfo * info);

/* The `prima-plan` element message the scheduler posts once the setup
 * round is over (fields: docs/ring.md, "The scheduler element"). */
#define PRIMA_MESSAGE_PLAN "prima-plan"

typedef struct {
  guint devices;                /* devices the round started with */
  guint world;                  /* devices that carry layers (the data ring) */
  guint rounds;                 /* rounds per token */
  guint n_layer;
  guint context_size;
  gdouble predicted_tpot;       /* seconds per token predicted by Halda; 0 with a fixed layer window */
  gchar **windows;              /* per rank of the data ring: "a-b,c-d" (b excluded) */
  gchar **cases;                /* per rank of the data ring: the memory case ("M1" .. "M4"; "" when not solved) */
  gchar *plan;                  /* the plan message (JSON) the ring sink sends round */
} PrimaPlanInfo;

GstMessage *prima_message_new_plan (GstObject * src, const PrimaPlanInfo * info);
gboolean prima_message_is_plan (GstMessage * message);
/* Fills info (free with prima_plan_info_clear); FALSE when message is not a plan. */
gboolean prima_message_parse_plan (GstMessage * message, PrimaPlanInfo * info);
void prima_plan_info_clear (PrimaPlanInfo * info);

/* The ring survived the loss of a device, from primascheduler. */
typedef struct {
  gint lost_rank;               /* the lost device's rank (its --rank: the setup round's) */
  gchar *lost_address;          /* its server, "host:port" ("" unknown) */
  guint tokens;                 /* tokens generated in this answer before the loss */
  guint devices;                /* devices of the new ring */
  gdouble seconds;              /* from the loss to the ring back (every device joined, the replay sent) */
  gchar **windows;              /* per rank of the new ring: "a-b,c-d" (b excluded) */
} PrimaRecoveredInfo;

GstMessage *prima_message_new_ring_recovered (GstObject * src, const PrimaRecoveredInfo * info);
gboolean prima_message_is_ring_recovered (GstMessage * message);
/* Fills info (free with prima_recovered_info_clear); FALSE when message is not one. */
gboolean prima_message_parse_ring_recovered (GstMessage * message, PrimaRecoveredInfo * info);
void prima_recovered_info_clear (PrimaRecoveredInfo * info);

/* One device's timing counters, totals since its pipeline started (docs/ring.md,
 * "Timing"). A worker's come back in its `stats` control message and the
 * head's primawssink posts them; the head's primaringhead posts its own
 * (rank 0), with the ring's laps. All durations are measured on the device
 * that reports them, with its own clock. */
typedef struct {
  gint rank;
  guint64 frames;               /* frames it sent on (on the head: batches it ran windows for) */
  guint64 compute_us;           /* time in its layers */
  guint64 send_us;              /* from its layers' end until its link took the frame */
  guint64 laps;                 /* head only: frames that came back around the ring */
  guint64 lap_us;               /* head only: their time from leaving to coming back */
} PrimaDeviceStatsInfo;

GstMessage *prima_message_new_device_stats (GstObject * src, const PrimaDeviceStatsInfo * info);
gboolean prima_message_is_device_stats (GstMessage * message);
gboolean prima_message_parse_device_stats (GstMessage * message, PrimaDeviceStatsInfo * info);

/* A turn's spoken answer, from primaspeechout. */
typedef struct {
  gboolean end;                 /* FALSE: its first audio buffer left; TRUE: its audio ended */
  guint turn;                   /* 0, 1, ... in the element's stream */
  GstClockTime pts;             /* first-audio: the buffer's timestamp */
  gint64 wall_time;             /* first-audio: g_get_real_time() (µs) as it was pushed */
  guint64 samples;              /* end: the turn's samples */
  GstClockTime duration;        /* end: their duration */
  gboolean interrupted;         /* end: cut short by prima-interrupt or a flush */
} PrimaSpeechInfo;

GstMessage *prima_message_new_speech (GstObject * src, const PrimaSpeechInfo * info);
gboolean prima_message_is_speech (GstMessage * message);
gboolean prima_message_parse_speech (GstMessage * message, PrimaSpeechInfo * info);

/* How long a device's layers took for a buffer: a GstReferenceTimestampMeta
 * with the reference caps "timestamp/x-prima-compute", timestamp when they
 * began and duration how long, on g_get_monotonic_time()'s clock (ns).
 * primalayers adds it; primawssink reads it to time the send that follows. */
void prima_buffer_set_compute_time (GstBuffer * buf, GstClockTime start, GstClockTime duration);
gboolean prima_buffer_get_compute_time (GstBuffer * buf, GstClockTime * start, GstClockTime * duration);

/* ---- queries ---- */

GstQuery *prima_query_new_context (void);
gboolean prima_query_is_context (GstQuery * query);
/* The answer (primalayers). */
void prima_query_set_context (GstQuery * query, gint n_ctx, gint position);
/* FALSE when not one or not answered. */
gboolean prima_query_parse_context (GstQuery * query, gint * n_ctx, gint * position);

G_END_DECLS
