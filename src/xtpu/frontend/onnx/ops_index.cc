// ONNX indexing and layout ops built from gather, compares and dynamic
// slices: GatherElements, GatherND, ScatterElements/Scatter, ScatterND,
// OneHot, EyeLike, Hardmax, DepthToSpace, SpaceToDepth, Compress,
// ReverseSequence, MaxUnpool.
#include <algorithm>
#include <limits>
#include <optional>
#include <numeric>

#include "xtpu/frontend/onnx/import_context.h"

namespace xtpu::onnx_import {

namespace {

std::string Dims(const std::vector<int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ",")); }

// Scatters are unrolled into one dynamic-update-slice per index tuple; more
// than this many would make a huge graph.
constexpr int64_t kMaxScatterUpdates = 4096;

// idx (s64) with negative entries wrapped: idx < 0 ? idx + size : idx, where
// `size` has idx's shape.
StatusOr<Instruction*> Wrap(ImportContext& ctx, Instruction* idx, Instruction* size) {
  ASSIGN_OR_RETURN(Instruction * zero, ctx.FullLike(idx, 0));
  ASSIGN_OR_RETURN(Instruction * neg, ctx.b().Compare(CompareDirection::kLt, idx, zero));
  ASSIGN_OR_RETURN(Instruction * wrapped, ctx.b().Binary(Opcode::kAdd, idx, size));
  return ctx.b().Select(neg, wrapped, idx);
}

StatusOr<Instruction*> IndicesInput(ImportContext& ctx, int i) {
  ASSIGN_OR_RETURN(Instruction * idx, ctx.Input(i));
  if (!IsInteger(idx->shape.dtype))
    return ctx.Error("input {} (indices) must be integers, got {}", i, DTypeName(idx->shape.dtype));
  return ctx.Convert(idx, DType::kS64);
}

// For indices of shape D and an axis of x: the full coordinates [D..., r]
// where component `axis` is the (wrapped) index and the others are iotas.
StatusOr<Instruction*> ElementCoords(ImportContext& ctx, Instruction* x, Instruction* idx, int64_t axis) {
  int64_t r = x->shape.rank();
  std::vector<int64_t> d1 = idx->shape.dims;
  d1.push_back(1);
  ASSIGN_OR_RETURN(Instruction * size, ctx.FullLike(idx, static_cast<double>(x->shape.dims[axis])));
  ASSIGN_OR_RETURN(Instruction * w, Wrap(ctx, idx, size));
  std::vector<Instruction*> parts;
  for (int64_t k = 0; k < r; ++k) {
    Instruction* c;
    if (k == axis) {
      c = w;
    } else {
      ASSIGN_OR_RETURN(c, ctx.b().Iota(Shape(DType::kS64, idx->shape.dims), k));
    }
    ASSIGN_OR_RETURN(c, ctx.Reshape(c, d1));
    parts.push_back(c);
  }
  return ctx.b().Concatenate(parts, static_cast<int64_t>(d1.size()) - 1);
}

// Gathers single elements of x at coords [..., r] (all dims collapsed).
StatusOr<Instruction*> GatherPoints(ImportContext& ctx, Instruction* x, Instruction* coords) {
  int64_t r = x->shape.rank();
  GatherDims g;
  for (int64_t k = 0; k < r; ++k) {
    g.collapsed_slice_dims.push_back(k);
    g.start_index_map.push_back(k);
  }
  g.index_vector_dim = coords->shape.rank() - 1;
  return ctx.b().Gather(x, coords, g, std::vector<int64_t>(r, 1));
}

Status GatherElements(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * idx, IndicesInput(ctx, 1));
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", 0));
  int64_t r = x->shape.rank();
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, r, "axis"));
  if (idx->shape.rank() != r)
    return ctx.Error("indices {} must have the rank of data {}", idx->shape.ToString(), x->shape.ToString());
  for (int64_t k = 0; k < r; ++k)
    if (k != axis && idx->shape.dims[k] > x->shape.dims[k])
      return ctx.Error("indices {} exceed data {} in dim {}", idx->shape.ToString(), x->shape.ToString(), k);
  ASSIGN_OR_RETURN(Instruction * coords, ElementCoords(ctx, x, idx, axis));
  ASSIGN_OR_RETURN(Instruction * y, GatherPoints(ctx, x, coords));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// GatherND/ScatterND coordinates: indices [..., k] with negatives wrapped by
