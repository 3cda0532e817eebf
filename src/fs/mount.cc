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

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <fstream>
#include <thread>

#include "faultfs/core/mountinfo.h"
#include "passthrough.h"
#include "request_loop.h"

namespace faultfs {

namespace {

Result<std::string> RealDir(const std::string& path, const char* role) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return Status::FromErrno(errno, std::string(role) + " '" + path + "'");
  }
  struct stat st {};
  if (stat(resolved, &st) != 0) return Status::FromErrno(errno, std::string(role) + " '" + path + "'");
  if (!S_ISDIR(st.st_mode)) return Status::FromErrno(ENOTDIR, std::string(role) + " '" + path + "'");
  return std::string(resolved);
}

Status CheckFuseDevice() {
  UniqueFd fd(open("/dev/fuse", O_RDWR | O_CLOEXEC));
  if (fd) return Status::Ok();
  return Status::FromErrno(errno, "cannot open /dev/fuse (FUSE needs the fuse module and root)");
}

Status CheckNotMounted(const std::string& mountpoint) {
  auto m = FindMount(mountpoint);
  if (m && IsFuse(*m)) {
    return Status::Invalid("mountpoint '" + mountpoint + "' is busy: already a FUSE mount (" +
                           m->fstype + " of " + m->source + "); unmount it first with " +
                           "'faultfs umount " + mountpoint + "'");
  }
  return Status::Ok();
}

// fsname is part of a comma-separated option string: escape what libfuse would split on.
std::string EscapeOption(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string SessionOptions(const MountOptions& options, const std::string& backing) {
  std::string opts = "default_permissions,subtype=faultfs,fsname=" + EscapeOption(backing);
  if (options.allow_other) opts += ",allow_other";
  return opts;
}

Status ValidateOptions(const MountOptions& o) {
  if (o.entry_timeout_s < 0 || o.attr_timeout_s < 0 || o.negative_timeout_s < 0) {
    return Status::Invalid("cache timeouts must be >= 0 seconds");
  }
  if (o.max_threads == 0) return Status::Invalid("max_threads must be >= 1");
  if (o.spin_us > 10000) return Status::Invalid("spin_us must be <= 10000 (10 ms)");
  return Status::Ok();
}

// The readahead window of the block device holding the open directory `dir_fd`, from sysfs; 0 if
// unknown (tmpfs...). Uses the descriptor: for an in-place mount the path would reach the mount.
unsigned BackingReadAheadKb(int dir_fd) {
  struct stat st {};
  if (fstat(dir_fd, &st) != 0) return 0;
  const std::string dev = "/sys/dev/block/" + std::to_string(major(st.st_dev)) + ":" +
                          std::to_string(minor(st.st_dev));
  for (const char* queue : {"/queue/read_ahead_kb", "/../queue/read_ahead_kb"}) {  // disk, partition
    std::ifstream in(dev + queue);
    unsigned kb = 0;
    if (in >> kb) return kb;
  }
  return 0;
}

// Sets the mount's readahead (its bdi is named after the mount's device number).
void SetMountReadAhead(const std::string& mountpoint, unsigned kb) {
  const auto mount = FindMount(mountpoint);
  if (!mount || kb == 0) return;
  const std::string file = "/sys/class/bdi/" + std::to_string(mount->dev_major) + ":" +
                           std::to_string(mount->dev_minor) + "/read_ahead_kb";
  std::ofstream out(file);
  if (!(out << kb << "\n" << std::flush)) {
    spdlog::warn("could not set readahead ({}): {}", file, std::strerror(errno));
    return;
  }
  spdlog::info("readahead {} KiB", kb);
}

// Aborts the FUSE connection: pending and future requests fail with ENOTCONN at once. Used only
// when a second stop signal says not to wait for open files on a detached mount.
void AbortConnection(const MountEntry& mount) {
  std::ofstream abort_file("/sys/fs/fuse/connections/" + std::to_string(mount.dev_minor) + "/abort");
  abort_file << "1";
}

}  // namespace

bool IsInPlace(const MountOptions& options) {
  return options.mountpoint.empty() || options.mountpoint == options.backing;
}

struct Mount::Impl {
  MountOptions options;
  std::string mountpoint;
  std::unique_ptr<fs::Passthrough> fs;
  fuse_session* session = nullptr;
  std::optional<MountEntry> pending_abort;  // the detached mount, for a second stop signal
  unsigned read_ahead_kb = 0;               // applied after INIT

