// The functional simulator's sequencer, scheduler, deadlock detection and
// host interface (see simulator.h). Unit semantics are in exec_*.cc.
#include "xtpu/sim/simulator.h"

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "xtpu/isa/assembly.h"
#include "xtpu/sim/device.h"
#include "xtpu/support/random.h"

namespace xtpu::sim {

using isa::Instruction;
using isa::Opcode;
using isa::OperandKind;
using isa::UnitKind;

// ---- Tile bounds checks ---------------------------------------------------

Status CheckTile3(const Memory& mem, int64_t base, int64_t s1, int64_t n1, int64_t s2, int64_t n2,
                  int64_t row_bytes) {
  if (n1 < 0 || n2 < 0 || row_bytes < 0)
    return Error("negative size (rows {} x {}, {} bytes each) in {}", n2, n1, row_bytes, mem.name());
  if (n1 == 0 || n2 == 0 || row_bytes == 0) return OkStatus();
  // Row starts are affine in (i1, i2): the extremes are at the corners.
  __int128 lo = base, hi = base;
  __int128 d1 = static_cast<__int128>(s1) * (n1 - 1), d2 = static_cast<__int128>(s2) * (n2 - 1);
  lo += (d1 < 0 ? d1 : 0) + (d2 < 0 ? d2 : 0);
  hi += (d1 > 0 ? d1 : 0) + (d2 > 0 ? d2 : 0);
  hi += row_bytes;
  if (lo >= 0 && hi <= mem.size()) return OkStatus();
  int64_t bad = lo < 0 ? static_cast<int64_t>(lo) : static_cast<int64_t>(hi - row_bytes);
  if (lo < 0) return Error("address {} + {} bytes outside {} (size {:#x})", bad, row_bytes, mem.name(), mem.size());
  if (hi - row_bytes > INT64_MAX) return Error("address overflow in {}", mem.name());
  return Error("address {:#x} + {} bytes outside {} (size {:#x})", bad, row_bytes, mem.name(), mem.size());
}

Status CheckTile(const Memory& mem, int64_t base, int64_t stride, int64_t rows, int64_t row_bytes) {
  return CheckTile3(mem, base, stride, rows, 0, 1, row_bytes);
}

// ---- Program vs chip ------------------------------------------------------

Status CheckProgramForChip(const isa::Program& program, const ChipConfig& chip) {
  RETURN_IF_ERROR(isa::ValidateProgram(program));
  if (static_cast<int64_t>(program.cores.size()) > chip.core.count)
    return Error("program has {} core streams but chip '{}' has {} core(s)", program.cores.size(), chip.name,
                 chip.core.count);
  for (size_t c = 0; c < program.cores.size(); ++c) {
    for (size_t pc = 0; pc < program.cores[c].size(); ++pc) {
      const Instruction& inst = program.cores[c][pc];
      const isa::OpInfo& info = inst.info();
      auto where = [&] {
        std::string w = fmt::format("core {} pc {}", c, pc);
        if (inst.line > 0) w += fmt::format(" ({}:{})", program.source_name, inst.line);
        return w + " '" + isa::FormatInstruction(inst) + "'";
      };
      int64_t count = info.unit == UnitKind::kDma ? chip.dma.engines
                      : info.unit == UnitKind::kMxu ? chip.mxu.count
                      : info.unit == UnitKind::kXlu ? chip.xlu.count
                                                    : 1;
      if (inst.unit >= count)
        return Error("{}: chip '{}' has {} {} unit(s)", where(), chip.name, count, isa::UnitKindName(info.unit));
      auto check_sem = [&](int64_t s) -> Status {
        if (s >= chip.sem.count) return Error("{}: semaphore s{} but chip '{}' has {} (sem.count)", where(), s, chip.name, chip.sem.count);
        return OkStatus();
      };
      auto check_reg = [&](int64_t r) -> Status {
        if (r >= chip.scalar.registers)
          return Error("{}: register r{} but chip '{}' has {} (scalar.registers)", where(), r, chip.name,
                       chip.scalar.registers);
        return OkStatus();
      };
      if (inst.wait >= 0) RETURN_IF_ERROR(check_sem(inst.wait));
      if (inst.signal >= 0) RETURN_IF_ERROR(check_sem(inst.signal));
      for (int i = 0; i < info.num_operands; ++i) {
        OperandKind k = info.operands[i].kind;
        if (k == OperandKind::kSem) RETURN_IF_ERROR(check_sem(inst.ops[i].imm));
        if (k == OperandKind::kReg) RETURN_IF_ERROR(check_reg(inst.ops[i].imm));
        if (k == OperandKind::kVal && inst.ops[i].reg >= 0) RETURN_IF_ERROR(check_reg(inst.ops[i].reg));
      }
    }
  }
  for (const isa::BufferDecl& b : program.buffers) {
    int64_t size = b.mem == isa::MemSpace::kHbm ? chip.hbm.bytes : chip.vmem.bytes;
    if (b.mem == isa::MemSpace::kVmem && b.core >= chip.core.count)
      return Error("buffer '{}' is in core {}'s VMEM but chip '{}' has {} core(s)", b.name, b.core, chip.name,
                   chip.core.count);
    if (b.address + b.shape.byte_size() > size)
      return Error("buffer '{}' ({} bytes at {:#x}) does not fit in {} of chip '{}' ({})", b.name,
                   b.shape.byte_size(), b.address, b.mem == isa::MemSpace::kHbm ? "HBM" : "VMEM", chip.name,
                   FormatBytes(size));
  }
  return OkStatus();
}

// ---- Device ---------------------------------------------------------------

Device::Device(const ChipConfig& chip, const isa::Program& program, const SimOptions& options)
    : chip_(chip), program_(program), options_(options), hbm_("HBM", chip.hbm.bytes) {
  acc_rows_ = AccumulatorRows(chip);
  threads_ = options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  cores_.reserve(chip.core.count);
  for (int64_t i = 0; i < chip.core.count; ++i) {
    Core& c = cores_.emplace_back(static_cast<int>(i), chip.vmem.bytes, chip.smem.bytes);
    c.regs.assign(chip.scalar.registers, 0);
    c.sems.assign(chip.sem.count, 0);
    for (int64_t d = 0; d < chip.dma.engines; ++d) c.units.emplace_back(UnitKind::kDma, int(d), fmt::format("dma{}", d));
    for (int64_t m = 0; m < chip.mxu.count; ++m) c.units.emplace_back(UnitKind::kMxu, int(m), fmt::format("mxu{}", m));
    c.units.emplace_back(UnitKind::kVpu, 0, "vpu");
    for (int64_t x = 0; x < chip.xlu.count; ++x) c.units.emplace_back(UnitKind::kXlu, int(x), fmt::format("xlu{}", x));
    c.mxus.resize(chip.mxu.count);
    if (i < static_cast<int64_t>(program.cores.size())) {
      c.stream = &program.cores[i];
      c.loop_match = isa::MatchLoops(program.cores[i]);
    } else {
      c.halted = true;
    }
  }
  barrier_participants_ = static_cast<int>(std::min<size_t>(program.cores.size(), cores_.size()));
}

bool Device::ArriveAtBarrier(Core& c) {
  std::lock_guard<std::mutex> lock(mu_);  // other cores' threads (RunParallel)
  if (!c.at_barrier) {
    c.at_barrier = true;
    c.barrier_gen = barrier_generation_;
    if (++barrier_arrived_ == barrier_participants_) {
      ++barrier_generation_;  // the last core arrived: release everyone
      barrier_arrived_ = 0;
      // RunParallel: idle cores run again (counted as running from now, so
      // no one sees a false deadlock before they wake).
      for (Core& o : cores_) {
        if (!o.idle) continue;
        o.idle = false;
        --idle_;
        running_.fetch_add(1);
      }
      cv_.notify_all();
    }
  }
  if (barrier_generation_ == c.barrier_gen) return false;
  c.at_barrier = false;
  ++c.barriers_passed;
  return true;
}

uint32_t* Device::Accumulators(MxuState& m) {
  if (!m.acc) {
    size_t n = static_cast<size_t>(acc_rows_ * chip_.mxu.cols);
    m.acc = std::make_unique<uint32_t[]>(n);
    std::fill(m.acc.get(), m.acc.get() + n, 0u);
  }
  return m.acc.get();
}

Status Device::ChargeWork(int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0) return Error("negative tile size {} x {}", rows, cols);
  __int128 n = (static_cast<__int128>(rows) + 1) * (static_cast<__int128>(cols) + 1);
  if (n > (__int128{1} << 62)) return Error("tile of {} x {} is too large", rows, cols);
  return ChargeWork(static_cast<int64_t>(n));
}

