// Verifier: checks a module is well formed. Every instruction's declared shape
// equals InferShape's; operands are defined before use and in the same
// computation; names are unique in the module; arities match the op table;
// parameters are numbered 0..n-1 without gaps; each computation has a root;
// the entry exists and its root is a tuple; to_apply computations take two
// scalars (or 2k for k-ary reduce) and return a matching scalar (or tuple).
// Errors name the computation and instruction.
#pragma once

#include "xtpu/ir/module.h"

namespace xtpu {

Status Verify(const Module& module);

}  // namespace xtpu
