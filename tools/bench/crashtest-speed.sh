#!/usr/bin/env bash
# How fast `faultfs crashtest` materializes and checks crash states: a 10 MB starting directory, a
# no-op checker (`true`), and workloads of increasing length. Prints, per (ops, model), the states
# enumerated, distinct and checked, and the checking phase's rate in states per second (median of
# the rounds), then how the rate scales with the number of ops.
#
#   tools/bench/crashtest-speed.sh [--rounds N] [--ops "10 100 1000"] [--models "pp prefix"]
#                                  [--jobs N] [--max-states N] [--dir DIR] [--json FILE]
#
# The starting directory: 100 files of 100 KiB in 4 subdirectories, 2 files of 256 KiB and an
# append-only journal of 64 KiB (10.3 MiB). The workload repeats, until it has issued about the
# requested number of ops: append a line to the journal, fsync it (`sync FILE`), write a new
# version of one of the 100 files to a temporary name, fsync it, rename it over the file. So about
# half of the states rename over, and every state appends to, a file of the starting state.
# The rate is what crashtest reports for its checking phase (building, hashing and judging every
# state; recording the workload is not included, but what is left of reading the snapshot's
# digests, which crashtest starts while the workload runs, is). Needs root (crashtest mounts
# faultfs).
#
# The ceiling: before each crashtest run, --jobs processes run the checker as crashtest does (a
# fresh subshell of a shell that stays up, running `true`) 500 times each, building nothing. Their
# combined rate is the most states per second any builder could check on this machine with this
# checker; each rate is also given as a share of the ceiling measured beside it (the VM's speed
# varies).
#
# Where: by default a fresh ext4 (with a journal) on a 2 GiB image in /var/tmp, loop-mounted, and
# removed at the end, as in fio-compare.sh. Every state creates and deletes files, and ext4
# without a journal (this VM's root filesystem) scans past every inode deleted in the last minutes
# on each create, so there the rate depends on what ran before. --dir DIR runs in DIR as is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tools/bench/common.sh
. "$here/common.sh"

rounds=3
ops_list="10 100 1000"
models="pp prefix"
jobs=2
max_states=1000
base=""
json_out=""
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --ops) ops_list=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --max-states) max_states=$2; shift 2 ;;
    --dir) base=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "crashtest-speed: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

