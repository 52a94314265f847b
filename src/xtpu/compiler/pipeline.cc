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
      "dce", "legalize-types", "decompose", "int8-matmul", "layout-assignment", "transpose-sinking", kSimplify,
      "canonicalize-dot", kSimplify, "fusion", "dce",
  };
  return names;
}

namespace {

// Runs the passes; true if any changed the module.
StatusOr<bool> RunPipelinePasses(Module& module, const PassContext& ctx, bool print_after_all) {
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
  return pm.Run(module, ctx);
}

class ChipPipelinePass : public Pass {
 public:
  std::string_view name() const override { return "chip-pipeline"; }
  StatusOr<bool> Run(Module& module, const PassContext& ctx) override {
    ASSIGN_OR_RETURN(bool changed, RunPipelinePasses(module, ctx, /*print_after_all=*/false));
    RETURN_IF_ERROR(CheckChipForm(module));
    return changed;
  }
};

}  // namespace

Status RunChipPipeline(Module& module, const PassContext& ctx, bool print_after_all) {
  RETURN_IF_ERROR(RunPipelinePasses(module, ctx, print_after_all).status());
  return CheckChipForm(module);
}

std::unique_ptr<Pass> CreateChipPipelinePass() { return std::make_unique<ChipPipelinePass>(); }

}  // namespace xtpu::compiler
