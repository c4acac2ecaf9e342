/* gst-prima: `prima run`: generate text from a prompt, or chat (-cnv), with
 * llama-cli's flags. It fills pipelines/generate.pipeline or
 * pipelines/chat.pipeline and runs it: the prompt goes in through a pipe to
 * the description's fdsrc, the text comes out of its primafdsink on stdout (at the
 * descriptor's offset: fdsink would seek a redirected file to 0).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "prima-commands.h"
#include "prima-pipeline.h"
#include "cli-args.h"
#include "sampler.h"
#include "prima-caps.h"
#include "prima-events.h"
#include "ring-head.h"
#include "forward.h"
#include "memstat.h"
#include "chat-template.h"

/* The program's own message, from its output probe to its bus loop. */
#define OUTPUT_END_OF_TURN "prima-output-end-of-turn"
/* primasampler's largest repeat-last-n */
#define MAX_REPEAT_LAST_N (1 << 20)

static volatile sig_atomic_t n_interrupts;

static void
on_sigint (int sig)
{
  n_interrupts++;
}

typedef struct {
  GstElement *pipeline;
  GstBus *bus;
  GArray *ids;                  /* --ids-out: the tokens that reached the detokenizer */
  gboolean verbose;
  /* the last prima-turn message */
  gboolean have_turn;
  gint prompt_tokens, generated, decode_tokens, position, shifts;
  guint64 prompt_ns, decode_ns;
  char *reason;
  /* totals */
  gint64 all_prompt_tokens, all_decode_tokens;
  guint64 all_prompt_ns, all_decode_ns;
} RunState;

typedef struct {
  int fd;
  char *text;
} Writer;

/* Writes the prompt into the pipe and closes it: the end of the pipe is
 * the prompt's end-of-stream. */
static gpointer
write_prompt (gpointer data)
{
  Writer *w = data;
  gsize len = strlen (w->text), done = 0;
  while (done < len) {
    ssize_t n = write (w->fd, w->text + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += n;
  }
  close (w->fd);
  return NULL;
}

static GstPadProbeReturn
collect_ids (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  RunState *st = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;
  PrimaHeader h;

  if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
    if (prima_header_parse (map.data, map.size, PRIMA_PAYLOAD_TOKENS, &h)
        && h.payload_size == h.n_tokens * sizeof (gint32))
      g_array_append_vals (st->ids, map.data + PRIMA_HEADER_SIZE, h.n_tokens);
    gst_buffer_unmap (buf, &map);
  }
  return GST_PAD_PROBE_OK;
}

/* The text of an answer has been written when its prima-end-of-turn reaches
 * the output: tell the main thread. */
static GstPadProbeReturn
output_event (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  if (prima_event_is_end_of_turn (event)) {
    GstElement *output = GST_ELEMENT (gst_pad_get_parent (pad));
    gst_element_post_message (output, gst_message_new_application (GST_OBJECT (output),
            gst_structure_new_empty (OUTPUT_END_OF_TURN)));
    gst_object_unref (output);
  }
  return GST_PAD_PROBE_OK;
}

static void
take_turn_message (RunState *st, GstMessage *msg)
{
  PrimaTurnInfo t;
  prima_message_parse_turn (msg, &t);
  g_free (st->reason);
  st->reason = g_strdup (t.reason);
  st->prompt_tokens = t.prompt_tokens;
  st->generated = t.generated;
  st->decode_tokens = t.decode_tokens;
  st->position = t.position;
  st->shifts = t.context_shifts;
  st->prompt_ns = t.prompt_time;
  st->decode_ns = t.decode_time;
  st->have_turn = TRUE;
  st->all_prompt_tokens += st->prompt_tokens;
  st->all_prompt_ns += st->prompt_ns;
  st->all_decode_tokens += st->decode_tokens;
  st->all_decode_ns += st->decode_ns;
}

typedef enum {
  WAIT_EOS,
  WAIT_END_OF_TURN,
} WaitFor;

/* Handles the bus until the end of the stream or of the turn (both the
 * loop's prima-turn message and the output's end of turn). A first Ctrl-C
 * interrupts the answer, a second one gives up. Returns 0, 1 on an error,
 * 130 when interrupted twice. */
