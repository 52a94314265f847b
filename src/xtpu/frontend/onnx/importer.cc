// ONNX importer: parses the protobuf, makes parameters and constants, runs
// each node's converter (see import_context.h), folds constant subgraphs and
// builds the entry root tuple of the graph outputs.
#include "xtpu/frontend/onnx/importer.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include <onnx/onnx_pb.h>

#include "xtpu/frontend/onnx/constant_folding.h"
#include "xtpu/frontend/onnx/import_context.h"
#include "xtpu/ir/builder.h"
#include "xtpu/ir/verifier.h"

namespace xtpu {

namespace {

using onnx_import::Converters;
using onnx_import::ImportContext;
using onnx_import::SanitizeName;

// Outputs larger than this are not folded at import time.
constexpr int64_t kMaxFoldElements = 65536;
// Nor are nodes whose evaluation would take more than this many steps
// (a small output can still be costly: a huge window, a long contraction).
constexpr int64_t kMaxFoldWork = int64_t{1} << 24;
// And folding stops once the whole import has spent this many.
constexpr int64_t kMaxTotalFoldWork = int64_t{1} << 27;

int64_t SaturatingMul(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<int64_t>::max() : r;
}

// Rough number of evaluator steps for one instruction.
int64_t EvalWork(const Instruction& inst) {
  auto elems = [](const Shape& s) {
    if (!s.is_tuple) return s.num_elements();
    int64_t n = 0;
    for (const Shape& e : s.tuple) n = SaturatingAdd(n, e.num_elements());
    return n;
  };
  int64_t out = elems(inst.shape);
  int64_t per = 1;
  switch (inst.opcode) {
    case Opcode::kDot:
      for (int64_t d : inst.dot_dims.lhs_contracting)
        per = SaturatingMul(per, inst.operands[0]->shape.dims[d]);
      break;
    case Opcode::kConvolution: {
      const Shape& k = inst.operands[1]->shape;
      per = k.dims[inst.conv_dims.kernel_input_feature];
      for (int64_t d : inst.conv_dims.kernel_spatial) per = SaturatingMul(per, k.dims[d]);
      break;
    }
    case Opcode::kReduceWindow:
      for (const WindowDim& w : inst.window) per = SaturatingMul(per, w.size);
      break;
    default:
      break;
  }
  int64_t work = SaturatingMul(SaturatingAdd(out, 1), per);
  for (const Instruction* op : inst.operands) work = SaturatingAdd(work, elems(op->shape));
  return work;
}

class GraphImporter {
 public:
  GraphImporter(const onnx::ModelProto& model, std::string file, const OnnxImportOptions& options)
      : model_(model), file_(std::move(file)), options_(options) {}

  StatusOr<std::unique_ptr<Module>> Run();

 private:
  Status ReadOpsets();
  Status AddInputs();
  Status ImportNode(const onnx::NodeProto& node, int index);
  Status AddOutputs();
  Instruction* Lookup(const std::string& name);
  Status Fail(const Status& s) const { return s.WithPrefix(file_); }

