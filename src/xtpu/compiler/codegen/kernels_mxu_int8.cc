// The int8 matrix-unit kernel: dot or convolution of s8 operands with an s32
// result (the int8-matmul pass's output), standalone or as fusion(kind=output)
// with an s32 epilogue of bias vectors (along the last dim) and scalar
// constants (add, subtract, multiply, maximum, minimum, clamp).
//
// GEMM view. Weights are constant: re-laid out at compile time into tiles of
// k <= mxu.rows rows by <= mxu.cols columns (one per k-step and column tile,
// a column tile never crossing a convolution group) and kept in VMEM for a
// column group of tiles. The LHS comes from HBM in row chunks:
//  - dot [B.., M, K] x [K, N] (or per-batch [B.., K, N]): chunk = mc rows of
//    K bytes; k-step t reads bytes [t*R, t*R + k) of each row;
//  - convolution NHWC (no window padding: int8-matmul makes padding an
//    explicit pad op): chunk = nh output rows of one image; the input rows
//    they need are loaded densely ([rows, W, C]); k-step (tap i, j, channel
//    block) reads C-blocks at (i*dh*W + j*dw)*C + channel. With equal strides
//    s, output pixel (r, ow) is accumulator row r*W + ow and reads input
//    offset (r*W + ow)*s*C: one matmul streams the whole chunk ("virtual
//    width" W; the W - Wo extra rows per output row are computed and
//    dropped). Otherwise one matmul per output row.
// Per core (cores split the row chunks): DMA LHS chunk c+1 | MXUs (column
// tiles round-robin over the MXUs, each tile's k-steps accumulated in s32) |
// read_acc (s32) | VPU epilogue | DMA store, double-buffered.
#include <algorithm>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/vpu_common.h"

