// The subcommands of the `xtpu` command line (tools/xtpu_main.cc wires them
// to CLI11). Each returns a Status; main prints an error as one line
// "xtpu: error: <message>" and exits 1.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xtpu/frontend/load_model.h"  // LoadModel, used by several commands
#include "xtpu/ir/module.h"
#include "xtpu/support/status.h"

namespace xtpu::cli {

struct ImportArgs {
  std::string model;
  std::string output;  // empty: stdout
  int64_t default_dim = 1;
};
Status Import(const ImportArgs& args);

struct OptArgs {
  std::string input;
  std::string output;  // empty: stdout
  std::string passes;  // comma-separated pass names, run in order; empty: none
  std::string chip;    // preset or .toml for passes that need the target (optional)
  bool print_after_all = false;  // the module to stderr after each pass that changed it
  bool list_passes = false;      // print the known passes and exit
  bool check_unchanged = false;  // tests: fail if a pass says "unchanged" but changed the module
};
Status Opt(const OptArgs& args);

struct RunArgs {
  std::string model;             // .onnx, .tir or .xtpu
  std::string backend = "chip";  // chip (compile + simulate) or reference (host evaluator)
  std::string chip = "v4";       // preset or .toml (ignored for .xtpu, which names its chip)
  std::vector<std::string> overrides;  // key=value chip overrides
  std::string precision = "default";
  bool timing_only = false;
  std::string stats;   // stats JSON path
  std::string trace;   // Chrome trace JSON path
  int layers = 10;     // kernels shown in the per-layer table
  int threads = 0;
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::string inputs_npz;
  std::string output;  // .npz, or .npy for one output
  uint64_t seed = 0;
  int64_t default_dim = 1;
  bool quiet = false;
};
Status Run(const RunArgs& args);

// Shared by `run` on both backends (cmd_run.cc).
struct InputSpec {
  std::string name;
  Shape shape;
};
StatusOr<std::vector<Literal>> GatherInputs(const std::vector<InputSpec>& params, const RunArgs& args);
Status WriteOutputs(const std::string& path, const std::vector<std::string>& names, const std::vector<Literal>& outputs);
std::string OutputSummary(const std::string& name, const Literal& l);
// `run` on the simulated chip (cmd_compile.cc).
Status RunOnChip(const RunArgs& args);

struct CompileArgs {
  std::string model;   // .onnx or .tir
  std::string output;  // .xtpu
  std::string chip = "v4";
  std::vector<std::string> overrides;
  std::string precision = "default";
  int64_t default_dim = 1;
  int cores = 0;
  bool print_after_all = false;
  bool quiet = false;
};
Status CompileModel(const CompileArgs& args);

struct ChipShowArgs {
  std::string chip;                    // preset name or .toml path
  std::vector<std::string> overrides;  // key=value
  bool json = false;
};
Status ChipShow(const ChipShowArgs& args);

struct AsmArgs {
  std::string input;   // .s
  std::string output;  // .bin
};
Status Asm(const AsmArgs& args);

struct DisasmArgs {
  std::string input;  // .bin or .s
};
Status Disasm(const DisasmArgs& args);

struct ProfileArgs {
  std::string model;  // .onnx, .tir or .xtpu
  std::string chip = "v4";
  std::vector<std::string> overrides;  // key=value
  std::string precision = "default";
  std::string output_dir;              // stats.json, trace.json, ops.csv, report.html
  bool values = false;                 // compute values too (default: timing only)
  int layers = 10;
  int threads = 0;
  int64_t default_dim = 1;
  int64_t max_trace_events = 200000;   // more instructions: one event per unit per op
  bool quiet = false;
};
Status Profile(const ProfileArgs& args);

struct SweepArgs {
  std::string model;  // .onnx or .tir
  std::string chip = "v4";
  std::vector<std::string> sets;   // KEY=V1,V2,...: the axes
  std::vector<std::string> fixed;  // KEY=VALUE applied to every point
  std::string precision = "default";
  std::string output_dir;          // sweep.csv, sweep.html
  bool values = false;
  int jobs = 0;
  int64_t default_dim = 1;
  bool quiet = false;
};
Status Sweep(const SweepArgs& args);

struct SimArgs {
  std::string program;  // .s or .bin
  std::string chip = "v4";
  std::vector<std::string> overrides;  // key=value
  std::vector<std::string> inputs;     // BUFFER=FILE.npy
  std::vector<std::string> outputs;    // BUFFER=FILE.npy
  std::string output_dir;
  std::string stats;
  std::string trace;
  bool no_timing = false;
  bool timing_only = false;
  uint64_t seed = 0;
  int threads = 0;
  bool quiet = false;
};
Status Sim(const SimArgs& args);

}  // namespace xtpu::cli
