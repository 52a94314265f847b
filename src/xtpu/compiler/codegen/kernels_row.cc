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
// the root is stored with one DMA.
//
// Reductions over rows longer than one vector (C > lanes): the vector unit
// first folds the row's blocks of `lanes` columns elementwise into one
// [rows, lanes] partial (full-width vectors, as XLA does on TPUs: combine
// across vregs, then one cross-lane reduce), and the XLU reduces only that:
// the XLU, 16x slower per element than the VPU on v4, does `lanes` instead of
// C values per row.
//
// Software pipeline. A tile's ops form segments: maximal runs on one unit
// class (VPU, or the XLUs), each waiting for the previous one (a nop with
// `signal=` / `wait=` on the two units). Segment i of tile t is emitted in
// wave t + i/2, and waves are emitted in order (segments by index within a
// wave), so each unit's queue alternates between the tiles in flight: for
// softmax (XLU max, VPU subtract+exp, XLU sum, VPU divide) the XLU reduces
// the max of tile t+1 while the VPU computes exp of tile t, and the sum of
// tile t while the VPU divides tile t-1. Every wait refers to a signal
// emitted earlier in the stream (the sequencer dispatches in order). Loads
// run `ahead_` waves ahead; tiles rotate over N = S + 1 + ahead_ VMEM slots
// (S = the last segment's wave offset), each with the full/row parameters,
// the output and an arena for the temporaries; tile t + N is loaded once
// tile t's last segment is done, and its output written once tile t's store
// is done. Temporaries share arena space when their segments' lifetimes do
// not overlap.
//
// Numerics: every elementwise op rounds to its IR dtype (bf16 ops compute in
// f32 and round per op). A reduction with C <= lanes folds its row left to
// right in f32 and rounds once (the reduce kernel's single-chunk case; the
// init value is the reduction's identity, checked by the pass). With
// C > lanes it is reassociated: partial[l] = ((x[l] op x[l + lanes]) op
// x[l + 2 lanes]) op ... (the blocks that have column l, in f32 for bf16
// sums: each bf16 block is widened exactly first), then the XLU folds
// partial[0..lanes) left to right in f32, and the result is rounded once.
// max/min are exact either way; sums differ from the left-to-right fold by
// f32 rounding only (docs/numerics.md, "Row fusion").
#include <algorithm>
#include <functional>
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
int64_t Dt(DType t) { return static_cast<int64_t>(t); }

struct Val {
  enum Kind { kFull, kRow, kVec, kScalar, kRowBcast, kVecBcast } kind = kFull;
  DType dtype = DType::kF32;
  int param = -1;        // full/row/vec parameter: index into params_
  int temp = -1;         // full/row temporary: index into bufs_
  bool out = false;      // the root: the output slot
  uint32_t bits = 0;     // kScalar: bits in dtype (bf16: 16 bits)
  const Instruction* src = nullptr;  // broadcasts: the value broadcast
};

struct Param {
  const Instruction* inst = nullptr;  // the fused computation's parameter
  View view;                          // merged row dims (+ [C] for full)
  Val::Kind kind = Val::kFull;
  std::vector<int64_t> slot;          // VMEM per slot (vec: slot[0] only)
};

enum class Unit { kVpu, kXlu };

// A temporary of one tile: `bpr` bytes per tile row, live from segment
// `def` (first written) to segment `last` (last read).
struct Buf {
  int64_t bpr = 0;
  int def = 0, last = 0;
  int64_t off = 0;  // in the slot's arena
};

// Instructions of one tile on one unit class: emit(core, rows, slot).
struct Step {
  int seg = 0;
  std::function<void(int, int64_t, int)> emit;
};

class RowKernel {
 public:
  RowKernel(LoweringContext& ctx, const Instruction& inst, const View& out)
      : ctx_(ctx), em_(ctx.em()), inst_(inst), out_view_(out) {}

  Status Run();

