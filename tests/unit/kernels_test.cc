// The assembly kernels of examples/asm/ run on the functional simulator and
// compared with plain C++ references that follow the documented numerics
// (docs/numerics.md) step by step, so the comparison is bit-exact:
//   gemm_bf16_4096.s  (assembled for a smaller shape by replacing its .equ
//                      and .buffer lines; same structure, same instructions)
//   gemm_int8.s       (v1: weight FIFO, s32 accumulation, requantization)
//   softmax.s         (v4: XLU row reductions, VPU exp / recip / mul)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

#include "xtpu/chip/chip.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/sim/mxu_kernel.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/support/npy.h"

namespace xtpu {
namespace {

std::string ExamplesDir() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind('/')) + "/../../examples/asm/";
}

ChipConfig Chip(const std::string& name) {
  StatusOr<ChipConfig> c = LoadChip(name);
  XTPU_CHECK(c.ok());
  return *c;
}

std::string ReadExample(const std::string& name) {
  StatusOr<std::string> text = ReadFileToString(ExamplesDir() + name);
  XTPU_CHECK(text.ok());
  return *text;
}

isa::Program Assemble(const std::string& text, const std::string& name) {
  StatusOr<isa::Program> p = isa::Assemble(text, name);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : isa::Program{};
}

// Replaces each whole line that starts with a key of `lines` by its value.
std::string ReplaceLines(const std::string& text, const std::vector<std::pair<std::string, std::string>>& lines) {
  std::istringstream in(text);
  std::string out, line;
  int replaced = 0;
  while (std::getline(in, line)) {
    for (const auto& [prefix, repl] : lines) {
      if (line.rfind(prefix, 0) == 0) {
        line = repl;
        ++replaced;
        break;
      }
    }
    out += line + "\n";
  }
  EXPECT_EQ(replaced, static_cast<int>(lines.size()));
  return out;
}

uint32_t BitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

Literal RandomBf16(std::vector<int64_t> dims, uint32_t seed) {
  Literal l(Shape(DType::kBF16, dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (int64_t i = 0; i < l.num_elements(); ++i) l.data<bf16>()[i] = bf16::FromFloat(u(rng));
  return l;
}

Literal RandomS8(std::vector<int64_t> dims, uint32_t seed) {
  Literal l(Shape(DType::kS8, dims));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(-128, 127);
  for (int64_t i = 0; i < l.num_elements(); ++i) l.data<int8_t>()[i] = static_cast<int8_t>(u(rng));
  return l;
}

// The MXU's f32 result for C = A @ B as docs/isa.md defines it for a program
// that walks K in 128-deep tiles in increasing order: per tile, a chain of
// fmas from +0 in increasing k; the first tile is written, later ones added.
std::vector<float> GemmBf16Reference(const Literal& a, const Literal& b, int64_t m, int64_t n, int64_t k) {
  std::vector<float> af(m * k), bf(k * n), c(m * n, 0.0f);
  for (int64_t i = 0; i < m * k; ++i) af[i] = a.data<bf16>()[i].ToFloat();
  for (int64_t i = 0; i < k * n; ++i) bf[i] = b.data<bf16>()[i].ToFloat();
  for (int64_t k0 = 0; k0 < k; k0 += 128) {
    for (int64_t r = 0; r < m; ++r) {
      for (int64_t j = 0; j < n; ++j) {
        float s = 0.0f;
        for (int64_t i = k0; i < k0 + 128; ++i) s = std::fma(af[r * k + i], bf[i * n + j], s);
        c[r * n + j] = k0 == 0 ? s : c[r * n + j] + s;
      }
    }
  }
  return c;
}

std::string SmallGemmBf16(int64_t m, int64_t n, int64_t k, int64_t mt) {
  return ReplaceLines(ReadExample("gemm_bf16_4096.s"),
                      {{".equ M ", fmt::format(".equ M {}", m)},
                       {".equ N ", fmt::format(".equ N {}", n)},
                       {".equ K ", fmt::format(".equ K {}", k)},
                       {".equ MT ", fmt::format(".equ MT {}", mt)},
                       {".buffer A ", fmt::format(".buffer A hbm bf16[{},{}] input", m, k)},
                       {".buffer B ", fmt::format(".buffer B hbm bf16[{},{}] input", k, n)},
                       {".buffer C ", fmt::format(".buffer C hbm f32[{},{}] output", m, n)}});
}

// The bf16-LHS MXU kernel equals the plain loop bit for bit, with tails in
// rows (not a multiple of 6) and columns (not a multiple of 16).
TEST(KernelsTest, MatmulBF16MatchesPlainLoop) {
  std::mt19937 rng(7);
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{13, 37, 45}, {1, 128, 128}, {200, 128, 7}}) {
    const int64_t lda = k + 3;
    std::vector<uint16_t> a(m * lda);
    std::vector<float> af(m * k), w(k * n), ref(m * n), got(m * n);
    for (int64_t r = 0; r < m; ++r)
      for (int64_t i = 0; i < k; ++i) {
        bf16 v = bf16::FromFloat(std::uniform_real_distribution<float>(-3, 3)(rng));
        a[r * lda + i] = v.bits;
        af[r * k + i] = v.ToFloat();
      }
    for (auto& x : w) x = bf16::FromFloat(std::uniform_real_distribution<float>(-3, 3)(rng)).ToFloat();
    for (int64_t i = 0; i < m * n; ++i) ref[i] = got[i] = static_cast<float>(i % 17) - 8.5f;
    for (bool accumulate : {false, true}) {
      for (int threads : {1, 2}) {
        std::vector<float> r = ref, g = got;
        sim::MatmulF32Reference(af.data(), k, w.data(), n, r.data(), n, m, k, n, accumulate);
        sim::MatmulBF16(a.data(), lda, w.data(), n, g.data(), n, m, k, n, accumulate, threads);
        int64_t bad = 0;
        for (int64_t i = 0; i < m * n; ++i) bad += BitsOf(r[i]) != BitsOf(g[i]);
        EXPECT_EQ(bad, 0) << m << "x" << k << "x" << n << " accumulate=" << accumulate << " threads=" << threads;
      }
    }
  }
}

