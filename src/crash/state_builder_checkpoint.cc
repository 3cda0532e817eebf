// Checkpoints: when every state still to come applies the same first ops, the builder applies
// them once, to a copy of the snapshot (the checkpoint) and to its pristine copy, and builds later
// states from there. A state then costs the ops after the checkpoint, however long the log.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "applier.h"
#include "faultfs/core/tree_copy.h"
#include "state_builder_parts.h"

namespace faultfs::crash {
namespace {

bool StartsWith(const std::vector<Applied>& ops, const std::vector<Applied>& prefix) {
  return ops.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), ops.begin());
}

// A state's root directory is made by mkdir, not copied from the checkpoint, so an op that
// changes the root itself (its mode, owner, times, xattrs) cannot be part of a checkpoint.
bool ChangesRoot(const record::Op& op) { return op.path.empty() || op.path == "."; }

}  // namespace

// Moves the checkpoint to the first `shared` ops of `state` when that is worth it, or back to
// the snapshot when `state` does not start with the checkpoint's ops.
Status StateBuilder::Advance(const CrashState& state, size_t shared) {
  if (!StartsWith(state.applied, base_applied_)) return BackToSnapshot();
  const size_t from = base_applied_.size();
  size_t to = from;
  const size_t limit = std::min(shared, state.applied.size());
  while (to < limit && !ChangesRoot(log_.ops[state.applied[to].op])) ++to;
  if (to < from + checkpoint_every_) return Status::Ok();
  Status s = TakeBack();
  if (s.ok() && !master_) s = StartCheckpoints();
  for (size_t i = from; s.ok() && i < to; ++i) {
    const Applied& how = state.applied[i];
    s = master_applier_->Apply(how.op, how, seed_);
    if (s.ok()) s = pristine_applier_->Apply(how.op, how, seed_);
  }
  if (master_applier_ != nullptr) {
    // No file of the pristine copy may stay open for writing: it will be lent to states.
    master_applier_->CloseFiles();
    pristine_applier_->CloseFiles();
  }
  if (s.ok()) {
    base_applied_.assign(state.applied.begin(), state.applied.begin() + static_cast<long>(to));
    s = ScanBase(/*lazy=*/false);
  }
  if (!s.ok()) {
    (void)BackToSnapshot();
    return s;
  }
  ++stats_.checkpoints;
  return s;
}

// The first checkpoint: a copy of the snapshot that ops are applied to, and appliers for it and
// for the pristine copy (a copy of the snapshot too: its unborn files are copied in first, and
// the others are at home after TakeBack).
Status StateBuilder::StartCheckpoints() {
  for (auto& [path, f] : files_) {
    if (f->where == File::Where::kUnborn) FAULTFS_RETURN_IF_ERROR(Bear(*f));
  }
  FAULTFS_RETURN_IF_ERROR(RemoveTree(master_path_));
  if (mkdir(master_path_.c_str(), 0700) != 0)
    return Status::FromErrno(errno, "creating '" + master_path_ + "'");
  FAULTFS_RETURN_IF_ERROR(CopyTree(snapshot_path_, master_path_));
  auto master = Applier::Open(master_path_, log_, history_, /*replay=*/false);
  if (!master.ok()) return master.status();
  auto pristine = Applier::Open(pristine_path_, log_, history_, /*replay=*/false);
  if (!pristine.ok()) return pristine.status();
  master_applier_ = std::make_unique<Applier>(std::move(*master));
  pristine_applier_ = std::make_unique<Applier>(std::move(*pristine));
  master_ = UniqueFd(open(master_path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!master_) return Status::FromErrno(errno, "opening '" + master_path_ + "'");
  return Status::Ok();
}

// Builds from the snapshot again.
Status StateBuilder::BackToSnapshot() {
  if (!master_ && base_applied_.empty()) return Status::Ok();
  (void)TakeBack();  // whatever it could not take back, FillPristine replaces
  master_.reset();
  master_applier_.reset();
  pristine_applier_.reset();
  base_applied_.clear();
  FAULTFS_RETURN_IF_ERROR(RemoveTree(master_path_));
  return FillPristine(/*lazy=*/true);
}

}  // namespace faultfs::crash
