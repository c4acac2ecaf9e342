/* gst-prima: the OpenAI-compatible HTTP API over a PrimaEngine.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One early handler sees every request after its headers: routes, methods,
 * the API key and the body's announced size are checked there, so that a
 * refused request's body is never read. Bodies are then gathered here (not
 * by libsoup) so that a chunked body is counted as it comes. A request with
 * a job keeps its message paused; the job's "text" and "finished" signals
 * (in this main context) write the answer and unpause it. */
#include "http-api.h"
#include "openai-request.h"
#include <glib/gi18n-lib.h>

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct _PrimaHttpApi {
  GObject parent;
  PrimaEngine *engine;
  GMainContext *context;        /* the thread-default one at creation: the server's and its timers' */
  SoupServer *server;
  char *api_key;
  gsize max_body;
  guint header_timeout_s, body_timeout_s;
  guint port;
  gint64 created;               /* for /v1/models */
  GHashTable *requests;         /* response id -> Request, while its job runs */
  gboolean stopped;
};

G_DEFINE_FINAL_TYPE (PrimaHttpApi, prima_http_api, G_TYPE_OBJECT)

/* What one message holds from its first byte on (object data of the message). */
typedef struct {
  PrimaHttpApi *api;            /* not a reference: the api outlives its server's messages */
  SoupServerMessage *msg;
  GSource *timer;               /* header or body timeout */
  GByteArray *body;
  gboolean body_too_large;
} MsgState;

/* A request with a job: lives until the job has finished and the message is
 * done with (answered or gone). */
typedef struct {
  PrimaHttpApi *api;            /* a reference */
  SoupServerMessage *msg;       /* NULL once the message is done */
  PrimaJob *job;
  PrimaOpenaiRequest *req;
  PrimaOpenaiKind kind;
  char *id;
  char *model;
  gint64 created;
  gboolean stream, include_usage;
  gulong msg_finished_id, msg_disconnected_id;
  GSource *watch;               /* a non-streamed request: is its client still there? */
} Request;

#define MSG_STATE "prima-http-state"

static const char *
status_error_type (guint status)
{
  switch (status) {
    case 401:
      return "authentication_error";
    case 404:
      return "not_found_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

/* An OpenAI error body with status; code may be NULL. */
static void
respond_error (SoupServerMessage *msg, guint status, const char *message, const char *param, const char *code)
{
  char *json = prima_openai_error_json (message, status_error_type (status), param, code);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, json, strlen (json));
}

static void
respond_json (SoupServerMessage *msg, guint status, char *json)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, json, strlen (json));
}

/* ---- timeouts: a request's headers, then its body, must come in time ---- */

