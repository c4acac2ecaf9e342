/* gst-prima: a device's windows of layers, each with its own KV cache.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

#include "prima-window.h"

#include <string.h>

struct _PrimaWindows
{
  const prima_model *model;
  GArray *windows;              /* PrimaWindow, ascending */
  prima_residency *residency;   /* the windows' one engine; NULL with none */
  gint n_ctx;
};

G_DEFINE_QUARK (prima-windows-error-quark, prima_windows_error);

prima_context *
prima_window_context_new (const prima_model *model, gint first, gint last, gint n_ctx, gint n_threads,
    const prima_residency_params *res, gboolean *clamped, GError **error)
{
  prima_context_params params = { 0 };

  if (res) {
    params.prefetch = res->prefetch;
    params.release = res->release;
    params.progress = res->progress;
    params.progress_data = res->progress_data;
  }

  params.first_layer = first;
  params.last_layer = last > 0 ? last : model->hp.n_layer;
  params.n_ctx = MIN (n_ctx, model->hp.n_ctx_train);
  params.n_threads = n_threads;
  if (clamped)
    *clamped = n_ctx > model->hp.n_ctx_train;
  return prima_context_new (model, &params, error);
}

gint
prima_window_kv_apply (prima_context *ctx, PrimaKvOp op, gint p0, gint p1, gint delta)
{
  switch (op) {
    case PRIMA_KV_CLEAR:
      prima_context_kv_clear (ctx);
      break;
    case PRIMA_KV_REMOVE:
      prima_context_kv_remove (ctx, p0, p1);
      break;
    case PRIMA_KV_SHIFT:
      prima_context_kv_shift (ctx, p0, p1, delta);
      break;
  }
  return prima_context_kv_pos_max (ctx) + 1;
}

static GArray *
parse_windows (const gchar * spec, gint n_layer, GError ** error)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (PrimaWindow));
  gchar **parts = g_strsplit (spec, ",", -1);
  gint prev = 0;

  for (guint i = 0; parts[i]; i++) {
    PrimaWindow w = { 0 };
    gchar *end;
    if (*g_strstrip (parts[i]) == '\0')
      continue;
    w.first = (gint) g_ascii_strtoll (parts[i], &end, 10);
    if (*end == '-')
      w.last = (gint) g_ascii_strtoll (end + 1, &end, 10);
    if (*end != '\0' || w.first < prev || w.last <= w.first || w.last > n_layer) {
      g_set_error (error, prima_windows_error_quark (), 0,
          "\"%s\" is not a window \"first-last\" after layer %d inside the model's %d layers", parts[i], prev,
          n_layer);
      g_array_unref (out);
      g_strfreev (parts);
      return NULL;
    }
    prev = w.last;
    g_array_append_val (out, w);
  }
  g_strfreev (parts);
  return out;
}

PrimaWindows *
prima_windows_new (const prima_model *model, const gchar *spec, gint n_ctx, gint n_threads,
    const prima_residency_params *res, GError **error)
{
  prima_context_params params = { 0 };
  PrimaWindows *ws;
  GArray *windows;

  windows = parse_windows (spec ? spec : "", model->hp.n_layer, error);
  if (windows == NULL)
    return NULL;
  ws = g_new0 (PrimaWindows, 1);
  ws->model = model;
  ws->windows = windows;
  params.n_ctx = MIN (n_ctx, model->hp.n_ctx_train);
  params.n_threads = n_threads;
  /* One residency engine for all the device's windows, added in the order
   * they run each token: its budget and release plan then cover the whole
   * device, and its prefetch reaches from one window to the next. An engine
   * per window would each take the whole device's memory as its budget and
   * never release (docs/memory.md). */
  ws->residency = windows->len ? prima_residency_new (model, res) : NULL;
  for (guint i = 0; i < windows->len; i++) {
    PrimaWindow *w = &g_array_index (windows, PrimaWindow, i);
    prima_residency_add_windows (ws->residency, w->first, w->last, 0, TRUE);
  }
  params.residency = ws->residency;
  for (guint i = 0; i < windows->len; i++) {
    PrimaWindow *w = &g_array_index (windows, PrimaWindow, i);
    params.first_layer = w->first;
    params.last_layer = w->last;
    w->ctx = prima_context_new (model, &params, error);
    if (w->ctx == NULL) {
      prima_windows_free (ws);
      return NULL;
    }
    ws->n_ctx = prima_context_n_ctx (w->ctx);
  }
  if (windows->len == 0)
    ws->n_ctx = params.n_ctx > 0 ? params.n_ctx : MIN (model->hp.n_ctx_train, 4096);
  return ws;
}

