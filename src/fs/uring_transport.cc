#include "uring_transport.h"

#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "cpu_pressure.h"
#include "current_request.h"
#include "faultfs/core/check.h"
#include "faultfs/core/errno_names.h"
#include "faultfs/core/mutex.h"
#include "fuse_uring_abi.h"

namespace faultfs::fs {

namespace abi = uring_abi;

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kInHeader = sizeof(fuse_in_header);
constexpr size_t kOutHeader = sizeof(fuse_out_header);
// Room in front of the payload for the request's headers when it is rebuilt contiguously.
constexpr size_t kSlack = kPage;

// The kernel makes one queue per *possible* CPU (num_possible_cpus), not per online one.
std::vector<unsigned> PossibleCpus() {
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string spec;
  std::vector<unsigned> cpus;
  if (!std::getline(in, spec)) return cpus;
  size_t pos = 0;
  while (pos < spec.size()) {
    const size_t comma = spec.find(',', pos);
    const std::string part =
        spec.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    const size_t dash = part.find('-');
    const unsigned lo = static_cast<unsigned>(std::stoul(part.substr(0, dash)));
    const unsigned hi =
        dash == std::string::npos ? lo : static_cast<unsigned>(std::stoul(part.substr(dash + 1)));
    for (unsigned c = lo; c <= hi; ++c) cpus.push_back(c);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return cpus;
}

template <typename T>
T LoadAt(const void* base, size_t offset) {
  T v;
  std::memcpy(&v, static_cast<const char*>(base) + offset, sizeof(T));
  return v;
}

}  // namespace

struct UringTransport::Entry {
  int dev_fd = -1;  // the /dev/fuse descriptor the commands address
  uint16_t qid = 0;
  io_uring ring{};
  bool ring_ready = false;
  abi::ReqHeader* header = nullptr;  // kernel-visible headers (iov[0])
  char* block = nullptr;             // kSlack bytes, then the payload (iov[1])
  char* payload = nullptr;
  size_t payload_size = 0;
  iovec iov[2]{};
  Mutex sq_mu;  // the ring's submission queue (replies may come from any thread)
  std::atomic<uint64_t> unique{0};  // the request this entry holds in userspace, 0 if none
  bool commit_pending = false;      // the serving thread commits after libfuse returns
  std::thread thread;
  std::atomic<pthread_t> self{0};  // the thread, as it sees itself (set before it serves)

  ~Entry() {
    if (ring_ready) io_uring_queue_exit(&ring);
    std::free(header);
    std::free(block);
  }

  // Queues a command for this entry; the caller holds sq_mu.
  bool Prep(uint32_t cmd, uint64_t commit_id) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (sqe == nullptr) return false;
    std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));  // a 128-byte SQE
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = dev_fd;
    sqe->cmd_op = cmd;
    sqe->user_data = reinterpret_cast<uint64_t>(this);
    if (cmd == abi::kRegister) {
      sqe->addr = reinterpret_cast<uint64_t>(iov);
      sqe->len = 2;
    }
    abi::CmdReq req{};
    req.commit_id = commit_id;
    req.qid = qid;
    std::memcpy(sqe->cmd, &req, sizeof(req));
    return true;
  }
};

thread_local UringTransport::Entry* UringTransport::serving_entry_ = nullptr;

UringTransport::UringTransport(fuse_session* session, int dev_fd, InitPatch& init, unsigned depth,
                               UringPriority priority)
    : session_(session),
      dev_fd_(dev_fd),
      init_(init),
      depth_(depth),
      priority_(priority),
      idle_now_(priority != UringPriority::kNormal) {}

UringTransport::~UringTransport() { Join(); }

ssize_t UringTransport::WriteDev(const iovec* iov, int count) {
  return writev(dev_fd_, iov, count);
}

UringTransport::Entry* UringTransport::FindEntry(uint64_t unique) {
  for (auto& e : entries_) {
    if (e->unique.load(std::memory_order_acquire) == unique) return e.get();
  }
  return nullptr;
}

