/* gst-prima: the prima elements' custom events, messages and queries
 * (prima-events.h).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "prima-events.h"

#include <string.h>

static gboolean
is_event (GstEvent * event, GstEventType type, const gchar * name)
{
  return event != NULL && GST_EVENT_TYPE (event) == type && gst_event_has_name (event, name);
}

static gboolean
is_message (GstMessage * message, const gchar * name)
{
  return message != NULL && GST_MESSAGE_TYPE (message) == GST_MESSAGE_ELEMENT
      && gst_message_has_name (message, name);
}

static void
get_int (const GstStructure * s, const gchar * field, gint * out, gint fallback)
{
  if (out && !gst_structure_get_int (s, field, out))
    *out = fallback;
}

/* ---- KV cache ---- */

GstEvent *
prima_event_new_kv_clear (void)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new_empty (PRIMA_EVENT_KV_CLEAR));
}

gboolean
prima_event_is_kv_clear (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_DOWNSTREAM, PRIMA_EVENT_KV_CLEAR);
}

GstEvent *
prima_event_new_kv_remove (gint seq, gint p0, gint p1)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new (PRIMA_EVENT_KV_REMOVE,
          "seq", G_TYPE_INT, seq, "p0", G_TYPE_INT, p0, "p1", G_TYPE_INT, p1, NULL));
}

gboolean
prima_event_is_kv_remove (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_DOWNSTREAM, PRIMA_EVENT_KV_REMOVE);
}

gboolean
prima_event_parse_kv_remove (GstEvent * event, gint * seq, gint * p0, gint * p1)
{
  const GstStructure *s;

  if (!prima_event_is_kv_remove (event))
    return FALSE;
  s = gst_event_get_structure (event);
  get_int (s, "seq", seq, -1);
  get_int (s, "p0", p0, 0);
  get_int (s, "p1", p1, -1);
  return TRUE;
}

GstEvent *
prima_event_new_kv_shift (gint seq, gint p0, gint p1, gint delta)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new (PRIMA_EVENT_KV_SHIFT,
          "seq", G_TYPE_INT, seq, "p0", G_TYPE_INT, p0, "p1", G_TYPE_INT, p1, "delta", G_TYPE_INT, delta, NULL));
}

gboolean
prima_event_is_kv_shift (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_DOWNSTREAM, PRIMA_EVENT_KV_SHIFT);
}

gboolean
prima_event_parse_kv_shift (GstEvent * event, gint * seq, gint * p0, gint * p1, gint * delta)
{
  const GstStructure *s;

  if (!prima_event_is_kv_shift (event))
    return FALSE;
  s = gst_event_get_structure (event);
  get_int (s, "seq", seq, -1);
  get_int (s, "p0", p0, 0);
  get_int (s, "p1", p1, -1);
  get_int (s, "delta", delta, 0);
  return TRUE;
}

GstEvent *
prima_event_new_kv_shifted (gint n_keep, gint n_discard)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new (PRIMA_EVENT_KV_SHIFTED,
          "n-keep", G_TYPE_INT, n_keep, "n-discard", G_TYPE_INT, n_discard, NULL));
}

gboolean
prima_event_is_kv_shifted (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_UPSTREAM, PRIMA_EVENT_KV_SHIFTED);
}

gboolean
prima_event_parse_kv_shifted (GstEvent * event, gint * n_keep, gint * n_discard)
{
  const GstStructure *s;

  if (!prima_event_is_kv_shifted (event))
    return FALSE;
  s = gst_event_get_structure (event);
  get_int (s, "n-keep", n_keep, 0);
  get_int (s, "n-discard", n_discard, 0);
  return TRUE;
}

/* ---- turns ---- */

GstEvent *
prima_event_new_end_of_turn (const gchar * reason)
{
  GstStructure *s = gst_structure_new_empty (PRIMA_EVENT_END_OF_TURN);

  if (reason)
    gst_structure_set (s, "reason", G_TYPE_STRING, reason, NULL);
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, s);
}

gboolean
prima_event_is_end_of_turn (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_DOWNSTREAM, PRIMA_EVENT_END_OF_TURN);
}

