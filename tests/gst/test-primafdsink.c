/* gst-prima tests: primafdsink writes at the descriptor's current offset (core's
 * fdsink seeks a regular file to 0 first) and refuses a read-only descriptor.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include <glib/gstdio.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* What the shell wrote before the sink starts stays; what is written after
 * it comes after the stream. */
GST_START_TEST (test_fdsink_offset)
{
  gchar *dir = g_dir_make_tmp ("prima-gst-XXXXXX", NULL);
  gchar *path = g_build_filename (dir, "out.txt", NULL);
  GstElement *sink = gst_element_factory_make ("primafdsink", NULL);
  gchar *contents = NULL;
  GstHarness *h;
  int fd;

  fail_unless (sink != NULL);
  fd = g_open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  fail_unless (fd >= 0);
  fail_unless_equals_int (write (fd, "before\n", 7), 7);
  g_object_set (sink, "fd", fd, NULL);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_harness_set_src_caps_str (h, "text/x-raw, format=utf8");
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup ("one ", 4)), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_memdup ("two\n", 4)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  gst_harness_teardown (h);
  gst_object_unref (sink);
  /* the descriptor is the caller's: still open, at the end of the stream */
  fail_unless_equals_int (write (fd, "after\n", 6), 6);
  close (fd);

  fail_unless (g_file_get_contents (path, &contents, NULL, NULL));
  fail_unless_equals_string (contents, "before\none two\nafter\n");
  g_free (contents);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

GST_END_TEST;

GST_START_TEST (test_fdsink_read_only)
{
  GstElement *sink = gst_element_factory_make ("primafdsink", NULL);
  GstBus *bus = gst_bus_new ();
  GError *error = NULL;
  GstMessage *msg;
  gchar *want;
  int fd = g_open ("/dev/null", O_RDONLY, 0);

  fail_unless (fd >= 0);
  gst_element_set_bus (sink, bus);
  g_object_set (sink, "fd", fd, NULL);
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "primafdsink posted no error");
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_WRITE), "%s", error->message);
  want = g_strdup_printf ("File descriptor %d is not open for writing.", fd);
  fail_unless_equals_string (error->message, want);
  g_free (want);
  g_error_free (error);
  gst_message_unref (msg);
  gst_element_set_state (sink, GST_STATE_NULL);
  gst_element_set_bus (sink, NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  close (fd);
}

GST_END_TEST;

static Suite *
primafdsink_suite (void)
{
  Suite *s = suite_create ("primafdsink");
  TCase *tc = tcase_create ("element");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_fdsink_offset);
  tcase_add_test (tc, test_fdsink_read_only);
  return s;
}

GST_TEST_MAIN (primafdsink_suite, "primafdsink");
