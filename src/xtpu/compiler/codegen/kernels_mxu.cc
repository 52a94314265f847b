// Output fusions (fusion kind=output): one dot or convolution on parameters
// 0 and 1 of the called computation, then a chain of elementwise ops applied
// on the f32 output tile in VMEM before it is stored (see mxu_gemm.h).
//
// Chain ops: add, subtract, multiply, divide, maximum, minimum with, as the
// other operand, a scalar constant (or a broadcast of one), a bias (a
// broadcast of a parameter along the last dim) or a residual (a parameter of
// the output's shape); clamp with scalar-constant bounds.
#include <algorithm>
#include <map>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/mxu_sources.h"

namespace xtpu::codegen {
namespace {

using mxu::EpilogueOp;

// A scalar constant, directly or broadcast; nullopt otherwise.
std::optional<float> ScalarConstant(const Instruction* i) {
  if (i->opcode == Opcode::kBroadcast) i = i->operand(0);
  if (i->opcode != Opcode::kConstant || i->literal.num_elements() != 1) return std::nullopt;
  return static_cast<float>(i->literal.GetAsDouble(0));
}

std::optional<isa::BinOp> ChainBinOp(Opcode op) {
  switch (op) {
    case Opcode::kAdd: return isa::BinOp::kAdd;
    case Opcode::kSubtract: return isa::BinOp::kSub;
    case Opcode::kMultiply: return isa::BinOp::kMul;
    case Opcode::kDivide: return isa::BinOp::kDiv;
    case Opcode::kMaximum: return isa::BinOp::kMax;
    case Opcode::kMinimum: return isa::BinOp::kMin;
    default: return std::nullopt;
  }
}

std::optional<isa::UnOp> ChainUnOp(Opcode op) {
  switch (op) {
    case Opcode::kExp: return isa::UnOp::kExp;
    case Opcode::kLog: return isa::UnOp::kLog;
    case Opcode::kTanh: return isa::UnOp::kTanh;
    case Opcode::kLogistic: return isa::UnOp::kLogistic;
    case Opcode::kSqrt: return isa::UnOp::kSqrt;
    case Opcode::kRsqrt: return isa::UnOp::kRsqrt;
    case Opcode::kErf: return isa::UnOp::kErf;
    case Opcode::kNegate: return isa::UnOp::kNeg;
    case Opcode::kAbs: return isa::UnOp::kAbs;
    default: return std::nullopt;
  }
}

struct ParsedFusion {
  const Instruction* core = nullptr;  // the dot or convolution
  struct Op {
    EpilogueOp op;
    int64_t param = -1;  // fusion operand of a bias or residual
  };
  std::vector<Op> ops;
};

StatusOr<ParsedFusion> ParseOutputFusion(const Instruction& fusion) {
  const Computation* comp = fusion.to_apply;
  if (!comp) return Error("fusion '{}': no called computation", fusion.name);
  ParsedFusion pf;
  for (const auto& i : comp->instructions())
    if (i->opcode == Opcode::kDot || i->opcode == Opcode::kConvolution) {
      if (pf.core) return Unimplemented("fusion '{}': more than one dot/convolution", fusion.name);
      pf.core = i.get();
    }
  if (!pf.core || pf.core->operand(0)->opcode != Opcode::kParameter || pf.core->operand(1)->opcode != Opcode::kParameter ||
      pf.core->operand(0)->parameter_number != 0 || pf.core->operand(1)->parameter_number != 1)
    return Unimplemented("fusion '{}': an output fusion needs a dot or convolution of parameters 0 and 1", fusion.name);
  const Instruction* cur = pf.core;
  const int rank = static_cast<int>(pf.core->shape.rank());
  auto bad = [&](const Instruction* i, const char* why) {
    return Unimplemented("fusion '{}': epilogue op '{}' ({}) is not supported: {}", fusion.name, i->name,
                         OpcodeName(i->opcode), why);
  };
  // Readers of each value: a chain value read twice (by the next op and by
  // a later op of the chain) is saved (GELU: x * f(x)).
  std::map<const Instruction*, int> readers;
  for (const auto& up : comp->instructions())
    for (const Instruction* o : up->operands) readers[o]++;
  const Instruction* saved = nullptr;
  for (const auto& up : comp->instructions()) {
    const Instruction* i = up.get();
    auto uses = std::count(i->operands.begin(), i->operands.end(), cur);
    if (uses == 0) continue;
    if (i->shape != pf.core->shape) return bad(i, "it changes the shape or dtype");
    if (readers[cur] == 2 && saved == nullptr && uses == 1) {
      ParsedFusion::Op e;
      e.op.kind = EpilogueOp::kSave;
      pf.ops.push_back(e);
      saved = cur;
    } else if (readers[cur] > 1 && !(saved == cur && readers[cur] == 2)) {
      return bad(i, "a chain value with more readers than the next op and one later op");
    }
    if (i->operands.size() == 1) {
      auto u = ChainUnOp(i->opcode);
      if (!u || (i->shape.dtype != DType::kF32 && i->shape.dtype != DType::kBF16))
        return bad(i, "not a float unary op of the vector unit");
      ParsedFusion::Op e;
      e.op.kind = EpilogueOp::kUnary;
      e.op.unop = *u;
      pf.ops.push_back(e);
      cur = i;
      continue;
    }
    if (saved != nullptr && i->operands.size() == 2 && uses == 1 &&
        (i->operand(0) == saved || i->operand(1) == saved) && saved != cur) {
      auto op = ChainBinOp(i->opcode);
      if (!op) return bad(i, "not a binary op of the vector unit");
      ParsedFusion::Op e;
      e.op.kind = EpilogueOp::kSaved;
      e.op.op = *op;
      e.op.reversed = i->operand(0) == saved;
      pf.ops.push_back(e);
      cur = i;
      continue;
    }
    if (i->opcode == Opcode::kClamp) {
      auto lo = ScalarConstant(i->operand(0)), hi = ScalarConstant(i->operand(2));
      if (i->operand(1) != cur || !lo || !hi) return bad(i, "clamp bounds must be scalar constants");
      for (auto [op, imm] : {std::pair{isa::BinOp::kMax, *lo}, std::pair{isa::BinOp::kMin, *hi}}) {
        ParsedFusion::Op e;
        e.op.kind = EpilogueOp::kBinaryImm;
        e.op.op = op;
        e.op.imm = imm;
        pf.ops.push_back(e);
      }
      cur = i;
      continue;
    }
    auto op = ChainBinOp(i->opcode);
    if (!op || uses != 1) return bad(i, "not a binary op of the chain and one other operand");
    const bool reversed = i->operand(1) == cur;
    const Instruction* other = reversed ? i->operand(0) : i->operand(1);
    ParsedFusion::Op e;
    e.op.op = *op;
    e.op.reversed = reversed;
    if (auto c = ScalarConstant(other)) {
      e.op.kind = EpilogueOp::kBinaryImm;
      e.op.imm = *c;
      if (reversed && *op != isa::BinOp::kSub) {
        if (*op == isa::BinOp::kDiv) return bad(i, "a constant divided by the result");
        e.op.reversed = false;  // commutative
      }
    } else if (other->opcode == Opcode::kBroadcast && other->operand(0)->opcode == Opcode::kParameter &&
               other->operand(0)->shape.rank() == 1 && other->dimensions == std::vector<int64_t>{rank - 1}) {
      e.op.kind = EpilogueOp::kBias;
      e.param = other->operand(0)->parameter_number;
    } else if (other->opcode == Opcode::kParameter && other->shape == pf.core->shape) {
      e.op.kind = EpilogueOp::kResidual;
      e.param = other->parameter_number;
    } else {
      return bad(i, "the other operand must be a scalar constant, a bias broadcast along the last dim, or a residual");
    }
    if (e.param >= 0 && e.param < 2) return bad(i, "the bias/residual must not be the dot's own operands");
    if (e.op.kind == EpilogueOp::kBias &&
        std::any_of(pf.ops.begin(), pf.ops.end(), [](const ParsedFusion::Op& o) { return o.op.kind == EpilogueOp::kBias; }))
      return bad(i, "only one bias vector per fusion");
    if (e.op.kind == EpilogueOp::kResidual &&
        std::any_of(pf.ops.begin(), pf.ops.end(), [](const ParsedFusion::Op& o) { return o.op.kind == EpilogueOp::kResidual; }))
      return bad(i, "only one residual operand per fusion");
    pf.ops.push_back(e);
    cur = i;
  }
  if (cur != comp->root()) return Unimplemented("fusion '{}': the epilogue is not a single chain to the root", fusion.name);
  return pf;
}

std::string FusionOpName(const ParsedFusion& pf) {
  std::string s = "fusion(output: ";
  s += OpcodeName(pf.core->opcode);
  for (const auto& o : pf.ops) {
    s += "+";
    s += o.op.kind == EpilogueOp::kBias       ? "bias"
         : o.op.kind == EpilogueOp::kResidual ? "residual"
         : o.op.kind == EpilogueOp::kUnary    ? "unary"
         : o.op.kind == EpilogueOp::kSave     ? "save"
         : o.op.kind == EpilogueOp::kSaved    ? "saved"
                                              : "imm";
  }
  return s + ")";
}

}  // namespace

Status EmitOutputFusion(LoweringContext& ctx, const Instruction& inst, const View& out) {
  ASSIGN_OR_RETURN(ParsedFusion pf, ParseOutputFusion(inst));
  if (inst.shape.dtype != DType::kF32 && inst.shape.dtype != DType::kBF16)
    return Unimplemented("fusion '{}': only f32 and bf16 results are lowered to the matrix unit", inst.name);
  const Instruction* a = inst.operand(0);
  const Instruction* b = inst.operand(1);
  std::vector<EpilogueOp> epilogue;
  for (const auto& o : pf.ops) {
    EpilogueOp e = o.op;
    if (o.param >= 0) {
      if (o.param >= static_cast<int64_t>(inst.operands.size())) return Error("fusion '{}': bad parameter", inst.name);
      const Instruction* operand = inst.operand(static_cast<int>(o.param));
      const Literal* lit = ctx.ConstantValue(operand);
      if (e.kind == EpilogueOp::kBias && lit && lit->dtype() == DType::kBF16) {
        // A bf16 bias vector (a bf16 model's): f32 in the constants, exactly.
        Literal f(Shape(DType::kF32, lit->shape().dims));
        for (int64_t i = 0; i < f.num_elements(); ++i) f.SetFromDouble(i, lit->GetAsDouble(i));
        ASSIGN_OR_RETURN(e.operand, ctx.AddConstant("f32:" + operand->name, f));
      } else {
        ASSIGN_OR_RETURN(e.operand, ctx.ValueView(operand));
      }
      if (e.operand.dtype != DType::kF32 && !(e.kind == EpilogueOp::kResidual && e.operand.dtype == DType::kBF16))
        return Unimplemented("fusion '{}': epilogue operand '{}' is {}: a bias must be f32 or a bf16 constant, a "
                             "residual f32 or bf16",
                             inst.name, operand->name, DTypeName(e.operand.dtype));
    }
    epilogue.push_back(e);
  }
  mxu::SimplifyEpilogue(&epilogue);
  const std::string opname = FusionOpName(pf);
  if (pf.core->opcode == Opcode::kConvolution) {
    // Check on the fused convolution, whose operands are parameters.
    RETURN_IF_ERROR(mxu::CheckConv(*pf.core, inst.name));
    if (mxu::IsDepthwise(*pf.core))
      return mxu::EmitDepthwise(ctx, inst.name, opname, *pf.core, a, b, out, epilogue);
  }
  mxu::PreparedGemm p;
  if (pf.core->opcode == Opcode::kDot) {
    ASSIGN_OR_RETURN(p, mxu::PrepareDot(ctx, *pf.core, a, b));
  } else {
    std::vector<View> outputs = {out};
    for (const EpilogueOp& e : epilogue)
      if (e.kind == EpilogueOp::kResidual) outputs.push_back(e.operand);
    ASSIGN_OR_RETURN(p, mxu::PrepareConv(ctx, *pf.core, a, b, outputs));
  }
  for (EpilogueOp& e : epilogue) {
    if (e.kind == EpilogueOp::kBias) e.operand = p.bias(e.operand);
    if (e.kind == EpilogueOp::kResidual) {
      ASSIGN_OR_RETURN(e.operand, p.canon(e.operand));
    }
  }
  mxu::GemmJob job;
  job.name = inst.name;
  job.op = opname;
  ASSIGN_OR_RETURN(job.out, p.canon(out));
  job.source = p.source.get();
  job.epilogue = std::move(epilogue);
  return mxu::EmitGemmSplitK(ctx, std::move(job), p, InstructionFlops(inst));
}

}  // namespace xtpu::codegen
