// Tests for .npy/.npz reading and writing: files made by NumPy (checked in
// under tests/data/npy, see make_npy_data.py), round trips, and malformed
// input that must give an error naming the file and the problem.
#include "xtpu/support/npy.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "xtpu/support/random.h"
#include "xtpu/support/zip.h"

namespace xtpu {
namespace {

namespace fs = std::filesystem;

std::string DataPath(const std::string& name) {
  return (fs::path(__FILE__).parent_path().parent_path() / "data" / "npy" / name).string();
}

std::string TempPath(const std::string& name) {
  return (fs::temp_directory_path() / ("xtpu_npy_test_" + std::to_string(::getpid()) + "_" + name)).string();
}

Literal MustRead(const std::string& name) {
  StatusOr<Literal> r = ReadNpy(DataPath(name));
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? *r : Literal();
}

std::string ErrorOf(const std::string& name) {
  StatusOr<Literal> r = ReadNpy(DataPath(name));
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(NpyTest, ReadsNumpyFiles) {
  Literal f32 = MustRead("f32_2x3.npy");
  EXPECT_EQ(f32.shape().ToString(), "f32[2,3]");
  EXPECT_EQ(f32.GetAsDouble(0), -2.5);
  EXPECT_EQ(f32.GetAsDouble(5), 2.5);

  Literal f16 = MustRead("f16_4.npy");
  EXPECT_EQ(f16.shape().ToString(), "f16[4]");
  EXPECT_EQ(f16.GetAsDouble(1), -1.0);
  EXPECT_EQ(f16.GetAsDouble(3), 65504.0);

  Literal b1 = MustRead("b1_3.npy");
  EXPECT_EQ(b1.shape().ToString(), "pred[3]");
  EXPECT_EQ(b1.GetAsInt64(0), 1);
  EXPECT_EQ(b1.GetAsInt64(1), 0);

  Literal i1 = MustRead("i1_3.npy");
  EXPECT_EQ(i1.dtype(), DType::kS8);
  EXPECT_EQ(i1.GetAsInt64(0), -128);
  Literal u1 = MustRead("u1_3.npy");
  EXPECT_EQ(u1.dtype(), DType::kU8);
  EXPECT_EQ(u1.GetAsInt64(2), 255);
  Literal i4 = MustRead("i4_2x2.npy");
  EXPECT_EQ(i4.shape().ToString(), "s32[2,2]");
  EXPECT_EQ(i4.GetAsInt64(3), -4);
  Literal i8 = MustRead("i8_scalar.npy");
  EXPECT_EQ(i8.shape().ToString(), "s64[]");
  EXPECT_EQ(i8.GetAsInt64(0), -7);
  Literal empty = MustRead("f32_empty.npy");
  EXPECT_EQ(empty.shape().ToString(), "f32[0,5]");
}

TEST(NpyTest, ReadsVersions2And3) {
  for (const char* name : {"f32_v2.npy", "f32_v3.npy"}) {
    Literal l = MustRead(name);
    EXPECT_EQ(l.shape().ToString(), "f32[2]") << name;
    EXPECT_EQ(l.GetAsDouble(1), -2.5) << name;
  }
}

TEST(NpyTest, UnsupportedLayoutsNameFileAndProblem) {
  std::string e = ErrorOf("f8_2.npy");
  EXPECT_NE(e.find("f8_2.npy: unsupported dtype '<f8'"), std::string::npos) << e;
  e = ErrorOf("c8_2.npy");
  EXPECT_NE(e.find("unsupported dtype '<c8'"), std::string::npos) << e;
  e = ErrorOf("f4_big_endian.npy");
  EXPECT_NE(e.find("big-endian"), std::string::npos) << e;
  e = ErrorOf("f32_fortran.npy");
  EXPECT_NE(e.find("fortran_order True"), std::string::npos) << e;
}

TEST(NpyTest, ReadsSavezAndSavezCompressed) {
  // streamed.npz: deflated members with data descriptors (zip written to a pipe).
  for (const char* name : {"savez.npz", "savez_compressed.npz", "streamed.npz"}) {
    StatusOr<NamedLiterals> r = ReadNpz(DataPath(name));
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_EQ(r->size(), 2u) << name;
    EXPECT_EQ((*r)[0].first, "a");
    EXPECT_EQ((*r)[0].second.shape().ToString(), "f32[4]");
    EXPECT_EQ((*r)[0].second.GetAsDouble(3), 3.0);
    EXPECT_EQ((*r)[1].first, "b");
    EXPECT_EQ((*r)[1].second.shape().ToString(), "s64[2,2]");
    EXPECT_EQ((*r)[1].second.GetAsInt64(3), 4);
  }
}

void Put(std::string& s, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Rewrites a plain archive's end record to point to a ZIP64 end record, as
// writers do for archives with over 65535 members or over 4 GiB.
TEST(ZipTest, ReadsZip64EndRecord) {
  std::string good = SerializeNpy(Literal::ScalarF32(2.0f));
  StatusOr<std::string> zip = WriteZip({{"x.npy", good}});
  ASSERT_TRUE(zip.ok());
  std::string s = zip->substr(0, zip->size() - 22);
  uint64_t cd_offset = 30 + 5 + good.size();
  uint64_t cd_size = s.size() - cd_offset;
  uint64_t z64_pos = s.size();
  Put(s, 0x06064b50, 4);
  Put(s, 44, 8);  // size of the rest of the record
  Put(s, 45, 2);
  Put(s, 45, 2);
  Put(s, 0, 4);
  Put(s, 0, 4);
  Put(s, 1, 8);
  Put(s, 1, 8);
  Put(s, cd_size, 8);
  Put(s, cd_offset, 8);
  Put(s, 0x07064b50, 4);  // locator
  Put(s, 0, 4);
  Put(s, z64_pos, 8);
  Put(s, 1, 4);
  Put(s, 0x06054b50, 4);  // classic end record, every field saturated
  Put(s, 0, 4);
  Put(s, 0xffff, 2);
  Put(s, 0xffff, 2);
  Put(s, 0xffffffff, 4);
  Put(s, 0xffffffff, 4);
  Put(s, 0, 2);
  StatusOr<std::vector<ZipMember>> members = ReadZip(s, "z64.npz");
  ASSERT_TRUE(members.ok()) << members.status().message();
  ASSERT_EQ(members->size(), 1u);
  EXPECT_EQ((*members)[0].name, "x.npy");
  EXPECT_EQ((*members)[0].data, good);

  // Without the locator the error says so.
  std::string broken = s;
  broken[broken.size() - 22 - 20] = 'X';
  members = ReadZip(broken, "z64.npz");
  ASSERT_FALSE(members.ok());
  EXPECT_EQ(members.status().message(), "z64.npz: ZIP64 end of central directory locator missing");
}

TEST(NpyTest, RoundTripsEveryDType) {
  for (DType t : {DType::kPred, DType::kS8, DType::kU8, DType::kS32, DType::kS64, DType::kF16, DType::kF32}) {
    Rng rng(static_cast<uint64_t>(t));
    Literal l = RandomLiteral(Shape(t, {2, 3}), rng);
    StatusOr<Literal> back = ParseNpy(SerializeNpy(l), "mem");
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(*back, l) << DTypeName(t);
  }
  Literal scalar = Literal::ScalarF32(1.25f);
  StatusOr<Literal> back = ParseNpy(SerializeNpy(scalar), "mem");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, scalar);
}

TEST(NpyTest, HeaderIsAlignedLikeNumpy) {
  std::string s = SerializeNpy(Literal::FromVector<float>(DType::kF32, {4}, {0, 1, 2, 3}));
  // Same bytes as np.save(np.arange(4, dtype=np.float32)) in the savez member.
  EXPECT_EQ(s.size(), 128u + 16u);
  EXPECT_NE(s.find("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"), std::string::npos);
  EXPECT_EQ(s[127], '\n');
}

TEST(NpyTest, Bf16IsWrittenAsF32) {
  Literal l(Shape(DType::kBF16, {2}));
  l.SetFromDouble(0, 1.5);
  l.SetFromDouble(1, -3.0);
  StatusOr<Literal> back = ParseNpy(SerializeNpy(l), "mem");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->shape().ToString(), "f32[2]");
  EXPECT_EQ(back->GetAsDouble(1), -3.0);
}

TEST(NpyTest, NpzRoundTripAndFiles) {
  NamedLiterals values;
  values.emplace_back("out", Literal::FromVector<int32_t>(DType::kS32, {3}, {1, 2, 3}));
  values.emplace_back("y.1", Literal::ScalarF32(0.5f));
  std::string path = TempPath("rt.npz");
  ASSERT_TRUE(WriteNpz(path, values).ok());
  StatusOr<NamedLiterals> back = ReadNpz(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, values);
  fs::remove(path);

  std::string npy = TempPath("one.npy");
  ASSERT_TRUE(WriteNpy(npy, values[0].second).ok());
  StatusOr<Literal> one = ReadNpy(npy);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, values[0].second);
  fs::remove(npy);
}

TEST(NpyTest, MissingFile) {
  StatusOr<Literal> r = ReadNpy("/nonexistent/x.npy");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "/nonexistent/x.npy: cannot open: No such file or directory");
}

