// Lexer for the tensor IR text form: a cursor over the text that reads
// names, integers and punctuation within a line and counts lines, so every
// parser error can say "<file>:<line>: ...". Internal to parser.cc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "xtpu/support/status.h"

namespace xtpu {

// Characters of instruction, computation and module names.
inline bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-' || c == '/' || c == ':';
}

class IrLexer {
 public:
  IrLexer(std::string_view text, std::string filename) : t_(text), filename_(std::move(filename)) {}

  const std::string& filename() const { return filename_; }
  std::string_view text() const { return t_; }
  int64_t line() const { return line_; }
  size_t pos() const { return p_; }
  bool AtEnd() const { return p_ >= t_.size(); }
  char Peek() const { return AtEnd() ? '\0' : t_[p_]; }
  bool LookingAt(std::string_view s) const { return t_.substr(p_, s.size()) == s; }
  void Advance(size_t n = 1) { p_ += n; }

  // Skips spaces, tabs and carriage returns (not newlines).
  void SkipSpaces();
  // Skips whitespace, newlines and `//` comment lines.
  void SkipBlank();
  // Consumes optional spaces, an optional `//` comment and the end of line
  // (or of the text); otherwise an error naming what follows `after`.
  Status ExpectEndOfLine(std::string_view after);
  // Consumes `c` (after optional spaces) or fails naming what was found.
  Status Expect(char c, std::string_view context);
  // Consumes `c` after optional spaces when present.
  bool Consume(char c);
  // Consumes `c` when it is the very next character.
  bool ConsumeHere(char c) {
    if (AtEnd() || t_[p_] != c) return false;
    ++p_;
    return true;
  }

  // A name of IsNameChar characters; `what` says what it names ("opcode").
  // A following character that can neither be in a name nor end one is
  // reported as an invalid character of the name.
  StatusOr<std::string_view> ReadName(std::string_view what);
  // A decimal integer with optional '-'.
  StatusOr<int64_t> ReadInt(std::string_view what);
  // Characters up to (not including) the first of `stops`, a space or a
  // newline; may be empty.
  std::string_view ReadUntil(std::string_view stops);

  // The token at the cursor for messages: "'foo'", "end of line", ...
  std::string Describe() const;

  // "<file>:<line>: <message>"
  template <typename... Args>
  Status Err(fmt::format_string<Args...> f, Args&&... args) const {
    return ErrAtLine(line_, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  Status ErrAtLine(int64_t line, fmt::format_string<Args...> f, Args&&... args) const {
    return Status::Error(fmt::format("{}:{}: {}", filename_, line, fmt::format(f, std::forward<Args>(args)...)));
  }

 private:
  std::string_view t_;
  std::string filename_;
  size_t p_ = 0;
  int64_t line_ = 1;
};

// Quotes `s` for a message, escaping unprintable bytes and eliding the middle
// of long text.
std::string QuoteForMessage(std::string_view s);

}  // namespace xtpu
