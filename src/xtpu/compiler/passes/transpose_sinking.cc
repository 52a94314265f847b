// transpose-sinking: moves transposes toward the outputs until they meet
// their inverse and vanish, so a CNN imported as NCHW computes in NHWC
// between its convolutions (after layout-assignment put transposes around
// each one) and keeps transposes only at its inputs and outputs, and around
// reshapes, dots and other ops a transpose cannot pass.
//
// Rules, with T = transpose(x, P) (result dim i is x's dim P[i]):
//  - transpose(T, Q) -> transpose(x, P∘Q), or x when that is the identity;
//  - a transpose that moves only dims of size 1 -> reshape (same bytes);
//  - elementwise op(T, ...) -> T(op(x, ...)) when every other operand of
//    the result's shape is a transpose by the same P, a broadcast (its
//    dimensions are remapped), a constant (transposed now), a scalar, a
//    value that already has a transpose by P's inverse (reused), or a model
//    input (transposed at the input);
//  - reduce(T, dims) -> reduce(x, P[dims]), then a transpose of what is
//    left if its order changed;
//  - pad, slice, reverse, reduce-window of T -> the op on x with its
//    per-dim attributes permuted, then T; concatenate likewise when every
//    operand is a transpose by P.
// (A broadcast cannot take a transpose in: its dims would have to permute.)
// A transpose is only moved when every reader of it can take it (so moving
// one never leaves a copy behind for another reader). Repeats to a fixed
// point (capped). Exact: values are only moved, never recomputed.
#include <algorithm>

#include "xtpu/compiler/passes/lowering.h"
#include "xtpu/compiler/passes/lowering_util.h"

namespace xtpu::compiler {
namespace {

constexpr int kMaxSweeps = 64;

bool IsTranspose(const Instruction* i) { return i->opcode == Opcode::kTranspose; }

// Permutes per-dim attributes: out[P[i]] = in[i].
template <typename T>
std::vector<T> Scatter(const std::vector<T>& in, const std::vector<int64_t>& perm) {
  std::vector<T> out(in.size());
  for (size_t i = 0; i < in.size(); ++i) out[perm[i]] = in[i];
  return out;
}

// The broadcast `bc` (of the transposed layout) rebuilt in x's layout:
// operand dim j goes to result dim P[dims[j]]. Null if that order is not
// increasing and the operand is neither a constant nor rank <= 1.
StatusOr<Instruction*> UntransposeBroadcast(Builder& b, Instruction* bc, const std::vector<int64_t>& perm) {
  Instruction* y = bc->operands[0];
  std::vector<int64_t> dims;
  for (int64_t d : bc->dimensions) dims.push_back(perm[d]);
  std::vector<int64_t> out_dims = Scatter(bc->shape.dims, perm);
  if (!std::is_sorted(dims.begin(), dims.end())) {
    if (y->opcode != Opcode::kConstant) return nullptr;
    // Transpose the constant so its dims appear in increasing order.
    std::vector<int64_t> q(dims.size());
    for (size_t k = 0; k < q.size(); ++k) q[k] = static_cast<int64_t>(k);
    std::sort(q.begin(), q.end(), [&](int64_t a, int64_t c) { return dims[a] < dims[c]; });
    ASSIGN_OR_RETURN(y, MakeTranspose(b, y, q));
    std::vector<int64_t> sorted;
    for (int64_t k : q) sorted.push_back(dims[k]);
    dims = sorted;
  }
  return b.Broadcast(y, out_dims, dims);
}

// A transpose whose dims of size > 1 keep their order (e.g. [128,1,768] ->
// [1,128,768]) moves no element.
bool MovesOnlyUnitDims(const Instruction& t) {
  int64_t last = -1;
  for (size_t i = 0; i < t.dimensions.size(); ++i) {
    if (t.shape.dims[i] == 1) continue;
    if (t.dimensions[i] < last) return false;
    last = t.dimensions[i];
  }
  return true;
}

class Sinker {
 public:
  explicit Sinker(Rewriter& rw) : rw_(rw), b_(rw.builder()) {}

  StatusOr<bool> Visit(Instruction* inst) {
    if (IsTranspose(inst)) return Compose(inst);
    if (IsElementwise(*inst)) return Elementwise(inst);
    switch (inst->opcode) {
      case Opcode::kReduce: return Reduce(inst);
      case Opcode::kPad:
      case Opcode::kSlice:
      case Opcode::kReverse:
      case Opcode::kReduceWindow: return PerDim(inst);
      case Opcode::kConcatenate: return Concatenate(inst);
      default: return false;
    }
  }

