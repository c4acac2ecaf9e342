/* gst-prima: `prima worker`: one device (rank >= 1) of a pipelined ring, with
 * prima.cpp's flags. A service: it waits for a head, takes part in its setup
 * round, fills pipelines/worker.pipeline from the plan and runs it until the
 * head's ordered stop or a failure of the ring, then waits for the next head,
 * its model still mapped (docs/ring.md, "A ring as a service"). Its own
 * failures (NaN weights, out of memory, an unreadable model) end it (exit 1)
 * after it told the ring; --once serves one head (exit 0 after its stop, 1
 * after a failure of the ring).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <signal.h>
#include <glib/gi18n-lib.h>
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

/* Ctrl-C: while a data pipeline runs, the bus loop stops it in order; while
 * the worker waits for a head, nothing needs undoing and it just exits. */
static void
catch_signals (gboolean catch)
{
  struct sigaction sa = { 0 };

  sa.sa_handler = catch ? on_signal : SIG_DFL;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
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
    fprintf (stderr, _("prima worker: %s (PRIMA_WORKER_TEST_SIGNAL)\n"), spec);
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

/* How one head's pipeline ended. */
typedef enum {
  HEAD_STOPPED,                 /* the head's ordered stop */
  HEAD_RING_FAILED,             /* a lost peer, a relayed error: the ring's, not ours */
  HEAD_OWN_FAILURE,             /* this device failed (told the ring) */
  HEAD_INTERRUPTED,             /* SIGINT, SIGTERM */
} HeadEnd;

/* An error posted by the ring's own elements is a failure of the ring
 * (they passed it on already); any other element's is this device's. */
static gboolean
from_ring_element (GstElement *pipeline, GstMessage *msg)
{
  static const char *const names[] = { "ring-in", "ring-out" };
  gboolean ring = FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (names) && !ring; i++) {
    GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), names[i]);
    ring = e && GST_MESSAGE_SRC (msg) == GST_OBJECT (e);
    gst_clear_object (&e);
  }
  return ring;
}

/* After the setup round the head connects within a moment; a data server
 * that has no device before it answers a new head's setup client "not
 * serving a head yet" (503), which that head waits out. */
#define RING_FORM_TIMEOUT_S 5

/* Runs the bus until end-of-stream, an error or a signal; *why: the error. */
static HeadEnd
run_worker (GstElement *pipeline, int rank, char **why)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  int status = -1;

  gint64 start = g_get_monotonic_time ();
  gboolean in_connected = FALSE, out_connected = FALSE;

  *why = NULL;
  while (status < 0) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT | GST_MESSAGE_INFO);
    if (stop_requested) {
      status = HEAD_INTERRUPTED;
      gst_clear_message (&msg);
      break;
    }
    /* A head that failed after the setup round (or whose ring was re-formed
     * without us) never connects: its ring is not coming, and holding the
     * port would refuse the next head as "serving another head". */
    if (!(in_connected && out_connected)
        && g_get_monotonic_time () - start > RING_FORM_TIMEOUT_S * G_USEC_PER_SEC) {
      status = HEAD_RING_FAILED;
      *why = g_strdup_printf ("the data ring did not form within %d s: no connection %s", RING_FORM_TIMEOUT_S,
          in_connected ? "to the next device" : "from the device before this one");
      gst_clear_message (&msg);
      break;
    }
    if (msg == NULL)
      continue;
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_ERROR:{
        GError *err = NULL;
        gchar *debug = NULL;
        gst_message_parse_error (msg, &err, &debug);
        if (from_ring_element (pipeline, msg)) {
          status = HEAD_RING_FAILED;
        } else {
          fprintf (stderr, _("prima worker %d: %s\n"), rank, err->message);
          tell_the_ring (pipeline, msg, rank, err->message);
          status = HEAD_OWN_FAILURE;
        }
        if (debug && g_getenv ("PRIMA_DEBUG"))
          fprintf (stderr, _("prima worker %d: %s\n"), rank, debug);
        *why = g_strdup (err->message);
        g_error_free (err);
        g_free (debug);
        break;
      }
      case GST_MESSAGE_INFO:{
        GError *err = NULL;
        gst_message_parse_info (msg, &err, NULL);
        fprintf (stderr, _("prima worker %d: %s\n"), rank, err->message);
        g_error_free (err);
        break;
      }
      case GST_MESSAGE_EOS:
        status = HEAD_STOPPED;
        break;
      case GST_MESSAGE_ELEMENT:{
        const gchar *event = NULL, *text = NULL, *from = GST_OBJECT_NAME (GST_MESSAGE_SRC (msg));
        gboolean listening, connected;
        if (!prima_message_parse_ring (msg, &event, NULL, NULL, &text) || event == NULL)
          break;
        listening = strcmp (event, "listening") == 0;
        connected = strcmp (event, "connected") == 0;
        in_connected |= connected && g_strcmp0 (from, "ring-in") == 0;
        out_connected |= connected && g_strcmp0 (from, "ring-out") == 0;
        if (listening || connected)
          fprintf (stderr, _("prima worker %d: %s%s\n"), rank, text, listening ? " listening" : "");
        break;
      }
      default:
        break;
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  return (HeadEnd) status;
}

