/* gst-prima tests: tokenizers against llama.cpp's reference vectors
 * (../shared/vocab), plus small built-in vocabularies and error cases.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "test-common.h"
#include "tokenizer.h"

#define VOCAB_SEP "\n__ggml_vocab_test__\n"

static char *
ids_str (const int32_t *ids, gsize n)
{
  GString *s = g_string_new ("[");
  for (gsize i = 0; i < n; i++)
    g_string_append_printf (s, "%s%d", i ? ", " : "", ids[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static char *
escaped (const char *s, gssize len)
{
  char *copy = g_strndup (s, len < 0 ? strlen (s) : (gsize) len);
  char *e = g_strescape (copy, NULL);
  g_free (copy);
  return e;
}

/* Opens ../shared/vocab/<file> and builds its tokenizer; NULL (test
 * skipped) when the shared data is not there. */
static prima_tokenizer *
open_vocab (const char *file, gguf_file **gf)
{
  char *rel = g_build_filename ("vocab", file, NULL);
  char *path = test_shared_path (rel);
  GError *error = NULL;
  prima_tokenizer *t;

  g_free (rel);
  if (path == NULL)
    return NULL;
  *gf = gguf_open (path, &error);
  g_assert_no_error (error);
  t = prima_tokenizer_new (*gf, &error);
  g_assert_no_error (error);
  g_assert_nonnull (t);
  g_free (path);
  return t;
}

static gboolean
same_ids (const GArray *got, const int32_t *want, gsize n)
{
  return got->len == n && (n == 0 || memcmp (got->data, want, n * sizeof (int32_t)) == 0);
}

/* ---------------------------------------------------------------- .inp/.out vectors */

static void
test_vocab_vectors (gconstpointer data)
{
  const char *name = data;
  char *file = g_strdup_printf ("ggml-vocab-%s.gguf", name);
  char *rel_inp = g_strdup_printf ("vocab/%s.inp", file);
  char *rel_out = g_strdup_printf ("vocab/%s.out", file);
  gguf_file *gf = NULL;
  prima_tokenizer *t;
  char *path_inp = NULL, *path_out = NULL;
  GBytes *inp_bytes, *out_bytes;
  GPtrArray *inputs;
  char **out_lines;
  const char *p, *end;
  guint n_out, passed = 0;

  t = open_vocab (file, &gf);
  if (t == NULL)
    goto done;
  path_inp = test_shared_path (rel_inp);
  path_out = test_shared_path (rel_out);
  if (path_inp == NULL || path_out == NULL)
    goto done;
  inp_bytes = test_read_file (path_inp);
  out_bytes = test_read_file (path_out);

  /* Inputs: each one is followed by the separator line (as llama.cpp's
   * test-tokenizer-0 splits them). */
  inputs = g_ptr_array_new_with_free_func (g_free);
  p = g_bytes_get_data (inp_bytes, NULL);
  end = p + g_bytes_get_size (inp_bytes);
  while (p < end) {
    const char *sep = g_strstr_len (p, end - p, VOCAB_SEP);
    if (sep == NULL)
      break;
    g_ptr_array_add (inputs, g_strndup (p, sep - p));
    p = sep + strlen (VOCAB_SEP);
  }
  {
    char *all = g_strndup (g_bytes_get_data (out_bytes, NULL), g_bytes_get_size (out_bytes));
    gsize len = strlen (all);
    if (len > 0 && all[len - 1] == '\n')
      all[len - 1] = '\0';
    out_lines = g_strsplit (all, "\n", -1);
    g_free (all);
  }
  n_out = g_strv_length (out_lines);
  g_assert_cmpuint (inputs->len, ==, 46);
  g_assert_cmpuint (n_out, ==, inputs->len);

  for (guint i = 0; i < inputs->len; i++) {
    const char *text = g_ptr_array_index (inputs, i);
    GArray *want = g_array_new (FALSE, FALSE, sizeof (int32_t));
    char **fields = g_strsplit (out_lines[i], " ", -1);
    GArray *got;
    for (char **f = fields; *f != NULL; f++) {
      if (**f != '\0') {
        int32_t v = (int32_t) g_ascii_strtoll (*f, NULL, 10);
        g_array_append_val (want, v);
      }
    }
    g_strfreev (fields);
    got = prima_tokenize (t, text, -1, FALSE, FALSE);
    if (same_ids (got, (const int32_t *) (void *) want->data, want->len)) {
      passed++;
    } else {
      char *e = escaped (text, -1);
      char *sw = ids_str ((const int32_t *) (void *) want->data, want->len);
      char *sg = ids_str ((const int32_t *) (void *) got->data, got->len);
      g_test_fail_printf ("%s case %u: input \"%s\": expected %s, got %s", name, i, e, sw, sg);
      g_free (e);
      g_free (sw);
      g_free (sg);
    }
    g_array_free (got, TRUE);
    g_array_free (want, TRUE);
  }
  g_test_message ("%s: %u/%u cases match", name, passed, inputs->len);

  g_strfreev (out_lines);
  g_ptr_array_unref (inputs);
  g_bytes_unref (inp_bytes);
  g_bytes_unref (out_bytes);
done:
  prima_tokenizer_free (t);
  if (gf != NULL)
    gguf_close (gf);
  g_free (path_inp);
  g_free (path_out);
  g_free (rel_inp);
  g_free (rel_out);
  g_free (file);
}

