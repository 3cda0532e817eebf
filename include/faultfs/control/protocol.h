// The control protocol: one JSON object per line, each request answered by one JSON line.
//   request: {"cmd": "<command>", ...arguments}
//   reply:   {"ok": true, ...results} or {"ok": false, "error": "what is wrong"}
// Commands (arguments):
//   status                      mount, seed, rule count, frozen, stalled requests, event count
//   rules                       the loaded rules and their counters (evaluated, matched, fired)
//   stats                       per-rule counters and per-op request counts
//   add {"policy": TOML}        adds the rules of a policy text
//   remove/enable/disable {"id": RULE}
//   load {"policy": TOML}       replaces the whole policy (atomically; counters restart)
//   freeze, thaw, release       the whole mount stops / resumes; stalled requests run now
//   events {"follow": bool, "last": N}  past event count and the last N events (N <= 1000),
//                               then (follow) every new event as its own line
//   mark {"text": TEXT}         appends a marker to the record log (a recording mount only)
//   crash {"model": M, "kill": [NAME...]}  a live crash point (a recording mount only): every op
//                               fails, processes with those command names are killed, the
//                               backing directory is rolled back to a crash state under model M
//                               (default "pp"); the reply names the state
//   recover                     a crashed mount serves again, on the rolled-back contents
// A reply is sent once the change has taken effect: later operations see it.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "faultfs/core/status.h"

namespace faultfs::control {

struct GetStatus {};
struct ListRules {};
struct GetStats {};
struct AddRules {
  std::string policy_toml;
};
struct RemoveRule {
  std::string id;
};
struct EnableRule {
  std::string id;
  bool enabled = true;
};
struct LoadPolicy {
  std::string policy_toml;
};
struct FreezeMount {};
struct ThawMount {};
struct ReleaseStalled {};
struct TailEvents {
  bool follow = false;
  size_t last = 0;  // the last N events already logged, in the reply (at most kMaxRecentEvents)
};
inline constexpr size_t kMaxRecentEvents = 1000;
struct AddMark {
  std::string text;
};
struct CrashMount {
  std::string model = "pp";
  std::vector<std::string> kill;  // command names of the processes to kill; empty: none
};
struct RecoverMount {};

using Command = std::variant<GetStatus, ListRules, GetStats, AddRules, RemoveRule, EnableRule,
                             LoadPolicy, FreezeMount, ThawMount, ReleaseStalled, TailEvents,
                             AddMark, CrashMount, RecoverMount>;

// Parses one request line. Every malformed request gets an error saying what is wrong.
Result<Command> ParseCommand(std::string_view line);

inline constexpr size_t kMaxLineBytes = 1 << 20;  // a request longer than this is refused

}  // namespace faultfs::control
