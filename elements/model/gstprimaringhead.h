/* gst-prima: primaringhead, the head of a pipelined ring of devices.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_RING_HEAD (gst_prima_ring_head_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaRingHead, gst_prima_ring_head, GST, PRIMA_RING_HEAD, GstElement)

GST_ELEMENT_REGISTER_DECLARE (primaringhead);

G_END_DECLS
