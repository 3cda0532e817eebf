// `prefix`: every op before the crash point reached the disk, in order (an ordered, synchronous
// filesystem). One state per crash point.
#include "models.h"

namespace faultfs::crash::models {
namespace {

class PrefixPlan : public ModelPlan {
 public:
  explicit PrefixPlan(const std::vector<record::Op>& ops) : ops_(ops) {}

  // After an fsync-family op the disk holds what it held before it.
  bool KeepsPoint(uint32_t c) const override {
    return !record::IsPersistencePoint(ops_[c - 1].kind);
  }
  uint64_t Count(uint32_t /*c*/) const override { return 1; }
  CrashState Make(uint32_t c, uint64_t /*index*/) const override {
    CrashState state;
    AppendWhole(ops_, 0, c, &state.applied);
    return state;
  }

 private:
  const std::vector<record::Op>& ops_;
};

}  // namespace

std::unique_ptr<ModelPlan> MakePrefixPlan(const std::vector<record::Op>& ops) {
  return std::make_unique<PrefixPlan>(ops);
}

}  // namespace faultfs::crash::models
