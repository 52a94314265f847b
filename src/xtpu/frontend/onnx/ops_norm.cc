// ONNX normalization-style ops: BatchNormalization (also in training mode),
// LayerNormalization, InstanceNormalization, MeanVarianceNormalization, LRN,
// Softmax/LogSoftmax, Dropout (inference: identity).
#include <cmath>
#include <numeric>

#include "xtpu/frontend/onnx/import_context.h"

namespace xtpu::onnx_import {

namespace {

int64_t Product(const std::vector<int64_t>& v, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= v[i];
  return p;
}


StatusOr<Instruction*> PerChannel(ImportContext& ctx, Instruction* v, Instruction* like, std::string_view what) {
  if (v->shape.rank() != 1 || v->shape.dims[0] != like->shape.dims[1])
    return ctx.Error("{} {} does not match {} channels", what, v->shape.ToString(), like->shape.dims[1]);
  return ctx.b().Broadcast(v, like->shape.dims, {1});
}

// training_mode=1 (opset 14+): normalize with the batch statistics; outputs
// 1 and 2 are the running mean and (population) variance updated with
// `momentum`.
Status BatchNormTraining(ImportContext& ctx, Instruction* x, Instruction* scale, Instruction* bias,
                         Instruction* in_mean, Instruction* in_var, float eps, float momentum) {
  int64_t r = x->shape.rank();
  if (r < 2) return ctx.Error("input must have rank >= 2");
  std::vector<int64_t> dims = {0};
  for (int64_t i = 2; i < r; ++i) dims.push_back(i);
  int64_t n = x->shape.num_elements() / std::max<int64_t>(x->shape.dims[1], 1);
  ASSIGN_OR_RETURN(Instruction * sum, ctx.Reduce(x, dims, Opcode::kAdd, 0));
  ASSIGN_OR_RETURN(Instruction * nn, ctx.FullLike(sum, static_cast<double>(n)));
  ASSIGN_OR_RETURN(Instruction * mean, ctx.b().Binary(Opcode::kDivide, sum, nn));
  ASSIGN_OR_RETURN(Instruction * mb, PerChannel(ctx, mean, x, "mean"));
  ASSIGN_OR_RETURN(Instruction * xc, ctx.b().Binary(Opcode::kSubtract, x, mb));
  ASSIGN_OR_RETURN(Instruction * sq, ctx.b().Binary(Opcode::kMultiply, xc, xc));
  ASSIGN_OR_RETURN(Instruction * ssum, ctx.Reduce(sq, dims, Opcode::kAdd, 0));
  ASSIGN_OR_RETURN(Instruction * var, ctx.b().Binary(Opcode::kDivide, ssum, nn));
  ASSIGN_OR_RETURN(Instruction * e, ctx.FullLike(var, eps));
  ASSIGN_OR_RETURN(Instruction * ve, ctx.b().Binary(Opcode::kAdd, var, e));
  ASSIGN_OR_RETURN(Instruction * inv, ctx.b().Unary(Opcode::kRsqrt, ve));
  ASSIGN_OR_RETURN(Instruction * a, ctx.b().Binary(Opcode::kMultiply, scale, inv));
  ASSIGN_OR_RETURN(a, PerChannel(ctx, a, x, "scale"));
  ASSIGN_OR_RETURN(Instruction * bb, PerChannel(ctx, bias, x, "bias"));
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Binary(Opcode::kMultiply, xc, a));
  ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kAdd, y, bb));
  ctx.SetOutput(0, y);
  auto blend = [&](Instruction* running, Instruction* current) -> StatusOr<Instruction*> {
    ASSIGN_OR_RETURN(Instruction * m, ctx.FullLike(running, momentum));
    ASSIGN_OR_RETURN(Instruction * m1, ctx.FullLike(running, 1.0 - momentum));
    ASSIGN_OR_RETURN(Instruction * p, ctx.b().Binary(Opcode::kMultiply, running, m));
    ASSIGN_OR_RETURN(Instruction * q, ctx.b().Binary(Opcode::kMultiply, current, m1));
    return ctx.b().Binary(Opcode::kAdd, p, q);
  };
  if (ctx.has_output(1)) {
    ASSIGN_OR_RETURN(Instruction * rm, blend(in_mean, mean));
    ctx.SetOutput(1, rm);
  }
  if (ctx.has_output(2)) {
    ASSIGN_OR_RETURN(Instruction * rv, blend(in_var, var));
    ctx.SetOutput(2, rv);
  }
  for (int i = 3; i < ctx.num_outputs(); ++i)
    if (ctx.has_output(i)) return ctx.Unimplemented("output {} (saved statistics) is not supported", i);
  return OkStatus();
}

