/* gst-prima: the ring's setup round: profiles to the head, the Halda plan back to every device.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "ring-setup.h"
#include <glib/gi18n-lib.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "halda.h"
#include "halda-io.h"
#include "model.h"
#include "profiler.h"
#include "net/ring-link.h"

/* Profiling under a tight CPU quota starves the links' I/O threads; the
 * setup round tolerates long silences (the data ring keeps its 3 s). */
#define SETUP_HEARTBEAT_TIMEOUT_MS 30000
#define ECHO_REPS 9
#define ECHO_BIG_TOKENS 16
/* The data ring sends one frame per token to a device that has idled while
 * the others computed: its threads asleep and, on a VM or a laptop, its CPU
 * halted. Waking costs a few hundred us per hop on this kind of machine,
 * which back-to-back echoes never see (they measured a quarter of it), so
 * each timed echo follows such a pause. */
#define ECHO_GAP_US 10000
#define LAYER_GAP_S 0.005
/* Attention is timed at the run's positions up to this many (filling the
 * cache costs a short prompt); beyond, its cost grows as its FLOPs. */
#define LAYER_POSITION_MAX 128
/* How the residency engine reads ahead (docs/scheduler-plans.md,
 * "Streaming devices"; docs/memory.md, "The memory-starved ring"): as far as
 * its budget allows, after every window, while the other devices compute.
 * 0 models the former engine (the next streamed window, once per token). */
#define RING_READ_AHEAD_FILL 1

typedef struct {
  const PrimaRingSetupArgs *a;
  prima_link *up;               /* server: the previous device connects */
  prima_link *down;             /* client: to the next device */
  float *zeros;                 /* echo payload (one row of at most PRIMA_FRAME_MAX_EMBD) */
  GAsyncQueue *echo_queue;      /* frames to echo (EchoJob *) */
  GThread *echo_thread;
  gint64 last_note;
  gboolean stop_sent;           /* the next device may close its server now */
  int positions;                /* cached positions a decoded token attends to, on average (the head's
                                 * estimate for this run; workers learn it from the head's profile) */
  gboolean *joined;             /* ranks known to be up (their join messages, the head's own hops) */
  GQueue deferred_up, deferred_down;    /* events that came while the links were being set up */
  char *identity;               /* this device's model (model_identity) */
  gboolean error_sent;          /* a worker told the head why it fails (or passed such a message on) */
  char *prefix;                 /* what starts every line we print */
  PrimaRingSetupNames names;    /* this device's settings in messages (no NULL field) */
  char *error;                  /* the first failure */
  gboolean local;               /* it is this device's own */
  /* the round's hops (docs/ring.md, "The recovery round") */
  const gboolean *absent;       /* setup ranks the round goes around (the head's args, a worker's route;
                                 * NULL: none) */
  gboolean *route_absent;       /* worker: from the route */
  int next;                     /* the setup rank our client connects to */
  char *next_addr;              /* its server, "host:port" */
  char **next_of;               /* where each setup rank connects its next hop, as far as known ("" unknown;
                                 * from the joins): the head learns every rank's server address */
  char **route_addresses;       /* worker: every setup rank's server, from the route */
  gboolean route_sent;          /* head: the route went out first on the new ring */
  gint64 head_refused_since;    /* head: the first of the current run of 409 answers (0: none) */
  gboolean waiting;             /* in wait_links: a hop that drops may come back */
  gboolean down_dropped;        /* the next device dropped while we waited: connect again */
  gint64 last_head_refusal;
  guint head_refused_seen;
  JsonNode *own_profile;        /* head, auto: its profile, for out->profiles_json */
  char **cases;                 /* head, auto: the memory case per rank of the setup ring */
} Setup;

#define SETUP_PATH PRIMA_LINK_SETUP_PATH
/* A head whose next device serves another head retries this long: a worker
 * needs up to the heartbeat timeout to notice that its old head is gone. */
#define HEAD_REFUSED_GRACE_S 5

/* n strings, some NULL, and the array */
static void
free_sparse (char **v, int n)
{
  for (int i = 0; v && i < n; i++)
    g_free (v[i]);
  g_free (v);
}

static gboolean
is_absent (const Setup *s, int r)
{
  return s->absent != NULL && s->absent[r];
}

/* The first setup rank after r that takes part in the round. */
static int
next_present (const Setup *s, int r)
{
  for (int i = 1; i < s->a->world; i++)
    if (!is_absent (s, (r + i) % s->a->world))
      return (r + i) % s->a->world;
  return r;
}

static int
prev_present (const Setup *s, int r)
{
  for (int i = 1; i < s->a->world; i++)
    if (!is_absent (s, (r + s->a->world - i) % s->a->world))
      return (r + s->a->world - i) % s->a->world;
  return r;
}

static int
count_present (const Setup *s)
{
  int n = 0;
  for (int r = 0; r < s->a->world; r++)
    n += !is_absent (s, r);
  return n;
}

static void
fail (Setup *s, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
static gboolean send_control (Setup *s, prima_link *link, const prima_ctl_msg *m);
static gboolean ring_deal (const char *prefix, const PrimaRingSetupNames *names, int n_layer, int world,
    const char *lw, int k, char ***windows_out, int *k_out);

/* The caller's names of its settings, prima's flags where it gives none. */
static void
names_fill (PrimaRingSetupNames *names, const PrimaRingSetupNames *given)
{
  static const PrimaRingSetupNames prima_flags = {
    .world = "--world", .port = "--port", .ring_timeout = "--ring-timeout", .layer_window = "-lw",
    .rounds = "-k", .model = "-m",
  };

  *names = prima_flags;
  if (given == NULL)
    return;
  if (given->world)
    names->world = given->world;
  if (given->port)
    names->port = given->port;
  if (given->ring_timeout)
    names->ring_timeout = given->ring_timeout;
  if (given->layer_window)
    names->layer_window = given->layer_window;
  if (given->rounds)
    names->rounds = given->rounds;
  if (given->model)
    names->model = given->model;
}

/* Sends m and waits (up to 2 s) until it is on the wire, so the link may be
 * freed after it. */
static gboolean
send_flushed (prima_link *link, const prima_ctl_msg *m, GError **error)
{
  prima_link_stats st;
  guint64 before;
  gint64 end = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;

  prima_link_get_stats (link, &st);
  before = st.controls_sent;
  if (!prima_link_send_control (link, m, error))
    return FALSE;
  do {
    prima_link_get_stats (link, &st);
    if (st.controls_sent > before)
      return TRUE;
    g_usleep (500);
  } while (g_get_monotonic_time () < end);
  return TRUE;
}

/* A worker's reason goes to the head too (as an error message both ways
 * round the ring, passed on by the others), so the head says why the ring
 * failed instead of only that a device left. */
static void
tell_head (Setup *s, const char *msg)
{
  prima_ctl_msg m;
  prima_link *links[2] = { s->down, s->up };

  if (s->a->rank == 0 || s->error_sent)
    return;
  s->error_sent = TRUE;
  prima_ctl_msg_init (&m, PRIMA_CTL_ERROR_MSG);
  m.rank = s->a->rank;
  m.text = g_strndup (msg, 4000);
  for (int i = 0; i < 2; i++)
    if (links[i] && prima_link_is_ready (links[i]))
      send_flushed (links[i], &m, NULL);
  prima_ctl_msg_clear (&m);
}

static void
fail (Setup *s, const char *fmt, ...)
{
  va_list ap;
  char *msg;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, _("%s: ring setup: %s\n"), s->prefix, msg);
  if (s->error == NULL)
    s->error = g_strdup (msg);
  tell_head (s, msg);
  g_free (msg);
}

/* Server side: every frame from the previous device is answered with a
 * one-row frame. The answer goes out from another thread, as a frame in the
 * data ring goes from the link's thread to primawssrc's and, after the
 * layers, through primawssink back to the link's: the previous device times
 * the round trip, and the handoffs are part of what a hop costs. */
typedef struct {
  guint64 origin_us;
  guint32 n_embd;               /* 0: the setup is over */
} EchoJob;

static gboolean
on_up_event (prima_link *link, const prima_link_event *ev, gpointer user_data)
{
  Setup *s = user_data;
  EchoJob *job;

  if (ev->type != PRIMA_LINK_EVENT_FRAME)
    return FALSE;
  job = g_new (EchoJob, 1);
  job->origin_us = ev->frame.origin_us;
  job->n_embd = ev->frame.n_embd;
  g_async_queue_push (s->echo_queue, job);
  return TRUE;
}

static gpointer
echo_main (gpointer data)
{
  Setup *s = data;

  for (;;) {
    EchoJob *job = g_async_queue_pop (s->echo_queue);
    prima_frame_header h;
    if (job->n_embd == 0) {
      g_free (job);
      return NULL;
    }
    prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, 0, 1, 0, job->n_embd);
    h.origin_us = job->origin_us;
    prima_link_send_frame (s->up, &h, s->zeros, NULL);
    g_free (job);
  }
}

/* Before the server link goes: the echo thread sends on it. */
static void
stop_echo (Setup *s)
{
  if (s->echo_thread == NULL)
    return;
  g_async_queue_push_front (s->echo_queue, g_new0 (EchoJob, 1));
  g_thread_join (s->echo_thread);
  s->echo_thread = NULL;
}

