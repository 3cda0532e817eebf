#!/bin/sh
# The checker for workload.sh: config.json is whole (one JSON object with a generation) and at
# least as new as the last generation acknowledged before the crash ($FAULTFS_MARKS).
# Runs in the crash state's directory. Exit 0: consistent; 1: violation.
want=$(sed -n 's/^generation //p' "$FAULTFS_MARKS" | tail -n 1)
if [ ! -e config.json ]; then
  [ -z "$want" ] && exit 0
  echo "config.json is missing, but generation $want was acknowledged"
  exit 1
fi
got=$(sed -n 's/^{"generation": \([0-9][0-9]*\), "name": "service-\1"}$/\1/p' config.json)
[ -n "$got" ] || { echo "config.json is not a whole configuration: '$(cat config.json)'"; exit 1; }
if [ -n "$want" ] && [ "$got" -lt "$want" ]; then
  echo "config.json holds generation $got, but generation $want was acknowledged"
  exit 1
fi
exit 0