Status Device::ChargeWork(int64_t n) {
  if (options_.max_work <= 0) return OkStatus();
  if (n < 0 || n > options_.max_work - work_) return Error("work budget of {} exceeded (SimOptions::max_work)", options_.max_work);
  work_ += n;
  return OkStatus();
}

std::string Device::Where(const Core& c, std::string_view unit, int pc) const {
  const Instruction& inst = (*c.stream)[pc];
  std::string w = fmt::format("core {} unit {} pc {}", c.id, unit, pc);
  if (inst.line > 0) w += fmt::format(" ({}:{})", program_.source_name, inst.line);
  return w;
}

// Appends to SimOptions::dispatch_log (the timing model's input).
static void LogDispatch(DispatchLog& log, const Core& c, const Instruction& inst,
                        const std::array<int64_t, isa::kMaxOperands>& v) {
  if (static_cast<int>(log.size()) <= c.id) log.resize(c.id + 1);
  log[c.id].push_back({c.pc, inst.opcode, inst.unit, inst.wait, inst.signal, v});
}

Unit& Device::UnitFor(Core& c, const Instruction& inst) {
  UnitKind k = inst.info().unit;
  int base = k == UnitKind::kDma   ? 0
             : k == UnitKind::kMxu ? static_cast<int>(chip_.dma.engines)
             : k == UnitKind::kVpu ? static_cast<int>(chip_.dma.engines + chip_.mxu.count)
                                   : static_cast<int>(chip_.dma.engines + chip_.mxu.count + 1);
  return c.units[base + inst.unit];
}