void
prima_windows_free (PrimaWindows *ws)
{
  if (ws == NULL)
    return;
  for (guint i = 0; i < ws->windows->len; i++)
    prima_context_free (g_array_index (ws->windows, PrimaWindow, i).ctx);
  g_array_unref (ws->windows);
  /* after the contexts that use it */
  g_clear_pointer (&ws->residency, prima_residency_free);
  g_free (ws);
}

gint
prima_windows_n_ctx (const PrimaWindows *ws)
{
  return ws->n_ctx;
}

guint
prima_windows_count (const PrimaWindows *ws)
{
  return ws->windows->len;
}

const PrimaWindow *
prima_windows_get (const PrimaWindows *ws, guint i)
{
  return &g_array_index (ws->windows, PrimaWindow, i);
}

static PrimaWindow *
find_window (const PrimaWindows *ws, gint first)
{
  for (guint i = 0; i < ws->windows->len; i++)
    if (g_array_index (ws->windows, PrimaWindow, i).first == first)
      return &g_array_index (ws->windows, PrimaWindow, i);
  return NULL;
}

gint
prima_windows_chain_end (const PrimaWindows *ws, gint next_layer)
{
  PrimaWindow *w = find_window (ws, next_layer);
  gint end = -1;

  while (w) {
    end = w->last;
    w = end < ws->model->hp.n_layer ? find_window (ws, end) : NULL;
  }
  return end;
}

const PrimaWindow *
prima_windows_check (const PrimaWindows *ws, gint next_layer, gint pos0, guint n_tokens)
{
  for (PrimaWindow *w = find_window (ws, next_layer); w; w = find_window (ws, w->last))
    if (pos0 > w->next_pos || (gint64) pos0 + n_tokens > ws->n_ctx)
      return w;
  return NULL;
}

gboolean
prima_windows_eval (PrimaWindows *ws, gint next_layer, gint pos0, guint n_tokens, const float *in, float *out,
    gboolean all_rows, GError **error)
{
  const gsize rows = (gsize) n_tokens * ws->model->hp.n_embd;
  PrimaWindow *w = find_window (ws, next_layer);
  float *tmp[2] = { NULL, NULL };
  const float *cur = in;
  gboolean ok = TRUE;

  g_return_val_if_fail (w != NULL, FALSE);
  /* windows that follow each other on this device pass their hidden states
   * on here; only the last of the run writes into out */
  for (guint t = 0; w; t ^= 1) {
    PrimaWindow *next = w->last < ws->model->hp.n_layer ? find_window (ws, w->last) : NULL;
    float *dst = out;
    if (next) {
      if (tmp[t] == NULL)
        tmp[t] = g_new (float, rows);
      dst = tmp[t];
    }
    if (!prima_context_eval (w->ctx, (int) n_tokens, NULL, cur, pos0, dst, all_rows, error)) {
      ok = FALSE;
      break;
    }
    w->next_pos = pos0 + (gint) n_tokens;
    cur = dst;
    w = next;
  }
  g_free (tmp[0]);
  g_free (tmp[1]);
  return ok;
}

gint
prima_windows_kv_apply (PrimaWindows *ws, PrimaKvOp op, gint p0, gint p1, gint delta)
{
  gint next = -1;

  for (guint i = 0; i < ws->windows->len; i++) {
    PrimaWindow *w = &g_array_index (ws->windows, PrimaWindow, i);
    w->next_pos = prima_window_kv_apply (w->ctx, op, p0, p1, delta);
    next = next < 0 ? w->next_pos : MIN (next, w->next_pos);
  }
  return next;
}

void
prima_windows_rewind (PrimaWindows *ws, gint pos)
{
  for (guint i = 0; i < ws->windows->len; i++) {
    PrimaWindow *w = &g_array_index (ws->windows, PrimaWindow, i);
    w->next_pos = MIN (w->next_pos, pos);
  }
}

guint64
prima_windows_n_evaluated (const PrimaWindows *ws)
{
  guint64 n = 0;

  for (guint i = 0; i < ws->windows->len; i++)
    n += prima_context_n_evaluated (g_array_index (ws->windows, PrimaWindow, i).ctx);
  return n;
}
