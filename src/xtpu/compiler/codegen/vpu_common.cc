// Tile programs and strided DMA for the vector-unit kernels (vpu_common.h).
#include "xtpu/compiler/codegen/vpu_common.h"

#include <algorithm>

#include "xtpu/support/check.h"

namespace xtpu::codegen {

DType MemDType(DType t) { return t == DType::kPred ? DType::kS32 : t; }

DType ComputeDType(DType t) { return (t == DType::kPred || t == DType::kS8) ? DType::kS32 : t; }

View WordView(const View& v) {
  if (v.dtype != DType::kPred) return v;
  // The driver lays pred tensors out as 32-bit words: if its strides are in
  // 1-byte units they are scaled, otherwise only the dtype changes.
  View w = v;
  w.dtype = DType::kS32;
  bool byte_strides = false;
  for (int d = 0; d < v.rank(); ++d)
    if (v.dims[d] > 1 && v.strides[d] % 4 != 0) byte_strides = true;
  if (byte_strides) {
    for (int64_t& s : w.strides) s *= 4;
  }
  return w;
}

std::vector<int64_t> DenseStrides(const std::vector<int64_t>& dims, int64_t esz) {
  std::vector<int64_t> s(dims.size());
  int64_t acc = esz;
  for (int d = static_cast<int>(dims.size()) - 1; d >= 0; --d) {
    s[d] = acc;
    acc *= dims[d];
  }
  return s;
}

int64_t VmemBudget(const ProgramEmitter& em) { return em.VmemBytes() / 4 * 3; }

// ---- TileBuilder ----

Loc TileBuilder::Temp(DType dtype, bool row) {
  int i = 0;
  while (i < static_cast<int>(temp_busy_.size()) && temp_busy_[i]) ++i;
  if (i == static_cast<int>(temp_busy_.size())) temp_busy_.push_back(false);
  temp_busy_[i] = true;
  prog_.num_temps = std::max(prog_.num_temps, static_cast<int>(temp_busy_.size()));
  return {LocKind::kTemp, i, dtype, row};
}

void TileBuilder::Free(const Loc& l) {
  if (l.kind != LocKind::kTemp) return;
  XTPU_CHECK(l.index < static_cast<int>(temp_busy_.size()) && temp_busy_[l.index]);
  temp_busy_[l.index] = false;
}

Loc TileBuilder::ConstRow(DType dtype, uint32_t bits) {
  for (size_t i = 0; i < prog_.consts.size(); ++i)
    if (prog_.consts[i] == std::make_pair(dtype, bits)) return {LocKind::kConst, static_cast<int>(i), dtype, true};
  prog_.consts.push_back({dtype, bits});
  return {LocKind::kConst, static_cast<int>(prog_.consts.size() - 1), dtype, true};
}

void TileBuilder::Binary(isa::BinOp op, DType t, const Loc& dst, const Loc& a, const Loc& b) {
  TileOp o;
  o.kind = TileOp::kBinary;
  o.op = static_cast<int>(op);
  o.dtype = t;
  o.dst = dst;
  o.a = a;
  o.b = b;
  prog_.ops.push_back(o);
}

void TileBuilder::BinaryImm(isa::BinOp op, DType t, const Loc& dst, const Loc& a, int64_t imm) {
  TileOp o;
  o.kind = TileOp::kBinaryImm;
  o.op = static_cast<int>(op);
  o.dtype = t;
  o.dst = dst;
  o.a = a;
  o.imm = static_cast<int64_t>(static_cast<uint32_t>(imm));  // raw 32 bits
  prog_.ops.push_back(o);
}

void TileBuilder::Unary(isa::UnOp op, DType t, const Loc& dst, const Loc& a) {
  TileOp o;
  o.kind = TileOp::kUnary;
  o.op = static_cast<int>(op);
  o.dtype = t;
  o.dst = dst;
  o.a = a;
  prog_.ops.push_back(o);
}

void TileBuilder::Convert(DType to, DType from, const Loc& dst, const Loc& a) {
  TileOp o;
  o.kind = TileOp::kConvert;
  o.dtype = to;
  o.from = from;
  o.dst = dst;
  o.a = a;
  prog_.ops.push_back(o);
}

void TileBuilder::Select(DType t, const Loc& dst, const Loc& p, const Loc& a, const Loc& b) {
  TileOp o;
  o.kind = TileOp::kSelect;
  o.dtype = t;
  o.dst = dst;
  o.p = p;
  o.a = a;
  o.b = b;
  prog_.ops.push_back(o);
}

// ---- DmaStrided (kept for the kernels that call it; see ProgramEmitter::DmaStrided) ----

int DmaStrided(ProgramEmitter& em, int core, int engine, bool load, const View& hbm, int64_t vmem,
               const std::vector<int64_t>& vmem_strides, Sync sync) {
  return em.DmaStrided(core, engine, load, hbm, vmem, vmem_strides, sync);
}

}  // namespace xtpu::codegen
