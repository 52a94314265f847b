// The compiler's entry point: a tensor-IR module (from ONNX or text) and a
// chip description in, an executable (runtime/executable.h) out.
//
//   ASSIGN_OR_RETURN(runtime::Executable exe,
//                    compiler::Compile(std::move(module), chip, {.precision = Precision::kHigh}));
//
// Steps: record the model's signature; run the chip pipeline (pipeline.h:
// type legalization, decompositions, layout assignment, simplification,
// fusion) to chip form; lower to the ISA (codegen/lowering.h); package the
// program, constants, signature and a metadata JSON (FLOPs, per-kernel
// table, memory use, compile time per phase).
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/codegen/lowering.h"
#include "xtpu/ir/module.h"
#include "xtpu/runtime/executable.h"
#include "xtpu/support/status.h"

namespace xtpu::compiler {

struct CompileOptions {
  codegen::Precision precision = codegen::Precision::kDefault;
  int cores = 0;                 // 0 = all cores of the chip
  bool print_after_all = false;  // print the IR after every pass (stderr)
  // If set, called with the stage ("passes", "lowering") and the fraction
  // done (negative: unknown), for progress bars.
  std::function<void(std::string_view stage, double fraction)> progress = nullptr;
};

StatusOr<runtime::Executable> Compile(std::unique_ptr<Module> module, const ChipConfig& chip,
                                      const CompileOptions& options = {});

}  // namespace xtpu::compiler
