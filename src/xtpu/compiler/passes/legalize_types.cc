// legalize-types: only the chip's dtypes remain (chip_form.h).
//
//  - s64 becomes s32 in every shape of every computation, the entry's
//    parameters and outputs included (the runtime converts model inputs and
//    outputs at the boundary, checking the range). Constants are narrowed now;
//    a value outside the s32 range is an error naming the constant.
//  - f16 becomes f32 (widening is exact; arithmetic then rounds once in f32
//    instead of per op in f16, which is at least as accurate).
//  - The IR has no f64 (the ONNX importer rejects DOUBLE tensors), so there
//    is nothing to reject here; u8 stays and CheckChipForm reports it.
//
// Valid on any module: every op rule of the IR is dtype-generic, so changing
// one dtype everywhere keeps each instruction's shape consistent. Integer
// arithmetic that overflows s32 but not s64 would wrap differently; model
// index arithmetic stays far below 2^31.
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "xtpu/compiler/passes/lowering.h"

namespace xtpu::compiler {
namespace {

std::optional<DType> Narrowed(DType t) {
  if (t == DType::kS64) return DType::kS32;
  if (t == DType::kF16) return DType::kF32;
  return std::nullopt;
}

// Rewrites `s` in place; true if anything changed.
bool LegalizeShape(Shape& s) {
  if (s.is_tuple) {
    bool changed = false;
    for (Shape& e : s.tuple) changed |= LegalizeShape(e);
    return changed;
  }
  if (auto t = Narrowed(s.dtype)) {
    s.dtype = *t;
    return true;
  }
  return false;
}

// An s64 constant must fit in s32.
Status CheckNarrowable(const Instruction& inst) {
  const Literal& l = inst.literal;
  if (inst.opcode != Opcode::kConstant || l.dtype() != DType::kS64) return OkStatus();
  const int64_t lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
  for (int64_t i = 0; i < l.num_elements(); ++i) {
    int64_t v = l.GetAsInt64(i);
    if (v < lo || v > hi)
      return Error("constant %{} holds {} at element {}, outside the s32 range the chip supports", inst.name, v, i);
  }
  return OkStatus();
}

// The constant's value in its (already legalized) dtype.
void LegalizeConstant(Instruction& inst) {
  const Literal& old = inst.literal;
  Literal now(Shape(inst.shape.dtype, old.shape().dims));
  const int64_t n = old.num_elements();
  if (old.dtype() == DType::kS64) {
    for (int64_t i = 0; i < n; ++i) now.SetFromInt64(i, old.GetAsInt64(i));
  } else {
    for (int64_t i = 0; i < n; ++i) now.SetFromDouble(i, old.GetAsDouble(i));
  }
  inst.literal = std::move(now);
}

// Reduction computations are named by type ("add.s64", builder.h); the
// name follows the new type when it is free.
void RenameTyped(const Module& module, Computation& comp) {
  for (auto [from, to] : {std::pair{".s64", ".s32"}, std::pair{".f16", ".f32"}}) {
    const std::string& n = comp.name();
    if (n.size() <= 4 || n.compare(n.size() - 4, 4, from) != 0) continue;
    std::string renamed = n.substr(0, n.size() - 4) + to;
    if (module.FindComputation(renamed) == nullptr) comp.set_name(renamed);
  }
}

class LegalizeTypes : public Pass {
 public:
  std::string_view name() const override { return "legalize-types"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    // Check first, so an error leaves the module as it was.
    for (const auto& comp : module.computations())
      for (const auto& inst : comp->instructions()) RETURN_IF_ERROR(CheckNarrowable(*inst));
    bool changed = false;
    for (const auto& comp : module.computations()) {
      bool comp_changed = false;
      for (const auto& inst : comp->instructions()) {
        if (!LegalizeShape(inst->shape)) continue;
        comp_changed = true;
        if (inst->opcode == Opcode::kConstant) LegalizeConstant(*inst);
      }
      if (comp_changed) RenameTyped(module, *comp);
      changed |= comp_changed;
    }
    return changed;
  }
};

}  // namespace

std::unique_ptr<Pass> CreateLegalizeTypesPass() { return std::make_unique<LegalizeTypes>(); }

}  // namespace xtpu::compiler
