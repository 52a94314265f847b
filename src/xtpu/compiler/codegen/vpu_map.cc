// EmitMapJob: the double-buffered tile pipeline of the elementwise and copy
// kernels (vpu_common.h).
//
// The output's index space (after merging dims that are contiguous in every
// view) is cut into tiles: a chunk of one dim k, all of the dims between k
// and the last, and the last dim (whole, or in column chunks when rows are
// very long); dims before k are single indices. A tile is dense [rows, cols]
// in VMEM. Inputs whose strides are 0 over the tile's rows are "rows": only
// one row is loaded and instructions read it with stride 0.
//
// Per core, two slots (tile t uses slot t % 2) and four semaphores per slot:
//   load t  (dma 2s)   : waits in_free[s] (t >= 2), last load signals in_ready[s]
//   compute t (vpu/xlu): waits out_free[s] (t >= 2) and in_ready[s];
//                        signals out_ready[s], then in_free[s] (if t+2 < n)
//   store t (dma 2s+1) : waits out_ready[s], signals out_free[s] (if t+2 < n)
// Emission order: load 0, load 1, then per t: compute t, store t, load t+2,
// so every wait's producer is emitted before it. Each signal is consumed
// exactly once, so all semaphores end at 0. In kCopy mode the store reads the
// input slot and takes the compute's place in the protocol.
#include <algorithm>

#include "xtpu/compiler/codegen/vpu_common.h"
#include "xtpu/support/check.h"

namespace xtpu::codegen {
namespace {

constexpr int64_t kMaxTileElements = int64_t{1} << 18;

struct Tile {
  std::vector<int64_t> offsets;  // per view (0 = out, 1.. = inputs): byte offset of the tile's origin
  int64_t kcount = 1, ccount = 1;
  int64_t rows = 1;
};

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

void JointSimplify(std::vector<int64_t>& dims, std::vector<std::vector<int64_t>>& strides) {
  std::vector<int64_t> nd;
  std::vector<std::vector<int64_t>> ns(strides.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1) continue;
    bool merge = !nd.empty();
    for (size_t v = 0; merge && v < strides.size(); ++v)
      if (ns[v].back() != strides[v][d] * dims[d]) merge = false;
    if (merge) {
      nd.back() *= dims[d];
      for (size_t v = 0; v < strides.size(); ++v) ns[v].back() = strides[v][d];
    } else {
      nd.push_back(dims[d]);
      for (size_t v = 0; v < strides.size(); ++v) ns[v].push_back(strides[v][d]);
    }
  }
  if (nd.empty()) {
    nd.push_back(1);
    for (auto& s : ns) s.push_back(0);
  }
  dims = nd;
  strides = ns;
}

namespace {

class MapEmitter {
 public:
  MapEmitter(LoweringContext& ctx, const MapJob& job) : ctx_(ctx), em_(ctx.em()), job_(job) {}
  Status Run();

 private:
  Status PlanTiles(int ntemps);
  View TileView(int v, const Tile& t, bool row) const;
  Status EmitCore(int core, const std::vector<Tile>& tiles);
  void EmitOp(int core, int unit, const TileOp& op, const Tile& t, int slot, Sync sync);
  int64_t Addr(const Loc& l, int slot) const;

