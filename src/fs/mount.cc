// Mount lifecycle: checks that say why a mount cannot happen, the libfuse session, the request
// loop, and stop signals that unmount cleanly.
#include "faultfs/fs/mount.h"

#include <fcntl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "deferrer.h"
#include "event_log.h"
#include "faultfs/core/mountinfo.h"
#include "faultfs/core/random.h"
#include "faultfs/core/tree_copy.h"
#include "fuse_uring_abi.h"
#include "fusermount.h"
#include "kernel_mount.h"
#include "live_crash.h"
#include "passthrough.h"
#include "passthrough_choice.h"
#include "request_loop.h"
#include "session_io.h"
#include "uring_transport.h"

namespace faultfs {

namespace {

Result<std::string> RealDir(const std::string& path, const char* role) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return Status::FromErrno(errno, std::string(role) + " '" + path + "'");
  }
  struct stat st {};
  if (stat(resolved, &st) != 0)
    return Status::FromErrno(errno, std::string(role) + " '" + path + "'");
  if (!S_ISDIR(st.st_mode))
    return Status::FromErrno(ENOTDIR, std::string(role) + " '" + path + "'");
  return std::string(resolved);
}

Status ValidateOptions(const MountOptions& o) {
  if (o.entry_timeout_s < 0 || o.attr_timeout_s < 0 || o.negative_timeout_s < 0) {
    return Status::Invalid("cache timeouts must be >= 0 seconds");
  }
  if (o.max_threads == 0) return Status::Invalid("max_threads must be >= 1");
  if (o.spin_us > 10000) return Status::Invalid("spin_us must be <= 10000 (10 ms)");
  if (o.uring_depth == 0 || o.uring_depth > 64) return Status::Invalid("uring_depth must be 1..64");
  return Status::Ok();
}

// A crash rule rolls the backing directory back to a state of the recording: without one there is
// nothing to roll back to.
Status CheckCrashRules(const policy::Policy& policy, bool recording) {
  if (recording) return Status::Ok();
  for (const policy::Rule& rule : policy.rules) {
    if (std::holds_alternative<policy::CrashAction>(rule.action)) {
      return Status::Invalid("rule '" + rule.id +
                             "' has action crash, which needs a recording mount (mount with "
                             "--record LOG): the crash rolls back to a state of the recording");
    }
  }
  return Status::Ok();
}

// How far the copy of the starting state got, for the caller's startup report: at most once a
// second (a large tree takes minutes, and each report is a write to a pipe).
CopyProgress SnapshotProgress(const std::function<void(const std::string&)>& stage) {
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  return [stage, last](uint64_t objects, uint64_t bytes) {
    const auto now = std::chrono::steady_clock::now();
    if (now - *last < std::chrono::seconds(1)) return;
    *last = now;
    stage("copying the starting state for --record: " + std::to_string(objects) + " objects, " +
          std::to_string(bytes >> 20) + " MiB so far");
  };
}

// Threads that rerun deferred requests (delays, stalls, freezes).
constexpr size_t kDeferrerExecutors = 4;

// What serving needs besides open files and the inode cache (fd_budget.h): what is open now,
// and what `serving` request threads, the deferrer's executors and control clients may open at
// once.
void MeasureDescriptorNeeds(fs::Passthrough& fs, size_t serving) {
  constexpr size_t kControlClients = 16 + 2;  // the control server's clients, and a crash's walk
  fs::InodeTable& inodes = fs.inodes();
  const size_t now = fs::FdBudget::CountOpenDescriptors();
  const size_t ours = inodes.cached_fds() + inodes.budget().open();
  inodes.budget().SetNeeds(now > ours ? now - ours : 0,
                           serving + kDeferrerExecutors + kControlClients);
}

}  // namespace

Status ForceUnmount(const std::string& mountpoint) {
  const auto mount = FindMount(mountpoint);
  if (!mount) return Status::Ok();
  // (Aborting the connection needs root; the lazy unmount alone ends the mount.)
  if (fs::MountsThroughFusermount()) return fs::FusermountUnmount(mountpoint);
  fs::AbortConnection(*mount);
  if (umount2(mountpoint.c_str(), MNT_DETACH) != 0) {
    return Status::FromErrno(errno, "detaching '" + mountpoint + "'");
  }
  return Status::Ok();
}

Status Unmount(const std::string& mountpoint, bool lazy) {
  if (fs::MountsThroughFusermount()) return fs::FusermountUnmount(mountpoint, lazy);
  if (umount2(mountpoint.c_str(), lazy ? MNT_DETACH : 0) != 0)
    return Status::FromErrno(errno, "'" + mountpoint + "'");
  return Status::Ok();
}

