// Many small independent matmuls (the batched dots of attention,
// [B, M, K] x [B, K, N] with M, K, N of a few hundred at most) on the matrix
// units, outside the GEMM engine (mxu_gemm.h).
//
// The engine keeps one weight panel per (batch, column group) and pipelines
// two steps deep, which suits large GEMMs; with one 16 KiB panel per batch
// element its steps are a few hundred cycles long and every one waits out an
// HBM latency. Here a step is `nb` whole batch elements: one DMA brings
// their LHS rows and another their weights into a ring of `depth` VMEM
// slots, so several steps' loads are in flight at once. In a step, batch i
// runs on MXU i % mxus (a weight load and a matmul per 128-column tile and
// 128-deep k-step, into accumulator rows of the step's half), its rows are
// read out (rounded to the result type by read_acc), and one DMA stores the
// step's results.
//
// Operands: bf16 x bf16 -> f32/bf16, or f32 x f32 -> f32 at the default
// precision (one bf16 pass: the VPU rounds both operands to bf16 in VMEM,
// as the engine does). Weights whose K dim is the contiguous one (a
// transposed rhs, e.g. attention's keys) are loaded as [N, K] rows and
// transposed by the XLU instead of being read element by element.
//
// Per step s (slot s % depth):
//   DMA e0:  [wait in_free x mxus]  load LHS, load W; signal the prep or MXUs
//   VPU:     (f32) convert LHS and W to bf16; signal XLU or MXUs
//   XLU:     (transposed W) transpose each batch's [N, K] to [K, N]; signal MXUs
//   MXU u:   wait ready[u]; load_weights/matmul per batch, tile, k-step;
//            signal in_free; [wait out_free[u]] read_acc; signal acc_done
//   DMA e2:  wait acc_done x mxus; store; signal out_free[u]
#include <algorithm>
#include <cstdlib>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/mxu_sources.h"
#include "xtpu/support/check.h"

namespace xtpu::codegen::mxu {
namespace {

using isa::Opcode;

constexpr int kMaxUnits = 8;

struct BatchedDot {
  View lhs, rhs, out;  // [B, M, K], [B, K, N], [B, M, N]
  int64_t B = 0, M = 0, K = 0, N = 0;
  bool f32_in = false;
  bool rhs_t = false;  // rhs K-contiguous: loaded as [N, K] and transposed
  bool softmax = false;  // out = softmax of the product's rows (TryEmitBatchedDotSoftmax)
};

int64_t Esz(DType t) { return t == DType::kF32 ? 4 : 2; }

}  // namespace

BatchedDotPlan PlanBatchedDot(const ChipConfig& chip, int mxus, int xlus, int64_t vmem_bytes, int64_t B, int64_t M,
                              int64_t K, int64_t N, DType in, DType out, bool rhs_t, bool softmax) {
  BatchedDotPlan p;
  const int64_t T = chip.mxu.cols;
  const int64_t half = AccumulatorRows(chip) / 2;
  const int64_t tiles = CeilDiv(N, T);
  if (B < 2 || M <= 0 || K <= 0 || N <= 0 || M * tiles > half || mxus <= 0) return p;
  // At most 4 k-steps of weights per batch element: larger problems are the
  // engine's (it keeps their panels in VMEM across row chunks).
  if (K > 4 * chip.mxu.rows || N > 4 * T) return p;
  if (rhs_t && xlus <= 0) rhs_t = false;
  const int64_t ei = Esz(in), eo = Esz(out);
  const bool f32 = in == DType::kF32;
  int64_t per = M * K * ei + K * N * ei + M * N * eo;
  if (f32) per += (M * K + K * N) * 2;      // bf16 copies
  if (rhs_t) per += K * N * 2 * (f32 ? 2 : 1);  // transposed panel (and the f32 case's bf16 [N, K])
  if (softmax) per += M * N * 4 + 2 * M * 4;     // f32 scores, row max and sum
  const int64_t per_mxu = half / (M * tiles);  // batch elements per MXU and step (accumulator half)
  const int64_t budget = vmem_bytes * 3 / 4;
  p.depth = softmax ? 6 : 4;  // (softmax: the loads and transposes further ahead of the reductions)
  int64_t nb = std::min<int64_t>(per_mxu * mxus, budget / (p.depth * per));
  // Steps of about 256 KiB of loads are long enough against the HBM latency;
  // more batches per step only lengthen the pipeline's fill.
  const int64_t load = M * K * ei + K * N * ei;
  nb = std::min<int64_t>(nb, std::max<int64_t>(mxus, CeilDiv(256 * 1024, load)));
  // At most two batch elements per MXU and step: a step's instructions per
  // unit stay well below the unit queue depth.
  nb = std::min<int64_t>(nb, 2 * mxus);
  if (nb >= mxus) nb = nb / mxus * mxus;
  if (nb < 1) return p;
  p.nb = nb;
  p.per_batch_vmem = per;
  p.rhs_t = rhs_t;
  p.ok = true;
  return p;
}

namespace {

class BatchedEmitter {
 public:
  BatchedEmitter(LoweringContext& ctx, const BatchedDot& d, const BatchedDotPlan& plan)
      : ctx_(ctx), em_(ctx.em()), d_(d), p_(plan) {}

