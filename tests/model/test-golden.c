/* gst-prima tests: `prima eval` and `prima run --temp 0` against the
 * reference outputs of ../shared/golden (tolerances of its README).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * The real trained models and their references are also in tests/data (and
 * the embedded model in data/), so a fresh clone tests those without ../shared. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>

#include "test-common.h"
#include "tokenizer.h"

typedef struct {
  double rel_rms, rel_max, tau;
} tolerance;

static tolerance
tolerance_for (const char *model)
{
  if (strstr (model, "BF16"))
    return (tolerance) { 0.012, 0.04, 0.015 };
  if (strstr (model, "F16") || strstr (model, "f32"))
    return (tolerance) { 0.002, 0.006, 0.005 };
  if (strstr (model, "Q8_0") || strstr (model, "q8_0"))
    return (tolerance) { 0.06, 0.25, 0.15 };
  if (strstr (model, "Q4_0") || strstr (model, "q4_0") || strstr (model, "Q4_1") || strstr (model, "Q5_0")
      || strstr (model, "Q5_1"))
    return (tolerance) { 0.09, 0.30, 0.2 };
  return (tolerance) { 0.12, 0.35, 0.2 };      /* K-quants and IQ types */
}

/* Where a golden file is: ../shared/golden, else tests/data, else data/
 * (the embedded model). NULL if nowhere. */
static char *
find_golden (const char *file)
{
  const char *shared = g_getenv ("PRIMA_SHARED_DIR");
  const char *tdata = g_getenv ("PRIMA_TEST_DATA");
  const char *ddata = g_getenv ("PRIMA_DATA_DIR");
  const char *dirs[3];
  char *golden = shared ? g_build_filename (shared, "golden", NULL) : NULL;
  dirs[0] = golden;
  dirs[1] = tdata;
  dirs[2] = ddata;
  for (int i = 0; i < 3; i++) {
    char *path;
    if (dirs[i] == NULL)
      continue;
    path = g_build_filename (dirs[i], file, NULL);
    if (g_file_test (path, G_FILE_TEST_EXISTS)) {
      g_free (golden);
      return path;
    }
    g_free (path);
  }
  g_free (golden);
  return NULL;
}

/* Run the prima program; returns stdout, fails the test on a non-zero exit. */
static char *
run_prima (const char *const *args)
{
  GPtrArray *argv = g_ptr_array_new ();
  char *out = NULL, *err = NULL;
  int status = 0;
  GError *error = NULL;
  g_ptr_array_add (argv, (gpointer) g_getenv ("PRIMA_BIN"));
  for (int i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error))
    g_error ("cannot run prima: %s", error->message);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("prima %s failed: %s", args[0], err);
  g_ptr_array_free (argv, TRUE);
  g_free (err);
  return out;
}

static GArray *
ids_from_text (const char *text)
{
  GArray *ids = prima_token_ids_parse (text, NULL);
  g_assert_nonnull (ids);
  return ids;
}

static GArray *
ids_from_json (JsonObject *o, const char *member)
{
  JsonArray *a = json_object_get_array_member (o, member);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    int32_t v = (int32_t) json_array_get_int_element (a, i);
    g_array_append_val (ids, v);
  }
  return ids;
}

static char *
ids_to_text (const int32_t *ids, guint n)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%d", i ? "," : "", ids[i]);
  return g_string_free (s, FALSE);
}

static double
row_std (const float *row, int n)
{
  double mean = 0.0, var = 0.0;
  for (int i = 0; i < n; i++)
    mean += row[i];
  mean /= n;
  for (int i = 0; i < n; i++)
    var += (row[i] - mean) * (row[i] - mean);
  return sqrt (var / n);
}

static int
argmax (const float *row, int n)
{
  int best = 0;
  for (int i = 1; i < n; i++)
    if (row[i] > row[best])
      best = i;
  return best;
}

