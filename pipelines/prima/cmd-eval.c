/* gst-prima: `prima eval`: run a prompt as one batch and write its logits,
 * on this device or over a pipelined ring (pipelines/ring-eval.pipeline).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <glib/gi18n-lib.h>
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>

#include "prima-commands.h"
#include "prima-pipeline.h"
#include "prima-caps.h"
#include "ring-head.h"
#include "cli-args.h"
#include "cmd-options.h"
#include "forward.h"

/* The next error on the bus, printed; TRUE when there was one. */
static gboolean
ring_error (GstBus *bus, GstClockTime timeout, gboolean *eos)
{
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, timeout, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  gboolean failed = FALSE;

  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    /* a failed setup round (primascheduler) has said why on its own line */
    if (!g_error_matches (err, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED)
        || g_strcmp0 (GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), "scheduler") != 0)
      fprintf (stderr, _("prima eval: %s\n"), err->message);
    g_error_free (err);
    failed = TRUE;
  } else if (msg && eos) {
    *eos = TRUE;
  }
  if (msg)
    gst_message_unref (msg);
  return failed;
}

/* The prompt as one batch round the ring; the head's output head gives the
 * logits of every position, as prima_context_eval with all_logits. */
static gboolean
eval_over_ring (PrimaRingOptions *ro, const char *model, int n_vocab, GArray *ids, int n_threads, float *logits)
{
  GstElement *pipeline, *src, *sink;
  GstBus *bus = NULL;
  GstSample *sample = NULL;
  gboolean ok = FALSE, eos = FALSE;
  const gsize want = (gsize) ids->len * n_vocab * sizeof (float);

  ro->command = "eval";
  if (!prima_gst_init ("eval"))
    return FALSE;
  pipeline = prima_pipeline_load ("eval", "ring-eval.pipeline");
  if (pipeline == NULL)
    return FALSE;
  signal (SIGPIPE, SIG_IGN);
  if (!prima_ring_head_setup (ro, pipeline, model, (int) ids->len, n_threads))
    goto out;
  prima_pipeline_set (pipeline, "layers", "model", model, "context-size", (int) ids->len, "threads",
      MAX (n_threads, 0), NULL);
  src = prima_pipeline_get (pipeline, "input");
  sink = prima_pipeline_get (pipeline, "output");
  bus = gst_element_get_bus (pipeline);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    ring_error (bus, 0, NULL);
    goto unref;
  }
  gst_app_src_push_buffer (GST_APP_SRC (src), prima_tokens_buffer_new ((const gint32 *) ids->data, ids->len, 0, 0,
          PRIMA_FLAG_PROMPT));
  /* end-of-stream (the ordered stop) only once the batch is back: with k
   * rounds it passes the head's ring_src k times */
  while (sample == NULL && !gst_app_sink_is_eos (GST_APP_SINK (sink))) {
    sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 50 * GST_MSECOND);
    if (sample == NULL && ring_error (bus, 0, NULL))
      goto unref;
  }
  if (sample) {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    GstMapInfo map;
    PrimaHeader h;
    if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
      if (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_LOGITS, &h) && h.n_tokens == ids->len
          && h.payload_size >= want) {
        memcpy (logits, map.data + PRIMA_HEADER_SIZE + (h.payload_size - want), want);
        ok = TRUE;
      }
      gst_buffer_unmap (buf, &map);
    }
    if (!ok)
      fprintf (stderr, _("prima eval: the ring gave no logits of %u positions\n"), ids->len);
  } else {
    fprintf (stderr, _("prima eval: the ring ended without logits\n"));
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  /* the ordered stop goes round the ring (every worker exits 0); the
   * head's output ends when it is back */
  {
    gint64 end = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;
    while (ok && !eos && !gst_app_sink_is_eos (GST_APP_SINK (sink)))
      if (ring_error (bus, 20 * GST_MSECOND, &eos) || g_get_monotonic_time () > end) {
        ok = FALSE;
        fprintf (stderr, _("prima eval: the ring did not stop\n"));
      }
  }
unref:
  gst_object_unref (src);
  gst_object_unref (sink);
out:
  if (sample)
    gst_sample_unref (sample);
  if (bus)
    gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  if (ro->n_workers > 0 && !prima_ring_head_finish (ro, !ok) && ok) {
    fprintf (stderr, _("prima eval: a local worker did not stop cleanly\n"));
    ok = FALSE;
  }
  return ok;
}

