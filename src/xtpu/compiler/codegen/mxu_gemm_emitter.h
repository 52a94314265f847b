// The GEMM engine's emitter (internal to mxu_gemm.cc and mxu_gemm_readout.cc):
// per-core pipeline state and the emission steps. See mxu_gemm.h for the
// schedule, mxu_plan.cc for the tiling.
#pragma once

#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "xtpu/compiler/codegen/mxu_plan.h"

namespace xtpu::codegen::mxu::gemm_internal {

using isa::Opcode;

constexpr int kMaxPieces = 4;
constexpr int kMaxMxus = 8;
constexpr int kMaxLhsSlots = 4;  // direct LHS: the memory of 2 staging buffers + 2 planes
constexpr int kEngineLhs = 0, kEngineWeights = 1, kEngineStore = 2, kEngineResidual = 3;



struct Step {
  int64_t b, g, c, kc;
  int gi;  // index of (b, g) in the core's group list
};

// One MXU's read_acc of one column tile of a row chunk (m == 0: an mxu.nop
// that keeps the semaphore protocol for an MXU without rows or tiles).
struct ReadAcc {
  int64_t q = 0;  // the MXU's tile index: accumulator rows from q * ms_max
  int64_t dst = 0, acc = 0, m = 0, n = 0, dtype = 0;
  Sync sync;
  int owner = 0;     // the step whose row chunk it reads
  int64_t need = 0;  // rows the MXU still streams before it can issue without stalling
};

class GemmEmitter {
 public:
  GemmEmitter(LoweringContext& ctx, const GemmJob& job, const Plan& plan)
      : ctx_(ctx), em_(ctx.em()), job_(job), src_(*job.source), plan_(plan) {
    passes_ = JobPasses(ctx, job);
    planes_ = PrecisionPlanes(passes_);
    products_ = PrecisionProducts(passes_);
    kw_ = src_.WeightRows();
    tile_ = ctx.chip().mxu.cols;
    n_active_ = plan.pm * plan.pn;
    for (const EpilogueOp& e : job.epilogue) {
      has_bias_ |= e.kind == EpilogueOp::kBias;
      has_res_ |= e.kind == EpilogueOp::kResidual;
      res_bf16_ |= e.kind == EpilogueOp::kResidual && e.operand.dtype == DType::kBF16;
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
    int64_t stage[kMaxLhsSlots] = {-1, -1, -1, -1}, temp = -1;
    int64_t plane[kMaxLhsSlots][3] = {{-1, -1, -1}, {-1, -1, -1}, {-1, -1, -1}, {-1, -1, -1}};
    int64_t out[kMaxOutSlots] = {-1, -1, -1}, res[kMaxOutSlots] = {-1, -1, -1}, res16[kMaxOutSlots] = {-1, -1, -1};
    int64_t bias = -1, saved = -1;
    // Channels with several consumers (the MXUs) have one semaphore per
    // consumer, so that a fast MXU cannot take a slow one's credit.
    int st_free, st_loaded, pl_ready[kMaxMxus], pl_free[kMaxLhsSlots], w_ready[kMaxPieces], w_free[kMaxPieces];
    int ws_free = -1, ws_loaded = -1, lhs_go = -1;
    int acc_done[kMaxOutSlots], out_free[kMaxMxus], ep_done = -1, res_loaded = -1, res_free = -1, bias_loaded = -1;
    bool bias_waited = false;
    int pieces = 1;
    int64_t readouts = 0, total_readouts = 0;
    std::vector<int64_t> readout_of;          // per step: its chunk's readout number (-1: none yet)
    std::deque<ReadAcc> reads[kMaxMxus];      // streamed read-out: queued read_accs per MXU
    std::vector<int64_t> gfirst, glast;  // first and last row chunk of each group
  };

  // True if the LHS needs no vector-unit pass: one bf16 plane whose converts
  // are all plain copies at the same offsets and pitch. The LHS DMA then
  // writes the plane itself and hands it to the MXUs (pl_free / pl_ready),
  // and the MXUs wait for their weights (w_ready, one credit each): nothing
  // on the MXUs' path queues behind the epilogues on the in-order VPU.
  bool DirectLhsPossible() const;
  Status Alloc(Core& k);
  void EmitWeights(Core& k, int gi, int piece, const View& const_panel);
  void EmitConvert(Core& k, int s);
  // deferred_acc >= 0: the read_acc of that (earlier) step is emitted after
  // this step's first k-step (accumulator halves only: the two chunks use
  // different rows), so the MXUs go on streaming while it waits for the
  // last matmul's drain.
  void EmitMatmuls(Core& k, int s, int deferred_acc = -1);
  // acc_part: the MXUs' read_acc of step s's row chunk; else its epilogue
  // (VPU) and store (DMA), emitted after the next step's matmuls so that
  // the in-order VPU queue, blocked until the read_acc is done, does not
  // stall the sequencer before those matmuls are dispatched.
  void EmitReadout(Core& k, int s, bool acc_part);
  // The read_accs of step s's row chunk, per MXU in tile order.
  std::vector<std::vector<ReadAcc>> ReadAccs(Core& k, int s, int64_t readout);
  void EmitReadAcc(int core, int unit, const ReadAcc& r);
  // Emits queued read_accs of `unit` up to and including the last one that
  // satisfies `until` (none if none does).
  void EmitQueuedReads(Core& k, int unit, const std::function<bool(const ReadAcc&)>& until);
  // Before a matmul into tile q of `unit`: a queued read of that tile (an
  // earlier chunk's) and the reads ahead of it, else at most one read whose
  // matmul has drained.
  void EmitReadsBeforeMatmul(Core& k, int unit, int64_t q);
  // First accumulator row of the row chunk with this readout number.
  int64_t AccBase(int64_t readout) const {
    return plan_.acc_halves ? (readout % 2) * plan_.tpm * plan_.ms_max : 0;
  }
  // `readout`: the readout number of step s's row chunk.
  void EmitResidualLoad(Core& k, int s, int64_t readout);
  void Nops(int core, isa::UnitKind kind, int unit, Sync sync, int n);
  int64_t GroupCols(int64_t g) const { return std::min(plan_.ng, src_.N() - g * plan_.ng); }
  int Slot(int gi) const { return gi % plan_.slots; }
  int PieceOf(const Core& k, int64_t kc) const {
    return static_cast<int>(kc * k.pieces / src_.NumKChunks());
  }
  std::pair<int64_t, int64_t> PieceRows(const Core& k, int piece) const;
  // Step s is the first of its group to use its weight piece.
  bool FirstUse(const Core& k, int s) const {
    const Step& st = k.steps[s];
    return st.c == k.gfirst[st.gi] && (st.kc == 0 || PieceOf(k, st.kc - 1) != PieceOf(k, st.kc));
  }
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
  bool res_bf16_ = false;  // a bf16 residual: DMAed into res16, widened into res by the VPU
  bool direct_lhs_ = false;  // see DirectLhsPossible
  // Streamed read-out (one accumulator set, no halves): a row chunk's last
  // k-step queues each tile's read_acc after its matmul; it is emitted
  // between later matmuls once they have streamed the finished one's drain
  // (mxu.rows + width - 1 cycles), so the accumulator read port works while
  // the MXU streams the next tiles and the next chunk's first ones.
  bool stream_reads_ = false;
  int lhs_slots_ = 2;        // LHS buffers in flight: 2, or kMaxLhsSlots with a direct LHS
};

}  // namespace xtpu::codegen::mxu::gemm_internal
