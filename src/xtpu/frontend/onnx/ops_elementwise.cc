// ONNX elementwise ops: arithmetic, math functions, activations,
// comparisons, logic, Where, Cast, Clip, variadic Min/Max/Sum/Mean.
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

Converter BinaryOp(Opcode op) {
  return [op](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * a, ctx.Input(0));
    ASSIGN_OR_RETURN(Instruction * b, ctx.Input(1));
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

Status PRelu(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * slope, ctx.Input(1));
  ASSIGN_OR_RETURN(slope, ctx.BroadcastTo(slope, x->shape.dims));
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
  t["Clip"] = Clip;
  t["Where"] = Where;
  t["Cast"] = Cast;
  t["CastLike"] = CastLike;
}

}  // namespace xtpu::onnx_import
