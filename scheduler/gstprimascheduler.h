/* gst-prima: primascheduler, the ring's control plane on the head.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_SCHEDULER (gst_prima_scheduler_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaScheduler, gst_prima_scheduler, GST, PRIMA_SCHEDULER, GstElement)

GST_ELEMENT_REGISTER_DECLARE (primascheduler);

G_END_DECLS
