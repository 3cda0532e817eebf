// Policies in words: what each rule targets and what it does.
#include <csignal>
#include <cstring>
#include <sstream>

#include "faultfs/core/errno_names.h"
#include "faultfs/core/join.h"
#include "faultfs/policy/parse.h"

namespace faultfs::policy {

namespace {

std::string OpsInWords(const OpSet& ops) {
  if (ops.all()) return "every operation";
  std::vector<std::string> names;
  for (size_t i = 0; i < kOpCount; ++i) {
    if (ops.test(i)) names.push_back(OpName(static_cast<Op>(i)));
  }
  return Join(names);
}

std::string RangeInWords(const Range& r) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) on "[" + std::string&&.
  std::string out = "[";
  out += std::to_string(r.lo);
  out += ", ";
  out += r.hi == UINT64_MAX ? std::string("end") : std::to_string(r.hi);
  out += ")";
  return out;
}

std::string Ordinal(uint64_t n) {
  const uint64_t tens = n % 100;
  const char* suffix = (tens >= 11 && tens <= 13) ? "th"
                       : n % 10 == 1              ? "st"
                       : n % 10 == 2              ? "nd"
                       : n % 10 == 3              ? "rd"
                                                  : "th";
  return std::to_string(n) + suffix;
}

std::string Ms(double ms) {
  std::ostringstream s;
  s << ms << " ms";
  return s.str();
}

std::string DistributionInWords(const Distribution& d) {
  using Kind = Distribution::Kind;
  std::ostringstream s;
  switch (d.kind) {
    case Kind::kFixed:
      s << Ms(d.a_ms);
      break;
    case Kind::kUniform:
      s << "uniformly between " << Ms(d.a_ms) << " and " << Ms(d.b_ms);
      break;
    case Kind::kNormal:
      s << "normally distributed, mean " << Ms(d.a_ms) << ", stddev " << Ms(d.b_ms);
      break;
    case Kind::kLognormal:
      s << "log-normally distributed, median " << Ms(d.a_ms) << ", sigma " << d.b_ms;
      break;
    case Kind::kPareto:
      s << "Pareto-distributed (heavy tail), scale " << Ms(d.a_ms) << ", shape " << d.b_ms;
      break;
  }
  if (d.kind != Kind::kFixed && d.kind != Kind::kUniform) {
    s << ", bounded to [" << Ms(d.min_ms) << ", " << Ms(d.max_ms) << "]";
  }
  return s.str();
}

struct ActionWords {
  std::string operator()(const ErrnoAction& a) const {
    if (a.realistic)
      return "fails it with an errno this operation can really return, drawn at random";
    if (a.choices.size() == 1) return "fails it with " + ErrnoName(a.choices[0].first);
    std::vector<std::string> parts;
    for (const auto& [code, weight] : a.choices) {
      std::ostringstream s;
      s << ErrnoName(code) << " (weight " << weight << ")";
      parts.push_back(s.str());
    }
    return "fails it with one of " + Join(parts);
  }
  std::string operator()(const DelayAction& a) const {
    return "delays it by " + DistributionInWords(a.distribution) +
           " (other operations proceed meanwhile)";
  }
  std::string operator()(const BandwidthAction& a) const {
    return "limits its throughput to " + std::to_string(a.bytes_per_s) + " bytes/s (bursts up to " +
           std::to_string(a.burst_bytes) + " bytes)";
  }
  std::string operator()(const StallAction& a) const {
    std::ostringstream s;
    s << "holds it until released from the control socket, or for at most " << a.timeout_s << " s";
    return s.str();
  }
  std::string operator()(const ShortAction& a) const {
    if (a.bytes)
      return "transfers only the first " + std::to_string(*a.bytes) +
             " bytes and reports that count";
    std::ostringstream s;
    s << "transfers only " << (*a.fraction * 100) << "% of the bytes and reports that count";
    return s.str();
  }
  std::string operator()(const TornAction& a) const {
    static const char* kKeep[] = {"the first", "the last", "random"};
    return "tears it: only " + std::string(kKeep[static_cast<int>(a.keep)]) + " " +
           std::to_string(a.unit_bytes) + "-byte units reach the disk, while success is reported";
  }
  std::string operator()(const CorruptAction& a) const {
    std::string what;
    switch (a.mode) {
      case CorruptAction::Mode::kFlipBits:
        what = "flips " + std::to_string(a.bits) + " random bit(s)";
        break;
      case CorruptAction::Mode::kZero:
        what = "zero-fills the data";
        break;
      case CorruptAction::Mode::kRandom:
        what = "fills the data with random bytes";
        break;
    }
    if (a.range) what += " in bytes " + RangeInWords(*a.range) + " of the transfer";
    return what + (a.on_write ? "; the corruption is stored on disk"
                              : "; the reader sees it, the disk is unchanged");
  }
  std::string operator()(const MisdirectAction& a) const {
    return "stores the data " + std::to_string(a.shift_bytes) +
           " bytes away from where it was aimed";
  }
  std::string operator()(const StaleReadAction&) const {
    return "returns the data the range held before its last write";
  }
  std::string operator()(const LostWriteAction&) const {
    return "reports success and stores nothing (a lost write)";
  }
  std::string operator()(const LyingFsyncAction&) const {
    return "reports success without syncing anything (a lying fsync)";
  }
  std::string operator()(const FsyncFailAction& a) const {
    return "fails it with " + ErrnoName(a.err) +
           (a.drop_dirty
                ? "; the file's unsynced data is dropped and later fsyncs succeed (Linux ext4/xfs)"
                : "; the unsynced data stays dirty (btrfs)");
  }
  std::string operator()(const KillAction& a) const {
    std::string target = a.target == KillAction::Target::kCaller ? "the calling process"
                         : a.target == KillAction::Target::kCallerGroup
                             ? "the caller's process group"
                             : "processes ";
    if (a.target == KillAction::Target::kPids) {
      std::vector<std::string> pids;
      for (pid_t p : a.pids) pids.push_back(std::to_string(p));
      target += Join(pids);
    }
    return "sends " + std::string(sigabbrev_np(a.signal) ? sigabbrev_np(a.signal) : "?") + " to " +
           target +
           (a.before ? " before the operation, which then does not run" : " after the operation");
  }
  std::string operator()(const FreezeAction&) const {
    return "freezes the whole mount until thawed";
  }
  std::string operator()(const CrashAction& a) const {
    std::string kill;
    switch (a.kill) {
      case CrashAction::Kill::kCaller:
        kill = "the calling process is killed";
        break;
      case CrashAction::Kill::kGroup:
        kill = "the caller's process group is killed";
        break;
      case CrashAction::Kill::kNone:
        kill = "no process is killed";
        break;
      case CrashAction::Kill::kNamed:
        kill = "processes named " + Join(a.process_names) + " are killed";
        break;
    }
    return "cuts the power before it runs: the mount fails every operation with EIO, " + kill +
           ", and the backing directory is rolled back to a crash state of the recording under "
           "model '" +
           a.model + "' (needs --record; faultfs ctl MOUNT recover resumes)";
  }
};

