/* gst-prima: primawssrc, the receiving end of a ring hop (WebSocket server).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primawssrc
 * @title: primawssrc
 * @see_also: primawssink, primalayers
 *
 * The downstream end of one hop of the ring (docs/design.md section 3,
 * docs/wire-protocol.md): a live source that listens on
 * #GstPrimaWsSrc:port for the previous device's primawssink, proves and
 * checks the cluster key (HMAC challenge/response) and then pushes every
 * activation frame it receives as an `application/x-prima-hidden` buffer.
 * The frame's bytes are used in place: the 48-byte wire header is rewritten
 * into the 32-byte buffer header within the received message, so an f32 frame
 * reaches primalayers without a copy.
 *
 * Control messages become events: `plan` the serialized custom event
 * `prima-ring-plan` (with this rank's windows), `kv-clear`, `kv-remove` and
 * `kv-shift` the events `prima-kv-clear`, `prima-kv-remove` and
 * `prima-kv-shift`, `stop` end-of-stream (the ordered stop), and `error` (a
 * failure further up the ring) `prima-ring-failure`. On the head (rank 0)
 * a returning plan means the ring is complete and a returning `error` is
 * posted as an element error ("rank 2 failed: <its reason>" when a device
 * reported its own failure). The upstream custom event `prima-ring-control`
 * sends its control message back to the previous device; the event
 * `prima-device-failed` (prima-events.h, from the application of a device that
 * failed) sends it the reason and closes with code 4006.
 *
 * A lost peer (it disconnected, or sent no heartbeat for
 * #GstPrimaWsSrc:heartbeat-timeout) is an element error naming its rank; a
 * worker first passes the failure on downstream so the head can name the
 * device that failed (`prima-ring-failure` with `lost`, the data-ring rank at
 * fault: the peer that dropped or stalled, or a device that failed itself).
 * With #GstPrimaWsSrc:loss-action=notify (since 0.3) the element instead emits
 * #GstPrimaWsSrc::peer-lost once with that rank, posts no error and stops
 * streaming quietly (no end-of-stream), so that the application can rebuild
 * the ring (primascheduler does). A peer that fails the handshake or claims another rank
 * than #GstPrimaWsSrc:peer-rank is refused with one warning line and does
 * not disturb the connected one.
 *
 * A live #GstPushSrc (Since: 0.2): it produces only in PLAYING, answers the
 * latency query as live, and a state change or flush wakes a waiting
 * #GstBaseSrcClass.create() within 0.1 s (unlock). Caps come with the first
 * frame (its n_embd); control events go out in order with the frames.
 *
 * ## Example launch line
 * |[
 * PRIMA_CLUSTER_KEY=0123456789abcdef0123 gst-launch-1.0 primawssrc port=9001 rank=1 ! primalayers model=tests/data/stories260K-f32.gguf ! primawssink url=ws://127.0.0.1:9000 rank=1 peer-rank=0
 * ]| a worker of rank 1: it takes its windows from the head's plan.
 *
 * Since: 0.1
 */

#include "gstprimawssrc.h"
#include "gstprimawssink.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "ring-link.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_ws_src_debug);
#define GST_CAT_DEFAULT gst_prima_ws_src_debug

#define DEFAULT_PORT 9000
#define DEFAULT_RANK 0
#define DEFAULT_PEER_RANK -1
#define DEFAULT_HEARTBEAT_TIMEOUT 2500
#define POP_TIMEOUT_US (100 * 1000)
#define DEFAULT_LOSS_ACTION PRIMA_LOSS_ACTION_ERROR

enum
{
  PROP_0,
  PROP_ADDRESS,
  PROP_PORT,
  PROP_RANK,
  PROP_PEER_RANK,
  PROP_CLUSTER_KEY,
  PROP_CLUSTER_KEY_FILE,
  PROP_TLS_CERTIFICATE_FILE,
  PROP_HEARTBEAT_TIMEOUT,
  PROP_BOUND_PORT,
  PROP_LOSS_ACTION,
};

enum
{
  SIGNAL_PEER_LOST,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

struct _GstPrimaWsSrc
{
  GstPushSrc parent;