/* The flags a head cannot change, for every head this worker serves. */
typedef struct {
  int world, rank, port, n_ctx, n_threads;
  const char *next;
  const char *model;
  const char *cluster_key, *cluster_key_file;
  prima_cluster_key *key;
  PrimaMemoryOptions *mem;
  gboolean verbose;
} Worker;

/* One head: its setup round, then the data pipeline until it ends.
 * Returns how it ended; *why: the reason of a failure. A setup round that
 * fails because of this device (it cannot listen, profile, read the
 * model) is this device's failure; one the head or the others end is the
 * ring's. */
static HeadEnd
serve_head (Worker *w, int head, char **why, gboolean *in_setup)
{
  GstElement *pipeline = prima_pipeline_load ("worker", "worker.pipeline");
  PrimaRingSetup setup = { 0 };
  PrimaRingSetupArgs sa = { .command = "worker", .world = w->world, .rank = w->rank, .port = w->port,
    .next_host = w->next, .key = w->key, .model_path = w->model, .n_threads = w->n_threads };
  HeadEnd end;

  *why = NULL;
  *in_setup = TRUE;
  if (pipeline == NULL) {
    *why = g_strdup ("cannot load the worker's pipeline");
    return HEAD_OWN_FAILURE;
  }
  /* The setup round (scheduler/ring-setup.h): profiles, the head's plan, and our
   * place in the data ring. After loading the pipeline, so that its memory is
   * not counted as available. */
  if (!prima_ring_setup_run (&sa, &setup)) {
    end = setup.local_failure ? HEAD_OWN_FAILURE : HEAD_RING_FAILED;
    *why = g_strdup (setup.error);
    goto out;
  }
  *in_setup = FALSE;
  if (setup.rank < 0) {
    fprintf (stderr, _("prima worker %d: the plan gives this device no layer; it leaves the ring\n"), w->rank);
    end = HEAD_STOPPED;
    goto out;
  }
  /* in the data ring: the plan's devices, renumbered; our port stays */
  prima_pipeline_set (pipeline, "ring-in", "port", (guint) setup.port, "rank", (guint) setup.rank, "peer-rank",
      (setup.rank + setup.world - 1) % setup.world, NULL);
  prima_pipeline_set (pipeline, "ring-out", "url", setup.next_url, "rank", (guint) setup.rank, "peer-rank",
      (setup.rank + 1) % setup.world, NULL);
  prima_pipeline_set (pipeline, "layers", "model", w->model, "windows", "plan", "context-size", MAX (w->n_ctx, 0),
      "threads", MAX (w->n_threads, 0), NULL);
  prima_memory_options_apply (w->mem, pipeline);
  prima_pipeline_show_loading (pipeline, w->verbose);
  add_test_signal (pipeline);
  if (w->cluster_key) {
    prima_pipeline_set (pipeline, "ring-in", "cluster-key", w->cluster_key, NULL);
    prima_pipeline_set (pipeline, "ring-out", "cluster-key", w->cluster_key, NULL);
  } else if (w->cluster_key_file) {
    prima_pipeline_set (pipeline, "ring-in", "cluster-key-file", w->cluster_key_file, NULL);
    prima_pipeline_set (pipeline, "ring-out", "cluster-key-file", w->cluster_key_file, NULL);
  }
  if (setup.rank != w->rank)
    fprintf (stderr, _("prima worker %d: rank %d of %d in the data ring, next at %s\n"), w->rank, setup.rank,
        setup.world, setup.next_url);
  if (w->verbose)
    fprintf (stderr, ngettext ("prima worker %d: head %d: the model was mapped %u time by this process\n",
            "prima worker %d: head %d: the model was mapped %u times by this process\n", prima_model_load_count ()),
        w->rank, head, prima_model_load_count ());
  catch_signals (TRUE);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    end = run_worker (pipeline, w->rank, why);  /* takes the error */
    if (end == HEAD_STOPPED) {
      end = HEAD_OWN_FAILURE;
      *why = g_strdup ("the pipeline could not start");
    }
  } else {
    end = run_worker (pipeline, w->rank, why);
  }
  if (end == HEAD_STOPPED && w->verbose) {
    /* before the pipeline stops: the contexts are still alive */
    GString *s = g_string_new (NULL);
    prima_context_memory_report (s);
    fputs (s->str, stderr);
    g_string_free (s, TRUE);
  }