  Status Run();

 private:
  struct Slot {
    int64_t lhs_raw = -1, w_raw = -1, lhs_bf = -1, w_tmp = -1, w_bf = -1, out = -1;
    int64_t sc = -1, mx = -1, sm = -1;  // softmax: f32 scores, row max, row sum
  };
  struct Core {
    int core = 0;
    int64_t b0 = 0, b1 = 0;
    std::vector<Slot> slots;
    // ready[x][u]: step's operands in place for MXU u, signaled by the
    // step's last producer (the DMA engine, the VPU, or XLU x = s % xlus when
    // the weights are transposed: XLUs of consecutive steps finish out of
    // order, so each has its own set). in_free[u] / acc_done[u]: one per MXU,
    // so that a fast MXU's next-step signal is never taken for a slow one's.
    int ready[kMaxUnits][kMaxUnits], out_free[kMaxUnits], xlu_ready[kMaxUnits], prep_ready = -1;
    int in_free[kMaxUnits], acc_done[kMaxUnits];
    // Softmax: VPU -> XLU x hand-offs, one set per reduction (the VPU
    // releases a step's row sum before the next step's row max, which the
    // XLUs run first); XLU x -> VPU (consumed in the order produced: max of
    // s, sum of s - 1, max of s + 1, ...); the normalized rows ready for the
    // store, and the store done with a slot's result.
    int v2x[2][kMaxUnits], x2v[kMaxUnits], sm_done = -1, st_free = -1;
  };
  int Engine(int e) const { return e % em_.DmaEngines(); }
  int SoftmaxXlus() const { return std::min(xlus_, 2); }
  Status Alloc(Core& k);
  // The parts of step s, emitted in a software-pipelined order (Run).
  void EmitLoad(Core& k, int s);
  void EmitPrep(Core& k, int s);
  void EmitCompute(Core& k, int s, int S);
  void EmitStore(Core& k, int s, int S);
  // Softmax of step s's rows in the scores' slot, in two stages software-
  // pipelined across steps (EmitSoftmaxStages): A = XLU row max, VPU
  // subtract and exp; B = XLU row sum, VPU divide (and round). The XLUs sum
  // one step while the VPU exponentiates the next.
  void EmitSoftmaxMax(Core& k, int s);
  void EmitSoftmaxExp(Core& k, int s);
  void EmitSoftmaxSum(Core& k, int s);
  void EmitSoftmaxDivide(Core& k, int s, int S);
  void EmitRowReduce(Core& k, int s, isa::RedOp op, int which, int64_t dst);
  // Iteration s of the pipeline: A(s - 1), B(s - 2) (s up to S + 1).
  void EmitSoftmaxStages(Core& k, int s, int S);
  int64_t Batch0(const Core& k, int s) const { return k.b0 + s * p_.nb; }
  int64_t StepBatches(const Core& k, int s) const { return std::min(p_.nb, k.b1 - Batch0(k, s)); }