  /* properties, under the object lock */
  gchar *address;
  guint port;
  guint rank;
  gint peer_rank;
  gchar *cluster_key;
  gchar *cluster_key_file;
  gchar *tls_certificate_file;
  guint heartbeat_timeout;
  GstPrimaLossAction loss_action;

  /* READY and up */
  prima_link *link;
  guint bound_port;
  GQueue pending;               /* control for upstream before it connected (JSON), object lock */

  /* the streaming thread */
  gboolean flushing;            /* atomic: unlock, until unlock_stop */
  gboolean started;             /* caps set */
  gboolean eos;                 /* atomic: an end-of-stream of ours (stop, or sent to us) */
  gint n_embd;
  gint peer_seen;               /* the previous device's rank, from its handshake (-1: not yet) */
  gboolean lost_reported;       /* loss-action=notify: peer-lost was emitted */
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_HIDDEN));

#define gst_prima_ws_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaWsSrc, gst_prima_ws_src, GST_TYPE_PUSH_SRC,
    GST_DEBUG_CATEGORY_INIT (gst_prima_ws_src_debug, "primawssrc", 0, "prima ring WebSocket source"));
GST_ELEMENT_REGISTER_DEFINE (primawssrc, "primawssrc", GST_RANK_NONE, GST_TYPE_PRIMA_WS_SRC);

static void
gst_prima_ws_src_post (GstPrimaWsSrc * self, const gchar * what, gint rank, const gchar * message)
{
  gst_element_post_message (GST_ELEMENT (self), prima_message_new_ring (GST_OBJECT (self), what, rank,
          self->bound_port, message));
}

static gboolean
gst_prima_ws_src_open (GstPrimaWsSrc * self)
{
  prima_link_config cfg = { 0 };
  prima_cluster_key *key;
  GTlsCertificate *cert = NULL;
  GError *err = NULL;
  gchar *address, *key_text, *key_file, *cert_file;

  GST_OBJECT_LOCK (self);
  address = g_strdup (self->address);
  key_text = g_strdup (self->cluster_key);
  key_file = g_strdup (self->cluster_key_file);
  cert_file = g_strdup (self->tls_certificate_file);
  cfg.port = (guint16) self->port;
  cfg.rank = self->rank;
  cfg.peer_rank = self->peer_rank;
  cfg.heartbeat_timeout_ms = self->heartbeat_timeout;
  GST_OBJECT_UNLOCK (self);

  key = prima_cluster_key_resolve (key_text, key_file, &err);
  g_free (key_text);
  g_free (key_file);
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
  cfg.role = PRIMA_LINK_SERVER;
  cfg.key = key;
  cfg.bind_address = address && *address ? address : NULL;
  cfg.tls_certificate = cert;
  self->link = prima_link_new (&cfg, &err);
  prima_cluster_key_unref (key);
  g_clear_object (&cert);
  if (self->link == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, (_("Could not listen for the previous device of the ring: %s"),
            err->message), (NULL));
    goto failed;
  }
  self->bound_port = prima_link_get_port (self->link);
  GST_INFO_OBJECT (self, "%s listening", prima_link_name (self->link));
  gst_prima_ws_src_post (self, "listening", (gint) cfg.rank, prima_link_name (self->link));
  g_free (address);
  g_free (cert_file);
  return TRUE;

failed:
  g_clear_error (&err);
  g_free (address);
  g_free (cert_file);
  return FALSE;
}

/* The caps come with the first frame (its n_embd); GstBaseSrc pushes them,
 * after its stream-start, and the segment before the frame. */
static gboolean
gst_prima_ws_src_start_stream (GstPrimaWsSrc * self, gint n_embd)
{
  GstCaps *caps;
  gboolean ok;

  if (self->started) {
    if (n_embd == self->n_embd)
      return TRUE;
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("The previous device of the ring changed n_embd from %d to %d."),
            self->n_embd, n_embd), (NULL));
    return FALSE;
  }
  caps = gst_caps_new_simple ("application/x-prima-hidden", "n-embd", G_TYPE_INT, n_embd,
      "format", G_TYPE_STRING, "F32", NULL);
  ok = gst_base_src_set_caps (GST_BASE_SRC (self), caps);
  gst_caps_unref (caps);
  self->started = TRUE;
  self->n_embd = n_embd;
  if (!ok)
    GST_WARNING_OBJECT (self, "downstream refused the caps for n-embd %d", n_embd);
  return TRUE;
}

