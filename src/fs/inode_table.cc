#include "inode_table.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "faultfs/core/check.h"
#include "faultfs/core/mutex.h"

namespace faultfs::fs {

namespace {

// Eviction brings the cache down to this fraction of its limit, so one scan pays for many opens.
constexpr size_t kEvictTargetPercent = 75;

bool SaveHandle(int fd, std::vector<unsigned char>& out) {
  std::vector<unsigned char> buf(sizeof(struct file_handle) + MAX_HANDLE_SZ);
  auto* fh = reinterpret_cast<struct file_handle*>(buf.data());
  fh->handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  if (name_to_handle_at(fd, "", fh, &mount_id, AT_EMPTY_PATH) != 0) return false;
  buf.resize(sizeof(struct file_handle) + fh->handle_bytes);
  out = std::move(buf);
  return true;
}

}  // namespace

InodeFd::~InodeFd() {
  if (inode_ != nullptr) table_->ReleaseLease(*inode_, borrowed_);
}

void InodeTable::ReleaseLease(Inode& inode, bool borrowed) {
  bool last_of_orphan = false;
  std::vector<int> to_close;  // closed outside the lock
  {
    MutexLock lock(inode.mu_);
    FAULTFS_CHECK(inode.users_ > 0) << "inode descriptor lease released twice";
    --inode.users_;
    inode.referenced_ = true;
    if (borrowed && --inode.borrowers_ == 0) to_close.swap(inode.closing_);
    // An unlinked file's own descriptor waited for the ops using it (see Unlinked).
    if (inode.unlinked_ && inode.users_ == 0 && inode.fd_ >= 0) {
      to_close.push_back(std::exchange(inode.fd_, -1));
      cached_fds_.fetch_sub(1, std::memory_order_relaxed);
    }
    last_of_orphan = inode.orphaned_ && inode.users_ == 0;
  }
  for (int fd : to_close) ::close(fd);
  if (last_of_orphan) Free(std::unique_ptr<Inode>(&inode));
}

void InodeTable::Free(std::unique_ptr<Inode> inode) {
  MutexLock lock(inode->mu_);  // no other thread can reach it now; the lock keeps the rule simple
  if (inode->fd_ >= 0) {
    ::close(inode->fd_);
    cached_fds_.fetch_sub(1, std::memory_order_relaxed);
  }
  for (int fd : inode->closing_) ::close(fd);
}

InodeTable::InodeTable(UniqueFd root, size_t max_cached_fds, size_t fd_limit)
    : root_fd_(std::move(root)),
      // By default half the limit: open files take what they need of the rest, and more.
      max_cached_fds_(max_cached_fds != 0 ? max_cached_fds : fd_limit / 2),
      budget_(fd_limit) {
  FAULTFS_CHECK(root_fd_.valid()) << "inode table needs the backing root";
  struct stat st {};
  FAULTFS_CHECK(fstat(root_fd_.get(), &st) == 0) << "fstat of the backing root failed";
  root_ = std::make_unique<Inode>(InodeKey{st.st_ino, st.st_dev}, st.st_mode & S_IFMT);
  root_->fd_ = root_fd_.get();  // owned by root_fd_, never evicted
  root_->pinned_ = true;
}

InodeTable::~InodeTable() {
  for (auto& shard : shards_) {
    MutexLock lock(shard.mu);
    for (auto& [key, inode] : shard.map) Free(std::move(inode));
    for (auto& inode : shard.retired) Free(std::move(inode));
  }
}

Inode& InodeTable::Ref(const struct stat& st, UniqueFd fd, uint64_t n) {
  const InodeKey key{st.st_ino, st.st_dev};
  if (key == root_->key()) return *root_;  // the root is never forgotten; no count needed
  Shard& shard = ShardFor(key);
  Inode* inode = nullptr;
  {
    MutexLock lock(shard.mu);
    auto [it, inserted] = shard.map.try_emplace(key);
    // A stale inode (from before a live crash) is never the file found now, even by number.
    if (!inserted &&
        (IsStale(*it->second) || (fd.valid() && IsAnotherFile(*it->second, fd.get())))) {
      it->second->retired_ = true;  // the kernel still refers to it; its forget frees it
      shard.retired.push_back(std::move(it->second));
      inserted = true;
    }
    if (inserted) {
      it->second =
          std::make_unique<Inode>(key, st.st_mode & S_IFMT, epoch_.load(std::memory_order_acquire));
    }
    inode = it->second.get();
    inode->nlookup_ += n;
    // Adopt the caller's descriptor while the shard lock keeps a concurrent forget away.
    AdoptFd(*inode, std::move(fd));
  }
  MaybeEvict();
  return *inode;
}

void InodeTable::AdoptFd(Inode& inode, UniqueFd fd) {
  if (!fd.valid()) return;
  MutexLock lock(inode.mu_);
  if (inode.fd_ >= 0) return;  // `fd` closes on return
  inode.fd_ = fd.release();
  inode.referenced_ = true;
  if (inode.key().dev != root_->key().dev) inode.pinned_ = true;  // handles need the same fs
  cached_fds_.fetch_add(1, std::memory_order_relaxed);
}

bool InodeTable::IsAnotherFile(Inode& inode, int fd) {
  MutexLock lock(inode.mu_);
  if (inode.unlinked_) return true;  // its file has no name left: a name found now is another's
  if (inode.fd_ >= 0 || inode.handle_.empty()) return false;  // a live descriptor pins the file
  std::vector<unsigned char> current;
  return SaveHandle(fd, current) && current != inode.handle_;
}

void InodeTable::Unref(Inode& inode, uint64_t n) {
  if (&inode == root_.get()) return;
  Shard& shard = ShardFor(inode.key());
  std::unique_ptr<Inode> doomed;
  {
    MutexLock lock(shard.mu);
    FAULTFS_CHECK(inode.nlookup_ >= n)
        << "forget of " << n << " exceeds lookup count " << inode.nlookup_;
    inode.nlookup_ -= n;
    if (inode.nlookup_ > 0) return;
    if (inode.retired_) {
      auto it = std::find_if(shard.retired.begin(), shard.retired.end(),
                             [&](const auto& r) { return r.get() == &inode; });
      FAULTFS_CHECK(it != shard.retired.end()) << "retired inode not on the retired list";
      doomed = std::move(*it);
      shard.retired.erase(it);
    } else {
      auto it = shard.map.find(inode.key());
      FAULTFS_CHECK(it != shard.map.end() && it->second.get() == &inode)
          << "forgotten inode not in table";
      doomed = std::move(it->second);
      shard.map.erase(it);
    }
  }
  {
    MutexLock lock(doomed->mu_);
    if (doomed->users_ > 0) {  // an op that already replied still holds a lease
      doomed->orphaned_ = true;
      (void)doomed.release();  // freed by ReleaseLease()
      return;
    }
  }
  Free(std::move(doomed));
}

Result<InodeFd> InodeTable::Fd(Inode& inode) {
  bool reopened = false;
  int fd = -1;
  {
    MutexLock lock(inode.mu_);
    if (inode.fd_ < 0 && inode.open_ != nullptr) {  // an open file needs no descriptor of its own
      ++inode.users_;
      ++inode.borrowers_;
      inode.referenced_ = true;
      return InodeFd(this, &inode, inode.open_->fd, /*borrowed=*/true);
    }
    if (inode.fd_ < 0 && inode.unlinked_) {
      return Status::FromErrno(ESTALE, "a removed file that is no longer open");
    }
    if (inode.fd_ < 0) {
      FAULTFS_CHECK(!inode.handle_.empty()) << "evicted inode has no saved handle";
      auto* fh = reinterpret_cast<struct file_handle*>(inode.handle_.data());
      int reopened_fd = open_by_handle_at(root_fd_.get(), fh, O_PATH);
      if (reopened_fd < 0) return Status::FromErrno(errno, "reopening an evicted inode by handle");
      inode.fd_ = reopened_fd;
      reopened = true;
      cached_fds_.fetch_add(1, std::memory_order_relaxed);
    }
    ++inode.users_;
    inode.referenced_ = true;
    fd = inode.fd_;  // cannot change while users_ > 0
  }
  InodeFd lease(this, &inode, fd, /*borrowed=*/false);
  if (reopened) MaybeEvict();
  return lease;
}

InodeTable::OpenSlot InodeTable::TakeOpenSlot() {
  if (!budget_.TakeOpen()) return OpenSlot();
  OpenSlot slot(this);
  if (cached_fds() > CacheLimit()) Evict(/*wait=*/true);  // the open file needs the room now
  return slot;
}

void InodeTable::AttachOpen(Inode& inode, OpenLink& link) {
  MutexLock lock(inode.mu_);
  link.prev = nullptr;
  link.next = inode.open_;
  if (inode.open_ != nullptr) inode.open_->prev = &link;
  inode.open_ = &link;
}

void InodeTable::DetachOpen(Inode& inode, OpenLink& link, UniqueFd fd) {
  MutexLock lock(inode.mu_);
  (link.prev != nullptr ? link.prev->next : inode.open_) = link.next;
  if (link.next != nullptr) link.next->prev = link.prev;
  link.prev = link.next = nullptr;
  if (inode.borrowers_ > 0) inode.closing_.push_back(fd.release());  // an op may be using it
}  // else `fd` closes here, after the lock

void InodeTable::Unlinked(const InodeKey& key) {
  if (key == root_->key()) return;
  Shard& shard = ShardFor(key);
  int dropped = -1;
  {
    MutexLock shard_lock(shard.mu);
    const auto it = shard.map.find(key);
    if (it == shard.map.end() || it->second->is_dir()) return;  // a directory's fd frees nothing
    Inode& inode = *it->second;
    MutexLock lock(inode.mu_);
    const int probe = inode.fd_ >= 0 ? inode.fd_ : (inode.open_ ? inode.open_->fd : -1);
    struct stat st {};
    if (probe < 0 || fstat(probe, &st) != 0 || st.st_nlink > 0) return;  // other names remain
    inode.unlinked_ = true;
    if (inode.fd_ >= 0 && inode.users_ == 0) {  // else the last lease closes it
      dropped = std::exchange(inode.fd_, -1);
      cached_fds_.fetch_sub(1, std::memory_order_relaxed);
    }
  }
  if (dropped >= 0) ::close(dropped);
}

void InodeTable::SetName(Inode& inode, const Inode& parent, std::string_view name) {
  if (&inode == root_.get()) return;
  MutexLock lock(path_mu_);
  inode.parent_ = parent.key();
  if (inode.name_ != name) inode.name_.assign(name);
}

void InodeTable::Renamed(int parent_fd, const Inode& parent, const char* name) {
  struct stat st {};
  if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  const InodeKey key{st.st_ino, st.st_dev};
  Shard& shard = ShardFor(key);
  MutexLock shard_lock(shard.mu);
  const auto it = shard.map.find(key);
  if (it != shard.map.end()) SetName(*it->second, parent, name);
}

std::string InodeTable::PathOf(const Inode& inode) const {
  // Collect names leaf to root, then join root to leaf.
  std::vector<std::string> names;
  InodeKey key = inode.key();
  std::string name;
  {
    MutexLock lock(path_mu_);
    key = inode.parent_;
    name = inode.name_;
  }
  if (&inode == root_.get()) return "";
  names.push_back(name);
  for (int depth = 0; depth < 4096 && !(key == root_->key()); ++depth) {
    const Inode* parent = nullptr;
    Shard& shard = const_cast<InodeTable*>(this)->ShardFor(key);
    MutexLock shard_lock(shard.mu);
    const auto it = shard.map.find(key);
    if (it == shard.map.end()) {
      names.push_back("?");  // a parent the kernel no longer holds: the path is not known
      break;
    }
    parent = it->second.get();
    MutexLock lock(path_mu_);
    names.push_back(parent->name_);
    key = parent->parent_;
  }
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    if (!path.empty()) path += '/';
    path += *it;
  }
  return path;
}

