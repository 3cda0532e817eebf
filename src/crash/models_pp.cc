// `pp` and `pp-strict`: only what a persistence point made durable is certain. Unsynced data and
// metadata are lost; each unsynced directory entry change may or may not have reached the disk.
#include <algorithm>
#include <unordered_map>

#include "models.h"

namespace faultfs::crash::models {
namespace {

using record::Op;
using record::OpKind;

constexpr uint32_t kNever = UINT32_MAX;
// At most this many unsynced entry ops vary per crash point (2^40 states); earlier ones survive.
constexpr size_t kMaxOptional = 40;

// While sweeping the log backwards: the next persistence point of each kind per object.
class NextSync {
 public:
  void Record(const Op& op, uint32_t i) {
    const std::string key = ObjectKey(op);
    const bool sync_all = op.kind == OpKind::kFsync || op.kind == OpKind::kFsyncdir ||
                          (IsSyncWrite(op) && (op.flags & record::kSyncAll) != 0);
    if (sync_all) all_[key] = i;
    if (sync_all || op.kind == OpKind::kFdatasync || IsSyncWrite(op)) data_[key] = i;
    if (op.kind == OpKind::kFsyncdir) dir_[NormalDir(op.path)] = i;
  }
  uint32_t All(const Op& op) const { return Find(all_, ObjectKey(op)); }
  uint32_t Data(const Op& op) const { return Find(data_, ObjectKey(op)); }
  uint32_t Dir(const std::string& dir) const { return Find(dir_, dir); }

 private:
  static uint32_t Find(const std::unordered_map<std::string, uint32_t>& map,
                       const std::string& key) {
    const auto it = map.find(key);
    return it == map.end() ? kNever : it->second;
  }
  std::unordered_map<std::string, uint32_t> all_;   // fsync, fsyncdir of it, O_SYNC write
  std::unordered_map<std::string, uint32_t> data_;  // the above, fdatasync, O_DSYNC write
  std::unordered_map<std::string, uint32_t> dir_;   // fsyncdir, by directory path
};

class PpPlan : public ModelPlan {
 public:
  PpPlan(const std::vector<Op>& ops, bool strict) : ops_(ops), strict_(strict) {
    ComputeDurability();
    CountPending();
  }

  // A lost data op changes nothing; entries, persistence points and markers may.
  bool KeepsPoint(uint32_t c) const override {
    const Op& op = ops_[c - 1];
    return op.kind == OpKind::kMark || IsEntryKind(op.kind) || IsBarrier(op);
  }
  uint64_t Count(uint32_t c) const override {
    return uint64_t{1} << std::min<size_t>(pending_[c], kMaxOptional);
  }
  CrashState Make(uint32_t c, uint64_t index) const override;

 private:
  uint32_t DurableAt(const Op& op, uint32_t i, const NextSync& next) const;
  void ComputeDurability();
  void CountPending();
  std::vector<uint32_t> OmittedEntries(uint32_t c, uint64_t index) const;

  const std::vector<Op>& ops_;
  bool strict_;
  std::vector<uint32_t> durable_at_;  // per op: the persistence point that covers it, or kNever
  std::vector<uint32_t> pending_;     // per crash point: unsynced entry ops before it
};

uint32_t PpPlan::DurableAt(const Op& op, uint32_t i, const NextSync& next) const {
  if (IsSyncWrite(op)) return i;
  if (IsDataKind(op.kind)) return next.Data(op);
  if (IsMetaKind(op.kind)) return next.All(op);
  if (!IsEntryKind(op.kind)) return kNever;
  uint32_t at = next.Dir(EntryDir(op));
  if (strict_) return at;
  // Journaling filesystems commit the whole rename with either directory, and a new file's entry
  // with the file's own fsync.
  if (op.kind == OpKind::kRename) at = std::min(at, next.Dir(ParentDir(op.path)));
  return std::min(at, next.All(op));
}

void PpPlan::ComputeDurability() {
  durable_at_.assign(ops_.size(), kNever);
  NextSync next;
  for (size_t i = ops_.size(); i-- > 0;) {
    const auto at = static_cast<uint32_t>(i);
    durable_at_[i] = DurableAt(ops_[i], at, next);
    next.Record(ops_[i], at);
  }
}

void PpPlan::CountPending() {
  std::vector<uint32_t> covered(ops_.size(), 0);  // entry ops that become durable at op i
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (IsEntryKind(ops_[i].kind) && durable_at_[i] != kNever) ++covered[durable_at_[i]];
  }
  pending_.assign(ops_.size() + 1, 0);
  for (size_t i = 0; i < ops_.size(); ++i) {
    pending_[i + 1] = pending_[i] + (IsEntryKind(ops_[i].kind) ? 1 : 0) - covered[i];
  }
}

// Bit b of `index` drops the b-th of the (latest kMaxOptional) unsynced entry ops before c.
std::vector<uint32_t> PpPlan::OmittedEntries(uint32_t c, uint64_t index) const {
  std::vector<uint32_t> pending;
  for (uint32_t i = 0; i < c; ++i) {
    if (IsEntryKind(ops_[i].kind) && (durable_at_[i] == kNever || durable_at_[i] >= c)) {
      pending.push_back(i);
    }
  }
  const size_t fixed = pending.size() > kMaxOptional ? pending.size() - kMaxOptional : 0;
  std::vector<uint32_t> omitted;
  for (size_t b = 0; fixed + b < pending.size(); ++b) {
    if (((index >> b) & 1) != 0) omitted.push_back(pending[fixed + b]);
  }
  return omitted;
}

CrashState PpPlan::Make(uint32_t c, uint64_t index) const {
  const std::vector<uint32_t> omitted = OmittedEntries(c, index);
  CrashState state;
  for (uint32_t i = 0; i < c; ++i) {
    const Op& op = ops_[i];
    if (!IsDiskOp(op)) continue;
    if (IsEntryKind(op.kind)) {
      if (std::binary_search(omitted.begin(), omitted.end(), i)) {
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

std::unique_ptr<ModelPlan> MakePpPlan(const std::vector<Op>& ops, bool strict) {
  return std::make_unique<PpPlan>(ops, strict);
}

}  // namespace faultfs::crash::models