/* ---------------------------------------------------------------- JSON reference */

static GArray *
json_ids (JsonObject *o, const char *member)
{
  JsonArray *a = json_object_get_array_member (o, member);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (int32_t));
  guint n = json_array_get_length (a);
  for (guint i = 0; i < n; i++) {
    int32_t v = (int32_t) json_array_get_int_element (a, i);
    g_array_append_val (ids, v);
  }
  return ids;
}

enum { MODE_NO_SPECIAL, MODE_ADD_SPECIAL, MODE_PARSE_SPECIAL, MODE_PIECES, MODE_DETOK, N_MODES };
static const char *const mode_names[N_MODES] = {
  "tokens_no_special", "tokens_add_special", "tokens_parse_special", "pieces_hex", "detok_no_special",
};

static void
check_ids (const char *name, const char *mode, const char *text, GArray *got, GArray *want, guint *passed)
{
  if (same_ids (got, (const int32_t *) (void *) want->data, want->len)) {
    (*passed)++;
  } else {
    char *e = escaped (text, -1);
    char *sw = ids_str ((const int32_t *) (void *) want->data, want->len);
    char *sg = ids_str ((const int32_t *) (void *) got->data, got->len);
    g_test_fail_printf ("%s %s: input \"%s\": expected %s, got %s", name, mode, e, sw, sg);
    g_free (e);
    g_free (sw);
    g_free (sg);
  }
}

