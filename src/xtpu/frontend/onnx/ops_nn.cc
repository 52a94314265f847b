// ONNX neural-network ops: MatMul, Gemm, Conv, ConvTranspose, pooling,
// integer/quantized MatMul and Conv. Normalizations live in ops_norm.cc.
#include <cmath>
#include <numeric>

#include "xtpu/frontend/onnx/import_context.h"

namespace xtpu::onnx_import {

namespace {

std::string Dims(const std::vector<int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ",")); }

int64_t Product(const std::vector<int64_t>& v, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= v[i];
  return p;
}

StatusOr<Instruction*> MatMulOf(ImportContext& ctx, Instruction* a, Instruction* b);

Status MatMul(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * a, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * b, ctx.Input(1));
  ASSIGN_OR_RETURN(Instruction * y, MatMulOf(ctx, a, b));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// (integer) x - zero_point in int32; the zero point must be a scalar.
StatusOr<Instruction*> CenteredS32(ImportContext& ctx, Instruction* x, int zp_input, std::string_view what) {
  if (x->shape.dtype != DType::kU8 && x->shape.dtype != DType::kS8)
    return ctx.Error("{} must be uint8 or int8, got {}", what, DTypeName(x->shape.dtype));
  ASSIGN_OR_RETURN(Instruction * v, ctx.Convert(x, DType::kS32));
  if (!ctx.has_input(zp_input)) return v;
  ASSIGN_OR_RETURN(Instruction * zp, ctx.Input(zp_input));
  if (zp->shape.num_elements() != 1)
    return ctx.Unimplemented("per-axis zero point {} of {} is not supported", zp->shape.ToString(), what);
  ASSIGN_OR_RETURN(zp, ctx.Convert(zp, DType::kS32));
  ASSIGN_OR_RETURN(zp, ctx.Reshape(zp, {}));
  ASSIGN_OR_RETURN(zp, ctx.b().Broadcast(zp, v->shape.dims, {}));
  return ctx.b().Binary(Opcode::kSubtract, v, zp);
}

// int32 = (A - a_zero_point) @ (B - b_zero_point)
Status MatMulInteger(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * a, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * b, ctx.Input(1));
  ASSIGN_OR_RETURN(a, CenteredS32(ctx, a, 2, "A"));
  ASSIGN_OR_RETURN(b, CenteredS32(ctx, b, 3, "B"));
  ASSIGN_OR_RETURN(Instruction * y, MatMulOf(ctx, a, b));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// The scalar float parameter at input i.
StatusOr<Instruction*> ScalarParam(ImportContext& ctx, int i, std::string_view what) {
  ASSIGN_OR_RETURN(Instruction * v, ctx.Input(i));
  if (v->shape.num_elements() != 1)
    return ctx.Unimplemented("per-axis {} {} is not supported", what, v->shape.ToString());
  ASSIGN_OR_RETURN(v, ctx.Convert(v, DType::kF32));
  return ctx.Reshape(v, {});
}

// y = saturate(round((a - a_zp) @ (b - b_zp) * a_scale * b_scale / y_scale) + y_zp)
Status QLinearMatMul(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * a, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * b, ctx.Input(3));
  ASSIGN_OR_RETURN(Instruction * yzp, ctx.Input(7));
  DType out = yzp->shape.dtype;
  if (out != DType::kU8 && out != DType::kS8) return ctx.Error("y_zero_point must be uint8 or int8");
  ASSIGN_OR_RETURN(a, CenteredS32(ctx, a, 2, "a"));
  ASSIGN_OR_RETURN(b, CenteredS32(ctx, b, 5, "b"));
  ASSIGN_OR_RETURN(Instruction * acc, MatMulOf(ctx, a, b));
  ASSIGN_OR_RETURN(Instruction * as, ScalarParam(ctx, 1, "a_scale"));
  ASSIGN_OR_RETURN(Instruction * bs, ScalarParam(ctx, 4, "b_scale"));
  ASSIGN_OR_RETURN(Instruction * ys, ScalarParam(ctx, 6, "y_scale"));
  ASSIGN_OR_RETURN(Instruction * zf, ScalarParam(ctx, 7, "y_zero_point"));
  ASSIGN_OR_RETURN(Instruction * k, ctx.b().Binary(Opcode::kMultiply, as, bs));
  ASSIGN_OR_RETURN(k, ctx.b().Binary(Opcode::kDivide, k, ys));
  ASSIGN_OR_RETURN(Instruction * f, ctx.Convert(acc, DType::kF32));
  ASSIGN_OR_RETURN(k, ctx.b().Broadcast(k, f->shape.dims, {}));
  ASSIGN_OR_RETURN(zf, ctx.b().Broadcast(zf, f->shape.dims, {}));
  ASSIGN_OR_RETURN(f, ctx.b().Binary(Opcode::kMultiply, f, k));
  ASSIGN_OR_RETURN(f, ctx.b().Unary(Opcode::kRoundNearestEven, f));
  ASSIGN_OR_RETURN(f, ctx.b().Binary(Opcode::kAdd, f, zf));
  ASSIGN_OR_RETURN(Instruction * lo, ctx.FullLike(f, out == DType::kU8 ? 0 : -128));
  ASSIGN_OR_RETURN(Instruction * hi, ctx.FullLike(f, out == DType::kU8 ? 255 : 127));
  ASSIGN_OR_RETURN(f, ctx.b().Clamp(lo, f, hi));
  ASSIGN_OR_RETURN(Instruction * y, ctx.Convert(f, out));
  ctx.SetOutput(0, y);
  return OkStatus();
}

