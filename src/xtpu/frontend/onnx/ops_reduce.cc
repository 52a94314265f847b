// ONNX reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSumExp and
// ArgMax/ArgMin (a variadic reduce over value and index).
#include <algorithm>

#include "xtpu/frontend/onnx/import_context.h"

namespace xtpu::onnx_import {

namespace {

enum class Kind { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSumExp };

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
    } else if (kind == Kind::kLogSumExp) {
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

}  // namespace

void RegisterReduceOps(OpTable& t) {
  t["ReduceSum"] = ReduceOp(Kind::kSum);
  t["ReduceMean"] = ReduceOp(Kind::kMean);
  t["ReduceMax"] = ReduceOp(Kind::kMax);
  t["ReduceMin"] = ReduceOp(Kind::kMin);
  t["ReduceProd"] = ReduceOp(Kind::kProd);
  t["ReduceL1"] = ReduceOp(Kind::kL1);
  t["ReduceL2"] = ReduceOp(Kind::kL2);
  t["ReduceSumSquare"] = ReduceOp(Kind::kSumSquare);
  t["ReduceLogSumExp"] = ReduceOp(Kind::kLogSumExp);
  t["ArgMax"] = ArgOp(true);
  t["ArgMin"] = ArgOp(false);
}

}  // namespace xtpu::onnx_import
