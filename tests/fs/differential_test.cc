// Goal: thousands of random operations, generated from a seed (printed, and taken from
// FAULTFS_TEST_SEED to reproduce), applied to a native directory and through faultfs, give the same
// return values, errnos and data after every op, and leave identical trees (contents, sizes, modes,
// link counts, symlink targets, xattrs, listings). Runs single-threaded and with threads at once.
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "twin_fixture.h"

namespace faultfs::testing {
namespace {

enum class Kind {
  kCreateWrite,
  kReadFile,
  kTruncate,
  kMkdir,
  kRmdir,
  kUnlink,
  kRename,
  kLink,
  kSymlink,
  kReadlink,
  kChmod,
  kStat,
  kList,
  kFallocate,
  kSetxattr,
  kGetxattr,
  kRemovexattr,
  kUtimens,
  kCopyRange,
  kSeekData,
  kOpenSlot,
  kCloseSlot,
  kWriteSlot,
  kReadSlot,
  kFsyncSlot,
  kTruncSlot,
  kCount
};

struct Op {
  Kind kind{};
  std::string a, b;  // paths relative to the thread's root
  int flags = 0;
  mode_t mode = 0;
  off_t off = 0;
  size_t len = 0;
  uint64_t data_seed = 0;
  int slot = 0;
  std::string Describe() const {
    std::ostringstream s;
    s << "op " << static_cast<int>(kind) << " a=" << a << " b=" << b << " flags=0x" << std::hex
      << flags << std::dec << " mode=0" << std::oct << mode << std::dec << " off=" << off
      << " len=" << len << " slot=" << slot;
    return s.str();
  }
};

std::string Bytes(uint64_t seed, size_t len) {
  std::string out(len, '\0');
  uint64_t x = seed | 1;
  for (auto& c : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return out;
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  Op Next() {
    Op op;
    op.kind = static_cast<Kind>(Pick(static_cast<int>(Kind::kCount)));
    op.a = Path();
    op.b = Path();
    static constexpr std::array<mode_t, 5> kModes = {0644, 0600, 0755, 0700, 0444};
    op.mode = kModes[static_cast<size_t>(Pick(kModes.size()))];
    op.off = Pick(3) == 0 ? 0 : Pick(70000);
    op.len = static_cast<size_t>(Pick(3) == 0 ? Pick(16) : Pick(40000));
    op.data_seed = rng_();
    op.slot = Pick(4);
    op.flags = static_cast<int>(rng_());
    return op;
  }

 private:
  int Pick(size_t n) { return static_cast<int>(rng_() % n); }
  std::string Path() {
    static const char* kNames[] = {"a", "b", "c", "d"};
    std::string p = kNames[Pick(4)];
    if (Pick(2) == 0) p += std::string("/") + kNames[Pick(4)];
    if (Pick(6) == 0) p += std::string("/") + kNames[Pick(4)];
    return p;
  }
  std::mt19937_64 rng_;
};

// One side's state: its root and its open descriptors.
struct Side {
  std::string root;
  std::array<int, 4> fds{-1, -1, -1, -1};
  ~Side() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  std::string At(const std::string& rel) const { return root + "/" + rel; }
};

std::string Res(long ret, const std::string& data = "") {
  std::ostringstream s;
  s << "ret=" << ret;
  if (ret < 0) s << " errno=" << errno;
  if (!data.empty()) s << " data=" << std::hash<std::string>()(data) << "/" << data.size();
  return s.str();
}

int OpenFlags(int bits) {
  static constexpr std::array<int, 3> kAccess = {O_RDONLY, O_WRONLY, O_RDWR};
  int flags = kAccess[static_cast<size_t>(bits & 3) % 3];
  if (bits & 4) flags |= O_CREAT;
  if (bits & 8) flags |= O_EXCL;
  if (bits & 16) flags |= O_TRUNC;
  if (bits & 32) flags |= O_APPEND;
  if ((bits & 0x3c0) == 0x40) flags |= O_DIRECTORY;
  return flags;
}

std::string StatLine(const struct stat& st) {
  std::ostringstream s;
  s << "mode=0" << std::oct << st.st_mode << std::dec << " nlink=" << st.st_nlink;
  if (S_ISREG(st.st_mode)) s << " size=" << st.st_size;
  return s.str();
}

std::string Apply(const Op& op, Side& side) {
  const std::string a = side.At(op.a);
  const std::string b = side.At(op.b);
  int& fd = side.fds[static_cast<size_t>(op.slot)];
  errno = 0;
  switch (op.kind) {
    case Kind::kCreateWrite: {
      const int f =
          open(a.c_str(), O_CREAT | O_WRONLY | (op.flags & O_TRUNC) | (op.flags & O_EXCL), op.mode);
      if (f < 0) return Res(f);
      const std::string data = Bytes(op.data_seed, op.len);
      const long n = pwrite(f, data.data(), data.size(), op.off);
      const std::string r = Res(n);
      close(f);
      return r;
    }
    case Kind::kReadFile: {
      const int f = open(a.c_str(), O_RDONLY);
      if (f < 0) return Res(f);
      std::string buf(op.len, '\0');
      const long n = pread(f, buf.data(), buf.size(), op.off);
      close(f);
      return Res(n, n > 0 ? buf.substr(0, static_cast<size_t>(n)) : "");
    }
    case Kind::kTruncate:
      return Res(truncate(a.c_str(), op.off));
    case Kind::kMkdir:
      return Res(mkdir(a.c_str(), op.mode | 0700));
    case Kind::kRmdir:
      return Res(rmdir(a.c_str()));
    case Kind::kUnlink:
      return Res(unlink(a.c_str()));
    case Kind::kRename: {
      static constexpr std::array<unsigned, 3> kFlags = {0, RENAME_NOREPLACE, RENAME_EXCHANGE};
      return Res(renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(),
                           kFlags[static_cast<size_t>(op.flags & 0xff) % 3]));
    }
    case Kind::kLink:
      return Res(link(a.c_str(), b.c_str()));
    case Kind::kSymlink:
      return Res(symlink(op.b.c_str(), a.c_str()));
    case Kind::kReadlink: {
      char buf[256];
      const long n = readlink(a.c_str(), buf, sizeof(buf));
      return Res(n, n > 0 ? std::string(buf, static_cast<size_t>(n)) : "");
    }
    case Kind::kChmod:
      return Res(chmod(a.c_str(), op.mode | 0700));
    case Kind::kStat: {
      struct stat st {};
      const int r = lstat(a.c_str(), &st);
      return Res(r) + (r == 0 ? " " + StatLine(st) : "");
    }
    case Kind::kList: {
      DIR* d = opendir(a.c_str());
      if (d == nullptr) return Res(-1);
      std::map<std::string, int> names;
      while (dirent* e = readdir(d)) names[e->d_name] = e->d_type;
      closedir(d);
      std::string all;
      for (const auto& [n, t] : names) all += n + ":" + std::to_string(t) + ",";
      return Res(0, all) + " " + all;
    }
    case Kind::kFallocate: {
      // Only hole punching here: the other modes leave unwritten extents, and ext4 reports those
      // to SEEK_DATA/SEEK_HOLE as data or hole depending on what the page cache holds (natively
      // too), which readahead on the backing file changes. FileOps.FallocateModes covers them.
      const int f = open(a.c_str(), O_RDWR);
      if (f < 0) return Res(f);
      const long r = fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, op.off,
                               static_cast<off_t>(op.len));
      const std::string res = Res(r);
      close(f);
      return res;
    }
    case Kind::kSetxattr: {
      const std::string v = Bytes(op.data_seed, op.len % 64);
      return Res(setxattr(a.c_str(), "user.diff", v.data(), v.size(), op.flags & 3 % 3));
    }
    case Kind::kGetxattr: {
      char buf[128];
      const long n = getxattr(a.c_str(), "user.diff", buf, sizeof(buf));
      return Res(n, n > 0 ? std::string(buf, static_cast<size_t>(n)) : "");
    }
    case Kind::kRemovexattr:
      return Res(removexattr(a.c_str(), "user.diff"));
    case Kind::kUtimens: {
      const timespec t[2] = {{op.off, 0}, {op.off + 1000, 5}};
      return Res(utimensat(AT_FDCWD, a.c_str(), t, AT_SYMLINK_NOFOLLOW));
    }
    case Kind::kCopyRange: {
      const int in = open(a.c_str(), O_RDONLY);
      const int out = open(b.c_str(), O_WRONLY);
      long r = -1;
      if (in >= 0 && out >= 0) {
        loff_t oi = op.off / 2;
        loff_t oo = op.off;
        r = copy_file_range(in, &oi, out, &oo, op.len, 0);
      }
      const std::string res = (in < 0 || out < 0) ? Res(-1) : Res(r);
      if (in >= 0) close(in);
      if (out >= 0) close(out);
      return res;
    }
    case Kind::kSeekData: {
      const int f = open(a.c_str(), O_RDONLY);
      if (f < 0) return Res(f);
      struct stat st {};
      // On directories the kernel answers SEEK_DATA/HOLE itself (ext4's and FUSE's directory
      // llseek differ) without asking any filesystem daemon: out of the passthrough's reach.
      if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return "not a regular file";
      }
      const long r = lseek(f, op.off, (op.flags & 1) ? SEEK_DATA : SEEK_HOLE);
      const std::string res = Res(r);
      close(f);
      return res;
    }
    case Kind::kOpenSlot: {
      if (fd >= 0) close(fd);
      fd = open(a.c_str(), OpenFlags(op.flags), op.mode);
      return Res(fd < 0 ? -1 : 0);
    }
    case Kind::kCloseSlot: {
      if (fd < 0) return "empty";
      const int r = close(fd);
      fd = -1;
      return Res(r);
    }
    case Kind::kWriteSlot: {
      if (fd < 0) return "empty";
      const std::string data = Bytes(op.data_seed, op.len);
      return Res((op.flags & 1) ? write(fd, data.data(), data.size())
                                : pwrite(fd, data.data(), data.size(), op.off));
    }
    case Kind::kReadSlot: {
      if (fd < 0) return "empty";
      std::string buf(op.len, '\0');
      const long n = (op.flags & 1) ? read(fd, buf.data(), buf.size())
                                    : pread(fd, buf.data(), buf.size(), op.off);
      return Res(n, n > 0 ? buf.substr(0, static_cast<size_t>(n)) : "");
    }
    case Kind::kFsyncSlot:
      if (fd < 0) return "empty";
      return Res((op.flags & 1) ? fdatasync(fd) : fsync(fd));
    case Kind::kTruncSlot:
      if (fd < 0) return "empty";
      return Res(ftruncate(fd, op.off));
    case Kind::kCount:
      break;
  }
  return "unreachable";
}

