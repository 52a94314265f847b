// The functional simulator with one host thread per core (SimOptions::threads
// >= 2): for correctly synchronized programs it must give exactly what the
// serial scheduler (threads = 1) gives — outputs, stats, the dispatch log
// (the timing model's input), fault and deadlock reports — run after run,
// and its cancel hook must still stop it.
#include <gtest/gtest.h>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/compile.h"
#include "xtpu/ir/parser.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/support/random.h"

#include <nlohmann/json.hpp>

namespace xtpu {
namespace {

ChipConfig V4() {
  StatusOr<ChipConfig> c = LoadChip("v4");
  XTPU_CHECK(c.ok());
  return *c;
}

// A small CNN compiled for both cores of v4 (convolutions, bias, relu,
// residual, pooling: MXU, VPU and DMA work with barriers between layers).
std::string ConstLine(const std::string& name, const std::string& dims, int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::string s = "  " + name + " = f32[" + dims + "] constant({";
  for (int64_t i = 0; i < n; ++i)
    s += fmt::format("{}{:.6g}", i ? ", " : "", static_cast<double>(rng.Next() % 2001) / 1000.0 - 1.0);
  return s + "})\n";
}

runtime::Executable TwoCoreModel() {
  const std::string win = "window={size=3x3 stride=1x1 pad=1_1x1_1 lhs_dilate=1x1 rhs_dilate=1x1}, "
                          "dim_labels=b01f_01io->b01f, feature_group_count=1, batch_group_count=1";
  std::string text = "HloModule cnn\n\nENTRY main {\n  x = f32[2,16,16,32] parameter(0)\n";
  text += ConstLine("w1", "3,3,32,64", 3 * 3 * 32 * 64, 1);
  text += ConstLine("w2", "3,3,64,64", 3 * 3 * 64 * 64, 2);
  text += "  c1 = f32[2,16,16,64] convolution(x, w1), " + win + "\n";
  text += "  zero = f32[] constant(0)\n  zb = f32[2,16,16,64] broadcast(zero), dimensions={}\n";
  text += "  r1 = f32[2,16,16,64] maximum(c1, zb)\n";
  text += "  c2 = f32[2,16,16,64] convolution(r1, w2), " + win + "\n";
  text += "  s = f32[2,16,16,64] add(c2, r1)\n  ROOT out = (f32[2,16,16,64]) tuple(s)\n}\n";
  StatusOr<std::unique_ptr<Module>> m = ParseModule(text, "cnn.tir");
  if (!m.ok()) ADD_FAILURE() << m.status().message();
  XTPU_CHECK(m.ok());
  StatusOr<runtime::Executable> exe = compiler::Compile(std::move(*m), V4());
  if (!exe.ok()) ADD_FAILURE() << exe.status().message();
  XTPU_CHECK(exe.ok());
  return *exe;
}

struct Outcome {
  Status status;
  std::vector<Literal> outputs;
  nlohmann::json stats;
  sim::DispatchLog log;
};

Outcome RunModel(const runtime::Executable& exe, int threads) {
  Outcome o;
  sim::Simulator s(V4(), exe.program, {.seed = 5, .threads = threads, .dispatch_log = &o.log});
  for (const runtime::ConstantData& c : exe.constants) EXPECT_TRUE(s.MapBuffer(c.buffer, c.bytes).ok());
  o.status = s.Run();  // inputs: seeded random
  if (!o.status.ok()) return o;
  for (const auto& out : exe.outputs) o.outputs.push_back(*s.GetBuffer(out.buffer));
  o.stats = s.stats().ToJson();
  return o;
}

bool SameLog(const sim::DispatchLog& a, const sim::DispatchLog& b) {
  if (a.size() != b.size()) return false;
  for (size_t c = 0; c < a.size(); ++c) {
    if (a[c].size() != b[c].size()) return false;
    for (size_t i = 0; i < a[c].size(); ++i) {
      const sim::DispatchRecord &x = a[c][i], &y = b[c][i];
      if (x.pc != y.pc || x.opcode != y.opcode || x.unit != y.unit || x.wait != y.wait || x.signal != y.signal ||
          x.v != y.v)
        return false;
    }
  }
  return true;
}

TEST(SimParallel, SameOutputsStatsAndLogAsSerial) {
  runtime::Executable exe = TwoCoreModel();
  ASSERT_EQ(exe.program.cores.size(), 2u);
  Outcome serial = RunModel(exe, 1);
  ASSERT_TRUE(serial.status.ok()) << serial.status.message();
  EXPECT_GT(serial.stats["instructions"]["core1.mxu0"].get<int64_t>(), 0);  // both cores work
  for (int rep = 0; rep < 5; ++rep) {
    Outcome par = RunModel(exe, 2 + rep % 2);
    ASSERT_TRUE(par.status.ok()) << par.status.message();
    ASSERT_EQ(par.outputs.size(), serial.outputs.size());
    for (size_t i = 0; i < par.outputs.size(); ++i) EXPECT_EQ(par.outputs[i].bytes(), serial.outputs[i].bytes());
    EXPECT_EQ(par.stats, serial.stats);
    EXPECT_TRUE(SameLog(par.log, serial.log));
  }
}

Status RunText(const std::string& text, int threads, sim::SimOptions o = {}) {
  StatusOr<isa::Program> p = isa::Assemble(text, "t.s");
  if (!p.ok()) return p.status();
  o.threads = threads;
  sim::Simulator s(V4(), *p, o);
  return s.Run();
}

TEST(SimParallel, SameDeadlocksAndFaultsAsSerial) {
  const std::vector<std::string> programs = {
      // a missing barrier on core 1
      ".core 0\nnop\nbarrier\nhalt\n.core 1\nset r1, 1\nhalt\n",
      // one barrier too many on core 1
      ".core 0\nbarrier\n.core 1\nbarrier\nbarrier\n",
      // core 0 waits on a semaphore no one signals, core 1 at a barrier
      ".core 0\nnop wait=s3\nbarrier\n.core 1\nbarrier\n",
      // both cores stuck on semaphores after a barrier, one with a full queue
      ".core 0\nbarrier\nloop r1, 100\n  vpu.nop wait=s1\nendloop\n.core 1\nbarrier\nxlu0.nop wait=s2\n",
      // a fault on core 1 after two barriers (core 0 waits at the third)
      ".core 0\nbarrier\nbarrier\nbarrier\n.core 1\nbarrier\nbarrier\ndma0.load dst=0, src=1 << 38, bytes=4\n"
      "barrier\n",
  };
  for (const std::string& text : programs) {
    SCOPED_TRACE(text);
    Status serial = RunText(text, 1);
    ASSERT_FALSE(serial.ok());
    ASSERT_NE(serial.message().find("core"), std::string::npos) << serial.message();
    for (int rep = 0; rep < 5; ++rep) EXPECT_EQ(RunText(text, 2).message(), serial.message());
  }
}

TEST(SimParallel, CancelStopsBothCores) {
  // Both cores loop long, meeting at barriers; cancelled after 50 polls.
  const std::string text =
      ".core 0\nloop r1, 20000\n  xlu0.nop\n  barrier\nendloop\n"
      ".core 1\nloop r1, 20000\n  vpu.nop\n  barrier\nendloop\n";
  int polls = 0;
  Status st = RunText(text, 2, {.cancel = [&polls] { return ++polls == 50; }});
  EXPECT_EQ(st.code(), StatusCode::kCancelled);
  EXPECT_EQ(polls, 50);
  // Core 0 done early, core 1 still busy: polled while core 0's thread waits.
  polls = 0;
  st = RunText(".core 0\nhalt\n.core 1\nloop r1, 100000000\n  vpu.nop\nendloop\n", 2,
               {.cancel = [&polls] { return ++polls == 3; }});
  EXPECT_EQ(st.code(), StatusCode::kCancelled);
  // And a run that is never cancelled ends normally.
  EXPECT_TRUE(RunText(text, 2, {.cancel = [] { return false; }}).ok());
}

}  // namespace
}  // namespace xtpu
