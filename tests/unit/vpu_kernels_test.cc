// Vector-unit, cross-lane and DMA kernels (compiler/codegen/kernels_*.cc):
// small chip-form modules are lowered with LowerModule, run on the
// functional simulator and compared with the reference evaluator — bit for
// bit where the chip computes the same f32/s32 operations (docs/compiler.md,
// "Vector-unit kernels"), else within the stated tolerance. Shapes are odd
// (not multiples of 8 or 128) and every test runs on v4 (2 cores) and v5e.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "chip_run.h"
#include "xtpu/chip/chip.h"
#include "xtpu/compiler/codegen/lowering.h"
#include "xtpu/compiler/pass.h"
#include "xtpu/ir/printer.h"
#include "xtpu/ir/evaluator.h"
#include "xtpu/ir/parser.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/sim/timing/timing_model.h"
#include "xtpu/support/check.h"

namespace xtpu {
namespace {

using codegen::LowerModule;
using codegen::LoweredModel;

ChipConfig Chip(const std::string& name) {
  StatusOr<ChipConfig> c = LoadChip(name);
  XTPU_CHECK(c.ok());
  return *c;
}

// Random inputs: floats in [lo, hi), integers in a small range, pred 0/1.
Literal RandomLiteral(const Shape& s, std::mt19937& rng, double lo, double hi) {
  Literal l(s);
  std::uniform_real_distribution<double> f(lo, hi);
  for (int64_t i = 0; i < l.num_elements(); ++i) {
    switch (s.dtype) {
      case DType::kF32:
      case DType::kBF16: l.SetFromDouble(i, f(rng)); break;
      case DType::kPred: l.SetFromInt64(i, rng() % 2); break;
      case DType::kS8: l.SetFromInt64(i, static_cast<int8_t>(rng())); break;
      default: l.SetFromInt64(i, static_cast<int64_t>(std::floor(f(rng) * 40))); break;
    }
  }
  return l;
}

// The literal as the chip stores it (pred as s32 words).
Literal ToChip(const Literal& l, DType chip) {
  if (l.dtype() == chip) return l;
  Literal c(Shape(chip, l.shape().dims));
  for (int64_t i = 0; i < l.num_elements(); ++i) c.SetFromInt64(i, l.GetAsInt64(i));
  return c;
}

struct Tolerance {
  double rel = 0;  // 0: bit-exact (NaN matches any NaN)
};

// Compares element i of chip vs reference; returns "" or a description.
std::string Mismatch(const Literal& chip, const Literal& ref, int64_t i, Tolerance tol) {
  if (IsFloat(ref.dtype())) {
    double a = chip.GetAsDouble(i), b = ref.GetAsDouble(i);
    if (std::isnan(a) && std::isnan(b)) return "";
    if (tol.rel == 0) {
      if (a == b && std::signbit(a) == std::signbit(b)) return "";
    } else if (a == b || std::fabs(a - b) <= tol.rel * std::max(std::fabs(b), 1e-30)) {
      return "";
    }
    return fmt::format("element {}: chip {} reference {}", i, a, b);
  }
  int64_t a = chip.GetAsInt64(i), b = ref.GetAsInt64(i);
  return a == b ? "" : fmt::format("element {}: chip {} reference {}", i, a, b);
}

// Lowers `text` for `chip_name`, runs it, compares every output with the
// evaluator. `lo, hi`: float input range.
void RunAndCompare(const std::string& text, const std::string& chip_name, Tolerance tol = {}, double lo = -3,
                   double hi = 3, uint32_t seed = 1, const std::vector<Literal>* given = nullptr) {
  SCOPED_TRACE(chip_name);
  StatusOr<std::unique_ptr<Module>> m = ParseModule(text, "test");
  ASSERT_TRUE(m.ok()) << m.status().message();
  ChipConfig chip = Chip(chip_name);
  StatusOr<LoweredModel> lowered = LowerModule(**m, chip, {});
  ASSERT_TRUE(lowered.ok()) << lowered.status().message();
  std::mt19937 rng(seed);
  std::vector<Literal> args;
  const std::vector<const Instruction*> inputs = (*m)->Inputs();
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (given && i < given->size()) args.push_back((*given)[i]);
    else args.push_back(RandomLiteral(inputs[i]->shape, rng, lo, hi));
  }
  StatusOr<std::vector<Literal>> ref = Evaluate(**m, args);
  ASSERT_TRUE(ref.ok()) << ref.status().message();
  sim::Simulator s(chip, lowered->program);
  if (!lowered->constants.empty()) {
    Literal c(Shape(DType::kS8, {static_cast<int64_t>(lowered->constants.size())}), lowered->constants);
    ASSERT_TRUE(s.SetBuffer("constants", c).ok());
  }
  ASSERT_EQ(lowered->inputs.size(), args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    Status st = s.SetBuffer(lowered->inputs[i].buffer, ToChip(args[i], lowered->inputs[i].shape.dtype));
    ASSERT_TRUE(st.ok()) << st.message();
  }
  Status run = s.Run();
  ASSERT_TRUE(run.ok()) << run.message();
  ASSERT_EQ(lowered->outputs.size(), ref->size());
  for (size_t o = 0; o < ref->size(); ++o) {
    StatusOr<Literal> got = s.GetBuffer(lowered->outputs[o].buffer);
    ASSERT_TRUE(got.ok()) << got.status().message();
    const Literal& r = (*ref)[o];
    ASSERT_EQ(got->num_elements(), r.num_elements());
    int bad = 0;
    for (int64_t i = 0; i < r.num_elements() && bad < 5; ++i) {
      std::string mm = Mismatch(*got, r, i, tol);
      if (!mm.empty()) {
        ADD_FAILURE() << "output " << o << " " << mm;
        ++bad;
      }
    }
  }
}

void RunBoth(const std::string& text, Tolerance tol = {}, double lo = -3, double hi = 3) {
  RunAndCompare(text, "v4", tol, lo, hi);
  RunAndCompare(text, "v5e", tol, lo, hi);
}

std::string Unary(const std::string& op, const std::string& t, const std::string& dims,
                  const std::string& rt = "") {
  const std::string r = rt.empty() ? t : rt;
  return fmt::format(
      "HloModule m\n\nENTRY main {{\n  x = {0}[{1}] parameter(0)\n  y = {2}[{1}] {3}(x)\n"
      "  ROOT out = ({2}[{1}]) tuple(y)\n}}\n",
      t, dims, r, op);
}

std::string Binary(const std::string& op, const std::string& t, const std::string& dims,
                   const std::string& attrs = "", const std::string& rt = "") {
  const std::string r = rt.empty() ? t : rt;
  return fmt::format(
      "HloModule m\n\nENTRY main {{\n  x = {0}[{1}] parameter(0)\n  z = {0}[{1}] parameter(1)\n"
      "  y = {2}[{1}] {3}(x, z){4}\n  ROOT out = ({2}[{1}]) tuple(y)\n}}\n",
      t, dims, r, op, attrs);
}

TEST(VpuKernels, F32UnaryOpsMatchEvaluatorBits) {
  for (const char* op : {"abs", "negate", "exponential", "tanh", "logistic", "erf", "floor", "ceil",
                         "round-nearest-even", "round-nearest-afz", "sign", "cosine", "sine", "copy"}) {
    SCOPED_TRACE(op);
    RunBoth(Unary(op, "f32", "5,131"));
  }
  // log/sqrt/rsqrt also on negative inputs (NaN on both sides).
  for (const char* op : {"log", "sqrt", "rsqrt"}) {
    SCOPED_TRACE(op);
    RunBoth(Unary(op, "f32", "3,67"), {}, -1, 9);
  }
}

TEST(VpuKernels, F32BinaryOpsMatchEvaluatorBits) {
  for (const char* op : {"add", "subtract", "multiply", "divide", "maximum", "minimum", "power", "remainder",
                         "atan2"}) {
    SCOPED_TRACE(op);
    RunBoth(Binary(op, "f32", "7,45"));
  }
}

TEST(VpuKernels, Bf16OpsRoundLikeEvaluator) {
  for (const char* op : {"add", "multiply", "divide", "maximum"}) {
    SCOPED_TRACE(op);
    RunAndCompare(Binary(op, "bf16", "9,33"), "v4");
  }
  for (const char* op : {"exponential", "round-nearest-afz", "negate"}) {
    SCOPED_TRACE(op);
    RunAndCompare(Unary(op, "bf16", "9,33"), "v5e");
  }
}

TEST(VpuKernels, IntegerAndPredOps) {
  for (const char* op : {"add", "subtract", "multiply", "maximum", "minimum", "and", "or", "xor", "remainder"}) {
    SCOPED_TRACE(op);
    RunBoth(Binary(op, "s32", "6,29"));
  }
  for (const char* op : {"abs", "negate", "sign", "not"}) {
    SCOPED_TRACE(op);
    RunBoth(Unary(op, "s32", "6,29"));
  }
  // s8 arithmetic wraps like the IR (the chip computes in s32).
  for (const char* op : {"add", "multiply", "subtract"}) {
    SCOPED_TRACE(op);
    RunAndCompare(Binary(op, "s8", "5,77"), "v4");
  }
  for (const char* op : {"and", "or", "xor"}) {
    SCOPED_TRACE(op);
    RunAndCompare(Binary(op, "pred", "5,77"), "v5e");
  }
  RunAndCompare(Unary("not", "pred", "5,77"), "v4");
}

TEST(VpuKernels, CompareAllDirections) {
  for (const char* dir : {"EQ", "NE", "LT", "LE", "GT", "GE"}) {
    SCOPED_TRACE(dir);
    for (const char* t : {"f32", "s32", "bf16"}) {
      SCOPED_TRACE(t);
      RunAndCompare(Binary("compare", t, "4,51", fmt::format(", direction={}", dir), "pred"), "v4");
    }
  }
}

TEST(VpuKernels, SelectClampConvert) {
  const std::string select =
      "HloModule m\n\nENTRY main {\n  p = pred[7,40] parameter(0)\n  a = f32[7,40] parameter(1)\n"
      "  b = f32[7,40] parameter(2)\n  lo = f32[] constant(-1.5)\n  hi = f32[] parameter(3)\n"
      "  s = f32[7,40] select(p, a, b)\n  c = f32[7,40] clamp(lo, s, hi)\n"
      "  ROOT out = (f32[7,40], f32[7,40]) tuple(s, c)\n}\n";
  RunBoth(select);
  const std::vector<std::pair<std::string, std::string>> conversions = {
      {"f32", "bf16"}, {"bf16", "f32"}, {"f32", "s32"}, {"s32", "f32"}, {"s8", "s32"}, {"s32", "s8"},
      {"f32", "s8"},   {"f32", "pred"}, {"pred", "f32"}, {"s32", "pred"}, {"bf16", "s32"}, {"pred", "s32"}};
  for (const auto& [from, to] : conversions) {
    SCOPED_TRACE(from + "->" + to);
    // Wide float range: saturation and rounding toward zero of the IR.
    RunAndCompare(Unary("convert", from, "3,70", to), "v4", {}, -300, 300);
  }
  // Small ints to bf16 are exact: one rounding either way.
  RunAndCompare(Unary("convert", "s32", "3,70", "bf16"), "v5e");
}

TEST(VpuKernels, LoopFusionWithBroadcastsAndConstants) {
  // y = max((x - mean_row) * gamma + 0.5, 0) / 3 with gamma broadcast along the
  // last dim, a per-row scalar broadcast along the first, and constants on
  // both sides of non-commutative ops.
  const std::string text = R"(HloModule m

fused {
  p0 = f32[13,300] parameter(0)
  p1 = f32[300] parameter(1)
  p2 = f32[13] parameter(2)
  g = f32[13,300] broadcast(p1), dimensions={1}
  mu = f32[13,300] broadcast(p2), dimensions={0}
  half = f32[] constant(0.5)
  three = f32[] constant(3)
  zero = f32[] constant(0)
  one = f32[] constant(1)
  hb = f32[13,300] broadcast(half), dimensions={}
  tb = f32[13,300] broadcast(three), dimensions={}
  zb = f32[13,300] broadcast(zero), dimensions={}
  ob = f32[13,300] broadcast(one), dimensions={}
  d = f32[13,300] subtract(p0, mu)
  m = f32[13,300] multiply(d, g)
  a = f32[13,300] add(m, hb)
  r = f32[13,300] maximum(a, zb)
  q = f32[13,300] divide(r, tb)
  inv = f32[13,300] divide(ob, g)
  gt = pred[13,300] compare(q, inv), direction=GT
  ROOT s = f32[13,300] select(gt, q, inv)
}

ENTRY main {
  x = f32[13,300] parameter(0)
  gamma = f32[300] parameter(1)
  mean = f32[13] parameter(2)
  y = f32[13,300] fusion(x, gamma, mean), kind=loop, calls=fused
  ROOT out = (f32[13,300]) tuple(y)
}
)";
  RunBoth(text);
}

