#!/usr/bin/env bash
# Runs the same fio jobs natively and through faultfs, interleaved, for several rounds, and prints
# the median of each and the ratio faultfs/native (higher is better; 1.00 = no overhead).
#
# Both sides use the very same directory: each faultfs run mounts faultfs in place over it (and
# unmounts after). On ext4 the cost of creating files differs up to 40x between directories (it
# depends on the block group a directory landed in), so two sibling directories would compare
# disk layouts, not faultfs.
#
#   tools/bench/fio-compare.sh [--rounds N] [--dir DIR] [--runtime S] [--mount-args "ARGS"]
#                              [--json FILE]
#                              [--jobs "seqwrite seqread randread randwrite append metadata"]
#                              [--rules N] [--cpu-load N] [--passthrough-off]
#
# --passthrough-off adds a side: faultfs with --passthrough off, every read and write through the
# daemon (the default side serves files no rule reads or writes in kernel passthrough where the
# kernel offers it). Both are reported against native in the same interleaved rounds.
#
# --cpu-load N runs N CPU hogs (busy loops at normal priority) for the whole comparison, beside
# every timed run of every side: a database server's CPUs are often busy, and a daemon that only
# keeps up on an idle machine changes the timing of what it tests.
#
# --rules N adds a third side: faultfs with a policy of N rules on every op the jobs issue that
# match none of their files (paths anchored on other directories and other extensions, the way
# real rules target a WAL or a table directory). It shows what a loaded policy costs; the event
# log of those runs must stay empty, or the script fails.
#
# Where: by default a fresh ext4 (with a journal, like a database's data disk) on a 6 GiB image in
# /var/tmp, loop-mounted with direct I/O, so on the same disk; it is removed at the end. A long-used
# filesystem is a poor baseline: ext4 without a journal will not reuse an inode within 60-300 s of
# its deletion and scans past every such inode on each create, so file creation there slows by
# 10-20x after a large deletion and the result depends on what ran before. --dir DIR uses DIR as is.
#
# Jobs: seqwrite (1 MiB writes, 1 GiB, final fsync), seqread (that file, caches dropped first),
# randread (4 KiB, 2 jobs, --runtime s), randread_direct (the same with O_DIRECT), randwrite (4 KiB,
# fdatasync after every write, --runtime s), append (128-byte writes one after another, as a
# write-ahead log or an append-only file makes them, --runtime s; writes per second), sqlite_wal
# and sqlite_delete (one-row transactions, synchronous=FULL, WAL or rollback journal, --runtime
# s; transactions per second, tools/bench/sqlite-txn.py), metadata (create + write 4 KiB, stat,
# unlink 20,000 files), and RocksDB's db_bench (rocksdb-tools; 100-byte values, no compression,
# --runtime s each): rocksdb_fillrandom, rocksdb_overwrite and rocksdb_readrandom (over a fresh
# sequential fill), rocksdb_fillsync (every write synced); operations per second. Throughput is measured on the wall
# clock for seqwrite, seqread and metadata (whole fio run, including the final fsync), from fio's
# IOPS for the timed random jobs. Every timed run starts from the same memory state
# (settle_memory in common.sh: caches dropped, free memory resident). Needs root (drop_caches,
# mount).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tools/bench/common.sh
. "$here/common.sh"

rounds=4
base=
runtime=30
mount_args=""
json_out=""
jobs="seqwrite seqread randread randwrite append metadata"
rules=0
cpu_load=0
passthrough_off=0
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --dir) base=$2; shift 2 ;;
    --runtime) runtime=$2; shift 2 ;;
    --mount-args) mount_args=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --rules) rules=$2; shift 2 ;;
    --cpu-load) cpu_load=$2; shift 2 ;;
    --passthrough-off) passthrough_off=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^#/p}' "$0"; exit 0 ;;
    *) echo "fio-compare: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