// data dims [b, b+k) and, for batch_dims b, the batch iotas prepended.
StatusOr<Instruction*> NdCoords(ImportContext& ctx, Instruction* x, Instruction* idx, int64_t b) {
  int64_t q = idx->shape.rank();
  int64_t k = idx->shape.dims[q - 1];
  std::vector<int64_t> sizes(x->shape.dims.begin() + b, x->shape.dims.begin() + b + k);
  ASSIGN_OR_RETURN(Instruction * sv, ctx.b().Constant(Literal::FromVector(DType::kS64, {k}, sizes)));
  ASSIGN_OR_RETURN(sv, ctx.b().Broadcast(sv, idx->shape.dims, {q - 1}));
  ASSIGN_OR_RETURN(Instruction * w, Wrap(ctx, idx, sv));
  if (b == 0) return w;
  std::vector<Instruction*> parts;
  std::vector<int64_t> d1 = idx->shape.dims;
  d1.back() = 1;
  for (int64_t i = 0; i < b; ++i) {
    ASSIGN_OR_RETURN(Instruction * io, ctx.b().Iota(Shape(DType::kS64, d1), i));
    parts.push_back(io);
  }
  parts.push_back(w);
  return ctx.b().Concatenate(parts, q - 1);
}

Status GatherND(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * idx, IndicesInput(ctx, 1));
  ASSIGN_OR_RETURN(int64_t b, ctx.Int("batch_dims", 0));
  int64_t r = x->shape.rank(), q = idx->shape.rank();
  if (q < 1) return ctx.Error("indices must have rank >= 1");
  int64_t k = idx->shape.dims[q - 1];
  RETURN_IF_ERROR(ctx.CheckAttrRange("batch_dims", b, 0, std::min(r, q - 1)));
  if (b + k > r) return ctx.Error("indices {} index more dims than data {} has", idx->shape.ToString(), x->shape.ToString());
  for (int64_t i = 0; i < b; ++i)
    if (idx->shape.dims[i] != x->shape.dims[i])
      return ctx.Error("batch dim {} differs: data {} and indices {}", i, x->shape.ToString(), idx->shape.ToString());
  ASSIGN_OR_RETURN(Instruction * coords, NdCoords(ctx, x, idx, b));
  GatherDims g;
  int64_t n = b + k;
  for (int64_t i = 0; i < n; ++i) {
    g.collapsed_slice_dims.push_back(i);
    g.start_index_map.push_back(i);
  }
  for (int64_t i = n; i < r; ++i) g.offset_dims.push_back(q - 1 + i - n);
  g.index_vector_dim = q - 1;
  std::vector<int64_t> sizes(n, 1);
  sizes.insert(sizes.end(), x->shape.dims.begin() + n, x->shape.dims.end());
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Gather(x, coords, g, sizes));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// Reads `reduction` and returns its combining opcode (nullopt: replace).
StatusOr<std::optional<Opcode>> ScatterReduction(ImportContext& ctx) {
  ASSIGN_OR_RETURN(std::string red, ctx.String("reduction", "none"));
  if (red == "none") return std::optional<Opcode>();
  if (red == "add") return std::optional<Opcode>(Opcode::kAdd);
  if (red == "mul") return std::optional<Opcode>(Opcode::kMultiply);
  if (red == "max") return std::optional<Opcode>(Opcode::kMaximum);
  if (red == "min") return std::optional<Opcode>(Opcode::kMinimum);
  return ctx.UnsupportedAttr("reduction", "'" + red + "'");
}

