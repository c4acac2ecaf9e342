/* gst-prima: the serving engine (pipelines/serve/prima-engine.c): concurrent
 * jobs in one batched pass give each the text of its solo run, the prompt
 * cache, stop strings, lengths, cancelling, a full queue, bad requests.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <string.h>

#include "test-common.h"
#include "prima-engine.h"
#include "engine-backend.h"
#include "model.h"
#include "tokenizer.h"
#include "forward.h"
#include "ring-head.h"

static char *model_path;

/* Greedy generation with the bare core, one sequence: what the engine must
 * give a temperature-0 job (stop strings aside). */
static char *
solo_greedy (const char *prompt, int max_tokens, gboolean is_chat_text)
{
  GError *error = NULL;
  prima_model *m = prima_model_load (model_path, &error);
  g_assert_no_error (error);
  prima_tokenizer *tok = prima_tokenizer_new (m->file, &error);
  g_assert_no_error (error);
  GArray *ids = prima_tokenize (tok, prompt, -1, !is_chat_text, TRUE);
  /* a rendered chat gets the BOS the model asks for unless it has it (prima run -cnv) */
  if (is_chat_text)
    prima_tokenizer_prepend_bos (tok, ids);
  prima_context_params cp = { .n_ctx = 512, .n_threads = 2 };
  prima_context *ctx = prima_context_new (m, &cp, &error);
  g_assert_no_error (error);
  float *logits = g_new (float, m->hp.n_vocab);
  GString *out = g_string_new (NULL);
  int pos = 0;

  g_assert_true (prima_context_eval (ctx, ids->len, (int32_t *) ids->data, NULL, 0, logits, FALSE, &error));
  pos = ids->len;
  for (int i = 0; i < max_tokens; i++) {
    int32_t t = prima_argmax (logits, m->hp.n_vocab);
    if (prima_tokenizer_is_eog (tok, t))
      break;
    prima_token_to_piece (tok, t, FALSE, out);
    if (i + 1 == max_tokens)
      break;
    g_assert_true (prima_context_eval (ctx, 1, &t, NULL, pos++, logits, FALSE, &error));
  }
  g_free (logits);
  prima_context_free (ctx);
  g_array_unref (ids);
  prima_tokenizer_free (tok);
  prima_model_free (m);
  return g_string_free (out, FALSE);
}

typedef struct {
  PrimaJob *job;
  GString *streamed;
  guint n_text_tokens;
  int finished;
  PrimaFinishReason reason;
  gboolean started;
} Watch;

static void
on_started (PrimaJob *job, Watch *w)
{
  w->started = TRUE;
}

static void
on_text (PrimaJob *job, const char *delta, guint n, Watch *w)
{
  g_assert_true (g_utf8_validate (delta, -1, NULL));
  g_assert_false (w->finished);
  g_string_append (w->streamed, delta);
  w->n_text_tokens += n;
}

static void
on_finished (PrimaJob *job, int reason, Watch *w)
{
  w->finished++;
  w->reason = reason;
}

static Watch *
watch (PrimaJob *job)
{
  Watch *w = g_new0 (Watch, 1);
  w->job = job;
  w->streamed = g_string_new (NULL);
  g_signal_connect (job, "started", G_CALLBACK (on_started), w);
  g_signal_connect (job, "text", G_CALLBACK (on_text), w);
  g_signal_connect (job, "finished", G_CALLBACK (on_finished), w);
  return w;
}

static void
watch_free (Watch *w)
{
  g_string_free (w->streamed, TRUE);
  g_object_unref (w->job);
  g_free (w);
}

static void
wait_finished (Watch **ws, int n)
{
  gint64 end = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  for (;;) {
    int done = 0;
    for (int i = 0; i < n; i++)
      done += ws[i]->finished > 0;
    if (done == n)
      break;
    g_assert_cmpint (g_get_monotonic_time (), <, end);
    g_main_context_iteration (NULL, TRUE);
  }
  /* nothing arrives after "finished" */
  while (g_main_context_iteration (NULL, FALSE));
  for (int i = 0; i < n; i++)
    g_assert_cmpint (ws[i]->finished, ==, 1);
}

