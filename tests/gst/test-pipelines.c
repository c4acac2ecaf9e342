/* gst-prima tests: whole pipelines: pipelines/generate.pipeline and chat.pipeline end to end
 * (n-predict, stop strings, chat turns, refused messages, context shift),
 * the documented gst-launch-1.0 line, a loop without feedback, and `prima run`
 * on a chat that goes on and on a model with NaN weights.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "gst-test-common.h"

#include <glib/gstdio.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "tokenizer.h"
#include "chat-template.h"

/* ---- generate.pipeline ---- */

/* Runs pipelines/generate.pipeline on the prompt with the tiny model and
 * greedy sampling; returns the text it wrote. */
static gchar *
generate (const gchar * prompt, gint n_predict, const gchar * stop)
{
  gchar *model = model_path ();
  gchar *desc = read_pipeline ("generate.pipeline");
  gchar *dir = g_dir_make_tmp ("prima-gst-XXXXXX", NULL);
  gchar *out_path = g_build_filename (dir, "out.txt", NULL);
  GError *error = NULL;
  GstElement *pipeline;
  GstMessage *msg;
  gchar *text = NULL;
  int fds[2], out_fd;

  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL && error == NULL, "%s: %s", desc, error ? error->message : "");
  fail_unless (pipe (fds) == 0);
  fail_unless_equals_int (write (fds[1], prompt, strlen (prompt)), (int) strlen (prompt));
  close (fds[1]);
  out_fd = g_open (out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  fail_unless (out_fd >= 0);

  set_by_name (pipeline, "input", "fd", fds[0], NULL);
  set_by_name (pipeline, "output", "fd", out_fd, NULL);
  set_by_name (pipeline, "tokenizer", "model", model, NULL);
  set_by_name (pipeline, "loop", "model", model, "n-predict", n_predict, NULL);
  set_by_name (pipeline, "layers", "model", model, NULL);
  set_by_name (pipeline, "sampler", "temperature", 0.0f, NULL);
  if (stop) {
    GstElement *loop = gst_bin_get_by_name (GST_BIN (pipeline), "loop");
    gst_util_set_object_arg (G_OBJECT (loop), "stop", stop);
    gst_object_unref (loop);
  }
  set_by_name (pipeline, "detokenizer", "model", model, NULL);

  msg = run_pipeline (pipeline, 120 * GST_SECOND);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gchar *debug = NULL;
    gst_message_parse_error (msg, &error, &debug);
    fail ("the pipeline failed: %s (%s)", error->message, debug);
  }
  gst_message_unref (msg);
  close (out_fd);
  close (fds[0]);
  fail_unless (g_file_get_contents (out_path, &text, NULL, NULL));

  gst_object_unref (pipeline);
  g_unlink (out_path);
  g_rmdir (dir);
  g_free (out_path);
  g_free (dir);
  g_free (desc);
  g_free (model);
  return text;
}

GST_START_TEST (test_generate_pipeline)
{
  Reference *ref = reference_load ();
  gchar *text = generate (ref->prompt, ref->greedy_tokens->len, NULL);

  fail_unless_equals_string (text, ref->greedy_text);
  g_free (text);
  reference_free (ref);
}

GST_END_TEST;

GST_START_TEST (test_generate_n_predict)
{
  Reference *ref = reference_load ();
  gchar *model = model_path ();
  gguf_file *file = gguf_open (model, NULL);
  prima_tokenizer *tok = prima_tokenizer_new (file, NULL);
  GString *want = g_string_new (NULL);
  gchar *text;

  /* n-predict=N gives the text of the first N greedy tokens */
  for (guint i = 0; i < 8; i++)
    prima_token_to_piece (tok, g_array_index (ref->greedy_tokens, gint32, i), FALSE, want);
  text = generate (ref->prompt, 8, NULL);
  fail_unless_equals_string (text, want->str);
  fail_unless (g_str_has_prefix (ref->greedy_text, text));
  g_free (text);
  /* n-predict=0 generates nothing */
  text = generate (ref->prompt, 0, NULL);
  fail_unless_equals_string (text, "");
  g_free (text);

  g_string_free (want, TRUE);
  prima_tokenizer_free (tok);
  gguf_close (file);
  g_free (model);
  reference_free (ref);
}

GST_END_TEST;

