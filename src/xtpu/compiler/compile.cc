#include "xtpu/compiler/compile.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "xtpu/compiler/chip_form.h"
#include "xtpu/compiler/pipeline.h"

#ifndef XTPU_VERSION
#define XTPU_VERSION "unknown"
#endif

namespace xtpu::compiler {
namespace {
double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }
}  // namespace

StatusOr<runtime::Executable> Compile(std::unique_ptr<Module> module, const ChipConfig& chip,
                                      const CompileOptions& options) {
  auto t0 = std::chrono::steady_clock::now();
  // The model's own signature (before type legalization).
  std::vector<std::pair<std::string, Shape>> model_inputs, model_outputs;
  for (const Instruction* p : module->entry()->parameters()) {
    if (p->shape.is_tuple) return Error("input '{}' has a tuple shape; the chip takes arrays", p->name);
    model_inputs.push_back({p->name, p->shape});
  }
  {
    std::vector<std::string> names = module->OutputNames();
    const Instruction* root = module->entry()->root();
    for (size_t i = 0; i < root->operands.size(); ++i) model_outputs.push_back({names[i], root->operand(i)->shape});
  }
  for (const auto& [name, shape] : model_inputs) {
    if (shape.dtype == DType::kF16 || shape.dtype == DType::kU8)
      return Unimplemented("input '{}' is {}; the chip takes f32, bf16, s32, s64, s8 and pred inputs", name,
                           DTypeName(shape.dtype));
  }

  PassContext pctx{.chip = &chip};
  if (options.progress) pctx.progress = [&options](std::string_view, double f) { options.progress("passes", f); };
  RETURN_IF_ERROR(RunChipPipeline(*module, pctx, options.print_after_all));
  auto t1 = std::chrono::steady_clock::now();

  codegen::LoweringOptions lopts;
  lopts.precision = options.precision;
  lopts.cores = options.cores;
  if (options.progress) lopts.progress = [&options](double f) { options.progress("lowering", f); };
  ASSIGN_OR_RETURN(codegen::LoweredModel lowered, codegen::LowerModule(*module, chip, lopts));
  auto t2 = std::chrono::steady_clock::now();

  runtime::Executable exe;
  exe.compiler_version = XTPU_VERSION;
  exe.chip_toml = ChipToToml(chip);
  exe.chip_name = chip.name;
  exe.precision = std::string(codegen::PrecisionName(options.precision));
  exe.program = std::move(lowered.program);
  exe.program.source_name = module->name();
  if (!lowered.constants.empty()) {
    exe.constants.push_back(
        {"constants", std::string(reinterpret_cast<const char*>(lowered.constants.data()), lowered.constants.size())});
  }
  if (lowered.inputs.size() != model_inputs.size() || lowered.outputs.size() != model_outputs.size())
    return Error("internal: the compiled program has {} inputs and {} outputs, the model {} and {}", lowered.inputs.size(),
                 lowered.outputs.size(), model_inputs.size(), model_outputs.size());
  for (size_t i = 0; i < model_inputs.size(); ++i) {
    exe.inputs.push_back({model_inputs[i].first, model_inputs[i].second.dtype, model_inputs[i].second.dims,
                          lowered.inputs[i].buffer, lowered.inputs[i].shape.dtype});
  }
  for (size_t i = 0; i < model_outputs.size(); ++i) {
    exe.outputs.push_back({model_outputs[i].first, model_outputs[i].second.dtype, model_outputs[i].second.dims,
                           lowered.outputs[i].buffer, lowered.outputs[i].shape.dtype});
  }
  nlohmann::json meta;
  meta["model"] = module->name();
  meta["flops"] = lowered.flops;
  meta["hbm_constant_bytes"] = lowered.hbm_constant_bytes;
  meta["hbm_activation_bytes"] = lowered.hbm_activation_bytes;
  meta["instructions"] = exe.program.num_instructions();
  nlohmann::json kernels = nlohmann::json::array();
  for (const codegen::KernelRecord& k : lowered.kernels) {
    nlohmann::json pcs = nlohmann::json::array();
    for (auto [b, e] : k.pc_range) pcs.push_back({b, e});
    kernels.push_back({{"name", k.name}, {"op", k.op}, {"flops", k.flops}, {"hbm_bytes", k.hbm_bytes}, {"pc", pcs}});
  }
  meta["kernels"] = std::move(kernels);
  auto t3 = std::chrono::steady_clock::now();
  meta["compile_seconds"] = {{"passes", Seconds(t1 - t0)}, {"lowering", Seconds(t2 - t1)}, {"package", Seconds(t3 - t2)}};
  exe.metadata_json = meta.dump();
  return exe;
}

}  // namespace xtpu::compiler
