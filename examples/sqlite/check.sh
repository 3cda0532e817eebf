#!/bin/sh
# The checker for workload.sh: a crash state is consistent when the database passes
# PRAGMA integrity_check and holds every row acknowledged before the crash ($FAULTFS_MARKS).
# Runs in the crash state's directory. Exit 0: consistent; 1: violation.
if [ ! -e db ]; then
  if grep -q . "$FAULTFS_MARKS"; then echo "db is missing, but rows were acknowledged"; exit 1; fi
  exit 0
fi
result=$(sqlite3 db "PRAGMA integrity_check;" 2>&1) || { echo "sqlite3 failed: $result"; exit 1; }
[ "$result" = ok ] || { echo "integrity_check: $result"; exit 1; }
while read -r _ id; do
  count=$(sqlite3 db "SELECT count(*) FROM t WHERE id=$id;" 2>&1)
  [ "$count" = 1 ] || { echo "row $id was acknowledged but is missing ($count)"; exit 1; }
done < "$FAULTFS_MARKS"
exit 0
