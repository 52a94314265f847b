// Loading chip descriptions: TOML text -> ChipConfig, driven by the parameter
// table in chip_params.h; "key=value" overrides; range and consistency checks.
// Every error names the parameter and the file (or override) it came from.
#include "xtpu/chip/chip.h"

// toml++ reports parse errors as values instead of exceptions (the core has
// none); its ABI namespace keeps this apart from any other setting.
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "xtpu/support/check.h"

namespace xtpu {
namespace {

namespace fs = std::filesystem;

// Each kind is stored in one C++ type; a mismatch between table and struct
// fails to compile here.
template <ParamKind K>
struct KindType;
template <> struct KindType<ParamKind::kInt> { using type = int64_t; };
template <> struct KindType<ParamKind::kBytes> { using type = int64_t; };
template <> struct KindType<ParamKind::kFloat> { using type = double; };
template <> struct KindType<ParamKind::kBandwidth> { using type = double; };
template <> struct KindType<ParamKind::kFrequency> { using type = double; };
template <> struct KindType<ParamKind::kTime> { using type = double; };
template <> struct KindType<ParamKind::kDType> { using type = DType; };
template <> struct KindType<ParamKind::kText> { using type = std::string; };
#define XTPU_CHIP_PARAM_TYPECHECK(field, kind, ...)                                          \
  static_assert(std::is_same_v<decltype(std::declval<ChipConfig&>().field),                 \
                               KindType<ParamKind::kind>::type>,                            \
                "ChipConfig::" #field " has the wrong C++ type for its ParamKind");
XTPU_CHIP_PARAMS(XTPU_CHIP_PARAM_TYPECHECK)
#undef XTPU_CHIP_PARAM_TYPECHECK

struct UnitScale {
  std::string_view name;
  double scale;  // to the stored unit
};
constexpr UnitScale kByteUnits[] = {
    {"B", 1},          {"KiB", 1024.0},   {"MiB", 0x1p20},   {"GiB", 0x1p30}, {"TiB", 0x1p40},
    {"KB", 1e3},       {"MB", 1e6},       {"GB", 1e9},       {"TB", 1e12}};
constexpr UnitScale kBandwidthUnits[] = {
    {"GB/s", 1},       {"TB/s", 1e3},     {"MB/s", 1e-3},    {"KB/s", 1e-6},  {"B/s", 1e-9},
    {"GiB/s", 0x1p30 / 1e9}, {"MiB/s", 0x1p20 / 1e9}, {"TiB/s", 0x1p40 / 1e9}};
constexpr UnitScale kFrequencyUnits[] = {{"MHz", 1}, {"GHz", 1e3}, {"kHz", 1e-3}, {"Hz", 1e-6}};
constexpr UnitScale kTimeUnits[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"ps", 1e-3}};

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

template <size_t N>
std::string UnitList(const UnitScale (&units)[N]) {
  std::string out;
  for (const auto& u : units) out += (out.empty() ? "" : ", ") + std::string(u.name);
  return out;
}

// "24 MiB" -> 24 * 2^20 in the table's stored unit. A bare number is already
// in the stored unit.
template <size_t N>
StatusOr<double> ParseWithUnits(std::string_view text, const UnitScale (&units)[N]) {
  std::string_view s = Trim(text);
  double number = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), number);
  if (ec != std::errc() || end == s.data()) {
    return Error("\"{}\" is not a number with a unit (units: {})", text, UnitList(units));
  }
  std::string_view unit = Trim(std::string_view(end, s.data() + s.size() - end));
  if (unit.empty()) return number;
  for (const auto& u : units) {
    if (EqualsIgnoreCase(unit, u.name)) return number * u.scale;
  }
  return Error("unknown unit '{}' in \"{}\" (units: {})", unit, text, UnitList(units));
}

std::string_view TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    default: return "nothing";
  }
}