/* Control events go out on the streaming thread, in order with the frames
 * (GstBaseSrc's own queue of events would hold them until the next frame). */
static void
gst_prima_ws_src_push_event (GstPrimaWsSrc * self, GstEvent * event)
{
  gst_pad_push_event (GST_BASE_SRC_PAD (self), event);
}

/* The frame as a hidden-state buffer. An f32 frame is used in place: the
 * message's bytes are taken over (no copy when libsoup's GBytes has no
 * other owner) and the 32-byte buffer header is written over the end of the
 * 48-byte wire header, right before the payload. */
static GstBuffer *
gst_prima_ws_src_frame_buffer (prima_link_event * ev)
{
  const prima_frame_header *fh = &ev->frame;
  const gsize f32_size = (gsize) fh->n_tokens * fh->n_embd * sizeof (float);
  const gsize skip = PRIMA_FRAME_HEADER_SIZE - PRIMA_HEADER_SIZE;
  PrimaHeader h;
  GstBuffer *buf;

  prima_header_init (&h, PRIMA_PAYLOAD_HIDDEN, fh->n_tokens, f32_size);
  h.seq_id = fh->seq_id;
  h.pos0 = fh->pos0;
  h.next_layer = (gint32) fh->next_layer;
  if (fh->dtype == PRIMA_FRAME_DTYPE_F32) {
    GBytes *bytes = ev->bytes;
    gsize len;
    guint8 *data;

    ev->bytes = NULL;
    ev->payload = NULL;
    data = g_bytes_unref_to_data (bytes, &len);
    g_assert (len == PRIMA_FRAME_HEADER_SIZE + f32_size);
    memcpy (data + skip, &h, PRIMA_HEADER_SIZE);
    buf = gst_buffer_new_wrapped_full (0, data, len, skip, len - skip, data, g_free);
  } else {
    GstMapInfo map;

    buf = prima_buffer_new (&h);
    gst_buffer_map (buf, &map, GST_MAP_WRITE);
    prima_frame_payload_to_f32 (fh, ev->payload, (float *) (map.data + PRIMA_HEADER_SIZE));
    gst_buffer_unmap (buf, &map);
  }
  GST_BUFFER_OFFSET (buf) = (guint64) fh->pos0;
  /* the head's timestamp rides in the DTS through the device */
  GST_BUFFER_DTS (buf) = fh->origin_us * GST_USECOND;
  return buf;
}

static gchar *
gst_prima_ws_src_windows_string (const prima_plan_rank * r)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; r && i < r->n_windows; i++)
    g_string_append_printf (s, "%s%d-%d", i ? "," : "", r->windows[i].first, r->windows[i].last);
  return g_string_free (s, FALSE);
}

static GstEvent *
gst_prima_ws_src_plan_event (GstPrimaWsSrc * self, const prima_ctl_msg * m, guint rank)
{
  const prima_plan *plan = m->plan;
  const prima_plan_rank *mine = NULL;
  gchar *json, *windows;
  GstEvent *event;

  for (guint i = 0; i < plan->n_ranks; i++)
    if (plan->ranks[i].rank == (gint32) rank)
      mine = &plan->ranks[i];
  json = prima_ctl_to_json (m, NULL, NULL);
  windows = gst_prima_ws_src_windows_string (mine);
  event = prima_event_new_ring_plan (json, (gint) rank, windows, plan->n_layer, plan->n_ctx);
  g_free (json);
  g_free (windows);
  return event;
}

static GstEvent *
gst_prima_ws_src_control_event (const prima_ctl_msg * m)
{
  switch (m->type) {
    case PRIMA_CTL_KV_CLEAR:
      return prima_event_new_kv_clear ();
    case PRIMA_CTL_KV_REMOVE:
      return prima_event_new_kv_remove (m->seq, m->p0, m->p1);
    case PRIMA_CTL_KV_SHIFT:
      return prima_event_new_kv_shift (m->seq, m->p0, m->p1, m->delta);
    default:
      return NULL;
  }
}

