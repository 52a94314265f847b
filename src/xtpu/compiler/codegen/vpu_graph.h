// An elementwise computation over the output's index space, as the vector
// kernels see it: inputs (views of the output's dims), scalar constants and
// IR elementwise ops (kernels_elementwise.cc builds it from a standalone
// instruction or a loop fusion; vpu_graph.cc turns it into a TileProgram).
#pragma once

#include <cstdint>
#include <vector>

#include "xtpu/compiler/codegen/vpu_common.h"

namespace xtpu::codegen {

struct ElemNode {
  enum Kind : uint8_t { kInput, kConst, kOp } kind = kOp;
  DType dtype = DType::kF32;  // IR dtype of the value
  int input = -1;             // kInput: index into the job's inputs
  uint32_t bits = 0;          // kConst: the value in ComputeDType(dtype) (bf16: 16 bits)
  const Instruction* inst = nullptr;  // kOp
  std::vector<int> operands;          // kOp: node ids
};

struct ElemGraph {
  std::vector<ElemNode> nodes;  // topological order
  std::vector<DType> input_dtypes;  // memory dtype of each input (after WordView)
  int root = -1;
  DType out_dtype = DType::kF32;  // IR dtype of the result
};

// Scalar constant bits in ComputeDType(l.dtype()); l has one element.
uint32_t ScalarBits(const Literal& l);

// The tile program computing `g` for the given row inputs; errors name `what`
// for ops the vector unit cannot do.
StatusOr<TileProgram> BuildElementwiseProgram(const ElemGraph& g, const std::vector<bool>& row_inputs,
                                              const std::string& what);

// Inside the current kernel: every element of `out` = the scalar `value`
// (a constant becomes an immediate row; any other scalar is loaded).
Status EmitFill(LoweringContext& ctx, const std::string& name, const View& out, const Instruction* value);

}  // namespace xtpu::codegen
