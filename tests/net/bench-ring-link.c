/* gst-prima: round-trip latency of one ring hop on loopback (not a test).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A server link echoes every frame from its event callback (on its I/O
 * thread); a client link sends one frame of n_embd f32 (one token), waits for
 * the echo and repeats. The round trip crosses the hop twice, so the per-hop
 * figure is half of it.
 *   blocking: the client sends from the main thread and waits with
 *             prima_link_pop, as the layers element will (two thread
 *             handoffs per round trip on the client side)
 *   callback: the client sends the next frame from its own callback (the
 *             floor of libsoup + loopback TCP without thread handoffs)
 * Usage: bench-ring-link [--iterations N] [--n-embd N] [--mode blocking|callback] [--tls CERT_AND_KEY.pem] */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring-link.h"

typedef struct {
  GMutex lock;
  GCond cond;
  int done, total;
  gint64 *rtt;
  gint64 t_sent;
  float *x;
  prima_frame_header h;
} cb_state;

static gboolean
echo_cb (prima_link *link, const prima_link_event *ev, gpointer data)
{
  if (ev->type != PRIMA_LINK_EVENT_FRAME)
    return FALSE;
  prima_link_send_frame (link, &ev->frame, ev->payload, NULL);
  return TRUE;
}

static gboolean
pingpong_cb (prima_link *link, const prima_link_event *ev, gpointer data)
{
  cb_state *s = data;
  gint64 now;
  if (ev->type != PRIMA_LINK_EVENT_FRAME)
    return FALSE;
  now = g_get_monotonic_time ();
  g_mutex_lock (&s->lock);
  s->rtt[s->done++] = now - s->t_sent;
  if (s->done == s->total) {
    g_cond_signal (&s->cond);
    g_mutex_unlock (&s->lock);
    return TRUE;
  }
  g_mutex_unlock (&s->lock);
  s->h.pos0 = s->done;
  s->t_sent = g_get_monotonic_time ();
  prima_link_send_frame (link, &s->h, s->x, NULL);
  return TRUE;
}

