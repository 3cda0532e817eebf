// The node's events file (docs/harness.md, "Events"): one JSON line per event,
// {"t_ms": CLOCK_MONOTONIC in ms, "node": id, "event": name, ...fields}. Each line is one write(2)
// on an O_APPEND descriptor, so a SIGKILL never leaves half a line behind a whole one.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"

namespace faultfs::harness::node {

// Monotonic milliseconds (the clock of faultfs's own events, and of the harness).
double MonotonicMs();

class EventLog {
 public:
  EventLog() = default;  // writes nothing
  static Result<EventLog> Open(const std::string& path, int node_id);
  // `fields` (an object) is merged into the line.
  void Emit(const std::string& event, const nlohmann::json& fields = nlohmann::json::object());

 private:
  UniqueFd fd_;
  int node_id_ = 0;
};

}  // namespace faultfs::harness::node
