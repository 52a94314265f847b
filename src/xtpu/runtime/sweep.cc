#include "xtpu/runtime/sweep.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/compile.h"
#include "xtpu/frontend/load_model.h"
#include "xtpu/runtime/profile.h"
#include "xtpu/runtime/run.h"

namespace xtpu::runtime {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// One point: chip with overrides -> compile -> run. Fills p (error or
// results); never fails as a whole.
void RunPoint(const std::string& model, const std::vector<SweepAxis>& axes, const SweepOptions& options,
              SweepPoint& p, int64_t* model_flops, int* batch) {
  auto fail = [&](const Status& s) { p.error = s.message(); };
  StatusOr<ChipConfig> chip = LoadChip(options.chip);
  if (!chip.ok()) return fail(chip.status());
  for (const std::string& ov : options.overrides) {
    Status s = ApplyOverride(*chip, ov);
    if (!s.ok()) return fail(s);
  }
  for (size_t i = 0; i < axes.size(); ++i) {
    Status s = ApplyOverride(*chip, axes[i].key + "=" + p.values[i]);
    if (!s.ok()) return fail(s);
  }
  StatusOr<codegen::Precision> precision = codegen::ParsePrecision(options.precision);
  if (!precision.ok()) return fail(precision.status());
  auto t0 = std::chrono::steady_clock::now();
  StatusOr<std::unique_ptr<Module>> module = LoadModel(model, options.default_dim);
  if (!module.ok()) return fail(module.status());
  StatusOr<Executable> exe = compiler::Compile(std::move(*module), *chip, {.precision = *precision});
  if (!exe.ok()) return fail(exe.status().WithPrefix("compile"));
  p.compile_seconds = Since(t0);
  std::vector<Literal> inputs;
  for (const TensorSignature& s : exe->inputs) inputs.emplace_back(Shape(s.model_dtype, s.dims));
  auto t1 = std::chrono::steady_clock::now();
  // One host thread per point: the sweep runs points side by side.
  RunOptions ro;
  ro.timing_only = options.timing_only;
  ro.record_instructions = false;
  ro.threads = 1;
  StatusOr<RunResult> r = RunExecutable(*exe, inputs, ro);
  if (!r.ok()) return fail(r.status().WithPrefix("run"));
  p.run_seconds = Since(t1);
  const auto& ts = r->timing->stats;
  *model_flops = r->model_flops;
  *batch = exe->inputs.empty() || exe->inputs[0].dims.empty() ? 1 : static_cast<int>(exe->inputs[0].dims[0]);
  p.cycles = ts.cycles;
  p.seconds = ts.seconds;
  p.throughput = ts.seconds > 0 ? *batch / ts.seconds : 0;
  p.flops_per_second = ts.seconds > 0 ? r->model_flops / ts.seconds : 0;
  p.mxu_utilization = ts.mxu_utilization;
  p.fraction_of_roofline = ts.cycles > 0 ? ts.roofline_cycles / ts.cycles : 0;
  p.hbm_bytes = ts.hbm_bytes;
  p.intensity = ts.hbm_bytes > 0 ? static_cast<double>(r->model_flops) / ts.hbm_bytes : 0;
  Peaks peaks = ChipPeaks(*chip, static_cast<int>(exe->program.cores.size()));
  p.peak_flops_per_second = peaks.mxu_flops_per_second;
  p.hbm_bytes_per_second = peaks.hbm_bytes_per_second;
  // The whole run's bound, from unit busy time and bytes moved.
  ResourceUse use;
  if (ts.cycles > 0) {
    for (const auto& [name, u] : ts.units) {
      double f = u.busy_cycles / ts.cycles;
      if (name.find(".mxu") != std::string::npos) use.mxu = std::max(use.mxu, f);
      if (name.find(".vpu") != std::string::npos) use.vpu = std::max(use.vpu, f);
      if (name.find(".xlu") != std::string::npos) use.xlu = std::max(use.xlu, f);
    }
    use.hbm = ts.hbm_bytes / (peaks.hbm_bytes_per_second / peaks.clock_hz) / ts.cycles;
    use.vmem = ts.vmem_bytes / (peaks.vmem_bytes_per_second / peaks.clock_hz) / ts.cycles;
  }
  p.bound = std::string(BoundName(ClassifyBound(use)));
}

}  // namespace

