#!/bin/sh
# The checker for workload.sh: every acknowledged key=value is in the environment.
grep -q . "$FAULTFS_MARKS" || exit 0 # nothing acknowledged: an empty or missing env is a new one
[ -e db.mdb ] || { echo "db.mdb is missing, but keys were acknowledged"; exit 1; }
out=$(mdb_dump -n -p db.mdb 2>&1) || { echo "mdb_dump: $out" | head -2; exit 1; }
while IFS='=' read -r key value; do
  printf '%s\n' "$out" | grep -qx " *$value" || { echo "$key=$value acknowledged but missing"; exit 1; }
done <"$FAULTFS_MARKS"
exit 0
