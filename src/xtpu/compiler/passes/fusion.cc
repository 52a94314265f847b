// fusion: groups instructions the chip runs as one kernel into `fusion`
// instructions (module.h) whose called computation holds them.
//
//  (a) Output (epilogue) fusion: a dot or convolution followed by a chain of
//      elementwise ops that the matrix unit's epilogue applies as results
//      drain: add/subtract/multiply of a bias (a broadcast of a vector along
//      the last dim), add/subtract/multiply/maximum/minimum with a scalar
//      constant (relu = maximum with 0), clamp between scalar constants
//      (relu6), and a residual add of a same-shape tensor. Each value of the
//      chain must have one reader (the next op), so nothing needs it
//      unfused. -> fusion(kind=output): parameters 0 and 1 are the dot's or
//      convolution's operands, then residuals and bias vectors.
//  (b) Loop fusion: maximal DAGs of elementwise ops of one output shape whose
//      inner values each have one reader inside the DAG, plus the broadcasts
//      that feed them (copied in, their operand becoming a parameter, or a
//      scalar constant copied in). -> fusion(kind=loop). Reductions, dots,
//      convolutions and data movement are never loop-fused.
//  (c) Row fusion (before (b)): reductions over the last dim, the
//      broadcasts of their results back over it and the float elementwise
//      ops around them (softmax, layer normalization), after moving
//      transposes of row values upstream. -> fusion(kind=row). See RowFuser.
// Before (a), a reshape that canonicalize-dot left after a dot moves past
// the epilogue ops when it keeps the last dim (see ReshapeMover).
// Runs on the entry computation; fused computations go before it. Exact:
// the same ops run on the same values.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "xtpu/compiler/passes/lowering.h"
#include "xtpu/compiler/passes/lowering_util.h"

namespace xtpu::compiler {
namespace {

// A scalar constant, seen through broadcasts and reshapes; or a constant
// whose elements are all equal. Returns the value as a scalar literal.
std::optional<Literal> ScalarConstant(const Instruction* x) {
  while (x->opcode == Opcode::kBroadcast || x->opcode == Opcode::kReshape) x = x->operands[0];
  if (x->opcode != Opcode::kConstant) return std::nullopt;
  const Literal& l = x->literal;
  if (l.num_elements() == 0) return std::nullopt;
  const size_t esize = static_cast<size_t>(DTypeBytes(l.dtype()));
  const uint8_t* p = l.bytes().data();
  for (int64_t i = 1; i < l.num_elements(); ++i)
    if (!std::equal(p, p + esize, p + i * esize)) return std::nullopt;
  Literal s(Shape(l.dtype(), {}));
  std::copy(p, p + esize, s.mutable_bytes().data());
  return s;
}

// A broadcast of a vector along the last dim of its result.
bool IsBias(const Instruction* x) {
  return x->opcode == Opcode::kBroadcast && x->operands[0]->shape.rank() == 1 && x->shape.rank() >= 1 &&
         x->dimensions == std::vector<int64_t>{x->shape.rank() - 1};
}

// Builds one fused computation: parameters for outside values (each once),
// copies of the grouped instructions.
class FusedBuilder {
 public:
  FusedBuilder(Module& module, const std::string& stem)
      : module_(module), comp_(std::make_unique<Computation>(UniqueComputationName(module, stem))),
        b_(&module, comp_.get()) {}

  Builder& builder() { return b_; }
  const std::vector<Instruction*>& operands() const { return operands_; }

  // The parameter standing for outside value `x` (made on first use).
  StatusOr<Instruction*> Param(Instruction* x) {
    if (auto it = params_.find(x); it != params_.end()) return it->second;
    ASSIGN_OR_RETURN(Instruction * p, FreshParam(x));
    params_[x] = p;
    return p;
  }
  // A parameter for `x` of its own, even if `x` has one already (the
  // operands of an output fusion's dot are parameters 0 and 1 only).
  StatusOr<Instruction*> FreshParam(Instruction* x) {
    ASSIGN_OR_RETURN(Instruction * p, b_.Parameter(static_cast<int64_t>(operands_.size()), x->shape,
                                                   x->name + ".param"));
    operands_.push_back(x);
    return p;
  }

  // A copy of `inst` reading `ops`.
  StatusOr<Instruction*> Copy(const Instruction* inst, std::vector<Instruction*> ops) {
    auto c = std::make_unique<Instruction>(*inst);
    c->operands = std::move(ops);
    return b_.Add(std::move(c));
  }

