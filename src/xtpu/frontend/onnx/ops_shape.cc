// ONNX shape and data-movement ops: Shape, Size, Reshape, Flatten,
// Transpose, Squeeze, Unsqueeze, Concat, Split, Slice, Gather, Expand, Tile,
// Pad, Range, ConstantOfShape, Constant, Identity, Hann/Hamming/BlackmanWindow.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "xtpu/frontend/onnx/import_context.h"

namespace xtpu::onnx_import {

namespace {

std::string Dims(const std::vector<int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ",")); }

StatusOr<Instruction*> S64Vector(ImportContext& ctx, const std::vector<int64_t>& v) {
  return ctx.b().Constant(Literal::FromVector(DType::kS64, {static_cast<int64_t>(v.size())}, v));
}

Status ShapeOp(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  const auto& d = x->shape.dims;
  int64_t r = x->shape.rank();
  ASSIGN_OR_RETURN(int64_t start, ctx.Int("start", 0));
  ASSIGN_OR_RETURN(int64_t end, ctx.Int("end", r));
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  std::vector<int64_t> v;
  for (int64_t i = start; i < end; ++i) v.push_back(d[i]);
  ASSIGN_OR_RETURN(Instruction * c, S64Vector(ctx, v));
  ctx.SetOutput(0, c);
  return OkStatus();
}

Status Size(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * c, ctx.b().Constant(Literal::ScalarS64(x->shape.num_elements())));
  ctx.SetOutput(0, c);
  return OkStatus();
}

Status Identity(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ctx.SetOutput(0, x);
  return OkStatus();
}

Status ReshapeOp(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  std::vector<int64_t> shape;
  if (ctx.opset() < 5) {
    ASSIGN_OR_RETURN(shape, ctx.Ints("shape"));
  } else {
    ASSIGN_OR_RETURN(shape, ctx.ConstantInts(1, "shape"));
  }
  ASSIGN_OR_RETURN(int64_t allowzero, ctx.Int("allowzero", 0));
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allowzero) {
      if (i >= x->shape.dims.size()) return ctx.Error("shape {} copies a dim x lacks", Dims(shape));
      shape[i] = x->shape.dims[i];
    }
    if (shape[i] == -1) {
      if (infer >= 0) return ctx.Error("shape {} has more than one -1", Dims(shape));
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      return ctx.Error("shape {} has a negative dim", Dims(shape));
    } else if (!CheckedMul(known, shape[i], &known) || known > kMaxTensorElements) {
      return ctx.Error("shape {} is too large", Dims(shape));
    }
  }
  int64_t n = x->shape.num_elements();
  if (infer >= 0) {
    if (known == 0 || n % known != 0)
      return ctx.Error("cannot reshape {} to {}", x->shape.ToString(), Dims(shape));
    shape[infer] = n / known;
  }
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Reshape(x, shape));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Flatten(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", 1));
  int64_t r = x->shape.rank();
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) return ctx.Error("axis is out of range for rank {}", r);
  int64_t a = 1, b = 1;
  for (int64_t i = 0; i < r; ++i) (i < axis ? a : b) *= x->shape.dims[i];
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Reshape(x, {a, b}));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status TransposeOp(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  int64_t r = x->shape.rank();
  std::vector<int64_t> def(r);
  for (int64_t i = 0; i < r; ++i) def[i] = r - 1 - i;
  ASSIGN_OR_RETURN(auto perm, ctx.Ints("perm", def));
  if (static_cast<int64_t>(perm.size()) != r)
    return ctx.Error("attribute 'perm' = {} does not have {} entries", Dims(perm), r);
  std::vector<bool> seen(r, false);
  const std::vector<int64_t> given = perm;
  for (auto& p : perm) {
    ASSIGN_OR_RETURN(p, ctx.NormalizeAxis(p, r, "perm entry"));
    if (seen[p]) return ctx.Error("attribute 'perm' = {} is not a permutation", Dims(given));
    seen[p] = true;
  }
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Transpose(x, perm));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// Axes from the attribute (before `input_opset`) or input 1.
StatusOr<std::vector<int64_t>> AxesArg(ImportContext& ctx, int64_t input_opset, bool* given) {
  std::vector<int64_t> axes;
  *given = false;
  if (ctx.opset() < input_opset) {
    *given = ctx.HasAttr("axes");
    ASSIGN_OR_RETURN(axes, ctx.Ints("axes"));
  } else if (ctx.has_input(1)) {
    *given = true;
    ASSIGN_OR_RETURN(axes, ctx.ConstantInts(1, "axes"));
  }
  return axes;
}

