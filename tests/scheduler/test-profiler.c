/* gst-prima tests: the device profiler: sane numbers in bounded time, its JSON
 * read back by the solver's profile parser, cgroup v1/v2 parsing on fixtures,
 * and the network fit.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "profiler.h"
#include "halda-io.h"

#define GIB 1073741824.0

/* One full default profile (every type, memory, disk), shared by the tests. */
static prima_profile full;
static gboolean have_full;
static char *disk_dir;

static const prima_profile *
full_profile (void)
{
  if (!have_full) {
    prima_profile_options opt;
    GError *error = NULL;
    prima_profile_options_init (&opt);
    opt.disk_dir = disk_dir;
    g_assert_true (prima_profile_measure (&opt, &full, &error));
    g_assert_no_error (error);
    have_full = TRUE;
  }
  return &full;
}

static void
test_sane (void)
{
  const prima_profile *p = full_profile ();
  int n_types = 0;

  g_assert_cmpstr (p->name, !=, "");
  g_assert_cmpint (p->n_threads, >=, 1);
  g_assert_cmpint (p->page_size, >=, 4096);
  g_assert_cmpint (p->page_size & (p->page_size - 1), ==, 0);
  g_assert_cmpuint (p->mem.total, >, 64 << 20);
  g_assert_cmpuint (p->mem.available, >, 0);
  g_assert_cmpuint (p->mem.available, <=, p->mem.total);
  g_assert_cmpuint (p->mem.swap_available, <=, p->mem.swap_total);
  /* Memory that moves less than 100 MB/s, or more than 10 TB/s, is a bug. */
  g_assert_cmpfloat (p->mem_read_bw, >, 1e8);
  g_assert_cmpfloat (p->mem_read_bw, <, 1e13);
  for (int t = 0; t < PRIMA_TYPE_COUNT; t++) {
    if (!prima_profile_type_supported (t)) {
      g_assert_cmpfloat (p->cpu_flops[t], ==, 0);
      continue;
    }
    n_types++;
    g_assert_true (isfinite (p->cpu_flops[t]));
    g_assert_cmpfloat (p->cpu_flops[t], >, 1e7);
    g_assert_cmpfloat (p->cpu_flops[t], <, 1e14);
    g_assert_cmpfloat (p->cpu_bytes_per_s[t], >, 0);
  }
  /* At least the float types and the common quants. */
  g_assert_cmpint (n_types, >=, 8);
  g_assert_true (prima_profile_type_supported (PRIMA_TYPE_Q4_K));
  g_assert_true (prima_profile_type_supported (PRIMA_TYPE_F16));
  g_assert_false (prima_profile_type_supported (PRIMA_TYPE_Q8_K));
  /* The disk of the test folder; tmpfs-like folders fall back to buffered reads. */
  g_assert_true (p->disk_measured);
  g_assert_cmpfloat (p->disk_seq_read, >, 1e6);
  g_assert_cmpfloat (p->disk_rnd_read, >, 1e5);
  g_assert_cmpuint (p->disk_rnd_block, >=, 4096);
  g_assert_cmpint (p->gpu, ==, HALDA_GPU_NONE);
  g_assert_cmpfloat (p->net_latency, <, 0);
  g_test_message ("profile: %.2f s; Q4_K %.1f GFLOP/s, memory %.1f GB/s, disk %.2f / %.3f GB/s", p->t_total,
      p->cpu_flops[PRIMA_TYPE_Q4_K] / 1e9, p->mem_read_bw / 1e9, p->disk_seq_read / 1e9, p->disk_rnd_read / 1e9);
}

static void
test_time (void)
{
  /* `prima profile` must finish in under 10 s: the full default profile is what it runs. */
  const prima_profile *p = full_profile ();
  g_assert_cmpfloat (p->t_total, <, 10.0);
  g_assert_cmpfloat (p->t_cpu + p->t_layer + p->t_membw + p->t_disk, <=, p->t_total + 1e-3);
}

