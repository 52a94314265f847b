// libFuzzer target: the ONNX importer must turn any bytes into a module or an
// error, never a crash or hang (models are untrusted input).
#include <cstddef>
#include <cstdint>
#include <string>

#include "xtpu/frontend/onnx/importer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  (void)xtpu::ImportOnnxBytes(bytes, "fuzz.onnx");
  return 0;
}