Status BatchNormalization(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * scale, ctx.Input(1));
  ASSIGN_OR_RETURN(Instruction * bias, ctx.Input(2));
  ASSIGN_OR_RETURN(Instruction * mean, ctx.Input(3));
  ASSIGN_OR_RETURN(Instruction * var, ctx.Input(4));
  ASSIGN_OR_RETURN(float eps, ctx.Float("epsilon", 1e-5f));
  ASSIGN_OR_RETURN(float momentum, ctx.Float("momentum", 0.9f));
  (void)momentum;  // only used in training
  ASSIGN_OR_RETURN(int64_t training, ctx.Int("training_mode", 0));
  if (training) return BatchNormTraining(ctx, x, scale, bias, mean, var, eps, momentum);
  ASSIGN_OR_RETURN(int64_t spatial, ctx.Int("spatial", 1));
  // Opsets < 7: is_test=0 asks for training statistics; consumed_inputs
  // (opset 1) only described in-place updates.
  // is_test defaulted to 0 (training: batch statistics) and was dropped in opset 7.
  ASSIGN_OR_RETURN(int64_t is_test, ctx.Int("is_test", ctx.opset() < 7 ? 0 : 1));
  if (!is_test) return ctx.UnsupportedAttr("is_test", "0 (training mode)");
  if (ctx.HasAttr("consumed_inputs")) { ASSIGN_OR_RETURN(auto unused, ctx.Ints("consumed_inputs")); (void)unused; }
  if (spatial != 1) return ctx.UnsupportedAttr("spatial", std::to_string(spatial));
  for (int i = 1; i < ctx.num_outputs(); ++i)
    if (ctx.has_output(i)) return ctx.Unimplemented("output {} (training statistics) is not supported", i);
  if (x->shape.rank() < 2) return ctx.Error("input must have rank >= 2");
  // y = x * a + c with a = scale / sqrt(var + eps), c = bias - mean * a.
  ASSIGN_OR_RETURN(Instruction * e, ctx.FullLike(var, eps));
  ASSIGN_OR_RETURN(Instruction * ve, ctx.b().Binary(Opcode::kAdd, var, e));
  ASSIGN_OR_RETURN(Instruction * inv, ctx.b().Unary(Opcode::kRsqrt, ve));
  ASSIGN_OR_RETURN(Instruction * a, ctx.b().Binary(Opcode::kMultiply, scale, inv));
  ASSIGN_OR_RETURN(Instruction * ma, ctx.b().Binary(Opcode::kMultiply, mean, a));
  ASSIGN_OR_RETURN(Instruction * c, ctx.b().Binary(Opcode::kSubtract, bias, ma));
  ASSIGN_OR_RETURN(a, PerChannel(ctx, a, x, "scale"));
  ASSIGN_OR_RETURN(c, PerChannel(ctx, c, x, "bias"));
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Binary(Opcode::kMultiply, x, a));
  ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kAdd, y, c));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// (x - mean) / sqrt(var + eps) over `dims`, the statistics kept broadcastable.