gboolean
prima_event_parse_end_of_turn (GstEvent * event, const gchar ** reason)
{
  if (!prima_event_is_end_of_turn (event))
    return FALSE;
  if (reason)
    *reason = gst_structure_get_string (gst_event_get_structure (event), "reason");
  return TRUE;
}

/* ---- speech ---- */

GstEvent *
prima_event_new_speech_started (GstClockTime stream_time)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new (PRIMA_EVENT_SPEECH_STARTED,
          "stream-time", G_TYPE_UINT64, (guint64) stream_time, NULL));
}

gboolean
prima_event_is_speech_started (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_DOWNSTREAM, PRIMA_EVENT_SPEECH_STARTED);
}

gboolean
prima_event_parse_speech_started (GstEvent * event, GstClockTime * stream_time)
{
  guint64 t = GST_CLOCK_TIME_NONE;

  if (!prima_event_is_speech_started (event))
    return FALSE;
  gst_structure_get_uint64 (gst_event_get_structure (event), "stream-time", &t);
  if (stream_time)
    *stream_time = t;
  return TRUE;
}

GstMessage *
prima_message_new_utterance (GstObject * src, const PrimaUtteranceInfo * info)
{
  return gst_message_new_element (src, gst_structure_new (PRIMA_MESSAGE_UTTERANCE,
          "text", G_TYPE_STRING, info->text ? info->text : "",
          "confidence", G_TYPE_DOUBLE, info->confidence, "score", G_TYPE_INT, info->score,
          "start", G_TYPE_UINT64, (guint64) info->start, "end", G_TYPE_UINT64, (guint64) info->end, NULL));
}

gboolean
prima_message_is_utterance (GstMessage * message)
{
  return is_message (message, PRIMA_MESSAGE_UTTERANCE);
}

gboolean
prima_message_parse_utterance (GstMessage * message, PrimaUtteranceInfo * u)
{
  const GstStructure *s;
  guint64 start = GST_CLOCK_TIME_NONE, end = GST_CLOCK_TIME_NONE;

  if (!prima_message_is_utterance (message))
    return FALSE;
  s = gst_message_get_structure (message);
  memset (u, 0, sizeof *u);
  u->text = gst_structure_get_string (s, "text");
  if (u->text == NULL)
    u->text = "";
  gst_structure_get_double (s, "confidence", &u->confidence);
  get_int (s, "score", &u->score, 0);
  gst_structure_get_uint64 (s, "start", &start);
  gst_structure_get_uint64 (s, "end", &end);
  u->start = start;
  u->end = end;
  return TRUE;
}

GstEvent *
prima_event_new_answer (GstBuffer * ids, gint position)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new (PRIMA_EVENT_ANSWER,
          "ids", GST_TYPE_BUFFER, ids, "position", G_TYPE_INT, position, NULL));
}

GstEvent *
prima_event_answer_set_refused (GstEvent * event)
{
  event = (GstEvent *) gst_mini_object_make_writable (GST_MINI_OBJECT_CAST (event));
  gst_structure_set (gst_event_writable_structure (event), "refused", G_TYPE_BOOLEAN, TRUE, NULL);
  return event;
}

gboolean
prima_event_is_answer (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_UPSTREAM, PRIMA_EVENT_ANSWER);
}

gboolean
prima_event_parse_answer (GstEvent * event, GstBuffer ** ids, gint * position, gboolean * refused)
{
  const GstStructure *s;

  if (!prima_event_is_answer (event))
    return FALSE;
  s = gst_event_get_structure (event);
  if (ids && !gst_structure_get (s, "ids", GST_TYPE_BUFFER, ids, NULL))
    *ids = NULL;
  get_int (s, "position", position, -1);
  if (refused && !gst_structure_get_boolean (s, "refused", refused))
    *refused = FALSE;
  return TRUE;
}

GstEvent *
prima_event_new_interrupt (void)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new_empty (PRIMA_EVENT_INTERRUPT));
}

gboolean
prima_event_is_interrupt (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_UPSTREAM, PRIMA_EVENT_INTERRUPT);
}

/* ---- the ring ---- */

GstEvent *
prima_event_new_device_failed (gint rank, const gchar * message)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new (PRIMA_EVENT_DEVICE_FAILED,
          "rank", G_TYPE_INT, rank, "message", G_TYPE_STRING, message ? message : "unknown error", NULL));
}

