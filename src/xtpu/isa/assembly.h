// Assembly text <-> Program.
//
// Syntax (one statement per line; ';', '#' or '//' start a comment):
//   .equ NAME expr                      constant usable in later expressions
//   .buffer NAME MEM DTYPE[dims] [ROLE] [at expr]
//                                       MEM: hbm | vmem | vmemN (core N's VMEM);
//                                       ROLE: input | output | inout | scratch;
//                                       without `at`, placed after the last
//                                       buffer of that memory, 4 KiB aligned.
//                                       NAME then stands for its address.
//   .core N                             following instructions go to core N
//   MNEMONIC operand, operand, ...      e.g.
//       dma1.load dst=0, src=A+r2, bytes=256, n1=128, ds1=256, ss1=8192, signal=s0
//   Indexed units take the instance after the unit name (dma1.load,
//   mxu3.matmul; no index = 0). Operands are positional (table order) or
//   name=value, with `wait=sN` and `signal=sN` for semaphores. Values of kVal
//   operands are expressions: integers (decimal, 0x hex, 0b binary), .equ and
//   buffer names, + - * / % << >> and parentheses, plus at most one register
//   term added (r3 + 4*N). Float immediates are decimal or inf/nan.
//
// Disassemble prints the canonical form; Assemble(Disassemble(p)) == p.
#pragma once

#include <string>
#include <string_view>

#include "xtpu/isa/isa.h"
#include "xtpu/support/status.h"

namespace xtpu::isa {

// Errors are "<filename>:<line>: <what>", e.g. "prog.s:12: unknown mnemonic 'foo'".
StatusOr<Program> Assemble(std::string_view text, const std::string& filename = "<asm>");
std::string Disassemble(const Program& program);
// One instruction in canonical form, without indentation or newline.
std::string FormatInstruction(const Instruction& inst);

}  // namespace xtpu::isa
