// Timing model tests: the PE-by-PE systolic reference against the fast MXU
// formula (cycles, exact boundary) and the fast MXU kernel (output bits); the
// event engine on small programs (weight-load overlap, HBM sharing); stats and
// the Chrome trace of tests/asm/gemm_bf16_256.s.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "xtpu/chip/chip.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/sim/mxu_kernel.h"
#include "xtpu/sim/sim_command.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/sim/timing/systolic_reference.h"
#include "xtpu/sim/timing/timing_model.h"
#include "xtpu/sim/timing/unit_models.h"
#include "xtpu/support/npy.h"

namespace xtpu {
namespace {

using sim::timing::MxuMatmulCycles;
using sim::timing::SystolicArray;

std::string AsmDir() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind('/')) + "/../asm/";
}

ChipConfig Chip(const std::string& name) {
  StatusOr<ChipConfig> c = LoadChip(name);
  XTPU_CHECK(c.ok());
  return *c;
}

// bf16-representable values, so products are exact as on the MXU.
std::vector<float> RandomBf16(std::mt19937& rng, int64_t n) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = bf16::FromFloat(d(rng)).ToFloat();
  return v;
}

// Runs the PE model for one matmul; checks the exact completion boundary
// and returns the cycle count.
int64_t RunPe(SystolicArray& pe, const std::vector<float>& a, int64_t m, bool accumulate) {
  int64_t start = pe.cycle();
  pe.StartMatmul(a, m, accumulate);
  while (!pe.Done()) pe.Step();
  return pe.cycle() - start;
}

TEST(SystolicReference, CyclesMatchFormulaAndBoundary) {
  std::mt19937 rng(1);
  struct Shape { int64_t rows, cols, m, k, n; };
  std::vector<Shape> shapes = {{8, 8, 1, 8, 8},    {8, 8, 7, 8, 8},     {8, 8, 8, 8, 8},   {8, 8, 9, 8, 8},
                               {8, 8, 17, 3, 5},   {4, 16, 5, 4, 16},   {16, 4, 33, 16, 1}, {1, 1, 3, 1, 1},
                               {128, 128, 1, 128, 128}, {128, 128, 127, 128, 128}, {128, 128, 128, 128, 128},
                               {128, 128, 129, 128, 128}, {128, 128, 129, 127, 129 - 2}};
  std::uniform_int_distribution<int> dim(1, 24);
  for (int i = 0; i < 40; ++i) {
    int64_t rows = dim(rng), cols = dim(rng);
    std::uniform_int_distribution<int64_t> mm(1, 300), kk(1, rows), nn(1, cols);
    shapes.push_back({rows, cols, mm(rng), kk(rng), nn(rng)});
  }
  for (const Shape& s : shapes) {
    SCOPED_TRACE(fmt::format("array {}x{} m={} k={} n={}", s.rows, s.cols, s.m, s.k, s.n));
    int64_t expect = MxuMatmulCycles(s.m, s.rows, s.n);
    // t-1 cycles: not done; t cycles: done.
    SystolicArray pe(s.rows, s.cols);
    pe.LoadWeights(RandomBf16(rng, s.k * s.n), s.k, s.n);
    pe.StartMatmul(RandomBf16(rng, s.m * s.k), s.m, false);
    for (int64_t t = 0; t + 1 < expect; ++t) pe.Step();
    EXPECT_FALSE(pe.Done()) << "done after " << expect - 1 << " cycles";
    pe.Step();
    EXPECT_TRUE(pe.Done()) << "not done after " << expect << " cycles";
    EXPECT_EQ(pe.cycle(), expect);
  }
}

