// Reduce (add/max/min over any dims) on the cross-lane and vector units.
//
// The operand is viewed as [O, R, I] (outer kept dims, reduced dims, inner
// kept dims); reduced dims that are not adjacent are first moved to the end
// by a copy. I == 1: each output is a row, reduced across lanes by
// xlu.reduce; else the reduced dim runs down the rows of [R, I] tiles and
// vpu.reduce folds them. Long reductions go in chunks, and the running value
// sits in front of each chunk (column 0 for lanes, row 0 for rows) so every
// instruction continues the same left-to-right fold: the result is
// init op x0 op x1 op ... in the evaluator's order, bit for bit for f32 and
// s32 (bf16 accumulates in f32 within a chunk and rounds once per chunk).
//
// Per core, steps (one chunk of one output block) are double-buffered like
// EmitMapJob: the chunk for step j+1 loads while step j reduces, and the
// reduce of step j writes its running value into the acc slot of buffer
// (j+1) % 2 (or, for the last chunk of a block, into the output slot that
// the store drains). Lane reductions of one chunk per block run four
// buffers deep over two XLUs when the chip has them.
#include <algorithm>
#include <numeric>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/vpu_graph.h"
#include "xtpu/support/check.h"

namespace xtpu::codegen {
namespace {

constexpr int64_t kMaxTileElements = int64_t{1} << 18;

struct Step {
  int64_t o0, oc;  // outer rows of the block
  int64_t i0, ic;  // inner columns of the block (sublane mode)
  int64_t r0, rc;  // reduced chunk
  bool first, last;
  int64_t block;  // block index within the core
};

StatusOr<isa::RedOp> ReduceOp(const Instruction& inst, DType t) {
  const Computation* c = inst.to_apply;
  const Instruction* r = c ? c->root() : nullptr;
  if (!r || r->operands.size() != 2 || r->operand(0)->opcode != Opcode::kParameter ||
      r->operand(1)->opcode != Opcode::kParameter)
    return Unimplemented("reduce '{}': to_apply must be one add/maximum/minimum of its parameters", inst.name);
  switch (r->opcode) {
    case Opcode::kAdd: return t == DType::kPred ? isa::RedOp::kMax : isa::RedOp::kSum;
    case Opcode::kMaximum: return isa::RedOp::kMax;
    case Opcode::kMinimum: return isa::RedOp::kMin;
    case Opcode::kOr:
      if (t == DType::kPred) return isa::RedOp::kMax;
      break;
    case Opcode::kAnd:
      if (t == DType::kPred) return isa::RedOp::kMin;
      break;
    default: break;
  }
  return Unimplemented("reduce '{}': to_apply '{}' is not supported on the chip (add, maximum, minimum)", inst.name,
                       OpcodeName(r->opcode));
}

}  // namespace

Status EmitReduce(LoweringContext& ctx, const Instruction& inst, const View& out0) {
  ProgramEmitter& em = ctx.em();
  if (inst.operands.size() != 2) return Unimplemented("reduce '{}': only single-operand reduce is supported", inst.name);
  const Instruction* xi = inst.operand(0);
  const Instruction* init_i = inst.operand(1);
  const DType ir = xi->shape.dtype;
  ASSIGN_OR_RETURN(isa::RedOp rop, ReduceOp(inst, ir));
  if (ir == DType::kS8) return Unimplemented("reduce '{}': s8 reductions are not supported on the chip", inst.name);
  ASSIGN_OR_RETURN(View x, ctx.ValueView(xi));
  x = WordView(x);
  ASSIGN_OR_RETURN(View init, ctx.ValueView(init_i));
  init = WordView(init);
  View out = WordView(out0);
  const int rank = x.rank();
  std::vector<int64_t> red = inst.dimensions;
  std::sort(red.begin(), red.end());
  for (int64_t d : red)
    if (d < 0 || d >= rank) return Error("reduce '{}': bad dimension {}", inst.name, d);
  const int64_t esz = x.element_bytes();
  // Reduced dims adjacent? Else move them to the end (in their order).
  int a = red.empty() ? rank : static_cast<int>(red.front());
  int b = red.empty() ? rank : static_cast<int>(red.back()) + 1;
  if (b - a != static_cast<int>(red.size())) {
    std::vector<int64_t> perm;
    for (int d = 0; d < rank; ++d)
      if (!std::binary_search(red.begin(), red.end(), d)) perm.push_back(d);
    perm.insert(perm.end(), red.begin(), red.end());
    View t = x.Transpose(perm);
    ASSIGN_OR_RETURN(View dense, ctx.AllocHbmScratch(x.dtype, t.dims));
    RETURN_IF_ERROR(EmitCopy(ctx, inst.name + ".transpose", t, dense));
    x = dense;
    a = rank - static_cast<int>(red.size());
    b = rank;
  }
  int64_t O = 1, R = 1, I = 1;
  for (int d = 0; d < rank; ++d) (d < a ? O : d < b ? R : I) *= x.dims[d];
  if (O * I == 0) return OkStatus();
  if (R == 0) {
    ctx.em().BeginKernel(inst.name, "reduce");
    Status s = EmitFill(ctx, inst.name, out, init_i);
    Status e = ctx.em().EndKernel();
    RETURN_IF_ERROR(s);
    return e;
  }
  StatusOr<View> x3 = x.Reshape({O, R, I});
  if (!x3.ok()) {
    ASSIGN_OR_RETURN(View dense, ctx.AllocHbmScratch(x.dtype, x.dims));
    RETURN_IF_ERROR(EmitCopy(ctx, inst.name + ".dense", x, dense));
    x3 = dense.Reshape({O, R, I});
  }
  const View xv = *x3;
  ASSIGN_OR_RETURN(View ov, out.Reshape({O, I}));
  const bool lanes = I == 1;
  // Tile sizes: ic inner columns, rc reduced rows/columns, oc outer rows.
  // Lane reductions whose rows fit a tile whole (one chunk per block) run
  // `depth` = 4 buffers deep, alternating between two XLUs: step j's
  // semaphores (slot j % 4) all belong to XLU j % 2, so each still has one
  // producer and one consumer unit. Chunked reductions stay two deep on one
  // unit (each chunk continues the previous chunk's running value in the
  // other buffer).
  const int64_t ic = lanes ? 1 : std::min<int64_t>(I, 4096);
  const int64_t full_budget = std::min(kMaxTileElements, VmemBudget(em) / (4 * esz));
  const bool deep = lanes && em.Xlus() >= 2 && full_budget / 2 / ic - 1 >= R;
  const int depth = deep ? 4 : 2;
  const int64_t budget_elems = full_budget * 2 / depth;
  const int64_t rc = std::clamp<int64_t>(budget_elems / ic - 1, 1, R);
  int64_t oc = std::clamp<int64_t>(budget_elems / ((rc + 1) * ic), 1, O);
  oc = std::min(oc, std::max<int64_t>(1, (O + depth * em.Cores() - 1) / (depth * em.Cores())));
  const int64_t pitch = (rc + 1) * ic * esz;  // bytes per outer row of a buffer
  // Blocks (outer x inner ranges), each with its chunks.
  struct Block {
    int64_t o0, oc, i0, ic;
  };
  std::vector<Block> blocks;
  for (int64_t o0 = 0; o0 < O; o0 += oc)
    for (int64_t i0 = 0; i0 < I; i0 += ic) blocks.push_back({o0, std::min(oc, O - o0), i0, std::min(ic, I - i0)});
  const int64_t dt = static_cast<int64_t>(x.dtype);
  em.BeginKernel(inst.name, lanes ? "reduce(lanes)" : "reduce(rows)");
  Status st = [&]() -> Status {
    const int64_t nb = static_cast<int64_t>(blocks.size());
    for (int c = 0; c < em.Cores(); ++c) {
      const int64_t lo = nb * c / em.Cores(), hi = nb * (c + 1) / em.Cores();
      if (lo == hi) continue;
      std::vector<Step> steps;
      for (int64_t k = lo; k < hi; ++k) {
        const Block& bl = blocks[k];
        for (int64_t r0 = 0; r0 < R; r0 += rc)
          steps.push_back({bl.o0, bl.oc, bl.i0, bl.ic, r0, std::min(rc, R - r0), r0 == 0, r0 + rc >= R, k - lo});
      }
      const int64_t nblk = hi - lo, n = static_cast<int64_t>(steps.size());
      int64_t buf[4], obuf[4];
      int ready[4], in_free[4], out_ready[4], out_free[4];
      for (int s = 0; s < depth; ++s) {
        ASSIGN_OR_RETURN(buf[s], em.AllocVmem(c, oc * pitch));
        ASSIGN_OR_RETURN(obuf[s], em.AllocVmem(c, oc * ic * esz));
        ASSIGN_OR_RETURN(ready[s], em.AllocSem(c));
        ASSIGN_OR_RETURN(in_free[s], em.AllocSem(c));
        ASSIGN_OR_RETURN(out_ready[s], em.AllocSem(c));
        ASSIGN_OR_RETURN(out_free[s], em.AllocSem(c));
      }
      const int engines = em.DmaEngines();
      auto load = [&](int64_t j) {
        const Step& p = steps[j];
        const int s = static_cast<int>(j % depth);
        const int eng = (2 * s) % engines;
        const int64_t row = lanes ? esz : ic * esz;  // VMEM stride of the reduced index (acc in front)
        View data = xv.SubRange(0, p.o0, p.oc).SubRange(1, p.r0, p.rc).SubRange(2, p.i0, p.ic);
        Sync first{.wait = j >= depth ? in_free[s] : -1};
        if (p.first) {
          View iv;
          iv.base = init.base;
          iv.dtype = init.dtype;
          iv.dims = {p.oc, p.ic};
          iv.strides = {0, 0};
          DmaStrided(em, c, eng, true, iv, buf[s], {pitch, esz}, first);
          first = {};
        }
        first.signal = ready[s];
        DmaStrided(em, c, eng, true, data, buf[s] + row, {pitch, row, esz}, first);
      };
      XTPU_CHECK(!deep || rc >= R);
      const isa::Opcode nop = lanes ? isa::Opcode::kXluNop : isa::Opcode::kVpuNop;
      for (int64_t j = 0; j < std::min<int64_t>(n, depth); ++j) load(j);
      for (int64_t j = 0; j < n; ++j) {
        const Step& p = steps[j];
        const int s = static_cast<int>(j % depth), so = static_cast<int>(p.block % depth);
        const int unit = deep ? s % 2 : 0;
        em.Emit(c, nop, unit, {}, {.wait = ready[s]});
        if (p.last && p.block >= depth) em.Emit(c, nop, unit, {}, {.wait = out_free[so]});
        if (lanes) {
          const int64_t dst = p.last ? obuf[so] : buf[1 - s];
          em.Emit(c, isa::Opcode::kXluReduce, unit,
                  {{"op", static_cast<int64_t>(rop)}, {"dtype", dt}, {"dst", dst}, {"src", buf[s]}, {"rows", p.oc},
                   {"cols", p.rc + 1}, {"ds", p.last ? esz : pitch}, {"ss", pitch}},
                  {.signal = p.last ? out_ready[so] : -1});
        } else {
          for (int64_t o = 0; o < p.oc; ++o) {
            const int64_t dst = p.last ? obuf[so] + o * p.ic * esz : buf[1 - s] + o * pitch;
            Sync sync;
            if (p.last && o + 1 == p.oc) sync.signal = out_ready[so];
            em.Emit(c, isa::Opcode::kVpuReduce, 0,
                    {{"op", static_cast<int64_t>(rop)}, {"dtype", dt}, {"dst", dst}, {"src", buf[s] + o * pitch},
                     {"rows", p.rc + 1}, {"cols", p.ic}, {"ss", ic * esz}},
                    sync);
          }
        }
        if (j + depth < n) em.Emit(c, nop, unit, {}, {.signal = in_free[s]});
        if (p.last) {
          View dst = ov.SubRange(0, p.o0, p.oc).SubRange(1, p.i0, p.ic);
          em.DmaStore(c, (2 * so + 1) % engines, obuf[so], dst,
                      {.wait = out_ready[so], .signal = p.block + depth < nblk ? out_free[so] : -1});
        }
        if (j + depth < n) load(j + depth);
      }
    }
    return OkStatus();
  }();
  Status e = em.EndKernel();
  RETURN_IF_ERROR(st);
  return e;
}

}  // namespace xtpu::codegen