 private:
  Status Prepare();
  Status BuildSteps();
  Status Plan();
  Status EmitCore(int core, int64_t t0, int64_t t1);
  void EmitLoads(int core, int64_t tile, int64_t local);
  void EmitSegment(int core, int seg, int64_t tile, int64_t local, int64_t n);
  int64_t Addr(const Val& v, int slot) const;
  int64_t TileRows(int64_t t) const;
  View TileView(const View& v, int64_t t) const;
  std::vector<int64_t> TileVmemStrides(int64_t elem_pitch, int extra_dims) const;
  // Step building: Begin(u) opens (or continues) a segment on `u`; Def/Use
  // record temporaries' lifetimes; Add appends the step.
  void Begin(Unit u);
  int NewBuf(int64_t bpr);
  void Use(const Val& v);
  void UseBuf(int b) { bufs_[b].last = std::max(bufs_[b].last, seg()); }
  void Def(const Instruction* i);
  void Add(std::function<void(int, int64_t, int)> f) { steps_.push_back({seg(), std::move(f)}); }
  int seg() const { return static_cast<int>(seg_units_.size()) - 1; }
  int Stage(int s) const { return s / 2; }
  Status AddReduce(const Instruction* i);
  Status AddElementwise(const Instruction* i);
  int64_t ArenaLayout(int64_t rows);  // sets bufs_[].off; returns the arena's bytes