  LoweringContext& ctx_;
  ProgramEmitter& em_;
  const BatchedDot& d_;
  BatchedDotPlan p_;
  int mxus_ = 1, xlus_ = 0;
  int64_t tiles_ = 1, tile_ = 128, krows_ = 128, half_ = 512;
  DType out_dtype_ = DType::kF32;
};

Status BatchedEmitter::Alloc(Core& k) {
  const int c = k.core;
  const int64_t nb = p_.nb, M = d_.M, K = d_.K, N = d_.N;
  const int64_t ei = Esz(d_.lhs.dtype), eo = Esz(out_dtype_);
  auto alloc = [&](int64_t bytes) { return em_.AllocVmem(c, std::max<int64_t>(bytes, 64), 256); };
  k.slots.resize(p_.depth);
  for (Slot& sl : k.slots) {
    ASSIGN_OR_RETURN(sl.lhs_raw, alloc(nb * M * K * ei));
    ASSIGN_OR_RETURN(sl.w_raw, alloc(nb * K * N * ei));
    sl.lhs_bf = sl.lhs_raw;
    sl.w_bf = sl.w_raw;
    if (d_.f32_in) {
      ASSIGN_OR_RETURN(sl.lhs_bf, alloc(nb * M * K * 2));
      ASSIGN_OR_RETURN(sl.w_bf, alloc(nb * K * N * 2));
    }
    if (p_.rhs_t) {
      // The transpose reads bf16 [N, K] (w_raw, or its bf16 copy) and writes w_bf.
      sl.w_tmp = sl.w_bf;
      if (!d_.f32_in) sl.w_tmp = sl.w_raw;
      ASSIGN_OR_RETURN(sl.w_bf, alloc(nb * K * N * 2));
    }
    ASSIGN_OR_RETURN(sl.out, alloc(nb * M * N * eo));
    if (d_.softmax) {
      ASSIGN_OR_RETURN(sl.sc, alloc(nb * M * N * 4));
      ASSIGN_OR_RETURN(sl.mx, alloc(nb * M * 4));
      ASSIGN_OR_RETURN(sl.sm, alloc(nb * M * 4));
    }
  }
  auto sem = [&](int* out) { return em_.AllocSem(c, out); };
  for (int x = 0; x < (p_.rhs_t ? xlus_ : 1); ++x)
    for (int u = 0; u < mxus_; ++u) RETURN_IF_ERROR(sem(&k.ready[x][u]));
  for (int u = 0; u < mxus_; ++u) {
    RETURN_IF_ERROR(sem(&k.out_free[u]));
    RETURN_IF_ERROR(sem(&k.in_free[u]));
    RETURN_IF_ERROR(sem(&k.acc_done[u]));
  }
  if (d_.f32_in) RETURN_IF_ERROR(sem(&k.prep_ready));
  if (p_.rhs_t)
    for (int x = 0; x < xlus_; ++x) RETURN_IF_ERROR(sem(&k.xlu_ready[x]));
  if (d_.softmax) {
    for (int x = 0; x < SoftmaxXlus(); ++x) {
      RETURN_IF_ERROR(sem(&k.v2x[0][x]));
      RETURN_IF_ERROR(sem(&k.v2x[1][x]));
      RETURN_IF_ERROR(sem(&k.x2v[x]));
    }
    RETURN_IF_ERROR(sem(&k.sm_done));
    RETURN_IF_ERROR(sem(&k.st_free));
  }
  return OkStatus();
}

void BatchedEmitter::EmitLoad(Core& k, int s) {
  const int c = k.core;
  const int D = p_.depth;
  const Slot& sl = k.slots[s % D];
  const int64_t M = d_.M, K = d_.K, N = d_.N;
  const int64_t b = Batch0(k, s), nbs = StepBatches(k, s);
  const int64_t ei = Esz(d_.lhs.dtype);
  const int xl = p_.rhs_t ? s % xlus_ : 0;
  const int e_in = Engine(0);
  if (s >= D)
    for (int u = 0; u < mxus_; ++u) em_.Emit(c, Opcode::kDmaNop, e_in, {}, {.wait = k.in_free[u]});
  const int* ready = k.ready[xl];
  Dma(em_, c, e_in, true, d_.lhs.SubRange(0, b, nbs), sl.lhs_raw, {M * K * ei, K * ei, ei}, {});
  View w = d_.rhs.SubRange(0, b, nbs);
  if (p_.rhs_t) {
    w = w.Transpose({0, 2, 1});  // [nbs, N, K], K contiguous
    Dma(em_, c, e_in, true, w, sl.w_raw, {K * N * ei, K * ei, ei}, {});
  } else {
    Dma(em_, c, e_in, true, w, sl.w_raw, {K * N * ei, N * ei, ei}, {});
  }
  if (d_.f32_in) {
    em_.Emit(c, Opcode::kDmaNop, e_in, {}, {.signal = k.prep_ready});
  } else if (p_.rhs_t) {
    em_.Emit(c, Opcode::kDmaNop, e_in, {}, {.signal = k.xlu_ready[xl]});
  } else {
    for (int u = 0; u < mxus_; ++u) em_.Emit(c, Opcode::kDmaNop, e_in, {}, {.signal = ready[u]});
  }
}

void BatchedEmitter::EmitPrep(Core& k, int s) {
  const int c = k.core;
  const Slot& sl = k.slots[s % p_.depth];
  const int64_t M = d_.M, K = d_.K, N = d_.N;
  const int64_t nbs = StepBatches(k, s);
  const int64_t bf = static_cast<int64_t>(DType::kBF16), f32 = static_cast<int64_t>(DType::kF32);
  const int xl = p_.rhs_t ? s % xlus_ : 0;
  const int* ready = k.ready[xl];
  // ---- f32 operands: round to bf16 on the VPU ----
  if (d_.f32_in) {
    em_.Emit(c, Opcode::kVpuConvert, 0,
             {{"to", bf}, {"from", f32}, {"dst", sl.lhs_bf}, {"src", sl.lhs_raw}, {"rows", nbs * M}, {"cols", K},
              {"ds", K * 2}, {"ss", K * 4}},
             {.wait = k.prep_ready});
    // [nbs * K, N] or, transposed, [nbs * N, K]: the same element count.
    const int64_t rows = p_.rhs_t ? nbs * N : nbs * K, cols = p_.rhs_t ? K : N;
    em_.Emit(c, Opcode::kVpuConvert, 0,
             {{"to", bf}, {"from", f32}, {"dst", p_.rhs_t ? sl.w_tmp : sl.w_bf}, {"src", sl.w_raw}, {"rows", rows},
              {"cols", cols}, {"ds", cols * 2}, {"ss", cols * 4}});
    if (p_.rhs_t) {
      em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = k.xlu_ready[xl]});
    } else {
      for (int u = 0; u < mxus_; ++u) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = ready[u]});
    }
  }
  // ---- transposed weights: [N, K] -> [K, N] per batch element on the XLU ----
  if (p_.rhs_t) {
    for (int64_t i = 0; i < nbs; ++i) {
      em_.Emit(c, Opcode::kXluTranspose, xl,
               {{"dtype", bf}, {"dst", sl.w_bf + i * K * N * 2}, {"src", sl.w_tmp + i * K * N * 2}, {"rows", N},
                {"cols", K}, {"ds", N * 2}, {"ss", K * 2}},
               {.wait = i == 0 ? k.xlu_ready[xl] : -1});
    }
    for (int u = 0; u < mxus_; ++u) em_.Emit(c, Opcode::kXluNop, xl, {}, {.signal = ready[u]});
  }
}

