/* gst-prima tests: JSON control messages. Every type builds and parses back
 * to the same fields; malformed JSON, unknown types and wrong members give a
 * one-line error that names the message and the member.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <string.h>

#include "ring-control.h"

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static prima_plan *
sample_plan (void)
{
  /* 8 layers over 3 ranks, k = 2 rounds: 1 then 2 then 0 in each cycle */
  prima_plan *p = prima_plan_new (3);
  static const prima_plan_window w0[] = { { 3, 4 }, { 7, 8 } };
  static const prima_plan_window w1[] = { { 0, 1 }, { 4, 5 } };
  static const prima_plan_window w2[] = { { 1, 3 }, { 5, 7 } };
  p->id = 7;
  p->n_layer = 8;
  p->n_ctx = 4096;
  p->model = g_strdup ("tiny.gguf");
  p->ranks[0].windows = g_memdup2 (w0, sizeof w0);
  p->ranks[0].n_windows = 2;
  p->ranks[0].address = g_strdup ("10.0.0.1:9000");
  p->ranks[1].windows = g_memdup2 (w1, sizeof w1);
  p->ranks[1].n_windows = 2;
  p->ranks[1].gpu_layers = 1;
  p->ranks[2].windows = g_memdup2 (w2, sizeof w2);
  p->ranks[2].n_windows = 2;
  p->ranks[2].address = g_strdup ("[fe80::1]:9002");
  return p;
}

static void
round_trip (const prima_ctl_msg *in, prima_ctl_msg *out)
{
  GError *err = NULL;
  gsize len;
  char *json = prima_ctl_to_json (in, &len, &err);
  g_assert_no_error (err);
  g_assert_nonnull (json);
  g_assert_cmpuint (strlen (json), ==, len);
  g_assert_null (strchr (json, '\n'));
  if (!prima_ctl_parse (json, len, out, &err))
    g_error ("parse of %s failed: %s", json, err->message);
  g_assert_cmpint (out->type, ==, in->type);
  g_free (json);
}

