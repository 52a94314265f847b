// The GEMM engine of the matrix-unit kernels: planning (column groups, MXU
// grid, row chunks, core split) and the software-pipelined emission. See
// mxu_gemm.h for the schedule.
#include "xtpu/compiler/codegen/mxu_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "xtpu/compiler/codegen/vpu_common.h"
#include "xtpu/support/check.h"

namespace xtpu::codegen::mxu {

using isa::Opcode;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

int PrecisionPlanes(int passes) { return passes >= 6 ? 3 : passes >= 3 ? 2 : 1; }

std::vector<std::pair<int, int>> PrecisionProducts(int passes) {
  const int planes = PrecisionPlanes(passes);
  std::vector<std::pair<int, int>> p;
  for (int w = planes - 1; w >= 0; --w)
    for (int l = planes - 1 - w; l >= 0; --l) p.push_back({l, w});
  return p;
}

void SplitBf16(float x, int planes, uint16_t out[3]) {
  float rest = x;
  for (int i = 0; i < 3; ++i) {
    bf16 h = bf16::FromFloat(rest);
    out[i] = i < planes ? h.bits : 0;
    rest = rest - h.ToFloat();
  }
}

int Dma(ProgramEmitter& em, int core, int engine, bool load, const View& hbm, int64_t vmem,
        const std::vector<int64_t>& vmem_strides, Sync sync) {
  if (!em.kernels().empty()) em.mutable_kernels().back().hbm_bytes += hbm.bytes();
  return DmaStrided(em, core, engine, load, hbm, vmem, vmem_strides, sync);
}

void EmitEpilogueOps(ProgramEmitter& em, int core, const std::vector<EpilogueOp>& epilogue, int64_t tile,
                     int64_t rows, int64_t ncols, int64_t row_stride, int64_t bias_vmem, int64_t residual_vmem,
                     int wait, int residual_free, int done_signal) {
  int pending_wait = wait;
  auto sync = [&]() {
    Sync s{.wait = pending_wait};
    pending_wait = -1;
    return s;
  };
  const int64_t f32 = static_cast<int64_t>(DType::kF32);
  for (const EpilogueOp& e : epilogue) {
    const int64_t op = static_cast<int64_t>(e.op);
    if (e.kind == EpilogueOp::kBinaryImm) {
      if (!e.reversed) {
        em.Emit(core, Opcode::kVpuBinaryImm, 0,
                {{"op", op}, {"dtype", f32}, {"dst", tile}, {"a", tile}, {"imm", F32Bits(e.imm)}, {"rows", rows},
                 {"cols", ncols}, {"ds", row_stride}, {"as", row_stride}},
                sync());
      } else {
        // imm op x: x' = imm - x  as (x * -1) + imm for sub; div needs a row of imm.
        XTPU_CHECK(e.op == isa::BinOp::kSub);
        em.Emit(core, Opcode::kVpuBinaryImm, 0,
                {{"op", static_cast<int64_t>(isa::BinOp::kMul)}, {"dtype", f32}, {"dst", tile}, {"a", tile},
                 {"imm", F32Bits(-1.0f)}, {"rows", rows}, {"cols", ncols}, {"ds", row_stride}, {"as", row_stride}},
                sync());
        em.Emit(core, Opcode::kVpuBinaryImm, 0,
                {{"op", static_cast<int64_t>(isa::BinOp::kAdd)}, {"dtype", f32}, {"dst", tile}, {"a", tile},
                 {"imm", F32Bits(e.imm)}, {"rows", rows}, {"cols", ncols}, {"ds", row_stride}, {"as", row_stride}});
      }
    } else {
      bool bias = e.kind == EpilogueOp::kBias;
      int64_t other = bias ? bias_vmem : residual_vmem;
      int64_t other_stride = bias ? 0 : row_stride;
      int64_t a = e.reversed ? other : tile, b = e.reversed ? tile : other;
      int64_t as = e.reversed ? other_stride : row_stride, bs = e.reversed ? row_stride : other_stride;
      em.Emit(core, Opcode::kVpuBinary, 0,
              {{"op", op}, {"dtype", f32}, {"dst", tile}, {"a", a}, {"b", b}, {"rows", rows}, {"cols", ncols},
               {"ds", row_stride}, {"as", as}, {"bs", bs}},
              sync());
    }
  }
  if (pending_wait >= 0) em.Emit(core, Opcode::kVpuNop, 0, {}, sync());
  if (residual_free >= 0) em.Emit(core, Opcode::kVpuNop, 0, {}, {.signal = residual_free});
  if (done_signal >= 0) em.Emit(core, Opcode::kVpuNop, 0, {}, {.signal = done_signal});
}

namespace {

constexpr int kEngineLhs = 0, kEngineWeights = 1, kEngineStore = 2, kEngineResidual = 3;

struct Plan {
  int64_t ng = 0;      // columns per group (multiple of 128 unless N is smaller)
  int64_t groups = 0;  // per batch
  int64_t tg = 0;      // tiles of a full group
  int pn = 1, pm = 1;  // MXU grid
  int64_t tpm = 1;     // tiles per MXU column
  int64_t ms_max = 0;  // rows per MXU and tile
  int slots = 1;
  bool split_cols = false;
  int64_t traffic = 0;
};

struct Step {
  int64_t b, g, c, kc;
  int gi;  // index of (b, g) in the core's group list
};

class GemmEmitter {
 public:
  GemmEmitter(LoweringContext& ctx, const GemmJob& job, const Plan& plan)
      : ctx_(ctx), em_(ctx.em()), job_(job), src_(*job.source), plan_(plan) {
    passes_ = ctx.precision_passes();
    planes_ = PrecisionPlanes(passes_);
    products_ = PrecisionProducts(passes_);
    kw_ = src_.WeightRows();
    tile_ = ctx.chip().mxu.cols;
    n_active_ = plan.pm * plan.pn;
    for (const EpilogueOp& e : job.epilogue) {
      has_bias_ |= e.kind == EpilogueOp::kBias;
      has_res_ |= e.kind == EpilogueOp::kResidual;
    }
  }

