#!/bin/sh
# PostgreSQL 15 on a live faultfs mount: fsync errors, a power cut at the Nth WAL fsync, and a
# torn page with full_page_writes off and on. The server runs as the postgres user, so each mount
# is shared with it (--allow-other) and its backing directory is a copy owned by postgres.
#   usage: live.sh [FAULTFS]        (default: faultfs on $PATH; run as root)
#   SEED=N live.sh                  the mounts' seed (default 1): which crash state a power cut picks
# Every acknowledged commit is counted; after each case the server is restarted on what is left
# and must hold every acknowledged row, and pg_amcheck and pg_checksums must come out clean.
# Prints one line per case; exits 0 when every case came out as README.md says, 1 otherwise.
set -eu
faultfs=${1:-faultfs}
case $faultfs in */*) faultfs=$(realpath "$faultfs") ;; esac
bin=/usr/lib/postgresql/15/bin
work=$(mktemp -d "${TMPDIR:-/tmp}/faultfs-pg-live-XXXXXX")
chmod 755 "$work"
cd "$work" # a directory the postgres user can enter (its commands start where we are)
data=$work/data
sock=$work/sock
port=5432 # a Unix socket only (listen_addresses ''): the port just names it
server=   # the postmaster's pid while one runs
cleanup() {
  [ -z "$server" ] || kill -KILL "$server" 2>/dev/null || true
  pkill -KILL -f "postgres -D $data" 2>/dev/null || true
  if grep -q " $data fuse.faultfs " /proc/mounts; then "$faultfs" umount --lazy "$data" >/dev/null 2>&1 || true; fi
  i=0
  while grep -q " $data fuse.faultfs " /proc/mounts && [ "$i" -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
as_pg() { runuser -u postgres -- "$@"; }
psql_() { as_pg "$bin/psql" -h "$sock" -p "$port" -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"; }

# The starting cluster, made once: data checksums on, so that a torn page is noticed.
mkdir -m 700 "$work/template" "$sock" && chown postgres: "$work/template" "$sock"
as_pg "$bin/initdb" -D "$work/template" --data-checksums -A trust >/dev/null

# A fresh copy of the cluster, mounted in place with faultfs OPTIONS...
mount_fresh() {
  if grep -q " $data fuse.faultfs " /proc/mounts; then "$faultfs" umount "$data" >/dev/null; fi
  rm -rf "$data" "$work"/rec*
  cp -a "$work/template" "$data"
  "$faultfs" mount --allow-other --seed "${SEED:-1}" --log-file "$work/daemon.log" "$@" "$data" >/dev/null
}
# Starts the server with extra settings (-c NAME=VALUE ...); 1 if it does not start. The
# postmaster is this script's child (not pg_ctl's, which would leave it to init): once killed it
# is reaped here, so its stale postmaster.pid names no process, as after a real power cut.
start() {
  as_pg "$bin/postgres" -D "$data" -k "$sock" -p "$port" -c listen_addresses= \
    -c restart_after_crash=off "$@" >"$work/pg.log" 2>&1 &
  server=$!
  i=0
  until as_pg "$bin/pg_isready" -q -h "$sock" -p "$port"; do
    kill -0 "$server" 2>/dev/null || { wait "$server" || true; server=; return 1; }
    i=$((i + 1))
    [ "$i" -lt 1200 ] || { echo "postgres did not start in 60 s" >&2; exit 1; }
    sleep 0.05
  done
}
stop() {
  as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  wait_gone
}
# Waits until the server has ended (a stop, a PANIC, a kill) and reaps it.
wait_gone() {
  [ -z "$server" ] || wait "$server" 2>/dev/null || true
  server=
}
# Commits rows $1..$2, one transaction each; $acked counts those the client saw commit.
commit_rows() {
  i=$1
  while [ "$i" -le "$2" ]; do
    psql_ -c "INSERT INTO t VALUES ($i, repeat('x', 500))" >/dev/null 2>&1 || return 0
    acked=$i
    i=$((i + 1))
  done
}
# After a case: restart on what is left; $verdict says whether every acknowledged row is there
# and both checkers are clean.
verify() {
  if ! start "$@"; then
    # The PANIC that stopped it, else its last FATAL.
    why=$(grep PANIC "$work/pg.log" | head -1)
    [ -n "$why" ] || why=$(grep FATAL "$work/pg.log" | tail -1)
    outcome="the server does not start: $(printf '%s' "$why" | sed 's/.*\(FATAL\|PANIC\): *//' | cut -c1-90)"
    verdict="FAILED"
    return
  fi
  rows=$(psql_ -c "SELECT count(*) FROM t WHERE id <= $acked" 2>/dev/null) || rows="0 (the query fails: $(psql_ -c "SELECT count(*) FROM t" 2>&1 | head -1 | sed 's/^ERROR: *//'))"
  amcheck=$(as_pg "$bin/pg_amcheck" -h "$sock" -p "$port" --install-missing -d postgres 2>&1) &&
    amcheck=clean || amcheck="errors"
  stop
  checksums=$(as_pg "$bin/pg_checksums" --check -D "$data" 2>&1) && checksums=clean ||
    checksums="errors: $(printf '%s' "$checksums" | grep -m1 -i 'error\|fail')"
  verdict=ok
  [ "$rows" = "$acked" ] || verdict="FAILED"
  [ "$amcheck" = clean ] && [ "$checksums" = clean ] || verdict="FAILED"
  outcome="$rows of $acked acknowledged rows; amcheck $amcheck; pg_checksums $checksums"
}
failures=0
report() { # CASE WHAT-HAPPENED VERDICT
  printf '%-30s %s\n%-30s %s\n' "$1" "$2" "" "after restart: $outcome -> $3"
  case $3 in ok*) ;; *) failures=$((failures + 1)) ;; esac
}
setup_table() {
  psql_ -c "CREATE TABLE t (id int PRIMARY KEY, v text); CHECKPOINT" >/dev/null
  acked=0
}
fsync_eio_rule() { # PATH-GLOB
  printf '[[rule]]\nid = "eio"\nops = ["fsync", "fdatasync"]\npath = "%s"\nnth = 1\naction = "errno"\nerrno = "EIO"\n' "$1" >"$work/eio.toml"
}

