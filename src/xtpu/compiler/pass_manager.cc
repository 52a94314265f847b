// PassManager: runs passes in order, the verifier after each one, and
// fixed-point groups up to their iteration cap (see pass.h).
#include <cstdio>

#include <fmt/format.h>

#include "xtpu/compiler/pass.h"
#include "xtpu/ir/printer.h"
#include "xtpu/ir/verifier.h"
#include "xtpu/support/check.h"

namespace xtpu::compiler {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The default printer: MLIR's banner, then the module, on stderr.
void PrintToStderr(std::string_view pass, const Module& module) {
  std::string text = fmt::format("// -----// IR after {} //----- //\n{}", pass, Print(module));
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

Status PassManager::AddByName(std::string_view comma_separated) {
  std::vector<std::unique_ptr<Pass>> passes;
  std::string_view rest = comma_separated;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view name = Trim(rest.substr(0, comma));
    if (name.empty()) return Error("empty pass name in pass list '{}'", comma_separated);
    ASSIGN_OR_RETURN(std::unique_ptr<Pass> pass, CreatePass(name));
    passes.push_back(std::move(pass));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  // Only add once the whole list is known to be good.
  for (auto& p : passes) Add(std::move(p));
  return OkStatus();
}

void PassManager::AddFixedPoint(std::vector<std::unique_ptr<Pass>> passes, int max_iterations) {
  XTPU_CHECK(max_iterations >= 1);
  steps_.push_back({std::move(passes), nullptr, max_iterations});
}

StatusOr<bool> PassManager::RunOne(Pass& pass, Module& module, const PassContext& ctx) {
  std::string before;
  if (options_.check_unchanged) before = Print(module);
  StatusOr<bool> changed = pass.Run(module, ctx);
  if (!changed.ok()) return changed.status().WithPrefix(fmt::format("pass '{}'", pass.name()));
  if (options_.verify) {
    Status s = Verify(module);
    if (!s.ok()) return s.WithPrefix(fmt::format("the module does not verify after pass '{}'", pass.name()));
  }
  if (options_.check_unchanged && !*changed && Print(module) != before) {
    return Status::Error(fmt::format("pass '{}' reported no change but changed the module", pass.name()),
                         StatusCode::kInternal);
  }
  if (*changed && options_.print_after_all) {
    if (options_.printer) options_.printer(pass.name(), module);
    else PrintToStderr(pass.name(), module);
  }
  return *changed;
}

StatusOr<bool> PassManager::Run(Module& module, const PassContext& ctx) {
  bool changed = false;
  for (Step& step : steps_) {
    if (ctx.progress) {
      std::string_view name = step.pass ? step.pass->name() : step.group.empty() ? "" : step.group.front()->name();
      ctx.progress(name, static_cast<double>(&step - steps_.data()) / steps_.size());
    }
    if (step.pass) {
      ASSIGN_OR_RETURN(bool c, RunOne(*step.pass, module, ctx));
      changed |= c;
      continue;
    }
    // Fixed-point group: stop after a round where nothing changed, or at the cap.
    for (int round = 0; round < step.max_iterations; ++round) {
      bool round_changed = false;
      for (auto& pass : step.group) {
        ASSIGN_OR_RETURN(bool c, RunOne(*pass, module, ctx));
        round_changed |= c;
      }
      changed |= round_changed;
      if (!round_changed) break;
    }
  }
  return changed;
}

}  // namespace xtpu::compiler
