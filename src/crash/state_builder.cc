#include "faultfs/crash/state_builder.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

#include "applier.h"
#include "faultfs/core/tree_copy.h"
#include "faultfs/core/tree_hash.h"
#include "state_builder_parts.h"

namespace faultfs::crash {

// Forwards the applier's notices to the builder.
class StateBuilder::Hooks : public ApplyHooks {
 public:
  explicit Hooks(StateBuilder& b) : b_(b) {}
  Status BeforeChange(const std::string& path, bool follow) override {
    return b_.Unshare(path, follow);
  }
  Status Touching(const std::string& path) override { return b_.Touch(path); }
  // A lent file whose name an op removes goes home: the state never had a copy of its own.
  Result<bool> TakeAway(const std::string& path) override {
    File* f = b_.LentAt(b_.state_.get(), path, false, nullptr);
    if (f == nullptr) return false;
    if (renameat(b_.state_.get(), path.c_str(), b_.pristine_.get(), f->home.c_str()) != 0)
      return Status::FromErrno(errno, "moving '" + path + "' back to the pristine copy");
    f->where = File::Where::kHome;
    return true;
  }

 private:
  StateBuilder& b_;
};

StateBuilder::StateBuilder(std::string snapshot, const record::ReadLog& log, uint64_t seed,
                           const std::string& slot, size_t checkpoint_every, const HeadStart& head)
    : snapshot_path_(std::move(snapshot)),
      log_(log),
      history_(std::make_shared<const History>(History::Of(log.ops, log.header.inodes))),
      seed_(seed),
      pristine_path_(slot + "/pristine"),
      previous_path_(slot + "/previous"),
      master_path_(slot + "/checkpoint"),
      checkpoint_every_(std::max<size_t>(checkpoint_every, 1)),
      digests_(head.digests) {}

Result<std::unique_ptr<StateBuilder>> StateBuilder::Create(const std::string& snapshot,
                                                           const record::ReadLog& log,
                                                           uint64_t seed, const std::string& slot,
                                                           size_t checkpoint_every,
                                                           const HeadStart& head) {
  if (mkdir(slot.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::FromErrno(errno, "creating '" + slot + "'");
  std::unique_ptr<StateBuilder> b(
      new StateBuilder(snapshot, log, seed, slot, checkpoint_every, head));
  b->snapshot_ = UniqueFd(open(snapshot.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!b->snapshot_) return Status::FromErrno(errno, "opening '" + snapshot + "'");
  if (!head.recorded.empty()) {
    // Without it, every file is copied from the snapshot as usual.
    b->recorded_ = UniqueFd(open(head.recorded.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct stat st {};
    if (b->recorded_ && fstat(b->recorded_.get(), &st) == 0) {
      b->recorded_dev_ = st.st_dev;
      b->untouched_ = UntouchedFiles(*b->history_);
    }
  }
  FAULTFS_RETURN_IF_ERROR(b->FillPristine(/*lazy=*/true));
  return b;
}

StateBuilder::~StateBuilder() {
  (void)TakeBack();
  pristine_.reset();
  (void)RemoveTree(pristine_path_);
  (void)RemoveTree(previous_path_);
  master_.reset();
  (void)RemoveTree(master_path_);
}

// (Re)creates the pristine copy and the table of its files that can be lent. `lazy`: without
// the files that can be lent; each is copied into the first state that needs it, and that copy
// is then lent as if it had come from the pristine copy (it goes there when it is taken back).
// So the first state costs one copy of the snapshot, as a plain copy would, and not two.
Status StateBuilder::FillPristine(bool lazy) {
  files_.clear();
  by_ino_.clear();
  out_.clear();
  parked_.clear();
  pristine_.reset();
  previous_.reset();
  FAULTFS_RETURN_IF_ERROR(RemoveTree(previous_path_));
  FAULTFS_RETURN_IF_ERROR(RemoveTree(pristine_path_));
  if (mkdir(pristine_path_.c_str(), 0700) != 0)
    return Status::FromErrno(errno, "creating '" + pristine_path_ + "'");
  // Lazy: all but the files that can be lent (directories, symlinks, special and hard-linked
  // files are copied, never lent).
  const TakeFile leave_out = [](const std::string&, const struct stat&, int, const char*) {
    return Result<bool>(true);
  };
  FAULTFS_RETURN_IF_ERROR(
      CopyTree(base_path(), pristine_path_, nullptr, lazy ? leave_out : nullptr));
  pristine_ = UniqueFd(open(pristine_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st {};
  if (!pristine_ || fstat(pristine_.get(), &st) != 0)
    return Status::FromErrno(errno, "opening '" + pristine_path_ + "'");
  dev_ = st.st_dev;
  if (master_applier_ != nullptr) {
    // The new pristine copy is a copy of the checkpoint: its applier must know those names.
    auto fork = master_applier_->Fork(pristine_path_);
    if (!fork.ok()) return fork.status();
    pristine_applier_ = std::make_unique<Applier>(std::move(*fork));
  }
  return ScanBase(lazy);
}

// The tables of the base's objects (the snapshot's or the checkpoint's), and of its files that can
// be lent (regular, with a single name, as CopyTree lends them), by their inodes in the pristine
// copy; `lazy`: the pristine copy has only the directories (the files are unborn). A file whose
// inode, size and times in the base are as the last scan saw them keeps its digest; otherwise
// the digest is the snapshot digests' (head_start.h), or read from the base, or, for an unborn
// file, learned when a state is hashed. An unborn file may be in the recorded directory.
Status StateBuilder::ScanBase(bool lazy) {
  auto old = std::move(files_);
  files_.clear();
  by_ino_.clear();
  snap_.clear();
  clean_.clear();
  snap_[""];
  return WalkTree(
      base(),
      [&](const std::string& dir, const std::string& name, const std::string& path,
          const struct stat& st) -> Status {
        SnapEntry& entry = snap_[dir][name];
        entry.st = st;
        if (S_ISDIR(st.st_mode)) {
          snap_[path];  // listed even when empty
          entry.xattrs = llistxattr((base_path() + "/" + path).c_str(), nullptr, 0) > 0;
        }
        if (!S_ISREG(st.st_mode) || st.st_nlink != 1) return Status::Ok();
        auto f = std::make_unique<File>();
        const auto known = old.find(path);
        // (Only where every change shows in the ctime: an inode freed and reused within
        // one clock tick could look unchanged otherwise.)
        if (ctime_fine_ && known != old.end() && SameFile(known->second->scanned, st)) {
          f->digest = known->second->digest;
        } else if (const std::string* known_digest = master_ ? nullptr : KnownDigest(path, st)) {
          f->digest = *known_digest;
        } else if (!lazy) {
          auto digest = HashFileEntry(base_path() + "/" + path);
          if (!digest.ok()) return digest.status();
          f->digest = std::move(*digest);
        }
        f->home = path;
        f->scanned = st;
        if (lazy) {
          f->where = File::Where::kUnborn;
          if (!master_) FindRecorded(*f, st);
        } else {
          struct stat mine {};
          if (fstatat(pristine_.get(), path.c_str(), &mine, AT_SYMLINK_NOFOLLOW) != 0)
            return Status::FromErrno(errno, "stat of pristine '" + path + "'");
          f->ino = mine.st_ino;
          by_ino_[f->ino] = f.get();
        }
        entry.file = f.get();
        files_[path] = std::move(f);
        return Status::Ok();
      });
}

// Puts an unborn file into the pristine copy.
Status StateBuilder::Bear(File& f) {
  FAULTFS_RETURN_IF_ERROR(Born(f, pristine_.get(), f.home.c_str()));
  f.where = File::Where::kHome;
  return Status::Ok();
}

// Whether the recorded directory holds `f` as the snapshot has it (`snap`, its lstat there): a
// file that no recorded op touched, still the inode the recording started with, its size, times,
// mode and owner the snapshot's (CopyTree kept them; a change from outside the mount would show).
void StateBuilder::FindRecorded(File& f, const struct stat& snap) {
  const auto it = untouched_.find(f.home);
  if (it == untouched_.end()) return;
  struct stat st {};
  // (The device too: a path through a symlink the workload left could reach another
  // filesystem, where the same inode number is another file.)
  f.recorded = fstatat(recorded_.get(), f.home.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISREG(st.st_mode) && st.st_nlink == 1 && st.st_dev == recorded_dev_ &&
               st.st_ino == it->second && st.st_size == snap.st_size &&
               st.st_mode == snap.st_mode && st.st_uid == snap.st_uid && st.st_gid == snap.st_gid &&
               st.st_mtim.tv_sec == snap.st_mtim.tv_sec &&
               st.st_mtim.tv_nsec == snap.st_mtim.tv_nsec;
}

// Gives an unborn file its first copy, `name` in `dir`: the recorded directory's, moved, when it
// has the file untouched; else a copy of the base's.
Status StateBuilder::Born(File& f, int dir, const char* name) {
  if (f.recorded) {
    f.recorded = false;  // taken now, or not there after all
    untouched_.erase(f.home);
    struct stat st {};
    if (renameat(recorded_.get(), f.home.c_str(), dir, name) == 0 &&
        fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (auto it = by_ino_.find(f.ino); it != by_ino_.end() && it->second == &f) by_ino_.erase(it);
      f.ino = st.st_ino;
      by_ino_[f.ino] = &f;
      ++stats_.adopted;
      return Status::Ok();
    }
  }
  return CopyIn(f, dir, name);
}

const std::string* StateBuilder::KnownDigest(const std::string& path, const struct stat& st) const {
  return digests_ != nullptr ? digests_->Find(path, st) : nullptr;
}

// Copies the base's version of `f` to `name` in directory `dir`; that copy is `f` from now on.
Status StateBuilder::CopyIn(File& f, int dir, const char* name) {
  FAULTFS_RETURN_IF_ERROR(CopyEntry(base(), f.home, dir, name));
  struct stat st {};
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return Status::FromErrno(errno, "stat of the copy of '" + f.home + "'");
  if (auto it = by_ino_.find(f.ino); it != by_ino_.end() && it->second == &f) by_ino_.erase(it);
  f.ino = st.st_ino;
  by_ino_[f.ino] = &f;
  return Status::Ok();
}

Result<bool> StateBuilder::Lend(const std::string& path, int out_dir, const char* name) {
  auto it = files_.find(path);
  if (it == files_.end() || it->second->lent()) return false;
  File& f = *it->second;
  if (f.where == File::Where::kUnborn) {
    // Its first state gets a copy from the base, lent as if it came from the pristine copy.
    FAULTFS_RETURN_IF_ERROR(Born(f, out_dir, name));
    f.where = File::Where::kLent;
    f.seen = false;
    out_.push_back(&f);
    ++stats_.lent;
    return true;
  }
  const bool parked = f.where == File::Where::kParked;
  const int from = parked ? previous_.get() : pristine_.get();
  const std::string& from_path = parked ? f.seen_path : f.home;
  if (renameat(from, from_path.c_str(), out_dir, name) != 0) {
    // Not where it should be, somehow: copy it this time, and mend the pristine copy afterwards.
    by_ino_.erase(f.ino);
    f.where = File::Where::kLent;
    f.seen = false;
    out_.push_back(&f);
    return false;
  }
  f.where = File::Where::kLent;
  f.seen = false;
  out_.push_back(&f);
  ++stats_.lent;
  return true;
}

StateBuilder::File* StateBuilder::LentAt(int dir, const std::string& path, bool follow,
                                         std::string* rel) {
  // Most objects ops touch are not lent: one stat tells.
  struct stat st {};
  const char* name = path.empty() ? "." : path.c_str();
  if (fstatat(dir, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) return nullptr;
  if (st.st_dev != dev_ || !S_ISREG(st.st_mode)) return nullptr;
  auto it = by_ino_.find(st.st_ino);
  if (it == by_ino_.end() || !it->second->lent()) return nullptr;
  if (rel != nullptr) {
    UniqueFd fd(openat(dir, name, O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW)));
    if (!fd) return nullptr;  // the op will fail the same way
    // Its name in the state, after whatever symlinks the op's path went through.
    char buf[PATH_MAX];
    const std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
    const ssize_t n = readlink(proc.c_str(), buf, sizeof(buf));
    const std::string abs = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
    const std::string prefix = state_path_ + "/";
    if (abs.compare(0, prefix.size(), prefix) != 0) return nullptr;
    *rel = abs.substr(prefix.size());
  }
  return it->second;
}

Status StateBuilder::Unshare(const std::string& path, bool follow) {
  std::string rel;
  File* f = LentAt(state_.get(), path, follow, &rel);
  if (f == nullptr) return Status::Ok();
  if (renameat(state_.get(), rel.c_str(), pristine_.get(), f->home.c_str()) != 0)
    return Status::FromErrno(errno, "moving '" + rel + "' back to the pristine copy");
  f->where = File::Where::kHome;
  ++stats_.unshared;
  return CopyEntry(base(), f->home, state_.get(), rel);
}

// Whether `state` applies the current state's ops and more, in `out`, where the current state was
// hashed. (Whether the checker left it as it was is found out while extending it.)
bool StateBuilder::Continues(const CrashState& state, const std::string& out) const {
  return applier_ != nullptr && !seen_.empty() && out == out_path_ &&
         state.applied.size() >= built_.size() &&
         std::equal(built_.begin(), built_.end(), state.applied.begin());
}

Result<std::string> StateBuilder::Build(const CrashState& state, const std::string& out,
                                        size_t shared) {
  if (Continues(state, out)) {
    // (The checkpoint stays where it is while states extend one another: moving it would take
    // the current state back.)
    auto extended = Extend(state);
    if (!extended.ok()) return extended.status();
    if (*extended) return std::move(**extended);
  }
  FAULTFS_RETURN_IF_ERROR(Advance(state, shared));
  if (CanReset(out)) {
    applier_.reset();
    auto reset = Reset();
    if (!reset.ok()) return reset.status();
    if (*reset) return ApplyAndFinish(state, out);
  }
  applier_.reset();
  FAULTFS_RETURN_IF_ERROR(Park());
  FAULTFS_RETURN_IF_ERROR(RemoveTree(out));
  if (mkdir(out.c_str(), 0755) != 0) return Status::FromErrno(errno, "creating '" + out + "'");
  char real[PATH_MAX];
  if (realpath(out.c_str(), real) == nullptr)
    return Status::FromErrno(errno, "resolving '" + out + "'");
  state_path_ = real;
  state_ = UniqueFd(open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st {};
  if (!state_ || fstat(state_.get(), &st) != 0)
    return Status::FromErrno(errno, "opening '" + out + "'");
  if (st.st_dev != dev_) return Status::Invalid("'" + out + "' is not on the slot's filesystem");
  const TakeFile take = [this](const std::string& path, const struct stat&, int out_dir,
                               const char* name) { return Lend(path, out_dir, name); };
  Status copied = CopyTree(base_path(), out, nullptr, take);
  FAULTFS_RETURN_IF_ERROR(Unpark());  // what the new state did not take
  FAULTFS_RETURN_IF_ERROR(copied);
  FAULTFS_RETURN_IF_ERROR(RecordClean());
  return ApplyAndFinish(state, out);
}

// Applies the state's ops to the snapshot's copy in `out` (the current state).
Result<std::string> StateBuilder::ApplyAndFinish(const CrashState& state, const std::string& out) {
  auto applier = master_applier_ != nullptr ? master_applier_->Fork(out)
                                            : Applier::Open(out, log_, history_, /*replay=*/false);
  if (!applier.ok()) return applier.status();
  if (hooks_ == nullptr) hooks_ = std::make_unique<Hooks>(*this);
  applier->SetHooks(hooks_.get());
  FAULTFS_RETURN_IF_ERROR(ApplyState(*applier, state, seed_, base_applied_.size()));
  auto hash = Finish();
  if (!hash.ok()) return hash;
  applier_ = std::make_unique<Applier>(std::move(*applier));
  built_ = state.applied;
  out_path_ = out;
  return hash;
}

Status StateBuilder::Recopy(File& f) {
  f.where = File::Where::kHome;
  ++stats_.recopied;
  if (unlinkat(pristine_.get(), f.home.c_str(), 0) != 0 && errno != ENOENT)
    return Status::FromErrno(errno, "removing pristine '" + f.home + "'");
  return CopyIn(f, pristine_.get(), f.home.c_str());
}

// A lent file the checker left as the state's hash saw it stays where it is, to be lent to the
// next state from there (one rename per state instead of two); any other is copied again.
Status StateBuilder::Judged(File& f) {
  struct stat now {};
  const bool intact = f.seen &&
                      fstatat(state_.get(), f.seen_path.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
                      SameFile(now, f.seen_st);
  if (!intact) return Recopy(f);
  f.where = File::Where::kParked;
  parked_.push_back(&f);
  return Status::Ok();
}

// Moves the judged state aside whole, its intact lent files in it.
Status StateBuilder::Park() {
  applier_.reset();
  ForgetHash();
  clean_.clear();
  if (state_path_.empty()) return Status::Ok();
  Status s;
  for (File* f : out_) {
    if (s.ok() && f->lent()) s = Judged(*f);
  }
  out_.clear();
  state_.reset();
  if (s.ok()) s = RemoveTree(previous_path_);
  if (s.ok() && rename(state_path_.c_str(), previous_path_.c_str()) != 0)
    s = Status::FromErrno(errno, "moving '" + state_path_ + "' aside");
  if (s.ok()) {
    previous_ = UniqueFd(open(previous_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!previous_) s = Status::FromErrno(errno, "opening '" + previous_path_ + "'");
  }
  const std::string state = std::exchange(state_path_, "");
  if (s.ok()) return s;
  (void)RemoveTree(state);
  return FillPristine(/*lazy=*/false);  // start over from the base
}

// Moves the parked files home, and removes the previous state.
Status StateBuilder::Unpark() {
  Status s;
  for (File* f : parked_) {
    if (!s.ok() || f->where != File::Where::kParked) continue;
    if (renameat(previous_.get(), f->seen_path.c_str(), pristine_.get(), f->home.c_str()) == 0) {
      f->where = File::Where::kHome;
    } else {
      s = Recopy(*f);
    }
  }
  parked_.clear();
  previous_.reset();
  if (s.ok()) s = RemoveTree(previous_path_);
  return s.ok() ? s : FillPristine(/*lazy=*/false);
}

Status StateBuilder::TakeBack() {
  FAULTFS_RETURN_IF_ERROR(Park());
  return Unpark();
}

}  // namespace faultfs::crash