  // Copies `members` (in program order) into the computation: an operand
  // already copied is read from its copy, any other from
  // outside(member, operand index) (a parameter, a constant, an inlined
  // broadcast; it may record its copy in `inside`). Returns the copies.
  template <typename Outside>
  StatusOr<std::unordered_map<const Instruction*, Instruction*>> CopyMembers(const std::vector<Instruction*>& members,
                                                                            Outside outside) {
    std::unordered_map<const Instruction*, Instruction*> inside;  // original -> copy
    for (Instruction* m : members) {
      std::vector<Instruction*> ops;
      for (size_t oi = 0; oi < m->operands.size(); ++oi) {
        if (auto it = inside.find(m->operands[oi]); it != inside.end()) {
          ops.push_back(it->second);
          continue;
        }
        ASSIGN_OR_RETURN(Instruction * x, outside(m, oi, inside));
        ops.push_back(x);
      }
      ASSIGN_OR_RETURN(Instruction * c, Copy(m, ops));
      inside[m] = c;
    }
    return inside;
  }

  // A scalar constant broadcast to `dims` (or the scalar itself for rank 0).
  StatusOr<Instruction*> Splat(Literal scalar, const std::vector<int64_t>& dims) {
    ASSIGN_OR_RETURN(Instruction * c, b_.Constant(std::move(scalar)));
    if (dims.empty()) return c;
    return b_.Broadcast(c, dims, {});
  }

  // Adds the computation before the entry and a fusion of it to `entry`.
  StatusOr<Instruction*> Finish(Builder& entry, Instruction* root, FusionKind kind) {
    comp_->set_root(root);
    Computation* c = module_.InsertComputationBefore(std::move(comp_), module_.entry());
    auto f = std::make_unique<Instruction>();
    f->opcode = Opcode::kFusion;
    f->name = "fusion";
    f->operands = operands_;
    f->fusion_kind = kind;
    f->to_apply = c;
    return entry.Add(std::move(f));
  }

 private:
  static std::string UniqueComputationName(const Module& m, const std::string& stem) {
    std::string name = stem;
    for (int n = 1; m.FindComputation(name) != nullptr; ++n) name = stem + "." + std::to_string(n);
    return name;
  }

  Module& module_;
  std::unique_ptr<Computation> comp_;
  Builder b_;
  std::vector<Instruction*> operands_;
  std::unordered_map<const Instruction*, Instruction*> params_;
};

// ---- (a) output fusion --------------------------------------------------

enum class OtherKind { kResidual, kBias, kScalar };

// How `op` (reading chain value `cur`) fits the epilogue; nullopt if not.
std::optional<OtherKind> EpilogueOperand(const Instruction* op, const Instruction* cur) {
  if (op->shape != cur->shape) return std::nullopt;
  const Instruction* other = op->operands[0] == cur ? op->operands[1] : op->operands[0];
  // x / c by a scalar constant (the vector unit's immediate divide).
  if (op->opcode == Opcode::kDivide)
    return op->operands[0] == cur && op->operands[1] != cur && ScalarConstant(other) ? std::optional(OtherKind::kScalar)
                                                                                    : std::nullopt;
  switch (op->opcode) {
    case Opcode::kAdd:
    case Opcode::kSubtract:
    case Opcode::kMultiply:
    case Opcode::kMaximum:
    case Opcode::kMinimum:
      break;
    default:
      return std::nullopt;
  }
  if (ScalarConstant(other)) return OtherKind::kScalar;
  if (op->opcode == Opcode::kMaximum || op->opcode == Opcode::kMinimum) return std::nullopt;
  if (IsBias(other)) return OtherKind::kBias;
  if (op->opcode == Opcode::kAdd && other->shape == cur->shape) return OtherKind::kResidual;
  return std::nullopt;
}

bool IsScalarClamp(const Instruction* op, const Instruction* cur) {
  return op->opcode == Opcode::kClamp && op->operands[1] == cur && op->shape == cur->shape &&
         ScalarConstant(op->operands[0]) && ScalarConstant(op->operands[2]);
}

// Before epilogue fusion: canonicalize-dot leaves reshape(dot) when the dot
// had several free dims ([1,128,768] x [768,N] runs as [128,768] x [768,N]).
// An epilogue op reading such a reshape runs on the dot's shape instead, and
// the reshape moves after it: op(reshape(x), o) -> reshape(op(x, o')). Valid
// when the reshape keeps the last dim's size, so a bias along the last dim
// stays along it (flat index mod size is the same); o' is the scalar or bias
// broadcast rebuilt for x's shape, or a residual reshaped to it.
bool IsEpilogueUnary(const Instruction* u, const Instruction* cur);
bool IsEpilogueBinOp(Opcode op);

class ReshapeMover {
 public:
  explicit ReshapeMover(Rewriter& rw) : rw_(rw) {}

