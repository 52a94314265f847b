// JSON forms of the timing model's results: the stats (written under
// "timing" in xtpu sim's stats file) and the Chrome trace (see timing_model.h).
#include <set>

#include <nlohmann/json.hpp>

#include "xtpu/sim/timing/timing_model.h"

namespace xtpu::sim::timing {

nlohmann::json TimingStats::ToJson() const {
  nlohmann::json j;
  j["cycles"] = cycles;
  j["seconds"] = seconds;
  j["clock_mhz"] = clock_mhz;
  j["mxu_flops"] = mxu_flops;
  j["mxu_utilization"] = mxu_utilization;
  j["mxu_utilization_used_cores"] = mxu_utilization_used_cores;
  j["cores_used"] = cores_used;
  j["roofline_cycles"] = roofline_cycles;
  j["bytes"] = {{"hbm", hbm_bytes}, {"vmem", vmem_bytes}};
  j["sequencer_stall_cycles"] = {{"queue_full", sequencer_stall_queue_full},
                                 {"semaphore", sequencer_stall_semaphore},
                                 {"barrier", sequencer_stall_barrier}};
  nlohmann::json units = nlohmann::json::object();
  nlohmann::json stalls = {{"semaphore", 0.0}, {"dependency", 0.0}, {"queue_empty", 0.0},
                           {"hbm_bandwidth", 0.0}, {"vmem_bandwidth", 0.0}};
  for (const auto& [name, u] : this->units) {
    units[name] = {{"instructions", u.instructions},
                   {"busy_cycles", u.busy_cycles},
                   {"stall_cycles",
                    {{"semaphore", u.stall_semaphore},
                     {"dependency", u.stall_dependency},
                     {"queue_empty", u.stall_queue_empty},
                     {"hbm_bandwidth", u.stall_hbm_bandwidth},
                     {"vmem_bandwidth", u.stall_vmem_bandwidth}}}};
    stalls["semaphore"] = stalls["semaphore"].get<double>() + u.stall_semaphore;
    stalls["dependency"] = stalls["dependency"].get<double>() + u.stall_dependency;
    stalls["queue_empty"] = stalls["queue_empty"].get<double>() + u.stall_queue_empty;
    stalls["hbm_bandwidth"] = stalls["hbm_bandwidth"].get<double>() + u.stall_hbm_bandwidth;
    stalls["vmem_bandwidth"] = stalls["vmem_bandwidth"].get<double>() + u.stall_vmem_bandwidth;
  }
  j["units"] = units;
  j["stall_cycles"] = stalls;
  return j;
}

nlohmann::json TraceJson(const ChipConfig& chip, const TimingResult& result) {
  nlohmann::json events = nlohmann::json::array();
  std::map<std::pair<int, int>, std::string> tracks;  // (core, tid) -> unit name
  const double us_per_cycle = 1.0 / chip.clock_mhz;
  for (const TimedInstruction& t : result.instructions) {
    nlohmann::json e;
    e["name"] = std::string(isa::GetOpInfo(t.opcode).mnemonic);
    e["cat"] = t.unit;
    e["ph"] = "X";
    e["pid"] = t.core;
    e["tid"] = t.track;
    tracks[{t.core, t.track}] = t.unit;
    e["ts"] = t.start * us_per_cycle;
    e["dur"] = (t.end - t.start) * us_per_cycle;
    e["args"] = {{"pc", t.pc}, {"start_cycle", t.start}, {"cycles", t.end - t.start}, {"bytes", t.bytes},
                 {"flops", t.flops}};
    events.push_back(std::move(e));
  }
  std::set<int> cores;
  for (const auto& [key, name] : tracks) {
    cores.insert(key.first);
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", key.first}, {"tid", key.second},
                      {"args", {{"name", name}}}});
    events.push_back({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", key.first}, {"tid", key.second},
                      {"args", {{"sort_index", key.second}}}});
  }
  for (int c : cores)
    events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", c}, {"args", {{"name", fmt::format("core{}", c)}}}});
  return {{"traceEvents", events}, {"displayTimeUnit", "ns"},
          {"otherData", {{"chip", chip.name}, {"clock_mhz", chip.clock_mhz}, {"cycles", result.stats.cycles}}}};
}

}  // namespace xtpu::sim::timing
