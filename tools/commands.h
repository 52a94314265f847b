// The subcommands of the `xtpu` command line (tools/xtpu_main.cc wires them
// to CLI11). Each returns a Status; main prints an error as one line
// "xtpu: error: <message>" and exits 1.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xtpu/ir/module.h"
#include "xtpu/support/status.h"

namespace xtpu::cli {

// Loads a model by extension: .onnx is imported, .tir is parsed (both are
// verified). `default_dim` replaces symbolic ONNX input dims.
StatusOr<std::unique_ptr<Module>> LoadModel(const std::string& path, int64_t default_dim);

struct ImportArgs {
  std::string model;
  std::string output;  // empty: stdout
  int64_t default_dim = 1;
};
Status Import(const ImportArgs& args);

struct OptArgs {
  std::string input;
  std::string output;  // empty: stdout
};
Status Opt(const OptArgs& args);

struct RunArgs {
  std::string model;
  std::string backend = "reference";
  std::vector<std::string> inputs;  // NAME=FILE.npy
  std::string inputs_npz;
  std::string output;  // .npz, or .npy for one output
  uint64_t seed = 0;
  int64_t default_dim = 1;
  bool quiet = false;
};
Status Run(const RunArgs& args);

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
  uint64_t seed = 0;
  int threads = 0;
  bool quiet = false;
};
Status Sim(const SimArgs& args);

}  // namespace xtpu::cli
