/* gst-prima: `prima profile`: measure this device for the scheduler.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <unistd.h>

#include "cli-args.h"
#include "prima-commands.h"
#include "halda-io.h"
#include "profiler.h"

static void
show_progress (const char *message, int step, int n_steps, gpointer user_data)
{
  fprintf (stderr, "[%2d/%d] %s\n", step, n_steps, message);
  fflush (stderr);
}

int
prima_cmd_profile (int argc, char **argv)
{
  const char *model_path = NULL, *name = NULL, *disk_dir = NULL;
  int n_threads = 0;
  gboolean json = FALSE, array = FALSE, head = FALSE, no_disk = FALSE, quiet = FALSE, help = FALSE;
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &model_path, "FILE",
      N_("measure the weight types of this GGUF and the disk that holds it (default: every type, disk of .)")},
    {"-t,--threads", CLI_INT, &n_threads, "N", N_("threads, 1 to 1024 (default: all cores)"), CLI_RANGE (1, CLI_MAX_THREADS)},
    {"--json", CLI_FLAG, &json, NULL, N_("print the device object that 'prima plan --profiles' reads")},
    {"--array", CLI_FLAG, &array, NULL, N_("with --json: wrap it in an array (a profiles file of one device)")},
    {"--name", CLI_STRING, &name, "NAME", N_("device name in the profile (default: the host name)")},
    {"--head", CLI_FLAG, &head, NULL, N_("mark the device as the head (rank 0) in the JSON")},
    {"--disk-dir", CLI_STRING, &disk_dir, "DIR", N_("measure the disk of DIR (a temporary file is written there)")},
    {"--no-disk", CLI_FLAG, &no_disk, NULL, N_("skip the disk test")},
    {"-q,--quiet", CLI_FLAG, &quiet, NULL, N_("no progress lines on stderr")},
  };
  prima_profile_options opt;
  prima_profile prof;
  prima_model *model = NULL;
  GError *error = NULL;

  if (!cli_parse ("profile", "[-m MODEL] [--json] [-t N]", options, G_N_ELEMENTS (options), argc, argv, &help,
          NULL))
    return 2;
  if (help)
    return 0;
  if (n_threads < 0) {
    fprintf (stderr, _("prima profile: -t takes a number >= 0\n"));
    return 2;
  }
  prima_profile_options_init (&opt);
  opt.n_threads = n_threads;
  opt.disk_dir = disk_dir;
  opt.skip_disk = no_disk;
  if (!quiet)
    opt.progress = show_progress;
  if (model_path) {
    /* The types the solver will ask for (those of the layers and the output
     * head) in the shapes of the model's matrices. */
    if (!prima_open_model ("profile", model_path, &model, NULL))
      return 1;
    prima_profile_options_from_model (&opt, model);
    opt.model_path = model_path;
    prima_model_free (model);
  }
  if (!prima_profile_measure (&opt, &prof, &error)) {
    fprintf (stderr, _("prima profile: %s\n"), error->message);
    g_error_free (error);
    return 1;
  }
  if (name)
    g_strlcpy (prof.name, name, sizeof prof.name);
  if (json) {
    JsonNode *obj = prima_profile_to_json (&prof, head), *root = obj;
    char *text;
    if (array) {
      JsonArray *a = json_array_new ();
      json_array_add_element (a, obj);
      root = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (root, a);
    }
    text = prima_profile_json_text (root);
    fputs (text, stdout);
    g_free (text);
    json_node_unref (root);
  } else {
    prima_profile_print (stdout, &prof);
  }
  return 0;
}
