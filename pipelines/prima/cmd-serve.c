/* gst-prima: `prima serve`: the OpenAI-compatible HTTP API (docs/serve.md)
 * with llama-server's flags, on one engine (pipelines/serve/): this device's
 * slots, or a ring with the ring flags as `prima run` takes them.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib-unix.h>
#include <glib/gi18n-lib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "prima-commands.h"
#include "cli-args.h"
#include "cmd-options.h"
#include "prima-engine.h"
#include "http-api.h"

typedef struct {
  const char *model_path;
  const char *host;
  int port;
  const char *api_key;
  const char *api_key_file;
  int n_ctx;
  int n_threads;
  int n_parallel;
  int n_batch;
  int max_queued;
  int timeout_s;
  gint64 max_body;
  const char *chat_template;
  gboolean verbose;
  PrimaRingOptions ring;
} ServeArgs;

static gboolean
on_stop_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

/* The key: --api-key, else --api-key-file's first line, else $PRIMA_API_KEY.
 * FALSE after an error line. */
static gboolean
resolve_api_key (ServeArgs *a, char **key)
{
  *key = NULL;
  if (a->api_key != NULL) {
    *key = g_strdup (a->api_key);
  } else if (a->api_key_file != NULL) {
    GError *error = NULL;
    char *text;
    if (!g_file_get_contents (a->api_key_file, &text, NULL, &error)) {
      fprintf (stderr, _("prima serve: --api-key-file: %s\n"), error->message);
      g_error_free (error);
      return FALSE;
    }
    text[strcspn (text, "\r\n")] = '\0';
    *key = text;
  } else if (g_getenv ("PRIMA_API_KEY") != NULL && *g_getenv ("PRIMA_API_KEY") != '\0') {
    /* an empty variable is no key (unset it or not, the same) */
    *key = g_strdup (g_getenv ("PRIMA_API_KEY"));
  }
  if (*key != NULL && **key == '\0') {
    fprintf (stderr, _("prima serve: the API key is empty\n"));
    g_clear_pointer (key, g_free);
    return FALSE;
  }
  return TRUE;
}