StatusOr<std::vector<SweepAxis>> ParseSweepAxes(const std::vector<std::string>& sets) {
  std::vector<SweepAxis> axes;
  std::set<std::string> keys;
  for (const std::string& s : sets) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      return Error("--set {}: expected KEY=VALUE[,VALUE...], e.g. mxu.rows=64,128,256", s);
    SweepAxis a;
    a.key = Trim(s.substr(0, eq));
    if (!keys.insert(a.key).second) return Error("--set {}: '{}' is given more than once", s, a.key);
    std::string rest = s.substr(eq + 1);
    size_t start = 0;
    for (;;) {
      size_t comma = rest.find(',', start);
      std::string v = Trim(rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (v.empty()) return Error("--set {}: empty value in the list", s);
      a.values.push_back(v);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    axes.push_back(std::move(a));
  }
  return axes;
}

StatusOr<SweepResult> RunSweep(const std::string& model, const std::vector<SweepAxis>& axes,
                               const SweepOptions& options) {
  // What fails for every point fails the sweep: the base chip, the model, a
  // key that is no parameter (checked with the key's first value).
  ASSIGN_OR_RETURN(ChipConfig base, LoadChip(options.chip));
  for (const std::string& ov : options.overrides) RETURN_IF_ERROR(ApplyOverride(base, ov));
  for (const SweepAxis& a : axes) {
    bool known = false;
    for (const ParamSpec& spec : kChipParams) known |= spec.key == a.key;
    if (!known) return Error("--set {}: no such chip parameter (see xtpu chip show {})", a.key, options.chip);
  }
  RETURN_IF_ERROR(codegen::ParsePrecision(options.precision).status());
  {
    StatusOr<std::unique_ptr<Module>> m = LoadModel(model, options.default_dim);
    if (!m.ok()) return m.status();
  }
  SweepResult result;
  result.model = model;
  result.chip = base.name;
  result.axes = axes;
  size_t total = 1;
  for (const SweepAxis& a : axes) total *= a.values.size();
  constexpr size_t kMaxPoints = 100000;
  if (total > kMaxPoints) return Error("the sweep has {} points; at most {} are allowed", total, kMaxPoints);
  result.points.resize(total);
  for (size_t i = 0; i < total; ++i) {
    size_t rest = i;
    std::vector<std::string>& v = result.points[i].values;
    v.resize(axes.size());
    for (size_t a = axes.size(); a-- > 0;) {
      v[a] = axes[a].values[rest % axes[a].values.size()];
      rest /= axes[a].values.size();
    }
  }

  int jobs = options.jobs > 0 ? options.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  jobs = static_cast<int>(std::min<size_t>(jobs, total));
  std::atomic<size_t> next{0}, done{0};
  std::vector<int64_t> flops(total, 0);
  std::vector<int> batches(total, 1);
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < total;) {
      RunPoint(model, axes, options, result.points[i], &flops[i], &batches[i]);
      done.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < jobs; ++t) threads.emplace_back(worker);
  while (done.load() < total) {
    if (options.progress) options.progress(static_cast<int>(done.load()), static_cast<int>(total));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (std::thread& t : threads) t.join();
  if (options.progress) options.progress(static_cast<int>(total), static_cast<int>(total));
  for (size_t i = 0; i < total; ++i) {
    if (!result.points[i].error.empty()) continue;
    result.model_flops = flops[i];
    result.batch = batches[i];
    break;
  }
  return result;
}

std::string SweepCsv(const SweepResult& r) {
  std::string s;
  for (const SweepAxis& a : r.axes) s += CsvField(a.key) + ",";
  s += "cycles,seconds,throughput,flops_per_second,mxu_utilization,fraction_of_roofline,intensity,hbm_bytes,bound,"
       "status,error\n";
  for (const SweepPoint& p : r.points) {
    for (const std::string& v : p.values) s += CsvField(v) + ",";
    if (p.error.empty()) {
      s += fmt::format("{},{:.6g},{:.6g},{:.6g},{:.4f},{:.4f},{:.6g},{},{},ok,\n", p.cycles, p.seconds, p.throughput,
                       p.flops_per_second, p.mxu_utilization, p.fraction_of_roofline, p.intensity, p.hbm_bytes,
                       p.bound);
    } else {
      s += ",,,,,,,,,error," + CsvField(p.error) + "\n";
    }
  }
  return s;
}

}  // namespace xtpu::runtime
