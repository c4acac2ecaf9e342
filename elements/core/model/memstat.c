/* gst-prima: memory accounting: the device's memory (cgroup-aware), the
 * model's resident pages, memory pressure.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "memstat.h"
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

/* The values of keys (each followed by space or colon) in one read of a
 * key/value text file, times mult (meminfo is in kB); a key not found keeps
 * its value. Returns FALSE when the file cannot be read. */
static gboolean
file_keys (const char *path, const char *const *keys, guint n_keys, guint64 mult, guint64 *out)
{
  char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  for (char *line = text; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL) {
    for (guint k = 0; k < n_keys; k++) {
      size_t klen = strlen (keys[k]);
      if (strncmp (line, keys[k], klen) == 0 && (line[klen] == ' ' || line[klen] == ':')) {
        out[k] = g_ascii_strtoull (line + klen + 1 + strspn (line + klen + 1, " \t"), NULL, 10) * mult;
        break;
      }
    }
  }
  g_free (text);
  return TRUE;
}

/* A number file: "max" (v2) and v1's huge "unlimited" give G_MAXUINT64. */
static gboolean
file_number (const char *dir, const char *name, guint64 *out)
{
  char *path = g_build_filename (dir, name, NULL), *text = NULL;
  gboolean ok = g_file_get_contents (path, &text, NULL, NULL);
  g_free (path);
  if (!ok)
    return FALSE;
  g_strstrip (text);
  *out = strcmp (text, "max") == 0 ? G_MAXUINT64 : g_ascii_strtoull (text, NULL, 10);
  /* v1 reports "no limit" as LONG_MAX rounded down to a page */
  if (*out >= (G_MAXUINT64 >> 2))
    *out = G_MAXUINT64;
  g_free (text);
  return TRUE;
}