static int
wait_for (RunState *st, WaitFor what)
{
  gboolean output_done = FALSE;
  int seen_interrupts = n_interrupts;

  st->have_turn = FALSE;
  for (;;) {
    GstMessage *msg;

    if (n_interrupts != seen_interrupts) {
      if (n_interrupts - seen_interrupts >= 2 || what == WAIT_EOS)
        return 130;
      GstElement *loop = prima_pipeline_get (st->pipeline, "loop");
      gst_element_send_event (loop, prima_event_new_interrupt ());
      gst_object_unref (loop);
      seen_interrupts++;
      n_interrupts = seen_interrupts;
    }
    msg = gst_bus_timed_pop_filtered (st->bus, 50 * GST_MSECOND, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING
        | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT | GST_MESSAGE_APPLICATION);
    if (msg == NULL)
      continue;
    switch (GST_MESSAGE_TYPE (msg)) {
      case GST_MESSAGE_ERROR:{
        GError *error = NULL;
        gchar *debug = NULL;
        gst_message_parse_error (msg, &error, &debug);
        fflush (stdout);
        /* a failed setup round (primascheduler) has said why on its own line */
        if (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_FAILED)
            && g_strcmp0 (GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), "scheduler") == 0) {
          g_error_free (error);
          g_free (debug);
          gst_message_unref (msg);
          return 1;
        }
        fprintf (stderr, "\nprima run: %s\n", error->message);
        if (debug && g_getenv ("PRIMA_DEBUG"))
          fprintf (stderr, "prima run: %s\n", debug);
        g_error_free (error);
        g_free (debug);
        gst_message_unref (msg);
        return 1;
      }
      case GST_MESSAGE_WARNING:{
        GError *error = NULL;
        gst_message_parse_warning (msg, &error, NULL);
        fflush (stdout);
        fprintf (stderr, "\nprima run: warning: %s\n", error->message);
        g_error_free (error);
        break;
      }
      case GST_MESSAGE_EOS:
        gst_message_unref (msg);
        return 0;
      case GST_MESSAGE_ELEMENT:
        if (prima_message_is_turn (msg))
          take_turn_message (st, msg);
        break;
      case GST_MESSAGE_APPLICATION:
        if (gst_message_has_name (msg, OUTPUT_END_OF_TURN))
          output_done = TRUE;
        break;
      default:
        break;
    }
    gst_message_unref (msg);
    if (what == WAIT_END_OF_TURN && output_done && st->have_turn)
      return 0;
  }
}

static void
print_speed (const char *what, gint64 n, guint64 ns)
{
  double ms = ns / 1e6;
  fprintf (stderr, "prima run: %s %" G_GINT64_FORMAT " tokens in %.2f ms (%.2f tok/s)\n", what, n, ms,
      ms > 0 ? n * 1e3 / ms : 0.0);
}

static guint64
n_evaluated (RunState *st)
{
  GstElement *layers = prima_pipeline_get (st->pipeline, "layers");
  guint64 n = 0;
  g_object_get (layers, "n-evaluated", &n, NULL);
  gst_object_unref (layers);
  return n;
}

/* Interactive chat: user turns from stdin until exit, quit or end of file. */
static int
chat (RunState *st, int fd, const char *first)
{
  char *line = NULL;
  size_t cap = 0;
  int status = 0, turn = 0;
  guint64 evaluated = 0;

  for (;;) {
    char *text;
    ssize_t n;

    if (first) {
      text = g_strdup (first);
      first = NULL;
    } else {
      printf ("\n> ");
      fflush (stdout);
      errno = 0;
      n = getline (&line, &cap, stdin);
      if (n < 0)
        break;                  /* end of input, or Ctrl-C at the prompt */
      text = g_strstrip (g_strdup (line));
    }
    if (strcmp (text, "exit") == 0 || strcmp (text, "quit") == 0) {
      g_free (text);
      break;
    }
    if (*text == '\0') {
      g_free (text);
      continue;
    }
    /* one line is one turn for the tokenizer */
    for (char *c = text; *c; c++)
      if (*c == '\n' || *c == '\r')
        *c = ' ';
    {
      char *msg = g_strconcat (text, "\n", NULL);
      gsize len = strlen (msg), done = 0;
      while (done < len) {
        ssize_t w = write (fd, msg + done, len - done);
        if (w < 0 && errno == EINTR)
          continue;
        if (w <= 0)
          break;
        done += w;
      }
      g_free (msg);
    }
    g_free (text);
    status = wait_for (st, WAIT_END_OF_TURN);
    if (status != 0)
      break;
    turn++;
    if (st->verbose) {
      guint64 now = n_evaluated (st);
      fflush (stdout);
      fprintf (stderr, "\nprima run: turn %d: %d prompt tokens, %d generated, %" G_GUINT64_FORMAT
          " evaluated (%" G_GUINT64_FORMAT " in all), %d positions in the cache, end: %s, %d context shift%s\n",
          turn, st->prompt_tokens, st->generated, now - evaluated, now, st->position, st->reason ? st->reason : "?",
          st->shifts, st->shifts == 1 ? "" : "s");
      evaluated = now;
    }
  }
  free (line);
  return status;
}