TEST(VpuKernels, ReduceLastMiddleAllAndStridedDims) {
  const std::string text = R"(HloModule m

add {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT r = f32[] add(a, b)
}

max {
  a.1 = f32[] parameter(0)
  b.1 = f32[] parameter(1)
  ROOT r.1 = f32[] maximum(a.1, b.1)
}

ENTRY main {
  x = f32[5,37,131] parameter(0)
  zero = f32[] constant(0)
  ninf = f32[] constant(-inf)
  last = f32[5,37] reduce(x, zero), dimensions={2}, to_apply=add
  middle = f32[5,131] reduce(x, zero), dimensions={1}, to_apply=add
  all = f32[] reduce(x, zero), dimensions={0,1,2}, to_apply=add
  outer = f32[37] reduce(x, ninf), dimensions={0,2}, to_apply=max
  first = f32[37,131] reduce(x, ninf), dimensions={0}, to_apply=max
  ROOT out = (f32[5,37], f32[5,131], f32[], f32[37], f32[37,131]) tuple(last, middle, all, outer, first)
}
)";
  // The chip folds in the evaluator's order (init first, then increasing
  // index), so even the f32 sums match bit for bit.
  RunBoth(text);
}

TEST(VpuKernels, ReduceS32AndNonzeroInit) {
  const std::string text = R"(HloModule m

add {
  a = s32[] parameter(0)
  b = s32[] parameter(1)
  ROOT r = s32[] add(a, b)
}

addf {
  a.1 = f32[] parameter(0)
  b.1 = f32[] parameter(1)
  ROOT r.1 = f32[] add(a.1, b.1)
}

ENTRY main {
  x = s32[9,70] parameter(0)
  y = f32[9,70] parameter(1)
  seven = s32[] constant(7)
  init = f32[] parameter(2)
  sx = s32[70] reduce(x, seven), dimensions={0}, to_apply=add
  sy = f32[9] reduce(y, init), dimensions={1}, to_apply=addf
  ROOT out = (s32[70], f32[9]) tuple(sx, sy)
}
)";
  RunBoth(text);
}

