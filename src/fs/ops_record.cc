// Building the records a recording mount appends (see recorder.h): who did what to which object.
// Every record names the object by its backing inode as well as by path, so that crash-state tools
// can follow an object across renames and hard links.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "passthrough.h"

namespace faultfs::fs {

namespace {

// Whether `kind` makes a new object, whose owner the record must carry: the applier creates
// objects as root, and a crash state must have them owned as the workload's did (a server that
// runs as its own user cannot use files root owns).
bool MakesObject(record::OpKind kind) {
  return kind == record::OpKind::kCreate || kind == record::OpKind::kMknod ||
         kind == record::OpKind::kMkdir || kind == record::OpKind::kSymlink;
}

// The backing inode of `st`, and for an op that made the object, its owner.
void TakeObject(record::Op& op, const struct stat& st) {
  op.ino = static_cast<uint64_t>(st.st_ino);
  if (!MakesObject(op.kind)) return;
  op.uid = st.st_uid;
  op.gid = st.st_gid;
}

}  // namespace

record::Op Passthrough::NewRecord(record::OpKind kind, fuse_req_t req, const Inode* inode,
                                  std::string path) {
  record::Op op;
  op.kind = kind;
  op.pid = static_cast<uint32_t>(fuse_req_ctx(req)->pid);
  op.ino = inode != nullptr ? static_cast<uint64_t>(inode->key().ino) : 0;
  op.path = std::move(path);
  return op;
}

record::Op Passthrough::NewRecordAt(record::OpKind kind, fuse_req_t req, const Inode& parent,
                                    int parent_fd, const char* name) const {
  record::Op op = NewRecord(kind, req, nullptr, inodes_.PathOf(nullptr, &parent, name));
  // The entry itself, not a symlink's target; unseen (ino 0), the record names it by path alone.
  struct stat st {};
  if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) TakeObject(op, st);
  return op;
}

void Passthrough::RecordOpenTruncate(fuse_req_t req, int fd, std::string path) {
  struct stat st {};
  // O_TRUNC changes nothing on what is not a regular file (a FIFO, a device).
  if (!recording() || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
  record::Op op = NewRecord(record::OpKind::kTruncate, req, nullptr, std::move(path));
  op.ino = static_cast<uint64_t>(st.st_ino);
  op.offset = 0;
  Record(std::move(op));
}

void Passthrough::RecordWrite(fuse_req_t req, const FileHandle& h, const char* data, size_t n,
                              off_t off) {
  if (recorder_ == nullptr || n == 0) return;
  record::Op op = NewRecord(record::OpKind::kWrite, req, h.inode, inodes_.PathOf(*h.inode));
  op.offset = static_cast<uint64_t>(off);
  op.length = n;
  // O_SYNC includes the O_DSYNC bit: test the stronger flag (all of its bits) first.
  if ((h.flags & O_SYNC) == O_SYNC) {
    op.flags = record::kSyncAll;
  } else if ((h.flags & O_DSYNC) != 0) {
    op.flags = record::kSyncData;
  }
  // The data goes to the log from the request's buffer: the caller holds the record order and
  // has not replied yet, so the buffer is still this write's.
  recorder_->AppendWrite(std::move(op), std::string_view(data, n));
}

ssize_t Passthrough::WriteAndRecord(fuse_req_t req, const FileHandle& h, const char* data, size_t n,
                                    off_t off, bool cached) {
  Mutation m = BeginMutation();
  if (m.fenced()) {
    errno = EIO;
    return -1;
  }
  ssize_t written = pwrite(h.fd.get(), data, n, off);
  if (written < 0 && errno == EINVAL && cached && (h.flags & O_DIRECT) != 0) {
    // The kernel writes back pages of a shared mapping through any open handle of the file, and
    // a handle opened with O_DIRECT cannot take their unaligned sizes (the last page of a file
    // whose size is not a multiple of the block size). The backing filesystem would write those
    // pages from its own page cache: so do we, through a descriptor without O_DIRECT.
    UniqueFd buffered(open(ProcFdPath(h.fd.get()).c_str(), O_WRONLY | O_CLOEXEC));
    written = buffered ? pwrite(buffered.get(), data, n, off) : -1;
    if (!buffered) errno = EINVAL;
  }
  if (written <= 0 || !recording()) return written;
  off_t at = off;
  if ((h.flags & O_APPEND) != 0) {
    // pwrite() on an O_APPEND file writes at the end, whatever `off` says. Every change through
    // the mount holds the record order, so the file's end is still where this write ended.
    struct stat st {};
    if (fstat(h.fd.get(), &st) == 0) at = st.st_size - written;
  }
  RecordWrite(req, h, data, static_cast<size_t>(written), at);
  return written;
}

void Passthrough::RecordCopy(fuse_req_t req, const FileHandle& dst, size_t n, off_t off) {
  if (!recording() || n == 0) return;
  // The destination may be open write-only: read it back through a descriptor of our own.
  UniqueFd in(open(ProcFdPath(dst.fd.get()).c_str(), O_RDONLY | O_CLOEXEC));
  std::string data(n, '\0');
  const ssize_t got = in ? pread(in.get(), data.data(), n, off) : -1;
  if (got != static_cast<ssize_t>(n)) {
    const int err = got < 0 ? errno : EIO;
    recorder_->Fail(
        Status::FromErrno(err, "reading back a copy_file_range destination to record it"));
    return;
  }
  RecordWrite(req, dst, data.data(), n, off);
}

}  // namespace faultfs::fs
