/* gst-prima: `prima run`: generate text from a prompt, or chat (-cnv), with
 * llama-cli's flags. It fills pipelines/generate.pipeline or
 * pipelines/chat.pipeline and runs it: the prompt goes in through a pipe to
 * the description's fdsrc, the text comes out of its primafdsink on stdout (at the
 * descriptor's offset: fdsink would seek a redirected file to 0). A spoken
 * chat (--voice, --voice-in) fills pipelines/voice-assistant.pipeline or
 * pipelines/voice-file.pipeline instead: the turns are what primaspeechin
 * hears, the answers are spoken by primaspeechout and printed.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <errno.h>
#include <glib/gi18n-lib.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "prima-commands.h"
#include "prima-pipeline.h"
#include "cli-args.h"
#include "cmd-options.h"
#include "sampler.h"
#include "prima-caps.h"
#include "prima-events.h"
#include "ring-head.h"
#include "forward.h"
#include "memstat.h"
#include "chat-template.h"
#include "tokenizer.h"
#include "gguf.h"

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
  /* a spoken chat: the turn being answered, when its question was heard
   * (g_get_real_time, µs), whether its prima-turn came yet */
  gboolean voice;
  gint voice_turn;
  GAsyncQueue *heard_times;     /* gint64 *: each prima-utterance's post time, from the bus's sync emission */
  gint64 heard_time;
  gboolean turn_ended;
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

/* A spoken chat: what was heard, and how soon the answer was spoken. The
 * bus keeps the order in which the messages were posted: a prima-speech
 * "first-audio" taken before the turn's prima-turn left before its last
 * token. */
static void
voice_message (RunState *st, GstMessage *msg)
{
  PrimaUtteranceInfo u;
  PrimaSpeechInfo sp;

  if (prima_message_parse_utterance (msg, &u)) {
    /* in a file, the question ends where the recognizer says so, much
     * faster than real time: its message, as it was posted, is the end of
     * the question */
    gint64 *t = g_async_queue_try_pop (st->heard_times);
    st->heard_time = t ? *t : g_get_real_time ();
    g_free (t);
    st->turn_ended = FALSE;
    st->voice_turn++;
    fflush (stdout);
    fprintf (stderr, _("prima run: heard: %s\n"), u.text);
    if (st->verbose)
      fprintf (stderr, _("prima run: turn %d: confidence %.3f, speech from %.3f s to %.3f s\n"), st->voice_turn,
          u.confidence, GST_CLOCK_TIME_IS_VALID (u.start) ? u.start / 1e9 : -1.0,
          GST_CLOCK_TIME_IS_VALID (u.end) ? u.end / 1e9 : -1.0);
  } else if (prima_message_parse_speech (msg, &sp) && st->verbose) {
    fflush (stdout);
    if (!sp.end)
      fprintf (stderr, _("prima run: turn %d: first answer audio %.1f ms after the question was heard, %s its last "
          "token\n"), st->voice_turn, (sp.wall_time - st->heard_time) / 1e3, st->turn_ended ? "after" : "before");
    else
      fprintf (stderr, _("prima run: turn %d: %.2f s of answer audio%s\n"), st->voice_turn, sp.duration / 1e9,
          sp.interrupted ? ", interrupted" : "");
  }
}

/* In the thread that posts: when each question was heard. */
static void
stamp_utterance (GstBus *bus, GstMessage *msg, gpointer data)
{
  RunState *st = data;
  if (prima_message_is_utterance (msg)) {
    gint64 *t = g_new (gint64, 1);
    *t = g_get_real_time ();
    g_async_queue_push (st->heard_times, t);
  }
}

static void
voice_turn_ended (RunState *st)
{
  st->turn_ended = TRUE;
  if (st->verbose) {
    fflush (stdout);
    fprintf (stderr, _("prima run: turn %d: %d prompt tokens, %d generated, end: %s\n"), st->voice_turn,
        st->prompt_tokens, st->generated, st->reason ? st->reason : "?");
  }
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
        fprintf (stderr, _("\nprima run: %s\n"), error->message);
        if (debug && g_getenv ("PRIMA_DEBUG"))
          fprintf (stderr, _("prima run: %s\n"), debug);
        g_error_free (error);
        g_free (debug);
        gst_message_unref (msg);
        return 1;
      }
      case GST_MESSAGE_WARNING:{
        GError *error = NULL;
        gst_message_parse_warning (msg, &error, NULL);
        fflush (stdout);
        fprintf (stderr, _("\nprima run: warning: %s\n"), error->message);
        g_error_free (error);
        break;
      }
      case GST_MESSAGE_EOS:
        gst_message_unref (msg);
        return 0;
      case GST_MESSAGE_ELEMENT:{
        PrimaRecoveredInfo rec;
        if (prima_message_is_turn (msg)) {
          take_turn_message (st, msg);
          if (st->voice)
            voice_turn_ended (st);
        } else if (st->voice && (prima_message_is_utterance (msg) || prima_message_is_speech (msg)))
          voice_message (st, msg);
        else if (prima_message_parse_ring_recovered (msg, &rec)) {
          /* the ring survived a lost device: one line, and the text goes on */
          fflush (stdout);
          fprintf (stderr, ngettext ("\nprima run: device %d at %s lost after token %u; re-planned over %u device; "
                  "continuing\n", "\nprima run: device %d at %s lost after token %u; re-planned over %u devices; "
                  "continuing\n", rec.devices), rec.lost_rank, *rec.lost_address ? rec.lost_address : "?", rec.tokens,
              rec.devices);
          if (st->verbose)
            fprintf (stderr, _("prima run: the ring was back %.3f s after the loss\n"), rec.seconds);
          prima_recovered_info_clear (&rec);
        }
        break;
      }
      case GST_MESSAGE_APPLICATION:
        if (gst_message_has_name (msg, OUTPUT_END_OF_TURN)) {
          output_done = TRUE;
          /* a spoken chat: one answer a line */
          if (st->voice) {
            printf ("\n");
            fflush (stdout);
          }
        }
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
  fprintf (stderr, _("prima run: %s %" PRId64 " tokens in %.2f ms (%.2f tok/s)\n"), what, n, ms,
      ms > 0 ? n * 1e3 / ms : 0.0);
}

