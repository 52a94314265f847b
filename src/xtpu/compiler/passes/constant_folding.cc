// constant-folding: replaces an instruction whose operands are all constants
// by a constant holding its value, computed by the reference evaluator (so
// the folded value is bit-identical to what evaluating the module gives).
// Visits instructions in definition order, so whole constant subgraphs fold.
//
// Not folded, to keep programs small and cheap:
//  - broadcast: it costs nothing at run time, and folding one turns a scalar
//    into a full-size constant (but an op reading a broadcast of a constant
//    folds: its operand's value is known);
//  - iota (no operands): cheap to compute, large to store;
//  - results above kMaxFoldElements (4M elements, 16 MB of f32), and results
//    that hold more than kMaxGrowth times as many elements as all their
//    operands together (plus a small allowance), e.g. a pad or a dot outer
//    product of small constants, which would blow up the constant data;
//  - tuple results and get-tuple-element (nothing to compute);
//  - anything the evaluator does not compute (its error is not reported:
//    the instruction simply stays).
#include "xtpu/compiler/passes/pass_util.h"
#include "xtpu/compiler/passes/simplification.h"
#include "xtpu/ir/evaluator.h"

namespace xtpu::compiler {
namespace {

constexpr int64_t kMaxFoldElements = int64_t{1} << 22;  // 4M
constexpr int64_t kMaxGrowth = 2;
constexpr int64_t kSmallResult = 1024;  // always fine to fold up to this size

bool WorthFolding(const Instruction& inst) {
  switch (inst.opcode) {
    case Opcode::kParameter: case Opcode::kConstant: case Opcode::kIota: case Opcode::kBroadcast:
    case Opcode::kTuple: case Opcode::kGetTupleElement:
      return false;
    default:
      break;
  }
  if (inst.shape.is_tuple || inst.operands.empty()) return false;
  int64_t in = 0;
  for (const Instruction* o : inst.operands) {
    // A broadcast of a constant (kept as such above) has a known value too.
    const Instruction* c = o->opcode == Opcode::kBroadcast ? o->operands[0] : o;
    if (c->opcode != Opcode::kConstant) return false;
    in += c->shape.num_elements();
  }
  int64_t out = inst.shape.num_elements();
  return out <= kMaxFoldElements && out <= std::max(kMaxGrowth * in, kSmallResult);
}

// Evaluates `inst` alone: a scratch module holds copies of its constant
// operands (and broadcasts of constants), a copy of it and a root tuple. A
// called computation (reduce, fusion) is used in place; the evaluator only
// reads it.
StatusOr<Literal> EvaluateAlone(const Instruction& inst) {
  Module scratch("constant_folding");
  auto comp = std::make_unique<Computation>("fold");
  auto clone = [&](const Instruction* o) {
    auto c = std::make_unique<Instruction>(*o);
    if (o->opcode == Opcode::kBroadcast)
      c->operands = {comp->AddInstruction(std::make_unique<Instruction>(*o->operands[0]))};
    return comp->AddInstruction(std::move(c));
  };
  std::vector<Instruction*> operands;
  for (const Instruction* o : inst.operands) {
    Instruction* same = nullptr;  // an operand used twice is copied once
    for (size_t i = 0; i < operands.size(); ++i)
      if (inst.operands[i] == o) same = operands[i];
    operands.push_back(same ? same : clone(o));
  }
  auto copy = std::make_unique<Instruction>(inst);
  copy->operands = operands;
  Instruction* x = comp->AddInstruction(std::move(copy));
  auto tuple = std::make_unique<Instruction>();
  tuple->opcode = Opcode::kTuple;
  tuple->name = "fold.out";
  tuple->operands = {x};
  tuple->shape = Shape::Tuple({x->shape});
  comp->set_root(comp->AddInstruction(std::move(tuple)));
  scratch.set_entry(scratch.AddComputation(std::move(comp)));
  ASSIGN_OR_RETURN(std::vector<Literal> out, Evaluate(scratch, {}));
  if (out.size() != 1 || out[0].shape() != inst.shape)
    return Status::Error("unexpected result", StatusCode::kInternal);
  return std::move(out[0]);
}

StatusOr<bool> RunOnComputation(Module& module, Computation& comp) {
  Rewriter rw(module, comp);
  bool changed = false;
  for (Instruction* inst : rw.Instructions()) {
    if (rw.IsUnused(inst) || !WorthFolding(*inst)) continue;
    StatusOr<Literal> value = EvaluateAlone(*inst);
    if (!value.ok()) continue;
    ASSIGN_OR_RETURN(Instruction * c, rw.builder().Constant(std::move(value).value(), inst->name));
    changed |= rw.ReplaceWithNew(inst, c);
  }
  rw.Finish();
  return changed;
}

class ConstantFolding : public Pass {
 public:
  std::string_view name() const override { return "constant-folding"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    bool changed = false;
    for (const auto& comp : module.computations()) {
      ASSIGN_OR_RETURN(bool c, RunOnComputation(module, *comp));
      changed |= c;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> CreateConstantFoldingPass() { return std::make_unique<ConstantFolding>(); }

}  // namespace xtpu::compiler
