// Registers the simplification passes (see simplification.h).
#include "xtpu/compiler/passes/registry_parts.h"
#include "xtpu/compiler/passes/simplification.h"

namespace xtpu::compiler {

void AppendSimplificationPasses(std::vector<PassInfo>& out) {
  out.push_back({"dce", "remove instructions and computations that no output needs",
                 CreateDeadCodeEliminationPass});
  out.push_back({"cse", "merge identical instructions (same op, shape, operands, attributes)",
                 CreateCommonSubexpressionEliminationPass});
  out.push_back({"constant-folding", "evaluate instructions whose operands are all constants",
                 CreateConstantFoldingPass});
  out.push_back({"algsimp", "algebraic simplification (x+0, x*1, reshape of reshape, ...)",
                 CreateAlgebraicSimplifierPass});
  out.push_back({"canonicalize",
                 "inference canonicalization: fold per-channel scales into conv/dot weights, drop copies",
                 CreateCanonicalizePass});
}

}  // namespace xtpu::compiler
