// ONNX elementwise ops: arithmetic, math functions, activations,
// comparisons, logic, Where, Cast, Clip, variadic Min/Max/Sum/Mean.
#include <algorithm>
#include <cmath>
#include <limits>

#include "xtpu/frontend/onnx/import_context.h"

namespace xtpu::onnx_import {

namespace {

Converter UnaryOp(Opcode op) {
  return [op](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
    ASSIGN_OR_RETURN(Instruction * y, ctx.b().Unary(op, x));
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

// Opsets < 7 had no numpy broadcasting: with broadcast=0 the shapes must be
// equal; with broadcast=1, B's shape matches a contiguous run of A's dims
// starting at `axis` (default: aligned to the right), B dims of 1 repeating.
StatusOr<Instruction*> LegacyBroadcast(ImportContext& ctx, Instruction* a, Instruction* b) {
  ASSIGN_OR_RETURN(int64_t broadcast, ctx.Int("broadcast", 0));
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", -1));
  if (ctx.HasAttr("consumed_inputs")) { ASSIGN_OR_RETURN(auto unused, ctx.Ints("consumed_inputs")); (void)unused; }
  const auto& ad = a->shape.dims;
  const auto& bd = b->shape.dims;
  if (!broadcast) {
    if (ad != bd)
      return ctx.Error("operand shapes {} and {} differ and attribute 'broadcast' is 0",
                       a->shape.ToString(), b->shape.ToString());
    return b;
  }
  int64_t ra = a->shape.rank(), rb = b->shape.rank();
  // A one-element B is a scalar.
  if (b->shape.num_elements() == 1 && rb <= 1) {
    ASSIGN_OR_RETURN(Instruction * s, ctx.Reshape(b, {}));
    return ctx.b().Broadcast(s, ad, {});
  }
  if (rb > ra)
    return ctx.Error("operand B {} has a higher rank than A {}", b->shape.ToString(), a->shape.ToString());
  if (!ctx.HasAttr("axis")) axis = ra - rb;
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, std::max<int64_t>(ra, 1), "axis"));
  if (axis + rb > ra)
    return ctx.Error("operand B {} does not fit into A {} at axis {}", b->shape.ToString(),
                     a->shape.ToString(), axis);
  std::vector<int64_t> keep, squeezed;
  for (int64_t i = 0; i < rb; ++i) {
    if (bd[i] == ad[axis + i]) {
      keep.push_back(axis + i);
      squeezed.push_back(bd[i]);
    } else if (bd[i] != 1) {
      return ctx.Error("operand B {} does not match A {} at axis {} (legacy broadcasting)",
                       b->shape.ToString(), a->shape.ToString(), axis);
    }
  }
  ASSIGN_OR_RETURN(Instruction * bs, ctx.Reshape(b, squeezed));
  return ctx.b().Broadcast(bs, ad, keep);
}

Converter BinaryOp(Opcode op) {
  return [op](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * a, ctx.Input(0));
    ASSIGN_OR_RETURN(Instruction * b, ctx.Input(1));
    bool legacy = ctx.opset() < 7 && (op == Opcode::kAdd || op == Opcode::kSubtract ||
                                      op == Opcode::kMultiply || op == Opcode::kDivide);
    if (legacy) { ASSIGN_OR_RETURN(b, LegacyBroadcast(ctx, a, b)); }
    ASSIGN_OR_RETURN(Instruction * y, ctx.Binary(op, a, b));
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

Converter CompareOp(CompareDirection d) {
  return [d](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * a, ctx.Input(0));
    ASSIGN_OR_RETURN(Instruction * b, ctx.Input(1));
    ASSIGN_OR_RETURN(Instruction * y, ctx.Compare(d, a, b));
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

// Variadic Min/Max/Sum/Mean with broadcasting.
Converter VariadicOp(Opcode op, bool mean) {
  return [op, mean](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * acc, ctx.Input(0));
    int n = 1;
    for (int i = 1; i < ctx.num_inputs(); ++i) {
      if (!ctx.has_input(i)) continue;
      ASSIGN_OR_RETURN(Instruction * x, ctx.Input(i));
      ASSIGN_OR_RETURN(acc, ctx.Binary(op, acc, x));
      ++n;
    }
    if (mean && n > 1) {
      ASSIGN_OR_RETURN(Instruction * c, ctx.FullLike(acc, n));
      ASSIGN_OR_RETURN(acc, ctx.b().Binary(Opcode::kDivide, acc, c));
    }
    if (n == 1) { ASSIGN_OR_RETURN(acc, ctx.b().Unary(Opcode::kCopy, acc)); }
    ctx.SetOutput(0, acc);
    return OkStatus();
  };
}

// y = f(x) built from x, a helper for activations.
using Body = std::function<StatusOr<Instruction*>(ImportContext&, Instruction*)>;
Converter Activation(Body body) {
  return [body](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
    if (!IsFloat(x->shape.dtype) && x->shape.dtype != DType::kS32 &&
        x->shape.dtype != DType::kS64 && x->shape.dtype != DType::kS8)
      return ctx.Unimplemented("element type {} is not supported", DTypeName(x->shape.dtype));
    ASSIGN_OR_RETURN(Instruction * y, body(ctx, x));
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

// Small expression helpers on same-shaped values.
struct Ops {
  ImportContext& ctx;
  StatusOr<Instruction*> c(Instruction* like, double v) { return ctx.FullLike(like, v); }
  StatusOr<Instruction*> bin(Opcode op, Instruction* a, Instruction* b) {
    return ctx.b().Binary(op, a, b);
  }
  StatusOr<Instruction*> un(Opcode op, Instruction* a) { return ctx.b().Unary(op, a); }
  // a * v
  StatusOr<Instruction*> scale(Instruction* a, double v) {
    ASSIGN_OR_RETURN(Instruction * k, c(a, v));
    return bin(Opcode::kMultiply, a, k);
  }
  // a + v
  StatusOr<Instruction*> shift(Instruction* a, double v) {
    ASSIGN_OR_RETURN(Instruction * k, c(a, v));
    return bin(Opcode::kAdd, a, k);
  }
  // x < 0 ? neg : x
  StatusOr<Instruction*> where_neg(Instruction* x, Instruction* neg) {
    ASSIGN_OR_RETURN(Instruction * zero, c(x, 0));
    ASSIGN_OR_RETURN(Instruction * p, ctx.b().Compare(CompareDirection::kLt, x, zero));
    return ctx.b().Select(p, neg, x);
  }
};

StatusOr<Instruction*> Relu(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * zero, o.c(x, 0));
  return o.bin(Opcode::kMaximum, x, zero);
}

StatusOr<Instruction*> LeakyRelu(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(float alpha, ctx.Float("alpha", 0.01f));
  ASSIGN_OR_RETURN(Instruction * neg, o.scale(x, alpha));
  return o.where_neg(x, neg);
}

// alpha * (exp(x) - 1)
StatusOr<Instruction*> ExpM1Scaled(Ops& o, Instruction* x, double alpha) {
  ASSIGN_OR_RETURN(Instruction * e, o.un(Opcode::kExp, x));
  ASSIGN_OR_RETURN(Instruction * em1, o.shift(e, -1));
  return o.scale(em1, alpha);
}

StatusOr<Instruction*> Elu(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(float alpha, ctx.Float("alpha", 1.0f));
  ASSIGN_OR_RETURN(Instruction * neg, ExpM1Scaled(o, x, alpha));
  return o.where_neg(x, neg);
}

StatusOr<Instruction*> Selu(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(float alpha, ctx.Float("alpha", 1.67326319217681884765625f));
  ASSIGN_OR_RETURN(float gamma, ctx.Float("gamma", 1.05070102214813232421875f));
  ASSIGN_OR_RETURN(Instruction * neg, ExpM1Scaled(o, x, alpha));
  ASSIGN_OR_RETURN(Instruction * y, o.where_neg(x, neg));
  return o.scale(y, gamma);
}

StatusOr<Instruction*> Celu(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(float alpha, ctx.Float("alpha", 1.0f));
  // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
  ASSIGN_OR_RETURN(Instruction * xs, o.scale(x, 1.0 / alpha));
  ASSIGN_OR_RETURN(Instruction * neg, ExpM1Scaled(o, xs, alpha));
  ASSIGN_OR_RETURN(Instruction * zero, o.c(x, 0));
  ASSIGN_OR_RETURN(Instruction * pos, o.bin(Opcode::kMaximum, x, zero));
  ASSIGN_OR_RETURN(Instruction * negpart, o.bin(Opcode::kMinimum, neg, zero));
  return o.bin(Opcode::kAdd, pos, negpart);
}

// clamp(alpha * x + beta, 0, 1)
StatusOr<Instruction*> HardSigmoidOf(Ops& o, Instruction* x, double alpha, double beta) {
  ASSIGN_OR_RETURN(Instruction * ax, o.scale(x, alpha));
  ASSIGN_OR_RETURN(Instruction * y, o.shift(ax, beta));
  ASSIGN_OR_RETURN(Instruction * zero, o.c(x, 0));
  ASSIGN_OR_RETURN(Instruction * one, o.c(x, 1));
  ASSIGN_OR_RETURN(y, o.bin(Opcode::kMaximum, y, zero));
  return o.bin(Opcode::kMinimum, y, one);
}

StatusOr<Instruction*> HardSigmoid(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(float alpha, ctx.Float("alpha", 0.2f));
  ASSIGN_OR_RETURN(float beta, ctx.Float("beta", 0.5f));
  return HardSigmoidOf(o, x, alpha, beta);
}

StatusOr<Instruction*> HardSwish(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * hs, HardSigmoidOf(o, x, 1.0 / 6.0, 0.5));
  return o.bin(Opcode::kMultiply, x, hs);
}

StatusOr<Instruction*> Softplus(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * e, o.un(Opcode::kExp, x));
  ASSIGN_OR_RETURN(Instruction * e1, o.shift(e, 1));
  return o.un(Opcode::kLog, e1);
}

StatusOr<Instruction*> Softsign(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * a, o.un(Opcode::kAbs, x));
  ASSIGN_OR_RETURN(Instruction * a1, o.shift(a, 1));
  return o.bin(Opcode::kDivide, x, a1);
}

StatusOr<Instruction*> Reciprocal(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * one, o.c(x, 1));
  return o.bin(Opcode::kDivide, one, x);
}

