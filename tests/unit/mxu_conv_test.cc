// Matrix-unit convolutions (kernels_mxu_conv.cc, kernels_mxu_depthwise.cc)
// and their output fusions: values against the evaluator, and the
// lowering choices (pixel pairs, packed kernel rows, accumulator halves,
// output slots, chunking) checked by structure or side-by-side cycles.

#include "mxu_test_util.h"

namespace xtpu {
namespace {

using namespace mxutest;

TEST(MxuConv, SmallVmemChannelChunksAndBands) {
  ConvSpec c{.in = {2, 30, 30, 200}, .kernel = {3, 3, 200, 136}, .pad_h = 1, .pad_w = 1};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault, false, "vmem.bytes=1 MiB").rel_l2, 1e-2);
  ConvSpec d{.in = {1, 40, 40, 16}, .kernel = {3, 3, 1, 16}, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 16};
  EXPECT_LT(RunOnChip(ConvModule(d), "v4", Precision::kDefault, false, "vmem.bytes=512 KiB").rel_l2, 1e-5);
}

TEST(MxuConv, Conv3x3Stride1Pad1) {
  ConvSpec c{.in = {2, 9, 11, 20}, .kernel = {3, 3, 20, 33}, .pad_h = 1, .pad_w = 1};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(ConvModule(c), "v5e", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuConv, Conv7x7Stride2Pad3) {
  ConvSpec c{.in = {1, 20, 18, 3}, .kernel = {7, 7, 3, 16}, .stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuConv, Conv1x1Stride2) {
  ConvSpec c{.in = {2, 8, 8, 40}, .kernel = {1, 1, 40, 24}, .stride_h = 2, .stride_w = 2};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
}

TEST(MxuConv, Depthwise) {
  ConvSpec c{.in = {2, 10, 9, 16}, .kernel = {3, 3, 1, 16}, .pad_h = 1, .pad_w = 1, .groups = 16};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-5);
  ConvSpec s2{.in = {1, 11, 10, 8}, .kernel = {3, 3, 1, 8}, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 8};
  EXPECT_LT(RunOnChip(ConvModule(s2), "v5e", Precision::kHighest).rel_l2, 1e-5);
}

TEST(MxuConv, Grouped) {
  ConvSpec c{.in = {1, 8, 8, 12}, .kernel = {3, 3, 4, 6}, .pad_h = 1, .pad_w = 1, .groups = 3};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuConv, Dilated) {
  ConvSpec c{.in = {1, 12, 12, 8}, .kernel = {3, 3, 8, 8}, .pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2};
  EXPECT_LT(RunOnChip(ConvModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
}

TEST(MxuFusion, ConvBiasReluResidual) {
  ConvSpec c{.in = {2, 7, 7, 24}, .kernel = {3, 3, 24, 40}, .pad_h = 1, .pad_w = 1};
  EXPECT_LT(RunOnChip(ConvFusionModule(c), "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(ConvFusionModule(c), "v5e", Precision::kHighest).rel_l2, 1e-6);
}

TEST(MxuFusion, DepthwiseBiasReluResidual) {
  ConvSpec c{.in = {1, 6, 6, 8}, .kernel = {3, 3, 1, 8}, .pad_h = 1, .pad_w = 1, .groups = 8};
  EXPECT_LT(RunOnChip(ConvFusionModule(c), "v4", Precision::kDefault).rel_l2, 1e-5);
}


// A bf16 model's convolution: bf16 input, kernel, bias and residual, bf16
// result. The chip adds bias and residual to the f32 accumulators and rounds
// once; the evaluator rounds after each op (a few bf16 ulps apart at most).
TEST(MxuFusion, Bf16ConvBiasReluResidual) {
  ConvSpec c{.in = {2, 7, 7, 24}, .kernel = {3, 3, 24, 40}, .pad_h = 1, .pad_w = 1};
  std::string m = ConvFusionModule(c);
  for (size_t at = m.find("f32["); at != std::string::npos; at = m.find("f32[", at)) m.replace(at, 4, "bf16[");
  ASSERT_EQ(m.find("f32"), std::string::npos);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v5e", Precision::kHighest).rel_l2, 1e-2);  // one pass at any precision
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault, false, "vmem.bytes=512 KiB").rel_l2, 1e-2);
}

// conv -> conv -> pad -> add: at default precision the first conv's result
// (read only as the second conv's input) is stored as bf16, which must give
// bit-identical results with less HBM traffic; the second conv writes into
// the pad's buffer, whose border alone the pad fills.
std::string ConvChainModule() {
  ConvSpec a{.in = {2, 12, 12, 16}, .kernel = {3, 3, 16, 24}, .pad_h = 1, .pad_w = 1};
  ConvSpec b{.in = {2, 12, 12, 24}, .kernel = {3, 3, 24, 8}, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
  std::string s = "HloModule chain\n\nENTRY main {\n  x = f32[2,12,12,16] parameter(0)\n";
  s += ConstLine("w1", a.kernel, 21) + ConstLine("w2", b.kernel, 22);
  s += fmt::format("  y1 = f32[2,12,12,24] convolution(x, w1), {}\n", ConvAttrs(a));
  s += fmt::format("  y2 = f32[2,6,6,8] convolution(y1, w2), {}\n", ConvAttrs(b));
  s += "  v = f32[] constant(-3)\n  p = f32[2,9,8,8] pad(y2, v), padding=0_0_0x1_2_0x2_0_0x0_0_0\n";
  s += "  r = f32[2,9,8,8] add(p, p)\n  ROOT out = (f32[2,9,8,8]) tuple(r)\n}\n";
  return s;
}


int64_t LoweredHbmBytes(const std::string& text) {
  auto lowered = LowerV4(text);
  if (!lowered) return -1;
  int64_t bytes = 0;
  for (const auto& k : lowered->kernels) bytes += k.hbm_bytes;
  return bytes;
}

// LHS rows streamed through the MXUs by the lowered program (sum of the
// matmuls' m at default precision).
int64_t StreamedRows(const std::string& text) {
  auto lowered = LowerV4(text);
  if (!lowered) return -1;
  int64_t rows = 0;
  for (const auto& core : lowered->program.cores)
    for (const isa::Instruction& i : core)
      if (i.opcode == isa::Opcode::kMxuMatmul) {
        EXPECT_EQ(i.op("m").reg, -1);  // straight-line code: m is an immediate
        rows += i.op("m").imm;
      }
  return rows;
}

// 64 output channels fill half of v4's 128 MXU columns and a 3x3 kernel row
// of 64 channels (192 values) fills 1.5 k-steps: output pixels are computed
// in pairs (kernel width 4, stride 2, 128 columns), which streams half the
// rows: unpaired, 2 images x 16 output rows x 18 wide pixels x 6 k-steps
// (the 2 halo rows between the images of a row chunk are not streamed).
TEST(MxuConv, PixelPairsHalveStreamedRows) {
  ConvSpec c{.in = {2, 16, 16, 64}, .kernel = {3, 3, 64, 64}, .pad_h = 1, .pad_w = 1};
  const std::string m = ConvFusionModule(c);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest).rel_l2, 1e-6);
  EXPECT_EQ(StreamedRows(m), 2 * 16 * 18 * 6 / 2);
  // ResNet's conv1 shape (7x7 stride 2 pad 3, 3 channels), bf16 operands.
  ConvSpec c1{.in = {1, 30, 30, 3}, .kernel = {7, 7, 3, 64}, .stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3};
  std::string b = ConvFusionModule(c1);
  for (size_t at = b.find("f32["); at != std::string::npos; at = b.find("f32[", at)) b.replace(at, 4, "bf16[");
  EXPECT_LT(RunOnChip(b, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(ConvModule(c1), "v5e", Precision::kHighest).rel_l2, 1e-6);
  // 15 output pixels cannot pair: the plain form, still correct.
  ConvSpec odd{.in = {2, 15, 15, 64}, .kernel = {3, 3, 64, 64}, .pad_h = 1, .pad_w = 1};
  EXPECT_LT(RunOnChip(ConvFusionModule(odd), "v4", Precision::kHighest).rel_l2, 1e-6);
  EXPECT_EQ(StreamedRows(ConvModule(odd)), 2 * 15 * 17 * 6);
}

// Few input channels: the kernel rows of an output row are packed into each
// pixel's K values (7 x 7 x (3 + 1 pad channel) = 196: 2 k-steps instead of
// 7). OW = 11 is odd, so pixels are not paired: 3 images x 12 output rows x
// 14 wide pixels x 2 k-steps. Top and bottom output rows read padding rows
// (zeroed slots); small accumulators cut images into bands; dilation too.
TEST(MxuConv, PackedKernelRows) {
  ConvSpec c{.in = {3, 23, 22, 3}, .kernel = {7, 7, 3, 16}, .stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3};
  const std::string m = ConvFusionModule(c);
  EXPECT_EQ(StreamedRows(ConvModule(c)), 3 * 12 * 14 * 2);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest).rel_l2, 1e-6);
  EXPECT_LT(RunOnChip(m, "v5e", Precision::kHigh).rel_l2, 1e-4);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest, false, "accumulator.bytes=16 KiB").rel_l2, 1e-6);  // bands of 9 rows
  // No room for the taller packed panel at 3 planes: the plain form.
  EXPECT_LT(RunOnChip(m, "v4", Precision::kHighest, false, "vmem.bytes=256 KiB").rel_l2, 1e-6);
  std::string b = m;
  for (size_t at = b.find("f32["); at != std::string::npos; at = b.find("f32[", at)) b.replace(at, 4, "bf16[");
  EXPECT_LT(RunOnChip(b, "v4", Precision::kDefault).rel_l2, 1e-2);
  ConvSpec d{.in = {2, 13, 12, 2}, .kernel = {3, 3, 2, 8}, .pad_h = 2, .pad_w = 1, .dil_h = 2, .dil_w = 1};
  EXPECT_LT(RunOnChip(ConvFusionModule(d), "v4", Precision::kHighest).rel_l2, 1e-6);
}

