/* gst-prima: libFuzzer target for the ring's JSON control messages.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Parses the input as one control message (hello, challenge, plan, profile,
 * KV operations, join, error, ...). A refusal must be one line of the
 * control domain. A message that parses must validate, serialize, parse
 * back from its own JSON and serialize to the same text; a plan must copy
 * and validate; a profile goes on into the scheduler's device reader
 * (halda_device_from_json), as the ring's setup round does with it. Built
 * with -DPRIMA_FUZZ_REPLAY it replays a corpus. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "ring-control.h"
#include "halda.h"
#include "halda-io.h"

static volatile double sink;

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_error (GError *error, GQuark domain)
{
  if (error == NULL || error->domain != domain || error->message == NULL
      || strchr (error->message, '\n') != NULL)
    __builtin_trap ();
  g_error_free (error);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  prima_ctl_msg m, back;
  GError *error = NULL;
  char *json, *json2;
  gsize len, len2;

  if (!prima_ctl_parse ((const char *) data, size, &m, &error)) {
    check_error (error, PRIMA_CTL_ERROR);
    prima_ctl_msg_clear (&m);
    return 0;
  }
  if (error != NULL || m.type >= PRIMA_CTL_N_TYPES || prima_ctl_type_name (m.type) == NULL)
    __builtin_trap ();
  if (!prima_ctl_msg_validate (&m, NULL))
    __builtin_trap ();

  /* What we accept we can say again, and say the same way twice. */
  json = prima_ctl_to_json (&m, &len, NULL);
  if (json == NULL || strlen (json) != len)
    __builtin_trap ();
  if (!prima_ctl_parse (json, len, &back, NULL) || back.type != m.type)
    __builtin_trap ();
  json2 = prima_ctl_to_json (&back, &len2, NULL);
  if (json2 == NULL || len2 != len || memcmp (json, json2, len) != 0)
    __builtin_trap ();
  g_free (json);
  g_free (json2);
  prima_ctl_msg_clear (&back);

  if (m.type == PRIMA_CTL_PLAN) {
    prima_plan *copy;
    if (m.plan == NULL || !prima_plan_validate (m.plan, NULL))
      __builtin_trap ();
    copy = prima_plan_copy (m.plan);
    if (copy->n_ranks != m.plan->n_ranks || !prima_plan_validate (copy, NULL))
      __builtin_trap ();
    prima_plan_free (copy);
  } else if (m.type == PRIMA_CTL_PROFILE) {
    halda_device d;
    if (m.profile == NULL || !JSON_NODE_HOLDS_OBJECT (m.profile))
      __builtin_trap ();
    halda_device_init (&d);
    if (halda_device_from_json (json_node_get_object (m.profile), m.rank, &d, &error))
      sink = d.ram_avail;
    else if (error == NULL)
      __builtin_trap ();
    g_clear_error (&error);
  }
  prima_ctl_msg_clear (&m);
  return 0;
}

#include "fuzz-main.h"
