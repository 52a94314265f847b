// Import-time constant folding: evaluates a run of freshly built
// instructions whose outside operands are all constants, with the reference
// evaluator, so shape subgraphs (Shape/Gather/Concat/Reshape...) become
// constants and every shape stays static.
#pragma once

#include <vector>

#include "xtpu/ir/module.h"

namespace xtpu::onnx_import {

// Evaluates `outputs`, computed by instructions [start, end) of `comp`
// (operands outside that range must be constants). Returns one Literal per
// output, or an error when something cannot be evaluated.
StatusOr<std::vector<Literal>> EvaluateInstructions(const Computation& comp, size_t start,
                                                    const std::vector<Instruction*>& outputs);

}  // namespace xtpu::onnx_import
