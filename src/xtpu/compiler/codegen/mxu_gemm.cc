// The GEMM engine's emission: the software pipeline of one core (DMA of LHS
// steps, VPU conversion, MXU k-steps) and the weight-panel loads; the
// read-out, epilogue and store are in mxu_gemm_readout.cc. See mxu_gemm.h for
// the schedule, mxu_plan.cc for the tiling.
#include "xtpu/compiler/codegen/mxu_gemm_emitter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>

#include "xtpu/compiler/codegen/vpu_common.h"
#include "xtpu/support/check.h"

namespace xtpu::codegen::mxu {
namespace gemm_internal {

bool GemmEmitter::DirectLhsPossible() const {
  if (planes_ != 1 || src_.StagingDType() != DType::kBF16 || src_.ZeroPlanesFirst() || src_.ZeroStagingFirst() ||
      src_.PlaneBytes() > src_.StagingBytes() || std::getenv("XTPU_NO_DIRECT_LHS") != nullptr)
    return false;
  std::vector<ConvertRect> rects;
  std::vector<ZeroRect> zeros;
  for (int64_t b = 0; b < src_.Batches(); ++b)
    for (int64_t c = 0; c < src_.NumChunks(); ++c)
      for (int64_t kc = 0; kc < src_.NumKChunks(); ++kc) {
        rects.clear();
        src_.Converts(b, c, kc, &rects, &zeros);
        if (!zeros.empty()) return false;
        for (const ConvertRect& r : rects)
          if (r.dst != r.src || r.ds != r.ss) return false;
      }
  return true;
}

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
  if (!src_.DirectWeights()) {
    ASSIGN_OR_RETURN(k.wstage, alloc(kw_ * plan_.ng * 4));
    if (planes_ > 1) {
      ASSIGN_OR_RETURN(k.wtemp, alloc(kw_ * plan_.ng * 4));
    }
  }
  const int64_t out_bytes = plan_.pm * plan_.ms_max * plan_.ng * 4;
  for (int s = 0; s < plan_.out_slots; ++s) {
    ASSIGN_OR_RETURN(k.out[s], alloc(out_bytes));
  }
  if (has_res_)
    for (int s = 0; s < plan_.out_slots; ++s) {
      ASSIGN_OR_RETURN(k.res[s], alloc(out_bytes));
      if (res_bf16_) {
        ASSIGN_OR_RETURN(k.res16[s], alloc(out_bytes / 2));
      }
    }
  if (has_bias_) {
    ASSIGN_OR_RETURN(k.bias, alloc(src_.Batches() * src_.N() * 4));
  }
  if (EpilogueSaves(job_.epilogue)) {  // one tile: the VPU runs the epilogues in order
    ASSIGN_OR_RETURN(k.saved, alloc(out_bytes));
  }
  for (int s = 0; s < lhs_slots_; ++s) {
    ASSIGN_OR_RETURN(k.stage[s], alloc(src_.StagingBytes()));
  }
  if (planes_ > 1) {
    ASSIGN_OR_RETURN(k.temp, alloc(src_.StagingBytes()));
  }
  const int64_t plane_bytes = CeilDiv(src_.PlaneBytes(), 4096) * 4096;
  for (int s = 0; s < lhs_slots_; ++s)
    for (int p = 0; p < planes_; ++p) {
      if (direct_lhs_) {
        k.plane[s][p] = k.stage[s];
        continue;
      }
      ASSIGN_OR_RETURN(k.plane[s][p], alloc(plane_bytes));
    }
  auto sem = [&](int* out) { return em_.AllocSem(c, out); };
  RETURN_IF_ERROR(sem(&k.st_free));
  RETURN_IF_ERROR(sem(&k.st_loaded));
  for (int s = 0; s < lhs_slots_; ++s) RETURN_IF_ERROR(sem(&k.pl_free[s]));
  for (int s = 0; s < plan_.out_slots; ++s) RETURN_IF_ERROR(sem(&k.acc_done[s]));
  for (int u = 0; u < n_active_; ++u) {
    RETURN_IF_ERROR(sem(&k.pl_ready[u]));
    RETURN_IF_ERROR(sem(&k.out_free[u]));
  }
  k.pieces = 1;
  // Pieces let the first matmuls start before the whole panel is in, and the
  // next group's panel replace this one K range by K range.
  if (plan_.slots == 1 && src_.DirectWeights())
    k.pieces = static_cast<int>(std::min<int64_t>(kMaxPieces, src_.NumKChunks()));
  for (int i = 0; i < plan_.slots * k.pieces; ++i) {
    RETURN_IF_ERROR(sem(&k.w_ready[i]));
    RETURN_IF_ERROR(sem(&k.w_free[i]));
  }
  if (!src_.DirectWeights()) {  // f32 weights staged and split by the VPU
    RETURN_IF_ERROR(sem(&k.ws_free));
    RETURN_IF_ERROR(sem(&k.ws_loaded));
  }
  if (!job_.epilogue.empty()) RETURN_IF_ERROR(sem(&k.ep_done));
  if (direct_lhs_) RETURN_IF_ERROR(sem(&k.lhs_go));
  if (has_res_) {
    RETURN_IF_ERROR(sem(&k.res_loaded));
    RETURN_IF_ERROR(sem(&k.res_free));
  }
  if (has_bias_) RETURN_IF_ERROR(sem(&k.bias_loaded));
  return OkStatus();
}

// Loads piece `piece` of group gi's weight panel into its slot; the MXUs'
// The VPU waits on w_ready before it releases the first step that uses the
// piece to the MXUs (one consumer, so no MXU can take another's credit).
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
    if (direct_lhs_) Nops(c, isa::UnitKind::kDma, kEngineWeights, {.signal = k.w_ready[wi]}, n_active_ - 1);
    return;
  }
  View rhs = src_.RhsView().SubRange(0, b, 1);
  rhs = rhs.SubRange(2, g * ng, ncols);
  rhs.dims = {rhs.dims[1], rhs.dims[2]};
  rhs.strides = {rhs.strides[1], rhs.strides[2]};
  if (src_.WeightDType() == DType::kBF16) {
    // bf16 weights in HBM are the one plane: DMA them straight into the panel.
    XTPU_CHECK(planes_ == 1);
    auto [r0, r1] = PieceRows(k, piece);
    if (wait_free) Nops(c, isa::UnitKind::kDma, kEngineWeights, {.wait = k.w_free[wi]}, n_active_);
    Dma(em_, c, kEngineWeights, true, rhs.SubRange(0, r0, r1 - r0), panel + r0 * ng * 2, {ng * 2, 2},
        {.signal = k.w_ready[wi]});
    if (direct_lhs_) Nops(c, isa::UnitKind::kDma, kEngineWeights, {.signal = k.w_ready[wi]}, n_active_ - 1);
    return;
  }
  // Non-constant f32 weights: f32 [Kw, ncols] -> wstage -> VPU -> bf16 planes.
  const int ng_core = static_cast<int>(k.groups.size());
  Dma(em_, c, kEngineWeights, true, rhs, k.wstage, {ng * 4, 4}, {.wait = gi >= 1 ? k.ws_free : -1, .signal = k.ws_loaded});
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
  if (gi + 1 < ng_core) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = k.ws_free});
  Nops(c, isa::UnitKind::kVpu, 0, {.signal = k.w_ready[wi]}, direct_lhs_ ? n_active_ : 1);
}

