// The event-driven timing engine (see timing_model.h and docs/timing.md).
//
// Time is continuous (double cycles) but every fixed latency is whole cycles;
// only bandwidth sharing makes times fractional. Between two events nothing
// changes: each streaming instruction progresses at a constant rate in
// (0, 1] of its full speed, from max-min fair shares of the memories it uses.
#include "xtpu/sim/timing/timing_model.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <queue>

#include "xtpu/sim/timing/unit_models.h"
#include "xtpu/support/check.h"

namespace xtpu::sim::timing {

using isa::Opcode;
using isa::UnitKind;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = 1e-7;

// Whether two MXU instructions (matmul, read_acc) touch common accumulator rows.
// (On entries: their accumulator rows are read from the record once, at
// dispatch; operand lookups by name are too slow for this inner loop.)
struct AccRows {
  int64_t lo = 0, hi = 0;
};
bool AccRowsOverlap(const AccRows& a, const AccRows& b) { return a.lo < b.hi && b.lo < a.hi; }

// kWaitStream: a DMA transfer whose latency has passed but whose engine is
// still moving an earlier transfer's data.
enum class Phase : uint8_t { kHead, kWaitStream, kStream, kTail, kDone };
enum class Block : uint8_t { kNone, kSemaphore, kDependency, kQueueEmpty, kIdle, kBarrier };

struct Entry {
  int rec = 0;          // index into the core's log
  double avail = 0;     // cycle from which the unit sees it
  bool started = false;
  Phase phase = Phase::kHead;
  double phase_end = 0;  // for kHead / kTail
  double remaining = 0;  // for kStream, in full-speed cycles
  double rate = 1;
  int limit = 0;  // 0 none, 1 HBM, 2 VMEM: what slowed the stream
  Cost cost;
  double start = 0, end = 0;
  int wbuf = -1;  // MXU weight buffer loaded (load) or used (matmul)
  AccRows acc;    // matmul, read_acc: accumulator rows [lo, hi)
  int pipe = 0;   // InstructionCost's pipe, known at dispatch
  bool matmul = false;  // counted in UnitState::streaming_users while streaming
};

struct UnitState {
  UnitKind kind;
  int index = 0;
  std::string name;
  int track = 0;  // trace tid
  std::deque<Entry> queue;  // dispatched, not yet retired
  size_t next = 0;          // first entry not started
  int64_t total = 0;        // instructions the log gives this unit
  int64_t started = 0;
  Block block = Block::kIdle;
  double last_start = -1;
  UnitTiming t;
  // MXU
  int64_t k = 0, n = 0;
  int64_t loads = 0;
  std::vector<int> streaming_users;  // per weight buffer: matmuls still streaming
};

struct SeqState {
  size_t pos = 0;
  double free_at = 0;
  bool acquired = false;
  Block block = Block::kIdle;
  bool queue_full = false;
  bool at_barrier = false;  // arrived at a barrier, not yet released
  int64_t barrier_gen = 0;  // the barrier generation it arrived in
  double barrier_arrival = 0;
};

struct CoreState {
  std::vector<UnitState> units;  // dma.., mxu.., vpu, xlu..
  std::vector<int64_t> sems;
  SeqState seq;
};

struct PendingSignal {
  double time;
  int core, sem;
  bool operator>(const PendingSignal& o) const { return time > o.time; }
};

class Engine {
 public:
  Engine(const ChipConfig& chip, const DispatchLog& log, TimingOptions options)
      : chip_(chip), log_(log), options_(options) {
    cores_.resize(log.size());
    for (size_t c = 0; c < log.size(); ++c) {
      CoreState& cs = cores_[c];
      cs.sems.assign(chip.sem.count, 0);
      for (int64_t d = 0; d < chip.dma.engines; ++d) cs.units.push_back(MakeUnit(UnitKind::kDma, d));
      for (int64_t m = 0; m < chip.mxu.count; ++m) cs.units.push_back(MakeUnit(UnitKind::kMxu, m));
      cs.units.push_back(MakeUnit(UnitKind::kVpu, 0));
      for (int64_t x = 0; x < chip.xlu.count; ++x) cs.units.push_back(MakeUnit(UnitKind::kXlu, x));
      for (size_t i = 0; i < cs.units.size(); ++i) cs.units[i].track = static_cast<int>(i) + 1;
      for (const DispatchRecord& r : log[c]) {
        if (isa::GetOpInfo(r.opcode).unit != UnitKind::kSeq) ++UnitOf(cs, r).total, ++total_;
      }
      if (!log[c].empty()) ++barrier_participants_;
    }
  }

