// The chip pipeline (compiler/pipeline.h) on imported ONNX models: each must
// reach chip form (CheckChipForm) and the reference evaluator must give the
// same outputs before and after, within 1e-5 of each output's largest
// magnitude, on seeded random inputs. Small models come from
// tests/onnx/cases; the real ones (resnet18, mobilenet_v2, bert, gpt2) from
// the e2e models directory ($XTPU_MODELS_DIR, set by ctest to the directory
// the export_models fixture fills).
#include <cmath>
#include <algorithm>
#include <filesystem>
#include <map>

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

// ---- the chip-form contract and type legalization on small modules ---------

std::unique_ptr<Module> Parse(const std::string& entry_body, const std::string& computations = "") {
  std::string text = "HloModule m\n\n" + computations + "ENTRY main {\n" + entry_body + "}\n";
  auto m = ParseModule(text, "t.tir");
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : nullptr;
}

std::string ChipFormError(const Module& m) {
  Status s = CheckChipForm(m);
  return s.ok() ? "<ok>" : s.message();
}

TEST(ChipForm, ErrorsNameTheInstructionAndTheRule) {
  struct Case {
    const char* body;
    const char* expected;
  };
  const Case cases[] = {
      {"  x = f32[1,3,4,4] parameter(0)\n  k = f32[2,3,1,1] parameter(1)\n"
       "  c = f32[1,2,4,4] convolution(x, k), window={size=1x1 stride=1x1 pad=0_0x0_0 lhs_dilate=1x1 rhs_dilate=1x1}, "
       "dim_labels=bf01_oi01->bf01, feature_group_count=1, batch_group_count=1\n  ROOT t = (f32[1,2,4,4]) tuple(c)\n",
       "not in chip form: %c (convolution): convolution must be 2-D NHWC (dim_labels b01f_01io->b01f); run "
       "layout-assignment"},
      {"  x = s64[2] parameter(0)\n  ROOT t = (s64[2]) tuple(x)\n",
       "%x (parameter): dtype s64 is not one the chip holds"},
      {"  a = f32[3,4] parameter(0)\n  b = f32[5,4] parameter(1)\n"
       "  d = f32[3,5] dot(a, b), lhs_batch_dims={}, lhs_contracting_dims={1}, rhs_batch_dims={}, rhs_contracting_dims={1}\n"
       "  ROOT t = (f32[3,5]) tuple(d)\n",
       "%d (dot): dot is not canonical"},
      {"  x = f32[4] parameter(0)\n  i = s32[4] iota(), iota_dimension=0\n  ROOT t = (f32[4], s32[4]) tuple(x, i)\n",
       "%i (iota): iota must be folded to a constant"},
      {"  x = f32[4] parameter(0)\n  y = (f32[4]) tuple(x)\n  g = f32[4] get-tuple-element(y), index=0\n"
       "  ROOT t = (f32[4]) tuple(g)\n",
       "%y (tuple): a tuple may only be the entry's root"},
  };
  for (const Case& c : cases) {
    auto m = Parse(c.body);
    ASSERT_NE(m, nullptr);
    std::string err = ChipFormError(*m);
    EXPECT_NE(err.find(c.expected), std::string::npos) << "got: " << err << "\nwant: " << c.expected;
  }
  // Loop fusions hold elementwise ops and broadcasts only.
  auto m = Parse(
      "  a = f32[2,2] parameter(0)\n  f = f32[2,2] fusion(a, a), kind=loop, calls=body\n  ROOT t = (f32[2,2]) tuple(f)\n",
      "body {\n  p = f32[2,2] parameter(0)\n  q = f32[2,2] parameter(1)\n  ROOT d = f32[2,2] dot(p, q), "
      "lhs_batch_dims={}, lhs_contracting_dims={1}, rhs_batch_dims={}, rhs_contracting_dims={0}\n}\n\n");
  ASSERT_NE(m, nullptr);
  EXPECT_NE(ChipFormError(*m).find("%d (dot): loop fusion %f may hold only elementwise ops and broadcasts"),
            std::string::npos)
      << ChipFormError(*m);
}