// Everything observable about a tree, one line per entry, in name order.
void Snapshot(const std::string& root, const std::string& rel, std::string& out) {
  DIR* d = opendir((root + rel).c_str());
  if (d == nullptr) return;
  std::map<std::string, bool> names;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") names[e->d_name] = true;
  }
  closedir(d);
  for (const auto& [name, unused] : names) {
    const std::string path = root + rel + "/" + name;
    struct stat st {};
    if (lstat(path.c_str(), &st) != 0) continue;
    out += rel + "/" + name + " " + StatLine(st);
    char xattr[128];
    const long xn = lgetxattr(path.c_str(), "user.diff", xattr, sizeof(xattr));
    if (xn >= 0)
      out += " xattr=" +
             std::to_string(std::hash<std::string>()(std::string(xattr, static_cast<size_t>(xn))));
    if (S_ISLNK(st.st_mode)) {
      char target[256];
      const long n = readlink(path.c_str(), target, sizeof(target));
      out += " -> " + std::string(target, static_cast<size_t>(n > 0 ? n : 0));
    } else if (S_ISREG(st.st_mode) && (st.st_mode & 0400)) {
      const int f = open(path.c_str(), O_RDONLY);
      std::string content(static_cast<size_t>(st.st_size), '\0');
      if (f >= 0 && pread(f, content.data(), content.size(), 0) == st.st_size) {
        out += " data=" + std::to_string(std::hash<std::string>()(content));
      }
      if (f >= 0) close(f);
    }
    out += "\n";
    if (S_ISDIR(st.st_mode)) Snapshot(root, rel + "/" + name, out);
  }
}

