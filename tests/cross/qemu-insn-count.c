/* gst-prima tools: a qemu-user TCG plugin that counts the guest instructions a program executes and
 * prints the total at exit ("insns N"). Debian 12's qemu-user runs plugins but ships none (no
 * libinsn.so, no qemu-plugin.h), so this declares the few calls of the plugin API version 1 (QEMU 7.2)
 * that it uses. Built and used by tests/cross/count-insns.sh (docs/numerics.md).
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
enum { QEMU_PLUGIN_INLINE_ADD_U64 = 0 };

extern void qemu_plugin_register_vcpu_tb_trans_cb (qemu_plugin_id_t id,
    void (*cb) (qemu_plugin_id_t id, struct qemu_plugin_tb *tb));
extern size_t qemu_plugin_tb_n_insns (const struct qemu_plugin_tb *tb);
extern void qemu_plugin_register_vcpu_tb_exec_inline (struct qemu_plugin_tb *tb, int op, void *ptr, uint64_t imm);
extern void qemu_plugin_register_atexit_cb (qemu_plugin_id_t id, void (*cb) (qemu_plugin_id_t id, void *p),
    void *userdata);
extern void qemu_plugin_outs (const char *string);

__attribute__ ((visibility ("default"))) int qemu_plugin_version = 1;

/* one counter for all threads: the programs measured are single-threaded */
static uint64_t count;

static void
tb_trans (qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
  /* every instruction of a translation block runs each time the block does */
  qemu_plugin_register_vcpu_tb_exec_inline (tb, QEMU_PLUGIN_INLINE_ADD_U64, &count, qemu_plugin_tb_n_insns (tb));
}

static void
at_exit (qemu_plugin_id_t id, void *p)
{
  char line[64];
  snprintf (line, sizeof line, "insns %" PRIu64 "\n", count);
  qemu_plugin_outs (line);
}

__attribute__ ((visibility ("default"))) int
qemu_plugin_install (qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
  qemu_plugin_register_vcpu_tb_trans_cb (id, tb_trans);
  qemu_plugin_register_atexit_cb (id, at_exit, NULL);
  return 0;
}