TEST(SystolicReference, BitsMatchFastKernel) {
  std::mt19937 rng(2);
  struct Shape { int64_t rows, cols, m, k, n; };
  std::vector<Shape> shapes = {{128, 128, 1, 128, 128}, {128, 128, 129, 128, 128}, {128, 128, 37, 127, 65}};
  std::uniform_int_distribution<int> dim(1, 32);
  for (int i = 0; i < 30; ++i) {
    int64_t rows = dim(rng), cols = dim(rng);
    std::uniform_int_distribution<int64_t> mm(1, 300), kk(1, rows), nn(1, cols);
    shapes.push_back({rows, cols, mm(rng), kk(rng), nn(rng)});
  }
  for (const Shape& s : shapes) {
    SCOPED_TRACE(fmt::format("array {}x{} m={} k={} n={}", s.rows, s.cols, s.m, s.k, s.n));
    std::vector<float> w = RandomBf16(rng, s.k * s.n);
    std::vector<float> a1 = RandomBf16(rng, s.m * s.k), a2 = RandomBf16(rng, s.m * s.k);
    SystolicArray pe(s.rows, s.cols);
    pe.LoadWeights(w, s.k, s.n);
    RunPe(pe, a1, s.m, false);
    RunPe(pe, a2, s.m, true);  // accumulate into the same rows
    std::vector<float> c(s.m * s.n, 0.0f);
    sim::MatmulF32(a1.data(), s.k, w.data(), s.n, c.data(), s.n, s.m, s.k, s.n, false, 2);
    sim::MatmulF32(a2.data(), s.k, w.data(), s.n, c.data(), s.n, s.m, s.k, s.n, true, 2);
    const std::vector<float>& got = pe.accumulators();
    int bad = 0;
    for (int64_t i = 0; i < s.m * s.n && bad < 5; ++i) {
      if (std::bit_cast<uint32_t>(got[i]) != std::bit_cast<uint32_t>(c[i])) {
        ADD_FAILURE() << "element " << i << ": PE " << got[i] << " kernel " << c[i];
        ++bad;
      }
    }
  }
}

TEST(SystolicReference, BackToBackMatmulsPipeline) {
  std::mt19937 rng(3);
  SystolicArray pe(16, 16);
  pe.LoadWeights(RandomBf16(rng, 16 * 16), 16, 16);
  pe.StartMatmul(RandomBf16(rng, 20 * 16), 20, false);
  pe.StartMatmul(RandomBf16(rng, 30 * 16), 30, false);
  while (!pe.Done()) pe.Step();
  // The second matmul's rows follow the first's without a bubble.
  EXPECT_EQ(pe.cycle(), 20 + MxuMatmulCycles(30, 16, 16));
}

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "%s\n", msg.c_str());
  std::abort();
}

struct Timed {
  sim::timing::TimingResult result;
  sim::SimStats functional;
};

Timed RunProgram(const ChipConfig& chip, const std::string& text) {
  StatusOr<isa::Program> p = isa::Assemble(text, "test.s");
  if (!p.ok()) Die(p.status().message());
  sim::DispatchLog log;
  sim::Simulator s(chip, *p, {.threads = 2, .dispatch_log = &log});
  Status st = s.Run();
  if (!st.ok()) Die(st.message());
  StatusOr<sim::timing::TimingResult> t = sim::timing::RunTiming(chip, log);
  if (!t.ok()) Die(t.status().message());
  return {*t, s.stats()};
}

const sim::timing::TimedInstruction& Find(const sim::timing::TimingResult& r, const std::string& unit,
                                          isa::Opcode op, int nth = 0) {
  for (const auto& t : r.instructions)
    if (t.unit == unit && t.opcode == op && nth-- == 0) return t;
  Die("no such instruction");
  return r.instructions[0];
}

TEST(TimingEngine, SingleMatmulTakesFormulaCycles) {
  ChipConfig chip = Chip("v4");
  for (int64_t m : {1, 127, 128, 129, 300}) {
    Timed t = RunProgram(chip, fmt::format(R"(
.buffer X vmem bf16[512,128] input
mxu0.load_weights src=X, stride=256, k=128, n=128
mxu0.matmul lhs=X, stride=256, m={}, acc=0
halt
)",
                                           m));
    const auto& mm = Find(t.result, "mxu0", isa::Opcode::kMxuMatmul);
    const auto& lw = Find(t.result, "mxu0", isa::Opcode::kMxuLoadWeights);
    EXPECT_EQ(lw.end - lw.start, WeightLoadCycles(chip));
    EXPECT_EQ(mm.start, lw.end);  // waits for its weights
    EXPECT_EQ(mm.end - mm.start, MxuMatmulCycles(m, 128, 128)) << "m=" << m;
    EXPECT_EQ(t.result.stats.mxu_flops, 2 * m * 128 * 128);
  }
}

