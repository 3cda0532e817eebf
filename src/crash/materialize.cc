#include "faultfs/crash/materialize.h"

#include <algorithm>

#include "applier.h"
#include "faultfs/core/tree_copy.h"

namespace faultfs::crash {

Status Materialize(const std::string& snapshot, const record::ReadLog& log, const CrashState& state,
                   uint64_t seed, const std::string& out) {
  FAULTFS_RETURN_IF_ERROR(CopyTree(snapshot, out));
  for (const Applied& how : state.applied) {
    if (how.op >= log.ops.size())
      return Status::Invalid("state " + state.id + " applies op " + std::to_string(how.op + 1) +
                             ", which the log does not have");
  }
  auto applier = Applier::Open(out, log, /*replay=*/false);
  if (!applier.ok()) return applier.status();
  return ApplyState(*applier, state, seed);
}

Status Replay(const record::ReadLog& log, const std::string& dir, uint64_t until,
              const std::function<void(const record::Op&)>& before_op) {
  auto applier = Applier::Open(dir, log, /*replay=*/true);
  if (!applier.ok()) return applier.status();
  until = std::min<uint64_t>(until, log.ops.size());
  for (uint32_t i = 0; i < until; ++i) {
    const record::Op& op = log.ops[i];
    if (before_op) before_op(op);
    FAULTFS_RETURN_IF_ERROR(record::IsPersistencePoint(op.kind) ? applier->Persist(i)
                                                                : applier->Apply(i, Applied{}, 0));
  }
  return Status::Ok();
}

}  // namespace faultfs::crash
