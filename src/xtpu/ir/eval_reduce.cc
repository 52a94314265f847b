// Reference evaluator: reduce and reduce-window. Each output starts from the
// init value and folds in its inputs one at a time, acc = to_apply(acc, x),
// in row-major order of the reduced dims (reduce) or of the window positions
// (reduce-window; padding and base-dilation holes are skipped). When to_apply
// is a single add/multiply/maximum/minimum/and/or of its two parameters a
// typed loop does it; otherwise to_apply is interpreted, batched over all
// outputs at once (EvalBatchedScalar).
#include <optional>

#include "xtpu/ir/eval_internal.h"

namespace xtpu::eval {
namespace {

// The single binary op of a two-parameter reducer, if that is all it is.
std::optional<Opcode> SimpleReducer(const Computation* comp) {
  if (comp == nullptr || comp->parameters().size() != 2) return std::nullopt;
  const Instruction* root = comp->root();
  if (root == nullptr || root->operands.size() != 2 || root->shape.is_tuple) return std::nullopt;
  const Instruction* a = root->operands[0];
  const Instruction* b = root->operands[1];
  if (a->opcode != Opcode::kParameter || b->opcode != Opcode::kParameter ||
      a->parameter_number == b->parameter_number)
    return std::nullopt;
  switch (root->opcode) {
    case Opcode::kAdd:
    case Opcode::kMultiply:
    case Opcode::kMaximum:
    case Opcode::kMinimum:
    case Opcode::kAnd:
    case Opcode::kOr:
      return root->opcode;
    default:
      return std::nullopt;
  }
}

// Calls body(f) with f the scalar combiner for `op` over compute type C
// (float for float dtypes, T for integers, uint8 0/1 for pred). Returns false
// when `op` does not apply to the type.
template <typename C, typename Body>
bool WithCombiner(Opcode op, bool is_pred, Body&& body) {
  if constexpr (std::is_same_v<C, float>) {
    switch (op) {
      case Opcode::kAdd: body([](float a, float b) { return a + b; }); return true;
      case Opcode::kMultiply: body([](float a, float b) { return a * b; }); return true;
      case Opcode::kMaximum: body(FMax); return true;
      case Opcode::kMinimum: body(FMin); return true;
      default: return false;
    }
  } else {
    if (is_pred) {
      switch (op) {
        case Opcode::kAnd:
        case Opcode::kMinimum:
        case Opcode::kMultiply: body([](C a, C b) -> C { return (a && b) ? 1 : 0; }); return true;
        case Opcode::kOr:
        case Opcode::kMaximum:
        case Opcode::kAdd: body([](C a, C b) -> C { return (a || b) ? 1 : 0; }); return true;
        default: return false;
      }
    }
    switch (op) {
      case Opcode::kAdd: body(WAdd<C>); return true;
      case Opcode::kMultiply: body(WMul<C>); return true;
      case Opcode::kMaximum: body([](C a, C b) { return a > b ? a : b; }); return true;
      case Opcode::kMinimum: body([](C a, C b) { return a < b ? a : b; }); return true;
      case Opcode::kAnd: body([](C a, C b) -> C { return a & b; }); return true;
      case Opcode::kOr: body([](C a, C b) -> C { return a | b; }); return true;
      default: return false;
    }
  }
}

// Folds rows: acc[o] = f(acc[o], x(r, o)) for r = 0..rows-1, where x(r, o) is
// element index(r, o) of `x` (index < 0: skipped). Fast typed version.
// `index` is called once per row and fills a vector of out_n indices.
template <typename IndexFn>
bool FoldFast(Opcode op, const Literal& x, const Literal& init, int64_t rows, int64_t out_n,
              IndexFn&& index, Literal& y) {
  if (out_n == 0) return true;  // zero-sized result: nothing to fold into
  DType t = x.dtype();
  std::vector<int64_t> idx(out_n);
  bool ok = true;
  auto run = [&]<typename S, typename C>(auto load, auto store) {
    const S* xp = x.data<S>();
    std::vector<C> acc(out_n, load(init.data<S>()[0]));
    ok = WithCombiner<C>(op, t == DType::kPred, [&](auto f) {
      for (int64_t r = 0; r < rows; ++r) {
        bool dense = index(r, idx);
        if (dense) {  // idx[o] = idx[0] + o, all valid
          const S* row = xp + idx[0];
          for (int64_t o = 0; o < out_n; ++o) acc[o] = load(store(f(acc[o], load(row[o]))));
        } else {
          for (int64_t o = 0; o < out_n; ++o)
            if (idx[o] >= 0) acc[o] = load(store(f(acc[o], load(xp[idx[o]]))));
        }
      }
    });
    S* yp = y.data<S>();
    for (int64_t o = 0; o < out_n; ++o) yp[o] = store(acc[o]);
  };
  if (IsFloat(t)) {
    WithFloatType(t, [&]<typename S>() {
      run.template operator()<S, float>([](S v) { return Ld<S>(v); }, [](float v) { return St<S>(v); });
    });
  } else if (t == DType::kPred) {
    run.template operator()<uint8_t, uint8_t>([](uint8_t v) -> uint8_t { return v ? 1 : 0; },
                                              [](uint8_t v) { return v; });
  } else {
    WithIntType(t, [&]<typename T>() {
      run.template operator()<T, T>([](T v) { return v; }, [](T v) { return v; });
    });
  }
  return ok;
}

// Copies element idx[o] of x (or element 0 when idx[o] < 0) into a new
// literal of out_n elements.
Literal GatherElements(const Literal& x, const std::vector<int64_t>& idx) {
  int64_t n = static_cast<int64_t>(idx.size());
  Literal y(Shape(x.dtype(), {n}));
  int bytes = DTypeBytes(x.dtype());
  const uint8_t* src = x.bytes().data();
  uint8_t* dst = y.mutable_bytes().data();
  for (int64_t o = 0; o < n; ++o) std::memcpy(dst + o * bytes, src + std::max<int64_t>(idx[o], 0) * bytes, bytes);
  return y;
}

// Generic fold: interprets to_apply over all outputs per row.
template <typename IndexFn>
StatusOr<std::vector<Literal>> FoldGeneric(const Instruction& inst,
                                           const std::vector<const Literal*>& xs,
                                           const std::vector<const Literal*>& inits, int64_t rows,
                                           int64_t out_n, IndexFn&& index) {
  size_t k = xs.size();
  std::vector<Literal> acc;
  for (size_t i = 0; i < k; ++i) acc.push_back(BroadcastScalar(*inits[i], out_n));
  if (out_n == 1)
    for (size_t i = 0; i < k; ++i) acc[i] = Literal(Shape(acc[i].dtype(), {1}), acc[i].bytes());
  std::vector<int64_t> idx(out_n);
  for (int64_t r = 0; r < rows && out_n > 0; ++r) {  // zero-sized result: nothing to do
    index(r, idx);
    std::vector<Literal> row;
    for (size_t i = 0; i < k; ++i) row.push_back(GatherElements(*xs[i], idx));
    std::vector<const Literal*> params;
    for (auto& a : acc) params.push_back(&a);
    for (auto& x : row) params.push_back(&x);
    auto result = EvalBatchedScalar(*inst.to_apply, params, out_n);
    if (!result.ok()) return result.status().WithPrefix(Describe(inst) + " to_apply");
    std::vector<Literal> next = std::move(result).value();
    if (next.size() != k) return Error("{}: to_apply returns {} values, expected {}", Describe(inst), next.size(), k);
    for (size_t i = 0; i < k; ++i) {
      if (next[i].dtype() != acc[i].dtype())
        return Error("{}: to_apply result {} has the wrong type", Describe(inst), i);
      int bytes = DTypeBytes(acc[i].dtype());
      uint8_t* dst = acc[i].mutable_bytes().data();
      const uint8_t* src = next[i].bytes().data();
      for (int64_t o = 0; o < out_n; ++o)
        if (idx[o] >= 0) std::memcpy(dst + o * bytes, src + o * bytes, bytes);
    }
  }
  return acc;
}

StatusOr<Value> Pack(const Instruction& inst, std::vector<Literal> outs) {
  auto fits = [&](const Shape& s, const Literal& l) {
    return !s.is_tuple && s.dtype == l.dtype() && s.num_elements() == l.num_elements();
  };
  if (!inst.shape.is_tuple) {
    if (outs.size() != 1 || !fits(inst.shape, outs[0]))
      return Error("{}: result shape {} does not match the operands", Describe(inst), inst.shape.ToString());
    return Value::Array(Literal(inst.shape, std::move(outs[0].mutable_bytes())));
  }
  if (inst.shape.tuple.size() != outs.size())
    return Error("{}: result shape {} does not match the operands", Describe(inst), inst.shape.ToString());
  Value v;
  v.is_tuple = true;
  for (size_t i = 0; i < outs.size(); ++i) {
    if (!fits(inst.shape.tuple[i], outs[i]))
      return Error("{}: result shape {} does not match the operands", Describe(inst), inst.shape.ToString());
    v.tuple.push_back(Value::Array(Literal(inst.shape.tuple[i], std::move(outs[i].mutable_bytes()))));
  }
  return v;
}

Status CheckOperands(const Instruction& inst, const std::vector<const Literal*>& ops, size_t* k) {
  if (ops.size() % 2 != 0 || ops.empty())
    return Error("{}: needs k operands and k init values", Describe(inst));
  *k = ops.size() / 2;
  if (inst.to_apply == nullptr) return Error("{}: has no to_apply computation", Describe(inst));
  for (size_t i = 0; i < *k; ++i) {
    if (ops[*k + i]->num_elements() != 1)
      return Error("{}: init value {} must be a scalar", Describe(inst), i);
    if (ops[*k + i]->dtype() != ops[i]->dtype())
      return Error("{}: init value {} has type {}, operand has {}", Describe(inst), i,
                   DTypeName(ops[*k + i]->dtype()), DTypeName(ops[i]->dtype()));
    if (ops[i]->shape().dims != ops[0]->shape().dims)
      return Error("{}: operands differ in shape", Describe(inst));
  }
  return OkStatus();
}

}  // namespace

StatusOr<Value> EvalReduce(const Instruction& inst, const std::vector<const Literal*>& ops) {
  size_t k;
  RETURN_IF_ERROR(CheckOperands(inst, ops, &k));
  const Shape& in = ops[0]->shape();
  std::vector<bool> reduced(in.rank(), false);
  for (int64_t d : inst.dimensions) {
    if (d < 0 || d >= in.rank()) return Error("{}: bad reduce dimension {}", Describe(inst), d);
    reduced[d] = true;
  }
  // Layout [reduced..., kept...]: row r (a reduced index) holds all outputs.
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < in.rank(); ++d)
    if (reduced[d]) perm.push_back(d);
  int64_t rows = 1;
  for (int64_t d : perm) rows *= in.dims[d];
  for (int64_t d = 0; d < in.rank(); ++d)
    if (!reduced[d]) perm.push_back(d);
  int64_t out_n = rows == 0 ? 0 : in.num_elements() / rows;
  if (rows == 0) {
    out_n = 1;
    for (int64_t d = 0; d < in.rank(); ++d)
      if (!reduced[d]) out_n *= in.dims[d];
  }
  bool identity = true;
  for (size_t i = 0; i < perm.size(); ++i) identity &= perm[i] == static_cast<int64_t>(i);
  std::vector<Literal> transposed;
  std::vector<const Literal*> xs;
  for (size_t i = 0; i < k; ++i) {
    if (identity) {
      xs.push_back(ops[i]);
    } else {
      transposed.push_back(TransposeLiteral(*ops[i], perm));
    }
  }
  if (!identity)
    for (auto& t : transposed) xs.push_back(&t);
  auto index = [&](int64_t r, std::vector<int64_t>& idx) {
    for (int64_t o = 0; o < out_n; ++o) idx[o] = r * out_n + o;
    return true;
  };
  std::optional<Opcode> simple = k == 1 ? SimpleReducer(inst.to_apply) : std::nullopt;
  if (simple) {
    Literal y(Shape(ops[0]->dtype(), {out_n}));
    if (FoldFast(*simple, *xs[0], *ops[1], rows, out_n, index, y)) return Pack(inst, {std::move(y)});
  }
  std::vector<const Literal*> inits(ops.begin() + k, ops.end());
  ASSIGN_OR_RETURN(std::vector<Literal> outs, FoldGeneric(inst, xs, inits, rows, out_n, index));
  return Pack(inst, std::move(outs));
}