/* --verbose: resident weights, KV cache, page-cache and memory pressure of
 * the contexts still alive (the pipeline has not stopped yet). */
static void
print_memory_report (void)
{
  GString *s = g_string_new (NULL);
  prima_context_memory_report (s);
  fputs (s->str, stderr);
  g_string_free (s, TRUE);
}

int
prima_cmd_run (int argc, char **argv)
{
  const char *model_path = NULL, *prompt = NULL, *file = NULL, *ids_out = NULL, *gpu_mem = NULL;
  const char *system_prompt = NULL, *chat_template = NULL;
  int n_predict = -1, n_ctx = 4096, n_threads = 0, n_batch = 512, n_gpu_layers = 0;
  gboolean ignore_eos = FALSE, no_display_prompt = FALSE, conversation = FALSE, verbose = FALSE, help;
  gboolean prefetch = FALSE, force = FALSE, no_context_shift = FALSE;
  gboolean no_conversation = FALSE, interactive = FALSE, escape = FALSE, flash_attn = FALSE, no_mmap = FALSE;
  gboolean mlock = FALSE;
  GPtrArray *reverse_prompts = NULL;
  int n_keep = -1;
  const char *prefetch_mode = NULL, *release_policy = NULL;
  PrimaMemoryOptions mem;
  prima_sampler_params sp;
  gint64 seed = -1;
  PrimaRingOptions ring = PRIMA_RING_OPTIONS_INIT;
  prima_sampler_params_init (&sp);
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &model_path, "FILE", "GGUF model (default: the embedded model)"},
    {"-p,--prompt", CLI_STRING, &prompt, "TEXT", "prompt (-cnv: the first message; without -p/-f: standard input unless a terminal)"},
    {"-f,--file", CLI_STRING, &file, "FILE", "read the prompt from a file"},
    {"-e,--escape", CLI_FLAG, &escape, NULL, "process escapes (\\n, \\t, \\\\, \\\", \\xNN, ...) in the prompt"},
    {"-n,--n-predict", CLI_INT, &n_predict, "N",
      "tokens to predict (default -1: until EOS; -2: until the context is full, no context shift)", CLI_RANGE (-2, G_MAXINT)},
    {"-c,--ctx-size", CLI_INT, &n_ctx, "N", "context size (default 4096, at most the model's; 0 = the model's)",
      CLI_RANGE (0, G_MAXINT)},
    {"-t,--threads", CLI_INT, &n_threads, "N", "threads, 1 to 1024 (default: all cores)", CLI_RANGE (1, CLI_MAX_THREADS)},
    {"-b,--batch-size", CLI_INT, &n_batch, "N", "prompt tokens per compute chunk (accepted; 512)", CLI_RANGE (1, G_MAXINT)},
    {"-s,--seed", CLI_INT64, &seed, "N", "random seed (default -1: random)", CLI_RANGE (-1, G_MAXUINT32 - 1)},
    {"--temp", CLI_FLOAT, &sp.temperature, "T", "temperature (default 0.8; 0 = greedy)", CLI_RANGE (0, G_MAXFLOAT)},
    {"--top-k", CLI_INT, &sp.top_k, "N", "top-k sampling (default 40, 0 = off)", CLI_RANGE (0, G_MAXINT)},
    {"--top-p", CLI_FLOAT, &sp.top_p, "P", "top-p sampling, 0 to 1 (default 0.95, 1.0 = off)", CLI_RANGE (0, 1)},
    {"--min-p", CLI_FLOAT, &sp.min_p, "P", "min-p sampling, 0 to 1 (default 0.05, 0.0 = off)", CLI_RANGE (0, 1)},
    {"--repeat-penalty", CLI_FLOAT, &sp.repeat_penalty, "F", "penalize repeated tokens (default 1.0 = off)",
      CLI_RANGE (0, G_MAXFLOAT)},
    {"--repeat-last-n", CLI_INT, &sp.penalty_last_n, "N",
      "tokens the penalties look back over (default 64, 0 = off, -1 = the context size)", CLI_RANGE (-1, MAX_REPEAT_LAST_N)},
    {"--frequency-penalty", CLI_FLOAT, &sp.frequency_penalty, "F", "frequency penalty (default 0.0 = off)",
      CLI_RANGE (-G_MAXFLOAT, G_MAXFLOAT)},
    {"--presence-penalty", CLI_FLOAT, &sp.presence_penalty, "F", "presence penalty (default 0.0 = off)",
      CLI_RANGE (-G_MAXFLOAT, G_MAXFLOAT)},
    {"-r,--reverse-prompt", CLI_STRING_LIST, &reverse_prompts, "TEXT",
      "stop generating when the text ends with TEXT (-cnv/-i: give the turn back); repeatable"},
    {"--ignore-eos", CLI_FLAG, &ignore_eos, NULL, "keep generating after end-of-sequence"},
    {"--no-display-prompt", CLI_FLAG, &no_display_prompt, NULL, "print only the generated text"},
    {"-cnv,--conversation", CLI_FLAG, &conversation, NULL, "chat: user turns from stdin (exit, quit or EOF ends)"},
    {"-no-cnv,--no-conversation", CLI_FLAG, &no_conversation, NULL, "no chat: generate from the prompt (the default)"},
    {"-i,--interactive", CLI_FLAG, &interactive, NULL, "as -cnv, without a chat template: each line continues the text"},
    {"--no-context-shift", CLI_FLAG, &no_context_shift, NULL, "-cnv: end the answer when the context is full"},
    {"--keep", CLI_INT, &n_keep, "N", "-cnv: positions a context shift keeps (default -1: the first prompt)",
      CLI_RANGE (-1, G_MAXINT)},
    {"-sys,--system-prompt", CLI_STRING, &system_prompt, "TEXT", "system prompt of the chat"},
    {"--chat-template", CLI_STRING, &chat_template, "NAME", "chat template instead of the model's (chatml, llama3, ...)"},
    {"-ngl,--gpu-layers,--n-gpu-layers", CLI_INT, &n_gpu_layers, "N", "layers to offload to a GPU (no GPU backend yet)",
      CLI_RANGE (-1, G_MAXINT)},
    {"-fa,--flash-attn", CLI_FLAG, &flash_attn, NULL, "accepted: the CPU attention is already fused (no KV matrix)"},
    {"--no-mmap", CLI_FLAG, &no_mmap, NULL, "accepted, no effect: the residency engine pages the mapped weights per window"},
    {"--mlock", CLI_FLAG, &mlock, NULL, "lock the weights in memory (mlockall; needs RLIMIT_MEMLOCK)"},
    {"--gpu-mem", CLI_STRING, &gpu_mem, "GiB", "GPU memory to use (no GPU backend yet)"},
    {"--ids-out", CLI_STRING, &ids_out, "FILE", "write the generated token ids to FILE"},
    {"--prefetch", CLI_FLAG, &prefetch, NULL, "advise the kernel to read the next window of layers ahead (WILLNEED)"},
    {"--force", CLI_FLAG, &force, NULL, "fault the next window in from a helper thread (implies --prefetch)"},
    {"--prefetch-mode", CLI_STRING, &prefetch_mode, "MODE", "none, advise or force (default: see docs/memory.md)"},
    {"--release-policy", CLI_STRING, &release_policy, "POLICY",
      "drop windows' pages after use: auto (when the windows do not fit), never, always"},
    {"--verbose", CLI_FLAG, &verbose, NULL, "memory accounting at the end; -cnv: each turn's token counts"},
    {"--world", CLI_INT, &ring.world, "N", "ring: devices in the ring (this one is the head, rank 0)",
      CLI_RANGE (1, G_MAXINT)},
    {"--rank", CLI_INT, &ring.rank, "R", "ring: this device's rank (0 for prima run)", CLI_RANGE (0, 0)},
    {"--master", CLI_STRING, &ring.master, "IP", "ring: the head's address (accepted for prima.cpp's flags)"},
    {"--next", CLI_STRING, &ring.next, "IP", "ring: address of rank 1 (default 127.0.0.1)"},
    {"--port", CLI_INT, &ring.port, "BASE", "ring: data port of rank r is BASE+r (default 9000)", CLI_RANGE (1, 65535)},
    {"-lw,--layer-window", CLI_STRING, &ring.lw, "a,b,..", "ring: layers per device and cycle, in rank order"},
    {"-k,--rounds", CLI_INT, &ring.k, "N", "ring: rounds per token (default: from -lw)", CLI_RANGE (1, G_MAXINT)},
    {"--cluster-key", CLI_STRING, &ring.cluster_key, "KEY", "ring: the cluster key (or $PRIMA_CLUSTER_KEY)"},
    {"--cluster-key-file", CLI_STRING, &ring.cluster_key_file, "FILE", "ring: file holding the cluster key"},
    {"--local-ring", CLI_INT, &ring.local_ring, "N", "ring of N processes on loopback with a fresh key",
      CLI_RANGE (1, PRIMA_RING_LOCAL_MAX)},
    {"--ring-timeout", CLI_INT, &ring.ring_timeout_s, "S",
      "ring: give up when a device has not answered in S s (default 120, 0: never)", CLI_RANGE (0, G_MAXINT)},
  };
  RunState st = { 0 };
  GstElement *pipeline = NULL;
  char *text = NULL, *model = NULL, *escaped_system = NULL;
  int fds[2] = { -1, -1 }, status = 1;
  GThread *writer = NULL;
  Writer w;
  struct sigaction sa = { 0 };

  if (!cli_parse ("run", "[-m MODEL] -p TEXT [-n N] [--temp T] [-cnv]", options, G_N_ELEMENTS (options), argc,
          argv, &help, NULL) || help) {
    if (reverse_prompts)
      g_ptr_array_free (reverse_prompts, TRUE);
    return help ? 0 : 2;
  }
  if (!prima_ring_check_options ("run", &ring)) {
    if (reverse_prompts)
      g_ptr_array_free (reverse_prompts, TRUE);
    return 2;
  }
  if (verbose)
    cli_show_messages ();
  if (no_conversation)
    conversation = interactive = FALSE;
  /* -i: a chat whose turns are plain text, continuing the story */
  if (interactive) {
    conversation = TRUE;
    if (chat_template == NULL)
      chat_template = PRIMA_CHAT_TEMPLATE_RAW_NAME;
  }
  /* -n -2 (llama-cli): until the context is full, never shift it */
  if (n_predict == -2) {
    n_predict = -1;
    no_context_shift = TRUE;
  }
  /* --repeat-last-n -1 (llama-cli): the whole context */
  if (sp.penalty_last_n == -1)
    sp.penalty_last_n = MIN (n_ctx > 0 ? n_ctx : 4096, MAX_REPEAT_LAST_N);
  if (no_mmap)
    fprintf (stderr, "prima run: note: --no-mmap has no effect: the weights stay mapped, the residency engine "
        "pages them in and out per layer window (docs/memory.md)\n");
  (void) flash_attn;            /* the attention kernel never builds the score matrix: nothing to switch */
  if (mlock) {
    struct rlimit rl = { 0 };
    /* with MCL_FUTURE every later mapping beyond the limit would fail (and
     * with it malloc): lock only where the limit cannot be reached */
    if (geteuid () != 0 && getrlimit (RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      fprintf (stderr, "prima run: warning: --mlock: the locked-memory limit is %llu KiB ('ulimit -l'): "
          "nothing is locked\n", (unsigned long long) rl.rlim_cur / 1024);
    else if (mlockall (MCL_CURRENT | MCL_FUTURE) != 0)
      fprintf (stderr, "prima run: warning: --mlock: %s\n", g_strerror (errno));
  }
  if (n_gpu_layers > 0 || gpu_mem)
    fprintf (stderr, "prima run: warning: no GPU backend in this build; -ngl/--gpu-mem are ignored\n");
  if (!prima_memory_options_parse ("run", prefetch, force, prefetch_mode, release_policy, &mem))
    return 2;
  /* The baseline of memory pressure: before anything is mapped. */
  prima_memwatch_global_start ();
  if (file) {
    if (!(text = prima_read_prompt_file ("run", file)))
      goto out;
    prompt = text;
  } else if (prompt == NULL && !conversation && !isatty (0)) {
    /* `echo TEXT | prima run`: the prompt is standard input (in a chat,
     * standard input carries the turns) */
    if (!(text = prima_read_prompt_file ("run", NULL)))
      goto out;
    prompt = text;
  }
  if (prompt == NULL)
    prompt = "";
  if (escape) {
    char *e = prima_process_escapes (prompt);
    g_free (text);
    prompt = text = e;
    if (system_prompt)
      system_prompt = escaped_system = prima_process_escapes (system_prompt);
  }
  model = g_strdup (model_path ? model_path : prima_default_model_path ());
  if (!g_file_test (model, G_FILE_TEST_EXISTS)) {
    fprintf (stderr, "prima run: %s: no such model file\n", model);
    goto out;
  }

  if (!prima_gst_init ("run"))
    goto out;
  pipeline = prima_pipeline_load ("run", prima_ring_active (&ring) ? "ring-head.pipeline"
      : conversation ? "chat.pipeline" : "generate.pipeline");
  if (pipeline == NULL)
    goto out;
  /* a memory cap below the working set: say so before the kernel kills
   * the run without a word (now that GStreamer is in memory; a ring's head
   * holds only part of the model) */
  if (!prima_ring_active (&ring)) {
    prima_model *m = prima_model_load (model, NULL);
    gboolean fits = m == NULL || prima_check_memory ("run", m, prima_context_size (m, n_ctx));
    prima_model_free (m);
    if (!fits)
      goto out;
  }
  if (prima_ring_active (&ring)) {
    if (conversation)
      prima_pipeline_set (pipeline, "tokenizer", "chat", TRUE, NULL);
    /* The scheduler's prediction counts attention at the mean position of
     * this generation: the prompt (about 4 bytes a token, and BOS) and half
     * the tokens to generate. Unknown in a chat or without -n. */
    if (!conversation && n_predict > 0)
      ring.decode_positions = (int) MIN ((gint64) strlen (prompt) / 4 + 1 + n_predict / 2, G_MAXINT / 2);
    if (!prima_ring_head_setup (&ring, pipeline, model, n_ctx, n_threads))
      goto out;
  }
  st.pipeline = pipeline;
  st.verbose = verbose;
  st.bus = gst_element_get_bus (pipeline);

  if (pipe (fds) != 0) {
    fprintf (stderr, "prima run: pipe: %s\n", g_strerror (errno));
    goto out;
  }
  prima_pipeline_set (pipeline, "input", "fd", fds[0], NULL);
  prima_pipeline_set (pipeline, "output", "fd", 1, NULL);
  prima_pipeline_set (pipeline, "tokenizer", "model", model, NULL);
  if (conversation)
    prima_pipeline_set (pipeline, "tokenizer", "system-prompt", system_prompt, "chat-template", chat_template, NULL);
  prima_pipeline_set (pipeline, "loop", "model", model, "n-predict", n_predict, "ignore-eos", ignore_eos, NULL);
  if (conversation || no_context_shift)
    prima_pipeline_set (pipeline, "loop", "context-shift", !no_context_shift, "n-keep", n_keep, NULL);
  prima_pipeline_set (pipeline, "layers", "model", model, "context-size", MAX (n_ctx, 0), "threads",
      MAX (n_threads, 0), NULL);
  prima_memory_options_apply (&mem, pipeline);
  /* Faulting a large model in is the real work of start-up: show it. */
  prima_pipeline_show_loading (pipeline, verbose || isatty (2));
  prima_pipeline_set (pipeline, "sampler", "temperature", sp.temperature, "top-k", sp.top_k, "top-p", sp.top_p,
      "min-p", sp.min_p, "repeat-penalty", sp.repeat_penalty, "repeat-last-n", sp.penalty_last_n,
      "frequency-penalty", sp.frequency_penalty, "presence-penalty", sp.presence_penalty,
      "seed", seed < 0 ? G_MAXUINT32 : (guint) seed, NULL);
  prima_pipeline_set (pipeline, "detokenizer", "model", model, NULL);
  if (reverse_prompts) {
    GValue stop = G_VALUE_INIT;
    GstElement *loop = prima_pipeline_get (pipeline, "loop");
    g_value_init (&stop, GST_TYPE_ARRAY);
    for (guint i = 0; i < reverse_prompts->len; i++) {
      GValue v = G_VALUE_INIT;
      const char *r = g_ptr_array_index (reverse_prompts, i);
      char *e = escape ? prima_process_escapes (r) : g_strdup (r);
      g_value_init (&v, G_TYPE_STRING);
      g_value_take_string (&v, e);
      gst_value_array_append_and_take_value (&stop, &v);
    }
    g_object_set_property (G_OBJECT (loop), "stop", &stop);
    g_value_unset (&stop);
    gst_object_unref (loop);
  }

  if (ids_out) {
    GstElement *detok = prima_pipeline_get (pipeline, "detokenizer");
    GstPad *pad = gst_element_get_static_pad (detok, "sink");
    st.ids = g_array_new (FALSE, FALSE, sizeof (gint32));
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, collect_ids, &st, NULL);
    gst_object_unref (pad);
    gst_object_unref (detok);
  }
  {
    GstElement *output = prima_pipeline_get (pipeline, "output");
    GstPad *pad = gst_element_get_static_pad (output, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, output_event, NULL, NULL);
    gst_object_unref (pad);
    gst_object_unref (output);
  }

  /* Ctrl-C: stop the answer (no SA_RESTART: at the chat prompt, it ends the read) */
  sa.sa_handler = on_sigint;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    wait_for (&st, WAIT_EOS);   /* prints the error */
    goto out;
  }

  if (conversation) {
    status = chat (&st, fds[1], *prompt ? prompt : NULL);
    close (fds[1]);
    fds[1] = -1;
    if (status == 0)
      status = wait_for (&st, WAIT_EOS);
    if (status == 0) {
      fflush (stdout);
      fprintf (stderr, "\n");
      print_speed ("prompt", st.all_prompt_tokens, st.all_prompt_ns);
      print_speed ("decode", st.all_decode_tokens, st.all_decode_ns);
      if (verbose)
        print_memory_report ();
    }
    goto out;
  }

  if (!no_display_prompt) {
    fputs (prompt, stdout);
    fflush (stdout);
  }
  w.fd = fds[1];
  w.text = (char *) prompt;
  fds[1] = -1;
  writer = g_thread_new ("prima-prompt", write_prompt, &w);
  status = wait_for (&st, WAIT_EOS);
  if (status != 0)
    goto out;
  printf ("\n");
  fflush (stdout);
  fprintf (stderr, "\n");
  print_speed ("prompt", st.prompt_tokens, st.prompt_ns);
  print_speed ("decode", st.decode_tokens, st.decode_ns);
  if (verbose)
    print_memory_report ();
  if (ids_out) {
    GString *s = g_string_new (NULL);
    GError *error = NULL;
    guint n = st.ids->len;
    /* the end-of-generation token that ended the answer is not part of it */
    if (n > 0 && g_strcmp0 (st.reason, "end-of-generation") == 0)
      n--;
    for (guint i = 0; i < n; i++)
      g_string_append_printf (s, "%s%d", i ? " " : "", g_array_index (st.ids, gint32, i));
    g_string_append_c (s, '\n');
    if (!g_file_set_contents (ids_out, s->str, s->len, &error)) {
      fprintf (stderr, "prima run: %s\n", error->message);
      g_error_free (error);
      status = 1;
    }
    g_string_free (s, TRUE);
  }

out:
  if (pipeline) {
    if (fds[1] >= 0)
      close (fds[1]);
    fds[1] = -1;
    gst_element_set_state (pipeline, GST_STATE_NULL);
  }
  /* a prompt the pipeline did not read: the writer gets EPIPE */
  if (fds[0] >= 0)
    close (fds[0]);
  fds[0] = -1;
  if (writer)
    g_thread_join (writer);
  if (fds[1] >= 0)
    close (fds[1]);
  if (st.bus)
    gst_object_unref (st.bus);
  if (pipeline)
    gst_object_unref (pipeline);
  if (ring.n_workers > 0 && !prima_ring_head_finish (&ring, status != 0) && status == 0) {
    fprintf (stderr, "prima run: a local worker did not stop cleanly\n");
    status = 1;
  }
  if (st.ids)
    g_array_free (st.ids, TRUE);
  g_free (st.reason);
  g_free (model);
  g_free (text);
  g_free (escaped_system);
  if (reverse_prompts)
    g_ptr_array_free (reverse_prompts, TRUE);
  return status;
}
