/* gst-prima: CPU core count, model, features and big.LITTLE clusters from /proc and /sys.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "cpu-topology.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
  unsigned implementer, part;
  const char *name;
} arm_parts[] = {
  {0x41, 0xd03, "Cortex-A53"}, {0x41, 0xd04, "Cortex-A35"}, {0x41, 0xd05, "Cortex-A55"},
  {0x41, 0xd07, "Cortex-A57"}, {0x41, 0xd08, "Cortex-A72"}, {0x41, 0xd09, "Cortex-A73"},
  {0x41, 0xd0a, "Cortex-A75"}, {0x41, 0xd0b, "Cortex-A76"}, {0x41, 0xd0c, "Neoverse-N1"},
  {0x41, 0xd0d, "Cortex-A77"}, {0x41, 0xd40, "Neoverse-V1"}, {0x41, 0xd41, "Cortex-A78"},
  {0x41, 0xd44, "Cortex-X1"}, {0x41, 0xd46, "Cortex-A510"}, {0x41, 0xd47, "Cortex-A710"},
  {0x41, 0xd48, "Cortex-X2"}, {0x41, 0xd49, "Neoverse-N2"}, {0x41, 0xd4d, "Cortex-A715"},
  {0x41, 0xd4e, "Cortex-X3"}, {0x41, 0xd4f, "Neoverse-V2"}, {0x48, 0xd40, "TaiShan-v110"},
  {0x61, 0x022, "Apple-M1-Icestorm"}, {0x61, 0x023, "Apple-M1-Firestorm"},
};

const char *
prima_arm_core_name (unsigned implementer, unsigned part)
{
  for (gsize i = 0; i < G_N_ELEMENTS (arm_parts); i++)
    if (arm_parts[i].implementer == implementer && arm_parts[i].part == part)
      return arm_parts[i].name;
  return NULL;
}

static char *
rooted (const char *root, const char *path)
{
  return g_strconcat (root ? root : "", path, NULL);
}

/* the value after "key<spaces>:" on a line of text, or NULL */
static const char *
line_value (const char *line, const char *key)
{
  const gsize n = strlen (key);
  if (strncmp (line, key, n) != 0)
    return NULL;
  line += n;
  while (*line == ' ' || *line == '\t')
    line++;
  if (*line != ':')
    return NULL;
  line++;
  while (*line == ' ')
    line++;
  return line;
}

static long
read_long (const char *root, int cpu, const char *leaf)
{
  char *rel = g_strdup_printf ("/sys/devices/system/cpu/cpu%d/%s", cpu, leaf), *path = rooted (root, rel), *text = NULL;
  long v = -1;
  if (g_file_get_contents (path, &text, NULL, NULL))
    v = strtol (text, NULL, 10);
  g_free (text);
  g_free (path);
  g_free (rel);
  return v;
}

