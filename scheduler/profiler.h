/* gst-prima: the device profiler: what the Halda scheduler needs to know about one device.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Measures, in a few seconds: CPU throughput per weight type with our own
 * kernels (a decode-shaped matrix-vector product through the type traits,
 * activations converted to the type's vec_dot_type as the forward pass
 * does), memory read bandwidth, sequential and random O_DIRECT reads of the
 * disk that holds the model, total and available memory (cgroup v1 and v2
 * aware) and swap, the CPU quota of the cgroup (v1 and v2), the time one
 * real decode layer of the model takes beyond its products (the per-layer
 * overhead), the OS, the page size, and GPU presence (no GPU backend
 * yet: the GPU is reported as "none"). The network hop to the next device is
 * measured later over the ring's own connection and set with
 * prima_profile_set_network; until then it is "not measured".
 *
 * The JSON form is the device object that `prima plan --profiles` and
 * halda_device_from_json read (docs/scheduler-plans.md); fields that are for
 * people only start with '_' (the solver ignores them). docs/profiler.md
 * describes the methods. Units in the structs: bytes, seconds, FLOP/s. */
#pragma once

#include <stdio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "halda.h"
#include "model.h"

#define PRIMA_PROFILE_ERROR (prima_profile_error_quark ())
GQuark prima_profile_error_quark (void);

typedef enum {
  PRIMA_PROFILE_ERROR_IO,       /* a file could not be read */
  PRIMA_PROFILE_ERROR_DISK,     /* the disk test could not run */
} PrimaProfileError;

/* Memory as the OS and the cgroup see it. */
typedef struct {
  guint64 host_total;           /* MemTotal */
  guint64 host_available;       /* MemAvailable */
  guint64 swap_total;           /* SwapTotal */
  guint64 swap_free;            /* SwapFree */
  int cgroup_version;           /* 0: no memory cgroup found, 1 or 2 */
  char cgroup_path[256];        /* the directory read (the process's own cgroup) */
  guint64 cgroup_limit;         /* the tightest limit on the way to the root; G_MAXUINT64 = none */
  guint64 cgroup_usage;         /* usage at the level of that limit (or of our own cgroup) */
  guint64 cgroup_reclaimable;   /* inactive file cache there: reclaimable without swapping */
  guint64 cgroup_swap_limit;    /* swap the cgroup may use (v2 memory.swap.max, v1 memsw - mem); G_MAXUINT64 = none */
  /* What the scheduler gets: */
  guint64 total;                /* min (MemTotal, cgroup limit) */
  guint64 available;            /* min (MemAvailable, limit - usage + reclaimable) */
  guint64 swap_available;       /* min (SwapFree, what the cgroup allows) */
} prima_profile_memory;

/* The CPU bandwidth limit of our cgroup (CFS quota per period): v1's
 * cpu.cfs_quota_us / cpu.cfs_period_us, v2's cpu.max, the tightest level
 * from our cgroup up to the hierarchy's mount. */
typedef struct {
  int version;                  /* 0: no cpu cgroup found, 1 or 2 */
  char path[256];               /* the level whose quota binds (else our own cgroup) */
  double quota;                 /* seconds of CPU per period; 0 = no limit */
  double period;                /* seconds */
  double cores;                 /* quota / period; 0 = no limit */
} prima_profile_cpu_limit;

typedef void (*prima_profile_progress_fn) (const char *message, int step, int n_steps, gpointer user_data);

typedef struct {
  int n_threads;                /* 0: every online CPU */
  /* Weight types to measure: TRUE at a type id. All FALSE: every type our
   * kernels support (what `prima profile` does without a model). */
  gboolean types[PRIMA_TYPE_COUNT];
  const char *model_path;       /* read directly for the disk test when large enough; may be NULL */
  const char *disk_dir;         /* where the temporary file goes; NULL: the model's folder, else "." */
  gboolean skip_disk;
  gboolean skip_cpu;
  gboolean skip_memory_bandwidth;
  /* Shape of the test matrices per type (rows = outputs, cols = inputs);
   * 0: 4096 x 4096. prima_profile_options_from_model sets the model's. */
  int shape_rows[PRIMA_TYPE_COUNT], shape_cols[PRIMA_TYPE_COUNT];
  size_t matvec_bytes;          /* weights per type, in matrices of that shape; 0: 128 MiB (4 x L3 if larger) */
  double matvec_seconds;        /* time per type (default 0.1 s) */
  gboolean skip_layer;          /* no real-layer test (it needs model_path) */
  double layer_seconds;         /* time for the real-layer test (default 0.3 s) */
  /* Idle time before each real-layer pass (default 0: back to back, as one
   * device decodes). A ring device runs its window after idling while the
   * others compute, with its threads asleep and its caches cold, and that
   * pass is slower: the ring's setup sets a few ms. Either way the estimate
   * is the median pass. */
  double layer_gap_seconds;
  /* Cached positions each real-layer pass attends to (default 0). Attention
   * costs more than its FLOPs at the F16 rate; the overhead then leaves out
   * only what the solver counts itself at this position, so a plan for a
   * run whose tokens attend to about this many positions gets the real
   * per-layer time. The ring's setup sets the run's (at most 128). */
  int layer_position;
  double cpu_budget_seconds;    /* all types together, on a loaded machine (default 4 s) */
  size_t membw_bytes;           /* default 128 MiB (less when memory is short) */
  size_t disk_bytes;            /* temporary file; default 256 MiB */
  double disk_seconds;          /* per disk test (default 0.5 s) */
  const char *root;             /* prefix for /proc and /sys (tests); NULL or "" for the real ones */
  prima_profile_progress_fn progress;
  gpointer user_data;
} prima_profile_options;

