// Functional simulator tests: one small program per instruction class
// compared bit-exactly with a C++ reference, tiled GEMMs (bf16 on v4, int8
// on v1), device faults, deadlock reports, loops and semaphores.
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

#include "xtpu/chip/chip.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/sim/mxu_kernel.h"
#include "xtpu/sim/sim_command.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/support/npy.h"

namespace xtpu {
namespace {

std::string AsmDir() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind('/')) + "/../asm/";
}

ChipConfig Chip(const std::string& name) {
  StatusOr<ChipConfig> c = LoadChip(name);
  XTPU_CHECK(c.ok());
  return *c;
}

isa::Program Asm(const std::string& text) {
  StatusOr<isa::Program> p = isa::Assemble(text, "test.s");
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : isa::Program{};
}

isa::Program AsmFile(const std::string& name) {
  StatusOr<std::string> text = ReadFileToString(AsmDir() + name);
  XTPU_CHECK(text.ok());
  StatusOr<isa::Program> p = isa::Assemble(*text, name);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : isa::Program{};
}

Literal RandomBf16(std::vector<int64_t> dims, uint32_t seed) {
  Literal l(Shape(DType::kBF16, dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  for (int64_t i = 0; i < l.num_elements(); ++i) l.data<bf16>()[i] = bf16::FromFloat(u(rng));
  return l;
}

Literal RandomF32(std::vector<int64_t> dims, uint32_t seed, float lo = -4, float hi = 4) {
  Literal l(Shape(DType::kF32, dims));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < l.num_elements(); ++i) l.data<float>()[i] = u(rng);
  return l;
}

uint32_t Bits(float f) { return std::bit_cast<uint32_t>(f); }

// C[M,N] = sum over K tiles t (of `kt`), in order: c = t == 0 ? s_t : c + s_t,
// s_t = fma chain over the tile's k in increasing order. The MXU's order.
std::vector<float> ReferenceGemm(const Literal& a, const Literal& b, int64_t m, int64_t k, int64_t n, int64_t kt) {
  std::vector<float> c(m * n);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0;
      for (int64_t t = 0; t < k; t += kt) {
        float s = 0.0f;
        for (int64_t i = t; i < std::min(k, t + kt); ++i)
          s = std::fma(a.data<bf16>()[r * k + i].ToFloat(), b.data<bf16>()[i * n + j].ToFloat(), s);
        acc = t == 0 ? s : acc + s;
      }
      c[r * n + j] = acc;
    }
  return c;
}

// ---- End to end: tiled bf16 GEMM on v4 -----------------------------------

TEST(FuncSim, GemmBf16_256_FourMxus) {
  ChipConfig chip = Chip("v4");
  isa::Program p = AsmFile("gemm_bf16_256.s");
  Literal a = RandomBf16({256, 256}, 1), b = RandomBf16({256, 256}, 2);
  sim::Simulator s(chip, p);
  ASSERT_TRUE(s.SetBuffer("A", a).ok());
  ASSERT_TRUE(s.SetBuffer("B", b).ok());
  Status st = s.Run();
  ASSERT_TRUE(st.ok()) << st.message();
  StatusOr<Literal> c = s.GetBuffer("C");
  ASSERT_TRUE(c.ok());
  std::vector<float> ref = ReferenceGemm(a, b, 256, 256, 256, chip.mxu.rows);
  int64_t mismatches = 0;
  double max_err = 0;
  for (int64_t i = 0; i < 256 * 256; ++i) {
    if (Bits(c->data<float>()[i]) != Bits(ref[i])) ++mismatches;
    // And against double within tolerance.
    int64_t r = i / 256, j = i % 256;
    double d = 0;
    for (int64_t k = 0; k < 256; ++k) d += double(a.data<bf16>()[r * 256 + k].ToFloat()) * b.data<bf16>()[k * 256 + j].ToFloat();
    max_err = std::max(max_err, std::abs(d - c->data<float>()[i]));
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_LT(max_err, 1e-3);
  const sim::SimStats& stats = s.stats();
  EXPECT_EQ(stats.mxu_flops, 2ll * 256 * 256 * 256);
  EXPECT_EQ(stats.hbm_read_bytes, 2 * 256 * 512);
  EXPECT_EQ(stats.hbm_write_bytes, 256 * 1024);
  EXPECT_EQ(stats.instructions.at("core0.mxu3"), 5);
}

}  // namespace
}  // namespace xtpu