  ~Impl() {
    if (session == nullptr) return;
    fuse_session_unmount(session);  // a no-op when the connection is already gone
    fuse_session_destroy(session);
  }
  void RunSignalWaiter(const sigset_t& signals);
};

Mount::Mount(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Mount::~Mount() = default;

namespace {

// Stop signals are taken by one waiter thread (see Serve); every other thread must have them
// blocked, so they are blocked before any thread of the mount exists.
sigset_t StopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR2}) sigaddset(&signals, sig);
  return signals;
}

}  // namespace

Result<std::unique_ptr<Mount>> Mount::Create(const MountOptions& options) {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  FAULTFS_RETURN_IF_ERROR(ValidateOptions(options));
  auto backing = RealDir(options.backing, "backing directory");
  if (!backing.ok()) return backing.status();
  auto mountpoint = RealDir(IsInPlace(options) ? options.backing : options.mountpoint, "mountpoint");
  if (!mountpoint.ok()) return mountpoint.status();
  FAULTFS_RETURN_IF_ERROR(CheckFuseDevice());
  FAULTFS_RETURN_IF_ERROR(CheckNotMounted(*mountpoint));

  // Opened before mounting, so an in-place mount can still reach the directory it covers.
  UniqueFd root(open(backing->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Status::FromErrno(errno, "opening backing directory '" + *backing + "'");
  umask(0);  // the kernel already applied the caller's umask to the modes it sends

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->mountpoint = *mountpoint;
  impl->read_ahead_kb = options.read_ahead_kb != 0 ? options.read_ahead_kb : BackingReadAheadKb(root.get());
  impl->fs = std::make_unique<fs::Passthrough>(std::move(root), options);

  const std::string opts = SessionOptions(options, *backing);
  const char* argv[] = {"faultfs", "-o", opts.c_str(), nullptr};
  fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
  impl->session = fuse_session_new(&args, &fs::Passthrough::Ops(), sizeof(fuse_lowlevel_ops),
                                   impl->fs.get());
  fuse_opt_free_args(&args);
  if (impl->session == nullptr) return Status::Invalid("libfuse rejected the session options: " + opts);
  if (fuse_session_mount(impl->session, impl->mountpoint.c_str()) != 0) {
    fuse_session_destroy(impl->session);
    impl->session = nullptr;
    return Status::Invalid("the kernel refused to mount on '" + impl->mountpoint +
                           "' (libfuse printed the reason above)");
  }
  spdlog::info("mounted {} on {}{}", *backing, impl->mountpoint, IsInPlace(options) ? " (in place)" : "");
  return std::unique_ptr<Mount>(new Mount(std::move(impl)));
}

void Mount::Impl::RunSignalWaiter(const sigset_t& signals) {
  bool detached = false;
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGUSR2) return;  // the loop ended on its own
    if (!detached) {
      // Detaching ends the mount at once for new users; the loop ends when the last open file
      // on it is closed and the kernel drops the connection.
      spdlog::info("signal {}: unmounting {}", sig, mountpoint);
      auto mount = FindMount(mountpoint);
      if (umount2(mountpoint.c_str(), MNT_DETACH) != 0) {
        spdlog::warn("unmounting {}: {}", mountpoint, std::strerror(errno));
      }
      detached = true;
      if (mount) pending_abort = *mount;
    } else {
      spdlog::warn("signal {} again: aborting the connection; open files on it fail", sig);
      if (pending_abort) AbortConnection(*pending_abort);
    }
  }
}

Status Mount::Serve() {
  const sigset_t signals = StopSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // already blocked by Create(); kept explicit
  std::thread waiter([&] { impl_->RunSignalWaiter(signals); });

  const unsigned threads = impl_->options.single_thread ? 1 : impl_->options.max_threads;
  // After INIT, which would otherwise reset it to the kernel's FUSE default.
  auto after_init = [&] { SetMountReadAhead(impl_->mountpoint, impl_->read_ahead_kb); };
  fs::RequestLoop loop(impl_->session, threads, std::chrono::microseconds(impl_->options.spin_us),
                       after_init);
  const int res = loop.Run();
  pthread_kill(waiter.native_handle(), SIGUSR2);
  waiter.join();
  spdlog::info("{} unmounted; {} inodes were known; requests: {}", impl_->mountpoint,
               impl_->fs->inodes().size(), impl_->fs->stats().Summary());
  if (res != 0) return Status::Invalid("the FUSE request loop failed (code " + std::to_string(res) + ")");
  return Status::Ok();
}

}  // namespace faultfs