static int
cmp_i64 (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  int iterations = 10000, warmup = 500, n_embd = 4096;
  char *mode = NULL, *tls = NULL;
  GOptionEntry entries[] = {
    { "iterations", 'n', 0, G_OPTION_ARG_INT, &iterations, "round trips to measure", "N" },
    { "n-embd", 'e', 0, G_OPTION_ARG_INT, &n_embd, "floats per frame", "N" },
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode, "blocking (default) or callback", "MODE" },
    { "tls", 0, 0, G_OPTION_ARG_FILENAME, &tls, "serve wss:// with this PEM (certificate + key)", "FILE" },
    { NULL }
  };
  GOptionContext *oc = g_option_context_new ("- ring hop latency on loopback");
  prima_link_config cfg = { 0 };
  prima_cluster_key *key;
  prima_link *server, *client;
  GTlsCertificate *cert = NULL;
  GError *err = NULL;
  gint64 *rtt;
  float *x;
  prima_frame_header h;
  gboolean callback_mode;
  cb_state st = { 0 };
  char *url, *keyhex;
  int total;

  g_option_context_add_main_entries (oc, entries, NULL);
  if (!g_option_context_parse (oc, &argc, &argv, &err)) {
    g_printerr ("%s\n", err->message);
    return 2;
  }
  g_option_context_free (oc);
  callback_mode = mode && strcmp (mode, "callback") == 0;
  if (tls) {
    cert = g_tls_certificate_new_from_file (tls, &err);
    if (cert == NULL) {
      g_printerr ("%s\n", err->message);
      return 2;
    }
  }
  keyhex = prima_cluster_key_generate_hex ();
  key = prima_cluster_key_new (keyhex, NULL);
  g_free (keyhex);

  cfg.role = PRIMA_LINK_SERVER;
  cfg.rank = 2;
  cfg.peer_rank = 1;
  cfg.key = key;
  cfg.bind_address = "127.0.0.1";
  cfg.tls_certificate = cert;
  cfg.on_event = echo_cb;
  server = prima_link_new (&cfg, &err);
  if (server == NULL) {
    g_printerr ("%s\n", err->message);
    return 1;
  }
  url = g_strdup_printf ("%s://127.0.0.1:%u", cert ? "wss" : "ws", prima_link_get_port (server));
  memset (&cfg, 0, sizeof cfg);
  cfg.role = PRIMA_LINK_CLIENT;
  cfg.rank = 1;
  cfg.peer_rank = 2;
  cfg.key = key;
  cfg.url = url;
  cfg.tls_peer_certificate = cert;
  total = warmup + iterations;
  rtt = g_new (gint64, total);
  x = g_new (float, n_embd);
  for (int i = 0; i < n_embd; i++)
    x[i] = i * 1e-3f;
  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, 0, 1, 1, (guint32) n_embd);
  if (callback_mode) {
    g_mutex_init (&st.lock);
    g_cond_init (&st.cond);
    st.total = total;
    st.rtt = rtt;
    st.x = x;
    st.h = h;
    cfg.on_event = pingpong_cb;
    cfg.user_data = &st;
  }
  client = prima_link_new (&cfg, &err);
  if (client == NULL || !prima_link_wait_ready (client, 10 * G_USEC_PER_SEC, &err)) {
    g_printerr ("%s\n", err->message);
    return 1;
  }
  /* the server's READY event is queued (its callback only takes frames) */
  prima_link_wait_ready (server, G_USEC_PER_SEC, NULL);

  if (callback_mode) {
    g_mutex_lock (&st.lock);
    st.t_sent = g_get_monotonic_time ();
    prima_link_send_frame (client, &st.h, x, NULL);
    while (st.done < total)
      g_cond_wait (&st.cond, &st.lock);
    g_mutex_unlock (&st.lock);
  } else {
    for (int i = 0; i < total; i++) {
      prima_link_event *ev;
      gint64 t0 = g_get_monotonic_time ();
      h.pos0 = i;
      if (!prima_link_send_frame (client, &h, x, &err)) {
        g_printerr ("%s\n", err->message);
        return 1;
      }
      do {
        ev = prima_link_pop (client, 5 * G_USEC_PER_SEC);
        if (ev == NULL) {
          g_printerr ("no echo within 5 s\n");
          return 1;
        }
        if (ev->type == PRIMA_LINK_EVENT_FRAME) {
          if (ev->frame.pos0 != i) {
            g_printerr ("echo out of order\n");
            return 1;
          }
          break;
        }
        prima_link_event_free (ev);
      } while (TRUE);
      rtt[i] = g_get_monotonic_time () - t0;
      prima_link_event_free (ev);
    }
  }

  qsort (rtt + warmup, iterations, sizeof *rtt, cmp_i64);
  {
    gint64 *r = rtt + warmup;
    double med = r[iterations / 2], p99 = r[(int) (iterations * 0.99)], p90 = r[(int) (iterations * 0.90)];
    printf ("mode %s%s, %d round trips of one %d-float frame (%d bytes on the wire)\n",
        callback_mode ? "callback" : "blocking", cert ? " over TLS" : "", iterations, n_embd,
        PRIMA_FRAME_HEADER_SIZE + n_embd * 4);
    printf ("round trip   min %.1f  median %.1f  p90 %.1f  p99 %.1f  max %.1f us\n", (double) r[0], med, p90, p99,
        (double) r[iterations - 1]);
    printf ("per hop      median %.1f  p99 %.1f us\n", med / 2, p99 / 2);
  }
  prima_link_free (client);
  prima_link_free (server);
  prima_cluster_key_unref (key);
  g_free (url);
  g_free (rtt);
  g_free (x);
  g_free (mode);
  g_free (tls);
  if (cert)
    g_object_unref (cert);
  return 0;
}