static PrimaEngine *
new_engine (int parallel, int max_queued)
{
  PrimaEngineOptions o = { .model_path = model_path, .n_ctx = 256, .n_threads = 2, .n_parallel = parallel,
    .max_queued = max_queued };
  GError *error = NULL;
  PrimaEngine *e = prima_engine_new (&o, &error);
  g_assert_no_error (error);
  return e;
}

static PrimaJob *
submit (PrimaEngine *e, const char *prompt, int max_tokens, const char *const *stop)
{
  PrimaJobParams p;
  GError *error = NULL;
  prima_job_params_init (&p);
  p.prompt = prompt;
  p.max_tokens = max_tokens;
  p.sampling.temperature = 0;
  p.stop = stop;
  PrimaJob *job = prima_engine_submit (e, &p, &error);
  g_assert_no_error (error);
  return job;
}

static const char *prompts[] = {
  "Once upon a time", "The little dog", "Lily and Tom went to the park", "One day, a big bear",
  "Sam had a red ball. He", "The sun was hot and",
};

/* Six jobs at once on four slots: every text equals its solo run, in the
 * streamed pieces too; the last two wait for a slot. */
static void
test_concurrent_equal_solo (void)
{
  PrimaEngine *e = new_engine (4, 8);
  const int n = G_N_ELEMENTS (prompts), max = 24;
  Watch *ws[G_N_ELEMENTS (prompts)];

  for (int i = 0; i < n; i++)
    ws[i] = watch (submit (e, prompts[i], max, NULL));
  wait_finished (ws, n);
  for (int i = 0; i < n; i++) {
    char *want = solo_greedy (prompts[i], max, FALSE);
    g_assert_cmpstr (ws[i]->streamed->str, ==, want);
    g_assert_cmpstr (prima_job_get_text (ws[i]->job), ==, want);
    g_assert_true (ws[i]->started);
    g_assert_true (ws[i]->reason == PRIMA_FINISH_LENGTH || ws[i]->reason == PRIMA_FINISH_STOP);
    if (ws[i]->reason == PRIMA_FINISH_LENGTH)
      g_assert_cmpint (prima_job_get_n_predicted (ws[i]->job), ==, max);
    g_assert_cmpuint (ws[i]->n_text_tokens, ==, prima_job_get_n_predicted (ws[i]->job));
    g_assert_cmpfloat (prima_job_get_ttft_seconds (ws[i]->job), >, 0);
    g_free (want);
    watch_free (ws[i]);
  }
  PrimaEngineStats st;
  prima_engine_get_stats (e, &st);
  g_assert_cmpuint (st.jobs_done, ==, n);
  g_assert_cmpuint (st.running, ==, 0);
  g_assert_cmpuint (st.n_devices, ==, 1);
  g_assert_cmpuint (st.ttft_count, ==, n);
  prima_engine_stats_clear (&st);
  prima_engine_stop (e);
  g_object_unref (e);
}

/* The same prompt again reuses the slot's cache and gives the same text;
 * a longer prompt that starts like it reuses the shared part. */