  StatusOr<bool> Visit(Instruction* op) {
    // Dot results only (the epilogues of output fusions): a unary op of a
    // reshaped chain value, and an op of two reshapes of chain values of one
    // shape (x * f(x)), run before the reshape, whatever its other readers.
    if (op->operands.size() == 1 && op->operands[0]->opcode == Opcode::kReshape &&
        IsEpilogueUnary(op, op->operands[0])) {
      Instruction* x = Source(op->operands[0]);
      if (!ChainValue(x) || !DotChain(x)) return false;
      return MoveWith(op, {x});
    }
    if (op->operands.size() == 2 && IsEpilogueBinOp(op->opcode) && op->operands[0]->opcode == Opcode::kReshape &&
        op->operands[1]->opcode == Opcode::kReshape) {
      Instruction* a = Source(op->operands[0]);
      Instruction* b = Source(op->operands[1]);
      if (a->shape.dims == b->shape.dims && ChainValue(a) && ChainValue(b) && DotChain(a) && DotChain(b) &&
          (a == b || moved_.count(a) || moved_.count(b)))
        return MoveWith(op, {a, b});
    }
    if (op->operands.size() == 2 && IsEpilogueBinOp(op->opcode)) {
      for (int k = 0; k < 2; ++k) {
        Instruction* r = op->operands[k];
        std::optional<Literal> c = ScalarConstant(op->operands[1 - k]);
        if (r->opcode != Opcode::kReshape || !c || rw_.HasSingleUse(r)) continue;
        Instruction* x = Source(r);
        if (!ChainValue(x) || !DotChain(x)) continue;
        ASSIGN_OR_RETURN(Instruction * kc, rw_.builder().Constant(*c));
        ASSIGN_OR_RETURN(Instruction * kb, rw_.builder().Broadcast(kc, x->shape.dims, {}));
        std::vector<Instruction*> ops = {x, kb};
        if (k == 1) std::swap(ops[0], ops[1]);
        return MoveWith(op, ops);
      }
    }
    if (op->operands.size() != 2 && op->opcode != Opcode::kClamp) return false;
    Instruction* r = nullptr;
    for (Instruction* o : op->operands)
      if (o->opcode == Opcode::kReshape && Movable(o)) r = o;
    if (!r) return false;
    std::optional<OtherKind> kind;
    bool fits = op->operands.size() == 2 ? (kind = EpilogueOperand(op, r)).has_value() : IsScalarClamp(op, r);
    if (!fits) return false;
    Builder& b = rw_.builder();
    Instruction* x = Source(r);
    // A bias runs along the last dim: the reshape must keep it. A scalar or
    // a residual (reshaped the same way) fits any reshape.
    if (kind == OtherKind::kBias && x->shape.dims.back() != r->shape.dims.back()) return false;
    const std::vector<int64_t>& dims = x->shape.dims;
    std::vector<Instruction*> ops;
    for (Instruction* o : op->operands) {
      if (o == r) {
        ops.push_back(x);
      } else if (std::optional<Literal> s = ScalarConstant(o)) {
        ASSIGN_OR_RETURN(Instruction * c, b.Constant(*s));
        if (o->shape.is_scalar()) {
          ops.push_back(c);
        } else {
          ASSIGN_OR_RETURN(Instruction * bc, b.Broadcast(c, dims, {}));
          ops.push_back(bc);
        }
      } else if (IsBias(o)) {
        ASSIGN_OR_RETURN(Instruction * bc, b.Broadcast(o->operands[0], dims, {x->shape.rank() - 1}));
        ops.push_back(bc);
      } else {
        ASSIGN_OR_RETURN(Instruction * rr, MakeReshape(b, o, dims));
        ops.push_back(rr);
      }
    }
    auto copy = std::make_unique<Instruction>(*op);
    copy->operands = ops;
    copy->shape.dims = dims;
    ASSIGN_OR_RETURN(Instruction * moved, b.Add(std::move(copy)));
    moved_.insert(moved);
    if (DotChain(x)) dot_moved_.insert(moved);
    ASSIGN_OR_RETURN(Instruction * out, b.Reshape(moved, op->shape.dims));
    return rw_.ReplaceWithNew(op, out);
  }

 private:
  // op on `ops` (of the source shape), then the reshape to op's shape.
  StatusOr<bool> MoveWith(Instruction* op, std::vector<Instruction*> ops) {
    auto copy = std::make_unique<Instruction>(*op);
    copy->operands = std::move(ops);
    copy->shape.dims = copy->operands[0]->shape.dims;
    ASSIGN_OR_RETURN(Instruction * moved, rw_.builder().Add(std::move(copy)));
    moved_.insert(moved);
    dot_moved_.insert(moved);
    ASSIGN_OR_RETURN(Instruction * out, rw_.builder().Reshape(moved, op->shape.dims));
    return rw_.ReplaceWithNew(op, out);
  }
  // x comes from a dot (not a convolution) through the chain.
  bool DotChain(const Instruction* x, int depth = 0) {
    if (x->opcode == Opcode::kDot || dot_moved_.count(x)) return true;
    if (x->opcode == Opcode::kConvolution || depth > 8) return false;
    for (const Instruction* c : x->operands)
      if (DotChain(c, depth + 1)) return true;
    return false;
  }
  // The value reshaped by r, through reshapes of reshapes read once.
  Instruction* Source(Instruction* r) {
    Instruction* x = r->operands[0];
    while (x->opcode == Opcode::kReshape && rw_.HasSingleUse(x)) x = x->operands[0];
    return x;
  }
  // The result of a dot or convolution, or of an epilogue op on one (read
  // once each), or an op moved before.
  bool ChainValue(const Instruction* x, int depth = 0) {
    if (x->opcode == Opcode::kDot || x->opcode == Opcode::kConvolution || moved_.count(x)) return true;
    if (depth > 8 || (x->operands.size() != 2 && x->opcode != Opcode::kClamp)) return false;
    for (const Instruction* c : x->operands) {
      if (!rw_.HasSingleUse(c) || !ChainValue(c, depth + 1)) continue;
      if (x->operands.size() == 2 ? EpilogueOperand(x, c).has_value() : IsScalarClamp(x, c)) return true;
    }
    return false;
  }
  // reshape(x) (of reshapes) of a chain value, each read once.
  bool Movable(Instruction* r) {
    const Instruction* x = Source(r);
    return ChainValue(x) && rw_.HasSingleUse(r) && rw_.HasSingleUse(x) && x->shape.rank() >= 1 && r->shape.rank() >= 1;
  }

