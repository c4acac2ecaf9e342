/* gst-prima: primawssink, the sending end of a ring hop (WebSocket client).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primawssink
 * @title: primawssink
 * @see_also: primawssrc, primalayers
 *
 * The upstream end of one hop of the ring (docs/design.md section 3,
 * docs/wire-protocol.md): connects to the next device's primawssrc at
 * #GstPrimaWsSink:url (retrying until it is up, so devices start in any
 * order), runs the cluster key's challenge/response and then sends each
 * `application/x-prima-hidden` buffer as one binary frame over one
 * persistent WebSocket with TCP_NODELAY. The buffer is copied once, into
 * the link's reused send slot, where its 32-byte buffer header becomes the
 * 48-byte wire header.
 *
 * Events become control messages: `prima-ring-plan` the plan (sent on as it
 * came; on the head #GstPrimaWsSink:plan is sent before the first frame),
 * `prima-kv-clear`, `prima-kv-remove`, `prima-kv-shift` the KV operations,
 * `prima-ring-failure` an `error` message and end-of-stream the ordered
 * `stop` (the element waits until it has left). Control messages that come
 * back from the next device (profiles of devices joining, failures further
 * down) travel upstream as `prima-ring-control` events; the head (rank 0)
 * keeps them: it waits for every rank of #GstPrimaWsSink:world to join before
 * its first frame, posting which ranks it is waiting for, and turns a
 * reported failure into an element error that names the failed rank. A
 * worker's element reports its own timing towards the head (a `stats`
 * message: frames sent, time in the layers from the buffers'
 * "timestamp/x-prima-compute" meta, time from their end until the link took
 * each frame; at the first frame, once a second while frames flow and before
 * the ordered stop), and the head's posts each as the element message
 * `prima-device-stats` (docs/ring.md, "Timing"). The head's element gives
 * each frame the head's clock as its origin time, which comes back
 * unchanged, so primaringhead times the lap. The
 * event `prima-device-failed` (prima-events.h), sent to the element with
 * gst_element_send_event() by the application of a device that failed,
 * sends the next device the reason and closes with code 4006.
 *
 * A next device that disconnects or sends no heartbeat for
 * #GstPrimaWsSink:heartbeat-timeout milliseconds is an element error ("The
 * ring failed: rank 2 at 127.0.0.1:9002 disconnected"); a worker passes the
 * failure back upstream first, with the rank of the device at fault (`lost`
 * in the `error` message: the peer that dropped or stalled, or a device that
 * failed itself). With #GstPrimaWsSink:loss-action=notify (since 0.3) the
 * element instead emits #GstPrimaWsSink::peer-lost once with that rank, posts
 * no error and stops streaming quietly, so that the application can rebuild
 * the ring (primascheduler does).
 *
 * ## Example launch line
 * |[
 * PRIMA_CLUSTER_KEY=0123456789abcdef0123 gst-launch-1.0 primawssrc port=9001 rank=1 ! primalayers model=tests/data/stories260K-f32.gguf ! primawssink url=ws://127.0.0.1:9000 rank=1 peer-rank=0
 * ]| a worker of rank 1, sending to the head at port 9000.
 *
 * Since: 0.1
 */

#include "gstprimawssink.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "ring-link.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_ws_sink_debug);
#define GST_CAT_DEFAULT gst_prima_ws_sink_debug

#define DEFAULT_RANK 0
#define DEFAULT_PEER_RANK -1
#define DEFAULT_HEARTBEAT_TIMEOUT 2500
#define DEFAULT_WORLD 0
#define DEFAULT_HALF FALSE
#define DEFAULT_LOSS_ACTION PRIMA_LOSS_ACTION_ERROR
#define WAIT_STEP_US (200 * 1000)
#define WAIT_REPORT_US (2 * G_USEC_PER_SEC)
#define DRAIN_TIMEOUT_US (500 * 1000)
/* A worker reports its timing at most this often while frames flow. */
#define STATS_INTERVAL (GST_SECOND)

enum
{
  PROP_0,
  PROP_URL,
  PROP_RANK,
  PROP_PEER_RANK,
  PROP_CLUSTER_KEY,
  PROP_CLUSTER_KEY_FILE,
  PROP_TLS_PEER_CERTIFICATE_FILE,
  PROP_HEARTBEAT_TIMEOUT,
  PROP_WORLD,
  PROP_PLAN,
  PROP_HALF,
  PROP_LOSS_ACTION,
  PROP_JOIN_TIMEOUT,
  PROP_STATS,
};

enum
{
  SIGNAL_PEER_LOST,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

/* The loss, once per start (loss-action=notify): the signal's handlers run
 * before any thread of ours reports the failure, so a handler can hold the
 * pipeline back before it sees a failed push. */
typedef enum
{
  LOSS_NONE,
  LOSS_REPORTING,
  LOSS_REPORTED,
} LossState;

struct _GstPrimaWsSink
{
  GstBaseSink parent;

  /* properties, under the object lock */
  gchar *url;
  guint rank;
  gint peer_rank;
  gchar *cluster_key;
  gchar *cluster_key_file;
  gchar *tls_peer_certificate_file;
  guint heartbeat_timeout;
  guint world;
  gchar *plan;
  gboolean half;
  GstPrimaLossAction loss_action;
  guint join_timeout;

  /* from READY to PAUSED */
  prima_link *link;
  gboolean plan_sent;
  guint64 n_queued;             /* frames and controls handed to the link */

  /* under lock: the head's view of the ring, and unlock() */
  GMutex lock;
  GCond cond;
  guint64 joined;               /* bit r: rank r reported that it joined */
  GQueue up_pending;            /* JSON for upstream that could not be pushed yet (startup) */
  gboolean flushing;
  gboolean failed;
  gboolean stop_sent;           /* after the ordered stop, a close is no failure */
  LossState loss;
  gint peer_seen;               /* the next device's rank, from its handshake (-1: not yet) */
  /* this device's timing, totals since start (the "stats" property; a
   * worker reports them in stats messages) */
  guint64 st_frames, st_compute_us, st_send_us;
  guint64 st_reported;          /* st_frames at the last report */
  GstClockID st_timer;          /* from start to stop: reports what is new, once a second */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_HIDDEN));

