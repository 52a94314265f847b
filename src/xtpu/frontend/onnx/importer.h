// ONNX importer: reads an ONNX model (protobuf, ONNX's own .proto from
// Debian's libonnx-dev) into tensor IR.
//
//  - graph inputs that are not initializers become parameters, in order;
//    initializers become constants;
//  - opsets 11-17 (what torch.onnx.export in PyTorch 1.13 produces);
//  - shape subgraphs (Shape/Gather/Concat/Reshape chains) are folded to
//    constants at import time, so every shape in the IR is static;
//  - graph outputs become the entry root tuple, each operand named after the
//    ONNX output;
//  - an unsupported op, attribute or dtype is an error (StatusCode
//    kUnimplemented) naming op type, node name and opset; never skipped.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xtpu/ir/literal.h"
#include "xtpu/ir/module.h"

namespace onnx {
class TensorProto;
}

namespace xtpu {

struct OnnxImportOptions {
  // Overrides for graph inputs whose dims are symbolic (e.g. "batch_size"):
  // every symbolic or unknown dim becomes this value.
  int64_t default_dim = 1;
  // Graph inputs to treat as known constants instead of parameters (e.g. the
  // shape input of a Reshape in ONNX's conformance tests). Keyed by ONNX
  // input name; the remaining inputs are numbered in order as usual.
  std::map<std::string, Literal> constant_inputs;
};

StatusOr<std::unique_ptr<Module>> ImportOnnxFile(const std::string& path,
                                                 const OnnxImportOptions& options = {});
StatusOr<std::unique_ptr<Module>> ImportOnnxBytes(const std::string& bytes,
                                                  const std::string& name_for_errors,
                                                  const OnnxImportOptions& options = {});

// ONNX TensorProto (raw_data or typed fields) to a Literal. Types xtpu lacks
// (f64, u16, complex, string, ...) are kUnimplemented errors naming the type.
StatusOr<Literal> TensorProtoToLiteral(const onnx::TensorProto& tensor);

}  // namespace xtpu
