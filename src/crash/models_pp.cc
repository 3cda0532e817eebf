// `pp` and `pp-strict`: only what a persistence point made durable is certain. Unsynced data and
// metadata are lost; an unsynced directory entry change may or may not have reached the disk, but
// only together with the changes it needs (pending_groups.h).
#include <algorithm>
#include <set>
#include <unordered_map>

#include "models.h"
#include "pending_groups.h"

namespace faultfs::crash::models {
namespace {

using record::Op;
using record::OpKind;

constexpr uint32_t kNever = UINT32_MAX;
// At most this many pending entry ops vary per crash point; earlier ones are kept.
constexpr size_t kMaxOptional = 40;

// While sweeping the log backwards: the next persistence point of each kind per object.
class NextSync {
 public:
  void Record(const Op& op, ObjectId obj, uint32_t i) {
    const bool sync_all = op.kind == OpKind::kFsync || op.kind == OpKind::kFsyncdir ||
                          (IsSyncWrite(op) && (op.flags & record::kSyncAll) != 0);
    if (sync_all) all_[obj] = i;
    if (sync_all || op.kind == OpKind::kFdatasync || IsSyncWrite(op)) data_[obj] = i;
    if (op.kind == OpKind::kFsyncdir) dir_[obj] = i;
  }
  uint32_t All(ObjectId obj) const { return Find(all_, obj); }
  uint32_t Data(ObjectId obj) const { return Find(data_, obj); }
  uint32_t Dir(ObjectId dir) const { return Find(dir_, dir); }

 private:
  static uint32_t Find(const std::unordered_map<ObjectId, uint32_t>& map, ObjectId key) {
    const auto it = map.find(key);
    return it == map.end() ? kNever : it->second;
  }
  std::unordered_map<ObjectId, uint32_t> all_;   // fsync, fsyncdir of it, O_SYNC write
  std::unordered_map<ObjectId, uint32_t> data_;  // the above, fdatasync, O_DSYNC write
  std::unordered_map<ObjectId, uint32_t> dir_;   // fsyncdir
};

class PpPlan : public ModelPlan {
 public:
  PpPlan(const std::vector<Op>& ops, const History& history, bool strict)
      : ops_(ops), history_(history), strict_(strict) {
    ComputeDurability();
    CountStates();
  }

  // A lost data or metadata op changes nothing; entries, persistence points and markers may.
  bool KeepsPoint(uint32_t c) const override {
    const Op& op = ops_[c - 1];
    return op.kind == OpKind::kMark || IsEntryKind(op.kind) || IsBarrier(op);
  }
  uint64_t Count(uint32_t c) const override { return counts_[c]; }
  CrashState Make(uint32_t c, uint64_t index) const override;

 private:
  uint32_t DurableAt(const Op& op, uint32_t i, const NextSync& next) const;
  void ComputeDurability();
  void CountStates();
  // The pending entry ops before c that vary: the latest kMaxOptional.
  std::vector<uint32_t> Varying(uint32_t c) const;

  const std::vector<Op>& ops_;
  const History& history_;
  const bool strict_;
  std::vector<uint32_t> durable_at_;  // per op: the persistence point that covers it, or kNever
  std::vector<uint64_t> counts_;      // per crash point
  mutable DropSetCache cache_;
};

uint32_t PpPlan::DurableAt(const Op& op, uint32_t i, const NextSync& next) const {
  const OpObjects& o = history_.at(i);
  if (IsSyncWrite(op)) return i;
  if (IsDataKind(op.kind)) return next.Data(o.obj);
  if (IsMetaKind(op.kind)) return next.All(o.obj);
  if (!IsEntryKind(op.kind) || o.obj == kNoObject) return kNever;
  const bool new_name = op.kind == OpKind::kLink || op.kind == OpKind::kRename;
  uint32_t at = next.Dir(new_name ? o.entry2.dir : o.entry.dir);
  if (strict_) return at;
  // Journaling filesystems commit the whole rename with either directory, and a new file's entry
  // with the file's own fsync.
  if (op.kind == OpKind::kRename) at = std::min(at, next.Dir(o.entry.dir));
  return std::min(at, next.All(o.obj));
}

// Each op's own persistence point; then an op that a durable op needs is durable as early (ops
// only need earlier ops, so one backward pass carries it all the way).
void PpPlan::ComputeDurability() {
  durable_at_.assign(ops_.size(), kNever);
  NextSync next;
  for (size_t i = ops_.size(); i-- > 0;) {
    const auto at = static_cast<uint32_t>(i);
    durable_at_[i] = DurableAt(ops_[i], at, next);
    next.Record(ops_[i], history_.at(i).obj, at);
  }
  for (size_t j = ops_.size(); j-- > 0;) {
    for (uint32_t i : history_.needs(j)) durable_at_[i] = std::min(durable_at_[i], durable_at_[j]);
  }
}

// One sweep over the crash points, keeping the pending entry ops.
void PpPlan::CountStates() {
  std::vector<std::vector<uint32_t>> durable_after(ops_.size());  // ops durable from op k on
  for (uint32_t i = 0; i < ops_.size(); ++i) {
    if (IsEntryKind(ops_[i].kind) && durable_at_[i] != kNever)
      durable_after[durable_at_[i]].push_back(i);
  }
  counts_.assign(ops_.size() + 1, 1);
  std::set<uint32_t> pending;
  for (uint32_t c = 1; c <= ops_.size(); ++c) {
    if (IsEntryKind(ops_[c - 1].kind)) pending.insert(c - 1);
    for (uint32_t i : durable_after[c - 1]) pending.erase(i);
    std::vector<uint32_t> varying;
    for (auto it = pending.rbegin(); it != pending.rend() && varying.size() < kMaxOptional; ++it)
      varying.push_back(*it);
    std::reverse(varying.begin(), varying.end());
    counts_[c] = PendingGroups(history_, varying, cache_).Count();
  }
}

std::vector<uint32_t> PpPlan::Varying(uint32_t c) const {
  std::vector<uint32_t> pending;
  for (uint32_t i = 0; i < c; ++i) {
    if (IsEntryKind(ops_[i].kind) && (durable_at_[i] == kNever || durable_at_[i] >= c))
      pending.push_back(i);
  }
  if (pending.size() > kMaxOptional)
    pending.erase(pending.begin(), pending.end() - static_cast<long>(kMaxOptional));
  return pending;
}

CrashState PpPlan::Make(uint32_t c, uint64_t index) const {
  const std::vector<uint32_t> dropped = PendingGroups(history_, Varying(c), cache_).Dropped(index);
  CrashState state;
  for (uint32_t i = 0; i < c; ++i) {
    const Op& op = ops_[i];
    if (!IsDiskOp(op)) continue;
    if (IsEntryKind(op.kind)) {
      if (std::binary_search(dropped.begin(), dropped.end(), i)) {
        state.deviations.push_back(
            Deviation{.kind = Deviation::Kind::kEntryNotDurable, .op = i, .dir = EntryDir(op)});
      } else {
        state.applied.push_back(Applied{.op = i});
      }
    } else if (durable_at_[i] < c) {
      state.applied.push_back(Applied{.op = i});
    } else {
      state.deviations.push_back(Deviation{.kind = Deviation::Kind::kDataNotDurable, .op = i});
    }
  }
  return state;
}

}  // namespace

std::unique_ptr<ModelPlan> MakePpPlan(const std::vector<Op>& ops, const History& history,
                                      bool strict) {
  return std::make_unique<PpPlan>(ops, history, strict);
}

}  // namespace faultfs::crash::models
