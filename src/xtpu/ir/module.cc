// Module, computation and instruction containers; the module's name registry.
#include "xtpu/ir/module.h"

namespace xtpu {

std::string_view FusionKindName(FusionKind k) {
  switch (k) {
    case FusionKind::kLoop: return "loop";
    case FusionKind::kOutput: return "output";
    case FusionKind::kRow: return "row";
  }
  return "loop";
}

std::optional<FusionKind> ParseFusionKind(std::string_view s) {
  if (s == "loop") return FusionKind::kLoop;
  if (s == "output") return FusionKind::kOutput;
  if (s == "row") return FusionKind::kRow;
  return std::nullopt;
}

Instruction* Computation::AddInstruction(std::unique_ptr<Instruction> inst) {
  Instruction* raw = inst.get();
  if (raw->opcode == Opcode::kParameter && raw->parameter_number >= 0) {
    size_t n = static_cast<size_t>(raw->parameter_number);
    if (parameters_.size() <= n) parameters_.resize(n + 1, nullptr);
    parameters_[n] = raw;
  }
  instructions_.push_back(std::move(inst));
  return raw;
}

Computation* Module::AddComputation(std::unique_ptr<Computation> c) {
  computations_.push_back(std::move(c));
  return computations_.back().get();
}

Computation* Module::InsertComputationBefore(std::unique_ptr<Computation> c,
                                             const Computation* before) {
  Computation* raw = c.get();
  auto it = computations_.begin();
  while (it != computations_.end() && it->get() != before) ++it;
  computations_.insert(it, std::move(c));
  return raw;
}

void Module::SyncNames() const {
  for (const auto& c : computations_) {
    size_t& scanned = names_scanned_[c.get()];
    const auto& insts = c->instructions();
    // Fewer instructions than scanned: some were removed; rescan this one.
    if (scanned > insts.size()) scanned = 0;
    for (; scanned < insts.size(); ++scanned) used_names_.insert(insts[scanned]->name);
  }
}

bool Module::IsNameUsed(const std::string& name) const {
  SyncNames();
  return used_names_.count(name) > 0;
}

std::string Module::UniqueName(const std::string& stem) {
  SyncNames();
  std::string name = stem;
  if (used_names_.count(name)) {
    int64_t& n = next_suffix_[stem];
    do {
      name = stem + "." + std::to_string(++n);
    } while (used_names_.count(name));
  }
  used_names_.insert(name);
  return name;
}

Computation* Module::FindComputation(const std::string& name) const {
  for (const auto& c : computations_)
    if (c->name() == name) return c.get();
  return nullptr;
}

std::vector<std::string> Module::OutputNames() const {
  std::vector<std::string> names;
  if (!entry_ || !entry_->root()) return names;
  const Instruction* r = entry_->root();
  if (r->opcode == Opcode::kTuple) {
    for (const Instruction* o : r->operands) names.push_back(o->name);
  } else {
    names.push_back(r->name);
  }
  return names;
}

std::vector<const Instruction*> Module::Inputs() const {
  std::vector<const Instruction*> in;
  if (!entry_) return in;
  for (const Instruction* p : entry_->parameters()) in.push_back(p);
  return in;
}

}  // namespace xtpu
