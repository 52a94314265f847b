// Small tools shared by the lowering passes (layout, transpose sinking,
// decompositions, dot canonicalization, fusion) and the chip-form check:
// permutations, literal transposes, and makers that fold constants at
// compile time instead of leaving a transpose for constant-folding.
#pragma once

#include <optional>
#include <vector>

#include "xtpu/compiler/passes/pass_util.h"
#include "xtpu/ir/module.h"

namespace xtpu::compiler {

// Permutations follow the transpose op: result dim i is operand dim perm[i].
bool IsIdentityPermutation(const std::vector<int64_t>& perm);
std::vector<int64_t> InversePermutation(const std::vector<int64_t>& perm);
// transpose(transpose(x, inner), outer) == transpose(x, Compose(inner, outer)).
std::vector<int64_t> ComposePermutations(const std::vector<int64_t>& inner,
                                         const std::vector<int64_t>& outer);

// The literal `x` transposed by `perm` (any dtype; copies whole elements).
Literal TransposeLiteralBytes(const Literal& x, const std::vector<int64_t>& perm);

// transpose(x, perm), but: x itself for the identity, a new constant for a
// constant x (computed now), and transpose(y, composed) for x = transpose(y).
StatusOr<Instruction*> MakeTranspose(Builder& b, Instruction* x, const std::vector<int64_t>& perm);
// reshape(x) to `dims`, but x itself when the dims already match and a new
// constant (same bytes) for a constant x.
StatusOr<Instruction*> MakeReshape(Builder& b, Instruction* x, const std::vector<int64_t>& dims);

// The op of a reduction computation that is `op(parameter 0, parameter 1)`
// (either order) with op add, multiply, maximum or minimum; nullopt otherwise.
std::optional<Opcode> SimpleReduction(const Computation* comp);

// The identity value of add (0), multiply (1), maximum (-inf, or the lowest
// integer) and minimum (+inf, or the highest integer) as a scalar literal.
std::optional<Literal> ReductionIdentity(Opcode op, DType dtype);

// Elementwise in the chip-form sense: unary, binary, compare, select, clamp,
// convert.
bool IsElementwise(const Instruction& inst);

}  // namespace xtpu::compiler
