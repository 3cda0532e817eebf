// Extending the current state: when the next state applies the current one's ops and more, the
// further ops are applied to it. That is only right if the checker left the state as it was
// built, which the builder checks as it goes, by stat (every change gives an object a new
// ctime), rather than with a walk of its own before the ops:
//
//  * before an op first changes a path (an object, or the directory that holds it), the path
//    must be as the last hash saw it, or absent if it saw nothing there (Touch);
//  * the new hash walks the whole state anyway: every path no op touched must be as the last hash
//    saw it (CheckUnchanged). A name the checker added or removed changed its directory, which
//    is checked one way or the other. Files the last hash read that no op touched are not read
//    again;
//  * a lent file must be where and as the last hash saw it (ops only change copies of them).
//
// When any of this fails (the checker changed the state, or a directory rename moved paths),
// or the ops cannot be applied, the state is built again the usual way.
#include <fcntl.h>
#include <sys/stat.h>

#include <utility>

#include "applier.h"
#include "state_builder_parts.h"

namespace faultfs::crash {

Result<std::optional<std::string>> StateBuilder::Extend(const CrashState& state) {
  std::unique_ptr<Applier> applier = std::move(applier_);  // back only if all goes well
  extending_ = true;
  spoiled_ = false;
  touched_.clear();
  const Status applied = ApplyState(*applier, state, seed_, built_.size());
  Result<std::string> hash = Status::Invalid("not hashed");
  if (applied.ok() && !spoiled_) hash = Finish();
  const bool spoiled = std::exchange(spoiled_, false);
  extending_ = false;
  touched_.clear();
  if (!applied.ok() || !hash.ok() || spoiled) {
    ForgetHash();
    return std::optional<std::string>();
  }
  ++stats_.extended;
  built_ = state.applied;
  applier_ = std::move(applier);
  return std::optional<std::string>(std::move(*hash));
}

// Stops the op when the path is not as the last hash left it: its next hooks could take a lent
// file the checker changed back to the pristine copy.
Status StateBuilder::Touch(const std::string& path) {
  if (!extending_ || !touched_.insert(path).second) return Status::Ok();
  struct stat now {};
  const int rc = path.empty() ? fstat(state_.get(), &now)
                              : fstatat(state_.get(), path.c_str(), &now, AT_SYMLINK_NOFOLLOW);
  const auto it = seen_.find(path);
  if ((rc == 0) != (it != seen_.end()) || (rc == 0 && !SameFile(now, it->second))) {
    spoiled_ = true;
    return Status::Invalid("'" + path + "' changed after the state was hashed");
  }
  return Status::Ok();
}

void StateBuilder::CheckUnchanged(const std::string& path, const struct stat& st) {
  if (spoiled_ || touched_.contains(path)) return;
  const auto it = seen_before_.find(path);
  if (it != seen_before_.end() && SameFile(st, it->second)) return;
  // Not there by that name: an op renamed a directory above it. The object itself is unchanged
  // if its inode is as the last hash saw it (a change would have given it a new ctime; had the
  // checker renamed a directory above it, that directory and the one that held it would show).
  if (seen_before_by_ino_.empty()) {
    for (const auto& [p, before] : seen_before_)
      seen_before_by_ino_.emplace(before.st_ino, &before);
  }
  const auto by_ino = seen_before_by_ino_.find(st.st_ino);
  if (by_ino == seen_before_by_ino_.end() || !SameFile(st, *by_ino->second)) spoiled_ = true;
}

void StateBuilder::ForgetHash() {
  seen_.clear();
  read_.clear();
}

}  // namespace faultfs::crash
