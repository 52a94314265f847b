// Internal state of the functional simulator, shared by simulator.cc (the
// sequencer and scheduler) and the exec_*.cc files (one per unit class).
// Not a public API.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "xtpu/chip/chip.h"
#include "xtpu/isa/isa.h"
#include "xtpu/sim/memory.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/sim/vpu_ops.h"

namespace xtpu::sim {

// An instruction in a unit's queue, its operands resolved at dispatch.
struct Resolved {
  int pc = 0;
  const isa::Instruction* inst = nullptr;
  std::array<int64_t, isa::kMaxOperands> v{};
  bool acquired = false;  // its wait semaphore has been taken
  // Operand value by name (XTPU_CHECKs the name exists).
  int64_t operator[](std::string_view name) const { return v[inst->info().Find(name)]; }
};

struct Unit {
  Unit(isa::UnitKind k, int i, std::string n) : kind(k), index(i), name(std::move(n)) {}
  isa::UnitKind kind;
  int index = 0;
  std::string name;  // "dma1"
  std::deque<Resolved> queue;
  int64_t executed = 0;
};

// One matrix unit: the resident weight tile (decoded once) and the
// accumulators (32-bit words: f32 for bf16 matmuls, s32 for s8 matmuls).
struct MxuState {
  bool loaded = false;
  DType dtype = DType::kBF16;
  int64_t k = 0, n = 0;     // weight tile is k x n, stored with row stride mxu.cols
  std::vector<float> wf;    // bf16 weights as f32
  std::vector<int32_t> wi;  // s8 weights as s32
  std::unique_ptr<uint32_t[]> acc;  // acc_rows x mxu.cols, allocated on first use
};

struct LoopFrame {
  int body_pc;
  int reg;
  int64_t count;
  int64_t i;  // trip counter (rc is set from it)
};

struct Core {
  int id = 0;
  Memory vmem;
  Memory smem;
  std::vector<int64_t> regs;
  std::vector<int64_t> sems;
  std::vector<Unit> units;  // dma0.., mxu0.., vpu, xlu0..
  std::vector<MxuState> mxus;
  const std::vector<isa::Instruction>* stream = nullptr;
  std::vector<int> loop_match;
  std::vector<LoopFrame> loops;
  int pc = 0;
  bool halted = false;
  bool seq_acquired = false;  // the current sequencer instruction took its wait
  int64_t seq_executed = 0;
  // Barriers: the number this core has passed, and whether its sequencer is
  // waiting at one (arrived in barrier generation `barrier_gen`).
  int64_t barriers_passed = 0;
  bool at_barrier = false;
  int64_t barrier_gen = 0;
  bool idle = false;  // RunParallel: waiting for a barrier release (under Device::mu_)
  SimStats stats;  // this core's counts (the instructions map is filled at the end)
  Core(int core_id, int64_t vmem_bytes, int64_t smem_bytes)
      : id(core_id), vmem(core_id == 0 ? "VMEM" : fmt::format("VMEM{}", core_id), vmem_bytes),
        smem("SMEM", smem_bytes) {}
};

class Device {
 public:
  Device(const ChipConfig& chip, const isa::Program& program, const SimOptions& options);

  // Runs all cores to completion; errors are faults or deadlocks.
  Status Run();

  Memory& hbm() { return hbm_; }
  Core& core(int i) { return cores_[i]; }
  int num_cores() const { return static_cast<int>(cores_.size()); }
  const ChipConfig& chip() const { return chip_; }
  const SimStats& stats() const { return stats_; }
  // Host threads a unit may use for one instruction (the MXU kernels): all
  // of SimOptions::threads, less one for every other core being simulated
  // at the same moment (see RunParallel).
  int threads() const {
    return parallel_ ? std::max(1, threads_ - (running_.load(std::memory_order_relaxed) - 1)) : threads_;
  }
  // SimOptions::timing_only: units check addresses and count stats but move
  // and compute no data.
  bool timing_only() const { return options_.timing_only; }
  int64_t acc_rows() const { return acc_rows_; }
  uint32_t* Accumulators(MxuState& m);

