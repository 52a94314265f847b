// The chip parameters, declared once in XTPU_CHIP_PARAMS. The loader, the
// overrides (--set key=value), the printer, the JSON and TOML writers and the
// table in docs/chips.md are all generated from this list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace xtpu {

// How a parameter is written in TOML and stored in ChipConfig.
//   kInt        integer                                   -> int64_t
//   kFloat      number                                    -> double
//   kBytes      integer bytes, or "24 MiB" / "16 KB"      -> int64_t bytes
//   kBandwidth  number in GB/s, or "1.2 TB/s"             -> double GB/s (1e9 B/s)
//   kFrequency  number in MHz, or "1.05 GHz"              -> double MHz
//   kTime       number in ns, or "0.5 us"                 -> double ns
//   kDType      one of the `allowed` names ("bf16|s8")    -> DType
//   kText       string                                    -> std::string
enum class ParamKind : uint8_t { kInt, kFloat, kBytes, kBandwidth, kFrequency, kTime, kDType, kText };

struct ParamSpec {
  std::string_view key;       // dotted TOML key: "mxu.rows" is [mxu] rows = ...
  ParamKind kind;
  std::string_view unit;      // display unit of the stored value
  const char* default_text;   // parsed like a TOML value; nullptr = required
  double min, max;            // allowed range (numeric kinds), inclusive
  std::string_view allowed;   // kDType: allowed names separated by '|'
  std::string_view doc;       // one line
};

