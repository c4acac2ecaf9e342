/* gst-prima: primascheduler, the ring's control plane on the head.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */

/**
 * SECTION:element-primascheduler
 * @title: primascheduler
 * @see_also: primaringhead, primawssink, primawssrc
 *
 * The control plane of a ring on its head (docs/ring.md, "The scheduler
 * element"). The element has no pads: it sits in the head's pipeline
 * beside the ring's head element (primaringhead) and its primawssink and
 * primawssrc, and before any of them opens a port or reads its settings (on
 * NULL to READY) it runs the ring's setup round (scheduler/ring-setup.h) as rank 0 of
 * #GstPrimaScheduler:world devices, with `prima worker` on each of the
 * others:
 *
 * - without #GstPrimaScheduler:layer-window and #GstPrimaScheduler:profiles,
 *   every device profiles itself in turn and sends its profile over the
 *   ring's control channel; the head solves Halda's integer program (GLPK);
 * - with #GstPrimaScheduler:profiles, Halda solves over saved profiles;
 * - with #GstPrimaScheduler:layer-window ("a,b,c": layers per device and
 *   cycle, in rank order, as `prima run -lw`), the layers are dealt as given.
 *
 * The plan goes round the ring to every worker; devices the plan gives no
 * layer leave and the ring closes over the others. The element then posts
 * the `prima-plan` element message (prima_message_parse_plan(): per rank
 * windows and memory case, rounds per token, the predicted time per token)
 * and hands the plan over by setting properties of its siblings, found by
 * name in its parent bin (#GstPrimaScheduler:layers,
 * #GstPrimaScheduler:ring-sink, #GstPrimaScheduler:ring-src): `windows` of
 * the head element (named `layers`); `url`, `plan`, `world`, `rank`,
 * `peer-rank` of the ring sink; `port`, `rank`, `peer-rank` of the ring source; and the cluster key
 * of both when one is set here. Only those public properties are used, so
 * any element that has them can be driven.
 *
 * Those three must not start before the round (the ring source listens on
 * the port the round uses, the ring sink needs its address): a bin starts
 * the sinks first and an element without pads last. So the scheduler locks
 * their state (gst_element_set_locked_state()) as they are added to its bin
 * and, once they have the plan, unlocks them and brings them to READY with
 * itself. A sibling that started anyway (named after it was added) goes back
 * to NULL while the round runs and returns to its state after.
 *
 * With #GstPrimaScheduler:recover (the default, since 0.3) the ring survives
 * the loss of a device: the element sets `loss-action=notify` on the ring
 * sink and source and, when either reports a lost device (`peer-lost`, the
 * first report only), suspends the head (`prima-ring-suspend`), stops the
 * ring sink and source, runs a recovery round over the devices left
 * (scheduler/ring-setup.h: the lost device absent, the last round's
 * addresses and profiles, the same layer window), hands the new plan to
 * the three siblings as before, starts the sink and source again and
 * resumes the head (`prima-ring-resume`: it sends the tokens its cache held
 * round the new ring and goes on). Then it posts the element message
 * `prima-ring-recovered` (prima_message_parse_ring_recovered(): the lost
 * device's rank and address, the tokens of the answer before the loss, the
 * devices and windows of the new ring, the seconds from the loss to the ring
 * back: every device joined, the head's tokens on their way round); `prima
 * run` prints one line from it. A recovery that fails (the devices left
 * cannot hold the model, a device does not come back) is an element error
 * naming the loss and the reason. A device that fails on its own and says
 * why (NaN weights, out of memory) is no loss: its reason is the ring
 * sink's or source's error, as before.
 *
 * The round blocks the state change; #GstPrimaScheduler:ring-timeout bounds
 * the wait for devices that do not answer. A failed round is an element
 * error and fails the state change. The round says what it does on
 * standard error, each line starting with the application's name where the
 * application set one (g_set_application_name(): `prima run` does), else
 * "primascheduler". Its messages name the settings to fix by this element's
 * property names (`ring-timeout`), or by `prima`'s flags (`--ring-timeout`)
 * with #GstPrimaScheduler:setting-names=prima-flags, as `prima run` sets it.
 *
 * ## Example launch line
 * |[
 * export PRIMA_CLUSTER_KEY=$(openssl rand -hex 32)
 * prima worker --once --world 3 --rank 1 --port 9000 -m tests/data/stories260K-f32.gguf &
 * prima worker --once --world 3 --rank 2 --port 9000 -m tests/data/stories260K-f32.gguf &
 * echo 'Once upon a time' | gst-launch-1.0 -q primascheduler world=3 port=9000 \
 *   fdsrc fd=0 ! primatokenizer model=tests/data/stories260K-f32.gguf \
 *   ! primaloop model=tests/data/stories260K-f32.gguf n-predict=32 \
 *   ! primaringhead name=layers model=tests/data/stories260K-f32.gguf \
 *   ! primasampler temperature=0 ! tee name=t \
 *   t. ! primadetokenizer model=tests/data/stories260K-f32.gguf ! primafdsink fd=1 \
 *   t. ! primafeedback \
 *   layers.ring_src ! primawssink name=ring-out primawssrc name=ring-in ! layers.ring_sink
 * ]| an auto-scheduled ring of three devices on this machine (`--once`: the
 * workers end with this head; without it they wait for the next one).
 *
 * Since: 0.2
 */

#include "gstprimascheduler.h"
#include "prima-events.h"

#include <string.h>
#include <glib/gi18n-lib.h>

#include "model.h"
#include "prima-shared-model.h"
#include "ring-auth.h"
#include "ring-setup.h"

GST_DEBUG_CATEGORY_STATIC (gst_prima_scheduler_debug);
#define GST_CAT_DEFAULT gst_prima_scheduler_debug

#define DEFAULT_WORLD 2
#define DEFAULT_PORT 9000
#define DEFAULT_NEXT "127.0.0.1"
#define DEFAULT_ROUNDS 0
#define DEFAULT_EVEN FALSE
#define DEFAULT_CONTEXT_SIZE 0
#define DEFAULT_RING_TIMEOUT 120
#define DEFAULT_SETTING_NAMES PRIMA_SETTING_NAMES_PROPERTIES
#define DEFAULT_THREADS 0
#define DEFAULT_LAYERS "layers"
#define DEFAULT_RING_SINK "ring-out"
#define DEFAULT_RING_SRC "ring-in"
#define DEFAULT_RECOVER TRUE

