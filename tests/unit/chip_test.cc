// Chip descriptions: presets load with their documented peaks; every kind of
// bad config is an error naming the parameter and the file; overrides, unit
// parsing, JSON/TOML output; docs/chips.md matches the parameter table.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "xtpu/chip/chip.h"

namespace xtpu {
namespace {

// A minimal valid chip; tests edit it.
const char* kMinimal = R"(
clock_mhz = 1000
[mxu]
rows = 128
cols = 128
input_dtype = "bf16"
accumulator_dtype = "f32"
bf16_rate = 1
[vmem]
bytes = "16 MiB"
[hbm]
bytes = "8 GiB"
bandwidth_gbps = 100
)";

ChipConfig Load(const std::string& name) {
  auto chip = LoadChip(name);
  EXPECT_TRUE(chip.ok()) << chip.status().message();
  return chip.ok() ? *chip : ChipConfig{};
}

std::string ErrorOf(const std::string& text, const std::string& file = "configs/x.toml") {
  auto chip = LoadChipFromString(text, file);
  EXPECT_FALSE(chip.ok()) << "expected an error for:\n" << text;
  return chip.ok() ? "" : chip.status().message();
}

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) text.replace(pos, from.size(), to);
  return text;
}

TEST(ChipPresets, V4Peaks) {
  ChipConfig v4 = Load("v4");
  EXPECT_EQ(v4.name, "v4");
  EXPECT_EQ(v4.core.count, 2);
  EXPECT_EQ(v4.mxu.count, 4);
  EXPECT_EQ(v4.mxu.input_dtype, DType::kBF16);
  EXPECT_EQ(v4.vmem.bytes, 16 << 20);
  EXPECT_EQ(v4.hbm.bytes, int64_t{32} << 30);
  EXPECT_DOUBLE_EQ(MxuPeakOps(v4, DType::kBF16), 2.0 * 128 * 128 * 4 * 2 * 1.05e9);  // 275 TFLOP/s
  EXPECT_NEAR(MxuPeakOps(v4, DType::kBF16) / 1e12, 275.25, 0.01);
  EXPECT_NEAR(MxuPeakOps(v4, DType::kS8) / 1e12, 275.25, 0.01);
  EXPECT_DOUBLE_EQ(MxuPeakOpsPerCore(v4, DType::kBF16) * 2, MxuPeakOps(v4, DType::kBF16));
  EXPECT_DOUBLE_EQ(HbmBytesPerSecond(v4), 1.2e12);
  EXPECT_NEAR(RidgePoint(v4), 229.4, 0.1);
  EXPECT_DOUBLE_EQ(VpuPeakOps(v4), 8.0 * 128 * 2 * 2 * 1.05e9);
  EXPECT_EQ(WeightTileBytes(v4), 32 * 1024);
  EXPECT_EQ(AccumulatorRows(v4), 1024);
}

TEST(ChipPresets, V5ePeaks) {
  ChipConfig v5e = Load("v5e");
  EXPECT_NEAR(MxuPeakOps(v5e, DType::kBF16) / 1e12, 196.6, 0.1);  // 197 TFLOP/s
  EXPECT_NEAR(MxuPeakOps(v5e, DType::kS8) / 1e12, 393.2, 0.1);    // 393 TOP/s
  EXPECT_EQ(v5e.vmem.bytes, int64_t{128} << 20);
  EXPECT_DOUBLE_EQ(HbmBytesPerSecond(v5e), 819e9);
}

TEST(ChipPresets, V1Peaks) {
  ChipConfig v1 = Load("v1");
  EXPECT_EQ(v1.mxu.input_dtype, DType::kS8);
  EXPECT_EQ(v1.mxu.accumulator_dtype, DType::kS32);
  EXPECT_NEAR(MxuPeakOps(v1, DType::kS8) / 1e12, 91.75, 0.01);  // 92 TOP/s
  EXPECT_EQ(MxuPeakOps(v1, DType::kBF16), 0);                   // no floating point
  EXPECT_EQ(v1.vmem.bytes, 24 << 20);
  EXPECT_EQ(v1.accumulator.bytes, 4 << 20);
  EXPECT_EQ(AccumulatorRows(v1), 4096);
  EXPECT_EQ(WeightTileBytes(v1), 64 * 1024);
  EXPECT_EQ(WeightLoadCycles(v1), 256);
  EXPECT_EQ(v1.weight_fifo.depth, 4);
  EXPECT_EQ(v1.hbm.bytes, int64_t{8} << 30);
  // The paper's ridge point (~1350) counts MACs per byte; ours counts 2 ops.
  EXPECT_NEAR(RidgePoint(v1) / 2, 1349.3, 0.1);
}

