/* gst-prima tests: the CPU topology reader (cpu-topology.c) over fake /proc and /sys trees
 * (tests/data/fake-cpus): a big.LITTLE phone with cpu_capacity, a board with only max frequencies,
 * a server without either, an x86 machine; and the real machine it runs on.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <glib.h>
#include <string.h>

#include "cpu-topology.h"
#include "test-common.h"

static void
read_fake (const char *name, prima_cpu_topology *t)
{
  char *rel = g_build_filename ("fake-cpus", name, NULL), *root = test_data_path (rel);
  g_assert_true (g_file_test (root, G_FILE_TEST_IS_DIR));
  prima_cpu_topology_read (root, t);
  g_test_message ("%s: %d CPUs, %d clusters, %d little, model \"%s\", %d MHz", name, t->n_cpus, t->n_clusters,
      t->n_little, t->model, t->max_mhz);
  g_free (root);
  g_free (rel);
}

/* 4 x A55 (capacity 446), 3 x A76 (871), 1 x A76 prime (1024) */
static void
test_phone (void)
{
  prima_cpu_topology t;
  read_fake ("phone", &t);
  g_assert_cmpint (t.n_cpus, ==, 8);
  g_assert_cmpint (t.n_clusters, ==, 3);
  g_assert_cmpint (t.n_little, ==, 4);
  g_assert_cmpint (t.max_mhz, ==, 2840);
  g_assert_cmpstr (t.model, ==, "Cortex-A55 + Cortex-A76");
  g_assert_nonnull (strstr (t.features, "asimddp"));
  g_assert_cmpint (t.capacity[0], ==, 446);
  g_assert_cmpint (t.capacity[7], ==, 1024);
  g_assert_cmpint (prima_cpu_topology_default_threads (&t, FALSE), ==, 4);
  g_assert_cmpint (prima_cpu_topology_default_threads (&t, TRUE), ==, 8);
}

/* RK3399-like: 4 x A53 at 1.416 GHz, 2 x A72 at 1.8 GHz, no cpu_capacity: the in-order A53s are
 * the little ones though their clock alone is within 60 % */
static void
test_board (void)
{
  prima_cpu_topology t;
  read_fake ("board", &t);
  g_assert_cmpint (t.n_cpus, ==, 6);
  g_assert_cmpint (t.n_clusters, ==, 2);
  g_assert_cmpint (t.n_little, ==, 4);
  g_assert_cmpstr (t.model, ==, "Cortex-A53 + Cortex-A72");
  g_assert_cmpint (prima_cpu_topology_default_threads (&t, FALSE), ==, 2);
}

/* 4 x Neoverse-N1, neither capacity nor frequency: one cluster, every core used */
static void
test_server (void)
{
  prima_cpu_topology t;
  read_fake ("server", &t);
  g_assert_cmpint (t.n_cpus, ==, 4);
  g_assert_cmpint (t.n_clusters, ==, 1);
  g_assert_cmpint (t.n_little, ==, 0);
  g_assert_cmpint (t.max_mhz, ==, 0);
  g_assert_cmpstr (t.model, ==, "Neoverse-N1");
  g_assert_cmpint (prima_cpu_topology_default_threads (&t, FALSE), ==, 4);
}

static void
test_x86 (void)
{
  prima_cpu_topology t;
  read_fake ("x86", &t);
  g_assert_cmpint (t.n_cpus, ==, 2);
  g_assert_cmpint (t.n_little, ==, 0);
  g_assert_cmpstr (t.model, ==, "Intel(R) Xeon(R) CPU");
  g_assert_nonnull (strstr (t.features, "avx2"));
}

/* a missing tree: one CPU, no little ones */
static void
test_missing (void)
{
  prima_cpu_topology t;
  prima_cpu_topology_read ("/nonexistent-prima-root", &t);
  g_assert_cmpint (t.n_cpus, ==, 1);
  g_assert_cmpint (t.n_little, ==, 0);
  g_assert_cmpint (prima_cpu_topology_default_threads (&t, FALSE), ==, 1);
  g_assert_cmpstr (prima_arm_core_name (0x41, 0xd05), ==, "Cortex-A55");
  g_assert_null (prima_arm_core_name (0x41, 0xfff));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cpu-topology/phone", test_phone);
  g_test_add_func ("/cpu-topology/board", test_board);
  g_test_add_func ("/cpu-topology/server", test_server);
  g_test_add_func ("/cpu-topology/x86", test_x86);
  g_test_add_func ("/cpu-topology/missing", test_missing);
  return g_test_run ();
}
