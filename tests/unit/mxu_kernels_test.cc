// Matrix-unit dots and output fusions (the GEMM engine: plans, epilogues,
// bf16 operands, errors): chip-form modules lowered with LowerModule, run on
// the functional simulator and compared with the reference evaluator.
// Default precision (one bf16 pass) must be within rel. L2 1e-2 of the f32
// reference, highest (six passes) within 1e-6. Convolutions:
// mxu_conv_test.cc; batched dots: mxu_batched_test.cc.

#include "mxu_test_util.h"

namespace xtpu {
namespace {

using namespace mxutest;

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


TEST(MxuErrors, NoBf16MatrixUnit) {
  auto module = ParseModule(DotModule(8, 8, 8, true));
  ASSERT_TRUE(module.ok());
  auto chip = LoadChip("v1");
  ASSERT_TRUE(chip.ok());
  auto lowered = codegen::LowerModule(**module, *chip, {});
  ASSERT_FALSE(lowered.ok());
  EXPECT_NE(lowered.status().message().find("bf16"), std::string::npos) << lowered.status().message();
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
  const std::vector<std::string> ops = KernelOps(f32, "v4", Precision::kDefault);
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