  Rewriter& rw_;
  std::unordered_set<const Instruction*> moved_;
  std::unordered_set<const Instruction*> dot_moved_;  // moved ops of dot chains
};

// The float unary ops of the vector unit that epilogues and row kernels run.
bool IsVectorUnary(Opcode op) {
  switch (op) {
    case Opcode::kExp:
    case Opcode::kLog:
    case Opcode::kTanh:
    case Opcode::kLogistic:
    case Opcode::kSqrt:
    case Opcode::kRsqrt:
    case Opcode::kErf:
    case Opcode::kNegate:
    case Opcode::kAbs:
      return true;
    default:
      return false;
  }
}

// A float unary op the epilogue runs on the vector unit.
bool IsEpilogueUnary(const Instruction* u, const Instruction* cur) {
  if (!IsVectorUnary(u->opcode)) return false;
  return u->operands.size() == 1 && u->operands[0] == cur && u->shape == cur->shape &&
         (u->shape.dtype == DType::kF32 || u->shape.dtype == DType::kBF16);
}

bool IsEpilogueBinOp(Opcode op) {
  return op == Opcode::kAdd || op == Opcode::kSubtract || op == Opcode::kMultiply || op == Opcode::kDivide ||
         op == Opcode::kMaximum || op == Opcode::kMinimum;
}

// x's reader `u` starts a run of unary ops and scalar-constant ops (each read
// once) whose last value and x are the two operands of `end`:
// end(x, f(x)) as in GELU x * (1 + erf(x / sqrt 2)) / 2 or SiLU x * logistic(x).
bool SideChain(Rewriter& rw, Instruction* x, Instruction* u, Instruction* end, std::vector<Instruction*>* ops) {
  ops->clear();
  Instruction* s = x;
  for (Instruction* v = u; v != end; v = rw.Users(s)[0]) {
    const bool unary = IsEpilogueUnary(v, s);
    const bool scalar = v->operands.size() == 2 && EpilogueOperand(v, s) == OtherKind::kScalar;
    if ((!unary && !scalar) || !rw.HasSingleUse(v) || ops->size() > 16) return false;
    ops->push_back(v);
    s = v;
  }
  return !ops->empty() && end->operands.size() == 2 && IsEpilogueBinOp(end->opcode) && end->shape == x->shape &&
         ((end->operands[0] == x && end->operands[1] == s) || (end->operands[1] == x && end->operands[0] == s));
}

StatusOr<bool> FuseEpilogue(Rewriter& rw, Instruction* mm) {
  std::vector<Instruction*> chain;
  Instruction* cur = mm;
  // The matrix-unit epilogue holds one bias vector and one residual tile, so
  // the chain stops before a second of either (e.g. ConvNeXt's layer scale, a
  // second per-channel vector after the bias, stays in a loop fusion).
  int biases = 0, residuals = 0;
  // Dots only (convolutions keep the plain chain): unary ops, and one value
  // saved for a later op of the chain (the activation x * f(x)).
  const bool dot = mm->opcode == Opcode::kDot;
  bool saved = false;
  while (true) {
    if (rw.HasSingleUse(cur)) {
      Instruction* u = rw.Users(cur)[0];
      std::optional<OtherKind> kind;
      bool ok = u->operands.size() == 2 ? (kind = EpilogueOperand(u, cur)).has_value() : IsScalarClamp(u, cur);
      if (!ok && dot && IsEpilogueUnary(u, cur)) ok = true;
      if (!ok) break;
      if (kind == OtherKind::kBias && ++biases > 1) break;
      if (kind == OtherKind::kResidual && ++residuals > 1) break;
      chain.push_back(u);
      cur = u;
      continue;
    }
    if (!dot || saved || rw.IsEntryOutput(cur) || rw.IsRoot(cur) || rw.Users(cur).size() != 2) break;
    Instruction* u0 = rw.Users(cur)[0];
    Instruction* u1 = rw.Users(cur)[1];
    std::vector<Instruction*> side;
    Instruction* end = nullptr;
    if (SideChain(rw, cur, u0, u1, &side)) end = u1;
    else if (SideChain(rw, cur, u1, u0, &side)) end = u0;
    if (!end) break;
    chain.insert(chain.end(), side.begin(), side.end());
    chain.push_back(end);
    saved = true;
    cur = end;
  }
  if (chain.empty()) return false;
  Module& module = rw.module();
  FusedBuilder fb(module, "fused_output");
  Builder& b = fb.builder();
  ASSIGN_OR_RETURN(Instruction * lhs, fb.FreshParam(mm->operands[0]));
  ASSIGN_OR_RETURN(Instruction * rhs, fb.FreshParam(mm->operands[1]));
  ASSIGN_OR_RETURN(Instruction * value, fb.Copy(mm, {lhs, rhs}));
  const std::vector<int64_t>& dims = mm->shape.dims;
  std::unordered_map<const Instruction*, Instruction*> inside = {{mm, value}};
  for (Instruction* op : chain) {
    std::vector<Instruction*> ops;
    for (Instruction* o : op->operands) {
      if (auto it = inside.find(o); it != inside.end()) {
        ops.push_back(it->second);
      } else if (std::optional<Literal> s = ScalarConstant(o)) {
        ASSIGN_OR_RETURN(Instruction * c, fb.Splat(*s, o->shape.dims));
        ops.push_back(c);
      } else if (IsBias(o)) {
        ASSIGN_OR_RETURN(Instruction * p, fb.Param(o->operands[0]));
        ASSIGN_OR_RETURN(Instruction * bc, b.Broadcast(p, dims, o->dimensions));
        ops.push_back(bc);
      } else {
        ASSIGN_OR_RETURN(Instruction * p, fb.Param(o));
        ops.push_back(p);
      }
    }
    ASSIGN_OR_RETURN(value, fb.Copy(op, ops));
    inside[op] = value;
  }
  ASSIGN_OR_RETURN(Instruction * f, fb.Finish(rw.builder(), value, FusionKind::kOutput));
  return rw.ReplaceWithNew(chain.back(), f);
}

// ---- (c) row fusion -----------------------------------------------------
//
// Softmax and layer normalization: reductions over the last dim whose
// results are broadcast back over it, with elementwise ops on both sides.
// A region of such ops (values of the full shape F = [..., C] or the row
// shape R = F[:-1]) becomes one fusion(kind=row), which the chip runs on
// tiles of whole rows in VMEM: each full value is read from HBM once and
// the result written once (docs/compiler.md, "Row fusion").
//
// First, transposes of row values move upstream, onto the full values the
// rows come from (transpose(reduce(x)) -> reduce(transpose(x)), through
// elementwise ops on row values), so a region sees one row order; transposes
// that keep the last dim are views for code generation.

bool IsFloatType(DType t) { return t == DType::kF32 || t == DType::kBF16; }

// Float elementwise ops the row kernel runs (kernels_row.cc).
bool IsRowKernelOp(const Instruction& i) {
  switch (i.opcode) {
    case Opcode::kAdd:
    case Opcode::kSubtract:
    case Opcode::kMultiply:
    case Opcode::kDivide:
    case Opcode::kMaximum:
    case Opcode::kMinimum:
    case Opcode::kConvert:
      break;
    default:
      if (!IsVectorUnary(i.opcode)) return false;
  }
  if (!IsFloatType(i.shape.dtype)) return false;
  for (const Instruction* o : i.operands)
    if (!IsFloatType(o->shape.dtype)) return false;
  return true;
}

// reduce(x, c) over the last dim of a float x of rank >= 2 with an add,
// maximum or minimum reducer and its identity as the init value.
bool IsRowReduce(const Instruction* x) {
  if (x->opcode != Opcode::kReduce || x->operands.size() != 2) return false;
  const Instruction* in = x->operands[0];
  const int64_t r = in->shape.rank();
  if (r < 2 || x->dimensions != std::vector<int64_t>{r - 1} || !IsFloatType(in->shape.dtype)) return false;
  std::optional<Opcode> op = SimpleReduction(x->to_apply);
  if (!op || (*op != Opcode::kAdd && *op != Opcode::kMaximum && *op != Opcode::kMinimum)) return false;
  std::optional<Literal> init = ScalarConstant(x->operands[1]);
  std::optional<Literal> id = ReductionIdentity(*op, in->shape.dtype);
  return init && id && init->bytes() == id->bytes();
}

class RowFuser {
 public:
  explicit RowFuser(Rewriter& rw) : rw_(rw) {}

