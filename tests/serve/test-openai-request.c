/* gst-prima tests: OpenAI request parsing and the response builders
 * (pipelines/serve/openai-request.c).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <json-glib/json-glib.h>
#include <string.h>

#include "openai-request.h"

static PrimaOpenaiRequest *
parse (PrimaOpenaiKind kind, const char *body)
{
  GError *error = NULL;
  char *param = NULL;
  PrimaOpenaiRequest *req = prima_openai_request_parse (kind, body, strlen (body), &param, &error);
  g_assert_no_error (error);
  g_assert_null (param);
  g_assert_nonnull (req);
  return req;
}

/* A body that must be refused, naming param (NULL: the body as a whole)
 * and with a message holding `words`. */
static void
refused (PrimaOpenaiKind kind, const char *body, gsize len, const char *param, const char *words)
{
  GError *error = NULL;
  char *got_param = NULL;
  PrimaOpenaiRequest *req = prima_openai_request_parse (kind, body, len, &got_param, &error);
  g_assert_null (req);
  g_assert_error (error, PRIMA_OPENAI_ERROR, PRIMA_OPENAI_ERROR_INVALID);
  g_assert_null (strchr (error->message, '\n'));
  if (strstr (error->message, words) == NULL)
    g_error ("body %.60s: message '%s' lacks '%s'", body ? body : "(null)", error->message, words);
  g_assert_cmpstr (got_param, ==, param);
  g_free (got_param);
  g_error_free (error);
}

#define REFUSED(kind, body, param, words) refused (kind, body, strlen (body), param, words)

static void
test_chat_full (void)
{
  g_autoptr (PrimaOpenaiRequest) r = parse (PRIMA_OPENAI_CHAT,
      "{\"model\":\"x\",\"messages\":[{\"role\":\"developer\",\"content\":\"Be brief.\"},"
      "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hel\"},{\"type\":\"text\",\"text\":\"lo\"}]},"
      "{\"role\":\"assistant\",\"content\":null},{\"role\":\"user\",\"content\":\"Again\"}],"
      "\"max_tokens\":7,\"temperature\":0.5,\"top_p\":0.9,\"top_k\":12,\"min_p\":0.1,\"seed\":42,"
      "\"stop\":[\"a\",\"bc\"],\"presence_penalty\":0.5,\"frequency_penalty\":-1,\"repeat_penalty\":1.1,"
      "\"stream\":true,\"stream_options\":{\"include_usage\":true},\"n\":1,\"ignore_eos\":true,"
      "\"user\":\"ignored\",\"logit_bias\":{}}");
  g_assert_cmpint (r->kind, ==, PRIMA_OPENAI_CHAT);
  g_assert_cmpstr (r->model, ==, "x");
  g_assert_null (r->prompt);
  g_assert_cmpuint (r->n_messages, ==, 4);
  g_assert_cmpstr (r->messages[0].role, ==, "system");
  g_assert_cmpstr (r->messages[0].content, ==, "Be brief.");
  g_assert_cmpstr (r->messages[1].role, ==, "user");
  g_assert_cmpstr (r->messages[1].content, ==, "Hello");
  g_assert_cmpstr (r->messages[2].role, ==, "assistant");
  g_assert_cmpstr (r->messages[2].content, ==, "");
  g_assert_cmpstr (r->messages[3].content, ==, "Again");
  g_assert_cmpint (r->max_tokens, ==, 7);
  g_assert_cmpfloat (r->sampling.temperature, ==, 0.5f);
  g_assert_cmpfloat (r->sampling.top_p, ==, 0.9f);
  g_assert_cmpint (r->sampling.top_k, ==, 12);
  g_assert_cmpfloat (r->sampling.min_p, ==, 0.1f);
  g_assert_cmpfloat (r->sampling.presence_penalty, ==, 0.5f);
  g_assert_cmpfloat (r->sampling.frequency_penalty, ==, -1.0f);
  g_assert_cmpfloat (r->sampling.repeat_penalty, ==, 1.1f);
  g_assert_true (r->seed_given);
  g_assert_cmpuint (r->sampling.seed, ==, 42);
  g_assert_nonnull (r->stop);
  g_assert_cmpstr (r->stop[0], ==, "a");
  g_assert_cmpstr (r->stop[1], ==, "bc");
  g_assert_null (r->stop[2]);
  g_assert_true (r->stream);
  g_assert_true (r->include_usage);
  g_assert_true (r->ignore_eos);
}

