// `faultfs mount`: mounts, reports readiness or the reason it failed, then serves in the
// background (or the foreground with --foreground) until unmounted.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "control_handler.h"
#include "faultfs/control/server.h"
#include "faultfs/core/errno_names.h"
#include "faultfs/core/join.h"
#include "faultfs/core/private_file.h"
#include "faultfs/core/process.h"
#include "faultfs/fs/mount.h"
#include "faultfs/policy/parse.h"
#include "logging.h"
#include "mount_startup.h"
#include "options.h"
#include "registry.h"

namespace faultfs::cli {

namespace {

struct MountArgs {
  MountOptions options;
  std::string policy_file;
  bool foreground = false;
  std::string log_level = "info";
  std::string log_file;
  double startup_timeout_s = 60;
};

// Where a mount goes and where its daemon keeps its files, all resolved before anything is
// mounted: nothing after the mount walks a path into it (it serves nothing until started).
struct Paths {
  std::string mountpoint;
  std::string backing;
  std::string log_file;  // as given; "" until the runtime directory holds the default
};

std::string RealOr(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? resolved : path;
}

// Refuses, before anything starts, daemon files inside the mount (the daemon would wait on
// itself: a runtime directory there once hung `faultfs mount` for good).
Result<Paths> CheckPaths(const MountArgs& a) {
  FAULTFS_RETURN_IF_ERROR(
      CheckOutsideMount(a.options, RuntimeDir(), "runtime directory ($FAULTFS_RUNTIME_DIR)"));
  FAULTFS_RETURN_IF_ERROR(CheckOutsideMount(a.options, a.log_file, "log file"));
  const std::string& target = IsInPlace(a.options) ? a.options.backing : a.options.mountpoint;
  return Paths{RealOr(target), RealOr(a.options.backing), a.log_file};
}

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string ReadyLine(const MountRecord& r) {
  std::string line = "faultfs: mounted " + r.backing + " on " + r.mountpoint;
  if (r.backing == r.mountpoint) line += " (in place)";
  line += " (pid " + std::to_string(r.pid) + ", fault seed " + std::to_string(r.seed);
  if (!r.log_file.empty()) line += ", log " + r.log_file;
  if (!r.control_socket.empty()) line += ", control " + r.control_socket;
  if (!r.passthrough.empty())
    line += r.passthrough.rfind("on", 0) == 0 ? ", passthrough on" : ", passthrough off";
  return line + ")";
}

// A live mount with its control socket and registry record.
struct Mounted {
  std::unique_ptr<Mount> mount;
  std::unique_ptr<MountControl> control;
  std::unique_ptr<control::Server> server;
  MountRecord record;
};

using Stage = std::function<void(const std::string&)>;

// Mounts in this process, then starts its control socket and registers it in `dir`, its runtime
// directory; `stage` is told each step.
Result<Mounted> MountHere(const MountArgs& a, const Paths& p, const std::string& dir,
                          const Stage& stage, const Stage& warn) {
  Mounted m;
  MountOptions options = a.options;
  options.on_stage = stage;
  options.on_warning = warn;
  auto mount = Mount::Create(options);
  if (!mount.ok()) return mount.status();
  m.mount = std::move(*mount);
  m.control = std::make_unique<MountControl>(*m.mount, p.mountpoint);
  stage("starting the control socket '" + dir + "/control.sock'");
  auto server = control::Server::Start(dir + "/control.sock", *m.control);
  if (!server.ok()) return server.status();  // the Mount destructor unmounts
  m.server = std::move(*server);
  stage("registering the mount in '" + dir + "'");
  m.record = MountRecord{p.mountpoint, p.backing,       getpid(),         p.log_file,
                         UtcNow(),     m.mount->seed(), m.server->path(), ""};
  FAULTFS_RETURN_IF_ERROR(WriteRecord(m.record));
  return m;
}

// Serves until unmounted; `on_serving` runs once the kernel's INIT is answered and the mount's
// settings are applied, so "ready" is never said of a mount that is not yet as configured.
int ServeUntilUnmounted(Mounted& m, const std::function<void()>& on_serving) {
  Mount& mount = *m.mount;
  const MountRecord& record = m.record;
  Status served = mount.Serve([&] {
    // The kernel's answer to INIT settled passthrough: the record says what the mount does.
    const Mount::PassthroughState passthrough = mount.Passthrough();
    m.record.passthrough =
        std::string(passthrough.on ? "on" : "off") + " (" + passthrough.reason + ")";
    if (Status s = WriteRecord(m.record); !s.ok()) spdlog::warn("{}", s.ToString());
    on_serving();
  });
  m.server.reset();  // no control after the mount is gone
  if (!served.ok()) {
    // The log stays, for whoever looks into why; the record goes (the mount is gone).
    RemoveRecord(record.mountpoint);
    spdlog::error("{}", served.ToString());
    return kExitFailure;
  }
  spdlog::info("unmounted; the runtime directory goes with the mount");
  RemoveRecordDir(record.mountpoint);
  return kExitOk;
}

// Reads --policy before anything is mounted: every error, with its position, and exit 2.
bool LoadPolicy(MountArgs& a) {
  if (a.policy_file.empty()) return true;
  auto outcome = policy::ParsePolicyFile(a.policy_file);
  for (const auto& e : outcome.errors) std::cerr << e.ToString() << "\n";
  if (!outcome.ok()) {
    std::cerr << "faultfs mount: the policy has errors; nothing was mounted\n";
    return false;
  }
  a.options.policy = std::move(*outcome.policy);
  return true;
}

int RunForeground(const MountArgs& a) {
  auto paths = CheckPaths(a);
  if (!paths.ok()) {
    std::cerr << "faultfs mount: " << paths.status().ToString() << "\n";
    return kExitFailure;
  }
  const Paths& p = *paths;
  if (Status s = ConfigureLogging(a.log_level, a.log_file); !s.ok()) {
    std::cerr << "faultfs mount: " << s.ToString() << "\n";
    return kExitUsage;
  }
  auto dir = RecordDirFor(p.mountpoint);
  auto mounted =
      dir.ok()
          ? MountHere(
                a, p, *dir, [](const std::string& what) { spdlog::debug("startup: {}", what); },
                [](const std::string&) {})  // (warnings are logged, to the terminal here)
          : Result<Mounted>(dir.status());
  if (!mounted.ok()) {
    std::cerr << "faultfs mount: " << mounted.status().ToString() << "\n";
    return kExitFailure;
  }
  return ServeUntilUnmounted(*mounted,
                             [&] { std::cout << ReadyLine(mounted->record) << std::endl; });
}

// Leaves the terminal: stdin from /dev/null; stdout and stderr to the log `log_fd`, so whatever
// bypasses spdlog (a failed invariant check, a sanitizer report, libfuse's own messages) is kept.
void DetachFromTerminal(UniqueFd log_fd) {
  const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  dup2(devnull, 0);
  dup2(log_fd ? log_fd.get() : devnull, 1);
  dup2(log_fd ? log_fd.get() : devnull, 2);
  if (devnull > 2) close(devnull);
  if (chdir("/") != 0) spdlog::warn("chdir /: {}", ErrnoText(errno));
}

// The daemon side of a background mount: reports each startup stage, then ready or the error,
// on `report`, and serves. Returns the daemon's exit code through main(), so exit-time checks
// (leak detection under the sanitizers) run as in any process.
int RunDaemon(const MountArgs& a, StartupReport& report) {
  setsid();  // leave the terminal's process group: Ctrl-C in the shell is not for the daemon
  // Until the mount is up, only warnings reach the terminal: errors travel through `report`.
  const std::string startup_level =
      (a.log_level == "trace" || a.log_level == "debug" || a.log_level == "info") ? "warn"
                                                                                  : a.log_level;
  if (Status s = ConfigureLogging(startup_level, ""); !s.ok()) {
    report.Fail(s.ToString());
    return kExitUsage;
  }
  // Resolving paths can itself hang (a path through another, stuck mount): so it is a stage too.
  report.Stage("checking where the mount and the daemon's files go");
  auto paths = CheckPaths(a);
  if (!paths.ok()) {
    report.Fail(paths.status().ToString());
    return kExitFailure;
  }
  Paths& p = *paths;
  report.Target(p.mountpoint, p.backing);
  report.Stage("creating the runtime directory in '" + RuntimeDir() + "'");
  auto dir = RecordDirFor(p.mountpoint);
  if (!dir.ok()) {
    report.Fail(dir.status().ToString());
    return kExitFailure;
  }
  if (p.log_file.empty()) p.log_file = *dir + "/daemon.log";
  report.Stage("opening the log file '" + p.log_file + "'");
  auto log_fd = OpenPrivateFile(p.log_file, "log file");
  if (!log_fd.ok()) {
    report.Fail(log_fd.status().ToString());
    return kExitFailure;
  }
  auto mounted = MountHere(
      a, p, *dir, [&](const std::string& what) { report.Stage(what); },
      [&](const std::string& what) { report.Warn(what); });
  if (!mounted.ok()) {
    report.Fail(mounted.status().ToString());
    return kExitFailure;
  }
  if (Status s = ConfigureLogging(a.log_level, p.log_file); !s.ok())
    spdlog::warn("{}", s.ToString());
  DetachFromTerminal(std::move(*log_fd));
  report.Stage("waiting for the kernel to start the FUSE session");
  std::atomic<bool> ready{false};
  const int code = ServeUntilUnmounted(*mounted, [&] {
    spdlog::info("{}", ReadyLine(mounted->record));
    report.Ready(ReadyLine(mounted->record));
    ready = true;
  });
  // A session that ended before it was ready (INIT refused, the mount taken away) is a failure.
  if (!ready) report.Fail("the FUSE session ended before it was ready; see " + p.log_file);
  return ready ? code : kExitFailure;
}

// A database that runs as its own user (postgres, redis) owns its data directory; without
// --allow-other only the user who mounted gets into the mount, and the database gets EACCES.
void WarnAboutOwner(const MountOptions& o) {
  struct stat st {};
  if (o.allow_other || stat(o.backing.c_str(), &st) != 0 || st.st_uid == geteuid()) return;
  std::string owner = LoginName(st.st_uid);
  if (owner.empty()) owner = "uid " + std::to_string(st.st_uid);
  std::cerr << "faultfs mount: warning: " << o.backing << " belongs to " << owner
            << ", but without --allow-other only the user who mounts can use the mount: a "
               "program\nrunning as "
            << owner
            << " (a database server, say) gets 'Permission denied'. Mount with --allow-other "
               "(the\ndirectory's owner and modes still decide who may do what).\n";
}

// Processes that already use files under the mountpoint keep using the directory underneath:
// their open files and working directories bypass the mount (no fault, no record) until they
// reopen them. Mounting in place under a running program is the common case; say so, by name.
void WarnAboutProcessesUsing(const MountOptions& o) {
  const std::string dir = RealOr(IsInPlace(o) ? o.backing : o.mountpoint);
  const std::vector<DirectoryUser> users = ProcessesUsing(dir);
  if (users.empty()) return;
  std::cerr << "faultfs mount: warning: " << users.size()
            << (users.size() == 1 ? " process already uses" : " processes already use")
            << " files under " << dir
            << "; what they have open (files, working directories) stays on the directory\n"
               "underneath and bypasses faultfs (no fault, no record) until they reopen it. Start"
               " or restart\nthem after mounting.\n";
  constexpr size_t kShown = 10;
  for (size_t i = 0; i < std::min(users.size(), kShown); ++i) {
    const DirectoryUser& u = users[i];
    std::vector<std::string> uses;
    if (u.cwd) uses.push_back("working directory");
    if (u.root) uses.push_back("root directory");
    if (u.open_files > 0)
      uses.push_back(std::to_string(u.open_files) +
                     (u.open_files == 1 ? " open file" : " open files"));
    if (u.mapped_files > 0)
      uses.push_back(std::to_string(u.mapped_files) +
                     (u.mapped_files == 1 ? " mapped file" : " mapped files"));
    std::cerr << "  " << u.name << " (pid " << u.pid << "): " << Join(uses) << "\n";
  }
  if (users.size() > kShown) std::cerr << "  ... and " << users.size() - kShown << " more\n";
}

int RunBackground(const MountArgs& a) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("faultfs mount: pipe");
    return kExitFailure;
  }
  std::cout.flush();
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("faultfs mount: fork");
    return kExitFailure;
  }
  if (pid == 0) {
    close(fds[0]);
    StartupReport report(fds[1]);
    return RunDaemon(a, report);
  }
  close(fds[1]);
  const int code = AwaitStartup(StartupWait{pid, fds[0], a.startup_timeout_s});
  close(fds[0]);
  return code;
}

}  // namespace

