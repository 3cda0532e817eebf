#include "init_patch.h"

#include <linux/fuse.h>

#include <cstring>

#include "fuse_uring_abi.h"

namespace faultfs::fs {
namespace {

namespace abi = uring_abi;

uint32_t Load32(const char* base, size_t offset) {
  uint32_t v = 0;
  std::memcpy(&v, base + offset, sizeof(v));
  return v;
}

void Store32(char* base, size_t offset, uint32_t v) { std::memcpy(base + offset, &v, sizeof(v)); }

}  // namespace

void InitPatch::ObserveRequest(const char* request, size_t size) {
  constexpr size_t kHeader = sizeof(fuse_in_header);
  if (size < kHeader + abi::kInitInFlags2Offset + 4) return;
  fuse_in_header in{};
  std::memcpy(&in, request, kHeader);
  if (in.opcode != FUSE_INIT) return;
  const uint32_t flags = Load32(request + kHeader, abi::kInitInFlagsOffset);
  kernel_flags_.store(flags);
  // flags2 means something only when the kernel says so (FUSE_INIT_EXT).
  kernel_flags2_.store(
      (flags & abi::kInitExt) != 0 ? Load32(request + kHeader, abi::kInitInFlags2Offset) : 0);
  init_unique_.store(in.unique);
}

bool InitPatch::AddFlags(const iovec* iov, int count, InitFlags wanted,
                         std::vector<char>& patched) {
  if (count != 2 || iov[1].iov_len < abi::kInitOutFlags2Offset + 4) return false;
  const auto* init_out = static_cast<const char*>(iov[1].iov_base);
  patched.assign(init_out, init_out + iov[1].iov_len);
  const uint32_t offered = wanted.flags & kernel_flags_.load();
  const uint32_t offered2 = wanted.flags2 & kernel_flags2_.load();
  const uint32_t ext = offered2 != 0 ? static_cast<uint32_t>(abi::kInitExt) : 0;
  Store32(patched.data(), abi::kInitOutFlagsOffset,
          Load32(init_out, abi::kInitOutFlagsOffset) | offered | ext);
  Store32(patched.data(), abi::kInitOutFlags2Offset,
          Load32(init_out, abi::kInitOutFlags2Offset) | offered2);
  // The kernel takes passthrough only with a stacking depth (libfuse 3.14 sends zero there).
  if ((offered2 & abi::kPassthroughFlags2) != 0 &&
      iov[1].iov_len >= abi::kInitOutMaxStackDepthOffset + 4) {
    Store32(patched.data(), abi::kInitOutMaxStackDepthOffset, wanted.max_stack_depth);
  }
  granted_flags2_.store(Load32(patched.data(), abi::kInitOutFlags2Offset));
  return true;
}

}  // namespace faultfs::fs