TEST(VpuKernels, ReduceInChunksKeepsTheEvaluatorsOrder) {
  // Rows longer than one tile (lanes, 2 chunks) and columns taller than one
  // tile (rows, 3 chunks): the running value carries over between chunks.
  const std::string text = R"(HloModule m

add {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT r = f32[] add(a, b)
}

ENTRY main {
  x = f32[3,270001] parameter(0)
  y = f32[601,1000] parameter(1)
  init = f32[] constant(0.25)
  sx = f32[3] reduce(x, init), dimensions={1}, to_apply=add
  sy = f32[1000] reduce(y, init), dimensions={0}, to_apply=add
  ROOT out = (f32[3], f32[1000]) tuple(sx, sy)
}
)";
  RunAndCompare(text, "v4");
}

TEST(VpuKernels, ReduceLanesManyBlocksFourBuffersTwoXlus) {
  // Whole rows per tile: blocks run four buffers deep, alternating between
  // the two XLUs (each slot's semaphores on one XLU); dozens of blocks per
  // core wrap around the buffers several times. Still bit-exact.
  const std::string text = R"(HloModule m

add {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT r = f32[] add(a, b)
}

max {
  a.1 = bf16[] parameter(0)
  b.1 = bf16[] parameter(1)
  ROOT r.1 = bf16[] maximum(a.1, b.1)
}

ENTRY main {
  x = f32[20000,300] parameter(0)
  y = bf16[6000,200] parameter(1)
  init = f32[] constant(0.25)
  ninf = bf16[] constant(-inf)
  sx = f32[20000] reduce(x, init), dimensions={1}, to_apply=add
  my = bf16[6000] reduce(y, ninf), dimensions={1}, to_apply=max
  ROOT out = (f32[20000], bf16[6000]) tuple(sx, my)
}
)";
  RunAndCompare(text, "v4");
  RunAndCompare(text, "v5e");
}