void BatchedEmitter::EmitCompute(Core& k, int s, int S) {
  const int c = k.core;
  const int D = p_.depth;
  const Slot& sl = k.slots[s % D];
  const int64_t M = d_.M, K = d_.K, N = d_.N;
  const int64_t nbs = StepBatches(k, s);
  const int64_t eo = Esz(out_dtype_);
  const int* ready = k.ready[p_.rhs_t ? s % xlus_ : 0];
  // ---- matmuls ----
  const int64_t acc0 = (s % 2) * half_;
  const bool free_in = s + D < S;
  for (int u = 0; u < mxus_; ++u) {
    std::vector<int64_t> mine;
    for (int64_t i = u; i < nbs; i += mxus_) mine.push_back(i);
    if (mine.empty()) {
      em_.Emit(c, Opcode::kMxuNop, u, {}, {.wait = ready[u], .signal = free_in ? k.in_free[u] : -1});
      continue;
    }
    bool waited = false;
    const int64_t total = static_cast<int64_t>(mine.size()) * tiles_ * CeilDiv(K, krows_);
    int64_t n_mm = 0;
    for (size_t q = 0; q < mine.size(); ++q) {
      const int64_t i = mine[q];
      for (int64_t t = 0; t < tiles_; ++t) {
        const int64_t width = std::min(tile_, N - t * tile_);
        for (int64_t kk = 0; kk < K; kk += krows_) {
          const int64_t kw = std::min(krows_, K - kk);
          Sync sy;
          if (!waited) sy.wait = ready[u];
          waited = true;
          em_.Emit(c, Opcode::kMxuLoadWeights, u,
                   {{"src", sl.w_bf + i * K * N * 2 + (kk * N + t * tile_) * 2}, {"stride", N * 2}, {"k", kw},
                    {"n", width}},
                   sy);
          Sync ms;
          if (++n_mm == total && free_in) ms.signal = k.in_free[u];
          em_.Emit(c, Opcode::kMxuMatmul, u,
                   {{"lhs", sl.lhs_bf + i * M * K * 2 + kk * 2}, {"stride", K * 2}, {"m", M},
                    {"acc", acc0 + (static_cast<int64_t>(q) * tiles_ + t) * M}, {"accumulate", kk > 0 ? 1 : 0}},
                   ms);
        }
      }
    }
  }
  // ---- read-out (rounded to the result type) ----
  for (int u = 0; u < mxus_; ++u) {
    std::vector<int64_t> mine;
    for (int64_t i = u; i < nbs; i += mxus_) mine.push_back(i);
    const int wait = s >= D ? k.out_free[u] : -1;
    if (mine.empty()) {
      em_.Emit(c, Opcode::kMxuNop, u, {}, {.wait = wait, .signal = k.acc_done[u]});
      continue;
    }
    for (size_t q = 0; q < mine.size(); ++q) {
      const int64_t i = mine[q];
      for (int64_t t = 0; t < tiles_; ++t) {
        const bool first = q == 0 && t == 0, last = q + 1 == mine.size() && t + 1 == tiles_;
        const int64_t width = std::min(tile_, N - t * tile_);
        // (softmax: f32 scores, normalized by EmitSoftmax into sl.out)
        const int64_t ea = d_.softmax ? 4 : eo;
        em_.Emit(c, Opcode::kMxuReadAcc, u,
                 {{"dst", (d_.softmax ? sl.sc : sl.out) + i * M * N * ea + t * tile_ * ea}, {"stride", N * ea},
                  {"acc", acc0 + (static_cast<int64_t>(q) * tiles_ + t) * M}, {"m", M}, {"n", width},
                  {"dtype", static_cast<int64_t>(d_.softmax ? DType::kF32 : out_dtype_)}},
                 {.wait = first ? wait : -1, .signal = last ? k.acc_done[u] : -1});
      }
    }
  }
}

