/* gst-prima: the "prima" plugin: registers the elements.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

#include <gst/gst.h>
#include <glib/gi18n-lib.h>

#include "text/gstprimatokenizer.h"
#include "text/gstprimasampler.h"
#include "text/gstprimadetokenizer.h"
#include "text/gstprimafdsink.h"
#include "model/gstprimalayers.h"
#include "model/gstprimaringhead.h"
#include "model/gstprimadraft.h"
#include "flow/gstprimaloop.h"
#include "flow/gstprimafeedback.h"
#include "net/gstprimawssrc.h"
#include "net/gstprimawssink.h"
#include "gstprimascheduler.h"
#ifdef PRIMA_HAVE_POCKETSPHINX
#include "speech/gstprimaspeechin.h"
#endif
#ifdef PRIMA_HAVE_ESPEAK
#include "speech/gstprimaspeechout.h"
#endif

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

#ifdef ENABLE_NLS
  /* prima and primad export the folder they bound (their build tree's, or next to them) */
  bindtextdomain (GETTEXT_PACKAGE, g_getenv ("PRIMA_LOCALEDIR") && *g_getenv ("PRIMA_LOCALEDIR")
      ? g_getenv ("PRIMA_LOCALEDIR") : LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
#endif

  ret |= GST_ELEMENT_REGISTER (primatokenizer, plugin);
  ret |= GST_ELEMENT_REGISTER (primaloop, plugin);
  ret |= GST_ELEMENT_REGISTER (primadraft, plugin);
  ret |= GST_ELEMENT_REGISTER (primafeedback, plugin);
  ret |= GST_ELEMENT_REGISTER (primalayers, plugin);
  ret |= GST_ELEMENT_REGISTER (primaringhead, plugin);
  ret |= GST_ELEMENT_REGISTER (primasampler, plugin);
  ret |= GST_ELEMENT_REGISTER (primadetokenizer, plugin);
  ret |= GST_ELEMENT_REGISTER (primafdsink, plugin);
  ret |= GST_ELEMENT_REGISTER (primawssrc, plugin);
  ret |= GST_ELEMENT_REGISTER (primawssink, plugin);
  ret |= GST_ELEMENT_REGISTER (primascheduler, plugin);
#ifdef PRIMA_HAVE_POCKETSPHINX
  ret |= GST_ELEMENT_REGISTER (primaspeechin, plugin);
#endif
#ifdef PRIMA_HAVE_ESPEAK
  ret |= GST_ELEMENT_REGISTER (primaspeechout, plugin);
#endif

  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, prima,
    "LLM inference on GGUF models, on one device or a ring of them: tokenizer, layers, ring head, sampler, detokenizer, the generation loop and its feedback, WebSocket hops, the Halda scheduler",
    plugin_init, PACKAGE_VERSION, "GPL", "gst-prima", "https://example.invalid/gst-prima")