static gboolean
on_timeout (gpointer data)
{
  MsgState *st = data;
  GSocket *sock = soup_server_message_get_socket (st->msg);
  g_clear_pointer (&st->timer, g_source_unref);
  /* shut down, not closed: libsoup still owns the descriptor and sees the
   * connection end at its next read */
  if (sock != NULL)
    g_socket_shutdown (sock, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

/* In the main context the api was made in (not necessarily the global default one). */
static void
set_timer (MsgState *st, guint seconds)
{
  if (st->timer != NULL) {
    g_source_destroy (st->timer);
    g_clear_pointer (&st->timer, g_source_unref);
  }
  if (seconds > 0) {
    st->timer = g_timeout_source_new_seconds (seconds);
    g_source_set_callback (st->timer, on_timeout, st, NULL);
    g_source_attach (st->timer, st->api->context);
  }
}

static void
msg_state_free (gpointer data)
{
  MsgState *st = data;
  set_timer (st, 0);
  if (st->body != NULL)
    g_byte_array_unref (st->body);
  g_free (st);
}

static void
on_got_chunk (SoupServerMessage *msg, GBytes *chunk, MsgState *st)
{
  gsize n = g_bytes_get_size (chunk);
  if (st->body_too_large)
    return;
  if (st->body->len + n > st->api->max_body) {
    /* counted as it comes: what is past the limit is dropped, and the
     * request is answered 413 when its end is read */
    st->body_too_large = TRUE;
    g_byte_array_set_size (st->body, 0);
    return;
  }
  g_byte_array_append (st->body, g_bytes_get_data (chunk, NULL), n);
}

static void
on_got_body (SoupServerMessage *msg, MsgState *st)
{
  set_timer (st, 0);
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, PrimaHttpApi *api)
{
  MsgState *st = g_new0 (MsgState, 1);
  st->api = api;
  st->msg = msg;
  g_object_set_data_full (G_OBJECT (msg), MSG_STATE, st, msg_state_free);
  set_timer (st, api->header_timeout_s);
}

/* ---- routes ---- */

typedef enum {
  ROUTE_NONE,
  ROUTE_CHAT,
  ROUTE_COMPLETIONS,
  ROUTE_MODELS,
  ROUTE_HEALTH,
  ROUTE_METRICS,
  ROUTE_CANCEL,
} Route;

static Route
route_of (const char *path, const char **method)
{
  static const struct {
    const char *path, *method;
    Route route;
  } routes[] = {
    {"/v1/chat/completions", "POST", ROUTE_CHAT},
    {"/chat/completions", "POST", ROUTE_CHAT},
    {"/v1/completions", "POST", ROUTE_COMPLETIONS},
    {"/completions", "POST", ROUTE_COMPLETIONS},
    {"/v1/models", "GET", ROUTE_MODELS},
    {"/models", "GET", ROUTE_MODELS},
    {"/health", "GET", ROUTE_HEALTH},
    {"/metrics", "GET", ROUTE_METRICS},
    {"/v1/cancel", "POST", ROUTE_CANCEL},
  };
  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    if (strcmp (path, routes[i].path) == 0) {
      *method = routes[i].method;
      return routes[i].route;
    }
  return ROUTE_NONE;
}

/* Constant-time comparison of the presented key with ours. */
static gboolean
key_matches (const char *given, const char *key)
{
  gsize lg = strlen (given), lk = strlen (key);
  guint diff = lg != lk;
  for (gsize i = 0; i < lk; i++)
    diff |= (guint) (key[i] ^ (i < lg ? given[i] : 0));
  return diff == 0;
}

/* After the headers: a request refused here is answered without its body
 * being kept. libsoup still reads a body it was sent (it has no way to skip
 * one) unless the client asked with "Expect: 100-continue", which gets the
 * refusal at once; the body timeout bounds how long that reading may take. */
static const char *
refuse_early (PrimaHttpApi *api, SoupServerMessage *msg, const char *path)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const char *method = soup_server_message_get_method (msg), *want = NULL;
  Route route = route_of (path, &want);
  char *m;

  if (route == ROUTE_NONE) {
    m = g_strdup_printf ("no such route: %s %.200s", method, path);
    respond_error (msg, 404, m, NULL, "not_found");
    g_free (m);
    return "route";
  }
  if (strcmp (method, want) != 0) {
    m = g_strdup_printf ("%.200s takes %s, not %s", path, want, method);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", want);
    respond_error (msg, 405, m, NULL, "method_not_allowed");
    g_free (m);
    return "method";
  }
  if (api->api_key != NULL && route != ROUTE_HEALTH) {
    const char *auth = soup_message_headers_get_one (h, "Authorization");
    if (auth == NULL || !g_str_has_prefix (auth, "Bearer ") || !key_matches (auth + 7, api->api_key)) {
      respond_error (msg, 401, auth == NULL ? "an API key is required (Authorization: Bearer KEY)"
          : "the API key is not valid", NULL, "invalid_api_key");
      return "key";
    }
  }
  if (soup_message_headers_get_encoding (h) == SOUP_ENCODING_CONTENT_LENGTH
      && (guint64) soup_message_headers_get_content_length (h) > api->max_body) {
    m = g_strdup_printf ("the body is larger than %" G_GSIZE_FORMAT " bytes", api->max_body);
    respond_error (msg, 413, m, NULL, "request_too_large");
    g_free (m);
    return "size";
  }
  return NULL;
}

static void
early_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  PrimaHttpApi *api = data;
  MsgState *st = g_object_get_data (G_OBJECT (msg), MSG_STATE);

  /* bodies are gathered here, counted as they come (a chunked body
   * announces no size), never by libsoup */
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  if (st != NULL) {
    g_signal_connect (msg, "got-body", G_CALLBACK (on_got_body), st);
    set_timer (st, api->body_timeout_s);
  }
  if (refuse_early (api, msg, path) != NULL) {
    /* answered: what is still read of the body is dropped, and the
     * connection is not kept for another request */
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection", "close");
    return;
  }
  if (st != NULL) {
    st->body = g_byte_array_new ();
    g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), st);
  }
}

