// A growable buffer aligned for O_DIRECT. libfuse hands the daemon write data at addresses that are
// not block-aligned, and a backing descriptor opened with O_DIRECT rejects those with EINVAL, so
// direct I/O bounces through one of these (one per worker thread).
#pragma once

#include <cstddef>
#include <cstdlib>

namespace faultfs::fs {

class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 4096;
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data_); }

  // At least `size` bytes; contents are not preserved across growth. nullptr if out of memory.
  char* Reserve(size_t size) {
    if (size <= capacity_) return data_;
    const size_t rounded = (size + kAlignment - 1) / kAlignment * kAlignment;
    void* fresh = std::aligned_alloc(kAlignment, rounded);
    if (fresh == nullptr) return nullptr;
    std::free(data_);
    data_ = static_cast<char*>(fresh);
    capacity_ = rounded;
    return data_;
  }

  // The calling thread's buffer.
  static AlignedBuffer& ForThisThread() {
    thread_local AlignedBuffer buffer;
    return buffer;
  }

 private:
  char* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace faultfs::fs
