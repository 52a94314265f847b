// `xtpu profile` (per-op profile, trace and HTML report of one model on one
// chip) and `xtpu sweep` (the model on a cross product of chip variants).
// The work is in the library: runtime/profile.h, report.h, sweep.h.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "xtpu/compiler/compile.h"
#include "xtpu/runtime/profile.h"
#include "xtpu/runtime/report.h"
#include "xtpu/runtime/run.h"
#include "xtpu/runtime/sweep.h"
#include "xtpu/support/progress.h"

namespace xtpu::cli {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

Status WriteText(const std::filesystem::path& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Error("{}: cannot write the file", path.string());
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok &= std::fclose(f) == 0;
  if (!ok) return Error("{}: write failed (disk full?)", path.string());
  return OkStatus();
}

Status MakeOutputDir(const std::string& dir) {
  if (dir.empty()) return Error("give the output directory with -o DIR");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) return Error("-o {}: cannot create the directory", dir);
  return OkStatus();
}

StatusOr<runtime::Executable> LoadOrCompile(const ProfileArgs& args, Progress& progress, double* compile_s) {
  if (args.model.ends_with(".xtpu")) {
    if (!args.overrides.empty())
      return Error("{}: --set overrides do not apply to a compiled executable; profile the model instead", args.model);
    return runtime::LoadExecutable(args.model);
  }
  ASSIGN_OR_RETURN(ChipConfig chip, LoadChip(args.chip));
  for (const std::string& ov : args.overrides) RETURN_IF_ERROR(ApplyOverride(chip, ov));
  ASSIGN_OR_RETURN(codegen::Precision p, codegen::ParsePrecision(args.precision));
  auto t0 = std::chrono::steady_clock::now();
  progress.Update("load", -1);
  ASSIGN_OR_RETURN(std::unique_ptr<Module> module, LoadModel(args.model, args.default_dim));
  compiler::CompileOptions co{.precision = p};
  co.progress = [&progress](std::string_view stage, double f) { progress.Update(fmt::format("compile: {}", stage), f); };
  StatusOr<runtime::Executable> exe = compiler::Compile(std::move(module), chip, co);
  if (!exe.ok()) return exe.status().WithPrefix(args.model);
  *compile_s = Since(t0);
  return exe;
}

}  // namespace

Status Profile(const ProfileArgs& args) {
  RETURN_IF_ERROR(MakeOutputDir(args.output_dir));
  Progress progress(Progress::Enabled(args.quiet));
  double compile_s = 0;
  ASSIGN_OR_RETURN(runtime::Executable exe, LoadOrCompile(args, progress, &compile_s));
  ASSIGN_OR_RETURN(ChipConfig chip, runtime::ExecutableChip(exe));
  // The cycles do not depend on the values: zeros for a timing-only run,
  // `xtpu run`'s seeded random inputs with --values.
  std::vector<Literal> inputs;
  if (args.values) {
    std::vector<InputSpec> specs;
    for (const runtime::TensorSignature& s : exe.inputs) specs.push_back({s.name, Shape(s.model_dtype, s.dims)});
    ASSIGN_OR_RETURN(inputs, GatherInputs(specs, RunArgs{}));
  } else {
    for (const runtime::TensorSignature& s : exe.inputs) inputs.emplace_back(Shape(s.model_dtype, s.dims));
  }
  runtime::RunOptions ro;
  ro.timing_only = !args.values;
  ro.threads = args.threads;
  ro.record_instructions = true;
  ro.progress = [&progress](std::string_view stage, double f) { progress.Update(stage, f); };
  StatusOr<runtime::RunResult> rr = runtime::RunExecutable(exe, inputs, ro);
  if (!rr.ok()) return rr.status().WithPrefix(args.model);
  progress.Update("report", -1);
  ASSIGN_OR_RETURN(runtime::Profile p, runtime::BuildProfile(exe, chip, *rr));
  p.model = std::filesystem::path(args.model).filename().string();
  ASSIGN_OR_RETURN(std::string html, runtime::ProfileReportHtml(p));
  std::filesystem::path dir(args.output_dir);
  nlohmann::json stats = runtime::ProfileJson(p);
  stats["model"] = args.model;
  stats["host_seconds"]["compile"] = compile_s;
  RETURN_IF_ERROR(WriteText(dir / "stats.json", stats.dump(2) + "\n"));
  RETURN_IF_ERROR(WriteText(dir / "ops.csv", runtime::ProfileCsv(p)));
  RETURN_IF_ERROR(
      WriteText(dir / "trace.json", runtime::KernelTraceJson(exe, chip, *rr, args.max_trace_events).dump() + "\n"));
  RETURN_IF_ERROR(WriteText(dir / "report.html", html));
  progress.Finish();
  std::printf("%s", runtime::PerformanceSummary(chip, *rr, p.batch, args.layers).c_str());
  std::fflush(stdout);
  if (!args.quiet) {
    std::fprintf(stderr,
                 "xtpu: compile %.3f s, simulate %.3f s, timing %.3f s; wrote %s/{report.html, ops.csv, stats.json, "
                 "trace.json} (%zu ops)\n",
                 compile_s, rr->simulate_seconds, rr->timing_seconds, args.output_dir.c_str(), p.ops.size());
  }
  return OkStatus();
}

