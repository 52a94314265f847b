// The ISA table instantiated (OpInfo per opcode), enumeration names, and the
// static validation of instructions and programs.
#include "xtpu/isa/isa.h"

#include <algorithm>

#include "xtpu/support/check.h"

namespace xtpu::isa {
namespace {

// Bare names usable as defaults in the XTPU_ISA table.
constexpr int64_t kBF16 = static_cast<int64_t>(DType::kBF16);
constexpr int64_t kF32 = static_cast<int64_t>(DType::kF32);

#define REQ(name, kind) OperandSpec{#name, OperandKind::kind, true, 0}
#define OPT(name, kind, def) OperandSpec{#name, OperandKind::kind, false, def}
#define XTPU_ISA_INFO(e, mnem, unit, summary, sem, ...)                                  \
  OpInfo{Opcode::e, mnem, UnitKind::unit, summary, sem, {__VA_ARGS__}, \
         CountOperands(std::array<OperandSpec, kMaxOperands>{__VA_ARGS__})},

constexpr int CountOperands(const std::array<OperandSpec, kMaxOperands>& ops) {
  int n = 0;
  for (const OperandSpec& o : ops)
    if (!o.name.empty()) ++n;
  return n;
}

const OpInfo kOpInfos[] = {XTPU_ISA(XTPU_ISA_INFO)};
#undef XTPU_ISA_INFO
#undef REQ
#undef OPT

constexpr int kNumOpcodes = static_cast<int>(std::size(kOpInfos));

#define XTPU_NAME_ENTRY(e, name) name,
constexpr std::string_view kBinOpNames[] = {XTPU_BINOPS(XTPU_NAME_ENTRY)};
constexpr std::string_view kUnOpNames[] = {XTPU_UNOPS(XTPU_NAME_ENTRY)};
constexpr std::string_view kRedOpNames[] = {XTPU_REDOPS(XTPU_NAME_ENTRY)};
constexpr std::string_view kBModeNames[] = {XTPU_BMODES(XTPU_NAME_ENTRY)};
#undef XTPU_NAME_ENTRY
constexpr std::string_view kFlagNames[] = {"0", "1"};

bool IsIsaDType(int64_t v) {
  return v == static_cast<int64_t>(DType::kF32) || v == static_cast<int64_t>(DType::kBF16) ||
         v == static_cast<int64_t>(DType::kS32) || v == static_cast<int64_t>(DType::kS8);
}

}  // namespace

std::string_view UnitKindName(UnitKind u) {
  switch (u) {
    case UnitKind::kSeq: return "seq";
    case UnitKind::kDma: return "dma";
    case UnitKind::kMxu: return "mxu";
    case UnitKind::kVpu: return "vpu";
    case UnitKind::kXlu: return "xlu";
  }
  return "?";
}

std::string UnitName(UnitKind kind, int index) {
  if (UnitIsIndexed(kind)) return fmt::format("{}{}", UnitKindName(kind), index);
  return std::string(UnitKindName(kind));
}

int OperandBits(OperandKind k) {
  switch (k) {
    case OperandKind::kVal: return 8 + kValImmBits;
    case OperandKind::kReg: return 8;
    case OperandKind::kSem: return 16;
    case OperandKind::kFlag: return 1;
    case OperandKind::kDType:
    case OperandKind::kBinOp:
    case OperandKind::kUnOp:
    case OperandKind::kRedOp:
    case OperandKind::kBMode: return 8;
    case OperandKind::kImm32:
    case OperandKind::kF32:
    case OperandKind::kInt: return 32;
  }
  return 0;
}

int OpInfo::Find(std::string_view name) const {
  for (int i = 0; i < num_operands; ++i)
    if (operands[i].name == name) return i;
  return -1;
}

int NumOpcodes() { return kNumOpcodes; }
bool IsValidOpcode(int value) { return value >= 0 && value < kNumOpcodes; }

const OpInfo& GetOpInfo(Opcode op) {
  int i = static_cast<int>(op);
  XTPU_CHECK(IsValidOpcode(i));
  return kOpInfos[i];
}

std::optional<Opcode> FindOpcode(std::string_view mnemonic) {
  for (const OpInfo& info : kOpInfos)
    if (info.mnemonic == mnemonic) return info.opcode;
  return std::nullopt;
}

namespace {
template <size_t N>
std::string_view NameAt(const std::string_view (&names)[N], int64_t v) {
  return v >= 0 && v < static_cast<int64_t>(N) ? names[v] : std::string_view();
}
template <size_t N>
std::optional<int64_t> IndexOf(const std::string_view (&names)[N], std::string_view name) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == name) return static_cast<int64_t>(i);
  return std::nullopt;
}
}  // namespace

