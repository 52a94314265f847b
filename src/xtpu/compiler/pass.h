// Compiler passes over the tensor IR (in the style of XLA's HloPassInterface).
//
// A pass is small, lives in its own file under compiler/passes/, and reports
// whether it changed the module. Passes are created by name from one list
// (pass_registry.cc), so `xtpu opt --passes=dce,cse` and the compile pipeline
// share them. The PassManager runs the verifier after every pass and can
// repeat a group of passes to a fixed point with a cap.
//
//   PassManager pm;
//   RETURN_IF_ERROR(pm.AddByName("algsimp,dce"));
//   ASSIGN_OR_RETURN(bool changed, pm.Run(module));
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "xtpu/chip/chip.h"
#include "xtpu/ir/module.h"
#include "xtpu/support/status.h"

namespace xtpu::compiler {

// What passes may need to know about the target. Passes that do not depend
// on the chip ignore it; `chip` may be null (e.g. `xtpu opt` without --chip).
struct PassContext {
  const ChipConfig* chip = nullptr;
  // If set, PassManager::Run calls it before each step with the pass name and
  // the fraction of the steps done (progress bars).
  std::function<void(std::string_view pass, double fraction)> progress = nullptr;
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string_view name() const = 0;
  // Returns true if the module changed. The module must verify afterwards.
  virtual StatusOr<bool> Run(Module& module, const PassContext& ctx) = 0;
};

// Registry: every pass, by name, with a one-line description.
struct PassInfo {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<Pass>()> create;
};
const std::vector<PassInfo>& AllPasses();
StatusOr<std::unique_ptr<Pass>> CreatePass(std::string_view name);  // error lists known names

struct PassManagerOptions {
  bool verify = true;             // run the verifier after every pass
  bool print_after_all = false;   // print the module after every pass that changed it
  // Where to print; when empty, "// -----// IR after <pass> //----- //" and the
  // module go to stderr.
  std::function<void(std::string_view pass, const Module&)> printer;
  // Tests: fail when a pass reports "unchanged" but the printed module differs
  // (prints the module before and after every pass, so it costs time).
  bool check_unchanged = false;
};

class PassManager {
 public:
  explicit PassManager(PassManagerOptions options = {}) : options_(std::move(options)) {}
  void Add(std::unique_ptr<Pass> pass) { steps_.push_back({{}, std::move(pass), 1}); }
  // A comma-separated list of pass names.
  Status AddByName(std::string_view comma_separated);
  // Runs `passes` repeatedly until none changes the module, at most
  // `max_iterations` times (then stops; not an error).
  void AddFixedPoint(std::vector<std::unique_ptr<Pass>> passes, int max_iterations = 8);
  StatusOr<bool> Run(Module& module, const PassContext& ctx = {});

 private:
  struct Step {
    std::vector<std::unique_ptr<Pass>> group;  // fixed-point group (if non-empty)
    std::unique_ptr<Pass> pass;                // single pass
    int max_iterations = 1;
  };
  StatusOr<bool> RunOne(Pass& pass, Module& module, const PassContext& ctx);
  PassManagerOptions options_;
  std::vector<Step> steps_;
};

}  // namespace xtpu::compiler
