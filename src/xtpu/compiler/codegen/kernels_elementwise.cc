// Elementwise kernels: a standalone unary/binary/compare/select/clamp/
// convert, or a loop fusion (parameters, broadcasts of parameters, scalar
// constants and elementwise ops), computed tile by tile on the vector unit
// (EmitMapJob with a TileProgram from vpu_graph.cc).
#include <map>

#include "xtpu/compiler/codegen/kernels.h"
#include "xtpu/compiler/codegen/vpu_graph.h"

namespace xtpu::codegen {
namespace {

bool IsElementwise(const Instruction& i) {
  OpKind k = OpcodeKind(i.opcode);
  return k == OpKind::kUnary || k == OpKind::kBinary || i.opcode == Opcode::kCompare ||
         i.opcode == Opcode::kSelect || i.opcode == Opcode::kClamp || i.opcode == Opcode::kConvert;
}

// Collects the graph's inputs (deduplicated views of the output's dims).
class GraphBuilder {
 public:
  GraphBuilder(const View& out, DType out_dtype) : out_(out) { g_.out_dtype = out_dtype; }

  // v0: the value's chip view; ir: its IR dtype (pred for a view of words).
  StatusOr<int> AddView(const View& v0, DType ir, const std::string& what) {
    View v = WordView(v0);
    if (v.dims != out_.dims) {
      if (v.elements() != 1) return Error("{}: operand {} does not match the output's dims", what, v0.ToString());
      View b;
      b.base = v.base;
      b.dtype = v.dtype;
      b.dims = out_.dims;
      b.strides.assign(out_.dims.size(), 0);
      v = b;
    }
    int idx = -1;
    for (size_t i = 0; i < views_.size(); ++i)
      if (views_[i].base == v.base && views_[i].strides == v.strides && views_[i].dtype == v.dtype)
        idx = static_cast<int>(i);
    if (idx < 0) {
      idx = static_cast<int>(views_.size());
      views_.push_back(v);
      g_.input_dtypes.push_back(v.dtype);
    }
    ElemNode n;
    n.kind = ElemNode::kInput;
    n.dtype = ir;
    n.input = idx;
    return Add(n);
  }
  int AddConst(const Literal& l) {
    ElemNode n;
    n.kind = ElemNode::kConst;
    n.dtype = l.dtype();
    n.bits = ScalarBits(l);
    return Add(n);
  }
  int AddOp(const Instruction* inst, std::vector<int> operands) {
    ElemNode n;
    n.kind = ElemNode::kOp;
    n.dtype = inst->shape.dtype;
    n.inst = inst;
    n.operands = std::move(operands);
    return Add(n);
  }
  int Add(ElemNode n) {
    g_.nodes.push_back(std::move(n));
    return static_cast<int>(g_.nodes.size()) - 1;
  }
  ElemGraph& graph() { return g_; }
  const std::vector<View>& views() const { return views_; }

