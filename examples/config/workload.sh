#!/bin/sh
# A configuration writer for `faultfs crashtest`: writes N generations of config.json, each by
# the classic durable-update idiom (write a temporary file, fsync it, rename it over the old one),
# and acknowledges each generation with a marker.
#   usage: workload.sh N [dirsync]     with "dirsync", the directory is fsynced after each rename
# Runs in the recording mount ($FAULTFS_DIR); $FAULTFS is the faultfs binary.
set -e
n=$1 dirsync=${2:-}
g=1
while [ "$g" -le "$n" ]; do
  printf '{"generation": %d, "name": "service-%d"}\n' "$g" "$g" > config.json.tmp
  sync config.json.tmp
  mv config.json.tmp config.json
  if [ "$dirsync" = dirsync ]; then sync .; fi
  "$FAULTFS" ctl "$FAULTFS_DIR" mark "generation $g" >/dev/null
  g=$((g + 1))
done
