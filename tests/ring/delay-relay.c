/* gst-prima tests: a TCP relay that delays every chunk it forwards, a userspace
 * stand-in for `tc qdisc ... netem delay D J` on kernels without sch_netem.
 *
 * delay-relay --listen ADDR:PORT --to ADDR:PORT [--delay-ms 5] [--jitter-ms 1] [--seed N] [--verbose]
 *
 * Each accepted connection gets its own connection to --to; bytes go both
 * ways. A chunk read at time t is written to the other side no earlier than
 * t + delay + U(-jitter, +jitter), and never before the chunk read before it
 * (release = max (previous release, t + delay + jitter)), so the byte stream
 * keeps its order, as TCP over a netem link does. End of stream (half-close)
 * and resets are passed on the same way, after the data before them. Both
 * sockets have TCP_NODELAY. SIGTERM or SIGINT ends it; it prints a summary
 * (connections, bytes, chunks, measured hold time per chunk) on stderr.
 *
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* accept4, ppoll */
#endif
#include <glib.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Per direction: a byte ring and a ring of chunk marks. When either is full
 * the relay stops reading that side, so TCP's own flow control holds the
 * sender back instead of the relay growing. */
#define BUF_BYTES (512 * 1024)
#define MAX_CHUNKS 1024
#define READ_MAX (64 * 1024)

enum { CHUNK_DATA, CHUNK_EOF, CHUNK_RESET };

typedef struct {
  gint64 read_us, release_us;   /* monotonic */
  guint32 len;                  /* bytes (CHUNK_DATA) */
  guint8 kind;
} chunk;

typedef struct {
  guint8 *buf;
  gsize rd, used;               /* oldest unsent byte, bytes held */
  chunk q[MAX_CHUNKS];
  guint qhead, qlen;
  gboolean reading;             /* still reading the source side */
  gboolean want_write;          /* the destination said EAGAIN */
  gboolean done;                /* EOF delivered (or direction dropped) */
  guint64 bytes, chunks;
} direction;

typedef struct pair pair;
struct pair {
  int fd[2];                    /* 0: accepted client, 1: connection to --to */
  gboolean connecting;          /* fd[1]'s non-blocking connect in progress */
  direction d[2];               /* d[i]: read from fd[i], written to fd[1 - i] */
  guint id;
  pair *next;
};

static struct {
  gint64 delay_us, jitter_us;
  GRand *rand;
  struct sockaddr_storage to;
  socklen_t to_len;
  gboolean verbose;
  /* totals */
  guint conns, conns_open, connect_failures;
  guint64 bytes[2], chunks;
  gint64 hold_min, hold_max;
  double hold_sum;
} g;

static volatile sig_atomic_t stop_flag;

static void
on_signal (int sig)
{
  (void) sig;
  stop_flag = 1;
}

