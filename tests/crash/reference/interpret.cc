#include "reference/interpret.h"

#include <algorithm>

#include "faultfs/core/random.h"

namespace faultfs::crash::reference {

using record::Op;
using record::OpKind;

std::string GarbageBytes(uint64_t seed, uint64_t seq, uint64_t begin, uint64_t end) {
  Rng rng(DeriveSeed(seed, "garbage/" + std::to_string(seq)));
  std::string out;
  for (uint64_t k = 0; k < end; ++k) {
    const auto byte = static_cast<char>(rng.Next() & 0xFF);
    if (k >= begin) out += byte;
  }
  return out;
}

namespace {

std::string Holder(ObjId obj) {
  return obj == kNoObject ? "nothing" : "object #" + std::to_string(obj);
}

class Interpreter {
 public:
  Interpreter(const History& h, uint64_t seed) : h_(h), seed_(seed) { out_.fs = h.start(); }

  void Apply(const Applied& a) {
    if (a.op >= h_.size())
      return Violation("applies op index " + std::to_string(a.op) + " of " +
                       std::to_string(h_.size()));
    if (last_ >= 0 && static_cast<int64_t>(a.op) <= last_) {
      return Violation("applies " + h_.Describe(a.op) + " out of log order or twice");
    }
    last_ = a.op;
    const Op& op = h_.op(a.op);
    const bool whole_write = a.begin == 0 && a.end == UINT64_MAX && a.fill == Applied::Fill::kData;
    if (op.kind != OpKind::kWrite && !whole_write) {
      return Violation("applies part of " + h_.Describe(a.op) + ", which is not a write");
    }
    if (op.kind != OpKind::kRename && a.part != Applied::Part::kWhole) {
      return Violation("applies half of " + h_.Describe(a.op) + ", which is not a rename");
    }
    if (op.kind == OpKind::kMark) return Violation("applies marker " + h_.Describe(a.op));
    if (IsEntryOp(op)) return ApplyEntryOp(a);
    if (IsDataOp(op)) return ApplyDataOp(a);
    if (IsMetaOp(op)) return ApplyMetaOp(a.op);
  }

  Interpretation Take() { return std::move(out_); }

 private:
  void Violation(std::string what) { out_.violations.push_back(std::move(what)); }

  // The entry as the state holds it must be as recorded; else the op would act on something
  // else. False (and a violation) when it is not.
  bool Expect(size_t i, const Entry& e, ObjId recorded, const char* role) {
    const ObjId now = out_.fs.Lookup(e);
    if (now == recorded) return true;
    Violation("applies " + h_.Describe(i) + " but " + role + " \"" + e.name + "\" (in directory #" +
              std::to_string(e.dir) + ") holds " + Holder(now) + ", recorded " + Holder(recorded));
    return false;
  }

  void ApplyEntryOp(const Applied& a) {
    const Step& s = h_.step(a.op);
    bool ok = true;
    for (const auto& [entry, obj] : s.source_path) {
      const bool changed = std::any_of(s.changes.begin(), s.changes.end(),
                                       [&e = entry](const Change& c) { return c.entry == e; });
      if (!changed) ok = Expect(a.op, entry, obj, "the way to the source,") && ok;
    }
    for (const Change& c : s.changes) ok = Expect(a.op, c.entry, c.before, "entry") && ok;
    if (s.removed_dir != kNoObject && !out_.fs.objects[s.removed_dir].entries.empty()) {
      Violation("applies " + h_.Describe(a.op) + " but the directory it removes is not empty");
      ok = false;
    }
    if (!ok) return;
    if (a.part == Applied::Part::kUnlinkTarget) {
      if (h_.op(a.op).flags != 0) Violation("applies half of " + h_.Describe(a.op));
      out_.fs.Set(s.changes.back().entry, kNoObject);  // the destination's name goes
      return;
    }
    if (s.created) out_.fs.objects[s.object] = *s.created;
    for (const Change& c : s.changes) out_.fs.Set(c.entry, c.after);
  }

  void ApplyDataOp(const Applied& a) {
    const Op& op = h_.op(a.op);
    Object& o = out_.fs.objects[h_.step(a.op).object];
    if (op.kind == OpKind::kTruncate) {
      o.data.resize(op.offset, '\0');
      return;
    }
    if (op.kind == OpKind::kFallocate) {
      const uint64_t end = op.offset + op.length;
      if (op.flags == 0 && o.data.size() < end) o.data.resize(end, '\0');
      if (op.flags != 0 && (op.flags & 2) != 0 && op.offset < o.data.size()) {  // punch hole
        const uint64_t stop = std::min<uint64_t>(end, o.data.size());
        o.data.replace(op.offset, stop - op.offset, stop - op.offset, '\0');
      }
      return;
    }
    const uint64_t end = std::min<uint64_t>(a.end, op.data.size());
    if (a.begin > end) {
      return Violation("applies bytes [" + std::to_string(a.begin) + ", " + std::to_string(a.end) +
                       ") of " + h_.Describe(a.op));
    }
    std::string bytes;
    switch (a.fill) {
      case Applied::Fill::kData:
        bytes = op.data.substr(a.begin, end - a.begin);
        break;
      case Applied::Fill::kZeros:
        bytes.assign(end - a.begin, '\0');
        break;
      case Applied::Fill::kGarbage:
        bytes = GarbageBytes(seed_, op.seq, a.begin, end);
        break;
    }
    const uint64_t at = op.offset + a.begin;
    if (o.data.size() < at + bytes.size()) o.data.resize(at + bytes.size(), '\0');
    o.data.replace(at, bytes.size(), bytes);
  }

  void ApplyMetaOp(size_t i) {
    const Op& op = h_.op(i);
    Object& o = out_.fs.objects[h_.step(i).object];
    switch (op.kind) {
      case OpKind::kChmod:
        o.mode = (o.mode & S_IFMT) | (op.mode & 07777);
        break;
      case OpKind::kChown:
        if (op.uid != UINT32_MAX) o.uid = op.uid;
        if (op.gid != UINT32_MAX) o.gid = op.gid;
        break;
      case OpKind::kSetxattr:
        o.xattrs[op.path2] = op.data;
        break;
      default:
        o.xattrs.erase(op.path2);
        break;
    }
  }

  const History& h_;
  const uint64_t seed_;
  int64_t last_ = -1;
  Interpretation out_;
};

}  // namespace

Interpretation Interpret(const History& history, const std::vector<Applied>& applied,
                         uint64_t seed) {
  Interpreter interpreter(history, seed);
  for (const Applied& a : applied) interpreter.Apply(a);
  return interpreter.Take();
}

}  // namespace faultfs::crash::reference
