// Tests of the reference evaluator: every opcode with hand-computed values,
// the numerics rules of docs/numerics.md, error messages, and thread-count
// determinism. Perf figures: run with --gtest_also_run_disabled_tests.
#include "xtpu/ir/evaluator.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "xtpu/ir/builder.h"
#include "xtpu/ir/eval_internal.h"

namespace xtpu {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// A module under construction: an entry computation and its builder.
struct Env {
  std::unique_ptr<Module> module = std::make_unique<Module>("test");
  Computation* entry;
  Builder b;
  int next_param = 0;
  Env() : entry(module->AddComputation(std::make_unique<Computation>("main"))), b(module.get(), entry) {
    module->set_entry(entry);
  }
  Instruction* Param(DType t, std::vector<int64_t> dims) {
    auto p = b.Parameter(next_param++, Shape(t, std::move(dims)));
    EXPECT_TRUE(p.ok()) << p.status().message();
    return *p;
  }
  Instruction* Const(Literal l) { return Ok(b.Constant(std::move(l))); }
  static Instruction* Ok(StatusOr<Instruction*> s) {
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : nullptr;
  }
  // Sets the root to tuple(outs) and evaluates.
  std::vector<Literal> Run(std::vector<Instruction*> outs, const std::vector<Literal>& args,
                           EvalOptions opts = {}) {
    entry->set_root(Ok(b.Tuple(std::move(outs))));
    auto r = Evaluate(*module, args, opts);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? std::move(r).value() : std::vector<Literal>{};
  }
  Literal Run1(Instruction* out, const std::vector<Literal>& args = {}) {
    auto r = Run({out}, args);
    return r.empty() ? Literal() : std::move(r[0]);
  }
};

Literal F32(std::vector<int64_t> dims, const std::vector<float>& v) {
  return Literal::FromVector(DType::kF32, std::move(dims), v);
}
Literal S32(std::vector<int64_t> dims, const std::vector<int64_t>& v) {
  return Literal::FromVector(DType::kS32, std::move(dims), v);
}
template <typename T = double>
std::vector<T> Values(const Literal& l) {
  std::vector<T> out;
  for (int64_t i = 0; i < l.num_elements(); ++i) {
    if constexpr (std::is_floating_point_v<T>) out.push_back(static_cast<T>(l.GetAsDouble(i)));
    else out.push_back(static_cast<T>(l.GetAsInt64(i)));
  }
  return out;
}
uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

std::vector<float> UnaryF32(Opcode op, const std::vector<float>& x) {
  Env e;
  auto p = e.Param(DType::kF32, {static_cast<int64_t>(x.size())});
  auto out = e.Run1(Env::Ok(e.b.Unary(op, p)), {F32({static_cast<int64_t>(x.size())}, x)});
  return Values<float>(out);
}
std::vector<float> BinaryF32(Opcode op, const std::vector<float>& x, const std::vector<float>& y) {
  Env e;
  int64_t n = static_cast<int64_t>(x.size());
  auto p = e.Param(DType::kF32, {n});
  auto q = e.Param(DType::kF32, {n});
  auto out = e.Run1(Env::Ok(e.b.Binary(op, p, q)), {F32({n}, x), F32({n}, y)});
  return Values<float>(out);
}
std::vector<int64_t> BinaryInt(DType t, Opcode op, const std::vector<int64_t>& x,
                               const std::vector<int64_t>& y) {
  Env e;
  int64_t n = static_cast<int64_t>(x.size());
  auto p = e.Param(t, {n});
  auto q = e.Param(t, {n});
  auto out = e.Run1(Env::Ok(e.b.Binary(op, p, q)),
                    {Literal::FromVector(t, {n}, x), Literal::FromVector(t, {n}, y)});
  return Values<int64_t>(out);
}

TEST(Evaluator, UnaryFloat) {
  std::vector<float> x = {0.5f, 2.0f, -1.5f};
  auto ex = UnaryF32(Opcode::kExp, x);
  for (size_t i = 0; i < x.size(); ++i) EXPECT_EQ(ex[i], std::exp(x[i]));
  EXPECT_EQ(UnaryF32(Opcode::kLog, {1.0f, 4.0f}), (std::vector<float>{0.0f, std::log(4.0f)}));
  EXPECT_EQ(UnaryF32(Opcode::kTanh, {0.5f}), (std::vector<float>{std::tanh(0.5f)}));
  EXPECT_EQ(UnaryF32(Opcode::kLogistic, {0.0f, 2.0f}),
            (std::vector<float>{0.5f, 1.0f / (1.0f + std::exp(-2.0f))}));
  EXPECT_EQ(UnaryF32(Opcode::kSqrt, {4.0f, 2.0f}), (std::vector<float>{2.0f, std::sqrt(2.0f)}));
  EXPECT_EQ(UnaryF32(Opcode::kRsqrt, {4.0f}), (std::vector<float>{0.5f}));
  EXPECT_EQ(UnaryF32(Opcode::kErf, {0.3f}), (std::vector<float>{std::erf(0.3f)}));
  EXPECT_EQ(UnaryF32(Opcode::kFloor, {-1.5f, 1.5f}), (std::vector<float>{-2.0f, 1.0f}));
  EXPECT_EQ(UnaryF32(Opcode::kCeil, {-1.5f, 1.5f}), (std::vector<float>{-1.0f, 2.0f}));
  EXPECT_EQ(UnaryF32(Opcode::kRoundNearestEven, {2.5f, -2.5f, 0.5f, 1.5f}),
            (std::vector<float>{2.0f, -2.0f, 0.0f, 2.0f}));
  EXPECT_EQ(UnaryF32(Opcode::kRoundNearestAfz, {2.5f, -2.5f, 0.5f}),
            (std::vector<float>{3.0f, -3.0f, 1.0f}));
  EXPECT_EQ(UnaryF32(Opcode::kAbs, {-3.0f, 2.0f}), (std::vector<float>{3.0f, 2.0f}));
  EXPECT_EQ(UnaryF32(Opcode::kNegate, {-3.0f, 2.0f}), (std::vector<float>{3.0f, -2.0f}));
  EXPECT_EQ(UnaryF32(Opcode::kCos, {0.0f, 1.0f}), (std::vector<float>{1.0f, std::cos(1.0f)}));
  EXPECT_EQ(UnaryF32(Opcode::kSin, {0.0f, 1.0f}), (std::vector<float>{0.0f, std::sin(1.0f)}));
  EXPECT_EQ(UnaryF32(Opcode::kCopy, {7.0f}), (std::vector<float>{7.0f}));
  auto s = UnaryF32(Opcode::kSign, {-3.0f, 5.0f, 0.0f, -0.0f, kNaN});
  EXPECT_EQ(s[0], -1.0f);
  EXPECT_EQ(s[1], 1.0f);
  EXPECT_EQ(Bits(s[2]), Bits(0.0f));
  EXPECT_EQ(Bits(s[3]), Bits(-0.0f));
  EXPECT_TRUE(std::isnan(s[4]));
}

TEST(Evaluator, BinaryFloat) {
  EXPECT_EQ(BinaryF32(Opcode::kAdd, {1, 2}, {3, 4}), (std::vector<float>{4, 6}));
  EXPECT_EQ(BinaryF32(Opcode::kSubtract, {1, 2}, {3, 4}), (std::vector<float>{-2, -2}));
  EXPECT_EQ(BinaryF32(Opcode::kMultiply, {1.5f, 2}, {3, 4}), (std::vector<float>{4.5f, 8}));
  EXPECT_EQ(BinaryF32(Opcode::kDivide, {1, 3}, {4, 0}), (std::vector<float>{0.25f, kInf}));
  EXPECT_EQ(BinaryF32(Opcode::kRemainder, {-7, 7}, {3, -3}), (std::vector<float>{-1, 1}));
  EXPECT_EQ(BinaryF32(Opcode::kPower, {2, 9}, {10, 0.5f}), (std::vector<float>{1024, 3}));
  EXPECT_EQ(BinaryF32(Opcode::kAtan2, {1}, {1}), (std::vector<float>{std::atan2(1.0f, 1.0f)}));
  auto mx = BinaryF32(Opcode::kMaximum, {1, kNaN, 2, -0.0f}, {2, 1, kNaN, 0.0f});
  EXPECT_EQ(mx[0], 2);
  EXPECT_TRUE(std::isnan(mx[1]));
  EXPECT_TRUE(std::isnan(mx[2]));
  EXPECT_EQ(Bits(mx[3]), Bits(0.0f));
  auto mn = BinaryF32(Opcode::kMinimum, {1, kNaN, -0.0f}, {2, 1, 0.0f});
  EXPECT_EQ(mn[0], 1);
  EXPECT_TRUE(std::isnan(mn[1]));
  EXPECT_EQ(Bits(mn[2]), Bits(-0.0f));
}

TEST(Evaluator, IntegerArithmeticWraps) {
  const int64_t kMin = std::numeric_limits<int32_t>::min(), kMax = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(BinaryInt(DType::kS32, Opcode::kAdd, {kMax, 1}, {1, 2}), (std::vector<int64_t>{kMin, 3}));
  EXPECT_EQ(BinaryInt(DType::kS32, Opcode::kSubtract, {kMin}, {1}), (std::vector<int64_t>{kMax}));
  EXPECT_EQ(BinaryInt(DType::kS8, Opcode::kMultiply, {100, -3}, {2, 5}), (std::vector<int64_t>{-56, -15}));
  EXPECT_EQ(BinaryInt(DType::kS32, Opcode::kDivide, {-7, 7, 7, kMin}, {2, -2, 0, -1}),
            (std::vector<int64_t>{-3, -3, 0, kMin}));
  EXPECT_EQ(BinaryInt(DType::kS32, Opcode::kRemainder, {-7, 7, 7, kMin}, {2, -2, 0, -1}),
            (std::vector<int64_t>{-1, 1, 0, 0}));
  EXPECT_EQ(BinaryInt(DType::kS32, Opcode::kPower, {2, 3, -1, 1, 2, -3}, {10, -1, -3, -5, 0, 3}),
            (std::vector<int64_t>{1024, 0, -1, 1, 1, -27}));
  EXPECT_EQ(BinaryInt(DType::kS32, Opcode::kMaximum, {-1, 5}, {3, 2}), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(BinaryInt(DType::kS32, Opcode::kMinimum, {-1, 5}, {3, 2}), (std::vector<int64_t>{-1, 2}));
  EXPECT_EQ(BinaryInt(DType::kS32, Opcode::kAnd, {12}, {10}), (std::vector<int64_t>{8}));
  EXPECT_EQ(BinaryInt(DType::kS32, Opcode::kOr, {12}, {10}), (std::vector<int64_t>{14}));
  EXPECT_EQ(BinaryInt(DType::kS32, Opcode::kXor, {12}, {10}), (std::vector<int64_t>{6}));
  EXPECT_EQ(BinaryInt(DType::kU8, Opcode::kAdd, {250}, {10}), (std::vector<int64_t>{4}));
  EXPECT_EQ(BinaryInt(DType::kU8, Opcode::kDivide, {250}, {0}), (std::vector<int64_t>{0}));
  EXPECT_EQ(BinaryInt(DType::kS64, Opcode::kMultiply, {int64_t{1} << 62}, {4}), (std::vector<int64_t>{0}));
  EXPECT_EQ(BinaryInt(DType::kPred, Opcode::kAnd, {1, 1, 0}, {1, 0, 0}), (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(BinaryInt(DType::kPred, Opcode::kOr, {1, 1, 0}, {1, 0, 0}), (std::vector<int64_t>{1, 1, 0}));
  EXPECT_EQ(BinaryInt(DType::kPred, Opcode::kXor, {1, 1, 0}, {1, 0, 0}), (std::vector<int64_t>{0, 1, 0}));

  Env e;
  auto p = e.Param(DType::kS32, {3});
  auto q = e.Param(DType::kPred, {2});
  auto r = e.Param(DType::kU8, {1});
  auto outs = e.Run({Env::Ok(e.b.Unary(Opcode::kAbs, p)), Env::Ok(e.b.Unary(Opcode::kNegate, p)),
                     Env::Ok(e.b.Unary(Opcode::kNot, p)), Env::Ok(e.b.Unary(Opcode::kSign, p)),
                     Env::Ok(e.b.Unary(Opcode::kNot, q)), Env::Ok(e.b.Unary(Opcode::kNot, r))},
                    {S32({3}, {kMin, -5, 0}), Literal::FromVector(DType::kPred, {2}, std::vector<int>{1, 0}),
                     Literal::FromVector(DType::kU8, {1}, std::vector<int>{1})});
  ASSERT_EQ(outs.size(), 6u);
  EXPECT_EQ(Values<int64_t>(outs[0]), (std::vector<int64_t>{kMin, 5, 0}));
  EXPECT_EQ(Values<int64_t>(outs[1]), (std::vector<int64_t>{kMin, 5, 0}));
  EXPECT_EQ(Values<int64_t>(outs[2]), (std::vector<int64_t>{kMax, 4, -1}));
  EXPECT_EQ(Values<int64_t>(outs[3]), (std::vector<int64_t>{-1, -1, 0}));
  EXPECT_EQ(Values<int64_t>(outs[4]), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(Values<int64_t>(outs[5]), (std::vector<int64_t>{254}));
}

TEST(Evaluator, Bf16ComputesInF32AndRoundsToNearestEven) {
  Env e;
  auto p = e.Param(DType::kBF16, {3});
  auto q = e.Param(DType::kBF16, {3});
  Literal x = Literal::FromVector(DType::kBF16, {3}, std::vector<float>{1.0f, 1.0f, 3.0f});
  Literal y = Literal::FromVector(DType::kBF16, {3},
                                  std::vector<float>{1.0f / 256, 3.0f / 256, 1.0f / 128});
  auto out = e.Run1(Env::Ok(e.b.Binary(Opcode::kAdd, p, q)), {x, y});
  ASSERT_EQ(out.dtype(), DType::kBF16);
  // 1 + 2^-8 ties to even (1); 1 + 3*2^-8 ties up to 1 + 2^-6; 3 + 2^-7 -> 3.
  EXPECT_EQ(out.data<bf16>()[0].bits, 0x3f80);
  EXPECT_EQ(out.data<bf16>()[1].bits, 0x3f82);
  EXPECT_EQ(Values(out)[2], 3.0);
}

TEST(Evaluator, CompareIsIeee) {
  Env e;
  auto p = e.Param(DType::kF32, {3});
  auto q = e.Param(DType::kF32, {3});
  std::vector<Instruction*> outs;
  for (auto d : {CompareDirection::kEq, CompareDirection::kNe, CompareDirection::kLt,
                 CompareDirection::kLe, CompareDirection::kGt, CompareDirection::kGe})
    outs.push_back(Env::Ok(e.b.Compare(d, p, q)));
  auto r = e.Run(outs, {F32({3}, {1, 2, kNaN}), F32({3}, {1, 1, kNaN})});
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(Values<int>(r[0]), (std::vector<int>{1, 0, 0}));  // EQ
  EXPECT_EQ(Values<int>(r[1]), (std::vector<int>{0, 1, 1}));  // NE
  EXPECT_EQ(Values<int>(r[2]), (std::vector<int>{0, 0, 0}));  // LT
  EXPECT_EQ(Values<int>(r[3]), (std::vector<int>{1, 0, 0}));  // LE
  EXPECT_EQ(Values<int>(r[4]), (std::vector<int>{0, 1, 0}));  // GT
  EXPECT_EQ(Values<int>(r[5]), (std::vector<int>{1, 1, 0}));  // GE
}

TEST(Evaluator, Convert) {
  Env e;
  auto p = e.Param(DType::kF32, {6});
  auto q = e.Param(DType::kS32, {3});
  auto r = e.Run({Env::Ok(e.b.Convert(p, DType::kS32)), Env::Ok(e.b.Convert(p, DType::kU8)),
                  Env::Ok(e.b.Convert(p, DType::kPred)), Env::Ok(e.b.Convert(q, DType::kS8)),
                  Env::Ok(e.b.Convert(q, DType::kBF16)), Env::Ok(e.b.Convert(p, DType::kBF16)),
                  Env::Ok(e.b.Convert(q, DType::kF32))},
                 {F32({6}, {2.7f, -2.7f, kNaN, 1e10f, -1e10f, 300.0f}), S32({3}, {300, 257, -259})});
  ASSERT_EQ(r.size(), 7u);
  EXPECT_EQ(Values<int64_t>(r[0]), (std::vector<int64_t>{2, -2, 0, 2147483647, -2147483648LL, 300}));
  EXPECT_EQ(Values<int64_t>(r[1]), (std::vector<int64_t>{2, 0, 0, 255, 0, 255}));
  EXPECT_EQ(Values<int64_t>(r[2]), (std::vector<int64_t>{1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(Values<int64_t>(r[3]), (std::vector<int64_t>{44, 1, -3}));  // wraps
  // 257 and -259 are ties in bf16 (8 significant bits): to even.
  EXPECT_EQ(Values(r[4]), (std::vector<double>{300, 256, -260}));
  EXPECT_EQ(r[5].data<bf16>()[0].bits, bf16::FromFloat(2.7f).bits);
  EXPECT_EQ(Values(r[6]), (std::vector<double>{300, 257, -259}));
}

TEST(Evaluator, SelectAndClamp) {
  Env e;
  auto p = e.Param(DType::kPred, {3});
  auto x = e.Param(DType::kF32, {3});
  auto y = e.Param(DType::kF32, {3});
  auto lo = e.Const(Literal::ScalarF32(0.0f));
  auto hi = e.Const(Literal::ScalarF32(1.0f));
  auto r = e.Run({Env::Ok(e.b.Select(p, x, y)), Env::Ok(e.b.Clamp(lo, x, hi))},
                 {Literal::FromVector(DType::kPred, {3}, std::vector<int>{1, 0, 1}),
                  F32({3}, {-1, 0.5f, 2}), F32({3}, {10, 20, 30})});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(Values(r[0]), (std::vector<double>{-1, 20, 2}));
  EXPECT_EQ(Values(r[1]), (std::vector<double>{0, 0.5, 1}));
}

TEST(Evaluator, DataMovement) {
  Env e;
  auto x = e.Param(DType::kF32, {2, 3});  // [[0,1,2],[3,4,5]]
  auto r = e.Run(
      {Env::Ok(e.b.Broadcast(x, {2, 4, 3}, {0, 2})), Env::Ok(e.b.Reshape(x, {3, 2})),
       Env::Ok(e.b.Transpose(x, {1, 0})), Env::Ok(e.b.Reverse(x, {1})),
       Env::Ok(e.b.Slice(x, {0, 0}, {2, 3}, {1, 2})), Env::Ok(e.b.Concatenate({x, x}, 1)),
       Env::Ok(e.b.Iota(Shape(DType::kS32, {2, 3}), 1)), Env::Ok(e.b.Reverse(x, {0, 1}))},
      {F32({2, 3}, {0, 1, 2, 3, 4, 5})});
  ASSERT_EQ(r.size(), 8u);
  auto bc = Values(r[0]);
  ASSERT_EQ(bc.size(), 24u);
  EXPECT_EQ(bc[0 * 12 + 2 * 3 + 1], 1);
  EXPECT_EQ(bc[1 * 12 + 3 * 3 + 2], 5);
  EXPECT_EQ(Values(r[1]), (std::vector<double>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(r[1].shape().dims, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(Values(r[2]), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(Values(r[3]), (std::vector<double>{2, 1, 0, 5, 4, 3}));
  EXPECT_EQ(Values(r[4]), (std::vector<double>{0, 2, 3, 5}));
  EXPECT_EQ(Values(r[5]), (std::vector<double>{0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}));
  EXPECT_EQ(Values<int>(r[6]), (std::vector<int>{0, 1, 2, 0, 1, 2}));
  EXPECT_EQ(Values(r[7]), (std::vector<double>{5, 4, 3, 2, 1, 0}));
}

TEST(Evaluator, PadWithNegativeAndInterior) {
  Env e;
  auto x = e.Param(DType::kF32, {2, 3});  // [[1,2,3],[4,5,6]]
  auto v = e.Const(Literal::ScalarF32(-1.0f));
  // dim 0: lo 1, interior 1 -> [pad, r0, pad, r1]; dim 1: lo -1, hi 1 -> drop col 0, add one.
  auto r = e.Run({Env::Ok(e.b.Pad(x, v, {PadDim{1, 0, 1}, PadDim{-1, 1, 0}}))},
                 {F32({2, 3}, {1, 2, 3, 4, 5, 6})});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].shape().dims, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(Values(r[0]), (std::vector<double>{-1, -1, -1, 2, 3, -1, -1, -1, -1, 5, 6, -1}));
  // Interior padding with negative lo cutting into the interior.
  Env e2;
  auto y = e2.Param(DType::kF32, {3});
  auto w = e2.Const(Literal::ScalarF32(0.0f));
  auto r2 = e2.Run1(Env::Ok(e2.b.Pad(y, w, {PadDim{-2, -1, 2}})), {F32({3}, {1, 2, 3})});
  // Full interior-padded: 1 0 0 2 0 0 3; drop 2 at the front, 1 at the back.
  EXPECT_EQ(Values(r2), (std::vector<double>{0, 2, 0, 0}));
}

TEST(Evaluator, DynamicSliceClampsStarts) {
  Env e;
  auto x = e.Param(DType::kF32, {4});
  auto u = e.Param(DType::kF32, {2});
  auto i = e.Param(DType::kS32, {});
  auto j = e.Param(DType::kS64, {});
  auto r = e.Run({Env::Ok(e.b.DynamicSlice(x, {i}, {2})), Env::Ok(e.b.DynamicSlice(x, {j}, {3})),
                  Env::Ok(e.b.DynamicUpdateSlice(x, u, {i})), Env::Ok(e.b.DynamicUpdateSlice(x, u, {j}))},
                 {F32({4}, {10, 11, 12, 13}), F32({2}, {-1, -2}), S32({}, {3}),
                  Literal::FromVector(DType::kS64, {}, std::vector<int64_t>{-5})});
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(Values(r[0]), (std::vector<double>{12, 13}));      // start 3 -> 2
  EXPECT_EQ(Values(r[1]), (std::vector<double>{10, 11, 12}));  // start -5 -> 0
  EXPECT_EQ(Values(r[2]), (std::vector<double>{10, 11, -1, -2}));
  EXPECT_EQ(Values(r[3]), (std::vector<double>{-1, -2, 12, 13}));
}

TEST(Evaluator, Gather) {
  // Embedding lookup: rows of [3,2] by index, out-of-range index clamped.
  Env e;
  auto x = e.Param(DType::kF32, {3, 2});
  auto idx = e.Param(DType::kS32, {3});
  GatherDims g;
  g.offset_dims = {1};
  g.collapsed_slice_dims = {0};
  g.start_index_map = {0};
  g.index_vector_dim = 1;
  auto r = e.Run1(Env::Ok(e.b.Gather(x, idx, g, {1, 2})),
                  {F32({3, 2}, {0, 1, 10, 11, 20, 21}), S32({3}, {2, 0, 7})});
  EXPECT_EQ(r.shape().dims, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(Values(r), (std::vector<double>{20, 21, 0, 1, 20, 21}));

  // Two-component index vectors selecting 1x2 windows of a [3,3] operand.
  Env e2;
  auto y = e2.Param(DType::kF32, {3, 3});
  auto id2 = e2.Param(DType::kS32, {2, 2});
  GatherDims g2;
  g2.offset_dims = {1};
  g2.collapsed_slice_dims = {0};
  g2.start_index_map = {0, 1};
  g2.index_vector_dim = 1;
  auto r2 = e2.Run1(Env::Ok(e2.b.Gather(y, id2, g2, {1, 2})),
                    {F32({3, 3}, {0, 1, 2, 3, 4, 5, 6, 7, 8}), S32({2, 2}, {0, 1, 2, 2})});
  EXPECT_EQ(r2.shape().dims, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(Values(r2), (std::vector<double>{1, 2, 7, 8}));  // (2,2) -> column clamped to 1
}

TEST(Evaluator, Reduce) {
  Env e;
  auto x = e.Param(DType::kF32, {2, 3});
  auto zero = e.Const(Literal::ScalarF32(0.0f));
  auto ninf = e.Const(Literal::ScalarF32(-kInf));
  auto add = e.b.ScalarReducer(Opcode::kAdd, DType::kF32);
  auto max = e.b.ScalarReducer(Opcode::kMaximum, DType::kF32);
  auto r = e.Run({Env::Ok(e.b.Reduce({x}, {zero}, {1}, add)), Env::Ok(e.b.Reduce({x}, {ninf}, {0}, max)),
                  Env::Ok(e.b.Reduce({x}, {zero}, {0, 1}, add))},
                 {F32({2, 3}, {1, 2, 3, 4, 50, 6})});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(Values(r[0]), (std::vector<double>{6, 60}));
  EXPECT_EQ(Values(r[1]), (std::vector<double>{4, 50, 6}));
  EXPECT_EQ(Values(r[2]), (std::vector<double>{66}));
}

TEST(Evaluator, ReduceAccumulatesInOrderInTheType) {
  // f32 add reduce folds left to right in f32: (1e8 + 1) + -1e8 = 0 in f32.
  Env e;
  auto x = e.Param(DType::kF32, {3});
  auto zero = e.Const(Literal::ScalarF32(0.0f));
  auto r = e.Run1(Env::Ok(e.b.Reduce({x}, {zero}, {0}, e.b.ScalarReducer(Opcode::kAdd, DType::kF32))),
                  {F32({3}, {1e8f, 1.0f, -1e8f})});
  EXPECT_EQ(Values(r), (std::vector<double>{0}));
}

// Builds the argmax reducer (acc_v, acc_i, x_v, x_i) -> (v, i); ties keep the first.
Computation* ArgmaxReducer(Env& e) {
  Computation* c = e.module->InsertComputationBefore(std::make_unique<Computation>("argmax"), e.entry);
  Builder b(e.module.get(), c);
  auto av = Env::Ok(b.Parameter(0, Shape(DType::kF32, {})));
  auto ai = Env::Ok(b.Parameter(1, Shape(DType::kS32, {})));
  auto xv = Env::Ok(b.Parameter(2, Shape(DType::kF32, {})));
  auto xi = Env::Ok(b.Parameter(3, Shape(DType::kS32, {})));
  auto gt = Env::Ok(b.Compare(CompareDirection::kGt, xv, av));
  auto v = Env::Ok(b.Select(gt, xv, av));
  auto i = Env::Ok(b.Select(gt, xi, ai));
  c->set_root(Env::Ok(b.Tuple({v, i})));
  return c;
}

// (acc, x) -> acc + x * x: not a single op, so reduce interprets it.
Computation* SumOfSquares(Env& e) {
  Computation* c = e.module->InsertComputationBefore(std::make_unique<Computation>("sumsq"), e.entry);
  Builder b(e.module.get(), c);
  auto acc = Env::Ok(b.Parameter(0, Shape(DType::kF32, {})));
  auto x = Env::Ok(b.Parameter(1, Shape(DType::kF32, {})));
  c->set_root(Env::Ok(b.Binary(Opcode::kAdd, acc, Env::Ok(b.Binary(Opcode::kMultiply, x, x)))));
  return c;
}

TEST(Evaluator, InterpretedReducer) {
  Env e;
  auto x = e.Param(DType::kF32, {2, 3});
  auto y = e.Param(DType::kF32, {4});
  auto one = e.Const(Literal::ScalarF32(1.0f));
  Computation* sq = SumOfSquares(e);
  WindowDim w{2, 1, 1, 0, 1, 1};  // window 2, pad lo 1: [pad,y0], [y0,y1], [y1,y2], [y2,y3]
  auto r = e.Run({Env::Ok(e.b.Reduce({x}, {one}, {1}, sq)), Env::Ok(e.b.ReduceWindow(y, one, {w}, sq))},
                 {F32({2, 3}, {1, 2, 3, 4, 5, 6}), F32({4}, {1, 2, 3, 4})});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(Values(r[0]), (std::vector<double>{1 + 1 + 4 + 9, 1 + 16 + 25 + 36}));
  EXPECT_EQ(Values(r[1]), (std::vector<double>{1 + 1, 1 + 1 + 4, 1 + 4 + 9, 1 + 9 + 16}));
}

TEST(Evaluator, F16AndIotaInFloat) {
  Env e;
  auto p = e.Param(DType::kF16, {2});
  auto q = e.Param(DType::kF16, {2});
  auto r = e.Run({Env::Ok(e.b.Binary(Opcode::kAdd, p, q)), Env::Ok(e.b.Iota(Shape(DType::kBF16, {2, 2}), 0))},
                 {Literal::FromVector(DType::kF16, {2}, std::vector<float>{2048, 2048}),
                  Literal::FromVector(DType::kF16, {2}, std::vector<float>{1, 3})});
  ASSERT_EQ(r.size(), 2u);
  // f16 spacing at 2048 is 2: 2049 ties to even (2048), 2051 ties to 2052.
  EXPECT_EQ(Values(r[0]), (std::vector<double>{2048, 2052}));
  EXPECT_EQ(Values(r[1]), (std::vector<double>{0, 0, 1, 1}));
}

TEST(Evaluator, VariadicReduceArgmax) {
  Env e;
  auto x = e.Param(DType::kF32, {2, 4});
  auto iota = Env::Ok(e.b.Iota(Shape(DType::kS32, {2, 4}), 1));
  auto ninf = e.Const(Literal::ScalarF32(-kInf));
  auto zero = e.Const(Literal::FromVector(DType::kS32, {}, std::vector<int>{0}));
  Computation* argmax = ArgmaxReducer(e);
  auto red = Env::Ok(e.b.Reduce({x, iota}, {ninf, zero}, {1}, argmax));
  auto r = e.Run({Env::Ok(e.b.GetTupleElement(red, 0)), Env::Ok(e.b.GetTupleElement(red, 1))},
                 {F32({2, 4}, {3, 9, 1, 9, -5, -2, -7, -3})});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(Values(r[0]), (std::vector<double>{9, -2}));
  EXPECT_EQ(Values<int>(r[1]), (std::vector<int>{1, 1}));
}

TEST(Evaluator, ReduceWindowMaxAndAvg) {
  Env e;
  auto x = e.Param(DType::kF32, {4, 4});
  auto ninf = e.Const(Literal::ScalarF32(-kInf));
  auto zero = e.Const(Literal::ScalarF32(0.0f));
  WindowDim w2{2, 2, 0, 0, 1, 1};
  WindowDim w3{3, 1, 1, 1, 1, 1};  // 3-wide, stride 1, pad 1 each side
  auto mx = Env::Ok(e.b.ReduceWindow(x, ninf, {w2, w2}, e.b.ScalarReducer(Opcode::kMaximum, DType::kF32)));
  auto sum = Env::Ok(e.b.ReduceWindow(x, zero, {w3, w3}, e.b.ScalarReducer(Opcode::kAdd, DType::kF32)));
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  auto r = e.Run({mx, sum}, {F32({4, 4}, v)});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(Values(r[0]), (std::vector<double>{5, 7, 13, 15}));
  // Sum of the 3x3 neighbourhood (padding skipped): corners and edges.
  auto s = Values(r[1]);
  EXPECT_EQ(s[0], 0 + 1 + 4 + 5);
  EXPECT_EQ(s[5], 0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10);
  EXPECT_EQ(s[15], 10 + 11 + 14 + 15);
}

TEST(Evaluator, ReduceWindowBaseDilationSkipsHoles) {
  Env e;
  auto x = e.Param(DType::kF32, {3});
  auto zero = e.Const(Literal::ScalarF32(0.0f));
  // Dilated base: 1 _ 2 _ 3 (length 5); window 2 stride 1 -> 4 outputs.
  WindowDim w{2, 1, 0, 0, 2, 1};
  auto r = e.Run1(Env::Ok(e.b.ReduceWindow(x, zero, {w}, e.b.ScalarReducer(Opcode::kAdd, DType::kF32))),
                  {F32({3}, {1, 2, 3})});
  EXPECT_EQ(Values(r), (std::vector<double>{1, 2, 2, 3}));
}

TEST(Evaluator, DotWithBatchDimsAndTransposedContraction) {
  Env e;
  auto a = e.Param(DType::kF32, {2, 2, 3});  // [b, m, k]
  auto b = e.Param(DType::kF32, {2, 3, 1});  // [b, k, n]
  auto c = e.Param(DType::kF32, {3, 2});     // [k, m]
  auto d = e.Param(DType::kF32, {3, 2});     // [k, n]
  DotDims batched{{0}, {2}, {0}, {1}};
  DotDims tn{{}, {0}, {}, {0}};
  auto r = e.Run({Env::Ok(e.b.Dot(a, b, batched)), Env::Ok(e.b.Dot(c, d, tn))},
                 {F32({2, 2, 3}, {1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0}), F32({2, 3, 1}, {1, 1, 1, 7, 8, 9}),
                  F32({3, 2}, {1, 2, 3, 4, 5, 6}), F32({3, 2}, {1, 0, 0, 1, 1, 1})});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].shape().dims, (std::vector<int64_t>{2, 2, 1}));
  EXPECT_EQ(Values(r[0]), (std::vector<double>{6, 15, 7, 8}));
  // c^T d: [[1,3,5],[2,4,6]] x [[1,0],[0,1],[1,1]]
  EXPECT_EQ(Values(r[1]), (std::vector<double>{6, 8, 8, 10}));
}

TEST(Evaluator, DotAccumulatesInDoubleAndRoundsOnce) {
  Env e;
  auto a = e.Param(DType::kF32, {1, 3});
  auto b = e.Param(DType::kF32, {3, 1});
  auto c = e.Param(DType::kBF16, {1, 3});
  auto d = e.Param(DType::kBF16, {3, 1});
  DotDims mm{{}, {1}, {}, {0}};
  Literal ones = Literal::FromVector(DType::kBF16, {3, 1}, std::vector<float>{1, 1, 1});
  auto r = e.Run({Env::Ok(e.b.Dot(a, b, mm)), Env::Ok(e.b.Dot(c, d, mm))},
                 {F32({1, 3}, {1e8f, 1.0f, -1e8f}), F32({3, 1}, {1, 1, 1}),
                  Literal::FromVector(DType::kBF16, {1, 3}, std::vector<float>{1, 1.0f / 256, 1.0f / 256}), ones});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(Values(r[0]), (std::vector<double>{1}));
  // 1 + 2^-8 + 2^-8 = 1 + 2^-7 exactly; stepwise bf16 rounding would give 1.
  EXPECT_EQ(Values(r[1]), (std::vector<double>{1 + 1.0 / 128}));
}

TEST(Evaluator, IntegerDotWraps) {
  Env e;
  auto a = e.Param(DType::kS8, {1, 2});
  auto b = e.Param(DType::kS8, {2, 1});
  auto inst = std::make_unique<Instruction>();
  inst->opcode = Opcode::kDot;
  inst->operands = {a, b};
  inst->dot_dims = DotDims{{}, {1}, {}, {0}};
  inst->shape = Shape(DType::kS8, {1, 1});
  auto d8 = Env::Ok(e.b.Add(std::move(inst)));
  auto r = e.Run1(d8, {Literal::FromVector(DType::kS8, {1, 2}, std::vector<int>{100, 100}),
                       Literal::FromVector(DType::kS8, {2, 1}, std::vector<int>{1, 2})});
  EXPECT_EQ(Values<int>(r), (std::vector<int>{300 - 256}));
}

// int8 x int8 -> int32 (declared s32 result): exact, no wrap at 8 bits; u8
// operands are read as 0..255.
TEST(Evaluator, Int8DotAndConvolutionToInt32) {
  Env e;
  auto a = e.Param(DType::kS8, {1, 3});
  auto b = e.Param(DType::kS8, {3, 2});
  auto u = e.Param(DType::kU8, {1, 3});
  auto v = e.Param(DType::kU8, {3, 2});
  auto dot32 = [&](Instruction* x, Instruction* y) {
    auto inst = std::make_unique<Instruction>();
    inst->opcode = Opcode::kDot;
    inst->operands = {x, y};
    inst->dot_dims = DotDims{{}, {1}, {}, {0}};
    inst->shape = Shape(DType::kS32, {1, 2});
    return Env::Ok(e.b.Add(std::move(inst)));
  };
  // 1x1 convolution of a [1,1,1,3] NHWC image with a [1,1,3,2] HWIO kernel: the same sums.
  auto xi = Env::Ok(e.b.Reshape(a, {1, 1, 1, 3}));
  auto ki = Env::Ok(e.b.Reshape(b, {1, 1, 3, 2}));
  auto conv = std::make_unique<Instruction>();
  conv->opcode = Opcode::kConvolution;
  conv->operands = {xi, ki};
  conv->window = {WindowDim{}, WindowDim{}};
  conv->conv_dims.input_batch = 0;
  conv->conv_dims.input_feature = 3;
  conv->conv_dims.input_spatial = {1, 2};
  conv->conv_dims.kernel_output_feature = 3;
  conv->conv_dims.kernel_input_feature = 2;
  conv->conv_dims.kernel_spatial = {0, 1};
  conv->conv_dims.output_batch = 0;
  conv->conv_dims.output_feature = 3;
  conv->conv_dims.output_spatial = {1, 2};
  conv->shape = Shape(DType::kS32, {1, 1, 1, 2});
  auto c32 = Env::Ok(e.b.Add(std::move(conv)));
  ASSERT_EQ(c32->shape.dtype, DType::kS32);
  auto r = e.Run({dot32(a, b), dot32(u, v), c32},
                 {Literal::FromVector(DType::kS8, {1, 3}, std::vector<int>{-128, -128, 127}),
                  Literal::FromVector(DType::kS8, {3, 2}, std::vector<int>{-128, 1, -128, 2, -128, 3}),
                  Literal::FromVector(DType::kU8, {1, 3}, std::vector<int>{255, 255, 0}),
                  Literal::FromVector(DType::kU8, {3, 2}, std::vector<int>{255, 1, 255, 0, 7, 7})});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].dtype(), DType::kS32);
  EXPECT_EQ(Values<int64_t>(r[0]), (std::vector<int64_t>{128 * 128 * 2 - 127 * 128, -128 - 256 + 381}));
  EXPECT_EQ(Values<int64_t>(r[1]), (std::vector<int64_t>{2 * 255 * 255, 255}));
  EXPECT_EQ(Values<int64_t>(r[2]), Values<int64_t>(r[0]));
}

ConvDims Nchw2d() {
  ConvDims d;
  d.input_batch = 0;
  d.input_feature = 1;
  d.input_spatial = {2, 3};
  d.kernel_output_feature = 0;
  d.kernel_input_feature = 1;
  d.kernel_spatial = {2, 3};
  d.output_batch = 0;
  d.output_feature = 1;
  d.output_spatial = {2, 3};
  return d;
}

TEST(Evaluator, ConvolutionHandComputed) {
  Env e;
  auto x = e.Param(DType::kF32, {1, 1, 3, 3});
  auto k = e.Param(DType::kF32, {1, 1, 2, 2});
  WindowDim w{2, 1, 0, 0, 1, 1};
  auto r = e.Run1(Env::Ok(e.b.Convolution(x, k, {w, w}, Nchw2d(), 1)),
                  {F32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), F32({1, 1, 2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(Values(r), (std::vector<double>{37, 47, 67, 77}));

  // 3x3 ones, padding 1, stride 2 on 4x4 (0..15): windows centred at (0,0),(0,2),(2,0),(2,2).
  Env e2;
  auto x2 = e2.Param(DType::kF32, {1, 1, 4, 4});
  auto k2 = e2.Param(DType::kF32, {1, 1, 3, 3});
  WindowDim w2{3, 2, 1, 1, 1, 1};
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  auto r2 = e2.Run1(Env::Ok(e2.b.Convolution(x2, k2, {w2, w2}, Nchw2d(), 1)),
                    {F32({1, 1, 4, 4}, v), F32({1, 1, 3, 3}, std::vector<float>(9, 1.0f))});
  EXPECT_EQ(Values(r2), (std::vector<double>{0 + 1 + 4 + 5, 1 + 2 + 3 + 5 + 6 + 7, 4 + 5 + 8 + 9 + 12 + 13,
                                             5 + 6 + 7 + 9 + 10 + 11 + 13 + 14 + 15}));

  // Kernel (rhs) dilation 2: 2x2 kernel covers a 3x3 field: x[0,0]+x[0,2]+x[2,0]+x[2,2] on 3x3.
  Env e3;
  auto x3 = e3.Param(DType::kF32, {1, 1, 3, 3});
  auto k3 = e3.Param(DType::kF32, {1, 1, 2, 2});
  WindowDim w3{2, 1, 0, 0, 1, 2};
  auto r3 = e3.Run1(Env::Ok(e3.b.Convolution(x3, k3, {w3, w3}, Nchw2d(), 1)),
                    {F32({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}), F32({1, 1, 2, 2}, {1, 1, 1, 1})});
  EXPECT_EQ(Values(r3), (std::vector<double>{1 + 3 + 7 + 9}));

  // Input (lhs) dilation 2 in 1-D: x = [1,2] -> [1,0,2]; kernel [1,10] -> [10, 2].
  Env e4;
  auto x4 = e4.Param(DType::kF32, {1, 1, 2});
  auto k4 = e4.Param(DType::kF32, {1, 1, 2});
  ConvDims d1;
  d1.input_spatial = {2};
  d1.kernel_spatial = {2};
  d1.output_spatial = {2};
  WindowDim w4{2, 1, 0, 0, 2, 1};
  auto r4 = e4.Run1(Env::Ok(e4.b.Convolution(x4, k4, {w4}, d1, 1)),
                    {F32({1, 1, 2}, {1, 2}), F32({1, 1, 2}, {1, 10})});
  EXPECT_EQ(Values(r4), (std::vector<double>{1, 20}));
}

// Direct-loop convolution for NHWC input, HWIO kernel, NHWC output.
std::vector<double> NaiveConvNhwc(const std::vector<float>& x, int64_t n, int64_t h, int64_t w, int64_t c,
                                  const std::vector<float>& k, int64_t kh, int64_t kw, int64_t o,
                                  int64_t groups, const WindowDim& wy, const WindowDim& wx, int64_t oh,
                                  int64_t ow) {
  int64_t cg = c / groups, og = o / groups;
  std::vector<double> out(n * oh * ow * o, 0.0);
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xx = 0; xx < ow; ++xx)
        for (int64_t f = 0; f < o; ++f) {
          int64_t g = f / og;
          double acc = 0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                int64_t py = y * wy.stride - wy.pad_lo + ky * wy.window_dilation;
                int64_t px = xx * wx.stride - wx.pad_lo + kx * wx.window_dilation;
                if (py < 0 || px < 0 || py % wy.base_dilation || px % wx.base_dilation) continue;
                py /= wy.base_dilation;
                px /= wx.base_dilation;
                if (py >= h || px >= w) continue;
                acc += static_cast<double>(x[((b * h + py) * w + px) * c + g * cg + ci]) *
                       k[((ky * kw + kx) * cg + ci) * o + f];
              }
          out[((b * oh + y) * ow + xx) * o + f] = acc;
        }
  return out;
}

TEST(Evaluator, ConvolutionNhwcGroupsStridePadDilation) {
  const int64_t n = 2, h = 7, w = 6, c = 4, o = 6, kh = 3, kw = 2, groups = 2;
  WindowDim wy{kh, 2, 1, 2, 1, 2};  // stride 2, pad (1,2), kernel dilation 2
  WindowDim wx{kw, 1, 0, 1, 2, 1};  // input dilation 2, pad (0,1)
  auto out_size = [](int64_t in, const WindowDim& d) {
    int64_t dilated = (in - 1) * d.base_dilation + 1 + d.pad_lo + d.pad_hi;
    int64_t field = (d.size - 1) * d.window_dilation + 1;
    return (dilated - field) / d.stride + 1;
  };
  int64_t oh = out_size(h, wy), ow = out_size(w, wx);
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> dist(-4, 4);
  std::vector<float> xv(n * h * w * c), kv(kh * kw * (c / groups) * o);
  for (auto& v : xv) v = static_cast<float>(dist(rng));
  for (auto& v : kv) v = static_cast<float>(dist(rng)) * 0.5f;
  Env e;
  auto x = e.Param(DType::kF32, {n, h, w, c});
  auto k = e.Param(DType::kF32, {kh, kw, c / groups, o});
  ConvDims d;  // b01f_01io->b01f
  d.input_batch = 0;
  d.input_feature = 3;
  d.input_spatial = {1, 2};
  d.kernel_output_feature = 3;
  d.kernel_input_feature = 2;
  d.kernel_spatial = {0, 1};
  d.output_batch = 0;
  d.output_feature = 3;
  d.output_spatial = {1, 2};
  auto r = e.Run1(Env::Ok(e.b.Convolution(x, k, {wy, wx}, d, groups)),
                  {F32({n, h, w, c}, xv), F32({kh, kw, c / groups, o}, kv)});
  EXPECT_EQ(r.shape().dims, (std::vector<int64_t>{n, oh, ow, o}));
  EXPECT_EQ(Values(r), NaiveConvNhwc(xv, n, h, w, c, kv, kh, kw, o, groups, wy, wx, oh, ow));
}

TEST(Evaluator, TupleAndGetTupleElement) {
  Env e;
  auto x = e.Param(DType::kF32, {2});
  auto y = e.Param(DType::kS32, {});
  auto t = Env::Ok(e.b.Tuple({x, y}));
  auto r = e.Run({Env::Ok(e.b.GetTupleElement(t, 1)), Env::Ok(e.b.GetTupleElement(t, 0))},
                 {F32({2}, {1, 2}), S32({}, {7})});
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(Values<int>(r[0]), (std::vector<int>{7}));
  EXPECT_EQ(Values(r[1]), (std::vector<double>{1, 2}));
}

// fusion runs its called computation on the operand values.
TEST(Evaluator, FusionRunsTheCalledComputation) {
  Env e;
  auto body = std::make_unique<Computation>("body");
  Builder fb(e.module.get(), body.get());
  auto p0 = Env::Ok(fb.Parameter(0, Shape(DType::kF32, {3})));
  auto p1 = Env::Ok(fb.Parameter(1, Shape(DType::kF32, {})));
  auto bc = Env::Ok(fb.Broadcast(p1, {3}, {}));
  body->set_root(Env::Ok(fb.Binary(Opcode::kMaximum, Env::Ok(fb.Binary(Opcode::kMultiply, p0, p0)), bc)));
  Computation* called = e.module->InsertComputationBefore(std::move(body), e.entry);
  auto x = e.Param(DType::kF32, {3});
  auto lo = e.Param(DType::kF32, {});
  auto f = std::make_unique<Instruction>();
  f->opcode = Opcode::kFusion;
  f->operands = {x, lo};
  f->to_apply = called;
  f->fusion_kind = FusionKind::kLoop;
  auto fused = Env::Ok(e.b.Add(std::move(f)));
  EXPECT_EQ(fused->shape, Shape(DType::kF32, {3}));
  EXPECT_EQ(Values(e.Run1(fused, {F32({3}, {1, -3, 0.5}), F32({}, {2})})), (std::vector<double>{2, 9, 2}));
}

TEST(Evaluator, ArgumentErrorsNameTheParameter) {
  Env e;
  auto x = e.Param(DType::kF32, {2, 3});
  e.entry->set_root(Env::Ok(e.b.Tuple({Env::Ok(e.b.Unary(Opcode::kNegate, x))})));
  auto r = Evaluate(*e.module, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("expected 1 arguments, got 0"), std::string::npos)
      << r.status().message();
  r = Evaluate(*e.module, {F32({3, 2}, {1, 2, 3, 4, 5, 6})});
  ASSERT_FALSE(r.ok());
  std::string m = r.status().message();
  EXPECT_NE(m.find(x->name), std::string::npos) << m;
  EXPECT_NE(m.find("f32[2,3]"), std::string::npos) << m;
  EXPECT_NE(m.find("f32[3,2]"), std::string::npos) << m;
}

TEST(Evaluator, UnsupportedIsAnErrorNamingTheInstruction) {
  Env e;
  auto x = e.Param(DType::kS32, {2});
  auto inst = std::make_unique<Instruction>();
  inst->opcode = Opcode::kExp;
  inst->operands = {x};
  inst->shape = Shape(DType::kS32, {2});
  inst->name = "bad_exp";
  Instruction* raw = e.entry->AddInstruction(std::move(inst));
  auto t = std::make_unique<Instruction>();
  t->opcode = Opcode::kTuple;
  t->operands = {raw};
  t->shape = Shape::Tuple({raw->shape});
  t->name = "out";
  e.entry->set_root(e.entry->AddInstruction(std::move(t)));
  auto r = Evaluate(*e.module, {S32({2}, {1, 2})});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("%bad_exp"), std::string::npos) << r.status().message();
}

std::vector<float> RandomVector(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TEST(Evaluator, BitIdenticalAtAnyThreadCount) {
  const int64_t m = 150, k = 300, n = 170;
  Env e;
  auto a = e.Param(DType::kF32, {m, k});
  auto b = e.Param(DType::kF32, {k, n});
  auto x = e.Param(DType::kF32, {1, 16, 20, 20});
  auto w = e.Param(DType::kF32, {32, 16, 3, 3});
  WindowDim wd{3, 1, 1, 1, 1, 1};
  auto dot = Env::Ok(e.b.Dot(a, b, DotDims{{}, {1}, {}, {0}}));
  auto conv = Env::Ok(e.b.Convolution(x, w, {wd, wd}, Nchw2d(), 1));
  e.entry->set_root(Env::Ok(e.b.Tuple({dot, conv})));
  std::vector<Literal> args = {F32({m, k}, RandomVector(m * k, 1)), F32({k, n}, RandomVector(k * n, 2)),
                               F32({1, 16, 20, 20}, RandomVector(6400, 3)),
                               F32({32, 16, 3, 3}, RandomVector(32 * 144, 4))};
  auto r1 = Evaluate(*e.module, args, EvalOptions{1});
  auto r2 = Evaluate(*e.module, args, EvalOptions{2});
  auto r3 = Evaluate(*e.module, args, EvalOptions{3});
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  EXPECT_TRUE((*r1)[0] == (*r2)[0]);
  EXPECT_TRUE((*r1)[1] == (*r2)[1]);
  EXPECT_TRUE((*r1)[0] == (*r3)[0]);
  // And equal to a plain sequential double sum.
  const Literal& got = (*r1)[0];
  const float* av = args[0].data<float>();
  const float* bv = args[1].data<float>();
  for (int64_t i = 0; i < m; i += 37)
    for (int64_t j = 0; j < n; j += 13) {
      double acc = 0;
      for (int64_t kk = 0; kk < k; ++kk) acc += static_cast<double>(av[i * k + kk]) * bv[kk * n + j];
      EXPECT_EQ(got.data<float>()[i * n + j], static_cast<float>(acc));
    }
}

TEST(Evaluator, BatchedDotAndDepthwiseConvBitIdenticalAcrossThreadsAndKernels) {
  Env e;
  auto q = e.Param(DType::kF32, {12, 64, 32});
  auto k = e.Param(DType::kF32, {12, 64, 32});
  auto x = e.Param(DType::kF32, {2, 8, 9, 9});
  auto w = e.Param(DType::kF32, {8, 1, 3, 3});
  WindowDim wd{3, 2, 1, 1, 1, 1};
  auto scores = Env::Ok(e.b.Dot(q, k, DotDims{{0}, {2}, {0}, {2}}));
  auto dw = Env::Ok(e.b.Convolution(x, w, {wd, wd}, Nchw2d(), 8));
  e.entry->set_root(Env::Ok(e.b.Tuple({scores, dw})));
  std::vector<Literal> args = {F32({12, 64, 32}, RandomVector(12 * 64 * 32, 5)),
                               F32({12, 64, 32}, RandomVector(12 * 64 * 32, 6)),
                               F32({2, 8, 9, 9}, RandomVector(2 * 8 * 81, 7)),
                               F32({8, 1, 3, 3}, RandomVector(72, 8))};
  auto r1 = Evaluate(*e.module, args, EvalOptions{1});
  auto r2 = Evaluate(*e.module, args, EvalOptions{2});
  eval::SetPortableGemmForTesting(true);
  auto r3 = Evaluate(*e.module, args, EvalOptions{2});
  eval::SetPortableGemmForTesting(false);
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE((*r1)[i] == (*r2)[i]) << i;
    EXPECT_TRUE((*r1)[i] == (*r3)[i]) << i;
  }
  // Depthwise: output channel c sees only input channel c.
  const float* xv = args[2].data<float>();
  const float* wv = args[3].data<float>();
  double acc = 0;  // batch 1, channel 5, output (2, 3): input rows 3..5, cols 5..7
  for (int ky = 0; ky < 3; ++ky)
    for (int kx = 0; kx < 3; ++kx)
      acc += static_cast<double>(xv[((1 * 8 + 5) * 9 + 3 + ky) * 9 + 5 + kx]) * wv[5 * 9 + ky * 3 + kx];
  EXPECT_EQ((*r1)[1].data<float>()[((1 * 8 + 5) * 5 + 2) * 5 + 3], static_cast<float>(acc));
}

double TimeMs(const Module& m, const std::vector<Literal>& args) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = Evaluate(m, args);
  auto t1 = std::chrono::steady_clock::now();
  EXPECT_TRUE(r.ok());
  return std::chrono::duration<double, std::milli>(t1 - t0).count();
}

TEST(EvaluatorPerf, DISABLED_ConvAndDot) {
  {
    Env e;
    auto x = e.Param(DType::kF32, {1, 64, 56, 56});
    auto w = e.Param(DType::kF32, {64, 64, 3, 3});
    WindowDim wd{3, 1, 1, 1, 1, 1};
    e.entry->set_root(Env::Ok(e.b.Tuple({Env::Ok(e.b.Convolution(x, w, {wd, wd}, Nchw2d(), 1))})));
    std::vector<Literal> args = {F32({1, 64, 56, 56}, RandomVector(64 * 56 * 56, 1)),
                                 F32({64, 64, 3, 3}, RandomVector(64 * 64 * 9, 2))};
    TimeMs(*e.module, args);
    double best = 1e9;
    for (int i = 0; i < 3; ++i) best = std::min(best, TimeMs(*e.module, args));
    std::printf("conv 1x64x56x56 3x3 64->64 (0.116 GMAC): %.1f ms\n", best);
  }
  {
    Env e;
    auto a = e.Param(DType::kF32, {512, 768});
    auto b = e.Param(DType::kF32, {768, 768});
    e.entry->set_root(Env::Ok(e.b.Tuple({Env::Ok(e.b.Dot(a, b, DotDims{{}, {1}, {}, {0}}))})));
    std::vector<Literal> args = {F32({512, 768}, RandomVector(512 * 768, 1)),
                                 F32({768, 768}, RandomVector(768 * 768, 2))};
    double best = 1e9;
    for (int i = 0; i < 3; ++i) best = std::min(best, TimeMs(*e.module, args));
    std::printf("dot 512x768x768 (0.302 GMAC): %.1f ms\n", best);
  }
}

}  // namespace
}  // namespace xtpu
