#include "faultfs/harness/wire.h"

#include <xxhash.h>

#include <cstring>

namespace faultfs::harness {
namespace {

uint32_t Checksum(std::string_view payload) {
  return static_cast<uint32_t>(XXH3_64bits(payload.data(), payload.size()));
}

void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

}  // namespace

std::string FramePayload(std::string_view payload) {
  std::string frame;
  frame.reserve(kFrameHeaderBytes + payload.size());
  PutU32(frame, static_cast<uint32_t>(payload.size()));
  PutU32(frame, Checksum(payload));
  frame.append(payload);
  return frame;
}

std::string EncodeFrame(const nlohmann::json& message) {
  const std::vector<uint8_t> packed = nlohmann::json::to_msgpack(message);
  FAULTFS_CHECK(packed.size() <= kFrameHeaderBytes + kMaxFramePayload)
      << "a harness message of " << packed.size() << " bytes";
  return FramePayload(
      std::string_view(reinterpret_cast<const char*>(packed.data()), packed.size()));
}

Result<std::optional<std::string>> FrameReader::NextPayload() {
  const size_t available = buffer_.size() - used_;
  if (available < kFrameHeaderBytes) return std::optional<std::string>();
  const char* at = buffer_.data() + used_;
  const uint32_t length = GetU32(at);
  if (length > kMaxFramePayload)
    return Status::Invalid("a frame of " + std::to_string(length) + " bytes (at most 1 MiB)");
  if (available < kFrameHeaderBytes + length) return std::optional<std::string>();
  std::string payload(at + kFrameHeaderBytes, length);
  if (Checksum(payload) != GetU32(at + 4)) return Status::Invalid("a frame's checksum fails");
  used_ += kFrameHeaderBytes + length;
  if (used_ == buffer_.size() || used_ > (1u << 16)) {  // keep the buffer small
    buffer_.erase(0, used_);
    used_ = 0;
  }
  return std::optional<std::string>(std::move(payload));
}

Result<std::optional<nlohmann::json>> FrameReader::Next() {
  auto payload = NextPayload();
  if (!payload.ok()) return payload.status();
  if (!*payload) return std::optional<nlohmann::json>();
  nlohmann::json message =
      nlohmann::json::from_msgpack(**payload, /*strict=*/true, /*allow_exceptions=*/false);
  if (message.is_discarded() || !message.is_object())
    return Status::Invalid("a frame that is not a MessagePack map");
  return std::optional<nlohmann::json>(std::move(message));
}

}  // namespace faultfs::harness
