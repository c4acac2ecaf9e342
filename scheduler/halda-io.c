/* gst-prima: inputs and outputs of the Halda scheduler.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "halda-io.h"

#define GIB 1073741824.0

/* ---- model description ---- */

typedef struct {
  halda_model *out;
  double layer_bytes_total;
} model_acc;

static void
init_model (halda_model *out, int n_layer, int64_t n_embd, int64_t n_head, int64_t n_head_kv, int64_t head_dim,
    int64_t n_ff, int64_t n_vocab, int n_ctx)
{
  memset (out, 0, sizeof *out);
  out->n_layer = n_layer;
  /* F16 K and V for every position. */
  out->kv_bytes = 2.0 * 2.0 * (double) n_head_kv * head_dim * n_ctx;
  out->activation_bytes = 4.0 * n_embd;
  /* Scratch of one decode step: hidden states, FFN intermediates, attention
   * scores, and the activations quantized for the dot products. */
  out->cpu_buffer_bytes = 4.0 * (4 * n_embd + 3 * n_ff + n_head * (double) n_ctx) + 2.0 * (n_embd + n_ff);
  out->gpu_buffer_bytes = out->cpu_buffer_bytes;
  out->head_buffer_bytes = 4.0 * (n_vocab + n_embd);
}

double
halda_attention_flops_per_position (int64_t n_head, int64_t head_dim)
{
  return 4.0 * (double) n_head * (double) head_dim;
}

/* The sums over all layers become means per layer; attention is added per layer. */
static void
finish_model (halda_model *out, double layer_total, int64_t n_head, int64_t head_dim, int n_ctx)
{
  out->layer_bytes = layer_total / out->n_layer;
  for (int t = 0; t < PRIMA_TYPE_COUNT; t++)
    out->layer_flops[t] /= out->n_layer;
  /* Attention reads the F16 cache, counted at a full context (the worst case). */
  out->attention_flops_per_position = halda_attention_flops_per_position (n_head, head_dim);
  out->attention_positions = n_ctx;
  out->layer_flops[PRIMA_TYPE_F16] += out->attention_flops_per_position * n_ctx;
}

void
halda_model_set_attention_positions (halda_model *m, double positions)
{
  positions = MAX (0.0, positions);
  m->layer_flops[PRIMA_TYPE_F16] = MAX (0.0, m->layer_flops[PRIMA_TYPE_F16]
      + m->attention_flops_per_position * (positions - m->attention_positions));
  m->attention_positions = positions;
}

static void
add_tensor (halda_model *m, double *layer_total, int64_t layer, const char *name, uint32_t type, int64_t ne0,
    int64_t ne1, double bytes, int64_t n_vocab, gboolean tied)
{
  gboolean matrix = ne1 > 1 && !g_str_has_suffix (name, ".bias");
  if (layer >= 0) {
    *layer_total += bytes;
    if (matrix && type < PRIMA_TYPE_COUNT)
      m->layer_flops[type] += 2.0 * ne0 * ne1;
    return;
  }
  if (strcmp (name, "token_embd.weight") == 0) {
    m->input_row_bytes = bytes / MAX (1, n_vocab);
    if (tied) {
      m->output_bytes += bytes;
      m->output_flops[type] += 2.0 * ne0 * ne1;
    }
  } else if (strcmp (name, "output.weight") == 0) {
    m->output_bytes += bytes;
    m->output_flops[type] += 2.0 * ne0 * ne1;
  } else if (strcmp (name, "output_norm.weight") == 0) {
    m->output_bytes += bytes;
  }
}

