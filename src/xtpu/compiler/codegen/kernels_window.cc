// Max and min pooling in one pass over the input.
//
// decompose turns reduce-window into a pad with the identity, one strided
// slice per window position and a chain of the reduction op, which fusion
// makes a loop fusion of A x B slice operands. Lowered as an elementwise
// loop, each operand is DMAed from HBM on its own: a 3x3 stride-2 max pool
// reads its input 9/4 times. Here the input rows of a band of output rows
// come into VMEM once, and the vector unit reduces them separably:
//
//   h[r][j] = op over b < B of x[r][j * s2 + b]     (B - 1 ops, whole band)
//   o[i][j] = op over a < A of h[i * s1 + a][j]     (A - 1 ops, whole band)
//
// Input rows are Lw = Wq * s2 pixels apart in VMEM (Wq output pixels per
// row, the last ones garbage and not stored), so both passes are single
// vpu.binary instructions with constant row strides. Maximum and minimum do
// not depend on the order they combine in (NaN propagates either way), so
// the result equals the slice chain's bit for bit; add is left to the loop.
#include <map>
#include <optional>
#include <set>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/mxu_gemm.h"

namespace xtpu::codegen {
namespace {

struct WindowPattern {
  const Instruction* src = nullptr;  // the tensor every operand slices
  isa::BinOp op = isa::BinOp::kMax;
  int64_t a = 0, b = 0, s1 = 1, s2 = 1;  // window rows, cols; strides (dims 1, 2)
};

std::optional<WindowPattern> MatchWindow(const Instruction& inst) {
  const Computation* comp = inst.to_apply;
  const int64_t n = static_cast<int64_t>(inst.operands.size());
  if (comp == nullptr || n < 4 || inst.shape.is_tuple || inst.shape.rank() != 4) return std::nullopt;
  std::optional<Opcode> opcode;
  std::map<const Instruction*, int> uses;
  for (const auto& up : comp->instructions()) {
    const Instruction* i = up.get();
    if (i->shape != inst.shape) return std::nullopt;
    if (i->opcode == Opcode::kParameter) continue;
    if (i->opcode != Opcode::kMaximum && i->opcode != Opcode::kMinimum) return std::nullopt;
    if (opcode && *opcode != i->opcode) return std::nullopt;
    opcode = i->opcode;
    for (const Instruction* o : i->operands) ++uses[o];
  }
  // A tree of one op over every parameter, each used once.
  for (const auto& up : comp->instructions())
    if (up.get() != comp->root() && uses[up.get()] != 1) return std::nullopt;
  if (!opcode || comp->root()->opcode != *opcode) return std::nullopt;
  WindowPattern w;
  w.op = *opcode == Opcode::kMaximum ? isa::BinOp::kMax : isa::BinOp::kMin;
  std::set<std::pair<int64_t, int64_t>> starts;
  for (const Instruction* o : inst.operands) {
    if (o->opcode != Opcode::kSlice || o->operands.size() != 1) return std::nullopt;
    const Instruction* s = o->operand(0);
    if (w.src && s != w.src) return std::nullopt;
    w.src = s;
    if (s->shape.rank() != 4 || s->shape.dtype != inst.shape.dtype) return std::nullopt;
    const std::vector<int64_t>&st = o->slice_starts, &li = o->slice_limits, &sd = o->slice_strides;
    if (st.size() != 4 || li.size() != 4 || sd.size() != 4 || st[0] != 0 || sd[0] != 1 || st[3] != 0 || sd[3] != 1 ||
        li[0] != s->shape.dims[0] || li[3] != s->shape.dims[3])
      return std::nullopt;
    if (starts.empty()) w.s1 = sd[1], w.s2 = sd[2];
    if (sd[1] != w.s1 || sd[2] != w.s2) return std::nullopt;
    starts.insert({st[1], st[2]});
  }
  // The starts are exactly {0..A-1} x {0..B-1}.
  w.a = starts.rbegin()->first + 1;
  for (auto [r, c] : starts) w.b = std::max(w.b, c + 1);
  if (static_cast<int64_t>(starts.size()) != n || w.a * w.b != n || w.a < 2 || w.b < 2) return std::nullopt;
  return w;
}

}  // namespace

StatusOr<bool> TryEmitWindowReduce(LoweringContext& ctx, const Instruction& inst, const View& out) {
  std::optional<WindowPattern> w = MatchWindow(inst);
  if (!w) return false;
  ProgramEmitter& em = ctx.em();
  ASSIGN_OR_RETURN(View src, ctx.ValueView(w->src));
  const DType dt = inst.shape.dtype;
  if (dt != DType::kF32 && dt != DType::kBF16) return false;
  const int64_t N = out.dims[0], OH = out.dims[1], OW = out.dims[2], C = out.dims[3];
  const int64_t esz = out.element_bytes();
  const int64_t win = (OW - 1) * w->s2 + w->b;      // input pixels a row needs
  const int64_t wq = mxu::CeilDiv(win, w->s2);           // h / o pixels per row
  const int64_t lw = wq * w->s2;                     // x pixels per row
  // VMEM per band of bo output rows: 2 x buffers, h, 2 o buffers.
  auto bytes = [&](int64_t bo) {
    const int64_t rin = (bo - 1) * w->s1 + w->a;
    return 2 * (rin * lw + w->b) * C * esz + rin * wq * C * esz + 2 * bo * wq * C * esz + 5 * 64;
  };
  const int64_t budget = em.VmemBytes() - 64 * 1024;
  int64_t bo = OH;
  while (bo > 1 && bytes(bo) > budget) bo = mxu::CeilDiv(bo, 2);
  if (bytes(bo) > budget) return false;  // (the elementwise loop then)
  struct Band {
    int64_t n, i0, rows;
  };
  std::vector<Band> bands;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < OH; i += bo) bands.push_back({n, i, std::min(bo, OH - i)});