void BatchedEmitter::EmitStore(Core& k, int s, int S) {
  const int c = k.core;
  const int D = p_.depth;
  const Slot& sl = k.slots[s % D];
  const int64_t M = d_.M, N = d_.N;
  const int64_t b = Batch0(k, s), nbs = StepBatches(k, s);
  const int64_t eo = Esz(out_dtype_);
  const int e_out = Engine(2);
  if (d_.softmax) {
    Dma(em_, c, e_out, false, d_.out.SubRange(0, b, nbs), sl.out, {M * N * eo, N * eo, eo}, {.wait = k.sm_done});
    if (s + D < S) em_.Emit(c, Opcode::kDmaNop, e_out, {}, {.signal = k.st_free});
    return;
  }
  for (int u = 0; u < mxus_; ++u) em_.Emit(c, Opcode::kDmaNop, e_out, {}, {.wait = k.acc_done[u]});
  Dma(em_, c, e_out, false, d_.out.SubRange(0, b, nbs), sl.out, {M * N * eo, N * eo, eo}, {});
  if (s + D < S)
    for (int u = 0; u < mxus_; ++u) em_.Emit(c, Opcode::kDmaNop, e_out, {}, {.signal = k.out_free[u]});
}

// XLU x reduces its share of step s's rows of scores into dst; its first
// instruction waits for the VPU (v2x), its last signals the VPU (x2v).
void BatchedEmitter::EmitRowReduce(Core& k, int s, isa::RedOp op, int which, int64_t dst) {
  const int c = k.core;
  const Slot& sl = k.slots[s % p_.depth];
  const int64_t N = d_.N, rows = StepBatches(k, s) * d_.M;
  const int nx = SoftmaxXlus();
  for (int x = 0; x < nx; ++x) {
    const int64_t r0 = rows * x / nx, r1 = rows * (x + 1) / nx;
    if (r1 > r0)
      em_.Emit(c, Opcode::kXluReduce, x,
               {{"op", static_cast<int64_t>(op)}, {"dtype", static_cast<int64_t>(DType::kF32)}, {"dst", dst + r0 * 4},
                {"src", sl.sc + r0 * N * 4}, {"rows", r1 - r0}, {"cols", N}, {"ds", 4}, {"ss", N * 4}},
               {.wait = k.v2x[which][x]});
    else
      em_.Emit(c, Opcode::kXluNop, x, {}, {.wait = k.v2x[which][x]});
    em_.Emit(c, Opcode::kXluNop, x, {}, {.signal = k.x2v[x]});
  }
}

