// Base64 (RFC 4648, standard alphabet, '=' padding) for the raw bytes of
// large constants in tensor IR text. Table driven; hundreds of MB/s.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "xtpu/support/status.h"

namespace xtpu {

// Appends the encoding of data[0..size) to *out.
void Base64EncodeAppend(const void* data, size_t size, std::string* out);
std::string Base64Encode(const void* data, size_t size);

// Number of bytes `text` decodes to; an error when its length is not a
// multiple of 4 or its padding is malformed. Does not look at other chars.
StatusOr<size_t> Base64DecodedSize(std::string_view text);
// Decodes `text` into out[0..Base64DecodedSize(text)); an error names the
// first character that is not base64 and its offset.
Status Base64DecodeInto(std::string_view text, uint8_t* out);
StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text);

}  // namespace xtpu
