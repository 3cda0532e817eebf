// A fault policy: immutable rules saying which operations get which fault. Pure values, no
// counters or state (those live in the engine), parsed from TOML (see parse.h) and documented in
// policies/README.md.
#pragma once

#include <sys/types.h>

#include <bitset>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace faultfs::policy {

// Logical operations: what an application did, however the kernel delivered it.
enum class Op : uint8_t {
  kLookup,
  kGetattr,
  kSetattr,
  kTruncate,
  kReadlink,
  kMknod,
  kMkdir,
  kUnlink,
  kRmdir,
  kSymlink,
  kRename,
  kLink,
  kOpen,
  kCreate,
  kRead,
  kWrite,
  kFlush,
  kRelease,
  kFsync,
  kFdatasync,
  kFsyncdir,
  kOpendir,
  kReaddir,
  kReleasedir,
  kStatfs,
  kSetxattr,
  kGetxattr,
  kListxattr,
  kRemovexattr,
  kAccess,
  kFallocate,
  kCopyFileRange,
  kLseek,
  kCount
};
inline constexpr size_t kOpCount = static_cast<size_t>(Op::kCount);
using OpSet = std::bitset<kOpCount>;

const char* OpName(Op op);
std::optional<Op> OpFromName(std::string_view name);
// "xattr" (the four xattr ops), "sync" (fsync, fdatasync, fsyncdir), "all".
std::optional<OpSet> OpGroupFromName(std::string_view name);
// Every word `ops` accepts: the op names, then the groups (xattr, sync, all).
std::vector<std::string_view> OpWords();

enum class FileType : uint8_t {
  kRegular,
  kDirectory,
  kSymlink,
  kFifo,
  kSocket,
  kCharDevice,
  kBlockDevice
};
const char* FileTypeName(FileType t);
std::optional<FileType> FileTypeFromName(std::string_view name);
std::vector<std::string_view> FileTypeWords();
std::optional<FileType> FileTypeFromMode(mode_t mode);

// [lo, hi): lo inclusive, hi exclusive.
struct Range {
  uint64_t lo = 0;
  uint64_t hi = UINT64_MAX;
  bool Contains(uint64_t v) const { return v >= lo && v < hi; }
  bool Overlaps(uint64_t start, uint64_t len) const { return start < hi && start + len > lo; }
  bool operator==(const Range&) const = default;
};

// Which operations a rule applies to. An unset field matches everything.
struct Match {
  OpSet ops;                              // empty: every op
  std::vector<std::string> path_globs;    // "**" crosses directories, "*" and "?" do not
  std::vector<std::string> path_regexes;  // anchored (whole path)
  std::vector<FileType> file_types;
  std::optional<Range> offset;  // byte offsets the op touches
  std::optional<Range> size;    // bytes the op reads or writes
  int open_flags = 0;           // every flag here must be among the file's open flags
  std::vector<pid_t> pids;
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;
  std::vector<std::string> process_names;  // /proc/PID/comm of the caller
  double probability = 1.0;                // 0 never, 1 always
  std::optional<uint64_t> nth;             // only the nth matching call (1-based)
  std::optional<uint64_t> every;           // every nth matching call
  std::optional<uint64_t> after;           // only after this many matching calls
  std::optional<uint64_t> max_fires;       // at most this many times
  std::optional<double> window_start_s;    // seconds after mount (or after the policy was loaded)
  std::optional<double> window_end_s;
  std::optional<double> flakey_up_s;  // dm-flakey cycles: healthy for up_s, then faulty down_s
  std::optional<double> flakey_down_s;
  std::optional<std::string> after_rule;  // armed once that rule has fired
};

// --- Actions -------------------------------------------------------------------------------

struct ErrnoAction {
  std::vector<std::pair<int, double>> choices;  // errno and weight; one entry for a fixed errno
  bool realistic = false;                       // drawn from what the op can return
};

struct Distribution {
  enum class Kind { kFixed, kUniform, kNormal, kLognormal, kPareto };
  Kind kind = Kind::kFixed;
  double a_ms = 0;  // fixed: value; uniform: min; normal: mean; lognormal: median; pareto: scale
  double b_ms = 0;  // uniform: max; normal: stddev; lognormal: sigma (unitless); pareto: shape
  double min_ms = 0;
  double max_ms = 60'000;  // every delay is bounded
};
struct DelayAction {
  Distribution distribution;
};
struct BandwidthAction {
  uint64_t bytes_per_s = 0;
  uint64_t burst_bytes = 0;
};
struct StallAction {
  double timeout_s = 60;
};  // held until released (control socket) or timeout
struct ShortAction {
  std::optional<uint64_t> bytes;
  std::optional<double> fraction;
};
struct TornAction {
  uint32_t unit_bytes = 4096;
  enum class Keep { kFirst, kLast, kRandom } keep = Keep::kRandom;  // which units reach the disk
};
struct CorruptAction {
  enum class Mode { kFlipBits, kZero, kRandom } mode = Mode::kFlipBits;
  uint32_t bits = 1;           // flip: how many bits
  std::optional<Range> range;  // which bytes of the transfer are hit (default: all)
  bool on_write = false;       // false: the reader sees it (disk unchanged); true: persisted
};
struct MisdirectAction {
  int64_t shift_bytes = 4096;
};
struct StaleReadAction {};
struct LostWriteAction {};
struct LyingFsyncAction {};
struct FsyncFailAction {
  int err = EIO;
  bool drop_dirty = true;  // Linux (ext4/xfs): the file's unsynced data is dropped; false: btrfs
};
struct KillAction {
  int signal = 9;  // SIGKILL
  enum class Target { kCaller, kCallerGroup, kPids } target = Target::kCaller;
  std::vector<pid_t> pids;
  bool before = true;  // before the op (which then does not run) or after it
};
struct FreezeAction {};
// A power cut at this op (a recording mount only): the op does not run, the mount fails every op
// with EIO, `kill` says who dies with the power, and the backing directory is rolled back to a
// crash state of the recording under `model`; `faultfs ctl MOUNT recover` resumes.
struct CrashAction {
  std::string model = "pp";  // a persistence model (docs/persistence-models.md)
  enum class Kill {
    kCaller,  // the process whose op hit the crash point
    kGroup,   // its process group
    kNone,
    kNamed,  // every process whose command name (/proc/PID/comm) is in `process_names`
  } kill = Kill::kCaller;
  std::vector<std::string> process_names;
};

using Action =
    std::variant<ErrnoAction, DelayAction, BandwidthAction, StallAction, ShortAction, TornAction,
                 CorruptAction, MisdirectAction, StaleReadAction, LostWriteAction, LyingFsyncAction,
                 FsyncFailAction, KillAction, FreezeAction, CrashAction>;
const char* ActionName(const Action& a);

struct Rule {
  std::string id;
  bool enabled = true;
  Match match;
  Action action;
};

struct Capacity {
  std::optional<uint64_t> bytes;
  std::optional<uint64_t> inodes;
  // Room left instead of a size: the budget is what the tree uses when it arrives, plus this
  // (a database's data dir already holds files; "64 MiB free" fits any of them).
  std::optional<uint64_t> free_bytes;
  std::optional<uint64_t> free_inodes;
  int err = ENOSPC;  // or EDQUOT
};

struct Policy {
  std::optional<uint64_t> seed;  // unset: chosen at mount and printed
  std::optional<Capacity> capacity;
  std::vector<Rule> rules;
};

}  // namespace faultfs::policy