StatusOr<bool> Device::RunSequencer(Core& c) {
  bool progress = false;
  const auto& stream = *c.stream;
  while (!c.halted) {
    if (c.pc >= static_cast<int>(stream.size())) {
      c.halted = true;  // falling off the end is an implicit halt
      return true;
    }
    if (options_.max_steps > 0 && ++steps_ > options_.max_steps)
      return Error("{}: step budget of {} instructions exceeded (SimOptions::max_steps)", Where(c, "seq", c.pc),
                   options_.max_steps);
    const Instruction& inst = stream[c.pc];
    const isa::OpInfo& info = inst.info();
    if (info.unit != UnitKind::kSeq) {
      Unit& u = UnitFor(c, inst);
      if (static_cast<int64_t>(u.queue.size()) >= chip_.sequencer.queue_depth) break;
      Resolved r;
      r.pc = c.pc;
      r.inst = &inst;
      for (int i = 0; i < info.num_operands; ++i) {
        const isa::Operand& o = inst.ops[i];
        uint64_t base = o.reg >= 0 ? static_cast<uint64_t>(c.regs[o.reg]) : 0;
        r.v[i] = static_cast<int64_t>(base + static_cast<uint64_t>(o.imm));
      }
      u.queue.push_back(r);
      if (options_.dispatch_log) LogDispatch(*options_.dispatch_log, c, inst, r.v);
      ++c.pc;
      progress = true;
      continue;
    }
    if (inst.wait >= 0 && !c.seq_acquired) {
      if (c.sems[inst.wait] <= 0) break;
      --c.sems[inst.wait];
      c.seq_acquired = true;
    }
    if (inst.opcode == Opcode::kBarrier && !ArriveAtBarrier(c)) break;
    auto val = [&](int i) {
      const isa::Operand& o = inst.ops[i];
      uint64_t base = o.reg >= 0 ? static_cast<uint64_t>(c.regs[o.reg]) : 0;
      return static_cast<int64_t>(base + static_cast<uint64_t>(o.imm));
    };
    auto reg = [&](int i) -> int64_t& { return c.regs[inst.ops[i].imm]; };
    auto wrap = [](uint64_t x) { return static_cast<int64_t>(x); };
    int next = c.pc + 1;
    switch (inst.opcode) {
      case Opcode::kNop:
      case Opcode::kBarrier: break;
      case Opcode::kHalt: c.halted = true; break;
      case Opcode::kSet: reg(0) = val(1); break;
      case Opcode::kAdd: reg(0) = wrap(uint64_t(reg(1)) + uint64_t(val(2))); break;
      case Opcode::kSub: reg(0) = wrap(uint64_t(reg(1)) - uint64_t(val(2))); break;
      case Opcode::kMul: reg(0) = wrap(uint64_t(reg(1)) * uint64_t(val(2))); break;
      case Opcode::kLd: {
        int64_t a = val(1);
        Status s = c.smem.Check(a, 8);
        if (!s.ok()) return s.WithPrefix(Where(c, "seq", c.pc));
        c.smem.Read(a, &reg(0), 8);
        break;
      }
      case Opcode::kSt: {
        int64_t a = val(1);
        Status s = c.smem.Check(a, 8);
        if (!s.ok()) return s.WithPrefix(Where(c, "seq", c.pc));
        c.smem.Write(a, &reg(0), 8);
        break;
      }
      case Opcode::kLoop: {
        int64_t count = val(1);
        reg(0) = 0;
        if (count <= 0) next = c.loop_match[c.pc] + 1;
        else c.loops.push_back({c.pc + 1, static_cast<int>(inst.ops[0].imm), count, 0});
        break;
      }
      case Opcode::kEndLoop: {
        XTPU_CHECK(!c.loops.empty());
        LoopFrame& f = c.loops.back();
        // The trip counter lives in the loop frame; rc is rewritten from it.
        if (++f.i < f.count) {
          c.regs[f.reg] = f.i;
          next = f.body_pc;
        } else {
          c.loops.pop_back();
        }
        break;
      }
      case Opcode::kSemAdd: {
        int64_t s = inst.ops[0].imm;
        int64_t n = val(1);
        if (n < -(int64_t{1} << 40) || n > (int64_t{1} << 40) || c.sems[s] + n < 0 || c.sems[s] + n > (int64_t{1} << 40))
          return Error("{}: sem.add s{} by {} takes the count from {} out of range", Where(c, "seq", c.pc), s, n,
                       c.sems[s]);
        c.sems[s] += n;
        break;
      }
      default: XTPU_CHECK(false);
    }
    if (inst.signal >= 0) ++c.sems[inst.signal];
    if (options_.dispatch_log) {
      std::array<int64_t, isa::kMaxOperands> v{};
      for (int i = 0; i < info.num_operands; ++i) v[i] = val(i);
      LogDispatch(*options_.dispatch_log, c, inst, v);
    }
    c.seq_acquired = false;
    ++c.seq_executed;
    c.pc = next;
    progress = true;
  }
  return progress;
}