Status Sweep(const SweepArgs& args) {
  RETURN_IF_ERROR(MakeOutputDir(args.output_dir));
  if (args.sets.empty()) return Error("sweep: give at least one --set KEY=V1,V2,...");
  if (args.model.ends_with(".xtpu"))
    return Error("{}: a compiled executable is fixed to its chip; sweep the .onnx or .tir model", args.model);
  ASSIGN_OR_RETURN(std::vector<runtime::SweepAxis> axes, runtime::ParseSweepAxes(args.sets));
  Progress progress(Progress::Enabled(args.quiet));
  runtime::SweepOptions so;
  so.chip = args.chip;
  so.overrides = args.fixed;
  so.precision = args.precision;
  so.default_dim = args.default_dim;
  so.timing_only = !args.values;
  so.jobs = args.jobs;
  so.progress = [&progress](int done, int total) {
    progress.Update("sweep", total > 0 ? static_cast<double>(done) / total : -1, fmt::format("{}/{} points", done, total));
  };
  auto t0 = std::chrono::steady_clock::now();
  StatusOr<runtime::SweepResult> r = runtime::RunSweep(args.model, axes, so);
  if (!r.ok()) return r.status().WithPrefix(args.model);
  r->model = std::filesystem::path(args.model).filename().string();
  ASSIGN_OR_RETURN(std::string html, runtime::SweepReportHtml(*r));
  std::filesystem::path dir(args.output_dir);
  RETURN_IF_ERROR(WriteText(dir / "sweep.csv", runtime::SweepCsv(*r)));
  RETURN_IF_ERROR(WriteText(dir / "sweep.html", html));
  progress.Finish();
  int failed = 0;
  for (const runtime::SweepPoint& p : r->points) failed += !p.error.empty();
  // A short table on stdout: one line per point.
  std::string header;
  for (const auto& a : axes) header += fmt::format("{:>20} ", a.key);
  std::printf("%s%12s %12s %8s %9s %8s\n", header.c_str(), "cycles", "inf/s", "MXU", "roofline", "bound");
  for (const runtime::SweepPoint& p : r->points) {
    std::string vals;
    for (const auto& v : p.values) vals += fmt::format("{:>20} ", v);
    if (p.error.empty()) {
      std::printf("%s%12lld %12.4g %7.1f%% %8.1f%% %8s\n", vals.c_str(), static_cast<long long>(p.cycles), p.throughput,
                  100 * p.mxu_utilization, 100 * p.fraction_of_roofline, p.bound.c_str());
    } else {
      std::printf("%serror: %s\n", vals.c_str(), p.error.c_str());
    }
  }
  std::fflush(stdout);
  if (!args.quiet) {
    std::fprintf(stderr, "xtpu: %zu points (%d failed) in %.2f s; wrote %s/{sweep.csv, sweep.html}\n", r->points.size(),
                 failed, Since(t0), args.output_dir.c_str());
  }
  return OkStatus();
}

}  // namespace xtpu::cli
