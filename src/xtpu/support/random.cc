// Deterministic random tensors (see random.h).
#include "xtpu/support/random.h"

namespace xtpu {

uint64_t DeriveSeed(uint64_t seed, uint64_t index) {
  Rng a(seed);
  uint64_t s = a.Next();
  Rng b(s ^ (index * 0xd1b54a32d192ed03ull + 0x8cb92ba72f3d8dd7ull));
  return b.Next();
}

Literal RandomLiteral(const Shape& shape, Rng& rng) {
  Literal lit(shape);
  int64_t n = lit.num_elements();
  // Number of grid bits per float type: values k / 2^(bits-1) - 1 with
  // k < 2^bits are exact in the type and lie in [-1, 1).
  int bits = shape.dtype == DType::kBF16 ? 8 : shape.dtype == DType::kF16 ? 11 : 24;
  // Fast paths with the same values: k / 2^(bits-1) - 1 is exact in the
  // type, so computing it in float and storing it (bf16: the top half of
  // the f32 bits, an exact truncation) equals SetFromDouble.
  if (shape.dtype == DType::kF32 || shape.dtype == DType::kBF16) {
    const double scale = 1.0 / static_cast<double>(uint64_t{1} << (bits - 1));
    for (int64_t i = 0; i < n; ++i) {
      const double k = static_cast<double>(rng.Next() >> (64 - bits));
      const float f = static_cast<float>(k * scale - 1.0);
      if (shape.dtype == DType::kF32) {
        lit.data<float>()[i] = f;
      } else {
        lit.data<bf16>()[i] = bf16::FromFloat(f);
      }
    }
    return lit;
  }
  for (int64_t i = 0; i < n; ++i) {
    uint64_t r = rng.Next();
    if (IsFloat(shape.dtype)) {
      double k = static_cast<double>(r >> (64 - bits));
      lit.SetFromDouble(i, k / static_cast<double>(uint64_t{1} << (bits - 1)) - 1.0);
    } else if (shape.dtype == DType::kPred) {
      lit.SetFromInt64(i, static_cast<int64_t>(r >> 63));
    } else {
      lit.SetFromInt64(i, static_cast<int64_t>(r % 10));
    }
  }
  return lit;
}

}  // namespace xtpu
