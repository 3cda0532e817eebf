#!/usr/bin/env python3
"""Goal: every translation unit of src/ is clean under clang-tidy's curated checks (.clang-tidy)
and under clang's thread-safety analysis: each field marked FAULTFS_GUARDED_BY is touched with
its mutex held, each function marked FAULTFS_REQUIRES called with it held
(include/faultfs/core/mutex.h).

    check_tidy.py BUILD_DIR          every unit of src/ in a configured tree, with its flags from
                                     BUILD_DIR/compile_commands.json (the tests' units add only
                                     time: what they include from src/ is checked there)
    check_tidy.py BUILD_DIR SOURCE.. those units of the tree alone (a quicker check of a change)
    check_tidy.py --file SOURCE ...  the given files alone (-I include), as the tests of the
                                     check itself do

One clang-tidy run per unit does both: the thread-safety analysis is a clang warning, which
clang-tidy reports as the check clang-diagnostic-thread-safety; every other compiler warning is
off (the build's gcc warnings are checked by the build). Any finding is an error. Prints each
finding as file:line:col; exits 1 on any, 2 when it cannot run (no clang-tidy, nothing to
check).
"""
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import time

CLANG_ARGS = ["-Wno-everything", "-Wthread-safety",
              # Asio turns its coroutines on for gcc only; clang 14 has them too.
              "-DASIO_HAS_CO_AWAIT=1", "-DASIO_HAS_STD_COROUTINE=1"]
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fail(message, code=2):
    print(f"tidy_test: {message}", file=sys.stderr)
    sys.exit(code)


def find_tidy():
    for name in ("clang-tidy", "clang-tidy-14", "clang-tidy-15", "clang-tidy-16"):
        path = shutil.which(name)
        if path:
            return path
    fail("clang-tidy is missing (tools/install-deps.sh installs clang-tidy)")
    return None


def tidy_command(tidy, build_dir):
    extra = [f"--extra-arg={a}" for a in CLANG_ARGS]
    db = ["-p", build_dir] if build_dir else []
    return [tidy, "--quiet", "--warnings-as-errors=*"] + db + extra


def unit_jobs(tidy, build_dir, only):
    """(command, name) for each unit of src/ in the build's compilation database, or for those
    of them named in `only`."""
    try:
        with open(os.path.join(build_dir, "compile_commands.json")) as f:
            entries = json.load(f)
    except OSError as e:
        fail(f"{e}: configure {build_dir} first")
    src = os.path.join(SOURCE_DIR, "src") + os.sep
    files = sorted({e["file"] for e in entries if e["file"].startswith(src)})
    if only:
        wanted = {os.path.realpath(f) for f in only}
        files = [f for f in files if os.path.realpath(f) in wanted]
    # The longest units first, so that a parallel run does not end with one of them alone.
    files.sort(key=lambda f: -os.path.getsize(f))
    base = tidy_command(tidy, build_dir)
    return [(base + [f], os.path.relpath(f, SOURCE_DIR)) for f in files]


def file_jobs(tidy, files):
    base = tidy_command(tidy, None)
    flags = ["--", "-std=c++20", "-I", os.path.join(SOURCE_DIR, "include")]
    return [(base + [f] + flags, f) for f in files]


def run(job):
    command, name = job
    start = time.monotonic()
    r = subprocess.run(command, capture_output=True, text=True)
    return name, r.returncode, r.stdout + r.stderr, time.monotonic() - start


def findings_of(output):
    """clang-tidy's report without its counts of the warnings it suppressed."""
    keep = [line for line in output.splitlines()
            if line and not line.endswith("warnings generated.")
            and not line.startswith(("Suppressed ", "Use -header-filter", "Error while processing"))]
    return "\n".join(keep)


def main():
    tidy = find_tidy()
    if len(sys.argv) >= 3 and sys.argv[1] == "--file":
        jobs = file_jobs(tidy, sys.argv[2:])
    elif len(sys.argv) >= 2 and not sys.argv[1].startswith("-"):
        jobs = unit_jobs(tidy, os.path.abspath(sys.argv[1]), sys.argv[2:])
        if not jobs:
            fail(f"no such unit of src/ in {sys.argv[1]}/compile_commands.json")
    else:
        fail("usage: check_tidy.py BUILD_DIR [SOURCE...] | --file SOURCE...")
    failed, slowest = [], (0.0, "")
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for name, code, out, secs in pool.map(run, jobs):
            slowest = max(slowest, (secs, name))
            if code != 0:
                failed.append(name)
                print(findings_of(out), file=sys.stderr)
    if failed:
        print(f"tidy_test: {len(failed)} of {len(jobs)} units have findings: "
              f"{', '.join(sorted(failed))}", file=sys.stderr)
        sys.exit(1)
    print(f"tidy_test: {len(jobs)} units pass clang-tidy and clang's thread-safety analysis "
          f"(slowest: {slowest[1]}, {slowest[0]:.0f} s)")


if __name__ == "__main__":
    main()