/* A failure upstream of this device: a worker passes it on downstream
 * (towards the head), the head reports it. failed_rank >= 0: that device
 * failed and message is its own reason (an `error` message with a rank);
 * lost: the data-ring rank at fault. */
static void
gst_prima_ws_src_failure (GstPrimaWsSrc * self, guint rank, gint failed_rank, gint lost, const gchar * message,
    gboolean device_failed)
{
  GstPrimaLossAction action;

  if (rank != 0) {
    GstEvent *event = prima_event_new_ring_failure_lost (failed_rank, lost, message);
    gst_prima_ws_src_push_event (self, event);
  }
  GST_OBJECT_LOCK (self);
  action = self->loss_action;
  GST_OBJECT_UNLOCK (self);
  /* a device that failed on its own (it said why) is an error either way:
   * notify is for lost devices */
  if (action == PRIMA_LOSS_ACTION_NOTIFY && failed_rank < 0 && !device_failed) {
    gchar *line;
    /* the streaming thread is the only one that reports */
    if (self->lost_reported)
      return;
    self->lost_reported = TRUE;
    line = failed_rank >= 0 ? g_strdup_printf ("rank %d failed: %s", failed_rank, message) : g_strdup (message);
    GST_WARNING_OBJECT (self, "lost rank %d: %s", lost, line);
    g_signal_emit (self, signals[SIGNAL_PEER_LOST], 0, lost, line);
    g_free (line);
    return;
  }
  if (failed_rank >= 0)
    GST_ELEMENT_ERROR (self, RESOURCE, READ, (_("rank %d failed: %s"), failed_rank, message), (NULL));
  else
    GST_ELEMENT_ERROR (self, RESOURCE, READ, (_("The ring failed: %s"), message), (NULL));
}

static gboolean gst_prima_ws_src_send_json (GstPrimaWsSrc * self, const gchar * json);

/* The previous device, by its data-ring rank: as it proved in its
 * handshake, else as configured (-1: unknown). */
static gint
gst_prima_ws_src_peer (GstPrimaWsSrc * self, gint event_rank)
{
  gint peer;

  if (event_rank >= 0)
    return event_rank;
  if (self->peer_seen >= 0)
    return self->peer_seen;
  GST_OBJECT_LOCK (self);
  peer = self->peer_rank;
  GST_OBJECT_UNLOCK (self);
  return peer;
}

/* A worker tells the head (through the devices before it) that it joined. */
static void
gst_prima_ws_src_send_joined (GstPrimaWsSrc * self, guint rank)
{
  JsonObject *o = json_object_new ();
  prima_ctl_msg m;
  GError *err = NULL;

  prima_ctl_msg_init (&m, PRIMA_CTL_PROFILE);
  m.rank = (gint32) rank;
  json_object_set_boolean_member (o, "joined", TRUE);
  m.profile = json_node_init_object (json_node_alloc (), o);
  json_object_unref (o);
  if (!prima_link_send_control (self->link, &m, &err)) {
    GST_WARNING_OBJECT (self, "cannot tell the head that rank %u joined: %s", rank, err->message);
    g_error_free (err);
  }
  prima_ctl_msg_clear (&m);
}

/* Waits for the next frame, handling what arrives before it. After an
 * element error it returns FLUSHING: GstBaseSrc then only pauses (as with
 * ERROR it would also send end-of-stream, which the next device would take
 * for the ring's ordered stop); the application stops on the error. */
