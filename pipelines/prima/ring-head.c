/* gst-prima: the head of a pipelined ring for `prima run` (docs/design.md section 3).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#include "ring-head.h"
#include <glib/gi18n-lib.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "prima-platform.h"
#ifdef PRIMA_HAVE_LINUX_APIS
#include <sys/prctl.h>
#endif
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model.h"
#include "prima-pipeline.h"
#include "ring-auth.h"
#include "ring-setup.h"
#include "prima-events.h"

#define CMD(ro) ((ro)->command ? (ro)->command : "run")

gboolean
prima_ring_active (const PrimaRingOptions *ro)
{
  return ro->world > 1 || ro->local_ring > 1;
}

gboolean
prima_ring_check_options (const char *command, PrimaRingOptions *ro)
{
  if (ro->local_ring == PRIMA_RING_LOCAL_UNSET) {
    ro->local_ring = 0;
    return TRUE;
  }
  /* 1 is a ring of one: the head alone, as without the option */
  if (ro->local_ring < 1 || ro->local_ring > PRIMA_RING_LOCAL_MAX) {
    fprintf (stderr, _("prima %s: --local-ring %d: out of range (1 .. %d processes on this machine)\n"), command,
        ro->local_ring, PRIMA_RING_LOCAL_MAX);
    return FALSE;
  }
  return TRUE;
}

/* ---- who holds a port ---- */

static gboolean
port_bindable (int family, int port)
{
  int fd = socket (family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc;

  if (fd < 0)
    return TRUE;                /* no such address family: nobody holds it there */
  /* as GSocketListener binds: a connection in TIME_WAIT does not count */
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) {
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons (port), .sin6_addr = IN6ADDR_ANY_INIT };
    setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    rc = bind (fd, (struct sockaddr *) &a, sizeof a);
  } else {
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (port), .sin_addr.s_addr = htonl (INADDR_ANY) };
    rc = bind (fd, (struct sockaddr *) &a, sizeof a);
  }
  rc = rc != 0 && errno == EADDRINUSE;
  close (fd);
  return !rc;
}

/* The inodes of the sockets bound to `port` (listening ones first) from
 * /proc/net/tcp{,6}. */
static GArray *
port_inodes (int port)
{
  const char *tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
  GArray *listening = g_array_new (FALSE, FALSE, sizeof (guint64)), *other = g_array_new (FALSE, FALSE,
      sizeof (guint64));

  for (guint t = 0; t < G_N_ELEMENTS (tables); t++) {
    char *text = NULL;
    gchar **lines;
    if (!g_file_get_contents (tables[t], &text, NULL, NULL))
      continue;
    lines = g_strsplit (text, "\n", -1);
    /* "sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode ..." */
    for (guint i = 1; lines[i]; i++) {
      char local[80];
      unsigned int state;
      guint64 inode;
      const char *colon;
      if (sscanf (lines[i], "%*s %79s %*s %x %*s %*s %*s %*u %*u %" G_GUINT64_FORMAT, local, &state, &inode) != 3
          || inode == 0 || (colon = strrchr (local, ':')) == NULL || strtol (colon + 1, NULL, 16) != port)
        continue;
      g_array_append_val (state == 0x0A ? listening : other, inode);
    }
    g_strfreev (lines);
    g_free (text);
  }
  g_array_append_vals (listening, other->data, other->len);
  g_array_free (other, TRUE);
  return listening;
}

/* "NAME (pid P)" of a process of ours with one of the sockets open, or
 * NULL (another user's processes are not ours to read). */
