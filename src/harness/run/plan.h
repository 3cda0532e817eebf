// The nemesis schedule of a harness run, drawn from its seed: which fault starts when, on which
// nodes or links, and when it heals. The same (seed, nodes, duration, kinds) always gives the
// same schedule; targets named "the leader" are resolved when the fault starts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs::harness {

enum class NemesisKind {
  kFsyncError,     // disk: fsyncs of the node's log fail with EIO (Linux semantics)
  kCorrupt,        // disk: writes of the node's log store a corrupted range
  kCorruptLeader,  // disk: the same on the leader (whose own copy a read prefers under "newest")
  kLostWrite,      // disk: writes of the node's log are lost (success returned)
  kDiskLatency,    // disk: reads, writes and fsyncs are slow
  kDiskFull,       // disk: the node's filesystem is full
  kKill,           // process: SIGKILL a node, restart it
  kKillLeader,     // process: SIGKILL the leader, restart it
  kPowerCut,       // power: a live crash point on one node's mount, restart on the crash state
  kPowerCutAll,    // power: every node at once
  kPartition,      // network: a node cut off both ways
  kOneWay,         // network: one directed link down
  kIsolateLeader,  // network: the leader cut off both ways
  kLeaderDeaf,     // network: the leader can send but not receive
  kNetLatency,     // network: latency with jitter on every link of a node
  kNetDrop,        // network: frames dropped on every link of a node
};

// The family a kind belongs to, as --nemesis names it: "disk", "kill", "power", "net".
std::string_view FamilyOf(NemesisKind kind);
std::string_view NameOf(NemesisKind kind);
// Parses --nemesis: "all", "none", or a comma list of families and/or kind names.
Result<std::vector<NemesisKind>> ParseNemeses(std::string_view spec);

struct NemesisEvent {
  double start_s = 0;  // since the clients started (the run shifts it to run time)
  double end_s = 0;    // when it heals (kills and power cuts: when the node restarts)
  NemesisKind kind = NemesisKind::kKill;
  int node = -1;      // the node it hits (-1: the leader, resolved at start; all: kPowerCutAll)
  int peer = -1;      // kOneWay: the link node -> peer
  uint64_t seed = 0;  // for its own draws (which op, how much latency...)
};

struct PlanSpec {
  uint64_t seed = 0;
  int nodes = 3;
  double duration_s = 60;
  double quiet_s = 10;  // the last part of the run: no faults, so the cluster converges
  std::vector<NemesisKind> kinds;
};

// One fault at a time, each lasting 1-4 s, starting 1-3 s after the last one healed, until the
// quiet part of the run.
std::vector<NemesisEvent> PlanNemeses(const PlanSpec& spec);

}  // namespace faultfs::harness
