/* gst-prima: JSON control messages of the ring (text WebSocket frames).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "ring-control.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (prima-ctl-error-quark, prima_ctl_error)

/* json-glib's parser recurses per nesting level; our messages nest three
 * deep at most, so anything deeper is refused before parsing. */
#define MAX_DEPTH 16
#define MAX_ADDRESS 255
#define MAX_TEXT_FIELD 4096
#define MAX_LAYERS 65536

static const char *const type_names[PRIMA_CTL_N_TYPES] = {
  [PRIMA_CTL_HELLO] = "hello",
  [PRIMA_CTL_CHALLENGE] = "challenge",
  [PRIMA_CTL_RESPONSE] = "response",
  [PRIMA_CTL_WELCOME] = "welcome",
  [PRIMA_CTL_PROFILE] = "profile",
  [PRIMA_CTL_PLAN] = "plan",
  [PRIMA_CTL_KV_CLEAR] = "kv-clear",
  [PRIMA_CTL_KV_REMOVE] = "kv-remove",
  [PRIMA_CTL_KV_SHIFT] = "kv-shift",
  [PRIMA_CTL_HEARTBEAT] = "heartbeat",
  [PRIMA_CTL_STOP] = "stop",
  [PRIMA_CTL_ERROR_MSG] = "error",
  [PRIMA_CTL_JOIN] = "join",
  [PRIMA_CTL_ROUTE] = "route",
  [PRIMA_CTL_STATS] = "stats",
};

const char *
prima_ctl_type_name (prima_ctl_type type)
{
  return (unsigned) type < PRIMA_CTL_N_TYPES ? type_names[type] : "unknown";
}

void
prima_ctl_msg_init (prima_ctl_msg *m, prima_ctl_type type)
{
  memset (m, 0, sizeof *m);
  m->type = type;
  m->proto = PRIMA_CTL_PROTO;
  m->rank = -1;
  m->seq = -1;
  m->p1 = -1;
  m->lost = -1;
}

void
prima_ctl_msg_clear (prima_ctl_msg *m)
{
  g_free (m->text);
  g_free (m->ranks);
  g_strfreev (m->addresses);
  if (m->profile)
    json_node_unref (m->profile);
  prima_plan_free (m->plan);
  memset (m, 0, sizeof *m);
}

/* ---- plans ---- */

prima_plan *
prima_plan_new (guint n_ranks)
{
  prima_plan *plan = g_new0 (prima_plan, 1);
  plan->n_ranks = n_ranks;
  plan->ranks = g_new0 (prima_plan_rank, n_ranks ? n_ranks : 1);
  for (guint i = 0; i < n_ranks; i++)
    plan->ranks[i].rank = (gint32) i;
  return plan;
}

void
prima_plan_free (prima_plan *plan)
{
  if (plan == NULL)
    return;
  for (guint i = 0; i < plan->n_ranks; i++) {
    g_free (plan->ranks[i].address);
    g_free (plan->ranks[i].windows);
  }
  g_free (plan->ranks);
  g_free (plan->model);
  g_free (plan);
}

prima_plan *
prima_plan_copy (const prima_plan *plan)
{
  prima_plan *c = prima_plan_new (plan->n_ranks);
  c->id = plan->id;
  c->n_layer = plan->n_layer;
  c->n_ctx = plan->n_ctx;
  c->model = g_strdup (plan->model);
  for (guint i = 0; i < plan->n_ranks; i++) {
    const prima_plan_rank *r = &plan->ranks[i];
    c->ranks[i] = *r;
    c->ranks[i].address = g_strdup (r->address);
    c->ranks[i].windows = g_memdup2 (r->windows, r->n_windows * sizeof *r->windows);
  }
  return c;
}