static void
run_json_case (prima_tokenizer *t, const char *name, JsonObject *c, guint *passed)
{
  const char *text = json_object_get_string_member (c, "text");
  GArray *want[3], *got[3];
  JsonArray *hex = json_object_get_array_member (c, "pieces_hex");
  const char *want_detok = json_object_get_string_member (c, "detok_no_special");
  gboolean pieces_ok = TRUE;
  char *detok;

  want[0] = json_ids (c, "tokens_no_special");
  want[1] = json_ids (c, "tokens_add_special");
  want[2] = json_ids (c, "tokens_parse_special");
  got[0] = prima_tokenize (t, text, -1, FALSE, FALSE);
  got[1] = prima_tokenize (t, text, -1, TRUE, FALSE);
  got[2] = prima_tokenize (t, text, -1, TRUE, TRUE);
  for (int m = 0; m < 3; m++)
    check_ids (name, mode_names[m], text, got[m], want[m], &passed[m]);

  /* Pieces (special = TRUE) of the reference's tokens_no_special. */
  if (json_array_get_length (hex) != want[0]->len) {
    pieces_ok = FALSE;
  } else {
    for (guint i = 0; i < want[0]->len; i++) {
      GString *piece = g_string_new (NULL);
      GString *h = g_string_new (NULL);
      const char *ref = json_array_get_string_element (hex, i);
      prima_token_to_piece (t, g_array_index (want[0], int32_t, i), TRUE, piece);
      for (gsize k = 0; k < piece->len; k++)
        g_string_append_printf (h, "%02x", (guint8) piece->str[k]);
      if (strcmp (h->str, ref) != 0) {
        char *e = escaped (text, -1);
        g_test_fail_printf ("%s pieces_hex: input \"%s\": token %d: expected %s, got %s",
            name, e, g_array_index (want[0], int32_t, i), ref, h->str);
        g_free (e);
        pieces_ok = FALSE;
      }
      g_string_free (piece, TRUE);
      g_string_free (h, TRUE);
    }
  }
  if (pieces_ok)
    passed[MODE_PIECES]++;

  /* The reference detokenized its tokens_no_special (no specials in them,
   * so remove_special / unparse_special do not change the result). */
  detok = prima_detokenize (t, (const int32_t *) (void *) want[0]->data, want[0]->len, FALSE, FALSE);
  if (strcmp (detok, want_detok) == 0) {
    passed[MODE_DETOK]++;
  } else {
    char *e = escaped (text, -1), *ew = escaped (want_detok, -1), *eg = escaped (detok, -1);
    g_test_fail_printf ("%s detok_no_special: input \"%s\": expected \"%s\", got \"%s\"", name, e, ew, eg);
    g_free (e);
    g_free (ew);
    g_free (eg);
  }
  g_free (detok);
  for (int m = 0; m < 3; m++) {
    g_array_free (want[m], TRUE);
    g_array_free (got[m], TRUE);
  }
}

static void
test_json_reference (gconstpointer data)
{
  const char *name = data;
  char *rel = g_strdup_printf ("vocab/tokenize-%s.json", name);
  char *path = test_shared_path (rel);
  JsonParser *parser;
  JsonObject *root;
  GError *error = NULL;
  gguf_file *gf = NULL;
  prima_tokenizer *t;
  guint passed[N_MODES] = { 0 }, total = 0;
  static const char *const lists[] = { "upstream_cases", "extra_cases" };

  g_free (rel);
  if (path == NULL)
    return;
  parser = json_parser_new ();
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  t = open_vocab (json_object_get_string_member (root, "vocab"), &gf);
  if (t == NULL) {
    g_object_unref (parser);
    g_free (path);
    return;
  }

  g_assert_cmpint (prima_tokenizer_n_vocab (t), ==, json_object_get_int_member (root, "n_vocab"));
  g_assert_cmpint (prima_tokenizer_bos (t), ==, json_object_get_int_member (root, "bos"));
  g_assert_cmpint (prima_tokenizer_eos (t), ==, json_object_get_int_member (root, "eos"));
  g_assert_cmpint (prima_tokenizer_add_bos (t), ==, json_object_get_boolean_member (root, "add_bos"));
  g_assert_cmpint (prima_tokenizer_add_eos (t), ==, json_object_get_boolean_member (root, "add_eos"));

  for (guint l = 0; l < G_N_ELEMENTS (lists); l++) {
    JsonArray *cases = json_object_get_array_member (root, lists[l]);
    for (guint i = 0; i < json_array_get_length (cases); i++) {
      run_json_case (t, name, json_array_get_object_element (cases, i), passed);
      total++;
    }
  }
  g_assert_cmpuint (total, ==, 63);
  for (int m = 0; m < N_MODES; m++) {
    g_test_message ("%s: %s %u/%u", name, mode_names[m], passed[m], total);
  }

  prima_tokenizer_free (t);
  gguf_close (gf);
  g_object_unref (parser);
  g_free (path);
}

/* ---------------------------------------------------------------- metadata of the real vocabularies */

