// ONNX importer tests: each folder of tests/onnx/cases (made by
// tests/onnx/make_test_models.py) is imported, evaluated and compared with
// the outputs saved next to it; tests/onnx/errors holds models that must be
// rejected with a clear message.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "xtpu/frontend/onnx/importer.h"
#include "xtpu/ir/evaluator.h"
#include "xtpu/ir/printer.h"

namespace xtpu {
namespace {

namespace fs = std::filesystem;

fs::path DataDir() {
  if (const char* d = std::getenv("XTPU_ONNX_TEST_DATA")) return d;
  return fs::path(__FILE__).parent_path().parent_path() / "onnx";
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Literal ReadTensor(const fs::path& p) {
  onnx::TensorProto t;
  EXPECT_TRUE(t.ParseFromString(ReadFile(p))) << p;
  auto l = TensorProtoToLiteral(t);
  EXPECT_TRUE(l.ok()) << l.status().message();
  return l.ok() ? *l : Literal();
}

std::vector<Literal> ReadTensors(const fs::path& dir, const std::string& stem) {
  std::vector<Literal> v;
  for (int i = 0;; ++i) {
    fs::path p = dir / (stem + "_" + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    v.push_back(ReadTensor(p));
  }
  return v;
}

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(DataDir() / "cases")) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

class OnnxCaseTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxCaseTest, MatchesExpectedOutputs) {
  fs::path dir = DataDir() / "cases" / GetParam();
  auto m = ImportOnnxFile((dir / "model.onnx").string());
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::vector<Literal> inputs = ReadTensors(dir, "input");
  std::vector<Literal> want = ReadTensors(dir, "output");
  auto got = Evaluate(**m, inputs);
  ASSERT_TRUE(got.ok()) << got.status().message() << "\n" << Print(**m);
  ASSERT_EQ(got->size(), want.size());
  for (size_t o = 0; o < want.size(); ++o) {
    const Literal& g = (*got)[o];
    const Literal& w = want[o];
    ASSERT_EQ(g.shape(), w.shape()) << "output " << o;
    for (int64_t i = 0; i < w.num_elements(); ++i) {
      double a = g.GetAsDouble(i), b = w.GetAsDouble(i);
      if (IsFloat(w.dtype())) {
        ASSERT_NEAR(a, b, 1e-4 + 1e-4 * std::abs(b)) << "output " << o << " element " << i;
      } else {
        ASSERT_EQ(a, b) << "output " << o << " element " << i;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, OnnxCaseTest, ::testing::ValuesIn(CaseNames()),
                         [](const auto& info) { return info.param; });

TEST(OnnxImporter, OutputNamesFollowOnnx) {
  auto m = ImportOnnxFile((DataDir() / "cases/identity_outputs/model.onnx").string());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->OutputNames(), (std::vector<std::string>{"x.1", "a", "n", "b"}));
}

TEST(OnnxImporter, ShapeChainsFoldToConstants) {
  auto m = ImportOnnxFile((DataDir() / "cases/shape_chain/model.onnx").string());
  ASSERT_TRUE(m.ok()) << m.status().message();
  for (const auto& inst : (*m)->entry()->instructions()) {
    EXPECT_NE(inst->opcode, Opcode::kGather) << Print(**m);
    EXPECT_NE(inst->opcode, Opcode::kConcatenate) << Print(**m);
  }
}

TEST(OnnxImporter, SymbolicDimsUseDefault) {
  OnnxImportOptions opt;
  opt.default_dim = 3;
  auto m = ImportOnnxFile((DataDir() / "cases/torch_attn_dynamic/model.onnx").string(), opt);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->Inputs()[0]->shape.ToString(), "f32[3,5,16]");
}

TEST(OnnxImporter, MissingFile) {
  auto m = ImportOnnxFile("/nonexistent/model.onnx");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "/nonexistent/model.onnx: cannot open: No such file or directory");
}

TEST(OnnxImporter, CorruptFile) {
  std::string bytes = ReadFile(DataDir() / "cases/conv1d/model.onnx");
  auto m = ImportOnnxBytes(bytes.substr(0, bytes.size() / 2), "half.onnx");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message(), "half.onnx: not a valid ONNX model (protobuf parse failed)");
}

std::string ErrorOf(const std::string& name) {
  std::string path = (DataDir() / "errors" / (name + ".onnx")).string();
  auto m = ImportOnnxFile(path);
  if (m.ok()) return "ok";
  std::string msg = m.status().message();
  // Drop the path prefix.
  return msg.substr(path.size() + 2);
}

TEST(OnnxImporter, Errors) {
  EXPECT_EQ(ErrorOf("unsupported_op"), "unsupported ONNX op 'FooBar' (node 'bar', opset 13)");
  EXPECT_EQ(ErrorOf("unsupported_attr_value"),
            "Pad node 'pad0' (opset 13): attribute 'mode' = 'wrap' is not supported");
  EXPECT_EQ(ErrorOf("unknown_attr"), "Relu node 'relu0' (opset 13): attribute 'bogus' is not supported");
  EXPECT_EQ(ErrorOf("dynamic_reshape"),
            "input 1 (shape) of Reshape node 'foo' (opset 13) must be a constant (xtpu needs static shapes)");
  EXPECT_EQ(ErrorOf("f64_input"),
            "graph input 'x': element type DOUBLE is not supported (xtpu has f32, f16, bf16, int8, "
            "uint8, int32, int64, bool)");
  EXPECT_EQ(ErrorOf("custom_domain"), "unsupported ONNX op 'Gelu' of domain 'com.microsoft' (node 'g')");
  EXPECT_EQ(ErrorOf("einsum_diagonal"),
            "Einsum node 'e0' (opset 12): equation 'ii->i': index 'i' repeated in operand 0 "
            "(diagonal) is not supported");
  EXPECT_EQ(ErrorOf("dropout_training"),
            "Dropout node 'd0' (opset 13): training_mode = true is only supported with a "
            "constant ratio of 0");
}

// Hostile models found by fuzzing (fuzz/onnx_import_fuzz.cc): bad attributes
// and sizes must give errors naming the op, node and value, never a crash.
TEST(OnnxImporter, HostileModels) {
  EXPECT_EQ(ErrorOf("pool_stride_zero"),
            "MaxPool node 'pool0' (opset 13): attribute 'strides' = [0,1]: entry 0 (0) is out of "
            "range [1, 1048576]");
  EXPECT_EQ(ErrorOf("conv_group_zero"),
            "Conv node 'conv0' (opset 13): attribute 'group' = 0 is out of range [1, 2147483648]");
  EXPECT_EQ(ErrorOf("conv_pads_overflow"),
            "Conv node 'conv0' (opset 13): attribute 'pads' = "
            "[9223372036854775807,0,9223372036854775807,0]: entry 0 (9223372036854775807) is out "
            "of range [0, 2147483648]");
  EXPECT_EQ(ErrorOf("tile_overflow"),
            "Tile node 'tile0' (opset 13): repeats [9223372036854775807,9223372036854775807] make "
            "f32[2,2] too large");
  EXPECT_EQ(ErrorOf("range_too_large"),
            "Range node 'range0' (opset 13): range [0, 1.0000000150474662e+30) step 1 is too large");
  EXPECT_EQ(ErrorOf("constant_of_shape_huge"),
            "ConstantOfShape node 'c0' (opset 13): shape [1099511627776,1099511627776] is too "
            "large (more than 2^31 elements)");
  EXPECT_EQ(ErrorOf("pad_overflow"),
            "Pad node 'pad0' (opset 13): pads [9223372036854775807,0,9223372036854775807,0] are "
            "out of range [-2^31, 2^31]");
  EXPECT_EQ(ErrorOf("transpose_bad_perm"),
            "Transpose node 't0' (opset 13): attribute 'perm' = [0,0] is not a permutation");
  EXPECT_EQ(ErrorOf("huge_input"),
            "graph input 'x' has shape f32[1099511627776,1099511627776] with more than 2^31 "
            "elements, which xtpu does not support");
  EXPECT_EQ(ErrorOf("split_zero_outputs"),
            "Split node 's0' (opset 18): attribute 'num_outputs' = 0 must be >= 1 and match the "
            "node's 1 outputs");
  EXPECT_EQ(ErrorOf("slice_min_step"),
            "Slice node 's0' (opset 13): step -9223372036854775808 on axis 0 is not supported");
  EXPECT_EQ(ErrorOf("reshape_overflow"),
            "Reshape node 'r0' (opset 13): shape [1099511627776,1099511627776,-1] is too large");
  EXPECT_EQ(ErrorOf("cast_bad_to"),
            "Cast node 'c0' (opset 13): attribute 'to' = 1099511627776 is not an ONNX element type");
  EXPECT_EQ(ErrorOf("reduce_bool"),
            "ReduceSum node 'r0' (opset 13): element type pred is not supported");
  // These used to crash while folding or reading initializers; they are valid.
  EXPECT_EQ(ErrorOf("argmin_zero_sized"), "ok");
  EXPECT_EQ(ErrorOf("empty_initializer"), "ok");
}

TEST(OnnxImporter, ErrorCodes) {
  auto m = ImportOnnxFile((DataDir() / "errors/unsupported_op.onnx").string());
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnimplemented);
}

