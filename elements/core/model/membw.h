/* gst-prima: memory read bandwidth, measured the way decode reads weights.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stddef.h>

/* Bytes per second that n_threads threads together read from a buffer of
 * buffer_bytes (much larger than the caches); the best of a few passes. */
double prima_measure_read_bandwidth (int n_threads, size_t buffer_bytes);
