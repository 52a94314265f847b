// The vector unit's row paths: on dense VMEM, 32-bit rows are computed in
// place when a row of the output is the same bytes as, or disjoint from, the
// input row; otherwise (partial overlap) the row is read whole first. Every
// case must equal the ISA's definition (read the row, compute each element
// with VpuBinaryF32 / VpuUnaryF32, write the row), including NaN payloads,
// -0 vs +0 in max/min, and bf16 rounding.
#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "xtpu/chip/chip.h"
#include "xtpu/ir/dtype.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/sim/vpu_ops.h"

namespace xtpu {
namespace {

constexpr int64_t kBytes = 64 * 1024;  // the VMEM window the programs use

ChipConfig V4() {
  StatusOr<ChipConfig> c = LoadChip("v4");
  XTPU_CHECK(c.ok());
  return *c;
}

// Interesting floats: NaNs with payloads, zeros of both signs, infinities,
// values that round differently to bf16.
std::vector<uint8_t> InitialBytes(uint32_t seed) {
  std::mt19937 rng(seed);
  const uint32_t special[] = {0x7fc00001u, 0xffc12345u, 0x7f800001u, 0x00000000u, 0x80000000u, 0x7f800000u,
                              0xff800000u, 0x3f808000u, 0x3f818000u, 0x3f80c000u, 0x00000001u, 0x7f7fffffu};
  std::vector<uint8_t> v(kBytes);
  for (int64_t i = 0; i < kBytes / 4; ++i) {
    uint32_t u = rng() % 4 == 0 ? special[rng() % std::size(special)]
                                : std::bit_cast<uint32_t>(std::uniform_real_distribution<float>(-4, 4)(rng));
    std::memcpy(v.data() + 4 * i, &u, 4);
  }
  return v;
}

float LoadF(const std::vector<uint8_t>& m, int64_t addr, DType t) {
  if (t == DType::kF32) {
    float f;
    std::memcpy(&f, m.data() + addr, 4);
    return f;
  }
  uint16_t b;
  std::memcpy(&b, m.data() + addr, 2);
  return bf16{b}.ToFloat();
}

void StoreF(std::vector<uint8_t>& m, int64_t addr, DType t, float f) {
  if (t == DType::kF32) return (void)std::memcpy(m.data() + addr, &f, 4);
  uint16_t b = bf16::FromFloat(f).bits;
  std::memcpy(m.data() + addr, &b, 2);
}

struct Case {
  std::string text;  // the instruction
  // The reference: applies it to `m`.
  std::function<void(std::vector<uint8_t>&)> apply;
  // IEEE leaves open which NaN a + b returns when both are NaNs (compilers
  // swap the operands of commutative ops): any NaN is accepted for add, mul
  // and sum. (tests/asm NaN cases pin the simulator's own choice.)
  bool any_nan = false;
};

Case Binary(isa::BinOp op, const char* opname, DType t, int64_t dst, int64_t a, int64_t b, int64_t rows, int64_t cols,
            int64_t ds, int64_t as, int64_t bs, bool bcol) {
  Case c;
  c.any_nan = op == isa::BinOp::kAdd || op == isa::BinOp::kMul;
  c.text = fmt::format("vpu.binary {}, {}, dst={}, a={}, b={}, rows={}, cols={}, ds={}, as={}, bs={}, bmode={}", opname,
                       t == DType::kF32 ? "f32" : "bf16", dst, a, b, rows, cols, ds, as, bs, bcol ? "col" : "tile");
  c.apply = [=](std::vector<uint8_t>& m) {
    const int esz = DTypeBytes(t);
    for (int64_t i = 0; i < rows; ++i) {
      std::vector<float> x(cols), y(bcol ? 1 : cols);
      for (int64_t j = 0; j < cols; ++j) x[j] = LoadF(m, a + i * as + j * esz, t);
      for (size_t j = 0; j < y.size(); ++j) y[j] = LoadF(m, b + i * bs + j * esz, t);
      for (int64_t j = 0; j < cols; ++j)
        StoreF(m, dst + i * ds + j * esz, t, sim::VpuBinaryF32(op, x[j], y[bcol ? 0 : j]));
    }
  };
  return c;
}

Case Unary(isa::UnOp op, const char* opname, DType t, int64_t dst, int64_t a, int64_t rows, int64_t cols, int64_t ds,
           int64_t as) {
  Case c;
  c.text = fmt::format("vpu.unary {}, {}, dst={}, a={}, rows={}, cols={}, ds={}, as={}", opname,
                       t == DType::kF32 ? "f32" : "bf16", dst, a, rows, cols, ds, as);
  c.apply = [=](std::vector<uint8_t>& m) {
    const int esz = DTypeBytes(t);
    for (int64_t i = 0; i < rows; ++i) {
      std::vector<float> x(cols);
      for (int64_t j = 0; j < cols; ++j) x[j] = LoadF(m, a + i * as + j * esz, t);
      for (int64_t j = 0; j < cols; ++j) StoreF(m, dst + i * ds + j * esz, t, sim::VpuUnaryF32(op, x[j]));
    }
  };
  return c;
}

Case Reduce(isa::RedOp op, const char* opname, DType t, int64_t dst, int64_t src, int64_t rows, int64_t cols,
            int64_t ss) {
  Case c;
  c.any_nan = op == isa::RedOp::kSum;
  c.text = fmt::format("vpu.reduce {}, {}, dst={}, src={}, rows={}, cols={}, ss={}", opname,
                       t == DType::kF32 ? "f32" : "bf16", dst, src, rows, cols, ss);
  c.apply = [=](std::vector<uint8_t>& m) {
    const int esz = DTypeBytes(t);
    std::vector<float> s(cols);
    for (int64_t j = 0; j < cols; ++j) s[j] = LoadF(m, src + j * esz, t);
    for (int64_t i = 1; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        float x = LoadF(m, src + i * ss + j * esz, t);
        s[j] = op == isa::RedOp::kSum ? s[j] + x : op == isa::RedOp::kMax ? sim::MaxF32(s[j], x) : sim::MinF32(s[j], x);
      }
    for (int64_t j = 0; j < cols; ++j) StoreF(m, dst + j * esz, t, s[j]);
  };
  return c;
}

void Check(const Case& c, uint32_t seed) {
  SCOPED_TRACE(c.text);
  std::string text = fmt::format(".buffer V vmem u8[{}] inout at 0\n{}\n", kBytes, c.text);
  StatusOr<isa::Program> p = isa::Assemble(text, "rows.s");
  ASSERT_TRUE(p.ok()) << p.status().message();
  std::vector<uint8_t> init = InitialBytes(seed), want = init;
  c.apply(want);
  sim::Simulator s(V4(), *p, {.threads = 1});
  ASSERT_TRUE(s.SetBuffer("V", Literal(Shape(DType::kU8, {kBytes}), init)).ok());
  Status st = s.Run();
  ASSERT_TRUE(st.ok()) << st.message();
  StatusOr<Literal> got = s.GetBuffer("V");
  ASSERT_TRUE(got.ok());
  // Element by element (bf16: 2 bytes; the programs only use f32 or bf16).
  const bool is_bf16 = c.text.find("bf16") != std::string::npos;
  const int step = is_bf16 ? 2 : 4;
  for (int64_t i = 0; i < kBytes; i += step) {
    const DType t = is_bf16 ? DType::kBF16 : DType::kF32;
    uint32_t g = 0, w = 0;
    std::memcpy(&g, got->bytes().data() + i, step);
    std::memcpy(&w, want.data() + i, step);
    if (c.any_nan && std::isnan(LoadF(got->bytes(), i, t)) && std::isnan(LoadF(want, i, t))) continue;
    ASSERT_EQ(g, w) << "byte " << i;
  }
}

using isa::BinOp;
using isa::RedOp;
using isa::UnOp;

TEST(VpuRows, InPlaceDisjointAndPartiallyOverlappingRows) {
  uint32_t seed = 1;
  for (DType t : {DType::kF32, DType::kBF16}) {
    const int e = DTypeBytes(t);
    for (auto [op, name] : {std::pair{BinOp::kMax, "max"}, {BinOp::kMin, "min"}, {BinOp::kAdd, "add"},
                            {BinOp::kMul, "mul"}, {BinOp::kGt, "gt"}}) {
      // In place, disjoint, output shifted by one element into its input
      // (row i's output overlaps row i's input), broadcast column, strided.
      Check(Binary(op, name, t, 0, 0, 8192, 8, 128, 512, 512, 512, false), seed++);
      Check(Binary(op, name, t, 16384, 0, 8192, 8, 128, 512, 512, 512, false), seed++);
      Check(Binary(op, name, t, e, 0, 8192, 8, 128, 512, 512, 512, false), seed++);
      Check(Binary(op, name, t, 0, e, 8192, 8, 128, 512, 512, 512, false), seed++);
      Check(Binary(op, name, t, 8192 + 4 * e, 0, 8192, 8, 128, 512, 512, 512, false), seed++);
      Check(Binary(op, name, t, 0, 0, 64 * e, 8, 100, 512, 512, 4, true), seed++);
      Check(Binary(op, name, t, 0, 0, 0, 8, 100, 512, 512, 512, true), seed++);  // b inside the output row
      Check(Binary(op, name, t, 20000, 0, 40000, 5, 77, 600, 1000, 8, false), seed++);
      Check(Binary(op, name, t, 0, 2, 40000, 5, 77, 600, 1000, 8, false), seed++);  // unaligned input
    }
    for (auto [op, name] : {std::pair{UnOp::kRelu, "relu"}, {UnOp::kNeg, "neg"}, {UnOp::kAbs, "abs"},
                            {UnOp::kCopy, "copy"}, {UnOp::kExp, "exp"}}) {
      Check(Unary(op, name, t, 0, 0, 8, 128, 512, 512), seed++);
      Check(Unary(op, name, t, e, 0, 8, 128, 512, 512), seed++);
      Check(Unary(op, name, t, 0, e, 8, 128, 512, 512), seed++);
      Check(Unary(op, name, t, 8192, 0, 8, 128, 516, 512), seed++);
    }
    for (auto [op, name] : {std::pair{RedOp::kMax, "max"}, {RedOp::kMin, "min"}, {RedOp::kSum, "sum"}}) {
      Check(Reduce(op, name, t, 40000, 0, 9, 128, 512), seed++);
      Check(Reduce(op, name, t, 0, 0, 9, 128, 512), seed++);   // output over the first row
      Check(Reduce(op, name, t, 512, 0, 9, 128, 512), seed++);  // ... over a later row
      Check(Reduce(op, name, t, 40002, 2, 3, 61, 260), seed++);
    }
  }
}

}  // namespace
}  // namespace xtpu