static gboolean
parse_addr (const char *spec, struct sockaddr_storage *ss, socklen_t *len, gboolean passive)
{
  char *host = g_strdup (spec), *port = strrchr (host, ':');
  struct addrinfo hints = { 0 }, *res = NULL;
  const char *h;
  int rc;

  if (port == NULL) {
    g_free (host);
    return FALSE;
  }
  *port++ = '\0';
  h = host;
  /* [v6]:port */
  if (h[0] == '[' && h[strlen (h) - 1] == ']') {
    h++;
    host[strlen (host) - 1] = '\0';
  }
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  rc = getaddrinfo (*h ? h : NULL, port, &hints, &res);
  if (rc == 0) {
    memcpy (ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo (res);
  } else {
    g_printerr ("delay-relay: %s: %s\n", spec, gai_strerror (rc));
  }
  g_free (host);
  return rc == 0;
}

static void
set_nodelay (int fd)
{
  int one = 1;
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Closing with SO_LINGER 0 sends a reset, as the failed peer's did. */
static void
close_reset (int fd)
{
  struct linger l = { 1, 0 };
  setsockopt (fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close (fd);
}

static gint64
release_time (direction *d, gint64 now)
{
  gint64 j = g.jitter_us ? g_rand_int_range (g.rand, (gint32) -g.jitter_us, (gint32) g.jitter_us + 1) : 0;
  gint64 t = MAX (now, now + g.delay_us + j);
  /* never overtake the chunk before */
  if (d->qlen > 0)
    t = MAX (t, d->q[(d->qhead + d->qlen - 1) % MAX_CHUNKS].release_us);
  return t;
}

static void
push_mark (direction *d, int kind, guint32 len, gint64 now)
{
  chunk *c = &d->q[(d->qhead + d->qlen) % MAX_CHUNKS];
  c->release_us = release_time (d, now);
  c->read_us = now;
  c->len = len;
  c->kind = kind;
  d->qlen++;
}

static gboolean
can_read (const direction *d)
{
  return d->reading && d->qlen < MAX_CHUNKS - 1 && d->used < BUF_BYTES;
}

static void
log_pair (pair *p, const char *what)
{
  if (g.verbose)
    g_printerr ("delay-relay: connection %u %s (%" G_GUINT64_FORMAT " bytes in %" G_GUINT64_FORMAT
        " chunks forward, %" G_GUINT64_FORMAT " in %" G_GUINT64_FORMAT " back)\n", p->id, what,
        p->d[0].bytes, p->d[0].chunks, p->d[1].bytes, p->d[1].chunks);
}

/* Side i failed (a reset, or a write to it failed): nothing more goes to it,
 * and a reset goes to the other side after the data read before it. */
static void
side_failed (pair *p, int i, gint64 now)
{
  direction *from = &p->d[i], *to = &p->d[1 - i];
  if (from->reading) {
    from->reading = FALSE;
    push_mark (from, CHUNK_RESET, 0, now);
  }
  to->reading = FALSE;
  to->done = TRUE;
  to->want_write = FALSE;
  to->qlen = 0;
  to->used = 0;
}

/* Side i's read: one chunk into d[i]'s ring, or its end. */
static void
do_read (pair *p, int i, gint64 now)
{
  direction *d = &p->d[i];
  gsize wr = (d->rd + d->used) % BUF_BYTES;
  gsize room = MIN (BUF_BYTES - d->used, BUF_BYTES - wr);
  ssize_t n = recv (p->fd[i], d->buf + wr, MIN (room, READ_MAX), 0);

  if (n > 0) {
    d->used += n;
    d->bytes += n;
    d->chunks++;
    push_mark (d, CHUNK_DATA, (guint32) n, now);
  } else if (n == 0) {
    d->reading = FALSE;
    push_mark (d, CHUNK_EOF, 0, now);
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    side_failed (p, i, now);
  }
}

/* Delivers d[i]'s chunks that are due to fd[1 - i]. Returns FALSE when the
 * pair is finished (a reset delivered). */
static gboolean
do_write (pair *p, int i, gint64 now)
{
  direction *d = &p->d[i];
  int out = p->fd[1 - i];

  if (p->connecting)
    return TRUE;
  while (d->qlen > 0 && !d->done) {
    chunk *c = &d->q[d->qhead];
    if (c->release_us > now)
      break;
    if (c->kind == CHUNK_EOF) {
      shutdown (out, SHUT_WR);
      d->done = TRUE;
    } else if (c->kind == CHUNK_RESET) {
      return FALSE;
    } else {
      gsize n = MIN ((gsize) c->len, BUF_BYTES - d->rd);
      ssize_t w = send (out, d->buf + d->rd, n, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          d->want_write = TRUE;
          return TRUE;
        }
        if (errno == EINTR)
          continue;
        side_failed (p, 1 - i, now);
        return TRUE;
      }
      d->rd = (d->rd + w) % BUF_BYTES;
      d->used -= w;
      c->len -= w;
      if (c->len > 0)
        continue;               /* the rest of the chunk (or the ring wrapped) */
      {
        gint64 hold = now - c->read_us;
        g.hold_min = MIN (g.hold_min, hold);
        g.hold_max = MAX (g.hold_max, hold);
        g.hold_sum += hold;
        g.chunks++;
      }
    }
    d->qhead = (d->qhead + 1) % MAX_CHUNKS;
    d->qlen--;
  }
  d->want_write = FALSE;
  return TRUE;
}

static void
pair_free (pair *p, gboolean reset_both)
{
  int i;
  log_pair (p, reset_both ? "reset" : "closed");
  for (i = 0; i < 2; i++) {
    if (p->fd[i] >= 0) {
      if (reset_both)
        close_reset (p->fd[i]);
      else
        close (p->fd[i]);
    }
    g.bytes[i] += p->d[i].bytes;
    g_free (p->d[i].buf);
  }
  g.conns_open--;
  g_free (p);
}

static pair *
pair_new (int client, guint id)
{
  pair *p = g_new0 (pair, 1);
  int i;
  p->id = id;
  p->fd[0] = client;
  p->fd[1] = socket (g.to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  for (i = 0; i < 2; i++) {
    p->d[i].buf = g_malloc (BUF_BYTES);
    p->d[i].reading = TRUE;
  }
  g.conns++;
  g.conns_open++;
  if (p->fd[1] < 0) {
    pair_free (p, TRUE);
    return NULL;
  }
  set_nodelay (client);
  set_nodelay (p->fd[1]);
  if (connect (p->fd[1], (struct sockaddr *) &g.to, g.to_len) == 0)
    p->connecting = FALSE;
  else if (errno == EINPROGRESS)
    p->connecting = TRUE;
  else {
    g.connect_failures++;
    pair_free (p, TRUE);
    return NULL;
  }
  return p;
}

/* The earliest release among chunks still waiting for their time. */
static gint64
next_deadline (pair *pairs)
{
  gint64 t = G_MAXINT64;
  pair *p;
  int i;
  for (p = pairs; p; p = p->next)
    for (i = 0; i < 2; i++) {
      direction *d = &p->d[i];
      if (!p->connecting && d->qlen > 0 && !d->done && !d->want_write)
        t = MIN (t, d->q[d->qhead].release_us);
    }
  return t;
}

static int
run (int lfd)
{
  pair *pairs = NULL, **pp;
  GArray *pfds = g_array_new (FALSE, FALSE, sizeof (struct pollfd));
  GPtrArray *owners = g_ptr_array_new ();
  sigset_t empty;
  guint next_id = 1;

  sigemptyset (&empty);
  while (!stop_flag) {
    struct pollfd lp = { lfd, POLLIN, 0 };
    gint64 now = g_get_monotonic_time (), deadline;
    struct timespec ts, *tsp = NULL;
    pair *p;
    guint k;
    int i;

    g_array_set_size (pfds, 0);
    g_ptr_array_set_size (owners, 0);
    g_array_append_val (pfds, lp);
    g_ptr_array_add (owners, NULL);
    for (p = pairs; p; p = p->next)
      for (i = 0; i < 2; i++) {
        /* a side is polled only while it can make progress: an idle side
         * that has hung up would otherwise report POLLHUP forever */
        struct pollfd f = { -1, 0, 0 };
        if (i == 1 && p->connecting)
          f.events = POLLOUT;
        else {
          if (can_read (&p->d[i]) && !(i == 1 && p->connecting))
            f.events |= POLLIN;
          if (p->d[1 - i].want_write)
            f.events |= POLLOUT;
        }
        if (f.events)
          f.fd = p->fd[i];
        g_array_append_val (pfds, f);
        g_ptr_array_add (owners, p);
      }
    deadline = next_deadline (pairs);
    if (deadline != G_MAXINT64) {
      gint64 wait = MAX (0, deadline - now);
      ts.tv_sec = wait / G_USEC_PER_SEC;
      ts.tv_nsec = (wait % G_USEC_PER_SEC) * 1000;
      tsp = &ts;
    }
    /* the signals are blocked outside ppoll, so a SIGTERM is never lost */
    if (ppoll ((struct pollfd *) pfds->data, pfds->len, tsp, &empty) < 0 && errno != EINTR) {
      g_printerr ("delay-relay: poll: %s\n", g_strerror (errno));
      break;
    }
    if (stop_flag)
      break;
    now = g_get_monotonic_time ();

    for (k = 1; k < pfds->len; k++) {
      struct pollfd *f = &g_array_index (pfds, struct pollfd, k);
      p = g_ptr_array_index (owners, k);
      i = (k - 1) % 2;
      if (f->fd < 0 || f->revents == 0)
        continue;
      if (i == 1 && p->connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt (p->fd[1], SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) {
          p->connecting = FALSE;
        } else {
          /* the target is not there (yet): the client sees a reset and retries */
          g.connect_failures++;
          if (g.verbose)
            g_printerr ("delay-relay: connection %u: connect: %s\n", p->id, g_strerror (err));
          p->d[0].reading = FALSE;
          p->d[0].done = p->d[1].done = TRUE;
          p->d[0].qlen = 0;
        }
        continue;
      }
      if ((f->revents & (POLLIN | POLLHUP | POLLERR)) && can_read (&p->d[i]))
        do_read (p, i, now);
      if ((f->revents & (POLLOUT | POLLHUP | POLLERR)) && p->d[1 - i].want_write)
        p->d[1 - i].want_write = FALSE;   /* try again below */
    }

    /* deliver what is due; drop finished pairs */
    for (pp = &pairs; (p = *pp) != NULL;) {
      gboolean alive = TRUE, reset = FALSE;
      for (i = 0; i < 2 && alive; i++)
        if (!p->d[i].want_write && !do_write (p, i, now)) {
          alive = FALSE;
          reset = TRUE;
        }
      if (alive && p->d[0].done && p->d[1].done && !p->connecting)
        alive = FALSE;
      if (alive && p->connecting && p->d[0].done && p->d[1].done)
        alive = FALSE, reset = TRUE;
      if (!alive) {
        *pp = p->next;
        pair_free (p, reset);
      } else {
        pp = &p->next;
      }
    }

    /* new connections last, so their first poll sees them complete */
    if (g_array_index (pfds, struct pollfd, 0).revents & POLLIN) {
      int c;
      while ((c = accept4 (lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        p = pair_new (c, next_id++);
        if (p) {
          p->next = pairs;
          pairs = p;
          if (g.verbose)
            g_printerr ("delay-relay: connection %u accepted\n", p->id);
        }
      }
    }
  }
  while (pairs) {
    pair *p = pairs;
    pairs = p->next;
    pair_free (p, FALSE);
  }
  g_array_free (pfds, TRUE);
  g_ptr_array_free (owners, TRUE);
  return 0;
}

int
main (int argc, char **argv)
{
  char *listen_spec = NULL, *to_spec = NULL;
  double delay_ms = 5, jitter_ms = 1;
  gint64 seed = -1;
  gboolean verbose = FALSE;
  GOptionEntry entries[] = {
    {"listen", 0, 0, G_OPTION_ARG_STRING, &listen_spec, "address to listen on", "ADDR:PORT"},
    {"to", 0, 0, G_OPTION_ARG_STRING, &to_spec, "address to relay each connection to", "ADDR:PORT"},
    {"delay-ms", 0, 0, G_OPTION_ARG_DOUBLE, &delay_ms, "delay per chunk (default 5)", "MS"},
    {"jitter-ms", 0, 0, G_OPTION_ARG_DOUBLE, &jitter_ms, "uniform jitter, +- (default 1)", "MS"},
    {"seed", 0, 0, G_OPTION_ARG_INT64, &seed, "jitter seed (default: random)", "N"},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "log each connection", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- delay every chunk of a TCP connection (a netem stand-in)");
  GError *err = NULL;
  struct sockaddr_storage ls;
  socklen_t ls_len;
  struct sigaction sa = { 0 };
  sigset_t block;
  int lfd, one = 1, rc;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    g_printerr ("delay-relay: %s\n", err->message);
    g_error_free (err);
    g_option_context_free (ctx);
    return 2;
  }
  g_option_context_free (ctx);
  if (listen_spec == NULL || to_spec == NULL || delay_ms < 0 || jitter_ms < 0 || jitter_ms > 1e6) {
    g_printerr ("usage: delay-relay --listen ADDR:PORT --to ADDR:PORT [--delay-ms 5] [--jitter-ms 1] [--seed N]\n");
    return 2;
  }
  if (!parse_addr (listen_spec, &ls, &ls_len, TRUE) || !parse_addr (to_spec, &g.to, &g.to_len, FALSE)) {
    g_printerr ("delay-relay: addresses are ADDR:PORT\n");
    return 2;
  }
  g.delay_us = (gint64) (delay_ms * 1000);
  g.jitter_us = (gint64) (jitter_ms * 1000);
  g.rand = seed >= 0 ? g_rand_new_with_seed ((guint32) seed) : g_rand_new ();
  g.verbose = verbose;
  g.hold_min = G_MAXINT64;

  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGTERM, &sa, NULL);
  sigaction (SIGINT, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);
  sigemptyset (&block);
  sigaddset (&block, SIGTERM);
  sigaddset (&block, SIGINT);
  sigprocmask (SIG_BLOCK, &block, NULL);

  lfd = socket (ls.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0 || setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0
      || bind (lfd, (struct sockaddr *) &ls, ls_len) < 0 || listen (lfd, 128) < 0) {
    g_printerr ("delay-relay: cannot listen on %s: %s\n", listen_spec, g_strerror (errno));
    return 1;
  }
  g_printerr ("delay-relay: listening on %s, relaying to %s, delay %.3g ms +- %.3g ms\n", listen_spec, to_spec,
      delay_ms, jitter_ms);
  rc = run (lfd);
  close (lfd);
  g_printerr ("delay-relay: %s: %u connections (%u failed to connect), %" G_GUINT64_FORMAT " bytes forward, %"
      G_GUINT64_FORMAT " back, %" G_GUINT64_FORMAT " chunks held %.3f / %.3f / %.3f ms (min / mean / max)\n",
      listen_spec, g.conns, g.connect_failures, g.bytes[0], g.bytes[1], g.chunks,
      g.chunks ? g.hold_min / 1e3 : 0.0, g.chunks ? g.hold_sum / g.chunks / 1e3 : 0.0,
      g.chunks ? g.hold_max / 1e3 : 0.0);
  g_rand_free (g.rand);
  g_free (listen_spec);
  g_free (to_spec);
  return rc;
}