static char *
socket_owner (GArray *inodes)
{
  DIR *proc = opendir ("/proc");
  struct dirent *de;
  char *owner = NULL;

  if (proc == NULL || inodes->len == 0) {
    if (proc)
      closedir (proc);
    return NULL;
  }
  while (owner == NULL && (de = readdir (proc)) != NULL) {
    char *fd_dir, *end;
    DIR *fds;
    struct dirent *fe;
    long pid = strtol (de->d_name, &end, 10);
    if (*end || pid <= 0)
      continue;
    fd_dir = g_strdup_printf ("/proc/%ld/fd", pid);
    fds = opendir (fd_dir);
    while (fds && owner == NULL && (fe = readdir (fds)) != NULL) {
      char *link = g_strdup_printf ("%s/%s", fd_dir, fe->d_name), target[64];
      ssize_t n = readlink (link, target, sizeof target - 1);
      guint64 inode;
      g_free (link);
      if (n <= 0)
        continue;
      target[n] = 0;
      if (sscanf (target, "socket:[%" G_GUINT64_FORMAT "]", &inode) != 1)
        continue;
      for (guint i = 0; i < inodes->len && owner == NULL; i++)
        if (g_array_index (inodes, guint64, i) == inode) {
          char *comm_path = g_strdup_printf ("/proc/%ld/comm", pid), *comm = NULL;
          if (g_file_get_contents (comm_path, &comm, NULL, NULL))
            g_strstrip (comm);
          char *cmdline_path = g_strdup_printf ("/proc/%ld/cmdline", pid), *cmdline = NULL;
          gsize len = 0;
          /* prima's command too: "prima run" is another head */
          if (comm && strcmp (comm, "prima") == 0 && g_file_get_contents (cmdline_path, &cmdline, &len, NULL)
              && strlen (cmdline) + 1 < len)
            owner = g_strdup_printf ("prima %s (pid %ld)", cmdline + strlen (cmdline) + 1, pid);
          else
            owner = g_strdup_printf ("%s (pid %ld)", comm && *comm ? comm : "a process", pid);
          g_free (cmdline);
          g_free (cmdline_path);
          g_free (comm);
          g_free (comm_path);
        }
    }
    if (fds)
      closedir (fds);
    g_free (fd_dir);
  }
  closedir (proc);
  return owner;
}

char *
prima_port_busy (int port)
{
  GArray *inodes;
  char *owner, *msg;

  if (port_bindable (AF_INET, port) && port_bindable (AF_INET6, port))
    return NULL;
  inodes = port_inodes (port);
  owner = socket_owner (inodes);
  g_array_free (inodes, TRUE);
  msg = owner ? g_strdup_printf ("in use by %s", owner) : g_strdup ("in use");
  g_free (owner);
  return msg;
}

/* ---- the local workers ----
 *
 * Their standard error comes through a pipe: a thread passes every line on
 * to ours, keeps each worker's last error line and reaps them. A worker that
 * fails while the setup round runs would leave the head waiting for it for
 * good (the setup has no way to hear of it), so the thread ends the head
 * then, with the worker's reason. */

typedef struct {
  GPid pid;
  int fd;                       /* its standard error; -1 at its end */
  GString *line;                /* the line being read */
  char *reason;                 /* its last "prima ..." line, without the "prima worker R: " */
  gboolean exited;
  int status;                   /* waitpid's */
  gboolean killed;              /* by us */
} LocalWorker;

typedef struct _PrimaRingWatch {
  const char *command;
  GMutex lock;
  LocalWorker *w;               /* [1 .. n] */
  int n;
  gint setup;                   /* the setup round runs: a failed worker ends the head */
  gint quit;
  GThread *thread;
} PrimaRingWatch;

static void
worker_line (LocalWorker *lw, int r)
{
  char *prefix = g_strdup_printf ("prima worker %d: ", r);
  const char *l = lw->line->str;

  fprintf (stderr, "%s\n", l);
  if (g_str_has_prefix (l, "prima ")) {
    g_free (lw->reason);
    lw->reason = g_strdup (g_str_has_prefix (l, prefix) ? l + strlen (prefix)
        : g_str_has_prefix (l, "prima worker: ") ? l + strlen ("prima worker: ") : l);
  }
  g_string_truncate (lw->line, 0);
  g_free (prefix);
}

/* Passes on what is there to read; at the end closes the pipe. */
static void
worker_read (PrimaRingWatch *wa, int r)
{
  LocalWorker *lw = &wa->w[r];
  char buf[4096];

  for (;;) {
    ssize_t n = read (lw->fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN)
      return;
    g_mutex_lock (&wa->lock);
    if (n <= 0) {
      if (lw->line->len)
        worker_line (lw, r);
      close (lw->fd);
      lw->fd = -1;
      g_mutex_unlock (&wa->lock);
      return;
    }
    for (ssize_t i = 0; i < n; i++)
      if (buf[i] == '\n')
        worker_line (lw, r);
      else
        g_string_append_c (lw->line, buf[i]);
    g_mutex_unlock (&wa->lock);
  }
}

static gboolean
worker_failed (const LocalWorker *lw)
{
  return lw->exited && !(WIFEXITED (lw->status) && WEXITSTATUS (lw->status) == 0);
}

