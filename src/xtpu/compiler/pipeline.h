// The chip pipeline: the passes that take an imported module to chip form
// (chip_form.h), in order:
//
//   dce                 (a dead constant need not fit s32)
//   legalize-types      s64 -> s32, f16 -> f32
//   decompose           reduce-window, power, iota, dynamic-slice, lhs dilation, gathers
//   int8-matmul         quantized dot/convolution -> s8 x s8 -> s32 (before
//                       constant folding turns dequantized weights into f32)
//   layout-assignment   convolutions to NHWC/HWIO
//   transpose-sinking   transposes out from between the convolutions
//   simplification      algsimp, constant-folding, cse, canonicalize, dce (to a fixed point)
//   canonicalize-dot    dots to [B..,M,K] x [B..,K,N]
//   simplification      again, for the transposes and reshapes of weights
//   fusion              epilogue (output) and loop fusions
//   dce
// then CheckChipForm. The verifier runs after every pass.
#pragma once

#include "xtpu/compiler/pass.h"

namespace xtpu::compiler {

// The names of the pipeline's passes in order ("+" joins a fixed-point group).
const std::vector<std::string>& ChipPipelinePassNames();

// Runs the pipeline on `module`, then CheckChipForm. With print_after_all,
// prints the module after every pass that changed it (to stderr).
Status RunChipPipeline(Module& module, const PassContext& ctx, bool print_after_all = false);

// The pipeline as one pass, "chip-pipeline" (`xtpu opt --passes=chip-pipeline`):
// all the passes, then CheckChipForm (its error fails the pass).
std::unique_ptr<Pass> CreateChipPipelinePass();

}  // namespace xtpu::compiler
