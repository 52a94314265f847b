// Internal interface between the reference evaluator's files (evaluator.cc
// drives; eval_elementwise.cc, eval_data.cc, eval_reduce.cc and
// eval_dot_conv.cc hold the op kernels). Not a public header.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <functional>
#include <memory>
#include <vector>

#include "xtpu/ir/evaluator.h"
#include "xtpu/ir/literal.h"
#include "xtpu/ir/module.h"

namespace xtpu::eval {

// Load/store of the float storage types as f32.
template <typename S>
inline float Ld(S v) {
  if constexpr (std::is_same_v<S, float>) return v;
  else return v.ToFloat();
}
template <typename S>
inline S St(float v) {
  if constexpr (std::is_same_v<S, float>) return v;
  else return S::FromFloat(v);
}

// Calls f.template operator()<S>() with S the storage type of a float dtype.
template <typename F>
void WithFloatType(DType t, F&& f) {
  switch (t) {
    case DType::kF32: f.template operator()<float>(); break;
    case DType::kBF16: f.template operator()<bf16>(); break;
    case DType::kF16: f.template operator()<f16>(); break;
    default: XTPU_CHECK(false);
  }
}

// Same for integer dtypes (not pred).
template <typename F>
void WithIntType(DType t, F&& f) {
  switch (t) {
    case DType::kS8: f.template operator()<int8_t>(); break;
    case DType::kU8: f.template operator()<uint8_t>(); break;
    case DType::kS32: f.template operator()<int32_t>(); break;
    case DType::kS64: f.template operator()<int64_t>(); break;
    default: XTPU_CHECK(false);
  }
}

// maximum/minimum: NaN propagates; max(-0, +0) = +0, min(-0, +0) = -0.
inline float FMax(float a, float b) {
  if (a != a || b != b) return a + b;
  if (a > b) return a;
  if (b > a) return b;
  return std::signbit(a) ? b : a;
}
inline float FMin(float a, float b) {
  if (a != a || b != b) return a + b;
  if (a < b) return a;
  if (b < a) return b;
  return std::signbit(a) ? a : b;
}

inline float FSign(float v) { return v > 0 ? 1.0f : (v < 0 ? -1.0f : v); }

// Integer arithmetic that wraps: compute in uint64, truncate to T.
template <typename T>
inline T WAdd(T a, T b) { return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }
template <typename T>
inline T WSub(T a, T b) { return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
template <typename T>
inline T WMul(T a, T b) { return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); }
template <typename T>
inline T IDiv(T a, T b) {
  if (b == 0) return 0;
  if constexpr (std::is_signed_v<T>) {
    if (a == std::numeric_limits<T>::min() && b == -1) return a;  // wraps
  }
  return static_cast<T>(a / b);
}
template <typename T>
inline T IRem(T a, T b) {
  if (b == 0) return 0;
  if constexpr (std::is_signed_v<T>) {
    if (b == -1) return 0;
  }
  return static_cast<T>(a % b);
}
template <typename T>
inline T IPow(T base, T exp) {
  if constexpr (std::is_signed_v<T>) {
    if (exp < 0) {
      if (base == 1) return 1;
      if (base == -1) return (exp & 1) ? -1 : 1;
      return 0;
    }
  }
  uint64_t result = 1, b = static_cast<uint64_t>(base), e = static_cast<uint64_t>(exp);
  while (e) {
    if (e & 1) result *= b;
    b *= b;
    e >>= 1;
  }
  return static_cast<T>(result);
}


// A value during evaluation: an array (shared, immutable) or a tuple.
struct Value {
  std::shared_ptr<const Literal> array;
  std::vector<Value> tuple;
  bool is_tuple = false;