typedef struct {
  char *name;                   /* e.g. "tiny-llama-Q4_K_M" or "stories260K-f32.from-bos" */
  char *model;                  /* file name of the GGUF */
  gboolean exact_greedy;        /* real trained F32 models: all tokens must match */
} golden_case;

static JsonObject *
load_reference (const golden_case *gc, JsonParser **parser)
{
  char *file = g_strdup_printf ("%s.json", gc->name);
  char *path = find_golden (file);
  GError *error = NULL;
  g_free (file);
  if (path == NULL)
    return NULL;
  *parser = json_parser_new ();
  if (!json_parser_load_from_file (*parser, path, &error))
    g_error ("%s: %s", path, error->message);
  g_free (path);
  return json_node_get_object (json_parser_get_root (*parser));
}

static void
test_eval (gconstpointer data)
{
  const golden_case *gc = data;
  JsonParser *parser = NULL;
  JsonObject *ref = load_reference (gc, &parser);
  char *model = find_golden (gc->model);
  char *logits_name = g_strdup_printf ("%s.logits.f32", gc->name);
  char *ref_logits_path = find_golden (logits_name);
  char *tmp = g_build_filename (g_get_tmp_dir (), "prima-golden-XXXXXX", NULL);
  char *ours_path;
  const tolerance tol = tolerance_for (gc->model);

  if (ref == NULL || model == NULL || ref_logits_path == NULL) {
    g_test_skip ("reference files not found (../shared/golden is not beside this clone)");
    goto out;
  }
  g_assert_nonnull (g_mkdtemp (tmp));
  ours_path = g_build_filename (tmp, "logits.f32", NULL);
  {
    const char *prompt = json_object_get_string_member (ref, "prompt");
    const int n_vocab = (int) json_object_get_int_member (ref, "n_vocab");
    const char *args[] = { "eval", "-m", model, "-p", prompt, "--logits", ours_path, "-t", "2", NULL };
    char *out = run_prima (args);
    GArray *got = ids_from_text (out), *want = ids_from_json (ref, "prompt_tokens");
    GBytes *ours_b = test_read_file (ours_path), *ref_b = test_read_file (ref_logits_path);
    const float *ours = g_bytes_get_data (ours_b, NULL), *refl = g_bytes_get_data (ref_b, NULL);
    double worst_rms = 0, worst_max = 0;

    g_assert_cmpuint (got->len, ==, want->len);
    g_assert_cmpmem (got->data, got->len * 4, want->data, want->len * 4);
    g_assert_cmpuint (g_bytes_get_size (ours_b), ==, (gsize) want->len * n_vocab * 4);
    g_assert_cmpuint (g_bytes_get_size (ref_b), ==, g_bytes_get_size (ours_b));
    for (guint t = 0; t < want->len; t++) {
      const float *o = ours + (size_t) t * n_vocab, *r = refl + (size_t) t * n_vocab;
      const double s = row_std (r, n_vocab);
      double se = 0, mx = 0;
      for (int i = 0; i < n_vocab; i++) {
        double d = fabs ((double) o[i] - r[i]);
        se += d * d;
        mx = MAX (mx, d);
      }
      const double rel_rms = sqrt (se / n_vocab) / s, rel_max = mx / s;
      worst_rms = MAX (worst_rms, rel_rms);
      worst_max = MAX (worst_max, rel_max);
      if (rel_rms > tol.rel_rms || rel_max > tol.rel_max)
        g_error ("%s position %u: rel-RMS %.4f (limit %.3f), rel-max %.4f (limit %.3f)", gc->name, t,
            rel_rms, tol.rel_rms, rel_max, tol.rel_max);
      const int ao = argmax (o, n_vocab), ar = argmax (r, n_vocab);
      if (ao != ar) {
        float second = -INFINITY;
        for (int i = 0; i < n_vocab; i++)
          if (i != ar)
            second = MAX (second, r[i]);
        if (r[ar] - second >= tol.tau * s)
          g_error ("%s position %u: argmax %d, reference %d with margin %.4f >= tau*s", gc->name, t, ao, ar,
              (r[ar] - second) / s);
      }
    }
    g_test_message ("%s: %u positions, worst rel-RMS %.5f, worst rel-max %.5f", gc->name, want->len,
        worst_rms, worst_max);
    g_bytes_unref (ours_b);
    g_bytes_unref (ref_b);
    g_array_free (got, TRUE);
    g_array_free (want, TRUE);
    g_free (out);
  }
  g_unlink (ours_path);
  g_rmdir (tmp);
  g_free (ours_path);
out:
  g_free (tmp);
  g_free (logits_name);
  g_free (ref_logits_path);
  g_free (model);
  if (parser)
    g_object_unref (parser);
}

