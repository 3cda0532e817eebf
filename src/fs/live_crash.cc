#include "live_crash.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "deferrer.h"
#include "event_log.h"
#include "faultfs/core/errno_names.h"
#include "faultfs/core/mutex.h"
#include "faultfs/core/process.h"
#include "faultfs/core/random.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/core/tree_read.h"
#include "faultfs/crash/materialize.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/log.h"
#include "passthrough.h"
#include "recorder.h"

namespace faultfs::fs {

namespace {

using Kill = policy::CrashAction::Kill;

// Never pid 0 or 1, never faultfs itself.
bool MayKill(pid_t pid) { return pid > 1 && pid != getpid(); }

// The names in directory `dir_fd` ("." and ".." aside).
Result<std::vector<std::string>> Names(int dir_fd) {
  // A descriptor of its own: reading moves the offset, which `dir_fd`'s other users share.
  UniqueFd fd(openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "reading a directory");
  auto entries = ReadDir(fd.get(), "a directory");
  if (!entries.ok()) return entries.status();
  std::vector<std::string> names;
  for (DirEntry& e : *entries) names.push_back(std::move(e.name));
  return names;
}

// Every process for which `pick(pid)` holds, from /proc.
template <typename Pick>
std::vector<pid_t> ProcessesWhere(Pick&& pick) {
  std::vector<pid_t> out;
  UniqueFd proc(open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!proc) return out;
  auto names = Names(proc.get());
  if (!names.ok()) return out;
  for (const std::string& name : *names) {
    char* end = nullptr;
    const long pid = std::strtol(name.c_str(), &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (pick(static_cast<pid_t>(pid))) out.push_back(static_cast<pid_t>(pid));
  }
  return out;
}

// SIGKILL to the processes the request names; the pids killed.
std::vector<pid_t> KillProcesses(const CrashRequest& r) {
  std::vector<pid_t> targets;
  switch (r.kill) {
    case Kill::kNone:
      break;
    case Kill::kCaller:
      targets.push_back(r.caller);
      break;
    case Kill::kGroup: {
      const pid_t group = r.caller > 0 ? getpgid(r.caller) : -1;
      if (group <= 1 || group == getpgrp()) {
        spdlog::warn("live crash: refusing to kill process group {}", group);
        break;
      }
      targets = ProcessesWhere([group](pid_t pid) { return getpgid(pid) == group; });
      if (kill(-group, SIGKILL) != 0) spdlog::warn("kill group {}: {}", group, ErrnoText(errno));
      return targets;  // killed as one group: no member forked meanwhile escapes
    }
    case Kill::kNamed:
      targets = ProcessesWhere([&](pid_t pid) {
        const std::string comm = ProcessName(pid);
        return std::find(r.process_names.begin(), r.process_names.end(), comm) !=
               r.process_names.end();
      });
      break;
  }
  std::vector<pid_t> killed;
  for (pid_t pid : targets) {
    if (!MayKill(pid)) continue;
    if (kill(pid, SIGKILL) == 0) {
      killed.push_back(pid);
    } else {
      spdlog::warn("live crash: kill {}: {}", pid, ErrnoText(errno));
    }
  }
  return killed;
}

// The starting state of the recording: LOG.base, named in the header relative to the log.
std::string SnapshotDir(const std::string& log_path, const record::LogHeader& header) {
  if (!header.snapshot.empty() && header.snapshot[0] == '/') return header.snapshot;
  const size_t slash = log_path.rfind('/');
  return slash == std::string::npos ? header.snapshot
                                    : log_path.substr(0, slash + 1) + header.snapshot;
}

// LOG.crash-1, or the first LOG.crash-N that does not exist yet, created empty.
Result<std::string> NewStateDir(const std::string& log_path) {
  for (int n = 1; n < 10000; ++n) {
    const std::string dir = log_path + ".crash-" + std::to_string(n);
    if (mkdir(dir.c_str(), 0700) == 0) return dir;
    if (errno != EEXIST) return Status::FromErrno(errno, "creating " + dir);
  }
  return Status::Invalid("no free LOG.crash-N directory beside " + log_path);
}

// Makes the contents of the backing directory (open as `root_fd`) exactly those of `from`. Through
// /proc/self/fd: for an in-place mount the backing directory's path leads into the mount itself.
Status ReplaceContents(int root_fd, const std::string& from) {
  const std::string backing = "/proc/self/fd/" + std::to_string(root_fd);
  auto names = Names(root_fd);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) FAULTFS_RETURN_IF_ERROR(RemoveTree(backing + "/" + name));
  return CopyTree(from, backing);
}

std::string Pids(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t p : pids) {
    if (!out.empty()) out += ' ';
    out += std::to_string(p);
  }
  return out;
}

}  // namespace