static void
test_special_tokens (void)
{
  gguf_file *gf = NULL;
  prima_tokenizer *t;
  GArray *ids;
  char *s;

  /* Qwen 2.5: ChatML turn ends and FIM pad/repo/file separators end generation. */
  if ((t = open_vocab ("ggml-vocab-qwen2.gguf", &gf)) == NULL)
    return;
  g_assert_true (prima_tokenizer_is_eog (t, 151645));   /* <|im_end|> */
  g_assert_true (prima_tokenizer_is_eog (t, 151643));   /* <|endoftext|> */
  g_assert_true (prima_tokenizer_is_eog (t, 151662));   /* <|fim_pad|> */
  g_assert_false (prima_tokenizer_is_eog (t, 151644));  /* <|im_start|> */
  g_assert_false (prima_tokenizer_is_eog (t, 872));
  g_assert_cmpint (prima_tokenizer_find_token (t, "<|im_start|>", -1), ==, 151644);
  /* User-defined tokens are cut out even without parse_special. */
  ids = prima_tokenize (t, "a<tool_call>b", -1, FALSE, FALSE);
  g_assert_cmpuint (ids->len, ==, 3);
  g_assert_cmpint (g_array_index (ids, int32_t, 1), ==, 151657);
  s = prima_detokenize (t, (const int32_t *) (void *) ids->data, ids->len, FALSE, FALSE);
  g_assert_cmpstr (s, ==, "a<tool_call>b");
  g_free (s);
  g_array_free (ids, TRUE);
  /* Control tokens render only when asked. */
  ids = prima_tokenize (t, "<|im_start|>user", -1, FALSE, TRUE);
  s = prima_detokenize (t, (const int32_t *) (void *) ids->data, ids->len, FALSE, FALSE);
  g_assert_cmpstr (s, ==, "user");
  g_free (s);
  s = prima_detokenize (t, (const int32_t *) (void *) ids->data, ids->len, FALSE, TRUE);
  g_assert_cmpstr (s, ==, "<|im_start|>user");
  g_free (s);
  g_array_free (ids, TRUE);
  prima_tokenizer_free (t);
  gguf_close (gf);

  /* Llama 3: BOS added, <|eot_id|> ends generation. */
  if ((t = open_vocab ("ggml-vocab-llama-bpe.gguf", &gf)) == NULL)
    return;
  g_assert_true (prima_tokenizer_add_bos (t));
  g_assert_true (prima_tokenizer_is_eog (t, 128009));
  g_assert_true (prima_tokenizer_is_eog (t, 128001));
  g_assert_false (prima_tokenizer_is_eog (t, 128000));
  ids = prima_tokenize (t, "Hello", -1, TRUE, FALSE);
  s = prima_detokenize (t, (const int32_t *) (void *) ids->data, ids->len, TRUE, FALSE);
  g_assert_cmpstr (s, ==, "Hello");
  g_free (s);
  g_array_free (ids, TRUE);
  prima_tokenizer_free (t);
  gguf_close (gf);

  /* Phi-3 (SentencePiece): <|end|> ends a turn; white space after special
   * tokens is stripped; the prefix space is dropped on detokenization. */
  if ((t = open_vocab ("ggml-vocab-phi-3.gguf", &gf)) == NULL)
    return;
  g_assert_true (prima_tokenizer_is_eog (t, 32007));
  g_assert_true (prima_tokenizer_is_eog (t, 32000));
  g_assert_cmpint (prima_tokenizer_bos (t), ==, 1);
  ids = prima_tokenize (t, "<|user|>\nHi<|end|>", -1, TRUE, TRUE);
  g_assert_cmpint (g_array_index (ids, int32_t, 0), ==, 1);
  g_assert_cmpint (g_array_index (ids, int32_t, 1), ==, 32010);
  g_assert_cmpint (g_array_index (ids, int32_t, ids->len - 1), ==, 32007);
  s = prima_detokenize (t, (const int32_t *) (void *) ids->data, ids->len, TRUE, TRUE);
  g_assert_cmpstr (s, ==, "<|user|> Hi<|end|>");
  g_free (s);
  g_array_free (ids, TRUE);
  prima_tokenizer_free (t);
  gguf_close (gf);

  /* Llama 2 (SentencePiece): byte fallback and the leading space. */
  if ((t = open_vocab ("ggml-vocab-llama-spm.gguf", &gf)) == NULL)
    return;
  g_assert_true (prima_tokenizer_add_bos (t));
  g_assert_false (prima_tokenizer_add_eos (t));
  ids = prima_tokenize (t, " Hello\xf0\x9f\xa6\x99", -1, TRUE, FALSE);
  s = prima_detokenize (t, (const int32_t *) (void *) ids->data, ids->len, TRUE, FALSE);
  g_assert_cmpstr (s, ==, "  Hello\xf0\x9f\xa6\x99");
  g_free (s);
  s = prima_detokenize (t, (const int32_t *) (void *) ids->data + 1, ids->len - 1, TRUE, FALSE);
  g_assert_cmpstr (s, ==, " Hello\xf0\x9f\xa6\x99");
  g_free (s);
  g_array_free (ids, TRUE);
  prima_tokenizer_free (t);
  gguf_close (gf);
}