StatusOr<bool> Device::RunUnit(Core& c, Unit& u) {
  bool progress = false;
  while (!u.queue.empty()) {
    Resolved& r = u.queue.front();
    const Instruction& inst = *r.inst;
    if (inst.wait >= 0 && !r.acquired) {
      if (c.sems[inst.wait] <= 0) break;
      --c.sems[inst.wait];
      r.acquired = true;
    }
    if (options_.max_steps > 0 && ++steps_ > options_.max_steps)
      return Error("{}: step budget of {} instructions exceeded (SimOptions::max_steps)", Where(c, u.name, r.pc),
                   options_.max_steps);
    Status s = Execute(c, u, r);
    if (!s.ok())
      return Status::Error(
          fmt::format("{} '{}': {}", Where(c, u.name, r.pc), isa::FormatInstruction(inst), s.message()), s.code());
    if (inst.signal >= 0) ++c.sems[inst.signal];
    ++u.executed;
    u.queue.pop_front();
    progress = true;
  }
  return progress;
}

Status Device::Execute(Core& c, Unit& u, const Resolved& r) {
  switch (r.inst->opcode) {
    case Opcode::kDmaNop:
    case Opcode::kMxuNop:
    case Opcode::kVpuNop:
    case Opcode::kXluNop: return OkStatus();
    default: break;
  }
  switch (u.kind) {
    case UnitKind::kDma: return ExecDma(*this, c, r);
    case UnitKind::kMxu: return ExecMxu(*this, c, u.index, r);
    case UnitKind::kVpu: return ExecVpu(*this, c, r);
    case UnitKind::kXlu: return ExecXlu(*this, c, r);
    case UnitKind::kSeq: break;
  }
  XTPU_CHECK(false);
  return OkStatus();
}

std::string Device::BarrierWaitText(const Core& c) const {
  std::string missing;
  for (const Core& o : cores_) {
    if (!o.stream || o.at_barrier) continue;
    missing += missing.empty() ? "" : ", ";
    if (o.halted)
      missing += fmt::format("core {} (halted after {} barrier(s))", o.id, o.barriers_passed);
    else
      missing += fmt::format("core {} (at pc {})", o.id, o.pc);
  }
  return fmt::format("waits at barrier {} for {}", c.barriers_passed, missing);
}

