// Parser for the text form of tensor IR (printer.cc writes it; grammar in
// docs/ir.md). Reads line by line with IrLexer, resolves operands and
// to_apply computations by name, then runs the verifier. Never trusts the
// input: sizes are checked before anything is allocated.
#include "xtpu/ir/parser.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "xtpu/ir/ir_lexer.h"
#include "xtpu/ir/verifier.h"
#include "xtpu/support/base64.h"

namespace xtpu {
namespace {

// Tuple shapes nest at most this deep (keeps ParseShape's recursion bounded).
constexpr int kMaxShapeNesting = 32;

// The attributes of each opcode, in printing order. All are required.
std::vector<std::string_view> AttributeNames(Opcode op) {
  switch (op) {
    case Opcode::kIota: return {"iota_dimension"};
    case Opcode::kCompare: return {"direction"};
    case Opcode::kBroadcast:
    case Opcode::kTranspose:
    case Opcode::kReverse:
    case Opcode::kConcatenate: return {"dimensions"};
    case Opcode::kReduce: return {"dimensions", "to_apply"};
    case Opcode::kSlice: return {"slice"};
    case Opcode::kDynamicSlice: return {"dynamic_slice_sizes"};
    case Opcode::kPad: return {"padding"};
    case Opcode::kDot:
      return {"lhs_batch_dims", "lhs_contracting_dims", "rhs_batch_dims", "rhs_contracting_dims"};
    case Opcode::kConvolution:
      return {"window", "dim_labels", "feature_group_count", "batch_group_count"};
    case Opcode::kReduceWindow: return {"window", "to_apply"};
    case Opcode::kGather:
      return {"offset_dims", "collapsed_slice_dims", "start_index_map", "index_vector_dim", "slice_sizes"};
    case Opcode::kGetTupleElement: return {"index"};
    case Opcode::kFusion: return {"kind", "calls"};
    default: return {};
  }
}

// Elements of every array in `s` fit in int64 bytes.
bool ShapeSizeFits(const Shape& s) {
  if (s.is_tuple) {
    for (const Shape& e : s.tuple)
      if (!ShapeSizeFits(e)) return false;
    return true;
  }
  int64_t limit = std::numeric_limits<int64_t>::max() / 8;
  int64_t n = 1;
  for (int64_t d : s.dims) {
    if (d != 0 && n > limit / d) return false;
    n *= d;
  }
  return true;
}

// An instruction read but not yet added to its computation.
struct PendingInstruction {
  std::unique_ptr<Instruction> inst;
  int64_t line;
};

class Parser {
 public:
  Parser(std::string_view text, const std::string& filename) : lex_(text, filename) {}

  StatusOr<std::unique_ptr<Module>> Parse() {
    lex_.SkipBlank();
    ASSIGN_OR_RETURN(std::string_view kw, lex_.ReadName("'HloModule'"));
    if (kw != "HloModule") return lex_.Err("expected 'HloModule' at the start, found {}", QuoteForMessage(kw));
    ASSIGN_OR_RETURN(std::string_view module_name, lex_.ReadName("module name"));
    RETURN_IF_ERROR(lex_.ExpectEndOfLine("the module name"));
    module_ = std::make_unique<Module>(std::string(module_name));
    while (true) {
      lex_.SkipBlank();
      if (lex_.AtEnd()) break;
      RETURN_IF_ERROR(ParseComputation());
    }
    if (!module_->entry()) return lex_.Err("module '{}' has no ENTRY computation", module_->name());
    Status st = Verify(*module_);
    if (!st.ok()) return st.WithPrefix(lex_.filename());
    return std::move(module_);
  }

