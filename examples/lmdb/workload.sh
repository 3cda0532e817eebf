#!/bin/sh
# An LMDB workload for `faultfs crashtest` (examples/findings.md): 4 transactions through
# lmdb-utils' mdb_load, each committing one key into the environment db.mdb (no subdirectory),
# each marked key=value once mdb_load has returned (LMDB syncs every commit by default).
set -e
i=1
while [ "$i" -le 4 ]; do
  printf 'key%s\nvalue-%s\n' "$i" "$i" | mdb_load -T -n -f /dev/stdin db.mdb
  "$FAULTFS" ctl "$FAULTFS_DIR" mark "key$i=value-$i" >/dev/null
  i=$((i + 1))
done
