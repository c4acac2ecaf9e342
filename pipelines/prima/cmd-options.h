/* gst-prima: the option groups that several commands of `prima` share: the
 * ring flags (prima.cpp's) and the memory flags. Each flag's name, help and
 * range is written once, in cmd-options.c; a command puts the groups it takes
 * beside its own options in cli_parse_groups.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "cli-args.h"
#include "ring-head.h"
#include "residency.h"

#include <gst/gst.h>

/* Which end of the ring a command is: the head (run, eval: rank 0, the
 * layer windows and the local ring are its to choose) or a worker (rank >= 1). */
typedef enum {
  PRIMA_RING_ROLE_HEAD,
  PRIMA_RING_ROLE_WORKER,
} PrimaRingRole;

/* The most options a ring group holds (the head's). */
#define PRIMA_RING_GROUP_MAX 11

/* The ring flags of a role, bound to *ring: --world, --rank, --master, --next,
 * --port, --cluster-key, --cluster-key-file, and for the head -lw, -k,
 * --local-ring, --ring-timeout. The group's options live in storage. */
cli_group prima_ring_option_group (PrimaRingOptions *ring, PrimaRingRole role,
    cli_option storage[PRIMA_RING_GROUP_MAX]);

/* The memory flags as given (run, worker, bench): NULL/FALSE when not given. */
typedef struct {
  gboolean prefetch;            /* --prefetch */
  gboolean force;               /* --force */
  const char *prefetch_mode;    /* --prefetch-mode */
  const char *release_policy;   /* --release-policy */
} PrimaMemoryFlags;

#define PRIMA_MEMORY_GROUP_MAX 4

/* The memory flags bound to *flags; the group's options live in storage. */
cli_group prima_memory_option_group (PrimaMemoryFlags *flags, cli_option storage[PRIMA_MEMORY_GROUP_MAX]);

/* What the memory flags ask for: _DEFAULT where not given. */
typedef struct {
  prima_prefetch_mode prefetch;
  prima_release_policy release;
} PrimaMemoryOptions;

/* FALSE, with a message, for an unknown mode or policy. */
gboolean prima_memory_options_parse (const char *command, const PrimaMemoryFlags *flags, PrimaMemoryOptions *out);
/* Sets the options given as the properties of the pipeline's "layers"
 * element (prefetch-mode, release-policy); the others keep their defaults. */
void prima_memory_options_apply (const PrimaMemoryOptions *mem, GstElement *pipeline);
