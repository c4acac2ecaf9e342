/* gst-prima: primadraft, the draft model of speculative decoding.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primadraft
 * @title: primadraft
 * @see_also: primaloop, primalayers, primaringhead, primasampler
 *
 * Speculative decoding's draft (docs/design.md section 2, "Speculative
 * decoding"). Sits between primaloop and the target's primalayers (or
 * primaringhead): it runs its own, smaller model (#GstPrimaDraft:model, its
 * own context and KV cache) over every token that goes by, and after each
 * generated token appends up to #GstPrimaDraft:n-draft tokens of its own
 * greedy continuation to the buffer. The target then evaluates the token and
 * the drafts in one pass and gives one logits row per token; primasampler
 * checks the drafts against them, emits the accepted ones and the target's
 * own next token, and the loop feeds back only that last one: its position
 * rolls every KV cache on the path (the target's, the ring's, this draft's)
 * back over the rejected drafts.
 *
 * The draft sets %PRIMA_FLAG_DRAFT on such a buffer and the number of draft
 * tokens (at its end) in the header's `next_layer`. It drafts nothing after a
 * prompt (the prompt's buffer goes on as it is), stops before a token whose
 * greedy probability is below #GstPrimaDraft:p-min and before an
 * end-of-generation token (unless #GstPrimaDraft:ignore-eos), drafts no more
 * tokens than #GstPrimaDraft:n-predict and the target's context leave room
 * for (so that nothing is emitted that plain decoding would not emit), and
 * sends none when fewer than #GstPrimaDraft:n-draft-min would go. With
 * #GstPrimaDraft:layers the draft is the model's own first layers and output
 * head (a self-draft: no second file, and the same vocabulary by
 * construction). The draft model must share the target's vocabulary: its
 * token ids go to the target as they are.
 *
 * At temperature 0 the tokens that come out equal plain decoding's token for
 * token: the verification pass gives the same logits, bit for bit, as one
 * token at a time (tests/model/test-forward-batch.c, "verify").
 *
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/TinyStories-656K-q8_0.gguf ! primaloop n-predict=32 ! primadraft model=tests/data/TinyStories-656K-q4_0.gguf n-draft=4 n-predict=32 ! primalayers ! primasampler temperature=0 ! tee name=t ! queue ! primadetokenizer ! primafdsink fd=1 t. ! primafeedback
 * ]| continues the prompt with 32 greedy tokens of the Q8_0 model, drafted 4 at
 * a time by its Q4_0 copy: the same text as without primadraft.
 *
 * Since: 0.1
 */

#include "gstprimadraft.h"

#include <math.h>
#include <string.h>
#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "forward.h"
#include "gguf.h"
#include "model.h"
#include "tokenizer.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_draft_debug);
#define GST_CAT_DEFAULT gst_prima_draft_debug

#define DEFAULT_N_DRAFT 8
#define DEFAULT_N_DRAFT_MIN 0
#define DEFAULT_P_MIN 0.0
#define DEFAULT_N_PREDICT -1
#define MAX_N_DRAFT 64

enum
{
  PROP_0,
  PROP_MODEL,
  PROP_LAYERS,
  PROP_N_DRAFT,
  PROP_N_DRAFT_MIN,
  PROP_P_MIN,
  PROP_N_PREDICT,
  PROP_IGNORE_EOS,
  PROP_STOP,
  PROP_THREADS,
  PROP_CONTEXT_SIZE,
  PROP_N_DRAFTED,
  PROP_N_ACCEPTED,
  PROP_DRAFT_TIME,
};

struct _GstPrimaDraft
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* properties, under the object lock */
  gchar *model_path;
  gint layers;
  gint n_draft;
  gint n_draft_min;
  gdouble p_min;
  gint n_predict;
  gboolean ignore_eos;
  gchar **stop;
  gint threads;
  gint context_size;
  guint64 n_drafted;            /* draft tokens verified (known at the next buffer), for the report */
  guint64 n_accepted;           /* of them, the ones the target kept */
  guint64 draft_time;           /* ns in the draft model's passes */

  /* READY..: the model; streaming thread: the rest */
  prima_model *model;
  gguf_file *file;
  prima_tokenizer *tok;
  prima_context *ctx;
  gint n_ctx;                   /* the target's positions (0: not asked yet) */
  GArray *hist;                 /* gint32 token at each position, the drafts included */
  gint n_cached;                /* positions of hist in the draft's cache */
  gint gen_start;               /* position of the turn's first generated token (less the
                                 * positions a context shift removed since) */
  gint last_draft_pos;          /* position of the first draft sent, -1: none */
  gint last_n_draft;
  gboolean valid;               /* hist mirrors the target's cache */
  float *logits;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

