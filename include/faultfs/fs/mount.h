// Mounting the faultfs passthrough. This header is the whole contract of the fs module for its
// users (the CLI and the tests); libfuse stays behind it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "faultfs/core/status.h"
#include "faultfs/engine/capacity.h"
#include "faultfs/engine/engine.h"
#include "faultfs/policy/policy.h"

namespace faultfs {

// How requests travel between the kernel and the daemon.
enum class Transport {
  kAuto,   // io_uring when the kernel offers it (switching fuse.enable_uring on), else /dev/fuse
  kUring,  // io_uring, or fail
  kDev,    // /dev/fuse only
};

// The io_uring threads' scheduling priority. Idle: the requester is blocked while its request is
// served, so its CPU is usually free; and a CPU running only idle-priority threads counts as idle
// when the kernel places the woken requester, which keeps it on its CPU (at normal priority it is
// moved to the other CPU on every reply, costing an inter-processor wake-up each time). But when
// other processes keep the CPUs busy, idle-priority threads get almost no CPU and every request
// waits. Auto: idle while the CPUs are free, normal while the kernel's pressure information says
// tasks wait for a CPU (src/fs/cpu_pressure.h).
enum class UringPriority {
  kAuto,
  kIdle,
  kNormal,
};

// Kernel passthrough (FUSE_PASSTHROUGH, Linux 6.9+): files that no rule reads or writes are
// opened with a backing file, and the kernel serves their reads, writes and mmap without the
// daemon (opens, fsyncs and metadata still reach it). Auto: where the kernel offers it, the
// daemon is root and the mount does not record. src/fs/backing_files.h has the details.
enum class PassthroughMode {
  kAuto,
  kOff,
};

struct MountOptions {
  std::string backing;     // directory whose contents the mount serves
  std::string mountpoint;  // where to mount; equal to `backing` for an in-place mount
  // How long the kernel may trust names, attributes and missing names without asking. Changes made
  // through the mount keep the kernel's caches coherent; the backing directory must not be changed
  // behind the mount's back unless these are 0.
  double entry_timeout_s = 60.0;
  double attr_timeout_s = 60.0;
  double negative_timeout_s = 60.0;
  bool allow_other = false;    // let users other than the one who mounted use the mount
  bool single_thread = false;  // serve one request at a time (reproducible fault sequences)
  Transport transport = Transport::kAuto;
  unsigned uring_depth = 4;  // io_uring entries (and threads) per CPU
  UringPriority uring_priority = UringPriority::kAuto;
  PassthroughMode passthrough = PassthroughMode::kAuto;
  unsigned max_threads = 8;  // worker threads serving /dev/fuse
  // After answering a request, one worker polls for the next one this long before sleeping: on
  // virtual machines a sleeping thread pays a costly wake-up per request. 0 never polls.
  unsigned spin_us = 50;
  // Kernel readahead for files on the mount, in KiB; 0 copies the backing device's setting (FUSE
  // starts at 128 KiB, far below a disk's usual window, which makes cold sequential reads slow).
  unsigned read_ahead_kb = 0;
  // Upper bound on inode descriptors kept open (see docs/architecture.md); 0 picks half the
  // process's descriptor limit.
  size_t max_cached_fds = 0;

  // Faults: the policy loaded at mount (rules can also be added live), a seed that overrides the
  // policy's (else one is chosen and logged), and the fault event log ("" for none).
  policy::Policy policy;
  std::optional<uint64_t> seed;
  std::string events_file;

  // Recording ("" for none): every mutation and persistence point the mount applies is appended to
  // this record log, and the starting state is copied to record_file + ".base" before mounting.
  // Neither may exist yet, nor lie inside the backing directory.
  std::string record_file;

