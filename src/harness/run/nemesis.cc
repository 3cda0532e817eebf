#include "nemesis.h"

#include <algorithm>

#include "faultfs/core/random.h"

namespace faultfs::harness {
namespace {

// The node's files (docs/harness.md, "Storage"), as the policies aim at them.
constexpr char kLogFiles[] = "{log,persisted,meta.0,meta.1}";

std::string Rule(const std::string& body) { return "[[rule]]\n" + body; }

// Disk nemeses act through the node's mount policy; their family says so (plan.cc's table).
bool IsDiskKind(NemesisKind kind) { return FamilyOf(kind) == "disk"; }

}  // namespace

std::string Nemesis::DiskPolicy(const NemesisEvent& e) const {
  const std::string seed = "seed = " + std::to_string(e.seed % 1000000007) + "\n";
  switch (e.kind) {
    case NemesisKind::kFsyncError:
      return seed + Rule("id = \"nemesis-fsync\"\nops = [\"fsync\", \"fdatasync\"]\npath = \"" +
                         std::string(kLogFiles) +
                         "\"\naction = \"fsync_fail\"\nfsync_fail = { errno = \"EIO\", "
                         "semantics = \"linux\" }\n");
    case NemesisKind::kCorrupt:
    case NemesisKind::kCorruptLeader:
      // Bytes 56-72 of a write: inside the value of its first slot (16 bytes of slot header, 36
      // of entry header), the silent kind of damage that still decodes as an entry.
      return seed + Rule(
                        "id = \"nemesis-corrupt\"\nops = [\"write\"]\npath = \"log\"\n"
                        "probability = 0.2\naction = \"corrupt\"\n"
                        "corrupt = { mode = \"random\", range = [56, 72], on = \"write\" }\n");
    case NemesisKind::kLostWrite:
      return seed + Rule(
                        "id = \"nemesis-lose\"\nops = [\"write\"]\npath = \"log\"\n"
                        "probability = 0.3\naction = \"lose\"\n");
    case NemesisKind::kDiskLatency:
      return seed + Rule(
                        "id = \"nemesis-slow\"\nops = [\"read\", \"write\", \"fsync\", "
                        "\"fdatasync\"]\naction = \"delay\"\n"
                        "delay = { distribution = \"uniform\", min_ms = 5, max_ms = 120 }\n");
    case NemesisKind::kDiskFull:
      return "[capacity]\nbytes = \"16 KiB\"\nerrno = \"ENOSPC\"\n";
    default:
      return "";
  }
}

Status Nemesis::Cut(Active& a, int from, int to, Toxic toxic) {
  const auto it = links_.find({from, to});
  if (it == links_.end()) return Status::Ok();
  toxic.name = "nemesis";
  FAULTFS_RETURN_IF_ERROR(it->second->AddToxic(toxic));
  a.toxics.push_back(std::to_string(from) + ">" + std::to_string(to));
  return Status::Ok();
}

Status Nemesis::CutNode(Active& a, int node, bool in, bool out, const Toxic& toxic) {
  for (int other = 0; other < cluster_.size(); ++other) {
    if (other == node) continue;
    if (out) FAULTFS_RETURN_IF_ERROR(Cut(a, node, other, toxic));
    if (in) FAULTFS_RETURN_IF_ERROR(Cut(a, other, node, toxic));
  }
  return Status::Ok();
}

Status Nemesis::Start(const NemesisEvent& e, double now_s, Active& a) {
  int node = e.node;
  if (node < 0) {
    const auto leader = cluster_.leader();
    if (!leader) return Status::Invalid("no leader to aim at");
    node = *leader;
    if (e.kind != NemesisKind::kCorruptLeader) {  // the others take the leader away
      failover_from_s_ = now_s;
      failed_leader_ = node;
    }
  }
  a.nodes = {node};
  if (IsDiskKind(e.kind)) {
    a.label = std::string(NameOf(e.kind)) + " on node " + std::to_string(node);
    return cluster_.SetDiskPolicy(node, DiskPolicy(e));
  }
  Rng rng(e.seed);
  switch (e.kind) {
    case NemesisKind::kKill:
    case NemesisKind::kKillLeader:
      a.label = "kill node " + std::to_string(node);
      marks_.push_back({now_s, node, "killed"});
      return cluster_.Kill(node);
    case NemesisKind::kPowerCut:
      a.label = "power cut node " + std::to_string(node);
      marks_.push_back({now_s, node, "power-cut"});
      return cluster_.PowerCut(node);
    case NemesisKind::kPowerCutAll:
      a.label = "power cut, every node";
      a.nodes.clear();
      for (int n = 0; n < cluster_.size(); ++n) {
        a.nodes.push_back(n);
        marks_.push_back({now_s, n, "power-cut"});
        FAULTFS_RETURN_IF_ERROR(cluster_.PowerCut(n));
      }
      return Status::Ok();
    case NemesisKind::kPartition:
    case NemesisKind::kIsolateLeader:
      a.label = "partition node " + std::to_string(node);
      return CutNode(a, node, true, true, Toxic::Down(""));
    case NemesisKind::kLeaderDeaf:
      a.label = "node " + std::to_string(node) + " hears nobody";
      return CutNode(a, node, true, false, Toxic::Down(""));
    case NemesisKind::kOneWay:
      a.label = "one-way " + std::to_string(node) + "->" + std::to_string(e.peer);
      return Cut(a, node, e.peer, Toxic::Down(""));
    case NemesisKind::kNetLatency: {
      const auto ms = static_cast<int64_t>(50 + rng.Below(200));
      a.label = "latency " + std::to_string(ms) + " ms, node " + std::to_string(node);
      return CutNode(a, node, true, true, Toxic::Latency("", ms, ms / 2));
    }
    case NemesisKind::kNetDrop:
      a.label = "drops 30%, node " + std::to_string(node);
      return CutNode(a, node, true, true, Toxic::Drop("", 0.3));
    default:  // the disk kinds, above
      break;
  }
  return Status::Ok();
}

Status Nemesis::Heal(Active& a, double now_s) {
  Status first;
  auto note = [&](Status s) {
    if (first.ok() && !s.ok()) first = s;
  };
  for (const std::string& link : a.toxics) {
    const size_t gt = link.find('>');
    const auto it = links_.find({std::stoi(link.substr(0, gt)), std::stoi(link.substr(gt + 1))});
    if (it != links_.end()) note(it->second->RemoveToxic("nemesis"));
  }
  switch (a.event.kind) {
    case NemesisKind::kKill:
    case NemesisKind::kKillLeader:
    case NemesisKind::kPowerCut:
    case NemesisKind::kPowerCutAll:
      for (int n : a.nodes) {
        note(cluster_.Start(n));
        marks_.push_back({now_s, n, "restarted"});
      }
      break;
    default:
      if (IsDiskKind(a.event.kind)) {
        for (int n : a.nodes) note(cluster_.SetDiskPolicy(n, ""));
      }
      break;
  }
  return first;
}

void Nemesis::Tick(double now_s) {
  for (auto it = active_.begin(); it != active_.end();) {
    if (it->event.end_s > now_s) {
      ++it;
      continue;
    }
    if (Status s = Heal(*it, now_s); !s.ok())
      errors_.push_back("healing " + it->label + ": " + s.ToString());
    bands_.push_back({it->event.start_s, now_s, std::string(FamilyOf(it->event.kind)), it->label});
    for (int n : it->nodes) impaired_.push_back({n, {it->event.start_s, now_s}});
    it = active_.erase(it);
  }
  while (next_ < plan_.size() && plan_[next_].start_s <= now_s) {
    Active a{plan_[next_++], {}, {}, ""};
    ++counts_[std::string(NameOf(a.event.kind))];
    if (Status s = Start(a.event, now_s, a); !s.ok()) {
      errors_.push_back(std::string(NameOf(a.event.kind)) + " at " + std::to_string(now_s) +
                        " s: " + s.ToString());
    }
    if (a.label.empty()) a.label = std::string(NameOf(a.event.kind));
    active_.push_back(std::move(a));
  }
}

void Nemesis::HealAll(double now_s) {
  for (auto& a : active_) a.event.end_s = now_s;
  Tick(now_s);
  next_ = plan_.size();
}

std::string Nemesis::Current() const {
  std::string text;
  for (const auto& a : active_) text += (text.empty() ? "" : "; ") + a.label;
  return text;
}

void Nemesis::NodeEvents(const std::vector<NodeEvent>& events) {
  for (const NodeEvent& e : events) {
    if (e.event == "exited") impaired_.push_back({e.node, {e.t_s, e.t_s + 1}});
    if (e.event == "leader" && failover_from_s_ >= 0 && e.node != failed_leader_) {
      failovers_.push_back(e.t_s - failover_from_s_);
      failover_from_s_ = -1;
    }
  }
}

bool Nemesis::Impaired(int node, double t_s, double window_s) const {
  for (const auto& a : active_) {
    if (std::find(a.nodes.begin(), a.nodes.end(), node) != a.nodes.end() && a.event.start_s <= t_s)
      return true;
  }
  return std::any_of(impaired_.begin(), impaired_.end(), [&](const auto& i) {
    return i.first == node && i.second.first - window_s <= t_s && t_s <= i.second.second + window_s;
  });
}

}  // namespace faultfs::harness