Status LiveCrash::Refusal(const CrashRequest& request) {
  if (fs_.Crashed()) {
    return Status::Invalid("the mount has already crashed; 'faultfs ctl MOUNT recover' resumes it");
  }
  if (recorder_.finished()) {
    return Status::Invalid(
        last_ ? "the recording ended at the previous live crash, so there is nothing to crash "
                "from; mount again with --record to crash again"
              : "the recording has ended (the mount is stopping)");
  }
  if (auto model = crash::ParseModel(request.model); !model.ok()) return model.status();
  return Status::Ok();
}

Result<LiveCrashReport> LiveCrash::Crash(const CrashRequest& request, uint64_t seed,
                                         const std::function<void()>& answer) {
  MutexLock lock(mu_);
  if (Status refused = Refusal(request); !refused.ok()) {
    if (request.op != nullptr && !fs_.Crashed()) {
      spdlog::warn("rule '{}' did not crash the mount: {}", request.rule, refused.ToString());
      events_.Write(FaultEvent{.ctx = request.op,
                               .rule = request.rule,
                               .action = "crash",
                               .result = "not crashed: " + refused.message()});
    }
    return refused;
  }
  fs_.gate().SetCrashed(true);
  deferrer_.Doom();  // held requests rerun now, and fail
  LiveCrashReport report;
  report.rule = request.rule;
  report.model = request.model;
  report.seed = seed;
  report.killed = KillProcesses(request);
  if (answer) answer();
  spdlog::warn("live crash{}: the mount fails every op; killed [{}]",
               request.rule.empty() ? "" : " by rule '" + request.rule + "'", Pids(report.killed));
  if (Status s = RollBack(request.model, seed, report); !s.ok()) report.error = s.ToString();
  last_ = report;
  Log(request, report);
  if (!report.error.empty()) {
    return Status::Invalid("live crash: " + report.error +
                           "; the mount stays crashed (unmount it)");
  }
  return report;
}

Status LiveCrash::RollBack(const std::string& model_name, uint64_t seed, LiveCrashReport& report) {
  auto model = crash::ParseModel(model_name);
  if (!model.ok()) return model.status();
  // Waits for every mutation holding the record order; later ones find the mount fenced.
  Status finished = recorder_.Finish("a live crash ended the recording");
  if (!finished.ok()) return Status::Invalid("the recording is incomplete: " + finished.ToString());
  auto log = record::ReadLogFile(recorder_.log_path());
  if (!log.ok()) return log.status();
  if (log->damage) return Status::Invalid("the record log is damaged: " + log->damage->ToString());
  const auto n = static_cast<uint32_t>(log->ops.size());
  report.crash_point = n;
  report.states = crash::CountStatesAt(*log, *model, seed, n);
  Rng rng(DeriveSeed(seed, "live-crash"));
  const crash::CrashState state = crash::StateAt(*log, *model, seed, n, rng.Below(report.states));
  report.state = state.id;
  report.summary = state.summary;
  auto dir = NewStateDir(recorder_.log_path());
  if (!dir.ok()) return dir.status();
  report.state_dir = *dir;
  FAULTFS_RETURN_IF_ERROR(
      crash::Materialize(SnapshotDir(recorder_.log_path(), log->header), *log, state, seed, *dir));
  auto root = fs_.inodes().Fd(fs_.inodes().root());
  if (!root.ok()) return root.status();
  return ReplaceContents(root->get(), *dir);
}