 private:
  // Can every reader of `t` take the transpose through it? (Checked loosely:
  // by opcode; readers that then do not move keep their own copy.)
  bool AllReadersSink(Instruction* t) {
    if (rw_.IsRoot(t) || rw_.IsEntryOutput(t)) return false;
    for (const Instruction* u : rw_.Users(t)) {
      if (IsTranspose(u) || IsElementwise(*u)) continue;
      switch (u->opcode) {
        case Opcode::kReduce:
        case Opcode::kPad:
        case Opcode::kSlice:
        case Opcode::kReverse:
        case Opcode::kReduceWindow:
        case Opcode::kConcatenate: continue;
        default: return false;
      }
    }
    return true;
  }

  // The transposed operand to move, if operand `i` is one that may move.
  Instruction* Movable(Instruction* inst, size_t i) {
    Instruction* t = inst->operands[i];
    return IsTranspose(t) && AllReadersSink(t) ? t : nullptr;
  }

  // Replaces `inst` by transpose(moved): `moved` (the op now before the
  // transpose) keeps inst's name, unless inst is a model output, whose name
  // stays with the value the output reads.
  StatusOr<bool> ReplaceByMoved(Instruction* inst, Instruction* moved, const std::vector<int64_t>& perm) {
    ASSIGN_OR_RETURN(Instruction * t, MakeTranspose(b_, moved, perm));
    if (t != moved && !rw_.IsEntryOutput(inst)) std::swap(inst->name, moved->name);
    return rw_.ReplaceWithNew(inst, t);
  }

  // An existing transpose of `o` by the inverse of `p` (e.g. a residual
  // input that also feeds a convolution), or null.
  Instruction* InverseOf(Instruction* o, const std::vector<int64_t>& p) {
    std::vector<int64_t> inv = InversePermutation(p);
    for (Instruction* u : rw_.Users(o))
      if (IsTranspose(u) && u->dimensions == inv && !rw_.IsUnused(u)) return u;
    return nullptr;
  }

  StatusOr<bool> Compose(Instruction* inst) {
    Instruction* t = inst->operands[0];
    if (!IsTranspose(t)) {
      if (IsIdentityPermutation(inst->dimensions)) return rw_.Replace(inst, t);
      if (!MovesOnlyUnitDims(*inst)) return false;
      // The same bytes in the same order: a reshape (free), not a transpose.
      ASSIGN_OR_RETURN(Instruction * r, b_.Reshape(t, inst->shape.dims));
      return rw_.ReplaceWithNew(inst, r);
    }
    std::vector<int64_t> composed = ComposePermutations(t->dimensions, inst->dimensions);
    ASSIGN_OR_RETURN(Instruction * r, MakeTranspose(b_, t->operands[0], composed));
    if (r == t->operands[0]) return rw_.Replace(inst, r);
    return rw_.ReplaceWithNew(inst, r);
  }

  StatusOr<bool> Elementwise(Instruction* inst) {
    const std::vector<int64_t>& dims = inst->shape.dims;
    Instruction* moving = nullptr;
    for (size_t i = 0; i < inst->operands.size() && !moving; ++i)
      if (Instruction* t = Movable(inst, i); t && inst->operands[i]->shape.dims == dims) moving = t;
    if (!moving) return false;
    const std::vector<int64_t> p = moving->dimensions;
    std::vector<Instruction*> ops;
    for (Instruction* o : inst->operands) {
      if (o->shape.dims != dims || o->shape.is_scalar()) {
        ops.push_back(o);  // a scalar (clamp bound, select predicate)
      } else if (IsTranspose(o) && o->dimensions == p) {
        ops.push_back(o->operands[0]);
      } else if (o->opcode == Opcode::kConstant) {
        ASSIGN_OR_RETURN(Instruction * c, MakeTranspose(b_, o, InversePermutation(p)));
        ops.push_back(c);
      } else if (o->opcode == Opcode::kBroadcast) {
        ASSIGN_OR_RETURN(Instruction * bc, UntransposeBroadcast(b_, o, p));
        if (!bc) return false;
        ops.push_back(bc);
      } else if (Instruction* inv = InverseOf(o, p)) {
        ops.push_back(inv);
      } else if (o->opcode == Opcode::kParameter && moving->operands[0]->opcode != Opcode::kParameter) {
        // A model input: its transpose sits at the inputs. (Not when the
        // moving transpose is an input's too: the two would swap forever.)
        ASSIGN_OR_RETURN(Instruction * t, b_.Transpose(o, InversePermutation(p)));
        ops.push_back(t);
      } else {
        return false;
      }
    }
    auto copy = std::make_unique<Instruction>(*inst);
    copy->operands = ops;
    copy->name.clear();
    copy->shape.dims = Scatter(dims, p);
    ASSIGN_OR_RETURN(Instruction * moved, b_.Add(std::move(copy)));
    return ReplaceByMoved(inst, moved, p);
  }

