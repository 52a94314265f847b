// Batched small dots (kernels_mxu_batched.cc): attention's Q K^T and P V,
// odd shapes, f32 and bf16, and the scores with their softmax in one kernel.

#include "mxu_test_util.h"

namespace xtpu {
namespace {

using namespace mxutest;

// ---- batched dots of small matmuls (kernels_mxu_batched.cc) ----

// [B, M, K] x [B, K, N] with `in` operands and an `out` result; with
// `transposed` the rhs is a [B, N, K] parameter transposed to [B, K, N] (as
// attention's keys), which the kernel reads as a view.
std::string BatchedDotModule(int64_t b, int64_t m, int64_t k, int64_t n, const char* in, const char* out,
                             bool transposed) {
  std::string s = fmt::format("HloModule batched\n\nENTRY main {{\n  a = {}[{},{},{}] parameter(0)\n", in, b, m, k);
  if (transposed) {
    s += fmt::format("  kt = {0}[{1},{2},{3}] parameter(1)\n  w = {0}[{1},{3},{2}] transpose(kt), dimensions={{0,2,1}}\n",
                     in, b, n, k);
  } else {
    s += fmt::format("  w = {}[{},{},{}] parameter(1)\n", in, b, k, n);
  }
  s += fmt::format("  d = {0}[{1},{2},{3}] dot(a, w), lhs_batch_dims={{0}}, lhs_contracting_dims={{2}}, "
                   "rhs_batch_dims={{0}}, rhs_contracting_dims={{1}}\n  ROOT r = ({0}[{1},{2},{3}]) tuple(d)\n}}\n",
                   out, b, m, n);
  return s;
}


TEST(MxuBatchedDot, AttentionShapesBf16) {
  // Q K^T with the keys transposed in VMEM, then P V: one kernel each, no copy.
  const std::string qk = BatchedDotModule(24, 128, 64, 128, "bf16", "bf16", true);
  EXPECT_EQ(KernelOps(qk, "v4", Precision::kDefault), std::vector<std::string>{"dot(batched)"});
  EXPECT_LT(RunOnChip(qk, "v4", Precision::kDefault).rel_l2, 4e-3);
  const std::string qk32 = BatchedDotModule(24, 128, 64, 128, "bf16", "f32", true);
  EXPECT_LT(RunOnChip(qk32, "v4", Precision::kDefault).rel_l2, 1e-6);
  const std::string pv = BatchedDotModule(24, 128, 128, 64, "bf16", "bf16", false);
  EXPECT_EQ(KernelOps(pv, "v4", Precision::kDefault), std::vector<std::string>{"dot(batched)"});
  EXPECT_LT(RunOnChip(pv, "v4", Precision::kDefault).rel_l2, 4e-3);
}

TEST(MxuBatchedDot, OddShapesAndF32) {
  // Two k-steps, two column tiles, a last step with fewer batch elements than
  // MXUs, f32 operands rounded on the VPU; and the same transposed.
  for (bool t : {false, true}) {
    const std::string m = BatchedDotModule(11, 50, 200, 130, "f32", "f32", t);
    EXPECT_EQ(KernelOps(m, "v4", Precision::kDefault), std::vector<std::string>{"dot(batched)"});
    EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
    EXPECT_LT(RunOnChip(m, "v5e", Precision::kDefault).rel_l2, 1e-2);
    // More passes than one: the GEMM engine, reading the transposed view.
    EXPECT_EQ(KernelOps(m, "v4", Precision::kHighest), std::vector<std::string>{"dot"});
    EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest).rel_l2, 1e-6);
  }
  // A chip without an XLU reads the transposed weights element by element.
  const std::string m = BatchedDotModule(6, 40, 64, 96, "bf16", "f32", true);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault, false, "xlu.count=0").rel_l2, 1e-6);
}

