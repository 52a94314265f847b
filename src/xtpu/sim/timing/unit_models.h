// Per-unit timing models: how long one instruction takes on its unit and
// what it asks of the shared memories (HBM, the core's VMEM ports). The event
// engine (timing_model.h) runs these phases and shares bandwidth between them.
// docs/timing.md explains every formula.
#pragma once

#include <cstdint>

#include "xtpu/chip/chip.h"
#include "xtpu/sim/simulator.h"

namespace xtpu::sim::timing {

// An instruction's execution: `head` fixed cycles (e.g. HBM latency), then
// `stream` cycles at full speed during which it moves `hbm_per_cycle` bytes
// of HBM and `vmem_per_cycle` bytes of VMEM per cycle (slowed down when the
// memories are oversubscribed), then `tail` fixed cycles (e.g. systolic
// drain). Units serialize on the head+stream part (`pipe` 0 or 1).
struct Cost {
  double head = 0, stream = 0, tail = 0;
  double hbm_per_cycle = 0, vmem_per_cycle = 0;
  // MXU: 0 = LHS streamer (matmul), 1 = weight shifter, 2 = accumulator read
  // port (read_acc). Pipes overlap; accumulator rows order matmul and
  // read_acc (timing_model.cc).
  int pipe = 0;
  int64_t hbm_bytes = 0, vmem_bytes = 0, flops = 0, elements = 0;
};

// Cycles from the first LHS row entering a weight-stationary rows x cols
// array to the last of m x n results written into the accumulators:
// m + rows + n - 1 (0 for m = 0). Equal to SystolicArray's cycle count.
int64_t MxuMatmulCycles(int64_t m, int64_t rows, int64_t n);
// HBM latency in whole cycles: ceil(latency_ns * clock_mhz / 1000).
int64_t HbmLatencyCycles(const ChipConfig& chip);
// VPU cycles per `alus` x sublanes x lanes elements for a unary op (1 for
// simple ops; transcendental ops take several passes).
int VpuOpPasses(const DispatchRecord& r);

// A chip-wide barrier releases its cores 1 + kBarrierSyncCycles cycles after
// the last core's sequencer issued it: 1 cycle to issue, then the arrival
// flag's trip to the chip's synchronization unit and the release broadcast
// back (about 8 cycles each way across a large die at ~1 GHz, the order of a
// last-level-cache round trip on GPUs of the same size).
inline constexpr int64_t kBarrierSyncCycles = 16;
// HBM access granularity: each row of dma.gather is a separate burst of at
// least this many bytes (HBM2/HBM3 pseudo-channel: 64 bits x burst length 4).
inline constexpr int64_t kHbmBurstBytes = 32;

// `k` and `n` are the current weight tile of the MXU (for matmuls).
Cost InstructionCost(const ChipConfig& chip, const DispatchRecord& r, int64_t k, int64_t n);

}  // namespace xtpu::sim::timing