/* Stop strings end the turn after the token that completes them. */
GST_START_TEST (test_generate_stop)
{
  Reference *ref = reference_load ();
  gchar *text = generate (ref->prompt, -1, "<\"Lily\", \"never matches\">");
  const gchar *end = strstr (ref->greedy_text, "Lily") + strlen ("Lily");

  fail_unless_equals_int (strlen (text), end - ref->greedy_text);
  fail_unless (strncmp (text, ref->greedy_text, strlen (text)) == 0, "%s", text);
  g_free (text);
  reference_free (ref);
}

GST_END_TEST;

/* Without n-predict the turn ends where `prima run` ends: at an
 * end-of-generation token or when the context is full. */
GST_START_TEST (test_generate_until_end)
{
  Reference *ref = reference_load ();
  gchar *model = model_path ();
  gchar *argv[] = { (gchar *) g_getenv ("PRIMA_BIN"), (gchar *) "run", (gchar *) "-m", model, (gchar *) "-p",
    ref->prompt, (gchar *) "-n", (gchar *) "-1", (gchar *) "--temp", (gchar *) "0",
    (gchar *) "--no-display-prompt", NULL
  };
  gchar *want = NULL, *text;
  gint status;

  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &want, NULL, &status,
          NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "prima run failed");
  fail_unless (g_str_has_suffix (want, "\n"));
  want[strlen (want) - 1] = '\0';     /* prima run ends with a newline */
  text = generate (ref->prompt, -1, NULL);
  fail_unless_equals_string (text, want);
  g_free (text);
  g_free (want);
  g_free (model);
  reference_free (ref);
}

GST_END_TEST;

/* The documented line run by gst-launch-1.0 itself. */
static void
check_gst_launch (const gchar * model, const gchar * reference)
{
  Reference *ref = reference_load_from (reference);
  gchar *cmd = g_strdup_printf ("printf '%%s' '%s' | '%s' -q fdsrc fd=0 ! primatokenizer model=%s "
      "! primaloop name=loop model=%s n-predict=64 ! primalayers model=%s ! primasampler temperature=0 "
      "! tee name=t ! queue ! primadetokenizer model=%s ! fdsink fd=1  t. ! primafeedback",
      ref->prompt, g_getenv ("GST_LAUNCH"), model, model, model, model);
  gchar *argv[] = { (gchar *) "/bin/sh", (gchar *) "-c", cmd, NULL };
  gchar *out = NULL, *err = NULL;
  GError *error = NULL;
  gint status;

  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error),
      "%s", error ? error->message : "");
  fail_unless (g_spawn_check_wait_status (status, NULL), "gst-launch-1.0 failed: %s", err);
  fail_unless_equals_string (out, ref->greedy_text);
  /* the graph has no cycle: GstBin has nothing to warn about */
  fail_unless (strstr (err, "loop detected") == NULL, "%s", err);
  g_free (out);
  g_free (err);
  g_free (cmd);
  reference_free (ref);
}

GST_START_TEST (test_gst_launch)
{
  gchar *model = model_path ();
  check_gst_launch (model, REFERENCE);
  g_free (model);
}

GST_END_TEST;

/* The same on the embedded default model of data/. */
GST_START_TEST (test_gst_launch_embedded)
{
  gchar *model = g_build_filename (g_getenv ("PRIMA_DATA_DIR"), "TinyStories-656K-f32.gguf", NULL);
  check_gst_launch (model, "TinyStories-656K-f32.json");
  g_free (model);
}

GST_END_TEST;

/* ---- chat.pipeline: three turns in one go ---- */

typedef struct
{
  gint prompt_tokens, generated, decode_tokens, position;
  gchar *reason;
} Turn;

