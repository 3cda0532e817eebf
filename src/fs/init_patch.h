// libfuse 3.14 negotiates only the capabilities it knows. InitPatch amends the INIT exchange with
// newer ones: it notes which flags the kernel offered in its INIT request, and adds wanted ones
// (only if offered) to the reply on its way to the kernel. Used for FUSE_HANDLE_KILLPRIV_V2,
// FUSE_DIRECT_IO_ALLOW_MMAP and FUSE_PASSTHROUGH on every transport, and by the io_uring
// transport for FUSE_OVER_IO_URING.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace faultfs::fs {

// Bits of the 64 INIT flags: the lower half (`flags`) and the upper (`flags2`, FUSE_INIT_EXT).
struct InitFlags {
  uint32_t flags = 0;
  uint32_t flags2 = 0;
  // With FUSE_PASSTHROUGH: how many stacked filesystems may lie under a backing file (1..2).
  uint32_t max_stack_depth = 1;
};

class InitPatch {
 public:
  // Called with every request read from /dev/fuse, before libfuse sees it.
  void ObserveRequest(const char* request, size_t size);

  bool IsInitReply(uint64_t unique) const { return unique != 0 && unique == init_unique_.load(); }
  // Whether the kernel offered every bit of `flags2` (the upper half of the 64 INIT flags).
  bool KernelOffers(uint32_t flags2) const { return (kernel_flags2_.load() & flags2) == flags2; }
  // Whether INIT's reply, as sent, granted every bit of `flags2`.
  bool Granted(uint32_t flags2) const { return (granted_flags2_.load() & flags2) == flags2; }

  // INIT's reply `iov` (out header + fuse_init_out) with the offered bits of `wanted` added, as
  // the new reply's second buffer in `patched`. False when `iov` is not shaped like INIT's reply.
  bool AddFlags(const iovec* iov, int count, InitFlags wanted, std::vector<char>& patched);

 private:
  std::atomic<uint64_t> init_unique_{0};
  std::atomic<uint32_t> kernel_flags_{0};
  std::atomic<uint32_t> kernel_flags2_{0};
  std::atomic<uint32_t> granted_flags2_{0};
};

}  // namespace faultfs::fs
