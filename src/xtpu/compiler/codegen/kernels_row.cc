// fusion(kind=row) (chip_form.h; made by the fusion pass): softmax, layer
// normalization and other chains of row reductions and elementwise ops over
// values of shape F = [..., C] and row values of shape F[:-1].
//
// The rows are cut into tiles of whole rows. Per tile, one DMA brings each
// full and row parameter into VMEM; the fused computation then runs in
// VMEM, op by op in the computation's order: elementwise ops on the vector
// unit (full values as [rows, C] tiles, row values as one [1, rows] vector;
// a row value broadcast along the last dim is the `col` operand of
// vpu.binary, a [C] vector parameter broadcast over the rows a stride-0
// operand, a scalar constant an immediate) and reductions over the last dim
// on the cross-lane units (xlu.reduce, the rows split between two XLUs);
// the root is stored with one DMA. Parameters and results are
// double-buffered: tile t+1 loads and tile t-1 stores while tile t computes.
//
// Numerics are those of the separate kernels: every op rounds to its IR
// dtype (bf16 ops compute in f32 and round per op); a reduction folds its
// row left to right in f32 and rounds once (the reduce kernel's single-chunk
// case; the init value is the reduction's identity, checked by the pass).
#include <algorithm>
#include <map>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/vpu_common.h"
#include "xtpu/compiler/codegen/vpu_graph.h"
#include "xtpu/support/check.h"

namespace xtpu::codegen {
namespace {

using isa::BinOp;
using IsaOp = isa::Opcode;
using isa::UnOp;

int64_t Esz(DType t) { return t == DType::kF32 ? 4 : 2; }

struct Val {
  enum Kind { kFull, kRow, kVec, kScalar, kRowBcast, kVecBcast } kind = kFull;
  DType dtype = DType::kF32;
  int param = -1;        // full/row/vec parameter: index into params_
  int64_t temp = -1;     // full/row temporary: VMEM address (shared by the slots)
  bool out = false;      // the root: the output slot
  uint32_t bits = 0;     // kScalar: bits in dtype (bf16: 16 bits)
  const Instruction* src = nullptr;  // broadcasts: the value broadcast
};

struct Param {
  const Instruction* inst = nullptr;  // the fused computation's parameter
  View view;                          // merged row dims (+ [C] for full)
  Val::Kind kind = Val::kFull;
  int64_t slot[2] = {-1, -1};         // VMEM (vec: slot[0] only)
};

class RowKernel {
 public:
  RowKernel(LoweringContext& ctx, const Instruction& inst, const View& out)
      : ctx_(ctx), em_(ctx.em()), inst_(inst), out_view_(out) {}

  Status Run();

 private:
  Status Prepare();
  Status Plan();
  Status EmitCore(int core, int64_t t0, int64_t t1);
  void EmitLoads(int core, int64_t tile, int slot, int64_t local);
  Status EmitProgram(int core, int64_t tile, int slot);
  int64_t Addr(const Val& v, int slot) const;
  // Rows of tile t and the sub-view of `v` (merged row dims first) it covers.
  int64_t TileRows(int64_t t) const;
  View TileView(const View& v, int64_t t) const;
  std::vector<int64_t> TileVmemStrides(int64_t elem_pitch, int extra_dims) const;