GST_START_TEST (test_chat_pipeline)
{
  gchar *model = test_data_path ("TinyStories-656K-q8_0.gguf");
  gchar *desc = read_pipeline ("chat.pipeline");
  const gchar *input = "Hello\nTell me about a cat\n\nAnd the dog?";
  const gchar *users[3] = { "Hello", "Tell me about a cat", "And the dog?" };
  gguf_file *file = gguf_open (model, NULL);
  prima_tokenizer *tok = prima_tokenizer_new (file, NULL);
  GError *error = NULL;
  GstElement *pipeline, *layers;
  GstBus *bus;
  GArray *turns = g_array_new (FALSE, TRUE, sizeof (Turn));
  guint64 n_evaluated = 0;
  gint sum = 0;
  int fds[2], out[2];
  gchar buf[65536];
  gssize n;

  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  fail_unless (pipe (fds) == 0 && pipe (out) == 0);
  fail_unless_equals_int (write (fds[1], input, strlen (input)), (int) strlen (input));
  close (fds[1]);
  set_by_name (pipeline, "input", "fd", fds[0], NULL);
  set_by_name (pipeline, "output", "fd", out[1], NULL);
  set_by_name (pipeline, "tokenizer", "model", model, NULL);
  set_by_name (pipeline, "loop", "model", model, "n-predict", 12, NULL);
  set_by_name (pipeline, "layers", "model", model, "context-size", 256, NULL);
  set_by_name (pipeline, "sampler", "temperature", 0.0f, NULL);
  set_by_name (pipeline, "detokenizer", "model", model, NULL);
  layers = gst_bin_get_by_name (GST_BIN (pipeline), "layers");

  bus = gst_element_get_bus (pipeline);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "the chat did not end");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &error, NULL);
      fail ("%s", error->message);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      gst_message_unref (msg);
      break;
    }
    if (gst_structure_has_name (gst_message_get_structure (msg), PRIMA_MESSAGE_TURN)) {
      Turn t = { 0 };
      gboolean chat = FALSE;
      gst_structure_get (gst_message_get_structure (msg), "prompt-tokens", G_TYPE_INT, &t.prompt_tokens,
          "generated", G_TYPE_INT, &t.generated, "decode-tokens", G_TYPE_INT, &t.decode_tokens,
          "position", G_TYPE_INT, &t.position, "reason", G_TYPE_STRING, &t.reason, "chat", G_TYPE_BOOLEAN, &chat,
          NULL);
      fail_unless (chat);
      g_array_append_val (turns, t);
    }
    gst_message_unref (msg);
  }
  g_object_get (layers, "n-evaluated", &n_evaluated, NULL);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  close (out[1]);
  n = read (out[0], buf, sizeof buf - 1);
  fail_unless (n > 0, "no text came out");

  /* three turns (the empty line is none); each evaluates its own prompt and
   * the fed-back tokens, never an earlier turn */
  fail_unless_equals_int (turns->len, 3);
  for (guint i = 0; i < turns->len; i++) {
    Turn *t = &g_array_index (turns, Turn, i);
    fail_unless_equals_string (t->reason, "n-predict");
    fail_unless_equals_int (t->generated, 12);
    sum += t->prompt_tokens + t->decode_tokens;
    fail_unless_equals_int (t->position, sum);
    if (i > 0) {
      /* only the new turn: "<|im_end|>\n" closing the answer and the
       * rendered user message */
      prima_chat_message m = { "user", users[i] };
      gchar *alone = prima_chat_template_render (PRIMA_CHAT_TEMPLATE_CHATML, &m, 1, TRUE, NULL, NULL, NULL);
      gchar *delta = g_strconcat ("<|im_end|>\n", alone, NULL);
      GArray *want = prima_tokenize (tok, delta, -1, FALSE, TRUE);
      fail_unless (t->prompt_tokens <= (gint) want->len + 2, "turn %u sent %d tokens for %u of new text", i + 1,
          t->prompt_tokens, want->len);
      g_array_free (want, TRUE);
      g_free (delta);
      g_free (alone);
    }
    g_free (t->reason);
  }
  fail_unless_equals_int ((gint) n_evaluated, sum);

  g_array_free (turns, TRUE);
  gst_object_unref (layers);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  close (fds[0]);
  close (out[0]);
  prima_tokenizer_free (tok);
  gguf_close (file);
  g_free (desc);
  g_free (model);
}

GST_END_TEST;

/* ---- issue 11: refused messages, bad input, missing feedback, corrupt
 * weights (the empty prompt is in test-primatokenizer.c) ---- */

typedef struct
{
  gint prompt_tokens, generated, shifts;
  gchar *reason;
} ChatTurn;

/* chat.pipeline on @input with the small q8_0 model, greedy, @n_ctx
 * positions; returns the turns (prima-turn messages) and the warnings. */
