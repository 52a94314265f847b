#include "xtpu/frontend/load_model.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "xtpu/frontend/onnx/importer.h"
#include "xtpu/ir/parser.h"
#include "xtpu/ir/verifier.h"
#include "xtpu/support/npy.h"

namespace xtpu {
namespace {

// Errors from the importer and parser should name the file; add it when the
// message does not already start with it.
Status NameFile(const Status& s, const std::string& name) {
  if (s.ok() || s.message().rfind(name, 0) == 0) return s;
  return s.WithPrefix(name);
}

Status CheckDefaultDim(int64_t default_dim) {
  if (default_dim < 1) return Error("--default-dim must be at least 1, got {}", default_dim);
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<Module>> LoadModel(const std::string& path, int64_t default_dim) {
  RETURN_IF_ERROR(CheckDefaultDim(default_dim));
  std::unique_ptr<Module> module;
  if (path.ends_with(".onnx")) {
    // Open once here so a missing file reads the same for every format.
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return ReadFileToString(path).status();
    char byte;
    bool unreadable = std::fread(&byte, 1, 1, f) == 0 && std::ferror(f);
    int err = errno;
    std::fclose(f);
    if (unreadable) return Error("{}: cannot read: {}", path, std::strerror(err));
    OnnxImportOptions options;
    options.default_dim = default_dim;
    StatusOr<std::unique_ptr<Module>> m = ImportOnnxFile(path, options);
    if (!m.ok()) return NameFile(m.status(), path);
    module = std::move(m).value();
  } else if (path.ends_with(".tir")) {
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
    StatusOr<std::unique_ptr<Module>> m = ParseModule(text, path);
    if (!m.ok()) return NameFile(m.status(), path);
    module = std::move(m).value();
  } else {
    return Error("{}: unknown model format; accepted extensions are .onnx (ONNX) and .tir (tensor IR text)", path);
  }
  RETURN_IF_ERROR(NameFile(Verify(*module), path));
  return module;
}

StatusOr<std::unique_ptr<Module>> LoadOnnxModelFromBytes(const std::string& bytes, const std::string& name_for_errors,
                                                         int64_t default_dim) {
  RETURN_IF_ERROR(CheckDefaultDim(default_dim));
  OnnxImportOptions options;
  options.default_dim = default_dim;
  StatusOr<std::unique_ptr<Module>> m = ImportOnnxBytes(bytes, name_for_errors, options);
  if (!m.ok()) return NameFile(m.status(), name_for_errors);
  RETURN_IF_ERROR(NameFile(Verify(*m.value()), name_for_errors));
  return m;
}

}  // namespace xtpu
