// The functional simulator: the executable spec of the ISA (docs/isa.md).
//
// Per core, the sequencer runs scalar instructions and dispatches the others,
// with operands resolved to values, into the bounded in-order queue of their
// unit. A scheduler visits the core's sequencer and units in a fixed
// round-robin order; each runs until it blocks (semaphore wait, full queue)
// or runs out of work. With SimOptions::threads = 1 (or a step/work budget)
// one host thread visits all cores in turn, deterministically; otherwise each
// core with a program has its own host thread and the cores meet only at
// barriers (semaphores, registers and SMEM are per core; HBM is shared). For
// a correctly synchronized program the result (values, stats, dispatch log,
// faults and deadlock reports) does not depend on the order; a racy one (cores
// touching the same HBM bytes with no barrier between) is only deterministic
// with threads = 1. Every memory access is bounds-checked; a bad
// access ends the run with a device fault naming core, unit, pc and address;
// a state where nothing can proceed is reported as a deadlock listing every
// waiting unit.
//
//   ASSIGN_OR_RETURN(ChipConfig chip, LoadChip("v4"));
//   ASSIGN_OR_RETURN(isa::Program p, isa::Assemble(text, "gemm.s"));
//   sim::Simulator s(chip, p);
//   RETURN_IF_ERROR(s.SetBuffer("A", a));   // others: seeded random / zero
//   RETURN_IF_ERROR(s.Run());
//   ASSIGN_OR_RETURN(Literal c, s.GetBuffer("C"));
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "xtpu/chip/chip.h"
#include "xtpu/ir/literal.h"
#include "xtpu/isa/isa.h"
#include "xtpu/support/status.h"

namespace xtpu::sim {

// One instruction as the sequencer executed or dispatched it, with operands
// resolved to values (see SimOptions::dispatch_log; the timing model replays
// these).
struct DispatchRecord {
  int pc = 0;
  isa::Opcode opcode = isa::Opcode::kNop;
  uint8_t unit = 0;
  int32_t wait = -1, signal = -1;
  std::array<int64_t, isa::kMaxOperands> v{};
  // Operand value by name (XTPU_CHECKs the name exists).
  int64_t operator[](std::string_view name) const { return v[isa::GetOpInfo(opcode).Find(name)]; }
};
using DispatchLog = std::vector<std::vector<DispatchRecord>>;  // per core, in sequencer order

struct SimOptions {
  uint64_t seed = 0;        // for input buffers the host did not set
  int threads = 0;          // host threads (cores in parallel, then MXU work); 0 = hardware concurrency
  int64_t max_steps = 0;    // instructions executed (all units); 0 = unlimited
  int64_t max_work = 0;     // elements/bytes processed; 0 = unlimited (fuzzing)
  // If set: per core, every instruction the sequencer executed or dispatched,
  // in order, with resolved operands (input of timing::RunTiming).
  DispatchLog* dispatch_log = nullptr;
  // Timing-only run: the sequencer, semaphores, address checks, stats and the
  // dispatch log are exactly those of a full run, but units read and write no
  // VMEM/HBM/accumulator contents and do no MXU math (so the timing model
  // gives the same cycles, much sooner). Buffers are not initialized and
  // GetBuffer fails. Data-dependent checks are skipped: dma.gather treats
  // every index as 0, xlu.permute does not check its indices.
  bool timing_only = false;
  // If set, polled once per scheduler round (a few instructions per unit);
  // when it returns true, Run ends with a StatusCode::kCancelled error. It
  // runs on the thread that called Run and should be cheap (throttle inside).
  std::function<bool()> cancel;
};

// Counts from a functional run; the timing model adds cycles to these.
struct SimStats {
  std::map<std::string, int64_t> instructions;  // per unit: "core0.dma1" -> count
  int64_t sequencer_steps = 0;                  // sequencer instructions executed
  int64_t hbm_read_bytes = 0, hbm_write_bytes = 0;
  int64_t vmem_read_bytes = 0, vmem_write_bytes = 0;
  int64_t acc_read_bytes = 0, acc_write_bytes = 0;
  int64_t weight_load_bytes = 0;
  int64_t mxu_flops = 0;   // 2 per multiply-accumulate (all dtypes)
  int64_t vpu_ops = 0;     // elements processed by the VPU
  int64_t xlu_ops = 0;     // elements processed by the XLU
  nlohmann::json ToJson() const;
};

class Device;  // simulator state (simulator.cc)

class Simulator {
 public:
  Simulator(const ChipConfig& chip, const isa::Program& program, SimOptions options = {});
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Sets a declared buffer before Run. The dims must match the declaration;
  // a different float dtype is converted (f32 data into a bf16 buffer rounds
  // to nearest even), so .npy files (which have no bf16) can be used.
  Status SetBuffer(const std::string& name, const Literal& value);
  // The same, taking the value (no copy when it already has the buffer's dtype).
  Status SetBuffer(const std::string& name, Literal&& value);
  // Sets a declared HBM buffer to `bytes` (its raw contents in its dtype,
  // exactly its byte size) without copying them: the simulated HBM reads
  // them in place until the program writes to them (copy on write, page by
  // page), so constants of a loaded executable cost nothing to set up and
  // are never modified. `bytes` must stay valid and unchanged until this
  // Simulator is destroyed. VMEM buffers are copied.
  Status MapBuffer(const std::string& name, std::string_view bytes);
  // Checks the program against the chip, places buffers (inputs the host did
  // not set get seeded random values), runs to completion.
  Status Run();
  // A declared buffer's contents (after Run).
  StatusOr<Literal> GetBuffer(const std::string& name) const;

  const SimStats& stats() const;
  const isa::Program& program() const { return program_; }
  const ChipConfig& chip() const { return chip_; }

 private:
  ChipConfig chip_;
  isa::Program program_;
  SimOptions options_;
  std::map<std::string, Literal> given_;
  std::map<std::string, std::string_view> mapped_;  // MapBuffer
  std::unique_ptr<Device> device_;
};

// Checks that a program fits a chip: cores, unit indices, registers,
// semaphores, buffer placement. Errors name the instruction or buffer.
Status CheckProgramForChip(const isa::Program& program, const ChipConfig& chip);

}  // namespace xtpu::sim
