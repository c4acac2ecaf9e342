/* gst-prima: the CPU cores of this device as /proc/cpuinfo and /sys describe them: how many, their
 * model and features, and on big.LITTLE (ARM phones, boards) which are the little ones, so that a
 * matrix-vector product is not paced by its slowest threads.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#define PRIMA_CPU_TOPOLOGY_MAX 256

typedef struct {
  int n_cpus;                   /* logical CPUs listed in /proc/cpuinfo (at least 1) */
  int n_clusters;               /* distinct capacities (1 on a symmetric CPU) */
  int n_little;                 /* CPUs under 60 % of the largest capacity */
  int capacity[PRIMA_CPU_TOPOLOGY_MAX];   /* relative speed per CPU: cpu_capacity, else max MHz
                                           * (halved for an in-order little core beside others) */
  int max_mhz;                  /* highest cpuinfo_max_freq (0 if unknown) */
  char model[96];               /* "Cortex-A76 + Cortex-A55" (ARM), "model name" (x86), or "" */
  char features[512];           /* the "Features" (ARM) or "flags" (x86) line, truncated */
} prima_cpu_topology;

/* Reads root/proc/cpuinfo and root/sys/devices/system/cpu/cpuN/{cpu_capacity,cpufreq/cpuinfo_max_freq}
 * (root NULL or "" for the real ones; tests give a fake tree). Missing files leave defaults. */
void prima_cpu_topology_read (const char *root, prima_cpu_topology *t);

/* Threads for a compute pool: the CPUs that are not little ones, or all of them when use_little. */
int prima_cpu_topology_default_threads (const prima_cpu_topology *t, gboolean use_little);

/* Threads the forward pass runs by default on this machine: the online CPUs, less the little ones
 * of a big.LITTLE CPU unless PRIMA_LITTLE_CORES=1 asks for them too. Read once. */
int prima_cpu_default_threads (void);

/* The name of an ARM core from its implementer and part numbers ("Cortex-A55"), or NULL. */
const char *prima_arm_core_name (unsigned implementer, unsigned part);