gboolean
prima_event_is_device_failed (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_UPSTREAM, PRIMA_EVENT_DEVICE_FAILED);
}

gboolean
prima_event_parse_device_failed (GstEvent * event, gint * rank, const gchar ** message)
{
  const GstStructure *s;

  if (!prima_event_is_device_failed (event))
    return FALSE;
  s = gst_event_get_structure (event);
  get_int (s, "rank", rank, -1);
  if (message) {
    *message = gst_structure_get_string (s, "message");
    if (*message == NULL)
      *message = "unknown error";
  }
  return TRUE;
}

GstEvent *
prima_event_new_ring_plan (const gchar * json, gint rank, const gchar * windows, gint n_layer, gint n_ctx)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new (PRIMA_EVENT_RING_PLAN,
          "json", G_TYPE_STRING, json, "rank", G_TYPE_INT, rank, "windows", G_TYPE_STRING, windows,
          "n-layer", G_TYPE_INT, n_layer, "n-ctx", G_TYPE_INT, n_ctx, NULL));
}

gboolean
prima_event_is_ring_plan (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_DOWNSTREAM, PRIMA_EVENT_RING_PLAN);
}

gboolean
prima_event_parse_ring_plan (GstEvent * event, const gchar ** json, gint * rank, const gchar ** windows,
    gint * n_layer, gint * n_ctx)
{
  const GstStructure *s;

  if (!prima_event_is_ring_plan (event))
    return FALSE;
  s = gst_event_get_structure (event);
  if (json)
    *json = gst_structure_get_string (s, "json");
  get_int (s, "rank", rank, -1);
  if (windows)
    *windows = gst_structure_get_string (s, "windows");
  get_int (s, "n-layer", n_layer, 0);
  get_int (s, "n-ctx", n_ctx, 0);
  return TRUE;
}

GstEvent *
prima_event_new_ring_failure (gint rank, const gchar * message)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new (PRIMA_EVENT_RING_FAILURE,
          "message", G_TYPE_STRING, message, "rank", G_TYPE_INT, rank, NULL));
}

gboolean
prima_event_is_ring_failure (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_DOWNSTREAM, PRIMA_EVENT_RING_FAILURE);
}

gboolean
prima_event_parse_ring_failure (GstEvent * event, gint * rank, const gchar ** message)
{
  return prima_event_parse_ring_failure_lost (event, rank, NULL, message);
}

GstEvent *
prima_event_new_ring_failure_lost (gint rank, gint lost, const gchar * message)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM, gst_structure_new (PRIMA_EVENT_RING_FAILURE,
          "message", G_TYPE_STRING, message, "rank", G_TYPE_INT, rank, "lost", G_TYPE_INT, lost, NULL));
}

gboolean
prima_event_parse_ring_failure_lost (GstEvent * event, gint * rank, gint * lost, const gchar ** message)
{
  const GstStructure *s;

  if (!prima_event_is_ring_failure (event))
    return FALSE;
  s = gst_event_get_structure (event);
  get_int (s, "rank", rank, -1);
  get_int (s, "lost", lost, -1);
  if (message)
    *message = gst_structure_get_string (s, "message");
  return TRUE;
}

/* Not serialized: they act when sent, whatever the streams are doing. */
GstEvent *
prima_event_new_ring_suspend (void)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM_OOB, gst_structure_new_empty (PRIMA_EVENT_RING_SUSPEND));
}

gboolean
prima_event_is_ring_suspend (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_DOWNSTREAM_OOB, PRIMA_EVENT_RING_SUSPEND);
}

GstEvent *
prima_event_new_ring_resume (void)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM_OOB, gst_structure_new_empty (PRIMA_EVENT_RING_RESUME));
}

gboolean
prima_event_is_ring_resume (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_DOWNSTREAM_OOB, PRIMA_EVENT_RING_RESUME);
}

GstEvent *
prima_event_new_ring_control (const gchar * json)
{
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, gst_structure_new (PRIMA_EVENT_RING_CONTROL,
          "json", G_TYPE_STRING, json, NULL));
}

