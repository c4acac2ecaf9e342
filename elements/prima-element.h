/* gst-prima: helpers shared by the elements of the plugin.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>
#include "gguf.h"
#include "tokenizer.h"

G_BEGIN_DECLS

/* Opens the GGUF at @path and builds its tokenizer. On failure posts one
 * element error naming the problem (no path, missing file, bad file),
 * leaves *file and *tok NULL and returns FALSE. */
gboolean prima_element_open_vocabulary (GstElement * element, const gchar * path, gguf_file ** file,
    prima_tokenizer ** tok);

G_END_DECLS