std::string_view ExpectedText(ParamKind kind) {
  switch (kind) {
    case ParamKind::kInt: return "an integer";
    case ParamKind::kFloat: return "a number";
    case ParamKind::kBytes: return "an integer number of bytes or a size string such as \"24 MiB\"";
    case ParamKind::kBandwidth: return "a number in GB/s or a string such as \"1.2 TB/s\"";
    case ParamKind::kFrequency: return "a number in MHz or a string such as \"1.05 GHz\"";
    case ParamKind::kTime: return "a number in ns or a string such as \"0.5 us\"";
    case ParamKind::kDType: return "a dtype name string";
    case ParamKind::kText: return "a string";
  }
  return "a value";
}

// One TOML value -> one field. `where` is "mxu.rows in configs/x.toml (line 3)".
Status TypeError(const ParamSpec& spec, const toml::node& node, const std::string& where) {
  return Error("{}: expected {}, got {}", where, ExpectedText(spec.kind), TomlTypeName(node));
}

Status Convert(const ParamSpec& spec, const toml::node& node, const std::string& where, int64_t& out) {
  if (auto* i = node.as_integer()) {
    out = i->get();
    return OkStatus();
  }
  if (spec.kind == ParamKind::kBytes) {
    if (auto* s = node.as_string()) {
      auto bytes = ParseByteSize(s->get());
      if (!bytes.ok()) return bytes.status().WithPrefix(where);
      out = *bytes;
      return OkStatus();
    }
  }
  return TypeError(spec, node, where);
}

Status Convert(const ParamSpec& spec, const toml::node& node, const std::string& where, double& out) {
  if (auto* i = node.as_integer()) {
    out = static_cast<double>(i->get());
  } else if (auto* f = node.as_floating_point()) {
    out = f->get();
  } else if (auto* s = node.as_string(); s && spec.kind != ParamKind::kFloat) {
    StatusOr<double> v = spec.kind == ParamKind::kBandwidth   ? ParseWithUnits(s->get(), kBandwidthUnits)
                         : spec.kind == ParamKind::kFrequency ? ParseWithUnits(s->get(), kFrequencyUnits)
                                                              : ParseWithUnits(s->get(), kTimeUnits);
    if (!v.ok()) return v.status().WithPrefix(where);
    out = *v;
  } else {
    return TypeError(spec, node, where);
  }
  if (!std::isfinite(out)) return Error("{}: {} is not a finite number", where, out);
  return OkStatus();
}

Status Convert(const ParamSpec& spec, const toml::node& node, const std::string& where, DType& out) {
  auto* s = node.as_string();
  if (!s) return TypeError(spec, node, where);
  std::string_view allowed = spec.allowed;
  while (!allowed.empty()) {
    size_t bar = allowed.find('|');
    std::string_view option = allowed.substr(0, bar);
    if (option == s->get()) {
      out = *ParseDType(option);
      return OkStatus();
    }
    allowed = bar == std::string_view::npos ? std::string_view() : allowed.substr(bar + 1);
  }
  return Error("{}: \"{}\" is not allowed; use one of {}", where, s->get(), spec.allowed);
}

Status Convert(const ParamSpec& spec, const toml::node& node, const std::string& where, std::string& out) {
  auto* s = node.as_string();
  if (!s) return TypeError(spec, node, where);
  out = s->get();
  return OkStatus();
}

