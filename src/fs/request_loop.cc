#include "request_loop.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "current_request.h"
#include "faultfs/core/errno_names.h"

namespace faultfs::fs {

namespace {

// libfuse sizes a request buffer as 256 pages of payload plus one page of headers, and tells the
// kernel max_write accordingly; a smaller buffer would make large writes fail.
size_t RequestBufferSize() { return (256 + 1) * static_cast<size_t>(getpagesize()); }

using Clock = std::chrono::steady_clock;

}  // namespace

RequestLoop::RequestLoop(fuse_session* session, unsigned threads, std::chrono::microseconds spin,
                         std::function<void(const char*, size_t)> observe,
                         std::function<void()> after_init)
    : session_(session),
      fd_(fuse_session_fd(session)),
      threads_(threads),
      spin_(spin),
      observe_(std::move(observe)),
      after_init_(std::move(after_init)) {}

int RequestLoop::Run() {
  std::vector<std::thread> workers;
  for (unsigned i = 1; i < threads_; ++i) workers.emplace_back([this] { Work(); });
  Work();
  for (auto& w : workers) w.join();
  return error_.load();
}

bool RequestLoop::WaitReadable(bool may_spin) {
  if (may_spin && spin_.count() > 0 && !spinner_busy_.exchange(true, std::memory_order_acquire)) {
    const auto deadline = Clock::now() + spin_;
    pollfd p{fd_, POLLIN, 0};
    bool ready = false;
    do {
      ready = poll(&p, 1, 0) > 0;
    } while (!ready && Clock::now() < deadline && !fuse_session_exited(session_));
    spinner_busy_.store(false, std::memory_order_release);
    if (ready) return true;
  }
  return !fuse_session_exited(session_);  // the blocking read() itself waits
}

void RequestLoop::Work() {
  auto buffer = std::unique_ptr<char, decltype(&std::free)>(
      static_cast<char*>(std::aligned_alloc(4096, RequestBufferSize())), &std::free);
  bool just_served = false;
  while (WaitReadable(just_served)) {
    const ssize_t n = read(fd_, buffer.get(), RequestBufferSize());
    if (n < 0) {
      const int err = errno;
      just_served = false;
      // EINTR: a signal; EAGAIN: another worker took it; ENOENT: the request was interrupted.
      if (err == EINTR || err == EAGAIN || err == ENOENT) continue;
      if (err == ENODEV) {  // unmounted, or the connection was aborted
        fuse_session_exit(session_);
        return;
      }
      spdlog::error("reading /dev/fuse: {}", ErrnoText(err));
      error_.store(-err);
      fuse_session_exit(session_);
      return;
    }
    if (n == 0) {
      fuse_session_exit(session_);
      return;
    }
    if (observe_) observe_(buffer.get(), static_cast<size_t>(n));
    served_.fetch_add(1, std::memory_order_relaxed);
    fuse_buf buf{};
    buf.mem = buffer.get();
    buf.size = static_cast<size_t>(n);
    const CurrentRequest current(buffer.get(), static_cast<size_t>(n));
    fuse_session_process_buf(session_, &buf);
    if (after_init_) std::call_once(after_init_once_, after_init_);
    just_served = true;
  }
}

}  // namespace faultfs::fs
