// libFuzzer target for the ISA and the functional simulator. The first byte
// picks what the rest is:
//   0: a program file for Decode;
//   1: a raw instruction stream (64-byte chunks; undecodable ones dropped),
//      run on a small chip;
//   2: assembly text, assembled and run.
// Nothing may crash or trip a sanitizer; accepted programs must round-trip
// through Disassemble/Assemble and Encode/Decode; runs are bounded by
// SimOptions::max_steps and max_work, so every input terminates quickly.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "xtpu/chip/chip.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/isa/encoding.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/support/check.h"

namespace {

const xtpu::ChipConfig& SmallChip() {
  static const xtpu::ChipConfig chip = [] {
    auto c = xtpu::LoadChipFromString(R"(
name = "fuzz"
clock_mhz = 1000
[core]
count = 2
[mxu]
count = 2
rows = 16
cols = 16
input_dtype = "bf16"
accumulator_dtype = "f32"
bf16_rate = 1
s8_rate = 1
[accumulator]
bytes = "16 KiB"
[weight_fifo]
depth = 1
[xlu]
count = 1
[dma]
engines = 2
[sequencer]
queue_depth = 4
[vmem]
bytes = "1 MiB"
[hbm]
bytes = "4 MiB"
bandwidth_gbps = 100
)",
                                      "fuzz.toml");
    XTPU_CHECK(c.ok());
    return *c;
  }();
  return chip;
}

void CheckRoundTrip(const xtpu::isa::Program& p) {
  std::string text = xtpu::isa::Disassemble(p);
  auto again = xtpu::isa::Assemble(text, "disasm.s");
  if (!again.ok() || !(*again == p)) {
    std::fprintf(stderr, "disassembly does not round-trip: %s\n%s",
                 again.ok() ? "different program" : again.status().message().c_str(), text.c_str());
    std::abort();
  }
  auto bin = xtpu::isa::Encode(p);
  XTPU_CHECK(bin.ok());
  auto decoded = xtpu::isa::Decode(*bin);
  XTPU_CHECK(decoded.ok() && *decoded == p);
}

// Also runs the program timing-only: it can only skip (data-dependent)
// faults, never add one, and must count exactly what the full run counts.
void Run(const xtpu::isa::Program& p) {
  xtpu::sim::Simulator sim(SmallChip(), p, {.seed = 1, .threads = 1, .max_steps = 20000, .max_work = 1 << 22});
  xtpu::sim::Simulator fast(SmallChip(), p,
                            {.seed = 1, .threads = 1, .max_steps = 20000, .max_work = 1 << 22, .timing_only = true});
  bool ok = sim.Run().ok();
  bool fast_ok = fast.Run().ok();
  if (ok && (!fast_ok || sim.stats().ToJson() != fast.stats().ToJson())) {
    std::fprintf(stderr, "timing-only run differs from the full run:\n%s", xtpu::isa::Disassemble(p).c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 3;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode == 0) {
    auto p = xtpu::isa::Decode(rest);
    if (p.ok()) CheckRoundTrip(*p);
    return 0;
  }
  if (mode == 1) {
    xtpu::isa::Program p;
    p.cores.resize(1);
    for (size_t off = 0; off + xtpu::isa::kInstructionBytes <= rest.size(); off += xtpu::isa::kInstructionBytes) {
      auto inst = xtpu::isa::DecodeInstruction(reinterpret_cast<const uint8_t*>(rest.data() + off));
      if (inst.ok()) p.cores[0].push_back(*inst);
    }
    if (!xtpu::isa::ValidateProgram(p).ok()) return 0;  // e.g. unbalanced loops
    CheckRoundTrip(p);
    Run(p);
    return 0;
  }
  auto p = xtpu::isa::Assemble(rest, "fuzz.s");
  if (!p.ok()) return 0;
  CheckRoundTrip(*p);
  Run(*p);
  return 0;
}
