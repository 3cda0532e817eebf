// The fault event log: one JSON line per injected fault (what the application was told), to a
// file given at mount. Fields: seq, t_ns (monotonic), pid, process, op, path, path2, offset, size,
// rule, action, result; a live crash adds model, state, state_dir, killed, and has no op fields
// when it came from the control socket. Everything but t_ns, pid and process is a function of the
// operations and the seed, so two single-threaded runs of the same workload give the same lines in
// those fields.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "faultfs/core/mutex.h"
#include "faultfs/core/status.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/engine/engine.h"

namespace faultfs::fs {

struct FaultEvent {
  const engine::OpContext* ctx = nullptr;  // null when no op caused it (`faultfs ctl MOUNT crash`)
  std::string_view rule;
  std::string_view action;
  std::string result;  // "EIO", "delayed 12.5 ms", "torn: 2 of 4 units kept", ...
  // More fields, for events that carry more than a result (a live crash: its state, ...).
  std::vector<std::pair<std::string, std::string>> details = {};
};

class EventLog {
 public:
  EventLog() = default;
  ~EventLog() = default;
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Appends, creating the file 0600 (never through a symlink); "" keeps the log off.
  Status Open(const std::string& path);
  void Write(const FaultEvent& e);
  uint64_t count() const { return seq_.load(std::memory_order_relaxed); }
  // The last `n` event lines (at most kRecent are kept), oldest first: what already happened,
  // for `faultfs ctl MOUNT events` without an --events file.
  static constexpr size_t kRecent = 1000;
  std::vector<std::string> Recent(size_t n) const;

  // Live readers (`faultfs ctl MOUNT events --follow`): each event line is handed to every
  // subscriber. A subscriber returns false to unsubscribe.
  void Subscribe(std::function<bool(const std::string&)> subscriber);

 private:
  mutable Mutex mu_;
  UniqueFd file_;
  std::deque<std::string> recent_ FAULTFS_GUARDED_BY(mu_);  // the last kRecent lines
  std::atomic<uint64_t> seq_{0};
  std::vector<std::function<bool(const std::string&)>> subscribers_ FAULTFS_GUARDED_BY(mu_);
};

}  // namespace faultfs::fs
