// Reference evaluator: elementwise kernels (unary, binary, compare, select,
// clamp, convert). Floats compute in f32 and round once to bf16/f16; integers
// wrap (two's complement). See docs/numerics.md, "Reference evaluator".
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "xtpu/ir/eval_internal.h"

namespace xtpu::eval {
namespace {

Status Unsupported(const Instruction& inst, Opcode op, DType t) {
  return Unimplemented("{}: {} is not supported for {}", Describe(inst), OpcodeName(op),
                       DTypeName(t));
}

template <typename S, typename F>
inline void MapF1(const S* x, S* y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = St<S>(f(Ld<S>(x[i])));
}
template <typename S, typename F>
inline void MapF2(const S* x, const S* z, S* y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = St<S>(f(Ld<S>(x[i]), Ld<S>(z[i])));
}
template <typename T, typename F>
inline void Map1(const T* x, T* y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}
template <typename T, typename F>
inline void Map2(const T* x, const T* z, T* y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i], z[i]);
}

// Round-to-odd from long double to float: converting that float to bf16/f16
// with round-to-nearest-even then equals a direct correct rounding.
float RoundToOddFloat(long double d) {
  float f = static_cast<float>(d);
  if (static_cast<long double>(f) == d || std::isnan(f)) return f;
  if (std::fabs(static_cast<long double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= 1u;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <typename T>
T SaturateFromFloat(float v) {
  if (v != v) return 0;
  if (v <= static_cast<float>(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
  // max of s32/s64 is not representable in float; compare against 2^(bits-1).
  if (static_cast<double>(v) >= static_cast<double>(std::numeric_limits<T>::max()))
    return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

}  // namespace

Literal BroadcastScalar(const Literal& x, int64_t n) {
  if (x.num_elements() == n) return x;
  XTPU_CHECK(x.num_elements() == 1);
  Literal y(Shape(x.dtype(), {n}));
  int bytes = DTypeBytes(x.dtype());
  const uint8_t* src = x.bytes().data();
  uint8_t* dst = y.mutable_bytes().data();
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * bytes, src, bytes);
  return y;
}

StatusOr<Literal> EvalUnary(const Instruction& inst, Opcode op, const Literal& x, const Shape& out) {
  DType t = x.dtype();
  if (op == Opcode::kCopy) return Literal(out, x.bytes());
  Literal y(out);
  int64_t n = x.num_elements();
  bool ok = true;
  if (IsFloat(t)) {
    WithFloatType(t, [&]<typename S>() {
      const S* xp = x.data<S>();
      S* yp = y.data<S>();
      switch (op) {
        case Opcode::kAbs: MapF1(xp, yp, n, [](float v) { return std::fabs(v); }); break;
        case Opcode::kNegate: MapF1(xp, yp, n, [](float v) { return -v; }); break;
        case Opcode::kExp: MapF1(xp, yp, n, [](float v) { return std::exp(v); }); break;
        case Opcode::kLog: MapF1(xp, yp, n, [](float v) { return std::log(v); }); break;
        case Opcode::kTanh: MapF1(xp, yp, n, [](float v) { return std::tanh(v); }); break;
        case Opcode::kLogistic:
          MapF1(xp, yp, n, [](float v) { return 1.0f / (1.0f + std::exp(-v)); });
          break;
        case Opcode::kSqrt: MapF1(xp, yp, n, [](float v) { return std::sqrt(v); }); break;
        case Opcode::kRsqrt: MapF1(xp, yp, n, [](float v) { return 1.0f / std::sqrt(v); }); break;
        case Opcode::kErf: MapF1(xp, yp, n, [](float v) { return std::erf(v); }); break;
        case Opcode::kFloor: MapF1(xp, yp, n, [](float v) { return std::floor(v); }); break;
        case Opcode::kCeil: MapF1(xp, yp, n, [](float v) { return std::ceil(v); }); break;
        case Opcode::kRoundNearestEven:
          MapF1(xp, yp, n, [](float v) { return std::nearbyint(v); });
          break;
        case Opcode::kRoundNearestAfz: MapF1(xp, yp, n, [](float v) { return std::round(v); }); break;
        case Opcode::kSign: MapF1(xp, yp, n, FSign); break;
        case Opcode::kCos: MapF1(xp, yp, n, [](float v) { return std::cos(v); }); break;
        case Opcode::kSin: MapF1(xp, yp, n, [](float v) { return std::sin(v); }); break;
        default: ok = false;
      }
    });
  } else if (t == DType::kPred) {
    const uint8_t* xp = x.data<uint8_t>();
    uint8_t* yp = y.data<uint8_t>();
    switch (op) {
      case Opcode::kNot: Map1(xp, yp, n, [](uint8_t v) -> uint8_t { return v ? 0 : 1; }); break;
      case Opcode::kAbs:
      case Opcode::kSign: Map1(xp, yp, n, [](uint8_t v) -> uint8_t { return v ? 1 : 0; }); break;
      default: ok = false;
    }
  } else {
    WithIntType(t, [&]<typename T>() {
      const T* xp = x.data<T>();
      T* yp = y.data<T>();
      switch (op) {
        case Opcode::kAbs: Map1(xp, yp, n, [](T v) -> T { return v < 0 ? WSub<T>(0, v) : v; }); break;
        case Opcode::kNegate: Map1(xp, yp, n, [](T v) -> T { return WSub<T>(0, v); }); break;
        case Opcode::kSign: Map1(xp, yp, n, [](T v) -> T { return static_cast<T>((v > 0) - (v < 0)); }); break;
        case Opcode::kNot: Map1(xp, yp, n, [](T v) -> T { return static_cast<T>(~v); }); break;
        default: ok = false;
      }
    });
  }
  if (!ok) return Unsupported(inst, op, t);
  return y;
}

StatusOr<Literal> EvalBinary(const Instruction& inst, Opcode op, const Literal& x, const Literal& z,
                             const Shape& out) {
  DType t = x.dtype();
  if (z.dtype() != t || x.num_elements() != z.num_elements()) {
    return Error("{}: operands {} and {} do not match", Describe(inst), x.shape().ToString(),
                 z.shape().ToString());
  }
  Literal y(out);
  int64_t n = x.num_elements();
  bool ok = true;
  if (IsFloat(t)) {
    WithFloatType(t, [&]<typename S>() {
      const S* xp = x.data<S>();
      const S* zp = z.data<S>();
      S* yp = y.data<S>();
      switch (op) {
        case Opcode::kAdd: MapF2(xp, zp, yp, n, [](float a, float b) { return a + b; }); break;
        case Opcode::kSubtract: MapF2(xp, zp, yp, n, [](float a, float b) { return a - b; }); break;
        case Opcode::kMultiply: MapF2(xp, zp, yp, n, [](float a, float b) { return a * b; }); break;
        case Opcode::kDivide: MapF2(xp, zp, yp, n, [](float a, float b) { return a / b; }); break;
        case Opcode::kRemainder:
          MapF2(xp, zp, yp, n, [](float a, float b) { return std::fmod(a, b); });
          break;
        case Opcode::kMaximum: MapF2(xp, zp, yp, n, FMax); break;
        case Opcode::kMinimum: MapF2(xp, zp, yp, n, FMin); break;
        case Opcode::kPower:
          MapF2(xp, zp, yp, n, [](float a, float b) { return std::pow(a, b); });
          break;
        case Opcode::kAtan2:
          MapF2(xp, zp, yp, n, [](float a, float b) { return std::atan2(a, b); });
          break;
        default: ok = false;
      }
    });
  } else if (t == DType::kPred) {
    const uint8_t* xp = x.data<uint8_t>();
    const uint8_t* zp = z.data<uint8_t>();
    uint8_t* yp = y.data<uint8_t>();
    switch (op) {
      case Opcode::kAnd:
      case Opcode::kMinimum:
      case Opcode::kMultiply:
        Map2(xp, zp, yp, n, [](uint8_t a, uint8_t b) -> uint8_t { return (a && b) ? 1 : 0; });
        break;
      case Opcode::kOr:
      case Opcode::kMaximum:
      case Opcode::kAdd:
        Map2(xp, zp, yp, n, [](uint8_t a, uint8_t b) -> uint8_t { return (a || b) ? 1 : 0; });
        break;
      case Opcode::kXor:
        Map2(xp, zp, yp, n, [](uint8_t a, uint8_t b) -> uint8_t { return (!a != !b) ? 1 : 0; });
        break;
      default: ok = false;
    }
  } else {
    WithIntType(t, [&]<typename T>() {
      const T* xp = x.data<T>();
      const T* zp = z.data<T>();
      T* yp = y.data<T>();
      switch (op) {
        case Opcode::kAdd: Map2(xp, zp, yp, n, WAdd<T>); break;
        case Opcode::kSubtract: Map2(xp, zp, yp, n, WSub<T>); break;
        case Opcode::kMultiply: Map2(xp, zp, yp, n, WMul<T>); break;
        case Opcode::kDivide: Map2(xp, zp, yp, n, IDiv<T>); break;
        case Opcode::kRemainder: Map2(xp, zp, yp, n, IRem<T>); break;
        case Opcode::kMaximum: Map2(xp, zp, yp, n, [](T a, T b) { return a > b ? a : b; }); break;
        case Opcode::kMinimum: Map2(xp, zp, yp, n, [](T a, T b) { return a < b ? a : b; }); break;
        case Opcode::kPower: Map2(xp, zp, yp, n, IPow<T>); break;
        case Opcode::kAnd: Map2(xp, zp, yp, n, [](T a, T b) -> T { return a & b; }); break;
        case Opcode::kOr: Map2(xp, zp, yp, n, [](T a, T b) -> T { return a | b; }); break;
        case Opcode::kXor: Map2(xp, zp, yp, n, [](T a, T b) -> T { return a ^ b; }); break;
        default: ok = false;
      }
    });
  }
  if (!ok) return Unsupported(inst, op, t);
  return y;
}

namespace {
template <typename T, typename L>
void CompareLoop(CompareDirection d, const T* x, const T* z, uint8_t* y, int64_t n, L load) {
  switch (d) {
#define XTPU_CMP_CASE(dir, expr)                                           \
  case CompareDirection::dir:                                              \
    for (int64_t i = 0; i < n; ++i) {                                      \
      auto a = load(x[i]);                                                 \
      auto b = load(z[i]);                                                 \
      y[i] = (expr) ? 1 : 0;                                               \
    }                                                                      \
    break;
    XTPU_CMP_CASE(kEq, a == b)
    XTPU_CMP_CASE(kNe, a != b)
    XTPU_CMP_CASE(kLt, a < b)
    XTPU_CMP_CASE(kLe, a <= b)
    XTPU_CMP_CASE(kGt, a > b)
    XTPU_CMP_CASE(kGe, a >= b)
#undef XTPU_CMP_CASE
  }
}
}  // namespace

StatusOr<Literal> EvalCompare(const Instruction& inst, CompareDirection dir, const Literal& x,
                              const Literal& z, const Shape& out) {
  DType t = x.dtype();
  if (z.dtype() != t || x.num_elements() != z.num_elements()) {
    return Error("{}: operands {} and {} do not match", Describe(inst), x.shape().ToString(),
                 z.shape().ToString());
  }
  Literal y(out);
  int64_t n = x.num_elements();
  uint8_t* yp = y.data<uint8_t>();
  if (IsFloat(t)) {
    WithFloatType(t, [&]<typename S>() {
      CompareLoop(dir, x.data<S>(), z.data<S>(), yp, n, [](S v) { return Ld<S>(v); });
    });
  } else if (t == DType::kPred) {
    CompareLoop(dir, x.data<uint8_t>(), z.data<uint8_t>(), yp, n,
                [](uint8_t v) { return v ? 1 : 0; });
  } else {
    WithIntType(t, [&]<typename T>() {
      CompareLoop(dir, x.data<T>(), z.data<T>(), yp, n, [](T v) { return v; });
    });
  }
  return y;
}

StatusOr<Literal> EvalSelect(const Instruction& inst, const Literal& pred, const Literal& on_true,
                             const Literal& on_false, const Shape& out) {
  Literal y(out);
  int64_t n = y.num_elements();
  if (pred.dtype() != DType::kPred || (pred.num_elements() != 1 && pred.num_elements() != n) ||
      on_true.num_elements() != n || on_false.num_elements() != n) {
    return Error("{}: bad operand shapes for select", Describe(inst));
  }
  int bytes = DTypeBytes(out.dtype);
  const uint8_t* p = pred.data<uint8_t>();
  const uint8_t* a = on_true.bytes().data();
  const uint8_t* b = on_false.bytes().data();
  uint8_t* dst = y.mutable_bytes().data();
  bool scalar = pred.num_elements() == 1;
  auto loop = [&](auto tag) {
    using T = decltype(tag);
    const T* at = reinterpret_cast<const T*>(a);
    const T* bt = reinterpret_cast<const T*>(b);
    T* dt = reinterpret_cast<T*>(dst);
    for (int64_t i = 0; i < n; ++i) dt[i] = p[scalar ? 0 : i] ? at[i] : bt[i];
  };
  switch (bytes) {
    case 1: loop(uint8_t{}); break;
    case 2: loop(uint16_t{}); break;
    case 4: loop(uint32_t{}); break;
    default: loop(uint64_t{}); break;
  }
  return y;
}

StatusOr<Literal> EvalClamp(const Instruction& inst, const Literal& lo, const Literal& x,
                            const Literal& hi, const Shape& out) {
  int64_t n = x.num_elements();
  if ((lo.num_elements() != 1 && lo.num_elements() != n) ||
      (hi.num_elements() != 1 && hi.num_elements() != n) || lo.dtype() != x.dtype() ||
      hi.dtype() != x.dtype()) {
    return Error("{}: clamp bounds must be scalars or match the operand", Describe(inst));
  }
  Literal lo_n = BroadcastScalar(lo, n), hi_n = BroadcastScalar(hi, n);
  ASSIGN_OR_RETURN(Literal t, EvalBinary(inst, Opcode::kMaximum, x, lo_n, out));
  return EvalBinary(inst, Opcode::kMinimum, t, hi_n, out);
}

Literal ConvertLiteral(const Literal& x, DType to) {
  Literal y(Shape(to, x.shape().dims));
  int64_t n = x.num_elements();
  DType from = x.dtype();
  if (from == to) return Literal(y.shape(), x.bytes());
  if (IsFloat(from)) {
    WithFloatType(from, [&]<typename S>() {
      const S* xp = x.data<S>();
      if (IsFloat(to)) {
        WithFloatType(to, [&]<typename D>() {
          D* yp = y.data<D>();
          for (int64_t i = 0; i < n; ++i) yp[i] = St<D>(Ld<S>(xp[i]));
        });
      } else if (to == DType::kPred) {
        uint8_t* yp = y.data<uint8_t>();
        for (int64_t i = 0; i < n; ++i) yp[i] = Ld<S>(xp[i]) != 0.0f ? 1 : 0;
      } else {
        WithIntType(to, [&]<typename D>() {
          D* yp = y.data<D>();
          for (int64_t i = 0; i < n; ++i) yp[i] = SaturateFromFloat<D>(Ld<S>(xp[i]));
        });
      }
    });
    return y;
  }
  // From an integer or pred: go through int64 (exact).
  auto load = [&](int64_t i) -> int64_t { return x.GetAsInt64(i); };
  if (to == DType::kPred) {
    uint8_t* yp = y.data<uint8_t>();
    for (int64_t i = 0; i < n; ++i) yp[i] = load(i) != 0 ? 1 : 0;
  } else if (IsInteger(to)) {
    WithIntType(to, [&]<typename D>() {
      D* yp = y.data<D>();
      for (int64_t i = 0; i < n; ++i) yp[i] = static_cast<D>(load(i));
    });
  } else if (to == DType::kF32) {
    float* yp = y.data<float>();
    for (int64_t i = 0; i < n; ++i) yp[i] = static_cast<float>(load(i));
  } else {
    WithFloatType(to, [&]<typename D>() {
      D* yp = y.data<D>();
      for (int64_t i = 0; i < n; ++i)
        yp[i] = St<D>(RoundToOddFloat(static_cast<long double>(load(i))));
    });
  }
  return y;
}

double ElementAsDouble(const Literal& l, int64_t i) { return l.GetAsDouble(i); }
int64_t ElementAsInt64(const Literal& l, int64_t i) { return l.GetAsInt64(i); }

}  // namespace xtpu::eval
