// The raw request the calling thread is serving (the bytes read from /dev/fuse or rebuilt from a
// ring entry, in the /dev/fuse layout). Transports set it around fuse_session_process_buf(); ops
// read it to know the request's unique id and to copy the request when it must be deferred.
#pragma once

#include <linux/fuse.h>

#include <cstddef>
#include <cstdint>

namespace faultfs::fs {

struct RequestView {
  const char* data = nullptr;
  size_t size = 0;
};

class CurrentRequest {
 public:
  CurrentRequest(const char* data, size_t size) : saved_(current_) { current_ = {data, size}; }
  ~CurrentRequest() { current_ = saved_; }
  CurrentRequest(const CurrentRequest&) = delete;
  CurrentRequest& operator=(const CurrentRequest&) = delete;

  static const char* data() { return current_.data; }
  static size_t size() { return current_.size; }
  static uint64_t unique() {
    return current_.data == nullptr
               ? 0
               : reinterpret_cast<const fuse_in_header*>(current_.data)->unique;
  }

 private:
  static inline thread_local RequestView current_{};
  RequestView saved_;
};

}  // namespace faultfs::fs