gboolean
prima_event_is_ring_control (GstEvent * event)
{
  return is_event (event, GST_EVENT_CUSTOM_UPSTREAM, PRIMA_EVENT_RING_CONTROL);
}

gboolean
prima_event_parse_ring_control (GstEvent * event, const gchar ** json)
{
  if (!prima_event_is_ring_control (event))
    return FALSE;
  if (json)
    *json = gst_structure_get_string (gst_event_get_structure (event), "json");
  return TRUE;
}

/* ---- messages ---- */

GstMessage *
prima_message_new_turn (GstObject * src, const PrimaTurnInfo * t)
{
  return gst_message_new_element (src, gst_structure_new (PRIMA_MESSAGE_TURN,
          "prompt-tokens", G_TYPE_INT, t->prompt_tokens,
          "prompt-time", G_TYPE_UINT64, (guint64) t->prompt_time,
          "generated", G_TYPE_INT, t->generated,
          "decode-tokens", G_TYPE_INT, t->decode_tokens,
          "decode-time", G_TYPE_UINT64, (guint64) t->decode_time,
          "position", G_TYPE_INT, t->position,
          "context-shifts", G_TYPE_INT, t->context_shifts,
          "chat", G_TYPE_BOOLEAN, t->chat, "reason", G_TYPE_STRING, t->reason ? t->reason : "", NULL));
}

gboolean
prima_message_is_turn (GstMessage * message)
{
  return is_message (message, PRIMA_MESSAGE_TURN);
}

gboolean
prima_message_parse_turn (GstMessage * message, PrimaTurnInfo * t)
{
  const GstStructure *s;
  guint64 prompt_time = 0, decode_time = 0;

  if (!prima_message_is_turn (message))
    return FALSE;
  s = gst_message_get_structure (message);
  memset (t, 0, sizeof *t);
  get_int (s, "prompt-tokens", &t->prompt_tokens, 0);
  gst_structure_get_uint64 (s, "prompt-time", &prompt_time);
  get_int (s, "generated", &t->generated, 0);
  get_int (s, "decode-tokens", &t->decode_tokens, 0);
  gst_structure_get_uint64 (s, "decode-time", &decode_time);
  get_int (s, "position", &t->position, 0);
  get_int (s, "context-shifts", &t->context_shifts, 0);
  gst_structure_get_boolean (s, "chat", &t->chat);
  t->prompt_time = prompt_time;
  t->decode_time = decode_time;
  t->reason = gst_structure_get_string (s, "reason");
  return TRUE;
}

GstMessage *
prima_message_new_ring (GstObject * src, const gchar * what, gint rank, guint port, const gchar * message)
{
  return gst_message_new_element (src, gst_structure_new (PRIMA_MESSAGE_RING,
          "event", G_TYPE_STRING, what, "rank", G_TYPE_INT, rank, "port", G_TYPE_UINT, port,
          "message", G_TYPE_STRING, message ? message : "", NULL));
}

gboolean
prima_message_is_ring (GstMessage * message)
{
  return is_message (message, PRIMA_MESSAGE_RING);
}

gboolean
prima_message_parse_ring (GstMessage * message, const gchar ** what, gint * rank, guint * port,
    const gchar ** text)
{
  const GstStructure *s;

  if (!prima_message_is_ring (message))
    return FALSE;
  s = gst_message_get_structure (message);
  if (what)
    *what = gst_structure_get_string (s, "event");
  get_int (s, "rank", rank, -1);
  if (port && !gst_structure_get_uint (s, "port", port))
    *port = 0;
  if (text) {
    *text = gst_structure_get_string (s, "message");
    if (*text == NULL)
      *text = "";
  }
  return TRUE;
}

GstMessage *
prima_message_new_loading (GstObject * src, const PrimaLoadingInfo * l)
{
  return gst_message_new_element (src, gst_structure_new (PRIMA_MESSAGE_LOADING,
          "layer", G_TYPE_INT, l->layer, "n-layers", G_TYPE_INT, l->n_layers,
          "bytes", G_TYPE_UINT64, l->bytes, "seconds", G_TYPE_DOUBLE, l->seconds,
          "window-resident", G_TYPE_DOUBLE, l->window_resident,
          "window-done", G_TYPE_BOOLEAN, l->window_done, "done", G_TYPE_BOOLEAN, l->done, NULL));
}

