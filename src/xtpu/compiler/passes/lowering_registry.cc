// Registers the lowering passes (see lowering.h) so `xtpu opt --passes=...`
// and the chip pipeline (pipeline.h) create them by name.
#include "xtpu/compiler/passes/lowering.h"
#include "xtpu/compiler/pipeline.h"
#include "xtpu/compiler/passes/registry_parts.h"

namespace xtpu::compiler {

void AppendLoweringPasses(std::vector<PassInfo>& out) {
  out.push_back({"legalize-types", "s64 -> s32 and f16 -> f32 everywhere (constants out of s32 range are an error)",
                 CreateLegalizeTypesPass});
  out.push_back({"decompose",
                 "reduce-window -> pad + slices + max/add; power 2/0.5 -> multiply/sqrt; iota -> constant; "
                 "constant dynamic-slice -> slice; conv lhs dilation -> pad",
                 CreateDecomposePass});
  out.push_back({"int8-matmul",
                 "quantized dot/convolution (dequantized s8/u8 operands, constant weights) -> s8 x s8 -> s32 "
                 "with exact zero-point corrections; u8 values clamped by QuantizeLinear -> their s32/f32 value",
                 CreateInt8MatmulPass});
  out.push_back({"layout-assignment", "convolutions (and NCHW pooling) to NHWC/HWIO with transposes around them",
                 CreateLayoutAssignmentPass});
  out.push_back({"transpose-sinking", "move transposes toward the outputs through elementwise ops, reductions and "
                 "data movement, cancelling inverse pairs",
                 CreateTransposeSinkingPass});
  out.push_back({"canonicalize-dot", "every dot to [B..,M,K] x [B..,K,N] (transposes and reshapes around it)",
                 CreateCanonicalizeDotPass});
  out.push_back({"fusion", "epilogue fusion of dot/convolution (kind=output), then loop fusion of elementwise ops",
                 CreateFusionPass});
  out.push_back({"chip-pipeline", "all of the above and the simplification passes in order, then the chip-form check "
                 "(compiler/pipeline.h)",
                 CreateChipPipelinePass});
}

}  // namespace xtpu::compiler
