/* gst-prima: the latency of one ring hop on loopback, for `prima bench
 * --hop`: the measurement lives with the ring links, so that the program
 * needs none of the wire protocol (frames, control messages, links).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

typedef struct {
  guint frame_bytes;            /* one token's frame on the wire: header and n_embd f32 */
  int warmup;                   /* round trips made before the timed ones */
  GArray *rtt_ms;               /* double: the timed round trips in ms, sorted ascending */
} PrimaHopTiming;

/* Two ring links in this process, on 127.0.0.1: a server that echoes every
 * frame from its I/O thread, and a client that sends one token's
 * activations (n_embd f32) and waits for the echo as the ring elements do
 * (prima_link_pop). Same protocol, authentication (a fresh cluster key)
 * and TCP_NODELAY as the ring; a round trip crosses the hop twice. Times
 * `iterations` round trips after max(iterations / 10, 50) to warm up. FALSE
 * with *error set when a link fails or an echo takes over 5 s. */
gboolean prima_link_measure_hop (int n_embd, int iterations, PrimaHopTiming *out, GError **error);
/* Frees what prima_link_measure_hop filled in. */
void prima_hop_timing_clear (PrimaHopTiming *t);
