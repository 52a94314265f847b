// ISA tests: the table is consistent, assembly and binary round-trip exactly,
// errors name file, line and problem, random bytes never crash the decoder,
// and docs/isa.md holds the current generated reference.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>

#include "xtpu/isa/assembly.h"
#include "xtpu/isa/encoding.h"
#include "xtpu/isa/isa.h"
#include "xtpu/support/npy.h"

namespace xtpu::isa {
namespace {

std::string SourceDir() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind("/tests/"));
}

std::string ReadAsm(const std::string& name) {
  StatusOr<std::string> t = ReadFileToString(SourceDir() + "/tests/asm/" + name);
  XTPU_CHECK(t.ok());
  return *t;
}

TEST(IsaTable, Consistent) {
  std::set<std::string_view> names;
  for (int i = 0; i < NumOpcodes(); ++i) {
    const OpInfo& info = GetOpInfo(static_cast<Opcode>(i));
    EXPECT_EQ(static_cast<int>(info.opcode), i);
    EXPECT_TRUE(names.insert(info.mnemonic).second) << info.mnemonic;
    EXPECT_EQ(FindOpcode(info.mnemonic), info.opcode);
    int bits = 64;
    bool optional_seen = false;
    for (int j = 0; j < info.num_operands; ++j) {
      bits += OperandBits(info.operands[j].kind);
      if (!info.operands[j].required) optional_seen = true;
      else EXPECT_FALSE(optional_seen) << info.mnemonic << ": required operand after an optional one";
    }
    EXPECT_LE(bits, kInstructionBytes * 8) << info.mnemonic;
    EXPECT_FALSE(info.semantics.empty()) << info.mnemonic;
    if (UnitIsIndexed(info.unit)) EXPECT_EQ(info.mnemonic.substr(0, 3), UnitKindName(info.unit));
  }
}

TEST(Assembler, RoundTripsAllOps) {
  for (const char* file : {"all_ops.s", "gemm_bf16_256.s", "gemm_int8_v1.s", "barrier_2core.s"}) {
    StatusOr<Program> p = Assemble(ReadAsm(file), file);
    ASSERT_TRUE(p.ok()) << p.status().message();
    std::string text = Disassemble(*p);
    StatusOr<Program> q = Assemble(text, "disasm.s");
    ASSERT_TRUE(q.ok()) << q.status().message() << "\n" << text;
    EXPECT_TRUE(*p == *q) << file;
    EXPECT_EQ(Disassemble(*q), text);
    StatusOr<std::string> bin = Encode(*p);
    ASSERT_TRUE(bin.ok()) << bin.status().message();
    StatusOr<Program> r = Decode(*bin);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_TRUE(*p == *r) << file;
    EXPECT_EQ(Disassemble(*r), text);
  }
}

TEST(Assembler, CanonicalText) {
  StatusOr<Program> p = Assemble(
      ".equ N 128\nmxu1.matmul lhs=r2+N*2, stride=N*2, m=8, acc=0, accumulate=1, wait=s1\n"
      "vpu.binary_imm mul, f32, dst=0, a=0, imm=0.5, rows=1, cols=N, ds=0, as=0\nloop r1, 3\nendloop\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(Disassemble(*p),
            "; xtpu program: 1 core(s), 4 instructions\n.core 0\n"
            "  mxu1.matmul lhs=r2+256, stride=256, m=8, acc=0, accumulate=1, wait=s1\n"
            "  vpu.binary_imm mul, f32, dst=0, a=0, imm=0.5, rows=1, cols=128, ds=0, as=0\n"
            "  loop r1, 3\n  endloop\n");
}

TEST(Assembler, NewInstructionsCanonicalText) {
  StatusOr<Program> p = Assemble(
      ".equ N 128\nbarrier signal=s1\n"
      "dma2.gather r1+64, r2, 4096, 16, N*4, N*4+4, 1000\n"
      "vpu.select bf16, r3, 0, 256, 512, 8, N, N*2, -N*4, N*2, 0\n"
      "vpu.binary ge, s32, dst=0, a=0, b=0, rows=1, cols=1, ds=0, as=0, bs=0\n"
      "vpu.unary round_even, f32, dst=0, a=0, rows=1, cols=1, ds=0, as=0\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(Disassemble(*p),
            "; xtpu program: 1 core(s), 5 instructions\n.core 0\n"
            "  barrier signal=s1\n"
            "  dma2.gather dst=r1+64, src=r2, idx=4096, rows=16, bytes=512, stride=516, limit=1000\n"
            "  vpu.select bf16, dst=r3, p=0, a=256, b=512, rows=8, cols=128, ds=256, ps=-512, as=256, bs=0\n"
            "  vpu.binary ge, s32, dst=0, a=0, b=0, rows=1, cols=1, ds=0, as=0, bs=0\n"
            "  vpu.unary round_even, f32, dst=0, a=0, rows=1, cols=1, ds=0, as=0\n");
  // int operands are 32-bit constants.
  StatusOr<Program> q = Assemble("vpu.select f32, 0, 0, 0, 0, 1, 1, 1 << 31, 0, 0, 0\n", "t.s");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(), "t.s:1: vpu.select: operand 'ds': 2147483648 does not fit in s32");
}