char *
prima_ring_next_address (const char *next_host, int port, int next_rank)
{
  const char *host = next_host && *next_host ? next_host : "127.0.0.1";
  const char *colon = strrchr (host, ':');

  /* "host:port" or "[v6]:port"; a bare IPv6 address has several colons */
  if (colon && colon[1] && (host[0] == '[' ? colon > strchr (host, ']') : strchr (host, ':') == colon))
    return g_strdup (host);
  if (colon)
    return host[0] == '[' ? g_strdup_printf ("%s:%d", host, port + next_rank)
        : g_strdup_printf ("[%s]:%d", host, port + next_rank);
  return g_strdup_printf ("%s:%d", host, port + next_rank);
}

/* The next device's server, "host:port". */
static char *
next_address (const Setup *s)
{
  return prima_ring_next_address (s->a->next_host, s->a->port, (s->a->rank + 1) % s->a->world);
}

/* The setup client to s->next at s->next_addr. The setup round uses its
 * own WebSocket path on the data ports, so a device that already starts its
 * data ring cannot reach a setup server that has not closed yet (it gets
 * "not found" and retries), and a data server tells a setup client that it
 * serves a head (409). */
static prima_link *
open_down (Setup *s, GError **err)
{
  const PrimaRingSetupArgs *a = s->a;
  prima_link_config cfg = { 0 };
  char *url = g_strdup_printf ("ws://%s" SETUP_PATH, s->next_addr);
  prima_link *link;

  cfg.role = PRIMA_LINK_CLIENT;
  cfg.rank = a->rank;
  cfg.peer_rank = s->next;
  cfg.key = a->key;
  cfg.url = url;
  cfg.world = (guint) a->world;
  cfg.heartbeat_timeout_ms = SETUP_HEARTBEAT_TIMEOUT_MS;
  link = prima_link_new (&cfg, err);
  g_free (url);
  return link;
}

/* (Re)opens the setup client to s->next_addr; FALSE with the reason said
 * (this device's own failure: the address cannot be used). */
