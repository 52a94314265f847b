// What an ONNX op converter sees: one node, its attributes (typed getters
// with errors), its inputs as instructions (plus their value when they are
// known constants), the Builder, the opset, and helpers for numpy-style
// broadcasting and constants. Errors made here name op type, node and opset.
//
// A converter is `Status Convert(ImportContext& ctx)`: it reads inputs and
// attributes, emits instructions with ctx.b(), and calls ctx.SetOutput(i, ..)
// for each output. Every attribute set on the node must be read through a
// getter (or ctx.MarkHandled); the importer rejects nodes with attributes
// nobody looked at, so nothing is silently ignored.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <onnx/onnx_pb.h>

#include "xtpu/ir/builder.h"
#include "xtpu/ir/module.h"

namespace xtpu::onnx_import {

// ONNX element type (TensorProto::DataType) to xtpu's; `what` names the
// tensor or attribute for the error.
StatusOr<DType> DTypeFromOnnx(int32_t onnx_type, std::string_view what);
std::string OnnxTypeName(int32_t onnx_type);

// Replaces characters outside [A-Za-z0-9_.\-/:] by '_' (empty -> "v").
std::string SanitizeName(std::string_view name);

class ImportContext {
 public:
  // `lookup` maps an ONNX value name to its instruction (nullptr if unknown).
  ImportContext(Module* module, Builder* builder, const onnx::NodeProto& node, int64_t opset,
                std::function<Instruction*(const std::string&)> lookup);

  const onnx::NodeProto& node() const { return node_; }
  const std::string& op_type() const { return node_.op_type(); }
  const std::string& node_name() const { return node_name_; }
  int64_t opset() const { return opset_; }
  Builder& b() { return *builder_; }
  Module* module() { return module_; }

  // "Reshape node 'foo' (opset 13)".
  std::string Label() const;
  template <typename... Args>
  Status Error(fmt::format_string<Args...> f, Args&&... args) const {
    return Status::Error(Label() + ": " + fmt::format(f, std::forward<Args>(args)...));
  }
  template <typename... Args>
  Status Unimplemented(fmt::format_string<Args...> f, Args&&... args) const {
    return Status::Error(Label() + ": " + fmt::format(f, std::forward<Args>(args)...),
                         StatusCode::kUnimplemented);
  }
  // "... attribute 'auto_pad' = 'SAME_UPPER' is not supported".
  Status UnsupportedAttr(std::string_view attr, std::string_view value) const;

  // ---- inputs ----
  int num_inputs() const { return node_.input_size(); }
  // Present and not the empty name of a skipped optional input.
  bool has_input(int i) const { return i < node_.input_size() && !node_.input(i).empty(); }
  StatusOr<Instruction*> Input(int i);
  // The value of input i when it is a known constant, else nullptr.
  const Literal* InputConstant(int i);
  // Input i as a constant, or "input 1 (shape) of Reshape node 'foo' (opset 13)
  // must be a constant".
  StatusOr<const Literal*> ConstantInput(int i, std::string_view what);
  StatusOr<std::vector<int64_t>> ConstantInts(int i, std::string_view what);
  StatusOr<double> ConstantScalar(int i, std::string_view what);

  // ---- outputs ----
  int num_outputs() const { return node_.output_size(); }
  bool has_output(int i) const { return i < node_.output_size() && !node_.output(i).empty(); }
  void SetOutput(int i, Instruction* value);
  const std::vector<Instruction*>& outputs() const { return outputs_; }

  // ---- attributes ----
  bool HasAttr(std::string_view name) const;
  void MarkHandled(std::string_view name) { handled_.insert(std::string(name)); }
  StatusOr<int64_t> Int(std::string_view name, int64_t def);
  StatusOr<float> Float(std::string_view name, float def);
  StatusOr<std::string> String(std::string_view name, std::string def);
  StatusOr<std::vector<int64_t>> Ints(std::string_view name, std::vector<int64_t> def = {});
  StatusOr<std::vector<float>> Floats(std::string_view name, std::vector<float> def = {});
  StatusOr<Literal> Tensor(std::string_view name);
  // Error naming every attribute set on the node but never read.
  Status CheckAllAttributesHandled() const;