static void
test_round_trips (void)
{
  prima_ctl_msg m, o;

  prima_ctl_msg_init (&m, PRIMA_CTL_HELLO);
  m.rank = 3;
  strcpy (m.nonce, HEX64);
  round_trip (&m, &o);
  g_assert_cmpint (o.rank, ==, 3);
  g_assert_cmpint (o.proto, ==, PRIMA_CTL_PROTO);
  g_assert_cmpstr (o.nonce, ==, HEX64);
  g_assert_cmpuint (o.world, ==, 0);
  prima_ctl_msg_clear (&o);
  /* the ring size, so a peer of another size is refused with both numbers */
  m.world = 4;
  round_trip (&m, &o);
  g_assert_cmpuint (o.world, ==, 4);
  prima_ctl_msg_clear (&o);

  prima_ctl_msg_init (&m, PRIMA_CTL_CHALLENGE);
  m.rank = 0;
  strcpy (m.nonce, HEX64);
  strcpy (m.proof, HEX64);
  round_trip (&m, &o);
  g_assert_cmpstr (o.proof, ==, HEX64);
  prima_ctl_msg_clear (&o);

  prima_ctl_msg_init (&m, PRIMA_CTL_RESPONSE);
  strcpy (m.proof, HEX64);
  round_trip (&m, &o);
  prima_ctl_msg_clear (&o);

  prima_ctl_msg_init (&m, PRIMA_CTL_WELCOME);
  m.rank = 2;
  round_trip (&m, &o);
  g_assert_cmpint (o.rank, ==, 2);
  prima_ctl_msg_clear (&o);

  prima_ctl_msg_init (&m, PRIMA_CTL_KV_CLEAR);
  round_trip (&m, &o);
  g_assert_cmpint (o.seq, ==, -1);
  prima_ctl_msg_clear (&o);

  prima_ctl_msg_init (&m, PRIMA_CTL_KV_REMOVE);
  m.seq = 1;
  m.p0 = 10;
  m.p1 = -1;
  round_trip (&m, &o);
  g_assert_cmpint (o.seq, ==, 1);
  g_assert_cmpint (o.p0, ==, 10);
  g_assert_cmpint (o.p1, ==, -1);
  prima_ctl_msg_clear (&o);

  prima_ctl_msg_init (&m, PRIMA_CTL_KV_SHIFT);
  m.seq = 0;
  m.p0 = 100;
  m.p1 = 200;
  m.delta = -50;
  round_trip (&m, &o);
  g_assert_cmpint (o.p0, ==, 100);
  g_assert_cmpint (o.p1, ==, 200);
  g_assert_cmpint (o.delta, ==, -50);
  prima_ctl_msg_clear (&o);

  prima_ctl_msg_init (&m, PRIMA_CTL_HEARTBEAT);
  m.rank = 1;
  m.n = G_GUINT64_CONSTANT (1) << 40;
  round_trip (&m, &o);
  g_assert_cmpuint (o.n, ==, m.n);
  prima_ctl_msg_clear (&o);

  prima_ctl_msg_init (&m, PRIMA_CTL_STOP);
  round_trip (&m, &o);
  g_assert_null (o.text);
  prima_ctl_msg_clear (&o);
  m.text = g_strdup ("user asked \"stop\"\n");
  round_trip (&m, &o);
  g_assert_cmpstr (o.text, ==, m.text);
  prima_ctl_msg_clear (&o);
  prima_ctl_msg_clear (&m);

  prima_ctl_msg_init (&m, PRIMA_CTL_ERROR_MSG);
  m.text = g_strdup ("out of memory");
  round_trip (&m, &o);
  g_assert_cmpstr (o.text, ==, "out of memory");
  g_assert_cmpint (o.rank, ==, -1);
  prima_ctl_msg_clear (&o);
  /* a worker's own failure names it */
  m.rank = 2;
  round_trip (&m, &o);
  g_assert_cmpint (o.rank, ==, 2);
  prima_ctl_msg_clear (&o);
  prima_ctl_msg_clear (&m);

  prima_ctl_msg_init (&m, PRIMA_CTL_JOIN);
  m.rank = 2;
  m.n_ranks = 3;
  m.ranks = g_new (gint32, 3);
  m.ranks[0] = 1;
  m.ranks[1] = 2;
  m.ranks[2] = 4;
  round_trip (&m, &o);
  g_assert_cmpint (o.rank, ==, 2);
  g_assert_cmpmem (o.ranks, o.n_ranks * sizeof (gint32), m.ranks, m.n_ranks * sizeof (gint32));
  g_assert_cmpuint (o.n_addresses, ==, 0);
  prima_ctl_msg_clear (&o);
  /* with the address each rank connects its next hop to */
  {
    const char *const addresses[] = { "10.0.0.2:9001", "", "10.0.0.1:9000", NULL };
    m.addresses = g_strdupv ((gchar **) addresses);
    m.n_addresses = 3;
    round_trip (&m, &o);
    g_assert_cmpuint (o.n_addresses, ==, 3);
    g_assert_cmpstrv (o.addresses, addresses);
    prima_ctl_msg_clear (&o);
    /* one address per rank or none */
    m.n_addresses = 2;
    g_free (m.addresses[2]);
    m.addresses[2] = NULL;
    g_assert_false (prima_ctl_to_json (&m, NULL, NULL));
  }
  prima_ctl_msg_clear (&m);

  /* a recovery round goes around the lost ranks */
  {
    const char *const addresses[] = { "10.0.0.1:9000", "10.0.0.2:9001", "10.0.0.3:9002", "10.0.0.4:9003", NULL };
    prima_ctl_msg_init (&m, PRIMA_CTL_ROUTE);
    m.rank = 0;
    m.n_ranks = 1;
    m.ranks = g_new (gint32, 1);
    m.ranks[0] = 2;
    m.addresses = g_strdupv ((gchar **) addresses);
    m.n_addresses = 4;
    round_trip (&m, &o);
    g_assert_cmpint (o.type, ==, PRIMA_CTL_ROUTE);
    g_assert_cmpuint (o.n_ranks, ==, 1);
    g_assert_cmpint (o.ranks[0], ==, 2);
    g_assert_cmpstrv (o.addresses, addresses);
    prima_ctl_msg_clear (&o);
    prima_ctl_msg_clear (&m);
  }

  /* the data rank at fault */
  prima_ctl_msg_init (&m, PRIMA_CTL_ERROR_MSG);
  m.text = g_strdup ("rank 2 at 10.0.0.3:9002 disconnected");
  m.lost = 2;
  round_trip (&m, &o);
  g_assert_cmpint (o.lost, ==, 2);
  g_assert_cmpint (o.rank, ==, -1);
  prima_ctl_msg_clear (&o);
  prima_ctl_msg_clear (&m);

  prima_ctl_msg_init (&m, PRIMA_CTL_PROFILE);
  m.rank = 2;
  m.profile = json_from_string ("{\"ram_mb\": 600, \"cpu\": {\"cores\": 4}}", NULL);
  round_trip (&m, &o);
  g_assert_true (json_node_equal (m.profile, o.profile));
  prima_ctl_msg_clear (&o);
  prima_ctl_msg_clear (&m);
}

