// Hand-made record logs for the crash tests.
#pragma once

#include <string>

#include "faultfs/record/log.h"

namespace faultfs::crash {

// Appends an op to `log` with the next sequence number; directories get mode 0755, others 0644.
inline record::Op& AppendOp(record::ReadLog& log, record::OpKind kind, std::string path,
                            uint64_t ino, std::string data = "", std::string path2 = "") {
  record::Op op;
  op.seq = log.ops.size() + 1;
  op.kind = kind;
  op.path = std::move(path);
  op.path2 = std::move(path2);
  op.ino = ino;
  op.data = std::move(data);
  op.length = op.data.size();
  op.mode = kind == record::OpKind::kMkdir ? 0755 : 0644;
  log.ops.push_back(std::move(op));
  return log.ops.back();
}

}  // namespace faultfs::crash
