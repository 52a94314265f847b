// Dot on the matrix units: lhs [B..., M, K] x rhs [B..., K, N] or [K, N].
// Row chunks of M fit the accumulators; K is chunked so that two f32 staging
// buffers and the bf16 planes of a chunk fit the VMEM left by the weights.
#include <algorithm>
#include <numeric>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/mxu_sources.h"

namespace xtpu::codegen::mxu {
namespace {

class DotSource : public GemmSource {
 public:
  // lhs [B, M, K] f32; rhs: constant (lit, [B or 1, K, N]) or view [B, K, N].
  // Weight rows [k0, k0 + lhs K) of a constant rhs with `lit_k` rows.
  // krows: K values per matmul (the chip's mxu.rows).
  // cores: the cores the engine splits the row chunks over (chunk counts are
  // rounded up to a multiple of them, so each core gets as many rows).
  DotSource(View lhs, int64_t n, const Literal* rhs_lit, bool rhs_batched, View rhs, int64_t krows, int64_t k0 = 0,
            int64_t lit_k = -1, int cores = 1)
      : lhs_(std::move(lhs)), n_(n), lit_(rhs_lit), lit_batched_(rhs_batched), rhs_(std::move(rhs)), k0_(k0),
        krows_(krows), cores_(cores) {
    b_ = lhs_.dims[0];
    m_ = lhs_.dims[1];
    k_ = lhs_.dims[2];
    lit_k_ = lit_k < 0 ? k_ : lit_k;
    e_ = lhs_.element_bytes();
  }
  std::unique_ptr<GemmSource> Slice(int64_t k0, int64_t kw) const {
    View rhs = lit_ ? rhs_ : rhs_.SubRange(1, k0, kw);
    return std::make_unique<DotSource>(lhs_.SubRange(2, k0, kw), n_, lit_, lit_batched_, rhs, krows_, k0_ + k0, lit_k_,
                                       cores_);
  }
  int64_t Batches() const override { return b_; }
  int64_t N() const override { return n_; }
  int64_t WeightRows() const override { return k_; }
  bool Plan(int64_t max_rows, int64_t budget, int planes) override {
    int64_t nch = CeilDiv(m_, std::min(m_, max_rows));
    // B x nch chunks split over the cores: a multiple of them when the rows
    // allow (7 chunks on 2 cores would give one core 4/7 of the work).
    const int64_t per = cores_ / std::gcd<int64_t>(b_, cores_);
    if (per > 1 && CeilDiv(nch, per) * per * 8 <= m_) nch = CeilDiv(nch, per) * per;
    mc_ = CeilDiv(m_, nch);
    starts_.clear();
    for (int64_t c = 0; c * mc_ < m_; ++c) starts_.push_back(c * mc_);
    starts_.push_back(m_);
    // bytes per K column of a chunk: 2 staging (+ f32 temp) + 2 x planes bf16.
    int64_t per_k = mc_ * (e_ * 2 + (planes > 1 ? 4 : 0) + 2 * 2 * planes);
    // At most kMaxKChunk columns per K chunk: weights loaded piece by piece
    // (one piece per K chunk) let the first matmuls start sooner. 256 (two
    // k-steps) measured best on v4 (BERT's projections 3-10% faster than
    // with 1024; the 4096^3 bf16 matmul 543.7k -> 538.5k cycles).
    constexpr int64_t kMaxKChunk = 256;
    int64_t kc = std::min(budget / std::max<int64_t>(1, per_k), k_ > kMaxKChunk ? kMaxKChunk : k_);
    if (kc >= k_) {
      kc_ = k_;
    } else {
      kc_ = kc / krows_ * krows_;
      if (kc_ < krows_) return false;
      // Even chunks: K = nk chunks of about equal 128-multiples.
      int64_t nk = CeilDiv(k_, kc_);
      kc_ = CeilDiv(CeilDiv(k_, nk), krows_) * krows_;
    }
    nk_ = CeilDiv(k_, kc_);
    ksteps_.assign(nk_, {});
    for (int64_t kc = 0; kc < nk_; ++kc) {
      int64_t w = std::min(kc_, k_ - kc * kc_);
      for (int64_t kk = 0; kk < w; kk += krows_) ksteps_[kc].push_back({kk * 2, std::min(krows_, w - kk), kc * kc_ + kk});
    }
    return true;
  }
  int64_t NumChunks() const override { return static_cast<int64_t>(starts_.size()) - 1; }
  int64_t ChunkRows(int64_t c) const override { return starts_[c + 1] - starts_[c]; }
  bool SplitLastChunks(int cores, int64_t min_rows) override {
    // One batch whose chunks split evenly over the cores: each core's last
    // chunk becomes two halves (the first half's epilogue and store overlap
    // the second's matmuls; the kernel ends after a half chunk's store).
    const int64_t n = NumChunks();
    if (b_ != 1 || cores < 1 || n % cores != 0) return false;
    const int64_t per = n / cores;
    std::vector<int64_t> starts;
    for (int64_t c = 0; c < n; ++c) {
      starts.push_back(starts_[c]);
      const int64_t rows = ChunkRows(c);
      if (c % per == per - 1) {
        if (rows / 2 < min_rows) return false;
        starts.push_back(starts_[c] + rows / 2);
      }
    }
    starts.push_back(m_);
    starts_ = std::move(starts);
    return true;
  }
  int64_t NumKChunks() const override { return nk_; }
  const std::vector<KStep>& KSteps(int64_t kc) const override { return ksteps_[kc]; }
  int64_t LhsRowStride(int64_t) const override { return kc_ * 2; }
  int64_t StagingBytes() const override { return mc_ * kc_ * e_; }
  int64_t PlaneBytes() const override { return mc_ * kc_ * 2; }
  int64_t LhsBytes() const override { return m_ * k_ * e_; }
  DType StagingDType() const override { return lhs_.dtype; }
  DType WeightDType() const override { return lit_ ? DType::kF32 : rhs_.dtype; }
  void EmitLhsLoad(ProgramEmitter& em, int core, int engine, int64_t b, int64_t c, int64_t kc, int64_t staging,
                   Sync sync) const override {
    int64_t w = std::min(kc_, k_ - kc * kc_);
    View v = lhs_.SubRange(0, b, 1).SubRange(1, starts_[c], ChunkRows(c)).SubRange(2, kc * kc_, w);
    // Rows at the K chunk's full pitch: for a bf16 LHS the staging buffer is
    // then the plane itself (the engine DMAs straight into it).
    Dma(em, core, engine, true, v, staging, {0, kc_ * e_, e_}, sync);
  }
  void Converts(int64_t, int64_t c, int64_t kc, std::vector<ConvertRect>* converts,
                std::vector<ZeroRect>*) const override {
    int64_t w = std::min(kc_, k_ - kc * kc_);
    converts->push_back({0, 0, ChunkRows(c), w, kc_ * 2, kc_ * e_});
  }
  void EmitOutTile(ProgramEmitter& em, int core, int engine, bool load, const View& t, int64_t b, int64_t c,
                   int64_t col0, int64_t ncols, int64_t vmem, int64_t row_stride, Sync sync) const override {
    View v = t.SubRange(0, b, 1).SubRange(1, starts_[c], ChunkRows(c)).SubRange(2, col0, ncols);
    // Tiles are rows of f32, or of bf16 at a 2-byte pitch for a bf16 result.
    Dma(em, core, engine, load, v, vmem, {0, row_stride, v.element_bytes()}, sync);
  }
  bool ConstantWeights() const override { return lit_ != nullptr; }
  float Weight(int64_t b, int64_t row, int64_t col) const override {
    int64_t i = ((lit_batched_ ? b : 0) * lit_k_ + k0_ + row) * n_ + col;
    return static_cast<float>(lit_->GetAsDouble(i));
  }
  View RhsView() const override { return rhs_; }

