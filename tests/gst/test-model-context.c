/* gst-prima tests: the model named once (issue 12, point 5). The elements of
 * a pipeline share one model per file through the "prima.model" GstContext
 * (elements/prima-shared-model.h): a model named on one element reaches the
 * others, the vocabulary is parsed once, two models in one chain are an
 * error naming both.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "prima-shared-model.h"
#include "gst-test-common.h"

#define OTHER_MODEL "TinyStories-656K-q8_0.gguf"
#define PROMPT "Once upon a time"

/* Which elements carry model=: the tokenizer, loop, layers, detokenizer. */
enum
{
  ON_TOKENIZER = 1 << 0,
  ON_LOOP = 1 << 1,
  ON_LAYERS = 1 << 2,
  ON_DETOKENIZER = 1 << 3,
  ON_ALL = 0xf,
};

typedef struct
{
  GByteArray *tokens;           /* the sampler's buffers, as they came */
  GString *text;                /* the detokenizer's */
  PrimaSharedModel *model;      /* the pipeline's "prima.model" at the end */
  gchar *error;                 /* the first error message, if any */
} Run;

static gchar *
prompt_file (void)
{
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("prima-model-context-XXXXXX.txt", &path, NULL);

  fail_unless (fd >= 0);
  fail_unless (write (fd, PROMPT, strlen (PROMPT)) == (gssize) strlen (PROMPT));
  close (fd);
  return path;
}

static void
on_tokens (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer user_data)
{
  Run *run = user_data;
  GstMapInfo map;

  if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
    g_byte_array_append (run->tokens, map.data, map.size);
    gst_buffer_unmap (buf, &map);
  }
}

static void
on_text (GstElement * sink, GstBuffer * buf, GstPad * pad, gpointer user_data)
{
  Run *run = user_data;
  GstMapInfo map;

  if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
    g_string_append_len (run->text, (const gchar *) map.data, map.size);
    gst_buffer_unmap (buf, &map);
  }
}

static gchar *
model_arg (guint where, guint flag, const gchar * path)
{
  return (where & flag) ? g_strdup_printf ("model=%s", path) : g_strdup ("");
}

/* Generates 12 greedy tokens with model= on the elements in @where
 * (@detok_path: the detokenizer's model, NULL: the same; @app_model: a
 * "prima.model" context the application sets on the pipeline). */
static Run *
generate_full (guint where, const gchar * detok_path, PrimaSharedModel * app_model)
{
  gchar *model = model_path (), *input = prompt_file ();
  gchar *a = model_arg (where, ON_TOKENIZER, model), *b = model_arg (where, ON_LOOP, model);
  gchar *c = model_arg (where, ON_LAYERS, model);
  gchar *d = model_arg (where, ON_DETOKENIZER, detok_path ? detok_path : model);
  gchar *desc = g_strdup_printf ("filesrc location=%s ! primatokenizer %s ! primaloop %s n-predict=12 "
      "! primalayers %s threads=1 ! primasampler temperature=0 ! tee name=t "
      "t. ! queue ! primadetokenizer %s ! fakesink name=text signal-handoffs=true sync=false "
      "t. ! queue ! fakesink name=tokens signal-handoffs=true sync=false t. ! primafeedback", input, a, b, c, d);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GstElement *sink;
  GstMessage *msg;
  GstContext *context;
  GstBus *bus;
  Run *run = g_new0 (Run, 1);

  fail_unless (pipeline != NULL, "%s: %s", desc, error ? error->message : "");
  run->tokens = g_byte_array_new ();
  run->text = g_string_new (NULL);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "tokens");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_tokens), run);
  gst_object_unref (sink);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "text");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_text), run);
  gst_object_unref (sink);

  if (app_model) {
    context = prima_model_context_new (app_model);
    gst_element_set_context (pipeline, context);
    gst_context_unref (context);
  }
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no end of stream: %s", desc);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    run->error = g_strdup (err->message);
    g_clear_error (&err);
  }
  gst_message_unref (msg);
  gst_object_unref (bus);

  /* what the elements announced (HAVE_CONTEXT), kept by the pipeline */
  context = gst_element_get_context (pipeline, PRIMA_MODEL_CONTEXT_TYPE);
  if (context) {
    fail_unless (prima_model_context_parse (context, &run->model));
    gst_context_unref (context);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_unlink (input);
  g_free (input);
  g_free (desc);
  g_free (a);
  g_free (b);
  g_free (c);
  g_free (d);
  g_free (model);
  return run;
}

static Run *
generate (guint where, const gchar * detok_path)
{
  return generate_full (where, detok_path, NULL);
}

static void
run_free (Run * run)
{
  g_byte_array_unref (run->tokens);
  g_string_free (run->text, TRUE);
  if (run->model)
    prima_shared_model_unref (run->model);
  g_free (run->error);
  g_free (run);
}