// clang-format off
// V(field, kind, unit, default, min, max, allowed, doc)
// `field` is both the ChipConfig member path and the TOML key. "Per core"
// means each TensorCore has its own; "per MXU" each matrix unit.
#define XTPU_CHIP_PARAMS(V)                                                                          \
  V(name,        kText, "", "", 0, 0, "", "Chip name shown in reports (default: the file name without .toml)") \
  V(description, kText, "", "", 0, 0, "", "One line saying what the chip is and where its figures come from") \
  V(clock_mhz,   kFrequency, "MHz", nullptr, 1, 10000, "", "Clock of the cores, matrix units and on-chip memories") \
  V(core.count,  kInt, "count", "1", 1, 64, "", "TensorCores per chip; each has its own sequencer, MXUs, VPU, XLUs, VMEM and semaphores") \
  /* matrix units (weight-stationary systolic arrays) */                                             \
  V(mxu.count,   kInt, "count", "1", 1, 64, "", "Matrix units per core") \
  V(mxu.rows,    kInt, "count", nullptr, 1, 4096, "", "PE rows of each systolic array = contraction depth K of one weight tile") \
  V(mxu.cols,    kInt, "count", nullptr, 1, 4096, "", "PE columns of each systolic array = output width N of one weight tile") \
  V(mxu.input_dtype,       kDType, "dtype", nullptr, 0, 0, "bf16|s8", "Native operand type; peaks are quoted for it") \
  V(mxu.accumulator_dtype, kDType, "dtype", nullptr, 0, 0, "f32|s32", "Accumulator type for the native operands (bf16 -> f32, s8 -> s32)") \
  V(mxu.bf16_rate, kFloat, "MAC/PE/cycle", "0", 0, 8, "", "bf16 multiply-accumulates per PE per cycle (0: bf16 unsupported)") \
  V(mxu.s8_rate,   kFloat, "MAC/PE/cycle", "0", 0, 8, "", "int8 multiply-accumulates per PE per cycle (0: int8 unsupported)") \
  V(mxu.weight_shift_rows_per_cycle, kInt, "rows/cycle", "1", 1, 4096, "", "Weight rows shifted into the array per cycle; a tile load takes ceil(rows / this) cycles") \
  V(mxu.weight_buffers, kInt, "count", "2", 1, 2, "", "Weight tiles held in the array: 2 = double-buffered (the next tile loads while the current one computes)") \
  V(accumulator.bytes, kBytes, "bytes", "256 KiB", 1, 0x1p30, "", "Accumulator memory per MXU; rows of mxu.cols accumulator_dtype values") \
  V(weight_fifo.depth, kInt, "tiles", "0", 0, 64, "", "Weight FIFO between off-chip memory and each MXU, in weight tiles (0: weights come from VMEM)") \
  /* vector unit and cross-lane unit */                                                              \
  V(vpu.sublanes,  kInt, "count", "8", 1, 1024, "", "Sublanes of the vector unit (rows of a vector register), per core") \
  V(vpu.lanes,     kInt, "count", "128", 1, 4096, "", "Lanes of the vector unit (columns of a vector register), per core") \
  V(vpu.alus,      kInt, "count", "2", 1, 16, "", "32-bit ALUs per lane and sublane; each does one elementwise op per cycle") \
  V(vpu.registers, kInt, "count", "32", 1, 1024, "", "Vector registers of sublanes x lanes 32-bit values, per core") \
  V(xlu.count,     kInt, "count", "1", 0, 16, "", "Cross-lane units (transpose, cross-lane reduce, permute) per core (0: none)") \
  /* sequencer, semaphores, DMA */                                                                   \
  V(scalar.registers,      kInt, "count", "32", 1, 1024, "", "32-bit scalar (address and loop) registers of the sequencer, per core") \
  V(smem.bytes,            kBytes, "bytes", "16 KiB", 0, 0x1p30, "", "Scalar memory of the sequencer, per core") \
  V(sequencer.queue_depth, kInt, "count", "16", 1, 4096, "", "Instructions each unit's in-order queue holds; the sequencer stalls when it is full") \
  V(sem.count,             kInt, "count", "32", 1, 4096, "", "Semaphores per core for ordering units (signal/wait)") \
  V(dma.engines,           kInt, "count", "4", 1, 64, "", "DMA engines per core (HBM <-> VMEM), each an in-order queue") \
  /* memories */                                                                                     \
  V(vmem.bytes,            kBytes, "bytes", nullptr, 1024, 0x1p40, "", "Vector memory (on-chip SRAM; the unified buffer on v1), per core") \
  V(vmem.ports,            kInt, "count", "3", 1, 64, "", "VMEM access ports per core; MXU, VPU and DMA accesses share them") \
  V(vmem.port_bytes_per_cycle, kInt, "bytes/cycle", "4096", 1, 1 << 20, "", "Bytes one VMEM port moves per cycle") \
  V(hbm.technology,        kText, "", "HBM", 0, 0, "", "Off-chip memory kind, for reports (HBM2, DDR3, LPDDR4X...)") \
  V(hbm.bytes,             kBytes, "bytes", nullptr, 1024, 0x1p50, "", "Off-chip memory capacity, shared by the cores") \
  V(hbm.bandwidth_gbps,    kBandwidth, "GB/s", nullptr, 0.001, 1e6, "", "Off-chip memory bandwidth, shared by the cores (1 GB/s = 1e9 B/s)") \
  V(hbm.latency_ns,        kTime, "ns", "500", 0, 1e6, "", "Latency of one off-chip access from DMA issue to first data") \
  V(hbm.channels,          kInt, "count", "8", 1, 1024, "", "Independent off-chip channels; bandwidth is split evenly, addresses interleave") \
  V(host.bandwidth_gbps,   kBandwidth, "GB/s", "16", 0.001, 1e6, "", "Host link (PCIe) bandwidth for inputs and outputs")
// clang-format on

#define XTPU_CHIP_PARAM_SPEC(field, kind, unit, def, min, max, allowed, doc) \
  ParamSpec{#field, ParamKind::kind, unit, def, min, max, allowed, doc},
inline constexpr ParamSpec kChipParams[] = {XTPU_CHIP_PARAMS(XTPU_CHIP_PARAM_SPEC)};
#undef XTPU_CHIP_PARAM_SPEC

inline constexpr size_t kNumChipParams = std::size(kChipParams);

// Index of `key` in kChipParams, or -1.
int FindChipParam(std::string_view key);

}  // namespace xtpu