 private:
  Status ParseComputation() {
    int64_t line = lex_.line();
    ASSIGN_OR_RETURN(std::string_view name, lex_.ReadName("computation name"));
    bool is_entry = false;
    lex_.SkipSpaces();
    if (name == "ENTRY" && lex_.Peek() != '{') {
      is_entry = true;
      ASSIGN_OR_RETURN(name, lex_.ReadName("computation name"));
    }
    std::string comp_name(name);
    if (computations_.count(comp_name)) return lex_.Err("duplicate computation name '{}'", comp_name);
    if (is_entry && module_->entry())
      return lex_.Err("second ENTRY computation '{}' (the entry is '{}')", comp_name, module_->entry()->name());
    RETURN_IF_ERROR(lex_.Expect('{', fmt::format("after computation name '{}'", comp_name)));
    RETURN_IF_ERROR(lex_.ExpectEndOfLine(fmt::format("'{{' of computation '{}'", comp_name)));

    auto comp = std::make_unique<Computation>(comp_name);
    std::vector<PendingInstruction> insts;
    std::unordered_map<std::string_view, Instruction*> local;  // names in this computation
    Instruction* root = nullptr;
    while (true) {
      lex_.SkipBlank();
      if (lex_.AtEnd()) return lex_.ErrAtLine(line, "computation '{}' has no closing '}}'", comp_name);
      if (lex_.Peek() == '}') {
        lex_.Advance();
        RETURN_IF_ERROR(lex_.ExpectEndOfLine(fmt::format("'}}' of computation '{}'", comp_name)));
        break;
      }
      int64_t inst_line = lex_.line();
      bool is_root = false;
      ASSIGN_OR_RETURN(Instruction * inst, ParseInstruction(comp_name, local, &insts, &is_root));
      if (is_root) {
        if (root) return lex_.ErrAtLine(inst_line, "second ROOT '{}' in computation '{}' (the root is '{}')",
                                        inst->name, comp_name, root->name);
        root = inst;
      }
    }
    if (!root) return lex_.ErrAtLine(line, "computation '{}' has no ROOT instruction", comp_name);

    // Parameter numbers must be 0..n-1, each once.
    std::vector<const PendingInstruction*> params;
    for (const auto& p : insts)
      if (p.inst->opcode == Opcode::kParameter) params.push_back(&p);
    std::vector<const Instruction*> by_number(params.size(), nullptr);
    for (const PendingInstruction* p : params) {
      int64_t n = p->inst->parameter_number;
      if (n < 0 || n >= static_cast<int64_t>(params.size()))
        return lex_.ErrAtLine(p->line, "parameter number {} of '{}' is out of range: computation '{}' has {} parameters",
                              n, p->inst->name, comp_name, params.size());
      if (by_number[n])
        return lex_.ErrAtLine(p->line, "parameter number {} of '{}' is already used by '{}'", n, p->inst->name,
                              by_number[n]->name);
      by_number[n] = p->inst.get();
    }
    for (auto& p : insts) comp->AddInstruction(std::move(p.inst));
    comp->set_root(root);
    Computation* c = module_->AddComputation(std::move(comp));
    computations_[comp_name] = c;
    if (is_entry) module_->set_entry(c);
    return OkStatus();
  }

  StatusOr<Instruction*> ParseInstruction(const std::string& comp_name,
                                          std::unordered_map<std::string_view, Instruction*>& local,
                                          std::vector<PendingInstruction>* insts, bool* is_root) {
    int64_t line = lex_.line();
    ASSIGN_OR_RETURN(std::string_view name, lex_.ReadName("instruction name"));
    lex_.SkipSpaces();
    if (name == "ROOT" && lex_.Peek() != '=') {
      *is_root = true;
      ASSIGN_OR_RETURN(name, lex_.ReadName("instruction name"));
    }
    auto inst = std::make_unique<Instruction>();
    inst->name = std::string(name);
    if (auto it = names_.find(inst->name); it != names_.end())
      return lex_.Err("duplicate instruction name '{}' (first defined at line {})", inst->name, it->second.line);
    RETURN_IF_ERROR(lex_.Expect('=', fmt::format("after instruction name '{}'", inst->name)));

    RETURN_IF_ERROR(ParseShapeOf(inst.get()));
    ASSIGN_OR_RETURN(std::string_view opname, lex_.ReadName(fmt::format("opcode of '{}'", inst->name)));
    std::optional<Opcode> op = ParseOpcode(opname);
    if (!op) return lex_.Err("unknown opcode {} in instruction '{}'", QuoteForMessage(opname), inst->name);
    inst->opcode = *op;
    RETURN_IF_ERROR(lex_.Expect('(', fmt::format("after opcode '{}' of '{}'", opname, inst->name)));
    if (inst->opcode == Opcode::kParameter) {
      ASSIGN_OR_RETURN(inst->parameter_number, lex_.ReadInt(fmt::format("parameter number of '{}'", inst->name)));
    } else if (inst->opcode == Opcode::kConstant) {
      RETURN_IF_ERROR(ParseLiteral(inst.get()));
    } else {
      RETURN_IF_ERROR(ParseOperands(inst.get(), comp_name, local));
    }
    RETURN_IF_ERROR(lex_.Expect(')', fmt::format("after the operands of '{}'", inst->name)));
    RETURN_IF_ERROR(ParseAttributes(inst.get()));
    RETURN_IF_ERROR(lex_.ExpectEndOfLine(fmt::format("instruction '{}'", inst->name)));

    Instruction* raw = inst.get();
    names_.emplace(inst->name, Definition{line, comp_name});
    local.emplace(std::string_view(raw->name), raw);
    insts->push_back({std::move(inst), line});
    return raw;
  }