  Status Run(const View& const_panel);

 private:
  // Per-core state.
  struct Core {
    int core = 0;
    std::vector<std::pair<int64_t, int64_t>> groups;  // (b, g)
    std::vector<Step> steps;
    int64_t wpanel[2] = {-1, -1}, wstage = -1, wtemp = -1;
    int64_t stage[2] = {-1, -1}, temp = -1;
    int64_t plane[2][3] = {{-1, -1, -1}, {-1, -1, -1}};
    int64_t out[2] = {-1, -1}, res[2] = {-1, -1}, bias = -1;
    int st_free, st_loaded, pl_ready[2], pl_free[2], w_ready[4], w_free[4], ws_free = -1, ws_loaded = -1;
    int acc_done[2], out_free[2], ep_done = -1, res_loaded = -1, res_free = -1, bias_loaded = -1;
    bool bias_waited = false;
    int pieces = 1;
    int64_t readouts = 0;
    std::vector<int64_t> gfirst, glast;  // first and last row chunk of each group
  };

  Status Alloc(Core& k);
  void EmitWeights(Core& k, int gi, int piece, const View& const_panel);
  void EmitConvert(Core& k, int s);
  void EmitMatmuls(Core& k, int s);
  void EmitReadout(Core& k, int s);
  void EmitResidualLoad(Core& k, int s);
  void Nops(int core, isa::UnitKind kind, int unit, Sync sync, int n);
  int64_t GroupCols(int64_t g) const { return std::min(plan_.ng, src_.N() - g * plan_.ng); }
  int Slot(int gi) const { return gi % plan_.slots; }
  int PieceOf(const Core& k, int64_t kc) const {
    return static_cast<int>(kc * k.pieces / src_.NumKChunks());
  }
  std::pair<int64_t, int64_t> PieceRows(const Core& k, int piece) const;
  bool FreesWeights(const Core& k, int gi) const {
    return gi + plan_.slots < static_cast<int>(k.groups.size());
  }

