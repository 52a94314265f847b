// Tools shared by passes that rewrite a computation in place.
//
// The IR keeps no users lists. A Rewriter builds them for one computation and
// keeps them current while a pass replaces instructions and adds new ones
// (through builder(), which appends). Finish() then removes what the
// replacements left dead and puts the instructions back in definition order
// (operands before users), which the verifier requires.
//
//   Rewriter rw(module, *comp);
//   bool changed = false;
//   for (Instruction* inst : rw.Instructions()) {
//     Instruction* simpler = ...;  // an existing instruction or one made with rw.builder()
//     if (simpler) changed |= rw.Replace(inst, simpler);
//   }
//   rw.Finish();
//
// Model outputs keep their names: the entry root is a tuple and each output is
// named by its operand (module.h), so Replace() moves the name to the
// replacement (see there).
#pragma once

#include <span>
#include <unordered_map>
#include <vector>

#include "xtpu/ir/builder.h"
#include "xtpu/ir/module.h"

namespace xtpu::compiler {

class Rewriter {
 public:
  Rewriter(Module& module, Computation& comp);
  Rewriter(const Rewriter&) = delete;
  Rewriter& operator=(const Rewriter&) = delete;

  Module& module() { return module_; }
  Computation& computation() { return comp_; }
  // Makes new instructions (inferred shapes, module-unique names). They are
  // appended; Finish() moves them before their users.
  Builder& builder() { return builder_; }

  // The computation's instructions now, in order: a copy, safe to iterate
  // while replacing (nothing is deleted before Finish()).
  std::vector<Instruction*> Instructions() const;

  // The instructions that read `inst`, each listed once (the root counts as
  // a user only through its operands; see IsRoot).
  const std::vector<Instruction*>& Users(const Instruction* inst);
  bool IsRoot(const Instruction* inst) const { return comp_.root() == inst; }
  // No instruction reads `inst` and it is not the root (it is dead, e.g.
  // already replaced): passes skip such instructions.
  bool IsUnused(const Instruction* inst) { return !IsRoot(inst) && Users(inst).empty(); }
  // True when exactly one instruction reads `inst`, it reads it once, and
  // `inst` is neither the root nor a model output.
  bool HasSingleUse(const Instruction* inst);
  // True when `inst` is an operand of the entry's root tuple (a model output).
  bool IsEntryOutput(const Instruction* inst) const;

  // Makes every reader of `old` (and the root, if `old` is the root) read
  // `repl` instead. `old` is left unused; Finish() removes it.
  //
  // When `old` is a model output, the output keeps its name:
  //  - if `repl` is neither a parameter nor a model output itself, `repl`
  //    takes old's name (and `old` gets a fresh one);
  //  - otherwise the output becomes a new `copy` of `repl` with old's name
  //    (other readers still read `repl`), unless `old` is a copy already: it
  //    only names the output, so nothing changes and false is returned.
  // Returns true when the module changed.
  bool Replace(Instruction* old, Instruction* repl);

  // Replace() for an instruction just made (with builder()) to stand for
  // `old`: it also takes old's name and, after Finish(), old's place in the
  // order, so the printed module reads like the original.
  bool ReplaceWithNew(Instruction* old, Instruction* fresh);

  // Removes the replaced instructions, unused instructions made by builder(),
  // and operands of removed instructions that become unused (never
  // parameters or the root), then restores definition order. Call once,
  // after the last rewrite.
  void Finish();

 private:
  void SyncUsers();
  void AddUser(Instruction* of, Instruction* user);

  Module& module_;
  Computation& comp_;
  Builder builder_;
  std::unordered_map<const Instruction*, std::vector<Instruction*>> users_;
  size_t users_scanned_ = 0;       // instructions whose operands are in users_
  size_t initial_count_ = 0;       // instructions before builder() added any
  std::vector<Instruction*> replaced_;
  std::unordered_map<const Instruction*, Instruction*> took_place_of_;  // old -> fresh
};

// A rewrite rule for ApplyRewriteRules: looks at instructions of one opcode;
// on a match, rewrites through the Rewriter and returns true.
struct RewriteRule {
  const char* name;
  Opcode opcode;
  StatusOr<bool> (*rewrite)(Rewriter& rw, Instruction* inst);
};

// Runs `rules` over every computation of `module`: visits the instructions in
// definition order (skipping unused ones), applies the first rule that
// matches each, and repeats the sweep until no rule fires, at most
// `max_sweeps` times per computation (computations a rule adds are not
// visited). Returns true if any rule fired. A rule's error is returned
// prefixed with the rule's name.
StatusOr<bool> ApplyRewriteRules(Module& module, std::span<const RewriteRule> rules, int max_sweeps);

// Puts `comp`'s instructions in definition order (every operand before its
// users), keeping the current order wherever it already allows.
void RestoreDefinitionOrder(Computation& comp);

// True when `inst` is a constant, or a broadcast or reshape of one, whose
// every element equals `value` (compared as numbers: -0 equals 0, NaN equals
// nothing; integers and pred compared exactly).
bool IsConstantWithValue(const Instruction* inst, double value);

// The constant behind `inst`: itself if it is a constant, the operand of a
// broadcast or reshape of a constant; nullptr otherwise.
const Instruction* ConstantSource(const Instruction* inst);

}  // namespace xtpu::compiler