  // The shape text runs to the matching ')' of a tuple or to the ']' of an
  // array; ParseShape (shape.h) reads it.
  Status ParseShapeOf(Instruction* inst) {
    lex_.SkipSpaces();
    size_t start = lex_.pos();
    int depth = 0;
    while (true) {
      char c = lex_.Peek();
      if (lex_.AtEnd() || c == '\n') return lex_.Err("shape of '{}' is not closed", inst->name);
      lex_.Advance();
      if (c == '(') {
        if (++depth > kMaxShapeNesting) return lex_.Err("shape of '{}' nests tuples too deeply", inst->name);
      } else if (c == ')') {
        if (--depth <= 0) break;
      } else if (c == ']' && depth == 0) {
        break;
      } else if (depth == 0 && (c == ' ' || c == '\t')) {
        bool opened = TextBetween(start, lex_.pos()).find('[') != std::string_view::npos;
        return lex_.Err("bad shape of '{}': {}", inst->name,
                        opened ? "missing ']'" : "expected '[' after the element type");
      }
    }
    std::string_view text = TextBetween(start, lex_.pos());
    StatusOr<Shape> shape = ParseShape(text);
    if (!shape.ok()) return lex_.Err("bad shape of '{}': {}", inst->name, shape.status().message());
    if (!ShapeSizeFits(*shape)) return lex_.Err("shape {} of '{}' is too large", QuoteForMessage(text), inst->name);
    inst->shape = std::move(*shape);
    return OkStatus();
  }

  std::string_view TextBetween(size_t begin, size_t end) const { return lex_.text().substr(begin, end - begin); }

  Status ParseOperands(Instruction* inst, const std::string& comp_name,
                       const std::unordered_map<std::string_view, Instruction*>& local) {
    lex_.SkipSpaces();
    if (lex_.Peek() == ')') return OkStatus();
    while (true) {
      ASSIGN_OR_RETURN(std::string_view name, lex_.ReadName(fmt::format("operand name of '{}'", inst->name)));
      auto it = local.find(name);
      if (it == local.end()) {
        auto other = names_.find(std::string(name));
        if (other != names_.end())
          return lex_.Err("operand '{}' of '{}' is defined in computation '{}', not in '{}'", name, inst->name,
                          other->second.computation, comp_name);
        return lex_.Err("operand '{}' of '{}' is not defined", name, inst->name);
      }
      inst->operands.push_back(it->second);
      if (!lex_.Consume(',')) return OkStatus();
    }
  }

  // ---- constants -------------------------------------------------------

