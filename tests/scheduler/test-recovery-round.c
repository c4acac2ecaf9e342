/* gst-prima: the ring's recovery round (scheduler/ring-setup.c, issue 13 part 3).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A setup round of 4 devices on loopback (the head here, the workers in
 * threads of this process, each with its own server and client as on its
 * own machine), then recovery rounds without one of them: a device that is
 * gone has no thread in that round, so its port is closed, as a killed
 * worker's. Checks: the first round gives every setup rank's server address
 * (from the joins, with -lw too); without rank 2 the head deals the weights
 * of the devices left, rank 1 connects to rank 3 (the route re-points it)
 * and each survivor gets its data rank and next URL; without rank 1 the
 * head connects to rank 2 itself; without the last rank (auto, over saved
 * profiles) the rank before it connects to the head; and survivors that
 * cannot hold the model make the round fail saying so. */
#include <stdio.h>
#include <string.h>

#include "ring-setup.h"

static int base;
static const char *model;
static prima_cluster_key *key;

typedef struct {
  int world, rank;
  PrimaRingSetup out;
  gboolean ok;
  GThread *thread;
} Worker;

static gpointer
worker_main (gpointer data)
{
  Worker *w = data;
  PrimaRingSetupArgs a = { .command = "worker", .world = w->world, .rank = w->rank, .port = base,
    .next_host = "127.0.0.1", .key = key, .model_path = model, .n_threads = 1 };

  w->ok = prima_ring_setup_run (&a, &w->out);
  return NULL;
}

/* The workers of a round: ranks 1 .. world-1 except the absent ones. */
static Worker *
start_workers (int world, const gboolean *absent)
{
  Worker *w = g_new0 (Worker, world);

  for (int r = 1; r < world; r++) {
    if (absent && absent[r])
      continue;
    w[r].world = world;
    w[r].rank = r;
    w[r].thread = g_thread_new ("worker", worker_main, &w[r]);
  }
  return w;
}

static void
join_workers (Worker *w, int world)
{
  for (int r = 1; r < world; r++)
    if (w[r].thread)
      g_thread_join (w[r].thread);
}

static void
free_workers (Worker *w, int world)
{
  for (int r = 1; r < world; r++)
    prima_ring_setup_clear (&w[r].out);
  g_free (w);
}

static char *
url_of (int setup_rank)
{
  return g_strdup_printf ("ws://127.0.0.1:%d", base + setup_rank);
}

static void
head_args (PrimaRingSetupArgs *a, int world)
{
  memset (a, 0, sizeof *a);
  a->command = "run";
  a->world = world;
  a->rank = 0;
  a->port = base;
  a->next_host = "127.0.0.1";
  a->key = key;
  a->model_path = model;
  a->n_ctx = 128;
  a->n_threads = 1;
  a->timeout_s = 30;
}

/* The data ring a round gave: its size, the setup rank of each data rank,
 * and each worker's data rank and next URL (the next survivor's server). */
static void
check_ring (const PrimaRingSetup *head, Worker *w, int world, const gboolean *absent, int want_world)
{
  int data = 0;

  g_assert_cmpint (head->world, ==, want_world);
  g_assert_cmpint (head->setup_world, ==, world);
  g_assert_nonnull (head->setup_rank);
  for (int r = 0; r < world; r++) {
    int next = -1;
    char *want;
    if (absent && absent[r])
      continue;
    g_assert_cmpint (head->setup_rank[data], ==, r);
    for (int i = 1; i <= world && next < 0; i++)
      if (!(absent && absent[(r + i) % world]))
        next = (r + i) % world;
    want = url_of (next);
    if (r == 0) {
      g_assert_cmpint (head->rank, ==, 0);
      g_assert_cmpstr (head->next_url, ==, want);
    } else {
      g_assert_true (w[r].ok);
      g_assert_cmpint (w[r].out.rank, ==, data);
      g_assert_cmpint (w[r].out.world, ==, want_world);
      g_assert_cmpstr (w[r].out.next_url, ==, want);
    }
    g_free (want);
    data++;
  }
  g_assert_cmpint (data, ==, want_world);
}

/* The layers of "a-b,c-d" as a bit mask (adjacent windows of one device
 * run as one in a plan: "3-4,4-5" is "3-5"). */
static guint64
layers_of (const char *windows)
{
  gchar **parts = g_strsplit (windows, ",", -1);
  guint64 mask = 0;

  for (guint i = 0; parts[i]; i++) {
    int a = 0, b = 0;
    g_assert_cmpint (sscanf (parts[i], "%d-%d", &a, &b), ==, 2);
    for (int l = a; l < b; l++)
      mask |= G_GUINT64_CONSTANT (1) << l;
  }
  g_strfreev (parts);
  return mask;
}

