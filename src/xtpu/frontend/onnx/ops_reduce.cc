// ONNX reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSumExp/LogSum and
// ArgMax/ArgMin (a variadic reduce over value and index), TopK, Det.
#include <algorithm>

#include "xtpu/frontend/onnx/import_context.h"

namespace xtpu::onnx_import {

namespace {

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSumExp, kLogSum };

Converter ReduceOp(Kind kind) {
  return [kind](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
    int64_t r = x->shape.rank();
    ASSIGN_OR_RETURN(int64_t keepdims, ctx.Int("keepdims", 1));
    // Axes moved from attribute to input in opset 13 for ReduceSum, 18 for the rest.
    int64_t input_opset = kind == Kind::kSum ? 13 : 18;
    std::vector<int64_t> axes;
    bool given = false;
    int64_t noop = 0;
    if (ctx.opset() < input_opset) {
      given = ctx.HasAttr("axes");
      ASSIGN_OR_RETURN(axes, ctx.Ints("axes"));
    } else {
      ASSIGN_OR_RETURN(noop, ctx.Int("noop_with_empty_axes", 0));
      if (ctx.has_input(1)) {
        ASSIGN_OR_RETURN(axes, ctx.ConstantInts(1, "axes"));
        given = !axes.empty();
      }
    }
    if (!given) {
      if (noop) {
        ASSIGN_OR_RETURN(Instruction * y, ctx.b().Unary(Opcode::kCopy, x));
        ctx.SetOutput(0, y);
        return OkStatus();
      }
      axes.clear();
      for (int64_t i = 0; i < r; ++i) axes.push_back(i);
    }
    std::vector<int64_t> dims;
    for (int64_t a : axes) {
      ASSIGN_OR_RETURN(int64_t ax, ctx.NormalizeAxis(a, r, "axis"));
      if (std::find(dims.begin(), dims.end(), ax) == dims.end()) dims.push_back(ax);
    }
    std::sort(dims.begin(), dims.end());
    DType t = x->shape.dtype;
    int64_t n = 1;
    for (int64_t d : dims) n *= x->shape.dims[d];
    Instruction* v = x;
    Instruction* y = nullptr;
    switch (kind) {
      case Kind::kL1: { ASSIGN_OR_RETURN(v, ctx.b().Unary(Opcode::kAbs, x)); break; }
      case Kind::kL2:
      case Kind::kSumSquare: { ASSIGN_OR_RETURN(v, ctx.b().Binary(Opcode::kMultiply, x, x)); break; }
      case Kind::kLogSumExp: { ASSIGN_OR_RETURN(v, ctx.b().Unary(Opcode::kExp, x)); break; }
      default: break;
    }
    switch (kind) {
      case Kind::kMax: { ASSIGN_OR_RETURN(y, ctx.Reduce(v, dims, Opcode::kMaximum, LowestValue(t))); break; }
      case Kind::kMin: { ASSIGN_OR_RETURN(y, ctx.Reduce(v, dims, Opcode::kMinimum, HighestValue(t))); break; }
      case Kind::kProd: { ASSIGN_OR_RETURN(y, ctx.Reduce(v, dims, Opcode::kMultiply, 1)); break; }
      default: { ASSIGN_OR_RETURN(y, ctx.Reduce(v, dims, Opcode::kAdd, 0)); break; }
    }
    if (kind == Kind::kMean) {
      ASSIGN_OR_RETURN(Instruction * c, ctx.FullLike(y, static_cast<double>(n)));
      ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kDivide, y, c));
    } else if (kind == Kind::kL2) {
      ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kSqrt, y));
    } else if (kind == Kind::kLogSumExp || kind == Kind::kLogSum) {
      ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kLog, y));
    }
    if (keepdims) {
      std::vector<int64_t> kd = x->shape.dims;
      for (int64_t d : dims) kd[d] = 1;
      ASSIGN_OR_RETURN(y, ctx.Reshape(y, kd));
    }
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