 private:
  View out_;
  ElemGraph g_;
  std::vector<View> views_;
};

Status RunGraph(LoweringContext& ctx, const std::string& name, const std::string& op, GraphBuilder& gb,
                const View& out) {
  ElemGraph g = gb.graph();
  std::string what = name;
  MapJob job;
  job.name = name;
  job.out = WordView(out);
  job.inputs = gb.views();
  job.mode = MapJob::Mode::kProgram;
  job.build = [g, what](const std::vector<bool>& rows) { return BuildElementwiseProgram(g, rows, what); };
  // Check the ops before emitting anything.
  RETURN_IF_ERROR(BuildElementwiseProgram(g, std::vector<bool>(job.inputs.size(), false), what).status());
  ctx.em().BeginKernel(name, op);
  Status s = EmitMapJob(ctx, job);
  Status e = ctx.em().EndKernel();
  RETURN_IF_ERROR(s);
  return e;
}

// A scalar constant operand (folded into immediates), or -1.
const Literal* ScalarConstant(LoweringContext& ctx, const Instruction* inst) {
  const Literal* l = ctx.ConstantValue(inst);
  return (l != nullptr && l->num_elements() == 1) ? l : nullptr;
}

}  // namespace

Status EmitElementwise(LoweringContext& ctx, const Instruction& inst, const View& out) {
  if (!IsElementwise(inst)) return Error("elementwise kernel: '{}' is a {}", inst.name, OpcodeName(inst.opcode));
  GraphBuilder gb(out, inst.shape.dtype);
  std::vector<int> ops;
  for (const Instruction* o : inst.operands) {
    if (const Literal* l = ScalarConstant(ctx, o)) {
      ops.push_back(gb.AddConst(*l));
      continue;
    }
    ASSIGN_OR_RETURN(View v, ctx.ValueView(o));
    ASSIGN_OR_RETURN(int id, gb.AddView(v, o->shape.dtype, inst.name));
    ops.push_back(id);
  }
  gb.graph().root = gb.AddOp(&inst, ops);
  return RunGraph(ctx, inst.name, std::string(OpcodeName(inst.opcode)), gb, out);
}

Status EmitLoopFusion(LoweringContext& ctx, const Instruction& inst, const View& out) {
  const Computation* comp = inst.to_apply;
  if (comp == nullptr || inst.fusion_kind != FusionKind::kLoop)
    return Error("loop fusion '{}': no loop-fusion computation", inst.name);
  ASSIGN_OR_RETURN(bool window, TryEmitWindowReduce(ctx, inst, out));
  if (window) return OkStatus();
  GraphBuilder gb(out, inst.shape.dtype);
  // Per fused instruction: a node id, or a view not yet used (parameters and
  // their broadcasts), or a constant.
  std::map<const Instruction*, int> node;
  std::map<const Instruction*, View> view;  // chip view; IR dtype from the instruction
  std::map<const Instruction*, const Literal*> scalar;
  std::string ops_desc;
  auto node_of = [&](const Instruction* i) -> StatusOr<int> {
    if (auto it = node.find(i); it != node.end()) return it->second;
    if (auto it = scalar.find(i); it != scalar.end()) return node[i] = gb.AddConst(*it->second);
    if (auto it = view.find(i); it != view.end()) {
      ASSIGN_OR_RETURN(int id, gb.AddView(it->second, i->shape.dtype, inst.name));
      return node[i] = id;
    }
    return Error("loop fusion '{}': operand '{}' is not supported", inst.name, i->name);
  };
  for (const auto& up : comp->instructions()) {
    const Instruction* i = up.get();
    switch (i->opcode) {
      case Opcode::kParameter: {
        int64_t p = i->parameter_number;
        if (p < 0 || p >= static_cast<int64_t>(inst.operands.size()))
          return Error("loop fusion '{}': bad parameter {}", inst.name, p);
        const Instruction* arg = inst.operands[p];
        if (const Literal* l = ScalarConstant(ctx, arg)) {
          scalar[i] = l;
          break;
        }
        ASSIGN_OR_RETURN(View v, ctx.ValueView(arg));
        view[i] = v;
        break;
      }
      case Opcode::kConstant:
        if (i->literal.num_elements() == 1) {
          scalar[i] = &i->literal;
        } else {
          ASSIGN_OR_RETURN(View v, ctx.ValueView(i));
          view[i] = v;
        }
        break;
      case Opcode::kBroadcast:
      case Opcode::kReshape: {
        const Instruction* x = i->operand(0);
        if (scalar.count(x) && i->shape.num_elements() >= 1) {
          scalar[i] = scalar[x];
        } else if (view.count(x)) {
          View v = view[x];
          if (i->opcode == Opcode::kBroadcast) {
            v = v.Broadcast(i->shape.dims, i->dimensions);
          } else {
            ASSIGN_OR_RETURN(v, v.Reshape(i->shape.dims));
          }
          view[i] = v;
        } else {
          return Error("loop fusion '{}': {} '{}' of a computed value is not supported", inst.name,
                       OpcodeName(i->opcode), i->name);
        }
        break;
      }
      default: {
        if (!IsElementwise(*i))
          return Error("loop fusion '{}': fused '{}' ({}) is not elementwise", inst.name, i->name,
                       OpcodeName(i->opcode));
        std::vector<int> ops;
        for (const Instruction* o : i->operands) {
          ASSIGN_OR_RETURN(int id, node_of(o));
          ops.push_back(id);
        }
        node[i] = gb.AddOp(i, ops);
        if (!ops_desc.empty()) ops_desc += "+";
        ops_desc += OpcodeName(i->opcode);
        break;
      }
    }
  }
  ASSIGN_OR_RETURN(int root, node_of(comp->root()));
  gb.graph().root = root;
  return RunGraph(ctx, inst.name, "fusion(loop: " + ops_desc + ")", gb, out);
}

}  // namespace xtpu::codegen