enum
{
  PROP_0,
  PROP_WORLD,
  PROP_PORT,
  PROP_NEXT,
  PROP_DEVICES,
  PROP_PROFILES,
  PROP_LAYER_WINDOW,
  PROP_ROUNDS,
  PROP_EVEN,
  PROP_CONTEXT_SIZE,
  PROP_CLUSTER_KEY,
  PROP_CLUSTER_KEY_FILE,
  PROP_RING_TIMEOUT,
  PROP_MODEL,
  PROP_THREADS,
  PROP_LAYERS,
  PROP_RING_SINK,
  PROP_RING_SRC,
  PROP_PLAN,
  PROP_POSITIONS,
  PROP_SETTING_NAMES,
  PROP_RECOVER,
};

/* The properties, as they are when the round starts. */
typedef struct {
  guint world, port, rounds, timeout, threads, positions;
  GstPrimaSettingNames names;
  gboolean even;
  gchar *next, *devices, *profiles, *lw, *key_text, *key_file, *layers, *sink, *src;
} Settings;

/* A device lost, as the ring's elements reported it. */
typedef struct {
  gint lost;                    /* its rank in the data ring (-1: unknown) */
  gchar *message;
  guint tokens;                 /* of the answer, before the loss */
  gint64 time;                  /* monotonic, when reported */
} Loss;

struct _GstPrimaScheduler
{
  GstElement parent;

  /* properties (object lock) */
  guint world;
  guint port;
  gchar *next;
  gchar *devices;
  gchar *profiles;
  gchar *layer_window;
  guint rounds;
  gboolean even;
  guint context_size;
  gchar *cluster_key;
  gchar *cluster_key_file;
  guint ring_timeout;
  GstPrimaSettingNames setting_names;
  gchar *model;
  guint threads;
  guint positions;
  gchar *layers;
  gchar *ring_sink;
  gchar *ring_src;
  gchar *plan;                  /* the last round's plan (read-only) */

  gboolean recover;

  GstBin *bin;                  /* the parent we watch for the ring's elements (a weak pointer: it holds us) */
  gulong added_id;
  GList *locked;                /* siblings whose state we locked (owned refs) */

  /* recovery (recover): from the first round's hand-over to READY to NULL.
   * The round's inputs and its last result are the recovery thread's. */
  Settings st;
  gchar *model_path;
  gint n_ctx;
  prima_cluster_key *key;
  gchar **device_list;
  PrimaRingSetup cur;           /* the last round's result */
  gboolean *absent;             /* cur.setup_world entries: devices lost so far */
  GstElement *layers_el, *sink_el, *src_el;     /* owned refs */
  gulong sink_lost_id, src_lost_id;
  GThread *thread;
  GMutex rec_lock;              /* the rest */
  GCond rec_cond;
  gboolean armed;               /* the ring's elements run with the plan: a loss is news */
  gboolean recovering;          /* a loss is being handled: later reports of it are not */
  gboolean loss_pending;
  Loss loss;
  guint generation;             /* losses so far */
  gboolean stopping;
};

#define gst_prima_scheduler_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstPrimaScheduler, gst_prima_scheduler, GST_TYPE_ELEMENT,
    GST_DEBUG_CATEGORY_INIT (gst_prima_scheduler_debug, "primascheduler", 0, "prima ring scheduler"));
GST_ELEMENT_REGISTER_DEFINE (primascheduler, "primascheduler", GST_RANK_NONE, GST_TYPE_PRIMA_SCHEDULER);

GType
gst_prima_setting_names_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {PRIMA_SETTING_NAMES_PROPERTIES, "This element's property names (ring-timeout)", "properties"},
    {PRIMA_SETTING_NAMES_PRIMA_FLAGS, "prima's flags (--ring-timeout), for prima run", "prima-flags"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstPrimaSettingNames", values));
  return type;
}

/* ---- handing the plan over ---- */

/* Sets one property of a sibling when it has it; FALSE (with an element
 * error) when it has not and the property is needed. */
static gboolean
set_on (GstPrimaScheduler * self, GstElement * target, const gchar * name, const GValue * value, gboolean needed)
{
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (target), name) == NULL) {
    if (needed)
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (_("Element \"%s\" has no property \"%s\" to take the plan."),
              GST_OBJECT_NAME (target), name), (NULL));
    return !needed;
  }
  g_object_set_property (G_OBJECT (target), name, value);
  return TRUE;
}

static gboolean
set_string (GstPrimaScheduler * self, GstElement * target, const gchar * name, const gchar * value,
    gboolean needed)
{
  GValue v = G_VALUE_INIT;
  gboolean ok;

  g_value_init (&v, G_TYPE_STRING);
  g_value_set_string (&v, value);
  ok = set_on (self, target, name, &v, needed);
  g_value_unset (&v);
  return ok;
}

/* Numbers go through the target's own type (uint or int). */
static gboolean
set_number (GstPrimaScheduler * self, GstElement * target, const gchar * name, gint value)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (target), name);
  GValue v = G_VALUE_INIT, in = G_VALUE_INIT;
  gboolean ok;

  if (pspec == NULL)
    return set_on (self, target, name, NULL, TRUE);
  g_value_init (&in, G_TYPE_INT);
  g_value_set_int (&in, value);
  g_value_init (&v, G_PARAM_SPEC_VALUE_TYPE (pspec));
  ok = g_value_transform (&in, &v) && set_on (self, target, name, &v, TRUE);
  g_value_unset (&v);
  return ok;
}

static GstElement *
find_sibling (GstPrimaScheduler * self, const gchar * name)
{
  GstObject *parent = gst_object_get_parent (GST_OBJECT (self));
  GstElement *e = NULL;

  if (parent && GST_IS_BIN (parent) && name && *name)
    e = gst_bin_get_by_name (GST_BIN (parent), name);
  if (parent)
    gst_object_unref (parent);
  if (e == NULL)
    GST_ELEMENT_ERROR (self, CORE, FAILED, (_("The scheduler found no element named \"%s\" beside it."),
            name ? name : ""), (NULL));
  return e;
}

/* ---- holding the ring's elements back ---- */

static gboolean
is_target (GstPrimaScheduler * self, GstElement * element)
{
  const gchar *name = GST_OBJECT_NAME (element);
  gboolean hit;

  GST_OBJECT_LOCK (self);
  hit = (self->layers && g_strcmp0 (name, self->layers) == 0) || (self->ring_sink
      && g_strcmp0 (name, self->ring_sink) == 0) || (self->ring_src && g_strcmp0 (name, self->ring_src) == 0);
  GST_OBJECT_UNLOCK (self);
  return hit;
}

static void
hold_back (GstPrimaScheduler * self, GstElement * element)
{
  if (element == GST_ELEMENT (self) || !is_target (self, element) || g_list_find (self->locked, element)
      || GST_STATE (element) != GST_STATE_NULL)
    return;
  GST_DEBUG_OBJECT (self, "holding %s back until the plan is there", GST_OBJECT_NAME (element));
  gst_element_set_locked_state (element, TRUE);
  self->locked = g_list_prepend (self->locked, gst_object_ref (element));
}