TEST(MxuBatchedDot, ResultStoredInItsTransposesLayout) {
  // Attention's output: P V per (batch, head) [B*H, S, D], transposed to
  // [S, B*H, D] and reshaped to [S*B, H*D] for the output projection. The
  // dot writes its result in the transpose's layout, so the transpose and
  // the reshape are views: no copy kernel.
  const std::string s =
      "HloModule attn_out\n\nENTRY main {\n  p = f32[12,32,32] parameter(0)\n  v = f32[12,32,16] parameter(1)\n"
      "  o = f32[12,32,16] dot(p, v), lhs_batch_dims={0}, lhs_contracting_dims={2}, rhs_batch_dims={0}, "
      "rhs_contracting_dims={1}\n  t = f32[32,12,16] transpose(o), dimensions={1,0,2}\n"
      "  r = f32[128,48] reshape(t)\n  n = f32[128,48] negate(r)\n  ROOT out = (f32[128,48]) tuple(n)\n}\n";
  EXPECT_EQ(KernelOps(s, "v4", Precision::kDefault), (std::vector<std::string>{"dot(batched)", "negate"}));
  EXPECT_LT(RunOnChip(s, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(s, "v4", Precision::kHighest).rel_l2, 1e-6);  // the GEMM engine, same layout
}


// Attention's scores Q K^T and the softmax of their rows, after the fusion
// pass (a fusion(kind=row) reading the dot): `t` operands and result.
std::string ScoresSoftmaxModule(int64_t b, int64_t m, int64_t k, int64_t n, const char* t) {
  std::string s = fmt::format(R"(HloModule scores

add.{0} {{
  x0 = {0}[] parameter(0)
  x1 = {0}[] parameter(1)
  ROOT x2 = {0}[] add(x0, x1)
}}

max.{0} {{
  y0 = {0}[] parameter(0)
  y1 = {0}[] parameter(1)
  ROOT y2 = {0}[] maximum(y0, y1)
}}

ENTRY main {{
  a = {0}[{1},{2},{3}] parameter(0)
  kt = {0}[{1},{4},{3}] parameter(1)
  w = {0}[{1},{3},{4}] transpose(kt), dimensions={{0,2,1}}
  d = {0}[{1},{2},{4}] dot(a, w), lhs_batch_dims={{0}}, lhs_contracting_dims={{2}}, rhs_batch_dims={{0}}, rhs_contracting_dims={{1}}
  ninf = {0}[] constant(-inf)
  mx = {0}[{1},{2}] reduce(d, ninf), dimensions={{2}}, to_apply=max.{0}
  mxb = {0}[{1},{2},{4}] broadcast(mx), dimensions={{0,1}}
  sub = {0}[{1},{2},{4}] subtract(d, mxb)
  e = {0}[{1},{2},{4}] exponential(sub)
  zero = {0}[] constant(0)
  sm = {0}[{1},{2}] reduce(e, zero), dimensions={{2}}, to_apply=add.{0}
  smb = {0}[{1},{2},{4}] broadcast(sm), dimensions={{0,1}}
  p = {0}[{1},{2},{4}] divide(e, smb)
  ROOT out = ({0}[{1},{2},{4}]) tuple(p)
}}
)",
                              t, b, m, k, n);
  return AfterFusionPass(s);
}

TEST(MxuBatchedDot, SoftmaxFusedIntoScores) {
  // One kernel: the scores never leave VMEM (normalized from the f32
  // accumulators, rounded once). Several steps and a partial last one, two
  // column tiles, bf16 and f32; same values as the separate kernels.
  for (const char* t : {"bf16", "f32"}) {
    for (auto [b, m, k, n] : {std::array<int64_t, 4>{24, 128, 64, 128}, std::array<int64_t, 4>{11, 50, 72, 200}}) {
      const std::string mod = ScoresSoftmaxModule(b, m, k, n, t);
      EXPECT_EQ(KernelOps(mod, "v4", Precision::kDefault), std::vector<std::string>{"dot(batched)+softmax"}) << t;
      // (Default precision rounds Q and K to bf16: a few 1e-3 for f32. The
      // bf16 evaluator rounds the scores and every softmax op to bf16; the
      // kernel keeps f32 and rounds once, so it differs from it by about as
      // much as the separate kernels do.)
      const bool bf16 = std::string(t) == "bf16";
      const double tol = bf16 ? 3e-2 : 1e-2;
      Outcome fused = RunOnChip(mod, "v4", Precision::kDefault);
      EXPECT_LT(fused.rel_l2, tol) << t << " " << b << "x" << m << "x" << k << "x" << n;
      setenv("XTPU_NO_SOFTMAX_FUSION", "1", 1);
      EXPECT_EQ(KernelOps(mod, "v4", Precision::kDefault).size(), 2u);
      Outcome apart = RunOnChip(mod, "v4", Precision::kDefault);
      unsetenv("XTPU_NO_SOFTMAX_FUSION");
      EXPECT_LE(fused.rel_l2, apart.rel_l2 * (bf16 ? 1.1 : 1.0) + 1e-6) << t;
    }
  }
  // Highest precision (6 passes): the GEMM engine and the row kernel.
  const std::string f32 = ScoresSoftmaxModule(8, 64, 64, 128, "f32");
  EXPECT_EQ(KernelOps(f32, "v4", Precision::kHighest).size(), 2u);
  EXPECT_LT(RunOnChip(f32, "v4", Precision::kHighest).rel_l2, 1e-5);
  // BERT's attention scores: faster than the two kernels, side by side
  // (45.3k vs 51.3k cycles: the scores never go through HBM).
  const std::string bert = ScoresSoftmaxModule(384, 128, 64, 128, "bf16");
  auto fused = TimeOnV4(bert);
  setenv("XTPU_NO_SOFTMAX_FUSION", "1", 1);
  auto apart = TimeOnV4(bert);
  unsetenv("XTPU_NO_SOFTMAX_FUSION");
  ASSERT_TRUE(fused.has_value() && apart.has_value());
  std::printf("    scores + softmax [384,128,128]: %lld cycles fused, %lld apart\n", (long long)fused->cycles,
              (long long)apart->cycles);
  EXPECT_LT(fused->cycles * 1.1, apart->cycles);
}

TEST(MxuBatchedDot, PipelinedNearHbmBound) {
  // Attention's Q K^T for 8 sequences of 128 and 12 heads: HBM-bound. The
  // GEMM engine took 3.8x its bound (one batch element per step, two
  // steps in flight); the batched kernel keeps several steps of loads in flight.
  auto t = TimeOnV4(BatchedDotModule(96, 128, 64, 128, "bf16", "bf16", true));
  ASSERT_TRUE(t.has_value());
  EXPECT_LT(t->cycles, 1.6 * t->roofline_cycles) << t->cycles << " cycles, roofline " << t->roofline_cycles;
}


}  // namespace
}  // namespace xtpu
