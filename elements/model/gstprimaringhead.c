/* gst-prima: primaringhead, the head of a pipelined ring of devices.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primaringhead
 * @title: primaringhead
 *
 * The head (rank 0) of a pipelined ring (docs/ring.md): token ids come in on
 * `sink`; the element embeds them and sends the hidden states round the
 * ring on `ring_src` (to a primawssink, the next device). What comes back
 * from the last device on `ring_sink` (from a primawssrc) runs the head's
 * own #GstPrimaRingHead:windows, the last of each cycle, each with its own
 * KV cache; the window that ends at the model's last layer applies the
 * output head and its logits leave on `src`, carrying the ids the head
 * embedded, so a sampler's penalties work as on one device (one row per
 * token for a buffer of primadraft's, flagged %PRIMA_FLAG_DRAFT: one pass
 * round the ring verifies all its drafts, and the next buffer's position
 * rolls every device's cache back over the rejected ones). A window that
 * starts at layer 0 runs at once on the embedded tokens (a ring of one).
 *
 * Like primalayers it tracks the next position (input with position -1
 * appends), answers the `prima-context` query and applies `prima-kv-clear`,
 * `prima-kv-remove` and `prima-kv-shift` to every window; these events also
 * go round the ring on `ring_src`, in order with the frames. End-of-stream
 * is the ring's ordered stop: it goes round, and `src` ends only when it
 * has come back on `ring_sink`. NaN or infinite values stop the element
 * with an error that names the layer. As primalayers it posts
 * `prima-loading` messages for the first pass over its weights, and
 * #GstPrimaRingHead:prefetch-mode and #GstPrimaRingHead:release-policy
 * choose how they come and go (docs/memory.md).
 *
 * Workers run primalayers windows=plan between a primawssrc and a
 * primawssink (pipelines/worker.pipeline); `prima run --world N` fills
 * pipelines/ring-head.pipeline with this element.
 *
 * A ring that loses a device can be rebuilt under it (since 0.3;
 * primascheduler does it, docs/ring.md): the element keeps the token ids its
 * KV cache holds, by position (updated as it embeds and on `prima-kv-clear`,
 * `-remove` and `-shift`), and whether a batch is outstanding (sent, its
 * logits not out yet). Two events sent to it with gst_element_send_event()
 * (or to its sink pad with gst_pad_send_event(), which takes no state lock)
 * drive it: `prima-ring-suspend` (it stops sending: its sink waits, what
 * comes back on ring_sink is dropped, a failed push on ring_src is no
 * error) and `prima-ring-resume` (it re-creates its windows if
 * #GstPrimaRingHead:windows changed, clears its KV cache, sends the tokens
 * it held round the ring as one batch, from position 0, and goes on; the
 * logits of that batch leave on src only if a batch was outstanding, as
 * that batch's logits). #GstPrimaRingHead:replaying says when the batch is
 * back.
 *
 * ## Example launch line
 * A ring of one: the head's own server takes its hidden states back.
 * |[
 * export PRIMA_CLUSTER_KEY=$(openssl rand -hex 32)
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primaringhead name=head windows=0-5 ! fakesink dump=true head.ring_src ! primawssink url=ws://127.0.0.1:9000 rank=0 peer-rank=0 world=1 primawssrc port=9000 rank=0 peer-rank=0 ! head.ring_sink
 * ]| dumps the logits of the prompt's last token.
 *
 * Since: 0.2
 */

#include "gstprimaringhead.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "prima-element.h"
#include "model.h"
#include "forward.h"
#include "prima-window.h"
#include "gstprimalayers.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_ring_head_debug);
#define GST_CAT_DEFAULT gst_prima_ring_head_debug

#define DEFAULT_CONTEXT_SIZE 0
#define DEFAULT_THREADS 0

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_CONTEXT_SIZE,
  PROP_THREADS,
  PROP_WINDOWS,
  PROP_ALL_LOGITS,
  PROP_N_EVALUATED,
  PROP_PREFETCH_MODE,
  PROP_RELEASE_POLICY,
  PROP_ANSWER_TOKENS,
  PROP_REPLAYING,
  PROP_STATS,
};

/* One cell of what the KV cache holds: the token at a position. */
typedef struct
{
  gint32 pos, id;
} HistoryCell;

struct _GstPrimaRingHead
{
  GstElement parent;

  GstPad *sinkpad, *srcpad, *ring_sinkpad, *ring_srcpad;

  /* properties, under the object lock */
  gchar *model_path;
  PrimaSharedModel *shared;      /* the model's identity while started */
  PrimaSharedModel *context_model;       /* from the pipeline's "prima.model" context */
  gint context_size;
  gint threads;
  gchar *windows_spec;
  gboolean all_logits;
  prima_prefetch_mode prefetch_mode;
  prima_release_policy release_policy;

  /* from READY to PAUSED */
  prima_model *model;

  /* two streaming threads (sink, ring_sink) evaluate: the windows, the ids
   * and the ring_src's start are under eval_lock */
  GMutex eval_lock;
  PrimaWindows *windows;
  GArray *in_ids;               /* the ids of the batch in the ring */
  gint in_pos0;
  guint16 in_flags;
  gint in_draft;                /* draft tokens at its end (speculative decoding) */
  gboolean ring_src_started;
  prima_residency_params res;   /* the windows' (to re-create them) */
  gchar *active_spec;           /* the windows' spec */
  /* what the KV cache holds, for a replay after a loss (eval_lock) */
  GArray *history;              /* HistoryCell, ascending positions */
  gboolean outstanding;         /* a batch was sent, its logits are not out yet */
  guint replay_pending;         /* runs of the replay still in the ring */
  gboolean replay_emit;         /* the replay's last run gives the outstanding batch's logits */
  GArray *replay_ids;           /* that batch's ids, position and flags */
  gint replay_pos0;
  guint16 replay_flags;
  gint replay_draft;

  gint replaying;               /* atomic: replay_pending > 0, for the property */
  gint ring_down;               /* atomic: suspended; drop ring_sink input, a failed ring_src push is no error */
  /* the sink pad waits while held (suspended) */
  GMutex hold_lock;
  GCond hold_cond;
  gboolean hold, flushing;

  /* under the object lock */
  gint n_ctx;
  gint next_pos;
  gboolean sink_eos, ring_eos;  /* end-of-stream waits for both */
  guint answer_tokens;          /* logits out since the last prompt batch */
  /* the head's timing since start, for the ring's stats (the "stats" property) */
  guint64 st_compute_us;        /* in the head's windows */
  guint64 st_laps, st_lap_us;   /* batches back from the ring: from leaving until back */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_LOGITS));