static void
test_prompt_cache (void)
{
  PrimaEngine *e = new_engine (2, 4);
  Watch *w[1];
  char *first;

  w[0] = watch (submit (e, prompts[2], 16, NULL));
  wait_finished (w, 1);
  g_assert_cmpint (prima_job_get_n_cached (w[0]->job), ==, 0);
  first = g_strdup (w[0]->streamed->str);
  watch_free (w[0]);

  w[0] = watch (submit (e, prompts[2], 16, NULL));
  wait_finished (w, 1);
  g_assert_cmpint (prima_job_get_n_cached (w[0]->job), ==, prima_job_get_n_prompt (w[0]->job) - 1);
  g_assert_cmpstr (w[0]->streamed->str, ==, first);
  watch_free (w[0]);

  {
    char *longer = g_strconcat (prompts[2], first, " and then", NULL);
    char *want = solo_greedy (longer, 12, FALSE);
    w[0] = watch (submit (e, longer, 12, NULL));
    wait_finished (w, 1);
    g_assert_cmpint (prima_job_get_n_cached (w[0]->job), >, 3);
    g_assert_cmpstr (w[0]->streamed->str, ==, want);
    watch_free (w[0]);
    g_free (want);
    g_free (longer);
  }
  g_free (first);
  g_object_unref (e);           /* dispose stops it */
}

/* A stop string ends the answer before it; its partial matches are held
 * back and released when they do not complete. */
static void
test_stop_string (void)
{
  PrimaEngine *e = new_engine (1, 4);
  char *full = solo_greedy (prompts[0], 40, FALSE);
  /* a stop string from the middle of the answer: the text before it */
  const char *cut = full + strlen (full) / 2;
  char stop_text[8];
  Watch *w[1];

  g_utf8_strncpy (stop_text, cut, 3);
  const char *stop[] = { "zzzzqqq", stop_text, NULL };
  char *want = g_strndup (full, strstr (full, stop_text) - full);
  w[0] = watch (submit (e, prompts[0], 40, stop));
  wait_finished (w, 1);
  g_assert_cmpint (w[0]->reason, ==, PRIMA_FINISH_STOP);
  g_assert_cmpstr (w[0]->streamed->str, ==, want);
  watch_free (w[0]);
  g_free (want);
  g_free (full);
  prima_engine_stop (e);
  g_object_unref (e);
}

static gboolean
cancel_after_text (gpointer data)
{
  Watch *w = data;
  if (w->n_text_tokens < 3 && !w->finished)
    return G_SOURCE_CONTINUE;
  prima_job_cancel (w->job);
  return G_SOURCE_REMOVE;
}

/* A running job and a queued one are cancelled; a full queue says busy;
 * the engine goes on serving. */
static void
test_cancel_and_busy (void)
{
  PrimaEngine *e = new_engine (1, 1);
  Watch *w[3];
  GError *error = NULL;
  PrimaJobParams p;

  w[0] = watch (submit (e, prompts[1], -1, NULL));
  w[1] = watch (submit (e, prompts[2], 8, NULL));
  prima_job_params_init (&p);
  p.prompt = prompts[3];
  g_assert_null (prima_engine_submit (e, &p, &error));
  g_assert_error (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_BUSY);
  g_clear_error (&error);
  prima_job_cancel (w[1]->job);
  g_timeout_add (5, cancel_after_text, w[0]);
  wait_finished (w, 2);
  g_assert_cmpint (w[1]->reason, ==, PRIMA_FINISH_CANCELLED);
  g_assert_false (w[1]->started);
  g_assert_cmpint (w[0]->reason, ==, PRIMA_FINISH_CANCELLED);
  g_assert_cmpuint (w[0]->n_text_tokens, >=, 3);
  prima_job_cancel (w[0]->job);         /* a finished job stays as it is */
  g_assert_cmpint (prima_job_get_finish_reason (w[0]->job), ==, PRIMA_FINISH_CANCELLED);

  w[2] = watch (submit (e, prompts[0], 10, NULL));
  wait_finished (w + 2, 1);
  char *want = solo_greedy (prompts[0], 10, FALSE);
  g_assert_cmpstr (w[2]->streamed->str, ==, want);
  g_free (want);
  for (int i = 0; i < 3; i++)
    watch_free (w[i]);
  PrimaEngineStats st;
  prima_engine_get_stats (e, &st);
  g_assert_cmpuint (st.jobs_cancelled, ==, 2);
  g_assert_cmpuint (st.jobs_rejected, ==, 1);
  prima_engine_stats_clear (&st);
  g_object_unref (e);
}