  LoweringContext& ctx_;
  ProgramEmitter& em_;
  const Instruction& inst_;
  View out_view_;
  const Computation* comp_ = nullptr;
  std::vector<int64_t> full_dims_;
  int64_t C_ = 0;
  std::vector<int64_t> rdims_;  // merged row dims
  std::vector<Param> params_;
  std::map<const Instruction*, Val> vals_;
  View out_;                    // merged
  // Tiling: tiles index the merged row dims before k (one index each) and
  // chunks of `chunk_` along dim k; dims after k are whole.
  int k_ = 0;
  int64_t chunk_ = 1, per_ = 1, tiles_ = 0, prefix_ = 1, chunks_ = 1, rows_max_ = 0;
  int64_t out_slot_[2] = {-1, -1};
  std::string desc_;
  int xlus_ = 0;
  // Per core semaphores.
  int loaded_[2], in_free_[2], out_ready_[2], out_free_[2], v2x_[2], x2v_[2];
};

// Merges consecutive row dims that are contiguous in every view.
std::vector<std::vector<int64_t>> MergeGroups(const std::vector<int64_t>& dims,
                                              const std::vector<const View*>& views) {
  std::vector<std::vector<int64_t>> groups;
  for (int64_t d = 0; d < static_cast<int64_t>(dims.size()); ++d) {
    bool merge = !groups.empty();
    if (merge)
      for (const View* v : views)
        if (v->strides[d - 1] != v->strides[d] * dims[d]) merge = false;
    if (merge) groups.back().push_back(d);
    else groups.push_back({d});
  }
  return groups;
}

View MergeView(const View& v, const std::vector<std::vector<int64_t>>& groups, bool has_c) {
  View m;
  m.base = v.base;
  m.dtype = v.dtype;
  for (const auto& g : groups) {
    int64_t n = 1;
    for (int64_t d : g) n *= v.dims[d];
    m.dims.push_back(n);
    m.strides.push_back(v.strides[g.back()]);
  }
  if (has_c) {
    m.dims.push_back(v.dims.back());
    m.strides.push_back(v.strides.back());
  }
  return m;
}

Status RowKernel::Prepare() {
  comp_ = inst_.to_apply;
  if (comp_ == nullptr || inst_.fusion_kind != FusionKind::kRow)
    return Error("row fusion '{}': no row-fusion computation", inst_.name);
  full_dims_ = inst_.shape.dims;
  C_ = full_dims_.back();
  const std::vector<int64_t> row(full_dims_.begin(), full_dims_.end() - 1);
  if (out_view_.dtype != inst_.shape.dtype)
    return Unimplemented("row fusion '{}': result stored as {}", inst_.name, DTypeName(out_view_.dtype));
  // Parameters.
  std::vector<View> raw;
  for (const Instruction* p : comp_->parameters()) {
    const int64_t n = p->parameter_number;
    if (n < 0 || n >= static_cast<int64_t>(inst_.operands.size()))
      return Error("row fusion '{}': bad parameter {}", inst_.name, n);
    ASSIGN_OR_RETURN(View v, ctx_.ValueView(inst_.operands[n]));
    if (v.dtype != p->shape.dtype)
      return Unimplemented("row fusion '{}': operand '{}' is stored as {}", inst_.name, inst_.operands[n]->name,
                           DTypeName(v.dtype));
    Param q;
    q.inst = p;
    q.kind = p->shape.dims == full_dims_ ? Val::kFull : p->shape.dims == row ? Val::kRow : Val::kVec;
    q.view = v;
    params_.push_back(q);
  }
  // Merge the row dims over the output and every full/row parameter.
  std::vector<const View*> views = {&out_view_};
  for (const Param& q : params_)
    if (q.kind != Val::kVec) views.push_back(&q.view);
  const auto groups = MergeGroups(row, views);
  for (Param& q : params_)
    if (q.kind != Val::kVec) q.view = MergeView(q.view, groups, q.kind == Val::kFull);
  out_ = MergeView(out_view_, groups, true);
  rdims_.assign(out_.dims.begin(), out_.dims.end() - 1);
  return OkStatus();
}

Status RowKernel::Plan() {
  // VMEM per tile row: double-buffered full/row parameters and output, one
  // temporary per computed value.
  int64_t per_row = 2 * C_ * Esz(inst_.shape.dtype), fixed = 64 * 1024;
  for (const Param& q : params_) {
    const int64_t e = Esz(q.view.dtype);
    if (q.kind == Val::kFull) per_row += 2 * C_ * e;
    else if (q.kind == Val::kRow) per_row += 2 * e;
    else fixed += C_ * e + 256;
  }
  for (const auto& up : comp_->instructions()) {
    const Instruction* i = up.get();
    if (i->opcode == Opcode::kParameter || i->opcode == Opcode::kConstant || i->opcode == Opcode::kBroadcast) continue;
    if (i == comp_->root()) continue;
    per_row += (i->shape.dims == full_dims_ ? C_ : 1) * Esz(i->shape.dtype) + 8;
  }
  int64_t total = 1;
  for (int64_t d : rdims_) total *= d;
  const int64_t budget = VmemBudget(em_) - fixed;
  rows_max_ = budget / per_row;
  // At least a few tiles per core, so loads, compute and stores overlap.
  rows_max_ = std::min<int64_t>(rows_max_, std::max<int64_t>(8, total / (4 * em_.Cores())));
  rows_max_ = std::min<int64_t>(rows_max_, 2048);
  if (rows_max_ < 1)
    return Unimplemented("row fusion '{}': rows of {} values do not fit in VMEM", inst_.name, C_);
  // Smallest k whose inner dims fit a tile.
  const int nd = static_cast<int>(rdims_.size());
  k_ = nd - 1;
  per_ = 1;
  for (int k = 0; k < nd; ++k) {
    int64_t inner = 1;
    for (int d = k + 1; d < nd; ++d) inner *= rdims_[d];
    if (inner <= rows_max_) {
      k_ = k;
      per_ = inner;
      break;
    }
  }
  chunk_ = std::max<int64_t>(1, std::min(rdims_[k_], rows_max_ / per_));
  chunks_ = (rdims_[k_] + chunk_ - 1) / chunk_;
  prefix_ = 1;
  for (int d = 0; d < k_; ++d) prefix_ *= rdims_[d];
  tiles_ = prefix_ * chunks_;
  rows_max_ = chunk_ * per_;
  return OkStatus();
}

int64_t RowKernel::TileRows(int64_t t) const {
  const int64_t j = t % chunks_;
  return std::min(chunk_, rdims_[k_] - j * chunk_) * per_;
}

View RowKernel::TileView(const View& v, int64_t t) const {
  View s = v;
  int64_t p = t / chunks_;
  const int64_t j = t % chunks_;
  for (int d = k_ - 1; d >= 0; --d) {
    s = s.SubRange(d, p % rdims_[d], 1);
    p /= rdims_[d];
  }
  return s.SubRange(k_, j * chunk_, std::min(chunk_, rdims_[k_] - j * chunk_));
}

// VMEM strides of a tile's merged row dims (rows at `elem_pitch` bytes),
// plus `extra_dims` trailing strides filled by the caller.
std::vector<int64_t> RowKernel::TileVmemStrides(int64_t elem_pitch, int extra_dims) const {
  const int nd = static_cast<int>(rdims_.size());
  std::vector<int64_t> s(nd + extra_dims, 0);
  int64_t acc = elem_pitch;
  for (int d = nd - 1; d >= 0; --d) {
    if (d >= k_) {
      s[d] = acc;
      acc *= (d == k_ ? chunk_ : rdims_[d]);
    } else {
      s[d] = 0;
    }
  }
  return s;
}

int64_t RowKernel::Addr(const Val& v, int slot) const {
  if (v.out) return out_slot_[slot];
  if (v.param >= 0) return params_[v.param].slot[params_[v.param].kind == Val::kVec ? 0 : slot];
  return v.temp;
}

void RowKernel::EmitLoads(int core, int64_t tile, int slot, int64_t local) {
  const int e = 0 % em_.DmaEngines();
  std::vector<const Param*> ps;
  for (const Param& q : params_)
    if (q.kind != Val::kVec) ps.push_back(&q);
  for (size_t i = 0; i < ps.size(); ++i) {
    const Param& q = *ps[i];
    const int64_t es = Esz(q.view.dtype);
    Sync s;
    if (i == 0 && local >= 2) s.wait = in_free_[slot];
    if (i + 1 == ps.size()) s.signal = loaded_[slot];
    if (q.kind == Val::kFull) {
      std::vector<int64_t> st = TileVmemStrides(C_ * es, 1);
      st.back() = es;
      DmaStrided(em_, core, e, true, TileView(q.view, tile), q.slot[slot], st, s);
    } else {
      DmaStrided(em_, core, e, true, TileView(q.view, tile), q.slot[slot], TileVmemStrides(es, 0), s);
    }
  }
  if (ps.empty()) {
    Sync s{.wait = local >= 2 ? in_free_[slot] : -1, .signal = loaded_[slot]};
    em_.Emit(core, IsaOp::kDmaNop, e, {}, s);
  }
}

UnOp UnaryOf(Opcode op) {
  switch (op) {
    case Opcode::kExp: return UnOp::kExp;
    case Opcode::kLog: return UnOp::kLog;
    case Opcode::kTanh: return UnOp::kTanh;
    case Opcode::kLogistic: return UnOp::kLogistic;
    case Opcode::kSqrt: return UnOp::kSqrt;
    case Opcode::kRsqrt: return UnOp::kRsqrt;
    case Opcode::kErf: return UnOp::kErf;
    case Opcode::kNegate: return UnOp::kNeg;
    case Opcode::kAbs: return UnOp::kAbs;
    default: return UnOp::kCopy;
  }
}

std::optional<BinOp> BinaryOf(Opcode op) {
  switch (op) {
    case Opcode::kAdd: return BinOp::kAdd;
    case Opcode::kSubtract: return BinOp::kSub;
    case Opcode::kMultiply: return BinOp::kMul;
    case Opcode::kDivide: return BinOp::kDiv;
    case Opcode::kMaximum: return BinOp::kMax;
    case Opcode::kMinimum: return BinOp::kMin;
    case Opcode::kPower: return BinOp::kPow;
    default: return std::nullopt;
  }
}

Status RowKernel::EmitProgram(int core, int64_t tile, int slot) {
  const int c = core;
  const int64_t rows = TileRows(tile);
  const int nx = std::min(xlus_, 2);
  bool in_xlu = false;
  auto to_xlu = [&]() {
    if (in_xlu) return;
    for (int x = 0; x < nx; ++x) {
      em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.signal = v2x_[x]});
      em_.Emit(c, IsaOp::kXluNop, x, {}, {.wait = v2x_[x]});
    }
    in_xlu = true;
  };
  auto to_vpu = [&]() {
    if (!in_xlu) return;
    for (int x = 0; x < nx; ++x) {
      em_.Emit(c, IsaOp::kXluNop, x, {}, {.signal = x2v_[x]});
      em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.wait = x2v_[x]});
    }
    in_xlu = false;
  };
  auto dt = [](DType t) { return static_cast<int64_t>(t); };
  for (const auto& up : comp_->instructions()) {
    const Instruction* i = up.get();
    if (i->opcode == Opcode::kParameter || i->opcode == Opcode::kConstant || i->opcode == Opcode::kBroadcast) continue;
    const Val& v = vals_.at(i);
    const DType t = i->shape.dtype;
    const bool full = v.kind == Val::kFull;
    // A value's tile: full [rows, C] at pitch C*esz; row [1, rows].
    const int64_t r = full ? rows : 1, cols = full ? C_ : rows;
    auto stride = [&](DType d) { return full ? C_ * Esz(d) : rows * Esz(d); };
    const int64_t dst = Addr(v, slot);
    if (i->opcode == Opcode::kReduce) {
      const Val& x = vals_.at(i->operand(0));
      const Instruction* red = i->to_apply ? i->to_apply->root() : nullptr;
      if (!red) return Error("row fusion '{}': reduce '{}' has no reducer", inst_.name, i->name);
      const isa::RedOp op = red->opcode == Opcode::kAdd       ? isa::RedOp::kSum
                            : red->opcode == Opcode::kMaximum ? isa::RedOp::kMax
                                                              : isa::RedOp::kMin;
      if (red->opcode != Opcode::kAdd && red->opcode != Opcode::kMaximum && red->opcode != Opcode::kMinimum)
        return Unimplemented("row fusion '{}': reducer {} of '{}'", inst_.name, OpcodeName(red->opcode), i->name);
      to_xlu();
      const int64_t src = Addr(x, slot), es = Esz(t);
      for (int xi = 0; xi < nx; ++xi) {
        const int64_t r0 = rows * xi / nx, r1 = rows * (xi + 1) / nx;
        if (r1 <= r0) continue;
        em_.Emit(c, IsaOp::kXluReduce, xi,
                 {{"op", static_cast<int64_t>(op)}, {"dtype", dt(t)}, {"dst", dst + r0 * es},
                  {"src", src + r0 * C_ * es}, {"rows", r1 - r0}, {"cols", C_}, {"ds", es}, {"ss", C_ * es}});
      }
      continue;
    }
    to_vpu();
    if (i->opcode == Opcode::kConvert) {
      const Val& a = vals_.at(i->operand(0));
      const DType from = i->operand(0)->shape.dtype;
      em_.Emit(c, IsaOp::kVpuConvert, 0,
               {{"to", dt(t)}, {"from", dt(from)}, {"dst", dst}, {"src", Addr(a, slot)}, {"rows", r}, {"cols", cols},
                {"ds", stride(t)}, {"ss", stride(from)}});
      continue;
    }
    if (i->operands.size() == 1) {
      const Val& a = vals_.at(i->operand(0));
      em_.Emit(c, IsaOp::kVpuUnary, 0,
               {{"op", static_cast<int64_t>(UnaryOf(i->opcode))}, {"dtype", dt(t)}, {"dst", dst},
                {"a", Addr(a, slot)}, {"rows", r}, {"cols", cols}, {"ds", stride(t)}, {"as", stride(t)}});
      continue;
    }
    std::optional<BinOp> bop = BinaryOf(i->opcode);
    if (!bop || i->operands.size() != 2)
      return Unimplemented("row fusion '{}': '{}' is not supported", inst_.name, OpcodeName(i->opcode));
    const Val* a = &vals_.at(i->operand(0));
    const Val* b = &vals_.at(i->operand(1));
    auto is_plain = [](const Val* x) { return x->kind == Val::kFull || x->kind == Val::kRow; };
    bool negate = false;
    if (!is_plain(a)) {
      const bool commutes = *bop == BinOp::kAdd || *bop == BinOp::kMul || *bop == BinOp::kMax || *bop == BinOp::kMin;
      if (!commutes && *bop != BinOp::kSub)
        return Unimplemented("row fusion '{}': a broadcast or constant first operand of {}", inst_.name,
                             OpcodeName(i->opcode));
      negate = *bop == BinOp::kSub;  // c - x = -(x - c), exactly
      std::swap(a, b);
    }
    if (!is_plain(a)) return Unimplemented("row fusion '{}': {} of two broadcasts", inst_.name, OpcodeName(i->opcode));
    if (b->kind == Val::kScalar) {
      const int64_t imm = t == DType::kBF16 ? static_cast<int64_t>(b->bits) << 16 : static_cast<int64_t>(b->bits);
      em_.Emit(c, IsaOp::kVpuBinaryImm, 0,
               {{"op", static_cast<int64_t>(*bop)}, {"dtype", dt(t)}, {"dst", dst}, {"a", Addr(*a, slot)},
                {"imm", imm}, {"rows", r}, {"cols", cols}, {"ds", stride(t)}, {"as", stride(t)}});
    } else {
      int64_t baddr, bs;
      int64_t mode = 0;  // tile
      if (b->kind == Val::kRowBcast) {
        baddr = Addr(vals_.at(b->src), slot);
        bs = Esz(t);
        mode = static_cast<int64_t>(isa::BMode::kCol);
      } else if (b->kind == Val::kVecBcast) {
        baddr = Addr(vals_.at(b->src), slot);
        bs = 0;
      } else {
        baddr = Addr(*b, slot);
        bs = stride(t);
      }
      em_.Emit(c, IsaOp::kVpuBinary, 0,
               {{"op", static_cast<int64_t>(*bop)}, {"dtype", dt(t)}, {"dst", dst}, {"a", Addr(*a, slot)},
                {"b", baddr}, {"rows", r}, {"cols", cols}, {"ds", stride(t)}, {"as", stride(t)}, {"bs", bs},
                {"bmode", mode}});
    }
    if (negate)
      em_.Emit(c, IsaOp::kVpuUnary, 0,
               {{"op", static_cast<int64_t>(UnOp::kNeg)}, {"dtype", dt(t)}, {"dst", dst}, {"a", dst}, {"rows", r},
                {"cols", cols}, {"ds", stride(t)}, {"as", stride(t)}});
  }
  to_vpu();
  return OkStatus();
}