/* Our logits after prompt + prefix (the last row), via prima eval --tokens. */
static float *
logits_after (const char *model, GArray *prompt, GArray *prefix, guint n_prefix, int n_vocab)
{
  GArray *all = g_array_new (FALSE, FALSE, sizeof (int32_t));
  char *tmp = g_build_filename (g_get_tmp_dir (), "prima-golden-XXXXXX", NULL);
  char *path, *ids, *out;
  GBytes *b;
  float *row;
  g_array_append_vals (all, prompt->data, prompt->len);
  g_array_append_vals (all, prefix->data, n_prefix);
  ids = ids_to_text ((const int32_t *) all->data, all->len);
  g_assert_nonnull (g_mkdtemp (tmp));
  path = g_build_filename (tmp, "logits.f32", NULL);
  {
    const char *args[] = { "eval", "-m", model, "--tokens", ids, "--logits", path, "-t", "2", NULL };
    out = run_prima (args);
  }
  b = test_read_file (path);
  g_assert_cmpuint (g_bytes_get_size (b), ==, (gsize) all->len * n_vocab * 4);
  row = g_memdup2 ((const float *) g_bytes_get_data (b, NULL) + (size_t) (all->len - 1) * n_vocab,
      sizeof (float) * n_vocab);
  g_bytes_unref (b);
  g_unlink (path);
  g_rmdir (tmp);
  g_free (path);
  g_free (tmp);
  g_free (ids);
  g_free (out);
  g_array_free (all, TRUE);
  return row;
}

