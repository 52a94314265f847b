// Reference evaluator: runs a verified module on the host in plain code.
// It is the numeric oracle for every later level (see docs/numerics.md):
//  - f32 elementwise ops compute in f32 (std:: math functions);
//  - bf16/f16 elementwise ops compute in f32 and round to nearest even;
//  - dot and convolution accumulate products in double, in order of the
//    contracting index, and round once to the result type;
//  - reduce applies to_apply in index order, starting from the init value;
//  - integer arithmetic wraps (two's complement); division by zero gives 0.
#pragma once

#include <vector>

#include "xtpu/ir/literal.h"
#include "xtpu/ir/module.h"

namespace xtpu {

// Runs the entry computation. `args[i]` feeds parameter i; shapes must match
// exactly (error names the parameter). Returns the entry root's tuple
// elements (one Literal per output).
StatusOr<std::vector<Literal>> Evaluate(const Module& module, const std::vector<Literal>& args);

// Evaluation settings. Results are bit-identical for any num_threads: the
// threads split independent outputs, never a sum.
struct EvalOptions {
  int num_threads = 2;  // for dot and convolution; 1 = single-threaded
};
StatusOr<std::vector<Literal>> Evaluate(const Module& module, const std::vector<Literal>& args,
                                        const EvalOptions& options);

}  // namespace xtpu
