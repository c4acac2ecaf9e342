/* gst-prima: primaspeechout, streaming text to speech with libespeak-ng.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_PRIMA_SPEECH_OUT (gst_prima_speech_out_get_type ())
G_DECLARE_FINAL_TYPE (GstPrimaSpeechOut, gst_prima_speech_out, GST, PRIMA_SPEECH_OUT, GstElement)

GST_ELEMENT_REGISTER_DECLARE (primaspeechout);

G_END_DECLS
