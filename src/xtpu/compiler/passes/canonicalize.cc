// canonicalize: inference canonicalization, as a table of rewrite rules.
//
//  - scale-convolution-weights: multiply(convolution(x, W), broadcast(c))
//    -> convolution(x, W') when W and c are constants and c holds one value
//    per output feature (or one value): W' is W with output feature o scaled
//    by c[o]. Batch normalization imports as y = x * broadcast(a) +
//    broadcast(b) with constant a and b (after constant-folding), so this
//    merges it into the convolution before it; the add of b stays.
//  - scale-dot-weights: the same for dot(x, W) with a constant rhs W and c
//    one value per output dimension that comes from W (a free or batch dim).
//  - copy: copy(x) -> x.
//
// Valid for f32 convolutions and dots whose result has no other reader (so
// the unscaled product is not needed too); bf16, f16 and integer weights are
// left alone. Not exact: (sum x*w)*c and sum x*(w*c) round differently, by a
// few ulp of the products (tests/passes allow 1e-6 of the output's largest
// magnitude). Identity and Dropout need no rule: the ONNX importer already
// maps them to their input (ops_shape.cc, ops_norm.cc).
#include <algorithm>
#include <optional>

#include "xtpu/compiler/passes/pass_util.h"
#include "xtpu/compiler/passes/simplification.h"

namespace xtpu::compiler {
namespace {

constexpr int kMaxSweeps = 8;

// A multiply operand that scales along one result dimension: a broadcast of
// an f32 constant whose elements run along at most one dimension.
struct Scale {
  const Literal* values;  // one value (dim < 0) or one per index of `dim`
  int64_t dim = -1;       // the multiply's result dimension
};

std::optional<Scale> MatchScale(const Instruction* s) {
  if (s->opcode != Opcode::kBroadcast) return std::nullopt;
  const Instruction* c = s->operand(0);
  if (c->opcode != Opcode::kConstant || c->shape.dtype != DType::kF32) return std::nullopt;
  Scale out{&c->literal, -1};
  for (int64_t i = 0; i < c->shape.rank(); ++i) {
    if (c->shape.dims[i] == 1) continue;
    if (out.dim >= 0) return std::nullopt;  // varies along two dims
    out.dim = s->dimensions[i];
  }
  if (out.dim < 0 && c->literal.num_elements() != 1) return std::nullopt;
  return out;
}

// W with every element scaled by c[index along `dim`] (by c[0] if dim < 0), in f32.
Literal ScaleAlong(const Literal& w, int64_t dim, const Literal& c) {
  Literal out = w;
  float* p = out.data<float>();
  const float* s = c.data<float>();
  int64_t n = out.num_elements();
  if (dim < 0) {
    for (int64_t i = 0; i < n; ++i) p[i] *= s[0];
    return out;
  }
  int64_t stride = RowMajorStrides(w.shape().dims)[dim], size = w.shape().dims[dim];
  for (int64_t i = 0; i < n; ++i) p[i] *= s[(i / stride) % size];
  return out;
}

// The weight dimension of `product` (convolution or dot, weights operand 1)
// that result dimension `out_dim` runs along, or nullopt if none does.
std::optional<int64_t> WeightDim(const Instruction* product, int64_t out_dim) {
  if (product->opcode == Opcode::kConvolution) {
    if (out_dim != product->conv_dims.output_feature) return std::nullopt;
    return product->conv_dims.kernel_output_feature;
  }
  // dot result dims: batch dims, lhs free dims, rhs free dims (in order).
  const DotDims& dd = product->dot_dims;
  int64_t nb = static_cast<int64_t>(dd.lhs_batch.size());
  if (out_dim < nb) return dd.rhs_batch[out_dim];
  int64_t lhs_free = product->operand(0)->shape.rank() - nb - static_cast<int64_t>(dd.lhs_contracting.size());
  int64_t k = out_dim - nb - lhs_free;
  if (k < 0) return std::nullopt;
  for (int64_t d = 0; d < product->operand(1)->shape.rank(); ++d) {
    bool used = std::find(dd.rhs_batch.begin(), dd.rhs_batch.end(), d) != dd.rhs_batch.end() ||
                std::find(dd.rhs_contracting.begin(), dd.rhs_contracting.end(), d) != dd.rhs_contracting.end();
    if (!used && k-- == 0) return d;
  }
  return std::nullopt;
}

// multiply(product(x, W), scale) -> product(x, W scaled), either operand order.
StatusOr<bool> ScaleWeights(Rewriter& rw, Instruction* mul, Opcode product_op) {
  for (int side = 0; side < 2; ++side) {
    Instruction* product = mul->operand(side);
    if (product->opcode != product_op || product->shape.dtype != DType::kF32) continue;
    if (product_op == Opcode::kConvolution && product->batch_group_count != 1) continue;
    const Instruction* w = product->operand(1);
    if (w->opcode != Opcode::kConstant || w->shape.dtype != DType::kF32) continue;
    std::optional<Scale> scale = MatchScale(mul->operand(1 - side));
    if (!scale || !rw.HasSingleUse(product)) continue;
    int64_t weight_dim = -1;
    if (scale->dim >= 0) {
      std::optional<int64_t> d = WeightDim(product, scale->dim);
      if (!d) continue;
      weight_dim = *d;
    }
    ASSIGN_OR_RETURN(Instruction * scaled,
                     rw.builder().Constant(ScaleAlong(w->literal, weight_dim, *scale->values), w->name + ".scaled"));
    auto copy = std::make_unique<Instruction>(*product);
    copy->operands = {product->operand(0), scaled};
    ASSIGN_OR_RETURN(Instruction * replacement, rw.builder().Add(std::move(copy)));
    bool output = rw.IsEntryOutput(mul);
    if (!rw.ReplaceWithNew(mul, replacement)) return false;
    // The scaled product keeps the product's name (unless the multiply is a
    // model output, whose name it keeps); both old instructions are dead.
    if (!output) std::swap(product->name, replacement->name);
    return true;
  }
  return false;
}

StatusOr<bool> ScaleConvolutionWeights(Rewriter& rw, Instruction* mul) {
  return ScaleWeights(rw, mul, Opcode::kConvolution);
}
StatusOr<bool> ScaleDotWeights(Rewriter& rw, Instruction* mul) { return ScaleWeights(rw, mul, Opcode::kDot); }
StatusOr<bool> Copy(Rewriter& rw, Instruction* inst) { return rw.Replace(inst, inst->operand(0)); }

const RewriteRule kRules[] = {
    {"scale-convolution-weights", Opcode::kMultiply, ScaleConvolutionWeights},
    {"scale-dot-weights", Opcode::kMultiply, ScaleDotWeights},
    {"copy", Opcode::kCopy, Copy},
};

class Canonicalize : public Pass {
 public:
  std::string_view name() const override { return "canonicalize"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    return ApplyRewriteRules(module, kRules, kMaxSweeps);
  }
};

}  // namespace

std::unique_ptr<Pass> CreateCanonicalizePass() { return std::make_unique<Canonicalize>(); }

}  // namespace xtpu::compiler
