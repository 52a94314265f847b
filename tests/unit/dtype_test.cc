#include <cmath>

#include <gtest/gtest.h>

#include "xtpu/ir/dtype.h"
#include "xtpu/ir/shape.h"

namespace xtpu {
namespace {

TEST(DType, NamesRoundTrip) {
  for (DType t : {DType::kPred, DType::kS8, DType::kU8, DType::kS32, DType::kS64, DType::kBF16,
                  DType::kF16, DType::kF32}) {
    EXPECT_EQ(ParseDType(DTypeName(t)), t);
  }
  EXPECT_FALSE(ParseDType("f64").has_value());
}

TEST(BF16, RoundsToNearestEven) {
  EXPECT_EQ(bf16::FromFloat(1.0f).bits, 0x3f80);
  // 1 + 2^-8 is exactly half way between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(bf16::FromFloat(1.0f + 1.0f / 256).bits, 0x3f80);
  // 1 + 3*2^-8 is half way between 1+2^-7 and 1+2^-6: ties to even (up).
  EXPECT_EQ(bf16::FromFloat(1.0f + 3.0f / 256).bits, 0x3f82);
  EXPECT_TRUE(std::isnan(bf16::FromFloat(NAN).ToFloat()));
}

TEST(F16, RoundTripsAndRounds) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f}) {
    EXPECT_EQ(f16::FromFloat(f).ToFloat(), f) << f;
  }
  EXPECT_TRUE(std::isinf(f16::FromFloat(70000.0f).ToFloat()));
  EXPECT_EQ(f16::FromFloat(1.0f + 1.0f / 2048).bits, 0x3c00);  // tie to even
}

TEST(Shape, TextRoundTrips) {
  for (const char* s : {"f32[1,3,224,224]", "s32[]", "(f32[2], s32[])", "()"}) {
    auto p = ParseShape(s);
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_EQ(p->ToString(), s);
  }
  EXPECT_FALSE(ParseShape("f64[2]").ok());
  EXPECT_FALSE(ParseShape("f32[2").ok());
}

}  // namespace
}  // namespace xtpu
