// Planning of the GEMM engine (mxu_gemm.h): column groups, the MXU grid,
// row chunks, the split over cores, and the constant weight panels.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "xtpu/compiler/codegen/mxu_plan.h"

namespace xtpu::codegen::mxu {
namespace {

// Bytes of VMEM a plan needs besides the LHS buffers.
// res16: a bf16 residual also needs its bf16 staging tiles.
int64_t FixedVmem(const Plan& p, int planes, int64_t kw, bool no_wstage, bool res, bool res16, int64_t bias_bytes,
                  bool saves) {
  int64_t v = p.slots * planes * kw * p.ng * 2;
  if (!no_wstage) v += kw * p.ng * 4 * (planes > 1 ? 2 : 1);
  const int64_t out = p.pm * p.ms_max * p.ng * 4;
  v += p.out_slots * out * (res ? 2 : 1) + (res16 ? p.out_slots * out / 2 : 0) + (saves ? out : 0) + bias_bytes + 16 * 1024;
  return v;
}

// VMEM bytes per weight-panel row and column: the bf16 planes, plus the f32
// staging (and split temporary) of weights loaded from HBM.
int64_t PanelBytesPerElement(int planes, const GemmSource& src) {
  return planes * 2 + (src.DirectWeights() ? 0 : 4 * (planes > 1 ? 2 : 1));
}

}  // namespace

int64_t MaxWeightRows(LoweringContext& ctx, const GemmSource& src, int passes) {
  const int planes = PrecisionPlanes(passes);
  return ctx.em().VmemBytes() / 2 / (PanelBytesPerElement(planes, src) * ctx.chip().mxu.cols);
}

int JobPasses(LoweringContext& ctx, const GemmJob& job) { return job.passes ? job.passes : ctx.precision_passes(); }

Status EmitGemm(LoweringContext& ctx, const GemmJob& job) {
  ProgramEmitter& em = ctx.em();
  const ChipConfig& chip = ctx.chip();
  GemmSource& src = const_cast<GemmSource&>(*job.source);
  if (MxuRate(chip, DType::kBF16) <= 0)
    return Unimplemented("'{}': chip '{}' has no bf16 matrix unit (mxu.bf16_rate = 0); float matmuls need one",
                         job.name, chip.name);
  const int passes = JobPasses(ctx, job);
  const int planes = PrecisionPlanes(passes);
  const int64_t R = AccumulatorRows(chip), T = chip.mxu.cols;
  const int mxus = em.Mxus(), cores = em.Cores();
  // The kernel owns the core's VMEM; keep a little for alignment.
  const int64_t V = em.VmemBytes() - 64 * 1024;
  const int64_t B = src.Batches(), N = src.N(), Kw = src.WeightRows();
  const bool const_w = src.ConstantWeights();
  const bool no_wstage = src.DirectWeights();  // no f32 weight staging
  bool res = false, res16 = false;
  int64_t bias_bytes = 0;
  for (const EpilogueOp& e : job.epilogue) {
    res |= e.kind == EpilogueOp::kResidual;
    res16 |= e.kind == EpilogueOp::kResidual && e.operand.dtype == DType::kBF16;
    if (e.kind == EpilogueOp::kBias) bias_bytes = B * N * 4;
  }
  const bool saves = EpilogueSaves(job.epilogue);
  if (N <= 0 || Kw <= 0) return Error("'{}': empty matmul", job.name);
  const int64_t nt = CeilDiv(N, T);
  const bool triple = std::getenv("XTPU_NO_TRIPLE") == nullptr;  // (A/B in tests)
  // Kernels whose matrix units are busy alternate accumulator halves: the
  // read_acc of a row chunk then overlaps the next chunk's matmuls instead
  // of adding a k-step's worth of rows per chunk. The estimate: LHS rows x
  // (k-steps + that read_acc) x column tiles over all MXUs, above the HBM
  // time of the LHS, result and residual (ResNet's conv1 and 1x1
  // convolutions of 64 channels: one or two k-steps per chunk). Memory-bound
  // kernels keep the longer row chunks.
  const double out_elems = static_cast<double>(job.out.elements());
  const double bytes = static_cast<double>(B * src.LhsBytes()) + out_elems * job.out.element_bytes() * (res ? 2 : 1);
  const double mxu_rows = out_elems / N * static_cast<double>((CeilDiv(Kw, chip.mxu.rows) + 1) * CeilDiv(N, T));
  const bool halves = mxu_rows / (mxus * cores) > bytes / HbmBytesPerCycle(chip);
  const int64_t per_col = Kw * PanelBytesPerElement(planes, src);
  const int64_t wbudget = em.VmemBytes() / 2;
  auto make = [&](int64_t ng_tiles) -> std::optional<Plan> {
    Plan p;
    p.ng = std::min(N, ng_tiles * T);
    p.groups = CeilDiv(N, p.ng);
    p.tg = CeilDiv(p.ng, T);
    p.pn = static_cast<int>(std::min<int64_t>(mxus, p.tg));
    // Fewer MXU columns when the tiles do not divide evenly among them (6
    // tiles on 4 MXUs: 2, 2, 1, 1): a pm x pn grid with pm > 1 also splits the
    // rows. Cost per chunk row of an MXU: its tiles, each at least a weight
    // shift (mxu.rows cycles) long; ties keep the wider pn.
    auto cost = [&](int pn) {
      const int pm = std::max(1, mxus / pn);
      const int64_t tpm = CeilDiv(p.tg, pn), ms = std::max<int64_t>(1, R / tpm);
      return static_cast<double>(tpm) * std::max<double>(1.0, static_cast<double>(chip.mxu.rows) / ms) / pm;
    };
    for (int pn = p.pn - 1; pn >= 1; --pn)
      if (mxus % pn == 0 && cost(pn) < cost(p.pn) - 1e-9) p.pn = pn;
    p.pm = std::max(1, mxus / p.pn);
    p.tpm = CeilDiv(p.tg, p.pn);
    // (Only when a half still streams rows for twice a weight tile's load:
    // shorter matmuls would wait for their weights.)
    p.acc_halves = halves && R / p.tpm / 2 >= 2 * WeightLoadCycles(chip);
    p.ms_max = R / p.tpm / (p.acc_halves ? 2 : 1);
    p.slots = (B * p.groups > 1 && 2 * p.ng * per_col <= wbudget) ? 2 : 1;
    // The plan with `ms` rows per MXU if it fits (the source is left planned
    // for it), with a third output slot if the LHS still fits beside it.
    auto fit = [&](int64_t ms) -> std::optional<Plan> {
      p.ms_max = ms;
      int64_t fixed = FixedVmem(p, planes, Kw, no_wstage, res, res16, bias_bytes, saves);
      if (fixed >= V || !src.Plan(p.pm * ms, V - fixed, planes)) return std::nullopt;
      if (triple) {
        Plan q = p;
        q.out_slots = 3;
        int64_t fixed3 = FixedVmem(q, planes, Kw, no_wstage, res, res16, bias_bytes, saves);
        if (fixed3 < V && src.Plan(q.pm * ms, V - fixed3, planes)) return q;
        src.Plan(p.pm * ms, V - fixed, planes);
      }
      return p;
    };
    for (int64_t ms = p.ms_max; ms >= 8; ms /= 2) {
      std::optional<Plan> first = fit(ms);
      if (!first) continue;
      // Longest row chunks first; but if the LHS then has to be cut into
      // K chunks (more passes, partial k-steps), up to 4x shorter row
      // chunks that keep K whole are better.
      if (src.NumKChunks() > 1)
        for (int64_t m2 = ms / 2; m2 >= std::max<int64_t>(8, ms / 4); m2 /= 2)
          if (std::optional<Plan> q = fit(m2); q && src.NumKChunks() == 1) return q;
      return fit(ms);
    }
    return std::nullopt;
  };
  int64_t ng_tiles = std::min(nt, wbudget / std::max<int64_t>(1, per_col * T));
  if (ng_tiles < nt && ng_tiles > mxus) ng_tiles = ng_tiles / mxus * mxus;  // balanced MXU columns
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
    int64_t fixed = FixedVmem(best, planes, Kw, no_wstage, res, res16, bias_bytes, saves);
    if (!src.Plan(best.pm * best.ms_max, V - fixed, planes))
      return Error("internal: '{}': replanning failed", job.name);
    // A shorter last chunk per core: the kernel's tail (the last epilogue and
    // store, after all matmuls) halves. Only if the halves still stream at
    // least a weight load's rows per MXU.
    if (!best.split_cols && best.ms_max >= WeightLoadCycles(chip) && std::getenv("XTPU_NO_TAIL_SPLIT") == nullptr)
      src.SplitLastChunks(cores, best.pm * WeightLoadCycles(chip));
  }
  // Constant weights: the panels in the order the kernel loads them. (The
  // panel's rows are read again: a source may fall back in Plan to a form
  // with fewer, see ConvSource.)
  View panel;
  if (const_w) {
    const int64_t ng = best.ng, Kp = src.WeightRows();
    XTPU_CHECK(Kp <= Kw);
    Literal lit(Shape(DType::kBF16, {B * best.groups * planes * Kp * ng}));
    uint16_t* d = lit.data<uint16_t>();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t g = 0; g < best.groups; ++g)
        for (int64_t r = 0; r < Kp; ++r)
          for (int64_t j = 0; j < ng; ++j) {
            int64_t col = g * ng + j;
            uint16_t sp[3] = {0, 0, 0};
            if (col < N) SplitBf16(src.Weight(b, r, col), planes, sp);
            for (int p = 0; p < planes; ++p) d[(((b * best.groups + g) * planes + p) * Kp + r) * ng + j] = sp[p];
          }
    ASSIGN_OR_RETURN(panel, ctx.AddConstant(job.name + ".weights." + std::to_string(passes), lit));
  }
  if (std::getenv("XTPU_MXU_DEBUG"))
    std::fprintf(stderr, "mxu plan %s: ng=%lld groups=%lld grid=%dx%d tpm=%lld ms=%lld slots=%d split_cols=%d chunks=%lld kchunks=%lld traffic=%lld\n",
                 job.name.c_str(), (long long)best.ng, (long long)best.groups, best.pm, best.pn, (long long)best.tpm,
                 (long long)best.ms_max, best.slots, best.split_cols ? 1 : 0, (long long)src.NumChunks(),
                 (long long)src.NumKChunks(), (long long)best.traffic);
  em.BeginKernel(job.name, job.op, job.flops);
  RETURN_IF_ERROR(EmitGemmBody(ctx, job, best, panel));
  return em.EndKernel();
}

}  // namespace xtpu::codegen::mxu