  LoweringContext& ctx_;
  ProgramEmitter& em_;
  const GemmJob& job_;
  const GemmSource& src_;
  Plan plan_;
  int passes_ = 1, planes_ = 1;
  std::vector<std::pair<int, int>> products_;
  int64_t kw_ = 0, tile_ = 128;
  int n_active_ = 1;
  bool has_bias_ = false, has_res_ = false;
};

void GemmEmitter::Nops(int core, isa::UnitKind kind, int unit, Sync sync, int n) {
  Opcode op = kind == isa::UnitKind::kDma ? Opcode::kDmaNop
              : kind == isa::UnitKind::kMxu ? Opcode::kMxuNop
                                            : Opcode::kVpuNop;
  for (int i = 0; i < n; ++i) em_.Emit(core, op, unit, {}, sync);
}

std::pair<int64_t, int64_t> GemmEmitter::PieceRows(const Core& k, int piece) const {
  int64_t lo = kw_, hi = 0;
  for (int64_t kc = 0; kc < src_.NumKChunks(); ++kc) {
    if (PieceOf(k, kc) != piece) continue;
    for (const KStep& ks : src_.KSteps(kc)) {
      lo = std::min(lo, ks.wrow);
      hi = std::max(hi, ks.wrow + ks.k);
    }
  }
  return {lo, std::max(lo, hi)};
}

Status GemmEmitter::Alloc(Core& k) {
  const int c = k.core;
  auto alloc = [&](int64_t bytes) { return em_.AllocVmem(c, std::max<int64_t>(bytes, 64), 256); };
  const int64_t wbytes = planes_ * kw_ * plan_.ng * 2;
  for (int s = 0; s < plan_.slots; ++s) {
    ASSIGN_OR_RETURN(k.wpanel[s], alloc(wbytes));
  }
  if (!src_.ConstantWeights()) {
    ASSIGN_OR_RETURN(k.wstage, alloc(kw_ * plan_.ng * 4));
    if (planes_ > 1) {
      ASSIGN_OR_RETURN(k.wtemp, alloc(kw_ * plan_.ng * 4));
    }
  }
  const int64_t out_bytes = plan_.pm * plan_.ms_max * plan_.ng * 4;
  for (int s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(k.out[s], alloc(out_bytes));
  }
  if (has_res_)
    for (int s = 0; s < 2; ++s) {
      ASSIGN_OR_RETURN(k.res[s], alloc(out_bytes));
    }
  if (has_bias_) {
    ASSIGN_OR_RETURN(k.bias, alloc(src_.Batches() * src_.N() * 4));
  }
  for (int s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(k.stage[s], alloc(src_.StagingBytes()));
  }
  if (planes_ > 1) {
    ASSIGN_OR_RETURN(k.temp, alloc(src_.StagingBytes()));
  }
  const int64_t plane_bytes = CeilDiv(src_.PlaneBytes(), 4096) * 4096;
  for (int s = 0; s < 2; ++s)
    for (int p = 0; p < planes_; ++p) {
      ASSIGN_OR_RETURN(k.plane[s][p], alloc(plane_bytes));
    }
  auto sem = [&](int* out) -> Status {
    ASSIGN_OR_RETURN(*out, em_.AllocSem(c));
    return OkStatus();
  };
  RETURN_IF_ERROR(sem(&k.st_free));
  RETURN_IF_ERROR(sem(&k.st_loaded));
  for (int s = 0; s < 2; ++s) {
    RETURN_IF_ERROR(sem(&k.pl_ready[s]));
    RETURN_IF_ERROR(sem(&k.pl_free[s]));
    RETURN_IF_ERROR(sem(&k.acc_done[s]));
    RETURN_IF_ERROR(sem(&k.out_free[s]));
  }
  k.pieces = 1;
  if (plan_.slots == 1 && k.groups.size() > 1 && src_.ConstantWeights())
    k.pieces = static_cast<int>(std::min<int64_t>(4, src_.NumKChunks()));
  for (int i = 0; i < plan_.slots * k.pieces; ++i) {
    RETURN_IF_ERROR(sem(&k.w_ready[i]));
    RETURN_IF_ERROR(sem(&k.w_free[i]));
  }
  if (!src_.ConstantWeights()) {
    RETURN_IF_ERROR(sem(&k.ws_free));
    RETURN_IF_ERROR(sem(&k.ws_loaded));
  }
  if (!job_.epilogue.empty()) RETURN_IF_ERROR(sem(&k.ep_done));
  if (has_res_) {
    RETURN_IF_ERROR(sem(&k.res_loaded));
    RETURN_IF_ERROR(sem(&k.res_free));
  }
  if (has_bias_) RETURN_IF_ERROR(sem(&k.bias_loaded));
  return OkStatus();
}

// Loads piece `piece` of group gi's weight panel into its slot; the MXUs'
// first use of the piece waits on w_ready (one credit per active MXU).
void GemmEmitter::EmitWeights(Core& k, int gi, int piece, const View& const_panel) {
  const int c = k.core;
  const auto [b, g] = k.groups[gi];
  const int slot = Slot(gi);
  const int wi = slot * k.pieces + piece;
  const bool wait_free = gi >= plan_.slots;  // the slot (piece) held an earlier group
  const int64_t panel = k.wpanel[slot];
  const int64_t ng = plan_.ng, ncols = GroupCols(g);
  if (src_.ConstantWeights()) {
    auto [r0, r1] = PieceRows(k, piece);
    if (wait_free) Nops(c, isa::UnitKind::kDma, kEngineWeights, {.wait = k.w_free[wi]}, n_active_);
    for (int p = 0; p < planes_; ++p) {
      // Panel layout in HBM: [batch][group][plane][Kw][Ng] bf16.
      int64_t off = (((b * plan_.groups + g) * planes_ + p) * kw_ + r0) * ng * 2;
      View v = View::Dense(const_panel.base + off, DType::kBF16, {(r1 - r0) * ng});
      Sync s;
      if (p == planes_ - 1) s.signal = k.w_ready[wi];
      Dma(em_, c, kEngineWeights, true, v, panel + p * kw_ * ng * 2 + r0 * ng * 2, {2}, s);
    }
    Nops(c, isa::UnitKind::kDma, kEngineWeights, {.signal = k.w_ready[wi]}, n_active_ - 1);
    return;
  }
  // Non-constant weights: f32 [Kw, ncols] -> wstage -> VPU -> bf16 planes.
  View rhs = src_.RhsView().SubRange(0, b, 1);
  rhs = rhs.SubRange(2, g * ng, ncols);
  std::vector<int64_t> dims = {kw_, ncols};
  rhs.dims = {rhs.dims[1], rhs.dims[2]};
  rhs.strides = {rhs.strides[1], rhs.strides[2]};
  Dma(em_, c, kEngineWeights, true, rhs, k.wstage, {ng * 4, 4}, {.wait = k.ws_free, .signal = k.ws_loaded});
  em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.ws_loaded});
  if (wait_free) Nops(c, isa::UnitKind::kVpu, 0, {.wait = k.w_free[wi]}, n_active_);
  const int64_t bf = static_cast<int64_t>(DType::kBF16), f32 = static_cast<int64_t>(DType::kF32);
  for (int p = 0; p < planes_; ++p) {
    int64_t dst = panel + p * kw_ * ng * 2;
    if (p > 0) {
      int64_t prev = panel + (p - 1) * kw_ * ng * 2;
      em_.Emit(c, Opcode::kVpuConvert, 0,
               {{"to", f32}, {"from", bf}, {"dst", k.wtemp}, {"src", prev}, {"rows", kw_}, {"cols", ncols},
                {"ds", ng * 4}, {"ss", ng * 2}});
      em_.Emit(c, Opcode::kVpuBinary, 0,
               {{"op", static_cast<int64_t>(isa::BinOp::kSub)}, {"dtype", f32}, {"dst", k.wstage}, {"a", k.wstage},
                {"b", k.wtemp}, {"rows", kw_}, {"cols", ncols}, {"ds", ng * 4}, {"as", ng * 4}, {"bs", ng * 4}});
    }
    em_.Emit(c, Opcode::kVpuConvert, 0,
             {{"to", bf}, {"from", f32}, {"dst", dst}, {"src", k.wstage}, {"rows", kw_}, {"cols", ncols},
              {"ds", ng * 2}, {"ss", ng * 4}});
  }
  em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = k.ws_free});
  Nops(c, isa::UnitKind::kVpu, 0, {.signal = k.w_ready[wi]}, n_active_);
}