TEST(TensorProtoToLiteral, TypedFields) {
  onnx::TensorProto t;
  t.set_name("w");
  t.set_data_type(onnx::TensorProto::INT8);
  t.add_dims(3);
  for (int v : {-1, 2, 127}) t.add_int32_data(v);
  auto l = TensorProtoToLiteral(t);
  ASSERT_TRUE(l.ok()) << l.status().message();
  EXPECT_EQ(l->shape().ToString(), "s8[3]");
  EXPECT_EQ(l->GetAsInt64(0), -1);
  EXPECT_EQ(l->GetAsInt64(2), 127);

  onnx::TensorProto h;
  h.set_data_type(onnx::TensorProto::FLOAT16);
  h.add_dims(1);
  h.add_int32_data(0x3c00);  // 1.0
  auto lh = TensorProtoToLiteral(h);
  ASSERT_TRUE(lh.ok());
  EXPECT_EQ(lh->GetAsDouble(0), 1.0);

  onnx::TensorProto e;
  e.set_name("big");
  e.set_data_type(onnx::TensorProto::FLOAT);
  e.set_data_location(onnx::TensorProto::EXTERNAL);
  auto le = TensorProtoToLiteral(e);
  ASSERT_FALSE(le.ok());
  EXPECT_EQ(le.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(le.status().message().find("tensor 'big'"), std::string::npos);

  onnx::TensorProto d;
  d.set_name("dbl");
  d.set_data_type(onnx::TensorProto::DOUBLE);
  auto ld = TensorProtoToLiteral(d);
  ASSERT_FALSE(ld.ok());
  EXPECT_EQ(ld.status().message(),
            "tensor 'dbl': element type DOUBLE is not supported (xtpu has f32, f16, bf16, int8, uint8, "
            "int32, int64, bool)");

  onnx::TensorProto bad;
  bad.set_name("short");
  bad.set_data_type(onnx::TensorProto::FLOAT);
  bad.add_dims(4);
  bad.set_raw_data(std::string(8, '\0'));
  EXPECT_FALSE(TensorProtoToLiteral(bad).ok());
}

}  // namespace
}  // namespace xtpu