std::string_view EnumValueName(OperandKind kind, int64_t value) {
  switch (kind) {
    case OperandKind::kBinOp: return NameAt(kBinOpNames, value);
    case OperandKind::kUnOp: return NameAt(kUnOpNames, value);
    case OperandKind::kRedOp: return NameAt(kRedOpNames, value);
    case OperandKind::kBMode: return NameAt(kBModeNames, value);
    case OperandKind::kFlag: return NameAt(kFlagNames, value);
    case OperandKind::kDType:
      return IsIsaDType(value) ? DTypeName(static_cast<DType>(value)) : std::string_view();
    default: return {};
  }
}

std::optional<int64_t> ParseEnumValue(OperandKind kind, std::string_view name) {
  switch (kind) {
    case OperandKind::kBinOp: return IndexOf(kBinOpNames, name);
    case OperandKind::kUnOp: return IndexOf(kUnOpNames, name);
    case OperandKind::kRedOp: return IndexOf(kRedOpNames, name);
    case OperandKind::kBMode: return IndexOf(kBModeNames, name);
    case OperandKind::kFlag: return IndexOf(kFlagNames, name);
    case OperandKind::kDType: {
      std::optional<DType> t = ParseDType(name);
      if (t && IsIsaDType(static_cast<int64_t>(*t))) return static_cast<int64_t>(*t);
      return std::nullopt;
    }
    default: return std::nullopt;
  }
}

int64_t EnumValueCount(OperandKind kind) {
  switch (kind) {
    case OperandKind::kBinOp: return std::size(kBinOpNames);
    case OperandKind::kUnOp: return std::size(kUnOpNames);
    case OperandKind::kRedOp: return std::size(kRedOpNames);
    case OperandKind::kBMode: return std::size(kBModeNames);
    case OperandKind::kFlag: return 2;
    case OperandKind::kDType: return 8;
    default: return 0;
  }
}

int ElementBytes(DType t) { return DTypeBytes(t); }

std::string_view BufferRoleName(BufferRole r) {
  switch (r) {
    case BufferRole::kScratch: return "scratch";
    case BufferRole::kInput: return "input";
    case BufferRole::kOutput: return "output";
    case BufferRole::kInOut: return "inout";
  }
  return "?";
}

const Operand& Instruction::op(std::string_view name) const {
  int i = info().Find(name);
  XTPU_CHECK(i >= 0);
  return ops[i];
}

const BufferDecl* Program::FindBuffer(std::string_view name) const {
  for (const BufferDecl& b : buffers)
    if (b.name == name) return &b;
  return nullptr;
}

int64_t Program::num_instructions() const {
  int64_t n = 0;
  for (const auto& s : cores) n += static_cast<int64_t>(s.size());
  return n;
}

// ---- Validation ---------------------------------------------------------

