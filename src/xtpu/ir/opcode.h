// The tensor IR's ops, declared once. Everything else (enum, text name,
// arity, category) comes from XTPU_OPCODES.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace xtpu {

// Arity: number of operands, or kVariadic.
inline constexpr int kVariadic = -1;

// Categories used by shape inference and the evaluator.
enum class OpKind : uint8_t {
  kLeaf,         // parameter, constant, iota
  kUnary,        // elementwise f(x), same shape and type
  kBinary,       // elementwise f(x, y), same shape and type
  kOther,        // everything with its own shape rule
};

// V(enum, text name, arity, kind)
#define XTPU_OPCODES(V)                                           \
  V(kParameter, "parameter", 0, kLeaf)                            \
  V(kConstant, "constant", 0, kLeaf)                              \
  V(kIota, "iota", 0, kLeaf)                                      \
  /* elementwise unary */                                         \
  V(kAbs, "abs", 1, kUnary)                                       \
  V(kNegate, "negate", 1, kUnary)                                 \
  V(kExp, "exponential", 1, kUnary)                               \
  V(kLog, "log", 1, kUnary)                                       \
  V(kTanh, "tanh", 1, kUnary)                                     \
  V(kLogistic, "logistic", 1, kUnary)                             \
  V(kSqrt, "sqrt", 1, kUnary)                                     \
  V(kRsqrt, "rsqrt", 1, kUnary)                                   \
  V(kErf, "erf", 1, kUnary)                                       \
  V(kFloor, "floor", 1, kUnary)                                   \
  V(kCeil, "ceil", 1, kUnary)                                     \
  V(kRoundNearestEven, "round-nearest-even", 1, kUnary)           \
  V(kRoundNearestAfz, "round-nearest-afz", 1, kUnary)             \
  V(kSign, "sign", 1, kUnary)                                     \
  V(kCos, "cosine", 1, kUnary)                                    \
  V(kSin, "sine", 1, kUnary)                                      \
  V(kNot, "not", 1, kUnary)                                       \
  V(kCopy, "copy", 1, kUnary)                                     \
  /* elementwise binary */                                        \
  V(kAdd, "add", 2, kBinary)                                      \
  V(kSubtract, "subtract", 2, kBinary)                            \
  V(kMultiply, "multiply", 2, kBinary)                            \
  V(kDivide, "divide", 2, kBinary)                                \
  V(kRemainder, "remainder", 2, kBinary)                          \
  V(kMaximum, "maximum", 2, kBinary)                              \
  V(kMinimum, "minimum", 2, kBinary)                              \
  V(kPower, "power", 2, kBinary)                                  \
  V(kAtan2, "atan2", 2, kBinary)                                  \
  V(kAnd, "and", 2, kBinary)                                      \
  V(kOr, "or", 2, kBinary)                                        \
  V(kXor, "xor", 2, kBinary)                                      \
  /* the rest */                                                  \
  V(kCompare, "compare", 2, kOther)                               \
  V(kSelect, "select", 3, kOther)                                 \
  V(kClamp, "clamp", 3, kOther)                                   \
  V(kConvert, "convert", 1, kOther)                               \
  V(kBroadcast, "broadcast", 1, kOther)                           \
  V(kReshape, "reshape", 1, kOther)                               \
  V(kTranspose, "transpose", 1, kOther)                           \
  V(kReverse, "reverse", 1, kOther)                               \
  V(kSlice, "slice", 1, kOther)                                   \
  V(kDynamicSlice, "dynamic-slice", kVariadic, kOther)            \
  V(kDynamicUpdateSlice, "dynamic-update-slice", kVariadic, kOther) \
  V(kConcatenate, "concatenate", kVariadic, kOther)               \
  V(kPad, "pad", 2, kOther)                                       \
  V(kReduce, "reduce", kVariadic, kOther)                         \
  V(kReduceWindow, "reduce-window", kVariadic, kOther)            \
  V(kDot, "dot", 2, kOther)                                       \
  V(kConvolution, "convolution", 2, kOther)                       \
  V(kGather, "gather", 2, kOther)                                 \
  V(kTuple, "tuple", kVariadic, kOther)                           \
  V(kGetTupleElement, "get-tuple-element", 1, kOther)             \
  V(kFusion, "fusion", kVariadic, kOther)

enum class Opcode : uint8_t {
#define XTPU_OPCODE_ENUM(e, name, arity, kind) e,
  XTPU_OPCODES(XTPU_OPCODE_ENUM)
#undef XTPU_OPCODE_ENUM
};

std::string_view OpcodeName(Opcode op);
int OpcodeArity(Opcode op);
OpKind OpcodeKind(Opcode op);
std::optional<Opcode> ParseOpcode(std::string_view name);

// Comparison directions for `compare`.
enum class CompareDirection : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
std::string_view CompareDirectionName(CompareDirection d);  // "EQ", "NE", ...
std::optional<CompareDirection> ParseCompareDirection(std::string_view s);

}  // namespace xtpu
