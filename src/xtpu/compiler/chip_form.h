// The "chip form" of the tensor IR: the contract between the compiler's IR
// passes (which produce it) and code generation (which lowers it to the ISA).
//
// After the pipeline (pipeline.h), the entry computation holds only:
//  - dtypes f32, bf16, s32, s8 and pred (pred is stored on the chip as one
//    32-bit word per element, nonzero = true). s64 is narrowed to s32
//    (inputs are converted by the runtime with a range check, constants at
//    compile time); f16 is widened to f32; f64 is an error.
//  - parameter, constant, tuple (the root).
//  - elementwise unary/binary ops, compare, select, clamp, convert; standalone
//    or inside `fusion` (kind=loop): a called computation of elementwise ops,
//    broadcasts of its parameters and scalar constants, all of the fusion's
//    output shape.
//  - data movement: broadcast, reshape, transpose, slice, reverse,
//    concatenate, pad (code generation treats reshape of a dense tensor,
//    slice, broadcast and transpose as strided views where it can).
//  - reduce with one operand and an add/max/min to_apply, any dims.
//  - dot in canonical form: lhs [B..., M, K], rhs [B..., K, N] or rhs [K, N],
//    result [B..., M, N]: lhs_batch = rhs_batch = {0..nb-1} (rhs_batch empty
//    for a 2-D rhs), lhs_contracting = {nb+1}, rhs_contracting = {nb} (or {0}).
//  - convolution in NHWC form: dim_labels b01f_01io->b01f, two spatial dims,
//    batch_group_count 1, any stride/padding/window dilation, lhs dilation 1,
//    any feature_group_count (depthwise when it equals the input features).
//  - fusion (kind=output): a dot or convolution (operands: parameters 0 and 1)
//    followed by an epilogue chain of elementwise ops; each epilogue op's
//    other operand is a parameter of the output shape (residual add), a
//    broadcast of a parameter along the last dimension only (bias), or a
//    scalar constant (relu = maximum with 0; relu6 = clamp/min-max).
//  - fusion (kind=row): f32/bf16 values of the result's shape F = [..., C]
//    (rank >= 2) or its row shape F[:-1]: elementwise ops on either,
//    reduces of F-shaped values over the last dim (init a scalar constant),
//    broadcasts of row values along the last dim, of [C] parameters over the
//    rows and of scalar constants; parameters of shape F, F[:-1] or [C]; the
//    root of shape F (softmax, layer normalization).
//  - int8: dot/convolution (or an output fusion around one) with s8 operands
//    and an s32 result (made by the int8-matmul pass from QDQ / QLinear
//    models); lowered to the MXU's s8 mode (v1, v4).
//  - gather in embedding form: operand [V, D], indices [...] (s32), result
//    [..., D], i.e. offset_dims={last}, collapsed_slice_dims={0},
//    start_index_map={0}, index_vector_dim=rank(indices), slice_sizes={1,D}.
// reduce-window, iota, dynamic-slice and other gathers do not appear: they are
// decomposed, folded, or reported as unsupported by the pipeline with an error
// naming the instruction.
#pragma once

#include "xtpu/ir/module.h"
#include "xtpu/support/status.h"

namespace xtpu::compiler {

// OK if every instruction of the entry computation is in chip form; else an
// error naming the first instruction that is not, and why.
Status CheckChipForm(const Module& module);

}  // namespace xtpu::compiler