namespace {

Status CheckOperand(const OpInfo& info, int i, const Operand& o) {
  const OperandSpec& spec = info.operands[i];
  auto bad = [&](std::string_view what) {
    return Error("{}: operand '{}' {}", info.mnemonic, spec.name, what);
  };
  if (spec.kind != OperandKind::kVal && o.reg != -1) return bad("takes no register");
  switch (spec.kind) {
    case OperandKind::kVal: {
      if (o.reg < -1 || o.reg > 254) return bad(fmt::format("has invalid register r{}", o.reg));
      const int64_t lim = int64_t{1} << (kValImmBits - 1);
      if (o.imm < -lim || o.imm >= lim)
        return bad(fmt::format("immediate {} does not fit in {} signed bits", o.imm, kValImmBits));
      return OkStatus();
    }
    case OperandKind::kReg:
      if (o.imm < 0 || o.imm > 254) return bad(fmt::format("register r{} out of range (r0..r254)", o.imm));
      return OkStatus();
    case OperandKind::kSem:
      if (o.imm < 0 || o.imm > 65534) return bad(fmt::format("semaphore s{} out of range (s0..s65534)", o.imm));
      return OkStatus();
    case OperandKind::kImm32:
    case OperandKind::kF32:
      if (o.imm < 0 || o.imm > 0xffffffffll) return bad("is not a 32-bit value");
      return OkStatus();
    case OperandKind::kInt:
      if (o.imm < INT32_MIN || o.imm > INT32_MAX) return bad(fmt::format("{} does not fit in s32", o.imm));
      return OkStatus();
    default:
      if (EnumValueName(spec.kind, o.imm).empty()) return bad(fmt::format("has invalid value {}", o.imm));
      return OkStatus();
  }
}

Status CheckTypes(const Instruction& inst) {
  const OpInfo& info = inst.info();
  auto dt = [&](std::string_view n) { return static_cast<DType>(inst.op(n).imm); };
  auto err = [&](std::string_view what) { return Error("{}: {}", info.mnemonic, what); };
  switch (inst.opcode) {
    case Opcode::kMxuLoadWeights:
    case Opcode::kMxuFetchWeights:
    case Opcode::kMxuMatmul:
      if (dt("dtype") != DType::kBF16 && dt("dtype") != DType::kS8) return err("dtype must be bf16 or s8");
      break;
    case Opcode::kMxuReadAcc:
      if (dt("dtype") == DType::kS8) return err("dtype must be f32, bf16 or s32 (requantize with vpu.requant)");
      break;
    case Opcode::kVpuBinary:
    case Opcode::kVpuBinaryImm: {
      DType t = dt("dtype");
      auto op = static_cast<BinOp>(inst.op("op").imm);
      std::string_view name = EnumValueName(OperandKind::kBinOp, inst.op("op").imm);
      bool bitwise = op == BinOp::kAnd || op == BinOp::kOr || op == BinOp::kXor || op == BinOp::kShl ||
                     op == BinOp::kShr;
      bool float_only = op == BinOp::kDiv || op == BinOp::kPow || op == BinOp::kAtan2;
      if (t == DType::kS8) return err("s8 is not an arithmetic type (convert to s32 first)");
      if (bitwise && t != DType::kS32) return err(fmt::format("op '{}' needs dtype s32", name));
      if (float_only && t == DType::kS32) return err(fmt::format("op '{}' needs dtype f32 or bf16", name));
      break;
    }
    case Opcode::kVpuUnary: {
      DType t = dt("dtype");
      auto op = static_cast<UnOp>(inst.op("op").imm);
      if (t == DType::kS8) return err("s8 is not an arithmetic type (convert to s32 first)");
      bool int_ok = op == UnOp::kCopy || op == UnOp::kNeg || op == UnOp::kAbs || op == UnOp::kRelu ||
                    op == UnOp::kSign;
      if (t == DType::kS32 && !int_ok)
        return err(fmt::format("op '{}' needs dtype f32 or bf16", EnumValueName(OperandKind::kUnOp, inst.op("op").imm)));
      break;
    }
    case Opcode::kVpuReduce:
    case Opcode::kXluReduce:
      if (dt("dtype") == DType::kS8) return err("s8 is not an arithmetic type (convert to s32 first)");
      break;
    case Opcode::kVpuConvert: {
      DType to = dt("to"), from = dt("from");
      bool ok = (to == DType::kBF16 && from == DType::kF32) || (to == DType::kF32 && from == DType::kBF16) ||
                (to == DType::kF32 && from == DType::kS32) || (to == DType::kS32 && from == DType::kF32) ||
                (to == DType::kS32 && from == DType::kS8) || (to == DType::kS8 && from == DType::kS32);
      if (!ok)
        return err(fmt::format("no conversion {} -> {} (supported: f32<->bf16, f32<->s32, s32<->s8)",
                               DTypeName(from), DTypeName(to)));
      break;
    }
    default: break;
  }
  return OkStatus();
}

}  // namespace

Status ValidateInstruction(const Instruction& inst, const std::string& where) {
  if (!IsValidOpcode(static_cast<int>(inst.opcode)))
    return Error("{}: invalid opcode {}", where, static_cast<int>(inst.opcode));
  const OpInfo& info = inst.info();
  if (!UnitIsIndexed(info.unit) && inst.unit != 0)
    return Error("{}: {}: unit index {} given but {} has a single instance", where, info.mnemonic, inst.unit,
                 UnitKindName(info.unit));
  if (inst.wait < -1 || inst.wait > 65534) return Error("{}: wait semaphore {} out of range", where, inst.wait);
  if (inst.signal < -1 || inst.signal > 65534)
    return Error("{}: signal semaphore {} out of range", where, inst.signal);
  for (int i = 0; i < kMaxOperands; ++i) {
    if (i >= info.num_operands) {
      if (!(inst.ops[i] == Operand{})) return Error("{}: {}: extra operand {}", where, info.mnemonic, i);
      continue;
    }
    Status s = CheckOperand(info, i, inst.ops[i]);
    if (!s.ok()) return s.WithPrefix(where);
  }
  Status s = CheckTypes(inst);
  if (!s.ok()) return s.WithPrefix(where);
  return OkStatus();
}

