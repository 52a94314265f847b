// Library side of the asm / disasm / sim commands (see sim_command.h).
#include <filesystem>
#include "xtpu/sim/sim_command.h"

#include <chrono>
#include <set>

#include <nlohmann/json.hpp>

#include "xtpu/chip/chip.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/isa/encoding.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/sim/timing/timing_model.h"
#include "xtpu/support/npy.h"

namespace xtpu::sim {

StatusOr<isa::Program> LoadProgramFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  if (isa::LooksLikeProgramBinary(bytes)) {
    StatusOr<isa::Program> p = isa::Decode(bytes);
    if (!p.ok()) return p.status().WithPrefix(path);
    p->source_name = path;
    return p;
  }
  return isa::Assemble(bytes, path);
}

Status AsmCommand(const std::string& input_path, const std::string& output_path) {
  ASSIGN_OR_RETURN(isa::Program p, LoadProgramFile(input_path));
  ASSIGN_OR_RETURN(std::string bin, isa::Encode(p));
  return WriteStringToFile(output_path, bin);
}

StatusOr<std::string> DisasmCommand(const std::string& input_path) {
  ASSIGN_OR_RETURN(isa::Program p, LoadProgramFile(input_path));
  return isa::Disassemble(p);
}

Status RunSimCommand(const SimCommandOptions& o, std::string* summary) {
  if (o.timing_only && !o.timing) return Error("a timing-only run without the timing model computes nothing");
  if (o.timing_only && (!o.outputs.empty() || !o.output_dir.empty()))
    return Error("a timing-only run computes no values: drop the outputs ({})",
                 o.outputs.empty() ? o.output_dir : o.outputs[0].first);
  ASSIGN_OR_RETURN(ChipConfig chip, LoadChip(o.chip));
  for (const std::string& ov : o.chip_overrides) RETURN_IF_ERROR(ApplyOverride(chip, ov));
  ASSIGN_OR_RETURN(isa::Program program, LoadProgramFile(o.program));
  DispatchLog dispatch_log;
  bool timing = o.timing || !o.trace_path.empty();
  // Bounds so a hostile or runaway program ends with an error instead of
  // running for hours or filling memory: 2e7 instructions, 2^40 elements of work (a 4096^3
  // GEMM needs about 2e5 instructions and 2^30 work).
  Simulator sim(chip, program,
                {.seed = o.seed, .threads = o.threads, .max_steps = 20'000'000, .max_work = int64_t{1} << 40,
                 .dispatch_log = timing ? &dispatch_log : nullptr, .timing_only = o.timing_only});
  for (const auto& [name, path] : o.inputs) {
    ASSIGN_OR_RETURN(Literal lit, ReadNpy(path));
    RETURN_IF_ERROR(sim.SetBuffer(name, lit).WithPrefix(path));
  }
  auto t0 = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(sim.Run());
  double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string s;
  std::set<std::string> written;
  for (const auto& [name, path] : o.outputs) {
    ASSIGN_OR_RETURN(Literal lit, sim.GetBuffer(name));
    RETURN_IF_ERROR(WriteNpy(path, lit));
    s += fmt::format("wrote {} ({}) to {}\n", name, lit.shape().ToString(), path);
    written.insert(name);
  }
  if (!o.output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.output_dir, ec);
    if (ec) return Error("{}: cannot create directory: {}", o.output_dir, ec.message());
    for (const isa::BufferDecl& b : program.buffers) {
      if (written.count(b.name)) continue;
      if (b.role != isa::BufferRole::kOutput && b.role != isa::BufferRole::kInOut) continue;
      ASSIGN_OR_RETURN(Literal lit, sim.GetBuffer(b.name));
      std::string path = o.output_dir + "/" + b.name + ".npy";
      RETURN_IF_ERROR(WriteNpy(path, lit));
      s += fmt::format("wrote {} ({}) to {}\n", b.name, lit.shape().ToString(), path);
    }
  }
  const SimStats& st = sim.stats();
  int64_t total = 0;
  std::string per_unit;
  for (const auto& [unit, n] : st.instructions) {
    total += n;
    if (n) per_unit += fmt::format(" {}={}", unit, n);
  }
  s += fmt::format("{}: {} instructions on chip {} ({:.3f} s host time{})\n", o.program, total, chip.name, sec,
                   o.timing_only ? ", timing only: no values" : "");
  s += fmt::format("  per unit:{}\n", per_unit);
  s += fmt::format("  HBM read {} B, write {} B; VMEM read {} B, write {} B\n", st.hbm_read_bytes,
                   st.hbm_write_bytes, st.vmem_read_bytes, st.vmem_write_bytes);
  s += fmt::format("  MXU {} FLOP, VPU {} ops, XLU {} ops\n", st.mxu_flops, st.vpu_ops, st.xlu_ops);
  timing::TimingResult timed;
  if (timing) {
    ASSIGN_OR_RETURN(timed, timing::RunTiming(chip, dispatch_log, {.record_instructions = !o.trace_path.empty()}));
    const timing::TimingStats& ts = timed.stats;
    s += fmt::format("  {} cycles ({:.6g} s at {} MHz), MXU utilization {:.1f}% ({:.1f}% of the {} core(s) used), "
                     "roofline bound {:.0f} cycles\n",
                     ts.cycles, ts.seconds, chip.clock_mhz, 100 * ts.mxu_utilization,
                     100 * ts.mxu_utilization_used_cores, ts.cores_used, ts.roofline_cycles);
  }
  if (!o.trace_path.empty()) {
    RETURN_IF_ERROR(WriteStringToFile(o.trace_path, timing::TraceJson(chip, timed).dump() + "\n"));
    s += fmt::format("wrote trace to {}\n", o.trace_path);
  }
  if (!o.stats_path.empty()) {
    nlohmann::json j;
    if (timing) j["timing"] = timed.stats.ToJson();
    j["program"] = o.program;
    j["functional"] = st.ToJson();
    j["host_seconds"] = sec;
    j["timing_only"] = o.timing_only;
    j["config"] = ChipToJson(chip);
    RETURN_IF_ERROR(WriteStringToFile(o.stats_path, j.dump(2) + "\n"));
    s += fmt::format("wrote stats to {}\n", o.stats_path);
  }
  if (summary) *summary = std::move(s);
  return OkStatus();
}

}  // namespace xtpu::sim