namespace xtpu::codegen {
namespace {

using Op = isa::Opcode;

constexpr int kMaxMxus = 8;

// ---- what the instruction computes ----

struct EpiOp {
  isa::BinOp op = isa::BinOp::kAdd;
  bool bias = false;      // other operand: bias vector [N] along the last dim
  bool reversed = false;  // imm - x
  int64_t imm = 0;
  View operand;           // bias: s32 [N]
};

struct Parsed {
  const Instruction* mm = nullptr;  // the dot or convolution
  std::vector<EpiOp> ops;
  std::string opname;
};

std::optional<int64_t> IntScalarConstant(const Instruction* i) {
  if (i->opcode == Opcode::kBroadcast) i = i->operands[0];
  if (i->opcode != Opcode::kConstant || i->literal.num_elements() < 1) return std::nullopt;
  int64_t v = i->literal.GetAsInt64(0);
  for (int64_t k = 1; k < i->literal.num_elements(); ++k)
    if (i->literal.GetAsInt64(k) != v) return std::nullopt;
  return v;
}

const Instruction* MatmulOf(const Instruction& inst) {
  if (inst.opcode == Opcode::kDot || inst.opcode == Opcode::kConvolution) return &inst;
  if (inst.opcode != Opcode::kFusion || inst.fusion_kind != FusionKind::kOutput || !inst.to_apply) return nullptr;
  for (const auto& i : inst.to_apply->instructions())
    if (i->opcode == Opcode::kDot || i->opcode == Opcode::kConvolution) return i.get();
  return nullptr;
}

StatusOr<Parsed> Parse(LoweringContext& ctx, const Instruction& inst) {
  Parsed p;
  p.mm = MatmulOf(inst);
  p.opname = std::string(OpcodeName(p.mm->opcode)) + "(s8)";
  if (p.mm == &inst) return p;
  const Computation* comp = inst.to_apply;
  if (p.mm->operands[0]->opcode != Opcode::kParameter || p.mm->operands[0]->parameter_number != 0 ||
      p.mm->operands[1]->opcode != Opcode::kParameter || p.mm->operands[1]->parameter_number != 1)
    return Unimplemented("fusion '{}': the int8 matmul must read parameters 0 and 1", inst.name);
  p.opname = "fusion(output: " + p.opname;
  const Instruction* cur = p.mm;
  const int64_t rank = p.mm->shape.rank();
  for (const auto& up : comp->instructions()) {
    const Instruction* i = up.get();
    if (std::count(i->operands.begin(), i->operands.end(), cur) == 0) continue;
    auto bad = [&](const char* why) {
      return Unimplemented("fusion '{}': s32 epilogue op '{}' ({}) is not supported on the int8 path: {}", inst.name,
                           i->name, OpcodeName(i->opcode), why);
    };
    if (i->shape != p.mm->shape) return bad("it changes the shape or dtype");
    if (i->opcode == Opcode::kClamp) {
      auto lo = IntScalarConstant(i->operands[0]), hi = IntScalarConstant(i->operands[2]);
      if (i->operands[1] != cur || !lo || !hi) return bad("clamp bounds must be scalar constants");
      p.ops.push_back({isa::BinOp::kMax, false, false, *lo, {}});
      p.ops.push_back({isa::BinOp::kMin, false, false, *hi, {}});
      p.opname += "+clamp";
      cur = i;
      continue;
    }
    EpiOp e;
    switch (i->opcode) {
      case Opcode::kAdd: e.op = isa::BinOp::kAdd; break;
      case Opcode::kSubtract: e.op = isa::BinOp::kSub; break;
      case Opcode::kMultiply: e.op = isa::BinOp::kMul; break;
      case Opcode::kMaximum: e.op = isa::BinOp::kMax; break;
      case Opcode::kMinimum: e.op = isa::BinOp::kMin; break;
      default: return bad("not add, subtract, multiply, maximum, minimum or clamp");
    }
    if (i->operands.size() != 2 || (i->operands[0] == cur && i->operands[1] == cur)) return bad("both operands are the result");
    const bool reversed = i->operands[1] == cur;
    const Instruction* other = i->operands[reversed ? 0 : 1];
    if (auto c = IntScalarConstant(other)) {
      e.imm = *c;
      e.reversed = reversed && e.op == isa::BinOp::kSub;
      p.opname += "+imm";
    } else if (other->opcode == Opcode::kBroadcast && other->operands[0]->opcode == Opcode::kParameter &&
               other->operands[0]->shape.rank() == 1 && other->dimensions == std::vector<int64_t>{rank - 1} &&
               e.op != isa::BinOp::kMax && e.op != isa::BinOp::kMin) {
      e.bias = true;
      e.reversed = reversed && e.op == isa::BinOp::kSub;
      int64_t param = other->operands[0]->parameter_number;
      if (param < 2 || param >= static_cast<int64_t>(inst.operands.size())) return bad("bad bias parameter");
      ASSIGN_OR_RETURN(e.operand, ctx.ValueView(inst.operands[param]));
      if (e.operand.dtype != DType::kS32) return bad("the bias must be s32");
      p.opname += "+bias";
    } else {
      return bad("the other operand must be a scalar constant or a bias broadcast along the last dim");
    }
    p.ops.push_back(e);
    cur = i;
  }
  if (cur != comp->root()) return Unimplemented("fusion '{}': the epilogue is not a single chain to the root", inst.name);
  p.opname += ")";
  return p;
}

// ---- the GEMM ----

struct KStep {
  int64_t lhs_off = 0;  // bytes from the chunk buffer
  int64_t k = 0;
  int64_t w_off = 0;    // bytes from the batch's weight base in the blob
};
struct Tile {
  int64_t col0 = 0, width = 0;
  std::vector<KStep> ks;
};
struct Chunk {
  int64_t b = 0, row0 = 0, rows = 0;  // dot: batch, first row, rows; conv: image, first output row, output rows
};

struct Gemm {
  bool conv = false;
  int64_t batches = 1, N = 0;
  std::vector<Tile> tiles;      // the same for every batch
  int64_t batch_wbytes = 0;     // weight blob bytes per batch
  // dot
  int64_t M = 0, K = 0;
  // convolution (NHWC)
  int64_t images = 0, H = 0, W = 0, C = 0, kh = 0, kw = 0, sh = 1, sw = 1, dh = 1, dw = 1, Ho = 0, Wo = 0;
  bool fused_rows = false;  // sh == sw: one matmul per k-step over the virtual width
};

// Accumulator rows a chunk of `rows` (dot rows or output rows) occupies.
int64_t AccRows(const Gemm& g, int64_t rows) {
  if (!g.conv) return rows;
  return g.fused_rows ? (rows - 1) * g.W + g.Wo : rows * g.Wo;
}
// Row stride of the accumulator rows in the out tile (virtual width).
int64_t VirtualWidth(const Gemm& g) { return g.fused_rows ? g.W : g.Wo; }
int64_t InRows(const Gemm& g, int64_t rows) { return (rows - 1) * g.sh + (g.kh - 1) * g.dh + 1; }
int64_t LhsBytes(const Gemm& g, int64_t rows) { return g.conv ? InRows(g, rows) * g.W * g.C : rows * g.K; }

StatusOr<Gemm> Describe(const Instruction& mm, const Literal& w, int64_t tile_cols, int64_t tile_rows,
                        std::vector<uint8_t>* blob) {
  Gemm g;
  const Shape& ls = mm.operands[0]->shape;
  const Shape& ws = w.shape();
  auto add_tiles = [&](int64_t col_base, int64_t cols, int64_t group) {
    for (int64_t c = 0; c < cols; c += tile_cols) {
      Tile t;
      t.col0 = col_base + c;
      t.width = std::min(tile_cols, cols - c);
      if (!g.conv) {
        for (int64_t k0 = 0; k0 < g.K; k0 += tile_rows) t.ks.push_back({k0, std::min(tile_rows, g.K - k0), 0});
      } else {
        const int64_t cg = ws.dims[2];
        for (int64_t i = 0; i < g.kh; ++i)
          for (int64_t j = 0; j < g.kw; ++j)
            for (int64_t c0 = 0; c0 < cg; c0 += tile_rows)
              t.ks.push_back({(i * g.dh * g.W + j * g.dw) * g.C + group * cg + c0, std::min(tile_rows, cg - c0), 0});
      }
      g.tiles.push_back(std::move(t));
    }
  };
  if (mm.opcode == Opcode::kDot) {
    const int64_t nb = static_cast<int64_t>(mm.dot_dims.lhs_batch.size());
    for (int64_t d = 0; d < nb; ++d) g.batches *= ls.dims[d];
    g.M = ls.dims[nb];
    g.K = ls.dims[nb + 1];
    g.N = ws.dims.back();
    add_tiles(0, g.N, 0);
  } else {
    const ConvDims& d = mm.conv_dims;
    const bool nhwc = d.input_batch == 0 && d.input_feature == 3 && d.input_spatial == std::vector<int64_t>{1, 2} &&
                      d.kernel_spatial == std::vector<int64_t>{0, 1} && d.kernel_input_feature == 2 &&
                      d.kernel_output_feature == 3 && d.output_batch == 0 && d.output_feature == 3 &&
                      d.output_spatial == std::vector<int64_t>{1, 2};
    if (!nhwc || mm.window.size() != 2 || mm.batch_group_count != 1)
      return Unimplemented("'{}': int8 convolutions are lowered in NHWC/HWIO form (b01f_01io->b01f) only", mm.name);
    for (const WindowDim& wd : mm.window)
      if (wd.base_dilation != 1 || wd.stride < 1 || wd.window_dilation < 1)
        return Unimplemented("'{}': int8 convolution with input dilation or a bad stride", mm.name);
    for (const WindowDim& wd : mm.window)
      if (wd.pad_lo != 0 || wd.pad_hi != 0)
        return Unimplemented("'{}': int8 convolutions with window padding are not lowered (int8-matmul makes the "
                             "padding a pad op)", mm.name);
    g.conv = true;
    g.images = ls.dims[0];
    g.H = ls.dims[1];
    g.W = ls.dims[2];
    g.C = ls.dims[3];
    g.kh = ws.dims[0];
    g.kw = ws.dims[1];
    g.sh = mm.window[0].stride;
    g.sw = mm.window[1].stride;
    g.dh = mm.window[0].window_dilation;
    g.dw = mm.window[1].window_dilation;
    g.Ho = mm.shape.dims[1];
    g.Wo = mm.shape.dims[2];
    g.N = ws.dims[3];
    g.fused_rows = g.sh == g.sw;
    const int64_t groups = mm.feature_group_count, og = g.N / groups;
    for (int64_t gi = 0; gi < groups; ++gi) add_tiles(gi * og, og, gi);
  }
  // Weight tiles [k][width] in (batch, tile, k-step) order.
  const int64_t per_batch = w.num_elements() / g.batches;
  const int8_t* src = w.data<int8_t>();
  for (int64_t b = 0; b < g.batches; ++b) {
    int64_t off = 0;
    for (size_t ti = 0; ti < g.tiles.size(); ++ti) {
      Tile& t = g.tiles[ti];
      int64_t s = 0;
      for (KStep& ks : t.ks) {
        ks.w_off = off;
        for (int64_t r = 0; r < ks.k; ++r)
          for (int64_t c = 0; c < t.width; ++c) {
            int64_t wrow;  // row of the [Kw, N] weight matrix
            if (!g.conv) {
              wrow = ks.lhs_off + r;
            } else {
              const int64_t cg = ws.dims[2], per_tap = (cg + tile_rows - 1) / tile_rows;
              const int64_t tap = s / per_tap, c0 = (s % per_tap) * tile_rows;
              wrow = tap * cg + c0 + r;  // HWIO flattened: (i*kw + j)*cg + cin
            }
            blob->push_back(static_cast<uint8_t>(src[b * per_batch + wrow * g.N + t.col0 + c]));
          }
        off += ks.k * t.width;
        ++s;
      }
    }
    g.batch_wbytes = off;
  }
  return g;
}

// ---- emission ----

struct Plan {
  int64_t rows = 0;                 // rows per chunk (dot rows or output rows)
  std::vector<std::pair<size_t, size_t>> groups;  // column groups: tiles [first, last)
  int64_t max_group_cols = 0, max_group_wbytes = 0;
};

int64_t GroupCols(const Gemm& g, std::pair<size_t, size_t> grp) {
  return g.tiles[grp.second - 1].col0 + g.tiles[grp.second - 1].width - g.tiles[grp.first].col0;
}

StatusOr<Plan> MakePlan(const Gemm& g, const ProgramEmitter& em, int mxus, const std::string& name) {
  const ChipConfig& chip = em.chip();
  const int64_t acc_rows = chip.accumulator.bytes / (4 * chip.mxu.cols);
  const int64_t budget = VmemBudget(em);
  const int64_t total_rows = g.conv ? g.Ho : g.M;
  Plan p;
  for (int64_t target = 1024; target >= 1; target /= 2) {
    // Rows per chunk: about `target` accumulator rows.
    int64_t rows = g.conv ? std::max<int64_t>(1, target / VirtualWidth(g)) : target;
    rows = std::min(rows, total_rows);
    const int64_t arows = AccRows(g, rows);
    if (arows > acc_rows) continue;
    const int64_t per_mxu = acc_rows / arows;  // tiles one MXU can hold at once
    const int64_t wbudget = budget / 2;
    p.groups.clear();
    p.max_group_cols = p.max_group_wbytes = 0;
    bool ok = true;
    for (size_t t = 0; t < g.tiles.size();) {
      size_t e = t;
      int64_t wb = 0;
      while (e < g.tiles.size() && static_cast<int64_t>(e - t) < per_mxu * mxus) {
        int64_t tb = 0;
        for (const KStep& ks : g.tiles[e].ks) tb += ks.k * g.tiles[e].width;
        if (e > t && wb + tb > wbudget) break;
        wb += tb;
        ++e;
      }
      if (wb > wbudget) ok = false;
      p.groups.push_back({t, e});
      p.max_group_cols = std::max(p.max_group_cols, GroupCols(g, {t, e}));
      p.max_group_wbytes = std::max(p.max_group_wbytes, wb);
      t = e;
    }
    const int64_t need = p.max_group_wbytes + 2 * (LhsBytes(g, rows) + 256) + 2 * AccRows(g, rows) * p.max_group_cols * 4 +
                         g.N * 4 + 4096;
    if (!ok || need > budget) continue;
    p.rows = rows;
    return p;
  }
  return Unimplemented("'{}': the int8 matmul does not fit the chip (weights of one column tile or one chunk of "
                       "rows exceed VMEM or the accumulators)", name);
}

class Int8Emitter {
 public:
  Int8Emitter(LoweringContext& ctx, const Gemm& g, const Plan& plan, const Parsed& parsed, const View& lhs,
              const View& wblob, const View& out)
      : ctx_(ctx), em_(ctx.em()), g_(g), plan_(plan), parsed_(parsed), lhs_(lhs), wblob_(wblob), out_(out) {
    mxus_ = std::min<int>(em_.Mxus(), kMaxMxus);
    const int engines = em_.DmaEngines();
    e_lhs_ = 0;
    e_w_ = std::min(1, engines - 1);
    e_st_ = std::min(2, engines - 1);
    for (const EpiOp& e : parsed.ops) has_bias_ |= e.bias;
  }
  Status Run();