  Status ParseLiteral(Instruction* inst) {
    const Shape& shape = inst->shape;
    if (shape.is_tuple) return lex_.Err("constant '{}' must have an array shape, not {}", inst->name, shape.ToString());
    lex_.SkipSpaces();
    if (lex_.LookingAt("b64:")) {
      lex_.Advance(4);
      std::string_view data = lex_.ReadUntil("),");
      StatusOr<size_t> size = Base64DecodedSize(data);
      if (!size.ok()) return lex_.Err("bad base64 data of constant '{}': {}", inst->name, size.status().message());
      if (static_cast<int64_t>(*size) != shape.byte_size())
        return lex_.Err("constant '{}' has {} bytes of data, expected {} for {}", inst->name, *size,
                        shape.byte_size(), shape.ToString());
      Literal lit(shape);
      Status st = Base64DecodeInto(data, lit.mutable_bytes().data());
      if (!st.ok()) return lex_.Err("bad base64 data of constant '{}': {}", inst->name, st.message());
      inst->literal = std::move(lit);
      return OkStatus();
    }
    int64_t expected = shape.num_elements();
    // Each value takes at least two characters; a count beyond that cannot
    // match, so the literal is only allocated when it might.
    bool store = expected <= static_cast<int64_t>(lex_.text().size() - lex_.pos()) / 2 + 1;
    Literal lit = store ? Literal(shape) : Literal();
    int64_t count = 0;
    auto value = [&]() -> Status {
      if (store && count < expected) RETURN_IF_ERROR(ParseElement(inst, &lit, count));
      else RETURN_IF_ERROR(ParseElement(inst, nullptr, 0));
      ++count;
      return OkStatus();
    };
    if (lex_.Consume('{')) {
      lex_.SkipSpaces();
      if (lex_.Peek() != '}') {
        do {
          RETURN_IF_ERROR(value());
        } while (lex_.Consume(','));
      }
      RETURN_IF_ERROR(lex_.Expect('}', fmt::format("after the values of constant '{}'", inst->name)));
    } else {
      RETURN_IF_ERROR(value());
    }
    if (count != expected)
      return lex_.Err("constant '{}' has {} values, expected {} for {}", inst->name, count, expected,
                      shape.ToString());
    inst->literal = std::move(lit);
    return OkStatus();
  }

  // One value; stored into (*lit)[i] unless lit is null.
  Status ParseElement(const Instruction* inst, Literal* lit, int64_t i) {
    lex_.SkipSpaces();
    std::string_view tok = lex_.ReadUntil(",})");
    DType t = inst->shape.dtype;
    auto bad = [&](std::string_view why) {
      return lex_.Err("{} {} value {} in constant '{}'", why, DTypeName(t),
                      tok.empty() ? lex_.Describe() : QuoteForMessage(tok), inst->name);
    };
    const char* end = tok.data() + tok.size();
    if (t == DType::kPred) {
      if (tok != "true" && tok != "false") return bad("bad");
      if (lit) lit->data<uint8_t>()[i] = tok == "true";
    } else if (IsFloat(t)) {
      float f = 0;
      auto [ptr, ec] = std::from_chars(tok.data(), end, f);
      if (ec == std::errc::result_out_of_range) return bad("out-of-range");
      if (ec != std::errc() || ptr != end) return bad("bad");
      if (!lit) return OkStatus();
      if (t == DType::kF32) lit->data<float>()[i] = f;
      else if (t == DType::kBF16) lit->data<bf16>()[i] = bf16::FromFloat(f);
      else lit->data<f16>()[i] = f16::FromFloat(f);
    } else {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(tok.data(), end, v);
      if (ec == std::errc::result_out_of_range) return bad("out-of-range");
      if (ec != std::errc() || ptr != end) return bad("bad");
      int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
      if (t == DType::kS8) lo = -128, hi = 127;
      if (t == DType::kU8) lo = 0, hi = 255;
      if (t == DType::kS32) lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
      if (v < lo || v > hi) return bad("out-of-range");
      if (lit) lit->SetFromInt64(i, v);
    }
    return OkStatus();
  }

  // ---- attributes ------------------------------------------------------

