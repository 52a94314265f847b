// Deterministic random tensors for inputs a user did not give.
//
// The generator is splitmix64 (not <random>'s distributions, whose output
// differs between standard libraries), so the same seed gives the same bits
// on every host. Values, chosen to be exact in every dtype:
//   floats (f32, f16, bf16): uniform on a grid in [-1, 1)
//     (f32 step 2^-23, f16 step 2^-10, bf16 step 2^-7);
//   integers (s8, u8, s32, s64): uniform in [0, 10);
//   pred: true or false with equal odds.
#pragma once

#include <cstdint>

#include "xtpu/ir/literal.h"

namespace xtpu {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// A seed for stream `index` (e.g. a parameter number) derived from `seed`, so
// each input's values do not depend on which other inputs were given.
uint64_t DeriveSeed(uint64_t seed, uint64_t index);

// A literal of `shape` (not a tuple) filled as described above.
Literal RandomLiteral(const Shape& shape, Rng& rng);

}  // namespace xtpu
