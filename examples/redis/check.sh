#!/bin/sh
# The checker for workload.sh, a server per crash state: starts redis-server on the state
# ($FAULTFS_STATE_DIR) and its own port ($FAULTFS_PORT); every acknowledged key ($FAULTFS_MARKS:
# key=value lines) must hold its value, and a server that refuses to start on the state is a
# violation too. Exit 0 consistent, 1 not, 3 inconclusive (the server hung while starting).
# The server is shut down at the end; whatever this script leaves running, crashtest kills.
set -u
port=$FAULTFS_PORT
log=$(mktemp /tmp/faultfs-redis-check-XXXXXX.log)
trap 'rm -f "$log"' EXIT
redis-server --port "$port" --bind 127.0.0.1 --dir "$FAULTFS_STATE_DIR" --appendonly yes \
  --save "" --logfile "$log" >/dev/null 2>&1 &
server=$!
i=0
until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do
  if ! kill -0 "$server" 2>/dev/null; then
    # Redis writes its reason on a line of its own, marked with '#' (a warning or worse).
    echo "redis-server does not start: $(grep '#' "$log" | tail -1 | sed 's/^[^#]*# //')"
    exit 1
  fi
  i=$((i + 1))
  [ "$i" -lt 1000 ] || { echo "redis-server did not answer in 20 s"; exit 3; }
  sleep 0.02
done
status=0
while IFS='=' read -r key value; do
  got=$(redis-cli -p "$port" get "$key")
  [ "$got" = "$value" ] || { echo "$key was acknowledged as '$value' but holds '$got'"; status=1; }
done <"$FAULTFS_MARKS"
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
wait "$server"
exit $status