namespace xtpu {
namespace {

// A one-core GEMM C[M,N] = A[M,K] @ B[K,N] (bf16 -> f32) with everything in
// VMEM: N tiles go round-robin to the MXUs, each looping over the K tiles.
std::string GemmProgram(int64_t m, int64_t n, int64_t k, int64_t tile, int64_t mxus) {
  std::string s = fmt::format(
      ".buffer A hbm bf16[{m},{k}] input\n.buffer B hbm bf16[{k},{n}] input\n.buffer C hbm f32[{m},{n}] output\n"
      ".equ VA 0\n.equ VB {vb}\n.equ VC {vc}\n"
      "dma0.load dst=VA, src=A, bytes={ab}, signal=s0\n"
      "dma1.load dst=VB, src=B, bytes={bb}, signal=s1\n"
      "nop wait=s0\nnop wait=s1\n"
      "loop r1, {groups}\n"
      "  mul r4, r1, {group_cols}\n"
      "  loop r2, {kts}\n"
      "    mul r3, r2, {ktile_rows_b}\n"
      "    add r3, r3, r4\n"
      "    mul r5, r2, {ktile_cols_a}\n",
      fmt::arg("m", m), fmt::arg("n", n), fmt::arg("k", k), fmt::arg("vb", m * k * 2),
      fmt::arg("vc", m * k * 2 + k * n * 2), fmt::arg("ab", m * k * 2), fmt::arg("bb", k * n * 2),
      fmt::arg("groups", n / tile / mxus), fmt::arg("group_cols", mxus * tile * 2), fmt::arg("kts", k / tile),
      fmt::arg("ktile_rows_b", tile * n * 2), fmt::arg("ktile_cols_a", tile * 2));
  for (int64_t u = 0; u < mxus; ++u) {
    s += fmt::format("    mxu{u}.load_weights src=r3+VB+{off}, stride={bs}, k={t}, n={t}\n", fmt::arg("u", u),
                     fmt::arg("off", u * tile * 2), fmt::arg("bs", n * 2), fmt::arg("t", tile));
    s += fmt::format("    mxu{u}.matmul lhs=r5+VA, stride={as}, m={m}, acc=0, accumulate=r2\n", fmt::arg("u", u),
                     fmt::arg("as", k * 2), fmt::arg("m", m));
  }
  s += "  endloop\n  mul r6, r1, " + std::to_string(mxus * tile * 4) + "\n";
  for (int64_t u = 0; u < mxus; ++u)
    s += fmt::format("  mxu{}.read_acc dst=r6+VC+{}, stride={}, acc=0, m={}, n={}, signal=s2\n", u, u * tile * 4,
                     n * 4, m, tile);
  s += "endloop\n";
  s += fmt::format("loop r7, {}\n  dma2.nop wait=s2\nendloop\n", n / tile - 1);
  s += fmt::format("dma2.store dst=C, src=VC, bytes={}, wait=s2\nhalt\n", m * n * 4);
  return s;
}

TEST(FuncSim, GeneratedGemmMatchesReference) {
  ChipConfig chip = Chip("v4");
  isa::Program p = Asm(GemmProgram(96, 512, 384, 128, 4));
  Literal a = RandomBf16({96, 384}, 3), b = RandomBf16({384, 512}, 4);
  sim::Simulator s(chip, p, {.threads = 2});
  ASSERT_TRUE(s.SetBuffer("A", a).ok());
  ASSERT_TRUE(s.SetBuffer("B", b).ok());
  Status st = s.Run();
  ASSERT_TRUE(st.ok()) << st.message();
  std::vector<float> ref = ReferenceGemm(a, b, 96, 384, 512, 128);
  StatusOr<Literal> c = s.GetBuffer("C");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::memcmp(c->data<float>(), ref.data(), ref.size() * 4), 0);
}

// Not a timed test: prints the functional GEMM speed (docs/performance.md).
TEST(FuncSim, GemmSpeed1024) {
  ChipConfig chip = Chip("v4");
  const int64_t n = 1024;
  isa::Program p = Asm(GemmProgram(n, n, n, chip.mxu.rows, chip.mxu.count));
  for (int threads : {1, 2}) {
    sim::Simulator s(chip, p, {.threads = threads});
    auto t0 = std::chrono::steady_clock::now();
    Status st = s.Run();
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_TRUE(st.ok()) << st.message();
    std::printf("functional bf16 GEMM %ld^3 on one v4 core, %d thread(s): %.3f s, %.1f GFLOP/s\n", long(n), threads,
                sec, 2.0 * n * n * n / sec / 1e9);
  }
}

}  // namespace
}  // namespace xtpu