// y = x with, for each row j of coords [M, n], the slice of `sizes` at
// coords[j] replaced by (or combined with) updates row j [M, sizes...].
StatusOr<Instruction*> UnrolledScatter(ImportContext& ctx, Instruction* x, Instruction* coords,
                                       Instruction* updates, const std::vector<int64_t>& sizes,
                                       std::optional<Opcode> reduce) {
  int64_t m = coords->shape.dims[0], n = coords->shape.dims[1];
  if (m > kMaxScatterUpdates)
    return ctx.Unimplemented("{} index tuples; at most {} are supported", m, kMaxScatterUpdates);
  Instruction* y = x;
  std::vector<int64_t> usize = {1};
  usize.insert(usize.end(), sizes.begin(), sizes.end());
  ASSIGN_OR_RETURN(Instruction * zero, ctx.ScalarConstant(DType::kS64, 0));
  for (int64_t j = 0; j < m; ++j) {
    std::vector<Instruction*> start;
    for (int64_t i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(Instruction * s, ctx.b().Slice(coords, {j, i}, {j + 1, i + 1}, {1, 1}));
      ASSIGN_OR_RETURN(s, ctx.Reshape(s, {}));
      start.push_back(s);
    }
    while (static_cast<int64_t>(start.size()) < x->shape.rank()) start.push_back(zero);
    std::vector<int64_t> ustart(usize.size(), 0), ulimit = usize;
    ustart[0] = j;
    ulimit[0] = j + 1;
    ASSIGN_OR_RETURN(Instruction * u, ctx.b().Slice(updates, ustart, ulimit, std::vector<int64_t>(usize.size(), 1)));
    ASSIGN_OR_RETURN(u, ctx.Reshape(u, sizes));
    if (reduce) {
      ASSIGN_OR_RETURN(Instruction * cur, ctx.b().DynamicSlice(y, start, sizes));
      ASSIGN_OR_RETURN(u, ctx.b().Binary(*reduce, cur, u));
    }
    ASSIGN_OR_RETURN(y, ctx.b().DynamicUpdateSlice(y, u, start));
  }
  if (y == x) { ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kCopy, x)); }
  return y;
}

Status ScatterElements(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * idx, IndicesInput(ctx, 1));
  ASSIGN_OR_RETURN(Instruction * upd, ctx.Input(2));
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", 0));
  ASSIGN_OR_RETURN(auto reduce, ScatterReduction(ctx));
  int64_t r = x->shape.rank();
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, r, "axis"));
  if (idx->shape.rank() != r || upd->shape.dims != idx->shape.dims || upd->shape.dtype != x->shape.dtype)
    return ctx.Error("indices {} and updates {} must have one shape, of data {}'s rank", idx->shape.ToString(),
                     upd->shape.ToString(), x->shape.ToString());
  ASSIGN_OR_RETURN(Instruction * coords, ElementCoords(ctx, x, idx, axis));
  int64_t m = idx->shape.num_elements();
  ASSIGN_OR_RETURN(coords, ctx.Reshape(coords, {m, r}));
  std::vector<int64_t> ud(r + 1, 1);
  ud[0] = m;
  ASSIGN_OR_RETURN(Instruction * u, ctx.Reshape(upd, ud));
  ASSIGN_OR_RETURN(Instruction * y, UnrolledScatter(ctx, x, coords, u, std::vector<int64_t>(r, 1), reduce));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status ScatterND(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * idx, IndicesInput(ctx, 1));
  ASSIGN_OR_RETURN(Instruction * upd, ctx.Input(2));
  ASSIGN_OR_RETURN(auto reduce, ScatterReduction(ctx));
  int64_t r = x->shape.rank(), q = idx->shape.rank();
  if (q < 1) return ctx.Error("indices must have rank >= 1");
  int64_t k = idx->shape.dims[q - 1];
  if (k > r) return ctx.Error("indices {} index more dims than data {} has", idx->shape.ToString(), x->shape.ToString());
  std::vector<int64_t> want(idx->shape.dims.begin(), idx->shape.dims.end() - 1);
  std::vector<int64_t> sizes(x->shape.dims.begin() + k, x->shape.dims.end());
  want.insert(want.end(), sizes.begin(), sizes.end());
  if (upd->shape.dims != want || upd->shape.dtype != x->shape.dtype)
    return ctx.Error("updates {} must be {} of {}", upd->shape.ToString(), Dims(want), DTypeName(x->shape.dtype));
  ASSIGN_OR_RETURN(Instruction * coords, NdCoords(ctx, x, idx, 0));
  int64_t m = idx->shape.num_elements() / std::max<int64_t>(k, 1);
  if (k == 0) m = idx->shape.num_elements() == 0 ? 1 : m;
  ASSIGN_OR_RETURN(coords, ctx.Reshape(coords, {m, k}));
  std::vector<int64_t> ud = {m};
  ud.insert(ud.end(), sizes.begin(), sizes.end());
  ASSIGN_OR_RETURN(Instruction * u, ctx.Reshape(upd, ud));
  std::vector<int64_t> full(k, 1);
  full.insert(full.end(), sizes.begin(), sizes.end());
  // Updates rows are [sizes...]; the written slice is [1 x k, sizes...].
  std::vector<int64_t> ud2 = {m};
  ud2.insert(ud2.end(), full.begin(), full.end());
  ASSIGN_OR_RETURN(u, ctx.Reshape(u, ud2));
  ASSIGN_OR_RETURN(Instruction * y, UnrolledScatter(ctx, x, coords, u, full, reduce));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// Scatter (opsets 9-10) is ScatterElements without `reduction`.
