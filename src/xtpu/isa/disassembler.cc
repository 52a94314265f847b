// Disassembler: Program -> canonical assembly text (see assembly.h).
#include <bit>
#include <cmath>
#include <cstring>

#include "xtpu/isa/assembly.h"

namespace xtpu::isa {
namespace {

std::string FormatInt(int64_t v) {
  if (v >= 65536) return fmt::format("{:#x}", v);
  return fmt::format("{}", v);
}

std::string FormatF32Bits(int64_t bits) {
  uint32_t u = static_cast<uint32_t>(bits);
  float f = std::bit_cast<float>(u);
  if (std::isnan(f)) return fmt::format("nan({:#x})", u);
  return fmt::format("{}", f);
}

std::string FormatOperand(const Instruction& inst, int i) {
  const OperandSpec& spec = inst.info().operands[i];
  const Operand& o = inst.ops[i];
  switch (spec.kind) {
    case OperandKind::kVal: {
      if (o.reg < 0) return FormatInt(o.imm);
      std::string s = fmt::format("r{}", o.reg);
      if (o.imm > 0) s += "+" + FormatInt(o.imm);
      if (o.imm < 0) s += "-" + FormatInt(-o.imm);
      return s;
    }
    case OperandKind::kReg: return fmt::format("r{}", o.imm);
    case OperandKind::kSem: return fmt::format("s{}", o.imm);
    case OperandKind::kF32: return FormatF32Bits(o.imm);
    case OperandKind::kInt: return o.imm < 0 ? fmt::format("-{}", FormatInt(-o.imm)) : FormatInt(o.imm);
    case OperandKind::kImm32: {
      int d = inst.info().Find("dtype");
      DType t = d >= 0 ? static_cast<DType>(inst.ops[d].imm) : DType::kS32;
      if (t == DType::kF32 || t == DType::kBF16) return FormatF32Bits(o.imm);
      return fmt::format("{}", static_cast<int32_t>(static_cast<uint32_t>(o.imm)));
    }
    default: return std::string(EnumValueName(spec.kind, o.imm));
  }
}

std::string FormatMnemonic(const Instruction& inst) {
  const OpInfo& info = inst.info();
  if (!UnitIsIndexed(info.unit)) return std::string(info.mnemonic);
  std::string_view m = info.mnemonic;
  size_t dot = m.find('.');
  return fmt::format("{}{}{}", m.substr(0, dot), inst.unit, m.substr(dot));
}

}  // namespace

std::string FormatInstruction(const Instruction& inst) {
  const OpInfo& info = inst.info();
  std::string s = FormatMnemonic(inst);
  bool positional = true;
  bool first = true;
  auto add = [&](const std::string& text) {
    s += first ? " " : ", ";
    s += text;
    first = false;
  };
  for (int i = 0; i < info.num_operands; ++i) {
    const OperandSpec& spec = info.operands[i];
    // Required leading operands print positionally in the sequencer and for
    // enumerations (vpu.binary add, f32, ...); addresses and sizes by name.
    positional = positional && spec.required &&
                 (info.unit == UnitKind::kSeq || (spec.kind != OperandKind::kVal && spec.kind != OperandKind::kInt));
    if (positional) {
      add(FormatOperand(inst, i));
    } else if (spec.required || !(inst.ops[i] == Operand{-1, spec.default_value})) {
      add(fmt::format("{}={}", spec.name, FormatOperand(inst, i)));
    }
  }
  if (inst.wait >= 0) add(fmt::format("wait=s{}", inst.wait));
  if (inst.signal >= 0) add(fmt::format("signal=s{}", inst.signal));
  return s;
}

std::string Disassemble(const Program& program) {
  std::string out = fmt::format("; xtpu program: {} core(s), {} instructions\n", program.cores.size(),
                                program.num_instructions());
  for (const BufferDecl& b : program.buffers) {
    std::string mem = b.mem == MemSpace::kHbm ? "hbm" : b.core == 0 ? "vmem" : fmt::format("vmem{}", b.core);
    out += fmt::format(".buffer {} {} {} {} at {:#x}\n", b.name, mem, b.shape.ToString(), BufferRoleName(b.role),
                       b.address);
  }
  for (size_t c = 0; c < program.cores.size(); ++c) {
    out += fmt::format(".core {}\n", c);
    int depth = 1;
    for (const Instruction& inst : program.cores[c]) {
      if (inst.opcode == Opcode::kEndLoop && depth > 1) --depth;
      out += std::string(2 * depth, ' ') + FormatInstruction(inst) + "\n";
      if (inst.opcode == Opcode::kLoop) ++depth;
    }
  }
  return out;
}

}  // namespace xtpu::isa
