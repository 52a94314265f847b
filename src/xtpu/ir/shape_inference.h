// Shape rules for every op. InferShape computes an instruction's result shape
// from its opcode, operands and attributes. For ops whose result shape is
// declared rather than derived (parameter, constant, iota, broadcast, reshape,
// convert) it checks the declared `inst.shape` against the operands and
// returns it. Errors name the instruction ("%name (opcode): what is wrong").
#pragma once

#include "xtpu/ir/module.h"

namespace xtpu {

StatusOr<Shape> InferShape(const Instruction& inst);

}  // namespace xtpu