Status Squeeze(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  bool given;
  ASSIGN_OR_RETURN(auto axes, AxesArg(ctx, 13, &given));
  int64_t r = x->shape.rank();
  std::vector<bool> drop(r, false);
  if (!given) {
    for (int64_t i = 0; i < r; ++i) drop[i] = x->shape.dims[i] == 1;
  }
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int64_t ax, ctx.NormalizeAxis(a, r, "axis"));
    if (x->shape.dims[ax] != 1) return ctx.Error("cannot squeeze dim {} of size {}", ax, x->shape.dims[ax]);
    drop[ax] = true;
  }
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < r; ++i)
    if (!drop[i]) dims.push_back(x->shape.dims[i]);
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Reshape(x, dims));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Unsqueeze(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  bool given;
  ASSIGN_OR_RETURN(auto axes, AxesArg(ctx, 13, &given));
  if (!given) return ctx.Error("axes are required");
  int64_t r = x->shape.rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(r, false);
  for (int64_t a : axes) {
    ASSIGN_OR_RETURN(int64_t ax, ctx.NormalizeAxis(a, r, "axis"));
    if (inserted[ax]) return ctx.Error("axis {} appears twice", a);
    inserted[ax] = true;
  }
  std::vector<int64_t> dims;
  size_t k = 0;
  for (int64_t i = 0; i < r; ++i) dims.push_back(inserted[i] ? 1 : x->shape.dims[k++]);
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Reshape(x, dims));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Concat(ImportContext& ctx) {
  std::vector<Instruction*> xs;
  for (int i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(i));
    xs.push_back(x);
  }
  if (xs.empty()) return ctx.Error("needs at least one input");
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", 0));
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, xs[0]->shape.rank(), "axis"));
  // Zero-sized inputs (shape chains) contribute nothing.
  std::vector<Instruction*> nonempty;
  for (Instruction* x : xs)
    if (x->shape.num_elements() > 0) nonempty.push_back(x);
  if (nonempty.empty()) nonempty.push_back(xs[0]);
  Instruction* y;
  if (nonempty.size() == 1) {
    ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kCopy, nonempty[0]));
  } else {
    ASSIGN_OR_RETURN(y, ctx.b().Concatenate(nonempty, axis));
  }
  ctx.SetOutput(0, y);
  return OkStatus();
}

StatusOr<Instruction*> SliceAxis(ImportContext& ctx, Instruction* x, int64_t axis, int64_t start,
                                 int64_t limit) {
  std::vector<int64_t> starts(x->shape.rank(), 0), limits = x->shape.dims,
                                                  strides(x->shape.rank(), 1);
  starts[axis] = start;
  limits[axis] = limit;
  return ctx.b().Slice(x, starts, limits, strides);
}

Status Split(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", 0));
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, x->shape.rank(), "axis"));
  std::vector<int64_t> split;
  if (ctx.opset() < 13) {
    ASSIGN_OR_RETURN(split, ctx.Ints("split"));
  } else if (ctx.has_input(1)) {
    ASSIGN_OR_RETURN(split, ctx.ConstantInts(1, "split"));
  }
  ASSIGN_OR_RETURN(int64_t num_outputs, ctx.Int("num_outputs", ctx.num_outputs()));
  int64_t d = x->shape.dims[axis];
  if (split.empty()) {
    int64_t n = num_outputs;
    if (n < 1 || n != ctx.num_outputs())
      return ctx.Error("attribute 'num_outputs' = {} must be >= 1 and match the node's {} outputs",
                       n, ctx.num_outputs());
    int64_t chunk = (d + n - 1) / n;
    for (int64_t i = 0; i < n; ++i) split.push_back(std::max<int64_t>(0, std::min(chunk, d - i * chunk)));
  }
  if (static_cast<int>(split.size()) != ctx.num_outputs())
    return ctx.Error("split has {} parts but the node has {} outputs", split.size(), ctx.num_outputs());
  int64_t total = 0;
  for (int64_t part : split) {
    if (part < 0 || !CheckedAdd(total, part, &total))
      return ctx.Error("split {} has a negative or too large part", Dims(split));
  }
  if (total != d)
    return ctx.Error("split {} does not add up to dim {} of size {}", Dims(split), axis, d);
  int64_t pos = 0;
  for (size_t i = 0; i < split.size(); ++i) {
    if (ctx.has_output(static_cast<int>(i))) {
      ASSIGN_OR_RETURN(Instruction * y, SliceAxis(ctx, x, axis, pos, pos + split[i]));
      ctx.SetOutput(static_cast<int>(i), y);
    }
    pos += split[i];
  }
  return OkStatus();
}