void BatchedEmitter::EmitSoftmaxMax(Core& k, int s) {
  const int c = k.core;
  for (int u = 0; u < mxus_; ++u) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.acc_done[u]});
  for (int x = 0; x < SoftmaxXlus(); ++x) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = k.v2x[0][x]});
  EmitRowReduce(k, s, isa::RedOp::kMax, 0, k.slots[s % p_.depth].mx);
}

void BatchedEmitter::EmitSoftmaxSum(Core& k, int s) {
  EmitRowReduce(k, s, isa::RedOp::kSum, 1, k.slots[s % p_.depth].sm);
}

void BatchedEmitter::EmitSoftmaxExp(Core& k, int s) {
  const int c = k.core;
  const Slot& sl = k.slots[s % p_.depth];
  const int64_t N = d_.N, rows = StepBatches(k, s) * d_.M;
  const int64_t f32 = static_cast<int64_t>(DType::kF32);
  for (int x = 0; x < SoftmaxXlus(); ++x) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.x2v[x]});
  em_.Emit(c, Opcode::kVpuBinary, 0,
           {{"op", static_cast<int64_t>(isa::BinOp::kSub)}, {"dtype", f32}, {"dst", sl.sc}, {"a", sl.sc}, {"b", sl.mx},
            {"rows", rows}, {"cols", N}, {"ds", N * 4}, {"as", N * 4}, {"bs", 4},
            {"bmode", static_cast<int64_t>(isa::BMode::kCol)}});
  em_.Emit(c, Opcode::kVpuUnary, 0,
           {{"op", static_cast<int64_t>(isa::UnOp::kExp)}, {"dtype", f32}, {"dst", sl.sc}, {"a", sl.sc}, {"rows", rows},
            {"cols", N}, {"ds", N * 4}, {"as", N * 4}});
  for (int x = 0; x < SoftmaxXlus(); ++x) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = k.v2x[1][x]});
}

void BatchedEmitter::EmitSoftmaxStages(Core& k, int s, int S) {
  // XLU order: max of s - 1, sum of s - 2; the VPU consumes their hand-offs
  // in that order (x2v), and releases the sum of s - 1 (in Exp) before the
  // max of s (v2x: one set each).
  if (s >= 1 && s - 1 < S) EmitSoftmaxMax(k, s - 1);
  if (s >= 2) EmitSoftmaxSum(k, s - 2);
  if (s >= 1 && s - 1 < S) EmitSoftmaxExp(k, s - 1);
  if (s >= 2) {
    EmitSoftmaxDivide(k, s - 2, S);
    EmitStore(k, s - 2, S);
  }
}

void BatchedEmitter::EmitSoftmaxDivide(Core& k, int s, int S) {
  const int c = k.core;
  const int D = p_.depth;
  const Slot& sl = k.slots[s % D];
  const int64_t N = d_.N, rows = StepBatches(k, s) * d_.M;
  const int64_t f32 = static_cast<int64_t>(DType::kF32);
  for (int x = 0; x < SoftmaxXlus(); ++x) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.x2v[x]});
  if (s >= D) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.wait = k.st_free});  // sl.out stored
  const bool f32_out = out_dtype_ == DType::kF32;
  em_.Emit(c, Opcode::kVpuBinary, 0,
           {{"op", static_cast<int64_t>(isa::BinOp::kDiv)}, {"dtype", f32}, {"dst", f32_out ? sl.out : sl.sc},
            {"a", sl.sc}, {"b", sl.sm}, {"rows", rows}, {"cols", N}, {"ds", N * 4}, {"as", N * 4}, {"bs", 4},
            {"bmode", static_cast<int64_t>(isa::BMode::kCol)}});
  if (!f32_out)
    em_.Emit(c, Opcode::kVpuConvert, 0,
             {{"to", static_cast<int64_t>(out_dtype_)}, {"from", f32}, {"dst", sl.out}, {"src", sl.sc}, {"rows", rows},
              {"cols", N}, {"ds", N * Esz(out_dtype_)}, {"ss", N * 4}});
  if (s + D < S)  // the scores' slot is free for the MXUs' read-out of step s + D
    for (int u = 0; u < mxus_; ++u) em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = k.out_free[u]});
  em_.Emit(c, Opcode::kVpuNop, 0, {}, {.signal = k.sm_done});
}