StatusOr<Instruction*> MatMulOf(ImportContext& ctx, Instruction* a, Instruction* b) {
  if (a->shape.dtype != b->shape.dtype)
    return ctx.Error("operand types differ: {} and {}", DTypeName(a->shape.dtype), DTypeName(b->shape.dtype));
  auto ad = a->shape.dims, bd = b->shape.dims;
  if (ad.empty() || bd.empty()) return ctx.Error("operands must have rank >= 1");
  bool a_vec = ad.size() == 1, b_vec = bd.size() == 1;
  if (a_vec) ad.insert(ad.begin(), 1);
  if (b_vec) bd.push_back(1);
  int64_t m = ad[ad.size() - 2], k = ad.back(), k2 = bd[bd.size() - 2], n = bd.back();
  if (k != k2) return ctx.Error("contracting dims differ: {} and {}", a->shape.ToString(), b->shape.ToString());
  std::vector<int64_t> a_batch(ad.begin(), ad.end() - 2), b_batch(bd.begin(), bd.end() - 2);
  std::vector<int64_t> out_dims;
  Instruction* y;
  if (b_batch.empty()) {
    // [..., M, K] x [K, N]: fold the batch into M (one plain matrix product).
    int64_t rows = Product(ad, 0, ad.size() - 1);
    ASSIGN_OR_RETURN(Instruction * a2, ctx.Reshape(a, {rows, k}));
    ASSIGN_OR_RETURN(Instruction * b2, ctx.Reshape(b, {k, n}));
    DotDims dd;
    dd.lhs_contracting = {1};
    dd.rhs_contracting = {0};
    ASSIGN_OR_RETURN(y, ctx.b().Dot(a2, b2, dd));
    out_dims = a_batch;
  } else {
    ASSIGN_OR_RETURN(auto batch, ctx.BroadcastDims(a_batch, b_batch));
    auto full_a = batch, full_b = batch;
    full_a.push_back(m);
    full_a.push_back(k);
    full_b.push_back(k);
    full_b.push_back(n);
    ASSIGN_OR_RETURN(Instruction * a2, ctx.Reshape(a, ad));
    ASSIGN_OR_RETURN(Instruction * b2, ctx.Reshape(b, bd));
    ASSIGN_OR_RETURN(a2, ctx.BroadcastTo(a2, full_a));
    ASSIGN_OR_RETURN(b2, ctx.BroadcastTo(b2, full_b));
    // Collapse batch dims to one.
    int64_t nb = Product(batch, 0, batch.size());
    ASSIGN_OR_RETURN(a2, ctx.Reshape(a2, {nb, m, k}));
    ASSIGN_OR_RETURN(b2, ctx.Reshape(b2, {nb, k, n}));
    DotDims dd;
    dd.lhs_batch = {0};
    dd.rhs_batch = {0};
    dd.lhs_contracting = {2};
    dd.rhs_contracting = {1};
    ASSIGN_OR_RETURN(y, ctx.b().Dot(a2, b2, dd));
    out_dims = batch;
  }
  if (!a_vec) out_dims.push_back(m);
  if (!b_vec) out_dims.push_back(n);
  return ctx.Reshape(y, out_dims);
}