int
prima_cmd_serve (int argc, char **argv)
{
  ServeArgs a = {
    .host = "127.0.0.1", .port = 8080, .n_ctx = 0, .n_parallel = 0, .max_queued = -1,
    .timeout_s = PRIMA_HTTP_API_DEFAULT_HEADER_TIMEOUT_S, .max_body = PRIMA_HTTP_API_DEFAULT_MAX_BODY,
    .ring = PRIMA_RING_OPTIONS_INIT,
  };
  gboolean help;
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &a.model_path, "FILE", N_("GGUF model (default: the embedded model)")},
    {"--host", CLI_STRING, &a.host, "ADDR", N_("IP address to listen on (default 127.0.0.1; 0.0.0.0: every interface)")},
    {"--port", CLI_INT, &a.port, "PORT", N_("HTTP port (default 8080; 0: any free port)"), CLI_RANGE (0, 65535)},
    {"--api-key", CLI_STRING, &a.api_key, "KEY",
      N_("require `Authorization: Bearer KEY` (also $PRIMA_API_KEY; /health stays open)")},
    {"--api-key-file", CLI_STRING, &a.api_key_file, "FILE", N_("read the API key from FILE's first line")},
    {"-c,--ctx-size", CLI_INT, &a.n_ctx, "N", N_("context per slot (default 0: the model's, at most 4096)"),
      CLI_RANGE (0, G_MAXINT)},
    {"-t,--threads", CLI_INT, &a.n_threads, "N", N_("threads, 1 to 1024 (default: all cores)"), CLI_RANGE (1, CLI_MAX_THREADS)},
    {"-np,--parallel", CLI_INT, &a.n_parallel, "N", N_("slots: requests run together (default 4; 1 over a ring)"),
      CLI_RANGE (1, 1024)},
    {"-b,--batch-size", CLI_INT, &a.n_batch, "N", N_("prompt tokens per forward pass (default 512)"), CLI_RANGE (1, G_MAXINT)},
    {"--queue", CLI_INT, &a.max_queued, "N", N_("requests that may wait for a slot; more get 503 (default 64)"),
      CLI_RANGE (0, G_MAXINT)},
    {"-to,--timeout", CLI_INT, &a.timeout_s, "S",
      N_("close a connection whose request headers take more than S s (its body: 6 times S; default 10)"),
      CLI_RANGE (1, 86400)},
    {"--max-body", CLI_INT64, &a.max_body, "BYTES", N_("largest request body (default 8 MiB); larger ones get 413"),
      CLI_RANGE (1024, G_MAXINT)},
    {"--chat-template", CLI_STRING, &a.chat_template, "NAME", N_("chat template instead of the model's (chatml, llama3, ...)")},
    {"--verbose", CLI_FLAG, &a.verbose, NULL, N_("log the ring's connections")},
  };
  cli_option ring_storage[PRIMA_RING_GROUP_MAX];
  cli_group ring_group = prima_ring_option_group (&a.ring, PRIMA_RING_ROLE_HEAD, ring_storage);
  /* --port is llama-server's HTTP port here: the ring's data port is --ring-port */
  for (int i = 0; i < ring_group.n_options; i++)
    if (strcmp (ring_storage[i].names, "--port") == 0)
      ring_storage[i].names = "--ring-port";
  const cli_group groups[] = {
    {NULL, options, G_N_ELEMENTS (options)},
    ring_group,
  };

  if (!cli_parse_groups ("serve", "[-m MODEL] [--host ADDR] [--port PORT] [-np N]", groups, G_N_ELEMENTS (groups),
          argc, argv, &help, NULL) || help)
    return help ? 0 : 2;
  a.ring.command = "serve";
  if (!prima_ring_check_options ("serve", &a.ring))
    return 2;
  if (a.verbose)
    cli_show_messages ();
  char *key = NULL;
  if (!resolve_api_key (&a, &key))
    return 2;

  /* the engine's signals come in this main context */
  GMainContext *ctx = g_main_context_new ();
  g_main_context_push_thread_default (ctx);
  GMainLoop *loop = g_main_loop_new (ctx, FALSE);
  int status = 1;
  PrimaEngine *engine = NULL;
  PrimaHttpApi *api = NULL;
  GError *error = NULL;

  PrimaEngineOptions eo = {
    .model_path = a.model_path != NULL ? a.model_path : prima_default_model_path (),
    .n_ctx = a.n_ctx, .n_threads = a.n_threads, .n_parallel = a.n_parallel, .max_queued = a.max_queued,
    .n_batch = a.n_batch, .chat_template = a.chat_template, .ring = &a.ring,
  };
  engine = prima_engine_new (&eo, &error);
  if (engine == NULL) {
    fprintf (stderr, _("prima serve: %s\n"), error->message);
    goto out;
  }
  PrimaHttpApiOptions ho = {
    .host = a.host, .port = a.port, .api_key = key, .max_body_bytes = (gsize) a.max_body,
    .header_timeout_s = a.timeout_s, .body_timeout_s = 6 * a.timeout_s,
  };
  api = prima_http_api_new (engine, &ho, &error);
  if (api == NULL) {
    fprintf (stderr, _("prima serve: %s\n"), error->message);
    goto out;
  }
  gboolean v6 = strchr (a.host, ':') != NULL;
  printf (ngettext ("prima serve: listening on http://%s%s%s:%u (model %s, %d slot, context %d)\n",
          "prima serve: listening on http://%s%s%s:%u (model %s, %d slots, context %d)\n",
          prima_engine_get_n_parallel (engine)), v6 ? "[" : "", a.host, v6 ? "]" : "", prima_http_api_get_port (api),
      prima_engine_get_model_name (engine), prima_engine_get_n_parallel (engine), prima_engine_get_n_ctx (engine));
  fflush (stdout);

  GSource *sources[2];
  const int sigs[2] = { SIGINT, SIGTERM };
  for (int i = 0; i < 2; i++) {
    sources[i] = g_unix_signal_source_new (sigs[i]);
    g_source_set_callback (sources[i], on_stop_signal, loop, NULL);
    g_source_attach (sources[i], ctx);
  }
  g_main_loop_run (loop);
  for (int i = 0; i < 2; i++) {
    g_source_destroy (sources[i]);
    g_source_unref (sources[i]);
  }
  fprintf (stderr, _("prima serve: stopping\n"));
  status = 0;

out:
  if (api != NULL) {
    prima_http_api_stop (api);
    g_object_unref (api);
  }
  if (engine != NULL) {
    prima_engine_stop (engine);
    g_object_unref (engine);
  }
  g_clear_error (&error);
  g_free (key);
  g_main_loop_unref (loop);
  g_main_context_pop_thread_default (ctx);
  g_main_context_unref (ctx);
  return status;
}