/* Hidden states to the next device and from the last one. */
static GstStaticPadTemplate ring_sink_template = GST_STATIC_PAD_TEMPLATE ("ring_sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_HIDDEN));

static GstStaticPadTemplate ring_src_template = GST_STATIC_PAD_TEMPLATE ("ring_src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_HIDDEN));

#define gst_prima_ring_head_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaRingHead, gst_prima_ring_head, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_prima_ring_head_debug, "primaringhead", 0, "prima ring head"));
GST_ELEMENT_REGISTER_DEFINE (primaringhead, "primaringhead", GST_RANK_NONE, GST_TYPE_PRIMA_RING_HEAD);

static GstCaps *
gst_prima_ring_head_hidden_caps (GstPrimaRingHead * self)
{
  return gst_caps_new_simple ("application/x-prima-hidden", "n-embd", G_TYPE_INT, self->model->hp.n_embd,
      "format", G_TYPE_STRING, "F32", NULL);
}

static GstCaps *
gst_prima_ring_head_logits_caps (GstPrimaRingHead * self)
{
  return gst_caps_new_simple ("application/x-prima-logits", "n-vocab", G_TYPE_INT, self->model->hp.n_vocab, NULL);
}

static GstBuffer *
gst_prima_ring_head_hidden_buffer (GstPrimaRingHead * self, const PrimaHeader * in, gint pos0, gint next_layer)
{
  PrimaHeader h;
  prima_header_init (&h, PRIMA_PAYLOAD_HIDDEN, in->n_tokens,
      in->n_tokens * (guint32) self->model->hp.n_embd * sizeof (float));
  h.seq_id = in->seq_id;
  h.pos0 = pos0;
  h.next_layer = next_layer;
  h.flags = in->flags & PRIMA_FLAG_PROMPT;
  return prima_buffer_new (&h);
}

/* ---- what the KV cache holds (under eval_lock) ---- */

/* Evaluating at pos drops the cached positions >= pos first. */
static void
gst_prima_ring_head_history_truncate (GstPrimaRingHead * self, gint pos)
{
  guint n = self->history->len;

  while (n > 0 && g_array_index (self->history, HistoryCell, n - 1).pos >= pos)
    n--;
  g_array_set_size (self->history, n);
}

static void
gst_prima_ring_head_history_add (GstPrimaRingHead * self, gint pos0, const gint32 * ids, guint n)
{
  gst_prima_ring_head_history_truncate (self, pos0);
  for (guint i = 0; i < n; i++) {
    HistoryCell c = { pos0 + (gint32) i, ids[i] };
    g_array_append_val (self->history, c);
  }
}

static gint
cell_compare (gconstpointer a, gconstpointer b)
{
  const HistoryCell *x = a, *y = b;
  return (x->pos > y->pos) - (x->pos < y->pos);
}

/* As forward.h's cells: remove drops [p0, p1), shift moves [p0, p1) by
 * delta and drops what falls below 0 (p1 < 0: to the end). */
static void
gst_prima_ring_head_history_kv (GstPrimaRingHead * self, PrimaKvOp op, gint p0, gint p1, gint delta)
{
  guint j = 0;

  if (op == PRIMA_KV_CLEAR) {
    g_array_set_size (self->history, 0);
    return;
  }
  for (guint i = 0; i < self->history->len; i++) {
    HistoryCell c = g_array_index (self->history, HistoryCell, i);
    gboolean in = c.pos >= p0 && (p1 < 0 || c.pos < p1);
    if (in && op == PRIMA_KV_REMOVE)
      continue;
    if (in && op == PRIMA_KV_SHIFT) {
      c.pos += delta;
      if (c.pos < 0)
        continue;
    }
    g_array_index (self->history, HistoryCell, j++) = c;
  }
  g_array_set_size (self->history, j);
  if (op == PRIMA_KV_SHIFT)
    g_array_sort (self->history, cell_compare);
}

/* Under eval_lock: the ring's stream starts with the first thing sent. */
static void
gst_prima_ring_head_ring_src_start (GstPrimaRingHead * self)
{
  GstSegment segment;
  GstCaps *caps;
  gchar *id;

  if (self->ring_src_started)
    return;
  self->ring_src_started = TRUE;
  /* two sink pads: no upstream stream id to derive one from */
  id = g_strdup_printf ("%08x%08x/ring", g_random_int (), g_random_int ());
  gst_pad_push_event (self->ring_srcpad, gst_event_new_stream_start (id));
  g_free (id);
  caps = gst_prima_ring_head_hidden_caps (self);
  gst_pad_push_event (self->ring_srcpad, gst_event_new_caps (caps));
  gst_caps_unref (caps);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (self->ring_srcpad, gst_event_new_segment (&segment));
}

/* After the head's windows ran from t0: their time. */
static void
gst_prima_ring_head_add_compute (GstPrimaRingHead * self, gint64 t0)
{
  gint64 t1 = g_get_monotonic_time ();

  GST_OBJECT_LOCK (self);
  self->st_compute_us += (guint64) MAX (t1 - t0, 0);
  GST_OBJECT_UNLOCK (self);
}

/* Under eval_lock: the prompt's tokens embedded, into *cur (entering layer
 * 0); their ids are kept for the logits. */
static GstFlowReturn
gst_prima_ring_head_embed (GstPrimaRingHead * self, const PrimaHeader * h, const guint8 * payload, gint * pos0,
    GstBuffer ** cur)
{
  GError *err = NULL;
  GstMapInfo map;
  gint next_pos;

  GST_OBJECT_LOCK (self);
  next_pos = self->next_pos;
  GST_OBJECT_UNLOCK (self);
  *pos0 = h->pos0 < 0 ? next_pos : h->pos0;
  if (*pos0 > next_pos || (gint64) * pos0 + h->n_tokens > self->n_ctx) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("The context of %d positions is full."), self->n_ctx),
        ("%u tokens at position %d", h->n_tokens, h->pos0));
    return GST_FLOW_ERROR;
  }
  *cur = gst_prima_ring_head_hidden_buffer (self, h, *pos0, 0);
  gst_buffer_map (*cur, &map, GST_MAP_WRITE);
  if (!prima_embed_tokens (self->model, (const int32_t *) payload, (int) h->n_tokens,
          (float *) (map.data + PRIMA_HEADER_SIZE), &err)) {
    gst_buffer_unmap (*cur, &map);
    gst_clear_buffer (cur);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Token not in the model's vocabulary: %s"), err->message), (NULL));
    g_clear_error (&err);
    return GST_FLOW_ERROR;
  }
  gst_buffer_unmap (*cur, &map);
  g_array_set_size (self->in_ids, 0);
  g_array_append_vals (self->in_ids, payload, h->n_tokens);
  self->in_pos0 = *pos0;
  self->in_flags = h->flags;
  self->in_draft = (h->flags & PRIMA_FLAG_DRAFT) && h->next_layer > 0 ? h->next_layer : 0;
  gst_prima_ring_head_history_add (self, *pos0, (const gint32 *) payload, h->n_tokens);
  self->outstanding = TRUE;
  GST_OBJECT_LOCK (self);
  self->next_pos = *pos0 + (gint) h->n_tokens;
  if (h->flags & PRIMA_FLAG_PROMPT)
    self->answer_tokens = 0;
  GST_OBJECT_UNLOCK (self);
  return GST_FLOW_OK;
}

