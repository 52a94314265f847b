// Tests of the tensor IR text form: Print(Parse(text)) == text over
// tests/ir/*.tir, Parse(Print(m)) == m for modules built in C++, exact
// constants (every bf16/f16 value, NaN payloads, base64), parser errors, and
// robustness against truncated or damaged input.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "xtpu/ir/builder.h"
#include "xtpu/ir/parser.h"
#include "xtpu/ir/printer.h"
#include "xtpu/support/base64.h"

namespace xtpu {
namespace {

namespace fs = std::filesystem;

fs::path IrDir() { return fs::path(__FILE__).parent_path().parent_path() / "ir"; }

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<fs::path> SampleFiles() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(IrDir()))
    if (e.path().extension() == ".tir") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// Structural equality; returns the first difference ("" when equal).
std::string Diff(const Instruction& a, const Instruction& b) {
  auto names = [](const std::vector<Instruction*>& v) {
    std::vector<std::string> n;
    for (auto* i : v) n.push_back(i->name);
    return n;
  };
#define XTPU_CMP(field) \
  if (!(a.field == b.field)) return a.name + ": " #field " differs";
  XTPU_CMP(name);
  XTPU_CMP(opcode);
  XTPU_CMP(shape);
  XTPU_CMP(parameter_number);
  XTPU_CMP(literal);
  XTPU_CMP(dimensions);
  XTPU_CMP(slice_starts);
  XTPU_CMP(slice_limits);
  XTPU_CMP(slice_strides);
  XTPU_CMP(slice_sizes);
  XTPU_CMP(padding);
  XTPU_CMP(direction);
  XTPU_CMP(dot_dims);
  XTPU_CMP(window);
  XTPU_CMP(conv_dims);
  XTPU_CMP(feature_group_count);
  XTPU_CMP(batch_group_count);
  XTPU_CMP(gather_dims);
  XTPU_CMP(tuple_index);
#undef XTPU_CMP
  if (names(a.operands) != names(b.operands)) return a.name + ": operands differ";
  if ((a.to_apply == nullptr) != (b.to_apply == nullptr) ||
      (a.to_apply && a.to_apply->name() != b.to_apply->name()))
    return a.name + ": to_apply differs";
  return "";
}

std::string Diff(const Module& a, const Module& b) {
  if (a.name() != b.name()) return "module name differs";
  if (a.computations().size() != b.computations().size()) return "computation count differs";
  if (a.entry()->name() != b.entry()->name()) return "entry differs";
  for (size_t c = 0; c < a.computations().size(); ++c) {
    const Computation& ca = *a.computations()[c];
    const Computation& cb = *b.computations()[c];
    if (ca.name() != cb.name()) return "computation name differs: " + ca.name();
    if (ca.instructions().size() != cb.instructions().size()) return ca.name() + ": instruction count differs";
    if (ca.root()->name != cb.root()->name) return ca.name() + ": root differs";
    for (size_t i = 0; i < ca.instructions().size(); ++i) {
      std::string d = Diff(*ca.instructions()[i], *cb.instructions()[i]);
      if (!d.empty()) return d;
    }
  }
  return "";
}

std::string ParseError(std::string_view text) {
  auto m = ParseModule(text, "t.tir");
  if (m.ok()) return "<parsed>";
  return m.status().message();
}

// ---- base64 ---------------------------------------------------------------

TEST(Base64, KnownVectors) {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(Base64Encode(plain[i], std::strlen(plain[i])), coded[i]);
    auto d = Base64Decode(coded[i]);
    ASSERT_TRUE(d.ok()) << d.status().message();
    EXPECT_EQ(std::string(d->begin(), d->end()), plain[i]);
  }
}

TEST(Base64, AllBytesAndLengths) {
  std::vector<uint8_t> data(256 + 7);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 37 + 11);
  for (size_t n = 0; n < data.size(); ++n) {
    std::string e = Base64Encode(data.data(), n);
    auto d = Base64Decode(e);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, std::vector<uint8_t>(data.begin(), data.begin() + n));
  }
}

