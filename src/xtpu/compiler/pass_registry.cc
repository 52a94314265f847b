// The list of all passes. Each group of passes appends its own entries (so
// several files can add passes without editing one shared list).
#include <fmt/format.h>

#include "xtpu/compiler/pass.h"
#include "xtpu/compiler/passes/registry_parts.h"

namespace xtpu::compiler {

const std::vector<PassInfo>& AllPasses() {
  static const std::vector<PassInfo> passes = [] {
    std::vector<PassInfo> v;
    AppendSimplificationPasses(v);  // dce, cse, constant folding, algsimp, canonicalize
    AppendLoweringPasses(v);        // layout, decompositions, fusion, legalization
    return v;
  }();
  return passes;
}

StatusOr<std::unique_ptr<Pass>> CreatePass(std::string_view name) {
  std::string known;
  for (const PassInfo& p : AllPasses()) {
    if (p.name == name) return p.create();
    known += (known.empty() ? "" : ", ") + p.name;
  }
  return Error("unknown pass '{}' (known passes: {})", name, known);
}

}  // namespace xtpu::compiler