void
halda_model_from_prima (const prima_model *model, int n_ctx, halda_model *out)
{
  const prima_hparams *hp = &model->hp;
  double layer_total = 0;
  gboolean tied = model->output == model->tok_embd;

  init_model (out, hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, hp->head_dim, hp->n_ff, hp->n_vocab, n_ctx);
  for (int i = 0; i < hp->n_layer; i++) {
    const prima_layer_weights *l = &model->layers[i];
    const gguf_tensor *ts[] = { l->attn_norm, l->wq, l->wk, l->wv, l->wo, l->bq, l->bk, l->bv,
      l->ffn_norm, l->ffn_gate, l->ffn_up, l->ffn_down };
    for (size_t k = 0; k < G_N_ELEMENTS (ts); k++)
      if (ts[k])
        add_tensor (out, &layer_total, i, ts[k]->name, ts[k]->type, ts[k]->ne[0], ts[k]->ne[1],
            (double) ts[k]->size, hp->n_vocab, tied);
  }
  add_tensor (out, &layer_total, -1, "token_embd.weight", model->tok_embd->type, model->tok_embd->ne[0],
      model->tok_embd->ne[1], (double) model->tok_embd->size, hp->n_vocab, tied);
  add_tensor (out, &layer_total, -1, "output_norm.weight", model->output_norm->type, model->output_norm->ne[0], 1,
      (double) model->output_norm->size, hp->n_vocab, tied);
  if (!tied)
    add_tensor (out, &layer_total, -1, "output.weight", model->output->type, model->output->ne[0],
        model->output->ne[1], (double) model->output->size, hp->n_vocab, tied);
  finish_model (out, layer_total, hp->n_head, hp->head_dim, n_ctx);
}

gboolean
halda_model_from_shape (const prima_mk_params *p, int64_t n_vocab, int n_ctx, halda_model *out, GError **error)
{
  static const char *const suffix[] = {
    "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down",
  };
  const int64_t head_dim = p->n_embd / p->n_head, n_embd_kv = p->n_head_kv * head_dim;
  const int64_t ne0[] = { p->n_embd, p->n_embd, p->n_embd, p->n_embd, p->n_embd, p->n_embd, p->n_embd, p->n_embd,
    p->n_ff };
  const int64_t ne1[] = { 1, p->n_embd, n_embd_kv, n_embd_kv, p->n_embd, 1, p->n_ff, p->n_ff, p->n_embd };
  double layer_total = 0;
  char name[96];

  init_model (out, (int) p->n_layer, p->n_embd, p->n_head, p->n_head_kv, head_dim, p->n_ff, n_vocab, n_ctx);
  for (int64_t i = -1; i < p->n_layer; i++) {
    /* i = -1: the tensors outside the layers. */
    const char *outer[] = { "token_embd.weight", "output_norm.weight", "output.weight" };
    int n = i < 0 ? (p->tied_output ? 2 : 3) : (int) G_N_ELEMENTS (suffix) + (p->arch == PRIMA_MK_ARCH_QWEN2 ? 3 : 0);
    for (int k = 0; k < n; k++) {
      int64_t a, b;
      uint32_t type;
      size_t row;
      if (i < 0) {
        g_strlcpy (name, outer[k], sizeof name);
        a = p->n_embd;
        b = k == 1 ? 1 : n_vocab;
      } else if (k < (int) G_N_ELEMENTS (suffix)) {
        g_snprintf (name, sizeof name, "blk.%" PRId64 ".%s.weight", i, suffix[k]);
        a = ne0[k];
        b = ne1[k];
      } else {
        /* Qwen2's q/k/v biases. */
        g_snprintf (name, sizeof name, "blk.%" PRId64 ".%s.bias", i, suffix[k - G_N_ELEMENTS (suffix) + 1]);
        a = ne1[k - G_N_ELEMENTS (suffix) + 1];
        b = 1;
      }
      if (!prima_mk_tensor_type (p->file_type, name, i, p->n_layer, p->tied_output, &type)) {
        g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "unknown file type '%s'", p->file_type);
        return FALSE;
      }
      row = prima_row_size (type, a);
      if (row == 0) {
        g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "%s: %" PRId64 " columns do not fit type %s", name, a,
            prima_type_name (type));
        return FALSE;
      }
      add_tensor (out, &layer_total, i, name, type, a, b, (double) row * b, n_vocab, p->tied_output);
    }
  }
  finish_model (out, layer_total, p->n_head, head_dim, n_ctx);
  return TRUE;
}

/* ---- device profiles ---- */

