/* gst-prima: OpenAI's request and response bodies for `prima serve`.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "openai-request.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

G_DEFINE_QUARK (prima-openai-error-quark, prima_openai_error)

/* Sets *error and *param for field; returns FALSE for the caller to return. */
G_GNUC_PRINTF (4, 5) static gboolean
fail (GError **error, char **param, const char *field, const char *format, ...)
{
  va_list ap;
  va_start (ap, format);
  char *msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error_literal (error, PRIMA_OPENAI_ERROR, PRIMA_OPENAI_ERROR_INVALID, msg);
  g_free (msg);
  if (param != NULL) {
    g_free (*param);
    *param = g_strdup (field);
  }
  return FALSE;
}

/* The deepest nesting of the body's arrays and objects (outside strings),
 * counted before json-glib recurses into it; stops counting past limit. */
static int
nesting_depth (const char *s, gsize len, int limit)
{
  int depth = 0, max = 0;
  gboolean in_string = FALSE;
  for (gsize i = 0; i < len; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      if (++depth > max && (max = depth) > limit)
        return max;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return max;
}

static gboolean
is_null (JsonNode *node)
{
  return node == NULL || JSON_NODE_HOLDS_NULL (node);
}

static gboolean
get_number (JsonNode *node, double *out)
{
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  GType t = json_node_get_value_type (node);
  if (t == G_TYPE_INT64)
    *out = (double) json_node_get_int (node);
  else if (t == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    return FALSE;
  return isfinite (*out);
}

/* An integer: a JSON integer, or a number with no fraction (1.0). */
static gboolean
get_integer (JsonNode *node, gint64 *out)
{
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  GType t = json_node_get_value_type (node);
  if (t == G_TYPE_INT64) {
    *out = json_node_get_int (node);
    return TRUE;
  }
  if (t == G_TYPE_DOUBLE) {
    double d = json_node_get_double (node);
    if (!isfinite (d) || d != floor (d) || d < -9.2e18 || d > 9.2e18)
      return FALSE;
    *out = (gint64) d;
    return TRUE;
  }
  return FALSE;
}

static gboolean
get_string (JsonNode *node, const char **out)
{
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return FALSE;
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
get_bool (JsonNode *node, gboolean *out)
{
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return FALSE;
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* A number field in [lo, hi]; absent or null leaves *out. */
static gboolean
number_field (JsonObject *obj, const char *field, double lo, double hi, float *out, char **param, GError **error)
{
  JsonNode *node = json_object_get_member (obj, field);
  double d;
  if (is_null (node))
    return TRUE;
  if (!get_number (node, &d) || d < lo || d > hi)
    return fail (error, param, field, "'%s' must be a number between %g and %g", field, lo, hi);
  *out = (float) d;
  return TRUE;
}

static gboolean
bool_field (JsonObject *obj, const char *field, gboolean *out, char **param, GError **error)
{
  JsonNode *node = json_object_get_member (obj, field);
  if (is_null (node))
    return TRUE;
  if (!get_bool (node, out))
    return fail (error, param, field, "'%s' must be a boolean", field);
  return TRUE;
}

/* A message's content: a string, or an array of {"type":"text","text":...}
 * parts (joined), or null (an assistant turn with no text). */
static gboolean
message_content (JsonNode *node, const char *field, char **out, char **param, GError **error)
{
  const char *s;
  if (is_null (node)) {
    *out = g_strdup ("");
    return TRUE;
  }
  if (get_string (node, &s)) {
    *out = g_strdup (s);
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return fail (error, param, field, "'%s' must be a string or an array of text parts", field);
  JsonArray *parts = json_node_get_array (node);
  GString *text = g_string_new (NULL);
  for (guint i = 0; i < json_array_get_length (parts); i++) {
    JsonNode *part = json_array_get_element (parts, i);
    const char *type, *t;
    JsonObject *po = JSON_NODE_HOLDS_OBJECT (part) ? json_node_get_object (part) : NULL;
    if (po == NULL || !json_object_has_member (po, "type")
        || !get_string (json_object_get_member (po, "type"), &type)) {
      g_string_free (text, TRUE);
      return fail (error, param, field, "'%s' parts must be objects with a 'type'", field);
    }
    if (strcmp (type, "text") != 0) {
      g_string_free (text, TRUE);
      return fail (error, param, field, "'%s': only parts of type 'text' are supported, not '%.40s'", field, type);
    }
    if (!json_object_has_member (po, "text") || !get_string (json_object_get_member (po, "text"), &t)) {
      g_string_free (text, TRUE);
      return fail (error, param, field, "'%s': a text part needs a string 'text'", field);
    }
    g_string_append (text, t);
  }
  *out = g_string_free (text, FALSE);
  return TRUE;
}

static gboolean
parse_messages (PrimaOpenaiRequest *req, JsonObject *obj, char **param, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "messages");
  if (is_null (node))
    return fail (error, param, "messages", "'messages' is required");
  if (!JSON_NODE_HOLDS_ARRAY (node) || json_array_get_length (json_node_get_array (node)) == 0)
    return fail (error, param, "messages", "'messages' must be a non-empty array");
  JsonArray *arr = json_node_get_array (node);
  guint n = json_array_get_length (arr);
  req->messages = g_new0 (prima_chat_message, n);
  for (guint i = 0; i < n; i++) {
    JsonNode *m = json_array_get_element (arr, i);
    const char *role;
    char *field;
    if (!JSON_NODE_HOLDS_OBJECT (m)) {
      field = g_strdup_printf ("messages[%u]", i);
      fail (error, param, field, "'%s' must be an object", field);
      g_free (field);
      return FALSE;
    }
    JsonObject *mo = json_node_get_object (m);
    JsonNode *rn = json_object_get_member (mo, "role");
    if (is_null (rn) || !get_string (rn, &role)
        || (strcmp (role, "system") != 0 && strcmp (role, "developer") != 0 && strcmp (role, "user") != 0
            && strcmp (role, "assistant") != 0 && strcmp (role, "tool") != 0)) {
      field = g_strdup_printf ("messages[%u].role", i);
      fail (error, param, field, "'%s' must be one of system, developer, user, assistant, tool", field);
      g_free (field);
      return FALSE;
    }
    field = g_strdup_printf ("messages[%u].content", i);
    char *content = NULL;
    /* a user or system turn without content is a mistake; an assistant's may be null */
    if (!json_object_has_member (mo, "content") && strcmp (role, "assistant") != 0) {
      fail (error, param, field, "'%s' is required", field);
      g_free (field);
      return FALSE;
    }
    if (!message_content (json_object_get_member (mo, "content"), field, &content, param, error)) {
      g_free (field);
      return FALSE;
    }
    g_free (field);
    /* OpenAI's newer name for the system role */
    req->messages[i].role = g_strdup (strcmp (role, "developer") == 0 ? "system" : role);
    req->messages[i].content = content;
    req->n_messages = i + 1;
  }
  return TRUE;
}

static gboolean
parse_prompt (PrimaOpenaiRequest *req, JsonObject *obj, char **param, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "prompt");
  const char *s;
  if (is_null (node))
    return fail (error, param, "prompt", "'prompt' is required");
  /* one prompt, or an array holding one (n = 1: one answer per request) */
  if (JSON_NODE_HOLDS_ARRAY (node) && json_array_get_length (json_node_get_array (node)) == 1)
    node = json_array_get_element (json_node_get_array (node), 0);
  if (!get_string (node, &s))
    return fail (error, param, "prompt", "'prompt' must be a string (or an array of one string)");
  req->prompt = g_strdup (s);
  return TRUE;
}

static gboolean
parse_stop (PrimaOpenaiRequest *req, JsonObject *obj, char **param, GError **error)
{
  JsonNode *node = json_object_get_member (obj, "stop");
  const char *s;
  if (is_null (node))
    return TRUE;
  if (get_string (node, &s)) {
    if (*s == '\0')
      return fail (error, param, "stop", "'stop' must not be empty");
    req->stop = g_new0 (char *, 2);
    req->stop[0] = g_strdup (s);
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return fail (error, param, "stop", "'stop' must be a string or an array of strings");
  JsonArray *arr = json_node_get_array (node);
  guint n = json_array_get_length (arr);
  if (n > PRIMA_OPENAI_MAX_STOP)
    return fail (error, param, "stop", "'stop' may hold at most %d strings", PRIMA_OPENAI_MAX_STOP);
  if (n == 0)
    return TRUE;
  req->stop = g_new0 (char *, n + 1);
  for (guint i = 0; i < n; i++) {
    if (!get_string (json_array_get_element (arr, i), &s) || *s == '\0')
      return fail (error, param, "stop", "'stop' must hold non-empty strings");
    req->stop[i] = g_strdup (s);
  }
  return TRUE;
}

static gboolean
parse_fields (PrimaOpenaiRequest *req, JsonObject *obj, char **param, GError **error)
{
  prima_sampler_params *sp = &req->sampling;
  JsonNode *node;
  const char *s;
  gint64 i64;

  node = json_object_get_member (obj, "model");
  if (!is_null (node)) {
    if (!get_string (node, &s))
      return fail (error, param, "model", "'model' must be a string");
    req->model = g_strdup (s);
  }
  if (req->kind == PRIMA_OPENAI_CHAT ? !parse_messages (req, obj, param, error)
      : !parse_prompt (req, obj, param, error))
    return FALSE;
  /* max_completion_tokens is the newer name; either may be given */
  const char *max_names[] = { "max_completion_tokens", "max_tokens" };
  for (guint k = 0; k < G_N_ELEMENTS (max_names); k++) {
    node = json_object_get_member (obj, max_names[k]);
    if (is_null (node))
      continue;
    if (!get_integer (node, &i64) || i64 < 1 || i64 > G_MAXINT)
      return fail (error, param, max_names[k], "'%s' must be an integer between 1 and %d", max_names[k], G_MAXINT);
    if (req->max_tokens < 0)
      req->max_tokens = (int) i64;
  }
  if (!number_field (obj, "temperature", 0, 2, &sp->temperature, param, error)
      || !number_field (obj, "top_p", 0, 1, &sp->top_p, param, error)
      || !number_field (obj, "min_p", 0, 1, &sp->min_p, param, error)
      || !number_field (obj, "presence_penalty", -2, 2, &sp->presence_penalty, param, error)
      || !number_field (obj, "frequency_penalty", -2, 2, &sp->frequency_penalty, param, error)
      || !number_field (obj, "repeat_penalty", 0, 10, &sp->repeat_penalty, param, error))
    return FALSE;
  node = json_object_get_member (obj, "top_k");
  if (!is_null (node)) {
    if (!get_integer (node, &i64) || i64 < 0 || i64 > G_MAXINT)
      return fail (error, param, "top_k", "'top_k' must be an integer of at least 0 (0: off)");
    sp->top_k = (int) i64;
  }
  node = json_object_get_member (obj, "seed");
  if (!is_null (node)) {
    if (!get_integer (node, &i64))
      return fail (error, param, "seed", "'seed' must be an integer");
    sp->seed = (guint64) i64;
    req->seed_given = TRUE;
  }
  node = json_object_get_member (obj, "n");
  if (!is_null (node) && (!get_integer (node, &i64) || i64 != 1))
    return fail (error, param, "n", "'n' must be 1: one answer per request");
  if (!parse_stop (req, obj, param, error)
      || !bool_field (obj, "stream", &req->stream, param, error)
      || !bool_field (obj, "ignore_eos", &req->ignore_eos, param, error))
    return FALSE;
  node = json_object_get_member (obj, "stream_options");
  if (!is_null (node)) {
    if (!JSON_NODE_HOLDS_OBJECT (node))
      return fail (error, param, "stream_options", "'stream_options' must be an object");
    if (!bool_field (json_node_get_object (node), "include_usage", &req->include_usage, param, error)) {
      if (param != NULL) {
        g_free (*param);
        *param = g_strdup ("stream_options.include_usage");
      }
      return FALSE;
    }
  }
  return TRUE;
}

PrimaOpenaiRequest *
prima_openai_request_parse (PrimaOpenaiKind kind, const char *body, gsize len, char **param, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) json_error = NULL;
  const char *end;

  if (param != NULL)
    *param = NULL;
  /* an empty body may come as NULL; json-glib takes no NULL */
  if (body == NULL || len == 0) {
    body = "";
    len = 0;
  }
  /* json-glib takes a length but stops at a NUL, and would take bad UTF-8
   * inside strings on to the tokenizer: both refused here */
  if (!g_utf8_validate_len (body, len, &end)) {
    fail (error, param, NULL, "the body is not valid UTF-8 (at byte %" G_GSIZE_FORMAT ")", (gsize) (end - body));
    return NULL;
  }
  if (nesting_depth (body, len, PRIMA_OPENAI_MAX_DEPTH) > PRIMA_OPENAI_MAX_DEPTH) {
    fail (error, param, NULL, "the body nests arrays and objects deeper than %d", PRIMA_OPENAI_MAX_DEPTH);
    return NULL;
  }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, body, len, &json_error)) {
    fail (error, param, NULL, "the body is not JSON: %s", json_error->message);
    return NULL;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    fail (error, param, NULL, "the body must be a JSON object");
    return NULL;
  }
  PrimaOpenaiRequest *req = g_new0 (PrimaOpenaiRequest, 1);
  req->kind = kind;
  req->max_tokens = -1;
  prima_sampler_params_init (&req->sampling);
  req->sampling.seed = ((guint64) g_random_int () << 32) | g_random_int ();
  if (!parse_fields (req, json_node_get_object (root), param, error)) {
    prima_openai_request_free (req);
    return NULL;
  }
  return req;
}

void
prima_openai_request_free (PrimaOpenaiRequest *req)
{
  if (req == NULL)
    return;
  g_free (req->model);
  g_free (req->prompt);
  for (gsize i = 0; i < req->n_messages; i++) {
    g_free ((char *) req->messages[i].role);
    g_free ((char *) req->messages[i].content);
  }
  g_free (req->messages);
  g_strfreev (req->stop);
  g_free (req);
}

char *
prima_openai_new_id (PrimaOpenaiKind kind)
{
  static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  GString *id = g_string_new (kind == PRIMA_OPENAI_CHAT ? "chatcmpl-" : "cmpl-");
  for (int i = 0; i < 24; i++)
    g_string_append_c (id, alnum[g_random_int_range (0, sizeof alnum - 1)]);
  return g_string_free (id, FALSE);
}

static char *
to_json (JsonBuilder *b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, root);
  g_object_unref (b);
  return json_generator_to_data (gen, NULL);
}

