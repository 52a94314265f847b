// Internal to the GEMM engine (mxu_gemm.cc, mxu_plan.cc): the chosen tiling
// and the emitter entry point.
#pragma once

#include "xtpu/compiler/codegen/mxu_gemm.h"

namespace xtpu::codegen::mxu {

inline constexpr int kMaxOutSlots = 3;

struct Plan {
  int64_t ng = 0;      // columns per group (multiple of 128 unless N is smaller)
  int64_t groups = 0;  // per batch
  int64_t tg = 0;      // tiles of a full group
  int pn = 1, pm = 1;  // MXU grid
  int64_t tpm = 1;     // tiles per MXU column
  int64_t ms_max = 0;  // rows per MXU and tile
  // Row chunks alternate between two halves of the accumulators, so the
  // matmuls of one chunk need not wait for the read_acc of the previous one.
  bool acc_halves = false;
  // Output (and residual) tiles in VMEM: 2, or 3 when VMEM allows, so a
  // chunk's residual load and store need not wait for the epilogue of the
  // chunk before.
  int out_slots = 2;
  int slots = 1;
  bool split_cols = false;
  int64_t traffic = 0;
};

// Emits the kernel body for `plan` (between BeginKernel and EndKernel);
// `const_panel` holds the constant weight panels (mxu_plan.cc lays them out).
Status EmitGemmBody(LoweringContext& ctx, const GemmJob& job, const Plan& plan, const View& const_panel);

}  // namespace xtpu::codegen::mxu
