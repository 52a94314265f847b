// Import-time constant folding over a small temporary module.
#include "xtpu/frontend/onnx/constant_folding.h"

#include <unordered_map>

#include "xtpu/ir/evaluator.h"

namespace xtpu::onnx_import {

namespace {

// Copies `src` (a reduction computation) into `dst`, once.
Computation* CloneComputation(const Computation& src, Module& dst,
                              std::unordered_map<const Computation*, Computation*>& done) {
  if (auto it = done.find(&src); it != done.end()) return it->second;
  auto c = std::make_unique<Computation>(src.name());
  std::unordered_map<const Instruction*, Instruction*> map;
  for (const auto& inst : src.instructions()) {
    auto copy = std::make_unique<Instruction>(*inst);
    for (auto& op : copy->operands) op = map.at(op);
    if (copy->to_apply) copy->to_apply = CloneComputation(*copy->to_apply, dst, done);
    map[inst.get()] = c->AddInstruction(std::move(copy));
  }
  c->set_root(map.at(src.root()));
  Computation* raw = dst.AddComputation(std::move(c));
  done[&src] = raw;
  return raw;
}

}  // namespace

StatusOr<std::vector<Literal>> EvaluateInstructions(const Computation& comp, size_t start,
                                                    const std::vector<Instruction*>& outputs) {
  Module m("fold");
  std::unordered_map<const Computation*, Computation*> cloned;
  auto entry = std::make_unique<Computation>("fold_entry");
  std::unordered_map<const Instruction*, Instruction*> map;
  const auto& insts = comp.instructions();
  auto mapped = [&](Instruction* op) -> StatusOr<Instruction*> {
    if (auto it = map.find(op); it != map.end()) return it->second;
    if (op->opcode != Opcode::kConstant)
      return Error("cannot fold: operand {} is not a constant", op->name);
    auto c = std::make_unique<Instruction>(*op);
    Instruction* raw = entry->AddInstruction(std::move(c));
    map[op] = raw;
    return raw;
  };
  for (size_t i = start; i < insts.size(); ++i) {
    const Instruction* inst = insts[i].get();
    if (inst->opcode == Opcode::kParameter) return Error("cannot fold a parameter");
    auto copy = std::make_unique<Instruction>(*inst);
    for (auto& op : copy->operands) { ASSIGN_OR_RETURN(op, mapped(op)); }
    if (copy->to_apply) copy->to_apply = CloneComputation(*copy->to_apply, m, cloned);
    map[inst] = entry->AddInstruction(std::move(copy));
  }
  auto root = std::make_unique<Instruction>();
  root->opcode = Opcode::kTuple;
  root->name = "fold_root";
  std::vector<Shape> shapes;
  for (Instruction* o : outputs) {
    ASSIGN_OR_RETURN(Instruction * mo, mapped(o));
    root->operands.push_back(mo);
    shapes.push_back(mo->shape);
  }
  root->shape = Shape::Tuple(std::move(shapes));
  entry->set_root(entry->AddInstruction(std::move(root)));
  m.set_entry(m.AddComputation(std::move(entry)));
  return Evaluate(m, {});
}

}  // namespace xtpu::onnx_import