#define gst_prima_draft_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaDraft, gst_prima_draft, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_prima_draft_debug, "primadraft", 0, "prima draft model"));
GST_ELEMENT_REGISTER_DEFINE (primadraft, "primadraft", GST_RANK_NONE, GST_TYPE_PRIMA_DRAFT);

/* Back to an empty cache at position 0. */
static void
gst_prima_draft_reset (GstPrimaDraft * self)
{
  if (self->ctx)
    prima_context_kv_clear (self->ctx);
  if (self->hist)
    g_array_set_size (self->hist, 0);
  self->n_cached = 0;
  self->gen_start = 0;
  self->last_draft_pos = -1;
  self->last_n_draft = 0;
  self->valid = TRUE;
  self->n_ctx = 0;
}

static gboolean
gst_prima_draft_open (GstPrimaDraft * self)
{
  GError *err = NULL;
  gchar *path;
  gint layers;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model_path);
  layers = self->layers;
  GST_OBJECT_UNLOCK (self);
  if (path == NULL || *path == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, (_("No draft model was given (set the \"model\" property).")),
        (NULL));
    g_free (path);
    return FALSE;
  }
  self->model = prima_model_load (path, &err);
  if (self->model)
    self->file = gguf_open (path, &err);
  if (self->file)
    self->tok = prima_tokenizer_new (self->file, &err);
  if (self->tok == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, (_("Could not load the draft model \"%s\": %s"), path,
            err ? err->message : "unknown error"), (NULL));
    g_clear_error (&err);
    g_free (path);
    return FALSE;
  }
  if (layers > self->model->hp.n_layer) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("The draft's layers (%d) are more than the model's %d."),
            layers, self->model->hp.n_layer), (NULL));
    g_free (path);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "draft model %s, %d of %d layers", path, layers > 0 ? layers : self->model->hp.n_layer,
      self->model->hp.n_layer);
  g_free (path);
  self->hist = g_array_new (FALSE, FALSE, sizeof (gint32));
  self->logits = g_new (float, self->model->hp.n_vocab);
  gst_prima_draft_reset (self);
  return TRUE;
}

static void
gst_prima_draft_close (GstPrimaDraft * self)
{
  g_clear_pointer (&self->ctx, prima_context_free);
  g_clear_pointer (&self->tok, prima_tokenizer_free);
  g_clear_pointer (&self->file, gguf_close);
  g_clear_pointer (&self->model, prima_model_free);
  if (self->hist)
    g_array_unref (self->hist);
  self->hist = NULL;
  g_clear_pointer (&self->logits, g_free);
}

/* The context, made at the first buffer: as many positions as the target
 * (asked downstream with the prima-context query) unless context-size says. */
static gboolean
gst_prima_draft_ensure_context (GstPrimaDraft * self)
{
  prima_context_params p = { 0 };
  GError *err = NULL;
  GstQuery *query;
  gint size;

  if (self->n_ctx == 0) {
    query = prima_query_new_context ();
    if (gst_pad_peer_query (self->srcpad, query))
      prima_query_parse_context (query, &self->n_ctx, NULL);
    gst_query_unref (query);
    if (self->n_ctx <= 0)
      self->n_ctx = -1;         /* unknown: only our own context bounds the drafts */
  }
  if (self->ctx)
    return TRUE;
  GST_OBJECT_LOCK (self);
  size = self->context_size;
  p.n_threads = self->threads;
  p.last_layer = self->layers;
  GST_OBJECT_UNLOCK (self);
  p.early_head = p.last_layer > 0 && p.last_layer < self->model->hp.n_layer;
  p.n_ctx = size > 0 ? size : self->n_ctx > 0 ? self->n_ctx : 0;
  p.n_ctx = p.n_ctx > 0 ? MIN (p.n_ctx, self->model->hp.n_ctx_train) : 0;
  self->ctx = prima_context_new (self->model, &p, &err);
  if (self->ctx == NULL) {
    GST_ELEMENT_ERROR (self, LIBRARY, INIT, (_("Could not create the draft's context: %s"), err->message), (NULL));
    g_clear_error (&err);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "draft context: %d positions, %d threads", prima_context_n_ctx (self->ctx),
      prima_context_n_threads (self->ctx));
  return TRUE;
}