  StatusOr<bool> HoistTransposes() {
    bool changed = false;
    for (Instruction* t : rw_.Instructions()) {
      if (t->opcode != Opcode::kTranspose || rw_.IsUnused(t)) continue;
      Instruction* v = t->operands[0];
      if (!Hoistable(v)) continue;
      ASSIGN_OR_RETURN(Instruction * h, Hoist(v, t->dimensions));
      changed |= rw_.ReplaceWithNew(t, h);
    }
    return changed;
  }

  StatusOr<bool> Fuse() {
    std::vector<Instruction*> insts = rw_.Instructions();
    for (size_t i = 0; i < insts.size(); ++i) index_[insts[i]] = i;
    bool changed = false;
    for (auto it = insts.rbegin(); it != insts.rend(); ++it) {
      Instruction* root = *it;
      if (grouped_.count(root) || rw_.IsUnused(root) || !IsRowKernelOp(*root) || root->shape.rank() < 2) continue;
      ASSIGN_OR_RETURN(bool fused, FuseFrom(root));
      changed |= fused;
    }
    return changed;
  }

 private:
  // v (read once, by a transpose) is a row value computed from row
  // reductions by elementwise ops and scalar constants.
  bool Hoistable(const Instruction* v) {
    if (!rw_.HasSingleUse(v)) return false;
    if (IsRowReduce(v)) return true;
    if (!IsRowKernelOp(*v)) return false;
    for (const Instruction* o : v->operands)
      if (!ScalarConstant(o) && !Hoistable(o)) return false;
    return true;
  }

