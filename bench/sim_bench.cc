// Speed of the functional simulator (Google Benchmark): the MXU kernel alone
// (one 1024-row bf16 matmul through a 128 x 128 weight tile, as one
// mxu.matmul of gemm_bf16_4096.s) and whole simulated programs from
// examples/asm/. Counters report FLOP/s of simulated MXU work. Results are
// timings only; correctness is in tests/unit/kernels_test.cc.
//
//   ninja -C build xtpu_bench && build/bench/xtpu_bench
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "xtpu/chip/chip.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/sim/mxu_kernel.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/support/check.h"
#include "xtpu/support/npy.h"

namespace xtpu {
namespace {

void BM_MxuKernelBf16(benchmark::State& state) {
  const int64_t m = 1024, k = 128, n = 128;
  const int threads = static_cast<int>(state.range(0));
  std::mt19937 rng(1);
  std::vector<uint16_t> a(m * k);
  std::vector<float> w(k * n), c(m * n, 0.0f);
  for (auto& x : a) x = static_cast<uint16_t>(0x3f80 | (rng() & 0x7f));
  for (auto& x : w) x = static_cast<float>(rng() % 256) / 128.0f - 1.0f;
  for (auto _ : state) {
    sim::MatmulBF16(a.data(), k, w.data(), n, c.data(), n, m, k, n, /*accumulate=*/true, threads);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["FLOP/s"] =
      benchmark::Counter(static_cast<double>(2 * m * k * n), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MxuKernelBf16)->Arg(1)->Arg(2)->UseRealTime();

// A whole program: assemble, fill inputs with seeded values, simulate.
void RunExample(benchmark::State& state, const std::string& file, const std::string& chip_name,
                const std::vector<std::pair<std::string, std::string>>& replace) {
  StatusOr<std::string> text = ReadFileToString(std::string(XTPU_EXAMPLES_DIR) + file);
  XTPU_CHECK(text.ok());
  std::string src = *text;
  for (const auto& [from, to] : replace) {
    size_t p = src.find(from);
    XTPU_CHECK(p != std::string::npos);
    src.replace(p, from.size(), to);
  }
  StatusOr<isa::Program> program = isa::Assemble(src, file);
  XTPU_CHECK(program.ok());
  StatusOr<ChipConfig> chip = LoadChip(chip_name);
  XTPU_CHECK(chip.ok());
  int64_t flops = 0;
  for (auto _ : state) {
    sim::Simulator s(*chip, *program, {.threads = static_cast<int>(state.range(0))});
    Status st = s.Run();
    XTPU_CHECK(st.ok());
    flops = s.stats().mxu_flops;
  }
  if (flops > 0)
    state.counters["FLOP/s"] =
        benchmark::Counter(static_cast<double>(flops), benchmark::Counter::kIsIterationInvariantRate);
}

// gemm_bf16_4096.s with M = N = K = 1024 (same instructions, smaller loops).
void BM_SimGemmBf16_1024(benchmark::State& state) {
  RunExample(state, "gemm_bf16_4096.s", "v4",
             {{".equ M 4096", ".equ M 1024"},
              {".equ N 4096", ".equ N 1024"},
              {".equ K 4096", ".equ K 1024"},
              {".buffer A hbm bf16[4096,4096]", ".buffer A hbm bf16[1024,1024]"},
              {".buffer B hbm bf16[4096,4096]", ".buffer B hbm bf16[1024,1024]"},
              {".buffer C hbm f32[4096,4096]", ".buffer C hbm f32[1024,1024]"}});
}
BENCHMARK(BM_SimGemmBf16_1024)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_SimGemmBf16_4096(benchmark::State& state) { RunExample(state, "gemm_bf16_4096.s", "v4", {}); }
BENCHMARK(BM_SimGemmBf16_4096)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_SimGemmInt8(benchmark::State& state) { RunExample(state, "gemm_int8.s", "v1", {}); }
BENCHMARK(BM_SimGemmInt8)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_SimSoftmax(benchmark::State& state) { RunExample(state, "softmax.s", "v4", {}); }
BENCHMARK(BM_SimSoftmax)->Arg(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace xtpu

BENCHMARK_MAIN();
