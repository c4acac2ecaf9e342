/* gst-prima: `prima worker`: one device (rank >= 1) of a pipelined ring, with
 * prima.cpp's flags. It fills pipelines/worker.pipeline and runs it until the
 * head's ordered stop (exit 0) or a failure of the ring (exit 1).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "prima-commands.h"
#include "prima-pipeline.h"
#include "cli-args.h"
#include "cmd-options.h"
#include "ring-head.h"
#include "ring-setup.h"
#include "prima-caps.h"
#include "prima-events.h"
#include "forward.h"
#include "memstat.h"

static volatile sig_atomic_t stop_requested;

static void
on_signal (int sig)
{
  stop_requested = 1;
}

/* This device failed: its neighbours hear why (the head through them),
 * before the pipeline stops and its links close. The ring elements' own
 * errors are failures of the ring that they have passed on already. */
static void
tell_the_ring (GstElement *pipeline, GstMessage *msg, int rank, const char *message)
{
  static const char *const names[] = { "ring-in", "ring-out" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), names[i]);
    if (e && GST_MESSAGE_SRC (msg) == GST_OBJECT (e)) {
      gst_object_unref (e);
      return;
    }
    if (e)
      gst_object_unref (e);
  }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), names[i]);
    if (e) {
      gst_element_send_event (e, prima_event_new_device_failed (rank, message));
      gst_object_unref (e);
    }
  }
}

/* For the tests of a lost device (tests/ring/test-ring-recovery.sh):
 * PRIMA_WORKER_TEST_SIGNAL=KILL@P or STOP@P makes this worker send itself
 * SIGKILL or SIGSTOP when it is handed the hidden states of position P,
 * so a test can lose a device at an exact token of a fast generation. */
static GstPadProbeReturn
test_signal_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  const gchar *spec = user_data;
  int sig = g_str_has_prefix (spec, "KILL@") ? SIGKILL : g_str_has_prefix (spec, "STOP@") ? SIGSTOP : 0;
  gint64 pos = g_ascii_strtoll (spec + 5, NULL, 10);
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;
  PrimaHeader h;

  if (sig == 0 || !gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_PAD_PROBE_OK;
  if (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_HIDDEN, &h) && h.pos0 <= pos
      && pos < (gint64) h.pos0 + h.n_tokens) {
    fprintf (stderr, "prima worker: %s (PRIMA_WORKER_TEST_SIGNAL)\n", spec);
    raise (sig);
  }
  gst_buffer_unmap (buf, &map);
  return GST_PAD_PROBE_OK;
}

static void
add_test_signal (GstElement *pipeline)
{
  const gchar *spec = g_getenv ("PRIMA_WORKER_TEST_SIGNAL");
  GstElement *layers;
  GstPad *pad;

  if (spec == NULL || *spec == '\0')
    return;
  layers = gst_bin_get_by_name (GST_BIN (pipeline), "layers");
  pad = layers ? gst_element_get_static_pad (layers, "sink") : NULL;
  if (pad)
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, test_signal_probe, (gpointer) spec, NULL);
  gst_clear_object (&pad);
  gst_clear_object (&layers);
}

