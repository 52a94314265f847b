// The chip pipeline (compiler/pipeline.h) on imported ONNX models: each must
// reach chip form (CheckChipForm) and the reference evaluator must give the
// same outputs before and after, within 1e-5 of each output's largest
// magnitude, on seeded random inputs. Small models come from
// tests/onnx/cases; the real ones (resnet18, mobilenet_v2, bert, gpt2) from
// the e2e models directory ($XTPU_MODELS_DIR, set by ctest to the directory
// the export_models fixture fills).
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "xtpu/compiler/chip_form.h"
#include "xtpu/compiler/pipeline.h"
#include "xtpu/frontend/onnx/importer.h"
#include "xtpu/ir/builder.h"
#include "xtpu/ir/evaluator.h"
#include "xtpu/ir/parser.h"
#include "xtpu/ir/printer.h"
#include "xtpu/support/random.h"

namespace xtpu::compiler {
namespace {

namespace fs = std::filesystem;

constexpr double kRelTol = 1e-5;

fs::path OnnxCases() { return fs::path(XTPU_SOURCE_DIR) / "tests/onnx/cases"; }

fs::path ModelsDir() {
  if (const char* d = std::getenv("XTPU_MODELS_DIR")) return d;
  return fs::path(XTPU_SOURCE_DIR) / "build/models";
}

// The literal converted to `dtype` (s64 -> s32 etc.), element by element.
Literal ConvertTo(const Literal& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Literal y(Shape(dtype, x.shape().dims));
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    if (IsFloat(dtype)) y.SetFromDouble(i, x.GetAsDouble(i));
    else y.SetFromInt64(i, x.GetAsInt64(i));
  }
  return y;
}

int CountInEntry(const Module& m, Opcode op) {
  int n = 0;
  for (const auto& inst : m.entry()->instructions()) n += inst->opcode == op;
  return n;
}

// Transposes that sit between two computations (not reading an input, not
// feeding only reshapes or the outputs): what NCHW -> NHWC must remove.
int InnerTransposes(const Module& m) {
  const Computation& entry = *m.entry();
  int n = 0;
  for (const auto& t : entry.instructions()) {
    if (t->opcode != Opcode::kTranspose || t->operands[0]->opcode == Opcode::kParameter) continue;
    bool only_reshape_or_output = true;
    for (const auto& u : entry.instructions())
      for (const Instruction* o : u->operands)
        if (o == t.get() && u->opcode != Opcode::kReshape && u.get() != entry.root()) only_reshape_or_output = false;
    n += !only_reshape_or_output;
  }
  return n;
}

// Imports `path`, lowers a copy, checks chip form and outputs. Returns the
// lowered module for further checks (null on failure).
std::unique_ptr<Module> LowerAndCompare(const fs::path& path) {
  auto imported = ImportOnnxFile(path.string());
  EXPECT_TRUE(imported.ok()) << imported.status().message();
  if (!imported.ok()) return nullptr;
  const Module& original = **imported;
  auto copy = ParseModule(Print(original), path.string());
  EXPECT_TRUE(copy.ok()) << copy.status().message();
  if (!copy.ok()) return nullptr;
  std::unique_ptr<Module> lowered = std::move(copy).value();
  Status st = RunChipPipeline(*lowered, PassContext{});
  EXPECT_TRUE(st.ok()) << path << ": " << st.message();
  if (!st.ok()) return nullptr;
  EXPECT_TRUE(CheckChipForm(*lowered).ok());

  for (uint64_t seed : {0, 1}) {
    std::vector<Literal> args, lowered_args;
    for (size_t i = 0; i < original.Inputs().size(); ++i) {
      Rng rng(DeriveSeed(seed, i));
      args.push_back(RandomLiteral(original.Inputs()[i]->shape, rng));
      lowered_args.push_back(ConvertTo(args.back(), lowered->Inputs()[i]->shape.dtype));
    }
    auto want = Evaluate(original, args);
    auto got = Evaluate(*lowered, lowered_args);
    EXPECT_TRUE(want.ok()) << want.status().message();
    EXPECT_TRUE(got.ok()) << got.status().message();
    if (!want.ok() || !got.ok()) return nullptr;
    EXPECT_EQ(lowered->OutputNames(), original.OutputNames());
    EXPECT_EQ(got->size(), want->size());
    for (size_t o = 0; o < std::min(got->size(), want->size()); ++o) {
      const Literal& w = (*want)[o];
      const Literal& g = (*got)[o];
      EXPECT_EQ(g.shape().dims, w.shape().dims) << "output " << o;
      if (g.shape().dims != w.shape().dims) return nullptr;
      double scale = 0, err = 0;
      for (int64_t i = 0; i < w.num_elements(); ++i) {
        double a = w.GetAsDouble(i), b = g.GetAsDouble(i);
        if (std::isnan(a) && std::isnan(b)) continue;
        scale = std::max(scale, std::abs(a));
        err = std::max(err, std::abs(a - b));
      }
      EXPECT_LE(err, kRelTol * scale) << path << " output " << o << " seed " << seed;
    }
  }
  return lowered;
}

// ---- small models from tests/onnx/cases ------------------------------------

class OnnxCaseTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxCaseTest, ReachesChipFormWithSameOutputs) {
  LowerAndCompare(OnnxCases() / GetParam() / "model.onnx");
}

INSTANTIATE_TEST_SUITE_P(Cases, OnnxCaseTest,
                         ::testing::Values("torch_cnn", "torch_attn_dynamic", "conv1d", "conv_group_stride_dil",
                                           "conv_same_upper", "conv_transpose", "maxpool_ceil_pads",
                                           "maxpool_dilation", "avgpool_include_pad", "avgpool_exclude_pad",
                                           "global_pools", "gemm_trans", "matmul_batched", "matmul_mat_vec",
                                           "matmul_vec_mat", "layernorm", "softmax13", "batchnorm",
                                           "gather_const_neg", "flatten_transpose", "act_hardswish", "range_cos"));

TEST(ChipPipeline, SmallCnnHasNoTransposesBetweenConvolutions) {
  auto m = LowerAndCompare(OnnxCases() / "torch_cnn/model.onnx");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(CountInEntry(*m, Opcode::kConvolution), 0);  // fused with bias and relu
  EXPECT_GE(CountInEntry(*m, Opcode::kFusion), 2);
  // The input's transpose to NHWC and one back to NCHW before the flatten.
  EXPECT_EQ(InnerTransposes(*m), 0);
  EXPECT_EQ(CountInEntry(*m, Opcode::kTranspose), 2);
}

// ---- the e2e models --------------------------------------------------------

class ModelTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelTest, ReachesChipFormWithSameOutputs) {
  fs::path path = ModelsDir() / (GetParam() + ".onnx");
  if (!fs::exists(path)) GTEST_SKIP() << path << " is missing (ctest's export_models fixture makes it)";
  auto m = LowerAndCompare(path);
  ASSERT_NE(m, nullptr);
  if (GetParam() == "resnet18" || GetParam() == "mobilenet_v2") {
    // NCHW in, NHWC throughout: the only transpose is the input's.
    EXPECT_EQ(CountInEntry(*m, Opcode::kTranspose), 1);
    EXPECT_EQ(CountInEntry(*m, Opcode::kConvolution), 0);  // all fused with their epilogue
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ModelTest, ::testing::Values("resnet18", "mobilenet_v2", "bert", "gpt2"));

}  // namespace
}  // namespace xtpu::compiler
