#!/bin/sh
# A SQLite workload for `faultfs crashtest`: creates table t and commits N single-row
# transactions, each acknowledged with a marker once SQLite has returned from its COMMIT.
#   usage: workload.sh JOURNAL_MODE SYNCHRONOUS N [each|one]     e.g. workload.sh wal full 3
# each (the default): a sqlite3 process per transaction, as a script would run it. Closing the
# last connection to a WAL database checkpoints it (the WAL is synced, copied into the database
# and removed), so every close is a sync point whatever `synchronous` says.
# one: a single connection commits every transaction and stays open, as a server's would; the
# markers are set from inside it (.shell), right after each commit returns.
# Runs in the recording mount ($FAULTFS_DIR); $FAULTFS is the faultfs binary.
set -e
mode=$1 sync=$2 n=$3 connections=${4:-each}
sqlite3 db "PRAGMA journal_mode=$mode; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" >/dev/null
mark="\"$FAULTFS\" ctl \"$FAULTFS_DIR\" mark"
i=1
if [ "$connections" = one ]; then
  {
    echo ".bail on"
    echo "PRAGMA synchronous=$sync;"
    while [ "$i" -le "$n" ]; do
      echo "INSERT INTO t VALUES($i, 'row $i');"
      echo ".shell $mark 'row $i' >/dev/null"
      i=$((i + 1))
    done
  } | sqlite3 db
  exit 0
fi
while [ "$i" -le "$n" ]; do
  # synchronous is a per-connection setting: every sqlite3 call sets it.
  sqlite3 db "PRAGMA synchronous=$sync; INSERT INTO t VALUES($i, 'row $i');"
  eval "$mark 'row $i'" >/dev/null
  i=$((i + 1))
done