  Status ParseAttributes(Instruction* inst) {
    std::vector<std::string_view> allowed = AttributeNames(inst->opcode);
    std::vector<bool> seen(allowed.size(), false);
    while (lex_.Consume(',')) {
      ASSIGN_OR_RETURN(std::string_view attr, lex_.ReadName(fmt::format("attribute name of '{}'", inst->name)));
      size_t k = 0;
      while (k < allowed.size() && allowed[k] != attr) ++k;
      if (k == allowed.size()) {
        std::string list;
        for (std::string_view a : allowed) list += fmt::format("{}{}", list.empty() ? "" : ", ", a);
        return lex_.Err("unknown attribute '{}' for {} '{}' ({})", attr, OpcodeName(inst->opcode), inst->name,
                        list.empty() ? std::string("it takes none") : "expected " + list);
      }
      if (seen[k]) return lex_.Err("duplicate attribute '{}' of '{}'", attr, inst->name);
      seen[k] = true;
      RETURN_IF_ERROR(lex_.Expect('=', fmt::format("after attribute '{}' of '{}'", attr, inst->name)));
      RETURN_IF_ERROR(ParseAttributeValue(inst, attr));
    }
    for (size_t k = 0; k < allowed.size(); ++k)
      if (!seen[k])
        return lex_.Err("{} '{}' lacks attribute '{}'", OpcodeName(inst->opcode), inst->name, allowed[k]);
    return OkStatus();
  }

  Status ParseAttributeValue(Instruction* inst, std::string_view attr) {
    std::string what = fmt::format("attribute '{}' of '{}'", attr, inst->name);
    if (attr == "dimensions") return ParseIntList(what, &inst->dimensions);
    if (attr == "iota_dimension") {
      ASSIGN_OR_RETURN(int64_t d, lex_.ReadInt(what));
      inst->dimensions = {d};
      return OkStatus();
    }
    if (attr == "direction") {
      ASSIGN_OR_RETURN(std::string_view d, lex_.ReadName(what));
      auto dir = ParseCompareDirection(d);
      if (!dir) return lex_.Err("unknown direction {} of '{}' (EQ, NE, LT, LE, GT, GE)", QuoteForMessage(d), inst->name);
      inst->direction = *dir;
      return OkStatus();
    }
    if (attr == "kind") {
      ASSIGN_OR_RETURN(std::string_view k, lex_.ReadName(what));
      auto kind = ParseFusionKind(k);
      if (!kind) return lex_.Err("unknown fusion kind {} of '{}' (loop, output)", QuoteForMessage(k), inst->name);
      inst->fusion_kind = *kind;
      return OkStatus();
    }
    if (attr == "to_apply" || attr == "calls") {
      ASSIGN_OR_RETURN(std::string_view c, lex_.ReadName(what));
      auto it = computations_.find(std::string(c));
      if (it == computations_.end())
        return lex_.Err("{} computation '{}' of '{}' is not defined (define it before its users)", attr, c,
                        inst->name);
      inst->to_apply = it->second;
      return OkStatus();
    }
    if (attr == "slice") return ParseSlice(inst, what);
    if (attr == "dynamic_slice_sizes" || attr == "slice_sizes") return ParseIntList(what, &inst->slice_sizes);
    if (attr == "padding") return ParsePadding(inst, what);
    if (attr == "lhs_batch_dims") return ParseIntList(what, &inst->dot_dims.lhs_batch);
    if (attr == "lhs_contracting_dims") return ParseIntList(what, &inst->dot_dims.lhs_contracting);
    if (attr == "rhs_batch_dims") return ParseIntList(what, &inst->dot_dims.rhs_batch);
    if (attr == "rhs_contracting_dims") return ParseIntList(what, &inst->dot_dims.rhs_contracting);
    if (attr == "window") return ParseWindow(inst, what);
    if (attr == "dim_labels") return ParseDimLabels(inst);
    if (attr == "feature_group_count") return AssignInt(what, &inst->feature_group_count);
    if (attr == "batch_group_count") return AssignInt(what, &inst->batch_group_count);
    if (attr == "offset_dims") return ParseIntList(what, &inst->gather_dims.offset_dims);
    if (attr == "collapsed_slice_dims") return ParseIntList(what, &inst->gather_dims.collapsed_slice_dims);
    if (attr == "start_index_map") return ParseIntList(what, &inst->gather_dims.start_index_map);
    if (attr == "index_vector_dim") return AssignInt(what, &inst->gather_dims.index_vector_dim);
    if (attr == "index") return AssignInt(what, &inst->tuple_index);
    return lex_.Err("internal: attribute '{}' has no reader", attr);
  }

  Status AssignInt(const std::string& what, int64_t* out) {
    ASSIGN_OR_RETURN(*out, lex_.ReadInt(what));
    return OkStatus();
  }

