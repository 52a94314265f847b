// libFuzzer target: the tensor IR parser must never crash or hang, and any
// module it accepts must print to text that parses back and prints the same.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "xtpu/ir/parser.h"
#include "xtpu/ir/printer.h"
#include "xtpu/support/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto module = xtpu::ParseModule(text, "fuzz.tir");
  if (!module.ok()) return 0;
  std::string printed = xtpu::Print(**module);
  auto again = xtpu::ParseModule(printed, "printed.tir");
  if (!again.ok()) {
    std::fprintf(stderr, "printed module does not parse: %s\n%s", again.status().message().c_str(),
                 printed.c_str());
    std::abort();
  }
  XTPU_CHECK(xtpu::Print(**again) == printed);
  return 0;
}
