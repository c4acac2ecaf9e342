/* gst-prima: the Halda layer-to-device assignment (an integer program solved with GLPK).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The latency model and its memory cases M1-M4 are prima.cpp's (paper
 * "PRIMA.CPP: Speeding Up 70B-Scale LLM Inference on Low-Resource Everyday
 * Home Clusters", Sec. 3.2-3.3 and App. A.3); docs/scheduler-plans.md states
 * the formulas. Our additions: a measured communication term per hop, plans
 * where the cycle W does not divide L (an uneven last round covering a prefix
 * of the ring order), devices that get no layer at all, and an exact search
 * (the case of each device is chosen inside the integer program, so the
 * result is the optimum of the model, not a fixed point of it). prima.cpp's
 * own procedure (fixed-point loop over the case sets, L % W == 0, removal of
 * devices left with one CPU layer) is kept as HALDA_ALGO_PRIMA.
 *
 * Units: bytes, seconds, FLOP/s. */
#pragma once

#include <glib.h>
#include "tensor-types.h"

#define HALDA_ERROR (halda_error_quark ())
GQuark halda_error_quark (void);

typedef enum {
  HALDA_ERROR_INVALID,          /* bad model description or profile */
  HALDA_ERROR_INFEASIBLE,       /* no plan satisfies the memory rows */
  HALDA_ERROR_SOLVER,           /* GLPK failed */
} HaldaError;

/* What one token costs, from the model file and the context size. */
typedef struct {
  int n_layer;
  double layer_bytes;           /* b: weight bytes of one layer (mean over layers) */
  double kv_bytes;              /* KV cache bytes of one layer for n_ctx positions */
  double input_row_bytes;       /* one token_embd row, read from disk by the head per token */
  double output_bytes;          /* output head + its norm, resident on the head */
  double cpu_buffer_bytes;      /* compute buffers on every device in the ring */
  double head_buffer_bytes;     /* more on the head (logits, embedding output) */
  double gpu_buffer_bytes;      /* compute buffers in VRAM on a device that uses its GPU */
  double activation_bytes;      /* what one hop carries for one token */
  double layer_flops[PRIMA_TYPE_COUNT];   /* one layer's FLOPs by weight type (attention on F16) */
  double attention_flops_per_position;    /* of those, F16 attention FLOPs per cached position */
  double attention_positions;   /* the positions attention is counted at (default: n_ctx, the worst case) */
  double output_flops[PRIMA_TYPE_COUNT];  /* the output head's FLOPs (run on the head's CPU) */
} halda_model;

typedef enum {
  HALDA_OS_LINUX,               /* page cache keeps what fits; reads are sequential */
  HALDA_OS_ANDROID,             /* as Linux, and swappable memory counts as available */
  HALDA_OS_MACOS,               /* unified memory; reads are random */
} halda_os;

typedef enum {
  HALDA_GPU_NONE,
  HALDA_GPU_DISCRETE,           /* own VRAM (CUDA, Vulkan) */
  HALDA_GPU_METAL,              /* Apple unified memory */
} halda_gpu;

typedef struct {
  char name[64];
  halda_os os;
  gboolean is_head;             /* rank 0: embedding, output head, the user */
  double ram_avail;
  double swap_avail;            /* memory the OS would swap out for us (counted on Android) */
  double disk_seq_read;         /* bytes/s, O_DIRECT sequential */
  double disk_rnd_read;         /* bytes/s, O_DIRECT random */
  double cpu_flops[PRIMA_TYPE_COUNT];    /* by weight type; 0 = not measured */
  double cpu_layer_overhead;    /* seconds per layer on top of the FLOPs (prima.cpp's copy delay) */
  /* A CFS CPU quota (cgroup): cores allowed on average, the period the
   * budget is given per, and the threads the forward pass keeps busy (its
   * CPU seconds per second of compute). cpu_quota 0: no limit. */
  double cpu_quota;
  double cpu_period;            /* seconds; 0: 0.1 (the kernel's default) */
  double cpu_threads;           /* 0: 1 */
  double cpu_window_spin;       /* CPU seconds its threads burn after each window (spinning before they sleep) */
  halda_gpu gpu;
  double vram_avail;            /* Metal: the GPU's working-set limit */
  double gpu_flops[PRIMA_TYPE_COUNT];
  double gpu_layer_overhead;
  double net_latency;           /* seconds per hop from this device to the next */
  double net_bandwidth;         /* bytes/s of that hop; 0 = latency only */
  /* The runtime's residency engine (Linux, docs/memory.md): a device short
   * of memory keeps whole windows of stream_window bytes beside two
   * streamed ones (the one computing, the one prefetched) and rereads the
   * rest every token; once per token (halda_options.prefetch_per_round:
   * after each of its windows) it reads up to prefetch_ahead bytes of them
   * while the other devices compute. stream_window 0: prima.cpp's model
   * (the overflow need - budget is reread, no overlap). */
  double stream_window;
  double prefetch_ahead;
} halda_device;

typedef enum {
  HALDA_ALGO_EXACT,             /* optimum of the model over every W (default) */
  HALDA_ALGO_PRIMA,             /* prima.cpp's procedure, for comparison */
} halda_algo;

/* The spread of one device's profile from one round to the next on the
 * development VM (docs/scheduler-plans.md, "Plans that do not flip"): the
 * merge tolerances the ring's setup solves with. Sizes and rates (memory,
 * disk) vary by under 1%; timings on a shared CPU (time per layer, hops)
 * by far more. */