/* The bin has let go of its lock when it says an element was added: look
 * at all of them (those added before us too). */
static void
on_element_added (GstBin * bin, GstElement * element, GstPrimaScheduler * self)
{
  GstIterator *it = gst_bin_iterate_elements (bin);
  GValue v = G_VALUE_INIT;

  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    hold_back (self, g_value_get_object (&v));
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
}

static void
release_all (GstPrimaScheduler * self, gboolean unlock)
{
  for (GList * l = self->locked; l; l = l->next) {
    if (unlock)
      gst_element_set_locked_state (l->data, FALSE);
    gst_object_unref (l->data);
  }
  g_clear_pointer (&self->locked, g_list_free);
}

/* A bin gives its children its bus right after it adopts them, and takes
 * it back when it lets them go: the one hook an element has on being
 * added. The bin holds its lock here, so its children are looked at when
 * it says the element was added. */
static void
gst_prima_scheduler_set_bus (GstElement * element, GstBus * bus)
{
  GstPrimaScheduler *self = GST_PRIMA_SCHEDULER (element);
  GstObject *parent = gst_object_get_parent (GST_OBJECT (self));

  GST_ELEMENT_CLASS (parent_class)->set_bus (element, bus);
  if (self->bin && (bus == NULL || parent != GST_OBJECT_CAST (self->bin))) {
    g_signal_handler_disconnect (self->bin, self->added_id);
    g_object_remove_weak_pointer (G_OBJECT (self->bin), (gpointer *) & self->bin);
    self->bin = NULL;
    release_all (self, TRUE);
  }
  if (bus && self->bin == NULL && parent && GST_IS_BIN (parent)) {
    self->bin = GST_BIN (parent);
    g_object_add_weak_pointer (G_OBJECT (self->bin), (gpointer *) & self->bin);
    self->added_id = g_signal_connect (parent, "element-added", G_CALLBACK (on_element_added), self);
  }
  if (parent)
    gst_object_unref (parent);
}

/* ---- the setup round ---- */

typedef struct {
  GstElement *layers, *sink, *src;
  GstState state[3];            /* theirs before the round */
} Siblings;

/* Started siblings go back to NULL: the round listens on the ring source's
 * port and the others must read the plan when they start. */
static gboolean
siblings_stop (GstPrimaScheduler * self, Siblings * sib)
{
  GstElement *e[3] = { sib->layers, sib->sink, sib->src };

  for (int i = 0; i < 3; i++) {
    sib->state[i] = GST_STATE (e[i]);
    if (sib->state[i] > GST_STATE_NULL && gst_element_set_state (e[i], GST_STATE_NULL) == GST_STATE_CHANGE_FAILURE)
      return FALSE;
  }
  return TRUE;
}

/* Those we held back start with us (READY), the others return to where
 * they were. */
static gboolean
siblings_restore (GstPrimaScheduler * self, Siblings * sib)
{
  GstElement *e[3] = { sib->layers, sib->sink, sib->src };

  for (int i = 0; i < 3; i++) {
    GstState to = sib->state[i];
    GList *held = g_list_find (self->locked, e[i]);
    if (held) {
      gst_element_set_locked_state (e[i], FALSE);
      gst_object_unref (e[i]);
      self->locked = g_list_delete_link (self->locked, held);
      to = MAX (to, GST_STATE_READY);
    }
    if (to > GST_STATE_NULL && gst_element_set_state (e[i], to) == GST_STATE_CHANGE_FAILURE)
      return FALSE;
  }
  return TRUE;
}

/* The model the layers element's chain names, where the pipeline names it
 * once (on primatokenizer, say): the "prima.model" context query the
 * elements answer, sent upstream from the layers element's sink. */
static gchar *
chain_model (GstElement * layers)
{
  GstPad *pad = gst_element_get_static_pad (layers, "sink");
  GstQuery *query;
  GstContext *context = NULL;
  PrimaSharedModel *model = NULL;
  gchar *path = NULL;

  if (pad == NULL)
    return NULL;
  query = gst_query_new_context (PRIMA_MODEL_CONTEXT_TYPE);
  if (gst_pad_peer_query (pad, query)) {
    gst_query_parse_context (query, &context);
    if (context && prima_model_context_parse (context, &model)) {
      path = g_strdup (prima_shared_model_get_path (model));
      prima_shared_model_unref (model);
    }
  }
  gst_query_unref (query);
  gst_object_unref (pad);
  return path;
}

static gchar *
model_of (GstPrimaScheduler * self, GstElement * layers)
{
  gchar *model = NULL;

  GST_OBJECT_LOCK (self);
  model = g_strdup (self->model);
  GST_OBJECT_UNLOCK (self);
  if ((model == NULL || *model == '\0') && g_object_class_find_property (G_OBJECT_GET_CLASS (layers), "model")) {
    g_free (model);
    g_object_get (layers, "model", &model, NULL);
  }
  if (model == NULL || *model == '\0') {
    g_free (model);
    model = chain_model (layers);
  }
  return model;
}

/* The context of the plan: ours, the layers element's, or the model's
 * (at most 4096, as `prima run` without -c). */
static gint
context_of (GstPrimaScheduler * self, GstElement * layers, const gchar * model_path, GError ** err)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (layers), "context-size");
  prima_model *model;
  gint n_ctx;

  GST_OBJECT_LOCK (self);
  n_ctx = (gint) self->context_size;
  GST_OBJECT_UNLOCK (self);
  if (n_ctx <= 0 && pspec && G_PARAM_SPEC_VALUE_TYPE (pspec) == G_TYPE_UINT) {
    guint c = 0;
    g_object_get (layers, "context-size", &c, NULL);
    n_ctx = (gint) MIN (c, (guint) G_MAXINT);
  }
  model = prima_model_load (model_path, err);
  if (model == NULL)
    return -1;
  if (n_ctx <= 0 || n_ctx > model->hp.n_ctx_train)
    n_ctx = MIN (model->hp.n_ctx_train, 4096);
  prima_model_free (model);
  return n_ctx;
}