void GemmEmitter::EmitConvert(Core& k, int s) {
  const int c = k.core;
  const Step& st = k.steps[s];
  const int slot = s % 2;
  Nops(c, isa::UnitKind::kVpu, 0, {.wait = k.pl_free[slot]}, n_active_);
  em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.st_loaded});
  std::vector<ConvertRect> rects;
  std::vector<ZeroRect> zeros;
  src_.Converts(st.b, st.c, st.kc, &rects, &zeros);
  const int64_t bf = static_cast<int64_t>(DType::kBF16), f32 = static_cast<int64_t>(DType::kF32);
  const int64_t s32 = static_cast<int64_t>(DType::kS32);
  const int64_t stage = k.stage[s % 2];
  for (int p = 0; p < planes_; ++p) {
    for (const ZeroRect& z : zeros) {
      em_.Emit(c, Opcode::kVpuBinaryImm, 0,
               {{"op", static_cast<int64_t>(isa::BinOp::kAnd)}, {"dtype", s32}, {"dst", k.plane[slot][p] + z.dst},
                {"a", k.plane[slot][p] + z.dst}, {"imm", 0}, {"rows", z.rows}, {"cols", z.words}, {"ds", z.ds},
                {"as", z.ds}});
    }
  }
  for (const ConvertRect& r : rects) {
    for (int p = 0; p < planes_; ++p) {
      if (p > 0) {
        em_.Emit(c, Opcode::kVpuConvert, 0,
                 {{"to", f32}, {"from", bf}, {"dst", k.temp + r.src}, {"src", k.plane[slot][p - 1] + r.dst},
                  {"rows", r.rows}, {"cols", r.cols}, {"ds", r.ss}, {"ss", r.ds}});
        em_.Emit(c, Opcode::kVpuBinary, 0,
                 {{"op", static_cast<int64_t>(isa::BinOp::kSub)}, {"dtype", f32}, {"dst", stage + r.src},
                  {"a", stage + r.src}, {"b", k.temp + r.src}, {"rows", r.rows}, {"cols", r.cols}, {"ds", r.ss},
                  {"as", r.ss}, {"bs", r.ss}});
      }
      em_.Emit(c, Opcode::kVpuConvert, 0,
               {{"to", bf}, {"from", f32}, {"dst", k.plane[slot][p] + r.dst}, {"src", stage + r.src},
                {"rows", r.rows}, {"cols", r.cols}, {"ds", r.ds}, {"ss", r.ss}});
    }
  }
  em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = k.st_free});
  Nops(c, isa::UnitKind::kVpu, 0, {.signal = k.pl_ready[slot]}, n_active_);
}