/* "exited with status 1: REASON" */
static char *
worker_why (const LocalWorker *lw)
{
  char *how = WIFEXITED (lw->status) ? g_strdup_printf ("exited with status %d", WEXITSTATUS (lw->status))
      : g_strdup_printf ("was killed by signal %d (%s)", WTERMSIG (lw->status), g_strsignal (WTERMSIG (lw->status)));
  /* a worker that exits on its own says why last; a signal interrupts
   * whatever it was saying */
  char *why = lw->reason && WIFEXITED (lw->status) ? g_strdup_printf ("%s: %s", how, lw->reason) : g_strdup (how);
  g_free (how);
  return why;
}

static gboolean
worker_reap (PrimaRingWatch *wa, int r, gboolean block)
{
  LocalWorker *lw = &wa->w[r];
  int status = 0;
  pid_t got;

  if (lw->exited)
    return TRUE;
  while ((got = waitpid (lw->pid, &status, block ? 0 : WNOHANG)) < 0 && errno == EINTR);
  if (got == 0)
    return FALSE;
  /* what it wrote before it exited is all in the pipe */
  if (lw->fd >= 0)
    worker_read (wa, r);
  g_mutex_lock (&wa->lock);
  lw->exited = TRUE;
  lw->status = got < 0 ? 0 : status;
  g_mutex_unlock (&wa->lock);
  return TRUE;
}

/* A worker failed during the setup round: the head cannot go on. */
static void G_GNUC_NORETURN
watch_end_head (PrimaRingWatch *wa, int failed)
{
  char *why = worker_why (&wa->w[failed]);
  gint64 end;

  fprintf (stderr, _("prima %s: local worker %d %s\n"), wa->command, failed, why);
  g_free (why);
  for (int r = 1; r <= wa->n; r++)
    if (!wa->w[r].exited)
      kill (wa->w[r].pid, SIGTERM);
  end = g_get_monotonic_time () + G_USEC_PER_SEC;
  for (int r = 1; r <= wa->n; r++) {
    while (!worker_reap (wa, r, FALSE) && g_get_monotonic_time () < end)
      g_usleep (10 * 1000);
    if (!wa->w[r].exited) {
      kill (wa->w[r].pid, SIGKILL);
      worker_reap (wa, r, TRUE);
    }
  }
  fflush (stderr);
  /* the main thread is inside the setup round; nothing of it needs undoing.
   * Ctrl-C reaches the workers too: then the head was interrupted as well */
  _exit (WIFSIGNALED (wa->w[failed].status) && WTERMSIG (wa->w[failed].status) == SIGINT ? 130 : 1);
}

static gpointer
watch_main (gpointer data)
{
  PrimaRingWatch *wa = data;
  struct pollfd *pfd = g_new0 (struct pollfd, wa->n + 1);
  int *which = g_new0 (int, wa->n + 1);

  while (!g_atomic_int_get (&wa->quit)) {
    int n = 0;
    for (int r = 1; r <= wa->n; r++)
      if (wa->w[r].fd >= 0) {
        pfd[n].fd = wa->w[r].fd;
        pfd[n].events = POLLIN;
        pfd[n].revents = 0;
        which[n++] = r;
      }
    if (n > 0)
      poll (pfd, n, 100);
    else
      g_usleep (100 * 1000);
    for (int i = 0; i < n; i++)
      if (pfd[i].revents)
        worker_read (wa, which[i]);
    for (int r = 1; r <= wa->n; r++)
      if (worker_reap (wa, r, FALSE) && worker_failed (&wa->w[r]) && g_atomic_int_get (&wa->setup))
        watch_end_head (wa, r);
  }
  g_free (pfd);
  g_free (which);
  return NULL;
}

/* In a local worker before it runs: a process group of its own, so that
 * Ctrl-C in the terminal reaches only the head, which stops the ring in
 * order (and in chat only ends the answer); and SIGTERM when the head dies
 * without stopping it, so no worker waits for a head that is gone. */
static void
local_worker_setup (gpointer data)
{
  const pid_t head = GPOINTER_TO_INT (data);
  setpgid (0, 0);
#ifdef PRIMA_HAVE_LINUX_APIS
  prctl (PR_SET_PDEATHSIG, SIGTERM);
#endif
  if (getppid () != head)
    raise (SIGTERM);
}

