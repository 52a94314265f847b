// Rewriter (users lists, replacement that keeps output names, cleanup) and
// small constant helpers shared by passes.
#include "xtpu/compiler/passes/pass_util.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "xtpu/support/check.h"

namespace xtpu::compiler {

Rewriter::Rewriter(Module& module, Computation& comp)
    : module_(module), comp_(comp), builder_(&module, &comp) {
  initial_count_ = comp_.instructions().size();
}

std::vector<Instruction*> Rewriter::Instructions() const {
  std::vector<Instruction*> out;
  out.reserve(comp_.instructions().size());
  for (const auto& inst : comp_.instructions()) out.push_back(inst.get());
  return out;
}

void Rewriter::AddUser(Instruction* of, Instruction* user) {
  std::vector<Instruction*>& u = users_[of];
  if (std::find(u.begin(), u.end(), user) == u.end()) u.push_back(user);
}

// Instructions are only appended between syncs (builder()), so scanning the
// new tail keeps users_ complete.
void Rewriter::SyncUsers() {
  const auto& insts = comp_.instructions();
  for (; users_scanned_ < insts.size(); ++users_scanned_) {
    Instruction* inst = insts[users_scanned_].get();
    for (Instruction* o : inst->operands) AddUser(o, inst);
  }
}

const std::vector<Instruction*>& Rewriter::Users(const Instruction* inst) {
  SyncUsers();
  return users_[inst];
}

bool Rewriter::HasSingleUse(const Instruction* inst) {
  if (IsRoot(inst) || IsEntryOutput(inst)) return false;
  const std::vector<Instruction*>& u = Users(inst);
  return u.size() == 1 && std::count(u[0]->operands.begin(), u[0]->operands.end(), inst) == 1;
}

bool Rewriter::IsEntryOutput(const Instruction* inst) const {
  if (&comp_ != module_.entry() || comp_.root() == nullptr || comp_.root()->opcode != Opcode::kTuple)
    return false;
  const auto& outs = comp_.root()->operands;
  return std::find(outs.begin(), outs.end(), inst) != outs.end();
}

bool Rewriter::Replace(Instruction* old, Instruction* repl) {
  XTPU_CHECK(old != repl && old != nullptr && repl != nullptr);
  SyncUsers();
  Instruction* root = comp_.root();
  Instruction* for_root = repl;  // what the entry's root tuple reads instead of `old`
  const bool old_is_output = IsEntryOutput(old);
  if (old_is_output) {
    std::string name = old->name;
    if (repl->opcode == Opcode::kParameter || IsEntryOutput(repl)) {
      if (old->opcode == Opcode::kCopy) return false;
      StatusOr<Instruction*> copy = builder_.Unary(Opcode::kCopy, repl);
      XTPU_CHECK(copy.ok());
      SyncUsers();
      for_root = *copy;
      old->name = module_.UniqueName(name);
      for_root->name = name;
    } else {
      old->name = module_.UniqueName(name);
      repl->name = name;
    }
  }
  std::vector<Instruction*> readers = std::move(users_[old]);
  users_[old].clear();
  for (Instruction* u : readers) {
    Instruction* with = (u == root && old_is_output) ? for_root : repl;
    for (Instruction*& o : u->operands)
      if (o == old) o = with;
    AddUser(with, u);
  }
  if (root == old) comp_.set_root(repl);
  replaced_.push_back(old);
  return true;
}

bool Rewriter::ReplaceWithNew(Instruction* old, Instruction* fresh) {
  // An output's name moves to `fresh` in Replace(); otherwise swap here.
  if (!IsEntryOutput(old)) std::swap(old->name, fresh->name);
  if (!Replace(old, fresh)) return false;
  took_place_of_[old] = fresh;
  return true;
}

void Rewriter::Finish() {
  SyncUsers();
  std::vector<Instruction*> work = replaced_;  // candidates for removal
  const auto& insts = comp_.instructions();
  for (size_t i = initial_count_; i < insts.size(); ++i) work.push_back(insts[i].get());
  // New instructions that replaced an old one go where it was (then
  // RestoreDefinitionOrder moves whatever must come earlier).
  if (!took_place_of_.empty()) {
    auto& v = comp_.mutable_instructions();
    std::unordered_map<const Instruction*, size_t> index;
    for (size_t i = 0; i < v.size(); ++i) index[v[i].get()] = i;
    std::vector<bool> taken(v.size(), false);
    std::vector<std::unique_ptr<Instruction>> order;
    order.reserve(v.size());
    auto take = [&](size_t i) {
      if (!taken[i]) order.push_back(std::move(v[i]));
      taken[i] = true;
    };
    for (size_t i = 0; i < v.size(); ++i) {
      if (taken[i]) continue;
      auto it = took_place_of_.find(v[i].get());
      // Follow chains (a fresh instruction replaced again) to the last one.
      Instruction* fresh = it == took_place_of_.end() ? nullptr : it->second;
      while (fresh && took_place_of_.count(fresh)) fresh = took_place_of_[fresh];
      if (fresh) take(index[fresh]);
      take(i);
    }
    v = std::move(order);
    took_place_of_.clear();
  }
  std::unordered_set<const Instruction*> removed;
  while (!work.empty()) {
    Instruction* inst = work.back();
    work.pop_back();
    if (removed.count(inst) || IsRoot(inst) || inst->opcode == Opcode::kParameter || !users_[inst].empty())
      continue;
    removed.insert(inst);
    for (Instruction* o : inst->operands) {
      std::vector<Instruction*>& u = users_[o];
      u.erase(std::remove(u.begin(), u.end(), inst), u.end());
      work.push_back(o);
    }
  }
  if (!removed.empty()) {
    auto& v = comp_.mutable_instructions();
    v.erase(std::remove_if(v.begin(), v.end(), [&](const auto& p) { return removed.count(p.get()) > 0; }),
            v.end());
  }
  replaced_.clear();
  users_.clear();
  users_scanned_ = 0;
  initial_count_ = comp_.instructions().size();
  RestoreDefinitionOrder(comp_);
}

StatusOr<bool> ApplyRewriteRules(Module& module, std::span<const RewriteRule> rules, int max_sweeps) {
  bool changed = false;
  // A snapshot: a rule may add computations (e.g. Builder::ScalarReducer).
  std::vector<Computation*> comps;
  for (const auto& c : module.computations()) comps.push_back(c.get());
  for (Computation* comp : comps) {
    for (int sweep = 0; sweep < max_sweeps; ++sweep) {
      Rewriter rw(module, *comp);
      bool fired_any = false;
      for (Instruction* inst : rw.Instructions()) {
        if (rw.IsUnused(inst)) continue;
        for (const RewriteRule& rule : rules) {
          if (rule.opcode != inst->opcode) continue;
          StatusOr<bool> fired = rule.rewrite(rw, inst);
          if (!fired.ok()) return fired.status().WithPrefix(std::string("rule ") + rule.name);
          if (*fired) {
            fired_any = true;
            break;
          }
        }
      }
      rw.Finish();
      if (!fired_any) break;
      changed = true;
    }
  }
  return changed;
}

void RestoreDefinitionOrder(Computation& comp) {
  auto& insts = comp.mutable_instructions();
  std::unordered_map<const Instruction*, size_t> index;
  for (size_t i = 0; i < insts.size(); ++i) index[insts[i].get()] = i;
  // Depth-first post-order over operands, roots taken in the current order;
  // an explicit stack so long chains cannot overflow the call stack.
  enum : uint8_t { kNew, kOpen, kDone };
  std::vector<uint8_t> state(insts.size(), kNew);
  std::vector<size_t> order;
  order.reserve(insts.size());
  std::vector<std::pair<size_t, size_t>> stack;  // (instruction, next operand)
  for (size_t start = 0; start < insts.size(); ++start) {
    if (state[start] != kNew) continue;
    stack.push_back({start, 0});
    state[start] = kOpen;
    while (!stack.empty()) {
      auto& [i, next] = stack.back();
      const Instruction* inst = insts[i].get();
      if (next < inst->operands.size()) {
        auto it = index.find(inst->operands[next++]);
        XTPU_CHECK(it != index.end());  // operands live in the same computation
        size_t j = it->second;
        XTPU_CHECK(state[j] != kOpen);  // a cycle is a pass bug
        if (state[j] == kNew) {
          state[j] = kOpen;
          stack.push_back({j, 0});
        }
        continue;
      }
      state[i] = kDone;
      order.push_back(i);
      stack.pop_back();
    }
  }
  bool same = true;
  for (size_t i = 0; i < order.size(); ++i) same &= order[i] == i;
  if (same) return;
  std::vector<std::unique_ptr<Instruction>> sorted;
  sorted.reserve(insts.size());
  for (size_t i : order) sorted.push_back(std::move(insts[i]));
  insts = std::move(sorted);
}

const Instruction* ConstantSource(const Instruction* inst) {
  if (inst->opcode == Opcode::kBroadcast || inst->opcode == Opcode::kReshape) inst = inst->operands[0];
  return inst->opcode == Opcode::kConstant ? inst : nullptr;
}

bool IsConstantWithValue(const Instruction* inst, double value) {
  const Instruction* c = ConstantSource(inst);
  if (c == nullptr || c->shape.is_tuple) return false;
  const Literal& l = c->literal;
  bool is_int = !IsFloat(l.dtype());
  if (is_int && value != std::floor(value)) return false;
  for (int64_t i = 0; i < l.num_elements(); ++i) {
    if (is_int ? l.GetAsInt64(i) != static_cast<int64_t>(value) : l.GetAsDouble(i) != value) return false;
  }
  return true;
}

}  // namespace xtpu::compiler