static void
test_defaults (void)
{
  prima_sampler_params def;
  prima_sampler_params_init (&def);
  g_autoptr (PrimaOpenaiRequest) r = parse (PRIMA_OPENAI_COMPLETION, "{\"prompt\":\"Once upon\",\"stop\":null}");
  g_assert_cmpstr (r->prompt, ==, "Once upon");
  g_assert_cmpuint (r->n_messages, ==, 0);
  g_assert_cmpint (r->max_tokens, ==, -1);
  g_assert_null (r->stop);
  g_assert_null (r->model);
  g_assert_false (r->stream);
  g_assert_false (r->include_usage);
  g_assert_false (r->seed_given);
  g_assert_cmpfloat (r->sampling.temperature, ==, def.temperature);
  g_assert_cmpint (r->sampling.top_k, ==, def.top_k);
  g_assert_cmpfloat (r->sampling.top_p, ==, def.top_p);
  g_assert_cmpint (r->sampling.penalty_last_n, ==, def.penalty_last_n);

  /* a prompt array of one; max_completion_tokens wins over max_tokens; a single stop string; 3.0 is an integer */
  g_autoptr (PrimaOpenaiRequest) r2 = parse (PRIMA_OPENAI_COMPLETION,
      "{\"prompt\":[\"One\"],\"max_tokens\":9,\"max_completion_tokens\":3.0,\"stop\":\"\\n\",\"n\":null}");
  g_assert_cmpstr (r2->prompt, ==, "One");
  g_assert_cmpint (r2->max_tokens, ==, 3);
  g_assert_cmpstr (r2->stop[0], ==, "\n");
  g_assert_null (r2->stop[1]);
}

