// int8-matmul: quantized matmuls onto the int8 matrix unit.
//
// The ONNX importer turns QuantizeLinear/DequantizeLinear (QDQ) and the
// QLinear/…Integer ops into plain IR: a dot or convolution whose operands are
//   v = (convert(q) - z) * s     q an s8/u8 value, z a constant zero point,
//                                s a constant scale (QDQ, f32; optional)
// in f32, or convert(q) - z in s32 (QLinearMatMul, QLinearConv,
// MatMulInteger, ConvInteger). This pass rewrites such a product, when the
// weights (rhs / kernel) are constant, into an s8 x s8 -> s32 product plus
// exact integer corrections:
//
//   lhs:  a' = q (s8) or q - 128 (u8, still exact in s8), za' = z or z - 128
//   rhs:  b  = q_w - z_w computed now; it must fit in s8 (it does for s8
//         weights with zero point 0, the ONNX convention)
//   R (s32) = product(a', b) - za' * colsum(b)        [+ bias-like vector]
//   result = R (s32 products), or convert(R, f32) * (s_a * s_w) (f32 ones).
//
// colsum(b)[n] sums the weights feeding output column (channel) n; it is a
// compile-time vector added along the output's last (feature) dim, which
// output fusion takes as a bias. The zero padding of (a - z) of a padded
// convolution becomes explicit padding of a' with za' (so the correction is
// the same at the borders, and the kernel reads dense rows). Convolutions are emitted in NHWC
// form (chip_form.h) with transposes around them, since layout-assignment
// rebuilds other convolutions with their operand type as result type.
//
// Exactness: R equals the original integer product (|R| < 2^31 is checked
// from the shapes), so s32 products keep their values bit for bit, and so do
// f32 products without scales. With scales (QDQ) the original sums the
// rounded f32 products s_a(q - z) * s_w(q_w - z_w) in double; the rewrite
// scales the exact integer sum once: the two differ by the f32 rounding of
// the dequantized operands (a relative error of ~2^-23 of the sum of
// |products|), the int8 semantics that a quantized model stands for.
//
// It also removes u8 values the chip cannot hold: convert(convert(y, u8), T)
// with y = clamp(lo, ., hi), 0 <= lo, hi <= 255 (QuantizeLinear's output)
// becomes convert(y, T) (or y itself), which is the same value.
//
// Not rewritten (left as they are): non-constant weights, per-axis zero
// points or scales along other dims than the output feature (or on the lhs),
// per-batch weights with a nonzero lhs zero point, dots not in canonical form ([B..,M,K] x [B..,K,N] / [K,N]), convolutions
// with other than 2 spatial dims, batch groups or input dilation.
#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "xtpu/compiler/passes/lowering.h"
#include "xtpu/compiler/passes/lowering_util.h"