// How the mount serves: the kernel's caches, who may enter, transports, threads, readahead,
// descriptors.
void AddServingOptions(CLI::App& cmd_app, MountOptions& o) {
  CLI::App* cmd = &cmd_app;
  cmd->add_option(
         "--entry-timeout", o.entry_timeout_s,
         "Seconds the kernel may cache names (0 if the backing dir changes behind the mount)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--attr-timeout", o.attr_timeout_s, "Seconds the kernel may cache attributes")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--negative-timeout", o.negative_timeout_s,
                  "Seconds the kernel may cache that a name does not exist")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--allow-other", o.allow_other,
                "Let other users than the mounting one use the mount");
  cmd->add_flag("--single-thread", o.single_thread,
                "Serve one request at a time (same op order, same fault sequence)");
  AddChoice<Transport>(
      *cmd, "--transport", o.transport, {{"auto", Transport::kAuto}, {"dev", Transport::kDev}},
      "How requests travel: auto (io_uring when the kernel offers it, switching "
      "the\nfuse module's enable_uring on; else /dev/fuse) or dev (/dev/fuse only)");
  cmd->add_option("--uring-depth", o.uring_depth, "io_uring entries (threads) per CPU")
      ->check(CLI::Range(1U, 64U))
      ->capture_default_str();
  AddChoice<UringPriority>(
      *cmd, "--uring-priority", o.uring_priority,
      {{"auto", UringPriority::kAuto},
       {"idle", UringPriority::kIdle},
       {"normal", UringPriority::kNormal}},
      "Priority of io_uring threads: auto (idle while the CPUs are free, normal while\n"
      "tasks wait for them), idle (keeps requesters on their CPU; see\n"
      "docs/architecture.md) or normal");
  AddChoice<PassthroughMode>(
      *cmd, "--passthrough", o.passthrough,
      {{"auto", PassthroughMode::kAuto}, {"off", PassthroughMode::kOff}},
      "Kernel passthrough: auto (files that no rule reads or writes are served by the\n"
      "kernel from the backing file, where it offers that (Linux 6.9+), the daemon is\n"
      "root and the mount does not record) or off (every read and write reaches faultfs)");
  cmd->add_option("--threads", o.max_threads, "Worker threads serving /dev/fuse")
      ->check(CLI::Range(1U, 256U))
      ->capture_default_str();
  cmd->add_option("--spin-us", o.spin_us,
                  "Microseconds a worker polls for the next request before sleeping (0: never)")
      ->check(CLI::Range(0U, 10000U))
      ->capture_default_str();
  cmd->add_option("--read-ahead-kb", o.read_ahead_kb,
                  "Kernel readahead for the mount in KiB (0: as the backing device, at most 4096)")
      ->check(CLI::Range(0U, 1U << 20))
      ->capture_default_str();
  cmd->add_option("--max-cached-fds", o.max_cached_fds,
                  "Inode descriptors kept open before idle ones are closed (0: half the fd limit)")
      ->capture_default_str();
}

