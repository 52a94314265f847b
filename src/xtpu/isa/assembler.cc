// Assembler: assembly text -> Program (syntax in assembly.h).
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>

#include "xtpu/isa/assembly.h"

namespace xtpu::isa {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

// Register "r12" -> 12; nullopt if `s` is not a register name.
std::optional<int64_t> ParseIndexed(std::string_view s, char prefix) {
  if (s.size() < 2 || s[0] != prefix) return std::nullopt;
  int64_t v = 0;
  for (char c : s.substr(1)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
    if (v > 1000000) return std::nullopt;
  }
  return v;
}

// Value of an expression: imm plus optionally one register.
struct Value {
  int16_t reg = -1;
  int64_t imm = 0;
};

// Recursive-descent evaluator over a single operand's text.
class ExprParser {
 public:
  ExprParser(std::string_view text, const std::map<std::string, int64_t>& symbols)
      : s_(text), symbols_(symbols) {}

  StatusOr<Value> Parse() {
    ASSIGN_OR_RETURN(Value v, Additive(true));
    Skip();
    if (pos_ != s_.size()) return Error("unexpected '{}' in expression '{}'", s_.substr(pos_), s_);
    return v;
  }

 private:
  void Skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool Eat(std::string_view tok) {
    Skip();
    if (s_.substr(pos_, tok.size()) == tok) {
      pos_ += tok.size();
      return true;
    }
    return false;
  }
  // Only the top-level additive chain may hold a (positive) register term.
  StatusOr<Value> Additive(bool allow_reg) {
    ASSIGN_OR_RETURN(Value v, Shift(allow_reg));
    for (;;) {
      bool plus = Eat("+");
      if (!plus && !Eat("-")) return v;
      ASSIGN_OR_RETURN(Value rhs, Shift(allow_reg && plus));
      if (rhs.reg >= 0) {
        if (v.reg >= 0) return Error("expression '{}' adds two registers", s_);
        v.reg = rhs.reg;
      }
      v.imm = plus ? static_cast<int64_t>(static_cast<uint64_t>(v.imm) + static_cast<uint64_t>(rhs.imm))
                   : static_cast<int64_t>(static_cast<uint64_t>(v.imm) - static_cast<uint64_t>(rhs.imm));
    }
  }
  StatusOr<Value> Shift(bool allow_reg) {
    ASSIGN_OR_RETURN(Value v, Term(allow_reg));
    for (;;) {
      bool left = Eat("<<");
      if (!left && !Eat(">>")) return v;
      ASSIGN_OR_RETURN(Value rhs, Term(false));
      if (v.reg >= 0) return Error("register used in a shift in '{}'", s_);
      if (rhs.imm < 0 || rhs.imm > 62) return Error("shift amount {} out of range in '{}'", rhs.imm, s_);
      v.imm = left ? static_cast<int64_t>(static_cast<uint64_t>(v.imm) << rhs.imm) : v.imm >> rhs.imm;
    }
  }
  StatusOr<Value> Term(bool allow_reg) {
    ASSIGN_OR_RETURN(Value v, Factor(allow_reg));
    for (;;) {
      Skip();
      if (pos_ >= s_.size() || (s_[pos_] != '*' && s_[pos_] != '/' && s_[pos_] != '%')) return v;
      char op = s_[pos_++];
      ASSIGN_OR_RETURN(Value rhs, Factor(false));
      if (v.reg >= 0) return Error("register used in '{}' in '{}' (only r + constant is allowed)", op, s_);
      if (op == '*') {
        v.imm = static_cast<int64_t>(static_cast<uint64_t>(v.imm) * static_cast<uint64_t>(rhs.imm));
      } else {
        if (rhs.imm == 0) return Error("division by zero in '{}'", s_);
        if (v.imm == INT64_MIN && rhs.imm == -1) return Error("overflow in '{}'", s_);
        v.imm = op == '/' ? v.imm / rhs.imm : v.imm % rhs.imm;
      }
    }
  }
  StatusOr<Value> Factor(bool allow_reg) {
    Skip();
    if (pos_ >= s_.size()) return Error("expression '{}' ends early", s_);
    char c = s_[pos_];
    if (c == '(') {
      ++pos_;
      ASSIGN_OR_RETURN(Value v, Additive(false));
      if (!Eat(")")) return Error("missing ')' in '{}'", s_);
      return v;
    }
    if (c == '-') {
      ++pos_;
      ASSIGN_OR_RETURN(Value v, Factor(false));
      v.imm = static_cast<int64_t>(0 - static_cast<uint64_t>(v.imm));
      return v;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t start = pos_;
      while (pos_ < s_.size() && std::isalnum(static_cast<unsigned char>(s_[pos_]))) ++pos_;
      std::string tok(s_.substr(start, pos_ - start));
      int base = 10;
      std::string digits = tok;
      if (tok.size() > 2 && tok[0] == '0' && (tok[1] == 'x' || tok[1] == 'X')) base = 16, digits = tok.substr(2);
      else if (tok.size() > 2 && tok[0] == '0' && (tok[1] == 'b' || tok[1] == 'B')) base = 2, digits = tok.substr(2);
      errno = 0;
      char* end = nullptr;
      unsigned long long u = std::strtoull(digits.c_str(), &end, base);
      if (digits.empty() || *end != '\0') return Error("bad number '{}'", tok);
      if (errno == ERANGE || u > static_cast<unsigned long long>(INT64_MAX)) return Error("number '{}' is too large", tok);
      return Value{-1, static_cast<int64_t>(u)};
    }
    if (IsIdentStart(c)) {
      size_t start = pos_;
      while (pos_ < s_.size() && IsIdentChar(s_[pos_])) ++pos_;
      std::string name(s_.substr(start, pos_ - start));
      if (auto r = ParseIndexed(name, 'r')) {
        if (!allow_reg) return Error("register {} is not allowed here in '{}' (only r + constant)", name, s_);
        if (*r > 254) return Error("register {} out of range (r0..r254)", name);
        return Value{static_cast<int16_t>(*r), 0};
      }
      auto it = symbols_.find(name);
      if (it == symbols_.end()) return Error("unknown name '{}'", name);
      return Value{-1, it->second};
    }
    return Error("unexpected '{}' in expression '{}'", c, s_);
  }

