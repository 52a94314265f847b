// ImportContext: attribute getters, input access and broadcasting helpers
// shared by all ONNX op converters; and the converter registry.
#include "xtpu/frontend/onnx/import_context.h"

#include <cmath>
#include <limits>

#include "xtpu/frontend/onnx/importer.h"

namespace xtpu::onnx_import {

namespace {
std::string JoinInts(const std::vector<int64_t>& v) {
  return fmt::format("[{}]", fmt::join(v, ","));
}
}  // namespace

std::string OnnxTypeName(int32_t t) {
  if (onnx::TensorProto_DataType_IsValid(t))
    return onnx::TensorProto_DataType_Name(static_cast<onnx::TensorProto_DataType>(t));
  return fmt::format("type {}", t);
}

StatusOr<DType> DTypeFromOnnx(int32_t t, std::string_view what) {
  switch (t) {
    case onnx::TensorProto::FLOAT: return DType::kF32;
    case onnx::TensorProto::FLOAT16: return DType::kF16;
    case onnx::TensorProto::BFLOAT16: return DType::kBF16;
    case onnx::TensorProto::INT8: return DType::kS8;
    case onnx::TensorProto::UINT8: return DType::kU8;
    case onnx::TensorProto::INT32: return DType::kS32;
    case onnx::TensorProto::INT64: return DType::kS64;
    case onnx::TensorProto::BOOL: return DType::kPred;
    default:
      return Unimplemented("{}: element type {} is not supported (xtpu has f32, f16, bf16, int8, "
                           "uint8, int32, int64, bool)",
                           what, OnnxTypeName(t));
  }
}

std::string SanitizeName(std::string_view name) {
  if (name.empty()) return "v";
  std::string s(name);
  for (char& c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '/' || c == ':';
    if (!ok) c = '_';
  }
  return s;
}

double LowestValue(DType t) {
  switch (t) {
    case DType::kPred: return 0;
    case DType::kS8: return -128;
    case DType::kU8: return 0;
    case DType::kS32: return std::numeric_limits<int32_t>::min();
    case DType::kS64: return static_cast<double>(std::numeric_limits<int64_t>::min());
    default: return -std::numeric_limits<double>::infinity();
  }
}

double HighestValue(DType t) {
  switch (t) {
    case DType::kPred: return 1;
    case DType::kS8: return 127;
    case DType::kU8: return 255;
    case DType::kS32: return std::numeric_limits<int32_t>::max();
    case DType::kS64: return 9.2233720368547758e18;
    default: return std::numeric_limits<double>::infinity();
  }
}

ImportContext::ImportContext(Module* module, Builder* builder, const onnx::NodeProto& node,
                             int64_t opset, std::function<Instruction*(const std::string&)> lookup)
    : module_(module), builder_(builder), node_(node), opset_(opset), lookup_(std::move(lookup)) {
  node_name_ = node.name();
  if (node_name_.empty() && node.output_size() > 0) node_name_ = node.output(0);
  outputs_.assign(node.output_size(), nullptr);
}

std::string ImportContext::Label() const {
  return fmt::format("{} node '{}' (opset {})", op_type(), node_name_, opset_);
}

Status ImportContext::UnsupportedAttr(std::string_view attr, std::string_view value) const {
  return Unimplemented("attribute '{}' = {} is not supported", attr, value);
}

StatusOr<Instruction*> ImportContext::Input(int i) {
  if (!has_input(i)) return Error("input {} is missing", i);
  Instruction* v = lookup_(node_.input(i));
  if (!v) return Error("input {} ('{}') is not defined before this node", i, node_.input(i));
  return v;
}

const Literal* ImportContext::InputConstant(int i) {
  if (!has_input(i)) return nullptr;
  Instruction* v = lookup_(node_.input(i));
  if (!v || v->opcode != Opcode::kConstant) return nullptr;
  return &v->literal;
}

StatusOr<const Literal*> ImportContext::ConstantInput(int i, std::string_view what) {
  if (!has_input(i)) return Error("input {} ({}) is missing", i, what);
  const Literal* l = InputConstant(i);
  if (!l) {
    return Status::Error(
        fmt::format("input {} ({}) of {} must be a constant (xtpu needs static shapes)", i, what,
                    Label()),
        StatusCode::kUnimplemented);
  }
  return l;
}

StatusOr<std::vector<int64_t>> ImportContext::ConstantInts(int i, std::string_view what) {
  ASSIGN_OR_RETURN(const Literal* l, ConstantInput(i, what));
  if (l->shape().rank() > 1) return Error("input {} ({}) must be a scalar or 1-D", i, what);
  if (!IsInteger(l->dtype()))
    return Error("input {} ({}) must hold integers, not {}", i, what, DTypeName(l->dtype()));
  std::vector<int64_t> v(l->num_elements());
  for (int64_t k = 0; k < l->num_elements(); ++k) v[k] = l->GetAsInt64(k);
  return v;
}

StatusOr<double> ImportContext::ConstantScalar(int i, std::string_view what) {
  ASSIGN_OR_RETURN(const Literal* l, ConstantInput(i, what));
  if (l->num_elements() != 1) return Error("input {} ({}) must have one element", i, what);
  return l->GetAsDouble(0);
}

void ImportContext::SetOutput(int i, Instruction* value) {
  if (i < static_cast<int>(outputs_.size())) outputs_[i] = value;
}

bool ImportContext::HasAttr(std::string_view name) const {
  for (const auto& a : node_.attribute())
    if (a.name() == name) return true;
  return false;
}

namespace {
const onnx::AttributeProto* FindAttr(const onnx::NodeProto& n, std::string_view name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
}  // namespace

StatusOr<int64_t> ImportContext::Int(std::string_view name, int64_t def) {
  MarkHandled(name);
  const auto* a = FindAttr(node_, name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::INT) return Error("attribute '{}' must be an int", name);
  return a->i();
}

StatusOr<float> ImportContext::Float(std::string_view name, float def) {
  MarkHandled(name);
  const auto* a = FindAttr(node_, name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::FLOAT) return Error("attribute '{}' must be a float", name);
  return a->f();
}

StatusOr<std::string> ImportContext::String(std::string_view name, std::string def) {
  MarkHandled(name);
  const auto* a = FindAttr(node_, name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::STRING)
    return Error("attribute '{}' must be a string", name);
  return a->s();
}

StatusOr<std::vector<int64_t>> ImportContext::Ints(std::string_view name, std::vector<int64_t> def) {
  MarkHandled(name);
  const auto* a = FindAttr(node_, name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::INTS) return Error("attribute '{}' must be ints", name);
  return std::vector<int64_t>(a->ints().begin(), a->ints().end());
}

StatusOr<std::vector<float>> ImportContext::Floats(std::string_view name, std::vector<float> def) {
  MarkHandled(name);
  const auto* a = FindAttr(node_, name);
  if (!a) return def;
  if (a->type() != onnx::AttributeProto::FLOATS) return Error("attribute '{}' must be floats", name);
  return std::vector<float>(a->floats().begin(), a->floats().end());
}

StatusOr<Literal> ImportContext::Tensor(std::string_view name) {
  MarkHandled(name);
  const auto* a = FindAttr(node_, name);
  if (!a || a->type() != onnx::AttributeProto::TENSOR)
    return Error("attribute '{}' must be a tensor", name);
  auto l = TensorProtoToLiteral(a->t());
  if (!l.ok()) return l.status().WithPrefix(Label() + ": attribute '" + std::string(name) + "'");
  return l;
}

Status ImportContext::CheckAllAttributesHandled() const {
  for (const auto& a : node_.attribute()) {
    if (!handled_.count(a.name()))
      return Unimplemented("attribute '{}' is not supported", a.name());
  }
  return OkStatus();
}

Status ImportContext::CheckAttrRange(std::string_view name, const std::vector<int64_t>& v,
                                     int64_t lo, int64_t hi) const {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] < lo || v[i] > hi)
      return Error("attribute '{}' = {}: entry {} ({}) is out of range [{}, {}]", name, JoinInts(v),
                   i, v[i], lo, hi);
  }
  return OkStatus();
}