// (va, ia, vb, ib) -> the winner's (value, index): for ArgMax the larger
// value, ties to the smaller index (or the larger with select_last_index).
StatusOr<Computation*> ArgReducer(ImportContext& ctx, DType t, bool is_max, bool last) {
  std::string name = fmt::format("arg{}{}.{}", is_max ? "max" : "min", last ? "_last" : "", DTypeName(t));
  Module* m = ctx.module();
  if (Computation* c = m->FindComputation(name)) return c;
  Computation* c = m->InsertComputationBefore(std::make_unique<Computation>(name), ctx.b().computation());
  Builder b(m, c);
  ASSIGN_OR_RETURN(Instruction * va, b.Parameter(0, Shape(t, {}), "va"));
  ASSIGN_OR_RETURN(Instruction * ia, b.Parameter(1, Shape(DType::kS64, {}), "ia"));
  ASSIGN_OR_RETURN(Instruction * vb, b.Parameter(2, Shape(t, {}), "vb"));
  ASSIGN_OR_RETURN(Instruction * ib, b.Parameter(3, Shape(DType::kS64, {}), "ib"));
  ASSIGN_OR_RETURN(Instruction * better,
                   b.Compare(is_max ? CompareDirection::kGt : CompareDirection::kLt, va, vb));
  ASSIGN_OR_RETURN(Instruction * eq, b.Compare(CompareDirection::kEq, va, vb));
  ASSIGN_OR_RETURN(Instruction * idx_first,
                   b.Compare(last ? CompareDirection::kGt : CompareDirection::kLt, ia, ib));
  ASSIGN_OR_RETURN(Instruction * tie, b.Binary(Opcode::kAnd, eq, idx_first));
  ASSIGN_OR_RETURN(Instruction * take_a, b.Binary(Opcode::kOr, better, tie));
  ASSIGN_OR_RETURN(Instruction * v, b.Select(take_a, va, vb));
  ASSIGN_OR_RETURN(Instruction * i, b.Select(take_a, ia, ib));
  ASSIGN_OR_RETURN(Instruction * root, b.Tuple({v, i}));
  c->set_root(root);
  return c;
}

Converter ArgOp(bool is_max) {
  return [is_max](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
    int64_t r = x->shape.rank();
    ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", 0));
    ASSIGN_OR_RETURN(int64_t keepdims, ctx.Int("keepdims", 1));
    ASSIGN_OR_RETURN(int64_t last, ctx.Int("select_last_index", 0));
    ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, r, "axis"));
    DType t = x->shape.dtype;
    ASSIGN_OR_RETURN(Instruction * iota, ctx.b().Iota(Shape(DType::kS64, x->shape.dims), axis));
    ASSIGN_OR_RETURN(Instruction * vinit, ctx.ScalarConstant(t, is_max ? LowestValue(t) : HighestValue(t)));
    ASSIGN_OR_RETURN(Instruction * iinit, ctx.ScalarConstant(DType::kS64, 0));
    ASSIGN_OR_RETURN(Computation * f, ArgReducer(ctx, t, is_max, last != 0));
    ASSIGN_OR_RETURN(Instruction * red, ctx.b().Reduce({x, iota}, {vinit, iinit}, {axis}, f));
    ASSIGN_OR_RETURN(Instruction * y, ctx.b().GetTupleElement(red, 1));
    if (keepdims) {
      std::vector<int64_t> kd = x->shape.dims;
      kd[axis] = 1;
      ASSIGN_OR_RETURN(y, ctx.Reshape(y, kd));
    }
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

// TopK as k rounds of "first best untaken element" along the axis; k is a
// constant, and at most kMaxTopK rounds are unrolled.
constexpr int64_t kMaxTopK = 256;