Status BatchedEmitter::Run() {
  const ChipConfig& chip = ctx_.chip();
  mxus_ = std::min(em_.Mxus(), kMaxUnits);
  xlus_ = std::min(em_.Xlus(), kMaxUnits);
  tile_ = chip.mxu.cols;
  krows_ = chip.mxu.rows;
  tiles_ = CeilDiv(d_.N, tile_);
  half_ = AccumulatorRows(chip) / 2;
  out_dtype_ = d_.out.dtype;
  const int cores = em_.Cores();
  for (int c = 0; c < cores; ++c) {
    Core k;
    k.core = c;
    k.b0 = d_.B * c / cores;
    k.b1 = d_.B * (c + 1) / cores;
    if (k.b1 <= k.b0) continue;
    RETURN_IF_ERROR(Alloc(k));
    const int S = static_cast<int>(CeilDiv(k.b1 - k.b0, p_.nb));
    // Loads run `lead` steps ahead of the matmuls, the operand preparation
    // (VPU/XLU) one step ahead: every wait refers to an instruction emitted
    // earlier, and the unit queues (sequencer.queue_depth) do not stall the
    // sequencer on work whose data is still far away.
    const int lead = std::max(1, std::min(p_.depth - 2, S));
    for (int s = 0; s < std::min(lead, S); ++s) EmitLoad(k, s);
    EmitPrep(k, 0);
    for (int s = 0; s < S; ++s) {
      if (s + lead < S) EmitLoad(k, s + lead);
      if (s + 1 < S) EmitPrep(k, s + 1);
      EmitCompute(k, s, S);
      if (!d_.softmax) {
        EmitStore(k, s, S);
        continue;
      }
      // The softmax stages one and two steps behind the matmuls: the MXUs'
      // instructions of step s are dispatched before VPU and XLU work that
      // waits for earlier read-outs can fill those units' queues and stall
      // the sequencer.
      EmitSoftmaxStages(k, s, S);
    }
    if (d_.softmax)
      for (int s = S; s < S + 2; ++s) EmitSoftmaxStages(k, s, S);
  }
  return OkStatus();
}

}  // namespace

namespace {

// The batched dot `dot` writing `out` in the kernel's form; false if it is not one.
StatusOr<bool> MakeBatchedDot(LoweringContext& ctx, const Instruction& dot, const View& out, BatchedDot* d) {
  const Instruction* li = dot.operand(0);
  const Instruction* ri = dot.operand(1);
  const Shape& ls = li->shape;
  const Shape& rs = ri->shape;
  const int nb = static_cast<int>(ls.rank()) - 2;
  if (nb < 1 || rs.rank() != ls.rank() || ctx.ConstantValue(ri) != nullptr) return false;
  if (static_cast<int>(dot.dot_dims.lhs_batch.size()) != nb || dot.dot_dims.lhs_contracting != std::vector<int64_t>{nb + 1} ||
      dot.dot_dims.rhs_contracting != std::vector<int64_t>{nb})
    return false;
  for (int i = 0; i < nb; ++i)
    if (dot.dot_dims.lhs_batch[i] != i || dot.dot_dims.rhs_batch[i] != i) return false;
  ASSIGN_OR_RETURN(View lhs, ctx.ValueView(li));
  ASSIGN_OR_RETURN(View rhs, ctx.ValueView(ri));
  const bool bf16_in = lhs.dtype == DType::kBF16 && rhs.dtype == DType::kBF16;
  const bool f32_in = lhs.dtype == DType::kF32 && rhs.dtype == DType::kF32 && ctx.precision_passes() == 1;
  if (!bf16_in && !f32_in) return false;
  if (out.dtype != DType::kF32 && !(bf16_in && out.dtype == DType::kBF16)) return false;
  d->B = 1;
  for (int i = 0; i < nb; ++i) d->B *= ls.dims[i];
  d->M = ls.dims[nb];
  d->K = ls.dims[nb + 1];
  d->N = rs.dims[nb + 1];
  StatusOr<View> l3 = lhs.Reshape({d->B, d->M, d->K});
  StatusOr<View> r3 = rhs.Reshape({d->B, d->K, d->N});
  StatusOr<View> o3 = out.Reshape({d->B, d->M, d->N});
  if (!l3.ok() || !r3.ok() || !o3.ok()) return false;
  d->lhs = *l3;
  d->rhs = *r3;
  d->out = *o3;
  d->f32_in = f32_in;
  const int64_t esz = d->rhs.element_bytes();
  d->rhs_t = d->N > 1 && d->rhs.strides[2] != esz && d->rhs.strides[1] == esz;
  return MxuRate(ctx.chip(), DType::kBF16) > 0;
}

}  // namespace

