// Permutations, literal transposes and folding makers for the lowering
// passes (see lowering_util.h).
#include "xtpu/compiler/passes/lowering_util.h"

#include <cstring>
#include <limits>

#include "xtpu/support/check.h"

namespace xtpu::compiler {

bool IsIdentityPermutation(const std::vector<int64_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != static_cast<int64_t>(i)) return false;
  return true;
}

std::vector<int64_t> InversePermutation(const std::vector<int64_t>& perm) {
  std::vector<int64_t> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[perm[i]] = static_cast<int64_t>(i);
  return inv;
}

std::vector<int64_t> ComposePermutations(const std::vector<int64_t>& inner,
                                         const std::vector<int64_t>& outer) {
  // Result dim i is inner's dim outer[i], which is x's dim inner[outer[i]].
  std::vector<int64_t> p(outer.size());
  for (size_t i = 0; i < outer.size(); ++i) p[i] = inner[outer[i]];
  return p;
}

Literal TransposeLiteralBytes(const Literal& x, const std::vector<int64_t>& perm) {
  const Shape& s = x.shape();
  XTPU_CHECK(static_cast<int64_t>(perm.size()) == s.rank());
  std::vector<int64_t> out_dims(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) out_dims[i] = s.dims[perm[i]];
  Literal y(Shape(s.dtype, out_dims));
  const int64_t n = y.num_elements();
  if (n == 0) return y;
  const size_t esize = static_cast<size_t>(DTypeBytes(s.dtype));
  std::vector<int64_t> in_strides = RowMajorStrides(s.dims);
  // Stride in the input of each output dim; walk the output in order.
  std::vector<int64_t> step(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) step[i] = in_strides[perm[i]];
  std::vector<int64_t> idx(perm.size(), 0);
  const uint8_t* src = x.bytes().data();
  uint8_t* dst = y.mutable_bytes().data();
  int64_t off = 0;
  for (int64_t o = 0; o < n; ++o) {
    std::memcpy(dst + o * esize, src + off * esize, esize);
    for (int64_t d = static_cast<int64_t>(perm.size()) - 1; d >= 0; --d) {
      off += step[d];
      if (++idx[d] < out_dims[d]) break;
      off -= step[d] * out_dims[d];
      idx[d] = 0;
    }
  }
  return y;
}

StatusOr<Instruction*> MakeTranspose(Builder& b, Instruction* x, const std::vector<int64_t>& perm) {
  if (IsIdentityPermutation(perm)) return x;
  if (x->opcode == Opcode::kConstant) {
    auto c = std::make_unique<Instruction>();
    c->opcode = Opcode::kConstant;
    c->name = x->name;
    c->literal = TransposeLiteralBytes(x->literal, perm);
    c->shape = c->literal.shape();
    return b.Add(std::move(c));
  }
  if (x->opcode == Opcode::kTranspose)
    return MakeTranspose(b, x->operands[0], ComposePermutations(x->dimensions, perm));
  return b.Transpose(x, perm);
}

StatusOr<Instruction*> MakeReshape(Builder& b, Instruction* x, const std::vector<int64_t>& dims) {
  if (x->shape.dims == dims) return x;
  if (x->opcode == Opcode::kConstant) {
    auto c = std::make_unique<Instruction>();
    c->opcode = Opcode::kConstant;
    c->name = x->name;
    c->literal = Literal(Shape(x->shape.dtype, dims), x->literal.bytes());
    c->shape = c->literal.shape();
    return b.Add(std::move(c));
  }
  if (x->opcode == Opcode::kReshape) return MakeReshape(b, x->operands[0], dims);
  return b.Reshape(x, dims);
}

std::optional<Opcode> SimpleReduction(const Computation* comp) {
  if (comp == nullptr || comp->parameters().size() != 2 || comp->root() == nullptr) return std::nullopt;
  const Instruction* r = comp->root();
  if (r->operands.size() != 2 || r->shape.is_tuple || !r->shape.is_scalar()) return std::nullopt;
  const Instruction* a = r->operands[0];
  const Instruction* b = r->operands[1];
  if (a->opcode != Opcode::kParameter || b->opcode != Opcode::kParameter ||
      a->parameter_number == b->parameter_number)
    return std::nullopt;
  switch (r->opcode) {
    case Opcode::kAdd:
    case Opcode::kMultiply:
    case Opcode::kMaximum:
    case Opcode::kMinimum:
      return r->opcode;
    default:
      return std::nullopt;
  }
}

std::optional<Literal> ReductionIdentity(Opcode op, DType dtype) {
  if (dtype == DType::kPred) return std::nullopt;
  Literal l(Shape(dtype, {}));
  const bool fp = IsFloat(dtype);
  double inf = std::numeric_limits<double>::infinity();
  int64_t lo = 0, hi = 0;
  switch (dtype) {
    case DType::kS8: lo = -128, hi = 127; break;
    case DType::kU8: lo = 0, hi = 255; break;
    case DType::kS32: lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max(); break;
    default: lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max(); break;
  }
  switch (op) {
    case Opcode::kAdd: l.SetFromInt64(0, 0); break;
    case Opcode::kMultiply: l.SetFromInt64(0, 1); break;
    case Opcode::kMaximum:
      if (fp) l.SetFromDouble(0, -inf);
      else l.SetFromInt64(0, lo);
      break;
    case Opcode::kMinimum:
      if (fp) l.SetFromDouble(0, inf);
      else l.SetFromInt64(0, hi);
      break;
    default: return std::nullopt;
  }
  return l;
}

bool IsElementwise(const Instruction& inst) {
  switch (OpcodeKind(inst.opcode)) {
    case OpKind::kUnary:
    case OpKind::kBinary: return true;
    default: break;
  }
  switch (inst.opcode) {
    case Opcode::kCompare:
    case Opcode::kSelect:
    case Opcode::kClamp:
    case Opcode::kConvert: return true;
    default: return false;
  }
}

}  // namespace xtpu::compiler
