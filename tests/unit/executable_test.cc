// .xtpu executables: exact round trip through bytes and files, and every
// kind of damage (truncation, flipped bytes, wrong magic or version, bad CRC,
// bad sections, fields that disagree with the program or chip) is a one-line
// error naming the file and the field, never a crash.
#include "xtpu/runtime/executable.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <utility>

#include "xtpu/chip/chip.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/isa/encoding.h"
#include "xtpu/support/check.h"
#include "xtpu/support/npy.h"

namespace xtpu::runtime {
namespace {

std::string SourceDir() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind("/tests/"));
}

const char* kProgram = R"(
.buffer x hbm s32[2,3] input
.buffer w hbm f32[4]
.buffer y hbm f32[2,3] output
.buffer v vmem f32[8]
  dma0.load dst=v, src=w, bytes=16, signal=s0
  vpu.unary relu, f32, dst=v, a=v, rows=1, cols=4, ds=0, as=0, wait=s0, signal=s1
  dma1.store dst=y, src=v, bytes=16, wait=s1
  halt
)";

isa::Program Assembled(const char* text) {
  StatusOr<isa::Program> p = isa::Assemble(text, "test.s");
  XTPU_CHECK(p.ok());
  return *p;
}

// A small executable for the "edge" chip, built by hand.
Executable Sample() {
  StatusOr<ChipConfig> chip = LoadChip("edge");
  XTPU_CHECK(chip.ok());
  chip->source = "edge";  // not the path: the seeds written from this are checked in
  Executable e;
  e.compiler_version = XTPU_VERSION;
  e.chip_toml = ChipToToml(*chip);
  e.chip_name = chip->name;
  e.precision = "high";
  e.program = Assembled(kProgram);
  std::string w(16, '\0');
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<char>(i * 17);
  e.constants.push_back({"w", w});
  e.inputs.push_back({"input_ids", DType::kS64, {2, 3}, "x", DType::kS32});
  e.outputs.push_back({"logits", DType::kF32, {2, 3}, "y", DType::kF32});
  e.metadata_json = R"({"flops": 12, "kernels": [{"name": "relu", "cycles": 40}]})";
  return e;
}

std::string Bytes(const Executable& e) {
  StatusOr<std::string> b = SerializeExecutable(e);
  XTPU_CHECK(b.ok());
  return *b;
}

std::string Load(std::string_view bytes) {
  StatusOr<Executable> e = DeserializeExecutable(bytes, "t.xtpu");
  return e.ok() ? "OK" : e.status().message();
}

std::string SaveError(const Executable& e) {
  StatusOr<std::string> b = SerializeExecutable(e);
  return b.ok() ? "OK" : b.status().message();
}

// ---- Building files by hand, following docs/executable.md -----------------

void PutLE(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void PutStr(std::string& out, std::string_view s) {
  PutLE(out, s.size(), 4);
  out += s;
}

void FixCrc(std::string& file) {
  XTPU_CHECK(file.size() >= 4);
  file.resize(file.size() - 4);
  PutLE(file, crc32_z(0L, reinterpret_cast<const Bytef*>(file.data()), file.size()), 4);
}

using SectionList = std::vector<std::pair<std::string, std::string>>;

SectionList Sections(const std::string& file) {
  SectionList out;
  size_t pos = 12;
  while (pos < file.size() - 4) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; --i) len = (len << 8) | static_cast<uint8_t>(file[pos + 4 + i]);
    out.emplace_back(file.substr(pos, 4), file.substr(pos + 12, len));
    pos += 12 + len;
  }
  return out;
}

std::string Build(const SectionList& sections, uint32_t version = kExecutableFormatVersion) {
  std::string out(kExecutableMagic);
  PutLE(out, version, 4);
  for (const auto& [tag, payload] : sections) {
    out += tag;
    PutLE(out, payload.size(), 8);
    out += payload;
  }
  out += "CRC!";
  FixCrc(out);
  return out;
}

std::string WithSection(const std::string& file, const std::string& tag, const std::string& payload) {
  SectionList s = Sections(file);
  for (auto& [t, p] : s)
    if (t == tag) p = payload;
  return Build(s);
}

