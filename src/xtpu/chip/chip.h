// A chip description: typed structs filled from a TOML file (configs/*.toml)
// whose parameters are declared once in chip_params.h, plus the peaks derived
// from them (FLOP/s, bytes/s, ridge point). The compiler's cost model, the
// simulator, the timing model and the reports all read this one description.
//
//   ASSIGN_OR_RETURN(ChipConfig chip, LoadChip("v4"));     // preset or path
//   RETURN_IF_ERROR(ApplyOverride(chip, "mxu.rows=256"));  // sweeps
//   double peak = MxuPeakOps(chip, DType::kBF16);          // 2.75e14
//
// Units: sizes in bytes, clocks in MHz, bandwidths in GB/s (1e9 B/s),
// latencies in ns; "per core" values are per TensorCore.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "xtpu/chip/chip_params.h"
#include "xtpu/ir/dtype.h"
#include "xtpu/support/status.h"

namespace xtpu {

// Field names match the TOML keys (see XTPU_CHIP_PARAMS for units and docs).
struct CoreConfig {
  int64_t count = 0;  // TensorCores per chip
};

// Weight-stationary systolic arrays: a rows x cols weight tile stays in the
// array; LHS rows of `rows` values stream in, one per cycle, and `cols`
// results per row come out into the accumulators.
struct MxuConfig {
  int64_t count = 0;  // per core
  int64_t rows = 0;   // K of one weight tile
  int64_t cols = 0;   // N of one weight tile
  DType input_dtype = DType::kBF16;
  DType accumulator_dtype = DType::kF32;
  double bf16_rate = 0;  // MACs per PE per cycle; 0 = unsupported
  double s8_rate = 0;
  int64_t weight_shift_rows_per_cycle = 0;
  int64_t weight_buffers = 0;  // 2 = double-buffered
};

struct AccumulatorConfig {
  int64_t bytes = 0;  // per MXU
};

struct WeightFifoConfig {
  int64_t depth = 0;  // weight tiles; 0 = no FIFO
};

struct VpuConfig {
  int64_t sublanes = 0;
  int64_t lanes = 0;
  int64_t alus = 0;       // per lane and sublane
  int64_t registers = 0;  // of sublanes x lanes x 32 bit
};

struct XluConfig {
  int64_t count = 0;  // per core
};

struct ScalarConfig {
  int64_t registers = 0;
};

struct SmemConfig {
  int64_t bytes = 0;
};

struct SequencerConfig {
  int64_t queue_depth = 0;
};

struct SemConfig {
  int64_t count = 0;  // per core
};

struct DmaConfig {
  int64_t engines = 0;  // per core
};

struct VmemConfig {
  int64_t bytes = 0;  // per core
  int64_t ports = 0;
  int64_t port_bytes_per_cycle = 0;
};

// Off-chip memory (HBM on v4/v5e, DDR3 weight memory on v1, LPDDR on edge).
struct HbmConfig {
  std::string technology;
  int64_t bytes = 0;            // shared by the cores
  double bandwidth_gbps = 0;    // shared by the cores
  double latency_ns = 0;
  int64_t channels = 0;
};

struct HostConfig {
  double bandwidth_gbps = 0;
};

// Where a parameter's value came from.
enum class ParamOrigin : uint8_t { kDefault, kFile, kOverride };
std::string_view ParamOriginName(ParamOrigin o);  // "default", "file", "override"

struct ChipConfig {
  std::string name;
  std::string description;
  double clock_mhz = 0;
  CoreConfig core;
  MxuConfig mxu;
  AccumulatorConfig accumulator;
  WeightFifoConfig weight_fifo;
  VpuConfig vpu;
  XluConfig xlu;
  ScalarConfig scalar;
  SmemConfig smem;
  SequencerConfig sequencer;
  SemConfig sem;
  DmaConfig dma;
  VmemConfig vmem;
  HbmConfig hbm;
  HostConfig host;