uint64_t SeedFromEnvOrRandom() {
  if (const char* s = std::getenv("FAULTFS_TEST_SEED")) return std::strtoull(s, nullptr, 0);
  return std::random_device()() * 0x100000001ULL ^ std::random_device()();
}

// Runs `count` ops from `seed` in subdirectory `sub` of both trees; returns "" or the first
// mismatch.
std::string RunSequence(const std::string& native_root, const std::string& mount_root,
                        const std::string& sub, uint64_t seed, int count) {
  Side native{native_root + "/" + sub};
  Side mounted{mount_root + "/" + sub};
  mkdir(native.root.c_str(), 0755);
  mkdir(mounted.root.c_str(), 0755);
  Generator gen(seed);
  for (int i = 0; i < count; ++i) {
    const Op op = gen.Next();
    const std::string n = Apply(op, native);
    const std::string m = Apply(op, mounted);
    if (n != m) {
      return sub + ": op #" + std::to_string(i) + " (" + op.Describe() + "): native " + n +
             ", faultfs " + m;
    }
  }
  return "";
}

class Differential : public TwinTest {
 protected:
  explicit Differential(std::vector<std::string> args = {}) : TwinTest(std::move(args)) {}
  void ExpectSameTrees() {
    std::string n, m;
    Snapshot(native_, "", n);
    Snapshot(mnt_, "", m);
    EXPECT_GT(n.size(), 0U) << "the workload left nothing to compare";
    EXPECT_EQ(n, m) << "trees differ after the workload";
  }
};

