/* gst-prima: memory accounting: the device's memory (cgroup-aware), the
 * model's resident pages, memory pressure.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A "device" is what this process may use: the memory cgroup it runs in when
 * that has a limit (v1 memory.limit_in_bytes, v2 memory.max, the tightest
 * along the path), else the machine (/proc/meminfo). docs/memory.md gives
 * the formulas. */
#pragma once

#include <glib.h>
#include <stddef.h>

typedef struct {
  int cgroup_version;           /* 1 or 2 when a limiting cgroup was found, else 0 */
  guint64 total;                /* the device's memory: the cgroup limit, or MemTotal */
  guint64 used;                 /* charged to the cgroup (page cache included), or MemTotal - MemFree */
  guint64 file;                 /* page cache among used (active + inactive file pages) */
  guint64 anon;                 /* anonymous memory among used */
  guint64 available;            /* what a new program could get without swapping: total - used + file */
} prima_memstat;

/* Read the current figures. FALSE if nothing could be read (not Linux). */
gboolean prima_memstat_read (prima_memstat *out);

/* Bytes of [addr, addr + len) that are in memory now (mincore; addr is
 * rounded down to a page). 0 on error. */
guint64 prima_memstat_resident (const void *addr, size_t len);
/* The same over a prima_byte_range array of offsets into the mapping at base. */
guint64 prima_memstat_resident_ranges (const void *base, const GArray *ranges);

/* Memory pressure as the seeds define it: the share of the device's memory
 * that inference takes from other programs. Start the watch before the model
 * is loaded, sample it while generating (cheap: a few small file reads). */
typedef struct {
  prima_memstat start;
  prima_memstat last;
  guint64 min_available;
  guint64 max_file;
  int n_samples;
} prima_memwatch;

void prima_memwatch_start (prima_memwatch *w);
void prima_memwatch_sample (prima_memwatch *w);
/* max(0, available at start - lowest available since) / total, in [0, 1]. */
double prima_memwatch_pressure (const prima_memwatch *w);

/* One process-wide watch, for the command line's --verbose: started before
 * the model is loaded, sampled by the residency engine at window ends (at
 * most every PRIMA_MEMWATCH_INTERVAL_US: a sample costs about 0.2 ms of
 * file reads on the token's path), read by the report. Sampling before the
 * start does nothing. */
#define PRIMA_MEMWATCH_INTERVAL_US (100 * 1000)
void prima_memwatch_global_start (void);
void prima_memwatch_global_sample (void);
/* A copy of the global watch; FALSE if it was never started. */
gboolean prima_memwatch_global_get (prima_memwatch *out);
