// RunChipPipeline: the pass list of pipeline.h, read top to bottom.
#include "xtpu/compiler/pipeline.h"

#include "xtpu/compiler/chip_form.h"

namespace xtpu::compiler {
namespace {

// Simplification passes, run together to a fixed point.
constexpr const char* kSimplify = "algsimp+constant-folding+cse+canonicalize+dce";

}  // namespace

const std::vector<std::string>& ChipPipelinePassNames() {
  static const std::vector<std::string> names = {
      "legalize-types", "decompose", "layout-assignment", "transpose-sinking", kSimplify,
      "canonicalize-dot", kSimplify, "fusion", "dce",
  };
  return names;
}

Status RunChipPipeline(Module& module, const PassContext& ctx, bool print_after_all) {
  PassManagerOptions options;
  options.print_after_all = print_after_all;
  PassManager pm(std::move(options));
  for (const std::string& step : ChipPipelinePassNames()) {
    if (step.find('+') == std::string::npos) {
      ASSIGN_OR_RETURN(std::unique_ptr<Pass> pass, CreatePass(step));
      pm.Add(std::move(pass));
      continue;
    }
    std::vector<std::unique_ptr<Pass>> group;
    size_t start = 0;
    while (start <= step.size()) {
      size_t plus = step.find('+', start);
      if (plus == std::string::npos) plus = step.size();
      ASSIGN_OR_RETURN(std::unique_ptr<Pass> pass, CreatePass(step.substr(start, plus - start)));
      group.push_back(std::move(pass));
      start = plus + 1;
    }
    pm.AddFixedPoint(std::move(group), /*max_iterations=*/8);
  }
  RETURN_IF_ERROR(pm.Run(module, ctx).status());
  return CheckChipForm(module);
}

}  // namespace xtpu::compiler