gboolean
prima_message_is_loading (GstMessage * message)
{
  return is_message (message, PRIMA_MESSAGE_LOADING);
}

gboolean
prima_message_parse_loading (GstMessage * message, PrimaLoadingInfo * l)
{
  const GstStructure *s;

  if (!prima_message_is_loading (message))
    return FALSE;
  s = gst_message_get_structure (message);
  memset (l, 0, sizeof *l);
  get_int (s, "layer", &l->layer, 0);
  get_int (s, "n-layers", &l->n_layers, 0);
  gst_structure_get_uint64 (s, "bytes", &l->bytes);
  gst_structure_get_double (s, "seconds", &l->seconds);
  gst_structure_get_double (s, "window-resident", &l->window_resident);
  gst_structure_get_boolean (s, "window-done", &l->window_done);
  gst_structure_get_boolean (s, "done", &l->done);
  return TRUE;
}

/* ---- queries ---- */

GstQuery *
prima_query_new_context (void)
{
  return gst_query_new_custom (GST_QUERY_CUSTOM, gst_structure_new_empty (PRIMA_QUERY_CONTEXT));
}

gboolean
prima_query_is_context (GstQuery * query)
{
  const GstStructure *s;

  if (query == NULL || GST_QUERY_TYPE (query) != GST_QUERY_CUSTOM)
    return FALSE;
  s = gst_query_get_structure (query);
  return s != NULL && gst_structure_has_name (s, PRIMA_QUERY_CONTEXT);
}

void
prima_query_set_context (GstQuery * query, gint n_ctx, gint position)
{
  gst_structure_set (gst_query_writable_structure (query), "n-ctx", G_TYPE_INT, n_ctx,
      "position", G_TYPE_INT, position, NULL);
}

gboolean
prima_query_parse_context (GstQuery * query, gint * n_ctx, gint * position)
{
  const GstStructure *s;

  if (!prima_query_is_context (query))
    return FALSE;
  s = gst_query_get_structure (query);
  if (!gst_structure_has_field (s, "n-ctx"))
    return FALSE;
  get_int (s, "n-ctx", n_ctx, 0);
  get_int (s, "position", position, 0);
  return TRUE;
}

/* ---- the prima-plan message (primascheduler posts it; `prima run` renders it) ---- */

static void
strv_to_array (GValue * array, gchar ** strv)
{
  g_value_init (array, GST_TYPE_ARRAY);
  for (guint i = 0; strv && strv[i]; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, strv[i]);
    gst_value_array_append_and_take_value (array, &v);
  }
}

static gchar **
array_to_strv (const GValue * array)
{
  guint n = array && GST_VALUE_HOLDS_ARRAY (array) ? gst_value_array_get_size (array) : 0;
  gchar **strv = g_new0 (gchar *, n + 1);

  for (guint i = 0; i < n; i++) {
    const GValue *v = gst_value_array_get_value (array, i);
    strv[i] = g_strdup (G_VALUE_HOLDS_STRING (v) ? g_value_get_string (v) : "");
  }
  return strv;
}

GstMessage *
prima_message_new_plan (GstObject * src, const PrimaPlanInfo * info)
{
  GstStructure *s;
  GValue windows = G_VALUE_INIT, cases = G_VALUE_INIT;

  strv_to_array (&windows, info->windows);
  strv_to_array (&cases, info->cases);
  s = gst_structure_new (PRIMA_MESSAGE_PLAN, "devices", G_TYPE_UINT, info->devices, "world", G_TYPE_UINT,
      info->world, "rounds", G_TYPE_UINT, info->rounds, "n-layer", G_TYPE_UINT, info->n_layer, "context-size",
      G_TYPE_UINT, info->context_size, "predicted-tpot", G_TYPE_DOUBLE, info->predicted_tpot, "plan",
      G_TYPE_STRING, info->plan, NULL);
  gst_structure_take_value (s, "windows", &windows);
  gst_structure_take_value (s, "cases", &cases);
  return gst_message_new_element (src, s);
}

