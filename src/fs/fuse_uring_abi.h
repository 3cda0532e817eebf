// The kernel's FUSE-over-io_uring ABI (protocol 7.42, Linux 6.14+), and passthrough's (7.40,
// Linux 6.9+), which Debian 12's headers predate. Layouts as in include/uapi/linux/fuse.h;
// checked by the static_asserts below.
#pragma once

#include <linux/fuse.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace faultfs::fs::uring_abi {

inline constexpr uint64_t kInitExt = 1ULL << 30;         // FUSE_INIT_EXT: flags2 is valid
inline constexpr uint32_t kOverIoUringFlags2 = 1U << 9;  // FUSE_OVER_IO_URING (bit 41) in flags2
// FUSE_DIRECT_IO_ALLOW_MMAP (bit 36, 6.6+): shared mmap of files opened with direct_io.
inline constexpr uint32_t kDirectIoAllowMmapFlags2 = 1U << 4;
// FUSE_PASSTHROUGH (bit 37, 6.9+): opens may hand the kernel a backing file for reads and writes.
inline constexpr uint32_t kPassthroughFlags2 = 1U << 5;
inline constexpr uint32_t kOpenPassthrough = 1U << 7;  // FOPEN_PASSTHROUGH in fuse_open_out
// FOPEN_NOFLUSH and FOPEN_PARALLEL_DIRECT_WRITES: with FOPEN_DIRECT_IO, all that may go with it.
inline constexpr uint32_t kOpenFlagsKeptInPassthrough = FOPEN_NOFLUSH | (1U << 6);
// struct fuse_open_out as 7.40 has it: the padding became the backing file's id.
struct OpenOut {
  uint64_t fh;
  uint32_t open_flags;
  int32_t backing_id;
};
static_assert(sizeof(OpenOut) == sizeof(fuse_open_out));
// FUSE_DEV_IOC_BACKING_OPEN / _CLOSE, on the /dev/fuse descriptor (root only).
struct BackingMap {  // struct fuse_backing_map
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
inline constexpr unsigned long kDevIocBackingOpen = _IOW(229, 1, BackingMap);
inline constexpr unsigned long kDevIocBackingClose = _IOW(229, 2, uint32_t);

inline constexpr size_t kInOutHeaderSize = 128;  // FUSE_URING_IN_OUT_HEADER_SZ
inline constexpr size_t kOpInOutSize = 128;      // FUSE_URING_OP_IN_OUT_SZ

struct EntInOut {  // struct fuse_uring_ent_in_out
  uint64_t flags;
  uint64_t commit_id;   // kernel -> daemon: the request's unique
  uint32_t payload_sz;  // bytes of arguments in the payload buffer (both directions)
  uint32_t padding;
  uint64_t reserved;
};

struct ReqHeader {                // struct fuse_uring_req_header: iov[0] of REGISTER
  char in_out[kInOutHeaderSize];  // fuse_in_header on delivery, fuse_out_header on commit
  char op_in[kOpInOutSize];       // the request's first argument (its op header), if not empty
  EntInOut ring_ent_in_out;
};

enum Cmd : uint32_t {  // enum fuse_uring_cmd, in sqe->cmd_op
  kRegister = 1,
  kCommitAndFetch = 2,
};

struct CmdReq {  // struct fuse_uring_cmd_req, in the command area of a 128-byte SQE
  uint64_t flags;
  uint64_t commit_id;
  uint16_t qid;
  uint8_t padding[6];
};

// fuse_init_in / fuse_init_out offsets of the fields the transport reads or patches.
inline constexpr size_t kInitInFlagsOffset = 12;
inline constexpr size_t kInitInFlags2Offset = 16;
inline constexpr size_t kInitOutFlagsOffset = 12;
inline constexpr size_t kInitOutMaxWriteOffset = 20;
inline constexpr size_t kInitOutMaxPagesOffset = 28;
inline constexpr size_t kInitOutFlags2Offset = 32;
inline constexpr size_t kInitOutMaxStackDepthOffset = 36;  // 7.40: how deep backing files stack

// Opcodes newer than Debian 12's <linux/fuse.h>.
inline constexpr uint32_t kOpStatx = 52;  // FUSE_STATX (7.39)
inline constexpr int kStatxInSize = 24;   // struct fuse_statx_in

// Size of a request's first argument, its op header, which the ring delivers in op_in (the rest
// follows in the payload). The ring leaves fuse_in_header.len at 0, so the opcode decides. Sizes
// are those of protocol minor >= 12, which is what libfuse 3.14 negotiates. -1: never on the ring.
constexpr int OpHeaderSize(uint32_t opcode) {
  switch (opcode) {
    case FUSE_LOOKUP:
    case FUSE_UNLINK:
    case FUSE_RMDIR:
    case FUSE_SYMLINK:
    case FUSE_REMOVEXATTR:
    case FUSE_READLINK:
    case FUSE_STATFS:
    case FUSE_DESTROY:
    case FUSE_NOTIFY_REPLY:
      return 0;
    case FUSE_GETATTR:
      return sizeof(fuse_getattr_in);
    case FUSE_SETATTR:
      return sizeof(fuse_setattr_in);
    case FUSE_MKNOD:
      return sizeof(fuse_mknod_in);
    case FUSE_MKDIR:
      return sizeof(fuse_mkdir_in);
    case FUSE_RENAME:
      return sizeof(fuse_rename_in);
    case FUSE_RENAME2:
      return sizeof(fuse_rename2_in);
    case FUSE_LINK:
      return sizeof(fuse_link_in);
    case FUSE_OPEN:
    case FUSE_OPENDIR:
      return sizeof(fuse_open_in);
    case FUSE_READ:
    case FUSE_READDIR:
    case FUSE_READDIRPLUS:
      return sizeof(fuse_read_in);
    case FUSE_WRITE:
      return sizeof(fuse_write_in);
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
      return sizeof(fuse_release_in);
    case FUSE_FSYNC:
    case FUSE_FSYNCDIR:
      return sizeof(fuse_fsync_in);
    // libfuse 3.14 cannot negotiate FUSE_SETXATTR_EXT, so the kernel sends the compat header.
    case FUSE_SETXATTR:
      return FUSE_COMPAT_SETXATTR_IN_SIZE;
    case FUSE_GETXATTR:
    case FUSE_LISTXATTR:
      return sizeof(fuse_getxattr_in);
    case FUSE_FLUSH:
      return sizeof(fuse_flush_in);
    case FUSE_GETLK:
    case FUSE_SETLK:
    case FUSE_SETLKW:
      return sizeof(fuse_lk_in);
    case FUSE_ACCESS:
      return sizeof(fuse_access_in);
    case FUSE_CREATE:
    case FUSE_TMPFILE:
      return sizeof(fuse_create_in);
    case FUSE_BMAP:
      return sizeof(fuse_bmap_in);
    case FUSE_IOCTL:
      return sizeof(fuse_ioctl_in);
    case FUSE_POLL:
      return sizeof(fuse_poll_in);
    case FUSE_FALLOCATE:
      return sizeof(fuse_fallocate_in);
    case FUSE_LSEEK:
      return sizeof(fuse_lseek_in);
    case FUSE_COPY_FILE_RANGE:
      return sizeof(fuse_copy_file_range_in);
    case FUSE_SYNCFS:
      return sizeof(fuse_syncfs_in);
    case kOpStatx:
      return kStatxInSize;
    default:
      return -1;
  }
}

static_assert(sizeof(EntInOut) == 32);
static_assert(sizeof(ReqHeader) == 288 && offsetof(ReqHeader, op_in) == 128 &&
              offsetof(ReqHeader, ring_ent_in_out) == 256);
static_assert(sizeof(CmdReq) == 24 && offsetof(CmdReq, qid) == 16);
static_assert(sizeof(fuse_in_header) == 40 && sizeof(fuse_out_header) == 16);

}  // namespace faultfs::fs::uring_abi