# 1. Control: no fault; a clean stop and restart.
mount_fresh
start && setup_table && commit_rows 1 20 && stop
verify
report "control" "20 commits, clean stop" "$verdict"
"$faultfs" umount "$data" >/dev/null

# 2, 3. An fsync error on a WAL segment, then on a data file (at a CHECKPOINT).
for target in wal data; do
  mount_fresh
  start && setup_table && commit_rows 1 10
  if [ "$target" = wal ]; then
    fsync_eio_rule "pg_wal/**"
    "$faultfs" ctl "$data" add "$work/eio.toml" >/dev/null
    commit_rows 11 11
    seen=$([ "$acked" = 10 ] && echo "the 11th commit failed" || echo "the 11th commit was acknowledged")
  else
    psql_ -c "INSERT INTO t SELECT g, 'y' FROM generate_series(1001, 3000) g" >/dev/null
    fsync_eio_rule "base/**"
    "$faultfs" ctl "$data" add "$work/eio.toml" >/dev/null
    seen=$(psql_ -c CHECKPOINT >/dev/null 2>&1 && echo "CHECKPOINT succeeded" || echo "CHECKPOINT failed")
  fi
  wait_gone
  panic=$(grep -m1 PANIC "$work/pg.log" | sed 's/.*PANIC: *//' | cut -c1-60 || true)
  "$faultfs" ctl "$data" remove eio >/dev/null
  verify
  ok=$verdict
  case $seen in *failed) ;; *) ok="FAILED: $seen" ;; esac
  [ -n "$panic" ] || ok="FAILED: no PANIC"
  report "fsync EIO on $target" "$seen; server stopped: PANIC $panic" "$ok"
  "$faultfs" umount "$data" >/dev/null
