#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, and runs every test through CTest; then
# builds and runs them again under AddressSanitizer + UndefinedBehaviorSanitizer, and the tests
# whose threads share state (label `threads`, with the daemon they mount) under ThreadSanitizer.
# Tests that mount FUSE need root and /dev/fuse.
#   FAULTFS_SKIP_ASAN=1 tools/test.sh   skips the AddressSanitizer pass (quicker local runs)
#   FAULTFS_SKIP_TSAN=1 tools/test.sh   skips the ThreadSanitizer pass
#   FAULTFS_LONG_TESTS=1 tools/test.sh  also runs the tests labelled `long` (timing-dependent
#                                       demonstrations; minutes each) in the release pass
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh

jobs=$(nproc)
# Release tests in parallel: most of their time is spent waiting (mounts, timeouts, child
# processes), so more run at once than there are CPUs (on 2 CPUs, -j3 kept them 38% busy; -j4
# took the pass from 350 to 298 s). Under the sanitizers they are CPU-bound: one per CPU (on 2
# CPUs, -j4 took 1,074 s where -j2 took 977).
test_jobs=$((jobs * 2))
# Debug information at level 1 (functions and line tables: what a backtrace and the sanitizers'
# reports use, without the variables): full -g took 36% longer on a heavy unit here
# (cmd_mount.cc, 17.6 s against 12.9 s), and the three builds are most of this script's time.
configure_and_build() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DFAULTFS_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

echo "== release build (a few minutes the first time) and tests"
configure_and_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
long=(-LE long)
[ "${FAULTFS_LONG_TESTS:-0}" = 1 ] && long=()
ctest --test-dir build --output-on-failure -j "$test_jobs" "${long[@]}"

if [ "${FAULTFS_SKIP_ASAN:-0}" != 1 ]; then
  echo "== ASan + UBSan build and tests"
  configure_and_build build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 \
    -DFAULTFS_SANITIZE=address,undefined -DFAULTFS_BUILD_BENCHMARKS=OFF
  # Leak checking stays on; abort on the first report so a test cannot pass over it. The checks
  # of the source tree (format, layering) ran in the release pass: nothing here can change them.
  # The /dev/fuse variants (NAME_dev: --transport dev --passthrough off) and the tests labelled slow
  # (scale, SQLite, install) ran in the release pass; here they took this pass from 13 to 17+ min.
  ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE 'source|long|dev|slow'
fi
if [ "${FAULTFS_SKIP_TSAN:-0}" != 1 ]; then
  echo "== ThreadSanitizer build and the threaded tests"
  cmake -S . -B build-tsan -G Ninja -DFAULTFS_WERROR=ON -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DFAULTFS_SANITIZE=thread -DFAULTFS_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build build-tsan -j "$jobs" --target threaded_tests
  # A report stops the program (a test, or the daemon under a mount) with an error.
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    ctest --test-dir build-tsan --output-on-failure -j "$jobs" -L threads
fi
echo "== all tests passed"