static void
assert_close (double got, double want, double unit)
{
  /* The JSON rounds each number to a unit; allow one unit and 0.1%. */
  if (fabs (got - want) > unit + 1e-3 * fabs (want))
    g_error ("%g read back, %g profiled (unit %g)", got, want, unit);
}

static void
assert_device_matches (const halda_device *got, const halda_device *want)
{
  g_assert_cmpstr (got->name, ==, want->name);
  g_assert_cmpint (got->os, ==, want->os);
  g_assert_cmpint (got->is_head, ==, want->is_head);
  g_assert_cmpint (got->gpu, ==, want->gpu);
  assert_close (got->ram_avail, want->ram_avail, 1e-3 * GIB);
  assert_close (got->swap_avail, want->swap_avail, 1e-3 * GIB);
  assert_close (got->disk_seq_read, want->disk_seq_read, 1e5);
  assert_close (got->disk_rnd_read, want->disk_rnd_read, 1e5);
  assert_close (got->vram_avail, want->vram_avail, 1e-3 * GIB);
  assert_close (got->net_latency, want->net_latency, 1e-7);
  assert_close (got->net_bandwidth, want->net_bandwidth, 1e3);
  for (int t = 0; t < PRIMA_TYPE_COUNT; t++)
    assert_close (got->cpu_flops[t], want->cpu_flops[t], 1e6);
  assert_close (got->cpu_threads, want->cpu_threads, 0);
  assert_close (got->cpu_quota, want->cpu_quota, 1e-4);
  assert_close (got->cpu_period, want->cpu_period, 1e-6);
  assert_close (got->cpu_layer_overhead, want->cpu_layer_overhead, 1e-7);
  assert_close (got->cpu_window_spin, want->cpu_window_spin, 1e-7);
}

static void
roundtrip (const prima_profile *p, gboolean head)
{
  JsonNode *node = prima_profile_to_json (p, head);
  char *text = prima_profile_json_text (node);
  JsonParser *parser = json_parser_new ();
  halda_device direct, parsed;
  GError *error = NULL;

  prima_profile_to_halda (p, head, &direct);
  /* The node itself, and the text a user saves. */
  g_assert_true (halda_device_from_json (json_node_get_object (node), 0, &parsed, &error));
  g_assert_no_error (error);
  assert_device_matches (&parsed, &direct);
  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  g_assert_true (halda_device_from_json (json_node_get_object (json_parser_get_root (parser)), 0, &parsed, &error));
  g_assert_no_error (error);
  assert_device_matches (&parsed, &direct);
  g_object_unref (parser);
  g_free (text);
  json_node_unref (node);
}

