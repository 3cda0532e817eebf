// Directory streams: opendir, readdir and readdirplus (getdents64 with the backing d_off as the
// resume cookie), releasedir, fsyncdir.
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "passthrough.h"

namespace faultfs::fs {

namespace {

// The record getdents64 fills in; the name follows the fixed part, NUL-terminated.
struct LinuxDirent64 {
  ino64_t d_ino;
  off64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  const char* name() const { return reinterpret_cast<const char*>(this) + kNameOffset; }
  static constexpr size_t kNameOffset = 19;  // offsetof(struct linux_dirent64, d_name)
};

// Per-opendir state; its address is fuse_file_info::fh. The kernel serialises readdir calls on one
// open directory, so no lock is needed.
struct DirHandle : OpenHandle {
  using OpenHandle::OpenHandle;  // `inode` is the directory listed (its entries' parent)
  off_t offset = 0;              // cookie of the next entry the stream will return
  std::vector<char> buf = std::vector<char>(size_t{64} * 1024);
  size_t pos = 0;  // next unread byte in buf
  size_t end = 0;  // bytes of buf filled by the last getdents64
};

DirHandle& DirOf(const fuse_file_info* fi) { return *reinterpret_cast<DirHandle*>(fi->fh); }

bool IsDotOrDotDot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

// Next entry of the stream, refilling from the backing directory; nullptr at the end; sets errno
// (and returns nullptr) on failure.
const LinuxDirent64* Peek(DirHandle& d) {
  if (d.pos >= d.end) {
    const long n = syscall(SYS_getdents64, d.fd.get(), d.buf.data(), d.buf.size());
    if (n <= 0) {
      if (n == 0) errno = 0;
      return nullptr;
    }
    d.pos = 0;
    d.end = static_cast<size_t>(n);
  }
  return reinterpret_cast<const LinuxDirent64*>(d.buf.data() + d.pos);
}

void Advance(DirHandle& d, const LinuxDirent64* entry) {
  d.pos += entry->d_reclen;
  d.offset = entry->d_off;
}

}  // namespace

void Passthrough::Opendir(Reply& r, fuse_ino_t ino, fuse_file_info* fi) {
  Fault f;
  if (!Admitted(r, {.op = policy::Op::kOpendir, .inode = &InodeOf(ino)}, f)) return;
  auto ifd = inodes_.Fd(InodeOf(ino));
  if (!ifd.ok()) return (void)r.Err(ifd.status().code());
  InodeTable::OpenSlot slot = inodes_.TakeOpenSlot();  // before the descriptor it stands for
  if (!slot) return (void)r.Err(ENFILE);
  UniqueFd fd(openat(ifd->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return (void)r.Err(errno);
  // NOLINTNEXTLINE(cppcoreguidelines-owning-memory): the registry owns it
  auto* handle = new DirHandle(inodes_, InodeOf(ino), std::move(fd), std::move(slot));
  handles_.Add(handle);
  fi->fh = reinterpret_cast<uint64_t>(handle);
  if (r.Open(fi) != 0) handles_.Delete(handle);  // the kernel never got it
}

void Passthrough::Readdir(Reply& r, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi,
                          bool plus) {
  DirHandle& d = DirOf(fi);
  Fault f;
  if (!Admitted(r,
                {.op = policy::Op::kReaddir,
                 .inode = d.inode,
                 .offset = static_cast<uint64_t>(off),
                 .size = size},
                f))
    return;
  if (off != d.offset) {  // the application seeked (or rewound): restart from that cookie
    if (lseek(d.fd.get(), off, SEEK_SET) < 0) return (void)r.Err(errno);
    d.offset = off;
    d.pos = d.end = 0;
  }
  std::vector<char> out(size);
  size_t used = 0;
  errno = 0;
  while (const LinuxDirent64* entry = Peek(d)) {
    char* slot = out.data() + used;
    const size_t room = size - used;
    size_t need = 0;
    if (!plus) {
      struct stat st {};
      st.st_ino = entry->d_ino;
      st.st_mode = static_cast<mode_t>(entry->d_type) << 12;
      need = fuse_add_direntry(r.req(), slot, room, entry->name(), &st, entry->d_off);
    } else {
      fuse_entry_param e{};
      bool counted = false;
      if (!IsDotOrDotDot(entry->name())) {
        auto looked_up = MakeEntry(*d.inode, d.fd.get(), entry->name());
        counted = looked_up.ok();
        if (counted) e = *looked_up;  // else (raced with removal): a plain entry, ino 0
      }
      if (!counted) {
        e.attr.st_ino = entry->d_ino;
        e.attr.st_mode = static_cast<mode_t>(entry->d_type) << 12;
      }
      need = fuse_add_direntry_plus(r.req(), slot, room, entry->name(), &e, entry->d_off);
      if (need > room && counted) Forget(e.ino, 1);  // not sent: the kernel will not count it
    }
    if (need > room) break;
    used += need;
    Advance(d, entry);
  }
  if (used == 0 && errno != 0) return (void)r.Err(errno);
  r.Buf(out.data(), used);
}

void Passthrough::Releasedir(Reply& r, fuse_ino_t, fuse_file_info* fi) {
  Fault f;
  const FaultGate::Verdict gate =
      gate_.Admit(r, OpTarget{.op = policy::Op::kReleasedir, .inode = DirOf(fi).inode}, f);
  if (gate == FaultGate::Verdict::kDeferred) return;  // reruns later and releases then
  handles_.Delete(&DirOf(fi));                        // released even when an error was injected
  if (gate == FaultGate::Verdict::kRun) r.Ok();
}

void Passthrough::Fsyncdir(Reply& r, fuse_ino_t, int datasync, fuse_file_info* fi) {
  Fault f;
  if (!Admitted(r, {.op = policy::Op::kFsyncdir, .inode = DirOf(fi).inode}, f)) return;
  // A lying fsync made nothing durable: returned before anything is recorded.
  if (f.As<policy::LyingFsyncAction>() != nullptr) return (void)r.Ok();  // success, nothing synced
  const int fd = DirOf(fi).fd.get();
  // Held across the sync: every change recorded before it happened before the sync started.
  Mutation m = BeginMutation();
  if (m.fenced()) return (void)r.Err(EIO);
  const int res = datasync ? fdatasync(fd) : fsync(fd);
  const int err = res == 0 ? 0 : errno;
  if (err == 0 && recording()) {
    Record(NewRecord(record::OpKind::kFsyncdir, r.req(), DirOf(fi).inode,
                     inodes_.PathOf(*DirOf(fi).inode)));
  }
  m.Done();
  r.Err(err);
}

}  // namespace faultfs::fs
