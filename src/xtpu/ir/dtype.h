// Element types of tensor IR, declared once in XTPU_DTYPES.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace xtpu {

// V(enum, text name, bytes per element)
#define XTPU_DTYPES(V) \
  V(kPred, "pred", 1)  \
  V(kS8, "s8", 1)      \
  V(kU8, "u8", 1)      \
  V(kS32, "s32", 4)    \
  V(kS64, "s64", 8)    \
  V(kBF16, "bf16", 2)  \
  V(kF16, "f16", 2)    \
  V(kF32, "f32", 4)

enum class DType : uint8_t {
#define XTPU_DTYPE_ENUM(e, name, bytes) e,
  XTPU_DTYPES(XTPU_DTYPE_ENUM)
#undef XTPU_DTYPE_ENUM
};

std::string_view DTypeName(DType t);
int DTypeBytes(DType t);
std::optional<DType> ParseDType(std::string_view name);
inline bool IsFloat(DType t) { return t == DType::kBF16 || t == DType::kF16 || t == DType::kF32; }
inline bool IsInteger(DType t) {
  return t == DType::kS8 || t == DType::kU8 || t == DType::kS32 || t == DType::kS64;
}
inline bool IsSigned(DType t) { return t != DType::kU8 && t != DType::kPred; }

// bf16: top 16 bits of an f32. Conversion from f32 rounds to nearest even;
// NaN stays NaN (quiet).
struct bf16 {
  uint16_t bits = 0;
  static bf16 FromFloat(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    bf16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      r.bits = static_cast<uint16_t>((u >> 16) | 0x0040u);
      return r;
    }
    uint32_t lsb = (u >> 16) & 1u;
    u += 0x7fffu + lsb;
    r.bits = static_cast<uint16_t>(u >> 16);
    return r;
  }
  float ToFloat() const {
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

// IEEE binary16, conversions round to nearest even.
struct f16 {
  uint16_t bits = 0;
  static f16 FromFloat(float f);
  float ToFloat() const;
};

}  // namespace xtpu