// Trigonometric and hyperbolic functions built from exp/log/sqrt/atan2.
StatusOr<Instruction*> Tan(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * s, o.un(Opcode::kSin, x));
  ASSIGN_OR_RETURN(Instruction * c, o.un(Opcode::kCos, x));
  return o.bin(Opcode::kDivide, s, c);
}

// sqrt(1 - x^2)
StatusOr<Instruction*> SqrtOneMinusSq(Ops& o, Instruction* x) {
  ASSIGN_OR_RETURN(Instruction * one, o.c(x, 1));
  ASSIGN_OR_RETURN(Instruction * sq, o.bin(Opcode::kMultiply, x, x));
  ASSIGN_OR_RETURN(Instruction * d, o.bin(Opcode::kSubtract, one, sq));
  return o.un(Opcode::kSqrt, d);
}

StatusOr<Instruction*> Asin(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * r, SqrtOneMinusSq(o, x));
  return o.bin(Opcode::kAtan2, x, r);
}

StatusOr<Instruction*> Acos(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * r, SqrtOneMinusSq(o, x));
  return o.bin(Opcode::kAtan2, r, x);
}

StatusOr<Instruction*> Atan(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * one, o.c(x, 1));
  return o.bin(Opcode::kAtan2, x, one);
}

// (exp(x) -/+ exp(-x)) / 2
StatusOr<Instruction*> SinhCosh(ImportContext& ctx, Instruction* x, bool cosh) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * ep, o.un(Opcode::kExp, x));
  ASSIGN_OR_RETURN(Instruction * nx, o.un(Opcode::kNegate, x));
  ASSIGN_OR_RETURN(Instruction * en, o.un(Opcode::kExp, nx));
  ASSIGN_OR_RETURN(Instruction * y, o.bin(cosh ? Opcode::kAdd : Opcode::kSubtract, ep, en));
  return o.scale(y, 0.5);
}
StatusOr<Instruction*> Sinh(ImportContext& ctx, Instruction* x) { return SinhCosh(ctx, x, false); }
StatusOr<Instruction*> Cosh(ImportContext& ctx, Instruction* x) { return SinhCosh(ctx, x, true); }

