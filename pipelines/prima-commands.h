/* gst-prima: the subcommands of the `prima` program.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status. */
int prima_cmd_tokenize (int argc, char **argv);
int prima_cmd_eval (int argc, char **argv);
int prima_cmd_run (int argc, char **argv);
int prima_cmd_bench (int argc, char **argv);
int prima_cmd_mkmodel (int argc, char **argv);
