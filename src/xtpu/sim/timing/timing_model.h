// The event-driven timing model. It replays the instruction stream the
// functional simulator dispatched (SimOptions::dispatch_log) on a model of
// the chip: per core a sequencer issuing one instruction per cycle into
// bounded in-order unit queues, units whose instructions take the time their
// unit model says (unit_models.h), semaphores that order units in simulated
// time, and HBM / VMEM-port bandwidth shared by whatever streams at once.
// It computes values of nothing; the functional run already did.
//
//   sim::DispatchLog log;
//   sim::Simulator s(chip, program, {.dispatch_log = &log});
//   RETURN_IF_ERROR(s.Run());
//   ASSIGN_OR_RETURN(timing::TimingResult t, timing::RunTiming(chip, log));
//   t.stats.cycles;  timing::TraceJson(chip, t);
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "xtpu/chip/chip.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/support/status.h"

namespace xtpu::sim::timing {

// Per unit instance ("core0.mxu1").
struct UnitTiming {
  double busy_cycles = 0;  // cycles with at least one instruction in flight
  int64_t instructions = 0;
  // Cycles with nothing in flight, by why the next instruction did not start.
  double stall_semaphore = 0;   // waiting on a semaphore
  double stall_dependency = 0;  // MXU weights not loaded / accumulators busy
  double stall_queue_empty = 0;  // more work to come, but none dispatched yet
  // Cycles lost while streaming at less than full speed (bandwidth shared).
  double stall_hbm_bandwidth = 0;
  double stall_vmem_bandwidth = 0;
};

struct TimingStats {
  int64_t cycles = 0;
  double seconds = 0;
  double clock_mhz = 0;
  std::map<std::string, UnitTiming> units;
  int64_t mxu_flops = 0;
  double mxu_utilization = 0;       // flops / (chip peak per cycle x cycles)
  double mxu_utilization_used_cores = 0;  // the same over the cores that ran a program
  int cores_used = 0;
  int64_t hbm_bytes = 0, vmem_bytes = 0;
  double sequencer_stall_queue_full = 0, sequencer_stall_semaphore = 0;  // summed over cores
  double sequencer_stall_barrier = 0;  // waiting at a barrier for other cores, summed over cores
  // max(compute, HBM) time of the run's FLOPs and bytes on the cores used.
  double roofline_cycles = 0;
  nlohmann::json ToJson() const;
};

// One executed instruction, for the trace.
struct TimedInstruction {
  int core = 0;
  std::string unit;  // "mxu0", "dma1", "seq"
  int track = 0;     // 0 = seq, then the core's units in order dma.., mxu.., vpu, xlu.. from 1
  int pc = 0;
  isa::Opcode opcode = isa::Opcode::kNop;
  double start = 0, end = 0;  // cycles
  int64_t bytes = 0, flops = 0;
  // Per memory level and the elements a VPU/XLU op processed (profiles).
  int64_t hbm_bytes = 0, vmem_bytes = 0, elements = 0;
};

struct TimingResult {
  TimingStats stats;
  std::vector<TimedInstruction> instructions;  // in start order per unit
};

struct TimingOptions {
  bool record_instructions = true;  // fill TimingResult::instructions
  bool trace_sequencer = false;     // include sequencer instructions
  // If set, called now and then (a few hundred times a run at most) with the
  // instructions retired so far and the total to retire (progress bars).
  std::function<void(int64_t done, int64_t total)> progress = nullptr;
};

// Errors: a deadlock in simulated time (names the waiting units).
StatusOr<TimingResult> RunTiming(const ChipConfig& chip, const DispatchLog& log, TimingOptions options = {});

// Chrome trace-event JSON (Perfetto, chrome://tracing): pid = core, one tid
// per unit and DMA engine, one "X" event per instruction with ts/dur in
// microseconds at the chip clock and args {pc, cycles, bytes, flops}.
nlohmann::json TraceJson(const ChipConfig& chip, const TimingResult& result);

}  // namespace xtpu::sim::timing
