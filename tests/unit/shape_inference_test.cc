// Shape rules: for every op one valid case and at least one invalid case whose
// error names the instruction.
#include <gtest/gtest.h>

#include "xtpu/ir/shape_inference.h"

namespace xtpu {
namespace {

Shape S(const char* text) {
  auto s = ParseShape(text);
  EXPECT_TRUE(s.ok()) << text;
  return *s;
}

class ShapeInferenceTest : public ::testing::Test {
 protected:
  // A parameter-like instruction of the given shape, used as an operand.
  Instruction* In(const char* shape) {
    auto inst = std::make_unique<Instruction>();
    inst->opcode = Opcode::kParameter;
    inst->name = "p" + std::to_string(owned_.size());
    inst->parameter_number = static_cast<int64_t>(owned_.size());
    inst->shape = S(shape);
    owned_.push_back(std::move(inst));
    return owned_.back().get();
  }
  Instruction& Op(Opcode op, std::vector<Instruction*> operands, const char* name = "x") {
    auto inst = std::make_unique<Instruction>();
    inst->opcode = op;
    inst->name = name;
    inst->operands = std::move(operands);
    owned_.push_back(std::move(inst));
    return *owned_.back();
  }
  std::string Infer(const Instruction& inst) {
    auto s = InferShape(inst);
    if (!s.ok()) return "error: " + s.status().message();
    return s->ToString();
  }
  // Expects an error that names the instruction and contains `what`.
  void ExpectError(const Instruction& inst, const std::string& what) {
    auto s = InferShape(inst);
    ASSERT_FALSE(s.ok()) << "inferred " << s->ToString();
    std::string prefix = "%" + inst.name + " (" + std::string(OpcodeName(inst.opcode)) + "): ";
    EXPECT_EQ(s.status().message().rfind(prefix, 0), 0u) << s.status().message();
    EXPECT_NE(s.status().message().find(what), std::string::npos) << s.status().message();
  }
  // A scalar reducer computation op(a, b) with the given parameter shapes.
  Computation* Reducer(std::vector<const char*> param_shapes, const char* root_shape) {
    auto c = std::make_unique<Computation>("red");
    for (size_t i = 0; i < param_shapes.size(); ++i) {
      auto p = std::make_unique<Instruction>();
      p->opcode = Opcode::kParameter;
      p->name = "r" + std::to_string(i);
      p->parameter_number = static_cast<int64_t>(i);
      p->shape = S(param_shapes[i]);
      c->AddInstruction(std::move(p));
    }
    auto r = std::make_unique<Instruction>();
    r->opcode = Opcode::kAdd;
    r->name = "rroot";
    r->shape = S(root_shape);
    c->set_root(c->AddInstruction(std::move(r)));
    comps_.push_back(std::move(c));
    return comps_.back().get();
  }