#define HALDA_PROFILE_NOISE 0.10
#define HALDA_PROFILE_NOISE_TIME 0.25

typedef struct {
  halda_algo algo;
  int n_rounds;                 /* k: 0 = choose; else only plans with k rounds */
  gboolean even_only;           /* only W dividing L (prima.cpp's rule) */
  gboolean no_comm;             /* drop the communication term (as prima.cpp) */
  double min_disk_speed;        /* bytes/s; slower disks cannot stream weights (default 1e8) */
  /* Profiles are noisy: measured figures of different devices that lie
   * within this relative distance of each other are replaced by their
   * median before solving, so devices alike within the noise get the same
   * numbers, and among devices then alike in every figure the larger
   * windows go to the earlier ones in ring order: the plan does not flip
   * between near-ties (0: off). */
  double merge_tolerance;        /* memory, disk speed, VRAM, stream windows */
  double merge_tolerance_time;   /* per-layer times, hops, spin (0: merge_tolerance) */
  /* Streaming devices read prefetch_ahead while the others compute after
   * every window (each round), not once per token: the read-ahead the
   * disk work of issue 16 is after; measured so far, the ring hides about
   * one window per token whatever the rounds (docs/scheduler-plans.md). */
  gboolean prefetch_per_round;
  /* The read-ahead of the disk work (docs/memory.md, "The memory-starved
   * ring"): each streaming device reads ahead as far as its budget allows
   * (all but its kept windows and the one computing), after every window;
   * implies prefetch_per_round, replaces prefetch_ahead. */
  gboolean prefetch_fill;
} halda_options;

typedef enum {
  HALDA_CASE_OFF = 0,           /* not in the ring */
  HALDA_CASE_M1,                /* macOS without Metal, short of memory: overflow reloaded */
  HALDA_CASE_M2,                /* macOS with Metal, short of memory: every layer reloaded */
  HALDA_CASE_M3,                /* Linux/Android, short of memory: overflow reloaded */
  HALDA_CASE_M4,                /* enough memory (or a disk too slow to stream) */
} halda_case;

typedef struct {
  int w;                        /* layers per full cycle (window) */
  int n;                        /* of which on the GPU */
  int p;                        /* layers in the uneven last round (prefix of the ring order) */
  int q;                        /* of which on the GPU */
  int layers;                   /* per token: k_full * w + p */
  int gpu_layers;               /* k_full * n + q */
  halda_case mcase;
  double ram_need;              /* bytes the device wants in RAM (unified memory: all of it) */
  double ram_budget;
  double vram_need;
  double t_compute;             /* seconds per token, CPU + GPU */
  double t_disk;                /* reloads of what does not fit (all of them, hidden or not) */
  double t_disk_hidden;         /* of those, read while the other devices compute (prefetch) */
  double t_comm;                /* its outgoing hops */
  double t_cpu;                 /* CPU-busy seconds per token (CPU layers, + the output head on the head) */
  double t_stretch;             /* its window stretched by its CPU quota (when one token needs more than a period's budget) */
  double t_quota;               /* the quota's bound on the token time: threads x t_cpu / quota; 0 without a quota */
} halda_device_plan;

typedef struct {
  int n_devices;
  int head;                     /* index of the head device */
  int k;                        /* rounds per token: ceil (L / W) */
  int W;                        /* sum of the windows */
  int k_full;                   /* floor (L / W) */
  int last_round_layers;        /* L - k_full * W: 0 when W divides L */
  double latency;               /* predicted seconds per token */
  double t_compute, t_disk, t_comm;
  double t_quota;               /* latency - (compute + exposed disk + comm): what CPU quotas (or a streaming
                                 * device's own reads) add */
  double t_disk_hidden;         /* disk time read while others compute, not in the sequential sum */
  int quota_device;             /* the device whose quota bounds the token time; -1: none */
  int n_dropped;                /* devices with no layer */
  int n_programs;               /* integer programs solved */
  halda_device_plan *dev;
} halda_plan;

void halda_options_init (halda_options *opt);
void halda_device_init (halda_device *dev);
const char *halda_case_name (halda_case c);
const char *halda_os_name (halda_os os);
const char *halda_gpu_name (halda_gpu gpu);

/* Solve. Devices are given in ring order (the head need not be first); the
 * cycle runs from the device after the head round to the head. On failure
 * the GError says why (HALDA_ERROR_INFEASIBLE: e.g. the model does not fit). */
halda_plan *halda_solve (const halda_model *model, const halda_device *devs, int n_devs,
    const halda_options *opt, GError **error);
void halda_plan_free (halda_plan *plan);

/* Fill the times, cases and needs of a plan whose W, w, n, p and q are set
 * (the rest is computed). FALSE with a reason if it breaks a rule or a
 * memory row. The latency is the model's: what halda_solve minimises. */
gboolean halda_plan_evaluate (const halda_model *model, const halda_device *devs, int n_devs,
    const halda_options *opt, halda_plan *plan, GError **error);

/* The layer ranges of device d in layer order: pairs (first, count) appended
 * to ranges (an array of int). */
void halda_plan_windows (const halda_plan *plan, int d, GArray *ranges);

/* The per-layer times halda_solve uses for device d (exposed for tests and
 * the plan printer): CPU seconds per layer, GPU minus CPU seconds per layer.
 * FALSE if a weight type of the model has no measured throughput. */
gboolean halda_device_layer_times (const halda_model *model, const halda_device *dev, double *alpha,
    double *beta, GError **error);
