/* gst-prima tests: shared helpers.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "test-common.h"

char *
test_shared_path (const char *relative)
{
  const char *dir = g_getenv ("PRIMA_SHARED_DIR");
  char *path;
  if (dir == NULL)
    dir = "../shared";
  path = g_build_filename (dir, relative, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    char *msg = g_strdup_printf ("%s not found: the shared reference data (../shared) is not beside this clone", path);
    g_test_skip (msg);
    g_free (msg);
    g_free (path);
    return NULL;
  }
  return path;
}

char *
test_data_path (const char *relative)
{
  const char *dir = g_getenv ("PRIMA_TEST_DATA");
  return g_build_filename (dir ? dir : "tests/data", relative, NULL);
}

GBytes *
test_read_file (const char *path)
{
  char *contents = NULL;
  gsize len = 0;
  GError *error = NULL;
  if (!g_file_get_contents (path, &contents, &len, &error))
    g_error ("%s", error->message);
  return g_bytes_new_take (contents, len);
}
