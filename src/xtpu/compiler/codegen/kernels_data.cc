// Data-movement kernels: copy (materialize any view; transposes that move
// the minor dim go through xlu.transpose), concatenate, pad, and gather in
// embedding form (dma.gather with indices clamped on the vector unit).
#include <algorithm>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/vpu_graph.h"
#include "xtpu/support/check.h"

namespace xtpu::codegen {
namespace {

// Tiles below this size on either side of a transpose go through strided DMA.
constexpr int64_t kMinTransposeSide = 8;

// Copies src into dst (same dims and dtype) inside the current kernel.
Status CopyJob(LoweringContext& ctx, const std::string& name, const View& src0, const View& dst0) {
  View src = WordView(src0), dst = WordView(dst0);
  if (src.dims != dst.dims) return Error("copy '{}': {} and {} differ in dims", name, src.ToString(), dst.ToString());
  if (src.dtype != dst.dtype) return Error("copy '{}': {} and {} differ in dtype", name, src.ToString(), dst.ToString());
  std::vector<int64_t> dims = dst.dims;
  std::vector<std::vector<int64_t>> strides = {dst.strides, src.strides};
  JointSimplify(dims, strides);
  const int m = static_cast<int>(dims.size());
  const int64_t esz = src.element_bytes();
  MapJob job{name, dst, {src}, MapJob::Mode::kCopy, nullptr};
  // The XLU transposes tiles; chips without one (v1) copy with strided DMA.
  if (ctx.em().Xlus() > 0 && strides[1][m - 1] != esz && m >= 2 && strides[1][m - 2] == esz && strides[0][m - 1] == esz &&
      dims[m - 1] >= kMinTransposeSide && dims[m - 2] >= kMinTransposeSide) {
    job.mode = MapJob::Mode::kTranspose;
  }
  return EmitMapJob(ctx, job);
}

Status InKernel(LoweringContext& ctx, const std::string& name, const std::string& op,
                const std::function<Status()>& body) {
  ctx.em().BeginKernel(name, op);
  Status s = body();
  Status e = ctx.em().EndKernel();
  RETURN_IF_ERROR(s);
  return e;
}

}  // namespace

Status EmitFill(LoweringContext& ctx, const std::string& name, const View& out, const Instruction* value) {
  ElemGraph g;
  g.out_dtype = value->shape.dtype;
  ElemNode n;
  n.dtype = value->shape.dtype;
  MapJob job;
  job.name = name;
  job.out = WordView(out);
  if (const Literal* l = ctx.ConstantValue(value); l != nullptr && l->num_elements() == 1) {
    n.kind = ElemNode::kConst;
    n.bits = ScalarBits(*l);
  } else {
    ASSIGN_OR_RETURN(View v, ctx.ValueView(value));
    v = WordView(v);
    View b;
    b.base = v.base;
    b.dtype = v.dtype;
    b.dims = out.dims;
    b.strides.assign(out.rank(), 0);
    job.inputs.push_back(b);
    g.input_dtypes.push_back(b.dtype);
    n.kind = ElemNode::kInput;
    n.input = 0;
  }
  g.nodes.push_back(n);
  g.root = 0;
  std::string what = name;
  job.build = [g, what](const std::vector<bool>& rows) { return BuildElementwiseProgram(g, rows, what); };
  return EmitMapJob(ctx, job);
}

Status EmitCopy(LoweringContext& ctx, const std::string& name, const View& src, const View& out) {
  return InKernel(ctx, name, "copy", [&] { return CopyJob(ctx, name, src, out); });
}

Status EmitConcatenate(LoweringContext& ctx, const Instruction& inst, const View& out) {
  if (inst.dimensions.size() != 1) return Error("concatenate '{}': needs one dimension", inst.name);
  const int dim = static_cast<int>(inst.dimensions[0]);
  if (dim < 0 || dim >= out.rank()) return Error("concatenate '{}': bad dimension {}", inst.name, dim);
  int64_t offset = 0;
  for (size_t i = 0; i < inst.operands.size(); ++i) {
    const Instruction* o = inst.operands[i];
    ASSIGN_OR_RETURN(View src, ctx.ValueView(o));
    const int64_t size = src.rank() > dim ? src.dims[dim] : 0;
    if (offset + size > out.dims[dim]) return Error("concatenate '{}': operands exceed the result", inst.name);
    if (size > 0) {
      View dst = out.SubRange(dim, offset, size);
      RETURN_IF_ERROR(InKernel(ctx, inst.name, "concatenate", [&] {
        return CopyJob(ctx, inst.name + "." + std::to_string(i), src, dst);
      }));
    }
    offset += size;
  }
  return OkStatus();
}

Status EmitPad(LoweringContext& ctx, const Instruction& inst, const View& out, bool operand_in_place) {
  const Instruction* x = inst.operand(0);
  const Instruction* pv = inst.operand(1);
  if (static_cast<int>(inst.padding.size()) != out.rank())
    return Error("pad '{}': {} padding dims for rank {}", inst.name, inst.padding.size(), out.rank());
  ASSIGN_OR_RETURN(View src, ctx.ValueView(x));
  // The part of the operand that lands in the result, and where.
  std::vector<int64_t> starts(out.rank()), limits(out.rank());
  View dst = out;
  bool fill = false, empty = false;
  for (int d = 0; d < out.rank(); ++d) {
    const PadDim& p = inst.padding[d];
    const int64_t n = src.dims[d], step = p.interior + 1, od = out.dims[d];
    if (p.lo > 0 || p.hi > 0 || (p.interior > 0 && n > 1)) fill = true;
    int64_t i0 = p.lo >= 0 ? 0 : (-p.lo + step - 1) / step;
    // Last operand index i with lo + i * step <= od - 1.
    const int64_t i1 = od - 1 - p.lo < 0 ? -1 : std::min(n - 1, (od - 1 - p.lo) / step);
    const int64_t count = std::max<int64_t>(0, i1 - i0 + 1);
    if (count == 0) empty = true;
    starts[d] = i0;
    limits[d] = i0 + count;
    if (count > 0) {
      dst.base += (p.lo + i0 * step) * out.strides[d];
      dst.strides[d] = out.strides[d] * step;
    }
    dst.dims[d] = count;
  }
  if (empty) fill = true;
  // Without interior padding the operand lands in one box of the result;
  // then only the border around it is filled (per padded dim d, the slabs
  // before and after the box, restricted to the box in dims < d and full in
  // dims > d: they cover the border exactly once), instead of the whole result.
  bool box = !empty;
  for (int d = 0; d < out.rank() && box; ++d) {
    const PadDim& p = inst.padding[d];
    if (p.interior != 0 || p.lo < 0 || p.hi < 0) box = false;
  }
  if (operand_in_place && !box) return Error("internal: pad '{}' in place needs a box without interior padding", inst.name);
  if (fill && box) {
    std::vector<View> slabs;
    View rest = out;  // dims < d restricted to the box
    for (int d = 0; d < out.rank(); ++d) {
      const PadDim& p = inst.padding[d];
      const int64_t n = src.dims[d];
      if (p.lo > 0) slabs.push_back(rest.SubRange(d, 0, p.lo));
      if (p.hi > 0) slabs.push_back(rest.SubRange(d, p.lo + n, p.hi));
      rest = rest.SubRange(d, p.lo, n);
    }
    for (const View& slab : slabs) {
      if (slab.elements() == 0) continue;
      RETURN_IF_ERROR(
          InKernel(ctx, inst.name + ".fill", "pad", [&] { return EmitFill(ctx, inst.name, slab, pv); }));
    }
  } else if (fill) {
    RETURN_IF_ERROR(
        InKernel(ctx, inst.name + ".fill", "pad", [&] { return EmitFill(ctx, inst.name, out, pv); }));
  }
  if (empty || operand_in_place) return OkStatus();
  View part = src.Slice(starts, limits, {});
  return InKernel(ctx, inst.name, "pad", [&] { return CopyJob(ctx, inst.name, part, dst); });
}

Status EmitGather(LoweringContext& ctx, const Instruction& inst, const View& out) {
  ProgramEmitter& em = ctx.em();
  const Instruction* xo = inst.operand(0);
  const Instruction* io = inst.operand(1);
  ASSIGN_OR_RETURN(View table, ctx.ValueView(xo));
  ASSIGN_OR_RETURN(View idx, ctx.ValueView(io));
  table = WordView(table);
  const GatherDims& gd = inst.gather_dims;
  if (table.rank() != 2 || gd.collapsed_slice_dims != std::vector<int64_t>{0} ||
      gd.start_index_map != std::vector<int64_t>{0} || gd.index_vector_dim != idx.rank() ||
      inst.slice_sizes != std::vector<int64_t>{1, table.dims[1]} ||
      gd.offset_dims != std::vector<int64_t>{static_cast<int64_t>(out.rank()) - 1})
    return Unimplemented("gather '{}': only the embedding form (operand [V, D], s32 indices) is supported", inst.name);
  if (idx.dtype != DType::kS32) return Unimplemented("gather '{}': indices must be s32 on the chip", inst.name);
  const int64_t V = table.dims[0], D = table.dims[1], N = idx.elements();
  const int64_t esz = table.element_bytes();
  if (N == 0 || D == 0) return OkStatus();
  if (V == 0) return Error("gather '{}': gathering from an empty operand", inst.name);
  // Rows of the table must be contiguous, the indices a flat vector.
  if (D > 1 && table.strides[1] != esz) {
    ASSIGN_OR_RETURN(View dense, ctx.AllocHbmScratch(table.dtype, table.dims));
    RETURN_IF_ERROR(EmitCopy(ctx, inst.name + ".table", table, dense));
    table = dense;
  }
  StatusOr<View> flat = idx.Reshape({N});
  if (!flat.ok()) {
    ASSIGN_OR_RETURN(View dense, ctx.AllocHbmScratch(DType::kS32, idx.dims));
    RETURN_IF_ERROR(EmitCopy(ctx, inst.name + ".indices", idx, dense));
    flat = dense.Reshape({N});
  }
  const View ids = *flat;
  ASSIGN_OR_RETURN(View rows_out, WordView(out).Reshape({N, D}));
  // Tiles of nt indices x dc columns.
  const int64_t budget = VmemBudget(em) / 2;
  const int64_t dc = std::clamp<int64_t>(budget / (8 * esz), 1, D);
  int64_t nt = std::clamp<int64_t>(budget / (dc * esz + 4), 1, N);
  nt = std::min<int64_t>(nt, std::max<int64_t>(8, (N + 2 * em.Cores() - 1) / (2 * em.Cores())));
  struct Tile {
    int64_t n0, nc, d0, dcount;
  };
  std::vector<Tile> tiles;
  for (int64_t n0 = 0; n0 < N; n0 += nt)
    for (int64_t d0 = 0; d0 < D; d0 += dc) tiles.push_back({n0, std::min(nt, N - n0), d0, std::min(dc, D - d0)});
  em.BeginKernel(inst.name, "gather");
  const int engines = em.DmaEngines();
  const int ie = 0, ge = 1 % engines, se = 2 % engines;
  const int64_t s32 = static_cast<int64_t>(DType::kS32);
  Status st = [&]() -> Status {
    const int64_t n = static_cast<int64_t>(tiles.size());
    for (int c = 0; c < em.Cores(); ++c) {
      const int64_t lo = n * c / em.Cores(), hi = n * (c + 1) / em.Cores();
      if (lo == hi) continue;
      int64_t ibuf[2], rbuf[2];
      int idx_ready[2], clamped[2], rows_ready[2], rows_free[2], idx_free[2];
      for (int s = 0; s < 2; ++s) {
        ASSIGN_OR_RETURN(ibuf[s], em.AllocVmem(c, nt * 4));
        ASSIGN_OR_RETURN(rbuf[s], em.AllocVmem(c, nt * dc * esz));
        ASSIGN_OR_RETURN(idx_ready[s], em.AllocSem(c));
        ASSIGN_OR_RETURN(clamped[s], em.AllocSem(c));
        ASSIGN_OR_RETURN(rows_ready[s], em.AllocSem(c));
        ASSIGN_OR_RETURN(rows_free[s], em.AllocSem(c));
        ASSIGN_OR_RETURN(idx_free[s], em.AllocSem(c));
      }
      const int64_t cnt = hi - lo;
      for (int64_t t = 0; t < cnt; ++t) {
        const Tile& tl = tiles[lo + t];
        const int s = static_cast<int>(t % 2);
        const bool more = t + 2 < cnt;
        em.DmaLoad(c, ie, ids.SubRange(0, tl.n0, tl.nc), ibuf[s],
                   {.wait = t >= 2 ? idx_free[s] : -1, .signal = idx_ready[s]});
        // The evaluator clamps start indices into [0, V - 1].
        em.Emit(c, isa::Opcode::kVpuBinaryImm, 0,
                {{"op", static_cast<int64_t>(isa::BinOp::kMax)}, {"dtype", s32}, {"dst", ibuf[s]}, {"a", ibuf[s]},
                 {"imm", 0}, {"rows", 1}, {"cols", tl.nc}, {"ds", 0}, {"as", 0}},
                {.wait = idx_ready[s]});
        em.Emit(c, isa::Opcode::kVpuBinaryImm, 0,
                {{"op", static_cast<int64_t>(isa::BinOp::kMin)}, {"dtype", s32}, {"dst", ibuf[s]}, {"a", ibuf[s]},
                 {"imm", static_cast<int64_t>(static_cast<uint32_t>(V - 1))}, {"rows", 1}, {"cols", tl.nc}, {"ds", 0}, {"as", 0}},
                {.signal = clamped[s]});
        if (t >= 2) em.Emit(c, isa::Opcode::kDmaNop, ge, {}, {.wait = rows_free[s]});
        em.Emit(c, isa::Opcode::kDmaGather, ge,
                {{"dst", rbuf[s]}, {"src", table.base + tl.d0 * esz}, {"idx", ibuf[s]}, {"rows", tl.nc},
                 {"bytes", tl.dcount * esz}, {"stride", table.strides[0]}, {"limit", V}},
                {.wait = clamped[s], .signal = rows_ready[s]});
        if (more) em.Emit(c, isa::Opcode::kDmaNop, ge, {}, {.signal = idx_free[s]});
        View dst = rows_out.SubRange(0, tl.n0, tl.nc).SubRange(1, tl.d0, tl.dcount);
        em.DmaStore(c, se, rbuf[s], dst, {.wait = rows_ready[s], .signal = more ? rows_free[s] : -1});
      }
    }
    return OkStatus();
  }();
  Status e = em.EndKernel();
  RETURN_IF_ERROR(st);
  return e;
}

}  // namespace xtpu::codegen
