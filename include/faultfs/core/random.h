// Seeded randomness. One root seed; every consumer derives its own stream from it by label
// (DeriveSeed), so adding a consumer never changes the draws of another. Draws are counter-based
// (StreamDraw) where several threads share a stream: the nth draw is a pure function of
// (seed, n), whichever thread takes it.
#pragma once

#include <cstdint>
#include <string_view>

namespace faultfs {

// SplitMix64: a good 64-bit mixer, used both to derive seeds and as a counter-based generator.
constexpr uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// A seed for the consumer named `label` under `root` (FNV-1a of the label, mixed with the root).
constexpr uint64_t DeriveSeed(uint64_t root, std::string_view label) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (char c : label) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
  return Mix64(root ^ Mix64(h));
}

// The nth draw of the stream `seed`.
constexpr uint64_t StreamDraw(uint64_t seed, uint64_t n) {
  return Mix64(seed + n * 0xD1B54A32D192ED03ULL);
}

// A uniform double in [0, 1) from 64 random bits.
constexpr double UnitInterval(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// A small sequential generator (xorshift over a SplitMix64-seeded state) for one-thread use, e.g.
// the several values one decision needs.
class Rng {
 public:
  explicit constexpr Rng(uint64_t seed) : state_(Mix64(seed) | 1) {}
  constexpr uint64_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return Mix64(state_);
  }
  constexpr double Unit() { return UnitInterval(Next()); }
  // Uniform in [0, n); n > 0.
  constexpr uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

// A seed nobody chose: for policies without one (it is printed so a run can be replayed).
uint64_t FreshSeed();

}  // namespace faultfs