TEST_F(Differential, SingleThreaded) {
  const uint64_t seed = SeedFromEnvOrRandom();
  std::cout << "seed: " << seed << " (rerun with FAULTFS_TEST_SEED=" << seed << ")\n";
  SCOPED_TRACE("FAULTFS_TEST_SEED=" + std::to_string(seed));
  EXPECT_EQ(RunSequence(native_, mnt_, "single", seed, 6000), "");
  ExpectSameTrees();
}

TEST_F(Differential, ThreadsAtOnce) {
  const uint64_t seed = SeedFromEnvOrRandom();
  std::cout << "seed: " << seed << " (rerun with FAULTFS_TEST_SEED=" << seed << ")\n";
  SCOPED_TRACE("FAULTFS_TEST_SEED=" + std::to_string(seed));
  constexpr int kThreads = 4;
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    // Disjoint subtrees keep every thread's results deterministic while the daemon serves all
    // of them concurrently.
    threads.emplace_back([&, t] {
      errors[static_cast<size_t>(t)] = RunSequence(native_, mnt_, "t" + std::to_string(t),
                                                   seed + static_cast<uint64_t>(t), 2500);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  ExpectSameTrees();
}

// The same, with the inode descriptor cache squeezed to 8, so nearly every op works on an inode
// whose descriptor was closed and must be reopened from its file handle.
class DifferentialTinyFdCache : public Differential {
 protected:
  DifferentialTinyFdCache() : Differential({"--max-cached-fds", "8"}) {}
};

TEST_F(DifferentialTinyFdCache, ThreadsAtOnce) {
  const uint64_t seed = SeedFromEnvOrRandom();
  std::cout << "seed: " << seed << " (rerun with FAULTFS_TEST_SEED=" << seed << ")\n";
  SCOPED_TRACE("FAULTFS_TEST_SEED=" + std::to_string(seed));
  std::vector<std::string> errors(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      errors[static_cast<size_t>(t)] = RunSequence(native_, mnt_, "t" + std::to_string(t),
                                                   seed + static_cast<uint64_t>(t), 2500);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  ExpectSameTrees();
}

}  // namespace
}  // namespace faultfs::testing