bool IsInPlace(const MountOptions& options) {
  return options.mountpoint.empty() || options.mountpoint == options.backing;
}

struct Mount::Impl {
  MountOptions options;
  std::string mountpoint;
  std::unique_ptr<engine::FaultEngine> engine;
  fs::EventLog events;
  std::unique_ptr<fs::Recorder> recorder;  // declared before fs: outlives the ops that use it
  bool created = false;                    // Create() succeeded
  bool recording_finished = false;
  std::unique_ptr<fs::Passthrough> fs;
  std::unique_ptr<fs::UringTransport> uring;
  std::unique_ptr<fs::Deferrer> deferrer;
  std::unique_ptr<fs::LiveCrash> live_crash;  // recording mounts only
  fuse_session* session = nullptr;
  std::optional<MountEntry> mount;     // this mount, as the kernel listed it when mounted
  bool unprivileged = false;           // mounted through fusermount3, which also unmounts
  unsigned read_ahead_kb = 0;          // applied after INIT
  int dev_fd = -1;                     // the FUSE connection's descriptor (libfuse owns it)
  fs::PassthroughAsk passthrough_ask;  // before INIT
  mutable Mutex passthrough_mu;
  Mount::PassthroughState passthrough FAULTFS_GUARDED_BY(passthrough_mu){
      false, "not decided yet: the kernel has not started the connection"};

  ~Impl() {
    DetachIfStillMounted();
    if (uring) uring->Join();
    deferrer.reset();                    // its executors feed the session: they stop before it goes
    if (fs) fs->backing_files().Stop();  // before the session closes the descriptor
    if (session != nullptr) fuse_session_destroy(session);  // closes the device descriptor
    EndRecording();
  }
  // A mount that never started leaves no log behind (the same command can be run again); one
  // that served has its log finished, if Serve() did not already.
  void EndRecording() {
    if (recorder == nullptr || recording_finished) return;
    recording_finished = true;
    const Status s = created ? recorder->Finish() : recorder->Discard();
    if (!s.ok()) spdlog::error("record log {}: {}", recorder->log_path(), s.ToString());
  }
  // A connection that ended without an unmount (aborted, failed start) must not leave a stale
  // mount: detach it if the mount at our path is still this one.
  void DetachIfStillMounted() {
    if (!mount) return;
    const auto now = FindMount(mountpoint);
    if (now && now->dev_major == mount->dev_major && now->dev_minor == mount->dev_minor) {
      (void)Detach();
    }
    mount.reset();
  }
  // Detaches the mount (lazily: it ends for new users at once).
  Status Detach() const {
    if (unprivileged) return fs::FusermountUnmount(mountpoint);
    if (umount2(mountpoint.c_str(), MNT_DETACH) != 0)
      return Status::FromErrno(errno, "unmounting '" + mountpoint + "'");
    return Status::Ok();
  }
  void RunSignalWaiter(const sigset_t& signals);
  // After INIT: whether the kernel granted the passthrough INIT's reply asked for, said once in
  // the log.
  void StartPassthrough();

  // Mount::Create's stages, in order.
  using Stage = std::function<void(const std::string&)>;
  // The recorder (it copies the starting state first), the fault engine with the policy, the
  // event log and the capacity budget.
  Status StartFaults(const std::string& backing, const Stage& stage);
  // The libfuse session, with the deferrer and live crashes that feed it.
  Status StartSession();
  // The FUSE connection: made by fusermount3 without root, else on `dev` (with the io_uring
  // transport when it may be used); the kernel mount at the end.
  Status Connect(UniqueFd dev, const std::string& backing, const Stage& stage);
};

Mount::Mount(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mount::~Mount() = default;

namespace {

// Stop signals are taken by one waiter thread (see Serve); every other thread must have them
// blocked, so they are blocked before any thread of the mount exists.
sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) sigaddset(&signals, sig);
  return signals;
}

}  // namespace

