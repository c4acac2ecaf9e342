/* gst-prima: the OpenAI-compatible HTTP API over a PrimaEngine
 * (docs/serve.md), for `prima serve` and primad.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A SoupServer in the caller's main context: POST /v1/chat/completions,
 * POST /v1/completions (both streamed with server-sent events on request),
 * GET /v1/models, GET /health, GET /metrics (Prometheus text), POST
 * /v1/cancel. Errors are OpenAI's JSON error bodies; client input never
 * gets a 5xx (only a failing model, a busy or stopping engine). */
#pragma once

#include <glib-object.h>

#include "prima-engine.h"

G_BEGIN_DECLS

typedef struct {
  const char *host;             /* an IP address or "localhost"; NULL: 127.0.0.1 */
  int port;                     /* 0: any free port (prima_http_api_get_port says which) */
  const char *api_key;          /* NULL or "": no key; else `Authorization: Bearer KEY` on every route
                                 * but /health */
  gsize max_body_bytes;         /* 0: 8 MiB; larger bodies get 413 */
  guint header_timeout_s;       /* 0: 10; a request line and headers not read in time: connection closed */
  guint body_timeout_s;         /* 0: 60; the same for a request body, from its headers on */
} PrimaHttpApiOptions;

#define PRIMA_HTTP_API_DEFAULT_MAX_BODY (8u << 20)
#define PRIMA_HTTP_API_DEFAULT_HEADER_TIMEOUT_S 10
#define PRIMA_HTTP_API_DEFAULT_BODY_TIMEOUT_S 60

#define PRIMA_TYPE_HTTP_API prima_http_api_get_type ()
G_DECLARE_FINAL_TYPE (PrimaHttpApi, prima_http_api, PRIMA, HTTP_API, GObject)

/* Listens at once (in the thread-default main context); NULL and *error
 * (one line naming the address) when it cannot. Holds a reference to engine. */
PrimaHttpApi *prima_http_api_new (PrimaEngine *engine, const PrimaHttpApiOptions *options, GError **error);
/* The port it listens on (the chosen one for port 0). */
guint prima_http_api_get_port (PrimaHttpApi *api);
/* Closes the listeners and connections and cancels the jobs of its requests,
 * iterating the main context until they have finished. Idempotent; dispose
 * calls it. */
void prima_http_api_stop (PrimaHttpApi *api);

G_END_DECLS