  std::string_view s_;
  size_t pos_ = 0;
  const std::map<std::string, int64_t>& symbols_;
};

StatusOr<int64_t> ParseF32Bits(std::string_view text) {
  std::string t(Trim(text));
  if (t.rfind("nan(", 0) == 0 && t.back() == ')') {
    char* end = nullptr;
    std::string inner = t.substr(4, t.size() - 5);
    unsigned long long u = std::strtoull(inner.c_str(), &end, 0);
    if (inner.empty() || *end != '\0' || u > 0xffffffffull) return Error("bad float '{}'", t);
    return static_cast<int64_t>(u);
  }
  if (t.empty()) return Error("missing float value");
  char* end = nullptr;
  errno = 0;
  float f = std::strtof(t.c_str(), &end);
  if (*end != '\0') return Error("bad float '{}'", t);
  return static_cast<int64_t>(std::bit_cast<uint32_t>(f));
}

// Splits on top-level commas.
std::vector<std::string_view> SplitOperands(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || (s[i] == ',' && depth == 0)) {
      out.push_back(Trim(s.substr(start, i - start)));
      start = i + 1;
    } else if (s[i] == '(' || s[i] == '[') {
      ++depth;
    } else if (s[i] == ')' || s[i] == ']') {
      --depth;
    }
  }
  return out;
}

class Assembler {
 public:
  explicit Assembler(std::string filename) : filename_(std::move(filename)) {}

  StatusOr<Program> Run(std::string_view text) {
    program_.source_name = filename_;
    program_.cores.resize(1);
    int line_no = 0;
    while (!text.empty()) {
      size_t nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
      ++line_no;
      line_ = line_no;
      Status s = Line(line);
      if (!s.ok()) return Status::Error(fmt::format("{}:{}: {}", filename_, line_no, s.message()), s.code());
    }
    Status s = ValidateProgram(program_);
    if (!s.ok()) return s.WithPrefix(filename_);
    return std::move(program_);
  }