/* Speculative decoding: how many drafts the target kept. */
static void
print_draft (GstElement *pipeline)
{
  GstElement *draft = gst_bin_get_by_name (GST_BIN (pipeline), "draft");
  guint64 drafted = 0, accepted = 0, ns = 0;

  if (draft == NULL)
    return;
  g_object_get (draft, "n-drafted", &drafted, "n-accepted", &accepted, "draft-time", &ns, NULL);
  gst_object_unref (draft);
  fprintf (stderr, _("prima run: draft %" PRIu64 " tokens, %" PRIu64 " accepted (%.1f%%), "
          "%.2f ms in the draft model\n"), (uint64_t) drafted, (uint64_t) accepted,
      drafted ? 100.0 * accepted / drafted : 0.0, ns / 1e6);
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
      fprintf (stderr, ngettext ("\nprima run: turn %d: %d prompt tokens, %d generated, %" PRIu64
              " evaluated (%" PRIu64 " in all), %d positions in the cache, end: %s, %d context shift\n",
              "\nprima run: turn %d: %d prompt tokens, %d generated, %" PRIu64
              " evaluated (%" PRIu64 " in all), %d positions in the cache, end: %s, %d context shifts\n",
              st->shifts), turn, st->prompt_tokens, st->generated, now - evaluated, now, st->position,
          st->reason ? st->reason : "?", st->shifts);
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

/* The flags of prima run: llama-cli's, and the memory and ring groups. */
typedef struct {
  const char *model_path, *prompt, *file, *ids_out, *gpu_mem, *system_prompt, *chat_template;
  const char *voice_in, *voice_out, *tts_voice;
  gboolean voice;
  /* speculative decoding (primadraft): llama.cpp's -md, --draft-max,
   * --draft-min, --draft-p-min, -td; --draft-layers K: a self-draft */
  const char *draft_model;
  int n_draft, n_draft_min, draft_layers, n_threads_draft;
  float draft_p_min;
  int n_predict, n_ctx, n_threads, n_batch, n_gpu_layers, n_keep;
  gboolean ignore_eos, no_display_prompt, conversation, verbose, no_context_shift;
  gboolean no_conversation, interactive, escape, flash_attn, no_mmap, mlock, no_recover;
  GPtrArray *reverse_prompts;
  prima_sampler_params sp;
  gint64 seed;
  PrimaMemoryFlags mem_flags;
  PrimaRingOptions ring;
} RunArgs;

/* One run: its flags and what it holds until run_finish. */
typedef struct {
  RunArgs a;
  PrimaMemoryOptions mem;
  RunState st;
  GstElement *pipeline;
  char *text, *model, *escaped_system;
  int fds[2];                   /* the prompt's pipe into the description's fdsrc */
  GThread *writer;
  Writer w;
} Run;

static void
run_args_init (RunArgs *a)
{
  memset (a, 0, sizeof *a);
  a->n_predict = -1;
  a->n_ctx = 4096;
  a->n_batch = 512;
  a->n_keep = -1;
  a->seed = -1;
  a->n_draft = 8;
  a->draft_p_min = 0.75f;      /* llama.cpp's; measured best on the TinyStories pair */
  a->ring = (PrimaRingOptions) PRIMA_RING_OPTIONS_INIT;
  prima_sampler_params_init (&a->sp);
}

/* FALSE, with the exit status in *status (0 after --help), when the run
 * ends here. */
static gboolean
parse_run_args (RunArgs *a, int argc, char **argv, int *status)
{
  gboolean help;
  prima_sampler_params *sp = &a->sp;
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &a->model_path, "FILE", N_("GGUF model (default: the embedded model)")},
    {"-p,--prompt", CLI_STRING, &a->prompt, "TEXT", N_("prompt (-cnv: the first message; without -p/-f: standard input unless a terminal)")},
    {"-f,--file", CLI_STRING, &a->file, "FILE", N_("read the prompt from a file")},
    {"-e,--escape", CLI_FLAG, &a->escape, NULL, N_("process escapes (\\n, \\t, \\\\, \\\", \\xNN, ...) in the prompt")},
    {"-n,--n-predict", CLI_INT, &a->n_predict, "N",
      N_("tokens to predict (default -1: until EOS; -2: until the context is full, no context shift)"), CLI_RANGE (-2, G_MAXINT)},
    {"-c,--ctx-size", CLI_INT, &a->n_ctx, "N", N_("context size (default 4096, at most the model's; 0 = the model's)"),
      CLI_RANGE (0, G_MAXINT)},
    {"-t,--threads", CLI_INT, &a->n_threads, "N", N_("threads, 1 to 1024 (default: all cores)"), CLI_RANGE (1, CLI_MAX_THREADS)},
    {"-b,--batch-size", CLI_INT, &a->n_batch, "N", N_("prompt tokens per compute chunk (accepted; 512)"), CLI_RANGE (1, G_MAXINT)},
    {"-s,--seed", CLI_INT64, &a->seed, "N", N_("random seed (default -1: random)"), CLI_RANGE (-1, G_MAXUINT32 - 1)},
    {"--temp", CLI_FLOAT, &sp->temperature, "T", N_("temperature (default 0.8; 0 = greedy)"), CLI_RANGE (0, G_MAXFLOAT)},
    {"--top-k", CLI_INT, &sp->top_k, "N", N_("top-k sampling (default 40, 0 = off)"), CLI_RANGE (0, G_MAXINT)},
    {"--top-p", CLI_FLOAT, &sp->top_p, "P", N_("top-p sampling, 0 to 1 (default 0.95, 1.0 = off)"), CLI_RANGE (0, 1)},
    {"--min-p", CLI_FLOAT, &sp->min_p, "P", N_("min-p sampling, 0 to 1 (default 0.05, 0.0 = off)"), CLI_RANGE (0, 1)},
    {"--repeat-penalty", CLI_FLOAT, &sp->repeat_penalty, "F", N_("penalize repeated tokens (default 1.0 = off)"),
      CLI_RANGE (0, G_MAXFLOAT)},
    {"--repeat-last-n", CLI_INT, &sp->penalty_last_n, "N",
      N_("tokens the penalties look back over (default 64, 0 = off, -1 = the context size)"), CLI_RANGE (-1, MAX_REPEAT_LAST_N)},
    {"--frequency-penalty", CLI_FLOAT, &sp->frequency_penalty, "F", N_("frequency penalty (default 0.0 = off)"),
      CLI_RANGE (-G_MAXFLOAT, G_MAXFLOAT)},
    {"--presence-penalty", CLI_FLOAT, &sp->presence_penalty, "F", N_("presence penalty (default 0.0 = off)"),
      CLI_RANGE (-G_MAXFLOAT, G_MAXFLOAT)},
    {"-r,--reverse-prompt", CLI_STRING_LIST, &a->reverse_prompts, "TEXT",
      N_("stop generating when the text ends with TEXT (-cnv/-i: give the turn back); repeatable")},
    {"--ignore-eos", CLI_FLAG, &a->ignore_eos, NULL, N_("keep generating after end-of-sequence")},
    {"--no-display-prompt", CLI_FLAG, &a->no_display_prompt, NULL, N_("print only the generated text")},
    {"-cnv,--conversation", CLI_FLAG, &a->conversation, NULL, N_("chat: user turns from stdin (exit, quit or EOF ends)")},
    {"-no-cnv,--no-conversation", CLI_FLAG, &a->no_conversation, NULL, N_("no chat: generate from the prompt (the default)")},
    {"-i,--interactive", CLI_FLAG, &a->interactive, NULL, N_("as -cnv, without a chat template: each line continues the text")},
    {"--no-context-shift", CLI_FLAG, &a->no_context_shift, NULL, N_("-cnv: end the answer when the context is full")},
    {"--keep", CLI_INT, &a->n_keep, "N", N_("-cnv: positions a context shift keeps (default -1: the first prompt)"),
      CLI_RANGE (-1, G_MAXINT)},
    {"--voice", CLI_FLAG, &a->voice, NULL, N_("spoken chat: questions from the microphone, answers to the speaker "
      "(and printed)")},
    {"--voice-in", CLI_STRING, &a->voice_in, "FILE", N_("spoken chat from a WAV file: each utterance is a turn")},
    {"--voice-out", CLI_STRING, &a->voice_out, "FILE", N_("--voice-in: write the spoken answers to a WAV file")},
    {"--tts-voice", CLI_STRING, &a->tts_voice, "NAME", N_("--voice, --voice-in: espeak-ng's voice (default en)")},
    {"-sys,--system-prompt", CLI_STRING, &a->system_prompt, "TEXT", N_("system prompt of the chat")},
    {"--chat-template", CLI_STRING, &a->chat_template, "NAME", N_("chat template instead of the model's (chatml, llama3, ...)")},
    {"-ngl,--gpu-layers,--n-gpu-layers", CLI_INT, &a->n_gpu_layers, "N", N_("layers to offload to a GPU (no GPU backend yet)"),
      CLI_RANGE (-1, G_MAXINT)},
    {"-fa,--flash-attn", CLI_FLAG, &a->flash_attn, NULL, N_("accepted: the CPU attention is already fused (no KV matrix)")},
    {"--no-mmap", CLI_FLAG, &a->no_mmap, NULL, N_("accepted, no effect: the residency engine pages the mapped weights per window")},
    {"--mlock", CLI_FLAG, &a->mlock, NULL, N_("lock the weights in memory (mlockall; needs RLIMIT_MEMLOCK)")},
    {"--gpu-mem", CLI_STRING, &a->gpu_mem, "GiB", N_("GPU memory to use (no GPU backend yet)")},
    {"--ids-out", CLI_STRING, &a->ids_out, "FILE", N_("write the generated token ids to FILE")},
    {"-md,--model-draft", CLI_STRING, &a->draft_model, "FILE",
      N_("speculative decoding: the draft model (same vocabulary; docs/elements.md, \"Speculative decoding\")")},
    {"--draft,--draft-max,--draft-n", CLI_INT, &a->n_draft, "N", N_("-md: draft tokens per pass (default 8)"),
      CLI_RANGE (1, 64)},
    {"--draft-min", CLI_INT, &a->n_draft_min, "N", N_("-md: send no draft shorter than N (default 0)"), CLI_RANGE (0, 64)},
    {"--draft-p-min", CLI_FLOAT, &a->draft_p_min, "P",
      N_("-md: stop drafting below this draft probability (default 0.75, llama.cpp's; 0 = never)"), CLI_RANGE (0, 1)},
    {"--draft-layers", CLI_INT, &a->draft_layers, "K",
      N_("self-draft: the model's first K layers and its output head (with -md: that file's)"), CLI_RANGE (1, G_MAXINT)},
    {"-td,--threads-draft", CLI_INT, &a->n_threads_draft, "N", N_("-md: the draft's threads (default: as -t)"),
      CLI_RANGE (1, CLI_MAX_THREADS)},
    {"--verbose", CLI_FLAG, &a->verbose, NULL, N_("memory accounting at the end; -cnv: each turn's token counts")},
    {"--no-recover", CLI_FLAG, &a->no_recover, NULL,
      N_("ring: a lost device ends the run (default: re-plan over the devices left and go on; not with --local-ring)")},
  };
  cli_option ring_storage[PRIMA_RING_GROUP_MAX], mem_storage[PRIMA_MEMORY_GROUP_MAX];
  const cli_group groups[] = {
    {NULL, options, G_N_ELEMENTS (options)},
    prima_memory_option_group (&a->mem_flags, mem_storage),
    prima_ring_option_group (&a->ring, PRIMA_RING_ROLE_HEAD, ring_storage),
  };

  if (!cli_parse_groups ("run", "[-m MODEL] -p TEXT [-n N] [--temp T] [-cnv] | --voice | --voice-in Q.wav [--voice-out A.wav]", groups, G_N_ELEMENTS (groups), argc,
          argv, &help, NULL) || help) {
    *status = help ? 0 : 2;
    return FALSE;
  }
  if (!prima_ring_check_options ("run", &a->ring)) {
    *status = 2;
    return FALSE;
  }
  if ((a->voice && a->voice_in) || (a->voice_out && !a->voice_in) || (a->tts_voice && !a->voice && !a->voice_in)
      || ((a->voice || a->voice_in) && (a->prompt || a->file || a->interactive))) {
    fprintf (stderr, _("prima run: --voice (microphone and speaker) or --voice-in FILE [--voice-out FILE], "
        "with --tts-voice; not with -p, -f or -i\n"));
    *status = 2;
    return FALSE;
  }
  return TRUE;
}