TEST(Assembler, Errors) {
  auto err = [](const std::string& text) {
    StatusOr<Program> p = Assemble(text, "prog.s");
    return p.ok() ? std::string("OK") : p.status().message();
  };
  EXPECT_EQ(err("nop\n\nfoo r1\n"), "prog.s:3: unknown mnemonic 'foo'");
  EXPECT_EQ(err("dma0.load dst=0, src=0\n"), "prog.s:1: dma.load: missing operand 'bytes'");
  EXPECT_EQ(err("dma0.load dst=0, src=0, bytes=4, bogus=1\n"),
            "prog.s:1: dma.load: unknown operand 'bogus' (operands: dst, src, bytes, n1, ds1, ss1, n2, ds2, ss2)");
  EXPECT_EQ(err("set r1, UNDEFINED\n"), "prog.s:1: set: operand 'v': unknown name 'UNDEFINED'");
  EXPECT_EQ(err("vpu1.unary exp, f32, dst=0, a=0, rows=1, cols=1, ds=0, as=0\n"),
            "prog.s:1: 'vpu1.unary': unit vpu has a single instance (write 'vpu.unary')");
  EXPECT_EQ(err("vpu.unary exp, s32, dst=0, a=0, rows=1, cols=1, ds=0, as=0\n"),
            "prog.s:1: vpu.unary: vpu.unary: op 'exp' needs dtype f32 or bf16");
  EXPECT_EQ(err("vpu.binary add, f64, dst=0, a=0, b=0, rows=1, cols=1, ds=0, as=0, bs=0\n"),
            "prog.s:1: vpu.binary: operand 'dtype': 'f64' is not one of: s8, s32, bf16, f32");
  EXPECT_EQ(err("endloop\n"), "prog.s: core 0 pc 0 (prog.s:1): endloop without a matching loop");
  EXPECT_EQ(err("set r1, 1 << 45\n"), "prog.s:1: set: set: operand 'v' immediate 35184372088832 does not fit in 40 signed bits");
  EXPECT_EQ(err(".buffer A hbm f32[4] input\n.buffer B hbm f32[4] at 8\n"),
            "prog.s: buffer 'B' [0x8, 0x18) overlaps buffer 'A' [0x0, 0x10)");
  EXPECT_EQ(err("mxu0.matmul lhs=r1*2, stride=0, m=1, acc=0\n"),
            "prog.s:1: mxu.matmul: operand 'lhs': register used in '*' in 'r1*2' (only r + constant is allowed)");
}

TEST(Decoder, RandomBytesNeverCrash) {
  std::mt19937_64 rng(1);
  uint8_t buf[kInstructionBytes];
  int ok = 0;
  // Valid encodings with random bit flips, and fully random bytes.
  StatusOr<Program> p = Assemble(ReadAsm("all_ops.s"), "all_ops.s");
  ASSERT_TRUE(p.ok());
  for (int iter = 0; iter < 20000; ++iter) {
    if (iter % 2) {
      for (auto& b : buf) b = static_cast<uint8_t>(rng());
      buf[0] %= 40;
    } else {
      const Instruction& inst = p->cores[0][rng() % p->cores[0].size()];
      EncodeInstruction(inst, buf);
      buf[rng() % kInstructionBytes] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    StatusOr<Instruction> d = DecodeInstruction(buf);
    if (!d.ok()) continue;
    ++ok;
    uint8_t again[kInstructionBytes];
    EncodeInstruction(*d, again);
    EXPECT_EQ(std::memcmp(buf, again, kInstructionBytes), 0);
    if (d->opcode == Opcode::kLoop || d->opcode == Opcode::kEndLoop) continue;  // need a partner
    StatusOr<Program> q = Assemble(FormatInstruction(*d) + "\n", "x.s");
    ASSERT_TRUE(q.ok()) << q.status().message() << ": " << FormatInstruction(*d);
    EXPECT_TRUE(q->cores[0][0] == *d) << FormatInstruction(*d);
  }
  EXPECT_GT(ok, 100);
  // Program files: truncations and random corruptions of a valid one.
  StatusOr<std::string> bin = Encode(*p);
  ASSERT_TRUE(bin.ok());
  for (size_t n = 0; n < bin->size(); n += 7) EXPECT_FALSE(Decode(bin->substr(0, n)).ok());
  for (int iter = 0; iter < 2000; ++iter) {
    std::string b = *bin;
    for (int k = 0; k < 3; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    (void)Decode(b);
  }
}

TEST(Docs, IsaMarkdownIsCurrent) {
  if (const char* out = std::getenv("ISA_DOCS_OUT")) (void)WriteStringToFile(out, IsaReferenceMarkdown());
  StatusOr<std::string> doc = ReadFileToString(SourceDir() + "/docs/isa.md");
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  EXPECT_NE(doc->find(IsaReferenceMarkdown()), std::string::npos)
      << "docs/isa.md is stale: regenerate its reference section with IsaReferenceMarkdown() "
         "(run this test with ISA_DOCS_OUT=file and paste the file)";
}

}  // namespace
}  // namespace xtpu::isa
