/* gst-prima: which weights stay in memory: window prefetch and release.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Weights are used in place from the file mapping, so memory holds whatever
 * pages the kernel keeps. A device computes its windows of layers in a fixed
 * cyclic order, once per token; this engine knows that order and each
 * window's page-aligned, merged byte ranges, and:
 *  - reads ahead the next windows, in the order they will run, as many as
 *    the budget left by the kept windows allows (the next one always):
 *    WILLNEED advice in 128 KiB pieces (one call reads at most the disk's
 *    readahead size), and with the force mode also faults them in
 *    (MADV_POPULATE_READ, else one read per page). Both run on a helper
 *    thread, never the compute thread: under a memory cap even the advice
 *    can stall in reclaim. A device thus reads its next windows while the
 *    other devices of a ring compute (PRIMA_PREFETCH_AHEAD=N caps it at N
 *    windows; 1: the former schedule; PRIMA_ADVISE_PIECE_KIB=0: one advice
 *    call per range; PRIMA_TRACE=1|2: where each token's time went, on
 *    stderr; docs/memory.md).
 *  - releases windows after use (MADV_DONTNEED + POSIX_FADV_DONTNEED) when
 *    the device's windows do not all fit its memory: a prefix of the windows,
 *    as much as fits beside two streamed windows, stays resident; the others
 *    are streamed. Without the release, the kernel's LRU evicts in the order
 *    pages were used, which for a cyclic scan larger than memory is exactly
 *    the page needed next (the prefetch-release conflict).
 * The forward pass calls prima_residency_layer_begin/end; the result of the
 * computation never depends on the policy. */
#pragma once

#include <glib.h>
#include "model.h"

typedef enum {
  PRIMA_PREFETCH_DEFAULT,       /* the measured default (docs/memory.md) */
  PRIMA_PREFETCH_NONE,
  PRIMA_PREFETCH_ADVISE,        /* WILLNEED advice */
  PRIMA_PREFETCH_FORCE,         /* advice, then the helper thread faults the pages in */
} prima_prefetch_mode;

typedef enum {
  PRIMA_RELEASE_DEFAULT,        /* the measured default (docs/memory.md) */
  PRIMA_RELEASE_AUTO,           /* release only the windows that do not fit the budget */
  PRIMA_RELEASE_NEVER,
  PRIMA_RELEASE_ALWAYS,         /* release every window after use */
} prima_release_policy;

/* The first pass over the windows, which faults the weights in: one report
 * per layer, on the compute thread (the engine prints nothing itself). */
typedef struct {
  int layer;                    /* layers faulted in so far, 1 .. n_layers */
  int n_layers;                 /* the model's */
  guint64 bytes;                /* weight bytes of the windows begun so far */
  double seconds;               /* since the first layer began */
  double window_resident;       /* of the current window's weights, 0 .. 1 */
  gboolean window_done;         /* the layer ends a window */
  gboolean done;                /* the first pass is complete */
} prima_residency_progress;

typedef void (*prima_residency_progress_func) (const prima_residency_progress *progress, gpointer user_data);

typedef struct {
  prima_prefetch_mode prefetch;
  prima_release_policy release;
  /* Bytes of weights this device may keep in memory. 0: the device's
   * available memory when the engine is created (prima_memstat) less reserve. */
  guint64 budget;
  /* Kept free for the KV cache, scratch and everything else when the budget
   * is automatic. 0: an eighth of the device's memory, at least 64 MiB. */
  guint64 reserve;
  /* Called for each layer of the first pass (NULL: no reports). */
  prima_residency_progress_func progress;
  gpointer progress_data;
} prima_residency_params;

typedef struct prima_residency prima_residency;

prima_residency *prima_residency_new (const prima_model *model, const prima_residency_params *params);
void prima_residency_free (prima_residency *r);

/* Windows, in the order this device computes them for one token. A window
 * that ends at the last layer is followed, when with_head, by the output
 * head's own window: the pseudo-layer n_layer, which the forward pass
 * brackets the head with (layer_begin/end (r, n_layer)). Returns the index of
 * the layers' window. */
int prima_residency_add_window (prima_residency *r, int first, int last, gboolean with_head);
/* Layers [first, last) as consecutive windows of n_layers each (<= 0: auto,
 * a sixth of the budget per window, at least one layer). */
void prima_residency_add_windows (prima_residency *r, int first, int last, int n_layers, gboolean with_head);
int prima_residency_n_windows (const prima_residency *r);

/* The compute thread: layer (a model layer index) is about to run / has run. */
void prima_residency_layer_begin (prima_residency *r, int layer);
void prima_residency_layer_end (prima_residency *r, int layer);
/* Wait until the helper thread has done everything asked of it so far. */
void prima_residency_sync (prima_residency *r);

typedef struct {
  prima_prefetch_mode prefetch; /* resolved, never _DEFAULT */
  prima_release_policy release;
  guint64 budget;
  guint64 window_bytes;         /* all windows */
  guint64 kept_bytes;           /* windows never released */
  int n_windows, n_kept;
  guint64 resident_bytes;       /* of the windows' ranges, now (mincore) */
  guint64 prefetched_bytes;     /* advised or forced, cumulative */
  guint64 released_bytes;       /* cumulative */
  guint n_prefetches, n_releases;
  double helper_busy_s;         /* time the helper spent advising/faulting */
} prima_residency_stats;

void prima_residency_get_stats (prima_residency *r, prima_residency_stats *out);

/* What _DEFAULT stands for: the measured defaults (docs/memory.md). */
prima_prefetch_mode prima_prefetch_mode_resolve (prima_prefetch_mode m);
prima_release_policy prima_release_policy_resolve (prima_release_policy p);

/* "none", "advise", "force" / "auto", "never", "always"; the _from_ parsers
 * also take "default". */
const char *prima_prefetch_mode_name (prima_prefetch_mode m);
const char *prima_release_policy_name (prima_release_policy p);
gboolean prima_prefetch_mode_from_name (const char *name, prima_prefetch_mode *out);
gboolean prima_release_policy_from_name (const char *name, prima_release_policy *out);
