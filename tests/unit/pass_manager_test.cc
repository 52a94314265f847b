// PassManager: the verifier runs after every pass and its error names the
// pass; fixed-point groups stop at their cap; pass lists by name; printing
// after each changing pass. Also the Rewriter (pass_util.h) keeping model
// output names. Pass behaviour itself is tested in tests/passes/*.tir.
#include <gtest/gtest.h>

#include "xtpu/compiler/pass.h"
#include "xtpu/compiler/passes/pass_util.h"
#include "xtpu/ir/parser.h"
#include "xtpu/ir/printer.h"
#include "xtpu/ir/verifier.h"

namespace xtpu::compiler {
namespace {

constexpr const char* kModule = R"(HloModule m

ENTRY main {
  x = f32[4] parameter(0)
  y = f32[4] parameter(1)
  s = f32[4] add(x, y)
  m = f32[4] multiply(s, x)
  ROOT out = (f32[4], f32[4]) tuple(s, m)
}
)";

std::unique_ptr<Module> Parse(const char* text = kModule) {
  auto m = ParseModule(text);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return std::move(m).value();
}

Instruction* Find(Module& m, const std::string& name) {
  for (const auto& c : m.computations())
    for (const auto& i : c->instructions())
      if (i->name == name) return i.get();
  ADD_FAILURE() << "no instruction " << name;
  return nullptr;
}

// A pass that reports `changed` for its first `changes` runs, counting runs,
// and optionally does something to the module.
class FakePass : public Pass {
 public:
  FakePass(std::string name, int changes, int* runs, std::function<Status(Module&)> act = nullptr)
      : name_(std::move(name)), changes_(changes), runs_(runs), act_(std::move(act)) {}
  std::string_view name() const override { return name_; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    ++*runs_;
    if (act_) RETURN_IF_ERROR(act_(module));
    return *runs_ <= changes_;
  }