void GemmEmitter::EmitMatmuls(Core& k, int s) {
  const int c = k.core;
  const Step& st = k.steps[s];
  const int slot = s % 2;
  const int wslot = Slot(st.gi);
  const int64_t rows = src_.ChunkRows(st.c);
  const int64_t ms = std::min(plan_.ms_max, CeilDiv(rows, plan_.pm));
  const int64_t ncols = GroupCols(st.g);
  const int64_t tiles = CeilDiv(ncols, tile_);
  const std::vector<KStep>& ksteps = src_.KSteps(st.kc);
  const int piece = PieceOf(k, st.kc);
  const int wi = wslot * k.pieces + piece;
  const bool first_use = st.c == k.gfirst[st.gi] && (st.kc == 0 || PieceOf(k, st.kc - 1) != piece);
  const bool last_use = st.c == k.glast[st.gi] && FreesWeights(k, st.gi) &&
                        (st.kc + 1 == src_.NumKChunks() || PieceOf(k, st.kc + 1) != piece);
  const bool first_k = st.kc == 0;
  const int64_t row_stride = src_.LhsRowStride(st.kc);
  const int64_t ng = plan_.ng;
  const int64_t panel = k.wpanel[wslot];
  struct Mxu {
    int unit;
    int64_t r0, r1;
    std::vector<int64_t> tiles;
    bool waited_pl = false, waited_w = false;
    int left = 0;  // matmuls still to emit
    int loads_left = 0;
  };
  std::vector<Mxu> mx;
  for (int i = 0; i < plan_.pm; ++i) {
    for (int j = 0; j < plan_.pn; ++j) {
      Mxu m;
      m.unit = i * plan_.pn + j;
      m.r0 = std::min(rows, i * ms);
      m.r1 = std::min(rows, m.r0 + ms);
      for (int64_t t = j; t < tiles; t += plan_.pn) m.tiles.push_back(t);
      if (m.r1 > m.r0) {
        m.left = static_cast<int>(ksteps.size() * m.tiles.size() * products_.size());
        m.loads_left = static_cast<int>(ksteps.size() * m.tiles.size() * planes_);
      }
      mx.push_back(std::move(m));
    }
  }
  // MXUs without work keep the semaphore protocol.
  for (Mxu& m : mx) {
    if (m.left > 0) continue;
    em_.Emit(c, Opcode::kMxuNop, m.unit, {}, {.wait = k.pl_ready[slot]});
    if (first_use) em_.Emit(c, Opcode::kMxuNop, m.unit, {}, {.wait = k.w_ready[wi]});
  }
  for (size_t ki = 0; ki < ksteps.size(); ++ki) {
    const KStep& ks = ksteps[ki];
    for (size_t q = 0; q < static_cast<size_t>(plan_.tpm); ++q) {
      for (Mxu& m : mx) {
        if (m.left == 0 || q >= m.tiles.size()) continue;
        const int64_t t = m.tiles[q];
        const int64_t width = std::min(tile_, ncols - t * tile_);
        int last_w = -1;
        for (auto [lp, wp] : products_) {
          if (wp != last_w) {
            Sync sy;
            if (first_use && !m.waited_w) {
              sy.wait = k.w_ready[wi];
              m.waited_w = true;
            }
            if (--m.loads_left == 0 && last_use) sy.signal = k.w_free[wi];
            em_.Emit(c, Opcode::kMxuLoadWeights, m.unit,
                     {{"src", panel + wp * kw_ * ng * 2 + (ks.wrow * ng + t * tile_) * 2}, {"stride", ng * 2},
                      {"k", ks.k}, {"n", width}});
            if (sy.wait >= 0 || sy.signal >= 0) {
              auto& inst = em_.program().cores[c].back();
              inst.wait = sy.wait;
              inst.signal = sy.signal;
            }
            last_w = wp;
          }
          Sync sy;
          if (!m.waited_pl) {
            sy.wait = k.pl_ready[slot];
            m.waited_pl = true;
          }
          if (--m.left == 0) sy.signal = k.pl_free[slot];
          const bool write = first_k && ki == 0 && lp == products_[0].first && wp == products_[0].second;
          em_.Emit(c, Opcode::kMxuMatmul, m.unit,
                   {{"lhs", k.plane[slot][lp] + ks.lhs_offset + m.r0 * row_stride}, {"stride", row_stride},
                    {"m", m.r1 - m.r0}, {"acc", static_cast<int64_t>(q) * plan_.ms_max}, {"accumulate", write ? 0 : 1}},
                   sy);
        }
      }
    }
  }
  for (Mxu& m : mx) {
    if (m.tiles.empty() || m.r1 <= m.r0) {
      if (last_use) em_.Emit(c, Opcode::kMxuNop, m.unit, {}, {.signal = k.w_free[wi]});
      em_.Emit(c, Opcode::kMxuNop, m.unit, {}, {.signal = k.pl_free[slot]});
    }
  }
}

void GemmEmitter::EmitResidualLoad(Core& k, int s) {
  const Step& st = k.steps[s];
  const int oslot = static_cast<int>(k.readouts % 2);
  for (const EpilogueOp& e : job_.epilogue) {
    if (e.kind != EpilogueOp::kResidual) continue;
    src_.EmitOutTile(em_, k.core, kEngineResidual, true, e.operand, st.b, st.c, st.g * plan_.ng, GroupCols(st.g),
                     k.res[oslot], plan_.ng * 4, {.wait = k.res_free, .signal = k.res_loaded});
  }
}