  const onnx::ModelProto& model_;
  std::string file_;
  OnnxImportOptions options_;
  int64_t opset_ = -1;
  std::unique_ptr<Module> module_;
  Computation* entry_ = nullptr;
  std::unique_ptr<Builder> builder_;
  std::unordered_map<std::string, const onnx::TensorProto*> initializers_;
  std::unordered_map<std::string, Instruction*> values_;
  // Instructions already renamed after an ONNX value.
  std::unordered_set<const Instruction*> named_;
  Status lookup_status_;
  int64_t fold_work_ = 0;  // evaluator steps spent on folding so far
};

Status GraphImporter::ReadOpsets() {
  for (const auto& op : model_.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") opset_ = op.version();
  }
  if (opset_ < 0) {
    if (model_.opset_import_size() == 0) {
      return Error("the model declares no opset_import");
    }
    return Unimplemented("the model does not import the default ONNX domain (only {})",
                         model_.opset_import(0).domain());
  }
  return OkStatus();
}

Instruction* GraphImporter::Lookup(const std::string& name) {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  auto it = initializers_.find(name);
  if (it == initializers_.end()) return nullptr;
  // Initializers become constants on first use.
  auto lit = TensorProtoToLiteral(*it->second);
  if (!lit.ok()) {
    if (lookup_status_.ok()) lookup_status_ = lit.status();
    return nullptr;
  }
  auto c = builder_->Constant(std::move(*lit), SanitizeName(name));
  if (!c.ok()) {
    if (lookup_status_.ok()) lookup_status_ = c.status();
    return nullptr;
  }
  named_.insert(*c);
  values_[name] = *c;
  return *c;
}

Status GraphImporter::AddInputs() {
  const auto& g = model_.graph();
  for (const auto& init : g.initializer()) initializers_[init.name()] = &init;
  if (g.sparse_initializer_size() > 0)
    return Unimplemented("sparse initializers are not supported");
  int64_t number = 0;
  for (const auto& in : g.input()) {
    if (initializers_.count(in.name())) continue;
    if (auto c = options_.constant_inputs.find(in.name()); c != options_.constant_inputs.end()) {
      ASSIGN_OR_RETURN(Instruction * k, builder_->Constant(c->second, SanitizeName(in.name())));
      named_.insert(k);
      values_[in.name()] = k;
      continue;
    }
    std::string what = fmt::format("graph input '{}'", in.name());
    if (!in.type().has_tensor_type())
      return Unimplemented("{} is not a tensor", what);
    const auto& tt = in.type().tensor_type();
    ASSIGN_OR_RETURN(DType dtype, onnx_import::DTypeFromOnnx(tt.elem_type(), what));
    if (!tt.has_shape()) return Unimplemented("{} has no shape (rank unknown)", what);
    std::vector<int64_t> dims;
    for (const auto& d : tt.shape().dim()) {
      dims.push_back(d.has_dim_value() && d.dim_value() >= 0 ? d.dim_value() : options_.default_dim);
    }
    // Checked here so the error names the input (the IR refuses them too).
    int64_t n = 1;
    for (int64_t d : dims) {
      if (d != 0 && (!onnx_import::CheckedMul(n, d, &n) || n > onnx_import::kMaxTensorElements))
        return Error("{} has shape {} with more than 2^31 elements, which xtpu does not support",
                     what, Shape(dtype, dims).ToString());
    }
    ASSIGN_OR_RETURN(Instruction * p,
                     builder_->Parameter(number++, Shape(dtype, dims), SanitizeName(in.name())));
    named_.insert(p);
    values_[in.name()] = p;
  }
  return OkStatus();
}

Status GraphImporter::ImportNode(const onnx::NodeProto& node, int index) {
  const std::string node_name = node.name().empty() ? fmt::format("#{}", index) : node.name();
  if (!node.domain().empty() && node.domain() != "ai.onnx") {
    return Unimplemented("unsupported ONNX op '{}' of domain '{}' (node '{}')", node.op_type(),
                         node.domain(), node_name);
  }
  const auto& table = Converters();
  auto it = table.find(node.op_type());
  if (it == table.end()) {
    return Unimplemented("unsupported ONNX op '{}' (node '{}', opset {})", node.op_type(),
                         node_name, opset_);
  }
  ImportContext ctx(module_.get(), builder_.get(), node, opset_,
                    [this](const std::string& n) { return Lookup(n); });
  const size_t start = entry_->instructions().size();
  Status st = it->second(ctx);
  // A bad initializer found during lookup explains a converter's failure best.
  if (!lookup_status_.ok()) st = lookup_status_;
  if (st.ok()) st = ctx.CheckAllAttributesHandled();
  if (!st.ok()) {
    // Builder errors do not know the node; say which one.
    if (st.message().find(ctx.Label()) == std::string::npos) st = st.WithPrefix(ctx.Label());
    return st;
  }
  std::vector<Instruction*> outs = ctx.outputs();
  for (int i = 0; i < node.output_size(); ++i) {
    if (ctx.has_output(i) && !outs[i])
      return ctx.Unimplemented("output {} ('{}') is not supported", i, node.output(i));
  }

  // Fold: all inputs constant and the results small -> constants.
  bool all_const = true;
  for (int i = 0; i < node.input_size(); ++i)
    if (ctx.has_input(i) && !ctx.InputConstant(i)) all_const = false;
  bool needs_fold = false, small = true;
  // Dequantized weights stay (convert - zero point) * scale, so that the
  // compiler's int8-matmul pass finds the s8 values behind them.
  if (node.op_type() == "DequantizeLinear") all_const = false;
  std::vector<Instruction*> fold_outs;
  for (int i = 0; i < node.output_size(); ++i) {
    if (!outs[i]) continue;
    fold_outs.push_back(outs[i]);
    if (outs[i]->opcode != Opcode::kConstant) needs_fold = true;
    if (outs[i]->shape.is_tuple || outs[i]->shape.num_elements() > kMaxFoldElements) small = false;
  }
  int64_t work = 0;
  if (all_const && needs_fold && small) {
    const auto& insts = entry_->instructions();
    for (size_t i = start; i < insts.size(); ++i) work = SaturatingAdd(work, EvalWork(*insts[i]));
  }
  if (all_const && needs_fold && small && work <= kMaxFoldWork &&
      fold_work_ + work <= kMaxTotalFoldWork && entry_->instructions().size() > start) {
    fold_work_ += work;
    auto lits = onnx_import::EvaluateInstructions(*entry_, start, fold_outs);
    if (lits.ok()) {
      // Drop the evaluated instructions except constants (initializers
      // created on first use live there too), then add the results.
      auto& insts = entry_->mutable_instructions();
      std::vector<std::unique_ptr<Instruction>> kept;
      for (size_t i = start; i < insts.size(); ++i)
        if (insts[i]->opcode == Opcode::kConstant) kept.push_back(std::move(insts[i]));
      insts.resize(start);
      std::unordered_map<Instruction*, Instruction*> replaced;
      for (auto& k : kept) {
        Instruction* raw = k.get();
        replaced[raw] = raw;
        insts.push_back(std::move(k));
      }
      size_t j = 0;
      for (int i = 0; i < node.output_size(); ++i) {
        if (!outs[i]) continue;
        Literal& lit = (*lits)[j++];
        if (auto r = replaced.find(outs[i]); r != replaced.end()) continue;
        ASSIGN_OR_RETURN(Instruction * c, builder_->Constant(std::move(lit), SanitizeName(node.output(i))));
        named_.insert(c);
        outs[i] = c;
      }
    }
  }

  for (int i = 0; i < node.output_size(); ++i) {
    Instruction* v = outs[i];
    if (!v) continue;
    // Name fresh instructions after the ONNX value they compute.
    bool fresh = false;
    const auto& insts = entry_->instructions();
    for (size_t k = start; k < insts.size(); ++k)
      if (insts[k].get() == v) fresh = true;
    if (fresh && !named_.count(v)) {
      v->name = module_->UniqueName(SanitizeName(node.output(i)));
      named_.insert(v);
    }
    values_[node.output(i)] = v;
  }
  return OkStatus();
}

Status GraphImporter::AddOutputs() {
  std::vector<Instruction*> outs;
  std::unordered_set<Instruction*> used;
  for (const auto& o : model_.graph().output()) {
    Instruction* v = Lookup(o.name());
    RETURN_IF_ERROR(lookup_status_);
    if (!v) return Error("graph output '{}' is not computed by any node", o.name());
    std::string want = SanitizeName(o.name());
    bool leaf = v->opcode == Opcode::kParameter || v->opcode == Opcode::kConstant;
    if (leaf || used.count(v) || (v->name != want && module_->IsNameUsed(want))) {
      ASSIGN_OR_RETURN(v, builder_->Unary(Opcode::kCopy, v));
      v->name = module_->UniqueName(want);
    } else if (v->name != want) {
      v->name = module_->UniqueName(want);
    }
    used.insert(v);
    outs.push_back(v);
  }
  if (outs.empty()) return Error("the graph has no outputs");
  ASSIGN_OR_RETURN(Instruction * root, builder_->Tuple(outs));
  entry_->set_root(root);
  return OkStatus();
}

StatusOr<std::unique_ptr<Module>> GraphImporter::Run() {
  RETURN_IF_ERROR(Fail(ReadOpsets()));
  const auto& g = model_.graph();
  module_ = std::make_unique<Module>(SanitizeName(g.name().empty() ? "model" : g.name()));
  entry_ = module_->AddComputation(std::make_unique<Computation>("main"));
  module_->set_entry(entry_);
  builder_ = std::make_unique<Builder>(module_.get(), entry_);
  RETURN_IF_ERROR(Fail(AddInputs()));
  for (int i = 0; i < g.node_size(); ++i) RETURN_IF_ERROR(Fail(ImportNode(g.node(i), i)));
  RETURN_IF_ERROR(Fail(AddOutputs()));
  Status v = Verify(*module_);
  if (!v.ok()) {
    return Status::Error(file_ + ": internal error: imported module does not verify: " + v.message(),
                         StatusCode::kInternal);
  }
  return std::move(module_);
}

}  // namespace

StatusOr<std::unique_ptr<Module>> ImportOnnxBytes(const std::string& bytes,
                                                  const std::string& name_for_errors,
                                                  const OnnxImportOptions& options) {
  onnx::ModelProto model;
  if (!model.ParseFromString(bytes)) {
    return Error("{}: not a valid ONNX model (protobuf parse failed)", name_for_errors);
  }
  if (!model.has_graph()) return Error("{}: not a valid ONNX model (no graph)", name_for_errors);
  GraphImporter importer(model, name_for_errors, options);
  return importer.Run();
}

StatusOr<std::unique_ptr<Module>> ImportOnnxFile(const std::string& path,
                                                 const OnnxImportOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return NotFound("{}: cannot open: {}", path, std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Error("{}: read failed", path);
  return ImportOnnxBytes(ss.str(), path, options);
}

}  // namespace xtpu
