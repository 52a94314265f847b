// Shared machinery of the vector-unit kernels (kernels_elementwise.cc,
// kernels_reduce.cc, kernels_data.cc):
//  - TileProgram: the per-tile code of an elementwise computation, written
//    once with symbolic VMEM locations (inputs, temporaries, constant rows,
//    the output) and instantiated for every tile;
//  - EmitMapJob: the double-buffered tile pipeline that reads input views,
//    runs a TileProgram (or copies / transposes) and writes an output view,
//    with the tiles spread over the cores;
//  - DmaStrided: a DMA between an HBM view and a VMEM region with arbitrary
//    VMEM strides (for tiles with an accumulator row or column in front).
//
// Values on the chip: f32, bf16, s32, s8 as themselves; pred as one 32-bit
// word per element (0/1). Inside a TileProgram s8 and pred values are held as
// s32 ("compute dtype"), because the vector unit does no s8 arithmetic.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "xtpu/compiler/codegen/lowering.h"

namespace xtpu::codegen {

// dtype of a tensor as stored on the chip (pred -> s32 words).
DType MemDType(DType t);
// dtype a TileProgram computes in (s8, pred -> s32).
DType ComputeDType(DType t);
// A view of a pred tensor as 32-bit words (dtype s32); other views unchanged.
View WordView(const View& v);

// ---- tile programs ----
enum class LocKind : uint8_t { kIn, kTemp, kConst, kOut };
struct Loc {
  LocKind kind = LocKind::kTemp;
  int index = 0;
  DType dtype = DType::kF32;  // element type in VMEM
  bool row = false;           // one row, read with stride 0 (broadcast down the tile)
};

struct TileOp {
  enum Kind : uint8_t { kBinary, kBinaryImm, kUnary, kConvert, kSelect, kTranspose } kind = kUnary;
  int op = 0;                  // isa::BinOp / isa::UnOp
  DType dtype = DType::kF32;   // instruction dtype (kConvert: `to`)
  DType from = DType::kF32;    // kConvert
  Loc dst, a, b, p;            // kBinary: a, b; kUnary/kConvert/kTranspose: a; kSelect: p, a, b
  int64_t imm = 0;             // kBinaryImm: raw 32 bits
};

struct TileProgram {
  std::vector<TileOp> ops;
  int num_temps = 0;
  // Constant rows, filled once per core before the first tile: dtype and the
  // element's bits (f32/s32: 32 bits, bf16: 16 bits).
  std::vector<std::pair<DType, uint32_t>> consts;
};

// Builds a TileProgram: hands out temporaries (reused after Free) and
// constant rows, and appends ops.
class TileBuilder {
 public:
  Loc In(int i, DType dtype, bool row) { return {LocKind::kIn, i, dtype, row}; }
  Loc Out(DType dtype) { return {LocKind::kOut, 0, dtype, false}; }
  Loc Temp(DType dtype, bool row);
  void Free(const Loc& l);  // no-op for non-temporaries
  Loc ConstRow(DType dtype, uint32_t bits);
  void Binary(isa::BinOp op, DType t, const Loc& dst, const Loc& a, const Loc& b);
  void BinaryImm(isa::BinOp op, DType t, const Loc& dst, const Loc& a, int64_t imm);
  void Unary(isa::UnOp op, DType t, const Loc& dst, const Loc& a);
  void Convert(DType to, DType from, const Loc& dst, const Loc& a);
  void Select(DType t, const Loc& dst, const Loc& p, const Loc& a, const Loc& b);
  TileProgram Finish() { return std::move(prog_); }
  const TileProgram& program() const { return prog_; }

 private:
  TileProgram prog_;
  std::vector<bool> temp_busy_;
};

// ---- the tile pipeline ----
struct MapJob {
  std::string name;  // for error messages
  View out;          // any view (dense or strided), pred as words
  std::vector<View> inputs;  // each with out's dims; pred as words
  enum class Mode { kProgram, kCopy, kTranspose } mode = Mode::kProgram;
  // kCopy: out = inputs[0] by DMA only (same dtype). kTranspose: like kCopy,
  // but the tile goes through xlu.transpose (inputs[0]'s second-to-last dim,
  // after merging, must be its contiguous one). kProgram: `build` returns
  // the tile program given which inputs are rows (stride 0 down the tile).
  std::function<StatusOr<TileProgram>(const std::vector<bool>& row_inputs)> build;
};
// Emits the job inside the current kernel (the caller brackets it with
// BeginKernel/EndKernel). Leaves every semaphore it used at 0.
Status EmitMapJob(LoweringContext& ctx, const MapJob& job);

// DMA between the HBM view `hbm` and VMEM at `vmem`, element i of the view at
// vmem + sum_d i_d * vmem_strides[d] (bytes). Unrolls dims beyond three.
// First instruction waits on sync.wait, the last signals sync.signal.
int DmaStrided(ProgramEmitter& em, int core, int engine, bool load, const View& hbm, int64_t vmem,
               const std::vector<int64_t>& vmem_strides, Sync sync = {});

// Merges dims that are contiguous in every view (strides[v][d] for view v)
// and drops size-1 dims; at least one dim remains.
void JointSimplify(std::vector<int64_t>& dims, std::vector<std::vector<int64_t>>& strides);

// Dense row-major VMEM strides of `dims` with element size esz.
std::vector<int64_t> DenseStrides(const std::vector<int64_t>& dims, int64_t esz);

// Bytes of VMEM per core the pipelines plan with (the rest is slack).
int64_t VmemBudget(const ProgramEmitter& em);

}  // namespace xtpu::codegen
