#include "plan.h"

#include <algorithm>
#include <array>

#include "faultfs/core/random.h"

namespace faultfs::harness {
namespace {

struct KindInfo {
  NemesisKind kind;
  std::string_view name;
  std::string_view family;
};

constexpr std::array<KindInfo, 16> kKinds{{
    {NemesisKind::kFsyncError, "fsync-error", "disk"},
    {NemesisKind::kCorrupt, "corrupt", "disk"},
    {NemesisKind::kCorruptLeader, "corrupt-leader", "disk"},
    {NemesisKind::kLostWrite, "lost-write", "disk"},
    {NemesisKind::kDiskLatency, "disk-latency", "disk"},
    {NemesisKind::kDiskFull, "disk-full", "disk"},
    {NemesisKind::kKill, "kill", "kill"},
    {NemesisKind::kKillLeader, "kill-leader", "kill"},
    {NemesisKind::kPowerCut, "power-cut", "power"},
    {NemesisKind::kPowerCutAll, "power-cut-all", "power"},
    {NemesisKind::kPartition, "partition", "net"},
    {NemesisKind::kOneWay, "one-way", "net"},
    {NemesisKind::kIsolateLeader, "isolate-leader", "net"},
    {NemesisKind::kLeaderDeaf, "leader-deaf", "net"},
    {NemesisKind::kNetLatency, "net-latency", "net"},
    {NemesisKind::kNetDrop, "net-drop", "net"},
}};

const KindInfo& InfoOf(NemesisKind kind) {
  for (const KindInfo& k : kKinds) {
    if (k.kind == kind) return k;
  }
  FAULTFS_CHECK(false) << "unknown nemesis kind " << static_cast<int>(kind);
  return kKinds[0];
}

bool TargetsLeader(NemesisKind kind) {
  return kind == NemesisKind::kKillLeader || kind == NemesisKind::kIsolateLeader ||
         kind == NemesisKind::kLeaderDeaf || kind == NemesisKind::kCorruptLeader;
}

}  // namespace

std::string_view FamilyOf(NemesisKind kind) { return InfoOf(kind).family; }
std::string_view NameOf(NemesisKind kind) { return InfoOf(kind).name; }

Result<std::vector<NemesisKind>> ParseNemeses(std::string_view spec) {
  std::vector<NemesisKind> kinds;
  if (spec == "none") return kinds;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = spec.find(',', start);
    const std::string_view word =
        spec.substr(start, comma == std::string_view::npos ? spec.size() - start : comma - start);
    bool known = false;
    for (const KindInfo& k : kKinds) {
      if (word == "all" || word == k.family || word == k.name) {
        known = true;
        if (std::find(kinds.begin(), kinds.end(), k.kind) == kinds.end()) kinds.push_back(k.kind);
      }
    }
    if (!known) {
      std::string names = "all, none, disk, kill, power, net";
      for (const KindInfo& k : kKinds) names += ", " + std::string(k.name);
      return Status::Invalid("--nemesis: unknown nemesis '" + std::string(word) +
                             "'; valid: " + names);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return kinds;
}

std::vector<NemesisEvent> PlanNemeses(const PlanSpec& spec) {
  std::vector<NemesisEvent> plan;
  if (spec.kinds.empty() || spec.nodes < 1) return plan;
  Rng rng(DeriveSeed(spec.seed, "nemesis"));
  const double end = spec.duration_s - spec.quiet_s;
  double t = 1.0 + rng.Unit() * 2.0;
  while (true) {
    NemesisEvent e;
    e.kind = spec.kinds[rng.Below(spec.kinds.size())];
    e.start_s = t;
    e.end_s = t + 1.0 + rng.Unit() * 3.0;
    if (e.end_s > end) break;
    e.node =
        TargetsLeader(e.kind) ? -1 : static_cast<int>(rng.Below(static_cast<uint64_t>(spec.nodes)));
    if (e.kind == NemesisKind::kOneWay && spec.nodes > 1) {
      e.peer = static_cast<int>(rng.Below(static_cast<uint64_t>(spec.nodes - 1)));
      if (e.peer >= e.node) ++e.peer;
    }
    e.seed = rng.Next();
    plan.push_back(e);
    t = e.end_s + 1.0 + rng.Unit() * 2.0;
  }
  return plan;
}

}  // namespace faultfs::harness