static GstFlowReturn
gst_prima_ws_src_create (GstPushSrc * src, GstBuffer ** outbuf)
{
  GstPrimaWsSrc *self = GST_PRIMA_WS_SRC (src);
  prima_link_event *ev;
  guint rank;

  GST_OBJECT_LOCK (self);
  rank = self->rank;
  GST_OBJECT_UNLOCK (self);

  for (;;) {
    if (g_atomic_int_get (&self->flushing))
      return GST_FLOW_FLUSHING;
    ev = prima_link_pop (self->link, POP_TIMEOUT_US);
    if (ev == NULL)
      continue;

    switch (ev->type) {
      case PRIMA_LINK_EVENT_READY:
        GST_INFO_OBJECT (self, "%s", ev->message);
        gst_prima_ws_src_post (self, "connected", ev->peer_rank, ev->message);
        if (ev->peer_rank >= 0)
          self->peer_seen = ev->peer_rank;
        if (rank != 0)
          gst_prima_ws_src_send_joined (self, rank);
        GST_OBJECT_LOCK (self);
        while (!g_queue_is_empty (&self->pending)) {
          gchar *json = g_queue_pop_head (&self->pending);
          gst_prima_ws_src_send_json (self, json);
          g_free (json);
        }
        GST_OBJECT_UNLOCK (self);
        break;

      case PRIMA_LINK_EVENT_FRAME:
        if (!gst_prima_ws_src_start_stream (self, (gint) ev->frame.n_embd))
          goto failed;
        *outbuf = gst_prima_ws_src_frame_buffer (ev);
        GST_LOG_OBJECT (self, "frame: %u tokens at %d for layer %u", ev->frame.n_tokens, ev->frame.pos0,
            ev->frame.next_layer);
        prima_link_event_free (ev);
        return GST_FLOW_OK;

      case PRIMA_LINK_EVENT_CONTROL:{
        const prima_ctl_msg *m = &ev->control;
        GstEvent *event;
        switch (m->type) {
          case PRIMA_CTL_PLAN:
            if (rank == 0) {
              GST_INFO_OBJECT (self, "the plan came back around: the ring is complete");
              gst_prima_ws_src_post (self, "complete", ev->peer_rank, "the plan came back around the ring");
              break;
            }
            gst_prima_ws_src_push_event (self, gst_prima_ws_src_plan_event (self, m, rank));
            break;
          case PRIMA_CTL_STOP:
            /* GstBaseSrc sends the end-of-stream */
            GST_INFO_OBJECT (self, "stop (%s): end of stream", m->text ? m->text : "no reason");
            g_atomic_int_set (&self->eos, TRUE);
            prima_link_event_free (ev);
            return GST_FLOW_EOS;
          case PRIMA_CTL_ERROR_MSG:
            gst_prima_ws_src_failure (self, rank, m->rank, m->lost >= 0 ? m->lost : m->rank,
                m->text ? m->text : "unknown error", FALSE);
            goto failed;
          default:
            event = gst_prima_ws_src_control_event (m);
            if (event)
              gst_prima_ws_src_push_event (self, event);
            else
              GST_DEBUG_OBJECT (self, "ignoring %s", prima_ctl_type_name (m->type));
            break;
        }
        break;
      }

      case PRIMA_LINK_EVENT_LOST:
        if (ev->reason == PRIMA_LINK_LOST_REPLACED)
          break;
        if (!g_atomic_int_get (&self->flushing))
          gst_prima_ws_src_failure (self, rank, -1, gst_prima_ws_src_peer (self, ev->peer_rank), ev->message,
              ev->reason == PRIMA_LINK_LOST_FAILED);
        goto failed;
    }
    prima_link_event_free (ev);
  }

failed:
  prima_link_event_free (ev);
  return GST_FLOW_FLUSHING;
}

static gboolean
gst_prima_ws_src_send_json (GstPrimaWsSrc * self, const gchar * json)
{
  prima_ctl_msg m;
  GError *err = NULL;
  gboolean ok;

  if (!prima_ctl_parse (json, strlen (json), &m, &err)
      || !prima_link_send_control (self->link, &m, &err)) {
    GST_WARNING_OBJECT (self, "cannot send a control message upstream: %s", err->message);
    g_error_free (err);
    ok = FALSE;
  } else {
    ok = TRUE;
  }
  prima_ctl_msg_clear (&m);
  return ok;
}

/* The upstream custom events: prima-ring-control (its control message to
 * the previous device) and prima-device-failed (this device failed). TRUE
 * when event was one of them; *ret its result. */
