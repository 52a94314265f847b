// Printer for the text form of tensor IR (grammar in docs/ir.md). The parser
// (parser.cc) reads exactly this form back; keep the two in step.
#include "xtpu/ir/printer.h"

#include <charconv>
#include <cmath>

#include "xtpu/support/base64.h"

namespace xtpu {
namespace {

// Constants up to this many elements (and without NaN) print as values.
constexpr int64_t kMaxInlineElements = 16;

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// "{0,1,2}"
void AppendIntList(std::string* out, const std::vector<int64_t>& v) {
  out->push_back('{');
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out->push_back(',');
    AppendInt(out, v[i]);
  }
  out->push_back('}');
}

// Shortest text that parses back to the same float.
void AppendFloat(std::string* out, float f) {
  if (std::isinf(f)) {
    out->append(f < 0 ? "-inf" : "inf");
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), f);
  out->append(buf, r.ptr);
}

void AppendElement(std::string* out, const Literal& lit, int64_t i) {
  switch (lit.dtype()) {
    case DType::kPred: out->append(lit.data<uint8_t>()[i] ? "true" : "false"); break;
    case DType::kS8:
    case DType::kU8:
    case DType::kS32:
    case DType::kS64: AppendInt(out, lit.GetAsInt64(i)); break;
    case DType::kBF16:
    case DType::kF16:
    case DType::kF32: AppendFloat(out, static_cast<float>(lit.GetAsDouble(i))); break;
  }
}

bool HasNaN(const Literal& lit) {
  if (!IsFloat(lit.dtype())) return false;
  for (int64_t i = 0; i < lit.num_elements(); ++i)
    if (std::isnan(lit.GetAsDouble(i))) return true;
  return false;
}

void AppendLiteral(std::string* out, const Literal& lit) {
  int64_t n = lit.num_elements();
  bool sized = !lit.shape().is_tuple && static_cast<int64_t>(lit.bytes().size()) == lit.shape().byte_size();
  if (sized && n <= kMaxInlineElements && !HasNaN(lit)) {
    if (lit.shape().is_scalar()) {
      AppendElement(out, lit, 0);
      return;
    }
    out->push_back('{');
    for (int64_t i = 0; i < n; ++i) {
      if (i) out->append(", ");
      AppendElement(out, lit, i);
    }
    out->push_back('}');
    return;
  }
  out->append("b64:");
  Base64EncodeAppend(lit.bytes().data(), lit.bytes().size(), out);
}

// "3x3" from one field of each window dim.
template <typename F>
void AppendWindowField(std::string* out, const char* name, const std::vector<WindowDim>& w, F field) {
  out->append(name);
  out->push_back('=');
  for (size_t i = 0; i < w.size(); ++i) {
    if (i) out->push_back('x');
    AppendInt(out, field(w[i]));
  }
}

void AppendWindow(std::string* out, const std::vector<WindowDim>& w) {
  out->append("window={");
  if (!w.empty()) {
    AppendWindowField(out, "size", w, [](const WindowDim& d) { return d.size; });
    out->push_back(' ');
    AppendWindowField(out, "stride", w, [](const WindowDim& d) { return d.stride; });
    out->append(" pad=");
    for (size_t i = 0; i < w.size(); ++i) {
      if (i) out->push_back('x');
      AppendInt(out, w[i].pad_lo);
      out->push_back('_');
      AppendInt(out, w[i].pad_hi);
    }
    out->push_back(' ');
    AppendWindowField(out, "lhs_dilate", w, [](const WindowDim& d) { return d.base_dilation; });
    out->push_back(' ');
    AppendWindowField(out, "rhs_dilate", w, [](const WindowDim& d) { return d.window_dilation; });
  }
  out->push_back('}');
}

// One part of dim_labels: `rank` chars, `a` at position ia, `b` at ib, digit
// k at spatial[k]. Inconsistent numbers print '?' (the verifier rejects them).
std::string DimLabelPart(char a, int64_t ia, char b, int64_t ib, const std::vector<int64_t>& spatial) {
  int64_t rank = 2 + static_cast<int64_t>(spatial.size());
  std::string s(static_cast<size_t>(rank), '?');
  auto put = [&](int64_t pos, char c) {
    if (pos >= 0 && pos < rank) s[pos] = c;
  };
  put(ia, a);
  put(ib, b);
  for (size_t k = 0; k < spatial.size(); ++k) put(spatial[k], static_cast<char>('0' + k));
  return s;
}

void AppendDimLabels(std::string* out, const ConvDims& d) {
  out->append("dim_labels=");
  out->append(DimLabelPart('b', d.input_batch, 'f', d.input_feature, d.input_spatial));
  out->push_back('_');
  out->append(DimLabelPart('o', d.kernel_output_feature, 'i', d.kernel_input_feature, d.kernel_spatial));
  out->append("->");
  out->append(DimLabelPart('b', d.output_batch, 'f', d.output_feature, d.output_spatial));
}

void AppendNamedList(std::string* out, const char* name, const std::vector<int64_t>& v) {
  out->append(", ");
  out->append(name);
  out->push_back('=');
  AppendIntList(out, v);
}

void AppendNamedInt(std::string* out, const char* name, int64_t v) {
  out->append(", ");
  out->append(name);
  out->push_back('=');
  AppendInt(out, v);
}

void AppendToApply(std::string* out, const Instruction& inst) {
  out->append(", to_apply=");
  out->append(inst.to_apply ? inst.to_apply->name() : std::string("<null>"));
}