/* ---- jobs ---- */

static void request_msg_done (Request *r);

static void
request_free_if_done (Request *r)
{
  if (r->msg != NULL || r->job != NULL)
    return;
  prima_openai_request_free (r->req);
  g_free (r->id);
  g_free (r->model);
  g_object_unref (r->api);
  g_free (r);
}

static void
on_msg_gone (SoupServerMessage *msg, Request *r)
{
  /* the client went away (or the answer is written): its job is not wanted */
  if (r->job != NULL)
    prima_job_cancel (r->job);
  request_msg_done (r);
  request_free_if_done (r);
}

static void
request_msg_done (Request *r)
{
  if (r->watch != NULL) {
    g_source_destroy (r->watch);
    g_clear_pointer (&r->watch, g_source_unref);
  }
  if (r->msg == NULL)
    return;
  g_signal_handler_disconnect (r->msg, r->msg_finished_id);
  g_signal_handler_disconnect (r->msg, r->msg_disconnected_id);
  g_object_unref (r->msg);
  r->msg = NULL;
}

/* A non-streamed answer writes nothing until its end, so a client that
 * went away is not seen by a failing write: its socket is looked at. */
static gboolean
watch_client (gpointer data)
{
  Request *r = data;
  GSocket *sock = r->msg != NULL ? soup_server_message_get_socket (r->msg) : NULL;
  char c;
  if (sock == NULL || r->job == NULL)
    return G_SOURCE_CONTINUE;
  if (g_socket_condition_check (sock, G_IO_IN | G_IO_HUP | G_IO_ERR) != 0) {
    /* readable: the end of the stream (0 bytes) or an error, unless the
     * client sent more (a pipelined request, left for libsoup) */
    gssize n = recv (g_socket_get_fd (sock), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
      prima_job_cancel (r->job);
  }
  return G_SOURCE_CONTINUE;
}

static void
sse_append (SoupServerMessage *msg, char *json)
{
  char *event = g_strdup_printf ("data: %s\n\n", json);
  g_free (json);
  soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_TAKE, event, strlen (event));
}

static void
on_job_text (PrimaJob *job, const char *delta, guint n_tokens, Request *r)
{
  if (!r->stream || r->msg == NULL || delta == NULL || *delta == '\0')
    return;
  sse_append (r->msg, prima_openai_chunk_json (r->kind, r->id, r->created, r->model, FALSE, delta, NULL));
  soup_server_message_unpause (r->msg);
}

static void
on_job_finished (PrimaJob *job, PrimaFinishReason reason, Request *r)
{
  const char *finish = prima_finish_reason_name (reason);
  int n_prompt = prima_job_get_n_prompt (job), n_predicted = prima_job_get_n_predicted (job);

  if (r->msg != NULL) {
    SoupServerMessage *msg = r->msg;
    const GError *error = prima_job_get_error (job);
    if (r->stream) {
      if (reason == PRIMA_FINISH_ERROR) {
        sse_append (msg, prima_openai_error_json (error != NULL ? error->message : "the model failed",
                "server_error", NULL, NULL));
      } else {
        sse_append (msg, prima_openai_chunk_json (r->kind, r->id, r->created, r->model, FALSE, NULL, finish));
        if (r->include_usage)
          sse_append (msg, prima_openai_usage_chunk_json (r->kind, r->id, r->created, r->model,
                  n_prompt, n_predicted));
      }
      soup_message_body_append (soup_server_message_get_response_body (msg), SOUP_MEMORY_STATIC,
          "data: [DONE]\n\n", 14);
      soup_message_body_complete (soup_server_message_get_response_body (msg));
    } else if (reason == PRIMA_FINISH_ERROR) {
      respond_error (msg, 500, error != NULL ? error->message : "the model failed", NULL, NULL);
    } else {
      respond_json (msg, 200, prima_openai_response_json (r->kind, r->id, r->created, r->model,
              prima_job_get_text (job), finish, n_prompt, n_predicted));
    }
    soup_server_message_unpause (msg);
  }
  g_hash_table_remove (r->api->requests, r->id);
  g_signal_handlers_disconnect_by_data (job, r);
  g_object_unref (r->job);
  r->job = NULL;
  request_free_if_done (r);
}

