// The library side of `xtpu asm`, `xtpu disasm` and `xtpu sim`, so the CLI
// only parses flags:
//
//   xtpu asm prog.s -o prog.bin      -> AsmCommand("prog.s", "prog.bin")
//   xtpu disasm prog.bin             -> DisasmCommand("prog.bin") (text to stdout)
//   xtpu sim prog.s --chip v4 --input A=a.npy --output C=c.npy --stats s.json
//                                    -> RunSimCommand(options, &summary)
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "xtpu/isa/isa.h"
#include "xtpu/support/status.h"

namespace xtpu::sim {

// Reads a program: a binary (starts with the XTPUPROG magic) or assembly text.
StatusOr<isa::Program> LoadProgramFile(const std::string& path);

Status AsmCommand(const std::string& input_path, const std::string& output_path);
StatusOr<std::string> DisasmCommand(const std::string& input_path);

struct SimCommandOptions {
  std::string program;                      // .s or .bin
  std::string chip = "v4";                  // preset name or .toml path
  std::vector<std::string> chip_overrides;  // "mxu.rows=256"
  std::vector<std::pair<std::string, std::string>> inputs;   // buffer name, .npy path
  std::vector<std::pair<std::string, std::string>> outputs;  // buffer name, .npy path
  std::string output_dir;  // if set: every output/inout buffer not named in `outputs` -> <dir>/<name>.npy
  std::string stats_path;  // JSON: functional stats, timing stats ("timing") + the chip config
  std::string trace_path;  // Chrome trace-event JSON of the timing model (Perfetto)
  bool timing = true;      // run the timing model (cycles in the summary and stats)
  bool timing_only = false;  // SimOptions::timing_only: cycles and counts, no values (no outputs)
  uint64_t seed = 0;       // for inputs not given
  int threads = 0;         // host threads; 0 = all
};

// Runs the program; `summary` gets a few human-readable lines (instructions
// per unit, bytes moved, FLOPs, wall time, files written).
Status RunSimCommand(const SimCommandOptions& options, std::string* summary);

}  // namespace xtpu::sim
