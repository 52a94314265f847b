// The lowering passes (one per file in this directory), registered by name in
// lowering_registry.cc. Together with the simplification passes they bring a
// module into chip form (chip_form.h); pipeline.h runs them in order.
#pragma once

#include <memory>

#include "xtpu/compiler/pass.h"

namespace xtpu::compiler {

// legalize_types.cc: s64 -> s32 (constants out of range are an error),
// f16 -> f32, everywhere including the entry's parameters and outputs.
std::unique_ptr<Pass> CreateLegalizeTypesPass();
// decompose.cc: reduce-window -> pad + strided slices + max/add chain; power
// by 2 or 0.5 -> multiply or sqrt; iota -> constant; dynamic-slice with
// constant starts -> slice; convolution lhs dilation -> interior padding.
std::unique_ptr<Pass> CreateDecomposePass();
// int8_matmul.cc: dot/convolution of dequantized s8/u8 values with constant
// weights -> s8 x s8 -> s32 product + exact zero-point corrections (then
// the scales in f32); convert(convert(y, u8), T) -> convert(y, T).
std::unique_ptr<Pass> CreateInt8MatmulPass();
// layout_assignment.cc: convolutions (and NCHW reduce-windows) to NHWC/HWIO,
// with transposes around them; 1-D convolutions become 2-D.
std::unique_ptr<Pass> CreateLayoutAssignmentPass();
// transpose_sinking.cc: moves transposes toward the outputs through
// elementwise ops, broadcasts, reductions and data movement, cancelling
// pairs on the way.
std::unique_ptr<Pass> CreateTransposeSinkingPass();
// canonicalize_dot.cc: every dot to [B..,M,K] x [B..,K,N] (or [K,N]).
std::unique_ptr<Pass> CreateCanonicalizeDotPass();
// fusion.cc: epilogue (output) fusion of dot/convolution, then loop fusion
// of elementwise ops.
std::unique_ptr<Pass> CreateFusionPass();

}  // namespace xtpu::compiler