Status Scatter(ImportContext& ctx) { return ScatterElements(ctx); }

Status OneHot(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * idx, ctx.Input(0));
  ASSIGN_OR_RETURN(double depth_v, ctx.ConstantScalar(1, "depth"));
  ASSIGN_OR_RETURN(Instruction * values, ctx.Input(2));
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", -1));
  if (values->shape.num_elements() != 2) return ctx.Error("values {} must have 2 elements", values->shape.ToString());
  if (!(depth_v >= 1) || depth_v > static_cast<double>(kMaxTensorElements))
    return ctx.Error("depth {} must be a positive integer", depth_v);
  int64_t depth = static_cast<int64_t>(depth_v);
  int64_t r = idx->shape.rank();
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, r + 1, "axis"));
  // Non-integer indices are truncated toward zero, as ONNX casts them.
  ASSIGN_OR_RETURN(idx, ctx.Convert(idx, DType::kS64));
  ASSIGN_OR_RETURN(Instruction * dv, ctx.FullLike(idx, static_cast<double>(depth)));
  ASSIGN_OR_RETURN(idx, Wrap(ctx, idx, dv));
  std::vector<int64_t> out = idx->shape.dims;
  out.insert(out.begin() + axis, depth);
  RETURN_IF_ERROR(ctx.ElementCount(out, "output").status());
  std::vector<int64_t> keep;
  for (int64_t i = 0; i <= r; ++i)
    if (i != axis) keep.push_back(i);
  ASSIGN_OR_RETURN(Instruction * ib, ctx.b().Broadcast(idx, out, keep));
  ASSIGN_OR_RETURN(Instruction * io, ctx.b().Iota(Shape(DType::kS64, out), axis));
  ASSIGN_OR_RETURN(Instruction * hot, ctx.b().Compare(CompareDirection::kEq, ib, io));
  ASSIGN_OR_RETURN(Instruction * flat, ctx.Reshape(values, {2}));
  ASSIGN_OR_RETURN(Instruction * off, ctx.b().Slice(flat, {0}, {1}, {1}));
  ASSIGN_OR_RETURN(Instruction * on, ctx.b().Slice(flat, {1}, {2}, {1}));
  ASSIGN_OR_RETURN(off, ctx.Reshape(off, {}));
  ASSIGN_OR_RETURN(on, ctx.Reshape(on, {}));
  ASSIGN_OR_RETURN(off, ctx.b().Broadcast(off, out, {}));
  ASSIGN_OR_RETURN(on, ctx.b().Broadcast(on, out, {}));
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Select(hot, on, off));
  ctx.SetOutput(0, y);
  return OkStatus();
}