Result<std::unique_ptr<Mount>> Mount::Create(const MountOptions& options) {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  FAULTFS_RETURN_IF_ERROR(ValidateOptions(options));
  FAULTFS_RETURN_IF_ERROR(CheckCrashRules(options.policy, !options.record_file.empty()));
  auto backing = RealDir(options.backing, "backing directory");
  if (!backing.ok()) return backing.status();
  auto mountpoint =
      RealDir(IsInPlace(options) ? options.backing : options.mountpoint, "mountpoint");
  if (!mountpoint.ok()) return mountpoint.status();
  const auto stage = [&options](const std::string& what) {
    if (options.on_stage) options.on_stage(what);
  };
  // The daemon's own files outside what it serves: the snapshot would copy itself, the log would
  // record its own growth, and a file under the mountpoint waits on the mount itself.
  stage("checking where the record log and the fault event log go");
  FAULTFS_RETURN_IF_ERROR(CheckOutsideMount(options, options.record_file, "record log"));
  FAULTFS_RETURN_IF_ERROR(CheckOutsideMount(options, options.events_file, "fault event log"));
  // Without root, fusermount3 opens the device when it mounts (below).
  auto dev = fs::MountsThroughFusermount() ? Result<UniqueFd>(UniqueFd()) : fs::OpenFuseDevice();
  if (!dev.ok()) return dev.status();
  FAULTFS_RETURN_IF_ERROR(fs::CheckNotMounted(*mountpoint));
  stage("opening the backing directory '" + *backing + "'");

  // Opened before mounting, so an in-place mount can still reach the directory it covers.
  UniqueFd root(open(backing->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Status::FromErrno(errno, "opening backing directory '" + *backing + "'");
  umask(0);  // the kernel already applied the caller's umask to the modes it sends

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->mountpoint = *mountpoint;
  impl->read_ahead_kb = options.read_ahead_kb != 0 ? options.read_ahead_kb
                                                   : std::min(fs::BackingReadAheadKb(root.get()),
                                                              fs::kMaxDefaultReadAheadKb);
  impl->fs = std::make_unique<fs::Passthrough>(std::move(root), options);
  FAULTFS_RETURN_IF_ERROR(impl->StartFaults(*backing, stage));
  FAULTFS_RETURN_IF_ERROR(impl->StartSession());
  FAULTFS_RETURN_IF_ERROR(impl->Connect(std::move(*dev), *backing, stage));
  spdlog::info("mounted {} on {}{}; fault seed {} ({} rules)", *backing, impl->mountpoint,
               IsInPlace(options) ? " (in place)" : "", impl->engine->seed(),
               options.policy.rules.size());
  if (impl->recorder) spdlog::info("recording to {}", options.record_file);
  impl->created = true;
  return std::unique_ptr<Mount>(new Mount(std::move(impl)));
}

Status Mount::Impl::StartFaults(const std::string& backing, const Stage& stage) {
  if (!options.record_file.empty()) {
    // Before the kernel mount: the starting state is the backing directory as nothing changed it.
    stage("copying the starting state of '" + backing + "' to '" + options.record_file +
          ".base' for --record");
    auto started = fs::Recorder::Start(options.record_file, backing, SnapshotProgress(stage));
    if (!started.ok()) return started.status();
    recorder = std::move(*started);
    fs->set_recorder(recorder.get());
  }
  const uint64_t seed = options.seed.value_or(options.policy.seed.value_or(FreshSeed()));
  engine = std::make_unique<engine::FaultEngine>(seed);
  policy::Policy initial = options.policy;
  initial.seed = seed;
  FAULTFS_RETURN_IF_ERROR(engine->Load(std::move(initial)));
  if (!options.events_file.empty())
    stage("opening the fault event log '" + options.events_file + "'");
  FAULTFS_RETURN_IF_ERROR(events.Open(options.events_file));
  if (options.policy.capacity) {
    auto capacity = fs->SetCapacity(options.policy.capacity);
    if (!capacity.ok()) return capacity.status();
    if (!capacity->empty() && options.on_warning) options.on_warning(*capacity);
  }
  return Status::Ok();
}

Status Mount::Impl::StartSession() {
  const char* argv[] = {"faultfs", nullptr};
  fuse_args args = FUSE_ARGS_INIT(1, const_cast<char**>(argv));
  session = fuse_session_new(&args, &fs::Passthrough::Ops(), sizeof(fuse_lowlevel_ops), fs.get());
  fuse_opt_free_args(&args);
  if (session == nullptr) return Status::Invalid("libfuse could not create a session");
  deferrer = std::make_unique<fs::Deferrer>(session, kDeferrerExecutors);
  fs->gate().set_faults(engine.get(), deferrer.get(), &events);
  if (recorder) {
    live_crash = std::make_unique<fs::LiveCrash>(*fs, session, *recorder, *deferrer, events);
    fs->gate().set_live_crash(live_crash.get());
  }
  return Status::Ok();
}

Status Mount::Impl::Connect(UniqueFd dev, const std::string& backing, const Stage& stage) {
  if (fs::MountsThroughFusermount()) {
    stage("mounting on '" + mountpoint + "' through fusermount3");
    auto mounted = fs::FusermountMount(backing, mountpoint, options.allow_other);
    if (!mounted.ok()) return mounted.status();
    mount = FindMount(mountpoint);
    unprivileged = true;
    dev = std::move(*mounted);
  }
  dev_fd = dev.get();
  // Registering backing files takes CAP_SYS_ADMIN: an unprivileged mount does not ask.
  auto root = fs->inodes().Fd(fs->inodes().root());
  const int backing_fd = root.ok() ? root->get() : -1;
  passthrough_ask = fs::AskForPassthrough(options.passthrough, recorder != nullptr,
                                          !unprivileged && geteuid() == 0, backing_fd);
  fs->set_passthrough_depth(passthrough_ask.max_stack_depth);
  const fuse_custom_io io{fs::RouteReply, fs::ReadRequest, nullptr, nullptr};
  if (fuse_session_custom_io(session, &io, dev.release()) != 0)
    return Status::Invalid("libfuse refused the FUSE device descriptor");
  // One request at a time must stay one request at a time: single-thread mode keeps /dev/fuse.
  // (FUSE over io_uring needs the fuse module's switch, which only root may turn.)
  if (options.transport == Transport::kAuto && !options.single_thread && !unprivileged &&
      fs::EnableKernelUring()) {
    uring = std::make_unique<fs::UringTransport>(session, dev_fd, fs->init_patch(),
                                                 options.uring_depth, options.uring_priority);
    fs->set_uring(uring.get());
  }
  if (unprivileged) return Status::Ok();
  stage("mounting on '" + mountpoint + "'");
  FAULTFS_RETURN_IF_ERROR(fs::KernelMount(backing, mountpoint, dev_fd, options.allow_other));
  mount = FindMount(mountpoint);
  return Status::Ok();
}

void Mount::Impl::RunSignalWaiter(const sigset_t& signals) {
  bool detached = false;
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGUSR2) return;  // the loop ended on its own
    if (sig == SIGUSR1) {        // "what has the daemon been asked?"
      spdlog::info("requests so far: {}", fs->stats().Summary());
      continue;
    }
    if (!detached) {
      // Detaching ends the mount at once for new users; the loop ends when the last open file
      // on it is closed and the kernel drops the connection.
      spdlog::info("signal {}: unmounting {}", sig, mountpoint);
      if (Status s = Detach(); !s.ok()) spdlog::warn("{}", s.ToString());
      detached = true;
    } else {
      spdlog::warn("signal {} again: aborting the connection; open files on it fail", sig);
      if (mount) fs::AbortConnection(*mount);
    }
  }
}

