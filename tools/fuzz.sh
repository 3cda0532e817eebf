#!/usr/bin/env bash
# Fuzzes the policy parser with libFuzzer (clang, ASan, UBSan) for SECONDS (default 600), starting
# from the shipped and the broken policies. A crash leaves crash-* files in build-fuzz/ and a
# non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
tools/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFAULTFS_FUZZ=ON -DFAULTFS_BUILD_TESTS=OFF -DFAULTFS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-fuzz --target policy_fuzzer
corpus=build-fuzz/policy-corpus
mkdir -p "$corpus"
cp policies/*.toml tests/policy/broken/*.toml "$corpus"/
cd build-fuzz
./tests/fuzz/policy_fuzzer -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 policy-corpus
