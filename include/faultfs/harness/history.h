// The clients' history (docs/harness.md, "Clients") and the values they append. The clients write
// it, the checker reads it and writes it out as Jepsen EDN. Shared by both, so it depends on
// neither.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faultfs::harness {

enum class OpType { kInvoke, kOk, kFail, kInfo };
enum class OpF { kAppend, kRead };

std::string_view OpTypeName(OpType type);  // "invoke", "ok", "fail", "info"
std::string_view OpFName(OpF f);           // "append", "read"

// One event of a Jepsen history. What `value` means depends on f and type (as the EDN has it):
//   append invoke: the value;   append ok: [log_index value];   append fail/info: the value
//   read invoke: log_index;     read ok: the value read;        read fail/info: log_index
struct HistoryEvent {
  int64_t index = 0;    // position in the history
  int64_t time_ns = 0;  // monotonic, since the run started
  OpType type = OpType::kInvoke;
  int64_t process = 0;
  OpF f = OpF::kAppend;
  int64_t log_index = 0;  // append ok: where it was acknowledged; read: the index read (all events)
  std::string value;      // append: the value appended; read ok: the value returned
  std::string error = {};  // fail/info: why ("timeout", "busy", ...)
};

using History = std::vector<HistoryEvent>;

// What the clients went through, beyond the history.
struct ClientCounters {
  uint64_t retries = 0;         // attempts after the first, all operations
  uint64_t busy = 0;            // busy replies
  uint64_t not_leader = 0;      // not_leader replies
  uint64_t not_committed = 0;   // not_committed replies (reads)
  uint64_t errors = 0;          // error replies and malformed replies
  uint64_t timeouts = 0;        // attempts that got no answer in time
  uint64_t broken = 0;          // connections that failed or broke (connect, write, read)
  uint64_t damaged_values = 0;  // values read whose checksum fails
  uint64_t processes = 0;       // processes that invoked (a process is replaced after :info)
};

// A client value: "client/req/<text>|<xxh3>", the last field the XXH3-64 (16 lowercase hex
// digits) of everything before the '|'. `text` is what makes values distinct and sized.
std::string MakeValue(int64_t client, int64_t req, std::string_view text);

struct ParsedValue {
  int64_t client = 0;
  int64_t req = 0;
};
// The value's client and req when it has the form and its checksum verifies; none when it is
// damaged (any changed byte fails it, up to the checksum's odds).
std::optional<ParsedValue> VerifyValue(std::string_view value);

}  // namespace faultfs::harness