void GemmEmitter::EmitConvert(Core& k, int s) {
  const int c = k.core;
  const Step& st = k.steps[s];
  const int slot = s % 2;
  const int S = static_cast<int>(k.steps.size());
  if (s >= 2) Nops(c, isa::UnitKind::kVpu, 0, {.wait = k.pl_free[slot]}, n_active_);
  em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.st_loaded});
  if (FirstUse(k, s)) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.w_ready[Slot(st.gi) * k.pieces + PieceOf(k, st.kc)]});
  std::vector<ConvertRect> rects;
  std::vector<ZeroRect> zeros;
  src_.Converts(st.b, st.c, st.kc, &rects, &zeros);
  const int64_t bf = static_cast<int64_t>(DType::kBF16), f32 = static_cast<int64_t>(DType::kF32);
  const int64_t s32 = static_cast<int64_t>(DType::kS32);
  const int64_t lhs_dtype = static_cast<int64_t>(src_.StagingDType());
  XTPU_CHECK(src_.StagingDType() == DType::kF32 || planes_ == 1);
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
      if (lhs_dtype == bf) {  // already rounded by the producer: a copy
        em_.Emit(c, Opcode::kVpuUnary, 0,
                 {{"op", static_cast<int64_t>(isa::UnOp::kCopy)}, {"dtype", bf}, {"dst", k.plane[slot][p] + r.dst},
                  {"a", stage + r.src}, {"rows", r.rows}, {"cols", r.cols}, {"ds", r.ds}, {"as", r.ss}});
        continue;
      }
      em_.Emit(c, Opcode::kVpuConvert, 0,
               {{"to", bf}, {"from", f32}, {"dst", k.plane[slot][p] + r.dst}, {"src", stage + r.src},
                {"rows", r.rows}, {"cols", r.cols}, {"ds", r.ds}, {"ss", r.ss}});
    }
  }
  if (s + 2 < S) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = k.st_free});
  for (int u = 0; u < n_active_; ++u) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = k.pl_ready[u]});
}

