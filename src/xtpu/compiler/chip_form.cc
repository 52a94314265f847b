// CheckChipForm: the contract of chip_form.h, rule by rule. Each failure
// names the instruction and the rule it breaks.
#include "xtpu/compiler/chip_form.h"

#include <map>

#include <fmt/format.h>

#include "xtpu/compiler/passes/lowering_util.h"

namespace xtpu::compiler {
namespace {

std::string Describe(const Instruction& i) { return fmt::format("%{} ({})", i.name, OpcodeName(i.opcode)); }

template <typename... Args>
Status Broken(const Instruction& i, fmt::format_string<Args...> f, Args&&... args) {
  return Error("not in chip form: {}: {}", Describe(i), fmt::format(f, std::forward<Args>(args)...));
}

bool ChipDType(DType t) {
  return t == DType::kF32 || t == DType::kBF16 || t == DType::kS32 || t == DType::kS8 || t == DType::kPred;
}

Status CheckDTypes(const Instruction& i, const Shape& s) {
  if (s.is_tuple) {
    for (const Shape& e : s.tuple) RETURN_IF_ERROR(CheckDTypes(i, e));
    return OkStatus();
  }
  if (!ChipDType(s.dtype))
    return Broken(i, "dtype {} is not one the chip holds (f32, bf16, s32, s8, pred); run legalize-types",
                  DTypeName(s.dtype));
  return OkStatus();
}

std::vector<int64_t> Iota(int64_t n) {
  std::vector<int64_t> v(n);
  for (int64_t k = 0; k < n; ++k) v[k] = k;
  return v;
}

Status CheckDot(const Instruction& i) {
  const DotDims& d = i.dot_dims;
  const int64_t nb = static_cast<int64_t>(d.lhs_batch.size());
  const int64_t lr = i.operands[0]->shape.rank(), rr = i.operands[1]->shape.rank();
  bool lhs_ok = lr == nb + 2 && d.lhs_batch == Iota(nb) && d.lhs_contracting == std::vector<int64_t>{nb + 1};
  bool rhs_ok = (rr == nb + 2 && d.rhs_batch == Iota(nb) && d.rhs_contracting == std::vector<int64_t>{nb}) ||
                (nb == 0 && rr == 2 && d.rhs_batch.empty() && d.rhs_contracting == std::vector<int64_t>{0});
  if (!lhs_ok || !rhs_ok)
    return Broken(i, "dot is not canonical (lhs [B...,M,K], rhs [B...,K,N] or [K,N]); run canonicalize-dot");
  return OkStatus();
}

Status CheckConvolution(const Instruction& i) {
  const ConvDims& d = i.conv_dims;
  if (d.input_spatial.size() > 2)
    return Broken(i, "convolutions with {} spatial dimensions are not supported (1-D and 2-D are)",
                  d.input_spatial.size());
  bool nhwc = d.input_spatial.size() == 2 && d.input_batch == 0 && d.input_spatial == std::vector<int64_t>{1, 2} &&
              d.input_feature == 3 && d.kernel_spatial == std::vector<int64_t>{0, 1} &&
              d.kernel_input_feature == 2 && d.kernel_output_feature == 3 && d.output_batch == 0 &&
              d.output_spatial == std::vector<int64_t>{1, 2} && d.output_feature == 3;
  if (!nhwc)
    return Broken(i, "convolution must be 2-D NHWC (dim_labels b01f_01io->b01f); run layout-assignment");
  if (i.batch_group_count != 1) return Broken(i, "batch_group_count must be 1");
  for (const WindowDim& w : i.window)
    if (w.base_dilation != 1) return Broken(i, "lhs dilation must be 1; run decompose");
  return OkStatus();
}

Status CheckReduce(const Instruction& i) {
  if (i.operands.size() != 2) return Broken(i, "reduce must have one operand (variadic reduce is not supported)");
  std::optional<Opcode> op = SimpleReduction(i.to_apply);
  if (!op || *op == Opcode::kMultiply)
    return Broken(i, "reduce's to_apply must be add, maximum or minimum of its two parameters");
  return OkStatus();
}

Status CheckGather(const Instruction& i) {
  const Shape& v = i.operands[0]->shape;
  const Shape& idx = i.operands[1]->shape;
  const GatherDims& g = i.gather_dims;
  bool ok = v.rank() == 2 && idx.dtype == DType::kS32 && i.shape.rank() == idx.rank() + 1 &&
            g.offset_dims == std::vector<int64_t>{idx.rank()} && g.collapsed_slice_dims == std::vector<int64_t>{0} &&
            g.start_index_map == std::vector<int64_t>{0} && g.index_vector_dim == idx.rank() &&
            i.slice_sizes == std::vector<int64_t>{1, v.rank() == 2 ? v.dims[1] : -1};
  if (!ok) return Broken(i, "only embedding gathers (table [V,D], s32 indices [...] -> [...,D]) are supported");
  return OkStatus();
}

// A broadcast of a scalar constant (or a scalar constant itself).
bool IsScalarConstant(const Instruction* x) {
  if (x->opcode == Opcode::kBroadcast && x->operands[0]->shape.is_scalar()) x = x->operands[0];
  return x->opcode == Opcode::kConstant && x->shape.is_scalar();
}

Status CheckLoopFusion(const Instruction& f) {
  const Computation& c = *f.to_apply;
  const std::vector<int64_t>& dims = f.shape.dims;
  for (const auto& up : c.instructions()) {
    const Instruction& i = *up;
    RETURN_IF_ERROR(CheckDTypes(i, i.shape));
    if (i.opcode == Opcode::kParameter) continue;
    if (i.opcode == Opcode::kConstant) {
      if (!i.shape.is_scalar()) return Broken(i, "loop fusion %{} may hold only scalar constants", f.name);
      continue;
    }
    if (i.opcode == Opcode::kBroadcast) {
      const Instruction* src = i.operands[0];
      if (src->opcode != Opcode::kParameter && !(src->opcode == Opcode::kConstant && src->shape.is_scalar()))
        return Broken(i, "loop fusion %{} may broadcast only its parameters and scalar constants", f.name);
    } else if (!IsElementwise(i)) {
      return Broken(i, "loop fusion %{} may hold only elementwise ops and broadcasts", f.name);
    }
    if (i.shape.dims != dims) return Broken(i, "not of loop fusion %{}'s output shape", f.name);
    if (IsElementwise(i)) {
      for (const Instruction* o : i.operands) {
        bool scalar_ok = o->shape.is_scalar() && (i.opcode == Opcode::kClamp || i.opcode == Opcode::kSelect);
        if (o->shape.dims != dims && !scalar_ok)
          return Broken(i, "operand %{} is not of loop fusion %{}'s output shape", o->name, f.name);
      }
    }
  }
  return OkStatus();
}

// fusion(kind=row): see chip_form.h.
Status CheckRowFusion(const Instruction& f) {
  const Computation& c = *f.to_apply;
  const std::vector<int64_t>& full = f.shape.dims;
  if (full.size() < 2) return Broken(f, "row fusion needs a result of rank 2 or more");
  const std::vector<int64_t> row(full.begin(), full.end() - 1);
  auto float_t = [](DType t) { return t == DType::kF32 || t == DType::kBF16; };
  for (const auto& up : c.instructions()) {
    const Instruction& i = *up;
    RETURN_IF_ERROR(CheckDTypes(i, i.shape));
    if (!float_t(i.shape.dtype)) return Broken(i, "row fusion %{} holds only f32 and bf16 values", f.name);
    const bool is_full = i.shape.dims == full, is_row = i.shape.dims == row;
    switch (i.opcode) {
      case Opcode::kParameter:
        if (!is_full && !is_row && !(i.shape.rank() == 1 && i.shape.dims[0] == full.back()))
          return Broken(i, "a parameter of row fusion %{} must be of its shape, its row shape or [{}]", f.name,
                        full.back());
        continue;
      case Opcode::kConstant:
        if (!i.shape.is_scalar()) return Broken(i, "row fusion %{} may hold only scalar constants", f.name);
        continue;
      case Opcode::kBroadcast: {
        const Instruction* src = i.operands[0];
        const int64_t r = static_cast<int64_t>(full.size());
        std::vector<int64_t> rows(full.size() - 1);
        for (size_t k = 0; k < rows.size(); ++k) rows[k] = static_cast<int64_t>(k);
        const bool scalar = src->opcode == Opcode::kConstant && src->shape.is_scalar() && (is_full || is_row);
        const bool row_b = is_full && src->shape.dims == row && i.dimensions == rows;
        const bool vec_b = is_full && src->opcode == Opcode::kParameter && src->shape.rank() == 1 &&
                           i.dimensions == std::vector<int64_t>{r - 1};
        if (!scalar && !row_b && !vec_b)
          return Broken(i, "row fusion %{} broadcasts only scalar constants, row values along the last dim and "
                        "vector parameters over the rows", f.name);
        continue;
      }
      case Opcode::kReduce:
        if (!is_row || i.operands[0]->shape.dims != full ||
            i.dimensions != std::vector<int64_t>{static_cast<int64_t>(full.size()) - 1} ||
            i.operands[1]->opcode != Opcode::kConstant)
          return Broken(i, "a reduce in row fusion %{} must reduce a value of its shape over the last dim", f.name);
        continue;
      default:
        if (!IsElementwise(i)) return Broken(i, "row fusion %{} holds an op other than elementwise, broadcast "
                                           "and reduce", f.name);
        if (!is_full && !is_row) return Broken(i, "not of row fusion %{}'s shape or row shape", f.name);
        for (const Instruction* o : i.operands)
          if (o->shape.dims != i.shape.dims)
            return Broken(i, "operand %{} is not of the shape of its op in row fusion %{}", o->name, f.name);
    }
  }
  if (c.root()->shape.dims != full) return Broken(f, "row fusion's root must be of its shape");
  return OkStatus();
}

Status CheckOutputFusion(const Instruction& f) {
  const Computation& c = *f.to_apply;
  // Find the dot/convolution; the root must be reached from it by a chain.
  const Instruction* mm = nullptr;
  for (const auto& up : c.instructions())
    if (up->opcode == Opcode::kDot || up->opcode == Opcode::kConvolution) {
      if (mm) return Broken(*up, "output fusion %{} holds more than one dot or convolution", f.name);
      mm = up.get();
    }
  if (!mm) return Broken(f, "output fusion calls %{}, which holds no dot or convolution", c.name());
  const Instruction* p0 = c.parameters().size() > 0 ? c.parameters()[0] : nullptr;
  const Instruction* p1 = c.parameters().size() > 1 ? c.parameters()[1] : nullptr;
  if (mm->operands[0] != p0 || mm->operands[1] != p1)
    return Broken(*mm, "in output fusion %{} the operands must be parameters 0 and 1", f.name);
  RETURN_IF_ERROR(mm->opcode == Opcode::kDot ? CheckDot(*mm) : CheckConvolution(*mm));
  const std::vector<int64_t>& dims = mm->shape.dims;
  // Walk the chain backward from the root.
  std::map<const Instruction*, size_t> index;
  for (const auto& up : c.instructions()) index[up.get()] = index.size();
  int saved_reads = 0;
  const Instruction* cur = c.root();
  while (cur != mm) {
    RETURN_IF_ERROR(CheckDTypes(*cur, cur->shape));
    if (!IsElementwise(*cur) || cur->shape.dims != dims)
      return Broken(*cur, "epilogue of output fusion %{} must be elementwise ops of the result shape", f.name);
    const Instruction* chain = nullptr;
    for (const Instruction* o : cur->operands) {
      bool chain_value = o == mm || (IsElementwise(*o) && o->opcode != Opcode::kConstant &&
                                     o->opcode != Opcode::kParameter && !IsScalarConstant(o));
      if (chain_value && o->shape.dims == dims && !chain) {
        chain = o;
        continue;
      }
      if (chain_value && o->shape.dims == dims && o != chain && ++saved_reads <= 1) {
        // One op may read two chain values (x * f(x)): the walk goes on from
        // the later one, which reaches the earlier.
        if (index.at(o) > index.at(chain)) chain = o;
        continue;
      }
      bool residual = o->opcode == Opcode::kParameter && o->parameter_number >= 2 && o->shape.dims == dims;
      bool bias = o->opcode == Opcode::kBroadcast && o->operands[0]->opcode == Opcode::kParameter &&
                  o->operands[0]->parameter_number >= 2 && o->operands[0]->shape.rank() == 1 &&
                  o->dimensions == std::vector<int64_t>{static_cast<int64_t>(dims.size()) - 1};
      if (!residual && !bias && !IsScalarConstant(o))
        return Broken(*cur,
                      "in output fusion %{} operand %{} must be the chain value, a residual parameter, a "
                      "bias broadcast along the last dim, or a scalar constant",
                      f.name, o->name);
    }
    if (!chain) return Broken(*cur, "epilogue op of output fusion %{} does not read the chain", f.name);
    cur = chain;
  }
  return OkStatus();
}

Status CheckInstruction(const Computation& entry, const Instruction& i) {
  RETURN_IF_ERROR(CheckDTypes(i, i.shape));
  if (IsElementwise(i)) return OkStatus();
  switch (i.opcode) {
    case Opcode::kParameter:
    case Opcode::kConstant:
    case Opcode::kBroadcast:
    case Opcode::kReshape:
    case Opcode::kTranspose:
    case Opcode::kSlice:
    case Opcode::kReverse:
    case Opcode::kConcatenate:
    case Opcode::kPad:
      return OkStatus();
    case Opcode::kTuple:
      if (&i != entry.root()) return Broken(i, "a tuple may only be the entry's root");
      return OkStatus();
    case Opcode::kReduce: return CheckReduce(i);
    case Opcode::kDot: return CheckDot(i);
    case Opcode::kConvolution: return CheckConvolution(i);
    case Opcode::kGather: return CheckGather(i);
    case Opcode::kFusion:
      if (i.to_apply == nullptr) return Broken(i, "fusion has no called computation");
      if (i.fusion_kind == FusionKind::kRow) return CheckRowFusion(i);
      return i.fusion_kind == FusionKind::kLoop ? CheckLoopFusion(i) : CheckOutputFusion(i);
    case Opcode::kReduceWindow: return Broken(i, "reduce-window must be decomposed (run decompose)");
    case Opcode::kIota: return Broken(i, "iota must be folded to a constant (run decompose)");
    case Opcode::kDynamicSlice:
      return Broken(i, "dynamic-slice with computed start indices is not supported by the chip");
    default: return Broken(i, "the chip has no lowering for this op");
  }
}

}  // namespace

Status CheckChipForm(const Module& module) {
  const Computation* entry = module.entry();
  if (entry == nullptr) return Error("not in chip form: module {} has no entry computation", module.name());
  for (const auto& inst : entry->instructions()) RETURN_IF_ERROR(CheckInstruction(*entry, *inst));
  return OkStatus();
}

}  // namespace xtpu::compiler
