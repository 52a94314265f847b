#include "xtpu/runtime/profile.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <cctype>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "xtpu/isa/assembly.h"

namespace xtpu::runtime {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// (core, pc) -> index into the metadata's kernels, from their pc ranges
// [begin, end) per core; -1 for instructions outside every kernel.
class KernelIndex {
 public:
  KernelIndex(const nlohmann::json& kernels, int cores) : ranges_(cores) {
    for (size_t k = 0; k < kernels.size(); ++k) {
      const auto& pcs = kernels[k]["pc"];
      for (int c = 0; c < cores && c < static_cast<int>(pcs.size()); ++c) {
        int b = pcs[c][0].get<int>(), e = pcs[c][1].get<int>();
        if (e > b) ranges_[c].push_back({b, e, static_cast<int>(k)});
      }
    }
    for (auto& v : ranges_) std::sort(v.begin(), v.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  }
  int Find(int core, int pc) const {
    if (core < 0 || core >= static_cast<int>(ranges_.size())) return -1;
    const auto& v = ranges_[core];
    auto it = std::upper_bound(v.begin(), v.end(), pc, [](int p, const Range& r) { return p < r.begin; });
    if (it == v.begin()) return -1;
    --it;
    return pc < it->end ? it->kernel : -1;
  }

 private:
  struct Range {
    int begin, end, kernel;
  };
  std::vector<std::vector<Range>> ranges_;
};

std::string KindOf(const std::string& unit) {
  size_t i = 0;
  while (i < unit.size() && std::isalpha(static_cast<unsigned char>(unit[i]))) ++i;
  return unit.substr(0, i);
}

StatusOr<nlohmann::json> KernelsOf(const Executable& exe) {
  nlohmann::json meta = nlohmann::json::parse(exe.metadata_json, nullptr, false);
  if (!meta.is_object() || !meta.contains("kernels") || !meta["kernels"].is_array())
    return Error("the executable's metadata has no kernel table; recompile the model");
  return meta["kernels"];
}

// Adds the interval [a, b) (cycles) with weight `w` per cycle to `bins`.
void Spread(std::vector<double>& bins, double bin_cycles, double a, double b, double w) {
  if (b <= a || bins.empty()) return;
  int n = static_cast<int>(bins.size());
  int i0 = std::clamp(static_cast<int>(a / bin_cycles), 0, n - 1);
  int i1 = std::clamp(static_cast<int>(b / bin_cycles), 0, n - 1);
  for (int i = i0; i <= i1; ++i) {
    double lo = std::max(a, i * bin_cycles), hi = std::min(b, (i + 1) * bin_cycles);
    if (hi > lo) bins[i] += (hi - lo) * w;
  }
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// JSON has no infinity: ops without HBM traffic get null intensity.
nlohmann::json Finite(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

}  // namespace

std::string_view BoundName(Bound b) {
  switch (b) {
    case Bound::kMxu: return "MXU";
    case Bound::kVpu: return "VPU";
    case Bound::kXlu: return "XLU";
    case Bound::kHbm: return "HBM";
    case Bound::kVmem: return "VMEM";
    case Bound::kOverhead: return "overhead";
  }
  return "overhead";
}

std::string_view WorkKindName(WorkKind k) {
  switch (k) {
    case WorkKind::kMxu: return "mxu";
    case WorkKind::kVector: return "vector";
    case WorkKind::kData: return "data";
  }
  return "data";
}

Bound ClassifyBound(const ResourceUse& use) {
  // Ties go to the earlier entry: compute before memory, HBM before VMEM.
  const std::pair<double, Bound> all[] = {{use.mxu, Bound::kMxu}, {use.vpu, Bound::kVpu}, {use.xlu, Bound::kXlu},
                                          {use.hbm, Bound::kHbm}, {use.vmem, Bound::kVmem}};
  std::pair<double, Bound> best = all[0];
  for (const auto& p : all)
    if (p.first > best.first) best = p;
  return best.first >= kBoundThreshold ? best.second : Bound::kOverhead;
}

Peaks ChipPeaks(const ChipConfig& chip, int cores) {
  Peaks p;
  p.clock_hz = ClockHz(chip);
  p.mxu_flops_per_second = MxuPeakOpsPerCore(chip, chip.mxu.input_dtype) * cores;
  p.vpu_ops_per_second = VpuPeakOps(chip) / std::max<int64_t>(1, chip.core.count) * cores;
  p.hbm_bytes_per_second = HbmBytesPerSecond(chip);
  p.vmem_bytes_per_second = VmemBytesPerSecondPerCore(chip) * cores;
  return p;
}

double RooflineOpsPerSecond(const Peaks& peaks, WorkKind kind, double intensity) {
  double peak = kind == WorkKind::kMxu ? peaks.mxu_flops_per_second
                : kind == WorkKind::kVector ? peaks.vpu_ops_per_second
                                            : 0.0;
  return std::min(peak, intensity * peaks.hbm_bytes_per_second);
}

StatusOr<Profile> BuildProfile(const Executable& exe, const ChipConfig& chip, const RunResult& r, int bins) {
  if (!r.timing) return Error("profile: the run has no timing (run with the timing model)");
  ASSIGN_OR_RETURN(nlohmann::json kernels, KernelsOf(exe));
  const auto& ts = r.timing->stats;
  if (!kernels.empty() && r.timing->instructions.empty() && ts.cycles > 0)
    return Error("profile: the run recorded no instructions (RunOptions::record_instructions)");
  Profile p;
  p.model = exe.program.source_name;
  p.chip = chip.name;
  p.cores = std::max(1, static_cast<int>(exe.program.cores.size()));
  p.batch = exe.inputs.empty() || exe.inputs[0].dims.empty() ? 1 : static_cast<int>(exe.inputs[0].dims[0]);
  p.cycles = ts.cycles;
  p.seconds = ts.seconds;
  p.model_flops = r.model_flops;
  p.peaks = ChipPeaks(chip, p.cores);
  p.stats = RunStatsJson(exe, chip, r);
  p.chip_json = ChipToJson(chip);
  p.chip_text = DescribeChip(chip);
  const double clock = p.peaks.clock_hz;
  const double hbm_per_cycle = p.peaks.hbm_bytes_per_second / clock;
  const double vmem_per_cycle = p.peaks.vmem_bytes_per_second / clock;

  for (const auto& k : kernels) {
    OpProfile o;
    o.name = k.value("name", "");
    o.op = k.value("op", "");
    o.flops = k.value("flops", int64_t{0});
    o.start = kInf;
    p.ops.push_back(std::move(o));
  }
  KernelIndex index(kernels, p.cores);
  bins = std::max(1, bins);
  p.bin_cycles = std::max(1.0, static_cast<double>(ts.cycles) / bins);
  p.hbm_busy.assign(bins, 0.0);

  // Per unit instance: busy intervals (instructions of one unit come in
  // start order and may overlap), per op and per time bin.
  struct UnitState {
    int timeline = -1;
    double last_end = 0;
    std::map<int, double> busy;  // op -> busy cycles
  };
  std::map<std::pair<int, std::string>, UnitState> units;
  for (const sim::timing::TimedInstruction& ti : r.timing->instructions) {
    int k = index.Find(ti.core, ti.pc);
    std::string kind = KindOf(ti.unit);
    UnitState& u = units[{ti.core, ti.unit}];
    if (u.timeline < 0) {
      u.timeline = static_cast<int>(p.units.size());
      p.units.push_back({fmt::format("core{}.{}", ti.core, ti.unit), kind, std::vector<double>(bins, 0.0)});
    }
    double from = std::max(ti.start, u.last_end);
    if (ti.end > from) {
      Spread(p.units[u.timeline].busy, p.bin_cycles, from, ti.end, 1.0);
      if (k >= 0) u.busy[k] += ti.end - from;
    }
    u.last_end = std::max(u.last_end, ti.end);
    if (ti.hbm_bytes > 0 && ti.end > ti.start)
      Spread(p.hbm_busy, p.bin_cycles, ti.start, ti.end, ti.hbm_bytes / (ti.end - ti.start));
    if (k < 0) continue;
    OpProfile& o = p.ops[k];
    ++o.instructions;
    o.start = std::min(o.start, ti.start);
    o.end = std::max(o.end, ti.end);
    o.mxu_flops += ti.flops;
    o.hbm_bytes += ti.hbm_bytes;
    o.vmem_bytes += ti.vmem_bytes;
    if (kind == "vpu" || kind == "xlu") o.vector_ops += ti.elements;
  }
  for (auto& tl : p.units)
    for (double& b : tl.busy) b = std::min(1.0, b / p.bin_cycles);
  // In chip order: by core, then dma, mxu, vpu, xlu, then index.
  auto order = [](const UnitTimeline& u) {
    int core = 0, index = 0;
    std::sscanf(u.unit.c_str(), "core%d", &core);
    size_t i = u.unit.find_last_not_of("0123456789");
    if (i + 1 < u.unit.size()) index = std::atoi(u.unit.c_str() + i + 1);
    return std::make_tuple(core, u.kind, index);
  };
  std::stable_sort(p.units.begin(), p.units.end(),
                   [&](const UnitTimeline& a, const UnitTimeline& b) { return order(a) < order(b); });
  for (double& b : p.hbm_busy) b = std::min(1.0, b / (hbm_per_cycle * p.bin_cycles));
  for (const auto& [key, u] : units) {
    std::string kind = KindOf(key.second);
    for (const auto& [k, busy] : u.busy) {
      OpProfile& o = p.ops[k];
      double& slot = kind == "mxu" ? o.mxu_busy : kind == "vpu" ? o.vpu_busy : kind == "xlu" ? o.xlu_busy : o.dma_busy;
      slot = std::max(slot, busy);
    }
  }

  for (OpProfile& o : p.ops) {
    if (o.instructions == 0) o.start = o.end = 0;
    o.cycles = o.end - o.start;
    o.seconds = o.cycles / clock;
    if (o.cycles > 0) {
      o.use.mxu = o.mxu_busy / o.cycles;
      o.use.vpu = o.vpu_busy / o.cycles;
      o.use.xlu = o.xlu_busy / o.cycles;
      o.use.hbm = o.hbm_bytes / hbm_per_cycle / o.cycles;
      o.use.vmem = o.vmem_bytes / vmem_per_cycle / o.cycles;
    }
    o.bound = ClassifyBound(o.use);
    o.work = o.flops > 0 ? WorkKind::kMxu : o.vector_ops > 0 ? WorkKind::kVector : WorkKind::kData;
    o.ops = static_cast<double>(o.work == WorkKind::kMxu ? o.flops : o.vector_ops);
    o.intensity = o.hbm_bytes > 0 ? o.ops / o.hbm_bytes : kInf;
    o.ops_per_second = o.seconds > 0 ? o.ops / o.seconds : 0;
    o.roofline_ops_per_second = RooflineOpsPerSecond(p.peaks, o.work, o.intensity);
    o.fraction_of_roofline = o.roofline_ops_per_second > 0 ? o.ops_per_second / o.roofline_ops_per_second : 0;
  }

  // The whole run: busiest unit of each kind, and the memories.
  if (ts.cycles > 0) {
    for (const auto& [name, u] : ts.units) {
      size_t dot = name.find('.');
      std::string kind = KindOf(dot == std::string::npos ? name : name.substr(dot + 1));
      double f = u.busy_cycles / ts.cycles;
      if (kind == "mxu") p.use.mxu = std::max(p.use.mxu, f);
      if (kind == "vpu") p.use.vpu = std::max(p.use.vpu, f);
      if (kind == "xlu") p.use.xlu = std::max(p.use.xlu, f);
    }
    p.use.hbm = ts.hbm_bytes / hbm_per_cycle / ts.cycles;
    p.use.vmem = ts.vmem_bytes / vmem_per_cycle / ts.cycles;
  }
  p.bound = ClassifyBound(p.use);
  return p;
}

std::string ProfileCsv(const Profile& p) {
  std::string s =
      "name,op,cycles,seconds,share,flops,mxu_flops,vector_ops,hbm_bytes,vmem_bytes,intensity,ops_per_second,"
      "roofline_ops_per_second,fraction_of_roofline,mxu_use,vpu_use,xlu_use,hbm_use,vmem_use,work,bound\n";
  for (const OpProfile& o : p.ops) {
    s += fmt::format("{},{},{:.0f},{:.6g},{:.6g},{},{},{},{},{},{},{:.6g},{:.6g},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{},{}\n",
                     CsvField(o.name), CsvField(o.op), o.cycles, o.seconds, p.cycles > 0 ? o.cycles / p.cycles : 0.0,
                     o.flops, o.mxu_flops, o.vector_ops, o.hbm_bytes, o.vmem_bytes,
                     std::isfinite(o.intensity) ? fmt::format("{:.6g}", o.intensity) : std::string("inf"),
                     o.ops_per_second, o.roofline_ops_per_second, o.fraction_of_roofline, o.use.mxu, o.use.vpu,
                     o.use.xlu, o.use.hbm, o.use.vmem, WorkKindName(o.work), BoundName(o.bound));
  }
  return s;
}

namespace {
nlohmann::json UseJson(const ResourceUse& u) {
  return {{"mxu", u.mxu}, {"vpu", u.vpu}, {"xlu", u.xlu}, {"hbm", u.hbm}, {"vmem", u.vmem}};
}
}  // namespace

nlohmann::json ProfileJson(const Profile& p) {
  nlohmann::json j = p.stats;
  nlohmann::json prof;
  prof["model"] = p.model;
  prof["chip"] = p.chip;
  prof["cores"] = p.cores;
  prof["batch"] = p.batch;
  prof["cycles"] = p.cycles;
  prof["seconds"] = p.seconds;
  prof["model_flops"] = p.model_flops;
  prof["peaks"] = {{"clock_hz", p.peaks.clock_hz},
                   {"mxu_flops_per_second", p.peaks.mxu_flops_per_second},
                   {"vpu_ops_per_second", p.peaks.vpu_ops_per_second},
                   {"hbm_bytes_per_second", p.peaks.hbm_bytes_per_second},
                   {"vmem_bytes_per_second", p.peaks.vmem_bytes_per_second}};
  prof["use"] = UseJson(p.use);
  prof["bound"] = BoundName(p.bound);
  prof["bound_threshold"] = kBoundThreshold;
  nlohmann::json ops = nlohmann::json::array();
  for (const OpProfile& o : p.ops) {
    ops.push_back({{"name", o.name},
                   {"op", o.op},
                   {"instructions", o.instructions},
                   {"start_cycle", o.start},
                   {"cycles", o.cycles},
                   {"seconds", o.seconds},
                   {"share", p.cycles > 0 ? o.cycles / p.cycles : 0.0},
                   {"flops", o.flops},
                   {"mxu_flops", o.mxu_flops},
                   {"vector_ops", o.vector_ops},
                   {"bytes", {{"hbm", o.hbm_bytes}, {"vmem", o.vmem_bytes}}},
                   {"busy_cycles", {{"mxu", o.mxu_busy}, {"vpu", o.vpu_busy}, {"xlu", o.xlu_busy}, {"dma", o.dma_busy}}},
                   {"use", UseJson(o.use)},
                   {"work", WorkKindName(o.work)},
                   {"ops", o.ops},
                   {"intensity", Finite(o.intensity)},
                   {"ops_per_second", o.ops_per_second},
                   {"roofline_ops_per_second", o.roofline_ops_per_second},
                   {"fraction_of_roofline", o.fraction_of_roofline},
                   {"bound", BoundName(o.bound)}});
  }
  prof["ops"] = std::move(ops);
  nlohmann::json tl;
  tl["bin_cycles"] = p.bin_cycles;
  tl["hbm"] = p.hbm_busy;
  nlohmann::json units = nlohmann::json::array();
  for (const UnitTimeline& u : p.units) units.push_back({{"unit", u.unit}, {"kind", u.kind}, {"busy", u.busy}});
  tl["units"] = std::move(units);
  prof["timeline"] = std::move(tl);
  j["profile"] = std::move(prof);
  return j;
}

nlohmann::json KernelTraceJson(const Executable& exe, const ChipConfig& chip, const RunResult& r, int64_t max_events) {
  nlohmann::json events = nlohmann::json::array();
  if (!r.timing) return {{"traceEvents", events}};
  StatusOr<nlohmann::json> ks = KernelsOf(exe);
  nlohmann::json kernels = ks.ok() ? *ks : nlohmann::json::array();
  int cores = static_cast<int>(exe.program.cores.size());
  KernelIndex index(kernels, cores);
  const double us_per_cycle = 1.0 / chip.clock_mhz;
  const auto& instrs = r.timing->instructions;
  bool coalesce = static_cast<int64_t>(instrs.size()) > max_events;
  auto kernel_name = [&](int k) { return k >= 0 ? kernels[k].value("name", "") : std::string("(outside ops)"); };
  auto text = [&](int core, int pc) {
    if (core < 0 || core >= cores || pc < 0 || pc >= static_cast<int>(exe.program.cores[core].size())) return std::string();
    return isa::FormatInstruction(exe.program.cores[core][pc]);
  };
  std::map<std::pair<int, int>, std::string> tracks;  // (core, tid) -> unit name
  // Coalescing: the open event of each (core, tid).
  struct Open {
    int kernel = -2;
    double start = 0, end = 0, busy = 0;
    int64_t count = 0, bytes = 0, flops = 0;
    int first_pc = 0, last_pc = 0;
  };
  std::map<std::pair<int, int>, Open> open;
  auto flush = [&](int core, int tid, Open& o) {
    if (o.count == 0) return;
    events.push_back({{"name", kernel_name(o.kernel)},
                      {"cat", tracks[{core, tid}]},
                      {"ph", "X"},
                      {"pid", core},
                      {"tid", tid},
                      {"ts", o.start * us_per_cycle},
                      {"dur", (o.end - o.start) * us_per_cycle},
                      {"args",
                       {{"instructions", o.count},
                        {"busy_cycles", o.busy},
                        {"start_cycle", o.start},
                        {"cycles", o.end - o.start},
                        {"bytes", o.bytes},
                        {"flops", o.flops},
                        {"first", text(core, o.first_pc)},
                        {"pcs", fmt::format("{}-{}", o.first_pc, o.last_pc)}}}});
    o = Open{};
  };
  for (const sim::timing::TimedInstruction& t : instrs) {
    tracks[{t.core, t.track}] = t.unit;
    int k = index.Find(t.core, t.pc);
    if (!coalesce) {
      events.push_back({{"name", kernel_name(k)},
                        {"cat", t.unit},
                        {"ph", "X"},
                        {"pid", t.core},
                        {"tid", t.track},
                        {"ts", t.start * us_per_cycle},
                        {"dur", (t.end - t.start) * us_per_cycle},
                        {"args",
                         {{"instruction", text(t.core, t.pc)},
                          {"pc", t.pc},
                          {"start_cycle", t.start},
                          {"cycles", t.end - t.start},
                          {"hbm_bytes", t.hbm_bytes},
                          {"vmem_bytes", t.vmem_bytes},
                          {"flops", t.flops}}}});
      continue;
    }
    Open& o = open[{t.core, t.track}];
    if (o.count > 0 && o.kernel != k) flush(t.core, t.track, o);
    if (o.count == 0) {
      o.kernel = k;
      o.start = t.start;
      o.first_pc = t.pc;
    }
    o.busy += std::max(0.0, t.end - std::max(t.start, o.end));
    o.end = std::max(o.end, t.end);
    o.last_pc = t.pc;
    ++o.count;
    o.bytes += t.bytes;
    o.flops += t.flops;
  }
  for (auto& [key, o] : open) flush(key.first, key.second, o);
  std::set<int> used_cores;
  for (const auto& [key, name] : tracks) {
    used_cores.insert(key.first);
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", key.first}, {"tid", key.second},
                      {"args", {{"name", name}}}});
    events.push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", key.first}, {"tid", key.second},
                      {"args", {{"sort_index", key.second}}}});
  }
  for (int c : used_cores) {
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", c}, {"args", {{"name", fmt::format("core{}", c)}}}});
    events.push_back({{"name", "process_sort_index"}, {"ph", "M"}, {"pid", c}, {"args", {{"sort_index", c}}}});
  }
  return {{"traceEvents", events},
          {"displayTimeUnit", "ns"},
          {"otherData",
           {{"chip", chip.name},
            {"clock_mhz", chip.clock_mhz},
            {"cycles", r.timing->stats.cycles},
            {"coalesced", coalesce},
            {"model", exe.program.source_name}}}};
}

}  // namespace xtpu::runtime
