// The record log's encoding (docs/record-format.md). All integers are little-endian; strings are
// a u32 length and the bytes.
#include "faultfs/record/log.h"

#include <fcntl.h>
#include <nmmintrin.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "faultfs/core/private_file.h"

namespace faultfs::record {
namespace {

constexpr char kMagic[8] = {'F', 'A', 'U', 'L', 'T', 'F', 'S', 'R'};
constexpr size_t kFrameHeaderBytes = 8;         // u32 length, u32 CRC
constexpr size_t kFlushBytes = 1u << 20;        // the writer's buffer
constexpr size_t kMaxQueuedBytes = 64u << 20;   // appended, not yet written: Append waits
constexpr size_t kMaxHeaderPayload = 1u << 30;  // mostly the starting state's inode list
// Room for everything in a write record except its data.
constexpr size_t kOpOverhead = 4096;

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
  return table;
}

uint32_t Crc32cPortable(const uint8_t* p, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> table = MakeCrcTable();
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return crc;
}

// The CPU's CRC32 instruction computes exactly CRC-32C; 8 bytes per instruction.
__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(const uint8_t* p, size_t n,
                                                          uint32_t crc) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
  }
  auto c32 = static_cast<uint32_t>(c);
  for (; n > 0; --n, ++p) c32 = _mm_crc32_u8(c32, *p);
  return c32;
}

class Encoder {
 public:
  explicit Encoder(std::string& out) : out_(out) {}
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }

 private:
  void Raw(const void* p, size_t n) {
    out_.append(static_cast<const char*>(p), n);
  }  // x86: little-endian
  std::string& out_;
};

