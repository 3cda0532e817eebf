#!/usr/bin/env bash
# The faultfs demo (a couple of minutes once built): installs what is missing, builds, then
# mounts faultfs in place over a small "database" directory, runs a workload through the mount,
# shows what happened, and unmounts; injects faults, live; runs crash-consistency tests
# (faultfs crashtest); puts faults and crash states under SQLite; runs the replicated-log harness
# for 20 s; and ends with a summary of what it found. No mount is left behind, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== installing what is missing (Debian packages)"
tools/install-deps.sh
echo "== building faultfs (a few minutes the first time)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Every 20th step of the build, and whatever else it says (errors in full).
cmake --build build -j "$(nproc)" --target faultfs |
  awk '/^\[[0-9]+\/[0-9]+\]/ { if (++n % 20 == 0) { sub(/ .*/, ""); print "   built " $0 } next } { print }'
faultfs=$PWD/build/src/cli/faultfs
echo "== built: $faultfs"

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

step "faults: a policy with a mistake is refused, every error with file:line:column"
cat > "$work/broken.toml" <<'TOML'
[[rule]]
ops = ["write", "fsycn"]
action = "errno"
errno = "EIOO"
probability = 1.5
TOML
"$faultfs" policy check "$work/broken.toml" || echo "(exit status $?)"

step "faults: fsync of WAL files fails once with EIO; reads of CURRENT come back corrupted"
cat > "$work/demo.toml" <<'TOML'
[[rule]]
id = "wal-fsync-fails"
ops = ["fsync", "fdatasync"]
path = "wal/*.log"
nth = 1
action = "fsync_fail"
fsync_fail = { errno = "EIO", semantics = "linux" }

[[rule]]
id = "current-bit-rot"
ops = ["read"]
path = "CURRENT"
action = "corrupt"
corrupt = { mode = "zero", range = [0, 8], on = "read" }
TOML
"$faultfs" policy explain "$work/demo.toml"
"$faultfs" mount --log-file "$work/daemon.log" --policy "$work/demo.toml" --seed 42 \
  --events "$work/events.jsonl" "$data"
(
  cd "$data"
  printf 'record-3\n' >> wal/000001.log
  sync wal/000001.log || echo "(the application saw the failed fsync)"
  sync wal/000001.log && echo "second fsync: ok (Linux semantics: the unsynced data was dropped)"
  printf 'CURRENT through the mount: '; od -An -c CURRENT | head -1
)

step "faults, live: faultfs ctl turns the disk into a 3 MiB one; df agrees, writes stop exactly at the budget"
cat > "$work/small-disk.toml" <<'TOML'
[capacity]
bytes = "3 MiB"
errno = "ENOSPC"
TOML
"$faultfs" ctl "$data" add "$work/small-disk.toml"
df -h "$data" | sed "s|$work/||"
dd if=/dev/zero of="$data/fill" bs=64k count=100 2>&1 | grep -E "No space|copied" || true
df -h "$data" | sed "s|$work/||"
"$faultfs" ctl "$data" rules
"$faultfs" ctl "$data" status

step "the fault event log: what the application was told"
cat "$work/events.jsonl"
"$faultfs" umount "$data"
printf 'CURRENT on the disk, after unmount (reads were corrupted, the disk never was): '
od -An -c "$data/CURRENT" | head -1

# What each part found, for the summary at the end.
summary=()
found() { summary+=("$(printf '%-34s %s' "$1" "$2")"); }
states_line() { grep -o '[0-9]* checked: [0-9]* passed, [0-9]* failed' "$1" | head -1; }

step "crash consistency: replace a file by rename, without fsync, and check every crash state (model pp)"
mkdir -p "$work/app" && echo old > "$work/app/config"
check='c=$(cat config); [ "$c" = old ] || [ "$c" = new ] || { echo "config holds: $c"; exit 1; }'
TMPDIR=$work "$faultfs" crashtest --dir "$work/app" --seed 1 --model pp \
  --workload 'echo new > config.tmp && mv config.tmp config' --check "$check" 2>/dev/null \
  | tee "$work/replace.txt" || echo "(exit status $?: a crash state failed)"
found "rename without fsync (pp)" "$(states_line "$work/replace.txt")"

step "the same with fsyncs of the file and of the directory: clean"
TMPDIR=$work "$faultfs" crashtest --dir "$work/app" --seed 1 --model pp \
  --workload 'echo new > config.tmp && sync config.tmp && mv config.tmp config && sync .' \
  --check "$check" 2>/dev/null | tee "$work/replace-synced.txt"
found "rename with fsyncs (pp)" "$(states_line "$work/replace-synced.txt")"

step "faults reaching SQLite through a mount: EIO and ENOSPC mid-transaction (examples/sqlite/faults.sh)"
sh examples/sqlite/faults.sh "$faultfs" | tee "$work/sqlite-faults.txt" || true
found "SQLite, EIO and ENOSPC" "$(tail -1 "$work/sqlite-faults.txt")"

step "SQLite crash states, rollback journal vs WAL, synchronous=FULL (model pp; examples/sqlite)"
for mode in delete wal; do
  echo "-- journal_mode=$mode"
  TMPDIR=$work "$faultfs" crashtest --dir "$(mktemp -d "$work/db-XXXX")" --seed 1 --model pp \
    --workload "sh $PWD/examples/sqlite/workload.sh $mode full 2" \
    --check "sh $PWD/examples/sqlite/check.sh" 2>/dev/null >"$work/sqlite-$mode.txt" || true
  sed -n '/^faultfs crashtest: model/p; /^Findings/,/^  *e\.g\./p' "$work/sqlite-$mode.txt"
  finding=$(sed -n 's/^  1\. //p' "$work/sqlite-$mode.txt" | head -1)
  found "SQLite $mode, FULL (pp)" "$(states_line "$work/sqlite-$mode.txt")${finding:+; fix: $finding}"
done

step "the replicated-log harness: 3 nodes on faultfs mounts, 20 s of every nemesis"
"$faultfs" harness run --work "$work/harness" --duration 20s --seed 1 --nemesis all \
  --json "$work/harness.json" 2>&1 | tail -15 || true
verdict=$(python3 -c "import json; r = json.load(open('$work/harness.json')); \
print(r.get('verdict'), '-', r['check']['ops']['append'].get('ok', 0), 'appends acknowledged')" \
  2>/dev/null || echo "no report")
found "replicated log, every nemesis" "$verdict"

step "daemon log"
cat "$work/daemon.log"
grep -q " $data fuse.faultfs " /proc/mounts && { echo "demo: mount left behind" >&2; exit 1; }
step "summary: what faultfs found"
printf '  %s\n' "${summary[@]}"
echo
echo "demo finished: no mount left behind (case studies of real databases: examples/*/README.md)"
