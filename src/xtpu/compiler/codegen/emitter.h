// ProgramEmitter: builds an isa::Program (one instruction stream per core)
// for code generation, kernel by kernel.
//
// A kernel is the code of one IR instruction (or fusion). Kernels run one
// after another: EndKernel() makes each core's sequencer wait until every
// unit it used has drained (a `<unit>.nop signal=` per unit, then `nop wait=`
// in the sequencer) and, when more than one core is in use, a chip-wide
// `barrier`, so the next kernel sees all results in HBM. Inside a kernel the
// emitter hands out VMEM (a bump allocator per core, reset per kernel) and
// semaphores (per core, reset per kernel).
//
// Rules for kernel emitters:
//  - Emit in dispatch order: a producer (e.g. the DMA load a matmul waits on)
//    must be emitted before its consumer, and a consumer at most
//    sequencer.queue_depth instructions of the same unit after the producer
//    it waits on can be dispatched; never make a unit wait on work that is
//    emitted later in the stream.
//  - Every semaphore must be back at 0 when the kernel ends (drain pre-credits
//    with DrainSem), because the next kernel reuses the indices.
//  - Split work over cores with Cores() (each core has its own VMEM,
//    semaphores and units; HBM is shared).
//
//   em.BeginKernel("conv1", "convolution");
//   ASSIGN_OR_RETURN(int64_t buf, em.AllocVmem(core, 4096));
//   int s = em.AllocSem(core);
//   em.DmaLoad(core, 0, view, buf, {.signal = s});
//   em.Emit(core, isa::Opcode::kMxuMatmul, 0, {{"lhs", buf}, ...}, {.wait = s});
//   RETURN_IF_ERROR(em.EndKernel());
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/codegen/view.h"
#include "xtpu/isa/isa.h"
#include "xtpu/support/status.h"

namespace xtpu::codegen {

struct Sync {
  int wait = -1;    // semaphore waited on before the instruction starts
  int signal = -1;  // semaphore signalled when it completes
};

// A named operand: {"lhs", 4096} or {"src", isa::Operand{.reg = 3, .imm = 64}}.
struct Arg {
  std::string_view name;
  isa::Operand value;
  Arg(std::string_view n, int64_t imm) : name(n), value{-1, imm} {}
  Arg(std::string_view n, isa::Operand v) : name(n), value(v) {}
};
// Raw bits of a float for kImm32 / kF32 operands.
int64_t F32Bits(float f);

// One kernel's place in the program (for per-layer reports).
struct KernelRecord {
  std::string name;  // IR instruction name
  std::string op;    // "convolution", "fusion(output: convolution+add+maximum)", ...
  int64_t flops = 0;        // useful FLOPs of the IR op (2 per MAC)
  int64_t hbm_bytes = 0;    // bytes the kernel's DMAs move to/from HBM (filled by the emitter)
  std::vector<std::pair<int, int>> pc_range;  // per core: [begin, end) of its instructions
};

class ProgramEmitter {
 public:
  // `cores`: how many of the chip's cores code generation may use.
  ProgramEmitter(const ChipConfig& chip, int cores);

  const ChipConfig& chip() const { return chip_; }
  int Cores() const { return cores_; }
  int DmaEngines() const;
  int Mxus() const;
  int Xlus() const;
  int64_t VmemBytes() const;

  // ---- kernels ----
  void BeginKernel(std::string name, std::string op, int64_t flops = 0);
  Status EndKernel();
  const std::vector<KernelRecord>& kernels() const { return kernels_; }
  std::vector<KernelRecord>& mutable_kernels() { return kernels_; }

  // ---- resources (per core, per kernel) ----
  // VMEM bytes, aligned to `align`; error naming the kernel if VMEM is full.
  StatusOr<int64_t> AllocVmem(int core, int64_t bytes, int64_t align = 64);
  int64_t VmemFree(int core) const;  // bytes still available in this kernel
  void ResetVmem(int core);          // frees all of this kernel's VMEM on `core`
  // A semaphore (error-free: XTPU_CHECK; 32 per core on the presets).
  StatusOr<int> AllocSem(int core);
  // The same into *out (for filling a kernel's semaphore fields).
  Status AllocSem(int core, int* out);
  // Sequencer register r1.. (r0 is kept 0), reset per kernel.
  StatusOr<int> AllocReg(int core);

  // ---- instructions ----
  isa::Instruction& Emit(int core, isa::Opcode op, int unit, std::initializer_list<Arg> args, Sync sync = {});
  // `n` times `nop wait=sem` in the sequencer (takes back pre-credits).
  void DrainSem(int core, int sem, int n);
  int Pc(int core) const;  // index of the next instruction of `core`

  // ---- DMA between HBM views and dense VMEM tiles ----
  // Copies `src` (any view) into VMEM at `vmem` in row-major order (dense).
  // Splits into as many DMA instructions as the view needs (up to 3 dims per
  // instruction); the first waits on sync.wait, the last signals sync.signal.
  // Returns the number of instructions emitted.
  int DmaLoad(int core, int engine, const View& src, int64_t vmem, Sync sync = {});
  // Copies a dense row-major VMEM tile with dst's dims into the view `dst`.
  int DmaStore(int core, int engine, int64_t vmem, const View& dst, Sync sync = {});
  // Like DmaLoad, but the VMEM side is strided too: row r of the (collapsed
  // 2-D) tile goes to vmem + r * vmem_row_stride (for loading into a padded
  // or wider tile). The view's last dim is the row.
  int DmaLoadRows(int core, int engine, const View& src, int64_t vmem, int64_t vmem_row_stride, Sync sync = {});
  int DmaStoreRows(int core, int engine, int64_t vmem, int64_t vmem_row_stride, const View& dst, Sync sync = {});

  // The general form: VMEM element (i0, ..., in-1) of the copy is at
  // vmem + sum_d i_d * vmem_strides[d] (bytes), one stride per dim of `hbm`.
  // Counts the bytes toward the kernel's HBM traffic.
  int DmaStrided(int core, int engine, bool load, const View& hbm, int64_t vmem,
                 const std::vector<int64_t>& vmem_strides, Sync sync = {});

  // ---- the result ----
  isa::Program& program() { return program_; }
  isa::Program TakeProgram();

 private:
  int DmaRows(int core, int engine, bool load, const View& hbm, int64_t vmem, int64_t vmem_row_stride, Sync sync);
  void Touch(int core, isa::UnitKind kind, int unit);

  ChipConfig chip_;
  int cores_;
  isa::Program program_;
  std::vector<KernelRecord> kernels_;
  bool in_kernel_ = false;
  struct CoreState {
    int64_t vmem_used = 0;
    int sems_used = 0;
    int regs_used = 1;
    std::vector<std::pair<isa::UnitKind, int>> units_touched;
  };
  std::vector<CoreState> core_state_;
};

}  // namespace xtpu::codegen