 private:
  Status Line(std::string_view line) {
    for (std::string_view marker : {";", "#", "//"}) {
      size_t p = line.find(marker);
      if (p != std::string_view::npos) line = line.substr(0, p);
    }
    line = Trim(line);
    if (line.empty()) return OkStatus();
    size_t sp = 0;
    while (sp < line.size() && !std::isspace(static_cast<unsigned char>(line[sp]))) ++sp;
    std::string_view word = line.substr(0, sp);
    std::string_view rest = Trim(line.substr(sp));
    if (word == ".equ") return Equ(rest);
    if (word == ".buffer") return Buffer(rest);
    if (word == ".core") return Core(rest);
    if (!word.empty() && word[0] == '.') return Error("unknown directive '{}'", word);
    return Instr(word, rest);
  }

  StatusOr<int64_t> Const(std::string_view text) {
    ASSIGN_OR_RETURN(Value v, ExprParser(text, symbols_).Parse());
    if (v.reg >= 0) return Error("a constant is needed, not a register, in '{}'", text);
    return v.imm;
  }

  Status DefineSymbol(std::string_view name, int64_t value) {
    if (name.empty() || !IsIdentStart(name[0])) return Error("bad name '{}'", name);
    for (char c : name)
      if (!IsIdentChar(c)) return Error("bad name '{}'", name);
    if (ParseIndexed(name, 'r') || ParseIndexed(name, 's')) return Error("name '{}' looks like a register", name);
    if (symbols_.count(std::string(name))) return Error("'{}' is already defined", name);
    symbols_[std::string(name)] = value;
    return OkStatus();
  }

  Status Equ(std::string_view rest) {
    size_t sp = rest.find_first_of(" \t");
    if (sp == std::string_view::npos) return Error(".equ needs a name and a value");
    ASSIGN_OR_RETURN(int64_t v, Const(rest.substr(sp + 1)));
    return DefineSymbol(rest.substr(0, sp), v);
  }

  Status Core(std::string_view rest) {
    ASSIGN_OR_RETURN(int64_t c, Const(rest));
    if (c < 0 || c >= 64) return Error(".core {} out of range (0..63)", c);
    if (static_cast<size_t>(c) >= program_.cores.size()) program_.cores.resize(c + 1);
    core_ = static_cast<int>(c);
    return OkStatus();
  }

  Status Buffer(std::string_view rest) {
    // NAME MEM SHAPE [ROLE] [at EXPR]
    std::vector<std::string_view> words;
    while (!rest.empty()) {
      size_t sp = rest.find_first_of(" \t");
      std::string_view w = rest.substr(0, sp);
      words.push_back(w);
      if (w == "at") {
        words.push_back(sp == std::string_view::npos ? "" : Trim(rest.substr(sp)));
        break;
      }
      rest = sp == std::string_view::npos ? std::string_view() : Trim(rest.substr(sp));
    }
    if (words.size() < 3) return Error(".buffer needs: NAME MEM DTYPE[dims] [ROLE] [at ADDRESS]");
    BufferDecl b;
    b.name = std::string(words[0]);
    std::string_view mem = words[1];
    if (mem == "hbm") {
      b.mem = MemSpace::kHbm;
    } else if (mem.substr(0, 4) == "vmem") {
      b.mem = MemSpace::kVmem;
      if (mem.size() > 4) {
        auto c = ParseIndexed(mem.substr(3), 'm');
        if (!c || *c >= 64) return Error("bad memory '{}' (hbm, vmem or vmemN)", mem);
        b.core = static_cast<int>(*c);
      }
    } else {
      return Error("bad memory '{}' (hbm, vmem or vmemN)", mem);
    }
    StatusOr<Shape> shape = ParseShape(words[2]);
    if (!shape.ok()) return shape.status().WithPrefix(fmt::format("buffer '{}'", b.name));
    b.shape = *shape;
    size_t i = 3;
    if (i < words.size() && words[i] != "at") {
      std::string_view r = words[i++];
      if (r == "input") b.role = BufferRole::kInput;
      else if (r == "output") b.role = BufferRole::kOutput;
      else if (r == "inout") b.role = BufferRole::kInOut;
      else if (r == "scratch") b.role = BufferRole::kScratch;
      else return Error("bad buffer role '{}' (input, output, inout or scratch)", r);
    }
    if (i < words.size() && words[i] == "at") {
      ASSIGN_OR_RETURN(b.address, Const(words[i + 1]));
      i += 2;
    } else {
      int64_t end = 0;
      for (const BufferDecl& o : program_.buffers)
        if (o.mem == b.mem && o.core == b.core) end = std::max(end, o.address + o.shape.byte_size());
      b.address = (end + 4095) / 4096 * 4096;
    }
    if (i != words.size()) return Error("unexpected '{}' in .buffer", words[i]);
    RETURN_IF_ERROR(DefineSymbol(b.name, b.address));
    program_.buffers.push_back(std::move(b));
    return OkStatus();
  }

