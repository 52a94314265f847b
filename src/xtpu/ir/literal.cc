#include "xtpu/ir/literal.h"

#include <cmath>

namespace xtpu {

double Literal::GetAsDouble(int64_t i) const {
  switch (dtype()) {
    case DType::kPred: return data<uint8_t>()[i] ? 1.0 : 0.0;
    case DType::kS8: return data<int8_t>()[i];
    case DType::kU8: return data<uint8_t>()[i];
    case DType::kS32: return data<int32_t>()[i];
    case DType::kS64: return static_cast<double>(data<int64_t>()[i]);
    case DType::kBF16: return data<bf16>()[i].ToFloat();
    case DType::kF16: return data<f16>()[i].ToFloat();
    case DType::kF32: return data<float>()[i];
  }
  return 0;
}

int64_t Literal::GetAsInt64(int64_t i) const {
  switch (dtype()) {
    case DType::kPred: return data<uint8_t>()[i] ? 1 : 0;
    case DType::kS8: return data<int8_t>()[i];
    case DType::kU8: return data<uint8_t>()[i];
    case DType::kS32: return data<int32_t>()[i];
    case DType::kS64: return data<int64_t>()[i];
    default: {
      double d = GetAsDouble(i);
      if (std::isnan(d)) return 0;
      if (d >= 9.2233720368547758e18) return INT64_MAX;
      if (d <= -9.2233720368547758e18) return INT64_MIN;
      return static_cast<int64_t>(d);
    }
  }
}

namespace {
template <typename T>
T SaturatingFromDouble(double v) {
  if (std::isnan(v)) return 0;
  double lo = static_cast<double>(std::numeric_limits<T>::min());
  double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (v <= lo) return std::numeric_limits<T>::min();
  if (v >= hi) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}
}  // namespace

void Literal::SetFromDouble(int64_t i, double v) {
  switch (dtype()) {
    case DType::kPred: data<uint8_t>()[i] = v != 0.0; break;
    case DType::kS8: data<int8_t>()[i] = SaturatingFromDouble<int8_t>(v); break;
    case DType::kU8: data<uint8_t>()[i] = SaturatingFromDouble<uint8_t>(v); break;
    case DType::kS32: data<int32_t>()[i] = SaturatingFromDouble<int32_t>(v); break;
    case DType::kS64: data<int64_t>()[i] = SaturatingFromDouble<int64_t>(v); break;
    case DType::kBF16: data<bf16>()[i] = bf16::FromFloat(static_cast<float>(v)); break;
    case DType::kF16: data<f16>()[i] = f16::FromFloat(static_cast<float>(v)); break;
    case DType::kF32: data<float>()[i] = static_cast<float>(v); break;
  }
}

void Literal::SetFromInt64(int64_t i, int64_t v) {
  switch (dtype()) {
    case DType::kPred: data<uint8_t>()[i] = v != 0; break;
    case DType::kS8: data<int8_t>()[i] = static_cast<int8_t>(v); break;
    case DType::kU8: data<uint8_t>()[i] = static_cast<uint8_t>(v); break;
    case DType::kS32: data<int32_t>()[i] = static_cast<int32_t>(v); break;
    case DType::kS64: data<int64_t>()[i] = v; break;
    default: SetFromDouble(i, static_cast<double>(v)); break;
  }
}

Literal Literal::ScalarF32(float v) {
  Literal l(Shape(DType::kF32, {}));
  l.data<float>()[0] = v;
  return l;
}

Literal Literal::ScalarS64(int64_t v) {
  Literal l(Shape(DType::kS64, {}));
  l.data<int64_t>()[0] = v;
  return l;
}

}  // namespace xtpu
