/* gst-prima: pieces shared by the subcommands.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "prima-commands.h"
#include <glib/gi18n-lib.h>
#include "residency.h"
#include "memstat.h"
#include "prima-pipeline.h"
#include "prima-events.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_MODEL "TinyStories-656K-f32.gguf"

const char *
prima_default_model_path (void)
{
  static char *path;
  if (path == NULL)
    path = prima_data_path (DEFAULT_MODEL);
  return path;
}

gboolean
prima_open_model (const char *command, const char *path, prima_model **model, prima_tokenizer **tok)
{
  GError *error = NULL;
  *model = prima_model_load (path, &error);
  if (*model == NULL) {
    fprintf (stderr, _("prima %s: %s\n"), command, error->message);
    g_error_free (error);
    return FALSE;
  }
  if (tok == NULL)
    return TRUE;
  *tok = prima_tokenizer_new ((*model)->file, &error);
  if (*tok == NULL) {
    fprintf (stderr, _("prima %s: %s\n"), command, error->message);
    g_error_free (error);
    prima_model_free (*model);
    *model = NULL;
    return FALSE;
  }
  if (prima_tokenizer_n_vocab (*tok) > (*model)->hp.n_vocab) {
    fprintf (stderr, _("prima %s: %s: the vocabulary has %d tokens but the embedding only %d rows\n"),
        command, path, prima_tokenizer_n_vocab (*tok), (*model)->hp.n_vocab);
    prima_tokenizer_free (*tok);
    prima_model_free (*model);
    *tok = NULL;
    *model = NULL;
    return FALSE;
  }
  return TRUE;
}

int
prima_context_size (const prima_model *model, int requested)
{
  int train = model->hp.n_ctx_train > 0 ? model->hp.n_ctx_train : 4096;
  return requested > 0 ? MIN (requested, train) : MIN (train, 4096);
}

gboolean
prima_check_prompt_fits (const char *command, guint n_tokens, int n_ctx)
{
  if ((gint64) n_tokens <= n_ctx)
    return TRUE;
  fprintf (stderr, _("prima %s: the prompt has %u tokens, more than the context of %d\n"), command, n_tokens, n_ctx);
  return FALSE;
}

/* What a run allocates besides the weights and the KV cache (thread stacks,
 * the compute scratch of a few tokens, logits): measured under cgroup caps
 * with the embedded model. */
#define CHECK_MEMORY_OVERHEAD ((guint64) 3 << 19)

/* RssAnon of this process: memory that is surely its own. */
static guint64
anon_bytes (void)
{
  char *status = NULL, *line;
  guint64 kib = 0;
  if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL) && (line = strstr (status, "RssAnon:")))
    kib = g_ascii_strtoull (line + strlen ("RssAnon:"), NULL, 10);
  g_free (status);
  return kib << 10;
}

gboolean
prima_check_memory (const char *command, const prima_model *model, int n_ctx)
{
  const prima_hparams *hp = &model->hp;
  prima_memstat ms;
  guint64 in_use, layer = 0, v_cache, need;

  if (!prima_memstat_read (&ms) || ms.total == 0)
    return TRUE;
  /* in a cgroup, what is charged to it already (this process and any
   * other in it) counts against the limit; on the machine, our own memory */
  in_use = ms.cgroup_version > 0 ? ms.used : anon_bytes ();
  for (int i = 0; i < hp->n_layer; i++)
    layer = MAX (layer, prima_model_weight_bytes (model, i, i + 1));
  v_cache = (guint64) hp->n_layer * hp->n_head_kv * hp->head_dim * (guint64) n_ctx * 2;
  need = in_use + layer + v_cache + CHECK_MEMORY_OVERHEAD;
  if (need <= ms.total)
    return TRUE;
  fprintf (stderr, _("prima %s: the memory limit (%.0f MiB, %s) is below the %.0f MiB this model needs at least: "
      "%.1f MiB in use, %.1f MiB for its largest layer, %.1f MiB of V cache for a context of %d, "
      "%.1f MiB for threads and scratch\n"), command, ms.total / 1048576.0, ms.cgroup_version > 0 ? "cgroup" : "RAM",
      ceil (need / 1048576.0), in_use / 1048576.0, layer / 1048576.0, v_cache / 1048576.0, n_ctx,
      CHECK_MEMORY_OVERHEAD / 1048576.0);
  return FALSE;
}