// log(x + sqrt(x^2 + s)): asinh with s = 1, acosh with s = -1.
StatusOr<Instruction*> LogSqrt(ImportContext& ctx, Instruction* x, double s) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * sq, o.bin(Opcode::kMultiply, x, x));
  ASSIGN_OR_RETURN(Instruction * d, o.shift(sq, s));
  ASSIGN_OR_RETURN(Instruction * r, o.un(Opcode::kSqrt, d));
  ASSIGN_OR_RETURN(Instruction * a, o.bin(Opcode::kAdd, x, r));
  return o.un(Opcode::kLog, a);
}
StatusOr<Instruction*> Asinh(ImportContext& ctx, Instruction* x) { return LogSqrt(ctx, x, 1); }
StatusOr<Instruction*> Acosh(ImportContext& ctx, Instruction* x) { return LogSqrt(ctx, x, -1); }

// 0.5 * log((1 + x) / (1 - x))
StatusOr<Instruction*> Atanh(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * one, o.c(x, 1));
  ASSIGN_OR_RETURN(Instruction * p, o.bin(Opcode::kAdd, one, x));
  ASSIGN_OR_RETURN(Instruction * m, o.bin(Opcode::kSubtract, one, x));
  ASSIGN_OR_RETURN(Instruction * q, o.bin(Opcode::kDivide, p, m));
  ASSIGN_OR_RETURN(Instruction * l, o.un(Opcode::kLog, q));
  return o.scale(l, 0.5);
}

