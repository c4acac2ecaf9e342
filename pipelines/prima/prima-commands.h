/* gst-prima: the subcommands of the `prima` program.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status. */
int prima_cmd_tokenize (int argc, char **argv);
int prima_cmd_eval (int argc, char **argv);
int prima_cmd_run (int argc, char **argv);
int prima_cmd_worker (int argc, char **argv);
int prima_cmd_serve (int argc, char **argv);
int prima_cmd_bench (int argc, char **argv);
int prima_cmd_mkmodel (int argc, char **argv);
int prima_cmd_plan (int argc, char **argv);
int prima_cmd_profile (int argc, char **argv);

#include <gst/gst.h>
#include "model.h"
#include "tokenizer.h"
#include "residency.h"

/* The model used when -m is not given: the embedded one in data/ (from the
 * source tree when run uninstalled, else the installed copy). */
const char *prima_default_model_path (void);
/* Open a model and its tokenizer, printing one error line on failure. */
gboolean prima_open_model (const char *command, const char *path, prima_model **model, prima_tokenizer **tok);
/* The context a generation gets for -c REQUESTED (0: the model's, at most
 * 4096), at most the model's training context: the rule of primalayers. */
int prima_context_size (const prima_model *model, int requested);
/* FALSE, after one error line, when a prompt of n_tokens does not fit a
 * context of n_ctx positions (primaloop's check for prima run, shared by
 * prima eval). */
gboolean prima_check_prompt_fits (const char *command, guint n_tokens, int n_ctx);
/* FALSE, after one error line with the numbers, when the memory this
 * process may use (the cgroup limit, else the machine's) cannot hold even
 * the working set of a run of the whole model with a context of n_ctx
 * positions: what is in use now, the largest layer (the smallest window the
 * residency engine streams) and the V cache (transposed, so every page of it
 * is touched by the first position). Better than the kernel's OOM kill,
 * which prints nothing. */
gboolean prima_check_memory (const char *command, const prima_model *model, int n_ctx);
/* Parse "1,2,3" or "1 2 3" into ids; NULL (after an error line) on bad input. */
GArray *prima_parse_ids (const char *command, const char *text);
/* Renders the pipeline's prima-loading messages as the progress line on
 * stderr when show (one line a window, or one updated line on a terminal),
 * as they are posted, and drops them. */
void prima_pipeline_show_loading (GstElement *pipeline, gboolean show);
/* Read a whole prompt file for -f (a FIFO too); path NULL reads standard
 * input to its end. NULL after an error line. */
char *prima_read_prompt_file (const char *command, const char *path);
/* -e: the text with C escapes (\n, \t, \\, \", \', \xNN, ...) replaced;
 * unknown escapes are kept as written. */
char *prima_process_escapes (const char *text);
