/* gst-prima: primadetokenizer, token ids to UTF-8 text.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_DETOKENIZER (gst_prima_detokenizer_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaDetokenizer, gst_prima_detokenizer, GST, PRIMA_DETOKENIZER, GstElement)

GST_ELEMENT_REGISTER_DECLARE (primadetokenizer);

G_END_DECLS