  Status Instr(std::string_view word, std::string_view rest) {
    Instruction inst;
    inst.line = line_;
    std::optional<Opcode> op = FindOpcode(word);
    if (!op) {
      // dma1.load -> dma.load, unit 1
      size_t dot = word.find('.');
      std::string_view head = word.substr(0, dot);
      size_t d = head.size();
      while (d > 0 && std::isdigit(static_cast<unsigned char>(head[d - 1]))) --d;
      if (dot != std::string_view::npos && d < head.size() && d > 0 && head.size() - d <= 3) {
        std::string base = std::string(head.substr(0, d)) + std::string(word.substr(dot));
        op = FindOpcode(base);
        if (op) {
          int idx = std::atoi(std::string(head.substr(d)).c_str());
          if (!UnitIsIndexed(GetOpInfo(*op).unit))
            return Error("'{}': unit {} has a single instance (write '{}')", word, head.substr(0, d), base);
          if (idx > 255) return Error("'{}': unit index {} out of range", word, idx);
          inst.unit = static_cast<uint8_t>(idx);
        }
      }
    }
    if (!op) return Error("unknown mnemonic '{}'", word);
    inst.opcode = *op;
    const OpInfo& info = GetOpInfo(*op);
    std::vector<bool> given(info.num_operands, false);
    std::vector<std::string_view> text(info.num_operands);
    int next_positional = 0;
    bool seen_keyword = false;
    if (!rest.empty()) {
      for (std::string_view item : SplitOperands(rest)) {
        if (item.empty()) return Error("{}: empty operand", info.mnemonic);
        size_t eq = item.find('=');
        size_t k = 0;
        while (k < item.size() && IsIdentChar(item[k])) ++k;
        bool keyword = eq != std::string_view::npos && Trim(item.substr(k, eq - k)).empty() && k > 0;
        if (keyword) {
          seen_keyword = true;
          std::string_view key = item.substr(0, k);
          std::string_view val = Trim(item.substr(eq + 1));
          if (key == "wait" || key == "signal") {
            auto s = ParseIndexed(val, 's');
            if (!s) {
              StatusOr<int64_t> c = Const(val);
              if (!c.ok()) return Error("{}: {}= needs a semaphore like s0, not '{}'", info.mnemonic, key, val);
              s = *c;
            }
            if (*s < 0 || *s > 65534) return Error("{}: semaphore s{} out of range", info.mnemonic, *s);
            int32_t& field = key == "wait" ? inst.wait : inst.signal;
            if (field >= 0) return Error("{}: {}= given twice", info.mnemonic, key);
            field = static_cast<int32_t>(*s);
            continue;
          }
          int i = info.Find(key);
          if (i < 0) return Error("{}: unknown operand '{}' (operands: {})", info.mnemonic, key, OperandList(info));
          if (given[i]) return Error("{}: operand '{}' given twice", info.mnemonic, key);
          given[i] = true;
          text[i] = val;
        } else {
          if (seen_keyword) return Error("{}: positional operand '{}' after name=value operands", info.mnemonic, item);
          if (next_positional >= info.num_operands)
            return Error("{}: too many operands (operands: {})", info.mnemonic, OperandList(info));
          given[next_positional] = true;
          text[next_positional++] = item;
        }
      }
    }
    // Non-imm32 operands first: kImm32 reads the dtype operand.
    for (int pass = 0; pass < 2; ++pass) {
      for (int i = 0; i < info.num_operands; ++i) {
        const OperandSpec& spec = info.operands[i];
        if ((spec.kind == OperandKind::kImm32) != (pass == 1)) continue;
        if (!given[i]) {
          if (spec.required) return Error("{}: missing operand '{}'", info.mnemonic, spec.name);
          inst.ops[i] = Operand{-1, spec.default_value};
          continue;
        }
        StatusOr<Operand> o = ParseOperand(inst, spec, text[i]);
        if (!o.ok()) return o.status().WithPrefix(fmt::format("{}: operand '{}'", info.mnemonic, spec.name));
        inst.ops[i] = *o;
      }
    }
    program_.cores[core_].push_back(inst);
    return ValidateInstruction(inst, std::string(word));
  }

