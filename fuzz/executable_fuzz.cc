// libFuzzer target for .xtpu executables (src/xtpu/runtime/executable.h).
// Each input is tried twice: as given, and with its last four bytes replaced
// by the CRC of the rest, so that mutations get past the CRC check and reach
// the section parser and the field checks. Nothing may crash or trip a
// sanitizer; an accepted executable must serialize again and load back equal.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "xtpu/runtime/executable.h"

namespace {

void Check(const std::string& bytes) {
  auto e = xtpu::runtime::DeserializeExecutable(bytes, "fuzz.xtpu");
  if (!e.ok()) return;
  auto again = xtpu::runtime::SerializeExecutable(*e);
  if (!again.ok()) {
    std::fprintf(stderr, "loaded executable does not serialize: %s\n", again.status().message().c_str());
    std::abort();
  }
  auto back = xtpu::runtime::DeserializeExecutable(*again, "again.xtpu");
  if (!back.ok() || !(*back == *e)) {
    std::fprintf(stderr, "executable does not round-trip: %s\n",
                 back.ok() ? "different executable" : back.status().message().c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  Check(bytes);
  if (size >= 16) {
    uint32_t crc = static_cast<uint32_t>(crc32_z(0L, data, size - 4));
    for (int i = 0; i < 4; ++i) bytes[size - 4 + i] = static_cast<char>(crc >> (8 * i));
    Check(bytes);
  }
  return 0;
}
