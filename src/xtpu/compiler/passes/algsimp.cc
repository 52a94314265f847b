// algsimp: algebraic simplification, as a table of rewrite rules.
//
// Each rule has a name, the opcode it looks at and a function that matches
// the instruction (and its operands) and, on a match, rewrites it through the
// Rewriter, returning whether it changed anything. Instructions are visited
// in definition order and the first matching rule of an instruction wins;
// the sweep repeats (at most kMaxSweeps times) until no rule fires.
//
// Every rule keeps the reference evaluator's values exactly, with one
// documented exception: x + 0 -> x and x - (-0) -> x also apply to floats,
// where (-0) + 0 is +0, so the sign of a zero result may change (the values
// compare equal). Float rules never assume x * 0 = 0, x - x = 0 or x / x = 1
// (NaN, inf) and never reassociate.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "xtpu/compiler/passes/lowering_util.h"
#include "xtpu/compiler/passes/pass_util.h"
#include "xtpu/compiler/passes/simplification.h"

namespace xtpu::compiler {
namespace {

constexpr int kMaxSweeps = 16;

bool IsIdentityPermutation(const std::vector<int64_t>& dims) {
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] != static_cast<int64_t>(i)) return false;
  return true;
}

// op(x, c) -> x (and op(c, x) -> x when `commutes`) where c is all `value`.
StatusOr<bool> DropNeutralOperand(Rewriter& rw, Instruction* inst, double value, bool commutes) {
  if (IsConstantWithValue(inst->operand(1), value)) return rw.Replace(inst, inst->operand(0));
  if (commutes && IsConstantWithValue(inst->operand(0), value)) return rw.Replace(inst, inst->operand(1));
  return false;
}

StatusOr<bool> AddZero(Rewriter& rw, Instruction* inst) { return DropNeutralOperand(rw, inst, 0, true); }
StatusOr<bool> SubtractZero(Rewriter& rw, Instruction* inst) { return DropNeutralOperand(rw, inst, 0, false); }
StatusOr<bool> MultiplyOne(Rewriter& rw, Instruction* inst) { return DropNeutralOperand(rw, inst, 1, true); }
StatusOr<bool> DivideOne(Rewriter& rw, Instruction* inst) { return DropNeutralOperand(rw, inst, 1, false); }

// negate(negate(x)) -> x (exact for floats; wraps back for integers).
StatusOr<bool> NegateNegate(Rewriter& rw, Instruction* inst) {
  if (inst->operand(0)->opcode != Opcode::kNegate) return false;
  return rw.Replace(inst, inst->operand(0)->operand(0));
}

// convert(x) to x's own type -> x.
StatusOr<bool> ConvertSameType(Rewriter& rw, Instruction* inst) {
  if (inst->operand(0)->shape != inst->shape) return false;
  return rw.Replace(inst, inst->operand(0));
}

// copy(x) -> x (a copy that only names a model output stays; see Replace).
StatusOr<bool> Copy(Rewriter& rw, Instruction* inst) { return rw.Replace(inst, inst->operand(0)); }

// reshape(x) to x's own shape -> x.
StatusOr<bool> ReshapeSameShape(Rewriter& rw, Instruction* inst) {
  if (inst->operand(0)->shape != inst->shape) return false;
  return rw.Replace(inst, inst->operand(0));
}

// reshape(reshape(x)) -> reshape(x) (-> x when the shape comes back).
StatusOr<bool> ReshapeReshape(Rewriter& rw, Instruction* inst) {
  Instruction* inner = inst->operand(0);
  if (inner->opcode != Opcode::kReshape) return false;
  Instruction* x = inner->operand(0);
  if (x->shape == inst->shape) return rw.Replace(inst, x);
  ASSIGN_OR_RETURN(Instruction * r, rw.builder().Reshape(x, inst->shape.dims));
  return rw.ReplaceWithNew(inst, r);
}

// transpose with the identity permutation -> its operand.
StatusOr<bool> TransposeIdentity(Rewriter& rw, Instruction* inst) {
  if (!IsIdentityPermutation(inst->dimensions)) return false;
  return rw.Replace(inst, inst->operand(0));
}

// transpose(transpose(x, p), q) -> transpose(x, p o q) (-> x if identity):
// result dim i is inner dim q[i], which is x's dim p[q[i]].
StatusOr<bool> TransposeTranspose(Rewriter& rw, Instruction* inst) {
  Instruction* inner = inst->operand(0);
  if (inner->opcode != Opcode::kTranspose) return false;
  std::vector<int64_t> perm;
  for (int64_t q : inst->dimensions) perm.push_back(inner->dimensions[q]);
  Instruction* x = inner->operand(0);
  if (IsIdentityPermutation(perm)) return rw.Replace(inst, x);
  ASSIGN_OR_RETURN(Instruction * t, rw.builder().Transpose(x, perm));
  return rw.ReplaceWithNew(inst, t);
}