static gboolean
hand_over (GstPrimaScheduler * self, Siblings * sib, const PrimaRingSetup * setup, const gchar * key,
    const gchar * key_file, guint port)
{
  gboolean ok = set_string (self, sib->layers, "windows", setup->windows[0], TRUE)
      && set_string (self, sib->sink, "url", setup->next_url, TRUE)
      && set_string (self, sib->sink, "plan", setup->plan_json, TRUE)
      && set_number (self, sib->sink, "world", setup->world)
      && set_number (self, sib->sink, "rank", 0)
      && set_number (self, sib->sink, "peer-rank", 1 % setup->world)
      && set_number (self, sib->src, "port", (gint) port)
      && set_number (self, sib->src, "rank", 0)
      && set_number (self, sib->src, "peer-rank", setup->world - 1);

  /* a key given here goes to both ends; else they resolve it themselves
   * (their own properties or PRIMA_CLUSTER_KEY) */
  if (ok && key && *key)
    ok = set_string (self, sib->sink, "cluster-key", key, TRUE) && set_string (self, sib->src, "cluster-key", key,
        TRUE);
  else if (ok && key_file && *key_file)
    ok = set_string (self, sib->sink, "cluster-key-file", key_file, TRUE)
        && set_string (self, sib->src, "cluster-key-file", key_file, TRUE);
  return ok;
}

static void
settings_read (GstPrimaScheduler * self, Settings * st)
{
  GST_OBJECT_LOCK (self);
  st->world = self->world;
  st->port = self->port;
  st->rounds = self->rounds;
  st->timeout = self->ring_timeout;
  st->names = self->setting_names;
  st->threads = self->threads;
  st->positions = self->positions;
  st->even = self->even;
  st->next = g_strdup (self->next);
  st->devices = g_strdup (self->devices);
  st->profiles = g_strdup (self->profiles);
  st->lw = g_strdup (self->layer_window);
  st->key_text = g_strdup (self->cluster_key);
  st->key_file = g_strdup (self->cluster_key_file);
  st->layers = g_strdup (self->layers);
  st->sink = g_strdup (self->ring_sink);
  st->src = g_strdup (self->ring_src);
  GST_OBJECT_UNLOCK (self);
}

static void
settings_clear (Settings * st)
{
  if (st->key_text)
    memset (st->key_text, 0, strlen (st->key_text));
  g_free (st->key_text);
  g_free (st->key_file);
  g_free (st->next);
  g_free (st->devices);
  g_free (st->profiles);
  g_free (st->lw);
  g_free (st->layers);
  g_free (st->sink);
  g_free (st->src);
}

/* The plan as the `plan` property and the prima-plan message: before the
 * ring's elements start with it, so an application that renders the plan
 * shows it before the first token. */
static void
post_plan (GstPrimaScheduler * self, const PrimaRingSetup * setup, guint devices)
{
  PrimaPlanInfo info = { 0 };

  info.devices = devices;
  info.world = (guint) setup->world;
  info.rounds = (guint) setup->k;
  info.n_layer = (guint) setup->n_layer;
  info.context_size = (guint) setup->n_ctx;
  info.predicted_tpot = setup->predicted_s;
  info.windows = setup->windows;
  info.cases = setup->cases;
  info.plan = setup->plan_json;
  GST_INFO_OBJECT (self, "plan: %s", setup->plan_json);
  GST_OBJECT_LOCK (self);
  g_free (self->plan);
  self->plan = g_strdup (setup->plan_json);
  GST_OBJECT_UNLOCK (self);
  g_object_notify (G_OBJECT (self), "plan");
  gst_element_post_message (GST_ELEMENT (self), prima_message_new_plan (GST_OBJECT (self), &info));
}

/* The model, the context, the ports and the key, checked before the round. */
static gboolean
check_settings (GstPrimaScheduler * self, const Settings * st, Siblings * sib, gchar ** model, gint * n_ctx,
    prima_cluster_key ** key)
{
  GError *err = NULL;

  *model = model_of (self, sib->layers);
  if (*model == NULL || **model == '\0') {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, (_("No model was given (set \"model\" here or on \"%s\")."),
            st->layers), (NULL));
    return FALSE;
  }
  if ((*n_ctx = context_of (self, sib->layers, *model, &err)) < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, (_("Could not open the model: %s"), err->message), (NULL));
    g_error_free (err);
    return FALSE;
  }
  if (st->port + st->world - 1 > 65535) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("The ring's ports %u .. %u do not fit under 65536."),
            st->port, st->port + st->world - 1), (NULL));
    return FALSE;
  }
  *key = prima_cluster_key_resolve (st->key_text, st->key_file, &err);
  if (*key == NULL) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, (_("No usable cluster key: %s"), err->message), (NULL));
    g_error_free (err);
    return FALSE;
  }
  return TRUE;
}

static const PrimaRingSetupNames property_names = {
  .world = "world", .port = "port", .ring_timeout = "ring-timeout", .layer_window = "layer-window",
  .rounds = "rounds", .model = "model",
};

/* The round's arguments from the settings (borrowed). */
static void
fill_args (PrimaRingSetupArgs * args, const Settings * st, prima_cluster_key * key, const gchar * model, gint n_ctx,
    gchar ** device_list)
{
  const gchar *app = g_get_application_name ();

  args->command = "scheduler";
  args->prefix = app && g_strcmp0 (app, g_get_prgname ()) != 0 ? app : "primascheduler";
  args->world = (int) st->world;
  args->rank = 0;
  args->port = (int) st->port;
  args->next_host = st->next;
  args->key = key;
  args->model_path = model;
  args->n_ctx = n_ctx;
  args->n_threads = (int) st->threads;
  args->lw = st->lw && *st->lw ? st->lw : NULL;
  args->k = (int) st->rounds;
  args->even = st->even;
  args->profiles_path = st->profiles && *st->profiles ? st->profiles : NULL;
  args->devices = (const char *const *) device_list;
  args->decode_positions = (int) MIN (st->positions, (guint) G_MAXINT / 2);
  args->timeout_s = (int) st->timeout;
  /* the round's messages name what the user set: this element's properties from a gst-launch
   * line, prima's flags (the round's default) under `prima run` */
  args->names = st->names == PRIMA_SETTING_NAMES_PROPERTIES ? &property_names : NULL;
}

static void recovery_start (GstPrimaScheduler * self, Settings * st, gchar * model, gint n_ctx,
    prima_cluster_key * key, gchar ** device_list, PrimaRingSetup * setup, Siblings * sib);