static void
test_greedy (gconstpointer data)
{
  const golden_case *gc = data;
  JsonParser *parser = NULL;
  JsonObject *ref = load_reference (gc, &parser);
  char *model = find_golden (gc->model);
  char *tmp = g_build_filename (g_get_tmp_dir (), "prima-golden-XXXXXX", NULL);

  if (ref == NULL || model == NULL) {
    g_test_skip ("reference files not found (../shared/golden is not beside this clone)");
    goto out;
  }
  g_assert_nonnull (g_mkdtemp (tmp));
  {
    const char *prompt = json_object_get_string_member (ref, "prompt");
    const int n_vocab = (int) json_object_get_int_member (ref, "n_vocab");
    GArray *want = ids_from_json (ref, "greedy_tokens"), *prompt_ids = ids_from_json (ref, "prompt_tokens");
    char *n = g_strdup_printf ("%u", want->len);
    char *ids_path = g_build_filename (tmp, "ids.txt", NULL);
    const char *args[] = { "run", "-m", model, "-p", prompt, "-n", n, "--temp", "0", "--ignore-eos",
      "--no-display-prompt", "--ids-out", ids_path, "-t", "2", NULL };
    char *out = run_prima (args), *ids_text;
    GArray *got;
    guint i;

    g_assert_true (g_file_get_contents (ids_path, &ids_text, NULL, NULL));
    got = ids_from_text (ids_text);
    for (i = 0; i < MIN (got->len, want->len); i++)
      if (g_array_index (got, int32_t, i) != g_array_index (want, int32_t, i))
        break;
    if (i < want->len) {
      /* The greedy rule of ../shared/golden/README.md: a first difference is
       * allowed only where our top two logits are within tau * s. */
      const tolerance tol = tolerance_for (gc->model);
      float *row;
      double s;
      int top;
      int32_t ref_tok = g_array_index (want, int32_t, i);
      if (gc->exact_greedy)
        g_error ("%s: greedy token %u is %d, reference %d (all tokens must match)", gc->name, i,
            i < got->len ? g_array_index (got, int32_t, i) : -1, ref_tok);
      row = logits_after (model, prompt_ids, want, i, n_vocab);
      s = row_std (row, n_vocab);
      top = argmax (row, n_vocab);
      if (row[top] - row[ref_tok] > tol.tau * s)
        g_error ("%s: greedy token %u is %d, reference %d; margin %.4f s > tau %.3f", gc->name, i, top, ref_tok,
            (row[top] - row[ref_tok]) / s, tol.tau);
      g_test_message ("%s: first %u of %u greedy tokens equal; token %u differs within tau", gc->name, i,
          want->len, i);
      g_free (row);
    } else {
      g_test_message ("%s: all %u greedy tokens equal", gc->name, want->len);
      /* For the real models the printed text must be the reference's. */
      if (gc->exact_greedy) {
        const char *text = json_object_get_string_member (ref, "greedy_text");
        g_assert_true (g_str_has_prefix (out, text));
      }
    }
    g_unlink (ids_path);
    g_free (ids_path);
    g_free (ids_text);
    g_free (out);
    g_free (n);
    g_array_free (got, TRUE);
    g_array_free (want, TRUE);
    g_array_free (prompt_ids, TRUE);
  }
  g_rmdir (tmp);
out:
  g_free (tmp);
  g_free (model);
  if (parser)
    g_object_unref (parser);
}

static const char *const synthetic[] = {
  "tiny-llama-F16", "tiny-llama-BF16", "tiny-llama-Q8_0", "tiny-llama-Q4_0", "tiny-llama-Q4_1",
  "tiny-llama-Q5_0", "tiny-llama-Q5_1", "tiny-llama-Q2_K", "tiny-llama-Q3_K_M", "tiny-llama-Q4_K_S",
  "tiny-llama-Q4_K_M", "tiny-llama-Q5_K_M", "tiny-llama-Q6_K", "tiny-llama-IQ4_NL", "tiny-llama-IQ4_XS",
  "tiny-llama-IQ2_XXS", "tiny-llama-IQ1_S", "tiny-llama-IQ1_M", "tiny-qwen2-Q4_K_M", "spm-llama-Q4_K_M",
};

static const char *const real[] = {
  "stories260K-f32", "TinyStories-656K-f32", "TinyStories-656K-q8_0", "TinyStories-656K-q4_0",
};

static void
add_case (const char *name, const char *model, gboolean exact)
{
  golden_case *gc = g_new0 (golden_case, 1);
  char *path;
  gc->name = g_strdup (name);
  gc->model = g_strdup_printf ("%s.gguf", model);
  gc->exact_greedy = exact;
  path = g_strdup_printf ("/golden/eval/%s", name);
  g_test_add_data_func (path, gc, test_eval);
  g_free (path);
  path = g_strdup_printf ("/golden/greedy/%s", name);
  g_test_add_data_func (path, gc, test_greedy);
  g_free (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (synthetic); i++)
    add_case (synthetic[i], synthetic[i], FALSE);
  for (size_t i = 0; i < G_N_ELEMENTS (real); i++) {
    char *from_bos = g_strdup_printf ("%s.from-bos", real[i]);
    gboolean exact = strstr (real[i], "f32") != NULL;
    add_case (real[i], real[i], exact);
    add_case (from_bos, real[i], exact);
    g_free (from_bos);
  }
  return g_test_run ();
}