  StatusOr<Operand> ParseOperand(const Instruction& inst, const OperandSpec& spec, std::string_view t) {
    switch (spec.kind) {
      case OperandKind::kVal: {
        ASSIGN_OR_RETURN(Value v, ExprParser(t, symbols_).Parse());
        return Operand{v.reg, v.imm};
      }
      case OperandKind::kReg: {
        auto r = ParseIndexed(t, 'r');
        if (!r) return Error("expected a register like r3, got '{}'", t);
        return Operand{-1, *r};
      }
      case OperandKind::kSem: {
        auto s = ParseIndexed(t, 's');
        if (s) return Operand{-1, *s};
        ASSIGN_OR_RETURN(int64_t c, Const(t));
        return Operand{-1, c};
      }
      case OperandKind::kF32: {
        ASSIGN_OR_RETURN(int64_t bits, ParseF32Bits(t));
        return Operand{-1, bits};
      }
      case OperandKind::kImm32: {
        int d = inst.info().Find("dtype");
        DType dt = d >= 0 ? static_cast<DType>(inst.ops[d].imm) : DType::kS32;
        if (dt == DType::kF32 || dt == DType::kBF16) {
          ASSIGN_OR_RETURN(int64_t bits, ParseF32Bits(t));
          return Operand{-1, bits};
        }
        ASSIGN_OR_RETURN(int64_t v, Const(t));
        if (v < INT32_MIN || v > INT32_MAX) return Error("{} does not fit in s32", v);
        return Operand{-1, static_cast<int64_t>(static_cast<uint32_t>(static_cast<int32_t>(v)))};
      }
      case OperandKind::kInt: {
        ASSIGN_OR_RETURN(int64_t v, Const(t));
        if (v < INT32_MIN || v > INT32_MAX) return Error("{} does not fit in s32", v);
        return Operand{-1, v};
      }
      case OperandKind::kFlag: {
        ASSIGN_OR_RETURN(int64_t v, Const(t));
        if (v != 0 && v != 1) return Error("must be 0 or 1, got {}", v);
        return Operand{-1, v};
      }
      default: {
        std::optional<int64_t> v = ParseEnumValue(spec.kind, t);
        if (!v) {
          std::string names;
          for (int64_t i = 0; i < EnumValueCount(spec.kind); ++i) {
            std::string_view n = EnumValueName(spec.kind, i);
            if (n.empty()) continue;
            names += names.empty() ? "" : ", ";
            names += n;
          }
          return Error("'{}' is not one of: {}", t, names);
        }
        return Operand{-1, *v};
      }
    }
  }

  static std::string OperandList(const OpInfo& info) {
    std::string s;
    for (int i = 0; i < info.num_operands; ++i) s += (i ? ", " : "") + std::string(info.operands[i].name);
    return s.empty() ? "none" : s;
  }

  std::string filename_;
  Program program_;
  std::map<std::string, int64_t> symbols_;
  int core_ = 0;
  int line_ = 0;
};

}  // namespace

StatusOr<Program> Assemble(std::string_view text, const std::string& filename) {
  return Assembler(filename).Run(text);
}

}  // namespace xtpu::isa