faultfs=${FAULTFS_BIN:-$root/build/src/cli/faultfs}
[ -x "$faultfs" ] || { echo "crashtest-speed: no faultfs binary at $faultfs (build first: tools/test.sh)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "crashtest-speed: needs root (crashtest mounts faultfs)" >&2; exit 2; }

scratch=""
cleanup() {
  # crashtest unmounts its own recording mount, even when interrupted; this catches the rest.
  if [ -n "$scratch" ]; then
    awk -v s=" $scratch/" 'index($0, s) { print $2 }' /proc/mounts | while read -r m; do umount -l "$m"; done
    rm -rf "$scratch"
  fi
  scratch_fs_remove
}
trap cleanup EXIT
if [ -z "$base" ]; then
  scratch_fs_create faultfs-ctspeed 2G
  base=$scratch_fs_dir
fi
scratch=$(mktemp -d "$base/faultfs-ctspeed-XXXXXX")
results=$scratch/results

# The 10 MB starting directory.
data=$scratch/data
mkdir -p "$data"
for d in 0 1 2 3; do
  mkdir -p "$data/d$d"
  for i in $(seq 0 24); do head -c 102400 /dev/urandom > "$data/d$d/f$i"; done
done
head -c 262144 /dev/urandom > "$data/big1"
head -c 262144 /dev/urandom > "$data/big2"
head -c 65536 /dev/urandom > "$data/journal"
size_kib=$(du -sk --apparent-size "$data" | cut -f1)

# A workload of about N ops: each iteration records 6 (write, fsync, create, write, fsync, rename).
workload() {
  local iterations=$(( ($1 + 5) / 6 ))
  cat <<EOF
i=0
while [ \$i -lt $iterations ]; do
  echo "entry \$i" >> journal; sync journal
  f=d\$((i % 4))/f\$((i % 25))
  echo "version \$i" > \$f.tmp; sync \$f.tmp; mv \$f.tmp \$f
  i=\$((i + 1))
done
EOF
}

# Checker runs per second with --jobs parallel starters and no states: the ceiling. Each starter
# does what a crashtest job does to run the checker (core/shell_host.cc): a shell that stays up
# is sent a line, runs `true` in a fresh subshell in a directory with its output to a file, and
# answers with the exit status.
spawn_ceiling() {
  python3 - "$jobs" "$scratch" <<'PY'
import os, subprocess, sys, time
jobs, scratch, each = int(sys.argv[1]), sys.argv[2], 500
host = ('while IFS= read -r line; do ( cd -- "$1" || exit 127; eval "true" ) >"$1/ceiling.out" 2>&1; '
        'echo "$?"; done')
def starter(n):
    d = f"{scratch}/ceiling{n}"
    os.makedirs(d, exist_ok=True)
    sh = subprocess.Popen(["/bin/sh", "-c", host, "sh", d], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, bufsize=0)
    for i in range(each):
        sh.stdin.write(f"{i}\n".encode())
        if sh.stdout.readline() != b"0\n":
            sys.exit("ceiling: the shell did not answer 0")
    sh.stdin.close()
    sh.wait()
start = time.monotonic()
children = []
for n in range(jobs):
    pid = os.fork()
    if pid == 0:
        starter(n)
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
print(f"{jobs * each / (time.monotonic() - start):.0f}")
PY
}

for round in $(seq 1 "$rounds"); do
  for ops in $ops_list; do
    for model in $models; do
      out=$scratch/out
      ceiling=$(spawn_ceiling)
      "$faultfs" crashtest --dir "$data" --workload "$(workload "$ops")" --check true \
        --model "$model" --jobs "$jobs" --max-states "$max_states" --seed 1 \
        --work "$scratch/work" >"$out" 2>"$scratch/err" || {
        echo "crashtest-speed: crashtest failed:" >&2; cat "$out" "$scratch/err" >&2; exit 1; }
      # "... N ops recorded; T crash states defined, E enumerated, D distinct, C checked: ...
      #  (S s; R states/s)"
      line=$(grep '^faultfs crashtest: model' "$out")
      recorded=$(echo "$line" | sed -E 's/.*: ([0-9]+) ops recorded.*/\1/')
      enumerated=$(echo "$line" | sed -E 's/.* ([0-9]+) (enumerated|sampled),.*/\1/')
      distinct=$(echo "$line" | sed -E 's/.* ([0-9]+) distinct,.*/\1/')
      checked=$(echo "$line" | sed -E 's/.* ([0-9]+) checked:.*/\1/')
      rate=$(echo "$line" | sed -E 's/.*; ([0-9.]+) states\/s\)$/\1/')
      echo "$ops $model $recorded $enumerated $distinct $checked $rate $ceiling" >> "$results"
      printf 'round %d/%d  ops %-5s %-7s %5s recorded  %6s states (%s distinct, %s checked)  %s states/s (ceiling %s)\n' \
        "$round" "$rounds" "$ops" "$model" "$recorded" "$enumerated" "$distinct" "$checked" "$rate" "$ceiling" >&2
      rm -rf "$scratch/work"
    done
  done
done

python3 - "$results" "$json_out" "$rounds" "$jobs" "$size_kib" <<'PY'
import json, os, platform, statistics, sys
path, json_out, rounds, jobs, size_kib = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = {}
for line in open(path):
    ops, model, recorded, enumerated, distinct, checked, rate, ceiling = line.split()
    r = rows.setdefault((int(ops), model), {"ops": int(ops), "model": model, "recorded_ops": int(recorded),
                                             "states": int(enumerated), "distinct": int(distinct),
                                             "checked": int(checked), "rates": [], "ceilings": []})
    r["rates"].append(float(rate))
    r["ceilings"].append(float(ceiling))
print("\n| workload ops | model | ops recorded | states | distinct | checked | states/s (median) | runs "
      "| ceiling (median) | share of the ceiling |")
print("|---:|---|---:|---:|---:|---:|---:|---|---:|---:|")
for (ops, model), r in sorted(rows.items()):
    r["states_per_s"] = statistics.median(r["rates"])
    r["ceiling_per_s"] = statistics.median(r["ceilings"])
    r["share_of_ceiling"] = statistics.median(a / b for a, b in zip(r["rates"], r["ceilings"]))
    print(f"| {ops} | {model} | {r['recorded_ops']} | {r['states']} | {r['distinct']} | {r['checked']} | "
          f"{r['states_per_s']:.0f} | {', '.join(f'{x:.0f}' for x in r['rates'])} | "
          f"{r['ceiling_per_s']:.0f} | {r['share_of_ceiling']:.0%} |")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"\nstarting directory {size_kib / 1024:.1f} MiB, checker `true`, --jobs {jobs}; medians of {rounds} rounds; "
      f"{os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}")
if json_out:
    json.dump({"rounds": rounds, "jobs": jobs, "dir_kib": size_kib, "kernel": platform.release(),
               "cpus": os.cpu_count(), "results": sorted(rows.values(), key=lambda r: (r["ops"], r["model"]))},
              open(json_out, "w"), indent=2)
PY
