#include "xtpu/ir/dtype.h"

namespace xtpu {

std::string_view DTypeName(DType t) {
  switch (t) {
#define XTPU_DTYPE_NAME(e, name, bytes) \
  case DType::e:                        \
    return name;
    XTPU_DTYPES(XTPU_DTYPE_NAME)
#undef XTPU_DTYPE_NAME
  }
  return "?";
}

int DTypeBytes(DType t) {
  switch (t) {
#define XTPU_DTYPE_BYTES(e, name, bytes) \
  case DType::e:                         \
    return bytes;
    XTPU_DTYPES(XTPU_DTYPE_BYTES)
#undef XTPU_DTYPE_BYTES
  }
  return 0;
}

std::optional<DType> ParseDType(std::string_view name) {
#define XTPU_DTYPE_PARSE(e, n, bytes) \
  if (name == n) return DType::e;
  XTPU_DTYPES(XTPU_DTYPE_PARSE)
#undef XTPU_DTYPE_PARSE
  return std::nullopt;
}

f16 f16::FromFloat(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7fffffffu;
  f16 r;
  if (absx >= 0x7f800000u) {  // inf or nan
    r.bits = static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
    return r;
  }
  if (absx >= 0x477ff000u) {  // rounds to >= 65520 -> inf
    r.bits = static_cast<uint16_t>(sign | 0x7c00u);
    return r;
  }
  if (absx < 0x38800000u) {  // subnormal or zero in f16
    // value = absx as float; f16 subnormal unit is 2^-24.
    float af;
    std::memcpy(&af, &absx, 4);
    // Scale to units of 2^-24 and round to nearest even via float arithmetic.
    float scaled = af * 16777216.0f;  // exact (power of two)
    // nearbyint with default rounding mode (nearest even)
    float rounded = __builtin_nearbyintf(scaled);
    r.bits = static_cast<uint16_t>(sign | static_cast<uint32_t>(rounded));
    return r;
  }
  uint32_t exp = ((absx >> 23) - 127 + 15);
  uint32_t mant = absx & 0x7fffffu;
  uint32_t half = (exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half += 1;  // may carry into exp: fine
  r.bits = static_cast<uint16_t>(sign | half);
  return r;
}

float f16::ToFloat() const {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exp = (bits >> 10) & 0x1fu;
  uint32_t mant = bits & 0x3ffu;
  uint32_t out;
  if (exp == 0) {
    if (mant == 0) {
      out = sign;
    } else {
      float f = static_cast<float>(mant) / 16777216.0f;  // mant * 2^-24
      std::memcpy(&out, &f, 4);
      out |= sign;
    }
  } else if (exp == 31) {
    out = sign | 0x7f800000u | (mant << 13);
  } else {
    out = sign | ((exp - 15 + 127) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &out, 4);
  return f;
}

}  // namespace xtpu
