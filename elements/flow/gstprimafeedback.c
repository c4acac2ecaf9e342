/* gst-prima: primafeedback, hands sampled tokens back to primaloop.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primafeedback
 * @title: primafeedback
 * @see_also: primaloop
 *
 * The end of the autoregressive cycle: a sink that hands each sampled token
 * to the primaloop registered under the same #GstPrimaFeedback:channel (as
 * intervideosink hands frames to intervideosrc). The loop sends the token on
 * to the model, or ends the turn. Because the feedback is not a pad link, the
 * pipeline's graph has no cycle and GstBin orders state changes as usual.
 *
 * The element takes tokens buffers of one token (from primasampler, usually
 * through a tee). It does not wait for preroll or synchronise to the clock,
 * and it never blocks: the loop only queues the token, so it needs no queue
 * in front of it. Events are not passed on; end-of-stream is posted on the
 * bus as a sink does. From PAUSED on, the loops know that the channel has a
 * feedback: a loop without one posts an error when it sends a prompt.
 *
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primaloop channel=story n-predict=32 ! primalayers ! primasampler temperature=0 ! tee name=t ! queue ! primadetokenizer ! primafdsink fd=1 t. ! primafeedback channel=story
 * ]| generates 32 tokens, with the feedback on the channel "story".
 *
 * Since: 0.1
 */

#include "gstprimafeedback.h"

#include <glib/gi18n-lib.h>

#include "prima-caps.h"
#include "gstprimaloop.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_feedback_debug);
#define GST_CAT_DEFAULT gst_prima_feedback_debug

#define DEFAULT_CHANNEL "default"

enum
{
  PROP_0,
  PROP_CHANNEL,
};

struct _GstPrimaFeedback
{
  GstElement parent;

  GstPad *sinkpad;

  /* property, under the object lock */
  gchar *channel;

  /* from READY to PAUSED: the channel the loops know this element on */
  gchar *registered;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS (PRIMA_CAPS_TOKENS));

#define gst_prima_feedback_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaFeedback, gst_prima_feedback, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_prima_feedback_debug, "primafeedback", 0, "prima feedback"));
GST_ELEMENT_REGISTER_DEFINE (primafeedback, "primafeedback", GST_RANK_NONE, GST_TYPE_PRIMA_FEEDBACK);

static GstFlowReturn
gst_prima_feedback_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstPrimaFeedback *self = GST_PRIMA_FEEDBACK (parent);
  GstPrimaLoop *loop;
  GstFlowReturn ret;

  GST_OBJECT_LOCK (self);
  loop = gst_prima_loop_find_channel (self->channel);
  GST_OBJECT_UNLOCK (self);

  if (loop == NULL) {
    gchar *channel;

    GST_OBJECT_LOCK (self);
    channel = g_strdup (self->channel);
    GST_OBJECT_UNLOCK (self);
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, (_("No primaloop uses the channel \"%s\"."), channel),
        ("give the loop and the feedback the same channel property"));
    g_free (channel);
    gst_buffer_unref (buf);
    return GST_FLOW_ERROR;
  }
  ret = gst_prima_loop_push_feedback (loop, buf);
  gst_object_unref (loop);
  return ret;
}

static gboolean
gst_prima_feedback_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstPrimaFeedback *self = GST_PRIMA_FEEDBACK (parent);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    GstMessage *msg = gst_message_new_eos (GST_OBJECT (self));
    gst_message_set_seqnum (msg, gst_event_get_seqnum (event));
    gst_element_post_message (GST_ELEMENT (self), msg);
  }
  /* caps were checked against the template; nothing travels on */
  gst_event_unref (event);
  return TRUE;
}

static GstStateChangeReturn
gst_prima_feedback_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaFeedback *self = GST_PRIMA_FEEDBACK (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && self->registered == NULL) {
    GST_OBJECT_LOCK (self);
    self->registered = g_strdup (self->channel);
    GST_OBJECT_UNLOCK (self);
    gst_prima_loop_add_feedback (self->registered);
  }
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if ((transition == GST_STATE_CHANGE_PAUSED_TO_READY || (transition == GST_STATE_CHANGE_READY_TO_PAUSED
              && ret == GST_STATE_CHANGE_FAILURE)) && self->registered) {
    gst_prima_loop_remove_feedback (self->registered);
    g_clear_pointer (&self->registered, g_free);
  }
  return ret;
}

static void
gst_prima_feedback_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaFeedback *self = GST_PRIMA_FEEDBACK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_CHANNEL:
      g_free (self->channel);
      self->channel = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_feedback_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaFeedback *self = GST_PRIMA_FEEDBACK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_CHANNEL:
      g_value_set_string (value, self->channel);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_feedback_finalize (GObject * object)
{
  GstPrimaFeedback *self = GST_PRIMA_FEEDBACK (object);

  if (self->registered)
    gst_prima_loop_remove_feedback (self->registered);
  g_free (self->registered);
  g_free (self->channel);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_prima_feedback_class_init (GstPrimaFeedbackClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_prima_feedback_set_property;
  gobject_class->get_property = gst_prima_feedback_get_property;
  gobject_class->finalize = gst_prima_feedback_finalize;

  /**
   * GstPrimaFeedback:channel:
   *
   * Name of the primaloop's #GstPrimaLoop:channel that receives the tokens.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_CHANNEL,
      g_param_spec_string ("channel", "Channel", "Name of the feedback channel (shared with primaloop)",
          DEFAULT_CHANNEL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_feedback_change_state);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "Prima feedback", "Sink",
      "Hands each sampled token back to the primaloop of its channel", "gst-prima authors");
}

static void
gst_prima_feedback_init (GstPrimaFeedback * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_feedback_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_prima_feedback_event));
  GST_PAD_SET_ACCEPT_TEMPLATE (self->sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->channel = g_strdup (DEFAULT_CHANNEL);
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
}