TEST(ChipPresets, EdgeLoadsAndPresetsAreListed) {
  ChipConfig edge = Load("edge");
  EXPECT_EQ(edge.mxu.rows, 32);
  EXPECT_NEAR(MxuPeakOps(edge, DType::kS8) / 1e12, 2.048, 1e-9);
  EXPECT_NEAR(MxuPeakOps(edge, DType::kBF16) / 1e12, 1.024, 1e-9);
  std::vector<std::string> presets = ListChipPresets();
  for (const char* name : {"edge", "v1", "v4", "v5e"}) {
    EXPECT_NE(std::find(presets.begin(), presets.end(), name), presets.end()) << name;
  }
}

TEST(ChipPresets, LoadByPathAndConfigDirEnv) {
  std::string dir = ChipConfigDir();
  ASSERT_FALSE(dir.empty());
  auto by_path = LoadChip(dir + "/v4.toml");
  ASSERT_TRUE(by_path.ok()) << by_path.status().message();
  EXPECT_TRUE(SameChipParams(*by_path, Load("v4")));

  std::string tmp = ::testing::TempDir() + "/xtpu_chip_cfg";
  std::filesystem::create_directories(tmp);
  std::ofstream(tmp + "/tiny.toml") << kMinimal;
  setenv("XTPU_CONFIG_DIR", tmp.c_str(), 1);
  auto tiny = LoadChip("tiny");
  unsetenv("XTPU_CONFIG_DIR");
  ASSERT_TRUE(tiny.ok()) << tiny.status().message();
  EXPECT_EQ(tiny->name, "tiny");  // from the file name
  EXPECT_EQ(tiny->mxu.rows, 128);
}

TEST(ChipPresets, UnknownPresetListsPresets) {
  auto chip = LoadChip("v9");
  ASSERT_FALSE(chip.ok());
  EXPECT_EQ(chip.status().code(), StatusCode::kNotFound);
  EXPECT_NE(chip.status().message().find("unknown chip 'v9'"), std::string::npos) << chip.status().message();
  EXPECT_NE(chip.status().message().find("v5e"), std::string::npos) << chip.status().message();
  auto missing = LoadChip("/nonexistent/chip.toml");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("/nonexistent/chip.toml"), std::string::npos);
}

TEST(ChipLoad, DefaultsAndOrigins) {
  auto chip = LoadChipFromString(kMinimal, "mini.toml");
  ASSERT_TRUE(chip.ok()) << chip.status().message();
  EXPECT_EQ(chip->name, "mini");
  EXPECT_EQ(chip->core.count, 1);
  EXPECT_EQ(chip->sem.count, 32);
  EXPECT_EQ(chip->smem.bytes, 16 * 1024);
  EXPECT_EQ(chip->origin[FindChipParam("mxu.rows")], ParamOrigin::kFile);
  EXPECT_EQ(chip->origin[FindChipParam("sem.count")], ParamOrigin::kDefault);
}

