/* gst-prima: primad, the D-Bus daemon (docs/dbus.md). Owns org.gstprima.Prima1
 * on the session bus (--system: the system bus) and serves one PrimaEngine:
 * generations and chat turns as job objects, their text as batched Tokens
 * signals, and on request the OpenAI-compatible HTTP API on the same engine.
 * One GMainLoop runs D-Bus, the engine's signals (and so its GStreamer bus
 * over a ring) and the HTTP server; SIGTERM and SIGINT stop it in order.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <locale.h>
#include <glib/gi18n-lib.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <gio/gio.h>

#include "prima-engine.h"
#include "http-api.h"
#include "prima-pipeline.h"
#include "ring-head.h"
#include "cli-args.h"
#include "primad-dbus.h"

#define BUS_NAME "org.gstprima.Prima1"
#define OBJECT_PATH "/org/gstprima/Prima1"
#define JOBS_PATH OBJECT_PATH "/jobs/"
#define DEFAULT_MODEL "TinyStories-656K-f32.gguf"
/* one Tokens signal per job per this many microseconds at most */
#define TOKENS_INTERVAL_US (50 * G_TIME_SPAN_MILLISECOND)
/* finished jobs stay on the bus for their Text: this many, this long */
#define KEEP_FINISHED 100
#define KEEP_FINISHED_US (10 * G_TIME_SPAN_MINUTE)
/* a worker that exited on its own is started again after this pause */
#define WORKER_RESTART_S 5

/* org.gstprima.Prima1.Error.* */
#define PRIMAD_ERROR (primad_error_quark ())
typedef enum {
  PRIMAD_ERROR_FAILED,
  PRIMAD_ERROR_INVALID,
  PRIMAD_ERROR_TOO_LONG,
  PRIMAD_ERROR_BUSY,
  PRIMAD_ERROR_STOPPED,
  PRIMAD_ERROR_NO_MODEL,
  PRIMAD_ERROR_STATE,
  PRIMAD_ERROR_NOT_FOUND,
} PrimadError;

static const GDBusErrorEntry primad_error_entries[] = {
  {PRIMAD_ERROR_FAILED, BUS_NAME ".Error.Failed"},
  {PRIMAD_ERROR_INVALID, BUS_NAME ".Error.Invalid"},
  {PRIMAD_ERROR_TOO_LONG, BUS_NAME ".Error.TooLong"},
  {PRIMAD_ERROR_BUSY, BUS_NAME ".Error.Busy"},
  {PRIMAD_ERROR_STOPPED, BUS_NAME ".Error.Stopped"},
  {PRIMAD_ERROR_NO_MODEL, BUS_NAME ".Error.NoModel"},
  {PRIMAD_ERROR_STATE, BUS_NAME ".Error.State"},
  {PRIMAD_ERROR_NOT_FOUND, BUS_NAME ".Error.NotFound"},
};

static GQuark
primad_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("primad-error-quark", &quark, primad_error_entries,
      G_N_ELEMENTS (primad_error_entries));
  return (GQuark) quark;
}

typedef struct _Daemon Daemon;

typedef struct {
  Daemon *d;
  guint64 id;
  char *path;
  PrimaJob *job;                /* NULL once finished */
  PrimaDBusPrima1Job *skel;
  GString *pending;             /* text not yet sent as Tokens */
  guint pending_tokens;
  gint64 last_emit_us;
  guint flush_id;
  gint64 finished_us;
} Job;

struct _Daemon {
  GMainLoop *loop;
  GDBusConnection *conn;
  PrimaDBusPrima1 *iface;
  guint owner_id;
  gboolean acquired, stopping;
  gboolean busy;                /* loading or unloading */
  int exit_status;
  PrimaEngine *engine;
  PrimaHttpApi *http;
  /* what the engine's options point to, kept while it lives */
  char *model_path, *chat_template, *ring_next, *ring_lw, *ring_key_file;
  PrimaRingOptions ring;
  guint64 next_job_id;
  GHashTable *jobs;             /* path -> Job */
  GQueue finished;              /* Job, oldest first */
  guint prune_id;
  GSubprocess *worker;
  char **worker_argv;
  guint worker_restart_id;
  gboolean worker_leaving;
};

/* --- jobs ------------------------------------------------------------------------------------- */

static void
job_free (Job *j)
{
  if (j->flush_id)
    g_source_remove (j->flush_id);
  if (j->job) {
    g_signal_handlers_disconnect_by_data (j->job, j);
    g_object_unref (j->job);
  }
  g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (j->skel));
  g_object_unref (j->skel);
  g_string_free (j->pending, TRUE);
  g_free (j->path);
  g_free (j);
}

/* Sends the text gathered since the last Tokens signal. */
static void
job_flush (Job *j)
{
  if (j->flush_id) {
    g_source_remove (j->flush_id);
    j->flush_id = 0;
  }
  if (j->pending->len == 0)
    return;
  prima_dbus_prima1_job_set_text (j->skel, prima_job_get_text (j->job));
  prima_dbus_prima1_job_set_predicted_tokens (j->skel, prima_job_get_n_predicted (j->job));
  prima_dbus_prima1_emit_tokens (j->d->iface, j->path, j->pending->str, j->pending_tokens);
  g_string_truncate (j->pending, 0);
  j->pending_tokens = 0;
  j->last_emit_us = g_get_monotonic_time ();
}

static gboolean
job_flush_due (gpointer data)
{
  Job *j = data;

  j->flush_id = 0;
  job_flush (j);
  return G_SOURCE_REMOVE;
}

static void
on_job_started (PrimaJob *job, Job *j)
{
  prima_dbus_prima1_job_set_state (j->skel, "running");
  prima_dbus_prima1_job_set_prompt_tokens (j->skel, prima_job_get_n_prompt (job));
}

