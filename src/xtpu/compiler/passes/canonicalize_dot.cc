// canonicalize-dot: every dot into the form the matrix unit runs
// (chip_form.h): lhs [B..., M, K], rhs [B..., K, N] (or [K, N] without batch
// dims), result [B..., M, N], batch dims leading and in the same order.
//
// The lhs is transposed to [batch..., free..., contracting...] and its free
// dims merged into M, its contracting dims into K (a missing one becomes a
// unit dim); the rhs to [batch..., contracting..., free...] merged into K and
// N. The dot's result order (batch, lhs free, rhs free) is then only a
// reshape of [B..., M, N] away. Constant operands (weights) are transposed
// and reshaped now. Exact: the products and their order of summation (by
// contracting index, row-major over several contracting dims) do not change.
#include <algorithm>

#include "xtpu/compiler/passes/lowering.h"
#include "xtpu/compiler/passes/lowering_util.h"

namespace xtpu::compiler {
namespace {

bool Contains(const std::vector<int64_t>& v, int64_t x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::vector<int64_t> Iota(int64_t n, int64_t from = 0) {
  std::vector<int64_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = from + i;
  return v;
}

bool IsCanonical(const Instruction& dot) {
  const DotDims& d = dot.dot_dims;
  const int64_t nb = static_cast<int64_t>(d.lhs_batch.size());
  const int64_t lr = dot.operands[0]->shape.rank(), rr = dot.operands[1]->shape.rank();
  if (lr != nb + 2 || d.lhs_batch != Iota(nb) || d.lhs_contracting != std::vector<int64_t>{nb + 1}) return false;
  if (nb == 0 && rr == 2) return d.rhs_batch.empty() && d.rhs_contracting == std::vector<int64_t>{0};
  return rr == nb + 2 && d.rhs_batch == Iota(nb) && d.rhs_contracting == std::vector<int64_t>{nb};
}

// The dims of `rank` not in `a` or `b`, in order.
std::vector<int64_t> FreeDims(int64_t rank, const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> f;
  for (int64_t d = 0; d < rank; ++d)
    if (!Contains(a, d) && !Contains(b, d)) f.push_back(d);
  return f;
}

int64_t Product(const Shape& s, const std::vector<int64_t>& dims) {
  int64_t p = 1;
  for (int64_t d : dims) p *= s.dims[d];
  return p;
}

// x transposed to the dims `order`, then reshaped to its batch dims followed
// by the products of `groups` (consecutive runs of `order` after the batch).
StatusOr<Instruction*> Arrange(Builder& b, Instruction* x, const std::vector<int64_t>& batch,
                               const std::vector<int64_t>& g1, const std::vector<int64_t>& g2) {
  std::vector<int64_t> order = batch;
  order.insert(order.end(), g1.begin(), g1.end());
  order.insert(order.end(), g2.begin(), g2.end());
  ASSIGN_OR_RETURN(Instruction * t, MakeTranspose(b, x, order));
  std::vector<int64_t> dims;
  for (int64_t d : batch) dims.push_back(x->shape.dims[d]);
  dims.push_back(Product(x->shape, g1));
  dims.push_back(Product(x->shape, g2));
  return MakeReshape(b, t, dims);
}

StatusOr<bool> CanonicalizeDot(Rewriter& rw, Instruction* dot) {
  if (IsCanonical(*dot)) return false;
  Builder& b = rw.builder();
  Instruction* lhs = dot->operands[0];
  Instruction* rhs = dot->operands[1];
  const DotDims& d = dot->dot_dims;
  const int64_t nb = static_cast<int64_t>(d.lhs_batch.size());
  std::vector<int64_t> lhs_free = FreeDims(lhs->shape.rank(), d.lhs_batch, d.lhs_contracting);
  std::vector<int64_t> rhs_free = FreeDims(rhs->shape.rank(), d.rhs_batch, d.rhs_contracting);
  ASSIGN_OR_RETURN(Instruction * a, Arrange(b, lhs, d.lhs_batch, lhs_free, d.lhs_contracting));
  Instruction* c = nullptr;
  if (nb == 0) {
    ASSIGN_OR_RETURN(c, Arrange(b, rhs, {}, d.rhs_contracting, rhs_free));
  } else {
    ASSIGN_OR_RETURN(c, Arrange(b, rhs, d.rhs_batch, d.rhs_contracting, rhs_free));
  }
  DotDims cd;
  cd.lhs_batch = Iota(nb);
  cd.rhs_batch = Iota(nb);
  cd.lhs_contracting = {nb + 1};
  cd.rhs_contracting = {nb};
  ASSIGN_OR_RETURN(Instruction * mm, b.Dot(a, c, cd));
  ASSIGN_OR_RETURN(Instruction * out, MakeReshape(b, mm, dot->shape.dims));
  return rw.ReplaceWithNew(dot, out);
}

constexpr RewriteRule kRules[] = {
    {"dot-canonical", Opcode::kDot, CanonicalizeDot},
};

class CanonicalizeDotPass : public Pass {
 public:
  std::string_view name() const override { return "canonicalize-dot"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    return ApplyRewriteRules(module, kRules, /*max_sweeps=*/1);
  }
};

}  // namespace

std::unique_ptr<Pass> CreateCanonicalizeDotPass() { return std::make_unique<CanonicalizeDotPass>(); }

}  // namespace xtpu::compiler
