// Kernel emitters: one per kind of chip-form instruction (see lowering.h for
// the context and chip_form.h for what each instruction looks like). Each
// writes the instruction's result to the dense HBM view `out`, emits its code
// between em.BeginKernel and em.EndKernel itself (one or more kernels), and
// returns an error naming the instruction for shapes it cannot handle.
#pragma once

#include "xtpu/compiler/codegen/lowering.h"

namespace xtpu::codegen {

// ---- matrix unit (kernels_mxu*.cc) ----
Status EmitDot(LoweringContext& ctx, const Instruction& inst, const View& out);
Status EmitConvolution(LoweringContext& ctx, const Instruction& inst, const View& out);
// fusion(kind=output): dot/convolution + epilogue.
Status EmitOutputFusion(LoweringContext& ctx, const Instruction& inst, const View& out);

// int8 (kernels_mxu_int8.cc): dot, convolution or fusion(kind=output) whose
// matmul operands are s8 with an s32 result (the int8 path; v1's MXU).
Status EmitInt8Matmul(LoweringContext& ctx, const Instruction& inst, const View& out);
// True if `inst` (dot, convolution, or output fusion around one) multiplies
// s8 operands.
bool IsInt8Matmul(const Instruction& inst);

// ---- vector unit, cross-lane unit, DMA (kernels_vpu*.cc) ----
// Elementwise unary/binary, compare, select, clamp, convert.
Status EmitElementwise(LoweringContext& ctx, const Instruction& inst, const View& out);
// fusion(kind=loop).
Status EmitLoopFusion(LoweringContext& ctx, const Instruction& inst, const View& out);
// A loop fusion that is a max or min pooling window (decompose's slices of
// one tensor and a chain of the op), emitted as one pass over the input;
// false if `inst` is not one (kernels_window.cc).
StatusOr<bool> TryEmitWindowReduce(LoweringContext& ctx, const Instruction& inst, const View& out);
Status EmitReduce(LoweringContext& ctx, const Instruction& inst, const View& out);
// fusion(kind=row): row reductions and elementwise ops on tiles of whole rows
// (kernels_row.cc).
Status EmitRowFusion(LoweringContext& ctx, const Instruction& inst, const View& out);
Status EmitConcatenate(LoweringContext& ctx, const Instruction& inst, const View& out);
// operand_in_place: the operand's producer already wrote it into the box of
// `out` (see lowering.cc); only the border is filled.
Status EmitPad(LoweringContext& ctx, const Instruction& inst, const View& out, bool operand_in_place = false);
Status EmitGather(LoweringContext& ctx, const Instruction& inst, const View& out);
// Materializes any view into a dense one of the same dims and dtype
// (transpose, strided slice, broadcast, ...). `name` names the kernel.
Status EmitCopy(LoweringContext& ctx, const std::string& name, const View& src, const View& out);

}  // namespace xtpu::codegen