/* Batches the deltas: at once when the last signal is 50 ms old, else when it will be. */
static void
on_job_text (PrimaJob *job, const char *delta, guint n_tokens, Job *j)
{
  gint64 now = g_get_monotonic_time (), due = j->last_emit_us + TOKENS_INTERVAL_US;

  g_string_append (j->pending, delta);
  j->pending_tokens += n_tokens;
  if (j->flush_id)
    return;
  if (now >= due)
    job_flush (j);
  else
    j->flush_id = g_timeout_add_full (G_PRIORITY_DEFAULT, (due - now + 999) / 1000, job_flush_due, j, NULL);
}

static void
refresh_device_stats (Daemon *d)
{
  PrimaEngineStats st;
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  if (d->engine) {
    prima_engine_get_stats (d->engine, &st);
    for (guint i = 0; i < st.n_devices; i++) {
      const PrimaEngineDeviceStats *dev = &st.devices[i];
      g_variant_builder_open (&b, G_VARIANT_TYPE ("a{sv}"));
      g_variant_builder_add (&b, "{sv}", "rank", g_variant_new_int32 (dev->rank));
      g_variant_builder_add (&b, "{sv}", "address", g_variant_new_string (dev->address ? dev->address : ""));
      g_variant_builder_add (&b, "{sv}", "layers", g_variant_new_string (dev->layers ? dev->layers : ""));
      g_variant_builder_add (&b, "{sv}", "compute-seconds", g_variant_new_double (dev->compute_seconds));
      g_variant_builder_add (&b, "{sv}", "hop-seconds", g_variant_new_double (dev->hop_seconds));
      g_variant_builder_add (&b, "{sv}", "rounds", g_variant_new_uint64 (dev->rounds));
      g_variant_builder_close (&b);
    }
    prima_engine_stats_clear (&st);
  }
  prima_dbus_prima1_set_device_stats (d->iface, g_variant_builder_end (&b));
}

/* Drops the finished jobs beyond the newest KEEP_FINISHED and those older than KEEP_FINISHED_US. */
static void
prune_finished (Daemon *d)
{
  gint64 now = g_get_monotonic_time ();
  Job *j;

  while ((j = g_queue_peek_head (&d->finished))
      && (g_queue_get_length (&d->finished) > KEEP_FINISHED || now - j->finished_us > KEEP_FINISHED_US)) {
    g_queue_pop_head (&d->finished);
    g_hash_table_remove (d->jobs, j->path);
  }
}

static gboolean
prune_due (gpointer data)
{
  prune_finished (data);
  return G_SOURCE_CONTINUE;
}

static void
on_job_finished (PrimaJob *job, PrimaFinishReason reason, Job *j)
{
  Daemon *d = j->d;
  const GError *err = prima_job_get_error (job);
  const char *name = prima_finish_reason_name (reason);
  GVariantBuilder stats;

  job_flush (j);
  prima_dbus_prima1_job_set_text (j->skel, prima_job_get_text (job));
  prima_dbus_prima1_job_set_prompt_tokens (j->skel, prima_job_get_n_prompt (job));
  prima_dbus_prima1_job_set_predicted_tokens (j->skel, prima_job_get_n_predicted (job));
  prima_dbus_prima1_job_set_reason (j->skel, name);
  prima_dbus_prima1_job_set_state (j->skel, "finished");

  g_variant_builder_init (&stats, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&stats, "{sv}", "prompt-tokens", g_variant_new_uint32 (prima_job_get_n_prompt (job)));
  g_variant_builder_add (&stats, "{sv}", "predicted-tokens",
      g_variant_new_uint32 (prima_job_get_n_predicted (job)));
  g_variant_builder_add (&stats, "{sv}", "ttft-seconds", g_variant_new_double (prima_job_get_ttft_seconds (job)));
  g_variant_builder_add (&stats, "{sv}", "prompt-seconds",
      g_variant_new_double (prima_job_get_prompt_seconds (job)));
  g_variant_builder_add (&stats, "{sv}", "decode-seconds",
      g_variant_new_double (prima_job_get_decode_seconds (job)));
  if (err)
    g_variant_builder_add (&stats, "{sv}", "error", g_variant_new_string (err->message));
  prima_dbus_prima1_emit_job_finished (d->iface, j->path, name, g_variant_builder_end (&stats));
  g_debug ("job %" G_GUINT64_FORMAT ": %s, %d prompt tokens, %d predicted%s%s", j->id, name,
      prima_job_get_n_prompt (job), prima_job_get_n_predicted (job), err ? ": " : "", err ? err->message : "");

  g_signal_handlers_disconnect_by_data (job, j);
  g_clear_object (&j->job);
  j->finished_us = g_get_monotonic_time ();
  g_queue_push_tail (&d->finished, j);
  prune_finished (d);
  refresh_device_stats (d);
}

static gboolean
on_job_cancel_method (PrimaDBusPrima1Job *skel, GDBusMethodInvocation *inv, Job *j)
{
  if (j->job)
    prima_job_cancel (j->job);
  prima_dbus_prima1_job_complete_cancel (skel, inv);
  return TRUE;
}

static void
set_error_from_engine (GDBusMethodInvocation *inv, const GError *err)
{
  static const int codes[] = {
    [PRIMA_ENGINE_ERROR_FAILED] = PRIMAD_ERROR_FAILED,
    [PRIMA_ENGINE_ERROR_INVALID] = PRIMAD_ERROR_INVALID,
    [PRIMA_ENGINE_ERROR_TOO_LONG] = PRIMAD_ERROR_TOO_LONG,
    [PRIMA_ENGINE_ERROR_BUSY] = PRIMAD_ERROR_BUSY,
    [PRIMA_ENGINE_ERROR_STOPPED] = PRIMAD_ERROR_STOPPED,
  };
  int code = PRIMAD_ERROR_FAILED;

  if (err->domain == PRIMA_ENGINE_ERROR && err->code >= 0 && err->code < (int) G_N_ELEMENTS (codes))
    code = codes[err->code];
  g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, code, err->message);
}

