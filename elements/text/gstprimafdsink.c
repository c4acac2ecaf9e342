/* gst-prima: primafdsink, writes a stream to a file descriptor at its current offset.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primafdsink
 * @title: primafdsink
 *
 * Writes every buffer to a file descriptor (standard output by default), as a
 * Unix tool writes its output: at the descriptor's current offset, never
 * seeking. Core's `fdsink` seeks a regular file to offset 0 when it starts (and
 * to the start of a BYTES segment), so `{ echo a; gst-launch-1.0 ... ! fdsink; } > file`
 * overwrites what came before it; with primafdsink the output is appended
 * after it, and the shell's later writes come after the output. Short writes
 * and interrupted system calls are retried; a non-blocking descriptor is
 * waited for (and a flush interrupts the wait).
 *
 * ## Example launch line
 * |[
 * printf 'Once upon a time' | gst-launch-1.0 -q fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf ! primadetokenizer ! primafdsink
 * ]| prints the prompt back from its tokens on standard output.
 *
 * Since: 0.1
 */

#include "gstprimafdsink.h"

#include <glib/gi18n-lib.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

GST_DEBUG_CATEGORY_STATIC (gst_prima_fd_sink_debug);
#define GST_CAT_DEFAULT gst_prima_fd_sink_debug

#define DEFAULT_FD 1

enum
{
  PROP_0,
  PROP_FD,
};

struct _GstPrimaFdSink
{
  GstBaseSink parent;

  /* property, under the object lock; read once when the element starts */
  gint fd;

  /* from READY to PAUSED */
  gint out_fd;
  GstPoll *fdset;
  GstPollFD pollfd;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

#define gst_prima_fd_sink_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaFdSink, gst_prima_fd_sink, GST_TYPE_BASE_SINK,
    GST_DEBUG_CATEGORY_INIT (gst_prima_fd_sink_debug, "primafdsink", 0, "prima fd sink"));
GST_ELEMENT_REGISTER_DEFINE (primafdsink, "primafdsink", GST_RANK_NONE, GST_TYPE_PRIMA_FD_SINK);

static gboolean
gst_prima_fd_sink_start (GstBaseSink * bsink)
{
  GstPrimaFdSink *self = GST_PRIMA_FD_SINK (bsink);
  int flags;

  GST_OBJECT_LOCK (self);
  self->out_fd = self->fd;
  GST_OBJECT_UNLOCK (self);

  /* only checks that the descriptor is open for writing: its offset is left as it is */
  flags = fcntl (self->out_fd, F_GETFL);
  if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE, (_("File descriptor %d is not open for writing."), self->out_fd),
        ("%s", flags < 0 ? g_strerror (errno) : "opened read-only"));
    return FALSE;
  }
  self->fdset = gst_poll_new (TRUE);
  if (self->fdset == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE, (NULL), GST_ERROR_SYSTEM);
    return FALSE;
  }
  gst_poll_fd_init (&self->pollfd);
  self->pollfd.fd = self->out_fd;
  gst_poll_add_fd (self->fdset, &self->pollfd);
  gst_poll_fd_ctl_write (self->fdset, &self->pollfd, TRUE);
  return TRUE;
}

static gboolean
gst_prima_fd_sink_stop (GstBaseSink * bsink)
{
  GstPrimaFdSink *self = GST_PRIMA_FD_SINK (bsink);

  g_clear_pointer (&self->fdset, gst_poll_free);
  return TRUE;
}

static gboolean
gst_prima_fd_sink_unlock (GstBaseSink * bsink)
{
  GstPrimaFdSink *self = GST_PRIMA_FD_SINK (bsink);

  if (self->fdset)
    gst_poll_set_flushing (self->fdset, TRUE);
  return TRUE;
}

static gboolean
gst_prima_fd_sink_unlock_stop (GstBaseSink * bsink)
{
  GstPrimaFdSink *self = GST_PRIMA_FD_SINK (bsink);

  if (self->fdset)
    gst_poll_set_flushing (self->fdset, FALSE);
  return TRUE;
}

static GstFlowReturn
gst_prima_fd_sink_render (GstBaseSink * bsink, GstBuffer * buf)
{
  GstPrimaFdSink *self = GST_PRIMA_FD_SINK (bsink);
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo map;
  gsize done = 0;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (NULL), ("could not map a buffer"));
    return GST_FLOW_ERROR;
  }
  /* write(), not pwrite() and no lseek(): the bytes go where the descriptor
   * stands, so the output lands after whatever was written before it */
  while (done < map.size) {
    ssize_t n = write (self->out_fd, map.data + done, map.size - done);

    if (n >= 0) {
      done += n;
      continue;
    }
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (gst_poll_wait (self->fdset, GST_CLOCK_TIME_NONE) < 0 && errno == EBUSY) {
        ret = GST_FLOW_FLUSHING;
        break;
      }
      continue;
    }
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE, (_("Could not write to file descriptor %d: %s."), self->out_fd,
            g_strerror (errno)), (NULL));
    ret = GST_FLOW_ERROR;
    break;
  }
  gst_buffer_unmap (buf, &map);
  return ret;
}

static void
gst_prima_fd_sink_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaFdSink *self = GST_PRIMA_FD_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_FD:
      self->fd = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_fd_sink_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaFdSink *self = GST_PRIMA_FD_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_FD:
      g_value_set_int (value, self->fd);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_fd_sink_class_init (GstPrimaFdSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_prima_fd_sink_set_property;
  gobject_class->get_property = gst_prima_fd_sink_get_property;

  /**
   * GstPrimaFdSink:fd:
   *
   * The file descriptor to write to (1, standard output, by default). The
   * element never closes it.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_FD,
      g_param_spec_int ("fd", "File descriptor", "File descriptor to write to", 0, G_MAXINT, DEFAULT_FD,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_prima_fd_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_prima_fd_sink_stop);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_prima_fd_sink_unlock);
  basesink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_prima_fd_sink_unlock_stop);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_prima_fd_sink_render);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "Prima file descriptor sink", "Sink/File",
      "Writes the stream to a file descriptor at its current offset, never seeking", "gst-prima authors");
}

static void
gst_prima_fd_sink_init (GstPrimaFdSink * self)
{
  self->fd = DEFAULT_FD;
  self->out_fd = -1;
  /* text streams as it is produced: no clock to wait for */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}
