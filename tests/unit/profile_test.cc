// Profiles (runtime/profile.h), sweeps (runtime/sweep.h), the HTML report
// page (runtime/report.h) and the progress line (support/progress.h).
#include "xtpu/runtime/profile.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "xtpu/compiler/compile.h"
#include "xtpu/ir/parser.h"
#include "xtpu/runtime/report.h"
#include "xtpu/runtime/sweep.h"
#include "xtpu/support/progress.h"

namespace xtpu::runtime {
namespace {

// A matmul, a fused relu on it and a floor (not an epilogue op): MXU, VPU and
// DMA work.
constexpr const char* kMlp = R"(HloModule mlp

ENTRY main {
  x = f32[64,256] parameter(0)
  w1 = f32[256,256] iota(), iota_dimension=0
  h = f32[64,256] dot(x, w1), lhs_batch_dims={}, lhs_contracting_dims={1}, rhs_batch_dims={}, rhs_contracting_dims={0}
  zero = f32[] constant(0)
  zeros = f32[64,256] broadcast(zero), dimensions={}
  r = f32[64,256] maximum(h, zeros)
  e = f32[64,256] floor(r)
  ROOT out = (f32[64,256]) tuple(e)
}
)";

TEST(BoundTest, BusiestResourceAboveThreshold) {
  EXPECT_EQ(ClassifyBound({.mxu = 0.9, .hbm = 0.3}), Bound::kMxu);
  EXPECT_EQ(ClassifyBound({.mxu = 0.3, .hbm = 0.8}), Bound::kHbm);
  EXPECT_EQ(ClassifyBound({.vpu = 0.6, .vmem = 0.55}), Bound::kVpu);
  EXPECT_EQ(ClassifyBound({.xlu = 0.7}), Bound::kXlu);
  EXPECT_EQ(ClassifyBound({.hbm = 0.9, .vmem = 0.95}), Bound::kVmem);
  // The boundary: at the threshold it is bound, just below it is overhead.
  EXPECT_EQ(ClassifyBound({.hbm = kBoundThreshold}), Bound::kHbm);
  EXPECT_EQ(ClassifyBound({.hbm = std::nextafter(kBoundThreshold, 0.0)}), Bound::kOverhead);
  EXPECT_EQ(ClassifyBound({}), Bound::kOverhead);
  // Ties go to compute.
  EXPECT_EQ(ClassifyBound({.mxu = 0.7, .hbm = 0.7}), Bound::kMxu);
  EXPECT_EQ(BoundName(Bound::kOverhead), "overhead");
  EXPECT_EQ(BoundName(Bound::kVmem), "VMEM");
}

TEST(RooflineTest, MinOfPeakAndBandwidthSlope) {
  Peaks p;
  p.mxu_flops_per_second = 100e12;
  p.vpu_ops_per_second = 2e12;
  p.hbm_bytes_per_second = 1e12;
  // Ridge of the MXU at 100 FLOP/B, of the VPU at 2 op/B.
  EXPECT_DOUBLE_EQ(RooflineOpsPerSecond(p, WorkKind::kMxu, 10), 10e12);
  EXPECT_DOUBLE_EQ(RooflineOpsPerSecond(p, WorkKind::kMxu, 100), 100e12);
  EXPECT_DOUBLE_EQ(RooflineOpsPerSecond(p, WorkKind::kMxu, 1000), 100e12);
  EXPECT_DOUBLE_EQ(RooflineOpsPerSecond(p, WorkKind::kVector, 1), 1e12);
  EXPECT_DOUBLE_EQ(RooflineOpsPerSecond(p, WorkKind::kVector, 10), 2e12);
  EXPECT_DOUBLE_EQ(RooflineOpsPerSecond(p, WorkKind::kMxu, INFINITY), 100e12);
  EXPECT_DOUBLE_EQ(RooflineOpsPerSecond(p, WorkKind::kData, 5), 0);
}

TEST(PeaksTest, ScaleWithCoresUsed) {
  ChipConfig chip = *LoadChip("v4");
  Peaks one = ChipPeaks(chip, 1), two = ChipPeaks(chip, 2);
  EXPECT_DOUBLE_EQ(two.mxu_flops_per_second, 2 * one.mxu_flops_per_second);
  EXPECT_DOUBLE_EQ(two.vpu_ops_per_second, 2 * one.vpu_ops_per_second);
  EXPECT_DOUBLE_EQ(two.hbm_bytes_per_second, one.hbm_bytes_per_second);  // shared
  EXPECT_DOUBLE_EQ(one.mxu_flops_per_second, MxuPeakOpsPerCore(chip, chip.mxu.input_dtype));
}

struct Compiled {
  ChipConfig chip;
  Executable exe;
  RunResult run;
};

Compiled CompileAndRun(const std::string& chip_name) {
  Compiled c;
  c.chip = *LoadChip(chip_name);
  auto module = ParseModule(kMlp);
  EXPECT_TRUE(module.ok()) << module.status().message();
  auto exe = compiler::Compile(std::move(*module), c.chip);
  EXPECT_TRUE(exe.ok()) << exe.status().message();
  c.exe = std::move(*exe);
  std::vector<Literal> inputs;
  for (const TensorSignature& s : c.exe.inputs) inputs.emplace_back(Shape(s.model_dtype, s.dims));
  RunOptions ro;
  ro.timing_only = true;
  auto r = RunExecutable(c.exe, inputs, ro);
  EXPECT_TRUE(r.ok()) << r.status().message();
  c.run = std::move(*r);
  return c;
}

TEST(ProfileTest, OpsAccountForTheRun) {
  Compiled c = CompileAndRun("v4");
  auto p = BuildProfile(c.exe, c.chip, c.run, 50);
  ASSERT_TRUE(p.ok()) << p.status().message();
  nlohmann::json meta = nlohmann::json::parse(c.exe.metadata_json);
  ASSERT_EQ(p->ops.size(), meta["kernels"].size());
  const auto& ts = c.run.timing->stats;
  EXPECT_EQ(p->cycles, ts.cycles);
  int64_t hbm = 0, mxu_flops = 0, flops = 0;
  std::set<std::string> bounds;
  for (const OpProfile& o : p->ops) {
    EXPECT_GT(o.instructions, 0) << o.name;
    EXPECT_GT(o.cycles, 0) << o.name;
    EXPECT_LE(o.end, ts.cycles + 1e-6);
    EXPECT_LE(o.mxu_busy, o.cycles + 1e-6) << o.name;
    hbm += o.hbm_bytes;
    mxu_flops += o.mxu_flops;
    flops += o.flops;
    bounds.insert(std::string(BoundName(o.bound)));
    // Bound and roofline follow from the measured figures.
    EXPECT_EQ(o.bound, ClassifyBound(o.use));
    EXPECT_NEAR(o.use.hbm, o.hbm_bytes / (p->peaks.hbm_bytes_per_second / p->peaks.clock_hz) / o.cycles, 1e-9);
    if (o.hbm_bytes > 0) EXPECT_DOUBLE_EQ(o.intensity, o.ops / o.hbm_bytes);
    EXPECT_NEAR(o.fraction_of_roofline * o.roofline_ops_per_second, o.ops_per_second, 1e-6 * o.ops_per_second + 1e-9);
  }
  // Every instruction of this program belongs to an op.
  EXPECT_EQ(hbm, ts.hbm_bytes);
  EXPECT_EQ(mxu_flops, ts.mxu_flops);
  EXPECT_EQ(flops, c.run.model_flops);
  // The dot is MXU work; the floor is vector work.
  EXPECT_EQ(p->ops.front().work, WorkKind::kMxu);
  EXPECT_EQ(p->ops.back().work, WorkKind::kVector);
  EXPECT_GT(p->ops.back().vector_ops, 0);
  // Timelines: fractions, one per bin, and the MXU was busy at some point.
  ASSERT_FALSE(p->units.empty());
  double mxu_peak = 0;
  for (const UnitTimeline& u : p->units) {
    ASSERT_EQ(u.busy.size(), 50u);
    for (double b : u.busy) {
      EXPECT_GE(b, 0);
      EXPECT_LE(b, 1);
    }
    if (u.kind == "mxu")
      for (double b : u.busy) mxu_peak = std::max(mxu_peak, b);
  }
  EXPECT_GT(mxu_peak, 0.5);
  EXPECT_EQ(p->hbm_busy.size(), 50u);

  // CSV: a header and one line per op.
  std::string csv = ProfileCsv(*p);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), static_cast<long>(p->ops.size()) + 1);
  EXPECT_TRUE(csv.starts_with("name,op,cycles,"));
  nlohmann::json j = ProfileJson(*p);
  EXPECT_EQ(j["profile"]["ops"].size(), p->ops.size());
  EXPECT_TRUE(j.contains("performance"));
  EXPECT_TRUE(j.contains("timing"));
}