#define gst_prima_ws_sink_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaWsSink, gst_prima_ws_sink, GST_TYPE_BASE_SINK,
    GST_DEBUG_CATEGORY_INIT (gst_prima_ws_sink_debug, "primawssink", 0, "prima ring WebSocket sink"));
GST_ELEMENT_REGISTER_DEFINE (primawssink, "primawssink", GST_RANK_NONE, GST_TYPE_PRIMA_WS_SINK);

GType
gst_prima_loss_action_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {PRIMA_LOSS_ACTION_ERROR, "A lost peer is an element error", "error"},
    {PRIMA_LOSS_ACTION_NOTIFY, "Emit peer-lost once, post no error and stop streaming quietly", "notify"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstPrimaLossAction", values));
  return type;
}

static void
gst_prima_ws_sink_post (GstPrimaWsSink * self, const gchar * what, gint rank, const gchar * message)
{
  gst_element_post_message (GST_ELEMENT (self), prima_message_new_ring (GST_OBJECT (self), what, rank, 0, message));
}

static gboolean
gst_prima_ws_sink_notifies (GstPrimaWsSink * self)
{
  gboolean notify;

  GST_OBJECT_LOCK (self);
  notify = self->loss_action == PRIMA_LOSS_ACTION_NOTIFY;
  GST_OBJECT_UNLOCK (self);
  return notify;
}

/* What a failed ring returns to upstream: after a loss reported with
 * loss-action=notify the stream stops quietly (the application rebuilds
 * the ring). */
static GstFlowReturn
gst_prima_ws_sink_failed_flow (GstPrimaWsSink * self)
{
  gboolean lost;

  g_mutex_lock (&self->lock);
  lost = self->loss != LOSS_NONE;
  g_mutex_unlock (&self->lock);
  return lost && gst_prima_ws_sink_notifies (self) ? GST_FLOW_FLUSHING : GST_FLOW_ERROR;
}

/* The next device, by its data-ring rank: as it proved in its handshake,
 * else as configured, else the one after us. */
static gint
gst_prima_ws_sink_peer (GstPrimaWsSink * self, gint event_rank)
{
  gint peer;

  if (event_rank >= 0)
    return event_rank;
  g_mutex_lock (&self->lock);
  peer = self->peer_seen;
  g_mutex_unlock (&self->lock);
  if (peer >= 0)
    return peer;
  GST_OBJECT_LOCK (self);
  peer = self->peer_rank >= 0 ? self->peer_rank : self->world > 0 ? (gint) ((self->rank + 1) % self->world)
      : (gint) self->rank + 1;
  GST_OBJECT_UNLOCK (self);
  return peer;
}

/* failed_rank >= 0: that device failed and message is its own reason; lost:
 * the data-ring rank at fault. A device that failed on its own (it said
 * why, or closed saying it failed) is an error with either loss-action: its
 * reason would fail the others too; notify is for lost devices. */
static void
gst_prima_ws_sink_fail (GstPrimaWsSink * self, gint failed_rank, gint lost, const gchar * message,
    gboolean device_failed)
{
  gchar *line;

  if (gst_prima_ws_sink_notifies (self)) {
    g_mutex_lock (&self->lock);
    if (self->loss != LOSS_NONE) {
      /* the same loss, seen again (a push after it, the link giving up):
       * fail only once its handlers have run */
      while (self->loss == LOSS_REPORTING)
        g_cond_wait (&self->cond, &self->lock);
      self->failed = TRUE;
      g_mutex_unlock (&self->lock);
      return;
    }
    g_mutex_unlock (&self->lock);
  }
  if (!gst_prima_ws_sink_notifies (self) || failed_rank >= 0 || device_failed) {
    g_mutex_lock (&self->lock);
    self->failed = TRUE;
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    if (failed_rank >= 0)
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, (_("rank %d failed: %s"), failed_rank, message), (NULL));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, (_("The ring failed: %s"), message), (NULL));
    return;
  }
  g_mutex_lock (&self->lock);
  if (self->loss != LOSS_NONE) {
    /* another thread reports it meanwhile */
    while (self->loss == LOSS_REPORTING)
      g_cond_wait (&self->cond, &self->lock);
    self->failed = TRUE;
    g_mutex_unlock (&self->lock);
    return;
  }
  self->loss = LOSS_REPORTING;
  g_mutex_unlock (&self->lock);
  line = failed_rank >= 0 ? g_strdup_printf ("rank %d failed: %s", failed_rank, message) : g_strdup (message);
  GST_WARNING_OBJECT (self, "lost rank %d: %s", lost, line);
  g_signal_emit (self, signals[SIGNAL_PEER_LOST], 0, lost, line);
  g_free (line);
  g_mutex_lock (&self->lock);
  self->loss = LOSS_REPORTED;
  self->failed = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* Pushes the control messages for upstream in order; one that cannot go
 * yet (the pipeline is still starting) stays for the next try. */
static void
gst_prima_ws_sink_flush_up (GstPrimaWsSink * self)
{
  for (;;) {
    gchar *json;
    g_mutex_lock (&self->lock);
    json = g_queue_pop_head (&self->up_pending);
    g_mutex_unlock (&self->lock);
    if (json == NULL)
      return;
    if (!gst_pad_push_event (GST_BASE_SINK_PAD (self), prima_event_new_ring_control (json))) {
      GST_DEBUG_OBJECT (self, "upstream not ready for %s; keeping it", json);
      g_mutex_lock (&self->lock);
      g_queue_push_head (&self->up_pending, json);
      g_mutex_unlock (&self->lock);
      return;
    }
    g_free (json);
  }
}

static void gst_prima_ws_sink_upstream_control (GstPrimaWsSink * self, guint rank, const prima_ctl_msg * m);