/* Under eval_lock: a run of the replay through the head's windows that end
 * the model. Its logits leave (as the outstanding batch's: its ids, its
 * position) only after the last run, and only if a batch was outstanding;
 * *out is NULL otherwise. */
static GstFlowReturn
gst_prima_ring_head_replay_out (GstPrimaRingHead * self, const PrimaHeader * h, GstBuffer * cur, gint pos0,
    gint next_layer, GstBuffer ** out)
{
  const gint n_vocab = self->model->hp.n_vocab;
  gboolean all_rows, emit;
  guint rows, n_ids;
  gsize ids_size;
  GError *err = NULL;
  GstMapInfo cm, om;
  PrimaHeader oh;
  float *logits;
  gboolean ok;
  gint64 t0;

  self->replay_pending--;
  emit = self->replay_pending == 0 && self->replay_emit;
  GST_OBJECT_LOCK (self);
  all_rows = self->all_logits || (emit && self->replay_draft > 0);
  GST_OBJECT_UNLOCK (self);
  rows = all_rows ? h->n_tokens : 1;
  logits = g_new (float, (gsize) rows * n_vocab);
  gst_buffer_map (cur, &cm, GST_MAP_READ);
  t0 = g_get_monotonic_time ();
  ok = prima_windows_eval (self->windows, next_layer, pos0, h->n_tokens, (const float *) (cm.data + PRIMA_HEADER_SIZE),
      logits, all_rows, &err);
  gst_prima_ring_head_add_compute (self, t0);
  gst_buffer_unmap (cur, &cm);
  if (!ok) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, (_("Evaluating the layers failed: %s"), err->message), (NULL));
    g_clear_error (&err);
    g_free (logits);
    return GST_FLOW_ERROR;
  }
  GST_DEBUG_OBJECT (self, "replayed %u tokens at %d%s", h->n_tokens, pos0, emit ? ": the outstanding logits" : "");
  if (!emit) {
    g_free (logits);
    return GST_FLOW_OK;
  }
  /* the outstanding batch's tokens are the replay's last ones */
  n_ids = MIN (self->replay_ids->len, h->n_tokens);
  ids_size = n_ids * sizeof (gint32);
  rows = all_rows ? n_ids : 1;
  prima_header_init (&oh, PRIMA_PAYLOAD_LOGITS, n_ids, ids_size + (gsize) rows * n_vocab * sizeof (float));
  oh.seq_id = h->seq_id;
  oh.pos0 = self->replay_pos0;
  oh.next_layer = self->model->hp.n_layer;
  oh.flags = self->replay_flags & PRIMA_FLAG_PROMPT;
  if (self->replay_draft > 0 && (guint) self->replay_draft < n_ids) {
    oh.flags |= PRIMA_FLAG_DRAFT;
    oh.next_layer = self->replay_draft;
  }
  *out = prima_buffer_new (&oh);
  gst_buffer_map (*out, &om, GST_MAP_WRITE);
  memcpy (om.data + PRIMA_HEADER_SIZE, self->replay_ids->data + (self->replay_ids->len - n_ids) * sizeof (gint32),
      ids_size);
  memcpy (om.data + PRIMA_HEADER_SIZE + ids_size, logits + (gsize) ((all_rows ? h->n_tokens : 1) - rows) * n_vocab,
      (gsize) rows * n_vocab * sizeof (float));
  gst_buffer_unmap (*out, &om);
  gst_buffer_copy_into (*out, cur, GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  GST_BUFFER_OFFSET (*out) = self->replay_pos0;
  g_free (logits);
  return GST_FLOW_OK;
}

/* Under eval_lock: hidden states entering next_layer through the head's
 * windows that follow each other from there, into *out: logits after the
 * last layer, else hidden states for the next device. */
static GstFlowReturn
gst_prima_ring_head_run_windows (GstPrimaRingHead * self, const PrimaHeader * h, GstBuffer * cur, gint pos0,
    gint next_layer, gint end, GstBuffer ** out)
{
  const gint n_layer = self->model->hp.n_layer;
  const PrimaWindow *bad;
  gboolean all_rows = FALSE;
  gsize ids_size = 0;
  GError *err = NULL;
  GstMapInfo cm, om;
  gboolean ok;
  gint64 t0;

  bad = prima_windows_check (self->windows, next_layer, pos0, h->n_tokens);
  if (bad) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("Tokens at position %d, but layers %d-%d hold %d positions."),
            pos0, bad->first, bad->last, bad->next_pos), (NULL));
    return GST_FLOW_ERROR;
  }
  if (end == n_layer && self->replay_pending > 0)
    return gst_prima_ring_head_replay_out (self, h, cur, pos0, next_layer, out);
  if (end == n_layer) {
    PrimaHeader oh;
    gboolean with_ids = self->in_pos0 == pos0 && self->in_ids->len == h->n_tokens;
    ids_size = with_ids ? h->n_tokens * sizeof (gint32) : 0;
    GST_OBJECT_LOCK (self);
    /* speculative decoding's verification: a row per token */
    all_rows = self->all_logits || (with_ids && self->in_draft > 0);
    GST_OBJECT_UNLOCK (self);
    prima_header_init (&oh, PRIMA_PAYLOAD_LOGITS, h->n_tokens, ids_size
        + (all_rows ? h->n_tokens : 1) * self->model->hp.n_vocab * sizeof (float));
    oh.seq_id = h->seq_id;
    oh.pos0 = pos0;
    oh.next_layer = n_layer;
    oh.flags = with_ids ? self->in_flags & PRIMA_FLAG_PROMPT : PRIMA_FLAG_NO_IDS;
    if (with_ids && self->in_draft > 0) {
      oh.flags |= PRIMA_FLAG_DRAFT;
      oh.next_layer = self->in_draft;
    }
    *out = prima_buffer_new (&oh);
    if (with_ids)
      gst_buffer_fill (*out, PRIMA_HEADER_SIZE, self->in_ids->data, ids_size);
    GST_BUFFER_OFFSET (*out) = pos0;
  } else {
    *out = gst_prima_ring_head_hidden_buffer (self, h, pos0, end);
  }
  gst_buffer_copy_into (*out, cur, GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  gst_buffer_map (cur, &cm, GST_MAP_READ);
  gst_buffer_map (*out, &om, GST_MAP_WRITE);
  t0 = g_get_monotonic_time ();
  ok = prima_windows_eval (self->windows, next_layer, pos0, h->n_tokens, (const float *) (cm.data + PRIMA_HEADER_SIZE),
      (float *) (om.data + PRIMA_HEADER_SIZE + ids_size), all_rows, &err);
  gst_prima_ring_head_add_compute (self, t0);
  gst_buffer_unmap (*out, &om);
  gst_buffer_unmap (cur, &cm);
  if (!ok) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, (_("Evaluating the layers failed: %s"), err->message), (NULL));
    g_clear_error (&err);
    gst_clear_buffer (out);
    return GST_FLOW_ERROR;
  }
  GST_LOG_OBJECT (self, "evaluated %u tokens at %d through layers %d-%d", h->n_tokens, pos0, next_layer, end);
  return GST_FLOW_OK;
}

