// `xtpu asm`, `xtpu disasm`, `xtpu sim`: the chip's programs from the command
// line (the work is in src/xtpu/sim/sim_command.h).
#include <cstdio>

#include "commands.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "xtpu/isa/assembly.h"
#include "xtpu/runtime/executable.h"
#include "xtpu/sim/sim_command.h"

namespace xtpu::cli {

namespace {
// "NAME=FILE" -> (NAME, FILE); the error names the flag.
StatusOr<std::pair<std::string, std::string>> SplitNameFile(const std::string& s,
                                                            const char* flag) {
  auto eq = s.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
    return Error("{} '{}': expected BUFFER=FILE.npy", flag, s);
  return std::make_pair(s.substr(0, eq), s.substr(eq + 1));
}
}  // namespace

Status Asm(const AsmArgs& args) { return sim::AsmCommand(args.input, args.output); }

Status Disasm(const DisasmArgs& args) {
  if (args.input.ends_with(".xtpu")) {
    // A compiled executable: its program, with the kernel table as comments.
    ASSIGN_OR_RETURN(runtime::Executable exe, runtime::LoadExecutable(args.input));
    std::string text = fmt::format("; {} compiled by xtpu {} for chip {} (precision {})\n", args.input,
                                   exe.compiler_version, exe.chip_name, exe.precision);
    nlohmann::json meta = nlohmann::json::parse(exe.metadata_json, nullptr, false);
    if (meta.is_object() && meta.contains("kernels")) {
      for (const auto& k : meta["kernels"])
        text += fmt::format("; kernel {} ({}): pc {}\n", k.value("name", ""), k.value("op", ""), k["pc"].dump());
    }
    text += isa::Disassemble(exe.program);
    std::fwrite(text.data(), 1, text.size(), stdout);
    return OkStatus();
  }
  ASSIGN_OR_RETURN(std::string text, sim::DisasmCommand(args.input));
  std::fwrite(text.data(), 1, text.size(), stdout);
  return OkStatus();
}

Status Sim(const SimArgs& args) {
  sim::SimCommandOptions o;
  o.program = args.program;
  o.chip = args.chip;
  o.chip_overrides = args.overrides;
  for (const auto& s : args.inputs) {
    ASSIGN_OR_RETURN(auto nf, SplitNameFile(s, "--input"));
    o.inputs.push_back(nf);
  }
  for (const auto& s : args.outputs) {
    ASSIGN_OR_RETURN(auto nf, SplitNameFile(s, "--output"));
    o.outputs.push_back(nf);
  }
  o.output_dir = args.output_dir;
  o.stats_path = args.stats;
  o.trace_path = args.trace;
  o.timing = !args.no_timing;
  o.timing_only = args.timing_only;
  o.seed = args.seed;
  o.threads = args.threads;
  std::string summary;
  RETURN_IF_ERROR(sim::RunSimCommand(o, &summary));
  if (!args.quiet) std::fwrite(summary.data(), 1, summary.size(), stdout);
  return OkStatus();
}

}  // namespace xtpu::cli
