/* gst-prima: libFuzzer target for the OpenAI request parsing of `prima serve`
 * (pipelines/serve/openai-request.c): the bytes are a request body.
 * The first byte picks the route (even: /v1/chat/completions, odd:
 * /v1/completions), the rest is the body. A refused body must come with a
 * one-line message; an accepted one must hold what the request type needs,
 * within the limits, and its text must come back unchanged through the
 * answer builders (valid JSON, the same string). Built with
 * -DPRIMA_FUZZ_REPLAY it replays a corpus. */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdint.h>
#include <string.h>

#include "openai-request.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The text comes back from the JSON that carries it. */
static void
check_round_trip (PrimaOpenaiKind kind, const char *text)
{
  char *json = prima_openai_response_json (kind, "id", 1, "m", text, "stop", 1, 1);
  JsonParser *parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, json, -1, NULL))
    __builtin_trap ();
  JsonObject *o = json_node_get_object (json_parser_get_root (parser));
  JsonObject *c = json_array_get_object_element (json_object_get_array_member (o, "choices"), 0);
  const char *back = kind == PRIMA_OPENAI_CHAT
      ? json_object_get_string_member (json_object_get_object_member (c, "message"), "content")
      : json_object_get_string_member (c, "text");
  if (back == NULL || strcmp (back, text) != 0)
    __builtin_trap ();
  g_object_unref (parser);
  g_free (json);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  PrimaOpenaiKind kind = data[0] % 2 ? PRIMA_OPENAI_COMPLETION : PRIMA_OPENAI_CHAT;
  GError *error = NULL;
  char *param = NULL;
  PrimaOpenaiRequest *req = prima_openai_request_parse (kind, (const char *) data + 1, size - 1, &param, &error);
  if (req == NULL) {
    if (error == NULL || strchr (error->message, '\n') != NULL)
      __builtin_trap ();
    g_error_free (error);
    g_free (param);
    return 0;
  }
  if (error != NULL || param != NULL || req->kind != kind)
    __builtin_trap ();
  if (kind == PRIMA_OPENAI_COMPLETION) {
    if (req->prompt == NULL || req->n_messages != 0)
      __builtin_trap ();
    check_round_trip (kind, req->prompt);
  } else {
    if (req->prompt != NULL || req->n_messages == 0)
      __builtin_trap ();
    for (gsize i = 0; i < req->n_messages; i++) {
      if (req->messages[i].role == NULL || req->messages[i].content == NULL)
        __builtin_trap ();
      check_round_trip (kind, req->messages[i].content);
    }
  }
  if (req->stop != NULL && (g_strv_length (req->stop) == 0 || g_strv_length (req->stop) > PRIMA_OPENAI_MAX_STOP))
    __builtin_trap ();
  if (req->max_tokens == 0 || req->max_tokens < -1)
    __builtin_trap ();
  if (req->sampling.temperature < 0 || req->sampling.temperature > 2 || req->sampling.top_p < 0
      || req->sampling.top_p > 1 || req->sampling.top_k < 0)
    __builtin_trap ();
  prima_openai_request_free (req);
  return 0;
}

#include "fuzz-main.h"
