/* gst-prima: primasampler, logits to the next token.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primasampler
 * @title: primasampler
 *
 * Chooses the next token from each logits buffer with llama.cpp's default
 * chain: repetition/frequency/presence penalties, top-k, top-p, min-p,
 * temperature, then a seeded draw. A temperature of 0 is greedy decoding
 * (the arg-max; ties go to the lowest id).
 *
 * The ids that each logits buffer carries (the tokens that were evaluated:
 * the prompt, then each fed-back token) go into the penalty history before
 * the draw, as llama-cli accepts the prompt and every sampled token. A flush,
 * a new segment or a `prima-kv-clear` event starts a new history.
 *
 * Out comes one tokens buffer per logits buffer, at the position after the
 * evaluated tokens.
 *
 * Speculative decoding: a logits buffer flagged %PRIMA_FLAG_DRAFT (from
 * primadraft through the layers) has a row per token and ends with draft
 * tokens. The sampler checks them in order: at temperature 0 a draft is
 * kept while it equals the arg-max of the row before it; otherwise it is
 * kept with its probability under the chain, and a rejection draws from the
 * rest (speculative sampling with a greedy draft). Out comes one buffer of
 * the kept drafts and the token drawn at the first rejection (or after the
 * last draft), at the position after the first draft's predecessor; the loop
 * feeds back only its last token.
 *
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primalayers ! primasampler temperature=0 ! primadetokenizer ! primafdsink fd=1
 * ]| prints the greedy next token of the prompt (",").
 *
 * Since: 0.1
 */

#include "gstprimasampler.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "prima-events.h"
#include "sampler.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_sampler_debug);
#define GST_CAT_DEFAULT gst_prima_sampler_debug

#define DEFAULT_TEMPERATURE 0.8f
#define DEFAULT_TOP_K 40
#define DEFAULT_TOP_P 0.95f
#define DEFAULT_MIN_P 0.05f
#define DEFAULT_REPEAT_PENALTY 1.0f
#define DEFAULT_REPEAT_LAST_N 64
#define DEFAULT_FREQUENCY_PENALTY 0.0f
#define DEFAULT_PRESENCE_PENALTY 0.0f
#define DEFAULT_SEED G_MAXUINT32
#define MAX_REPEAT_LAST_N (1 << 20)
#define MAX_DRAFT 256            /* draft tokens checked per buffer (primadraft sends at most 64) */

enum
{
  PROP_0,
  PROP_TEMPERATURE,
  PROP_TOP_K,
  PROP_TOP_P,
  PROP_MIN_P,
  PROP_REPEAT_PENALTY,
  PROP_REPEAT_LAST_N,
  PROP_FREQUENCY_PENALTY,
  PROP_PRESENCE_PENALTY,
  PROP_SEED,
};

struct _GstPrimaSampler
{
  GstBaseTransform parent;

  /* properties, under the object lock */
  prima_sampler_params params;

  /* streaming thread */
  prima_sampler *sampler;
  gint n_vocab;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_LOGITS));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

#define gst_prima_sampler_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaSampler, gst_prima_sampler, GST_TYPE_BASE_TRANSFORM,
    GST_DEBUG_CATEGORY_INIT (gst_prima_sampler_debug, "primasampler", 0, "prima sampler"));
GST_ELEMENT_REGISTER_DEFINE (primasampler, "primasampler", GST_RANK_NONE, GST_TYPE_PRIMA_SAMPLER);

/* A fresh sampler: an empty penalty history and the generator at its seed. */
static void
gst_prima_sampler_reset (GstPrimaSampler * self)
{
  prima_sampler_params p;

  g_clear_pointer (&self->sampler, prima_sampler_free);
  if (self->n_vocab <= 0)
    return;
  GST_OBJECT_LOCK (self);
  p = self->params;
  GST_OBJECT_UNLOCK (self);
  self->sampler = prima_sampler_new (&p, self->n_vocab);
  GST_DEBUG_OBJECT (self, "new sampler: n_vocab %d, temperature %g, top-k %d, top-p %g, min-p %g, seed %"
      G_GUINT64_FORMAT, self->n_vocab, p.temperature, p.top_k, p.top_p, p.min_p, p.seed);
}

static GstCaps *
gst_prima_sampler_transform_caps (GstBaseTransform * trans, GstPadDirection direction, GstCaps * caps,
    GstCaps * filter)
{
  GstCaps *res;

  if (direction == GST_PAD_SINK)
    res = gst_static_pad_template_get_caps (&src_template);
  else
    res = gst_static_pad_template_get_caps (&sink_template);
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, res, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (res);
    res = tmp;
  }
  return res;
}

