// Verifier: one test per rule; each breaks a valid module in one way and
// checks the first error names the computation and the instruction.
#include <gtest/gtest.h>

#include "xtpu/ir/builder.h"
#include "xtpu/ir/verifier.h"

namespace xtpu {
namespace {

// main(x: f32[4], y: f32[4]) = (add(x, y), reduce(x) with add.f32)
class VerifierTest : public ::testing::Test {
 protected:
  VerifierTest() : module_("m") {
    entry_ = module_.AddComputation(std::make_unique<Computation>("main"));
    module_.set_entry(entry_);
    Builder b(&module_, entry_);
    x_ = *b.Parameter(0, Shape(DType::kF32, {4}), "x");
    y_ = *b.Parameter(1, Shape(DType::kF32, {4}), "y");
    add_ = *b.Binary(Opcode::kAdd, x_, y_);
    auto zero = *b.Constant(Literal::ScalarF32(0), "zero");
    reducer_ = b.ScalarReducer(Opcode::kAdd, DType::kF32);
    reduce_ = *b.Reduce({x_}, {zero}, {0}, reducer_);
    root_ = *b.Tuple({add_, reduce_});
    entry_->set_root(root_);
  }

  std::string VerifyError() {
    Status st = Verify(module_);
    return st.ok() ? "ok" : st.message();
  }
  void ExpectError(const std::string& part) {
    std::string msg = VerifyError();
    EXPECT_NE(msg.find(part), std::string::npos) << msg;
  }
  // Moves instruction `i` of the entry to position `j`.
  void Move(size_t i, size_t j) {
    auto& v = entry_->mutable_instructions();
    auto inst = std::move(v[i]);
    v.erase(v.begin() + i);
    v.insert(v.begin() + j, std::move(inst));
  }

  Module module_;
  Computation* entry_;
  Computation* reducer_;
  Instruction *x_, *y_, *add_, *reduce_, *root_;
};

TEST_F(VerifierTest, ValidModule) { EXPECT_EQ(VerifyError(), "ok"); }

TEST_F(VerifierTest, OperandUsedBeforeDefinition) {
  Move(2, 0);  // add before x and y
  EXPECT_EQ(VerifyError(), "computation main: %add (add): operand 0 (%x) is used before it is "
                           "defined");
}

TEST_F(VerifierTest, OperandFromAnotherComputation) {
  add_->operands[1] = reducer_->parameters()[0];
  ExpectError("computation main: %add (add): operand 1 (%a) belongs to computation add.f32");
}

TEST_F(VerifierTest, OperandNotInModule) {
  Instruction stray;
  stray.name = "stray";
  stray.shape = Shape(DType::kF32, {4});
  add_->operands[1] = &stray;
  ExpectError("%add (add): operand 1 (%stray) is not in the module");
}

TEST_F(VerifierTest, DuplicateNames) {
  y_->name = "x";
  ExpectError("computation main: %x (parameter): name is already used");
}

TEST_F(VerifierTest, DuplicateNamesAcrossComputations) {
  add_->name = "a";  // the reducer's first parameter
  ExpectError("computation main: %a (add): name is already used");
}

TEST_F(VerifierTest, MissingRoot) {
  reducer_->set_root(nullptr);
  EXPECT_EQ(VerifyError(), "computation add.f32: no root");
}

TEST_F(VerifierTest, RootFromAnotherComputation) {
  entry_->set_root(reducer_->root());
  ExpectError("computation main: root %add.1 is not an instruction of this computation");
}

TEST_F(VerifierTest, ParameterGap) {
  y_->parameter_number = 2;
  ExpectError("computation main: %y (parameter): parameter number 2 leaves a gap");
}

TEST_F(VerifierTest, DuplicateParameterNumber) {
  y_->parameter_number = 0;
  ExpectError("%y (parameter): parameter number 0 is also used by %x");
}

TEST_F(VerifierTest, BadToApplySignature) {
  // A well-formed s32 reducer applied to an f32 reduce.
  Builder b(&module_, entry_);
  reduce_->to_apply = b.ScalarReducer(Opcode::kAdd, DType::kS32);
  EXPECT_EQ(VerifyError(), "computation main: %reduce (reduce): to_apply %add.s32 parameter 0 "
                           "must be f32[], is s32[]");
}

TEST_F(VerifierTest, BrokenReducerBody) {
  reducer_->parameters()[1]->shape = Shape(DType::kS32, {});
  // The reducer is verified first (callees come first).
  ExpectError("computation add.f32: %add.1 (add): operand shapes differ");
}

TEST_F(VerifierTest, ToApplyTakesWrongParameterCount) {
  Module m("m2");
  Computation* red = m.AddComputation(std::make_unique<Computation>("one_param"));
  Builder rb(&m, red);
  auto p = *rb.Parameter(0, Shape(DType::kF32, {}), "p");
  red->set_root(p);
  Computation* main = m.AddComputation(std::make_unique<Computation>("main"));
  m.set_entry(main);
  Builder b(&m, main);
  auto x = *b.Parameter(0, Shape(DType::kF32, {4}), "x");
  auto z = *b.Constant(Literal::ScalarF32(0));
  auto r = b.Reduce({x}, {z}, {0}, red);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("to_apply %one_param must take 2 scalar parameters"),
            std::string::npos)
      << r.status().message();
}

TEST_F(VerifierTest, ToApplyReturnsWrongType) {
  reducer_->root()->shape = Shape(DType::kF32, {1});
  // The reducer's add has a wrong declared shape; that is reported first.
  ExpectError("computation add.f32: %add.1 (add): declared shape f32[1] differs from the "
              "inferred f32[]");
}

TEST_F(VerifierTest, ToApplyAfterItsUser) {
  auto& comps = const_cast<std::vector<std::unique_ptr<Computation>>&>(module_.computations());
  std::swap(comps[0], comps[1]);
  ExpectError("to_apply add.f32 must come before computation main");
}

TEST_F(VerifierTest, EntryRootNotATuple) {
  entry_->set_root(add_);
  EXPECT_EQ(VerifyError(),
            "computation main: the entry root %add must be a tuple of the outputs, is add");
}

TEST_F(VerifierTest, NoEntry) {
  module_.set_entry(nullptr);
  ExpectError("no entry computation");
}

TEST_F(VerifierTest, DeclaredShapeDiffers) {
  add_->shape = Shape(DType::kF32, {5});
  EXPECT_EQ(VerifyError(),
            "computation main: %add (add): declared shape f32[5] differs from the inferred f32[4]");
}

TEST_F(VerifierTest, ArityMismatch) {
  add_->operands.push_back(x_);
  ExpectError("computation main: %add (add): expects 2 operands, got 3");
}

TEST_F(VerifierTest, ToApplyOnWrongOp) {
  add_->to_apply = reducer_;
  ExpectError("%add (add): only reduce and reduce-window take a to_apply");
}

TEST_F(VerifierTest, DuplicateComputationNames) {
  reducer_->set_name("main");
  ExpectError("computation name main is used twice");
}

TEST_F(VerifierTest, UnnamedInstruction) {
  add_->name = "";
  ExpectError("has no name");
}

}  // namespace
}  // namespace xtpu
