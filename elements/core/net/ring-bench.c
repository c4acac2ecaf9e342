/* gst-prima: the latency of one ring hop on loopback.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "ring-bench.h"
#include "ring-link.h"

#include <string.h>

/* The server's event callback, on its I/O thread: the echo does not wait
 * for a thread handoff, so the round trip is the client's path twice. */
static gboolean
echo_cb (prima_link *link, const prima_link_event *ev, gpointer data)
{
  if (ev->type != PRIMA_LINK_EVENT_FRAME)
    return FALSE;
  prima_link_send_frame (link, &ev->frame, ev->payload, NULL);
  return TRUE;
}

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Sends frame i and waits for its echo. */
static gboolean
round_trip (prima_link *client, prima_frame_header *h, const float *x, int i, GError **error)
{
  h->pos0 = i;
  if (!prima_link_send_frame (client, h, x, error))
    return FALSE;
  for (;;) {
    prima_link_event *ev = prima_link_pop (client, 5 * G_USEC_PER_SEC);
    gboolean echo;
    if (ev == NULL) {
      g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_TIMEOUT, "no echo within 5 s");
      return FALSE;
    }
    if (ev->type == PRIMA_LINK_EVENT_LOST) {
      g_set_error (error, PRIMA_LINK_ERROR, PRIMA_LINK_ERROR_FAILED, "%s", ev->message ? ev->message : "link lost");
      prima_link_event_free (ev);
      return FALSE;
    }
    echo = ev->type == PRIMA_LINK_EVENT_FRAME && ev->frame.pos0 == i;
    prima_link_event_free (ev);
    if (echo)
      return TRUE;
  }
}

gboolean
prima_link_measure_hop (int n_embd, int iterations, PrimaHopTiming *out, GError **error)
{
  int warmup = MAX (iterations / 10, 50), total = warmup + iterations;
  char *keyhex = prima_cluster_key_generate_hex ();
  prima_cluster_key *key = prima_cluster_key_new (keyhex, NULL);
  prima_link_config cfg = { 0 };
  prima_link *server = NULL, *client = NULL;
  prima_frame_header h;
  float *x = NULL;
  char *url = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (n_embd > 0 && iterations > 0, FALSE);
  memset (out, 0, sizeof *out);
  g_free (keyhex);
  cfg.role = PRIMA_LINK_SERVER;
  cfg.rank = 1;
  cfg.peer_rank = 0;
  cfg.key = key;
  cfg.bind_address = "127.0.0.1";
  cfg.on_event = echo_cb;
  if (!(server = prima_link_new (&cfg, error)))
    goto out;
  url = g_strdup_printf ("ws://127.0.0.1:%u", prima_link_get_port (server));
  memset (&cfg, 0, sizeof cfg);
  cfg.role = PRIMA_LINK_CLIENT;
  cfg.rank = 0;
  cfg.peer_rank = 1;
  cfg.key = key;
  cfg.url = url;
  cfg.connect_timeout_ms = 5000;
  if (!(client = prima_link_new (&cfg, error)) || !prima_link_wait_ready (client, 10 * G_USEC_PER_SEC, error))
    goto out;
  prima_link_wait_ready (server, G_USEC_PER_SEC, NULL);

  x = g_new (float, n_embd);
  for (int i = 0; i < n_embd; i++)
    x[i] = i * 1e-3f;
  prima_frame_header_init (&h, PRIMA_FRAME_TYPE_HIDDEN, PRIMA_FRAME_DTYPE_F32, 0, 0, 1, 1, (guint32) n_embd);
  out->frame_bytes = PRIMA_FRAME_HEADER_SIZE + (guint) n_embd * sizeof (float);
  out->warmup = warmup;
  out->rtt_ms = g_array_sized_new (FALSE, FALSE, sizeof (double), iterations);
  for (int i = 0; i < total; i++) {
    gint64 t0 = g_get_monotonic_time ();
    if (!round_trip (client, &h, x, i, error))
      goto out;
    if (i >= warmup) {
      double ms = (g_get_monotonic_time () - t0) / 1e3;
      g_array_append_val (out->rtt_ms, ms);
    }
  }
  g_array_sort (out->rtt_ms, compare_doubles);
  ok = TRUE;
out:
  if (!ok)
    prima_hop_timing_clear (out);
  if (client)
    prima_link_free (client);
  if (server)
    prima_link_free (server);
  prima_cluster_key_unref (key);
  g_free (url);
  g_free (x);
  return ok;
}

void
prima_hop_timing_clear (PrimaHopTiming *t)
{
  if (t->rtt_ms)
    g_array_free (t->rtt_ms, TRUE);
  t->rtt_ms = NULL;
}