StatusOr<Value> EvalReduceWindow(const Instruction& inst, const std::vector<const Literal*>& ops) {
  size_t k;
  RETURN_IF_ERROR(CheckOperands(inst, ops, &k));
  const Shape& in = ops[0]->shape();
  int64_t rank = in.rank();
  if (static_cast<int64_t>(inst.window.size()) != rank)
    return Error("{}: window has {} dims, operand rank is {}", Describe(inst), inst.window.size(), rank);
  const std::vector<int64_t>& out_dims = inst.shape.is_tuple ? inst.shape.tuple[0].dims : inst.shape.dims;
  if (static_cast<int64_t>(out_dims.size()) != rank)
    return Error("{}: result rank does not match operand", Describe(inst));
  int64_t out_n = 1, rows = 1;
  for (int64_t d = 0; d < rank; ++d) {
    out_n *= out_dims[d];
    rows *= inst.window[d].size;
    if (inst.window[d].stride < 1 || inst.window[d].base_dilation < 1 ||
        inst.window[d].window_dilation < 1)
      return Error("{}: window strides and dilations must be >= 1", Describe(inst));
  }
  std::vector<int64_t> in_strides = RowMajorStrides(in.dims);
  std::vector<int64_t> wsizes;
  for (const WindowDim& w : inst.window) wsizes.push_back(w.size);
  std::vector<int64_t> wstrides = RowMajorStrides(wsizes);
  // idx[o] for window position r: flat input index or -1 (padding / hole).
  auto index = [&](int64_t r, std::vector<int64_t>& idx) {
    idx.assign(1, 0);
    for (int64_t d = 0; d < rank; ++d) {
      const WindowDim& w = inst.window[d];
      int64_t wd = (r / wstrides[d]) % wsizes[d];
      int64_t od_n = out_dims[d];
      int64_t dilated = (in.dims[d] - 1) * w.base_dilation + 1;
      std::vector<int64_t> in_d(od_n);
      for (int64_t o = 0; o < od_n; ++o) {
        int64_t pos = o * w.stride - w.pad_lo + wd * w.window_dilation;
        in_d[o] = (pos < 0 || pos >= dilated || pos % w.base_dilation != 0) ? -1 : pos / w.base_dilation;
      }
      std::vector<int64_t> next(idx.size() * od_n);
      for (size_t i = 0; i < idx.size(); ++i)
        for (int64_t o = 0; o < od_n; ++o)
          next[i * od_n + o] = (idx[i] < 0 || in_d[o] < 0) ? -1 : idx[i] + in_d[o] * in_strides[d];
      idx.swap(next);
    }
    return false;
  };
  std::optional<Opcode> simple = k == 1 ? SimpleReducer(inst.to_apply) : std::nullopt;
  if (simple) {
    Literal y(Shape(ops[0]->dtype(), {out_n}));
    if (out_n == 0) return Pack(inst, {std::move(y)});
    if (FoldFast(*simple, *ops[0], *ops[1], rows, out_n, index, y)) return Pack(inst, {std::move(y)});
  }
  std::vector<const Literal*> xs(ops.begin(), ops.begin() + k);
  std::vector<const Literal*> inits(ops.begin() + k, ops.end());
  ASSIGN_OR_RETURN(std::vector<Literal> outs, FoldGeneric(inst, xs, inits, rows, out_n, index));
  return Pack(inst, std::move(outs));
}

}  // namespace xtpu::eval
