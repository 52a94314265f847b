// Elementwise arithmetic of the vector unit (see vpu_ops.h). Each f32
// formula is written exactly as in the reference evaluator
// (eval_elementwise.cc): same expression, same float overloads of <cmath>.
#include "xtpu/sim/vpu_ops.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace xtpu::sim {

using isa::BinOp;
using isa::UnOp;

float VpuBinaryF32(BinOp op, float a, float b) {
  switch (op) {
    case BinOp::kAdd: return a + b;
    case BinOp::kSub: return a - b;
    case BinOp::kMul: return a * b;
    case BinOp::kDiv: return a / b;
    case BinOp::kMax: return MaxF32(a, b);
    case BinOp::kMin: return MinF32(a, b);
    case BinOp::kEq: return a == b ? 1.0f : 0.0f;
    case BinOp::kNe: return a != b ? 1.0f : 0.0f;
    case BinOp::kLt: return a < b ? 1.0f : 0.0f;
    case BinOp::kLe: return a <= b ? 1.0f : 0.0f;
    case BinOp::kGt: return a > b ? 1.0f : 0.0f;
    case BinOp::kGe: return a >= b ? 1.0f : 0.0f;
    case BinOp::kPow: return std::pow(a, b);
    case BinOp::kRem: return std::fmod(a, b);
    case BinOp::kAtan2: return std::atan2(a, b);
    default: return 0;  // bitwise ops: rejected by ValidateInstruction
  }
}

namespace {
// VpuBinaryS32's body, always inlined so that row loops with a fixed op vectorize.
[[gnu::always_inline]] inline int32_t BinaryS32(BinOp op, int32_t a, int32_t b) {
  const uint32_t ua = static_cast<uint32_t>(a), ub = static_cast<uint32_t>(b);
  switch (op) {
    case BinOp::kAdd: return static_cast<int32_t>(ua + ub);
    case BinOp::kSub: return static_cast<int32_t>(ua - ub);
    case BinOp::kMul: return static_cast<int32_t>(ua * ub);
    case BinOp::kMax: return std::max(a, b);
    case BinOp::kMin: return std::min(a, b);
    case BinOp::kAnd: return static_cast<int32_t>(ua & ub);
    case BinOp::kOr: return static_cast<int32_t>(ua | ub);
    case BinOp::kXor: return static_cast<int32_t>(ua ^ ub);
    case BinOp::kShl: return static_cast<int32_t>(ua << (ub & 31));
    case BinOp::kShr: return a >> (ub & 31);  // arithmetic
    case BinOp::kEq: return a == b;
    case BinOp::kNe: return a != b;
    case BinOp::kLt: return a < b;
    case BinOp::kLe: return a <= b;
    case BinOp::kGt: return a > b;
    case BinOp::kGe: return a >= b;
    case BinOp::kRem: return b == 0 || b == -1 ? 0 : a % b;
    default: return 0;  // div, pow, atan2: rejected by ValidateInstruction
  }
}
}  // namespace

int32_t VpuBinaryS32(BinOp op, int32_t a, int32_t b) { return BinaryS32(op, a, b); }

float VpuUnaryF32(UnOp op, float a) {
  switch (op) {
    case UnOp::kCopy: return a;
    case UnOp::kNeg: return std::bit_cast<float>(std::bit_cast<uint32_t>(a) ^ 0x80000000u);
    case UnOp::kAbs: return std::bit_cast<float>(std::bit_cast<uint32_t>(a) & 0x7fffffffu);
    case UnOp::kRelu: return MaxF32(a, 0.0f);
    case UnOp::kExp: return std::exp(a);
    case UnOp::kLog: return std::log(a);
    case UnOp::kTanh: return std::tanh(a);
    case UnOp::kSqrt: return std::sqrt(a);
    case UnOp::kRsqrt: return 1.0f / std::sqrt(a);
    case UnOp::kRecip: return 1.0f / a;
    case UnOp::kErf: return std::erf(a);
    case UnOp::kFloor: return std::floor(a);
    case UnOp::kCeil: return std::ceil(a);
    case UnOp::kRoundEven: return std::nearbyint(a);  // default rounding mode: to nearest even
    case UnOp::kSign: return a > 0 ? 1.0f : (a < 0 ? -1.0f : a);  // ±0 and NaN stay
    case UnOp::kLogistic: return 1.0f / (1.0f + std::exp(-a));
    case UnOp::kSin: return std::sin(a);
    case UnOp::kCos: return std::cos(a);
  }
  return 0;
}

int32_t VpuUnaryS32(UnOp op, int32_t a) {
  const uint32_t ua = static_cast<uint32_t>(a);
  switch (op) {
    case UnOp::kCopy: return a;
    case UnOp::kNeg: return static_cast<int32_t>(0u - ua);
    case UnOp::kAbs: return a < 0 ? static_cast<int32_t>(0u - ua) : a;
    case UnOp::kRelu: return std::max(a, 0);
    case UnOp::kSign: return (a > 0) - (a < 0);
    default: return 0;  // float-only ops: rejected by ValidateInstruction
  }
}

