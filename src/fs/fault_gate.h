// The fault gate: the stage every op passes before it acts. It describes the op to the fault
// engine (engine::FaultEngine::Decide), logs what fired, and carries out what must happen before
// the op: it answers the request (an injected errno, a crash point, a kill before the op), defers
// it (delay, stall, freeze; deferrer.h), or lets the op run with the data fault it must apply
// (Fault). After a live crash it also fails ops with EIO while crashed, and ops on inodes from
// before the crash with ESTALE once recovered.
//
// The stages of a request: the FUSE adapter (ops_table.cc) -> the gate (here) -> the op's *at
// system calls (ops_*.cc), inside a Passthrough::Mutation when it changes the backing directory
// -> the record (ops_record.cc, recorder.h). docs/architecture.md draws the path.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "faultfs/engine/engine.h"
#include "fuse_version.h"
#include "inode_table.h"
#include "reply.h"

namespace faultfs::fs {

class Deferrer;
class EventLog;
class LiveCrash;

// What an operation is about, as the gate describes it to the engine.
struct OpTarget {
  policy::Op op = policy::Op::kGetattr;
  const Inode* inode = nullptr;   // the object operated on, when it exists
  const Inode* inode2 = nullptr;  // copy_file_range: the destination file
  const Inode* parent = nullptr;  // or the entry `name` in `parent`
  const char* name = nullptr;
  const Inode* parent2 = nullptr;  // rename and link: the destination entry
  const char* name2 = nullptr;
  mode_t mode = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  int open_flags = 0;
};

// The faults an operation carries while it runs (when the gate let it proceed).
class Fault {
 public:
  Fault() = default;
  Fault(const Fault&) = delete;
  Fault& operator=(const Fault&) = delete;

  // The action that changes how the operation behaves, if any (data faults, lying fsync...).
  template <typename T>
  const T* As() const {
    return decision_.outcome == nullptr ? nullptr : std::get_if<T>(&decision_.outcome->action);
  }
  uint64_t draw() const { return decision_.draw; }
  int err() const { return decision_.err; }

 private:
  friend class FaultGate;
  static void KillAfter(void* fault);  // a Reply hook: signals the caller of a "kill after"
  engine::Decision decision_;
  pid_t caller_ = 0;
};

class FaultGate {
 public:
  explicit FaultGate(const InodeTable& inodes) : inodes_(inodes) {}
  FaultGate(const FaultGate&) = delete;
  FaultGate& operator=(const FaultGate&) = delete;

  // kRun: the op must run (carrying in `f` whatever data fault applies to it); kAnswered: an
  // injected error, a crash point or a kill before the op answered the request; kDeferred: it
  // reruns later (delay, stall, freeze). `f` must live until the op has replied: the gate may
  // hang on the reply a hook that reads it (a kill after the op, Fault::KillAfter).
  enum class Verdict { kRun, kAnswered, kDeferred };
  Verdict Admit(Reply& r, const OpTarget& t, Fault& f);

  // The fault machinery; all null when faults are off (the gate then costs one relaxed load).
  void set_faults(engine::FaultEngine* engine, Deferrer* deferrer, EventLog* events) {
    engine_ = engine;
    deferrer_ = deferrer;
    events_ = events;
  }
  engine::FaultEngine* engine() const { return engine_; }
  // Live crash points (live_crash.h): null unless the mount records.
  void set_live_crash(LiveCrash* crash) { live_crash_ = crash; }

  // Crashed: every op fails with EIO, and mutations that passed the gate before the crash find
  // themselves fenced (CrashedSinceAdmit) when they begin. Once recovered, ops on inodes from
  // before the crash fail with ESTALE.
  void SetCrashed(bool crashed) {
    crash_state_.store(crashed ? kCrashed | kHasCrashed : kHasCrashed, std::memory_order_seq_cst);
  }
  bool Crashed() const { return (crash_state_.load(std::memory_order_acquire) & kCrashed) != 0; }
  // Whether a live crash began since this thread's op passed the gate (whether or not the mount
  // has recovered since): the op must not touch the backing directory.
  bool CrashedSinceAdmit() const {
    return crash_state_.load(std::memory_order_relaxed) != admitted_crash_state_;
  }

  // A refusal by the capacity model is a fault the application sees: it gets an event (rule and
  // action "capacity") like any rule's. Returns `err`, for the reply.
  int CapacityRefusal(fuse_req_t req, const OpTarget& t, int err);
  // A write the capacity model cut short: `kept` of the bytes asked for.
  void CapacityShortWrite(fuse_req_t req, const OpTarget& t, uint64_t kept);
  // Whether a file must be served around the page cache (rules on its reads or writes).
  bool Uncached(const Inode& inode) const;
  // Whether any rule may act on `op` (one lookup; false when faults are off).
  bool Targets(policy::Op op) const { return engine_ != nullptr && engine_->Targets(op); }
  // Whether the rules need the write history (engine::FaultEngine::KeepsWriteHistory).
  bool KeepsWriteHistory() const { return engine_ != nullptr && engine_->KeepsWriteHistory(); }

 private:
  // Admit's steps.
  Verdict HoldWhileFrozen(Reply& r);
  engine::OpContext ContextOf(Reply& r, const OpTarget& t) const;
  Verdict Defer(Reply& r, const engine::Decision& d);
  Verdict Outcome(Reply& r, Fault& f, const engine::OpContext& ctx);
  // After a live crash: EIO while crashed (and for requests held since before it), ESTALE for
  // objects from before it; 0 lets the op go on.
  int CrashError(const OpTarget& t);
  void DoomIfCrashedMeanwhile();
  // A crash rule fired for this op (which then does not run).
  Verdict CrashHere(Reply& r, const policy::CrashAction& c, const engine::OpContext& ctx,
                    const std::string& rule);
  void LogFired(const engine::OpContext& ctx, const engine::Decision& d);
  void LogCapacity(fuse_req_t req, const OpTarget& t, std::string result);

  const InodeTable& inodes_;  // for the paths rules match and the staleness of inodes
  engine::FaultEngine* engine_ = nullptr;
  Deferrer* deferrer_ = nullptr;
  EventLog* events_ = nullptr;
  LiveCrash* live_crash_ = nullptr;
  static constexpr uint32_t kCrashed = 1;     // crashed now
  static constexpr uint32_t kHasCrashed = 2;  // crashed at some point: stale inodes may exist
  std::atomic<uint32_t> crash_state_{0};      // 0 until a crash: the gate's one extra load
  static inline thread_local uint32_t admitted_crash_state_ = 0;  // crash_state_ at this op's gate
};

}  // namespace faultfs::fs
