#!/usr/bin/env bash
# The PostgreSQL case study, in one command: builds faultfs, then runs live.sh (fsync errors, a
# power cut at the Nth WAL fsync, fsync=off, a torn page with full_page_writes off and on) and
# checks each outcome against the one README.md states. Run as root: the server runs as the
# postgres user on mounts shared with it (--allow-other). Exit 0 when every case came out as
# expected.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
build_targets
echo "live faults under PostgreSQL 15 (live.sh):"
sh "$(dirname "$0")/live.sh" "$faultfs" || unexpected=$((unexpected + 1))
finish
