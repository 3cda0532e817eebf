// The record log's writer (a thread of its own, O_DIRECT, framed and sealed batches) and reader
// (up to the first damage); the format is in log_format.h.
#include "faultfs/record/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "faultfs/core/mutex.h"
#include "faultfs/core/private_file.h"
#include "log_format.h"

namespace faultfs::record {
namespace {

constexpr size_t kFlushBytes = 1u << 20;       // the writer's buffer
constexpr size_t kMaxQueuedBytes = 64u << 20;  // appended, not yet written: Append waits

}  // namespace

LogWriter::LogWriter(UniqueFd fd)
    : fd_(std::move(fd)),
      file_(std::make_unique<LogFile>(fd_.get())),
      thread_([this] { WriterLoop(); }) {}

Result<std::unique_ptr<LogWriter>> LogWriter::Create(const std::string& path,
                                                     const LogHeader& header) {
  // 0600, never through a symlink: the log is what crash states are built from.
  auto fd = OpenPrivateFile(path, "record log", /*exclusive=*/true);
  if (!fd.ok()) return fd.status();
  std::unique_ptr<LogWriter> w(new LogWriter(std::move(*fd)));
  {
    MutexLock lock(w->mu_);
    w->batch_.bytes = EncodeHeader(header);
  }
  FAULTFS_RETURN_IF_ERROR(w->Sync());
  return w;
}

LogWriter::~LogWriter() {
  {
    MutexLock lock(mu_);
    Queue();  // whatever is appended is written, as far as it can be
    stop_ = true;
  }
  queued_cv_.notify_one();
  thread_.join();
}

namespace {

// Writes all of `len` bytes at `at`.
Status PwriteAll(int fd, const char* p, size_t len, uint64_t at) {
  while (len > 0) {
    const ssize_t n = ::pwrite(fd, p, len, static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "writing the record log");
    p += n, len -= static_cast<size_t>(n), at += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

}  // namespace

// The log file as the writer thread appends to it: with O_DIRECT where the filesystem allows it.
// The log is written once and not read back while recording, and it is half of all a recording
// writes: copying it into the page cache would cost the mount as much CPU as the workload's own
// data. Direct writes are whole aligned blocks, so the last partial block stays in memory; it is
// written padded (and the file cut to its true size) whenever the writer runs out of work.
class LogFile {
 public:
  explicit LogFile(int fd) : fd_(fd) {
    const int flags = fcntl(fd, F_GETFL);
    direct_ = flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
  }
  Status Append(std::string_view bytes) {
    if (!direct_) return Buffered(bytes);
    FAULTFS_RETURN_IF_ERROR(Reserve(tail_ + bytes.size()));
    std::memcpy(stage_.get() + tail_, bytes.data(), bytes.size());
    const size_t total = tail_ + bytes.size();
    const size_t whole = total & ~(kBlock - 1);
    const uint64_t at = end_ - tail_;  // block-aligned
    if (whole > 0) {
      Status s = PwriteAll(fd_, stage_.get(), whole, at);
      if (s.code() == EINVAL) return Undirect(bytes.size());
      FAULTFS_RETURN_IF_ERROR(s);
    }
    std::memmove(stage_.get(), stage_.get() + whole, total - whole);
    tail_ = total - whole;
    end_ += bytes.size();
    sealed_ = tail_ == 0;
    return Status::Ok();
  }
  // Makes the file hold everything appended.
  Status Seal() {
    if (!direct_ || sealed_) return Status::Ok();
    std::memset(stage_.get() + tail_, 0, kBlock - tail_);
    Status s = PwriteAll(fd_, stage_.get(), kBlock, end_ - tail_);
    if (s.code() == EINVAL) return Undirect(0);
    FAULTFS_RETURN_IF_ERROR(s);
    if (ftruncate(fd_, static_cast<off_t>(end_)) != 0)
      return Status::FromErrno(errno, "cutting the record log to size");
    sealed_ = true;
    return Status::Ok();
  }

 private:
  static constexpr size_t kBlock = 4096;
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  Status Buffered(std::string_view bytes) {
    FAULTFS_RETURN_IF_ERROR(PwriteAll(fd_, bytes.data(), bytes.size(), end_));
    end_ += bytes.size();
    return Status::Ok();
  }
  // The filesystem refused a direct write after all: the staged bytes (the tail and the
  // `appended` bytes just added after it) are written the ordinary way, and so is all the rest.
  Status Undirect(size_t appended) {
    direct_ = false;
    const int flags = fcntl(fd_, F_GETFL);
    if (flags < 0 || fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0)
      return Status::FromErrno(errno, "turning off O_DIRECT on the record log");
    const size_t staged = tail_ + appended;
    FAULTFS_RETURN_IF_ERROR(PwriteAll(fd_, stage_.get(), staged, end_ - tail_));
    end_ += appended;
    if (ftruncate(fd_, static_cast<off_t>(end_)) != 0)
      return Status::FromErrno(errno, "cutting the record log to size");
    tail_ = 0;
    return Status::Ok();
  }
  Status Reserve(size_t n) {
    if (n + kBlock <= capacity_) return Status::Ok();
    size_t capacity = std::max<size_t>(capacity_ * 2, 2u << 20);
    while (capacity < n + kBlock) capacity *= 2;
    void* p = nullptr;
    if (posix_memalign(&p, kBlock, capacity) != 0) return Status::FromErrno(ENOMEM, "log buffer");
    if (tail_ > 0) std::memcpy(p, stage_.get(), tail_);
    stage_.reset(static_cast<char*>(p));
    capacity_ = capacity;
    return Status::Ok();
  }

  const int fd_;
  bool direct_ = false;
  std::unique_ptr<char, Free> stage_;
  size_t capacity_ = 0;
  size_t tail_ = 0;     // bytes of the last partial block, at the start of stage_
  uint64_t end_ = 0;    // bytes appended
  bool sealed_ = true;  // the file holds them all
};

namespace {

// Fills in the checksum of every frame of `batch`.
void Seal(std::string& bytes, const std::vector<size_t>& frames) {
  for (const size_t at : frames) {
    uint32_t length = 0;
    std::memcpy(&length, bytes.data() + at, 4);
    const uint32_t crc = Crc32c(bytes.data() + at + kFrameHeaderBytes, length);
    std::memcpy(bytes.data() + at + 4, &crc, 4);  // x86: little-endian
  }
}

}  // namespace

// The writer thread: checksums and writes the queued batches, in order. Writing the log here
// keeps the copy into the page cache (and the checksum) off the path of the write being recorded,
// which waits for its record under the mount's order lock.
void LogWriter::WriterLoop() {
  MutexLock lock(mu_);
  for (;;) {
    while (!stop_ && queue_.empty()) queued_cv_.wait(lock.native());
    if (queue_.empty()) return;  // stopping, and everything is written
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    const bool failed = !error_.ok();
    lock.Unlock();
    Status s;
    if (!failed) {
      Seal(batch.bytes, batch.frames);
      s = file_->Append(batch.bytes);
    }
    lock.Lock();
    if (s.ok() && !failed && queue_.empty()) {
      lock.Unlock();
      s = file_->Seal();  // out of work: the file holds everything so far
      lock.Lock();
    }
    if (error_.ok() && !s.ok()) error_ = std::move(s);
    queued_bytes_ -= batch.bytes.size();
    written_cv_.notify_all();
  }
}

void LogWriter::Queue() {
  if (batch_.bytes.empty()) return;
  queued_bytes_ += batch_.bytes.size();
  queue_.push_back(std::move(batch_));
  batch_ = Batch{};
  queued_cv_.notify_one();
}

// Waits until everything queued is written.
Status LogWriter::Drain(MutexLock& lock) {
  Queue();
  while (queued_bytes_ != 0) written_cv_.wait(lock.native());
  return error_;
}

// One frame, encoded in place in the batch; its checksum is filled in by the writer thread.
void LogWriter::AddFrame(const Op& op, std::string_view data) {
  std::string& out = batch_.bytes;
  const size_t frame = out.size();
  batch_.frames.push_back(frame);
  out.append(kFrameHeaderBytes, '\0');
  EncodeFields(op, data.size(), out);
  out.append(data);
  const auto length = static_cast<uint32_t>(out.size() - frame - kFrameHeaderBytes);
  std::memcpy(out.data() + frame, &length, 4);  // x86: little-endian
}

Result<uint64_t> LogWriter::Append(Op op) {
  const std::string data = std::move(op.data);
  op.data.clear();
  return Append(std::move(op), data);
}

Result<uint64_t> LogWriter::Append(Op op, std::string_view data) {
  MutexLock lock(mu_);
  if (!error_.ok()) return error_;
  // Bounded memory: a workload that writes faster than the log can take waits for it.
  while (queued_bytes_ >= kMaxQueuedBytes && error_.ok()) written_cv_.wait(lock.native());
  const size_t piece = kMaxPayloadBytes - kOpOverhead - op.path.size() - op.path2.size();
  if (op.kind == OpKind::kWrite && data.size() > piece) {
    // One record per piece, each a write of its own range; the last keeps the sync flags.
    const uint32_t flags = op.flags;
    const uint64_t offset = op.offset;
    for (size_t at = 0; at < data.size(); at += piece) {
      const std::string_view part = data.substr(at, piece);
      op.offset = offset + at;
      op.length = part.size();
      op.flags = at + piece < data.size() ? 0 : flags;
      op.seq = next_seq_++;
      AddFrame(op, part);
      Queue();
    }
  } else {
    op.seq = next_seq_++;
    if (op.kind == OpKind::kWrite) op.length = data.size();
    AddFrame(op, data);
    if (batch_.bytes.size() >= kFlushBytes) Queue();
  }
  return next_seq_ - 1;
}

Status LogWriter::Sync() {
  MutexLock lock(mu_);
  FAULTFS_RETURN_IF_ERROR(Drain(lock));
  if (::fdatasync(fd_.get()) != 0) return Status::FromErrno(errno, "syncing the record log");
  return Status::Ok();
}

uint64_t LogWriter::appended() const {
  MutexLock lock(mu_);
  return next_seq_ - 1;
}

std::string LogDamage::ToString() const {
  return "record " + std::to_string(record) + " (byte " + std::to_string(byte_offset) +
         "): " + problem;
}

Result<ReadLog> ReadLogFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::FromErrno(errno != 0 ? errno : ENOENT, "opening record log '" + path + "'");
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::FromErrno(EIO, "reading record log '" + path + "'");
  size_t pos = 0;
  auto header = DecodeHeader(file, path, pos);
  if (!header.ok()) return header.status();
  ReadLog log;
  log.header = std::move(*header);
  const std::string_view all(file);
  auto damaged = [&](std::string problem) {
    log.damage = LogDamage{log.ops.size() + 1, pos, std::move(problem)};
  };
  while (pos < all.size()) {
    const size_t left = all.size() - pos;
    if (left < kFrameHeaderBytes) {
      damaged("truncated frame header: " + std::to_string(left) + " of 8 bytes");
      break;
    }
    uint32_t len = 0, stored = 0;
    std::memcpy(&len, all.data() + pos, 4);
    std::memcpy(&stored, all.data() + pos + 4, 4);
    if (len > kMaxPayloadBytes) {
      damaged("implausible record length " + std::to_string(len) + " (the limit is " +
              std::to_string(kMaxPayloadBytes) + ")");
      break;
    }
    if (left - kFrameHeaderBytes < len) {
      damaged("truncated record: " + std::to_string(left - kFrameHeaderBytes) + " of " +
              std::to_string(len) + " bytes");
      break;
    }
    const std::string_view payload = all.substr(pos + kFrameHeaderBytes, len);
    const uint32_t computed = Crc32c(payload.data(), payload.size());
    if (computed != stored) {
      damaged("checksum mismatch: stored " + Hex(stored) + ", computed " + Hex(computed));
      break;
    }
    auto op = DecodeOp(payload);
    if (!op.ok()) {
      damaged(op.status().message());
      break;
    }
    if (op->seq != log.ops.size() + 1) {
      damaged("sequence number " + std::to_string(op->seq) + " where " +
              std::to_string(log.ops.size() + 1) + " was expected");
      break;
    }
    log.ops.push_back(std::move(*op));
    pos += kFrameHeaderBytes + len;
  }
  return log;
}

}  // namespace faultfs::record