/* --- parameters ----------------------------------------------------------------------------- */

/* An integer of any D-Bus integer type within [lo, hi]. */
static gboolean
get_int (GVariant *v, const char *key, gint64 lo, gint64 hi, gint64 *out, GError **error)
{
  gint64 x;

  if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT32))
    x = g_variant_get_int32 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT32))
    x = g_variant_get_uint32 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT64))
    x = g_variant_get_int64 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT64)) {
    if (g_variant_get_uint64 (v) > G_MAXINT64) {
      g_set_error (error, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("%s is out of range"), key);
      return FALSE;
    }
    x = (gint64) g_variant_get_uint64 (v);
  } else if (g_variant_is_of_type (v, G_VARIANT_TYPE_INT16))
    x = g_variant_get_int16 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_UINT16))
    x = g_variant_get_uint16 (v);
  else if (g_variant_is_of_type (v, G_VARIANT_TYPE_BYTE))
    x = g_variant_get_byte (v);
  else {
    g_set_error (error, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("%s must be an integer, not %s"), key,
        g_variant_get_type_string (v));
    return FALSE;
  }
  if (x < lo || x > hi) {
    g_set_error (error, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("%s is %" PRId64 ", not in %"
        PRId64 " .. %" PRId64), key, x, lo, hi);
    return FALSE;
  }
  *out = x;
  return TRUE;
}

/* A number (double or integer), finite, within [lo, hi]. */
static gboolean
get_double (GVariant *v, const char *key, double lo, double hi, double *out, GError **error)
{
  gint64 i;
  double x;

  if (g_variant_is_of_type (v, G_VARIANT_TYPE_DOUBLE))
    x = g_variant_get_double (v);
  else if (get_int (v, key, G_MININT64, G_MAXINT64, &i, NULL))
    x = (double) i;
  else {
    g_set_error (error, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("%s must be a number, not %s"), key,
        g_variant_get_type_string (v));
    return FALSE;
  }
  if (!(x >= lo && x <= hi)) {
    g_set_error (error, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("%s is %g, not in %g .. %g"), key, x, lo, hi);
    return FALSE;
  }
  *out = x;
  return TRUE;
}

static gboolean
get_string (GVariant *v, const char *key, const char **out, GError **error)
{
  if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING)) {
    g_set_error (error, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("%s must be a string, not %s"), key,
        g_variant_get_type_string (v));
    return FALSE;
  }
  *out = g_variant_get_string (v, NULL);
  return TRUE;
}

static gboolean
unknown_key (const char *key, const char *what, GError **error)
{
  g_set_error (error, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("unknown %s option '%s'"), what, key);
  return FALSE;
}

/* Generate's and Chat's params into p; the stop strings point into params. */
static gboolean
parse_job_params (GVariant *params, PrimaJobParams *p, GPtrArray *stop, GError **error)
{
  GVariantIter it;
  const char *key;
  GVariant *v;
  gboolean ok = TRUE;

  g_variant_iter_init (&it, params);
  while (ok && g_variant_iter_next (&it, "{&sv}", &key, &v)) {
    gint64 i;
    double x;

    if (!strcmp (key, "max-tokens")) {
      if ((ok = get_int (v, key, -1, G_MAXINT, &i, error)))
        p->max_tokens = (int) i;
    } else if (!strcmp (key, "temperature")) {
      if ((ok = get_double (v, key, 0, 100, &x, error)))
        p->sampling.temperature = (float) x;
    } else if (!strcmp (key, "top-p")) {
      if ((ok = get_double (v, key, 0, 1, &x, error)))
        p->sampling.top_p = (float) x;
    } else if (!strcmp (key, "min-p")) {
      if ((ok = get_double (v, key, 0, 1, &x, error)))
        p->sampling.min_p = (float) x;
    } else if (!strcmp (key, "top-k")) {
      if ((ok = get_int (v, key, 0, G_MAXINT, &i, error)))
        p->sampling.top_k = (int) i;
    } else if (!strcmp (key, "seed")) {
      if ((ok = get_int (v, key, 0, G_MAXINT64, &i, error)))
        p->sampling.seed = (guint64) i;
    } else if (!strcmp (key, "ignore-eos")) {
      if (!g_variant_is_of_type (v, G_VARIANT_TYPE_BOOLEAN)) {
        g_set_error (error, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("ignore-eos must be a boolean, not %s"),
            g_variant_get_type_string (v));
        ok = FALSE;
      } else
        p->ignore_eos = g_variant_get_boolean (v);
    } else if (!strcmp (key, "stop")) {
      if (!g_variant_is_of_type (v, G_VARIANT_TYPE_STRING_ARRAY)) {
        g_set_error (error, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("stop must be an array of strings, not %s"),
            g_variant_get_type_string (v));
        ok = FALSE;
      } else {
        GVariantIter sit;
        const char *s;
        g_variant_iter_init (&sit, v);
        while (g_variant_iter_next (&sit, "&s", &s)) {
          if (!*s) {
            g_set_error_literal (error, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("a stop string is empty"));
            ok = FALSE;
            break;
          }
          g_ptr_array_add (stop, (gpointer) s);
        }
      }
    } else
      ok = unknown_key (key, "generation", error);
    g_variant_unref (v);
  }
  if (stop->len) {
    g_ptr_array_add (stop, NULL);
    p->stop = (const char *const *) stop->pdata;
  }
  return ok;
}

/* --- the main interface ---------------------------------------------------------------------- */

