#include "faultfs/core/mountinfo.h"

#include <fstream>
#include <sstream>

namespace faultfs {

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string oct = s.substr(i + 1, 3);
      if (oct.find_first_not_of("01234567") == std::string::npos) {
        out.push_back(static_cast<char>(std::stoi(oct, nullptr, 8)));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
std::optional<MountEntry> ParseLine(const std::string& line) {
  std::istringstream in(line);
  std::string id, parent, devs, root, point, opts, field;
  if (!(in >> id >> parent >> devs >> root >> point >> opts)) return std::nullopt;
  while (in >> field && field != "-") {
  }
  MountEntry m;
  if (!(in >> m.fstype >> m.source)) return std::nullopt;
  const auto colon = devs.find(':');
  if (colon == std::string::npos) return std::nullopt;
  m.dev_major = static_cast<unsigned>(std::stoul(devs.substr(0, colon)));
  m.dev_minor = static_cast<unsigned>(std::stoul(devs.substr(colon + 1)));
  m.mount_point = Unescape(point);
  m.source = Unescape(m.source);
  return m;
}

}  // namespace

std::vector<MountEntry> ReadMounts() {
  std::vector<MountEntry> mounts;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (auto m = ParseLine(line)) mounts.push_back(std::move(*m));
  }
  return mounts;
}

std::optional<MountEntry> FindMount(const std::string& path) {
  std::optional<MountEntry> found;
  for (auto& m : ReadMounts()) {
    if (m.mount_point == path) found = std::move(m);  // later lines are mounted on top
  }
  return found;
}

}  // namespace faultfs
