// decompose: ops the chip has no unit for, rewritten into ops it has.
//
//  - reduce-window (max/min/add/multiply pooling) -> pad with the reduction's
//    identity (-inf for max, 0 for add; holes of a base dilation too) + one
//    strided slice per window position + a chain of the reduction op, in the
//    window's row-major order. That is the order the reference evaluator
//    folds in, so the result is exact; an init value other than the identity
//    is folded in first. Average pooling imports as reduce-window add then a
//    divide, which stays.
//  - power(x, c) with every element of c equal to 2 -> multiply(x, x); 0.5 ->
//    sqrt(x); 1 -> x (float types).
//  - iota -> constant.
//  - dynamic-slice with constant start indices -> slice (starts clamped as
//    the op defines).
//  - convolution with lhs (base) dilation -> pad with interior zeros (and
//    the window padding) + a convolution without.
//  - gather of whole slices along one axis (x[:, idx]) -> transpose/reshape
//    of x to a table [V, D], an embedding gather, and reshape/transpose of
//    its rows to the original result.
//
// Softmax, layer normalization and GELU reach the IR as primitive ops already
// (the ONNX importer expands them: exponential/reduce/divide, reduce/rsqrt,
// erf/multiply), so nothing composite is left for this pass. logistic stays.
#include <algorithm>

#include <fmt/format.h>

#include "xtpu/compiler/passes/lowering.h"
#include "xtpu/compiler/passes/lowering_util.h"

