// Quantities derived from a chip description: peak MXU and vector rates,
// memory bandwidths, weight-tile sizes and load times, the roofline ridge
// point. Formulas are spelled out in docs/chips.md.
#include <algorithm>
#include <cmath>
#include <limits>

#include "xtpu/chip/chip.h"

namespace xtpu {

double ClockHz(const ChipConfig& chip) { return chip.clock_mhz * 1e6; }

double MxuRate(const ChipConfig& chip, DType dtype) {
  switch (dtype) {
    case DType::kBF16: return chip.mxu.bf16_rate;
    case DType::kS8: return chip.mxu.s8_rate;
    default: return 0;
  }
}

double MxuPeakOpsPerCore(const ChipConfig& chip, DType dtype) {
  const MxuConfig& m = chip.mxu;
  return 2.0 * static_cast<double>(m.rows) * static_cast<double>(m.cols) * static_cast<double>(m.count) *
         MxuRate(chip, dtype) * ClockHz(chip);
}

double MxuPeakOps(const ChipConfig& chip, DType dtype) {
  return MxuPeakOpsPerCore(chip, dtype) * static_cast<double>(chip.core.count);
}

double VpuPeakOps(const ChipConfig& chip) {
  const VpuConfig& v = chip.vpu;
  return static_cast<double>(v.sublanes * v.lanes * v.alus * chip.core.count) * ClockHz(chip);
}

int64_t WeightTileBytes(const ChipConfig& chip) {
  return chip.mxu.rows * chip.mxu.cols * DTypeBytes(chip.mxu.input_dtype);
}

int64_t WeightLoadCycles(const ChipConfig& chip) {
  int64_t per_cycle = std::max<int64_t>(1, chip.mxu.weight_shift_rows_per_cycle);
  return (chip.mxu.rows + per_cycle - 1) / per_cycle;
}

int64_t AccumulatorRows(const ChipConfig& chip) {
  int64_t row_bytes = chip.mxu.cols * DTypeBytes(chip.mxu.accumulator_dtype);
  return row_bytes > 0 ? chip.accumulator.bytes / row_bytes : 0;
}

double HbmBytesPerSecond(const ChipConfig& chip) { return chip.hbm.bandwidth_gbps * 1e9; }

double HbmBytesPerCycle(const ChipConfig& chip) { return HbmBytesPerSecond(chip) / ClockHz(chip); }

double VmemBytesPerSecondPerCore(const ChipConfig& chip) {
  return static_cast<double>(chip.vmem.ports * chip.vmem.port_bytes_per_cycle) * ClockHz(chip);
}

double RidgePoint(const ChipConfig& chip) {
  return MxuPeakOps(chip, chip.mxu.input_dtype) / HbmBytesPerSecond(chip);
}

std::vector<DerivedValue> DerivedChipValues(const ChipConfig& chip) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto or_nan = [&](double v) { return v > 0 ? v : nan; };
  bool s8 = chip.mxu.input_dtype == DType::kS8;
  std::vector<DerivedValue> out = {
      {"mxu.peak_bf16_per_core", or_nan(MxuPeakOpsPerCore(chip, DType::kBF16)), "FLOP/s",
       "2 * rows * cols * mxu.count * bf16_rate * clock"},
      {"mxu.peak_bf16", or_nan(MxuPeakOps(chip, DType::kBF16)), "FLOP/s", "mxu.peak_bf16_per_core * core.count"},
      {"mxu.peak_s8_per_core", or_nan(MxuPeakOpsPerCore(chip, DType::kS8)), "OP/s",
       "2 * rows * cols * mxu.count * s8_rate * clock"},
      {"mxu.peak_s8", or_nan(MxuPeakOps(chip, DType::kS8)), "OP/s", "mxu.peak_s8_per_core * core.count"},
      {"vpu.peak_f32", VpuPeakOps(chip), "FLOP/s", "sublanes * lanes * alus * clock * core.count"},
      {"mxu.weight_tile_bytes", static_cast<double>(WeightTileBytes(chip)), "B", "rows * cols * input_dtype size"},
      {"mxu.weight_load_cycles", static_cast<double>(WeightLoadCycles(chip)), "cycles",
       "ceil(rows / weight_shift_rows_per_cycle)"},
      {"mxu.weight_tile_hbm_cycles", static_cast<double>(WeightTileBytes(chip)) / HbmBytesPerCycle(chip), "cycles",
       "weight_tile_bytes / hbm bytes per cycle"},
      {"accumulator.rows", static_cast<double>(AccumulatorRows(chip)), "count",
       "accumulator.bytes / (cols * accumulator_dtype size)"},
      {"vmem.bandwidth_per_core", VmemBytesPerSecondPerCore(chip), "B/s", "ports * port_bytes_per_cycle * clock"},
      {"vmem.bytes_total", static_cast<double>(chip.vmem.bytes * chip.core.count), "B", "vmem.bytes * core.count"},
      {"hbm.bandwidth", HbmBytesPerSecond(chip), "B/s", "bandwidth_gbps * 1e9"},
      {"hbm.bytes_per_cycle", HbmBytesPerCycle(chip), "B/cycle", "hbm.bandwidth / clock"},
      {"ridge_point", RidgePoint(chip), s8 ? "OP/B" : "FLOP/B", "MXU peak (native dtype) / hbm.bandwidth"},
  };
  return out;
}

}  // namespace xtpu