static gboolean
spawn_workers (PrimaRingOptions *ro, const char *model, const char *key, int n_ctx, int n_threads)
{
  char *self_exe = prima_program_path ();
  gchar **envp = g_environ_setenv (g_get_environ (), PRIMA_CLUSTER_KEY_ENV, key, TRUE);
  PrimaRingWatch *wa = g_new0 (PrimaRingWatch, 1);
  gboolean ok = TRUE;

  wa->command = CMD (ro);
  g_mutex_init (&wa->lock);
  wa->w = g_new0 (LocalWorker, ro->world);
  wa->setup = TRUE;
  ro->watch = wa;
  for (int r = 1; r < ro->world && ok; r++) {
    GError *err = NULL;
    char *world = g_strdup_printf ("%d", ro->world), *rank = g_strdup_printf ("%d", r);
    char *port = g_strdup_printf ("%d", ro->port), *ctx = g_strdup_printf ("%d", n_ctx);
    char *threads = g_strdup_printf ("%d", n_threads);
    char *argv[] = { self_exe, (char *) "worker", (char *) "--world", world,
      (char *) "--rank", rank, (char *) "--master", (char *) "127.0.0.1", (char *) "--next", (char *) "127.0.0.1",
      (char *) "--port", port, (char *) "-m", (char *) model, (char *) "-c", ctx, (char *) "-t", threads,
      /* they belong to this head: they exit with it */
      (char *) "--once", NULL };
    int fd = -1;
    ok = g_spawn_async_with_pipes (NULL, argv, envp, G_SPAWN_DO_NOT_REAP_CHILD, local_worker_setup,
        GINT_TO_POINTER (getpid ()), &wa->w[r].pid, NULL, NULL, &fd, &err);
    g_free (world);
    g_free (rank);
    g_free (port);
    g_free (ctx);
    g_free (threads);
    if (!ok) {
      fprintf (stderr, _("prima %s: cannot start local worker %d: %s\n"), CMD (ro), r, err->message);
      g_error_free (err);
      break;
    }
    fcntl (fd, F_SETFD, FD_CLOEXEC);
    fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK);
    wa->w[r].fd = fd;
    wa->w[r].line = g_string_new (NULL);
    wa->n = ro->n_workers = r;
  }
  g_strfreev (envp);
  g_free (self_exe);
  wa->thread = g_thread_new ("prima-workers", watch_main, wa);
  return ok;
}

/* ---- the scheduler element's plan, for people ---- */

typedef struct {
  PrimaRingOptions *ro;
  GstElement *scheduler;        /* not owned: the pipeline holds it */
  char *prefix;
} PlanWatch;

static void
plan_watch_free (gpointer data, GClosure *closure)
{
  PlanWatch *w = data;
  g_free (w->prefix);
  g_free (w);
}

/* In the thread that runs the setup round, as its plan comes (before the
 * ring's elements start): the plan block, as the head printed it before
 * there was a scheduler element. From then on (or when the round failed)
 * the head's own error paths stop the local workers. */
static void
on_plan_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  PlanWatch *w = data;
  PrimaPlanInfo info;

  if (prima_message_parse_plan (msg, &info)) {
    prima_ring_print_plan (w->prefix, (int) info.devices, (int) info.world, (int) info.rounds, (int) info.n_layer,
        info.windows, info.predicted_tpot);
    w->ro->world = (int) info.world;
    w->ro->predicted_s = info.predicted_tpot;
    prima_plan_info_clear (&info);
    if (w->ro->watch)
      g_atomic_int_set (&w->ro->watch->setup, FALSE);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && GST_MESSAGE_SRC (msg) == GST_OBJECT (w->scheduler)
      && w->ro->watch) {
    g_atomic_int_set (&w->ro->watch->setup, FALSE);
  }
}

/* The description has primascheduler (ring-head.pipeline): it runs the
 * setup round when the pipeline starts and hands the plan to the ring's
 * elements; here it only gets the flags. */