static gboolean
json_number (JsonNode *node, double *out)
{
  GType t;
  if (!JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  t = json_node_get_value_type (node);
  if (t == G_TYPE_DOUBLE || t == G_TYPE_INT64) {
    *out = json_node_get_double (node);
    return isfinite (*out) && *out >= 0;
  }
  return FALSE;
}

static gboolean
read_rates (JsonNode *node, double *rates, const char *dev, const char *field, GError **error)
{
  JsonObject *o;
  GList *members;
  double def = 0;
  gboolean ok = TRUE, have_def = FALSE;

  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': %s must be an object of GFLOP/s by type",
        dev, field);
    return FALSE;
  }
  o = json_node_get_object (node);
  members = json_object_get_members (o);
  for (GList *l = members; l && ok; l = l->next) {
    const char *key = l->data;
    prima_type t;
    double v;
    if (!json_number (json_object_get_member (o, key), &v)) {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': %s.%s must be a number >= 0", dev, field,
          key);
      ok = FALSE;
    } else if (strcmp (key, "default") == 0) {
      def = v * 1e9;
      have_def = TRUE;
    } else if (prima_type_from_name (key, &t) && t < PRIMA_TYPE_COUNT) {
      rates[t] = v * 1e9;
    } else {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': %s has unknown weight type '%s'", dev,
          field, key);
      ok = FALSE;
    }
  }
  g_list_free (members);
  if (ok && have_def)
    for (int i = 0; i < PRIMA_TYPE_COUNT; i++)
      if (rates[i] == 0)
        rates[i] = def;
  return ok;
}

