// Literal: a dense, row-major tensor value (shape + little-endian bytes).
// Used for constants, evaluator values and .npy/.npz files.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "xtpu/ir/shape.h"
#include "xtpu/support/check.h"

namespace xtpu {

class Literal {
 public:
  Literal() = default;
  explicit Literal(Shape shape) : shape_(std::move(shape)) {
    XTPU_CHECK(!shape_.is_tuple);
    bytes_.assign(static_cast<size_t>(shape_.byte_size()), 0);
  }
  Literal(Shape shape, std::vector<uint8_t> bytes) : shape_(std::move(shape)), bytes_(std::move(bytes)) {
    XTPU_CHECK(!shape_.is_tuple);
    XTPU_CHECK(static_cast<int64_t>(bytes_.size()) == shape_.byte_size());
  }

  const Shape& shape() const { return shape_; }
  DType dtype() const { return shape_.dtype; }
  int64_t num_elements() const { return shape_.num_elements(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t>& mutable_bytes() { return bytes_; }

  template <typename T>
  T* data() { return reinterpret_cast<T*>(bytes_.data()); }
  template <typename T>
  const T* data() const { return reinterpret_cast<const T*>(bytes_.data()); }

  // Element i converted to double (pred -> 0/1, bf16/f16 widened exactly).
  double GetAsDouble(int64_t i) const;
  // Stores v into element i, converting as `convert` does (float->int truncates
  // toward zero; float->bf16/f16 rounds to nearest even).
  void SetFromDouble(int64_t i, double v);
  int64_t GetAsInt64(int64_t i) const;
  void SetFromInt64(int64_t i, int64_t v);

  bool operator==(const Literal& o) const { return shape_ == o.shape_ && bytes_ == o.bytes_; }

  // Scalar and vector helpers for tests and the importer.
  static Literal ScalarF32(float v);
  static Literal ScalarS64(int64_t v);
  template <typename T>
  static Literal FromVector(DType t, std::vector<int64_t> dims, const std::vector<T>& v) {
    Literal l(Shape(t, std::move(dims)));
    XTPU_CHECK(static_cast<int64_t>(v.size()) == l.num_elements());
    for (size_t i = 0; i < v.size(); ++i) {
      if constexpr (std::is_floating_point_v<T>) l.SetFromDouble(i, v[i]);
      else l.SetFromInt64(i, static_cast<int64_t>(v[i]));
    }
    return l;
  }

 private:
  Shape shape_;
  std::vector<uint8_t> bytes_;
};

}  // namespace xtpu
