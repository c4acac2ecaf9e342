/* gst-prima: the prima-plan element message (primascheduler posts it; `prima run` renders it).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Built into the plugin and into `prima`, which reads the message without
 * knowing its fields. */
#include "prima-plan-message.h"

#include <string.h>

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