  // transpose(x, perm), reusing an existing one.
  StatusOr<Instruction*> TransposeOf(Instruction* x, const std::vector<int64_t>& perm) {
    for (Instruction* u : rw_.Users(x))
      if (u->opcode == Opcode::kTranspose && u->dimensions == perm) return u;
    return MakeTranspose(rw_.builder(), x, perm);
  }

  // transpose(v, perm) computed upstream of v.
  StatusOr<Instruction*> Hoist(Instruction* v, const std::vector<int64_t>& perm) {
    std::vector<int64_t> dims(perm.size());
    for (size_t i = 0; i < perm.size(); ++i) dims[i] = v->shape.dims[perm[i]];
    auto copy = std::make_unique<Instruction>(*v);
    copy->shape.dims = dims;
    if (IsRowReduce(v)) {
      std::vector<int64_t> full = perm;
      full.push_back(static_cast<int64_t>(perm.size()));
      ASSIGN_OR_RETURN(Instruction * x, TransposeOf(v->operands[0], full));
      copy->operands = {x, v->operands[1]};
    } else {
      for (Instruction*& o : copy->operands) {
        if (std::optional<Literal> c = ScalarConstant(o)) {
          ASSIGN_OR_RETURN(Instruction * k, rw_.builder().Constant(*c));
          ASSIGN_OR_RETURN(o, rw_.builder().Broadcast(k, dims, {}));
        } else {
          ASSIGN_OR_RETURN(o, Hoist(o, perm));
        }
      }
    }
    return rw_.builder().Add(std::move(copy));
  }

  enum class Shp { kFull, kRow, kOther };
  Shp ShapeClass(const Instruction* x, const std::vector<int64_t>& full) const {
    if (x->shape.dims == full) return Shp::kFull;
    if (x->shape.dims.size() + 1 == full.size() && std::equal(x->shape.dims.begin(), x->shape.dims.end(), full.begin()))
      return Shp::kRow;
    return Shp::kOther;
  }
  // broadcast(row value) along the last dim of `full`.
  bool IsRowBroadcast(const Instruction* x, const std::vector<int64_t>& full) const {
    if (x->opcode != Opcode::kBroadcast || x->shape.dims != full) return false;
    std::vector<int64_t> d(full.size() - 1);
    for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<int64_t>(i);
    return x->dimensions == d && IsFloatType(x->shape.dtype);
  }
  bool IsVectorBroadcast(const Instruction* x, const std::vector<int64_t>& full) const {
    return x->opcode == Opcode::kBroadcast && x->shape.dims == full && x->operands[0]->shape.rank() == 1 &&
           x->dimensions == std::vector<int64_t>{static_cast<int64_t>(full.size()) - 1} && IsFloatType(x->shape.dtype);
  }
  // Operand k of op m may be broadcast x: row/vector broadcasts only as the
  // second operand (the vector unit's broadcast input) or either operand of
  // a commutative op, or the first of subtract (computed as -(b - a)).
  static bool BroadcastOperandOk(const Instruction* m, size_t k) {
    if (k == 1) return true;
    switch (m->opcode) {
      case Opcode::kAdd:
      case Opcode::kMultiply:
      case Opcode::kMaximum:
      case Opcode::kMinimum:
      case Opcode::kSubtract:
        return m->operands.size() == 2 && !(m->operands[1]->opcode == Opcode::kBroadcast);
      default:
        return false;
    }
  }
  // A scalar constant as the first operand of a non-commutative op (c / x)
  // has no immediate form: c - x is -(x - c), others are left out.
  static bool ScalarOperandOk(const Instruction* m, size_t k) {
    return k == 1 || m->opcode != Opcode::kDivide;
  }

