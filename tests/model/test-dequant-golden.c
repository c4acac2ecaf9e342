/* gst-prima tests: dequantization bit for bit against the reference's output.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * For every entry of ../shared/golden/dequant/index.json: open the GGUF it
 * names, dequantize the tensor with the active kernels and memcmp the floats
 * with the reference's .f32 file. One test case per type, so a missing
 * kernel shows up as one failing type, not a wall of errors.
 */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "gguf.h"
#include "tensor-types.h"
#include "fp16.h"
#include "test-common.h"

typedef struct {
  char *type_name;
  char *file;
  char *tensor;
  char *dequantized;
  int64_t n_floats;
} dequant_case;

static void
dequant_case_free (gpointer p)
{
  dequant_case *c = p;
  g_free (c->type_name);
  g_free (c->file);
  g_free (c->tensor);
  g_free (c->dequantized);
  g_free (c);
}

static void
run_case (gconstpointer data)
{
  const dequant_case *c = data;
  char *rel_gguf = g_build_filename ("golden", c->file, NULL);
  char *rel_f32 = g_build_filename ("golden", c->dequantized, NULL);
  char *gguf_path = test_shared_path (rel_gguf);
  char *f32_path = gguf_path ? test_shared_path (rel_f32) : NULL;
  GError *error = NULL;
  g_free (rel_gguf);
  g_free (rel_f32);
  if (gguf_path == NULL || f32_path == NULL) {
    g_free (gguf_path);
    return;
  }

  gguf_file *f = gguf_open (gguf_path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (f);
  const gguf_tensor *t = gguf_find_tensor (f, c->tensor);
  if (t == NULL)
    g_error ("%s: no tensor %s", gguf_path, c->tensor);

  /* the index names the type; the tensor must be of it */
  prima_type want;
  g_assert_true (prima_type_from_name (c->type_name, &want));
  g_assert_cmpuint (t->type, ==, want);

  int64_t n = 1;
  for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
    n *= t->ne[d];
  g_assert_cmpint (n, ==, c->n_floats);

  const prima_type_traits *tr = prima_type_get_traits (t->type);
  if (tr == NULL || tr->to_float == NULL) {
    char *msg = g_strdup_printf ("%s: no dequantization kernel for %s", c->type_name,
        prima_type_name (t->type) ? prima_type_name (t->type) : "?");
    g_test_fail_printf ("%s", msg);
    g_free (msg);
    gguf_close (f);
    g_free (gguf_path);
    g_free (f32_path);
    return;
  }
  g_assert_cmpuint (t->size, ==, prima_row_size (t->type, t->ne[0]) * (size_t) (n / t->ne[0]));

  GBytes *expected = test_read_file (f32_path);
  gsize exp_len = 0;
  const float *exp = g_bytes_get_data (expected, &exp_len);
  g_assert_cmpuint (exp_len, ==, (gsize) n * sizeof (float));

  /* row by row, as the engine uses it */
  float *out = g_new (float, n);
  const size_t row_bytes = prima_row_size (t->type, t->ne[0]);
  for (int64_t r = 0; r < n / t->ne[0]; r++)
    tr->to_float (t->data + r * row_bytes, out + r * t->ne[0], t->ne[0]);

  if (memcmp (out, exp, (size_t) n * sizeof (float)) != 0) {
    int64_t first = 0, count = 0;
    for (int64_t i = n - 1; i >= 0; i--)
      if (memcmp (&out[i], &exp[i], sizeof (float)) != 0) {
        first = i;
        count++;
      }
    g_test_fail_printf ("%s (%s in %s, %s kernels): %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
        " floats differ; first at index %" G_GINT64_FORMAT ": got %.9g (0x%08x), reference %.9g (0x%08x)",
        c->type_name, c->tensor, c->file, prima_isa_name (prima_active_isa ()), count, n, first,
        out[first], prima_fp32_to_bits (out[first]), exp[first], prima_fp32_to_bits (exp[first]));
  }
  g_free (out);
  g_bytes_unref (expected);
  gguf_close (f);
  g_free (gguf_path);
  g_free (f32_path);
}

static void
test_index_present (void)
{
  char *p = test_shared_path ("golden/dequant/index.json");
  g_free (p);
}

int
main (int argc, char **argv)
{
  GPtrArray *cases = g_ptr_array_new_with_free_func (dequant_case_free);
  g_test_init (&argc, &argv, NULL);

  /* test_shared_path only skips inside a running test: look here quietly */
  const char *dir = g_getenv ("PRIMA_SHARED_DIR");
  char *index = g_build_filename (dir ? dir : "../shared", "golden", "dequant", "index.json", NULL);
  if (g_file_test (index, G_FILE_TEST_EXISTS)) {
    JsonParser *parser = json_parser_new ();
    GError *error = NULL;
    if (!json_parser_load_from_file (parser, index, &error))
      g_error ("%s: %s", index, error->message);
    JsonObject *root = json_node_get_object (json_parser_get_root (parser));
    GList *members = json_object_get_members (root);
    members = g_list_sort (members, (GCompareFunc) g_strcmp0);
    for (GList *l = members; l; l = l->next) {
      JsonObject *e = json_object_get_object_member (root, l->data);
      dequant_case *c = g_new0 (dequant_case, 1);
      c->type_name = g_strdup (l->data);
      c->file = g_strdup (json_object_get_string_member (e, "file"));
      c->tensor = g_strdup (json_object_get_string_member (e, "tensor"));
      c->dequantized = g_strdup (json_object_get_string_member (e, "dequantized"));
      c->n_floats = json_object_get_int_member (e, "n_floats");
      g_ptr_array_add (cases, c);
      char *name = g_strdup_printf ("/dequant-golden/%s", c->type_name);
      g_test_add_data_func (name, c, run_case);
      g_free (name);
    }
    g_list_free (members);
    g_object_unref (parser);
  } else {
    g_test_add_func ("/dequant-golden/index", test_index_present);
  }
  g_free (index);

  const int ret = g_test_run ();
  g_ptr_array_unref (cases);
  return ret;
}
