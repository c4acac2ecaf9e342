/* gst-prima tests: primafeedback: generate.pipeline with the loop and the feedback on a named
 * channel, and on a channel that no loop uses.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include <glib/gstdio.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* generate.pipeline with the loop and the feedback on given channels;
 * returns the message that ended it. */
static GstMessage *
generate_on_channels (const gchar * loop_channel, const gchar * feedback_channel, gchar ** text)
{
  gchar *model = model_path ();
  gchar *desc = read_pipeline ("generate.pipeline");
  gchar *dir = g_dir_make_tmp ("prima-gst-XXXXXX", NULL);
  gchar *out_path = g_build_filename (dir, "out.txt", NULL);
  Reference *ref = reference_load ();
  GError *error = NULL;
  GstElement *pipeline;
  GstMessage *msg;
  int fds[2], out_fd;

  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  fail_unless (pipe (fds) == 0);
  fail_unless_equals_int (write (fds[1], ref->prompt, strlen (ref->prompt)), (int) strlen (ref->prompt));
  close (fds[1]);
  out_fd = g_open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  set_by_name (pipeline, "input", "fd", fds[0], NULL);
  set_by_name (pipeline, "output", "fd", out_fd, NULL);
  set_by_name (pipeline, "tokenizer", "model", model, NULL);
  set_by_name (pipeline, "loop", "model", model, "n-predict", 16, "channel", loop_channel, NULL);
  set_by_name (pipeline, "layers", "model", model, NULL);
  set_by_name (pipeline, "sampler", "temperature", 0.0f, NULL);
  set_by_name (pipeline, "detokenizer", "model", model, NULL);
  set_by_name (pipeline, "feedback", "channel", feedback_channel, NULL);
  msg = run_pipeline (pipeline, 60 * GST_SECOND);
  close (out_fd);
  close (fds[0]);
  if (text)
    fail_unless (g_file_get_contents (out_path, text, NULL, NULL));
  g_unlink (out_path);
  g_rmdir (dir);
  gst_object_unref (pipeline);
  reference_free (ref);
  g_free (out_path);
  g_free (dir);
  g_free (desc);
  g_free (model);
  return msg;
}

GST_START_TEST (test_feedback_channel)
{
  Reference *ref = reference_load ();
  GError *error = NULL;
  GstMessage *msg;
  gchar *text = NULL;

  /* a named channel: the same text as the default one */
  msg = generate_on_channels ("story", "story", &text);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  fail_unless (strlen (text) > 0 && g_str_has_prefix (ref->greedy_text, text), "%s", text);
  g_free (text);

  /* no loop on the feedback's channel: a clear error */
  msg = generate_on_channels ("story", "elsewhere", NULL);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &error, NULL);
  fail_unless_equals_string (error->message, "No primaloop uses the channel \"elsewhere\".");
  g_clear_error (&error);
  gst_message_unref (msg);
  reference_free (ref);
}

GST_END_TEST;

static Suite *
primafeedback_suite (void)
{
  Suite *s = suite_create ("primafeedback");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_feedback_channel);
  return s;
}

GST_TEST_MAIN (primafeedback_suite, "primafeedback");