void GemmEmitter::EmitMatmuls(Core& k, int s, int deferred_acc) {
  const int c = k.core;
  const Step& st = k.steps[s];
  const int slot = s % lhs_slots_;
  const int wslot = Slot(st.gi);
  const int64_t rows = src_.ChunkRows(st.c);
  const int64_t ms = std::min(plan_.ms_max, CeilDiv(rows, plan_.pm));
  const int64_t ncols = GroupCols(st.g);
  const int64_t tiles = CeilDiv(ncols, tile_);
  const std::vector<KStep>& ksteps = src_.KSteps(st.kc);
  const std::vector<std::pair<int64_t, int64_t>> runs = src_.RowRuns(st.c);
  const int piece = PieceOf(k, st.kc);
  const int wi = wslot * k.pieces + piece;
  const bool last_use = st.c == k.glast[st.gi] && FreesWeights(k, st.gi) &&
                        (st.kc + 1 == src_.NumKChunks() || PieceOf(k, st.kc + 1) != piece);
  const bool first_k = st.kc == 0;
  const bool free_plane = s + lhs_slots_ < static_cast<int>(k.steps.size());
  const int64_t row_stride = src_.LhsRowStride(st.kc);
  const int64_t ng = plan_.ng;
  const int64_t panel = k.wpanel[wslot];
  struct Mxu {
    int unit;
    int64_t r0, r1;
    std::vector<std::pair<int64_t, int64_t>> runs;  // the chunk's row runs within [r0, r1)
    std::vector<int64_t> tiles;
    bool waited_pl = false;
    bool waited_w = false;
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
      for (auto [a, b] : runs)
        if (std::min(b, m.r1) > std::max(a, m.r0)) m.runs.push_back({std::max(a, m.r0), std::min(b, m.r1)});
      // The next k-step's weights load while the last matmul of this one
      // streams (an in-order queue: not earlier): keep that matmul at least
      // a weight load long by streaming the gaps before it.
      while (m.runs.size() > 1 && m.runs.back().second - m.runs.back().first < WeightLoadCycles(ctx_.chip())) {
        m.runs[m.runs.size() - 2].second = m.runs.back().second;
        m.runs.pop_back();
      }
      if (!m.runs.empty()) {
        m.left = static_cast<int>(ksteps.size() * m.tiles.size() * products_.size() * m.runs.size());
        m.loads_left = static_cast<int>(ksteps.size() * m.tiles.size() * planes_);
      }
      mx.push_back(std::move(m));
    }
  }
  // Direct LHS: each MXU's first weight load of the group's piece waits for
  // it (one credit per MXU), its first matmul for the LHS.
  const bool wait_weights = direct_lhs_ && FirstUse(k, s);
  // MXUs without work keep the semaphore protocol.
  for (Mxu& m : mx) {
    if (m.left > 0) continue;
    if (wait_weights) em_.Emit(c, Opcode::kMxuNop, m.unit, {}, {.wait = k.w_ready[wi]});
    em_.Emit(c, Opcode::kMxuNop, m.unit, {}, {.wait = k.pl_ready[m.unit]});
  }
  const int64_t acc_base = AccBase(k.readouts + (deferred_acc >= 0 ? 1 : 0));
  std::vector<std::vector<ReadAcc>> reads;
  if (stream_reads_ && st.kc == src_.NumKChunks() - 1) {
    const int64_t readout = k.readouts++;
    k.readout_of[s] = readout;
    reads = ReadAccs(k, s, readout);
    for (Mxu& m : mx)  // MXUs without work: their nops (in order behind earlier reads)
      if (m.left == 0)
        for (ReadAcc& r : reads[m.unit]) k.reads[m.unit].push_back(r);
  }
  const int64_t drain = ctx_.chip().mxu.rows + tile_ - 1;
  for (size_t ki = 0; ki < ksteps.size(); ++ki) {
    if (ki == 1 && deferred_acc >= 0) {
      EmitReadout(k, deferred_acc, true);
      deferred_acc = -1;
    }
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
            if (wait_weights) {
              if (!m.waited_w) sy.wait = k.w_ready[wi];
              m.waited_w = true;
            } else if (!m.waited_pl && !direct_lhs_) {  // the step's first instruction on this MXU
              sy.wait = k.pl_ready[m.unit];
              m.waited_pl = true;
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
            sy.wait = k.pl_ready[m.unit];
            m.waited_pl = true;
          }
          const bool write = first_k && ki == 0 && lp == products_[0].first && wp == products_[0].second;
          for (auto [a, b] : m.runs) {
            if (stream_reads_) EmitReadsBeforeMatmul(k, m.unit, static_cast<int64_t>(q));
            if (--m.left == 0 && free_plane) sy.signal = k.pl_free[slot];
            em_.Emit(c, Opcode::kMxuMatmul, m.unit,
                     {{"lhs", k.plane[slot][lp] + ks.lhs_offset + a * row_stride}, {"stride", row_stride},
                      {"m", b - a}, {"acc", acc_base + static_cast<int64_t>(q) * plan_.ms_max + (a - m.r0)},
                      {"accumulate", write ? 0 : 1}},
                     sy);
            sy = Sync();
            if (stream_reads_)
              for (ReadAcc& r : k.reads[m.unit]) r.need -= b - a;
          }
        }
        if (!reads.empty() && ki + 1 == ksteps.size()) {  // tile q of this chunk is complete
          ReadAcc r = reads[m.unit][q];
          r.need = drain;
          k.reads[m.unit].push_back(r);
        }
      }
    }
  }
  if (stream_reads_)  // reads of earlier chunks are all emitted (their epilogues come next)
    for (Mxu& m : mx) EmitQueuedReads(k, m.unit, [&](const ReadAcc& r) { return r.owner != s; });
  if (deferred_acc >= 0) EmitReadout(k, deferred_acc, true);  // (a single k-step)
  for (Mxu& m : mx) {
    if (m.tiles.empty() || m.runs.empty()) {
      if (last_use) em_.Emit(c, Opcode::kMxuNop, m.unit, {}, {.signal = k.w_free[wi]});
      if (free_plane) em_.Emit(c, Opcode::kMxuNop, m.unit, {}, {.signal = k.pl_free[slot]});
    }
  }
}