gboolean
prima_plan_validate (const prima_plan *plan, GError **error)
{
  guint8 *owner_count;
  gboolean ok = TRUE;

  if (plan->n_layer < 1 || plan->n_layer > MAX_LAYERS) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD,
        "plan: n_layer %d out of range (1..%d)", plan->n_layer, MAX_LAYERS);
    return FALSE;
  }
  if (plan->n_ctx < 1) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD, "plan: n_ctx %d must be positive", plan->n_ctx);
    return FALSE;
  }
  if (plan->n_ranks < 1 || plan->n_ranks > PRIMA_CTL_MAX_RANKS) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD,
        "plan: %u ranks, expected 1..%d", plan->n_ranks, PRIMA_CTL_MAX_RANKS);
    return FALSE;
  }
  owner_count = g_new0 (guint8, plan->n_layer);
  for (guint i = 0; i < plan->n_ranks && ok; i++) {
    const prima_plan_rank *r = &plan->ranks[i];
    gint32 prev_last = 0, total = 0;
    if (r->rank != (gint32) i) {
      g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD,
          "plan: ranks must be 0..%u once each (found rank %d at index %u)", plan->n_ranks - 1, r->rank, i);
      ok = FALSE;
      break;
    }
    if (r->address && strlen (r->address) > MAX_ADDRESS) {
      g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD, "plan: rank %d: address too long", r->rank);
      ok = FALSE;
      break;
    }
    if (r->n_windows > PRIMA_CTL_MAX_WINDOWS) {
      g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD, "plan: rank %d: too many windows (%u)",
          r->rank, r->n_windows);
      ok = FALSE;
      break;
    }
    for (guint w = 0; w < r->n_windows; w++) {
      const prima_plan_window *win = &r->windows[w];
      if (win->first < prev_last || win->last <= win->first || win->last > plan->n_layer) {
        g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD,
            "plan: rank %d: window [%d, %d) is empty, out of order or beyond n_layer %d",
            r->rank, win->first, win->last, plan->n_layer);
        ok = FALSE;
        break;
      }
      prev_last = win->last;
      total += win->last - win->first;
      for (gint32 l = win->first; l < win->last; l++)
        if (owner_count[l] < 255)
          owner_count[l]++;
    }
    if (ok && (r->gpu_layers < 0 || r->gpu_layers > total)) {
      g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD,
          "plan: rank %d: gpu_layers %d out of range (0..%d)", r->rank, r->gpu_layers, total);
      ok = FALSE;
    }
  }
  for (gint32 l = 0; ok && l < plan->n_layer; l++) {
    if (owner_count[l] != 1) {
      g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD,
          "plan: layer %d is owned by %u ranks (exactly 1 expected)", l, owner_count[l]);
      ok = FALSE;
    }
  }
  g_free (owner_count);
  return ok;
}

/* A copy of at most max bytes of s with every byte that is not printable
 * ASCII replaced by '?', for quoting untrusted text in a one-line error. */
static char *
printable_prefix (const char *s, gsize max)
{
  char *shown = g_strndup (s, max);
  for (char *p = shown; *p; p++)
    if (!g_ascii_isprint (*p))
      *p = '?';
  return shown;
}

/* TRUE when every number in the tree is finite (JSON has no inf or nan) and
 * every string and member name is UTF-8 (json-glib takes escapes such as
 * "\6" as octal bytes; its generator would write them back raw). */
static gboolean
json_all_finite (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node)) {
    case JSON_NODE_OBJECT:{
      gboolean ok = TRUE;
      JsonObjectIter iter;
      const gchar *name;
      JsonNode *value;
      json_object_iter_init (&iter, json_node_get_object (node));
      while (ok && json_object_iter_next (&iter, &name, &value))
        ok = g_utf8_validate (name, -1, NULL) && json_all_finite (value);
      return ok;
    }
    case JSON_NODE_ARRAY:{
      JsonArray *a = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (a); i++)
        if (!json_all_finite (json_array_get_element (a, i)))
          return FALSE;
      return TRUE;
    }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        return g_utf8_validate (json_node_get_string (node), -1, NULL);
      return json_node_get_value_type (node) != G_TYPE_DOUBLE || isfinite (json_node_get_double (node));
    default:
      return TRUE;
  }
}

/* json-glib's generator (1.6) appends ".0" to any double printed without a
 * '.', so 1e-08 goes out as "1e-08.0", which no JSON parser (json-glib
 * included) reads back (found by fuzz-ring-control). Drops that ".0" after a
 * number with an exponent, outside strings, in place; returns the new length. */
static gsize
fix_exponent_numbers (char *text)
{
  gboolean in_string = FALSE, escaped = FALSE, num_has_e = FALSE;
  char *r = text, *w = text;

  for (; *r; r++) {
    char c = *r;
    if (in_string) {
      if (escaped)
        escaped = FALSE;
      else if (c == '\\')
        escaped = TRUE;
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
      num_has_e = FALSE;
    } else if (c == 'e' || c == 'E') {
      num_has_e = TRUE;
    } else if (c == '.' && num_has_e && r[1] == '0' && !g_ascii_isdigit (r[2])) {
      r++;                      /* skip ".0" */
      continue;
    } else if (!g_ascii_isdigit (c) && c != '+' && c != '-' && c != '.') {
      num_has_e = FALSE;
    }
    *w++ = c;
  }
  *w = '\0';
  return (gsize) (w - text);
}

/* ---- validation ---- */