/* A worker's timing goes towards the head, as a stats message. */
static void
gst_prima_ws_sink_report_stats (GstPrimaWsSink * self, guint rank)
{
  prima_ctl_msg m;

  prima_ctl_msg_init (&m, PRIMA_CTL_STATS);
  m.rank = (gint32) rank;
  g_mutex_lock (&self->lock);
  m.frames = self->st_frames;
  m.compute_us = self->st_compute_us;
  m.send_us = self->st_send_us;
  self->st_reported = self->st_frames;
  g_mutex_unlock (&self->lock);
  GST_LOG_OBJECT (self, "stats: %" G_GUINT64_FORMAT " frames, %" G_GUINT64_FORMAT " us in the layers, %"
      G_GUINT64_FORMAT " us sending", m.frames, m.compute_us, m.send_us);
  gst_prima_ws_sink_upstream_control (self, rank, &m);
  prima_ctl_msg_clear (&m);
}

/* On the system clock's thread, once a second: a report when frames went
 * out since the last one (so an idle ring's numbers are at most a second
 * old, and an idle ring sends nothing). */
static gboolean
gst_prima_ws_sink_stats_tick (GstClock * clock, GstClockTime time, GstClockID id, gpointer user_data)
{
  GstPrimaWsSink *self = user_data;
  gboolean due;
  guint rank;

  g_mutex_lock (&self->lock);
  due = self->st_frames != self->st_reported && !self->flushing;
  g_mutex_unlock (&self->lock);
  GST_OBJECT_LOCK (self);
  rank = self->rank;
  GST_OBJECT_UNLOCK (self);
  if (due && rank != 0)
    gst_prima_ws_sink_report_stats (self, rank);
  return TRUE;
}

/* A control message from the next device that belongs further upstream:
 * the head keeps it, a worker sends it on towards the head. */
static void
gst_prima_ws_sink_upstream_control (GstPrimaWsSink * self, guint rank, const prima_ctl_msg * m)
{
  gchar *json;

  if (rank == 0) {
    if (m->type == PRIMA_CTL_PROFILE && m->rank > 0 && m->rank < 64) {
      gchar *line = g_strdup_printf ("rank %d joined the ring", m->rank);
      g_mutex_lock (&self->lock);
      self->joined |= G_GUINT64_CONSTANT (1) << m->rank;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      GST_INFO_OBJECT (self, "%s", line);
      gst_prima_ws_sink_post (self, "joined", m->rank, line);
      g_free (line);
    } else if (m->type == PRIMA_CTL_ERROR_MSG) {
      gst_prima_ws_sink_fail (self, m->rank, m->lost >= 0 ? m->lost : m->rank, m->text ? m->text : "unknown error",
          FALSE);
    } else if (m->type == PRIMA_CTL_STATS) {
      PrimaDeviceStatsInfo info = { 0 };
      info.rank = m->rank;
      info.frames = m->frames;
      info.compute_us = m->compute_us;
      info.send_us = m->send_us;
      gst_element_post_message (GST_ELEMENT (self), prima_message_new_device_stats (GST_OBJECT (self), &info));
    }
    return;
  }
  json = prima_ctl_to_json (m, NULL, NULL);
  if (json == NULL)
    return;
  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->up_pending, json);
  g_mutex_unlock (&self->lock);
  gst_prima_ws_sink_flush_up (self);
  /* a device further on failed and said why: this one stops with its
   * reason (the close that follows is no news) */
  if (m->type == PRIMA_CTL_ERROR_MSG && m->rank >= 0)
    gst_prima_ws_sink_fail (self, m->rank, m->lost >= 0 ? m->lost : m->rank, m->text ? m->text : "unknown error",
          FALSE);
}

