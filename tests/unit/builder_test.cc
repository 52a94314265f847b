// Builder: inferred shapes, module-unique names, scalar reducers placed before
// their users, and errors that name the op.
#include <gtest/gtest.h>

#include "xtpu/ir/builder.h"
#include "xtpu/ir/verifier.h"

namespace xtpu {
namespace {

class BuilderTest : public ::testing::Test {
 protected:
  BuilderTest() : module_("m") {
    entry_ = module_.AddComputation(std::make_unique<Computation>("main"));
    module_.set_entry(entry_);
  }
  Module module_;
  Computation* entry_;
};

TEST_F(BuilderTest, BuildsAndNamesUniquely) {
  Builder b(&module_, entry_);
  auto x = b.Parameter(0, Shape(DType::kF32, {2, 3}), "x");
  ASSERT_TRUE(x.ok()) << x.status().message();
  auto y = b.Parameter(1, Shape(DType::kF32, {2, 3}), "x");  // name taken: gets x.1
  ASSERT_TRUE(y.ok());
  EXPECT_EQ((*x)->name, "x");
  EXPECT_EQ((*y)->name, "x.1");
  auto a1 = b.Binary(Opcode::kAdd, *x, *y);
  auto a2 = b.Binary(Opcode::kAdd, *a1, *y);
  auto a3 = b.Binary(Opcode::kAdd, *a2, *y);
  ASSERT_TRUE(a3.ok());
  EXPECT_EQ((*a1)->name, "add");
  EXPECT_EQ((*a2)->name, "add.1");
  EXPECT_EQ((*a3)->name, "add.2");
  EXPECT_EQ((*a3)->shape.ToString(), "f32[2,3]");
  auto t = b.Tuple({*a3});
  ASSERT_TRUE(t.ok());
  entry_->set_root(*t);
  Status st = Verify(module_);
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(module_.OutputNames(), std::vector<std::string>{"add.2"});
}

TEST_F(BuilderTest, NamesAreUniqueAcrossComputations) {
  Builder b(&module_, entry_);
  auto x = b.Parameter(0, Shape(DType::kF32, {}), "a");
  ASSERT_TRUE(x.ok());
  Computation* red = b.ScalarReducer(Opcode::kAdd, DType::kF32);
  EXPECT_EQ(red->name(), "add.f32");
  EXPECT_EQ(red->parameters()[0]->name, "a.1");  // "a" is the entry's parameter
  EXPECT_EQ(red->parameters()[1]->name, "b");
}

TEST_F(BuilderTest, PicksUpNamesAddedWithoutTheBuilder) {
  auto p = std::make_unique<Instruction>();
  p->opcode = Opcode::kParameter;
  p->parameter_number = 0;
  p->name = "add";
  p->shape = Shape(DType::kF32, {});
  Instruction* raw = entry_->AddInstruction(std::move(p));
  EXPECT_EQ(UniqueName(module_, "add"), "add.1");
  EXPECT_EQ(UniqueName(module_, "add"), "add.1");  // the free function does not reserve
  Builder b(&module_, entry_);
  auto a = b.Binary(Opcode::kAdd, raw, raw);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->name, "add.1");
  EXPECT_EQ(UniqueName(module_, "add"), "add.2");
  EXPECT_EQ(module_.UniqueName("fresh"), "fresh");
  EXPECT_EQ(module_.UniqueName("fresh"), "fresh.1");  // the method reserves
}

TEST_F(BuilderTest, ScalarReducerOncePerModuleAndBeforeUser) {
  Builder b(&module_, entry_);
  Computation* r1 = b.ScalarReducer(Opcode::kAdd, DType::kF32);
  Computation* r2 = b.ScalarReducer(Opcode::kAdd, DType::kF32);
  Computation* r3 = b.ScalarReducer(Opcode::kMaximum, DType::kBF16);
  EXPECT_EQ(r1, r2);
  EXPECT_EQ(r3->name(), "maximum.bf16");
  ASSERT_EQ(module_.computations().size(), 3u);
  EXPECT_EQ(module_.computations()[0].get(), r1);
  EXPECT_EQ(module_.computations()[1].get(), r3);
  EXPECT_EQ(module_.computations()[2].get(), entry_);
  EXPECT_EQ(r1->root()->opcode, Opcode::kAdd);
  EXPECT_EQ(r1->root()->shape.ToString(), "f32[]");
}

TEST_F(BuilderTest, ReduceWithReducerVerifies) {
  Builder b(&module_, entry_);
  auto x = b.Parameter(0, Shape(DType::kF32, {4, 5}), "x");
  auto zero = b.Constant(Literal::ScalarF32(0));
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ((*zero)->name, "constant");
  auto r = b.Reduce({*x}, {*zero}, {1}, b.ScalarReducer(Opcode::kAdd, DType::kF32));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)->shape.ToString(), "f32[4]");
  auto mx = b.ReduceWindow(*x, *zero, {{2, 2, 0, 0, 1, 1}, {1, 1, 0, 0, 1, 1}},
                           b.ScalarReducer(Opcode::kMaximum, DType::kF32));
  ASSERT_TRUE(mx.ok()) << mx.status().message();
  EXPECT_EQ((*mx)->shape.ToString(), "f32[2,5]");
  auto t = b.Tuple({*r, *mx});
  entry_->set_root(*t);
  Status st = Verify(module_);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(BuilderTest, AllOpsBuild) {
  Builder b(&module_, entry_);
  auto x = *b.Parameter(0, Shape(DType::kF32, {2, 3}), "x");
  auto i = *b.Parameter(1, Shape(DType::kS32, {}), "i");
  EXPECT_TRUE(b.Iota(Shape(DType::kS32, {4}), 0).ok());
  EXPECT_TRUE(b.Unary(Opcode::kTanh, x).ok());
  auto cmp = b.Compare(CompareDirection::kLt, x, x);
  ASSERT_TRUE(cmp.ok());
  EXPECT_EQ((*cmp)->direction, CompareDirection::kLt);
  EXPECT_TRUE(b.Select(*cmp, x, x).ok());
  auto zero = *b.Constant(Literal::ScalarF32(0));
  EXPECT_TRUE(b.Clamp(zero, x, zero).ok());
  EXPECT_EQ((*b.Convert(x, DType::kBF16))->shape.ToString(), "bf16[2,3]");
  EXPECT_EQ((*b.Broadcast(x, {4, 2, 3}, {1, 2}))->shape.ToString(), "f32[4,2,3]");
  EXPECT_EQ((*b.Reshape(x, {3, 2}))->shape.ToString(), "f32[3,2]");
  EXPECT_EQ((*b.Transpose(x, {1, 0}))->shape.ToString(), "f32[3,2]");
  EXPECT_EQ((*b.Reverse(x, {0}))->shape.ToString(), "f32[2,3]");
  EXPECT_EQ((*b.Slice(x, {0, 1}, {2, 3}, {1, 1}))->shape.ToString(), "f32[2,2]");
  EXPECT_EQ((*b.DynamicSlice(x, {i, i}, {1, 2}))->shape.ToString(), "f32[1,2]");
  EXPECT_EQ((*b.DynamicUpdateSlice(x, x, {i, i}))->shape.ToString(), "f32[2,3]");
  EXPECT_EQ((*b.Concatenate({x, x}, 1))->shape.ToString(), "f32[2,6]");
  EXPECT_EQ((*b.Pad(x, zero, {{1, 1, 0}, {0, 0, 1}}))->shape.ToString(), "f32[4,5]");
  EXPECT_EQ((*b.Dot(x, x, {{}, {1}, {}, {1}}))->shape.ToString(), "f32[2,2]");
  auto img = *b.Parameter(2, Shape(DType::kF32, {1, 2, 5, 5}), "img");
  auto ker = *b.Parameter(3, Shape(DType::kF32, {4, 2, 3, 3}), "ker");
  ConvDims cd;
  cd.input_spatial = {2, 3};
  cd.kernel_spatial = {2, 3};
  cd.output_spatial = {2, 3};
  auto conv = b.Convolution(img, ker, {{3, 1, 1, 1, 1, 1}, {3, 1, 1, 1, 1, 1}}, cd, 1);
  ASSERT_TRUE(conv.ok()) << conv.status().message();
  EXPECT_EQ((*conv)->shape.ToString(), "f32[1,4,5,5]");
  auto idx = *b.Parameter(4, Shape(DType::kS32, {7}), "idx");
  GatherDims gd;
  gd.offset_dims = {1};
  gd.collapsed_slice_dims = {0};
  gd.start_index_map = {0};
  gd.index_vector_dim = 1;
  EXPECT_EQ((*b.Gather(x, idx, gd, {1, 3}))->shape.ToString(), "f32[7,3]");
  auto t = *b.Tuple({x, i});
  EXPECT_EQ((*b.GetTupleElement(t, 1))->shape.ToString(), "s32[]");
  entry_->set_root(t);
  Status st = Verify(module_);
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(BuilderTest, ErrorsNameTheOp) {
  Builder b(&module_, entry_);
  auto x = *b.Parameter(0, Shape(DType::kF32, {2, 3}), "x");
  auto y = *b.Parameter(1, Shape(DType::kF32, {3, 2}), "y");
  auto bad = b.Binary(Opcode::kAdd, x, y);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "%add (add): operand shapes differ: f32[2,3] vs f32[3,2]");
  EXPECT_EQ(entry_->instructions().size(), 2u);  // nothing added on error
  auto good = b.Binary(Opcode::kAdd, x, x);
  EXPECT_EQ((*good)->name, "add");  // the failed attempt took no name

  auto named = std::make_unique<Instruction>();
  named->opcode = Opcode::kMultiply;
  named->name = "conv1_mul";
  named->operands = {x, y};
  auto r = b.Add(std::move(named));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("%conv1_mul (multiply): ", 0), 0u);

  EXPECT_FALSE(b.Unary(Opcode::kAdd, x).ok());
  EXPECT_FALSE(b.Binary(Opcode::kExp, x, x).ok());
  auto dup = b.Parameter(0, Shape(DType::kF32, {}), "z");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("already taken by %x"), std::string::npos);
  EXPECT_FALSE(b.Reshape(x, {7}).ok());
  EXPECT_FALSE(b.Reduce({x}, {}, {0}, nullptr).ok());
}

}  // namespace
}  // namespace xtpu