Status RowKernel::EmitCore(int core, int64_t t0, int64_t t1) {
  const int c = core;
  auto alloc = [&](int64_t bytes) { return em_.AllocVmem(c, std::max<int64_t>(bytes, 64), 256); };
  for (Param& q : params_) {
    const int64_t es = Esz(q.view.dtype);
    if (q.kind == Val::kVec) {
      ASSIGN_OR_RETURN(q.slot[0], alloc(C_ * es));
      continue;
    }
    for (int s = 0; s < 2; ++s) {
      ASSIGN_OR_RETURN(q.slot[s], alloc(rows_max_ * (q.kind == Val::kFull ? C_ : 1) * es));
    }
  }
  for (int s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(out_slot_[s], alloc(rows_max_ * C_ * Esz(inst_.shape.dtype)));
  }
  // Values of the computation.
  vals_.clear();
  for (const auto& up : comp_->instructions()) {
    const Instruction* i = up.get();
    Val v;
    v.dtype = i->shape.dtype;
    v.kind = i->shape.dims == full_dims_ ? Val::kFull : Val::kRow;
    if (i->opcode == Opcode::kParameter) {
      for (size_t k = 0; k < params_.size(); ++k)
        if (params_[k].inst == i) {
          v.param = static_cast<int>(k);
          v.kind = params_[k].kind;
        }
    } else if (i->opcode == Opcode::kConstant) {
      v.kind = Val::kScalar;
      v.bits = ScalarBits(i->literal);
    } else if (i->opcode == Opcode::kBroadcast) {
      const Val& s = vals_.at(i->operand(0));
      if (s.kind == Val::kScalar) {
        v = s;
      } else {
        v.kind = s.kind == Val::kVec ? Val::kVecBcast : Val::kRowBcast;
        v.src = i->operand(0);
      }
    } else if (i == comp_->root()) {
      v.out = true;
    } else {
      ASSIGN_OR_RETURN(v.temp, alloc(rows_max_ * (v.kind == Val::kFull ? C_ : 1) * Esz(v.dtype)));
    }
    vals_[i] = v;
  }
  if (vals_.at(comp_->root()).kind != Val::kFull || !vals_.at(comp_->root()).out)
    return Error("row fusion '{}': the root is not a computed value of the result's shape", inst_.name);
  for (int s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(loaded_[s], em_.AllocSem(c));
    ASSIGN_OR_RETURN(in_free_[s], em_.AllocSem(c));
    ASSIGN_OR_RETURN(out_ready_[s], em_.AllocSem(c));
    ASSIGN_OR_RETURN(out_free_[s], em_.AllocSem(c));
  }
  for (int x = 0; x < std::min(xlus_, 2); ++x) {
    ASSIGN_OR_RETURN(v2x_[x], em_.AllocSem(c));
    ASSIGN_OR_RETURN(x2v_[x], em_.AllocSem(c));
  }
  // Vector parameters, once.
  int vec_loaded = -1;
  for (const Param& q : params_) {
    if (q.kind != Val::kVec) continue;
    if (vec_loaded < 0) {
      ASSIGN_OR_RETURN(vec_loaded, em_.AllocSem(c));
    }
    DmaStrided(em_, c, 1 % em_.DmaEngines(), true, q.view, q.slot[0], {Esz(q.view.dtype)}, {.signal = vec_loaded});
    em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.wait = vec_loaded});
  }
  const int64_t n = t1 - t0;
  const int e_out = 1 % em_.DmaEngines();
  EmitLoads(c, t0, 0, 0);
  for (int64_t l = 0; l < n; ++l) {
    const int64_t t = t0 + l;
    const int s = static_cast<int>(l % 2);
    if (l + 1 < n) EmitLoads(c, t + 1, static_cast<int>((l + 1) % 2), l + 1);
    em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.wait = loaded_[s]});
    if (l >= 2) em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.wait = out_free_[s]});
    RETURN_IF_ERROR(EmitProgram(c, t, s));
    if (l + 2 < n) em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.signal = in_free_[s]});
    em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.signal = out_ready_[s]});
    const int64_t eo = Esz(inst_.shape.dtype);
    std::vector<int64_t> st = TileVmemStrides(C_ * eo, 1);
    st.back() = eo;
    DmaStrided(em_, c, e_out, false, TileView(out_, t), out_slot_[s], st,
               {.wait = out_ready_[s], .signal = l + 2 < n ? out_free_[s] : -1});
  }
  return OkStatus();
}

