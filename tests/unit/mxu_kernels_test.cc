// Matrix-unit kernels (dot, convolution, output fusions): chip-form modules
// lowered with LowerModule, run on the functional simulator and compared with
// the reference evaluator. Default precision (one bf16 pass) must be within
// rel. L2 1e-2 of the f32 reference, highest (six passes) within 1e-6.
#include <array>
#include <gtest/gtest.h>

#include <optional>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/codegen/lowering.h"
#include "xtpu/compiler/pass.h"
#include "xtpu/ir/printer.h"
#include "xtpu/ir/builder.h"
#include "xtpu/ir/evaluator.h"
#include "xtpu/ir/parser.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/sim/timing/timing_model.h"

namespace xtpu {
namespace {

using codegen::Precision;

std::vector<float> RandomValues(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

int64_t Count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::string DimsText(const std::vector<int64_t>& dims) { return fmt::format("f32[{}]", fmt::join(dims, ",")); }

// "  name = f32[dims] constant({...})" with seeded random values.
std::string ConstLine(const std::string& name, const std::vector<int64_t>& dims, uint32_t seed) {
  std::vector<float> v = RandomValues(Count(dims), seed);
  std::string s = fmt::format("  {} = {} constant({{", name, DimsText(dims));
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:.9g}", i ? ", " : "", v[i]);
  return s + "})\n";
}

struct Outcome {
  double rel_l2 = 1e9;
  int64_t cycles = 0;
  double mxu_utilization = 0;
  size_t kernels = 0;
};

double RelL2(const Literal& got, const Literal& want) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    double d = got.GetAsDouble(i) - want.GetAsDouble(i);
    num += d * d;
    den += want.GetAsDouble(i) * want.GetAsDouble(i);
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// Lowers `text` for `chip_name`, runs it with random inputs, compares the
// single output with the evaluator.
Outcome RunOnChip(const std::string& text, const std::string& chip_name, Precision precision, bool timing = false,
                  const std::string& override_param = "") {
  Outcome o;
  auto module = ParseModule(text);
  EXPECT_TRUE(module.ok()) << module.status().message();
  if (!module.ok()) return o;
  auto chip = LoadChip(chip_name);
  EXPECT_TRUE(chip.ok());
  if (!override_param.empty()) EXPECT_TRUE(ApplyOverride(*chip, override_param).ok());
  auto lowered = codegen::LowerModule(**module, *chip, {.precision = precision});
  EXPECT_TRUE(lowered.ok()) << lowered.status().message();
  if (!lowered.ok()) return o;
  o.kernels = lowered->kernels.size();
  std::vector<Literal> args;
  sim::DispatchLog log;
  sim::Simulator s(*chip, lowered->program, {.dispatch_log = timing ? &log : nullptr});
  uint32_t seed = 100;
  for (const Instruction* p : (*module)->Inputs()) {
    std::vector<float> v = RandomValues(p->shape.num_elements(), seed++);
    args.push_back(Literal::FromVector(p->shape.dtype, p->shape.dims, v));
  }
  for (size_t i = 0; i < lowered->inputs.size(); ++i) EXPECT_TRUE(s.SetBuffer(lowered->inputs[i].buffer, args[i]).ok());
  if (!lowered->constants.empty()) {
    Literal c(Shape(DType::kS8, {static_cast<int64_t>(lowered->constants.size())}), lowered->constants);
    EXPECT_TRUE(s.SetBuffer("constants", c).ok());
  }
  Status st = s.Run();
  EXPECT_TRUE(st.ok()) << st.message();
  if (!st.ok() && std::getenv("XTPU_DUMP")) std::fprintf(stderr, "%s\n", isa::Disassemble(lowered->program).c_str());
  if (!st.ok()) return o;
  auto got = s.GetBuffer(lowered->outputs[0].buffer);
  auto want = Evaluate(**module, args);
  EXPECT_TRUE(got.ok() && want.ok());
  if (!got.ok() || !want.ok()) return o;
  o.rel_l2 = RelL2(*got, (*want)[0]);
  if (std::getenv("XTPU_MXU_DEBUG"))
    std::printf("    %s %s rel_l2 %.3g\n", chip_name.c_str(), std::string(codegen::PrecisionName(precision)).c_str(), o.rel_l2);
  if (timing) {
    auto t = sim::timing::RunTiming(*chip, log, {.record_instructions = false});
    EXPECT_TRUE(t.ok()) << t.status().message();
    if (t.ok()) {
      o.cycles = t->stats.cycles;
      o.mxu_utilization = t->stats.mxu_utilization;
    }
  }
  return o;
}

std::string DotModule(int64_t m, int64_t k, int64_t n, bool const_rhs) {
  std::string s = "HloModule dot\n\nENTRY main {\n";
  s += fmt::format("  a = f32[{},{}] parameter(0)\n", m, k);
  if (const_rhs) s += ConstLine("w", {k, n}, 7);
  else s += fmt::format("  w = f32[{},{}] parameter(1)\n", k, n);
  s += fmt::format("  d = f32[{},{}] dot(a, w), lhs_batch_dims={{}}, lhs_contracting_dims={{1}}, rhs_batch_dims={{}}, "
                   "rhs_contracting_dims={{0}}\n",
                   m, n);
  return s + fmt::format("  ROOT out = (f32[{},{}]) tuple(d)\n}}\n", m, n);
}

struct ConvSpec {
  std::vector<int64_t> in, kernel;  // NHWC, HWIO
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
};

std::vector<int64_t> ConvOut(const ConvSpec& c) {
  auto o = [](int64_t x, int64_t k, int64_t s, int64_t p, int64_t d) { return (x + 2 * p - (k - 1) * d - 1) / s + 1; };
  return {c.in[0], o(c.in[1], c.kernel[0], c.stride_h, c.pad_h, c.dil_h),
          o(c.in[2], c.kernel[1], c.stride_w, c.pad_w, c.dil_w), c.kernel[3]};
}

std::string ConvAttrs(const ConvSpec& c) {
  return fmt::format("window={{size={}x{} stride={}x{} pad={}_{}x{}_{} lhs_dilate=1x1 rhs_dilate={}x{}}}, "
                     "dim_labels=b01f_01io->b01f, feature_group_count={}, batch_group_count=1",
                     c.kernel[0], c.kernel[1], c.stride_h, c.stride_w, c.pad_h, c.pad_h, c.pad_w, c.pad_w, c.dil_h,
                     c.dil_w, c.groups);
}

std::string ConvModule(const ConvSpec& c) {
  std::vector<int64_t> out = ConvOut(c);
  std::string s = "HloModule conv\n\nENTRY main {\n";
  s += fmt::format("  x = {} parameter(0)\n", DimsText(c.in));
  s += ConstLine("w", c.kernel, 11);
  s += fmt::format("  y = {} convolution(x, w), {}\n", DimsText(out), ConvAttrs(c));
  return s + fmt::format("  ROOT out = ({}) tuple(y)\n}}\n", DimsText(out));
}

// conv + bias + relu + residual as an output fusion.
std::string ConvFusionModule(const ConvSpec& c) {
  std::vector<int64_t> out = ConvOut(c);
  const std::string o = DimsText(out);
  std::string s = "HloModule convfusion\n\nfused {\n";
  s += fmt::format("  p0 = {} parameter(0)\n  p1 = {} parameter(1)\n  p2 = f32[{}] parameter(2)\n  p3 = {} parameter(3)\n",
                   DimsText(c.in), DimsText(c.kernel), out[3], o);
  s += fmt::format("  y = {} convolution(p0, p1), {}\n", o, ConvAttrs(c));
  s += fmt::format("  b = {} broadcast(p2), dimensions={{3}}\n  yb = {} add(y, b)\n", o, o);
  s += fmt::format("  z = f32[] constant(0)\n  zb = {} broadcast(z), dimensions={{}}\n  r = {} maximum(yb, zb)\n", o, o);
  s += fmt::format("  ROOT res = {} add(p3, r)\n}}\n\nENTRY main {{\n", o);
  s += fmt::format("  x = {} parameter(0)\n  skip = {} parameter(1)\n", DimsText(c.in), o);
  s += ConstLine("w", c.kernel, 11);
  s += ConstLine("bias", {out[3]}, 12);
  s += fmt::format("  f = {} fusion(x, w, bias, skip), kind=output, calls=fused\n", o);
  return s + fmt::format("  ROOT out = ({}) tuple(f)\n}}\n", o);
}

TEST(MxuDot, Dot2DConstantWeightsV4) {
  std::string m = DotModule(64, 200, 130, true);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuDot, OddShapesV5e) {
  std::string m = DotModule(300, 333, 257, true);
  EXPECT_LT(RunOnChip(m, "v5e", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v5e", Precision::kHigh).rel_l2, 1e-4);
  EXPECT_LT(RunOnChip(m, "v5e", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuDot, NonConstantRhs) {
  std::string m = DotModule(130, 96, 200, false);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuDot, BatchedNonConstantRhs) {
  std::string s = "HloModule bdot\n\nENTRY main {\n  a = f32[3,50,64] parameter(0)\n  b = f32[3,64,70] parameter(1)\n";
  s += "  d = f32[3,50,70] dot(a, b), lhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_batch_dims={0}, "
       "rhs_contracting_dims={1}\n  ROOT out = (f32[3,50,70]) tuple(d)\n}\n";
  EXPECT_LT(RunOnChip(s, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(s, "v5e", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuDot, BatchedLhsConstantRhs) {
  std::string s = "HloModule bdot2\n\nENTRY main {\n  a = f32[2,40,64] parameter(0)\n" + ConstLine("w", {64, 48}, 3);
  s += "  d = f32[2,40,48] dot(a, w), lhs_batch_dims={}, lhs_contracting_dims={2}, rhs_batch_dims={}, "
       "rhs_contracting_dims={0}\n  ROOT out = (f32[2,40,48]) tuple(d)\n}\n";
  EXPECT_LT(RunOnChip(s, "v4", Precision::kDefault).rel_l2, 1e-2);
}

// A small VMEM forces K chunks, several column groups per core, weight
// panels loaded piece by piece or double-buffered, and row bands.
TEST(MxuDot, SmallVmemManyGroups) {
  std::string m = DotModule(300, 700, 640, true);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault, false, "vmem.bytes=1 MiB").rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v5e", Precision::kHighest, false, "vmem.bytes=2 MiB").rel_l2, 1e-6);
  std::string n = DotModule(200, 300, 600, false);
  EXPECT_LT(RunOnChip(n, "v4", Precision::kDefault, false, "vmem.bytes=1 MiB").rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(n, "v4", Precision::kHigh, false, "vmem.bytes=2 MiB").rel_l2, 1e-4);
}

TEST(MxuConv, SmallVmemChannelChunksAndBands) {
  ConvSpec c{.in = {2, 30, 30, 200}, .kernel = {3, 3, 200, 136}, .pad_h = 1, .pad_w = 1};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault, false, "vmem.bytes=1 MiB").rel_l2, 1e-2);
  ConvSpec d{.in = {1, 40, 40, 16}, .kernel = {3, 3, 1, 16}, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 16};
  EXPECT_LT(RunOnChip(ConvModule(d), "v4", Precision::kDefault, false, "vmem.bytes=512 KiB").rel_l2, 1e-5);
}

TEST(MxuConv, Conv3x3Stride1Pad1) {
  ConvSpec c{.in = {2, 9, 11, 20}, .kernel = {3, 3, 20, 33}, .pad_h = 1, .pad_w = 1};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(ConvModule(c), "v5e", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuConv, Conv7x7Stride2Pad3) {
  ConvSpec c{.in = {1, 20, 18, 3}, .kernel = {7, 7, 3, 16}, .stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuConv, Conv1x1Stride2) {
  ConvSpec c{.in = {2, 8, 8, 40}, .kernel = {1, 1, 40, 24}, .stride_h = 2, .stride_w = 2};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
}

TEST(MxuConv, Depthwise) {
  ConvSpec c{.in = {2, 10, 9, 16}, .kernel = {3, 3, 1, 16}, .pad_h = 1, .pad_w = 1, .groups = 16};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-5);
  ConvSpec s2{.in = {1, 11, 10, 8}, .kernel = {3, 3, 1, 8}, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 8};
  EXPECT_LT(RunOnChip(ConvModule(s2), "v5e", Precision::kHighest).rel_l2, 1e-5);
}

TEST(MxuConv, Grouped) {
  ConvSpec c{.in = {1, 8, 8, 12}, .kernel = {3, 3, 4, 6}, .pad_h = 1, .pad_w = 1, .groups = 3};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuConv, Dilated) {
  ConvSpec c{.in = {1, 12, 12, 8}, .kernel = {3, 3, 8, 8}, .pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
}

TEST(MxuFusion, ConvBiasReluResidual) {
  ConvSpec c{.in = {2, 7, 7, 24}, .kernel = {3, 3, 24, 40}, .pad_h = 1, .pad_w = 1};
  EXPECT_LT(RunOnChip(ConvFusionModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(ConvFusionModule(c), "v5e", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuFusion, DepthwiseBiasReluResidual) {
  ConvSpec c{.in = {1, 6, 6, 8}, .kernel = {3, 3, 1, 8}, .pad_h = 1, .pad_w = 1, .groups = 8};
  EXPECT_LT(RunOnChip(ConvFusionModule(c), "v4", Precision::kDefault).rel_l2, 1e-5);
}

// A weight panel taller than the VMEM weight budget at this precision (at
// highest, 1 MiB of VMEM holds about 680 rows of one 128-column tile) is
// split over K: kernels whose partial products accumulate in the output,
// the epilogue (bias, clamp) after the last. VGG's 25088-row classifier at
// highest precision on v4 is the real case.
TEST(MxuDot, TallWeightPanelSplitsK) {
  // 1000 rows fit: one GEMM kernel (plus the module's other kernels).
  const size_t one = RunOnChip(DotModule(70, 1000, 200, true), "v4", Precision::kHighest, false, "vmem.bytes=1 MiB").kernels;
  ASSERT_GT(one, 0u);
  Outcome c = RunOnChip(DotModule(70, 3000, 200, true), "v4", Precision::kHighest, false, "vmem.bytes=1 MiB");
  EXPECT_LT(c.rel_l2, 1e-6);
  EXPECT_GE(c.kernels, one + 2);
  Outcome n = RunOnChip(DotModule(70, 1500, 200, false), "v4", Precision::kHighest, false, "vmem.bytes=1 MiB");
  EXPECT_LT(n.rel_l2, 1e-6);
  EXPECT_GE(n.kernels, one + 2);
  std::string f = "HloModule tallfusion\n\nfused {\n  p0 = f32[40,2000] parameter(0)\n  p1 = f32[2000,150] parameter(1)\n"
                  "  p2 = f32[150] parameter(2)\n"
                  "  d = f32[40,150] dot(p0, p1), lhs_batch_dims={}, lhs_contracting_dims={1}, rhs_batch_dims={}, "
                  "rhs_contracting_dims={0}\n"
                  "  b = f32[40,150] broadcast(p2), dimensions={1}\n  db = f32[40,150] add(d, b)\n"
                  "  zero = f32[] constant(0)\n  zb = f32[40,150] broadcast(zero), dimensions={}\n"
                  "  ROOT r = f32[40,150] maximum(db, zb)\n}\n\n"
                  "ENTRY main {\n  x = f32[40,2000] parameter(0)\n" +
                  ConstLine("w", {2000, 150}, 5) + ConstLine("bias", {150}, 6) +
                  "  f = f32[40,150] fusion(x, w, bias), kind=output, calls=fused\n  ROOT out = (f32[40,150]) tuple(f)\n}\n";
  Outcome fo = RunOnChip(f, "v4", Precision::kHighest, false, "vmem.bytes=1 MiB");
  EXPECT_LT(fo.rel_l2, 1e-6);
  EXPECT_GE(fo.kernels, one + 2);
}

// Matrix units with fewer rows than columns take K in mxu.rows-wide steps
// (a sweep over mxu.rows must not break compilation).
TEST(MxuDot, FewerRowsThanColumns) {
  EXPECT_LT(RunOnChip(DotModule(100, 300, 200, true), "v4", Precision::kDefault, false, "mxu.rows=64").rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(DotModule(100, 300, 200, false), "v4", Precision::kHighest, false, "mxu.rows=64").rel_l2, 1e-6);
  ConvSpec c{.in = {2, 7, 7, 24}, .kernel = {3, 3, 24, 40}, .pad_h = 1, .pad_w = 1};
  EXPECT_LT(RunOnChip(ConvFusionModule(c), "v4", Precision::kHighest, false, "mxu.rows=32").rel_l2, 1e-6);
}

// A chip with two DMA engines (edge) runs kernels that use four roles
// (LHS, weights, store, residual): the roles share engines.
TEST(MxuFusion, TwoDmaEngines) {
  ConvSpec c{.in = {2, 7, 7, 24}, .kernel = {3, 3, 24, 40}, .pad_h = 1, .pad_w = 1};
  Outcome o = RunOnChip(ConvFusionModule(c), "edge", Precision::kDefault, true);
  EXPECT_LT(o.rel_l2, 1e-2);
  EXPECT_GT(o.cycles, 0);
  EXPECT_LT(RunOnChip(DotModule(100, 300, 200, false), "edge", Precision::kHighest, true).rel_l2, 1e-6);
}

// bf16 x bf16 dots (JAX's usual HLO) take one pass at any precision: the
// operands are their own hi plane; products are exact and accumulate in f32.
std::string Bf16DotModule(int64_t m, int64_t k, int64_t n, const char* out) {
  return fmt::format("HloModule bdot\n\nENTRY main {{\n  a = bf16[{0},{1}] parameter(0)\n  w = bf16[{1},{2}] parameter(1)\n"
                     "  d = {3}[{0},{2}] dot(a, w), lhs_batch_dims={{}}, lhs_contracting_dims={{1}}, rhs_batch_dims={{}}, "
                     "rhs_contracting_dims={{0}}\n  ROOT out = ({3}[{0},{2}]) tuple(d)\n}}\n",
                     m, k, n, out);
}

TEST(MxuDot, Bf16Operands) {
  // f32 result: exact products, f32 sums in another order than the evaluator's.
  EXPECT_LT(RunOnChip(Bf16DotModule(130, 700, 300, "f32"), "v4", Precision::kDefault).rel_l2, 1e-6);
  EXPECT_LT(RunOnChip(Bf16DotModule(130, 700, 300, "f32"), "v5e", Precision::kHighest).rel_l2, 1e-6);
  // bf16 result: rounded once (at most half a bf16 ulp, 2^-9 relative).
  EXPECT_LT(RunOnChip(Bf16DotModule(130, 700, 300, "bf16"), "v4", Precision::kDefault).rel_l2, 4e-3);
  // Small VMEM: K chunks, weights piece by piece, several groups.
  EXPECT_LT(RunOnChip(Bf16DotModule(300, 2000, 640, "f32"), "v4", Precision::kDefault, false, "vmem.bytes=1 MiB").rel_l2,
            1e-6);
}

// A bf16 model's convolution: bf16 input, kernel, bias and residual, bf16
// result. The chip adds bias and residual to the f32 accumulators and rounds
// once; the evaluator rounds after each op (a few bf16 ulps apart at most).
TEST(MxuFusion, Bf16ConvBiasReluResidual) {
  ConvSpec c{.in = {2, 7, 7, 24}, .kernel = {3, 3, 24, 40}, .pad_h = 1, .pad_w = 1};
  std::string m = ConvFusionModule(c);
  for (size_t at = m.find("f32["); at != std::string::npos; at = m.find("f32[", at)) m.replace(at, 4, "bf16[");
  ASSERT_EQ(m.find("f32"), std::string::npos);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v5e", Precision::kHighest).rel_l2, 1e-2);  // one pass at any precision
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault, false, "vmem.bytes=512 KiB").rel_l2, 1e-2);
}

TEST(MxuFusion, DotBiasClamp) {
  std::string s = "HloModule dotfusion\n\nfused {\n  p0 = f32[70,96] parameter(0)\n  p1 = f32[96,150] parameter(1)\n"
                  "  p2 = f32[150] parameter(2)\n"
                  "  d = f32[70,150] dot(p0, p1), lhs_batch_dims={}, lhs_contracting_dims={1}, rhs_batch_dims={}, "
                  "rhs_contracting_dims={0}\n"
                  "  b = f32[70,150] broadcast(p2), dimensions={1}\n  db = f32[70,150] subtract(d, b)\n"
                  "  lo = f32[] constant(-0.5)\n  hi = f32[] constant(0.75)\n"
                  "  c = f32[70,150] clamp(lo, db, hi)\n  two = f32[] constant(2)\n"
                  "  twob = f32[70,150] broadcast(two), dimensions={}\n  ROOT m = f32[70,150] multiply(twob, c)\n}\n\n"
                  "ENTRY main {\n  x = f32[70,96] parameter(0)\n" +
                  ConstLine("w", {96, 150}, 5) + ConstLine("bias", {150}, 6) +
                  "  f = f32[70,150] fusion(x, w, bias), kind=output, calls=fused\n  ROOT out = (f32[70,150]) tuple(f)\n}\n";
  EXPECT_LT(RunOnChip(s, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(s, "v4", Precision::kHighest).rel_l2, 1e-6);
}

// conv -> conv -> pad -> add: at default precision the first conv's result
// (read only as the second conv's input) is stored as bf16, which must give
// bit-identical results with less HBM traffic; the second conv writes into
// the pad's buffer, whose border alone the pad fills.
std::string ConvChainModule() {
  ConvSpec a{.in = {2, 12, 12, 16}, .kernel = {3, 3, 16, 24}, .pad_h = 1, .pad_w = 1};
  ConvSpec b{.in = {2, 12, 12, 24}, .kernel = {3, 3, 24, 8}, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
  std::string s = "HloModule chain\n\nENTRY main {\n  x = f32[2,12,12,16] parameter(0)\n";
  s += ConstLine("w1", a.kernel, 21) + ConstLine("w2", b.kernel, 22);
  s += fmt::format("  y1 = f32[2,12,12,24] convolution(x, w1), {}\n", ConvAttrs(a));
  s += fmt::format("  y2 = f32[2,6,6,8] convolution(y1, w2), {}\n", ConvAttrs(b));
  s += "  v = f32[] constant(-3)\n  p = f32[2,9,8,8] pad(y2, v), padding=0_0_0x1_2_0x2_0_0x0_0_0\n";
  s += "  r = f32[2,9,8,8] add(p, p)\n  ROOT out = (f32[2,9,8,8]) tuple(r)\n}\n";
  return s;
}

// `text` lowered for v4 at default precision (nullopt if it does not parse
// or lower: the callers' expectations then fail).
std::optional<codegen::LoweredModel> LowerV4(const std::string& text) {
  auto module = ParseModule(text);
  auto chip = LoadChip("v4");
  if (!module.ok() || !chip.ok()) return std::nullopt;
  auto lowered = codegen::LowerModule(**module, *chip, {});
  if (!lowered.ok()) return std::nullopt;
  return std::move(*lowered);
}

// Cycle statistics of `text` lowered for v4 and run on the timing model
// only (nullopt if any step fails).
std::optional<sim::timing::TimingStats> TimeOnV4(const std::string& text) {
  auto lowered = LowerV4(text);
  if (!lowered) return std::nullopt;
  auto chip = LoadChip("v4");
  sim::DispatchLog log;
  sim::Simulator s(*chip, lowered->program, {.dispatch_log = &log, .timing_only = true});
  if (!s.Run().ok()) return std::nullopt;
  auto t = sim::timing::RunTiming(*chip, log, {.record_instructions = false});
  if (!t.ok()) return std::nullopt;
  return t->stats;
}

int64_t LoweredHbmBytes(const std::string& text) {
  auto lowered = LowerV4(text);
  if (!lowered) return -1;
  int64_t bytes = 0;
  for (const auto& k : lowered->kernels) bytes += k.hbm_bytes;
  return bytes;
}

// LHS rows streamed through the MXUs by the lowered program (sum of the
// matmuls' m at default precision).
int64_t StreamedRows(const std::string& text) {
  auto lowered = LowerV4(text);
  if (!lowered) return -1;
  int64_t rows = 0;
  for (const auto& core : lowered->program.cores)
    for (const isa::Instruction& i : core)
      if (i.opcode == isa::Opcode::kMxuMatmul) {
        EXPECT_EQ(i.op("m").reg, -1);  // straight-line code: m is an immediate
        rows += i.op("m").imm;
      }
  return rows;
}

// 64 output channels fill half of v4's 128 MXU columns and a 3x3 kernel row
// of 64 channels (192 values) fills 1.5 k-steps: output pixels are computed
// in pairs (kernel width 4, stride 2, 128 columns), which streams half the
// rows: unpaired, 2 images x 16 output rows x 18 wide pixels x 6 k-steps
// (the 2 halo rows between the images of a row chunk are not streamed).
TEST(MxuConv, PixelPairsHalveStreamedRows) {
  ConvSpec c{.in = {2, 16, 16, 64}, .kernel = {3, 3, 64, 64}, .pad_h = 1, .pad_w = 1};
  const std::string m = ConvFusionModule(c);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest).rel_l2, 1e-6);
  EXPECT_EQ(StreamedRows(m), 2 * 16 * 18 * 6 / 2);
  // ResNet's conv1 shape (7x7 stride 2 pad 3, 3 channels), bf16 operands.
  ConvSpec c1{.in = {1, 30, 30, 3}, .kernel = {7, 7, 3, 64}, .stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3};
  std::string b = ConvFusionModule(c1);
  for (size_t at = b.find("f32["); at != std::string::npos; at = b.find("f32[", at)) b.replace(at, 4, "bf16[");
  EXPECT_LT(RunOnChip(b, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(ConvModule(c1), "v5e", Precision::kHighest).rel_l2, 1e-6);
  // 15 output pixels cannot pair: the plain form, still correct.
  ConvSpec odd{.in = {2, 15, 15, 64}, .kernel = {3, 3, 64, 64}, .pad_h = 1, .pad_w = 1};
  EXPECT_LT(RunOnChip(ConvFusionModule(odd), "v4", Precision::kHighest).rel_l2, 1e-6);
  EXPECT_EQ(StreamedRows(ConvModule(odd)), 2 * 15 * 17 * 6);
}

// Few input channels: the kernel rows of an output row are packed into each
// pixel's K values (7 x 7 x (3 + 1 pad channel) = 196: 2 k-steps instead of
// 7). OW = 11 is odd, so pixels are not paired: 3 images x 12 output rows x
// 14 wide pixels x 2 k-steps. Top and bottom output rows read padding rows
// (zeroed slots); small accumulators cut images into bands; dilation too.
TEST(MxuConv, PackedKernelRows) {
  ConvSpec c{.in = {3, 23, 22, 3}, .kernel = {7, 7, 3, 16}, .stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3};
  const std::string m = ConvFusionModule(c);
  EXPECT_EQ(StreamedRows(ConvModule(c)), 3 * 12 * 14 * 2);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest).rel_l2, 1e-6);
  EXPECT_LT(RunOnChip(m, "v5e", Precision::kHigh).rel_l2, 1e-4);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest, false, "accumulator.bytes=16 KiB").rel_l2, 1e-6);  // bands of 9 rows
  // No room for the taller packed panel at 3 planes: the plain form.
  EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest, false, "vmem.bytes=256 KiB").rel_l2, 1e-6);
  std::string b = m;
  for (size_t at = b.find("f32["); at != std::string::npos; at = b.find("f32[", at)) b.replace(at, 4, "bf16[");
  EXPECT_LT(RunOnChip(b, "v4", Precision::kDefault).rel_l2, 1e-2);
  ConvSpec d{.in = {2, 13, 12, 2}, .kernel = {3, 3, 2, 8}, .pad_h = 2, .pad_w = 1, .dil_h = 2, .dil_w = 1};
  EXPECT_LT(RunOnChip(ConvFusionModule(d), "v4", Precision::kHighest).rel_l2, 1e-6);
}

// Largest accumulator row used by the matmuls of the lowered program.
int64_t MaxAccRow(const std::string& text) {
  auto lowered = LowerV4(text);
  if (!lowered) return -1;
  int64_t top = 0;
  for (const auto& core : lowered->program.cores)
    for (const isa::Instruction& i : core)
      if (i.opcode == isa::Opcode::kMxuMatmul) top = std::max(top, i.op("acc").imm + i.op("m").imm);
  return top;
}

// A compute-bound convolution (3x3, 256 channels: ~1150 FLOPs per HBM byte,
// above v4's ridge point) of many row chunks: chunks alternate between the
// two halves of each MXU's 1024 accumulator rows, so a chunk's read_acc
// overlaps the next chunk's matmuls, and its epilogue is emitted after them,
// so the vector unit's queue waiting for the read_acc does not hold back
// their dispatch. Together: 69% of the MXU bound (the rest: wide-row
// columns, 14 of 16, and pipeline fill), where chunks of the whole
// accumulator read out in turn, epilogue first, reached 64%.
TEST(MxuConv, ComputeBoundChunksOverlapReadout) {
  ConvSpec c{.in = {32, 14, 14, 256}, .kernel = {3, 3, 256, 256}, .pad_h = 1, .pad_w = 1};
  std::string m = ConvFusionModule(c);
  for (size_t at = m.find("f32["); at != std::string::npos; at = m.find("f32[", at)) m.replace(at, 4, "bf16[");
  Outcome o = RunOnChip(m, "v4", Precision::kDefault, true);
  EXPECT_LT(o.rel_l2, 1e-2);
  EXPECT_GT(MaxAccRow(m), 512);   // the second half is used
  EXPECT_LE(MaxAccRow(m), 1024);
  auto chip = LoadChip("v4");
  ASSERT_TRUE(chip.ok());
  const double flops = 2.0 * 32 * 14 * 14 * 256 * 9 * 256;
  const double bound = flops / (MxuPeakOps(*chip, DType::kBF16) / ClockHz(*chip));
  std::printf("    compute-bound conv: %lld cycles, MXU bound %.0f (%.1f%%)\n", (long long)o.cycles, bound,
              100 * bound / o.cycles);
  EXPECT_GT(bound / o.cycles, 0.66);
}

// A memory-bound convolution with a residual (ResNet's 1x1 64 -> 256 block
// output): with a third output/residual tile in VMEM, a chunk's residual
// load and store no longer wait for the epilogue two chunks back. Same
// values, fewer cycles (XTPU_NO_TRIPLE=1 plans two tiles, as before).
TEST(MxuFusion, ThirdOutputSlotOverlapsResidualTraffic) {
  ConvSpec c{.in = {16, 28, 28, 64}, .kernel = {1, 1, 64, 256}};
  std::string m = ConvFusionModule(c);
  for (size_t at = m.find("f32["); at != std::string::npos; at = m.find("f32[", at)) m.replace(at, 4, "bf16[");
  Outcome three = RunOnChip(m, "v4", Precision::kDefault, true);
  setenv("XTPU_NO_TRIPLE", "1", 1);
  Outcome two = RunOnChip(m, "v4", Precision::kDefault, true);
  unsetenv("XTPU_NO_TRIPLE");
  EXPECT_LT(three.rel_l2, 1e-2);
  EXPECT_EQ(three.rel_l2, two.rel_l2);
  std::printf("    residual conv: %lld cycles with 3 output tiles, %lld with 2\n", (long long)three.cycles,
              (long long)two.cycles);
  EXPECT_LT(three.cycles * 1.05, two.cycles);
}

// ResNet's 1x1 64 -> 256 block output with its residual: at 1024 rows per
// MXU its three f32 output and residual tiles leave too little VMEM for the
// 64 input channels in one piece. The planner takes 512-row chunks instead
// of cutting K: every output pixel is streamed once per column tile (2 of
// the 4 MXUs' tiles), with all 64 channels in one k-step.
TEST(MxuFusion, ShorterChunksRatherThanKChunks) {
  ConvSpec c{.in = {8, 56, 56, 64}, .kernel = {1, 1, 64, 256}};
  std::string m = ConvFusionModule(c);
  for (size_t at = m.find("f32["); at != std::string::npos; at = m.find("f32[", at)) m.replace(at, 4, "bf16[");
  EXPECT_EQ(StreamedRows(m), 2 * 8 * 56 * 56);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
}

TEST(MxuConv, Bf16ActivationsAndPadInPlace) {
  const std::string m = ConvChainModule();
  Outcome bf16 = RunOnChip(m, "v4", Precision::kDefault);
  EXPECT_LT(bf16.rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v5e", Precision::kHighest).rel_l2, 1e-6);
  const int64_t bf16_bytes = LoweredHbmBytes(m);
  setenv("XTPU_F32_ACTIVATIONS", "1", 1);
  Outcome f32 = RunOnChip(m, "v4", Precision::kDefault);
  const int64_t f32_bytes = LoweredHbmBytes(m);
  unsetenv("XTPU_F32_ACTIVATIONS");
  EXPECT_EQ(bf16.rel_l2, f32.rel_l2);  // same outputs
  EXPECT_GT(bf16_bytes, 0);
  EXPECT_LT(bf16_bytes, f32_bytes);
}

// The same chain in a bf16 model: the second convolution writes its bf16
// result straight into the (bf16) buffer of the pad.
TEST(MxuConv, Bf16ModelPadInPlace) {
  std::string m = ConvChainModule();
  for (size_t at = m.find("f32["); at != std::string::npos; at = m.find("f32[", at)) m.replace(at, 4, "bf16[");
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
}

TEST(MxuErrors, NoBf16MatrixUnit) {
  auto module = ParseModule(DotModule(8, 8, 8, true));
  ASSERT_TRUE(module.ok());
  auto chip = LoadChip("v1");
  ASSERT_TRUE(chip.ok());
  auto lowered = codegen::LowerModule(**module, *chip, {});
  ASSERT_FALSE(lowered.ok());
  EXPECT_NE(lowered.status().message().find("bf16"), std::string::npos) << lowered.status().message();
}

TEST(MxuErrors, NonConstantConvKernel) {
  std::string s = "HloModule c\n\nENTRY main {\n  x = f32[1,4,4,2] parameter(0)\n  w = f32[1,1,2,2] parameter(1)\n"
                  "  y = f32[1,4,4,2] convolution(x, w), window={size=1x1 stride=1x1 pad=0_0x0_0 lhs_dilate=1x1 "
                  "rhs_dilate=1x1}, dim_labels=b01f_01io->b01f, feature_group_count=1, batch_group_count=1\n"
                  "  ROOT out = (f32[1,4,4,2]) tuple(y)\n}\n";
  auto module = ParseModule(s);
  ASSERT_TRUE(module.ok()) << module.status().message();
  auto lowered = codegen::LowerModule(**module, *LoadChip("v4"), {});
  ASSERT_FALSE(lowered.ok());
  EXPECT_NE(lowered.status().message().find("constant"), std::string::npos) << lowered.status().message();
}

// ---- batched dots of small matmuls (kernels_mxu_batched.cc) ----

// [B, M, K] x [B, K, N] with `in` operands and an `out` result; with
// `transposed` the rhs is a [B, N, K] parameter transposed to [B, K, N] (as
// attention's keys), which the kernel reads as a view.
std::string BatchedDotModule(int64_t b, int64_t m, int64_t k, int64_t n, const char* in, const char* out,
                             bool transposed) {
  std::string s = fmt::format("HloModule batched\n\nENTRY main {{\n  a = {}[{},{},{}] parameter(0)\n", in, b, m, k);
  if (transposed) {
    s += fmt::format("  kt = {0}[{1},{2},{3}] parameter(1)\n  w = {0}[{1},{3},{2}] transpose(kt), dimensions={{0,2,1}}\n",
                     in, b, n, k);
  } else {
    s += fmt::format("  w = {}[{},{},{}] parameter(1)\n", in, b, k, n);
  }
  s += fmt::format("  d = {0}[{1},{2},{3}] dot(a, w), lhs_batch_dims={{0}}, lhs_contracting_dims={{2}}, "
                   "rhs_batch_dims={{0}}, rhs_contracting_dims={{1}}\n  ROOT r = ({0}[{1},{2},{3}]) tuple(d)\n}}\n",
                   out, b, m, n);
  return s;
}

// The ops of the kernels `text` lowers to.
std::vector<std::string> KernelOps(const std::string& text, const std::string& chip_name, Precision precision) {
  std::vector<std::string> ops;
  auto module = ParseModule(text);
  auto chip = LoadChip(chip_name);
  if (!module.ok() || !chip.ok()) return ops;
  auto lowered = codegen::LowerModule(**module, *chip, {.precision = precision});
  EXPECT_TRUE(lowered.ok()) << lowered.status().message();
  if (!lowered.ok()) return ops;
  for (const auto& k : lowered->kernels) ops.push_back(k.op);
  return ops;
}

TEST(MxuBatchedDot, AttentionShapesBf16) {
  // Q K^T with the keys transposed in VMEM, then P V: one kernel each, no copy.
  const std::string qk = BatchedDotModule(24, 128, 64, 128, "bf16", "bf16", true);
  EXPECT_EQ(KernelOps(qk, "v4", Precision::kDefault), std::vector<std::string>{"dot(batched)"});
  EXPECT_LT(RunOnChip(qk, "v4", Precision::kDefault).rel_l2, 4e-3);
  const std::string qk32 = BatchedDotModule(24, 128, 64, 128, "bf16", "f32", true);
  EXPECT_LT(RunOnChip(qk32, "v4", Precision::kDefault).rel_l2, 1e-6);
  const std::string pv = BatchedDotModule(24, 128, 128, 64, "bf16", "bf16", false);
  EXPECT_EQ(KernelOps(pv, "v4", Precision::kDefault), std::vector<std::string>{"dot(batched)"});
  EXPECT_LT(RunOnChip(pv, "v4", Precision::kDefault).rel_l2, 4e-3);
}

TEST(MxuBatchedDot, OddShapesAndF32) {
  // Two k-steps, two column tiles, a last step with fewer batch elements than
  // MXUs, f32 operands rounded on the VPU; and the same transposed.
  for (bool t : {false, true}) {
    const std::string m = BatchedDotModule(11, 50, 200, 130, "f32", "f32", t);
    EXPECT_EQ(KernelOps(m, "v4", Precision::kDefault), std::vector<std::string>{"dot(batched)"});
    EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
    EXPECT_LT(RunOnChip(m, "v5e", Precision::kDefault).rel_l2, 1e-2);
    // More passes than one: the GEMM engine, reading the transposed view.
    EXPECT_EQ(KernelOps(m, "v4", Precision::kHighest), std::vector<std::string>{"dot"});
    EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest).rel_l2, 1e-6);
  }
  // A chip without an XLU reads the transposed weights element by element.
  const std::string m = BatchedDotModule(6, 40, 64, 96, "bf16", "f32", true);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault, false, "xlu.count=0").rel_l2, 1e-6);
}

TEST(MxuBatchedDot, ResultStoredInItsTransposesLayout) {
  // Attention's output: P V per (batch, head) [B*H, S, D], transposed to
  // [S, B*H, D] and reshaped to [S*B, H*D] for the output projection. The
  // dot writes its result in the transpose's layout, so the transpose and
  // the reshape are views: no copy kernel.
  const std::string s =
      "HloModule attn_out\n\nENTRY main {\n  p = f32[12,32,32] parameter(0)\n  v = f32[12,32,16] parameter(1)\n"
      "  o = f32[12,32,16] dot(p, v), lhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_batch_dims={0}, "
      "rhs_contracting_dims={1}\n  t = f32[32,12,16] transpose(o), dimensions={1,0,2}\n"
      "  r = f32[128,48] reshape(t)\n  n = f32[128,48] negate(r)\n  ROOT out = (f32[128,48]) tuple(n)\n}\n";
  EXPECT_EQ(KernelOps(s, "v4", Precision::kDefault), (std::vector<std::string>{"dot(batched)", "negate"}));
  EXPECT_LT(RunOnChip(s, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(s, "v4", Precision::kHighest).rel_l2, 1e-6);  // the GEMM engine, same layout
}

// `text` after the fusion pass, printed ("" and a test failure if it fails).
std::string AfterFusionPass(const std::string& text) {
  auto mod = ParseModule(text);
  EXPECT_TRUE(mod.ok()) << mod.status().message();
  if (!mod.ok()) return "";
  compiler::PassManager pm;
  EXPECT_TRUE(pm.AddByName("fusion").ok());
  EXPECT_TRUE(pm.Run(**mod).ok());
  return Print(**mod);
}

// Attention's scores Q K^T and the softmax of their rows, after the fusion
// pass (a fusion(kind=row) reading the dot): `t` operands and result.
std::string ScoresSoftmaxModule(int64_t b, int64_t m, int64_t k, int64_t n, const char* t) {
  std::string s = fmt::format(R"(HloModule scores

add.{0} {{
  x0 = {0}[] parameter(0)
  x1 = {0}[] parameter(1)
  ROOT x2 = {0}[] add(x0, x1)
}}

max.{0} {{
  y0 = {0}[] parameter(0)
  y1 = {0}[] parameter(1)
  ROOT y2 = {0}[] maximum(y0, y1)
}}

ENTRY main {{
  a = {0}[{1},{2},{3}] parameter(0)
  kt = {0}[{1},{4},{3}] parameter(1)
  w = {0}[{1},{3},{4}] transpose(kt), dimensions={{0,2,1}}
  d = {0}[{1},{2},{4}] dot(a, w), lhs_batch_dims={{0}}, lhs_contracting_dims={{2}}, rhs_batch_dims={{0}}, rhs_contracting_dims={{1}}
  ninf = {0}[] constant(-inf)
  mx = {0}[{1},{2}] reduce(d, ninf), dimensions={{2}}, to_apply=max.{0}
  mxb = {0}[{1},{2},{4}] broadcast(mx), dimensions={{0,1}}
  sub = {0}[{1},{2},{4}] subtract(d, mxb)
  e = {0}[{1},{2},{4}] exponential(sub)
  zero = {0}[] constant(0)
  sm = {0}[{1},{2}] reduce(e, zero), dimensions={{2}}, to_apply=add.{0}
  smb = {0}[{1},{2},{4}] broadcast(sm), dimensions={{0,1}}
  p = {0}[{1},{2},{4}] divide(e, smb)
  ROOT out = ({0}[{1},{2},{4}]) tuple(p)
}}
)",
                              t, b, m, k, n);
  return AfterFusionPass(s);
}

TEST(MxuBatchedDot, SoftmaxFusedIntoScores) {
  // One kernel: the scores never leave VMEM (normalized from the f32
  // accumulators, rounded once). Several steps and a partial last one, two
  // column tiles, bf16 and f32; same values as the separate kernels.
  for (const char* t : {"bf16", "f32"}) {
    for (auto [b, m, k, n] : {std::array<int64_t, 4>{24, 128, 64, 128}, std::array<int64_t, 4>{11, 50, 72, 200}}) {
      const std::string mod = ScoresSoftmaxModule(b, m, k, n, t);
      EXPECT_EQ(KernelOps(mod, "v4", Precision::kDefault), std::vector<std::string>{"dot(batched)+softmax"}) << t;
      // (Default precision rounds Q and K to bf16: a few 1e-3 for f32. The
      // bf16 evaluator rounds the scores and every softmax op to bf16; the
      // kernel keeps f32 and rounds once, so it differs from it by about as
      // much as the separate kernels do.)
      const bool bf16 = std::string(t) == "bf16";
      const double tol = bf16 ? 3e-2 : 1e-2;
      Outcome fused = RunOnChip(mod, "v4", Precision::kDefault);
      EXPECT_LT(fused.rel_l2, tol) << t << " " << b << "x" << m << "x" << k << "x" << n;
      setenv("XTPU_NO_SOFTMAX_FUSION", "1", 1);
      EXPECT_EQ(KernelOps(mod, "v4", Precision::kDefault).size(), 2u);
      Outcome apart = RunOnChip(mod, "v4", Precision::kDefault);
      unsetenv("XTPU_NO_SOFTMAX_FUSION");
      EXPECT_LE(fused.rel_l2, apart.rel_l2 * (bf16 ? 1.1 : 1.0) + 1e-6) << t;
    }
  }
  // Highest precision (6 passes): the GEMM engine and the row kernel.
  const std::string f32 = ScoresSoftmaxModule(8, 64, 64, 128, "f32");
  EXPECT_EQ(KernelOps(f32, "v4", Precision::kHighest).size(), 2u);
  EXPECT_LT(RunOnChip(f32, "v4", Precision::kHighest).rel_l2, 1e-5);
  // BERT's attention scores: faster than the two kernels, side by side
  // (45.3k vs 51.3k cycles: the scores never go through HBM).
  const std::string bert = ScoresSoftmaxModule(384, 128, 64, 128, "bf16");
  auto fused = TimeOnV4(bert);
  setenv("XTPU_NO_SOFTMAX_FUSION", "1", 1);
  auto apart = TimeOnV4(bert);
  unsetenv("XTPU_NO_SOFTMAX_FUSION");
  ASSERT_TRUE(fused.has_value() && apart.has_value());
  std::printf("    scores + softmax [384,128,128]: %lld cycles fused, %lld apart\n", (long long)fused->cycles,
              (long long)apart->cycles);
  EXPECT_LT(fused->cycles * 1.1, apart->cycles);
}

TEST(MxuBatchedDot, PipelinedNearHbmBound) {
  // Attention's Q K^T for 8 sequences of 128 and 12 heads: HBM-bound. The
  // GEMM engine took 3.8x its bound (one batch element per step, two
  // steps in flight); the batched kernel keeps several steps of loads in flight.
  auto t = TimeOnV4(BatchedDotModule(96, 128, 64, 128, "bf16", "bf16", true));
  ASSERT_TRUE(t.has_value());
  EXPECT_LT(t->cycles, 1.6 * t->roofline_cycles) << t->cycles << " cycles, roofline " << t->roofline_cycles;
}

// The ops of the kernels `text` lowers to.
std::vector<std::string> KernelOpsOf(const std::string& text, const std::string& chip_name, Precision precision) {
  std::vector<std::string> ops;
  auto module = ParseModule(text);
  auto chip = LoadChip(chip_name);
  if (!module.ok() || !chip.ok()) return ops;
  auto lowered = codegen::LowerModule(**module, *chip, {.precision = precision});
  EXPECT_TRUE(lowered.ok()) << lowered.status().message();
  if (lowered.ok())
    for (const auto& k : lowered->kernels) ops.push_back(k.op);
  return ops;
}

// A dot + bias + GELU (x * (1 + erf(x / sqrt 2)) / 2) + SiLU-scaled
// second output, after the fusion pass: activations run in the epilogue
// (unary ops on the vector unit, x saved for the final multiply).
std::string ActivationModule(const char* t, int64_t m, int64_t k, int64_t n) {
  // The bias is a constant (a bf16 bias must be one; see MxuErrors).
  std::string bias = ConstLine("b", {n}, 5);
  bias.pop_back();
  if (std::string(t) == "bf16") bias.replace(bias.find("f32["), 4, "bf16[");
  std::string text = fmt::format(R"(HloModule act

ENTRY main {{
  x = {0}[{1},{2}] parameter(0)
  w = {0}[{2},{3}] parameter(1)
{4}
  d = {0}[{1},{3}] dot(x, w), lhs_batch_dims={{}}, lhs_contracting_dims={{1}}, rhs_batch_dims={{}}, rhs_contracting_dims={{0}}
  bb = {0}[{1},{3}] broadcast(b), dimensions={{1}}
  y = {0}[{1},{3}] add(d, bb)
  s2 = {0}[] constant(1.41421354)
  s2b = {0}[{1},{3}] broadcast(s2), dimensions={{}}
  t1 = {0}[{1},{3}] divide(y, s2b)
  t2 = {0}[{1},{3}] erf(t1)
  one = {0}[] constant(1)
  ones = {0}[{1},{3}] broadcast(one), dimensions={{}}
  t3 = {0}[{1},{3}] add(t2, ones)
  g0 = {0}[{1},{3}] multiply(y, t3)
  half = {0}[] constant(0.5)
  halfs = {0}[{1},{3}] broadcast(half), dimensions={{}}
  g = {0}[{1},{3}] multiply(g0, halfs)
  ROOT out = ({0}[{1},{3}]) tuple(g)
}}
)",
                                 t, m, k, n, bias);
  return AfterFusionPass(text);
}

