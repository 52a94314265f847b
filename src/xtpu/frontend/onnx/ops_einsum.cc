// ONNX Einsum (opset 12+) with one or two operands, lowered to reduce +
// transpose + reshape + one dot + transpose:
//   - an index in only one operand and not in the output is summed first;
//   - an index in both operands and the output is a batch dim, in both but
//     not the output a contracting dim, in one operand and the output a free
//     dim;
//   - operand 0 becomes [batch, m, k], operand 1 [batch, k, n] (each group of
//     dims collapsed into one), the dot gives [batch, m, n], which is reshaped
//     back and transposed to the output order.
// Ellipsis ("...") is supported with numpy broadcasting of its dims (a size-1
// dim against a larger one). An index repeated within one operand (diagonals,
// traces) and more than two operands are not supported.
#include <algorithm>
#include <cctype>
#include <map>

#include "xtpu/frontend/onnx/import_context.h"

namespace xtpu::onnx_import {

namespace {

// Labels: letters are their char code; ellipsis dim j (of the widest
// ellipsis, aligned to the right) is kEllipsisBase + j.
constexpr int kEllipsisBase = 1000;

// One term of the equation split into letters and the ellipsis position.
struct Term {
  std::vector<int> letters;  // char codes, in order
  int ellipsis_at = -1;      // index into `letters` where "..." stands, or -1
};

// Parses "ab...c" (whitespace already removed); false on a bad character or
// a second ellipsis.
bool ParseTerm(const std::string& s, Term* t) {
  for (size_t i = 0; i < s.size();) {
    if (s.compare(i, 3, "...") == 0) {
      if (t->ellipsis_at >= 0) return false;
      t->ellipsis_at = static_cast<int>(t->letters.size());
      i += 3;
    } else if (std::isalpha(static_cast<unsigned char>(s[i]))) {
      t->letters.push_back(s[i]);
      ++i;
    } else {
      return false;
    }
  }
  return true;
}

std::string LabelName(int l) {
  if (l >= kEllipsisBase) return fmt::format("... dim {}", l - kEllipsisBase);
  return std::string(1, static_cast<char>(l));
}

// Labels of a term for an operand of rank `rank` whose ellipsis covers
// `e` dims of the `width` ellipsis dims.
std::vector<int> Expand(const Term& t, int64_t e, int64_t width) {
  std::vector<int> out;
  for (size_t i = 0; i <= t.letters.size(); ++i) {
    if (static_cast<int>(i) == t.ellipsis_at)
      for (int64_t j = width - e; j < width; ++j) out.push_back(kEllipsisBase + static_cast<int>(j));
    if (i < t.letters.size()) out.push_back(t.letters[i]);
  }
  return out;
}

// An operand with one label per dim.
struct Operand {
  Instruction* x;
  std::vector<int> labels;
  bool Has(int l) const { return std::find(labels.begin(), labels.end(), l) != labels.end(); }
  int64_t DimOf(int l) const {
    return x->shape.dims[std::find(labels.begin(), labels.end(), l) - labels.begin()];
  }
};

// Transposes `op` so its labels are `order` (a permutation of its labels).
StatusOr<Instruction*> TransposeTo(ImportContext& ctx, const Operand& op, const std::vector<int>& order) {
  std::vector<int64_t> perm;
  bool identity = true;
  for (size_t i = 0; i < order.size(); ++i) {
    int64_t p = std::find(op.labels.begin(), op.labels.end(), order[i]) - op.labels.begin();
    identity = identity && p == static_cast<int64_t>(i);
    perm.push_back(p);
  }
  if (identity) return op.x;
  return ctx.b().Transpose(op.x, perm);
}

// Sums `op` over its labels for which keep(label) is false.
template <typename Keep>
Status SumOut(ImportContext& ctx, Operand* op, Keep keep) {
  std::vector<int64_t> dims;
  std::vector<int> rest;
  for (size_t i = 0; i < op->labels.size(); ++i) {
    if (keep(op->labels[i])) {
      rest.push_back(op->labels[i]);
    } else {
      dims.push_back(static_cast<int64_t>(i));
    }
  }
  if (dims.empty()) return OkStatus();
  ASSIGN_OR_RETURN(op->x, ctx.Reduce(op->x, dims, Opcode::kAdd, 0));
  op->labels = rest;
  return OkStatus();
}

int64_t SizeOf(const Operand& op, const std::vector<int>& labels) {
  int64_t n = 1;
  for (int l : labels) n *= op.DimOf(l);
  return n;
}

Status Einsum(ImportContext& ctx) {
  ASSIGN_OR_RETURN(std::string eq_raw, ctx.String("equation", ""));
  if (!ctx.HasAttr("equation")) return ctx.Error("attribute 'equation' is required");
  if (ctx.opset() < 12) return ctx.Error("Einsum needs opset 12 or later");
  std::string eq;
  for (char c : eq_raw)
    if (!std::isspace(static_cast<unsigned char>(c))) eq += c;
  auto unsupported = [&](std::string_view why) {
    return ctx.Unimplemented("equation '{}': {}", eq_raw, why);
  };
  auto bad = [&](std::string_view why) { return ctx.Error("equation '{}': {}", eq_raw, why); };

  // Split into input terms and the (optional) output term.
  size_t arrow = eq.find("->");
  bool explicit_out = arrow != std::string::npos;
  std::string lhs = explicit_out ? eq.substr(0, arrow) : eq;
  std::vector<std::string> in_strs;
  for (size_t start = 0;;) {
    size_t comma = lhs.find(',', start);
    in_strs.push_back(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (static_cast<int>(in_strs.size()) != ctx.num_inputs())
    return bad(fmt::format("has {} operand terms but the node has {} inputs", in_strs.size(), ctx.num_inputs()));
  if (in_strs.size() > 2) return unsupported("more than two operands are not supported");

  std::vector<Term> terms(in_strs.size());
  std::vector<Operand> ops;
  int64_t width = 0;  // widest ellipsis
  for (size_t i = 0; i < in_strs.size(); ++i) {
    if (!ParseTerm(in_strs[i], &terms[i])) return bad(fmt::format("operand term '{}' is malformed", in_strs[i]));
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(static_cast<int>(i)));
    int64_t nl = static_cast<int64_t>(terms[i].letters.size());
    int64_t e = x->shape.rank() - nl;
    if (terms[i].ellipsis_at < 0 ? e != 0 : e < 0)
      return bad(fmt::format("term '{}' does not match operand {} of shape {}", in_strs[i], i, x->shape.ToString()));
    width = std::max(width, terms[i].ellipsis_at < 0 ? 0 : e);
    ops.push_back({x, {}});
  }
  if (ops.size() == 2 && ops[0].x->shape.dtype != ops[1].x->shape.dtype)
    return bad(fmt::format("operand types differ: {} and {}", DTypeName(ops[0].x->shape.dtype),
                           DTypeName(ops[1].x->shape.dtype)));
  for (size_t i = 0; i < ops.size(); ++i) {
    int64_t e = ops[i].x->shape.rank() - static_cast<int64_t>(terms[i].letters.size());
    ops[i].labels = Expand(terms[i], e, width);
    std::vector<int> sorted = ops[i].labels;
    std::sort(sorted.begin(), sorted.end());
    auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    if (dup != sorted.end())
      return unsupported(fmt::format("index '{}' repeated in operand {} (diagonal) is not supported",
                                     LabelName(*dup), i));
  }

  // Label sizes must agree; an ellipsis dim of size 1 broadcasts (it is
  // dropped from its operand, so the label is only in the other one).
  if (ops.size() == 2) {
    for (int l : std::vector<int>(ops[0].labels)) {
      if (!ops[1].Has(l)) continue;
      int64_t d0 = ops[0].DimOf(l), d1 = ops[1].DimOf(l);
      if (d0 == d1) continue;
      if (l < kEllipsisBase || (d0 != 1 && d1 != 1))
        return bad(fmt::format("index '{}' has sizes {} and {}", LabelName(l), d0, d1));
      Operand& one = d0 == 1 ? ops[0] : ops[1];
      std::vector<int64_t> dims;
      std::vector<int> labels;
      for (size_t j = 0; j < one.labels.size(); ++j) {
        if (one.labels[j] == l) continue;
        dims.push_back(one.x->shape.dims[j]);
        labels.push_back(one.labels[j]);
      }
      ASSIGN_OR_RETURN(one.x, ctx.Reshape(one.x, dims));
      one.labels = labels;
    }
  }

  // Output labels.
  std::vector<int> out;
  if (explicit_out) {
    Term t;
    std::string out_str = eq.substr(arrow + 2);
    if (!ParseTerm(out_str, &t)) return bad(fmt::format("output term '{}' is malformed", out_str));
    if (t.ellipsis_at < 0 && width > 0) return bad("the output needs '...' as the operands have it");
    out = Expand(t, t.ellipsis_at < 0 ? 0 : width, width);
    std::vector<int> sorted = out;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) return bad("an output index is repeated");
    for (int l : out) {
      bool found = false;
      for (const auto& op : ops) found = found || op.Has(l);
      // An ellipsis dim dropped from both operands cannot happen (one keeps it).
      if (!found) return bad(fmt::format("output index '{}' is in no operand", LabelName(l)));
    }
  } else {
    // Implicit: ellipsis dims, then the letters seen once, in ASCII order.
    for (int64_t j = 0; j < width; ++j) out.push_back(kEllipsisBase + static_cast<int>(j));
    std::map<int, int> count;
    for (const auto& t : terms)
      for (int l : t.letters) ++count[l];
    for (auto [l, c] : count)
      if (c == 1) out.push_back(l);
  }
  auto in_out = [&](int l) { return std::find(out.begin(), out.end(), l) != out.end(); };

  Instruction* y;
  std::vector<int> y_labels;
  if (ops.size() == 1) {
    RETURN_IF_ERROR(SumOut(ctx, &ops[0], in_out));
    y = ops[0].x;
    y_labels = ops[0].labels;
  } else {
    Operand& a = ops[0];
    Operand& b = ops[1];
    RETURN_IF_ERROR(SumOut(ctx, &a, [&](int l) { return in_out(l) || b.Has(l); }));
    RETURN_IF_ERROR(SumOut(ctx, &b, [&](int l) { return in_out(l) || a.Has(l); }));
    std::vector<int> batch, free_a, free_b, contract;
    for (int l : out) {
      if (a.Has(l) && b.Has(l)) {
        batch.push_back(l);
      } else if (a.Has(l)) {
        free_a.push_back(l);
      } else {
        free_b.push_back(l);
      }
    }
    for (int l : a.labels)
      if (b.Has(l) && !in_out(l)) contract.push_back(l);
    int64_t nb = SizeOf(a, batch), m = SizeOf(a, free_a), k = SizeOf(a, contract), n = SizeOf(b, free_b);
    auto cat = [](std::vector<int> x, const std::vector<int>& y2, const std::vector<int>& z) {
      x.insert(x.end(), y2.begin(), y2.end());
      x.insert(x.end(), z.begin(), z.end());
      return x;
    };
    ASSIGN_OR_RETURN(Instruction * a2, TransposeTo(ctx, a, cat(batch, free_a, contract)));
    ASSIGN_OR_RETURN(Instruction * b2, TransposeTo(ctx, b, cat(batch, contract, free_b)));
    DotDims dd;
    if (batch.empty()) {
      ASSIGN_OR_RETURN(a2, ctx.Reshape(a2, {m, k}));
      ASSIGN_OR_RETURN(b2, ctx.Reshape(b2, {k, n}));
      dd.lhs_contracting = {1};
      dd.rhs_contracting = {0};
    } else {
      ASSIGN_OR_RETURN(a2, ctx.Reshape(a2, {nb, m, k}));
      ASSIGN_OR_RETURN(b2, ctx.Reshape(b2, {nb, k, n}));
      dd.lhs_batch = {0};
      dd.rhs_batch = {0};
      dd.lhs_contracting = {2};
      dd.rhs_contracting = {1};
    }
    ASSIGN_OR_RETURN(y, ctx.b().Dot(a2, b2, dd));
    y_labels = cat(batch, free_a, free_b);
    std::vector<int64_t> dims;
    for (int l : y_labels) dims.push_back(a.Has(l) ? a.DimOf(l) : b.DimOf(l));
    ASSIGN_OR_RETURN(y, ctx.Reshape(y, dims));
  }
  ASSIGN_OR_RETURN(y, TransposeTo(ctx, Operand{y, y_labels}, out));
  ctx.SetOutput(0, y);
  return OkStatus();
}

}  // namespace

void RegisterEinsumOps(OpTable& t) { t["Einsum"] = Einsum; }

}  // namespace xtpu::onnx_import
