// What FileHandle and DirHandle share: the descriptor of an open file or directory and the budget
// slot it takes (fd_budget.h), registered with its inode so that ops on the inode borrow it rather
// than needing a descriptor of their own (inode_table.h).
#pragma once

#include <utility>

#include "faultfs/core/unique_fd.h"
#include "handle_registry.h"
#include "inode_table.h"

namespace faultfs::fs {

struct OpenHandle : RegisteredHandle {
  OpenHandle(InodeTable& table, Inode& of, UniqueFd descriptor, InodeTable::OpenSlot slot)
      : table_(table), slot_(std::move(slot)), inode(&of), fd(std::move(descriptor)) {
    link_.fd = fd.get();
    table_.AttachOpen(*inode, link_);
  }
  ~OpenHandle() override { table_.DetachOpen(*inode, link_, std::move(fd)); }

 private:
  InodeTable& table_;
  InodeTable::OpenSlot slot_;  // returned after the descriptor is closed (or handed on)
  OpenLink link_;

 public:
  Inode* const inode;  // the kernel holds it while the handle is open
  UniqueFd fd;
};

}  // namespace faultfs::fs