static gboolean
need_model (Daemon *d, GDBusMethodInvocation *inv)
{
  if (d->stopping) {
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_STOPPED, _("primad is stopping"));
    return FALSE;
  }
  if (!d->engine) {
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_NO_MODEL,
        _("no model is loaded (LoadModel first)"));
    return FALSE;
  }
  return TRUE;
}

static void
set_state (Daemon *d, const char *state)
{
  prima_dbus_prima1_set_state (d->iface, state);
  /* now, not at the next idle: a client sees "loading" while LoadModel blocks */
  g_dbus_interface_skeleton_flush (G_DBUS_INTERFACE_SKELETON (d->iface));
}

/* Stops HTTP serving and the engine (every job gets JobFinished "cancelled"). */
static void
stop_http (Daemon *d)
{
  PrimaHttpApi *http = g_steal_pointer (&d->http);

  if (!http)
    return;
  prima_http_api_stop (http);
  g_object_unref (http);
  prima_dbus_prima1_set_http_port (d->iface, 0);
  g_message ("HTTP API closed");
}

static void
unload (Daemon *d)
{
  PrimaEngine *engine;

  stop_http (d);
  engine = g_steal_pointer (&d->engine);
  if (!engine)
    return;
  /* it iterates the main context: d->busy keeps other LoadModel and UnloadModel calls out meanwhile */
  d->busy = TRUE;
  prima_engine_stop (engine);
  g_object_unref (engine);
  d->busy = FALSE;
  g_message ("model %s unloaded", d->model_path);
  g_clear_pointer (&d->model_path, g_free);
  g_clear_pointer (&d->chat_template, g_free);
  g_clear_pointer (&d->ring_next, g_free);
  g_clear_pointer (&d->ring_lw, g_free);
  g_clear_pointer (&d->ring_key_file, g_free);
  prima_dbus_prima1_set_model (d->iface, "");
  prima_dbus_prima1_set_plan (d->iface, "");
  prima_dbus_prima1_set_parallel (d->iface, 0);
  refresh_device_stats (d);
}

static gboolean
on_load_model (PrimaDBusPrima1 *iface, GDBusMethodInvocation *inv, const char *path, GVariant *options, Daemon *d)
{
  PrimaEngineOptions eo = { 0 };
  PrimaRingOptions ring = PRIMA_RING_OPTIONS_INIT;
  const char *chat_template = NULL, *next = NULL, *lw = NULL, *key_file = NULL;
  GError *err = NULL;
  GVariantIter it;
  const char *key;
  GVariant *v;
  gboolean ok = TRUE;

  if (d->stopping) {
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_STOPPED, _("primad is stopping"));
    return TRUE;
  }
  if (d->busy) {
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_STATE,
        _("a model is being loaded or unloaded"));
    return TRUE;
  }
  if (d->worker || d->worker_restart_id) {
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_STATE,
        _("this daemon is a ring's worker (LeaveRing first)"));
    return TRUE;
  }
  eo.max_queued = -1;
  ring.port = PRIMA_RING_DEFAULT_PORT;
  g_variant_iter_init (&it, options);
  while (ok && g_variant_iter_next (&it, "{&sv}", &key, &v)) {
    gint64 i;
    if (!strcmp (key, "context-size")) {
      if ((ok = get_int (v, key, 0, G_MAXINT, &i, &err)))
        eo.n_ctx = (int) i;
    } else if (!strcmp (key, "threads")) {
      if ((ok = get_int (v, key, 0, 1024, &i, &err)))
        eo.n_threads = (int) i;
    } else if (!strcmp (key, "parallel")) {
      if ((ok = get_int (v, key, 0, 1024, &i, &err)))
        eo.n_parallel = (int) i;
    } else if (!strcmp (key, "chat-template"))
      ok = get_string (v, key, &chat_template, &err);
    else if (!strcmp (key, "world")) {
      if ((ok = get_int (v, key, 1, PRIMA_RING_LOCAL_MAX, &i, &err)))
        ring.world = (int) i;
    } else if (!strcmp (key, "next"))
      ok = get_string (v, key, &next, &err);
    else if (!strcmp (key, "port")) {
      if ((ok = get_int (v, key, 1, 65535, &i, &err)))
        ring.port = (int) i;
    } else if (!strcmp (key, "layer-window"))
      ok = get_string (v, key, &lw, &err);
    else if (!strcmp (key, "cluster-key-file"))
      ok = get_string (v, key, &key_file, &err);
    else if (!strcmp (key, "ring-timeout")) {
      if ((ok = get_int (v, key, 0, G_MAXINT, &i, &err)))
        ring.ring_timeout_s = (int) i;
    } else if (!strcmp (key, "local-ring")) {
      if ((ok = get_int (v, key, 1, PRIMA_RING_LOCAL_MAX, &i, &err)))
        ring.local_ring = (int) i;
    } else
      ok = unknown_key (key, "LoadModel", &err);
    g_variant_unref (v);
  }
  if (!ok) {
    g_dbus_method_invocation_take_error (inv, err);
    return TRUE;
  }

  unload (d);
  set_state (d, "loading");
  d->busy = TRUE;
  if (*path)
    d->model_path = g_strdup (path);
  else
    d->model_path = prima_data_path (DEFAULT_MODEL);
  d->chat_template = g_strdup (chat_template);
  d->ring_next = g_strdup (next);
  d->ring_lw = g_strdup (lw);
  d->ring_key_file = g_strdup (key_file);
  ring.next = d->ring_next;
  ring.lw = d->ring_lw;
  ring.cluster_key_file = d->ring_key_file;
  d->ring = ring;
  eo.model_path = d->model_path;
  eo.chat_template = d->chat_template;
  eo.ring = &d->ring;
  /* blocks until the model (and a ring) is up, at most ring-timeout for each wait of a ring's setup:
   * the engine has no asynchronous start */
  d->engine = prima_engine_new (&eo, &err);
  d->busy = FALSE;
  if (!d->engine) {
    g_warning (_("cannot load %s: %s"), d->model_path, err->message);
    g_clear_pointer (&d->model_path, g_free);
    set_state (d, d->stopping ? "stopping" : "idle");
    set_error_from_engine (inv, err);
    g_error_free (err);
    return TRUE;
  }
  g_message ("model %s loaded: %d slots of %d positions", d->model_path,
      prima_engine_get_n_parallel (d->engine), prima_engine_get_n_ctx (d->engine));
  prima_dbus_prima1_set_model (d->iface, d->model_path);
  prima_dbus_prima1_set_plan (d->iface, prima_engine_get_plan_json (d->engine) ?
      prima_engine_get_plan_json (d->engine) : "");
  prima_dbus_prima1_set_parallel (d->iface, prima_engine_get_n_parallel (d->engine));
  refresh_device_stats (d);
  set_state (d, d->stopping ? "stopping" : "ready");
  prima_dbus_prima1_complete_load_model (iface, inv);
  return TRUE;
}

