// The record log's format, shared by the codec (log_format.cc), the writer and the reader
// (log.cc): docs/record-format.md. All integers are little-endian; strings are a u32 length and
// the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "faultfs/core/status.h"
#include "faultfs/record/log.h"

namespace faultfs::record {

constexpr char kMagic[8] = {'F', 'A', 'U', 'L', 'T', 'F', 'S', 'R'};
constexpr size_t kFrameHeaderBytes = 8;         // u32 length, u32 CRC
constexpr size_t kMaxHeaderPayload = 1u << 30;  // mostly the starting state's inode list
// Room for everything in a write record except its data.
constexpr size_t kOpOverhead = 4096;

// The file's header: magic, version and the framed header record.
std::string EncodeHeader(const LogHeader& h);
// The header of the log `file` (read from `path`, named in errors); `end` is where the first op's
// frame starts.
Result<LogHeader> DecodeHeader(std::string_view file, const std::string& path, size_t& end);
// An op's fields without its frame, with `data_size` bytes of data to follow.
void EncodeFields(const Op& op, size_t data_size, std::string& out);
std::string Hex(uint32_t v);

}  // namespace faultfs::record