Status TopK(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", -1));
  ASSIGN_OR_RETURN(int64_t largest, ctx.Int("largest", 1));
  ASSIGN_OR_RETURN(int64_t sorted, ctx.Int("sorted", 1));
  (void)sorted;  // the result is always sorted, which satisfies both settings
  int64_t k;
  if (ctx.opset() < 10) {
    if (!ctx.HasAttr("k")) return ctx.Error("attribute 'k' is required");
    ASSIGN_OR_RETURN(k, ctx.Int("k", 0));
  } else {
    ASSIGN_OR_RETURN(auto kv, ctx.ConstantInts(1, "K"));
    if (kv.size() != 1) return ctx.Error("K must hold one value, got {}", kv.size());
    k = kv[0];
  }
  int64_t r = x->shape.rank();
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, r, "axis"));
  const auto& d = x->shape.dims;
  if (k < 0 || k > d[axis]) return ctx.Error("K = {} is out of range [0, {}]", k, d[axis]);
  if (k > kMaxTopK) return ctx.Unimplemented("K = {} is larger than the supported {}", k, kMaxTopK);
  DType t = x->shape.dtype;
  std::vector<int64_t> keep, out = d;
  for (int64_t i = 0; i < r; ++i)
    if (i != axis) keep.push_back(i);
  out[axis] = 1;
  ASSIGN_OR_RETURN(Instruction * io, ctx.b().Iota(Shape(DType::kS64, d), axis));
  ASSIGN_OR_RETURN(Instruction * taken, ctx.Full(DType::kPred, d, 0));
  ASSIGN_OR_RETURN(Instruction * worst, ctx.FullLike(x, largest ? LowestValue(t) : HighestValue(t)));
  ASSIGN_OR_RETURN(Instruction * big, ctx.FullLike(io, static_cast<double>(d[axis])));
  std::vector<Instruction*> vals, idxs;
  Opcode best = largest ? Opcode::kMaximum : Opcode::kMinimum;
  for (int64_t j = 0; j < k; ++j) {
    ASSIGN_OR_RETURN(Instruction * cand, ctx.b().Select(taken, worst, x));
    ASSIGN_OR_RETURN(Instruction * m, ctx.Reduce(cand, {axis}, best, largest ? LowestValue(t) : HighestValue(t)));
    ASSIGN_OR_RETURN(Instruction * mb, ctx.b().Broadcast(m, d, keep));
    ASSIGN_OR_RETURN(Instruction * eq, ctx.b().Compare(CompareDirection::kEq, cand, mb));
    ASSIGN_OR_RETURN(Instruction * nt, ctx.b().Unary(Opcode::kNot, taken));
    ASSIGN_OR_RETURN(eq, ctx.b().Binary(Opcode::kAnd, eq, nt));
    ASSIGN_OR_RETURN(Instruction * ci, ctx.b().Select(eq, io, big));
    ASSIGN_OR_RETURN(Instruction * first, ctx.Reduce(ci, {axis}, Opcode::kMinimum, HighestValue(DType::kS64)));
    ASSIGN_OR_RETURN(Instruction * fb, ctx.b().Broadcast(first, d, keep));
    ASSIGN_OR_RETURN(Instruction * hit, ctx.b().Compare(CompareDirection::kEq, io, fb));
    ASSIGN_OR_RETURN(taken, ctx.b().Binary(Opcode::kOr, taken, hit));
    ASSIGN_OR_RETURN(m, ctx.Reshape(m, out));
    ASSIGN_OR_RETURN(first, ctx.Reshape(first, out));
    vals.push_back(m);
    idxs.push_back(first);
  }
  Instruction *v, *i;
  if (k == 0) {
    out[axis] = 0;
    ASSIGN_OR_RETURN(v, ctx.Full(t, out, 0));
    ASSIGN_OR_RETURN(i, ctx.Full(DType::kS64, out, 0));
  } else {
    ASSIGN_OR_RETURN(v, ctx.b().Concatenate(vals, axis));
    ASSIGN_OR_RETURN(i, ctx.b().Concatenate(idxs, axis));
  }
  ctx.SetOutput(0, v);
  if (ctx.has_output(1)) ctx.SetOutput(1, i);
  return OkStatus();
}

