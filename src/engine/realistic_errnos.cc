#include "realistic_errnos.h"

#include <cerrno>

namespace faultfs::engine {

const std::vector<int>& RealisticErrnos(policy::Op op) {
  using policy::Op;
  static const std::vector<int> kIo = {EIO};
  static const std::vector<int> kWrite = {EIO, ENOSPC, EDQUOT, EFBIG};
  static const std::vector<int> kSync = {EIO, ENOSPC, EDQUOT};
  static const std::vector<int> kCreate = {EIO, ENOSPC, EDQUOT, EACCES, EMLINK, ENAMETOOLONG};
  static const std::vector<int> kRemove = {EIO, EBUSY, EACCES, EPERM};
  static const std::vector<int> kRename = {EIO, ENOSPC, EBUSY, EACCES, EXDEV};
  static const std::vector<int> kOpen = {EIO, EACCES, EMFILE, ENFILE, ENOMEM, ETXTBSY};
  static const std::vector<int> kXattrSet = {EIO, ENOSPC, EDQUOT, ERANGE, ENOTSUP};
  static const std::vector<int> kXattrGet = {EIO, ENODATA, ERANGE, ENOTSUP};
  static const std::vector<int> kAlloc = {EIO, ENOSPC, EDQUOT, EFBIG, EOPNOTSUPP};
  static const std::vector<int> kMeta = {EIO, EACCES, ENOMEM};
  switch (op) {
    case Op::kRead:
    case Op::kReadlink:
    case Op::kReaddir:
    case Op::kLseek:
      return kIo;
    case Op::kWrite:
    case Op::kCopyFileRange:
    case Op::kTruncate:
      return kWrite;
    case Op::kFsync:
    case Op::kFdatasync:
    case Op::kFsyncdir:
    case Op::kFlush:
      return kSync;
    case Op::kCreate:
    case Op::kMknod:
    case Op::kMkdir:
    case Op::kSymlink:
    case Op::kLink:
      return kCreate;
    case Op::kUnlink:
    case Op::kRmdir:
      return kRemove;
    case Op::kRename:
      return kRename;
    case Op::kOpen:
    case Op::kOpendir:
      return kOpen;
    case Op::kSetxattr:
    case Op::kRemovexattr:
      return kXattrSet;
    case Op::kGetxattr:
    case Op::kListxattr:
      return kXattrGet;
    case Op::kFallocate:
      return kAlloc;
    default:
      return kMeta;
  }
}

}  // namespace faultfs::engine
