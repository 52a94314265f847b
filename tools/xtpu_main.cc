// The `xtpu` command line: import, opt, run, compile, chip show, asm, disasm, sim, profile, sweep (see docs/cli.md).
// Every failure is one line "xtpu: error: <message>" on stderr and exit
// code 1; --help and --version exit 0.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "commands.h"

namespace {

int Fail(std::string message) {
  // Keep the promise of one line: a message that spans several is joined, and
  // control bytes quoted from a bad file are escaped.
  std::string line;
  for (char c : message) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r') line += ' ';
    else if (u < 0x20 || u == 0x7f) line += fmt::format("\\x{:02x}", u);
    else line += c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  std::fprintf(stderr, "xtpu: error: %s\n", line.c_str());
  return 1;
}

int Main(int argc, char** argv) {
  using namespace xtpu::cli;
  CLI::App app{"xtpu: an open TPU-class accelerator stack. Imports ONNX models into tensor IR (.tir),\n"
               "prints and rewrites tensor IR, runs models on the reference evaluator, and assembles and\n"
               "simulates programs for chip descriptions (functional + cycle-level timing).",
               "xtpu"};
  app.set_version_flag("--version", std::string("xtpu ") + XTPU_VERSION, "Print the version and exit");
  app.require_subcommand(1);
  app.footer("Run `xtpu <command> --help` for a command's options. Docs: docs/cli.md\n");

  ImportArgs import_args;
  CLI::App* import_cmd = app.add_subcommand(
      "import", "Import an ONNX model and print it as tensor IR text (.tir)");
  import_cmd->add_option("model", import_args.model, "ONNX model file (.onnx)")->required();
  import_cmd->add_option("-o,--output", import_args.output, "Write the .tir text here (default: stdout)");
  import_cmd->add_option("--default-dim", import_args.default_dim,
                         "Size for symbolic or unknown input dims such as batch_size (default 1)");

  OptArgs opt_args;
  CLI::App* opt_cmd = app.add_subcommand(
      "opt", "Parse and verify tensor IR text, run compiler passes on it (--passes) and print it");
  opt_cmd->footer("Without --passes the module is printed back as parsed. The verifier runs after every\n"
                  "pass; an error names the pass. See docs/compiler.md.\n");
  opt_cmd->add_option("input", opt_args.input, "Tensor IR file (.tir), or - for stdin");
  opt_cmd->add_option("-o,--output", opt_args.output, "Write the .tir text here (default: stdout)");
  opt_cmd->add_option("--passes", opt_args.passes, "Comma-separated passes to run in order, e.g. algsimp,cse,dce");
  opt_cmd->add_flag("--print-after-all", opt_args.print_after_all,
                    "Print the module to stderr after each pass that changed it");
  opt_cmd->add_flag("--list-passes", opt_args.list_passes, "List the passes with a description and exit");
  opt_cmd->add_option("--chip", opt_args.chip, "Target chip for passes that need one: preset (v1, v4, v5e, edge) or .toml");
  opt_cmd->add_flag("--check-unchanged", opt_args.check_unchanged,
                    "Testing: fail if a pass reports no change but changed the module");

  RunArgs run_args;
  CLI::App* run_cmd = app.add_subcommand(
      "run", "Run a model (.onnx, .tir or compiled .xtpu) on the simulated chip (or the reference evaluator) and "
             "print its outputs and performance");
  run_cmd->footer(
      "Inputs not given are random from --seed: floats uniform in [-1, 1), integers uniform\n"
      "in [0, 10), pred true/false. Prints one line per output (shape, min/max/mean, first\n"
      "values) to stdout and timings to stderr. On the chip (default) it also prints the\n"
      "performance: cycles, time at the chip clock, throughput, MXU utilization, the\n"
      "roofline bound and how close the run came to it, bytes per memory level, and the\n"
      "kernels that took the most time.\n");
  run_cmd->add_option("model", run_args.model, "Model file: .onnx (imported), .tir (parsed) or .xtpu (compiled)")
      ->required();
  run_cmd->add_option("--backend", run_args.backend,
                      "Where to run: chip (compile and simulate; default) or reference (the host evaluator)");
  run_cmd->add_option("--chip", run_args.chip, "Chip preset or .toml file (default v4; .xtpu files name their own)");
  run_cmd->add_option("--set", run_args.overrides, "KEY=VALUE: override a chip parameter (repeatable)");
  run_cmd->add_option("--precision", run_args.precision,
                      "Matmul precision: default (1 bf16 pass), high (3), highest (6; f32-like)");
  run_cmd->add_flag("--timing-only", run_args.timing_only, "Simulate timing without computing values (faster)");
  run_cmd->add_option("--stats", run_args.stats, "Write statistics JSON (timing, per-kernel table, host times)");
  run_cmd->add_option("--trace", run_args.trace, "Write a Chrome trace-event JSON (Perfetto, chrome://tracing)");
  run_cmd->add_option("--layers", run_args.layers, "Kernels to list in the per-layer table (default 10; 0 = none)");
  run_cmd->add_option("--threads", run_args.threads, "Host threads for simulation (default: all)");
  run_cmd->add_option("--input", run_args.inputs, "NAME=FILE.npy: value of input NAME (repeatable)")
      ->allow_extra_args(false);
  run_cmd->add_option("--inputs", run_args.inputs_npz, "FILE.npz: values of inputs, keyed by input name");
  run_cmd->add_option("--output", run_args.output,
                      "Save all outputs to FILE.npz keyed by output name (FILE.npy for a single output)");
  run_cmd->add_option("--seed", run_args.seed, "Seed for random inputs (default 0)");
  run_cmd->add_option("--default-dim", run_args.default_dim,
                      "Size for symbolic ONNX input dims such as batch_size (default 1)");
  run_cmd->add_flag("-q,--quiet", run_args.quiet, "Do not print timings to stderr");

  CompileArgs compile_args;
  CLI::App* compile_cmd = app.add_subcommand("compile", "Compile a model (.onnx or .tir) for a chip into an executable (.xtpu)");
  compile_cmd->add_option("model", compile_args.model, "Model file: .onnx or .tir")->required();
  compile_cmd->add_option("-o,--output", compile_args.output, "Executable to write (.xtpu)")->required();
  compile_cmd->add_option("--chip", compile_args.chip, "Chip preset or .toml file (default v4)");
  compile_cmd->add_option("--set", compile_args.overrides, "KEY=VALUE: override a chip parameter (repeatable)");
  compile_cmd->add_option("--precision", compile_args.precision, "Matmul precision: default, high or highest");
  compile_cmd->add_option("--cores", compile_args.cores, "Cores to use (default: all of the chip)");
  compile_cmd->add_option("--default-dim", compile_args.default_dim, "Size for symbolic ONNX input dims (default 1)");
  compile_cmd->add_flag("--print-after-all", compile_args.print_after_all, "Print the IR after every pass (stderr)");
  compile_cmd->add_flag("-q,--quiet", compile_args.quiet, "Do not print the compile summary");

  ChipShowArgs chip_args;
  CLI::App* chip_cmd = app.add_subcommand("chip", "Inspect chip descriptions (configs/*.toml)");
  chip_cmd->require_subcommand(1);
  CLI::App* chip_show = chip_cmd->add_subcommand(
      "show", "Print a chip description with every parameter, its unit and origin, and the derived "
              "peaks (FLOP/s per dtype, bytes/s per memory level, ridge point)");
  chip_show->add_option("chip", chip_args.chip, "Preset name (v1, v4, v5e, edge) or a .toml file")
      ->required();
  chip_show->add_option("--set", chip_args.overrides, "key=value: override a parameter (repeatable)");
  chip_show->add_flag("--json", chip_args.json, "Print JSON instead of a table");

  AsmArgs asm_args;
  CLI::App* asm_cmd = app.add_subcommand("asm", "Assemble chip assembly (.s) into a program binary (.bin); see docs/isa.md");
  asm_cmd->add_option("input", asm_args.input, "Assembly file (.s)")->required();
  asm_cmd->add_option("-o,--output", asm_args.output, "Program binary to write (.bin)")->required();

  DisasmArgs disasm_args;
  CLI::App* disasm_cmd = app.add_subcommand("disasm", "Print a program (.bin or .s) as canonical assembly text");
  disasm_cmd->add_option("input", disasm_args.input, "Program file (.bin or .s)")->required();

  ProfileArgs profile_args;
  CLI::App* profile_cmd = app.add_subcommand(
      "profile", "Profile a model on the simulated chip: per-op table, roofline, unit timelines, trace and an HTML "
                 "report");
  profile_cmd->footer(
      "Writes into DIR: report.html (self-contained: roofline with every op, time by bound,\n"
      "utilization timeline per unit, sortable per-op table, the chip), ops.csv (one row per op),\n"
      "stats.json (the run's stats plus \"profile\") and trace.json (Chrome trace events: open in\n"
      "Perfetto). Timing only unless --values. See docs/profiling.md.\n");
  profile_cmd->add_option("model", profile_args.model, "Model file: .onnx, .tir or .xtpu")->required();
  profile_cmd->add_option("-o,--output-dir", profile_args.output_dir, "Directory to write the report and data into")
      ->required();
  profile_cmd->add_option("--chip", profile_args.chip, "Chip preset or .toml file (default v4; .xtpu files name their own)");
  profile_cmd->add_option("--set", profile_args.overrides, "KEY=VALUE: override a chip parameter (repeatable)");
  profile_cmd->add_option("--precision", profile_args.precision, "Matmul precision: default, high or highest");
  profile_cmd->add_flag("--values", profile_args.values, "Also compute the values (slower; the cycles are the same)");
  profile_cmd->add_option("--layers", profile_args.layers, "Ops to list on stdout (default 10)");
  profile_cmd->add_option("--threads", profile_args.threads, "Host threads for simulation (default: all)");
  profile_cmd->add_option("--default-dim", profile_args.default_dim, "Size for symbolic ONNX input dims (default 1)");
  profile_cmd->add_option("--max-trace-events", profile_args.max_trace_events,
                          "Above this many instructions the trace has one event per unit per op (default 200000)");
  profile_cmd->add_flag("-q,--quiet", profile_args.quiet, "No progress bar or timings on stderr");

  SweepArgs sweep_args;
  CLI::App* sweep_cmd = app.add_subcommand(
      "sweep", "Compile and time a model on every chip in a cross product of parameter values, in parallel");
  sweep_cmd->footer(
      "Example: xtpu sweep m.onnx --chip v4 --set mxu.rows=64,128,256 --set hbm.bandwidth_gbps=600,1200 -o out\n"
      "Writes DIR/sweep.csv (one row per point; failed points have status=error and the message)\n"
      "and DIR/sweep.html (throughput, MXU utilization and roofline position against each\n"
      "parameter). Timing only unless --values. See docs/profiling.md.\n");
  sweep_cmd->add_option("model", sweep_args.model, "Model file: .onnx or .tir")->required();
  sweep_cmd->add_option("-o,--output-dir", sweep_args.output_dir, "Directory for sweep.csv and sweep.html")->required();
  sweep_cmd->add_option("--chip", sweep_args.chip, "Base chip: preset or .toml file (default v4)");
  sweep_cmd->add_option("--set", sweep_args.sets, "KEY=V1,V2,...: a parameter and its values (repeatable: cross product)");
  sweep_cmd->add_option("--fix", sweep_args.fixed, "KEY=VALUE: override for every point (repeatable)");
  sweep_cmd->add_option("--precision", sweep_args.precision, "Matmul precision: default, high or highest");
  sweep_cmd->add_flag("--values", sweep_args.values, "Also compute the values at every point (slower)");
  sweep_cmd->add_option("-j,--jobs", sweep_args.jobs, "Points run at once (default: all cores)");
  sweep_cmd->add_option("--default-dim", sweep_args.default_dim, "Size for symbolic ONNX input dims (default 1)");
  sweep_cmd->add_flag("-q,--quiet", sweep_args.quiet, "No progress bar or summary on stderr");

  SimArgs sim_args;
  CLI::App* sim_cmd = app.add_subcommand(
      "sim", "Run a chip program on the functional simulator; buffers not given are seeded random");
  sim_cmd->add_option("program", sim_args.program, "Program file (.s or .bin)")->required();
  sim_cmd->add_option("--chip", sim_args.chip, "Preset name (v1, v4, v5e, edge) or .toml file (default v4)");
  sim_cmd->add_option("--set", sim_args.overrides, "key=value: override a chip parameter (repeatable)");
  sim_cmd->add_option("--input", sim_args.inputs, "BUFFER=FILE.npy: initial value of a buffer (repeatable)");
  sim_cmd->add_option("--output", sim_args.outputs, "BUFFER=FILE.npy: write a buffer after the run (repeatable)");
  sim_cmd->add_option("--output-dir", sim_args.output_dir, "Write every output buffer to DIR/<name>.npy");
  sim_cmd->add_option("--stats", sim_args.stats, "Write run statistics and the chip config as JSON");
  sim_cmd->add_option("--trace", sim_args.trace,
                      "Write a Chrome trace-event JSON (open in Perfetto): one track per unit and DMA engine");
  sim_cmd->add_flag("--no-timing", sim_args.no_timing, "Skip the cycle-level timing model (values only)");
  sim_cmd->add_flag("--timing-only", sim_args.timing_only,
                    "Cycles and counts only: units compute no values (fast; no outputs)");
  sim_cmd->add_option("--seed", sim_args.seed, "Seed for buffers not given (default 0)");
  sim_cmd->add_option("--threads", sim_args.threads, "Host threads (default: all cores; results do not depend on it)");
  sim_cmd->add_flag("-q,--quiet", sim_args.quiet, "Do not print the run summary");

  // CLI11 would report an unknown command as a missing one; name it instead.
  std::string first = argc > 1 ? argv[1] : "";
  std::string names;
  bool known = false;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
    known |= sub->get_name() == first;
  }
  if (!first.empty() && first[0] != '-' && !known) {
    return Fail(fmt::format("unknown command '{}'; commands are: {} (see xtpu --help)", argv[1], names));
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    return Fail(e.what());
  }

  xtpu::Status status;
  if (import_cmd->parsed()) status = Import(import_args);
  else if (opt_cmd->parsed()) status = Opt(opt_args);
  else if (run_cmd->parsed()) status = Run(run_args);
  else if (compile_cmd->parsed()) status = CompileModel(compile_args);
  else if (chip_show->parsed()) status = ChipShow(chip_args);
  else if (asm_cmd->parsed()) status = Asm(asm_args);
  else if (disasm_cmd->parsed()) status = Disasm(disasm_args);
  else if (sim_cmd->parsed()) status = Sim(sim_args);
  else if (profile_cmd->parsed()) status = Profile(profile_args);
  else if (sweep_cmd->parsed()) status = Sweep(sweep_args);
  if (!status.ok()) return Fail(status.message());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::bad_alloc&) {
    return Fail("out of memory");
  } catch (const std::exception& e) {
    return Fail(std::string("internal error: ") + e.what());
  }
}
