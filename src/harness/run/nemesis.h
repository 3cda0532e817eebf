// Carries out the nemesis schedule (plan.h) on a running cluster: each event starts at its time
// on the nodes and links it names (the leader resolved then), and heals at its end. Disk faults go
// through each node's faultfs mount, kills and power cuts through the cluster, network faults
// through the links' proxies.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cluster.h"
#include "faultfs/harness/proxy.h"
#include "plan.h"
#include "timeline.h"

namespace faultfs::harness {

using Links = std::map<std::pair<int, int>, std::unique_ptr<Proxy>>;  // (from, to) -> its proxy

class Nemesis {
 public:
  Nemesis(Cluster& cluster, Links& links, std::vector<NemesisEvent> plan)
      : cluster_(cluster), links_(links), plan_(std::move(plan)) {}

  // Starts and heals what is due at `now_s`. Errors are recorded, not fatal: a fault that could
  // not be injected is a note in the report.
  void Tick(double now_s);
  // Heals whatever is active (the end of the run, or an interruption).
  void HealAll(double now_s);
  // The fault active now, in words ("" when none).
  std::string Current() const;
  const std::vector<Timeline::Band>& bands() const { return bands_; }
  const std::vector<Timeline::Mark>& marks() const { return marks_; }
  const std::vector<std::string>& errors() const { return errors_; }
  // Per kind name: how many started.
  const std::map<std::string, int>& counts() const { return counts_; }
  // Leader failovers seen: from a fault on the leader to the next leader elsewhere.
  const std::vector<double>& failover_s() const { return failovers_; }
  // The events read from the nodes since the last call, to spot failovers.
  void NodeEvents(const std::vector<NodeEvent>& events);
  // Whether node `node` was impaired (down, cut off, its disk failing) within `window_s` of t.
  bool Impaired(int node, double t_s, double window_s) const;

 private:
  struct Active {
    NemesisEvent event;
    std::vector<int> nodes;           // the nodes it hit
    std::vector<std::string> toxics;  // "from>to/name" put on links
    std::string label;
  };
  Status Start(const NemesisEvent& e, double now_s, Active& a);
  Status Heal(Active& a, double now_s);
  Status Cut(Active& a, int from, int to, Toxic toxic);
  Status CutNode(Active& a, int node, bool in, bool out, const Toxic& toxic);
  std::string DiskPolicy(const NemesisEvent& e) const;

  Cluster& cluster_;
  Links& links_;
  std::vector<NemesisEvent> plan_;
  size_t next_ = 0;
  std::vector<Active> active_;
  std::vector<Timeline::Band> bands_;
  std::vector<Timeline::Mark> marks_;
  std::vector<std::string> errors_;
  std::map<std::string, int> counts_;
  std::vector<double> failovers_;
  double failover_from_s_ = -1;  // a fault on the leader started then
  int failed_leader_ = -1;
  std::vector<std::pair<int, std::pair<double, double>>> impaired_;  // node, [from, to]
};

}  // namespace faultfs::harness