TEST(TimingEngine, WeightLoadOverlapsWithDoubleBuffering) {
  const std::string prog = R"(
.buffer X vmem bf16[512,128] input
mxu0.load_weights src=X, stride=256, k=128, n=128
mxu0.matmul lhs=X, stride=256, m=256, acc=0
mxu0.load_weights src=X, stride=256, k=128, n=128
mxu0.matmul lhs=X, stride=256, m=256, acc=256
halt
)";
  ChipConfig chip = Chip("v4");
  Timed two = RunProgram(chip, prog);
  const auto& m0 = Find(two.result, "mxu0", isa::Opcode::kMxuMatmul, 0);
  const auto& m1 = Find(two.result, "mxu0", isa::Opcode::kMxuMatmul, 1);
  const auto& l1 = Find(two.result, "mxu0", isa::Opcode::kMxuLoadWeights, 1);
  EXPECT_LT(l1.start, m0.start + 256);       // the second load overlaps the first matmul
  EXPECT_EQ(m1.start, m0.start + 256);       // no bubble between the two streams
  ASSERT_TRUE(ApplyOverride(chip, "mxu.weight_buffers=1").ok());
  Timed one = RunProgram(chip, prog);
  const auto& n0 = Find(one.result, "mxu0", isa::Opcode::kMxuMatmul, 0);
  const auto& k1 = Find(one.result, "mxu0", isa::Opcode::kMxuLoadWeights, 1);
  EXPECT_GE(k1.start, n0.start + 256);  // single buffer: the load waits for the stream
  EXPECT_GT(one.result.stats.cycles, two.result.stats.cycles);
}

TEST(TimingEngine, HbmBandwidthIsShared) {
  ChipConfig chip = Chip("v4");
  const int64_t bytes = 4 << 20;
  auto prog = [&](int engines) {
    std::string t = fmt::format(".buffer A hbm s8[{}] input\n", bytes * 2);
    for (int e = 0; e < engines; ++e) t += fmt::format("dma{}.load dst={}, src=A+{}, bytes={}\n", e, e * bytes, e * bytes, bytes);
    return t + "halt\n";
  };
  Timed one = RunProgram(chip, prog(1));
  Timed two = RunProgram(chip, prog(2));
  double stream = bytes / HbmBytesPerCycle(chip);
  int64_t lat = sim::timing::HbmLatencyCycles(chip);
  const auto& d = Find(one.result, "dma0", isa::Opcode::kDmaLoad);
  EXPECT_NEAR(d.end - d.start, lat + stream, 1e-6);
  const auto& d1 = Find(two.result, "dma1", isa::Opcode::kDmaLoad);
  EXPECT_NEAR(d1.end - d1.start, lat + 2 * stream, 2.0);  // half the bandwidth each (started 1 cycle apart)
  EXPECT_GT(two.result.stats.units.at("core0.dma0").stall_hbm_bandwidth, 0.4 * stream);
}

TEST(TimingEngine, HbmIsSharedByCores) {
  ChipConfig chip = Chip("v4");
  const int64_t bytes = 4 << 20;
  std::string prog = fmt::format(".buffer A hbm s8[{0}] input\n.core 0\ndma0.load dst=0, src=A, bytes={0}\nhalt\n"
                                 ".core 1\ndma0.load dst=0, src=A, bytes={0}\nhalt\n", bytes);
  Timed t = RunProgram(chip, prog);
  double stream = bytes / HbmBytesPerCycle(chip);
  EXPECT_NEAR(static_cast<double>(t.result.stats.cycles), sim::timing::HbmLatencyCycles(chip) + 2 * stream + 1, 1.0);
  EXPECT_EQ(t.result.stats.cores_used, 2);
}

TEST(TimingEngine, DmaEngineOverlapsLatencies) {
  ChipConfig chip = Chip("v4");
  const int64_t bytes = 32768;
  std::string prog = fmt::format(".buffer A hbm s8[{}] input\n", 8 * bytes);
  for (int i = 0; i < 8; ++i) prog += fmt::format("dma0.load dst={0}, src=A+{0}, bytes={1}\n", i * bytes, bytes);
  prog += "halt\n";
  Timed t = RunProgram(chip, prog);
  double stream = bytes / HbmBytesPerCycle(chip);
  int64_t lat = sim::timing::HbmLatencyCycles(chip);
  const auto& first = Find(t.result, "dma0", isa::Opcode::kDmaLoad, 0);
  const auto& last = Find(t.result, "dma0", isa::Opcode::kDmaLoad, 7);
  // One latency, then the eight transfers' data back to back.
  EXPECT_NEAR(last.end - first.start, lat + 8 * stream, 1e-6);
}