static std::string Where(const Program& p, int core, size_t pc) {
  const Instruction& inst = p.cores[core][pc];
  std::string w = fmt::format("core {} pc {}", core, pc);
  if (inst.line > 0) w += fmt::format(" ({}:{})", p.source_name.empty() ? "line" : p.source_name, inst.line);
  return w;
}

Status ValidateProgram(const Program& program) {
  if (program.cores.empty()) return Error("program has no instruction stream");
  if (program.cores.size() > 64) return Error("program has {} cores (at most 64)", program.cores.size());
  for (size_t c = 0; c < program.cores.size(); ++c) {
    const auto& stream = program.cores[c];
    int depth = 0;
    for (size_t pc = 0; pc < stream.size(); ++pc) {
      RETURN_IF_ERROR(ValidateInstruction(stream[pc], Where(program, c, pc)));
      if (stream[pc].opcode == Opcode::kLoop) {
        if (++depth > kMaxLoopDepth)
          return Error("{}: loops nested deeper than {}", Where(program, c, pc), kMaxLoopDepth);
      } else if (stream[pc].opcode == Opcode::kEndLoop) {
        if (--depth < 0) return Error("{}: endloop without a matching loop", Where(program, c, pc));
      }
    }
    if (depth != 0) return Error("core {}: {} loop(s) without endloop", c, depth);
  }
  for (size_t i = 0; i < program.buffers.size(); ++i) {
    const BufferDecl& b = program.buffers[i];
    if (b.name.empty()) return Error("buffer {} has no name", i);
    if (b.shape.is_tuple) return Error("buffer '{}': tuple shapes are not allowed", b.name);
    if (b.core < 0 || b.core >= 64) return Error("buffer '{}': core {} out of range", b.name, b.core);
    if (b.shape.dims.size() > 8) return Error("buffer '{}': rank {} (at most 8)", b.name, b.shape.dims.size());
    int64_t n = DTypeBytes(b.shape.dtype);
    for (int64_t d : b.shape.dims) {
      if (d < 0) return Error("buffer '{}': negative dimension {}", b.name, d);
      if (d > 0 && n > (int64_t{1} << 50) / d) return Error("buffer '{}' is larger than 2^50 bytes", b.name);
      n *= d;
    }
    if (b.address < 0 || b.address > (int64_t{1} << 50))
      return Error("buffer '{}': address {} out of range", b.name, b.address);
    for (size_t j = 0; j < i; ++j) {
      const BufferDecl& o = program.buffers[j];
      if (o.name == b.name) return Error("buffer '{}' declared twice", b.name);
      if (o.mem != b.mem || o.core != b.core) continue;
      int64_t a0 = b.address, a1 = b.address + b.shape.byte_size();
      int64_t b0 = o.address, b1 = o.address + o.shape.byte_size();
      if (a0 < b1 && b0 < a1 && a1 > a0 && b1 > b0)
        return Error("buffer '{}' [{:#x}, {:#x}) overlaps buffer '{}' [{:#x}, {:#x})", b.name, a0, a1, o.name, b0,
                     b1);
    }
  }
  return OkStatus();
}

std::vector<int> MatchLoops(const std::vector<Instruction>& stream) {
  std::vector<int> match(stream.size(), -1);
  std::vector<int> open;
  for (size_t pc = 0; pc < stream.size(); ++pc) {
    if (stream[pc].opcode == Opcode::kLoop) {
      open.push_back(static_cast<int>(pc));
    } else if (stream[pc].opcode == Opcode::kEndLoop) {
      XTPU_CHECK(!open.empty());
      match[pc] = open.back();
      match[open.back()] = static_cast<int>(pc);
      open.pop_back();
    }
  }
  XTPU_CHECK(open.empty());
  return match;
}

}  // namespace xtpu::isa