  LoweringContext& ctx_;
  ProgramEmitter& em_;
  const MapJob& job_;
  int nin_ = 0;
  std::vector<int64_t> dims_;
  std::vector<std::vector<int64_t>> strides_;  // [0] = out, [1 + i] = input i
  std::vector<int64_t> bases_;
  std::vector<DType> dtypes_;
  int m_ = 0, k_ = -1;
  int64_t chunk_ = 1, tc_ = 1, rmax_ = 1;
  std::vector<bool> row_;
  TileProgram prog_;
  // per-core VMEM layout
  std::vector<std::array<int64_t, 2>> in_addr_;
  std::array<int64_t, 2> out_addr_{};
  std::vector<int64_t> temp_addr_, const_addr_;
};

Status MapEmitter::PlanTiles(int ntemps) {
  m_ = static_cast<int>(dims_.size());
  const int64_t C = dims_[m_ - 1];
  int64_t total = 1;
  for (int64_t d : dims_) total *= d;
  int64_t bpe = 2 * DTypeBytes(dtypes_[0]) + 4 * ntemps;
  for (int i = 0; i < nin_; ++i) bpe += 2 * DTypeBytes(dtypes_[1 + i]);
  if (job_.mode == MapJob::Mode::kCopy) bpe = 2 * DTypeBytes(dtypes_[0]);
  int64_t max_elems = std::max<int64_t>(1, VmemBudget(em_) / bpe);
  max_elems = std::min(max_elems, kMaxTileElements);
  // Enough tiles for every core to double-buffer, unless that makes them tiny.
  const int64_t target = CeilDiv(total, 2 * em_.Cores());
  max_elems = std::min(max_elems, std::max<int64_t>(target, 8 * 1024));
  if (max_elems < 1) return Error("{}: no VMEM left for a tile", job_.name);
  const int64_t rows_total = total / C;
  if (job_.mode == MapJob::Mode::kTranspose) {
    XTPU_CHECK(m_ >= 2);
    k_ = m_ - 2;
    tc_ = std::min<int64_t>(C, 512);
    chunk_ = std::clamp<int64_t>(max_elems / tc_, 1, dims_[m_ - 2]);
    rmax_ = chunk_;
    return OkStatus();
  }
  const int64_t min_rows = std::min<int64_t>(rows_total, 8);
  if (C * min_rows <= max_elems) {
    tc_ = C;
    const int64_t rows_budget = std::max<int64_t>(1, max_elems / C);
    k_ = -1;
    chunk_ = 1;
    int64_t cum = 1;
    for (int d = m_ - 2; d >= 0; --d) {
      k_ = d;
      if (dims_[d] * cum <= rows_budget) {
        chunk_ = dims_[d];
        cum *= dims_[d];
      } else {
        chunk_ = rows_budget / cum;
        cum *= chunk_;
        break;
      }
    }
    rmax_ = cum;
  } else {
    tc_ = std::max<int64_t>(1, max_elems / std::max<int64_t>(min_rows, 1));
    if (tc_ >= 128) tc_ = tc_ / 128 * 128;
    k_ = m_ >= 2 ? m_ - 2 : -1;
    chunk_ = k_ >= 0 ? std::clamp<int64_t>(max_elems / tc_, 1, dims_[k_]) : 1;
    rmax_ = chunk_;
  }
  return OkStatus();
}

View MapEmitter::TileView(int v, const Tile& t, bool row) const {
  View r;
  r.dtype = dtypes_[v];
  r.base = bases_[v] + t.offsets[v];
  const auto& s = strides_[v];
  if (!row && k_ >= 0) {
    r.dims.push_back(t.kcount);
    r.strides.push_back(s[k_]);
    for (int d = k_ + 1; d < m_ - 1; ++d) {
      r.dims.push_back(dims_[d]);
      r.strides.push_back(s[d]);
    }
  }
  r.dims.push_back(t.ccount);
  r.strides.push_back(s[m_ - 1]);
  if (job_.mode == MapJob::Mode::kTranspose && v == 1) {
    XTPU_CHECK(r.rank() == 2);
    r = r.Transpose({1, 0});
  }
  return r;
}

int64_t MapEmitter::Addr(const Loc& l, int slot) const {
  switch (l.kind) {
    case LocKind::kIn: return in_addr_[l.index][slot];
    case LocKind::kOut: return out_addr_[slot];
    case LocKind::kTemp: return temp_addr_[l.index];
    case LocKind::kConst: return const_addr_[l.index];
  }
  return 0;
}

void MapEmitter::EmitOp(int core, int unit, const TileOp& op, const Tile& t, int slot, Sync sync) {
  const int64_t rows = op.dst.row ? 1 : t.rows, cols = t.ccount;
  auto stride = [&](const Loc& l) -> int64_t { return l.row ? 0 : cols * DTypeBytes(l.dtype); };
  const int64_t dt = static_cast<int64_t>(op.dtype);
  switch (op.kind) {
    case TileOp::kBinary:
      em_.Emit(core, isa::Opcode::kVpuBinary, 0,
               {{"op", op.op}, {"dtype", dt}, {"dst", Addr(op.dst, slot)}, {"a", Addr(op.a, slot)},
                {"b", Addr(op.b, slot)}, {"rows", rows}, {"cols", cols}, {"ds", stride(op.dst)},
                {"as", stride(op.a)}, {"bs", stride(op.b)}},
               sync);
      break;
    case TileOp::kBinaryImm:
      em_.Emit(core, isa::Opcode::kVpuBinaryImm, 0,
               {{"op", op.op}, {"dtype", dt}, {"dst", Addr(op.dst, slot)}, {"a", Addr(op.a, slot)},
                {"imm", op.imm}, {"rows", rows}, {"cols", cols}, {"ds", stride(op.dst)}, {"as", stride(op.a)}},
               sync);
      break;
    case TileOp::kUnary:
      em_.Emit(core, isa::Opcode::kVpuUnary, 0,
               {{"op", op.op}, {"dtype", dt}, {"dst", Addr(op.dst, slot)}, {"a", Addr(op.a, slot)},
                {"rows", rows}, {"cols", cols}, {"ds", stride(op.dst)}, {"as", stride(op.a)}},
               sync);
      break;
    case TileOp::kConvert:
      em_.Emit(core, isa::Opcode::kVpuConvert, 0,
               {{"to", dt}, {"from", static_cast<int64_t>(op.from)}, {"dst", Addr(op.dst, slot)},
                {"src", Addr(op.a, slot)}, {"rows", rows}, {"cols", cols}, {"ds", stride(op.dst)},
                {"ss", stride(op.a)}},
               sync);
      break;
    case TileOp::kSelect:
      em_.Emit(core, isa::Opcode::kVpuSelect, 0,
               {{"dtype", dt}, {"dst", Addr(op.dst, slot)}, {"p", Addr(op.p, slot)}, {"a", Addr(op.a, slot)},
                {"b", Addr(op.b, slot)}, {"rows", rows}, {"cols", cols}, {"ds", stride(op.dst)},
                {"ps", stride(op.p)}, {"as", stride(op.a)}, {"bs", stride(op.b)}},
               sync);
      break;
    case TileOp::kTranspose: {
      // The input slot holds the tile transposed: [cols, rows].
      const int64_t esz = DTypeBytes(op.dtype);
      em_.Emit(core, isa::Opcode::kXluTranspose, unit,
               {{"dtype", dt}, {"dst", Addr(op.dst, slot)}, {"src", Addr(op.a, slot)}, {"rows", cols},
                {"cols", t.rows}, {"ds", cols * esz}, {"ss", t.rows * esz}},
               sync);
      break;
    }
  }
}

Status MapEmitter::EmitCore(int core, const std::vector<Tile>& tiles) {
  const int n = static_cast<int>(tiles.size());
  if (n == 0) return OkStatus();
  const bool copy = job_.mode == MapJob::Mode::kCopy;
  const bool xlu = job_.mode == MapJob::Mode::kTranspose;
  // VMEM
  in_addr_.assign(nin_, {0, 0});
  for (int i = 0; i < nin_; ++i) {
    const int64_t bytes = (row_[i] ? tc_ : rmax_ * tc_) * DTypeBytes(dtypes_[1 + i]);
    for (int s = 0; s < 2; ++s) {
      ASSIGN_OR_RETURN(in_addr_[i][s], em_.AllocVmem(core, bytes));
    }
  }
  if (!copy) {
    for (int s = 0; s < 2; ++s) {
      ASSIGN_OR_RETURN(out_addr_[s], em_.AllocVmem(core, rmax_ * tc_ * DTypeBytes(dtypes_[0])));
    }
  } else {
    out_addr_ = in_addr_[0];
  }
  temp_addr_.assign(prog_.num_temps, 0);
  for (int i = 0; i < prog_.num_temps; ++i) {
    ASSIGN_OR_RETURN(temp_addr_[i], em_.AllocVmem(core, rmax_ * tc_ * 4));
  }
  const int64_t crow = (tc_ + 1) / 2 * 2;
  const_addr_.assign(prog_.consts.size(), 0);
  for (size_t i = 0; i < prog_.consts.size(); ++i) {
    ASSIGN_OR_RETURN(const_addr_[i], em_.AllocVmem(core, crow * 4));
  }
  // Semaphores
  int in_ready[2], in_free[2], out_ready[2], out_free[2];
  for (int s = 0; s < 2; ++s) {
    ASSIGN_OR_RETURN(in_ready[s], em_.AllocSem(core));
    ASSIGN_OR_RETURN(in_free[s], em_.AllocSem(core));
    ASSIGN_OR_RETURN(out_ready[s], em_.AllocSem(core));
    ASSIGN_OR_RETURN(out_free[s], em_.AllocSem(core));
  }
  // Constant rows: all bits set through s32 ops (exact for any value).
  for (size_t i = 0; i < prog_.consts.size(); ++i) {
    auto [dt, bits] = prog_.consts[i];
    int64_t words = DTypeBytes(dt) == 2 ? crow / 2 : crow;
    int64_t w = DTypeBytes(dt) == 2 ? static_cast<int64_t>(bits | (bits << 16)) : bits;
    const int64_t s32 = static_cast<int64_t>(DType::kS32);
    em_.Emit(core, isa::Opcode::kVpuBinaryImm, 0,
             {{"op", static_cast<int64_t>(isa::BinOp::kAnd)}, {"dtype", s32}, {"dst", const_addr_[i]},
              {"a", const_addr_[i]}, {"imm", 0}, {"rows", 1}, {"cols", words}, {"ds", 0}, {"as", 0}});
    em_.Emit(core, isa::Opcode::kVpuBinaryImm, 0,
             {{"op", static_cast<int64_t>(isa::BinOp::kOr)}, {"dtype", s32}, {"dst", const_addr_[i]},
              {"a", const_addr_[i]}, {"imm", static_cast<int64_t>(static_cast<uint32_t>(w))}, {"rows", 1},
              {"cols", words}, {"ds", 0}, {"as", 0}});
  }
  const int engines = em_.DmaEngines();
  auto load_engine = [&](int s) { return (2 * s) % engines; };
  auto store_engine = [&](int s) { return (2 * s + 1) % engines; };
  auto emit_load = [&](int t) {
    const int s = t % 2;
    int first = -1, last = -1;
    for (int i = 0; i < nin_; ++i) {
      if (first < 0) first = i;
      last = i;
    }
    for (int i = 0; i < nin_; ++i) {
      Sync sync;
      if (i == first && t >= 2) sync.wait = in_free[s];
      if (i == last) sync.signal = in_ready[s];
      em_.DmaLoad(core, load_engine(s), TileView(1 + i, tiles[t], row_[i]), in_addr_[i][s], sync);
    }
  };
  const int unit = 0;  // one VPU; transposes use xlu0 (tile order is kept per unit)
  const isa::Opcode nop = xlu ? isa::Opcode::kXluNop : isa::Opcode::kVpuNop;
  for (int t = 0; t < std::min(n, 2); ++t) emit_load(t);
  for (int t = 0; t < n; ++t) {
    const int s = t % 2;
    const bool more = t + 2 < n;
    if (copy) {
      em_.DmaStore(core, store_engine(s), in_addr_[0][s], TileView(0, tiles[t], false),
                   {.wait = in_ready[s], .signal = more ? in_free[s] : -1});
    } else {
      if (t >= 2) em_.Emit(core, nop, unit, {}, {.wait = out_free[s]});
      if (nin_ > 0) em_.Emit(core, nop, unit, {}, {.wait = in_ready[s]});
      for (size_t o = 0; o < prog_.ops.size(); ++o) {
        Sync sync;
        if (o + 1 == prog_.ops.size()) sync.signal = out_ready[s];
        EmitOp(core, unit, prog_.ops[o], tiles[t], s, sync);
      }
      if (more && nin_ > 0) em_.Emit(core, nop, unit, {}, {.signal = in_free[s]});
      em_.DmaStore(core, store_engine(s), out_addr_[s], TileView(0, tiles[t], false),
                   {.wait = out_ready[s], .signal = more ? out_free[s] : -1});
    }
    if (t + 2 < n) emit_load(t + 2);
  }
  return OkStatus();
}

Status MapEmitter::Run() {
  nin_ = static_cast<int>(job_.inputs.size());
  dims_ = job_.out.dims;
  strides_.push_back(job_.out.strides);
  bases_.push_back(job_.out.base);
  dtypes_.push_back(job_.out.dtype);
  for (const View& v : job_.inputs) {
    if (v.dims != dims_) return Error("{}: input {} does not have the output's dims", job_.name, v.ToString());
    strides_.push_back(v.strides);
    bases_.push_back(v.base);
    dtypes_.push_back(v.dtype);
  }
  for (int64_t d : dims_)
    if (d == 0) return OkStatus();
  JointSimplify(dims_, strides_);
  if (job_.mode != MapJob::Mode::kProgram) {
    XTPU_CHECK(nin_ == 1 && job_.inputs[0].dtype == job_.out.dtype);
  }
  if (job_.mode == MapJob::Mode::kTranspose && dims_.size() < 2) {
    return EmitMapJob(ctx_, MapJob{job_.name, job_.out, job_.inputs, MapJob::Mode::kCopy, nullptr});
  }
  int ntemps = 0;
  if (job_.mode == MapJob::Mode::kProgram) {
    ASSIGN_OR_RETURN(TileProgram p0, job_.build(std::vector<bool>(nin_, false)));
    ntemps = p0.num_temps;
  }
  RETURN_IF_ERROR(PlanTiles(ntemps));
  row_.assign(nin_, false);
  if (job_.mode == MapJob::Mode::kProgram && k_ >= 0) {
    for (int i = 0; i < nin_; ++i) {
      bool row = true;
      for (int d = k_; d < m_ - 1; ++d) row = row && strides_[1 + i][d] == 0;
      row_[i] = row;
    }
  }
  if (job_.mode == MapJob::Mode::kProgram) {
    ASSIGN_OR_RETURN(prog_, job_.build(row_));
    if (prog_.ops.empty()) return Error("{}: empty tile program", job_.name);
  } else if (job_.mode == MapJob::Mode::kTranspose) {
    TileOp op;
    op.kind = TileOp::kTranspose;
    op.dtype = dtypes_[0];
    op.dst = {LocKind::kOut, 0, dtypes_[0], false};
    op.a = {LocKind::kIn, 0, dtypes_[0], false};
    prog_.ops.push_back(op);
  }
  // Enumerate tiles: dims before k singly, dim k in chunks, columns in chunks.
  std::vector<Tile> tiles;
  const int nviews = 1 + nin_;
  const int64_t C = dims_[m_ - 1];
  int64_t inner_rows = 1;
  for (int d = k_ + 1; d < m_ - 1; ++d) inner_rows *= dims_[d];
  std::vector<int64_t> idx(std::max(k_, 0), 0);
  int64_t outer = 1;
  for (int d = 0; d < k_; ++d) outer *= dims_[d];
  for (int64_t o = 0; o < outer; ++o) {
    std::vector<int64_t> off(nviews, 0);
    for (int d = 0; d < k_; ++d)
      for (int v = 0; v < nviews; ++v) off[v] += idx[d] * strides_[v][d];
    const int64_t kdim = k_ >= 0 ? dims_[k_] : 1;
    for (int64_t k0 = 0; k0 < kdim; k0 += chunk_) {
      for (int64_t c0 = 0; c0 < C; c0 += tc_) {
        Tile t;
        t.offsets = off;
        t.kcount = std::min(chunk_, kdim - k0);
        t.ccount = std::min(tc_, C - c0);
        t.rows = t.kcount * inner_rows;
        for (int v = 0; v < nviews; ++v)
          t.offsets[v] += (k_ >= 0 ? k0 * strides_[v][k_] : 0) + c0 * strides_[v][m_ - 1];
        tiles.push_back(std::move(t));
      }
    }
    for (int d = k_ - 1; d >= 0; --d) {
      if (++idx[d] < dims_[d]) break;
      idx[d] = 0;
    }
  }
  const int cores = em_.Cores();
  const int64_t n = static_cast<int64_t>(tiles.size());
  for (int c = 0; c < cores; ++c) {
    const int64_t lo = n * c / cores, hi = n * (c + 1) / cores;
    std::vector<Tile> mine(tiles.begin() + lo, tiles.begin() + hi);
    RETURN_IF_ERROR(EmitCore(c, mine));
  }
  return OkStatus();
}

}  // namespace

Status EmitMapJob(LoweringContext& ctx, const MapJob& job) {
  MapEmitter m(ctx, job);
  return m.Run();
}

}  // namespace xtpu::codegen