Status ImportContext::CheckAttrRange(std::string_view name, int64_t v, int64_t lo,
                                     int64_t hi) const {
  if (v < lo || v > hi) return Error("attribute '{}' = {} is out of range [{}, {}]", name, v, lo, hi);
  return OkStatus();
}

StatusOr<int64_t> ImportContext::ElementCount(const std::vector<int64_t>& dims,
                                              std::string_view what) const {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return Error("{} {} has a negative dimension", what, JoinInts(dims));
    if (!CheckedMul(n, d, &n) || n > kMaxTensorElements)
      return Error("{} {} is too large (more than 2^31 elements)", what, JoinInts(dims));
  }
  return n;
}

StatusOr<int64_t> ImportContext::NormalizeAxis(int64_t axis, int64_t rank,
                                               std::string_view what) const {
  if (axis < -rank || axis >= rank)
    return Error("{} {} is out of range for rank {}", what, axis, rank);
  return axis < 0 ? axis + rank : axis;
}

StatusOr<Instruction*> ImportContext::ScalarConstant(DType t, double v) {
  Literal l(Shape(t, {}));
  l.SetFromDouble(0, v);
  return builder_->Constant(std::move(l));
}

StatusOr<Instruction*> ImportContext::Full(DType t, const std::vector<int64_t>& dims, double v) {
  ASSIGN_OR_RETURN(Instruction * s, ScalarConstant(t, v));
  if (dims.empty()) return s;
  return builder_->Broadcast(s, dims, {});
}

StatusOr<Instruction*> ImportContext::FullLike(Instruction* like, double v) {
  return Full(like->shape.dtype, like->shape.dims, v);
}

StatusOr<Instruction*> ImportContext::Convert(Instruction* x, DType t) {
  if (x->shape.dtype == t) return x;
  return builder_->Convert(x, t);
}

