// Goal: open files behave through faultfs exactly as natively: open flags (kept exactly, down to
// the daemon's backing descriptor), read/write, O_DIRECT, fsync, fallocate modes, copy_file_range,
// SEEK_DATA/SEEK_HOLE, shared writable mmap, flock and POSIX record locks, statfs.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "twin_fixture.h"

namespace faultfs::testing {
namespace {

// The open flags of the daemon's descriptor for `backing_path`, from /proc/PID/fdinfo.
int DaemonFlagsFor(pid_t daemon, const std::string& backing_path) {
  const std::string fd_dir = "/proc/" + std::to_string(daemon) + "/fd";
  for (const auto& entry : std::filesystem::directory_iterator(fd_dir)) {
    std::error_code ec;
    if (std::filesystem::read_symlink(entry.path(), ec).string() != backing_path) continue;
    std::ifstream info("/proc/" + std::to_string(daemon) + "/fdinfo/" +
                       entry.path().filename().string());
    std::string key;
    std::string value;
    while (info >> key >> value) {
      if (key != "flags:") continue;
      const int flags = static_cast<int>(std::strtol(value.c_str(), nullptr, 8));
      if ((flags & O_PATH) == 0) return flags;  // skip the inode's O_PATH descriptor
    }
  }
  return -1;
}

class FileOps : public TwinTest {};

TEST_F(FileOps, OpenErrors) {
  Both([](const std::string& r) {
    ASSERT_EQ(close(creat(P(r, "f").c_str(), 0644)), 0);
    ASSERT_EQ(mkdir(P(r, "d").c_str(), 0755), 0);
  });
  Same("O_EXCL on existing", EEXIST,
       [&](auto r) { return open(P(r, "f").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600); });
  Same("O_CREAT in missing dir", ENOENT,
       [&](auto r) { return open(P(r, "no/f").c_str(), O_CREAT | O_WRONLY, 0600); });
  Same("open missing", ENOENT, [&](auto r) { return open(P(r, "nope").c_str(), O_RDONLY); });
  Same("O_DIRECTORY on a file", ENOTDIR,
       [&](auto r) { return open(P(r, "f").c_str(), O_RDONLY | O_DIRECTORY); });
  Same("directory for writing", EISDIR, [&](auto r) { return open(P(r, "d").c_str(), O_WRONLY); });
  Same("O_CREAT on a directory", EISDIR,
       [&](auto r) { return open(P(r, "d").c_str(), O_CREAT | O_WRONLY, 0600); });
}

TEST_F(FileOps, ReadWriteRoundTrip) {
  Both([](const std::string& r) {
    const int fd = open(P(r, "f").c_str(), O_CREAT | O_RDWR, 0644);
    ASSERT_GE(fd, 0);
    std::string big(4 << 20, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
    ASSERT_EQ(pwrite(fd, big.data(), big.size(), 0), static_cast<ssize_t>(big.size()));
    ASSERT_EQ(pwrite(fd, "tail", 4, 10 << 20), 4);  // beyond EOF: a hole in between
    char c = 1;
    ASSERT_EQ(pread(fd, &c, 1, 6 << 20), 1);
    EXPECT_EQ(c, 0) << "holes read as zeros";
    EXPECT_EQ(pread(fd, &c, 1, 20 << 20), 0) << "read at EOF returns 0";
    std::string back(big.size(), '\0');
    ASSERT_EQ(pread(fd, back.data(), back.size(), 0), static_cast<ssize_t>(back.size()));
    EXPECT_TRUE(back == big);
    EXPECT_EQ(fsync(fd), 0);
    EXPECT_EQ(fdatasync(fd), 0);
    close(fd);
  });
  EXPECT_TRUE(ReadFile(P(native_, "f")) == ReadFile(P(mnt_, "f")));
  EXPECT_TRUE(ReadFile(P(backing_, "f")) == ReadFile(P(mnt_, "f")))
      << "data reached the backing file";
}

TEST_F(FileOps, LargeOffsets) {
  Both([](const std::string& r) {
    const int fd = open(P(r, "big").c_str(), O_CREAT | O_RDWR, 0644);
    ASSERT_GE(fd, 0);
    const off_t off = 5LL << 30;
    ASSERT_EQ(pwrite(fd, "x", 1, off), 1);
    struct stat st {};
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(st.st_size, off + 1);
    close(fd);
  });
}

TEST_F(FileOps, AppendTruncAndAccessModes) {
  Both([](const std::string& r) {
    int fd = open(P(r, "log").c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
    ASSERT_EQ(write(fd, "one\n", 4), 4);
    ASSERT_EQ(pwrite(fd, "two\n", 4, 0), 4);  // Linux: O_APPEND wins over the offset
    close(fd);
    fd = open(P(r, "log").c_str(), O_RDONLY);
    char buf[16] = {};
    ASSERT_EQ(read(fd, buf, sizeof(buf)), 8);
    EXPECT_STREQ(buf, "one\ntwo\n");
    EXPECT_EQ(write(fd, "x", 1), -1) << "write on a read-only descriptor";
    EXPECT_EQ(errno, EBADF);
    close(fd);
    fd = open(P(r, "log").c_str(), O_WRONLY | O_TRUNC);
    EXPECT_EQ(read(fd, buf, 1), -1);
    EXPECT_EQ(errno, EBADF);
    struct stat st {};
    ASSERT_EQ(fstat(fd, &st), 0);
    EXPECT_EQ(st.st_size, 0) << "O_TRUNC";
    close(fd);
  });
}

TEST_F(FileOps, OpenFlagsReachTheBackingFileUnchanged) {
  const int flags[] = {O_SYNC, O_DSYNC, O_APPEND, O_NOATIME, O_DIRECT};
  for (int flag : flags) {
    const std::string name = "flags-" + std::to_string(flag);
    const int fd = open(P(mnt_, name).c_str(), O_CREAT | O_WRONLY | flag, 0644);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    const int seen = DaemonFlagsFor(mount_.daemon_pid(), P(backing_, name));
    EXPECT_NE(seen, -1) << "daemon has no descriptor for " << name;
    EXPECT_EQ(seen & flag, flag) << "flag " << std::oct << flag << " lost; daemon has " << seen;
    EXPECT_EQ(seen & O_ACCMODE, O_WRONLY);
    close(fd);
  }
}

TEST_F(FileOps, DirectIo) {
  Both([](const std::string& r) {
    const int fd = open(P(r, "direct").c_str(), O_CREAT | O_RDWR | O_DIRECT, 0644);
    ASSERT_GE(fd, 0);
    void* mem = nullptr;
    ASSERT_EQ(posix_memalign(&mem, 4096, 1 << 20), 0);
    std::memset(mem, 'd', 1 << 20);
    EXPECT_EQ(pwrite(fd, mem, 1 << 20, 0), 1 << 20) << std::strerror(errno);
    EXPECT_EQ(pwrite(fd, mem, 4096, 8192), 4096);
    std::memset(mem, 0, 4096);
    EXPECT_EQ(pread(fd, mem, 4096, 4096), 4096);
    EXPECT_EQ(static_cast<char*>(mem)[100], 'd');
    EXPECT_EQ(pwrite(fd, mem, 4096, 100), -1) << "unaligned offset";
    EXPECT_EQ(errno, EINVAL);
    std::free(mem);
    close(fd);
  });
}

TEST_F(FileOps, FallocateModes) {
  Both([](const std::string& r) {
    const int fd = open(P(r, "fa").c_str(), O_CREAT | O_RDWR, 0644);
    ASSERT_GE(fd, 0);
    std::string data(64 * 1024, 'a');
    ASSERT_EQ(pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    close(fd);
  });
  auto fa = [](const std::string& r, int mode, off_t off, off_t len) {
    const int fd = open(P(r, "fa").c_str(), O_RDWR);
    const int res = fallocate(fd, mode, off, len);
    const int saved = errno;
    close(fd);
    errno = saved;
    return res;
  };
  auto size_of = [](const std::string& path) {
    struct stat st {};
    stat(path.c_str(), &st);
    return st.st_size;
  };
  Same("default grows", 0, [&](auto r) { return fa(r, 0, 0, 128 * 1024); });
  EXPECT_EQ(size_of(P(mnt_, "fa")), 128 * 1024);
  Same("keep size", 0, [&](auto r) { return fa(r, FALLOC_FL_KEEP_SIZE, 0, 1 << 20); });
  EXPECT_EQ(size_of(P(mnt_, "fa")), 128 * 1024);
  Same("punch hole", 0,
       [&](auto r) { return fa(r, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192); });
  Same("punch without keep size", EOPNOTSUPP,
       [&](auto r) { return fa(r, FALLOC_FL_PUNCH_HOLE, 0, 4096); });
  Same("zero range", 0, [&](auto r) { return fa(r, FALLOC_FL_ZERO_RANGE, 20000, 5000); });
  Same("bad mode", EOPNOTSUPP, [&](auto r) { return fa(r, 0x4000, 0, 4096); });
  Same("negative length", EINVAL, [&](auto r) { return fa(r, 0, 0, -1); });
  EXPECT_EQ(size_of(P(native_, "fa")), size_of(P(mnt_, "fa")));
  EXPECT_TRUE(ReadFile(P(native_, "fa")) == ReadFile(P(mnt_, "fa")));
}

// COLLAPSE_RANGE and INSERT_RANGE never reach a FUSE daemon: the kernel's FUSE module refuses every
// mode but KEEP_SIZE, PUNCH_HOLE and ZERO_RANGE. This pins that known limit (docs/architecture.md).
TEST_F(FileOps, FallocateModesTheFuseKernelRefuses) {
  for (int mode : {FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE}) {
    const int fd = open(P(mnt_, "fa").c_str(), O_CREAT | O_RDWR, 0644);
    ASSERT_EQ(ftruncate(fd, 65536), 0);
    EXPECT_EQ(fallocate(fd, mode, 0, 4096), -1);
    EXPECT_EQ(errno, EOPNOTSUPP) << "mode " << mode;
    close(fd);
  }
}

TEST_F(FileOps, SeekDataAndHole) {
  Both([](const std::string& r) {
    const int fd = open(P(r, "sparse").c_str(), O_CREAT | O_RDWR, 0644);
    std::string block(4096, 's');
    ASSERT_EQ(pwrite(fd, block.data(), block.size(), 1 << 20), 4096);
    ASSERT_EQ(pwrite(fd, block.data(), block.size(), 3 << 20), 4096);
    ASSERT_EQ(fsync(fd), 0);
    close(fd);
  });
  auto seek = [](const std::string& r, off_t off, int whence) {
    const int fd = open(P(r, "sparse").c_str(), O_RDONLY);
    const off_t res = lseek(fd, off, whence);
    const int saved = errno;
    close(fd);
    errno = saved;
    return res;
  };
  const Outcome data = Same("first data", 0, [&](auto r) { return seek(r, 0, SEEK_DATA); });
  EXPECT_EQ(data.ret, 1 << 20) << "the hole before the first block is reported";
  Same("hole after data", 0, [&](auto r) { return seek(r, 1 << 20, SEEK_HOLE); });
  Same("second data", 0, [&](auto r) { return seek(r, (1 << 20) + 4096, SEEK_DATA); });
  Same("data past EOF", ENXIO, [&](auto r) { return seek(r, 5 << 20, SEEK_DATA); });
}

TEST_F(FileOps, CopyFileRange) {
  Both([](const std::string& r) {
    std::ofstream(P(r, "src")) << std::string(100000, 'c') << "end";
    const int in = open(P(r, "src").c_str(), O_RDONLY);
    const int out = open(P(r, "dst").c_str(), O_CREAT | O_WRONLY, 0644);
    loff_t off_in = 10;
    loff_t off_out = 5;
    EXPECT_EQ(copy_file_range(in, &off_in, out, &off_out, 99993, 0), 99993);
    EXPECT_EQ(off_in, 100003);
    close(in);
    close(out);
  });
  EXPECT_TRUE(ReadFile(P(native_, "dst")) == ReadFile(P(mnt_, "dst")));
  EXPECT_EQ(ReadFile(P(mnt_, "dst")).size(), 5U + 99993U);
}

TEST_F(FileOps, SharedWritableMmap) {
  Both([](const std::string& r) {
    const int fd = open(P(r, "mapped").c_str(), O_CREAT | O_RDWR, 0644);
    ASSERT_EQ(ftruncate(fd, 8192), 0);
    void* map = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
    std::memcpy(static_cast<char*>(map) + 4000, "through mmap", 12);
    EXPECT_EQ(msync(map, 8192, MS_SYNC), 0);
    munmap(map, 8192);
    char buf[13] = {};
    EXPECT_EQ(pread(fd, buf, 12, 4000), 12);
    EXPECT_STREQ(buf, "through mmap");
    close(fd);
  });
  EXPECT_EQ(ReadFile(P(backing_, "mapped")).substr(4000, 12), "through mmap")
      << "msync wrote the page to the backing file";
}

// Runs `fn` in a child process and returns its exit code.
template <typename Fn>
int InChild(Fn&& fn) {
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

TEST_F(FileOps, FlockConflictsBetweenProcesses) {
  Both([](const std::string& r) {
    const int fd = open(P(r, "lock").c_str(), O_CREAT | O_RDWR, 0644);
    ASSERT_EQ(flock(fd, LOCK_EX), 0);
    const int child = InChild([&] {
      const int cfd = open(P(r, "lock").c_str(), O_RDWR);
      return flock(cfd, LOCK_EX | LOCK_NB) == -1 && errno == EWOULDBLOCK ? 0 : 1;
    });
    EXPECT_EQ(child, 0) << "second exclusive flock must fail in " << r;
    ASSERT_EQ(flock(fd, LOCK_UN), 0);
    EXPECT_EQ(InChild([&] { return flock(open(P(r, "lock").c_str(), O_RDWR), LOCK_EX | LOCK_NB); }),
              0);
    close(fd);
  });
}

TEST_F(FileOps, PosixRecordLocks) {
  Both([](const std::string& r) {
    const int fd = open(P(r, "rec").c_str(), O_CREAT | O_RDWR, 0644);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 100;
    fl.l_len = 50;
    ASSERT_EQ(fcntl(fd, F_SETLK, &fl), 0);
    const pid_t self = getpid();
    const int child = InChild([&] {
      const int cfd = open(P(r, "rec").c_str(), O_RDWR);
      struct flock want {};
      want.l_type = F_WRLCK;
      want.l_whence = SEEK_SET;
      want.l_start = 120;
      want.l_len = 10;
      if (fcntl(cfd, F_SETLK, &want) != -1 || (errno != EAGAIN && errno != EACCES)) return 1;
      if (fcntl(cfd, F_GETLK, &want) != 0 || want.l_pid != self) return 2;
      want.l_start = 200;  // outside the held range
      return fcntl(cfd, F_SETLK, &want) == 0 ? 0 : 3;
    });
    EXPECT_EQ(child, 0) << "record lock conflict in " << r;
    close(fd);
  });
}

TEST_F(FileOps, StatfsReportsTheBackingFilesystem) {
  struct statvfs n {
  }, m{};
  ASSERT_EQ(statvfs(native_.c_str(), &n), 0);
  ASSERT_EQ(statvfs(mnt_.c_str(), &m), 0);
  EXPECT_EQ(n.f_bsize, m.f_bsize);
  EXPECT_EQ(n.f_blocks, m.f_blocks);
  EXPECT_EQ(n.f_files, m.f_files);
  EXPECT_EQ(n.f_namemax, m.f_namemax);
}

}  // namespace
}  // namespace faultfs::testing