  LoweringContext& ctx_;
  ProgramEmitter& em_;
  const Instruction& inst_;
  View out_view_;
  const Computation* comp_ = nullptr;
  std::vector<int64_t> full_dims_;
  int64_t C_ = 0, lanes_ = 128;
  std::vector<int64_t> rdims_;  // merged row dims
  std::vector<Param> params_;
  std::map<const Instruction*, Val> vals_;
  std::vector<Buf> bufs_;
  std::vector<Step> steps_;
  std::vector<Unit> seg_units_;
  View out_;                    // merged
  // Tiling: tiles index the merged row dims before k (one index each) and
  // chunks of `chunk_` along dim k; dims after k are whole.
  int k_ = 0;
  int64_t chunk_ = 1, per_ = 1, tiles_ = 0, prefix_ = 1, chunks_ = 1, rows_max_ = 0;
  int slots_ = 2;               // VMEM slots (tiles in flight)
  int ahead_ = 1;               // loads run this many waves ahead
  std::vector<int64_t> out_slot_, arena_;
  std::string desc_;
  int nx_ = 0;                  // XLUs used
  // Per core semaphores (FIFO pairs of one producer and one consumer unit).
  int loaded_v_ = -1, loaded_x_[2] = {-1, -1}, in_free_ = -1, out_ready_ = -1, out_free_ = -1;
  int v2x_[2] = {-1, -1}, x2v_[2] = {-1, -1};
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
  lanes_ = std::max<int64_t>(ctx_.chip().vpu.lanes, 1);
  const std::vector<int64_t> row(full_dims_.begin(), full_dims_.end() - 1);
  if (out_view_.dtype != inst_.shape.dtype)
    return Unimplemented("row fusion '{}': result stored as {}", inst_.name, DTypeName(out_view_.dtype));
  // Parameters.
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

// ---- the tile program ----

void RowKernel::Begin(Unit u) {
  if (seg_units_.empty() || seg_units_.back() != u) seg_units_.push_back(u);
}

int RowKernel::NewBuf(int64_t bpr) {
  bufs_.push_back({.bpr = bpr, .def = seg(), .last = seg()});
  return static_cast<int>(bufs_.size()) - 1;
}

void RowKernel::Use(const Val& v) {
  if (v.kind == Val::kRowBcast || v.kind == Val::kVecBcast) return Use(vals_.at(v.src));
  if (v.temp >= 0) UseBuf(v.temp);
}

// The value of `i` gets its temporary when first written.
void RowKernel::Def(const Instruction* i) {
  Val& v = vals_.at(i);
  if (v.out || v.temp >= 0) return;
  v.temp = NewBuf((v.kind == Val::kFull ? C_ : 1) * Esz(v.dtype));
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

Status RowKernel::AddReduce(const Instruction* i) {
  const Val* x = &vals_.at(i->operand(0));
  const Val* d = &vals_.at(i);
  const Instruction* red = i->to_apply ? i->to_apply->root() : nullptr;
  if (!red) return Error("row fusion '{}': reduce '{}' has no reducer", inst_.name, i->name);
  if (red->opcode != Opcode::kAdd && red->opcode != Opcode::kMaximum && red->opcode != Opcode::kMinimum)
    return Unimplemented("row fusion '{}': reducer {} of '{}'", inst_.name, OpcodeName(red->opcode), i->name);
  if (x->kind != Val::kFull) return Unimplemented("row fusion '{}': reduce '{}' of a broadcast", inst_.name, i->name);
  const isa::RedOp op = red->opcode == Opcode::kAdd       ? isa::RedOp::kSum
                        : red->opcode == Opcode::kMaximum ? isa::RedOp::kMax
                                                          : isa::RedOp::kMin;
  const DType t = i->shape.dtype;
  const int nx = nx_;
  const int64_t C = C_, L = lanes_;
  // The XLU reduce of `cols` columns at `src` (pitch ss) in dtype `a` into
  // the row vector `dst`, rows split over the XLUs.
  auto xlu = [this, nx, op](int c, int64_t rows, DType a, int64_t dst, int64_t src, int64_t cols, int64_t ss) {
    const int64_t es = Esz(a);
    for (int xi = 0; xi < nx; ++xi) {
      const int64_t r0 = rows * xi / nx, r1 = rows * (xi + 1) / nx;
      if (r1 <= r0) continue;
      em_.Emit(c, IsaOp::kXluReduce, xi,
               {{"op", static_cast<int64_t>(op)}, {"dtype", Dt(a)}, {"dst", dst + r0 * es}, {"src", src + r0 * ss},
                {"rows", r1 - r0}, {"cols", cols}, {"ds", es}, {"ss", ss}});
    }
  };
  if (C <= L) {
    Begin(Unit::kXlu);
    Use(*x);
    Def(i);
    Add([=, this](int c, int64_t rows, int s) { xlu(c, rows, t, Addr(*d, s), Addr(*x, s), C, C * Esz(t)); });
    return OkStatus();
  }
  // Pre-reduction on the VPU into P = [rows, L] in dtype a.
  const bool widen = op == isa::RedOp::kSum && t == DType::kBF16;
  const DType a = widen ? DType::kF32 : t;
  const BinOp bop = op == isa::RedOp::kSum ? BinOp::kAdd : op == isa::RedOp::kMax ? BinOp::kMax : BinOp::kMin;
  Begin(Unit::kVpu);
  Use(*x);
  const int P = NewBuf(L * Esz(a));
  const int T = widen ? NewBuf(L * 4) : -1;
  Add([=, this](int c, int64_t rows, int s) {
    const int64_t xs = Esz(t), xp = C * xs, X = Addr(*x, s), pa = arena_[s] + bufs_[P].off, es = Esz(a);
    const int64_t nb = (C + L - 1) / L;
    auto w = [&](int64_t k) { return std::min(L, C - k * L); };
    auto binary = [&](int64_t dst, int64_t aa, int64_t b, int64_t cols, int64_t as, int64_t bs) {
      em_.Emit(c, IsaOp::kVpuBinary, 0,
               {{"op", static_cast<int64_t>(bop)}, {"dtype", Dt(a)}, {"dst", dst}, {"a", aa}, {"b", b}, {"rows", rows},
                {"cols", cols}, {"ds", L * es}, {"as", as}, {"bs", bs}, {"bmode", 0}});
    };
    if (widen) {
      const int64_t ta = arena_[s] + bufs_[T].off;
      em_.Emit(c, IsaOp::kVpuConvert, 0,
               {{"to", Dt(a)}, {"from", Dt(t)}, {"dst", pa}, {"src", X}, {"rows", rows}, {"cols", L},
                {"ds", L * 4}, {"ss", xp}});
      for (int64_t k = 1; k < nb; ++k) {
        em_.Emit(c, IsaOp::kVpuConvert, 0,
                 {{"to", Dt(a)}, {"from", Dt(t)}, {"dst", ta}, {"src", X + k * L * xs}, {"rows", rows},
                  {"cols", w(k)}, {"ds", L * 4}, {"ss", xp}});
        binary(pa, pa, ta, w(k), L * 4, L * 4);
      }
      return;
    }
    binary(pa, X, X + L * xs, w(1), xp, xp);
    if (w(1) < L)
      em_.Emit(c, IsaOp::kVpuUnary, 0,
               {{"op", static_cast<int64_t>(UnOp::kCopy)}, {"dtype", Dt(a)}, {"dst", pa + w(1) * es},
                {"a", X + w(1) * xs}, {"rows", rows}, {"cols", L - w(1)}, {"ds", L * es}, {"as", xp}});
    for (int64_t k = 2; k < nb; ++k) binary(pa, pa, X + k * L * xs, w(k), L * es, xp);
  });
  Begin(Unit::kXlu);
  UseBuf(P);
  if (!widen) {
    Def(i);
    Add([=, this](int c, int64_t rows, int s) { xlu(c, rows, a, Addr(*d, s), arena_[s] + bufs_[P].off, L, L * Esz(a)); });
    return OkStatus();
  }
  const int R = NewBuf(4);
  Add([=, this](int c, int64_t rows, int s) {
    xlu(c, rows, a, arena_[s] + bufs_[R].off, arena_[s] + bufs_[P].off, L, L * 4);
  });
  Begin(Unit::kVpu);
  UseBuf(R);
  Def(i);
  Add([=, this](int c, int64_t rows, int s) {
    em_.Emit(c, IsaOp::kVpuConvert, 0,
             {{"to", Dt(t)}, {"from", Dt(a)}, {"dst", Addr(*d, s)}, {"src", arena_[s] + bufs_[R].off}, {"rows", 1},
              {"cols", rows}, {"ds", rows * Esz(t)}, {"ss", rows * 4}});
  });
  return OkStatus();
}

Status RowKernel::AddElementwise(const Instruction* i) {
  const Val* v = &vals_.at(i);
  const DType t = i->shape.dtype;
  const bool full = v->kind == Val::kFull;
  const int64_t C = C_;
  // A value's tile: full [rows, C] at pitch C*esz; row [1, rows].
  auto geom = [full, C](int64_t rows) { return std::pair<int64_t, int64_t>{full ? rows : 1, full ? C : rows}; };
  auto stride = [full, C](DType d, int64_t rows) { return full ? C * Esz(d) : rows * Esz(d); };
  Begin(Unit::kVpu);
  if (i->opcode == Opcode::kConvert) {
    const Val* a = &vals_.at(i->operand(0));
    const DType from = i->operand(0)->shape.dtype;
    Use(*a);
    Def(i);
    Add([=, this](int c, int64_t rows, int s) {
      auto [r, cols] = geom(rows);
      em_.Emit(c, IsaOp::kVpuConvert, 0,
               {{"to", Dt(t)}, {"from", Dt(from)}, {"dst", Addr(*v, s)}, {"src", Addr(*a, s)}, {"rows", r},
                {"cols", cols}, {"ds", stride(t, rows)}, {"ss", stride(from, rows)}});
    });
    return OkStatus();
  }
  if (i->operands.size() == 1) {
    const Val* a = &vals_.at(i->operand(0));
    Use(*a);
    Def(i);
    const UnOp u = UnaryOf(i->opcode);
    Add([=, this](int c, int64_t rows, int s) {
      auto [r, cols] = geom(rows);
      em_.Emit(c, IsaOp::kVpuUnary, 0,
               {{"op", static_cast<int64_t>(u)}, {"dtype", Dt(t)}, {"dst", Addr(*v, s)}, {"a", Addr(*a, s)},
                {"rows", r}, {"cols", cols}, {"ds", stride(t, rows)}, {"as", stride(t, rows)}});
    });
    return OkStatus();
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
  Use(*a);
  Use(*b);
  Def(i);
  const BinOp op = *bop;
  Add([=, this](int c, int64_t rows, int s) {
    auto [r, cols] = geom(rows);
    const int64_t dst = Addr(*v, s), st = stride(t, rows);
    if (b->kind == Val::kScalar) {
      const int64_t imm = t == DType::kBF16 ? static_cast<int64_t>(b->bits) << 16 : static_cast<int64_t>(b->bits);
      em_.Emit(c, IsaOp::kVpuBinaryImm, 0,
               {{"op", static_cast<int64_t>(op)}, {"dtype", Dt(t)}, {"dst", dst}, {"a", Addr(*a, s)}, {"imm", imm},
                {"rows", r}, {"cols", cols}, {"ds", st}, {"as", st}});
    } else {
      int64_t baddr, bs;
      int64_t mode = 0;  // tile
      if (b->kind == Val::kRowBcast) {
        baddr = Addr(vals_.at(b->src), s);
        bs = Esz(t);
        mode = static_cast<int64_t>(isa::BMode::kCol);
      } else if (b->kind == Val::kVecBcast) {
        baddr = Addr(vals_.at(b->src), s);
        bs = 0;
      } else {
        baddr = Addr(*b, s);
        bs = st;
      }
      em_.Emit(c, IsaOp::kVpuBinary, 0,
               {{"op", static_cast<int64_t>(op)}, {"dtype", Dt(t)}, {"dst", dst}, {"a", Addr(*a, s)}, {"b", baddr},
                {"rows", r}, {"cols", cols}, {"ds", st}, {"as", st}, {"bs", bs}, {"bmode", mode}});
    }
    if (negate)
      em_.Emit(c, IsaOp::kVpuUnary, 0,
               {{"op", static_cast<int64_t>(UnOp::kNeg)}, {"dtype", Dt(t)}, {"dst", dst}, {"a", dst}, {"rows", r},
                {"cols", cols}, {"ds", st}, {"as", st}});
  });
  return OkStatus();
}

Status RowKernel::BuildSteps() {
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
    }
    vals_[i] = v;
  }
  if (vals_.at(comp_->root()).kind != Val::kFull || !vals_.at(comp_->root()).out)
    return Error("row fusion '{}': the root is not a computed value of the result's shape", inst_.name);
  for (const auto& up : comp_->instructions()) {
    const Instruction* i = up.get();
    if (i->opcode == Opcode::kParameter || i->opcode == Opcode::kConstant || i->opcode == Opcode::kBroadcast) continue;
    if (!desc_.empty()) desc_ += "+";
    desc_ += OpcodeName(i->opcode);
    if (i->opcode == Opcode::kReduce) {
      RETURN_IF_ERROR(AddReduce(i));
    } else {
      RETURN_IF_ERROR(AddElementwise(i));
    }
  }
  if (steps_.empty() || seg_units_.back() != Unit::kVpu)
    return Error("row fusion '{}': the root is not computed last", inst_.name);
  return OkStatus();
}

int64_t RowKernel::ArenaLayout(int64_t rows) {
  struct Block {
    int64_t off, size;
    int free_after;
  };
  std::vector<Block> blocks;
  int64_t end = 0;
  for (Buf& b : bufs_) {
    const int64_t need = (std::max<int64_t>(b.bpr * rows, 64) + 255) / 256 * 256;
    int best = -1;
    for (size_t k = 0; k < blocks.size(); ++k)
      if (blocks[k].free_after < b.def && blocks[k].size >= need && (best < 0 || blocks[k].size < blocks[best].size))
        best = static_cast<int>(k);
    if (best < 0) {
      blocks.push_back({end, need, b.last});
      b.off = end;
      end += need;
    } else {
      b.off = blocks[best].off;
      blocks[best].free_after = b.last;
    }
  }
  return end;
}

Status RowKernel::Plan() {
  // VMEM per tile row and slot: full/row parameters, output, temporaries.
  int64_t per_slot_row = C_ * Esz(inst_.shape.dtype);
  int64_t vec_bytes = 0;
  for (const Param& q : params_) {
    const int64_t e = Esz(q.view.dtype);
    if (q.kind == Val::kFull) per_slot_row += C_ * e;
    else if (q.kind == Val::kRow) per_slot_row += e;
    else vec_bytes += C_ * e + 256;
  }
  // The arena per row: lay it out for 256 rows (rounding is then small).
  per_slot_row += (ArenaLayout(256) + 255) / 256;
  int64_t total = 1;
  for (int64_t d : rdims_) total *= d;
  // Loads run three waves ahead: a tile's load (HBM latency, then its bytes
  // at the share of HBM left by the other streams) takes longer than a wave.
  // Rows too long for that many slots run with fewer (ahead 0: a tile's
  // load is emitted in its first wave).
  for (ahead_ = 3; ahead_ >= 0; --ahead_) {
    slots_ = Stage(seg()) + 1 + ahead_;
    const int64_t fixed =
        64 * 1024 + vec_bytes + slots_ * 256 * static_cast<int64_t>(bufs_.size() + params_.size() + 1);
    rows_max_ = (VmemBudget(em_) - fixed) / (per_slot_row * slots_);
    if (rows_max_ >= 1) break;
  }
  // At least 32 tiles per core: the pipeline fills and drains in a few
  // waves.
  rows_max_ = std::min<int64_t>(rows_max_, std::max<int64_t>(8, total / (32 * em_.Cores())));
  rows_max_ = std::min<int64_t>(rows_max_, 2048);
  if (rows_max_ < 1) {
    const int64_t need = 64 * 1024 + vec_bytes + slots_ * (per_slot_row + 256 * static_cast<int64_t>(bufs_.size() + params_.size() + 1));
    return Unimplemented("row fusion '{}': one row of {} values needs {} of VMEM in {} slots; the budget is {} of {}",
                         inst_.name, C_, FormatBytes(need), slots_, FormatBytes(VmemBudget(em_)),
                         FormatBytes(em_.VmemBytes()));
  }
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
  return arena_[slot] + bufs_[v.temp].off;
}

// Loads tile `tile` (the core's `local`-th) into its slot; the first
// segment's units are signalled when it is in.
void RowKernel::EmitLoads(int core, int64_t tile, int64_t local) {
  const int e = 0;
  const int slot = static_cast<int>(local % slots_);
  const bool xlu_first = seg_units_[0] == Unit::kXlu;
  const int signal = xlu_first ? loaded_x_[0] : loaded_v_;
  std::vector<const Param*> ps;
  for (const Param& q : params_)
    if (q.kind != Val::kVec) ps.push_back(&q);
  for (size_t i = 0; i < ps.size(); ++i) {
    const Param& q = *ps[i];
    const int64_t es = Esz(q.view.dtype);
    Sync s;
    if (i == 0 && local >= slots_) s.wait = in_free_;
    if (i + 1 == ps.size()) s.signal = signal;
    if (q.kind == Val::kFull) {
      std::vector<int64_t> st = TileVmemStrides(C_ * es, 1);
      st.back() = es;
      DmaStrided(em_, core, e, true, TileView(q.view, tile), q.slot[slot], st, s);
    } else {
      DmaStrided(em_, core, e, true, TileView(q.view, tile), q.slot[slot], TileVmemStrides(es, 0), s);
    }
  }
  if (ps.empty()) {
    Sync s{.wait = local >= slots_ ? in_free_ : -1, .signal = signal};
    em_.Emit(core, IsaOp::kDmaNop, e, {}, s);
  }
  if (xlu_first)
    for (int x = 1; x < nx_; ++x) em_.Emit(core, IsaOp::kDmaNop, e, {}, {.signal = loaded_x_[x]});
}

void RowKernel::EmitSegment(int c, int seg, int64_t tile, int64_t local, int64_t n) {
  const int slot = static_cast<int>(local % slots_);
  const int64_t rows = TileRows(tile);
  const Unit u = seg_units_[seg];
  const bool last = seg + 1 == static_cast<int>(seg_units_.size());
  // Entry: the tile is loaded / the previous segment is done.
  for (int x = 0; x < (u == Unit::kVpu && seg == 0 ? 1 : nx_); ++x) {
    if (u == Unit::kVpu)
      em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.wait = seg == 0 ? loaded_v_ : x2v_[x]});
    else
      em_.Emit(c, IsaOp::kXluNop, x, {}, {.wait = seg == 0 ? loaded_x_[x] : v2x_[x]});
  }
  // The output slot is free once tile local - slots_ is stored.
  if (last && local >= slots_) em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.wait = out_free_});
  for (const Step& st : steps_)
    if (st.seg == seg) st.emit(c, rows, slot);
  if (!last) {
    for (int x = 0; x < nx_; ++x) {
      if (u == Unit::kVpu) em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.signal = v2x_[x]});
      else em_.Emit(c, IsaOp::kXluNop, x, {}, {.signal = x2v_[x]});
    }
    return;
  }
  const bool reused = local + slots_ < n;
  em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.signal = out_ready_});
  if (reused) em_.Emit(c, IsaOp::kVpuNop, 0, {}, {.signal = in_free_});
  const int64_t eo = Esz(inst_.shape.dtype);
  std::vector<int64_t> st = TileVmemStrides(C_ * eo, 1);
  st.back() = eo;
  DmaStrided(em_, c, 1 % em_.DmaEngines(), false, TileView(out_, tile), out_slot_[slot], st,
             {.wait = out_ready_, .signal = reused ? out_free_ : -1});
}