/* The windows of the data ring (setup ranks in order) as prima_ring_deal
 * deals lw over them. */
static void
check_windows (const PrimaRingSetup *head, const char *lw, int world, int n_layer)
{
  char **windows = NULL;
  int k = 0;

  g_assert_true (prima_ring_deal ("test", n_layer, world, lw, 0, &windows, &k));
  g_assert_cmpint (head->k, ==, k);
  for (int i = 0; i < world; i++)
    g_assert_cmphex (layers_of (head->windows[i]), ==, layers_of (windows[i]));
  g_strfreev (windows);
}

static PrimaRingSetup first;

/* 1. every device: the addresses come from the joins */
static void
test_first_round (void)
{
  PrimaRingSetupArgs a;
  Worker *w = start_workers (4, NULL);

  head_args (&a, 4);
  a.lw = "1,1,2,1";
  g_assert_true (prima_ring_setup_run (&a, &first));
  join_workers (w, 4);
  check_ring (&first, w, 4, NULL, 4);
  check_windows (&first, "1,1,2,1", 4, 5);
  g_assert_nonnull (first.addresses);
  g_assert_cmpuint (g_strv_length (first.addresses), ==, 4);
  for (int r = 0; r < 4; r++) {
    char *want = g_strdup_printf ("127.0.0.1:%d", base + r);
    g_assert_cmpstr (first.addresses[r], ==, want);
    g_free (want);
  }
  g_assert_null (first.profiles_json);       /* -lw: no profiles */
  free_workers (w, 4);
}

/* 2. rank 2 is gone: its weight leaves with it, rank 1 connects to rank 3 */
static void
test_without_rank_2 (void)
{
  gboolean absent[4] = { FALSE, FALSE, TRUE, FALSE };
  PrimaRingSetupArgs a;
  PrimaRingSetup out;
  Worker *w = start_workers (4, absent);

  head_args (&a, 4);
  a.lw = "1,1,2,1";
  a.absent = absent;
  a.addresses = first.addresses;
  g_assert_true (prima_ring_setup_run (&a, &out));
  join_workers (w, 4);
  check_ring (&out, w, 4, absent, 3);
  check_windows (&out, "1,1,1", 3, 5);
  /* the lost rank keeps its address for a later round */
  g_assert_cmpstr (out.addresses[2], ==, first.addresses[2]);
  prima_ring_setup_clear (&out);
  free_workers (w, 4);
}

/* 3. rank 1, the head's own next, is gone: the head connects to rank 2 */
static void
test_without_rank_1 (void)
{
  gboolean absent[4] = { FALSE, TRUE, FALSE, FALSE };
  PrimaRingSetupArgs a;
  PrimaRingSetup out;
  Worker *w = start_workers (4, absent);

  head_args (&a, 4);
  a.lw = "1,1,2,1";
  a.absent = absent;
  a.addresses = first.addresses;
  g_assert_true (prima_ring_setup_run (&a, &out));
  join_workers (w, 4);
  check_ring (&out, w, 4, absent, 3);
  check_windows (&out, "1,2,1", 3, 5);
  prima_ring_setup_clear (&out);
  free_workers (w, 4);
}

/* Saved profiles (the last round's PrimaRingSetup.profiles_json): 4 CPU
 * devices with ram GiB each; one with at most 1 GiB has a disk too slow
 * to stream weights (it must hold its layers; the setup round keeps 64 MiB
 * of a small device in reserve). */
static char *
profiles (const double ram[4])
{
  GString *g = g_string_new ("[");

  for (int r = 0; r < 4; r++)
    g_string_append_printf (g, "%s{\"name\":\"rank %d\",\"head\":%s,\"os\":\"linux\",\"ram_available_gib\":%g,"
        "\"_ram_total_gib\":%g,\"disk_seq_read_gb_s\":%g,\"disk_rnd_read_gb_s\":%g,\"cpu_gflops\":{\"F32\":0.01,\"F16\":0.01},"
        "\"net_latency_ms\":0.1,\"net_bandwidth_mb_s\":1000}", r ? "," : "", r, r ? "false" : "true", ram[r],
        ram[r] > 1 ? ram[r] * 2 : 0.1, ram[r] > 1 ? 1.0 : 1e-6, ram[r] > 1 ? 1.0 : 1e-6);
  g_string_append (g, "]");
  return g_string_free (g, FALSE);
}

/* 4. auto: the last rank is gone; Halda over the saved profiles of the
 * others; the rank before it connects to the head */
