// libFuzzer target: a record log from anyone. The input is a record log file; whatever it holds,
// reading it, checking its history, enumerating its crash states, materializing a few of them and
// replaying it must not crash, leak or touch anything outside the directory being built. Run with
// tools/fuzz.sh.
//
// Checksums: a mutated record would almost always fail its CRC and end the log there, so after
// reading the input as it is, the fuzzer reads it once more with every checksum recomputed (when
// that changes anything) and goes on with that log. Logs whose history Check() refuses are still
// materialized and replayed: the applier must stay confined on its own (openat2 RESOLVE_BENEATH),
// whatever the history check lets through.
//
// The scene, on /dev/shm at a fixed path (the seeds name it in absolute paths):
//
//   BASE/log            the input
//   BASE/snapshot/      f "old", d/g "gee", out -> BASE/outside, up -> ../outside
//   BASE/outside/       the symlinks' target: must stay empty
//   BASE/a/b/out/       where each state is materialized and the log replayed
//
// Confinement is checked twice after every input: the scene is exactly as it was (nothing new in
// BASE, BASE/a or BASE/a/b, outside empty, the snapshot unchanged), and every path the log names,
// resolved lexically from the output directory and from the working directory (and through the
// log's own symlinks), that lies outside the output is as it was before: still absent, or the same
// object with the same size and times.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "faultfs/core/tree_copy.h"
#include "faultfs/crash/history.h"
#include "faultfs/crash/materialize.h"
#include "faultfs/crash/state.h"
#include "faultfs/record/log.h"

namespace {

constexpr const char* kBase = "/dev/shm/faultfs-fuzz-record-log";
constexpr size_t kMaxTargets = 512;
constexpr size_t kMaxStates = 3;

[[noreturn]] void Escaped(const std::string& what) {
  std::fprintf(stderr, "record_log_fuzzer: ESCAPE: %s\n", what.c_str());
  std::abort();
}

void WriteFile(const std::string& path, std::string_view data) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) std::abort();
  if (write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size())) std::abort();
  close(fd);
}

std::string ReadFile(const std::string& path) {
  std::string out;
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "<missing>";
  char buf[256];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

std::string ReadLink(const std::string& path) {
  char buf[4096];
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n < 0 ? "<missing>" : std::string(buf, static_cast<size_t>(n));
}

// The names directly in `dir`, sorted.
std::set<std::string> Entries(const std::string& dir) {
  std::set<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d)) {
      const std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace(name);
    }
    closedir(d);
  }
  return names;
}

struct Scene {
  std::string base = kBase;
  std::string log = base + "/log";
  std::string snapshot = base + "/snapshot";
  std::string outside = base + "/outside";
  std::string parent = base + "/a/b";
  std::string out = parent + "/out";
  std::string cwd;  // libFuzzer's (it writes crash-* files there)
};

const Scene& TheScene() {
  static const Scene s = [] {
    Scene made;
    // Left over from an earlier run (one that found an escape, say): start clean.
    (void)faultfs::RemoveTree(made.base);
    for (const std::string& dir : {made.base, made.snapshot, made.snapshot + "/d", made.outside,
                                   made.base + "/a", made.parent}) {
      if (mkdir(dir.c_str(), 0755) != 0) std::abort();
    }
    WriteFile(made.snapshot + "/f", "old");
    WriteFile(made.snapshot + "/d/g", "gee");
    if (symlink(made.outside.c_str(), (made.snapshot + "/out").c_str()) != 0 ||
        symlink("../outside", (made.snapshot + "/up").c_str()) != 0)
      std::abort();
    char cwd[4096];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) std::abort();
    made.cwd = cwd;
    return made;
  }();
  return s;
}

// The scene is as TheScene() made it (plus the log).
void CheckScene(const Scene& s) {
  using Names = std::set<std::string>;
  if (Entries(s.base) != Names{"a", "log", "outside", "snapshot"}) Escaped("a new name in BASE");
  if (Entries(s.base + "/a") != Names{"b"}) Escaped("a new name in BASE/a");
  if (!Entries(s.parent).empty()) Escaped("a name left in BASE/a/b");
  if (!Entries(s.outside).empty()) Escaped("a name in BASE/outside (through a symlink)");
  if (Entries(s.snapshot) != Names{"d", "f", "out", "up"} ||
      Entries(s.snapshot + "/d") != Names{"g"} || ReadFile(s.snapshot + "/f") != "old" ||
      ReadFile(s.snapshot + "/d/g") != "gee" || ReadLink(s.snapshot + "/out") != s.outside ||
      ReadLink(s.snapshot + "/up") != "../outside")
    Escaped("the snapshot changed");
}

// `path` made absolute against `dir` (unless it is) and normalized lexically: no ".", "..", or
// repeated '/'.
std::string Resolve(const std::string& dir, std::string_view path) {
  std::vector<std::string_view> parts;
  std::string joined =
      !path.empty() && path[0] == '/' ? std::string(path) : dir + "/" + std::string(path);
  std::string_view rest = joined;
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  std::string out;
  for (std::string_view part : parts) (out += '/') += part;
  return out.empty() ? "/" : out;
}

bool Inside(const std::string& path, const std::string& dir) {
  return path == dir || (path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
                         path[dir.size()] == '/');
}