/* On the link's I/O thread: must not block. */
static gboolean
gst_prima_ws_sink_on_event (prima_link * link, const prima_link_event * ev, gpointer user_data)
{
  GstPrimaWsSink *self = user_data;
  guint rank;

  GST_OBJECT_LOCK (self);
  rank = self->rank;
  GST_OBJECT_UNLOCK (self);

  switch (ev->type) {
    case PRIMA_LINK_EVENT_READY:
      GST_INFO_OBJECT (self, "%s", ev->message);
      gst_prima_ws_sink_post (self, "connected", ev->peer_rank, ev->message);
      g_mutex_lock (&self->lock);
      if (ev->peer_rank >= 0)
        self->peer_seen = ev->peer_rank;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      return TRUE;
    case PRIMA_LINK_EVENT_CONTROL:
      if (ev->control.type == PRIMA_CTL_PROFILE || ev->control.type == PRIMA_CTL_ERROR_MSG
          || ev->control.type == PRIMA_CTL_STATS)
        gst_prima_ws_sink_upstream_control (self, rank, &ev->control);
      else
        GST_DEBUG_OBJECT (self, "ignoring %s from the next device", prima_ctl_type_name (ev->control.type));
      return TRUE;
    case PRIMA_LINK_EVENT_FRAME:
      GST_DEBUG_OBJECT (self, "ignoring a frame from the next device");
      return TRUE;
    case PRIMA_LINK_EVENT_LOST:{
      gint lost;
      g_mutex_lock (&self->lock);
      /* failed: reported already (the next device's own reason came first) */
      if (self->flushing || self->failed || (self->stop_sent && ev->reason == PRIMA_LINK_LOST_CLOSED)) {
        g_mutex_unlock (&self->lock);
        return TRUE;
      }
      g_mutex_unlock (&self->lock);
      lost = gst_prima_ws_sink_peer (self, ev->peer_rank);
      if (rank != 0) {
        prima_ctl_msg m;
        prima_ctl_msg_init (&m, PRIMA_CTL_ERROR_MSG);
        m.text = g_strdup (ev->message);
        m.lost = lost;
        gst_prima_ws_sink_upstream_control (self, rank, &m);
        prima_ctl_msg_clear (&m);
      }
      gst_prima_ws_sink_fail (self, -1, lost, ev->message, ev->reason == PRIMA_LINK_LOST_FAILED);
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
gst_prima_ws_sink_start (GstBaseSink * sink)
{
  GstPrimaWsSink *self = GST_PRIMA_WS_SINK (sink);
  prima_link_config cfg = { 0 };
  prima_cluster_key *key;
  GTlsCertificate *cert = NULL;
  GError *err = NULL;
  gchar *url, *key_text, *key_file, *cert_file;

  GST_OBJECT_LOCK (self);
  url = g_strdup (self->url);
  key_text = g_strdup (self->cluster_key);
  key_file = g_strdup (self->cluster_key_file);
  cert_file = g_strdup (self->tls_peer_certificate_file);
  cfg.rank = self->rank;
  cfg.peer_rank = self->peer_rank;
  cfg.heartbeat_timeout_ms = self->heartbeat_timeout;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  self->joined = 0;
  self->failed = FALSE;
  self->flushing = FALSE;
  self->stop_sent = FALSE;
  self->loss = LOSS_NONE;
  self->peer_seen = -1;
  g_mutex_unlock (&self->lock);
  self->plan_sent = FALSE;
  self->n_queued = 0;
  g_mutex_lock (&self->lock);
  self->st_frames = self->st_compute_us = self->st_send_us = self->st_reported = 0;
  g_mutex_unlock (&self->lock);
  if (cfg.rank != 0) {
    GstClock *clock = gst_system_clock_obtain ();
    self->st_timer = gst_clock_new_periodic_id (clock, gst_clock_get_time (clock) + STATS_INTERVAL, STATS_INTERVAL);
    gst_clock_id_wait_async (self->st_timer, gst_prima_ws_sink_stats_tick, gst_object_ref (self),
        (GDestroyNotify) gst_object_unref);
    gst_object_unref (clock);
  }

  if (url == NULL || *url == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, (_("No address of the next device was given (set \"url\").")),
        (NULL));
    goto failed;
  }
  key = prima_cluster_key_resolve (key_text, key_file, &err);
  if (key == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("No usable cluster key: %s"), err->message), (NULL));
    goto failed;
  }
  if (cert_file && *cert_file) {
    cert = g_tls_certificate_new_from_file (cert_file, &err);
    if (cert == NULL) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("Could not load the TLS certificate \"%s\": %s"),
              cert_file, err->message), (NULL));
      prima_cluster_key_unref (key);
      goto failed;
    }
  }
  cfg.role = PRIMA_LINK_CLIENT;
  cfg.key = key;
  cfg.url = url;
  cfg.tls_peer_certificate = cert;
  cfg.on_event = gst_prima_ws_sink_on_event;
  cfg.user_data = self;
  self->link = prima_link_new (&cfg, &err);
  prima_cluster_key_unref (key);
  g_clear_object (&cert);
  if (self->link == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE, (_("Could not connect to the next device of the ring: %s"),
            err->message), (NULL));
    goto failed;
  }
  GST_INFO_OBJECT (self, "%s connecting", prima_link_name (self->link));
  g_free (url);
  g_free (key_text);
  g_free (key_file);
  g_free (cert_file);
  return TRUE;

failed:
  g_clear_error (&err);
  g_free (url);
  if (key_text)
    memset (key_text, 0, strlen (key_text));
  g_free (key_text);
  g_free (key_file);
  g_free (cert_file);
  return FALSE;
}

/* Waits until everything handed to the link has left (bounded). */
static void
gst_prima_ws_sink_drain (GstPrimaWsSink * self)
{
  gint64 end = g_get_monotonic_time () + DRAIN_TIMEOUT_US;
  prima_link_stats st;

  for (;;) {
    prima_link_get_stats (self->link, &st);
    if (st.frames_sent + st.controls_sent >= self->n_queued || g_get_monotonic_time () > end
        || !prima_link_is_ready (self->link))
      return;
    g_usleep (500);
  }
}

static gboolean
gst_prima_ws_sink_stop (GstBaseSink * sink)
{
  GstPrimaWsSink *self = GST_PRIMA_WS_SINK (sink);

  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  g_mutex_unlock (&self->lock);
  if (self->st_timer) {
    gst_clock_id_unschedule (self->st_timer);
    g_clear_pointer (&self->st_timer, gst_clock_id_unref);
  }
  if (self->link) {
    gst_prima_ws_sink_drain (self);
    g_clear_pointer (&self->link, prima_link_free);
  }
  return TRUE;
}