Status Gemm(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * a, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * b, ctx.Input(1));
  ASSIGN_OR_RETURN(float alpha, ctx.Float("alpha", 1.0f));
  ASSIGN_OR_RETURN(float beta, ctx.Float("beta", 1.0f));
  ASSIGN_OR_RETURN(int64_t trans_a, ctx.Int("transA", 0));
  ASSIGN_OR_RETURN(int64_t trans_b, ctx.Int("transB", 0));
  // Opsets < 7: C broadcasts only with broadcast=1 (unidirectionally, as later).
  ASSIGN_OR_RETURN(int64_t broadcast, ctx.Int("broadcast", ctx.opset() < 7 ? 0 : 1));
  if (ctx.opset() >= 7 && ctx.HasAttr("broadcast")) return ctx.Error("attribute 'broadcast' was removed in opset 7");
  if (a->shape.rank() != 2 || b->shape.rank() != 2)
    return ctx.Error("A and B must be 2-D, got {} and {}", a->shape.ToString(), b->shape.ToString());
  DotDims dd;
  dd.lhs_contracting = {trans_a ? 0 : 1};
  dd.rhs_contracting = {trans_b ? 1 : 0};
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Dot(a, b, dd));
  if (alpha != 1.0f) {
    ASSIGN_OR_RETURN(Instruction * k, ctx.FullLike(y, alpha));
    ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kMultiply, y, k));
  }
  if (ctx.has_input(2) && beta != 0.0f) {
    ASSIGN_OR_RETURN(Instruction * c, ctx.Input(2));
    if (!broadcast && c->shape.dims != y->shape.dims)
      return ctx.Error("C {} must have the result shape {} when attribute 'broadcast' is 0",
                       c->shape.ToString(), y->shape.ToString());
    ASSIGN_OR_RETURN(c, ctx.BroadcastTo(c, y->shape.dims));
    if (beta != 1.0f) {
      ASSIGN_OR_RETURN(Instruction * k, ctx.FullLike(c, beta));
      ASSIGN_OR_RETURN(c, ctx.b().Binary(Opcode::kMultiply, c, k));
    }
    ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kAdd, y, c));
  }
  ctx.SetOutput(0, y);
  return OkStatus();
}

// Spatial window attributes shared by Conv, ConvTranspose and pooling.
struct WindowAttrs {
  std::string auto_pad;
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: begins then ends
};

StatusOr<WindowAttrs> ReadWindow(ImportContext& ctx, int64_t nsp, std::vector<int64_t> kernel,
                                 bool has_dilations) {
  WindowAttrs w;
  ASSIGN_OR_RETURN(w.auto_pad, ctx.String("auto_pad", "NOTSET"));
  ASSIGN_OR_RETURN(w.kernel, ctx.Ints("kernel_shape", kernel));
  ASSIGN_OR_RETURN(w.strides, ctx.Ints("strides", std::vector<int64_t>(nsp, 1)));
  if (has_dilations) {
    ASSIGN_OR_RETURN(w.dilations, ctx.Ints("dilations", std::vector<int64_t>(nsp, 1)));
  } else {
    w.dilations.assign(nsp, 1);
  }
  ASSIGN_OR_RETURN(w.pads, ctx.Ints("pads", std::vector<int64_t>(2 * nsp, 0)));
  if (static_cast<int64_t>(w.kernel.size()) != nsp) {
    return ctx.Error("kernel_shape {} does not match {} spatial dims", Dims(w.kernel), nsp);
  }
  if (!kernel.empty() && w.kernel != kernel)
    return ctx.Error("kernel_shape {} differs from the weights' {}", Dims(w.kernel), Dims(kernel));
  if (static_cast<int64_t>(w.strides.size()) != nsp || static_cast<int64_t>(w.dilations.size()) != nsp ||
      static_cast<int64_t>(w.pads.size()) != 2 * nsp)
    return ctx.Error("strides, dilations or pads do not match {} spatial dims", nsp);
  // Bounds keep all window arithmetic below far from int64 overflow.
  const int64_t kMax = kMaxTensorElements;
  RETURN_IF_ERROR(ctx.CheckAttrRange("kernel_shape", w.kernel, 1, kMax));
  RETURN_IF_ERROR(ctx.CheckAttrRange("strides", w.strides, 1, int64_t{1} << 20));
  RETURN_IF_ERROR(ctx.CheckAttrRange("dilations", w.dilations, 1, int64_t{1} << 20));
  RETURN_IF_ERROR(ctx.CheckAttrRange("pads", w.pads, 0, kMax));
  return w;
}