static gboolean
field_error (GError **error, const prima_ctl_msg *m, const char *field, const char *what)
{
  g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD, "%s: \"%s\" %s",
      prima_ctl_type_name (m->type), field, what);
  return FALSE;
}

static gboolean
is_hex (const char *s, gsize n)
{
  if (strlen (s) != n)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isxdigit (s[i]))
      return FALSE;
  return TRUE;
}

gboolean
prima_ctl_msg_validate (const prima_ctl_msg *m, GError **error)
{
  switch (m->type) {
    case PRIMA_CTL_HELLO:
    case PRIMA_CTL_CHALLENGE:
      if (m->proto != PRIMA_CTL_PROTO) {
        g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD,
            "%s: protocol version %d, this build speaks %d", prima_ctl_type_name (m->type), m->proto,
            PRIMA_CTL_PROTO);
        return FALSE;
      }
      if (m->rank < 0)
        return field_error (error, m, "rank", "must be >= 0");
      if (!is_hex (m->nonce, PRIMA_AUTH_NONCE_HEX))
        return field_error (error, m, "nonce", "must be 64 hex digits");
      if (m->type == PRIMA_CTL_CHALLENGE && !is_hex (m->proof, PRIMA_AUTH_PROOF_HEX))
        return field_error (error, m, "proof", "must be 64 hex digits");
      if (m->world > PRIMA_CTL_MAX_RANKS)
        return field_error (error, m, "world", "out of range");
      return TRUE;
    case PRIMA_CTL_RESPONSE:
      if (!is_hex (m->proof, PRIMA_AUTH_PROOF_HEX))
        return field_error (error, m, "proof", "must be 64 hex digits");
      return TRUE;
    case PRIMA_CTL_WELCOME:
    case PRIMA_CTL_HEARTBEAT:
      if (m->rank < 0)
        return field_error (error, m, "rank", "must be >= 0");
      if (m->n > G_MAXINT64)
        return field_error (error, m, "n", "out of range");
      return TRUE;
    case PRIMA_CTL_STATS:
      if (m->rank < 0 || m->rank >= PRIMA_CTL_MAX_RANKS)
        return field_error (error, m, "rank", "out of range");
      if (m->frames > G_MAXINT64)
        return field_error (error, m, "frames", "out of range");
      if (m->compute_us > G_MAXINT64)
        return field_error (error, m, "compute_us", "out of range");
      if (m->send_us > G_MAXINT64)
        return field_error (error, m, "send_us", "out of range");
      return TRUE;
    case PRIMA_CTL_PROFILE:
      if (m->rank < 0)
        return field_error (error, m, "rank", "must be >= 0");
      if (m->profile == NULL || !JSON_NODE_HOLDS_OBJECT (m->profile))
        return field_error (error, m, "profile", "must be an object");
      /* json-glib reads 1e999 as inf and would write it back as "inf.0",
       * which no peer parses (found by fuzz-ring-control). */
      if (!json_all_finite (m->profile))
        return field_error (error, m, "profile", "holds a number out of range or text that is not UTF-8");
      return TRUE;
    case PRIMA_CTL_PLAN:
      if (m->plan == NULL)
        return field_error (error, m, "plan", "is missing");
      return prima_plan_validate (m->plan, error);
    case PRIMA_CTL_KV_CLEAR:
      if (m->seq < -1)
        return field_error (error, m, "seq", "must be >= -1");
      return TRUE;
    case PRIMA_CTL_KV_REMOVE:
    case PRIMA_CTL_KV_SHIFT:
      if (m->seq < 0)
        return field_error (error, m, "seq", "must be >= 0");
      if (m->p0 < 0)
        return field_error (error, m, "p0", "must be >= 0");
      if (m->p1 != -1 && m->p1 < m->p0)
        return field_error (error, m, "p1", "must be >= p0 or -1 (to the end)");
      if (m->type == PRIMA_CTL_KV_SHIFT && (gint64) m->p0 + m->delta < 0)
        return field_error (error, m, "delta", "would move positions below 0");
      return TRUE;
    case PRIMA_CTL_STOP:
      if (m->text && strlen (m->text) > MAX_TEXT_FIELD)
        return field_error (error, m, "reason", "is too long");
      return TRUE;
    case PRIMA_CTL_ERROR_MSG:
      if (m->text == NULL)
        return field_error (error, m, "message", "is missing");
      if (strlen (m->text) > MAX_TEXT_FIELD)
        return field_error (error, m, "message", "is too long");
      if (m->lost < -1 || m->lost >= PRIMA_CTL_MAX_RANKS)
        return field_error (error, m, "lost", "out of range");
      return TRUE;
    case PRIMA_CTL_JOIN:
    case PRIMA_CTL_ROUTE:{
      const char *ranks = m->type == PRIMA_CTL_JOIN ? "ranks" : "absent";
      if (m->rank < 0)
        return field_error (error, m, "rank", "must be >= 0");
      if (m->n_ranks > PRIMA_CTL_MAX_RANKS)
        return field_error (error, m, ranks, "has too many entries");
      for (guint i = 0; i < m->n_ranks; i++)
        if (m->ranks[i] < 0 || m->ranks[i] >= PRIMA_CTL_MAX_RANKS)
          return field_error (error, m, ranks, "holds a rank out of range");
      if (m->n_addresses > PRIMA_CTL_MAX_RANKS || (m->n_addresses > 0 && m->addresses == NULL)
          || (m->type == PRIMA_CTL_JOIN && m->n_addresses != 0 && m->n_addresses != m->n_ranks))
        return field_error (error, m, "addresses", m->type == PRIMA_CTL_JOIN ? "must have one entry per rank"
            : "has too many entries");
      for (guint i = 0; i < m->n_addresses; i++)
        if (m->addresses[i] == NULL || strlen (m->addresses[i]) > MAX_ADDRESS
            || !g_utf8_validate (m->addresses[i], -1, NULL))
          return field_error (error, m, "addresses", "holds an address that is missing or too long");
      return TRUE;
    }
    default:
      g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_TYPE, "control: unknown message type %d", m->type);
      return FALSE;
  }
}