StatusOr<Instruction*> Normalize(ImportContext& ctx, Instruction* x, const std::vector<int64_t>& dims,
                                 float eps, Instruction** mean_out = nullptr, Instruction** inv_out = nullptr) {
  int64_t n = 1;
  for (int64_t d : dims) n *= x->shape.dims[d];
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < x->shape.rank(); ++i)
    if (std::find(dims.begin(), dims.end(), i) == dims.end()) keep.push_back(i);
  auto bcast = [&](Instruction* v) { return ctx.b().Broadcast(v, x->shape.dims, keep); };
  ASSIGN_OR_RETURN(Instruction * sum, ctx.Reduce(x, dims, Opcode::kAdd, 0));
  ASSIGN_OR_RETURN(Instruction * nn, ctx.FullLike(sum, static_cast<double>(n)));
  ASSIGN_OR_RETURN(Instruction * mean, ctx.b().Binary(Opcode::kDivide, sum, nn));
  ASSIGN_OR_RETURN(Instruction * mb, bcast(mean));
  ASSIGN_OR_RETURN(Instruction * xc, ctx.b().Binary(Opcode::kSubtract, x, mb));
  ASSIGN_OR_RETURN(Instruction * sq, ctx.b().Binary(Opcode::kMultiply, xc, xc));
  ASSIGN_OR_RETURN(Instruction * ssum, ctx.Reduce(sq, dims, Opcode::kAdd, 0));
  ASSIGN_OR_RETURN(Instruction * var, ctx.b().Binary(Opcode::kDivide, ssum, nn));
  ASSIGN_OR_RETURN(Instruction * e, ctx.FullLike(var, eps));
  ASSIGN_OR_RETURN(Instruction * ve, ctx.b().Binary(Opcode::kAdd, var, e));
  ASSIGN_OR_RETURN(Instruction * inv, ctx.b().Unary(Opcode::kRsqrt, ve));
  if (mean_out) *mean_out = mean;
  if (inv_out) *inv_out = inv;
  ASSIGN_OR_RETURN(Instruction * ib, bcast(inv));
  return ctx.b().Binary(Opcode::kMultiply, xc, ib);
}

Status LayerNormalization(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * scale, ctx.Input(1));
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", -1));
  ASSIGN_OR_RETURN(float eps, ctx.Float("epsilon", 1e-5f));
  ASSIGN_OR_RETURN(int64_t stash, ctx.Int("stash_type", 1));
  if (stash != 1) return ctx.UnsupportedAttr("stash_type", std::to_string(stash));
  int64_t r = x->shape.rank();
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, r, "axis"));
  std::vector<int64_t> dims;
  for (int64_t i = axis; i < r; ++i) dims.push_back(i);
  Instruction *mean = nullptr, *inv = nullptr;
  ASSIGN_OR_RETURN(Instruction * y, Normalize(ctx, x, dims, eps, &mean, &inv));
  ASSIGN_OR_RETURN(scale, ctx.BroadcastTo(scale, x->shape.dims));
  ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kMultiply, y, scale));
  if (ctx.has_input(2)) {
    ASSIGN_OR_RETURN(Instruction * bias, ctx.Input(2));
    ASSIGN_OR_RETURN(bias, ctx.BroadcastTo(bias, x->shape.dims));
    ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kAdd, y, bias));
  }
  ctx.SetOutput(0, y);
  // Mean and InvStdDev keep the reduced dims as 1.
  std::vector<int64_t> stat_dims = x->shape.dims;
  for (int64_t d : dims) stat_dims[d] = 1;
  if (ctx.has_output(1)) {
    ASSIGN_OR_RETURN(Instruction * m, ctx.Reshape(mean, stat_dims));
    ctx.SetOutput(1, m);
  }
  if (ctx.has_output(2)) {
    ASSIGN_OR_RETURN(Instruction * iv, ctx.Reshape(inv, stat_dims));
    ctx.SetOutput(2, iv);
  }
  return OkStatus();
}

