#!/usr/bin/env bash
# What recording costs: the same fio sequential-write job (1 MiB writes, 1 GiB, final fsync) on the
# backing directory itself (native), through a faultfs mount, and through a faultfs mount with
# --record. Several interleaved rounds; prints the median throughput of each and the ratios. The
# figure that matters is record/faultfs: the time recording adds to the same mount (the target is
# at most 1.5x the time, i.e. a throughput ratio of at least 0.67).
#
#   tools/bench/record-overhead.sh [--rounds N] [--dir DIR] [--size 1G] [--mount-args "ARGS"]
#                                  [--json FILE]
#
# The record log and its snapshot go next to the data, on the same filesystem (a recording writes
# everything twice: once to the data, once to the log). Each run starts from an empty directory,
# so the snapshot a recording mount takes first is empty. Throughput is measured on the wall clock
# of the whole fio run, final fsync included; the recording run also includes unmounting, which
# writes out and syncs the rest of the log.
#
# Where: by default a fresh ext4 (with a journal) on an 8 GiB image in /var/tmp, loop-mounted with
# direct I/O and removed at the end, as in fio-compare.sh. --dir DIR uses DIR as is. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=tools/bench/common.sh
. "$here/common.sh"

rounds=5
base=""
size=1G
mount_args=""
json_out=""
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --dir) base=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --mount-args) mount_args=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "record-overhead: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

faultfs=${FAULTFS_BIN:-$root/build/src/cli/faultfs}
[ -x "$faultfs" ] || { echo "record-overhead: no faultfs binary at $faultfs (build first: tools/test.sh)" >&2; exit 2; }
command -v fio >/dev/null || { echo "record-overhead: fio is not installed (tools/install-deps.sh)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "record-overhead: needs root (drop_caches, mount)" >&2; exit 2; }

work=""
results=$(mktemp)
mib=$(numfmt --from=iec "$size" | awk '{ printf "%d", $1 / 1048576 }')
is_mounted() { [ -n "$work" ] && grep -q " $work/data fuse.faultfs " /proc/mounts; }
cleanup() {
  is_mounted && { "$faultfs" umount "$work/data" >/dev/null 2>&1 || umount -l "$work/data"; }
  [ -n "$work" ] && rm -rf "$work"
  scratch_fs_remove
  rm -f "$results"
}
trap cleanup EXIT
if [ -z "$base" ]; then
  scratch_fs_create faultfs-recbench 8G
  base=$scratch_fs_dir
fi
work=$(mktemp -d "$base/faultfs-recbench-XXXXXX")
dir=$work/data
log=$work/record.log
mkdir -p "$dir"

mount_faultfs() {  # [extra mount arguments]
  # shellcheck disable=SC2086
  "$faultfs" mount $mount_args "$@" --log-file "$work/daemon.log" "$dir" >/dev/null
  stat -f -c %T "$dir" | grep -q fuse || { echo "record-overhead: $dir is not a FUSE mount" >&2; exit 1; }
}
now_ns() { date +%s%N; }

# run SIDE -> prints MiB/s
run() {
  local side=$1 start end
  rm -rf "$dir" "$log" "$log.base"; mkdir -p "$dir"
  settle_memory
  start=$(now_ns)
  case $side in
    faultfs) mount_faultfs ;;
    record) mount_faultfs --record "$log" ;;
  esac
  fio --output-format=json --ioengine=psync --name=seqwrite --filename="$dir/seq.dat" --rw=write \
    --bs=1M --size="$size" --end_fsync=1 >/dev/null
  [ "$side" != native ] && "$faultfs" umount "$dir" >/dev/null
  end=$(now_ns)
  if [ "$side" = record ]; then
    [ -s "$log" ] || { echo "record-overhead: the recording left no log" >&2; exit 1; }
    echo "  record log: $(du -h --apparent-size "$log" | cut -f1)" >&2
  fi
  awk -v ns=$((end - start)) -v mib="$mib" 'BEGIN { printf "%.1f", mib / (ns / 1e9) }'
}

sides="native faultfs record"
for round in $(seq 1 "$rounds"); do
  # shellcheck disable=SC2086  # one word per side
  order=$(rotated_sides "$round" $sides)
  for side in $order; do
    value=$(run "$side")
    echo "$side $value" >> "$results"
    printf 'round %d/%d  %-8s %s MiB/s\n' "$round" "$rounds" "$side" "$value" >&2
  done
done

python3 - "$results" "$json_out" "$rounds" "$size" "$mount_args" <<'PY'
import json, os, platform, statistics, sys
path, json_out, rounds, size, mount_args = sys.argv[1:6]
runs = {}
for line in open(path):
    side, value = line.split()
    runs.setdefault(side, []).append(float(value))
med = {side: statistics.median(v) for side, v in runs.items()}
print(f"\n| fio seqwrite {size}, 1 MiB, end_fsync | MiB/s (median) | runs |")
print("|---|---:|---|")
for side in ("native", "faultfs", "record"):
    print(f"| {side} | {med[side]:.0f} | {', '.join(f'{x:.0f}' for x in runs[side])} |")
t = lambda side: 1 / med[side]  # time per MiB
print(f"\nrecord/faultfs time ratio: {t('record') / t('faultfs'):.2f}x (target: at most 1.5x)")
print(f"faultfs/native time ratio: {t('faultfs') / t('native'):.2f}x; record/native: {t('record') / t('native'):.2f}x")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"medians of {rounds} interleaved rounds; {os.cpu_count()} CPUs ({cpu}), kernel {platform.release()}"
      f"{', mount args: ' + mount_args if mount_args else ''}")
if json_out:
    json.dump({"rounds": int(rounds), "size": size, "mount_args": mount_args, "kernel": platform.release(),
               "cpus": os.cpu_count(), "mib_per_s": med, "runs": runs,
               "record_vs_faultfs_time": t("record") / t("faultfs"),
               "faultfs_vs_native_time": t("faultfs") / t("native")}, open(json_out, "w"), indent=2)
PY
