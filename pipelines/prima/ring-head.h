/* gst-prima: the head of a pipelined ring for `prima run` (docs/design.md section 3).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

#include "ring-setup.h"

/* prima.cpp's flags, with the same meaning. */
typedef struct {
  int world;                    /* --world N: devices in the ring (1: no ring) */
  int rank;                     /* --rank R: must be 0 for prima run */
  const char *master;           /* --master IP: the head's address (accepted) */
  const char *next;             /* --next IP: rank 1's address (default 127.0.0.1) */
  int port;                     /* --port BASE: data port of rank r is BASE + r (default 9000) */
  const char *lw;               /* -lw "a,b,c,d": layers per device and cycle, in rank order */
  int k;                        /* -k N: rounds per token (0: from -lw) */
  const char *cluster_key;      /* --cluster-key */
  const char *cluster_key_file; /* --cluster-key-file */
  int local_ring;               /* --local-ring N: N-1 local workers on loopback */
  int ring_timeout_s;           /* --ring-timeout S: give up the setup after S s without an answer (0: never) */
  const char *command;           /* for messages: "run" (NULL) or "eval" */
  double predicted_s;           /* set by the setup: Halda's token latency (0 with -lw) */
  int decode_positions;         /* for the setup's prediction: cached positions a decoded token attends to,
                                 * on average (0: unknown) */
  struct _PrimaRingWatch *watch; /* the local workers, their exits and error lines */
  int n_workers;
} PrimaRingOptions;

#define PRIMA_RING_DEFAULT_PORT 9000
/* --local-ring: processes on this machine (each device needs a layer too) */
#define PRIMA_RING_LOCAL_MAX 64
/* --local-ring not given (0 and negative values given are errors) */
#define PRIMA_RING_LOCAL_UNSET G_MININT
#define PRIMA_RING_DEFAULT_TIMEOUT_S 120      /* --ring-timeout */
#define PRIMA_RING_OPTIONS_INIT { .local_ring = PRIMA_RING_LOCAL_UNSET, .ring_timeout_s = PRIMA_RING_DEFAULT_TIMEOUT_S }

/* Checks the ring options that need no model (--local-ring's range); one
 * error line and FALSE when they are out of range. */
gboolean prima_ring_check_options (const char *command, PrimaRingOptions *ro);

/* NULL when TCP port `port` can be listened on here, else a phrase for an
 * error line: "in use by NAME (pid P)" where this system says who holds it,
 * "in use" otherwise. */
char *prima_port_busy (int port);

gboolean prima_ring_active (const PrimaRingOptions *ro);

/* Checks the flags and sets the description's primascheduler (named
 * "scheduler") from them; it runs the setup round when the pipeline starts
 * and the plan block is printed from its prima-plan message. With
 * --local-ring also starts the workers: call it from a thread that lives as
 * long as the ring (the main thread), since the workers get SIGTERM when
 * the thread that started them ends (PR_SET_PDEATHSIG). Prints one error
 * line and returns FALSE on failure. */
gboolean prima_ring_head_setup (PrimaRingOptions *ro, GstElement *pipeline, const char *model, int n_ctx,
    int n_threads);

/* Waits for (and at last kills) the local workers; returns FALSE when one
 * did not exit 0 (its reason is printed). While the setup round runs, a
 * local worker that fails ends the head at once with its reason. */
gboolean prima_ring_head_finish (PrimaRingOptions *ro, gboolean kill_now);
