/* gst-prima: primascheduler, the ring's control plane on the head.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/**
 * GstPrimaSettingNames:
 * @PRIMA_SETTING_NAMES_PROPERTIES: the element's property names (`ring-timeout`)
 * @PRIMA_SETTING_NAMES_PRIMA_FLAGS: `prima`'s flags (`--ring-timeout`), for `prima run`
 *
 * How the setup round's messages name the settings a user may have to fix.
 *
 * Since: 0.2
 */
typedef enum
{
  PRIMA_SETTING_NAMES_PROPERTIES,
  PRIMA_SETTING_NAMES_PRIMA_FLAGS,
} GstPrimaSettingNames;

#define GST_TYPE_PRIMA_SETTING_NAMES (gst_prima_setting_names_get_type ())
GType gst_prima_setting_names_get_type (void);

#define GST_TYPE_PRIMA_SCHEDULER (gst_prima_scheduler_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaScheduler, gst_prima_scheduler, GST, PRIMA_SCHEDULER, GstElement)

GST_ELEMENT_REGISTER_DECLARE (primascheduler);

G_END_DECLS