/* ---------------------------------------------------------------- speed */

static char *
thousand_words (void)
{
  static const char *const words[] = {
    "The", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog,", "while",
    "3.14159", "engineers", "tokenize", "don't", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "caf\xc3\xa9", "(parentheses)", "and", "numbers", "like", "1234567.", "\n",
    "emoji", "\xf0\x9f\xa6\x99", "they'll", "say:", "\"hello\"", "world!",
  };
  GString *s = g_string_new (NULL);
  for (int i = 0; i < 1000; i++) {
    g_string_append (s, words[(i * 7 + i / 13) % G_N_ELEMENTS (words)]);
    g_string_append_c (s, ' ');
  }
  return g_string_free (s, FALSE);
}

static void
test_speed (void)
{
  static const char *const files[] = {
    "ggml-vocab-qwen2.gguf", "ggml-vocab-llama-bpe.gguf", "ggml-vocab-llama-spm.gguf",
    "ggml-vocab-deepseek-llm.gguf",
  };
  char *text = thousand_words ();

  for (guint k = 0; k < G_N_ELEMENTS (files); k++) {
    char *rel = g_build_filename ("vocab", files[k], NULL);
    char *path = test_shared_path (rel);
    GError *error = NULL;
    gguf_file *gf;
    prima_tokenizer *t;
    double t_open, t_new, t_tok = 1e9;
    GArray *ids = NULL;

    g_free (rel);
    if (path == NULL)
      break;
    g_test_timer_start ();
    gf = gguf_open (path, &error);
    g_assert_no_error (error);
    t_open = g_test_timer_elapsed ();
    g_test_timer_start ();
    t = prima_tokenizer_new (gf, &error);
    g_assert_no_error (error);
    t_new = g_test_timer_elapsed ();
    for (int r = 0; r < 5; r++) {
      double el;
      if (ids != NULL)
        g_array_free (ids, TRUE);
      g_test_timer_start ();
      ids = prima_tokenize (t, text, -1, TRUE, TRUE);
      el = g_test_timer_elapsed ();
      t_tok = MIN (t_tok, el);
    }
    g_test_message ("%s: %d tokens: gguf_open %.1f ms, tokenizer_new %.1f ms, 1000 words -> %u tokens in %.2f ms",
        files[k], prima_tokenizer_n_vocab (t), t_open * 1e3, t_new * 1e3, ids->len, t_tok * 1e3);
    /* Generous bounds: the suite also runs under ASan/UBSan. */
    g_assert_cmpfloat (t_new, <, 2.0);
    g_assert_cmpfloat (t_tok, <, 1.0);
    g_array_free (ids, TRUE);
    prima_tokenizer_free (t);
    gguf_close (gf);
    g_free (path);
  }
  g_free (text);
}

/* ---------------------------------------------------------------- built-in vocabularies */

typedef struct {
  char *dir;
  char *path;
} tmp_gguf;

static gguf_file *
write_and_open (gguf_writer *w, tmp_gguf *tg)
{
  GError *error = NULL;
  gguf_file *f;
  tg->dir = g_dir_make_tmp ("prima-tok-XXXXXX", &error);
  g_assert_no_error (error);
  tg->path = g_build_filename (tg->dir, "vocab.gguf", NULL);
  g_assert_true (gguf_writer_write (w, tg->path, &error));
  g_assert_no_error (error);
  gguf_writer_free (w);
  f = gguf_open (tg->path, &error);
  g_assert_no_error (error);
  return f;
}