static gboolean
gst_prima_ws_src_control_upstream (GstPrimaWsSrc * self, GstEvent * event, gboolean * ret)
{
  const gchar *json = NULL;

  if (prima_event_parse_ring_control (event, &json)) {
    *ret = json != NULL && self->link != NULL;
    if (*ret) {
      /* before the previous device connected, keep it until it has */
      GST_OBJECT_LOCK (self);
      if (prima_link_is_ready (self->link))
        *ret = gst_prima_ws_src_send_json (self, json);
      else
        g_queue_push_tail (&self->pending, g_strdup (json));
      GST_OBJECT_UNLOCK (self);
    }
    return TRUE;
  }
  if (prima_event_is_device_failed (event)) {
    gint failed_rank = -1;
    const gchar *message = NULL;
    /* this device failed: the previous device hears why, and passes it on */
    prima_event_parse_device_failed (event, &failed_rank, &message);
    *ret = self->link != NULL;
    if (*ret) {
      GST_INFO_OBJECT (self, "telling the previous device: rank %d failed: %s", failed_rank, message);
      prima_link_close_failed (self->link, failed_rank, message);
    }
    return TRUE;
  }
  return FALSE;
}

static gboolean
gst_prima_ws_src_event (GstBaseSrc * src, GstEvent * event)
{
  GstPrimaWsSrc *self = GST_PRIMA_WS_SRC (src);
  gboolean ret;

  if (gst_prima_ws_src_control_upstream (self, event, &ret))
    return ret;
  return GST_BASE_SRC_CLASS (parent_class)->event (src, event);
}

/* The application sends prima-device-failed to the element; GstBaseSrc
 * drops custom upstream events sent that way. */
static gboolean
gst_prima_ws_src_send_event (GstElement * element, GstEvent * event)
{
  GstPrimaWsSrc *self = GST_PRIMA_WS_SRC (element);
  gboolean ret;

  if (gst_prima_ws_src_control_upstream (self, event, &ret)) {
    gst_event_unref (event);
    return ret;
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    g_atomic_int_set (&self->eos, TRUE);
  return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);
}

/* GstBaseSrc answers a downstream error (NOT_LINKED, NOT_NEGOTIATED,
 * ERROR: e.g. this worker's layers found NaN) with an error message and
 * end-of-stream. Here end-of-stream is the ring's ordered stop: the next
 * devices would stop cleanly before this one's failure reaches them. The
 * application stops on the error (and sends prima-device-failed), so only
 * our own end-of-stream goes out: the ring's stop, or one sent to us. */
static GstPadProbeReturn
gst_prima_ws_src_eos_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstPrimaWsSrc *self = user_data;

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS && !g_atomic_int_get (&self->eos)) {
    GST_DEBUG_OBJECT (self, "not sending end-of-stream after a downstream error");
    return GST_PAD_PROBE_DROP;
  }
  return GST_PAD_PROBE_OK;
}

/* Caps are set with the first frame, not fixated from the template. */
static gboolean
gst_prima_ws_src_negotiate (GstBaseSrc * src)
{
  return TRUE;
}

static gboolean
gst_prima_ws_src_unlock (GstBaseSrc * src)
{
  g_atomic_int_set (&GST_PRIMA_WS_SRC (src)->flushing, TRUE);
  return TRUE;
}

static gboolean
gst_prima_ws_src_unlock_stop (GstBaseSrc * src)
{
  g_atomic_int_set (&GST_PRIMA_WS_SRC (src)->flushing, FALSE);
  return TRUE;
}

static gboolean
gst_prima_ws_src_start (GstBaseSrc * src)
{
  GstPrimaWsSrc *self = GST_PRIMA_WS_SRC (src);

  g_atomic_int_set (&self->flushing, FALSE);
  g_atomic_int_set (&self->eos, FALSE);
  self->started = FALSE;
  self->n_embd = 0;
  self->peer_seen = -1;
  self->lost_reported = FALSE;
  return TRUE;
}

static GstStateChangeReturn
gst_prima_ws_src_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaWsSrc *self = GST_PRIMA_WS_SRC (element);
  GstStateChangeReturn ret;

  /* the server listens from READY: the previous device may connect before
   * this one plays */
  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !gst_prima_ws_src_open (self))
    return GST_STATE_CHANGE_FAILURE;
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret != GST_STATE_CHANGE_FAILURE && transition == GST_STATE_CHANGE_READY_TO_NULL) {
    g_clear_pointer (&self->link, prima_link_free);
    self->bound_port = 0;
    g_queue_clear_full (&self->pending, g_free);
  }
  return ret;
}