/* Called with eval_lock, which it releases: runs cur (hidden states
 * entering next_layer, taken) through the head's windows that come next, if
 * any, and sends the result where it belongs: logits on src, hidden states
 * on ring_src. While the ring is down a failed push on ring_src is no
 * error: the replay at resume sends the batch again. */
static GstFlowReturn
gst_prima_ring_head_forward (GstPrimaRingHead * self, const PrimaHeader * h, GstBuffer * cur, gint pos0,
    gint next_layer)
{
  const gint n_layer = self->model->hp.n_layer;
  GstBuffer *outbuf = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean replayed = FALSE;
  gint end;

  end = prima_windows_chain_end (self->windows, next_layer);
  if (end < 0) {
    /* another device's layer */
    outbuf = g_steal_pointer (&cur);
  } else {
    replayed = end == n_layer && self->replay_pending > 0;
    ret = gst_prima_ring_head_run_windows (self, h, cur, pos0, next_layer, end, &outbuf);
    if (ret != GST_FLOW_OK) {
      g_mutex_unlock (&self->eval_lock);
      gst_clear_buffer (&cur);
      return ret;
    }
  }
  if (end == n_layer && outbuf) {
    self->outstanding = FALSE;
    GST_OBJECT_LOCK (self);
    self->answer_tokens++;
    GST_OBJECT_UNLOCK (self);
  }
  if (end < n_layer)
    gst_prima_ring_head_ring_src_start (self);
  replayed = replayed && self->replay_pending == 0;
  if (replayed)
    g_atomic_int_set (&self->replaying, FALSE);
  g_mutex_unlock (&self->eval_lock);
  gst_clear_buffer (&cur);
  if (replayed)
    g_object_notify (G_OBJECT (self), "replaying");
  if (outbuf == NULL)
    return GST_FLOW_OK;
  if (end == n_layer)
    return gst_pad_push (self->srcpad, outbuf);
  ret = gst_pad_push (self->ring_srcpad, outbuf);
  if (ret != GST_FLOW_OK && g_atomic_int_get (&self->ring_down)) {
    GST_DEBUG_OBJECT (self, "the ring is down (%s): the batch at %d goes again at resume", gst_flow_get_name (ret),
        pos0);
    ret = GST_FLOW_OK;
  }
  return ret;
}

/* One batch: tokens (sink, embedded here) or hidden states back from the
 * ring (ring_sink). It runs the head's windows that come next, if any, and
 * goes out where it belongs: logits on src, hidden states on ring_src. */
static GstFlowReturn
gst_prima_ring_head_process (GstPrimaRingHead * self, GstBuffer * inbuf, gboolean tokens)
{
  const gint n_embd = self->model->hp.n_embd, n_layer = self->model->hp.n_layer;
  GstBuffer *cur = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo in;
  PrimaHeader h;
  gint pos0, next_layer;

  if (!gst_buffer_map (inbuf, &in, GST_MAP_READ)) {
    gst_buffer_unref (inbuf);
    return GST_FLOW_ERROR;
  }
  if (!prima_header_parse (in.data, in.size, tokens ? PRIMA_PAYLOAD_TOKENS : PRIMA_PAYLOAD_HIDDEN, &h)
      || h.payload_size != (gsize) h.n_tokens * (tokens ? sizeof (gint32) : n_embd * sizeof (float))
      || (!tokens && (h.dtype != PRIMA_DTYPE_F32 || h.pos0 < 0 || h.next_layer < 0 || h.next_layer >= n_layer))) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed %s buffer."),
            tokens ? "tokens" : "hidden-state"), ("%" G_GSIZE_FORMAT " bytes", in.size));
    ret = GST_FLOW_ERROR;
    goto done;
  }
  if (h.n_tokens == 0)
    goto done;

  g_mutex_lock (&self->eval_lock);
  if (!tokens && g_atomic_int_get (&self->ring_down)) {
    /* the ring broke: what the old ring still hands back is not wanted */
    g_mutex_unlock (&self->eval_lock);
    GST_DEBUG_OBJECT (self, "suspended: dropping %u rows at %d from the ring", h.n_tokens, h.pos0);
    goto done;
  }
  if (tokens) {
    ret = gst_prima_ring_head_embed (self, &h, in.data + PRIMA_HEADER_SIZE, &pos0, &cur);
    next_layer = 0;
  } else {
    pos0 = h.pos0;
    next_layer = h.next_layer;
    cur = gst_buffer_ref (inbuf);
    /* the origin time the head's primawssink gave it, back unchanged */
    if (GST_BUFFER_DTS_IS_VALID (inbuf)) {
      const gint64 lap = g_get_monotonic_time () - (gint64) (GST_BUFFER_DTS (inbuf) / GST_USECOND);
      /* a lap is only ours to time when it left from this head (and this clock) */
      if (lap >= 0 && lap < (gint64) 3600 * G_USEC_PER_SEC) {
        GST_OBJECT_LOCK (self);
        self->st_laps++;
        self->st_lap_us += (guint64) lap;
        GST_OBJECT_UNLOCK (self);
      }
    }
  }
  if (ret != GST_FLOW_OK) {
    g_mutex_unlock (&self->eval_lock);
    goto done;
  }
  gst_buffer_copy_into (cur, inbuf, GST_BUFFER_COPY_TIMESTAMPS, 0, -1);

  gst_buffer_unmap (inbuf, &in);
  gst_buffer_unref (inbuf);
  return gst_prima_ring_head_forward (self, &h, cur, pos0, next_layer);

done:
  gst_clear_buffer (&cur);
  gst_buffer_unmap (inbuf, &in);
  gst_buffer_unref (inbuf);
  return ret;
}

/* The sink pad's serialized data waits while the ring is suspended; FALSE
 * when flushing or stopping instead. */
static gboolean
gst_prima_ring_head_wait_resumed (GstPrimaRingHead * self)
{
  gboolean ok;

  g_mutex_lock (&self->hold_lock);
  if (self->hold && !self->flushing)
    GST_DEBUG_OBJECT (self, "suspended: waiting for the ring");
  while (self->hold && !self->flushing)
    g_cond_wait (&self->hold_cond, &self->hold_lock);
  ok = !self->flushing;
  g_mutex_unlock (&self->hold_lock);
  return ok;
}

static void
gst_prima_ring_head_set_flushing (GstPrimaRingHead * self, gboolean flushing)
{
  g_mutex_lock (&self->hold_lock);
  self->flushing = flushing;
  g_cond_broadcast (&self->hold_cond);
  g_mutex_unlock (&self->hold_lock);
}