static guint
engine_error_status (const GError *error, const char **code)
{
  *code = NULL;
  if (error->domain != PRIMA_ENGINE_ERROR)
    return 500;
  switch (error->code) {
    case PRIMA_ENGINE_ERROR_INVALID:
      return 400;
    case PRIMA_ENGINE_ERROR_TOO_LONG:
      *code = "context_length_exceeded";
      return 400;
    case PRIMA_ENGINE_ERROR_BUSY:
      *code = "server_busy";
      return 503;
    case PRIMA_ENGINE_ERROR_STOPPED:
      *code = "server_stopping";
      return 503;
    default:
      return 500;
  }
}

static void
handle_generate (PrimaHttpApi *api, SoupServerMessage *msg, PrimaOpenaiKind kind, GByteArray *body)
{
  GError *error = NULL;
  char *param = NULL;
  PrimaOpenaiRequest *req = prima_openai_request_parse (kind, (const char *) body->data, body->len, &param, &error);
  if (req == NULL) {
    respond_error (msg, 400, error->message, param, NULL);
    g_error_free (error);
    g_free (param);
    return;
  }
  /* more than a slot holds cannot be asked for (OpenAI answers 400 too) */
  if (req->max_tokens > prima_engine_get_n_ctx (api->engine)) {
    char *m = g_strdup_printf ("'max_tokens' (%d) is more than the context holds (%d)", req->max_tokens,
        prima_engine_get_n_ctx (api->engine));
    respond_error (msg, 400, m, "max_tokens", NULL);
    g_free (m);
    prima_openai_request_free (req);
    return;
  }

  PrimaJobParams p;
  prima_job_params_init (&p);
  p.prompt = req->prompt;
  p.messages = req->messages;
  p.n_messages = req->n_messages;
  p.max_tokens = req->max_tokens;
  p.sampling = req->sampling;
  p.stop = (const char *const *) req->stop;
  p.ignore_eos = req->ignore_eos;
  PrimaJob *job = prima_engine_submit (api->engine, &p, &error);
  if (job == NULL) {
    const char *code;
    guint status = engine_error_status (error, &code);
    if (status == 503)
      soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Retry-After", "1");
    /* a 400 from the engine is about the request's text */
    respond_error (msg, status, error->message,
        status != 400 ? NULL : kind == PRIMA_OPENAI_CHAT ? "messages" : "prompt", code);
    g_error_free (error);
    prima_openai_request_free (req);
    return;
  }

  Request *r = g_new0 (Request, 1);
  r->api = g_object_ref (api);
  r->msg = g_object_ref (msg);
  r->job = job;
  r->req = req;
  r->kind = kind;
  r->id = prima_openai_new_id (kind);
  r->model = g_strdup (prima_engine_get_model_name (api->engine));
  r->created = g_get_real_time () / G_USEC_PER_SEC;
  r->stream = req->stream;
  r->include_usage = req->include_usage;
  g_hash_table_insert (api->requests, r->id, r);
  g_signal_connect (job, "text", G_CALLBACK (on_job_text), r);
  g_signal_connect (job, "finished", G_CALLBACK (on_job_finished), r);
  r->msg_finished_id = g_signal_connect (msg, "finished", G_CALLBACK (on_msg_gone), r);
  r->msg_disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (on_msg_gone), r);

  if (r->stream) {
    SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
    soup_server_message_set_status (msg, 200, NULL);
    soup_message_headers_set_encoding (h, SOUP_ENCODING_CHUNKED);
    soup_message_headers_replace (h, "Content-Type", "text/event-stream");
    soup_message_headers_replace (h, "Cache-Control", "no-cache");
    /* each event is dropped once written, not kept for the whole answer */
    soup_message_body_set_accumulate (soup_server_message_get_response_body (msg), FALSE);
    /* the first chunk carries the role (OpenAI's first delta), at once */
    sse_append (msg, prima_openai_chunk_json (kind, r->id, r->created, r->model, TRUE,
            kind == PRIMA_OPENAI_CHAT ? "" : NULL, NULL));
  } else {
    r->watch = g_timeout_source_new (200);
    g_source_set_callback (r->watch, watch_client, r, NULL);
    g_source_attach (r->watch, api->context);
  }
  soup_server_message_pause (msg);
}

