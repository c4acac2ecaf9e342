/* gst-prima: the option groups that several commands of `prima` share.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "cmd-options.h"
#include <glib/gi18n-lib.h>
#include "prima-pipeline.h"

#include <stdio.h>

/* One flag of a group: its value is a field of the group's struct, so that
 * the table is written once and bound to a command's struct at parse time. */
typedef struct {
  const char *help;             /* NULL: this role has no such flag */
  gboolean ranged;
  double min, max;
} RoleHelp;

typedef struct {
  const char *names;
  cli_kind kind;
  gsize offset;
  const char *arg_name;
  RoleHelp role[2];             /* PrimaRingRole: head, worker */
} GroupFlag;

#define RING(field) G_STRUCT_OFFSET (PrimaRingOptions, field)
#define SAME(help, ...) { { help, __VA_ARGS__ }, { help, __VA_ARGS__ } }

static const GroupFlag ring_flags[] = {
  {"--world", CLI_INT, RING (world), "N", {
      {N_("devices in the ring (this one is the head, rank 0)"), CLI_RANGE (1, G_MAXINT)},
      {N_("devices in the ring"), CLI_RANGE (2, G_MAXINT)}}},
  {"--rank", CLI_INT, RING (rank), "R", {
      {N_("this device's rank (0: the head)"), CLI_RANGE (0, 0)},
      {N_("this device's rank (1 .. N-1)"), CLI_RANGE (1, G_MAXINT)}}},
  {"--master", CLI_STRING, RING (master), "IP", {
      {N_("the head's address (accepted for prima.cpp's flags)")},
      {N_("the head's address (default 127.0.0.1)")}}},
  {"--next", CLI_STRING, RING (next), "IP[:PORT]", {
      {N_("address of rank 1 (default 127.0.0.1); with :PORT its server's port (default BASE+1)")},
      {N_("the next device's address (default: the head's for rank N-1, else 127.0.0.1); with :PORT its "
            "server's port (default BASE+rank+1)")}}},
  {"--port", CLI_INT, RING (port), "BASE", SAME (N_("data port of rank r is BASE+r (default 9000)"), CLI_RANGE (1, 65535))},
  {"-lw,--layer-window", CLI_STRING, RING (lw), "a,b,..", {
      {N_("layers per device and cycle, in rank order (default: the scheduler's plan)")}}},
  {"-k,--rounds", CLI_INT, RING (k), "N", {
      {N_("rounds per token (default: from -lw)"), CLI_RANGE (1, G_MAXINT)}}},
  {"--cluster-key", CLI_STRING, RING (cluster_key), "KEY", SAME (N_("the cluster key (or $PRIMA_CLUSTER_KEY)"))},
  {"--cluster-key-file", CLI_STRING, RING (cluster_key_file), "FILE", SAME (N_("file holding the cluster key"))},
  {"--local-ring", CLI_INT, RING (local_ring), "N", {
      {N_("a ring of N processes on loopback with a fresh key"), CLI_RANGE (1, PRIMA_RING_LOCAL_MAX)}}},
  {"--ring-timeout", CLI_INT, RING (ring_timeout_s), "S", {
      {N_("give up when a device has not answered in S s (default 120, 0: never)"), CLI_RANGE (0, G_MAXINT)}}},
};

#define MEM(field) G_STRUCT_OFFSET (PrimaMemoryFlags, field)

static const GroupFlag memory_flags[] = {
  {"--prefetch", CLI_FLAG, MEM (prefetch), NULL,
    SAME (N_("advise the kernel to read the next window of layers ahead (WILLNEED)"))},
  {"--force", CLI_FLAG, MEM (force), NULL, SAME (N_("fault the next window in from a helper thread (implies --prefetch)"))},
  {"--prefetch-mode", CLI_STRING, MEM (prefetch_mode), "MODE", SAME (N_("none, advise or force (default: see docs/memory.md)"))},
  {"--release-policy", CLI_STRING, MEM (release_policy), "POLICY",
    SAME (N_("drop windows' pages after use: auto (when the windows do not fit), never, always"))},
};

G_STATIC_ASSERT (G_N_ELEMENTS (ring_flags) <= PRIMA_RING_GROUP_MAX);
G_STATIC_ASSERT (G_N_ELEMENTS (memory_flags) <= PRIMA_MEMORY_GROUP_MAX);

static int
bind_flags (const GroupFlag *flags, int n_flags, int role, gpointer base, cli_option *storage)
{
  int n = 0;
  for (int i = 0; i < n_flags; i++) {
    const RoleHelp *r = &flags[i].role[role];
    if (r->help == NULL)
      continue;
    storage[n++] = (cli_option) {
      flags[i].names, flags[i].kind, G_STRUCT_MEMBER_P (base, flags[i].offset), flags[i].arg_name, r->help,
      r->ranged, r->min, r->max};
  }
  return n;
}

cli_group
prima_ring_option_group (PrimaRingOptions *ring, PrimaRingRole role, cli_option storage[PRIMA_RING_GROUP_MAX])
{
  cli_group g = { N_("ring options (prima.cpp's flags)"), storage, 0 };
  g.n_options = bind_flags (ring_flags, G_N_ELEMENTS (ring_flags), role, ring, storage);
  return g;
}

cli_group
prima_memory_option_group (PrimaMemoryFlags *flags, cli_option storage[PRIMA_MEMORY_GROUP_MAX])
{
  cli_group g = { N_("memory options (docs/memory.md)"), storage, 0 };
  g.n_options = bind_flags (memory_flags, G_N_ELEMENTS (memory_flags), 0, flags, storage);
  return g;
}

gboolean
prima_memory_options_parse (const char *command, const PrimaMemoryFlags *flags, PrimaMemoryOptions *out)
{
  out->prefetch = PRIMA_PREFETCH_DEFAULT;
  out->release = PRIMA_RELEASE_DEFAULT;
  if (flags->prefetch_mode && !prima_prefetch_mode_from_name (flags->prefetch_mode, &out->prefetch)) {
    fprintf (stderr, _("prima %s: unknown --prefetch-mode '%s' (none, advise, force)\n"), command, flags->prefetch_mode);
    return FALSE;
  }
  if (flags->release_policy && !prima_release_policy_from_name (flags->release_policy, &out->release)) {
    fprintf (stderr, _("prima %s: unknown --release-policy '%s' (auto, never, always)\n"), command,
        flags->release_policy);
    return FALSE;
  }
  if (flags->force)
    out->prefetch = PRIMA_PREFETCH_FORCE;
  else if (flags->prefetch)
    out->prefetch = PRIMA_PREFETCH_ADVISE;
  return TRUE;
}

void
prima_memory_options_apply (const PrimaMemoryOptions *mem, GstElement *pipeline)
{
  /* the elements' GEnums have the core's values */
  if (mem->prefetch != PRIMA_PREFETCH_DEFAULT)
    prima_pipeline_set (pipeline, "layers", "prefetch-mode", (gint) mem->prefetch, NULL);
  if (mem->release != PRIMA_RELEASE_DEFAULT)
    prima_pipeline_set (pipeline, "layers", "release-policy", (gint) mem->release, NULL);
}
