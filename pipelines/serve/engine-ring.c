/* gst-prima: the serving engine's forward passes round a pipelined ring
 * (pipelines/serve-ring.pipeline, docs/serve.md).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The head's pipeline runs for the engine's life: each pass is one tokens
 * buffer into appsrc (its position says where it goes in the ring's KV
 * caches) and one logits buffer out of appsink. The bus is read by a sync
 * handler, so the compute thread learns of a failed ring while it waits. */
#include "engine-backend.h"
#include <glib/gi18n-lib.h>

#include <stdio.h>
#include <string.h>

#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <json-glib/json-glib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "prima-pipeline.h"
#include "ring-head.h"

/* Waiting for the setup round beyond the ring's own timeout (profiling,
 * Halda, the hand-over). */
#define SETUP_MARGIN_S 60
#define STOP_TIMEOUT_S 10
/* Ranks whose stats reports are kept (ring-control.h's PRIMA_CTL_MAX_RANKS). */
#define MAX_REPORTS 256

/* The head's own timing: the "stats" of primaringhead (its windows, the
 * laps) and of its primawssink (batches sent into the ring, their sends). */
typedef struct {
  guint64 sent, compute_us, send_us, laps, lap_us;
} HeadStats;

typedef struct {
  PrimaEngineBackend base;
  PrimaRingOptions *ro;
  GstElement *pipeline, *src, *sink;
  int n_vocab;

  GMutex lock;
  GCond cond;
  char *plan_json;
  char **windows;               /* per data rank */
  char *error;                  /* the ring failed: the first error */
  gboolean planned, eos, interrupted;
  guint64 rounds;
  double round_seconds;
  /* the workers' latest stats reports (cumulative), by rank */
  PrimaDeviceStatsInfo reports[MAX_REPORTS];
  gboolean reported[MAX_REPORTS];
  /* the derived transfer, from the latest consistent snapshot */
  guint64 transfer_laps;
  double transfer_seconds;
  GstElement *head, *ring_out; /* primaringhead and its primawssink, for their "stats" */
} RingBackend;

static void
head_stats (RingBackend *rb, HeadStats *hs)
{
  GstStructure *st = NULL, *out = NULL;

  memset (hs, 0, sizeof *hs);
  if (rb->head)
    g_object_get (rb->head, "stats", &st, NULL);
  if (rb->ring_out)
    g_object_get (rb->ring_out, "stats", &out, NULL);
  if (st) {
    gst_structure_get_uint64 (st, "compute-us", &hs->compute_us);
    gst_structure_get_uint64 (st, "laps", &hs->laps);
    gst_structure_get_uint64 (st, "lap-us", &hs->lap_us);
    gst_structure_free (st);
  }
  if (out) {
    gst_structure_get_uint64 (out, "frames", &hs->sent);
    gst_structure_get_uint64 (out, "send-us", &hs->send_us);
    gst_structure_free (out);
  }
}

/* Under lock: when every worker's report covers exactly the laps the head
 * counted (all it sent came back, each passed every worker once), the
 * time left of those laps after every device's own measured time is the
 * transfer: the wire, the receiving ends and their queues. Otherwise the
 * last such figure stands: a mix of snapshots would be a guess. */
static void
update_transfer (RingBackend *rb, const HeadStats *hs)
{
  guint n = rb->windows ? g_strv_length (rb->windows) : 0;
  gint64 rest;

  if (n < 2 || hs->laps == 0 || hs->laps != hs->sent || hs->laps == rb->transfer_laps || n > MAX_REPORTS)
    return;
  rest = (gint64) hs->lap_us - (gint64) hs->send_us;
  for (guint r = 1; r < n; r++) {
    if (!rb->reported[r] || rb->reports[r].frames != hs->laps)
      return;
    rest -= (gint64) (rb->reports[r].compute_us + rb->reports[r].send_us);
  }
  rb->transfer_laps = hs->laps;
  rb->transfer_seconds = rest / 1e6;
}


