/* gst-prima: the prima-plan element message (primascheduler posts it; `prima run` renders it).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* The `prima-plan` element message the scheduler posts once the setup
 * round is over (fields: docs/ring.md, "The scheduler element"). */
#define PRIMA_MESSAGE_PLAN "prima-plan"

typedef struct {
  guint devices;                /* devices the round started with */
  guint world;                  /* devices that carry layers (the data ring) */
  guint rounds;                 /* rounds per token */
  guint n_layer;
  guint context_size;
  gdouble predicted_tpot;       /* seconds per token predicted by Halda; 0 with a fixed layer window */
  gchar **windows;              /* per rank of the data ring: "a-b,c-d" (b excluded) */
  gchar **cases;                /* per rank of the data ring: the memory case ("M1" .. "M4"; "" when not solved) */
  gchar *plan;                  /* the plan message (JSON) the ring sink sends round */
} PrimaPlanInfo;

GstMessage *prima_message_new_plan (GstObject * src, const PrimaPlanInfo * info);
gboolean prima_message_is_plan (GstMessage * message);
/* Fills info (free with prima_plan_info_clear); FALSE when message is not a plan. */
gboolean prima_message_parse_plan (GstMessage * message, PrimaPlanInfo * info);
void prima_plan_info_clear (PrimaPlanInfo * info);

G_END_DECLS