// x > alpha ? x : 0
StatusOr<Instruction*> ThresholdedRelu(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(float alpha, ctx.Float("alpha", 1.0f));
  ASSIGN_OR_RETURN(Instruction * a, o.c(x, alpha));
  ASSIGN_OR_RETURN(Instruction * zero, o.c(x, 0));
  ASSIGN_OR_RETURN(Instruction * p, ctx.b().Compare(CompareDirection::kGt, x, a));
  return ctx.b().Select(p, x, zero);
}

// x < -lambd ? x + bias : x > lambd ? x - bias : 0
StatusOr<Instruction*> Shrink(ImportContext& ctx, Instruction* x) {
  Ops o{ctx};
  ASSIGN_OR_RETURN(float bias, ctx.Float("bias", 0.0f));
  ASSIGN_OR_RETURN(float lambd, ctx.Float("lambd", 0.5f));
  ASSIGN_OR_RETURN(Instruction * lo, o.c(x, -lambd));
  ASSIGN_OR_RETURN(Instruction * hi, o.c(x, lambd));
  ASSIGN_OR_RETURN(Instruction * zero, o.c(x, 0));
  ASSIGN_OR_RETURN(Instruction * xp, o.shift(x, bias));
  ASSIGN_OR_RETURN(Instruction * xm, o.shift(x, -bias));
  ASSIGN_OR_RETURN(Instruction * below, ctx.b().Compare(CompareDirection::kLt, x, lo));
  ASSIGN_OR_RETURN(Instruction * above, ctx.b().Compare(CompareDirection::kGt, x, hi));
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Select(above, xm, zero));
  return ctx.b().Select(below, xp, y);
}

Status IsNaN(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  if (!IsFloat(x->shape.dtype)) return ctx.Error("input must be floating-point, got {}", DTypeName(x->shape.dtype));
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Compare(CompareDirection::kNe, x, x));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status IsInf(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(int64_t neg, ctx.Int("detect_negative", 1));
  ASSIGN_OR_RETURN(int64_t pos, ctx.Int("detect_positive", 1));
  if (!IsFloat(x->shape.dtype)) return ctx.Error("input must be floating-point, got {}", DTypeName(x->shape.dtype));
  ASSIGN_OR_RETURN(Instruction * pinf, ctx.FullLike(x, INFINITY));
  ASSIGN_OR_RETURN(Instruction * ninf, ctx.FullLike(x, -INFINITY));
  ASSIGN_OR_RETURN(Instruction * ip, ctx.b().Compare(CompareDirection::kEq, x, pinf));
  ASSIGN_OR_RETURN(Instruction * in, ctx.b().Compare(CompareDirection::kEq, x, ninf));
  Instruction* y;
  if (neg && pos) {
    ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kOr, ip, in));
  } else if (pos) {
    y = ip;
  } else if (neg) {
    y = in;
  } else {
    ASSIGN_OR_RETURN(y, ctx.Full(DType::kPred, x->shape.dims, 0));
  }
  ctx.SetOutput(0, y);
  return OkStatus();
}

