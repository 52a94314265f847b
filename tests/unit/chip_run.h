// Test helper shared by the unit tests that run lowered programs.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/codegen/lowering.h"
#include "xtpu/sim/simulator.h"

namespace xtpu::testing {

// Runs `lowered`'s program on the functional simulator: its constants and
// `args` (one per input, already in the input's chip type) in, every output
// out (none if the run fails; the failure is a test failure).
inline std::vector<Literal> RunLowered(const ChipConfig& chip, const codegen::LoweredModel& lowered,
                                       const std::vector<Literal>& args) {
  std::vector<Literal> outs;
  sim::Simulator s(chip, lowered.program);
  if (!lowered.constants.empty()) {
    Literal c(Shape(DType::kS8, {static_cast<int64_t>(lowered.constants.size())}), lowered.constants);
    EXPECT_TRUE(s.SetBuffer("constants", c).ok());
  }
  for (size_t i = 0; i < args.size() && i < lowered.inputs.size(); ++i)
    EXPECT_TRUE(s.SetBuffer(lowered.inputs[i].buffer, args[i]).ok());
  Status run = s.Run();
  EXPECT_TRUE(run.ok()) << run.message();
  if (!run.ok()) return outs;
  for (const auto& o : lowered.outputs) {
    auto got = s.GetBuffer(o.buffer);
    EXPECT_TRUE(got.ok());
    if (got.ok()) outs.push_back(std::move(*got));
  }
  return outs;
}

}  // namespace xtpu::testing