  // Counts `n` units of work against SimOptions::max_work.
  Status ChargeWork(int64_t n);
  // Charges a rows x cols tile as (rows + 1) * (cols + 1), so per-row loops
  // and row-sized buffers count even when the other side is 0 (the fuzzer
  // found 2^40 empty rows, and a 2^32-column buffer for 0 rows).
  Status ChargeWork(int64_t rows, int64_t cols);

 private:
  // The scheduler: one host thread visiting every core in turn (RunSerial),
  // or, with SimOptions::threads >= 2 and several cores, one host thread per
  // core (RunParallel), the cores meeting only at barriers.
  Status RunSerial();
  Status RunParallel(const std::vector<Core*>& cores);
  // Counts and instruction totals of every core into stats_.
  void CollectStats(bool instructions);
  // Returns true if the sequencer made progress.
  StatusOr<bool> RunSequencer(Core& c);
  StatusOr<bool> RunUnit(Core& c, Unit& u);
  // The sequencer of `c` is at a barrier: registers its arrival; true once
  // every core with a program has arrived (the barrier is released).
  bool ArriveAtBarrier(Core& c);
  Status Execute(Core& c, Unit& u, const Resolved& r);
  Status DeadlockError();
  std::string BarrierWaitText(const Core& c) const;
  Unit& UnitFor(Core& c, const isa::Instruction& inst);
  std::string Where(const Core& c, std::string_view unit, int pc) const;

  const ChipConfig& chip_;
  const isa::Program& program_;
  SimOptions options_;
  Memory hbm_;
  std::vector<Core> cores_;
  SimStats stats_;
  int64_t acc_rows_ = 0;
  int64_t work_ = 0;
  int64_t steps_ = 0;
  int threads_ = 1;
  // RunParallel: cores not idle (idle = waiting for a barrier to release,
  // or stuck), and the state shared by the core threads, under mu_.
  bool parallel_ = false;
  std::atomic<int> running_{0};
  std::atomic<bool> abort_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int idle_ = 0;
  bool deadlock_ = false;
  int barrier_participants_ = 0;  // cores with a program
  int barrier_arrived_ = 0;       // cores waiting at the current barrier
  std::atomic<int64_t> barrier_generation_{0};  // barriers released so far (changed under mu_)
};

// Unit execution, one function per unit class (exec_*.cc). Errors are the
// fault text without location; the caller adds core, unit and pc.
Status ExecDma(Device& d, Core& c, const Resolved& r);
Status ExecMxu(Device& d, Core& c, int mxu, const Resolved& r);
Status ExecVpu(Device& d, Core& c, const Resolved& r);
Status ExecXlu(Device& d, Core& c, const Resolved& r);
Status ExecDmaGather(Device& d, Core& c, const Resolved& r);  // exec_dma.cc

// Checks a tile of `rows` rows of `row_bytes` bytes, row r at base + r*stride,
// lies inside `mem` (safe against overflow for any values).
Status CheckTile(const Memory& mem, int64_t base, int64_t stride, int64_t rows, int64_t row_bytes);
// 3D version: rows at base + i2*s2 + i1*s1.
Status CheckTile3(const Memory& mem, int64_t base, int64_t s1, int64_t n1, int64_t s2, int64_t n2,
                  int64_t row_bytes);

}  // namespace xtpu::sim

namespace xtpu::sim {

// Row I/O for the vector and cross-lane units: `n` elements of `t` at
// `addr` (range already checked) to/from f32 (f32, bf16) or s32 (s32, s8).
void LoadRowF32(const Memory& m, int64_t addr, int64_t n, DType t, float* out);
void StoreRowF32(Memory& m, int64_t addr, int64_t n, DType t, const float* in);  // bf16: RNE
void LoadRowS32(const Memory& m, int64_t addr, int64_t n, DType t, int32_t* out);
void StoreRowS32(Memory& m, int64_t addr, int64_t n, DType t, const int32_t* in);  // s8: saturates

}  // namespace xtpu::sim