// A quantization parameter (scale or zero point): a scalar, or with per-axis
// quantization a 1-D tensor along `axis` of x, broadcast to x's shape.
StatusOr<Instruction*> QuantParam(ImportContext& ctx, Instruction* p, Instruction* x, int64_t axis,
                                  std::string_view what) {
  if (p->shape.num_elements() == 1 && p->shape.rank() <= 1) {
    ASSIGN_OR_RETURN(Instruction * s, ctx.Reshape(p, {}));
    return ctx.b().Broadcast(s, x->shape.dims, {});
  }
  if (p->shape.rank() != 1 || x->shape.rank() == 0)
    return ctx.Error("{} {} must be a scalar or a vector (x is {})", what, p->shape.ToString(), x->shape.ToString());
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, x->shape.rank(), "axis"));
  if (p->shape.dims[0] != x->shape.dims[axis])
    return ctx.Error("{} {} must be a scalar or a vector of x's dim {} ({})", what, p->shape.ToString(), axis,
                     x->shape.ToString());
  return ctx.b().Broadcast(p, x->shape.dims, {axis});
}

StatusOr<int64_t> QuantAxis(ImportContext& ctx, Instruction* x) {
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", 1));
  ASSIGN_OR_RETURN(int64_t block, ctx.Int("block_size", 0));
  if (block != 0) return ctx.UnsupportedAttr("block_size", std::to_string(block));
  (void)x;  // checked against x only when a parameter is per-axis
  return axis;
}

// y = saturate(round_half_even(x / scale) + zero_point)
Status QuantizeLinear(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * scale, ctx.Input(1));
  ASSIGN_OR_RETURN(int64_t axis, QuantAxis(ctx, x));
  ASSIGN_OR_RETURN(int64_t saturate, ctx.Int("saturate", 1));
  (void)saturate;  // only affects float8 types, which xtpu lacks
  DType out = DType::kU8;
  Instruction* zp = nullptr;
  if (ctx.has_input(2)) {
    ASSIGN_OR_RETURN(zp, ctx.Input(2));
    out = zp->shape.dtype;
  }
  if (ctx.HasAttr("output_dtype")) {
    ASSIGN_OR_RETURN(int64_t od, ctx.Int("output_dtype", 0));
    if (od != 0) {
      if (od < 0 || od > std::numeric_limits<int32_t>::max())
        return ctx.Error("attribute 'output_dtype' = {} is not an ONNX element type", od);
      ASSIGN_OR_RETURN(out, DTypeFromOnnx(static_cast<int32_t>(od), "attribute 'output_dtype' of " + ctx.Label()));
    }
  }
  if (out != DType::kU8 && out != DType::kS8)
    return ctx.Unimplemented("quantizing to {} is not supported (only uint8 and int8)", DTypeName(out));
  if (!IsFloat(x->shape.dtype)) return ctx.Error("x must be floating-point, got {}", DTypeName(x->shape.dtype));
  ASSIGN_OR_RETURN(scale, ctx.Convert(scale, x->shape.dtype));
  ASSIGN_OR_RETURN(scale, QuantParam(ctx, scale, x, axis, "y_scale"));
  ASSIGN_OR_RETURN(Instruction * q, ctx.b().Binary(Opcode::kDivide, x, scale));
  ASSIGN_OR_RETURN(q, ctx.b().Unary(Opcode::kRoundNearestEven, q));
  if (zp) {
    ASSIGN_OR_RETURN(Instruction * z, ctx.Convert(zp, x->shape.dtype));
    ASSIGN_OR_RETURN(z, QuantParam(ctx, z, x, axis, "y_zero_point"));
    ASSIGN_OR_RETURN(q, ctx.b().Binary(Opcode::kAdd, q, z));
  }
  ASSIGN_OR_RETURN(Instruction * lo, ctx.FullLike(q, out == DType::kU8 ? 0 : -128));
  ASSIGN_OR_RETURN(Instruction * hi, ctx.FullLike(q, out == DType::kU8 ? 255 : 127));
  ASSIGN_OR_RETURN(q, ctx.b().Clamp(lo, q, hi));
  ASSIGN_OR_RETURN(Instruction * y, ctx.Convert(q, out));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// y = (x - zero_point) * scale