static gboolean
connect_down (Setup *s)
{
  GError *err = NULL;

  s->down = open_down (s, &err);
  if (s->down == NULL) {
    s->local = TRUE;
    fail (s, "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
  return TRUE;
}

static gboolean
open_links (Setup *s)
{
  const PrimaRingSetupArgs *a = s->a;
  prima_link_config cfg = { 0 };
  GError *err = NULL;

  s->next = next_present (s, a->rank);
  if (a->absent && a->addresses && (guint) s->next < g_strv_length ((gchar **) a->addresses)
      && *a->addresses[s->next])
    s->next_addr = g_strdup (a->addresses[s->next]);
  else if (a->absent && s->next != (a->rank + 1) % a->world) {
    fail (s, _("no address for rank %d, the next device left"), s->next);
    return FALSE;
  } else
    s->next_addr = next_address (s);
  g_free (s->next_of[a->rank]);
  s->next_of[a->rank] = g_strdup (s->next_addr);

  cfg.role = PRIMA_LINK_SERVER;
  cfg.rank = a->rank;
  /* any device of the cluster: after a loss the device before us may be
   * another than in the last round */
  cfg.peer_rank = -1;
  cfg.key = a->key;
  cfg.port = a->port + a->rank;
  cfg.path = SETUP_PATH;
  cfg.world = (guint) a->world;
  cfg.heartbeat_timeout_ms = SETUP_HEARTBEAT_TIMEOUT_MS;
  cfg.on_event = on_up_event;
  cfg.user_data = s;
  s->up = prima_link_new (&cfg, &err);
  if (s->up == NULL) {
    s->local = TRUE;
    fail (s, "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
  return connect_down (s);
}

static void
close_links (Setup *s)
{
  g_clear_pointer (&s->up, prima_link_free);
  g_clear_pointer (&s->down, prima_link_free);
}

/* The ranks not known to be up: "rank 1", "rank 1 and rank 3", "rank 1, rank 2
 * and rank 3" (each once); NULL when every rank is. */
static char *
missing_ranks (const Setup *s)
{
  GString *g;
  int total = 0, n = 0;

  for (int r = 1; r < s->a->world; r++)
    total += !s->joined[r] && !is_absent (s, r);
  if (total == 0)
    return NULL;
  g = g_string_new (NULL);
  for (int r = 1; r < s->a->world; r++) {
    if (s->joined[r] || is_absent (s, r))
      continue;
    if (n++ > 0)
      g_string_append (g, n == total ? " and " : ", ");
    g_string_append_printf (g, "rank %d", r);
  }
  return g_string_free (g, FALSE);
}

/* Worker: tell both neighbours (whichever hops are up) the ranks we know to
 * be up; they pass on what is new to them, so the head learns of the
 * devices it has no hop to and can name the ones that are missing. */
static void
send_join (Setup *s)
{
  prima_ctl_msg m;
  prima_link *links[2] = { s->up, s->down };

  prima_ctl_msg_init (&m, PRIMA_CTL_JOIN);
  m.rank = s->a->rank;
  m.ranks = g_new0 (gint32, s->a->world);
  m.addresses = g_new0 (char *, s->a->world + 1);
  for (int r = 0; r < s->a->world; r++)
    if (s->joined[r]) {
      m.addresses[m.n_ranks] = g_strdup (s->next_of[r] ? s->next_of[r] : "");
      m.ranks[m.n_ranks++] = r;
    }
  m.n_addresses = m.n_ranks;
  for (int i = 0; i < 2; i++)
    if (links[i] && prima_link_is_ready (links[i]))
      prima_link_send_control (links[i], &m, NULL);
  prima_ctl_msg_clear (&m);
}

/* Worker: the head's route (a recovery round goes around the devices that
 * were lost): when our next device is one of them, connect to the next one
 * that is left instead (its address from the route) and, once that hop is
 * up, pass the route on. FALSE when the ring failed meanwhile. */
static gboolean
follow_route (Setup *s, const prima_ctl_msg *c)
{
  const PrimaRingSetupArgs *a = s->a;
  int next;

  if (s->route_absent == NULL)
    s->route_absent = g_new0 (gboolean, a->world);
  for (guint i = 0; i < c->n_ranks; i++)
    if (c->ranks[i] > 0 && c->ranks[i] < a->world && c->ranks[i] != a->rank)
      s->route_absent[c->ranks[i]] = TRUE;
  s->absent = s->route_absent;
  g_strfreev (s->route_addresses);
  s->route_addresses = g_new0 (char *, a->world + 1);
  for (int r = 0; r < a->world; r++)
    s->route_addresses[r] = g_strdup ((guint) r < c->n_addresses ? c->addresses[r] : "");
  next = next_present (s, a->rank);
  if (next != s->next) {
    if (!*s->route_addresses[next]) {
      fail (s, _("the route gives no address for rank %d"), next);
      return FALSE;
    }
    fprintf (stderr, _("%s: ring setup: rank %d left the ring; connecting to rank %d at %s\n"), s->prefix, s->next,
        next, s->route_addresses[next]);
    g_clear_pointer (&s->down, prima_link_free);
    g_queue_clear_full (&s->deferred_down, (GDestroyNotify) prima_link_event_free);
    s->next = next;
    g_free (s->next_addr);
    s->next_addr = g_strdup (s->route_addresses[next]);
    g_free (s->next_of[a->rank]);
    s->next_of[a->rank] = g_strdup (s->next_addr);
    if (!connect_down (s))
      return FALSE;
  }
  /* the route goes on only over the new hop */
  for (;;) {
    GError *err = NULL;
    if (prima_link_wait_ready (s->down, 200 * 1000, &err))
      break;
    if (err->code != PRIMA_LINK_ERROR_TIMEOUT) {
      fail (s, "%s", err->message);
      g_error_free (err);
      return FALSE;
    }
    g_error_free (err);
    if (!prima_link_is_ready (s->up)) {
      fail (s, _("the ring failed: the device before this one left during the recovery round"));
      return FALSE;
    }
  }
  send_join (s);
  return send_control (s, s->down, c);
}

/* Join and error messages, whenever they come: TRUE when ev was one of them
 * (and is freed); *failed when it was an error (said on stderr). */
static gboolean
handle_common (Setup *s, prima_link *from, prima_link_event *ev, gboolean *failed)
{
  const PrimaRingSetupArgs *a = s->a;
  prima_ctl_msg *c = &ev->control;

  if (ev->type != PRIMA_LINK_EVENT_CONTROL)
    return FALSE;
  if (c->type == PRIMA_CTL_JOIN) {
    gboolean grew = FALSE;
    for (guint i = 0; i <= c->n_ranks; i++) {
      int r = i < c->n_ranks ? c->ranks[i] : c->rank;
      const char *addr = i < c->n_ranks && i < c->n_addresses ? c->addresses[i] : "";
      if (r <= 0 || r >= a->world || r == a->rank || is_absent (s, r))
        continue;
      if (!s->joined[r])
        s->joined[r] = grew = TRUE;
      /* where r connects its next hop: the head learns every server's address */
      if (addr && *addr && g_strcmp0 (s->next_of[r], addr) != 0) {
        g_free (s->next_of[r]);
        s->next_of[r] = g_strdup (addr);
        grew = TRUE;
      }
    }
    if (grew && a->rank != 0)
      send_join (s);
    prima_link_event_free (ev);
    return TRUE;
  }
  if (c->type == PRIMA_CTL_ROUTE) {
    if (a->rank != 0 && from == s->up && !follow_route (s, c))
      *failed = TRUE;
    prima_link_event_free (ev);
    return TRUE;
  }
  if (c->type == PRIMA_CTL_ERROR_MSG) {
    if (a->rank != 0 && !s->error_sent) {
      /* pass it on towards the head, the way it travels */
      prima_link *to = from == s->up ? s->down : s->up;
      s->error_sent = TRUE;
      if (to && prima_link_is_ready (to))
        send_control (s, to, c);
    }
    if (c->rank >= 0 && c->rank != a->rank)
      fail (s, _("rank %d: %s"), c->rank, c->text);
    else
      fail (s, "%s", c->text);
    *failed = TRUE;
    prima_link_event_free (ev);
    return TRUE;
  }
  return FALSE;
}

/* A peer of another ring size (the links refuse it with both numbers). */
static gboolean
world_mismatch (Setup *s)
{
  const PrimaRingSetupArgs *a = s->a;
  prima_link *links[2] = { s->down, s->up };

  for (int i = 0; i < 2; i++) {
    prima_link_stats st;
    if (links[i] == NULL)
      continue;
    prima_link_get_stats (links[i], &st);
    if (st.refused_world == 0)
      continue;
    if (a->rank == 0)
      fail (s, _("worker rank %d was started with --world %u, this head has %s %d"), st.world_peer_rank,
          st.world_peer_world, s->names.world, a->world);
    else if (st.world_peer_rank == 0)
      fail (s, _("the head (rank 0) was started with --world %u, this device has %s %d"), st.world_peer_world,
          s->names.world, a->world);
    else
      fail (s, _("rank %d was started with --world %u, this device has %s %d"), st.world_peer_rank,
          st.world_peer_world, s->names.world, a->world);
    return TRUE;
  }
  return FALSE;
}

/* Takes the join and error messages that came on a link; other events wait
 * for next_event. FALSE when the setup failed. */
static gboolean
pump (Setup *s, prima_link *link, GQueue *deferred)
{
  prima_link_event *ev;
  gboolean failed = FALSE;

  while ((ev = prima_link_pop (link, 0)) != NULL) {
    if (handle_common (s, link, ev, &failed)) {
      if (failed)
        return FALSE;
      continue;
    }
    if (ev->type == PRIMA_LINK_EVENT_LOST && s->waiting && (ev->reason == PRIMA_LINK_LOST_DISCONNECTED
            || ev->reason == PRIMA_LINK_LOST_CLOSED || ev->reason == PRIMA_LINK_LOST_TIMEOUT
            || ev->reason == PRIMA_LINK_LOST_REPLACED)) {
      /* Before the round has begun a neighbour may restart (a persistent
       * worker restarted, a head that left): wait for it to come back, as
       * for a device not started yet; what it said before is void. */
      if (link == s->down)
        s->down_dropped = TRUE;
      else if (ev->reason != PRIMA_LINK_LOST_REPLACED)
        g_queue_clear_full (deferred, (GDestroyNotify) prima_link_event_free);
      prima_link_event_free (ev);
      if (link == s->down)
        return TRUE;
      continue;
    }
    if (ev->type == PRIMA_LINK_EVENT_LOST) {
      /* a link refused for another ring size says so with both numbers */
      if (!world_mismatch (s))
        fail (s, _("the ring failed: %s"), ev->message ? ev->message : "a hop was lost");
      prima_link_event_free (ev);
      return FALSE;
    }
    g_queue_push_tail (deferred, ev);
  }
  return TRUE;
}

/* Head, recovery round: the route goes first on the new ring, so that the
 * device before each lost one connects to the next one that is left. */
static gboolean
send_route (Setup *s)
{
  const PrimaRingSetupArgs *a = s->a;
  prima_ctl_msg m;
  gboolean ok;

  prima_ctl_msg_init (&m, PRIMA_CTL_ROUTE);
  m.rank = 0;
  m.ranks = g_new0 (gint32, a->world);
  for (int r = 1; r < a->world; r++)
    if (is_absent (s, r))
      m.ranks[m.n_ranks++] = r;
  m.addresses = g_new0 (char *, a->world + 1);
  for (int r = 0; r < a->world; r++)
    m.addresses[r] = g_strdup (a->addresses && (guint) r < g_strv_length ((gchar **) a->addresses)
        ? a->addresses[r] : "");
  m.n_addresses = a->world;
  s->route_sent = TRUE;
  ok = send_control (s, s->down, &m);
  prima_ctl_msg_clear (&m);
  return ok;
}

/* Head: the next device answers that it serves another head (HTTP 409 from
 * its data server). Retried for a grace (it may not have noticed yet that
 * its old head is gone), then the round fails naming both. */
static gboolean
next_serves_a_head (Setup *s)
{
  prima_link_stats st;
  gint64 now = g_get_monotonic_time ();

  prima_link_get_stats (s->down, &st);
  if (st.refused_head == s->head_refused_seen) {
    /* no answer of that kind for a while: it has stopped serving */
    if (s->head_refused_since && now - s->last_head_refusal > 2 * G_USEC_PER_SEC)
      s->head_refused_since = 0;
    return FALSE;
  }
  s->head_refused_seen = st.refused_head;
  s->last_head_refusal = now;
  if (s->head_refused_since == 0) {
    s->head_refused_since = now;
    fprintf (stderr, _("%s: ring setup: rank %d at %s is %s; retrying for %d s\n"), s->prefix, s->next, s->next_addr,
        st.head_reason, HEAD_REFUSED_GRACE_S);
  }
  if (now - s->head_refused_since < HEAD_REFUSED_GRACE_S * G_USEC_PER_SEC)
    return FALSE;
  s->local = TRUE;
  fail (s, _("rank %d at %s is %s: one head at a time per ring"), s->next, s->next_addr, st.head_reason);
  return TRUE;
}

/* Waits for both hops and, on the head, for every rank to be up; the head
 * names the ranks it still waits for and gives up after --ring-timeout. */
static gboolean
wait_links (Setup *s)
{
  const PrimaRingSetupArgs *a = s->a;
  gint64 start = g_get_monotonic_time ();
  gboolean was_up = FALSE, was_down = FALSE;

  for (;;) {
    GError *err = NULL;
    gboolean up, down;
    char *missing;
    gint64 now;

    if (world_mismatch (s))
      return FALSE;
    s->waiting = TRUE;
    if (!prima_link_wait_ready (s->down, 200 * 1000, &err) && err->code != PRIMA_LINK_ERROR_TIMEOUT) {
      /* a client that lost its peer gives up: a drop that may come back
       * (its LOST event, below) is waited for, anything else fails */
      gboolean pumped = pump (s, s->down, &s->deferred_down);
      if (!pumped || !s->down_dropped) {
        if (pumped && !world_mismatch (s))
          fail (s, "%s", err->message);
        s->waiting = FALSE;
        g_error_free (err);
        return FALSE;
      }
    }
    g_clear_error (&err);
    if (!pump (s, s->up, &s->deferred_up) || !pump (s, s->down, &s->deferred_down)) {
      s->waiting = FALSE;
      return FALSE;
    }
    s->waiting = FALSE;
    if (s->down_dropped) {
      /* a client gives up after a loss: a new one connects to the device
       * that comes back */
      s->down_dropped = FALSE;
      g_queue_clear_full (&s->deferred_down, (GDestroyNotify) prima_link_event_free);
      g_clear_pointer (&s->down, prima_link_free);
      if (!connect_down (s))
        return FALSE;
      was_down = FALSE;
      s->route_sent = FALSE;    /* the route goes first on the new hop too */
      continue;
    }
    up = prima_link_is_ready (s->up);
    down = prima_link_is_ready (s->down);
    if (a->rank == 0) {
      s->joined[s->next] |= down;
      s->joined[prev_present (s, 0)] |= up;
      if (down && a->absent && !s->route_sent && !send_route (s))
        return FALSE;
      if (!down && next_serves_a_head (s))
        return FALSE;
    } else if ((up && !was_up) || (down && !was_down)) {
      send_join (s);
    }
    was_up = up;
    was_down = down;
    missing = a->rank == 0 ? missing_ranks (s) : NULL;
    if (up && down && missing == NULL)
      return TRUE;
    if (a->rank == 0 && !up) {
      /* The head refused the device before it (the warning above says why):
       * with a wrong cluster key that device gives up, so waiting longer
       * would only hang. */
      prima_link_stats st;
      prima_link_get_stats (s->up, &st);
      if (st.refused_key > 0) {
        fail (s, _("rank %d was refused during authentication: is the cluster key the same on every device?"),
            a->world - 1);
        g_free (missing);
        return FALSE;
      }
    }
    now = g_get_monotonic_time ();
    if (a->rank == 0 && a->timeout_s > 0 && now - start >= (gint64) a->timeout_s * G_USEC_PER_SEC) {
      {
        /* the workers are `prima worker`s: their flags; the head's port by the head's name for it */
        gboolean flags = strcmp (s->names.port, "--port") == 0;
        fail (s, _("%s did not join within %d s (%s): is every worker started, with --world %d and the same "
            "--port%s%s?"), missing ? missing : "the ring", a->timeout_s, s->names.ring_timeout, a->world,
            flags ? "" : " as this head's ", flags ? "" : s->names.port);
      }
      g_free (missing);
      return FALSE;
    }
    /* (not while the next device says it serves another head: that was said) */
    if (a->rank == 0 && missing && s->head_refused_since == 0 && now - s->last_note > 2 * G_USEC_PER_SEC
        && now - start > G_USEC_PER_SEC) {
      s->last_note = now;
      fprintf (stderr, _("%s: ring setup: waiting for %s\n"), s->prefix, missing);
    }
    g_free (missing);
    /* the wait above returns at once while the next hop is up */
    if (down)
      g_usleep (20 * 1000);
  }
}

/* The next event from either hop; a lost hop is an error. Frames from the
 * next device (late echoes) are dropped. While the head waits for what
 * (when given), it says so every WAIT_NOTE_S: a device that profiles
 * slowly (a low CPU quota, a slow disk) or hangs is not silent. */
#define WAIT_NOTE_S 15
static prima_link_event *
next_event (Setup *s, prima_link **from, const char *what)
{
  gint64 start = g_get_monotonic_time (), last_note = start;
  int timeout_s = s->a->rank == 0 ? s->a->timeout_s : 0;

  for (;;) {
    prima_link_event *ev = NULL;
    gboolean failed = FALSE;
    if (!g_queue_is_empty (&s->deferred_up)) {
      ev = g_queue_pop_head (&s->deferred_up);
      *from = s->up;
    } else if (!g_queue_is_empty (&s->deferred_down)) {
      ev = g_queue_pop_head (&s->deferred_down);
      *from = s->down;
    }
    if (ev == NULL && s->up) {
      ev = prima_link_pop (s->up, 2000);
      *from = s->up;
    }
    if (ev == NULL) {
      ev = prima_link_pop (s->down, 2000);
      *from = s->down;
    }
    if (ev == NULL) {
      gint64 now = g_get_monotonic_time ();
      if (timeout_s > 0 && now - start >= (gint64) timeout_s * G_USEC_PER_SEC) {
        char *missing = missing_ranks (s);
        fail (s, _("no %s within %d s (%s)%s%s"), what ? what : "answer", timeout_s, s->names.ring_timeout,
            missing ? "; not heard from " : "", missing ? missing : "");
        g_free (missing);
        return NULL;
      }
      if (what && s->a->rank == 0 && now - last_note >= WAIT_NOTE_S * G_USEC_PER_SEC) {
        last_note = now;
        fprintf (stderr, _("%s: ring setup: still waiting for %s (%.0f s)\n"), s->prefix, what,
            (now - start) / 1e6);
      }
      continue;
    }
    if (handle_common (s, *from, ev, &failed)) {
      if (failed)
        return NULL;
      continue;
    }
    if (ev->type == PRIMA_LINK_EVENT_LOST && *from == s->down && s->stop_sent) {
      prima_link_event_free (ev);
      continue;
    }
    if (ev->type == PRIMA_LINK_EVENT_LOST) {
      /* a link refused for another ring size says so with both numbers */
      if (!world_mismatch (s))
        fail (s, _("the ring failed: %s"), ev->message ? ev->message : "a hop was lost");
      prima_link_event_free (ev);
      return NULL;
    }
    if (ev->type == PRIMA_LINK_EVENT_CONTROL)
      return ev;
    prima_link_event_free (ev);
  }
}

static gboolean
send_control (Setup *s, prima_link *link, const prima_ctl_msg *m)
{
  GError *err = NULL;

  if (!send_flushed (link, m, &err)) {
    fail (s, _("cannot send %s: %s"), prima_ctl_type_name (m->type), err->message);
    g_error_free (err);
    return FALSE;
  }
  return TRUE;
}

static int
cmp_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Round trips of 1- and ECHO_BIG_TOKENS-row frames to the next device (it
 * echoes one row): latency and bandwidth of the hop, as the data ring uses it. */
static gboolean
measure_hop (Setup *s, guint32 n_embd, prima_profile *p)
{
  const guint32 sizes[2] = { 1, ECHO_BIG_TOKENS };
  double bytes[2], rtt[2], lat, bw;
  float *payload = g_new0 (float, (gsize) ECHO_BIG_TOKENS * n_embd);

  for (int i = 0; i < 2; i++) {
    double t[ECHO_REPS + 2];
    prima_frame_header h;
    prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, 0, sizes[i], 0, n_embd);
    for (int r = 0; r < ECHO_REPS + 2; r++) {
      GError *err = NULL;
      gint64 t0;
      prima_link_event *ev = NULL;
      g_usleep (ECHO_GAP_US);
      t0 = g_get_monotonic_time ();
      if (!prima_link_send_frame (s->down, &h, payload, &err)) {
        fail (s, _("cannot time the hop: %s"), err->message);
        g_error_free (err);
        g_free (payload);
        return FALSE;
      }
      while ((ev = prima_link_pop (s->down, 5 * G_USEC_PER_SEC)) != NULL && ev->type != PRIMA_LINK_EVENT_FRAME
          && ev->type != PRIMA_LINK_EVENT_LOST)
        prima_link_event_free (ev);
      if (ev == NULL || ev->type == PRIMA_LINK_EVENT_LOST) {
        fail (s, _("the next device did not echo: %s"), ev && ev->message ? ev->message : "no answer in 5 s");
        if (ev)
          prima_link_event_free (ev);
        g_free (payload);
        return FALSE;
      }
      t[r] = (g_get_monotonic_time () - t0) / 1e6;
      prima_link_event_free (ev);
    }
    /* the first two warm the connection; the median of the rest */
    qsort (t + 2, ECHO_REPS, sizeof (double), cmp_double);
    rtt[i] = t[2 + ECHO_REPS / 2];
    bytes[i] = PRIMA_FRAME_HEADER_SIZE + (double) sizes[i] * n_embd * sizeof (float);
  }
  g_free (payload);
  prima_profile_fit_network (bytes, rtt, 2, &lat, &bw);
  prima_profile_set_network (p, lat, bw);
  return TRUE;
}

/* This device's profile as a message: the profiler's device object, named
 * by rank, with the address of the next device's server (so the head can
 * route around a device it drops). */
static gboolean
profile_self (Setup *s, prima_ctl_msg *m, prima_profile *p)
{
  const PrimaRingSetupArgs *a = s->a;
  prima_profile_options opt;
  GError *err = NULL;
  prima_model *model = prima_model_load (a->model_path, &err);
  guint32 n_embd;
  JsonNode *node;
  char *name, *next;
  gint64 t0 = g_get_monotonic_time ();

  if (model == NULL) {
    s->local = TRUE;
    fail (s, "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
  prima_profile_options_init (&opt);
  prima_profile_options_from_model (&opt, model);
  n_embd = model->hp.n_embd;
  prima_model_free (model);
  /* Short: the profiler paces its passes under a CPU quota and leaves out
   * the throttled ones, and the solver applies the quota; the memory
   * bandwidth is for people only. The layers are timed after an idle
   * pause, as the ring runs them. */
  opt.n_threads = a->n_threads;
  opt.model_path = a->model_path;
  opt.matvec_seconds = 0.3;
  opt.layer_seconds = 0.3;
  opt.layer_gap_seconds = LAYER_GAP_S;
  opt.layer_position = MIN (s->positions, LAYER_POSITION_MAX);
  opt.cpu_budget_seconds = 2.0;
  opt.skip_memory_bandwidth = TRUE;
  opt.disk_bytes = (size_t) 64 << 20;
  opt.disk_seconds = 0.3;
  if (!prima_profile_measure (&opt, p, &err)) {
    s->local = TRUE;
    fail (s, _("profiling failed: %s"), err->message);
    g_error_free (err);
    return FALSE;
  }
  if (!measure_hop (s, n_embd, p))
    return FALSE;
  node = prima_profile_to_json (p, a->rank == 0);
  name = g_strdup_printf ("rank %d (%s)", a->rank, p->name);
  next = next_address (s);
  json_object_set_string_member (json_node_get_object (node), "name", name);
  json_object_set_string_member (json_node_get_object (node), "_next", next);
  if (a->rank == 0)
    json_object_set_int_member (json_node_get_object (node), "_decode_positions", s->positions);
  g_free (name);
  g_free (next);
  prima_ctl_msg_init (m, PRIMA_CTL_PROFILE);
  m->rank = a->rank;
  m->profile = node;
  fprintf (stderr, _("%s: profiled this device in %.1f s"), s->prefix, (g_get_monotonic_time () - t0) / 1e6);
  fprintf (stderr, _(": %.0f MiB available, disk %.0f MB/s, hop to the next device %.0f us"), p->mem.available / 1048576.0,
      p->disk_seq_read / 1e6, p->net_latency * 1e6);
  if (p->layer_count > 0)
    fprintf (stderr, _(", layer overhead %.3f ms"), p->layer_overhead * 1e3);
  if (p->cpu_limit.cores > 0)
    fprintf (stderr, _(", CPU quota %.2f cores for %d threads"), p->cpu_limit.cores, p->n_threads);
  if (p->passes_throttled > 0)
    fprintf (stderr, _(" (%d throttled passes left out)"), p->passes_throttled);
  fprintf (stderr, "\n");
  return TRUE;
}

/* ---- the plan ---- */

static void
add_window (prima_plan_rank *r, int first, int last)
{
  /* adjacent windows of one device run as one */
  if (r->n_windows > 0 && r->windows[r->n_windows - 1].last == first) {
    r->windows[r->n_windows - 1].last = last;
    return;
  }
  r->windows = g_renew (prima_plan_window, r->windows, r->n_windows + 1);
  r->windows[r->n_windows].first = first;
  r->windows[r->n_windows].last = last;
  r->n_windows++;
}

static char *
windows_string (const prima_plan_rank *r)
{
  GString *w = g_string_new (NULL);
  for (guint i = 0; i < r->n_windows; i++)
    g_string_append_printf (w, "%s%d-%d", i ? "," : "", r->windows[i].first, r->windows[i].last);
  return g_string_free (w, FALSE);
}

/* Our place in the data ring from the plan: the devices with layers, in
 * ring order. */
static gboolean
setup_from_plan (Setup *s, const prima_plan *plan, PrimaRingSetup *out)
{
  const PrimaRingSetupArgs *a = s->a;
  int M = (int) plan->n_ranks, me = a->rank, next = -1;

  if (M != a->world) {
    fail (s, _("the plan has %d ranks, the ring %d"), M, a->world);
    return FALSE;
  }
  out->world = 0;
  out->rank = -1;
  out->port = a->port + me;
  out->n_ctx = plan->n_ctx;
  for (int r = 0; r < M; r++)
    if (plan->ranks[r].n_windows > 0) {
      if (r == me)
        out->rank = out->world;
      out->world++;
    }
  if (out->rank < 0)
    return TRUE;
  for (int i = 1; i <= M && next < 0; i++)
    if (plan->ranks[(me + i) % M].n_windows > 0)
      next = (me + i) % M;
  if (next == s->next || next == me) {
    /* a ring of one connects to its own server */
    char *to = next == me ? g_strdup_printf ("127.0.0.1:%d", a->port + me) : g_strdup (s->next_addr);
    out->next_url = g_strdup_printf ("ws://%s", to);
    g_free (to);
  }
  else if (plan->ranks[next].address)
    out->next_url = g_strdup_printf ("ws://%s", plan->ranks[next].address);
  else {
    fail (s, _("the plan drops the next device but gives no address for rank %d"), next);
    return FALSE;
  }
  out->setup_world = M;
  g_free (out->setup_rank);
  out->setup_rank = g_new0 (int, out->world);
  for (int r = 0, i = 0; r < M; r++)
    if (plan->ranks[r].n_windows > 0)
      out->setup_rank[i++] = r;
  if (me == 0) {
    out->windows = g_new0 (char *, out->world + 1);
    out->cases = g_new0 (char *, out->world + 1);
    out->n_layer = plan->n_layer;
    for (int r = 0, i = 0; r < M; r++)
      if (plan->ranks[r].n_windows > 0) {
        out->cases[i] = g_strdup (s->cases ? s->cases[r] : "");
        out->windows[i++] = windows_string (&plan->ranks[r]);
      }
    out->plan_json = prima_ring_plan_json (plan->n_layer, plan->n_ctx, out->world, out->windows, a->next_host,
        a->port);
  }
  return TRUE;
}

static gboolean
head_ends_ring (const halda_plan *plan, int n_layer)
{
  GArray *ranges = g_array_new (FALSE, FALSE, sizeof (int));
  gboolean ends;
  halda_plan_windows (plan, plan->head, ranges);
  ends = ranges->len >= 2 && g_array_index (ranges, int, ranges->len - 2) + g_array_index (ranges, int,
      ranges->len - 1) == n_layer;
  g_array_free (ranges, TRUE);
  return ends;
}

/* rank r's server, as the device before it reaches it: "host:port" from
 * the devices property, else the next host for rank 1; NULL: unknown (that
 * device cannot be routed around). */
static char *
address_of (Setup *s, int r)
{
  const PrimaRingSetupArgs *a = s->a;

  if (a->devices && (guint) r < g_strv_length ((gchar **) a->devices))
    return strchr (a->devices[r], ':') ? g_strdup (a->devices[r]) : g_strdup_printf ("%s:%d", a->devices[r],
        a->port + r);
  if (r == 1 % a->world)
    return prima_ring_next_address (a->next_host, a->port, r);
  return NULL;
}

/* The devices from the profiles measured in the setup round (in rank
 * order); next_of[r]: the address rank r reaches the next device at. */
static gboolean
devices_from_round (Setup *s, JsonNode **profiles, const prima_profile *own, halda_device *devs, char **next_of,
    GError **err)
{
  const PrimaRingSetupArgs *a = s->a;
  int M = a->world;

  prima_profile_to_halda (own, TRUE, &devs[0]);
  g_snprintf (devs[0].name, sizeof devs[0].name, "rank 0 (%s)", own->name);
  next_of[0] = next_address (s);
  for (int r = 1; r < M; r++) {
    JsonObject *o = json_node_get_object (profiles[r]);
    if (!halda_device_from_json (o, r, &devs[r], err))
      return FALSE;
    devs[r].is_head = FALSE;
    next_of[r] = g_strdup (json_object_get_string_member_with_default (o, "_next", ""));
  }
  /* Memory for layers as the runtime sees it: the residency engine keeps
   * weights resident only up to the available memory less its reserve (an
   * eighth of the device's memory, at least 64 MiB: residency.c) and
   * streams the rest from disk every token. Without this, a plan that the
   * solver counts as fitting (M4) streams on a small device. */
  for (int r = 0; r < M; r++) {
    double total = r == 0 ? (double) own->mem.total
        : json_object_get_double_member_with_default (json_node_get_object (profiles[r]), "_ram_total_gib", 0)
        * 1073741824.0;
    double reserve = MAX (total / 8, 64.0 * 1048576);
    devs[r].ram_avail = MAX (0.0, devs[r].ram_avail - reserve);
  }
  return TRUE;
}

/* The devices from saved profiles (a JSON array in rank order, as `prima
 * plan --profiles` reads): taken as they are, without a round. */
static gboolean
devices_from_file (Setup *s, halda_device *devs, char **next_of, GError **err)
{
  const PrimaRingSetupArgs *a = s->a;
  GArray *loaded = halda_devices_load (a->profiles_path, err);
  int M = a->world;

  if (loaded == NULL)
    return FALSE;
  if ((int) loaded->len != M) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("%s has %u device profiles for a ring of %d"),
        a->profiles_path, loaded->len, M);
    g_array_free (loaded, TRUE);
    return FALSE;
  }
  for (int r = 0; r < M; r++) {
    devs[r] = g_array_index (loaded, halda_device, r);
    devs[r].is_head = r == 0;
    next_of[r] = address_of (s, (r + 1) % M);
  }
  g_array_free (loaded, TRUE);
  return TRUE;
}

/* The devices from the last round's profiles (args->profiles_json, a JSON
 * array in setup rank order, the head's first), with the same reserve as a
 * round's; absent ranks are left as they are (not solved over). */
static gboolean
devices_from_json (Setup *s, halda_device *devs, char **next_of, GError **err)
{
  const PrimaRingSetupArgs *a = s->a;
  JsonNode *root = json_from_string (a->profiles_json, err);
  JsonArray *arr;
  gboolean ok = FALSE;

  if (root == NULL)
    return FALSE;
  if (!JSON_NODE_HOLDS_ARRAY (root) || (int) json_array_get_length (arr = json_node_get_array (root)) != a->world) {
    g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("the saved profiles are not an array of %d devices"),
        a->world);
    goto out;
  }
  for (int r = 0; r < a->world; r++) {
    JsonNode *n = json_array_get_element (arr, r);
    JsonObject *o;
    double total;
    if (is_absent (s, r))
      continue;
    if (!JSON_NODE_HOLDS_OBJECT (n)) {
      g_set_error (err, G_FILE_ERROR, G_FILE_ERROR_INVAL, _("the saved profiles have none for rank %d"), r);
      goto out;
    }
    o = json_node_get_object (n);
    if (!halda_device_from_json (o, r, &devs[r], err))
      goto out;
    devs[r].is_head = r == 0;
    next_of[r] = g_strdup (json_object_get_string_member_with_default (o, "_next", ""));
    total = json_object_get_double_member_with_default (o, "_ram_total_gib", 0) * 1073741824.0;
    devs[r].ram_avail = MAX (0.0, devs[r].ram_avail - MAX (total / 8, 64.0 * 1048576));
  }
  ok = TRUE;
out:
  json_node_unref (root);
  return ok;
}

/* The head: solve over the devices (in rank order) that take part. */
static prima_plan *
solve (Setup *s, JsonNode **profiles, const prima_profile *own, double *predicted, int *k_out)
{
  const PrimaRingSetupArgs *a = s->a;
  int M = a->world;
  halda_device *all = g_new0 (halda_device, M), *devs = g_new0 (halda_device, M);
  int n = 0, *idx = g_new0 (int, M);
  halda_model hm;
  halda_options opt;
  halda_plan *hp = NULL;
  prima_plan *plan = NULL;
  prima_model *model;
  GError *err = NULL;
  char **next_of = g_new0 (char *, M + 1);

  model = prima_model_load (a->model_path, &err);
  if (model == NULL)
    goto error;
  halda_model_from_prima (model, a->n_ctx, &hm);
  prima_model_free (model);
  halda_model_set_attention_positions (&hm, s->positions);
  if (!(profiles ? devices_from_round (s, profiles, own, all, next_of, &err)
          : a->profiles_path ? devices_from_file (s, all, next_of, &err)
          : devices_from_json (s, all, next_of, &err)))
    goto error;
  /* the devices that take part (all but the lost ones), the head first */
  for (int r = 0; r < M; r++)
    if (!is_absent (s, r)) {
      idx[n] = r;
      devs[n++] = all[r];
    }
  /* The ring's devices run the residency engine with its defaults (force +
   * auto, docs/memory.md): windows of a sixth of the budget (at least a
   * layer), two of them streamed, and the first streamed one read while
   * the others compute. Saved profiles may say otherwise. */
  for (int i = 0; i < n; i++) {
    if (devs[i].stream_window > 0 || devs[i].os == HALDA_OS_MACOS)
      continue;
    devs[i].stream_window = hm.layer_bytes * MAX (1.0, floor ((devs[i].ram_avail - hm.cpu_buffer_bytes) / 6
            / hm.layer_bytes));
    devs[i].prefetch_ahead = devs[i].stream_window;
  }
  halda_options_init (&opt);
  opt.n_rounds = a->k;
  opt.even_only = a->even;
  opt.merge_tolerance = HALDA_PROFILE_NOISE;
  opt.merge_tolerance_time = HALDA_PROFILE_NOISE_TIME;
  opt.prefetch_fill = RING_READ_AHEAD_FILL;
  hp = halda_solve (&hm, devs, n, &opt, &err);
  /* The head must run the last layer (it owns the output head); an uneven
   * last round that stops short of it cannot run on this ring yet. */
  if (hp && !head_ends_ring (hp, hm.n_layer)) {
    halda_plan_free (hp);
    opt.even_only = TRUE;
    hp = halda_solve (&hm, devs, n, &opt, &err);
  }
  if (hp == NULL && a->absent && g_error_matches (err, HALDA_ERROR, HALDA_ERROR_INFEASIBLE)) {
    fail (s, ngettext ("the %d device left cannot hold the model: %s", "the %d devices left cannot hold the model: %s",
            n), n, err->message);
    g_clear_error (&err);
    goto out;
  }
  if (hp == NULL)
    goto error;
  halda_plan_print (stderr, hp, devs, &hm);
  s->cases = g_new0 (char *, M + 1);
  for (int r = 0; r < M; r++)
    s->cases[r] = g_strdup ("");
  for (int i = 0; i < n; i++) {
    g_free (s->cases[idx[i]]);
    s->cases[idx[i]] = g_strdup (halda_case_name (hp->dev[i].mcase));
  }
  *predicted = hp->latency;
  *k_out = hp->k;
  fprintf (stderr, _("%s: predicted token latency %.2f ms (compute %.2f, disk %.2f, network %.2f, CPU quota %.2f; "
      "attention at %.0f positions)\n"), s->prefix, hp->latency * 1e3, hp->t_compute * 1e3, hp->t_disk * 1e3,
      hp->t_comm * 1e3, hp->t_quota * 1e3, hm.attention_positions);

  plan = prima_plan_new (M);
  plan->id = 1;
  plan->n_layer = hm.n_layer;
  plan->n_ctx = a->n_ctx;
  for (int i = 0; i < n; i++) {
    GArray *ranges = g_array_new (FALSE, FALSE, sizeof (int));
    halda_plan_windows (hp, i, ranges);
    for (guint j = 0; j + 1 < ranges->len; j += 2) {
      int first = g_array_index (ranges, int, j);
      add_window (&plan->ranks[idx[i]], first, first + g_array_index (ranges, int, j + 1));
    }
    g_array_free (ranges, TRUE);
  }
  for (int r = 0; r < M; r++) {
    /* rank r's server, as the device before it reaches it */
    const char *addr = a->absent && a->addresses && (guint) r < g_strv_length ((gchar **) a->addresses)
        ? a->addresses[r] : next_of[(r + M - 1) % M];
    if (addr && *addr)
      plan->ranks[r].address = g_strdup (addr);
  }
  if (!prima_plan_validate (plan, &err)) {
    g_clear_pointer (&plan, prima_plan_free);
    goto error;
  }
  goto out;
error:
  fail (s, "%s", err->message);
  g_error_free (err);
out:
  if (hp)
    halda_plan_free (hp);
  free_sparse (next_of, M);
  g_free (devs);
  g_free (all);
  g_free (idx);
  return plan;
}

static prima_plan *
plan_from_lw (Setup *s, int *k_out)
{
  const PrimaRingSetupArgs *a = s->a;
  GError *err = NULL;
  prima_model *model = prima_model_load (a->model_path, &err);
  char **windows = NULL, **present = NULL, *lw = NULL;
  prima_plan *plan;
  int n_layer;

  if (model == NULL) {
    fail (s, "%s", err->message);
    g_error_free (err);
    return NULL;
  }
  n_layer = model->hp.n_layer;
  prima_model_free (model);
  if (a->absent) {
    /* the weights of the devices left, dealt again (k follows from them) */
    gchar **w = g_strsplit_set (a->lw, ", ", -1);
    GString *g = g_string_new (NULL);
    if (g_strv_length (w) != (guint) a->world) {
      fail (s, _("%s \"%s\" gives %u windows for %d devices"), s->names.layer_window, a->lw, g_strv_length (w),
          a->world);
      g_strfreev (w);
      g_string_free (g, TRUE);
      return NULL;
    }
    for (int r = 0; r < a->world; r++)
      if (!is_absent (s, r))
        g_string_append_printf (g, "%s%s", g->len ? "," : "", w[r]);
    g_strfreev (w);
    lw = g_string_free (g, FALSE);
  }
  if (!ring_deal (s->prefix, &s->names, n_layer, count_present (s), lw ? lw : a->lw, a->absent ? 0 : a->k,
          &present, k_out)) {
    s->error = a->absent ? g_strdup_printf ("the layer window \"%s\" of the %d devices left does not deal %d "
        "layers", lw, count_present (s), n_layer) : g_strdup_printf ("the layer window \"%s\" does not deal %d "
        "layers over %d devices", a->lw, n_layer, a->world);
    g_free (lw);
    return NULL;
  }
  g_free (lw);
  /* back to setup ranks: the lost ones get no window */
  windows = g_new0 (char *, a->world + 1);
  for (int r = 0, i = 0; r < a->world; r++)
    windows[r] = is_absent (s, r) ? g_strdup ("") : g_strdup (present[i++]);
  g_strfreev (present);
  plan = prima_plan_new (a->world);
  plan->id = 1;
  plan->n_layer = n_layer;
  plan->n_ctx = a->n_ctx;
  for (int r = 0; r < a->world; r++) {
    gchar **parts = g_strsplit (windows[r], ",", -1);
    for (guint i = 0; parts[i]; i++) {
      int first = 0, last = 0;
      if (sscanf (parts[i], "%d-%d", &first, &last) == 2)
        add_window (&plan->ranks[r], first, last);
    }
    g_strfreev (parts);
    /* the device before a lost one reaches the next one here */
    if (a->absent && a->addresses && (guint) r < g_strv_length ((gchar **) a->addresses) && *a->addresses[r])
      plan->ranks[r].address = g_strdup (a->addresses[r]);
  }
  g_strfreev (windows);
  return plan;
}

/* ---- dealing -lw, the plan as JSON and for people ---- */

static gboolean
ring_deal (const char *prefix, const PrimaRingSetupNames *names, int n_layer, int world, const char *lw, int k,
    char ***windows_out, int *k_out)
{
  int *w = g_new0 (int, world), W = 0, cycles, remaining, pos = 0;
  GString **win = g_new0 (GString *, world);
  gchar **parts = NULL;
  gboolean ok = FALSE;

  if (lw && *lw) {
    parts = g_strsplit_set (lw, ", ", -1);
    if (g_strv_length (parts) != (guint) world) {
      fprintf (stderr, _("%s: %s \"%s\" gives %u windows for %d devices\n"), prefix, names->layer_window, lw,
          g_strv_length (parts), world);
      goto out;
    }
    for (int r = 0; r < world; r++) {
      char *end;
      w[r] = (int) g_ascii_strtoll (parts[r], &end, 10);
      if (*end || w[r] <= 0) {
        fprintf (stderr, _("%s: %s: \"%s\" is not a positive number of layers (a device without layers "
            "is not supported yet)\n"), prefix, names->layer_window, parts[r]);
        goto out;
      }
    }
  } else {
    /* even: the same share per device and cycle, the rest one more each */
    int per = n_layer / (MAX (k, 1) * world), extra = n_layer % world;
    if (per < 1) {
      fprintf (stderr, _("%s: %d layers cannot go round %d devices %d times\n"), prefix, n_layer, world,
          MAX (k, 1));
      goto out;
    }
    for (int r = 0; r < world; r++)
      w[r] = per + (k <= 1 && r < extra ? 1 : 0);
  }
  for (int r = 0; r < world; r++)
    W += w[r];
  cycles = (n_layer + W - 1) / W;
  if (k > 0 && k != cycles) {
    fprintf (stderr, _("%s: %s \"%s\" (%d layers a cycle) makes %d rounds of %d layers, not %s %d\n"), prefix,
        names->layer_window, lw ? lw : "", W, cycles, n_layer, names->rounds, k);
    goto out;
  }
  for (int r = 0; r < world; r++)
    win[r] = g_string_new (NULL);
  for (int c = 0; c < cycles; c++) {
    remaining = n_layer - pos;
    if (remaining >= W) {
      for (int i = 0; i < world; i++) {
        int r = (i + 1) % world;        /* 1, 2, ..., M-1, 0 */
        g_string_append_printf (win[r], "%s%d-%d", win[r]->len ? "," : "", pos, pos + w[r]);
        pos += w[r];
      }
    } else {
      /* the short last cycle keeps its end: 0 last, then M-1, ... */
      int *take = g_new0 (int, world), left = remaining;
      for (int i = world - 1; i >= 0 && left > 0; i--) {
        int r = (i + 1) % world;
        take[r] = MIN (w[r], left);
        left -= take[r];
      }
      for (int i = 0; i < world; i++) {
        int r = (i + 1) % world;
        if (take[r] == 0)
          continue;
        g_string_append_printf (win[r], "%s%d-%d", win[r]->len ? "," : "", pos, pos + take[r]);
        pos += take[r];
      }
      g_free (take);
    }
  }
  *windows_out = g_new0 (char *, world + 1);
  for (int r = 0; r < world; r++)
    (*windows_out)[r] = g_string_free (win[r], FALSE);
  *k_out = cycles;
  ok = TRUE;
out:
  if (!ok)
    for (int r = 0; r < world; r++)
      if (win[r])
        g_string_free (win[r], TRUE);
  g_free (win);
  g_free (w);
  g_strfreev (parts);
  return ok;
}

/* prima's own callers (`prima run -lw`): its flags in the messages. */
gboolean
prima_ring_deal (const char *prefix, int n_layer, int world, const char *lw, int k, char ***windows_out,
    int *k_out)
{
  PrimaRingSetupNames names;

  names_fill (&names, NULL);
  return ring_deal (prefix, &names, n_layer, world, lw, k, windows_out, k_out);
}

char *
prima_ring_plan_json (int n_layer, int n_ctx, int world, char **windows, const char *next, int port)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "{\"type\":\"plan\",\"id\":1,\"n_layer\":%d,\"n_ctx\":%d,\"ranks\":[", n_layer, n_ctx);
  for (int r = 0; r < world; r++) {
    gchar **parts = g_strsplit (windows[r], ",", -1);
    g_string_append_printf (s, "%s{\"rank\":%d,\"gpu_layers\":0,\"windows\":[", r ? "," : "", r);
    for (guint i = 0; parts[i]; i++) {
      int a = 0, b = 0;
      sscanf (parts[i], "%d-%d", &a, &b);
      g_string_append_printf (s, "%s[%d,%d]", i ? "," : "", a, b);
    }
    g_string_append (s, "]}");
    g_strfreev (parts);
  }
  g_string_append (s, "]}");
  return g_string_free (s, FALSE);
}

