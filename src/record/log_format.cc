// The record log's encoding (docs/record-format.md): the header, each op's frame, CRC32C.
#include "log_format.h"

#include <nmmintrin.h>

#include <array>
#include <cstring>
#include <sstream>

namespace faultfs::record {
namespace {

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
    uint64_t word = 0;
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

}  // namespace

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

}  // namespace faultfs::record