static void
test_plan_round_trip (void)
{
  prima_ctl_msg m, o;

  prima_ctl_msg_init (&m, PRIMA_CTL_PLAN);
  m.plan = sample_plan ();
  g_assert_true (prima_plan_validate (m.plan, NULL));
  round_trip (&m, &o);
  g_assert_cmpuint (o.plan->id, ==, 7);
  g_assert_cmpint (o.plan->n_layer, ==, 8);
  g_assert_cmpint (o.plan->n_ctx, ==, 4096);
  g_assert_cmpstr (o.plan->model, ==, "tiny.gguf");
  g_assert_cmpuint (o.plan->n_ranks, ==, 3);
  for (guint i = 0; i < 3; i++) {
    const prima_plan_rank *a = &m.plan->ranks[i], *b = &o.plan->ranks[i];
    g_assert_cmpint (a->rank, ==, b->rank);
    g_assert_cmpstr (a->address, ==, b->address);
    g_assert_cmpint (a->gpu_layers, ==, b->gpu_layers);
    g_assert_cmpuint (a->n_windows, ==, b->n_windows);
    g_assert_cmpmem (a->windows, a->n_windows * sizeof *a->windows, b->windows, b->n_windows * sizeof *b->windows);
  }
  prima_ctl_msg_clear (&o);

  /* ranks may come in any order; they are sorted */
  {
    const char *text = "{\"type\":\"plan\",\"id\":1,\"n_layer\":2,\"n_ctx\":16,\"ranks\":["
        "{\"rank\":1,\"windows\":[[0,1]]},{\"rank\":0,\"windows\":[[1,2]],\"gpu_layers\":1}]}";
    g_assert_true (prima_ctl_parse (text, strlen (text), &o, NULL));
    g_assert_cmpint (o.plan->ranks[0].rank, ==, 0);
    g_assert_cmpint (o.plan->ranks[0].windows[0].first, ==, 1);
    g_assert_cmpint (o.plan->ranks[1].gpu_layers, ==, 0);
    prima_ctl_msg_clear (&o);
  }
  {
    prima_plan *c = prima_plan_copy (m.plan);
    g_assert_true (prima_plan_validate (c, NULL));
    prima_plan_free (c);
  }
  prima_ctl_msg_clear (&m);
}

typedef struct {
  const char *json;
  int code;
  const char *message;          /* substring of the error */
} bad_case;