  // ---- helpers ----
  // Error unless every entry of attribute `name` (value `v`) is in [lo, hi]:
  // "attribute 'strides' = [1,0]: entry 0 is out of range [1, 2147483648]".
  Status CheckAttrRange(std::string_view name, const std::vector<int64_t>& v, int64_t lo,
                        int64_t hi) const;
  // Same for an int attribute: "attribute 'group' = 0 is out of range [1, ...]".
  Status CheckAttrRange(std::string_view name, int64_t v, int64_t lo, int64_t hi) const;
  // Element count of a result shape `dims` (`what` names it) with checked
  // arithmetic; errors on negative dims or more than kMaxTensorElements.
  StatusOr<int64_t> ElementCount(const std::vector<int64_t>& dims, std::string_view what) const;
  // Axis in [-rank, rank) -> [0, rank); the error names `what`.
  StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank, std::string_view what) const;
  StatusOr<Instruction*> ScalarConstant(DType t, double v);
  // Constant `v` broadcast to the shape of `like`.
  StatusOr<Instruction*> Full(DType t, const std::vector<int64_t>& dims, double v);
  StatusOr<Instruction*> FullLike(Instruction* like, double v);
  StatusOr<Instruction*> Convert(Instruction* x, DType t);
  StatusOr<Instruction*> Reshape(Instruction* x, std::vector<int64_t> dims);
  // Numpy broadcasting of x to `dims` (x's dims align to the right).
  StatusOr<Instruction*> BroadcastTo(Instruction* x, const std::vector<int64_t>& dims);
  StatusOr<std::vector<int64_t>> BroadcastDims(const std::vector<int64_t>& a,
                                               const std::vector<int64_t>& b) const;
  // Both operands broadcast to their common shape.
  StatusOr<std::pair<Instruction*, Instruction*>> Broadcast2(Instruction* a, Instruction* b);
  // Elementwise ops with numpy broadcasting.
  StatusOr<Instruction*> Binary(Opcode op, Instruction* a, Instruction* b);
  StatusOr<Instruction*> Compare(CompareDirection d, Instruction* a, Instruction* b);
  StatusOr<Instruction*> Select(Instruction* pred, Instruction* a, Instruction* b);
  // The shared scalar reduction computation, or an error when `op` does not
  // apply to `t` (e.g. add on bool), which Builder::ScalarReducer must not see.
  StatusOr<Computation*> Reducer(Opcode op, DType t);
  // reduce over `dims` with `op` (add, maximum, ...) from init `init`.
  StatusOr<Instruction*> Reduce(Instruction* x, std::vector<int64_t> dims, Opcode op, double init);

 private:
  Module* module_;
  Builder* builder_;
  const onnx::NodeProto& node_;
  int64_t opset_;
  std::string node_name_;
  std::function<Instruction*(const std::string&)> lookup_;
  std::vector<Instruction*> outputs_;
  std::set<std::string> handled_;
};

using Converter = std::function<Status(ImportContext&)>;
using OpTable = std::unordered_map<std::string, Converter>;

// The registry: op type -> converter, filled by the ops_*.cc files.
const OpTable& Converters();
void RegisterElementwiseOps(OpTable& table);
void RegisterNnOps(OpTable& table);
void RegisterNormOps(OpTable& table);
void RegisterShapeOps(OpTable& table);
void RegisterReduceOps(OpTable& table);
void RegisterIndexOps(OpTable& table);
void RegisterLossOps(OpTable& table);
void RegisterResizeOps(OpTable& table);
void RegisterEinsumOps(OpTable& table);

// Largest tensor the importer will build (the IR's limit too): 2^31 elements.
constexpr int64_t kMaxTensorElements = int64_t{1} << 31;
// Largest constant the importer materializes at import time (elements).
constexpr int64_t kMaxConstantElements = int64_t{1} << 20;

// a * b into *out; false on int64 overflow.
inline bool CheckedMul(int64_t a, int64_t b, int64_t* out) { return !__builtin_mul_overflow(a, b, out); }
inline bool CheckedAdd(int64_t a, int64_t b, int64_t* out) { return !__builtin_add_overflow(a, b, out); }

// Largest value of a dtype as a double (inf for floats), for reduce inits.
double LowestValue(DType t);
double HighestValue(DType t);

}  // namespace xtpu::onnx_import