TEST(VpuKernels, ReduceLanesOverlapsLoadsAndXlus) {
  // Attention's softmax max over [384 x 128, 128] bf16: with two buffers on
  // one XLU each load waited for the previous reduce (2.6x the HBM bound);
  // four buffers over two XLUs overlap them.
  const std::string text = R"(HloModule m

max {
  a = bf16[] parameter(0)
  b = bf16[] parameter(1)
  ROOT r = bf16[] maximum(a, b)
}

ENTRY main {
  x = bf16[384,128,128] parameter(0)
  ninf = bf16[] constant(-inf)
  m = bf16[384,128] reduce(x, ninf), dimensions={2}, to_apply=max
  ROOT out = (bf16[384,128]) tuple(m)
}
)";
  auto module = ParseModule(text);
  ASSERT_TRUE(module.ok()) << module.status().message();
  ChipConfig chip = Chip("v4");
  auto lowered = codegen::LowerModule(**module, chip, {});
  ASSERT_TRUE(lowered.ok()) << lowered.status().message();
  sim::DispatchLog log;
  sim::Simulator s(chip, lowered->program, {.dispatch_log = &log, .timing_only = true});
  ASSERT_TRUE(s.Run().ok());
  auto t = sim::timing::RunTiming(chip, log, {.record_instructions = false});
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_LT(t->stats.cycles, 1.8 * t->stats.roofline_cycles)
      << t->stats.cycles << " cycles, roofline " << t->stats.roofline_cycles;
}