TEST(ProfileTest, NeedsRecordedInstructions) {
  Compiled c = CompileAndRun("v4");
  c.run.timing->instructions.clear();
  EXPECT_FALSE(BuildProfile(c.exe, c.chip, c.run).ok());
  c.run.timing.reset();
  EXPECT_FALSE(BuildProfile(c.exe, c.chip, c.run).ok());
}

TEST(TraceTest, TracksAndEventsNamedByOp) {
  Compiled c = CompileAndRun("v4");
  nlohmann::json meta = nlohmann::json::parse(c.exe.metadata_json);
  std::set<std::string> kernel_names;
  for (const auto& k : meta["kernels"]) kernel_names.insert(k["name"].get<std::string>());
  size_t n = c.run.timing->instructions.size();
  for (int64_t max_events : {int64_t{1} << 40, int64_t{1}}) {
    nlohmann::json t = KernelTraceJson(c.exe, c.chip, c.run, max_events);
    bool coalesced = max_events == 1;
    EXPECT_EQ(t["otherData"]["coalesced"].get<bool>(), coalesced);
    std::set<std::pair<int, int>> named, used;
    std::set<int> processes;
    int64_t instructions = 0;
    size_t events = 0;
    for (const auto& e : t["traceEvents"]) {
      if (e["ph"] == "M") {
        if (e["name"] == "thread_name") named.insert({e["pid"].get<int>(), e["tid"].get<int>()});
        if (e["name"] == "process_name") processes.insert(e["pid"].get<int>());
        continue;
      }
      ++events;
      EXPECT_EQ(e["ph"], "X");
      used.insert({e["pid"].get<int>(), e["tid"].get<int>()});
      EXPECT_TRUE(kernel_names.count(e["name"].get<std::string>())) << e["name"];
      EXPECT_GE(e["dur"].get<double>(), 0);
      if (coalesced) {
        instructions += e["args"]["instructions"].get<int64_t>();
        EXPECT_FALSE(e["args"]["first"].get<std::string>().empty());
      } else {
        ++instructions;
        EXPECT_FALSE(e["args"]["instruction"].get<std::string>().empty());
      }
    }
    EXPECT_EQ(named, used);  // every track has a name
    EXPECT_FALSE(processes.empty());
    EXPECT_EQ(instructions, static_cast<int64_t>(n));
    if (coalesced) EXPECT_LT(events, n);
    else EXPECT_EQ(events, n);
  }
}

