// cse: common subexpression elimination.
//
// Within each computation, an instruction identical to an earlier one (same
// opcode, shape, operands in order and every attribute; constants by value,
// bit for bit, so 0 and -0 stay apart) is replaced by the earlier one.
// Instructions are visited in definition order, so merged operands make
// their users identical too. Parameters are never merged. Opcodes this pass
// does not know (added to the IR later) are left alone, so a new attribute
// can never be ignored by mistake. Values are unchanged.
#include <functional>
#include <string_view>
#include <unordered_map>

#include "xtpu/compiler/passes/pass_util.h"
#include "xtpu/compiler/passes/simplification.h"

namespace xtpu::compiler {
namespace {

// Ops whose every attribute SameInstruction compares (all ops are pure).
bool Mergeable(Opcode op) {
  // No default: -Wswitch names an opcode added to the IR until it is listed.
  switch (op) {
    case Opcode::kParameter:  // distinct inputs, even with equal shapes
      return false;
    case Opcode::kConstant: case Opcode::kIota:
    case Opcode::kAbs: case Opcode::kNegate: case Opcode::kExp: case Opcode::kLog:
    case Opcode::kTanh: case Opcode::kLogistic: case Opcode::kSqrt: case Opcode::kRsqrt:
    case Opcode::kErf: case Opcode::kFloor: case Opcode::kCeil: case Opcode::kRoundNearestEven:
    case Opcode::kRoundNearestAfz: case Opcode::kSign: case Opcode::kCos: case Opcode::kSin:
    case Opcode::kNot: case Opcode::kCopy:
    case Opcode::kAdd: case Opcode::kSubtract: case Opcode::kMultiply: case Opcode::kDivide:
    case Opcode::kRemainder: case Opcode::kMaximum: case Opcode::kMinimum: case Opcode::kPower:
    case Opcode::kAtan2: case Opcode::kAnd: case Opcode::kOr: case Opcode::kXor:
    case Opcode::kCompare: case Opcode::kSelect: case Opcode::kClamp: case Opcode::kConvert:
    case Opcode::kBroadcast: case Opcode::kReshape: case Opcode::kTranspose: case Opcode::kReverse:
    case Opcode::kSlice: case Opcode::kDynamicSlice: case Opcode::kDynamicUpdateSlice:
    case Opcode::kConcatenate: case Opcode::kPad: case Opcode::kReduce: case Opcode::kReduceWindow:
    case Opcode::kDot: case Opcode::kConvolution: case Opcode::kGather: case Opcode::kTuple:
    case Opcode::kGetTupleElement: case Opcode::kFusion:
      return true;
  }
  return false;
}

// Every field of Instruction except the name.
bool SameInstruction(const Instruction& a, const Instruction& b) {
  return a.opcode == b.opcode && a.shape == b.shape && a.operands == b.operands &&
         a.parameter_number == b.parameter_number && a.literal == b.literal &&
         a.dimensions == b.dimensions && a.slice_starts == b.slice_starts &&
         a.slice_limits == b.slice_limits && a.slice_strides == b.slice_strides &&
         a.slice_sizes == b.slice_sizes && a.padding == b.padding && a.direction == b.direction &&
         a.dot_dims == b.dot_dims && a.window == b.window && a.conv_dims == b.conv_dims &&
         a.feature_group_count == b.feature_group_count &&
         a.batch_group_count == b.batch_group_count && a.gather_dims == b.gather_dims &&
         a.tuple_index == b.tuple_index && a.to_apply == b.to_apply && a.fusion_kind == b.fusion_kind;
}

size_t Combine(size_t h, size_t v) { return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)); }

// A hash of the fields that usually tell instructions apart; SameInstruction
// decides.
size_t Hash(const Instruction& inst) {
  size_t h = std::hash<int>()(static_cast<int>(inst.opcode));
  h = Combine(h, std::hash<int>()(static_cast<int>(inst.shape.dtype)));
  for (int64_t d : inst.shape.dims) h = Combine(h, std::hash<int64_t>()(d));
  for (const Instruction* o : inst.operands) h = Combine(h, std::hash<const void*>()(o));
  for (int64_t d : inst.dimensions) h = Combine(h, std::hash<int64_t>()(d));
  if (inst.opcode == Opcode::kConstant) {
    const auto& bytes = inst.literal.bytes();
    h = Combine(h, std::hash<std::string_view>()(
                       std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
  }
  return h;
}

bool RunOnComputation(Module& module, Computation& comp) {
  Rewriter rw(module, comp);
  std::unordered_multimap<size_t, Instruction*> seen;
  bool changed = false;
  for (Instruction* inst : rw.Instructions()) {
    if (!Mergeable(inst->opcode)) continue;
    size_t h = Hash(*inst);
    Instruction* same = nullptr;
    auto [lo, hi] = seen.equal_range(h);
    for (auto it = lo; it != hi && same == nullptr; ++it)
      if (SameInstruction(*it->second, *inst)) same = it->second;
    if (same == nullptr) {
      seen.emplace(h, inst);
    } else {
      changed |= rw.Replace(inst, same);
    }
  }
  rw.Finish();
  return changed;
}

class CommonSubexpressionElimination : public Pass {
 public:
  std::string_view name() const override { return "cse"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    bool changed = false;
    for (const auto& comp : module.computations()) changed |= RunOnComputation(module, *comp);
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> CreateCommonSubexpressionEliminationPass() {
  return std::make_unique<CommonSubexpressionElimination>();
}

}  // namespace xtpu::compiler