ssize_t UringTransport::Route(const iovec* iov, int count) {
  const auto* out = static_cast<const fuse_out_header*>(iov[0].iov_base);
  if (out->unique == 0) return WriteDev(iov, count);  // a notification
  if (init_.IsInitReply(out->unique)) return PatchAndSendInit(iov, count);
  Entry* e = active() ? FindEntry(out->unique) : nullptr;
  if (e == nullptr) return WriteDev(iov, count);  // answers a request read from /dev/fuse

  // Out header into in_out; every reply argument into the payload, and its size beside it.
  std::memcpy(e->header->in_out, out, kOutHeader);
  size_t body = 0;
  for (int i = 1; i < count; ++i) {
    FAULTFS_CHECK(body + iov[i].iov_len <= e->payload_size) << "reply larger than the ring payload";
    // A reply built in place (ReplySpace) is already where it must be.
    if (iov[i].iov_base != e->payload + body)
      std::memcpy(e->payload + body, iov[i].iov_base, iov[i].iov_len);
    body += iov[i].iov_len;
  }
  e->header->ring_ent_in_out.payload_sz = static_cast<uint32_t>(body);
  const uint64_t unique = out->unique;
  e->unique.store(0, std::memory_order_release);
  // (Whether this is the entry's own thread, inside its Dispatch: `serving_entry_` is this
  // thread's, where the entry's std::thread object is still being assigned when it first serves.)
  if (serving_entry_ == e) {
    e->commit_pending = true;  // committed once libfuse is done with the request's memory
  } else {
    MutexLock lock(e->sq_mu);
    if (!e->Prep(abi::kCommitAndFetch, unique) || io_uring_submit(&e->ring) < 0) {
      errno = EIO;
      return -1;
    }
  }
  return static_cast<ssize_t>(kOutHeader + body);
}

ssize_t UringTransport::PatchAndSendInit(const iovec* iov, int count) {
  // libfuse sends INIT's reply as the out header plus one fuse_init_out.
  std::vector<char> patched;
  if (!init_.KernelOffers(abi::kOverIoUringFlags2) ||
      !init_.AddFlags(iov, count, {.flags2 = abi::kOverIoUringFlags2}, patched)) {
    return WriteDev(iov, count);
  }
  const char* init_out = static_cast<const char*>(iov[1].iov_base);
  const uint32_t max_write = LoadAt<uint32_t>(init_out, abi::kInitOutMaxWriteOffset);
  const uint16_t max_pages = LoadAt<uint16_t>(init_out, abi::kInitOutMaxPagesOffset);
  const size_t payload = std::max<size_t>({8192, max_write, size_t{max_pages} * kPage});
  if (!SetUp(payload)) return WriteDev(iov, count);  // stay on /dev/fuse

  const iovec out[2] = {iov[0], {patched.data(), patched.size()}};
  const ssize_t res = WriteDev(out, 2);
  if (res < 0) return res;
  // The kernel has processed INIT when the write returns; registering may start now. Until every
  // queue holds an entry the kernel keeps new requests waiting.
  active_.store(true, std::memory_order_release);
  for (auto& e : entries_) {
    Entry* entry = e.get();
    entry->thread = std::thread([this, entry] { Serve(*entry); });
  }
  spdlog::info("FUSE over io_uring: {} entries on {} CPU queues", entries_.size(),
               entries_.size() / depth_);
  if (priority_ == UringPriority::kAuto) {
    if (ReadCpuStallMicros()) {
      watcher_ = std::thread([this] { WatchLoad(); });
    } else {
      spdlog::warn(
          "io_uring: no CPU pressure information (/proc/pressure/cpu); its threads stay at "
          "idle priority, and fall behind when other work keeps the CPUs busy");
    }
  }
  return res;
}