// (x - mean) / (sqrt(mean(x^2) - mean^2) + 1e-9) over `axes`, as ONNX's
// function body defines it.
Status MeanVarianceNormalization(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(auto axes, ctx.Ints("axes", {0, 2, 3}));
  int64_t r = x->shape.rank();
  if (!IsFloat(x->shape.dtype)) return ctx.Error("input must be floating-point");
  std::vector<int64_t> dims;
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int64_t n, ctx.NormalizeAxis(a, r, "axes"));
    if (std::find(dims.begin(), dims.end(), n) == dims.end()) dims.push_back(n);
  }
  std::sort(dims.begin(), dims.end());
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < r; ++i)
    if (std::find(dims.begin(), dims.end(), i) == dims.end()) keep.push_back(i);
  int64_t n = 1;
  for (int64_t d : dims) n *= x->shape.dims[d];
  ASSIGN_OR_RETURN(Instruction * sum, ctx.Reduce(x, dims, Opcode::kAdd, 0));
  ASSIGN_OR_RETURN(Instruction * nn, ctx.FullLike(sum, static_cast<double>(n)));
  ASSIGN_OR_RETURN(Instruction * mean, ctx.b().Binary(Opcode::kDivide, sum, nn));
  ASSIGN_OR_RETURN(Instruction * sq, ctx.b().Binary(Opcode::kMultiply, x, x));
  ASSIGN_OR_RETURN(Instruction * sqs, ctx.Reduce(sq, dims, Opcode::kAdd, 0));
  ASSIGN_OR_RETURN(Instruction * msq, ctx.b().Binary(Opcode::kDivide, sqs, nn));
  ASSIGN_OR_RETURN(Instruction * m2, ctx.b().Binary(Opcode::kMultiply, mean, mean));
  ASSIGN_OR_RETURN(Instruction * var, ctx.b().Binary(Opcode::kSubtract, msq, m2));
  ASSIGN_OR_RETURN(Instruction * sd, ctx.b().Unary(Opcode::kSqrt, var));
  ASSIGN_OR_RETURN(Instruction * eps, ctx.FullLike(sd, 1e-9));
  ASSIGN_OR_RETURN(sd, ctx.b().Binary(Opcode::kAdd, sd, eps));
  ASSIGN_OR_RETURN(Instruction * mb, ctx.b().Broadcast(mean, x->shape.dims, keep));
  ASSIGN_OR_RETURN(Instruction * sb, ctx.b().Broadcast(sd, x->shape.dims, keep));
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Binary(Opcode::kSubtract, x, mb));
  ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kDivide, y, sb));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status InstanceNormalization(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * scale, ctx.Input(1));
  ASSIGN_OR_RETURN(Instruction * bias, ctx.Input(2));
  ASSIGN_OR_RETURN(float eps, ctx.Float("epsilon", 1e-5f));
  int64_t r = x->shape.rank();
  if (r < 3) return ctx.Error("input must have rank >= 3");
  std::vector<int64_t> dims;
  for (int64_t i = 2; i < r; ++i) dims.push_back(i);
  ASSIGN_OR_RETURN(Instruction * y, Normalize(ctx, x, dims, eps));
  ASSIGN_OR_RETURN(scale, PerChannel(ctx, scale, x, "scale"));
  ASSIGN_OR_RETURN(bias, PerChannel(ctx, bias, x, "bias"));
  ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kMultiply, y, scale));
  ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kAdd, y, bias));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Converter Softmax(bool log) {
  return [log](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
    int64_t r = x->shape.rank();
    bool legacy = ctx.opset() < 13;
    ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", legacy ? 1 : -1));
    ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, std::max<int64_t>(r, 1), "axis"));
    Instruction* v = x;
    int64_t red = axis;
    if (legacy) {
      // Opsets < 13: softmax over the flattened [prod(:axis), prod(axis:)].
      ASSIGN_OR_RETURN(v, ctx.Reshape(x, {Product(x->shape.dims, 0, axis), Product(x->shape.dims, axis, r)}));
      red = 1;
    }
    std::vector<int64_t> keep;
    for (int64_t i = 0; i < v->shape.rank(); ++i)
      if (i != red) keep.push_back(i);
    DType t = v->shape.dtype;
    ASSIGN_OR_RETURN(Instruction * mx, ctx.Reduce(v, {red}, Opcode::kMaximum, LowestValue(t)));
    ASSIGN_OR_RETURN(mx, ctx.b().Broadcast(mx, v->shape.dims, keep));
    ASSIGN_OR_RETURN(Instruction * sh, ctx.b().Binary(Opcode::kSubtract, v, mx));
    ASSIGN_OR_RETURN(Instruction * e, ctx.b().Unary(Opcode::kExp, sh));
    ASSIGN_OR_RETURN(Instruction * s, ctx.Reduce(e, {red}, Opcode::kAdd, 0));
    Instruction* y;
    if (log) {
      ASSIGN_OR_RETURN(Instruction * ls, ctx.b().Unary(Opcode::kLog, s));
      ASSIGN_OR_RETURN(ls, ctx.b().Broadcast(ls, v->shape.dims, keep));
      ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kSubtract, sh, ls));
    } else {
      ASSIGN_OR_RETURN(s, ctx.b().Broadcast(s, v->shape.dims, keep));
      ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kDivide, e, s));
    }
    ASSIGN_OR_RETURN(y, ctx.Reshape(y, x->shape.dims));
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