static const bad_case bad_cases[] = {
  { "", PRIMA_CTL_ERROR_SYNTAX, "not a JSON object" },
  { "{\"type\": \"hello\"", PRIMA_CTL_ERROR_SYNTAX, "malformed JSON" },
  { "not json at all", PRIMA_CTL_ERROR_SYNTAX, "malformed JSON" },
  /* json-glib quotes the bad token: the peer's newline or control character
   * must not reach the one-line message (found by fuzz-ring-control) */
  { "{\"type\": \"hello\", \"ab\ncd\x04\" \"x\"}", PRIMA_CTL_ERROR_SYNTAX, "unexpected string constant \"ab?cd?\"" },
  { "[1, 2]", PRIMA_CTL_ERROR_SYNTAX, "not a JSON object" },
  { "42", PRIMA_CTL_ERROR_SYNTAX, "not a JSON object" },
  { "{}", PRIMA_CTL_ERROR_TYPE, "\"type\" is missing" },
  { "{\"type\": 3}", PRIMA_CTL_ERROR_TYPE, "\"type\" is missing or not a string" },
  { "{\"type\": \"reboot\"}", PRIMA_CTL_ERROR_TYPE, "unknown message type \"reboot\"" },
  { "{\"type\": \"hello\", \"proto\": 1, \"rank\": 1}", PRIMA_CTL_ERROR_FIELD, "hello: \"nonce\" is missing" },
  { "{\"type\": \"hello\", \"proto\": 1, \"rank\": 1, \"nonce\": \"abc\"}", PRIMA_CTL_ERROR_FIELD,
    "hello: \"nonce\" must be 64 hex digits" },
  { "{\"type\": \"hello\", \"proto\": 1, \"rank\": 1, \"nonce\": \"" HEX64 "\"}", -1, NULL },
  { "{\"type\": \"hello\", \"proto\": 2, \"rank\": 1, \"nonce\": \"" HEX64 "\"}", PRIMA_CTL_ERROR_FIELD,
    "hello: protocol version 2, this build speaks 1" },
  { "{\"type\": \"hello\", \"proto\": 1, \"rank\": -1, \"nonce\": \"" HEX64 "\"}", PRIMA_CTL_ERROR_FIELD,
    "hello: \"rank\" = -1 out of range" },
  { "{\"type\": \"hello\", \"proto\": 1, \"rank\": \"1\", \"nonce\": \"" HEX64 "\"}", PRIMA_CTL_ERROR_FIELD,
    "hello: \"rank\" must be an integer" },
  { "{\"type\": \"hello\", \"proto\": 1, \"rank\": 1.5, \"nonce\": \"" HEX64 "\"}", PRIMA_CTL_ERROR_FIELD,
    "hello: \"rank\" must be an integer" },
  { "{\"type\": \"challenge\", \"proto\": 1, \"rank\": 0, \"nonce\": \"" HEX64 "\"}", PRIMA_CTL_ERROR_FIELD,
    "challenge: \"proof\" is missing" },
  { "{\"type\": \"response\", \"proof\": \"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}",
    PRIMA_CTL_ERROR_FIELD, "response: \"proof\" must be 64 hex digits" },
  { "{\"type\": \"kv-remove\", \"seq\": 0, \"p0\": 5}", PRIMA_CTL_ERROR_FIELD, "kv-remove: \"p1\" is missing" },
  { "{\"type\": \"kv-remove\", \"seq\": 0, \"p0\": 5, \"p1\": 3}", PRIMA_CTL_ERROR_FIELD,
    "kv-remove: \"p1\" must be >= p0 or -1" },
  { "{\"type\": \"kv-remove\", \"seq\": 0, \"p0\": -2, \"p1\": 3}", PRIMA_CTL_ERROR_FIELD,
    "kv-remove: \"p0\" = -2 out of range" },
  { "{\"type\": \"kv-remove\", \"seq\": 0, \"p0\": 1, \"p1\": 99999999999}", PRIMA_CTL_ERROR_FIELD,
    "kv-remove: \"p1\" = 99999999999 out of range" },
  { "{\"type\": \"kv-remove\", \"seq\": -1, \"p0\": 1, \"p1\": 2}", PRIMA_CTL_ERROR_FIELD, "kv-remove: \"seq\"" },
  { "{\"type\": \"kv-shift\", \"seq\": 0, \"p0\": 5, \"p1\": 9}", PRIMA_CTL_ERROR_FIELD,
    "kv-shift: \"delta\" is missing" },
  { "{\"type\": \"kv-shift\", \"seq\": 0, \"p0\": 5, \"p1\": 9, \"delta\": -6}", PRIMA_CTL_ERROR_FIELD,
    "kv-shift: \"delta\" would move positions below 0" },
  { "{\"type\": \"kv-shift\", \"seq\": 0, \"p0\": 5, \"p1\": 9, \"delta\": true}", PRIMA_CTL_ERROR_FIELD,
    "kv-shift: \"delta\" must be an integer" },
  { "{\"type\": \"kv-clear\", \"seq\": -2}", PRIMA_CTL_ERROR_FIELD, "kv-clear: \"seq\" = -2 out of range" },
  { "{\"type\": \"heartbeat\", \"rank\": 0}", PRIMA_CTL_ERROR_FIELD, "heartbeat: \"n\" is missing" },
  { "{\"type\": \"heartbeat\", \"rank\": 0, \"n\": -1}", PRIMA_CTL_ERROR_FIELD, "heartbeat: \"n\" = -1 out of range" },
  { "{\"type\": \"error\"}", PRIMA_CTL_ERROR_FIELD, "error: \"message\" is missing" },
  { "{\"type\": \"error\", \"message\": \"x\", \"rank\": -3}", PRIMA_CTL_ERROR_FIELD, "error: \"rank\" = -3 out of range" },
  { "{\"type\": \"hello\", \"proto\": 1, \"rank\": 1, \"nonce\": \"" HEX64 "\", \"world\": -1}", PRIMA_CTL_ERROR_FIELD,
    "hello: \"world\" = -1 out of range" },
  { "{\"type\": \"join\", \"rank\": 1}", PRIMA_CTL_ERROR_FIELD, "join: \"ranks\" is missing" },
  { "{\"type\": \"join\", \"rank\": 1, \"ranks\": [1, \"2\"]}", PRIMA_CTL_ERROR_FIELD,
    "join: \"ranks\" must hold ranks" },
  { "{\"type\": \"join\", \"rank\": 1, \"ranks\": [1, 9999]}", PRIMA_CTL_ERROR_FIELD,
    "join: \"ranks\" must hold ranks" },
  { "{\"type\": \"join\", \"rank\": 1, \"ranks\": {}}", PRIMA_CTL_ERROR_FIELD, "join: \"ranks\" must be an array" },
  { "{\"type\": \"stop\", \"reason\": 5}", PRIMA_CTL_ERROR_FIELD, "stop: \"reason\" must be a string" },
  { "{\"type\": \"profile\", \"rank\": 1, \"profile\": [1]}", PRIMA_CTL_ERROR_FIELD,
    "profile: \"profile\" must be an object" },
  /* 1e999 reads as inf, which would go back on the wire as "inf.0" (found by fuzz-ring-control) */
  { "{\"type\": \"profile\", \"rank\": 1, \"profile\": {\"ram_available_gib\": 1e999}}", PRIMA_CTL_ERROR_FIELD,
    "profile: \"profile\" holds a number out of range" },
  { "{\"type\": \"profile\", \"rank\": 1, \"profile\": {\"x\": {\"y\": [2, -1e999]}}}", PRIMA_CTL_ERROR_FIELD,
    "holds a number out of range" },
  { "{\"type\": \"plan\", \"id\": 1, \"n_layer\": 4, \"n_ctx\": 16}", PRIMA_CTL_ERROR_FIELD,
    "plan: \"ranks\" is missing" },
  { "{\"type\": \"plan\", \"id\": 1, \"n_layer\": 4, \"n_ctx\": 16, \"ranks\": [{\"rank\": 0, \"windows\": [[0, 3]]}]}",
    PRIMA_CTL_ERROR_FIELD, "plan: layer 3 is owned by 0 ranks" },
  { "{\"type\": \"plan\", \"id\": 1, \"n_layer\": 4, \"n_ctx\": 16, \"ranks\": [{\"rank\": 0, \"windows\": [[0, 4]]},"
    "{\"rank\": 1, \"windows\": [[2, 3]]}]}", PRIMA_CTL_ERROR_FIELD, "plan: layer 2 is owned by 2 ranks" },
  { "{\"type\": \"plan\", \"id\": 1, \"n_layer\": 4, \"n_ctx\": 16, \"ranks\": [{\"rank\": 0, \"windows\": [[0, 4]]},"
    "{\"rank\": 2, \"windows\": []}]}", PRIMA_CTL_ERROR_FIELD, "plan: ranks must be 0..1 once each" },
  { "{\"type\": \"plan\", \"id\": 1, \"n_layer\": 4, \"n_ctx\": 16, \"ranks\": [{\"rank\": 0, \"windows\": [[2, 4], [0, 2]]}]}",
    PRIMA_CTL_ERROR_FIELD, "window [0, 2) is empty, out of order" },
  { "{\"type\": \"plan\", \"id\": 1, \"n_layer\": 4, \"n_ctx\": 16, \"ranks\": [{\"rank\": 0, \"windows\": [[0, 5]]}]}",
    PRIMA_CTL_ERROR_FIELD, "beyond n_layer 4" },
  { "{\"type\": \"plan\", \"id\": 1, \"n_layer\": 4, \"n_ctx\": 16, \"ranks\": [{\"rank\": 0, \"windows\": [[0, 4]], \"gpu_layers\": 5}]}",
    PRIMA_CTL_ERROR_FIELD, "gpu_layers 5 out of range (0..4)" },
  { "{\"type\": \"plan\", \"id\": 1, \"n_layer\": 4, \"n_ctx\": 16, \"ranks\": [{\"rank\": 0, \"windows\": [[0]]}]}",
    PRIMA_CTL_ERROR_FIELD, "must be an array of [first, last] pairs" },
  { "{\"type\": \"plan\", \"id\": 1, \"n_layer\": 4, \"n_ctx\": 0, \"ranks\": [{\"rank\": 0, \"windows\": [[0, 4]]}]}",
    PRIMA_CTL_ERROR_FIELD, "plan: \"n_ctx\" = 0 out of range" },
  { "{\"type\": \"stats\", \"rank\": 1, \"frames\": 3, \"compute_us\": 9}", PRIMA_CTL_ERROR_FIELD,
    "stats: \"send_us\" is missing" },
  { "{\"type\": \"stats\", \"rank\": 1, \"frames\": -1, \"compute_us\": 9, \"send_us\": 1}", PRIMA_CTL_ERROR_FIELD,
    "stats: \"frames\" = -1 out of range" },
  { "{\"type\": \"stats\", \"rank\": 256, \"frames\": 1, \"compute_us\": 9, \"send_us\": 1}", PRIMA_CTL_ERROR_FIELD,
    "stats: \"rank\" out of range" },
  { "{\"type\": \"stats\", \"rank\": 1, \"frames\": 1, \"compute_us\": 9.5, \"send_us\": 1}", PRIMA_CTL_ERROR_FIELD,
    "stats: \"compute_us\" must be an integer" },
  /* unknown members are ignored (forward compatibility) */
  { "{\"type\": \"kv-clear\", \"seq\": 0, \"future\": {\"x\": [1, 2]}}", -1, NULL },
};