gboolean
prima_message_is_plan (GstMessage * message)
{
  const GstStructure *s;

  if (GST_MESSAGE_TYPE (message) != GST_MESSAGE_ELEMENT)
    return FALSE;
  s = gst_message_get_structure (message);
  return s && gst_structure_has_name (s, PRIMA_MESSAGE_PLAN);
}

gboolean
prima_message_parse_plan (GstMessage * message, PrimaPlanInfo * info)
{
  const GstStructure *s;

  memset (info, 0, sizeof *info);
  if (!prima_message_is_plan (message))
    return FALSE;
  s = gst_message_get_structure (message);
  gst_structure_get_uint (s, "devices", &info->devices);
  gst_structure_get_uint (s, "world", &info->world);
  gst_structure_get_uint (s, "rounds", &info->rounds);
  gst_structure_get_uint (s, "n-layer", &info->n_layer);
  gst_structure_get_uint (s, "context-size", &info->context_size);
  gst_structure_get_double (s, "predicted-tpot", &info->predicted_tpot);
  info->plan = g_strdup (gst_structure_get_string (s, "plan"));
  info->windows = array_to_strv (gst_structure_get_value (s, "windows"));
  info->cases = array_to_strv (gst_structure_get_value (s, "cases"));
  return TRUE;
}

void
prima_plan_info_clear (PrimaPlanInfo * info)
{
  g_clear_pointer (&info->windows, g_strfreev);
  g_clear_pointer (&info->cases, g_strfreev);
  g_clear_pointer (&info->plan, g_free);
}


/* ---- the ring survived a loss ---- */

GstMessage *
prima_message_new_ring_recovered (GstObject * src, const PrimaRecoveredInfo * info)
{
  GstStructure *s;
  GValue windows = G_VALUE_INIT;

  strv_to_array (&windows, info->windows);
  s = gst_structure_new (PRIMA_MESSAGE_RING_RECOVERED, "lost-rank", G_TYPE_INT, info->lost_rank, "lost-address",
      G_TYPE_STRING, info->lost_address ? info->lost_address : "", "tokens", G_TYPE_UINT, info->tokens, "devices",
      G_TYPE_UINT, info->devices, "seconds", G_TYPE_DOUBLE, info->seconds, NULL);
  gst_structure_take_value (s, "windows", &windows);
  return gst_message_new_element (src, s);
}

gboolean
prima_message_is_ring_recovered (GstMessage * message)
{
  return is_message (message, PRIMA_MESSAGE_RING_RECOVERED);
}

gboolean
prima_message_parse_ring_recovered (GstMessage * message, PrimaRecoveredInfo * info)
{
  const GstStructure *s;

  memset (info, 0, sizeof *info);
  if (!prima_message_is_ring_recovered (message))
    return FALSE;
  s = gst_message_get_structure (message);
  get_int (s, "lost-rank", &info->lost_rank, -1);
  info->lost_address = g_strdup (gst_structure_get_string (s, "lost-address"));
  if (info->lost_address == NULL)
    info->lost_address = g_strdup ("");
  gst_structure_get_uint (s, "tokens", &info->tokens);
  gst_structure_get_uint (s, "devices", &info->devices);
  gst_structure_get_double (s, "seconds", &info->seconds);
  info->windows = array_to_strv (gst_structure_get_value (s, "windows"));
  return TRUE;
}

void
prima_recovered_info_clear (PrimaRecoveredInfo * info)
{
  g_clear_pointer (&info->lost_address, g_free);
  g_clear_pointer (&info->windows, g_strfreev);
}

/* ---- a device's timing counters ---- */

GstMessage *
prima_message_new_device_stats (GstObject * src, const PrimaDeviceStatsInfo * info)
{
  return gst_message_new_element (src, gst_structure_new (PRIMA_MESSAGE_DEVICE_STATS, "rank", G_TYPE_INT,
          info->rank, "frames", G_TYPE_UINT64, info->frames, "compute-us", G_TYPE_UINT64, info->compute_us,
          "send-us", G_TYPE_UINT64, info->send_us, "laps", G_TYPE_UINT64, info->laps, "lap-us", G_TYPE_UINT64,
          info->lap_us, NULL));
}

