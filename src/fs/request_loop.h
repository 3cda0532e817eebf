// The request loop: worker threads that read requests from /dev/fuse and hand them to libfuse.
//
// Why not libfuse's loop: on virtual machines a thread that sleeps between requests pays a
// virtual-CPU wake-up (tens of microseconds) on every request, several times per file operation.
// Here, after answering a request, one worker at a time keeps polling the device for up to
// `spin` before it sleeps, so the next request of a busy application is picked up at once. At
// most one thread spins, and only briefly after work, so an idle mount costs no CPU.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>

#include "fuse_version.h"

namespace faultfs::fs {

class RequestLoop {
 public:
  // `observe` sees every request before libfuse does; `after_init` runs once, right after the
  // first request (the kernel's INIT) was answered.
  RequestLoop(fuse_session* session, unsigned threads, std::chrono::microseconds spin,
              std::function<void(const char*, size_t)> observe = {},
              std::function<void()> after_init = {});
  RequestLoop(const RequestLoop&) = delete;
  RequestLoop& operator=(const RequestLoop&) = delete;

  // Serves until the connection ends (unmount or abort). Returns 0, or a negative errno if
  // reading from the device failed for another reason.
  int Run();
  uint64_t served() const { return served_.load(std::memory_order_relaxed); }

 private:
  void Work();
  // Waits for a request: spins first when allowed, then blocks. Returns false when serving ends.
  bool WaitReadable(bool may_spin);

  fuse_session* const session_;
  const int fd_;
  const unsigned threads_;
  const std::chrono::microseconds spin_;
  std::function<void(const char*, size_t)> observe_;
  std::function<void()> after_init_;
  std::once_flag after_init_once_;
  std::atomic<bool> spinner_busy_{false};  // only one thread spins at a time
  std::atomic<int> error_{0};
  std::atomic<uint64_t> served_{0};
};

}  // namespace faultfs::fs