Status SliceOp(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  int64_t r = x->shape.rank();
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    ASSIGN_OR_RETURN(starts, ctx.Ints("starts"));
    ASSIGN_OR_RETURN(ends, ctx.Ints("ends"));
    ASSIGN_OR_RETURN(axes, ctx.Ints("axes"));
  } else {
    ASSIGN_OR_RETURN(starts, ctx.ConstantInts(1, "starts"));
    ASSIGN_OR_RETURN(ends, ctx.ConstantInts(2, "ends"));
    if (ctx.has_input(3)) { ASSIGN_OR_RETURN(axes, ctx.ConstantInts(3, "axes")); }
    if (ctx.has_input(4)) { ASSIGN_OR_RETURN(steps, ctx.ConstantInts(4, "steps")); }
  }
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    return ctx.Error("starts, ends, axes and steps must have the same length");
  std::vector<int64_t> lo(r, 0), hi = x->shape.dims, st(r, 1);
  std::vector<int64_t> reversed;
  for (size_t i = 0; i < starts.size(); ++i) {
    ASSIGN_OR_RETURN(int64_t a, ctx.NormalizeAxis(axes[i], r, "axis"));
    int64_t d = x->shape.dims[a];
    int64_t s = starts[i], e = ends[i], step = steps[i];
    if (step == 0 || step == std::numeric_limits<int64_t>::min())
      return ctx.Error("step {} on axis {} is not supported", step, a);
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (step > 0) {
      s = std::clamp<int64_t>(s, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      lo[a] = s;
      hi[a] = std::max(s, e);
      st[a] = step;
    } else {
      // Walk the reversed axis: index i there is d-1-i here.
      s = std::clamp<int64_t>(s, -1, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      reversed.push_back(a);
      lo[a] = d - 1 - s;
      hi[a] = std::max(lo[a], d - 1 - e);
      st[a] = -step;
    }
  }
  Instruction* y = x;
  if (!reversed.empty()) { ASSIGN_OR_RETURN(y, ctx.b().Reverse(x, reversed)); }
  ASSIGN_OR_RETURN(y, ctx.b().Slice(y, lo, hi, st));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status GatherOp(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * idx, ctx.Input(1));
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", 0));
  int64_t r = x->shape.rank();
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, r, "axis"));
  int64_t d = x->shape.dims[axis];
  if (!IsInteger(idx->shape.dtype)) return ctx.Error("indices must be integers");
  if (const Literal* c = ctx.InputConstant(1)) {
    // Constant indices: check and wrap negatives now.
    Literal fixed(Shape(DType::kS64, c->shape().dims));
    for (int64_t i = 0; i < c->num_elements(); ++i) {
      int64_t v = c->GetAsInt64(i);
      if (v < -d || v >= d) return ctx.Error("index {} is out of range for dim {} of size {}", v, axis, d);
      fixed.SetFromInt64(i, v < 0 ? v + d : v);
    }
    ASSIGN_OR_RETURN(idx, ctx.b().Constant(std::move(fixed)));
  } else {
    ASSIGN_OR_RETURN(Instruction * zero, ctx.FullLike(idx, 0));
    ASSIGN_OR_RETURN(Instruction * dd, ctx.FullLike(idx, static_cast<double>(d)));
    ASSIGN_OR_RETURN(Instruction * neg, ctx.b().Compare(CompareDirection::kLt, idx, zero));
    ASSIGN_OR_RETURN(Instruction * wrapped, ctx.b().Binary(Opcode::kAdd, idx, dd));
    ASSIGN_OR_RETURN(idx, ctx.b().Select(neg, wrapped, idx));
  }
  int64_t q = idx->shape.rank();
  GatherDims g;
  for (int64_t i = 0; i < axis; ++i) g.offset_dims.push_back(i);
  for (int64_t i = axis + 1; i < r; ++i) g.offset_dims.push_back(i - 1 + q);
  g.collapsed_slice_dims = {axis};
  g.start_index_map = {axis};
  g.index_vector_dim = q;
  std::vector<int64_t> sizes = x->shape.dims;
  sizes[axis] = 1;
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Gather(x, idx, g, sizes));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Expand(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(auto shape, ctx.ConstantInts(1, "shape"));
  ASSIGN_OR_RETURN(auto dims, ctx.BroadcastDims(x->shape.dims, shape));
  ASSIGN_OR_RETURN(Instruction * y, ctx.BroadcastTo(x, dims));
  if (y == x) { ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kCopy, x)); }
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Tile(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(auto reps, ctx.ConstantInts(1, "repeats"));
  int64_t r = x->shape.rank();
  if (static_cast<int64_t>(reps.size()) != r)
    return ctx.Error("repeats has {} entries for rank {}", reps.size(), r);
  // Broadcast to [r0, d0, r1, d1, ...] then merge pairs.
  std::vector<int64_t> big, map, out;
  for (int64_t i = 0; i < r; ++i) {
    if (reps[i] < 0) return ctx.Error("negative repeat {}", reps[i]);
    int64_t o = 0;
    if (!CheckedMul(reps[i], x->shape.dims[i], &o) || o > kMaxTensorElements)
      return ctx.Error("repeats {} make {} too large", Dims(reps), x->shape.ToString());
    big.push_back(reps[i]);
    big.push_back(x->shape.dims[i]);
    map.push_back(2 * i + 1);
    out.push_back(o);
  }
  RETURN_IF_ERROR(ctx.ElementCount(out, "output shape").status());
  ASSIGN_OR_RETURN(Instruction * b, ctx.b().Broadcast(x, big, map));
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Reshape(b, out));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status PadOp(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  int64_t r = x->shape.rank();
  ASSIGN_OR_RETURN(std::string mode, ctx.String("mode", "constant"));
  std::vector<int64_t> pads, axes;
  double value = 0;
  if (ctx.opset() < 11) {
    ASSIGN_OR_RETURN(pads, ctx.Ints("pads"));
    ASSIGN_OR_RETURN(float v, ctx.Float("value", 0.0f));
    value = v;
  } else {
    ASSIGN_OR_RETURN(pads, ctx.ConstantInts(1, "pads"));
    if (ctx.has_input(2)) { ASSIGN_OR_RETURN(value, ctx.ConstantScalar(2, "constant_value")); }
    if (ctx.has_input(3)) { ASSIGN_OR_RETURN(axes, ctx.ConstantInts(3, "axes")); }
  }
  if (axes.empty())
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  if (pads.size() != 2 * axes.size())
    return ctx.Error("pads has {} entries, expected {}", pads.size(), 2 * axes.size());
  for (int64_t p : pads) {
    if (p < -kMaxTensorElements || p > kMaxTensorElements)
      return ctx.Error("pads {} are out of range [-2^31, 2^31]", Dims(pads));
  }
  std::vector<PadDim> pd(r);
  for (size_t i = 0; i < axes.size(); ++i) {
    ASSIGN_OR_RETURN(int64_t a, ctx.NormalizeAxis(axes[i], r, "axis"));
    pd[a].lo = pads[i];
    pd[a].hi = pads[i + axes.size()];
  }
  Instruction* y = x;
  if (mode == "constant") {
    ASSIGN_OR_RETURN(Instruction * pv, ctx.ScalarConstant(x->shape.dtype, value));
    ASSIGN_OR_RETURN(y, ctx.b().Pad(x, pv, pd));
  } else if (mode == "reflect" || mode == "edge") {
    for (int64_t a = 0; a < r; ++a) {
      int64_t lo = pd[a].lo, hi = pd[a].hi, d = y->shape.dims[a];
      if (lo < 0 || hi < 0) return ctx.Unimplemented("negative pads with mode '{}'", mode);
      if (lo == 0 && hi == 0) continue;
      std::vector<Instruction*> parts;
      if (mode == "edge") {
        ASSIGN_OR_RETURN(Instruction * first, SliceAxis(ctx, y, a, 0, 1));
        ASSIGN_OR_RETURN(Instruction * last, SliceAxis(ctx, y, a, d - 1, d));
        auto dims_lo = y->shape.dims, dims_hi = y->shape.dims;
        dims_lo[a] = lo;
        dims_hi[a] = hi;
        if (lo > 0) { ASSIGN_OR_RETURN(Instruction * p, ctx.BroadcastTo(first, dims_lo)); parts.push_back(p); }
        parts.push_back(y);
        if (hi > 0) { ASSIGN_OR_RETURN(Instruction * p, ctx.BroadcastTo(last, dims_hi)); parts.push_back(p); }
      } else {
        if (lo >= d || hi >= d) return ctx.Error("reflect pads must be smaller than dim {} ({})", a, d);
        if (lo > 0) {
          ASSIGN_OR_RETURN(Instruction * s, SliceAxis(ctx, y, a, 1, lo + 1));
          ASSIGN_OR_RETURN(s, ctx.b().Reverse(s, {a}));
          parts.push_back(s);
        }
        parts.push_back(y);
        if (hi > 0) {
          ASSIGN_OR_RETURN(Instruction * s, SliceAxis(ctx, y, a, d - 1 - hi, d - 1));
          ASSIGN_OR_RETURN(s, ctx.b().Reverse(s, {a}));
          parts.push_back(s);
        }
      }
      ASSIGN_OR_RETURN(y, ctx.b().Concatenate(parts, a));
    }
    if (y == x) { ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kCopy, x)); }
  } else {
    return ctx.UnsupportedAttr("mode", "'" + mode + "'");
  }
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status Range(ImportContext& ctx) {
  ASSIGN_OR_RETURN(const Literal* start, ctx.ConstantInput(0, "start"));
  ASSIGN_OR_RETURN(const Literal* limit, ctx.ConstantInput(1, "limit"));
  ASSIGN_OR_RETURN(const Literal* delta, ctx.ConstantInput(2, "delta"));
  DType t = start->dtype();
  if (start->num_elements() != 1 || limit->num_elements() != 1 || delta->num_elements() != 1)
    return ctx.Error("start, limit and delta must be scalars");
  if (limit->dtype() != t || delta->dtype() != t || t == DType::kPred)
    return ctx.Error("start, limit and delta must have one numeric type");
  // n = max(0, ceil((limit - start) / delta)), computed without overflow.
  int64_t n = 0;
  double sf = start->GetAsDouble(0), lf = limit->GetAsDouble(0), df = delta->GetAsDouble(0);
  int64_t si = start->GetAsInt64(0), li = limit->GetAsInt64(0), di = delta->GetAsInt64(0);
  if (IsFloat(t)) {
    if (!std::isfinite(sf) || !std::isfinite(lf) || !std::isfinite(df))
      return ctx.Error("start {}, limit {} and delta {} must be finite", sf, lf, df);
    if (df == 0) return ctx.Error("delta is 0");
    double nd = std::ceil((lf - sf) / df);
    if (!(nd <= static_cast<double>(kMaxTensorElements)))
      return ctx.Error("range [{}, {}) step {} is too large", sf, lf, df);
    n = nd > 0 ? static_cast<int64_t>(nd) : 0;
  } else {
    if (di == 0) return ctx.Error("delta is 0");
    __int128 diff = static_cast<__int128>(li) - si;
    __int128 q = diff / di;
    if (diff % di != 0 && ((diff < 0) == (di < 0))) q += 1;  // ceil
    if (q > kMaxTensorElements)
      return ctx.Error("range [{}, {}) step {} is too large", si, li, di);
    n = q > 0 ? static_cast<int64_t>(q) : 0;
  }
  Instruction* y;
  if (n <= kMaxConstantElements) {
    Literal out(Shape(t, {n}));
    for (int64_t i = 0; i < n; ++i) {
      if (IsFloat(t)) out.SetFromDouble(i, sf + static_cast<double>(i) * df);
      else out.SetFromInt64(i, static_cast<int64_t>(si + static_cast<__int128>(i) * di));
    }
    ASSIGN_OR_RETURN(y, ctx.b().Constant(std::move(out)));
  } else {
    // Large ranges stay symbolic: start + iota * delta.
    ASSIGN_OR_RETURN(Instruction * iota, ctx.b().Iota(Shape(t, {n}), 0));
    ASSIGN_OR_RETURN(Instruction * d, ctx.b().Constant(*delta));
    ASSIGN_OR_RETURN(Instruction * s0, ctx.b().Constant(*start));
    ASSIGN_OR_RETURN(d, ctx.Reshape(d, {}));
    ASSIGN_OR_RETURN(s0, ctx.Reshape(s0, {}));
    ASSIGN_OR_RETURN(y, ctx.Binary(Opcode::kMultiply, iota, d));
    ASSIGN_OR_RETURN(y, ctx.Binary(Opcode::kAdd, y, s0));
  }
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status ConstantOfShape(ImportContext& ctx) {
  ASSIGN_OR_RETURN(auto shape, ctx.ConstantInts(0, "shape"));
  Literal value = Literal::ScalarF32(0);
  if (ctx.HasAttr("value")) { ASSIGN_OR_RETURN(value, ctx.Tensor("value")); }
  if (value.num_elements() != 1) return ctx.Error("attribute 'value' must have one element");
  ASSIGN_OR_RETURN(int64_t n, ctx.ElementCount(shape, "shape"));
  Instruction* y;
  if (n <= 65536) {
    Literal out(Shape(value.dtype(), shape));
    const auto& vb = value.bytes();
    for (int64_t i = 0; i < n; ++i)
      std::memcpy(out.mutable_bytes().data() + i * vb.size(), vb.data(), vb.size());
    ASSIGN_OR_RETURN(y, ctx.b().Constant(std::move(out)));
  } else {
    ASSIGN_OR_RETURN(Instruction * s, ctx.b().Constant(Literal(Shape(value.dtype(), {}), value.bytes())));
    ASSIGN_OR_RETURN(y, ctx.b().Broadcast(s, shape, {}));
  }
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status ConstantOp(ImportContext& ctx) {
  Literal v;
  int found = 0;
  if (ctx.HasAttr("value")) {
    ++found;
    ASSIGN_OR_RETURN(v, ctx.Tensor("value"));
  }
  if (ctx.HasAttr("value_float")) {
    ++found;
    ASSIGN_OR_RETURN(float f, ctx.Float("value_float", 0));
    v = Literal::ScalarF32(f);
  }
  if (ctx.HasAttr("value_int")) {
    ++found;
    ASSIGN_OR_RETURN(int64_t i, ctx.Int("value_int", 0));
    v = Literal::ScalarS64(i);
  }
  if (ctx.HasAttr("value_floats")) {
    ++found;
    ASSIGN_OR_RETURN(auto fs, ctx.Floats("value_floats"));
    v = Literal::FromVector(DType::kF32, {static_cast<int64_t>(fs.size())}, fs);
  }
  if (ctx.HasAttr("value_ints")) {
    ++found;
    ASSIGN_OR_RETURN(auto is, ctx.Ints("value_ints"));
    v = Literal::FromVector(DType::kS64, {static_cast<int64_t>(is.size())}, is);
  }
  if (found != 1) {
    for (const char* a : {"sparse_value", "value_string", "value_strings"})
      if (ctx.HasAttr(a)) return ctx.Unimplemented("attribute '{}' is not supported", a);
    return ctx.Error("needs exactly one value attribute, has {}", found);
  }
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Constant(std::move(v)));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// Keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last
// two dims, zeroing the rest.
Status Trilu(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(int64_t upper, ctx.Int("upper", 1));
  int64_t k = 0;
  if (ctx.has_input(1)) {
    ASSIGN_OR_RETURN(double kd, ctx.ConstantScalar(1, "k"));
    // Any |k| beyond the matrix size acts the same; clamping avoids overflow.
    if (std::isnan(kd)) return ctx.Error("input 1 (k) is NaN");
    k = static_cast<int64_t>(std::clamp(kd, -static_cast<double>(kMaxTensorElements),
                                        static_cast<double>(kMaxTensorElements)));
  }
  int64_t r = x->shape.rank();
  if (r < 2) return ctx.Error("input must have rank >= 2");
  Shape idx(DType::kS64, x->shape.dims);
  ASSIGN_OR_RETURN(Instruction * row, ctx.b().Iota(idx, r - 2));
  ASSIGN_OR_RETURN(Instruction * col, ctx.b().Iota(idx, r - 1));
  ASSIGN_OR_RETURN(Instruction * diff, ctx.b().Binary(Opcode::kSubtract, col, row));
  ASSIGN_OR_RETURN(Instruction * kk, ctx.Full(DType::kS64, x->shape.dims, static_cast<double>(k)));
  ASSIGN_OR_RETURN(Instruction * keep,
                   ctx.b().Compare(upper ? CompareDirection::kGe : CompareDirection::kLe, diff, kk));
  ASSIGN_OR_RETURN(Instruction * zero, ctx.FullLike(x, 0));
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Select(keep, x, zero));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// Hann/Hamming/Blackman windows of a constant size, computed at import time.
enum class WindowKind { kHann, kHamming, kBlackman };

Converter WindowOp(WindowKind kind) {
  return [kind](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(double size_v, ctx.ConstantScalar(0, "size"));
    ASSIGN_OR_RETURN(int64_t periodic, ctx.Int("periodic", 1));
    ASSIGN_OR_RETURN(int64_t odt, ctx.Int("output_datatype", onnx::TensorProto::FLOAT));
    if (odt < 0 || odt > std::numeric_limits<int32_t>::max())
      return ctx.Error("attribute 'output_datatype' = {} is not an ONNX element type", odt);
    ASSIGN_OR_RETURN(DType t, DTypeFromOnnx(static_cast<int32_t>(odt), "attribute 'output_datatype' of " + ctx.Label()));
    if (!(size_v >= 0) || size_v > static_cast<double>(kMaxConstantElements))
      return ctx.Error("size {} must be in [0, {}]", size_v, kMaxConstantElements);
    int64_t n = static_cast<int64_t>(size_v);
    double denom = periodic ? static_cast<double>(n) : static_cast<double>(n - 1);
    std::vector<double> w(n);
    for (int64_t i = 0; i < n; ++i) {
      double x = denom > 0 ? 2 * M_PI * i / denom : 0.0;
      switch (kind) {
        case WindowKind::kHann: w[i] = 0.5 - 0.5 * std::cos(x); break;
        case WindowKind::kHamming: w[i] = 25.0 / 46.0 - 21.0 / 46.0 * std::cos(x); break;
        case WindowKind::kBlackman: w[i] = 0.42 - 0.5 * std::cos(x) + 0.08 * std::cos(2 * x); break;
      }
    }
    ASSIGN_OR_RETURN(Instruction * y, ctx.b().Constant(Literal::FromVector(t, {n}, w)));
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

}  // namespace

void RegisterShapeOps(OpTable& t) {
  t["Shape"] = ShapeOp;
  t["Size"] = Size;
  t["Identity"] = Identity;
  t["Reshape"] = ReshapeOp;
  t["Flatten"] = Flatten;
  t["Transpose"] = TransposeOp;
  t["Squeeze"] = Squeeze;
  t["Unsqueeze"] = Unsqueeze;
  t["Concat"] = Concat;
  t["Split"] = Split;
  t["Slice"] = SliceOp;
  t["Gather"] = GatherOp;
  t["Expand"] = Expand;
  t["Tile"] = Tile;
  t["Pad"] = PadOp;
  t["Range"] = Range;
  t["ConstantOfShape"] = ConstantOfShape;
  t["Constant"] = ConstantOp;
  t["Trilu"] = Trilu;
  t["HannWindow"] = WindowOp(WindowKind::kHann);
  t["HammingWindow"] = WindowOp(WindowKind::kHamming);
  t["BlackmanWindow"] = WindowOp(WindowKind::kBlackman);
}

}  // namespace xtpu::onnx_import