static void
test_bad (gconstpointer data)
{
  const bad_case *bc = data;
  prima_ctl_msg m;
  GError *err = NULL;
  gboolean ok = prima_ctl_parse (bc->json, strlen (bc->json), &m, &err);

  if (bc->code < 0) {
    g_assert_no_error (err);
    g_assert_true (ok);
  } else {
    g_assert_false (ok);
    g_assert_error (err, PRIMA_CTL_ERROR, bc->code);
    if (strstr (err->message, bc->message) == NULL)
      g_error ("%s: message \"%s\" lacks \"%s\"", bc->json, err->message, bc->message);
    g_assert_null (strchr (err->message, '\n'));
    g_error_free (err);
  }
  prima_ctl_msg_clear (&m);
}

/* json-glib writes 1e-08 as "1e-08.0"; the message must still parse back
 * (found by fuzz-ring-control). */
static void
test_profile_exponents (void)
{
  static const double values[] = { 1e-08, -1e-08, 2e+20, 1.5e-07, 0.25 };
  prima_ctl_msg m, back;
  JsonObject *o = json_object_new ();
  char *json;
  gsize len;

  for (guint i = 0; i < G_N_ELEMENTS (values); i++) {
    char key[8];
    g_snprintf (key, sizeof key, "v%u", i);
    json_object_set_double_member (o, key, values[i]);
  }
  json_object_set_string_member (o, "name", "e.0 \"1e5.0\"");
  prima_ctl_msg_init (&m, PRIMA_CTL_PROFILE);
  m.rank = 1;
  m.profile = json_node_init_object (json_node_alloc (), o);
  json_object_unref (o);
  json = prima_ctl_to_json (&m, &len, NULL);
  g_assert_nonnull (json);
  g_assert_cmpuint (strlen (json), ==, len);
  g_assert_true (prima_ctl_parse (json, len, &back, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (values); i++) {
    char key[8];
    g_snprintf (key, sizeof key, "v%u", i);
    g_assert_cmpfloat (json_object_get_double_member (json_node_get_object (back.profile), key), ==, values[i]);
  }
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (back.profile), "name"), ==, "e.0 \"1e5.0\"");
  g_free (json);
  prima_ctl_msg_clear (&back);
  prima_ctl_msg_clear (&m);
}

