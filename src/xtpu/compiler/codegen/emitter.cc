#include "xtpu/compiler/codegen/emitter.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "xtpu/support/check.h"

namespace xtpu::codegen {

int64_t F32Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

ProgramEmitter::ProgramEmitter(const ChipConfig& chip, int cores) : chip_(chip), cores_(cores) {
  XTPU_CHECK(cores >= 1 && cores <= chip.core.count);
  program_.cores.resize(cores);
  core_state_.resize(cores);
}

int ProgramEmitter::DmaEngines() const { return static_cast<int>(chip_.dma.engines); }
int ProgramEmitter::Mxus() const { return static_cast<int>(chip_.mxu.count); }
int ProgramEmitter::Xlus() const { return static_cast<int>(chip_.xlu.count); }
int64_t ProgramEmitter::VmemBytes() const { return chip_.vmem.bytes; }

void ProgramEmitter::BeginKernel(std::string name, std::string op, int64_t flops) {
  XTPU_CHECK(!in_kernel_);
  in_kernel_ = true;
  KernelRecord k;
  k.name = std::move(name);
  k.op = std::move(op);
  k.flops = flops;
  for (int c = 0; c < cores_; ++c) k.pc_range.push_back({Pc(c), Pc(c)});
  kernels_.push_back(std::move(k));
  for (CoreState& s : core_state_) s = CoreState{};
}

Status ProgramEmitter::EndKernel() {
  XTPU_CHECK(in_kernel_);
  in_kernel_ = false;
  // The fence semaphore is the last one; kernels allocate from 0 upward.
  const int fence = static_cast<int>(chip_.sem.count) - 1;
  for (int c = 0; c < cores_; ++c) {
    CoreState& s = core_state_[c];
    if (s.sems_used > fence) return Error("kernel '{}' uses all {} semaphores of core {}", kernels_.back().name, chip_.sem.count, c);
    int n = 0;
    for (auto [kind, unit] : s.units_touched) {
      isa::Opcode nop = kind == isa::UnitKind::kDma   ? isa::Opcode::kDmaNop
                        : kind == isa::UnitKind::kMxu ? isa::Opcode::kMxuNop
                        : kind == isa::UnitKind::kVpu ? isa::Opcode::kVpuNop
                                                      : isa::Opcode::kXluNop;
      Emit(c, nop, unit, {}, {.signal = fence});
      ++n;
    }
    DrainSem(c, fence, n);
  }
  if (cores_ > 1) {
    std::optional<isa::Opcode> barrier = isa::FindOpcode("barrier");
    if (!barrier) return Error("this ISA has no 'barrier' instruction; compile for one core");
    for (int c = 0; c < cores_; ++c) Emit(c, *barrier, 0, {});
  }
  KernelRecord& k = kernels_.back();
  for (int c = 0; c < cores_; ++c) k.pc_range[c].second = Pc(c);
  for (CoreState& s : core_state_) s = CoreState{};
  return OkStatus();
}

StatusOr<int64_t> ProgramEmitter::AllocVmem(int core, int64_t bytes, int64_t align) {
  CoreState& s = core_state_.at(core);
  int64_t at = (s.vmem_used + align - 1) / align * align;
  if (bytes < 0 || at + bytes > chip_.vmem.bytes) {
    return Error("kernel '{}': needs {} more bytes of VMEM on core {}, but only {} of {} are free",
                 kernels_.empty() ? "?" : kernels_.back().name, bytes, core,
                 std::max<int64_t>(0, chip_.vmem.bytes - at), chip_.vmem.bytes);
  }
  s.vmem_used = at + bytes;
  return at;
}

int64_t ProgramEmitter::VmemFree(int core) const { return chip_.vmem.bytes - core_state_.at(core).vmem_used; }
void ProgramEmitter::ResetVmem(int core) { core_state_.at(core).vmem_used = 0; }

StatusOr<int> ProgramEmitter::AllocSem(int core) {
  CoreState& s = core_state_.at(core);
  if (s.sems_used >= chip_.sem.count - 1)
    return Error("kernel '{}': out of semaphores on core {} ({} available)", kernels_.empty() ? "?" : kernels_.back().name,
                 core, chip_.sem.count - 1);
  return s.sems_used++;
}

Status ProgramEmitter::AllocSem(int core, int* out) {
  ASSIGN_OR_RETURN(*out, AllocSem(core));
  return OkStatus();
}

StatusOr<int> ProgramEmitter::AllocReg(int core) {
  CoreState& s = core_state_.at(core);
  if (s.regs_used >= chip_.scalar.registers)
    return Error("kernel '{}': out of scalar registers on core {}", kernels_.empty() ? "?" : kernels_.back().name, core);
  return s.regs_used++;
}

void ProgramEmitter::Touch(int core, isa::UnitKind kind, int unit) {
  if (kind == isa::UnitKind::kSeq) return;
  auto& t = core_state_.at(core).units_touched;
  for (auto& p : t)
    if (p.first == kind && p.second == unit) return;
  t.push_back({kind, unit});
}

isa::Instruction& ProgramEmitter::Emit(int core, isa::Opcode op, int unit, std::initializer_list<Arg> args, Sync sync) {
  const isa::OpInfo& info = isa::GetOpInfo(op);
  isa::Instruction inst;
  inst.opcode = op;
  // Kernels name DMA engines by role (LHS, weights, store, residual, ...);
  // a chip with fewer engines shares them in emission order, which kernels
  // keep a valid execution order (every wait's signal is emitted earlier).
  if (info.unit == isa::UnitKind::kDma && DmaEngines() > 0) unit %= DmaEngines();
  inst.unit = static_cast<uint8_t>(unit);
  inst.wait = sync.wait;
  inst.signal = sync.signal;
  std::array<bool, isa::kMaxOperands> given{};
  for (const Arg& a : args) {
    int i = info.Find(a.name);
    XTPU_CHECK(i >= 0);  // operand name exists for this opcode
    inst.ops[i] = a.value;
    given[i] = true;
  }
  for (int i = 0; i < info.num_operands; ++i) {
    if (given[i]) continue;
    XTPU_CHECK(!info.operands[i].required);  // required operand missing
    inst.ops[i] = isa::Operand{-1, info.operands[i].default_value};
  }
  Touch(core, info.unit, unit);
  auto& stream = program_.cores.at(core);
  stream.push_back(inst);
  return stream.back();
}

void ProgramEmitter::DrainSem(int core, int sem, int n) {
  for (int i = 0; i < n; ++i) Emit(core, isa::Opcode::kNop, 0, {}, {.wait = sem});
}

int ProgramEmitter::Pc(int core) const { return static_cast<int>(program_.cores.at(core).size()); }

namespace {
struct Dim {
  int64_t count, hbm, vmem;
};
}  // namespace

int ProgramEmitter::DmaRows(int core, int engine, bool load, const View& hbm, int64_t vmem, int64_t vmem_row_stride,
                            Sync sync) {
  // VMEM strides: dense row-major, or the given row stride outside the last dim.
  std::vector<int64_t> vs(hbm.rank());
  int64_t s = hbm.element_bytes();
  for (int d = hbm.rank() - 1; d >= 0; --d) {
    vs[d] = s;
    s = (d == hbm.rank() - 1 && vmem_row_stride > 0) ? vmem_row_stride : s * hbm.dims[d];
  }
  return DmaStrided(core, engine, load, hbm, vmem, vs, sync);
}

int ProgramEmitter::DmaStrided(int core, int engine, bool load, const View& hbm, int64_t vmem,
                               const std::vector<int64_t>& vmem_strides, Sync sync) {
  XTPU_CHECK(static_cast<int>(vmem_strides.size()) == hbm.rank());
  const int64_t esz = hbm.element_bytes();
  if (hbm.elements() == 0) {
    // Nothing to move; keep the semaphore protocol intact.
    if (sync.wait < 0 && sync.signal < 0) return 0;
    Emit(core, isa::Opcode::kDmaNop, engine, {}, sync);
    return 1;
  }
  // Drop unit dims and merge dims contiguous on both sides.
  std::vector<Dim> m;
  for (int d = 0; d < hbm.rank(); ++d) {
    Dim x{hbm.dims[d], hbm.strides[d], vmem_strides[d]};
    if (x.count == 1) continue;
    if (!m.empty() && m.back().hbm == x.hbm * x.count && m.back().vmem == x.vmem * x.count) {
      m.back() = {m.back().count * x.count, x.hbm, x.vmem};
    } else {
      m.push_back(x);
    }
  }
  int64_t bytes = esz;
  if (!m.empty() && m.back().hbm == esz && m.back().vmem == esz) {
    bytes = m.back().count * esz;
    m.pop_back();
  }
  // The innermost two remaining dims go in n1/n2; outer ones are unrolled.
  Dim d1{1, 0, 0}, d2{1, 0, 0};
  if (!m.empty()) {
    d1 = m.back();
    m.pop_back();
  }
  if (!m.empty()) {
    d2 = m.back();
    m.pop_back();
  }
  int64_t outer = 1;
  for (const Dim& d : m) outer *= d.count;
  if (!kernels_.empty()) kernels_.back().hbm_bytes += hbm.elements() * esz;
  std::vector<int64_t> idx(m.size(), 0);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t ho = hbm.base, vo = vmem;
    for (size_t i = 0; i < m.size(); ++i) {
      ho += idx[i] * m[i].hbm;
      vo += idx[i] * m[i].vmem;
    }
    Sync s;
    if (o == 0) s.wait = sync.wait;
    if (o == outer - 1) s.signal = sync.signal;
    if (load) {
      Emit(core, isa::Opcode::kDmaLoad, engine,
           {{"dst", vo}, {"src", ho}, {"bytes", bytes}, {"n1", d1.count}, {"ds1", d1.vmem}, {"ss1", d1.hbm},
            {"n2", d2.count}, {"ds2", d2.vmem}, {"ss2", d2.hbm}},
           s);
    } else {
      Emit(core, isa::Opcode::kDmaStore, engine,
           {{"dst", ho}, {"src", vo}, {"bytes", bytes}, {"n1", d1.count}, {"ds1", d1.hbm}, {"ss1", d1.vmem},
            {"n2", d2.count}, {"ds2", d2.hbm}, {"ss2", d2.vmem}},
           s);
    }
    for (int i = static_cast<int>(m.size()) - 1; i >= 0; --i) {
      if (++idx[i] < m[i].count) break;
      idx[i] = 0;
    }
  }
  return static_cast<int>(outer);
}

int ProgramEmitter::DmaLoad(int core, int engine, const View& src, int64_t vmem, Sync sync) {
  return DmaRows(core, engine, true, src, vmem, 0, sync);
}
int ProgramEmitter::DmaStore(int core, int engine, int64_t vmem, const View& dst, Sync sync) {
  return DmaRows(core, engine, false, dst, vmem, 0, sync);
}
int ProgramEmitter::DmaLoadRows(int core, int engine, const View& src, int64_t vmem, int64_t vmem_row_stride, Sync sync) {
  return DmaRows(core, engine, true, src, vmem, vmem_row_stride, sync);
}
int ProgramEmitter::DmaStoreRows(int core, int engine, int64_t vmem, int64_t vmem_row_stride, const View& dst,
                                 Sync sync) {
  return DmaRows(core, engine, false, dst, vmem, vmem_row_stride, sync);
}

isa::Program ProgramEmitter::TakeProgram() {
  for (int c = 0; c < cores_; ++c) Emit(c, isa::Opcode::kHalt, 0, {});
  return std::move(program_);
}

}  // namespace xtpu::codegen