static GstFlowReturn
gst_prima_ring_head_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (parent);

  if (pad == self->sinkpad && !gst_prima_ring_head_wait_resumed (self)) {
    gst_buffer_unref (buf);
    return GST_FLOW_FLUSHING;
  }
  if (self->windows == NULL) {
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  return gst_prima_ring_head_process (self, buf, pad == self->sinkpad);
}

/* Sends an event round the ring, starting the ring's stream first. */
static void
gst_prima_ring_head_push_ring (GstPrimaRingHead * self, GstEvent * event)
{
  g_mutex_lock (&self->eval_lock);
  gst_prima_ring_head_ring_src_start (self);
  g_mutex_unlock (&self->eval_lock);
  gst_pad_push_event (self->ring_srcpad, event);
}

/* A new start at position 0: a flush, a new segment, prima-kv-clear. */
static void
gst_prima_ring_head_reset (GstPrimaRingHead * self)
{
  g_mutex_lock (&self->eval_lock);
  if (self->windows)
    prima_windows_rewind (self->windows, 0);
  g_array_set_size (self->history, 0);
  self->outstanding = FALSE;
  g_mutex_unlock (&self->eval_lock);
  GST_OBJECT_LOCK (self);
  GST_DEBUG_OBJECT (self, "back to position 0 (from %d)", self->next_pos);
  self->next_pos = 0;
  GST_OBJECT_UNLOCK (self);
}

/* prima-kv-clear, -remove or -shift on every window: they hold the same
 * positions. */
static void
gst_prima_ring_head_apply_kv (GstPrimaRingHead * self, PrimaKvOp op, gint p0, gint p1, gint delta)
{
  gint next = -1;

  g_mutex_lock (&self->eval_lock);
  if (self->windows)
    next = prima_windows_kv_apply (self->windows, op, p0, p1, delta);
  gst_prima_ring_head_history_kv (self, op, p0, p1, delta);
  g_mutex_unlock (&self->eval_lock);
  GST_DEBUG_OBJECT (self, "kv operation %d [%d, %d) %+d: next position %d", op, p0, p1, delta, next);
  if (op == PRIMA_KV_CLEAR)
    gst_prima_ring_head_reset (self);
  else if (next >= 0) {
    GST_OBJECT_LOCK (self);
    self->next_pos = next;
    GST_OBJECT_UNLOCK (self);
  }
}

static gboolean gst_prima_ring_head_send_event (GstElement * element, GstEvent * event);

static gboolean
gst_prima_ring_head_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (parent);

  /* also sent to the sink pad, where no state lock is taken: a handler
   * that suspends the head must not wait for a resume in progress */
  if (prima_event_is_ring_suspend (event) || prima_event_is_ring_resume (event))
    return gst_prima_ring_head_send_event (GST_ELEMENT (self), event);
  /* in order with the batches: the KV operations and the ordered stop go
   * round the new ring, after the replay */
  if (GST_EVENT_IS_SERIALIZED (event) && GST_EVENT_TYPE (event) != GST_EVENT_FLUSH_STOP
      && !gst_prima_ring_head_wait_resumed (self)) {
    gst_event_unref (event);
    return FALSE;
  }
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      gst_prima_ring_head_set_flushing (self, TRUE);
      break;
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gst_event_unref (event);
      if (self->model == NULL)
        return FALSE;
      caps = gst_prima_ring_head_logits_caps (self);
      event = gst_event_new_caps (caps);
      gst_caps_unref (caps);
      break;
    }
    case GST_EVENT_FLUSH_STOP:
      gst_prima_ring_head_set_flushing (self, FALSE);
      gst_prima_ring_head_reset (self);
      break;
    case GST_EVENT_SEGMENT:
      gst_prima_ring_head_reset (self);
      break;
    case GST_EVENT_EOS:{
      gboolean forward;
      GST_OBJECT_LOCK (self);
      self->sink_eos = TRUE;
      forward = self->ring_eos;
      GST_OBJECT_UNLOCK (self);
      /* the stop goes round the ring; the output ends when it is back */
      gst_prima_ring_head_push_ring (self, gst_event_new_eos ());
      if (!forward) {
        gst_event_unref (event);
        return TRUE;
      }
      break;
    }
    case GST_EVENT_CUSTOM_DOWNSTREAM:{
      gint p0, p1, delta;
      PrimaKvOp op;
      if (gst_prima_layers_kv_op (event, &op, &p0, &p1, &delta)) {
        gst_prima_ring_head_apply_kv (self, op, p0, p1, delta);
        /* the workers' windows hold the same positions */
        gst_prima_ring_head_push_ring (self, gst_event_ref (event));
      }
      break;
    }
    default:
      break;
  }
  /* the rest goes to src only: the ring's stream is the element's own */
  return gst_pad_push_event (self->srcpad, event);
}

/* What comes back round the ring: the control events the head sent end
 * here; end-of-stream (the ordered stop) ends the output once the head's
 * own input ended too. */
static gboolean
gst_prima_ring_head_ring_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (parent);
  gboolean forward = FALSE;

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    GST_OBJECT_LOCK (self);
    self->ring_eos = TRUE;
    forward = self->sink_eos;
    GST_OBJECT_UNLOCK (self);
    GST_DEBUG_OBJECT (self, "the ring stopped%s", forward ? ": end of stream" : "");
  }
  if (forward)
    return gst_pad_push_event (self->srcpad, event);
  gst_event_unref (event);
  return TRUE;
}

static gboolean
gst_prima_ring_head_src_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (parent);

  return gst_pad_push_event (self->sinkpad, event);
}

/* Upstream events from the next device's sink end here. */
static gboolean
gst_prima_ring_head_ring_src_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  gst_event_unref (event);
  return FALSE;
}

static gboolean
gst_prima_ring_head_context_query (GstPrimaRingHead * self, GstQuery * query)
{
  gint n_ctx, position;

  if (self->model == NULL)
    return FALSE;
  GST_OBJECT_LOCK (self);
  n_ctx = self->n_ctx;
  position = self->next_pos;
  GST_OBJECT_UNLOCK (self);
  prima_query_set_context (query, n_ctx, position);
  return TRUE;
}

static gboolean
gst_prima_ring_head_caps_query (GstPrimaRingHead * self, GstPad * pad, GstQuery * query)
{
  GstCaps *filter, *caps;

  gst_query_parse_caps (query, &filter);
  if (self->model == NULL)
    caps = gst_pad_get_pad_template_caps (pad);
  else if (pad == self->srcpad)
    caps = gst_prima_ring_head_logits_caps (self);
  else if (pad == self->sinkpad)
    caps = gst_caps_new_empty_simple ("application/x-prima-tokens");
  else
    caps = gst_prima_ring_head_hidden_caps (self);
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  gst_query_set_caps_result (query, caps);
  gst_caps_unref (caps);
  return TRUE;
}