Status EyeLike(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(int64_t k, ctx.Int("k", 0));
  DType t = x->shape.dtype;
  if (ctx.HasAttr("dtype")) {
    ASSIGN_OR_RETURN(int64_t dt, ctx.Int("dtype", 0));
    if (dt < 0 || dt > std::numeric_limits<int32_t>::max())
      return ctx.Error("attribute 'dtype' = {} is not an ONNX element type", dt);
    ASSIGN_OR_RETURN(t, DTypeFromOnnx(static_cast<int32_t>(dt), "attribute 'dtype' of " + ctx.Label()));
  }
  if (x->shape.rank() != 2) return ctx.Error("input must be 2-D, got {}", x->shape.ToString());
  Shape s(DType::kS64, x->shape.dims);
  ASSIGN_OR_RETURN(Instruction * row, ctx.b().Iota(s, 0));
  ASSIGN_OR_RETURN(Instruction * col, ctx.b().Iota(s, 1));
  ASSIGN_OR_RETURN(Instruction * kk, ctx.FullLike(row, static_cast<double>(k)));
  ASSIGN_OR_RETURN(row, ctx.b().Binary(Opcode::kAdd, row, kk));
  ASSIGN_OR_RETURN(Instruction * eq, ctx.b().Compare(CompareDirection::kEq, row, col));
  ASSIGN_OR_RETURN(Instruction * y, ctx.Convert(eq, t));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// 1 at the first maximum along `axis` (opsets < 13: of the input flattened
// to 2-D at `axis`), 0 elsewhere.
Status Hardmax(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  int64_t r = x->shape.rank();
  bool legacy = ctx.opset() < 13;
  ASSIGN_OR_RETURN(int64_t axis, ctx.Int("axis", legacy ? 1 : -1));
  ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(axis, std::max<int64_t>(r, 1), "axis"));
  if (!IsFloat(x->shape.dtype)) return ctx.Error("input must be floating-point");
  Instruction* v = x;
  int64_t red = axis;
  if (legacy) {
    int64_t a = 1, b = 1;
    for (int64_t i = 0; i < r; ++i) (i < axis ? a : b) *= x->shape.dims[i];
    ASSIGN_OR_RETURN(v, ctx.Reshape(x, {a, b}));
    red = 1;
  }
  const auto& d = v->shape.dims;
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < v->shape.rank(); ++i)
    if (i != red) keep.push_back(i);
  DType t = v->shape.dtype;
  ASSIGN_OR_RETURN(Instruction * mx, ctx.Reduce(v, {red}, Opcode::kMaximum, LowestValue(t)));
  ASSIGN_OR_RETURN(mx, ctx.b().Broadcast(mx, d, keep));
  ASSIGN_OR_RETURN(Instruction * ismax, ctx.b().Compare(CompareDirection::kEq, v, mx));
  ASSIGN_OR_RETURN(Instruction * io, ctx.b().Iota(Shape(DType::kS64, d), red));
  ASSIGN_OR_RETURN(Instruction * big, ctx.FullLike(io, static_cast<double>(d[red])));
  ASSIGN_OR_RETURN(Instruction * cand, ctx.b().Select(ismax, io, big));
  ASSIGN_OR_RETURN(Instruction * first, ctx.Reduce(cand, {red}, Opcode::kMinimum, HighestValue(DType::kS64)));
  ASSIGN_OR_RETURN(first, ctx.b().Broadcast(first, d, keep));
  ASSIGN_OR_RETURN(Instruction * hot, ctx.b().Compare(CompareDirection::kEq, io, first));
  ASSIGN_OR_RETURN(Instruction * y, ctx.Convert(hot, t));
  ASSIGN_OR_RETURN(y, ctx.Reshape(y, x->shape.dims));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// DepthToSpace / SpaceToDepth as reshape, transpose, reshape on NCHW.
