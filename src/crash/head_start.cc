// What spares a StateBuilder most of its first state's cost (head_start.h).
#include "faultfs/crash/head_start.h"

#include <fcntl.h>

#include <vector>

#include "faultfs/core/tree_hash.h"
#include "faultfs/core/unique_fd.h"
#include "faultfs/crash/history.h"
#include "state_builder_parts.h"

namespace faultfs::crash {

Result<SnapshotDigests> SnapshotDigests::Of(const std::string& snapshot) {
  UniqueFd root(open(snapshot.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Status::FromErrno(errno, "opening '" + snapshot + "'");
  SnapshotDigests digests;
  FAULTFS_RETURN_IF_ERROR(WalkTree(root.get(),
                                   [&](const std::string&, const std::string&,
                                       const std::string& path, const struct stat& st) -> Status {
                                     if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
                                       return Status::Ok();  // never lent
                                     auto digest = HashFileEntry(snapshot + "/" + path);
                                     if (!digest.ok()) return digest.status();
                                     digests.by_path_[path] = Known{st, std::move(*digest)};
                                     return Status::Ok();
                                   }));
  return digests;
}

const std::string* SnapshotDigests::Find(const std::string& path, const struct stat& st) const {
  const auto it = by_path_.find(path);
  return it != by_path_.end() && SameFile(it->second.st, st) ? &it->second.digest : nullptr;
}

std::unordered_map<std::string, uint64_t> UntouchedFiles(const History& history) {
  std::vector<bool> touched(history.objects(), false);
  for (size_t i = 0; i < history.size(); ++i) {
    const OpObjects& op = history.at(i);
    touched[op.obj] = true;
    touched[op.replaced] = true;
  }
  // Paths from names: the initial names come parents first.
  std::unordered_map<ObjectId, std::string> dirs = {{kRootObject, ""}};
  std::unordered_map<std::string, uint64_t> untouched;
  for (const auto& [id, entry] : history.initial_names()) {
    const auto parent = dirs.find(entry.dir);
    if (parent == dirs.end()) continue;
    const std::string path = JoinPath(parent->second, entry.name);
    const ObjectInfo& object = history.object(id);
    if (object.type == ObjectType::kDir) {
      dirs.emplace(id, path);
    } else if (!touched[id] && object.ino != 0) {  // (files are listed untyped: kUnknown)
      untouched.emplace(path, object.ino);
    }
  }
  return untouched;
}

}  // namespace faultfs::crash
