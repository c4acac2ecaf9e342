/* gst-prima: the replay main() shared by the libFuzzer targets.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Included last by a target built with -DPRIMA_FUZZ_REPLAY (gcc): runs every
 * file named on the command line, or every file of a named directory (a
 * corpus), through LLVMFuzzerTestOneInput, from an exact-size copy so a read
 * past the end is caught by ASan as in the fuzzer. */
#ifdef PRIMA_FUZZ_REPLAY
#include <stdio.h>

static int
replay_file (const char *path)
{
  char *contents = NULL;
  gsize len = 0;
  GError *error = NULL;
  if (!g_file_get_contents (path, &contents, &len, &error)) {
    fprintf (stderr, "%s\n", error->message);
    g_error_free (error);
    return 1;
  }
  {
    uint8_t *copy = g_memdup2 (contents, len);
    LLVMFuzzerTestOneInput (copy, len);
    g_free (copy);
  }
  g_free (contents);
  printf ("%s: ok\n", path);
  return 0;
}

int
main (int argc, char **argv)
{
  int failed = 0, n = 0;
  for (int i = 1; i < argc; i++) {
    if (g_file_test (argv[i], G_FILE_TEST_IS_DIR)) {
      GDir *dir = g_dir_open (argv[i], 0, NULL);
      const char *name;
      GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (names, g_build_filename (argv[i], name, NULL));
      if (dir != NULL)
        g_dir_close (dir);
      for (guint k = 0; k < names->len; k++, n++)
        failed |= replay_file (names->pdata[k]);
      g_ptr_array_unref (names);
    } else {
      failed |= replay_file (argv[i]);
      n++;
    }
  }
  /* An empty corpus is a mistake in the build, not a pass. */
  if (n == 0) {
    fprintf (stderr, "no input replayed\n");
    return 1;
  }
  return failed;
}
#endif