static void
handle_cancel (PrimaHttpApi *api, SoupServerMessage *msg, GByteArray *body)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root, *idn;
  const char *id = NULL;

  if (body->len == 0 || !g_utf8_validate_len ((const char *) body->data, body->len, NULL)
      || !json_parser_load_from_data (parser, (const char *) body->data, body->len, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root)
      || (idn = json_object_get_member (json_node_get_object (root), "id")) == NULL
      || !JSON_NODE_HOLDS_VALUE (idn) || json_node_get_value_type (idn) != G_TYPE_STRING) {
    respond_error (msg, 400, "the body must be a JSON object with a string 'id'", "id", NULL);
    return;
  }
  id = json_node_get_string (idn);
  Request *r = g_hash_table_lookup (api->requests, id);
  if (r == NULL) {
    char *m = g_strdup_printf ("no running request has the id '%.100s'", id);
    respond_error (msg, 404, m, "id", "not_found");
    g_free (m);
    return;
  }
  prima_job_cancel (r->job);
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, id);
  json_builder_set_member_name (b, "cancelled");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_object_unref (b);
  respond_json (msg, 200, json_to_string (node, FALSE));
}

static void
metric (GString *out, const char *name, const char *type, const char *help, double value)
{
  char num[G_ASCII_DTOSTR_BUF_SIZE];
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name,
      g_ascii_dtostr (num, sizeof num, value));
}

/* A label value as Prometheus quotes it. */
static char *
label_value (const char *s)
{
  GString *v = g_string_new (NULL);
  for (; s != NULL && *s; s++) {
    if (*s == '\\' || *s == '"')
      g_string_append_c (v, '\\');
    if (*s == '\n')
      g_string_append (v, "\\n");
    else
      g_string_append_c (v, *s);
  }
  return g_string_free (v, FALSE);
}

static void
handle_metrics (PrimaHttpApi *api, SoupServerMessage *msg)
{
  PrimaEngineStats s;
  GString *out = g_string_new (NULL);
  char num[G_ASCII_DTOSTR_BUF_SIZE];

  prima_engine_get_stats (api->engine, &s);
  metric (out, "prima_tokens_predicted_total", "counter", "Tokens generated.", s.predicted_tokens);
  metric (out, "prima_prompt_tokens_total", "counter", "Prompt tokens read (cached ones included).",
      s.prompt_tokens);
  metric (out, "prima_prompt_tokens_cached_total", "counter", "Prompt tokens found in a slot's cache.",
      s.cached_tokens);
  metric (out, "prima_tokens_per_second", "gauge", "Generated tokens per second of decoding, since the start.",
      s.decode_seconds > 0 ? s.predicted_tokens / s.decode_seconds : 0);
  metric (out, "prima_prompt_tokens_per_second", "gauge", "Prompt tokens per second of prompt evaluation.",
      s.prompt_seconds > 0 ? s.prompt_tokens / s.prompt_seconds : 0);
  metric (out, "prima_queue_length", "gauge", "Jobs waiting for a slot.", s.queued);
  metric (out, "prima_slots_busy", "gauge", "Slots running a job.", s.running);
  metric (out, "prima_slots_total", "gauge", "Slots.", s.n_slots);
  metric (out, "prima_uptime_seconds", "gauge", "Seconds since the engine started.", s.uptime_seconds);
  g_string_append (out, "# HELP prima_requests_total Jobs by how they ended.\n# TYPE prima_requests_total counter\n");
  g_string_append_printf (out, "prima_requests_total{result=\"done\"} %" G_GUINT64_FORMAT "\n", s.jobs_done);
  g_string_append_printf (out, "prima_requests_total{result=\"cancelled\"} %" G_GUINT64_FORMAT "\n",
      s.jobs_cancelled);
  g_string_append_printf (out, "prima_requests_total{result=\"failed\"} %" G_GUINT64_FORMAT "\n", s.jobs_failed);
  g_string_append_printf (out, "prima_requests_total{result=\"rejected\"} %" G_GUINT64_FORMAT "\n",
      s.jobs_rejected);
  g_string_append (out, "# HELP prima_time_to_first_token_seconds Submission to first token.\n"
      "# TYPE prima_time_to_first_token_seconds summary\n");
  g_string_append_printf (out, "prima_time_to_first_token_seconds_sum %s\n",
      g_ascii_dtostr (num, sizeof num, s.ttft_seconds_sum));
  g_string_append_printf (out, "prima_time_to_first_token_seconds_count %" G_GUINT64_FORMAT "\n", s.ttft_count);
  const char *dev_metrics[][2] = {
    {"prima_device_compute_seconds_total", "Seconds each device spent in its layers."},
    {"prima_device_hop_seconds_total",
      "Seconds each device spent sending on: from its layers' end until its link took the frame."},
    {"prima_device_rounds_total", "Forward passes each device took part in."},
  };
  for (guint m = 0; m < G_N_ELEMENTS (dev_metrics); m++) {
    g_string_append_printf (out, "# HELP %s %s\n# TYPE %s counter\n", dev_metrics[m][0], dev_metrics[m][1],
        dev_metrics[m][0]);
    for (guint d = 0; d < s.n_devices; d++) {
      const PrimaEngineDeviceStats *dev = &s.devices[d];
      char *addr = label_value (dev->address != NULL ? dev->address : "local");
      char *layers = label_value (dev->layers);
      double v = m == 0 ? dev->compute_seconds : m == 1 ? dev->hop_seconds : (double) dev->rounds;
      g_string_append_printf (out, "%s{rank=\"%d\",address=\"%s\",layers=\"%s\"} %s\n", dev_metrics[m][0],
          dev->rank, addr, layers, g_ascii_dtostr (num, sizeof num, v));
      g_free (addr);
      g_free (layers);
    }
  }
  if (s.ring_laps > 0) {
    /* measured at the head; the transfer is derived (docs/ring.md, "Timing") */
    metric (out, "prima_ring_laps_total", "counter", "Batches that went round the ring and came back.",
        (double) s.ring_laps);
    metric (out, "prima_ring_lap_seconds_total", "counter", "Seconds from a batch leaving the head until back.",
        s.ring_lap_seconds);
    metric (out, "prima_ring_transfer_laps_total", "counter",
        "Laps the transfer time covers (every worker's report counted them all).", (double) s.ring_transfer_laps);
    metric (out, "prima_ring_transfer_seconds_total", "counter",
        "Seconds on the wire over those laps: lap time less every device's compute and send time.",
        s.ring_transfer_seconds);
  }
  prima_engine_stats_clear (&s);
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "text/plain; version=0.0.4", SOUP_MEMORY_TAKE, out->str, out->len);
  g_string_free (out, FALSE);
}