TEST(TimingEngine, VectorAndCrossLaneCosts) {
  ChipConfig chip = Chip("v4");
  Timed t = RunProgram(chip, R"(
vpu.unary copy, f32, 0x100000, 0, 64, 1024, 4096, 4096
vpu.unary exp, f32, 0x100000, 0, 64, 1024, 4096, 4096
halt
)");
  const auto& copy = Find(t.result, "vpu", isa::Opcode::kVpuUnary, 0);
  const auto& exp = Find(t.result, "vpu", isa::Opcode::kVpuUnary, 1);
  double width = chip.vpu.sublanes * chip.vpu.lanes * chip.vpu.alus;
  double vmem = chip.vmem.ports * chip.vmem.port_bytes_per_cycle;
  // copy: 2048 elements per cycle would need 16 KiB/cycle of VMEM; the ports
  // give 12 KiB, so it is VMEM-bound. exp: 8 passes, compute-bound.
  double copy_stream = std::max(64 * 1024 / width, 64 * 1024 * 8 / vmem);
  EXPECT_NEAR(copy.end - copy.start, copy_stream + 8, 1e-6);
  EXPECT_NEAR(exp.start, copy.start + copy_stream, 1e-6);  // the pipeline latency overlaps
  EXPECT_NEAR(exp.end - exp.start, 8 * (64 * 1024 / width) + 8, 1e-6);
  EXPECT_GT(t.result.stats.units.at("core0.vpu").stall_vmem_bandwidth, 0);
  Timed x = RunProgram(chip, "xlu0.transpose f32, 0x80000, 0, 128, 128, 512, 512\nhalt\n");
  const auto& tr = Find(x.result, "xlu0", isa::Opcode::kXluTranspose);
  EXPECT_EQ(tr.end - tr.start, 128 * 128 / chip.vpu.lanes + chip.vpu.lanes);
}

// Runs `text` and the timing model with sequencer instructions in the trace.
sim::timing::TimingResult RunWithSequencer(const ChipConfig& chip, const std::string& text, bool timing_only = false) {
  StatusOr<isa::Program> p = isa::Assemble(text, "test.s");
  if (!p.ok()) Die(p.status().message());
  sim::DispatchLog log;
  sim::Simulator s(chip, *p, {.threads = 1, .dispatch_log = &log, .timing_only = timing_only});
  Status st = s.Run();
  if (!st.ok()) Die(st.message());
  StatusOr<sim::timing::TimingResult> t = sim::timing::RunTiming(chip, log, {.trace_sequencer = true});
  if (!t.ok()) Die(t.status().message());
  return *t;
}

const sim::timing::TimedInstruction& FindOnCore(const sim::timing::TimingResult& r, int core, const std::string& unit,
                                                isa::Opcode op) {
  for (const auto& t : r.instructions)
    if (t.core == core && t.unit == unit && t.opcode == op) return t;
  Die("no such instruction");
  return r.instructions[0];
}