  // "{1,2,3}" or "{}"
  Status ParseIntList(const std::string& what, std::vector<int64_t>* out) {
    out->clear();
    RETURN_IF_ERROR(lex_.Expect('{', "to open " + what));
    lex_.SkipSpaces();
    if (lex_.Consume('}')) return OkStatus();
    do {
      ASSIGN_OR_RETURN(int64_t v, lex_.ReadInt(what));
      out->push_back(v);
    } while (lex_.Consume(','));
    return lex_.Expect('}', "to close " + what);
  }

  // "{[0:2:1], [1:3:1]}"
  Status ParseSlice(Instruction* inst, const std::string& what) {
    RETURN_IF_ERROR(lex_.Expect('{', "to open " + what));
    if (lex_.Consume('}')) return OkStatus();
    do {
      RETURN_IF_ERROR(lex_.Expect('[', "in " + what));
      ASSIGN_OR_RETURN(int64_t start, lex_.ReadInt(what));
      RETURN_IF_ERROR(lex_.Expect(':', "after a slice start in " + what));
      ASSIGN_OR_RETURN(int64_t limit, lex_.ReadInt(what));
      RETURN_IF_ERROR(lex_.Expect(':', "after a slice limit in " + what));
      ASSIGN_OR_RETURN(int64_t stride, lex_.ReadInt(what));
      RETURN_IF_ERROR(lex_.Expect(']', "after a slice stride in " + what));
      inst->slice_starts.push_back(start);
      inst->slice_limits.push_back(limit);
      inst->slice_strides.push_back(stride);
    } while (lex_.Consume(','));
    return lex_.Expect('}', "to close " + what);
  }

  // "0_0_0x1_1_2" or "{}" (rank 0)
  Status ParsePadding(Instruction* inst, const std::string& what) {
    if (lex_.Consume('{')) return lex_.Expect('}', "for the empty " + what);
    do {
      PadDim d;
      ASSIGN_OR_RETURN(d.lo, lex_.ReadInt(what));
      RETURN_IF_ERROR(lex_.Expect('_', "after low padding in " + what));
      ASSIGN_OR_RETURN(d.hi, lex_.ReadInt(what));
      RETURN_IF_ERROR(lex_.Expect('_', "after high padding in " + what));
      ASSIGN_OR_RETURN(d.interior, lex_.ReadInt(what));
      inst->padding.push_back(d);
    } while (lex_.ConsumeHere('x'));
    return OkStatus();
  }

  // "{size=3x3 stride=2x2 pad=1_1x1_1 lhs_dilate=1x1 rhs_dilate=1x1}" or "{}"
  Status ParseWindow(Instruction* inst, const std::string& what) {
    RETURN_IF_ERROR(lex_.Expect('{', "to open " + what));
    if (lex_.Consume('}')) return OkStatus();
    static constexpr std::string_view kFields[] = {"size", "stride", "pad", "lhs_dilate", "rhs_dilate"};
    std::vector<int64_t> values[6];  // size, stride, pad_lo, lhs, rhs, pad_hi
    bool seen[5] = {};
    while (!lex_.Consume('}')) {
      ASSIGN_OR_RETURN(std::string_view field, lex_.ReadName("window field of '" + inst->name + "'"));
      size_t k = 0;
      while (k < 5 && kFields[k] != field) ++k;
      if (k == 5)
        return lex_.Err("unknown window field {} of '{}' (size, stride, pad, lhs_dilate, rhs_dilate)",
                        QuoteForMessage(field), inst->name);
      if (seen[k]) return lex_.Err("duplicate window field '{}' of '{}'", field, inst->name);
      seen[k] = true;
      RETURN_IF_ERROR(lex_.Expect('=', fmt::format("after window field '{}' of '{}'", field, inst->name)));
      std::string fwhat = fmt::format("window {} of '{}'", field, inst->name);
      do {
        ASSIGN_OR_RETURN(int64_t v, lex_.ReadInt(fwhat));
        values[k].push_back(v);
        if (k == 2) {
          RETURN_IF_ERROR(lex_.Expect('_', "between low and high padding in " + fwhat));
          ASSIGN_OR_RETURN(int64_t hi, lex_.ReadInt(fwhat));
          values[5].push_back(hi);
        }
      } while (lex_.ConsumeHere('x'));
      if (lex_.AtEnd() || lex_.Peek() == '\n') return lex_.Err("window of '{}' is not closed with '}}'", inst->name);
    }
    for (size_t k = 0; k < 5; ++k) {
      if (!seen[k]) return lex_.Err("window of '{}' lacks '{}'", inst->name, kFields[k]);
      if (values[k].size() != values[0].size())
        return lex_.Err("window of '{}' has {} sizes but {} {} values", inst->name, values[0].size(),
                        values[k].size(), kFields[k]);
    }
    for (size_t i = 0; i < values[0].size(); ++i) {
      WindowDim d;
      d.size = values[0][i];
      d.stride = values[1][i];
      d.pad_lo = values[2][i];
      d.pad_hi = values[5][i];
      d.base_dilation = values[3][i];
      d.window_dilation = values[4][i];
      inst->window.push_back(d);
    }
    return OkStatus();
  }

