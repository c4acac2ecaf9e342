/* gst-prima: `prima bench`: prompt and decode speed, memory bandwidth and
 * decode efficiency (how close decode comes to the bandwidth bound); with
 * --hop, the latency of one ring hop on loopback.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <stdio.h>
#include <glib/gi18n-lib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>

#include "prima-commands.h"
#include "prima-pipeline.h"
#include "prima-caps.h"
#include "prima-events.h"
#include "cli-args.h"
#include "cmd-options.h"
#include "forward.h"
#include "tensor-types.h"
#include <time.h>
#include "sampler.h"
#include "membw.h"
#include "memstat.h"
#include "ring-bench.h"

/* Bytes of the listed tensors (NULL ones skipped). */
static guint64
tensors_bytes (const gguf_tensor *const *ts, int n)
{
  guint64 b = 0;
  for (int i = 0; i < n; i++)
    b += ts[i] ? ts[i]->size : 0;
  return b;
}

/* Where decode time went (prima bench -v): per phase, ms per token, and for
 * the matrix products the weights they read and at what speed, against the
 * bandwidth probe. */
static void
print_phase_times (const prima_model *model, const prima_context *ctx, double bandwidth)
{
  prima_phase_times pt;
  guint64 bytes[PRIMA_PHASE_COUNT] = { 0 };
  double total = 0.0;
  prima_context_get_phase_times (ctx, &pt);
  if (pt.n_tokens == 0)
    return;
  for (int i = 0; i < model->hp.n_layer; i++) {
    const prima_layer_weights *l = &model->layers[i];
    const gguf_tensor *qkv[] = { l->wq, l->wk, l->wv, l->bq, l->bk, l->bv };
    const gguf_tensor *gu[] = { l->ffn_gate, l->ffn_up };
    bytes[PRIMA_PHASE_QKV] += tensors_bytes (qkv, G_N_ELEMENTS (qkv));
    bytes[PRIMA_PHASE_WO] += l->wo->size;
    bytes[PRIMA_PHASE_FFN_GATE_UP] += tensors_bytes (gu, G_N_ELEMENTS (gu));
    bytes[PRIMA_PHASE_FFN_DOWN] += l->ffn_down->size;
    bytes[PRIMA_PHASE_NORMS] += l->attn_norm->size + l->ffn_norm->size;
  }
  bytes[PRIMA_PHASE_HEAD] = model->output->size + model->output_norm->size;
  for (int p = 0; p < PRIMA_PHASE_COUNT; p++)
    if (p != PRIMA_PHASE_WAIT)
      total += pt.ns[p];
  printf ("\ndecode phases (%" G_GUINT64_FORMAT " tokens, %.1f thread pool calls per token; wait: the calling "
      "thread waiting for the others, inside the phases above it):\n", pt.n_tokens,
      (double) pt.n_dispatches / pt.n_tokens);
  printf ("| phase       | ms/token | %% of time | weights MiB | GB/s   | %% of probe |\n"
      "|-------------|----------|-----------|-------------|--------|------------|\n");
  for (int p = 0; p < PRIMA_PHASE_COUNT; p++) {
    const double ms = pt.ns[p] / 1e6 / pt.n_tokens;
    printf ("| %-11s | %8.3f | %8.1f%% |", prima_phase_name (p), ms, 100.0 * pt.ns[p] / total);
    if (bytes[p] > 0 && p != PRIMA_PHASE_NORMS && ms > 0)
      printf (" %11.1f | %6.2f | %9.1f%% |\n", bytes[p] / 1048576.0, bytes[p] / (ms / 1e3) / 1e9,
          100.0 * bytes[p] / (ms / 1e3) / bandwidth);
    else
      printf ("             |        |            |\n");
  }
}

static double
seconds_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1e6;
}

#define BENCH_PROMPT "Once upon a time"

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (GArray *v)
{
  g_array_sort (v, compare_doubles);
  if (v->len == 0)
    return 0.0;
  return v->len % 2 ? g_array_index (v, double, v->len / 2)
      : (g_array_index (v, double, v->len / 2 - 1) + g_array_index (v, double, v->len / 2)) / 2;
}

/* The median of the intervals between consecutive timestamps (µs), in ms:
 * a token's time without the stalls other programs cause now and then. */
static double
median_interval (const gint64 *t, int n)
{
  GArray *d = g_array_new (FALSE, FALSE, sizeof (double));
  double m;
  for (int i = 1; i < n; i++) {
    double v = (t[i] - t[i - 1]) / 1e3;
    g_array_append_val (d, v);
  }
  m = median (d);
  g_array_free (d, TRUE);
  return m;
}