static void
add_string_or_null (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

char *
prima_openai_error_json (const char *message, const char *type, const char *param, const char *code)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  add_string_or_null (b, "message", message);
  add_string_or_null (b, "type", type);
  add_string_or_null (b, "param", param);
  add_string_or_null (b, "code", code);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return to_json (b);
}

/* The members every answer and chunk opens with. */
static void
begin_answer (JsonBuilder *b, const char *id, const char *object, gint64 created, const char *model)
{
  json_builder_begin_object (b);
  add_string_or_null (b, "id", id);
  add_string_or_null (b, "object", object);
  json_builder_set_member_name (b, "created");
  json_builder_add_int_value (b, created);
  add_string_or_null (b, "model", model);
}

static void
add_usage (JsonBuilder *b, int n_prompt, int n_completion)
{
  json_builder_set_member_name (b, "usage");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "prompt_tokens");
  json_builder_add_int_value (b, n_prompt);
  json_builder_set_member_name (b, "completion_tokens");
  json_builder_add_int_value (b, n_completion);
  json_builder_set_member_name (b, "total_tokens");
  json_builder_add_int_value (b, (gint64) n_prompt + n_completion);
  json_builder_end_object (b);
}

char *
prima_openai_response_json (PrimaOpenaiKind kind, const char *id, gint64 created, const char *model,
    const char *text, const char *finish_reason, int n_prompt, int n_completion)
{
  JsonBuilder *b = json_builder_new ();
  gboolean chat = kind == PRIMA_OPENAI_CHAT;
  begin_answer (b, id, chat ? "chat.completion" : "text_completion", created, model);
  json_builder_set_member_name (b, "choices");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "index");
  json_builder_add_int_value (b, 0);
  if (chat) {
    json_builder_set_member_name (b, "message");
    json_builder_begin_object (b);
    add_string_or_null (b, "role", "assistant");
    add_string_or_null (b, "content", text);
    json_builder_end_object (b);
  } else {
    add_string_or_null (b, "text", text);
  }
  json_builder_set_member_name (b, "logprobs");
  json_builder_add_null_value (b);
  add_string_or_null (b, "finish_reason", finish_reason);
  json_builder_end_object (b);
  json_builder_end_array (b);
  add_usage (b, n_prompt, n_completion);
  json_builder_end_object (b);
  return to_json (b);
}