void
prima_cpu_topology_read (const char *root, prima_cpu_topology *t)
{
  char *path = rooted (root, "/proc/cpuinfo"), *text = NULL;
  unsigned implementer = 0, part_seen[8], impl_seen[8], part_of[PRIMA_CPU_TOPOLOGY_MAX] = { 0 };
  int n_parts = 0, cpu = -1;
  gboolean have_capacity = FALSE;

  memset (t, 0, sizeof *t);
  if (g_file_get_contents (path, &text, NULL, NULL)) {
    char **lines = g_strsplit (text, "\n", -1);
    for (char **l = lines; *l; l++) {
      const char *v;
      if ((v = line_value (*l, "processor")) && g_ascii_isdigit (*v)) {
        cpu = t->n_cpus++;
      } else if ((v = line_value (*l, "Features")) || (v = line_value (*l, "flags"))) {
        if (!t->features[0])
          g_strlcpy (t->features, v, sizeof t->features);
      } else if ((v = line_value (*l, "model name"))) {
        if (!t->model[0])
          g_strlcpy (t->model, v, sizeof t->model);
      } else if ((v = line_value (*l, "CPU implementer"))) {
        implementer = (unsigned) strtoul (v, NULL, 0);
      } else if ((v = line_value (*l, "CPU part")) && cpu >= 0) {
        /* one name per distinct core type, in the order they appear */
        const unsigned part = (unsigned) strtoul (v, NULL, 0);
        int k = 0;
        if (cpu < PRIMA_CPU_TOPOLOGY_MAX)
          part_of[cpu] = part;
        while (k < n_parts && !(part_seen[k] == part && impl_seen[k] == implementer))
          k++;
        if (k == n_parts && n_parts < (int) G_N_ELEMENTS (part_seen)) {
          part_seen[n_parts] = part;
          impl_seen[n_parts++] = implementer;
        }
      }
    }
    g_strfreev (lines);
  }
  g_free (text);
  g_free (path);
  if (n_parts > 0 && !t->model[0]) {
    GString *m = g_string_new (NULL);
    for (int k = 0; k < n_parts; k++) {
      const char *name = prima_arm_core_name (impl_seen[k], part_seen[k]);
      if (k)
        g_string_append (m, " + ");
      if (name)
        g_string_append (m, name);
      else
        g_string_append_printf (m, "0x%02x:0x%03x", impl_seen[k], part_seen[k]);
    }
    g_strlcpy (t->model, m->str, sizeof t->model);
    g_string_free (m, TRUE);
  }
  if (t->n_cpus < 1)
    t->n_cpus = 1;
  t->n_cpus = MIN (t->n_cpus, PRIMA_CPU_TOPOLOGY_MAX);

  /* cpu_capacity is the kernel's own scale (1024 for the biggest core); without it the highest
   * frequency per core stands in (a little core is also a lower-clocked one) */
  for (int c = 0; c < t->n_cpus; c++) {
    const long cap = read_long (root, c, "cpu_capacity");
    const long khz = read_long (root, c, "cpufreq/cpuinfo_max_freq");
    if (khz > 0)
      t->max_mhz = MAX (t->max_mhz, (int) (khz / 1000));
    if (cap > 0)
      have_capacity = TRUE;
    t->capacity[c] = cap > 0 ? (int) cap : 0;
  }
  for (int c = 0; c < t->n_cpus; c++) {
    if (!have_capacity) {
      /* the clock alone undersells a big core's wider pipeline: the in-order little cores
       * (A53, A55, A35, A510) count at half their clock next to other core types */
      const long khz = read_long (root, c, "cpufreq/cpuinfo_max_freq");
      const unsigned pt = part_of[c];
      const gboolean in_order = n_parts > 1 && (pt == 0xd03 || pt == 0xd04 || pt == 0xd05 || pt == 0xd46);
      t->capacity[c] = (khz > 0 ? (int) (khz / 1000) : 1000) / (in_order ? 2 : 1);
    } else if (t->capacity[c] == 0) {
      t->capacity[c] = 1024;
    }
  }
  int top = 0;
  for (int c = 0; c < t->n_cpus; c++)
    top = MAX (top, t->capacity[c]);
  for (int c = 0; c < t->n_cpus; c++) {
    gboolean seen = FALSE;
    for (int d = 0; d < c; d++)
      seen |= t->capacity[d] == t->capacity[c];
    t->n_clusters += !seen;
    /* 60 %: a Cortex-A55 is ~40 % of an A76; a phone's "prime" and "big" cores stay together */
    t->n_little += t->capacity[c] * 10 < top * 6;
  }
}

int
prima_cpu_topology_default_threads (const prima_cpu_topology *t, gboolean use_little)
{
  const int n = use_little ? t->n_cpus : t->n_cpus - t->n_little;
  return MAX (1, n);
}

int
prima_cpu_default_threads (void)
{
  static gsize once = 0;
  static int n;
  if (g_once_init_enter (&once)) {
    prima_cpu_topology t;
    const long online = sysconf (_SC_NPROCESSORS_ONLN);
    prima_cpu_topology_read (NULL, &t);
    n = prima_cpu_topology_default_threads (&t, g_strcmp0 (g_getenv ("PRIMA_LITTLE_CORES"), "1") == 0);
    /* /proc/cpuinfo lists the online CPUs; a tree we cannot read says 1: trust sysconf then */
    if (online > 0 && (t.n_cpus <= 1 || n > online))
      n = t.n_cpus <= 1 ? (int) online : MIN (n, (int) online);
    g_once_init_leave (&once, 1);
  }
  return MAX (1, n);
}
