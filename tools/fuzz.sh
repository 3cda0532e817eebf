#!/usr/bin/env bash
# Fuzzes the policy parser, the control protocol's request parser and the record log (its reader,
# the history check, crash-state enumeration and materializing, confined to the state's
# directory) with libFuzzer (clang, ASan, UBSan), each for SECONDS (default 600). The policy
# fuzzer starts from the shipped and the broken policies, the control fuzzer from one request of
# each command, the record-log fuzzer from tests/fuzz/corpus/record-log (hostile seeds written by
# tests/fuzz/make_record_log_seeds.py). A crash, leak or escape leaves crash-* files in build-fuzz/
# and a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
tools/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFAULTFS_FUZZ=ON -DFAULTFS_BUILD_TESTS=OFF -DFAULTFS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-fuzz --target policy_fuzzer control_fuzzer record_log_fuzzer

corpus=build-fuzz/policy-corpus
mkdir -p "$corpus"
cp policies/*.toml tests/policy/broken/*.toml "$corpus"/

requests=build-fuzz/control-corpus
mkdir -p "$requests"
i=0
for request in '{"cmd":"status"}' '{"cmd":"rules"}' '{"cmd":"stats"}' '{"cmd":"freeze"}' \
  '{"cmd":"thaw"}' '{"cmd":"release"}' '{"cmd":"recover"}' '{"cmd":"events","follow":true}' \
  '{"cmd":"add","policy":"[[rule]]\naction = \"lose\"\n"}' '{"cmd":"load","policy":""}' \
  '{"cmd":"remove","id":"r"}' '{"cmd":"enable","id":"r"}' '{"cmd":"disable","id":"r"}' \
  '{"cmd":"mark","text":"commit 17"}' '{"cmd":"crash","model":"weak","kill":["pg","x"]}'; do
  printf '%s' "$request" >"$requests/seed-$i.json"
  i=$((i + 1))
done

logs=build-fuzz/record-log-corpus
mkdir -p "$logs"
cp tests/fuzz/corpus/record-log/* "$logs"/

cd build-fuzz
./tests/fuzz/policy_fuzzer -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 policy-corpus
./tests/fuzz/control_fuzzer -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 control-corpus
./tests/fuzz/record_log_fuzzer -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 record-log-corpus