/* Evaluates hist[n_cached .. end) on the draft; the last row's logits in
 * self->logits. */
static gboolean
gst_prima_draft_catch_up (GstPrimaDraft * self, gint end)
{
  GError *err = NULL;
  gint from = self->n_cached;

  if (from >= end) {
    /* nothing new (cannot happen after a token was appended) */
    return FALSE;
  }
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok = prima_context_eval (self->ctx, end - from, &g_array_index (self->hist, gint32, from), NULL, from,
      self->logits, FALSE, &err);

  GST_OBJECT_LOCK (self);
  self->draft_time += (guint64) (g_get_monotonic_time () - t0) * 1000;
  GST_OBJECT_UNLOCK (self);
  if (!ok) {
    GST_ELEMENT_ERROR (self, LIBRARY, FAILED, (_("Evaluating the draft model failed: %s"), err->message), (NULL));
    g_clear_error (&err);
    return FALSE;
  }
  self->n_cached = end;
  return TRUE;
}

/* The greedy token and, when p_min asks, whether its probability reaches it. */
static gint32
gst_prima_draft_pick (GstPrimaDraft * self, gdouble p_min, gboolean * sure)
{
  const gint n = self->model->hp.n_vocab;
  gint32 best = 0;
  double sum = 0.0;

  for (gint i = 1; i < n; i++)
    if (self->logits[i] > self->logits[best])
      best = i;
  *sure = TRUE;
  if (p_min > 0.0) {
    for (gint i = 0; i < n; i++)
      sum += exp ((double) self->logits[i] - self->logits[best]);
    *sure = 1.0 / sum >= p_min;
  }
  return best;
}

/* Whether the generated text ends, with the piece of hist[c], in one of the
 * loop's stop strings (a match that uses a byte of that piece, as
 * primaloop checks each token): then the loop ends the turn at that token,
 * so it must not be a draft (the target may still emit it as its own). */
static gboolean
gst_prima_draft_hits_stop (GstPrimaDraft * self, gchar ** stop, gint c)
{
  GString *text = g_string_new (NULL), *piece = g_string_new (NULL);
  gsize max_len = 0, before;
  gboolean hit = FALSE;

  for (gchar ** s = stop; *s; s++)
    max_len = MAX (max_len, strlen (*s));
  /* the generated text before c, as far back as a match can start */
  for (gint k = c - 1; k >= self->gen_start && text->len + 1 < max_len; k--) {
    g_string_truncate (piece, 0);
    prima_token_to_piece (self->tok, g_array_index (self->hist, gint32, k), FALSE, piece);
    g_string_prepend_len (text, piece->str, piece->len);
  }
  before = text->len;
  prima_token_to_piece (self->tok, g_array_index (self->hist, gint32, c), FALSE, text);
  for (gchar ** s = stop; *s && !hit; s++) {
    gsize len = strlen (*s);
    gsize from = before + 1 > len ? before + 1 - len : 0;
    hit = len > 0 && text->len >= len && text->len > from
        && memmem (text->str + from, text->len - from, *s, len) != NULL;
  }
  g_string_free (piece, TRUE);
  g_string_free (text, TRUE);
  return hit;
}

