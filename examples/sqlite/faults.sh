#!/bin/sh
# Live faults under SQLite: a disk that fails a write with EIO, and a disk that fills up (ENOSPC),
# each in the middle of a 50-row transaction, in rollback-journal and in WAL mode. For each case
# the script asserts that the error reaches the client (sqlite3 fails with SQLite's message for
# it) and that the database stays intact: after unmounting, PRAGMA integrity_check is ok, the 10
# rows committed before are there and none of the failed transaction's are. The control runs the
# same transaction on the same mount with no fault: it commits.
#   usage: faults.sh [FAULTFS]        (default: faultfs on $PATH)
# Prints one line per case; exits 0 when every case came out as expected, 1 otherwise.
set -eu
faultfs=${1:-faultfs}
work=$(mktemp -d "${TMPDIR:-/tmp}/faultfs-sqlite-faults-XXXXXX")
data=$work/data
cleanup() {
  if grep -q " $data fuse.faultfs " /proc/mounts; then "$faultfs" umount --lazy "$data" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# 10 committed rows, in MODE, before the mount.
fresh_db() {
  rm -rf "$data" && mkdir "$data"
  sqlite3 "$data/db" "PRAGMA journal_mode=$1; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10)
    INSERT INTO t SELECT i, randomblob(3000) FROM c;" >/dev/null
}

# The 50-row transaction (rows 11-60, about 150 KB) through the mount; its output and status.
transaction() {
  sqlite3 "$data/db" "PRAGMA synchronous=FULL; BEGIN;
    WITH RECURSIVE c(i) AS (SELECT 11 UNION ALL SELECT i + 1 FROM c WHERE i < 60)
    INSERT INTO t SELECT i, randomblob(3000) FROM c; COMMIT;" 2>&1
}

failures=0
# One case: MODE, a name, the policy, the message the client must see ("" = it must commit) and
# the rows the database must hold after unmounting.
run_case() {
  mode=$1 name=$2 policy=$3 expect=$4 rows=$5
  fresh_db "$mode"
  printf '%s\n' "$policy" >"$work/policy.toml"
  "$faultfs" mount --policy "$work/policy.toml" --seed 1 --log-file "$work/daemon.log" "$data" >/dev/null
  status=0
  said=$(transaction) || status=$?
  "$faultfs" umount "$data" >/dev/null
  after=$(sqlite3 "$data/db" "PRAGMA integrity_check; SELECT count(*) FROM t;" 2>&1 | tr '\n' ' ')
  verdict=ok
  if [ -z "$expect" ]; then
    [ "$status" = 0 ] || verdict="FAILED: the transaction failed: $said"
  elif [ "$status" = 0 ]; then
    verdict="FAILED: the transaction committed; the client never saw the fault"
  else
    case $said in *"$expect"*) ;; *) verdict="FAILED: the client saw '$said', not '$expect'" ;; esac
  fi
  [ "$after" = "ok $rows " ] || verdict="FAILED: after unmounting: $after(want: ok $rows)"
  [ "$verdict" = ok ] || failures=$((failures + 1))
  printf '%-6s %-34s client: %-30s after: %-8s %s\n' "$mode" "$name" \
    "$(printf '%s' "${said:-committed}" | sed 's/^Error: //; s/^stepping, //' | head -1)" \
    "$(printf '%s' "$after" | sed 's/ $//')" "$verdict"
}

eio_on() {
  printf '[[rule]]\nops = ["write"]\npath = "%s"\nnth = 2\naction = "errno"\nerrno = "EIO"\n' "$1"
}
full='[capacity]
free_bytes = "64 KiB"
errno = "ENOSPC"'

for mode in delete wal; do
  file=db
  [ "$mode" = wal ] && file=db-wal
  run_case "$mode" "control: no fault" "" "" 60
  run_case "$mode" "EIO on the 2nd write to $file" "$(eio_on "$file")" "disk I/O error" 10
  run_case "$mode" "ENOSPC: 64 KiB left on the disk" "$full" "database or disk is full" 10
done
[ "$failures" = 0 ] && echo "every case as expected" && exit 0
echo "$failures case(s) not as expected" >&2
exit 1