TEST(ReportTest, SelfContainedPage) {
  Compiled c = CompileAndRun("v4");
  auto p = BuildProfile(c.exe, c.chip, c.run);
  ASSERT_TRUE(p.ok());
  p->model = "a</script><b>";
  auto html = ProfileReportHtml(*p);
  ASSERT_TRUE(html.ok()) << html.status().message();
  EXPECT_NE(html->find("Chart.js v"), std::string::npos);  // inlined
  EXPECT_EQ(html->find("<script src"), std::string::npos);
  EXPECT_EQ(html->find("http://"), std::string::npos);
  // The data cannot end its <script> early.
  EXPECT_EQ(html->find("a</script><b>"), std::string::npos);
  EXPECT_NE(html->find("a<\\/script><b>"), std::string::npos);
}

TEST(SweepTest, ParseAxes) {
  auto a = ParseSweepAxes({"mxu.rows=64,128, 256", "hbm.bandwidth_gbps=600"});
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].key, "mxu.rows");
  EXPECT_EQ((*a)[0].values, (std::vector<std::string>{"64", "128", "256"}));
  EXPECT_EQ((*a)[1].values, (std::vector<std::string>{"600"}));
  EXPECT_FALSE(ParseSweepAxes({"mxu.rows"}).ok());
  EXPECT_FALSE(ParseSweepAxes({"mxu.rows=64,,128"}).ok());
  EXPECT_FALSE(ParseSweepAxes({"mxu.rows=64", "mxu.rows=128"}).ok());
  EXPECT_FALSE(ParseSweepAxes({"=64"}).ok());
}