void GemmEmitter::EmitReadout(Core& k, int s) {
  const int c = k.core;
  const Step& st = k.steps[s];
  const int oslot = static_cast<int>(k.readouts % 2);
  ++k.readouts;
  const int64_t rows = src_.ChunkRows(st.c);
  const int64_t ms = std::min(plan_.ms_max, CeilDiv(rows, plan_.pm));
  const int64_t ncols = GroupCols(st.g);
  const int64_t tiles = CeilDiv(ncols, tile_);
  const int64_t ng = plan_.ng;
  for (int i = 0; i < plan_.pm; ++i) {
    for (int j = 0; j < plan_.pn; ++j) {
      const int unit = i * plan_.pn + j;
      const int64_t r0 = std::min(rows, i * ms), r1 = std::min(rows, r0 + ms);
      std::vector<int64_t> my;
      for (int64_t t = j; t < tiles; t += plan_.pn) my.push_back(t);
      if (r1 <= r0 || my.empty()) {
        em_.Emit(c, Opcode::kMxuNop, unit, {}, {.wait = k.out_free[oslot], .signal = k.acc_done[oslot]});
        continue;
      }
      for (size_t q = 0; q < my.size(); ++q) {
        const int64_t width = std::min(tile_, ncols - my[q] * tile_);
        Sync sy;
        if (q == 0) sy.wait = k.out_free[oslot];
        if (q + 1 == my.size()) sy.signal = k.acc_done[oslot];
        em_.Emit(c, Opcode::kMxuReadAcc, unit,
                 {{"dst", k.out[oslot] + (r0 * ng + my[q] * tile_) * 4}, {"stride", ng * 4},
                  {"acc", static_cast<int64_t>(q) * plan_.ms_max}, {"m", r1 - r0}, {"n", width}},
                 sy);
      }
    }
  }
  int store_wait;
  if (!job_.epilogue.empty()) {
    Nops(c, isa::UnitKind::kVpu, 0, {.wait = k.acc_done[oslot]}, n_active_ - 1);
    if (has_bias_ && !k.bias_waited) {
      em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.bias_loaded});
      k.bias_waited = true;
    }
    if (has_res_) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.res_loaded});
    EmitEpilogueOps(em_, c, job_.epilogue, k.out[oslot], rows, ncols, ng * 4, k.bias + st.b * src_.N() * 4 + st.g * ng * 4,
                    k.res[oslot], k.acc_done[oslot], has_res_ ? k.res_free : -1, k.ep_done);
    store_wait = k.ep_done;
  } else {
    Nops(c, isa::UnitKind::kDma, kEngineStore, {.wait = k.acc_done[oslot]}, n_active_ - 1);
    store_wait = k.acc_done[oslot];
  }
  src_.EmitOutTile(em_, c, kEngineStore, false, job_.out, st.b, st.c, st.g * ng, ncols, k.out[oslot], ng * 4,
                   {.wait = store_wait, .signal = k.out_free[oslot]});
  Nops(c, isa::UnitKind::kDma, kEngineStore, {.signal = k.out_free[oslot]}, n_active_ - 1);
}