Status Device::DeadlockError() {
  std::string msg = "deadlock: no unit can make progress; waiting:";
  auto sem_text = [](const Core& c, int s) { return fmt::format("s{} (value {})", s, c.sems[s]); };
  for (Core& c : cores_) {
    if (!c.halted && c.pc < static_cast<int>(c.stream->size())) {
      const Instruction& inst = (*c.stream)[c.pc];
      msg += "\n  " + Where(c, "seq", c.pc) + " '" + isa::FormatInstruction(inst) + "': ";
      if (inst.info().unit != UnitKind::kSeq)
        msg += fmt::format("queue of {} is full ({} entries, sequencer.queue_depth)", UnitFor(c, inst).name,
                           chip_.sequencer.queue_depth);
      else if (c.at_barrier)
        msg += BarrierWaitText(c);
      else
        msg += "waits on " + sem_text(c, inst.wait);
    }
    for (Unit& u : c.units) {
      if (u.queue.empty()) continue;
      const Resolved& r = u.queue.front();
      msg += "\n  " + Where(c, u.name, r.pc) + " '" + isa::FormatInstruction(*r.inst) + "': waits on " +
             sem_text(c, r.inst->wait);
    }
  }
  return Error("{}", msg);
}

Status Device::Run() {
  std::vector<Core*> active;
  for (Core& c : cores_)
    if (c.stream && !c.stream->empty()) active.push_back(&c);
  const bool parallel = threads_ >= 2 && active.size() >= 2 && options_.max_steps <= 0 && options_.max_work <= 0;
  Status s = parallel ? RunParallel(active) : RunSerial();
  CollectStats(/*instructions=*/s.ok());  // (counts so far also after a fault)
  return s;
}

Status Device::RunSerial() {
  for (;;) {
    bool progress = false;
    bool done = true;
    for (Core& c : cores_) {
      if (!c.stream) continue;
      ASSIGN_OR_RETURN(bool p, RunSequencer(c));
      progress |= p;
      for (Unit& u : c.units) {
        ASSIGN_OR_RETURN(bool q, RunUnit(c, u));
        progress |= q;
      }
      if (!c.halted) done = false;
      for (Unit& u : c.units)
        if (!u.queue.empty()) done = false;
    }
    if (done) break;
    if (!progress) return DeadlockError();
    if (options_.cancel && options_.cancel())
      return Status::Error("simulation cancelled", StatusCode::kCancelled);
  }
  return OkStatus();
}