/* The plan the head runs, for people: per rank its layers (windows are
 * "a-b" with b excluded; printed inclusive). */
void
prima_ring_print_plan (const char *prefix, int asked, int world, int k, int n_layer, char **windows, double predicted_s)
{
  fprintf (stderr, ngettext ("%s: the plan: %d layers over %d device", "%s: the plan: %d layers over %d devices", world),
      prefix, n_layer, world);
  if (world < asked)
    fprintf (stderr, _(" (%d of %d left out: they would only slow the ring down)"), asked - world, asked);
  fprintf (stderr, ngettext (", %d round per token", ", %d rounds per token", k), k);
  if (predicted_s > 0)
    fprintf (stderr, _(", predicted %.2f ms per token"), predicted_s * 1e3);
  fprintf (stderr, "\n");
  for (int r = 0; r < world; r++) {
    gchar **parts = g_strsplit (windows[r], ",", -1);
    GString *s = g_string_new (NULL);
    int count = 0;
    for (guint i = 0; parts[i]; i++) {
      int a = 0, b = 0;
      if (sscanf (parts[i], "%d-%d", &a, &b) != 2 || b <= a)
        continue;
      count += b - a;
      if (b - a == 1)
        g_string_append_printf (s, "%s%d", s->len ? ", " : "", a);
      else
        g_string_append_printf (s, "%s%d-%d", s->len ? ", " : "", a, b - 1);
    }
    if (r == 0)
      fprintf (stderr, ngettext ("%s:   rank %d: layer %s and the output head\n",
              "%s:   rank %d: layers %s and the output head\n", count), prefix, r, s->str);
    else
      fprintf (stderr, ngettext ("%s:   rank %d: layer %s\n", "%s:   rank %d: layers %s\n", count), prefix, r, s->str);
    g_string_free (s, TRUE);
    g_strfreev (parts);
  }
}

