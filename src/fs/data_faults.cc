#include "data_faults.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>
#include <variant>

#include "faultfs/core/errno_names.h"
#include "faultfs/core/random.h"

namespace faultfs::fs {

size_t ShortLength(const policy::ShortAction& a, size_t size) {
  if (size == 0) return 0;
  size_t n = a.bytes ? static_cast<size_t>(*a.bytes)
                     : static_cast<size_t>(static_cast<double>(size) * a.fraction.value_or(0.5));
  return std::min(n, size - 1);
}

TornPlan PlanTorn(const policy::TornAction& a, uint64_t draw, uint64_t offset, size_t size) {
  TornPlan p;
  p.unit = a.unit_bytes;
  if (size == 0) return p;
  const uint64_t first = offset / p.unit;
  const uint64_t last = (offset + size - 1) / p.unit;
  const size_t units = static_cast<size_t>(last - first + 1);
  p.keep.assign(units, false);
  if (units == 1) return p;  // a write within one unit is all or nothing: nothing reaches the disk
  Rng rng(draw);
  switch (a.keep) {
    case policy::TornAction::Keep::kFirst: {
      const size_t n = 1 + rng.Below(units - 1);
      std::fill(p.keep.begin(), p.keep.begin() + static_cast<ptrdiff_t>(n), true);
      break;
    }
    case policy::TornAction::Keep::kLast: {
      const size_t n = 1 + rng.Below(units - 1);
      std::fill(p.keep.end() - static_cast<ptrdiff_t>(n), p.keep.end(), true);
      break;
    }
    case policy::TornAction::Keep::kRandom:
      for (size_t i = 0; i < units; ++i) p.keep[i] = rng.Below(2) == 1;
      if (std::all_of(p.keep.begin(), p.keep.end(), [](bool k) { return k; }))
        p.keep[rng.Below(units)] = false;
      break;
  }
  return p;
}

void Corrupt(const policy::CorruptAction& a, uint64_t draw, char* data, size_t size) {
  if (size == 0) return;
  Rng rng(draw);
  size_t lo = 0, hi = size;
  if (a.range) {
    lo = static_cast<size_t>(std::min<uint64_t>(a.range->lo, size));
    hi = static_cast<size_t>(std::min<uint64_t>(a.range->hi, size));
  }
  switch (a.mode) {
    case policy::CorruptAction::Mode::kFlipBits: {
      // `bits` distinct bits of the range (all of them if it has fewer): a bit drawn twice would
      // flip back. Floyd's sampling, one draw per bit.
      const uint64_t n = static_cast<uint64_t>(hi - lo) * 8;
      std::unordered_set<uint64_t> flipped;
      for (uint64_t j = n - std::min<uint64_t>(a.bits, n); j < n; ++j) {
        uint64_t bit = rng.Below(j + 1);
        if (!flipped.insert(bit).second) bit = *flipped.insert(j).first;
        data[lo + bit / 8] = static_cast<char>(data[lo + bit / 8] ^ (1 << (bit % 8)));
      }
      break;
    }
    case policy::CorruptAction::Mode::kZero:
      if (lo < hi) std::memset(data + lo, 0, hi - lo);
      break;
    case policy::CorruptAction::Mode::kRandom:
      for (size_t i = lo; i < hi; ++i) data[i] = static_cast<char>(rng.Next());
      break;
  }
}

std::string DescribeOutcome(const policy::Action& a, uint64_t draw, int err, uint64_t offset,
                            size_t size) {
  // One case per action (no default): a new action without its description does not compile.
  struct Describe {
    uint64_t draw;
    int err;
    uint64_t offset;
    size_t size;
    std::string operator()(const policy::ErrnoAction&) const { return ErrnoName(err); }
    std::string operator()(const policy::FsyncFailAction&) const { return ErrnoName(err); }
    std::string operator()(const policy::ShortAction& s) const {
      return "short: " + std::to_string(ShortLength(s, size)) + " of " + std::to_string(size) +
             " bytes";
    }
    std::string operator()(const policy::TornAction& t) const {
      const TornPlan p = PlanTorn(t, draw, offset, size);
      const auto kept = std::count(p.keep.begin(), p.keep.end(), true);
      return "torn: " + std::to_string(kept) + " of " + std::to_string(p.keep.size()) +
             " units of " + std::to_string(p.unit) + " bytes stored";
    }
    std::string operator()(const policy::CorruptAction& c) const {
      return std::string("corrupted ") + (c.on_write ? "on disk" : "in the reader's copy");
    }
    std::string operator()(const policy::MisdirectAction& m) const {
      return "stored at offset " + std::to_string(static_cast<int64_t>(offset) + m.shift_bytes);
    }
    std::string operator()(const policy::StaleReadAction&) const {
      return "returned the previous contents";
    }
    std::string operator()(const policy::LostWriteAction&) const {
      return "success, nothing stored";
    }
    std::string operator()(const policy::LyingFsyncAction&) const {
      return "success, nothing synced";
    }
    std::string operator()(const policy::KillAction& k) const {
      return std::string("signal ") + (sigabbrev_np(k.signal) ? sigabbrev_np(k.signal) : "?") +
             (k.before ? " before the op" : " after the op");
    }
    std::string operator()(const policy::CrashAction& c) const {
      return "power cut (model " + c.model + ")";
    }
    // Timing actions delay or hold the op; what it returns is its own.
    std::string operator()(const policy::DelayAction&) const { return "delay"; }
    std::string operator()(const policy::BandwidthAction&) const { return "bandwidth"; }
    std::string operator()(const policy::StallAction&) const { return "stall"; }
    std::string operator()(const policy::FreezeAction&) const { return "freeze"; }
  };
  return std::visit(Describe{draw, err, offset, size}, a);
}

}  // namespace faultfs::fs