done

# 4. A power cut at the 20th fsync of the WAL (counted from the mount): the fsync does not
# happen, every postgres process dies, and the directory is rolled back to a crash state (pp).
printf '[[rule]]\nops = ["fsync", "fdatasync"]\npath = "pg_wal/**"\nnth = 20\naction = "crash"\ncrash = { model = "pp", kill = ["postgres"] }\n' >"$work/cut.toml"
mount_fresh --record "$work/rec" --policy "$work/cut.toml"
start && setup_table && commit_rows 1 200
wait_gone
cut=$("$faultfs" ctl "$data" status | sed -n 's/^ *summary: \(crash after op [0-9]* ([^)]*)\).*/\1/p')
"$faultfs" ctl "$data" recover >/dev/null
verify
report "power cut at 20th WAL fsync" "$acked commits acknowledged; $cut" "$verdict"
"$faultfs" umount "$data" >/dev/null

# 5. The same power cut (now, after 20 commits) with fsync=off: the positive case. Acknowledged
# commits are lost, or worse.
mount_fresh --record "$work/rec"
start -c fsync=off && setup_table && commit_rows 1 20
"$faultfs" ctl "$data" crash --kill postgres >/dev/null
wait_gone
"$faultfs" ctl "$data" recover >/dev/null
# With fsync=off even the lock file was never synced: the state holds it empty, and PostgreSQL
# refuses to start ("lock file is empty") until an operator removes it, as this does.
[ -s "$data/postmaster.pid" ] || rm -f "$data/postmaster.pid"
verify -c fsync=off
case $verdict in FAILED*) verdict="ok (lost, as fsync=off allows)" ;; *) verdict="FAILED: nothing lost" ;; esac
report "power cut, fsync=off" "20 commits acknowledged; power cut" "$verdict"
"$faultfs" umount "$data" >/dev/null

# 6, 7. A torn page: a power cut at the checkpoint's first fsync of a data file, where the last
# page written before it reached the disk in part (model torn-4096: by 4 KiB halves of the 8 KiB
# page). full_page_writes=on logs each page whole after a checkpoint, so recovery rewrites it.
printf '[[rule]]\nid = "cut"\nops = ["fsync"]\npath = "base/**"\nnth = 1\naction = "crash"\ncrash = { model = "torn-4096", kill = ["postgres"] }\n' >"$work/torn.toml"
for fpw in off on; do
  mount_fresh --record "$work/rec"
  start -c full_page_writes=$fpw && setup_table
  # Half-full pages (no index): the update rewrites each page in place (HOT), its new tuples in
  # the page's second half and their line pointers in the first.
  psql_ -c "DROP TABLE t; CREATE TABLE t (id int, v text) WITH (fillfactor = 50);
    INSERT INTO t SELECT g, repeat('x', 500) FROM generate_series(1, 2000) g; CHECKPOINT" >/dev/null
  psql_ -c "UPDATE t SET v = repeat('y', 500)" >/dev/null
  acked=2000
  "$faultfs" ctl "$data" add "$work/torn.toml" >/dev/null
  psql_ -c CHECKPOINT >/dev/null 2>&1 || true
  wait_gone
  cut=$("$faultfs" ctl "$data" status | sed -n 's/^ *summary: //p' | cut -c1-110)
  "$faultfs" ctl "$data" recover >/dev/null
  verify -c full_page_writes=$fpw
  # off: the positive case, the torn page must be caught; on: recovery must repair it.
  if [ "$fpw" = off ]; then
    case $verdict in FAILED*) verdict="ok (the torn page is caught)" ;; *) verdict="FAILED: nothing caught" ;; esac
  fi
  report "torn page, full_page_writes=$fpw" "$cut" "$verdict"
  "$faultfs" umount "$data" >/dev/null
done

[ "$failures" = 0 ] && echo "every case as expected" && exit 0
echo "$failures case(s) not as expected" >&2
exit 1
