/* gst-prima: primatokenizer, text to token ids.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_TOKENIZER (gst_prima_tokenizer_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaTokenizer, gst_prima_tokenizer, GST, PRIMA_TOKENIZER, GstElement)

GST_ELEMENT_REGISTER_DECLARE (primatokenizer);

G_END_DECLS