static void
test_refused (void)
{
  const PrimaOpenaiKind C = PRIMA_OPENAI_CHAT, P = PRIMA_OPENAI_COMPLETION;
  REFUSED (C, "", NULL, "JSON object");
  REFUSED (C, "  ", NULL, "JSON object");
  refused (C, NULL, 0, NULL, "JSON object");
  REFUSED (C, "{\"messages\":", NULL, "not JSON");
  REFUSED (C, "[1,2]", NULL, "JSON object");
  REFUSED (C, "\"x\"", NULL, "JSON object");
  REFUSED (C, "{}", "messages", "required");
  REFUSED (C, "{\"messages\":[]}", "messages", "non-empty array");
  REFUSED (C, "{\"messages\":{}}", "messages", "non-empty array");
  REFUSED (C, "{\"messages\":[3]}", "messages[0]", "object");
  REFUSED (C, "{\"messages\":[{\"content\":\"a\"}]}", "messages[0].role", "one of");
  REFUSED (C, "{\"messages\":[{\"role\":\"wizard\",\"content\":\"a\"}]}", "messages[0].role", "one of");
  REFUSED (C, "{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content", "required");
  REFUSED (C, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content", "string or an array");
  REFUSED (C, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
      "messages[0].content", "type 'text'");
  REFUSED (C, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}",
      "messages[0].content", "string 'text'");
  REFUSED (C, "{\"messages\":[{\"role\":\"user\",\"content\":[7]}]}", "messages[0].content", "'type'");
#define M "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]"
  REFUSED (C, "{" M ",\"temperature\":\"hot\"}", "temperature", "'temperature' must be a number between 0 and 2");
  REFUSED (C, "{" M ",\"temperature\":2.5}", "temperature", "between 0 and 2");
  REFUSED (C, "{" M ",\"temperature\":-0.1}", "temperature", "between 0 and 2");
  REFUSED (C, "{" M ",\"top_p\":1.5}", "top_p", "between 0 and 1");
  REFUSED (C, "{" M ",\"min_p\":true}", "min_p", "between 0 and 1");
  REFUSED (C, "{" M ",\"top_k\":-1}", "top_k", "integer");
  REFUSED (C, "{" M ",\"top_k\":1.5}", "top_k", "integer");
  REFUSED (C, "{" M ",\"max_tokens\":0}", "max_tokens", "between 1 and");
  REFUSED (C, "{" M ",\"max_tokens\":1e30}", "max_tokens", "between 1 and");
  REFUSED (C, "{" M ",\"max_tokens\":99999999999}", "max_tokens", "between 1 and");
  REFUSED (C, "{" M ",\"max_tokens\":\"5\"}", "max_tokens", "integer");
  REFUSED (C, "{" M ",\"max_completion_tokens\":-3}", "max_completion_tokens", "integer");
  REFUSED (C, "{" M ",\"seed\":\"1\"}", "seed", "integer");
  REFUSED (C, "{" M ",\"seed\":0.5}", "seed", "integer");
  REFUSED (C, "{" M ",\"n\":2}", "n", "must be 1");
  REFUSED (C, "{" M ",\"stream\":1}", "stream", "boolean");
  REFUSED (C, "{" M ",\"ignore_eos\":\"yes\"}", "ignore_eos", "boolean");
  REFUSED (C, "{" M ",\"stream_options\":true}", "stream_options", "object");
  REFUSED (C, "{" M ",\"stream_options\":{\"include_usage\":1}}", "stream_options.include_usage", "boolean");
  REFUSED (C, "{" M ",\"stop\":5}", "stop", "string or an array");
  REFUSED (C, "{" M ",\"stop\":\"\"}", "stop", "empty");
  REFUSED (C, "{" M ",\"stop\":[\"a\",3]}", "stop", "non-empty strings");
  REFUSED (C, "{" M ",\"stop\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\","
      "\"14\",\"15\",\"16\",\"17\"]}", "stop", "at most 16");
  REFUSED (C, "{" M ",\"presence_penalty\":3}", "presence_penalty", "between -2 and 2");
  REFUSED (C, "{" M ",\"frequency_penalty\":[]}", "frequency_penalty", "between -2 and 2");
  REFUSED (C, "{" M ",\"repeat_penalty\":11}", "repeat_penalty", "between 0 and 10");
  REFUSED (C, "{" M ",\"model\":5}", "model", "string");
#undef M
  REFUSED (P, "{\"messages\":[]}", "prompt", "required");
  REFUSED (P, "{\"prompt\":5}", "prompt", "string");
  REFUSED (P, "{\"prompt\":[\"a\",\"b\"]}", "prompt", "string");
  REFUSED (P, "{\"prompt\":[1,2,3]}", "prompt", "string");
  /* bad UTF-8 and a NUL in the body */
  REFUSED (P, "{\"prompt\":\"\xc3\x28\"}", NULL, "UTF-8");
  static const char with_nul[] = "{\"prompt\":\"a\0b\"}";
  refused (P, with_nul, sizeof with_nul - 1, NULL, "UTF-8");
  /* nesting past the limit is refused before it is parsed (a deep body would
   * overflow the parser's stack); nesting inside a string is only text */
  GString *deep = g_string_new ("{\"prompt\":\"x\",\"a\":");
  for (int i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  REFUSED (P, deep->str, NULL, "deeper than 64");
  g_string_free (deep, TRUE);
  GString *text = g_string_new ("{\"prompt\":\"");
  for (int i = 0; i < 1000; i++)
    g_string_append (text, "[{\\\"");
  g_string_append (text, "\"}");
  g_autoptr (PrimaOpenaiRequest) r = parse (P, text->str);
  g_assert_cmpuint (strlen (r->prompt), ==, 3000);
  g_string_free (text, TRUE);
}

static JsonObject *
load (JsonParser *parser, const char *json)
{
  GError *error = NULL;
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static JsonObject *
choice0 (JsonObject *o)
{
  JsonArray *choices = json_object_get_array_member (o, "choices");
  g_assert_cmpuint (json_array_get_length (choices), ==, 1);
  return json_array_get_object_element (choices, 0);
}

static void
test_builders (void)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  char *id = prima_openai_new_id (PRIMA_OPENAI_CHAT), *id2 = prima_openai_new_id (PRIMA_OPENAI_COMPLETION);
  g_assert_true (g_str_has_prefix (id, "chatcmpl-"));
  g_assert_cmpuint (strlen (id), ==, 9 + 24);
  g_assert_true (g_str_has_prefix (id2, "cmpl-"));
  g_assert_cmpuint (strlen (id2), ==, 5 + 24);

  char *s = prima_openai_response_json (PRIMA_OPENAI_CHAT, id, 1700000000, "m", "Hi \"you\"\n", "length", 5, 3);
  JsonObject *o = load (p, s);
  g_assert_cmpstr (json_object_get_string_member (o, "id"), ==, id);
  g_assert_cmpstr (json_object_get_string_member (o, "object"), ==, "chat.completion");
  g_assert_cmpint (json_object_get_int_member (o, "created"), ==, 1700000000);
  g_assert_cmpstr (json_object_get_string_member (o, "model"), ==, "m");
  JsonObject *c = choice0 (o), *msg = json_object_get_object_member (c, "message");
  g_assert_cmpstr (json_object_get_string_member (msg, "role"), ==, "assistant");
  g_assert_cmpstr (json_object_get_string_member (msg, "content"), ==, "Hi \"you\"\n");
  g_assert_cmpstr (json_object_get_string_member (c, "finish_reason"), ==, "length");
  JsonObject *u = json_object_get_object_member (o, "usage");
  g_assert_cmpint (json_object_get_int_member (u, "prompt_tokens"), ==, 5);
  g_assert_cmpint (json_object_get_int_member (u, "completion_tokens"), ==, 3);
  g_assert_cmpint (json_object_get_int_member (u, "total_tokens"), ==, 8);
  g_free (s);

  s = prima_openai_response_json (PRIMA_OPENAI_COMPLETION, id2, 1, "m", "text", "stop", 1, 1);
  o = load (p, s);
  g_assert_cmpstr (json_object_get_string_member (o, "object"), ==, "text_completion");
  g_assert_cmpstr (json_object_get_string_member (choice0 (o), "text"), ==, "text");
  g_assert_cmpstr (json_object_get_string_member (choice0 (o), "finish_reason"), ==, "stop");
  g_free (s);

  s = prima_openai_chunk_json (PRIMA_OPENAI_CHAT, id, 1, "m", TRUE, NULL, NULL);
  o = load (p, s);
  g_assert_cmpstr (json_object_get_string_member (o, "object"), ==, "chat.completion.chunk");
  c = choice0 (o);
  JsonObject *d = json_object_get_object_member (c, "delta");
  g_assert_cmpstr (json_object_get_string_member (d, "role"), ==, "assistant");
  g_assert_false (json_object_has_member (d, "content"));
  g_assert_true (json_object_get_null_member (c, "finish_reason"));
  g_free (s);

  s = prima_openai_chunk_json (PRIMA_OPENAI_CHAT, id, 1, "m", FALSE, "ab", NULL);
  d = json_object_get_object_member (choice0 (load (p, s)), "delta");
  g_assert_false (json_object_has_member (d, "role"));
  g_assert_cmpstr (json_object_get_string_member (d, "content"), ==, "ab");
  g_free (s);

  s = prima_openai_chunk_json (PRIMA_OPENAI_CHAT, id, 1, "m", FALSE, NULL, "stop");
  c = choice0 (load (p, s));
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (c, "delta")), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (c, "finish_reason"), ==, "stop");
  g_free (s);

  s = prima_openai_chunk_json (PRIMA_OPENAI_COMPLETION, id2, 1, "m", TRUE, "x", NULL);
  o = load (p, s);
  g_assert_cmpstr (json_object_get_string_member (o, "object"), ==, "text_completion");
  g_assert_cmpstr (json_object_get_string_member (choice0 (o), "text"), ==, "x");
  g_free (s);

  s = prima_openai_usage_chunk_json (PRIMA_OPENAI_CHAT, id, 1, "m", 10, 4);
  o = load (p, s);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "choices")), ==, 0);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (o, "usage"), "total_tokens"), ==, 14);
  g_free (s);

  s = prima_openai_error_json ("'n' must be 1", "invalid_request_error", "n", NULL);
  o = json_object_get_object_member (load (p, s), "error");
  g_assert_cmpstr (json_object_get_string_member (o, "message"), ==, "'n' must be 1");
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "invalid_request_error");
  g_assert_cmpstr (json_object_get_string_member (o, "param"), ==, "n");
  g_assert_true (json_object_get_null_member (o, "code"));
  g_free (s);

  s = prima_openai_models_json ("tiny", 5);
  o = load (p, s);
  g_assert_cmpstr (json_object_get_string_member (o, "object"), ==, "list");
  JsonObject *m = json_array_get_object_element (json_object_get_array_member (o, "data"), 0);
  g_assert_cmpstr (json_object_get_string_member (m, "id"), ==, "tiny");
  g_assert_cmpstr (json_object_get_string_member (m, "object"), ==, "model");
  g_free (s);
  g_free (id);
  g_free (id2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/openai-request/chat", test_chat_full);
  g_test_add_func ("/openai-request/defaults", test_defaults);
  g_test_add_func ("/openai-request/refused", test_refused);
  g_test_add_func ("/openai-request/builders", test_builders);
  return g_test_run ();
}