  // "bf01_oi01->bf01"
  Status ParseDimLabels(Instruction* inst) {
    lex_.SkipSpaces();
    std::string_view text = lex_.ReadUntil(",");
    auto bad = [&](std::string_view why) {
      return lex_.Err("bad dim_labels {} of '{}': {}", QuoteForMessage(text), inst->name, why);
    };
    size_t us = text.find('_'), arrow = text.find("->");
    if (us == std::string_view::npos || arrow == std::string_view::npos || arrow < us)
      return bad("expected <input>_<kernel>-><output>, e.g. bf01_oi01->bf01");
    std::string_view parts[3] = {text.substr(0, us), text.substr(us + 1, arrow - us - 1), text.substr(arrow + 2)};
    const char letters[3][2] = {{'b', 'f'}, {'o', 'i'}, {'b', 'f'}};
    int64_t* firsts[3] = {&inst->conv_dims.input_batch, &inst->conv_dims.kernel_output_feature,
                          &inst->conv_dims.output_batch};
    int64_t* seconds[3] = {&inst->conv_dims.input_feature, &inst->conv_dims.kernel_input_feature,
                           &inst->conv_dims.output_feature};
    std::vector<int64_t>* spatials[3] = {&inst->conv_dims.input_spatial, &inst->conv_dims.kernel_spatial,
                                         &inst->conv_dims.output_spatial};
    const char* part_names[3] = {"input", "kernel", "output"};
    for (int p = 0; p < 3; ++p) {
      std::string_view s = parts[p];
      if (s.size() < 2 || s.size() > 12) return bad(fmt::format("{} labels must have 2 to 12 characters", part_names[p]));
      size_t nsp = s.size() - 2;
      if (p > 0 && nsp != spatials[0]->size()) return bad("input, kernel and output have different spatial ranks");
      int64_t a = -1, b = -1;
      std::vector<int64_t> sp(nsp, -1);
      for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        int64_t* slot = nullptr;
        if (c == letters[p][0]) slot = &a;
        else if (c == letters[p][1]) slot = &b;
        else if (c >= '0' && c < static_cast<char>('0' + nsp)) slot = &sp[c - '0'];
        if (!slot) return bad(fmt::format("unexpected '{}' in the {} labels", c, part_names[p]));
        if (*slot >= 0) return bad(fmt::format("'{}' appears twice in the {} labels", c, part_names[p]));
        *slot = static_cast<int64_t>(i);
      }
      *firsts[p] = a;
      *seconds[p] = b;
      *spatials[p] = std::move(sp);
    }
    return OkStatus();
  }

  // Where each instruction name was defined.
  struct Definition {
    int64_t line;
    std::string computation;
  };

  IrLexer lex_;
  std::unique_ptr<Module> module_;
  std::unordered_map<std::string, Computation*> computations_;
  std::unordered_map<std::string, Definition> names_;
};

}  // namespace

StatusOr<std::unique_ptr<Module>> ParseModule(std::string_view text, const std::string& filename) {
  Parser parser(text, filename);
  return parser.Parse();
}

}  // namespace xtpu