typedef struct {
  char name[64];                /* host name */
  halda_os os;
  char os_detail[160];          /* "Linux 6.1.0 x86_64" */
  char cpu_model[128];
  const char *kernels;          /* ISA of the kernels measured ("avx512") */
  int n_threads;                /* the threads the forward pass runs: CPUs busy while it computes */
  long page_size;
  prima_profile_cpu_limit cpu_limit;
  prima_profile_memory mem;
  double mem_read_bw;           /* bytes/s; 0 = not measured */
  double cpu_flops[PRIMA_TYPE_COUNT];   /* FLOP/s by weight type; 0 = not measured */
  double cpu_bytes_per_s[PRIMA_TYPE_COUNT];     /* weight bytes read per second in that test */
  int shape_rows[PRIMA_TYPE_COUNT], shape_cols[PRIMA_TYPE_COUNT];     /* the matrices timed */
  int shape_count[PRIMA_TYPE_COUNT];     /* how many of them (one pass) */
  size_t matvec_bytes;
  int passes_kept, passes_throttled;    /* timed passes, and those the quota throttled (not used) */
  /* One real decode layer (or a few) of the model against its products at
   * the rates above: the per-layer overhead (norms, RoPE, attention, the
   * thread-pool rounds). layer_count 0: not measured (layer_note says why). */
  int layer_first, layer_count;
  double layer_time;            /* seconds per layer, the real forward pass */
  double layer_matvec_time;     /* seconds per layer, its products at the profiled rates (and its attention
                                 * at layer_position at the F16 rate: what the solver counts itself) */
  double layer_overhead;        /* the difference (at least -half the products) */
  double cpu_busy;              /* CPU seconds per second during the real layers (threads running) */
  double cpu_tail;              /* CPU seconds burnt after an evaluation (spinning workers), median */
  char layer_note[160];
  /* disk */
  gboolean disk_measured;
  gboolean disk_direct;         /* O_DIRECT worked (else: page cache dropped with fadvise) */
  char disk_path[512];          /* the file read (a temporary file is gone by now) */
  char disk_note[256];          /* why not measured, or how */
  double disk_seq_read;         /* bytes/s */
  double disk_rnd_read;         /* bytes/s */
  size_t disk_seq_block, disk_rnd_block;
  int disk_rnd_threads;
  guint64 disk_file_bytes;
  /* GPU */
  halda_gpu gpu;
  double vram_avail;
  char gpu_hardware[256];       /* display controllers seen on the PCI bus, for people */
  /* network: < 0 = not measured (the ring sets it) */
  double net_latency;           /* seconds, one hop to the next device */
  double net_bandwidth;         /* bytes/s */
  /* seconds each part took */
  double t_cpu, t_layer, t_membw, t_disk, t_total;
} prima_profile;

void prima_profile_options_init (prima_profile_options *opt);

/* Measure this device. Only a failure to read /proc/meminfo is an error; a
 * disk test that cannot run leaves disk_measured FALSE with a note. */
gboolean prima_profile_measure (const prima_profile_options *opt, prima_profile *out, GError **error);

/* The weight types a model needs a throughput for (what halda_solve checks):
 * every type with FLOPs in a layer or the output head. */
void prima_profile_types_from_model (const halda_model *model, gboolean types[PRIMA_TYPE_COUNT]);
/* The types of a model (as above) and, per type, the shape of its largest
 * matrix, so that the products timed are the model's. */
void prima_profile_options_from_model (prima_profile_options *opt, const prima_model *model);
/* Whether our kernels can run a mat-vec on weights of this type. */
gboolean prima_profile_type_supported (prima_type type);

/* Memory from /proc/meminfo, /proc/self/cgroup, /proc/self/mountinfo and the
 * cgroup files, all under root (NULL or "": the real ones). */
gboolean prima_profile_read_memory (const char *root, prima_profile_memory *out, GError **error);
/* The CPU quota from /proc/self/cgroup, /proc/self/mountinfo and the cgroup
 * files under root; FALSE (cores 0) when there is no limit. */
gboolean prima_profile_read_cpu_limit (const char *root, prima_profile_cpu_limit *out);

/* The network hop, measured by the ring over its own connection. */
void prima_profile_set_network (prima_profile *p, double latency_s, double bandwidth_bytes_s);
/* Fit round trips of echoed messages: rtt_i = 2 * latency + bytes_i / bandwidth
 * (the payload crosses once, the echo back is small). Needs two sizes or
 * more; FALSE when the samples do not determine a positive bandwidth (then
 * *latency is half the smallest round trip and *bandwidth 0: latency only). */
gboolean prima_profile_fit_network (const double *bytes, const double *rtt_s, int n, double *latency_s,
    double *bandwidth_bytes_s);

/* The device object of docs/scheduler-plans.md (with '_' fields for people). */
JsonNode *prima_profile_to_json (const prima_profile *p, gboolean is_head);
/* Pretty JSON text of a node (the object above, or an array of them) with
 * numbers written briefly ("22.696", not "22.696000000000002"). */
char *prima_profile_json_text (JsonNode *node);
/* The same as a halda_device, without the JSON (what the head solves with). */
void prima_profile_to_halda (const prima_profile *p, gboolean is_head, halda_device *out);
/* A readable table. */
void prima_profile_print (FILE *out, const prima_profile *p);