  std::string op = "fusion(window: " + std::string(w->op == isa::BinOp::kMax ? "maximum" : "minimum") + " " +
                   std::to_string(w->a) + "x" + std::to_string(w->b) + ")";
  em.BeginKernel(inst.name, op);
  Status st = [&]() -> Status {
    const int cores = em.Cores();
    const int64_t nb = static_cast<int64_t>(bands.size());
    const int64_t rin_max = (bo - 1) * w->s1 + w->a;
    const int load_engine = 0, store_engine = em.DmaEngines() > 1 ? 1 : 0;
    for (int c = 0; c < cores; ++c) {
      const int64_t t0 = nb * c / cores, t1 = nb * (c + 1) / cores;
      if (t1 <= t0) continue;
      int64_t x[2], o[2], h;
      for (int s = 0; s < 2; ++s) {
        ASSIGN_OR_RETURN(x[s], em.AllocVmem(c, (rin_max * lw + w->b) * C * esz));
        ASSIGN_OR_RETURN(o[s], em.AllocVmem(c, bo * wq * C * esz));
      }
      ASSIGN_OR_RETURN(h, em.AllocVmem(c, rin_max * wq * C * esz));
      ASSIGN_OR_RETURN(int x_loaded, em.AllocSem(c));
      ASSIGN_OR_RETURN(int x_free, em.AllocSem(c));
      ASSIGN_OR_RETURN(int o_ready, em.AllocSem(c));
      ASSIGN_OR_RETURN(int o_free, em.AllocSem(c));
      auto load = [&](int64_t t) {
        const Band& b = bands[t];
        const int64_t rin = (b.rows - 1) * w->s1 + w->a;
        View v = src.Slice({b.n, b.i0 * w->s1, 0, 0}, {b.n + 1, b.i0 * w->s1 + rin, win, C}, {1, 1, 1, 1});
        em.DmaStrided(c, load_engine, true, v, x[(t - t0) % 2], {0, lw * C * esz, C * esz, esz},
                      {.wait = t - t0 >= 2 ? x_free : -1, .signal = x_loaded});
      };
      const int64_t vop = static_cast<int64_t>(w->op), vdt = static_cast<int64_t>(dt);
      load(t0);
      if (t0 + 1 < t1) load(t0 + 1);
      for (int64_t t = t0; t < t1; ++t) {
        const Band& b = bands[t];
        const int64_t k = t - t0, rin = (b.rows - 1) * w->s1 + w->a;
        const int64_t xb = x[k % 2], ob = o[k % 2];
        // Horizontal: h = op over b of x[.][j * s2 + b], all rin x wq pixels.
        for (int64_t j = 1; j < w->b; ++j) {
          Sync sy;
          if (j == 1) sy.wait = x_loaded;
          if (j + 1 == w->b && t + 2 < t1) sy.signal = x_free;
          em.Emit(c, isa::Opcode::kVpuBinary, 0,
                  {{"op", vop}, {"dtype", vdt}, {"dst", h}, {"a", j == 1 ? xb : h}, {"b", xb + j * C * esz},
                   {"rows", rin * wq}, {"cols", C}, {"ds", C * esz}, {"as", j == 1 ? w->s2 * C * esz : C * esz},
                   {"bs", w->s2 * C * esz}},
                  sy);
        }
        // Vertical: o = op over a of h[i * s1 + a], rows of wq pixels.
        for (int64_t i = 1; i < w->a; ++i) {
          Sync sy;
          if (i == 1 && k >= 2) sy.wait = o_free;
          if (i + 1 == w->a) sy.signal = o_ready;
          em.Emit(c, isa::Opcode::kVpuBinary, 0,
                  {{"op", vop}, {"dtype", vdt}, {"dst", ob}, {"a", i == 1 ? h : ob}, {"b", h + i * wq * C * esz},
                   {"rows", b.rows}, {"cols", wq * C}, {"ds", wq * C * esz},
                   {"as", i == 1 ? w->s1 * wq * C * esz : wq * C * esz}, {"bs", w->s1 * wq * C * esz}},
                  sy);
        }
        if (t + 2 < t1) load(t + 2);
        View dst = out.Slice({b.n, b.i0, 0, 0}, {b.n + 1, b.i0 + b.rows, OW, C}, {1, 1, 1, 1});
        em.DmaStrided(c, store_engine, false, dst, ob, {0, wq * C * esz, C * esz, esz},
                      {.wait = o_ready, .signal = t + 2 < t1 ? o_free : -1});
      }
    }
    return OkStatus();
  }();
  Status e = em.EndKernel();
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(e);
  return true;
}

}  // namespace xtpu::codegen