// ---- fusion(kind=row) (kernels_row.cc) ----

// Layer normalization then softmax over the last dim of x = [A, B, C]; with
// `transposed` x is a transpose of a [B, A, C] parameter (the row dims of
// the tiles are then not contiguous). Returns the module after the fusion
// pass (chip form).
std::string RowModuleText(const char* t, int64_t a, int64_t b, int64_t c, bool transposed) {
  std::string x = transposed ? fmt::format("  y = {0}[{2},{1},{3}] parameter(0)\n  x = {0}[{1},{2},{3}] transpose(y), "
                                           "dimensions={{1,0,2}}\n",
                                           t, a, b, c)
                             : fmt::format("  x = {}[{},{},{}] parameter(0)\n", t, a, b, c);
  std::string text = fmt::format(R"(HloModule rows

add.1 {{
  p = {0}[] parameter(0)
  q = {0}[] parameter(1)
  ROOT r = {0}[] add(p, q)
}}

max.1 {{
  p.1 = {0}[] parameter(0)
  q.1 = {0}[] parameter(1)
  ROOT r.1 = {0}[] maximum(p.1, q.1)
}}

ENTRY main {{
{4}  zero = {0}[] constant(0)
  sum = {0}[{1},{2}] reduce(x, zero), dimensions={{2}}, to_apply=add.1
  k = {0}[] constant({5})
  ks = {0}[{1},{2}] broadcast(k), dimensions={{}}
  mean = {0}[{1},{2}] multiply(sum, ks)
  mean.b = {0}[{1},{2},{3}] broadcast(mean), dimensions={{0,1}}
  c = {0}[{1},{2},{3}] subtract(x, mean.b)
  sq = {0}[{1},{2},{3}] multiply(c, c)
  var.sum = {0}[{1},{2}] reduce(sq, zero), dimensions={{2}}, to_apply=add.1
  var = {0}[{1},{2}] multiply(var.sum, ks)
  eps = {0}[] constant(1e-05)
  epss = {0}[{1},{2}] broadcast(eps), dimensions={{}}
  var.eps = {0}[{1},{2}] add(var, epss)
  inv = {0}[{1},{2}] rsqrt(var.eps)
  inv.b = {0}[{1},{2},{3}] broadcast(inv), dimensions={{0,1}}
  norm = {0}[{1},{2},{3}] multiply(c, inv.b)
  gamma = {0}[{3}] parameter(1)
  gamma.b = {0}[{1},{2},{3}] broadcast(gamma), dimensions={{2}}
  scaled = {0}[{1},{2},{3}] multiply(norm, gamma.b)
  beta = {0}[{3}] parameter(2)
  beta.b = {0}[{1},{2},{3}] broadcast(beta), dimensions={{2}}
  ln = {0}[{1},{2},{3}] add(scaled, beta.b)
  ninf = {0}[] constant(-inf)
  mx = {0}[{1},{2}] reduce(ln, ninf), dimensions={{2}}, to_apply=max.1
  mx.b = {0}[{1},{2},{3}] broadcast(mx), dimensions={{0,1}}
  shifted = {0}[{1},{2},{3}] subtract(mx.b, ln)
  e = {0}[{1},{2},{3}] exponential(shifted)
  s = {0}[{1},{2}] reduce(e, zero), dimensions={{2}}, to_apply=add.1
  s.b = {0}[{1},{2},{3}] broadcast(s), dimensions={{0,1}}
  sm = {0}[{1},{2},{3}] divide(e, s.b)
  ROOT out = ({0}[{1},{2},{3}]) tuple(sm)
}}
)",
                                 t, a, b, c, x, 1.0 / static_cast<double>(c));
  return text;
}

// The module after the fusion pass (chip form).
std::string FusedText(const std::string& text) {
  auto m = ParseModule(text, "test");
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return "";
  compiler::PassManager pm;
  EXPECT_TRUE(pm.AddByName("fusion").ok());
  auto r = pm.Run(**m);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return Print(**m);
}

std::string RowFusedModule(const char* t, int64_t a, int64_t b, int64_t c, bool transposed) {
  return FusedText(RowModuleText(t, a, b, c, transposed));
}