std::string ParseError(std::string_view bytes) {
  StatusOr<Literal> r = ParseNpy(bytes, "f.npy");
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(NpyTest, MalformedNpy) {
  std::string good = SerializeNpy(Literal::FromVector<float>(DType::kF32, {2, 2}, {1, 2, 3, 4}));
  EXPECT_EQ(ParseError(""), "f.npy: truncated header (file is 0 bytes)");
  EXPECT_EQ(ParseError("hello world, not numpy"), "f.npy: bad magic: not a .npy file");
  EXPECT_NE(ParseError(good.substr(0, 40)).find("f.npy: truncated header"), std::string::npos);
  EXPECT_NE(ParseError(good.substr(0, good.size() - 1)).find("data size mismatch"), std::string::npos);
  EXPECT_NE(ParseError(good + "x").find("data size mismatch"), std::string::npos);
  std::string v9 = good;
  v9[6] = 9;
  EXPECT_NE(ParseError(v9).find("unsupported .npy format version 9"), std::string::npos);
  std::string bad_shape = good;
  bad_shape.replace(bad_shape.find("(2, 2)"), 6, "(2, x)");
  EXPECT_NE(ParseError(bad_shape).find("shape"), std::string::npos);
  std::string huge = good;
  huge.replace(huge.find("(2, 2)"), 6, "(9999999999, 9999999999)");
  EXPECT_NE(ParseError(huge).find("f.npy:"), std::string::npos);
}

TEST(NpyTest, GarbageNeverCrashes) {
  std::string good = SerializeNpy(Literal::FromVector<float>(DType::kF32, {2, 2}, {1, 2, 3, 4}));
  Rng rng(42);
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s = good;
    int flips = 1 + static_cast<int>(rng.Next() % 4);
    for (int k = 0; k < flips; ++k) s[rng.Next() % s.size()] = static_cast<char>(rng.Next());
    if (rng.Next() % 4 == 0) s.resize(rng.Next() % s.size());
    (void)ParseNpy(s, "fuzz.npy");
  }
  std::vector<ZipMember> members = {{"a.npy", good}, {"b.npy", good}};
  StatusOr<std::string> zip = WriteZip(members);
  ASSERT_TRUE(zip.ok());
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s = *zip;
    int flips = 1 + static_cast<int>(rng.Next() % 4);
    for (int k = 0; k < flips; ++k) s[rng.Next() % s.size()] = static_cast<char>(rng.Next());
    if (rng.Next() % 4 == 0) s.resize(rng.Next() % s.size());
    (void)ReadZip(s, "fuzz.npz");
  }
}