static void
tmp_gguf_done (gguf_file *f, tmp_gguf *tg)
{
  gguf_close (f);
  g_unlink (tg->path);
  g_rmdir (tg->dir);
  g_free (tg->path);
  g_free (tg->dir);
}

/* A tiny SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, pieces. */
static gguf_writer *
tiny_spm (void)
{
  static const char *const pieces[] = { "\xe2\x96\x81", "a", "b", "\xe2\x96\x81" "a", "ab",
    "\xe2\x96\x81" "ab", "<|x|>" };
  static const float piece_scores[] = { -1.0f, -2.0f, -2.0f, -3.0f, -1.5f, -0.5f, 0.0f };
  static const int32_t piece_types[] = { 1, 1, 1, 1, 1, 1, 3 };
  enum { N = 3 + 256 + G_N_ELEMENTS (pieces) };
  char *texts[N];
  float scores[N];
  int32_t types[N];
  gguf_writer *w = gguf_writer_new ();

  texts[0] = g_strdup ("<unk>");
  texts[1] = g_strdup ("<s>");
  texts[2] = g_strdup ("</s>");
  types[0] = 2;
  types[1] = types[2] = 3;
  for (int i = 0; i < 256; i++) {
    texts[3 + i] = g_strdup_printf ("<0x%02X>", i);
    types[3 + i] = 6;
  }
  for (guint i = 0; i < G_N_ELEMENTS (pieces); i++) {
    texts[259 + i] = g_strdup (pieces[i]);
    types[259 + i] = piece_types[i];
  }
  for (int i = 0; i < N; i++)
    scores[i] = i >= 259 ? piece_scores[i - 259] : 0.0f;
  gguf_writer_set_str (w, "tokenizer.ggml.model", "llama");
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", (const char *const *) texts, N);
  gguf_writer_set_arr (w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, N);
  gguf_writer_set_arr (w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, N);
  for (int i = 0; i < N; i++)
    g_free (texts[i]);
  return w;
}

static void
test_tiny_spm (void)
{
  tmp_gguf tg;
  gguf_file *f = write_and_open (tiny_spm (), &tg);
  GError *error = NULL;
  prima_tokenizer *t = prima_tokenizer_new (f, &error);
  GArray *ids;
  char *s;
  static const int32_t want1[] = { 1, 264 };                 /* <s> ▁ab */
  static const int32_t want2[] = { 262, 3 + 0xe2, 3 + 0x82, 3 + 0xac, 264 };  /* ▁a € ▁ab */
  static const int32_t want3[] = { 262, 265, 259, 261 };       /* ▁a <|x|> ▁ b */

  g_assert_no_error (error);
  g_assert_true (prima_tokenizer_add_bos (t));
  g_assert_true (prima_tokenizer_is_eog (t, 2));
  ids = prima_tokenize (t, "ab", -1, TRUE, FALSE);
  g_assert_true (same_ids (ids, want1, G_N_ELEMENTS (want1)));
  /* As llama.cpp: dropping BOS keeps the prefix space, without BOS it goes. */
  s = prima_detokenize (t, (const int32_t *) (void *) ids->data, ids->len, TRUE, FALSE);
  g_assert_cmpstr (s, ==, " ab");
  g_free (s);
  s = prima_detokenize (t, (const int32_t *) (void *) ids->data + 1, ids->len - 1, TRUE, FALSE);
  g_assert_cmpstr (s, ==, "ab");
  g_free (s);
  g_array_free (ids, TRUE);

  /* "a" then a character not in the vocabulary: byte fallback. */
  ids = prima_tokenize (t, "a\xe2\x82\xac ab", -1, FALSE, FALSE);
  g_assert_true (same_ids (ids, want2, G_N_ELEMENTS (want2)));
  s = prima_detokenize (t, (const int32_t *) (void *) ids->data, ids->len, FALSE, FALSE);
  g_assert_cmpstr (s, ==, "a\xe2\x82\xac ab");
  g_free (s);
  g_array_free (ids, TRUE);

  /* A control token splits the text; the text after it gets the prefix space. */
  ids = prima_tokenize (t, "a<|x|>b", -1, FALSE, TRUE);
  g_assert_true (same_ids (ids, want3, G_N_ELEMENTS (want3)));
  g_array_free (ids, TRUE);

  prima_tokenizer_free (t);
  tmp_gguf_done (f, &tg);
}