// The outputs of `text` run on the simulated chip with `args`.
std::vector<Literal> RunOnChip(const std::string& text, const std::string& chip_name, const std::vector<Literal>& args) {
  std::vector<Literal> outs;
  auto m = ParseModule(text, "test");
  EXPECT_TRUE(m.ok()) << m.status().message();
  if (!m.ok()) return outs;
  ChipConfig chip = Chip(chip_name);
  auto lowered = LowerModule(**m, chip, {});
  EXPECT_TRUE(lowered.ok()) << lowered.status().message();
  if (!lowered.ok()) return outs;
  std::vector<Literal> chip_args;
  for (size_t i = 0; i < args.size(); ++i) chip_args.push_back(ToChip(args[i], lowered->inputs[i].shape.dtype));
  return testing::RunLowered(chip, *lowered, chip_args);
}

// The ops of the kernels `text` lowers to on `chip_name`.
std::vector<std::string> LoweredOps(const std::string& text, const std::string& chip_name) {
  std::vector<std::string> ops;
  auto m = ParseModule(text, "test");
  if (!m.ok()) return ops;
  auto lowered = LowerModule(**m, Chip(chip_name), {});
  EXPECT_TRUE(lowered.ok()) << lowered.status().message();
  if (lowered.ok())
    for (const auto& k : lowered->kernels) ops.push_back(k.op);
  return ops;
}

TEST(VpuKernels, RowFusionLayerNormSoftmax) {
  // One kernel; each op rounds as the evaluator's. Rows of 100 values (one
  // vector) fold left to right: f32 values match the evaluator bit for bit.
  // Rows of 300 values (not a multiple of 128) fold their 128-column blocks
  // on the VPU first (reassociated f32 sums: within 1e-5). A first operand
  // broadcast of subtract (max - ln) runs as -(ln - max). Tiles of a few rows
  // each, on two cores (v4) and one (v5e); then the same with the row dims
  // transposed in HBM. (More shapes: row_fusion_test.cc.)
  for (bool transposed : {false, true}) {
    for (int64_t c : {100, 300}) {
      SCOPED_TRACE(fmt::format("transposed {} C {}", transposed, c));
      const std::string m = RowFusedModule("f32", 6, 50, c, transposed);
      const std::vector<std::string> ops = LoweredOps(m, "v4");
      ASSERT_EQ(ops.size(), 1u) << m;
      EXPECT_EQ(ops[0].rfind("fusion(row: ", 0), 0u) << ops[0];
      const Tolerance tol{c <= 128 ? 0.0 : 1e-5};
      RunAndCompare(m, "v4", tol, -3, 3);
      RunAndCompare(m, "v5e", tol, -3, 3);
    }
  }
}

TEST(VpuKernels, RowFusionStoresInItsTransposesLayout) {
  // A row fusion read only by a transpose that is reshaped (layer norm's
  // output going to the next attention block as [S, B, C] -> [S*B, C]): the
  // fusion writes its tiles through the transposed layout, so neither the
  // transpose nor the reshape is a copy kernel.
  std::string raw = RowModuleText("f32", 6, 50, 300, false);
  const std::string root = "  ROOT out = (f32[6,50,300]) tuple(sm)\n";
  ASSERT_NE(raw.find(root), std::string::npos);
  raw.replace(raw.find(root), root.size(),
              "  t = f32[50,6,300] transpose(sm), dimensions={1,0,2}\n  rs = f32[300,300] reshape(t)\n"
              "  n = f32[300,300] negate(rs)\n  ROOT out = (f32[300,300]) tuple(n)\n");
  const std::string m = FusedText(raw);
  const std::vector<std::string> ops = LoweredOps(m, "v4");
  ASSERT_EQ(ops.size(), 2u) << m;
  EXPECT_EQ(ops[0].rfind("fusion(row: ", 0), 0u) << ops[0];
  EXPECT_EQ(ops[1], "negate");
  RunAndCompare(m, "v4", {1e-5});  // rows of 300: reassociated sums
}

TEST(VpuKernels, RowFusionBf16MatchesSeparateKernels) {
  // bf16: every op rounds to bf16 as in the evaluator, but reductions add in
  // f32 and round once (the evaluator rounds after every step), as the
  // separate reduce kernels do: with rows of one vector (128 values, folded
  // left to right on the XLU) the fused kernel gives the unfused chip
  // program's bits. (Longer rows: row_fusion_test.cc.)
  const std::string raw = RowModuleText("bf16", 4, 128, 128, false);
  const std::string fused = FusedText(raw);
  EXPECT_NE(fused.find("kind=row"), std::string::npos);
  auto m = ParseModule(raw, "test");
  ASSERT_TRUE(m.ok());
  std::mt19937 rng(3);
  std::vector<Literal> args;
  for (const Instruction* p : (*m)->Inputs()) args.push_back(RandomLiteral(p->shape, rng, -3, 3));
  std::vector<Literal> a = RunOnChip(raw, "v4", args), b = RunOnChip(fused, "v4", args);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  ASSERT_EQ(a[0].num_elements(), b[0].num_elements());
  EXPECT_EQ(a[0].bytes(), b[0].bytes());
  EXPECT_GT(LoweredOps(raw, "v4").size(), 10u);
  EXPECT_EQ(LoweredOps(fused, "v4").size(), 1u);
}

