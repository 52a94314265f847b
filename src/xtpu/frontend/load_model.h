// Loading a model for compiling or evaluating, by file extension: .onnx is
// imported (onnx/importer.h), .tir is parsed as tensor IR text; the module
// is verified either way. Shared by the `xtpu` CLI and the Python module.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<Module> m, LoadModel("resnet18.onnx", 1));
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "xtpu/ir/module.h"
#include "xtpu/support/status.h"

namespace xtpu {

// `default_dim` (>= 1) replaces symbolic ONNX input dims. Errors name `path`.
StatusOr<std::unique_ptr<Module>> LoadModel(const std::string& path, int64_t default_dim);

// An ONNX model held in memory (the bytes of a .onnx file); `name_for_errors`
// starts every error message.
StatusOr<std::unique_ptr<Module>> LoadOnnxModelFromBytes(const std::string& bytes, const std::string& name_for_errors,
                                                         int64_t default_dim);

}  // namespace xtpu