 private:
  std::string name_;
  int changes_;
  int* runs_;
  std::function<Status(Module&)> act_;
};

TEST(PassManagerTest, VerifierErrorNamesThePass) {
  auto m = Parse();
  int runs = 0;
  PassManager pm;
  pm.Add(std::make_unique<FakePass>("fine", 0, &runs));
  pm.Add(std::make_unique<FakePass>("break-shape", 1, &runs, [](Module& mod) {
    Find(mod, "s")->shape = Shape(DType::kF32, {5});  // no longer what add infers
    return OkStatus();
  }));
  StatusOr<bool> r = pm.Run(*m);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("after pass 'break-shape'"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("%s (add)"), std::string::npos) << r.status().message();
  EXPECT_EQ(runs, 2);
}

TEST(PassManagerTest, NoVerifierWhenDisabled) {
  auto m = Parse();
  int runs = 0;
  PassManagerOptions options;
  options.verify = false;
  PassManager pm(options);
  pm.Add(std::make_unique<FakePass>("break-shape", 1, &runs, [](Module& mod) {
    Find(mod, "s")->shape = Shape(DType::kF32, {5});
    return OkStatus();
  }));
  EXPECT_TRUE(pm.Run(*m).ok());
}

TEST(PassManagerTest, PassErrorNamesThePassAndStops) {
  auto m = Parse();
  int runs = 0;
  PassManager pm;
  pm.Add(std::make_unique<FakePass>("fails", 0, &runs, [](Module&) { return Error("no good"); }));
  pm.Add(std::make_unique<FakePass>("after", 0, &runs));
  StatusOr<bool> r = pm.Run(*m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "pass 'fails': no good");
  EXPECT_EQ(runs, 1);
}

TEST(PassManagerTest, FixedPointStopsAtTheCap) {
  auto m = Parse();
  int runs = 0;
  PassManager pm;
  std::vector<std::unique_ptr<Pass>> group;
  group.push_back(std::make_unique<FakePass>("always", 1000, &runs));
  pm.AddFixedPoint(std::move(group), 3);
  StatusOr<bool> r = pm.Run(*m);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  EXPECT_EQ(runs, 3);
}

TEST(PassManagerTest, FixedPointStopsWhenNothingChanges) {
  auto m = Parse();
  int a = 0, b = 0;
  PassManager pm;
  std::vector<std::unique_ptr<Pass>> group;
  group.push_back(std::make_unique<FakePass>("twice", 2, &a));
  group.push_back(std::make_unique<FakePass>("never", 0, &b));
  pm.AddFixedPoint(std::move(group), 8);
  StatusOr<bool> r = pm.Run(*m);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  EXPECT_EQ(a, 3);  // changed, changed, then a quiet round
  EXPECT_EQ(b, 3);
}

TEST(PassManagerTest, UnchangedRunReportsFalse) {
  auto m = Parse();
  int runs = 0;
  PassManager pm;
  pm.Add(std::make_unique<FakePass>("quiet", 0, &runs));
  StatusOr<bool> r = pm.Run(*m);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

TEST(PassManagerTest, UnknownAndEmptyPassNames) {
  PassManager pm;
  Status s = pm.AddByName("dce,frobnicate");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("unknown pass 'frobnicate'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("dce"), std::string::npos) << s.message();  // lists the known ones
  s = pm.AddByName("dce,,cse");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("empty pass name"), std::string::npos) << s.message();
  // Nothing was added by the failed calls.
  auto m = Parse();
  StatusOr<bool> r = pm.Run(*m);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
}

TEST(PassManagerTest, AddByNameRunsInOrder) {
  // cse merges b into a, then dce drops the unused negate.
  auto m = Parse(R"(HloModule m

ENTRY main {
  x = f32[4] parameter(0)
  a = f32[4] add(x, x)
  b = f32[4] add(x, x)
  dead = f32[4] negate(x)
  m = f32[4] multiply(a, b)
  ROOT out = (f32[4]) tuple(m)
}
)");
  PassManager pm;
  ASSERT_TRUE(pm.AddByName(" cse , dce ").ok());
  StatusOr<bool> r = pm.Run(*m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(*r);
  std::string text = Print(*m);
  EXPECT_NE(text.find("m = f32[4] multiply(a, a)"), std::string::npos) << text;
  EXPECT_EQ(text.find("negate"), std::string::npos) << text;
}

TEST(PassManagerTest, PrintsAfterEachPassThatChanged) {
  auto m = Parse();
  int a = 0, b = 0;
  std::vector<std::string> printed;
  PassManagerOptions options;
  options.print_after_all = true;
  options.printer = [&](std::string_view pass, const Module&) { printed.emplace_back(pass); };
  PassManager pm(options);
  pm.Add(std::make_unique<FakePass>("changes", 1, &a));
  pm.Add(std::make_unique<FakePass>("quiet", 0, &b));
  ASSERT_TRUE(pm.Run(*m).ok());
  EXPECT_EQ(printed, std::vector<std::string>{"changes"});
}

TEST(PassManagerTest, CheckUnchangedCatchesAPassThatLies) {
  auto m = Parse();
  int runs = 0;
  PassManagerOptions options;
  options.check_unchanged = true;
  PassManager pm(options);
  pm.Add(std::make_unique<FakePass>("liar", 0, &runs, [](Module& mod) {
    Find(mod, "m")->name = "renamed";
    return OkStatus();
  }));
  StatusOr<bool> r = pm.Run(*m);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "pass 'liar' reported no change but changed the module");
}

TEST(PassManagerTest, RegistryCreatesEveryPassByItsName) {
  for (const char* name : {"dce", "cse", "constant-folding", "algsimp", "canonicalize"}) {
    StatusOr<std::unique_ptr<Pass>> p = CreatePass(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ((*p)->name(), name);
  }
  for (const PassInfo& info : AllPasses()) {
    EXPECT_FALSE(info.description.empty()) << info.name;
    EXPECT_EQ(info.create()->name(), info.name);
  }
}

// ---- Rewriter: model outputs keep their names.

TEST(RewriterTest, ReplacementTakesTheOutputName) {
  auto m = Parse();
  Rewriter rw(*m, *m->entry());
  Instruction* s = Find(*m, "s");
  auto neg = rw.builder().Unary(Opcode::kNegate, Find(*m, "x"));
  ASSERT_TRUE(neg.ok());
  EXPECT_TRUE(rw.Replace(s, *neg));
  rw.Finish();
  ASSERT_TRUE(Verify(*m).ok()) << Verify(*m).message();
  EXPECT_EQ(m->OutputNames(), (std::vector<std::string>{"s", "m"}));
  EXPECT_NE(Print(*m).find("s = f32[4] negate(x)"), std::string::npos) << Print(*m);
  EXPECT_NE(Print(*m).find("m = f32[4] multiply(s, x)"), std::string::npos) << Print(*m);
}

TEST(RewriterTest, OutputReplacedByAParameterBecomesANamedCopy) {
  auto m = Parse();
  Rewriter rw(*m, *m->entry());
  EXPECT_TRUE(rw.Replace(Find(*m, "s"), Find(*m, "x")));
  rw.Finish();
  ASSERT_TRUE(Verify(*m).ok()) << Verify(*m).message();
  EXPECT_EQ(m->OutputNames(), (std::vector<std::string>{"s", "m"}));
  std::string text = Print(*m);
  EXPECT_NE(text.find("s = f32[4] copy(x)"), std::string::npos) << text;
  // Other readers read the parameter itself, not the copy.
  EXPECT_NE(text.find("m = f32[4] multiply(x, x)"), std::string::npos) << text;
  EXPECT_EQ(text.find("add"), std::string::npos) << text;
  // That copy only names the output: replacing it again changes nothing.
  Rewriter rw2(*m, *m->entry());
  EXPECT_FALSE(rw2.Replace(Find(*m, "s"), Find(*m, "x")));
  rw2.Finish();
  EXPECT_EQ(Print(*m), text);
}

TEST(RewriterTest, NewInstructionsAreMovedBeforeTheirUsers) {
  auto m = Parse();
  Rewriter rw(*m, *m->entry());
  auto sub = rw.builder().Binary(Opcode::kSubtract, Find(*m, "x"), Find(*m, "y"));
  ASSERT_TRUE(sub.ok());
  EXPECT_TRUE(rw.ReplaceWithNew(Find(*m, "m"), *sub));
  EXPECT_EQ(rw.Users(*sub).size(), 1u);  // the root tuple
  rw.Finish();
  ASSERT_TRUE(Verify(*m).ok()) << Verify(*m).message();
  EXPECT_EQ(m->OutputNames(), (std::vector<std::string>{"s", "m"}));
  EXPECT_NE(Print(*m).find("m = f32[4] subtract(x, y)\n  ROOT"), std::string::npos) << Print(*m);
}

}  // namespace
}  // namespace xtpu::compiler