TEST(VpuKernels, StridedOperandViewsAndLongRows) {
  // Operands that are views: a broadcast bias, a reversed slice, a strided
  // slice; and rows too long for one tile (column chunks).
  const std::string text = R"(HloModule m

ENTRY main {
  x = f32[6,2001] parameter(0)
  b = f32[2001] parameter(1)
  w = f32[12,4003] parameter(2)
  bb = f32[6,2001] broadcast(b), dimensions={1}
  ws = f32[6,2001] slice(w), slice={[0:12:2], [1:4003:2]}
  wr = f32[6,2001] reverse(ws), dimensions={0,1}
  s = f32[6,2001] add(x, bb)
  t = f32[6,2001] multiply(s, wr)
  ROOT out = (f32[6,2001]) tuple(t)
}
)";
  RunBoth(text);
  RunAndCompare(Binary("subtract", "f32", "2,300007"), "v4");
}

TEST(VpuKernels, TransposeCopies) {
  const std::string t2 =
      "HloModule m\n\nENTRY main {\n  x = f32[37,300] parameter(0)\n"
      "  y = f32[300,37] transpose(x), dimensions={1,0}\n  ROOT out = (f32[300,37]) tuple(y)\n}\n";
  RunBoth(t2);
  const std::string nchw =
      "HloModule m\n\nENTRY main {\n  x = f32[2,19,9,11] parameter(0)\n"
      "  nhwc = f32[2,9,11,19] transpose(x), dimensions={0,2,3,1}\n"
      "  back = f32[2,19,9,11] transpose(nhwc), dimensions={0,3,1,2}\n"
      "  ROOT out = (f32[2,9,11,19], f32[2,19,9,11]) tuple(nhwc, back)\n}\n";
  RunBoth(nchw);
  // bf16 and a small transpose (strided DMA path).
  const std::string small =
      "HloModule m\n\nENTRY main {\n  x = bf16[3,5] parameter(0)\n"
      "  y = bf16[5,3] transpose(x), dimensions={1,0}\n  ROOT out = (bf16[5,3]) tuple(y)\n}\n";
  RunBoth(small);
}

TEST(VpuKernels, ConcatenateAndPad) {
  const std::string text = R"(HloModule m

ENTRY main {
  a = f32[3,70] parameter(0)
  b = f32[5,70] parameter(1)
  c = f32[8,33] parameter(2)
  v = f32[] parameter(3)
  cat = f32[8,70] concatenate(a, b), dimensions={0}
  cat2 = f32[8,103] concatenate(cat, c), dimensions={1}
  zero = f32[] constant(0)
  pad = f32[12,75] pad(a, zero), padding=2_7_0x1_4_0
  crop = f32[2,66] pad(b, v), padding=-1_-2_0x-3_-1_0
  mixed = f32[10,65] pad(c, v), padding=-1_3_0x2_-2_1
  ROOT out = (f32[8,103], f32[12,75], f32[2,66], f32[10,65]) tuple(cat2, pad, crop, mixed)
}
)";
  RunBoth(text);
}

TEST(VpuKernels, GatherClampsIndicesLikeEvaluator) {
  const std::string text = R"(HloModule m

ENTRY main {
  table = f32[11,37] parameter(0)
  ids = s32[3,7] parameter(1)
  g = f32[3,7,37] gather(table, ids), offset_dims={2}, collapsed_slice_dims={0}, start_index_map={0}, index_vector_dim=2, slice_sizes={1,37}
  ROOT out = (f32[3,7,37]) tuple(g)
}
)";
  std::mt19937 rng(5);
  std::vector<Literal> args;
  args.push_back(RandomLiteral(Shape(DType::kF32, {11, 37}), rng, -1, 1));
  Literal ids(Shape(DType::kS32, {3, 7}));
  for (int64_t i = 0; i < 21; ++i) ids.SetFromInt64(i, static_cast<int64_t>(i % 15) - 2);  // -2 .. 12
  args.push_back(ids);
  RunAndCompare(text, "v4", {}, -1, 1, 1, &args);
  RunAndCompare(text, "v5e", {}, -1, 1, 1, &args);
}

