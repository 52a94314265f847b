// Depthwise convolution (feature_group_count == input features == output
// features) on the vector unit, in f32: out[q] = sum over taps (kh, kw) in
// row-major order of band[sw*q + shift*Wp + kw*dw] * w[kh, kw, :], with the
// same zero-padded phase bands and "wide" rows as the matrix-unit
// convolution (kernels_mxu_conv.cc). A band of output rows of one image is a
// chunk; chunks are spread over the cores; loads, compute and stores are
// double-buffered.
#include <algorithm>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/mxu_sources.h"
#include "xtpu/compiler/codegen/vpu_common.h"

namespace xtpu::codegen::mxu {

Status EmitDepthwise(LoweringContext& ctx, const std::string& name, const std::string& op, const Instruction& conv,
                     const Instruction* input, const Instruction* kernel, const View& out,
                     const std::vector<EpilogueOp>& epilogue) {
  ProgramEmitter& em = ctx.em();
  const Literal* lit = ctx.ConstantValue(kernel);
  if (!lit) return Unimplemented("convolution '{}': the depthwise kernel must be a constant", name);
  const Shape& is = input->shape;
  const int64_t N = is.dims[0], H = is.dims[1], W = is.dims[2], C = is.dims[3];
  const int64_t KH = kernel->shape.dims[0], KW = kernel->shape.dims[1];
  const int64_t OH = conv.shape.dims[1], OW = conv.shape.dims[2];
  const int64_t sh = conv.window[0].stride, sw = conv.window[1].stride;
  const int64_t ph_lo = conv.window[0].pad_lo, pw_lo = conv.window[1].pad_lo;
  const int64_t dh = conv.window[0].window_dilation, dw = conv.window[1].window_dilation;
  const int64_t wq = CeilDiv(std::max(pw_lo + W, (OW - 1) * sw + (KW - 1) * dw + 1), sw), wp = sw * wq;
  int64_t shmax = 0;
  std::vector<int64_t> phases, phase_index(sh, -1);
  for (int64_t r = 0; r < KH; ++r) shmax = std::max(shmax, (r * dh) / sh);
  for (int64_t r = 0; r < KH; ++r)
    if (phase_index[(r * dh) % sh] < 0) phase_index[(r * dh) % sh] = 0;
  for (int64_t p = 0; p < sh; ++p)
    if (phase_index[p] == 0) phase_index[p] = static_cast<int64_t>(phases.size()), phases.push_back(p);
  const int64_t np = static_cast<int64_t>(phases.size());
  bool res = false, bias = false;
  for (const EpilogueOp& e : epilogue) res |= e.kind == EpilogueOp::kResidual, bias |= e.kind == EpilogueOp::kBias;
  // Rows per chunk from the VMEM budget.
  const int64_t V = VmemBudget(em) - KH * KW * C * 4 - C * 4 - 64 * 1024;
  int64_t bh = OH;
  auto need = [&](int64_t b) {
    int64_t band = np * (b + shmax + 1) * wp * C * 4, tile = b * wq * C * 4;
    return 2 * band + tile * (3 + (res ? 2 : 0));
  };
  while (bh > 1 && need(bh) > V) bh = CeilDiv(bh, 2);
  if (need(bh) > V) return Unimplemented("convolution '{}': one output row of the depthwise convolution does not fit in VMEM", name);
  const int64_t rb = bh + shmax + 1, band_bytes = np * rb * wp * C * 4, tile_bytes = bh * wq * C * 4;
  struct Chunk {
    int64_t n, oh0, bh;
  };
  std::vector<Chunk> chunks;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < OH; o += bh) chunks.push_back({n, o, std::min(bh, OH - o)});
  // Weights as f32 rows [KH*KW, C].
  Literal wl(Shape(DType::kF32, {KH * KW, C}));
  for (int64_t i = 0; i < KH * KW * C; ++i) wl.data<float>()[i] = static_cast<float>(lit->GetAsDouble(i));
  ASSIGN_OR_RETURN(View wview, ctx.AddConstant(name + ".dw_weights", wl));
  ASSIGN_OR_RETURN(View in, ctx.ValueView(input));