Status GemmEmitter::Run(const View& const_panel) {
  const int cores = em_.Cores();
  const int64_t B = src_.Batches(), C = src_.NumChunks(), K = src_.NumKChunks();
  std::vector<Core> ks(cores);
  direct_lhs_ = DirectLhsPossible();
  lhs_slots_ = direct_lhs_ ? kMaxLhsSlots : 2;
  stream_reads_ = !plan_.acc_halves && std::getenv("XTPU_NO_STREAM_READS") == nullptr;
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
    for (const Step& st : k.steps) k.total_readouts += st.kc == K - 1 ? 1 : 0;
    k.readout_of.assign(k.steps.size(), -1);
    if (src_.ZeroPlanesFirst()) {
      const int64_t words = CeilDiv(src_.PlaneBytes(), 4096) * 1024;
      for (int s = 0; s < 2; ++s)
        for (int p = 0; p < planes_; ++p)
          em_.Emit(c, Opcode::kVpuBinaryImm, 0,
                   {{"op", static_cast<int64_t>(isa::BinOp::kAnd)}, {"dtype", static_cast<int64_t>(DType::kS32)},
                    {"dst", k.plane[s][p]}, {"a", k.plane[s][p]}, {"imm", 0}, {"rows", words / 1024}, {"cols", 1024},
                    {"ds", 4096}, {"as", 4096}});
    }
    if (src_.ZeroStagingFirst()) {  // the first two loads wait for these (st_free credits)
      const int64_t words = src_.StagingBytes() / 4;
      for (int s = 0; s < std::min(2, static_cast<int>(k.steps.size())); ++s)
        em_.Emit(c, Opcode::kVpuBinaryImm, 0,
                 {{"op", static_cast<int64_t>(isa::BinOp::kAnd)}, {"dtype", static_cast<int64_t>(DType::kS32)},
                  {"dst", k.stage[s]}, {"a", k.stage[s]}, {"imm", 0}, {"rows", words / 1024}, {"cols", 1024},
                  {"ds", 4096}, {"as", 4096}},
                 {.signal = k.st_free});
    }
    if (has_bias_) {
      for (const EpilogueOp& e : job_.epilogue)
        if (e.kind == EpilogueOp::kBias)
          Dma(em_, c, kEngineResidual, true, e.operand, k.bias, DenseStrides(e.operand.dims, 4),
              {.signal = k.bias_loaded});
    }
    // Weight loads, in the order they are needed: (group, piece), the step
    // whose matmuls release the slot (-1: none) and the first step using it.
    // A load is emitted once the releasing step is emitted (its wait never
    // refers to later work) and at most one row chunk ahead of its use, so
    // waiting loads do not fill the DMA queue.
    const int S = static_cast<int>(k.steps.size());
    struct WLoad {
      int gi, piece, dep, need;
    };
    std::vector<WLoad> wl;
    std::vector<std::vector<int>> first(k.groups.size(), std::vector<int>(k.pieces, -1)), last = first;
    for (int s = 0; s < S; ++s) {
      const int gi = k.steps[s].gi, p = PieceOf(k, k.steps[s].kc);
      if (first[gi][p] < 0) first[gi][p] = s;
      last[gi][p] = s;
    }
    for (int gi = 0; gi < static_cast<int>(k.groups.size()); ++gi)
      for (int p = 0; p < k.pieces; ++p)
        if (first[gi][p] >= 0)
          wl.push_back({gi, p, gi >= plan_.slots ? last[gi - plan_.slots][p] : -1, first[gi][p]});
    std::sort(wl.begin(), wl.end(), [](const WLoad& a, const WLoad& b) { return a.need < b.need; });
    size_t wnext = 0;
    const int lookahead = static_cast<int>(std::max<int64_t>(2, K));
    auto emit_weights = [&](int emitted_mm, int horizon) {
      while (wnext < wl.size() && wl[wnext].dep <= emitted_mm && wl[wnext].need <= horizon) {
        EmitWeights(k, wl[wnext].gi, wl[wnext].piece, const_panel);
        ++wnext;
      }
    };
    auto weights_emitted = [&](int s) {  // the load Convert(s) waits on, if any, is emitted
      if (!FirstUse(k, s)) return true;
      for (size_t i = 0; i < wnext; ++i)
        if (wl[i].need == s) return true;
      return false;
    };
    auto load = [&](int s) {
      const Step& st = k.steps[s];
      if (direct_lhs_) {  // into the plane once its MXUs are done with step s - 2
        const int slot = s % lhs_slots_;
        if (s >= lhs_slots_) Nops(c, isa::UnitKind::kDma, kEngineLhs, {.wait = k.pl_free[slot]}, n_active_);
        src_.EmitLhsLoad(em_, c, kEngineLhs, st.b, st.c, st.kc, k.stage[slot], {.signal = k.pl_ready[0]});
        for (int u = 1; u < n_active_; ++u)
          em_.Emit(c, Opcode::kDmaNop, kEngineLhs, {}, {.signal = k.pl_ready[u]});
        return;
      }
      src_.EmitLhsLoad(em_, c, kEngineLhs, st.b, st.c, st.kc, k.stage[s % 2],
                       {.wait = s >= 2 || src_.ZeroStagingFirst() ? k.st_free : -1, .signal = k.st_loaded});
    };
    const bool go = direct_lhs_ && S > 1 && !wl.empty() && wl[0].dep < 0;
    int next_load = go ? 1 : std::min(S, 2);
    for (int s = 0; s < next_load; ++s) load(s);
    if (go) {
      // The further LHS steps are loaded after the first weight piece, not
      // sharing HBM with it: the first matmuls need both.
      EmitWeights(k, wl[0].gi, wl[0].piece, const_panel);
      ++wnext;
      em_.Emit(c, Opcode::kDmaNop, kEngineWeights, {}, {.signal = k.lhs_go});
      em_.Emit(c, Opcode::kDmaNop, kEngineLhs, {}, {.wait = k.lhs_go});
    }
    emit_weights(-1, lookahead);
    XTPU_CHECK(weights_emitted(0));
    if (!direct_lhs_) EmitConvert(k, 0);
    int pending = -1;   // step whose read_acc is emitted, not yet its epilogue and store
    int deferred = -1;  // step whose read_acc goes into the next step's matmuls
    for (int s = 0; s < S; ++s) {
      const Step& st = k.steps[s];
      if (s + 2 < S && !direct_lhs_) load(s + 2);
      emit_weights(s - 1, s + 1 + lookahead);
      const bool convert_now = !direct_lhs_ && s + 1 < S && weights_emitted(s + 1);
      if (convert_now) EmitConvert(k, s + 1);
      if (st.kc == K - 1 && has_res_) EmitResidualLoad(k, s, k.readouts + (deferred >= 0 ? 1 : 0));
      XTPU_CHECK(!direct_lhs_ || weights_emitted(s));
      EmitMatmuls(k, s, deferred);
      deferred = -1;
      // Direct LHS: the load waits for this step's matmuls (emitted first, so
      // the wait never refers to later work).
      while (direct_lhs_ && next_load < S && next_load <= s + lhs_slots_) load(next_load++);
      if (pending >= 0) EmitReadout(k, pending, false);
      pending = -1;
      emit_weights(s, s + 1 + lookahead);
      if (s + 1 < S && !convert_now && !direct_lhs_) {
        XTPU_CHECK(weights_emitted(s + 1));
        EmitConvert(k, s + 1);
      }
      if (st.kc == K - 1) {
        if (plan_.acc_halves && s + 1 < S) deferred = s;
        else if (!stream_reads_) EmitReadout(k, s, true);
        pending = s;
      }
    }
    for (int u = 0; u < n_active_; ++u) EmitQueuedReads(k, u, [](const ReadAcc&) { return true; });
    if (pending >= 0) EmitReadout(k, pending, false);
  }
  return OkStatus();
}

}  // namespace gemm_internal

Status EmitGemmBody(LoweringContext& ctx, const GemmJob& job, const Plan& plan, const View& const_panel) {
  gemm_internal::GemmEmitter ge(ctx, job, plan);
  return ge.Run(const_panel);
}

}  // namespace xtpu::codegen::mxu