// Resolves auto_pad for a forward window over `in` spatial sizes.
Status ResolvePads(ImportContext& ctx, WindowAttrs& w, const std::vector<int64_t>& in) {
  size_t n = in.size();
  if (w.auto_pad == "NOTSET") return OkStatus();
  if (w.auto_pad == "VALID") {
    w.pads.assign(2 * n, 0);
    return OkStatus();
  }
  if (w.auto_pad != "SAME_UPPER" && w.auto_pad != "SAME_LOWER")
    return ctx.UnsupportedAttr("auto_pad", "'" + w.auto_pad + "'");
  for (size_t i = 0; i < n; ++i) {
    int64_t out = (in[i] + w.strides[i] - 1) / w.strides[i];
    int64_t eff = (w.kernel[i] - 1) * w.dilations[i] + 1;
    int64_t total = std::max<int64_t>(0, (out - 1) * w.strides[i] + eff - in[i]);
    int64_t small = total / 2, big = total - small;
    w.pads[i] = w.auto_pad == "SAME_UPPER" ? small : big;
    w.pads[i + n] = w.auto_pad == "SAME_UPPER" ? big : small;
  }
  return OkStatus();
}

ConvDims NchwConvDims(int64_t nsp) {
  ConvDims cd;
  cd.input_batch = 0;
  cd.input_feature = 1;
  cd.kernel_output_feature = 0;
  cd.kernel_input_feature = 1;
  cd.output_batch = 0;
  cd.output_feature = 1;
  for (int64_t i = 0; i < nsp; ++i) {
    cd.input_spatial.push_back(2 + i);
    cd.kernel_spatial.push_back(2 + i);
    cd.output_spatial.push_back(2 + i);
  }
  return cd;
}

StatusOr<Instruction*> AddChannelBias(ImportContext& ctx, Instruction* y, int bias_input) {
  if (!ctx.has_input(bias_input)) return y;
  ASSIGN_OR_RETURN(Instruction * bias, ctx.Input(bias_input));
  if (bias->shape.rank() != 1 || bias->shape.dims[0] != y->shape.dims[1])
    return ctx.Error("bias {} does not match {} output channels", bias->shape.ToString(), y->shape.dims[1]);
  ASSIGN_OR_RETURN(Instruction * bb, ctx.b().Broadcast(bias, y->shape.dims, {1}));
  return ctx.b().Binary(Opcode::kAdd, y, bb);
}

// The convolution of x and w with the node's window attributes (no bias).
StatusOr<Instruction*> ConvOf(ImportContext& ctx, Instruction* x, Instruction* w) {
  int64_t r = x->shape.rank();
  if (r < 3 || w->shape.rank() != r)
    return ctx.Error("expects input and weights of equal rank >= 3, got {} and {}", x->shape.ToString(), w->shape.ToString());
  int64_t nsp = r - 2;
  std::vector<int64_t> kernel(w->shape.dims.begin() + 2, w->shape.dims.end());
  ASSIGN_OR_RETURN(WindowAttrs wa, ReadWindow(ctx, nsp, kernel, true));
  ASSIGN_OR_RETURN(int64_t group, ctx.Int("group", 1));
  RETURN_IF_ERROR(ctx.CheckAttrRange("group", group, 1, kMaxTensorElements));
  std::vector<int64_t> in(x->shape.dims.begin() + 2, x->shape.dims.end());
  RETURN_IF_ERROR(ResolvePads(ctx, wa, in));
  std::vector<WindowDim> win(nsp);
  for (int64_t i = 0; i < nsp; ++i) {
    win[i].size = wa.kernel[i];
    win[i].stride = wa.strides[i];
    win[i].window_dilation = wa.dilations[i];
    win[i].pad_lo = wa.pads[i];
    win[i].pad_hi = wa.pads[i + nsp];
  }
  return ctx.b().Convolution(x, w, win, NchwConvDims(nsp), group);
}

