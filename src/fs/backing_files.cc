#include "backing_files.h"

#include <spdlog/spdlog.h>
#include <sys/ioctl.h>

#include <cerrno>

#include "faultfs/core/errno_names.h"
#include "fuse_uring_abi.h"

namespace faultfs::fs {

namespace abi = uring_abi;

BackingFiles::Hold::~Hold() {
  if (files_ != nullptr) files_->Release(inode_, backing_id_ > 0);
}

BackingFiles::Hold BackingFiles::Open(const Inode& inode, int fd, bool wanted) {
  MutexLock lock(mu_);
  Modes& modes = modes_[&inode];
  const bool passthrough =
      modes.passthrough > 0 || (wanted && on() && modes.other == 0 && Register(fd, modes));
  if (passthrough) {
    ++modes.passthrough;
    return Hold(this, &inode, modes.backing_id);
  }
  ++modes.other;
  return Hold(this, &inode, 0);
}

void BackingFiles::Release(const Inode* inode, bool passthrough) {
  MutexLock lock(mu_);
  auto it = modes_.find(inode);
  if (it == modes_.end()) return;
  Modes& modes = it->second;
  if (passthrough && --modes.passthrough == 0) {
    // The kernel left passthrough before it sent the release: no open can still need the id.
    Unregister(std::exchange(modes.backing_id, 0));
  } else if (!passthrough) {
    --modes.other;
  }
  if (modes.passthrough == 0 && modes.other == 0) modes_.erase(it);
}

void BackingFiles::ForEachHeld(const std::function<void(const Inode&, size_t)>& visit) const {
  MutexLock lock(mu_);
  for (const auto& [inode, modes] : modes_) {
    if (modes.passthrough > 0) visit(*inode, modes.passthrough);
  }
}

bool BackingFiles::Register(int fd, Modes& modes) {
  abi::BackingMap map{.fd = fd, .flags = 0, .padding = 0};
  const int id = ioctl(dev_fd_.load(std::memory_order_acquire), abi::kDevIocBackingOpen, &map);
  if (id > 0) {
    modes.backing_id = id;
    return true;
  }
  const int err = id < 0 ? errno : EPROTO;
  if (!failure_logged_.exchange(true)) {
    // ELOOP: the backing directory lies on a stacked filesystem deeper than the mount allows.
    spdlog::warn(
        "passthrough: the kernel refused a backing file ({}); such files are served by the "
        "daemon (logged once)",
        ErrnoText(err));
  }
  return false;
}

void BackingFiles::Unregister(int32_t backing_id) const {
  const int dev_fd = dev_fd_.load(std::memory_order_acquire);
  if (backing_id <= 0 || dev_fd < 0) return;
  uint32_t id = static_cast<uint32_t>(backing_id);
  if (ioctl(dev_fd, abi::kDevIocBackingClose, &id) != 0 && errno != ENODEV) {
    spdlog::warn("passthrough: closing backing file {}: {}", backing_id, ErrnoText(errno));
  }
}

}  // namespace faultfs::fs
