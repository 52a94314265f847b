// Shape rules for every tensor IR op (XLA HLO operation semantics, without
// implicit broadcasting). Each rule checks operands and attributes and returns
// the result shape; errors read "%name (opcode): what is wrong".
#include "xtpu/ir/shape_inference.h"

#include <algorithm>

#include <fmt/format.h>

namespace xtpu {
namespace {

// Largest tensor the IR accepts: 2^31 elements, and at most kMaxRank dims.
// Zero-sized dims do not count, so every product of a subset of a valid
// shape's dims fits comfortably in int64 (no overflow in size arithmetic).
constexpr int64_t kMaxElements = int64_t{1} << 31;
constexpr int64_t kMaxRank = 64;

// a * b, a + b or a - b into *out; false on int64 overflow.
bool MulOk(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool AddOk(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

// Formats an int list as "{1,2,3}".
std::string List(const std::vector<int64_t>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(v[i]);
  }
  return s + "}";
}

// Checks one instruction; holds it so every message can name it.
class Checker {
 public:
  explicit Checker(const Instruction& inst) : inst_(inst) {}

  StatusOr<Shape> Infer();

 private:
  template <typename... Args>
  Status Fail(fmt::format_string<Args...> f, Args&&... args) const {
    return Status::Error(Prefix() + fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  Status Unsupported(fmt::format_string<Args...> f, Args&&... args) const {
    return Status::Error(Prefix() + fmt::format(f, std::forward<Args>(args)...),
                         StatusCode::kUnimplemented);
  }
  std::string Prefix() const {
    return fmt::format("%{} ({}): ", inst_.name, OpcodeName(inst_.opcode));
  }

  const Shape& Op(int i) const { return inst_.operands[i]->shape; }
  const std::string& OpName(int i) const { return inst_.operands[i]->name; }
  int NumOps() const { return static_cast<int>(inst_.operands.size()); }

  Status CheckArity();
  Status CheckDeclared(const Shape& s, const char* what) const;
  // Result type of a dot/convolution of operands of type `t`: t, or s32 for
  // s8/u8 operands when the declared shape says s32 (int8 x int8 -> int32),
  // or f32 for bf16/f16 operands when it says f32.
  DType MatmulResultType(DType t) const;
  // A declared result shape that is an array of the operand's element type.
  Status CheckDeclaredArrayOf(const Shape& s, const Shape& x) const;
  Status CheckDimIndex(int64_t d, int64_t rank, const char* what) const;
  Status CheckUniqueDims(const std::vector<int64_t>& dims, int64_t rank, const char* what) const;
  Status CheckScalarInt(int i, const char* what) const;
  Status CheckReducer(const std::vector<DType>& types) const;
  // Output size of one windowed dimension (reduce-window, convolution).
  StatusOr<int64_t> WindowedSize(int64_t in, const WindowDim& w, int64_t spatial) const;

  StatusOr<Shape> Leaf();
  StatusOr<Shape> UnaryOp();
  StatusOr<Shape> BinaryOp();
  StatusOr<Shape> CompareOp();
  StatusOr<Shape> SelectOp();
  StatusOr<Shape> ClampOp();
  StatusOr<Shape> ConvertOp();
  StatusOr<Shape> BroadcastOp();
  StatusOr<Shape> ReshapeOp();
  StatusOr<Shape> TransposeOp();
  StatusOr<Shape> ReverseOp();
  StatusOr<Shape> SliceOp();
  StatusOr<Shape> DynamicSliceOp();
  StatusOr<Shape> DynamicUpdateSliceOp();
  StatusOr<Shape> ConcatenateOp();
  StatusOr<Shape> PadOp();
  StatusOr<Shape> ReduceOp();
  StatusOr<Shape> ReduceWindowOp();
  StatusOr<Shape> DotOp();
  StatusOr<Shape> ConvolutionOp();
  StatusOr<Shape> GatherOp();
  StatusOr<Shape> TupleOp();
  StatusOr<Shape> GetTupleElementOp();
  StatusOr<Shape> FusionOp();

  const Instruction& inst_;
};

Status Checker::CheckArity() {
  int arity = OpcodeArity(inst_.opcode);
  int n = NumOps();
  for (int i = 0; i < n; ++i) {
    if (inst_.operands[i] == nullptr) return Fail("operand {} is null", i);
  }
  if (arity != kVariadic && n != arity) {
    return Fail("expects {} operand{}, got {}", arity, arity == 1 ? "" : "s", n);
  }
  // Which operands may be tuples: only tuple's and get-tuple-element's.
  if (inst_.opcode != Opcode::kTuple && inst_.opcode != Opcode::kGetTupleElement) {
    for (int i = 0; i < n; ++i) {
      if (Op(i).is_tuple) {
        return Fail("operand {} (%{}) has tuple shape {}; a tensor is required", i, OpName(i),
                    Op(i).ToString());
      }
    }
  }
  switch (inst_.opcode) {
    case Opcode::kDynamicSlice:
      if (n < 1 || n != 1 + Op(0).rank()) {
        return Fail("expects the operand and one start index per dimension ({} operands), got {}",
                    n < 1 ? 1 : 1 + Op(0).rank(), n);
      }
      break;
    case Opcode::kDynamicUpdateSlice:
      if (n < 2 || n != 2 + Op(0).rank()) {
        return Fail(
            "expects the operand, the update and one start index per dimension ({} operands), got {}",
            n < 1 ? 2 : 2 + Op(0).rank(), n);
      }
      break;
    case Opcode::kConcatenate:
      if (n < 1) return Fail("expects at least one operand");
      break;
    case Opcode::kReduce:
      if (n < 2 || n % 2 != 0) {
        return Fail("expects k operands then k init values (an even count >= 2), got {}", n);
      }
      break;
    case Opcode::kReduceWindow:
      if (n != 2) return Fail("expects 2 operands (operand, init value), got {}", n);
      break;
    default:
      break;
  }
  return OkStatus();
}

// Empty when `s` is a valid shape: dims >= 0, rank <= kMaxRank and the
// product of the non-zero dims <= kMaxElements; else what is wrong.
std::string ShapeProblem(const Shape& s) {
  if (s.is_tuple) {
    for (const Shape& e : s.tuple) {
      std::string p = ShapeProblem(e);
      if (!p.empty()) return p;
    }
    return "";
  }
  if (s.rank() > kMaxRank) return fmt::format("has rank {} (at most {})", s.rank(), kMaxRank);
  int64_t n = 1;
  for (int64_t d : s.dims) {
    if (d < 0) return fmt::format("has a negative dimension {}", d);
    if (d == 0) continue;
    if (!MulOk(n, d, &n) || n > kMaxElements)
      return fmt::format("is too large (more than 2^31 elements)");
  }
  return "";
}

Status Checker::CheckDeclared(const Shape& s, const char* what) const {
  std::string p = ShapeProblem(s);
  if (!p.empty()) return Fail("{} shape {} {}", what, s.ToString(), p);
  return OkStatus();
}

DType Checker::MatmulResultType(DType t) const {
  const Shape& s = inst_.shape;
  if ((t == DType::kS8 || t == DType::kU8) && !s.is_tuple && s.dtype == DType::kS32) return DType::kS32;
  // bf16/f16 products accumulated and returned in f32 (XLA's
  // preferred_element_type; what a TPU's matrix unit does). Only for a
  // declared result (the parser's); the builder's default shape (f32, rank 0)
  // keeps the operand type, so a rank-0 f32 result of bf16 vectors is not
  // expressible.
  if ((t == DType::kBF16 || t == DType::kF16) && !s.is_tuple && s.dtype == DType::kF32 && !s.dims.empty())
    return DType::kF32;
  return t;
}

Status Checker::CheckDimIndex(int64_t d, int64_t rank, const char* what) const {
  if (d < 0 || d >= rank) return Fail("{} {} out of range for rank {}", what, d, rank);
  return OkStatus();
}

Status Checker::CheckUniqueDims(const std::vector<int64_t>& dims, int64_t rank,
                                const char* what) const {
  std::vector<bool> seen(static_cast<size_t>(std::max<int64_t>(rank, 0)), false);
  for (int64_t d : dims) {
    RETURN_IF_ERROR(CheckDimIndex(d, rank, what));
    if (seen[d]) return Fail("{} {} repeated in {}", what, d, List(dims));
    seen[d] = true;
  }
  return OkStatus();
}

Status Checker::CheckScalarInt(int i, const char* what) const {
  const Shape& s = Op(i);
  if (!s.is_scalar() || !IsInteger(s.dtype)) {
    return Fail("{} (operand {}, %{}) must be an integer scalar, got {}", what, i, OpName(i),
                s.ToString());
  }
  return OkStatus();
}

// to_apply takes 2k scalars (accumulators then values, typed like the k
// reduced operands) and returns a scalar (k == 1) or a k-tuple of scalars.
Status Checker::CheckReducer(const std::vector<DType>& types) const {
  const Computation* c = inst_.to_apply;
  if (c == nullptr) return Fail("missing to_apply computation");
  size_t k = types.size();
  const auto& params = c->parameters();
  if (params.size() != 2 * k) {
    return Fail("to_apply %{} must take {} scalar parameters, takes {}", c->name(), 2 * k,
                params.size());
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i] == nullptr) return Fail("to_apply %{} has no parameter {}", c->name(), i);
    Shape want(types[i % k], {});
    if (params[i]->shape != want) {
      return Fail("to_apply %{} parameter {} must be {}, is {}", c->name(), i, want.ToString(),
                  params[i]->shape.ToString());
    }
  }
  if (c->root() == nullptr) return Fail("to_apply %{} has no root", c->name());
  Shape want;
  if (k == 1) {
    want = Shape(types[0], {});
  } else {
    std::vector<Shape> elems;
    for (DType t : types) elems.emplace_back(t, std::vector<int64_t>{});
    want = Shape::Tuple(std::move(elems));
  }
  if (c->root()->shape != want) {
    return Fail("to_apply %{} must return {}, returns {}", c->name(), want.ToString(),
                c->root()->shape.ToString());
  }
  return OkStatus();
}

StatusOr<int64_t> Checker::WindowedSize(int64_t in, const WindowDim& w, int64_t spatial) const {
  if (w.size < 1 || w.stride < 1 || w.base_dilation < 1 || w.window_dilation < 1) {
    return Fail("window dimension {} needs size, stride and dilations >= 1 (size={} stride={} "
                "lhs_dilate={} rhs_dilate={})",
                spatial, w.size, w.stride, w.base_dilation, w.window_dilation);
  }
  // Checked arithmetic: sizes, dilations and pads come from untrusted input.
  int64_t dilated = 0, padded = 0, effective = 0;
  bool ok = in == 0 || (MulOk(in - 1, w.base_dilation, &dilated) && AddOk(dilated, 1, &dilated));
  ok = ok && AddOk(dilated, w.pad_lo, &padded) && AddOk(padded, w.pad_hi, &padded);
  ok = ok && MulOk(w.size - 1, w.window_dilation, &effective) && AddOk(effective, 1, &effective);
  if (!ok) {
    return Fail("window dimension {}: size {}, dilations {}/{} or padding {}/{} overflow", spatial,
                w.size, w.base_dilation, w.window_dilation, w.pad_lo, w.pad_hi);
  }
  if (padded < effective) {
    return Fail("window dimension {}: padded input size {} is smaller than the window ({})",
                spatial, padded, effective);
  }
  return (padded - effective) / w.stride + 1;
}

StatusOr<Shape> Checker::Leaf() {
  const Shape& s = inst_.shape;
  RETURN_IF_ERROR(CheckDeclared(s, "declared"));
  switch (inst_.opcode) {
    case Opcode::kParameter:
      if (inst_.parameter_number < 0) {
        return Fail("parameter number {} is negative", inst_.parameter_number);
      }
      return s;
    case Opcode::kConstant:
      if (s.is_tuple) return Fail("a constant cannot have tuple shape {}", s.ToString());
      if (inst_.literal.shape() != s) {
        return Fail("declared shape {} differs from the literal's shape {}", s.ToString(),
                    inst_.literal.shape().ToString());
      }
      return s;
    case Opcode::kIota:
      if (s.is_tuple) return Fail("iota cannot have tuple shape {}", s.ToString());
      if (inst_.dimensions.size() != 1) {
        return Fail("needs exactly one iota dimension, got {}", List(inst_.dimensions));
      }
      RETURN_IF_ERROR(CheckDimIndex(inst_.dimensions[0], s.rank(), "iota dimension"));
      if (s.dtype == DType::kPred) return Fail("iota cannot produce pred");
      return s;
    default:
      break;
  }
  return Fail("not a leaf op");
}

StatusOr<Shape> Checker::UnaryOp() {
  const Shape& x = Op(0);
  DType t = x.dtype;
  switch (inst_.opcode) {
    case Opcode::kExp:
    case Opcode::kLog:
    case Opcode::kTanh:
    case Opcode::kLogistic:
    case Opcode::kSqrt:
    case Opcode::kRsqrt:
    case Opcode::kErf:
    case Opcode::kFloor:
    case Opcode::kCeil:
    case Opcode::kRoundNearestEven:
    case Opcode::kRoundNearestAfz:
    case Opcode::kCos:
    case Opcode::kSin:
      if (!IsFloat(t)) return Fail("needs a floating-point operand, got {}", x.ToString());
      break;
    case Opcode::kAbs:
    case Opcode::kNegate:
    case Opcode::kSign:
      if (!IsFloat(t) && !(IsInteger(t) && IsSigned(t))) {
        return Fail("needs a signed integer or floating-point operand, got {}", x.ToString());
      }
      break;
    case Opcode::kNot:
      if (t != DType::kPred && !IsInteger(t)) {
        return Fail("needs a pred or integer operand, got {}", x.ToString());
      }
      break;
    default:  // copy
      break;
  }
  return x;
}

StatusOr<Shape> Checker::BinaryOp() {
  const Shape& x = Op(0);
  const Shape& y = Op(1);
  if (x != y) return Fail("operand shapes differ: {} vs {}", x.ToString(), y.ToString());
  DType t = x.dtype;
  switch (inst_.opcode) {
    case Opcode::kAnd:
    case Opcode::kOr:
    case Opcode::kXor:
      if (t != DType::kPred && !IsInteger(t)) {
        return Fail("needs pred or integer operands, got {}", x.ToString());
      }
      break;
    case Opcode::kAtan2:
      if (!IsFloat(t)) return Fail("needs floating-point operands, got {}", x.ToString());
      break;
    case Opcode::kMaximum:
    case Opcode::kMinimum:
      break;
    default:  // add, subtract, multiply, divide, remainder, power
      if (t == DType::kPred) return Fail("needs numeric operands, got {}", x.ToString());
      break;
  }
  return x;
}

StatusOr<Shape> Checker::CompareOp() {
  const Shape& x = Op(0);
  const Shape& y = Op(1);
  if (x != y) return Fail("operand shapes differ: {} vs {}", x.ToString(), y.ToString());
  return Shape(DType::kPred, x.dims);
}

StatusOr<Shape> Checker::SelectOp() {
  const Shape& p = Op(0);
  const Shape& a = Op(1);
  const Shape& b = Op(2);
  if (p.dtype != DType::kPred) return Fail("predicate must be pred, got {}", p.ToString());
  if (a != b) return Fail("branch shapes differ: {} vs {}", a.ToString(), b.ToString());
  if (p.dims != a.dims) {
    return Fail("predicate shape {} does not match branch shape {}", p.ToString(), a.ToString());
  }
  return a;
}

StatusOr<Shape> Checker::ClampOp() {
  const Shape& lo = Op(0);
  const Shape& x = Op(1);
  const Shape& hi = Op(2);
  for (const Shape* b : {&lo, &hi}) {
    const char* which = b == &lo ? "min" : "max";
    if (b->dtype != x.dtype) {
      return Fail("{} bound type {} differs from operand type {}", which, b->ToString(),
                  x.ToString());
    }
    if (!b->is_scalar() && b->dims != x.dims) {
      return Fail("{} bound {} must be a scalar or match the operand {}", which, b->ToString(),
                  x.ToString());
    }
  }
  return x;
}

Status Checker::CheckDeclaredArrayOf(const Shape& s, const Shape& x) const {
  RETURN_IF_ERROR(CheckDeclared(s, "declared"));
  if (s.is_tuple) return Fail("declared shape {} is a tuple", s.ToString());
  if (s.dtype != x.dtype) {
    return Fail("declared type {} differs from the operand's {}", s.ToString(), x.ToString());
  }
  return OkStatus();
}

StatusOr<Shape> Checker::ConvertOp() {
  const Shape& s = inst_.shape;
  RETURN_IF_ERROR(CheckDeclared(s, "declared"));
  if (s.is_tuple || s.dims != Op(0).dims) {
    return Fail("declared shape {} must have the operand's dimensions ({})", s.ToString(),
                Op(0).ToString());
  }
  return s;
}

StatusOr<Shape> Checker::BroadcastOp() {
  const Shape& s = inst_.shape;
  const Shape& x = Op(0);
  RETURN_IF_ERROR(CheckDeclaredArrayOf(s, x));
  const auto& dims = inst_.dimensions;
  if (static_cast<int64_t>(dims.size()) != x.rank()) {
    return Fail("dimensions {} must have one entry per operand dimension ({})", List(dims),
                x.ToString());
  }
  for (size_t i = 0; i < dims.size(); ++i) {
    RETURN_IF_ERROR(CheckDimIndex(dims[i], s.rank(), "broadcast dimension"));
    if (i > 0 && dims[i] <= dims[i - 1]) {
      return Fail("dimensions {} must be strictly increasing", List(dims));
    }
    if (s.dims[dims[i]] != x.dims[i]) {
      return Fail("operand dimension {} (size {}) maps to result dimension {} of size {}", i,
                  x.dims[i], dims[i], s.dims[dims[i]]);
    }
  }
  return s;
}

StatusOr<Shape> Checker::ReshapeOp() {
  const Shape& s = inst_.shape;
  const Shape& x = Op(0);
  RETURN_IF_ERROR(CheckDeclaredArrayOf(s, x));
  if (s.num_elements() != x.num_elements()) {
    return Fail("cannot reshape {} ({} elements) to {} ({} elements)", x.ToString(),
                x.num_elements(), s.ToString(), s.num_elements());
  }
  return s;
}

StatusOr<Shape> Checker::TransposeOp() {
  const Shape& x = Op(0);
  const auto& perm = inst_.dimensions;
  if (static_cast<int64_t>(perm.size()) != x.rank()) {
    return Fail("permutation {} does not match operand rank {}", List(perm), x.rank());
  }
  RETURN_IF_ERROR(CheckUniqueDims(perm, x.rank(), "permutation dimension"));
  Shape r(x.dtype, {});
  for (int64_t d : perm) r.dims.push_back(x.dims[d]);
  return r;
}

StatusOr<Shape> Checker::ReverseOp() {
  RETURN_IF_ERROR(CheckUniqueDims(inst_.dimensions, Op(0).rank(), "reverse dimension"));
  return Op(0);
}

StatusOr<Shape> Checker::SliceOp() {
  const Shape& x = Op(0);
  size_t r = static_cast<size_t>(x.rank());
  if (inst_.slice_starts.size() != r || inst_.slice_limits.size() != r ||
      inst_.slice_strides.size() != r) {
    return Fail("needs one start, limit and stride per dimension of {}", x.ToString());
  }
  Shape out(x.dtype, {});
  for (size_t i = 0; i < r; ++i) {
    int64_t start = inst_.slice_starts[i], limit = inst_.slice_limits[i];
    int64_t stride = inst_.slice_strides[i];
    if (start < 0 || start > limit || limit > x.dims[i]) {
      return Fail("dimension {}: slice [{}:{}] is not within [0:{}]", i, start, limit, x.dims[i]);
    }
    if (stride < 1) return Fail("dimension {}: stride {} must be >= 1", i, stride);
    int64_t span = limit - start;
    out.dims.push_back(span == 0 ? 0 : (span - 1) / stride + 1);
  }
  return out;
}

StatusOr<Shape> Checker::DynamicSliceOp() {
  const Shape& x = Op(0);
  for (int i = 1; i < NumOps(); ++i) RETURN_IF_ERROR(CheckScalarInt(i, "start index"));
  const auto& sizes = inst_.slice_sizes;
  if (static_cast<int64_t>(sizes.size()) != x.rank()) {
    return Fail("slice_sizes {} must have one entry per dimension of {}", List(sizes),
                x.ToString());
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0 || sizes[i] > x.dims[i]) {
      return Fail("slice size {} of dimension {} is not within [0, {}]", sizes[i], i, x.dims[i]);
    }
  }
  return Shape(x.dtype, sizes);
}

StatusOr<Shape> Checker::DynamicUpdateSliceOp() {
  const Shape& x = Op(0);
  const Shape& u = Op(1);
  for (int i = 2; i < NumOps(); ++i) RETURN_IF_ERROR(CheckScalarInt(i, "start index"));
  if (u.dtype != x.dtype || u.rank() != x.rank()) {
    return Fail("update {} must have the type and rank of the operand {}", u.ToString(),
                x.ToString());
  }
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (u.dims[i] > x.dims[i]) {
      return Fail("update {} is larger than the operand {} in dimension {}", u.ToString(),
                  x.ToString(), i);
    }
  }
  return x;
}

StatusOr<Shape> Checker::ConcatenateOp() {
  if (inst_.dimensions.size() != 1) {
    return Fail("needs exactly one concatenate dimension, got {}", List(inst_.dimensions));
  }
  int64_t d = inst_.dimensions[0];
  const Shape& first = Op(0);
  RETURN_IF_ERROR(CheckDimIndex(d, first.rank(), "concatenate dimension"));
  Shape out = first;
  for (int i = 1; i < NumOps(); ++i) {
    const Shape& s = Op(i);
    if (s.dtype != first.dtype || s.rank() != first.rank()) {
      return Fail("operand {} (%{}) {} does not match operand 0 {} in type and rank", i,
                  OpName(i), s.ToString(), first.ToString());
    }
    for (int64_t j = 0; j < s.rank(); ++j) {
      if (j != d && s.dims[j] != first.dims[j]) {
        return Fail("operand {} (%{}) {} differs from operand 0 {} in dimension {}", i, OpName(i),
                    s.ToString(), first.ToString(), j);
      }
    }
    if (!AddOk(out.dims[d], s.dims[d], &out.dims[d]))
      return Fail("concatenated dimension {} overflows", d);
  }
  return out;
}

StatusOr<Shape> Checker::PadOp() {
  const Shape& x = Op(0);
  const Shape& v = Op(1);
  if (!v.is_scalar() || v.dtype != x.dtype) {
    return Fail("padding value {} must be a scalar of the operand's type {}", v.ToString(),
                DTypeName(x.dtype));
  }
  if (static_cast<int64_t>(inst_.padding.size()) != x.rank()) {
    return Fail("needs one padding entry per dimension of {}, got {}", x.ToString(),
                inst_.padding.size());
  }
  Shape out(x.dtype, {});
  for (int64_t i = 0; i < x.rank(); ++i) {
    const PadDim& p = inst_.padding[i];
    if (p.interior < 0) return Fail("dimension {}: interior padding {} is negative", i, p.interior);
    int64_t d = x.dims[i];
    int64_t n = 0;
    bool ok = MulOk(std::max<int64_t>(d - 1, 0), p.interior, &n) && AddOk(n, d, &n) &&
              AddOk(n, p.lo, &n) && AddOk(n, p.hi, &n);
    if (!ok) return Fail("dimension {}: padding {}_{}_{} overflows", i, p.lo, p.hi, p.interior);
    if (n < 0) return Fail("dimension {}: padding {}_{}_{} gives negative size {}", i, p.lo, p.hi,
                           p.interior, n);
    out.dims.push_back(n);
  }
  return out;
}

StatusOr<Shape> Checker::ReduceOp() {
  int k = NumOps() / 2;
  const Shape& x0 = Op(0);
  std::vector<DType> types;
  for (int i = 0; i < k; ++i) {
    const Shape& x = Op(i);
    if (x.dims != x0.dims) {
      return Fail("reduced operands must have equal dimensions: {} vs {}", x0.ToString(),
                  x.ToString());
    }
    const Shape& init = Op(k + i);
    if (!init.is_scalar() || init.dtype != x.dtype) {
      return Fail("init value {} (%{}) must be a scalar {}", init.ToString(), OpName(k + i),
                  DTypeName(x.dtype));
    }
    types.push_back(x.dtype);
  }
  RETURN_IF_ERROR(CheckUniqueDims(inst_.dimensions, x0.rank(), "reduce dimension"));
  RETURN_IF_ERROR(CheckReducer(types));
  std::vector<int64_t> kept;
  for (int64_t d = 0; d < x0.rank(); ++d) {
    if (std::find(inst_.dimensions.begin(), inst_.dimensions.end(), d) == inst_.dimensions.end())
      kept.push_back(x0.dims[d]);
  }
  if (k == 1) return Shape(types[0], kept);
  std::vector<Shape> elems;
  for (DType t : types) elems.emplace_back(t, kept);
  return Shape::Tuple(std::move(elems));
}

StatusOr<Shape> Checker::ReduceWindowOp() {
  const Shape& x = Op(0);
  const Shape& init = Op(1);
  if (!init.is_scalar() || init.dtype != x.dtype) {
    return Fail("init value {} must be a scalar {}", init.ToString(), DTypeName(x.dtype));
  }
  if (static_cast<int64_t>(inst_.window.size()) != x.rank()) {
    return Fail("window has {} dimensions, operand {} has rank {}", inst_.window.size(),
                x.ToString(), x.rank());
  }
  RETURN_IF_ERROR(CheckReducer({x.dtype}));
  Shape out(x.dtype, {});
  for (int64_t i = 0; i < x.rank(); ++i) {
    ASSIGN_OR_RETURN(int64_t n, WindowedSize(x.dims[i], inst_.window[i], i));
    out.dims.push_back(n);
  }
  return out;
}

StatusOr<Shape> Checker::DotOp() {
  const Shape& a = Op(0);
  const Shape& b = Op(1);
  const DotDims& dd = inst_.dot_dims;
  if (a.dtype != b.dtype) {
    return Fail("operand types differ: {} vs {}", a.ToString(), b.ToString());
  }
  if (dd.lhs_batch.size() != dd.rhs_batch.size()) {
    return Fail("lhs_batch_dims {} and rhs_batch_dims {} differ in length", List(dd.lhs_batch),
                List(dd.rhs_batch));
  }
  if (dd.lhs_contracting.size() != dd.rhs_contracting.size()) {
    return Fail("lhs_contracting_dims {} and rhs_contracting_dims {} differ in length",
                List(dd.lhs_contracting), List(dd.rhs_contracting));
  }
  std::vector<int64_t> lhs_used = dd.lhs_batch, rhs_used = dd.rhs_batch;
  lhs_used.insert(lhs_used.end(), dd.lhs_contracting.begin(), dd.lhs_contracting.end());
  rhs_used.insert(rhs_used.end(), dd.rhs_contracting.begin(), dd.rhs_contracting.end());
  RETURN_IF_ERROR(CheckUniqueDims(lhs_used, a.rank(), "lhs dimension"));
  RETURN_IF_ERROR(CheckUniqueDims(rhs_used, b.rank(), "rhs dimension"));
  for (size_t i = 0; i < dd.lhs_batch.size(); ++i) {
    if (a.dims[dd.lhs_batch[i]] != b.dims[dd.rhs_batch[i]]) {
      return Fail("batch dimension sizes differ: lhs dim {} of {} vs rhs dim {} of {}",
                  dd.lhs_batch[i], a.ToString(), dd.rhs_batch[i], b.ToString());
    }
  }
  for (size_t i = 0; i < dd.lhs_contracting.size(); ++i) {
    if (a.dims[dd.lhs_contracting[i]] != b.dims[dd.rhs_contracting[i]]) {
      return Fail("contracting dimension sizes differ: lhs dim {} of {} vs rhs dim {} of {}",
                  dd.lhs_contracting[i], a.ToString(), dd.rhs_contracting[i], b.ToString());
    }
  }
  Shape out(MatmulResultType(a.dtype), {});
  for (int64_t d : dd.lhs_batch) out.dims.push_back(a.dims[d]);
  for (int64_t d = 0; d < a.rank(); ++d)
    if (std::find(lhs_used.begin(), lhs_used.end(), d) == lhs_used.end())
      out.dims.push_back(a.dims[d]);
  for (int64_t d = 0; d < b.rank(); ++d)
    if (std::find(rhs_used.begin(), rhs_used.end(), d) == rhs_used.end())
      out.dims.push_back(b.dims[d]);
  return out;
}

StatusOr<Shape> Checker::ConvolutionOp() {
  const Shape& in = Op(0);
  const Shape& k = Op(1);
  const ConvDims& cd = inst_.conv_dims;
  if (in.dtype != k.dtype) {
    return Fail("input and kernel types differ: {} vs {}", in.ToString(), k.ToString());
  }
  if (inst_.batch_group_count != 1) {
    return Unsupported("batch_group_count={} is not supported (only 1)", inst_.batch_group_count);
  }
  int64_t fgc = inst_.feature_group_count;
  if (fgc < 1) return Fail("feature_group_count {} must be >= 1", fgc);
  size_t ns = cd.input_spatial.size();
  if (cd.kernel_spatial.size() != ns || cd.output_spatial.size() != ns) {
    return Fail("dim_labels have {} input, {} kernel and {} output spatial dimensions", ns,
                cd.kernel_spatial.size(), cd.output_spatial.size());
  }
  int64_t rank = static_cast<int64_t>(ns) + 2;
  if (in.rank() != rank || k.rank() != rank) {
    return Fail("input {} and kernel {} must have rank {} (2 + spatial dimensions)",
                in.ToString(), k.ToString(), rank);
  }
  if (inst_.window.size() != ns) {
    return Fail("window has {} dimensions, convolution has {} spatial dimensions",
                inst_.window.size(), ns);
  }
  std::vector<int64_t> in_dims = {cd.input_batch, cd.input_feature};
  in_dims.insert(in_dims.end(), cd.input_spatial.begin(), cd.input_spatial.end());
  std::vector<int64_t> k_dims = {cd.kernel_output_feature, cd.kernel_input_feature};
  k_dims.insert(k_dims.end(), cd.kernel_spatial.begin(), cd.kernel_spatial.end());
  std::vector<int64_t> out_dims = {cd.output_batch, cd.output_feature};
  out_dims.insert(out_dims.end(), cd.output_spatial.begin(), cd.output_spatial.end());
  RETURN_IF_ERROR(CheckUniqueDims(in_dims, rank, "input dimension"));
  RETURN_IF_ERROR(CheckUniqueDims(k_dims, rank, "kernel dimension"));
  RETURN_IF_ERROR(CheckUniqueDims(out_dims, rank, "output dimension"));

  int64_t in_features = in.dims[cd.input_feature];
  int64_t k_in = k.dims[cd.kernel_input_feature];
  int64_t k_out = k.dims[cd.kernel_output_feature];
  int64_t k_in_total = 0;
  if (!MulOk(k_in, fgc, &k_in_total) || in_features != k_in_total) {
    return Fail("input features ({}) must equal kernel input features ({}) x "
                "feature_group_count ({})",
                in_features, k_in, fgc);
  }
  if (k_out % fgc != 0) {
    return Fail("kernel output features ({}) must be divisible by feature_group_count ({})",
                k_out, fgc);
  }
  Shape out(MatmulResultType(in.dtype), std::vector<int64_t>(rank, 0));
  out.dims[cd.output_batch] = in.dims[cd.input_batch];
  out.dims[cd.output_feature] = k_out;
  for (size_t i = 0; i < ns; ++i) {
    const WindowDim& w = inst_.window[i];
    int64_t ksize = k.dims[cd.kernel_spatial[i]];
    if (w.size != ksize) {
      return Fail("window size {} of spatial dimension {} differs from the kernel's size {}",
                  w.size, i, ksize);
    }
    ASSIGN_OR_RETURN(int64_t n, WindowedSize(in.dims[cd.input_spatial[i]], w, i));
    out.dims[cd.output_spatial[i]] = n;
  }
  return out;
}

StatusOr<Shape> Checker::GatherOp() {
  const Shape& x = Op(0);
  const Shape& idx = Op(1);
  const GatherDims& g = inst_.gather_dims;
  const auto& sizes = inst_.slice_sizes;
  if (!IsInteger(idx.dtype)) return Fail("indices {} must be integers", idx.ToString());
  if (g.index_vector_dim < 0 || g.index_vector_dim > idx.rank()) {
    return Fail("index_vector_dim {} out of range for indices {}", g.index_vector_dim,
                idx.ToString());
  }
  std::vector<int64_t> ind = idx.dims;
  if (g.index_vector_dim == idx.rank()) ind.push_back(1);
  int64_t num_index = ind[g.index_vector_dim];
  if (num_index != static_cast<int64_t>(g.start_index_map.size())) {
    return Fail("index vector has {} components but start_index_map {} has {}", num_index,
                List(g.start_index_map), g.start_index_map.size());
  }
  if (static_cast<int64_t>(sizes.size()) != x.rank()) {
    return Fail("slice_sizes {} must have one entry per dimension of {}", List(sizes),
                x.ToString());
  }
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (sizes[i] < 0 || sizes[i] > x.dims[i]) {
      return Fail("slice size {} of dimension {} is not within [0, {}]", sizes[i], i, x.dims[i]);
    }
  }
  RETURN_IF_ERROR(CheckUniqueDims(g.start_index_map, x.rank(), "start_index_map dimension"));
  RETURN_IF_ERROR(CheckUniqueDims(g.collapsed_slice_dims, x.rank(), "collapsed_slice_dim"));
  if (!std::is_sorted(g.collapsed_slice_dims.begin(), g.collapsed_slice_dims.end())) {
    return Fail("collapsed_slice_dims {} must be sorted", List(g.collapsed_slice_dims));
  }
  for (int64_t d : g.collapsed_slice_dims) {
    if (sizes[d] > 1) {
      return Fail("collapsed slice dimension {} has slice size {}; it must be <= 1", d, sizes[d]);
    }
  }
  int64_t batch_rank = static_cast<int64_t>(ind.size()) - 1;
  int64_t out_rank = batch_rank + static_cast<int64_t>(g.offset_dims.size());
  RETURN_IF_ERROR(CheckUniqueDims(g.offset_dims, out_rank, "offset_dim"));
  if (!std::is_sorted(g.offset_dims.begin(), g.offset_dims.end())) {
    return Fail("offset_dims {} must be sorted", List(g.offset_dims));
  }
  if (g.offset_dims.size() + g.collapsed_slice_dims.size() != sizes.size()) {
    return Fail("offset_dims {} and collapsed_slice_dims {} must together cover the {} operand "
                "dimensions",
                List(g.offset_dims), List(g.collapsed_slice_dims), sizes.size());
  }
  std::vector<int64_t> offset_sizes;
  for (int64_t i = 0; i < x.rank(); ++i) {
    if (std::find(g.collapsed_slice_dims.begin(), g.collapsed_slice_dims.end(), i) ==
        g.collapsed_slice_dims.end())
      offset_sizes.push_back(sizes[i]);
  }
  std::vector<int64_t> batch_sizes;
  for (int64_t i = 0; i < static_cast<int64_t>(ind.size()); ++i)
    if (i != g.index_vector_dim) batch_sizes.push_back(ind[i]);
  Shape out(x.dtype, {});
  size_t next_offset = 0, next_batch = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    if (std::find(g.offset_dims.begin(), g.offset_dims.end(), i) != g.offset_dims.end())
      out.dims.push_back(offset_sizes[next_offset++]);
    else
      out.dims.push_back(batch_sizes[next_batch++]);
  }
  return out;
}