/* ---- building ---- */

static void
add_int (JsonBuilder *b, const char *name, gint64 v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, v);
}

static void
add_str (JsonBuilder *b, const char *name, const char *v)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, v);
}

static void
build_plan (JsonBuilder *b, const prima_plan *plan)
{
  add_int (b, "id", plan->id);
  add_int (b, "n_layer", plan->n_layer);
  add_int (b, "n_ctx", plan->n_ctx);
  if (plan->model)
    add_str (b, "model", plan->model);
  json_builder_set_member_name (b, "ranks");
  json_builder_begin_array (b);
  for (guint i = 0; i < plan->n_ranks; i++) {
    const prima_plan_rank *r = &plan->ranks[i];
    json_builder_begin_object (b);
    add_int (b, "rank", r->rank);
    if (r->address)
      add_str (b, "address", r->address);
    json_builder_set_member_name (b, "windows");
    json_builder_begin_array (b);
    for (guint w = 0; w < r->n_windows; w++) {
      json_builder_begin_array (b);
      json_builder_add_int_value (b, r->windows[w].first);
      json_builder_add_int_value (b, r->windows[w].last);
      json_builder_end_array (b);
    }
    json_builder_end_array (b);
    add_int (b, "gpu_layers", r->gpu_layers);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

char *
prima_ctl_to_json (const prima_ctl_msg *m, gsize *length, GError **error)
{
  JsonBuilder *b;
  JsonGenerator *gen;
  JsonNode *root;
  char *text;
  gsize n;

  if (!prima_ctl_msg_validate (m, error))
    return NULL;
  b = json_builder_new ();
  json_builder_begin_object (b);
  add_str (b, "type", prima_ctl_type_name (m->type));
  switch (m->type) {
    case PRIMA_CTL_HELLO:
    case PRIMA_CTL_CHALLENGE:
      add_int (b, "proto", m->proto);
      add_int (b, "rank", m->rank);
      add_str (b, "nonce", m->nonce);
      if (m->type == PRIMA_CTL_CHALLENGE)
        add_str (b, "proof", m->proof);
      if (m->world > 0)
        add_int (b, "world", m->world);
      break;
    case PRIMA_CTL_RESPONSE:
      add_str (b, "proof", m->proof);
      break;
    case PRIMA_CTL_WELCOME:
      add_int (b, "rank", m->rank);
      break;
    case PRIMA_CTL_PROFILE:
      add_int (b, "rank", m->rank);
      json_builder_set_member_name (b, "profile");
      json_builder_add_value (b, json_node_copy (m->profile));
      break;
    case PRIMA_CTL_PLAN:
      build_plan (b, m->plan);
      break;
    case PRIMA_CTL_KV_CLEAR:
      add_int (b, "seq", m->seq);
      break;
    case PRIMA_CTL_KV_REMOVE:
    case PRIMA_CTL_KV_SHIFT:
      add_int (b, "seq", m->seq);
      add_int (b, "p0", m->p0);
      add_int (b, "p1", m->p1);
      if (m->type == PRIMA_CTL_KV_SHIFT)
        add_int (b, "delta", m->delta);
      break;
    case PRIMA_CTL_HEARTBEAT:
      add_int (b, "rank", m->rank);
      add_int (b, "n", (gint64) m->n);
      break;
    case PRIMA_CTL_STATS:
      add_int (b, "rank", m->rank);
      add_int (b, "frames", (gint64) m->frames);
      add_int (b, "compute_us", (gint64) m->compute_us);
      add_int (b, "send_us", (gint64) m->send_us);
      break;
    case PRIMA_CTL_STOP:
      if (m->text)
        add_str (b, "reason", m->text);
      break;
    case PRIMA_CTL_ERROR_MSG:
      add_str (b, "message", m->text);
      if (m->rank >= 0)
        add_int (b, "rank", m->rank);
      if (m->lost >= 0)
        add_int (b, "lost", m->lost);
      break;
    case PRIMA_CTL_JOIN:
    case PRIMA_CTL_ROUTE:
      add_int (b, "rank", m->rank);
      json_builder_set_member_name (b, m->type == PRIMA_CTL_JOIN ? "ranks" : "absent");
      json_builder_begin_array (b);
      for (guint i = 0; i < m->n_ranks; i++)
        json_builder_add_int_value (b, m->ranks[i]);
      json_builder_end_array (b);
      if (m->n_addresses > 0 || m->type == PRIMA_CTL_ROUTE) {
        json_builder_set_member_name (b, "addresses");
        json_builder_begin_array (b);
        for (guint i = 0; i < m->n_addresses; i++)
          json_builder_add_string_value (b, m->addresses[i]);
        json_builder_end_array (b);
      }
      break;
    default:
      break;
  }
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  n = fix_exponent_numbers (text);
  if (length)
    *length = n;
  g_object_unref (gen);
  json_node_unref (root);
  g_object_unref (b);
  return text;
}

/* ---- parsing ---- */

/* Nesting depth outside strings, without parsing; -1 when unbalanced in a
 * way that the parser will report anyway (we only bound the depth). */
static int
max_depth (const char *s, gsize n)
{
  int depth = 0, max = 0;
  gboolean in_str = FALSE;
  for (gsize i = 0; i < n; i++) {
    char c = s[i];
    if (in_str) {
      if (c == '\\')
        i++;
      else if (c == '"')
        in_str = FALSE;
    } else if (c == '"') {
      in_str = TRUE;
    } else if (c == '{' || c == '[') {
      if (++depth > max)
        max = depth;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return max;
}

/* A member as an integer in [min, max]; absent gives def when not required. */
static gboolean
get_int (JsonObject *o, const prima_ctl_msg *m, const char *name, gboolean required, gint64 min, gint64 max,
    gint64 def, gint64 *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  gint64 v;
  if (n == NULL) {
    if (required)
      return field_error (error, m, name, "is missing");
    *out = def;
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return field_error (error, m, name, "must be an integer");
  v = json_node_get_int (n);
  if (v < min || v > max) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD,
        "%s: \"%s\" = %" G_GINT64_FORMAT " out of range (%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT ")",
        prima_ctl_type_name (m->type), name, v, min, max);
    return FALSE;
  }
  *out = v;
  return TRUE;
}

static gboolean
get_i32 (JsonObject *o, const prima_ctl_msg *m, const char *name, gboolean required, gint64 min,
    gint32 def, gint32 *out, GError **error)
{
  gint64 v;
  if (!get_int (o, m, name, required, min, G_MAXINT32, def, &v, error))
    return FALSE;
  *out = (gint32) v;
  return TRUE;
}

static gboolean
get_str (JsonObject *o, const prima_ctl_msg *m, const char *name, gboolean required, gsize max_len,
    const char **out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  if (n == NULL) {
    if (required)
      return field_error (error, m, name, "is missing");
    *out = NULL;
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return field_error (error, m, name, "must be a string");
  *out = json_node_get_string (n);
  if (strlen (*out) > max_len)
    return field_error (error, m, name, "is too long");
  /* json-glib takes escapes such as "\6" as octal bytes, which need not be
   * UTF-8 (found by fuzz-ring-control) */
  if (!g_utf8_validate (*out, -1, NULL))
    return field_error (error, m, name, "is not UTF-8");
  return TRUE;
}

static gboolean
get_hex (JsonObject *o, const prima_ctl_msg *m, const char *name, char *out, gsize hex_len, GError **error)
{
  const char *s;
  if (!get_str (o, m, name, TRUE, hex_len, &s, error))
    return FALSE;
  if (!is_hex (s, hex_len)) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD, "%s: \"%s\" must be %" G_GSIZE_FORMAT " hex digits",
        prima_ctl_type_name (m->type), name, hex_len);
    return FALSE;
  }
  memcpy (out, s, hex_len + 1);
  return TRUE;
}

static int
compare_rank (gconstpointer a, gconstpointer b)
{
  const prima_plan_rank *ra = a, *rb = b;
  return (ra->rank > rb->rank) - (ra->rank < rb->rank);
}

static gboolean
parse_plan (JsonObject *o, prima_ctl_msg *m, GError **error)
{
  JsonNode *rn = json_object_get_member (o, "ranks");
  JsonArray *ranks;
  prima_plan *plan;
  gint64 id;
  const char *model;
  guint n;

  if (rn == NULL)
    return field_error (error, m, "ranks", "is missing");
  if (!JSON_NODE_HOLDS_ARRAY (rn))
    return field_error (error, m, "ranks", "must be an array");
  ranks = json_node_get_array (rn);
  n = json_array_get_length (ranks);
  if (n < 1 || n > PRIMA_CTL_MAX_RANKS)
    return field_error (error, m, "ranks", "must hold 1..256 ranks");
  plan = m->plan = prima_plan_new (n);
  if (!get_int (o, m, "id", TRUE, 0, G_MAXUINT32, 0, &id, error)
      || !get_i32 (o, m, "n_layer", TRUE, 1, 0, &plan->n_layer, error)
      || !get_i32 (o, m, "n_ctx", TRUE, 1, 0, &plan->n_ctx, error)
      || !get_str (o, m, "model", FALSE, MAX_ADDRESS, &model, error))
    return FALSE;
  plan->id = (guint32) id;
  plan->model = g_strdup (model);
  for (guint i = 0; i < n; i++) {
    JsonNode *en = json_array_get_element (ranks, i);
    prima_plan_rank *r = &plan->ranks[i];
    JsonObject *ro;
    JsonNode *wn;
    JsonArray *wins;
    const char *addr;

    if (!JSON_NODE_HOLDS_OBJECT (en))
      return field_error (error, m, "ranks", "must hold objects");
    ro = json_node_get_object (en);
    if (!get_i32 (ro, m, "rank", TRUE, 0, 0, &r->rank, error)
        || !get_i32 (ro, m, "gpu_layers", FALSE, 0, 0, &r->gpu_layers, error)
        || !get_str (ro, m, "address", FALSE, MAX_ADDRESS, &addr, error))
      return FALSE;
    r->address = g_strdup (addr);
    wn = json_object_get_member (ro, "windows");
    if (wn == NULL || !JSON_NODE_HOLDS_ARRAY (wn))
      return field_error (error, m, "windows", "must be an array of [first, last] pairs");
    wins = json_node_get_array (wn);
    r->n_windows = json_array_get_length (wins);
    if (r->n_windows > PRIMA_CTL_MAX_WINDOWS)
      return field_error (error, m, "windows", "has too many windows");
    r->windows = g_new0 (prima_plan_window, r->n_windows ? r->n_windows : 1);
    for (guint w = 0; w < r->n_windows; w++) {
      JsonNode *pn = json_array_get_element (wins, w);
      JsonArray *pair;
      JsonNode *a, *b;
      if (!JSON_NODE_HOLDS_ARRAY (pn) || json_array_get_length (pair = json_node_get_array (pn)) != 2)
        return field_error (error, m, "windows", "must be an array of [first, last] pairs");
      a = json_array_get_element (pair, 0);
      b = json_array_get_element (pair, 1);
      if (!JSON_NODE_HOLDS_VALUE (a) || json_node_get_value_type (a) != G_TYPE_INT64
          || !JSON_NODE_HOLDS_VALUE (b) || json_node_get_value_type (b) != G_TYPE_INT64
          || json_node_get_int (a) < 0 || json_node_get_int (a) > MAX_LAYERS
          || json_node_get_int (b) < 0 || json_node_get_int (b) > MAX_LAYERS)
        return field_error (error, m, "windows", "must hold integer layer indices");
      r->windows[w].first = (gint32) json_node_get_int (a);
      r->windows[w].last = (gint32) json_node_get_int (b);
    }
  }
  qsort (plan->ranks, plan->n_ranks, sizeof *plan->ranks, compare_rank);
  return prima_plan_validate (plan, error);
}

/* join's "ranks", route's "absent": an array of ranks (integers 0..255). */
static gboolean
get_rank_list (JsonObject *o, prima_ctl_msg *m, const char *name, GError **error)
{
  JsonNode *rn = json_object_get_member (o, name);
  JsonArray *ra;

  if (rn == NULL || !JSON_NODE_HOLDS_ARRAY (rn))
    return field_error (error, m, name, rn ? "must be an array" : "is missing");
  ra = json_node_get_array (rn);
  if (json_array_get_length (ra) > PRIMA_CTL_MAX_RANKS)
    return field_error (error, m, name, "has too many entries");
  m->n_ranks = json_array_get_length (ra);
  m->ranks = g_new0 (gint32, MAX (m->n_ranks, 1));
  for (guint i = 0; i < m->n_ranks; i++) {
    JsonNode *e = json_array_get_element (ra, i);
    if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64
        || json_node_get_int (e) < 0 || json_node_get_int (e) >= PRIMA_CTL_MAX_RANKS)
      return field_error (error, m, name, "must hold ranks (integers 0..255)");
    m->ranks[i] = (gint32) json_node_get_int (e);
  }
  return TRUE;
}

