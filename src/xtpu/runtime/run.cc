#include "xtpu/runtime/run.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include <fmt/format.h>

namespace xtpu::runtime {
namespace {

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Model value -> chip buffer value (s64 -> s32 with a range check, pred ->
// s32 words, f16 -> f32).
StatusOr<Literal> ToChip(const TensorSignature& sig, const Literal& v) {
  if (v.dtype() != sig.model_dtype || v.shape().dims != sig.dims) {
    return Error("input '{}': expected {}[{}], got {}", sig.name, DTypeName(sig.model_dtype), fmt::join(sig.dims, ","),
                 v.shape().ToString());
  }
  if (sig.chip_dtype == sig.model_dtype) return v;
  Literal out(Shape(sig.chip_dtype, sig.dims));
  for (int64_t i = 0; i < v.num_elements(); ++i) {
    if (IsFloat(sig.chip_dtype)) {
      out.SetFromDouble(i, v.GetAsDouble(i));
    } else {
      int64_t x = v.GetAsInt64(i);
      if (x < std::numeric_limits<int32_t>::min() || x > std::numeric_limits<int32_t>::max())
        return Error("input '{}': element {} is {}, outside the chip's s32 range", sig.name, i, x);
      out.SetFromInt64(i, x);
    }
  }
  return out;
}

Literal FromChip(const TensorSignature& sig, const Literal& v) {
  if (sig.chip_dtype == sig.model_dtype) return v;
  Literal out(Shape(sig.model_dtype, sig.dims));
  for (int64_t i = 0; i < v.num_elements(); ++i) {
    if (sig.model_dtype == DType::kPred) out.SetFromInt64(i, v.GetAsInt64(i) != 0);
    else if (IsFloat(sig.model_dtype)) out.SetFromDouble(i, v.GetAsDouble(i));
    else out.SetFromInt64(i, v.GetAsInt64(i));
  }
  return out;
}

}  // namespace

StatusOr<ChipConfig> ExecutableChip(const Executable& exe) { return LoadChipFromString(exe.chip_toml, exe.chip_name); }

StatusOr<RunResult> RunExecutable(const Executable& exe, const std::vector<Literal>& inputs, const RunOptions& options) {
  ASSIGN_OR_RETURN(ChipConfig chip, ExecutableChip(exe));
  if (inputs.size() != exe.inputs.size())
    return Error("the model takes {} inputs, {} were given", exe.inputs.size(), inputs.size());
  RunResult r;
  r.timing_only = options.timing_only;
  sim::DispatchLog log;
  sim::SimOptions so;
  so.threads = options.threads;
  so.max_steps = options.max_steps;
  so.timing_only = options.timing_only;
  so.dispatch_log = options.timing ? &log : nullptr;
  so.cancel = options.cancel;
  if (options.progress && so.dispatch_log) {
    // Estimated from core 0's log alone: the hook runs on the thread that
    // simulates core 0, while other cores' logs may be growing on theirs.
    const int64_t program_size = exe.program.cores.empty() ? 0 : static_cast<int64_t>(exe.program.cores[0].size());
    so.cancel = [&log, &options, program_size, polls = int64_t{0}]() mutable {
      if ((++polls & 255) == 0 && program_size > 0) {
        // Loops move the pc back, but kernels run in program order.
        int64_t pc = log.empty() || log[0].empty() ? 0 : log[0].back().pc;
        options.progress("simulate", static_cast<double>(pc) / program_size);
      }
      return options.cancel && options.cancel();
    };
  }
  auto t0 = std::chrono::steady_clock::now();
  sim::Simulator s(chip, exe.program, so);
  if (!options.timing_only) {
    for (const ConstantData& c : exe.constants) {
      const isa::BufferDecl* b = exe.program.FindBuffer(c.buffer);
      if (!b) return Error("constant buffer '{}' is not in the program", c.buffer);
      // Read in place from the executable (which outlives `s`), never copied.
      RETURN_IF_ERROR(s.MapBuffer(c.buffer, c.bytes));
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      ASSIGN_OR_RETURN(Literal v, ToChip(exe.inputs[i], inputs[i]));
      RETURN_IF_ERROR(s.SetBuffer(exe.inputs[i].buffer, std::move(v)));
    }
  } else {
    for (size_t i = 0; i < inputs.size(); ++i) RETURN_IF_ERROR(ToChip(exe.inputs[i], inputs[i]).status());
  }
  if (options.progress) options.progress("simulate", 0);
  RETURN_IF_ERROR(s.Run());
  if (!options.timing_only) {
    for (const TensorSignature& o : exe.outputs) {
      ASSIGN_OR_RETURN(Literal v, s.GetBuffer(o.buffer));
      r.outputs.push_back(FromChip(o, v));
    }
  }
  r.sim = s.stats();
  auto t1 = std::chrono::steady_clock::now();
  r.simulate_seconds = Seconds(t1 - t0);

  nlohmann::json meta = nlohmann::json::parse(exe.metadata_json, nullptr, false);
  if (meta.is_object() && meta.contains("flops")) r.model_flops = meta["flops"].get<int64_t>();
  if (!options.timing) return r;
  if (options.cancel && options.cancel()) return Status::Error("simulation cancelled", StatusCode::kCancelled);
  sim::timing::TimingOptions topts{.record_instructions = options.record_instructions};
  if (options.progress) {
    options.progress("timing", 0);
    topts.progress = [&options](int64_t done, int64_t total) {
      options.progress("timing", total > 0 ? static_cast<double>(done) / total : -1.0);
    };
  }
  ASSIGN_OR_RETURN(sim::timing::TimingResult t, sim::timing::RunTiming(chip, log, topts));
  r.timing_seconds = Seconds(std::chrono::steady_clock::now() - t1);

  // Per-kernel times from the instructions' pc ranges.
  if (options.record_instructions && meta.is_object() && meta.contains("kernels")) {
    const auto& ks = meta["kernels"];
    int cores = static_cast<int>(exe.program.cores.size());
    std::vector<std::vector<std::pair<int, int>>> starts(cores);  // (pc_begin, kernel)
    for (size_t k = 0; k < ks.size(); ++k) {
      KernelTime kt;
      kt.name = ks[k].value("name", "");
      kt.op = ks[k].value("op", "");
      kt.flops = ks[k].value("flops", int64_t{0});
      kt.hbm_bytes = ks[k].value("hbm_bytes", int64_t{0});
      kt.start = std::numeric_limits<double>::infinity();
      kt.end = 0;
      r.kernels.push_back(kt);
      const auto& pcs = ks[k]["pc"];
      for (int c = 0; c < cores && c < static_cast<int>(pcs.size()); ++c) starts[c].push_back({pcs[c][0].get<int>(), static_cast<int>(k)});
    }
    for (auto& v : starts) std::sort(v.begin(), v.end());
    for (const auto& ti : t.instructions) {
      if (ti.core >= cores) continue;
      const auto& v = starts[ti.core];
      auto it = std::upper_bound(v.begin(), v.end(), std::make_pair(ti.pc, std::numeric_limits<int>::max()));
      if (it == v.begin()) continue;
      KernelTime& kt = r.kernels[std::prev(it)->second];
      kt.start = std::min(kt.start, ti.start);
      kt.end = std::max(kt.end, ti.end);
    }
    double peak_per_cycle = MxuPeakOpsPerCore(chip, chip.mxu.input_dtype) / ClockHz(chip) * cores;
    double hbm_per_cycle = HbmBytesPerCycle(chip);
    for (KernelTime& kt : r.kernels) {
      if (kt.end == 0) kt.start = kt.end = 0;
      double c = kt.flops / peak_per_cycle, h = kt.hbm_bytes / hbm_per_cycle;
      kt.bound_cycles = std::max(c, h);
      kt.bound = kt.flops == 0 && kt.hbm_bytes == 0 ? "other" : (c >= h ? "MXU" : "HBM");
    }
  }
  r.timing = std::move(t);
  return r;
}

nlohmann::json PerformanceJson(const ChipConfig& chip, const RunResult& r) {
  nlohmann::json j;
  if (!r.timing) return j;
  const auto& ts = r.timing->stats;
  double peak = MxuPeakOps(chip, chip.mxu.input_dtype);
  j["cycles"] = ts.cycles;
  j["seconds"] = ts.seconds;
  j["model_flops"] = r.model_flops;
  j["flops_per_second"] = ts.seconds > 0 ? r.model_flops / ts.seconds : 0.0;
  j["fraction_of_peak"] = ts.seconds > 0 ? r.model_flops / ts.seconds / peak : 0.0;
  j["mxu_utilization"] = ts.mxu_utilization;
  j["roofline_cycles"] = ts.roofline_cycles;
  j["fraction_of_roofline"] = ts.cycles > 0 ? ts.roofline_cycles / ts.cycles : 0.0;
  j["hbm_bytes"] = ts.hbm_bytes;
  j["vmem_bytes"] = ts.vmem_bytes;
  nlohmann::json ks = nlohmann::json::array();
  for (const KernelTime& k : r.kernels) {
    double cyc = k.end - k.start;
    ks.push_back({{"name", k.name},
                  {"op", k.op},
                  {"cycles", cyc},
                  {"share", ts.cycles > 0 ? cyc / ts.cycles : 0.0},
                  {"flops", k.flops},
                  {"hbm_bytes", k.hbm_bytes},
                  {"bound", k.bound},
                  {"bound_cycles", k.bound_cycles},
                  {"fraction_of_bound", cyc > 0 ? k.bound_cycles / cyc : 0.0}});
  }
  j["kernels"] = std::move(ks);
  return j;
}

nlohmann::json RunStatsJson(const Executable& exe, const ChipConfig& chip, const RunResult& r) {
  nlohmann::json j;
  if (r.timing) j["timing"] = r.timing->stats.ToJson();
  j["functional"] = r.sim.ToJson();
  j["performance"] = PerformanceJson(chip, r);
  j["model_flops"] = r.model_flops;
  j["precision"] = exe.precision;
  j["compiler_version"] = exe.compiler_version;
  j["timing_only"] = r.timing_only;
  j["host_seconds"] = {{"simulate", r.simulate_seconds}, {"timing", r.timing_seconds}};
  j["config"] = ChipToJson(chip);
  return j;
}

std::string PerformanceSummary(const ChipConfig& chip, const RunResult& r, int batch, int layers) {
  if (!r.timing) return "";
  const auto& ts = r.timing->stats;
  double peak = MxuPeakOps(chip, chip.mxu.input_dtype);
  std::string s;
  s += fmt::format("chip {}: {} cycles = {:.4g} ms at {} MHz", chip.name, ts.cycles, ts.seconds * 1e3, chip.clock_mhz);
  if (ts.seconds > 0 && batch > 0) s += fmt::format(", {:.1f} inferences/s (batch {})", batch / ts.seconds, batch);
  s += "\n";
  if (r.model_flops > 0 && ts.seconds > 0) {
    s += fmt::format("compute: {:.3g} GFLOP, {:.1f} TFLOP/s = {:.1f}% of peak {:.0f} TFLOP/s; MXU utilization {:.1f}%\n",
                     r.model_flops / 1e9, r.model_flops / ts.seconds / 1e12, 100 * r.model_flops / ts.seconds / peak,
                     peak / 1e12, 100 * ts.mxu_utilization);
  }
  s += fmt::format("roofline bound {:.0f} cycles: reached {:.1f}%\n", ts.roofline_cycles,
                   ts.cycles > 0 ? 100 * ts.roofline_cycles / ts.cycles : 0.0);
  s += fmt::format("memory: HBM {}, VMEM {}\n", FormatBytes(ts.hbm_bytes), FormatBytes(ts.vmem_bytes));
  if (layers > 0 && !r.kernels.empty()) {
    std::vector<const KernelTime*> ks;
    for (const KernelTime& k : r.kernels) ks.push_back(&k);
    std::stable_sort(ks.begin(), ks.end(),
                     [](const KernelTime* a, const KernelTime* b) { return a->end - a->start > b->end - b->start; });
    s += fmt::format("{:<40} {:>10} {:>7} {:>6} {:>9}  {}\n", "kernel (top by time)", "cycles", "share", "bound",
                     "of bound", "op");
    for (int i = 0; i < layers && i < static_cast<int>(ks.size()); ++i) {
      const KernelTime& k = *ks[i];
      double cyc = k.end - k.start;
      std::string name = k.name.size() > 40 ? "..." + k.name.substr(k.name.size() - 37) : k.name;
      s += fmt::format("{:<40} {:>10.0f} {:>6.1f}% {:>6} {:>8.1f}%  {}\n", name, cyc,
                       ts.cycles > 0 ? 100 * cyc / ts.cycles : 0.0, k.bound, cyc > 0 ? 100 * k.bound_cycles / cyc : 0.0,
                       k.op);
    }
  }
  return s;
}

}  // namespace xtpu::runtime