Status RowKernel::EmitCore(int core, int64_t t0, int64_t t1) {
  const int c = core;
  auto alloc = [&](int64_t bytes) { return em_.AllocVmem(c, std::max<int64_t>(bytes, 64), 256); };
  for (Param& q : params_) {
    const int64_t es = Esz(q.view.dtype);
    q.slot.assign(slots_, -1);
    if (q.kind == Val::kVec) {
      ASSIGN_OR_RETURN(q.slot[0], alloc(C_ * es));
      continue;
    }
    for (int s = 0; s < slots_; ++s) {
      ASSIGN_OR_RETURN(q.slot[s], alloc(rows_max_ * (q.kind == Val::kFull ? C_ : 1) * es));
    }
  }
  out_slot_.assign(slots_, -1);
  arena_.assign(slots_, -1);
  const int64_t arena = ArenaLayout(rows_max_);
  for (int s = 0; s < slots_; ++s) {
    ASSIGN_OR_RETURN(out_slot_[s], alloc(rows_max_ * C_ * Esz(inst_.shape.dtype)));
    ASSIGN_OR_RETURN(arena_[s], alloc(arena));
  }
  if (seg_units_[0] == Unit::kVpu) {
    ASSIGN_OR_RETURN(loaded_v_, em_.AllocSem(c));
  } else {
    for (int x = 0; x < nx_; ++x) {
      ASSIGN_OR_RETURN(loaded_x_[x], em_.AllocSem(c));
    }
  }
  ASSIGN_OR_RETURN(in_free_, em_.AllocSem(c));
  ASSIGN_OR_RETURN(out_ready_, em_.AllocSem(c));
  ASSIGN_OR_RETURN(out_free_, em_.AllocSem(c));
  for (int x = 0; x < nx_; ++x) {
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
  // Waves: segment i of the core's tile l in wave l + Stage(i).
  const int64_t n = t1 - t0;
  const int nseg = static_cast<int>(seg_units_.size());
  for (int64_t l = 0; l < std::min<int64_t>(ahead_, n); ++l) EmitLoads(c, t0 + l, l);
  for (int64_t w = 0; w < n + Stage(nseg - 1); ++w) {
    if (w + ahead_ < n) EmitLoads(c, t0 + w + ahead_, w + ahead_);
    for (int i = 0; i < nseg; ++i) {
      const int64_t l = w - Stage(i);
      if (l >= 0 && l < n) EmitSegment(c, i, t0 + l, l, n);
    }
  }
  return OkStatus();
}

Status RowKernel::Run() {
  RETURN_IF_ERROR(Prepare());
  nx_ = std::min(em_.Xlus(), 2);
  if (nx_ <= 0) return Unimplemented("row fusion '{}': chip '{}' has no cross-lane unit", inst_.name, ctx_.chip().name);
  RETURN_IF_ERROR(BuildSteps());
  RETURN_IF_ERROR(Plan());
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