static void
test_auto_without_last (void)
{
  /* the head can hold about two of the five layers: the others must go to the workers */
  const double ram[4] = { (64 + 0.5) / 1024.0, 4, 4, 4 };
  gboolean absent[4] = { FALSE, FALSE, FALSE, TRUE };
  char *json = profiles (ram);
  PrimaRingSetupArgs a;
  PrimaRingSetup out;
  Worker *w = start_workers (4, absent);
  GString *all = g_string_new (NULL);

  head_args (&a, 4);
  a.absent = absent;
  a.addresses = first.addresses;
  a.profiles_json = json;
  g_assert_true (prima_ring_setup_run (&a, &out));
  join_workers (w, 4);
  /* Halda may leave a device out (not worth a hop): only the ring it
   * chose is checked, and that the lost rank has no place in it */
  g_assert_cmpint (out.world, >=, 2);
  for (int i = 0; i < out.world; i++)
    g_assert_cmpint (out.setup_rank[i], !=, 3);
  {
    gboolean in_ring[4] = { FALSE };
    for (int i = 0; i < out.world; i++)
      in_ring[out.setup_rank[i]] = TRUE;
    for (int r = 1; r < 3; r++)
      if (!in_ring[r])
        absent[r] = TRUE;       /* left out by the plan: not in the data ring */
    check_ring (&out, w, 4, absent, out.world);
  }
  /* every layer once */
  for (int i = 0; i < out.world; i++)
    g_string_append_printf (all, "%s%s", i ? "," : "", out.windows[i]);
  {
    gboolean seen[5] = { FALSE };
    gchar **parts = g_strsplit (all->str, ",", -1);
    for (guint i = 0; parts[i]; i++) {
      int first_layer = 0, last = 0;
      g_assert_cmpint (sscanf (parts[i], "%d-%d", &first_layer, &last), ==, 2);
      for (int l = first_layer; l < last; l++) {
        g_assert_false (seen[l]);
        seen[l] = TRUE;
      }
    }
    for (int l = 0; l < 5; l++)
      g_assert_true (seen[l]);
    g_strfreev (parts);
  }
  g_assert_cmpstr (out.profiles_json, ==, json);
  g_string_free (all, TRUE);
  prima_ring_setup_clear (&out);
  free_workers (w, 4);
  g_free (json);
}

/* 5. the devices left cannot hold the model (no memory, a disk too slow to
 * stream): the round fails and says so */
static void
test_cannot_hold (void)
{
  const double ram[4] = { 0.001, 0.001, 0.001, 4 };
  gboolean absent[4] = { FALSE, FALSE, FALSE, TRUE };
  char *json = profiles (ram);
  PrimaRingSetupArgs a;
  PrimaRingSetup out;
  Worker *w = start_workers (4, absent);

  head_args (&a, 4);
  a.absent = absent;
  a.addresses = first.addresses;
  a.profiles_json = json;
  g_assert_false (prima_ring_setup_run (&a, &out));
  join_workers (w, 4);
  g_assert_nonnull (out.error);
  g_test_message ("%s", out.error);
  g_assert_true (g_str_has_prefix (out.error, "the 3 devices left cannot hold the model: "));
  /* the workers hear that the round failed */
  for (int r = 1; r < 3; r++)
    g_assert_false (w[r].ok);
  prima_ring_setup_clear (&out);
  free_workers (w, 4);
  g_free (json);
}

int
main (int argc, char **argv)
{
  const char *data = g_getenv ("PRIMA_TEST_DATA");
  char *path;
  int ret;

  g_test_init (&argc, &argv, NULL);
  if (data == NULL) {
    g_printerr ("PRIMA_TEST_DATA is not set\n");
    return 1;
  }
  path = g_build_filename (data, "stories260K-f32.gguf", NULL);
  model = path;
  key = prima_cluster_key_new ("prima-test-recovery-round-key-0123456789", NULL);
  /* below the ephemeral ports, as the ring tests */
  base = g_test_rand_int_range (20000, 32000);
  g_test_add_func ("/recovery/first-round", test_first_round);
  g_test_add_func ("/recovery/without-rank-2", test_without_rank_2);
  g_test_add_func ("/recovery/without-rank-1", test_without_rank_1);
  g_test_add_func ("/recovery/auto-without-last", test_auto_without_last);
  g_test_add_func ("/recovery/cannot-hold", test_cannot_hold);
  ret = g_test_run ();
  prima_ring_setup_clear (&first);
  prima_cluster_key_unref (key);
  g_free (path);
  return ret;
}