  StatusOr<TimingResult> Run();

 private:
  UnitState MakeUnit(UnitKind k, int64_t i) {
    UnitState u;
    u.kind = k;
    u.index = static_cast<int>(i);
    u.name = isa::UnitName(k, static_cast<int>(i));
    if (k == UnitKind::kMxu) u.streaming_users.assign(std::max<int64_t>(1, chip_.mxu.weight_buffers), 0);
    return u;
  }
  UnitState& UnitOf(CoreState& cs, const DispatchRecord& r) {
    UnitKind k = isa::GetOpInfo(r.opcode).unit;
    size_t base = k == UnitKind::kDma   ? 0
                  : k == UnitKind::kMxu ? chip_.dma.engines
                  : k == UnitKind::kVpu ? chip_.dma.engines + chip_.mxu.count
                                        : chip_.dma.engines + chip_.mxu.count + 1;
    return cs.units[base + r.unit];
  }
  bool StepSequencer(int c);
  bool TryStart(int c, UnitState& u);
  void EnterPhase(Entry& e, Phase p);
  void Retire(int c, UnitState& u);
  void ComputeRates();
  void Account(double dt);
  bool Finished() const;
  std::string DeadlockMessage() const;

  const ChipConfig& chip_;
  const DispatchLog& log_;
  TimingOptions options_;
  std::vector<CoreState> cores_;
  std::priority_queue<PendingSignal, std::vector<PendingSignal>, std::greater<>> signals_;
  double now_ = 0;
  TimingResult result_;
  int64_t retired_ = 0, total_ = 0;  // unit instructions, for TimingOptions::progress
  int64_t rounds_ = 0;
  // Barriers: every core with a non-empty log takes part (the functional run
  // already checked that they all reach the same barriers).
  int barrier_participants_ = 0;
  int barrier_arrived_ = 0;
  int64_t barrier_gen_ = 0;     // barriers released so far
  double barrier_release_ = 0;  // when the last released barrier lets its cores go on
};

bool Engine::StepSequencer(int c) {
  CoreState& cs = cores_[c];
  SeqState& s = cs.seq;
  s.queue_full = false;
  if (s.pos >= log_[c].size()) {
    s.block = Block::kIdle;
    return false;
  }
  if (s.free_at > now_ + kEps) return false;
  const DispatchRecord& r = log_[c][s.pos];
  double done = now_ + 1;  // when the sequencer can issue its next instruction
  if (isa::GetOpInfo(r.opcode).unit != UnitKind::kSeq) {
    UnitState& u = UnitOf(cs, r);
    if (static_cast<int64_t>(u.queue.size()) >= chip_.sequencer.queue_depth) {
      s.queue_full = true;
      return false;
    }
    Entry e;
    e.rec = static_cast<int>(s.pos);
    e.avail = now_ + 1;
    if (r.opcode == Opcode::kMxuMatmul || r.opcode == Opcode::kMxuReadAcc) e.acc = {r["acc"], r["acc"] + r["m"]};
    e.pipe = InstructionCost(chip_, r, 0, 0).pipe;
    u.queue.push_back(e);
  } else {
    if (r.wait >= 0 && !s.acquired) {
      if (cs.sems[r.wait] <= 0) {
        s.block = Block::kSemaphore;
        return false;
      }
      --cs.sems[r.wait];
      s.acquired = true;
    }
    double start = now_;
    if (r.opcode == Opcode::kBarrier) {
      if (!s.at_barrier) {
        s.at_barrier = true;
        s.barrier_gen = barrier_gen_;
        s.barrier_arrival = now_;
        if (++barrier_arrived_ == barrier_participants_) {
          // The last core arrived: everyone goes on after the sync latency.
          ++barrier_gen_;
          barrier_arrived_ = 0;
          barrier_release_ = now_ + 1 + kBarrierSyncCycles;
        }
      }
      if (s.barrier_gen == barrier_gen_) {
        s.block = Block::kBarrier;
        return false;
      }
      s.at_barrier = false;
      start = s.barrier_arrival;
      done = barrier_release_;
    }
    if (r.opcode == Opcode::kSemAdd) cs.sems[r.v[0]] += r.v[1];
    if (r.signal >= 0) signals_.push({done, c, r.signal});
    if (options_.record_instructions && options_.trace_sequencer)
      result_.instructions.push_back({c, "seq", 0, r.pc, r.opcode, start, done, 0, 0});
  }
  s.free_at = done;
  s.block = Block::kNone;
  s.acquired = false;
  ++s.pos;
  return true;
}

void Engine::EnterPhase(Entry& e, Phase p) {
  e.phase = p;
  if (p == Phase::kHead && e.cost.head <= 0) p = e.phase = Phase::kStream;
  if (p == Phase::kStream && e.cost.stream <= 0) p = e.phase = Phase::kTail;
  if (p == Phase::kTail && e.cost.tail <= 0) p = e.phase = Phase::kDone;
  if (p == Phase::kHead) e.phase_end = now_ + e.cost.head;
  if (p == Phase::kStream) e.remaining = e.cost.stream, e.rate = 1;
  if (p == Phase::kTail) e.phase_end = now_ + e.cost.tail;
  if (p == Phase::kDone) e.end = now_;
}

bool Engine::TryStart(int c, UnitState& u) {
  CoreState& cs = cores_[c];
  if (u.next >= u.queue.size()) {
    u.block = u.started < u.total ? Block::kQueueEmpty : Block::kIdle;
    return false;
  }
  Entry& e = u.queue[u.next];
  const DispatchRecord& r = log_[c][e.rec];
  if (e.avail > now_ + kEps) {
    u.block = Block::kQueueEmpty;
    return false;
  }
  // Issue: at most one instruction per cycle. DMA engines are pipelined
  // (transfers' latencies overlap; their data moves in order, see
  // AdvanceWaitingStreams); other units' pipes are busy during head + stream
  // and overlap only the tail (systolic drain, VPU pipeline).
  if (u.last_start + 1 > now_ + kEps) {
    u.block = Block::kDependency;
    return false;
  }
  for (size_t i = 0; i < u.next && u.kind != UnitKind::kDma; ++i) {
    const Entry& p = u.queue[i];
    bool pipe_busy = p.phase == Phase::kHead || p.phase == Phase::kStream;
    if (pipe_busy && p.cost.pipe == e.pipe) {
      u.block = Block::kDependency;
      return false;
    }
  }
  if (u.kind == UnitKind::kMxu) {
    int nbuf = static_cast<int>(u.streaming_users.size());
    bool dep = false;
    if (r.opcode == Opcode::kMxuLoadWeights || r.opcode == Opcode::kMxuFetchWeights) {
      // The shadow buffer must no longer feed a streaming matmul.
      dep = u.streaming_users[u.loads % nbuf] > 0;
    } else if (r.opcode == Opcode::kMxuMatmul) {
      // Its weights (the last load before it) must be in the array, and an
      // earlier read_acc of the rows it writes must have finished.
      for (size_t i = 0; i < u.next; ++i) {
        const Entry& p = u.queue[i];
        if (p.phase == Phase::kDone) continue;
        const DispatchRecord& pr = log_[c][p.rec];
        Opcode po = pr.opcode;
        if (po == Opcode::kMxuLoadWeights || po == Opcode::kMxuFetchWeights) dep = true;
        if (po == Opcode::kMxuReadAcc && AccRowsOverlap(p.acc, e.acc)) dep = true;
      }
    } else if (r.opcode == Opcode::kMxuReadAcc) {
      // Earlier matmuls into the rows it reads must have written them.
      for (size_t i = 0; i < u.next; ++i) {
        const Entry& p = u.queue[i];
        if (p.phase != Phase::kDone && log_[c][p.rec].opcode == Opcode::kMxuMatmul && AccRowsOverlap(p.acc, e.acc))
          dep = true;
      }
    }
    if (dep) {
      u.block = Block::kDependency;
      return false;
    }
  }
  if (r.wait >= 0) {
    if (cs.sems[r.wait] <= 0) {
      u.block = Block::kSemaphore;
      return false;
    }
    --cs.sems[r.wait];
  }
  // Start.
  Cost cost;
  if (u.kind == UnitKind::kMxu) {
    int nbuf = static_cast<int>(u.streaming_users.size());
    if (r.opcode == Opcode::kMxuLoadWeights || r.opcode == Opcode::kMxuFetchWeights) {
      e.wbuf = static_cast<int>(u.loads % nbuf);
      ++u.loads;
      u.k = std::max<int64_t>(0, r["k"]);
      u.n = std::max<int64_t>(0, r["n"]);
    } else if (r.opcode == Opcode::kMxuMatmul) {
      e.wbuf = static_cast<int>((u.loads + nbuf - 1) % nbuf);
      ++u.streaming_users[e.wbuf];
      e.matmul = true;
    }
  }
  cost = InstructionCost(chip_, r, u.k, u.n);
  e.cost = cost;
  e.started = true;
  e.start = now_;
  u.last_start = now_;
  EnterPhase(e, Phase::kHead);
  if (e.phase == Phase::kStream && u.kind == UnitKind::kDma) e.phase = Phase::kWaitStream;
  if (e.matmul && e.phase != Phase::kStream) {
    --u.streaming_users[e.wbuf];
    e.matmul = false;
  }
  ++u.next;
  ++u.started;
  u.block = Block::kNone;
  return true;
}

void Engine::Retire(int c, UnitState& u) {
  while (!u.queue.empty() && u.queue.front().started && u.queue.front().phase == Phase::kDone) {
    const Entry& e = u.queue.front();
    const DispatchRecord& r = log_[c][e.rec];
    if (r.signal >= 0) ++cores_[c].sems[r.signal];  // in order, at retirement
    ++u.t.instructions;
    ++retired_;
    result_.stats.hbm_bytes += e.cost.hbm_bytes;
    result_.stats.vmem_bytes += e.cost.vmem_bytes;
    result_.stats.mxu_flops += e.cost.flops;
    if (options_.record_instructions)
      result_.instructions.push_back({c, u.name, u.track, r.pc, r.opcode, e.start, e.end,
                                      std::max(e.cost.hbm_bytes, e.cost.vmem_bytes), e.cost.flops,
                                      e.cost.hbm_bytes, e.cost.vmem_bytes, e.cost.elements});
    u.queue.pop_front();
    --u.next;
  }
}

// Max-min fair shares of each memory; a stream runs at the smallest fraction
// of its full-speed demand that any of its memories grants.
void Engine::ComputeRates() {
  struct Flow {
    Entry* e;
    double demand;
  };
  auto share = [](std::vector<Flow>& flows, double capacity, int which) {
    double total = 0;
    for (const Flow& f : flows) total += f.demand;
    if (total <= capacity * (1 + 1e-12)) return;
    std::sort(flows.begin(), flows.end(), [](const Flow& a, const Flow& b) { return a.demand < b.demand; });
    double left = capacity;
    size_t n = flows.size();
    for (size_t i = 0; i < flows.size(); ++i) {
      double fair = left / static_cast<double>(n - i);
      double alloc = std::min(fair, flows[i].demand);
      double frac = alloc / flows[i].demand;
      if (frac < flows[i].e->rate) {
        flows[i].e->rate = frac;
        flows[i].e->limit = which;
      }
      left -= alloc;
    }
  };
  std::vector<Flow> hbm;
  for (CoreState& cs : cores_) {
    std::vector<Flow> vmem;
    for (UnitState& u : cs.units) {
      for (size_t i = 0; i < u.next; ++i) {
        Entry& e = u.queue[i];
        if (e.phase != Phase::kStream) continue;
        e.rate = 1;
        e.limit = 0;
        if (e.cost.hbm_per_cycle > 0) hbm.push_back({&e, e.cost.hbm_per_cycle});
        if (e.cost.vmem_per_cycle > 0) vmem.push_back({&e, e.cost.vmem_per_cycle});
      }
    }
    share(vmem, static_cast<double>(chip_.vmem.ports * chip_.vmem.port_bytes_per_cycle), 2);
  }
  share(hbm, HbmBytesPerCycle(chip_), 1);
}

void Engine::Account(double dt) {
  if (dt <= 0) return;
  for (CoreState& cs : cores_) {
    if (cs.seq.queue_full) result_.stats.sequencer_stall_queue_full += dt;
    else if (cs.seq.block == Block::kSemaphore) result_.stats.sequencer_stall_semaphore += dt;
    else if (cs.seq.block == Block::kBarrier) result_.stats.sequencer_stall_barrier += dt;
    for (UnitState& u : cs.units) {
      bool busy = false;
      for (size_t i = 0; i < u.next; ++i) {
        Entry& e = u.queue[i];
        if (e.phase == Phase::kDone) continue;
        busy = true;
        if (e.phase == Phase::kStream) {
          e.remaining -= e.rate * dt;
          if (e.limit == 1) u.t.stall_hbm_bandwidth += (1 - e.rate) * dt;
          if (e.limit == 2) u.t.stall_vmem_bandwidth += (1 - e.rate) * dt;
        }
      }
      if (busy) {
        u.t.busy_cycles += dt;
      } else if (u.block == Block::kSemaphore) {
        u.t.stall_semaphore += dt;
      } else if (u.block == Block::kDependency) {
        u.t.stall_dependency += dt;
      } else if (u.block == Block::kQueueEmpty) {
        u.t.stall_queue_empty += dt;
      }
    }
  }
}

bool Engine::Finished() const {
  if (!signals_.empty()) return false;
  for (size_t c = 0; c < cores_.size(); ++c) {
    if (cores_[c].seq.pos < log_[c].size()) return false;
    for (const UnitState& u : cores_[c].units)
      if (!u.queue.empty()) return false;
  }
  return true;
}

std::string Engine::DeadlockMessage() const {
  std::string msg = fmt::format("timing model deadlock at cycle {:.0f}: nothing can proceed; waiting:", now_);
  for (size_t c = 0; c < cores_.size(); ++c) {
    const CoreState& cs = cores_[c];
    if (cs.seq.pos < log_[c].size()) {
      const DispatchRecord& r = log_[c][cs.seq.pos];
      msg += fmt::format("\n  core {} seq pc {} ({}): {}", c, r.pc, isa::GetOpInfo(r.opcode).mnemonic,
                         cs.seq.queue_full  ? "unit queue full"
                         : cs.seq.at_barrier ? "waits at a barrier for the other cores"
                                             : fmt::format("waits on s{}", r.wait));
    }
    for (const UnitState& u : cs.units) {
      if (u.next >= u.queue.size()) continue;
      const DispatchRecord& r = log_[c][u.queue[u.next].rec];
      msg += fmt::format("\n  core {} {} pc {} ({}): waits on s{} (value {})", c, u.name, r.pc,
                         isa::GetOpInfo(r.opcode).mnemonic, r.wait, r.wait >= 0 ? cs.sems[r.wait] : 0);
    }
  }
  return msg;
}

StatusOr<TimingResult> Engine::Run() {
  for (;;) {
    // Everything that can happen at now_.
    for (bool changed = true; changed;) {
      changed = false;
      while (!signals_.empty() && signals_.top().time <= now_ + kEps) {
        ++cores_[signals_.top().core].sems[signals_.top().sem];
        signals_.pop();
        changed = true;
      }
      for (size_t c = 0; c < cores_.size(); ++c) {
        while (StepSequencer(static_cast<int>(c))) changed = true;
        for (UnitState& u : cores_[c].units) {
          // A DMA engine moves one transfer's data at a time, in order.
          for (size_t i = 0; i < u.next; ++i) {
            Entry& e = u.queue[i];
            if (e.phase == Phase::kStream) break;
            if (e.phase == Phase::kHead) break;
            if (e.phase == Phase::kWaitStream) {
              EnterPhase(e, Phase::kStream);
              changed = true;
              break;
            }
          }
          while (TryStart(static_cast<int>(c), u)) changed = true;
          size_t before = u.queue.size();
          Retire(static_cast<int>(c), u);
          if (u.queue.size() != before) changed = true;
        }
      }
    }
    if (Finished()) break;
    if (options_.progress && (++rounds_ & 4095) == 0) options_.progress(retired_, total_);
    ComputeRates();
    // The next event.
    double next = kInf;
    if (!signals_.empty()) next = std::min(next, signals_.top().time);
    for (size_t c = 0; c < cores_.size(); ++c) {
      const CoreState& cs = cores_[c];
      if (cs.seq.pos < log_[c].size() && cs.seq.free_at > now_ + kEps) next = std::min(next, cs.seq.free_at);
      for (const UnitState& u : cs.units) {
        if (u.next < u.queue.size() && u.queue[u.next].avail > now_ + kEps)
          next = std::min(next, u.queue[u.next].avail);
        if (u.next < u.queue.size() && u.last_start + 1 > now_ + kEps) next = std::min(next, u.last_start + 1);
        for (size_t i = 0; i < u.next; ++i) {
          const Entry& e = u.queue[i];
          if (e.phase == Phase::kHead || e.phase == Phase::kTail) next = std::min(next, e.phase_end);
          if (e.phase == Phase::kStream) next = std::min(next, now_ + e.remaining / e.rate);
        }
      }
    }
    if (next == kInf) return Error("{}", DeadlockMessage());
    Account(next - now_);
    now_ = next;
    // Phase changes at now_.
    for (CoreState& cs : cores_) {
      for (UnitState& u : cs.units) {
        for (size_t i = 0; i < u.next; ++i) {
          Entry& e = u.queue[i];
          for (bool moved = true; moved;) {
            moved = false;
            if ((e.phase == Phase::kHead || e.phase == Phase::kTail) && e.phase_end <= now_ + kEps) {
              EnterPhase(e, e.phase == Phase::kHead ? Phase::kStream : Phase::kDone);
              if (e.phase == Phase::kStream && u.kind == UnitKind::kDma) e.phase = Phase::kWaitStream;
              moved = true;
            } else if (e.phase == Phase::kStream && e.remaining <= kEps * std::max(1.0, e.cost.stream)) {
              if (e.matmul) --u.streaming_users[e.wbuf], e.matmul = false;
              EnterPhase(e, Phase::kTail);
              moved = true;
            }
          }
        }
      }
    }
  }
  TimingStats& s = result_.stats;
  s.clock_mhz = chip_.clock_mhz;
  s.cycles = static_cast<int64_t>(std::ceil(now_ - kEps));
  s.seconds = static_cast<double>(s.cycles) / ClockHz(chip_);
  for (size_t c = 0; c < cores_.size(); ++c) {
    if (!log_[c].empty()) ++s.cores_used;
    for (const UnitState& u : cores_[c].units) s.units[fmt::format("core{}.{}", c, u.name)] = u.t;
  }
  double peak_core = 2.0 * chip_.mxu.rows * chip_.mxu.cols * chip_.mxu.count *
                     std::max(1.0, MxuRate(chip_, chip_.mxu.input_dtype));
  if (s.cycles > 0) {
    s.mxu_utilization = s.mxu_flops / (peak_core * chip_.core.count * s.cycles);
    s.mxu_utilization_used_cores = s.mxu_flops / (peak_core * std::max(1, s.cores_used) * s.cycles);
  }
  double hbm_io = static_cast<double>(s.hbm_bytes);
  s.roofline_cycles = std::max(s.mxu_flops / (peak_core * std::max(1, s.cores_used)), hbm_io / HbmBytesPerCycle(chip_));
  return std::move(result_);
}

}  // namespace

StatusOr<TimingResult> RunTiming(const ChipConfig& chip, const DispatchLog& log, TimingOptions options) {
  Engine engine(chip, log, options);
  return engine.Run();
}

}  // namespace xtpu::sim::timing