static GstFlowReturn
gst_prima_draft_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaDraft *self = GST_PRIMA_DRAFT (parent);
  gint n_draft, n_draft_min, n_predict, pos, end, room, n = 0;
  gboolean ignore_eos, prompt;
  gchar **stop;
  gint32 drafts[MAX_N_DRAFT];
  gdouble p_min;
  GstMapInfo map;
  PrimaHeader h;
  GstBuffer *out;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    goto malformed;
  if (!prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_TOKENS, &h)
      || h.payload_size != (gsize) h.n_tokens * sizeof (gint32) || h.n_tokens == 0) {
    gst_buffer_unmap (buf, &map);
    goto malformed;
  }
  if (!gst_prima_draft_ensure_context (self)) {
    gst_buffer_unmap (buf, &map);
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  pos = h.pos0 >= 0 ? h.pos0 : (gint) self->hist->len;
  prompt = (h.flags & PRIMA_FLAG_PROMPT) != 0;
  if (!self->valid && pos == 0)
    self->valid = TRUE;
  if (!self->valid || pos > (gint) self->hist->len
      || (gint64) pos + h.n_tokens > prima_context_n_ctx (self->ctx)) {
    /* positions this draft cannot follow (after an edit of the cache it
     * could not mirror): the buffer goes on without drafts */
    GST_DEBUG_OBJECT (self, "not drafting at position %d (history %u)", pos, self->hist->len);
    self->valid = FALSE;
    gst_buffer_unmap (buf, &map);
    return gst_pad_push (self->srcpad, buf);
  }

  /* the drafts before pos that the target kept */
  if (self->last_draft_pos >= 0) {
    gint kept = CLAMP (pos - self->last_draft_pos, 0, self->last_n_draft);
    GST_OBJECT_LOCK (self);
    self->n_drafted += self->last_n_draft;
    self->n_accepted += kept;
    GST_OBJECT_UNLOCK (self);
    GST_LOG_OBJECT (self, "%d of %d drafts kept", kept, self->last_n_draft);
  }
  self->last_draft_pos = -1;
  /* the tokens up to pos stay (the accepted drafts among them), the rest
   * rolls back */
  g_array_set_size (self->hist, pos);
  g_array_append_vals (self->hist, map.data + PRIMA_HEADER_SIZE, h.n_tokens);
  self->n_cached = MIN (self->n_cached, pos);
  end = pos + (gint) h.n_tokens;
  gst_buffer_unmap (buf, &map);
  if (prompt)
    self->gen_start = end;
  if (!gst_prima_draft_catch_up (self, end)) {
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  if (prompt)
    return gst_pad_push (self->srcpad, buf);

  GST_OBJECT_LOCK (self);
  n_draft = MIN (self->n_draft, MAX_N_DRAFT);
  n_draft_min = self->n_draft_min;
  p_min = self->p_min;
  n_predict = self->n_predict;
  ignore_eos = self->ignore_eos;
  stop = self->stop && self->stop[0] ? g_strdupv (self->stop) : NULL;
  GST_OBJECT_UNLOCK (self);

  /* room: the target emits the accepted drafts and one token more, at
   * positions end .. end+n; plain decoding would emit at most n-predict
   * tokens and none past the context's last position */
  room = n_draft;
  if (n_predict >= 0)
    room = MIN (room, n_predict - (end - self->gen_start) - 1);
  if (self->n_ctx > 0)
    room = MIN (room, self->n_ctx - 1 - end);
  room = MIN (room, prima_context_n_ctx (self->ctx) - end);
  while (n < room) {
    gboolean sure;
    gint32 t = gst_prima_draft_pick (self, p_min, &sure);
    if (!sure || (!ignore_eos && prima_tokenizer_is_eog (self->tok, t)))
      break;
    g_array_append_val (self->hist, t);
    if (stop && gst_prima_draft_hits_stop (self, stop, end + n)) {
      g_array_set_size (self->hist, end + n);
      break;
    }
    drafts[n++] = t;
    if (n == room)
      break;
    if (!gst_prima_draft_catch_up (self, end + n)) {
      g_strfreev (stop);
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
    }
  }
  g_strfreev (stop);
  if (n < MAX (n_draft_min, 1)) {
    g_array_set_size (self->hist, end);
    return gst_pad_push (self->srcpad, buf);
  }

  prima_header_init (&h, PRIMA_PAYLOAD_TOKENS, h.n_tokens + n, (h.n_tokens + n) * sizeof (gint32));
  h.pos0 = pos;
  h.flags = PRIMA_FLAG_DRAFT;
  h.next_layer = n;
  out = prima_buffer_new (&h);
  gst_buffer_fill (out, PRIMA_HEADER_SIZE, &g_array_index (self->hist, gint32, pos), (end - pos) * sizeof (gint32));
  gst_buffer_fill (out, PRIMA_HEADER_SIZE + (end - pos) * sizeof (gint32), drafts, n * sizeof (gint32));
  gst_buffer_copy_into (out, buf, GST_BUFFER_COPY_METADATA, 0, -1);
  GST_BUFFER_OFFSET (out) = pos;
  gst_buffer_unref (buf);
  self->last_draft_pos = end;
  self->last_n_draft = n;
  GST_LOG_OBJECT (self, "position %d: %d drafts", end, n);
  return gst_pad_push (self->srcpad, out);

malformed:
  GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed tokens buffer.")), (NULL));
  gst_buffer_unref (buf);
  return GST_FLOW_ERROR;
}

/* The cache edits the target gets: the history follows a removal (a
 * context shift is a removal, then a shift of what follows, which the
 * history's indices already are); any other edit stops the drafts until the
 * next start at position 0. */
static gboolean
gst_prima_draft_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaDraft *self = GST_PRIMA_DRAFT (parent);
  gint p0, p1, delta;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_SEGMENT:
      gst_prima_draft_reset (self);
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      if (self->hist == NULL)
        break;
      if (prima_event_is_kv_clear (event)) {
        gst_prima_draft_reset (self);
      } else if (prima_event_parse_kv_remove (event, NULL, &p0, &p1)) {
        gint len = self->hist->len;
        p1 = p1 < 0 || p1 > len ? len : p1;
        if (p0 >= 0 && p0 < p1) {
          g_array_remove_range (self->hist, p0, p1 - p0);
          /* the loop still counts the turn's removed tokens as generated:
           * gen_start moves down by all of them (maybe below p0) */
          if (self->gen_start > p0)
            self->gen_start -= p1 - p0;
        }
        /* the draft evaluates the history again from scratch (cheap: a
         * small model, and shifts are rare) */
        if (self->ctx)
          prima_context_kv_clear (self->ctx);
        self->n_cached = 0;
        self->last_draft_pos = -1;
      } else if (prima_event_parse_kv_shift (event, NULL, &p0, &p1, &delta)) {
        if (!(delta < 0 && p1 < 0))
          self->valid = FALSE;
      }
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
gst_prima_draft_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaDraft *self = GST_PRIMA_DRAFT (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !gst_prima_draft_open (self)) {
    gst_prima_draft_close (self);
    return GST_STATE_CHANGE_FAILURE;
  }
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_prima_draft_close (self);
  return ret;
}