StatusOr<Shape> Checker::TupleOp() {
  std::vector<Shape> elems;
  for (int i = 0; i < NumOps(); ++i) elems.push_back(Op(i));
  return Shape::Tuple(std::move(elems));
}

StatusOr<Shape> Checker::GetTupleElementOp() {
  const Shape& t = Op(0);
  if (!t.is_tuple) return Fail("operand %{} is not a tuple: {}", OpName(0), t.ToString());
  if (inst_.tuple_index < 0 || inst_.tuple_index >= static_cast<int64_t>(t.tuple.size())) {
    return Fail("index {} out of range for {}", inst_.tuple_index, t.ToString());
  }
  return t.tuple[inst_.tuple_index];
}

// The called computation's root gives the shape; operand i feeds its
// parameter i and must have that parameter's shape.
StatusOr<Shape> Checker::FusionOp() {
  const Computation* c = inst_.to_apply;
  if (c == nullptr) return Fail("missing called computation (calls=...)");
  const auto& params = c->parameters();
  if (static_cast<int>(params.size()) != NumOps()) {
    return Fail("called computation %{} takes {} parameters, the fusion has {} operands", c->name(),
                params.size(), NumOps());
  }
  for (int i = 0; i < NumOps(); ++i) {
    if (params[i] == nullptr) return Fail("called computation %{} has no parameter {}", c->name(), i);
    if (params[i]->shape != Op(i)) {
      return Fail("operand {} (%{}) is {}, but parameter {} of %{} is {}", i, OpName(i),
                  Op(i).ToString(), i, c->name(), params[i]->shape.ToString());
    }
  }
  if (c->root() == nullptr) return Fail("called computation %{} has no root", c->name());
  if (c->root()->shape.is_tuple) {
    return Fail("called computation %{} returns a tuple {}; a fusion has one array result",
                c->name(), c->root()->shape.ToString());
  }
  return c->root()->shape;
}