static gboolean
gst_prima_sampler_set_caps (GstBaseTransform * trans, GstCaps * incaps, GstCaps * outcaps)
{
  GstPrimaSampler *self = GST_PRIMA_SAMPLER (trans);
  gint n_vocab;

  if (!gst_structure_get_int (gst_caps_get_structure (incaps, 0), "n-vocab", &n_vocab) || n_vocab <= 0)
    return FALSE;
  if (n_vocab != self->n_vocab || self->sampler == NULL) {
    self->n_vocab = n_vocab;
    gst_prima_sampler_reset (self);
  }
  return TRUE;
}

static gboolean
gst_prima_sampler_transform_size (GstBaseTransform * trans, GstPadDirection direction, GstCaps * caps,
    gsize size, GstCaps * othercaps, gsize * othersize)
{
  if (direction != GST_PAD_SINK)
    return FALSE;
  GstPrimaSampler *self = GST_PRIMA_SAMPLER (trans);
  gsize row = ((gsize) MAX (self->n_vocab, 1) + 1) * sizeof (gint32);
  /* room for every token a draft buffer may give (an id and a row each);
   * transform cuts the buffer to what it emits */
  *othersize = PRIMA_HEADER_SIZE + sizeof (gint32) * CLAMP ((size - MIN (size, PRIMA_HEADER_SIZE)) / row, 1, MAX_DRAFT + 1);
  return TRUE;
}

static GstFlowReturn
gst_prima_sampler_transform (GstBaseTransform * trans, GstBuffer * inbuf, GstBuffer * outbuf)
{
  GstPrimaSampler *self = GST_PRIMA_SAMPLER (trans);
  GstMapInfo in, out;
  PrimaHeader h, oh;
  gsize ids_size;
  const gint32 *ids;
  gint32 tokens[MAX_DRAFT + 1], out_pos;
  gboolean draft;
  guint n_draft, n_out;

  if (self->sampler == NULL)
    return GST_FLOW_NOT_NEGOTIATED;
  if (!gst_buffer_map (inbuf, &in, GST_MAP_READ))
    goto map_failed;
  if (!prima_header_parse (in.data, in.size, PRIMA_PAYLOAD_LOGITS, &h))
    goto bad_buffer;
  ids_size = (h.flags & PRIMA_FLAG_NO_IDS) ? 0 : (gsize) h.n_tokens * sizeof (gint32);
  draft = (h.flags & PRIMA_FLAG_DRAFT) && ids_size > 0 && h.next_layer > 0 && (guint) h.next_layer < h.n_tokens
      && h.next_layer < MAX_DRAFT;
  n_draft = draft ? (guint) h.next_layer : 0;
  if (h.dtype != PRIMA_DTYPE_F32
      || h.payload_size != ids_size + (gsize) (draft ? h.n_tokens : 1) * self->n_vocab * sizeof (float))
    goto bad_buffer;

  ids = (const gint32 *) (in.data + PRIMA_HEADER_SIZE);
  if (draft) {
    const float *rows = (const float *) (in.data + PRIMA_HEADER_SIZE + ids_size);
    guint first = h.n_tokens - n_draft;     /* the first draft's index */
    for (guint i = 0; i < first; i++)
      prima_sampler_accept (self->sampler, ids[i]);
    /* row i predicts the token after ids[i] */
    for (n_out = 0; n_out <= n_draft; n_out++) {
      const float *row = rows + (gsize) (first - 1 + n_out) * self->n_vocab;
      gboolean accepted = FALSE;
      if (n_out == n_draft) {
        tokens[n_out] = prima_sampler_sample (self->sampler, row);
      } else {
        tokens[n_out] = prima_sampler_verify (self->sampler, row, ids[first + n_out], &accepted);
        if (accepted)
          prima_sampler_accept (self->sampler, tokens[n_out]);
      }
      if (!accepted) {
        n_out++;
        break;
      }
    }
    out_pos = h.pos0 >= 0 ? h.pos0 + (gint32) first : -1;
    GST_LOG_OBJECT (self, "position %d: %u of %u drafts kept", out_pos, n_out - 1, n_draft);
  } else {
    if (ids_size > 0)
      for (guint i = 0; i < h.n_tokens; i++)
        prima_sampler_accept (self->sampler, ids[i]);
    tokens[0] = prima_sampler_sample (self->sampler, (const float *) (in.data + PRIMA_HEADER_SIZE + ids_size));
    n_out = 1;
    out_pos = h.pos0 >= 0 ? h.pos0 + (gint32) h.n_tokens : -1;
    GST_LOG_OBJECT (self, "position %d: token %d", out_pos, tokens[0]);
  }
  gst_buffer_unmap (inbuf, &in);

  prima_header_init (&oh, PRIMA_PAYLOAD_TOKENS, n_out, n_out * sizeof (gint32));
  oh.seq_id = h.seq_id;
  oh.pos0 = out_pos;
  gst_buffer_set_size (outbuf, PRIMA_HEADER_SIZE + n_out * sizeof (gint32));
  if (!gst_buffer_map (outbuf, &out, GST_MAP_WRITE))
    goto map_failed;
  memcpy (out.data, &oh, PRIMA_HEADER_SIZE);
  memcpy (out.data + PRIMA_HEADER_SIZE, tokens, n_out * sizeof (gint32));
  gst_buffer_unmap (outbuf, &out);
  GST_BUFFER_OFFSET (outbuf) = oh.pos0 >= 0 ? (guint64) oh.pos0 : GST_BUFFER_OFFSET_NONE;
  return GST_FLOW_OK;

map_failed:
  GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL), ("could not map a buffer"));
  return GST_FLOW_ERROR;