// Largest accumulator row used by the matmuls of the lowered program.
int64_t MaxAccRow(const std::string& text) {
  auto lowered = LowerV4(text);
  if (!lowered) return -1;
  int64_t top = 0;
  for (const auto& core : lowered->program.cores)
    for (const isa::Instruction& i : core)
      if (i.opcode == isa::Opcode::kMxuMatmul) top = std::max(top, i.op("acc").imm + i.op("m").imm);
  return top;
}

// A compute-bound convolution (3x3, 256 channels: ~1150 FLOPs per HBM byte,
// above v4's ridge point) of many row chunks: chunks alternate between the
// two halves of each MXU's 1024 accumulator rows, so a chunk's read_acc
// overlaps the next chunk's matmuls, and its epilogue is emitted after them,
// so the vector unit's queue waiting for the read_acc does not hold back
// their dispatch. Together: 69% of the MXU bound (the rest: wide-row
// columns, 14 of 16, and pipeline fill), where chunks of the whole
// accumulator read out in turn, epilogue first, reached 64%.
TEST(MxuConv, ComputeBoundChunksOverlapReadout) {
  ConvSpec c{.in = {32, 14, 14, 256}, .kernel = {3, 3, 256, 256}, .pad_h = 1, .pad_w = 1};
  std::string m = ConvFusionModule(c);
  for (size_t at = m.find("f32["); at != std::string::npos; at = m.find("f32[", at)) m.replace(at, 4, "bf16[");
  Outcome o = RunOnChip(m, "v4", Precision::kDefault, true);
  EXPECT_LT(o.rel_l2, 1e-2);
  EXPECT_GT(MaxAccRow(m), 512);   // the second half is used
  EXPECT_LE(MaxAccRow(m), 1024);
  auto chip = LoadChip("v4");
  ASSERT_TRUE(chip.ok());
  const double flops = 2.0 * 32 * 14 * 14 * 256 * 9 * 256;
  const double bound = flops / (MxuPeakOps(*chip, DType::kBF16) / ClockHz(*chip));
  std::printf("    compute-bound conv: %lld cycles, MXU bound %.0f (%.1f%%)\n", (long long)o.cycles, bound,
              100 * bound / o.cycles);
  EXPECT_GT(bound / o.cycles, 0.66);
}

