// Base64 encode/decode with lookup tables (see base64.h).
#include "xtpu/support/base64.h"

#include <array>

namespace xtpu {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Decoding table: the 6-bit value of each base64 char, 0xFF for any other.
constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 0xFF;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  return t;
}
constexpr std::array<uint8_t, 256> kDecode = MakeDecodeTable();

Status BadChar(std::string_view text, size_t pos) {
  unsigned char c = static_cast<unsigned char>(text[pos]);
  if (c >= 0x21 && c < 0x7f) return Error("invalid base64 character '{}' at offset {}", static_cast<char>(c), pos);
  return Error("invalid base64 byte 0x{:02x} at offset {}", c, pos);
}

}  // namespace

void Base64EncodeAppend(const void* data, size_t size, std::string* out) {
  const uint8_t* in = static_cast<const uint8_t*>(data);
  size_t start = out->size();
  out->resize(start + (size + 2) / 3 * 4);
  char* o = out->data() + start;
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    o[0] = kAlphabet[v >> 18];
    o[1] = kAlphabet[(v >> 12) & 63];
    o[2] = kAlphabet[(v >> 6) & 63];
    o[3] = kAlphabet[v & 63];
    o += 4;
  }
  size_t rest = size - i;
  if (rest > 0) {
    uint32_t v = uint32_t{in[i]} << 16;
    if (rest == 2) v |= uint32_t{in[i + 1]} << 8;
    o[0] = kAlphabet[v >> 18];
    o[1] = kAlphabet[(v >> 12) & 63];
    o[2] = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    o[3] = '=';
  }
}

std::string Base64Encode(const void* data, size_t size) {
  std::string s;
  Base64EncodeAppend(data, size, &s);
  return s;
}

StatusOr<size_t> Base64DecodedSize(std::string_view text) {
  size_t n = text.size();
  if (n % 4 != 0) return Error("base64 text has length {}, not a multiple of 4", n);
  if (n == 0) return size_t{0};
  size_t pad = 0;
  if (text[n - 1] == '=') pad = text[n - 2] == '=' ? 2 : 1;
  return n / 4 * 3 - pad;
}

Status Base64DecodeInto(std::string_view text, uint8_t* out) {
  ASSIGN_OR_RETURN(size_t size, Base64DecodedSize(text));
  const unsigned char* in = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size();
  // All full groups but the last (which may hold padding).
  size_t full = n == 0 ? 0 : n - 4;
  size_t o = 0;
  for (size_t i = 0; i < full; i += 4) {
    uint32_t a = kDecode[in[i]], b = kDecode[in[i + 1]], c = kDecode[in[i + 2]], d = kDecode[in[i + 3]];
    if ((a | b | c | d) & 0x80) {
      for (size_t k = i; k < i + 4; ++k)
        if (kDecode[in[k]] == 0xFF) return BadChar(text, k);
    }
    uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o] = static_cast<uint8_t>(v >> 16);
    out[o + 1] = static_cast<uint8_t>(v >> 8);
    out[o + 2] = static_cast<uint8_t>(v);
    o += 3;
  }
  if (n == 0) return OkStatus();
  size_t i = full;
  size_t keep = 4 - (n / 4 * 3 - size);  // chars of the last group that carry data
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) {
    uint32_t x = 0;
    if (k < keep) {
      x = kDecode[in[i + k]];
      if (x == 0xFF) return BadChar(text, i + k);
    } else if (in[i + k] != '=') {
      return BadChar(text, i + k);
    }
    v |= x << (18 - 6 * k);
  }
  for (size_t k = 0; o < size; ++k) out[o++] = static_cast<uint8_t>(v >> (16 - 8 * k));
  return OkStatus();
}

StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text) {
  ASSIGN_OR_RETURN(size_t size, Base64DecodedSize(text));
  std::vector<uint8_t> out(size);
  RETURN_IF_ERROR(Base64DecodeInto(text, out.data()));
  return out;
}

}  // namespace xtpu