  std::vector<std::unique_ptr<Instruction>> owned_;
  std::vector<std::unique_ptr<Computation>> comps_;
};

TEST_F(ShapeInferenceTest, Parameter) {
  Instruction& p = Op(Opcode::kParameter, {}, "p");
  p.parameter_number = 0;
  p.shape = S("f32[2,3]");
  EXPECT_EQ(Infer(p), "f32[2,3]");
  p.parameter_number = -1;
  ExpectError(p, "negative");
  p.parameter_number = 0;
  p.shape.dims = {2, -1};
  ExpectError(p, "negative dimension");
}

TEST_F(ShapeInferenceTest, Constant) {
  Instruction& c = Op(Opcode::kConstant, {}, "c");
  c.literal = Literal::FromVector<float>(DType::kF32, {2}, {1, 2});
  c.shape = S("f32[2]");
  EXPECT_EQ(Infer(c), "f32[2]");
  c.shape = S("f32[3]");
  ExpectError(c, "literal");
  c.shape = S("(f32[2])");
  ExpectError(c, "tuple");
}

TEST_F(ShapeInferenceTest, Iota) {
  Instruction& i = Op(Opcode::kIota, {}, "io");
  i.shape = S("s32[4,5]");
  i.dimensions = {1};
  EXPECT_EQ(Infer(i), "s32[4,5]");
  i.dimensions = {2};
  ExpectError(i, "out of range");
  i.dimensions = {};
  ExpectError(i, "one iota dimension");
}

TEST_F(ShapeInferenceTest, Arity) {
  ExpectError(Op(Opcode::kAdd, {In("f32[2]")}, "a1"), "expects 2 operands, got 1");
  ExpectError(Op(Opcode::kNegate, {In("f32[2]"), In("f32[2]")}, "n2"), "expects 1 operand, got 2");
  ExpectError(Op(Opcode::kNegate, {In("(f32[2])")}, "nt"), "tuple shape");
  ExpectError(Op(Opcode::kNegate, {nullptr}, "nn"), "null");
}

TEST_F(ShapeInferenceTest, Unary) {
  EXPECT_EQ(Infer(Op(Opcode::kExp, {In("bf16[2,3]")})), "bf16[2,3]");
  EXPECT_EQ(Infer(Op(Opcode::kAbs, {In("s32[4]")})), "s32[4]");
  EXPECT_EQ(Infer(Op(Opcode::kNot, {In("pred[4]")})), "pred[4]");
  EXPECT_EQ(Infer(Op(Opcode::kCopy, {In("u8[4]")})), "u8[4]");
  ExpectError(Op(Opcode::kExp, {In("s32[2]")}, "exp.1"), "floating-point");
  ExpectError(Op(Opcode::kTanh, {In("pred[2]")}, "t"), "floating-point");
  ExpectError(Op(Opcode::kNegate, {In("u8[2]")}, "neg"), "signed");
  ExpectError(Op(Opcode::kSign, {In("pred[2]")}, "sg"), "signed");
  ExpectError(Op(Opcode::kNot, {In("f32[2]")}, "not"), "pred or integer");
}

TEST_F(ShapeInferenceTest, Binary) {
  EXPECT_EQ(Infer(Op(Opcode::kAdd, {In("f32[2,3]"), In("f32[2,3]")})), "f32[2,3]");
  EXPECT_EQ(Infer(Op(Opcode::kAnd, {In("pred[3]"), In("pred[3]")})), "pred[3]");
  EXPECT_EQ(Infer(Op(Opcode::kRemainder, {In("s32[3]"), In("s32[3]")})), "s32[3]");
  Instruction& bad = Op(Opcode::kAdd, {In("f32[2,3]"), In("f32[3,2]")}, "add.3");
  EXPECT_EQ(Infer(bad), "error: %add.3 (add): operand shapes differ: f32[2,3] vs f32[3,2]");
  ExpectError(Op(Opcode::kMultiply, {In("f32[2]"), In("s32[2]")}, "m"), "differ");
  ExpectError(Op(Opcode::kXor, {In("f32[2]"), In("f32[2]")}, "xo"), "pred or integer");
  ExpectError(Op(Opcode::kAtan2, {In("s32[2]"), In("s32[2]")}, "at"), "floating-point");
  ExpectError(Op(Opcode::kAdd, {In("pred[2]"), In("pred[2]")}, "ap"), "numeric");
}

TEST_F(ShapeInferenceTest, Compare) {
  EXPECT_EQ(Infer(Op(Opcode::kCompare, {In("f32[2,3]"), In("f32[2,3]")})), "pred[2,3]");
  ExpectError(Op(Opcode::kCompare, {In("f32[2]"), In("f32[3]")}, "cmp"), "differ");
}

TEST_F(ShapeInferenceTest, Select) {
  EXPECT_EQ(Infer(Op(Opcode::kSelect, {In("pred[2]"), In("s32[2]"), In("s32[2]")})), "s32[2]");
  ExpectError(Op(Opcode::kSelect, {In("f32[2]"), In("s32[2]"), In("s32[2]")}, "s1"), "pred");
  ExpectError(Op(Opcode::kSelect, {In("pred[3]"), In("s32[2]"), In("s32[2]")}, "s2"),
              "does not match");
  ExpectError(Op(Opcode::kSelect, {In("pred[2]"), In("s32[2]"), In("f32[2]")}, "s3"), "differ");
}

TEST_F(ShapeInferenceTest, Clamp) {
  EXPECT_EQ(Infer(Op(Opcode::kClamp, {In("f32[]"), In("f32[4]"), In("f32[]")})), "f32[4]");
  EXPECT_EQ(Infer(Op(Opcode::kClamp, {In("f32[4]"), In("f32[4]"), In("f32[]")})), "f32[4]");
  ExpectError(Op(Opcode::kClamp, {In("f32[2]"), In("f32[4]"), In("f32[]")}, "c1"), "scalar");
  ExpectError(Op(Opcode::kClamp, {In("f32[]"), In("f32[4]"), In("s32[]")}, "c2"), "type");
}

TEST_F(ShapeInferenceTest, Convert) {
  Instruction& c = Op(Opcode::kConvert, {In("f32[2,3]")}, "cv");
  c.shape = S("bf16[2,3]");
  EXPECT_EQ(Infer(c), "bf16[2,3]");
  c.shape = S("bf16[3,2]");
  ExpectError(c, "dimensions");
}

TEST_F(ShapeInferenceTest, Broadcast) {
  Instruction& b = Op(Opcode::kBroadcast, {In("f32[3]")}, "bc");
  b.shape = S("f32[2,3]");
  b.dimensions = {1};
  EXPECT_EQ(Infer(b), "f32[2,3]");
  b.dimensions = {0};
  ExpectError(b, "size");
  b.dimensions = {2};
  ExpectError(b, "out of range");
  Instruction& b2 = Op(Opcode::kBroadcast, {In("f32[3,3]")}, "bc2");
  b2.shape = S("f32[3,3]");
  b2.dimensions = {1, 0};
  ExpectError(b2, "strictly increasing");
  b2.dimensions = {0, 1};
  b2.shape = S("s32[3,3]");
  ExpectError(b2, "type");
}

TEST_F(ShapeInferenceTest, Reshape) {
  Instruction& r = Op(Opcode::kReshape, {In("f32[2,3]")}, "rs");
  r.shape = S("f32[6]");
  EXPECT_EQ(Infer(r), "f32[6]");
  r.shape = S("f32[7]");
  ExpectError(r, "elements");
}

TEST_F(ShapeInferenceTest, Transpose) {
  Instruction& t = Op(Opcode::kTranspose, {In("f32[2,3,4]")}, "tr");
  t.dimensions = {2, 0, 1};
  EXPECT_EQ(Infer(t), "f32[4,2,3]");
  t.dimensions = {0, 0, 1};
  ExpectError(t, "repeated");
  t.dimensions = {0, 1};
  ExpectError(t, "rank");
}

TEST_F(ShapeInferenceTest, Reverse) {
  Instruction& r = Op(Opcode::kReverse, {In("f32[2,3]")}, "rv");
  r.dimensions = {1};
  EXPECT_EQ(Infer(r), "f32[2,3]");
  r.dimensions = {2};
  ExpectError(r, "out of range");
  r.dimensions = {1, 1};
  ExpectError(r, "repeated");
}

TEST_F(ShapeInferenceTest, Slice) {
  Instruction& s = Op(Opcode::kSlice, {In("f32[10,4]")}, "sl");
  s.slice_starts = {1, 0};
  s.slice_limits = {8, 4};
  s.slice_strides = {3, 1};
  EXPECT_EQ(Infer(s), "f32[3,4]");
  s.slice_limits = {11, 4};
  ExpectError(s, "not within");
  s.slice_limits = {8, 4};
  s.slice_strides = {0, 1};
  ExpectError(s, "stride");
  s.slice_strides = {1};
  ExpectError(s, "per dimension");
}

TEST_F(ShapeInferenceTest, DynamicSlice) {
  Instruction& d = Op(Opcode::kDynamicSlice, {In("f32[10,4]"), In("s32[]"), In("s32[]")}, "ds");
  d.slice_sizes = {2, 4};
  EXPECT_EQ(Infer(d), "f32[2,4]");
  d.slice_sizes = {2, 5};
  ExpectError(d, "slice size");
  Instruction& d2 = Op(Opcode::kDynamicSlice, {In("f32[10,4]"), In("s32[]")}, "ds2");
  d2.slice_sizes = {2, 4};
  ExpectError(d2, "start index per dimension");
  Instruction& d3 = Op(Opcode::kDynamicSlice, {In("f32[10]"), In("f32[]")}, "ds3");
  d3.slice_sizes = {2};
  ExpectError(d3, "integer scalar");
}

TEST_F(ShapeInferenceTest, DynamicUpdateSlice) {
  EXPECT_EQ(Infer(Op(Opcode::kDynamicUpdateSlice,
                     {In("f32[10,4]"), In("f32[2,4]"), In("s32[]"), In("s32[]")})),
            "f32[10,4]");
  ExpectError(Op(Opcode::kDynamicUpdateSlice,
                 {In("f32[10,4]"), In("f32[2,5]"), In("s32[]"), In("s32[]")}, "dus"),
              "larger");
  ExpectError(Op(Opcode::kDynamicUpdateSlice, {In("f32[10,4]"), In("f32[2,4]"), In("s32[]")},
                 "dus2"),
              "start index per dimension");
}

TEST_F(ShapeInferenceTest, Concatenate) {
  Instruction& c = Op(Opcode::kConcatenate, {In("f32[2,3]"), In("f32[5,3]")}, "cc");
  c.dimensions = {0};
  EXPECT_EQ(Infer(c), "f32[7,3]");
  c.dimensions = {1};
  ExpectError(c, "dimension 0");
  Instruction& none = Op(Opcode::kConcatenate, {}, "cc0");
  none.dimensions = {0};
  ExpectError(none, "at least one");
}

TEST_F(ShapeInferenceTest, Pad) {
  Instruction& p = Op(Opcode::kPad, {In("f32[3,4]"), In("f32[]")}, "pd");
  p.padding = {{1, 2, 1}, {-1, 0, 0}};
  EXPECT_EQ(Infer(p), "f32[8,3]");
  p.padding = {{1, 2, -1}, {0, 0, 0}};
  ExpectError(p, "interior");
  p.padding = {{0, 0, 0}, {-3, -2, 0}};
  ExpectError(p, "negative size");
  Instruction& p2 = Op(Opcode::kPad, {In("f32[3]"), In("s32[]")}, "pd2");
  p2.padding = {{0, 0, 0}};
  ExpectError(p2, "padding value");
}

TEST_F(ShapeInferenceTest, Reduce) {
  Instruction& r = Op(Opcode::kReduce, {In("f32[2,3,4]"), In("f32[]")}, "rd");
  r.dimensions = {0, 2};
  r.to_apply = Reducer({"f32[]", "f32[]"}, "f32[]");
  EXPECT_EQ(Infer(r), "f32[3]");
  r.dimensions = {0, 0};
  ExpectError(r, "repeated");
  r.dimensions = {1};
  r.to_apply = Reducer({"f32[]", "f32[]", "f32[]"}, "f32[]");
  ExpectError(r, "must take 2 scalar parameters");
  r.to_apply = Reducer({"f32[]", "s32[]"}, "f32[]");
  ExpectError(r, "parameter 1 must be f32[]");
  r.to_apply = Reducer({"f32[]", "f32[]"}, "f32[2]");
  ExpectError(r, "must return f32[]");
  r.to_apply = nullptr;
  ExpectError(r, "to_apply");

  // Two-operand (argmax-like) reduce gives a tuple.
  Instruction& r2 =
      Op(Opcode::kReduce, {In("f32[5,6]"), In("s32[5,6]"), In("f32[]"), In("s32[]")}, "rd2");
  r2.dimensions = {1};
  r2.to_apply = Reducer({"f32[]", "s32[]", "f32[]", "s32[]"}, "(f32[], s32[])");
  EXPECT_EQ(Infer(r2), "(f32[5], s32[5])");
  ExpectError(Op(Opcode::kReduce, {In("f32[5]"), In("f32[]"), In("f32[]")}, "rd3"), "even");
  Instruction& r4 = Op(Opcode::kReduce, {In("f32[5]"), In("f32[2]")}, "rd4");
  r4.to_apply = Reducer({"f32[]", "f32[]"}, "f32[]");
  ExpectError(r4, "init value");
}

TEST_F(ShapeInferenceTest, ReduceWindow) {
  Instruction& r = Op(Opcode::kReduceWindow, {In("f32[1,3,8,8]"), In("f32[]")}, "rw");
  r.to_apply = Reducer({"f32[]", "f32[]"}, "f32[]");
  r.window = {{}, {}, {3, 2, 1, 1, 1, 1}, {2, 2, 0, 0, 1, 1}};
  EXPECT_EQ(Infer(r), "f32[1,3,4,4]");
  r.window = {{}, {}, {3, 1, 0, 0, 1, 2}, {2, 2, 0, 0, 2, 1}};  // window dilate 2; base dilate 2
  EXPECT_EQ(Infer(r), "f32[1,3,4,7]");  // (15 - 2) / 2 + 1
  r.window = {{}, {}, {9, 1, 0, 0, 1, 1}, {}};
  ExpectError(r, "smaller than the window");
  r.window = {{}, {}};
  ExpectError(r, "window has 2 dimensions");
  r.window = {{}, {}, {2, 0, 0, 0, 1, 1}, {}};
  ExpectError(r, ">= 1");
}

TEST_F(ShapeInferenceTest, Dot) {
  Instruction& d = Op(Opcode::kDot, {In("f32[8,2,3]"), In("f32[8,3,5]")}, "dot");
  d.dot_dims = {{0}, {2}, {0}, {1}};
  EXPECT_EQ(Infer(d), "f32[8,2,5]");
  d.dot_dims = {{}, {1}, {}, {0}};
  Instruction& mm = Op(Opcode::kDot, {In("f32[2,3]"), In("f32[3,5]")}, "mm");
  mm.dot_dims = {{}, {1}, {}, {0}};
  EXPECT_EQ(Infer(mm), "f32[2,5]");
  mm.dot_dims = {{}, {0}, {}, {0}};
  ExpectError(mm, "contracting dimension sizes differ");
  mm.dot_dims = {{}, {1}, {}, {}};
  ExpectError(mm, "differ in length");
  d.dot_dims = {{0}, {2}, {1}, {1}};
  ExpectError(d, "repeated");
  Instruction& mixed = Op(Opcode::kDot, {In("f32[2,3]"), In("bf16[3,5]")}, "mx");
  mixed.dot_dims = {{}, {1}, {}, {0}};
  ExpectError(mixed, "types differ");
}

// int8 x int8 -> int32: s8 (or u8) operands give an s32 result when the
// declared shape says s32; otherwise the operand type, as for every dot.
TEST_F(ShapeInferenceTest, DotInt8ToInt32) {
  Instruction& d = Op(Opcode::kDot, {In("s8[2,3]"), In("s8[3,5]")}, "d8");
  d.dot_dims = {{}, {1}, {}, {0}};
  EXPECT_EQ(Infer(d), "s8[2,5]");  // the builder's default declared shape (f32) is ignored
  d.shape = S("s32[2,5]");
  EXPECT_EQ(Infer(d), "s32[2,5]");
  d.shape = S("s64[2,5]");
  EXPECT_EQ(Infer(d), "s8[2,5]");  // only s32 widens
  Instruction& u = Op(Opcode::kDot, {In("u8[2,3]"), In("u8[3,5]")}, "du8");
  u.dot_dims = {{}, {1}, {}, {0}};
  u.shape = S("s32[2,5]");
  EXPECT_EQ(Infer(u), "s32[2,5]");
  Instruction& f = Op(Opcode::kDot, {In("f32[2,3]"), In("f32[3,5]")}, "df");
  f.dot_dims = {{}, {1}, {}, {0}};
  f.shape = S("s32[2,5]");
  EXPECT_EQ(Infer(f), "f32[2,5]");  // float dots keep their type
  Instruction& m = Op(Opcode::kDot, {In("s8[2,3]"), In("u8[3,5]")}, "dm");
  m.dot_dims = {{}, {1}, {}, {0}};
  m.shape = S("s32[2,5]");
  ExpectError(m, "types differ");
}

ConvDims Nchw() {
  ConvDims cd;
  cd.input_batch = 0;
  cd.input_feature = 1;
  cd.input_spatial = {2, 3};
  cd.kernel_output_feature = 0;
  cd.kernel_input_feature = 1;
  cd.kernel_spatial = {2, 3};
  cd.output_batch = 0;
  cd.output_feature = 1;
  cd.output_spatial = {2, 3};
  return cd;
}

TEST_F(ShapeInferenceTest, Convolution) {
  Instruction& c = Op(Opcode::kConvolution, {In("f32[2,4,9,9]"), In("f32[6,2,3,3]")}, "conv");
  c.conv_dims = Nchw();
  c.window = {{3, 2, 1, 1, 1, 1}, {3, 1, 0, 0, 1, 2}};
  c.feature_group_count = 2;
  EXPECT_EQ(Infer(c), "f32[2,6,5,5]");
  c.feature_group_count = 1;
  ExpectError(c, "input features (4)");
  c.feature_group_count = 2;
  c.window[0].size = 2;
  ExpectError(c, "differs from the kernel");
  c.window[0].size = 3;
  c.batch_group_count = 2;
  EXPECT_EQ(InferShape(c).status().code(), StatusCode::kUnimplemented);
  ExpectError(c, "batch_group_count");
  c.batch_group_count = 1;
  c.feature_group_count = 4;  // 4 != 2 * 4
  ExpectError(c, "feature_group_count");

  // NHWC input, HWIO kernel, NHWC output: "b01f_01io->b01f".
  Instruction& h = Op(Opcode::kConvolution, {In("f32[1,8,8,3]"), In("f32[3,3,3,16]")}, "convh");
  ConvDims cd;
  cd.input_batch = 0;
  cd.input_feature = 3;
  cd.input_spatial = {1, 2};
  cd.kernel_output_feature = 3;
  cd.kernel_input_feature = 2;
  cd.kernel_spatial = {0, 1};
  cd.output_batch = 0;
  cd.output_feature = 3;
  cd.output_spatial = {1, 2};
  h.conv_dims = cd;
  h.window = {{3, 1, 1, 1, 1, 1}, {3, 1, 1, 1, 1, 1}};
  EXPECT_EQ(Infer(h), "f32[1,8,8,16]");
  h.conv_dims.output_spatial = {1, 1};
  ExpectError(h, "repeated");

  Instruction& q = Op(Opcode::kConvolution, {In("s8[1,8,8,3]"), In("s8[3,3,3,16]")}, "conv8");
  q.conv_dims = cd;
  q.window = {{3, 1, 1, 1, 1, 1}, {3, 1, 1, 1, 1, 1}};
  EXPECT_EQ(Infer(q), "s8[1,8,8,16]");
  q.shape = S("s32[1,8,8,16]");
  EXPECT_EQ(Infer(q), "s32[1,8,8,16]");
}

TEST_F(ShapeInferenceTest, Gather) {
  // Embedding lookup: operand [V=10, D=4], indices [2,3] -> [2,3,4].
  Instruction& g = Op(Opcode::kGather, {In("f32[10,4]"), In("s32[2,3]")}, "g");
  g.gather_dims.offset_dims = {2};
  g.gather_dims.collapsed_slice_dims = {0};
  g.gather_dims.start_index_map = {0};
  g.gather_dims.index_vector_dim = 2;  // implicit trailing 1
  g.slice_sizes = {1, 4};
  EXPECT_EQ(Infer(g), "f32[2,3,4]");
  g.slice_sizes = {2, 4};
  ExpectError(g, "collapsed slice dimension 0");
  g.slice_sizes = {1, 4};
  g.gather_dims.index_vector_dim = 3;
  ExpectError(g, "index_vector_dim");

  // XLA doc example: operand [3,3], indices [2,2] with index_vector_dim 1.
  Instruction& g2 = Op(Opcode::kGather, {In("f32[3,3]"), In("s64[2,2]")}, "g2");
  g2.gather_dims.offset_dims = {1, 2};
  g2.gather_dims.collapsed_slice_dims = {};
  g2.gather_dims.start_index_map = {0, 1};
  g2.gather_dims.index_vector_dim = 1;
  g2.slice_sizes = {2, 2};
  EXPECT_EQ(Infer(g2), "f32[2,2,2]");
  // Offset dims in the middle of the batch dims.
  Instruction& g3 = Op(Opcode::kGather, {In("f32[7,8,9]"), In("s32[4,2,5]")}, "g3");
  g3.gather_dims.offset_dims = {1, 3};
  g3.gather_dims.collapsed_slice_dims = {1};
  g3.gather_dims.start_index_map = {0, 1};
  g3.gather_dims.index_vector_dim = 1;
  g3.slice_sizes = {3, 1, 6};
  EXPECT_EQ(Infer(g3), "f32[4,3,5,6]");
  g3.gather_dims.start_index_map = {0};
  ExpectError(g3, "start_index_map");
  g3.gather_dims.start_index_map = {0, 1};
  g3.gather_dims.offset_dims = {1};
  ExpectError(g3, "cover");
  ExpectError(Op(Opcode::kGather, {In("f32[3]"), In("f32[1]")}, "g4"), "integers");
}

TEST_F(ShapeInferenceTest, TupleAndGetTupleElement) {
  Instruction& t = Op(Opcode::kTuple, {In("f32[2]"), In("s32[]")}, "t");
  EXPECT_EQ(Infer(t), "(f32[2], s32[])");
  t.shape = *InferShape(t);
  Instruction& g = Op(Opcode::kGetTupleElement, {&t}, "gte");
  g.tuple_index = 1;
  EXPECT_EQ(Infer(g), "s32[]");
  g.tuple_index = 2;
  ExpectError(g, "out of range");
  ExpectError(Op(Opcode::kGetTupleElement, {In("f32[2]")}, "gte2"), "not a tuple");
}

}  // namespace
}  // namespace xtpu