gboolean
prima_message_is_device_stats (GstMessage * message)
{
  return is_message (message, PRIMA_MESSAGE_DEVICE_STATS);
}

gboolean
prima_message_parse_device_stats (GstMessage * message, PrimaDeviceStatsInfo * info)
{
  const GstStructure *s;

  memset (info, 0, sizeof *info);
  if (!prima_message_is_device_stats (message))
    return FALSE;
  s = gst_message_get_structure (message);
  get_int (s, "rank", &info->rank, -1);
  gst_structure_get_uint64 (s, "frames", &info->frames);
  gst_structure_get_uint64 (s, "compute-us", &info->compute_us);
  gst_structure_get_uint64 (s, "send-us", &info->send_us);
  gst_structure_get_uint64 (s, "laps", &info->laps);
  gst_structure_get_uint64 (s, "lap-us", &info->lap_us);
  return info->rank >= 0;
}

static GstCaps *
compute_caps (void)
{
  static GstCaps *caps;

  if (g_once_init_enter (&caps)) {
    GstCaps *c = gst_caps_new_empty_simple ("timestamp/x-prima-compute");
    GST_MINI_OBJECT_FLAG_SET (c, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
    g_once_init_leave (&caps, c);
  }
  return caps;
}

void
prima_buffer_set_compute_time (GstBuffer * buf, GstClockTime start, GstClockTime duration)
{
  GstReferenceTimestampMeta *meta = gst_buffer_get_reference_timestamp_meta (buf, compute_caps ());

  if (meta == NULL) {
    gst_buffer_add_reference_timestamp_meta (buf, compute_caps (), start, duration);
  } else {
    meta->timestamp = start;
    meta->duration = duration;
  }
}

gboolean
prima_buffer_get_compute_time (GstBuffer * buf, GstClockTime * start, GstClockTime * duration)
{
  GstReferenceTimestampMeta *meta = gst_buffer_get_reference_timestamp_meta (buf, compute_caps ());

  if (meta == NULL || !GST_CLOCK_TIME_IS_VALID (meta->timestamp) || !GST_CLOCK_TIME_IS_VALID (meta->duration))
    return FALSE;
  *start = meta->timestamp;
  *duration = meta->duration;
  return TRUE;
}

/* ---- speech ---- */

GstMessage *
prima_message_new_speech (GstObject * src, const PrimaSpeechInfo * info)
{
  GstStructure *s;

  if (!info->end)
    s = gst_structure_new (PRIMA_MESSAGE_SPEECH, "event", G_TYPE_STRING, "first-audio",
        "turn", G_TYPE_UINT, info->turn, "pts", G_TYPE_UINT64, info->pts,
        "wall-time", G_TYPE_INT64, info->wall_time, NULL);
  else
    s = gst_structure_new (PRIMA_MESSAGE_SPEECH, "event", G_TYPE_STRING, "end",
        "turn", G_TYPE_UINT, info->turn, "samples", G_TYPE_UINT64, info->samples,
        "duration", G_TYPE_UINT64, info->duration, "interrupted", G_TYPE_BOOLEAN, info->interrupted, NULL);
  return gst_message_new_element (src, s);
}

gboolean
prima_message_is_speech (GstMessage * message)
{
  return is_message (message, PRIMA_MESSAGE_SPEECH);
}

gboolean
prima_message_parse_speech (GstMessage * message, PrimaSpeechInfo * info)
{
  const GstStructure *s;

  if (!prima_message_is_speech (message))
    return FALSE;
  s = gst_message_get_structure (message);
  memset (info, 0, sizeof *info);
  info->end = g_strcmp0 (gst_structure_get_string (s, "event"), "end") == 0;
  gst_structure_get_uint (s, "turn", &info->turn);
  info->pts = GST_CLOCK_TIME_NONE;
  info->duration = GST_CLOCK_TIME_NONE;
  gst_structure_get_uint64 (s, "pts", &info->pts);
  gst_structure_get_int64 (s, "wall-time", &info->wall_time);
  gst_structure_get_uint64 (s, "samples", &info->samples);
  gst_structure_get_uint64 (s, "duration", &info->duration);
  gst_structure_get_boolean (s, "interrupted", &info->interrupted);
  return TRUE;
}