TEST(TimingEngine, BarrierReleasesAfterTheLastArrival) {
  ChipConfig chip = Chip("v4");
  const int64_t bytes = 1 << 20;
  // Core 0 arrives late (after a 1 MiB load); core 1 arrives at once.
  sim::timing::TimingResult t = RunWithSequencer(chip, fmt::format(R"(
.buffer A hbm s8[{0}] input
.core 0
dma0.load dst=0, src=A, bytes={0}, signal=s0
nop wait=s0
barrier
vpu.nop
halt
.core 1
barrier signal=s3
vpu.nop
nop wait=s3
halt
)", bytes));
  const auto& load = FindOnCore(t, 0, "dma0", isa::Opcode::kDmaLoad);
  const auto& b0 = FindOnCore(t, 0, "seq", isa::Opcode::kBarrier);
  const auto& b1 = FindOnCore(t, 1, "seq", isa::Opcode::kBarrier);
  const int64_t release = 1 + sim::timing::kBarrierSyncCycles;
  EXPECT_EQ(b1.start, 0);
  EXPECT_NEAR(b0.start, load.end + 1, 1e-6);  // the nop takes the cycle after the load retired
  EXPECT_NEAR(b0.end, b0.start + release, 1e-6);
  EXPECT_NEAR(b1.end, b0.end, 1e-6);  // both released at max arrival + 1 + sync
  // The next instructions issue at the release, start a cycle later, together.
  const auto& v0 = FindOnCore(t, 0, "vpu", isa::Opcode::kVpuNop);
  const auto& v1 = FindOnCore(t, 1, "vpu", isa::Opcode::kVpuNop);
  EXPECT_NEAR(v0.start, b0.end + 1, 1e-6);
  EXPECT_NEAR(v1.start, v0.start, 1e-6);
  // The barrier's signal arrives at the release: `nop wait=s3` issues then.
  EXPECT_NEAR(FindOnCore(t, 1, "seq", isa::Opcode::kNop).start, b1.end + 1, 1e-6);
  // Core 1's sequencer waited at the barrier from cycle 0 until core 0 arrived.
  EXPECT_NEAR(t.stats.sequencer_stall_barrier, b0.start, 1e-6);
  EXPECT_NEAR(nlohmann::json::parse(t.stats.ToJson().dump())["sequencer_stall_cycles"]["barrier"].get<double>(),
              b0.start, 1e-6);
  // One core alone still pays the sync latency.
  sim::timing::TimingResult one = RunWithSequencer(chip, "barrier\nhalt\n");
  const auto& b = FindOnCore(one, 0, "seq", isa::Opcode::kBarrier);
  EXPECT_EQ(b.end - b.start, release);
}

TEST(TimingEngine, BarrierExample) {
  ChipConfig chip = Chip("v4");
  StatusOr<std::string> text = ReadFileToString(AsmDir() + "barrier_2core.s");
  ASSERT_TRUE(text.ok());
  sim::timing::TimingResult t = RunWithSequencer(chip, *text);
  // Each core's second load starts after both cores' stores retired.
  double last_store = std::max(FindOnCore(t, 0, "dma1", isa::Opcode::kDmaStore).end,
                               FindOnCore(t, 1, "dma1", isa::Opcode::kDmaStore).end);
  for (int c = 0; c < 2; ++c) {
    int n = 0;
    for (const auto& i : t.instructions)
      if (i.core == c && i.unit == "dma0" && i.opcode == isa::Opcode::kDmaLoad && n++ == 1)
        EXPECT_GE(i.start, last_store + 1 + sim::timing::kBarrierSyncCycles);
  }
  EXPECT_EQ(t.stats.cores_used, 2);
}

TEST(TimingEngine, GatherIsALoadOfBurstRows) {
  ChipConfig chip = Chip("v4");
  const double bpc = HbmBytesPerCycle(chip);
  const int64_t lat = sim::timing::HbmLatencyCycles(chip);
  Timed load = RunProgram(chip, R"(
.buffer T hbm f32[1024,128] input
dma0.load dst=0x10000, src=T, bytes=512, n1=64, ds1=512, ss1=512
halt
)");
  const auto& l = Find(load.result, "dma0", isa::Opcode::kDmaLoad);
  EXPECT_NEAR(l.end - l.start, lat + 64 * 512 / bpc, 1e-6);
  Timed alone = RunProgram(chip, R"(
.buffer T hbm f32[1024,128] input
dma1.gather dst=0x80000, src=T, idx=0, rows=64, bytes=512, stride=512, limit=1024
halt
)");
  const auto& ga = Find(alone.result, "dma1", isa::Opcode::kDmaGather);
  EXPECT_NEAR(ga.end - ga.start, l.end - l.start + 1, 1e-6);  // the load's time + 1 cycle to read the indices
  Timed tiny = RunProgram(chip, R"(
.buffer T hbm f32[1024,128] input
dma2.gather dst=0x80000, src=T, idx=0, rows=64, bytes=8, stride=512, limit=1024
halt
)");
  const auto& gt = Find(tiny.result, "dma2", isa::Opcode::kDmaGather);
  // 8-byte rows still cost a whole HBM burst each.
  EXPECT_NEAR(gt.end - gt.start, lat + 1 + 64 * sim::timing::kHbmBurstBytes / bpc, 1e-6);
  EXPECT_EQ(tiny.result.stats.hbm_bytes, 64 * 8);
}

TEST(TimingEngine, TimingOnlyGivesTheSameCycles) {
  ChipConfig chip = Chip("v4");
  StatusOr<std::string> text = ReadFileToString(AsmDir() + "gemm_bf16_256.s");
  ASSERT_TRUE(text.ok());
  sim::timing::TimingResult full = RunWithSequencer(chip, *text, false);
  sim::timing::TimingResult fast = RunWithSequencer(chip, *text, true);
  EXPECT_GT(full.stats.cycles, 0);
  EXPECT_EQ(full.stats.cycles, fast.stats.cycles);
  EXPECT_EQ(full.stats.ToJson(), fast.stats.ToJson());
  // Through the command: the same cycles in the stats file, and outputs are refused.
  std::string dir = ::testing::TempDir();
  sim::SimCommandOptions o;
  o.program = AsmDir() + "gemm_bf16_256.s";
  o.stats_path = dir + "/timing_only_stats.json";
  o.timing_only = true;
  std::string summary;
  Status st = sim::RunSimCommand(o, &summary);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_NE(summary.find("timing only: no values"), std::string::npos) << summary;
  StatusOr<std::string> stats = ReadFileToString(o.stats_path);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(nlohmann::json::parse(*stats)["timing"]["cycles"].get<int64_t>(), full.stats.cycles);
  o.output_dir = dir;
  EXPECT_EQ(sim::RunSimCommand(o, &summary).message(),
            "a timing-only run computes no values: drop the outputs (" + dir + ")");
}

TEST(TimingEngine, Gemm256StatsAndTrace) {
  ChipConfig chip = Chip("v4");
  StatusOr<std::string> text = ReadFileToString(AsmDir() + "gemm_bf16_256.s");
  ASSERT_TRUE(text.ok());
  Timed t = RunProgram(chip, *text);
  const auto& s = t.result.stats;
  EXPECT_EQ(s.mxu_flops, 2LL * 256 * 256 * 256);
  EXPECT_EQ(s.mxu_flops, t.functional.mxu_flops);
  EXPECT_GT(s.cycles, s.roofline_cycles);
  EXPECT_GT(s.mxu_utilization, 0.0);
  EXPECT_LE(s.mxu_utilization_used_cores, 1.0);
  EXPECT_EQ(s.hbm_bytes, t.functional.hbm_read_bytes + t.functional.hbm_write_bytes);
  std::printf("gemm_bf16_256.s on v4: %lld cycles (%.3f us), MXU utilization %.4f of the chip, %.4f of core 0; "
              "roofline bound %.0f cycles\n",
              static_cast<long long>(s.cycles), s.seconds * 1e6, s.mxu_utilization, s.mxu_utilization_used_cores,
              s.roofline_cycles);
  nlohmann::json stats = s.ToJson();
  std::string text_stats = stats.dump();
  nlohmann::json back = nlohmann::json::parse(text_stats);
  EXPECT_EQ(back["cycles"].get<int64_t>(), s.cycles);
  EXPECT_TRUE(back["stall_cycles"].contains("semaphore"));
  EXPECT_TRUE(back["units"].contains("core0.mxu3"));
  // The trace: one "X" event per unit instruction, valid JSON.
  std::string trace = sim::timing::TraceJson(chip, t.result).dump();
  nlohmann::json tr = nlohmann::json::parse(trace);
  int64_t unit_instructions = 0;
  for (const auto& [unit, n] : t.functional.instructions)
    if (unit.find(".seq") == std::string::npos) unit_instructions += n;
  int64_t x = 0;
  std::set<int> tids;
  for (const auto& e : tr["traceEvents"]) {
    if (e["ph"] == "X") {
      ++x;
      tids.insert(e["tid"].get<int>());
      EXPECT_GE(e["dur"].get<double>(), 0.0);
    }
  }
  EXPECT_EQ(x, unit_instructions);
  EXPECT_EQ(tids.size(), 7u);  // dma0, dma1, dma2, mxu0..3
}

TEST(TimingEngine, SimCommandWritesStatsAndTrace) {
  std::string dir = ::testing::TempDir();
  sim::SimCommandOptions o;
  o.program = AsmDir() + "gemm_bf16_256.s";
  o.stats_path = dir + "/timing_stats.json";
  o.trace_path = dir + "/timing_trace.json";
  std::string summary;
  Status st = sim::RunSimCommand(o, &summary);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_NE(summary.find("cycles"), std::string::npos) << summary;
  StatusOr<std::string> stats = ReadFileToString(o.stats_path);
  ASSERT_TRUE(stats.ok());
  nlohmann::json j = nlohmann::json::parse(*stats);
  EXPECT_GT(j["timing"]["cycles"].get<int64_t>(), 0);
  EXPECT_TRUE(j.contains("config"));
  StatusOr<std::string> trace = ReadFileToString(o.trace_path);
  ASSERT_TRUE(trace.ok());
  EXPECT_FALSE(nlohmann::json::parse(*trace)["traceEvents"].empty());
}

}  // namespace
}  // namespace xtpu