char *
prima_openai_chunk_json (PrimaOpenaiKind kind, const char *id, gint64 created, const char *model,
    gboolean first, const char *text, const char *finish_reason)
{
  JsonBuilder *b = json_builder_new ();
  gboolean chat = kind == PRIMA_OPENAI_CHAT;
  begin_answer (b, id, chat ? "chat.completion.chunk" : "text_completion", created, model);
  json_builder_set_member_name (b, "choices");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "index");
  json_builder_add_int_value (b, 0);
  if (chat) {
    json_builder_set_member_name (b, "delta");
    json_builder_begin_object (b);
    if (first)
      add_string_or_null (b, "role", "assistant");
    if (text != NULL)
      add_string_or_null (b, "content", text);
    json_builder_end_object (b);
  } else {
    add_string_or_null (b, "text", text != NULL ? text : "");
  }
  json_builder_set_member_name (b, "logprobs");
  json_builder_add_null_value (b);
  add_string_or_null (b, "finish_reason", finish_reason);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  return to_json (b);
}

char *
prima_openai_usage_chunk_json (PrimaOpenaiKind kind, const char *id, gint64 created, const char *model,
    int n_prompt, int n_completion)
{
  JsonBuilder *b = json_builder_new ();
  begin_answer (b, id, kind == PRIMA_OPENAI_CHAT ? "chat.completion.chunk" : "text_completion", created, model);
  json_builder_set_member_name (b, "choices");
  json_builder_begin_array (b);
  json_builder_end_array (b);
  add_usage (b, n_prompt, n_completion);
  json_builder_end_object (b);
  return to_json (b);
}

char *
prima_openai_models_json (const char *model, gint64 created)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  add_string_or_null (b, "object", "list");
  json_builder_set_member_name (b, "data");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  add_string_or_null (b, "id", model);
  add_string_or_null (b, "object", "model");
  json_builder_set_member_name (b, "created");
  json_builder_add_int_value (b, created);
  add_string_or_null (b, "owned_by", "gst-prima");
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
  return to_json (b);
}
