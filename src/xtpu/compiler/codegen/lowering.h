// Lowering of a chip-form module (compiler/chip_form.h) to an ISA program.
//
// The driver (lowering.cc) walks the entry computation in order, assigns
// every value an HBM home (buffer assignment with liveness-based reuse;
// constants, inputs and outputs in their own regions), turns reshape / slice
// / broadcast / reverse of existing values into views, and calls one kernel
// emitter per remaining instruction. Kernel emitters are declared in
// kernels.h; each gets the context below, the instruction and the dense HBM
// view its result must be written to.
#pragma once

#include <functional>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/codegen/emitter.h"
#include "xtpu/compiler/codegen/view.h"
#include "xtpu/ir/literal.h"
#include "xtpu/ir/module.h"
#include "xtpu/support/status.h"

namespace xtpu::codegen {

// Matmul precision: bf16 passes per f32 matmul (XLA's DEFAULT / HIGH /
// HIGHEST on TPUs): 1 (a_hi*b_hi), 3 (+ a_hi*b_lo + a_lo*b_hi with
// x_lo = bf16(x - x_hi)), 6 (three-way split hi/mid/lo, the six products of
// order <= 2: hh, hm, mh, hl, mm, lh). See docs/numerics.md.
enum class Precision { kDefault, kHigh, kHighest };
int PrecisionPasses(Precision p);  // 1, 3, 6
std::string_view PrecisionName(Precision p);
StatusOr<Precision> ParsePrecision(std::string_view s);

// How a value of IR dtype `t` is stored in HBM/VMEM on the chip: pred as
// 32-bit words (0/1; any nonzero word reads as true), s64 as s32, f16 as
// f32, u8 as s8 bytes; others unchanged. Views carry the storage dtype.
DType ChipStorageType(DType t);
// Useful FLOPs of an IR instruction (dot, convolution, fusions containing
// them; 2 per multiply-accumulate); 0 for others.
int64_t InstructionFlops(const Instruction& inst);

struct LoweringOptions {
  Precision precision = Precision::kDefault;
  int cores = 0;  // 0 = all cores of the chip
  // If set, called before each instruction with the fraction lowered so far.
  std::function<void(double fraction)> progress = nullptr;
};

class LoweringContext {
 public:
  LoweringContext(ProgramEmitter& em, const LoweringOptions& options) : em_(em), options_(options) {}
  ProgramEmitter& em() { return em_; }
  const ChipConfig& chip() const { return em_.chip(); }
  const LoweringOptions& options() const { return options_; }
  int precision_passes() const { return PrecisionPasses(options_.precision); }

  // Where the value of `inst` (an operand of the current instruction) lives.
  StatusOr<View> ValueView(const Instruction* inst);
  // The value of a constant instruction, or nullptr if `inst` is not one.
  // Kernels use it to re-lay-out weights at compile time (AddConstant) instead
  // of reading the original through ValueView (the original is then never
  // placed in HBM).
  const Literal* ConstantValue(const Instruction* inst) const;
  // Places a compile-time constant in HBM (deduplicated by `key`: the same key
  // returns the same view) and returns its dense view.
  StatusOr<View> AddConstant(const std::string& key, const Literal& value);
  // Dense scratch in HBM for the current kernel (freed when it ends).
  StatusOr<View> AllocHbmScratch(DType dtype, std::vector<int64_t> dims);

  // Used by the driver.
  struct Impl;
  void set_impl(Impl* impl) { impl_ = impl; }

 private:
  ProgramEmitter& em_;
  LoweringOptions options_;
  Impl* impl_ = nullptr;
};

// The lowered program and what the runtime needs to run it.
struct LoweredModel {
  isa::Program program;
  std::vector<KernelRecord> kernels;
  // Constants blob (buffer "constants", role input) in chip byte order.
  std::vector<uint8_t> constants;
  struct Port {
    std::string name;   // model name
    std::string buffer; // program buffer
    Shape shape;        // chip shape (dtype narrowed: s64 -> s32)
  };
  std::vector<Port> inputs, outputs;
  int64_t hbm_activation_bytes = 0;  // peak of the reused region
  int64_t hbm_constant_bytes = 0;
  int64_t flops = 0;
};

// Lowers a module that passed CheckChipForm.
StatusOr<LoweredModel> LowerModule(const Module& module, const ChipConfig& chip, const LoweringOptions& options);

}  // namespace xtpu::codegen