/* Runs the bus until end-of-stream (0), an error (1) or a signal (130). */
static int
run_worker (GstElement *pipeline, int rank)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  int status = -1;

  while (status < 0) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT | GST_MESSAGE_INFO);
    if (stop_requested) {
      status = 130;
      break;
    }
    if (msg == NULL)
      continue;
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_ERROR:{
        GError *err = NULL;
        gchar *debug = NULL;
        gst_message_parse_error (msg, &err, &debug);
        fprintf (stderr, "prima worker %d: %s\n", rank, err->message);
        tell_the_ring (pipeline, msg, rank, err->message);
        if (debug && g_getenv ("PRIMA_DEBUG"))
          fprintf (stderr, "prima worker %d: %s\n", rank, debug);
        g_error_free (err);
        g_free (debug);
        status = 1;
        break;
      }
      case GST_MESSAGE_INFO:{
        GError *err = NULL;
        gst_message_parse_info (msg, &err, NULL);
        fprintf (stderr, "prima worker %d: %s\n", rank, err->message);
        g_error_free (err);
        break;
      }
      case GST_MESSAGE_EOS:
        fprintf (stderr, "prima worker %d: stopped\n", rank);
        status = 0;
        break;
      case GST_MESSAGE_ELEMENT:{
        const gchar *event = NULL, *text = NULL;
        if (prima_message_parse_ring (msg, &event, NULL, NULL, &text) && event
            && (strcmp (event, "listening") == 0 || strcmp (event, "connected") == 0))
          fprintf (stderr, "prima worker %d: %s%s\n", rank, text, strcmp (event, "listening") == 0 ? " listening" : "");
        break;
      }
      default:
        break;
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  return status;
}

