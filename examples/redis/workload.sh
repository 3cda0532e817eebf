#!/bin/sh
# A Redis workload for `faultfs crashtest`: starts redis-server with its append-only file in the
# recording mount, SETs N keys, and marks each key=value once the client has its OK.
#   usage: workload.sh APPENDFSYNC N        e.g. workload.sh always 5   (always|everysec|no)
# The server listens on a Unix socket only (no port to pick); it is killed at the end (SIGKILL:
# no shutdown that would sync or rewrite anything the crash states should not have).
set -eu
appendfsync=$1 n=$2
sock=$(mktemp -u /tmp/faultfs-redis-XXXXXX.sock)
redis-server --port 0 --unixsocket "$sock" --dir "$FAULTFS_DIR" --appendonly yes \
  --appendfsync "$appendfsync" --save "" --logfile "" >/dev/null &
server=$!
trap 'kill -KILL "$server" 2>/dev/null || true; rm -f "$sock"' EXIT
i=0
until [ "$(redis-cli -s "$sock" ping 2>/dev/null)" = PONG ]; do
  i=$((i + 1))
  [ "$i" -lt 500 ] || { echo "redis-server did not start" >&2; exit 2; }
  sleep 0.02
done
i=1
while [ "$i" -le "$n" ]; do
  [ "$(redis-cli -s "$sock" set "key$i" "value-$i")" = OK ] || { echo "SET key$i failed" >&2; exit 2; }
  "$FAULTFS" ctl "$FAULTFS_DIR" mark "key$i=value-$i" >/dev/null
  i=$((i + 1))
done