static void
gst_prima_draft_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaDraft *self = GST_PRIMA_DRAFT (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_LAYERS:
      self->layers = g_value_get_int (value);
      break;
    case PROP_N_DRAFT:
      self->n_draft = g_value_get_int (value);
      break;
    case PROP_N_DRAFT_MIN:
      self->n_draft_min = g_value_get_int (value);
      break;
    case PROP_P_MIN:
      self->p_min = g_value_get_double (value);
      break;
    case PROP_N_PREDICT:
      self->n_predict = g_value_get_int (value);
      break;
    case PROP_IGNORE_EOS:
      self->ignore_eos = g_value_get_boolean (value);
      break;
    case PROP_STOP:
      g_strfreev (self->stop);
      self->stop = g_value_dup_boxed (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_CONTEXT_SIZE:
      self->context_size = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_draft_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaDraft *self = GST_PRIMA_DRAFT (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_LAYERS:
      g_value_set_int (value, self->layers);
      break;
    case PROP_N_DRAFT:
      g_value_set_int (value, self->n_draft);
      break;
    case PROP_N_DRAFT_MIN:
      g_value_set_int (value, self->n_draft_min);
      break;
    case PROP_P_MIN:
      g_value_set_double (value, self->p_min);
      break;
    case PROP_N_PREDICT:
      g_value_set_int (value, self->n_predict);
      break;
    case PROP_IGNORE_EOS:
      g_value_set_boolean (value, self->ignore_eos);
      break;
    case PROP_STOP:
      g_value_set_boxed (value, self->stop);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_CONTEXT_SIZE:
      g_value_set_int (value, self->context_size);
      break;
    case PROP_N_DRAFTED:
      g_value_set_uint64 (value, self->n_drafted);
      break;
    case PROP_N_ACCEPTED:
      g_value_set_uint64 (value, self->n_accepted);
      break;
    case PROP_DRAFT_TIME:
      g_value_set_uint64 (value, self->draft_time);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_draft_finalize (GObject * object)
{
  GstPrimaDraft *self = GST_PRIMA_DRAFT (object);

  gst_prima_draft_close (self);
  g_free (self->model_path);
  g_strfreev (self->stop);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_prima_draft_class_init (GstPrimaDraftClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;

  gobject_class->set_property = gst_prima_draft_set_property;
  gobject_class->get_property = gst_prima_draft_get_property;
  gobject_class->finalize = gst_prima_draft_finalize;

  /**
   * GstPrimaDraft:model:
   *
   * The draft model's GGUF file; it must share the target's vocabulary.
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "The draft model's GGUF file (the target's vocabulary)", NULL, rw));
  /**
   * GstPrimaDraft:layers:
   *
   * Run only the model's first layers, then its output head (a self-draft
   * when #GstPrimaDraft:model is the target's file); 0: all of them.
   */
  g_object_class_install_property (gobject_class, PROP_LAYERS,
      g_param_spec_int ("layers", "Layers", "Only the first layers, then the output head (0: all)",
          0, G_MAXINT, 0, rw));
  /**
   * GstPrimaDraft:n-draft:
   *
   * The most draft tokens after each generated token (llama.cpp's
   * --draft-max).
   */
  g_object_class_install_property (gobject_class, PROP_N_DRAFT,
      g_param_spec_int ("n-draft", "Draft tokens", "The most draft tokens per pass", 0, MAX_N_DRAFT,
          DEFAULT_N_DRAFT, rw));
  /**
   * GstPrimaDraft:n-draft-min:
   *
   * Send no draft when fewer tokens than this would go (llama.cpp's
   * --draft-min).
   */
  g_object_class_install_property (gobject_class, PROP_N_DRAFT_MIN,
      g_param_spec_int ("n-draft-min", "Minimum drafts", "Send no draft shorter than this", 0, MAX_N_DRAFT,
          DEFAULT_N_DRAFT_MIN, rw));
  /**
   * GstPrimaDraft:p-min:
   *
   * Stop drafting before a token whose probability under the draft model is
   * below this (llama.cpp's --draft-p-min); 0: never.
   */
  g_object_class_install_property (gobject_class, PROP_P_MIN,
      g_param_spec_double ("p-min", "Minimum probability", "Stop drafting below this draft probability",
          0.0, 1.0, DEFAULT_P_MIN, rw));
  /**
   * GstPrimaDraft:n-predict:
   *
   * The loop's #GstPrimaLoop:n-predict: no more drafts than the turn has
   * tokens left (-1: no limit).
   */
  g_object_class_install_property (gobject_class, PROP_N_PREDICT,
      g_param_spec_int ("n-predict", "Tokens to predict", "The loop's n-predict (-1: no limit)",
          -1, G_MAXINT, DEFAULT_N_PREDICT, rw));
  /**
   * GstPrimaDraft:ignore-eos:
   *
   * The loop's #GstPrimaLoop:ignore-eos: draft past end-of-generation tokens.
   */
  g_object_class_install_property (gobject_class, PROP_IGNORE_EOS,
      g_param_spec_boolean ("ignore-eos", "Ignore EOS", "The loop's ignore-eos", FALSE, rw));
  /**
   * GstPrimaDraft:stop:
   *
   * The loop's #GstPrimaLoop:stop strings: no draft token completes one (the
   * turn ends at such a token, and a kept draft after it would already be
   * printed).
   */
  g_object_class_install_property (gobject_class, PROP_STOP,
      g_param_spec_boxed ("stop", "Stop strings", "The loop's stop strings", G_TYPE_STRV, rw));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads", "Threads of the draft's forward pass (0: every CPU)",
          0, 1024, 0, rw));
  g_object_class_install_property (gobject_class, PROP_CONTEXT_SIZE,
      g_param_spec_int ("context-size", "Context size", "Draft KV positions (0: the target's)",
          0, G_MAXINT, 0, rw));
  /**
   * GstPrimaDraft:n-drafted:
   *
   * Draft tokens verified so far (a pass's drafts count when the next
   * buffer's position says how many the target kept, so the drafts of the
   * turn's last pass do not); with #GstPrimaDraft:n-accepted, the
   * acceptance rate.
   */
  g_object_class_install_property (gobject_class, PROP_N_DRAFTED,
      g_param_spec_uint64 ("n-drafted", "Drafted", "Draft tokens verified", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_N_ACCEPTED,
      g_param_spec_uint64 ("n-accepted", "Accepted", "Of n-drafted, the tokens the target kept",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * GstPrimaDraft:draft-time:
   *
   * Nanoseconds spent in the draft model's passes (the prompt's included):
   * what the drafts cost, apart from the target's verification.
   */
  g_object_class_install_property (gobject_class, PROP_DRAFT_TIME,
      g_param_spec_uint64 ("draft-time", "Draft time", "Nanoseconds in the draft model's passes", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  element_class->change_state = gst_prima_draft_change_state;
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Prima draft model", "Filter/Converter",
      "Proposes draft tokens for speculative decoding with a small model", "gst-prima authors");
}

static void
gst_prima_draft_init (GstPrimaDraft * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_draft_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_draft_sink_event));
  GST_PAD_SET_PROXY_CAPS (self->sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->n_draft = DEFAULT_N_DRAFT;
  self->n_draft_min = DEFAULT_N_DRAFT_MIN;
  self->p_min = DEFAULT_P_MIN;
  self->n_predict = DEFAULT_N_PREDICT;
}
