// Builder: appends instructions to a computation, inferring each result shape
// (shape_inference.h) and naming them uniquely ("add.3") unless a name is
// given. Every method returns an error naming the op when the operands do
// not fit; the importer relies on that for its messages.
#pragma once

#include <string>
#include <vector>

#include "xtpu/ir/module.h"

namespace xtpu {

class Builder {
 public:
  // `module` owns `comp`; names are made unique across the module.
  Builder(Module* module, Computation* comp);

  Computation* computation() const { return comp_; }

  // Adds a fully formed instruction: infers (or checks) its shape, gives it a
  // unique name (keeping `inst->name` as the stem when set).
  StatusOr<Instruction*> Add(std::unique_ptr<Instruction> inst);

  StatusOr<Instruction*> Parameter(int64_t number, Shape shape, std::string name = "");
  StatusOr<Instruction*> Constant(Literal value, std::string name = "");
  StatusOr<Instruction*> Iota(Shape shape, int64_t dimension);
  StatusOr<Instruction*> Unary(Opcode op, Instruction* x);
  StatusOr<Instruction*> Binary(Opcode op, Instruction* x, Instruction* y);
  StatusOr<Instruction*> Compare(CompareDirection dir, Instruction* x, Instruction* y);
  StatusOr<Instruction*> Select(Instruction* pred, Instruction* on_true, Instruction* on_false);
  StatusOr<Instruction*> Clamp(Instruction* lo, Instruction* x, Instruction* hi);
  StatusOr<Instruction*> Convert(Instruction* x, DType to);
  // HLO broadcast: operand dim i becomes result dim dims[i] (sizes equal).
  StatusOr<Instruction*> Broadcast(Instruction* x, std::vector<int64_t> result_dims,
                                   std::vector<int64_t> dims);
  StatusOr<Instruction*> Reshape(Instruction* x, std::vector<int64_t> result_dims);
  StatusOr<Instruction*> Transpose(Instruction* x, std::vector<int64_t> permutation);
  StatusOr<Instruction*> Reverse(Instruction* x, std::vector<int64_t> dims);
  StatusOr<Instruction*> Slice(Instruction* x, std::vector<int64_t> starts,
                               std::vector<int64_t> limits, std::vector<int64_t> strides);
  StatusOr<Instruction*> DynamicSlice(Instruction* x, std::vector<Instruction*> start_indices,
                                      std::vector<int64_t> slice_sizes);
  StatusOr<Instruction*> DynamicUpdateSlice(Instruction* x, Instruction* update,
                                            std::vector<Instruction*> start_indices);
  StatusOr<Instruction*> Concatenate(std::vector<Instruction*> xs, int64_t dim);
  StatusOr<Instruction*> Pad(Instruction* x, Instruction* pad_value, std::vector<PadDim> padding);
  // reduce: operands then init values (k of each); k > 1 gives a tuple.
  StatusOr<Instruction*> Reduce(std::vector<Instruction*> operands, std::vector<Instruction*> inits,
                                std::vector<int64_t> dims, Computation* to_apply);
  StatusOr<Instruction*> ReduceWindow(Instruction* x, Instruction* init,
                                      std::vector<WindowDim> window, Computation* to_apply);
  StatusOr<Instruction*> Dot(Instruction* lhs, Instruction* rhs, DotDims dims);
  StatusOr<Instruction*> Convolution(Instruction* input, Instruction* kernel,
                                     std::vector<WindowDim> window, ConvDims dims,
                                     int64_t feature_group_count);
  StatusOr<Instruction*> Gather(Instruction* x, Instruction* indices, GatherDims dims,
                                std::vector<int64_t> slice_sizes);
  StatusOr<Instruction*> Tuple(std::vector<Instruction*> xs);
  StatusOr<Instruction*> GetTupleElement(Instruction* t, int64_t index);

  // Returns (creating once per module) the scalar reduction computation
  // `name` = op(a, b) over `dtype`, e.g. add or maximum.
  Computation* ScalarReducer(Opcode op, DType dtype);

 private:
  Module* module_;
  Computation* comp_;
};

// Unique-name helper shared by builder and importer: returns `stem` or
// `stem.N` not yet used in `module`.
std::string UniqueName(const Module& module, const std::string& stem);

}  // namespace xtpu
