#include "byte_diff.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace faultfs {
namespace {

constexpr size_t kChunk = size_t{1} << 20;  // read at a time from each file
constexpr size_t kBlock = 4096;             // compared with memcmp before looking at single bytes

// Gathers differing bytes into ranges, merging a range with the one right before it, and keeps
// the first `max` of them while counting them all.
class RangeCollector {
 public:
  explicit RangeCollector(size_t max) : max_(max) {}
  void Add(uint64_t begin, uint64_t end) {
    if (open_.end > open_.begin && open_.end == begin) {
      open_.end = end;
      return;
    }
    Flush();
    open_ = {begin, end};
  }
  ByteDiff Finish() {
    Flush();
    return std::move(diff_);
  }

 private:
  void Flush() {
    if (open_.end == open_.begin) return;
    ++diff_.range_count;
    if (diff_.ranges.size() < max_) diff_.ranges.push_back(open_);
    open_ = {};
  }
  const size_t max_;
  ByteRange open_;
  ByteDiff diff_;
};

// Where the next data of `fd` may start at or after `pos`: UINT64_MAX when only zeros follow (a
// trailing hole, or past the end), `pos` itself when the filesystem cannot tell.
uint64_t NextData(int fd, uint64_t pos, uint64_t size) {
  if (pos >= size) return UINT64_MAX;
  const off_t data = lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
  if (data >= 0) return static_cast<uint64_t>(data);
  return errno == ENXIO ? UINT64_MAX : pos;
}

// Fills buf[0, n) with the bytes at `pos`, zeros past the end of the file.
Status ReadAt(const FileToDiff& file, uint64_t pos, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = pread(file.fd, buf + got, n - got, static_cast<off_t>(pos + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::FromErrno(errno, "reading " + file.name);
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  std::memset(buf + got, 0, n - got);
  return Status::Ok();
}

// Adds the differing runs of a[0, n) and b[0, n), which hold the bytes at file offset `pos`.
void CompareChunk(const char* a, const char* b, size_t n, uint64_t pos, RangeCollector& ranges) {
  for (size_t block = 0; block < n; block += kBlock) {
    const size_t end = std::min(n, block + kBlock);
    if (std::memcmp(a + block, b + block, end - block) == 0) continue;
    for (size_t i = block; i < end;) {
      if (a[i] == b[i]) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < end && a[j] != b[j]) ++j;
      ranges.Add(pos + i, pos + j);
      i = j;
    }
  }
}

}  // namespace

Result<ByteDiff> DiffBytes(const FileToDiff& expected, const FileToDiff& actual,
                           size_t max_ranges) {
  // Reused per thread: trees are compared file after file, most of them small.
  thread_local std::vector<char> a(kChunk), b(kChunk);
  RangeCollector ranges(max_ranges);
  const uint64_t size = std::max(expected.size, actual.size);
  uint64_t pos = 0;
  while (pos < size) {
    // Before the first data of either file, both read as zeros.
    pos = std::max(pos, std::min(NextData(expected.fd, pos, expected.size),
                                 NextData(actual.fd, pos, actual.size)));
    if (pos >= size) break;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, size - pos));
    FAULTFS_RETURN_IF_ERROR(ReadAt(expected, pos, a.data(), n));
    FAULTFS_RETURN_IF_ERROR(ReadAt(actual, pos, b.data(), n));
    CompareChunk(a.data(), b.data(), n, pos, ranges);
    pos += n;
  }
  return ranges.Finish();
}

}  // namespace faultfs