namespace xtpu::compiler {
namespace {

// Above this many window positions the slice chain gets too long; such
// windows (global pooling written as reduce-window) are reported instead.
constexpr int64_t kMaxWindowPositions = 4096;

StatusOr<bool> DecomposeReduceWindow(Rewriter& rw, Instruction* inst) {
  Builder& b = rw.builder();
  Instruction* x = inst->operands[0];
  Instruction* init = inst->operands[1];
  std::optional<Opcode> op = SimpleReduction(inst->to_apply);
  if (!op || inst->shape.is_tuple)
    return Unimplemented("%{} (reduce-window): only add, multiply, maximum and minimum windows can be lowered",
                         inst->name);
  std::optional<Literal> identity = ReductionIdentity(*op, x->shape.dtype);
  if (!identity)
    return Unimplemented("%{} (reduce-window): {} over {} has no identity value", inst->name, OpcodeName(*op),
                         DTypeName(x->shape.dtype));
  const int64_t rank = x->shape.rank();
  int64_t positions = 1;
  for (const WindowDim& w : inst->window) positions = std::min(positions * w.size, kMaxWindowPositions + 1);
  if (positions > kMaxWindowPositions)
    return Unimplemented("%{} (reduce-window): the window has more than {} positions, too many to lower",
                         inst->name, kMaxWindowPositions);

  // Pad with the identity: the evaluator skips padding and dilation holes,
  // and op(acc, identity) == acc.
  std::vector<PadDim> padding(rank);
  bool any_pad = false;
  for (int64_t d = 0; d < rank; ++d) {
    const WindowDim& w = inst->window[d];
    padding[d] = {w.pad_lo, w.pad_hi, w.base_dilation - 1};
    any_pad |= padding[d] != PadDim{};
  }
  Instruction* padded = x;
  if (any_pad) {
    ASSIGN_OR_RETURN(Instruction * pad_value, b.Constant(*identity));
    ASSIGN_OR_RETURN(padded, b.Pad(x, pad_value, padding));
  }
  const std::vector<int64_t>& out = inst->shape.dims;
  Instruction* acc = nullptr;
  // The init value first unless it is the identity.
  bool init_is_identity = init->opcode == Opcode::kConstant && init->literal == *identity;
  if (!init_is_identity) {
    ASSIGN_OR_RETURN(acc, b.Broadcast(init, out, {}));
  }
  std::vector<int64_t> pos(rank, 0);  // window position, row-major
  for (int64_t r = 0; r < positions; ++r) {
    std::vector<int64_t> starts(rank), limits(rank), strides(rank);
    for (int64_t d = 0; d < rank; ++d) {
      const WindowDim& w = inst->window[d];
      starts[d] = pos[d] * w.window_dilation;
      limits[d] = out[d] == 0 ? starts[d] : starts[d] + (out[d] - 1) * w.stride + 1;
      strides[d] = w.stride;
    }
    ASSIGN_OR_RETURN(Instruction * s, b.Slice(padded, starts, limits, strides));
    if (acc == nullptr) {
      acc = s;
    } else {
      ASSIGN_OR_RETURN(acc, b.Binary(*op, acc, s));
    }
    for (int64_t d = rank - 1; d >= 0; --d) {
      if (++pos[d] < inst->window[d].size) break;
      pos[d] = 0;
    }
  }
  return rw.ReplaceWithNew(inst, acc);
}

StatusOr<bool> DecomposePower(Rewriter& rw, Instruction* inst) {
  if (!IsFloat(inst->shape.dtype)) return false;
  Instruction* x = inst->operands[0];
  Instruction* e = inst->operands[1];
  if (IsConstantWithValue(e, 1.0)) return rw.Replace(inst, x);
  if (IsConstantWithValue(e, 2.0)) {
    ASSIGN_OR_RETURN(Instruction * m, rw.builder().Binary(Opcode::kMultiply, x, x));
    return rw.ReplaceWithNew(inst, m);
  }
  if (IsConstantWithValue(e, 0.5)) {
    ASSIGN_OR_RETURN(Instruction * s, rw.builder().Unary(Opcode::kSqrt, x));
    return rw.ReplaceWithNew(inst, s);
  }
  return false;
}

StatusOr<bool> DecomposeIota(Rewriter& rw, Instruction* inst) {
  const Shape& s = inst->shape;
  if (s.is_tuple || inst->dimensions.size() != 1) return false;
  const int64_t dim = inst->dimensions[0];
  Literal l(s);
  std::vector<int64_t> strides = RowMajorStrides(s.dims);
  for (int64_t i = 0; i < l.num_elements(); ++i) {
    int64_t v = (i / strides[dim]) % s.dims[dim];
    if (IsFloat(s.dtype)) l.SetFromDouble(i, static_cast<double>(v));
    else l.SetFromInt64(i, v);
  }
  ASSIGN_OR_RETURN(Instruction * c, rw.builder().Constant(std::move(l)));
  return rw.ReplaceWithNew(inst, c);
}

StatusOr<bool> DecomposeDynamicSlice(Rewriter& rw, Instruction* inst) {
  Instruction* x = inst->operands[0];
  const int64_t rank = x->shape.rank();
  std::vector<int64_t> starts(rank), limits(rank), strides(rank, 1);
  for (int64_t d = 0; d < rank; ++d) {
    const Instruction* idx = inst->operands[1 + d];
    if (idx->opcode != Opcode::kConstant) return false;
    int64_t size = inst->slice_sizes[d];
    starts[d] = std::clamp<int64_t>(idx->literal.GetAsInt64(0), 0, x->shape.dims[d] - size);
    limits[d] = starts[d] + size;
  }
  ASSIGN_OR_RETURN(Instruction * s, rw.builder().Slice(x, starts, limits, strides));
  return rw.ReplaceWithNew(inst, s);
}

StatusOr<bool> DecomposeConvolutionLhsDilation(Rewriter& rw, Instruction* inst) {
  const ConvDims& cd = inst->conv_dims;
  bool dilated = false;
  for (const WindowDim& w : inst->window) dilated |= w.base_dilation != 1;
  if (!dilated) return false;
  Instruction* x = inst->operands[0];
  std::vector<PadDim> padding(x->shape.rank());
  std::vector<WindowDim> window = inst->window;
  for (size_t i = 0; i < window.size(); ++i) {
    WindowDim& w = window[i];
    padding[cd.input_spatial[i]] = {w.pad_lo, w.pad_hi, w.base_dilation - 1};
    w.pad_lo = w.pad_hi = 0;
    w.base_dilation = 1;
  }
  Builder& b = rw.builder();
  Literal zero(Shape(x->shape.dtype, {}));
  ASSIGN_OR_RETURN(Instruction * z, b.Constant(std::move(zero)));
  ASSIGN_OR_RETURN(Instruction * padded, b.Pad(x, z, padding));
  ASSIGN_OR_RETURN(Instruction * conv,
                   b.Convolution(padded, inst->operands[1], window, cd, inst->feature_group_count));
  return rw.ReplaceWithNew(inst, conv);
}

// A gather that takes whole slices along one axis `a` of x (x[..., idx, ...])
// -> the embedding form the chip has (chip_form.h): x transposed to put `a`
// first and reshaped to a table [V, D], an embedding gather [idx..., D], then
// reshaped and transposed to the original result. Constant tables are
// rearranged now.
StatusOr<bool> GatherToEmbedding(Rewriter& rw, Instruction* inst) {
  Instruction* x = inst->operands[0];
  Instruction* idx = inst->operands[1];
  const GatherDims& g = inst->gather_dims;
  const int64_t rank = x->shape.rank(), nb = idx->shape.rank();
  if (g.start_index_map.size() != 1 || g.collapsed_slice_dims != g.start_index_map || g.index_vector_dim != nb)
    return false;
  const int64_t a = g.start_index_map[0];
  std::vector<int64_t> perm = {a}, rest_dims;
  int64_t d_size = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (inst->slice_sizes[d] != (d == a ? 1 : x->shape.dims[d])) return false;
    if (d == a) continue;
    perm.push_back(d);
    rest_dims.push_back(x->shape.dims[d]);
    d_size *= x->shape.dims[d];
  }
  const bool embedding = rank == 2 && a == 0 && g.offset_dims == std::vector<int64_t>{nb};
  if (embedding) return false;
  Builder& b = rw.builder();
  ASSIGN_OR_RETURN(Instruction * xt, MakeTranspose(b, x, perm));
  ASSIGN_OR_RETURN(Instruction * table, MakeReshape(b, xt, {x->shape.dims[a], d_size}));
  GatherDims eg;
  eg.offset_dims = {nb};
  eg.collapsed_slice_dims = {0};
  eg.start_index_map = {0};
  eg.index_vector_dim = nb;
  ASSIGN_OR_RETURN(Instruction * rows, b.Gather(table, idx, eg, {1, d_size}));
  std::vector<int64_t> split = idx->shape.dims;
  split.insert(split.end(), rest_dims.begin(), rest_dims.end());
  ASSIGN_OR_RETURN(Instruction * r, MakeReshape(b, rows, split));
  // Result dim i: the k-th offset dim (source nb + k) or the next batch dim.
  std::vector<int64_t> out_perm;
  int64_t next_batch = 0;
  for (int64_t i = 0; i < inst->shape.rank(); ++i) {
    auto it = std::find(g.offset_dims.begin(), g.offset_dims.end(), i);
    out_perm.push_back(it != g.offset_dims.end() ? nb + (it - g.offset_dims.begin()) : next_batch++);
  }
  ASSIGN_OR_RETURN(Instruction * out, MakeTranspose(b, r, out_perm));
  return rw.ReplaceWithNew(inst, out);
}

constexpr RewriteRule kRules[] = {
    {"reduce-window", Opcode::kReduceWindow, DecomposeReduceWindow},
    {"power", Opcode::kPower, DecomposePower},
    {"iota", Opcode::kIota, DecomposeIota},
    {"dynamic-slice", Opcode::kDynamicSlice, DecomposeDynamicSlice},
    {"convolution-lhs-dilation", Opcode::kConvolution, DecomposeConvolutionLhsDilation},
    {"gather-embedding", Opcode::kGather, GatherToEmbedding},
};

class Decompose : public Pass {
 public:
  std::string_view name() const override { return "decompose"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    return ApplyRewriteRules(module, kRules, /*max_sweeps=*/2);
  }
};

}  // namespace

std::unique_ptr<Pass> CreateDecomposePass() { return std::make_unique<Decompose>(); }

}  // namespace xtpu::compiler