/* GPT-2's byte alphabet, in its order, so ids are easy to predict. */
static char *
gpt2_char (int b)
{
  static int map[256];
  static gboolean init;
  char buf[8];
  if (!init) {
    int n = 0;
    for (int i = 0; i < 256; i++) {
      gboolean keep = (i >= 0x21 && i <= 0x7e) || (i >= 0xa1 && i <= 0xac) || i >= 0xae;
      map[i] = keep ? i : 256 + n++;
    }
    init = TRUE;
  }
  buf[g_unichar_to_utf8 ((gunichar) map[b], buf)] = '\0';
  return g_strdup (buf);
}

static void
test_tiny_bpe (void)
{
  static const char *const extra[] = { "he", "ll", "hell", "hello", "\xc4\xa0w", "\xc4\xa0wor", "<|end|>" };
  static const char *const merges[] = { "h e", "l l", "he ll", "hell o", "\xc4\xa0 w", "\xc4\xa0w o",
    "\xc4\xa0wo r", "o r" };
  enum { N = 256 + G_N_ELEMENTS (extra) };
  char *texts[N];
  int32_t types[N];
  gguf_writer *w = gguf_writer_new ();
  tmp_gguf tg;
  gguf_file *f;
  prima_tokenizer *t;
  GError *error = NULL;
  GArray *ids;
  char *s;

  for (int i = 0; i < 256; i++) {
    texts[i] = gpt2_char (i);
    types[i] = 1;
  }
  for (guint i = 0; i < G_N_ELEMENTS (extra); i++) {
    texts[256 + i] = g_strdup (extra[i]);
    types[256 + i] = i + 1 == G_N_ELEMENTS (extra) ? 3 : 1;
  }
  gguf_writer_set_str (w, "tokenizer.ggml.model", "gpt2");
  gguf_writer_set_str (w, "tokenizer.ggml.pre", "gpt-2");
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", (const char *const *) texts, N);
  gguf_writer_set_arr (w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, N);
  gguf_writer_set_arr_str (w, "tokenizer.ggml.merges", merges, G_N_ELEMENTS (merges));
  gguf_writer_set_u32 (w, "tokenizer.ggml.eos_token_id", N - 1);
  for (int i = 0; i < N; i++)
    g_free (texts[i]);
  f = write_and_open (w, &tg);
  t = prima_tokenizer_new (f, &error);
  g_assert_no_error (error);
  g_assert_false (prima_tokenizer_add_bos (t));
  g_assert_true (prima_tokenizer_is_eog (t, N - 1));

  {
    /* hello | Ġwor | l | d | <|end|> */
    static const int32_t want[] = { 259, 261, 'l', 'd', N - 1 };
    ids = prima_tokenize (t, "hello world<|end|>", -1, FALSE, TRUE);
    g_assert_true (same_ids (ids, want, G_N_ELEMENTS (want)));
    s = prima_detokenize (t, (const int32_t *) (void *) ids->data, ids->len, FALSE, TRUE);
    g_assert_cmpstr (s, ==, "hello world<|end|>");
    g_free (s);
    g_array_free (ids, TRUE);
  }
  {
    /* Without parse_special the control token is plain text. */
    ids = prima_tokenize (t, "<|end|>", -1, FALSE, FALSE);
    g_assert_cmpuint (ids->len, >, 1);
    g_array_free (ids, TRUE);
  }
  {
    /* Invalid UTF-8 goes through as U+FFFD, as llama.cpp does. */
    ids = prima_tokenize (t, "a\xff", -1, FALSE, FALSE);
    s = prima_detokenize (t, (const int32_t *) (void *) ids->data, ids->len, FALSE, FALSE);
    g_assert_cmpstr (s, ==, "a\xef\xbf\xbd");
    g_free (s);
    g_array_free (ids, TRUE);
  }
  prima_tokenizer_free (t);
  tmp_gguf_done (f, &tg);
}

/* ---------------------------------------------------------------- errors */