StatusOr<bool> TryEmitBatchedDot(LoweringContext& ctx, const Instruction& dot, const View& out) {
  BatchedDot d;
  ASSIGN_OR_RETURN(bool ok, MakeBatchedDot(ctx, dot, out, &d));
  if (!ok) return false;
  ProgramEmitter& em = ctx.em();
  BatchedDotPlan plan = PlanBatchedDot(ctx.chip(), em.Mxus(), em.Xlus(), em.VmemBytes() - 64 * 1024, d.B, d.M, d.K,
                                       d.N, d.lhs.dtype, d.out.dtype, d.rhs_t);
  if (!plan.ok) return false;
  em.BeginKernel(dot.name, "dot(batched)", InstructionFlops(dot));
  BatchedEmitter be(ctx, d, plan);
  RETURN_IF_ERROR(be.Run());
  RETURN_IF_ERROR(em.EndKernel());
  return true;
}

bool IsSoftmaxOf(const Instruction& fusion, const Instruction& dot) {
  if (fusion.opcode != xtpu::Opcode::kFusion || fusion.fusion_kind != FusionKind::kRow || !fusion.to_apply ||
      fusion.operands.size() != 1 || fusion.operand(0) != &dot || fusion.shape != dot.shape)
    return false;
  const Computation& comp = *fusion.to_apply;
  const int64_t rank = dot.shape.rank();
  if (rank < 2 || comp.instructions().size() != 10) return false;
  std::vector<int64_t> rows(static_cast<size_t>(rank - 1));
  for (int64_t i = 0; i + 1 < rank; ++i) rows[static_cast<size_t>(i)] = i;
  const DType t = dot.shape.dtype;
  auto is = [&](const Instruction* i, xtpu::Opcode op) { return i && i->opcode == op && i->shape.dtype == t; };
  // A reduce over the last dim with `reducer`, or a broadcast of one back.
  auto row_reduce = [&](const Instruction* i, xtpu::Opcode reducer) {
    return is(i, xtpu::Opcode::kReduce) && i->dimensions == std::vector<int64_t>{rank - 1} && i->to_apply &&
           i->to_apply->root() && i->to_apply->root()->opcode == reducer;
  };
  auto bcast = [&](const Instruction* i) { return is(i, xtpu::Opcode::kBroadcast) && i->dimensions == rows; };
  const Instruction* div = comp.root();
  if (!is(div, xtpu::Opcode::kDivide) || !bcast(div->operand(1))) return false;
  const Instruction* sum = div->operand(1)->operand(0);
  const Instruction* e = div->operand(0);
  if (!row_reduce(sum, xtpu::Opcode::kAdd) || sum->operand(0) != e || !is(e, xtpu::Opcode::kExp)) return false;
  const Instruction* sub = e->operand(0);
  if (!is(sub, xtpu::Opcode::kSubtract) || !bcast(sub->operand(1))) return false;
  const Instruction* p = sub->operand(0);
  const Instruction* mx = sub->operand(1)->operand(0);
  return is(p, xtpu::Opcode::kParameter) && p->parameter_number == 0 && row_reduce(mx, xtpu::Opcode::kMaximum) &&
         mx->operand(0) == p;
}

StatusOr<bool> TryEmitBatchedDotSoftmax(LoweringContext& ctx, const Instruction& dot, const Instruction& fusion,
                                        const View& out, bool emit) {
  if (!IsSoftmaxOf(fusion, dot) || std::getenv("XTPU_NO_SOFTMAX_FUSION") != nullptr) return false;
  BatchedDot d;
  ASSIGN_OR_RETURN(bool ok, MakeBatchedDot(ctx, dot, out, &d));
  ProgramEmitter& em = ctx.em();
  if (!ok || em.Xlus() < 1) return false;
  d.softmax = true;
  BatchedDotPlan plan = PlanBatchedDot(ctx.chip(), em.Mxus(), em.Xlus(), em.VmemBytes() - 64 * 1024, d.B, d.M, d.K,
                                       d.N, d.lhs.dtype, d.out.dtype, d.rhs_t, true);
  if (!plan.ok || !emit) return plan.ok;
  em.BeginKernel(fusion.name, "dot(batched)+softmax", InstructionFlops(dot));
  BatchedEmitter be(ctx, d, plan);
  RETURN_IF_ERROR(be.Run());
  RETURN_IF_ERROR(em.EndKernel());
  return true;
}

}  // namespace xtpu::codegen::mxu
