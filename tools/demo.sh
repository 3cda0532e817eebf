#!/usr/bin/env bash
# The faultfs demo: installs what is missing, builds, then mounts faultfs in place over a small
# "database" directory, runs a workload through the mount, shows what happened, and unmounts.
# No mount is left behind, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target faultfs >/dev/null
faultfs=$PWD/build/src/cli/faultfs

work=$(mktemp -d /tmp/faultfs-demo-XXXXXX)
data=$work/data
cleanup() {
  if grep -q " $data fuse.faultfs " /proc/mounts; then "$faultfs" umount --lazy "$data" >/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a data directory with existing contents"
mkdir -p "$data/wal"
echo "MANIFEST-000001" > "$data/CURRENT"
printf 'record-1\n' > "$data/wal/000001.log"
find "$data" -type f | sort | sed "s|$work/||"

step "faultfs mount $data   (in place: the directory stays where it is)"
"$faultfs" mount --log-file "$work/daemon.log" "$data"
"$faultfs" status

step "a workload through the mount: append + fsync, write-then-rename, fallocate, xattr"
(
  cd "$data"
  printf 'record-2\n' >> wal/000001.log
  sync wal/000001.log
  echo "MANIFEST-000002" > CURRENT.tmp
  sync CURRENT.tmp
  mv CURRENT.tmp CURRENT
  fallocate -l 1M wal/000002.log
  setfattr -n user.demo -v hello CURRENT 2>/dev/null || true
)
stat -f -c 'filesystem type seen by the workload: %T' "$data"
ls -la "$data" "$data/wal"

step "faultfs umount $data"
"$faultfs" umount "$data"

step "after unmount the directory holds exactly what the workload wrote"
cat "$data/CURRENT" "$data/wal/000001.log"
stat -c '%n %s bytes' "$data/wal/000002.log"

step "daemon log"
cat "$work/daemon.log"
grep -q " $data fuse.faultfs " /proc/mounts && { echo "demo: mount left behind" >&2; exit 1; }
echo
echo "demo finished: no mount left behind"