faultfs=${FAULTFS_BIN:-$root/build/src/cli/faultfs}
[ -x "$faultfs" ] || { echo "fio-compare: no faultfs binary at $faultfs (build first: tools/test.sh)" >&2; exit 2; }
command -v fio >/dev/null || { echo "fio-compare: fio is not installed (tools/install-deps.sh)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "fio-compare: needs root (drop_caches, mount)" >&2; exit 2; }

results=$(mktemp)
policy=$(mktemp --suffix=.toml)
events=$(mktemp)
# N rules that match nothing the jobs touch: half anchored on a directory, half on an extension.
python3 - "$rules" > "$policy" <<'PY'
import sys
ops = '["read", "write", "open", "create", "lookup", "getattr", "setattr", "unlink", "release", "fsync", "fdatasync"]'
for i in range(int(sys.argv[1])):
    path = f"cold-{i}/**" if i % 2 == 0 else f"**/*.x{i}"
    print(f'[[rule]]\nid = "r{i}"\nops = {ops}\npath = "{path}"\naction = "errno"\nerrno = "EIO"\n')
PY
if [ -z "$base" ]; then
  scratch_fs_create faultfs-bench 6G
  base=$scratch_fs_dir
fi
dir=$base/data
is_mounted() { grep -q " $dir fuse.faultfs " /proc/mounts; }
hogs=()
cleanup() {
  [ ${#hogs[@]} -eq 0 ] || kill "${hogs[@]}" 2>/dev/null || true
  is_mounted && "$faultfs" umount --lazy "$dir" >/dev/null 2>&1
  scratch_fs_remove
  rm -f "$results" "$policy" "$events"
}
trap cleanup EXIT
is_mounted && "$faultfs" umount "$dir" >/dev/null
rm -rf "$dir"
mkdir -p "$dir"
mount_faultfs() {  # [extra mount arguments]
  # shellcheck disable=SC2086
  "$faultfs" mount $mount_args "$@" --log-file /var/tmp/faultfs-bench-daemon.log "$dir" >/dev/null
  stat -f -c %T "$dir" | grep -q fuse || { echo "fio-compare: $dir is not a FUSE mount" >&2; exit 1; }
}

now_ns() { date +%s%N; }
fio_common=(--output-format=json --group_reporting --ioengine=psync)

# rocksdb BENCHMARK DIR [db_bench arguments] -> the ops/s db_bench reports for BENCHMARK
rocksdb() {
  local bench=$1 dir=$2 out
  shift 2
  command -v db_bench >/dev/null || { echo "fio-compare: db_bench is not installed (apt-get install rocksdb-tools)" >&2; exit 2; }
  rm -rf "$dir/rocks"
  out=$(db_bench --db="$dir/rocks" --value_size=100 --compression_type=none --threads=1 \
    --duration="$runtime" "$@")
  rm -rf "$dir/rocks"
  # Progress lines end in carriage returns; the result line: "NAME : X micros/op Y ops/sec ...".
  echo "$out" | tr '\r' '\n' | awk -v b="$bench" '$1 == b && $2 == ":" { for (i = 1; i < NF; i++) if ($(i + 1) ~ /^ops\/sec;?$/) { print $i; found = 1 } }
    END { if (!found) { print "fio-compare: db_bench printed no " b " line" > "/dev/stderr"; exit 1 } }'
}

# run_job JOB DIR -> prints the throughput (MiB/s or ops/s)
run_job() {
  local job=$1 dir=$2 start end out
  case $job in
    seqwrite)
      rm -f "$dir/seq.dat"; settle_memory
      start=$(now_ns)
      fio "${fio_common[@]}" --name=seqwrite --filename="$dir/seq.dat" --rw=write --bs=1M \
        --size=1G --end_fsync=1 >/dev/null
      end=$(now_ns)
      awk -v ns=$((end - start)) 'BEGIN { printf "%.1f", 1024 / (ns / 1e9) }' ;;
    seqread)
      [ -f "$dir/seq.dat" ] || fio "${fio_common[@]}" --name=prep --filename="$dir/seq.dat" \
        --rw=write --bs=1M --size=1G --end_fsync=1 >/dev/null
      settle_memory
      start=$(now_ns)
      fio "${fio_common[@]}" --name=seqread --filename="$dir/seq.dat" --rw=read --bs=1M --size=1G >/dev/null
      end=$(now_ns)
      awk -v ns=$((end - start)) 'BEGIN { printf "%.1f", 1024 / (ns / 1e9) }' ;;
    randread)
      [ -f "$dir/seq.dat" ] || fio "${fio_common[@]}" --name=prep --filename="$dir/seq.dat" \
        --rw=write --bs=1M --size=1G --end_fsync=1 >/dev/null
      settle_memory  # cold for both: otherwise faultfs reads would hit the backing file's cache
      out=$(fio "${fio_common[@]}" --name=randread --filename="$dir/seq.dat" --rw=randread --bs=4k \
        --size=1G --numjobs=2 --time_based --runtime="$runtime")
      echo "$out" | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["jobs"][0]["read"]["iops"])' ;;
    randread_direct)
      [ -f "$dir/seq.dat" ] || fio "${fio_common[@]}" --name=prep --filename="$dir/seq.dat" \
        --rw=write --bs=1M --size=1G --end_fsync=1 >/dev/null
      settle_memory
      # O_DIRECT: every read reaches the disk, on both sides, so no cache can flatter either.
      out=$(fio "${fio_common[@]}" --name=randread --filename="$dir/seq.dat" --rw=randread --bs=4k \
        --size=1G --numjobs=2 --direct=1 --time_based --runtime="$runtime")
      echo "$out" | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["jobs"][0]["read"]["iops"])' ;;
    randwrite)
      settle_memory
      out=$(fio "${fio_common[@]}" --name=randwrite --filename="$dir/rw.dat" --rw=randwrite --bs=4k \
        --size=256M --fdatasync=1 --time_based --runtime="$runtime")
      rm -f "$dir/rw.dat"
      echo "$out" | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["jobs"][0]["write"]["iops"])' ;;
    sqlite_wal|sqlite_delete)
      settle_memory
      python3 "$here/sqlite-txn.py" "$dir/bench.db" --journal "${job#sqlite_}" --seconds "$runtime"
      rm -f "$dir"/bench.db* ;;
    append)
      settle_memory
      out=$(fio "${fio_common[@]}" --name=append --filename="$dir/wal.dat" --rw=write --bs=128 \
        --size=256M --time_based --runtime="$runtime")
      rm -f "$dir/wal.dat"
      echo "$out" | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["jobs"][0]["write"]["iops"])' ;;
    rocksdb_fillrandom)
      settle_memory; rocksdb fillrandom "$dir" --benchmarks=fillrandom --num=5000000 ;;
    rocksdb_overwrite)
      settle_memory; rocksdb overwrite "$dir" --benchmarks=fillseq,overwrite --num=500000 ;;
    rocksdb_readrandom)
      settle_memory; rocksdb readrandom "$dir" --benchmarks=fillseq,readrandom --num=500000 ;;
    rocksdb_fillsync)
      settle_memory; rocksdb fillsync "$dir" --benchmarks=fillsync --num=5000000 ;;
    metadata)
      local files=(--filesize=4k --nrfiles=20000 --openfiles=1 --file_service_type=sequential)
      # One directory for every run: a new one would land in another block group (see above).
      mkdir -p "$dir/meta"; settle_memory
      start=$(now_ns)
      fio "${fio_common[@]}" --name=create --directory="$dir/meta" --ioengine=sync --rw=write --bs=4k \
        --create_on_open=1 "${files[@]}" >/dev/null
      fio "${fio_common[@]}" --name=create --directory="$dir/meta" --ioengine=filestat "${files[@]}" >/dev/null
      fio "${fio_common[@]}" --name=create --directory="$dir/meta" --ioengine=filedelete "${files[@]}" >/dev/null
      end=$(now_ns)
      [ -z "$(ls -A "$dir/meta")" ] || { echo "fio-compare: metadata job left files in $dir/meta" >&2; exit 1; }
      awk -v ns=$((end - start)) 'BEGIN { printf "%.0f", 60000 / (ns / 1e9) }' ;;
    *) echo "fio-compare: unknown job $job" >&2; exit 2 ;;
  esac
}