// Conv, or with `integer` ConvInteger: int32 convolution of x - x_zero_point
// and w - w_zero_point (inputs 2 and 3), without bias.
Status ConvImpl(ImportContext& ctx, bool integer) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * w, ctx.Input(1));
  if (integer) {
    ASSIGN_OR_RETURN(x, CenteredS32(ctx, x, 2, "x"));
    ASSIGN_OR_RETURN(w, CenteredS32(ctx, w, 3, "w"));
  }
  ASSIGN_OR_RETURN(Instruction * y, ConvOf(ctx, x, w));
  if (!integer) { ASSIGN_OR_RETURN(y, AddChannelBias(ctx, y, 2)); }
  ctx.SetOutput(0, y);
  return OkStatus();
}

// y = saturate(round((conv(x - x_zp, w - w_zp) + B) * (x_scale * w_scale / y_scale)) + y_zp),
// the accumulator in int32 and the scaling in float32 as QLinearMatMul;
// w_scale may be per output channel, zero points are scalars.
Status QLinearConv(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * w, ctx.Input(3));
  ASSIGN_OR_RETURN(Instruction * yzp, ctx.Input(7));
  DType out = yzp->shape.dtype;
  if (out != DType::kU8 && out != DType::kS8) return ctx.Error("y_zero_point must be uint8 or int8");
  ASSIGN_OR_RETURN(x, CenteredS32(ctx, x, 2, "x"));
  ASSIGN_OR_RETURN(w, CenteredS32(ctx, w, 5, "w"));
  ASSIGN_OR_RETURN(Instruction * acc, ConvOf(ctx, x, w));
  const std::vector<int64_t>& dims = acc->shape.dims;
  if (ctx.has_input(8)) {
    ASSIGN_OR_RETURN(Instruction * bias, ctx.Input(8));
    if (bias->shape.dtype != DType::kS32 || bias->shape.rank() != 1 || bias->shape.dims[0] != dims[1])
      return ctx.Error("B {} must be int32 [{}]", bias->shape.ToString(), dims[1]);
    ASSIGN_OR_RETURN(bias, ctx.b().Broadcast(bias, dims, {1}));
    ASSIGN_OR_RETURN(acc, ctx.b().Binary(Opcode::kAdd, acc, bias));
  }
  ASSIGN_OR_RETURN(Instruction * xs, ScalarParam(ctx, 1, "x_scale"));
  ASSIGN_OR_RETURN(Instruction * ws, ctx.Input(4));
  ASSIGN_OR_RETURN(ws, ctx.Convert(ws, DType::kF32));
  if (ws->shape.num_elements() == 1) {
    ASSIGN_OR_RETURN(ws, ctx.Reshape(ws, {}));
  } else if (ws->shape.rank() != 1 || ws->shape.dims[0] != dims[1]) {
    return ctx.Error("w_scale {} must be a scalar or one value per output channel ({})", ws->shape.ToString(), dims[1]);
  }
  ASSIGN_OR_RETURN(Instruction * ys, ScalarParam(ctx, 6, "y_scale"));
  ASSIGN_OR_RETURN(Instruction * zf, ScalarParam(ctx, 7, "y_zero_point"));
  ASSIGN_OR_RETURN(Instruction * xsb, ctx.b().Broadcast(xs, ws->shape.dims, {}));
  ASSIGN_OR_RETURN(Instruction * ysb, ctx.b().Broadcast(ys, ws->shape.dims, {}));
  ASSIGN_OR_RETURN(Instruction * k, ctx.b().Binary(Opcode::kMultiply, xsb, ws));
  ASSIGN_OR_RETURN(k, ctx.b().Binary(Opcode::kDivide, k, ysb));
  ASSIGN_OR_RETURN(k, ctx.b().Broadcast(k, dims, k->shape.rank() == 1 ? std::vector<int64_t>{1} : std::vector<int64_t>{}));
  ASSIGN_OR_RETURN(Instruction * f, ctx.Convert(acc, DType::kF32));
  ASSIGN_OR_RETURN(zf, ctx.b().Broadcast(zf, dims, {}));
  ASSIGN_OR_RETURN(f, ctx.b().Binary(Opcode::kMultiply, f, k));
  ASSIGN_OR_RETURN(f, ctx.b().Unary(Opcode::kRoundNearestEven, f));
  ASSIGN_OR_RETURN(f, ctx.b().Binary(Opcode::kAdd, f, zf));
  ASSIGN_OR_RETURN(Instruction * lo, ctx.FullLike(f, out == DType::kU8 ? 0 : -128));
  ASSIGN_OR_RETURN(Instruction * hi, ctx.FullLike(f, out == DType::kU8 ? 255 : 127));
  ASSIGN_OR_RETURN(f, ctx.b().Clamp(lo, f, hi));
  ASSIGN_OR_RETURN(Instruction * y, ctx.Convert(f, out));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Conv(ImportContext& ctx) { return ConvImpl(ctx, false); }