static void
expect_error (gguf_writer *w, const char *needle)
{
  tmp_gguf tg;
  gguf_file *f = write_and_open (w, &tg);
  GError *error = NULL;
  prima_tokenizer *t = prima_tokenizer_new (f, &error);
  g_assert_null (t);
  g_assert_nonnull (error);
  g_assert_true (error->domain == PRIMA_TOKENIZER_ERROR);
  g_assert_null (strchr (error->message, '\n'));
  if (strstr (error->message, needle) == NULL)
    g_test_fail_printf ("error \"%s\" does not name \"%s\"", error->message, needle);
  g_error_free (error);
  tmp_gguf_done (f, &tg);
}

static void
test_errors (void)
{
  static const char *const toks[] = { "a", "b", "c" };
  static const char *const merges[] = { "a b" };
  static const float scores2[] = { 0.0f, 0.0f };
  static const int32_t types4[] = { 1, 1, 1, 1 };
  gguf_writer *w;

  w = gguf_writer_new ();
  gguf_writer_set_str (w, "tokenizer.ggml.model", "sentencepiece-xl");
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", toks, 3);
  expect_error (w, "'sentencepiece-xl'");

  w = gguf_writer_new ();
  gguf_writer_set_str (w, "tokenizer.ggml.model", "gpt2");
  gguf_writer_set_str (w, "tokenizer.ggml.pre", "martian-v9");
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", toks, 3);
  gguf_writer_set_arr_str (w, "tokenizer.ggml.merges", merges, 1);
  expect_error (w, "'martian-v9'");

  w = gguf_writer_new ();
  gguf_writer_set_str (w, "tokenizer.ggml.model", "llama");
  expect_error (w, "tokenizer.ggml.tokens");

  w = gguf_writer_new ();
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", toks, 3);
  expect_error (w, "tokenizer.ggml.model");

  w = gguf_writer_new ();
  gguf_writer_set_str (w, "tokenizer.ggml.model", "llama");
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", toks, 3);
  gguf_writer_set_arr (w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores2, 2);
  expect_error (w, "tokenizer.ggml.scores");

  w = gguf_writer_new ();
  gguf_writer_set_str (w, "tokenizer.ggml.model", "llama");
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", toks, 3);
  gguf_writer_set_arr (w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types4, 4);
  expect_error (w, "tokenizer.ggml.token_type");

  w = gguf_writer_new ();
  gguf_writer_set_str (w, "tokenizer.ggml.model", "gpt2");
  gguf_writer_set_str (w, "tokenizer.ggml.pre", "qwen2");
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", toks, 3);
  expect_error (w, "tokenizer.ggml.merges");

  w = gguf_writer_new ();
  gguf_writer_set_str (w, "tokenizer.ggml.model", "gpt2");
  gguf_writer_set_arr_str (w, "tokenizer.ggml.tokens", toks, 3);
  gguf_writer_set_arr_str (w, "tokenizer.ggml.merges", merges, 1);
  gguf_writer_set_bool (w, "tokenizer.ggml.add_bos_token", TRUE);
  expect_error (w, "bos_token_id");
}

int
main (int argc, char **argv)
{
  static const char *const vocabs[] = {
    "llama-spm", "llama-bpe", "qwen2", "deepseek-llm", "deepseek-coder", "gpt-2", "phi-3",
  };
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (vocabs); i++) {
    char *path = g_strdup_printf ("/tokenizer/vectors/%s", vocabs[i]);
    g_test_add_data_func (path, vocabs[i], test_vocab_vectors);
    g_free (path);
  }
  g_test_add_data_func ("/tokenizer/json/qwen2", "qwen2", test_json_reference);
  g_test_add_data_func ("/tokenizer/json/llama-bpe", "llama-bpe", test_json_reference);
  g_test_add_func ("/tokenizer/special-tokens", test_special_tokens);
  g_test_add_func ("/tokenizer/tiny-spm", test_tiny_spm);
  g_test_add_func ("/tokenizer/tiny-bpe", test_tiny_bpe);
  g_test_add_func ("/tokenizer/errors", test_errors);
  g_test_add_func ("/tokenizer/speed", test_speed);
  return g_test_run ();
}