/* Stopping with jobs running and queued: each gets "finished" (cancelled)
 * before prima_engine_stop returns; then submit says stopped. */
static void
test_stop_with_jobs (void)
{
  PrimaEngine *e = new_engine (1, 4);
  Watch *w[2];
  GError *error = NULL;
  PrimaJobParams p;

  w[0] = watch (submit (e, prompts[4], -1, NULL));
  w[1] = watch (submit (e, prompts[5], -1, NULL));
  prima_engine_stop (e);
  g_assert_cmpint (w[0]->finished, ==, 1);
  g_assert_cmpint (w[1]->finished, ==, 1);
  g_assert_cmpint (w[0]->reason, ==, PRIMA_FINISH_CANCELLED);
  g_assert_cmpint (w[1]->reason, ==, PRIMA_FINISH_CANCELLED);
  prima_job_params_init (&p);
  p.prompt = prompts[0];
  g_assert_null (prima_engine_submit (e, &p, &error));
  g_assert_error (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_STOPPED);
  g_clear_error (&error);
  watch_free (w[0]);
  watch_free (w[1]);
  g_object_unref (e);
}

/* Requests that cannot run are refused at once, naming why. */
static void
test_bad_requests (void)
{
  PrimaEngine *e = new_engine (1, 1);
  GError *error = NULL;
  PrimaJobParams p;
  GString *huge = g_string_new (NULL);
  const prima_chat_message msgs[] = { { "user", "\xff\xfe" } };
  const char *empty_stop[] = { "", NULL };

  for (int i = 0; i < 400; i++)
    g_string_append (huge, "once upon a time ");
  prima_job_params_init (&p);
  p.prompt = huge->str;
  g_assert_null (prima_engine_submit (e, &p, &error));
  g_assert_error (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_TOO_LONG);
  g_assert_nonnull (strstr (error->message, "context holds 256"));
  g_clear_error (&error);

  prima_job_params_init (&p);
  g_assert_null (prima_engine_submit (e, &p, &error));
  g_assert_error (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  prima_job_params_init (&p);
  p.messages = msgs;
  p.n_messages = 1;
  g_assert_null (prima_engine_submit (e, &p, &error));
  g_assert_error (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  prima_job_params_init (&p);
  p.prompt = "Hello";
  p.stop = empty_stop;
  g_assert_null (prima_engine_submit (e, &p, &error));
  g_assert_error (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_INVALID);
  g_clear_error (&error);

  prima_job_params_init (&p);
  p.prompt = "Hello";
  p.sampling.temperature = -1;
  g_assert_null (prima_engine_submit (e, &p, &error));
  g_assert_error (error, PRIMA_ENGINE_ERROR, PRIMA_ENGINE_ERROR_INVALID);
  g_clear_error (&error);
  g_string_free (huge, TRUE);
  g_object_unref (e);
}

/* A chat turn is rendered with the template and answered as prima run -cnv
 * answers it: the rendered text, with the model's BOS before it when the
 * template did not write one. */
static void
test_chat (void)
{
  PrimaEngine *e = new_engine (2, 2);
  const prima_chat_message msgs[] = { { "system", "You tell stories." }, { "user", "Tell me about a cat." } };
  PrimaJobParams p;
  GError *error = NULL;
  Watch *w[1];

  prima_job_params_init (&p);
  p.messages = msgs;
  p.n_messages = 2;
  p.max_tokens = 16;
  p.sampling.temperature = 0;
  w[0] = watch (prima_engine_submit (e, &p, &error));
  g_assert_no_error (error);
  wait_finished (w, 1);
  char *rendered = prima_engine_render_chat (e, msgs, 2);
  char *want = solo_greedy (rendered, 16, TRUE);
  g_assert_cmpstr (w[0]->streamed->str, ==, want);
  g_free (want);
  g_free (rendered);
  watch_free (w[0]);
  g_object_unref (e);
}

static char *
run_texts (PrimaEngine *e, const char *const *ps, int n, int max)
{
  GString *all = g_string_new (NULL);
  for (int i = 0; i < n; i++) {
    Watch *w[1] = { watch (submit (e, ps[i], max, NULL)) };
    wait_finished (w, 1);
    g_assert_cmpint (w[0]->reason, !=, PRIMA_FINISH_ERROR);
    g_string_append_printf (all, "[%d cached %d] %s\n", i, prima_job_get_n_cached (w[0]->job) > 0,
        w[0]->streamed->str);
    watch_free (w[0]);
  }
  return g_string_free (all, FALSE);
}

/* A ring of three processes (two local workers) serves the texts of one
 * device, the prompt cache included (an earlier position rolls the ring's
 * caches back). */
static void
test_ring_equals_local (void)
{
  char *small = test_data_path ("stories260K-f32.gguf");
  PrimaRingOptions ro = PRIMA_RING_OPTIONS_INIT;
  PrimaEngineOptions o = { .model_path = small, .n_ctx = 128, .n_threads = 1, .n_parallel = 1 };
  const char *ps[] = { "Once upon a time", "Once upon a time there", "The cat", "Once upon a time" };
  GError *error = NULL;
  PrimaEngine *e;
  char *local, *ring;

  if (!g_getenv ("PRIMA_BIN")) {
    g_test_skip ("PRIMA_BIN (the prima program for the workers) is not set");
    g_free (small);
    return;
  }
  e = prima_engine_new (&o, &error);
  g_assert_no_error (error);
  local = run_texts (e, ps, G_N_ELEMENTS (ps), 20);
  g_object_unref (e);

  ro.local_ring = 3;
  ro.lw = "2,2,1";
  ro.port = 20000 + g_random_int_range (0, 12000);
  ro.ring_timeout_s = 60;
  g_assert_true (prima_ring_check_options ("serve", &ro));
  o.ring = &ro;
  e = prima_engine_new (&o, &error);
  g_assert_no_error (error);
  g_assert_nonnull (prima_engine_get_plan_json (e));
  PrimaEngineStats st;
  prima_engine_get_stats (e, &st);
  g_assert_cmpuint (st.n_devices, ==, 3);
  g_assert_cmpstr (st.devices[2].layers, ==, "2-3");   /* the plan's windows: end excluded */
  prima_engine_stats_clear (&st);
  ring = run_texts (e, ps, G_N_ELEMENTS (ps), 20);
  prima_engine_stop (e);
  g_object_unref (e);
  g_assert_cmpstr (ring, ==, local);
  g_free (local);
  g_free (ring);
  g_free (small);
}

/* Over a ring of three processes every device reports measured time: the
 * workers their layers' and their sends' (stats messages to the head), the
 * head its own and the laps; once the ring is idle the reports add up to
 * the laps and the transfer is derived from them. */
static void
test_ring_device_stats (void)
{
  char *small = test_data_path ("stories260K-f32.gguf");
  PrimaRingOptions ro = PRIMA_RING_OPTIONS_INIT;
  PrimaEngineOptions o = { .model_path = small, .n_ctx = 128, .n_threads = 1, .n_parallel = 1 };
  const char *ps[] = { "Once upon a time", "The cat" };
  GError *error = NULL;
  PrimaEngineStats st;
  PrimaEngine *e;
  gint64 end;
  double workers = 0;

  if (!g_getenv ("PRIMA_BIN")) {
    g_test_skip ("PRIMA_BIN (the prima program for the workers) is not set");
    g_free (small);
    return;
  }
  ro.local_ring = 3;
  ro.lw = "2,2,1";
  ro.port = 20000 + g_random_int_range (0, 12000);
  ro.ring_timeout_s = 60;
  g_assert_true (prima_ring_check_options ("serve", &ro));
  o.ring = &ro;
  e = prima_engine_new (&o, &error);
  g_assert_no_error (error);
  g_free (run_texts (e, ps, G_N_ELEMENTS (ps), 8));

  /* a worker reports once a second while frames flow: wait for the reports
   * that cover every lap (the transfer is derived only from those) */
  end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
  for (;;) {
    prima_engine_get_stats (e, &st);
    if (st.ring_laps > 0 && st.ring_transfer_laps == st.ring_laps)
      break;
    prima_engine_stats_clear (&st);
    g_assert_cmpint (g_get_monotonic_time (), <, end);
    g_usleep (50 * 1000);
    while (g_main_context_iteration (NULL, FALSE));
  }
  g_assert_cmpuint (st.n_devices, ==, 3);
  for (guint r = 0; r < st.n_devices; r++)
    g_test_message ("rank %d (%s): %" G_GUINT64_FORMAT " rounds, compute %.6f s, send %.6f s", st.devices[r].rank,
        st.devices[r].layers, st.devices[r].rounds, st.devices[r].compute_seconds, st.devices[r].hop_seconds);
  g_test_message ("%" G_GUINT64_FORMAT " laps: %.6f s; transfer (derived) %.6f s", st.ring_laps,
      st.ring_lap_seconds, st.ring_transfer_seconds);
  /* the head: its windows and sends, timed on its clock */
  g_assert_cmpfloat (st.devices[0].compute_seconds, >, 0);
  g_assert_cmpfloat (st.devices[0].hop_seconds, >, 0);
  /* one lap per pass here (no layer of the head between the workers'), at
   * least one pass per job */
  g_assert_cmpuint (st.ring_laps, >=, G_N_ELEMENTS (ps));
  for (guint r = 1; r < 3; r++) {
    g_assert_cmpint (st.devices[r].rank, ==, (int) r);
    g_assert_cmpfloat (st.devices[r].compute_seconds, >, 0);
    g_assert_cmpfloat (st.devices[r].hop_seconds, >, 0);
    /* every lap passed each worker once */
    g_assert_cmpuint (st.devices[r].rounds, ==, st.ring_laps);
    workers += st.devices[r].compute_seconds + st.devices[r].hop_seconds;
  }
  /* the laps hold the workers' time, the head's send and the transfer */
  g_assert_cmpfloat (st.ring_lap_seconds, >, workers);
  g_assert_cmpfloat (st.ring_transfer_seconds, >, 0);
  g_assert_cmpfloat (st.ring_transfer_seconds, <, st.ring_lap_seconds);
  workers += st.devices[0].hop_seconds + st.ring_transfer_seconds;
  g_assert_cmpfloat (st.ring_lap_seconds - workers, <, 1e-5);
  g_assert_cmpfloat (st.ring_lap_seconds - workers, >, -1e-5);
  prima_engine_stats_clear (&st);
  prima_engine_stop (e);
  g_object_unref (e);
  g_free (small);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  model_path = g_build_filename (g_getenv ("PRIMA_DATA_DIR") ? g_getenv ("PRIMA_DATA_DIR") : "data",
      "TinyStories-656K-f32.gguf", NULL);
  g_test_add_func ("/engine/concurrent-equal-solo", test_concurrent_equal_solo);
  g_test_add_func ("/engine/prompt-cache", test_prompt_cache);
  g_test_add_func ("/engine/stop-string", test_stop_string);
  g_test_add_func ("/engine/cancel-and-busy", test_cancel_and_busy);
  g_test_add_func ("/engine/stop-with-jobs", test_stop_with_jobs);
  g_test_add_func ("/engine/bad-requests", test_bad_requests);
  g_test_add_func ("/engine/chat", test_chat);
  g_test_add_func ("/engine/ring-equals-local", test_ring_equals_local);
  g_test_add_func ("/engine/ring-device-stats", test_ring_device_stats);
  return g_test_run ();
}
