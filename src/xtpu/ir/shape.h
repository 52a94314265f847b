// Static shapes: an element type and dimensions, or a tuple of shapes.
// Text form: "f32[1,3,224,224]", "s32[]" (scalar), "(f32[2], s32[])".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "xtpu/ir/dtype.h"
#include "xtpu/support/status.h"

namespace xtpu {

struct Shape {
  DType dtype = DType::kF32;
  std::vector<int64_t> dims;
  bool is_tuple = false;
  std::vector<Shape> tuple;  // element shapes when is_tuple

  Shape() = default;
  Shape(DType t, std::vector<int64_t> d) : dtype(t), dims(std::move(d)) {}
  static Shape Tuple(std::vector<Shape> elements) {
    Shape s;
    s.is_tuple = true;
    s.tuple = std::move(elements);
    return s;
  }

  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
  int64_t num_elements() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
  int64_t byte_size() const { return num_elements() * DTypeBytes(dtype); }
  bool is_scalar() const { return !is_tuple && dims.empty(); }

  bool operator==(const Shape& o) const {
    return is_tuple == o.is_tuple && (is_tuple ? tuple == o.tuple : (dtype == o.dtype && dims == o.dims));
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }

  std::string ToString() const;
};

// Parses the text form; the error names what is wrong.
StatusOr<Shape> ParseShape(std::string_view text);

// Row-major strides in elements.
std::vector<int64_t> RowMajorStrides(const std::vector<int64_t>& dims);

}  // namespace xtpu