gboolean
halda_device_from_json (JsonObject *obj, int index, halda_device *d, GError **error)
{
  /* Number fields: name in the JSON, where it goes, the factor to our units. */
  const struct {
    const char *key;
    double *dst;
    double scale;
  } numbers[] = {
    {"ram_available_gib", &d->ram_avail, GIB},
    {"swap_available_gib", &d->swap_avail, GIB},
    {"disk_seq_read_gb_s", &d->disk_seq_read, 1e9},
    {"disk_rnd_read_gb_s", &d->disk_rnd_read, 1e9},
    {"cpu_layer_overhead_ms", &d->cpu_layer_overhead, 1e-3},
    {"cpu_threads", &d->cpu_threads, 1},
    {"cpu_window_spin_ms", &d->cpu_window_spin, 1e-3},
    {"cpu_quota_cores", &d->cpu_quota, 1},
    {"cpu_quota_period_ms", &d->cpu_period, 1e-3},
    {"vram_available_gib", &d->vram_avail, GIB},
    {"gpu_layer_overhead_ms", &d->gpu_layer_overhead, 1e-3},
    {"net_latency_ms", &d->net_latency, 1e-3},
    {"net_bandwidth_mb_s", &d->net_bandwidth, 1e6},
    {"stream_window_mib", &d->stream_window, 1048576},
    {"prefetch_ahead_mib", &d->prefetch_ahead, 1048576},
  };
  GList *members;
  gboolean ok = TRUE;
  const char *name;

  halda_device_init (d);
  name = json_object_has_member (obj, "name") ? json_object_get_string_member_with_default (obj, "name", NULL) : NULL;
  if (name)
    g_strlcpy (d->name, name, sizeof d->name);
  else
    g_snprintf (d->name, sizeof d->name, "device%d", index);
  members = json_object_get_members (obj);
  for (GList *l = members; l && ok; l = l->next) {
    const char *key = l->data;
    JsonNode *node = json_object_get_member (obj, key);
    gboolean done = FALSE;
    for (guint i = 0; i < G_N_ELEMENTS (numbers) && !done; i++) {
      if (strcmp (key, numbers[i].key) != 0)
        continue;
      done = TRUE;
      /* The CPU's per-layer overhead is a measured difference (real layer
       * minus its products) and may be negative. */
      if (numbers[i].dst == &d->cpu_layer_overhead && JSON_NODE_HOLDS_VALUE (node)
          && (json_node_get_value_type (node) == G_TYPE_DOUBLE || json_node_get_value_type (node) == G_TYPE_INT64)
          && isfinite (json_node_get_double (node)) && json_node_get_double (node) < 0) {
        d->cpu_layer_overhead = json_node_get_double (node);
      } else if (!json_number (node, numbers[i].dst)) {
        g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': %s must be a number >= 0", d->name, key);
        ok = FALSE;
      }
      *numbers[i].dst *= numbers[i].scale;
    }
    if (done || strcmp (key, "name") == 0 || key[0] == '_' || strcmp (key, "comment") == 0)
      continue;
    if (strcmp (key, "os") == 0 || strcmp (key, "gpu") == 0) {
      const char *v = JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
          ? json_node_get_string (node) : "";
      if (strcmp (key, "os") == 0 && g_ascii_strcasecmp (v, "linux") == 0)
        d->os = HALDA_OS_LINUX;
      else if (strcmp (key, "os") == 0 && g_ascii_strcasecmp (v, "android") == 0)
        d->os = HALDA_OS_ANDROID;
      else if (strcmp (key, "os") == 0 && g_ascii_strcasecmp (v, "macos") == 0)
        d->os = HALDA_OS_MACOS;
      else if (strcmp (key, "gpu") == 0 && g_ascii_strcasecmp (v, "none") == 0)
        d->gpu = HALDA_GPU_NONE;
      else if (strcmp (key, "gpu") == 0 && (g_ascii_strcasecmp (v, "cuda") == 0 || g_ascii_strcasecmp (v, "vulkan") == 0
              || g_ascii_strcasecmp (v, "discrete") == 0))
        d->gpu = HALDA_GPU_DISCRETE;
      else if (strcmp (key, "gpu") == 0 && g_ascii_strcasecmp (v, "metal") == 0)
        d->gpu = HALDA_GPU_METAL;
      else {
        g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': unknown %s '%s' (%s)", d->name, key, v,
            strcmp (key, "os") == 0 ? "linux, android or macos" : "none, cuda or metal");
        ok = FALSE;
      }
    } else if (strcmp (key, "head") == 0) {
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN) {
        g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': head must be true or false", d->name);
        ok = FALSE;
      } else {
        d->is_head = json_node_get_boolean (node);
      }
    } else if (strcmp (key, "cpu_gflops") == 0) {
      ok = read_rates (node, d->cpu_flops, d->name, key, error);
    } else if (strcmp (key, "gpu_gflops") == 0) {
      ok = read_rates (node, d->gpu_flops, d->name, key, error);
    } else {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': unknown field '%s'", d->name, key);
      ok = FALSE;
    }
  }
  g_list_free (members);
  if (ok && d->os == HALDA_OS_MACOS && d->gpu == HALDA_GPU_DISCRETE) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': a macOS GPU is 'metal'", d->name);
    ok = FALSE;
  }
  if (ok && d->gpu == HALDA_GPU_METAL && d->os != HALDA_OS_MACOS) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "device '%s': 'metal' needs os 'macos'", d->name);
    ok = FALSE;
  }
  return ok;
}

GArray *
halda_devices_load (const char *path, GError **error)
{
  JsonParser *parser = json_parser_new ();
  GArray *devs = NULL;
  JsonNode *root;
  GError *err = NULL;

  if (!json_parser_load_from_file (parser, path, &err)) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "%s: %s", path, err->message);
    g_error_free (err);
    goto out;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root)) {
    g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "%s: expected a JSON array of device objects", path);
    goto out;
  }
  devs = g_array_new (FALSE, TRUE, sizeof (halda_device));
  {
    JsonArray *arr = json_node_get_array (root);
    for (guint i = 0; i < json_array_get_length (arr); i++) {
      JsonNode *node = json_array_get_element (arr, i);
      halda_device d;
      if (!JSON_NODE_HOLDS_OBJECT (node)) {
        g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "%s: element %u is not an object", path, i);
        goto fail;
      }
      if (!halda_device_from_json (json_node_get_object (node), (int) i, &d, &err)) {
        g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "%s: %s", path, err->message);
        g_error_free (err);
        goto fail;
      }
      g_array_append_val (devs, d);
    }
    if (devs->len == 0) {
      g_set_error (error, HALDA_ERROR, HALDA_ERROR_INVALID, "%s: no devices", path);
      goto fail;
    }
  }
  goto out;
