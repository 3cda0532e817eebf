#!/usr/bin/env bash
# The SQLite case study, in one command: builds faultfs, runs SQLite's crash states in WAL and
# rollback-journal mode with synchronous FULL, NORMAL and OFF, then the live faults (faults.sh),
# and checks each outcome against the one README.md states. Exit 0 when every case came out as
# expected.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
build_targets
here=$(cd "$(dirname "$0")" && pwd)
data=$(mktemp -d /tmp/faultfs-sqlite-XXXXXX)
trap 'rm -rf "$data"' EXIT

case_() { # EXPECTED JOURNAL_MODE SYNCHRONOUS MODEL [each|one]
  expect_crashtest "$2-$3${5:+-$5}" "$1" "$data/empty" "sh $here/workload.sh $2 $3 3 ${5:-}" \
    "sh $here/check.sh" "$4"
}
case_ 0 wal full pp
case_ 0 wal full ext4
case_ 0 wal full pp one
case_ 0 wal normal pp
case_ 1 wal normal pp one
case_ 1 wal normal ext4 one
case_ 1 wal off pp
case_ 1 delete full pp
case_ 1 delete full ext4
case_ 0 delete extra pp
case_ 0 delete extra ext4
case_ 1 delete off pp
echo
echo "live faults through a mount (faults.sh):"
sh "$here/faults.sh" "$faultfs" || unexpected=$((unexpected + 1))
finish
