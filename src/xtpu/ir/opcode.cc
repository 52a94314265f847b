#include "xtpu/ir/opcode.h"

namespace xtpu {

std::string_view OpcodeName(Opcode op) {
  switch (op) {
#define XTPU_OPCODE_NAME(e, name, arity, kind) \
  case Opcode::e:                              \
    return name;
    XTPU_OPCODES(XTPU_OPCODE_NAME)
#undef XTPU_OPCODE_NAME
  }
  return "?";
}

int OpcodeArity(Opcode op) {
  switch (op) {
#define XTPU_OPCODE_ARITY(e, name, arity, kind) \
  case Opcode::e:                               \
    return arity;
    XTPU_OPCODES(XTPU_OPCODE_ARITY)
#undef XTPU_OPCODE_ARITY
  }
  return 0;
}

OpKind OpcodeKind(Opcode op) {
  switch (op) {
#define XTPU_OPCODE_KIND(e, name, arity, kind) \
  case Opcode::e:                              \
    return OpKind::kind;
    XTPU_OPCODES(XTPU_OPCODE_KIND)
#undef XTPU_OPCODE_KIND
  }
  return OpKind::kOther;
}

std::optional<Opcode> ParseOpcode(std::string_view name) {
#define XTPU_OPCODE_PARSE(e, n, arity, kind) \
  if (name == n) return Opcode::e;
  XTPU_OPCODES(XTPU_OPCODE_PARSE)
#undef XTPU_OPCODE_PARSE
  return std::nullopt;
}

std::string_view CompareDirectionName(CompareDirection d) {
  switch (d) {
    case CompareDirection::kEq: return "EQ";
    case CompareDirection::kNe: return "NE";
    case CompareDirection::kLt: return "LT";
    case CompareDirection::kLe: return "LE";
    case CompareDirection::kGt: return "GT";
    case CompareDirection::kGe: return "GE";
  }
  return "?";
}

std::optional<CompareDirection> ParseCompareDirection(std::string_view s) {
  for (auto d : {CompareDirection::kEq, CompareDirection::kNe, CompareDirection::kLt,
                 CompareDirection::kLe, CompareDirection::kGt, CompareDirection::kGe}) {
    if (CompareDirectionName(d) == s) return d;
  }
  return std::nullopt;
}

}  // namespace xtpu
