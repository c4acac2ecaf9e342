#!/usr/bin/env python3
# Compiles the sources with Linux-only calls (prima-platform.h: posix_fadvise, O_DIRECT,
# MADV_POPULATE_READ, PR_SET_PDEATHSIG, getauxval) once more with -DPRIMA_NO_LINUX_APIS, as a macOS
# or other non-Linux build would take their fallbacks: syntax and types only (-fsyntax-only), with
# the build's own command lines (compile_commands.json). docs/platforms.md.
# Usage: tests/cross/check-no-linux.py BUILD_DIR
import json, shlex, subprocess, sys

FILES = ("residency.c", "cpu-features.c", "cpu-topology.c", "forward.c", "profiler.c", "ring-head.c", "gguf.c",
         "memstat.c")
build = sys.argv[1] if len(sys.argv) > 1 else "build"
entries = json.load(open(f"{build}/compile_commands.json"))
done, failed = set(), 0
for e in entries:
    name = e["file"].rsplit("/", 1)[-1]
    if name not in FILES or name in done:
        continue
    args = shlex.split(e["command"])
    # drop the output and dependency-file arguments: only the front end runs
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MQ"):
            skip = True
            continue
        if a in ("-MD",):
            continue
        out.append(a)
    out += ["-DPRIMA_NO_LINUX_APIS", "-fsyntax-only", "-Werror=implicit-function-declaration"]
    r = subprocess.run(out, cwd=e["directory"], capture_output=True, text=True)
    done.add(name)
    if r.returncode != 0:
        failed += 1
        print(f"{name}: FAILED with -DPRIMA_NO_LINUX_APIS\n{r.stderr}")
    else:
        print(f"{name}: compiles with -DPRIMA_NO_LINUX_APIS")
missing = set(FILES) - done
if missing:
    print("not in this build:", " ".join(sorted(missing)))
sys.exit(1 if failed else 0)