Status Mount::Serve(const std::function<void()>& on_serving) {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // already blocked by Create(); kept explicit
  std::thread waiter([&] { impl_->RunSignalWaiter(signals); });

  // With io_uring, /dev/fuse carries only INIT, forgets and interrupts: one thread, no polling.
  fs::UringTransport* uring = impl_->uring.get();
  const unsigned threads =
      uring != nullptr ? 1 : (impl_->options.single_thread ? 1 : impl_->options.max_threads);
  const auto spin = std::chrono::microseconds(uring != nullptr ? 0 : impl_->options.spin_us);
  fs::InitPatch& init = impl_->fs->init_patch();
  fs::Deferrer& deferrer = *impl_->deferrer;
  auto observe = [&init, &deferrer](const char* request, size_t size) {
    init.ObserveRequest(request, size);
    deferrer.Observe(request, size);  // interrupts: a killed caller's held request is answered
  };
  // After INIT, which would otherwise reset it to the kernel's FUSE default; and the descriptor
  // budget, now that the transport holds all it will (its rings are built during INIT).
  auto after_init = [&] {
    fs::SetMountReadAhead(impl_->mountpoint, impl_->read_ahead_kb);
    MeasureDescriptorNeeds(*impl_->fs, uring != nullptr ? uring->entries() + threads : threads);
    impl_->StartPassthrough();
    if (on_serving) on_serving();
  };
  fs::RequestLoop loop(impl_->session, threads, spin, observe, after_init);
  const int res = loop.Run();
  if (uring != nullptr) uring->Join();
  impl_->DetachIfStillMounted();
  pthread_kill(waiter.native_handle(), SIGUSR2);
  waiter.join();
  spdlog::info(
      "{} unmounted; {} inodes were known; requests: {}; via /dev/fuse {}, via io_uring {}",
      impl_->mountpoint, impl_->fs->inodes().size(), impl_->fs->stats().Summary(), loop.served(),
      uring != nullptr ? uring->served() : 0);
  Status recorded = FinishRecording();
  if (res != 0)
    return Status::Invalid("the FUSE request loop failed (code " + std::to_string(res) + ")");
  return recorded;
}