std::vector<InodeTable::KnownName> InodeTable::KnownNames() const {
  std::vector<KnownName> out;
  std::vector<InodeKey> parents;  // resolved after: one shard lock at a time
  for (const auto& shard : shards_) {
    MutexLock shard_lock(shard.mu);
    auto add = [&](const Inode& inode) {
      MutexLock lock(path_mu_);
      out.push_back(KnownName{&inode, nullptr, inode.name_});
      parents.push_back(inode.parent_);
    };
    for (const auto& [key, inode] : shard.map) add(*inode);
    for (const auto& inode : shard.retired) add(*inode);
  }
  for (size_t i = 0; i < out.size(); ++i) {
    if (parents[i] == root_->key()) {
      out[i].parent = root_.get();
      continue;
    }
    const Shard& shard = const_cast<InodeTable*>(this)->ShardFor(parents[i]);
    MutexLock shard_lock(shard.mu);
    const auto it = shard.map.find(parents[i]);
    if (it != shard.map.end()) out[i].parent = it->second.get();
  }
  return out;
}

size_t InodeTable::size() const {
  size_t total = 1;  // the root
  for (const auto& shard : shards_) {
    MutexLock lock(shard.mu);
    total += shard.map.size();
  }
  return total;
}

void InodeTable::Evict(bool wait) {
  const size_t limit = CacheLimit();
  if (cached_fds() <= limit) return;
  if (wait) {
    evict_mu_.Lock();
  } else if (!evict_mu_.TryLock()) {
    return;  // another thread is already evicting
  }
  const size_t target = limit * kEvictTargetPercent / 100;
  size_t closed = 0;
  // The first pass may only clear second-chance bits; the second then finds victims.
  for (int pass = 0; pass < 2 && cached_fds() > target; ++pass) closed += EvictPass(target);
  evict_mu_.Unlock();
  SPDLOG_DEBUG("fd cache: closed {} idle descriptors, {} open, {} inodes", closed, cached_fds(),
               size());
}

