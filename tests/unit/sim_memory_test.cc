// Device memory (sim::Memory) and constants mapped read-only into the
// simulated HBM (Memory::MapReadOnly, Simulator::MapBuffer, RunExecutable):
// a sparse memory with mappings must read and write exactly like a plain byte
// array, never modify the mapped bytes, and a run that maps an executable's
// constants must give the same results as one that copies them, every time.
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/compile.h"
#include "xtpu/ir/parser.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/runtime/run.h"
#include "xtpu/sim/memory.h"
#include "xtpu/sim/simulator.h"

namespace xtpu {
namespace {

// Random writes, mappings, copies and reads on a sparse memory (2 GiB, so
// not dense) within its first `span` bytes, checked against a byte array.
TEST(SimMemory, SparseWithMappingsActsLikeAByteArray) {
  constexpr int64_t kSpan = 1 << 20;
  sim::Memory mem("HBM", int64_t{2} << 30);
  sim::Memory other("HBM2", int64_t{2} << 30);
  ASSERT_EQ(mem.Data(), nullptr);
  std::vector<uint8_t> shadow(kSpan, 0), other_shadow(kSpan, 0);
  std::vector<std::vector<uint8_t>> sources;  // mapped bytes (must outlive mem)
  std::vector<std::vector<uint8_t>> pristine;  // their original values
  std::mt19937_64 rng(7);
  auto rand_range = [&](int64_t max_len) {
    int64_t len = 1 + static_cast<int64_t>(rng() % max_len);
    int64_t addr = static_cast<int64_t>(rng() % (kSpan - len));
    return std::pair{addr, len};
  };
  auto random_bytes = [&](int64_t n) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = static_cast<uint8_t>(rng());
    return v;
  };
  for (int step = 0; step < 3000; ++step) {
    int op = static_cast<int>(rng() % 5);
    if (op == 0) {  // write
      auto [addr, len] = rand_range(200000);
      std::vector<uint8_t> v = random_bytes(len);
      mem.Write(addr, v.data(), len);
      std::memcpy(shadow.data() + addr, v.data(), len);
    } else if (op == 1 && sources.size() < 200) {  // map read-only
      auto [addr, len] = rand_range(300000);
      sources.push_back(random_bytes(len));
      pristine.push_back(sources.back());
      mem.MapReadOnly(addr, sources.back().data(), len);
      std::memcpy(shadow.data() + addr, sources.back().data(), len);
    } else if (op == 2) {  // copy within (overlaps act like memmove)
      auto [src, len] = rand_range(150000);
      int64_t dst = static_cast<int64_t>(rng() % (kSpan - len));
      sim::Memory::Copy(mem, dst, mem, src, len);
      std::memmove(shadow.data() + dst, shadow.data() + src, len);
    } else if (op == 3) {  // copy to another sparse memory
      auto [src, len] = rand_range(150000);
      int64_t dst = static_cast<int64_t>(rng() % (kSpan - len));
      sim::Memory::Copy(other, dst, mem, src, len);
      std::memcpy(other_shadow.data() + dst, shadow.data() + src, len);
    } else {  // read
      auto [addr, len] = rand_range(200000);
      std::vector<uint8_t> got(len);
      mem.Read(addr, got.data(), len);
      ASSERT_EQ(0, std::memcmp(got.data(), shadow.data() + addr, len)) << "step " << step;
    }
  }
  std::vector<uint8_t> all(kSpan);
  mem.Read(0, all.data(), kSpan);
  EXPECT_EQ(all, shadow);
  other.Read(0, all.data(), kSpan);
  EXPECT_EQ(all, other_shadow);
  // Bytes beyond the span were never written: zero.
  uint8_t far[16] = {1};
  mem.Read(int64_t{1} << 30, far, 16);
  EXPECT_EQ(far[0], 0);
  EXPECT_EQ(sources, pristine);  // mapped bytes are never written
  EXPECT_GT(sources.size(), 100u);
}

TEST(SimMemory, MappedBytesAreReadInPlaceUntilWritten) {
  sim::Memory mem("HBM", int64_t{32} << 30);
  std::vector<uint8_t> c(1 << 22);  // 4 MiB: 64 pages
  for (size_t i = 0; i < c.size(); ++i) c[i] = static_cast<uint8_t>(i * 7 + 1);
  const int64_t base = (int64_t{32} << 30) - static_cast<int64_t>(c.size()) - 256;
  mem.MapReadOnly(base, c.data(), static_cast<int64_t>(c.size()));
  EXPECT_EQ(mem.allocated_bytes(), 0);  // nothing copied
  uint8_t b[3];
  mem.Read(base + 1000, b, 3);
  EXPECT_EQ(b[2], c[1002]);
  uint8_t x = 0xEE;
  mem.Write(base + 70000, &x, 1);  // copies one 64 KiB page
  EXPECT_EQ(mem.allocated_bytes(), 1 << 16);
  mem.Read(base + 69999, b, 3);
  EXPECT_EQ(b[0], c[69999]);
  EXPECT_EQ(b[1], 0xEE);
  EXPECT_EQ(b[2], c[70001]);
  EXPECT_EQ(c[70000], static_cast<uint8_t>(70000 * 7 + 1));
}

ChipConfig V4() {
  StatusOr<ChipConfig> c = LoadChip("v4");
  XTPU_CHECK(c.ok());
  return *c;
}

// A program that reads a constant buffer and then overwrites it.
constexpr const char* kOverwrite =
    ".buffer K hbm f32[8,128] input\n"
    ".buffer O hbm f32[8,128] output\n"
    "dma.load dst=0, src=K, bytes=4096, signal=s0\n"
    "vpu.binary_imm add, f32, dst=0x1000, a=0, imm=1.0, rows=8, cols=128, ds=512, as=512, "
    "wait=s0, signal=s1\n"
    "dma.store dst=O, src=0x1000, bytes=4096, wait=s1, signal=s2\n"
    "dma.store dst=K, src=0x1000, bytes=4096, wait=s2, signal=s3\n"
    "nop wait=s3\n";

TEST(SimMemory, MapBufferIsCopyOnWriteAndGivesTheSetBufferResult) {
  StatusOr<isa::Program> p = isa::Assemble(kOverwrite, "overwrite.s");
  ASSERT_TRUE(p.ok()) << p.status().message();
  std::vector<float> k(8 * 128);
  for (size_t i = 0; i < k.size(); ++i) k[i] = 0.5f * static_cast<float>(i);
  std::string bytes(reinterpret_cast<const char*>(k.data()), k.size() * 4);
  const std::string original = bytes;
  for (int run = 0; run < 2; ++run) {
    sim::Simulator mapped(V4(), *p), copied(V4(), *p);
    ASSERT_TRUE(mapped.MapBuffer("K", bytes).ok());
    ASSERT_TRUE(copied.SetBuffer("K", Literal(Shape(DType::kF32, {8, 128}),
                                              std::vector<uint8_t>(bytes.begin(), bytes.end())))
                    .ok());
    ASSERT_TRUE(mapped.Run().ok());
    ASSERT_TRUE(copied.Run().ok());
    StatusOr<Literal> o = mapped.GetBuffer("O"), kk = mapped.GetBuffer("K");
    ASSERT_TRUE(o.ok() && kk.ok());
    EXPECT_EQ(o->bytes(), copied.GetBuffer("O")->bytes());
    EXPECT_EQ(kk->bytes(), copied.GetBuffer("K")->bytes());
    EXPECT_EQ(o->data<float>()[5], 3.5f);
    EXPECT_EQ(kk->data<float>()[5], 3.5f);  // the program overwrote K in its HBM...
    EXPECT_EQ(bytes, original);             // ...not the mapped bytes
  }
  sim::Simulator s(V4(), *p);
  EXPECT_EQ(s.MapBuffer("K", "abc").message(), "buffer 'K' is f32[8,128] (4096 bytes) but 3 bytes were given");
  EXPECT_EQ(s.MapBuffer("nope", bytes).code(), StatusCode::kNotFound);
}

// An executable's constants are mapped, not copied, by RunExecutable: two
// runs of one Executable give the same outputs (bit for bit) as a run that
// copies the constants in, and leave the executable unchanged.
TEST(SimMemory, RunExecutableTwiceSameResultsConstantsUntouched) {
  std::string text = "HloModule m\n\nENTRY main {\n  x = f32[16,256] parameter(0)\n";
  text += "  w = f32[256,128] constant({";
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int i = 0; i < 256 * 128; ++i) text += fmt::format("{}{:.6g}", i ? ", " : "", u(rng));
  text += "})\n  d = f32[16,128] dot(x, w), lhs_batch_dims={}, lhs_contracting_dims={1}, rhs_batch_dims={}, rhs_contracting_dims={0}\n";
  text += "  ROOT out = (f32[16,128]) tuple(d)\n}\n";
  StatusOr<std::unique_ptr<Module>> m = ParseModule(text, "m.tir");
  ASSERT_TRUE(m.ok()) << m.status().message();
  StatusOr<runtime::Executable> exe = compiler::Compile(std::move(*m), V4());
  ASSERT_TRUE(exe.ok()) << exe.status().message();
  ASSERT_FALSE(exe->constants.empty());
  const runtime::Executable before = *exe;
  Literal x(Shape(DType::kF32, {16, 256}));
  for (int64_t i = 0; i < x.num_elements(); ++i) x.data<float>()[i] = u(rng);
  runtime::RunOptions ro;
  ro.threads = 2;
  StatusOr<runtime::RunResult> r1 = runtime::RunExecutable(*exe, {x}, ro);
  StatusOr<runtime::RunResult> r2 = runtime::RunExecutable(*exe, {x}, ro);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r1->outputs[0].bytes(), r2->outputs[0].bytes());
  EXPECT_TRUE(*exe == before);
  // The same program with the constants copied in (SetBuffer).
  sim::Simulator s(V4(), exe->program, {.threads = 2});
  for (const runtime::ConstantData& c : exe->constants) {
    const isa::BufferDecl* b = exe->program.FindBuffer(c.buffer);
    ASSERT_NE(b, nullptr);
    ASSERT_TRUE(s.SetBuffer(c.buffer, Literal(b->shape, std::vector<uint8_t>(c.bytes.begin(), c.bytes.end()))).ok());
  }
  ASSERT_TRUE(s.SetBuffer(exe->inputs[0].buffer, x).ok());
  ASSERT_TRUE(s.Run().ok());
  StatusOr<Literal> want = s.GetBuffer(exe->outputs[0].buffer);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(r1->outputs[0].bytes(), want->bytes());
  double sum = 0;
  for (int64_t i = 0; i < want->num_elements(); ++i) sum += std::abs(want->data<float>()[i]);
  EXPECT_GT(sum, 1.0);  // not all zero: the weights were read
}

}  // namespace
}  // namespace xtpu