bool UringTransport::SetUp(size_t payload_size) {
  const std::vector<unsigned> cpus = PossibleCpus();
  if (cpus.empty()) return false;
  for (unsigned cpu : cpus) {
    for (unsigned i = 0; i < depth_; ++i) {
      auto e = std::make_unique<Entry>();
      e->qid = static_cast<uint16_t>(cpu);
      e->dev_fd = dev_fd_;
      e->payload_size = payload_size;
      io_uring_params params{};
      params.flags = IORING_SETUP_SQE128;
      if (const int err = io_uring_queue_init_params(4, &e->ring, &params); err < 0) {
        spdlog::warn("io_uring unavailable ({}); using /dev/fuse", ErrnoText(-err));
        entries_.clear();
        return false;
      }
      e->ring_ready = true;
      // aligned_alloc wants a size that is a multiple of the alignment.
      constexpr size_t kHeaderAlloc = (sizeof(abi::ReqHeader) + 63) / 64 * 64;
      e->header = static_cast<abi::ReqHeader*>(std::aligned_alloc(64, kHeaderAlloc));
      e->block = static_cast<char*>(std::aligned_alloc(kPage, kSlack + payload_size));
      if (e->header == nullptr || e->block == nullptr) {
        entries_.clear();
        return false;
      }
      e->payload = e->block + kSlack;
      e->iov[0] = {e->header, sizeof(abi::ReqHeader)};
      e->iov[1] = {e->payload, payload_size};
      entries_.push_back(std::move(e));
    }
  }
  return true;
}

void UringTransport::Serve(Entry& e) {
  PinToQueue(e);
  {
    MutexLock lock(e.sq_mu);
    if (!e.Prep(abi::kRegister, 0) || io_uring_submit(&e.ring) < 0) {
      spdlog::error("io_uring: registering an entry of queue {} failed", e.qid);
      return;
    }
  }
  for (;;) {
    io_uring_cqe* cqe = nullptr;
    const int err = NextCompletion(e, cqe);
    if (err == -EINTR || err == -EAGAIN) continue;
    if (err < 0) {
      spdlog::error("io_uring queue {}: {}", e.qid, ErrnoText(-err));
      return;
    }
    const int res = cqe->res;
    io_uring_cqe_seen(&e.ring, cqe);
    if (res == -EAGAIN || res == -EINTR) {  // registered before INIT was processed: again
      MutexLock lock(e.sq_mu);
      if (e.Prep(abi::kRegister, 0)) io_uring_submit(&e.ring);
      continue;
    }
    if (res < 0) {
      // -ENOTCONN: unmounted or aborted, the normal end. Anything else leaves the entry unusable.
      if (res != -ENOTCONN && res != -ECANCELED) {
        spdlog::error("io_uring entry of queue {} ended: {}", e.qid, ErrnoText(-res));
      }
      return;
    }
    Dispatch(e);
  }
}