Status ConvInteger(ImportContext& ctx) { return ConvImpl(ctx, true); }

Status ConvTranspose(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * w, ctx.Input(1));
  int64_t r = x->shape.rank();
  if (r < 3 || w->shape.rank() != r)
    return ctx.Error("expects input and weights of equal rank >= 3, got {} and {}", x->shape.ToString(), w->shape.ToString());
  int64_t nsp = r - 2;
  std::vector<int64_t> kernel(w->shape.dims.begin() + 2, w->shape.dims.end());
  ASSIGN_OR_RETURN(WindowAttrs wa, ReadWindow(ctx, nsp, kernel, true));
  ASSIGN_OR_RETURN(int64_t group, ctx.Int("group", 1));
  ASSIGN_OR_RETURN(auto out_pad, ctx.Ints("output_padding", std::vector<int64_t>(nsp, 0)));
  ASSIGN_OR_RETURN(auto out_shape, ctx.Ints("output_shape"));
  if (static_cast<int64_t>(out_pad.size()) != nsp) return ctx.Error("output_padding does not match {} spatial dims", nsp);
  RETURN_IF_ERROR(ctx.CheckAttrRange("output_padding", out_pad, 0, kMaxTensorElements));
  RETURN_IF_ERROR(ctx.CheckAttrRange("output_shape", out_shape, 0, kMaxTensorElements));
  RETURN_IF_ERROR(ctx.CheckAttrRange("group", group, 1, kMaxTensorElements));
  std::vector<int64_t> in(x->shape.dims.begin() + 2, x->shape.dims.end());
  if (!out_shape.empty()) {
    if (static_cast<int64_t>(out_shape.size()) != nsp) return ctx.Error("output_shape does not match {} spatial dims", nsp);
    // total padding so that the output has out_shape; split as the spec does.
    for (int64_t i = 0; i < nsp; ++i) {
      int64_t total = wa.strides[i] * (in[i] - 1) + out_pad[i] + (wa.kernel[i] - 1) * wa.dilations[i] + 1 - out_shape[i];
      // Floor division, so a negative total (output larger than natural)
      // extends the end, as the reference implementation does.
      int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      bool upper = wa.auto_pad == "SAME_UPPER";
      wa.pads[i] = upper ? half : total - half;
      wa.pads[i + nsp] = upper ? total - half : half;
    }
  } else if (wa.auto_pad == "SAME_UPPER" || wa.auto_pad == "SAME_LOWER") {
    for (int64_t i = 0; i < nsp; ++i) {
      int64_t target = in[i] * wa.strides[i];
      int64_t total = wa.strides[i] * (in[i] - 1) + out_pad[i] + (wa.kernel[i] - 1) * wa.dilations[i] + 1 - target;
      total = std::max<int64_t>(total, 0);
      bool upper = wa.auto_pad == "SAME_UPPER";
      wa.pads[i] = upper ? total / 2 : total - total / 2;
      wa.pads[i + nsp] = upper ? total - total / 2 : total / 2;
    }
  } else if (wa.auto_pad == "VALID") {
    wa.pads.assign(2 * nsp, 0);
  } else if (wa.auto_pad != "NOTSET") {
    return ctx.UnsupportedAttr("auto_pad", "'" + wa.auto_pad + "'");
  }
  // Weights [C, M/g, k...] -> [M, C/g, k...], spatially flipped.
  int64_t c = w->shape.dims[0], mg = w->shape.dims[1];
  if (group < 1 || c % group != 0) return ctx.Error("group {} does not divide {} input channels", group, c);
  std::vector<int64_t> g_dims = {group, c / group, mg};
  g_dims.insert(g_dims.end(), kernel.begin(), kernel.end());
  ASSIGN_OR_RETURN(Instruction * wk, ctx.Reshape(w, g_dims));
  std::vector<int64_t> perm = {0, 2, 1};
  for (int64_t i = 0; i < nsp; ++i) perm.push_back(3 + i);
  ASSIGN_OR_RETURN(wk, ctx.b().Transpose(wk, perm));
  std::vector<int64_t> k_dims = {group * mg, c / group};
  k_dims.insert(k_dims.end(), kernel.begin(), kernel.end());
  ASSIGN_OR_RETURN(wk, ctx.Reshape(wk, k_dims));
  std::vector<int64_t> spatial;
  for (int64_t i = 0; i < nsp; ++i) spatial.push_back(2 + i);
  ASSIGN_OR_RETURN(wk, ctx.b().Reverse(wk, spatial));
  std::vector<WindowDim> win(nsp);
  for (int64_t i = 0; i < nsp; ++i) {
    int64_t eff = (wa.kernel[i] - 1) * wa.dilations[i];
    win[i].size = wa.kernel[i];
    win[i].stride = 1;
    win[i].base_dilation = wa.strides[i];
    win[i].window_dilation = wa.dilations[i];
    win[i].pad_lo = eff - wa.pads[i];
    win[i].pad_hi = eff - wa.pads[i + nsp] + out_pad[i];
  }
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Convolution(x, wk, win, NchwConvDims(nsp), group));
  ASSIGN_OR_RETURN(y, AddChannelBias(ctx, y, 2));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// Per-output-position count of window taps that land on real (or, with
