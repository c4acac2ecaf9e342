/* gst-prima: a device's windows of layers, each with its own KV cache.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The window code that primalayers (a window, or a ring worker's windows)
 * and primaringhead (the ring's head) share: opening the contexts with one
 * residency engine, running a batch of hidden states through the windows
 * that follow each other on this device, the KV operations on every window
 * and the positions each holds. Plain GLib: no GStreamer types, so the
 * library (libprimacore) keeps none. NaN/infinite values are found by
 * prima_context_eval itself (forward.h, PRIMA_CONTEXT_ERROR_NOT_FINITE). */
#pragma once

#include <glib.h>
#include "model.h"
#include "forward.h"

G_BEGIN_DECLS

/* One window [first, last) of a device with its KV cache and the next
 * position it expects. */
typedef struct
{
  gint first, last;
  prima_context *ctx;
  gint next_pos;
} PrimaWindow;

typedef struct _PrimaWindows PrimaWindows;

typedef enum
{
  PRIMA_KV_CLEAR,
  PRIMA_KV_REMOVE,
  PRIMA_KV_SHIFT,
} PrimaKvOp;

/* One context over [first, last) of model (last <= 0: to the last layer)
 * with n_ctx positions (<= 0: the model's, at most 4096; more than the
 * model's training context is cut to it and *clamped says so) and its own
 * residency engine made with res (prefetch, release, progress; NULL:
 * the defaults). */
prima_context *prima_window_context_new (const prima_model *model, gint first, gint last, gint n_ctx,
    gint n_threads, const prima_residency_params *res, gboolean *clamped, GError **error);

/* Applies a KV operation to one context; returns the next position after
 * it (the largest cached one + 1). */
gint prima_window_kv_apply (prima_context *ctx, PrimaKvOp op, gint p0, gint p1, gint delta);

/* spec: "a-b,c-d", windows [a, b) ascending, disjoint, inside the model;
 * "" gives none. One residency engine, made with res (NULL: the defaults),
 * covers them all, in the order they run each token. n_ctx as for
 * prima_window_context_new. The model is borrowed: it must outlive the
 * result. */
PrimaWindows *prima_windows_new (const prima_model *model, const gchar *spec, gint n_ctx, gint n_threads,
    const prima_residency_params *res, GError **error);
void prima_windows_free (PrimaWindows *ws);

/* The contexts' positions (with no window: the n_ctx asked for). */
gint prima_windows_n_ctx (const PrimaWindows *ws);
guint prima_windows_count (const PrimaWindows *ws);
const PrimaWindow *prima_windows_get (const PrimaWindows *ws, guint i);

/* Where a batch entering next_layer leaves this device: the end of the last
 * window of the run of windows that follow each other from next_layer, or
 * -1 when no window of this device starts there (another device's layer).
 * The model's n_layer means the output head ran: logits. */
gint prima_windows_chain_end (const PrimaWindows *ws, gint next_layer);

/* The first window of that run that cannot take n_tokens at pos0 (it holds
 * fewer positions, or its context is full); NULL when all can. */
const PrimaWindow *prima_windows_check (const PrimaWindows *ws, gint next_layer, gint pos0, guint n_tokens);

/* Runs n_tokens rows of hidden states (n_embd floats each) entering
 * next_layer through that run of windows into out: hidden states, or
 * logits (all_rows: every token's row, else the last one's) when the run
 * ends at the last layer. Call prima_windows_check first. */
gboolean prima_windows_eval (PrimaWindows *ws, gint next_layer, gint pos0, guint n_tokens, const float *in,
    float *out, gboolean all_rows, GError **error);

/* A KV operation on every window (they hold the same positions); returns
 * the smallest next position, -1 with no window. */
gint prima_windows_kv_apply (PrimaWindows *ws, PrimaKvOp op, gint p0, gint p1, gint delta);

/* A new start at pos (a flush, a new segment): no window expects more. */
void prima_windows_rewind (PrimaWindows *ws, gint pos);

guint64 prima_windows_n_evaluated (const PrimaWindows *ws);

G_END_DECLS