// One host thread per core; the calling thread runs the first (and alone
// polls SimOptions::cancel). Cores share only HBM and the barriers:
// semaphores, registers and SMEM are per core, so a core that cannot make
// progress waits for the next barrier release, the only event another core
// can cause that unblocks it. When no core is running and some wait, nothing
// can change: a deadlock, reported from that quiet state exactly as
// RunSerial reports it. A correctly synchronized program computes the same
// values, stats and dispatch log as with RunSerial (the functional
// simulator's promise); the MXU kernels get the host threads of idle cores.
Status Device::RunParallel(const std::vector<Core*>& cores) {
  if (options_.dispatch_log && static_cast<int>(options_.dispatch_log->size()) <= cores.back()->id)
    options_.dispatch_log->resize(cores.back()->id + 1);  // each core's thread appends to its own log
  parallel_ = true;
  running_.store(static_cast<int>(cores.size()));
  std::vector<Status> errors(cores.size());
  auto fail = [&](size_t i, Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    errors[i] = std::move(st);
    abort_.store(true);
    cv_.notify_all();
  };
  auto work = [&](size_t i) {
    Core& c = *cores[i];
    const bool main = i == 0;
    auto cancelled = [&] { return main && options_.cancel && options_.cancel(); };
    for (;;) {
      if (abort_.load(std::memory_order_relaxed)) return;
      // A release after this point (while this core runs) is not missed.
      const int64_t seen = barrier_generation_.load();
      bool progress = false;
      StatusOr<bool> p = RunSequencer(c);
      if (!p.ok()) return fail(i, p.status());
      progress |= *p;
      for (Unit& u : c.units) {
        StatusOr<bool> q = RunUnit(c, u);
        if (!q.ok()) return fail(i, q.status());
        progress |= *q;
      }
      bool done = c.halted;
      for (Unit& u : c.units)
        if (!u.queue.empty()) done = false;
      if (cancelled()) return fail(i, Status::Error("simulation cancelled", StatusCode::kCancelled));
      if (done || !progress) {
        std::unique_lock<std::mutex> lock(mu_);
        if (!done && barrier_generation_.load() != seen) continue;  // released meanwhile: run again
        running_.fetch_sub(1);
        if (!done) {
          c.idle = true;
          ++idle_;
        }
        if (running_.load() == 0) {
          deadlock_ = idle_ > 0;
          cv_.notify_all();  // (a main thread waiting for the others to finish)
        }
        if (done && !main) return;
        // Wait for a barrier release (idle), or for the others (the main
        // thread when done), polling the cancel hook now and then.
        for (;;) {
          if (abort_.load() || deadlock_) return;
          if (!done && !c.idle) break;  // released (and counted as running again)
          if (done && running_.load() == 0 && idle_ == 0) return;
          if (main && options_.cancel) {
            cv_.wait_for(lock, std::chrono::milliseconds(20));
            lock.unlock();
            bool stop = cancelled();
            lock.lock();
            if (stop) {
              abort_.store(true);
              errors[i] = Status::Error("simulation cancelled", StatusCode::kCancelled);
              cv_.notify_all();
              return;
            }
          } else {
            cv_.wait(lock);
          }
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t i = 1; i < cores.size(); ++i) threads.emplace_back(work, i);
  work(0);
  for (auto& t : threads) t.join();
  parallel_ = false;
  for (Status& e : errors)
    if (!e.ok()) return e;  // the first core's (in core order) if several failed
  if (deadlock_) return DeadlockError();
  return OkStatus();
}

void Device::CollectStats(bool instructions) {
  for (Core& c : cores_) {
    if (!c.stream) continue;
    if (instructions) {
      stats_.instructions[fmt::format("core{}.seq", c.id)] = c.seq_executed;
      stats_.sequencer_steps += c.seq_executed;
      for (Unit& u : c.units) stats_.instructions[fmt::format("core{}.{}", c.id, u.name)] = u.executed;
    }
    const SimStats& s = c.stats;
    stats_.hbm_read_bytes += s.hbm_read_bytes, stats_.hbm_write_bytes += s.hbm_write_bytes;
    stats_.vmem_read_bytes += s.vmem_read_bytes, stats_.vmem_write_bytes += s.vmem_write_bytes;
    stats_.acc_read_bytes += s.acc_read_bytes, stats_.acc_write_bytes += s.acc_write_bytes;
    stats_.weight_load_bytes += s.weight_load_bytes;
    stats_.mxu_flops += s.mxu_flops;
    stats_.vpu_ops += s.vpu_ops;
    stats_.xlu_ops += s.xlu_ops;
  }
}

// ---- Stats ----------------------------------------------------------------

nlohmann::json SimStats::ToJson() const {
  nlohmann::json j;
  j["instructions"] = instructions;
  j["sequencer_steps"] = sequencer_steps;
  j["bytes"] = {{"hbm_read", hbm_read_bytes},   {"hbm_write", hbm_write_bytes}, {"vmem_read", vmem_read_bytes},
                {"vmem_write", vmem_write_bytes}, {"acc_read", acc_read_bytes},   {"acc_write", acc_write_bytes},
                {"weight_load", weight_load_bytes}};
  j["mxu_flops"] = mxu_flops;
  j["vpu_ops"] = vpu_ops;
  j["xlu_ops"] = xlu_ops;
  return j;
}

// ---- Simulator ------------------------------------------------------------

Simulator::Simulator(const ChipConfig& chip, const isa::Program& program, SimOptions options)
    : chip_(chip), program_(program), options_(options) {}

Simulator::~Simulator() = default;

Status Simulator::SetBuffer(const std::string& name, Literal&& value) {
  const isa::BufferDecl* b = program_.FindBuffer(name);
  if (b && !device_ && value.shape().dims == b->shape.dims && value.dtype() == b->shape.dtype) {
    mapped_.erase(name);
    given_[name] = std::move(value);
    return OkStatus();
  }
  return SetBuffer(name, static_cast<const Literal&>(value));
}

Status Simulator::SetBuffer(const std::string& name, const Literal& value) {
  const isa::BufferDecl* b = program_.FindBuffer(name);
  if (!b) return NotFound("program has no buffer '{}'", name);
  if (device_) return Error("buffer '{}' set after Run", name);
  if (value.shape().dims != b->shape.dims)
    return Error("buffer '{}' is {} but the value given is {}", name, b->shape.ToString(), value.shape().ToString());
  mapped_.erase(name);
  if (value.dtype() == b->shape.dtype) {
    given_[name] = value;
    return OkStatus();
  }
  Literal conv(b->shape);
  int64_t n = value.num_elements();
  if (IsFloat(value.dtype()) && IsFloat(b->shape.dtype)) {
    if (value.dtype() == DType::kF32 && b->shape.dtype == DType::kBF16) {
      const float* src = value.data<float>();
      auto* dst = conv.data<bf16>();
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16::FromFloat(src[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) conv.SetFromDouble(i, value.GetAsDouble(i));
    }
  } else if (IsInteger(value.dtype()) && IsInteger(b->shape.dtype)) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = value.GetAsInt64(i);
      conv.SetFromInt64(i, v);
      if (conv.GetAsInt64(i) != v)
        return Error("buffer '{}' is {}: value {} at element {} does not fit", name, b->shape.ToString(), v, i);
    }
  } else {
    return Error("buffer '{}' is {} but the value given is {} (no implicit float/int conversion)", name,
                 b->shape.ToString(), value.shape().ToString());
  }
  given_[name] = std::move(conv);
  return OkStatus();
}

Status Simulator::MapBuffer(const std::string& name, std::string_view bytes) {
  const isa::BufferDecl* b = program_.FindBuffer(name);
  if (!b) return NotFound("program has no buffer '{}'", name);
  if (device_) return Error("buffer '{}' set after Run", name);
  if (static_cast<int64_t>(bytes.size()) != b->shape.byte_size())
    return Error("buffer '{}' is {} ({} bytes) but {} bytes were given", name, b->shape.ToString(),
                 b->shape.byte_size(), bytes.size());
  given_.erase(name);
  mapped_[name] = bytes;
  return OkStatus();
}

static Memory& BufferMemory(Device& d, const isa::BufferDecl& b) {
  return b.mem == isa::MemSpace::kHbm ? d.hbm() : d.core(b.core).vmem;
}

Status Simulator::Run() {
  if (device_) return Error("Simulator::Run called twice");
  RETURN_IF_ERROR(CheckProgramForChip(program_, chip_));
  device_ = std::make_unique<Device>(chip_, program_, options_);
  for (size_t i = 0; i < program_.buffers.size(); ++i) {
    const isa::BufferDecl& b = program_.buffers[i];
    if (options_.timing_only) break;  // no values
    Memory& mem = BufferMemory(*device_, b);
    auto it = given_.find(b.name);
    auto mit = mapped_.find(b.name);
    if (it != given_.end()) {
      mem.Write(b.address, it->second.bytes().data(), b.shape.byte_size());
    } else if (mit != mapped_.end()) {
      mem.MapReadOnly(b.address, mit->second.data(), b.shape.byte_size());
    } else if (b.role == isa::BufferRole::kInput || b.role == isa::BufferRole::kInOut) {
      Rng rng(DeriveSeed(options_.seed, i));
      Literal lit = RandomLiteral(b.shape, rng);
      mem.Write(b.address, lit.bytes().data(), b.shape.byte_size());
    }
  }
  return device_->Run();
}

StatusOr<Literal> Simulator::GetBuffer(const std::string& name) const {
  const isa::BufferDecl* b = program_.FindBuffer(name);
  if (!b) return NotFound("program has no buffer '{}'", name);
  if (!device_) {
    auto it = given_.find(name);
    if (it != given_.end()) return it->second;
    if (auto mit = mapped_.find(name); mit != mapped_.end())
      return Literal(b->shape, std::vector<uint8_t>(mit->second.begin(), mit->second.end()));
    return Error("buffer '{}' read before Run", name);
  }
  if (options_.timing_only) return Error("buffer '{}': a timing-only run computes no values", name);
  Literal lit(b->shape);
  BufferMemory(*device_, *b).Read(b->address, lit.mutable_bytes().data(), b->shape.byte_size());
  return lit;
}

const SimStats& Simulator::stats() const {
  static const SimStats kEmpty;
  return device_ ? device_->stats() : kEmpty;
}

}  // namespace xtpu::sim