StatusOr<Instruction*> ImportContext::Reshape(Instruction* x, std::vector<int64_t> dims) {
  if (x->shape.dims == dims) return x;
  return builder_->Reshape(x, std::move(dims));
}

StatusOr<std::vector<int64_t>> ImportContext::BroadcastDims(const std::vector<int64_t>& a,
                                                            const std::vector<int64_t>& b) const {
  size_t r = std::max(a.size(), b.size());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      return Error("shapes {} and {} cannot be broadcast together", JoinInts(a), JoinInts(b));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

StatusOr<Instruction*> ImportContext::BroadcastTo(Instruction* x, const std::vector<int64_t>& dims) {
  const auto& xd = x->shape.dims;
  if (xd == dims) return x;
  if (xd.size() > dims.size())
    return Error("cannot broadcast shape {} to {}", JoinInts(xd), JoinInts(dims));
  size_t off = dims.size() - xd.size();
  std::vector<int64_t> kept_dims, map;
  for (size_t i = 0; i < xd.size(); ++i) {
    if (xd[i] == dims[off + i]) {
      kept_dims.push_back(xd[i]);
      map.push_back(static_cast<int64_t>(off + i));
    } else if (xd[i] != 1) {
      return Error("cannot broadcast shape {} to {}", JoinInts(xd), JoinInts(dims));
    }
  }
  ASSIGN_OR_RETURN(Instruction * r, Reshape(x, kept_dims));
  return builder_->Broadcast(r, dims, map);
}

StatusOr<std::pair<Instruction*, Instruction*>> ImportContext::Broadcast2(Instruction* a,
                                                                         Instruction* b) {
  ASSIGN_OR_RETURN(auto dims, BroadcastDims(a->shape.dims, b->shape.dims));
  ASSIGN_OR_RETURN(Instruction * ba, BroadcastTo(a, dims));
  ASSIGN_OR_RETURN(Instruction * bb, BroadcastTo(b, dims));
  return std::make_pair(ba, bb);
}

StatusOr<Instruction*> ImportContext::Binary(Opcode op, Instruction* a, Instruction* b) {
  if (a->shape.dtype != b->shape.dtype)
    return Error("operand types differ: {} and {}", DTypeName(a->shape.dtype),
                 DTypeName(b->shape.dtype));
  ASSIGN_OR_RETURN(auto ab, Broadcast2(a, b));
  return builder_->Binary(op, ab.first, ab.second);
}

StatusOr<Instruction*> ImportContext::Compare(CompareDirection d, Instruction* a, Instruction* b) {
  if (a->shape.dtype != b->shape.dtype)
    return Error("operand types differ: {} and {}", DTypeName(a->shape.dtype),
                 DTypeName(b->shape.dtype));
  ASSIGN_OR_RETURN(auto ab, Broadcast2(a, b));
  return builder_->Compare(d, ab.first, ab.second);
}

StatusOr<Instruction*> ImportContext::Select(Instruction* pred, Instruction* a, Instruction* b) {
  if (pred->shape.dtype != DType::kPred) { ASSIGN_OR_RETURN(pred, Convert(pred, DType::kPred)); }
  ASSIGN_OR_RETURN(auto d1, BroadcastDims(pred->shape.dims, a->shape.dims));
  ASSIGN_OR_RETURN(auto dims, BroadcastDims(d1, b->shape.dims));
  ASSIGN_OR_RETURN(pred, BroadcastTo(pred, dims));
  ASSIGN_OR_RETURN(a, BroadcastTo(a, dims));
  ASSIGN_OR_RETURN(b, BroadcastTo(b, dims));
  return builder_->Select(pred, a, b);
}

StatusOr<Computation*> ImportContext::Reducer(Opcode op, DType t) {
  bool ok = true;
  switch (op) {
    case Opcode::kMaximum:
    case Opcode::kMinimum: break;
    case Opcode::kAnd:
    case Opcode::kOr:
    case Opcode::kXor: ok = t == DType::kPred || IsInteger(t); break;
    default: ok = t != DType::kPred; break;
  }
  if (!ok) return Error("element type {} is not supported", DTypeName(t));
  return builder_->ScalarReducer(op, t);
}

StatusOr<Instruction*> ImportContext::Reduce(Instruction* x, std::vector<int64_t> dims, Opcode op,
                                             double init) {
  ASSIGN_OR_RETURN(Instruction * init_v, ScalarConstant(x->shape.dtype, init));
  ASSIGN_OR_RETURN(Computation * f, Reducer(op, x->shape.dtype));
  return builder_->Reduce({x}, {init_v}, std::move(dims), f);
}

const OpTable& Converters() {
  static const OpTable* table = [] {
    auto* t = new OpTable;
    RegisterElementwiseOps(*t);
    RegisterNnOps(*t);
    RegisterNormOps(*t);
    RegisterShapeOps(*t);
    RegisterReduceOps(*t);
    RegisterIndexOps(*t);
    RegisterLossOps(*t);
    RegisterResizeOps(*t);
    RegisterEinsumOps(*t);
    return t;
  }();
  return *table;
}

}  // namespace xtpu::onnx_import
