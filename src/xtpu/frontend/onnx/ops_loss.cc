// ONNX loss ops: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
// (reductions none/sum/mean, ignore_index, class weights). The class pick
// input[n, target[n, ...], ...] is a one-hot mask along dim 1 and a sum, so
// ignored or out-of-range targets simply pick nothing.
#include "xtpu/frontend/onnx/import_context.h"

namespace xtpu::onnx_import {

namespace {

// loss from log-probabilities `x` [N, C, d...] and `target` [N, d...].
StatusOr<Instruction*> Nll(ImportContext& ctx, Instruction* x, Instruction* target, Instruction* weight) {
  ASSIGN_OR_RETURN(std::string reduction, ctx.String("reduction", "mean"));
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    return ctx.Error("attribute 'reduction' = '{}' must be none, sum or mean", reduction);
  bool has_ii = ctx.HasAttr("ignore_index");
  ASSIGN_OR_RETURN(int64_t ii, ctx.Int("ignore_index", 0));
  if (!IsFloat(x->shape.dtype)) return ctx.Error("input must be floating-point, got {}", DTypeName(x->shape.dtype));
  if (!IsInteger(target->shape.dtype))
    return ctx.Error("target must be integers, got {}", DTypeName(target->shape.dtype));
  int64_t r = x->shape.rank();
  if (r < 2) return ctx.Error("input {} must have rank >= 2", x->shape.ToString());
  const auto& d = x->shape.dims;
  std::vector<int64_t> tdims = d;
  tdims.erase(tdims.begin() + 1);
  if (target->shape.dims != tdims)
    return ctx.Error("target {} must have shape [{}]", target->shape.ToString(), fmt::join(tdims, ","));
  if (weight && (weight->shape.dims != std::vector<int64_t>{d[1]} || weight->shape.dtype != x->shape.dtype))
    return ctx.Error("weight {} must be [{}] of the input's type", weight->shape.ToString(), d[1]);
  ASSIGN_OR_RETURN(target, ctx.Convert(target, DType::kS64));
  std::vector<int64_t> keep = {0};
  for (int64_t i = 2; i < r; ++i) keep.push_back(i);
  ASSIGN_OR_RETURN(Instruction * tb, ctx.b().Broadcast(target, d, keep));
  ASSIGN_OR_RETURN(Instruction * io, ctx.b().Iota(Shape(DType::kS64, d), 1));
  ASSIGN_OR_RETURN(Instruction * hot, ctx.b().Compare(CompareDirection::kEq, tb, io));
  if (has_ii) {
    ASSIGN_OR_RETURN(Instruction * iiv, ctx.FullLike(tb, static_cast<double>(ii)));
    ASSIGN_OR_RETURN(Instruction * valid, ctx.b().Compare(CompareDirection::kNe, tb, iiv));
    ASSIGN_OR_RETURN(hot, ctx.b().Binary(Opcode::kAnd, hot, valid));
  }
  ASSIGN_OR_RETURN(Instruction * zero, ctx.FullLike(x, 0));
  ASSIGN_OR_RETURN(Instruction * picked, ctx.b().Select(hot, x, zero));
  ASSIGN_OR_RETURN(picked, ctx.Reduce(picked, {1}, Opcode::kAdd, 0));
  Instruction* wfull;
  if (weight) {
    ASSIGN_OR_RETURN(wfull, ctx.b().Broadcast(weight, d, {1}));
  } else {
    ASSIGN_OR_RETURN(wfull, ctx.FullLike(x, 1));
  }
  ASSIGN_OR_RETURN(Instruction * wt, ctx.b().Select(hot, wfull, zero));
  ASSIGN_OR_RETURN(wt, ctx.Reduce(wt, {1}, Opcode::kAdd, 0));
  ASSIGN_OR_RETURN(Instruction * loss, ctx.b().Binary(Opcode::kMultiply, picked, wt));
  ASSIGN_OR_RETURN(loss, ctx.b().Unary(Opcode::kNegate, loss));
  if (reduction == "none") return loss;
  std::vector<int64_t> all;
  for (int64_t i = 0; i < loss->shape.rank(); ++i) all.push_back(i);
  ASSIGN_OR_RETURN(Instruction * sum, ctx.Reduce(loss, all, Opcode::kAdd, 0));
  if (reduction == "sum") return sum;
  ASSIGN_OR_RETURN(Instruction * wsum, ctx.Reduce(wt, all, Opcode::kAdd, 0));
  return ctx.b().Binary(Opcode::kDivide, sum, wsum);
}

StatusOr<Instruction*> OptionalInput(ImportContext& ctx, int i) {
  if (!ctx.has_input(i)) return static_cast<Instruction*>(nullptr);
  return ctx.Input(i);
}

Status NegativeLogLikelihoodLoss(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * target, ctx.Input(1));
  ASSIGN_OR_RETURN(Instruction * weight, OptionalInput(ctx, 2));
  ASSIGN_OR_RETURN(Instruction * y, Nll(ctx, x, target, weight));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// log_softmax(scores) along dim 1, then NLL; output 1 is the log_softmax.
Status SoftmaxCrossEntropyLoss(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * labels, ctx.Input(1));
  ASSIGN_OR_RETURN(Instruction * weight, OptionalInput(ctx, 2));
  if (!IsFloat(x->shape.dtype)) return ctx.Error("scores must be floating-point, got {}", DTypeName(x->shape.dtype));
  int64_t r = x->shape.rank();
  if (r < 2) return ctx.Error("scores {} must have rank >= 2", x->shape.ToString());
  const auto& d = x->shape.dims;
  std::vector<int64_t> keep = {0};
  for (int64_t i = 2; i < r; ++i) keep.push_back(i);
  DType t = x->shape.dtype;
  ASSIGN_OR_RETURN(Instruction * mx, ctx.Reduce(x, {1}, Opcode::kMaximum, LowestValue(t)));
  ASSIGN_OR_RETURN(mx, ctx.b().Broadcast(mx, d, keep));
  ASSIGN_OR_RETURN(Instruction * sh, ctx.b().Binary(Opcode::kSubtract, x, mx));
  ASSIGN_OR_RETURN(Instruction * e, ctx.b().Unary(Opcode::kExp, sh));
  ASSIGN_OR_RETURN(Instruction * s, ctx.Reduce(e, {1}, Opcode::kAdd, 0));
  ASSIGN_OR_RETURN(Instruction * ls, ctx.b().Unary(Opcode::kLog, s));
  ASSIGN_OR_RETURN(ls, ctx.b().Broadcast(ls, d, keep));
  ASSIGN_OR_RETURN(Instruction * logp, ctx.b().Binary(Opcode::kSubtract, sh, ls));
  ASSIGN_OR_RETURN(Instruction * y, Nll(ctx, logp, labels, weight));
  ctx.SetOutput(0, y);
  if (ctx.has_output(1)) ctx.SetOutput(1, logp);
  return OkStatus();
}

}  // namespace

void RegisterLossOps(OpTable& t) {
  t["NegativeLogLikelihoodLoss"] = NegativeLogLikelihoodLoss;
  t["SoftmaxCrossEntropyLoss"] = SoftmaxCrossEntropyLoss;
}

}  // namespace xtpu::onnx_import