TEST(ChipForm, PipelineReportsWhatItCannotLower) {
  // A 3-D convolution has no chip form: the error names it.
  auto m = Parse(
      "  x = f32[1,1,4,4,4] parameter(0)\n  k = f32[1,1,2,2,2] parameter(1)\n"
      "  c = f32[1,1,3,3,3] convolution(x, k), window={size=2x2x2 stride=1x1x1 pad=0_0x0_0x0_0 lhs_dilate=1x1x1 "
      "rhs_dilate=1x1x1}, dim_labels=bf012_oi012->bf012, feature_group_count=1, batch_group_count=1\n"
      "  ROOT t = (f32[1,1,3,3,3]) tuple(c)\n");
  ASSERT_NE(m, nullptr);
  Status s = RunChipPipeline(*m, PassContext{});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("%c (convolution): convolutions with 3 spatial dimensions are not supported"),
            std::string::npos)
      << s.message();
}

TEST(LegalizeTypes, NarrowsTheBoundaryAndRejectsWideConstants) {
  auto m = Parse("  ids = s64[3] parameter(0)\n  one = s64[3] constant({1, 1, 1})\n  s = s64[3] add(ids, one)\n"
                 "  h = f16[3] constant({0.5, 1, 2})\n  ROOT t = (s64[3], f16[3]) tuple(s, h)\n");
  ASSERT_NE(m, nullptr);
  auto pass = CreatePass("legalize-types");
  ASSERT_TRUE(pass.ok()) << pass.status().message();
  auto changed = (*pass)->Run(*m, PassContext{});
  ASSERT_TRUE(changed.ok()) << changed.status().message();
  EXPECT_TRUE(*changed);
  // The model's input and outputs change type too: the runtime converts.
  EXPECT_EQ(m->Inputs()[0]->shape, Shape(DType::kS32, {3}));
  EXPECT_EQ(m->entry()->root()->shape.ToString(), "(s32[3], f32[3])");
  auto out = Evaluate(*m, {Literal::FromVector(DType::kS32, {3}, std::vector<int64_t>{5, 6, 7})});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0], Literal::FromVector(DType::kS32, {3}, std::vector<int64_t>{6, 7, 8}));
  EXPECT_EQ((*out)[1], Literal::FromVector(DType::kF32, {3}, std::vector<double>{0.5, 1, 2}));
  // No second change.
  changed = (*pass)->Run(*m, PassContext{});
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(*changed);

  auto wide = Parse("  x = s64[2] parameter(0)\n  big = s64[2] constant({1, 3000000000})\n"
                    "  s = s64[2] add(x, big)\n  ROOT t = (s64[2]) tuple(s)\n");
  ASSERT_NE(wide, nullptr);
  auto r = (*pass)->Run(*wide, PassContext{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "constant %big holds 3000000000 at element 1, outside the s32 range the chip supports");
  EXPECT_EQ(wide->Inputs()[0]->shape.dtype, DType::kS64);  // left as it was
}

// ---- small models from tests/onnx/cases ------------------------------------

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(OnnxCases())) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

// Cases with ops the chip has no lowering for: the pipeline's error.
const std::map<std::string, std::string>& Unsupported() {
  static const std::map<std::string, std::string> m = {
      {"argmax", "%reduce (reduce): reduce must have one operand (variadic reduce is not supported)"},
      {"conv3d", "%y (convolution): convolutions with 3 spatial dimensions are not supported"},
      {"reduce13", "(reduce): reduce's to_apply must be add, maximum or minimum"},
  };
  return m;
}

class OnnxCaseTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxCaseTest, ReachesChipFormWithSameOutputs) {
  fs::path path = OnnxCases() / GetParam() / "model.onnx";
  auto it = Unsupported().find(GetParam());
  if (it == Unsupported().end()) {
    LowerAndCompare(path);
    return;
  }
  auto m = ImportOnnxFile(path.string());
  ASSERT_TRUE(m.ok()) << m.status().message();
  Status s = RunChipPipeline(**m, PassContext{});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(it->second), std::string::npos) << s.message();
}

INSTANTIATE_TEST_SUITE_P(Cases, OnnxCaseTest, ::testing::ValuesIn(CaseNames()),
                         [](const auto& info) { return info.param; });

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
    EXPECT_EQ(InnerTransposes(*m), 0);
    EXPECT_EQ(CountInEntry(*m, Opcode::kConvolution), 0);  // all fused with their epilogue
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ModelTest, ::testing::Values("resnet18", "mobilenet_v2", "bert", "gpt2"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace xtpu::compiler