static GArray *
chat_turns (const gchar * input, gint n_ctx, gint n_predict, gboolean shift, GString * warnings)
{
  gchar *model = test_data_path ("TinyStories-656K-q8_0.gguf");
  gchar *desc = read_pipeline ("chat.pipeline");
  GArray *turns = g_array_new (FALSE, TRUE, sizeof (ChatTurn));
  GError *error = NULL;
  GstElement *pipeline;
  GstBus *bus;
  int fds[2], out_fd;

  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL, "%s", error ? error->message : "");
  fail_unless (pipe (fds) == 0);
  fail_unless_equals_int (write (fds[1], input, strlen (input)), (int) strlen (input));
  close (fds[1]);
  out_fd = g_open ("/dev/null", O_WRONLY, 0);
  set_by_name (pipeline, "input", "fd", fds[0], NULL);
  set_by_name (pipeline, "output", "fd", out_fd, NULL);
  set_by_name (pipeline, "tokenizer", "model", model, "chat-template", "chatml", NULL);
  set_by_name (pipeline, "loop", "model", model, "n-predict", n_predict, "context-shift", shift, NULL);
  set_by_name (pipeline, "layers", "model", model, "context-size", n_ctx, NULL);
  set_by_name (pipeline, "sampler", "temperature", 0.0f, NULL);
  set_by_name (pipeline, "detokenizer", "model", model, NULL);

  bus = gst_element_get_bus (pipeline);
  fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  for (;;) {
    GstMessage *msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
        GST_MESSAGE_ERROR | GST_MESSAGE_WARNING | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT);
    fail_unless (msg != NULL, "the chat did not end");
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &error, NULL);
      fail ("%s", error->message);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      gst_message_parse_warning (msg, &error, NULL);
      g_string_append_printf (warnings, "%s\n", error->message);
      g_clear_error (&error);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      gst_message_unref (msg);
      break;
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && gst_structure_has_name (gst_message_get_structure (msg), PRIMA_MESSAGE_TURN)) {
      ChatTurn t = { 0 };
      gst_structure_get (gst_message_get_structure (msg), "prompt-tokens", G_TYPE_INT, &t.prompt_tokens,
          "generated", G_TYPE_INT, &t.generated, "context-shifts", G_TYPE_INT, &t.shifts,
          "reason", G_TYPE_STRING, &t.reason, NULL);
      g_array_append_val (turns, t);
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  close (out_fd);
  close (fds[0]);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (model);
  return turns;
}

static void
chat_turns_free (GArray * turns)
{
  for (guint i = 0; i < turns->len; i++)
    g_free (g_array_index (turns, ChatTurn, i).reason);
  g_array_free (turns, TRUE);
}

/* A message too long for the context is refused, and leaves the
 * conversation as it was: the next message is answered (it was refused too,
 * with a growing count, when the tokenizer kept the long one). */
GST_START_TEST (test_chat_refused_message)
{
  GString *input = g_string_new ("Once upon a time\n");
  GString *warnings = g_string_new (NULL);
  GArray *turns;
  ChatTurn *t;

  for (gint i = 0; i < 40; i++)
    g_string_append (input, "the dog ran fast. ");
  g_string_append (input, "\nhi\n");
  turns = chat_turns (input->str, 128, 10, TRUE, warnings);
  fail_unless_equals_int (turns->len, 3);
  t = &g_array_index (turns, ChatTurn, 0);
  fail_unless_equals_string (t->reason, "n-predict");
  t = &g_array_index (turns, ChatTurn, 1);
  fail_unless_equals_string (t->reason, "context-full");
  fail_unless_equals_int (t->generated, 0);
  t = &g_array_index (turns, ChatTurn, 2);
  fail_unless_equals_string (t->reason, "n-predict");
  fail_unless_equals_int (t->generated, 10);
  /* only the user's short line and the template's markers went out */
  fail_unless (t->prompt_tokens < 48, "the last turn sent %d tokens", t->prompt_tokens);
  fail_unless (strstr (warnings->str, "does not fit in the context") != NULL, "%s", warnings->str);
  fail_unless (strstr (strstr (warnings->str, "does not fit") + 1, "does not fit") == NULL,
      "more than one message refused: %s", warnings->str);
  chat_turns_free (turns);
  g_string_free (warnings, TRUE);
  g_string_free (input, TRUE);
}