TEST(MxuFusion, GeluEpilogue) {
  const std::string f32 = ActivationModule("f32", 300, 200, 260);
  const std::vector<std::string> ops = KernelOpsOf(f32, "v4", Precision::kDefault);
  ASSERT_EQ(ops.size(), 1u) << f32;
  EXPECT_EQ(ops[0], "fusion(output: dot+bias+save+imm+unary+imm+saved+imm)");
  EXPECT_LT(RunOnChip(f32, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(f32, "v4", Precision::kHighest).rel_l2, 1e-6);
  EXPECT_LT(RunOnChip(f32, "v5e", Precision::kHighest).rel_l2, 1e-6);
  // bf16 operands and result: the epilogue runs in f32 and rounds once.
  EXPECT_LT(RunOnChip(ActivationModule("bf16", 300, 200, 260), "v4", Precision::kDefault).rel_l2, 1e-2);
}

// A GEMM-engine switch measured side by side: the values of `small` and the
// cycles of BERT's FFN1 + GELU (4096 x 768 x 3072, bf16) with the engine as
// it is and with the environment variable `off` set.
struct SideBySide {
  Outcome on, off;
  std::optional<sim::timing::TimingStats> ffn1_on, ffn1_off;
};
SideBySide WithAndWithout(const char* off, const std::string& small) {
  const std::string ffn1 = ActivationModule("bf16", 4096, 768, 3072);
  SideBySide r;
  r.on = RunOnChip(small, "v4", Precision::kDefault);
  r.ffn1_on = TimeOnV4(ffn1);
  setenv(off, "1", 1);
  r.off = RunOnChip(small, "v4", Precision::kDefault);
  r.ffn1_off = TimeOnV4(ffn1);
  unsetenv(off);
  EXPECT_TRUE(r.ffn1_on.has_value() && r.ffn1_off.has_value());
  if (r.ffn1_on && r.ffn1_off)
    std::printf("    FFN1 + GELU: %lld cycles, %lld with %s\n", (long long)r.ffn1_on->cycles,
                (long long)r.ffn1_off->cycles, off);
  return r;
}

// Two GEMM-engine mechanisms, each against the engine without it: same
// values, BERT's FFN1 + GELU at least `speedup` times faster.
// - Direct bf16 LHS: a bf16 LHS at default precision is DMAed straight into
//   the MXUs' plane; no vector-unit copy queues behind the long GELU
//   epilogues, so the MXUs keep streaming while the VPU works.
// - Streamed read-out: with one set of accumulators (no halves), a row
//   chunk's read_accs go between the matmuls of its last k-step and the next
//   chunk's first; the read port works while the MXU streams (the small
//   module has several tiles and chunks per MXU).
TEST(MxuFusion, DirectLhsAndStreamedReadout) {
  struct Case {
    const char* off;
    std::string small;
    double speedup;
  };
  for (const Case& c : {Case{"XTPU_NO_DIRECT_LHS", ActivationModule("bf16", 300, 384, 260), 1.2},
                        Case{"XTPU_NO_STREAM_READS", ActivationModule("bf16", 700, 256, 1500), 1.06}}) {
    SideBySide r = WithAndWithout(c.off, c.small);
    EXPECT_LT(r.on.rel_l2, 1e-2) << c.off;
    EXPECT_EQ(r.on.rel_l2, r.off.rel_l2) << c.off;
    ASSERT_TRUE(r.ffn1_on && r.ffn1_off);
    EXPECT_LT(r.ffn1_on->cycles * c.speedup, r.ffn1_off->cycles) << c.off;
  }
}

// GELU's epilogue on fewer vector-unit passes: x / sqrt 2 is a multiply by
// the reciprocal and the final * 0.5 moves into the saved copy of x, so the
// program has no vpu divide and no separate copy (values: GeluEpilogue).
TEST(MxuFusion, EpilogueDivideBecomesMultiply) {
  auto lowered = LowerV4(ActivationModule("bf16", 300, 256, 260));
  ASSERT_TRUE(lowered.has_value());
  int divides = 0, copies = 0, halves = 0;
  for (const auto& core : lowered->program.cores)
    for (const isa::Instruction& i : core) {
      if (i.opcode == isa::Opcode::kVpuBinaryImm && i.op("op").imm == static_cast<int64_t>(isa::BinOp::kDiv)) ++divides;
      if (i.opcode == isa::Opcode::kVpuUnary && i.op("op").imm == static_cast<int64_t>(isa::UnOp::kCopy) &&
          i.op("dtype").imm == static_cast<int64_t>(DType::kF32))
        ++copies;
      if (i.opcode == isa::Opcode::kVpuBinaryImm && i.op("op").imm == static_cast<int64_t>(isa::BinOp::kMul) &&
          i.op("imm").imm == codegen::F32Bits(0.5f))
        ++halves;
    }
  EXPECT_EQ(divides, 0);
  EXPECT_EQ(copies, 0);
  EXPECT_GT(halves, 0);  // the scaled save
}

TEST(MxuPlan, UnevenColumnTilesSplitRowsToo) {
  // BERT's FFN2 shape: N = 768 is 6 column tiles. On 4 MXUs in one row
  // (1 x 4) two MXUs get 2 tiles and two get 1: at best 75% of the MXU
  // bound. A 2 x 2 grid gives each 3 tiles of half the rows; the row chunks
  // come in a multiple of the cores (7 chunks would give one core 4).
  auto t = TimeOnV4(
      "HloModule ffn2\n\nENTRY main {\n  x = bf16[4096,3072] parameter(0)\n  w = bf16[3072,768] parameter(1)\n"
      "  d = f32[4096,768] dot(x, w), lhs_batch_dims={}, lhs_contracting_dims={1}, rhs_batch_dims={}, "
      "rhs_contracting_dims={0}\n  ROOT r = (f32[4096,768]) tuple(d)\n}\n");
  ASSERT_TRUE(t.has_value());
  const double mxu_bound = 2.0 * 4096 * 3072 * 768 / (2.0 * 128 * 128 * 4 * 2);
  EXPECT_LT(t->cycles, 1.25 * mxu_bound) << t->cycles << " cycles, MXU bound " << mxu_bound;
  EXPECT_LT(RunOnChip(Bf16DotModule(300, 256, 768, "f32"), "v4", Precision::kDefault).rel_l2, 1e-6);
}

// ---- performance on the timing model (report only: run with
// --gtest_also_run_disabled_tests --gtest_filter='MxuPerf.*') ----

Literal RandomLiteral(std::vector<int64_t> dims, uint32_t seed) {
  std::vector<float> v = RandomValues(Count(dims), seed);
  return Literal::FromVector(DType::kF32, std::move(dims), v);
}

void ReportTiming(const std::string& what, Module& m, const std::string& chip_name, Precision precision) {
  auto chip = LoadChip(chip_name);
  ASSERT_TRUE(chip.ok());
  auto lowered = codegen::LowerModule(m, *chip, {.precision = precision});
  ASSERT_TRUE(lowered.ok()) << lowered.status().message();
  sim::DispatchLog log;
  sim::Simulator s(*chip, lowered->program, {.dispatch_log = &log, .timing_only = true});
  Status st = s.Run();
  ASSERT_TRUE(st.ok()) << st.message();
  const bool debug = std::getenv("XTPU_MXU_DEBUG") != nullptr;
  auto t = sim::timing::RunTiming(*chip, log, {.record_instructions = debug});
  ASSERT_TRUE(t.ok()) << t.status().message();
  const auto& ts = t->stats;
  if (debug) {  // idle gaps of core 0's mxu0
    double last_end = 0;
    int shown = 0;
    for (const auto& ti : t->instructions) {
      if (ti.core != 0 || ti.unit != "mxu0") continue;
      if (ti.start - last_end > 200 && shown++ < 12)
        std::printf("    mxu0 idle %.0f cycles before pc %d at %.0f\n", ti.start - last_end, ti.pc, ti.start);
      last_end = std::max(last_end, ti.end);
    }
  }
  double peak_cycles = static_cast<double>(lowered->flops) / (2.0 * chip->mxu.rows * chip->mxu.cols * chip->mxu.count *
                                                             chip->core.count);
  std::printf("%-44s %-4s %-8s cycles %10lld  MXU util %5.1f%%  roofline %5.1f%%  (hbm %.0f MiB, %lld instr)\n",
              what.c_str(), chip_name.c_str(), std::string(codegen::PrecisionName(precision)).c_str(),
              static_cast<long long>(ts.cycles), 100.0 * peak_cycles / ts.cycles,
              100.0 * ts.roofline_cycles / ts.cycles, ts.hbm_bytes / 1048576.0,
              static_cast<long long>(lowered->program.num_instructions()));
  if (std::getenv("XTPU_MXU_DEBUG")) {
    std::printf("    sequencer stalls: queue full %.0f, semaphore %.0f, barrier %.0f\n", ts.sequencer_stall_queue_full,
                ts.sequencer_stall_semaphore, ts.sequencer_stall_barrier);
    for (const auto& [unit, u] : ts.units)
      std::printf("    %-12s busy %10.0f  sem %10.0f  dep %10.0f  qempty %10.0f  hbm %10.0f  vmem %10.0f\n", unit.c_str(),
                  u.busy_cycles, u.stall_semaphore, u.stall_dependency, u.stall_queue_empty, u.stall_hbm_bandwidth,
                  u.stall_vmem_bandwidth);
  }
}

std::unique_ptr<Module> BuildDot(int64_t m, int64_t k, int64_t n) {
  auto mod = std::make_unique<Module>("dot");
  Computation* c = mod->AddComputation(std::make_unique<Computation>("main"));
  mod->set_entry(c);
  Builder b(mod.get(), c);
  Instruction* a = *b.Parameter(0, Shape(DType::kF32, {m, k}), "a");
  Instruction* w = *b.Constant(RandomLiteral({k, n}, 1), "w");
  Instruction* d = *b.Dot(a, w, DotDims{{}, {1}, {}, {0}});
  c->set_root(*b.Tuple(std::vector<Instruction*>{d}));
  return mod;
}

std::unique_ptr<Module> BuildConv(const ConvSpec& cs) {
  auto mod = std::make_unique<Module>("conv");
  Computation* c = mod->AddComputation(std::make_unique<Computation>("main"));
  mod->set_entry(c);
  Builder b(mod.get(), c);
  Instruction* x = *b.Parameter(0, Shape(DType::kF32, cs.in), "x");
  Instruction* w = *b.Constant(RandomLiteral(cs.kernel, 1), "w");
  std::vector<WindowDim> win = {{cs.kernel[0], cs.stride_h, cs.pad_h, cs.pad_h, 1, cs.dil_h},
                                {cs.kernel[1], cs.stride_w, cs.pad_w, cs.pad_w, 1, cs.dil_w}};
  ConvDims dims;
  dims.input_batch = 0, dims.input_feature = 3, dims.input_spatial = {1, 2};
  dims.kernel_spatial = {0, 1}, dims.kernel_input_feature = 2, dims.kernel_output_feature = 3;
  dims.output_batch = 0, dims.output_feature = 3, dims.output_spatial = {1, 2};
  auto y = b.Convolution(x, w, win, dims, cs.groups);
  EXPECT_TRUE(y.ok()) << y.status().message();
  c->set_root(*b.Tuple(std::vector<Instruction*>{*y}));
  return mod;
}

TEST(MxuPerf, DISABLED_Dot4096) {
  auto m = BuildDot(4096, 4096, 4096);
  ReportTiming("dot 4096x4096x4096", *m, "v4", Precision::kDefault);
}

TEST(MxuPerf, DISABLED_ResNet50Layers) {
  struct L {
    const char* name;
    ConvSpec c;
  } layers[] = {
      {"conv1 7x7/2 3->64 224", {.in = {64, 224, 224, 3}, .kernel = {7, 7, 3, 64}, .stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3}},
      {"s1 1x1 64->64 56", {.in = {64, 56, 56, 64}, .kernel = {1, 1, 64, 64}}},
      {"s1 3x3 64->64 56", {.in = {64, 56, 56, 64}, .kernel = {3, 3, 64, 64}, .pad_h = 1, .pad_w = 1}},
      {"s1 1x1 64->256 56", {.in = {64, 56, 56, 64}, .kernel = {1, 1, 64, 256}}},
      {"s1 1x1 256->64 56", {.in = {64, 56, 56, 256}, .kernel = {1, 1, 256, 64}}},
      {"s2 3x3/2 128->128 56", {.in = {64, 56, 56, 128}, .kernel = {3, 3, 128, 128}, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
      {"s2 3x3 128->128 28", {.in = {64, 28, 28, 128}, .kernel = {3, 3, 128, 128}, .pad_h = 1, .pad_w = 1}},
      {"s3 3x3 256->256 14", {.in = {64, 14, 14, 256}, .kernel = {3, 3, 256, 256}, .pad_h = 1, .pad_w = 1}},
      {"s3 1x1 1024->256 14", {.in = {64, 14, 14, 1024}, .kernel = {1, 1, 1024, 256}}},
      {"s4 3x3 512->512 7", {.in = {64, 7, 7, 512}, .kernel = {3, 3, 512, 512}, .pad_h = 1, .pad_w = 1}},
      {"s4 1x1 512->2048 7", {.in = {64, 7, 7, 512}, .kernel = {1, 1, 512, 2048}}},
  };
  for (const L& l : layers) {
    auto m = BuildConv(l.c);
    ReportTiming(l.name, *m, "v4", Precision::kDefault);
  }
}

}  // namespace
}  // namespace xtpu
