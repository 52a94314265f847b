// Per-unit timing models (see unit_models.h and docs/timing.md).
#include "xtpu/sim/timing/unit_models.h"

#include <algorithm>
#include <cmath>

namespace xtpu::sim::timing {

using isa::Opcode;

int64_t MxuMatmulCycles(int64_t m, int64_t rows, int64_t n) { return m <= 0 ? 0 : m + rows + n - 1; }

int64_t HbmLatencyCycles(const ChipConfig& chip) {
  return static_cast<int64_t>(std::ceil(chip.hbm.latency_ns * chip.clock_mhz / 1000.0 - 1e-9));
}

int VpuOpPasses(const DispatchRecord& r) {
  if (r.opcode == Opcode::kVpuBinary || r.opcode == Opcode::kVpuBinaryImm) {
    switch (static_cast<isa::BinOp>(r["op"])) {
      case isa::BinOp::kDiv:
      case isa::BinOp::kRem: return 4;
      case isa::BinOp::kAtan2: return 8;
      case isa::BinOp::kPow: return 16;  // log, multiply, exp
      default: return 1;
    }
  }
  if (r.opcode != Opcode::kVpuUnary) return 1;
  switch (static_cast<isa::UnOp>(r["op"])) {
    case isa::UnOp::kLogistic: return 12;  // exp, then a reciprocal
    case isa::UnOp::kExp:
    case isa::UnOp::kLog:
    case isa::UnOp::kTanh:
    case isa::UnOp::kErf:
    case isa::UnOp::kSin:
    case isa::UnOp::kCos: return 8;
    case isa::UnOp::kSqrt:
    case isa::UnOp::kRsqrt:
    case isa::UnOp::kRecip: return 4;
    default: return 1;
  }
}

static int64_t Esz(int64_t dtype) { return isa::ElementBytes(static_cast<DType>(dtype)); }
static int64_t Pos(int64_t v) { return std::max<int64_t>(0, v); }

Cost InstructionCost(const ChipConfig& chip, const DispatchRecord& r, int64_t k, int64_t n) {
  Cost c;
  const double hbm_bpc = HbmBytesPerCycle(chip);
  const double port = static_cast<double>(chip.vmem.port_bytes_per_cycle);
  const int64_t vpu_width = chip.vpu.sublanes * chip.vpu.lanes * std::max<int64_t>(1, chip.vpu.alus);
  const double vpu_latency = 8;  // pipeline depth of the vector unit
  switch (r.opcode) {
    case Opcode::kDmaLoad:
    case Opcode::kDmaStore: {
      int64_t bytes = Pos(r["bytes"]) * Pos(r["n1"]) * Pos(r["n2"]);
      c.head = static_cast<double>(HbmLatencyCycles(chip));
      c.stream = bytes / hbm_bpc;
      c.hbm_per_cycle = hbm_bpc;
      c.vmem_per_cycle = hbm_bpc;
      c.hbm_bytes = c.vmem_bytes = bytes;
      break;
    }
    case Opcode::kDmaGather: {
      // A load of `rows` rows, each its own burst (rounded up to the HBM
      // access granularity), after reading the indices from VMEM.
      int64_t rows = Pos(r["rows"]), bytes = Pos(r["bytes"]);
      int64_t burst = bytes == 0 ? 0 : (bytes + kHbmBurstBytes - 1) / kHbmBurstBytes * kHbmBurstBytes;
      c.head = static_cast<double>(HbmLatencyCycles(chip)) + 1;
      c.stream = rows * burst / hbm_bpc;
      c.hbm_per_cycle = hbm_bpc;
      c.vmem_per_cycle = c.stream > 0 ? static_cast<double>(rows * (bytes + 4)) / c.stream : 0;
      c.hbm_bytes = rows * bytes;
      c.vmem_bytes = rows * (bytes + 4);
      break;
    }
    case Opcode::kDmaCopy: {
      int64_t bytes = Pos(r["bytes"]) * Pos(r["n1"]) * Pos(r["n2"]);
      c.head = 1;
      c.stream = bytes / port;
      c.vmem_per_cycle = 2 * port;  // one port reads, one writes
      c.vmem_bytes = 2 * bytes;
      break;
    }
    case Opcode::kMxuLoadWeights:
    case Opcode::kMxuFetchWeights: {
      int64_t bytes = Pos(r["k"]) * Pos(r["n"]) * Esz(r["dtype"]);
      c.pipe = 1;
      c.stream = static_cast<double>(WeightLoadCycles(chip));
      if (r.opcode == Opcode::kMxuFetchWeights) {
        c.head = static_cast<double>(HbmLatencyCycles(chip));
        c.stream = std::max(c.stream, bytes / hbm_bpc);
        c.hbm_per_cycle = bytes / c.stream;
        c.hbm_bytes = bytes;
      } else {
        c.vmem_per_cycle = bytes / c.stream;
        c.vmem_bytes = bytes;
      }
      break;
    }
    case Opcode::kMxuMatmul: {
      int64_t m = Pos(r["m"]);
      c.stream = static_cast<double>(m);  // one LHS row per cycle
      c.tail = m > 0 ? static_cast<double>(MxuMatmulCycles(m, chip.mxu.rows, n) - m) : 0;
      c.vmem_per_cycle = static_cast<double>(k * Esz(r["dtype"]));
      c.vmem_bytes = m * k * Esz(r["dtype"]);
      c.flops = 2 * m * k * n;
      break;
    }
    case Opcode::kMxuReadAcc: {
      int64_t m = Pos(r["m"]), cols = Pos(r["n"]);
      c.pipe = 2;                         // the accumulators' read port
      c.stream = static_cast<double>(m);  // one accumulator row per cycle
      c.vmem_per_cycle = static_cast<double>(cols * Esz(r["dtype"]));
      c.vmem_bytes = m * cols * Esz(r["dtype"]);
      break;
    }
    case Opcode::kVpuBinary:
    case Opcode::kVpuBinaryImm:
    case Opcode::kVpuUnary:
    case Opcode::kVpuConvert:
    case Opcode::kVpuRequant:
    case Opcode::kVpuReduce:
    case Opcode::kVpuSelect: {
      int64_t e = Pos(r["rows"]) * Pos(r["cols"]);
      int operands = r.opcode == Opcode::kVpuBinary ? 3 : r.opcode == Opcode::kVpuReduce ? 1 : 2;
      int64_t esz = (r.opcode == Opcode::kVpuConvert || r.opcode == Opcode::kVpuRequant) ? 4
                    : Esz(r["dtype"]);
      c.elements = e;
      c.stream = std::ceil(static_cast<double>(e) / vpu_width) * VpuOpPasses(r);
      c.tail = vpu_latency;
      c.vmem_bytes = e * esz * operands;
      if (r.opcode == Opcode::kVpuSelect) c.vmem_bytes = e * (4 + 3 * esz);  // p, a, b read; dst written
      c.vmem_per_cycle = c.stream > 0 ? c.vmem_bytes / c.stream : 0;
      break;
    }
    case Opcode::kXluTranspose:
    case Opcode::kXluReduce:
    case Opcode::kXluPermute: {
      int64_t e = Pos(r["rows"]) * Pos(r["cols"]);
      c.elements = e;
      c.stream = std::ceil(static_cast<double>(e) / chip.vpu.lanes);  // one lane-row per cycle
      c.tail = static_cast<double>(chip.vpu.lanes);                   // pass through the cross-lane network
      c.vmem_bytes = 2 * e * Esz(r["dtype"]);
      c.vmem_per_cycle = c.stream > 0 ? c.vmem_bytes / c.stream : 0;
      break;
    }
    default:  // nops: one cycle
      c.stream = 1;
      break;
  }
  return c;
}

}  // namespace xtpu::sim::timing