static gboolean
gst_prima_ws_sink_unlock (GstBaseSink * sink)
{
  GstPrimaWsSink *self = GST_PRIMA_WS_SINK (sink);

  g_mutex_lock (&self->lock);
  self->flushing = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_prima_ws_sink_unlock_stop (GstBaseSink * sink)
{
  GstPrimaWsSink *self = GST_PRIMA_WS_SINK (sink);

  g_mutex_lock (&self->lock);
  self->flushing = FALSE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gchar *
gst_prima_ws_sink_missing (GstPrimaWsSink * self, guint world, guint64 joined)
{
  GString *s = g_string_new (NULL);
  guint n = 0;

  for (guint r = 1; r < world && r < 64; r++)
    if (!(joined & (G_GUINT64_CONSTANT (1) << r)))
      g_string_append_printf (s, "%s%u", n++ ? ", " : "", r);
  return g_string_free (s, FALSE);
}

/* Blocks until the next device is connected (and, on the head, every rank
 * has joined). FLUSHING when unlocked, ERROR when the link failed. */
static GstFlowReturn
gst_prima_ws_sink_wait_ring (GstPrimaWsSink * self, gboolean all)
{
  gint64 start = g_get_monotonic_time (), next_report = start + WAIT_REPORT_US, deadline = 0;
  guint rank, world, join_timeout;
  gboolean reported = FALSE;

  GST_OBJECT_LOCK (self);
  rank = self->rank;
  world = self->world;
  join_timeout = self->join_timeout;
  GST_OBJECT_UNLOCK (self);
  if (join_timeout > 0)
    deadline = start + (gint64) join_timeout * G_USEC_PER_SEC;

  for (;;) {
    GError *err = NULL;
    gboolean ready = prima_link_is_ready (self->link), complete;
    guint64 joined;

    g_mutex_lock (&self->lock);
    if (self->flushing || self->failed) {
      gboolean flushing = self->flushing;
      g_mutex_unlock (&self->lock);
      return flushing ? GST_FLOW_FLUSHING : gst_prima_ws_sink_failed_flow (self);
    }
    joined = self->joined;
    complete = !all || rank != 0 || world <= 1
        || (joined | 1) == ((world >= 64 ? G_MAXUINT64 : (G_GUINT64_CONSTANT (1) << world) - 1));
    if (ready && complete) {
      g_mutex_unlock (&self->lock);
      if (reported)
        GST_ELEMENT_INFO (self, RESOURCE, OPEN_WRITE, (_("Every device of the ring has joined.")), (NULL));
      return GST_FLOW_OK;
    }
    g_cond_wait_until (&self->cond, &self->lock, g_get_monotonic_time () + WAIT_STEP_US);
    g_mutex_unlock (&self->lock);
    gst_prima_ws_sink_flush_up (self);

    if (!ready && !prima_link_wait_ready (self->link, 0, &err) && err
        && !g_error_matches (err, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_TIMEOUT)) {
      /* a client that gave up (refused, or its peer failed to prove the key) */
      gst_prima_ws_sink_fail (self, -1, gst_prima_ws_sink_peer (self, -1), err->message, TRUE);
      g_error_free (err);
      return gst_prima_ws_sink_failed_flow (self);
    }
    g_clear_error (&err);
    if (g_get_monotonic_time () >= next_report) {
      gchar *missing = ready ? gst_prima_ws_sink_missing (self, world, joined)
          : g_strdup_printf ("%d", self->peer_rank >= 0 ? self->peer_rank : (gint) rank + 1);
      gchar *line = g_strdup_printf ("waiting for rank%s %s (%s)", strchr (missing, ',') ? "s" : "", missing,
          ready ? "not joined yet" : prima_link_name (self->link));
      GST_ELEMENT_INFO (self, RESOURCE, OPEN_WRITE, ("%s", line), (NULL));
      gst_prima_ws_sink_post (self, "waiting", -1, line);
      g_free (line);
      g_free (missing);
      reported = TRUE;
      next_report = g_get_monotonic_time () + WAIT_REPORT_US;
    }
    if (deadline && g_get_monotonic_time () >= deadline) {
      /* a device that went away before it joined: the first rank missing
       * (the one after it waits for it), or the next device itself */
      gint missing = gst_prima_ws_sink_peer (self, -1);
      gchar *line;
      for (guint r = 1; ready && r < world && r < 64; r++)
        if (!(joined & (G_GUINT64_CONSTANT (1) << r))) {
          missing = (gint) r;
          break;
        }
      line = g_strdup_printf ("rank %d did not join within %u s", missing, join_timeout);
      gst_prima_ws_sink_fail (self, -1, missing, line, FALSE);
      g_free (line);
      return gst_prima_ws_sink_failed_flow (self);
    }
  }
}

static gboolean
gst_prima_ws_sink_send_ctl (GstPrimaWsSink * self, const prima_ctl_msg * m)
{
  GError *err = NULL;

  if (!prima_link_send_control (self->link, m, &err)) {
    GST_WARNING_OBJECT (self, "cannot send %s: %s", prima_ctl_type_name (m->type), err->message);
    g_error_free (err);
    return FALSE;
  }
  self->n_queued++;
  return TRUE;
}

static gboolean
gst_prima_ws_sink_send_json (GstPrimaWsSink * self, const gchar * json)
{
  prima_ctl_msg m;
  GError *err = NULL;
  gboolean ok;

  if (!prima_ctl_parse (json, strlen (json), &m, &err)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("A malformed control message for the ring: %s"), err->message),
        (NULL));
    g_error_free (err);
    prima_ctl_msg_clear (&m);
    return FALSE;
  }
  ok = gst_prima_ws_sink_send_ctl (self, &m);
  prima_ctl_msg_clear (&m);
  return ok;
}

/* The head sends its plan before the first frame. */
static GstFlowReturn
gst_prima_ws_sink_prepare (GstPrimaWsSink * self)
{
  GstFlowReturn ret = gst_prima_ws_sink_wait_ring (self, FALSE);
  gchar *plan;

  gst_prima_ws_sink_flush_up (self);
  if (ret != GST_FLOW_OK || self->plan_sent)
    return ret == GST_FLOW_OK ? gst_prima_ws_sink_wait_ring (self, TRUE) : ret;
  GST_OBJECT_LOCK (self);
  plan = g_strdup (self->plan);
  GST_OBJECT_UNLOCK (self);
  if (plan && *plan && !gst_prima_ws_sink_send_json (self, plan))
    ret = GST_FLOW_ERROR;
  self->plan_sent = TRUE;
  g_free (plan);
  /* the plan goes round while the head waits for every rank to join */
  return ret == GST_FLOW_OK ? gst_prima_ws_sink_wait_ring (self, TRUE) : ret;
}