// slice of everything with stride 1 -> its operand.
StatusOr<bool> SliceFull(Rewriter& rw, Instruction* inst) {
  const Shape& x = inst->operand(0)->shape;
  for (int64_t d = 0; d < x.rank(); ++d) {
    if (inst->slice_starts[d] != 0 || inst->slice_limits[d] != x.dims[d] || inst->slice_strides[d] != 1)
      return false;
  }
  return rw.Replace(inst, inst->operand(0));
}

// x / c -> x * (1/c) for c a float constant (scalar or all equal) that is a
// power of two whose reciprocal is a normal number of the type: both
// round the same exact value x * 2^-k, so the result is identical (also for
// subnormals, inf and NaN). The matrix unit's epilogue applies multiplies
// (attention's 1/sqrt(64) after the query projection).
StatusOr<bool> DividePowerOfTwo(Rewriter& rw, Instruction* inst) {
  const DType t = inst->shape.dtype;
  if (t != DType::kF32 && t != DType::kBF16) return false;
  const Instruction* c = ConstantSource(inst->operand(1));
  if (c == nullptr || c->shape.is_tuple || c->literal.num_elements() == 0) return false;
  const double v = c->literal.GetAsDouble(0);
  if (!IsConstantWithValue(inst->operand(1), v) || !std::isfinite(v) || v == 0) return false;
  int e = 0;
  if (std::fabs(std::frexp(v, &e)) != 0.5) return false;
  // 1/v = 2^(1-e) must be a normal number (f32 and bf16 share the exponent range).
  if (1 - e < -126 || 1 - e > 127) return false;
  Literal r(Shape(t, {}));
  r.SetFromDouble(0, 1.0 / v);
  Builder& b = rw.builder();
  ASSIGN_OR_RETURN(Instruction * k, b.Constant(std::move(r)));
  Instruction* kb = k;
  if (!inst->shape.is_scalar()) {
    ASSIGN_OR_RETURN(kb, b.Broadcast(k, inst->shape.dims, {}));
  }
  ASSIGN_OR_RETURN(Instruction * m, b.Binary(Opcode::kMultiply, inst->operand(0), kb));
  return rw.ReplaceWithNew(inst, m);
}

// A slice of the last dim only (every other dim whole, stride 1).
bool IsLastDimSlice(const Instruction* s) {
  if (s->opcode != Opcode::kSlice) return false;
  const Shape& x = s->operand(0)->shape;
  if (x.rank() < 1 || s->slice_strides.back() != 1) return false;
  for (int64_t d = 0; d + 1 < x.rank(); ++d)
    if (s->slice_starts[d] != 0 || s->slice_limits[d] != x.dims[d] || s->slice_strides[d] != 1) return false;
  return true;
}

// slice(p)[..., a:b] -> p's op on slices of its operands, when every reader
// of p is such a slice (the slices partition p's work, e.g. the Q, K and V
// column blocks of one projection): p elementwise (operands sliced, scalars
// kept), a broadcast (its operand sliced if it supplies the last dim), a
// reshape keeping the last dim, or a dot with a 2-D [K, N] rhs (rhs columns
// sliced). Exact: every output element is computed as before.
StatusOr<bool> SliceHoist(Rewriter& rw, Instruction* inst) {
  if (!IsLastDimSlice(inst)) return false;
  Instruction* p = inst->operand(0);
  if (rw.IsEntryOutput(p) || rw.IsRoot(p)) return false;
  for (Instruction* u : rw.Users(p))
    if (!IsLastDimSlice(u) || u->operand(0) != p) return false;
  const int64_t r = p->shape.rank();
  const int64_t a = inst->slice_starts.back(), lim = inst->slice_limits.back();
  Builder& b = rw.builder();
  // x sliced along its last dim to [a, lim).
  auto last_slice = [&](Instruction* x) -> StatusOr<Instruction*> {
    std::vector<int64_t> st(x->shape.rank(), 0), li = x->shape.dims, sd(x->shape.rank(), 1);
    st.back() = a;
    li.back() = lim;
    return b.Slice(x, st, li, sd);
  };
  std::vector<Instruction*> ops = p->operands;
  if (IsElementwise(*p)) {
    for (Instruction*& o : ops) {
      if (o->shape.is_scalar()) continue;
      if (o->shape.dims != p->shape.dims) return false;
      ASSIGN_OR_RETURN(o, last_slice(o));
    }
  } else if (p->opcode == Opcode::kBroadcast) {
    const std::vector<int64_t>& d = p->dimensions;
    if (!d.empty() && d.back() == r - 1) {
      ASSIGN_OR_RETURN(ops[0], last_slice(ops[0]));
    } else if (std::find(d.begin(), d.end(), r - 1) != d.end()) {
      return false;
    }
  } else if (p->opcode == Opcode::kReshape) {
    if (r < 1 || ops[0]->shape.rank() < 1 || ops[0]->shape.dims.back() != p->shape.dims.back()) return false;
    ASSIGN_OR_RETURN(ops[0], last_slice(ops[0]));
  } else if (p->opcode == Opcode::kDot) {
    const Instruction* w = ops[1];
    if (w->shape.rank() != 2 || !p->dot_dims.rhs_batch.empty() || p->dot_dims.rhs_contracting != std::vector<int64_t>{0})
      return false;
    ASSIGN_OR_RETURN(ops[1], last_slice(ops[1]));
  } else {
    return false;
  }
  auto copy = std::make_unique<Instruction>(*p);
  copy->operands = ops;
  copy->shape.dims.back() = lim - a;
  ASSIGN_OR_RETURN(Instruction * h, b.Add(std::move(copy)));
  return rw.ReplaceWithNew(inst, h);
}