namespace xtpu {
namespace {

// The MXU kernel alone equals the plain reference loop bit for bit (edges
// included), and its speed is printed.
TEST(MxuKernel, MatchesReferenceAndSpeed) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto [m, k, n] : {std::array<int64_t, 3>{1, 1, 1}, {7, 13, 17}, {13, 128, 128}, {64, 127, 33}, {100, 64, 48}}) {
    std::vector<float> a(m * k), w(k * n), c1(m * n), c2(m * n);
    for (auto& x : a) x = bf16::FromFloat(u(rng)).ToFloat();
    for (auto& x : w) x = bf16::FromFloat(u(rng)).ToFloat();
    for (size_t i = 0; i < c1.size(); ++i) c1[i] = c2[i] = u(rng);
    for (bool acc : {false, true}) {
      sim::MatmulF32(a.data(), k, w.data(), n, c1.data(), n, m, k, n, acc, 2);
      sim::MatmulF32Reference(a.data(), k, w.data(), n, c2.data(), n, m, k, n, acc);
      EXPECT_EQ(std::memcmp(c1.data(), c2.data(), c1.size() * 4), 0) << m << "x" << k << "x" << n;
    }
  }
  const int64_t m = 1024, k = 128, n = 128;
  std::vector<float> a(m * k, 0.5f), w(k * n, 0.25f), c(m * n);
  for (int threads : {1, 2}) {
    auto t0 = std::chrono::steady_clock::now();
    const int reps = 50;
    for (int r = 0; r < reps; ++r) sim::MatmulF32(a.data(), k, w.data(), n, c.data(), n, m, k, n, true, threads);
    double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("MXU kernel %ldx%ldx%ld, %d thread(s): %.1f GFLOP/s\n", long(m), long(k), long(n), threads,
                2.0 * m * k * n * reps / sec / 1e9);
  }
}

}  // namespace
}  // namespace xtpu