Runner AddMount(CLI::App& app) {
  auto a = std::make_shared<MountArgs>();
  MountOptions& o = a->options;
  CLI::App* cmd = app.add_subcommand(
      "mount",
      "Mount BACKING on MOUNTPOINT, or BACKING over itself when MOUNTPOINT is omitted (in place:\n"
      "the directory's existing contents stay visible through faultfs). Returns once the mount is\n"
      "ready; the daemon serves in the background until 'faultfs umount', SIGTERM or SIGINT.");
  cmd->add_option("BACKING", o.backing, "Directory whose contents the mount serves")->required();
  cmd->add_option("MOUNTPOINT", o.mountpoint, "Where to mount (default: BACKING itself)");
  cmd->add_flag("-f,--foreground", a->foreground, "Serve in this process instead of a daemon");
  AddServingOptions(*cmd, o);
  OneOf(cmd->add_option("--log-level", a->log_level, "How much the daemon logs")
            ->capture_default_str(),
        kLogLevels);
  cmd->add_option("--startup-timeout", a->startup_timeout_s,
                  "Seconds any one startup step may take (copying the starting state for --record\n"
                  "counts as moving while it copies) before the mount is abandoned with what it\n"
                  "waited for")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--log-file", a->log_file,
                  "Daemon log (default: daemon.log in the mount's runtime directory)");
  cmd->add_option("--policy", a->policy_file,
                  "Fault policy to load (TOML; see policies/README.md)");
  cmd->add_option("--seed", o.seed, "Seed for the policy's random draws (overrides the policy's)");
  cmd->add_option("--events", o.events_file, "Fault event log: one JSON line per injected fault");
  cmd->add_option(
         "--record", o.record_file,
         "Append every mutation and persistence point to the record log LOG; the starting\n"
         "state is copied to LOG.base first")
      ->option_text("LOG");
  return [a] {
    if (!LoadPolicy(*a)) return kExitUsage;
    // The daemon changes directory once mounted; its log stays where the caller meant.
    if (!a->options.record_file.empty()) {
      std::error_code ec;  // on failure the path stays as given
      const auto absolute = std::filesystem::absolute(a->options.record_file, ec);
      if (!ec) a->options.record_file = absolute.lexically_normal().string();
    }
    WarnAboutProcessesUsing(a->options);
    WarnAboutOwner(a->options);
    return a->foreground ? RunForeground(*a) : RunBackground(*a);
  };
}

}  // namespace faultfs::cli