/* join's and route's "addresses": an array of strings ("host:port", "" for
 * unknown); optional in a join. */
static gboolean
get_address_list (JsonObject *o, prima_ctl_msg *m, gboolean required, GError **error)
{
  JsonNode *an = json_object_get_member (o, "addresses");
  JsonArray *aa;

  if (an == NULL)
    return required ? field_error (error, m, "addresses", "is missing") : TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (an))
    return field_error (error, m, "addresses", "must be an array");
  aa = json_node_get_array (an);
  if (json_array_get_length (aa) > PRIMA_CTL_MAX_RANKS)
    return field_error (error, m, "addresses", "has too many entries");
  m->n_addresses = json_array_get_length (aa);
  m->addresses = g_new0 (char *, m->n_addresses + 1);
  for (guint i = 0; i < m->n_addresses; i++) {
    JsonNode *e = json_array_get_element (aa, i);
    if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING
        || strlen (json_node_get_string (e)) > MAX_ADDRESS || !g_utf8_validate (json_node_get_string (e), -1, NULL))
      return field_error (error, m, "addresses", "must hold UTF-8 strings of at most 255 bytes");
    m->addresses[i] = g_strdup (json_node_get_string (e));
  }
  return TRUE;
}

gboolean
prima_ctl_parse (const char *text, gsize length, prima_ctl_msg *m, GError **error)
{
  JsonParser *parser;
  JsonNode *root, *tn;
  JsonObject *o;
  const char *type, *s;
  GError *jerr = NULL;
  gboolean ok = FALSE;
  gint64 v;

  prima_ctl_msg_init (m, PRIMA_CTL_N_TYPES);
  if (length > PRIMA_CTL_MAX_TEXT) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_SYNTAX,
        "control: message of %" G_GSIZE_FORMAT " bytes exceeds %d", length, PRIMA_CTL_MAX_TEXT);
    return FALSE;
  }
  if (memchr (text, '\0', length) != NULL) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_SYNTAX, "control: NUL byte in message");
    return FALSE;
  }
  if (max_depth (text, length) > MAX_DEPTH) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_SYNTAX, "control: JSON nested deeper than %d", MAX_DEPTH);
    return FALSE;
  }
  if (!g_utf8_validate (text, length, NULL)) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_SYNTAX, "control: message is not UTF-8");
    return FALSE;
  }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, (gssize) length, &jerr)) {
    /* json-glib quotes the offending token, which may hold the peer's
     * newlines and control characters (found by fuzz-ring-control): keep the
     * message one short printable line. */
    char *shown = printable_prefix (jerr->message, 160);
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_SYNTAX, "control: malformed JSON: %s%s", shown,
        strlen (jerr->message) > 160 ? "..." : "");
    g_free (shown);
    g_error_free (jerr);
    goto out;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_SYNTAX, "control: message is not a JSON object");
    goto out;
  }
  o = json_node_get_object (root);
  tn = json_object_get_member (o, "type");
  if (tn == NULL || !JSON_NODE_HOLDS_VALUE (tn) || json_node_get_value_type (tn) != G_TYPE_STRING) {
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_TYPE, "control: \"type\" is missing or not a string");
    goto out;
  }
  type = json_node_get_string (tn);
  for (int t = 0; t < PRIMA_CTL_N_TYPES; t++)
    if (strcmp (type, type_names[t]) == 0)
      m->type = t;
  if (m->type == PRIMA_CTL_N_TYPES) {
    /* quote at most a short, printable prefix of what the peer sent */
    char *shown = printable_prefix (type, 32);
    g_set_error (error, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_TYPE, "control: unknown message type \"%s\"", shown);
    g_free (shown);
    goto out;
  }

  switch (m->type) {
    case PRIMA_CTL_HELLO:
    case PRIMA_CTL_CHALLENGE:
      if (!get_i32 (o, m, "proto", TRUE, 0, 0, &m->proto, error)
          || !get_i32 (o, m, "rank", TRUE, 0, 0, &m->rank, error)
          || !get_hex (o, m, "nonce", m->nonce, PRIMA_AUTH_NONCE_HEX, error))
        goto out;
      if (m->type == PRIMA_CTL_CHALLENGE && !get_hex (o, m, "proof", m->proof, PRIMA_AUTH_PROOF_HEX, error))
        goto out;
      if (!get_int (o, m, "world", FALSE, 0, PRIMA_CTL_MAX_RANKS, 0, &v, error))
        goto out;
      m->world = (guint32) v;
      break;
    case PRIMA_CTL_RESPONSE:
      if (!get_hex (o, m, "proof", m->proof, PRIMA_AUTH_PROOF_HEX, error))
        goto out;
      break;
    case PRIMA_CTL_WELCOME:
      if (!get_i32 (o, m, "rank", TRUE, 0, 0, &m->rank, error))
        goto out;
      break;
    case PRIMA_CTL_PROFILE: {
      JsonNode *pn = json_object_get_member (o, "profile");
      if (!get_i32 (o, m, "rank", TRUE, 0, 0, &m->rank, error))
        goto out;
      if (pn == NULL || !JSON_NODE_HOLDS_OBJECT (pn)) {
        field_error (error, m, "profile", pn ? "must be an object" : "is missing");
        goto out;
      }
      m->profile = json_node_copy (pn);
      break;
    }
    case PRIMA_CTL_PLAN:
      if (!parse_plan (o, m, error))
        goto out;
      break;
    case PRIMA_CTL_KV_CLEAR:
      if (!get_i32 (o, m, "seq", FALSE, -1, -1, &m->seq, error))
        goto out;
      break;
    case PRIMA_CTL_KV_REMOVE:
    case PRIMA_CTL_KV_SHIFT:
      if (!get_i32 (o, m, "seq", TRUE, 0, 0, &m->seq, error)
          || !get_i32 (o, m, "p0", TRUE, 0, 0, &m->p0, error)
          || !get_i32 (o, m, "p1", TRUE, -1, 0, &m->p1, error))
        goto out;
      if (m->type == PRIMA_CTL_KV_SHIFT) {
        if (!get_int (o, m, "delta", TRUE, G_MININT32, G_MAXINT32, 0, &v, error))
          goto out;
        m->delta = (gint32) v;
      }
      break;
    case PRIMA_CTL_HEARTBEAT:
      if (!get_i32 (o, m, "rank", TRUE, 0, 0, &m->rank, error)
          || !get_int (o, m, "n", TRUE, 0, G_MAXINT64, 0, &v, error))
        goto out;
      m->n = (guint64) v;
      break;
    case PRIMA_CTL_STATS:
      if (!get_i32 (o, m, "rank", TRUE, 0, 0, &m->rank, error)
          || !get_int (o, m, "frames", TRUE, 0, G_MAXINT64, 0, &v, error))
        goto out;
      m->frames = (guint64) v;
      if (!get_int (o, m, "compute_us", TRUE, 0, G_MAXINT64, 0, &v, error))
        goto out;
      m->compute_us = (guint64) v;
      if (!get_int (o, m, "send_us", TRUE, 0, G_MAXINT64, 0, &v, error))
        goto out;
      m->send_us = (guint64) v;
      break;
    case PRIMA_CTL_STOP:
      if (!get_str (o, m, "reason", FALSE, MAX_TEXT_FIELD, &s, error))
        goto out;
      m->text = g_strdup (s);
      break;
    case PRIMA_CTL_ERROR_MSG:
      if (!get_str (o, m, "message", TRUE, MAX_TEXT_FIELD, &s, error)
          || !get_i32 (o, m, "rank", FALSE, 0, -1, &m->rank, error)
          || !get_i32 (o, m, "lost", FALSE, 0, -1, &m->lost, error))
        goto out;
      m->text = g_strdup (s);
      break;
    case PRIMA_CTL_JOIN:
    case PRIMA_CTL_ROUTE:
      if (!get_i32 (o, m, "rank", TRUE, 0, 0, &m->rank, error)
          || !get_rank_list (o, m, m->type == PRIMA_CTL_JOIN ? "ranks" : "absent", error)
          || !get_address_list (o, m, m->type == PRIMA_CTL_ROUTE, error))
        goto out;
      break;
    default:
      g_assert_not_reached ();
  }
  ok = prima_ctl_msg_validate (m, error);
out:
  g_object_unref (parser);
  return ok;
}