  // Provenance, not parameters: the file (or name given to
  // LoadChipFromString) and, per kChipParams entry, where its value came from.
  std::string source;
  std::array<ParamOrigin, kNumChipParams> origin{};
  std::vector<std::string> overrides;  // "key=value" in the order applied
};

// Calls f(const ParamSpec&, field&) for every parameter, in table order.
template <typename Config, typename F>
void ForEachChipParam(Config& chip, F&& f) {
  size_t i = 0;
#define XTPU_CHIP_PARAM_VISIT(field, ...) f(kChipParams[i++], chip.field);
  XTPU_CHIP_PARAMS(XTPU_CHIP_PARAM_VISIT)
#undef XTPU_CHIP_PARAM_VISIT
}

// True if every parameter is equal (provenance is ignored).
bool SameChipParams(const ChipConfig& a, const ChipConfig& b);

// ---- Loading -------------------------------------------------------------

// A preset name ("v1", "v4", "v5e", "edge": configs/<name>.toml) or a path to
// a .toml file (anything containing '/' or ending in ".toml").
StatusOr<ChipConfig> LoadChip(const std::string& name_or_path);

// Parses TOML text; `name_for_errors` (usually the path) appears in every
// error message and becomes ChipConfig::source.
StatusOr<ChipConfig> LoadChipFromString(const std::string& toml_text,
                                        const std::string& name_for_errors);

// Sets one parameter from "key=value" (value as in TOML; quotes optional for
// strings, e.g. "vmem.bytes=64 MiB", "mxu.input_dtype=s8"), then re-checks the
// whole chip. On error the chip is unchanged.
Status ApplyOverride(ChipConfig& chip, const std::string& key_equals_value);

// Checks ranges and consistency between parameters; errors name the
// parameters and chip.source.
Status ValidateChip(const ChipConfig& chip);

// The configs/ directory: $XTPU_CONFIG_DIR, else ../configs or ../../configs
// (or ../share/xtpu/configs) next to the executable, else the source tree's.
// Empty if none exists.
std::string ChipConfigDir();
// Preset names found in ChipConfigDir(), sorted.
std::vector<std::string> ListChipPresets();

// Parses a size such as 4096, "24 MiB", "16KB", "1.5 GiB" into bytes
// (KiB/MiB/GiB/TiB are powers of 1024; KB/MB/GB/TB of 1000).
StatusOr<int64_t> ParseByteSize(std::string_view text);

// ---- Derived quantities --------------------------------------------------

double ClockHz(const ChipConfig& chip);
// MACs per PE per cycle for MXU operands of `dtype` (bf16 or s8); 0 if the
// MXU does not take that type.
double MxuRate(const ChipConfig& chip, DType dtype);
// Peak MXU operations per second (2 per multiply-accumulate):
// 2 * rows * cols * mxu.count * rate * clock [* core.count].
double MxuPeakOpsPerCore(const ChipConfig& chip, DType dtype);
double MxuPeakOps(const ChipConfig& chip, DType dtype);
// Peak vector unit 32-bit elementwise operations per second for the chip:
// sublanes * lanes * alus * clock * core.count.
double VpuPeakOps(const ChipConfig& chip);
// Bytes of one weight tile (rows x cols of input_dtype).
int64_t WeightTileBytes(const ChipConfig& chip);
// Cycles to shift one weight tile into an MXU.
int64_t WeightLoadCycles(const ChipConfig& chip);
// Rows of mxu.cols accumulator_dtype values one MXU's accumulators hold.
int64_t AccumulatorRows(const ChipConfig& chip);
double HbmBytesPerSecond(const ChipConfig& chip);
double VmemBytesPerSecondPerCore(const ChipConfig& chip);
double HbmBytesPerCycle(const ChipConfig& chip);
// Roofline ridge point: MXU ops per HBM byte at which compute and memory
// time are equal, for the native input dtype.
double RidgePoint(const ChipConfig& chip);

// A derived quantity as printed by DescribeChip and ChipToJson.
struct DerivedValue {
  std::string key;   // "mxu.peak_bf16"
  double value;      // in `unit`; NaN if not applicable
  std::string unit;  // "FLOP/s", "B/s", ...
  std::string doc;
};
std::vector<DerivedValue> DerivedChipValues(const ChipConfig& chip);

// ---- Printing ------------------------------------------------------------

// Every parameter with value, unit and origin, then the derived peaks, as an
// aligned text table.
std::string DescribeChip(const ChipConfig& chip);
// The same content as JSON: {"name", "source", "overrides", "params": {key:
// {"value", "unit", "origin"}}, "derived": {key: {"value", "unit"}}}.
nlohmann::json ChipToJson(const ChipConfig& chip);
// A TOML file that LoadChipFromString reads back to the same parameters.
std::string ChipToToml(const ChipConfig& chip);
// The Markdown table of all parameters kept in docs/chips.md.
std::string ChipParamsDocsTable();
// The Markdown table of derived peaks of the given chips (docs/chips.md).
std::string ChipPeaksDocsTable(const std::vector<ChipConfig>& chips);

// "24 MiB" if exact in KiB/MiB/GiB/TiB, else "N B".
std::string FormatBytes(int64_t bytes);

}  // namespace xtpu