  static Value Array(Literal l) {
    Value v;
    v.array = std::make_shared<const Literal>(std::move(l));
    return v;
  }
};

// "%name (opcode)" for error messages.
std::string Describe(const Instruction& inst);

// Evaluates `comp` elementwise over batches: every parameter is an array of
// n elements (or 1 element, broadcast), and the computation may use only
// elementwise ops, constants, tuples and get-tuple-element. Used by reduce
// and reduce-window to apply to_apply to many accumulators at once. Returns
// the root's arrays (one for a scalar root, k for a tuple root), each of
// n elements.
StatusOr<std::vector<Literal>> EvalBatchedScalar(const Computation& comp,
                                                 const std::vector<const Literal*>& params,
                                                 int64_t n);

// Elementwise kernels (eval_elementwise.cc). Operands already have the
// result's dims unless noted. `op` is the opcode; errors name `inst`.
StatusOr<Literal> EvalUnary(const Instruction& inst, Opcode op, const Literal& x, const Shape& out);
StatusOr<Literal> EvalBinary(const Instruction& inst, Opcode op, const Literal& x, const Literal& y,
                             const Shape& out);
StatusOr<Literal> EvalCompare(const Instruction& inst, CompareDirection dir, const Literal& x,
                              const Literal& y, const Shape& out);
// pred may have 1 element (scalar) or the result's element count.
StatusOr<Literal> EvalSelect(const Instruction& inst, const Literal& pred, const Literal& on_true,
                             const Literal& on_false, const Shape& out);
// lo/hi may have 1 element (scalar) or the result's element count.
StatusOr<Literal> EvalClamp(const Instruction& inst, const Literal& lo, const Literal& x,
                            const Literal& hi, const Shape& out);
Literal ConvertLiteral(const Literal& x, DType to);
// Repeats a 1-element literal n times (dims {n}); returns a copy otherwise.
Literal BroadcastScalar(const Literal& x, int64_t n);

// Data movement (eval_data.cc).
StatusOr<Literal> EvalBroadcast(const Instruction& inst, const Literal& x);
StatusOr<Literal> EvalReshape(const Instruction& inst, const Literal& x);
Literal TransposeLiteral(const Literal& x, const std::vector<int64_t>& perm);
StatusOr<Literal> EvalTranspose(const Instruction& inst, const Literal& x);
StatusOr<Literal> EvalReverse(const Instruction& inst, const Literal& x);
StatusOr<Literal> EvalSlice(const Instruction& inst, const Literal& x);
StatusOr<Literal> EvalDynamicSlice(const Instruction& inst, const std::vector<const Literal*>& ops);
StatusOr<Literal> EvalDynamicUpdateSlice(const Instruction& inst,
                                         const std::vector<const Literal*>& ops);
StatusOr<Literal> EvalConcatenate(const Instruction& inst, const std::vector<const Literal*>& ops);
StatusOr<Literal> EvalPad(const Instruction& inst, const Literal& x, const Literal& pad_value);
StatusOr<Literal> EvalIota(const Instruction& inst);
StatusOr<Literal> EvalGather(const Instruction& inst, const Literal& x, const Literal& indices);

// Reductions (eval_reduce.cc). Return a tuple value for k > 1 operands.
StatusOr<Value> EvalReduce(const Instruction& inst, const std::vector<const Literal*>& ops);
StatusOr<Value> EvalReduceWindow(const Instruction& inst, const std::vector<const Literal*>& ops);

// Dot and convolution (eval_dot_conv.cc).
StatusOr<Literal> EvalDot(const Instruction& inst, const Literal& lhs, const Literal& rhs,
                          const EvalOptions& options);
StatusOr<Literal> EvalConvolution(const Instruction& inst, const Literal& input,
                                  const Literal& kernel, const EvalOptions& options);

// C[M,N] += A[M,K] * B[K,N] in double, each C element accumulated over k in
// increasing order (so any blocking or thread split gives the same bits).
// Row-major with leading dimensions lda/ldb/ldc. Splits over up to
// `num_threads` threads.
void GemmF64(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
             int64_t ldb, double* c, int64_t ldc, int num_threads);

// Runs fn(worker, i) for i in [0, count), contiguous ranges on up to
// num_threads threads (worker in [0, threads)).
void ParallelFor(int64_t count, int num_threads, const std::function<void(int, int64_t)>& fn);

// Tests: use the portable (non-AVX2) GEMM kernel; results must not change.
void SetPortableGemmForTesting(bool portable);

// Helpers shared by the kernels.
// Element i as double (exact for every dtype except s64 beyond 2^53).
double ElementAsDouble(const Literal& l, int64_t i);
// Integer element i as int64 (ints and pred only).
int64_t ElementAsInt64(const Literal& l, int64_t i);

}  // namespace xtpu::eval