StatusOr<Shape> Checker::Infer() {
  RETURN_IF_ERROR(CheckArity());
  switch (OpcodeKind(inst_.opcode)) {
    case OpKind::kLeaf:
      return Leaf();
    case OpKind::kUnary:
      return UnaryOp();
    case OpKind::kBinary:
      return BinaryOp();
    case OpKind::kOther:
      break;
  }
  switch (inst_.opcode) {
    case Opcode::kCompare: return CompareOp();
    case Opcode::kSelect: return SelectOp();
    case Opcode::kClamp: return ClampOp();
    case Opcode::kConvert: return ConvertOp();
    case Opcode::kBroadcast: return BroadcastOp();
    case Opcode::kReshape: return ReshapeOp();
    case Opcode::kTranspose: return TransposeOp();
    case Opcode::kReverse: return ReverseOp();
    case Opcode::kSlice: return SliceOp();
    case Opcode::kDynamicSlice: return DynamicSliceOp();
    case Opcode::kDynamicUpdateSlice: return DynamicUpdateSliceOp();
    case Opcode::kConcatenate: return ConcatenateOp();
    case Opcode::kPad: return PadOp();
    case Opcode::kReduce: return ReduceOp();
    case Opcode::kReduceWindow: return ReduceWindowOp();
    case Opcode::kDot: return DotOp();
    case Opcode::kConvolution: return ConvolutionOp();
    case Opcode::kGather: return GatherOp();
    case Opcode::kTuple: return TupleOp();
    case Opcode::kGetTupleElement: return GetTupleElementOp();
    case Opcode::kFusion: return FusionOp();
    default:
      break;
  }
  return Fail("no shape rule for this op");
}

}  // namespace

StatusOr<Shape> InferShape(const Instruction& inst) {
  ASSIGN_OR_RETURN(Shape s, Checker(inst).Infer());
  // Every result, however computed, must be a tensor the IR can hold.
  std::string p = ShapeProblem(s);
  if (!p.empty()) {
    return Error("%{} ({}): result shape {} {}", inst.name, OpcodeName(inst.opcode), s.ToString(),
                 p);
  }
  return s;
}

}  // namespace xtpu
