// Live crash points: a power cut of a running, recording mount (docs/architecture.md).
//
// Crash() (a `crash` rule's op, or `faultfs ctl MOUNT crash`):
//   1. the mount fails every op with EIO from now on, held requests included (Deferrer::Doom);
//   2. the chosen processes are killed with SIGKILL;
//   3. the recording ends: mutations that passed the gate before step 1 either finished and were
//      recorded, or find the mount fenced when they take the record order, and fail untouched;
//   4. the crash point is every op recorded; one state of it under the model is chosen with the
//      mount's seed, built in LOG.crash-N, and the backing directory's contents are replaced by it
//      (the directory itself stays: the mount holds it open).
// Recover() makes the kernel forget what it cached of the old contents (entries, attributes,
// pages), marks every inode known until then stale (ESTALE; fresh lookups get new inodes) and
// serves again.
#pragma once

#include <sys/types.h>

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "faultfs/core/mutex.h"
#include "faultfs/core/status.h"
#include "faultfs/engine/engine.h"
#include "faultfs/fs/mount.h"
#include "faultfs/policy/policy.h"
#include "fuse_version.h"

namespace faultfs::fs {

class Passthrough;
class Recorder;
class Deferrer;
class EventLog;

struct CrashRequest {
  std::string model = "pp";
  policy::CrashAction::Kill kill = policy::CrashAction::Kill::kNone;
  std::vector<std::string> process_names;  // kill = kNamed
  pid_t caller = 0;                        // the op's caller; 0 from the control socket
  std::string rule;                        // the rule that fired; "" from the control socket
  const engine::OpContext* op = nullptr;   // the op that hit the crash point, for the event log
};

class LiveCrash {
 public:
  LiveCrash(Passthrough& fs, fuse_session* session, Recorder& recorder, Deferrer& deferrer,
            EventLog& events)
      : fs_(fs), session_(session), recorder_(recorder), deferrer_(deferrer), events_(events) {}

  // Cuts the power (steps above) with `seed` choosing the state. `answer` runs once every op
  // fails and the processes are killed, before the rollback: the op that hit the crash point
  // answers there. Refused, changing nothing, when already crashed or the recording has ended.
  Result<LiveCrashReport> Crash(const CrashRequest& request, uint64_t seed,
                                const std::function<void()>& answer = {});
  Result<LiveCrashReport> Recover();
  std::optional<LiveCrashReport> Last() const;

 private:
  Status Refusal(const CrashRequest& request) FAULTFS_REQUIRES(mu_);
  // Steps 3 and 4; an error leaves the mount crashed and not recoverable.
  Status RollBack(const std::string& model_name, uint64_t seed, LiveCrashReport& report);
  // Drops the kernel's entries, attributes and pages of every object the mount has shown.
  void InvalidateKernelCaches();
  void Log(const CrashRequest& request, const LiveCrashReport& report);

  Passthrough& fs_;
  fuse_session* const session_;
  Recorder& recorder_;
  Deferrer& deferrer_;
  EventLog& events_;
  mutable Mutex mu_;  // one crash or recovery at a time
  std::optional<LiveCrashReport> last_ FAULTFS_GUARDED_BY(mu_);
};

}  // namespace faultfs::fs