for _ in $(seq 1 "$cpu_load"); do
  bash -c 'while :; do :; done' &
  hogs+=($!)
done
sides="native faultfs"
[ "$passthrough_off" -eq 1 ] && sides="$sides off"
[ "$rules" -gt 0 ] && sides="$sides rules"
for round in $(seq 1 "$rounds"); do
  for job in $jobs; do
    # shellcheck disable=SC2086  # one word per side
    order=$(rotated_sides "$round" $sides)
    for side in $order; do
      case $side in
        faultfs) mount_faultfs ;;
        rules) mount_faultfs --policy "$policy" --events "$events" ;;
        off) mount_faultfs --passthrough off ;;
      esac
      value=$(run_job "$job" "$dir")
      [ "$side" != native ] && "$faultfs" umount "$dir" >/dev/null
      echo "$job $side $value" >> "$results"
      printf 'round %d/%d  %-10s %-8s %s\n' "$round" "$rounds" "$job" "$side" "$value" >&2
    done
  done
done

if [ -s "$events" ]; then
  echo "fio-compare: rules that should match nothing injected faults:" >&2; head -3 "$events" >&2; exit 1
fi

python3 - "$results" "$json_out" "$rounds" "$mount_args" "$rules" "$cpu_load" "$passthrough_off" <<'PY'
import json, statistics, sys, platform, os
path, json_out, rounds, mount_args, nrules = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
cpu_load, off = int(sys.argv[6]), sys.argv[7] == "1"
data = {}
for line in open(path):
    job, side, value = line.split()
    data.setdefault(job, {}).setdefault(side, []).append(float(value))
