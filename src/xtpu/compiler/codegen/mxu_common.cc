// Helpers of the matrix-unit kernels: precision splits, DMA with byte
// accounting, and the epilogue of output fusions on the vector unit.
#include <cmath>
#include <cstring>

#include "xtpu/compiler/codegen/mxu_gemm.h"
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
  return DmaStrided(em, core, engine, load, hbm, vmem, vmem_strides, sync);
}

bool EpilogueSaves(const std::vector<EpilogueOp>& epilogue) {
  for (const EpilogueOp& e : epilogue)
    if (e.kind == EpilogueOp::kSave) return true;
  return false;
}

void SimplifyEpilogue(std::vector<EpilogueOp>* epilogue) {
  auto pow2 = [](float v) {
    int e = 0;
    return std::isnormal(v) && std::frexp(std::fabs(v), &e) == 0.5f;
  };
  for (EpilogueOp& e : *epilogue) {
    if (e.kind != EpilogueOp::kBinaryImm || e.op != isa::BinOp::kDiv || e.reversed) continue;
    const float r = 1.0f / e.imm;
    if (!std::isnormal(e.imm) || !std::isnormal(r)) continue;
    e.op = isa::BinOp::kMul;
    e.imm = r;
  }
  for (size_t i = 1; i + 1 < epilogue->size(); ++i) {
    EpilogueOp& saved = (*epilogue)[i];
    const EpilogueOp& next = (*epilogue)[i + 1];
    if (saved.kind != EpilogueOp::kSaved || saved.op != isa::BinOp::kMul || next.kind != EpilogueOp::kBinaryImm ||
        next.op != isa::BinOp::kMul || !pow2(next.imm))
      continue;
    for (size_t j = 0; j < i; ++j)
      if ((*epilogue)[j].kind == EpilogueOp::kSave) {
        (*epilogue)[j].save_scale *= next.imm;
        epilogue->erase(epilogue->begin() + static_cast<std::ptrdiff_t>(i + 1));
        break;
      }
  }
}

void EmitEpilogueOps(ProgramEmitter& em, int core, const std::vector<EpilogueOp>& epilogue, int64_t tile,
                     int64_t rows, int64_t ncols, int64_t row_stride, int64_t bias_vmem, int64_t residual_vmem,
                     int wait, int residual_free, int done_signal, int64_t saved_vmem) {
  int pending_wait = wait;
  auto sync = [&]() {
    Sync s{.wait = pending_wait};
    pending_wait = -1;
    return s;
  };
  const int64_t f32 = static_cast<int64_t>(DType::kF32);
  for (const EpilogueOp& e : epilogue) {
    const int64_t op = static_cast<int64_t>(e.op);
    if (e.kind == EpilogueOp::kUnary || e.kind == EpilogueOp::kSave) {
      XTPU_CHECK(e.kind == EpilogueOp::kUnary || saved_vmem >= 0);
      const bool save = e.kind == EpilogueOp::kSave;
      if (save && e.save_scale != 1) {
        em.Emit(core, Opcode::kVpuBinaryImm, 0,
                {{"op", static_cast<int64_t>(isa::BinOp::kMul)}, {"dtype", f32}, {"dst", saved_vmem}, {"a", tile},
                 {"imm", F32Bits(e.save_scale)}, {"rows", rows}, {"cols", ncols}, {"ds", row_stride},
                 {"as", row_stride}},
                sync());
        continue;
      }
      em.Emit(core, Opcode::kVpuUnary, 0,
              {{"op", static_cast<int64_t>(save ? isa::UnOp::kCopy : e.unop)}, {"dtype", f32},
               {"dst", save ? saved_vmem : tile}, {"a", tile}, {"rows", rows}, {"cols", ncols}, {"ds", row_stride},
               {"as", row_stride}},
              sync());
      continue;
    }
    if (e.kind == EpilogueOp::kSaved) {
      XTPU_CHECK(saved_vmem >= 0);
      const int64_t a = e.reversed ? saved_vmem : tile, b = e.reversed ? tile : saved_vmem;
      em.Emit(core, Opcode::kVpuBinary, 0,
              {{"op", op}, {"dtype", f32}, {"dst", tile}, {"a", a}, {"b", b}, {"rows", rows}, {"cols", ncols},
               {"ds", row_stride}, {"as", row_stride}, {"bs", row_stride}},
              sync());
      continue;
    }
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


}  // namespace xtpu::codegen::mxu