TEST(ChipErrors, UnknownKeyNamesKeyFileAndSuggestion) {
  std::string e = ErrorOf(Replace(kMinimal, "rows = 128", "rowz = 128"));
  EXPECT_NE(e.find("unknown parameter mxu.rowz in configs/x.toml (line 4)"), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean mxu.rows?"), std::string::npos) << e;
  // ...and the then-missing mxu.rows is reported too.
  EXPECT_NE(e.find("missing required parameter mxu.rows in configs/x.toml"), std::string::npos) << e;

  e = ErrorOf(std::string(kMinimal) + "[mxu.extra]\nfoo = 1\n");
  EXPECT_NE(e.find("unknown parameter mxu.extra in configs/x.toml (line 14)"), std::string::npos) << e;
  e = ErrorOf(std::string("rows = 4\n") + kMinimal);
  EXPECT_NE(e.find("unknown parameter rows in configs/x.toml (line 1); did you mean mxu.rows?"), std::string::npos)
      << e;
  e = ErrorOf(std::string("vmem = 4\n") + Replace(kMinimal, "[vmem]\nbytes = \"16 MiB\"", ""));
  EXPECT_NE(e.find("vmem in configs/x.toml (line 1): expected a table of vmem.* parameters, got integer"),
            std::string::npos)
      << e;
}

TEST(ChipErrors, MissingRequired) {
  std::string e = ErrorOf(Replace(kMinimal, "clock_mhz = 1000", ""));
  EXPECT_NE(e.find("missing required parameter clock_mhz in configs/x.toml"), std::string::npos) << e;
  EXPECT_NE(e.find("MHz"), std::string::npos) << e;
}

TEST(ChipErrors, WrongType) {
  std::string e = ErrorOf(Replace(kMinimal, "rows = 128", "rows = \"many\""));
  EXPECT_NE(e.find("mxu.rows in configs/x.toml (line 4): expected an integer, got string"), std::string::npos) << e;
  e = ErrorOf(Replace(kMinimal, "rows = 128", "rows = 128.0"));
  EXPECT_NE(e.find("mxu.rows in configs/x.toml (line 4): expected an integer, got float"), std::string::npos) << e;
  e = ErrorOf(Replace(kMinimal, "input_dtype = \"bf16\"", "input_dtype = \"f32\""));
  EXPECT_NE(e.find("mxu.input_dtype in configs/x.toml (line 6): \"f32\" is not allowed; use one of bf16|s8"),
            std::string::npos)
      << e;
  e = ErrorOf(Replace(kMinimal, "bytes = \"16 MiB\"", "bytes = \"16 parsecs\""));
  EXPECT_NE(e.find("vmem.bytes in configs/x.toml (line 10): unknown unit 'parsecs'"), std::string::npos) << e;
  e = ErrorOf(Replace(kMinimal, "bandwidth_gbps = 100", "bandwidth_gbps = true"));
  EXPECT_NE(e.find("hbm.bandwidth_gbps in configs/x.toml (line 13): expected a number in GB/s"), std::string::npos)
      << e;
}

TEST(ChipErrors, OutOfRange) {
  std::string e = ErrorOf(Replace(kMinimal, "rows = 128", "rows = 5000"));
  EXPECT_NE(e.find("mxu.rows in configs/x.toml (line 4): 5000 is out of range 1..4096"), std::string::npos) << e;
  e = ErrorOf(Replace(kMinimal, "rows = 128", "rows = 0"));
  EXPECT_NE(e.find("mxu.rows in configs/x.toml (line 4): 0 is out of range"), std::string::npos) << e;
  e = ErrorOf(Replace(kMinimal, "clock_mhz = 1000", "clock_mhz = nan"));
  EXPECT_NE(e.find("clock_mhz in configs/x.toml (line 2): nan is not a finite number"), std::string::npos) << e;
}

TEST(ChipErrors, Inconsistent) {
  std::string e = ErrorOf(Replace(kMinimal, "accumulator_dtype = \"f32\"", "accumulator_dtype = \"s32\""));
  EXPECT_NE(e.find("mxu.accumulator_dtype in configs/x.toml: s32 does not go with mxu.input_dtype bf16"),
            std::string::npos)
      << e;
  e = ErrorOf(Replace(kMinimal, "bf16_rate = 1", ""));
  EXPECT_NE(e.find("mxu.bf16_rate in configs/x.toml: is 0, but mxu.input_dtype is bf16"), std::string::npos) << e;
  e = ErrorOf(std::string(kMinimal) + "[accumulator]\nbytes = 256\n");
  EXPECT_NE(e.find("accumulator.bytes in configs/x.toml: 256 B cannot hold one row of mxu.cols = 128 f32"),
            std::string::npos)
      << e;
  e = ErrorOf(Replace(kMinimal, "bytes = \"16 MiB\"", "bytes = \"16 KiB\""));
  EXPECT_NE(e.find("vmem.bytes in configs/x.toml: 16 KiB cannot hold one weight tile"), std::string::npos) << e;
}

TEST(ChipErrors, SyntaxError) {
  std::string e = ErrorOf("clock_mhz = = 3\n");
  EXPECT_NE(e.find("configs/x.toml:1:"), std::string::npos) << e;
  EXPECT_NE(e.find("TOML syntax error"), std::string::npos) << e;
}

TEST(ChipOverride, SetsValueAndRechecks) {
  ChipConfig v4 = Load("v4");
  ASSERT_TRUE(ApplyOverride(v4, "mxu.rows=256").ok());
  ASSERT_TRUE(ApplyOverride(v4, " mxu.cols = 256 ").ok());
  EXPECT_EQ(v4.mxu.rows, 256);
  EXPECT_NEAR(MxuPeakOps(v4, DType::kBF16) / 1e12, 4 * 275.25, 0.1);
  EXPECT_EQ(WeightLoadCycles(v4), 256);
  EXPECT_EQ(v4.origin[FindChipParam("mxu.rows")], ParamOrigin::kOverride);
  ASSERT_EQ(v4.overrides.size(), 2u);
  EXPECT_EQ(v4.overrides[1], "mxu.cols=256");

  ASSERT_TRUE(ApplyOverride(v4, "vmem.bytes=64 MiB").ok());
  EXPECT_EQ(v4.vmem.bytes, 64 << 20);
  ASSERT_TRUE(ApplyOverride(v4, "hbm.bandwidth_gbps=3 TB/s").ok());
  EXPECT_DOUBLE_EQ(v4.hbm.bandwidth_gbps, 3000);
  ASSERT_TRUE(ApplyOverride(v4, "clock_mhz=1.5 GHz").ok());
  EXPECT_DOUBLE_EQ(v4.clock_mhz, 1500);
  ASSERT_TRUE(ApplyOverride(v4, "description=\"what if\"").ok());
  EXPECT_EQ(v4.description, "what if");
  ASSERT_TRUE(ApplyOverride(v4, "hbm.technology=HBM3").ok());
  EXPECT_EQ(v4.hbm.technology, "HBM3");
}

TEST(ChipOverride, ErrorsLeaveChipUnchanged) {
  ChipConfig v4 = Load("v4");
  ChipConfig before = v4;
  Status s = ApplyOverride(v4, "mxu.input_dtype=s8");  // accumulator stays f32
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("mxu.accumulator_dtype in"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("v4.toml with override mxu.input_dtype=s8"), std::string::npos) << s.message();
  EXPECT_TRUE(SameChipParams(v4, before));
  EXPECT_TRUE(v4.overrides.empty());

  s = ApplyOverride(v4, "mxu.rowz=3");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown parameter mxu.rowz in override 'mxu.rowz=3'; did you mean mxu.rows?"),
            std::string::npos)
      << s.message();
  s = ApplyOverride(v4, "mxu.rows=abc");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("mxu.rows in override 'mxu.rows=abc': expected an integer, got string"),
            std::string::npos)
      << s.message();
  s = ApplyOverride(v4, "mxu.rows=9999");
  EXPECT_NE(s.message().find("out of range 1..4096"), std::string::npos) << s.message();
  s = ApplyOverride(v4, "mxu.rows");
  EXPECT_NE(s.message().find("not of the form key=value"), std::string::npos) << s.message();
  EXPECT_TRUE(SameChipParams(v4, before));
}