static void
configure_scheduler (PrimaRingOptions *ro, GstElement *pipeline, GstElement *scheduler, const char *prefix,
    const char *model_path, int n_ctx, int n_threads, const char *key)
{
  PlanWatch *w = g_new0 (PlanWatch, 1);
  GstBus *bus = gst_element_get_bus (pipeline);

  /* the round's lines start with "prima run" as before */
  if (g_get_application_name () == NULL || g_strcmp0 (g_get_application_name (), g_get_prgname ()) == 0)
    g_set_application_name (prefix);
  g_object_set (scheduler, "world", (guint) ro->world, "port", (guint) ro->port, "next",
      ro->next ? ro->next : "127.0.0.1", "layer-window", ro->lw, "rounds", (guint) MAX (ro->k, 0), "context-size",
      (guint) n_ctx, "ring-timeout", (guint) MAX (ro->ring_timeout_s, 0), "model", model_path, "threads",
      (guint) MAX (n_threads, 0), "positions", (guint) MAX (ro->decode_positions, 0), NULL);
  /* the round's messages name our flags (--ring-timeout), not the element's properties */
  gst_util_set_object_arg (G_OBJECT (scheduler), "setting-names", "prima-flags");
  if (key)
    g_object_set (scheduler, "cluster-key", key, NULL);
  else if (ro->cluster_key_file)
    g_object_set (scheduler, "cluster-key-file", ro->cluster_key_file, NULL);
  w->ro = ro;
  w->scheduler = scheduler;
  w->prefix = g_strdup (prefix);
  /* a signal, not the sync handler: the loading progress has that */
  gst_bus_enable_sync_message_emission (bus);
  g_signal_connect_data (bus, "sync-message", G_CALLBACK (on_plan_message), w, plan_watch_free, 0);
  gst_object_unref (bus);
}

gboolean
prima_ring_head_setup (PrimaRingOptions *ro, GstElement *pipeline, const char *model_path, int n_ctx,
    int n_threads)
{
  GError *err = NULL;
  prima_model *model;
  char **windows = NULL, *key = NULL;
  int k = 0, n_layer, n_ctx_train;
  prima_cluster_key *ck;
  char prefix[64];
  GstElement *scheduler;

  g_snprintf (prefix, sizeof prefix, "prima %s", CMD (ro));
  if (ro->local_ring > 1)
    ro->world = ro->local_ring;
  if (ro->rank != 0) {
    fprintf (stderr, _("prima %s: runs the head (--rank 0); start the other ranks with `prima worker`\n"), CMD (ro));
    return FALSE;
  }
  if (ro->port <= 0)
    ro->port = PRIMA_RING_DEFAULT_PORT;
  model = prima_model_load (model_path, &err);
  if (model == NULL) {
    fprintf (stderr, _("prima %s: %s\n"), CMD (ro), err->message);
    g_error_free (err);
    return FALSE;
  }
  n_layer = model->hp.n_layer;
  n_ctx_train = model->hp.n_ctx_train;
  prima_model_free (model);
  /* every process of a local ring needs a layer: more would only wait */
  if (ro->local_ring > n_layer) {
    fprintf (stderr, ngettext ("prima %s: --local-ring %d: %s has %d layer, and each process needs one: use at most "
            "--local-ring %d, or a model with more layers (-m)\n", "prima %s: --local-ring %d: %s has %d layers, and "
            "each process needs one: use at most --local-ring %d, or a model with more layers (-m)\n", n_layer),
        CMD (ro), ro->local_ring, model_path, n_layer, MIN (n_layer, PRIMA_RING_LOCAL_MAX));
    return FALSE;
  }
  if (ro->port + ro->world - 1 > 65535) {
    fprintf (stderr, _("prima %s: --port %d: the ring's ports BASE .. BASE+%d must be at most 65535\n"), CMD (ro),
        ro->port, ro->world - 1);
    return FALSE;
  }
  /* Ports taken by someone else: say so here, by whom where the system
   * knows. A worker on a taken port would fail, and the head would meet
   * whatever listens there (another ring: "failed to prove the cluster key"). */
  for (int r = 0; r < (ro->local_ring > 1 ? ro->world : 1); r++) {
    char *busy = prima_port_busy (ro->port + r);
    if (busy && r == 0 && (strstr (busy, "by prima run ") || strstr (busy, "by prima eval "))) {
      fprintf (stderr, _("prima %s: cannot listen on port %d (--port %d + rank %d): %s, another head on this "
          "machine: one head at a time per ring (another ring needs another --port)\n"), CMD (ro), ro->port + r,
          ro->port, r, busy);
      g_free (busy);
      return FALSE;
    }
    if (busy) {
      fprintf (stderr, _("prima %s: cannot listen on port %d (--port %d + rank %d%s): %s; choose another --port\n"),
          CMD (ro), ro->port + r, ro->port, r, r ? ", a local worker" : "", busy);
      g_free (busy);
      return FALSE;
    }
  }
  /* -lw is checked before any worker starts; the setup round deals it again */
  if (ro->lw && !prima_ring_deal (prefix, n_layer, ro->world, ro->lw, ro->k, &windows, &k))
    return FALSE;
  g_clear_pointer (&windows, g_strfreev);
  if (n_ctx <= 0 || n_ctx > n_ctx_train)
    n_ctx = MIN (n_ctx_train, 4096);

  if (ro->local_ring > 1) {
    key = prima_cluster_key_generate_hex ();
    if (!spawn_workers (ro, model_path, key, n_ctx, n_threads)) {
      g_free (key);
      return FALSE;
    }
  }
  /* The setup round (scheduler/ring-setup.h): without -lw every device profiles
   * itself and the head solves with Halda; devices without layers leave.
   * The descriptions' primascheduler runs it when the pipeline starts and
   * hands the plan to the ring's elements; here it gets the flags. */
  /* the key is checked here, with the flags' own message */
  ck = prima_cluster_key_resolve (key ? key : ro->cluster_key, ro->cluster_key_file, &err);
  if (ck == NULL) {
    fprintf (stderr, _("prima %s: %s\n"), CMD (ro), err->message);
    g_error_free (err);
    g_free (key);
    return FALSE;
  }
  prima_cluster_key_unref (ck);
  scheduler = gst_bin_get_by_name (GST_BIN (pipeline), "scheduler");
  if (scheduler == NULL) {
    fprintf (stderr, _("prima %s: the pipeline description has no primascheduler named \"scheduler\"\n"), CMD (ro));
    g_free (key);
    return FALSE;
  }
  configure_scheduler (ro, pipeline, scheduler, prefix, model_path, n_ctx, n_threads, key ? key : ro->cluster_key);
  gst_object_unref (scheduler);
  if (key)
    memset (key, 0, strlen (key));
  g_free (key);
  return TRUE;
}

