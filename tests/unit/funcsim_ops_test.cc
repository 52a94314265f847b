// Functional simulator tests of the instructions the compiler needs beyond
// the first ISA: VPU compares, select and the new unary/binary ops (bit for
// bit against the reference evaluator), dma.gather, the chip-wide barrier
// (incl. its deadlock report) and timing-only runs.
#include <gtest/gtest.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include <nlohmann/json.hpp>

#include "xtpu/chip/chip.h"
#include "xtpu/ir/evaluator.h"
#include "xtpu/ir/parser.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/support/npy.h"

namespace xtpu {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::string AsmDir() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind('/')) + "/../asm/";
}

ChipConfig Chip(const std::string& name) {
  StatusOr<ChipConfig> c = LoadChip(name);
  XTPU_CHECK(c.ok());
  return *c;
}

uint32_t Bits(float f) { return std::bit_cast<uint32_t>(f); }

// Runs assembly `text` on `chip_name`; `status` gets Run()'s result.
std::unique_ptr<sim::Simulator> RunText(const std::string& text, const std::vector<std::pair<std::string, Literal>>& in,
                                        Status* status, const std::string& chip_name = "v4",
                                        sim::SimOptions options = {}) {
  StatusOr<isa::Program> p = isa::Assemble(text, "test.s");
  EXPECT_TRUE(p.ok()) << p.status().message();
  auto s = std::make_unique<sim::Simulator>(Chip(chip_name), p.ok() ? *p : isa::Program{}, options);
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

// Evaluates IR text `body` (instructions of ENTRY main, the last one `out`
// of type `type`) on `args`.
Literal Eval(const std::string& body, const std::string& type, const std::vector<Literal>& args) {
  StatusOr<std::unique_ptr<Module>> m = ParseModule(
      "HloModule m\n\nENTRY main {\n" + body + fmt::format("  ROOT t = ({}) tuple(out)\n}}\n", type), "t.tir");
  if (!m.ok()) ADD_FAILURE() << m.status().message();
  if (!m.ok()) return Literal();
  StatusOr<std::vector<Literal>> r = Evaluate(**m, args);
  if (!r.ok()) ADD_FAILURE() << r.status().message();
  return r.ok() ? (*r)[0] : Literal();
}

// 8 x 128 f32 values: random in [lo, hi), with special values at the start
// of the row 0 (signed zeros, infinities, NaN, halves for the roundings).
Literal Values(uint32_t seed, float lo, float hi) {
  Literal l(Shape(DType::kF32, {8, 128}));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  float* v = l.data<float>();
  for (int i = 0; i < 8 * 128; ++i) v[i] = u(rng);
  const float special[] = {0.0f, -0.0f, kInf, -kInf, kNaN, 0.5f, -0.5f, 1.5f, 2.5f, -2.5f, 1.0f, -1.0f, 3.0f};
  for (size_t i = 0; i < std::size(special); ++i) v[i] = special[i];
  for (int i = 0; i < 16; ++i) v[128 + i] = v[i * 7];  // a few equal pairs for the compares
  return l;
}

// Converts an f32 literal to bf16 (nearest even).
Literal ToBf16(const Literal& f) {
  Literal b(Shape(DType::kBF16, f.shape().dims));
  for (int64_t i = 0; i < f.num_elements(); ++i) b.data<bf16>()[i] = bf16::FromFloat(f.data<float>()[i]);
  return b;
}

constexpr const char* kDecl = ".buffer X vmem {0}[8,128] input\n.buffer Y vmem {0}[8,128] input\n"
                    ".buffer Z vmem {0}[8,128] output\n.buffer S vmem {0}[8,128] output\n";

// Compares two literals element by element, bit for bit.
void ExpectSameBits(const Literal& chip, const Literal& ref, const std::string& what) {
  ASSERT_EQ(chip.shape(), ref.shape()) << what;
  ASSERT_EQ(chip.bytes().size(), ref.bytes().size());
  int bad = 0;
  const int esz = DTypeBytes(chip.dtype());
  for (int64_t i = 0; i < chip.num_elements() && bad < 5; ++i) {
    if (std::memcmp(chip.bytes().data() + i * esz, ref.bytes().data() + i * esz, esz) != 0) {
      ADD_FAILURE() << what << ": element " << i << " chip " << chip.GetAsDouble(i) << " evaluator "
                    << ref.GetAsDouble(i);
      ++bad;
    }
  }
}

TEST(VpuOps, UnaryMatchesEvaluatorBits) {
  struct Case { const char* chip; const char* ir; float lo, hi; };
  const Case cases[] = {{"floor", "floor", -8, 8},       {"ceil", "ceil", -8, 8},
                        {"round_even", "round-nearest-even", -8, 8}, {"sign", "sign", -2, 2},
                        {"logistic", "logistic", -20, 20}, {"sin", "sine", -10, 10},
                        {"cos", "cosine", -10, 10},       {"exp", "exponential", -90, 90},
                        {"log", "log", 0, 100},           {"tanh", "tanh", -5, 5},
                        {"erf", "erf", -4, 4},            {"sqrt", "sqrt", 0, 100},
                        {"rsqrt", "rsqrt", 0, 100}};
  for (const char* type : {"f32", "bf16"}) {
    for (const Case& c : cases) {
      SCOPED_TRACE(fmt::format("{} {}", c.chip, type));
      Literal x = Values(21, c.lo, c.hi);
      if (std::string(type) == "bf16") x = ToBf16(x);
      Status st;
      auto s = RunText(fmt::format(kDecl, type) +
                           fmt::format("vpu.unary {}, {}, dst=Z, a=X, rows=8, cols=128, ds={}, as={}\n", c.chip, type,
                                       128 * DTypeBytes(x.dtype()), 128 * DTypeBytes(x.dtype())),
                       {{"X", x}}, &st);
      ASSERT_TRUE(st.ok()) << st.message();
      Literal ref = Eval(fmt::format("  x = {0}[8,128] parameter(0)\n  out = {0}[8,128] {1}(x)\n", type, c.ir),
                         std::string(type) + "[8,128]", {x});
      ExpectSameBits(Out(*s, "Z"), ref, c.chip);
    }
  }
}

TEST(VpuOps, BinaryAndCompareMatchEvaluatorBits) {
  struct Case { const char* chip; const char* ir; };
  const Case cases[] = {{"pow", "power"}, {"rem", "remainder"}, {"atan2", "atan2"}};
  for (const char* type : {"f32", "bf16"}) {
    Literal x = Values(31, -6, 6), y = Values(32, -3, 3);
    if (std::string(type) == "bf16") x = ToBf16(x), y = ToBf16(y);
    const int64_t row = 128 * DTypeBytes(x.dtype());
    for (const Case& c : cases) {
      SCOPED_TRACE(fmt::format("{} {}", c.chip, type));
      Status st;
      auto s = RunText(fmt::format(kDecl, type) +
                           fmt::format("vpu.binary {0}, {1}, dst=Z, a=X, b=Y, rows=8, cols=128, ds={2}, as={2}, bs={2}\n",
                                       c.chip, type, row),
                       {{"X", x}, {"Y", y}}, &st);
      ASSERT_TRUE(st.ok()) << st.message();
      Literal ref = Eval(fmt::format("  x = {0}[8,128] parameter(0)\n  y = {0}[8,128] parameter(1)\n"
                                     "  out = {0}[8,128] {1}(x, y)\n",
                                     type, c.ir),
                         std::string(type) + "[8,128]", {x, y});
      ExpectSameBits(Out(*s, "Z"), ref, c.chip);
    }
    // Compares give 1/0 in the dtype; select with them as predicate equals
    // the evaluator's compare + select (NaN, signed zeros and equal pairs included).
    for (const char* dir : {"eq", "ne", "lt", "le", "gt", "ge"}) {
      SCOPED_TRACE(fmt::format("{} {}", dir, type));
      Status st;
      // The predicate tile P is f32 words; for bf16 it is made with an f32 compare
      // of the operands widened by vpu.convert.
      std::string text = fmt::format(kDecl, type) + ".buffer P vmem f32[8,128] scratch\n";
      text += fmt::format("vpu.binary {0}, {1}, dst=Z, a=X, b=Y, rows=8, cols=128, ds={2}, as={2}, bs={2}\n", dir,
                          type, row);
      text += ".buffer XF vmem f32[8,128] scratch\n.buffer YF vmem f32[8,128] scratch\n";
      text += fmt::format("vpu.convert f32, {0}, dst=XF, src=X, rows=8, cols=128, ds=512, ss={1}\n"
                          "vpu.convert f32, {0}, dst=YF, src=Y, rows=8, cols=128, ds=512, ss={1}\n",
                          type, row);
      if (std::string(type) == "f32") text.erase(text.find("vpu.convert"));  // f32 needs no widening
      text += fmt::format("vpu.binary {}, f32, dst=P, a={}, b={}, rows=8, cols=128, ds=512, as=512, bs=512\n", dir,
                          std::string(type) == "f32" ? "X" : "XF", std::string(type) == "f32" ? "Y" : "YF");
      text += fmt::format("vpu.select {0}, dst=S, p=P, a=X, b=Y, rows=8, cols=128, ds={1}, ps=512, as={1}, bs={1}\n",
                          type, row);
      auto s = RunText(text, {{"X", x}, {"Y", y}}, &st);
      ASSERT_TRUE(st.ok()) << st.message();
      std::string upper = dir;
      for (char& ch : upper) ch = static_cast<char>(std::toupper(ch));
      std::string ir = fmt::format(
          "  x = {0}[8,128] parameter(0)\n  y = {0}[8,128] parameter(1)\n"
          "  c = pred[8,128] compare(x, y), direction={1}\n  one = {0}[] constant(1)\n  zero = {0}[] constant(0)\n"
          "  ones = {0}[8,128] broadcast(one), dimensions={{}}\n  zeros = {0}[8,128] broadcast(zero), dimensions={{}}\n"
          "  s = {0}[8,128] select(c, ones, zeros)\n  sel = {0}[8,128] select(c, x, y)\n"
          "  ROOT t = ({0}[8,128], {0}[8,128]) tuple(s, sel)\n",
          type, upper);
      StatusOr<std::unique_ptr<Module>> m = ParseModule("HloModule m\n\nENTRY main {\n" + ir + "}\n", "t.tir");
      ASSERT_TRUE(m.ok()) << m.status().message();
      StatusOr<std::vector<Literal>> r = Evaluate(**m, {x, y});
      ASSERT_TRUE(r.ok()) << r.status().message();
      ExpectSameBits(Out(*s, "Z"), (*r)[0], std::string(dir) + " result");
      ExpectSameBits(Out(*s, "S"), (*r)[1], std::string(dir) + " select");
    }
  }
}

TEST(VpuOps, S32CompareRemSign) {
  Literal x = Literal::FromVector<int>(DType::kS32, {1, 6}, std::vector<int>{7, -7, INT32_MIN, 5, 0, -3});
  Literal y = Literal::FromVector<int>(DType::kS32, {1, 6}, std::vector<int>{3, 3, -1, 0, 0, -3});
  const char* decl = ".buffer X vmem s32[1,6] input\n.buffer Y vmem s32[1,6] input\n.buffer Z vmem s32[1,6] output\n";
  auto run = [&](const std::string& line) {
    Status st;
    auto s = RunText(std::string(decl) + line + "\n", {{"X", x}, {"Y", y}}, &st);
    EXPECT_TRUE(st.ok()) << st.message();
    if (!st.ok()) return std::vector<int32_t>{};
    Literal z = Out(*s, "Z");
    return std::vector<int32_t>(z.data<int32_t>(), z.data<int32_t>() + 6);
  };
  auto bin = [&](const char* op) {
    return run(fmt::format("vpu.binary {}, s32, dst=Z, a=X, b=Y, rows=1, cols=6, ds=0, as=0, bs=0", op));
  };
  // C remainder (sign of the dividend), x % 0 = 0, INT_MIN % -1 = 0: the evaluator's rules.
  EXPECT_EQ(bin("rem"), (std::vector<int32_t>{1, -1, 0, 0, 0, 0}));
  EXPECT_EQ(bin("lt"), (std::vector<int32_t>{0, 1, 1, 0, 0, 0}));
  EXPECT_EQ(bin("ge"), (std::vector<int32_t>{1, 0, 0, 1, 1, 1}));
  EXPECT_EQ(bin("eq"), (std::vector<int32_t>{0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(bin("ne"), (std::vector<int32_t>{1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(run("vpu.unary sign, s32, dst=Z, a=X, rows=1, cols=6, ds=0, as=0"),
            (std::vector<int32_t>{1, -1, -1, 1, 0, -1}));
  EXPECT_EQ(run("vpu.binary_imm rem, s32, dst=Z, a=X, imm=-4, rows=1, cols=6, ds=0, as=0"),
            (std::vector<int32_t>{3, -3, 0, 1, 0, -3}));
}

TEST(VpuOps, BitwiseS32OnAnyWords) {
  // The compiler zeroes f32 regions with `and imm 0` and flips signs with xor:
  // the words are taken as they are (NaN payloads, -0, infinities).
  Literal x = Values(41, -1, 1);
  x.data<float>()[20] = std::bit_cast<float>(0x7fa00001u);  // signalling NaN payload
  Status st;
  auto s = RunText(fmt::format(kDecl, "f32") +
                       "vpu.binary_imm and, s32, dst=Z, a=X, imm=0, rows=8, cols=128, ds=512, as=512\n"
                       "vpu.binary_imm xor, s32, dst=S, a=X, imm=0x80000000 - 0x100000000, rows=8, cols=128, ds=512, as=512\n",
                   {{"X", x}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal z = Out(*s, "Z"), sx = Out(*s, "S");
  for (int i = 0; i < 8 * 128; ++i) {
    ASSERT_EQ(Bits(z.data<float>()[i]), 0u) << i;
    ASSERT_EQ(Bits(sx.data<float>()[i]), Bits(x.data<float>()[i]) ^ 0x80000000u) << i;
  }
}

TEST(VpuOps, SelectCopiesBitsAndTestsWords) {
  // p is tested as a 32-bit word: -0.0f (0x80000000) selects a; a's bits
  // (NaN payload, -0) are copied unchanged; bf16 tiles use their own strides.
  Literal p = Literal::FromVector<float>(DType::kF32, {2, 4}, std::vector<float>{1, 0, -0.0f, 0, 0, 0, 0, 2});
  Literal a = Literal::FromVector<float>(DType::kF32, {2, 4}, std::vector<float>{-0.0f, 1, 2, 3, 4, 5, 6, 7});
  a.data<float>()[2] = std::bit_cast<float>(0x7fc00123u);
  Literal b = Literal::FromVector<float>(DType::kF32, {2, 4}, std::vector<float>{10, 11, 12, 13, 14, 15, 16, 17});
  Status st;
  auto s = RunText(".buffer P vmem f32[2,4] input\n.buffer A vmem f32[2,4] input\n.buffer B vmem f32[2,4] input\n"
                   ".buffer D vmem f32[2,4] output\n.buffer AB vmem bf16[2,4] scratch\n.buffer BB vmem bf16[2,4] scratch\n"
                   ".buffer DB vmem bf16[2,4] output\n"
                   "vpu.select f32, dst=D, p=P, a=A, b=B, rows=2, cols=4, ds=16, ps=16, as=16, bs=16\n"
                   "vpu.convert bf16, f32, dst=AB, src=A, rows=2, cols=4, ds=8, ss=16\n"
                   "vpu.convert bf16, f32, dst=BB, src=B, rows=2, cols=4, ds=8, ss=16\n"
                   "vpu.select bf16, dst=DB, p=P, a=AB, b=BB, rows=2, cols=4, ds=8, ps=16, as=8, bs=0\n",
                   {{"P", p}, {"A", a}, {"B", b}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal d = Out(*s, "D"), db = Out(*s, "DB");
  const uint32_t expect[] = {Bits(-0.0f), Bits(11), 0x7fc00123u, Bits(13), Bits(14), Bits(15), Bits(16), Bits(7)};
  for (int i = 0; i < 8; ++i) EXPECT_EQ(Bits(d.data<float>()[i]), expect[i]) << i;
  // bs=0: row 1 of b is row 0 of b.
  const float expect_b[] = {-0.0f, 11, 0, 13, 10, 11, 12, 7};
  for (int i = 0; i < 8; ++i)
    if (i != 2) EXPECT_EQ(db.data<bf16>()[i].bits, bf16::FromFloat(expect_b[i]).bits) << i;
  EXPECT_TRUE(std::isnan(db.data<bf16>()[2].ToFloat()));
  // Faults name the operand's address; sizes are constants.
  auto s2 = RunText("vpu.select f32, dst=0, p=0x1000000, a=0, b=0, rows=1, cols=1, ds=0, ps=0, as=0, bs=0\n", {}, &st);
  EXPECT_EQ(st.message(),
            "core 0 unit vpu pc 0 (test.s:1) 'vpu.select f32, dst=0, p=0x1000000, a=0, b=0, rows=1, cols=1, ds=0, "
            "ps=0, as=0, bs=0': address 0x1000000 + 4 bytes outside VMEM (size 0x1000000)");
  StatusOr<isa::Program> bad =
      isa::Assemble("vpu.select f32, dst=0, p=0, a=0, b=0, rows=r1, cols=1, ds=0, ps=0, as=0, bs=0\n", "t.s");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "t.s:1: vpu.select: operand 'rows': a constant is needed, not a register, in 'r1'");
}

TEST(VpuOps, DtypeRules) {
  auto err = [](const std::string& text) {
    StatusOr<isa::Program> p = isa::Assemble(text, "t.s");
    return p.ok() ? std::string("OK") : p.status().message();
  };
  EXPECT_EQ(err("vpu.binary pow, s32, dst=0, a=0, b=0, rows=1, cols=1, ds=0, as=0, bs=0\n"),
            "t.s:1: vpu.binary: vpu.binary: op 'pow' needs dtype f32 or bf16");
  EXPECT_EQ(err("vpu.binary_imm atan2, s32, dst=0, a=0, imm=1, rows=1, cols=1, ds=0, as=0\n"),
            "t.s:1: vpu.binary_imm: vpu.binary_imm: op 'atan2' needs dtype f32 or bf16");
  EXPECT_EQ(err("vpu.unary floor, s32, dst=0, a=0, rows=1, cols=1, ds=0, as=0\n"),
            "t.s:1: vpu.unary: vpu.unary: op 'floor' needs dtype f32 or bf16");
  EXPECT_EQ(err("vpu.binary lt, s8, dst=0, a=0, b=0, rows=1, cols=1, ds=0, as=0, bs=0\n"),
            "t.s:1: vpu.binary: vpu.binary: s8 is not an arithmetic type (convert to s32 first)");
  EXPECT_EQ(err("vpu.unary sign, s32, dst=0, a=0, rows=1, cols=1, ds=0, as=0\n"
                "vpu.binary rem, s32, dst=0, a=0, b=0, rows=1, cols=1, ds=0, as=0, bs=0\n"
                "vpu.select s8, dst=0, p=0, a=0, b=0, rows=1, cols=1, ds=0, ps=0, as=0, bs=0\n"),
            "OK");
}

// ---- dma.gather -----------------------------------------------------------

TEST(DmaGather, GathersRowsAndFaults) {
  // T is a 10 x 16 f32 table in HBM; gather rows 3, 0, 9, 3, 7 (4 bytes of
  // padding between table rows: stride 68).
  Literal t(Shape(DType::kF32, {10, 17}));
  for (int i = 0; i < 170; ++i) t.data<float>()[i] = float(i);
  Literal idx = Literal::FromVector<int>(DType::kS32, {5}, std::vector<int>{3, 0, 9, 3, 7});
  const std::string decl = ".buffer T hbm f32[10,17] input\n.buffer I vmem s32[5] input\n.buffer V vmem f32[5,16] output\n";
  Status st;
  auto s = RunText(decl + "dma1.gather dst=V, src=T, idx=I, rows=5, bytes=64, stride=68, limit=10\n",
                   {{"T", t}, {"I", idx}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal v = Out(*s, "V");
  const int rows[] = {3, 0, 9, 3, 7};
  for (int i = 0; i < 5; ++i)
    for (int b = 0; b < 16; ++b) ASSERT_EQ(v.data<float>()[i * 16 + b], float(rows[i] * 17 + b)) << i << "," << b;
  EXPECT_EQ(s->stats().hbm_read_bytes, 5 * 64);
  EXPECT_EQ(s->stats().vmem_write_bytes, 5 * 64);
  // An index outside [0, limit): a fault naming the index and its position.
  Literal bad = Literal::FromVector<int>(DType::kS32, {5}, std::vector<int>{3, 0, 10, 3, -1});
  auto s2 = RunText(decl + "dma1.gather dst=V, src=T, idx=I, rows=5, bytes=64, stride=68, limit=10\n",
                    {{"T", t}, {"I", bad}}, &st);
  EXPECT_EQ(st.message(),
            "core 0 unit dma1 pc 0 (test.s:4) 'dma1.gather dst=4096, src=0, idx=0, rows=5, bytes=64, stride=68, "
            "limit=10': gather index 10 at idx + 8 is outside [0, limit = 10)")
      << st.message();
  // Every row the limit allows must be in HBM, whatever the indices are.
  auto s3 = RunText("dma0.gather dst=0, src=0x7fffff000, idx=0, rows=1, bytes=64, stride=64, limit=65\n", {}, &st);
  EXPECT_EQ(st.message(),
            "core 0 unit dma0 pc 0 (test.s:1) 'dma0.gather dst=0, src=0x7fffff000, idx=0, rows=1, bytes=64, "
            "stride=64, limit=65': address 0x800000000 + 64 bytes outside HBM (size 0x800000000)")
      << st.message();
  auto s4 = RunText("dma0.gather dst=0, src=0, idx=0, rows=2, bytes=64, stride=64, limit=0\n", {}, &st);
  EXPECT_NE(st.message().find("gather of 2 rows from an empty table (limit = 0)"), std::string::npos) << st.message();
  auto s5 = RunText("dma0.gather dst=0xfffff0, src=0, idx=0, rows=1, bytes=64, stride=64, limit=1\n", {}, &st);
  EXPECT_NE(st.message().find("address 0xfffff0 + 64 bytes outside VMEM"), std::string::npos) << st.message();
}

// ---- barrier ----------------------------------------------------------------

TEST(Barrier, TwoCoreExchange) {
  StatusOr<std::string> text = ReadFileToString(AsmDir() + "barrier_2core.s");
  ASSERT_TRUE(text.ok());
  Literal x(Shape(DType::kF32, {2, 1024}));
  for (int i = 0; i < 2048; ++i) x.data<float>()[i] = float(i) * 0.25f;
  Status st;
  auto s = RunText(*text, {{"X", x}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal z = Out(*s, "Z");
  for (int c = 0; c < 2; ++c)
    for (int j = 0; j < 1024; ++j)
      ASSERT_EQ(z.data<float>()[c * 1024 + j], 2 * x.data<float>()[(1 - c) * 1024 + j] + 1) << c << "," << j;
  EXPECT_EQ(s->stats().instructions.at("core1.seq"), 3);  // nop, barrier, halt
}

// The serial scheduler (threads = 1) runs core 0 before core 1, so without
// the barrier core 0 reads HBM before core 1 has written it: the barrier is
// what orders them. (With threads >= 2 the cores run at once and the racy
// version's result is undefined.)
TEST(Barrier, OrdersCores) {
  const std::string prog = R"(
.buffer X hbm f32[64] input
.buffer H hbm f32[64] scratch
.buffer Z hbm f32[64] output
.core 0
BARRIER
dma0.load dst=0, src=H, bytes=256, signal=s0
dma0.store dst=Z, src=0, bytes=256, wait=s0
.core 1
dma0.load dst=0, src=X, bytes=256, signal=s0
dma0.store dst=H, src=0, bytes=256, wait=s0, signal=s1
nop wait=s1
BARRIER
)";
  Literal x(Shape(DType::kF32, {64}));
  for (int i = 0; i < 64; ++i) x.data<float>()[i] = float(i + 1);
  for (bool with : {true, false}) {
    std::string text = prog;
    for (size_t p; (p = text.find("BARRIER")) != std::string::npos;) text.replace(p, 7, with ? "barrier" : "nop");
    Status st;
    auto s = RunText(text, {{"X", x}}, &st, "v4", {.threads = 1});
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(Out(*s, "Z") == x, with);
  }
}

TEST(Barrier, RepeatedInLoops) {
  // Both cores pass 3 barriers (in a loop on core 0, unrolled on core 1); a
  // counter in HBM written by core 1 before each barrier is read by core 0 after it.
  const std::string prog = R"(
.buffer H hbm s32[4] scratch
.buffer Z hbm s32[3] output
.core 0
loop r1, 3
  barrier
  mul r2, r1, 4
  dma0.load dst=r2+64, src=H, bytes=4, signal=s0
  nop wait=s0
  barrier
endloop
dma0.store dst=Z, src=64, bytes=12, signal=s0
nop wait=s0
.core 1
.buffer C vmem1 s32[3] input
dma0.store dst=H, src=C, bytes=4, signal=s0
nop wait=s0
barrier
barrier
dma0.store dst=H, src=C+4, bytes=4, signal=s0
nop wait=s0
barrier
barrier
dma0.store dst=H, src=C+8, bytes=4, signal=s0
nop wait=s0
barrier
barrier
)";
  Status st;
  auto s = RunText(prog, {{"C", Literal::FromVector<int>(DType::kS32, {3}, std::vector<int>{5, 6, 7})}}, &st);
  ASSERT_TRUE(st.ok()) << st.message();
  Literal z = Out(*s, "Z");
  EXPECT_EQ((std::vector<int32_t>(z.data<int32_t>(), z.data<int32_t>() + 3)), (std::vector<int32_t>{5, 6, 7}));
}

TEST(Barrier, MissingBarrierIsADeadlockNamingTheCores) {
  Status st;
  auto s = RunText(".core 0\nnop\nbarrier\nhalt\n.core 1\nset r1, 1\nhalt\n", {}, &st);
  EXPECT_EQ(st.message(),
            "deadlock: no unit can make progress; waiting:\n"
            "  core 0 unit seq pc 1 (test.s:3) 'barrier': waits at barrier 0 for core 1 (halted after 0 barrier(s))");
  // One barrier too many on core 1: it waits for core 0, which ended.
  auto s2 = RunText(".core 0\nbarrier\n.core 1\nbarrier\nbarrier\n", {}, &st);
  EXPECT_EQ(st.message(),
            "deadlock: no unit can make progress; waiting:\n"
            "  core 1 unit seq pc 1 (test.s:5) 'barrier': waits at barrier 1 for core 0 (halted after 1 barrier(s))");
  // A single-core program passes its barriers alone.
  auto s3 = RunText("barrier\nbarrier\nhalt\n", {}, &st, "v5e");
  EXPECT_TRUE(st.ok()) << st.message();
}

// ---- timing-only ------------------------------------------------------------

TEST(TimingOnly, SameStatsAndLogNoValues) {
  StatusOr<std::string> text = ReadFileToString(AsmDir() + "gemm_bf16_256.s");
  ASSERT_TRUE(text.ok());
  StatusOr<isa::Program> p = isa::Assemble(*text, "gemm_bf16_256.s");
  ASSERT_TRUE(p.ok());
  ChipConfig chip = Chip("v4");
  sim::DispatchLog full_log, fast_log;
  sim::Simulator full(chip, *p, {.threads = 1, .dispatch_log = &full_log});
  sim::Simulator fast(chip, *p, {.threads = 1, .dispatch_log = &fast_log, .timing_only = true});
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(full.Run().ok());
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(fast.Run().ok());
  auto t2 = std::chrono::steady_clock::now();
  std::printf("gemm_bf16_256.s: full run %.2f ms, timing-only %.2f ms\n",
              std::chrono::duration<double, std::milli>(t1 - t0).count(),
              std::chrono::duration<double, std::milli>(t2 - t1).count());
  EXPECT_EQ(full.stats().ToJson(), fast.stats().ToJson());
  ASSERT_EQ(full_log.size(), fast_log.size());
  for (size_t c = 0; c < full_log.size(); ++c) {
    ASSERT_EQ(full_log[c].size(), fast_log[c].size());
    for (size_t i = 0; i < full_log[c].size(); ++i) {
      EXPECT_EQ(full_log[c][i].pc, fast_log[c][i].pc);
      EXPECT_EQ(full_log[c][i].v, fast_log[c][i].v);
    }
  }
  StatusOr<Literal> c = fast.GetBuffer("C");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "buffer 'C': a timing-only run computes no values");
}

TEST(TimingOnly, SameFaultsExceptDataDependentOnes) {
  sim::SimOptions fast{.timing_only = true};
  Status st;
  auto s = RunText("dma1.load dst=0, src=0x7ffffff000, bytes=4096\n", {}, &st, "v4", fast);
  EXPECT_EQ(st.message(),
            "core 0 unit dma1 pc 0 (test.s:1) 'dma1.load dst=0, src=0x7ffffff000, bytes=4096': address 0x7ffffff000 + "
            "4096 bytes outside HBM (size 0x800000000)");
  auto s2 = RunText("mxu2.matmul lhs=0, stride=256, m=8, acc=0\n", {}, &st, "v4", fast);
  EXPECT_NE(st.message().find("matmul before any weights"), std::string::npos) << st.message();
  // dma.gather reads its indices as 0: a bad index goes unnoticed, a bad limit does not.
  Literal bad = Literal::FromVector<int>(DType::kS32, {2}, std::vector<int>{0, 99});
  auto g = [](const char* limit) {
    return fmt::format(".buffer I vmem s32[2] input\ndma0.gather dst=64, src=0, idx=I, rows=2, bytes=4, stride=4, "
                       "limit={}\n",
                       limit);
  };
  auto s3 = RunText(g("8"), {{"I", bad}}, &st, "v4", fast);
  EXPECT_TRUE(st.ok()) << st.message();
  auto s4 = RunText(g("8"), {{"I", bad}}, &st);
  EXPECT_NE(st.message().find("gather index 99 at idx + 4"), std::string::npos) << st.message();
  auto s5 = RunText(g("0x200000001"), {{"I", bad}}, &st, "v4", fast);
  EXPECT_NE(st.message().find("outside HBM"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace xtpu
