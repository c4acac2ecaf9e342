/* gst-prima: primaspeechin, speech to user turns with pocketsphinx.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_SPEECH_IN (gst_prima_speech_in_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaSpeechIn, gst_prima_speech_in, GST, PRIMA_SPEECH_IN, GstElement)

GST_ELEMENT_REGISTER_DECLARE (primaspeechin);

G_END_DECLS