static gboolean
gst_prima_ring_head_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (parent);

  if (prima_element_model_query (GST_ELEMENT (self), query, &self->shared, &self->model_path, &self->context_model))
    return TRUE;
  if (prima_query_is_context (query))
    return gst_prima_ring_head_context_query (self, query);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      return gst_prima_ring_head_caps_query (self, pad, query);
    case GST_QUERY_ACCEPT_CAPS:
      return gst_pad_query_default (pad, parent, query);
    default:
      break;
  }
  /* sink and src form the element's stream; the ring pads ask upstream */
  if (pad == self->sinkpad)
    return gst_pad_peer_query (self->srcpad, query);
  if (pad == self->ring_sinkpad)
    return FALSE;
  return gst_pad_peer_query (self->sinkpad, query);
}

/* The residency engine's report of the first pass: a prima-loading message. */
static void
gst_prima_ring_head_loading (const prima_residency_progress * p, gpointer user_data)
{
  gst_prima_layers_post_loading (GST_ELEMENT (user_data), p);
}

/* Under eval_lock: the windows of spec; the head's last one must end at
 * the model's last layer. */
static PrimaWindows *
gst_prima_ring_head_new_windows (GstPrimaRingHead * self, const gchar * spec, GError ** err)
{
  PrimaWindows *ws;
  gint n_ctx, threads;

  GST_OBJECT_LOCK (self);
  n_ctx = self->context_size;
  threads = self->threads;
  GST_OBJECT_UNLOCK (self);
  if (spec == NULL || *spec == '\0') {
    g_set_error (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS, "the head has no windows");
    return NULL;
  }
  ws = prima_windows_new (self->model, spec, n_ctx, threads, &self->res, err);
  /* the head ends every cycle: the output head is its */
  if (ws && (prima_windows_count (ws) == 0
          || prima_windows_get (ws, prima_windows_count (ws) - 1)->last != self->model->hp.n_layer)) {
    g_set_error (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "the head's last window must end at the model's last layer, %d", self->model->hp.n_layer);
    g_clear_pointer (&ws, prima_windows_free);
  }
  return ws;
}

static void
gst_prima_ring_head_suspend (GstPrimaRingHead * self)
{
  GST_INFO_OBJECT (self, "suspended: the ring is down");
  g_atomic_int_set (&self->ring_down, TRUE);
  g_mutex_lock (&self->hold_lock);
  self->hold = TRUE;
  g_mutex_unlock (&self->hold_lock);
}

/* The ring is back: new windows if the plan changed, an empty KV cache, and
 * what it held sent round again (a run per stretch of consecutive
 * positions: one batch, from 0, unless a loss came between a KV removal
 * and its shift), before the sink's waiting data. */
static gboolean
gst_prima_ring_head_resume (GstPrimaRingHead * self)
{
  GArray *cells = NULL;
  GError *err = NULL;
  GstFlowReturn ret = GST_FLOW_OK;
  gchar *spec;
  guint n_runs = 0;
  gboolean ok = TRUE;

  GST_OBJECT_LOCK (self);
  spec = g_strdup (self->windows_spec);
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->eval_lock);
  if (self->model == NULL) {
    /* not started: nothing to replay */
    g_mutex_unlock (&self->eval_lock);
    g_atomic_int_set (&self->ring_down, FALSE);
    goto release;
  }
  if (g_strcmp0 (spec, self->active_spec) != 0) {
    GST_INFO_OBJECT (self, "new windows %s (were %s)", spec, self->active_spec);
    g_clear_pointer (&self->windows, prima_windows_free);
    self->windows = gst_prima_ring_head_new_windows (self, spec, &err);
    if (self->windows == NULL) {
      g_mutex_unlock (&self->eval_lock);
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("Could not set up the layer windows \"%s\": %s"),
              spec ? spec : "", err->message), (NULL));
      g_clear_error (&err);
      ok = FALSE;
      goto release;
    }
    g_free (self->active_spec);
    self->active_spec = g_strdup (spec);
    GST_OBJECT_LOCK (self);
    self->n_ctx = prima_windows_n_ctx (self->windows);
    GST_OBJECT_UNLOCK (self);
  } else {
    prima_windows_kv_apply (self->windows, PRIMA_KV_CLEAR, 0, -1, 0);
  }
  cells = g_array_copy (self->history);
  for (guint i = 0; i < cells->len; i++)
    if (i == 0 || g_array_index (cells, HistoryCell, i).pos != g_array_index (cells, HistoryCell, i - 1).pos + 1)
      n_runs++;
  self->replay_pending = n_runs;
  self->replay_emit = self->outstanding && n_runs > 0;
  g_array_set_size (self->replay_ids, 0);
  g_array_append_vals (self->replay_ids, self->in_ids->data, self->in_ids->len);
  self->replay_pos0 = self->in_pos0;
  self->replay_flags = self->in_flags;
  self->replay_draft = self->in_draft;
  /* the ring's elements started again: a new stream on ring_src */
  self->ring_src_started = FALSE;
  g_atomic_int_set (&self->replaying, n_runs > 0);
  g_atomic_int_set (&self->ring_down, FALSE);
  GST_INFO_OBJECT (self, "resuming: %u tokens to replay in %u run%s, %s", cells->len, n_runs, n_runs == 1 ? "" : "s",
      self->replay_emit ? "a batch was outstanding" : "no batch outstanding");
  g_mutex_unlock (&self->eval_lock);
  g_object_notify (G_OBJECT (self), "replaying");

  for (guint i = 0; i < cells->len && ret == GST_FLOW_OK;) {
    guint n = 1;
    gint pos0 = g_array_index (cells, HistoryCell, i).pos;
    GArray *ids = g_array_sized_new (FALSE, FALSE, sizeof (gint32), cells->len - i);
    GstBuffer *cur;
    GstMapInfo map;
    PrimaHeader th;

    while (i + n < cells->len && g_array_index (cells, HistoryCell, i + n).pos == pos0 + (gint) n)
      n++;
    for (guint j = 0; j < n; j++)
      g_array_append_val (ids, g_array_index (cells, HistoryCell, i + j).id);
    i += n;
    prima_header_init (&th, PRIMA_PAYLOAD_TOKENS, n, n * sizeof (gint32));
    th.pos0 = pos0;
    g_mutex_lock (&self->eval_lock);
    if (g_atomic_int_get (&self->ring_down)) {
      /* lost again: the next resume replays */
      g_mutex_unlock (&self->eval_lock);
      g_array_unref (ids);
      break;
    }
    cur = gst_prima_ring_head_hidden_buffer (self, &th, pos0, 0);
    gst_buffer_map (cur, &map, GST_MAP_WRITE);
    ok = prima_embed_tokens (self->model, (const int32_t *) ids->data, (int) n,
        (float *) (map.data + PRIMA_HEADER_SIZE), &err);
    gst_buffer_unmap (cur, &map);
    g_array_unref (ids);
    if (!ok) {
      g_mutex_unlock (&self->eval_lock);
      gst_buffer_unref (cur);
      GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Token not in the model's vocabulary: %s"), err->message), (NULL));
      g_clear_error (&err);
      break;
    }
    ret = gst_prima_ring_head_forward (self, &th, cur, pos0, 0);
  }
  if (ret != GST_FLOW_OK) {
    ok = FALSE;
    if (ret != GST_FLOW_FLUSHING)
      GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("Could not send the tokens round the rebuilt ring.")),
          ("%s", gst_flow_get_name (ret)));
  }
  if (cells)
    g_array_unref (cells);