static gboolean
on_unload_model (PrimaDBusPrima1 *iface, GDBusMethodInvocation *inv, Daemon *d)
{
  if (!need_model (d, inv))
    return TRUE;
  if (d->busy) {
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_STATE,
        _("a model is being loaded or unloaded"));
    return TRUE;
  }
  set_state (d, "stopping");
  unload (d);
  set_state (d, "idle");
  prima_dbus_prima1_complete_unload_model (iface, inv);
  return TRUE;
}

static gboolean
on_start_http (PrimaDBusPrima1 *iface, GDBusMethodInvocation *inv, const char *host, guint port, GVariant *options,
    Daemon *d)
{
  PrimaHttpApiOptions ho = { 0 };
  GError *err = NULL;
  GVariantIter it;
  const char *key;
  GVariant *v;
  gboolean ok = TRUE;

  if (!need_model (d, inv))
    return TRUE;
  if (d->http) {
    g_dbus_method_invocation_return_error (inv, PRIMAD_ERROR, PRIMAD_ERROR_STATE,
        _("HTTP is served on port %u already (StopHttp first)"), prima_http_api_get_port (d->http));
    return TRUE;
  }
  if (port > 65535) {
    g_dbus_method_invocation_return_error (inv, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("port %u is not a TCP port"),
        port);
    return TRUE;
  }
  g_variant_iter_init (&it, options);
  while (ok && g_variant_iter_next (&it, "{&sv}", &key, &v)) {
    if (!strcmp (key, "api-key"))
      ok = get_string (v, key, &ho.api_key, &err);
    else
      ok = unknown_key (key, "StartHttp", &err);
    g_variant_unref (v);
  }
  if (!ok) {
    g_dbus_method_invocation_take_error (inv, err);
    return TRUE;
  }
  ho.host = *host ? host : NULL;
  ho.port = (int) port;
  d->http = prima_http_api_new (d->engine, &ho, &err);
  if (!d->http) {
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_FAILED, err->message);
    g_error_free (err);
    return TRUE;
  }
  port = prima_http_api_get_port (d->http);
  g_message ("HTTP API on %s:%u%s", ho.host ? ho.host : "127.0.0.1", port, ho.api_key && *ho.api_key ?
      " (with an API key)" : "");
  prima_dbus_prima1_set_http_port (d->iface, port);
  prima_dbus_prima1_complete_start_http (iface, inv, port);
  return TRUE;
}

static gboolean
on_stop_http (PrimaDBusPrima1 *iface, GDBusMethodInvocation *inv, Daemon *d)
{
  if (!d->http) {
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_STATE, _("HTTP is not being served"));
    return TRUE;
  }
  stop_http (d);
  prima_dbus_prima1_complete_stop_http (iface, inv);
  return TRUE;
}

static Job *
job_new (Daemon *d, PrimaJob *job)
{
  Job *j = g_new0 (Job, 1);
  GError *err = NULL;

  j->d = d;
  j->id = ++d->next_job_id;
  j->path = g_strdup_printf (JOBS_PATH "%" G_GUINT64_FORMAT, j->id);
  j->job = job;
  j->pending = g_string_new (NULL);
  j->skel = prima_dbus_prima1_job_skeleton_new ();
  prima_dbus_prima1_job_set_id (j->skel, j->id);
  prima_dbus_prima1_job_set_state (j->skel, "queued");
  prima_dbus_prima1_job_set_reason (j->skel, "");
  prima_dbus_prima1_job_set_text (j->skel, "");
  g_signal_connect (j->skel, "handle-cancel", G_CALLBACK (on_job_cancel_method), j);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (j->skel), d->conn, j->path, &err)) {
    g_warning (_("cannot export %s: %s"), j->path, err->message);
    g_error_free (err);
  }
  g_hash_table_insert (d->jobs, j->path, j);
  g_signal_connect (job, "started", G_CALLBACK (on_job_started), j);
  g_signal_connect (job, "text", G_CALLBACK (on_job_text), j);
  g_signal_connect (job, "finished", G_CALLBACK (on_job_finished), j);
  return j;
}

static void
submit (Daemon *d, GDBusMethodInvocation *inv, PrimaJobParams *p, GVariant *params, const char *what)
{
  GPtrArray *stop = g_ptr_array_new ();
  GError *err = NULL;
  PrimaJob *job;
  Job *j;

  if (!parse_job_params (params, p, stop, &err)) {
    g_dbus_method_invocation_take_error (inv, err);
  } else if (!(job = prima_engine_submit (d->engine, p, &err))) {
    set_error_from_engine (inv, err);
    g_error_free (err);
  } else {
    j = job_new (d, job);
    g_debug ("job %" G_GUINT64_FORMAT ": %s for %s", j->id, what, g_dbus_method_invocation_get_sender (inv));
    /* the job may have finished already (cancelled at once): its object stays until pruned */
    g_dbus_method_invocation_return_value (inv, g_variant_new ("(o)", j->path));
  }
  g_ptr_array_unref (stop);
}

