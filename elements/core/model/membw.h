/* gst-prima: memory read bandwidth, measured the way decode reads weights.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stddef.h>

/* Bytes per second that n_threads threads together read from a buffer of
 * buffer_bytes (much larger than the caches); the best of a few passes. */
double prima_measure_read_bandwidth (int n_threads, size_t buffer_bytes);
/* The same over bytes of memory that already hold data, e.g. a model's
 * mapped weights (what decode streams: page-cache pages, as mapped); 0 when
 * bytes is too small. */
double prima_measure_read_bandwidth_of (int n_threads, const void *data, size_t bytes);
