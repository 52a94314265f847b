// Each family of passes registers itself here (see pass_registry.cc).
#pragma once

#include <vector>

#include "xtpu/compiler/pass.h"

namespace xtpu::compiler {

// passes/simplification_registry.cc
void AppendSimplificationPasses(std::vector<PassInfo>& out);
// passes/lowering_registry.cc
void AppendLoweringPasses(std::vector<PassInfo>& out);

}  // namespace xtpu::compiler
