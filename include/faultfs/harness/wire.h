// The harness's wire format (docs/harness.md, "Wire format"): every message on a peer or client
// connection is a frame, u32 payload length | u32 checksum (low 32 bits of XXH3-64 of the
// payload) | payload, little endian; the payload is a MessagePack map. A frame that is too long or
// fails its checksum is never delivered: the connection is closed.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "faultfs/core/status.h"

namespace faultfs::harness {

inline constexpr size_t kFrameHeaderBytes = 8;
inline constexpr uint32_t kMaxFramePayload = 1u << 20;

// One message as a frame.
std::string EncodeFrame(const nlohmann::json& message);
// The frame of an already encoded payload (the proxy forwards frames without decoding them).
std::string FramePayload(std::string_view payload);

// Reassembles frames from a byte stream: Add() what arrived, then Next() until it returns none.
class FrameReader {
 public:
  void Add(std::string_view bytes) { buffer_.append(bytes); }
  // The next whole frame's payload; none when more bytes are needed; an error (the stream is
  // unusable from here) for an oversized frame or a checksum mismatch.
  Result<std::optional<std::string>> NextPayload();
  // The same, decoded (a payload that is not a MessagePack map is an error too).
  Result<std::optional<nlohmann::json>> Next();
  size_t buffered() const { return buffer_.size(); }

 private:
  std::string buffer_;
  size_t used_ = 0;  // bytes of buffer_ already returned
};

}  // namespace faultfs::harness