GST_END_TEST;

/* 30 ordinary turns in 64 positions: the chat goes on by context shift, every
 * message is answered (even where the first prompt is most of the context). */
GST_START_TEST (test_chat_context_shift_turns)
{
  GString *input = g_string_new (NULL);
  GString *warnings = g_string_new (NULL);
  GArray *turns;
  gint shifts = 0;

  for (gint i = 1; i <= 30; i++)
    g_string_append_printf (input, "Tell me about the cat number %d\n", i);
  turns = chat_turns (input->str, 64, 10, TRUE, warnings);
  fail_unless_equals_int (turns->len, 30);
  for (guint i = 0; i < turns->len; i++) {
    ChatTurn *t = &g_array_index (turns, ChatTurn, i);
    fail_unless_equals_string (t->reason, "n-predict");
    fail_unless_equals_int (t->generated, 10);
    shifts += t->shifts;
  }
  fail_unless (shifts > 0);
  fail_unless (strstr (warnings->str, "does not fit") == NULL, "%s", warnings->str);
  chat_turns_free (turns);
  g_string_free (warnings, TRUE);
  g_string_free (input, TRUE);
}

GST_END_TEST;

/* A line that is not UTF-8 is refused with a warning; the chat goes on. */
GST_START_TEST (test_chat_invalid_utf8)
{
  GString *warnings = g_string_new (NULL);
  GArray *turns = chat_turns ("Hello\n\xff\xfe bad\nhi\n", 256, 8, FALSE, warnings);

  fail_unless_equals_int (turns->len, 3);
  fail_unless_equals_string (g_array_index (turns, ChatTurn, 0).reason, "n-predict");
  fail_unless_equals_string (g_array_index (turns, ChatTurn, 1).reason, "empty");
  fail_unless_equals_int (g_array_index (turns, ChatTurn, 1).prompt_tokens, 0);
  fail_unless_equals_string (g_array_index (turns, ChatTurn, 2).reason, "n-predict");
  fail_unless_equals_int (g_array_index (turns, ChatTurn, 2).generated, 8);
  fail_unless (strstr (warnings->str, "not valid UTF-8") != NULL, "%s", warnings->str);
  chat_turns_free (turns);
  g_string_free (warnings, TRUE);
}

GST_END_TEST;

/* A pipeline without primafeedback (or with it on another channel) gets
 * an error instead of waiting forever for the first sampled token. */
GST_START_TEST (test_loop_without_feedback)
{
  gchar *model = model_path ();
  const gchar *variants[2] = { "", "t. ! primafeedback channel=nobody" };

  for (guint i = 0; i < G_N_ELEMENTS (variants); i++) {
    gchar *desc = g_strdup_printf ("fdsrc name=input ! primatokenizer model=%s ! primaloop model=%s n-predict=8 "
        "! primalayers model=%s ! primasampler temperature=0 ! tee name=t ! primadetokenizer model=%s "
        "! fakesink %s", model, model, model, model, variants[i]);
    GError *error = NULL;
    GstElement *pipeline = gst_parse_launch (desc, &error);
    GstMessage *msg;
    int fds[2];

    fail_unless (pipeline != NULL, "%s", error ? error->message : "");
    fail_unless (pipe (fds) == 0);
    fail_unless_equals_int (write (fds[1], "Once", 4), 4);
    close (fds[1]);
    set_by_name (pipeline, "input", "fd", fds[0], NULL);
    msg = run_pipeline (pipeline, 60 * GST_SECOND);
    fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_ERROR);
    gst_message_parse_error (msg, &error, NULL);
    if (i == 0) {
      fail_unless_equals_string (error->message,
          "No primafeedback hands the sampled tokens back to the primaloop of the channel \"default\".");
    } else {
      fail_unless (strstr (error->message, "channel") != NULL, "%s", error->message);
    }
    g_clear_error (&error);
    gst_message_unref (msg);
    gst_object_unref (pipeline);
    close (fds[0]);
    g_free (desc);
  }
  g_free (model);
}

GST_END_TEST;

/* prima run -cnv through stdin: a line that is not UTF-8 and a message too
 * long for the context are refused with one line each, and the last message
 * is answered. */