static void
handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query, gpointer data)
{
  PrimaHttpApi *api = data;
  MsgState *st = g_object_get_data (G_OBJECT (msg), MSG_STATE);
  const char *want;
  Route route = route_of (path, &want);
  GByteArray *body = st != NULL ? st->body : NULL;
  GByteArray *empty = NULL;

  if (st != NULL)
    set_timer (st, 0);
  if (st != NULL && st->body_too_large) {
    char *m = g_strdup_printf ("the body is larger than %" G_GSIZE_FORMAT " bytes", api->max_body);
    respond_error (msg, 413, m, NULL, "request_too_large");
    g_free (m);
    return;
  }
  if (body == NULL)
    body = empty = g_byte_array_new ();
  if (api->stopped && route != ROUTE_HEALTH) {
    respond_error (msg, 503, "the server is stopping", NULL, "server_stopping");
  } else {
    switch (route) {
      case ROUTE_CHAT:
        handle_generate (api, msg, PRIMA_OPENAI_CHAT, body);
        break;
      case ROUTE_COMPLETIONS:
        handle_generate (api, msg, PRIMA_OPENAI_COMPLETION, body);
        break;
      case ROUTE_MODELS:
        respond_json (msg, 200, prima_openai_models_json (prima_engine_get_model_name (api->engine), api->created));
        break;
      case ROUTE_HEALTH:
        if (api->stopped)
          respond_json (msg, 503, g_strdup ("{\"status\":\"stopping\"}"));
        else
          respond_json (msg, 200, g_strdup ("{\"status\":\"ok\"}"));
        break;
      case ROUTE_METRICS:
        handle_metrics (api, msg);
        break;
      case ROUTE_CANCEL:
        handle_cancel (api, msg, body);
        break;
      case ROUTE_NONE:
        /* the early handler answered it */
        respond_error (msg, 404, "no such route", NULL, "not_found");
        break;
    }
  }
  if (empty != NULL)
    g_byte_array_unref (empty);
}

