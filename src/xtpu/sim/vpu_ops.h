// The vector unit's elementwise arithmetic on one element: the definition of
// what vpu.binary / binary_imm / unary compute (docs/numerics.md, "Chip
// numerics"). f32 ops use the same formulas as the reference evaluator
// (src/xtpu/ir/eval_elementwise.cc), so a lowered elementwise op gives the
// evaluator's bits; bf16 is computed in f32 and rounded by the caller.
// Usable on the host (e.g. for constant folding with chip numerics).
#pragma once

#include <bit>
#include <cstdint>

#include "xtpu/isa/isa.h"

namespace xtpu::sim {

// f32 (and bf16 widened to f32). Comparisons give 1.0f or 0.0f. Ops that
// ValidateInstruction rejects for floats (and, or, ...) give 0.
float VpuBinaryF32(isa::BinOp op, float a, float b);
// s32, wrapping. Comparisons give 1 or 0; rem is C's % with x % 0 = 0 and
// INT_MIN % -1 = 0. Float-only ops give 0.
int32_t VpuBinaryS32(isa::BinOp op, int32_t a, int32_t b);
float VpuUnaryF32(isa::UnOp op, float a);
int32_t VpuUnaryS32(isa::UnOp op, int32_t a);

// Rows: out[j] = op(a[j], b[j * b_step]) for j in [0, n) (b_step 0
// broadcasts b[0]); the same values as the per-element functions, with the
// common ops in tight loops the compiler vectorizes. `out` may alias `a`.
void VpuBinaryRowF32(isa::BinOp op, const float* a, const float* b, int64_t b_step, float* out, int64_t n);
void VpuBinaryRowS32(isa::BinOp op, const int32_t* a, const int32_t* b, int64_t b_step, int32_t* out, int64_t n);

// Rows: out[j] = op(a[j]) for j in [0, n); `out` may alias `a`.
void VpuUnaryRowF32(isa::UnOp op, const float* a, float* out, int64_t n);
void VpuUnaryRowS32(isa::UnOp op, const int32_t* a, int32_t* out, int64_t n);

// IEEE max/min with NaN propagation (the first NaN operand is returned) and
// max(-0, +0) = +0, min(-0, +0) = -0. Written as selects (and inline) so
// that row loops vectorize: equal values (+0 and -0 included) combine their
// bits, AND for max (+0 wins) and OR for min (-0 wins).
inline float MaxF32(float a, float b) {
  const float eq = std::bit_cast<float>(std::bit_cast<uint32_t>(a) & std::bit_cast<uint32_t>(b));
  float m = a > b ? a : (b > a ? b : eq);
  m = b != b ? b : m;
  return a != a ? a : m;
}
inline float MinF32(float a, float b) {
  const float eq = std::bit_cast<float>(std::bit_cast<uint32_t>(a) | std::bit_cast<uint32_t>(b));
  float m = a < b ? a : (b < a ? b : eq);
  m = b != b ? b : m;
  return a != a ? a : m;
}

}  // namespace xtpu::sim