namespace xtpu {
namespace {

TEST(OnnxImporter, ConstantInputsOption) {
  // gather_dynamic has inputs x and i; feeding i as a constant leaves one parameter.
  fs::path dir = DataDir() / "cases/gather_dynamic";
  OnnxImportOptions opt;
  opt.constant_inputs["i"] = ReadTensor(dir / "input_1.pb");
  auto m = ImportOnnxFile((dir / "model.onnx").string(), opt);
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ((*m)->Inputs().size(), 1u);
  auto got = Evaluate(**m, {ReadTensor(dir / "input_0.pb")});
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ((*got)[0], ReadTensor(dir / "output_0.pb"));
}

}  // namespace
}  // namespace xtpu

// Small models built in C++ for importer rules the conformance data does not
// pin down: legacy (opset < 7) broadcasting and clear rejections.
namespace xtpu {
namespace {

void AddInput(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims) {
  auto* vi = g->add_input();
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

// One-node model `op`(inputs) -> "y" at `opset`; `setup` adds attributes.
StatusOr<std::unique_ptr<Module>> OneNode(const std::string& op, int64_t opset,
                                          std::vector<std::pair<std::string, std::vector<int64_t>>> inputs,
                                          std::function<void(onnx::NodeProto*)> setup) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name("n0");
  for (auto& [name, dims] : inputs) {
    AddInput(g, name, dims);
    n->add_input(name);
  }
  n->add_output("y");
  g->add_output()->set_name("y");
  if (setup) setup(n);
  return ImportOnnxBytes(m.SerializeAsString(), "test.onnx");
}

void IntAttr(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

TEST(OnnxImporterLegacy, AddBroadcastAlongAxis) {
  auto m = OneNode("Add", 6, {{"a", {2, 3, 2}}, {"b", {3}}}, [](onnx::NodeProto* n) {
    IntAttr(n, "broadcast", 1);
    IntAttr(n, "axis", 1);
  });
  ASSERT_TRUE(m.ok()) << m.status().message();
  std::vector<float> a(12, 0.0f);
  auto got = Evaluate(**m, {Literal::FromVector(DType::kF32, {2, 3, 2}, a),
                            Literal::FromVector(DType::kF32, {3}, std::vector<float>{1, 2, 3})});
  ASSERT_TRUE(got.ok()) << got.status().message();
  std::vector<float> want = {1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3};
  EXPECT_EQ((*got)[0], Literal::FromVector(DType::kF32, {2, 3, 2}, want));
}

TEST(OnnxImporterLegacy, AddWithoutBroadcastNeedsEqualShapes) {
  auto m = OneNode("Add", 6, {{"a", {2, 3}}, {"b", {3}}}, nullptr);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("attribute 'broadcast' is 0"), std::string::npos) << m.status().message();
}

TEST(OnnxImporterLegacy, BatchNormTrainingIsUnimplemented) {
  auto m = OneNode("BatchNormalization", 6, {{"x", {1, 2}}, {"s", {2}}, {"b", {2}}, {"m", {2}}, {"v", {2}}},
                   nullptr);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnimplemented) << m.status().message();
  EXPECT_NE(m.status().message().find("'is_test'"), std::string::npos) << m.status().message();
}

TEST(OnnxImporterResize, CropAndResizeIsUnimplemented) {
  auto m = OneNode("Resize", 13, {{"x", {1, 1, 2, 2}}}, [](onnx::NodeProto* n) {
    auto* a = n->add_attribute();
    a->set_name("coordinate_transformation_mode");
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s("tf_crop_and_resize");
  });
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kUnimplemented) << m.status().message();
  EXPECT_NE(m.status().message().find("tf_crop_and_resize"), std::string::npos) << m.status().message();
}

}  // namespace
}  // namespace xtpu
