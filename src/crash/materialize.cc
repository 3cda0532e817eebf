#include "faultfs/crash/materialize.h"

#include <algorithm>

#include "applier.h"
#include "faultfs/core/tree_copy.h"

namespace faultfs::crash {

Status ApplyState(Applier& applier, const record::ReadLog& log, const CrashState& state,
                  uint64_t seed, size_t from) {
  for (size_t i = from; i < state.applied.size(); ++i) {
    const Applied& how = state.applied[i];
    FAULTFS_CHECK(how.op < log.ops.size())
        << "state " << state.id << " applies op index " << how.op;
    FAULTFS_RETURN_IF_ERROR(applier.Apply(log.ops[how.op], how, seed));
  }
  return Status::Ok();
}

Status Materialize(const std::string& snapshot, const record::ReadLog& log, const CrashState& state,
                   uint64_t seed, const std::string& out) {
  FAULTFS_RETURN_IF_ERROR(CopyTree(snapshot, out));
  auto applier = Applier::Open(out, log, /*strict=*/false);
  if (!applier.ok()) return applier.status();
  return ApplyState(*applier, log, state, seed);
}

Status Replay(const record::ReadLog& log, const std::string& dir, uint64_t until,
              const std::function<void(const record::Op&)>& before_op) {
  auto applier = Applier::Open(dir, log, /*strict=*/true);
  if (!applier.ok()) return applier.status();
  until = std::min<uint64_t>(until, log.ops.size());
  for (uint64_t i = 0; i < until; ++i) {
    const record::Op& op = log.ops[i];
    if (before_op) before_op(op);
    FAULTFS_RETURN_IF_ERROR(record::IsPersistencePoint(op.kind) ? applier->Persist(op)
                                                                : applier->Apply(op, Applied{}, 0));
  }
  return Status::Ok();
}

}  // namespace faultfs::crash