class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool U8(uint8_t& v) { return Raw(&v, 1); }
  bool U16(uint16_t& v) { return Raw(&v, 2); }
  bool U32(uint32_t& v) { return Raw(&v, 4); }
  bool U64(uint64_t& v) { return Raw(&v, 8); }
  bool Str(std::string& s) {
    uint32_t n = 0;
    if (!U32(n) || n > in_.size() - pos_) return false;
    s.assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  bool Raw(void* p, size_t n) {
    if (in_.size() - pos_ < n) return false;
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

bool KnownKind(uint8_t k) {
  return k >= static_cast<uint8_t>(OpKind::kWrite) && k <= static_cast<uint8_t>(OpKind::kMark);
}

std::string EncodeHeader(const LogHeader& h) {
  std::string payload;
  Encoder p(payload);
  p.U64(h.start_unix_ns);
  p.Str(h.snapshot);
  p.U64(h.inodes.size());
  for (const auto& [ino, name] : h.inodes) {
    p.U64(ino);
    p.Str(name);
  }
  std::string out(kMagic, sizeof(kMagic));
  Encoder e(out);
  e.U16(h.version);
  e.U16(0);  // flags: none defined in version 1
  e.U32(static_cast<uint32_t>(payload.size()));
  out += payload;
  e.U32(Crc32c(payload.data(), payload.size()));
  return out;
}

std::string Hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// Parses the header at the start of `file`; sets `end` to where the first frame starts.
Result<LogHeader> DecodeHeader(std::string_view file, const std::string& path, size_t& end) {
  auto bad = [&](const std::string& what) {
    return Status::Invalid(path + ": not a usable faultfs record log: " + what);
  };
  if (file.size() < sizeof(kMagic) || std::memcmp(file.data(), kMagic, sizeof(kMagic)) != 0) {
    return bad("it does not start with \"FAULTFSR\"");
  }
  Decoder d(file.substr(sizeof(kMagic)));
  LogHeader h;
  uint16_t flags = 0;
  uint32_t len = 0;
  if (!d.U16(h.version) || !d.U16(flags) || !d.U32(len)) return bad("the header is truncated");
  if (h.version != kFormatVersion) {
    return bad("format version " + std::to_string(h.version) + "; this faultfs reads version " +
               std::to_string(kFormatVersion));
  }
  if (flags != 0) return bad("unknown header flags " + std::to_string(flags));
  const size_t start = sizeof(kMagic) + 8;
  if (len > kMaxHeaderPayload || file.size() < start + len + 4)
    return bad("the header is truncated");
  std::string_view payload = file.substr(start, len);
  uint32_t stored = 0;
  std::memcpy(&stored, file.data() + start + len, 4);
  if (stored != Crc32c(payload.data(), payload.size())) return bad("header checksum mismatch");
  Decoder hp(payload);
  uint64_t count = 0;
  if (!hp.U64(h.start_unix_ns) || !hp.Str(h.snapshot) || !hp.U64(count) || count > len / 12) {
    return bad("the header record is malformed");
  }
  h.inodes.resize(count);
  for (auto& [ino, name] : h.inodes) {
    if (!hp.U64(ino) || !hp.Str(name)) return bad("the header's inode list is malformed");
  }
  if (!hp.done()) return bad("the header record has trailing bytes");
  end = start + len + 4;
  return h;
}

}  // namespace

uint32_t Crc32c(const void* data, size_t size, uint32_t crc) {
  static const bool hardware = __builtin_cpu_supports("sse4.2");
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  crc = hardware ? Crc32cHardware(p, size, crc) : Crc32cPortable(p, size, crc);
  return ~crc;
}

// Appends an op's encoding to `out`, up to and including its data's byte count: everything but
// the data bytes themselves, which follow.
void EncodeFields(const Op& op, size_t data_size, std::string& out) {
  Encoder e(out);
  e.U8(static_cast<uint8_t>(op.kind));
  e.U64(op.seq);
  e.U64(op.time_ns);
  e.U32(op.pid);
  e.U64(op.ino);
  e.Str(op.path);
  e.Str(op.path2);
  e.U64(op.offset);
  e.U64(op.length);
  e.U32(op.mode);
  e.U32(op.flags);
  e.U32(op.uid);
  e.U32(op.gid);
  e.U32(static_cast<uint32_t>(data_size));
}

std::string EncodeOp(const Op& op) {
  std::string out;
  out.reserve(op.data.size() + op.path.size() + op.path2.size() + 96);
  EncodeFields(op, op.data.size(), out);
  out.append(op.data);
  return out;
}

Result<Op> DecodeOp(std::string_view payload) {
  Decoder d(payload);
  Op op;
  uint8_t kind = 0;
  if (!d.U8(kind)) return Status::Invalid("empty record");
  if (!KnownKind(kind)) return Status::Invalid("unknown op kind " + std::to_string(kind));
  op.kind = static_cast<OpKind>(kind);
  const bool whole = d.U64(op.seq) && d.U64(op.time_ns) && d.U32(op.pid) && d.U64(op.ino) &&
                     d.Str(op.path) && d.Str(op.path2) && d.U64(op.offset) && d.U64(op.length) &&
                     d.U32(op.mode) && d.U32(op.flags) && d.U32(op.uid) && d.U32(op.gid) &&
                     d.Str(op.data);
  if (!whole) return Status::Invalid("record ends inside its fields");
  if (!d.done()) return Status::Invalid("record has trailing bytes");
  if (op.kind == OpKind::kWrite && op.length != op.data.size()) {
    return Status::Invalid("write record's length " + std::to_string(op.length) +
                           " differs from its data (" + std::to_string(op.data.size()) + " bytes)");
  }
  return op;
}

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
    std::lock_guard lock(w->mu_);
    w->batch_.bytes = EncodeHeader(header);
  }
  FAULTFS_RETURN_IF_ERROR(w->Sync());
  return w;
}

LogWriter::~LogWriter() {
  {
    std::lock_guard lock(mu_);
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
  std::unique_lock lock(mu_);
  for (;;) {
    queued_cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is written
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    const bool failed = !error_.ok();
    lock.unlock();
    Status s;
    if (!failed) {
      Seal(batch.bytes, batch.frames);
      s = file_->Append(batch.bytes);
    }
    lock.lock();
    if (s.ok() && !failed && queue_.empty()) {
      lock.unlock();
      s = file_->Seal();  // out of work: the file holds everything so far
      lock.lock();
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
Status LogWriter::Drain(std::unique_lock<std::mutex>& lock) {
  Queue();
  written_cv_.wait(lock, [this] { return queued_bytes_ == 0; });
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
  std::unique_lock lock(mu_);
  if (!error_.ok()) return error_;
  // Bounded memory: a workload that writes faster than the log can take waits for it.
  written_cv_.wait(lock, [this] { return queued_bytes_ < kMaxQueuedBytes || !error_.ok(); });
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
  std::unique_lock lock(mu_);
  FAULTFS_RETURN_IF_ERROR(Drain(lock));
  if (::fdatasync(fd_.get()) != 0) return Status::FromErrno(errno, "syncing the record log");
  return Status::Ok();
}

uint64_t LogWriter::appended() const {
  std::lock_guard lock(mu_);
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