Status GemmEmitter::Run(const View& const_panel) {
  const int cores = em_.Cores();
  const int64_t B = src_.Batches(), C = src_.NumChunks(), K = src_.NumKChunks();
  std::vector<Core> ks(cores);
  // Work split.
  if (plan_.split_cols) {
    const int64_t total = B * plan_.groups;
    for (int c = 0; c < cores; ++c) {
      for (int64_t i = total * c / cores; i < total * (c + 1) / cores; ++i) ks[c].groups.push_back({i / plan_.groups, i % plan_.groups});
      for (size_t gi = 0; gi < ks[c].groups.size(); ++gi)
        for (int64_t ch = 0; ch < C; ++ch)
          for (int64_t kc = 0; kc < K; ++kc)
            ks[c].steps.push_back({ks[c].groups[gi].first, ks[c].groups[gi].second, ch, kc, static_cast<int>(gi)});
    }
  } else {
    const int64_t total = B * C;
    for (int c = 0; c < cores; ++c) {
      int64_t i0 = total * c / cores, i1 = total * (c + 1) / cores;
      for (int64_t b = 0; b < B; ++b) {
        int64_t c0 = std::max(i0, b * C) - b * C, c1 = std::min(i1, (b + 1) * C) - b * C;
        if (c1 <= c0) continue;
        for (int64_t g = 0; g < plan_.groups; ++g) {
          ks[c].groups.push_back({b, g});
          for (int64_t ch = c0; ch < c1; ++ch)
            for (int64_t kc = 0; kc < K; ++kc)
              ks[c].steps.push_back({b, g, ch, kc, static_cast<int>(ks[c].groups.size() - 1)});
        }
      }
    }
  }
  for (Core& k : ks) {
    k.core = static_cast<int>(&k - ks.data());
    if (k.steps.empty()) continue;
    k.gfirst.assign(k.groups.size(), -1);
    k.glast.assign(k.groups.size(), -1);
    for (const Step& st : k.steps) {
      if (k.gfirst[st.gi] < 0) k.gfirst[st.gi] = st.c;
      k.glast[st.gi] = st.c;
    }
    RETURN_IF_ERROR(Alloc(k));
    const int c = k.core;
    // Prologue: credits, zeroed planes, bias, first weights.
    em_.Emit(c, Opcode::kSemAdd, 0, {{"sem", k.st_free}, {"n", 2}});
    for (int s = 0; s < 2; ++s) {
      em_.Emit(c, Opcode::kSemAdd, 0, {{"sem", k.pl_free[s]}, {"n", n_active_}});
      em_.Emit(c, Opcode::kSemAdd, 0, {{"sem", k.out_free[s]}, {"n", n_active_}});
    }
    if (has_res_) em_.Emit(c, Opcode::kSemAdd, 0, {{"sem", k.res_free}, {"n", 2}});
    if (k.ws_free >= 0) em_.Emit(c, Opcode::kSemAdd, 0, {{"sem", k.ws_free}, {"n", 1}});
    if (src_.ZeroPlanesFirst()) {
      const int64_t words = CeilDiv(src_.PlaneBytes(), 4096) * 1024;
      for (int s = 0; s < 2; ++s)
        for (int p = 0; p < planes_; ++p)
          em_.Emit(c, Opcode::kVpuBinaryImm, 0,
                   {{"op", static_cast<int64_t>(isa::BinOp::kAnd)}, {"dtype", static_cast<int64_t>(DType::kS32)},
                    {"dst", k.plane[s][p]}, {"a", k.plane[s][p]}, {"imm", 0}, {"rows", words / 1024}, {"cols", 1024},
                    {"ds", 4096}, {"as", 4096}});
    }
    if (has_bias_) {
      for (const EpilogueOp& e : job_.epilogue)
        if (e.kind == EpilogueOp::kBias)
          Dma(em_, c, kEngineResidual, true, e.operand, k.bias, DenseStrides(e.operand.dims, 4),
              {.signal = k.bias_loaded});
    }
    for (int p = 0; p < k.pieces; ++p) EmitWeights(k, 0, p, const_panel);
    const int S = static_cast<int>(k.steps.size());
    auto load = [&](int s) {
      const Step& st = k.steps[s];
      src_.EmitLhsLoad(em_, c, kEngineLhs, st.b, st.c, st.kc, k.stage[s % 2], {.wait = k.st_free, .signal = k.st_loaded});
    };
    load(0);
    if (S > 1) load(1);
    EmitConvert(k, 0);
    for (int s = 0; s < S; ++s) {
      const Step& st = k.steps[s];
      if (s + 2 < S) load(s + 2);
      if (s + 1 < S) EmitConvert(k, s + 1);
      if (st.kc == K - 1 && has_res_) EmitResidualLoad(k, s);
      EmitMatmuls(k, s);
      const bool group_start = s == 0 || k.steps[s - 1].gi != st.gi;
      const int next = st.gi + 1;
      if (next < static_cast<int>(k.groups.size())) {
        if (plan_.slots == 2 && group_start) {
          EmitWeights(k, next, 0, const_panel);
        } else if (plan_.slots == 1) {
          // After the last use of a piece in this group, load it for the next.
          const int piece = PieceOf(k, st.kc);
          bool last = true;
          for (int p = s + 1; p < S && k.steps[p].gi == st.gi; ++p)
            if (PieceOf(k, k.steps[p].kc) == piece) last = false;
          if (last) EmitWeights(k, next, piece, const_panel);
        }
      }
      if (st.kc == K - 1) EmitReadout(k, s);
    }
    em_.DrainSem(c, k.st_free, 2);
    for (int s = 0; s < 2; ++s) {
      em_.DrainSem(c, k.pl_free[s], n_active_);
      em_.DrainSem(c, k.out_free[s], n_active_);
    }
    if (has_res_) em_.DrainSem(c, k.res_free, 2);
    if (k.ws_free >= 0) em_.DrainSem(c, k.ws_free, 1);
  }
  return OkStatus();
}

// Bytes of VMEM a plan needs besides the LHS buffers.
int64_t FixedVmem(const Plan& p, int planes, int64_t kw, bool const_w, bool res, int64_t bias_bytes) {
  int64_t v = p.slots * planes * kw * p.ng * 2;
  if (!const_w) v += kw * p.ng * 4 * (planes > 1 ? 2 : 1);
  const int64_t out = p.pm * p.ms_max * p.ng * 4;
  v += 2 * out * (res ? 2 : 1) + bias_bytes + 16 * 1024;
  return v;
}

}  // namespace