Status Dropout(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(float ratio, ctx.Float("ratio", 0.5f));
  ASSIGN_OR_RETURN(int64_t seed, ctx.Int("seed", 0));
  ASSIGN_OR_RETURN(int64_t is_test, ctx.Int("is_test", 1));
  (void)ratio;
  (void)seed;  // inference: dropout is the identity
  if (!is_test) return ctx.UnsupportedAttr("is_test", "0");
  if (ctx.has_input(2)) {
    const Literal* tm = ctx.InputConstant(2);
    if (!tm) return ctx.Unimplemented("input 2 (training_mode) must be a constant false");
    if (tm->num_elements() != 1) return ctx.Error("input 2 (training_mode) must be a scalar");
    if (tm->GetAsInt64(0) != 0) {
      // Training mode with ratio 0 keeps every element (PyTorch exports
      // F.dropout(p=0.0) this way); any other ratio would need random masks.
      const Literal* r = ctx.has_input(1) ? ctx.InputConstant(1) : nullptr;
      if (!r || r->num_elements() != 1 || r->GetAsDouble(0) != 0.0) {
        return ctx.Unimplemented(
            "training_mode = true is only supported with a constant ratio of 0");
      }
    }
  }
  ctx.SetOutput(0, x);
  if (ctx.has_output(1)) {
    ASSIGN_OR_RETURN(Instruction * mask, ctx.Full(DType::kPred, x->shape.dims, 1));
    ctx.SetOutput(1, mask);
  }
  return OkStatus();
}

// y = x / (bias + alpha / size * sum of x^2 over `size` channels)^beta.
Status Lrn(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(float alpha, ctx.Float("alpha", 1e-4f));
  ASSIGN_OR_RETURN(float beta, ctx.Float("beta", 0.75f));
  ASSIGN_OR_RETURN(float bias, ctx.Float("bias", 1.0f));
  if (!ctx.HasAttr("size")) return ctx.Error("attribute 'size' is required");
  ASSIGN_OR_RETURN(int64_t size, ctx.Int("size", 1));
  RETURN_IF_ERROR(ctx.CheckAttrRange("size", size, 1, 1 << 20));
  int64_t r = x->shape.rank();
  if (r < 2) return ctx.Error("input must have rank >= 2, got {}", x->shape.ToString());
  if (!IsFloat(x->shape.dtype)) return ctx.Error("input must be floating-point");
  ASSIGN_OR_RETURN(Instruction * sq, ctx.b().Binary(Opcode::kMultiply, x, x));
  std::vector<WindowDim> win(r);
  win[1].size = size;
  win[1].pad_lo = (size - 1) / 2;
  win[1].pad_hi = size - 1 - (size - 1) / 2;
  ASSIGN_OR_RETURN(Instruction * zero, ctx.ScalarConstant(x->shape.dtype, 0));
  ASSIGN_OR_RETURN(Computation * add, ctx.Reducer(Opcode::kAdd, x->shape.dtype));
  ASSIGN_OR_RETURN(Instruction * sum, ctx.b().ReduceWindow(sq, zero, win, add));
  ASSIGN_OR_RETURN(Instruction * k, ctx.FullLike(sum, alpha / size));
  ASSIGN_OR_RETURN(Instruction * d, ctx.b().Binary(Opcode::kMultiply, sum, k));
  ASSIGN_OR_RETURN(Instruction * bb, ctx.FullLike(sum, bias));
  ASSIGN_OR_RETURN(d, ctx.b().Binary(Opcode::kAdd, d, bb));
  ASSIGN_OR_RETURN(Instruction * be, ctx.FullLike(sum, beta));
  ASSIGN_OR_RETURN(d, ctx.b().Binary(Opcode::kPower, d, be));
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Binary(Opcode::kDivide, x, d));
  ctx.SetOutput(0, y);
  return OkStatus();
}

}  // namespace

void RegisterNormOps(OpTable& t) {
  t["BatchNormalization"] = BatchNormalization;
  t["LayerNormalization"] = LayerNormalization;
  t["InstanceNormalization"] = InstanceNormalization;
  t["MeanVarianceNormalization"] = MeanVarianceNormalization;
  t["LRN"] = Lrn;
  t["Softmax"] = Softmax(false);
  t["LogSoftmax"] = Softmax(true);
  t["Dropout"] = Dropout;
}

}  // namespace xtpu::onnx_import