// A memory-bound convolution with a residual (ResNet's 1x1 64 -> 256 block
// output): with a third output/residual tile in VMEM, a chunk's residual
// load and store no longer wait for the epilogue two chunks back. Same
// values, fewer cycles (XTPU_NO_TRIPLE=1 plans two tiles, as before).
TEST(MxuFusion, ThirdOutputSlotOverlapsResidualTraffic) {
  ConvSpec c{.in = {16, 28, 28, 64}, .kernel = {1, 1, 64, 256}};
  std::string m = ConvFusionModule(c);
  for (size_t at = m.find("f32["); at != std::string::npos; at = m.find("f32[", at)) m.replace(at, 4, "bf16[");
  Outcome three = RunOnChip(m, "v4", Precision::kDefault, true);
  setenv("XTPU_NO_TRIPLE", "1", 1);
  Outcome two = RunOnChip(m, "v4", Precision::kDefault, true);
  unsetenv("XTPU_NO_TRIPLE");
  EXPECT_LT(three.rel_l2, 1e-2);
  EXPECT_EQ(three.rel_l2, two.rel_l2);
  std::printf("    residual conv: %lld cycles with 3 output tiles, %lld with 2\n", (long long)three.cycles,
              (long long)two.cycles);
  EXPECT_LT(three.cycles * 1.05, two.cycles);
}

