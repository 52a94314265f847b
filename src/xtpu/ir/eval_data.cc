// Reference evaluator: data movement (broadcast, reshape, transpose, reverse,
// slice, dynamic-slice, dynamic-update-slice, concatenate, pad, iota,
// gather). All of them are strided copies of whole elements; values are
// never converted.
#include <algorithm>
#include <cstring>

#include "xtpu/ir/eval_internal.h"

namespace xtpu::eval {
namespace {

// Copies the box `dims` from src (element strides src_strides, start
// src_offset; strides may be 0 or negative) to dst (dst_strides, dst_offset).
template <typename T>
void StridedCopyT(const T* src, const std::vector<int64_t>& src_strides, int64_t src_offset, T* dst,
                  const std::vector<int64_t>& dst_strides, int64_t dst_offset,
                  const std::vector<int64_t>& dims) {
  size_t rank = dims.size();
  for (int64_t d : dims)
    if (d == 0) return;
  if (rank == 0) {
    dst[dst_offset] = src[src_offset];
    return;
  }
  int64_t inner = dims[rank - 1], ss = src_strides[rank - 1], ds = dst_strides[rank - 1];
  std::vector<int64_t> idx(rank, 0);
  int64_t s = src_offset, d = dst_offset;
  while (true) {
    if (ss == 1 && ds == 1) {
      std::memcpy(dst + d, src + s, sizeof(T) * inner);
    } else {
      for (int64_t j = 0; j < inner; ++j) dst[d + j * ds] = src[s + j * ss];
    }
    // Advance the odometer over dims [0, rank-1).
    int64_t k = static_cast<int64_t>(rank) - 2;
    for (; k >= 0; --k) {
      if (++idx[k] < dims[k]) {
        s += src_strides[k];
        d += dst_strides[k];
        break;
      }
      s -= src_strides[k] * (dims[k] - 1);
      d -= dst_strides[k] * (dims[k] - 1);
      idx[k] = 0;
    }
    if (k < 0) return;
  }
}

void StridedCopy(int bytes, const uint8_t* src, const std::vector<int64_t>& src_strides,
                 int64_t src_offset, uint8_t* dst, const std::vector<int64_t>& dst_strides,
                 int64_t dst_offset, const std::vector<int64_t>& dims) {
  switch (bytes) {
    case 1:
      StridedCopyT(src, src_strides, src_offset, dst, dst_strides, dst_offset, dims);
      break;
    case 2:
      StridedCopyT(reinterpret_cast<const uint16_t*>(src), src_strides, src_offset,
                   reinterpret_cast<uint16_t*>(dst), dst_strides, dst_offset, dims);
      break;
    case 4:
      StridedCopyT(reinterpret_cast<const uint32_t*>(src), src_strides, src_offset,
                   reinterpret_cast<uint32_t*>(dst), dst_strides, dst_offset, dims);
      break;
    default:
      StridedCopyT(reinterpret_cast<const uint64_t*>(src), src_strides, src_offset,
                   reinterpret_cast<uint64_t*>(dst), dst_strides, dst_offset, dims);
      break;
  }
}

// Copies src (viewed through strides/offset) into a fresh literal of `out`.
Literal Gather1(const Literal& x, const Shape& out, const std::vector<int64_t>& src_strides,
                int64_t src_offset) {
  Literal y(out);
  StridedCopy(DTypeBytes(x.dtype()), x.bytes().data(), src_strides, src_offset,
              y.mutable_bytes().data(), RowMajorStrides(out.dims), 0, out.dims);
  return y;
}

// Reads the start indices of dynamic-(update-)slice: one scalar per dim, or
// (older form) one rank-1 operand.
StatusOr<std::vector<int64_t>> StartIndices(const Instruction& inst,
                                            const std::vector<const Literal*>& ops, size_t first,
                                            int64_t rank) {
  std::vector<int64_t> starts;
  if (ops.size() == first + 1 && ops[first]->shape().rank() == 1) {
    for (int64_t i = 0; i < ops[first]->num_elements(); ++i)
      starts.push_back(ops[first]->GetAsInt64(i));
  } else {
    for (size_t i = first; i < ops.size(); ++i) {
      if (ops[i]->num_elements() != 1 || !IsInteger(ops[i]->dtype()))
        return Error("{}: start index {} must be an integer scalar", Describe(inst), i - first);
      starts.push_back(ops[i]->GetAsInt64(0));
    }
  }
  if (static_cast<int64_t>(starts.size()) != rank)
    return Error("{}: expected {} start indices, got {}", Describe(inst), rank, starts.size());
  return starts;
}

}  // namespace

StatusOr<Literal> EvalBroadcast(const Instruction& inst, const Literal& x) {
  const Shape& out = inst.shape;
  if (inst.dimensions.size() != static_cast<size_t>(x.shape().rank()))
    return Error("{}: broadcast dimensions do not match operand rank", Describe(inst));
  std::vector<int64_t> in_strides = RowMajorStrides(x.shape().dims);
  std::vector<int64_t> strides(out.rank(), 0);
  for (size_t i = 0; i < inst.dimensions.size(); ++i) {
    int64_t d = inst.dimensions[i];
    if (d < 0 || d >= out.rank() || out.dims[d] != x.shape().dims[i])
      return Error("{}: bad broadcast dimension {}", Describe(inst), d);
    strides[d] = in_strides[i];
  }
  return Gather1(x, out, strides, 0);
}

StatusOr<Literal> EvalReshape(const Instruction& inst, const Literal& x) {
  if (inst.shape.num_elements() != x.num_elements())
    return Error("{}: reshape changes the element count", Describe(inst));
  return Literal(inst.shape, x.bytes());
}

Literal TransposeLiteral(const Literal& x, const std::vector<int64_t>& perm) {
  std::vector<int64_t> in_strides = RowMajorStrides(x.shape().dims);
  std::vector<int64_t> dims, strides;
  for (int64_t p : perm) {
    dims.push_back(x.shape().dims[p]);
    strides.push_back(in_strides[p]);
  }
  return Gather1(x, Shape(x.dtype(), dims), strides, 0);
}

StatusOr<Literal> EvalTranspose(const Instruction& inst, const Literal& x) {
  if (inst.dimensions.size() != static_cast<size_t>(x.shape().rank()))
    return Error("{}: permutation does not match operand rank", Describe(inst));
  return TransposeLiteral(x, inst.dimensions);
}

StatusOr<Literal> EvalReverse(const Instruction& inst, const Literal& x) {
  std::vector<int64_t> strides = RowMajorStrides(x.shape().dims);
  int64_t offset = 0;
  for (int64_t d : inst.dimensions) {
    if (d < 0 || d >= x.shape().rank()) return Error("{}: bad reverse dimension {}", Describe(inst), d);
    offset += (x.shape().dims[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  if (x.num_elements() == 0) return Literal(inst.shape);
  return Gather1(x, inst.shape, strides, offset);
}

StatusOr<Literal> EvalSlice(const Instruction& inst, const Literal& x) {
  int64_t rank = x.shape().rank();
  if (static_cast<int64_t>(inst.slice_starts.size()) != rank ||
      static_cast<int64_t>(inst.slice_strides.size()) != rank)
    return Error("{}: slice attributes do not match operand rank", Describe(inst));
  std::vector<int64_t> in_strides = RowMajorStrides(x.shape().dims);
  std::vector<int64_t> strides(rank);
  int64_t offset = 0;
  for (int64_t d = 0; d < rank; ++d) {
    offset += inst.slice_starts[d] * in_strides[d];
    strides[d] = in_strides[d] * inst.slice_strides[d];
  }
  if (inst.shape.num_elements() == 0) return Literal(inst.shape);
  return Gather1(x, inst.shape, strides, offset);
}

StatusOr<Literal> EvalDynamicSlice(const Instruction& inst, const std::vector<const Literal*>& ops) {
  const Literal& x = *ops[0];
  int64_t rank = x.shape().rank();
  ASSIGN_OR_RETURN(std::vector<int64_t> starts, StartIndices(inst, ops, 1, rank));
  if (static_cast<int64_t>(inst.slice_sizes.size()) != rank)
    return Error("{}: slice_sizes do not match operand rank", Describe(inst));
  std::vector<int64_t> strides = RowMajorStrides(x.shape().dims);
  int64_t offset = 0;
  for (int64_t d = 0; d < rank; ++d) {
    int64_t s = std::clamp<int64_t>(starts[d], 0, x.shape().dims[d] - inst.slice_sizes[d]);
    offset += s * strides[d];
  }
  if (inst.shape.num_elements() == 0) return Literal(inst.shape);
  return Gather1(x, inst.shape, strides, offset);
}

StatusOr<Literal> EvalDynamicUpdateSlice(const Instruction& inst,
                                         const std::vector<const Literal*>& ops) {
  if (ops.size() < 2) return Error("{}: needs an operand and an update", Describe(inst));
  const Literal& x = *ops[0];
  const Literal& u = *ops[1];
  int64_t rank = x.shape().rank();
  if (u.shape().rank() != rank || u.dtype() != x.dtype())
    return Error("{}: update {} does not fit operand {}", Describe(inst), u.shape().ToString(),
                 x.shape().ToString());
  ASSIGN_OR_RETURN(std::vector<int64_t> starts, StartIndices(inst, ops, 2, rank));
  Literal y(x.shape(), x.bytes());
  std::vector<int64_t> strides = RowMajorStrides(x.shape().dims);
  int64_t offset = 0;
  for (int64_t d = 0; d < rank; ++d) {
    if (u.shape().dims[d] > x.shape().dims[d])
      return Error("{}: update is larger than the operand in dim {}", Describe(inst), d);
    int64_t s = std::clamp<int64_t>(starts[d], 0, x.shape().dims[d] - u.shape().dims[d]);
    offset += s * strides[d];
  }
  StridedCopy(DTypeBytes(x.dtype()), u.bytes().data(), RowMajorStrides(u.shape().dims), 0,
              y.mutable_bytes().data(), strides, offset, u.shape().dims);
  return y;
}

StatusOr<Literal> EvalConcatenate(const Instruction& inst, const std::vector<const Literal*>& ops) {
  if (inst.dimensions.size() != 1) return Error("{}: needs one dimension", Describe(inst));
  int64_t dim = inst.dimensions[0];
  Literal y(inst.shape);
  std::vector<int64_t> out_strides = RowMajorStrides(inst.shape.dims);
  int64_t pos = 0;
  for (const Literal* x : ops) {
    if (x->dtype() != inst.shape.dtype || x->shape().rank() != inst.shape.rank())
      return Error("{}: operand {} does not fit result {}", Describe(inst), x->shape().ToString(),
                   inst.shape.ToString());
    if (x->num_elements() > 0) {
      StridedCopy(DTypeBytes(x->dtype()), x->bytes().data(), RowMajorStrides(x->shape().dims), 0,
                  y.mutable_bytes().data(), out_strides, pos * out_strides[dim], x->shape().dims);
    }
    pos += x->shape().dims[dim];
  }
  if (pos != inst.shape.dims[dim]) return Error("{}: sizes do not add up", Describe(inst));
  return y;
}

StatusOr<Literal> EvalPad(const Instruction& inst, const Literal& x, const Literal& pad_value) {
  int64_t rank = x.shape().rank();
  if (static_cast<int64_t>(inst.padding.size()) != rank)
    return Error("{}: padding does not match operand rank", Describe(inst));
  Literal y = BroadcastScalar(pad_value, inst.shape.num_elements());
  y = Literal(inst.shape, std::move(y.mutable_bytes()));
  std::vector<int64_t> out_strides = RowMajorStrides(inst.shape.dims);
  std::vector<int64_t> in_strides = RowMajorStrides(x.shape().dims);
  std::vector<int64_t> dims(rank), dst_strides(rank);
  int64_t src_offset = 0, dst_offset = 0;
  for (int64_t d = 0; d < rank; ++d) {
    const PadDim& p = inst.padding[d];
    int64_t step = p.interior + 1, in_d = x.shape().dims[d], out_d = inst.shape.dims[d];
    // Input index i lands at lo + i * step; keep those inside [0, out_d).
    int64_t i_min = p.lo >= 0 ? 0 : (-p.lo + step - 1) / step;
    int64_t i_max = in_d - 1;
    if (out_d - 1 - p.lo < 0) i_max = -1;
    else i_max = std::min(i_max, (out_d - 1 - p.lo) / step);
    dims[d] = std::max<int64_t>(0, i_max - i_min + 1);
    src_offset += i_min * in_strides[d];
    dst_offset += (p.lo + i_min * step) * out_strides[d];
    dst_strides[d] = step * out_strides[d];
  }
  StridedCopy(DTypeBytes(x.dtype()), x.bytes().data(), in_strides, src_offset,
              y.mutable_bytes().data(), dst_strides, dst_offset, dims);
  return y;
}

StatusOr<Literal> EvalIota(const Instruction& inst) {
  const Shape& out = inst.shape;
  if (inst.dimensions.size() != 1 || inst.dimensions[0] < 0 || inst.dimensions[0] >= out.rank())
    return Error("{}: needs one iota dimension within the rank", Describe(inst));
  int64_t dim = inst.dimensions[0];
  Literal y(out);
  int64_t n = out.num_elements(), size = out.dims[dim];
  int64_t inner = RowMajorStrides(out.dims)[dim];
  for (int64_t i = 0; i < n; ++i) y.SetFromInt64(i, (i / inner) % size);
  return y;
}

StatusOr<Literal> EvalGather(const Instruction& inst, const Literal& x, const Literal& indices) {
  const GatherDims& g = inst.gather_dims;
  const Shape& out = inst.shape;
  int64_t x_rank = x.shape().rank();
  int64_t idx_rank = indices.shape().rank();
  if (!IsInteger(indices.dtype())) return Error("{}: indices must be integers", Describe(inst));
  if (static_cast<int64_t>(inst.slice_sizes.size()) != x_rank)
    return Error("{}: slice_sizes do not match operand rank", Describe(inst));
  // Indices dims without the index vector dim are the batch dims.
  std::vector<int64_t> idx_dims = indices.shape().dims;
  int64_t ivd = g.index_vector_dim;
  if (ivd == idx_rank) idx_dims.push_back(1);
  std::vector<int64_t> idx_strides = RowMajorStrides(idx_dims);
  int64_t vec_len = idx_dims[ivd];
  if (vec_len != static_cast<int64_t>(g.start_index_map.size()))
    return Error("{}: index vector has {} elements, start_index_map {}", Describe(inst), vec_len,
                 g.start_index_map.size());
  std::vector<int64_t> batch_sizes, batch_idx_strides;
  for (int64_t d = 0; d < static_cast<int64_t>(idx_dims.size()); ++d) {
    if (d == ivd) continue;
    batch_sizes.push_back(idx_dims[d]);
    batch_idx_strides.push_back(idx_strides[d]);
  }
  // Output dims: offset dims (sorted) and batch dims in order.
  std::vector<int64_t> out_strides = RowMajorStrides(out.dims);
  std::vector<int64_t> batch_out_strides;
  std::vector<bool> is_offset(out.rank(), false);
  for (int64_t d : g.offset_dims) {
    if (d < 0 || d >= out.rank()) return Error("{}: bad offset dim {}", Describe(inst), d);
    is_offset[d] = true;
  }
  for (int64_t d = 0; d < out.rank(); ++d)
    if (!is_offset[d]) batch_out_strides.push_back(out_strides[d]);
  if (batch_out_strides.size() != batch_sizes.size())
    return Error("{}: output rank does not match indices and offset dims", Describe(inst));
  for (int64_t d = 0, i = 0; d < out.rank(); ++d)
    if (!is_offset[d] && out.dims[d] != batch_sizes[i++])
      return Error("{}: output dim {} does not match the indices", Describe(inst), d);
  // Slice box: operand dims not collapsed, mapped to the offset dims in order.
  std::vector<bool> collapsed(x_rank, false);
  for (int64_t d : g.collapsed_slice_dims) {
    if (d < 0 || d >= x_rank) return Error("{}: bad collapsed dim {}", Describe(inst), d);
    collapsed[d] = true;
  }
  std::vector<int64_t> x_strides = RowMajorStrides(x.shape().dims);
  std::vector<int64_t> box, box_src_strides, box_dst_strides;
  size_t k = 0;
  for (int64_t d = 0; d < x_rank; ++d) {
    if (collapsed[d]) continue;
    if (k >= g.offset_dims.size()) return Error("{}: too few offset dims", Describe(inst));
    box.push_back(inst.slice_sizes[d]);
    box_src_strides.push_back(x_strides[d]);
    box_dst_strides.push_back(out_strides[g.offset_dims[k++]]);
  }
  if (k != g.offset_dims.size()) return Error("{}: too many offset dims", Describe(inst));
  for (int64_t d : g.start_index_map)
    if (d < 0 || d >= x_rank) return Error("{}: bad start_index_map entry {}", Describe(inst), d);

  Literal y(out);
  if (out.num_elements() == 0) return y;
  int bytes = DTypeBytes(x.dtype());
  int64_t num_batches = 1;
  for (int64_t s : batch_sizes) num_batches *= s;
  std::vector<int64_t> bidx(batch_sizes.size(), 0);
  for (int64_t b = 0; b < num_batches; ++b) {
    int64_t idx_base = 0, dst_offset = 0;
    for (size_t i = 0; i < bidx.size(); ++i) {
      idx_base += bidx[i] * batch_idx_strides[i];
      dst_offset += bidx[i] * batch_out_strides[i];
    }
    int64_t src_offset = 0;
    for (int64_t j = 0; j < vec_len; ++j) {
      int64_t d = g.start_index_map[j];
      int64_t start = indices.GetAsInt64(idx_base + j * idx_strides[ivd]);
      start = std::clamp<int64_t>(start, 0, x.shape().dims[d] - inst.slice_sizes[d]);
      src_offset += start * x_strides[d];
    }
    StridedCopy(bytes, x.bytes().data(), box_src_strides, src_offset, y.mutable_bytes().data(),
                box_dst_strides, dst_offset, box);
    for (int64_t i = static_cast<int64_t>(bidx.size()) - 1; i >= 0; --i) {
      if (++bidx[i] < batch_sizes[i]) break;
      bidx[i] = 0;
    }
  }
  return y;
}

}  // namespace xtpu::eval