TEST(Base64, RejectsBadInput) {
  EXPECT_FALSE(Base64Decode("abc").ok());
  EXPECT_FALSE(Base64Decode("ab!d").ok());
  EXPECT_FALSE(Base64Decode("====").ok());
  EXPECT_FALSE(Base64Decode("a===").ok());
  EXPECT_FALSE(Base64Decode("ab=d").ok());
  EXPECT_FALSE(Base64Decode("Zm9v\nZm9v").ok());
  EXPECT_NE(Base64Decode("Zm!v").status().message().find("'!' at offset 2"), std::string::npos);
}

// ---- round trips ------------------------------------------------------------

TEST(RoundTrip, SampleFilesPrintBackByteForByte) {
  auto files = SampleFiles();
  ASSERT_GE(files.size(), 6u);
  for (const auto& f : files) {
    std::string text = ReadFile(f);
    auto m = ParseModule(text, f.filename().string());
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(Print(**m), text) << f;
  }
}

TEST(RoundTrip, SampleFilesCoverEveryOpcode) {
  std::set<Opcode> seen;
  for (const auto& f : SampleFiles()) {
    auto m = ParseModule(ReadFile(f), f.filename().string());
    ASSERT_TRUE(m.ok()) << m.status().message();
    for (const auto& c : (*m)->computations())
      for (const auto& i : c->instructions()) seen.insert(i->opcode);
  }
#define XTPU_SEEN(e, name, arity, kind) EXPECT_TRUE(seen.count(Opcode::e)) << name;
  XTPU_OPCODES(XTPU_SEEN)
#undef XTPU_SEEN
}

// A module built with the Builder, printed, parsed back: equal structure.
TEST(RoundTrip, BuiltModuleParsesBackEqual) {
  Module m("built");
  auto* entry_owned = m.AddComputation(std::make_unique<Computation>("main"));
  m.set_entry(entry_owned);
  Builder b(&m, entry_owned);
  auto x = *b.Parameter(0, Shape(DType::kF32, {1, 3, 6, 6}), "input/x:0");
  auto k = *b.Parameter(1, Shape(DType::kF32, {4, 3, 3, 3}), "kernel");
  auto ids = *b.Parameter(2, Shape(DType::kS32, {5}), "ids");
  std::vector<WindowDim> win(2);
  for (auto& w : win) w.size = 3, w.stride = 1, w.pad_lo = 1, w.pad_hi = 1;
  ConvDims cd;
  cd.input_spatial = {2, 3};
  cd.kernel_spatial = {2, 3};
  cd.output_spatial = {2, 3};
  auto conv = *b.Convolution(x, k, win, cd, 1);
  auto zero = *b.Constant(Literal::ScalarF32(0));
  auto relu = *b.Binary(Opcode::kMaximum, conv, *b.Broadcast(zero, {1, 4, 6, 6}, {}));
  std::vector<WindowDim> pool(4);
  pool[2].size = pool[3].size = 2;
  pool[2].stride = pool[3].stride = 2;
  auto ninf = *b.Constant(Literal::ScalarF32(-INFINITY));
  auto mp = *b.ReduceWindow(relu, ninf, pool, b.ScalarReducer(Opcode::kMaximum, DType::kF32));
  auto flat = *b.Reshape(mp, {1, 36});
  std::vector<float> wv(36 * 10);
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = std::sin(static_cast<float>(i)) * 0.1f;
  auto w = *b.Constant(Literal::FromVector(DType::kF32, {36, 10}, wv), "fc.weight");
  DotDims dd;
  dd.lhs_contracting = {1};
  dd.rhs_contracting = {0};
  auto fc = *b.Dot(flat, w, dd);
  auto sum = *b.Reduce({fc}, {zero}, {1}, b.ScalarReducer(Opcode::kAdd, DType::kF32));
  GatherDims g;
  g.offset_dims = {1};
  g.collapsed_slice_dims = {0};
  g.start_index_map = {0};
  g.index_vector_dim = 1;
  auto table = *b.Constant(Literal::FromVector(DType::kBF16, {10, 2}, std::vector<float>(20, 0.5f)));
  auto emb = *b.Gather(table, ids, g, {1, 2});
  auto sl = *b.Slice(fc, {0, 2}, {1, 10}, {1, 3});
  auto pad = *b.Pad(sl, zero, {{0, 0, 0}, {-1, 2, 1}});
  auto cmp = *b.Compare(CompareDirection::kLt, fc, fc);
  auto root = *b.Tuple({sum, emb, pad, cmp});
  entry_owned->set_root(root);

  std::string text = Print(m);
  auto parsed = ParseModule(text, "built.tir");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message() << "\n" << text;
  EXPECT_EQ(Diff(m, **parsed), "");
  EXPECT_EQ(Print(**parsed), text);
  EXPECT_NE(text.find("fc.weight = f32[36,10] constant(b64:"), std::string::npos);
}