static GstFlowReturn
gst_prima_ws_sink_render (GstBaseSink * sink, GstBuffer * buf)
{
  GstPrimaWsSink *self = GST_PRIMA_WS_SINK (sink);
  prima_frame_header fh;
  GstFlowReturn ret;
  GstMapInfo map;
  PrimaHeader h;
  GError *err = NULL;
  gboolean half, ok, first;
  guint32 n_embd;
  guint rank;
  const gint64 t_enter = g_get_monotonic_time ();
  GstClockTime c_start, c_took;
  gint64 t_prepared, t_sent, before = 0;

  ret = gst_prima_ws_sink_prepare (self);
  if (ret != GST_FLOW_OK)
    return ret;
  /* the head's wait for the ring to form (its first frame) is no send */
  t_prepared = g_get_monotonic_time ();
  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_FLOW_ERROR;
  if (!prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_HIDDEN, &h) || h.dtype != PRIMA_DTYPE_F32
      || h.n_tokens == 0 || h.pos0 < 0 || h.next_layer < 0
      || h.payload_size % ((gsize) h.n_tokens * sizeof (float)) != 0) {
    gst_buffer_unmap (buf, &map);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed hidden-state buffer.")),
        ("%" G_GSIZE_FORMAT " bytes", map.size));
    return GST_FLOW_ERROR;
  }
  n_embd = h.payload_size / h.n_tokens / sizeof (float);
  GST_OBJECT_LOCK (self);
  half = self->half;
  rank = self->rank;
  GST_OBJECT_UNLOCK (self);
  prima_frame_header_init (&fh, PRIMA_FRAME_TYPE_HIDDEN, half ? PRIMA_FRAME_DTYPE_F16 : PRIMA_FRAME_DTYPE_F32,
      h.seq_id, h.pos0, h.n_tokens, (guint32) h.next_layer, n_embd);
  /* the head starts a lap now (each lap: a pass that comes back to the
   * head's windows and goes round again starts another); a worker passes
   * the head's time on */
  fh.origin_us = rank != 0 && GST_BUFFER_DTS_IS_VALID (buf) ? GST_BUFFER_DTS (buf) / GST_USECOND
      : (guint64) t_prepared;
  if (half)
    ok = prima_link_send_frame_f32 (self->link, &fh, (const float *) (map.data + PRIMA_HEADER_SIZE), &err);
  else
    ok = prima_link_send_frame (self->link, &fh, map.data + PRIMA_HEADER_SIZE, &err);
  gst_buffer_unmap (buf, &map);
  if (!ok) {
    gboolean flushing;
    g_mutex_lock (&self->lock);
    flushing = self->flushing || self->failed;
    g_mutex_unlock (&self->lock);
    if (flushing) {
      g_error_free (err);
      return GST_FLOW_FLUSHING;
    }
    gst_prima_ws_sink_fail (self, -1, gst_prima_ws_sink_peer (self, -1), err->message, FALSE);
    g_error_free (err);
    return gst_prima_ws_sink_failed_flow (self);
  }
  self->n_queued++;
  GST_LOG_OBJECT (self, "sent %u tokens at %d for layer %d", h.n_tokens, h.pos0, h.next_layer);

  /* the send: from the layers' end (or this frame's arrival here, when the
   * device had no layer for it) until the link took it, less a wait for
   * the ring to form */
  t_sent = g_get_monotonic_time ();
  c_took = 0;
  if (prima_buffer_get_compute_time (buf, &c_start, &c_took))
    before = MAX (t_enter - (gint64) ((c_start + c_took) / GST_USECOND), 0);
  g_mutex_lock (&self->lock);
  first = self->st_frames == 0;
  self->st_frames++;
  self->st_compute_us += c_took / GST_USECOND;
  self->st_send_us += (guint64) (before + MAX (t_sent - t_prepared, 0));
  g_mutex_unlock (&self->lock);
  /* the first at once: the head learns soon that this device reports */
  if (first && rank != 0)
    gst_prima_ws_sink_report_stats (self, rank);
  return GST_FLOW_OK;
}

static gboolean
gst_prima_ws_sink_event (GstBaseSink * sink, GstEvent * event)
{
  GstPrimaWsSink *self = GST_PRIMA_WS_SINK (sink);
  prima_ctl_msg m;
  gboolean have = FALSE;
  const gchar *json = NULL, *message = NULL;
  gint failed_rank = -1, lost = -1;

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    /* the ordered stop: it goes around the ring in order with the frames */
    if (gst_prima_ws_sink_prepare (self) == GST_FLOW_OK) {
      guint rank;
      GST_OBJECT_LOCK (self);
      rank = self->rank;
      GST_OBJECT_UNLOCK (self);
      /* the last report, before the stop */
      if (rank != 0)
        gst_prima_ws_sink_report_stats (self, rank);
      prima_ctl_msg_init (&m, PRIMA_CTL_STOP);
      m.text = g_strdup ("end of stream");
      g_mutex_lock (&self->lock);
      self->stop_sent = TRUE;
      g_mutex_unlock (&self->lock);
      gst_prima_ws_sink_send_ctl (self, &m);
      prima_ctl_msg_clear (&m);
      gst_prima_ws_sink_drain (self);
    }
  } else if (prima_event_parse_ring_plan (event, &json, NULL, NULL, NULL, NULL)) {
    gst_prima_ws_sink_flush_up (self);
    if (json && gst_prima_ws_sink_wait_ring (self, FALSE) == GST_FLOW_OK)
      gst_prima_ws_sink_send_json (self, json);
    self->plan_sent = TRUE;
  } else if (prima_event_is_kv_clear (event)) {
    prima_ctl_msg_init (&m, PRIMA_CTL_KV_CLEAR);
    have = TRUE;
  } else if (prima_event_is_kv_remove (event)) {
    prima_ctl_msg_init (&m, PRIMA_CTL_KV_REMOVE);
    have = prima_event_parse_kv_remove (event, &m.seq, &m.p0, &m.p1);
  } else if (prima_event_is_kv_shift (event)) {
    prima_ctl_msg_init (&m, PRIMA_CTL_KV_SHIFT);
    have = prima_event_parse_kv_shift (event, &m.seq, &m.p0, &m.p1, &m.delta);
  } else if (prima_event_parse_ring_failure_lost (event, &failed_rank, &lost, &message)) {
    prima_ctl_msg_init (&m, PRIMA_CTL_ERROR_MSG);
    m.text = g_strdup (message);
    m.rank = failed_rank;
    m.lost = lost;
    have = m.text != NULL;
  }
  if (have) {
    if (gst_prima_ws_sink_prepare (self) == GST_FLOW_OK)
      gst_prima_ws_sink_send_ctl (self, &m);
    prima_ctl_msg_clear (&m);
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

/* The application's events for the element itself (basesink would send
 * them upstream). */
static gboolean
gst_prima_ws_sink_send_event (GstElement * element, GstEvent * event)
{
  GstPrimaWsSink *self = GST_PRIMA_WS_SINK (element);
  gint failed_rank = -1;
  const gchar *message = NULL;
  gboolean ret;

  if (!prima_event_parse_device_failed (event, &failed_rank, &message))
    return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);
  /* this device failed: the next device hears why, and passes it on; our
   * own link's end is no failure to report */
  g_mutex_lock (&self->lock);
  self->failed = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  /* the state lock, held by gst_element_send_event, keeps start and stop out */
  ret = self->link != NULL;
  if (ret) {
    GST_INFO_OBJECT (self, "telling the next device: rank %d failed: %s", failed_rank, message);
    prima_link_close_failed (self->link, failed_rank, message);
  }
  gst_event_unref (event);
  return ret;
}