static gboolean
gst_prima_scheduler_run (GstPrimaScheduler * self)
{
  PrimaRingSetupArgs args = { 0 };
  PrimaRingSetup setup = { 0 };
  Siblings sib = { 0 };
  Settings st = { 0 };
  prima_cluster_key *key = NULL;
  gchar *model = NULL, **device_list = NULL;
  gboolean ok = FALSE, recover;
  gint n_ctx = 0;

  settings_read (self, &st);
  GST_OBJECT_LOCK (self);
  recover = self->recover;
  GST_OBJECT_UNLOCK (self);
  if (!(sib.layers = find_sibling (self, st.layers)) || !(sib.sink = find_sibling (self, st.sink))
      || !(sib.src = find_sibling (self, st.src)) || !check_settings (self, &st, &sib, &model, &n_ctx, &key))
    goto out;
  if (!siblings_stop (self, &sib)) {
    GST_ELEMENT_ERROR (self, CORE, STATE_CHANGE, (_("Could not stop the ring's elements for the setup round.")),
        (NULL));
    goto out;
  }
  if (st.devices && *st.devices)
    device_list = g_strsplit_set (st.devices, ", ", -1);
  fill_args (&args, &st, key, model, n_ctx, device_list);
  GST_INFO_OBJECT (self, "setup round: %u devices, port %u, next %s, %s", st.world, st.port, st.next,
      args.lw ? "fixed layer window" : args.profiles_path ? "saved profiles" : "profiling every device");
  if (!prima_ring_setup_run (&args, &setup)) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, (_("The ring's setup round failed: %s"), setup.error), (NULL));
    goto out;
  }
  post_plan (self, &setup, st.world);
  if (!hand_over (self, &sib, &setup, st.key_text, st.key_file, st.port))
    goto out;
  /* before they start: a loss is the scheduler's to handle; a device that
   * goes before the data ring joins is one */
  if (recover) {
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (sib.sink), "join-timeout"))
      g_object_set (sib.sink, "join-timeout", st.timeout, NULL);
    recovery_start (self, &st, g_steal_pointer (&model), n_ctx, g_steal_pointer (&key),
        g_steal_pointer (&device_list), &setup, &sib);
  }
  if (!siblings_restore (self, &sib)) {
    GST_ELEMENT_ERROR (self, CORE, STATE_CHANGE, (_("The ring's elements did not start after the setup round.")),
        (NULL));
    goto out;
  }
  ok = TRUE;
out:
  prima_ring_setup_clear (&setup);
  if (key)
    prima_cluster_key_unref (key);
  g_strfreev (device_list);
  g_clear_object (&sib.layers);
  g_clear_object (&sib.sink);
  g_clear_object (&sib.src);
  g_free (model);
  settings_clear (&st);
  return ok;
}

/* ---- recovery: the ring rebuilt over the devices left ---- */

/* On the thread that found the loss (a link's, or a streaming thread):
 * the head holds back at once, before the element that reports it fails a
 * push; the recovery thread does the rest. */
/* To the head's sink pad where it has one: gst_element_send_event() would
 * wait for the head's state lock, which a resume in progress holds while
 * it waits for the ring that is failing. */
static gboolean
send_to_head (GstPrimaScheduler * self, GstEvent * event)
{
  GstPad *pad = gst_element_get_static_pad (self->layers_el, "sink");
  gboolean ok;

  if (pad == NULL)
    return gst_element_send_event (self->layers_el, event);
  ok = gst_pad_send_event (pad, event);
  gst_object_unref (pad);
  return ok;
}

static void
on_peer_lost (GstElement * element, gint lost, const gchar * message, GstPrimaScheduler * self)
{
  gint64 now = g_get_monotonic_time ();
  guint tokens = 0;

  g_mutex_lock (&self->rec_lock);
  if (!self->armed || self->recovering || self->stopping) {
    g_mutex_unlock (&self->rec_lock);
    GST_DEBUG_OBJECT (self, "%s: %s (not news)", GST_OBJECT_NAME (element), message);
    return;
  }
  self->recovering = TRUE;
  g_mutex_unlock (&self->rec_lock);
  GST_WARNING_OBJECT (self, "%s reports rank %d lost: %s", GST_OBJECT_NAME (element), lost, message);
  send_to_head (self, prima_event_new_ring_suspend ());
  /* a resume in progress may be pushing into the ring sink, which waits for
   * a device that is gone: let it go (the sink is stopped and started
   * again for the next ring) */
  if (element != self->sink_el) {
    GstPad *pad = gst_element_get_static_pad (self->sink_el, "sink");
    if (pad) {
      gst_pad_send_event (pad, gst_event_new_flush_start ());
      gst_object_unref (pad);
    }
  }
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (self->layers_el), "answer-tokens"))
    g_object_get (self->layers_el, "answer-tokens", &tokens, NULL);
  g_mutex_lock (&self->rec_lock);
  g_free (self->loss.message);
  self->loss.lost = lost;
  self->loss.message = g_strdup (message);
  self->loss.tokens = tokens;
  self->loss.time = now;
  self->loss_pending = TRUE;
  self->generation++;
  g_cond_broadcast (&self->rec_cond);
  g_mutex_unlock (&self->rec_lock);
}

/* One loss: stop the ring's ends, a recovery round without the lost
 * device, the new plan handed over, the ends started again, the head
 * resumed (its tokens sent round the new ring), then the message. FALSE when the
 * ring could not be rebuilt (an element error says why). */
static gboolean
recover_once (GstPrimaScheduler * self, const Loss * loss)
{
  PrimaRingSetupArgs args = { 0 };
  PrimaRingSetup next = { 0 };
  Siblings sib = { self->layers_el, self->sink_el, self->src_el };
  PrimaRecoveredInfo info = { 0 };
  gchar *address = NULL;
  gint setup_rank = -1;
  guint generation;
  gboolean done, ok = FALSE;

  if (loss->lost > 0 && loss->lost < self->cur.world)
    setup_rank = self->cur.setup_rank ? self->cur.setup_rank[loss->lost] : loss->lost;
  /* a copy: the round's result gives way to the next one */
  address = g_strdup (setup_rank > 0 && self->cur.addresses
      && (guint) setup_rank < g_strv_length (self->cur.addresses) ? self->cur.addresses[setup_rank] : "");
  if (setup_rank <= 0 || setup_rank >= (gint) self->st.world) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("The ring failed and cannot be rebuilt: %s"), loss->message),
        ("data rank %d at fault", loss->lost));
    goto out;
  }
  GST_INFO_OBJECT (self, "device %d at %s lost after token %u (%s): rebuilding the ring", setup_rank, address,
      loss->tokens, loss->message);

  /* the head holds back meanwhile; its ends give the ports to the round */
  gst_element_set_state (self->sink_el, GST_STATE_NULL);
  gst_element_set_state (self->src_el, GST_STATE_NULL);
  self->absent[setup_rank] = TRUE;
  fill_args (&args, &self->st, self->key, self->model_path, self->n_ctx, self->device_list);
  args.absent = self->absent;
  args.addresses = self->cur.addresses;
  args.profiles_json = self->cur.profiles_json;
  if (args.profiles_json)
    args.profiles_path = NULL;
  if (!prima_ring_setup_run (&args, &next)) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, (_("device %d at %s lost after token %u; the ring could not be "
                "rebuilt: %s"), setup_rank, *address ? address : "?", loss->tokens, next.error ? next.error : "?"),
        ("%s", loss->message));
    prima_ring_setup_clear (&next);
    goto out;
  }
  prima_ring_setup_clear (&self->cur);
  self->cur = next;
  GST_OBJECT_LOCK (self);
  g_free (self->plan);
  self->plan = g_strdup (self->cur.plan_json);
  GST_OBJECT_UNLOCK (self);
  g_object_notify (G_OBJECT (self), "plan");
  if (!hand_over (self, &sib, &self->cur, self->st.key_text, self->st.key_file, self->st.port))
    goto out;

  /* from here a loss is news again: the ends report a new one */
  g_mutex_lock (&self->rec_lock);
  self->recovering = FALSE;
  generation = self->generation;
  g_mutex_unlock (&self->rec_lock);
  if (!gst_element_sync_state_with_parent (self->src_el) || !gst_element_sync_state_with_parent (self->sink_el)) {
    GST_ELEMENT_ERROR (self, CORE, STATE_CHANGE, (_("The ring's elements did not start after the recovery "
                "round.")), (NULL));
    goto out;
  }
  /* the head sends what its cache held round the new ring, then goes on */
  if (!send_to_head (self, prima_event_new_ring_resume ()))
    goto out;

  /* the ring is back: every device joined and the head's tokens are on
   * their way round it (unless another loss came meanwhile) */
  g_mutex_lock (&self->rec_lock);
  done = !self->stopping && self->generation == generation;
  g_mutex_unlock (&self->rec_lock);
  if (!done) {
    ok = TRUE;
    goto out;
  }
  info.lost_rank = setup_rank;
  info.lost_address = address;
  info.tokens = loss->tokens;
  info.devices = (guint) self->cur.world;
  info.seconds = (g_get_monotonic_time () - loss->time) / (gdouble) G_USEC_PER_SEC;
  info.windows = self->cur.windows;
  GST_INFO_OBJECT (self, "the ring is back over %u devices after %.3f s", info.devices, info.seconds);
  gst_element_post_message (GST_ELEMENT (self), prima_message_new_ring_recovered (GST_OBJECT (self), &info));
  ok = TRUE;