// broadcast to the operand's own shape, dims in order -> its operand.
StatusOr<bool> BroadcastIdentity(Rewriter& rw, Instruction* inst) {
  if (inst->operand(0)->shape != inst->shape || !IsIdentityPermutation(inst->dimensions)) return false;
  return rw.Replace(inst, inst->operand(0));
}

// concatenate of one operand -> that operand.
StatusOr<bool> ConcatenateOne(Rewriter& rw, Instruction* inst) {
  if (inst->operands.size() != 1) return false;
  return rw.Replace(inst, inst->operand(0));
}

// pad with no padding anywhere -> its operand.
StatusOr<bool> PadNone(Rewriter& rw, Instruction* inst) {
  for (const PadDim& p : inst->padding)
    if (p.lo != 0 || p.hi != 0 || p.interior != 0) return false;
  return rw.Replace(inst, inst->operand(0));
}

// reverse of no dimensions -> its operand.
StatusOr<bool> ReverseNone(Rewriter& rw, Instruction* inst) {
  if (!inst->dimensions.empty()) return false;
  return rw.Replace(inst, inst->operand(0));
}

// select(true, a, b) -> a; select(false, a, b) -> b (the predicate a
// constant, or a broadcast of one, with one value everywhere).
StatusOr<bool> SelectConstantPredicate(Rewriter& rw, Instruction* inst) {
  if (IsConstantWithValue(inst->operand(0), 1)) return rw.Replace(inst, inst->operand(1));
  if (IsConstantWithValue(inst->operand(0), 0)) return rw.Replace(inst, inst->operand(2));
  return false;
}

// select(p, a, a) -> a.
StatusOr<bool> SelectSameBranches(Rewriter& rw, Instruction* inst) {
  if (inst->operand(1) != inst->operand(2)) return false;
  return rw.Replace(inst, inst->operand(1));
}

// op(x, x) -> x for maximum, minimum, and, or (NaN: max(NaN, NaN) is NaN).
StatusOr<bool> SameOperands(Rewriter& rw, Instruction* inst) {
  if (inst->operand(0) != inst->operand(1)) return false;
  return rw.Replace(inst, inst->operand(0));
}

// The rules, one per line: name, opcode, rewrite.
const RewriteRule kRules[] = {
    {"add-zero", Opcode::kAdd, AddZero},
    {"subtract-zero", Opcode::kSubtract, SubtractZero},
    {"multiply-one", Opcode::kMultiply, MultiplyOne},
    {"divide-one", Opcode::kDivide, DivideOne},
    {"negate-negate", Opcode::kNegate, NegateNegate},
    {"convert-same-type", Opcode::kConvert, ConvertSameType},
    {"copy", Opcode::kCopy, Copy},
    {"reshape-same-shape", Opcode::kReshape, ReshapeSameShape},
    {"reshape-reshape", Opcode::kReshape, ReshapeReshape},
    {"transpose-identity", Opcode::kTranspose, TransposeIdentity},
    {"transpose-transpose", Opcode::kTranspose, TransposeTranspose},
    {"divide-power-of-two", Opcode::kDivide, DividePowerOfTwo},
    {"slice-full", Opcode::kSlice, SliceFull},
    {"slice-hoist", Opcode::kSlice, SliceHoist},
    {"broadcast-identity", Opcode::kBroadcast, BroadcastIdentity},
    {"concatenate-one", Opcode::kConcatenate, ConcatenateOne},
    {"pad-none", Opcode::kPad, PadNone},
    {"reverse-none", Opcode::kReverse, ReverseNone},
    {"select-constant-predicate", Opcode::kSelect, SelectConstantPredicate},
    {"select-same-branches", Opcode::kSelect, SelectSameBranches},
    {"maximum-same", Opcode::kMaximum, SameOperands},
    {"minimum-same", Opcode::kMinimum, SameOperands},
    {"and-same", Opcode::kAnd, SameOperands},
    {"or-same", Opcode::kOr, SameOperands},
};

class AlgebraicSimplifier : public Pass {
 public:
  std::string_view name() const override { return "algsimp"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    return ApplyRewriteRules(module, kRules, kMaxSweeps);
  }
};

}  // namespace

std::unique_ptr<Pass> CreateAlgebraicSimplifierPass() { return std::make_unique<AlgebraicSimplifier>(); }

}  // namespace xtpu::compiler