 private:
  View lhs_;
  int64_t n_;
  const Literal* lit_;
  bool lit_batched_;
  View rhs_;
  int64_t k0_ = 0, krows_ = 128, lit_k_ = 0, e_ = 4;  // e_: LHS element bytes (f32 or bf16)
  int cores_ = 1;
  int64_t b_ = 1, m_ = 0, k_ = 0;
  int64_t mc_ = 1, kc_ = 1, nk_ = 1;  // mc_: rows of the longest chunk
  std::vector<int64_t> starts_;       // first row of each chunk, then M
  std::vector<std::vector<KStep>> ksteps_;
};

}  // namespace

StatusOr<PreparedGemm> PrepareDot(LoweringContext& ctx, const Instruction& dot, const Instruction* lhs_inst,
                                  const Instruction* rhs_inst) {
  const Shape& ls = lhs_inst->shape;
  const Shape& rs = rhs_inst->shape;
  // A 2-D rhs may come with the lhs batch dims as free dims (no batch dims).
  const int nb = static_cast<int>(ls.rank()) - 2;
  const bool batched_ok = static_cast<int>(dot.dot_dims.lhs_batch.size()) == nb ||
                          (rs.rank() == 2 && dot.dot_dims.lhs_batch.empty());
  if (nb < 0 || !batched_ok || (rs.rank() != nb + 2 && rs.rank() != 2) ||
      dot.dot_dims.lhs_contracting != std::vector<int64_t>{nb + 1} ||
      dot.dot_dims.rhs_contracting != std::vector<int64_t>{rs.rank() - 2})
    return Unimplemented("dot '{}': not in chip form (lhs [B..., M, K], rhs [B..., K, N] or [K, N])", dot.name);
  // f32 x f32 -> f32 at the context's precision, or bf16 x bf16 -> f32 or
  // bf16 in one pass (bf16 values are their own hi plane).
  const bool bf16_in = ls.dtype == DType::kBF16 && rs.dtype == DType::kBF16;
  const bool f32_in = ls.dtype == DType::kF32 && rs.dtype == DType::kF32;
  if (!(f32_in && dot.shape.dtype == DType::kF32) &&
      !(bf16_in && (dot.shape.dtype == DType::kF32 || dot.shape.dtype == DType::kBF16)))
    return Unimplemented("dot '{}': the matrix unit takes f32 x f32 -> f32 or bf16 x bf16 -> f32/bf16 (got {} x {} -> {})",
                         dot.name, DTypeName(ls.dtype), DTypeName(rs.dtype), DTypeName(dot.shape.dtype));
  int64_t B = 1;
  for (int i = 0; i < nb; ++i) B *= ls.dims[i];
  const int64_t M = ls.dims[nb], K = ls.dims[nb + 1], N = rs.dims[rs.rank() - 1];
  const bool rhs2d = rs.rank() == 2;
  const Literal* lit = ctx.ConstantValue(rhs_inst);
  ASSIGN_OR_RETURN(View lhs, ctx.ValueView(lhs_inst));
  // A 2-D rhs shares the weights: fold the batch into M when the view allows.
  bool fold = false;
  if (rhs2d && B > 1) {
    StatusOr<View> f = lhs.Reshape({1, B * M, K});
    if (f.ok()) {
      lhs = *f;
      fold = true;
    }
  }
  const int64_t b_src = fold ? 1 : B, m_src = fold ? B * M : M;
  if (!fold) {
    StatusOr<View> f = lhs.Reshape({B, M, K});
    if (!f.ok()) return Unimplemented("dot '{}': lhs view {} cannot be seen as [B, M, K]", dot.name, lhs.ToString());
    lhs = *f;
  }
  View rhs;
  if (!lit) {
    ASSIGN_OR_RETURN(View r, ctx.ValueView(rhs_inst));
    if (rhs2d) {
      r = r.Broadcast({b_src, K, N}, {1, 2});
    } else {
      StatusOr<View> f = r.Reshape({B, K, N});
      if (!f.ok()) return Unimplemented("dot '{}': rhs view {} cannot be seen as [B, K, N]", dot.name, r.ToString());
      r = *f;
    }
    rhs = r;
  }
  PreparedGemm p;
  if (bf16_in) p.passes = 1;
  auto src = std::make_unique<DotSource>(lhs, N, lit, !rhs2d, rhs, ctx.chip().mxu.rows, 0, -1, ctx.em().Cores());
  const DotSource* whole = src.get();
  p.k_slice = [whole](int64_t k0, int64_t kw) { return whole->Slice(k0, kw); };
  p.source = std::move(src);
  p.canon = [b_src, m_src, N, name = dot.name](const View& v) -> StatusOr<View> {
    StatusOr<View> r = v.Reshape({b_src, m_src, N});
    if (!r.ok()) return Unimplemented("dot '{}': operand view {} cannot be seen as [B, M, N]", name, v.ToString());
    return *r;
  };
  p.bias = [b_src, N](const View& v) { return v.Broadcast({b_src, N}, {1}); };
  return p;
}

Status EmitGemmSplitK(LoweringContext& ctx, GemmJob job, const PreparedGemm& p, int64_t flops) {
  const GemmSource& src = *p.source;
  job.passes = p.passes;
  const int64_t kw = src.WeightRows();
  const int64_t limit = MaxWeightRows(ctx, src, JobPasses(ctx, job));
  if (kw <= limit || !p.k_slice || limit < 256) {
    job.flops = flops;
    return EmitGemm(ctx, job);  // EmitGemm reports a panel that does not fit
  }
  for (const EpilogueOp& e : job.epilogue)
    if (e.kind == EpilogueOp::kResidual)
      return Unimplemented("'{}': a {}-row weight panel exceeds VMEM at this precision (at most {} rows fit) and "
                           "splitting K is not supported with a residual epilogue",
                           job.name, kw, limit);
  if (job.out.dtype != DType::kF32)
    return Unimplemented("'{}': a {}-row weight panel exceeds VMEM at this precision (at most {} rows fit) and "
                         "splitting K needs an f32 result (got {})",
                         job.name, kw, limit, DTypeName(job.out.dtype));
  // Slices of equal 128-multiples, with headroom below the limit for the
  // rest of the plan (LHS and output buffers).
  const int64_t kr = ctx.chip().mxu.rows;
  int64_t step = std::max(kr, limit * 3 / 4 / kr * kr);
  const int64_t slices = CeilDiv(kw, step);
  step = CeilDiv(CeilDiv(kw, slices), kr) * kr;
  int64_t assigned = 0;
  for (int64_t s = 0, k0 = 0; k0 < kw; ++s, k0 += step) {
    const int64_t w = std::min(step, kw - k0);
    std::unique_ptr<GemmSource> part = p.k_slice(k0, w);
    GemmJob js;
    js.name = job.name + ".k" + std::to_string(s);
    js.op = job.op + " [K " + std::to_string(k0) + ":" + std::to_string(k0 + w) + "]";
    js.out = job.out;
    js.source = part.get();
    js.passes = job.passes;
    // Partial products accumulate in the output: out = partial + out.
    if (k0 > 0) js.epilogue.push_back({EpilogueOp::kResidual, isa::BinOp::kAdd, 0, false, job.out});
    const bool last = k0 + w >= kw;
    if (last) js.epilogue.insert(js.epilogue.end(), job.epilogue.begin(), job.epilogue.end());
    js.flops = last ? flops - assigned : flops * w / kw;
    assigned += js.flops;
    RETURN_IF_ERROR(EmitGemm(ctx, js));
  }
  return OkStatus();
}

}  // namespace xtpu::codegen::mxu

namespace xtpu::codegen {

Status EmitDot(LoweringContext& ctx, const Instruction& inst, const View& out) {
  ASSIGN_OR_RETURN(bool batched, mxu::TryEmitBatchedDot(ctx, inst, out));
  if (batched) return OkStatus();
  ASSIGN_OR_RETURN(mxu::PreparedGemm p, mxu::PrepareDot(ctx, inst, inst.operand(0), inst.operand(1)));
  mxu::GemmJob job;
  job.name = inst.name;
  job.op = "dot";
  ASSIGN_OR_RETURN(job.out, p.canon(out));
  job.source = p.source.get();
  return mxu::EmitGemmSplitK(ctx, std::move(job), p, InstructionFlops(inst));
}

}  // namespace xtpu::codegen
