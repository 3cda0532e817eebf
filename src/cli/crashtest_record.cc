#include "crashtest_record.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>

#include "faultfs/core/mountinfo.h"
#include "faultfs/core/process.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/record/log.h"
#include "options.h"

namespace faultfs::cli {

namespace {

// Where an interrupted crashtest must unmount (read by the signal handler).
char g_mountpoint[PATH_MAX];

void UnmountAndDie(int sig) {
  if (g_mountpoint[0] != '\0') umount2(g_mountpoint, MNT_DETACH);
  signal(sig, SIG_DFL);
  raise(sig);
}

class InterruptGuard {
 public:
  explicit InterruptGuard(const std::string& mnt) {
    std::snprintf(g_mountpoint, sizeof(g_mountpoint), "%s", mnt.c_str());
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) signal(sig, UnmountAndDie);
  }
  ~InterruptGuard() {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) signal(sig, SIG_DFL);
    g_mountpoint[0] = '\0';
  }
};

// Waits until `mnt` is a faultfs mount, or the mount process `pid` has given up.
Status WaitMounted(const std::string& mnt, pid_t pid, const std::string& mount_log) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    const auto m = FindMount(mnt);
    if (m && m->fstype == "fuse.faultfs") return Status::Ok();
    if (!ProcessRunning(pid)) {
      return Status::Invalid("the recording mount failed to start: " + FileTail(mount_log, 2000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Status::Invalid("the recording mount did not come up within 60 s; see " + mount_log);
}

// Unmounts (waiting out a busy mount briefly, then detaching) and collects the mount process.
Status Unmount(const std::string& mnt, pid_t pid) {
  for (int i = 0; i < 200 && umount2(mnt.c_str(), 0) != 0; ++i) {
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  if (FindMount(mnt)) umount2(mnt.c_str(), MNT_DETACH);
  auto done = WaitSubprocess(pid, 120);
  if (!done.ok()) return done.status();
  if (done->timed_out || done->exit_code != 0) {
    return Status::Invalid("the recording mount ended with " + done->Describe() +
                           "; the record log may be incomplete");
  }
  return Status::Ok();
}

// CopyTree copies what is in a directory; the workload also meets the directory itself (a server
// running as its own user needs its data directory to be its own, as --dir has it).
Status CopyRootOwnerAndMode(const std::string& from, const std::string& to) {
  struct stat st {};
  if (stat(from.c_str(), &st) != 0) return Status::FromErrno(errno, "reading " + from);
  if (chown(to.c_str(), st.st_uid, st.st_gid) != 0 || chmod(to.c_str(), st.st_mode & 07777) != 0)
    return Status::FromErrno(errno, "giving " + to + " the owner and mode of " + from);
  return Status::Ok();
}

}  // namespace

Result<Recorded> RecordWorkload(const RecordRun& run) {
  const std::string data = run.work + "/data", mnt = run.work + "/mnt";
  for (const auto& d : {data, mnt}) {
    if (mkdir(d.c_str(), 0755) != 0) return Status::FromErrno(errno, "creating " + d);
  }
  const auto copy_start = std::chrono::steady_clock::now();
  FAULTFS_RETURN_IF_ERROR(CopyTree(run.dir, data));
  FAULTFS_RETURN_IF_ERROR(CopyRootOwnerAndMode(run.dir, data));
  Recorded rec;
  rec.log = run.work + "/record.log";
  rec.workload_output = run.work + "/workload.out";
  rec.dir = data;
  rec.copy_secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - copy_start).count();
  const std::string mount_log = run.work + "/mount.out";
  SubprocessSpec mount;
  mount.argv = {SelfExe(), "mount", "--foreground", "--record", rec.log, data, mnt};
  if (run.allow_other) {
    mount.argv.push_back("--allow-other");
    // Other users reach the mount through the scratch directory.
    if (chmod(run.work.c_str(), 0755) != 0) return Status::FromErrno(errno, "opening " + run.work);
  }
  mount.output = mount_log;
  InterruptGuard guard(mnt);
  auto pid = SpawnSubprocess(mount);
  if (!pid.ok()) return pid.status();
  if (Status up = WaitMounted(mnt, *pid, mount_log); !up.ok()) {
    (void)Unmount(mnt, *pid);
    return up;
  }
  // The mount made the snapshot before it came up: its digests are read while the workload runs.
  rec.digests = std::async(std::launch::async, crash::SnapshotDigests::Of,
                           record::SnapshotBesideLog(rec.log));
  SubprocessSpec workload;
  workload.command = run.workload;
  workload.cwd = mnt;
  workload.env = {{"FAULTFS_DIR", mnt}, {"FAULTFS", SelfExe()}};
  workload.output = rec.workload_output;
  workload.timeout_s = run.timeout_s;
  auto ran = RunSubprocess(workload);
  Status down = Unmount(mnt, *pid);
  if (!ran.ok()) return ran.status();
  FAULTFS_RETURN_IF_ERROR(down);
  rec.workload = *ran;
  return rec;
}

}  // namespace faultfs::cli