GArray *
prima_parse_ids (const char *command, const char *text)
{
  char *bad = NULL;
  GArray *ids = prima_token_ids_parse (text, &bad);
  if (ids == NULL) {
    fprintf (stderr, _("prima %s: '%s' is not a token id\n"), command, bad);
    g_free (bad);
  }
  return ids;
}

char *
prima_read_prompt_file (const char *command, const char *path)
{
  char *text = NULL;
  GError *error = NULL;
  GString *s;

  /* g_file_get_contents reads a FIFO or a pipe to its end as well */
  if (path != NULL) {
    if (!g_file_get_contents (path, &text, NULL, &error)) {
      fprintf (stderr, _("prima %s: %s\n"), command, error->message);
      g_error_free (error);
      return NULL;
    }
    return text;
  }
  s = g_string_new (NULL);
  for (;;) {
    char buf[65536];
    ssize_t n = read (0, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      fprintf (stderr, _("prima %s: cannot read the prompt from standard input: %s\n"), command, g_strerror (errno));
      g_string_free (s, TRUE);
      return NULL;
    }
    if (n == 0)
      break;
    g_string_append_len (s, buf, n);
  }
  return g_string_free (s, FALSE);
}

char *
prima_process_escapes (const char *text)
{
  GString *s = g_string_sized_new (strlen (text));
  for (const char *c = text; *c; c++) {
    if (*c != '\\' || c[1] == '\0') {
      g_string_append_c (s, *c);
      continue;
    }
    c++;
    switch (*c) {
      case 'n': g_string_append_c (s, '\n'); break;
      case 'r': g_string_append_c (s, '\r'); break;
      case 't': g_string_append_c (s, '\t'); break;
      case 'a': g_string_append_c (s, '\a'); break;
      case 'b': g_string_append_c (s, '\b'); break;
      case 'f': g_string_append_c (s, '\f'); break;
      case 'v': g_string_append_c (s, '\v'); break;
      case '\'': case '"': case '?': case '\\':
        g_string_append_c (s, *c);
        break;
      case 'x':
        if (g_ascii_isxdigit (c[1]) && g_ascii_isxdigit (c[2])) {
          g_string_append_c (s, (char) (g_ascii_xdigit_value (c[1]) * 16 + g_ascii_xdigit_value (c[2])));
          c += 2;
          break;
        }
        /* not an escape: kept as written */
        G_GNUC_FALLTHROUGH;
      default:
        g_string_append_c (s, '\\');
        g_string_append_c (s, *c);
        break;
    }
  }
  return g_string_free (s, FALSE);
}

/* On the streaming thread that faults the weights in, as it happens: the
 * line comes before the first token's text, as when the engine printed it. */
static GstBusSyncReply
show_loading (GstBus *bus, GstMessage *msg, gpointer data)
{
  PrimaLoadingInfo l;
  if (!prima_message_parse_loading (msg, &l))
    return GST_BUS_PASS;
  if (GPOINTER_TO_INT (data)) {
    if (isatty (2)) {
      fputc ('\r', stderr);
      fprintf (stderr, _("loading weights: layer %d/%d, %.2f GB mapped so far, %.1f s (window %.0f%% resident)  "),
          l.layer, l.n_layers, l.bytes / 1e9, l.seconds, 100.0 * l.window_resident);
      if (l.done)
        fputc ('\n', stderr);
    } else if (l.window_done) {
      fprintf (stderr, _("loading weights: layer %d/%d, %.2f GB, %.1f s\n"), l.layer, l.n_layers, l.bytes / 1e9,
          l.seconds);
    }
    fflush (stderr);
  }
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

void
prima_pipeline_show_loading (GstElement *pipeline, gboolean show)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_bus_set_sync_handler (bus, show_loading, GINT_TO_POINTER (show), NULL);
  gst_object_unref (bus);
}