/* ---- the object ---- */

PrimaHttpApi *
prima_http_api_new (PrimaEngine *engine, const PrimaHttpApiOptions *o, GError **error)
{
  const char *host = o->host != NULL ? o->host : "127.0.0.1";
  GInetAddress *addr;
  GError *err = NULL;

  if (o->port < 0 || o->port > 65535) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("port %d is not between 0 and 65535"), o->port);
    return NULL;
  }
  if (strcmp (host, "localhost") == 0)
    addr = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    addr = g_inet_address_new_from_string (host);
  if (addr == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("'%s' is not an IP address (nor localhost)"), host);
    return NULL;
  }

  PrimaHttpApi *api = g_object_new (PRIMA_TYPE_HTTP_API, NULL);
  api->engine = g_object_ref (engine);
  api->context = g_main_context_ref_thread_default ();
  api->api_key = o->api_key != NULL && *o->api_key ? g_strdup (o->api_key) : NULL;
  api->max_body = o->max_body_bytes > 0 ? o->max_body_bytes : PRIMA_HTTP_API_DEFAULT_MAX_BODY;
  api->header_timeout_s = o->header_timeout_s > 0 ? o->header_timeout_s : PRIMA_HTTP_API_DEFAULT_HEADER_TIMEOUT_S;
  api->body_timeout_s = o->body_timeout_s > 0 ? o->body_timeout_s : PRIMA_HTTP_API_DEFAULT_BODY_TIMEOUT_S;
  api->created = g_get_real_time () / G_USEC_PER_SEC;
  api->server = soup_server_new ("server-header", "prima-serve ", NULL);
  g_signal_connect (api->server, "request-started", G_CALLBACK (on_request_started), api);
  soup_server_add_early_handler (api->server, NULL, early_handler, api, NULL);
  soup_server_add_handler (api->server, NULL, handler, api, NULL);

  GSocketAddress *sa = g_inet_socket_address_new (addr, o->port);
  gboolean ok = soup_server_listen (api->server, sa, 0, &err);
  g_object_unref (sa);
  g_object_unref (addr);
  if (!ok) {
    g_set_error (error, G_IO_ERROR, err->code, _("cannot listen on %s port %d: %s"), host, o->port, err->message);
    g_error_free (err);
    g_object_unref (api);
    return NULL;
  }
  GSList *uris = soup_server_get_uris (api->server);
  if (uris != NULL)
    api->port = g_uri_get_port (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return api;
}

guint
prima_http_api_get_port (PrimaHttpApi *api)
{
  return api->port;
}

void
prima_http_api_stop (PrimaHttpApi *api)
{
  if (api->stopped)
    return;
  api->stopped = TRUE;
  if (api->server != NULL)
    soup_server_disconnect (api->server);
  /* cancel what runs; each job's "finished" comes in this main context */
  GList *reqs = g_hash_table_get_values (api->requests);
  for (GList *l = reqs; l != NULL; l = l->next) {
    Request *r = l->data;
    if (r->job != NULL)
      prima_job_cancel (r->job);
  }
  g_list_free (reqs);
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (g_hash_table_size (api->requests) > 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (api->context, FALSE) || (g_usleep (1000), TRUE);
}

static void
prima_http_api_dispose (GObject *object)
{
  PrimaHttpApi *api = PRIMA_HTTP_API (object);
  if (api->engine != NULL)
    prima_http_api_stop (api);
  g_clear_object (&api->server);
  g_clear_object (&api->engine);
  G_OBJECT_CLASS (prima_http_api_parent_class)->dispose (object);
}

static void
prima_http_api_finalize (GObject *object)
{
  PrimaHttpApi *api = PRIMA_HTTP_API (object);
  g_free (api->api_key);
  g_hash_table_unref (api->requests);
  g_main_context_unref (api->context);
  G_OBJECT_CLASS (prima_http_api_parent_class)->finalize (object);
}

static void
prima_http_api_class_init (PrimaHttpApiClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = prima_http_api_dispose;
  G_OBJECT_CLASS (klass)->finalize = prima_http_api_finalize;
}

static void
prima_http_api_init (PrimaHttpApi *api)
{
  api->requests = g_hash_table_new (g_str_hash, g_str_equal);
}