out:
  g_free (address);
  return ok;
}

static gpointer
recovery_main (gpointer data)
{
  GstPrimaScheduler *self = data;

  for (;;) {
    Loss loss;
    gboolean ok;

    g_mutex_lock (&self->rec_lock);
    while (!self->loss_pending && !self->stopping)
      g_cond_wait (&self->rec_cond, &self->rec_lock);
    if (self->stopping) {
      g_mutex_unlock (&self->rec_lock);
      break;
    }
    loss = self->loss;
    self->loss.message = NULL;
    self->loss_pending = FALSE;
    g_mutex_unlock (&self->rec_lock);
    ok = recover_once (self, &loss);
    g_free (loss.message);
    if (!ok)
      break;
  }
  return NULL;
}

/* After the first round's hand-over: the round's inputs and result are
 * kept (taken), the ring's ends report losses instead of failing. */
static void
recovery_start (GstPrimaScheduler * self, Settings * st, gchar * model, gint n_ctx, prima_cluster_key * key,
    gchar ** device_list, PrimaRingSetup * setup, Siblings * sib)
{
  self->st = *st;
  memset (st, 0, sizeof *st);
  self->model_path = model;
  self->n_ctx = n_ctx;
  self->key = key;
  self->device_list = device_list;
  self->cur = *setup;
  memset (setup, 0, sizeof *setup);
  self->absent = g_new0 (gboolean, MAX (self->st.world, 1));
  self->layers_el = gst_object_ref (sib->layers);
  self->sink_el = gst_object_ref (sib->sink);
  self->src_el = gst_object_ref (sib->src);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (self->sink_el), "loss-action")) {
    gst_util_set_object_arg (G_OBJECT (self->sink_el), "loss-action", "notify");
    self->sink_lost_id = g_signal_connect (self->sink_el, "peer-lost", G_CALLBACK (on_peer_lost), self);
  }
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (self->src_el), "loss-action")) {
    gst_util_set_object_arg (G_OBJECT (self->src_el), "loss-action", "notify");
    self->src_lost_id = g_signal_connect (self->src_el, "peer-lost", G_CALLBACK (on_peer_lost), self);
  }
  g_mutex_lock (&self->rec_lock);
  self->stopping = FALSE;
  self->recovering = FALSE;
  self->loss_pending = FALSE;
  self->armed = TRUE;
  g_mutex_unlock (&self->rec_lock);
  self->thread = g_thread_new ("prima-recovery", recovery_main, self);
}

/* READY to NULL: the thread ends (after a recovery in progress), the
 * siblings are as the user left them. */
static void
recovery_stop (GstPrimaScheduler * self)
{
  g_mutex_lock (&self->rec_lock);
  self->armed = FALSE;
  self->stopping = TRUE;
  g_cond_broadcast (&self->rec_cond);
  g_mutex_unlock (&self->rec_lock);
  if (self->thread)
    g_thread_join (g_steal_pointer (&self->thread));
  if (self->sink_lost_id)
    g_signal_handler_disconnect (self->sink_el, self->sink_lost_id);
  if (self->src_lost_id)
    g_signal_handler_disconnect (self->src_el, self->src_lost_id);
  self->sink_lost_id = self->src_lost_id = 0;
  g_clear_object (&self->layers_el);
  g_clear_object (&self->sink_el);
  g_clear_object (&self->src_el);
  prima_ring_setup_clear (&self->cur);
  memset (&self->cur, 0, sizeof self->cur);
  g_clear_pointer (&self->absent, g_free);
  g_clear_pointer (&self->device_list, g_strfreev);
  g_clear_pointer (&self->model_path, g_free);
  if (self->key)
    prima_cluster_key_unref (g_steal_pointer (&self->key));
  settings_clear (&self->st);
  memset (&self->st, 0, sizeof self->st);
  g_clear_pointer (&self->loss.message, g_free);
}

static GstStateChangeReturn
gst_prima_scheduler_change_state (GstElement * element, GstStateChange transition)
{
  GstPrimaScheduler *self = GST_PRIMA_SCHEDULER (element);

  /* NULL to READY, not READY to PAUSED: the ring source opens its port and
   * the ring sink (a GstBaseSink) starts on NULL to READY; the three are
   * held back until here (see hold_back) */
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY && !gst_prima_scheduler_run (self)) {
    recovery_stop (self);
    return GST_STATE_CHANGE_FAILURE;
  }
  /* the application stops the pipeline: a lost device is no news now */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    g_mutex_lock (&self->rec_lock);
    self->armed = FALSE;
    g_mutex_unlock (&self->rec_lock);
  }
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    recovery_stop (self);
  return ret;
}

/* ---- properties ---- */