TEST(NpyTest, MalformedNpz) {
  std::string path = TempPath("bad.npz");
  ASSERT_TRUE(WriteStringToFile(path, "PK\x03\x04 this is not really a zip archive").ok());
  StatusOr<NamedLiterals> r = ReadNpz(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path + ": not a zip archive (no end of central directory record)");

  StatusOr<std::string> zip = WriteZip({{"a.npy", "not npy"}});
  ASSERT_TRUE(zip.ok());
  ASSERT_TRUE(WriteStringToFile(path, *zip).ok());
  r = ReadNpz(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), path + ": member 'a.npy': bad magic: not a .npy file");

  // Corrupt one data byte of a member: the CRC catches it.
  std::string good = SerializeNpy(Literal::ScalarF32(1.0f));
  zip = WriteZip({{"a.npy", good}});
  std::string s = *zip;
  s[30 + 5 + good.size() - 1] ^= 1;
  ASSERT_TRUE(WriteStringToFile(path, s).ok());
  r = ReadNpz(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("CRC-32 mismatch"), std::string::npos);
  fs::remove(path);
}

TEST(RandomTest, DeterministicAndInRange) {
  Rng a(DeriveSeed(0, 1)), b(DeriveSeed(0, 1));
  Literal x = RandomLiteral(Shape(DType::kF32, {1000}), a);
  EXPECT_EQ(x, RandomLiteral(Shape(DType::kF32, {1000}), b));
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    EXPECT_GE(x.GetAsDouble(i), -1.0);
    EXPECT_LT(x.GetAsDouble(i), 1.0);
  }
  for (DType t : {DType::kBF16, DType::kF16}) {
    Rng r(7);
    Literal l = RandomLiteral(Shape(t, {1000}), r);
    for (int64_t i = 0; i < l.num_elements(); ++i) {
      EXPECT_GE(l.GetAsDouble(i), -1.0);
      EXPECT_LT(l.GetAsDouble(i), 1.0);
    }
  }
  Rng r(3);
  Literal ints = RandomLiteral(Shape(DType::kS32, {1000}), r);
  for (int64_t i = 0; i < ints.num_elements(); ++i) {
    EXPECT_GE(ints.GetAsInt64(i), 0);
    EXPECT_LT(ints.GetAsInt64(i), 10);
  }
  EXPECT_NE(DeriveSeed(0, 0), DeriveSeed(0, 1));
  EXPECT_NE(DeriveSeed(0, 0), DeriveSeed(1, 0));
}

}  // namespace
}  // namespace xtpu