static gboolean
on_generate (PrimaDBusPrima1 *iface, GDBusMethodInvocation *inv, const char *prompt, GVariant *params, Daemon *d)
{
  PrimaJobParams p;

  if (!need_model (d, inv))
    return TRUE;
  prima_job_params_init (&p);
  p.prompt = prompt;
  submit (d, inv, &p, params, "a completion");
  return TRUE;
}

static gboolean
on_chat (PrimaDBusPrima1 *iface, GDBusMethodInvocation *inv, GVariant *messages, GVariant *params, Daemon *d)
{
  gsize n = g_variant_n_children (messages);
  prima_chat_message *msgs;
  PrimaJobParams p;

  if (!need_model (d, inv))
    return TRUE;
  if (n == 0) {
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_INVALID, _("Chat needs a message"));
    return TRUE;
  }
  msgs = g_new0 (prima_chat_message, n);
  for (gsize i = 0; i < n; i++)
    g_variant_get_child (messages, i, "(&s&s)", &msgs[i].role, &msgs[i].content);
  prima_job_params_init (&p);
  p.messages = msgs;
  p.n_messages = n;
  submit (d, inv, &p, params, "a chat turn");
  g_free (msgs);
  return TRUE;
}

static gboolean
on_cancel (PrimaDBusPrima1 *iface, GDBusMethodInvocation *inv, const char *path, Daemon *d)
{
  Job *j = g_hash_table_lookup (d->jobs, path);

  if (!j) {
    g_dbus_method_invocation_return_error (inv, PRIMAD_ERROR, PRIMAD_ERROR_NOT_FOUND, _("no job %s"), path);
    return TRUE;
  }
  if (j->job)
    prima_job_cancel (j->job);
  prima_dbus_prima1_complete_cancel (iface, inv);
  return TRUE;
}

/* --- a ring's worker ----------------------------------------------------------------------- */

static void worker_spawn (Daemon *d);

static gboolean
worker_restart_due (gpointer data)
{
  Daemon *d = data;

  d->worker_restart_id = 0;
  worker_spawn (d);
  return G_SOURCE_REMOVE;
}

static void
on_worker_exit (GObject *source, GAsyncResult *res, gpointer data)
{
  Daemon *d = data;
  GSubprocess *sp = G_SUBPROCESS (source);

  g_subprocess_wait_finish (sp, res, NULL);
  if (d->worker != sp) {
    g_object_unref (sp);
    return;
  }
  g_clear_object (&d->worker);
  if (d->worker_leaving || d->stopping) {
    g_message ("prima worker stopped");
    g_clear_pointer (&d->worker_argv, g_strfreev);
    d->worker_leaving = FALSE;
  } else {
    /* supervised: it ended on its own (its own failure, said on its stderr), so it is started again */
    g_warning (_("prima worker exited (%s %d): starting it again in %d s"),
        g_subprocess_get_if_exited (sp) ? "status" : "signal",
        g_subprocess_get_if_exited (sp) ? g_subprocess_get_exit_status (sp) : g_subprocess_get_term_sig (sp),
        WORKER_RESTART_S);
    d->worker_restart_id = g_timeout_add_seconds (WORKER_RESTART_S, worker_restart_due, d);
  }
  g_object_unref (sp);
}

static void
worker_spawn (Daemon *d)
{
  GError *err = NULL;

  d->worker = g_subprocess_newv ((const char *const *) d->worker_argv, G_SUBPROCESS_FLAGS_NONE, &err);
  if (!d->worker) {
    g_warning (_("cannot start %s: %s"), d->worker_argv[0], err->message);
    g_error_free (err);
    d->worker_restart_id = g_timeout_add_seconds (WORKER_RESTART_S, worker_restart_due, d);
    return;
  }
  g_subprocess_wait_async (d->worker, NULL, on_worker_exit, d);
  g_object_ref (d->worker);     /* held by the wait */
}

static gboolean
on_join_ring_as_worker (PrimaDBusPrima1 *iface, GDBusMethodInvocation *inv, int world, int rank, GVariant *options,
    Daemon *d)
{
  GPtrArray *argv;
  GError *err = NULL;
  GVariantIter it;
  const char *key, *s;
  GVariant *v;
  char *prima;
  gboolean ok = TRUE;

  if (d->stopping || d->engine || d->worker || d->worker_restart_id) {
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, d->stopping ? PRIMAD_ERROR_STOPPED :
        PRIMAD_ERROR_STATE, d->stopping ? _("primad is stopping") : d->engine ?
        _("a model is loaded (UnloadModel first)") : _("already a ring's worker (LeaveRing first)"));
    return TRUE;
  }
  if (world < 2 || rank < 1 || rank >= world) {
    g_dbus_method_invocation_return_error (inv, PRIMAD_ERROR, PRIMAD_ERROR_INVALID,
        _("a worker needs world >= 2 and rank in 1 .. world-1, not world %d rank %d"), world, rank);
    return TRUE;
  }
  /* $PRIMA_BIN, prima beside primad (or in the build tree), else PATH's */
  prima = prima_program_path ();
  argv = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (argv, prima);
  g_ptr_array_add (argv, g_strdup ("worker"));
  g_ptr_array_add (argv, g_strdup_printf ("--world=%d", world));
  g_ptr_array_add (argv, g_strdup_printf ("--rank=%d", rank));
  g_variant_iter_init (&it, options);
  while (ok && g_variant_iter_next (&it, "{&sv}", &key, &v)) {
    gint64 i;
    if (!strcmp (key, "port")) {
      if ((ok = get_int (v, key, 1, 65535, &i, &err)))
        g_ptr_array_add (argv, g_strdup_printf ("--port=%d", (int) i));
    } else if (!strcmp (key, "next") || !strcmp (key, "cluster-key-file") || !strcmp (key, "model")) {
      if ((ok = get_string (v, key, &s, &err)))
        g_ptr_array_add (argv, g_strdup_printf ("--%s=%s", key, s));
    } else
      ok = unknown_key (key, "JoinRingAsWorker", &err);
    g_variant_unref (v);
  }
  if (!ok) {
    g_ptr_array_unref (argv);
    g_dbus_method_invocation_take_error (inv, err);
    return TRUE;
  }
  g_ptr_array_add (argv, NULL);
  d->worker_argv = (char **) g_ptr_array_free (argv, FALSE);
  worker_spawn (d);
  if (!d->worker) {
    g_source_remove (d->worker_restart_id);
    d->worker_restart_id = 0;
    g_clear_pointer (&d->worker_argv, g_strfreev);
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_FAILED,
        _("cannot start prima worker (see primad's log)"));
    return TRUE;
  }
  g_message ("prima worker started: rank %d of %d", rank, world);
  prima_dbus_prima1_complete_join_ring_as_worker (iface, inv);
  return TRUE;
}