// include_pad, explicitly padded) input, along one spatial dim.
std::vector<int64_t> TapCounts(int64_t in, int64_t out, int64_t k, int64_t s, int64_t d, int64_t lo,
                               int64_t hi_explicit, bool include_pad) {
  // Counted in closed form (windows can be huge): tap t lands on
  // base + t * d, which must lie in [first, last].
  std::vector<int64_t> counts(out);
  int64_t first = include_pad ? -lo : 0, last = include_pad ? in + hi_explicit - 1 : in - 1;
  auto floor_div = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
  for (int64_t o = 0; o < out; ++o) {
    int64_t base = o * s - lo;
    int64_t t_lo = std::max<int64_t>(0, -floor_div(base - first, d));  // ceil((first-base)/d)
    int64_t t_hi = std::min<int64_t>(k - 1, floor_div(last - base, d));
    counts[o] = std::max<int64_t>(0, t_hi - t_lo + 1);
  }
  return counts;
}

Converter Pool(bool is_max) {
  return [is_max](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
    int64_t r = x->shape.rank();
    if (r < 3) return ctx.Error("input must have rank >= 3, got {}", x->shape.ToString());
    int64_t nsp = r - 2;
    if (!ctx.HasAttr("kernel_shape")) return ctx.Error("attribute 'kernel_shape' is required");
    bool has_dil = is_max || ctx.opset() >= 19;
    ASSIGN_OR_RETURN(WindowAttrs wa, ReadWindow(ctx, nsp, {}, has_dil));
    ASSIGN_OR_RETURN(int64_t ceil_mode, ctx.Int("ceil_mode", 0));
    int64_t include_pad = 0;
    if (is_max) {
      ASSIGN_OR_RETURN(int64_t storage_order, ctx.Int("storage_order", 0));
      if (ctx.has_output(1)) return ctx.Unimplemented("output 1 (Indices) is not supported");
      (void)storage_order;  // only affects Indices
    } else {
      ASSIGN_OR_RETURN(include_pad, ctx.Int("count_include_pad", 0));
    }
    std::vector<int64_t> in(x->shape.dims.begin() + 2, x->shape.dims.end());
    RETURN_IF_ERROR(ResolvePads(ctx, wa, in));
    std::vector<WindowDim> win(r);
    std::vector<int64_t> out(nsp), extra(nsp, 0);
    for (int64_t i = 0; i < nsp; ++i) {
      int64_t lo = wa.pads[i], hi = wa.pads[i + nsp];
      int64_t eff = (wa.kernel[i] - 1) * wa.dilations[i] + 1;
      int64_t span = in[i] + lo + hi - eff;
      if (span < 0) return ctx.Error("window {} is larger than padded input {}", eff, in[i] + lo + hi);
      int64_t o = (ceil_mode ? (span + wa.strides[i] - 1) / wa.strides[i] : span / wa.strides[i]) + 1;
      // A window must start inside the input or the left padding.
      if (ceil_mode && (o - 1) * wa.strides[i] >= in[i] + lo) --o;
      out[i] = o;
      extra[i] = std::max<int64_t>(0, (o - 1) * wa.strides[i] + eff - (in[i] + lo + hi));
      WindowDim& wd = win[2 + i];
      wd.size = wa.kernel[i];
      wd.stride = wa.strides[i];
      wd.window_dilation = wa.dilations[i];
      wd.pad_lo = lo;
      wd.pad_hi = hi + extra[i];
    }
    DType t = x->shape.dtype;
    Instruction* y;
    if (is_max) {
      ASSIGN_OR_RETURN(Instruction * init, ctx.ScalarConstant(t, LowestValue(t)));
      ASSIGN_OR_RETURN(Computation * f, ctx.Reducer(Opcode::kMaximum, t));
      ASSIGN_OR_RETURN(y, ctx.b().ReduceWindow(x, init, win, f));
    } else {
      ASSIGN_OR_RETURN(Instruction * init, ctx.ScalarConstant(t, 0));
      ASSIGN_OR_RETURN(Computation * f, ctx.Reducer(Opcode::kAdd, t));
      ASSIGN_OR_RETURN(y, ctx.b().ReduceWindow(x, init, win, f));
      // Divisors: a constant over the spatial dims (windows are separable).
      std::vector<int64_t> cdims = {1, 1};
      cdims.insert(cdims.end(), out.begin(), out.end());
      ASSIGN_OR_RETURN(int64_t ncounts, ctx.ElementCount(cdims, "output"));
      if (ncounts > kMaxConstantElements)
        return ctx.Unimplemented("output spatial size {} is too large", Dims(out));
      Literal counts(Shape(t, cdims));
      std::vector<std::vector<int64_t>> per_dim;
      for (int64_t i = 0; i < nsp; ++i)
        per_dim.push_back(TapCounts(in[i], out[i], wa.kernel[i], wa.strides[i], wa.dilations[i],
                                    wa.pads[i], wa.pads[i + nsp], include_pad != 0));
      std::vector<int64_t> pos(nsp, 0);
      for (int64_t e = 0; e < counts.num_elements(); ++e) {
        int64_t rem = e, n = 1;
        for (int64_t i = nsp - 1; i >= 0; --i) {
          pos[i] = rem % out[i];
          rem /= out[i];
          n *= per_dim[i][pos[i]];
        }
        counts.SetFromDouble(e, static_cast<double>(n));
      }
      ASSIGN_OR_RETURN(Instruction * c, ctx.b().Constant(std::move(counts)));
      ASSIGN_OR_RETURN(c, ctx.BroadcastTo(c, y->shape.dims));
      ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kDivide, y, c));
    }
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

