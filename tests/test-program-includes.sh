#!/bin/bash
# gst-prima: the `prima` program includes no wire-protocol internals (issue 12, points 1 and 6): none of
# its command files (pipelines/prima/cmd-*.[ch], prima*.[ch], cli-*.[ch]) includes ring-link.h,
# ring-frame.h or ring-control.h; what it needs of the ring goes through the elements or a small API
# (ring-bench.h for `prima bench --hop`). The scheduler's files are not the program's commands.
# Usage: test-program-includes.sh SOURCE_ROOT
# Copyright (C) 2026 gst-prima authors. SPDX-License-Identifier: GPL-3.0-or-later
set -u
SRC=${1:?usage: $0 SOURCE_ROOT}
PATTERN='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^">]*/)?ring-(link|frame|control)\.h[">]'
fail=0

# the pattern itself: it must catch each spelling, or the test passes for nothing
for line in '#include "ring-link.h"' '#include "net/ring-frame.h"' '# include <ring-control.h>'; do
  if ! printf '%s\n' "$line" | grep -Eq "$PATTERN"; then
    echo "not ok - the pattern misses: $line"; fail=1
  fi
done
if printf '%s\n' '#include "ring-bench.h"' | grep -Eq "$PATTERN"; then
  echo "not ok - the pattern catches ring-bench.h"; fail=1
fi

mapfile -t files < <(find "$SRC/pipelines/prima" -type f \( -name 'cmd-*.[ch]' -o -name 'prima*.[ch]' -o -name 'cli-*.[ch]' \) | sort)
if [ ${#files[@]} -lt 5 ]; then
  echo "not ok - found only ${#files[@]} command files under $SRC/pipelines/prima"; fail=1
fi
hits=$(grep -EHn "$PATTERN" "${files[@]}")
if [ -n "$hits" ]; then
  echo "not ok - the program includes wire-protocol headers:"
  echo "$hits"
  fail=1
else
  echo "ok - ${#files[@]} command files of prima include none of ring-link.h, ring-frame.h, ring-control.h"
fi
exit $fail