static void
gst_prima_ws_sink_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaWsSink *self = GST_PRIMA_WS_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_URL:
      g_free (self->url);
      self->url = g_value_dup_string (value);
      break;
    case PROP_RANK:
      self->rank = g_value_get_uint (value);
      break;
    case PROP_PEER_RANK:
      self->peer_rank = g_value_get_int (value);
      break;
    case PROP_CLUSTER_KEY:
      if (self->cluster_key)
        memset (self->cluster_key, 0, strlen (self->cluster_key));
      g_free (self->cluster_key);
      self->cluster_key = g_value_dup_string (value);
      break;
    case PROP_CLUSTER_KEY_FILE:
      g_free (self->cluster_key_file);
      self->cluster_key_file = g_value_dup_string (value);
      break;
    case PROP_TLS_PEER_CERTIFICATE_FILE:
      g_free (self->tls_peer_certificate_file);
      self->tls_peer_certificate_file = g_value_dup_string (value);
      break;
    case PROP_HEARTBEAT_TIMEOUT:
      self->heartbeat_timeout = g_value_get_uint (value);
      break;
    case PROP_WORLD:
      self->world = g_value_get_uint (value);
      break;
    case PROP_PLAN:
      g_free (self->plan);
      self->plan = g_value_dup_string (value);
      break;
    case PROP_HALF:
      self->half = g_value_get_boolean (value);
      break;
    case PROP_LOSS_ACTION:
      self->loss_action = g_value_get_enum (value);
      break;
    case PROP_JOIN_TIMEOUT:
      self->join_timeout = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_ws_sink_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaWsSink *self = GST_PRIMA_WS_SINK (object);

  if (prop_id == PROP_STATS) {
    g_mutex_lock (&self->lock);
    g_value_take_boxed (value, gst_structure_new ("prima-send-stats", "frames", G_TYPE_UINT64, self->st_frames,
            "compute-us", G_TYPE_UINT64, self->st_compute_us, "send-us", G_TYPE_UINT64, self->st_send_us, NULL));
    g_mutex_unlock (&self->lock);
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_URL:
      g_value_set_string (value, self->url);
      break;
    case PROP_RANK:
      g_value_set_uint (value, self->rank);
      break;
    case PROP_PEER_RANK:
      g_value_set_int (value, self->peer_rank);
      break;
    case PROP_CLUSTER_KEY:
      g_value_set_string (value, NULL);         /* never handed out */
      break;
    case PROP_CLUSTER_KEY_FILE:
      g_value_set_string (value, self->cluster_key_file);
      break;
    case PROP_TLS_PEER_CERTIFICATE_FILE:
      g_value_set_string (value, self->tls_peer_certificate_file);
      break;
    case PROP_HEARTBEAT_TIMEOUT:
      g_value_set_uint (value, self->heartbeat_timeout);
      break;
    case PROP_WORLD:
      g_value_set_uint (value, self->world);
      break;
    case PROP_PLAN:
      g_value_set_string (value, self->plan);
      break;
    case PROP_HALF:
      g_value_set_boolean (value, self->half);
      break;
    case PROP_LOSS_ACTION:
      g_value_set_enum (value, self->loss_action);
      break;
    case PROP_JOIN_TIMEOUT:
      g_value_set_uint (value, self->join_timeout);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_ws_sink_finalize (GObject * object)
{
  GstPrimaWsSink *self = GST_PRIMA_WS_SINK (object);

  g_clear_pointer (&self->link, prima_link_free);
  g_free (self->url);
  if (self->cluster_key)
    memset (self->cluster_key, 0, strlen (self->cluster_key));
  g_free (self->cluster_key);
  g_free (self->cluster_key_file);
  g_free (self->tls_peer_certificate_file);
  g_free (self->plan);
  g_queue_clear_full (&self->up_pending, g_free);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_prima_ws_sink_class_init (GstPrimaWsSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_prima_ws_sink_set_property;
  gobject_class->get_property = gst_prima_ws_sink_get_property;
  gobject_class->finalize = gst_prima_ws_sink_finalize;

  /**
   * GstPrimaWsSink:url:
   *
   * The next device's primawssrc: `ws://HOST:PORT` or `wss://HOST:PORT`
   * (the path defaults to `/prima/ring`).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_URL,
      g_param_spec_string ("url", "URL", "ws:// or wss:// address of the next device", NULL, PARAM_FLAGS));
  /**
   * GstPrimaWsSink:rank:
   *
   * This device's rank in the ring (0 is the head).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_RANK,
      g_param_spec_uint ("rank", "Rank", "This device's rank (0: the head)", 0, 255, DEFAULT_RANK, PARAM_FLAGS));
  /**
   * GstPrimaWsSink:peer-rank:
   *
   * The rank the next device must prove; -1 accepts any.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_PEER_RANK,
      g_param_spec_int ("peer-rank", "Peer rank", "Rank the next device must claim (-1: any)", -1, 255,
          DEFAULT_PEER_RANK, PARAM_FLAGS));
  /**
   * GstPrimaWsSink:cluster-key:
   *
   * The cluster key (at least 16 bytes). Without it, and without
   * #GstPrimaWsSink:cluster-key-file, `$PRIMA_CLUSTER_KEY` or
   * `$PRIMA_CLUSTER_KEY_FILE` is used. Never readable.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CLUSTER_KEY,
      g_param_spec_string ("cluster-key", "Cluster key", "Shared secret of the ring (write-only)", NULL,
          PARAM_FLAGS));
  /**
   * GstPrimaWsSink:cluster-key-file:
   *
   * A file holding the cluster key (mode 0600 or stricter).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CLUSTER_KEY_FILE,
      g_param_spec_string ("cluster-key-file", "Cluster key file", "File holding the cluster key", NULL,
          PARAM_FLAGS));
  /**
   * GstPrimaWsSink:tls-peer-certificate-file:
   *
   * For wss://: accept exactly the certificate in this PEM file (a
   * self-signed cluster); without it the system's trust store decides.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TLS_PEER_CERTIFICATE_FILE,
      g_param_spec_string ("tls-peer-certificate-file", "TLS peer certificate file",
          "wss://: accept exactly this PEM certificate", NULL, PARAM_FLAGS));
  /**
   * GstPrimaWsSink:heartbeat-timeout:
   *
   * Milliseconds without any message after which the next device counts as
   * failed.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_HEARTBEAT_TIMEOUT,
      g_param_spec_uint ("heartbeat-timeout", "Heartbeat timeout", "Milliseconds of silence before a peer failed",
          100, 600000, DEFAULT_HEARTBEAT_TIMEOUT, PARAM_FLAGS));
  /**
   * GstPrimaWsSink:world:
   *
   * On the head: the number of devices in the ring. The first frame waits
   * until ranks 1 .. world-1 have joined (and the element reports the ranks
   * it is waiting for). 0 does not wait.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_WORLD,
      g_param_spec_uint ("world", "World", "Devices in the ring (head: wait until all have joined)", 0, 64,
          DEFAULT_WORLD, PARAM_FLAGS));
  /**
   * GstPrimaWsSink:plan:
   *
   * On the head: the plan message (JSON, docs/wire-protocol.md) sent before
   * the first frame; every device takes its layer windows from it.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_PLAN,
      g_param_spec_string ("plan", "Plan", "Plan message (JSON) sent before the first frame", NULL, PARAM_FLAGS));
  /**
   * GstPrimaWsSink:half:
   *
   * Send activations as f16 (half the bytes; not bit-exact).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_HALF,
      g_param_spec_boolean ("half", "Half", "Send activations as f16", DEFAULT_HALF, PARAM_FLAGS));
  /**
   * GstPrimaWsSink:loss-action:
   *
   * What a broken ring does: `error` posts an element error naming the
   * device (the application stops); `notify` emits
   * #GstPrimaWsSink::peer-lost once, posts no error and stops streaming
   * quietly (renders return FLUSHING), so that the application can rebuild
   * the ring. primascheduler sets `notify` when it recovers from losses.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_LOSS_ACTION,
      g_param_spec_enum ("loss-action", "Loss action", "What a broken ring does: an element error, or the "
          "peer-lost signal", GST_TYPE_PRIMA_LOSS_ACTION, DEFAULT_LOSS_ACTION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  /**
   * GstPrimaWsSink:join-timeout:
   *
   * Seconds the first frame waits for the next device to connect and (on
   * the head) for every rank to join; then the first rank missing counts as
   * lost ("rank 2 did not join within 20 s"): an error, or with
   * #GstPrimaWsSink:loss-action=notify the #GstPrimaWsSink::peer-lost
   * signal. 0 waits for ever. primascheduler sets its ring-timeout here, so
   * a device that goes away between the setup round and the data ring does
   * not hold the head for ever.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_JOIN_TIMEOUT,
      g_param_spec_uint ("join-timeout", "Join timeout", "Seconds to wait for the ring to join before the "
          "first rank missing counts as lost (0: for ever)", 0, G_MAXINT, 0, PARAM_FLAGS));
  /**
   * GstPrimaWsSink:stats:
   *
   * This device's timing since start (docs/ring.md, "Timing"): `frames`
   * sent, `compute-us` the layers' time (from the buffers'
   * "timestamp/x-prima-compute" meta), `send-us` from the layers' end (or
   * the frame's arrival here) until the link took each frame, a wait for
   * the ring to form left out. A worker reports the same numbers to the
   * head in its `stats` messages.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_STATS,
      g_param_spec_boxed ("stats", "Stats", "Frames sent, time in the layers and sending (microseconds)",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstPrimaWsSink::peer-lost:
   * @sink: the element
   * @lost: the data-ring rank at fault (the next device that dropped or
   *   stalled, or the device further on that failed); -1 when unknown
   * @message: the reason, one line ("rank 2 at 127.0.0.1:9002 disconnected")
   *
   * With #GstPrimaWsSink:loss-action=notify, emitted once per start when the
   * ring breaks, from the thread that found it (the link's, or the
   * streaming thread), before the element fails any push: a handler must
   * not block, and may hold the pipeline back first.
   *
   * Since: 0.3
   */
  signals[SIGNAL_PEER_LOST] = g_signal_new ("peer-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);
  gst_type_mark_as_plugin_api (GST_TYPE_PRIMA_LOSS_ACTION, 0);

  element_class->send_event = GST_DEBUG_FUNCPTR (gst_prima_ws_sink_send_event);
  sink_class->start = GST_DEBUG_FUNCPTR (gst_prima_ws_sink_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_prima_ws_sink_stop);
  sink_class->unlock = GST_DEBUG_FUNCPTR (gst_prima_ws_sink_unlock);
  sink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_prima_ws_sink_unlock_stop);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_prima_ws_sink_render);
  sink_class->event = GST_DEBUG_FUNCPTR (gst_prima_ws_sink_event);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "Prima ring WebSocket sink", "Sink/Network",
      "Sends activations and control of the ring to the next device (authenticated WebSocket client)",
      "gst-prima authors");
}

static void
gst_prima_ws_sink_init (GstPrimaWsSink * self)
{
  self->rank = DEFAULT_RANK;
  self->peer_rank = DEFAULT_PEER_RANK;
  self->heartbeat_timeout = DEFAULT_HEARTBEAT_TIMEOUT;
  self->world = DEFAULT_WORLD;
  self->half = DEFAULT_HALF;
  self->loss_action = DEFAULT_LOSS_ACTION;
  self->peer_seen = -1;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->up_pending);
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_async_enabled (GST_BASE_SINK (self), FALSE);
}