Status DequantizeLinear(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * scale, ctx.Input(1));
  ASSIGN_OR_RETURN(int64_t axis, QuantAxis(ctx, x));
  if (!IsFloat(scale->shape.dtype)) return ctx.Error("x_scale must be floating-point");
  DType t = scale->shape.dtype;
  ASSIGN_OR_RETURN(Instruction * v, ctx.Convert(x, t));
  if (ctx.has_input(2)) {
    ASSIGN_OR_RETURN(Instruction * zp, ctx.Input(2));
    ASSIGN_OR_RETURN(zp, ctx.Convert(zp, t));
    ASSIGN_OR_RETURN(zp, QuantParam(ctx, zp, x, axis, "x_zero_point"));
    ASSIGN_OR_RETURN(v, ctx.b().Binary(Opcode::kSubtract, v, zp));
  }
  ASSIGN_OR_RETURN(scale, QuantParam(ctx, scale, x, axis, "x_scale"));
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Binary(Opcode::kMultiply, v, scale));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// uint8 quantization with scale and zero point from x's range (which is
// widened to include 0): outputs y, y_scale, y_zero_point.
Status DynamicQuantizeLinear(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  if (x->shape.dtype != DType::kF32) return ctx.Error("x must be float32, got {}", DTypeName(x->shape.dtype));
  std::vector<int64_t> all;
  for (int64_t i = 0; i < x->shape.rank(); ++i) all.push_back(i);
  ASSIGN_OR_RETURN(Instruction * mx, ctx.Reduce(x, all, Opcode::kMaximum, 0));
  ASSIGN_OR_RETURN(Instruction * mn, ctx.Reduce(x, all, Opcode::kMinimum, 0));
  ASSIGN_OR_RETURN(Instruction * range, ctx.b().Binary(Opcode::kSubtract, mx, mn));
  ASSIGN_OR_RETURN(Instruction * q255, ctx.ScalarConstant(DType::kF32, 255));
  ASSIGN_OR_RETURN(Instruction * scale, ctx.b().Binary(Opcode::kDivide, range, q255));
  ASSIGN_OR_RETURN(Instruction * zero, ctx.ScalarConstant(DType::kF32, 0));
  ASSIGN_OR_RETURN(Instruction * zp, ctx.b().Binary(Opcode::kDivide, mn, scale));
  ASSIGN_OR_RETURN(zp, ctx.b().Binary(Opcode::kSubtract, zero, zp));
  ASSIGN_OR_RETURN(zp, ctx.b().Unary(Opcode::kRoundNearestEven, zp));
  ASSIGN_OR_RETURN(zp, ctx.b().Clamp(zero, zp, q255));
  ASSIGN_OR_RETURN(Instruction * sb, ctx.b().Broadcast(scale, x->shape.dims, {}));
  ASSIGN_OR_RETURN(Instruction * zb, ctx.b().Broadcast(zp, x->shape.dims, {}));
  ASSIGN_OR_RETURN(Instruction * q, ctx.b().Binary(Opcode::kDivide, x, sb));
  ASSIGN_OR_RETURN(q, ctx.b().Unary(Opcode::kRoundNearestEven, q));
  ASSIGN_OR_RETURN(q, ctx.b().Binary(Opcode::kAdd, q, zb));
  ASSIGN_OR_RETURN(Instruction * lo, ctx.FullLike(q, 0));
  ASSIGN_OR_RETURN(Instruction * hi, ctx.FullLike(q, 255));
  ASSIGN_OR_RETURN(q, ctx.b().Clamp(lo, q, hi));
  ASSIGN_OR_RETURN(Instruction * y, ctx.Convert(q, DType::kU8));
  ctx.SetOutput(0, y);
  if (ctx.has_output(1)) ctx.SetOutput(1, scale);
  if (ctx.has_output(2)) {
    ASSIGN_OR_RETURN(Instruction * z8, ctx.Convert(zp, DType::kU8));
    ctx.SetOutput(2, z8);
  }
  return OkStatus();
}

