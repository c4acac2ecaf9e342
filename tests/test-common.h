/* gst-prima tests: shared helpers.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

/* Path of a file under ../shared (PRIMA_SHARED_DIR), or NULL (after
 * g_test_skip with a clear message) when that folder is not beside the clone. */
char *test_shared_path (const char *relative);
/* Path of a file under tests/data (always present in a clone). */
char *test_data_path (const char *relative);
/* Read a whole file or fail the test. */
GBytes *test_read_file (const char *path);