fail:
  g_array_free (devs, TRUE);
  devs = NULL;
out:
  g_object_unref (parser);
  return devs;
}

/* ---- plans ---- */

static void
fmt_bytes (char *buf, size_t size, double bytes)
{
  if (bytes >= GIB || bytes == 0)
    g_snprintf (buf, size, "%.2fG", bytes / GIB);
  else
    g_snprintf (buf, size, "%.0fM", bytes / 1048576);
}

static char *
windows_text (const halda_plan *plan, int d)
{
  GArray *r = g_array_new (FALSE, FALSE, sizeof (int));
  GString *s = g_string_new (NULL);
  halda_plan_windows (plan, d, r);
  for (guint i = 0; i + 1 < r->len; i += 2) {
    int first = g_array_index (r, int, i), count = g_array_index (r, int, i + 1);
    g_string_append_printf (s, "%s%d-%d", i ? "," : "", first, first + count - 1);
  }
  g_array_free (r, TRUE);
  return g_string_free (s, FALSE);
}

void
halda_plan_print (FILE *out, const halda_plan *plan, const halda_device *devs, const halda_model *model)
{
  gboolean quota = FALSE;

  for (int m = 0; m < plan->n_devices; m++)
    quota |= plan->dev[m].t_quota > 0;
  fprintf (out, "k = %d round%s, W = %d", plan->k, plan->k == 1 ? "" : "s", plan->W);
  if (plan->last_round_layers)
    fprintf (out, " (%d full rounds, then %d layers on a prefix of the ring)", plan->k_full, plan->last_round_layers);
  fprintf (out, ", %d layers of %.1f MiB (+ %.1f MiB KV)\n", model->n_layer, model->layer_bytes / 1048576,
      model->kv_bytes / 1048576);
  fprintf (out, "predicted token latency: %.1f ms (compute %.1f, disk %.1f, communication %.1f", plan->latency * 1e3,
      plan->t_compute * 1e3, plan->t_disk * 1e3, plan->t_comm * 1e3);
  if (plan->t_disk_hidden > 0)
    fprintf (out, ", of the disk %.1f read while others compute", plan->t_disk_hidden * 1e3);
  if (plan->t_quota > 0 && plan->quota_device >= 0)
    fprintf (out, ", CPU quota +%.1f: %s", plan->t_quota * 1e3, devs[plan->quota_device].name);
  else if (plan->t_quota > 0)
    fprintf (out, ", waiting for a streaming device's reads +%.1f", plan->t_quota * 1e3);
  fprintf (out, ")\n");
  fprintf (out, "%-16s %-4s %4s %4s %4s %4s %6s %6s %15s %9s %9s %8s %7s%s  %s\n", "device", "case", "w", "n", "p", "q",
      "layers", "on-gpu", "RAM need/avail", "VRAM", "compute", "disk", "comm", quota ? "  quota-T" : "",
      "layers (ranges)");
  for (int i = 0; i < plan->n_devices; i++) {
    /* Ring order starting at the head. */
    int m = (plan->head + i) % plan->n_devices;
    const halda_device_plan *d = &plan->dev[m];
    char *win = windows_text (plan, m), ram[48], need[20], budget[20], vram[20], q[24] = "";
    fmt_bytes (need, sizeof need, d->ram_need);
    fmt_bytes (budget, sizeof budget, d->ram_budget);
    fmt_bytes (vram, sizeof vram, d->vram_need);
    g_snprintf (ram, sizeof ram, "%s/%s", need, budget);
    /* the token time this device's quota allows (its CPU time x threads / quota) */
    if (quota && d->t_quota > 0)
      g_snprintf (q, sizeof q, " %7.1fms", d->t_quota * 1e3);
    else if (quota)
      g_snprintf (q, sizeof q, " %9s", "-");
    fprintf (out, "%-16s %-4s %4d %4d %4d %4d %6d %6d %15s %9s %7.1fms %6.1fms %5.1fms%s  %s%s\n", devs[m].name,
        halda_case_name (d->mcase), d->w, d->n, d->p, d->q, d->layers, d->gpu_layers, ram, vram,
        d->t_compute * 1e3, d->t_disk * 1e3, d->t_comm * 1e3, q, win, m == plan->head ? " + head" : "");
    g_free (win);
  }
  if (plan->n_dropped)
    fprintf (out, "%d device%s left out (no layers)\n", plan->n_dropped, plan->n_dropped == 1 ? "" : "s");
}