TEST(VpuKernels, LargeElementwiseSpansManyTiles) {
  // More than one tile per core: exercises double buffering and the
  // semaphore protocol (the simulator reports deadlocks and leftovers).
  RunBoth(Binary("add", "f32", "301,1029"));
}

// Max (and min) pooling as decompose and fusion leave it: a pad with the
// identity, one strided slice per window position, a loop fusion of the op.
// Lowered as one pass over the input (kernels_window.cc): bit-exact with the
// evaluator, including the -inf border and odd sizes (garbage columns).
std::string PoolModule(const std::string& t, int64_t n, int64_t h, int64_t w, int64_t c, int64_t k, int64_t s,
                       int64_t pad, const std::string& op) {
  const int64_t hp = h + 2 * pad, wp = w + 2 * pad, oh = (hp - k) / s + 1, ow = (wp - k) / s + 1;
  const std::string o = fmt::format("{}[{},{},{},{}]", t, n, oh, ow, c);
  std::string fused = "fused {\n", entry = "ENTRY main {\n";
  entry += fmt::format("  x = {}[{},{},{},{}] parameter(0)\n  v = {}[] constant({})\n", t, n, h, w, c, t,
                       op == "maximum" ? "-inf" : "inf");
  entry += fmt::format("  p = {}[{},{},{},{}] pad(x, v), padding=0_0_0x{}_{}_0x{}_{}_0x0_0_0\n", t, n, hp, wp, c, pad, pad, pad, pad);
  std::string args, prev;
  for (int64_t a = 0; a < k; ++a)
    for (int64_t b = 0; b < k; ++b) {
      const int64_t i = a * k + b;
      entry += fmt::format("  s{} = {} slice(p), slice={{[0:{}:1], [{}:{}:{}], [{}:{}:{}], [0:{}:1]}}\n", i, o, n, a,
                           a + (oh - 1) * s + 1, s, b, b + (ow - 1) * s + 1, s, c);
      fused += fmt::format("  q{} = {} parameter({})\n", i, o, i);
      const std::string lhs = i == 1 ? "q0" : "m" + std::to_string(i - 1);
      if (i >= 1)
        fused += fmt::format("  {}m{} = {} {}({}, q{})\n", i + 1 == k * k ? "ROOT " : "", i, o, op, lhs, i);
      args += (i ? ", s" : "s") + std::to_string(i);
    }
  fused += "}\n\n";
  entry += fmt::format("  f = {} fusion({}), kind=loop, calls=fused\n  ROOT out = ({}) tuple(f)\n}}\n", o, args, o);
  return "HloModule pool\n\n" + fused + entry;
}

TEST(VpuKernels, PoolingWindowInOnePass) {
  for (const auto& [t, n, h, w, c, k, s, pad, op] :
       std::vector<std::tuple<std::string, int, int, int, int, int, int, int, std::string>>{
           {"f32", 2, 13, 11, 24, 3, 2, 1, "maximum"},  // ResNet's stem pool, odd sizes
           {"bf16", 3, 8, 8, 64, 2, 2, 0, "maximum"},   // VGG's 2x2
           {"f32", 1, 9, 10, 8, 3, 1, 1, "minimum"}}) {
    const std::string text = PoolModule(t, n, h, w, c, k, s, pad, op);
    SCOPED_TRACE(text.substr(0, 400));
    StatusOr<std::unique_ptr<Module>> m = ParseModule(text, "test");
    ASSERT_TRUE(m.ok()) << m.status().message();
    StatusOr<LoweredModel> lowered = LowerModule(**m, Chip("v4"), {});
    ASSERT_TRUE(lowered.ok()) << lowered.status().message();
    bool window = false;
    for (const auto& kr : lowered->kernels) window |= kr.op.find("window") != std::string::npos;
    EXPECT_TRUE(window);
    RunBoth(text);
  }
}

TEST(VpuKernels, UnsupportedOpsAreClearErrors) {
  StatusOr<std::unique_ptr<Module>> m = ParseModule(Binary("divide", "s32", "4,4"), "test");
  ASSERT_TRUE(m.ok());
  StatusOr<LoweredModel> l = LowerModule(**m, Chip("v4"), {});
  ASSERT_FALSE(l.ok());
  EXPECT_NE(l.status().message().find("divide"), std::string::npos) << l.status().message();
  EXPECT_NE(l.status().message().find("s32"), std::string::npos) << l.status().message();
}

}  // namespace
}  // namespace xtpu