namespace {
template <typename T, typename F>
void MapRow(const T* a, const T* b, int64_t b_step, T* out, int64_t n, F f) {
  if (b_step == 0) {
    const T y = b[0];
    for (int64_t j = 0; j < n; ++j) out[j] = f(a[j], y);
  } else if (b_step == 1) {  // unit stride: vectorizable
    for (int64_t j = 0; j < n; ++j) out[j] = f(a[j], b[j]);
  } else {
    for (int64_t j = 0; j < n; ++j) out[j] = f(a[j], b[j * b_step]);
  }
}
}  // namespace

void VpuUnaryRowF32(UnOp op, const float* a, float* out, int64_t n) {
  switch (op) {
    case UnOp::kCopy:
      for (int64_t j = 0; j < n; ++j) out[j] = a[j];
      return;
    case UnOp::kNeg:
      for (int64_t j = 0; j < n; ++j) out[j] = std::bit_cast<float>(std::bit_cast<uint32_t>(a[j]) ^ 0x80000000u);
      return;
    case UnOp::kAbs:
      for (int64_t j = 0; j < n; ++j) out[j] = std::bit_cast<float>(std::bit_cast<uint32_t>(a[j]) & 0x7fffffffu);
      return;
    case UnOp::kRelu:
      for (int64_t j = 0; j < n; ++j) out[j] = MaxF32(a[j], 0.0f);
      return;
    default:
      for (int64_t j = 0; j < n; ++j) out[j] = VpuUnaryF32(op, a[j]);
      return;
  }
}

void VpuUnaryRowS32(UnOp op, const int32_t* a, int32_t* out, int64_t n) {
  switch (op) {
    case UnOp::kCopy:
      for (int64_t j = 0; j < n; ++j) out[j] = a[j];
      return;
    case UnOp::kRelu:
      for (int64_t j = 0; j < n; ++j) out[j] = a[j] > 0 ? a[j] : 0;
      return;
    default:
      for (int64_t j = 0; j < n; ++j) out[j] = VpuUnaryS32(op, a[j]);
      return;
  }
}

void VpuBinaryRowF32(BinOp op, const float* a, const float* b, int64_t b_step, float* out, int64_t n) {
  switch (op) {
    case BinOp::kAdd: return MapRow(a, b, b_step, out, n, [](float x, float y) { return x + y; });
    case BinOp::kSub: return MapRow(a, b, b_step, out, n, [](float x, float y) { return x - y; });
    case BinOp::kMul: return MapRow(a, b, b_step, out, n, [](float x, float y) { return x * y; });
    case BinOp::kDiv: return MapRow(a, b, b_step, out, n, [](float x, float y) { return x / y; });
    case BinOp::kMax: return MapRow(a, b, b_step, out, n, [](float x, float y) { return MaxF32(x, y); });
    case BinOp::kMin: return MapRow(a, b, b_step, out, n, [](float x, float y) { return MinF32(x, y); });
    case BinOp::kEq: return MapRow(a, b, b_step, out, n, [](float x, float y) { return x == y ? 1.0f : 0.0f; });
    case BinOp::kNe: return MapRow(a, b, b_step, out, n, [](float x, float y) { return x != y ? 1.0f : 0.0f; });
    case BinOp::kLt: return MapRow(a, b, b_step, out, n, [](float x, float y) { return x < y ? 1.0f : 0.0f; });
    case BinOp::kLe: return MapRow(a, b, b_step, out, n, [](float x, float y) { return x <= y ? 1.0f : 0.0f; });
    case BinOp::kGt: return MapRow(a, b, b_step, out, n, [](float x, float y) { return x > y ? 1.0f : 0.0f; });
    case BinOp::kGe: return MapRow(a, b, b_step, out, n, [](float x, float y) { return x >= y ? 1.0f : 0.0f; });
    default: return MapRow(a, b, b_step, out, n, [op](float x, float y) { return VpuBinaryF32(op, x, y); });
  }
}

void VpuBinaryRowS32(BinOp op, const int32_t* a, const int32_t* b, int64_t b_step, int32_t* out, int64_t n) {
  // Every op in its own loop (the same formulas as VpuBinaryS32).
#define XTPU_S32_ROW(OP) \
  case BinOp::OP:        \
    return MapRow(a, b, b_step, out, n, [](int32_t x, int32_t y) { return BinaryS32(BinOp::OP, x, y); });
  switch (op) {
    XTPU_S32_ROW(kAdd)
    XTPU_S32_ROW(kSub)
    XTPU_S32_ROW(kMul)
    XTPU_S32_ROW(kMax)
    XTPU_S32_ROW(kMin)
    XTPU_S32_ROW(kAnd)
    XTPU_S32_ROW(kOr)
    XTPU_S32_ROW(kXor)
    XTPU_S32_ROW(kShl)
    XTPU_S32_ROW(kShr)
    XTPU_S32_ROW(kEq)
    XTPU_S32_ROW(kNe)
    XTPU_S32_ROW(kLt)
    XTPU_S32_ROW(kLe)
    XTPU_S32_ROW(kGt)
    XTPU_S32_ROW(kGe)
    default: return MapRow(a, b, b_step, out, n, [op](int32_t x, int32_t y) { return VpuBinaryS32(op, x, y); });
  }
#undef XTPU_S32_ROW
}

}  // namespace xtpu::sim