void LiveCrash::Log(const CrashRequest& request, const LiveCrashReport& report) {
  std::string result;
  if (report.error.empty()) {
    result = "power cut after op " + std::to_string(report.crash_point) + "; rolled back to " +
             report.model + " state " + report.state + " of " + std::to_string(report.states);
    spdlog::warn("live crash: {} ({}), built in {}", result, report.summary, report.state_dir);
  } else {
    result = "power cut; the rollback failed: " + report.error;
    spdlog::error("live crash: {}", result);
  }
  events_.Write(FaultEvent{.ctx = request.op,
                           .rule = request.rule,
                           .action = "crash",
                           .result = result,
                           .details = {{"model", report.model},
                                       {"state", report.state},
                                       {"state_dir", report.state_dir},
                                       {"killed", Pids(report.killed)}}});
}

void LiveCrash::InvalidateKernelCaches() {
  InodeTable& table = fs_.inodes();
  const std::vector<InodeTable::KnownName> known = table.KnownNames();
  table.MarkAllStale();  // before the kernel asks again: its new lookups must find new inodes
  size_t entries = 0;
  size_t inodes = 0;
  // Errors are expected (ENOENT: the kernel already dropped that entry or inode) and harmless.
  // Pages and attributes first: a process that still holds an old file open must not read them.
  for (const auto& k : known) {
    inodes += fuse_lowlevel_notify_inval_inode(session_, fs_.NodeId(k.inode), 0, 0) == 0;
    if (k.parent != nullptr && !k.name.empty()) {
      entries += fuse_lowlevel_notify_inval_entry(session_, fs_.NodeId(k.parent), k.name.c_str(),
                                                  k.name.size()) == 0;
    }
  }
  // Every other directory is a new object now, reached only through fresh lookups. The root stays:
  // the kernel may remember names in it as missing that the rolled-back contents have.
  auto root = fs_.inodes().Fd(fs_.inodes().root());
  auto names = root.ok() ? Names(root->get()) : Result<std::vector<std::string>>(root.status());
  if (names.ok()) {
    for (const std::string& name : *names) {
      entries +=
          fuse_lowlevel_notify_inval_entry(session_, FUSE_ROOT_ID, name.c_str(), name.size()) == 0;
    }
  } else {
    spdlog::warn("live crash: listing the backing directory: {}", names.status().ToString());
  }
  fuse_lowlevel_notify_inval_inode(session_, FUSE_ROOT_ID, 0, 0);
  spdlog::info("live crash: the kernel dropped {} cached entries and {} cached inodes", entries,
               inodes);
}

Result<LiveCrashReport> LiveCrash::Recover() {
  MutexLock lock(mu_);
  if (!fs_.Crashed() || !last_) {
    return Status::Invalid("the mount has not crashed: nothing to recover");
  }
  if (!last_->error.empty()) {
    return Status::Invalid("the crash's rollback failed (" + last_->error +
                           "), so the backing directory is no crash state; unmount instead");
  }
  InvalidateKernelCaches();
  fs_.ForgetWriteHistory();
  if (Status s = fs_.RemeasureSpace(); !s.ok()) {
    spdlog::warn("live crash: measuring the rolled-back tree for the capacity model: {}",
                 s.ToString());
  }
  fs_.gate().SetCrashed(false);
  last_->recovered = true;
  spdlog::warn("live crash: recovered; serving {} state {} (the recording ended at the crash)",
               last_->model, last_->state);
  events_.Write(FaultEvent{.ctx = nullptr,
                           .rule = last_->rule,
                           .action = "recover",
                           .result = "serving " + last_->model + " state " + last_->state,
                           .details = {{"state", last_->state}}});
  return *last_;
}

std::optional<LiveCrashReport> LiveCrash::Last() const {
  MutexLock lock(mu_);
  return last_;
}

}  // namespace faultfs::fs