release:
  g_free (spec);
  g_mutex_lock (&self->hold_lock);
  self->hold = FALSE;
  g_cond_broadcast (&self->hold_cond);
  g_mutex_unlock (&self->hold_lock);
  return ok;
}

/* prima-ring-suspend and prima-ring-resume are for the element itself. */
static gboolean
gst_prima_ring_head_send_event (GstElement * element, GstEvent * event)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (element);
  gboolean ret;

  if (prima_event_is_ring_suspend (event)) {
    gst_prima_ring_head_suspend (self);
    ret = TRUE;
  } else if (prima_event_is_ring_resume (event)) {
    ret = gst_prima_ring_head_resume (self);
  } else {
    return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);
  }
  gst_event_unref (event);
  return ret;
}

static gboolean
gst_prima_ring_head_start (GstPrimaRingHead * self)
{
  prima_residency_params res = {.progress = gst_prima_ring_head_loading,.progress_data = self };
  GError *err = NULL;
  gchar *path, *spec, *resolved;

  GST_OBJECT_LOCK (self);
  self->st_compute_us = self->st_laps = self->st_lap_us = 0;
  res.prefetch = self->prefetch_mode;
  res.release = self->release_policy;
  path = g_strdup (self->model_path);
  spec = g_strdup (self->windows_spec);
  self->next_pos = 0;
  self->sink_eos = self->ring_eos = FALSE;
  self->answer_tokens = 0;
  GST_OBJECT_UNLOCK (self);
  self->res = res;

  /* the model property, else the model of the pipeline ("prima.model") */
  resolved = prima_element_resolve_model (GST_ELEMENT (self), path, &self->context_model, &self->shared);
  g_free (path);
  if ((path = resolved) == NULL)
    goto failed;
  self->model = prima_model_load (path, &err);
  if (self->model == NULL) {
    PRIMA_ELEMENT_MODEL_ERROR (self, path, err);
    goto failed;
  }
  g_mutex_lock (&self->eval_lock);
  self->windows = gst_prima_ring_head_new_windows (self, spec, &err);
  self->ring_src_started = FALSE;
  self->in_pos0 = -1;
  g_array_set_size (self->in_ids, 0);
  g_array_set_size (self->history, 0);
  self->outstanding = FALSE;
  self->replay_pending = 0;
  g_free (self->active_spec);
  self->active_spec = g_strdup (spec);
  g_mutex_unlock (&self->eval_lock);
  g_atomic_int_set (&self->replaying, FALSE);
  g_atomic_int_set (&self->ring_down, FALSE);
  if (err) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("Could not set up the layer windows \"%s\": %s"),
            spec ? spec : "", err->message), (NULL));
    g_clear_pointer (&self->windows, prima_windows_free);
    g_clear_pointer (&self->model, prima_model_free);
    goto failed;
  }
  GST_OBJECT_LOCK (self);
  self->n_ctx = prima_windows_n_ctx (self->windows);
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "%s: windows %s of %d layers, context %d", path, spec, self->model->hp.n_layer,
      self->n_ctx);
  g_free (path);
  g_free (spec);
  return TRUE;

failed:
  g_clear_error (&err);
  g_free (path);
  g_free (spec);
  return FALSE;
}

static void
gst_prima_ring_head_stop (GstPrimaRingHead * self)
{
  g_mutex_lock (&self->eval_lock);
  g_clear_pointer (&self->windows, prima_windows_free);
  g_mutex_unlock (&self->eval_lock);
  g_clear_pointer (&self->model, prima_model_free);
  prima_element_release_model (GST_ELEMENT (self), &self->shared);
}

static void
gst_prima_ring_head_set_context (GstElement * element, GstContext * context)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (element);

  prima_element_model_set_context (element, context, &self->context_model);
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

static GstStateChangeReturn
gst_prima_ring_head_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    g_mutex_lock (&self->hold_lock);
    self->hold = self->flushing = FALSE;
    g_mutex_unlock (&self->hold_lock);
    if (!gst_prima_ring_head_start (self))
      return GST_STATE_CHANGE_FAILURE;
  }
  /* a sink waiting for a resume lets go before its pad deactivates */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_prima_ring_head_set_flushing (self, TRUE);
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_prima_ring_head_stop (self);
  return ret;
}