gboolean
prima_ring_head_finish (PrimaRingOptions *ro, gboolean kill_now)
{
  PrimaRingWatch *wa = ro->watch;
  gboolean ok = TRUE;
  gint64 end;

  if (wa == NULL)
    return TRUE;
  g_atomic_int_set (&wa->setup, FALSE);
  /* the watch thread reaps them; on time, or stopped */
  end = g_get_monotonic_time () + (kill_now ? 0 : 3 * G_USEC_PER_SEC);
  for (int pass = 0; pass < 3; pass++) {
    for (int r = 1; r <= wa->n; r++) {
      gboolean exited;
      for (;;) {
        g_mutex_lock (&wa->lock);
        exited = wa->w[r].exited;
        g_mutex_unlock (&wa->lock);
        if (exited || g_get_monotonic_time () >= end)
          break;
        g_usleep (10 * 1000);
      }
      if (!exited && pass < 2) {
        kill (wa->w[r].pid, pass == 0 ? SIGTERM : SIGKILL);
        wa->w[r].killed = TRUE;
      }
    }
    end = g_get_monotonic_time () + (pass == 0 ? 200 * 1000 : 5 * G_USEC_PER_SEC);
  }
  g_atomic_int_set (&wa->quit, TRUE);
  g_thread_join (wa->thread);
  for (int r = 1; r <= wa->n; r++) {
    LocalWorker *lw = &wa->w[r];
    if (!lw->exited)
      worker_reap (wa, r, TRUE);
    if (lw->killed || worker_failed (lw))
      ok = FALSE;
    /* its reason, unless we stopped it */
    if (worker_failed (lw) && !lw->killed) {
      char *why = worker_why (lw);
      fprintf (stderr, _("prima %s: local worker %d %s\n"), wa->command, r, why);
      g_free (why);
    }
    if (lw->fd >= 0)
      close (lw->fd);
    if (lw->line)
      g_string_free (lw->line, TRUE);
    g_free (lw->reason);
    g_spawn_close_pid (lw->pid);
  }
  g_mutex_clear (&wa->lock);
  g_free (wa->w);
  g_free (wa);
  ro->watch = NULL;
  ro->n_workers = 0;
  return ok;
}