GST_START_TEST (test_run_chat_goes_on)
{
  GString *input = g_string_new ("Hello\\n\\377\\376 bad\\n");
  gchar *cmd, *out = NULL, *err = NULL;
  gchar *argv[4] = { (gchar *) "/bin/sh", (gchar *) "-c", NULL, NULL };
  gint status;

  for (gint i = 0; i < 40; i++)
    g_string_append (input, "the dog ran fast. ");
  g_string_append (input, "\\nhi\\n");
  cmd = g_strdup_printf ("printf '%s' | '%s' run -cnv --verbose -c 128 -n 8 --temp 0 -t 2", input->str,
      g_getenv ("PRIMA_BIN"));
  argv[2] = cmd;
  fail_unless (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, NULL));
  fail_unless (g_spawn_check_wait_status (status, NULL), "%s", err);
  fail_unless (strstr (err, "prima run: warning: The message is not valid UTF-8 text: it is not answered.\n"),
      "%s", err);
  fail_unless (strstr (err, "prima run: warning: The message does not fit in the context of 128 positions"), "%s",
      err);
  fail_unless (strstr (err, "turn 4: ") && strstr (strstr (err, "turn 4: "), "8 generated"), "%s", err);
  g_free (out);
  g_free (err);
  g_free (cmd);
  g_string_free (input, TRUE);
}

GST_END_TEST;

/* A model with a NaN in the weights of layer 2: prima run stops with an
 * error that names the layer (it printed nothing and exited 0). */
GST_START_TEST (test_run_nan_weights)
{
  gchar *model = model_path ();
  gchar *dir = g_dir_make_tmp ("prima-gst-XXXXXX", NULL);
  gchar *bad = g_build_filename (dir, "nan.gguf", NULL);
  const guint32 nan_bits = 0x7fc00000;
  gchar *contents = NULL, *cmd, *out = NULL, *err = NULL;
  const gguf_tensor *t;
  gguf_file *file;
  gsize len;
  gint status;
  guint64 at;

  fail_unless (g_file_get_contents (model, &contents, &len, NULL));
  file = gguf_open (model, NULL);
  fail_unless (file != NULL);
  t = gguf_find_tensor (file, "blk.2.ffn_down.weight");
  fail_unless (t != NULL && t->type == PRIMA_TYPE_F32);
  at = gguf_data_offset (file) + t->offset + 4 * 7;
  fail_unless (at + 4 <= len);
  memcpy (contents + at, &nan_bits, 4);
  gguf_close (file);
  fail_unless (g_file_set_contents (bad, contents, len, NULL));

  cmd = g_strdup_printf ("'%s' run -m '%s' -p 'Once upon a time' -n 8 --temp 0 -t 2", g_getenv ("PRIMA_BIN"), bad);
  fail_unless (g_spawn_command_line_sync (cmd, &out, &err, &status, NULL));
  fail_if (g_spawn_check_wait_status (status, NULL), "prima run exited 0 on a NaN model: %s", err);
  fail_unless (strstr (err, "NaN or infinite values from layer 2 (blk.2)") != NULL, "%s", err);

  g_unlink (bad);
  g_rmdir (dir);
  g_free (cmd);
  g_free (out);
  g_free (err);
  g_free (contents);
  g_free (bad);
  g_free (dir);
  g_free (model);
}

GST_END_TEST;

static Suite *
pipelines_suite (void)
{
  Suite *s = suite_create ("pipelines");
  TCase *tc = tcase_create ("pipelines");

  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_generate_pipeline);
  tcase_add_test (tc, test_generate_n_predict);
  tcase_add_test (tc, test_generate_stop);
  tcase_add_test (tc, test_generate_until_end);
  tcase_add_test (tc, test_gst_launch);
  tcase_add_test (tc, test_gst_launch_embedded);
  tcase_add_test (tc, test_chat_pipeline);
  tcase_add_test (tc, test_chat_refused_message);
  tcase_add_test (tc, test_chat_context_shift_turns);
  tcase_add_test (tc, test_chat_invalid_utf8);
  tcase_add_test (tc, test_loop_without_feedback);
  tcase_add_test (tc, test_run_nan_weights);
  tcase_add_test (tc, test_run_chat_goes_on);
  return s;
}

GST_TEST_MAIN (pipelines_suite, "pipelines");
