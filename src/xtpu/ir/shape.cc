#include "xtpu/ir/shape.h"

#include <charconv>

namespace xtpu {

std::string Shape::ToString() const {
  std::string s;
  if (is_tuple) {
    s = "(";
    for (size_t i = 0; i < tuple.size(); ++i) {
      if (i) s += ", ";
      s += tuple[i].ToString();
    }
    return s + ")";
  }
  s = std::string(DTypeName(dtype)) + "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

namespace {
StatusOr<Shape> ParseShapeAt(std::string_view t, size_t& p) {
  auto skip = [&] {
    while (p < t.size() && t[p] == ' ') ++p;
  };
  skip();
  if (p < t.size() && t[p] == '(') {
    ++p;
    std::vector<Shape> elems;
    skip();
    if (p < t.size() && t[p] == ')') {
      ++p;
      return Shape::Tuple({});
    }
    while (true) {
      ASSIGN_OR_RETURN(Shape e, ParseShapeAt(t, p));
      elems.push_back(std::move(e));
      skip();
      if (p < t.size() && t[p] == ',') {
        ++p;
        continue;
      }
      if (p < t.size() && t[p] == ')') {
        ++p;
        break;
      }
      return Error("bad tuple shape '{}': expected ',' or ')'", t);
    }
    return Shape::Tuple(std::move(elems));
  }
  size_t start = p;
  while (p < t.size() && (std::isalnum(static_cast<unsigned char>(t[p])))) ++p;
  std::string_view name = t.substr(start, p - start);
  auto dt = ParseDType(name);
  if (!dt) return Error("unknown element type '{}' in shape '{}'", name, t);
  if (p >= t.size() || t[p] != '[') return Error("bad shape '{}': expected '[' after element type", t);
  ++p;
  Shape s(*dt, {});
  if (p < t.size() && t[p] == ']') {
    ++p;
    return s;
  }
  while (true) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(t.data() + p, t.data() + t.size(), v);
    if (ec != std::errc() || v < 0) return Error("bad dimension in shape '{}'", t);
    p = ptr - t.data();
    s.dims.push_back(v);
    if (p < t.size() && t[p] == ',') {
      ++p;
      continue;
    }
    if (p < t.size() && t[p] == ']') {
      ++p;
      break;
    }
    return Error("bad shape '{}': expected ',' or ']'", t);
  }
  return s;
}
}  // namespace

StatusOr<Shape> ParseShape(std::string_view text) {
  size_t p = 0;
  ASSIGN_OR_RETURN(Shape s, ParseShapeAt(text, p));
  while (p < text.size() && text[p] == ' ') ++p;
  if (p != text.size()) return Error("trailing characters in shape '{}'", text);
  return s;
}

std::vector<int64_t> RowMajorStrides(const std::vector<int64_t>& dims) {
  std::vector<int64_t> s(dims.size(), 1);
  for (int64_t i = static_cast<int64_t>(dims.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

}  // namespace xtpu
