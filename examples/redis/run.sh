#!/usr/bin/env bash
# The Redis case study, in one command: builds faultfs, runs Redis's crash states with
# appendfsync always and everysec (a redis-server per crash state, on its own port), then the
# live power cuts and AOF corruption (live.sh), and checks each outcome against the one README.md
# states. Exit 0 when every case came out as expected.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
build_targets
here=$(cd "$(dirname "$0")" && pwd)
data=$(mktemp -d /tmp/faultfs-redis-XXXXXX)
trap 'rm -rf "$data"' EXIT

case_() { # EXPECTED APPENDFSYNC MODEL
  expect_crashtest "$2" "$1" "$data/empty" "sh $here/workload.sh $2 5" "sh $here/check.sh" "$3"
}
case_ 0 always ext4
case_ 1 always pp
case_ 1 everysec ext4
case_ 0 always torn-512
case_ 1 always weak
echo
echo "live power cuts and AOF corruption through a mount (live.sh):"
sh "$here/live.sh" "$faultfs" || unexpected=$((unexpected + 1))
finish