static void
test_hostile_text (void)
{
  prima_ctl_msg m;
  GError *err = NULL;
  GString *deep = g_string_new ("{\"type\":\"stop\",\"x\":");
  char *big;

  /* deep nesting is refused before json-glib recurses into it */
  for (int i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  g_assert_false (prima_ctl_parse (deep->str, deep->len, &m, &err));
  g_assert_nonnull (strstr (err->message, "nested deeper"));
  g_clear_error (&err);
  prima_ctl_msg_clear (&m);
  g_string_free (deep, TRUE);

  big = g_malloc0 (PRIMA_CTL_MAX_TEXT + 2);
  memset (big, ' ', PRIMA_CTL_MAX_TEXT + 1);
  g_assert_false (prima_ctl_parse (big, PRIMA_CTL_MAX_TEXT + 1, &m, &err));
  g_assert_nonnull (strstr (err->message, "exceeds"));
  g_clear_error (&err);
  prima_ctl_msg_clear (&m);
  g_free (big);

  g_assert_false (prima_ctl_parse ("{\"type\":\"stop\"}\0x", 17, &m, &err));
  g_assert_nonnull (strstr (err->message, "NUL byte"));
  g_clear_error (&err);
  prima_ctl_msg_clear (&m);

  /* json-glib reads "\6" as an octal byte: the text that comes out is no
   * UTF-8, in any string of any message (found by fuzz-ring-control) */
  {
    static const char *const octal[] = {
      "{\"type\":\"error\",\"message\":\"\\6101\"}",
      "{\"type\":\"route\",\"rank\":0,\"absent\":[],\"addresses\":[\"\\6101\"]}",
      "{\"type\":\"profile\",\"rank\":1,\"profile\":{\"name\":\"\\6101\"}}",
    };
    for (guint i = 0; i < G_N_ELEMENTS (octal); i++) {
      g_assert_false (prima_ctl_parse (octal[i], strlen (octal[i]), &m, &err));
      g_assert_nonnull (strstr (err->message, "UTF-8"));
      g_clear_error (&err);
      prima_ctl_msg_clear (&m);
    }
  }

  g_assert_false (prima_ctl_parse ("{\"type\":\"st\xff\"}", 14, &m, &err));
  g_assert_nonnull (strstr (err->message, "not UTF-8"));
  g_clear_error (&err);
  prima_ctl_msg_clear (&m);

  /* not NUL-terminated: only length bytes are read */
  {
    char buf[15];
    memcpy (buf, "{\"type\":\"stop\"}", 15);
    g_assert_true (prima_ctl_parse (buf, sizeof buf, &m, NULL));
    g_assert_cmpint (m.type, ==, PRIMA_CTL_STOP);
    prima_ctl_msg_clear (&m);
  }
}

/* Building refuses what parsing would refuse. */
static void
test_build_validates (void)
{
  prima_ctl_msg m;
  GError *err = NULL;

  prima_ctl_msg_init (&m, PRIMA_CTL_KV_REMOVE);
  m.seq = 0;
  m.p0 = 10;
  m.p1 = 5;
  g_assert_null (prima_ctl_to_json (&m, NULL, &err));
  g_assert_error (err, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD);
  g_clear_error (&err);

  prima_ctl_msg_init (&m, PRIMA_CTL_HELLO);
  m.rank = 1;
  strcpy (m.nonce, "short");
  g_assert_null (prima_ctl_to_json (&m, NULL, &err));
  g_clear_error (&err);

  prima_ctl_msg_init (&m, PRIMA_CTL_PLAN);
  g_assert_null (prima_ctl_to_json (&m, NULL, &err));
  g_clear_error (&err);
}

/* A worker's counters: exact to the microsecond over the whole 63-bit
 * range (they are totals since its pipeline started). */
static void
test_stats (void)
{
  static const char wire[] = "{\"type\":\"stats\",\"rank\":2,\"frames\":41,\"compute_us\":123456,\"send_us\":789}";
  prima_ctl_msg m, o;
  GError *err = NULL;
  char *json;

  prima_ctl_msg_init (&m, PRIMA_CTL_STATS);
  m.rank = 255;
  m.frames = G_MAXINT64;
  m.compute_us = (guint64) G_MAXINT64 - 1;
  m.send_us = 1;
  round_trip (&m, &o);
  g_assert_cmpint (o.rank, ==, 255);
  g_assert_cmpuint (o.frames, ==, G_MAXINT64);
  g_assert_cmpuint (o.compute_us, ==, (guint64) G_MAXINT64 - 1);
  g_assert_cmpuint (o.send_us, ==, 1);
  prima_ctl_msg_clear (&o);

  /* the docs' example parses to those fields and builds back to the same text */
  g_assert_true (prima_ctl_parse (wire, strlen (wire), &o, &err));
  g_assert_no_error (err);
  g_assert_cmpint (o.type, ==, PRIMA_CTL_STATS);
  g_assert_cmpint (o.rank, ==, 2);
  g_assert_cmpuint (o.frames, ==, 41);
  g_assert_cmpuint (o.compute_us, ==, 123456);
  g_assert_cmpuint (o.send_us, ==, 789);
  json = prima_ctl_to_json (&o, NULL, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (json, ==, wire);
  g_free (json);
  prima_ctl_msg_clear (&o);

  /* building validates: no rank, or a counter beyond what JSON carries */
  prima_ctl_msg_init (&m, PRIMA_CTL_STATS);
  g_assert_null (prima_ctl_to_json (&m, NULL, &err));
  g_assert_error (err, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD);
  g_clear_error (&err);
  m.rank = 1;
  m.send_us = G_MAXUINT64;
  g_assert_null (prima_ctl_to_json (&m, NULL, &err));
  g_assert_error (err, PRIMA_CTL_ERROR, PRIMA_CTL_ERROR_FIELD);
  g_assert_nonnull (strstr (err->message, "send_us"));
  g_clear_error (&err);
}

/* Deterministic mutations of valid messages never crash the parser. */
static void
test_mutations (void)
{
  static const char *seeds[] = {
    "{\"type\":\"kv-shift\",\"seq\":0,\"p0\":100,\"p1\":200,\"delta\":-50}",
    "{\"type\":\"plan\",\"id\":1,\"n_layer\":2,\"n_ctx\":16,\"ranks\":[{\"rank\":1,\"windows\":[[0,1]]},{\"rank\":0,\"windows\":[[1,2]]}]}",
    "{\"type\":\"hello\",\"proto\":1,\"rank\":1,\"nonce\":\"" HEX64 "\"}",
    "{\"type\":\"profile\",\"rank\":1,\"profile\":{\"a\":[1,2,{\"b\":null}]}}",
    "{\"type\":\"stats\",\"rank\":2,\"frames\":41,\"compute_us\":123456,\"send_us\":789}",
  };
  static const char alphabet[] = "{}[]\",:0123456789-.eE truefalsnul\\u";
  GRand *r = g_rand_new_with_seed (7);

  for (int iter = 0; iter < 20000; iter++) {
    const char *seed = seeds[iter % G_N_ELEMENTS (seeds)];
    char *s = g_strdup (seed);
    gsize len = strlen (s);
    prima_ctl_msg m;
    int n = 1 + g_rand_int_range (r, 0, 3);
    for (int k = 0; k < n; k++)
      s[g_rand_int_range (r, 0, len)] = alphabet[g_rand_int_range (r, 0, sizeof alphabet - 1)];
    if (g_rand_boolean (r))
      len = g_rand_int_range (r, 0, len + 1);
    if (prima_ctl_parse (s, len, &m, NULL))
      g_assert_true (prima_ctl_msg_validate (&m, NULL));
    prima_ctl_msg_clear (&m);
    g_free (s);
  }
  g_rand_free (r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ring-control/round-trips", test_round_trips);
  g_test_add_func ("/ring-control/plan", test_plan_round_trip);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++) {
    char *path = g_strdup_printf ("/ring-control/parse/%02" G_GSIZE_FORMAT, i);
    g_test_add_data_func (path, &bad_cases[i], test_bad);
    g_free (path);
  }
  g_test_add_func ("/ring-control/profile-exponents", test_profile_exponents);
  g_test_add_func ("/ring-control/hostile-text", test_hostile_text);
  g_test_add_func ("/ring-control/build-validates", test_build_validates);
  g_test_add_func ("/ring-control/stats", test_stats);
  g_test_add_func ("/ring-control/mutations", test_mutations);
  return g_test_run ();
}
