// `xtpu compile` (model -> .xtpu executable) and `xtpu run` on the simulated
// chip (the default backend).
#include <chrono>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "xtpu/compiler/compile.h"
#include "xtpu/runtime/profile.h"
#include "xtpu/runtime/run.h"
#include "xtpu/sim/timing/timing_model.h"
#include "xtpu/support/progress.h"

namespace xtpu::cli {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

StatusOr<ChipConfig> LoadChipWithOverrides(const std::string& name, const std::vector<std::string>& overrides) {
  ASSIGN_OR_RETURN(ChipConfig chip, LoadChip(name));
  for (const std::string& ov : overrides) RETURN_IF_ERROR(ApplyOverride(chip, ov));
  return chip;
}

StatusOr<runtime::Executable> CompileFile(const std::string& model, const std::string& chip_name,
                                          const std::vector<std::string>& overrides, const std::string& precision,
                                          int64_t default_dim, int cores, bool print_after_all, double* load_s,
                                          double* compile_s, Progress& progress) {
  auto t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(ChipConfig chip, LoadChipWithOverrides(chip_name, overrides));
  ASSIGN_OR_RETURN(codegen::Precision p, codegen::ParsePrecision(precision));
  ASSIGN_OR_RETURN(std::unique_ptr<Module> module, LoadModel(model, default_dim));
  *load_s = Since(t0);
  auto t1 = std::chrono::steady_clock::now();
  compiler::CompileOptions co{.precision = p, .cores = cores, .print_after_all = print_after_all};
  co.progress = [&progress](std::string_view stage, double f) { progress.Update(fmt::format("compile: {}", stage), f); };
  StatusOr<runtime::Executable> exe = compiler::Compile(std::move(module), chip, co);
  progress.Finish();
  if (!exe.ok()) return exe.status().WithPrefix(model);
  *compile_s = Since(t1);
  return exe;
}

}  // namespace

Status CompileModel(const CompileArgs& args) {
  if (args.output.empty()) return Error("compile: give the output file with -o FILE.xtpu");
  double load_s = 0, compile_s = 0;
  Progress progress(Progress::Enabled(args.quiet || args.print_after_all));
  ASSIGN_OR_RETURN(runtime::Executable exe, CompileFile(args.model, args.chip, args.overrides, args.precision,
                                                        args.default_dim, args.cores, args.print_after_all, &load_s,
                                                        &compile_s, progress));
  RETURN_IF_ERROR(runtime::SaveExecutable(exe, args.output));
  if (!args.quiet) {
    nlohmann::json meta = nlohmann::json::parse(exe.metadata_json);
    int64_t const_bytes = 0;
    for (const auto& c : exe.constants) const_bytes += static_cast<int64_t>(c.bytes.size());
    std::fprintf(stderr,
                 "xtpu: compiled %s for %s (precision %s) in %.3f s (load %.3f s): %lld instructions, %zu kernels, "
                 "%.3g GFLOP, constants %s, activations %s -> %s\n",
                 args.model.c_str(), exe.chip_name.c_str(), exe.precision.c_str(), compile_s, load_s,
                 static_cast<long long>(exe.program.num_instructions()), meta["kernels"].size(),
                 meta["flops"].get<int64_t>() / 1e9, FormatBytes(const_bytes).c_str(),
                 FormatBytes(meta["hbm_activation_bytes"].get<int64_t>()).c_str(), args.output.c_str());
  }
  return OkStatus();
}

Status RunOnChip(const RunArgs& args) {
  auto t0 = std::chrono::steady_clock::now();
  runtime::Executable exe;
  double load_s = 0, compile_s = 0;
  Progress progress(Progress::Enabled(args.quiet));
  if (args.model.ends_with(".xtpu")) {
    ASSIGN_OR_RETURN(exe, runtime::LoadExecutable(args.model));
    load_s = Since(t0);
    if (!args.overrides.empty())
      return Error("{}: --set overrides do not apply to a compiled executable; recompile the model", args.model);
  } else {
    ASSIGN_OR_RETURN(exe, CompileFile(args.model, args.chip, args.overrides, args.precision, args.default_dim, 0, false,
                                      &load_s, &compile_s, progress));
  }
  ASSIGN_OR_RETURN(ChipConfig chip, runtime::ExecutableChip(exe));
  std::vector<InputSpec> specs;
  for (const runtime::TensorSignature& s : exe.inputs) specs.push_back({s.name, Shape(s.model_dtype, s.dims)});
  ASSIGN_OR_RETURN(std::vector<Literal> inputs, GatherInputs(specs, args));
  if (args.timing_only && !args.output.empty())
    return Error("--timing-only computes no values; drop --output {}", args.output);
  runtime::RunOptions ro;
  ro.timing_only = args.timing_only;
  ro.threads = args.threads;
  ro.record_instructions = true;
  ro.progress = [&progress](std::string_view stage, double f) { progress.Update(stage, f); };
  StatusOr<runtime::RunResult> rr = runtime::RunExecutable(exe, inputs, ro);
  progress.Finish();
  if (!rr.ok()) return rr.status().WithPrefix(args.model);
  runtime::RunResult& r = *rr;
  std::vector<std::string> names;
  for (const auto& o : exe.outputs) names.push_back(o.name);
  if (!args.timing_only) {
    RETURN_IF_ERROR(WriteOutputs(args.output, names, r.outputs));
    for (size_t i = 0; i < r.outputs.size(); ++i) std::printf("%s\n", OutputSummary(names[i], r.outputs[i]).c_str());
  }
  int batch = exe.inputs.empty() || exe.inputs[0].dims.empty() ? 1 : static_cast<int>(exe.inputs[0].dims[0]);
  std::printf("%s", runtime::PerformanceSummary(chip, r, batch, args.layers).c_str());
  std::fflush(stdout);
  if (!args.trace.empty()) {
    // Events named by the op (kernel) each instruction serves.
    std::string text = runtime::KernelTraceJson(exe, chip, r).dump() + "\n";
    std::FILE* f = std::fopen(args.trace.c_str(), "wb");
    if (!f) return Error("--trace {}: cannot write the file", args.trace);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  if (!args.stats.empty()) {
    nlohmann::json j = runtime::RunStatsJson(exe, chip, r);
    j["model"] = args.model;
    j["host_seconds"]["load"] = load_s;
    j["host_seconds"]["compile"] = compile_s;
    std::FILE* f = std::fopen(args.stats.c_str(), "wb");
    if (!f) return Error("--stats {}: cannot write the file", args.stats);
    std::string text = j.dump(2) + "\n";
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  if (!args.quiet) {
    std::fprintf(stderr, "xtpu: load %.3f s, compile %.3f s, simulate %.3f s, timing %.3f s%s\n", load_s, compile_s,
                 r.simulate_seconds, r.timing_seconds, args.timing_only ? " (timing only: no values)" : "");
  }
  return OkStatus();
}

}  // namespace xtpu::cli