/* The bare core: the prompt, then n_gen greedy tokens, each evaluated and
 * sampled as the element graph does. Returns ms per decoded token (the
 * passes after the prompt; *typical: the median of the token intervals),
 * or < 0 after an error line. */
static double
bench_core_decode (prima_model *model, prima_tokenizer *tok, int n_threads, int n_gen, const PrimaMemoryOptions *mem,
    double *typical)
{
  GArray *ids = prima_tokenize (tok, BENCH_PROMPT, -1, TRUE, TRUE);
  prima_sampler_params sp;
  prima_sampler *sampler;
  prima_context *ctx;
  GError *error = NULL;
  float *logits = g_new (float, model->hp.n_vocab);
  double ms = -1.0;
  gint64 *stamps = g_new (gint64, n_gen);
  int pos = (int) ids->len;

  prima_sampler_params_init (&sp);
  sp.temperature = 0.0f;
  sampler = prima_sampler_new (&sp, model->hp.n_vocab);
  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = (int) ids->len + n_gen + 1,
      .n_threads = n_threads, .prefetch = mem->prefetch, .release = mem->release}, &error);
  if (ctx == NULL)
    goto fail;
  for (guint i = 0; i < ids->len; i++)
    prima_sampler_accept (sampler, g_array_index (ids, int32_t, i));
  if (!prima_context_eval (ctx, (int) ids->len, (const int32_t *) ids->data, NULL, 0, logits, FALSE, &error))
    goto fail;
  for (int i = 0; i < n_gen; i++) {
    int32_t next = prima_sampler_sample (sampler, logits);
    stamps[i] = g_get_monotonic_time ();        /* as primaloop: from the first sampled token */
    if (i == n_gen - 1)
      break;
    prima_sampler_accept (sampler, next);
    if (!prima_context_eval (ctx, 1, &next, NULL, pos++, logits, FALSE, &error))
      goto fail;
  }
  ms = (stamps[n_gen - 1] - stamps[0]) / 1e3 / (n_gen - 1);
  *typical = median_interval (stamps, n_gen);
  goto out;
fail:
  fprintf (stderr, _("prima bench: %s\n"), error->message);
  g_error_free (error);
out:
  prima_context_free (ctx);
  prima_sampler_free (sampler);
  g_array_free (ids, TRUE);
  g_free (logits);
  g_free (stamps);
  return ms;
}

typedef struct {
  gint64 *stamps;
  int n, max;
} Stamps;

static GstPadProbeReturn
stamp_token (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Stamps *s = data;
  if (s->n < s->max)
    s->stamps[s->n++] = g_get_monotonic_time ();
  return GST_PAD_PROBE_OK;
}

/* The same through pipelines/generate.pipeline; the loop's prima-turn
 * message gives the decode time. */
