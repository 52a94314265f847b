// GemmSources of the matrix-unit kernels: how a chip-form dot or
// convolution feeds the GEMM engine (mxu_gemm.h), and the depthwise
// convolution, which runs on the vector unit instead.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "xtpu/compiler/codegen/mxu_gemm.h"

namespace xtpu::codegen::mxu {

struct PreparedGemm {
  std::unique_ptr<GemmSource> source;
  // An output-shaped view (the result, a residual) in the layout the
  // source's EmitOutTile expects.
  std::function<StatusOr<View>(const View&)> canon;
  // The bias view [batches, N] of a bias vector [N_total] along the last dim.
  std::function<View(const View&)> bias;
  // Dots only: a source over contracting rows [k0, k0 + kw) of the same
  // problem (for splitting K when the weight panel does not fit VMEM).
  std::function<std::unique_ptr<GemmSource>(int64_t k0, int64_t kw)> k_slice;
  int passes = 0;  // bf16 passes per product; 0: the context's precision (bf16 operands: 1)
};

// Emits `job` (whose source is p.source) as one GEMM kernel or, when its
// weight panel is too tall for VMEM at this precision and the source can be
// sliced, as kernels over K slices that accumulate in the f32 output (the
// epilogue runs after the last slice). `flops` are the op's useful FLOPs.
Status EmitGemmSplitK(LoweringContext& ctx, GemmJob job, const PreparedGemm& p, int64_t flops);

// `dot` in chip form (chip_form.h) with operand values `lhs` and `rhs`.
StatusOr<PreparedGemm> PrepareDot(LoweringContext& ctx, const Instruction& dot, const Instruction* lhs,
                                  const Instruction* rhs);
// A convolution that is not depthwise (see IsDepthwise). `outputs` are the
// output-shaped views the kernel will write or read (result, residual): the
// pixel-pair form is chosen only when canon can express all of them.
StatusOr<PreparedGemm> PrepareConv(LoweringContext& ctx, const Instruction& conv, const Instruction* input,
                                   const Instruction* kernel, const std::vector<View>& outputs);

// Batched dots of many small matmuls (kernels_mxu_batched.cc): the plan
// for B independent [M, K] x [K, N] products with `in` operands and an `out`
// result; ok = false when the shape is not one for this kernel (the GEMM
// engine runs it). nb: batch elements per pipeline step; depth: VMEM slots.
struct BatchedDotPlan {
  bool ok = false;
  int64_t nb = 0;
  int depth = 0;
  bool rhs_t = false;  // weights loaded as [N, K] and transposed on the XLU
  int64_t per_batch_vmem = 0;
};
// softmax: the result rows are normalized in VMEM (f32 scores, row max and
// sum vectors per batch element besides the result).
BatchedDotPlan PlanBatchedDot(const ChipConfig& chip, int mxus, int xlus, int64_t vmem_bytes, int64_t B, int64_t M,
                              int64_t K, int64_t N, DType in, DType out, bool rhs_t, bool softmax = false);
// Emits `dot` (chip form, batched non-constant rhs) with the batched kernel
// when its plan applies; false (nothing emitted) otherwise.
StatusOr<bool> TryEmitBatchedDot(LoweringContext& ctx, const Instruction& dot, const View& out);
// A row fusion computing softmax over the last dim of `dot`'s result (its
// only operand): reduce max, subtract, exp, reduce add, divide, in one dtype.
bool IsSoftmaxOf(const Instruction& fusion, const Instruction& dot);
// The batched dot with the softmax of its rows fused (attention's scores:
// they never leave VMEM). `emit` false: only whether it applies. The rows
// are normalized in f32 from the f32 accumulators and rounded once to the
// fusion's dtype (docs/numerics.md).
StatusOr<bool> TryEmitBatchedDotSoftmax(LoweringContext& ctx, const Instruction& dot, const Instruction& fusion,
                                        const View& out, bool emit);

// Depthwise: feature_group_count == input features == output features.
bool IsDepthwise(const Instruction& conv);
// The depthwise convolution on the vector unit (f32 products and sums), with
// an optional epilogue; emits its own kernel.
Status EmitDepthwise(LoweringContext& ctx, const std::string& name, const std::string& op, const Instruction& conv,
                     const Instruction* input, const Instruction* kernel, const View& out,
                     const std::vector<EpilogueOp>& epilogue);

// Checks the convolution attributes the kernels support; error names `name`.
Status CheckConv(const Instruction& conv, const std::string& name);

}  // namespace xtpu::codegen::mxu