 private:
  struct Step {
    size_t grp;
    Chunk ch;
  };
  Status EmitCore(int core, const std::vector<Chunk>& chunks);
  void LoadLhs(int core, const Step& st, int64_t buf, Sync sync);
  void StoreOut(int core, const Step& st, int64_t tile, Sync sync);
  void Nops(int core, Op op, int unit, Sync sync, int n) {
    for (int i = 0; i < n; ++i) em_.Emit(core, op, unit, {}, sync);
  }

  LoweringContext& ctx_;
  ProgramEmitter& em_;
  const Gemm& g_;
  const Plan& plan_;
  const Parsed& parsed_;
  View lhs_, wblob_, out_;
  int mxus_ = 1, e_lhs_ = 0, e_w_ = 0, e_st_ = 0;
  bool has_bias_ = false;
};

void Int8Emitter::LoadLhs(int core, const Step& st, int64_t buf, Sync sync) {
  View v;
  if (!g_.conv) {
    v = lhs_.SubRange(0, st.ch.b, 1).SubRange(1, st.ch.row0, st.ch.rows);
    v.dims = {st.ch.rows, g_.K};
    v.strides = {v.strides[1], v.strides[2]};
  } else {
    v = lhs_.SubRange(0, st.ch.b, 1).SubRange(1, st.ch.row0 * g_.sh, InRows(g_, st.ch.rows));
  }
  DmaStrided(em_, core, e_lhs_, true, v, buf, DenseStrides(v.dims, 1), sync);
}

void Int8Emitter::StoreOut(int core, const Step& st, int64_t tile, Sync sync) {
  const auto grp = plan_.groups[st.grp];
  const int64_t col0 = g_.tiles[grp.first].col0, ncols = GroupCols(g_, grp), ng = plan_.max_group_cols;
  View v;
  std::vector<int64_t> vs;
  if (!g_.conv) {
    v = out_.SubRange(0, st.ch.b, 1).SubRange(1, st.ch.row0, st.ch.rows).SubRange(2, col0, ncols);
    v.dims = {st.ch.rows, ncols};
    v.strides = {v.strides[1], v.strides[2]};
    vs = {ng * 4, 4};
  } else {
    v = out_.SubRange(0, st.ch.b, 1).SubRange(1, st.ch.row0, st.ch.rows).SubRange(3, col0, ncols);
    v.dims = {st.ch.rows, g_.Wo, ncols};
    v.strides = {v.strides[1], v.strides[2], v.strides[3]};
    vs = {VirtualWidth(g_) * ng * 4, ng * 4, 4};
  }
  DmaStrided(em_, core, e_st_, false, v, tile, vs, sync);
}

Status Int8Emitter::EmitCore(int c, const std::vector<Chunk>& chunks) {
  const int64_t s8 = static_cast<int64_t>(DType::kS8), s32 = static_cast<int64_t>(DType::kS32);
  const int64_t ng = plan_.max_group_cols;
  const int64_t acc_chunk = AccRows(g_, plan_.rows);
  auto alloc = [&](int64_t bytes) { return em_.AllocVmem(c, std::max<int64_t>(bytes, 64), 256); };
  ASSIGN_OR_RETURN(int64_t wbuf, alloc(plan_.max_group_wbytes));
  int64_t lbuf[2], obuf[2];
  for (int s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(lbuf[s], alloc(LhsBytes(g_, plan_.rows)));
    ASSIGN_OR_RETURN(obuf[s], alloc(acc_chunk * ng * 4));
  }
  std::vector<int64_t> bias(parsed_.ops.size(), -1);  // VMEM of each bias op's vector
  int biases = 0;
  for (size_t i = 0; i < parsed_.ops.size(); ++i)
    if (parsed_.ops[i].bias) {
      ASSIGN_OR_RETURN(bias[i], alloc(g_.N * 4));
      ++biases;
    }
  auto sem = [&]() -> StatusOr<int> {
    ASSIGN_OR_RETURN(int s, em_.AllocSem(c));
    return s;
  };
  int lhs_ready[kMaxMxus], out_free[kMaxMxus], w_ready[kMaxMxus], lhs_free[2], acc_done[2];
  for (int u = 0; u < mxus_; ++u) {
    ASSIGN_OR_RETURN(lhs_ready[u], sem());
    ASSIGN_OR_RETURN(out_free[u], sem());
    ASSIGN_OR_RETURN(w_ready[u], sem());
  }
  for (int s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(lhs_free[s], sem());
    ASSIGN_OR_RETURN(acc_done[s], sem());
  }
  ASSIGN_OR_RETURN(int w_free, sem());
  ASSIGN_OR_RETURN(int ep_done, sem());
  ASSIGN_OR_RETURN(int bias_loaded, sem());

  // Steps: column groups outside (weights loaded once per group), chunks inside.
  std::vector<Step> steps;
  for (size_t gi = 0; gi < plan_.groups.size(); ++gi)
    for (const Chunk& ch : chunks) steps.push_back({gi, ch});
  const int S = static_cast<int>(steps.size());
  auto first_of_group = [&](int s) { return s == 0 || steps[s].grp != steps[s - 1].grp; };
  auto batch_of = [&](int s) { return g_.conv ? 0 : steps[s].ch.b; };
  // The weights of step s's group (and batch, for per-batch dot weights).
  auto load_weights = [&](int s, bool wait_free) {
    if (wait_free) Nops(c, Op::kDmaNop, e_w_, {.wait = w_free}, mxus_);
    const auto grp = plan_.groups[steps[s].grp];
    const int64_t off = batch_of(s) * g_.batch_wbytes + g_.tiles[grp.first].ks[0].w_off;
    int64_t bytes = 0;
    for (size_t t = grp.first; t < grp.second; ++t)
      for (const KStep& ks : g_.tiles[t].ks) bytes += ks.k * g_.tiles[t].width;
    View v = View::Dense(wblob_.base + off, DType::kS8, {bytes});
    DmaStrided(em_, c, e_w_, true, v, wbuf, {1}, {});
    for (int u = 0; u < mxus_; ++u) em_.Emit(c, Op::kDmaNop, e_w_, {}, {.signal = w_ready[u]});
  };
  // Weights change between steps when the group or (dot) the batch changes.
  auto new_weights = [&](int s) {
    return first_of_group(s) || (g_.batches > 1 && !g_.conv && steps[s].ch.b != steps[s - 1].ch.b);
  };
  auto last_weights = [&](int s) { return s + 1 < S && new_weights(s + 1); };

  for (size_t i = 0; i < parsed_.ops.size(); ++i)
    if (parsed_.ops[i].bias) DmaStrided(em_, c, e_w_, true, parsed_.ops[i].operand, bias[i], {4}, {.signal = bias_loaded});
  load_weights(0, false);
  auto load = [&](int s) {
    if (s >= 2) Nops(c, Op::kDmaNop, e_lhs_, {.wait = lhs_free[s % 2]}, mxus_);
    LoadLhs(c, steps[s], lbuf[s % 2], {});
    for (int u = 0; u < mxus_; ++u) em_.Emit(c, Op::kDmaNop, e_lhs_, {}, {.signal = lhs_ready[u]});
  };
  load(0);
  bool bias_waited = false;
  for (int s = 0; s < S; ++s) {
    const Step& st = steps[s];
    const int slot = s % 2;
    if (s + 1 < S) load(s + 1);
    const auto grp = plan_.groups[st.grp];
    const int64_t col0 = g_.tiles[grp.first].col0, ncols = GroupCols(g_, grp);
    const int64_t group_w0 = g_.tiles[grp.first].ks[0].w_off;
    const int64_t arows = AccRows(g_, st.ch.rows);
    // ---- matmuls ----
    for (int u = 0; u < mxus_; ++u) {
      bool waited_lhs = false, waited_w = !new_weights(s);
      int q = 0;
      for (size_t t = grp.first + u; t < grp.second; t += mxus_, ++q) {
        const Tile& tile = g_.tiles[t];
        for (size_t ki = 0; ki < tile.ks.size(); ++ki) {
          const KStep& ks = tile.ks[ki];
          Sync sw;
          if (!waited_w) sw.wait = w_ready[u], waited_w = true;
          em_.Emit(c, Op::kMxuLoadWeights, u,
                   {{"src", wbuf + ks.w_off - group_w0}, {"stride", tile.width}, {"k", ks.k}, {"n", tile.width},
                    {"dtype", s8}},
                   sw);
          // One matmul over the chunk, or one per output row.
          const int64_t nmm = g_.conv && !g_.fused_rows ? st.ch.rows : 1;
          for (int64_t r = 0; r < nmm; ++r) {
            Sync sm;
            if (!waited_lhs) sm.wait = lhs_ready[u], waited_lhs = true;
            const int64_t lhs = lbuf[slot] + ks.lhs_off + r * g_.sh * g_.W * g_.C;
            const int64_t stride = g_.conv ? g_.sw * g_.C : g_.K;
            const int64_t m = g_.conv && !g_.fused_rows ? g_.Wo : arows;
            em_.Emit(c, Op::kMxuMatmul, u,
                     {{"lhs", lhs}, {"stride", stride}, {"m", m}, {"acc", q * acc_chunk + r * g_.Wo},
                      {"accumulate", ki == 0 ? 0 : 1}, {"dtype", s8}},
                     sm);
          }
        }
      }
      if (!waited_lhs) em_.Emit(c, Op::kMxuNop, u, {}, {.wait = lhs_ready[u]});
      if (!waited_w) em_.Emit(c, Op::kMxuNop, u, {}, {.wait = w_ready[u]});
      if (s + 2 < S) em_.Emit(c, Op::kMxuNop, u, {}, {.signal = lhs_free[slot]});
      if (last_weights(s)) em_.Emit(c, Op::kMxuNop, u, {}, {.signal = w_free});
    }
    // ---- read-out (s32) into the out tile: row a of the accumulators -> row a ----
    for (int u = 0; u < mxus_; ++u) {
      int q = 0;
      bool waited = s < 2;
      for (size_t t = grp.first + u; t < grp.second; t += mxus_, ++q) {
        const Tile& tile = g_.tiles[t];
        Sync sy;
        if (!waited) sy.wait = out_free[u], waited = true;
        em_.Emit(c, Op::kMxuReadAcc, u,
                 {{"dst", obuf[slot] + (tile.col0 - col0) * 4}, {"stride", ng * 4}, {"acc", q * acc_chunk},
                  {"m", arows}, {"n", tile.width}, {"dtype", s32}},
                 sy);
      }
      em_.Emit(c, Op::kMxuNop, u, {}, {.wait = waited ? -1 : out_free[u], .signal = acc_done[slot]});
    }
    // ---- epilogue (VPU, s32) ----
    int store_wait = acc_done[slot];
    int store_waits = mxus_;
    if (!parsed_.ops.empty()) {
      Nops(c, Op::kVpuNop, 0, {.wait = acc_done[slot]}, mxus_);
      if (!bias_waited) {
        Nops(c, Op::kVpuNop, 0, {.wait = bias_loaded}, biases);
        bias_waited = true;
      }
      const int64_t tile = obuf[slot];
      for (size_t i = 0; i < parsed_.ops.size(); ++i) {
        const EpiOp& e = parsed_.ops[i];
        const int64_t op = static_cast<int64_t>(e.op);
        if (e.bias) {
          const int64_t brow = bias[i] + col0 * 4;
          em_.Emit(c, Op::kVpuBinary, 0,
                   {{"op", op}, {"dtype", s32}, {"dst", tile}, {"a", e.reversed ? brow : tile},
                    {"b", e.reversed ? tile : brow}, {"rows", arows}, {"cols", ncols}, {"ds", ng * 4},
                    {"as", e.reversed ? 0 : ng * 4}, {"bs", e.reversed ? ng * 4 : 0}});
        } else if (e.reversed) {  // imm - x = (x * -1) + imm
          em_.Emit(c, Op::kVpuBinaryImm, 0,
                   {{"op", static_cast<int64_t>(isa::BinOp::kMul)}, {"dtype", s32}, {"dst", tile}, {"a", tile},
                    {"imm", -1}, {"rows", arows}, {"cols", ncols}, {"ds", ng * 4}, {"as", ng * 4}});
          em_.Emit(c, Op::kVpuBinaryImm, 0,
                   {{"op", static_cast<int64_t>(isa::BinOp::kAdd)}, {"dtype", s32}, {"dst", tile}, {"a", tile},
                    {"imm", e.imm}, {"rows", arows}, {"cols", ncols}, {"ds", ng * 4}, {"as", ng * 4}});
        } else {
          em_.Emit(c, Op::kVpuBinaryImm, 0,
                   {{"op", op}, {"dtype", s32}, {"dst", tile}, {"a", tile}, {"imm", e.imm}, {"rows", arows},
                    {"cols", ncols}, {"ds", ng * 4}, {"as", ng * 4}});
        }
      }
      em_.Emit(c, Op::kVpuNop, 0, {}, {.signal = ep_done});
      store_wait = ep_done;
      store_waits = 1;
    }
    // ---- store ----
    Nops(c, Op::kDmaNop, e_st_, {.wait = store_wait}, store_waits);
    StoreOut(c, st, obuf[slot], {});
    if (s + 2 < S)
      for (int u = 0; u < mxus_; ++u) em_.Emit(c, Op::kDmaNop, e_st_, {}, {.signal = out_free[u]});
    if (last_weights(s)) load_weights(s + 1, true);
  }
  return OkStatus();
}

Status Int8Emitter::Run() {
  // Row chunks, split over the cores.
  std::vector<Chunk> all;
  const int64_t images = g_.conv ? g_.images : g_.batches, rows = g_.conv ? g_.Ho : g_.M;
  for (int64_t b = 0; b < images; ++b)
    for (int64_t r = 0; r < rows; r += plan_.rows) all.push_back({b, r, std::min(plan_.rows, rows - r)});
  const int cores = static_cast<int>(std::min<int64_t>(em_.Cores(), static_cast<int64_t>(all.size())));
  for (int c = 0; c < cores; ++c) {
    const size_t a = all.size() * c / cores, z = all.size() * (c + 1) / cores;
    std::vector<Chunk> mine(all.begin() + a, all.begin() + z);
    if (!mine.empty()) RETURN_IF_ERROR(EmitCore(c, mine));
  }
  return OkStatus();
}

}  // namespace

bool IsInt8Matmul(const Instruction& inst) {
  const Instruction* mm = MatmulOf(inst);
  return mm && mm->operands.size() == 2 && mm->operands[0]->shape.dtype == DType::kS8 &&
         mm->operands[1]->shape.dtype == DType::kS8 && mm->shape.dtype == DType::kS32;
}

Status EmitInt8Matmul(LoweringContext& ctx, const Instruction& inst, const View& out) {
  if (ctx.chip().mxu.s8_rate <= 0)
    return Unimplemented("'{}': the chip's MXU has no int8 mode (mxu.s8_rate = 0)", inst.name);
  ASSIGN_OR_RETURN(Parsed p, Parse(ctx, inst));
  const Instruction* lhs = p.mm == &inst ? inst.operands[0] : inst.operands[0];
  const Instruction* rhs = inst.operands[1];
  const Literal* w = ctx.ConstantValue(rhs);
  if (!w) return Unimplemented("'{}': int8 matmuls need constant weights (operand '{}' is computed)", inst.name, rhs->name);
  if (p.mm->opcode == Opcode::kDot) {
    const DotDims& d = p.mm->dot_dims;
    const int64_t nb = static_cast<int64_t>(d.lhs_batch.size());
    if (p.mm->operands[0]->shape.rank() != nb + 2 || d.lhs_contracting != std::vector<int64_t>{nb + 1})
      return Unimplemented("'{}': int8 dot is not in canonical form", inst.name);
  }
  std::vector<uint8_t> blob;
  const ChipConfig& chip = ctx.chip();
  ASSIGN_OR_RETURN(Gemm g, Describe(*p.mm, *w, chip.mxu.cols, chip.mxu.rows, &blob));
  ASSIGN_OR_RETURN(Plan plan, MakePlan(g, ctx.em(), std::min<int>(ctx.em().Mxus(), kMaxMxus), inst.name));
  Literal bl(Shape(DType::kS8, {static_cast<int64_t>(blob.size())}));
  std::copy(blob.begin(), blob.end(), bl.mutable_bytes().begin());
  ASSIGN_OR_RETURN(View wblob, ctx.AddConstant("int8-weights:" + rhs->name, bl));
  ASSIGN_OR_RETURN(View lv, ctx.ValueView(lhs));
  if (!g.conv) {
    // [B.., M, K] -> [B, M, K]
    ASSIGN_OR_RETURN(lv, lv.Reshape({g.batches, g.M, g.K}));
  }
  View ov = out;
  if (!g.conv) {
    ASSIGN_OR_RETURN(ov, out.Reshape({g.batches, g.M, g.N}));
  }
  ctx.em().BeginKernel(inst.name, p.opname);
  Int8Emitter emitter(ctx, g, plan, p, lv, wblob, ov);
  RETURN_IF_ERROR(emitter.Run());
  return ctx.em().EndKernel();
}

}  // namespace xtpu::codegen