int
prima_cmd_eval (int argc, char **argv)
{
  const char *model_path = NULL, *prompt = NULL, *file = NULL, *ids_text = NULL, *logits_path = NULL;
  int n_threads = 0, n_batch = 512;
  gboolean help;
  PrimaRingOptions ring = PRIMA_RING_OPTIONS_INIT;
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &model_path, "FILE", N_("GGUF model (default: the embedded model)")},
    {"-p,--prompt", CLI_STRING, &prompt, "TEXT", N_("prompt (tokenized with BOS as the model says)")},
    {"-f,--file", CLI_STRING, &file, "FILE", N_("read the prompt from a file")},
    {"--tokens", CLI_STRING, &ids_text, "IDS", N_("evaluate these token ids instead of a text (\"1,2,3\")")},
    {"--logits", CLI_STRING, &logits_path, "FILE", N_("write n_tokens x n_vocab float32 logits (little-endian) here")},
    {"-t,--threads", CLI_INT, &n_threads, "N", N_("threads, 1 to 1024 (default: all cores)"), CLI_RANGE (1, CLI_MAX_THREADS)},
    {"-b,--batch-size", CLI_INT, &n_batch, "N", N_("tokens per compute chunk (default 512)"), CLI_RANGE (1, G_MAXINT)},
  };
  cli_option ring_storage[PRIMA_RING_GROUP_MAX];
  const cli_group groups[] = {
    {NULL, options, G_N_ELEMENTS (options)},
    prima_ring_option_group (&ring, PRIMA_RING_ROLE_HEAD, ring_storage),
  };
  prima_model *model = NULL;
  prima_tokenizer *tok = NULL;
  prima_context *ctx = NULL;
  GArray *ids = NULL;
  float *logits = NULL;
  GError *error = NULL;
  char *text = NULL;
  int status = 1;

  if (!cli_parse_groups ("eval", "[-m MODEL] -p TEXT --logits FILE", groups, G_N_ELEMENTS (groups), argc, argv, &help,
          NULL))
    return 2;
  if (help)
    return 0;
  if (!prima_ring_check_options ("eval", &ring))
    return 2;
  if (file) {
    if (!(text = prima_read_prompt_file ("eval", file)))
      return 1;
    prompt = text;
  }
  if ((prompt == NULL) == (ids_text == NULL)) {
    fprintf (stderr, _("prima eval: give either a prompt (-p/-f) or --tokens\n"));
    g_free (text);
    return 2;
  }
  if (!prima_open_model ("eval", model_path ? model_path : prima_default_model_path (), &model, &tok))
    goto out;
  ids = prompt ? prima_tokenize (tok, prompt, -1, TRUE, TRUE) : prima_parse_ids ("eval", ids_text);
  if (ids == NULL)
    goto out;
  if (ids->len == 0) {
    fprintf (stderr, _("prima eval: the prompt has no tokens\n"));
    goto out;
  }
  /* the context is the prompt, at most the model's: as prima run */
  if (!prima_check_prompt_fits ("eval", ids->len, prima_context_size (model, (int) MIN (ids->len, G_MAXINT))))
    goto out;
  logits = g_try_malloc_n ((gsize) ids->len * model->hp.n_vocab, sizeof (float));
  if (logits == NULL) {
    fprintf (stderr, _("prima eval: cannot allocate %u x %d logits\n"), ids->len, model->hp.n_vocab);
    goto out;
  }
  if (prima_ring_active (&ring)) {
    if (!eval_over_ring (&ring, model_path ? model_path : prima_default_model_path (), model->hp.n_vocab, ids,
            n_threads, logits))
      goto out;
  } else {
    if (!prima_check_memory ("eval", model, (int) ids->len))
      goto out;
    ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = (int) ids->len, .n_threads = n_threads,
        .n_batch = n_batch}, &error);
    if (ctx == NULL)
      goto fail;
    if (!prima_context_eval (ctx, (int) ids->len, (const int32_t *) ids->data, NULL, 0, logits, TRUE, &error))
      goto fail;
  }
  if (logits_path && !prima_logits_write (logits_path, logits, (size_t) ids->len * model->hp.n_vocab)) {
    fprintf (stderr, _("prima eval: cannot write %s: %s\n"), logits_path, g_strerror (errno));
    goto out;
  }
  prima_token_ids_print (stdout, ids);
  status = 0;
  goto out;

fail:
  fprintf (stderr, _("prima eval: %s\n"), error->message);
  g_error_free (error);
out:
  g_free (logits);
  prima_context_free (ctx);
  if (ids)
    g_array_free (ids, TRUE);
  prima_tokenizer_free (tok);
  prima_model_free (model);
  g_free (text);
  return status;
}