  // Told what Mount::Create is doing as it goes (and, while it copies the starting state for a
  // recording, how far it got, about once a second), so the caller can say what a slow or stuck
  // startup waits for. May be empty.
  std::function<void(const std::string& stage)> on_stage;
  // Told what the user should know before the mount serves (a capacity budget the tree already
  // fills). May be empty: then only the log says it.
  std::function<void(const std::string& warning)> on_warning;
};

bool IsInPlace(const MountOptions& options);

// Ends the faultfs mount at `mountpoint` when its daemon cannot: aborts its FUSE connection (every
// request waiting on it fails at once, so nothing stays blocked) and detaches it.
Status ForceUnmount(const std::string& mountpoint);

// Unmounts `mountpoint` (at once, or detached when `lazy`) as `faultfs umount` does: umount2 as
// root, through fusermount3 otherwise (a mount a user made without root).
Status Unmount(const std::string& mountpoint, bool lazy);

// Refuses `path`, a file or directory the daemon writes (runtime directory, log, event log, record
// log), when it lies inside the backing directory or the mountpoint of `options`: once mounted, the
// daemon would wait on its own mount to reach it (nothing is served until startup has finished),
// and its files would show up in the tree it serves. `role` names the path in the message. The
// path need not exist yet; symlinks on the way are resolved.
Status CheckOutsideMount(const MountOptions& options, const std::string& path,
                         const std::string& role);

// A live crash point (a power cut of a recording mount; docs/architecture.md): what was cut, and
// which crash state the backing directory was rolled back to.
struct LiveCrashReport {
  std::string rule;   // the rule whose op hit the crash point; "" for `faultfs ctl MOUNT crash`
  std::string model;  // the persistence model the state was chosen under
  // The chosen state: its id (as `faultfs crash list` prints it), its crash point (every op
  // recorded before the power cut), how many states the model defines there, and its summary.
  std::string state;
  uint32_t crash_point = 0;
  uint64_t states = 0;
  std::string summary;
  std::string state_dir;  // where the state was built (LOG.crash-N), kept for inspection
  uint64_t seed = 0;      // the seed that chose the state (and fills garbage, for models that do)
  std::vector<pid_t> killed;
  std::string error;       // set when the rollback failed: the backing directory is not a state
  bool recovered = false;  // `faultfs ctl MOUNT recover` resumed the mount
};

// A live mount. Create() returns once the kernel has accepted the mount (the backing directory is
// opened first, so an in-place mount still reaches what it covers). Serve() answers requests until
// the filesystem is unmounted: by `faultfs umount`, or by SIGTERM, SIGINT or SIGHUP, which unmount
// it.
class Mount {
 public:
  static Result<std::unique_ptr<Mount>> Create(const MountOptions& options);
  ~Mount();
  Mount(const Mount&) = delete;
  Mount& operator=(const Mount&) = delete;

  engine::FaultEngine& engine();
  uint64_t seed() const;
  // Live control of deferred requests (see the control socket).
  void ReleaseStalled();
  size_t Stalled() const;
  void Freeze();
  void Thaw();
  bool Frozen() const;
  size_t HeldByFreeze() const;        // requests the freeze holds now (Stalled(): the stall rules')
  std::string RequestCounts() const;  // "lookup=12 write=3 ..."

  // Kernel passthrough: whether the mount uses it, and why (known once INIT is answered).
  struct PassthroughState {
    bool on = false;
    std::string reason;
  };
  PassthroughState Passthrough() const;
  struct PassthroughFile {
    std::string path;
    size_t opens = 0;
    // A rule now wants this file's reads or writes, which the kernel serves until every open of
    // the file is closed; the rule reaches them from the first open after that.
    bool ruled = false;
  };
  std::vector<PassthroughFile> PassthroughFiles() const;  // the files open in passthrough now

  // The capacity model ([capacity] of a policy): set, changed, or lifted (nullopt) while mounted.
  // The first budget measures the tree, which takes a moment on a large one.
  // Sets (or lifts) the capacity budget; a warning when the tree already fills it ("" if not).
  Result<std::string> SetCapacity(const std::optional<policy::Capacity>& budget);
  struct CapacityState {
    std::optional<policy::Capacity> budget;  // nullopt: lifted (usage is still tracked)
    engine::CapacityUsage used;
  };
  std::optional<CapacityState> Capacity() const;          // nullopt until a budget was first set
  uint64_t EventCount() const;                            // faults injected so far
  std::vector<std::string> RecentEvents(size_t n) const;  // the last n event lines (<= 1000)
  // Every new fault event, as its JSON line; `sink` returns false to stop.
  void SubscribeEvents(std::function<bool(const std::string&)> sink);

  // Recording (--record): appends a marker from the workload, in order with the ops; an error when
  // the mount is not recording. Returns once the marker is in the log.
  Status Mark(std::string text);
  bool Recording() const;
  uint64_t Recorded() const;  // records appended so far (markers included)

  // Live crash points (a recording mount; policies/README.md). Crash() cuts the power now: every
  // op fails with EIO, the processes whose command names are in `kill` are killed (SIGKILL), and
  // the backing directory is rolled back to a crash state of everything recorded, under `model`.
  // It returns once the rollback is done. Recover() resumes serving on the rolled-back contents.
  // A recording ends at its crash, so a mount crashes at most once.
  Result<LiveCrashReport> Crash(const std::string& model, const std::vector<std::string>& kill);
  Result<LiveCrashReport> Recover();
  bool Crashed() const;
  std::optional<LiveCrashReport> LastCrash() const;
  // Whether this mount can run `policy` (crash rules need a recording mount); loading it through
  // the engine directly skips this check, so callers ask first.
  Status CheckPolicy(const policy::Policy& policy) const;

  // Blocks until unmounted. SIGUSR1 logs the request counts. Create() blocks SIGTERM, SIGINT,
  // SIGHUP, SIGUSR1 and SIGUSR2 in the calling thread, so threads started after it inherit the
  // mask and Serve() routes those signals to one waiting thread; threads started before Create()
  // must block them too. `on_serving` runs once the kernel's INIT is answered and the mount's
  // settings that follow it (readahead) are applied: from then on the mount is as configured.
  // When recording, the log is finished (synced) before Serve() returns; its error too.
  Status Serve(const std::function<void()>& on_serving = {});

  struct Impl;

 private:
  explicit Mount(std::unique_ptr<Impl> impl);
  Status FinishRecording();
  std::unique_ptr<Impl> impl_;
};

}  // namespace faultfs
