// Running a compiled executable on the simulated chip: the functional
// simulator computes the values, the timing model the cycles.
//
//   ASSIGN_OR_RETURN(runtime::RunResult r, runtime::RunExecutable(exe, inputs, {}));
//   r.outputs[0];  r.timing->stats.cycles;  runtime::PerformanceJson(exe, r);
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "xtpu/chip/chip.h"
#include "xtpu/ir/literal.h"
#include "xtpu/runtime/executable.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/sim/timing/timing_model.h"
#include "xtpu/support/status.h"

namespace xtpu::runtime {

struct RunOptions {
  bool timing = true;        // run the timing model
  bool timing_only = false;  // skip values (outputs are not computed)
  bool record_instructions = true;  // per-instruction timing (per-kernel table, trace)
  int threads = 0;
  int64_t max_steps = 0;     // 0 = unlimited
  // Polled during the functional simulation and before the timing model
  // (sim::SimOptions::cancel); true ends the run with StatusCode::kCancelled.
  std::function<bool()> cancel;
  // If set, called now and then with the stage ("simulate", "timing") and
  // the fraction done (estimated from the program counter while simulating),
  // for progress bars. Needs timing (the dispatch log) to report "simulate".
  std::function<void(std::string_view stage, double fraction)> progress = nullptr;
};

struct KernelTime {
  std::string name, op;
  int64_t flops = 0, hbm_bytes = 0;
  double start = 0, end = 0;  // cycles (earliest start, latest end over cores)
  double bound_cycles = 0;    // max(FLOPs at MXU peak, HBM bytes at HBM bandwidth) on the cores used
  std::string bound;          // "MXU", "HBM" or "other" (no FLOPs and no HBM traffic)
};

struct RunResult {
  std::vector<Literal> outputs;  // in the signature's order and model dtypes (empty if timing_only)
  sim::SimStats sim;
  std::optional<sim::timing::TimingResult> timing;
  std::vector<KernelTime> kernels;  // when timing and record_instructions
  double simulate_seconds = 0, timing_seconds = 0;
  int64_t model_flops = 0;
  bool timing_only = false;  // RunOptions::timing_only of the run
};

// Loads the chip the executable targets.
StatusOr<ChipConfig> ExecutableChip(const Executable& exe);

// `inputs` in signature order with the model's dtypes and dims (checked:
// errors name the input). s64 inputs must fit in s32.
StatusOr<RunResult> RunExecutable(const Executable& exe, const std::vector<Literal>& inputs, const RunOptions& options);

// The "performance" part of stats JSON: cycles, seconds, throughput, MXU
// utilization, roofline bound and the fraction reached, bytes per memory
// level, and the per-kernel table.
nlohmann::json PerformanceJson(const ChipConfig& chip, const RunResult& r);
// The stats JSON that `xtpu run --stats` writes: "timing", "functional",
// "performance", "model_flops", "precision", "compiler_version",
// "timing_only", "host_seconds" {simulate, timing} and "config" (the chip).
// Callers add what they know beyond the run (the model path, load and
// compile seconds).
nlohmann::json RunStatsJson(const Executable& exe, const ChipConfig& chip, const RunResult& r);
// Human-readable summary (a few lines) and the top `layers` kernels by time.
std::string PerformanceSummary(const ChipConfig& chip, const RunResult& r, int batch, int layers);

}  // namespace xtpu::runtime
