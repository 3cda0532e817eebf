// FUSE over io_uring: requests served on the CPU that issued them.
//
// On /dev/fuse, every request wakes a daemon thread on another CPU and every reply wakes the
// application back; on virtual machines each of those wake-ups costs tens of microseconds. With
// io_uring the kernel keeps one queue per CPU and hands a request to a ring entry of the issuing
// CPU's queue; the entry's thread is pinned to that CPU, so the request and its reply never leave
// it. The protocol is described in docs/architecture.md ("Transport").
//
// Shape: one io_uring and one thread per entry, `depth` entries per CPU queue, so a slow request
// (an fsync) holds one entry while others on that CPU keep being served. Requests are rebuilt in
// the /dev/fuse layout just in front of the entry's page-aligned payload buffer (write data stays
// where the kernel put it, page-aligned) and handed to libfuse; libfuse's replies come back through
// Route() (the session's custom writev) and are committed to the entry they answer.
//
// What stays on /dev/fuse: INIT, FORGET, INTERRUPT and notifications; the RequestLoop serves those.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "faultfs/core/mutex.h"
#include "faultfs/fs/mount.h"
#include "fuse_version.h"
#include "init_patch.h"

struct io_uring_cqe;  // liburing.h

namespace faultfs::fs {

class UringTransport {
 public:
  // `init` has seen the kernel's INIT request (the /dev/fuse reader feeds it).
  UringTransport(fuse_session* session, int dev_fd, InitPatch& init, unsigned depth,
                 UringPriority priority);
  ~UringTransport();
  UringTransport(const UringTransport&) = delete;
  UringTransport& operator=(const UringTransport&) = delete;

  // The session's writev: a reply for a ring entry is committed to it; everything else (INIT's
  // reply, which is patched to switch io_uring on when the rings are ready, replies to /dev/fuse
  // requests, notifications) is written to /dev/fuse. Same contract as writev(2).
  ssize_t Route(const iovec* iov, int count);

  // Waits for every entry thread to end (the connection ended).
  void Join();
  // Whether the entry threads run at idle priority now (with UringPriority::kAuto, it changes
  // with the machine's load).
  bool idle_now() const { return idle_now_.load(std::memory_order_relaxed); }

  // On an entry thread serving a request: the entry's payload buffer, where a reply of up to
  // `size` bytes can be built in place (Route() then skips copying it). nullptr elsewhere.
  static char* ReplySpace(size_t size);

  bool active() const { return active_.load(std::memory_order_acquire); }
  uint64_t served() const { return served_.load(std::memory_order_relaxed); }
  // Entries serving requests (each a thread), once INIT has set them up.
  size_t entries() const { return entries_.size(); }

 private:
  struct Entry;
  static thread_local Entry* serving_entry_;  // the entry the calling thread is serving

  bool SetUp(size_t payload_size);  // rings and buffers; false if io_uring cannot be used
  void Serve(Entry& entry);
  void PinToQueue(Entry& e) const;
  // With UringPriority::kAuto: samples the CPU pressure every 100 ms until Join(), and moves every
  // entry thread between idle and normal priority as the machine gets busy and calm again.
  void WatchLoad();
  void SetPriority(bool idle);
  int NextCompletion(Entry& e, ::io_uring_cqe*& cqe);
  void Dispatch(Entry& e);
  ssize_t WriteDev(const iovec* iov, int count);
  ssize_t PatchAndSendInit(const iovec* iov, int count);
  Entry* FindEntry(uint64_t unique);

  fuse_session* const session_;
  const int dev_fd_;
  InitPatch& init_;
  const unsigned depth_;
  const UringPriority priority_;
  std::atomic<bool> idle_now_;
  Mutex watch_mu_;
  std::condition_variable watch_cv_;
  bool watch_stop_ FAULTFS_GUARDED_BY(watch_mu_) = false;
  std::thread watcher_;
  std::atomic<bool> active_{false};
  std::atomic<uint64_t> served_{0};  // requests that arrived through a ring
  std::vector<std::unique_ptr<Entry>> entries_;
};

}  // namespace faultfs::fs