/* What llama-cli's flags mean here: -no-cnv, -i, -n -2, --repeat-last-n -1,
 * and the notes on --no-mmap, --mlock and -ngl; the memory flags. FALSE
 * (exit status 2) after an error line. */
static gboolean
apply_flags (RunArgs *a, PrimaMemoryOptions *mem)
{
  if (a->verbose)
    cli_show_messages ();
  if (a->no_conversation)
    a->conversation = a->interactive = FALSE;
  /* a spoken chat is a chat whose turns are heard */
  if (a->voice || a->voice_in)
    a->conversation = TRUE;
  /* -i: a chat whose turns are plain text, continuing the story */
  if (a->interactive) {
    a->conversation = TRUE;
    if (a->chat_template == NULL)
      a->chat_template = PRIMA_CHAT_TEMPLATE_RAW_NAME;
  }
  /* -n -2 (llama-cli): until the context is full, never shift it */
  if (a->n_predict == -2) {
    a->n_predict = -1;
    a->no_context_shift = TRUE;
  }
  /* --repeat-last-n -1 (llama-cli): the whole context */
  if (a->sp.penalty_last_n == -1)
    a->sp.penalty_last_n = MIN (a->n_ctx > 0 ? a->n_ctx : 4096, MAX_REPEAT_LAST_N);
  if (a->no_mmap)
    fprintf (stderr, _("prima run: note: --no-mmap has no effect: the weights stay mapped, the residency engine "
        "pages them in and out per layer window (docs/memory.md)\n"));
  (void) a->flash_attn;         /* the attention kernel never builds the score matrix: nothing to switch */
  if (a->mlock) {
    struct rlimit rl = { 0 };
    /* with MCL_FUTURE every later mapping beyond the limit would fail (and
     * with it malloc): lock only where the limit cannot be reached */
    if (geteuid () != 0 && getrlimit (RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      fprintf (stderr, _("prima run: warning: --mlock: the locked-memory limit is %llu KiB ('ulimit -l'): "
          "nothing is locked\n"), (unsigned long long) rl.rlim_cur / 1024);
    else if (mlockall (MCL_CURRENT | MCL_FUTURE) != 0)
      fprintf (stderr, _("prima run: warning: --mlock: %s\n"), g_strerror (errno));
  }
  if (a->n_gpu_layers > 0 || a->gpu_mem)
    fprintf (stderr, _("prima run: warning: no GPU backend in this build; -ngl/--gpu-mem are ignored\n"));
  return prima_memory_options_parse ("run", &a->mem_flags, mem);
}

/* The prompt: -p, -f FILE, or standard input when it is not a terminal and
 * not a chat's turns; with -e, its escapes (and the system prompt's)
 * processed. FALSE after an error line. */
static gboolean
read_prompt (Run *r)
{
  RunArgs *a = &r->a;

  if (a->file) {
    if (!(r->text = prima_read_prompt_file ("run", a->file)))
      return FALSE;
    a->prompt = r->text;
  } else if (a->prompt == NULL && !a->conversation && !isatty (0)) {
    /* `echo TEXT | prima run`: the prompt is standard input (in a chat,
     * standard input carries the turns) */
    if (!(r->text = prima_read_prompt_file ("run", NULL)))
      return FALSE;
    a->prompt = r->text;
  }
  if (a->prompt == NULL)
    a->prompt = "";
  if (a->escape) {
    char *e = prima_process_escapes (a->prompt);
    g_free (r->text);
    a->prompt = r->text = e;
    if (a->system_prompt)
      a->system_prompt = r->escaped_system = prima_process_escapes (a->system_prompt);
  }
  return TRUE;
}

/* -md: a file whose token ids mean what the model's mean (the drafts go
 * to the model as they are): as many tokens, the same texts. FALSE after
 * an error line. */
static gboolean
find_draft_model (Run *r)
{
  const char *draft = r->a.draft_model;
  gboolean same = TRUE;
  gguf_file *f = NULL, *g = NULL;
  prima_tokenizer *a = NULL, *b = NULL;

  if (draft == NULL)
    return TRUE;
  if (!g_file_test (draft, G_FILE_TEST_EXISTS)) {
    fprintf (stderr, _("prima run: %s: no such draft model file\n"), draft);
    return FALSE;
  }
  f = gguf_open (r->model, NULL);
  g = gguf_open (draft, NULL);
  a = f ? prima_tokenizer_new (f, NULL) : NULL;
  b = g ? prima_tokenizer_new (g, NULL) : NULL;
  if (a && b) {
    int n = prima_tokenizer_n_vocab (a);
    GString *pa = g_string_new (NULL), *pb = g_string_new (NULL);
    same = n == prima_tokenizer_n_vocab (b);
    for (int i = 0; same && i < n; i++) {
      g_string_truncate (pa, 0);
      g_string_truncate (pb, 0);
      prima_token_to_piece (a, i, TRUE, pa);
      prima_token_to_piece (b, i, TRUE, pb);
      same = g_string_equal (pa, pb);
    }
    g_string_free (pa, TRUE);
    g_string_free (pb, TRUE);
  }
  g_clear_pointer (&a, prima_tokenizer_free);
  g_clear_pointer (&b, prima_tokenizer_free);
  g_clear_pointer (&f, gguf_close);
  g_clear_pointer (&g, gguf_close);
  if (!same)
    fprintf (stderr, _("prima run: the draft model %s has another vocabulary than %s: it cannot draft for it\n"),
        draft, r->model);
  return same;
}

/* -m, or the embedded model. FALSE after an error line. */
static gboolean
find_model (Run *r)
{
  r->model = g_strdup (r->a.model_path ? r->a.model_path : prima_default_model_path ());
  if (!g_file_test (r->model, G_FILE_TEST_EXISTS)) {
    fprintf (stderr, _("prima run: %s: no such model file\n"), r->model);
    return FALSE;
  }
  return find_draft_model (r);
}

/* A spoken chat needs the speech elements (optional at build time) and the
 * audio elements: one line naming the Debian package of the first missing. */
static gboolean
voice_elements_found (gboolean devices)
{
  static const struct {
    const char *element, *package;
    gboolean devices, file;
  } needed[] = {
    {"primaspeechin", "libpocketsphinx-dev and pocketsphinx-en-us, then rebuild gst-prima", TRUE, TRUE},
    {"primaspeechout", "libespeak-ng-dev, then rebuild gst-prima", TRUE, TRUE},
    {"audioconvert", "gstreamer1.0-plugins-base", TRUE, TRUE},
    {"audioresample", "gstreamer1.0-plugins-base", TRUE, TRUE},
    {"wavparse", "gstreamer1.0-plugins-good", FALSE, TRUE},
    {"wavenc", "gstreamer1.0-plugins-good", FALSE, TRUE},
    {"autoaudiosrc", "gstreamer1.0-plugins-good", TRUE, FALSE},
    {"autoaudiosink", "gstreamer1.0-plugins-good", TRUE, FALSE},
  };

  for (guint i = 0; i < G_N_ELEMENTS (needed); i++) {
    GstElementFactory *f;
    if (devices ? !needed[i].devices : !needed[i].file)
      continue;
    f = gst_element_factory_find (needed[i].element);
    if (f == NULL) {
      fprintf (stderr, _("prima run: a spoken chat needs the GStreamer element %s: install the Debian package %s\n"),
          needed[i].element, needed[i].package);
      return FALSE;
    }
    gst_object_unref (f);
  }
  return TRUE;
}

/* The non-comment lines of a description, joined; NULL after an error line. */
static GString *
read_description (const char *name)
{
  char *path = prima_pipeline_path (name), *contents = NULL, **lines;
  GError *error = NULL;
  GString *desc;

  if (!g_file_get_contents (path, &contents, NULL, &error)) {
    fprintf (stderr, _("prima run: %s\n"), error->message);
    g_error_free (error);
    g_free (path);
    return NULL;
  }
  g_free (path);
  desc = g_string_new (NULL);
  lines = g_strsplit (contents, "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l != '#')
      g_string_append_printf (desc, "%s\n", *l);
  g_strfreev (lines);
  g_free (contents);
  return desc;
}

/* A spoken chat at the head of a ring: the voice description with
 * primaringhead in place of primalayers (both named layers), and the ring
 * elements of ring-head.pipeline (its lines from the first that links
 * layers.ring_src). One place for each part: the ring's wiring is only in
 * ring-head.pipeline, the speech chain only in the voice descriptions. */
static GstElement *
load_voice_ring_head (gboolean devices)
{
  GString *voice = read_description (devices ? "voice-assistant.pipeline" : "voice-file.pipeline");
  GString *ring = read_description ("ring-head.pipeline");
  GstElement *pipeline = NULL;
  GError *error = NULL;
  const char *tail = ring ? strstr (ring->str, "\nlayers.") : NULL;

  if (voice && ring && tail && g_string_replace (voice, "primalayers name=layers", "primaringhead name=layers", 1) == 1) {
    g_string_append (voice, tail);
    for (char *c = voice->str; *c; c++)
      if (*c == '\n')
        *c = ' ';
    pipeline = gst_parse_launch_full (voice->str, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
    if (pipeline == NULL) {
      fprintf (stderr, _("prima run: the voice ring head: %s\n"), error ? error->message : "cannot parse");
      g_clear_error (&error);
    }
  } else if (voice && ring)
    fprintf (stderr, _("prima run: the voice description has no primalayers named layers, or ring-head.pipeline "
        "no layers.ring_src line\n"));
  if (voice)
    g_string_free (voice, TRUE);
  if (ring)
    g_string_free (ring, TRUE);
  return pipeline;
}

/* Speculative decoding: the description with primadraft (named draft)
 * between the loop and the layers, which verify its drafts. */
static GstElement *
load_with_draft (const char *name)
{
  GString *desc = read_description (name);
  GstElement *pipeline = NULL;
  GError *error = NULL;

  if (desc == NULL)
    return NULL;
  if (g_string_replace (desc, "! primalayers name=layers", "! primadraft name=draft ! primalayers name=layers", 1) == 1
      || g_string_replace (desc, "! primaringhead name=layers", "! primadraft name=draft ! primaringhead name=layers",
          1) == 1) {
    for (char *c = desc->str; *c; c++)
      if (*c == '\n')
        *c = ' ';
    pipeline = gst_parse_launch_full (desc->str, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
    if (pipeline == NULL) {
      fprintf (stderr, _("prima run: %s with a draft model: %s\n"), name, error ? error->message : "cannot parse");
      g_clear_error (&error);
    }
  } else {
    fprintf (stderr, _("prima run: %s has no layers element to put the draft model before\n"), name);
  }
  g_string_free (desc, TRUE);
  return pipeline;
}

/* The description of the mode: generate.pipeline, chat.pipeline, or
 * ring-head.pipeline for the head of a ring. FALSE after an error line. */
static gboolean
load_pipeline (Run *r)
{
  RunArgs *a = &r->a;

  if (!prima_gst_init ("run"))
    return FALSE;
  if (a->voice || a->voice_in) {
    if (!voice_elements_found (a->voice))
      return FALSE;
    r->pipeline = prima_ring_active (&a->ring) ? load_voice_ring_head (a->voice)
        : prima_pipeline_load ("run", a->voice ? "voice-assistant.pipeline" : "voice-file.pipeline");
  } else if (a->draft_model || a->draft_layers > 0)
    r->pipeline = load_with_draft (prima_ring_active (&a->ring) ? "ring-head.pipeline"
        : a->conversation ? "chat.pipeline" : "generate.pipeline");
  else
    r->pipeline = prima_pipeline_load ("run", prima_ring_active (&a->ring) ? "ring-head.pipeline"
        : a->conversation ? "chat.pipeline" : "generate.pipeline");
  if (r->pipeline == NULL)
    return FALSE;
  /* a memory cap below the working set: say so before the kernel kills
   * the run without a word (now that GStreamer is in memory; a ring's head
   * holds only part of the model) */
  if (!prima_ring_active (&a->ring)) {
    prima_model *m = prima_model_load (r->model, NULL);
    gboolean fits = m == NULL || prima_check_memory ("run", m, prima_context_size (m, a->n_ctx));
    prima_model_free (m);
    if (!fits)
      return FALSE;
  }
  return TRUE;
}

/* The ring's head: ring-head.pipeline's ring elements from the ring flags
 * (ring-head.c); with --local-ring it starts the workers. */
static gboolean
setup_ring_head (Run *r)
{
  RunArgs *a = &r->a;

  if (a->conversation)
    prima_pipeline_set (r->pipeline, "tokenizer", "chat", TRUE, NULL);
  /* The scheduler's prediction counts attention at the mean position of
   * this generation: the prompt (about 4 bytes a token, and BOS) and half
   * the tokens to generate. Unknown in a chat or without -n. */
  if (!a->conversation && a->n_predict > 0)
    a->ring.decode_positions = (int) MIN ((gint64) strlen (a->prompt) / 4 + 1 + a->n_predict / 2, G_MAXINT / 2);
  /* a lost device: the ring is rebuilt over the others; the local
   * workers of --local-ring are this run's (--once), so there a loss ends
   * the run */
  prima_pipeline_set (r->pipeline, "scheduler", "recover", !a->no_recover && a->ring.local_ring <= 0, NULL);
  return prima_ring_head_setup (&a->ring, r->pipeline, r->model, a->n_ctx, a->n_threads);
}

/* -r: the loop's stop strings (with -e, their escapes processed). */
static void
set_reverse_prompts (Run *r)
{
  GValue stop = G_VALUE_INIT;
  GstElement *loop = prima_pipeline_get (r->pipeline, "loop");

  g_value_init (&stop, GST_TYPE_ARRAY);
  for (guint i = 0; i < r->a.reverse_prompts->len; i++) {
    GValue v = G_VALUE_INIT;
    const char *rp = g_ptr_array_index (r->a.reverse_prompts, i);
    char *e = r->a.escape ? prima_process_escapes (rp) : g_strdup (rp);
    g_value_init (&v, G_TYPE_STRING);
    g_value_take_string (&v, e);
    gst_value_array_append_and_take_value (&stop, &v);
  }
  g_object_set_property (G_OBJECT (loop), "stop", &stop);
  g_value_unset (&stop);
  gst_object_unref (loop);
  /* the draft drafts no token that ends the turn */
  if (r->a.draft_model || r->a.draft_layers > 0) {
    GPtrArray *strv = g_ptr_array_new_with_free_func (g_free);
    for (guint i = 0; i < r->a.reverse_prompts->len; i++) {
      const char *rp = g_ptr_array_index (r->a.reverse_prompts, i);
      g_ptr_array_add (strv, r->a.escape ? prima_process_escapes (rp) : g_strdup (rp));
    }
    g_ptr_array_add (strv, NULL);
    prima_pipeline_set (r->pipeline, "draft", "stop", (gchar **) strv->pdata, NULL);
    g_ptr_array_free (strv, TRUE);
  }
}

/* The elements' properties from the flags, the prompt's pipe, and the
 * probes on the text's way out. FALSE after an error line. */
static gboolean
configure_pipeline (Run *r)
{
  RunArgs *a = &r->a;
  GstElement *pipeline = r->pipeline;
  prima_sampler_params *sp = &a->sp;

  gboolean voice = a->voice || a->voice_in;

  r->st.pipeline = pipeline;
  r->st.verbose = a->verbose;
  r->st.voice = voice;
  r->st.bus = gst_element_get_bus (pipeline);

  if (voice) {
    /* the question audio and the answer audio: files, or the devices */
    if (a->voice_in) {
      prima_pipeline_set (pipeline, "input", "location", a->voice_in, NULL);
      prima_pipeline_set (pipeline, "output", "location", a->voice_out ? a->voice_out : "/dev/null", NULL);
    }
    prima_pipeline_set (pipeline, "text", "fd", 1, NULL);
    if (a->tts_voice)
      prima_pipeline_set (pipeline, "speech-out", "voice", a->tts_voice, NULL);
    r->st.heard_times = g_async_queue_new_full (g_free);
    gst_bus_enable_sync_message_emission (r->st.bus);
    g_signal_connect (r->st.bus, "sync-message::element", G_CALLBACK (stamp_utterance), &r->st);
  } else {
    if (pipe (r->fds) != 0) {
      fprintf (stderr, _("prima run: pipe: %s\n"), g_strerror (errno));
      return FALSE;
    }
    prima_pipeline_set (pipeline, "input", "fd", r->fds[0], NULL);
    prima_pipeline_set (pipeline, "output", "fd", 1, NULL);
  }
  prima_pipeline_set (pipeline, "tokenizer", "model", r->model, NULL);
  if (a->conversation)
    prima_pipeline_set (pipeline, "tokenizer", "system-prompt", a->system_prompt, "chat-template", a->chat_template,
        NULL);
  prima_pipeline_set (pipeline, "loop", "model", r->model, "n-predict", a->n_predict, "ignore-eos", a->ignore_eos,
      NULL);
  if (a->conversation || a->no_context_shift)
    prima_pipeline_set (pipeline, "loop", "context-shift", !a->no_context_shift, "n-keep", a->n_keep, NULL);
  prima_pipeline_set (pipeline, "layers", "model", r->model, "context-size", MAX (a->n_ctx, 0), "threads",
      MAX (a->n_threads, 0), NULL);
  if (a->draft_model || a->draft_layers > 0)
    prima_pipeline_set (pipeline, "draft", "model", a->draft_model ? a->draft_model : r->model,
        "layers", MAX (a->draft_layers, 0), "n-draft", a->n_draft, "n-draft-min", a->n_draft_min,
        "p-min", (gdouble) a->draft_p_min, "n-predict", a->n_predict, "ignore-eos", a->ignore_eos,
        "threads", MAX (a->n_threads_draft > 0 ? a->n_threads_draft : a->n_threads, 0), NULL);
  prima_memory_options_apply (&r->mem, pipeline);
  /* Faulting a large model in is the real work of start-up: show it. */
  prima_pipeline_show_loading (pipeline, a->verbose || isatty (2));
  prima_pipeline_set (pipeline, "sampler", "temperature", sp->temperature, "top-k", sp->top_k, "top-p", sp->top_p,
      "min-p", sp->min_p, "repeat-penalty", sp->repeat_penalty, "repeat-last-n", sp->penalty_last_n,
      "frequency-penalty", sp->frequency_penalty, "presence-penalty", sp->presence_penalty,
      "seed", a->seed < 0 ? G_MAXUINT32 : (guint) a->seed, NULL);
  prima_pipeline_set (pipeline, "detokenizer", "model", r->model, NULL);
  if (a->reverse_prompts)
    set_reverse_prompts (r);

  if (a->ids_out) {
    GstElement *detok = prima_pipeline_get (pipeline, "detokenizer");
    GstPad *pad = gst_element_get_static_pad (detok, "sink");
    r->st.ids = g_array_new (FALSE, FALSE, sizeof (gint32));
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, collect_ids, &r->st, NULL);
    gst_object_unref (pad);
    gst_object_unref (detok);
  }
  {
    GstElement *output = prima_pipeline_get (pipeline, voice ? "text" : "output");
    GstPad *pad = gst_element_get_static_pad (output, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, output_event, NULL, NULL);
    gst_object_unref (pad);
    gst_object_unref (output);
  }
  return TRUE;
}

/* -cnv / -i: the turns, then the totals of the whole chat. */
static int
run_chat (Run *r)
{
  int status = chat (&r->st, r->fds[1], *r->a.prompt ? r->a.prompt : NULL);

  close (r->fds[1]);
  r->fds[1] = -1;
  if (status == 0)
    status = wait_for (&r->st, WAIT_EOS);
  if (status == 0) {
    fflush (stdout);
    fprintf (stderr, "\n");
    print_speed ("prompt", r->st.all_prompt_tokens, r->st.all_prompt_ns);
    print_speed ("decode", r->st.all_decode_tokens, r->st.all_decode_ns);
    print_draft (r->pipeline);
    if (r->a.verbose)
      print_memory_report ();
  }
  return status;
}

/* --voice / --voice-in: the turns are heard until the end of the input
 * (the file's end; Ctrl-C at the microphone), then the totals. */
static int
run_voice (Run *r)
{
  int status = wait_for (&r->st, WAIT_EOS);

  if (status == 130 && r->a.voice)
    status = 0;                 /* Ctrl-C ends a chat at the microphone */
  if (status == 0) {
    fflush (stdout);
    print_speed ("prompt", r->st.all_prompt_tokens, r->st.all_prompt_ns);
    print_speed ("decode", r->st.all_decode_tokens, r->st.all_decode_ns);
    if (r->a.verbose)
      print_memory_report ();
  }
  return status;
}

/* --ids-out: the generated ids, without the end-of-generation token that
 * ended the answer. FALSE after an error line. */
static gboolean
write_ids (const char *path, const RunState *st)
{
  GString *s = g_string_new (NULL);
  GError *error = NULL;
  guint n = st->ids->len;
  gboolean ok;

  if (n > 0 && g_strcmp0 (st->reason, "end-of-generation") == 0)
    n--;
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%d", i ? " " : "", g_array_index (st->ids, gint32, i));
  g_string_append_c (s, '\n');
  ok = g_file_set_contents (path, s->str, s->len, &error);
  if (!ok) {
    fprintf (stderr, _("prima run: %s\n"), error->message);
    g_error_free (error);
  }
  g_string_free (s, TRUE);
  return ok;
}

/* Generation from the prompt: its text (unless --no-display-prompt), the
 * answer, the speeds. */
static int
run_generate (Run *r)
{
  int status;

  if (!r->a.no_display_prompt) {
    fputs (r->a.prompt, stdout);
    fflush (stdout);
  }
  r->w.fd = r->fds[1];
  r->w.text = (char *) r->a.prompt;
  r->fds[1] = -1;
  r->writer = g_thread_new ("prima-prompt", write_prompt, &r->w);
  status = wait_for (&r->st, WAIT_EOS);
  if (status != 0)
    return status;
  printf ("\n");
  fflush (stdout);
  fprintf (stderr, "\n");
  print_speed ("prompt", r->st.prompt_tokens, r->st.prompt_ns);
  print_speed ("decode", r->st.decode_tokens, r->st.decode_ns);
  print_draft (r->pipeline);
  if (r->a.verbose)
    print_memory_report ();
  if (r->a.ids_out && !write_ids (r->a.ids_out, &r->st))
    status = 1;
  return status;
}

/* Stops the pipeline and the local workers, frees the run; returns the
 * exit status (1 when a local worker did not stop cleanly). */
static int
run_finish (Run *r, int status)
{
  if (r->pipeline) {
    if (r->fds[1] >= 0)
      close (r->fds[1]);
    r->fds[1] = -1;
    gst_element_set_state (r->pipeline, GST_STATE_NULL);
  }
  /* a prompt the pipeline did not read: the writer gets EPIPE */
  if (r->fds[0] >= 0)
    close (r->fds[0]);
  r->fds[0] = -1;
  if (r->writer)
    g_thread_join (r->writer);
  if (r->fds[1] >= 0)
    close (r->fds[1]);
  if (r->st.bus)
    gst_object_unref (r->st.bus);
  if (r->pipeline)
    gst_object_unref (r->pipeline);
  if (r->a.ring.n_workers > 0 && !prima_ring_head_finish (&r->a.ring, status != 0) && status == 0) {
    fprintf (stderr, _("prima run: a local worker did not stop cleanly\n"));
    status = 1;
  }
  if (r->st.ids)
    g_array_free (r->st.ids, TRUE);
  if (r->st.heard_times)
    g_async_queue_unref (r->st.heard_times);
  g_free (r->st.reason);
  g_free (r->model);
  g_free (r->text);
  g_free (r->escaped_system);
  if (r->a.reverse_prompts)
    g_ptr_array_free (r->a.reverse_prompts, TRUE);
  return status;
}

int
prima_cmd_run (int argc, char **argv)
{
  Run r = { .fds = { -1, -1 } };
  struct sigaction sa = { 0 };
  int status = 1;

  run_args_init (&r.a);
  if (!parse_run_args (&r.a, argc, argv, &status))
    return run_finish (&r, status);
  if (!apply_flags (&r.a, &r.mem))
    return run_finish (&r, 2);
  /* The baseline of memory pressure: before anything is mapped. */
  prima_memwatch_global_start ();
  if (!read_prompt (&r) || !find_model (&r) || !load_pipeline (&r))
    return run_finish (&r, 1);
  if (prima_ring_active (&r.a.ring) && !setup_ring_head (&r))
    return run_finish (&r, 1);
  if (!configure_pipeline (&r))
    return run_finish (&r, 1);

  /* Ctrl-C: stop the answer (no SA_RESTART: at the chat prompt, it ends the read) */
  sa.sa_handler = on_sigint;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);

  if (gst_element_set_state (r.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    wait_for (&r.st, WAIT_EOS); /* prints the error */
    return run_finish (&r, 1);
  }
  status = r.a.voice || r.a.voice_in ? run_voice (&r) : r.a.conversation ? run_chat (&r) : run_generate (&r);
  return run_finish (&r, status);
}