static void
gst_prima_ring_head_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_CONTEXT_SIZE:
      self->context_size = g_value_get_int (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_WINDOWS:
      g_free (self->windows_spec);
      self->windows_spec = g_value_dup_string (value);
      break;
    case PROP_ALL_LOGITS:
      self->all_logits = g_value_get_boolean (value);
      break;
    case PROP_PREFETCH_MODE:
      self->prefetch_mode = g_value_get_enum (value);
      break;
    case PROP_RELEASE_POLICY:
      self->release_policy = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_ring_head_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (object);

  if (prop_id == PROP_REPLAYING) {
    g_value_set_boolean (value, g_atomic_int_get (&self->replaying));
    return;
  }
  if (prop_id == PROP_N_EVALUATED) {
    g_mutex_lock (&self->eval_lock);
    g_value_set_uint64 (value, self->windows ? prima_windows_n_evaluated (self->windows) : 0);
    g_mutex_unlock (&self->eval_lock);
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_CONTEXT_SIZE:
      g_value_set_int (value, self->context_size);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_WINDOWS:
      g_value_set_string (value, self->windows_spec);
      break;
    case PROP_ALL_LOGITS:
      g_value_set_boolean (value, self->all_logits);
      break;
    case PROP_PREFETCH_MODE:
      g_value_set_enum (value, self->prefetch_mode);
      break;
    case PROP_RELEASE_POLICY:
      g_value_set_enum (value, self->release_policy);
      break;
    case PROP_ANSWER_TOKENS:
      g_value_set_uint (value, self->answer_tokens);
      break;
    case PROP_STATS:
      g_value_take_boxed (value, gst_structure_new ("prima-head-stats", "compute-us", G_TYPE_UINT64,
              self->st_compute_us, "laps", G_TYPE_UINT64, self->st_laps, "lap-us", G_TYPE_UINT64, self->st_lap_us,
              NULL));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_ring_head_finalize (GObject * object)
{
  GstPrimaRingHead *self = GST_PRIMA_RING_HEAD (object);

  prima_windows_free (self->windows);
  prima_model_free (self->model);
  g_free (self->model_path);
  prima_element_release_model (GST_ELEMENT (self), &self->shared);
  g_clear_pointer (&self->context_model, prima_shared_model_unref);
  g_free (self->windows_spec);
  g_array_unref (self->in_ids);
  g_array_unref (self->history);
  g_array_unref (self->replay_ids);
  g_free (self->active_spec);
  g_mutex_clear (&self->eval_lock);
  g_mutex_clear (&self->hold_lock);
  g_cond_clear (&self->hold_cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_prima_ring_head_class_init (GstPrimaRingHeadClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_prima_ring_head_set_property;
  gobject_class->get_property = gst_prima_ring_head_get_property;
  gobject_class->finalize = gst_prima_ring_head_finalize;

  /**
   * GstPrimaRingHead:model:
   *
   * Path of the GGUF model (the same model as every worker's). Loaded when
   * the element goes to PAUSED.
   * Unset (since 0.2): the model of the chain, from a linked element that
   * names one or from the pipeline's "prima.model" context (docs/elements.md);
   * a model that differs from the chain's is an error naming both.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "Path of the GGUF model file (unset: the model of the pipeline)", NULL, PARAM_FLAGS));
  /**
   * GstPrimaRingHead:context-size:
   *
   * KV cache positions of each window; 0 takes the model's training
   * context, at most 4096.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_CONTEXT_SIZE,
      g_param_spec_int ("context-size", "Context size",
          "KV cache positions (0 = the model's, at most 4096)", 0, G_MAXINT, DEFAULT_CONTEXT_SIZE, PARAM_FLAGS));
  /**
   * GstPrimaRingHead:threads:
   *
   * Compute threads; 0 uses every online CPU.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads", "Compute threads (0 = all CPUs)", 0, 1024, DEFAULT_THREADS,
          PARAM_FLAGS));
  /**
   * GstPrimaRingHead:windows:
   *
   * The head's layer windows as "first-last,first-last" (each [first,
   * last), ascending), from the ring's plan: the last window of each cycle,
   * the last of all ending at the model's last layer (the output head).
   * Each keeps its own KV cache; one residency engine covers them all.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_WINDOWS,
      g_param_spec_string ("windows", "Windows", "The head's layer windows \"a-b,c-d\", the last ending at the "
          "model's last layer", NULL, PARAM_FLAGS));
  /**
   * GstPrimaRingHead:all-logits:
   *
   * The output head gives the logits of every token of a batch (n_tokens x
   * n_vocab after the ids) instead of the last one's: what `prima eval`
   * needs.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_ALL_LOGITS,
      g_param_spec_boolean ("all-logits", "All logits", "Logits of every token of a batch, not only the last",
          FALSE, PARAM_FLAGS));
  /**
   * GstPrimaRingHead:n-evaluated:
   *
   * Tokens the head's windows evaluated since it went to PAUSED, summed over
   * its windows.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_N_EVALUATED,
      g_param_spec_uint64 ("n-evaluated", "Evaluated tokens", "Tokens evaluated by the head's windows, summed", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * GstPrimaRingHead:prefetch-mode:
   *
   * How the weights of the head's window that runs next are read ahead
   * (docs/memory.md), as #GstPrimaLayers:prefetch-mode. The result never
   * depends on it.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_PREFETCH_MODE,
      g_param_spec_enum ("prefetch-mode", "Prefetch mode", "How the next window's weights are read ahead",
          GST_TYPE_PRIMA_PREFETCH_MODE, prima_prefetch_mode_resolve (PRIMA_PREFETCH_DEFAULT), PARAM_FLAGS));
  /**
   * GstPrimaRingHead:release-policy:
   *
   * Which of the head's windows give their weights' memory back after use
   * (docs/memory.md), as #GstPrimaLayers:release-policy. The result never
   * depends on it.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_RELEASE_POLICY,
      g_param_spec_enum ("release-policy", "Release policy", "Which windows release their weights after use",
          GST_TYPE_PRIMA_RELEASE_POLICY, prima_release_policy_resolve (PRIMA_RELEASE_DEFAULT), PARAM_FLAGS));

  /**
   * GstPrimaRingHead:answer-tokens:
   *
   * Logits sent on src since the last prompt batch (one a sampled token):
   * the tokens of the answer so far.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_ANSWER_TOKENS,
      g_param_spec_uint ("answer-tokens", "Answer tokens", "Logits sent since the last prompt batch", 0,
          G_MAXUINT, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstPrimaRingHead:replaying:
   *
   * TRUE from a `prima-ring-resume` that had tokens to send round again
   * until they are back (notified both ways; the notification that it ended
   * comes from a streaming thread).
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_REPLAYING,
      g_param_spec_boolean ("replaying", "Replaying", "The KV cache is being rebuilt after a resume", FALSE,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstPrimaRingHead:stats:
   *
   * The head's timing since it started (docs/ring.md, "Timing"), all
   * measured on the head's clock: `compute-us` time in the head's windows,
   * `laps` batches back from the ring on ring_sink and `lap-us` their time
   * since they left (the wire header's origin time, which the head's
   * primawssink sets).
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Stats", "The head's timing: compute and ring laps (microseconds)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_ring_head_change_state);
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_prima_ring_head_send_event);
  element_class->set_context = GST_DEBUG_FUNCPTR (gst_prima_ring_head_set_context);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_add_static_pad_template (element_class, &ring_sink_template);
  gst_element_class_add_static_pad_template (element_class, &ring_src_template);
  gst_element_class_set_static_metadata (element_class, "Prima ring head", "Filter/Converter",
      "The head of a ring of devices: embeds tokens, sends hidden states round the ring, runs its own windows "
      "and the output head", "gst-prima authors");
}

static void
gst_prima_ring_head_init (GstPrimaRingHead * self)
{
  self->context_size = DEFAULT_CONTEXT_SIZE;
  self->threads = DEFAULT_THREADS;
  self->prefetch_mode = prima_prefetch_mode_resolve (PRIMA_PREFETCH_DEFAULT);
  self->release_policy = prima_release_policy_resolve (PRIMA_RELEASE_DEFAULT);
  self->in_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->history = g_array_new (FALSE, FALSE, sizeof (HistoryCell));
  self->replay_ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_mutex_init (&self->eval_lock);
  g_mutex_init (&self->hold_lock);
  g_cond_init (&self->hold_cond);

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_event_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_src_event));
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_query));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->ring_sinkpad = gst_pad_new_from_static_template (&ring_sink_template, "ring_sink");
  gst_pad_set_chain_function (self->ring_sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_chain));
  gst_pad_set_event_function (self->ring_sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_ring_sink_event));
  gst_pad_set_query_function (self->ring_sinkpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_query));
  gst_element_add_pad (GST_ELEMENT (self), self->ring_sinkpad);

  self->ring_srcpad = gst_pad_new_from_static_template (&ring_src_template, "ring_src");
  gst_pad_set_event_function (self->ring_srcpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_ring_src_event));
  gst_pad_set_query_function (self->ring_srcpad, GST_DEBUG_FUNCPTR (gst_prima_ring_head_query));
  gst_element_add_pad (GST_ELEMENT (self), self->ring_srcpad);
}
