// Reference evaluator driver: checks the arguments, walks the entry
// computation in definition order, dispatches each instruction to its kernel
// (eval_*.cc) and frees each value after its last use. Also interprets
// scalar reduction computations batched over many accumulators.
#include "xtpu/ir/evaluator.h"

#include <algorithm>
#include <unordered_map>

#include "xtpu/ir/eval_internal.h"

namespace xtpu {
namespace eval {

std::string Describe(const Instruction& inst) {
  return fmt::format("%{} ({})", inst.name, OpcodeName(inst.opcode));
}

namespace {

// A value that does not own its literal (arguments, constants).
Value Borrow(const Literal& l) {
  Value v;
  v.array = std::shared_ptr<const Literal>(&l, [](const Literal*) {});
  return v;
}

Status CheckArrayShape(const Instruction& inst, const Literal& got) {
  if (inst.shape.is_tuple || got.dtype() != inst.shape.dtype || got.shape().dims != inst.shape.dims) {
    return Status::Error(fmt::format("{}: evaluated to {}, but the instruction's shape is {}",
                                     Describe(inst), got.shape().ToString(), inst.shape.ToString()),
                         StatusCode::kInternal);
  }
  return OkStatus();
}

// Attribute checks that keep the copy kernels inside their buffers (the
// verifier checks more; this only guards memory safety).
Status CheckBounds(const Instruction& inst, const std::vector<const Literal*>& ops) {
  const Shape& out = inst.shape;
  const Shape& x = ops[0]->shape();
  auto bad = [&](const char* what) { return Error("{}: {} does not fit operand {} and result {}", Describe(inst), what, x.ToString(), out.ToString()); };
  switch (inst.opcode) {
    case Opcode::kBroadcast: {
      std::vector<bool> used(out.rank(), false);
      for (int64_t d : inst.dimensions) {
        if (d < 0 || d >= out.rank() || used[d]) return bad("dimensions");
        used[d] = true;
      }
      break;
    }
    case Opcode::kTranspose: {
      if (static_cast<int64_t>(inst.dimensions.size()) != x.rank()) return bad("permutation");
      std::vector<bool> used(x.rank(), false);
      for (size_t i = 0; i < inst.dimensions.size(); ++i) {
        int64_t d = inst.dimensions[i];
        if (d < 0 || d >= x.rank() || used[d] || out.dims[i] != x.dims[d]) return bad("permutation");
        used[d] = true;
      }
      break;
    }
    case Opcode::kReverse:
      if (out.dims != x.dims) return bad("result");
      break;
    case Opcode::kSlice:
      if (static_cast<int64_t>(inst.slice_starts.size()) != x.rank() ||
          inst.slice_limits.size() != inst.slice_starts.size() ||
          inst.slice_strides.size() != inst.slice_starts.size() || out.rank() != x.rank())
        return bad("slice");
      for (int64_t d = 0; d < x.rank(); ++d) {
        int64_t s = inst.slice_starts[d], l = inst.slice_limits[d], st = inst.slice_strides[d];
        if (st < 1 || s < 0 || l > x.dims[d] || s > l || out.dims[d] != (l - s + st - 1) / st)
          return bad("slice");
      }
      break;
    case Opcode::kDynamicSlice:
      if (static_cast<int64_t>(inst.slice_sizes.size()) != x.rank() || out.dims != inst.slice_sizes)
        return bad("slice_sizes");
      for (int64_t d = 0; d < x.rank(); ++d)
        if (inst.slice_sizes[d] < 0 || inst.slice_sizes[d] > x.dims[d]) return bad("slice_sizes");
      break;
    case Opcode::kDynamicUpdateSlice:
    case Opcode::kClamp:
      if (out.dims != ops[inst.opcode == Opcode::kClamp ? 1 : 0]->shape().dims) return bad("result");
      break;
    case Opcode::kConcatenate: {
      if (inst.dimensions.size() != 1 || inst.dimensions[0] < 0 || inst.dimensions[0] >= out.rank())
        return bad("dimension");
      int64_t dim = inst.dimensions[0];
      for (const Literal* o : ops) {
        if (o->shape().rank() != out.rank()) return bad("operand rank");
        for (int64_t d = 0; d < out.rank(); ++d)
          if (d != dim && o->shape().dims[d] != out.dims[d]) return bad("operand dims");
      }
      break;
    }
    case Opcode::kPad:
      if (static_cast<int64_t>(inst.padding.size()) != x.rank() || out.rank() != x.rank() ||
          ops[1]->num_elements() != 1)
        return bad("padding");
      for (int64_t d = 0; d < x.rank(); ++d) {
        const PadDim& p = inst.padding[d];
        int64_t size = p.lo + p.hi + x.dims[d] + std::max<int64_t>(x.dims[d] - 1, 0) * p.interior;
        if (p.interior < 0 || size != out.dims[d]) return bad("padding");
      }
      break;
    case Opcode::kGather:
      if (static_cast<int64_t>(inst.slice_sizes.size()) != x.rank()) return bad("slice_sizes");
      for (int64_t d = 0; d < x.rank(); ++d)
        if (inst.slice_sizes[d] < 0 || inst.slice_sizes[d] > x.dims[d]) return bad("slice_sizes");
      if (inst.gather_dims.index_vector_dim < 0 ||
          inst.gather_dims.index_vector_dim > ops[1]->shape().rank())
        return bad("index_vector_dim");
      {
        // Offset dims take the non-collapsed slice sizes in order.
        size_t k = 0;
        std::vector<bool> collapsed(x.rank(), false);
        for (int64_t d : inst.gather_dims.collapsed_slice_dims)
          if (d >= 0 && d < x.rank()) collapsed[d] = true;
        for (int64_t d = 0; d < x.rank(); ++d) {
          if (collapsed[d]) continue;
          if (k >= inst.gather_dims.offset_dims.size()) return bad("offset_dims");
          int64_t od = inst.gather_dims.offset_dims[k++];
          if (od < 0 || od >= out.rank() || out.dims[od] != inst.slice_sizes[d]) return bad("offset_dims");
        }
      }
      break;
    default:
      break;
  }
  return OkStatus();
}

StatusOr<Value> RunComputation(const Computation& comp, const std::vector<Value>& params,
                               const EvalOptions& options);

StatusOr<Value> EvalInstruction(const Instruction& inst, const std::vector<const Value*>& operands,
                                const EvalOptions& options) {
  int arity = OpcodeArity(inst.opcode);
  if (arity != kVariadic && static_cast<int>(operands.size()) != arity)
    return Error("{}: has {} operands, expected {}", Describe(inst), operands.size(), arity);
  if (inst.opcode == Opcode::kTuple) {
    Value v;
    v.is_tuple = true;
    for (const Value* o : operands) v.tuple.push_back(*o);
    return v;
  }
  if (inst.opcode == Opcode::kGetTupleElement) {
    const Value& t = *operands[0];
    if (!t.is_tuple || inst.tuple_index < 0 || inst.tuple_index >= static_cast<int64_t>(t.tuple.size()))
      return Error("{}: index {} is not an element of the operand", Describe(inst), inst.tuple_index);
    return t.tuple[inst.tuple_index];
  }
  if (inst.opcode == Opcode::kFusion) {
    // The called computation, run on the operand values.
    if (inst.to_apply == nullptr) return Error("{}: no called computation", Describe(inst));
    std::vector<Value> params;
    for (const Value* o : operands) params.push_back(*o);
    ASSIGN_OR_RETURN(Value v, RunComputation(*inst.to_apply, params, options));
    if (v.is_tuple) return Error("{}: called computation returned a tuple", Describe(inst));
    RETURN_IF_ERROR(CheckArrayShape(inst, *v.array));
    return v;
  }
  if (inst.opcode == Opcode::kConstant) {
    RETURN_IF_ERROR(CheckArrayShape(inst, inst.literal));
    return Borrow(inst.literal);
  }
  std::vector<const Literal*> ops;
  for (size_t i = 0; i < operands.size(); ++i) {
    if (operands[i]->is_tuple) return Error("{}: operand {} is a tuple", Describe(inst), i);
    ops.push_back(operands[i]->array.get());
  }
  if (inst.opcode == Opcode::kReduce) return EvalReduce(inst, ops);
  if (inst.opcode == Opcode::kReduceWindow) return EvalReduceWindow(inst, ops);
  if (inst.shape.is_tuple) return Error("{}: unexpected tuple shape", Describe(inst));

  const Shape& out = inst.shape;
  StatusOr<Literal> result = Status::Error("unset", StatusCode::kInternal);
  switch (OpcodeKind(inst.opcode)) {
    case OpKind::kUnary:
    case OpKind::kBinary:
      for (const Literal* o : ops) {
        if (o->dtype() != out.dtype || o->shape().dims != out.dims)
          return Error("{}: operand {} does not match result {}", Describe(inst), o->shape().ToString(),
                       out.ToString());
      }
      if (ops.size() == 1) result = EvalUnary(inst, inst.opcode, *ops[0], out);
      else result = EvalBinary(inst, inst.opcode, *ops[0], *ops[1], out);
      break;
    default:
      switch (inst.opcode) {
        case Opcode::kBroadcast:
        case Opcode::kReshape:
        case Opcode::kTranspose:
        case Opcode::kReverse:
        case Opcode::kSlice:
        case Opcode::kDynamicSlice:
        case Opcode::kDynamicUpdateSlice:
        case Opcode::kConcatenate:
        case Opcode::kPad:
        case Opcode::kGather:
        case Opcode::kClamp:
          // Data movement copies whole elements: the type must not change.
          for (size_t i = 0; i < ops.size(); ++i) {
            bool index_operand = (inst.opcode == Opcode::kDynamicSlice && i >= 1) ||
                                 (inst.opcode == Opcode::kDynamicUpdateSlice && i >= 2) ||
                                 (inst.opcode == Opcode::kGather && i == 1);
            if (!index_operand && ops[i]->dtype() != out.dtype)
              return Error("{}: operand {} is {}, result is {}", Describe(inst), i,
                           DTypeName(ops[i]->dtype()), DTypeName(out.dtype));
          }
          RETURN_IF_ERROR(CheckBounds(inst, ops));
          break;
        case Opcode::kSelect:
          if (ops[1]->shape() != out || ops[2]->shape() != out)
            return Error("{}: branches {} and {} do not match result {}", Describe(inst),
                         ops[1]->shape().ToString(), ops[2]->shape().ToString(), out.ToString());
          break;
        case Opcode::kCompare:
          if (out.dtype != DType::kPred) return Error("{}: result must be pred", Describe(inst));
          break;
        default:
          break;
      }
      switch (inst.opcode) {
        case Opcode::kIota: result = EvalIota(inst); break;
        case Opcode::kCompare:
          if (ops[0]->shape() != ops[1]->shape() || ops[0]->shape().dims != out.dims)
            return Error("{}: operands {} and {} do not match", Describe(inst),
                         ops[0]->shape().ToString(), ops[1]->shape().ToString());
          result = EvalCompare(inst, inst.direction, *ops[0], *ops[1], out);
          break;
        case Opcode::kSelect: result = EvalSelect(inst, *ops[0], *ops[1], *ops[2], out); break;
        case Opcode::kClamp: result = EvalClamp(inst, *ops[0], *ops[1], *ops[2], out); break;
        case Opcode::kConvert:
          if (ops[0]->shape().dims != out.dims)
            return Error("{}: convert changes dims", Describe(inst));
          result = ConvertLiteral(*ops[0], out.dtype);
          break;
        case Opcode::kBroadcast: result = EvalBroadcast(inst, *ops[0]); break;
        case Opcode::kReshape: result = EvalReshape(inst, *ops[0]); break;
        case Opcode::kTranspose: result = EvalTranspose(inst, *ops[0]); break;
        case Opcode::kReverse: result = EvalReverse(inst, *ops[0]); break;
        case Opcode::kSlice: result = EvalSlice(inst, *ops[0]); break;
        case Opcode::kDynamicSlice: result = EvalDynamicSlice(inst, ops); break;
        case Opcode::kDynamicUpdateSlice: result = EvalDynamicUpdateSlice(inst, ops); break;
        case Opcode::kConcatenate: result = EvalConcatenate(inst, ops); break;
        case Opcode::kPad: result = EvalPad(inst, *ops[0], *ops[1]); break;
        case Opcode::kDot: result = EvalDot(inst, *ops[0], *ops[1], options); break;
        case Opcode::kConvolution: result = EvalConvolution(inst, *ops[0], *ops[1], options); break;
        case Opcode::kGather: result = EvalGather(inst, *ops[0], *ops[1]); break;
        default:
          return Unimplemented("{}: not supported by the reference evaluator", Describe(inst));
      }
  }
  if (!result.ok()) return result.status();
  RETURN_IF_ERROR(CheckArrayShape(inst, *result));
  return Value::Array(std::move(result).value());
}

StatusOr<Value> RunComputation(const Computation& comp, const std::vector<Value>& params,
                               const EvalOptions& options) {
  const auto& insts = comp.instructions();
  std::unordered_map<const Instruction*, size_t> pos;
  for (size_t i = 0; i < insts.size(); ++i) pos[insts[i].get()] = i;
  // last_use[i]: index of the last instruction reading value i.
  std::vector<size_t> last_use(insts.size(), 0);
  for (size_t i = 0; i < insts.size(); ++i) {
    for (const Instruction* o : insts[i]->operands) {
      auto it = pos.find(o);
      if (it == pos.end() || it->second >= i)
        return Error("{}: operand %{} is not defined before it in computation {}",
                     Describe(*insts[i]), o->name, comp.name());
      last_use[it->second] = i;
    }
  }
  if (comp.root() == nullptr || !pos.count(comp.root()))
    return Error("computation {} has no root", comp.name());
  size_t root = pos[comp.root()];
  std::vector<Value> values(insts.size());
  std::vector<const Value*> operands;
  for (size_t i = 0; i < insts.size(); ++i) {
    const Instruction& inst = *insts[i];
    if (inst.opcode == Opcode::kParameter) {
      if (inst.parameter_number < 0 || inst.parameter_number >= static_cast<int64_t>(params.size()))
        return Error("{}: parameter number {} out of range", Describe(inst), inst.parameter_number);
      values[i] = params[inst.parameter_number];
      continue;
    }
    operands.clear();
    for (const Instruction* o : inst.operands) operands.push_back(&values[pos[o]]);
    ASSIGN_OR_RETURN(values[i], EvalInstruction(inst, operands, options));
    for (const Instruction* o : inst.operands) {
      size_t j = pos[o];
      if (last_use[j] == i && j != root) values[j] = Value();
    }
  }
  return values[root];
}

// Element-count of a batched value's array (1 = broadcast scalar).
int64_t Count(const Value& v) { return v.array ? v.array->num_elements() : 0; }

StatusOr<Value> EvalBatchedInstruction(const Instruction& inst, const std::vector<const Value*>& operands) {
  auto fail = [&]() {
    return Unimplemented("{}: not supported inside a reduction computation", Describe(inst));
  };
  switch (inst.opcode) {
    case Opcode::kConstant:
      if (inst.literal.num_elements() != 1) return fail();
      return Borrow(inst.literal);
    case Opcode::kTuple: {
      Value v;
      v.is_tuple = true;
      for (const Value* o : operands) v.tuple.push_back(*o);
      return v;
    }
    case Opcode::kGetTupleElement:
      if (!operands[0]->is_tuple || inst.tuple_index >= static_cast<int64_t>(operands[0]->tuple.size()))
        return fail();
      return operands[0]->tuple[inst.tuple_index];
    case Opcode::kCopy:
    case Opcode::kReshape:
    case Opcode::kBroadcast:
      if (inst.shape.is_tuple || inst.shape.num_elements() != 1 || operands[0]->is_tuple) return fail();
      return *operands[0];
    default:
      break;
  }
  int64_t m = 1;
  for (const Value* o : operands) {
    if (o->is_tuple) return fail();
    m = std::max(m, Count(*o));
  }
  if (inst.shape.is_tuple || inst.shape.num_elements() != 1) return fail();
  std::vector<Literal> wide;
  for (const Value* o : operands) wide.push_back(BroadcastScalar(*o->array, m));
  for (auto& w : wide) w = Literal(Shape(w.dtype(), {m}), std::move(w.mutable_bytes()));
  Shape out(inst.shape.dtype, {m});
  StatusOr<Literal> r = Status::Error("unset", StatusCode::kInternal);
  switch (OpcodeKind(inst.opcode)) {
    case OpKind::kUnary:
      if (wide[0].dtype() != out.dtype) return Error("{}: operand type differs from result", Describe(inst));
      r = EvalUnary(inst, inst.opcode, wide[0], out);
      break;
    case OpKind::kBinary:
      if (wide[0].dtype() != out.dtype) return Error("{}: operand type differs from result", Describe(inst));
      r = EvalBinary(inst, inst.opcode, wide[0], wide[1], out);
      break;
    default:
      switch (inst.opcode) {
        case Opcode::kCompare: r = EvalCompare(inst, inst.direction, wide[0], wide[1], out); break;
        case Opcode::kSelect: r = EvalSelect(inst, wide[0], wide[1], wide[2], out); break;
        case Opcode::kClamp: r = EvalClamp(inst, wide[0], wide[1], wide[2], out); break;
        case Opcode::kConvert: r = ConvertLiteral(wide[0], out.dtype); break;
        default: return fail();
      }
  }
  if (!r.ok()) return r.status();
  return Value::Array(std::move(r).value());
}

}  // namespace

StatusOr<std::vector<Literal>> EvalBatchedScalar(const Computation& comp,
                                                 const std::vector<const Literal*>& params,
                                                 int64_t n) {
  const auto& insts = comp.instructions();
  std::unordered_map<const Instruction*, size_t> pos;
  std::vector<Value> values(insts.size());
  std::vector<const Value*> operands;
  for (size_t i = 0; i < insts.size(); ++i) {
    const Instruction& inst = *insts[i];
    pos[&inst] = i;
    if (inst.opcode == Opcode::kParameter) {
      if (inst.parameter_number < 0 || inst.parameter_number >= static_cast<int64_t>(params.size()))
        return Error("{}: parameter number {} out of range", Describe(inst), inst.parameter_number);
      values[i] = Borrow(*params[inst.parameter_number]);
      continue;
    }
    operands.clear();
    for (const Instruction* o : inst.operands) {
      auto it = pos.find(o);
      if (it == pos.end()) return Error("{}: operand %{} is not defined before it", Describe(inst), o->name);
      operands.push_back(&values[it->second]);
    }
    ASSIGN_OR_RETURN(values[i], EvalBatchedInstruction(inst, operands));
  }
  auto it = pos.find(comp.root());
  if (it == pos.end()) return Error("computation {} has no root", comp.name());
  const Value& root = values[it->second];
  std::vector<Literal> out;
  auto add = [&](const Value& v) -> Status {
    if (v.is_tuple) return Error("computation {}: nested tuple result", comp.name());
    Literal l = BroadcastScalar(*v.array, n);
    out.push_back(Literal(Shape(l.dtype(), {n}), std::move(l.mutable_bytes())));
    return OkStatus();
  };
  if (root.is_tuple) {
    for (const Value& v : root.tuple) RETURN_IF_ERROR(add(v));
  } else {
    RETURN_IF_ERROR(add(root));
  }
  return out;
}

}  // namespace eval

StatusOr<std::vector<Literal>> Evaluate(const Module& module, const std::vector<Literal>& args) {
  return Evaluate(module, args, EvalOptions{});
}

StatusOr<std::vector<Literal>> Evaluate(const Module& module, const std::vector<Literal>& args,
                                        const EvalOptions& options) {
  const Computation* entry = module.entry();
  if (entry == nullptr) return Error("module {} has no entry computation", module.name());
  const auto& params = entry->parameters();
  if (args.size() != params.size()) {
    return Error("module {}: expected {} arguments, got {}", module.name(), params.size(), args.size());
  }
  std::vector<eval::Value> values;
  for (size_t i = 0; i < params.size(); ++i) {
    const Instruction* p = params[i];
    if (p == nullptr) return Error("module {}: parameter {} is missing", module.name(), i);
    if (args[i].shape() != p->shape) {
      return Error("argument {} for parameter %{} (number {}): expected shape {}, got {}", i, p->name,
                   i, p->shape.ToString(), args[i].shape().ToString());
    }
    values.push_back(eval::Borrow(args[i]));
  }
  ASSIGN_OR_RETURN(eval::Value root, eval::RunComputation(*entry, values, options));
  std::vector<Literal> outs;
  auto take = [&](const eval::Value& v) -> Status {
    if (v.is_tuple) return Error("module {}: nested tuple outputs are not supported", module.name());
    outs.push_back(*v.array);
    return OkStatus();
  };
  if (root.is_tuple) {
    for (const eval::Value& v : root.tuple) RETURN_IF_ERROR(take(v));
  } else {
    RETURN_IF_ERROR(take(root));
  }
  return outs;
}

}  // namespace xtpu
