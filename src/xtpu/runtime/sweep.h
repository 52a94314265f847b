// Design-space sweeps (`xtpu sweep`): one model compiled and timed on every
// chip in the cross product of parameter values, in parallel. A point whose
// chip is invalid or whose compile/run fails keeps its error text and the
// sweep goes on.
//
//   ASSIGN_OR_RETURN(auto axes, runtime::ParseSweepAxes({"mxu.rows=64,128", "hbm.bandwidth_gbps=600,1200"}));
//   ASSIGN_OR_RETURN(runtime::SweepResult r, runtime::RunSweep("m.onnx", axes, {.chip = "v4"}));
//   runtime::SweepCsv(r);
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "xtpu/support/status.h"

namespace xtpu::runtime {

struct SweepAxis {
  std::string key;                  // chip parameter ("mxu.rows")
  std::vector<std::string> values;  // as written after '='
};

// "key=v1,v2,..." per entry; a key given twice or an empty value is an error.
StatusOr<std::vector<SweepAxis>> ParseSweepAxes(const std::vector<std::string>& sets);

struct SweepOptions {
  std::string chip = "v4";                  // preset or .toml
  std::vector<std::string> overrides;       // applied to every point before the axes
  std::string precision = "default";
  int64_t default_dim = 1;
  bool timing_only = true;                  // false: values are computed too (slower)
  int jobs = 0;                             // points at once; 0 = hardware concurrency
  // Called from the calling thread about ten times a second and at the end.
  std::function<void(int done, int total)> progress;
};

struct SweepPoint {
  std::vector<std::string> values;  // one per axis
  std::string error;                // empty: ok
  int64_t cycles = 0;
  double seconds = 0;
  double throughput = 0;            // inferences per second (batch / seconds)
  double flops_per_second = 0;
  double mxu_utilization = 0;
  double fraction_of_roofline = 0;  // roofline cycles / cycles
  double intensity = 0;             // model FLOPs per HBM byte moved
  double peak_flops_per_second = 0, hbm_bytes_per_second = 0;  // this point's chip
  int64_t hbm_bytes = 0;
  std::string bound;                // ClassifyBound over the whole run
  double compile_seconds = 0, run_seconds = 0;  // host time
};

struct SweepResult {
  std::string model, chip;
  std::vector<SweepAxis> axes;
  std::vector<SweepPoint> points;  // cross product, the last axis varying fastest
  int64_t model_flops = 0;
  int batch = 1;
};

// Errors are those that stop every point (the model does not load, an axis
// names no chip parameter); a point's own failure is in SweepPoint::error.
StatusOr<SweepResult> RunSweep(const std::string& model, const std::vector<SweepAxis>& axes,
                               const SweepOptions& options);

// Columns: one per axis, then cycles, seconds, throughput, flops_per_second,
// mxu_utilization, fraction_of_roofline, intensity, hbm_bytes, bound, status
// ("ok" or "error"), error.
std::string SweepCsv(const SweepResult& r);

}  // namespace xtpu::runtime