units = {"seqwrite": "MiB/s", "seqread": "MiB/s", "randread": "IOPS", "randread_direct": "IOPS", "randwrite": "IOPS",
         "append": "writes/s", "sqlite_wal": "txn/s", "sqlite_delete": "txn/s", "metadata": "ops/s",
         "rocksdb_fillrandom": "ops/s", "rocksdb_overwrite": "ops/s", "rocksdb_readrandom": "ops/s",
         "rocksdb_fillsync": "ops/s"}
head = "| job | native | faultfs | faultfs/native |"
if off:
    head += " passthrough off | off/native |"
if nrules:
    head += f" {nrules} rules | {nrules} rules/faultfs |"
print("\n" + head)
print("|---|" + "---:|" * (head.count("|") - 2))
rows = []
for job, sides in data.items():
    n = statistics.median(sides["native"]); f = statistics.median(sides["faultfs"])
    row = {"job": job, "unit": units[job], "native": n, "faultfs": f, "ratio": f / n,
           "native_runs": sides["native"], "faultfs_runs": sides["faultfs"]}
    line = f"| {job} ({units[job]}) | {n:.0f} | {f:.0f} | {f / n:.2f} |"
    if off:
        o = statistics.median(sides["off"])
        row.update({"passthrough_off": o, "passthrough_off_ratio": o / n, "passthrough_off_runs": sides["off"]})
        line += f" {o:.0f} | {o / n:.2f} |"
    if nrules:
        r = statistics.median(sides["rules"])
        row.update({"rules": r, "rules_ratio": r / f, "rules_runs": sides["rules"]})
        line += f" {r:.0f} | {r / f:.3f} |"
    rows.append(row)
    print(line)
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"\nmedians of {rounds} interleaved rounds; {os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}"
      f"{', mount args: ' + mount_args if mount_args else ''}"
      f"{f', {cpu_load} CPU hogs beside every run' if cpu_load else ''}")
if json_out:
    json.dump({"rounds": int(rounds), "mount_args": mount_args, "rules": nrules, "cpu_load": cpu_load,
               "passthrough_off_side": off, "kernel": platform.release(),
               "cpus": os.cpu_count(), "results": rows}, open(json_out, "w"), indent=2)
PY