Converter BlockRearrange(bool to_space) {
  return [to_space](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
    ASSIGN_OR_RETURN(int64_t bs, ctx.Int("blocksize", 0));
    std::string mode = "DCR";
    if (to_space) { ASSIGN_OR_RETURN(mode, ctx.String("mode", "DCR")); }
    if (!ctx.HasAttr("blocksize")) return ctx.Error("attribute 'blocksize' is required");
    RETURN_IF_ERROR(ctx.CheckAttrRange("blocksize", bs, 1, 1 << 20));
    if (mode != "DCR" && mode != "CRD") return ctx.UnsupportedAttr("mode", "'" + mode + "'");
    if (x->shape.rank() != 4) return ctx.Error("input must be 4-D (NCHW), got {}", x->shape.ToString());
    int64_t n = x->shape.dims[0], c = x->shape.dims[1], h = x->shape.dims[2], w = x->shape.dims[3];
    Instruction* y;
    if (to_space) {
      if (c % (bs * bs) != 0) return ctx.Error("channels {} are not a multiple of blocksize^2 = {}", c, bs * bs);
      int64_t c2 = c / (bs * bs);
      if (mode == "DCR") {
        ASSIGN_OR_RETURN(y, ctx.Reshape(x, {n, bs, bs, c2, h, w}));
        ASSIGN_OR_RETURN(y, ctx.b().Transpose(y, {0, 3, 4, 1, 5, 2}));
      } else {
        ASSIGN_OR_RETURN(y, ctx.Reshape(x, {n, c2, bs, bs, h, w}));
        ASSIGN_OR_RETURN(y, ctx.b().Transpose(y, {0, 1, 4, 2, 5, 3}));
      }
      ASSIGN_OR_RETURN(y, ctx.Reshape(y, {n, c2, h * bs, w * bs}));
    } else {
      if (h % bs != 0 || w % bs != 0)
        return ctx.Error("spatial dims {}x{} are not multiples of blocksize {}", h, w, bs);
      ASSIGN_OR_RETURN(y, ctx.Reshape(x, {n, c, h / bs, bs, w / bs, bs}));
      ASSIGN_OR_RETURN(y, ctx.b().Transpose(y, {0, 3, 5, 1, 2, 4}));
      ASSIGN_OR_RETURN(y, ctx.Reshape(y, {n, c * bs * bs, h / bs, w / bs}));
    }
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

// x's entries at constant positions `idx` along `axis`.
StatusOr<Instruction*> TakeAlongAxis(ImportContext& ctx, Instruction* x, int64_t axis, const std::vector<int64_t>& idx) {
  int64_t r = x->shape.rank();
  ASSIGN_OR_RETURN(Instruction * iv, ctx.b().Constant(Literal::FromVector(
                                         DType::kS64, {static_cast<int64_t>(idx.size())}, idx)));
  GatherDims g;
  for (int64_t i = 0; i < r; ++i)
    if (i != axis) g.offset_dims.push_back(i);
  g.collapsed_slice_dims = {axis};
  g.start_index_map = {axis};
  g.index_vector_dim = 1;
  std::vector<int64_t> sizes = x->shape.dims;
  sizes[axis] = 1;
  return ctx.b().Gather(x, iv, g, sizes);
}

// The condition must be a constant (the output size depends on it).
Status Compress(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(const Literal* cond, ctx.ConstantInput(1, "condition"));
  int64_t axis = 0;
  if (ctx.HasAttr("axis")) {
    ASSIGN_OR_RETURN(int64_t a, ctx.Int("axis", 0));
    ASSIGN_OR_RETURN(axis, ctx.NormalizeAxis(a, x->shape.rank(), "axis"));
  } else {
    ASSIGN_OR_RETURN(x, ctx.Reshape(x, {x->shape.num_elements()}));
  }
  int64_t d = x->shape.dims[axis];
  if (cond->shape().rank() != 1) return ctx.Error("condition must be 1-D, got {}", cond->shape().ToString());
  if (cond->num_elements() > d)
    return ctx.Error("condition has {} entries for a dim of size {}", cond->num_elements(), d);
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < cond->num_elements(); ++i)
    if (cond->GetAsDouble(i) != 0) idx.push_back(i);
  Instruction* y;
  if (idx.empty()) {
    std::vector<int64_t> out = x->shape.dims;
    out[axis] = 0;
    ASSIGN_OR_RETURN(y, ctx.Full(x->shape.dtype, out, 0));
  } else {
    ASSIGN_OR_RETURN(y, TakeAlongAxis(ctx, x, axis, idx));
  }
  ctx.SetOutput(0, y);
  return OkStatus();
}

// Reverses the first sequence_lens[b] steps of each batch entry; the lengths
// must be constants.
Status ReverseSequence(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(std::vector<int64_t> lens, ctx.ConstantInts(1, "sequence_lens"));
  ASSIGN_OR_RETURN(int64_t batch_axis, ctx.Int("batch_axis", 1));
  ASSIGN_OR_RETURN(int64_t time_axis, ctx.Int("time_axis", 0));
  RETURN_IF_ERROR(ctx.CheckAttrRange("batch_axis", batch_axis, 0, 1));
  RETURN_IF_ERROR(ctx.CheckAttrRange("time_axis", time_axis, 0, 1));
  if (batch_axis == time_axis) return ctx.Error("batch_axis and time_axis must differ");
  int64_t r = x->shape.rank();
  if (r < 2) return ctx.Error("input must have rank >= 2, got {}", x->shape.ToString());
  int64_t nb = x->shape.dims[batch_axis], nt = x->shape.dims[time_axis];
  if (static_cast<int64_t>(lens.size()) != nb)
    return ctx.Error("sequence_lens has {} entries for batch size {}", lens.size(), nb);
  int64_t d0 = x->shape.dims[0], d1 = x->shape.dims[1];
  if (d0 * d1 * 2 > kMaxConstantElements) return ctx.Unimplemented("input {} is too large", x->shape.ToString());
  std::vector<int64_t> coords;
  for (int64_t i0 = 0; i0 < d0; ++i0) {
    for (int64_t i1 = 0; i1 < d1; ++i1) {
      int64_t t = time_axis == 0 ? i0 : i1, b = batch_axis == 0 ? i0 : i1;
      int64_t len = lens[b];
      if (len < 0 || len > nt) return ctx.Error("sequence length {} is out of range [0, {}]", len, nt);
      int64_t src = t < len ? len - 1 - t : t;
      coords.push_back(time_axis == 0 ? src : b);
      coords.push_back(time_axis == 0 ? b : src);
    }
  }
  ASSIGN_OR_RETURN(Instruction * cv, ctx.b().Constant(Literal::FromVector(DType::kS64, {d0, d1, 2}, coords)));
  GatherDims g;
  for (int64_t i = 2; i < r; ++i) g.offset_dims.push_back(i);
  g.collapsed_slice_dims = {0, 1};
  g.start_index_map = {0, 1};
  g.index_vector_dim = 2;
  std::vector<int64_t> sizes = x->shape.dims;
  sizes[0] = sizes[1] = 1;
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Gather(x, cv, g, sizes));
  ctx.SetOutput(0, y);
  return OkStatus();
}

