# Shared by the case studies' run.sh scripts (sourced, not run): finds or builds faultfs, runs
# `faultfs crashtest` cases with their expected outcome, and prints one line per case and a
# summary. Each case keeps its full report in $results/NAME.txt.
#   FAULTFS=/path/to/faultfs   use this binary instead of building build/src/cli/faultfs
#   RESULTS=DIR                keep the reports there (default: a new directory in /tmp)

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Builds the targets given (faultfs always) in $root/build unless $FAULTFS names a binary.
build_targets() {
  if [ -n "${FAULTFS:-}" ]; then
    faultfs=$(realpath "$FAULTFS")
    return
  fi
  if [ ! -f "$root/build/build.ninja" ] && [ ! -f "$root/build/Makefile" ]; then
    echo "== configuring $root/build" >&2
    cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
  echo "== building faultfs $* (a few minutes the first time)" >&2
  cmake --build "$root/build" --target faultfs "$@" | grep -E 'error|FAILED' >&2 || true
  faultfs=$root/build/src/cli/faultfs
  [ -x "$faultfs" ] || { echo "could not build faultfs" >&2; exit 2; }
}

results=${RESULTS:-$(mktemp -d /tmp/faultfs-case-study-XXXXXX)}
mkdir -p "$results"
unexpected=0

# expect_crashtest NAME EXPECTED_EXIT DIR WORKLOAD CHECK MODEL [crashtest options...]
# Runs crashtest on a fresh copy-source DIR (created empty when missing) and compares its exit
# status (0 clean, 1 a state failed) with the expected one.
expect_crashtest() {
  local name=$1 want=$2 dir=$3 workload=$4 check=$5 model=$6
  shift 6
  mkdir -p "$dir"
  local got=0
  TMPDIR=$results "$faultfs" crashtest --dir "$dir" --workload "$workload" --check "$check" \
    --model "$model" --seed 1 "$@" >"$results/$name-$model.txt" 2>"$results/$name-$model.err" || got=$?
  local summary finding verdict=as-expected
  summary=$(grep -o '[0-9]* checked: [0-9]* passed, [0-9]* failed' "$results/$name-$model.txt" | head -1 || true)
  # The first finding: its fix, and whether the ext4 model's states need it too.
  finding=$(grep -A1 '^  1\. ' "$results/$name-$model.txt" | sed 's/^  1\. //; s/^ *//' | head -2 |
    sed 's/.*; \(not under the ext4 model.*\|ext4 model.*\|also under the ext4 model.*\)/(\1)/' | paste -sd ' ' || true)
  if [ "$got" != "$want" ]; then
    verdict="UNEXPECTED (exit $got, expected $want; see $results/$name-$model.txt)"
    unexpected=$((unexpected + 1))
  fi
  printf '%-28s %-8s %-40s %s\n' "$name" "$model" "${summary:-no summary}" "$verdict"
  [ -z "$finding" ] || printf '%-37s finding: %s\n' "" "$finding"
  # The scratch directories of failing runs are kept for their reproducers; the report is enough.
  rm -rf "$results"/faultfs-crashtest-*
}

# Ends the run: 0 when every case came out as expected.
finish() {
  echo
  echo "reports: $results"
  if [ "$unexpected" = 0 ]; then
    echo "every case came out as expected"
    exit 0
  fi
  echo "$unexpected case(s) did not come out as expected" >&2
  exit 1
}