// ---- Round trips ------------------------------------------------------------

TEST(Executable, RoundTripsExactly) {
  Executable e = Sample();
  std::string bytes = Bytes(e);
  StatusOr<Executable> back = DeserializeExecutable(bytes, "t.xtpu");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(*back == e);
  EXPECT_EQ(back->program.source_name, "t.xtpu");
  EXPECT_EQ(back->constants[0].bytes, e.constants[0].bytes);
  EXPECT_EQ(back->inputs[0].model_dtype, DType::kS64);
  EXPECT_EQ(back->inputs[0].chip_dtype, DType::kS32);
  EXPECT_EQ(Bytes(*back), bytes);  // deterministic
  EXPECT_EQ(bytes.substr(0, 8), "XTPUEXEC");
  SectionList s = Sections(bytes);
  ASSERT_EQ(s.size(), 6u);
  const char* tags[] = {"HEAD", "CHIP", "PROG", "CNST", "SIGS", "META"};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(s[i].first, tags[i]);
  EXPECT_EQ(s[1].second, e.chip_toml);
  EXPECT_EQ(s[5].second, e.metadata_json);
}

TEST(Executable, SavesAndLoadsFiles) {
  std::string path = ::testing::TempDir() + "/xtpu_executable_test.xtpu";
  Executable e = Sample();
  ASSERT_TRUE(SaveExecutable(e, path).ok());
  StatusOr<Executable> back = LoadExecutable(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_TRUE(*back == e);
  EXPECT_EQ(back->program.source_name, path);
  std::filesystem::remove(path);

  StatusOr<Executable> missing = LoadExecutable(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(path), std::string::npos);

  e.precision = "fast";
  Status bad = SaveExecutable(e, path);
  EXPECT_EQ(bad.message(), path + ": precision 'fast' is not one of default, high, highest");
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(Executable, MinimalAndOtherVersionsLoad) {
  Executable e = Sample();
  e.constants.clear();
  e.inputs.clear();
  e.outputs.clear();
  e.metadata_json = "null";
  e.precision = "default";
  e.compiler_version = "0.0.1-some-old-build";  // not an error: kept for the CLI to print
  StatusOr<Executable> back = DeserializeExecutable(Bytes(e), "t.xtpu");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->compiler_version, "0.0.1-some-old-build");
  EXPECT_TRUE(*back == e);
}

// ---- Damaged files ----------------------------------------------------------

TEST(Executable, TruncationAtEveryByteIsAnError) {
  std::string bytes = Bytes(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::string msg = Load(bytes.substr(0, n));
    ASSERT_NE(msg, "OK") << n;
    EXPECT_EQ(msg.rfind("t.xtpu: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_EQ(Load(""), "t.xtpu: file is 0 bytes long, too short to be an xtpu executable");
  EXPECT_EQ(Load(bytes.substr(0, 10)), "t.xtpu: truncated: the format version is missing");
  EXPECT_EQ(Load(bytes.substr(0, 14)), "t.xtpu: truncated: the CRC at the end is missing");
}

TEST(Executable, EveryFlippedBitIsAnError) {
  std::string bytes = Bytes(Sample());
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string b = bytes;
    b[i] ^= static_cast<char>(1 << (i % 8));
    std::string msg = Load(b);
    ASSERT_NE(msg, "OK") << i;
    if (i < 8)
      EXPECT_NE(msg.find("not an xtpu executable"), std::string::npos) << msg;
    else if (i < 12)
      EXPECT_NE(msg.find("format"), std::string::npos) << msg;
    else
      EXPECT_NE(msg.find("CRC mismatch"), std::string::npos) << msg;
  }
}

// With the CRC recomputed, damage reaches the section parser and the field
// checks: whatever loads must be a consistent executable that saves again.
TEST(Executable, CorruptionWithValidCrcNeverCrashes) {
  std::string bytes = Bytes(Sample());
  std::mt19937_64 rng(7);
  int errors = 0, total = 0;
  auto check = [&](std::string b) {
    FixCrc(b);
    ++total;
    StatusOr<Executable> e = DeserializeExecutable(b, "t.xtpu");
    if (!e.ok()) {
      ++errors;
      EXPECT_EQ(e.status().message().find('\n'), std::string::npos) << e.status().message();
      return;
    }
    StatusOr<std::string> again = SerializeExecutable(*e);
    ASSERT_TRUE(again.ok()) << again.status().message();
    StatusOr<Executable> reloaded = DeserializeExecutable(*again, "t.xtpu");
    ASSERT_TRUE(reloaded.ok()) << reloaded.status().message();
    EXPECT_TRUE(*reloaded == *e);
  };
  for (size_t i = 12; i + 4 < bytes.size(); ++i) {
    std::string b = bytes;
    b[i] = static_cast<char>(~b[i]);
    check(b);
  }
  for (int iter = 0; iter < 3000; ++iter) {
    std::string b = bytes;
    for (int k = 0; k < 4; ++k) b[12 + rng() % (b.size() - 16)] = static_cast<char>(rng());
    if (iter % 3 == 0) b.insert(12 + rng() % (b.size() - 16), 1 + rng() % 9, static_cast<char>(rng()));
    check(b);
  }
  EXPECT_GT(errors, total / 2);
}

TEST(Executable, FramingErrors) {
  std::string bytes = Bytes(Sample());
  SectionList s = Sections(bytes);
  std::string b = bytes;
  b[0] = 'Y';
  EXPECT_EQ(Load(b), "t.xtpu: not an xtpu executable (the file does not start with XTPUEXEC)");
  StatusOr<std::string> prog = isa::Encode(Sample().program);
  ASSERT_TRUE(prog.ok());
  EXPECT_EQ(Load(*prog),
            "t.xtpu: not an xtpu executable: this is a program binary (magic XTPUPROG), not a compiled model");
  EXPECT_EQ(Load(Build(s, 2)), "t.xtpu: written by a newer xtpu (format 2); this is format 1");
  EXPECT_EQ(Load(Build(s, 0)), "t.xtpu: format version 0 is not supported; this is format 1");
  b = bytes;
  b.back() ^= 1;
  EXPECT_NE(Load(b).find("t.xtpu: CRC mismatch (stored 0x"), std::string::npos) << Load(b);

  SectionList dup = s;
  dup.push_back(s[3]);
  EXPECT_EQ(Load(Build(dup)), "t.xtpu: section CNST appears twice");
  SectionList unknown = s;
  unknown.insert(unknown.begin() + 2, {"XTRA", "?"});
  EXPECT_EQ(Load(Build(unknown)), "t.xtpu: unknown section tag 'XTRA' at byte " +
                                      std::to_string(12 + 24 + s[0].second.size() + s[1].second.size()));
  SectionList missing = s;
  missing.erase(missing.begin() + 5);
  EXPECT_EQ(Load(Build(missing)), "t.xtpu: section META is missing");
  // Sections may come in any order.
  SectionList reordered = s;
  std::swap(reordered[0], reordered[5]);
  EXPECT_EQ(Load(Build(reordered)), "OK");

  // A section claiming more bytes than the file has.
  b = Build(s);
  size_t len_at = 12 + 4;
  b[len_at + 7] = 0x10;
  FixCrc(b);
  EXPECT_EQ(Load(b), "t.xtpu: section HEAD claims " + std::to_string((uint64_t{0x10} << 56) + s[0].second.size()) +
                         " bytes but only " + std::to_string(b.size() - 4 - 24) + " remain before the CRC");
  b = bytes;
  b.insert(b.size() - 4, "abc");
  FixCrc(b);
  EXPECT_EQ(Load(b), "t.xtpu: truncated section header at byte " + std::to_string(bytes.size() - 4) +
                         " (3 bytes before the CRC)");
}

TEST(Executable, SectionContentErrors) {
  std::string bytes = Bytes(Sample());
  std::string head;
  PutStr(head, XTPU_VERSION);
  PutStr(head, "edge");
  PutStr(head, "high");
  EXPECT_EQ(Load(WithSection(bytes, "HEAD", head)), "OK");
  EXPECT_EQ(Load(WithSection(bytes, "HEAD", head + "x")), "t.xtpu: section HEAD: 1 unexpected bytes at its end");
  EXPECT_EQ(Load(WithSection(bytes, "HEAD", head.substr(0, 4 + std::string(XTPU_VERSION).size() + 2))),
            "t.xtpu: section HEAD: chip_name needs 4 bytes but only 2 remain");

  // A constant whose size does not match its buffer.
  std::string cnst;
  PutLE(cnst, 1, 4);
  PutStr(cnst, "w");
  PutLE(cnst, 100, 8);
  cnst += std::string(100, 'z');
  EXPECT_EQ(Load(WithSection(bytes, "CNST", cnst)), "t.xtpu: constant 'w' has 100 bytes, its buffer 'w' needs 16");
  cnst.resize(cnst.size() - 1);
  EXPECT_EQ(Load(WithSection(bytes, "CNST", cnst)),
            "t.xtpu: section CNST: constant 'w' needs 100 bytes but only 99 remain");
  std::string huge_count;
  PutLE(huge_count, 0xffffffffu, 4);
  EXPECT_EQ(Load(WithSection(bytes, "CNST", huge_count)),
            "t.xtpu: section CNST: constant count 4294967295 does not fit in the 0 bytes that remain");

  // A signature whose buffer is not in the program.
  Executable other = Sample();
  other.program.buffers.erase(other.program.buffers.begin());  // x
  StatusOr<std::string> prog = isa::Encode(other.program);
  ASSERT_TRUE(prog.ok());
  EXPECT_EQ(Load(WithSection(bytes, "PROG", *prog)), "t.xtpu: input 'input_ids': buffer 'x' is not in the program");
  EXPECT_EQ(Load(WithSection(bytes, "PROG", prog->substr(0, 30))).substr(0, 22), "t.xtpu: section PROG: ");

  // Signatures with an invalid dtype or an absurd rank.
  std::string sigs;
  PutLE(sigs, 1, 4);
  PutStr(sigs, "a");
  sigs += '\x09';
  EXPECT_EQ(Load(WithSection(bytes, "SIGS", sigs + std::string(8, '\0'))),
            "t.xtpu: section SIGS: input 0 model_dtype 9 is not a valid dtype");
  EXPECT_EQ(Load(WithSection(bytes, "SIGS", sigs)),  // shorter than the smallest signature
            "t.xtpu: section SIGS: input count 1 does not fit in the 6 bytes that remain");
  sigs.back() = '\x07';
  PutStr(sigs, "x");
  sigs += '\x03';
  PutLE(sigs, 1000000, 4);
  EXPECT_EQ(Load(WithSection(bytes, "SIGS", sigs)),
            "t.xtpu: section SIGS: input 0 rank 1000000 does not fit in the 0 bytes that remain");

  EXPECT_EQ(Load(WithSection(bytes, "META", "{\"flops\": ")), "t.xtpu: metadata is not valid JSON");
  EXPECT_EQ(Load(WithSection(bytes, "CHIP", "name = \"edge\"\n[mxu\n")).substr(0, 20), "t.xtpu: chip_toml:2:");
}

// The field checks, through SerializeExecutable (which runs the same ones).
TEST(Executable, FieldErrors) {
  auto err = [](auto&& mutate) {
    Executable e = Sample();
    mutate(e);
    return SaveError(e);
  };
  EXPECT_EQ(err([](Executable&) {}), "OK");
  EXPECT_EQ(err([](Executable& e) { e.constants[0].bytes.resize(100); }),
            "executable: constant 'w' has 100 bytes, its buffer 'w' needs 16");
  EXPECT_EQ(err([](Executable& e) { e.constants[0].buffer = "nope"; }),
            "executable: constant 'nope': its buffer is not in the program");
  EXPECT_EQ(err([](Executable& e) { e.constants.push_back(e.constants[0]); }),
            "executable: constant 'w' appears twice");
  EXPECT_EQ(err([](Executable& e) {
              e.constants[0] = {"x", std::string(24, 'a')};
            }),
            "executable: buffer 'x' is both a constant and input 'input_ids'");
  EXPECT_EQ(err([](Executable& e) { e.constants[0].buffer = ""; }), "executable: constant 0 buffer name is empty");
  EXPECT_EQ(err([](Executable& e) { e.inputs[0].buffer = "q"; }),
            "executable: input 'input_ids': buffer 'q' is not in the program");
  EXPECT_EQ(err([](Executable& e) { e.outputs[0].buffer = "v"; }),
            "executable: output 'logits': buffer 'v' is in VMEM, not HBM");
  EXPECT_EQ(err([](Executable& e) {
              e.inputs[0].dims = {3, 2};
            }),
            "executable: input 'input_ids': dims [3,2] differ from buffer 'x' dims [2,3]");
  EXPECT_EQ(err([](Executable& e) {
              e.inputs[0].dims = {2, -3};
            }),
            "executable: input 'input_ids': negative dimension -3 in [2,-3]");
  EXPECT_EQ(err([](Executable& e) {
              e.inputs[0].dims = {1 << 30, 1 << 30, 1 << 30};
            }),
            "executable: input 'input_ids': dims [1073741824,1073741824,1073741824] have too many elements");
  EXPECT_EQ(err([](Executable& e) { e.inputs[0].chip_dtype = DType::kF32; }),
            "executable: input 'input_ids': chip_dtype f32 differs from buffer 'x' dtype s32");
  EXPECT_EQ(err([](Executable& e) { e.inputs[0].model_dtype = static_cast<DType>(42); }),
            "executable: input 'input_ids': model_dtype <invalid dtype 42> is not valid");
  EXPECT_EQ(err([](Executable& e) {
              e.outputs.push_back({"logits", DType::kF32, {4}, "w", DType::kF32});
            }),
            "executable: output 'logits' appears twice");
  EXPECT_EQ(err([](Executable& e) {
              e.outputs.push_back({"copy", DType::kF32, {2, 3}, "y", DType::kF32});
            }),
            "executable: outputs 'logits' and 'copy' share buffer 'y'");
  EXPECT_EQ(err([](Executable& e) { e.outputs[0].name = ""; }), "executable: output 0 name is empty");
  EXPECT_EQ(
      err([](Executable& e) { e.outputs[0].name = std::string(4096, 'n'); }),
      "executable: output 0 name 'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is 4096 bytes "
      "long (at most 4095)");
  EXPECT_EQ(err([](Executable& e) { e.inputs[0].name = "a\nb"; }), "OK");  // names are bytes
  EXPECT_EQ(err([](Executable& e) {
              e.inputs[0].name = "a\nb";
              e.inputs[0].dims = {6};
            }),
            "executable: input 'a\\x0ab': dims [6] differ from buffer 'x' dims [2,3]");
  EXPECT_EQ(err([](Executable& e) { e.compiler_version = ""; }), "executable: compiler_version is empty");
  EXPECT_EQ(err([](Executable& e) { e.metadata_json = ""; }), "executable: metadata is not valid JSON");
  EXPECT_EQ(err([](Executable& e) { e.metadata_json = "{} {}"; }), "executable: metadata is not valid JSON");
  EXPECT_EQ(err([](Executable& e) { e.chip_name = "v4"; }),
            "executable: chip_name 'v4' differs from the name in chip_toml 'edge'");
  EXPECT_EQ(err([](Executable& e) { e.chip_toml += "[bogus]\nx = 1\n"; }).substr(0, 55),
            "executable: unknown parameter bogus in chip_toml (line ");
  // toml++ 3.3 asserts on these headers (marzer/tomlplusplus#301); they are rejected before it sees them.
  EXPECT_EQ(err([](Executable& e) { e.chip_toml = "name = \"edge\"\n[\nxlu]\n"; }),
            "executable: chip_toml:2: a table header must start with a key");
  EXPECT_EQ(err([](Executable& e) { e.chip_toml = "[[[a]]]\n" + e.chip_toml; }),
            "executable: chip_toml:1: a table header must start with a key");
  EXPECT_EQ(err([](Executable& e) { e.chip_toml = "x = '''\n[=\n'''\n" + e.chip_toml; }),
            "executable: unknown parameter x in chip_toml (line 1)");  // in a string: toml++ reads it
  // Non-ASCII text: fine in comments and strings; elsewhere toml++ 3.3 has undefined behaviour.
  EXPECT_EQ(err([](Executable& e) {
              e.chip_toml = "# \xc2\xb5\n" + e.chip_toml;
              e.chip_toml.replace(e.chip_toml.find("description = \"") + 15, 0, "2\xc3\x97 \xc3\xa9 '\\\" ");
            }),
            "OK");
  EXPECT_EQ(err([](Executable& e) { e.chip_toml = "\xc8\xa8 = 1\n" + e.chip_toml; }),
            "executable: chip_toml:1: non-ASCII byte 0xc8 outside a string or comment");
  EXPECT_EQ(err([](Executable& e) { e.chip_toml = "x = 1\ns = \"\"\"\\\n\xc2\xa7\"\"\"\n" + e.chip_toml; }),
            "executable: chip_toml:3: non-ASCII byte 0xc2 in a multi-line string");
  EXPECT_EQ(err([](Executable& e) { e.program.buffers[3].name = "v-1"; }),
            "executable: program: program binary: buffer 3 has an invalid name");
  // The program must fit the chip: edge has one core and 2 GiB of HBM.
  EXPECT_EQ(err([](Executable& e) {
              e.program = Assembled(".core 1\nhalt\n");
              e.constants.clear();
              e.inputs.clear();
              e.outputs.clear();
            }),
            "executable: program: program has 2 core streams but chip 'edge' has 1 core(s)");
  EXPECT_EQ(err([](Executable& e) { e.program.buffers[0].address = int64_t{3} << 30; }),
            "executable: program: buffer 'x' (24 bytes at 0xc0000000) does not fit in HBM of chip 'edge' (2 GiB)");
}

// Every preset chip can be the target of an executable (its ChipToToml
// text passes the screening of chip_toml).
TEST(Executable, EveryPresetChipSaves) {
  std::vector<std::string> presets = ListChipPresets();
  EXPECT_GE(presets.size(), 4u);
  for (const std::string& name : presets) {
    StatusOr<ChipConfig> chip = LoadChip(name);
    ASSERT_TRUE(chip.ok()) << chip.status().message();
    Executable e;
    e.compiler_version = XTPU_VERSION;
    e.chip_toml = ChipToToml(*chip);
    e.chip_name = chip->name;
    e.program = Assembled("halt\n");
    StatusOr<std::string> bytes = SerializeExecutable(e);
    ASSERT_TRUE(bytes.ok()) << name << ": " << bytes.status().message();
    EXPECT_EQ(Load(*bytes), "OK") << name;
  }
}

// The checked-in fuzz seeds (fuzz/corpus/executable) are valid executables.
// XTPU_WRITE_FUZZ_SEEDS=1 rewrites them from the samples here.
TEST(Executable, FuzzSeedsLoad) {
  std::string dir = SourceDir() + "/fuzz/corpus/executable";
  ASSERT_TRUE(std::filesystem::is_directory(dir) || std::getenv("XTPU_WRITE_FUZZ_SEEDS")) << dir;
  if (std::getenv("XTPU_WRITE_FUZZ_SEEDS")) {
    std::filesystem::create_directories(dir);
    Executable e = Sample();
    ASSERT_TRUE(SaveExecutable(e, dir + "/sample.xtpu").ok());
    e.constants.clear();
    e.inputs.clear();
    e.outputs.clear();
    e.program = Assembled("halt\n");
    e.metadata_json = "{}";
    e.precision = "default";
    ASSERT_TRUE(SaveExecutable(e, dir + "/minimal.xtpu").ok());
    e = Sample();
    e.inputs.push_back({"mask", DType::kPred, {4}, "w", DType::kF32});
    e.constants.clear();
    e.outputs.clear();
    e.precision = "highest";
    e.metadata_json = R"([1, 2.5, "x", null, true, {"a": {"b": []}}])";
    ASSERT_TRUE(SaveExecutable(e, dir + "/two_inputs.xtpu").ok());
  }
  int seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    StatusOr<Executable> e = LoadExecutable(entry.path().string());
    EXPECT_TRUE(e.ok()) << e.status().message();
    EXPECT_LT(std::filesystem::file_size(entry.path()), 20000u) << entry.path();
    ++seen;
  }
  EXPECT_GE(seen, 3);
}

}  // namespace
}  // namespace xtpu::runtime