/* ---- the model's identity ---- */

/* Printable ASCII only, at most max bytes: it goes into messages. */
static void
append_clean (GString *g, const char *text, gsize max)
{
  for (gsize i = 0; text && text[i] && i < max; i++)
    g_string_append_c (g, g_ascii_isprint (text[i]) ? text[i] : '?');
}

/* What a worker must share with the head to run its layers: architecture,
 * name, shape, tensor types, and a hash of the GGUF header (metadata and
 * tensor table: names, shapes, types, offsets). At most 255 bytes (the
 * plan's "model" member). */
static char *
model_identity (const char *path, GError **error)
{
  prima_model *m = prima_model_load (path, error);
  const prima_hparams *hp;
  GString *g, *types;
  GChecksum *ck;
  size_t size = 0;
  const guint8 *map;
  guint64 header;

  if (m == NULL)
    return NULL;
  hp = &m->hp;
  /* the tensor types in order of first use: "f32+q8_0" */
  types = g_string_new (NULL);
  {
    gboolean seen[256] = { FALSE };
    for (int64_t i = 0; i < gguf_n_tensors (m->file); i++) {
      guint32 t = gguf_tensor_at (m->file, i)->type;
      const char *name = prima_type_name (t);
      if (seen[t & 255])
        continue;
      seen[t & 255] = TRUE;
      g_string_append_printf (types, "%s%s", types->len ? "+" : "", name ? name : "?");
    }
  }
  map = gguf_mapping (m->file, &size);
  header = MIN (gguf_data_offset (m->file), (guint64) size);
  ck = g_checksum_new (G_CHECKSUM_SHA256);
  if (map)
    g_checksum_update (ck, map, header);
  g = g_string_new (NULL);
  g_string_append_printf (g, "%s \"", prima_arch_name (hp->arch));
  append_clean (g, m->name, 48);
  g_string_append_printf (g, "\" (%d layers, n_embd %d, n_head %d/%d, n_ff %d, n_vocab %d, ", hp->n_layer, hp->n_embd,
      hp->n_head, hp->n_head_kv, hp->n_ff, hp->n_vocab);
  append_clean (g, types->str, 60);
  g_string_append_printf (g, ", header sha256 %.16s)", g_checksum_get_string (ck));
  g_checksum_free (ck);
  g_string_free (types, TRUE);
  prima_model_free (m);
  return g_string_free (g, FALSE);
}

