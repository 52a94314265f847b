// Text form of tensor IR. Print(Parse(text)) == text for any text Print made.
//
//   HloModule name
//
//   add.f32 {
//     a = f32[] parameter(0)
//     b = f32[] parameter(1)
//     ROOT r = f32[] add(a, b)
//   }
//
//   ENTRY main {
//     x = f32[2,3] parameter(0)
//     ...
//     ROOT out = (f32[2,3]) tuple(y)
//   }
//
// See docs/ir.md for the full grammar.
#pragma once

#include <string>

#include "xtpu/ir/module.h"

namespace xtpu {

std::string Print(const Module& module);
std::string PrintInstruction(const Instruction& inst);

}  // namespace xtpu
