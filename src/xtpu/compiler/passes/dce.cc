// dce: dead code elimination.
//
// In every computation, removes the instructions its root does not reach
// through operands. Parameters always stay: their numbers are the
// computation's signature (and the model's inputs). Then removes the
// computations that the entry does not reach through called computations
// (to_apply of reduce, reduce-window and fusion), looked up from the live
// instructions only. Always valid; values are unchanged.
#include <algorithm>
#include <unordered_set>

#include "xtpu/compiler/passes/simplification.h"

namespace xtpu::compiler {
namespace {

// Removes `comp`'s instructions that its root does not reach. Returns true if
// any were removed.
bool RemoveDeadInstructions(Computation& comp) {
  std::unordered_set<const Instruction*> live;
  std::vector<const Instruction*> work;
  if (comp.root() != nullptr) work.push_back(comp.root());
  while (!work.empty()) {
    const Instruction* inst = work.back();
    work.pop_back();
    if (!live.insert(inst).second) continue;
    for (const Instruction* o : inst->operands) work.push_back(o);
  }
  auto& insts = comp.mutable_instructions();
  size_t before = insts.size();
  insts.erase(std::remove_if(insts.begin(), insts.end(),
                             [&](const std::unique_ptr<Instruction>& inst) {
                               return inst->opcode != Opcode::kParameter && !live.count(inst.get());
                             }),
              insts.end());
  return insts.size() != before;
}

// Removes the computations the entry does not call (directly or not).
bool RemoveDeadComputations(Module& module) {
  if (module.entry() == nullptr) return false;
  std::unordered_set<const Computation*> live;
  std::vector<const Computation*> work = {module.entry()};
  while (!work.empty()) {
    const Computation* c = work.back();
    work.pop_back();
    if (!live.insert(c).second) continue;
    for (const auto& inst : c->instructions())
      if (inst->to_apply != nullptr) work.push_back(inst->to_apply);
  }
  auto& comps = module.mutable_computations();
  size_t before = comps.size();
  comps.erase(std::remove_if(comps.begin(), comps.end(),
                             [&](const std::unique_ptr<Computation>& c) { return !live.count(c.get()); }),
              comps.end());
  return comps.size() != before;
}

class DeadCodeElimination : public Pass {
 public:
  std::string_view name() const override { return "dce"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    bool changed = false;
    for (const auto& comp : module.computations()) changed |= RemoveDeadInstructions(*comp);
    changed |= RemoveDeadComputations(module);
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> CreateDeadCodeEliminationPass() { return std::make_unique<DeadCodeElimination>(); }

}  // namespace xtpu::compiler