namespace xtpu {
namespace {

// Runs `text` on `chip` with the given buffer values; returns the simulator.
std::unique_ptr<sim::Simulator> RunText(const std::string& text, const std::string& chip_name,
                                        const std::vector<std::pair<std::string, Literal>>& in, Status* status) {
  ChipConfig chip = Chip(chip_name);
  isa::Program p = Asm(text);
  auto s = std::make_unique<sim::Simulator>(chip, p);
  for (const auto& [name, lit] : in) {
    Status st = s->SetBuffer(name, lit);
    EXPECT_TRUE(st.ok()) << st.message();
  }
  *status = s->Run();
  return s;
}

Literal Out(const sim::Simulator& s, const std::string& name) {
  StatusOr<Literal> l = s.GetBuffer(name);
  XTPU_CHECK(l.ok());
  return *l;
}

const char* kTile3 =
    ".buffer X vmem f32[8,128] input\n.buffer Y vmem f32[8,128] input\n.buffer Z vmem f32[8,128] output\n";

TEST(FuncSim, VpuBinaryF32) {
  Literal x = RandomF32({8, 128}, 11), y = RandomF32({8, 128}, 12);
  y.data<float>()[5] = -0.0f, x.data<float>()[5] = 0.0f;  // max/min of zeros
  struct Case { const char* op; float (*f)(float, float); };
  for (Case c : {Case{"add", [](float a, float b) { return a + b; }}, Case{"sub", [](float a, float b) { return a - b; }},
                 Case{"mul", [](float a, float b) { return a * b; }}, Case{"div", [](float a, float b) { return a / b; }},
                 Case{"max", [](float a, float b) { return a == b ? (std::signbit(a) ? b : a) : std::max(a, b); }},
                 Case{"min", [](float a, float b) { return a == b ? (std::signbit(a) ? a : b) : std::min(a, b); }}}) {
    Status st;
    auto s = RunText(std::string(kTile3) + fmt::format("vpu.binary {}, f32, dst=Z, a=X, b=Y, rows=8, cols=128, ds=512, as=512, bs=512\n", c.op),
                     "v4", {{"X", x}, {"Y", y}}, &st);
    ASSERT_TRUE(st.ok()) << st.message();
    Literal z = Out(*s, "Z");
    for (int i = 0; i < 8 * 128; ++i)
      ASSERT_EQ(Bits(z.data<float>()[i]), Bits(c.f(x.data<float>()[i], y.data<float>()[i]))) << c.op << " " << i;
  }
}

TEST(FuncSim, VpuBinaryBroadcastAndBf16) {
  Literal x = RandomF32({8, 128}, 13), y = RandomF32({8, 128}, 14);
  Status st;
  // Column broadcast: Z[r][c] = X[r][c] * Y[r][0]; row broadcast (bs=0): + Y[0][c].
  auto s = RunText(std::string(kTile3) +
                       "vpu.binary mul, f32, dst=Z, a=X, b=Y, rows=8, cols=128, ds=512, as=512, bs=512, bmode=col\n"
                       "vpu.binary add, f32, dst=Z, a=Z, b=Y, rows=8, cols=128, ds=512, as=512, bs=0\n",
                   "v4", {{"X", x}, {"Y", y}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal z = Out(*s, "Z");
  const float* X = x.data<float>();
  const float* Y = y.data<float>();
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 128; ++c)
      ASSERT_EQ(Bits(z.data<float>()[r * 128 + c]), Bits(X[r * 128 + c] * Y[r * 128] + Y[c]));
  // bf16: computed in f32, rounded to nearest even.
  Literal a = RandomBf16({2, 64}, 15), b = RandomBf16({2, 64}, 16);
  auto s2 = RunText(".buffer A vmem bf16[2,64] input\n.buffer B vmem bf16[2,64] input\n.buffer C vmem bf16[2,64] output\n"
                    "vpu.binary mul, bf16, dst=C, a=A, b=B, rows=2, cols=64, ds=128, as=128, bs=128\n",
                    "v4", {{"A", a}, {"B", b}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal c = Out(*s2, "C");
  for (int i = 0; i < 128; ++i)
    ASSERT_EQ(c.data<bf16>()[i].bits,
              bf16::FromFloat(a.data<bf16>()[i].ToFloat() * b.data<bf16>()[i].ToFloat()).bits);
}

TEST(FuncSim, VpuBinaryS32AndImm) {
  Literal x = Literal::FromVector<int>(DType::kS32, {1, 6}, std::vector<int>{1, -7, INT32_MAX, INT32_MIN, 12, -1});
  Literal y = Literal::FromVector<int>(DType::kS32, {1, 6}, std::vector<int>{3, 2, 1, -1, 33, 31});
  const char* decl = ".buffer X vmem s32[1,6] input\n.buffer Y vmem s32[1,6] input\n.buffer Z vmem s32[1,6] output\n";
  auto run = [&](const std::string& line) {
    Status st;
    auto s = RunText(std::string(decl) + line + "\n", "v4", {{"X", x}, {"Y", y}}, &st);
    EXPECT_TRUE(st.ok()) << st.message();
    Literal z = Out(*s, "Z");
    return std::vector<int32_t>(z.data<int32_t>(), z.data<int32_t>() + 6);
  };
  EXPECT_EQ(run("vpu.binary add, s32, dst=Z, a=X, b=Y, rows=1, cols=6, ds=0, as=0, bs=0"),
            (std::vector<int32_t>{4, -5, INT32_MIN, INT32_MAX, 45, 30}));
  EXPECT_EQ(run("vpu.binary shl, s32, dst=Z, a=X, b=Y, rows=1, cols=6, ds=0, as=0, bs=0"),
            (std::vector<int32_t>{8, -28, -2, 0, 24, INT32_MIN}));
  EXPECT_EQ(run("vpu.binary shr, s32, dst=Z, a=X, b=Y, rows=1, cols=6, ds=0, as=0, bs=0"),
            (std::vector<int32_t>{0, -2, INT32_MAX >> 1, -1, 6, -1}));
  EXPECT_EQ(run("vpu.binary_imm mul, s32, dst=Z, a=X, imm=-3, rows=1, cols=6, ds=0, as=0"),
            (std::vector<int32_t>{-3, 21, static_cast<int32_t>(static_cast<uint32_t>(INT32_MAX) * uint32_t(-3)),
                                  static_cast<int32_t>(static_cast<uint32_t>(INT32_MIN) * uint32_t(-3)), -36, 3}));
  EXPECT_EQ(run("vpu.unary abs, s32, dst=Z, a=X, rows=1, cols=6, ds=0, as=0"),
            (std::vector<int32_t>{1, 7, INT32_MAX, INT32_MIN, 12, 1}));
}

TEST(FuncSim, VpuUnaryF32) {
  Literal x = RandomF32({8, 128}, 17, 0.01f, 3.0f);
  x.data<float>()[0] = -0.0f;
  struct Case { const char* op; float (*f)(float); };
  // The reference evaluator's f32 formulas (docs/numerics.md, "Chip numerics").
  for (Case c : {Case{"exp", [](float a) { return std::exp(a); }},
                 Case{"log", [](float a) { return std::log(a); }},
                 Case{"tanh", [](float a) { return std::tanh(a); }},
                 Case{"erf", [](float a) { return std::erf(a); }},
                 Case{"sqrt", [](float a) { return std::sqrt(a); }},
                 Case{"rsqrt", [](float a) { return 1.0f / std::sqrt(a); }},
                 Case{"recip", [](float a) { return 1.0f / a; }},
                 Case{"neg", [](float a) { return -a; }},
                 Case{"relu", [](float a) { return a > 0 ? a : 0.0f; }}}) {
    Status st;
    auto s = RunText(std::string(kTile3) + fmt::format("vpu.unary {}, f32, dst=Z, a=X, rows=8, cols=128, ds=512, as=512\n", c.op),
                     "v4", {{"X", x}}, &st);
    ASSERT_TRUE(st.ok()) << st.message();
    Literal z = Out(*s, "Z");
    for (int i = 0; i < 8 * 128; ++i)
      ASSERT_EQ(Bits(z.data<float>()[i]), Bits(c.f(x.data<float>()[i]))) << c.op << " " << x.data<float>()[i];
  }
}

TEST(FuncSim, ReductionsTransposePermute) {
  Literal x = RandomF32({8, 128}, 18);
  const float* X = x.data<float>();
  Literal idx(Shape(DType::kS32, {128}));
  for (int c = 0; c < 128; ++c) idx.data<int32_t>()[c] = (c * 37) % 128;
  Status st;
  auto s = RunText(".buffer X vmem f32[8,128] input\n.buffer I vmem s32[128] input\n"
                   ".buffer R vmem f32[128] output\n.buffer L vmem f32[8] output\n.buffer M vmem f32[8] output\n"
                   ".buffer T vmem f32[128,8] output\n.buffer P vmem f32[8,128] output\n"
                   "vpu.reduce sum, f32, dst=R, src=X, rows=8, cols=128, ss=512\n"
                   "xlu0.reduce sum, f32, dst=L, src=X, rows=8, cols=128, ds=4, ss=512\n"
                   "xlu1.reduce max, f32, dst=M, src=X, rows=8, cols=128, ds=4, ss=512\n"
                   "xlu0.transpose f32, dst=T, src=X, rows=8, cols=128, ds=32, ss=512\n"
                   "xlu1.permute f32, dst=P, src=X, idx=I, rows=8, cols=128, ds=512, ss=512\n",
                   "v4", {{"X", x}, {"I", idx}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal r = Out(*s, "R"), l = Out(*s, "L"), m = Out(*s, "M"), t = Out(*s, "T"), p = Out(*s, "P");
  for (int c = 0; c < 128; ++c) {
    float acc = X[c];
    for (int i = 1; i < 8; ++i) acc += X[i * 128 + c];
    ASSERT_EQ(Bits(r.data<float>()[c]), Bits(acc));
  }
  for (int i = 0; i < 8; ++i) {
    float acc = X[i * 128], mx = X[i * 128];
    for (int c = 1; c < 128; ++c) acc += X[i * 128 + c], mx = std::max(mx, X[i * 128 + c]);
    ASSERT_EQ(Bits(l.data<float>()[i]), Bits(acc));
    ASSERT_EQ(Bits(m.data<float>()[i]), Bits(mx));
    for (int c = 0; c < 128; ++c) {
      ASSERT_EQ(Bits(t.data<float>()[c * 8 + i]), Bits(X[i * 128 + c]));
      ASSERT_EQ(Bits(p.data<float>()[i * 128 + c]), Bits(X[i * 128 + (c * 37) % 128]));
    }
  }
}

TEST(FuncSim, ConvertAndRequant) {
  // Ties for bf16 RNE: 1 + 2^-8 rounds down to 1, 1 + 3*2^-8 rounds up.
  Literal x = Literal::FromVector<float>(DType::kF32, {1, 4}, std::vector<float>{1.00390625f, 1.01171875f, -2.5f, 3.5f});
  Literal q = Literal::FromVector<int>(DType::kS32, {1, 4}, std::vector<int>{100, -100, 5000, 40});
  Status st;
  auto s = RunText(".buffer X vmem f32[1,4] input\n.buffer Q vmem s32[1,4] input\n"
                   ".buffer B vmem bf16[1,4] output\n.buffer I vmem s32[1,4] output\n.buffer S vmem s8[1,4] output\n"
                   "vpu.convert bf16, f32, dst=B, src=X, rows=1, cols=4, ds=0, ss=0\n"
                   "vpu.convert s32, f32, dst=I, src=X, rows=1, cols=4, ds=0, ss=0\n"
                   "vpu.requant dst=S, src=Q, scale=0.125, rows=1, cols=4, ds=0, ss=0, zero_point=1\n",
                   "v4", {{"X", x}, {"Q", q}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal b = Out(*s, "B"), i = Out(*s, "I"), sq = Out(*s, "S");
  EXPECT_EQ(b.data<bf16>()[0].bits, 0x3f80);
  EXPECT_EQ(b.data<bf16>()[1].bits, 0x3f82);
  EXPECT_EQ((std::vector<int32_t>(i.data<int32_t>(), i.data<int32_t>() + 4)), (std::vector<int32_t>{1, 1, -2, 4}));
  // 100/8 = 12.5 -> 12 (+1 = 13); -12.5 -> -12 (+1 = -11); 625 -> 127; 5 -> 6.
  EXPECT_EQ((std::vector<int8_t>(sq.data<int8_t>(), sq.data<int8_t>() + 4)), (std::vector<int8_t>{13, -11, 127, 6}));
}

TEST(FuncSim, Dma3DAndLoops) {
  // Gather a 3D sub-block of H[4][6][8] (f32): planes 1..2, rows 0,2,4, cols 2..5
  // into V (contiguous), then scatter it back out to O.
  Literal h(Shape(DType::kF32, {4, 6, 8}));
  for (int i = 0; i < 4 * 6 * 8; ++i) h.data<float>()[i] = float(i);
  Status st;
  auto s = RunText(".buffer H hbm f32[4,6,8] input\n.buffer O hbm f32[2,3,4] output\n"
                   "dma1.load dst=0, src=H+(1*48+2)*4, bytes=16, n1=3, ds1=16, ss1=64, n2=2, ds2=48, ss2=192, signal=s0\n"
                   "dma2.store dst=O, src=0, bytes=96, wait=s0\n",
                   "v4", {{"H", h}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal o = Out(*s, "O");
  for (int p = 0; p < 2; ++p)
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c)
        ASSERT_EQ(o.data<float>()[(p * 3 + r) * 4 + c], float((p + 1) * 48 + (2 * r) * 8 + c + 2));
  // Nested loops with registers, ld/st, a zero-trip loop: Z[i*3+j] = X[0] for i<2, j<3.
  Literal x(Shape(DType::kF32, {8, 128}));
  x.data<float>()[0] = 7.0f;
  auto s2 = RunText(std::string(kTile3) +
                        "set r9, 0\nst r9, 0\nloop r1, 2\n  loop r2, 3\n    ld r3, 0\n    add r3, r3, 4\n    st r3, 0\n"
                        "    dma0.copy dst=r3+Z-4, src=X, bytes=4\n  endloop\n  loop r4, 0\n    halt\n  endloop\nendloop\n",
                    "v4", {{"X", x}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal z = Out(*s2, "Z");
  for (int i = 0; i < 8; ++i) EXPECT_EQ(z.data<float>()[i], i < 6 ? 7.0f : 0.0f) << i;
}

TEST(FuncSim, Int8GemmOnV1) {
  ChipConfig chip = Chip("v1");
  isa::Program p = AsmFile("gemm_int8_v1.s");
  Literal a(Shape(DType::kS8, {512, 256})), b(Shape(DType::kS8, {256, 512}));
  std::mt19937 rng(5);
  for (int i = 0; i < a.num_elements(); ++i) a.data<int8_t>()[i] = static_cast<int8_t>(rng());
  for (int i = 0; i < b.num_elements(); ++i) b.data<int8_t>()[i] = static_cast<int8_t>(rng());
  sim::Simulator s(chip, p);
  ASSERT_TRUE(s.SetBuffer("A", a).ok());
  ASSERT_TRUE(s.SetBuffer("B", b).ok());
  Status st = s.Run();
  ASSERT_TRUE(st.ok()) << st.message();
  Literal c = Out(s, "C"), q = Out(s, "Q");
  for (int r = 0; r < 512; ++r)
    for (int j = 0; j < 512; ++j) {
      int32_t acc = 0;
      for (int k = 0; k < 256; ++k) acc += int32_t(a.data<int8_t>()[r * 256 + k]) * b.data<int8_t>()[k * 512 + j];
      ASSERT_EQ(c.data<int32_t>()[r * 512 + j], acc) << r << "," << j;
      double x = std::nearbyint(acc / 64.0) - 3;
      ASSERT_EQ(q.data<int8_t>()[r * 512 + j], int8_t(std::clamp(x, -128.0, 127.0)));
    }
  // bf16 is not available on v1.
  Status st2;
  auto s2 = RunText("mxu0.load_weights src=0, stride=256, k=1, n=1\n", "v1", {}, &st2);
  EXPECT_EQ(st2.message(),
            "core 0 unit mxu0 pc 0 (test.s:1) 'mxu0.load_weights src=0, stride=256, k=1, n=1': chip 'v1' has no bf16 "
            "matrix unit mode (mxu.bf16_rate = 0)");
}

TEST(FuncSim, OutOfBoundsDmaFaults) {
  Status st;
  auto s = RunText("nop\ndma1.load dst=0, src=0x7ffffff000, bytes=4096, signal=s0\n", "v4", {}, &st);
  EXPECT_EQ(st.message(),
            "core 0 unit dma1 pc 1 (test.s:2) 'dma1.load dst=0, src=0x7ffffff000, bytes=4096, signal=s0': address "
            "0x7ffffff000 + 4096 bytes outside HBM (size 0x800000000)");
  auto s2 = RunText("set r1, 0x1000000\ndma0.load dst=r1-8, src=0, bytes=16, n1=2, ds1=-16, ss1=16\n", "v4", {}, &st);
  EXPECT_EQ(st.message(),
            "core 0 unit dma0 pc 1 (test.s:2) 'dma0.load dst=r1-8, src=0, bytes=16, n1=2, ds1=-16, ss1=16': address "
            "0xfffff8 + 16 bytes outside VMEM (size 0x1000000)");
  auto s3 = RunText("mxu2.matmul lhs=0, stride=256, m=8, acc=0\n", "v4", {}, &st);
  EXPECT_NE(st.message().find("matmul before any weights"), std::string::npos) << st.message();
  auto s4 = RunText("ld r1, 16384\n", "v4", {}, &st);
  EXPECT_EQ(st.message(), "core 0 unit seq pc 0 (test.s:1): address 0x4000 + 8 bytes outside SMEM (size 0x4000)");
  auto s5 = RunText("xlu0.nop signal=s40\n", "v4", {}, &st);
  EXPECT_EQ(st.message(), "core 0 pc 0 (test.s:1) 'xlu0.nop signal=s40': semaphore s40 but chip 'v4' has 32 (sem.count)");
}

TEST(FuncSim, DeadlockNamesWaitingUnits) {
  Status st;
  auto s = RunText("dma0.load dst=0, src=0, bytes=64, wait=s1, signal=s2\n"
                   "mxu1.nop wait=s2, signal=s1\n"
                   "halt\n",
                   "v4", {}, &st);
  EXPECT_EQ(st.message(),
            "deadlock: no unit can make progress; waiting:\n"
            "  core 0 unit dma0 pc 0 (test.s:1) 'dma0.load dst=0, src=0, bytes=64, wait=s1, signal=s2': waits on s1 (value 0)\n"
            "  core 0 unit mxu1 pc 1 (test.s:2) 'mxu1.nop wait=s2, signal=s1': waits on s2 (value 0)");
  // The sequencer waiting on a semaphore nobody signals.
  auto s2 = RunText("nop wait=s5\nhalt\n", "v4", {}, &st);
  EXPECT_EQ(st.message(),
            "deadlock: no unit can make progress; waiting:\n"
            "  core 0 unit seq pc 0 (test.s:1) 'nop wait=s5': waits on s5 (value 0)");
}

TEST(FuncSim, DeterministicAcrossThreadsAndSeeded) {
  ChipConfig chip = Chip("v4");
  isa::Program p = Asm(GemmProgram(64, 256, 256, 128, 2));
  std::vector<Literal> outs;
  for (int threads : {1, 2, 3}) {
    sim::Simulator s(chip, p, {.seed = 9, .threads = threads});
    ASSERT_TRUE(s.Run().ok());
    outs.push_back(Out(s, "C"));
  }
  EXPECT_TRUE(outs[0] == outs[1]);
  EXPECT_TRUE(outs[0] == outs[2]);
  sim::Simulator s(chip, p, {.seed = 10});
  ASSERT_TRUE(s.Run().ok());
  EXPECT_FALSE(Out(s, "C") == outs[0]);
}

}  // namespace
}  // namespace xtpu


namespace xtpu {
namespace {

TEST(SimCommand, AsmDisasmSimWithNpy) {
  std::string dir = ::testing::TempDir();
  std::string bin = dir + "/h8_gemm.bin";
  ASSERT_TRUE(sim::AsmCommand(AsmDir() + "gemm_bf16_256.s", bin).ok());
  StatusOr<std::string> text = sim::DisasmCommand(bin);
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->find("mxu3.matmul"), std::string::npos);
  Literal a = RandomBf16({256, 256}, 1);
  Literal a32(Shape(DType::kF32, {256, 256}));
  for (int i = 0; i < 256 * 256; ++i) a32.data<float>()[i] = a.data<bf16>()[i].ToFloat();
  ASSERT_TRUE(WriteNpy(dir + "/h8_a.npy", a32).ok());
  sim::SimCommandOptions o;
  o.program = bin;
  o.inputs = {{"A", dir + "/h8_a.npy"}};
  o.output_dir = dir;
  o.stats_path = dir + "/h8_stats.json";
  std::string summary;
  Status st = sim::RunSimCommand(o, &summary);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_NE(summary.find("wrote C (f32[256,256])"), std::string::npos) << summary;
  StatusOr<Literal> c = ReadNpy(dir + "/C.npy");
  ASSERT_TRUE(c.ok());
  StatusOr<std::string> stats = ReadFileToString(o.stats_path);
  ASSERT_TRUE(stats.ok());
  EXPECT_NE(stats->find("\"mxu_flops\": 33554432"), std::string::npos);
}

}  // namespace
}  // namespace xtpu
