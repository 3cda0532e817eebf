// Goal: a file open with O_DIRECT and mapped shared at the same time behaves through faultfs as on
// the backing filesystem: seeded random direct reads and writes (aligned or not), writes and
// reads through a shared mapping, msync, and truncates to sizes that are not multiples of the
// page give the same results, errnos and bytes on both sides. (Found by an outside suite: the
// kernel writes a mapping's last, partial page back through the O_DIRECT handle, which the
// backing file refused with EINVAL, and msync failed.)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <sstream>
#include <string>

#include "twin_fixture.h"

namespace faultfs::testing {
namespace {

constexpr size_t kAlign = 4096;
constexpr off_t kMaxSize = 64 * 1024;

// One side: the file open twice, with O_DIRECT and without.
struct DirectSide {
  int direct = -1;
  int plain = -1;
  ~DirectSide() {
    if (direct >= 0) close(direct);
    if (plain >= 0) close(plain);
  }
};

std::string Result(long ret, const std::string& data = "") {
  std::ostringstream s;
  s << "ret=" << ret;
  if (ret < 0) s << " errno=" << std::strerror(errno);
  if (!data.empty()) s << " data=" << std::hash<std::string>()(data);
  return s.str();
}

// An aligned buffer for O_DIRECT.
struct Aligned {
  explicit Aligned(size_t n) : size(n) {
    if (posix_memalign(&p, kAlign, std::max(n, kAlign)) != 0) p = nullptr;
  }
  ~Aligned() { std::free(p); }
  char* data() { return static_cast<char*>(p); }
  void* p = nullptr;
  size_t size;
};

class Ops {
 public:
  explicit Ops(uint64_t seed) : rng_(seed) {}

  // Draws the next op and applies it to one side; `draw` is the op's dice, so both sides get the
  // same op when given the same draw.
  static std::string Apply(uint64_t draw, DirectSide& side) {
    std::mt19937_64 d(draw);
    const auto pick = [&](uint64_t n) { return static_cast<off_t>(d() % n); };
    struct stat st {};
    if (fstat(side.plain, &st) != 0) return "fstat failed";
    const off_t size = st.st_size;
    const bool aligned = pick(3) != 0;
    const off_t off =
        aligned ? pick(kMaxSize / kAlign) * static_cast<off_t>(kAlign) : pick(kMaxSize);
    const size_t len =
        aligned ? static_cast<size_t>(1 + pick(4)) * kAlign : static_cast<size_t>(1 + pick(9000));
    const char fill = static_cast<char>('a' + pick(26));
    errno = 0;
    switch (pick(6)) {
      case 0: {  // a direct write
        Aligned buf(len);
        std::memset(buf.data(), fill, len);
        return "dwrite " + Result(pwrite(side.direct, buf.data(), len, off));
      }
      case 1: {  // a direct read
        Aligned buf(len);
        const long n = pread(side.direct, buf.data(), len, off);
        return "dread " + Result(n, n > 0 ? std::string(buf.data(), static_cast<size_t>(n)) : "");
      }
      case 2:  // a truncate, often to a size that is not a multiple of the page
        return "truncate " + Result(ftruncate(side.plain, pick(kMaxSize)));
      case 3:
      case 4: {  // write through a shared mapping of the whole file, then msync
        if (size == 0) return "empty";
        void* m = mmap(nullptr, static_cast<size_t>(size), PROT_READ | PROT_WRITE, MAP_SHARED,
                       side.direct, 0);
        if (m == MAP_FAILED) return "mmap " + Result(-1);
        const off_t at = pick(static_cast<uint64_t>(size));
        const size_t n = std::min<size_t>(len, static_cast<size_t>(size - at));
        std::memset(static_cast<char*>(m) + at, fill, n);
        const int synced = msync(m, static_cast<size_t>(size), MS_SYNC);
        const std::string out = "mwrite msync " + Result(synced);
        munmap(m, static_cast<size_t>(size));
        return out;
      }
      default: {  // read through a shared mapping
        if (size == 0) return "empty";
        void* m = mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, side.direct, 0);
        if (m == MAP_FAILED) return "mmap " + Result(-1);
        const std::string bytes(static_cast<const char*>(m), static_cast<size_t>(size));
        munmap(m, static_cast<size_t>(size));
        return "mread " + Result(0, bytes);
      }
    }
  }

  uint64_t Next() { return rng_(); }

 private:
  std::mt19937_64 rng_;
};

std::string Contents(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return "cannot open";
  std::string out;
  char buf[8192];
  for (long n; (n = read(fd, buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

class DirectMmap : public TwinTest {};

TEST_F(DirectMmap, DirectAndMappedAccessMatchTheBackingFilesystem) {
  uint64_t seed = std::random_device()();
  if (const char* s = std::getenv("FAULTFS_TEST_SEED")) seed = std::strtoull(s, nullptr, 0);
  std::cout << "seed: " << seed << " (rerun with FAULTFS_TEST_SEED=" << seed << ")\n";
  SCOPED_TRACE("FAULTFS_TEST_SEED=" + std::to_string(seed));
  DirectSide native, mounted;
  for (auto [side, root] : {std::pair{&native, native_}, std::pair{&mounted, mnt_}}) {
    const std::string f = root + "/f";
    side->direct = open(f.c_str(), O_RDWR | O_CREAT | O_DIRECT, 0644);
    side->plain = open(f.c_str(), O_RDWR);
    ASSERT_GE(side->direct, 0) << f << ": " << std::strerror(errno);
    ASSERT_GE(side->plain, 0) << f << ": " << std::strerror(errno);
    // The case the outside suite found: extend to an unaligned size, write through the mapping.
    ASSERT_EQ(ftruncate(side->plain, 5000), 0);
  }
  Ops ops(seed);
  int unaligned_msyncs = 0;
  for (int i = 0; i < 600; ++i) {
    const uint64_t draw = ops.Next();
    const std::string n = Ops::Apply(draw, native);
    const std::string m = Ops::Apply(draw, mounted);
    ASSERT_EQ(n, m) << "op #" << i << " (draw " << draw << ")";
    struct stat st {};
    ASSERT_EQ(fstat(native.plain, &st), 0);
    if (n.rfind("mwrite msync ret=0", 0) == 0 && st.st_size % static_cast<off_t>(kAlign) != 0)
      ++unaligned_msyncs;
  }
  // The sequence reached the case that failed: mapped writes synced on files of unaligned size.
  EXPECT_GT(unaligned_msyncs, 0);
  EXPECT_EQ(Contents(native_ + "/f"), Contents(mnt_ + "/f"));
}

}  // namespace
}  // namespace faultfs::testing
