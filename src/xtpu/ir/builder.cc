// Builder: makes instructions with inferred shapes and module-unique names,
// and the shared scalar reduction computations (add.f32, maximum.f32, ...).
#include "xtpu/ir/builder.h"

#include <fmt/format.h>

#include "xtpu/ir/shape_inference.h"

namespace xtpu {

namespace {
std::unique_ptr<Instruction> Make(Opcode op, std::vector<Instruction*> operands) {
  auto inst = std::make_unique<Instruction>();
  inst->opcode = op;
  inst->operands = std::move(operands);
  return inst;
}
}  // namespace

std::string UniqueName(const Module& module, const std::string& stem) {
  if (!module.IsNameUsed(stem)) return stem;
  for (int64_t n = 1;; ++n) {
    std::string name = fmt::format("{}.{}", stem, n);
    if (!module.IsNameUsed(name)) return name;
  }
}

Builder::Builder(Module* module, Computation* comp) : module_(module), comp_(comp) {
  XTPU_CHECK(module_ != nullptr && comp_ != nullptr);
}

StatusOr<Instruction*> Builder::Add(std::unique_ptr<Instruction> inst) {
  // Errors name the stem: the instruction never gets a final name.
  if (inst->name.empty()) inst->name = std::string(OpcodeName(inst->opcode));
  if (inst->opcode == Opcode::kParameter && inst->parameter_number >= 0) {
    const auto& params = comp_->parameters();
    size_t n = static_cast<size_t>(inst->parameter_number);
    if (n < params.size() && params[n] != nullptr) {
      return Error("%{} (parameter): parameter number {} is already taken by %{}", inst->name, n,
                   params[n]->name);
    }
  }
  ASSIGN_OR_RETURN(Shape shape, InferShape(*inst));
  inst->shape = std::move(shape);
  inst->name = module_->UniqueName(inst->name);
  return comp_->AddInstruction(std::move(inst));
}

StatusOr<Instruction*> Builder::Parameter(int64_t number, Shape shape, std::string name) {
  auto inst = Make(Opcode::kParameter, {});
  inst->parameter_number = number;
  inst->shape = std::move(shape);
  inst->name = std::move(name);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Constant(Literal value, std::string name) {
  auto inst = Make(Opcode::kConstant, {});
  inst->shape = value.shape();
  inst->literal = std::move(value);
  inst->name = std::move(name);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Iota(Shape shape, int64_t dimension) {
  auto inst = Make(Opcode::kIota, {});
  inst->shape = std::move(shape);
  inst->dimensions = {dimension};
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Unary(Opcode op, Instruction* x) {
  if (OpcodeKind(op) != OpKind::kUnary) {
    return Error("%{0} ({0}): not an elementwise unary op", OpcodeName(op));
  }
  return Add(Make(op, {x}));
}

StatusOr<Instruction*> Builder::Binary(Opcode op, Instruction* x, Instruction* y) {
  if (OpcodeKind(op) != OpKind::kBinary) {
    return Error("%{0} ({0}): not an elementwise binary op", OpcodeName(op));
  }
  return Add(Make(op, {x, y}));
}

StatusOr<Instruction*> Builder::Compare(CompareDirection dir, Instruction* x, Instruction* y) {
  auto inst = Make(Opcode::kCompare, {x, y});
  inst->direction = dir;
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Select(Instruction* pred, Instruction* on_true,
                                       Instruction* on_false) {
  return Add(Make(Opcode::kSelect, {pred, on_true, on_false}));
}

StatusOr<Instruction*> Builder::Clamp(Instruction* lo, Instruction* x, Instruction* hi) {
  return Add(Make(Opcode::kClamp, {lo, x, hi}));
}

StatusOr<Instruction*> Builder::Convert(Instruction* x, DType to) {
  auto inst = Make(Opcode::kConvert, {x});
  if (x != nullptr) inst->shape = Shape(to, x->shape.dims);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Broadcast(Instruction* x, std::vector<int64_t> result_dims,
                                          std::vector<int64_t> dims) {
  auto inst = Make(Opcode::kBroadcast, {x});
  if (x != nullptr) inst->shape = Shape(x->shape.dtype, std::move(result_dims));
  inst->dimensions = std::move(dims);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Reshape(Instruction* x, std::vector<int64_t> result_dims) {
  auto inst = Make(Opcode::kReshape, {x});
  if (x != nullptr) inst->shape = Shape(x->shape.dtype, std::move(result_dims));
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Transpose(Instruction* x, std::vector<int64_t> permutation) {
  auto inst = Make(Opcode::kTranspose, {x});
  inst->dimensions = std::move(permutation);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Reverse(Instruction* x, std::vector<int64_t> dims) {
  auto inst = Make(Opcode::kReverse, {x});
  inst->dimensions = std::move(dims);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Slice(Instruction* x, std::vector<int64_t> starts,
                                      std::vector<int64_t> limits, std::vector<int64_t> strides) {
  auto inst = Make(Opcode::kSlice, {x});
  inst->slice_starts = std::move(starts);
  inst->slice_limits = std::move(limits);
  inst->slice_strides = std::move(strides);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::DynamicSlice(Instruction* x,
                                             std::vector<Instruction*> start_indices,
                                             std::vector<int64_t> slice_sizes) {
  std::vector<Instruction*> ops = {x};
  ops.insert(ops.end(), start_indices.begin(), start_indices.end());
  auto inst = Make(Opcode::kDynamicSlice, std::move(ops));
  inst->slice_sizes = std::move(slice_sizes);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::DynamicUpdateSlice(Instruction* x, Instruction* update,
                                                   std::vector<Instruction*> start_indices) {
  std::vector<Instruction*> ops = {x, update};
  ops.insert(ops.end(), start_indices.begin(), start_indices.end());
  return Add(Make(Opcode::kDynamicUpdateSlice, std::move(ops)));
}

StatusOr<Instruction*> Builder::Concatenate(std::vector<Instruction*> xs, int64_t dim) {
  auto inst = Make(Opcode::kConcatenate, std::move(xs));
  inst->dimensions = {dim};
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Pad(Instruction* x, Instruction* pad_value,
                                    std::vector<PadDim> padding) {
  auto inst = Make(Opcode::kPad, {x, pad_value});
  inst->padding = std::move(padding);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Reduce(std::vector<Instruction*> operands,
                                       std::vector<Instruction*> inits, std::vector<int64_t> dims,
                                       Computation* to_apply) {
  if (operands.size() != inits.size()) {
    return Error("%reduce (reduce): {} operands but {} init values", operands.size(),
                 inits.size());
  }
  std::vector<Instruction*> ops = std::move(operands);
  ops.insert(ops.end(), inits.begin(), inits.end());
  auto inst = Make(Opcode::kReduce, std::move(ops));
  inst->dimensions = std::move(dims);
  inst->to_apply = to_apply;
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::ReduceWindow(Instruction* x, Instruction* init,
                                             std::vector<WindowDim> window,
                                             Computation* to_apply) {
  auto inst = Make(Opcode::kReduceWindow, {x, init});
  inst->window = std::move(window);
  inst->to_apply = to_apply;
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Dot(Instruction* lhs, Instruction* rhs, DotDims dims) {
  auto inst = Make(Opcode::kDot, {lhs, rhs});
  inst->dot_dims = std::move(dims);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Convolution(Instruction* input, Instruction* kernel,
                                            std::vector<WindowDim> window, ConvDims dims,
                                            int64_t feature_group_count) {
  auto inst = Make(Opcode::kConvolution, {input, kernel});
  inst->window = std::move(window);
  inst->conv_dims = std::move(dims);
  inst->feature_group_count = feature_group_count;
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Gather(Instruction* x, Instruction* indices, GatherDims dims,
                                       std::vector<int64_t> slice_sizes) {
  auto inst = Make(Opcode::kGather, {x, indices});
  inst->gather_dims = std::move(dims);
  inst->slice_sizes = std::move(slice_sizes);
  return Add(std::move(inst));
}

StatusOr<Instruction*> Builder::Tuple(std::vector<Instruction*> xs) {
  return Add(Make(Opcode::kTuple, std::move(xs)));
}

StatusOr<Instruction*> Builder::GetTupleElement(Instruction* t, int64_t index) {
  auto inst = Make(Opcode::kGetTupleElement, {t});
  inst->tuple_index = index;
  return Add(std::move(inst));
}

Computation* Builder::ScalarReducer(Opcode op, DType dtype) {
  XTPU_CHECK(OpcodeKind(op) == OpKind::kBinary);
  std::string name = fmt::format("{}.{}", OpcodeName(op), DTypeName(dtype));
  if (Computation* c = module_->FindComputation(name)) return c;
  Computation* c =
      module_->InsertComputationBefore(std::make_unique<Computation>(name), comp_);
  Builder b(module_, c);
  auto lhs = b.Parameter(0, Shape(dtype, {}), "a");
  XTPU_CHECK(lhs.ok());
  auto rhs = b.Parameter(1, Shape(dtype, {}), "b");
  XTPU_CHECK(rhs.ok());
  auto r = b.Binary(op, *lhs, *rhs);
  XTPU_CHECK(r.ok());  // the op must accept `dtype` (e.g. no and.f32)
  c->set_root(*r);
  return c;
}

}  // namespace xtpu
