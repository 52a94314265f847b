// Generates the reference section of docs/isa.md from the XTPU_ISA table.
#include "xtpu/isa/encoding.h"
#include "xtpu/isa/isa.h"

namespace xtpu::isa {
namespace {

std::string_view KindName(OperandKind k) {
  switch (k) {
    case OperandKind::kVal: return "val";
    case OperandKind::kReg: return "reg";
    case OperandKind::kSem: return "sem";
    case OperandKind::kFlag: return "flag";
    case OperandKind::kDType: return "dtype";
    case OperandKind::kBinOp: return "binop";
    case OperandKind::kUnOp: return "unop";
    case OperandKind::kRedOp: return "redop";
    case OperandKind::kBMode: return "bmode";
    case OperandKind::kImm32: return "imm32";
    case OperandKind::kF32: return "f32";
    case OperandKind::kInt: return "int";
  }
  return "?";
}

std::string EnumList(OperandKind k) {
  std::string s;
  for (int64_t i = 0; i < EnumValueCount(k); ++i) {
    std::string_view n = EnumValueName(k, i);
    if (n.empty()) continue;
    s += fmt::format("{}`{}`", s.empty() ? "" : ", ", n);
  }
  return s;
}

}  // namespace

std::string IsaReferenceMarkdown() {
  std::string s;
  s += "<!-- BEGIN GENERATED: xtpu::isa::IsaReferenceMarkdown() (src/xtpu/isa/isa.h). Do not edit by hand. -->\n";
  s += "## Instruction reference\n\n";
  s += fmt::format("Every instruction is {} bytes: bits 0-7 opcode, 8-15 unit index, 16-31 wait semaphore + 1 "
                   "(0 = none), 32-47 signal semaphore + 1, 48-63 zero, then the operands in the order listed, "
                   "each as wide as its kind; all other bits are zero.\n\n",
                   kInstructionBytes);
  s += "| kind | bits | written as |\n|---|---|---|\n";
  s += fmt::format("| val | {} | `r3+4096`, `r3`, `-8`: optional register (8 bits, 0 = none) plus a {}-bit signed immediate, "
                   "resolved to a 64-bit value when the sequencer dispatches the instruction |\n",
                   OperandBits(OperandKind::kVal), kValImmBits);
  s += "| reg | 8 | `r5` |\n| sem | 16 | `s2` |\n";
  s += fmt::format("| dtype | 8 | {} |\n", EnumList(OperandKind::kDType));
  s += fmt::format("| binop | 8 | {} |\n", EnumList(OperandKind::kBinOp));
  s += fmt::format("| unop | 8 | {} |\n", EnumList(OperandKind::kUnOp));
  s += fmt::format("| redop | 8 | {} |\n", EnumList(OperandKind::kRedOp));
  s += fmt::format("| bmode | 8 | {} |\n", EnumList(OperandKind::kBMode));
  s += "| imm32 | 32 | a float if the instruction's dtype is f32/bf16, else an s32 |\n";
  s += "| f32 | 32 | a float (`0.125`, `1e-05`, `inf`, `nan(0x7fc00000)`) |\n";
  s += "| int | 32 | a signed 32-bit constant without a register (`512`, `4*N`) |\n\n";
  s += "Every instruction also takes `wait=sN` (before it starts: wait until S[N] > 0, then decrement) and "
       "`signal=sN` (when it completes: increment S[N]).\n\n";
  s += "| opcode | mnemonic | unit | summary |\n|---|---|---|---|\n";
  for (int i = 0; i < NumOpcodes(); ++i) {
    const OpInfo& info = GetOpInfo(static_cast<Opcode>(i));
    s += fmt::format("| {} | [`{}`](#{}) | {} | {} |\n", i, info.mnemonic, [&] {
      std::string a;
      for (char c : info.mnemonic)
        if (c != '.') a += c;
      return a;
    }(), UnitKindName(info.unit), info.summary);
  }
  s += "\n";
  for (int i = 0; i < NumOpcodes(); ++i) {
    const OpInfo& info = GetOpInfo(static_cast<Opcode>(i));
    s += fmt::format("### {}\n\n{}\n\n", info.mnemonic, info.summary);
    s += fmt::format("Unit: {}{}. Opcode {}.\n\n", UnitKindName(info.unit),
                     UnitIsIndexed(info.unit) ? fmt::format(" (instance in the mnemonic: `{}0{}`, `{}1{}`, ...)",
                                                            UnitKindName(info.unit),
                                                            info.mnemonic.substr(info.mnemonic.find('.')),
                                                            UnitKindName(info.unit),
                                                            info.mnemonic.substr(info.mnemonic.find('.')))
                                              : std::string(),
                     i);
    if (info.num_operands > 0) {
      s += "| operand | kind | default |\n|---|---|---|\n";
      for (int j = 0; j < info.num_operands; ++j) {
        const OperandSpec& o = info.operands[j];
        std::string def = "required";
        if (!o.required) {
          std::string_view n = EnumValueName(o.kind, o.default_value);
          def = n.empty() ? std::to_string(o.default_value) : std::string(n);
        }
        s += fmt::format("| `{}` | {} | {} |\n", o.name, KindName(o.kind), def);
      }
      s += "\n";
    }
    s += fmt::format("```\n{}\n```\n\n", info.semantics);
  }
  s += "<!-- END GENERATED -->\n";
  return s;
}

}  // namespace xtpu::isa