TEST(KernelsTest, GemmBf16FullSizeAssembles) {
  isa::Program p = Assemble(ReadExample("gemm_bf16_4096.s"), "gemm_bf16_4096.s");
  ASSERT_EQ(p.buffers.size(), 3u);
  EXPECT_EQ(p.FindBuffer("C")->shape.dims, (std::vector<int64_t>{4096, 4096}));
  EXPECT_TRUE(sim::CheckProgramForChip(p, Chip("v4")).ok());
}

// Two row blocks, two column blocks, two pairs of K chunks: every buffer,
// semaphore and block transition of the 4096 program is exercised.
TEST(KernelsTest, GemmBf16MatchesReferenceBitExactly) {
  const int64_t m = 256, n = 1024, k = 2048, mt = 128;
  isa::Program p = Assemble(SmallGemmBf16(m, n, k, mt), "gemm_bf16_small.s");
  Literal a = RandomBf16({m, k}, 1), b = RandomBf16({k, n}, 2);
  std::vector<float> ref = GemmBf16Reference(a, b, m, n, k);
  for (int threads : {1, 2}) {
    sim::Simulator s(Chip("v4"), p, {.threads = threads});
    ASSERT_TRUE(s.SetBuffer("A", a).ok());
    ASSERT_TRUE(s.SetBuffer("B", b).ok());
    Status st = s.Run();
    ASSERT_TRUE(st.ok()) << st.message();
    StatusOr<Literal> c = s.GetBuffer("C");
    ASSERT_TRUE(c.ok());
    const float* got = c->data<float>();
    int64_t bad = 0;
    for (int64_t i = 0; i < m * n; ++i) bad += BitsOf(got[i]) != BitsOf(ref[i]);
    EXPECT_EQ(bad, 0) << "threads=" << threads << " first: " << got[0] << " vs " << ref[0];
    EXPECT_EQ(s.stats().mxu_flops, 2 * m * n * k);
    EXPECT_EQ(s.stats().hbm_write_bytes, m * n * 4);
  }
}

TEST(KernelsTest, GemmInt8MatchesReference) {
  isa::Program p = Assemble(ReadExample("gemm_int8.s"), "gemm_int8.s");
  const int64_t m = 1024, n = 1024, k = 1024;
  Literal a = RandomS8({m, k}, 3), b = RandomS8({k, n}, 4);
  sim::Simulator s(Chip("v1"), p, {.threads = 2});
  ASSERT_TRUE(s.SetBuffer("A", a).ok());
  ASSERT_TRUE(s.SetBuffer("B", b).ok());
  Status st = s.Run();
  ASSERT_TRUE(st.ok()) << st.message();
  StatusOr<Literal> c = s.GetBuffer("C");
  StatusOr<Literal> q = s.GetBuffer("Q");
  ASSERT_TRUE(c.ok() && q.ok());
  std::vector<int32_t> ref(m * n, 0);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t i = 0; i < k; ++i) {
      const int32_t x = a.data<int8_t>()[r * k + i];
      for (int64_t j = 0; j < n; ++j) ref[r * n + j] += x * b.data<int8_t>()[i * n + j];
    }
  int64_t bad_c = 0, bad_q = 0;
  for (int64_t i = 0; i < m * n; ++i) {
    bad_c += c->data<int32_t>()[i] != ref[i];
    double x = std::nearbyint(static_cast<double>(ref[i]) * 0.000244140625);  // round half even
    int expect = static_cast<int>(std::clamp(x, -128.0, 127.0));
    bad_q += q->data<int8_t>()[i] != expect;
  }
  EXPECT_EQ(bad_c, 0);
  EXPECT_EQ(bad_q, 0);
}

TEST(KernelsTest, SoftmaxMatchesReferenceBitExactly) {
  isa::Program p = Assemble(ReadExample("softmax.s"), "softmax.s");
  const int64_t rows = 1024, cols = 1024;
  Literal x(Shape(DType::kF32, {rows, cols}));
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  for (int64_t i = 0; i < rows * cols; ++i) x.data<float>()[i] = u(rng);
  sim::Simulator s(Chip("v4"), p, {.threads = 2});
  ASSERT_TRUE(s.SetBuffer("X", x).ok());
  Status st = s.Run();
  ASSERT_TRUE(st.ok()) << st.message();
  StatusOr<Literal> y = s.GetBuffer("Y");
  ASSERT_TRUE(y.ok());
  int64_t bad = 0;
  std::vector<float> e(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x.data<float>() + r * cols;
    float mx = xr[0];
    for (int64_t c = 1; c < cols; ++c) mx = std::max(mx, xr[c]);  // no NaNs here
    float sum = 0.0f;
    for (int64_t c = 0; c < cols; ++c) {
      e[c] = std::exp(xr[c] - mx);  // the VPU's exp: the evaluator's f32 std::exp
      sum = c == 0 ? e[0] : sum + e[c];
    }
    const float inv = 1.0f / sum;
    for (int64_t c = 0; c < cols; ++c) bad += BitsOf(y->data<float>()[r * cols + c]) != BitsOf(e[c] * inv);
  }
  EXPECT_EQ(bad, 0);
}

}  // namespace
}  // namespace xtpu
