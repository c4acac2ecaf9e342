/* gst-prima: OpenAI's request and response bodies for `prima serve`
 * (docs/serve.md): a /v1/chat/completions or /v1/completions body parsed
 * into an owned, checked request, and the JSON the API answers with.
 * json-glib only: no libsoup, no GStreamer, so that the parser is unit-tested
 * and fuzzed on its own (tests/fuzz/fuzz-openai-request.c).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "sampler.h"
#include "chat-template.h"

G_BEGIN_DECLS

#define PRIMA_OPENAI_ERROR (prima_openai_error_quark ())
GQuark prima_openai_error_quark (void);

typedef enum {
  PRIMA_OPENAI_ERROR_INVALID,   /* the body is not a request we can run: 400 */
} PrimaOpenaiError;

typedef enum {
  PRIMA_OPENAI_CHAT,            /* /v1/chat/completions */
  PRIMA_OPENAI_COMPLETION,      /* /v1/completions */
} PrimaOpenaiKind;

/* The most stop strings a request may give (OpenAI takes 4, llama-server more). */
#define PRIMA_OPENAI_MAX_STOP 16
/* The deepest nesting of arrays and objects a body may have: deeper bodies
 * are refused before json-glib's recursive parser sees them. */
#define PRIMA_OPENAI_MAX_DEPTH 64

typedef struct {
  PrimaOpenaiKind kind;
  char *model;                  /* as given (not used to choose anything), or NULL */
  char *prompt;                 /* a completion's prompt */
  prima_chat_message *messages; /* a chat's turns; role and content owned */
  gsize n_messages;
  int max_tokens;               /* -1: not given */
  prima_sampler_params sampling;  /* llama-cli's defaults where not given */
  gboolean seed_given;          /* else sampling.seed is a random one */
  char **stop;                  /* NULL-terminated, NULL when none */
  gboolean stream;
  gboolean include_usage;       /* stream_options.include_usage */
  gboolean ignore_eos;
} PrimaOpenaiRequest;

/* Parses and checks a request body of len bytes (not NUL-terminated).
 * On failure NULL, *error (PRIMA_OPENAI_ERROR_INVALID) a one-line message
 * naming the field, and *param (when param is non-NULL) the field's name
 * (g_free; NULL when the body as a whole is wrong). */
PrimaOpenaiRequest *prima_openai_request_parse (PrimaOpenaiKind kind, const char *body, gsize len,
    char **param, GError **error);
void prima_openai_request_free (PrimaOpenaiRequest *req);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PrimaOpenaiRequest, prima_openai_request_free)

/* A new response id: "chatcmpl-" or "cmpl-" and 24 random letters and digits. */
char *prima_openai_new_id (PrimaOpenaiKind kind);

/* OpenAI's error body: {"error":{"message","type","param","code"}};
 * param and code may be NULL (JSON null). */
char *prima_openai_error_json (const char *message, const char *type, const char *param, const char *code);

/* A whole answer: chat.completion (choices[0].message) or text_completion
 * (choices[0].text), with usage. finish_reason "stop" or "length". */
char *prima_openai_response_json (PrimaOpenaiKind kind, const char *id, gint64 created, const char *model,
    const char *text, const char *finish_reason, int n_prompt, int n_completion);

/* One streamed chunk: chat.completion.chunk (delta with role "assistant"
 * when first, content when text is non-NULL) or text_completion (text).
 * finish_reason NULL (JSON null) until the last chunk. */
char *prima_openai_chunk_json (PrimaOpenaiKind kind, const char *id, gint64 created, const char *model,
    gboolean first, const char *text, const char *finish_reason);

/* The usage chunk of stream_options.include_usage: empty choices, usage. */
char *prima_openai_usage_chunk_json (PrimaOpenaiKind kind, const char *id, gint64 created, const char *model,
    int n_prompt, int n_completion);

/* GET /v1/models: a list with the one model. */
char *prima_openai_models_json (const char *model, gint64 created);

G_END_DECLS