static GstBusSyncReply
ring_bus_sync (GstBus *bus, GstMessage *msg, gpointer data)
{
  RingBackend *rb = data;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_mutex_lock (&rb->lock);
    if (rb->error == NULL)
      rb->error = g_strdup (err->message);
    g_cond_broadcast (&rb->cond);
    g_mutex_unlock (&rb->lock);
    g_error_free (err);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
    g_mutex_lock (&rb->lock);
    rb->eos = TRUE;
    g_cond_broadcast (&rb->cond);
    g_mutex_unlock (&rb->lock);
  } else if (prima_message_is_plan (msg)) {
    PrimaPlanInfo info;
    if (prima_message_parse_plan (msg, &info)) {
      g_mutex_lock (&rb->lock);
      g_free (rb->plan_json);
      rb->plan_json = g_strdup (info.plan);
      g_strfreev (rb->windows);
      rb->windows = g_strdupv (info.windows);
      rb->planned = TRUE;
      g_cond_broadcast (&rb->cond);
      g_mutex_unlock (&rb->lock);
      prima_plan_info_clear (&info);
    }
  } else if (prima_message_is_device_stats (msg)) {
    PrimaDeviceStatsInfo info;
    HeadStats hs;
    if (prima_message_parse_device_stats (msg, &info) && info.rank < MAX_REPORTS) {
      head_stats (rb, &hs);
      g_mutex_lock (&rb->lock);
      /* totals: a report that overtook an older one on its way keeps its place */
      if (!rb->reported[info.rank] || info.frames >= rb->reports[info.rank].frames)
        rb->reports[info.rank] = info;
      rb->reported[info.rank] = TRUE;
      update_transfer (rb, &hs);
      g_mutex_unlock (&rb->lock);
    }
    /* kept here; nothing reads the bus's queue */
    return GST_BUS_DROP;
  } else if (prima_message_is_ring_recovered (msg)) {
    PrimaRecoveredInfo rec;
    if (prima_message_parse_ring_recovered (msg, &rec)) {
      g_message ("device %d at %s lost; re-planned over %u devices; continuing", rec.lost_rank,
          rec.lost_address && *rec.lost_address ? rec.lost_address : "an unknown address", rec.devices);
      g_mutex_lock (&rb->lock);
      g_strfreev (rb->windows);
      rb->windows = g_strdupv (rec.windows);
      /* new workers count from 0 again: their old reports no longer add up */
      memset (rb->reported, 0, sizeof rb->reported);
      g_mutex_unlock (&rb->lock);
      prima_recovered_info_clear (&rec);
    }
  }
  return GST_BUS_PASS;
}

/* TRUE (and *message set) when the ring failed or the engine interrupts. */
static gboolean
ring_failed (RingBackend *rb, char **message)
{
  gboolean failed;
  g_mutex_lock (&rb->lock);
  failed = rb->error != NULL || rb->interrupted || rb->eos;
  if (failed && message)
    *message = g_strdup (rb->error ? rb->error : rb->interrupted ? "the engine is stopping" : "the ring ended");
  g_mutex_unlock (&rb->lock);
  return failed;
}

static gboolean
ring_eval (PrimaEngineBackend *b, const prima_batch *batch, float *logits, GError **error)
{
  RingBackend *rb = (RingBackend *) b;
  const gint64 t0 = g_get_monotonic_time ();
  GstSample *sample = NULL;
  char *why = NULL;
  gboolean ok = FALSE;

  /* one sequence, in order: what the engine gives a one-slot backend */
  for (int i = 1; i < batch->n; i++)
    if (batch->seq[i] != batch->seq[0] || batch->pos[i] != batch->pos[0] + i) {
      g_set_error_literal (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_FAILED,
          _("a ring runs one sequence per pass"));
      return FALSE;
    }
  if (ring_failed (rb, &why))
    goto failed;
  if (gst_app_src_push_buffer (GST_APP_SRC (rb->src), prima_tokens_buffer_new (batch->tokens, batch->n,
              batch->pos[0], 0, batch->n > 1 ? PRIMA_FLAG_PROMPT : 0)) != GST_FLOW_OK) {
    why = g_strdup ("the ring's head does not take tokens");
    goto failed;
  }
  while (sample == NULL) {
    sample = gst_app_sink_try_pull_sample (GST_APP_SINK (rb->sink), 50 * GST_MSECOND);
    if (sample == NULL && ring_failed (rb, &why))
      goto failed;
  }
  {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    const gsize want = (gsize) rb->n_vocab * sizeof (float);
    GstMapInfo map;
    PrimaHeader h;
    if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
      if (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_LOGITS, &h) && h.payload_size >= want) {
        /* the logits of the last token come last */
        const gboolean wanted = batch->want == NULL || batch->want[batch->n - 1];
        if (wanted)
          memcpy (logits, map.data + PRIMA_HEADER_SIZE + (h.payload_size - want), want);
        ok = TRUE;
      }
      gst_buffer_unmap (buf, &map);
    }
    gst_sample_unref (sample);
    if (!ok) {
      why = g_strdup ("the ring gave a logits buffer of the wrong size");
      goto failed;
    }
  }
  g_mutex_lock (&rb->lock);
  rb->rounds++;
  rb->round_seconds += (g_get_monotonic_time () - t0) / 1e6;
  g_mutex_unlock (&rb->lock);
  return TRUE;