bad_buffer:
  GST_ELEMENT_ERROR (self, STREAM, FORMAT, (_("Received a malformed logits buffer.")),
      ("%" G_GSIZE_FORMAT " bytes, expected a logits header and %d floats", in.size, self->n_vocab));
  gst_buffer_unmap (inbuf, &in);
  return GST_FLOW_ERROR;
}

static gboolean
gst_prima_sampler_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstPrimaSampler *self = GST_PRIMA_SAMPLER (trans);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_SEGMENT:
      gst_prima_sampler_reset (self);
      break;
    case GST_EVENT_CUSTOM_DOWNSTREAM:
      if (prima_event_is_kv_clear (event))
        gst_prima_sampler_reset (self);
      break;
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

static gboolean
gst_prima_sampler_stop (GstBaseTransform * trans)
{
  GstPrimaSampler *self = GST_PRIMA_SAMPLER (trans);

  g_clear_pointer (&self->sampler, prima_sampler_free);
  self->n_vocab = 0;
  return TRUE;
}

static void
gst_prima_sampler_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaSampler *self = GST_PRIMA_SAMPLER (object);
  prima_sampler_params *p = &self->params;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TEMPERATURE:
      p->temperature = g_value_get_float (value);
      break;
    case PROP_TOP_K:
      p->top_k = g_value_get_int (value);
      break;
    case PROP_TOP_P:
      p->top_p = g_value_get_float (value);
      break;
    case PROP_MIN_P:
      p->min_p = g_value_get_float (value);
      break;
    case PROP_REPEAT_PENALTY:
      p->repeat_penalty = g_value_get_float (value);
      break;
    case PROP_REPEAT_LAST_N:
      p->penalty_last_n = g_value_get_int (value);
      break;
    case PROP_FREQUENCY_PENALTY:
      p->frequency_penalty = g_value_get_float (value);
      break;
    case PROP_PRESENCE_PENALTY:
      p->presence_penalty = g_value_get_float (value);
      break;
    case PROP_SEED:
      p->seed = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_sampler_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaSampler *self = GST_PRIMA_SAMPLER (object);
  prima_sampler_params *p = &self->params;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_TEMPERATURE:
      g_value_set_float (value, p->temperature);
      break;
    case PROP_TOP_K:
      g_value_set_int (value, p->top_k);
      break;
    case PROP_TOP_P:
      g_value_set_float (value, p->top_p);
      break;
    case PROP_MIN_P:
      g_value_set_float (value, p->min_p);
      break;
    case PROP_REPEAT_PENALTY:
      g_value_set_float (value, p->repeat_penalty);
      break;
    case PROP_REPEAT_LAST_N:
      g_value_set_int (value, p->penalty_last_n);
      break;
    case PROP_FREQUENCY_PENALTY:
      g_value_set_float (value, p->frequency_penalty);
      break;
    case PROP_PRESENCE_PENALTY:
      g_value_set_float (value, p->presence_penalty);
      break;
    case PROP_SEED:
      g_value_set_uint (value, (guint) p->seed);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_sampler_finalize (GObject * object)
{
  GstPrimaSampler *self = GST_PRIMA_SAMPLER (object);

  prima_sampler_free (self->sampler);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_prima_sampler_class_init (GstPrimaSamplerClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_prima_sampler_set_property;
  gobject_class->get_property = gst_prima_sampler_get_property;
  gobject_class->finalize = gst_prima_sampler_finalize;

  /**
   * GstPrimaSampler:temperature:
   *
   * Divides the logits before the draw; 0 is greedy decoding.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TEMPERATURE,
      g_param_spec_float ("temperature", "Temperature", "Sampling temperature (0 = greedy)",
          0.0f, G_MAXFLOAT, DEFAULT_TEMPERATURE, PARAM_FLAGS));
  /**
   * GstPrimaSampler:top-k:
   *
   * Keep only the k most likely tokens (0 = off).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_int ("top-k", "Top-k", "Keep the k most likely tokens (0 = off)",
          0, G_MAXINT, DEFAULT_TOP_K, PARAM_FLAGS));
  /**
   * GstPrimaSampler:top-p:
   *
   * Keep the most likely tokens whose probabilities add up to p (1 = off).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_TOP_P,
      g_param_spec_float ("top-p", "Top-p", "Nucleus sampling threshold (1.0 = off)",
          0.0f, 1.0f, DEFAULT_TOP_P, PARAM_FLAGS));
  /**
   * GstPrimaSampler:min-p:
   *
   * Drop tokens less likely than p times the most likely one (0 = off).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MIN_P,
      g_param_spec_float ("min-p", "Min-p", "Minimum probability relative to the best token (0.0 = off)",
          0.0f, 1.0f, DEFAULT_MIN_P, PARAM_FLAGS));
  /**
   * GstPrimaSampler:repeat-penalty:
   *
   * Penalize the tokens of the last #GstPrimaSampler:repeat-last-n (1 = off).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_REPEAT_PENALTY,
      g_param_spec_float ("repeat-penalty", "Repeat penalty", "Penalty for repeated tokens (1.0 = off)",
          0.0f, G_MAXFLOAT, DEFAULT_REPEAT_PENALTY, PARAM_FLAGS));
  /**
   * GstPrimaSampler:repeat-last-n:
   *
   * How many of the last tokens the penalties look at.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_REPEAT_LAST_N,
      g_param_spec_int ("repeat-last-n", "Repeat last N", "Tokens of history the penalties look at",
          0, MAX_REPEAT_LAST_N, DEFAULT_REPEAT_LAST_N, PARAM_FLAGS));
  /**
   * GstPrimaSampler:frequency-penalty:
   *
   * Subtracted once per occurrence of a token in the history (0 = off).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_FREQUENCY_PENALTY,
      g_param_spec_float ("frequency-penalty", "Frequency penalty", "Frequency penalty (0.0 = off)",
          -G_MAXFLOAT, G_MAXFLOAT, DEFAULT_FREQUENCY_PENALTY, PARAM_FLAGS));
  /**
   * GstPrimaSampler:presence-penalty:
   *
   * Subtracted once from every token present in the history (0 = off).
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_PRESENCE_PENALTY,
      g_param_spec_float ("presence-penalty", "Presence penalty", "Presence penalty (0.0 = off)",
          -G_MAXFLOAT, G_MAXFLOAT, DEFAULT_PRESENCE_PENALTY, PARAM_FLAGS));
  /**
   * GstPrimaSampler:seed:
   *
   * Seed of the random draw; 4294967295 picks a random seed, as llama-cli's -1.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint ("seed", "Seed", "Random seed (4294967295 = random)",
          0, G_MAXUINT32, DEFAULT_SEED, PARAM_FLAGS));

  trans_class->transform_caps = GST_DEBUG_FUNCPTR (gst_prima_sampler_transform_caps);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_prima_sampler_set_caps);
  trans_class->transform_size = GST_DEBUG_FUNCPTR (gst_prima_sampler_transform_size);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_prima_sampler_transform);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_prima_sampler_sink_event);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_prima_sampler_stop);
  trans_class->passthrough_on_same_caps = FALSE;

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "Prima sampler", "Filter/Converter",
      "Chooses the next token from logits", "gst-prima authors");
}

static void
gst_prima_sampler_init (GstPrimaSampler * self)
{
  prima_sampler_params_init (&self->params);
  self->params.temperature = DEFAULT_TEMPERATURE;
  self->params.seed = DEFAULT_SEED;
}
