// Module / computation / instruction: the tensor IR (HLO-like).
//
// A Module holds computations; one is the entry. A Computation holds its
// instructions in definition order (every operand is defined before its
// users), its parameters by number, and a root. The entry computation's root
// is always a tuple of the model outputs; each output's name is the name of
// the tuple operand. Reduction computations (to_apply) take scalars.
//
// Attributes live in plain fields; which ones apply is decided by the opcode
// (see the comment on each field). Shape rules are in shape_inference.h.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "xtpu/ir/literal.h"
#include "xtpu/ir/opcode.h"
#include "xtpu/ir/shape.h"

namespace xtpu {

class Computation;

// One spatial dimension of a convolution or reduce-window.
struct WindowDim {
  int64_t size = 1;
  int64_t stride = 1;
  int64_t pad_lo = 0;
  int64_t pad_hi = 0;
  int64_t base_dilation = 1;    // lhs (input) dilation
  int64_t window_dilation = 1;  // rhs (kernel) dilation
  bool operator==(const WindowDim&) const = default;
};

struct DotDims {
  std::vector<int64_t> lhs_batch, lhs_contracting, rhs_batch, rhs_contracting;
  bool operator==(const DotDims&) const = default;
};

// Convolution dimension numbers; text form is XLA's dim_labels, e.g.
// "bf01_oi01->bf01" (b batch, f feature, o/i kernel output/input feature,
// digits the spatial dimensions in order).
struct ConvDims {
  int64_t input_batch = 0, input_feature = 1;
  std::vector<int64_t> input_spatial;
  int64_t kernel_output_feature = 0, kernel_input_feature = 1;
  std::vector<int64_t> kernel_spatial;
  int64_t output_batch = 0, output_feature = 1;
  std::vector<int64_t> output_spatial;
  bool operator==(const ConvDims&) const = default;
};

// XLA gather semantics; slice sizes are in Instruction::slice_sizes.
struct GatherDims {
  std::vector<int64_t> offset_dims, collapsed_slice_dims, start_index_map;
  int64_t index_vector_dim = 0;
  bool operator==(const GatherDims&) const = default;
};

// What a `fusion` instruction's called computation holds (the code
// generator emits one kernel per fusion): kLoop, elementwise ops over one
// output shape; kOutput, a dot or convolution followed by an epilogue of
// elementwise ops (see compiler/chip_form.h). Text: "loop", "output".
enum class FusionKind : uint8_t { kLoop, kOutput, kRow };
std::string_view FusionKindName(FusionKind k);
std::optional<FusionKind> ParseFusionKind(std::string_view s);

struct PadDim {
  int64_t lo = 0, hi = 0, interior = 0;  // lo/hi may be negative (crop)
  bool operator==(const PadDim&) const = default;
};

class Instruction {
 public:
  Opcode opcode = Opcode::kParameter;
  std::string name;
  Shape shape;
  std::vector<Instruction*> operands;

  // parameter: its number.
  int64_t parameter_number = -1;
  // constant: its value.
  Literal literal;
  // broadcast: operand dim i maps to result dim dimensions[i];
  // transpose: result dim i is operand dim dimensions[i];
  // reduce: dims reduced away; reverse: dims reversed;
  // concatenate: {dim}; iota: {iota dimension}.
  std::vector<int64_t> dimensions;
  // slice: [start, limit) with stride, per dim.
  std::vector<int64_t> slice_starts, slice_limits, slice_strides;
  // dynamic-slice and gather: slice sizes.
  std::vector<int64_t> slice_sizes;
  // pad: per dim.
  std::vector<PadDim> padding;
  // compare.
  CompareDirection direction = CompareDirection::kEq;
  // dot.
  DotDims dot_dims;
  // convolution and reduce-window (reduce-window has one WindowDim per dim).
  std::vector<WindowDim> window;
  // convolution.
  ConvDims conv_dims;
  int64_t feature_group_count = 1;
  int64_t batch_group_count = 1;
  // gather.
  GatherDims gather_dims;
  // get-tuple-element.
  int64_t tuple_index = 0;
  // reduce and reduce-window: the reduction computation; fusion: the called
  // computation (its parameters take the fusion's operands in order).
  Computation* to_apply = nullptr;
  // fusion: what the called computation holds.
  FusionKind fusion_kind = FusionKind::kLoop;

  const Instruction* operand(int i) const { return operands[i]; }
  Instruction* operand(int i) { return operands[i]; }
};

class Computation {
 public:
  explicit Computation(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }

  // Appends `inst` (its operands must already be in this computation).
  // Parameters are also recorded by number.
  Instruction* AddInstruction(std::unique_ptr<Instruction> inst);

  const std::vector<std::unique_ptr<Instruction>>& instructions() const { return instructions_; }
  std::vector<std::unique_ptr<Instruction>>& mutable_instructions() { return instructions_; }
  // parameters()[n] is parameter n (nullptr while a number is missing).
  const std::vector<Instruction*>& parameters() const { return parameters_; }
  Instruction* root() const { return root_; }
  void set_root(Instruction* r) { root_ = r; }

 private:
  std::string name_;
  std::vector<std::unique_ptr<Instruction>> instructions_;
  std::vector<Instruction*> parameters_;
  Instruction* root_ = nullptr;
};

class Module {
 public:
  explicit Module(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

  // Computations are kept callees first; add reductions before their users.
  Computation* AddComputation(std::unique_ptr<Computation> c);
  // Inserts `c` just before `before` (appends when `before` is not found).
  Computation* InsertComputationBefore(std::unique_ptr<Computation> c, const Computation* before);
  const std::vector<std::unique_ptr<Computation>>& computations() const { return computations_; }
  // For passes that remove computations (dce); keep callees before callers.
  std::vector<std::unique_ptr<Computation>>& mutable_computations() { return computations_; }
  Computation* entry() const { return entry_; }
  void set_entry(Computation* c) { entry_ = c; }
  Computation* FindComputation(const std::string& name) const;

  // Names of the entry's outputs (operands of its root tuple) and inputs.
  std::vector<std::string> OutputNames() const;
  std::vector<const Instruction*> Inputs() const;

  // Returns `stem` or `stem.N`, unused by any instruction of the module, and
  // reserves it. Amortized O(1): instructions appended by other means (the
  // parser) are picked up incrementally on the next call.
  std::string UniqueName(const std::string& stem);
  // True when an instruction of the module has `name` or it was reserved.
  bool IsNameUsed(const std::string& name) const;

 private:
  void SyncNames() const;

  std::string name_;
  std::vector<std::unique_ptr<Computation>> computations_;
  Computation* entry_ = nullptr;
  // Name registry (see UniqueName).
  mutable std::unordered_set<std::string> used_names_;
  mutable std::unordered_map<const Computation*, size_t> names_scanned_;
  std::unordered_map<std::string, int64_t> next_suffix_;
};

}  // namespace xtpu
