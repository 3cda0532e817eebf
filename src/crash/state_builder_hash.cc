// Hashing a state as it is built: the digests the builder already knows (lent files; while
// extending, files no op touched), what the hash saw (what the checker must leave alone), and
// making sure that the checker's changes will show in the objects' ctimes.
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/utsname.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>

#include "faultfs/core/tree_hash.h"
#include "state_builder_parts.h"

namespace faultfs::crash {

namespace {

// Whether every change to a file after a stat() of it gets a ctime that differs from what that
// stat() saw. Linux 6.13+ promises it on ext4, xfs, btrfs and tmpfs (multigrain timestamps);
// elsewhere a change within the same clock tick may keep the ctime.
bool CtimeShowsEveryChange(int fd) {
  struct statfs fs {};
  if (fstatfs(fd, &fs) != 0) return false;
  const auto type = static_cast<unsigned long>(fs.f_type);
  if (type != EXT4_SUPER_MAGIC && type != XFS_SUPER_MAGIC && type != BTRFS_SUPER_MAGIC &&
      type != TMPFS_MAGIC) {
    return false;
  }
  utsname u{};
  int major = 0, minor = 0;
  if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
  return major > 6 || (major == 6 && minor >= 13);
}

bool Before(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

// Waits until the clock the kernel stamps ctimes with has passed `t`, so that a change from now
// on gets a later ctime than `t`.
void WaitPast(const timespec& t) {
  for (;;) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    if (Before(t, now)) return;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace

// Lent files' digests are known, and so, while a state is extended, are those of the files the
// last hash read that no op has touched since. (Not those of other files seen before: an inode
// number freed by an op and reused within one clock tick can look unchanged by its stat.) Records
// what the checker must leave alone; while extending, checks that it did (CheckUnchanged).
class StateBuilder::Observer : public HashObserver {
 public:
  explicit Observer(StateBuilder& b) : b_(b) {}
  void Saw(const std::string& path, const struct stat& st) override {
    b_.seen_[path] = st;
    if (b_.extending_) b_.CheckUnchanged(path, st);
  }
  const std::string* Known(const std::string& path, const struct stat& st) override {
    if (File* f = Lent(st)) {
      // Ops never change a lent file (they change a copy): one that is not as the last hash saw
      // it was changed by the checker.
      if (b_.extending_ && !(f->seen && SameFile(st, f->seen_st))) b_.spoiled_ = true;
      if (b_.spoiled_) return nullptr;
      f->seen = true;
      f->seen_path = path;
      f->seen_st = st;
      return f->digest.empty() ? nullptr : &f->digest;  // not known yet: read, then Learned
    }
    if (!b_.extending_ || b_.spoiled_ || b_.touched_.contains(path)) return nullptr;
    // Untouched by the ops, and (Saw checked) as the last hash saw it.
    const auto read = b_.read_before_.find(path);
    if (read == b_.read_before_.end()) return nullptr;
    return &(b_.read_[path] = read->second);
  }
  // A lent file is the base's, unchanged (ops change copies of it): what HashTree read of it is
  // its digest for good.
  void Learned(const std::string& path, const struct stat& st, const std::string& digest) override {
    if (b_.spoiled_) return;  // the checker changed the state: nothing read here is kept
    File* f = Lent(st);
    if (f == nullptr) {
      b_.read_[path] = digest;
    } else if (f->digest.empty()) {
      f->digest = digest;
    }
  }

 private:
  File* Lent(const struct stat& st) {
    if (st.st_dev != b_.dev_) return nullptr;
    auto it = b_.by_ino_.find(st.st_ino);
    return it != b_.by_ino_.end() && it->second->lent() ? it->second : nullptr;
  }

  StateBuilder& b_;
};

Result<std::string> StateBuilder::Hash() {
  seen_before_ = std::exchange(seen_, {});
  read_before_ = std::exchange(read_, {});
  struct stat root {};
  if (fstat(state_.get(), &root) != 0) return Status::FromErrno(errno, "stat of the state");
  seen_[""] = root;
  if (extending_) CheckUnchanged("", root);
  Observer observer(*this);
  auto hash = HashTree(state_path_, &observer);
  seen_before_.clear();
  seen_before_by_ino_.clear();
  read_before_.clear();
  return hash;
}

// Hashes the state just built and makes sure the checker's changes will show (see WaitPast).
Result<std::string> StateBuilder::Finish() {
  auto hash = Hash();
  if (!hash.ok()) return hash;
  if (!ctime_checked_) {
    ctime_fine_ = CtimeShowsEveryChange(state_.get());
    ctime_checked_ = true;
  }
  if (!ctime_fine_) {
    timespec latest{};
    for (const auto& [path, st] : seen_) {
      if (Before(latest, st.st_ctim)) latest = st.st_ctim;
    }
    WaitPast(latest);
  }
  return hash;
}

}  // namespace faultfs::crash
