#include "faultfs/core/scratch_dir.h"

#include <cerrno>
#include <cstdlib>

namespace faultfs {

Result<std::string> MakeScratchDir(std::string_view prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" +
                    std::string(prefix) + "-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr)
    return Status::FromErrno(errno, "creating a scratch directory like " + dir);
  return dir;
}

}  // namespace faultfs