Status EmitGemm(LoweringContext& ctx, const GemmJob& job) {
  ProgramEmitter& em = ctx.em();
  const ChipConfig& chip = ctx.chip();
  GemmSource& src = const_cast<GemmSource&>(*job.source);
  if (MxuRate(chip, DType::kBF16) <= 0)
    return Unimplemented("'{}': chip '{}' has no bf16 matrix unit (mxu.bf16_rate = 0); float matmuls need one",
                         job.name, chip.name);
  const int passes = ctx.precision_passes();
  const int planes = PrecisionPlanes(passes);
  const int64_t R = AccumulatorRows(chip), T = chip.mxu.cols;
  const int mxus = em.Mxus(), cores = em.Cores();
  const int64_t V = VmemBudget(em);
  const int64_t B = src.Batches(), N = src.N(), Kw = src.WeightRows();
  const bool const_w = src.ConstantWeights();
  bool res = false;
  int64_t bias_bytes = 0;
  for (const EpilogueOp& e : job.epilogue) {
    res |= e.kind == EpilogueOp::kResidual;
    if (e.kind == EpilogueOp::kBias) bias_bytes = B * N * 4;
  }
  if (N <= 0 || Kw <= 0) return Error("'{}': empty matmul", job.name);
  const int64_t nt = CeilDiv(N, T);
  const int64_t per_col = planes * Kw * 2 + (const_w ? 0 : Kw * 4 * (planes > 1 ? 2 : 1));
  const int64_t wbudget = V / 2;
  auto make = [&](int64_t ng_tiles) -> std::optional<Plan> {
    Plan p;
    p.ng = std::min(N, ng_tiles * T);
    p.groups = CeilDiv(N, p.ng);
    p.tg = CeilDiv(p.ng, T);
    p.pn = static_cast<int>(std::min<int64_t>(mxus, p.tg));
    p.pm = std::max(1, mxus / p.pn);
    p.tpm = CeilDiv(p.tg, p.pn);
    p.ms_max = R / p.tpm;
    p.slots = (B * p.groups > 1 && 2 * p.ng * per_col <= wbudget) ? 2 : 1;
    for (int64_t ms = p.ms_max; ms >= 8; ms /= 2) {
      p.ms_max = ms;
      int64_t fixed = FixedVmem(p, planes, Kw, const_w, res, bias_bytes);
      if (fixed >= V) continue;
      if (src.Plan(p.pm * ms, V - fixed, planes)) return p;
    }
    return std::nullopt;
  };
  int64_t ng_tiles = std::min(nt, wbudget / std::max<int64_t>(1, per_col * T));
  if (ng_tiles < 1)
    return Unimplemented("'{}': a {}-row weight panel of one {}-column tile does not fit in VMEM ({} bytes budget)",
                         job.name, Kw, T, wbudget);
  // Candidates: widest groups (rows split over cores), and groups narrow
  // enough to give every core columns.
  std::vector<Plan> cands;
  const int64_t wtotal = B * Kw * N * 2 * planes;
  if (auto p = make(ng_tiles)) {
    p->split_cols = false;
    int64_t chunks = B * src.NumChunks();
    p->traffic = wtotal * std::min<int64_t>(cores, chunks) + B * src.LhsBytes() * p->groups;
    if (chunks < cores) p->traffic *= 2;  // idle cores
    cands.push_back(*p);
    if (cores > 1 && B * p->groups >= cores) {
      Plan q = *p;
      q.split_cols = true;
      q.traffic = wtotal + B * src.LhsBytes() * q.groups;
      if (B * q.groups % cores != 0) q.traffic += q.traffic / 4;  // imbalance
      cands.push_back(q);
    }
  }
  if (cores > 1 && B * CeilDiv(nt, ng_tiles) < cores && nt >= cores) {
    if (auto p = make(CeilDiv(nt, cores))) {
      p->split_cols = true;
      p->traffic = wtotal + B * src.LhsBytes() * p->groups;
      cands.push_back(*p);
    }
  }
  if (cands.empty())
    return Unimplemented("'{}': no tiling of this matmul fits in VMEM ({} bytes per core)", job.name, V);
  Plan best = cands[0];
  for (const Plan& p : cands)
    if (p.traffic < best.traffic) best = p;
  // Re-plan the source for the chosen plan (the last make() call may differ).
  {
    int64_t fixed = FixedVmem(best, planes, Kw, const_w, res, bias_bytes);
    if (!src.Plan(best.pm * best.ms_max, V - fixed, planes))
      return Error("internal: '{}': replanning failed", job.name);
  }
  // Constant weights: the panels in the order the kernel loads them.
  View panel;
  if (const_w) {
    const int64_t ng = best.ng;
    Literal lit(Shape(DType::kBF16, {B * best.groups * planes * Kw * ng}));
    uint16_t* d = lit.data<uint16_t>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t g = 0; g < best.groups; ++g)
        for (int64_t r = 0; r < Kw; ++r)
          for (int64_t j = 0; j < ng; ++j) {
            int64_t col = g * ng + j;
            uint16_t sp[3] = {0, 0, 0};
            if (col < N) SplitBf16(src.Weight(b, r, col), planes, sp);
            for (int p = 0; p < planes; ++p) d[(((b * best.groups + g) * planes + p) * Kw + r) * ng + j] = sp[p];
          }
    ASSIGN_OR_RETURN(panel, ctx.AddConstant(job.name + ".weights." + std::to_string(passes), lit));
  }
  em.BeginKernel(job.name, job.op);
  GemmEmitter ge(ctx, job, best);
  RETURN_IF_ERROR(ge.Run(panel));
  return em.EndKernel();
}

}  // namespace xtpu::codegen::mxu