namespace xtpu::compiler {
namespace {

// ---- constant parameters (zero points, scales) ----

// The values of a constant seen through convert, reshape and broadcast: a
// scalar (dim = -1) or a vector running along result dim `dim`.
struct ConstParam {
  std::vector<double> values;
  int64_t dim = -1;
  double at(int64_t i) const { return dim < 0 ? values[0] : values[static_cast<size_t>(i)]; }
};

double IntMin(DType t) { return t == DType::kS8 ? -128 : t == DType::kU8 ? 0 : -2147483648.0; }
double IntMax(DType t) { return t == DType::kS8 ? 127 : t == DType::kU8 ? 255 : 2147483647.0; }

// Values of a constant through a chain of reshapes and exact converts.
std::optional<std::vector<double>> ConstValues(const Instruction* x) {
  std::vector<DType> converts;
  while (x->opcode == Opcode::kConvert || x->opcode == Opcode::kReshape) {
    if (x->opcode == Opcode::kConvert) converts.push_back(x->shape.dtype);
    x = x->operands[0];
  }
  if (x->opcode != Opcode::kConstant) return std::nullopt;
  std::vector<double> v(static_cast<size_t>(x->literal.num_elements()));
  for (size_t i = 0; i < v.size(); ++i) {
    double d = x->literal.GetAsDouble(static_cast<int64_t>(i));
    for (DType t : converts) {
      // Only converts that keep the value (small integers, f32 -> f32).
      if (IsInteger(t) && (d != std::floor(d) || d < IntMin(t) || d > IntMax(t))) return std::nullopt;
      if (IsFloat(t) && t != DType::kF32) return std::nullopt;
      if (t == DType::kF32 && static_cast<double>(static_cast<float>(d)) != d) return std::nullopt;
    }
    v[i] = d;
  }
  return v;
}

std::optional<ConstParam> MatchConstParam(const Instruction* x) {
  ConstParam p;
  if (x->opcode == Opcode::kBroadcast) {
    auto v = ConstValues(x->operands[0]);
    if (!v || v->empty()) return std::nullopt;
    p.values = std::move(*v);
    if (p.values.size() == 1) return p;
    const Instruction* src = x->operands[0];
    if (src->shape.rank() != 1 || x->dimensions.size() != 1) return std::nullopt;
    p.dim = x->dimensions[0];
    return p;
  }
  auto v = ConstValues(x);
  if (!v || v->empty()) return std::nullopt;
  for (double d : *v)
    if (d != (*v)[0]) return std::nullopt;
  p.values = {(*v)[0]};
  return p;
}

// ---- operands ----

// v = reshape?((convert(q) - zp) * scale) with q an s8/u8 value.
struct IntOperand {
  Instruction* q = nullptr;
  ConstParam zp{{0.0}, -1};
  bool has_scale = false;
  ConstParam scale;
  std::vector<int64_t> reshape;  // lhs only: dims of a reshape applied last (empty: none)
};

std::optional<IntOperand> MatchOperand(Instruction* v, bool allow_reshape) {
  IntOperand o;
  if (allow_reshape && v->opcode == Opcode::kReshape) {
    o.reshape = v->shape.dims;
    v = v->operands[0];
  }
  if (v->opcode == Opcode::kMultiply && v->shape.dtype == DType::kF32) {
    for (int side = 0; side < 2; ++side) {
      if (auto s = MatchConstParam(v->operands[1 - side])) {
        o.scale = *s;
        o.has_scale = true;
        v = v->operands[side];
        break;
      }
    }
    if (!o.has_scale) return std::nullopt;
  }
  if (v->opcode == Opcode::kSubtract) {
    auto z = MatchConstParam(v->operands[1]);
    if (!z) return std::nullopt;
    for (double d : z->values)
      if (d != std::floor(d) || std::fabs(d) > 255) return std::nullopt;
    o.zp = *z;
    v = v->operands[0];
  }
  if (v->opcode != Opcode::kConvert || (v->shape.dtype != DType::kF32 && v->shape.dtype != DType::kS32))
    return std::nullopt;
  o.q = v->operands[0];
  if (o.q->shape.dtype != DType::kS8 && o.q->shape.dtype != DType::kU8) return std::nullopt;
  // Through a reshape, only per-tensor parameters keep their meaning.
  if (!o.reshape.empty() && (o.zp.dim >= 0 || (o.has_scale && o.scale.dim >= 0))) return std::nullopt;
  return o;
}

// Constant weights b = q - zp as an s8 literal of q's shape (zero point per
// element along zp.dim of q); nullopt if q is not constant or b leaves s8.
std::optional<Literal> FoldWeights(const IntOperand& w) {
  if (w.q->opcode != Opcode::kConstant || !w.reshape.empty()) return std::nullopt;
  const Literal& q = w.q->literal;
  Literal b(Shape(DType::kS8, q.shape().dims));
  std::vector<int64_t> strides = RowMajorStrides(q.shape().dims);
  for (int64_t i = 0; i < q.num_elements(); ++i) {
    int64_t along = w.zp.dim < 0 ? 0 : (i / strides[w.zp.dim]) % q.shape().dims[w.zp.dim];
    int64_t v = q.GetAsInt64(i) - static_cast<int64_t>(w.zp.at(along));
    if (v < -128 || v > 127) return std::nullopt;
    b.SetFromInt64(i, v);
  }
  return b;
}

// ---- building ----

StatusOr<Instruction*> ScalarConst(Builder& b, DType t, double v, const std::vector<int64_t>& dims) {
  Literal l(Shape(t, {}));
  l.SetFromDouble(0, v);
  ASSIGN_OR_RETURN(Instruction * c, b.Constant(std::move(l)));
  if (dims.empty()) return c;
  return b.Broadcast(c, dims, {});
}

// The lhs as s8: q itself, or q - 128 for u8 (exact); then the reshape.
StatusOr<Instruction*> LhsS8(Builder& b, const IntOperand& a) {
  Instruction* x = a.q;
  if (x->shape.dtype == DType::kU8) {
    ASSIGN_OR_RETURN(Instruction * w, b.Convert(x, DType::kS32));
    ASSIGN_OR_RETURN(Instruction * c, ScalarConst(b, DType::kS32, 128, w->shape.dims));
    ASSIGN_OR_RETURN(w, b.Binary(Opcode::kSubtract, w, c));
    ASSIGN_OR_RETURN(x, b.Convert(w, DType::kS8));
  }
  if (!a.reshape.empty()) return MakeReshape(b, x, a.reshape);
  return x;
}

// za': the lhs zero point in terms of LhsS8.
int64_t LhsZero(const IntOperand& a) {
  return static_cast<int64_t>(a.zp.values[0]) - (a.q->shape.dtype == DType::kU8 ? 128 : 0);
}

// An s8 x s8 -> s32 product like `like` (dot or convolution) of x and k.
StatusOr<Instruction*> Int8Product(Builder& b, const Instruction& like, Instruction* x, Instruction* k,
                                   std::vector<WindowDim> window, const ConvDims& cd) {
  auto inst = std::make_unique<Instruction>();
  inst->opcode = like.opcode;
  inst->name = like.name + ".s8";
  inst->operands = {x, k};
  inst->dot_dims = like.dot_dims;
  inst->window = std::move(window);
  inst->conv_dims = cd;
  inst->feature_group_count = like.feature_group_count;
  inst->shape.dtype = DType::kS32;
  return b.Add(std::move(inst));
}

// R + broadcast(correction along dim `dim` of R), if any correction is nonzero.
StatusOr<Instruction*> AddCorrection(Builder& b, Instruction* r, const std::vector<int64_t>& corr, int64_t dim) {
  bool any = false;
  for (int64_t c : corr) any |= c != 0;
  if (!any) return r;
  ASSIGN_OR_RETURN(Instruction * c, b.Constant(Literal::FromVector(DType::kS32, {static_cast<int64_t>(corr.size())}, corr)));
  ASSIGN_OR_RETURN(Instruction * cb, b.Broadcast(c, r->shape.dims, {dim}));
  return b.Binary(Opcode::kAdd, r, cb);
}

// The original's value from the s32 result R (whose dim `feature` of the
// original's layout holds output columns/channels): R, convert(R, f32), or
// convert(R, f32) * broadcast(s_a * s_w).
StatusOr<Instruction*> Finish(Builder& b, const Instruction& orig, Instruction* r, const IntOperand& a,
                              const IntOperand& w, int64_t features, int64_t feature_dim) {
  if (orig.shape.dtype == DType::kS32) return r;
  ASSIGN_OR_RETURN(Instruction * f, b.Convert(r, DType::kF32));
  if (!a.has_scale && !w.has_scale) return f;
  const float sa = a.has_scale ? static_cast<float>(a.scale.values[0]) : 1.0f;
  std::vector<float> s(static_cast<size_t>(features));
  for (int64_t n = 0; n < features; ++n) s[n] = sa * (w.has_scale ? static_cast<float>(w.scale.at(n)) : 1.0f);
  bool uniform = std::all_of(s.begin(), s.end(), [&](float v) { return v == s[0]; });
  ASSIGN_OR_RETURN(Instruction * c, uniform ? b.Constant(Literal::ScalarF32(s[0]))
                                            : b.Constant(Literal::FromVector(DType::kF32, {features}, s)));
  ASSIGN_OR_RETURN(Instruction * cb, b.Broadcast(c, f->shape.dims, uniform ? std::vector<int64_t>{}
                                                                            : std::vector<int64_t>{feature_dim}));
  return b.Binary(Opcode::kMultiply, f, cb);
}

// Checks the operand types against the result: s32 products have no scales.
bool TypesFit(const Instruction& orig, const IntOperand& a, const IntOperand& w) {
  if (orig.shape.dtype == DType::kS32) return !a.has_scale && !w.has_scale && orig.operands[0]->shape.dtype == DType::kS32;
  return orig.shape.dtype == DType::kF32;
}

// |R| < 2^31 for any operand values: K * (128 * 128 + 256 * 128) stays below.
bool FitsS32(int64_t k) { return k > 0 && k <= (int64_t{1} << 31) / (128 * 128 + 256 * 128); }

std::vector<int64_t> Iota(int64_t n) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

// ---- dot ----

StatusOr<bool> RewriteDot(Rewriter& rw, Instruction* dot) {
  const DotDims& d = dot->dot_dims;
  const int64_t nb = static_cast<int64_t>(d.lhs_batch.size());
  const Shape& ls = dot->operands[0]->shape;
  const Shape& rs = dot->operands[1]->shape;
  if (ls.rank() != nb + 2 || d.lhs_batch != Iota(nb) || d.lhs_contracting != std::vector<int64_t>{nb + 1}) return false;
  const bool rhs_batched = !(nb == 0 && rs.rank() == 2);
  if (rhs_batched && (rs.rank() != nb + 2 || d.rhs_batch != Iota(nb) || d.rhs_contracting != std::vector<int64_t>{nb}))
    return false;
  if (!rhs_batched && d.rhs_contracting != std::vector<int64_t>{0}) return false;
  auto a = MatchOperand(dot->operands[0], /*allow_reshape=*/true);
  auto w = MatchOperand(dot->operands[1], /*allow_reshape=*/false);
  if (!a || !w || !TypesFit(*dot, *a, *w)) return false;
  const int64_t rr = rs.rank(), n_dim = rr - 1, k = ls.dims[nb + 1], n = rs.dims[n_dim];
  if (a->zp.dim >= 0 || (a->has_scale && a->scale.dim >= 0)) return false;
  if ((w->zp.dim >= 0 && w->zp.dim != n_dim) || (w->has_scale && w->scale.dim >= 0 && w->scale.dim != n_dim)) return false;
  if (!FitsS32(k)) return false;
  std::optional<Literal> wb = FoldWeights(*w);
  if (!wb) return false;
  // correction[batch][n] = -za' * sum_k b[batch][k][n].
  const int64_t za = LhsZero(*a), batches = wb->num_elements() / (k * n);
  std::vector<int64_t> corr(static_cast<size_t>(batches * n), 0);
  for (int64_t i = 0; i < wb->num_elements(); ++i) {
    int64_t bi = i / (k * n), col = i % n;
    corr[bi * n + col] -= za * wb->GetAsInt64(i);
  }
  // Per-batch weights with a nonzero lhs zero point would need a [B, N]
  // correction, which the int8 kernel's epilogue (bias vectors only) lacks.
  if (batches > 1 && std::any_of(corr.begin(), corr.end(), [](int64_t c) { return c != 0; })) return false;
  Builder& b = rw.builder();
  ASSIGN_OR_RETURN(Instruction * x, LhsS8(b, *a));
  ASSIGN_OR_RETURN(Instruction * wc, b.Constant(std::move(*wb), w->q->name + ".s8"));
  ASSIGN_OR_RETURN(Instruction * r, Int8Product(b, *dot, x, wc, {}, {}));
  ASSIGN_OR_RETURN(r, AddCorrection(b, r, std::vector<int64_t>(corr.begin(), corr.begin() + n), r->shape.rank() - 1));
  ASSIGN_OR_RETURN(Instruction * out, Finish(b, *dot, r, *a, *w, n, dot->shape.rank() - 1));
  return rw.ReplaceWithNew(dot, out);
}

// ---- convolution ----

ConvDims NhwcDims() {
  ConvDims d;
  d.input_batch = 0;
  d.input_spatial = {1, 2};
  d.input_feature = 3;
  d.kernel_spatial = {0, 1};
  d.kernel_input_feature = 2;
  d.kernel_output_feature = 3;
  d.output_batch = 0;
  d.output_spatial = {1, 2};
  d.output_feature = 3;
  return d;
}

StatusOr<bool> RewriteConvolution(Rewriter& rw, Instruction* conv) {
  const ConvDims& cd = conv->conv_dims;
  if (cd.input_spatial.size() != 2 || conv->batch_group_count != 1) return false;
  for (const WindowDim& wd : conv->window)
    if (wd.base_dilation != 1) return false;
  auto a = MatchOperand(conv->operands[0], /*allow_reshape=*/false);
  auto w = MatchOperand(conv->operands[1], /*allow_reshape=*/false);
  if (!a || !w || !TypesFit(*conv, *a, *w)) return false;
  const int64_t of = cd.kernel_output_feature;
  if (a->zp.dim >= 0 || (a->has_scale && a->scale.dim >= 0)) return false;
  if ((w->zp.dim >= 0 && w->zp.dim != of) || (w->has_scale && w->scale.dim >= 0 && w->scale.dim != of)) return false;
  const Shape& ks = conv->operands[1]->shape;
  const int64_t outs = ks.dims[of], per_out = ks.num_elements() / std::max<int64_t>(outs, 1);
  if (!FitsS32(per_out)) return false;
  std::optional<Literal> wb = FoldWeights(*w);
  if (!wb) return false;
  // correction[o] = -za' * sum of kernel o's weights.
  const int64_t za = LhsZero(*a);
  std::vector<int64_t> corr(static_cast<size_t>(outs), 0);
  std::vector<int64_t> kstrides = RowMajorStrides(ks.dims);
  for (int64_t i = 0; i < wb->num_elements(); ++i) corr[(i / kstrides[of]) % outs] -= za * wb->GetAsInt64(i);

  Builder& b = rw.builder();
  ASSIGN_OR_RETURN(Instruction * x, LhsS8(b, *a));
  std::vector<WindowDim> window = conv->window;
  bool padded = false;
  for (const WindowDim& wd : window) padded |= wd.pad_lo != 0 || wd.pad_hi != 0;
  if (padded) {
    // Zero padding of (a - z) is padding of a' with za' (explicit, so the
    // int8 kernel reads dense input rows).
    std::vector<PadDim> pads(static_cast<size_t>(x->shape.rank()));
    for (size_t i = 0; i < 2; ++i) {
      pads[cd.input_spatial[i]] = {window[i].pad_lo, window[i].pad_hi, 0};
      window[i].pad_lo = window[i].pad_hi = 0;
    }
    ASSIGN_OR_RETURN(Instruction * pv, ScalarConst(b, DType::kS8, static_cast<double>(za), {}));
    ASSIGN_OR_RETURN(x, b.Pad(x, pv, pads));
  }
  // NHWC input, HWIO kernel (re-laid out now), NHWC result.
  ASSIGN_OR_RETURN(x, MakeTranspose(b, x, {cd.input_batch, cd.input_spatial[0], cd.input_spatial[1], cd.input_feature}));
  Literal khwio = TransposeLiteralBytes(
      *wb, {cd.kernel_spatial[0], cd.kernel_spatial[1], cd.kernel_input_feature, cd.kernel_output_feature});
  ASSIGN_OR_RETURN(Instruction * kc, b.Constant(std::move(khwio), w->q->name + ".s8"));
  ASSIGN_OR_RETURN(Instruction * r, Int8Product(b, *conv, x, kc, window, NhwcDims()));
  ASSIGN_OR_RETURN(r, AddCorrection(b, r, corr, 3));
  // Back to the original's layout: original dim order[j] is NHWC dim j.
  std::vector<int64_t> order = {cd.output_batch, cd.output_spatial[0], cd.output_spatial[1], cd.output_feature};
  std::vector<int64_t> back(4);
  for (int64_t j = 0; j < 4; ++j) back[order[j]] = j;
  ASSIGN_OR_RETURN(r, MakeTranspose(b, r, back));
  ASSIGN_OR_RETURN(Instruction * out, Finish(b, *conv, r, *a, *w, outs, cd.output_feature));
  return rw.ReplaceWithNew(conv, out);
}

// ---- u8 values ----

// y = clamp(lo, ., hi) with constant bounds in [0, 255].
bool ClampedToU8(const Instruction* y) {
  if (y->opcode != Opcode::kClamp) return false;
  for (int i : {0, 2}) {
    auto v = ConstValues(y->operands[i]->opcode == Opcode::kBroadcast ? y->operands[i]->operands[0] : y->operands[i]);
    if (!v) return false;
    for (double d : *v)
      if (!(d >= 0 && d <= 255)) return false;
  }
  return true;
}

// Every value of x is an integer (or NaN): rounding ops, integer constants,
// integer converts, and +, -, *, max, min, clamp of such values.
bool IntegerValued(const Instruction* x, int depth = 0) {
  if (depth > 16) return false;
  if (IsInteger(x->shape.dtype)) return true;
  switch (x->opcode) {
    case Opcode::kRoundNearestEven:
    case Opcode::kRoundNearestAfz:
    case Opcode::kFloor:
    case Opcode::kCeil:
      return true;
    case Opcode::kConstant:
      for (int64_t i = 0; i < x->literal.num_elements(); ++i) {
        double d = x->literal.GetAsDouble(i);
        if (d != std::floor(d)) return false;
      }
      return true;
    case Opcode::kConvert:
    case Opcode::kBroadcast:
    case Opcode::kReshape:
      return IntegerValued(x->operands[0], depth + 1);
    case Opcode::kAdd:
    case Opcode::kSubtract:
    case Opcode::kMultiply:
    case Opcode::kMaximum:
    case Opcode::kMinimum:
    case Opcode::kClamp:
      for (const Instruction* o : x->operands)
        if (!IntegerValued(o, depth + 1)) return false;
      return true;
    default:
      return false;
  }
}

// convert(convert(y, u8), T) -> convert(y, T) (or y).
StatusOr<bool> SkipU8(Rewriter& rw, Instruction* c) {
  Instruction* q = c->operands[0];
  if (q->shape.dtype != DType::kU8 || q->opcode != Opcode::kConvert) return false;
  Instruction* y = q->operands[0];
  if (!IsFloat(y->shape.dtype) && y->shape.dtype != DType::kS32) return false;
  if (!ClampedToU8(y)) return false;
  const DType t = c->shape.dtype;
  if (t == DType::kU8 || t == DType::kPred) return false;
  Builder& b = rw.builder();
  Instruction* v = y;
  if (IsFloat(t) && IsFloat(y->shape.dtype) && !IntegerValued(y)) {
    ASSIGN_OR_RETURN(v, b.Convert(v, DType::kS32));  // the truncation convert(y, u8) did
  }
  if (v->shape.dtype != t) {
    ASSIGN_OR_RETURN(v, b.Convert(v, t));
  }
  return v == y ? rw.Replace(c, y) : rw.ReplaceWithNew(c, v);
}

// The products first: they match the converts that skip-u8 removes.
constexpr RewriteRule kProductRules[] = {
    {"int8-dot", Opcode::kDot, RewriteDot},
    {"int8-convolution", Opcode::kConvolution, RewriteConvolution},
};
constexpr RewriteRule kU8Rules[] = {
    {"skip-u8", Opcode::kConvert, SkipU8},
};

class Int8Matmul : public Pass {
 public:
  std::string_view name() const override { return "int8-matmul"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    ASSIGN_OR_RETURN(bool products, ApplyRewriteRules(module, kProductRules, /*max_sweeps=*/2));
    ASSIGN_OR_RETURN(bool u8, ApplyRewriteRules(module, kU8Rules, /*max_sweeps=*/2));
    return products || u8;
  }
};

}  // namespace

std::unique_ptr<Pass> CreateInt8MatmulPass() { return std::make_unique<Int8Matmul>(); }

}  // namespace xtpu::compiler
