#!/usr/bin/env bash
# The long differential run of the crash-state builder against the reference model
# (tests/crash/differential_test.cc): every model on LOGS seeded logs, in chunks, several at once.
# Each finished chunk is one line of the ledger (commit, seed range, result), so a run that is
# stopped keeps what it proved and `--resume` runs only the chunks this commit has not passed.
#
#   tools/crash-differential-long.sh [--logs N] [--first-seed S] [--jobs J] [--chunk C]
#                                    [--ledger FILE] [--build DIR] [--resume]
#
# Prints the totals at the end; exits 1 when any chunk failed (its output is kept beside the
# ledger, with the failing seeds and the command that reruns one).
set -euo pipefail

logs=100000 first=1 jobs=$(nproc) chunk=1000 build=build resume=0
ledger=/var/tmp/faultfs-differential/ledger.txt
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --logs) logs=$2; shift 2 ;;
    --first-seed) first=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --chunk) chunk=$2; shift 2 ;;
    --ledger) ledger=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --resume) resume=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "crash-differential-long.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$logs" "$first" "$jobs" "$chunk"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "crash-differential-long.sh: '$n' is not a positive number" >&2; exit 2; }
done

root=$(cd "$(dirname "$0")/.." && pwd)
test_bin="$root/$build/tests/crash/crash_differential_test"
[[ -x "$test_bin" ]] || { echo "crash-differential-long.sh: $test_bin is missing: build first (cmake --build $build)" >&2; exit 2; }
out_dir=$(dirname "$ledger")
mkdir -p "$out_dir"
# A private copy: rebuilding the tree during a run of hours must not change the binary under it.
commit=$(git -C "$root" rev-parse --short HEAD)
bin="$out_dir/crash_differential_test.$commit"
cp "$test_bin" "$bin"

last=$((first + logs - 1))
# Whether this commit's ledger already holds chunk $1..$2 as passed (skipped by --resume).
chunk_done() { [[ $resume == 1 && -f "$ledger" ]] && grep -qx "$commit $1 $2 passed" "$ledger"; }

run_chunk() {
  local from=$1 to=$2 log="$out_dir/chunk-$1.log"
  if FAULTFS_DIFFERENTIAL_FIRST_SEED=$from FAULTFS_DIFFERENTIAL_LOGS=$((to - from + 1)) \
     "$bin" --gtest_filter='CrashDifferential.EveryModelAgreesWithTheReference' >"$log" 2>&1; then
    echo "$commit $from $to passed" >>"$ledger"
    rm -f "$log"
  else
    echo "$commit $from $to FAILED $(grep -o 'failing seeds: .*' "$log" | head -1) (output: $log)" >>"$ledger"
  fi
}

echo "differential: seeds $first..$last, $jobs at a time, chunks of $chunk, ledger $ledger"
start=$(date +%s)
seed=$first
while (( seed <= last )); do
  while (( $(jobs -rp | wc -l) >= jobs )); do wait -n || true; done
  to=$((seed + chunk - 1)); (( to > last )) && to=$last
  if ! chunk_done "$seed" "$to"; then
    run_chunk "$seed" "$to" &
    echo "  seeds $seed..$to started after $(( $(date +%s) - start )) s" >&2
  fi
  seed=$((to + 1))
done
wait
awk -v c="$commit" '$1 == c { n += $3 - $2 + 1; if ($4 != "passed") bad += $3 - $2 + 1 }
  END { printf "commit %s: %d logs in the ledger, %d in failed chunks\n", c, n, bad + 0 }' "$ledger"
! grep -q "^$commit .* FAILED" "$ledger"