TEST(ChipUnits, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("4096"), 4096);
  EXPECT_EQ(*ParseByteSize("24 MiB"), 24 << 20);
  EXPECT_EQ(*ParseByteSize("24MiB"), 24 << 20);
  EXPECT_EQ(*ParseByteSize("8 GiB"), int64_t{8} << 30);
  EXPECT_EQ(*ParseByteSize("1.5 KiB"), 1536);
  EXPECT_EQ(*ParseByteSize("16 KB"), 16000);
  EXPECT_EQ(*ParseByteSize("16 GB"), 16000000000);
  EXPECT_EQ(*ParseByteSize("2 TiB"), int64_t{2} << 40);
  EXPECT_EQ(*ParseByteSize("64 kib"), 65536);
  EXPECT_FALSE(ParseByteSize("0.5 B").ok());
  EXPECT_FALSE(ParseByteSize("MiB").ok());
  EXPECT_FALSE(ParseByteSize("3 furlongs").ok());
  EXPECT_EQ(FormatBytes(24 << 20), "24 MiB");
  EXPECT_EQ(FormatBytes(1536), "1536 B");
  EXPECT_EQ(FormatBytes(1000), "1000 B");
  EXPECT_EQ(FormatBytes(int64_t{32} << 30), "32 GiB");
}