Status PRelu(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * slope, ctx.Input(1));
  if (ctx.HasAttr("consumed_inputs")) { ASSIGN_OR_RETURN(auto unused, ctx.Ints("consumed_inputs")); (void)unused; }
  if (ctx.opset() < 7 && slope->shape.rank() == 1 && x->shape.rank() >= 2 &&
      slope->shape.dims[0] != 1 && slope->shape.dims[0] == x->shape.dims[1]) {
    // Opsets < 7: a per-channel slope [C] applies along axis 1.
    ASSIGN_OR_RETURN(slope, ctx.b().Broadcast(slope, x->shape.dims, {1}));
  } else {
    ASSIGN_OR_RETURN(slope, ctx.BroadcastTo(slope, x->shape.dims));
  }
  ASSIGN_OR_RETURN(Instruction * neg, ctx.b().Binary(Opcode::kMultiply, x, slope));
  Ops o{ctx};
  ASSIGN_OR_RETURN(Instruction * y, o.where_neg(x, neg));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Pow(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * a, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * b, ctx.Input(1));
  ASSIGN_OR_RETURN(b, ctx.Convert(b, a->shape.dtype));
  // x^2 (LayerNorm chains) is common: a multiply is exact and cheap.
  const Literal* e = ctx.InputConstant(1);
  Instruction* y;
  if (e && e->num_elements() == 1 && e->GetAsDouble(0) == 2.0) {
    ASSIGN_OR_RETURN(y, ctx.b().Binary(Opcode::kMultiply, a, a));
    ASSIGN_OR_RETURN(auto dims, ctx.BroadcastDims(a->shape.dims, b->shape.dims));
    ASSIGN_OR_RETURN(y, ctx.BroadcastTo(y, dims));
  } else {
    ASSIGN_OR_RETURN(y, ctx.Binary(Opcode::kPower, a, b));
  }
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Clip(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  Instruction* lo = nullptr;
  Instruction* hi = nullptr;
  if (ctx.opset() < 11) {
    ASSIGN_OR_RETURN(float mn, ctx.Float("min", -INFINITY));
    ASSIGN_OR_RETURN(float mx, ctx.Float("max", INFINITY));
    if (ctx.HasAttr("min")) { ASSIGN_OR_RETURN(lo, ctx.ScalarConstant(x->shape.dtype, mn)); }
    if (ctx.HasAttr("max")) { ASSIGN_OR_RETURN(hi, ctx.ScalarConstant(x->shape.dtype, mx)); }
  } else {
    if (ctx.has_input(1)) { ASSIGN_OR_RETURN(lo, ctx.Input(1)); }
    if (ctx.has_input(2)) { ASSIGN_OR_RETURN(hi, ctx.Input(2)); }
  }
  Instruction* y = x;
  if (lo) { ASSIGN_OR_RETURN(y, ctx.Binary(Opcode::kMaximum, y, lo)); }
  if (hi) { ASSIGN_OR_RETURN(y, ctx.Binary(Opcode::kMinimum, y, hi)); }
  if (y == x) { ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kCopy, x)); }
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Where(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * c, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * a, ctx.Input(1));
  ASSIGN_OR_RETURN(Instruction * b, ctx.Input(2));
  ASSIGN_OR_RETURN(Instruction * y, ctx.Select(c, a, b));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Cast(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(int64_t to, ctx.Int("to", 0));
  ASSIGN_OR_RETURN(int64_t saturate, ctx.Int("saturate", 1));
  (void)saturate;  // only affects float8 types, which xtpu lacks
  if (to < 0 || to > std::numeric_limits<int32_t>::max())
    return ctx.Error("attribute 'to' = {} is not an ONNX element type", to);
  ASSIGN_OR_RETURN(DType t, DTypeFromOnnx(static_cast<int32_t>(to), "attribute 'to' of " + ctx.Label()));
  ASSIGN_OR_RETURN(Instruction * y, ctx.Convert(x, t));
  if (y == x) { ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kCopy, x)); }
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status CastLike(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * like, ctx.Input(1));
  ASSIGN_OR_RETURN(Instruction * y, ctx.Convert(x, like->shape.dtype));
  if (y == x) { ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kCopy, x)); }
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Mod(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * a, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * b, ctx.Input(1));
  ASSIGN_OR_RETURN(int64_t fmod, ctx.Int("fmod", 0));
  if (IsFloat(a->shape.dtype) && fmod == 0)
    return ctx.Error("attribute 'fmod' must be 1 for floating-point inputs");
  ASSIGN_OR_RETURN(Instruction * r, ctx.Binary(Opcode::kRemainder, a, b));
  if (fmod == 0) {
    // Python-style: the result takes the sign of the divisor.
    ASSIGN_OR_RETURN(auto ab, ctx.Broadcast2(a, b));
    Instruction* bb = ab.second;
    ASSIGN_OR_RETURN(Instruction * zero, ctx.FullLike(r, 0));
    ASSIGN_OR_RETURN(Instruction * rneg, ctx.b().Compare(CompareDirection::kLt, r, zero));
    ASSIGN_OR_RETURN(Instruction * bneg, ctx.b().Compare(CompareDirection::kLt, bb, zero));
    ASSIGN_OR_RETURN(Instruction * rnz, ctx.b().Compare(CompareDirection::kNe, r, zero));
    ASSIGN_OR_RETURN(Instruction * differ, ctx.b().Binary(Opcode::kXor, rneg, bneg));
    ASSIGN_OR_RETURN(Instruction * fix, ctx.b().Binary(Opcode::kAnd, differ, rnz));
    ASSIGN_OR_RETURN(Instruction * rb, ctx.b().Binary(Opcode::kAdd, r, bb));
    ASSIGN_OR_RETURN(r, ctx.b().Select(fix, rb, r));
  }
  ctx.SetOutput(0, r);
  return OkStatus();
}

}  // namespace