std::string Targets(const Match& m) {
  std::vector<std::string> parts;
  parts.push_back(OpsInWords(m.ops));
  if (!m.path_globs.empty()) parts.push_back("on paths matching " + Join(m.path_globs, " or "));
  if (!m.path_regexes.empty())
    parts.push_back("on paths matching the regex " + Join(m.path_regexes, " or "));
  if (!m.file_types.empty()) {
    std::vector<std::string> t;
    for (auto ft : m.file_types) t.push_back(FileTypeName(ft));
    parts.push_back("of type " + Join(t, " or "));
  }
  if (m.offset) parts.push_back("touching bytes " + RangeInWords(*m.offset));
  if (m.size) parts.push_back("of size " + RangeInWords(*m.size));
  if (m.open_flags != 0) parts.push_back("on files opened with the listed flags");
  auto ids = [](const auto& v) {
    std::vector<std::string> s;
    for (auto x : v) s.push_back(std::to_string(x));
    return Join(s);
  };
  if (!m.pids.empty()) parts.push_back("by pid " + ids(m.pids));
  if (!m.uids.empty()) parts.push_back("by uid " + ids(m.uids));
  if (!m.gids.empty()) parts.push_back("by gid " + ids(m.gids));
  if (!m.process_names.empty()) parts.push_back("by processes named " + Join(m.process_names));
  return Join(parts, ", ");
}

std::string When(const Match& m) {
  std::vector<std::string> parts;
  if (m.probability < 1) {
    std::ostringstream s;
    s << "with probability " << m.probability;
    parts.push_back(s.str());
  }
  if (m.nth) parts.push_back("on the " + Ordinal(*m.nth) + " matching call only");
  if (m.every) parts.push_back("on every " + Ordinal(*m.every) + " matching call");
  if (m.after) parts.push_back("after the first " + std::to_string(*m.after) + " matching calls");
  if (m.max_fires) parts.push_back("at most " + std::to_string(*m.max_fires) + " times");
  if (m.window_start_s) {
    std::ostringstream s;
    s << "between " << *m.window_start_s << " s and " << *m.window_end_s << " s after mount";
    parts.push_back(s.str());
  }
  if (m.flakey_up_s) {
    std::ostringstream s;
    s << "in cycles of " << *m.flakey_up_s << " s healthy then " << *m.flakey_down_s << " s faulty";
    parts.push_back(s.str());
  }
  if (m.after_rule) parts.push_back("once rule '" + *m.after_rule + "' has fired");
  return parts.empty() ? "every time" : Join(parts, ", ");
}

}  // namespace

std::string Explain(const Policy& policy) {
  std::ostringstream out;
  out << "seed: " << (policy.seed ? std::to_string(*policy.seed) : "chosen at mount (printed then)")
      << "\n";
  if (policy.capacity) {
    const Capacity& c = *policy.capacity;
    std::vector<std::string> size, room;
    if (c.bytes) size.push_back(std::to_string(*c.bytes) + " bytes of file data");
    if (c.inodes) size.push_back(std::to_string(*c.inodes) + " inodes");
    if (c.free_bytes) room.push_back(std::to_string(*c.free_bytes) + " bytes of file data");
    if (c.free_inodes) room.push_back(std::to_string(*c.free_inodes) + " inodes");
    out << "capacity: a disk";
    if (!size.empty()) out << " of " << Join(size, " and ");
    if (!room.empty()) {
      out << (size.empty() ? "" : ",") << " with " << Join(room, " and ")
          << " free beyond what the tree holds when the policy is loaded";
    }
    out << ", as df reports it; writes, fallocate, create and mkdir past it fail with "
        << ErrnoName(c.err) << "\n";
  }
  if (policy.rules.empty()) out << "no rules: every operation passes through unchanged\n";
  for (const Rule& r : policy.rules) {
    out << "\nrule '" << r.id << "'" << (r.enabled ? "" : " (disabled)") << ":\n"
        << "  targets " << Targets(r.match) << "\n"
        << "  fires " << When(r.match) << "\n"
        << "  and " << std::visit(ActionWords{}, r.action) << ".\n";
  }
  return out.str();
}

}  // namespace faultfs::policy
