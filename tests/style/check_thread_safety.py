#!/usr/bin/env python3
"""Goal: clang's thread-safety analysis passes on every translation unit that uses the project's
annotated Mutex (include/faultfs/core/mutex.h): each field marked FAULTFS_GUARDED_BY is touched
with its mutex held, each function marked FAULTFS_REQUIRES called with it held.

    check_thread_safety.py BUILD_DIR          every such unit of src/ in a built tree (ninja's
                                              header dependencies say which include mutex.h;
                                              the tests' units add nothing but time: what they
                                              include from src/ is analysed there)
    check_thread_safety.py --file SOURCE ...  the given files alone (-I include), as the test of
                                              the check itself does

Each unit is compiled by clang with its flags from BUILD_DIR/compile_commands.json,
-fsyntax-only, and every warning but -Wthread-safety off and that one an error. Prints each
finding as file:line:col; exits 1 on any, 2 when it cannot run (no clang, nothing to check).
"""
import concurrent.futures
import json
import os
import shlex
import shutil
import subprocess
import sys

ANALYSIS = ["-fsyntax-only", "-Wno-everything", "-Wthread-safety", "-Werror=thread-safety",
            # Asio turns its coroutines on for gcc only; clang 14 has them too.
            "-DASIO_HAS_CO_AWAIT=1", "-DASIO_HAS_STD_COROUTINE=1"]


def fail(message, code=2):
    print(f"thread_safety_test: {message}", file=sys.stderr)
    sys.exit(code)


def units_using_mutex(build_dir, header):
    """The object files whose recorded header dependencies include `header`."""
    deps = subprocess.run(["ninja", "-C", build_dir, "-t", "deps"], capture_output=True,
                          text=True, check=True).stdout
    objects, current = set(), None
    for line in deps.splitlines():
        if line and not line.startswith(" "):
            current = line.split(":", 1)[0]
        elif current and line.strip() == header:
            objects.add(current)
    return objects


def clang_command(entry, clang):
    """The unit's compile command, for clang: no output file, the analysis flags added."""
    args = shlex.split(entry["command"])
    out = []
    skip = False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT"):
            skip = True
            continue
        if a in ("-c", "-MD"):
            continue
        out.append(a)
    return [clang] + out + ANALYSIS


def object_of(entry):
    args = shlex.split(entry["command"])
    return args[args.index("-o") + 1] if "-o" in args else None


def analyse(job):
    command, directory, name = job
    r = subprocess.run(command, cwd=directory, capture_output=True, text=True)
    return name, r.returncode, r.stderr


def main():
    clang = shutil.which("clang++")
    if clang is None:
        fail("clang++ is missing (tools/install-deps.sh installs clang)")
    source_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if len(sys.argv) >= 3 and sys.argv[1] == "--file":
        jobs = [([clang, "-std=c++20", "-I", os.path.join(source_dir, "include"), f] + ANALYSIS,
                 os.getcwd(), f) for f in sys.argv[2:]]
    elif len(sys.argv) == 2:
        build_dir = os.path.abspath(sys.argv[1])
        header = os.path.join(source_dir, "include/faultfs/core/mutex.h")
        objects = units_using_mutex(build_dir, header)
        entries = json.load(open(os.path.join(build_dir, "compile_commands.json")))
        src = os.path.join(source_dir, "src") + os.sep
        jobs = [(clang_command(e, clang), e["directory"], os.path.relpath(e["file"], source_dir))
                for e in entries if object_of(e) in objects and e["file"].startswith(src)]
        if not jobs:
            fail(f"no unit of {build_dir} includes {header}: build it first")
    else:
        fail("usage: check_thread_safety.py BUILD_DIR | --file SOURCE...")
    failed = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for name, code, err in pool.map(analyse, jobs):
            if code != 0:
                failed.append(name)
                sys.stderr.write(err)
    if failed:
        print(f"thread_safety_test: {len(failed)} of {len(jobs)} units break the locking rules "
              f"they declare: {', '.join(sorted(failed))}", file=sys.stderr)
        sys.exit(1)
    print(f"thread_safety_test: {len(jobs)} units pass clang's thread-safety analysis")


if __name__ == "__main__":
    main()
