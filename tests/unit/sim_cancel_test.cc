// The simulator's cancel hook (SimOptions::cancel, runtime::RunOptions::cancel):
// polled while a program runs; returning true ends the run with
// StatusCode::kCancelled, and a run that is never cancelled is unchanged.
#include <gtest/gtest.h>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/compile.h"
#include "xtpu/ir/parser.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/runtime/run.h"
#include "xtpu/sim/simulator.h"

namespace xtpu {
namespace {

// 100000 unit instructions: the sequencer fills the XLU's queue and waits,
// so the scheduler goes round many times.
constexpr const char* kLongProgram = "loop r1, 100000\n  xlu0.nop\nendloop\nhalt\n";

ChipConfig V4() {
  StatusOr<ChipConfig> c = LoadChip("v4");
  XTPU_CHECK(c.ok());
  return *c;
}

isa::Program LongProgram() {
  StatusOr<isa::Program> p = isa::Assemble(kLongProgram, "long.s");
  XTPU_CHECK(p.ok());
  return *p;
}

TEST(SimCancel, StopsTheRunWhenAsked) {
  int polls = 0;
  sim::Simulator s(V4(), LongProgram(), {.cancel = [&polls] { return ++polls == 10; }});
  Status st = s.Run();
  EXPECT_EQ(st.code(), StatusCode::kCancelled);
  EXPECT_EQ(st.message(), "simulation cancelled");
  EXPECT_EQ(polls, 10);
  EXPECT_TRUE(s.stats().instructions.empty());  // no counts from a cancelled run
}

TEST(SimCancel, NeverCancelledRunsToTheEnd) {
  int polls = 0;
  sim::Simulator s(V4(), LongProgram(), {.cancel = [&polls] { return ++polls < 0; }});
  Status st = s.Run();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_GT(polls, 100);
  EXPECT_EQ(s.stats().instructions.at("core0.xlu0"), 100000);
}

TEST(SimCancel, RunExecutablePassesItOn) {
  StatusOr<std::unique_ptr<Module>> m = ParseModule(
      "HloModule m\n\nENTRY main {\n  x = f32[8,128] parameter(0)\n  y = f32[8,128] add(x, x)\n"
      "  ROOT out = (f32[8,128]) tuple(y)\n}\n",
      "m.tir");
  ASSERT_TRUE(m.ok()) << m.status().message();
  StatusOr<runtime::Executable> exe = compiler::Compile(std::move(*m), V4());
  ASSERT_TRUE(exe.ok()) << exe.status().message();
  std::vector<Literal> in{Literal(Shape(DType::kF32, {8, 128}))};
  runtime::RunOptions ro;
  ro.cancel = [] { return true; };
  StatusOr<runtime::RunResult> r = runtime::RunExecutable(*exe, in, ro);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  // Never cancelling: polled (at least before the timing model), same run.
  int polls = 0;
  ro.cancel = [&polls] { return ++polls < 0; };
  StatusOr<runtime::RunResult> ok = runtime::RunExecutable(*exe, in, ro);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_GT(polls, 0);
  EXPECT_TRUE(ok->timing.has_value());
}

}  // namespace
}  // namespace xtpu
