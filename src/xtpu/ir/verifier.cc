// Verifier: structural and shape checks of a whole module (see verifier.h).
// Reports the first error as "computation <c>: %<inst> (<op>): <what>".
#include "xtpu/ir/verifier.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "xtpu/ir/shape_inference.h"

namespace xtpu {
namespace {

class ModuleVerifier {
 public:
  explicit ModuleVerifier(const Module& m) : m_(m) {}

  Status Run() {
    const auto& comps = m_.computations();
    for (size_t i = 0; i < comps.size(); ++i) {
      const Computation* c = comps[i].get();
      if (c == nullptr) return Error("module {}: computation {} is null", m_.name(), i);
      if (!comp_index_.emplace(c, i).second) {
        return Error("module {}: computation {} is listed twice", m_.name(), c->name());
      }
      if (!comp_names_.insert(c->name()).second) {
        return Error("module {}: computation name {} is used twice", m_.name(), c->name());
      }
      for (const auto& inst : c->instructions()) {
        if (inst == nullptr) return Error("computation {}: null instruction", c->name());
        owner_[inst.get()] = c;
      }
    }
    if (m_.entry() == nullptr) return Error("module {}: no entry computation", m_.name());
    if (!comp_index_.count(m_.entry())) {
      return Error("module {}: entry computation {} is not in the module", m_.name(),
                   m_.entry()->name());
    }
    for (const auto& c : comps) RETURN_IF_ERROR(VerifyComputation(*c));
    const Instruction* root = m_.entry()->root();
    if (root->opcode != Opcode::kTuple) {
      return Error("computation {}: the entry root %{} must be a tuple of the outputs, is {}",
                   m_.entry()->name(), root->name, OpcodeName(root->opcode));
    }
    return OkStatus();
  }

 private:
  Status VerifyComputation(const Computation& c) {
    auto fail = [&](const Instruction& inst, const std::string& what) {
      return Error("computation {}: %{} ({}): {}", c.name(), inst.name, OpcodeName(inst.opcode),
                   what);
    };
    std::unordered_set<const Instruction*> defined;
    std::vector<const Instruction*> params;
    for (const auto& up : c.instructions()) {
      const Instruction& inst = *up;
      if (inst.name.empty()) {
        return Error("computation {}: an instruction ({}) has no name", c.name(),
                     OpcodeName(inst.opcode));
      }
      if (!names_.insert(inst.name).second) {
        return fail(inst, "name is already used in the module");
      }
      for (size_t i = 0; i < inst.operands.size(); ++i) {
        const Instruction* o = inst.operands[i];
        if (o == nullptr) return fail(inst, fmt::format("operand {} is null", i));
        if (defined.count(o)) continue;
        auto it = owner_.find(o);
        if (it == owner_.end()) {
          return fail(inst, fmt::format("operand {} (%{}) is not in the module", i, o->name));
        }
        if (it->second != &c) {
          return fail(inst, fmt::format("operand {} (%{}) belongs to computation {}", i, o->name,
                                        it->second->name()));
        }
        return fail(inst, fmt::format("operand {} (%{}) is used before it is defined", i, o->name));
      }
      if (inst.to_apply != nullptr) {
        if (inst.opcode != Opcode::kReduce && inst.opcode != Opcode::kReduceWindow &&
            inst.opcode != Opcode::kFusion) {
          return fail(inst, "only reduce and reduce-window take a to_apply computation (and fusion one to call)");
        }
        auto it = comp_index_.find(inst.to_apply);
        if (it == comp_index_.end()) {
          return fail(inst, fmt::format("to_apply {} is not in the module", inst.to_apply->name()));
        }
        if (it->second >= comp_index_.at(&c)) {
          return fail(inst, fmt::format("to_apply {} must come before computation {}",
                                        inst.to_apply->name(), c.name()));
        }
        if (inst.to_apply == m_.entry()) return fail(inst, "to_apply cannot be the entry");
      }
      if (inst.opcode == Opcode::kFusion && inst.to_apply == nullptr) {
        return fail(inst, "a fusion needs a called computation (calls=...)");
      }
      if (inst.opcode == Opcode::kParameter) params.push_back(&inst);
      auto shape = InferShape(inst);
      if (!shape.ok()) return shape.status().WithPrefix("computation " + c.name());
      if (*shape != inst.shape) {
        return fail(inst, fmt::format("declared shape {} differs from the inferred {}",
                                      inst.shape.ToString(), shape->ToString()));
      }
      defined.insert(&inst);
    }
    // Parameters numbered 0..n-1, each once, and recorded by number.
    std::vector<const Instruction*> by_number(params.size(), nullptr);
    for (const Instruction* p : params) {
      int64_t n = p->parameter_number;
      if (n < 0 || n >= static_cast<int64_t>(params.size())) {
        return fail(*p, fmt::format("parameter number {} leaves a gap: the computation has {} "
                                    "parameters, numbered 0..{}",
                                    n, params.size(), static_cast<int64_t>(params.size()) - 1));
      }
      if (by_number[n] != nullptr) {
        return fail(*p, fmt::format("parameter number {} is also used by %{}", n,
                                    by_number[n]->name));
      }
      by_number[n] = p;
    }
    const auto& recorded = c.parameters();
    if (recorded.size() != by_number.size() ||
        !std::equal(recorded.begin(), recorded.end(), by_number.begin())) {
      return Error("computation {}: parameter list does not match its parameter instructions",
                   c.name());
    }
    if (c.root() == nullptr) return Error("computation {}: no root", c.name());
    if (!defined.count(c.root())) {
      return Error("computation {}: root %{} is not an instruction of this computation", c.name(),
                   c.root()->name);
    }
    return OkStatus();
  }

  const Module& m_;
  std::unordered_map<const Computation*, size_t> comp_index_;
  std::unordered_set<std::string> comp_names_;
  std::unordered_map<const Instruction*, const Computation*> owner_;
  std::unordered_set<std::string> names_;
};

}  // namespace

Status Verify(const Module& module) { return ModuleVerifier(module).Run(); }

}  // namespace xtpu