/* Named on every element, on the first only, on the last only: the same tokens. */
GST_START_TEST (test_named_once)
{
  Run *all = generate (ON_ALL, NULL);
  guint once[] = { ON_TOKENIZER, ON_DETOKENIZER, ON_LAYERS };

  fail_unless (all->error == NULL, "%s", all->error);
  fail_unless (all->tokens->len > 0);
  fail_unless (all->text->len > 0);
  for (guint i = 0; i < G_N_ELEMENTS (once); i++) {
    Run *run = generate (once[i], NULL);

    fail_unless (run->error == NULL, "model on 0x%x: %s", once[i], run->error);
    fail_unless (run->tokens->len == all->tokens->len && memcmp (run->tokens->data, all->tokens->data,
            run->tokens->len) == 0, "model on 0x%x: other tokens", once[i]);
    fail_unless_equals_string (run->text->str, all->text->str);
    run_free (run);
  }
  run_free (all);
}

GST_END_TEST;

/* One model object for the file, its vocabulary parsed once for the three
 * elements that read it (tokenizer, loop, detokenizer), named once or
 * everywhere. */
GST_START_TEST (test_vocabulary_parsed_once)
{
  guint where[] = { ON_TOKENIZER, ON_ALL };

  for (guint i = 0; i < G_N_ELEMENTS (where); i++) {
    Run *run = generate (where[i], NULL);
    gchar *model = test_data_path (MODEL);

    fail_unless (run->error == NULL, "%s", run->error);
    fail_unless (run->model != NULL, "no prima.model context on the pipeline");
    fail_unless_equals_string (prima_shared_model_get_path (run->model), model);
    fail_unless_equals_int (prima_shared_model_get_vocabulary_parses (run->model), 1);
    fail_unless_equals_int (prima_shared_model_get_vocabulary_users (run->model), 3);
    /* the elements let go: only this test holds it */
    fail_unless_equals_int (prima_shared_model_get_refcount (run->model), 1);
    g_free (model);
    run_free (run);
  }
}

GST_END_TEST;

/* No element names the model: the application's context gives it. */
GST_START_TEST (test_application_context)
{
  gchar *path = test_data_path (MODEL);
  Run *all = generate (ON_ALL, NULL), *run;
  PrimaSharedModel *model;

  /* once that run lets go of its model, the cache makes a fresh one */
  g_clear_pointer (&all->model, prima_shared_model_unref);
  model = prima_shared_model_get (path, NULL);

  fail_unless (model != NULL);
  fail_unless_equals_int (prima_shared_model_get_vocabulary_users (model), 0);
  run = generate_full (0, NULL, model);
  fail_unless (run->error == NULL, "%s", run->error);
  fail_unless (run->tokens->len == all->tokens->len && memcmp (run->tokens->data, all->tokens->data,
          run->tokens->len) == 0, "other tokens");
  fail_unless_equals_string (run->text->str, all->text->str);
  /* the elements read the application's model: one parse for the three */
  fail_unless_equals_int (prima_shared_model_get_vocabulary_parses (model), 1);
  fail_unless_equals_int (prima_shared_model_get_vocabulary_users (model), 3);
  run_free (run);
  run_free (all);
  prima_shared_model_unref (model);
  g_free (path);
}

GST_END_TEST;

/* Two models in one chain: an element error that names both files. */
GST_START_TEST (test_two_models)
{
  gchar *model = test_data_path (MODEL), *other = test_data_path (OTHER_MODEL);
  Run *run = generate (ON_TOKENIZER | ON_DETOKENIZER, other);

  fail_unless (run->error != NULL, "two models were accepted");
  fail_unless (strstr (run->error, model) != NULL, "%s", run->error);
  fail_unless (strstr (run->error, other) != NULL, "%s", run->error);
  run_free (run);
  g_free (model);
  g_free (other);
}

GST_END_TEST;

/* No model anywhere: the usual error, no crash. */
GST_START_TEST (test_no_model)
{
  Run *run = generate (0, NULL);

  fail_unless (run->error != NULL);
  fail_unless (strstr (run->error, "model") != NULL, "%s", run->error);
  run_free (run);
}

GST_END_TEST;

/* The cache: two spellings of one file give one model while it is held. */
GST_START_TEST (test_cache_by_file)
{
  gchar *model = test_data_path (MODEL), *dir = g_path_get_dirname (model);
  gchar *other = g_build_filename (dir, ".", MODEL, NULL);
  PrimaSharedModel *a = prima_shared_model_get (model, NULL), *b = prima_shared_model_get (other, NULL);
  GError *error = NULL;

  fail_unless (a != NULL && a == b);
  fail_unless_equals_int (prima_shared_model_get_refcount (a), 2);
  fail_unless (prima_shared_model_get ("/nonexistent/model.gguf", &error) == NULL);
  fail_unless (error != NULL);
  g_clear_error (&error);
  prima_shared_model_unref (b);
  prima_shared_model_unref (a);
  g_free (other);
  g_free (dir);
  g_free (model);
}

GST_END_TEST;

static Suite *
model_context_suite (void)
{
  Suite *s = suite_create ("prima-model-context");
  TCase *tc = tcase_create ("model");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_cache_by_file);
  tcase_add_test (tc, test_named_once);
  tcase_add_test (tc, test_vocabulary_parsed_once);
  tcase_add_test (tc, test_application_context);
  tcase_add_test (tc, test_two_models);
  tcase_add_test (tc, test_no_model);
  return s;
}

GST_TEST_MAIN (model_context_suite, "prima-model-context");