static gboolean
set_identity (Setup *s)
{
  GError *err = NULL;
  s->identity = model_identity (s->a->model_path, &err);
  if (s->identity == NULL) {
    s->local = TRUE;
    fail (s, "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
  return TRUE;
}

/* ---- the two roles ---- */

/* Every setup rank's server as the head knows it after the round (for a
 * recovery round), and the profiles it planned with. Rank r's server is
 * where the rank before it connects; a lost rank keeps its last address. */
static void
head_results (Setup *s, JsonNode **profiles, PrimaRingSetup *out)
{
  const PrimaRingSetupArgs *a = s->a;
  int M = a->world;

  out->setup_world = M;
  out->addresses = g_new0 (char *, M + 1);
  for (int r = 0; r < M; r++)
    out->addresses[r] = g_strdup (a->addresses && (guint) r < g_strv_length ((gchar **) a->addresses)
        ? a->addresses[r] : "");
  for (int r = 0; r < M; r++) {
    int to = next_present (s, r);
    if (is_absent (s, r) || to == r || s->next_of[r] == NULL || !*s->next_of[r])
      continue;
    /* a recovery round keeps the addresses it was given (a stale join of
     * a device before a lost one must not move them) */
    if (a->absent && *out->addresses[to])
      continue;
    g_free (out->addresses[to]);
    out->addresses[to] = g_strdup (s->next_of[r]);
  }
  if (a->lw == NULL && a->profiles_json) {
    out->profiles_json = g_strdup (a->profiles_json);
  } else if (a->lw == NULL && s->own_profile && profiles) {
    JsonArray *arr = json_array_new ();
    JsonNode *node = json_node_new (JSON_NODE_ARRAY);
    for (int r = 0; r < M; r++)
      json_array_add_element (arr, r == 0 ? json_node_copy (s->own_profile)
          : profiles[r] ? json_node_copy (profiles[r]) : json_node_new (JSON_NODE_NULL));
    json_node_take_array (node, arr);
    out->profiles_json = json_to_string (node, FALSE);
    json_node_unref (node);
  }
}

static gboolean
run_head (Setup *s, PrimaRingSetup *out)
{
  const PrimaRingSetupArgs *a = s->a;
  int M = a->world, have = 0;
  JsonNode **profiles = g_new0 (JsonNode *, M);
  prima_profile own;
  prima_ctl_msg m;
  prima_plan *plan = NULL;
  prima_link *from;
  gboolean ok = FALSE;

  prima_ctl_msg_init (&m, PRIMA_CTL_STOP);
  if (a->lw == NULL && a->profiles_path) {
    fprintf (stderr, _("%s: solving over the saved profiles in %s\n"), s->prefix, a->profiles_path);
    plan = solve (s, NULL, NULL, &out->predicted_s, &out->k);
  } else if (a->lw == NULL && a->profiles_json) {
    fprintf (stderr, _("%s: solving over the last round's profiles of the %d devices left\n"), s->prefix,
        count_present (s));
    plan = solve (s, NULL, NULL, &out->predicted_s, &out->k);
  } else if (a->lw == NULL) {
    fprintf (stderr, _("%s: no %s: profiling every device of the ring, one at a time\n"), s->prefix,
        s->names.layer_window);
    prima_ctl_msg_clear (&m);
    if (!profile_self (s, &m, &own))
      goto out;
    s->own_profile = json_node_copy (m.profile);
    if (!send_control (s, s->down, &m))
      goto out;
    /* the head's profile is the token: rank 1 profiles when it sees it */
    while (have < count_present (s) - 1) {
      char what[48];
      prima_link_event *ev;
      int want = 0;
      for (int i = 0; i <= have; i++)
        want = next_present (s, want);
      g_snprintf (what, sizeof what, "the profile of rank %d", want);
      ev = next_event (s, &from, what);
      if (ev == NULL)
        goto out;
      if (from == s->up && ev->control.type == PRIMA_CTL_PROFILE && ev->control.rank > 0
          && ev->control.rank < M && !is_absent (s, ev->control.rank) && profiles[ev->control.rank] == NULL
          && JSON_NODE_HOLDS_OBJECT (ev->control.profile)) {
        profiles[ev->control.rank] = json_node_copy (ev->control.profile);
        have++;
      }
      prima_link_event_free (ev);
    }
    plan = solve (s, profiles, &own, &out->predicted_s, &out->k);
  } else {
    plan = plan_from_lw (s, &out->k);
  }
  if (plan == NULL)
    goto out;

  /* the plan goes round, then the ordered stop */
  prima_ctl_msg_clear (&m);
  prima_ctl_msg_init (&m, PRIMA_CTL_PLAN);
  m.plan = plan;
  plan = NULL;
  /* every worker checks that it runs the same model */
  g_free (m.plan->model);
  m.plan->model = g_strdup (s->identity);
  if (!setup_from_plan (s, m.plan, out) || !send_control (s, s->down, &m))
    goto out;
  for (prima_ctl_type want = PRIMA_CTL_PLAN; want != PRIMA_CTL_N_TYPES;) {
    prima_link_event *ev = next_event (s, &from, want == PRIMA_CTL_PLAN ? "the plan to come back round" :
        "the ordered stop to come back round");
    if (ev == NULL)
      goto out;
    if (from == s->up && ev->control.type == want) {
      if (want == PRIMA_CTL_PLAN) {
        prima_ctl_msg stop;
        prima_ctl_msg_init (&stop, PRIMA_CTL_STOP);
        stop.text = g_strdup ("setup done");
        s->stop_sent = TRUE;
        ok = send_control (s, s->down, &stop);
        prima_ctl_msg_clear (&stop);
        want = ok ? PRIMA_CTL_STOP : PRIMA_CTL_N_TYPES;
      } else {
        want = PRIMA_CTL_N_TYPES;
      }
    }
    prima_link_event_free (ev);
  }
  if (ok)
    head_results (s, profiles, out);
out:
  prima_ctl_msg_clear (&m);
  if (plan)
    prima_plan_free (plan);
  for (int r = 0; r < M; r++)
    if (profiles[r])
      json_node_unref (profiles[r]);
  g_free (profiles);
  return ok;
}

static gboolean
run_worker (Setup *s, PrimaRingSetup *out)
{
  const PrimaRingSetupArgs *a = s->a;
  prima_link *from;
  gboolean have_plan = FALSE;

  for (;;) {
    prima_link_event *ev = next_event (s, &from, NULL);
    prima_ctl_msg *c;
    if (ev == NULL)
      return FALSE;
    c = &ev->control;
    if (from != s->up) {
      prima_link_event_free (ev);
      continue;
    }
    switch (c->type) {
      case PRIMA_CTL_PROFILE:
        if (!send_control (s, s->down, c)) {
          prima_link_event_free (ev);
          return FALSE;
        }
        if (c->rank == 0 && JSON_NODE_HOLDS_OBJECT (c->profile))
          s->positions = (int) CLAMP (json_object_get_int_member_with_default (json_node_get_object (c->profile),
                  "_decode_positions", 0), 0, G_MAXINT / 2);
        if (c->rank == prev_present (s, a->rank)) {
          /* our turn: the devices before us are done, the rest wait */
          prima_ctl_msg m;
          prima_profile p;
          gboolean ok = profile_self (s, &m, &p) && send_control (s, s->down, &m);
          prima_ctl_msg_clear (&m);
          if (!ok) {
            prima_link_event_free (ev);
            return FALSE;
          }
        }
        break;
      case PRIMA_CTL_PLAN:
        if (c->plan->model && strcmp (c->plan->model, s->identity) != 0) {
          fail (s, _("the model differs from the head's: rank %d has %s (%s %s); the head has %s"), a->rank,
              s->identity, s->names.model, a->model_path, c->plan->model);
          prima_link_event_free (ev);
          return FALSE;
        }
        have_plan = setup_from_plan (s, c->plan, out);
        if (!have_plan || !send_control (s, s->down, c)) {
          prima_link_event_free (ev);
          return FALSE;
        }
        break;
      case PRIMA_CTL_STOP:
        /* our server goes first, so that when the stop is back at the head
         * every setup server has let go of its port */
        stop_echo (s);
        g_clear_pointer (&s->up, prima_link_free);
        send_control (s, s->down, c);
        prima_link_event_free (ev);
        if (!have_plan)
          fail (s, _("the head stopped the setup without a plan"));
        return have_plan;
      default:
        break;
    }
    prima_link_event_free (ev);
  }
}

gboolean
prima_ring_setup_run (const PrimaRingSetupArgs *args, PrimaRingSetup *out)
{
  Setup s = { 0 };
  gboolean ok;

  memset (out, 0, sizeof *out);
  out->rank = -1;
  s.a = args;
  names_fill (&s.names, args->names);
  s.prefix = args->prefix ? g_strdup (args->prefix) : args->rank == 0 ? g_strdup_printf ("prima %s", args->command)
      : g_strdup_printf ("prima %s %d", args->command, args->rank);
  /* Attention at the positions the decoded tokens attend to on average
   * (the run's estimate; half the context when it does not know), not at a
   * full context: the prediction is for this run. The KV cache is still
   * sized for the whole context. */
  if (args->rank == 0)
    s.positions = args->decode_positions > 0 ? MIN (args->decode_positions, args->n_ctx) : args->n_ctx / 2;
  s.zeros = g_new0 (float, PRIMA_FRAME_MAX_EMBD);
  s.joined = g_new0 (gboolean, MAX (args->world, 1));
  s.next_of = g_new0 (char *, MAX (args->world, 1) + 1);
  s.absent = args->absent;
  if (args->absent && (args->rank != 0 || args->absent[0] || args->addresses == NULL
          || g_strv_length ((gchar **) args->addresses) != (guint) args->world)) {
    fprintf (stderr, _("%s: ring setup: a recovery round needs the head, present, and every rank's address\n"),
        s.prefix);
    out->error = g_strdup ("a recovery round needs the head, present, and every rank's address");
    g_free (s.zeros);
    g_free (s.joined);
    g_free (s.next_of);
    g_free (s.prefix);
    return FALSE;
  }
  s.joined[args->rank] = TRUE;
  g_queue_init (&s.deferred_up);
  g_queue_init (&s.deferred_down);
  s.echo_queue = g_async_queue_new_full (g_free);
  s.echo_thread = g_thread_new ("prima-echo", echo_main, &s);
  /* the model is checked once the hops are up, so a worker's reason
   * reaches the head */
  ok = open_links (&s) && wait_links (&s) && set_identity (&s)
      && (args->rank == 0 ? run_head (&s, out) : run_worker (&s, out));
  stop_echo (&s);
  g_queue_clear_full (&s.deferred_up, (GDestroyNotify) prima_link_event_free);
  g_queue_clear_full (&s.deferred_down, (GDestroyNotify) prima_link_event_free);
  close_links (&s);
  g_free (s.joined);
  g_free (s.identity);
  g_async_queue_unref (s.echo_queue);
  g_free (s.zeros);
  g_strfreev (s.cases);
  g_free (s.prefix);
  g_free (s.next_addr);
  free_sparse (s.next_of, args->world);
  g_free (s.route_absent);
  g_strfreev (s.route_addresses);
  if (s.own_profile)
    json_node_unref (s.own_profile);
  if (!ok) {
    prima_ring_setup_clear (out);
    out->error = s.error ? s.error : g_strdup ("the setup round failed");
    out->local_failure = s.local;
  } else {
    g_free (s.error);
  }
  return ok;
}

void
prima_ring_setup_clear (PrimaRingSetup *setup)
{
  g_clear_pointer (&setup->next_url, g_free);
  g_clear_pointer (&setup->windows, g_strfreev);
  g_clear_pointer (&setup->cases, g_strfreev);
  g_clear_pointer (&setup->plan_json, g_free);
  g_clear_pointer (&setup->error, g_free);
  g_clear_pointer (&setup->setup_rank, g_free);
  g_clear_pointer (&setup->addresses, g_strfreev);
  g_clear_pointer (&setup->profiles_json, g_free);
}