failed:
  g_set_error (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_FAILED, _("the ring failed: %s"), why);
  g_free (why);
  return FALSE;
}

static gboolean
ring_fatal (PrimaEngineBackend *b)
{
  return ring_failed ((RingBackend *) b, NULL);
}

static void
ring_interrupt (PrimaEngineBackend *b)
{
  RingBackend *rb = (RingBackend *) b;
  g_mutex_lock (&rb->lock);
  rb->interrupted = TRUE;
  g_mutex_unlock (&rb->lock);
}

static const char *
ring_plan_json (PrimaEngineBackend *b)
{
  return ((RingBackend *) b)->plan_json;
}

/* Rank r's server address in the plan, or NULL. */
static char *
plan_address (const char *plan_json, int rank)
{
  JsonParser *parser;
  JsonNode *root;
  JsonArray *ranks;
  char *address = NULL;

  if (plan_json == NULL)
    return NULL;
  parser = json_parser_new ();
  if (json_parser_load_from_data (parser, plan_json, -1, NULL) && (root = json_parser_get_root (parser))
      && JSON_NODE_HOLDS_OBJECT (root)
      && (ranks = json_object_get_array_member (json_node_get_object (root), "ranks"))) {
    for (guint i = 0; i < json_array_get_length (ranks); i++) {
      JsonObject *o = json_array_get_object_element (ranks, i);
      if (o && json_object_get_int_member_with_default (o, "rank", -1) == rank) {
        const char *a = json_object_get_string_member_with_default (o, "address", NULL);
        address = a && *a ? g_strdup (a) : NULL;
        break;
      }
    }
  }
  g_object_unref (parser);
  return address;
}

static void
ring_device_stats (PrimaEngineBackend *b, PrimaEngineDeviceStats **devices, guint *n)
{
  RingBackend *rb = (RingBackend *) b;
  HeadStats hs;
  guint count;

  head_stats (rb, &hs);
  g_mutex_lock (&rb->lock);
  update_transfer (rb, &hs);
  count = rb->windows ? g_strv_length (rb->windows) : 0;
  *devices = g_new0 (PrimaEngineDeviceStats, MAX (count, 1));
  for (guint i = 0; i < count; i++) {
    PrimaEngineDeviceStats *d = &(*devices)[i];
    d->rank = (int) i;
    d->layers = g_strdup (rb->windows[i]);
    d->rounds = rb->rounds;
    if (i > 0)
      d->address = plan_address (rb->plan_json, (int) i);
    if (i == 0) {
      /* the head times its own windows and sends */
      d->compute_seconds = hs.compute_us / 1e6;
      d->hop_seconds = hs.send_us / 1e6;
    } else if (i < MAX_REPORTS && rb->reported[i]) {
      d->compute_seconds = rb->reports[i].compute_us / 1e6;
      d->hop_seconds = rb->reports[i].send_us / 1e6;
      d->rounds = rb->reports[i].frames;
    }
    /* a worker that does not report (an older one): its layers' time is
     * not known here; rounds are the engine's passes */
  }
  g_mutex_unlock (&rb->lock);
  *n = count;
}

static void
ring_ring_stats (PrimaEngineBackend *b, PrimaEngineStats *stats)
{
  RingBackend *rb = (RingBackend *) b;
  HeadStats hs;

  head_stats (rb, &hs);
  g_mutex_lock (&rb->lock);
  update_transfer (rb, &hs);
  stats->ring_laps = hs.laps;
  stats->ring_lap_seconds = hs.lap_us / 1e6;
  stats->ring_transfer_laps = rb->transfer_laps;
  stats->ring_transfer_seconds = rb->transfer_seconds;
  g_mutex_unlock (&rb->lock);
}

/* The ordered stop: end-of-stream goes round the ring (workers with --once
 * exit 0, the others wait for the next head), then the pipeline stops. */
static void
ring_stop (PrimaEngineBackend *b)
{
  RingBackend *rb = (RingBackend *) b;
  gboolean clean = FALSE;

  if (rb->pipeline == NULL)
    return;
  if (!ring_failed (rb, NULL) || rb->interrupted) {
    gint64 end = g_get_monotonic_time () + STOP_TIMEOUT_S * G_USEC_PER_SEC;
    gst_app_src_end_of_stream (GST_APP_SRC (rb->src));
    g_mutex_lock (&rb->lock);
    while (!rb->eos && rb->error == NULL)
      if (!g_cond_wait_until (&rb->cond, &rb->lock, end))
        break;
    clean = rb->eos && rb->error == NULL;
    g_mutex_unlock (&rb->lock);
  }
  gst_element_set_state (rb->pipeline, GST_STATE_NULL);
  if (rb->ro->n_workers > 0)
    prima_ring_head_finish (rb->ro, !clean);
  gst_clear_object (&rb->src);
  gst_clear_object (&rb->sink);
  gst_clear_object (&rb->head);
  gst_clear_object (&rb->ring_out);
  gst_clear_object (&rb->pipeline);
}

