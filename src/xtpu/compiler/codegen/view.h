// A strided view of a tensor in HBM: element (i0, ..., in-1) is at byte
// address base + sum_d i_d * strides[d]. Strides may be 0 (broadcast) or
// negative (reverse). Slices, broadcasts, transposes and reshapes of dense
// tensors are views, so code generation moves no data for them; kernels
// read their operands through views with strided DMA (EmitDmaLoad).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xtpu/ir/dtype.h"
#include "xtpu/support/status.h"

namespace xtpu::codegen {

struct View {
  int64_t base = 0;  // byte address in HBM of element (0, ..., 0)
  DType dtype = DType::kF32;
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;  // bytes

  // Row-major, densely packed.
  static View Dense(int64_t base, DType dtype, std::vector<int64_t> dims);

  int rank() const { return static_cast<int>(dims.size()); }
  int64_t elements() const;
  int64_t element_bytes() const;
  int64_t bytes() const { return elements() * element_bytes(); }  // of the data, not the span
  bool IsDense() const;  // row-major packed (any view with <= 1 element is dense)

  // result dim i = dims[perm[i]]
  View Transpose(const std::vector<int64_t>& perm) const;
  // [start, limit) with step per dim.
  View Slice(const std::vector<int64_t>& starts, const std::vector<int64_t>& limits,
             const std::vector<int64_t>& steps) const;
  // Operand dim i becomes result dim dims_map[i]; other result dims have stride 0.
  View Broadcast(const std::vector<int64_t>& out_dims, const std::vector<int64_t>& dims_map) const;
  View Reverse(const std::vector<int64_t>& rev_dims) const;
  // A reshape without moving data; fails when the strides cannot express it
  // (e.g. merging a transposed pair of dims). Always succeeds for dense views.
  StatusOr<View> Reshape(const std::vector<int64_t>& new_dims) const;
  // Sub-view of dim d: [start, start + size).
  View SubRange(int d, int64_t start, int64_t size) const;
  // Merges adjacent dims that are contiguous in memory (and drops size-1
  // dims); the result addresses the same elements in the same order.
  View Simplified() const;
  // Lowest and one-past-highest byte touched (for bounds and overlap checks).
  int64_t MinAddress() const;
  int64_t EndAddress() const;

  std::string ToString() const;  // "f32[2,3]{12,4}@0x100"
};

}  // namespace xtpu::codegen