static double
bench_pipeline_decode (const char *model_path, int n_threads, int n_gen, const PrimaMemoryOptions *mem,
    double *typical)
{
  Stamps st = { g_new (gint64, n_gen), 0, n_gen };
  GstElement *feedback;
  GstPad *pad;
  GstElement *pipeline = prima_pipeline_load ("bench", "generate.pipeline");
  GstBus *bus;
  GstMessage *msg;
  double ms = -1.0;
  int fds[2] = { -1, -1 }, null_fd;
  guint64 decode_ns = 0;
  gint decode_tokens = 0;

  if (pipeline == NULL) {
    g_free (st.stamps);
    return -1.0;
  }
  /* when each sampled token reaches the feedback: the token intervals */
  feedback = prima_pipeline_get (pipeline, "feedback");
  pad = gst_element_get_static_pad (feedback, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, stamp_token, &st, NULL);
  gst_object_unref (pad);
  gst_object_unref (feedback);
  null_fd = open ("/dev/null", O_WRONLY);
  if (pipe (fds) != 0 || null_fd < 0) {
    fprintf (stderr, _("prima bench: pipe: %s\n"), g_strerror (errno));
    gst_object_unref (pipeline);
    return -1.0;
  }
  if (write (fds[1], BENCH_PROMPT, strlen (BENCH_PROMPT)) != (ssize_t) strlen (BENCH_PROMPT))
    fprintf (stderr, _("prima bench: short write\n"));
  close (fds[1]);
  prima_pipeline_set (pipeline, "input", "fd", fds[0], NULL);
  prima_pipeline_set (pipeline, "output", "fd", null_fd, NULL);
  prima_pipeline_set (pipeline, "tokenizer", "model", model_path, NULL);
  prima_pipeline_set (pipeline, "loop", "model", model_path, "n-predict", n_gen, "ignore-eos", TRUE, NULL);
  prima_pipeline_set (pipeline, "layers", "model", model_path, "threads", n_threads, "context-size",
      64 + n_gen, NULL);
  prima_memory_options_apply (mem, pipeline);
  prima_pipeline_set (pipeline, "sampler", "temperature", 0.0f, NULL);
  prima_pipeline_set (pipeline, "detokenizer", "model", model_path, NULL);

  bus = gst_element_get_bus (pipeline);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  while ((msg = gst_bus_timed_pop_filtered (bus, GST_CLOCK_TIME_NONE,
              GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_ELEMENT))) {
    GstMessageType type = GST_MESSAGE_TYPE (msg);
    if (type == GST_MESSAGE_ERROR) {
      GError *error = NULL;
      gst_message_parse_error (msg, &error, NULL);
      fprintf (stderr, _("prima bench: %s\n"), error->message);
      g_error_free (error);
    } else if (type == GST_MESSAGE_ELEMENT && prima_message_is_turn (msg)) {
      PrimaTurnInfo t;
      prima_message_parse_turn (msg, &t);
      decode_ns = t.decode_time;
      decode_tokens = t.decode_tokens;
    }
    gst_message_unref (msg);
    if (type != GST_MESSAGE_ELEMENT) {
      if (type == GST_MESSAGE_EOS && decode_tokens > 0) {
        ms = decode_ns / 1e6 / decode_tokens;
        *typical = median_interval (st.stamps, st.n);
      }
      break;
    }
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  close (fds[0]);
  close (null_fd);
  g_free (st.stamps);
  return ms;
}

/* prima bench --pipeline: decode through the element graph against the bare
 * core, alternating, and the graph's per-token overhead from the medians. */
static int
bench_pipeline (const char *model_path, int n_threads, int n_gen, int reps, const PrimaMemoryOptions *mem)
{
  GArray *core = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *graph = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *core_typ = g_array_new (FALSE, FALSE, sizeof (double));
  GArray *graph_typ = g_array_new (FALSE, FALSE, sizeof (double));
  prima_model *model = NULL;
  prima_tokenizer *tok = NULL;
  double c, g, ct = 0, gt = 0;
  int status = 1;

  if (n_gen < 3)
    n_gen = 3;
  if (!prima_open_model ("bench", model_path, &model, &tok))
    goto out;
  if (!prima_gst_init ("bench"))
    goto out;
  printf (_("model: %s (%s, %d layers, %d embd, %d vocab), %s\n"), model->name, prima_arch_name (model->hp.arch),
      model->hp.n_layer, model->hp.n_embd, model->hp.n_vocab, model_path);
  printf (_("decode %d greedy tokens after \"%s\", %d threads, %d repetitions (core and graph alternate)\n"
      "mean: over the whole decode; token: the median token interval (robust to stalls from other programs)\n\n"),
      n_gen, BENCH_PROMPT, n_threads, reps);
  printf ("| rep | core mean ms | graph mean ms | core token ms | graph token ms | overhead (token) |\n"
      "|-----|--------------|---------------|---------------|----------------|------------------|\n");
  fflush (stdout);
  for (int r = 0; r < reps; r++) {
    c = bench_core_decode (model, tok, n_threads, n_gen, mem, &ct);
    g = bench_pipeline_decode (model_path, n_threads, n_gen, mem, &gt);
    if (c <= 0 || g <= 0)
      goto out;
    g_array_append_val (core, c);
    g_array_append_val (graph, g);
    g_array_append_val (core_typ, ct);
    g_array_append_val (graph_typ, gt);
    printf ("| %3d | %12.3f | %13.3f | %13.3f | %14.3f | %+15.2f%% |\n", r + 1, c, g, ct, gt, 100.0 * (gt - ct) / ct);
    fflush (stdout);
  }
  c = median (core);
  g = median (graph);
  ct = median (core_typ);
  gt = median (graph_typ);
  printf (_("\nmedians: mean decode: core %.3f ms/token (%.2f tok/s), graph %.3f ms/token (%.2f tok/s): %+.2f%%\n"),
      c, 1e3 / c, g, 1e3 / g, 100.0 * (g - c) / c);
  printf (_("median token: core %.3f ms, graph %.3f ms: per-token overhead of the element graph %+.2f%% (%+.3f ms)\n"),
      ct, gt, 100.0 * (gt - ct) / ct, gt - ct);
  status = 0;
out:
  g_array_free (core, TRUE);
  g_array_free (graph, TRUE);
  g_array_free (core_typ, TRUE);
  g_array_free (graph_typ, TRUE);
  prima_tokenizer_free (tok);
  prima_model_free (model);
  return status;
}

/* prima bench --hop: the latency of one ring hop on loopback (ring-bench.h:
 * two ring links in this process, one echoing); the per-hop figure is half
 * the round trip. */
static double
thread_cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* --gemm-kernels: each type's tile kernel against vec_dot per (row, token),
 * 256 rows of 2048 x 32 tokens, one thread, thread CPU time (which other
 * load on the machine moves less than wall time), best of 15. */
static int
bench_gemm_kernels (void)
{
  static const prima_type types[] = {
    PRIMA_TYPE_Q4_K, PRIMA_TYPE_Q5_K, PRIMA_TYPE_Q6_K, PRIMA_TYPE_Q8_0, PRIMA_TYPE_Q4_0, PRIMA_TYPE_IQ4_XS,
  };
  const int n = 2048, rows = 256, n_tok = 32, reps = 15;
  GRand *rnd = g_rand_new_with_seed (16);
  float *f = g_new (float, n), *y = g_new (float, (size_t) rows * n_tok);
  printf ("kernels: %s; %d rows of %d x %d tokens, 1 thread, thread CPU time, best of %d\n\n",
      prima_isa_name (prima_active_isa ()), rows, n, n_tok, reps);
  printf ("| type   | tile GFLOP/s | vec_dot GFLOP/s | speed-up |\n|--------|--------------|-----------------|----------|\n");
  for (size_t k = 0; k < G_N_ELEMENTS (types); k++) {
    const prima_type_traits *t = prima_type_get_traits (types[k]);
    if (t == NULL || t->gemm == NULL) {
      printf ("| %-6s | (none)       |                 |          |\n", prima_type_name (types[k]));
      continue;
    }
    const prima_type_traits *at = prima_type_get_traits (t->vec_dot_type);
    const size_t wb = prima_row_size (types[k], n), ab = prima_row_size (t->vec_dot_type, n);
    uint8_t *w = g_malloc (wb * rows), *a = g_malloc (ab * n_tok);
    for (int r = 0; r < rows + n_tok; r++) {
      for (int i = 0; i < n; i++)
        f[i] = (float) g_rand_double_range (rnd, -1, 1);
      if (r < rows)
        t->from_float (f, w + (size_t) r * wb, n);
      else
        at->from_float (f, a + (size_t) (r - rows) * ab, n);
    }
    double best_tile = G_MAXDOUBLE, best_dot = G_MAXDOUBLE;
    for (int rep = 0; rep < reps; rep++) {
      const double t0 = thread_cpu_seconds ();
      t->gemm (n, rows, n_tok, y, rows, w, wb, a, ab);
      const double t1 = thread_cpu_seconds ();
      for (int r = 0; r < rows; r++)
        for (int tok = 0; tok < n_tok; tok++)
          t->vec_dot (n, &y[(size_t) tok * rows + r], w + (size_t) r * wb, a + (size_t) tok * ab);
      const double t2 = thread_cpu_seconds ();
      best_tile = MIN (best_tile, t1 - t0);
      best_dot = MIN (best_dot, t2 - t1);
    }
    const double flop = 2.0 * n * rows * n_tok;
    printf ("| %-6s | %12.1f | %15.1f | %7.2fx |\n", t->name, flop / best_tile * 1e-9, flop / best_dot * 1e-9,
        best_dot / best_tile);
    g_free (w);
    g_free (a);
  }
  g_free (f);
  g_free (y);
  g_rand_free (rnd);
  return 0;
}

static int
bench_hop (int n_embd, int iterations)
{
  PrimaHopTiming t;
  GError *err = NULL;
  double *r, med, p99;
  guint n;

  if (!prima_link_measure_hop (n_embd, iterations, &t, &err)) {
    fprintf (stderr, _("prima bench --hop: %s\n"), err ? err->message : "failed");
    g_clear_error (&err);
    return 1;
  }
  r = (double *) t.rtt_ms->data;
  n = t.rtt_ms->len;
  med = median (t.rtt_ms);
  p99 = r[MIN ((guint) (n * 0.99), n - 1)];
  printf (_("ring hop on loopback: one token of n_embd %d f32 (%u bytes per frame), %d echoed round trips "
      "(after %d to warm up)\n"), n_embd, t.frame_bytes, iterations, t.warmup);
  printf (_("round trip: min %.3f  median %.3f  p99 %.3f  max %.3f ms\n"), r[0], med, p99, r[n - 1]);
  printf (_("per hop (half the round trip): median %.3f ms, p99 %.3f ms (target < 0.3 ms: %s)\n"), med / 2, p99 / 2,
      med / 2 < 0.3 ? "met" : "missed");
  prima_hop_timing_clear (&t);
  return 0;
}

/* CPU seconds of this process: on a shared machine, tokens per CPU second
 * (with -t 1, where no worker spins) says more than wall time. */
static double
cpu_seconds (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int
compare_int32_desc (gconstpointer a, gconstpointer b)
{
  const int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
  return x > y ? -1 : x < y;
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  const double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* --batch-seqs: decode B sequences at once, one token each per
 * prima_context_eval_batch step (continuous batching, docs/serve.md): the
 * weights are read once per step for all B, so the aggregate rate grows
 * with B until the matrix products become compute-bound. */
static gboolean
bench_batch_seqs (prima_model *model, int n_threads, const PrimaMemoryOptions *mem, GArray *seqs, int n_gen,
    int reps, GError **error)
{
  printf ("\n| batch | tokens/s (aggregate, median) | tokens/s per sequence | ms/step | tokens per CPU s (median) |\n"
      "|-------|------------------------------|-----------------------|---------|---------------------------|\n");
  for (guint i = 0; i < seqs->len; i++) {
    const int b = g_array_index (seqs, int32_t, i);
    prima_context *ctx;
    int32_t *tok;
    int *seq, *pos;
    float *out;
    double *times, *cpu, med, cpu_med;
    gboolean ok = TRUE;
    if (b <= 0)
      continue;
    ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = n_gen + 1, .n_threads = n_threads,
        .n_seq = b, .prefetch = mem->prefetch, .release = mem->release}, error);
    if (ctx == NULL)
      return FALSE;
    tok = g_new (int32_t, b);
    seq = g_new (int, b);
    pos = g_new (int, b);
    out = g_new (float, (size_t) b * model->hp.n_vocab);
    times = g_new (double, reps);
    cpu = g_new (double, reps);
    for (int r = 0; r < reps && ok; r++) {
      gint64 t0 = 0;
      double c0 = 0.0;
      /* step 0 (every sequence's first token, at position 0) is not timed */
      for (int step = 0; step <= n_gen && ok; step++) {
        for (int s = 0; s < b; s++) {
          tok[s] = (s * 31 + step * 7 + 1) % model->hp.n_vocab;
          seq[s] = s;
          pos[s] = step;
        }
        ok = prima_context_eval_batch (ctx, &(prima_batch) {.n = b, .tokens = tok, .seq = seq, .pos = pos}, out,
            error);
        if (step == 0) {
          t0 = g_get_monotonic_time ();
          c0 = cpu_seconds ();
        }
      }
      times[r] = seconds_since (t0);
      cpu[r] = cpu_seconds () - c0;
    }
    if (ok) {
      qsort (times, reps, sizeof (double), compare_double);
      qsort (cpu, reps, sizeof (double), compare_double);
      med = reps % 2 ? times[reps / 2] : (times[reps / 2 - 1] + times[reps / 2]) / 2;
      cpu_med = reps % 2 ? cpu[reps / 2] : (cpu[reps / 2 - 1] + cpu[reps / 2]) / 2;
      printf ("| %5d | %28.2f | %21.2f | %7.3f | %25.2f |\n", b, (double) b * n_gen / med, n_gen / med,
          med * 1e3 / n_gen, (double) b * n_gen / cpu_med);
      fflush (stdout);
    }
    g_free (tok);
    g_free (seq);
    g_free (pos);
    g_free (out);
    g_free (times);
    g_free (cpu);
    prima_context_free (ctx);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* --ctx-depth: decode speed with D positions already cached (the cost of
 * attention grows with D; the weights read per token do not). The cache is
 * filled once by one prompt of the largest depth; the depths are timed from
 * the largest down, since decoding at position D drops the cells after it.
 * Each repetition decodes n_gen tokens from position D; the median over the
 * repetitions is reported. */
static gboolean
bench_ctx_depth (prima_model *model, int n_threads, const PrimaMemoryOptions *mem, GArray *depths, int n_gen,
    int reps, GError **error)
{
  int max_d = 0;
  prima_context *ctx;
  int32_t *tokens;
  float *out;
  double *times, base_ms = 0.0;
  gboolean ok = TRUE;
  GRand *rand;
  gint64 t0;

  g_array_sort (depths, (GCompareFunc) compare_int32_desc);
  max_d = g_array_index (depths, int32_t, 0);
  if (max_d < 0)
    max_d = 0;
  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = max_d + n_gen + 1, .n_threads = n_threads,
      .prefetch = mem->prefetch, .release = mem->release}, error);
  if (ctx == NULL)
    return FALSE;
  tokens = g_new (int32_t, MAX (max_d, 1));
  out = g_new (float, model->hp.n_vocab);
  times = g_new (double, reps);
  rand = g_rand_new_with_seed (1234);
  for (int i = 0; i < MAX (max_d, 1); i++)
    tokens[i] = g_rand_int_range (rand, 0, model->hp.n_vocab);
  g_rand_free (rand);
  t0 = g_get_monotonic_time ();
  if (max_d > 0)
    ok = prima_context_eval (ctx, max_d, tokens, NULL, 0, out, FALSE, error);
  printf (_("\ncache filled with %d positions in %.1f s; decode %d tokens from each depth, %d repetitions (median)\n"),
      max_d, seconds_since (t0), n_gen, reps);
  printf ("\n| depth | tokens/s | ms/token | vs smallest depth |\n|-------|----------|----------|-------------------|\n");
  fflush (stdout);
  {
    double *ms = g_new (double, depths->len);
    for (guint i = 0; i < depths->len && ok; i++) {
      const int d = MAX (0, g_array_index (depths, int32_t, i));
      for (int r = 0; r < reps && ok; r++) {
        int32_t tok = tokens[0];
        gint64 s0 = g_get_monotonic_time ();
        for (int k = 0; k < n_gen && ok; k++) {
          ok = prima_context_eval (ctx, 1, &tok, NULL, d + k, out, FALSE, error);
          tok = (tok + 7) % model->hp.n_vocab;
        }
        times[r] = seconds_since (s0) * 1e3 / n_gen;
      }
      if (!ok)
        break;
      qsort (times, reps, sizeof (double), compare_double);
      ms[i] = reps % 2 ? times[reps / 2] : (times[reps / 2 - 1] + times[reps / 2]) / 2;
    }
    if (ok) {
      base_ms = ms[depths->len - 1];
      for (gint i = (gint) depths->len - 1; i >= 0; i--)
        printf ("| %5d | %8.2f | %8.3f | %16.2fx |\n", g_array_index (depths, int32_t, i), 1e3 / ms[i], ms[i],
            ms[i] / base_ms);
    }
    g_free (ms);
  }
  g_free (tokens);
  g_free (out);
  g_free (times);
  prima_context_free (ctx);
  return ok;
}

int
prima_cmd_bench (int argc, char **argv)
{
  const char *model_path = NULL, *pp_list = "128,512", *seq_list = NULL, *depth_list = NULL, *gemm = NULL;
  int n_threads = 0, n_gen = 64, reps = 2;
  gint64 bw_mib = 1024;
  int hop_embd = 4096, hop_iterations = 2000;
  gboolean help, hop = FALSE, pipeline = FALSE, verbose = FALSE, gemm_kernels = FALSE;
  PrimaMemoryFlags mem_flags = { 0 };
  PrimaMemoryOptions mem;
  const cli_option options[] = {
    {"-m,--model", CLI_STRING, &model_path, "FILE", N_("GGUF model (default: the embedded model)")},
    {"-t,--threads", CLI_INT, &n_threads, "N", N_("threads, 1 to 1024 (default: all cores)"), CLI_RANGE (1, CLI_MAX_THREADS)},
    {"-p,--n-prompt", CLI_STRING, &pp_list, "N,N", N_("prompt lengths to time (default 128,512; 0 to skip)")},
    {"-n,--n-gen", CLI_INT, &n_gen, "N", N_("tokens to decode (default 64; 0 to skip)"), CLI_RANGE (0, G_MAXINT)},
    {"-r,--repetitions", CLI_INT, &reps, "N", N_("repetitions of each test (default 2)"), CLI_RANGE (1, G_MAXINT)},
    {"--bandwidth-mib", CLI_INT64, &bw_mib, "MiB", N_("buffer size of the bandwidth probe (default 1024)"),
      CLI_RANGE (1, 1 << 20)},
    {"--batch-seqs", CLI_STRING, &seq_list, "B,B", N_("also decode B sequences batched (-n steps, -r reps; median)")},
    {"--ctx-depth", CLI_STRING, &depth_list, "D,D", N_("only: decode -n tokens after D cached positions (-r reps; median)")},
    {"--pipeline", CLI_FLAG, &pipeline, NULL, N_("decode through generate.pipeline against the bare core (-n tokens, -r reps)")},
    {"--hop", CLI_FLAG, &hop, NULL, N_("per-hop latency of the ring on loopback (one token, two ring links, no model)")},
    {"--n-embd", CLI_INT, &hop_embd, "N", N_("--hop: floats per frame (default 4096)"), CLI_RANGE (1, 1 << 24)},
    {"--iterations", CLI_INT, &hop_iterations, "N", N_("--hop: round trips to time (default 2000)"), CLI_RANGE (1, G_MAXINT)},
    {"--verbose", CLI_FLAG, &verbose, NULL, N_("where decode time goes (per phase), memory accounting at the end")},
    {"--gemm", CLI_STRING, &gemm, "MODE", N_("prompt matmuls: tile (default), vec_dot (same bits, untiled) or openblas "
          "(SGEMM on dequantized rows, 64+ tokens; other bits)")},
    {"--gemm-kernels", CLI_FLAG, &gemm_kernels, NULL, N_("only: time each type's tile kernel against vec_dot (1 thread, no model)")},
  };
  cli_option mem_storage[PRIMA_MEMORY_GROUP_MAX];
  const cli_group groups[] = {
    {NULL, options, G_N_ELEMENTS (options)},
    prima_memory_option_group (&mem_flags, mem_storage),
  };
  prima_model *model = NULL;
  prima_context *ctx = NULL;
  GError *error = NULL;
  GArray *pps, *seqs = NULL;
  int max_pp = 1, status = 1;
  float *out = NULL;
  int32_t *tokens = NULL;
  double bandwidth, tg_rate = 0.0;
  guint64 weight_bytes;
  GRand *rand;

  if (!cli_parse_groups ("bench", "[-m MODEL] [-t N] [-p 128,512] [-n 64]", groups, G_N_ELEMENTS (groups), argc,
          argv, &help, NULL))
    return 2;
  if (help)
    return 0;
  if (verbose)
    cli_show_messages ();
  if (hop) {
    if (hop_embd <= 0 || hop_iterations <= 0) {
      fprintf (stderr, _("prima bench: --n-embd and --iterations must be positive\n"));
      return 2;
    }
    return bench_hop (hop_embd, hop_iterations);
  }
  if (gemm_kernels)
    return bench_gemm_kernels ();
  if (n_threads <= 0)
    n_threads = (int) MAX (1, sysconf (_SC_NPROCESSORS_ONLN));
  if (gemm) {
    if (!prima_gemm_mode_valid (gemm)) {
      if (g_strcmp0 (gemm, "openblas") == 0)
        fprintf (stderr, _("prima bench: --gemm openblas: cannot load libopenblas.so.0 (Debian: apt-get install libopenblas0)\n"));
      else
        fprintf (stderr, _("prima bench: --gemm must be tile, vec_dot or openblas\n"));
      return 2;
    }
    g_setenv ("PRIMA_GEMM", gemm, TRUE);
  }
  if (!prima_memory_options_parse ("bench", &mem_flags, &mem))
    return 2;
  prima_memwatch_global_start ();
  if (pipeline)
    return bench_pipeline (model_path ? model_path : prima_default_model_path (), n_threads, n_gen, MAX (reps, 1),
        &mem);
  if (!(pps = prima_parse_ids ("bench", pp_list)))
    return 2;
  for (guint i = 0; i < pps->len; i++)
    max_pp = MAX (max_pp, g_array_index (pps, int32_t, i));
  if (seq_list && !(seqs = prima_parse_ids ("bench", seq_list))) {
    g_array_free (pps, TRUE);
    return 2;
  }
  if (!prima_open_model ("bench", model_path ? model_path : prima_default_model_path (), &model, NULL))
    goto out;
  if (depth_list) {
    GArray *depths = prima_parse_ids ("bench", depth_list);
    if (!depths)
      goto out;
    printf (_("model: %s (%s, %d layers, %d embd, %d heads, %d KV heads), %d threads\n"), model->name,
        prima_arch_name (model->hp.arch), model->hp.n_layer, model->hp.n_embd, model->hp.n_head, model->hp.n_head_kv,
        n_threads);
    if (depths->len == 0 || bench_ctx_depth (model, n_threads, &mem, depths, MAX (n_gen, 1), reps, &error))
      status = 0;
    g_array_free (depths, TRUE);
    if (status)
      goto fail;
    goto out;
  }
  weight_bytes = prima_model_weight_bytes (model, 0, model->hp.n_layer);
  printf (_("model: %s (%s, %d layers, %d embd, %d vocab), %s\n"), model->name, prima_arch_name (model->hp.arch),
      model->hp.n_layer, model->hp.n_embd, model->hp.n_vocab, gguf_path (model->file));
  printf (_("weights read per decoded token: %.1f MiB; threads: %d; kernels: %s; prompt gemm: %s\n"),
      weight_bytes / 1048576.0, n_threads, prima_isa_name (prima_active_isa ()), gemm ? gemm : "tile");
  fflush (stdout);

  bandwidth = prima_measure_read_bandwidth (n_threads, (size_t) bw_mib << 20);
  printf (_("memory read bandwidth (%d threads): %.2f GB/s\n"), n_threads, bandwidth / 1e9);
  fflush (stdout);

  ctx = prima_context_new (model, &(prima_context_params) {.n_ctx = MAX (max_pp, n_gen + 1), .n_threads = n_threads,
      .prefetch = mem.prefetch, .release = mem.release}, &error);
  if (ctx == NULL)
    goto fail;
  out = g_new (float, model->hp.n_vocab);
  tokens = g_new (int32_t, MAX (max_pp, 1));
  rand = g_rand_new_with_seed (1234);
  for (int i = 0; i < MAX (max_pp, 1); i++)
    tokens[i] = g_rand_int_range (rand, 0, model->hp.n_vocab);
  g_rand_free (rand);

  /* Touch every weight once so the first timing does not include page faults. */
  if (!prima_context_eval (ctx, 1, tokens, NULL, 0, out, FALSE, &error))
    goto fail;
  {
    /* The same probe over the layers' weights as mapped (page-cache pages,
     * now faulted in): decode's own source. Efficiency is against the
     * higher of the two. */
    const uint8_t *lo = NULL, *hi = NULL;
    for (int i = 0; i < model->hp.n_layer; i++) {
      const prima_layer_weights *l = &model->layers[i];
      const gguf_tensor *ts[] = { l->wq, l->wk, l->wv, l->wo, l->ffn_gate, l->ffn_up, l->ffn_down };
      for (size_t k = 0; k < G_N_ELEMENTS (ts); k++) {
        lo = lo == NULL || ts[k]->data < lo ? ts[k]->data : lo;
        hi = hi == NULL || ts[k]->data + ts[k]->size > hi ? ts[k]->data + ts[k]->size : hi;
      }
    }
    const size_t n = MIN ((size_t) (hi - lo), (size_t) bw_mib << 20);
    const double mapped = prima_measure_read_bandwidth_of (n_threads, lo, n);
    printf ("mapped weights read bandwidth (%d threads, %.0f MiB): %.2f GB/s\n", n_threads, n / 1048576.0,
        mapped / 1e9);
    bandwidth = MAX (bandwidth, mapped);
  }

  printf ("\n| test   | tokens/s | ms/token |\n|--------|----------|----------|\n");
  for (guint i = 0; i < pps->len; i++) {
    int n = g_array_index (pps, int32_t, i);
    double total = 0.0;
    if (n <= 0)
      continue;
    for (int r = 0; r < reps; r++) {
      gint64 t0 = g_get_monotonic_time ();
      if (!prima_context_eval (ctx, n, tokens, NULL, 0, out, FALSE, &error))
        goto fail;
      total += seconds_since (t0);
    }
    printf ("| pp%-4d | %8.2f | %8.3f |\n", n, n * reps / total, total * 1e3 / (n * reps));
    fflush (stdout);
  }
  if (n_gen > 0) {
    double total = 0.0;
    prima_context_set_phase_timing (ctx, verbose);
    for (int r = 0; r < reps; r++) {
      int32_t tok = tokens[0];
      gint64 t0 = g_get_monotonic_time ();
      for (int pos = 0; pos < n_gen; pos++) {
        if (!prima_context_eval (ctx, 1, &tok, NULL, pos, out, FALSE, &error))
          goto fail;
        tok = (tok + 7) % model->hp.n_vocab;
      }
      total += seconds_since (t0);
    }
    tg_rate = n_gen * reps / total;
    printf ("| tg%-4d | %8.2f | %8.3f |\n", n_gen, tg_rate, total * 1e3 / (n_gen * reps));
    printf (_("\ndecode reads %.2f GB/s of weights = %.1f%% of the measured bandwidth (decode efficiency; the higher probe)\n"),
        weight_bytes * tg_rate / 1e9, 100.0 * weight_bytes * tg_rate / bandwidth);
    if (verbose)
      print_phase_times (model, ctx, bandwidth);
    prima_context_set_phase_timing (ctx, FALSE);
  }
  if (seqs && n_gen > 0 && !bench_batch_seqs (model, n_threads, &mem, seqs, n_gen, reps, &error))
    goto fail;
  if (verbose) {
    GString *report = g_string_new (NULL);
    prima_context_memory_report (report);
    printf ("\n%s", report->str);
    g_string_free (report, TRUE);
  }
  status = 0;
  goto out;

fail:
  fprintf (stderr, _("prima bench: %s\n"), error->message);
  g_error_free (error);
out:
  g_free (out);
  g_free (tokens);
  prima_context_free (ctx);
  prima_model_free (model);
  g_array_free (pps, TRUE);
  if (seqs)
    g_array_free (seqs, TRUE);
  return status;
}