  // Whether every reader of x is in the region.
  bool ReadersIn(Instruction* x, const std::unordered_set<Instruction*>& region) {
    if (rw_.IsRoot(x) || rw_.IsEntryOutput(x)) return false;
    for (Instruction* u : rw_.Users(x))
      if (!region.count(u)) return false;
    return true;
  }

  StatusOr<bool> FuseFrom(Instruction* root) {
    const std::vector<int64_t> full = root->shape.dims;
    if (ShapeClass(root, full) != Shp::kFull) return false;
    std::unordered_set<Instruction*> region = {root};
    std::vector<Instruction*> members = {root};
    int reduces = 0;
    // Grow to a fixed point: a value joins when all its readers are members.
    for (bool grew = true; grew;) {
      grew = false;
      for (size_t k = 0; k < members.size(); ++k) {
        Instruction* m = members[k];
        for (size_t oi = 0; oi < m->operands.size(); ++oi) {
          Instruction* o = m->operands[oi];
          if (region.count(o) || grouped_.count(o)) continue;
          if (m->opcode == Opcode::kReduce) {
            if (oi == 0 && IsRowKernelOp(*o) && ShapeClass(o, full) == Shp::kFull && ReadersIn(o, region)) {
              region.insert(o), members.push_back(o), grew = true;
            }
            continue;
          }
          const Shp sc = ShapeClass(o, full);
          const bool ok_shape = sc == ShapeClass(m, full) || m->opcode == Opcode::kBroadcast;
          if (!ok_shape || !ReadersIn(o, region)) continue;
          if ((IsRowKernelOp(*o) && sc != Shp::kOther) || (IsRowReduce(o) && sc == Shp::kRow)) {
            if (IsRowReduce(o)) ++reduces;
            region.insert(o), members.push_back(o), grew = true;
          } else if (IsRowBroadcast(o, full) && ShapeClass(o->operands[0], full) == Shp::kRow &&
                     BroadcastOperandOk(m, oi)) {
            region.insert(o), members.push_back(o), grew = true;
          }
        }
      }
    }
    if (reduces == 0) return false;
    // Operands from outside: full or row values (parameters), vector and
    // scalar-constant broadcasts (copied in); anything else ends the attempt.
    for (Instruction* m : members) {
      for (size_t oi = 0; oi < m->operands.size(); ++oi) {
        Instruction* o = m->operands[oi];
        if (region.count(o)) continue;
        if (m->opcode == Opcode::kReduce) {
          if (oi == 1 || ShapeClass(o, full) == Shp::kFull) continue;
          return false;
        }
        if (m->opcode == Opcode::kBroadcast) {
          if (ShapeClass(o, full) == Shp::kRow && IsFloatType(o->shape.dtype)) continue;
          return false;
        }
        if (ScalarConstant(o)) {
          if (!ScalarOperandOk(m, oi)) return false;
          continue;
        }
        if (IsVectorBroadcast(o, full)) {
          if (!BroadcastOperandOk(m, oi) || ShapeClass(m, full) != Shp::kFull) return false;
          continue;
        }
        const Shp sc = ShapeClass(o, full);
        if (sc == Shp::kOther || sc != ShapeClass(m, full) || !IsFloatType(o->shape.dtype)) return false;
      }
    }
    std::sort(members.begin(), members.end(), [&](Instruction* a, Instruction* c) { return index_[a] < index_[c]; });
    FusedBuilder fb(rw_.module(), "fused_row");
    auto copied = fb.CopyMembers(
        members, [&](Instruction* m, size_t oi, auto&) -> StatusOr<Instruction*> {
          Instruction* o = m->operands[oi];
          if (std::optional<Literal> c = ScalarConstant(o)) return fb.Splat(*c, o->shape.dims);
          if (m->opcode != Opcode::kBroadcast && IsVectorBroadcast(o, full)) {
            ASSIGN_OR_RETURN(Instruction * p, fb.Param(o->operands[0]));
            return fb.Copy(o, {p});
          }
          return fb.Param(o);
        });
    RETURN_IF_ERROR(copied.status());
    std::unordered_map<const Instruction*, Instruction*>& inside = *copied;
    for (Instruction* m : members) grouped_.insert(m);
    ASSIGN_OR_RETURN(Instruction * f, fb.Finish(rw_.builder(), inside[root], FusionKind::kRow));
    return rw_.ReplaceWithNew(root, f);
  }

  Rewriter& rw_;
  std::unordered_map<const Instruction*, size_t> index_;
  std::unordered_set<const Instruction*> grouped_;
};

// ---- (b) loop fusion ----------------------------------------------------

class LoopFuser {
 public:
  explicit LoopFuser(Rewriter& rw) : rw_(rw) {}

