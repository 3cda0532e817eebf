#!/bin/sh
# A SQLite workload for `faultfs crashtest`: creates table t and commits N single-row
# transactions, each acknowledged with a marker once sqlite3 has returned.
#   usage: workload.sh JOURNAL_MODE SYNCHRONOUS N     e.g. workload.sh wal full 3
# Runs in the recording mount ($FAULTFS_DIR); $FAULTFS is the faultfs binary.
set -e
mode=$1 sync=$2 n=$3
sqlite3 db "PRAGMA journal_mode=$mode; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" >/dev/null
i=1
while [ "$i" -le "$n" ]; do
  # synchronous is a per-connection setting: every sqlite3 call sets it.
  sqlite3 db "PRAGMA synchronous=$sync; INSERT INTO t VALUES($i, 'row $i');"
  "$FAULTFS" ctl "$FAULTFS_DIR" mark "row $i" >/dev/null
  i=$((i + 1))
done
