#include "faultfs/policy/actions.h"

#include <array>
#include <initializer_list>
#include <variant>

namespace faultfs::policy {

namespace {

OpSet OpsOf(std::initializer_list<Op> ops) {
  OpSet s;
  for (Op op : ops) s.set(static_cast<size_t>(op));
  return s;
}
OpSet AllOps() { return OpSet().set(); }

// One specialization per action type: its ActionInfo and the ops it can act on. Declared, never
// defined in general: an action type without its entry is an incomplete type below.
template <class A>
struct ActionTraits;

template <>
struct ActionTraits<ErrnoAction> {
  static constexpr ActionInfo kInfo{"errno", true, false, true};
  static OpSet Ops(const ErrnoAction&) { return AllOps(); }
};
template <>
struct ActionTraits<DelayAction> {
  static constexpr ActionInfo kInfo{"delay", true, true, false};
  static OpSet Ops(const DelayAction&) { return AllOps(); }
};
template <>
struct ActionTraits<BandwidthAction> {
  static constexpr ActionInfo kInfo{"bandwidth", true, true, false};
  static OpSet Ops(const BandwidthAction&) {
    return OpsOf({Op::kRead, Op::kWrite, Op::kCopyFileRange});
  }
};
template <>
struct ActionTraits<StallAction> {
  static constexpr ActionInfo kInfo{"stall", true, true, false};
  static OpSet Ops(const StallAction&) { return AllOps(); }
};
template <>
struct ActionTraits<ShortAction> {
  static constexpr ActionInfo kInfo{"short", true, false, false};
  static OpSet Ops(const ShortAction&) { return OpsOf({Op::kRead, Op::kWrite}); }
};
template <>
struct ActionTraits<TornAction> {
  static constexpr ActionInfo kInfo{"torn", true, false, false};
  static OpSet Ops(const TornAction&) { return OpsOf({Op::kWrite}); }
};
template <>
struct ActionTraits<CorruptAction> {
  static constexpr ActionInfo kInfo{"corrupt", true, false, false};
  static OpSet Ops(const CorruptAction& c) {
    return c.on_write ? OpsOf({Op::kWrite}) : OpsOf({Op::kRead});
  }
};
template <>
struct ActionTraits<MisdirectAction> {
  static constexpr ActionInfo kInfo{"misdirect", true, false, false};
  static OpSet Ops(const MisdirectAction&) { return OpsOf({Op::kWrite}); }
};
template <>
struct ActionTraits<StaleReadAction> {
  static constexpr ActionInfo kInfo{"stale", false, false, false};
  static OpSet Ops(const StaleReadAction&) { return OpsOf({Op::kRead}); }
};
template <>
struct ActionTraits<LostWriteAction> {
  static constexpr ActionInfo kInfo{"lose", false, false, false};
  static OpSet Ops(const LostWriteAction&) { return OpsOf({Op::kWrite}); }
};
template <>
struct ActionTraits<LyingFsyncAction> {
  static constexpr ActionInfo kInfo{"lie", false, false, false};
  static OpSet Ops(const LyingFsyncAction&) {
    return OpsOf({Op::kFsync, Op::kFdatasync, Op::kFsyncdir});
  }
};
template <>
struct ActionTraits<FsyncFailAction> {
  static constexpr ActionInfo kInfo{"fsync_fail", true, false, true};
  static OpSet Ops(const FsyncFailAction&) { return OpsOf({Op::kFsync, Op::kFdatasync}); }
};
template <>
struct ActionTraits<KillAction> {
  static constexpr ActionInfo kInfo{"kill", true, false, false};
  static OpSet Ops(const KillAction&) { return AllOps(); }
};
template <>
struct ActionTraits<FreezeAction> {
  static constexpr ActionInfo kInfo{"freeze", false, true, false};
  static OpSet Ops(const FreezeAction&) { return AllOps(); }
};
template <>
struct ActionTraits<CrashAction> {
  static constexpr ActionInfo kInfo{"crash", true, false, false};
  static OpSet Ops(const CrashAction&) { return AllOps(); }
};

// The table, in the variant's order, built from every alternative's traits.
template <class V>
struct Table;
template <class... As>
struct Table<std::variant<As...>> {
  static constexpr std::array<ActionInfo, sizeof...(As)> kInfos = {ActionTraits<As>::kInfo...};
};
constexpr const auto& kInfos = Table<Action>::kInfos;

constexpr bool NamesAreDistinct() {
  for (size_t i = 0; i < kInfos.size(); ++i) {
    for (size_t j = i + 1; j < kInfos.size(); ++j) {
      if (kInfos[i].name == kInfos[j].name) return false;
    }
  }
  return true;
}
static_assert(NamesAreDistinct(), "two actions share a name");

}  // namespace

std::span<const ActionInfo> AllActions() { return kInfos; }

const ActionInfo& InfoOf(const Action& action) { return kInfos[action.index()]; }

const char* ActionName(const Action& a) { return InfoOf(a).name.data(); }

std::optional<size_t> ActionIndexOf(std::string_view name) {
  for (size_t i = 0; i < kInfos.size(); ++i) {
    if (kInfos[i].name == name) return i;
  }
  return std::nullopt;
}

std::vector<std::string_view> ActionNames() {
  std::vector<std::string_view> names;
  for (const auto& info : kInfos) names.push_back(info.name);
  return names;
}

OpSet ApplicableOps(const Action& action) {
  return std::visit([](const auto& a) { return ActionTraits<std::decay_t<decltype(a)>>::Ops(a); },
                    action);
}

}  // namespace faultfs::policy