// MaxUnpool: zeros of the unpooled shape with X written at the flat
// positions I (as MaxPool's Indices output gives them).
Status MaxUnpool(ImportContext& ctx) {
  ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
  ASSIGN_OR_RETURN(Instruction * idx, IndicesInput(ctx, 1));
  int64_t r = x->shape.rank();
  if (r < 3) return ctx.Error("X must have rank >= 3, got {}", x->shape.ToString());
  int64_t nsp = r - 2;
  ASSIGN_OR_RETURN(auto kernel, ctx.Ints("kernel_shape"));
  ASSIGN_OR_RETURN(auto strides, ctx.Ints("strides", std::vector<int64_t>(nsp, 1)));
  ASSIGN_OR_RETURN(auto pads, ctx.Ints("pads", std::vector<int64_t>(2 * nsp, 0)));
  if (static_cast<int64_t>(kernel.size()) != nsp || static_cast<int64_t>(strides.size()) != nsp ||
      static_cast<int64_t>(pads.size()) != 2 * nsp)
    return ctx.Error("kernel_shape, strides or pads do not match {} spatial dims", nsp);
  RETURN_IF_ERROR(ctx.CheckAttrRange("kernel_shape", kernel, 1, 1 << 20));
  RETURN_IF_ERROR(ctx.CheckAttrRange("strides", strides, 1, 1 << 20));
  RETURN_IF_ERROR(ctx.CheckAttrRange("pads", pads, 0, 1 << 20));
  if (idx->shape.dims != x->shape.dims)
    return ctx.Error("I {} must have the shape of X {}", idx->shape.ToString(), x->shape.ToString());
  // As in ONNX's reference, I indexes the inferred shape; a larger
  // output_shape pads it with zeros at the end of each dim.
  std::vector<int64_t> inferred = x->shape.dims;
  for (int64_t i = 0; i < nsp; ++i)
    inferred[2 + i] = (x->shape.dims[2 + i] - 1) * strides[i] + kernel[i] - pads[i] - pads[nsp + i];
  std::vector<int64_t> out = inferred;
  if (ctx.has_input(2)) {
    ASSIGN_OR_RETURN(out, ctx.ConstantInts(2, "output_shape"));
    if (static_cast<int64_t>(out.size()) != r) return ctx.Error("output_shape {} must have rank {}", Dims(out), r);
    for (int64_t i = 0; i < r; ++i)
      if (out[i] < inferred[i])
        return ctx.Error("output_shape {} is smaller than the unpooled shape {}", Dims(out), Dims(inferred));
  }
  ASSIGN_OR_RETURN(int64_t total, ctx.ElementCount(inferred, "output"));
  RETURN_IF_ERROR(ctx.ElementCount(out, "output").status());
  int64_t m = x->shape.num_elements();
  ASSIGN_OR_RETURN(Instruction * zeros, ctx.Full(x->shape.dtype, {total}, 0));
  ASSIGN_OR_RETURN(Instruction * coords, ctx.Reshape(idx, {m, 1}));
  ASSIGN_OR_RETURN(Instruction * upd, ctx.Reshape(x, {m, 1}));
  ASSIGN_OR_RETURN(Instruction * y, UnrolledScatter(ctx, zeros, coords, upd, {1}, std::nullopt));
  ASSIGN_OR_RETURN(y, ctx.Reshape(y, inferred));
  if (out != inferred) {
    std::vector<PadDim> pad(r);
    for (int64_t i = 0; i < r; ++i) pad[i].hi = out[i] - inferred[i];
    ASSIGN_OR_RETURN(Instruction * zero, ctx.ScalarConstant(x->shape.dtype, 0));
    ASSIGN_OR_RETURN(y, ctx.b().Pad(y, zero, pad));
  }
  ctx.SetOutput(0, y);
  return OkStatus();
}

}  // namespace

void RegisterIndexOps(OpTable& t) {
  t["MaxUnpool"] = MaxUnpool;
  t["Compress"] = Compress;
  t["ReverseSequence"] = ReverseSequence;
  t["GatherElements"] = GatherElements;
  t["GatherND"] = GatherND;
  t["ScatterElements"] = ScatterElements;
  t["Scatter"] = Scatter;
  t["ScatterND"] = ScatterND;
  t["OneHot"] = OneHot;
  t["EyeLike"] = EyeLike;
  t["Hardmax"] = Hardmax;
  t["DepthToSpace"] = BlockRearrange(true);
  t["SpaceToDepth"] = BlockRearrange(false);
}

}  // namespace xtpu::onnx_import
