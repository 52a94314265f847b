// Lexer for the tensor IR text form (see ir_lexer.h).
#include "xtpu/ir/ir_lexer.h"

#include <charconv>

namespace xtpu {
namespace {

// Characters that may follow a name: whitespace and the punctuation of the
// grammar. Anything else right after a name is a bad character in it.
bool EndsName(char c) {
  switch (c) {
    case '\0': case ' ': case '\t': case '\r': case '\n':
    case '=': case '(': case ')': case ',': case '{': case '}': case '[': case ']':
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string QuoteForMessage(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = "'";
  auto add = [&](std::string_view part) {
    for (char c : part) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u >= 0x20 && u < 0x7f) out.push_back(c);
      else out += fmt::format("\\x{:02x}", u);
    }
  };
  if (s.size() <= kMax) {
    add(s);
  } else {
    add(s.substr(0, kMax - 10));
    out += "...";
    add(s.substr(s.size() - 7));
  }
  return out + "'";
}

void IrLexer::SkipSpaces() {
  while (p_ < t_.size() && (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\r')) ++p_;
}

void IrLexer::SkipBlank() {
  while (p_ < t_.size()) {
    char c = t_[p_];
    if (c == ' ' || c == '\t' || c == '\r') {
      ++p_;
    } else if (c == '\n') {
      ++p_;
      ++line_;
    } else if (LookingAt("//")) {
      while (p_ < t_.size() && t_[p_] != '\n') ++p_;
    } else {
      break;
    }
  }
}

Status IrLexer::ExpectEndOfLine(std::string_view after) {
  SkipSpaces();
  if (LookingAt("//")) {
    while (p_ < t_.size() && t_[p_] != '\n') ++p_;
  }
  if (AtEnd()) return OkStatus();
  if (t_[p_] != '\n') return Err("unexpected {} after {}", Describe(), after);
  ++p_;
  ++line_;
  return OkStatus();
}

Status IrLexer::Expect(char c, std::string_view context) {
  SkipSpaces();
  if (Peek() != c || AtEnd()) return Err("expected '{}' {}, found {}", c, context, Describe());
  ++p_;
  return OkStatus();
}

bool IrLexer::Consume(char c) {
  SkipSpaces();
  if (AtEnd() || t_[p_] != c) return false;
  ++p_;
  return true;
}

StatusOr<std::string_view> IrLexer::ReadName(std::string_view what) {
  SkipSpaces();
  size_t start = p_;
  while (p_ < t_.size() && IsNameChar(t_[p_])) ++p_;
  std::string_view name = t_.substr(start, p_ - start);
  if (name.empty()) return Err("expected {}, found {}", what, Describe());
  if (!AtEnd() && !EndsName(t_[p_])) {
    size_t end = p_;
    while (end < t_.size() && !EndsName(t_[end])) ++end;
    return Err("invalid character {} in {} {} (names use A-Z a-z 0-9 _ . - / :)",
               QuoteForMessage(t_.substr(p_, 1)), what, QuoteForMessage(t_.substr(start, end - start)));
  }
  return name;
}

StatusOr<int64_t> IrLexer::ReadInt(std::string_view what) {
  SkipSpaces();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(t_.data() + p_, t_.data() + t_.size(), v);
  if (ec == std::errc::result_out_of_range) {
    std::string_view tok = ReadUntil(",}])x_:");
    return Err("integer {} for {} is out of range", QuoteForMessage(tok), what);
  }
  if (ec != std::errc()) return Err("expected an integer for {}, found {}", what, Describe());
  p_ = static_cast<size_t>(ptr - t_.data());
  return v;
}

std::string_view IrLexer::ReadUntil(std::string_view stops) {
  // A table keeps this fast on the long base64 runs of big constants.
  bool stop[256] = {};
  stop[static_cast<unsigned char>(' ')] = stop[static_cast<unsigned char>('\t')] = true;
  stop[static_cast<unsigned char>('\r')] = stop[static_cast<unsigned char>('\n')] = true;
  for (char c : stops) stop[static_cast<unsigned char>(c)] = true;
  size_t start = p_;
  const size_t n = t_.size();
  while (p_ < n && !stop[static_cast<unsigned char>(t_[p_])]) ++p_;
  return t_.substr(start, p_ - start);
}

std::string IrLexer::Describe() const {
  if (AtEnd()) return "end of file";
  char c = t_[p_];
  if (c == '\n' || c == '\r') return "end of line";
  size_t end = p_;
  if (IsNameChar(c)) {
    while (end < t_.size() && IsNameChar(t_[end])) ++end;
  } else {
    end = p_ + 1;
  }
  return QuoteForMessage(t_.substr(p_, end - p_));
}

}  // namespace xtpu
