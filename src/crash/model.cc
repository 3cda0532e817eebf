// Model names: printing, parsing, help (faultfs/crash/model.h).
#include "faultfs/crash/model.h"

#include <charconv>

namespace faultfs::crash {
namespace {

constexpr uint32_t kMaxReorder = 8;

// "reorder-3" -> 3; `fallback` for the bare "reorder"; 0 for anything else.
uint32_t ParseSuffix(std::string_view name, std::string_view stem, uint32_t fallback) {
  if (name == stem) return fallback;
  if (!name.starts_with(stem) || name.size() <= stem.size() + 1 || name[stem.size()] != '-')
    return 0;
  const std::string_view digits = name.substr(stem.size() + 1);
  uint32_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return ec == std::errc() && end == digits.data() + digits.size() ? value : 0;
}

Status Unknown(std::string_view name, std::string_view why) {
  return Status::Invalid("unknown persistence model '" + std::string(name) + "'" +
                         std::string(why) + "; valid models:\n" + ModelHelp());
}

}  // namespace

std::string Model::Name() const {
  switch (kind) {
    case ModelKind::kPrefix:
      return "prefix";
    case ModelKind::kExt4:
      return "ext4";
    case ModelKind::kPp:
      return "pp";
    case ModelKind::kPpStrict:
      return "pp-strict";
    case ModelKind::kWeak:
      return half_renames ? "weak-rename" : "weak";
    case ModelKind::kReorder:
      return "reorder-" + std::to_string(k);
    case ModelKind::kTorn:
      return "torn-" + std::to_string(sector);
  }
  return "unknown";
}

Result<Model> ParseModel(std::string_view name) {
  if (name == "prefix") return Model{.kind = ModelKind::kPrefix};
  if (name == "ext4") return Model{.kind = ModelKind::kExt4};
  if (name == "pp") return Model{.kind = ModelKind::kPp};
  if (name == "pp-strict") return Model{.kind = ModelKind::kPpStrict};
  if (name == "weak") return Model{.kind = ModelKind::kWeak};
  if (name == "weak-rename") return Model{.kind = ModelKind::kWeak, .half_renames = true};
  if (name.starts_with("reorder")) {
    const uint32_t k = ParseSuffix(name, "reorder", 2);
    if (k < 1 || k > kMaxReorder) return Unknown(name, " (k must be 1 to 8)");
    return Model{.kind = ModelKind::kReorder, .k = k};
  }
  if (name.starts_with("torn")) {
    const uint32_t sector = ParseSuffix(name, "torn", 4096);
    if (sector != 512 && sector != 4096) return Unknown(name, " (the sector must be 512 or 4096)");
    return Model{.kind = ModelKind::kTorn, .sector = sector};
  }
  return Unknown(name, "");
}

std::string ModelHelp() {
  return "  prefix      every op before the crash point persisted, in order\n"
         "  ext4        ext4 (data=ordered): the metadata ops since the last journal commit may\n"
         "              be lost, latest first; unsynced data is lost unless a rename that\n"
         "              replaced a file committed it\n"
         "  pp          only persistence points are certain: unsynced data is lost, each unsynced\n"
         "              directory entry may be lost; a file's fsync also keeps its entry (ext4, "
         "xfs)\n"
         "  pp-strict   as pp, but only an fsync of the directory keeps an entry (POSIX)\n"
         "  weak        since the last persistence point, one op is missing, one write is torn,\n"
         "              or one append shows zeros or garbage (ALICE)\n"
         "  weak-rename as weak, and one rename may be half done: its target gone, its source\n"
         "              not yet moved (filesystems without atomic rename)\n"
         "  reorder-K   since the last persistence point, any K or fewer ops are missing while\n"
         "              later ones persisted, and 8 larger sets drawn with the seed\n"
         "              (K = 1..8; 'reorder' is reorder-2)\n"
         "  torn-512    the last unsynced write reached the disk in part, by 512-byte sectors\n"
         "  torn-4096   the same by 4 KiB pages ('torn' is torn-4096)\n";
}

}  // namespace faultfs::crash