// The ", attr=value" pairs, in the fixed order of each opcode.
void AppendAttributes(std::string* out, const Instruction& inst) {
  switch (inst.opcode) {
    case Opcode::kIota:
      AppendNamedInt(out, "iota_dimension", inst.dimensions.empty() ? 0 : inst.dimensions[0]);
      break;
    case Opcode::kCompare:
      out->append(", direction=");
      out->append(CompareDirectionName(inst.direction));
      break;
    case Opcode::kBroadcast:
    case Opcode::kTranspose:
    case Opcode::kReverse:
    case Opcode::kConcatenate:
      AppendNamedList(out, "dimensions", inst.dimensions);
      break;
    case Opcode::kReduce:
      AppendNamedList(out, "dimensions", inst.dimensions);
      AppendToApply(out, inst);
      break;
    case Opcode::kSlice: {
      out->append(", slice={");
      size_t n = inst.slice_starts.size();
      for (size_t i = 0; i < n; ++i) {
        if (i) out->append(", ");
        out->push_back('[');
        AppendInt(out, inst.slice_starts[i]);
        out->push_back(':');
        AppendInt(out, i < inst.slice_limits.size() ? inst.slice_limits[i] : 0);
        out->push_back(':');
        AppendInt(out, i < inst.slice_strides.size() ? inst.slice_strides[i] : 1);
        out->push_back(']');
      }
      out->push_back('}');
      break;
    }
    case Opcode::kDynamicSlice:
      AppendNamedList(out, "dynamic_slice_sizes", inst.slice_sizes);
      break;
    case Opcode::kPad:
      out->append(", padding=");
      if (inst.padding.empty()) out->append("{}");
      for (size_t i = 0; i < inst.padding.size(); ++i) {
        if (i) out->push_back('x');
        AppendInt(out, inst.padding[i].lo);
        out->push_back('_');
        AppendInt(out, inst.padding[i].hi);
        out->push_back('_');
        AppendInt(out, inst.padding[i].interior);
      }
      break;
    case Opcode::kDot:
      AppendNamedList(out, "lhs_batch_dims", inst.dot_dims.lhs_batch);
      AppendNamedList(out, "lhs_contracting_dims", inst.dot_dims.lhs_contracting);
      AppendNamedList(out, "rhs_batch_dims", inst.dot_dims.rhs_batch);
      AppendNamedList(out, "rhs_contracting_dims", inst.dot_dims.rhs_contracting);
      break;
    case Opcode::kConvolution:
      out->append(", ");
      AppendWindow(out, inst.window);
      out->append(", ");
      AppendDimLabels(out, inst.conv_dims);
      AppendNamedInt(out, "feature_group_count", inst.feature_group_count);
      AppendNamedInt(out, "batch_group_count", inst.batch_group_count);
      break;
    case Opcode::kReduceWindow:
      out->append(", ");
      AppendWindow(out, inst.window);
      AppendToApply(out, inst);
      break;
    case Opcode::kGather:
      AppendNamedList(out, "offset_dims", inst.gather_dims.offset_dims);
      AppendNamedList(out, "collapsed_slice_dims", inst.gather_dims.collapsed_slice_dims);
      AppendNamedList(out, "start_index_map", inst.gather_dims.start_index_map);
      AppendNamedInt(out, "index_vector_dim", inst.gather_dims.index_vector_dim);
      AppendNamedList(out, "slice_sizes", inst.slice_sizes);
      break;
    case Opcode::kGetTupleElement:
      AppendNamedInt(out, "index", inst.tuple_index);
      break;
    case Opcode::kFusion:
      out->append(", kind=");
      out->append(FusionKindName(inst.fusion_kind));
      out->append(", calls=");
      out->append(inst.to_apply ? inst.to_apply->name() : std::string("<null>"));
      break;
    default:
      break;
  }
}

void AppendInstruction(std::string* out, const Instruction& inst) {
  out->append(inst.name);
  out->append(" = ");
  out->append(inst.shape.ToString());
  out->push_back(' ');
  out->append(OpcodeName(inst.opcode));
  out->push_back('(');
  if (inst.opcode == Opcode::kParameter) {
    AppendInt(out, inst.parameter_number);
  } else if (inst.opcode == Opcode::kConstant) {
    AppendLiteral(out, inst.literal);
  } else {
    for (size_t i = 0; i < inst.operands.size(); ++i) {
      if (i) out->append(", ");
      out->append(inst.operands[i] ? inst.operands[i]->name : std::string("<null>"));
    }
  }
  out->push_back(')');
  AppendAttributes(out, inst);
}

void AppendComputation(std::string* out, const Computation& comp, bool is_entry) {
  if (is_entry) out->append("ENTRY ");
  out->append(comp.name());
  out->append(" {\n");
  for (const auto& inst : comp.instructions()) {
    out->append(inst.get() == comp.root() ? "  ROOT " : "  ");
    AppendInstruction(out, *inst);
    out->push_back('\n');
  }
  out->append("}\n");
}

}  // namespace

std::string PrintInstruction(const Instruction& inst) {
  std::string s;
  AppendInstruction(&s, inst);
  return s;
}

std::string Print(const Module& module) {
  // Size the buffer once: constants dominate big modules.
  size_t bytes = 64;
  for (const auto& c : module.computations())
    for (const auto& inst : c->instructions()) bytes += 96 + inst->literal.bytes().size() / 3 * 4 + 4;
  std::string out;
  out.reserve(bytes);
  out.append("HloModule ");
  out.append(module.name());
  out.push_back('\n');
  for (const auto& c : module.computations()) {
    out.push_back('\n');
    AppendComputation(&out, *c, c.get() == module.entry());
  }
  return out;
}

}  // namespace xtpu