static void
gst_prima_ws_src_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaWsSrc *self = GST_PRIMA_WS_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ADDRESS:
      g_free (self->address);
      self->address = g_value_dup_string (value);
      break;
    case PROP_PORT:
      self->port = g_value_get_uint (value);
      break;
    case PROP_RANK:
      self->rank = g_value_get_uint (value);
      break;
    case PROP_PEER_RANK:
      self->peer_rank = g_value_get_int (value);
      break;
    case PROP_CLUSTER_KEY:
      g_free (self->cluster_key);
      self->cluster_key = g_value_dup_string (value);
      break;
    case PROP_CLUSTER_KEY_FILE:
      g_free (self->cluster_key_file);
      self->cluster_key_file = g_value_dup_string (value);
      break;
    case PROP_TLS_CERTIFICATE_FILE:
      g_free (self->tls_certificate_file);
      self->tls_certificate_file = g_value_dup_string (value);
      break;
    case PROP_HEARTBEAT_TIMEOUT:
      self->heartbeat_timeout = g_value_get_uint (value);
      break;
    case PROP_LOSS_ACTION:
      self->loss_action = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_ws_src_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaWsSrc *self = GST_PRIMA_WS_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ADDRESS:
      g_value_set_string (value, self->address);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
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
    case PROP_TLS_CERTIFICATE_FILE:
      g_value_set_string (value, self->tls_certificate_file);
      break;
    case PROP_HEARTBEAT_TIMEOUT:
      g_value_set_uint (value, self->heartbeat_timeout);
      break;
    case PROP_BOUND_PORT:
      g_value_set_uint (value, self->bound_port);
      break;
    case PROP_LOSS_ACTION:
      g_value_set_enum (value, self->loss_action);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_ws_src_finalize (GObject * object)
{
  GstPrimaWsSrc *self = GST_PRIMA_WS_SRC (object);

  g_clear_pointer (&self->link, prima_link_free);
  g_queue_clear_full (&self->pending, g_free);
  g_free (self->address);
  if (self->cluster_key)
    memset (self->cluster_key, 0, strlen (self->cluster_key));
  g_free (self->cluster_key);
  g_free (self->cluster_key_file);
  g_free (self->tls_certificate_file);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_prima_ws_src_class_init (GstPrimaWsSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_prima_ws_src_set_property;
  gobject_class->get_property = gst_prima_ws_src_get_property;
  gobject_class->finalize = gst_prima_ws_src_finalize;

  /**
   * GstPrimaWsSrc:address:
   *
   * IP address to listen on; NULL listens on every interface.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_ADDRESS,
      g_param_spec_string ("address", "Address", "IP address to listen on (NULL: all interfaces)", NULL,
          PARAM_FLAGS));
  /**
   * GstPrimaWsSrc:port:
   *
   * TCP port to listen on (prima.cpp's default: 9000 + rank); 0 picks a free
   * one, see #GstPrimaWsSrc:bound-port.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_PORT,
      g_param_spec_uint ("port", "Port", "TCP port to listen on (0: any free port)", 0, 65535, DEFAULT_PORT,
          PARAM_FLAGS));
  /**
   * GstPrimaWsSrc:rank:
   *
   * This device's rank in the ring (0 is the head).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_RANK,
      g_param_spec_uint ("rank", "Rank", "This device's rank (0: the head)", 0, 255, DEFAULT_RANK, PARAM_FLAGS));
  /**
   * GstPrimaWsSrc:peer-rank:
   *
   * The rank the previous device must claim; -1 accepts any.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_PEER_RANK,
      g_param_spec_int ("peer-rank", "Peer rank", "Rank the previous device must claim (-1: any)", -1, 255,
          DEFAULT_PEER_RANK, PARAM_FLAGS));
  /**
   * GstPrimaWsSrc:cluster-key:
   *
   * The cluster key (at least 16 bytes). Without it, and without
   * #GstPrimaWsSrc:cluster-key-file, `$PRIMA_CLUSTER_KEY` or
   * `$PRIMA_CLUSTER_KEY_FILE` is used. Never readable.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CLUSTER_KEY,
      g_param_spec_string ("cluster-key", "Cluster key", "Shared secret of the ring (write-only)", NULL,
          PARAM_FLAGS));
  /**
   * GstPrimaWsSrc:cluster-key-file:
   *
   * A file holding the cluster key (mode 0600 or stricter).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CLUSTER_KEY_FILE,
      g_param_spec_string ("cluster-key-file", "Cluster key file", "File holding the cluster key", NULL,
          PARAM_FLAGS));
  /**
   * GstPrimaWsSrc:tls-certificate-file:
   *
   * A PEM file with a certificate and its private key: serve wss:// (TLS
   * through glib-networking).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TLS_CERTIFICATE_FILE,
      g_param_spec_string ("tls-certificate-file", "TLS certificate file",
          "PEM certificate and private key: serve wss://", NULL, PARAM_FLAGS));
  /**
   * GstPrimaWsSrc:heartbeat-timeout:
   *
   * Milliseconds without any message after which the previous device counts
   * as failed.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_HEARTBEAT_TIMEOUT,
      g_param_spec_uint ("heartbeat-timeout", "Heartbeat timeout", "Milliseconds of silence before a peer failed",
          100, 600000, DEFAULT_HEARTBEAT_TIMEOUT, PARAM_FLAGS));
  /**
   * GstPrimaWsSrc:bound-port:
   *
   * The port listened on, from READY (the chosen one with #GstPrimaWsSrc:port 0).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_BOUND_PORT,
      g_param_spec_uint ("bound-port", "Bound port", "The port listened on", 0, 65535, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstPrimaWsSrc:loss-action:
   *
   * What a broken ring does: `error` posts an element error naming the
   * device (the application stops); `notify` emits #GstPrimaWsSrc::peer-lost
   * once, posts no error and stops streaming quietly (no end-of-stream), so
   * that the application can rebuild the ring. primascheduler sets `notify`
   * when it recovers from losses.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_LOSS_ACTION,
      g_param_spec_enum ("loss-action", "Loss action", "What a broken ring does: an element error, or the "
          "peer-lost signal", GST_TYPE_PRIMA_LOSS_ACTION, DEFAULT_LOSS_ACTION,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  /**
   * GstPrimaWsSrc::peer-lost:
   * @src: the element
   * @lost: the data-ring rank at fault (the previous device that dropped or
   *   stalled, or the device further back that failed); -1 when unknown
   * @message: the reason, one line ("rank 3 at 127.0.0.1:40112 disconnected")
   *
   * With #GstPrimaWsSrc:loss-action=notify, emitted once per start from the
   * streaming thread when the ring breaks; the element then pushes nothing
   * more. A handler must not block on the element's own state.
   *
   * Since: 0.3
   */
  signals[SIGNAL_PEER_LOST] = g_signal_new ("peer-lost", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_STRING);

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_ws_src_change_state);
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_prima_ws_src_send_event);
  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_prima_ws_src_start);
  basesrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_prima_ws_src_negotiate);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_prima_ws_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_prima_ws_src_unlock_stop);
  basesrc_class->event = GST_DEBUG_FUNCPTR (gst_prima_ws_src_event);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_prima_ws_src_create);

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Prima ring WebSocket source", "Source/Network",
      "Receives activations and control of the ring from the previous device (authenticated WebSocket server)",
      "gst-prima authors");
}

static void
gst_prima_ws_src_init (GstPrimaWsSrc * self)
{
  self->port = DEFAULT_PORT;
  self->rank = DEFAULT_RANK;
  self->peer_rank = DEFAULT_PEER_RANK;
  self->heartbeat_timeout = DEFAULT_HEARTBEAT_TIMEOUT;
  self->loss_action = DEFAULT_LOSS_ACTION;
  self->peer_seen = -1;

  g_queue_init (&self->pending);
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_pad_add_probe (GST_BASE_SRC_PAD (self), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, gst_prima_ws_src_eos_probe, self,
      NULL);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}
