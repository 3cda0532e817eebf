#!/usr/bin/env bash
# The LevelDB case study, in one command: builds faultfs and leveldb_example, then runs each
# scenario under the models that tell its story, and checks each outcome against the one
# README.md states. Exit 0 when every case came out as expected.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
build_targets leveldb_example
program=$(realpath "${LEVELDB_EXAMPLE:-$root/build/examples/leveldb_example}")
data=$(mktemp -d /tmp/faultfs-leveldb-XXXXXX)
trap 'rm -rf "$data"' EXIT

case_() { # NAME EXPECTED SCENARIO MODEL [CHECK OPTIONS]
  expect_crashtest "$1" "$2" "$data/empty" "$program workload $3" "$program check ${5:-}" "$4"
}
case_ sync-barrier 0 sync-barrier ext4
case_ sync-barrier 1 sync-barrier pp
case_ async 1 async ext4
case_ reopen 0 reopen ext4
case_ reopen 1 reopen pp
case_ torn 0 torn torn-512
case_ torn-paranoid 1 torn torn-512 --paranoid
case_ torn-paranoid-ext4 0 torn ext4 --paranoid
finish
