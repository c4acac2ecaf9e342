/* gst-prima: the Linux-only calls and their fallbacks elsewhere (macOS, and what a build with
 * -DPRIMA_NO_LINUX_APIS simulates on Linux: tests/cross/check-no-linux.sh). Each use falls back to
 * doing without: page-cache hints are hints, a worker without PR_SET_PDEATHSIG notices its head's
 * end on the ring instead. docs/platforms.md lists them.
 * Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <fcntl.h>

#if defined(__linux__) && !defined(PRIMA_NO_LINUX_APIS)
#define PRIMA_HAVE_LINUX_APIS 1
#endif

/* posix_fadvise: Linux and the BSDs; macOS has none */
#if defined(POSIX_FADV_DONTNEED) && !defined(PRIMA_NO_LINUX_APIS)
#define prima_fadvise(fd, offset, len, advice) posix_fadvise ((fd), (offset), (len), (advice))
#else
#define prima_fadvise(fd, offset, len, advice) ((void) (fd), (void) (offset), (void) (len), 0)
#define POSIX_FADV_DONTNEED 0
#define POSIX_FADV_SEQUENTIAL 0
#define POSIX_FADV_RANDOM 0
#endif

/* O_DIRECT: Linux; macOS has F_NOCACHE instead (the profiler then drops the page cache) */
#if !defined(O_DIRECT) || defined(PRIMA_NO_LINUX_APIS)
#undef O_DIRECT
#define O_DIRECT 0
#endif