JsonNode *
halda_plan_to_json (const halda_plan *plan, const halda_device *devs)
{
  JsonBuilder *b = json_builder_new ();
  JsonNode *root;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "k");
  json_builder_add_int_value (b, plan->k);
  json_builder_set_member_name (b, "W");
  json_builder_add_int_value (b, plan->W);
  json_builder_set_member_name (b, "k_full");
  json_builder_add_int_value (b, plan->k_full);
  json_builder_set_member_name (b, "last_round_layers");
  json_builder_add_int_value (b, plan->last_round_layers);
  json_builder_set_member_name (b, "latency_ms");
  json_builder_add_double_value (b, plan->latency * 1e3);
  json_builder_set_member_name (b, "compute_ms");
  json_builder_add_double_value (b, plan->t_compute * 1e3);
  json_builder_set_member_name (b, "disk_ms");
  json_builder_add_double_value (b, plan->t_disk * 1e3);
  json_builder_set_member_name (b, "disk_hidden_ms");
  json_builder_add_double_value (b, plan->t_disk_hidden * 1e3);
  json_builder_set_member_name (b, "comm_ms");
  json_builder_add_double_value (b, plan->t_comm * 1e3);
  json_builder_set_member_name (b, "quota_ms");
  json_builder_add_double_value (b, plan->t_quota * 1e3);
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (int m = 0; m < plan->n_devices; m++) {
    const halda_device_plan *d = &plan->dev[m];
    GArray *r = g_array_new (FALSE, FALSE, sizeof (int));
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, devs[m].name);
    json_builder_set_member_name (b, "head");
    json_builder_add_boolean_value (b, m == plan->head);
#define INT_MEMBER(key, v) json_builder_set_member_name (b, key), json_builder_add_int_value (b, v)
#define DBL_MEMBER(key, v) json_builder_set_member_name (b, key), json_builder_add_double_value (b, v)
    INT_MEMBER ("w", d->w);
    INT_MEMBER ("n", d->n);
    INT_MEMBER ("p", d->p);
    INT_MEMBER ("q", d->q);
    INT_MEMBER ("layers", d->layers);
    INT_MEMBER ("gpu_layers", d->gpu_layers);
    json_builder_set_member_name (b, "case");
    json_builder_add_string_value (b, halda_case_name (d->mcase));
    DBL_MEMBER ("ram_need_gib", d->ram_need / GIB);
    DBL_MEMBER ("ram_budget_gib", d->ram_budget / GIB);
    DBL_MEMBER ("vram_need_gib", d->vram_need / GIB);
    DBL_MEMBER ("compute_ms", d->t_compute * 1e3);
    DBL_MEMBER ("disk_ms", d->t_disk * 1e3);
    DBL_MEMBER ("disk_hidden_ms", d->t_disk_hidden * 1e3);
    DBL_MEMBER ("comm_ms", d->t_comm * 1e3);
    DBL_MEMBER ("cpu_ms", d->t_cpu * 1e3);
    DBL_MEMBER ("quota_bound_ms", d->t_quota * 1e3);
    DBL_MEMBER ("quota_stretch_ms", d->t_stretch * 1e3);
#undef INT_MEMBER
#undef DBL_MEMBER
    /* Layer ranges [first, first + count) in layer order; the first n of each window run on the GPU. */
    json_builder_set_member_name (b, "windows");
    json_builder_begin_array (b);
    halda_plan_windows (plan, m, r);
    for (guint i = 0; i + 1 < r->len; i += 2) {
      json_builder_begin_array (b);
      json_builder_add_int_value (b, g_array_index (r, int, i));
      json_builder_add_int_value (b, g_array_index (r, int, i + 1));
      json_builder_end_array (b);
    }
    json_builder_end_array (b);
    g_array_free (r, TRUE);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  g_object_unref (b);
  return root;
}