/* Asks the worker to stop (SIGTERM: it stops its pipeline in order). */
static gboolean
leave_ring (Daemon *d)
{
  if (d->worker_restart_id) {
    g_source_remove (d->worker_restart_id);
    d->worker_restart_id = 0;
    g_clear_pointer (&d->worker_argv, g_strfreev);
    return TRUE;
  }
  if (!d->worker)
    return FALSE;
  d->worker_leaving = TRUE;
  g_subprocess_send_signal (d->worker, SIGTERM);
  return TRUE;
}

static gboolean
on_leave_ring (PrimaDBusPrima1 *iface, GDBusMethodInvocation *inv, Daemon *d)
{
  if (!leave_ring (d))
    g_dbus_method_invocation_return_error_literal (inv, PRIMAD_ERROR, PRIMAD_ERROR_STATE, _("not a ring's worker"));
  else
    prima_dbus_prima1_complete_leave_ring (iface, inv);
  return TRUE;
}

/* --- the bus and the signals ----------------------------------------------------------------- */

/* Cancels the jobs (their JobFinished go out), stops the worker, leaves the bus. */
static void
shutdown (Daemon *d, int status)
{
  if (d->stopping)
    return;
  d->stopping = TRUE;
  d->exit_status = status;
  if (d->acquired)
    set_state (d, "stopping");
  unload (d);
  if (d->worker) {
    leave_ring (d);
    /* it gets a few seconds to stop in order */
    gint64 end = g_get_monotonic_time () + 5 * G_TIME_SPAN_SECOND;
    while (d->worker && g_get_monotonic_time () < end)
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (10000);
    if (d->worker)
      g_subprocess_force_exit (d->worker);
  } else
    leave_ring (d);
  if (d->conn)
    g_dbus_connection_flush_sync (d->conn, NULL, NULL);
  g_main_loop_quit (d->loop);
}

static gboolean
on_unix_signal (gpointer data)
{
  Daemon *d = data;

  g_message ("stopping");
  shutdown (d, d->exit_status);
  return G_SOURCE_CONTINUE;
}

static void
on_bus_acquired (GDBusConnection *conn, const char *name, gpointer data)
{
  Daemon *d = data;
  GError *err = NULL;

  d->conn = g_object_ref (conn);
  if (!g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (d->iface), conn, OBJECT_PATH, &err)) {
    fprintf (stderr, _("primad: cannot export %s: %s\n"), OBJECT_PATH, err->message);
    g_error_free (err);
    shutdown (d, 1);
  }
}

static void
on_name_acquired (GDBusConnection *conn, const char *name, gpointer data)
{
  Daemon *d = data;

  d->acquired = TRUE;
  g_message ("serving %s on %s", name, g_dbus_connection_get_unique_name (conn));
}

static void
on_name_lost (GDBusConnection *conn, const char *name, gpointer data)
{
  Daemon *d = data;

  if (d->stopping)
    return;
  if (!conn && d->acquired)
    fprintf (stderr, _("primad: the connection to the bus closed\n"));
  else if (!conn)
    fprintf (stderr, _("primad: cannot connect to the bus\n"));
  else if (d->acquired)
    fprintf (stderr, _("primad: the name %s was taken over by another process\n"), name);
  else {
    /* nobody holds it: the bus's policy keeps this user from owning it */
    GVariant *owner = g_dbus_connection_call_sync (conn, "org.freedesktop.DBus", "/org/freedesktop/DBus",
        "org.freedesktop.DBus", "GetNameOwner", g_variant_new ("(s)", name), NULL, G_DBUS_CALL_FLAGS_NONE, -1,
        NULL, NULL);
    if (owner)
      fprintf (stderr, _("primad: the name %s is owned by another process (--replace takes it over)\n"), name);
    else
      fprintf (stderr, _("primad: the bus does not let this user own the name %s (see its policy)\n"), name);
    g_clear_pointer (&owner, g_variant_unref);
  }
  shutdown (d, 1);
}

