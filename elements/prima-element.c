/* gst-prima: helpers shared by the elements of the plugin.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "prima-element.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "prima-caps.h"

gboolean
prima_element_open_vocabulary (GstElement * element, const gchar * path, gguf_file ** file,
    prima_tokenizer ** tok)
{
  GError *err = NULL;

  *file = NULL;
  *tok = NULL;
  if (path != NULL && *path != '\0' && (*file = gguf_open (path, &err)) != NULL
      && (*tok = prima_tokenizer_new (*file, &err)) != NULL)
    return TRUE;
  PRIMA_ELEMENT_MODEL_ERROR (element, path, err);
  g_clear_error (&err);
  g_clear_pointer (file, gguf_close);
  return FALSE;
}