Status RowKernel::Run() {
  RETURN_IF_ERROR(Prepare());
  RETURN_IF_ERROR(Plan());
  xlus_ = em_.Xlus();
  if (xlus_ <= 0) return Unimplemented("row fusion '{}': chip '{}' has no cross-lane unit", inst_.name, ctx_.chip().name);
  for (const auto& up : comp_->instructions()) {
    const Instruction* i = up.get();
    if (i->opcode == Opcode::kParameter || i->opcode == Opcode::kConstant || i->opcode == Opcode::kBroadcast) continue;
    if (!desc_.empty()) desc_ += "+";
    desc_ += OpcodeName(i->opcode);
  }
  em_.BeginKernel(inst_.name, "fusion(row: " + desc_ + ")");
  const int cores = em_.Cores();
  Status st = OkStatus();
  for (int c = 0; c < cores && st.ok(); ++c) {
    const int64_t t0 = tiles_ * c / cores, t1 = tiles_ * (c + 1) / cores;
    if (t1 > t0) st = EmitCore(c, t0, t1);
  }
  Status e = em_.EndKernel();
  RETURN_IF_ERROR(st);
  return e;
}

}  // namespace

Status EmitRowFusion(LoweringContext& ctx, const Instruction& inst, const View& out) {
  RowKernel k(ctx, inst, out);
  return k.Run();
}

}  // namespace xtpu::codegen