out:
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  catch_signals (FALSE);
  prima_ring_setup_clear (&setup);
  return end;
}

int
prima_cmd_worker (int argc, char **argv)
{
  const char *model_path = NULL;
  PrimaMemoryFlags mem_flags = { 0 };
  PrimaMemoryOptions mem;
  PrimaRingOptions ring = { .rank = -1, .port = PRIMA_RING_DEFAULT_PORT };
  int n_ctx = 0, n_threads = 0;
  gboolean help, verbose = FALSE, once = FALSE;
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &model_path, "FILE", N_("GGUF model (default: the embedded model)")},
    {"-t,--threads", CLI_INT, &n_threads, "N", N_("threads, 0 to 1024 (default 0: all cores, as the head passes it)"),
      CLI_RANGE (0, CLI_MAX_THREADS)},
    {"-c,--ctx-size", CLI_INT, &n_ctx, "N", N_("context size (default 0: the head's plan, at most the model's)"),
      CLI_RANGE (0, G_MAXINT)},
    {"--once", CLI_FLAG, &once, NULL, N_("serve one head and exit (0 after its ordered stop, 1 when the ring "
          "failed); without it the worker waits for the next head, its model still mapped")},
    {"--verbose", CLI_FLAG, &verbose, NULL, N_("memory accounting after each head (as prima run --verbose)")},
  };
  cli_option ring_storage[PRIMA_RING_GROUP_MAX], mem_storage[PRIMA_MEMORY_GROUP_MAX];
  const cli_group groups[] = {
    prima_ring_option_group (&ring, PRIMA_RING_ROLE_WORKER, ring_storage),
    {NULL, options, G_N_ELEMENTS (options)},
    prima_memory_option_group (&mem_flags, mem_storage),
  };
  Worker w = { 0 };
  prima_model *held = NULL;
  GError *err = NULL;
  int status = 1, next_rank;
  char *model = NULL;

  if (!cli_parse_groups ("worker", "--world N --rank R [--next IP[:PORT]] [--port BASE] [-m MODEL] [--once]",
          groups, G_N_ELEMENTS (groups), argc, argv, &help, NULL))
    return 2;
  if (help)
    return 0;
  if (verbose)
    cli_show_messages ();
  if (ring.world < 2 || ring.rank < 1 || ring.rank >= ring.world || ring.port <= 0
      || ring.port + ring.world > 65535) {
    fprintf (stderr, _("prima worker: needs --world N (>= 2) and --rank R (1 .. N-1), and a usable --port\n"));
    return 2;
  }
  /* the same memory options as prima run: properties of the layers element */
  if (!prima_memory_options_parse ("worker", &mem_flags, &mem))
    return 2;
  /* the baseline of memory pressure: before anything is mapped */
  prima_memwatch_global_start ();
  model = g_strdup (model_path ? model_path : prima_default_model_path ());
  if (!g_file_test (model, G_FILE_TEST_EXISTS)) {
    fprintf (stderr, _("prima worker: %s: no such model file\n"), model);
    goto out;
  }
  /* A taken port is the user's to fix: say whose it is (the setup would
   * only say that it cannot listen) */
  {
    char *busy = prima_port_busy (ring.port + ring.rank);
    if (busy) {
      fprintf (stderr, _("prima worker %d: cannot listen on port %d (--port %d + rank %d): %s\n"), ring.rank,
          ring.port + ring.rank, ring.port, ring.rank, busy);
      g_free (busy);
      goto out;
    }
  }
  next_rank = (ring.rank + 1) % ring.world;
  w.world = ring.world;
  w.rank = ring.rank;
  w.port = ring.port;
  w.n_ctx = n_ctx;
  w.n_threads = n_threads;
  w.next = ring.next ? ring.next : next_rank == 0 && ring.master ? ring.master : "127.0.0.1";
  w.model = model;
  w.cluster_key = ring.cluster_key;
  w.cluster_key_file = ring.cluster_key_file;
  w.mem = &mem;
  w.verbose = verbose;
  if (!prima_gst_init ("worker"))
    goto out;
  w.key = prima_cluster_key_resolve (w.cluster_key, w.cluster_key_file, &err);
  if (w.key == NULL) {
    fprintf (stderr, _("prima worker %d: %s\n"), w.rank, err->message);
    g_error_free (err);
    goto out;
  }
  /* Held for the worker's life: every head's layers element (and the setup
   * rounds) get this mapping again instead of mapping the file anew, so
   * what the last head paged in stays resident (model.h). */
  held = prima_model_load (model, &err);
  if (held == NULL) {
    fprintf (stderr, _("prima worker %d: %s\n"), w.rank, err->message);
    g_error_free (err);
    goto out;
  }
  signal (SIGPIPE, SIG_IGN);
  {
    char *to = prima_ring_next_address (w.next, w.port, next_rank);
    fprintf (stderr, _("prima worker %d: of %d, next rank %d at %s, waiting for the head\n"), w.rank, w.world,
        next_rank, to);
    g_free (to);
  }
  for (int head = 1;; head++) {
    char *why = NULL;
    gboolean in_setup;
    HeadEnd end = serve_head (&w, head, &why, &in_setup);
    if (end == HEAD_INTERRUPTED) {
      status = 130;
    } else if (end == HEAD_OWN_FAILURE) {
      status = 1;
    } else if (once) {
      if (end == HEAD_STOPPED)
        fprintf (stderr, _("prima worker %d: stopped\n"), w.rank);
      else if (why)
        fprintf (stderr, _("prima worker %d: %s\n"), w.rank, why);
      status = end == HEAD_STOPPED ? 0 : 1;
    } else {
      if (end == HEAD_STOPPED)
        fprintf (stderr, _("prima worker %d: the head left (stopped); waiting for the next head\n"), w.rank);
      else {
        /* the ring elements' errors say "The ring failed: ..." themselves */
        const char *reason = why ? why : "no reason given";
        if (g_ascii_strncasecmp (reason, "the ring failed: ", 17) == 0)
          reason += 17;
        fprintf (stderr, _("prima worker %d: the head left (the ring failed: %s); waiting for the next head\n"),
            w.rank, reason);
      }
      g_free (why);
      /* a head whose setup round fails at once (a wrong key, another
       * --world) must not make this a busy loop; after a data ring the
       * next round may be the head's recovery round: no delay */
      if (end != HEAD_STOPPED && in_setup)
        g_usleep (G_USEC_PER_SEC / 2);
      continue;
    }
    g_free (why);
    break;
  }

out:
  if (held)
    prima_model_free (held);
  if (w.key)
    prima_cluster_key_unref (w.key);
  g_free (model);
  return status;
}
