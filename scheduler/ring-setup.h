/* gst-prima: the ring's setup round: profiles to the head, the Halda plan back to every device.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * GStreamer-free: the primascheduler element runs it on the head, `prima
 * worker` on every other device (and `prima eval` on its head).
 *
 * Before the data pipelines start, every device opens the same hops as the
 * data ring (server on BASE + rank, client to the next device) with
 * ring-link directly and takes part in one setup round (docs/ring.md,
 * "Auto-scheduling"):
 *
 *   auto (the head has no -lw): a profile token goes round the ring; each
 *   device profiles itself when the token reaches it (one at a time, so
 *   devices that share a machine do not disturb each other's numbers),
 *   times its hop to the next device with echoed frames, and sends its
 *   profile on. The head solves with halda_solve, prints the plan and its
 *   predicted token latency.
 *   -lw: the head deals the layers as given and skips the profiles.
 *
 * Then the plan (windows per rank, and the address of every rank's server)
 * goes round, then an ordered stop; every device closes its setup links
 * before it passes the stop on, so the data ring's servers can take the
 * ports. Devices the plan gives no layer leave: the data ring is the
 * devices with layers, renumbered in ring order, and the device before a
 * dropped one connects to the one after it. */
#pragma once

#include <glib.h>

#include "ring-auth.h"

/* How the caller's user names the settings the round's messages mention:
 * `prima`'s flags by default, primascheduler's property names from a
 * gst-launch line. A NULL field takes the default. */
typedef struct {
  const char *world;            /* "--world" */
  const char *port;             /* "--port" */
  const char *ring_timeout;     /* "--ring-timeout" */
  const char *layer_window;     /* "-lw" */
  const char *rounds;           /* "-k" */
  const char *model;            /* "-m" */
} PrimaRingSetupNames;

typedef struct {
  const char *command;          /* for messages: "run", "eval", "worker" */
  const char *prefix;           /* for messages: what starts every line (NULL: "prima COMMAND[ RANK]") */
  int world;                    /* devices in the setup ring */
  int rank;                     /* ours */
  int port;                     /* BASE: rank r listens on BASE + r */
  const char *next_host;        /* the next device's address: a host (its server is at port + the next
                                 * rank), or "host:port" (prima_ring_next_address) */
  prima_cluster_key *key;
  const char *model_path;
  int n_ctx;                    /* head: the context size of the plan */
  int n_threads;                /* for the profile; 0: every core */
  /* head */
  const char *lw;               /* -lw; NULL: auto-schedule */
  int k;                        /* -k (0: any) */
  gboolean even;                /* head, auto: only plans whose windows divide the layers evenly */
  const char *profiles_path;    /* head, auto: saved profiles (a JSON array in rank order) instead of the round */
  const char *const *devices;   /* head: "host[:port]" of every rank, to route around a dropped device
                                 * when the profiles come from a file (NULL: rank 1 at next_host) */
  int decode_positions;         /* head: cached positions a decoded token attends to, on average (the
                                 * prompt and half the tokens to generate); 0: unknown, half of n_ctx */
  int timeout_s;                /* head: give up when the devices it waits for (to join, or for their
                                 * messages) have not answered within this; 0: wait forever */
  const PrimaRingSetupNames *names;     /* this device's settings in messages (NULL: prima's flags) */
  /* head, recovery (issue 13): a new round over the devices that are left
   * after a loss. The round goes around the absent ranks (a `route` message
   * first re-points the device before each of them to the next present one),
   * waits only for the others and plans over them: Halda over profiles_json
   * without the absent ranks, or with lw the weights of the present ranks. */
  const gboolean *absent;       /* absent[r]: setup rank r was lost (NULL: none; world entries) */
  char *const *addresses;       /* every setup rank's server, "host:port" (the last round's
                                 * PrimaRingSetup.addresses); required with absent */
  const char *profiles_json;    /* auto: the last round's profiles (PrimaRingSetup.profiles_json), used
                                 * instead of profiling again; NULL: profile (first round) */
} PrimaRingSetupArgs;

typedef struct {
  int world;                    /* devices of the data ring (those with layers) */
  int rank;                     /* ours in it; -1: the plan dropped this device */
  int port;                     /* where our data server listens (BASE + old rank) */
  int n_ctx;
  char *next_url;               /* ws://host:port of the next device in it */
  char **windows;               /* head: "a-b,c-d" per rank of the data ring */
  int k;                        /* head: rounds per token */
  double predicted_s;           /* head, auto: the plan's token latency (0 with -lw) */
  /* head */
  int n_layer;
  char **cases;                 /* the memory case per rank of the data ring ("M1" .. "M4"; "" with -lw) */
  char *plan_json;              /* the plan the ring sink sends round the data ring */
  int setup_world;              /* devices of the setup round (args->world) */
  int *setup_rank;              /* the setup rank of each rank of the data ring (world entries) */
  char **addresses;             /* every setup rank's server, "host:port" (setup_world entries,
                                 * NULL-terminated; "" unknown): for a recovery round */
  char *profiles_json;          /* auto: the round's profiles, a JSON array in setup rank order
                                 * (the head's first); NULL with lw */
  /* on failure */
  char *error;                  /* the reason (also said on stderr) */
  gboolean local_failure;       /* the reason is this device's own (it cannot listen on its port, read its
                                 * model, profile itself), not the head's or another device's */
} PrimaRingSetup;

/* "host:port" of the next device's server: next_host itself when it has a
 * port ("10.0.0.2:9001", "[::1]:9001"), else next_host (NULL: 127.0.0.1)
 * with port + next_rank. */
char *prima_ring_next_address (const char *next_host, int port, int next_rank);

/* Runs the setup round as rank args->rank. Prints progress and one error
 * line; FALSE on failure. */
gboolean prima_ring_setup_run (const PrimaRingSetupArgs *args, PrimaRingSetup *out);
void prima_ring_setup_clear (PrimaRingSetup *setup);

/* Deals n_layer layers over the ring: cycles of W = sum(w) layers in the
 * order rank 1, 2, ..., M-1, 0, so the head ends every cycle and owns the
 * output head. With L not a multiple of W the last cycle is shorter and
 * keeps its end (the head first, then M-1, ...). windows[r] gets "a-b,c-d".
 * *k_out: the rounds per token. FALSE with an error line on bad input. */
gboolean prima_ring_deal (const char *command, int n_layer, int world, const char *lw, int k, char ***windows,
    int *k_out);

/* The plan message (JSON) for the windows. */
char *prima_ring_plan_json (int n_layer, int n_ctx, int world, char **windows, const char *next, int port);

/* The plan for people, one line per rank (windows are "a-b" with b
 * excluded; printed inclusive): "PREFIX: the plan: ..." on stderr. */
void prima_ring_print_plan (const char *prefix, int asked, int world, int k, int n_layer, char **windows,
    double predicted_s);