// Parses `dtype[n] constant({values})` modules holding every bit pattern of
// a 16-bit float type, 16 values per constant; all must come back exactly.
void CheckEvery16BitValue(DType t) {
  Module m("all16");
  Computation* c = m.AddComputation(std::make_unique<Computation>("main"));
  m.set_entry(c);
  Builder b(&m, c);
  std::vector<Instruction*> outs;
  for (uint32_t base = 0; base < 65536; base += 16) {
    Literal l(Shape(t, {16}));
    for (uint32_t i = 0; i < 16; ++i) {
      uint16_t bits = static_cast<uint16_t>(base + i);
      std::memcpy(l.data<uint16_t>() + i, &bits, 2);
    }
    outs.push_back(*b.Constant(std::move(l)));
  }
  c->set_root(*b.Tuple(outs));
  std::string text = Print(m);
  auto parsed = ParseModule(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(Diff(m, **parsed), "");
  EXPECT_EQ(Print(**parsed), text);
}

TEST(RoundTrip, EveryBF16Value) { CheckEvery16BitValue(DType::kBF16); }
TEST(RoundTrip, EveryF16Value) { CheckEvery16BitValue(DType::kF16); }

TEST(RoundTrip, RandomF32AndIntegersInline) {
  std::mt19937 rng(7);
  Module m("random");
  Computation* c = m.AddComputation(std::make_unique<Computation>("main"));
  m.set_entry(c);
  Builder b(&m, c);
  std::vector<Instruction*> outs;
  for (int n = 0; n < 500; ++n) {
    Literal f(Shape(DType::kF32, {4, 4}));
    for (int i = 0; i < 16; ++i) {
      uint32_t bits = rng();
      float v;
      std::memcpy(&v, &bits, 4);
      if (std::isnan(v)) v = 1.0f;
      f.data<float>()[i] = v;
    }
    outs.push_back(*b.Constant(std::move(f)));
    Literal s(Shape(DType::kS64, {3}));
    for (int i = 0; i < 3; ++i) s.data<int64_t>()[i] = static_cast<int64_t>((uint64_t{rng()} << 32) | rng());
    outs.push_back(*b.Constant(std::move(s)));
  }
  c->set_root(*b.Tuple(outs));
  std::string text = Print(m);
  EXPECT_EQ(text.find("b64:"), std::string::npos);
  auto parsed = ParseModule(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(Diff(m, **parsed), "");
}

TEST(RoundTrip, NaNPayloadsAreExact) {
  Module m("nan");
  Computation* c = m.AddComputation(std::make_unique<Computation>("main"));
  m.set_entry(c);
  Builder b(&m, c);
  Literal l(Shape(DType::kF32, {3}));
  uint32_t bits[3] = {0x7fc00001u, 0xffbfffffu, 0x3f800000u};
  std::memcpy(l.data<float>(), bits, 12);
  c->set_root(*b.Tuple({*b.Constant(l)}));
  std::string text = Print(m);
  EXPECT_NE(text.find("constant(b64:"), std::string::npos);
  auto parsed = ParseModule(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ((*parsed)->entry()->instructions()[0]->literal, l);
}

TEST(RoundTrip, AcceptsBothConstantFormsForAnySize) {
  auto m = ParseModule(
      "HloModule m\n\nENTRY main {\n  a = f32[2] constant(b64:AACAPwAAAEA=)\n"
      "  b = s32[20] constant({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19})\n"
      "  ROOT t = (f32[2], s32[20]) tuple(a, b)\n}\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::string text = Print(**m);
  EXPECT_NE(text.find("a = f32[2] constant({1, 2})"), std::string::npos) << text;
  EXPECT_NE(text.find("b = s32[20] constant(b64:"), std::string::npos) << text;
}

TEST(RoundTrip, CommentsAndBlankLinesAreIgnored) {
  auto m = ParseModule(
      "// RUN: xtpu %s\nHloModule m   // the module\n\n\nENTRY main {\n  // a comment\n"
      "  a = f32[] parameter(0)\n\n  ROOT t = (f32[]) tuple(a)  // out\n}\n// end\n");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(Print(**m), "HloModule m\n\nENTRY main {\n  a = f32[] parameter(0)\n  ROOT t = (f32[]) tuple(a)\n}\n");
}

// ---- errors -----------------------------------------------------------------

struct ErrorCase {
  const char* body;  // instructions of ENTRY main (or the whole text if it starts with "HloModule")
  const char* expected;
};

TEST(ParserErrors, NameTheProblem) {
  const ErrorCase cases[] = {
      {"  x = f32[] parameter(0)\n  ROOT y = f32[] foo(x)\n", "t.tir:5: unknown opcode 'foo' in instruction 'y'"},
      {"  ROOT x.3 = f32[] negate(y)\n", "t.tir:4: operand 'y' of 'x.3' is not defined"},
      {"  x%3 = f32[] parameter(0)\n", "t.tir:4: invalid character '%' in instruction name 'x%3'"},
      {"  x = f32[] parameter(0)\n  x = f32[] parameter(1)\n", "t.tir:5: duplicate instruction name 'x' (first defined at line 4)"},
      {"  x = f32[] parameter(0)\n  ROOT y = f32[] negate(x), dimensions={0}\n",
       "t.tir:5: unknown attribute 'dimensions' for negate 'y' (it takes none)"},
      {"  x = f32[2] parameter(0)\n  ROOT y = f32[2] reverse(x)\n", "t.tir:5: reverse 'y' lacks attribute 'dimensions'"},
      {"  x = f32[2] parameter(0)\n  ROOT y = f32[2] reverse(x), dimensions={0}, dimensions={0}\n",
       "t.tir:5: duplicate attribute 'dimensions' of 'y'"},
      {"  x = f32[2] parameter(0)\n  z = f32[] constant(0)\n  ROOT y = f32[] reduce(x, z), dimensions={0}, to_apply=sum\n",
       "t.tir:6: to_apply computation 'sum' of 'y' is not defined"},
      {"  ROOT c = f32[3] constant({1, 2})\n", "t.tir:4: constant 'c' has 2 values, expected 3 for f32[3]"},
      {"  ROOT c = f32[3] constant(b64:AACAPw==)\n", "t.tir:4: constant 'c' has 4 bytes of data, expected 12 for f32[3]"},
      {"  ROOT c = u8[1] constant({256})\n", "t.tir:4: out-of-range u8 value '256' in constant 'c'"},
      {"  ROOT c = f32[] constant(abc)\n", "t.tir:4: bad f32 value 'abc' in constant 'c'"},
      {"  ROOT c = f32[2] constant(b64:AAC!PwAAgD8=)\n", "invalid base64 character '!'"},
      {"  ROOT c = f32[2 constant(1)\n", "t.tir:4: bad shape of 'c': missing ']'"},
      {"  ROOT c = q32[2] constant(1)\n", "unknown element type 'q32'"},
      {"  a = f32[] parameter(0)\n  b = f32[] parameter(2)\n  ROOT t = () tuple()\n",
       "t.tir:5: parameter number 2 of 'b' is out of range: computation 'main' has 2 parameters"},
      {"  a = f32[] parameter(0)\n  b = f32[] parameter(0)\n  ROOT t = () tuple()\n", "parameter number 0 of 'b' is already used by 'a'"},
      {"  a = f32[] parameter(99999999999999999999)\n", "out of range"},
      {"  a = f32[] parameter(0)\n", "t.tir:3: computation 'main' has no ROOT instruction"},
      {"  a = f32[] parameter(0)\n  ROOT b = f32[] negate(a)\n", "t.tir: computation main: the entry root %b must be a tuple"},
      {"  a = f32[3] parameter(0)\n  ROOT b = f32[3] compare(a, a), direction=XX\n", "t.tir:5: unknown direction 'XX' of 'b'"},
      {"  a = f32[1,1,3] parameter(0)\n  ROOT c = f32[1,1,1] convolution(a, a), window={size=3 stride=1 pad=0_0 lhs_dilate=1 rhs_dilate=1}, dim_labels=bf0_oi0->bfx, feature_group_count=1, batch_group_count=1\n",
       "t.tir:5: bad dim_labels 'bf0_oi0->bfx' of 'c': unexpected 'x' in the output labels"},
      {"  a = f32[1,1,3] parameter(0)\n  ROOT c = f32[1,1,1] convolution(a, a), window={size=3 stride=1 lhs_dilate=1 rhs_dilate=1}, dim_labels=bf0_oi0->bf0, feature_group_count=1, batch_group_count=1\n",
       "t.tir:5: window of 'c' lacks 'pad'"},
      {"  a = f32[99999999999,99999999999,9999999999] parameter(0)\n", "is too large"},
      {"  a = f32[] parameter(0) extra\n", "t.tir:4: unexpected 'extra' after instruction 'a'"},
      {"HloModule m\n\nmain {\n  ROOT a = (f32[]) tuple()\n}\n", "t.tir:6: module 'm' has no ENTRY computation"},
      {"HloModule m\n\nENTRY main {\n  ROOT a = () tuple()\n", "t.tir:3: computation 'main' has no closing '}'"},
      {"Module m\n", "t.tir:1: expected 'HloModule' at the start, found 'Module'"},
      {"HloModule m\n\nENTRY a {\n  ROOT x = () tuple()\n}\n\nENTRY b {\n  ROOT y = () tuple()\n}\n",
       "t.tir:7: second ENTRY computation 'b' (the entry is 'a')"},
  };
  for (const auto& c : cases) {
    std::string text = c.body;
    if (text.rfind("HloModule", 0) != 0 && text.rfind("Module", 0) != 0)
      text = "HloModule m\n\nENTRY main {\n" + text + "}\n";
    std::string err = ParseError(text);
    EXPECT_NE(err.find(c.expected), std::string::npos) << "got: " << err << "\nwant: " << c.expected;
  }
}

// fusion: kind and called computation read back; mismatches are errors
// naming the fusion.
TEST(RoundTrip, FusionKindAndCalledComputation) {
  const std::string body =
      "HloModule m\n\nbody {\n  p = f32[2] parameter(0)\n  ROOT n = f32[2] negate(p)\n}\n\n"
      "ENTRY main {\n  x = f32[2] parameter(0)\n  f = f32[2] fusion(x), kind=output, calls=body\n"
      "  ROOT t = (f32[2]) tuple(f)\n}\n";
  auto m = ParseModule(body, "t.tir");
  ASSERT_TRUE(m.ok()) << m.status().message();
  const Instruction& f = *(*m)->entry()->instructions()[1];
  EXPECT_EQ(f.opcode, Opcode::kFusion);
  EXPECT_EQ(f.fusion_kind, FusionKind::kOutput);
  ASSERT_NE(f.to_apply, nullptr);
  EXPECT_EQ(f.to_apply->name(), "body");
  EXPECT_EQ(Print(**m), body);

  auto with = [&](std::string from, std::string to) {
    std::string t = body;
    t.replace(t.find(from), from.size(), to);
    return ParseError(t);
  };
  EXPECT_NE(with("kind=output", "kind=tiled").find("unknown fusion kind 'tiled' of 'f' (loop, output)"),
            std::string::npos);
  EXPECT_NE(with("calls=body", "calls=nobody").find("calls computation 'nobody' of 'f' is not defined"),
            std::string::npos);
  EXPECT_NE(with(", kind=output", "").find("fusion 'f' lacks attribute 'kind'"), std::string::npos);
  EXPECT_NE(with("x = f32[2] parameter", "x = f32[3] parameter")
                .find("%f (fusion): operand 0 (%x) is f32[3], but parameter 0 of %body is f32[2]"),
            std::string::npos);
  EXPECT_NE(with("f = f32[2] fusion", "f = f32[4] fusion").find("declared shape f32[4] differs from the inferred f32[2]"),
            std::string::npos);
}

TEST(ParserErrors, OperandFromAnotherComputation) {
  std::string err = ParseError(
      "HloModule m\n\nadd {\n  a = f32[] parameter(0)\n  b = f32[] parameter(1)\n  ROOT r = f32[] add(a, b)\n}\n\n"
      "ENTRY main {\n  ROOT t = (f32[]) tuple(a)\n}\n");
  EXPECT_NE(err.find("t.tir:10: operand 'a' of 't' is defined in computation 'add', not in 'main'"), std::string::npos)
      << err;
}

// Every prefix of every sample file, and single-byte damage, must give a
// parse or an error, never a crash or hang.
TEST(ParserErrors, TruncatedAndDamagedInputNeverCrash) {
  std::mt19937 rng(1);
  const char junk[] = "{}()[],=:_x-0123456789 \n\t%\"bf.";
  for (const auto& f : SampleFiles()) {
    std::string text = ReadFile(f);
    for (size_t n = 0; n < text.size(); n += 3) (void)ParseModule(std::string_view(text).substr(0, n));
    for (int i = 0; i < 2000; ++i) {
      std::string t = text;
      t[rng() % t.size()] = junk[rng() % (sizeof(junk) - 1)];
      auto m = ParseModule(t);
      if (m.ok()) {
        // If it parses, the print must be stable.
        std::string p = Print(**m);
        auto m2 = ParseModule(p);
        ASSERT_TRUE(m2.ok()) << m2.status().message();
        ASSERT_EQ(Print(**m2), p);
      }
    }
  }
}

// ---- speed --------------------------------------------------------------------

TEST(Speed, LargeConstantPrintsAndParsesQuickly) {
  const int64_t n = 16 << 20;  // 64 MiB of f32
  Module m("big");
  Computation* c = m.AddComputation(std::make_unique<Computation>("main"));
  m.set_entry(c);
  Builder b(&m, c);
  Literal l(Shape(DType::kF32, {n}));
  for (int64_t i = 0; i < n; ++i) l.data<float>()[i] = static_cast<float>(i % 1000) * 0.5f;
  c->set_root(*b.Tuple({*b.Constant(std::move(l), "w")}));
  auto t0 = std::chrono::steady_clock::now();
  std::string text = Print(m);
  auto t1 = std::chrono::steady_clock::now();
  auto parsed = ParseModule(text);
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ((*parsed)->entry()->instructions()[0]->literal, m.entry()->instructions()[0]->literal);
  double print_s = std::chrono::duration<double>(t1 - t0).count();
  double parse_s = std::chrono::duration<double>(t2 - t1).count();
  std::printf("64 MiB constant: print %.3f s, parse %.3f s (%.0f MB/s)\n", print_s, parse_s,
              text.size() / 1e6 / parse_s);
  EXPECT_LT(print_s, 2.0);
  EXPECT_LT(parse_s, 2.0);
}

}  // namespace
}  // namespace xtpu
