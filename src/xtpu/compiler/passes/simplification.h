// The simplification passes (one per file in this directory), registered by
// name in simplification_registry.cc. They need no chip; each keeps the
// reference evaluator's outputs (exactly, except canonicalize: see there).
#pragma once

#include <memory>

#include "xtpu/compiler/pass.h"

namespace xtpu::compiler {

// dce.cc: removes instructions no root reaches and computations no live
// instruction calls. Parameters always stay.
std::unique_ptr<Pass> CreateDeadCodeEliminationPass();
// cse.cc: merges identical instructions (same opcode, shape, operands and
// attributes; constants by value).
std::unique_ptr<Pass> CreateCommonSubexpressionEliminationPass();
// constant_folding.cc: replaces instructions whose operands are all
// constants by their value (computed by the reference evaluator).
std::unique_ptr<Pass> CreateConstantFoldingPass();
// algsimp.cc: algebraic identities (x+0, x*1, transpose of transpose, ...)
// from a table of rewrite rules.
std::unique_ptr<Pass> CreateAlgebraicSimplifierPass();
// canonicalize.cc: inference canonicalization (per-channel scales folded
// into convolution and dot weights; copies removed).
std::unique_ptr<Pass> CreateCanonicalizePass();

}  // namespace xtpu::compiler