static void
test_json (void)
{
  prima_profile p = *full_profile (), q;
  JsonArray *arr = json_array_new ();
  JsonNode *root = json_node_new (JSON_NODE_ARRAY);
  char *text, *path;
  GArray *devs;
  GError *error = NULL;
  halda_model model;
  prima_mk_params shape;
  halda_options opt;
  halda_plan *plan;
  gboolean types[PRIMA_TYPE_COUNT];

  roundtrip (&p, TRUE);
  /* Not measured: no network member for the solver, a marker for people. */
  {
    JsonNode *node = prima_profile_to_json (&p, FALSE);
    JsonObject *o = json_node_get_object (node);
    g_assert_false (json_object_has_member (o, "net_latency_ms"));
    g_assert_cmpstr (json_object_get_string_member (o, "_net_latency_ms"), ==, "not measured");
    json_node_unref (node);
  }
  /* Measured by the ring. */
  q = p;
  g_strlcpy (q.name, "second", sizeof q.name);
  prima_profile_set_network (&q, 0.0025, 11.5e6);
  roundtrip (&q, FALSE);
  /* No disk: the fields are left out (the solver's 0: cannot stream). */
  q.disk_measured = FALSE;
  roundtrip (&q, FALSE);
  /* A CPU quota and a measured layer overhead go to the solver. */
  q.cpu_limit.version = 1;
  q.cpu_limit.quota = 0.06;
  q.cpu_limit.period = 0.1;
  q.cpu_limit.cores = 0.6;
  q.layer_count = 3;
  q.layer_overhead = -1e-7;         /* negative: the real layer was faster than its products (and less
                                     * than the tiny shape below takes at any measured rate) */
  q.cpu_tail = 0.0007;
  roundtrip (&q, FALSE);
  {
    halda_device d;
    prima_profile_to_halda (&q, FALSE, &d);
    g_assert_cmpfloat (d.cpu_quota, ==, 0.6);
    g_assert_cmpfloat (d.cpu_period, ==, 0.1);
    g_assert_cmpfloat (d.cpu_threads, ==, q.n_threads);
    g_assert_cmpfloat (d.cpu_layer_overhead, ==, -1e-7);
    g_assert_cmpfloat (d.cpu_window_spin, ==, 0.0007);
  }

  /* What `prima plan --profiles` reads: an array of profile objects in a file. */
  json_array_add_element (arr, prima_profile_to_json (&p, TRUE));
  json_array_add_element (arr, prima_profile_to_json (&q, FALSE));
  json_node_take_array (root, arr);
  text = prima_profile_json_text (root);
  path = g_build_filename (disk_dir, "profiles.json", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  devs = halda_devices_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (devs);
  g_assert_cmpuint (devs->len, ==, 2);
  g_assert_true (g_array_index (devs, halda_device, 0).is_head);
  /* And the solver plans with them: a Q4_K_M shape needs Q4_K, Q6_K and F16. */
  g_assert_true (prima_mk_preset ("tiny", PRIMA_MK_ARCH_LLAMA, &shape));
  g_strlcpy (shape.file_type, "Q4_K_M", sizeof shape.file_type);
  g_assert_true (halda_model_from_shape (&shape, 32000, 256, &model, &error));
  prima_profile_types_from_model (&model, types);
  g_assert_true (types[PRIMA_TYPE_Q4_K] && types[PRIMA_TYPE_Q6_K] && types[PRIMA_TYPE_F16]);
  for (int t = 0; t < PRIMA_TYPE_COUNT; t++)
    if (types[t])
      g_assert_true (prima_profile_type_supported (t));
  halda_options_init (&opt);
  plan = halda_solve (&model, (const halda_device *) (void *) devs->data, (int) devs->len, &opt, &error);
  g_assert_no_error (error);
  g_assert_nonnull (plan);
  g_assert_cmpfloat (plan->latency, >, 0);
  halda_plan_free (plan);
  g_array_free (devs, TRUE);
  g_unlink (path);
  g_free (path);
  g_free (text);
  json_node_unref (root);
}

static void
test_model_shapes (void)
{
  /* The embedded model: its types (F32, and F16 for attention) in its shapes. */
  char *path = g_build_filename (g_getenv ("PRIMA_DATA_DIR") ? g_getenv ("PRIMA_DATA_DIR") : "data",
      "TinyStories-656K-f32.gguf", NULL);
  GError *error = NULL;
  prima_model *model = prima_model_load (path, &error);
  prima_profile_options opt;
  prima_profile p;

  g_assert_no_error (error);
  prima_profile_options_init (&opt);
  prima_profile_options_from_model (&opt, model);
  g_assert_true (opt.types[PRIMA_TYPE_F32]);
  g_assert_true (opt.types[PRIMA_TYPE_F16]);
  g_assert_false (opt.types[PRIMA_TYPE_Q4_K]);
  /* The largest F32 matrix: the FFN's (n_ff x n_embd or n_embd x n_ff) or the output head. */
  g_assert_cmpint (opt.shape_cols[PRIMA_TYPE_F32], >, 0);
  g_assert_cmpint ((gint64) opt.shape_rows[PRIMA_TYPE_F32] * opt.shape_cols[PRIMA_TYPE_F32], >=,
      (gint64) model->hp.n_ff * model->hp.n_embd);
  opt.skip_disk = opt.skip_memory_bandwidth = TRUE;
  opt.matvec_bytes = 8 << 20;
  opt.matvec_seconds = 0.02;
  /* and the real-layer test on its layers (not the last: it ends in the output head) */
  opt.model_path = path;
  opt.layer_seconds = 0.05;
  g_assert_true (prima_profile_measure (&opt, &p, &error));
  g_assert_cmpint (p.layer_count, >=, 1);
  g_assert_cmpint (p.layer_first + p.layer_count, <, model->hp.n_layer);
  g_assert_cmpfloat (p.layer_time, >, 0);
  g_assert_cmpfloat (p.layer_matvec_time, >, 0);
  /* the real layer minus its products (negative when the forward pass streams faster), not below -half */
  g_assert_cmpfloat (p.layer_overhead, >=, -0.5 * p.layer_matvec_time - 1e-12);
  g_assert_cmpfloat (p.layer_overhead, >=, p.layer_time - p.layer_matvec_time - 1e-12);
  g_test_message ("layer test: %s, %.4f ms per layer, products %.4f ms", p.layer_note, p.layer_time * 1e3,
      p.layer_matvec_time * 1e3);
  g_assert_cmpfloat (p.cpu_flops[PRIMA_TYPE_F32], >, 1e7);
  g_assert_cmpfloat (p.cpu_flops[PRIMA_TYPE_F16], >, 1e7);
  g_assert_cmpfloat (p.cpu_flops[PRIMA_TYPE_Q4_K], ==, 0);
  g_assert_cmpint (p.shape_cols[PRIMA_TYPE_F32], ==, opt.shape_cols[PRIMA_TYPE_F32]);
  g_assert_cmpint (p.shape_count[PRIMA_TYPE_F32], >=, 1);
  /* F16 has no tensor in this model: the default 4096 x 4096 (attention's rate). */
  g_assert_cmpint (p.shape_cols[PRIMA_TYPE_F16], ==, 4096);
  g_assert_false (p.disk_measured);
  /* As the ring's setup times it: each pass after an idle pause (at least
   * three passes, so the layer test takes at least three pauses). */
  opt.skip_cpu = FALSE;
  opt.layer_gap_seconds = 0.01;
  g_assert_true (prima_profile_measure (&opt, &p, &error));
  g_assert_cmpint (p.layer_count, >=, 1);
  g_assert_cmpfloat (p.layer_time, >, 0);
  g_assert_cmpfloat (p.t_layer, >=, 3 * 0.01);
  g_assert_nonnull (strstr (p.layer_note, "after 10 ms idle"));
  /* Attending to 16 cached positions: what the solver counts itself for
   * that attention (FLOPs at the F16 rate) goes with the products. */
  opt.layer_gap_seconds = 0;
  opt.layer_position = 16;
  g_assert_true (prima_profile_measure (&opt, &p, &error));
  g_assert_cmpint (p.layer_count, >=, 1);
  g_assert_nonnull (strstr (p.layer_note, "at position 16"));
  g_assert_cmpfloat (p.layer_matvec_time, >,
      16 * 4.0 * model->hp.n_head * model->hp.head_dim / p.cpu_flops[PRIMA_TYPE_F16]);
  g_assert_cmpfloat (p.layer_overhead, >=, p.layer_time - p.layer_matvec_time - 1e-12);
  prima_model_free (model);
  g_free (path);
}

/* ---- cgroup fixtures: a fake /proc and /sys under a temporary root ---- */

static void
put (const char *root, const char *rel, const char *text)
{
  char *path = g_build_filename (root, rel, NULL), *dir = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  g_free (dir);
  g_free (path);
}

static char *
fixture_root (const char *name)
{
  char *root = g_build_filename (disk_dir, name, NULL);
  g_assert_cmpint (g_mkdir_with_parents (root, 0755), ==, 0);
  put (root, "proc/meminfo",
      "MemTotal:       16777216 kB\n"
      "MemFree:         1048576 kB\n"
      "MemAvailable:    8388608 kB\n"
      "Buffers:           10240 kB\n"
      "Cached:          4194304 kB\n"
      "SwapCached:            0 kB\n"
      "SwapTotal:       4194304 kB\n"
      "SwapFree:        3145728 kB\n");
  return root;
}

static void
remove_tree (const char *path)
{
  GDir *d = g_dir_open (path, 0, NULL);
  const char *e;
  while (d && (e = g_dir_read_name (d))) {
    char *c = g_build_filename (path, e, NULL);
    if (g_file_test (c, G_FILE_TEST_IS_DIR))
      remove_tree (c);
    else
      g_unlink (c);
    g_free (c);
  }
  if (d)
    g_dir_close (d);
  g_rmdir (path);
}

static void
read_fixture (const char *root, prima_profile_memory *m)
{
  GError *error = NULL;
  g_assert_true (prima_profile_read_memory (root, m, &error));
  g_assert_no_error (error);
}

static void
test_cgroup_v2 (void)
{
  char *root = fixture_root ("v2");
  prima_profile_memory m;

  put (root, "proc/self/cgroup", "0::/user.slice/app.scope\n");
  put (root, "proc/self/mountinfo",
      "22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
      "25 28 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n");
  /* Our cgroup: no limit of its own; the parent caps at 2 GiB. */
  put (root, "sys/fs/cgroup/user.slice/app.scope/memory.max", "max\n");
  put (root, "sys/fs/cgroup/user.slice/app.scope/memory.current", "314572800\n");
  put (root, "sys/fs/cgroup/user.slice/app.scope/memory.stat", "anon 209715200\nfile 104857600\ninactive_file 52428800\n");
  put (root, "sys/fs/cgroup/user.slice/app.scope/memory.swap.max", "max\n");
  put (root, "sys/fs/cgroup/user.slice/memory.max", "2147483648\n");
  put (root, "sys/fs/cgroup/user.slice/memory.current", "1073741824\n");
  put (root, "sys/fs/cgroup/user.slice/memory.stat",
      "anon 805306368\nfile 268435456\nactive_file 134217728\ninactive_file 134217728\n");
  put (root, "sys/fs/cgroup/user.slice/memory.swap.max", "536870912\n");
  put (root, "sys/fs/cgroup/user.slice/memory.swap.current", "134217728\n");
  read_fixture (root, &m);
  g_assert_cmpint (m.cgroup_version, ==, 2);
  g_assert_true (g_str_has_suffix (m.cgroup_path, "/sys/fs/cgroup/user.slice/app.scope"));
  g_assert_cmpuint (m.host_total, ==, 16ull << 30);
  g_assert_cmpuint (m.host_available, ==, 8ull << 30);
  g_assert_cmpuint (m.cgroup_limit, ==, 2ull << 30);
  g_assert_cmpuint (m.total, ==, 2ull << 30);
  /* 2 GiB - (1 GiB used - 128 MiB inactive file cache) */
  g_assert_cmpuint (m.available, ==, (2ull << 30) - (1ull << 30) + (128ull << 20));
  g_assert_cmpuint (m.cgroup_usage, ==, 1ull << 30);
  /* swap: min (3 GiB free, 512 MiB - 128 MiB used) */
  g_assert_cmpuint (m.swap_total, ==, 4ull << 30);
  g_assert_cmpuint (m.swap_available, ==, 384ull << 20);

  /* "max" all the way up: the host's numbers. */
  put (root, "sys/fs/cgroup/user.slice/memory.max", "max\n");
  put (root, "sys/fs/cgroup/user.slice/memory.swap.max", "max\n");
  read_fixture (root, &m);
  g_assert_cmpuint (m.cgroup_limit, ==, G_MAXUINT64);
  g_assert_cmpuint (m.total, ==, 16ull << 30);
  g_assert_cmpuint (m.available, ==, 8ull << 30);
  g_assert_cmpuint (m.swap_available, ==, 3ull << 30);
  g_assert_cmpuint (m.cgroup_usage, ==, 314572800);

  /* A limit below what the host has free binds; one above it does not. */
  put (root, "sys/fs/cgroup/user.slice/app.scope/memory.max", "12884901888\n");
  read_fixture (root, &m);
  g_assert_cmpuint (m.total, ==, 12ull << 30);
  g_assert_cmpuint (m.available, ==, 8ull << 30);

  /* Inside a cgroup namespace the path is "/" and the mount is our cgroup. */
  put (root, "proc/self/cgroup", "0::/\n");
  put (root, "sys/fs/cgroup/memory.max", "1073741824\n");
  put (root, "sys/fs/cgroup/memory.current", "268435456\n");
  read_fixture (root, &m);
  g_assert_cmpuint (m.total, ==, 1ull << 30);
  g_assert_cmpuint (m.available, ==, 768ull << 20);
  remove_tree (root);
  g_free (root);
}

static void
test_cgroup_v1 (void)
{
  char *root = fixture_root ("v1");
  prima_profile_memory m;

  /* A hybrid system: the memory controller on v1, an empty v2 hierarchy too. */
  put (root, "proc/self/cgroup",
      "9:name=systemd:/docker/abc\n4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/docker/abc\n");
  put (root, "proc/self/mountinfo",
      "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
      "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  put (root, "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "1073741824\n");
  put (root, "sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes", "536870912\n");
  put (root, "sys/fs/cgroup/memory/docker/abc/memory.memsw.limit_in_bytes", "1610612736\n");
  put (root, "sys/fs/cgroup/memory/docker/abc/memory.stat",
      "cache 209715200\nrss 314572800\ninactive_file 52428800\ntotal_cache 209715200\ntotal_inactive_file 104857600\n");
  /* The parents: v1's "no limit" is a huge page-aligned number. */
  put (root, "sys/fs/cgroup/memory/docker/memory.limit_in_bytes", "9223372036854771712\n");
  put (root, "sys/fs/cgroup/memory/docker/memory.usage_in_bytes", "4294967296\n");
  put (root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  put (root, "sys/fs/cgroup/memory/memory.usage_in_bytes", "8589934592\n");
  read_fixture (root, &m);
  g_assert_cmpint (m.cgroup_version, ==, 1);
  g_assert_true (g_str_has_suffix (m.cgroup_path, "/sys/fs/cgroup/memory/docker/abc"));
  g_assert_cmpuint (m.cgroup_limit, ==, 1ull << 30);
  g_assert_cmpuint (m.total, ==, 1ull << 30);
  /* 1 GiB - (512 MiB - 100 MiB of inactive file cache, hierarchical counter) */
  g_assert_cmpuint (m.available, ==, (1ull << 30) - (512ull << 20) + (100ull << 20));
  g_assert_cmpuint (m.cgroup_reclaimable, ==, 100ull << 20);
  /* memsw - mem = 512 MiB of swap allowed, less than the 3 GiB free */
  g_assert_cmpuint (m.swap_available, ==, 512ull << 20);

  /* No limit anywhere. */
  put (root, "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "9223372036854771712\n");
  put (root, "sys/fs/cgroup/memory/docker/abc/memory.memsw.limit_in_bytes", "9223372036854771712\n");
  read_fixture (root, &m);
  g_assert_cmpuint (m.cgroup_limit, ==, G_MAXUINT64);
  g_assert_cmpuint (m.total, ==, 16ull << 30);
  g_assert_cmpuint (m.available, ==, 8ull << 30);
  g_assert_cmpuint (m.swap_available, ==, 3ull << 30);
  g_assert_cmpuint (m.cgroup_usage, ==, 512ull << 20);

  /* A container that sees its own cgroup mounted at the hierarchy's mount
   * point (mount root /docker/abc): the prefix is stripped. */
  put (root, "proc/self/mountinfo",
      "34 30 0:31 /docker/abc /sys/fs/cgroup/memory ro,relatime - cgroup cgroup rw,memory\n");
  put (root, "sys/fs/cgroup/memory/memory.limit_in_bytes", "2147483648\n");
  put (root, "sys/fs/cgroup/memory/memory.usage_in_bytes", "1073741824\n");
  put (root, "sys/fs/cgroup/memory/memory.stat", "total_inactive_file 0\n");
  read_fixture (root, &m);
  g_assert_true (g_str_has_suffix (m.cgroup_path, "/sys/fs/cgroup/memory"));
  g_assert_cmpuint (m.total, ==, 2ull << 30);
  g_assert_cmpuint (m.available, ==, 1ull << 30);

  /* No memory cgroup at all, and an old kernel without MemAvailable. */
  put (root, "proc/self/cgroup", "1:cpu:/\n");
  put (root, "proc/meminfo", "MemTotal: 1048576 kB\nMemFree: 102400 kB\nBuffers: 1024 kB\nCached: 204800 kB\n");
  read_fixture (root, &m);
  g_assert_cmpint (m.cgroup_version, ==, 0);
  g_assert_cmpuint (m.total, ==, 1ull << 30);
  g_assert_cmpuint (m.available, ==, (102400ull + 1024 + 204800) * 1024);
  g_assert_cmpuint (m.swap_available, ==, 0);

  /* No meminfo: an error, not zeros. */
  {
    char *mi = g_build_filename (root, "proc/meminfo", NULL);
    GError *error = NULL;
    g_unlink (mi);
    g_assert_false (prima_profile_read_memory (root, &m, &error));
    g_assert_error (error, PRIMA_PROFILE_ERROR, PRIMA_PROFILE_ERROR_IO);
    g_error_free (error);
    g_free (mi);
  }
  remove_tree (root);
  g_free (root);
}

static void
test_cpu_quota (void)
{
  char *root = fixture_root ("cpu");
  prima_profile_cpu_limit c;

  /* v1 with cpu and cpuacct mounted together; the parent's quota binds. */
  put (root, "proc/self/cgroup", "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n2:cpuset:/\n0::/\n");
  put (root, "proc/self/mountinfo",
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "32 30 0:29 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
      "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n");
  put (root, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
  put (root, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  put (root, "sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_quota_us", "150000\n");
  put (root, "sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_period_us", "100000\n");
  put (root, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
  put (root, "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  g_assert_true (prima_profile_read_cpu_limit (root, &c));
  g_assert_cmpint (c.version, ==, 1);
  g_assert_cmpfloat (fabs (c.cores - 1.5), <, 1e-12);
  g_assert_cmpfloat (fabs (c.period - 0.1), <, 1e-12);
  g_assert_true (g_str_has_suffix (c.path, "/sys/fs/cgroup/cpu,cpuacct/docker"));
  /* our own, tighter: 60% of a core */
  put (root, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "60000\n");
  g_assert_true (prima_profile_read_cpu_limit (root, &c));
  g_assert_cmpfloat (fabs (c.cores - 0.6), <, 1e-12);
  g_assert_cmpfloat (fabs (c.quota - 0.06), <, 1e-12);
  g_assert_true (g_str_has_suffix (c.path, "/docker/abc"));
  /* no quota anywhere */
  put (root, "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
  put (root, "sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_quota_us", "-1\n");
  g_assert_false (prima_profile_read_cpu_limit (root, &c));
  g_assert_cmpint (c.version, ==, 1);
  g_assert_cmpfloat (c.cores, ==, 0);

  /* v2: cpu.max, "max" at our level, a parent with two cores, then our own
   * 25 ms per 50 ms period. */
  put (root, "proc/self/cgroup", "0::/app.slice/x.scope\n");
  put (root, "proc/self/mountinfo",
      "25 28 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n");
  put (root, "sys/fs/cgroup/app.slice/x.scope/cpu.max", "max 100000\n");
  put (root, "sys/fs/cgroup/app.slice/cpu.max", "200000 100000\n");
  g_assert_true (prima_profile_read_cpu_limit (root, &c));
  g_assert_cmpint (c.version, ==, 2);
  g_assert_cmpfloat (fabs (c.cores - 2.0), <, 1e-12);
  put (root, "sys/fs/cgroup/app.slice/x.scope/cpu.max", "25000 50000\n");
  g_assert_true (prima_profile_read_cpu_limit (root, &c));
  g_assert_cmpfloat (fabs (c.cores - 0.5), <, 1e-12);
  g_assert_cmpfloat (fabs (c.period - 0.05), <, 1e-12);

  /* no cpu cgroup */
  put (root, "proc/self/cgroup", "4:memory:/\n");
  g_assert_false (prima_profile_read_cpu_limit (root, &c));
  g_assert_cmpint (c.version, ==, 0);
  remove_tree (root);
  g_free (root);
}

static void
test_network_fit (void)
{
  /* rtt = 2 * 0.4 ms + bytes / 80 MB/s, with a little noise. */
  const double bytes[] = { 64, 4096, 65536, 262144, 1048576, 64, 4096, 65536, 262144, 1048576 };
  const double noise[] = { 1e-6, -2e-6, 3e-6, -1e-6, 2e-6, -3e-6, 1e-6, 0, 2e-6, -2e-6 };
  double rtt[G_N_ELEMENTS (bytes)], lat, bw;
  for (guint i = 0; i < G_N_ELEMENTS (bytes); i++)
    rtt[i] = 2 * 0.4e-3 + bytes[i] / 80e6 + noise[i];
  g_assert_true (prima_profile_fit_network (bytes, rtt, G_N_ELEMENTS (bytes), &lat, &bw));
  g_assert_cmpfloat (fabs (lat - 0.4e-3), <, 0.01e-3);
  g_assert_cmpfloat (fabs (bw - 80e6) / 80e6, <, 0.01);
  /* One size only: latency from the smallest round trip, no bandwidth. */
  {
    const double b1[] = { 64, 64, 64 }, r1[] = { 1.0e-3, 0.8e-3, 0.9e-3 };
    g_assert_false (prima_profile_fit_network (b1, r1, 3, &lat, &bw));
    g_assert_cmpfloat (fabs (lat - 0.4e-3), <, 1e-12);
    g_assert_cmpfloat (bw, ==, 0);
  }
  g_assert_false (prima_profile_fit_network (NULL, NULL, 0, &lat, &bw));
}

int
main (int argc, char **argv)
{
  int status;
  g_test_init (&argc, &argv, NULL);
  /* The disk test writes its temporary file here (the build's temporary folder). */
  disk_dir = g_dir_make_tmp ("prima-profiler-XXXXXX", NULL);
  g_assert_nonnull (disk_dir);
  g_test_add_func ("/profiler/cgroup-v1", test_cgroup_v1);
  g_test_add_func ("/profiler/cgroup-v2", test_cgroup_v2);
  g_test_add_func ("/profiler/cpu-quota", test_cpu_quota);
  g_test_add_func ("/profiler/network-fit", test_network_fit);
  g_test_add_func ("/profiler/model-shapes", test_model_shapes);
  g_test_add_func ("/profiler/sane", test_sane);
  g_test_add_func ("/profiler/time", test_time);
  g_test_add_func ("/profiler/json", test_json);
  status = g_test_run ();
  remove_tree (disk_dir);
  g_free (disk_dir);
  return status;
}