// ResNet's 1x1 64 -> 256 block output with its residual: at 1024 rows per
// MXU its three f32 output and residual tiles leave too little VMEM for the
// 64 input channels in one piece. The planner takes 512-row chunks instead
// of cutting K: every output pixel is streamed once per column tile (2 of
// the 4 MXUs' tiles), with all 64 channels in one k-step.
TEST(MxuFusion, ShorterChunksRatherThanKChunks) {
  ConvSpec c{.in = {8, 56, 56, 64}, .kernel = {1, 1, 64, 256}};
  std::string m = ConvFusionModule(c);
  for (size_t at = m.find("f32["); at != std::string::npos; at = m.find("f32[", at)) m.replace(at, 4, "bf16[");
  EXPECT_EQ(StreamedRows(m), 2 * 8 * 56 * 56);
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
}

TEST(MxuConv, Bf16ActivationsAndPadInPlace) {
  const std::string m = ConvChainModule();
  Outcome bf16 = RunOnChip(m, "v4", Precision::kDefault);
  EXPECT_LT(bf16.rel_l2, 1e-2);
  EXPECT_LT(RunOnChip(m, "v5e", Precision::kHighest).rel_l2, 1e-6);
  const int64_t bf16_bytes = LoweredHbmBytes(m);
  setenv("XTPU_F32_ACTIVATIONS", "1", 1);
  Outcome f32 = RunOnChip(m, "v4", Precision::kDefault);
  const int64_t f32_bytes = LoweredHbmBytes(m);
  unsetenv("XTPU_F32_ACTIVATIONS");
  EXPECT_EQ(bf16.rel_l2, f32.rel_l2);  // same outputs
  EXPECT_GT(bf16_bytes, 0);
  EXPECT_LT(bf16_bytes, f32_bytes);
}

// The same chain in a bf16 model: the second convolution writes its bf16
// result straight into the (bf16) buffer of the pad.
TEST(MxuConv, Bf16ModelPadInPlace) {
  std::string m = ConvChainModule();
  for (size_t at = m.find("f32["); at != std::string::npos; at = m.find("f32[", at)) m.replace(at, 4, "bf16[");
  EXPECT_LT(RunOnChip(m, "v4", Precision::kDefault).rel_l2, 1e-2);
}


TEST(MxuErrors, NonConstantConvKernel) {
  std::string s = "HloModule c\n\nENTRY main {\n  x = f32[1,4,4,2] parameter(0)\n  w = f32[1,1,2,2] parameter(1)\n"
                  "  y = f32[1,4,4,2] convolution(x, w), window={size=1x1 stride=1x1 pad=0_0x0_0 lhs_dilate=1x1 "
                  "rhs_dilate=1x1}, dim_labels=b01f_01io->b01f, feature_group_count=1, batch_group_count=1\n"
                  "  ROOT out = (f32[1,4,4,2]) tuple(y)\n}\n";
  auto module = ParseModule(s);
  ASSERT_TRUE(module.ok()) << module.status().message();
  auto lowered = codegen::LowerModule(**module, *LoadChip("v4"), {});
  ASSERT_FALSE(lowered.ok());
  EXPECT_NE(lowered.status().message().find("constant"), std::string::npos) << lowered.status().message();
}


}  // namespace
}  // namespace xtpu