// The paths outside `s.out` that the log could name: each op's paths (and the header's names)
// resolved from the working directory and from the output directory, the latter also with a prefix
// that one of the log's symlinks names replaced by the link's target.
std::vector<std::string> Targets(const faultfs::record::ReadLog& log, const Scene& s) {
  std::map<std::string, std::string> links;  // link path (resolved) -> target (resolved)
  for (const auto& op : log.ops) {
    if (op.kind == faultfs::record::OpKind::kSymlink && links.size() < 16) {
      const std::string at = Resolve(s.out, op.path);
      links.emplace(at, Resolve(at.substr(0, at.rfind('/')), op.data));
    }
  }
  std::set<std::string> targets;
  auto add = [&](std::string_view path) {
    if (targets.size() >= kMaxTargets) return;
    if (const std::string from_cwd = Resolve(s.cwd, path); !Inside(from_cwd, s.out))
      targets.insert(from_cwd);
    const std::string at = Resolve(s.out, path);
    if (!Inside(at, s.out)) targets.insert(at);
    for (const auto& [link, to] : links) {
      if (at.size() > link.size() && Inside(at, link)) {
        const std::string through = Resolve(to, std::string_view(at).substr(link.size() + 1));
        if (!Inside(through, s.out)) targets.insert(through);
      }
    }
  };
  for (const auto& [ino, name] : log.header.inodes) add(name);
  for (const auto& op : log.ops) {
    add(op.path);
    if (!op.path2.empty() && op.path2.find('\0') == std::string::npos) add(op.path2);
  }
  return {targets.begin(), targets.end()};
}

struct Seen {
  bool exists = false;
  struct stat st {};
};

Seen Look(const std::string& path) {
  Seen seen;
  seen.exists = path.find('\0') == std::string::npos && lstat(path.c_str(), &seen.st) == 0;
  return seen;
}

bool SameTime(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// `after` is `before`: still absent, or the same object, unchanged. A directory's own times are
// not compared (anything may add names to /dev/shm); a name added in it is a target of its own.
bool Unchanged(const Seen& before, const Seen& after) {
  if (before.exists != after.exists) return false;
  if (!before.exists) return true;
  const struct stat &a = before.st, &b = after.st;
  if (a.st_ino != b.st_ino || a.st_dev != b.st_dev || a.st_mode != b.st_mode) return false;
  if (S_ISDIR(a.st_mode)) return true;
  return a.st_size == b.st_size && a.st_nlink == b.st_nlink && a.st_uid == b.st_uid &&
         a.st_gid == b.st_gid && SameTime(a.st_mtim, b.st_mtim) && SameTime(a.st_ctim, b.st_ctim);
}

// Every frame's checksum (and the header's) recomputed; the framing is left as it is.
std::string Resealed(std::string file) {
  auto u32 = [&](size_t at) {
    uint32_t v = 0;
    std::memcpy(&v, file.data() + at, 4);
    return v;
  };
  auto seal = [&](size_t payload, size_t len, size_t crc_at) {
    const uint32_t crc = faultfs::record::Crc32c(file.data() + payload, len);
    std::memcpy(file.data() + crc_at, &crc, 4);
  };
  constexpr size_t kHeaderStart = 16;  // magic, u16 version, u16 flags, u32 length
  if (file.size() < kHeaderStart) return file;
  const uint32_t header_len = u32(12);
  if (file.size() - kHeaderStart < uint64_t{header_len} + 4) return file;
  seal(kHeaderStart, header_len, kHeaderStart + header_len);
  for (size_t pos = kHeaderStart + header_len + 4; file.size() - pos >= 8;) {
    const uint32_t len = u32(pos);
    if (file.size() - pos - 8 < len) break;
    seal(pos + 8, len, pos + 4);
    pos += 8 + size_t{len};
  }
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Scene& s = TheScene();
  const std::string input(reinterpret_cast<const char*>(data), size);
  WriteFile(s.log, input);
  auto log = faultfs::record::ReadLogFile(s.log);
  if (const std::string resealed = Resealed(input); resealed != input) {
    WriteFile(s.log, resealed);
    log = faultfs::record::ReadLogFile(s.log);
  }
  if (!log.ok()) return 0;
  if (log->damage) (void)log->damage->ToString();
  const bool checked = faultfs::crash::History::Check(log->ops, log->header.inodes).ok();

  const std::vector<std::string> targets = Targets(*log, s);
  std::vector<Seen> before;
  before.reserve(targets.size());
  for (const std::string& target : targets) before.push_back(Look(target));

  static const char* const kModels[] = {"pp",       "weak-rename", "ext4",     "reorder-2",
                                        "torn-512", "prefix",      "pp-strict"};
  auto model = faultfs::crash::ParseModel(kModels[size % std::size(kModels)]);
  if (!model.ok()) std::abort();
  const auto states = faultfs::crash::Enumerate(*log, *model, size, 8).states;
  for (size_t i = 0; i < states.size() && i < kMaxStates; ++i) {
    if (mkdir(s.out.c_str(), 0755) != 0) std::abort();
    (void)faultfs::crash::Materialize(s.snapshot, *log, states[i], size, s.out);
    if (!faultfs::RemoveTree(s.out).ok()) std::abort();
  }
  // Replay: the workload as recorded, on a copy of the snapshot.
  if (mkdir(s.out.c_str(), 0755) != 0 || !faultfs::CopyTree(s.snapshot, s.out).ok()) std::abort();
  (void)faultfs::crash::Replay(*log, s.out, log->ops.size());
  if (!faultfs::RemoveTree(s.out).ok()) std::abort();

  CheckScene(s);
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!Unchanged(before[i], Look(targets[i])))
      Escaped("'" + targets[i] + "' changed (history check " + (checked ? "passed" : "failed") +
              ")");
  }
  return 0;
}