/* Mount point of the v1 memory hierarchy (want_v2 FALSE) or of cgroup2. */
static char *
cgroup_mount (gboolean want_v2)
{
  char *text = NULL, *found = NULL;
  if (!g_file_get_contents ("/proc/self/mountinfo", &text, NULL, NULL))
    return NULL;
  for (char *line = text; line && *line && !found; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL) {
    char *end = strchr (line, '\n');
    char *l = end ? g_strndup (line, end - line) : g_strdup (line);
    char **f = g_strsplit (l, " ", -1);
    guint n = g_strv_length (f);
    /* mountinfo: id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
    for (guint i = 6; i + 3 <= n; i++) {
      if (strcmp (f[i], "-") != 0)
        continue;
      if (want_v2 ? strcmp (f[i + 1], "cgroup2") == 0
          : (strcmp (f[i + 1], "cgroup") == 0 && strstr (f[i + 3], "memory") != NULL))
        found = g_strcompress (f[4]);
      break;
    }
    g_strfreev (f);
    g_free (l);
  }
  g_free (text);
  return found;
}

/* This process's path in the v1 memory hierarchy or in cgroup2. */
static char *
cgroup_path (gboolean want_v2)
{
  char *text = NULL, *found = NULL;
  if (!g_file_get_contents ("/proc/self/cgroup", &text, NULL, NULL))
    return NULL;
  for (char *line = text; line && *line && !found; line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL) {
    char *end = strchr (line, '\n');
    char *l = end ? g_strndup (line, end - line) : g_strdup (line);
    char **f = g_strsplit (l, ":", 3);
    if (g_strv_length (f) == 3) {
      if (want_v2 ? (strcmp (f[0], "0") == 0 && f[1][0] == '\0') : FALSE)
        found = g_strdup (f[2]);
      if (!want_v2) {
        char **ctl = g_strsplit (f[1], ",", -1);
        for (int i = 0; ctl[i]; i++)
          if (strcmp (ctl[i], "memory") == 0)
            found = g_strdup (f[2]);
        g_strfreev (ctl);
      }
    }
    g_strfreev (f);
    g_free (l);
  }
  g_free (text);
  return found;
}

/* The directories from this process's cgroup up to the root of the
 * hierarchy (v1 memory or cgroup2), found once: the memory is read at every
 * window's end, and mountinfo is long. A process is not expected to move to
 * another cgroup while it runs. */
static char **
cgroup_chain (gboolean v2)
{
  static char **chains[2];
  static gsize done[2];
  if (g_once_init_enter (&done[v2])) {
    char *mount = cgroup_mount (v2), *rel = cgroup_path (v2);
    GPtrArray *dirs = g_ptr_array_new ();
    if (mount && rel) {
      char *dir = g_build_filename (mount, rel, NULL);
      while (g_str_has_prefix (dir, mount)) {
        char *up;
        g_ptr_array_add (dirs, g_strdup (dir));
        if (strlen (dir) <= strlen (mount))
          break;
        up = g_path_get_dirname (dir);
        g_free (dir);
        dir = up;
      }
      g_free (dir);
    }
    g_ptr_array_add (dirs, NULL);
    chains[v2] = (char **) g_ptr_array_free (dirs, FALSE);
    g_free (mount);
    g_free (rel);
    g_once_init_leave (&done[v2], 1);
  }
  return chains[v2];
}

/* The directory with the tightest limit from this process's cgroup up to the
 * root of the hierarchy; NULL if none limits. */
static const char *
limiting_cgroup (gboolean v2, guint64 *limit)
{
  const char *best = NULL;
  guint64 best_limit = G_MAXUINT64;
  for (char **dir = cgroup_chain (v2); *dir; dir++) {
    guint64 lim;
    if (file_number (*dir, v2 ? "memory.max" : "memory.limit_in_bytes", &lim) && lim < best_limit) {
      best_limit = lim;
      best = *dir;
    }
  }
  *limit = best_limit;
  return best;
}

gboolean
prima_memstat_read (prima_memstat *out)
{
  static const char *const meminfo_keys[] = { "MemTotal", "MemFree", "MemAvailable", "Active(file)",
    "Inactive(file)", "AnonPages"
  };
  /* v2's memory.stat, then v1's (hierarchical totals) */
  static const char *const v2_keys[] = { "active_file", "inactive_file", "anon" };
  static const char *const v1_keys[] = { "total_active_file", "total_inactive_file", "total_active_anon",
    "total_inactive_anon"
  };
  guint64 mi[G_N_ELEMENTS (meminfo_keys)] = { 0, 0, G_MAXUINT64, 0, 0, 0 };
  guint64 mem_total, mem_avail = 0, limit;
  gboolean have_meminfo;

  memset (out, 0, sizeof *out);
  have_meminfo = file_keys ("/proc/meminfo", meminfo_keys, G_N_ELEMENTS (meminfo_keys), 1024, mi) && mi[0] > 0;
  mem_total = mi[0];
  if (have_meminfo) {
    mem_avail = mi[2] == G_MAXUINT64 ? mi[1] : mi[2];      /* kernels before 3.14 lack it */
    out->total = mem_total;
    out->used = mem_total - MIN (mi[1], mem_total);
    out->file = mi[3] + mi[4];
    out->anon = mi[5];
    out->available = mem_avail;
  }

  /* v2 first: where both are mounted, v1's memory controller may still be
   * the one in charge, so a limit is taken from wherever one is set. */
  for (int v = 2; v >= 1; v--) {
    guint64 usage = 0, st[4] = { 0, 0, 0, 0 }, cg_anon;
    const char *dir = limiting_cgroup (v == 2, &limit);
    char *stat;
    if (dir == NULL)
      continue;
    stat = g_build_filename (dir, "memory.stat", NULL);
    if (v == 2) {
      file_number (dir, "memory.current", &usage);
      file_keys (stat, v2_keys, G_N_ELEMENTS (v2_keys), 1, st);
      cg_anon = st[2];
    } else {
      file_number (dir, "memory.usage_in_bytes", &usage);
      file_keys (stat, v1_keys, G_N_ELEMENTS (v1_keys), 1, st);
      cg_anon = st[2] + st[3];
    }
    g_free (stat);
    if (have_meminfo && limit >= mem_total)
      continue;                 /* a limit above the machine's memory does not bind */
    out->cgroup_version = v;
    out->total = limit;
    out->used = MIN (usage, limit);
    out->file = MIN (st[0] + st[1], out->used);
    out->anon = cg_anon;
    {
      guint64 avail = limit - out->used + out->file;
      /* the machine may have less left than the cgroup allows */
      out->available = have_meminfo ? MIN (avail, mem_avail + out->file) : avail;
      out->available = MIN (out->available, limit);
    }
    return TRUE;
  }
  return have_meminfo;
}

guint64
prima_memstat_resident (const void *addr, size_t len)
{
  const size_t page = (size_t) sysconf (_SC_PAGESIZE);
  uintptr_t start = (uintptr_t) addr / page * page;
  size_t span = (size_t) ((uintptr_t) addr + len - start);
  size_t n_pages = (span + page - 1) / page;
  guint64 resident = 0;
  /* in slices, so a 40 GB mapping does not need a 10 MB vector */
  const size_t slice = 1 << 16;
  unsigned char *vec;

  if (len == 0)
    return 0;
  vec = g_malloc (MIN (n_pages, slice));
  for (size_t p = 0; p < n_pages; p += slice) {
    size_t n = MIN (slice, n_pages - p);
    if (mincore ((void *) (start + p * page), n * page, vec) != 0)
      break;
    for (size_t i = 0; i < n; i++)
      resident += vec[i] & 1;
  }
  g_free (vec);
  return resident * page;
}

guint64
prima_memstat_resident_ranges (const void *base, const GArray *ranges)
{
  guint64 total = 0;
  for (guint i = 0; ranges && i < ranges->len; i++) {
    const prima_byte_range *r = &g_array_index (ranges, prima_byte_range, i);
    total += prima_memstat_resident ((const uint8_t *) base + r->offset, r->length);
  }
  return total;
}

void
prima_memwatch_start (prima_memwatch *w)
{
  memset (w, 0, sizeof *w);
  prima_memstat_read (&w->start);
  w->last = w->start;
  w->min_available = w->start.available;
  w->max_file = w->start.file;
}

void
prima_memwatch_sample (prima_memwatch *w)
{
  if (!prima_memstat_read (&w->last))
    return;
  w->min_available = MIN (w->min_available, w->last.available);
  w->max_file = MAX (w->max_file, w->last.file);
  w->n_samples++;
}

double
prima_memwatch_pressure (const prima_memwatch *w)
{
  if (w->start.total == 0 || w->min_available >= w->start.available)
    return 0.0;
  return (double) (w->start.available - w->min_available) / (double) w->start.total;
}

static GMutex global_lock;
static prima_memwatch global_watch;
static gboolean global_started;
static gint64 global_last_us;

void
prima_memwatch_global_start (void)
{
  g_mutex_lock (&global_lock);
  prima_memwatch_start (&global_watch);
  global_started = TRUE;
  global_last_us = 0;
  g_mutex_unlock (&global_lock);
}

void
prima_memwatch_global_sample (void)
{
  gint64 now = g_get_monotonic_time ();
  g_mutex_lock (&global_lock);
  if (global_started && now - global_last_us >= PRIMA_MEMWATCH_INTERVAL_US) {
    prima_memwatch_sample (&global_watch);
    global_last_us = now;
  }
  g_mutex_unlock (&global_lock);
}

gboolean
prima_memwatch_global_get (prima_memwatch *out)
{
  gboolean started;
  g_mutex_lock (&global_lock);
  started = global_started;
  if (started)
    *out = global_watch;
  g_mutex_unlock (&global_lock);
  return started;
}