// No op runs any more: the log is complete. Its error fails the mount command (a recording with
// a gap must not pass for a whole one).
Status Mount::FinishRecording() {
  if (impl_->recorder == nullptr || impl_->recording_finished) return Status::Ok();
  impl_->recording_finished = true;
  Status s = impl_->recorder->Finish();
  if (!s.ok())
    return Status::Invalid("record log " + impl_->recorder->log_path() +
                           " is incomplete: " + s.ToString());
  spdlog::info("record log {}: {} records", impl_->recorder->log_path(),
               impl_->recorder->recorded());
  return Status::Ok();
}

void Mount::Impl::StartPassthrough() {
  Mount::PassthroughState state = fs::PassthroughAfterInit(
      passthrough_ask, fs->init_patch().Granted(fs::uring_abi::kPassthroughFlags2));
  if (state.on) fs->backing_files().Start(dev_fd);
  spdlog::info("passthrough: {} ({})", state.on ? "on" : "off", state.reason);
  MutexLock lock(passthrough_mu);
  passthrough = std::move(state);
}

Mount::PassthroughState Mount::Passthrough() const {
  MutexLock lock(impl_->passthrough_mu);
  return impl_->passthrough;
}
std::vector<Mount::PassthroughFile> Mount::PassthroughFiles() const {
  return impl_->fs->PassthroughFiles();
}
engine::FaultEngine& Mount::engine() { return *impl_->engine; }
uint64_t Mount::seed() const { return impl_->engine->seed(); }
void Mount::ReleaseStalled() { impl_->deferrer->ReleaseStalled(); }
size_t Mount::Stalled() const { return impl_->deferrer->stalled(); }
void Mount::Freeze() { impl_->deferrer->Freeze(); }
void Mount::Thaw() { impl_->deferrer->Thaw(); }
bool Mount::Frozen() const { return impl_->deferrer->frozen(); }
size_t Mount::HeldByFreeze() const { return impl_->deferrer->held_by_freeze(); }
std::string Mount::RequestCounts() const { return impl_->fs->stats().Summary(); }
Result<std::string> Mount::SetCapacity(const std::optional<policy::Capacity>& budget) {
  return impl_->fs->SetCapacity(budget);
}
std::optional<Mount::CapacityState> Mount::Capacity() const {
  const fs::SpaceAccount* space = impl_->fs->space();
  if (space == nullptr) return std::nullopt;
  return CapacityState{space->model().budget(), space->model().used()};
}
uint64_t Mount::EventCount() const { return impl_->events.count(); }
std::vector<std::string> Mount::RecentEvents(size_t n) const { return impl_->events.Recent(n); }
Status Mount::Mark(std::string text) {
  if (impl_->recorder == nullptr)
    return Status::Invalid("this mount is not recording (mount it with --record LOG)");
  return impl_->recorder->Mark(std::move(text));
}
bool Mount::Recording() const { return impl_->recorder != nullptr; }
uint64_t Mount::Recorded() const {
  return impl_->recorder != nullptr ? impl_->recorder->recorded() : 0;
}
Result<LiveCrashReport> Mount::Crash(const std::string& model,
                                     const std::vector<std::string>& kill) {
  if (impl_->live_crash == nullptr)
    return Status::Invalid(
        "this mount is not recording (mount it with --record LOG): a crash "
        "rolls back to a state of the recording");
  fs::CrashRequest request;
  request.model = model;
  request.kill =
      kill.empty() ? policy::CrashAction::Kill::kNone : policy::CrashAction::Kill::kNamed;
  request.process_names = kill;
  return impl_->live_crash->Crash(request, impl_->engine->seed());
}
Result<LiveCrashReport> Mount::Recover() {
  if (impl_->live_crash == nullptr)
    return Status::Invalid("the mount has not crashed: nothing to recover");
  return impl_->live_crash->Recover();
}
bool Mount::Crashed() const { return impl_->fs->Crashed(); }
std::optional<LiveCrashReport> Mount::LastCrash() const {
  if (impl_->live_crash == nullptr) return std::nullopt;
  return impl_->live_crash->Last();
}
Status Mount::CheckPolicy(const policy::Policy& policy) const {
  return CheckCrashRules(policy, Recording());
}
void Mount::SubscribeEvents(std::function<bool(const std::string&)> sink) {
  impl_->events.Subscribe(std::move(sink));
}

}  // namespace faultfs