/* primad(1), its options from the GOption table that --help prints */
static void
print_man (const GOptionEntry *entries)
{
  cli_man_header (stdout, "primad", "the gst-prima D-Bus daemon (" BUS_NAME ")");
  fputs (".SH SYNOPSIS\n.B primad\n[\\fB\\-\\-system\\fR | \\fB\\-\\-session\\fR] [\\fB\\-\\-replace\\fR] "
      "[\\fB\\-\\-verbose\\fR]\n.SH DESCRIPTION\n", stdout);
  cli_roff_text (stdout, "primad owns the name " BUS_NAME " on the session bus (or the system bus) and serves the "
      "interface of docs/dbus.md: LoadModel (on this device or as the head of a ring), Generate and Chat, whose "
      "text comes as Tokens signals of a job object, Cancel, StartHttp (the OpenAI-compatible API of prima serve "
      "on the same model) and JoinRingAsWorker (a supervised prima worker). meson install adds its D-Bus "
      "activation files, a systemd user unit, a hardened system unit and the system bus policy.");
  fputs ("\n.SH OPTIONS\n", stdout);
  for (const GOptionEntry *e = entries; e->long_name; e++) {
    if (e->flags & G_OPTION_FLAG_HIDDEN)
      continue;
    if (e->short_name)
      printf (".TP\n\\fB\\-%c\\fR, \\fB\\-\\-", e->short_name);
    else
      printf (".TP\n\\fB\\-\\-");
    cli_roff_text (stdout, e->long_name);
    printf ("\\fR\n");
    cli_roff_text (stdout, e->description);
    printf ("\n");
  }
  fputs (".TP\n\\fB\\-h\\fR, \\fB\\-\\-help\\fR\nthe options\n", stdout);
  cli_man_footer (stdout, "prima(1), prima-serve(1), prima-worker(1), systemctl(1), busctl(1)");
}

int
main (int argc, char **argv)
{
  gboolean system_bus = FALSE, session_bus = FALSE, replace = FALSE, verbose = FALSE, man = FALSE;
  const GOptionEntry entries[] = {
    {"system", 0, 0, G_OPTION_ARG_NONE, &system_bus, N_("Own the name on the system bus"), NULL},
    {"session", 0, 0, G_OPTION_ARG_NONE, &session_bus, N_("Own the name on the session bus (the default)"), NULL},
    {"replace", 0, 0, G_OPTION_ARG_NONE, &replace, N_("Take the name over from a running primad"), NULL},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Log each job"), NULL},
    /* meson writes primad(1) with it, from this table */
    {"man", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &man, NULL, NULL},
    {NULL},
  };
  GOptionContext *ctx;
  GError *err = NULL;
  Daemon d = { 0 };

  setlocale (LC_ALL, "");
  prima_i18n_init ();
  ctx = g_option_context_new (_("- the gst-prima D-Bus daemon"));
  g_option_context_set_translation_domain (ctx, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (ctx, entries, GETTEXT_PACKAGE);
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, _("primad: %s\n"), err->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (man) {
    print_man (entries);
    return 0;
  }
  if (argc > 1) {
    fprintf (stderr, _("primad: unexpected argument '%s'\n"), argv[1]);
    return 2;
  }
  if (system_bus && session_bus) {
    fprintf (stderr, _("primad: --system and --session exclude each other\n"));
    return 2;
  }
  if (verbose)
    g_log_set_debug_enabled (TRUE);
  /* the ring's pipelines need GStreamer and the prima plugin */
  if (!prima_gst_init ("primad"))
    return 1;
  (void) PRIMAD_ERROR;          /* registers the D-Bus error names */

  d.loop = g_main_loop_new (NULL, FALSE);
  d.jobs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) job_free);
  g_queue_init (&d.finished);
  d.iface = prima_dbus_prima1_skeleton_new ();
  prima_dbus_prima1_set_state (d.iface, "idle");
  prima_dbus_prima1_set_model (d.iface, "");
  prima_dbus_prima1_set_plan (d.iface, "");
  refresh_device_stats (&d);
  g_signal_connect (d.iface, "handle-load-model", G_CALLBACK (on_load_model), &d);
  g_signal_connect (d.iface, "handle-unload-model", G_CALLBACK (on_unload_model), &d);
  g_signal_connect (d.iface, "handle-start-http", G_CALLBACK (on_start_http), &d);
  g_signal_connect (d.iface, "handle-stop-http", G_CALLBACK (on_stop_http), &d);
  g_signal_connect (d.iface, "handle-join-ring-as-worker", G_CALLBACK (on_join_ring_as_worker), &d);
  g_signal_connect (d.iface, "handle-leave-ring", G_CALLBACK (on_leave_ring), &d);
  g_signal_connect (d.iface, "handle-generate", G_CALLBACK (on_generate), &d);
  g_signal_connect (d.iface, "handle-chat", G_CALLBACK (on_chat), &d);
  g_signal_connect (d.iface, "handle-cancel", G_CALLBACK (on_cancel), &d);
  d.prune_id = g_timeout_add_seconds (60, prune_due, &d);
  g_unix_signal_add (SIGTERM, on_unix_signal, &d);
  g_unix_signal_add (SIGINT, on_unix_signal, &d);

  d.owner_id = g_bus_own_name (system_bus ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, BUS_NAME,
      G_BUS_NAME_OWNER_FLAGS_ALLOW_REPLACEMENT | (replace ? G_BUS_NAME_OWNER_FLAGS_REPLACE : 0),
      on_bus_acquired, on_name_acquired, on_name_lost, &d, NULL);
  g_main_loop_run (d.loop);

  /* the jobs' objects go before the name, so that no client sees a job of a daemon that is gone */
  g_source_remove (d.prune_id);
  g_hash_table_destroy (d.jobs);
  g_queue_clear (&d.finished);
  if (d.conn) {
    g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (d.iface));
    g_dbus_connection_flush_sync (d.conn, NULL, NULL);
  }
  g_bus_unown_name (d.owner_id);
  if (d.conn) {
    g_dbus_connection_flush_sync (d.conn, NULL, NULL);
    g_object_unref (d.conn);
  }
  g_object_unref (d.iface);
  g_main_loop_unref (d.loop);
  return d.exit_status;
}
