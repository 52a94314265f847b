// Where the cycles go: a per-op profile of a timed run (`xtpu profile`).
// Each op (an IR op or fusion the compiler lowered to one kernel, named in
// the executable's metadata with its pc ranges) gets its time, FLOPs, bytes
// per memory level, arithmetic intensity, place under the chip's roofline
// and the resource that bounds it; each unit gets a utilization timeline.
//
//   ASSIGN_OR_RETURN(runtime::Profile p, runtime::BuildProfile(exe, chip, run_result));
//   runtime::ProfileCsv(p);  runtime::ProfileJson(p);  runtime::KernelTraceJson(exe, chip, run_result);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "xtpu/chip/chip.h"
#include "xtpu/runtime/executable.h"
#include "xtpu/runtime/run.h"
#include "xtpu/support/status.h"

namespace xtpu::runtime {

// What limits an op: the resource busiest during it, or "overhead" when
// none is busy for at least kBoundThreshold of its time (the time then goes
// to latency, synchronization and instruction issue, not to throughput).
enum class Bound { kMxu, kVpu, kXlu, kHbm, kVmem, kOverhead };
inline constexpr double kBoundThreshold = 0.5;
std::string_view BoundName(Bound b);  // "MXU", "VPU", "XLU", "HBM", "VMEM", "overhead"

// Busy fraction of each resource over an op's (or a run's) elapsed time:
// a unit kind by its busiest instance (the op waits on that one), a memory
// by bytes moved over what its bandwidth could move in the time.
struct ResourceUse {
  double mxu = 0, vpu = 0, xlu = 0, hbm = 0, vmem = 0;
};
Bound ClassifyBound(const ResourceUse& use);

// Peak rates of the cores a program uses.
struct Peaks {
  double clock_hz = 0;
  double mxu_flops_per_second = 0;  // native MXU dtype
  double vpu_ops_per_second = 0;    // 32-bit elementwise ops
  double hbm_bytes_per_second = 0;  // shared by the cores
  double vmem_bytes_per_second = 0;
};
Peaks ChipPeaks(const ChipConfig& chip, int cores);

// What an op computes for the roofline: MXU FLOPs if it has any, else the
// elements its vector/cross-lane units processed, else nothing (data
// movement only).
enum class WorkKind { kMxu, kVector, kData };
std::string_view WorkKindName(WorkKind k);  // "mxu", "vector", "data"

// Roofline of one op: attainable ops/s at `intensity` (ops per HBM byte)
// is min(peak of its unit, intensity x HBM bandwidth).
double RooflineOpsPerSecond(const Peaks& peaks, WorkKind kind, double intensity);

struct OpProfile {
  std::string name, op;
  int64_t instructions = 0;
  double start = 0, end = 0;  // cycles: earliest start, latest end over cores
  double cycles = 0, seconds = 0;
  int64_t flops = 0;       // useful FLOPs of the IR op (the compiler's count)
  int64_t mxu_flops = 0;   // FLOPs the MXUs executed (with padding)
  int64_t vector_ops = 0;  // elements the VPU and XLUs processed
  int64_t hbm_bytes = 0, vmem_bytes = 0;
  double mxu_busy = 0, vpu_busy = 0, xlu_busy = 0, dma_busy = 0;  // cycles, busiest unit of the kind
  ResourceUse use;
  Bound bound = Bound::kOverhead;
  WorkKind work = WorkKind::kData;
  double ops = 0;              // flops, or vector_ops for vector work
  double intensity = 0;        // ops per HBM byte; +inf with no HBM traffic
  double ops_per_second = 0;   // achieved
  double roofline_ops_per_second = 0;
  double fraction_of_roofline = 0;  // achieved / roofline
};

// One unit instance's busy fraction over equal time bins of the run.
struct UnitTimeline {
  std::string unit;  // "core0.mxu1"
  std::string kind;  // "mxu", "vpu", "xlu", "dma"
  std::vector<double> busy;
};

struct Profile {
  std::string model, chip;
  int cores = 1, batch = 1;
  int64_t cycles = 0;
  double seconds = 0;
  int64_t model_flops = 0;
  Peaks peaks;
  ResourceUse use;  // the whole run
  Bound bound = Bound::kOverhead;
  std::vector<OpProfile> ops;  // in program order
  double bin_cycles = 0;
  std::vector<UnitTimeline> units;
  std::vector<double> hbm_busy;  // HBM bandwidth used per bin
  nlohmann::json stats;          // RunStatsJson of the run
  nlohmann::json chip_json;      // ChipToJson
  std::string chip_text;         // DescribeChip
};

// Needs a timed run with recorded instructions (RunOptions::timing and
// record_instructions). `bins`: points of the utilization timelines.
StatusOr<Profile> BuildProfile(const Executable& exe, const ChipConfig& chip, const RunResult& r, int bins = 200);

// One row per op with a header: name, op, cycles, seconds, share, flops,
// mxu_flops, vector_ops, hbm_bytes, vmem_bytes, intensity, ops_per_second,
// roofline_ops_per_second, fraction_of_roofline, mxu_use, vpu_use, xlu_use,
// hbm_use, vmem_use, work, bound.
std::string ProfileCsv(const Profile& p);
// The run's stats JSON (RunStatsJson) plus "profile": peaks, whole-run use
// and bound, the ops and the timelines.
nlohmann::json ProfileJson(const Profile& p);

// Chrome trace-event JSON for Perfetto: pid = core, one tid per unit and
// DMA engine (named by process_name/thread_name metadata), each event named
// after the op its instruction serves with the instruction text in args.
// With more than `max_events` instructions, consecutive instructions of one
// unit in one op become one event (args: instruction count, busy cycles).
nlohmann::json KernelTraceJson(const Executable& exe, const ChipConfig& chip, const RunResult& r,
                               int64_t max_events = 200000);

}  // namespace xtpu::runtime