size_t InodeTable::EvictPass(size_t target) {
  size_t closed = 0;
  for (auto& shard : shards_) {
    MutexLock shard_lock(shard.mu);
    for (auto& [key, inode] : shard.map) {
      if (cached_fds() <= target) return closed;
      if (!inode->mu_.TryLock()) continue;  // in use: not idle
      if (TryEvictLocked(*inode)) ++closed;
      inode->mu_.Unlock();
    }
  }
  return closed;
}

bool InodeTable::TryEvictLocked(Inode& inode) {
  if (inode.pinned_ || inode.unlinked_ || inode.fd_ < 0 || inode.users_ > 0) return false;
  if (inode.referenced_) {
    inode.referenced_ = false;
    return false;
  }
  struct stat st {};
  // An unlinked inode cannot be reopened by handle: keep its descriptor until it is forgotten.
  if (fstatat(inode.fd_, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 || st.st_nlink == 0) {
    return false;
  }
  if (inode.handle_.empty() && !SaveHandle(inode.fd_, inode.handle_)) {
    inode.pinned_ = true;  // this filesystem cannot give a handle: the descriptor must stay
    return false;
  }
  ::close(inode.fd_);
  inode.fd_ = -1;
  cached_fds_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

std::string InodeTable::PathOf(const Inode* inode, const Inode* parent, const char* name) const {
  if (inode != nullptr) return PathOf(*inode);
  if (parent == nullptr || name == nullptr) return "";
  const std::string dir = PathOf(*parent);
  return dir.empty() ? std::string(name) : dir + "/" + name;
}

}  // namespace faultfs::fs