static void
gst_prima_scheduler_set_property (GObject * object, guint prop_id, const GValue * value, GParamSpec * pspec)
{
  GstPrimaScheduler *self = GST_PRIMA_SCHEDULER (object);
  gchar **str = NULL;

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WORLD:
      self->world = g_value_get_uint (value);
      break;
    case PROP_PORT:
      self->port = g_value_get_uint (value);
      break;
    case PROP_ROUNDS:
      self->rounds = g_value_get_uint (value);
      break;
    case PROP_EVEN:
      self->even = g_value_get_boolean (value);
      break;
    case PROP_CONTEXT_SIZE:
      self->context_size = g_value_get_uint (value);
      break;
    case PROP_RING_TIMEOUT:
      self->ring_timeout = g_value_get_uint (value);
      break;
    case PROP_SETTING_NAMES:
      self->setting_names = g_value_get_enum (value);
      break;
    case PROP_RECOVER:
      self->recover = g_value_get_boolean (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_uint (value);
      break;
    case PROP_POSITIONS:
      self->positions = g_value_get_uint (value);
      break;
    case PROP_NEXT:
      str = &self->next;
      break;
    case PROP_DEVICES:
      str = &self->devices;
      break;
    case PROP_PROFILES:
      str = &self->profiles;
      break;
    case PROP_LAYER_WINDOW:
      str = &self->layer_window;
      break;
    case PROP_CLUSTER_KEY:
      str = &self->cluster_key;
      break;
    case PROP_CLUSTER_KEY_FILE:
      str = &self->cluster_key_file;
      break;
    case PROP_MODEL:
      str = &self->model;
      break;
    case PROP_LAYERS:
      str = &self->layers;
      break;
    case PROP_RING_SINK:
      str = &self->ring_sink;
      break;
    case PROP_RING_SRC:
      str = &self->ring_src;
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  if (str) {
    if (*str && str == &self->cluster_key)
      memset (*str, 0, strlen (*str));
    g_free (*str);
    *str = g_value_dup_string (value);
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_scheduler_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstPrimaScheduler *self = GST_PRIMA_SCHEDULER (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WORLD:
      g_value_set_uint (value, self->world);
      break;
    case PROP_PORT:
      g_value_set_uint (value, self->port);
      break;
    case PROP_ROUNDS:
      g_value_set_uint (value, self->rounds);
      break;
    case PROP_EVEN:
      g_value_set_boolean (value, self->even);
      break;
    case PROP_CONTEXT_SIZE:
      g_value_set_uint (value, self->context_size);
      break;
    case PROP_RING_TIMEOUT:
      g_value_set_uint (value, self->ring_timeout);
      break;
    case PROP_SETTING_NAMES:
      g_value_set_enum (value, self->setting_names);
      break;
    case PROP_RECOVER:
      g_value_set_boolean (value, self->recover);
      break;
    case PROP_THREADS:
      g_value_set_uint (value, self->threads);
      break;
    case PROP_POSITIONS:
      g_value_set_uint (value, self->positions);
      break;
    case PROP_NEXT:
      g_value_set_string (value, self->next);
      break;
    case PROP_DEVICES:
      g_value_set_string (value, self->devices);
      break;
    case PROP_PROFILES:
      g_value_set_string (value, self->profiles);
      break;
    case PROP_LAYER_WINDOW:
      g_value_set_string (value, self->layer_window);
      break;
    case PROP_CLUSTER_KEY:
      /* a secret: not read back */
      g_value_set_string (value, NULL);
      break;
    case PROP_CLUSTER_KEY_FILE:
      g_value_set_string (value, self->cluster_key_file);
      break;
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_LAYERS:
      g_value_set_string (value, self->layers);
      break;
    case PROP_RING_SINK:
      g_value_set_string (value, self->ring_sink);
      break;
    case PROP_RING_SRC:
      g_value_set_string (value, self->ring_src);
      break;
    case PROP_PLAN:
      g_value_set_string (value, self->plan);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_prima_scheduler_finalize (GObject * object)
{
  GstPrimaScheduler *self = GST_PRIMA_SCHEDULER (object);

  if (self->cluster_key)
    memset (self->cluster_key, 0, strlen (self->cluster_key));
  g_free (self->cluster_key);
  g_free (self->cluster_key_file);
  g_free (self->next);
  g_free (self->devices);
  g_free (self->profiles);
  g_free (self->layer_window);
  g_free (self->model);
  g_free (self->layers);
  g_free (self->ring_sink);
  g_free (self->ring_src);
  g_free (self->plan);
  if (self->bin) {
    g_signal_handler_disconnect (self->bin, self->added_id);
    g_object_remove_weak_pointer (G_OBJECT (self->bin), (gpointer *) & self->bin);
  }
  release_all (self, TRUE);
  recovery_stop (self);
  g_mutex_clear (&self->rec_lock);
  g_cond_clear (&self->rec_cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

static void
gst_prima_scheduler_class_init (GstPrimaSchedulerClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_prima_scheduler_set_property;
  gobject_class->get_property = gst_prima_scheduler_get_property;
  gobject_class->finalize = gst_prima_scheduler_finalize;

  /**
   * GstPrimaScheduler:world:
   *
   * Devices in the ring, this head included (`prima run --world`).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_WORLD,
      g_param_spec_uint ("world", "World", "Devices in the ring, this head (rank 0) included", 1, 255,
          DEFAULT_WORLD, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:port:
   *
   * The ring's base port: rank r listens on port + r (`--port`).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_PORT,
      g_param_spec_uint ("port", "Port", "Base port of the ring: rank r listens on port + r", 1, 65535,
          DEFAULT_PORT, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:next:
   *
   * The address (host) of rank 1 (`--next`).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_NEXT,
      g_param_spec_string ("next", "Next", "Address (host) of rank 1", DEFAULT_NEXT, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:devices:
   *
   * Optional: the addresses of the devices in rank order ("host" or
   * "host:port", separated by commas). With #GstPrimaScheduler:profiles
   * they let the ring close around a device the plan leaves out (in a
   * profiling round every device reports its next address itself).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_DEVICES,
      g_param_spec_string ("devices", "Devices", "Addresses of the devices in rank order (host[:port],...), "
          "to route around dropped devices", NULL, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:profiles:
   *
   * A file of saved device profiles (a JSON array in rank order, as `prima
   * profile` writes them and `prima plan --profiles` reads them): Halda
   * solves over them and the devices are not profiled.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_PROFILES,
      g_param_spec_string ("profiles", "Profiles", "Saved device profiles (JSON array, rank order) to solve "
          "over instead of profiling", NULL, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:layer-window:
   *
   * A fixed plan: layers per device and cycle in rank order ("2,2,1", as
   * `prima run -lw`); no profiles, no solve.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_LAYER_WINDOW,
      g_param_spec_string ("layer-window", "Layer window", "Fixed layers per device and cycle in rank order "
          "(a,b,c); unset: Halda plans", NULL, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:rounds:
   *
   * Rounds per token (`-k`); 0 lets the plan choose.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_ROUNDS,
      g_param_spec_uint ("rounds", "Rounds", "Rounds of the ring per token (0: the plan chooses)", 0, 4096,
          DEFAULT_ROUNDS, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:even:
   *
   * Only plans whose cycle divides the layers (prima.cpp's rule), no
   * uneven last round.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_EVEN,
      g_param_spec_boolean ("even", "Even", "Only plans whose cycle divides the layers evenly", DEFAULT_EVEN,
          PARAM_FLAGS));
  /**
   * GstPrimaScheduler:context-size:
   *
   * The context the plan is made for (every device sizes its KV cache by
   * it); 0 takes the layers element's, else the model's (at most 4096).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_CONTEXT_SIZE,
      g_param_spec_uint ("context-size", "Context size", "Context of the plan (0: the layers element's or "
          "the model's, at most 4096)", 0, G_MAXINT, DEFAULT_CONTEXT_SIZE, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:cluster-key:
   *
   * The ring's shared secret (hex); unset: #GstPrimaScheduler:cluster-key-file
   * or the environment variable PRIMA_CLUSTER_KEY. Given here, it goes to
   * the ring sink and source too. Not readable.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_CLUSTER_KEY,
      g_param_spec_string ("cluster-key", "Cluster key", "Shared secret of the ring (hex; default: "
          "$PRIMA_CLUSTER_KEY)", NULL, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:cluster-key-file:
   *
   * A file that holds the cluster key.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_CLUSTER_KEY_FILE,
      g_param_spec_string ("cluster-key-file", "Cluster key file", "File holding the ring's shared secret",
          NULL, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:ring-timeout:
   *
   * Seconds to wait for devices that do not join or answer in the setup
   * round before failing (`--ring-timeout`); 0 waits for ever.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_RING_TIMEOUT,
      g_param_spec_uint ("ring-timeout", "Ring timeout", "Seconds to wait for a device in the setup round "
          "(0: for ever)", 0, G_MAXINT, DEFAULT_RING_TIMEOUT, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:model:
   *
   * The GGUF model; unset: the layers element's `model`, else the one its
   * chain names (the "prima.model" context, as the other elements find it).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model", "GGUF model (default: the layers element's, else the one its chain names)", NULL, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:threads:
   *
   * Threads this device's profile is measured with (0: every core).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_uint ("threads", "Threads", "Threads to profile this device with (0: every core)", 0, 1024,
          DEFAULT_THREADS, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:positions:
   *
   * For the predicted time per token: the cached positions a decoded token
   * attends to on average (about the prompt and half the tokens to
   * generate); 0: half the context.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_POSITIONS,
      g_param_spec_uint ("positions", "Positions", "Cached positions a decoded token attends to on average, "
          "for the prediction (0: half the context)", 0, G_MAXINT, 0, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:layers:
   *
   * The name of the element that takes this device's layer windows (its
   * `windows` property).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_LAYERS,
      g_param_spec_string ("layers", "Layers", "Name of the element that takes the head's windows",
          DEFAULT_LAYERS, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:ring-sink:
   *
   * The name of the ring's sink (it takes `url`, `plan`, `world`, `rank`,
   * `peer-rank`).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_RING_SINK,
      g_param_spec_string ("ring-sink", "Ring sink", "Name of the element that sends to rank 1 and takes "
          "the plan", DEFAULT_RING_SINK, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:ring-src:
   *
   * The name of the ring's source (it takes `port`, `rank`, `peer-rank`).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_RING_SRC,
      g_param_spec_string ("ring-src", "Ring source", "Name of the element that receives from the last rank",
          DEFAULT_RING_SRC, PARAM_FLAGS));
  /**
   * GstPrimaScheduler:plan:
   *
   * The plan of the last setup round (JSON, docs/wire-protocol.md).
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_PLAN,
      g_param_spec_string ("plan", "Plan", "Plan of the last setup round (JSON)", NULL,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  /**
   * GstPrimaScheduler:setting-names:
   *
   * How the setup round's messages name the settings to fix ("rank 1 did
   * not join within 2 s (ring-timeout)"): this element's properties, or
   * `prima`'s flags when `prima run` fills the pipeline from its command line.
   *
   * Since: 0.2
   */
  g_object_class_install_property (gobject_class, PROP_SETTING_NAMES,
      g_param_spec_enum ("setting-names", "Setting names", "How the setup round's messages name the "
          "settings: the properties, or prima's flags", GST_TYPE_PRIMA_SETTING_NAMES, DEFAULT_SETTING_NAMES,
          PARAM_FLAGS));
  gst_type_mark_as_plugin_api (GST_TYPE_PRIMA_SETTING_NAMES, 0);
  /**
   * GstPrimaScheduler:recover:
   *
   * Survive the loss of a device: the ring sink and source report it
   * (`loss-action=notify`) instead of failing, and the element rebuilds the
   * ring over the devices left and resumes the head (see above). FALSE: a
   * lost device is an element error of the ring sink or source, as before.
   *
   * Since: 0.3
   */
  g_object_class_install_property (gobject_class, PROP_RECOVER,
      g_param_spec_boolean ("recover", "Recover", "Rebuild the ring over the devices left when one is lost",
          DEFAULT_RECOVER, PARAM_FLAGS));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_prima_scheduler_change_state);
  element_class->set_bus = GST_DEBUG_FUNCPTR (gst_prima_scheduler_set_bus);
  gst_element_class_set_static_metadata (element_class, "Prima ring scheduler", "Generic",
      "Runs the ring's setup round on the head: device profiles, the Halda plan (GLPK), the plan handed to "
      "the ring's elements", "gst-prima authors");
}

static void
gst_prima_scheduler_init (GstPrimaScheduler * self)
{
  self->world = DEFAULT_WORLD;
  self->port = DEFAULT_PORT;
  self->next = g_strdup (DEFAULT_NEXT);
  self->rounds = DEFAULT_ROUNDS;
  self->even = DEFAULT_EVEN;
  self->context_size = DEFAULT_CONTEXT_SIZE;
  self->ring_timeout = DEFAULT_RING_TIMEOUT;
  self->setting_names = DEFAULT_SETTING_NAMES;
  self->threads = DEFAULT_THREADS;
  self->layers = g_strdup (DEFAULT_LAYERS);
  self->ring_sink = g_strdup (DEFAULT_RING_SINK);
  self->ring_src = g_strdup (DEFAULT_RING_SRC);
  self->recover = DEFAULT_RECOVER;
  g_mutex_init (&self->rec_lock);
  g_cond_init (&self->rec_cond);
}
