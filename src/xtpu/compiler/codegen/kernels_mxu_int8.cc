// Placeholder until the int8 kernels land.
#include "xtpu/compiler/codegen/kernels.h"

namespace xtpu::codegen {
bool IsInt8Matmul(const Instruction& inst) { return false; }
Status EmitInt8Matmul(LoweringContext&, const Instruction& inst, const View&) {
  return Unimplemented("'{}': int8 matmuls are not yet lowered to the chip", inst.name);
}
}  // namespace xtpu::codegen