  em.BeginKernel(name, op);
  const int cores = em.Cores();
  const int64_t f32 = static_cast<int64_t>(DType::kF32), s32 = static_cast<int64_t>(DType::kS32);
  const int64_t nchunks = static_cast<int64_t>(chunks.size());
  for (int c = 0; c < cores; ++c) {
    const int64_t i0 = nchunks * c / cores, i1 = nchunks * (c + 1) / cores;
    if (i1 <= i0) continue;
    ASSIGN_OR_RETURN(int64_t wv, em.AllocVmem(c, KH * KW * C * 4));
    int64_t bv = -1, band[2], tile[2], rtile[2] = {-1, -1};
    if (bias) {
      ASSIGN_OR_RETURN(bv, em.AllocVmem(c, C * 4));
    }
    for (int s = 0; s < 2; ++s) {
      ASSIGN_OR_RETURN(band[s], em.AllocVmem(c, CeilDiv(band_bytes, 4096) * 4096));
      ASSIGN_OR_RETURN(tile[s], em.AllocVmem(c, tile_bytes));
      if (res) {
        ASSIGN_OR_RETURN(rtile[s], em.AllocVmem(c, tile_bytes));
      }
    }
    ASSIGN_OR_RETURN(int64_t temp, em.AllocVmem(c, tile_bytes));
    int sem[8];
    for (int& s : sem) {
      ASSIGN_OR_RETURN(s, em.AllocSem(c));
    }
    const int band_free = sem[0], band_loaded = sem[1], out_free = sem[2], out_done = sem[3], res_free = sem[4],
              res_loaded = sem[5], w_loaded = sem[6];
    Dma(em, c, 1, true, wview, wv, {C * 4, 4}, {.signal = w_loaded});
    if (bias) {
      for (const EpilogueOp& e : epilogue)
        if (e.kind == EpilogueOp::kBias) Dma(em, c, 1, true, e.operand, bv, {4}, {});
      em.Emit(c, isa::Opcode::kDmaNop, 1, {}, {.signal = w_loaded});
    }
    // Zero both bands (padding columns stay zero), then credit them.
    for (int s = 0; s < 2; ++s)
      em.Emit(c, isa::Opcode::kVpuBinaryImm, 0,
              {{"op", static_cast<int64_t>(isa::BinOp::kAnd)}, {"dtype", s32}, {"dst", band[s]}, {"a", band[s]},
               {"imm", 0}, {"rows", CeilDiv(band_bytes, 4096)}, {"cols", 1024}, {"ds", 4096}, {"as", 4096}},
              {.signal = i0 + s < i1 ? band_free : -1});
    em.Emit(c, isa::Opcode::kVpuNop, 0, {}, {.wait = w_loaded});
    if (bias) em.Emit(c, isa::Opcode::kVpuNop, 0, {}, {.wait = w_loaded});
    // Valid band rows of phase ph for chunk k.
    auto valid = [&](const Chunk& k, int64_t ph) {
      auto first = [&](int64_t x) {
        int64_t t = x - ph;
        return (t >= 0 ? CeilDiv(t, sh) : -((-t) / sh)) - k.oh0;
      };
      int64_t j0 = std::max<int64_t>(0, first(ph_lo)), j1 = std::min(bh + shmax, first(ph_lo + H));
      return std::make_pair(j0, std::max(j0, j1));
    };
    auto load = [&](int64_t i) {
      const Chunk& k = chunks[i];
      const int s = static_cast<int>((i - i0) % 2);
      std::vector<std::pair<View, int64_t>> pieces;
      for (int64_t pi = 0; pi < np; ++pi) {
        auto [j0, j1] = valid(k, phases[pi]);
        if (j1 <= j0) continue;
        int64_t h0 = (k.oh0 + j0) * sh + phases[pi] - ph_lo;
        View v = in.Slice({k.n, h0, 0, 0}, {k.n + 1, h0 + (j1 - j0 - 1) * sh + 1, W, C}, {1, sh, 1, 1});
        pieces.push_back({v, band[s] + ((pi * rb + j0) * wp + pw_lo) * C * 4});
      }
      if (pieces.empty()) {
        em.Emit(c, isa::Opcode::kDmaNop, 0, {}, {.wait = band_free, .signal = band_loaded});
        return;
      }
      for (size_t p = 0; p < pieces.size(); ++p) {
        Sync sy;
        if (p == 0) sy.wait = band_free;
        if (p + 1 == pieces.size()) sy.signal = band_loaded;
        Dma(em, c, 0, true, pieces[p].first, pieces[p].second, {0, wp * C * 4, C * 4, 4}, sy);
      }
    };
    auto out_view = [&](const View& t, const Chunk& k) {
      return t.Slice({k.n, k.oh0, 0, 0}, {k.n + 1, k.oh0 + k.bh, OW, C}, {1, 1, 1, 1});
    };
    load(i0);
    if (i0 + 1 < i1) load(i0 + 1);
    for (int64_t i = i0; i < i1; ++i) {
      const Chunk& k = chunks[i];
      const int s = static_cast<int>((i - i0) % 2);
      const int64_t rows = k.bh * wq;
      if (res)
        for (const EpilogueOp& e : epilogue)
          if (e.kind == EpilogueOp::kResidual)
            Dma(em, c, 3, true, out_view(e.operand, k), rtile[s], {0, wq * C * 4, C * 4, 4},
                {.wait = i - i0 >= 2 ? res_free : -1, .signal = res_loaded});
      em.Emit(c, isa::Opcode::kVpuNop, 0, {}, {.wait = band_loaded});
      if (i - i0 >= 2) em.Emit(c, isa::Opcode::kVpuNop, 0, {}, {.wait = out_free});
      for (int64_t pi = 0; pi < np; ++pi) {
        auto [j0, j1] = valid(k, phases[pi]);
        auto zero = [&](int64_t a, int64_t b) {
          if (b <= a) return;
          int64_t at = band[s] + (pi * rb + a) * wp * C * 4;
          em.Emit(c, isa::Opcode::kVpuBinaryImm, 0,
                  {{"op", static_cast<int64_t>(isa::BinOp::kAnd)}, {"dtype", s32}, {"dst", at}, {"a", at}, {"imm", 0},
                   {"rows", b - a}, {"cols", wp * C}, {"ds", wp * C * 4}, {"as", wp * C * 4}});
        };
        zero(0, std::min(j0, bh + shmax));
        zero(j1, bh + shmax);
      }
      for (int64_t t = 0; t < KH * KW; ++t) {
        const int64_t r = t / KW, q = t % KW, off = r * dh;
        const int64_t a = band[s] + ((phase_index[off % sh] * rb + off / sh) * wp + q * dw) * C * 4;
        em.Emit(c, isa::Opcode::kVpuBinary, 0,
                {{"op", static_cast<int64_t>(isa::BinOp::kMul)}, {"dtype", f32}, {"dst", t == 0 ? tile[s] : temp},
                 {"a", a}, {"b", wv + t * C * 4}, {"rows", rows}, {"cols", C}, {"ds", C * 4}, {"as", sw * C * 4},
                 {"bs", 0}});
        if (t > 0)
          em.Emit(c, isa::Opcode::kVpuBinary, 0,
                  {{"op", static_cast<int64_t>(isa::BinOp::kAdd)}, {"dtype", f32}, {"dst", tile[s]}, {"a", tile[s]},
                   {"b", temp}, {"rows", rows}, {"cols", C}, {"ds", C * 4}, {"as", C * 4}, {"bs", C * 4}});
      }
      const bool more = i + 2 < i1;
      if (more) em.Emit(c, isa::Opcode::kVpuNop, 0, {}, {.signal = band_free});
      if (res) em.Emit(c, isa::Opcode::kVpuNop, 0, {}, {.wait = res_loaded});
      EmitEpilogueOps(em, c, epilogue, tile[s], rows, C, C * 4, bv, rtile[s], -1, res && more ? res_free : -1, out_done);
      if (i + 2 < i1) load(i + 2);
      Dma(em, c, 2, false, out_view(out, k), tile[s], {0, wq * C * 4, C * 4, 4}, {.wait = out_done, .signal = more ? out_free : -1});
    }
  }
  return em.EndKernel();
}

}  // namespace xtpu::codegen::mxu
