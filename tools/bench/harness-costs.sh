#!/usr/bin/env bash
# What the replicated-log harness costs and how fast it heals, measured in one go:
#   1. appends/s and p50/p99 append latency, 3 nodes, no faults, with faultfs under the data dirs
#      and without (--no-faultfs), same seed, same duration;
#   2. the time to a new leader after the leader is killed (kill-leader nemesis, median);
#   3. the time to repair one damaged entry: from a read finding it (the leader's read_repair
#      event) to the replica's `repaired` event (its copy rewritten and fsynced), median.
#   tools/bench/harness-costs.sh [--duration 30] [--seed 1] [--build build]
set -euo pipefail
duration=30 seed=1 build=build
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "harness-costs.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
root=$(cd "$(dirname "$0")/../.." && pwd)
faultfs="$root/$build/src/cli/faultfs"
[[ -x "$faultfs" ]] || { echo "harness-costs.sh: $faultfs is missing: build first" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

run() {  # name, then harness run arguments
  local name=$1; shift
  "$faultfs" harness run --duration "${duration}s" --seed "$seed" --json "$out/$name.json" "$@" >"$out/$name.out" 2>&1 || true
}
run faultfs --nemesis none
run plain --nemesis none --no-faultfs
run failover --nemesis kill-leader
run repair --nemesis corrupt-leader --keep --work "$out/repair-work"

python3 - "$out" <<'EOF'
import glob, json, statistics, sys
out = sys.argv[1]
def report(name):
    return json.load(open(f"{out}/{name}.json"))
for name, label in (("faultfs", "on faultfs"), ("plain", "plain directories")):
    r = report(name)
    lat = r["append_latency_ms"]
    print(f"{label:18}: {r['appends_per_s']:7.0f} appends/s, p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms ({r['verdict']})")
f = report("failover")["leader_failover_s"]
print(f"leader killed -> new leader: median {statistics.median(f):.2f} s over {len(f)} failovers" if f else "no failover seen")
asked, done = {}, []
events = []
for path in glob.glob(f"{out}/repair-work/node-*/events-*.jsonl"):
    for line in open(path):
        try: events.append(json.loads(line))
        except ValueError: pass
events.sort(key=lambda e: e["t_ms"])
for e in events:
    if e["event"] == "read_repair": asked.setdefault((e["to"], e["index"]), e["t_ms"])
    if e["event"] == "repaired" and (e["node"], e["index"]) in asked:
        done.append(e["t_ms"] - asked.pop((e["node"], e["index"])))
print(f"damaged entry found by a read -> repaired: median {statistics.median(done):.1f} ms over {len(done)} repairs" if done else "no read repair seen")
EOF