std::string FormatRangeValue(const ParamSpec& spec, double v) {
  if (spec.kind == ParamKind::kBytes) return FormatBytes(static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

template <typename T>
Status CheckRange(const ParamSpec& spec, const T& value, const std::string& where) {
  if constexpr (std::is_arithmetic_v<T>) {
    double v = static_cast<double>(value);
    if (v < spec.min || v > spec.max) {
      std::string shown = spec.kind == ParamKind::kBytes ? FormatBytes(static_cast<int64_t>(value))
                                                         : fmt::format("{}", value);
      return Error("{}: {} is out of range {}..{}{}", where, shown, FormatRangeValue(spec, spec.min),
                   FormatRangeValue(spec, spec.max),
                   spec.kind == ParamKind::kBytes || spec.unit == "count" ? "" : " " + std::string(spec.unit));
    }
  }
  return OkStatus();
}

// Sets parameter `index` of `chip` from `node`, checking type and range.
Status SetParam(ChipConfig& chip, size_t index, const toml::node& node, const std::string& where) {
  Status status;
  size_t i = 0;
  ForEachChipParam(chip, [&](const ParamSpec& spec, auto& field) {
    if (i++ != index) return;
    std::remove_reference_t<decltype(field)> value{};
    status = Convert(spec, node, where, value);
    if (status.ok()) status = CheckRange(spec, value, where);
    if (status.ok()) field = std::move(value);
  });
  return status;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string_view LastSegment(std::string_view key) {
  size_t dot = key.rfind('.');
  return dot == std::string_view::npos ? key : key.substr(dot + 1);
}

// "; did you mean mxu.rows?" or "".
std::string Suggestion(std::string_view key) {
  size_t best = SIZE_MAX;
  std::string_view best_key;
  for (const ParamSpec& spec : kChipParams) {
    size_t d = std::min(EditDistance(key, spec.key), EditDistance(LastSegment(key), LastSegment(spec.key)) + 1);
    if (d < best) best = d, best_key = spec.key;
  }
  if (best <= std::max<size_t>(2, key.size() / 3)) return fmt::format("; did you mean {}?", best_key);
  return "";
}

bool IsParamPrefix(std::string_view prefix) {
  for (const ParamSpec& spec : kChipParams) {
    if (spec.key.size() > prefix.size() && spec.key.substr(0, prefix.size()) == prefix &&
        spec.key[prefix.size()] == '.')
      return true;
  }
  return false;
}

std::string At(std::string_view key, const std::string& file, const toml::node& node) {
  return fmt::format("{} in {} (line {})", key, file, node.source().begin.line);
}

// Reports every key of `table` (at `prefix`) that is not a parameter.
void FindUnknownKeys(const toml::table& table, const std::string& prefix, const std::string& file,
                     std::vector<std::string>& errors) {
  for (auto&& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (FindChipParam(key) >= 0) continue;
    if (IsParamPrefix(key)) {
      if (auto* sub = node.as_table()) {
        FindUnknownKeys(*sub, key, file, errors);
      } else {
        errors.push_back(fmt::format("{}: expected a table of {}.* parameters, got {}", At(key, file, node), key,
                                     TomlTypeName(node)));
      }
      continue;
    }
    errors.push_back(fmt::format("unknown parameter {}{}", At(key, file, node), Suggestion(key)));
  }
}

std::string JoinErrors(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += (out.empty() ? "" : "\n") + e;
  return out;
}

// The file, plus overrides if any, for consistency errors.
std::string Where(const ChipConfig& chip) {
  std::string where = chip.source.empty() ? "<chip>" : chip.source;
  if (!chip.overrides.empty()) {
    where += " with override";
    for (const auto& o : chip.overrides) where += " " + o;
  }
  return where;
}

}  // namespace

int FindChipParam(std::string_view key) {
  for (size_t i = 0; i < kNumChipParams; ++i) {
    if (kChipParams[i].key == key) return static_cast<int>(i);
  }
  return -1;
}

std::string_view ParamOriginName(ParamOrigin o) {
  switch (o) {
    case ParamOrigin::kDefault: return "default";
    case ParamOrigin::kFile: return "file";
    case ParamOrigin::kOverride: return "override";
  }
  return "?";
}

bool SameChipParams(const ChipConfig& a, const ChipConfig& b) {
#define XTPU_CHIP_PARAM_EQ(field, ...) \
  if (!(a.field == b.field)) return false;
  XTPU_CHIP_PARAMS(XTPU_CHIP_PARAM_EQ)
#undef XTPU_CHIP_PARAM_EQ
  return true;
}

StatusOr<int64_t> ParseByteSize(std::string_view text) {
  ASSIGN_OR_RETURN(double bytes, ParseWithUnits(text, kByteUnits));
  if (!(bytes >= -0x1p62 && bytes <= 0x1p62)) return Error("size \"{}\" is too large", text);
  if (bytes != std::floor(bytes)) return Error("size \"{}\" is not a whole number of bytes", text);
  return static_cast<int64_t>(bytes);
}

namespace {
// toml++ 3.3 (Debian's) has undefined behaviour — assertion failures in
// debug builds, __builtin_unreachable in release builds — on two kinds of
// input: a table header whose key starts with a character that cannot start
// a key ("[\nxlu]", "[[[a]]]"; upstream marzer/tomlplusplus#301), and
// non-ASCII characters where it tests for whitespace: in keys, between
// tokens, after a line-ending backslash in a multi-line string (#190, #295).
// Chip descriptions come from untrusted files (user .toml files, the
// chip_toml of an executable), so they are screened before toml++ sees them: non-ASCII bytes are allowed only in comments and single-line
// strings (where toml++ 3.3 handles them, and where ChipToToml writes them),
// and table headers must start with a key. Valid chip descriptions pass:
// they have no arrays, inline tables or multi-line strings.
Status ScreenTomlForParser(std::string_view toml, const std::string& name) {
  enum { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral } state = kCode;
  int line = 1;
  bool line_start = true;  // only whitespace so far on this line (in code)
  for (size_t i = 0; i < toml.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(toml[i]);
    std::string_view rest = toml.substr(i);
    if (c == '\n') {
      ++line;
      line_start = true;
      if (state != kMultiBasic && state != kMultiLiteral) state = kCode;  // toml++ reports open strings
      continue;
    }
    switch (state) {
      case kCode:
        if (c >= 0x80) return Error("{}:{}: non-ASCII byte {:#04x} outside a string or comment", name, line, c);
        if (line_start && c == '[') {
          size_t k = rest.substr(1, 1) == "[" ? 2 : 1;
          while (k < rest.size() && (rest[k] == ' ' || rest[k] == '\t')) ++k;
          unsigned char first = k < rest.size() ? static_cast<unsigned char>(rest[k]) : '\n';
          if (!(std::isalnum(first) || first == '_' || first == '-' || first == '"' || first == '\'' || first == ']'))
            return Error("{}:{}: a table header must start with a key", name, line);
        }
        if (c != ' ' && c != '\t') line_start = false;
        if (c == '#')
          state = kComment;
        else if (rest.substr(0, 3) == "\"\"\"")
          state = kMultiBasic, i += 2;
        else if (rest.substr(0, 3) == "'''")
          state = kMultiLiteral, i += 2;
        else if (c == '"')
          state = kBasic;
        else if (c == '\'')
          state = kLiteral;
        break;
      case kComment:
        break;
      case kBasic:
        if (c == '\\' && i + 1 < toml.size() && toml[i + 1] != '\n')
          ++i;
        else if (c == '"')
          state = kCode;
        break;
      case kLiteral:
        if (c == '\'') state = kCode;
        break;
      case kMultiBasic:
      case kMultiLiteral:
        if (c >= 0x80) return Error("{}:{}: non-ASCII byte {:#04x} in a multi-line string", name, line, c);
        if (state == kMultiBasic && c == '\\' && i + 1 < toml.size() && toml[i + 1] != '\n')
          ++i;
        else if (rest.substr(0, 3) == (state == kMultiBasic ? "\"\"\"" : "'''"))
          state = kCode, i += 2;
        break;
    }
  }
  return OkStatus();
}

}  // namespace

StatusOr<ChipConfig> LoadChipFromString(const std::string& toml_text, const std::string& name_for_errors) {
  RETURN_IF_ERROR(ScreenTomlForParser(toml_text, name_for_errors));
  toml::parse_result parsed = toml::parse(toml_text, name_for_errors);
  if (!parsed) {
    const toml::parse_error& e = parsed.error();
    return Error("{}:{}:{}: TOML syntax error: {}", name_for_errors, e.source().begin.line,
                 e.source().begin.column, e.description());
  }
  const toml::table& table = parsed.table();
  std::vector<std::string> errors;
  FindUnknownKeys(table, "", name_for_errors, errors);

  ChipConfig chip;
  chip.source = name_for_errors;
  for (size_t i = 0; i < kNumChipParams; ++i) {
    const ParamSpec& spec = kChipParams[i];
    toml::node_view<const toml::node> view = table.at_path(spec.key);
    if (const toml::node* node = view.node()) {
      Status s = SetParam(chip, i, *node, At(spec.key, name_for_errors, *node));
      if (!s.ok()) errors.push_back(s.message());
      chip.origin[i] = ParamOrigin::kFile;
    } else if (spec.default_text != nullptr) {
      // Defaults are written like override values, so they parse the same way.
      toml::parse_result def = toml::parse(std::string("v = ") + spec.default_text);
      toml::value<std::string> as_text(std::string(spec.default_text));
      const toml::node* dnode = def ? def.table().get("v") : nullptr;
      Status s = SetParam(chip, i, dnode ? *dnode : as_text, fmt::format("default of {}", spec.key));
      XTPU_CHECK(s.ok());  // the table's own defaults must be valid
      chip.origin[i] = ParamOrigin::kDefault;
    } else {
      errors.push_back(fmt::format("missing required parameter {} in {} ({}; {})", spec.key, name_for_errors,
                                   spec.doc, spec.unit.empty() ? ExpectedText(spec.kind) : spec.unit));
    }
  }
  if (!errors.empty()) return Error("{}", JoinErrors(errors));
  if (chip.name.empty()) chip.name = fs::path(name_for_errors).stem().string();
  RETURN_IF_ERROR(ValidateChip(chip));
  return chip;
}

Status ApplyOverride(ChipConfig& chip, const std::string& key_equals_value) {
  size_t eq = key_equals_value.find('=');
  if (eq == std::string::npos) {
    return Error("override '{}' is not of the form key=value (e.g. mxu.rows=256)", key_equals_value);
  }
  std::string key(Trim(std::string_view(key_equals_value).substr(0, eq)));
  std::string value(Trim(std::string_view(key_equals_value).substr(eq + 1)));
  int index = FindChipParam(key);
  if (index < 0) {
    return Error("unknown parameter {} in override '{}'{}", key, key_equals_value, Suggestion(key));
  }
  // The value is read as TOML when it is one (64, 1.5, "s8"), else as text
  // (24 MiB, bf16).
  toml::parse_result parsed = toml::parse("v = " + value);
  toml::value<std::string> as_text(value);
  const toml::node* node = parsed ? parsed.table().get("v") : nullptr;
  ChipConfig updated = chip;
  RETURN_IF_ERROR(SetParam(updated, index, node ? *node : as_text,
                           fmt::format("{} in override '{}'", key, key_equals_value)));
  updated.origin[index] = ParamOrigin::kOverride;
  updated.overrides.push_back(key + "=" + value);
  RETURN_IF_ERROR(ValidateChip(updated));
  chip = std::move(updated);
  return OkStatus();
}

Status ValidateChip(const ChipConfig& chip) {
  std::vector<std::string> errors;
  const std::string where = Where(chip);
  ForEachChipParam(chip, [&](const ParamSpec& spec, const auto& field) {
    Status s = CheckRange(spec, field, fmt::format("{} in {}", spec.key, where));
    if (!s.ok()) errors.push_back(s.message());
  });
  if (!errors.empty()) return Error("{}", JoinErrors(errors));

  const MxuConfig& mxu = chip.mxu;
  DType want_acc = mxu.input_dtype == DType::kS8 ? DType::kS32 : DType::kF32;
  if (mxu.accumulator_dtype != want_acc) {
    errors.push_back(fmt::format(
        "mxu.accumulator_dtype in {}: {} does not go with mxu.input_dtype {} (bf16 accumulates in f32, s8 in s32)",
        where, DTypeName(mxu.accumulator_dtype), DTypeName(mxu.input_dtype)));
  }
  if (MxuRate(chip, mxu.input_dtype) <= 0) {
    std::string rate_key = mxu.input_dtype == DType::kS8 ? "mxu.s8_rate" : "mxu.bf16_rate";
    errors.push_back(fmt::format("{} in {}: is 0, but mxu.input_dtype is {}; the native type needs a rate > 0 "
                                 "(1 = one MAC per PE per cycle)",
                                 rate_key, where, DTypeName(mxu.input_dtype)));
  }
  int64_t acc_row_bytes = mxu.cols * DTypeBytes(mxu.accumulator_dtype);
  if (chip.accumulator.bytes < acc_row_bytes) {
    errors.push_back(fmt::format(
        "accumulator.bytes in {}: {} cannot hold one row of mxu.cols = {} {} accumulators ({} bytes)", where,
        FormatBytes(chip.accumulator.bytes), mxu.cols, DTypeName(mxu.accumulator_dtype), acc_row_bytes));
  }
  int64_t vreg_bytes = chip.vpu.sublanes * chip.vpu.lanes * 4;
  if (chip.vmem.bytes < vreg_bytes) {
    errors.push_back(fmt::format("vmem.bytes in {}: {} cannot hold one vector register ({} x {} x 32 bit = {})",
                                 where, FormatBytes(chip.vmem.bytes), chip.vpu.sublanes, chip.vpu.lanes,
                                 FormatBytes(vreg_bytes)));
  }
  if (chip.weight_fifo.depth == 0 && chip.vmem.bytes < WeightTileBytes(chip)) {
    errors.push_back(fmt::format(
        "vmem.bytes in {}: {} cannot hold one weight tile (mxu.rows x mxu.cols = {} x {} {} = {}), and "
        "weight_fifo.depth is 0 so weights come from VMEM",
        where, FormatBytes(chip.vmem.bytes), mxu.rows, mxu.cols, DTypeName(mxu.input_dtype),
        FormatBytes(WeightTileBytes(chip))));
  }
  if (!errors.empty()) return Error("{}", JoinErrors(errors));
  return OkStatus();
}

std::string ChipConfigDir() {
  if (const char* env = std::getenv("XTPU_CONFIG_DIR"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (const char* rel : {"../configs", "../../configs", "../share/xtpu/configs"}) {
      fs::path dir = exe.parent_path() / rel;
      if (fs::is_regular_file(dir / "v4.toml", ec)) return fs::weakly_canonical(dir, ec).string();
    }
  }
#ifdef XTPU_SOURCE_DIR
  fs::path src = fs::path(XTPU_SOURCE_DIR) / "configs";
  if (fs::is_directory(src, ec)) return src.string();
#endif
  return "";
}

std::vector<std::string> ListChipPresets() {
  std::vector<std::string> names;
  std::string dir = ChipConfigDir();
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return names;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".toml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

StatusOr<ChipConfig> LoadChip(const std::string& name_or_path) {
  bool is_path = name_or_path.find('/') != std::string::npos ||
                 (name_or_path.size() > 5 && name_or_path.ends_with(".toml"));
  std::string path = name_or_path;
  if (!is_path) {
    std::string dir = ChipConfigDir();
    std::error_code ec;
    path = (fs::path(dir) / (name_or_path + ".toml")).string();
    if (dir.empty() || !fs::is_regular_file(path, ec)) {
      std::string presets;
      for (const auto& p : ListChipPresets()) presets += (presets.empty() ? "" : ", ") + p;
      return NotFound("unknown chip '{}': not a preset in {} (presets: {}); give a .toml path for your own chip",
                      name_or_path, dir.empty() ? "configs/ (not found; set XTPU_CONFIG_DIR)" : dir,
                      presets.empty() ? "none" : presets);
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read chip file {}: {}", path, std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return LoadChipFromString(text.str(), path);
}

}  // namespace xtpu