TEST(ChipUnits, OtherUnitsInFiles) {
  std::string text = Replace(kMinimal, "clock_mhz = 1000", "clock_mhz = \"1.05 GHz\"");
  text = Replace(text, "bandwidth_gbps = 100", "bandwidth_gbps = \"1.2 TB/s\"\nlatency_ns = \"0.5 us\"");
  text = Replace(text, "bytes = \"8 GiB\"", "bytes = 8589934592");
  auto chip = LoadChipFromString(text, "u.toml");
  ASSERT_TRUE(chip.ok()) << chip.status().message();
  EXPECT_DOUBLE_EQ(chip->clock_mhz, 1050);
  EXPECT_DOUBLE_EQ(chip->hbm.bandwidth_gbps, 1200);
  EXPECT_DOUBLE_EQ(chip->hbm.latency_ns, 500);
  EXPECT_EQ(chip->hbm.bytes, int64_t{8} << 30);
}

TEST(ChipOutput, DescribeJsonAndTomlRoundTrip) {
  for (const char* name : {"v1", "v4", "v5e", "edge"}) {
    ChipConfig chip = Load(name);
    std::string text = DescribeChip(chip);
    EXPECT_NE(text.find("mxu.rows"), std::string::npos) << text;
    EXPECT_NE(text.find("sem.count"), std::string::npos) << text;
    EXPECT_NE(text.find("ridge_point"), std::string::npos) << text;
    EXPECT_NE(text.find("default"), std::string::npos) << text;

    nlohmann::json j = ChipToJson(chip);
    EXPECT_EQ(j["name"], name);
    EXPECT_EQ(j["params"].size(), kNumChipParams);
    EXPECT_EQ(j["params"]["mxu.rows"]["value"], chip.mxu.rows);
    EXPECT_EQ(j["params"]["mxu.rows"]["origin"], "file");
    EXPECT_EQ(j["params"]["mxu.input_dtype"]["value"], DTypeName(chip.mxu.input_dtype));
    EXPECT_DOUBLE_EQ(j["derived"]["hbm.bandwidth"]["value"].get<double>(), HbmBytesPerSecond(chip));

    std::string toml = ChipToToml(chip);
    auto again = LoadChipFromString(toml, "roundtrip.toml");
    ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << toml;
    EXPECT_TRUE(SameChipParams(chip, *again)) << toml;
  }
  ChipConfig v4 = Load("v4");
  std::string text = DescribeChip(v4);
  EXPECT_NE(text.find("275.3 TFLOP/s"), std::string::npos) << text;
  EXPECT_NE(text.find("16 MiB"), std::string::npos) << text;
}

// docs/chips.md holds the generated tables between markers. Run with
// XTPU_UPDATE_DOCS=1 to rewrite them after changing the table or a preset.
std::string ReplaceBetween(std::string doc, const std::string& begin, const std::string& end,
                           const std::string& body) {
  size_t b = doc.find(begin);
  size_t e = doc.find(end);
  if (b == std::string::npos || e == std::string::npos || e < b) return doc;
  b += begin.size();
  return doc.substr(0, b) + "\n" + body + doc.substr(e);
}

TEST(ChipDocs, DocsMatchTheTable) {
  std::string path = std::string(XTPU_SOURCE_DIR) + "/docs/chips.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  std::stringstream buf;
  buf << in.rdbuf();
  std::string doc = buf.str();
  std::vector<ChipConfig> presets;
  for (const char* name : {"v1", "v4", "v5e", "edge"}) presets.push_back(Load(name));
  std::string params = ChipParamsDocsTable();
  std::string peaks = ChipPeaksDocsTable(presets);
  const char* env = std::getenv("XTPU_UPDATE_DOCS");
  if (env != nullptr && std::string(env) == "1") {
    doc = ReplaceBetween(doc, "<!-- BEGIN PARAMS -->", "<!-- END PARAMS -->", params);
    doc = ReplaceBetween(doc, "<!-- BEGIN PEAKS -->", "<!-- END PEAKS -->", peaks);
    std::ofstream(path) << doc;
  }
  EXPECT_NE(doc.find("<!-- BEGIN PARAMS -->\n" + params + "<!-- END PARAMS -->"), std::string::npos)
      << "docs/chips.md is stale; rerun this test with XTPU_UPDATE_DOCS=1. Expected table:\n" << params;
  EXPECT_NE(doc.find("<!-- BEGIN PEAKS -->\n" + peaks + "<!-- END PEAKS -->"), std::string::npos)
      << "docs/chips.md is stale; rerun this test with XTPU_UPDATE_DOCS=1. Expected table:\n" << peaks;
}

}  // namespace
}  // namespace xtpu