static void
ring_free (PrimaEngineBackend *b)
{
  RingBackend *rb = (RingBackend *) b;
  ring_stop (b);
  g_free (rb->plan_json);
  g_strfreev (rb->windows);
  g_free (rb->error);
  g_mutex_clear (&rb->lock);
  g_cond_clear (&rb->cond);
  g_free (rb);
}

gboolean
prima_engine_backend_is_ring (const PrimaEngineOptions *opts)
{
  return opts->ring && prima_ring_active (opts->ring);
}

PrimaEngineBackend *
prima_engine_backend_ring_new (const PrimaEngineOptions *opts, const prima_model *model, int n_ctx, GError **error)
{
  RingBackend *rb = g_new0 (RingBackend, 1);
  PrimaRingOptions *ro = opts->ring;
  GstBus *bus;
  gint64 end;

  g_mutex_init (&rb->lock);
  g_cond_init (&rb->cond);
  rb->ro = ro;
  rb->n_vocab = model->hp.n_vocab;
  rb->base.eval = ring_eval;
  rb->base.fatal = ring_fatal;
  rb->base.interrupt = ring_interrupt;
  rb->base.stop = ring_stop;
  rb->base.plan_json = ring_plan_json;
  rb->base.device_stats = ring_device_stats;
  rb->base.ring_stats = ring_ring_stats;
  rb->base.free = ring_free;
  if (ro->command == NULL)
    ro->command = "serve";

  if (!prima_gst_init (ro->command) || !(rb->pipeline = prima_pipeline_load (ro->command, "serve-ring.pipeline"))) {
    g_set_error_literal (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_FAILED,
        _("the ring's pipeline (serve-ring.pipeline) cannot be loaded"));
    goto fail;
  }
  bus = gst_element_get_bus (rb->pipeline);
  gst_bus_set_sync_handler (bus, ring_bus_sync, rb, NULL);
  gst_object_unref (bus);
  if (!prima_ring_head_setup (ro, rb->pipeline, opts->model_path, n_ctx, opts->n_threads)) {
    g_set_error_literal (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_FAILED, _("the ring's flags are not usable"));
    goto fail;
  }
  prima_pipeline_set (rb->pipeline, "layers", "model", opts->model_path, "context-size", n_ctx, "threads",
      MAX (opts->n_threads, 0), NULL);
  rb->src = prima_pipeline_get (rb->pipeline, "input");
  rb->sink = prima_pipeline_get (rb->pipeline, "output");
  rb->head = prima_pipeline_get (rb->pipeline, "layers");
  rb->ring_out = prima_pipeline_get (rb->pipeline, "ring-out");
  if (gst_element_set_state (rb->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    char *why = NULL;
    ring_failed (rb, &why);
    g_set_error (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_FAILED, _("the ring did not start: %s"),
        why ? why : "its pipeline failed");
    g_free (why);
    goto fail;
  }
  /* the setup round: every device joins, the head plans and deals */
  end = g_get_monotonic_time () + (gint64) ((ro->ring_timeout_s > 0 ? ro->ring_timeout_s : 24 * 3600)
      + SETUP_MARGIN_S) * G_USEC_PER_SEC;
  g_mutex_lock (&rb->lock);
  while (!rb->planned && rb->error == NULL)
    if (!g_cond_wait_until (&rb->cond, &rb->lock, end))
      break;
  if (!rb->planned) {
    g_set_error (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_FAILED, _("the ring was not set up: %s"),
        rb->error ? rb->error : "no plan in time");
    g_mutex_unlock (&rb->lock);
    goto fail;
  }
  g_mutex_unlock (&rb->lock);
  return &rb->base;

fail:
  /* no ordered stop for a ring that never formed */
  g_mutex_lock (&rb->lock);
  rb->interrupted = TRUE;
  if (rb->error == NULL)
    rb->error = g_strdup ("setup failed");
  g_mutex_unlock (&rb->lock);
  if (rb->pipeline)
    gst_element_set_state (rb->pipeline, GST_STATE_NULL);
  if (ro->n_workers > 0)
    prima_ring_head_finish (ro, TRUE);
  gst_clear_object (&rb->src);
  gst_clear_object (&rb->sink);
  gst_clear_object (&rb->head);
  gst_clear_object (&rb->ring_out);
  gst_clear_object (&rb->pipeline);
  ring_free (&rb->base);
  return NULL;
}