Converter GlobalPool(bool is_max) {
  return [is_max](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
    int64_t r = x->shape.rank();
    if (r < 3) return ctx.Error("input must have rank >= 3, got {}", x->shape.ToString());
    std::vector<int64_t> dims, keep = {x->shape.dims[0], x->shape.dims[1]};
    for (int64_t i = 2; i < r; ++i) {
      dims.push_back(i);
      keep.push_back(1);
    }
    DType t = x->shape.dtype;
    Instruction* y;
    if (is_max) {
      ASSIGN_OR_RETURN(y, ctx.Reduce(x, dims, Opcode::kMaximum, LowestValue(t)));
    } else {
      ASSIGN_OR_RETURN(y, ctx.Reduce(x, dims, Opcode::kAdd, 0));
      ASSIGN_OR_RETURN(Instruction * n, ctx.FullLike(y, static_cast<double>(Product(x->shape.dims, 2, r))));
      ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kDivide, y, n));
    }
    ASSIGN_OR_RETURN(y, ctx.Reshape(y, keep));
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

// Broadcasts a per-channel vector [C] over dim 1 of `like`.
}  // namespace

void RegisterNnOps(OpTable& t) {
  t["MatMul"] = MatMul;
  t["MatMulInteger"] = MatMulInteger;
  t["QLinearMatMul"] = QLinearMatMul;
  t["Gemm"] = Gemm;
  t["Conv"] = Conv;
  t["ConvInteger"] = ConvInteger;
  t["QLinearConv"] = QLinearConv;
  t["ConvTranspose"] = ConvTranspose;
  t["MaxPool"] = Pool(true);
  t["AveragePool"] = Pool(false);
  t["GlobalAveragePool"] = GlobalPool(false);
  t["GlobalMaxPool"] = GlobalPool(true);
}

}  // namespace xtpu::onnx_import