int
prima_cmd_worker (int argc, char **argv)
{
  const char *model_path = NULL, *master, *next, *cluster_key, *cluster_key_file;
  PrimaMemoryFlags mem_flags = { 0 };
  PrimaMemoryOptions mem;
  PrimaRingOptions ring = { .rank = -1, .port = PRIMA_RING_DEFAULT_PORT };
  int world, rank, port, n_ctx = 0, n_threads = 0;
  gboolean help, verbose = FALSE;
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &model_path, "FILE", "GGUF model (default: the embedded model)"},
    {"-t,--threads", CLI_INT, &n_threads, "N", "threads, 0 to 1024 (default 0: all cores, as the head passes it)",
      CLI_RANGE (0, CLI_MAX_THREADS)},
    {"-c,--ctx-size", CLI_INT, &n_ctx, "N", "context size (default 0: the head's plan, at most the model's)",
      CLI_RANGE (0, G_MAXINT)},
    {"--verbose", CLI_FLAG, &verbose, NULL, "memory accounting at the end (as prima run --verbose)"},
  };
  cli_option ring_storage[PRIMA_RING_GROUP_MAX], mem_storage[PRIMA_MEMORY_GROUP_MAX];
  const cli_group groups[] = {
    prima_ring_option_group (&ring, PRIMA_RING_ROLE_WORKER, ring_storage),
    {NULL, options, G_N_ELEMENTS (options)},
    prima_memory_option_group (&mem_flags, mem_storage),
  };
  GstElement *pipeline = NULL;
  char *url = NULL, *model = NULL;
  int status = 1, next_rank;
  struct sigaction sa = { 0 };
  PrimaRingSetup setup = { 0 };

  if (!cli_parse_groups ("worker", "--world N --rank R [--next IP] [--port BASE] [-m MODEL]", groups,
          G_N_ELEMENTS (groups), argc, argv, &help, NULL))
    return 2;
  if (help)
    return 0;
  world = ring.world;
  rank = ring.rank;
  port = ring.port;
  master = ring.master;
  next = ring.next;
  cluster_key = ring.cluster_key;
  cluster_key_file = ring.cluster_key_file;
  if (verbose)
    cli_show_messages ();
  if (world < 2 || rank < 1 || rank >= world || port <= 0 || port + world > 65535) {
    fprintf (stderr, "prima worker: needs --world N (>= 2) and --rank R (1 .. N-1), and a usable --port\n");
    return 2;
  }
  /* the same memory options as prima run: properties of the layers element */
  if (!prima_memory_options_parse ("worker", &mem_flags, &mem))
    return 2;
  /* the baseline of memory pressure: before anything is mapped */
  prima_memwatch_global_start ();
  model = g_strdup (model_path ? model_path : prima_default_model_path ());
  if (!g_file_test (model, G_FILE_TEST_EXISTS)) {
    fprintf (stderr, "prima worker: %s: no such model file\n", model);
    goto out;
  }
  /* A taken port is the user's to fix: say whose it is (the setup would
   * only say that it cannot listen) */
  {
    char *busy = prima_port_busy (port + rank);
    if (busy) {
      fprintf (stderr, "prima worker %d: cannot listen on port %d (--port %d + rank %d): %s\n", rank, port + rank,
          port, rank, busy);
      g_free (busy);
      goto out;
    }
  }
  next_rank = (rank + 1) % world;
  if (next == NULL)
    next = next_rank == 0 && master ? master : "127.0.0.1";
  if (!prima_gst_init ("worker"))
    goto out;
  pipeline = prima_pipeline_load ("worker", "worker.pipeline");
  if (pipeline == NULL)
    goto out;
  /* The setup round (scheduler/ring-setup.h): profiles, the head's plan, and our
   * place in the data ring; a device the plan leaves out exits here. After
   * loading the pipeline, so that its memory is not counted as available. */
  {
    GError *err = NULL;
    prima_cluster_key *ck = prima_cluster_key_resolve (cluster_key, cluster_key_file, &err);
    PrimaRingSetupArgs sa = { .command = "worker", .world = world, .rank = rank, .port = port,
      .next_host = next, .key = ck, .model_path = model, .n_threads = n_threads };
    gboolean ok;
    if (ck == NULL) {
      fprintf (stderr, "prima worker %d: %s\n", rank, err->message);
      g_error_free (err);
      goto out;
    }
    fprintf (stderr, "prima worker %d: of %d, next rank %d at %s:%d, waiting for the head\n", rank, world,
        next_rank, next, port + next_rank);
    ok = prima_ring_setup_run (&sa, &setup);
    prima_cluster_key_unref (ck);
    if (!ok)
      goto out;
    if (setup.rank < 0) {
      fprintf (stderr, "prima worker %d: the plan gives this device no layer; it leaves the ring\n", rank);
      status = 0;
      goto out;
    }
  }
  /* in the data ring: the plan's devices, renumbered; our port stays */
  url = g_strdup (setup.next_url);
  prima_pipeline_set (pipeline, "ring-in", "port", (guint) setup.port, "rank", (guint) setup.rank, "peer-rank",
      (setup.rank + setup.world - 1) % setup.world, NULL);
  prima_pipeline_set (pipeline, "ring-out", "url", url, "rank", (guint) setup.rank, "peer-rank",
      (setup.rank + 1) % setup.world, NULL);
  prima_pipeline_set (pipeline, "layers", "model", model, "windows", "plan", "context-size", MAX (n_ctx, 0),
      "threads", MAX (n_threads, 0), NULL);
  prima_memory_options_apply (&mem, pipeline);
  prima_pipeline_show_loading (pipeline, verbose);
  add_test_signal (pipeline);
  if (cluster_key) {
    prima_pipeline_set (pipeline, "ring-in", "cluster-key", cluster_key, NULL);
    prima_pipeline_set (pipeline, "ring-out", "cluster-key", cluster_key, NULL);
  } else if (cluster_key_file) {
    prima_pipeline_set (pipeline, "ring-in", "cluster-key-file", cluster_key_file, NULL);
    prima_pipeline_set (pipeline, "ring-out", "cluster-key-file", cluster_key_file, NULL);
  }

  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);

  if (setup.rank != rank)
    fprintf (stderr, "prima worker %d: rank %d of %d in the data ring, next at %s\n", rank, setup.rank, setup.world,
        url);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    run_worker (pipeline, rank);        /* prints the error */
    goto out;
  }
  status = run_worker (pipeline, rank);
  if (status == 0 && verbose) {
    /* before the pipeline stops: the contexts are still alive */
    GString *s = g_string_new (NULL);
    prima_context_memory_report (s);
    fputs (s->str, stderr);
    g_string_free (s, TRUE);
  }

out:
  if (pipeline) {
    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_object_unref (pipeline);
  }
  prima_ring_setup_clear (&setup);
  g_free (url);
  g_free (model);
  return status;
}