TEST(SweepTest, CrossProductWithFailedPoints) {
  std::string path = (std::filesystem::temp_directory_path() / "xtpu_sweep_test_mlp.tir").string();
  std::ofstream(path) << kMlp;
  auto axes = ParseSweepAxes({"mxu.cols=0,64,128", "hbm.bandwidth_gbps=300,1200"});
  ASSERT_TRUE(axes.ok());
  int last_done = -1, calls = 0;
  SweepOptions o;
  o.jobs = 2;
  o.progress = [&](int done, int total) {
    EXPECT_EQ(total, 6);
    EXPECT_GE(done, last_done);
    last_done = done;
    ++calls;
  };
  auto r = RunSweep(path, *axes, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(last_done, 6);
  EXPECT_GT(calls, 0);
  ASSERT_EQ(r->points.size(), 6u);
  // The last axis varies fastest.
  EXPECT_EQ(r->points[0].values, (std::vector<std::string>{"0", "300"}));
  EXPECT_EQ(r->points[1].values, (std::vector<std::string>{"0", "1200"}));
  EXPECT_EQ(r->points[5].values, (std::vector<std::string>{"128", "1200"}));
  for (int i = 0; i < 2; ++i) EXPECT_NE(r->points[i].error.find("mxu.cols"), std::string::npos) << r->points[i].error;
  for (int i = 2; i < 6; ++i) {
    EXPECT_TRUE(r->points[i].error.empty()) << r->points[i].error;
    EXPECT_GT(r->points[i].cycles, 0);
  }
  // More HBM bandwidth never makes it slower; the same chip gives the same cycles as a direct run.
  EXPECT_LE(r->points[3].cycles, r->points[2].cycles);
  EXPECT_LE(r->points[5].cycles, r->points[4].cycles);
  Compiled c = CompileAndRun("v4");  // v4 has mxu.cols=128, hbm 1200 GB/s
  EXPECT_EQ(r->points[5].cycles, c.run.timing->stats.cycles);
  std::string csv = SweepCsv(*r);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7);
  EXPECT_TRUE(csv.starts_with("mxu.cols,hbm.bandwidth_gbps,cycles,"));
  EXPECT_NE(csv.find(",error,"), std::string::npos);
  auto html = SweepReportHtml(*r);
  EXPECT_TRUE(html.ok());
  // A key that is no parameter stops the sweep.
  auto bad = ParseSweepAxes({"mxu.frobs=1,2"});
  EXPECT_FALSE(RunSweep(path, *bad, o).ok());
  EXPECT_FALSE(RunSweep(path + ".missing.tir", *axes, o).ok());
  std::filesystem::remove(path);
}

TEST(ProgressTest, Format) {
  EXPECT_EQ(Progress::Format("simulate", 0.5, 2.0, ""), "[simulate]  50% |############            | 2.0s elapsed ~2.0s left");
  EXPECT_EQ(Progress::Format("compile: passes", -1, 1.25, ""), "[compile: passes] 1.2s elapsed");
  EXPECT_EQ(Progress::Format("sweep", 1.0, 3.0, "6/6 points"), "[sweep] 100% |########################| 6/6 points 3.0s elapsed");
  // Not a terminal in tests: nothing is drawn.
  Progress p(false);
  p.Update("x", 0.5);
  p.Finish();
}

}  // namespace
}  // namespace xtpu::runtime
