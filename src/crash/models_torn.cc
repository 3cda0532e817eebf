// `torn-<sector>`: the last op before the crash point is an unsynced write that was in flight:
// only some of its sectors reached the disk. Everything before it persisted.
#include <algorithm>

#include "models.h"

namespace faultfs::crash::models {
namespace {

using record::Op;
using record::OpKind;

class TornPlan : public ModelPlan {
 public:
  TornPlan(const std::vector<Op>& ops, uint32_t sector)
      : ops_(ops), sector_(sector), last_(ops.size() + 1) {
    last_[0] = kNone;
    for (uint32_t i = 0; i < ops.size(); ++i)
      last_[i + 1] = ops[i].kind == OpKind::kMark ? last_[i] : i;
  }

  bool KeepsPoint(uint32_t c) const override {
    return !record::IsPersistencePoint(ops_[c - 1].kind);
  }
  uint64_t Count(uint32_t c) const override {
    const uint64_t sectors = TornSectors(c);
    return sectors < 2 ? 1 : std::min(kMaxStatesPerPoint, 3 * sectors - 3);
  }
  CrashState Make(uint32_t c, uint64_t index) const override;

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  // The sectors of the write that may be torn at crash point c (0 when there is none).
  uint64_t TornSectors(uint32_t c) const {
    const uint32_t i = last_[c];
    if (i == kNone || ops_[i].kind != OpKind::kWrite || IsSyncWrite(ops_[i])) return 0;
    return CountUnits(ops_[i], sector_);
  }

  const std::vector<Op>& ops_;
  uint64_t sector_;
  std::vector<uint32_t> last_;  // per crash point: the last op before it that is not a marker
};

// Variant order: prefixes of 1 .. s-1 sectors, suffixes of 1 .. s-1 sectors, then each middle
// sector alone (the first and last alone are already a prefix and a suffix).
CrashState TornPlan::Make(uint32_t c, uint64_t index) const {
  CrashState state;
  AppendWhole(ops_, 0, c, &state.applied);
  if (index == 0) return state;
  const uint32_t torn = last_[c];
  const uint64_t s = TornSectors(c);
  uint64_t v = index - 1;
  Piece piece;
  if (v < s - 1) {
    piece = UnitRange(ops_[torn], sector_, 0, v);
  } else if ((v -= s - 1) < s - 1) {
    piece = UnitRange(ops_[torn], sector_, s - 1 - v, s - 1);
  } else {
    v -= s - 1;
    piece = UnitRange(ops_[torn], sector_, v + 1, v + 1);
  }
  auto slot = std::find_if(state.applied.begin(), state.applied.end(),
                           [&](const Applied& a) { return a.op == torn; });
  slot->begin = piece.begin;
  slot->end = piece.end;
  state.deviations.push_back(Deviation{.kind = Deviation::Kind::kTorn, .op = torn});
  return state;
}

}  // namespace

std::unique_ptr<ModelPlan> MakeTornPlan(const std::vector<Op>& ops, uint32_t sector) {
  return std::make_unique<TornPlan>(ops, sector);
}

}  // namespace faultfs::crash::models