void RegisterElementwiseOps(OpTable& t) {
  t["Abs"] = UnaryOp(Opcode::kAbs);
  t["Neg"] = UnaryOp(Opcode::kNegate);
  t["Exp"] = UnaryOp(Opcode::kExp);
  t["Log"] = UnaryOp(Opcode::kLog);
  t["Tanh"] = UnaryOp(Opcode::kTanh);
  t["Sigmoid"] = UnaryOp(Opcode::kLogistic);
  t["Sqrt"] = UnaryOp(Opcode::kSqrt);
  t["Erf"] = UnaryOp(Opcode::kErf);
  t["Floor"] = UnaryOp(Opcode::kFloor);
  t["Ceil"] = UnaryOp(Opcode::kCeil);
  t["Round"] = UnaryOp(Opcode::kRoundNearestEven);
  t["Sign"] = UnaryOp(Opcode::kSign);
  t["Sin"] = UnaryOp(Opcode::kSin);
  t["Cos"] = UnaryOp(Opcode::kCos);
  t["Not"] = UnaryOp(Opcode::kNot);

  t["Add"] = BinaryOp(Opcode::kAdd);
  t["Sub"] = BinaryOp(Opcode::kSubtract);
  t["Mul"] = BinaryOp(Opcode::kMultiply);
  t["Div"] = BinaryOp(Opcode::kDivide);
  t["And"] = BinaryOp(Opcode::kAnd);
  t["Or"] = BinaryOp(Opcode::kOr);
  t["Xor"] = BinaryOp(Opcode::kXor);
  t["Pow"] = Pow;
  t["Mod"] = Mod;

  t["Equal"] = CompareOp(CompareDirection::kEq);
  t["Less"] = CompareOp(CompareDirection::kLt);
  t["LessOrEqual"] = CompareOp(CompareDirection::kLe);
  t["Greater"] = CompareOp(CompareDirection::kGt);
  t["GreaterOrEqual"] = CompareOp(CompareDirection::kGe);

  t["Min"] = VariadicOp(Opcode::kMinimum, false);
  t["Max"] = VariadicOp(Opcode::kMaximum, false);
  t["Sum"] = VariadicOp(Opcode::kAdd, false);
  t["Mean"] = VariadicOp(Opcode::kAdd, true);

  t["Relu"] = Activation(Relu);
  t["LeakyRelu"] = Activation(LeakyRelu);
  t["Elu"] = Activation(Elu);
  t["Selu"] = Activation(Selu);
  t["Celu"] = Activation(Celu);
  t["HardSigmoid"] = Activation(HardSigmoid);
  t["HardSwish"] = Activation(HardSwish);
  t["Softplus"] = Activation(Softplus);
  t["Softsign"] = Activation(Softsign);
  t["Reciprocal"] = Activation(Reciprocal);
  t["PRelu"] = PRelu;
  t["Tan"] = Activation(Tan);
  t["Asin"] = Activation(Asin);
  t["Acos"] = Activation(Acos);
  t["Atan"] = Activation(Atan);
  t["Sinh"] = Activation(Sinh);
  t["Cosh"] = Activation(Cosh);
  t["Asinh"] = Activation(Asinh);
  t["Acosh"] = Activation(Acosh);
  t["Atanh"] = Activation(Atanh);
  t["ThresholdedRelu"] = Activation(ThresholdedRelu);
  t["Shrink"] = Activation(Shrink);
  t["IsNaN"] = IsNaN;
  t["IsInf"] = IsInf;
  t["QuantizeLinear"] = QuantizeLinear;
  t["DequantizeLinear"] = DequantizeLinear;
  t["DynamicQuantizeLinear"] = DynamicQuantizeLinear;
  t["Clip"] = Clip;
  t["Where"] = Where;
  t["Cast"] = Cast;
  t["CastLike"] = CastLike;
}

}  // namespace xtpu::onnx_import