  StatusOr<bool> Reduce(Instruction* inst) {
    if (inst->operands.size() != 2) return false;
    Instruction* t = Movable(inst, 0);
    if (!t) return false;
    const std::vector<int64_t>& p = t->dimensions;
    std::vector<int64_t> dims;
    for (int64_t d : inst->dimensions) dims.push_back(p[d]);
    std::sort(dims.begin(), dims.end());
    ASSIGN_OR_RETURN(Instruction * r, b_.Reduce({t->operands[0]}, {inst->operands[1]}, dims, inst->to_apply));
    // x's kept dims in increasing order; the original keeps dims i (not
    // reduced) in order, which are x's dims p[i].
    std::vector<int64_t> kept_x;
    for (int64_t d = 0; d < static_cast<int64_t>(p.size()); ++d)
      if (!std::binary_search(dims.begin(), dims.end(), d)) kept_x.push_back(d);
    std::vector<int64_t> back;
    for (int64_t i = 0; i < static_cast<int64_t>(p.size()); ++i) {
      if (std::find(inst->dimensions.begin(), inst->dimensions.end(), i) != inst->dimensions.end()) continue;
      back.push_back(std::find(kept_x.begin(), kept_x.end(), p[i]) - kept_x.begin());
    }
    return ReplaceByMoved(inst, r, back);
  }

  StatusOr<bool> PerDim(Instruction* inst) {
    Instruction* t = Movable(inst, 0);
    if (!t) return false;
    const std::vector<int64_t>& p = t->dimensions;
    auto copy = std::make_unique<Instruction>(*inst);
    copy->name.clear();
    copy->operands[0] = t->operands[0];
    switch (inst->opcode) {
      case Opcode::kPad: copy->padding = Scatter(inst->padding, p); break;
      case Opcode::kSlice:
        copy->slice_starts = Scatter(inst->slice_starts, p);
        copy->slice_limits = Scatter(inst->slice_limits, p);
        copy->slice_strides = Scatter(inst->slice_strides, p);
        break;
      case Opcode::kReverse:
        for (int64_t& d : copy->dimensions) d = p[d];
        std::sort(copy->dimensions.begin(), copy->dimensions.end());
        break;
      case Opcode::kReduceWindow:
        if (inst->shape.is_tuple) return false;
        copy->window = Scatter(inst->window, p);
        break;
      default: return false;
    }
    copy->shape.dims = Scatter(inst->shape.dims, p);
    ASSIGN_OR_RETURN(Instruction * moved, b_.Add(std::move(copy)));
    return ReplaceByMoved(inst, moved, p);
  }

  StatusOr<bool> Concatenate(Instruction* inst) {
    Instruction* first = Movable(inst, 0);
    if (!first) return false;
    const std::vector<int64_t> p = first->dimensions;
    std::vector<Instruction*> ops;
    for (size_t i = 0; i < inst->operands.size(); ++i) {
      Instruction* t = Movable(inst, i);
      if (!t || t->dimensions != p) return false;
      ops.push_back(t->operands[0]);
    }
    ASSIGN_OR_RETURN(Instruction * c, b_.Concatenate(ops, p[inst->dimensions[0]]));
    return ReplaceByMoved(inst, c, p);
  }

  Rewriter& rw_;
  Builder& b_;
};

class TransposeSinking : public Pass {
 public:
  std::string_view name() const override { return "transpose-sinking"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    bool changed = false;
    Computation* comp = module.entry();
    for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
      Rewriter rw(module, *comp);
      Sinker sinker(rw);
      bool fired = false;
      for (Instruction* inst : rw.Instructions()) {
        if (rw.IsUnused(inst)) continue;
        ASSIGN_OR_RETURN(bool f, sinker.Visit(inst));
        fired |= f;
      }
      rw.Finish();
      if (!fired) break;
      changed = true;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> CreateTransposeSinkingPass() { return std::make_unique<TransposeSinking>(); }

}  // namespace xtpu::compiler