// The entry's thread runs on its queue's CPU (best effort: a daemon confined to fewer CPUs still
// serves the queue, just not locally), at idle priority when asked. Stop signals stay blocked:
// threads inherit the mask set before the mount.
void UringTransport::PinToQueue(Entry& e) const {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(e.qid, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  e.self.store(pthread_self(), std::memory_order_release);
  if (idle_now_.load(std::memory_order_acquire)) {  // see UringPriority
    sched_param param{};
    (void)pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
  }
}

void UringTransport::SetPriority(bool idle) {
  idle_now_.store(idle, std::memory_order_release);
  sched_param param{};
  for (auto& e : entries_) {
    // A thread that has not pinned itself yet reads idle_now_ when it does.
    if (const pthread_t t = e->self.load(std::memory_order_acquire); t != 0)
      (void)pthread_setschedparam(t, idle ? SCHED_IDLE : SCHED_OTHER, &param);
  }
}

void UringTransport::WatchLoad() {
  using Clock = std::chrono::steady_clock;
  constexpr auto kPeriod = std::chrono::milliseconds(100);
  CpuLoadState load;
  std::optional<uint64_t> stall = ReadCpuStallMicros();
  auto sampled = Clock::now();
  MutexLock lock(watch_mu_);
  while (!watch_stop_) {
    watch_cv_.wait_for(lock.native(), kPeriod);
    const std::optional<uint64_t> now_stall = ReadCpuStallMicros();
    const auto now = Clock::now();
    const double period_us = static_cast<double>(
        std::chrono::duration_cast<std::chrono::microseconds>(now - sampled).count());
    if (stall && now_stall && period_us > 0 &&
        load.Update(static_cast<double>(*now_stall - *stall) / period_us)) {
      SetPriority(!load.busy());
      spdlog::info("io_uring: CPUs {}; its threads now at {} priority",
                   load.busy() ? "busy" : "calm", load.busy() ? "normal" : "idle");
    }
    stall = now_stall;
    sampled = now;
  }
}

// The entry's next completion: a reply pending is committed and the next request fetched in one
// system call; otherwise it waits. 0, or a negative errno.
int UringTransport::NextCompletion(Entry& e, io_uring_cqe*& cqe) {
  if (!e.commit_pending) return io_uring_wait_cqe(&e.ring, &cqe);
  MutexLock lock(e.sq_mu);
  e.commit_pending = false;
  const uint64_t unique = LoadAt<uint64_t>(e.header->in_out, offsetof(fuse_out_header, unique));
  int err = e.Prep(abi::kCommitAndFetch, unique) ? io_uring_submit_and_wait(&e.ring, 1) : -EBUSY;
  if (err >= 0) err = io_uring_peek_cqe(&e.ring, &cqe);
  return err;
}

// A request arrived in the entry: rebuilds the /dev/fuse layout (in header, op header, payload)
// contiguously and has libfuse process it; its reply goes back through Route.
void UringTransport::Dispatch(Entry& e) {
  // The previous reply in this entry may have come from another thread (a deferred request,
  // Route); the kernel fetched this request only after that thread committed it, and Route wrote
  // `unique` (with release) before committing. Reading it with acquire states that order where
  // ThreadSanitizer can see it: it does not see through io_uring.
  (void)e.unique.load(std::memory_order_acquire);
  fuse_in_header in{};
  std::memcpy(&in, e.header->in_out, kInHeader);
  const size_t payload_sz = e.header->ring_ent_in_out.payload_sz;
  const int op_size = abi::OpHeaderSize(in.opcode);
  FAULTFS_CHECK(payload_sz <= e.payload_size) << "ring payload of " << payload_sz << " bytes";
  if (op_size < 0) {  // an opcode this build does not know: not implemented, as libfuse says
    const fuse_out_header out{static_cast<uint32_t>(kOutHeader), -ENOSYS, in.unique};
    std::memcpy(e.header->in_out, &out, kOutHeader);
    e.header->ring_ent_in_out.payload_sz = 0;
    e.commit_pending = true;
    return;
  }
  in.len = static_cast<uint32_t>(kInHeader + static_cast<size_t>(op_size) + payload_sz);
  char* start = e.payload - op_size - kInHeader;
  std::memcpy(start, &in, kInHeader);
  std::memcpy(start + kInHeader, e.header->op_in, static_cast<size_t>(op_size));
  e.unique.store(in.unique, std::memory_order_release);
  served_.fetch_add(1, std::memory_order_relaxed);
  fuse_buf buf{};
  buf.mem = start;
  buf.size = in.len;
  serving_entry_ = &e;
  {
    const CurrentRequest current(start, in.len);
    fuse_session_process_buf(session_, &buf);
  }
  serving_entry_ = nullptr;
}

char* UringTransport::ReplySpace(size_t size) {
  Entry* e = serving_entry_;
  return (e != nullptr && size <= e->payload_size) ? e->payload : nullptr;
}

void UringTransport::Join() {
  // The watcher first: it names the entry threads to the scheduler, and a joined thread's handle
  // is no longer valid (using it crashed the daemon).
  {
    MutexLock lock(watch_mu_);
    watch_stop_ = true;
  }
  watch_cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  for (auto& e : entries_) {
    if (e->thread.joinable()) e->thread.join();
  }
}

}  // namespace faultfs::fs