// Det of [..., n, n] by cofactor expansion along the first row, unrolled for
// n <= kMaxDet (no pivoting; exact formula).
constexpr int64_t kMaxDet = 4;

StatusOr<Instruction*> Cofactor(ImportContext& ctx, const std::vector<std::vector<Instruction*>>& m,
                                std::vector<int64_t> rows, std::vector<int64_t> cols) {
  if (rows.size() == 1) return m[rows[0]][cols[0]];
  Instruction* acc = nullptr;
  std::vector<int64_t> sub_rows(rows.begin() + 1, rows.end());
  for (size_t j = 0; j < cols.size(); ++j) {
    std::vector<int64_t> sub_cols = cols;
    sub_cols.erase(sub_cols.begin() + j);
    ASSIGN_OR_RETURN(Instruction * minor, Cofactor(ctx, m, sub_rows, sub_cols));
    ASSIGN_OR_RETURN(Instruction * term, ctx.b().Binary(Opcode::kMultiply, m[rows[0]][cols[j]], minor));
    if (!acc) {
      acc = term;
    } else {
      ASSIGN_OR_RETURN(acc, ctx.b().Binary(j % 2 ? Opcode::kSubtract : Opcode::kAdd, acc, term));
    }
  }
  return acc;
}

Status Det(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  int64_t r = x->shape.rank();
  if (r < 2 || x->shape.dims[r - 1] != x->shape.dims[r - 2])
    return ctx.Error("input {} must be [..., n, n]", x->shape.ToString());
  if (!IsFloat(x->shape.dtype)) return ctx.Error("input must be floating-point");
  int64_t n = x->shape.dims[r - 1];
  if (n > kMaxDet) return ctx.Unimplemented("matrices of size {} (at most {} are supported)", n, kMaxDet);
  std::vector<int64_t> batch(x->shape.dims.begin(), x->shape.dims.end() - 2);
  if (n == 0) {
    ASSIGN_OR_RETURN(Instruction * one, ctx.Full(x->shape.dtype, batch, 1));
    ctx.SetOutput(0, one);
    return OkStatus();
  }
  std::vector<std::vector<Instruction*>> m(n, std::vector<Instruction*>(n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      std::vector<int64_t> start(r, 0), limit = x->shape.dims;
      start[r - 2] = i;
      limit[r - 2] = i + 1;
      start[r - 1] = j;
      limit[r - 1] = j + 1;
      ASSIGN_OR_RETURN(Instruction * e, ctx.b().Slice(x, start, limit, std::vector<int64_t>(r, 1)));
      ASSIGN_OR_RETURN(m[i][j], ctx.Reshape(e, batch));
    }
  }
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  ASSIGN_OR_RETURN(Instruction * y, Cofactor(ctx, m, idx, idx));
  if (n == 1) { ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kCopy, y)); }
  ctx.SetOutput(0, y);
  return OkStatus();
}

}  // namespace

void RegisterReduceOps(OpTable& t) {
  t["Det"] = Det;
  t["TopK"] = TopK;
  t["ReduceSum"] = ReduceOp(Kind::kSum);
  t["ReduceMean"] = ReduceOp(Kind::kMean);
  t["ReduceMax"] = ReduceOp(Kind::kMax);
  t["ReduceMin"] = ReduceOp(Kind::kMin);
  t["ReduceProd"] = ReduceOp(Kind::kProd);
  t["ReduceL1"] = ReduceOp(Kind::kL1);
  t["ReduceL2"] = ReduceOp(Kind::kL2);
  t["ReduceSumSquare"] = ReduceOp(Kind::kSumSquare);
  t["ReduceLogSumExp"] = ReduceOp(Kind::kLogSumExp);
  t["ReduceLogSum"] = ReduceOp(Kind::kLogSum);
  t["ArgMax"] = ArgOp(true);
  t["ArgMin"] = ArgOp(false);
}

}  // namespace xtpu::onnx_import