  StatusOr<bool> Run() {
    std::vector<Instruction*> insts = rw_.Instructions();
    for (size_t i = 0; i < insts.size(); ++i) index_[insts[i]] = i;
    bool changed = false;
    for (auto it = insts.rbegin(); it != insts.rend(); ++it) {
      Instruction* root = *it;
      if (grouped_.count(root) || !IsElementwise(*root) || rw_.IsUnused(root)) continue;
      ASSIGN_OR_RETURN(bool fused, Fuse(root));
      changed |= fused;
    }
    return changed;
  }

 private:
  // A broadcast whose copy goes into the fusion.
  static bool InlinableBroadcast(const Instruction* x, const std::vector<int64_t>& dims) {
    return x->opcode == Opcode::kBroadcast && x->shape.dims == dims;
  }

  StatusOr<bool> Fuse(Instruction* root) {
    const std::vector<int64_t>& dims = root->shape.dims;
    // Grow the group from the root through single-reader elementwise operands.
    std::vector<Instruction*> members = {root};
    std::unordered_set<Instruction*> in_group = {root};
    int elementwise = 1, broadcasts = 0;
    for (size_t k = 0; k < members.size(); ++k) {
      for (Instruction* o : members[k]->operands) {
        if (in_group.count(o) || grouped_.count(o)) continue;
        if (IsElementwise(*o) && o->shape.dims == dims && rw_.HasSingleUse(o)) {
          members.push_back(o);
          in_group.insert(o);
          ++elementwise;
        } else if (InlinableBroadcast(o, dims)) {
          ++broadcasts;
        }
      }
    }
    if (elementwise + broadcasts < 2) return false;
    std::sort(members.begin(), members.end(),
              [&](Instruction* a, Instruction* c) { return index_[a] < index_[c]; });
    FusedBuilder fb(rw_.module(), "fused_loop");
    auto copied = fb.CopyMembers(
        members, [&](Instruction* m, size_t oi, auto& inside) -> StatusOr<Instruction*> {
          Instruction* o = m->operands[oi];
          Instruction* x = nullptr;
          if (InlinableBroadcast(o, dims)) {
            Instruction* src = o->operands[0];
            if (src->shape.is_scalar() && src->opcode == Opcode::kConstant) {
              ASSIGN_OR_RETURN(x, fb.builder().Constant(src->literal));
            } else {
              ASSIGN_OR_RETURN(x, fb.Param(src));
            }
            ASSIGN_OR_RETURN(x, fb.Copy(o, {x}));
          } else if (o->shape.is_scalar() && o->opcode == Opcode::kConstant) {
            ASSIGN_OR_RETURN(x, fb.builder().Constant(o->literal));
          } else {
            return fb.Param(o);
          }
          inside[o] = x;  // read again by other members
          return x;
        });
    RETURN_IF_ERROR(copied.status());
    std::unordered_map<const Instruction*, Instruction*>& inside = *copied;
    for (Instruction* m : members) grouped_.insert(m);
    ASSIGN_OR_RETURN(Instruction * f, fb.Finish(rw_.builder(), inside[root], FusionKind::kLoop));
    return rw_.ReplaceWithNew(root, f);
  }

  Rewriter& rw_;
  std::unordered_map<const Instruction*, size_t> index_;
  std::unordered_set<const Instruction*> grouped_;
};

class Fusion : public Pass {
 public:
  std::string_view name() const override { return "fusion"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    Computation* entry = module.entry();
    bool changed = false;
    {
      Rewriter rw(module, *entry);
      ReshapeMover mover(rw);
      for (Instruction* inst : rw.Instructions()) {
        if (rw.IsUnused(inst)) continue;
        ASSIGN_OR_RETURN(bool m, mover.Visit(inst));
        changed |= m;
      }
      rw.Finish();
    }
    {
      Rewriter rw(module, *entry);
      for (Instruction* inst : rw.Instructions()) {
        if (inst->opcode != Opcode::kDot && inst->opcode != Opcode::kConvolution) continue;
        ASSIGN_OR_RETURN(bool f, FuseEpilogue(rw, inst));
        changed |= f;
      }
      rw.Finish();
    }
    {
      Rewriter rw(module, *entry);
      RowFuser rows(rw);
      ASSIGN_OR_RETURN(bool h, rows.HoistTransposes());
      changed |= h;
      rw.Finish();
    }
    {
      Rewriter rw(module, *entry);
      RowFuser rows(rw);
      ASSIGN_OR_RETURN(bool f, rows.Fuse());
      changed |= f;
      rw.Finish();
    }
    {
      Rewriter rw(module, *entry);
      LoopFuser fuser(rw);
      ASSIGN_OR_RETURN(bool f, fuser.Run());
      changed |= f;
      rw.Finish();
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> CreateFusionPass() { return std::make_unique<Fusion>(); }

}  // namespace xtpu::compiler
