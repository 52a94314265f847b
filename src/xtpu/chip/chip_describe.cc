// Writing a chip description out: the aligned text table of `xtpu chip show`,
// JSON for stats files, TOML that loads back, and the Markdown tables of
// docs/chips.md. All generated from the parameter table.
#include <cmath>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "xtpu/chip/chip.h"

namespace xtpu {
namespace {

// A field's value as text, in its stored unit.
template <typename T>
std::string ValueText(const ParamSpec& spec, const T& value) {
  if constexpr (std::is_same_v<T, std::string>) {
    return value;
  } else if constexpr (std::is_same_v<T, DType>) {
    return std::string(DTypeName(value));
  } else if constexpr (std::is_same_v<T, int64_t>) {
    return spec.kind == ParamKind::kBytes ? FormatBytes(value) : fmt::format("{}", value);
  } else {
    return fmt::format("{}", value);
  }
}

// 2.7525e14, "FLOP/s" -> "275.3 TFLOP/s".
std::string FormatSI(double value, const std::string& unit) {
  if (std::isnan(value)) return "-";
  static const char* kPrefixes[] = {"", "k", "M", "G", "T", "P", "E"};
  int p = 0;
  double v = value;
  while (std::fabs(v) >= 1000 && p < 6) v /= 1000, ++p;
  std::string number = v == std::floor(v) ? fmt::format("{}", v) : fmt::format("{:.4g}", v);
  return fmt::format("{} {}{}", number, kPrefixes[p], unit);
}

std::string DerivedText(const DerivedValue& d) {
  if (std::isnan(d.value)) return "- (unsupported)";
  if (d.unit == "B") return FormatBytes(static_cast<int64_t>(d.value));
  if (d.unit == "count") return fmt::format("{}", d.value);
  if (d.unit == "cycles") {
    return d.value == std::floor(d.value) ? fmt::format("{} cycles", d.value)
                                          : fmt::format("{:.1f} cycles", d.value);
  }
  if (d.unit == "FLOP/B" || d.unit == "OP/B" || d.unit == "B/cycle") return fmt::format("{:.1f} {}", d.value, d.unit);
  return FormatSI(d.value, d.unit);
}

std::string TomlQuote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string_view Section(std::string_view key) {
  size_t dot = key.find('.');
  return dot == std::string_view::npos ? std::string_view() : key.substr(0, dot);
}

std::string KindName(ParamKind kind) {
  switch (kind) {
    case ParamKind::kInt: return "integer";
    case ParamKind::kFloat: return "number";
    case ParamKind::kBytes: return "size";
    case ParamKind::kBandwidth: return "bandwidth";
    case ParamKind::kFrequency: return "frequency";
    case ParamKind::kTime: return "time";
    case ParamKind::kDType: return "dtype";
    case ParamKind::kText: return "string";
  }
  return "?";
}

std::string EscapeBars(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\";
    out += c;
  }
  return out;
}

}  // namespace

std::string FormatBytes(int64_t bytes) {
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes <= 0 || bytes % 1024 != 0) return fmt::format("{} B", bytes);
  int u = -1;
  int64_t v = bytes;
  while (v % 1024 == 0 && u < 3) v /= 1024, ++u;
  return fmt::format("{} {}", v, kUnits[u]);
}

std::string DescribeChip(const ChipConfig& chip) {
  std::string out = fmt::format("chip {}", chip.name);
  if (!chip.description.empty()) out += ": " + chip.description;
  out += fmt::format("\nsource: {}\n", chip.source.empty() ? "-" : chip.source);
  if (!chip.overrides.empty()) {
    out += "overrides:";
    for (const auto& o : chip.overrides) out += " " + o;
    out += "\n";
  }
  out += fmt::format("\n{:<36} {:>14}  {:<13} {}\n", "parameter", "value", "unit", "from");
  size_t i = 0;
  ForEachChipParam(chip, [&](const ParamSpec& spec, const auto& field) {
    ParamOrigin origin = chip.origin[i++];
    if (spec.key == "name" || spec.key == "description") return;  // in the header
    out += fmt::format("{:<36} {:>14}  {:<13} {}\n", spec.key, ValueText(spec, field), spec.unit,
                       ParamOriginName(origin));
  });
  out += fmt::format("\n{:<36} {:>18}  {}\n", "derived", "value", "formula");
  for (const DerivedValue& d : DerivedChipValues(chip)) {
    out += fmt::format("{:<36} {:>18}  {}\n", d.key, DerivedText(d), d.doc);
  }
  return out;
}

nlohmann::json ChipToJson(const ChipConfig& chip) {
  nlohmann::json j;
  j["name"] = chip.name;
  j["description"] = chip.description;
  j["source"] = chip.source;
  j["overrides"] = chip.overrides;
  nlohmann::json params = nlohmann::json::object();
  size_t i = 0;
  ForEachChipParam(chip, [&](const ParamSpec& spec, const auto& field) {
    using T = std::decay_t<decltype(field)>;
    nlohmann::json p;
    if constexpr (std::is_same_v<T, DType>) {
      p["value"] = std::string(DTypeName(field));
    } else {
      p["value"] = field;
    }
    p["unit"] = std::string(spec.unit);
    p["origin"] = std::string(ParamOriginName(chip.origin[i++]));
    params[std::string(spec.key)] = std::move(p);
  });
  j["params"] = std::move(params);
  nlohmann::json derived = nlohmann::json::object();
  for (const DerivedValue& d : DerivedChipValues(chip)) {
    derived[d.key] = {{"value", std::isnan(d.value) ? nlohmann::json(nullptr) : nlohmann::json(d.value)},
                      {"unit", d.unit}};
  }
  j["derived"] = std::move(derived);
  return j;
}

std::string ChipToToml(const ChipConfig& chip) {
  // Top-level keys first, then one [section] per group, in table order.
  std::vector<std::string> sections = {""};
  std::vector<std::string> bodies = {""};
  ForEachChipParam(chip, [&](const ParamSpec& spec, const auto& field) {
    using T = std::decay_t<decltype(field)>;
    std::string section(Section(spec.key));
    size_t s = 0;
    while (s < sections.size() && sections[s] != section) ++s;
    if (s == sections.size()) sections.push_back(section), bodies.emplace_back();
    std::string value;
    if constexpr (std::is_same_v<T, std::string>) {
      value = TomlQuote(field);
    } else if constexpr (std::is_same_v<T, DType>) {
      value = TomlQuote(std::string(DTypeName(field)));
    } else if constexpr (std::is_same_v<T, int64_t>) {
      value = spec.kind == ParamKind::kBytes && FormatBytes(field).find("iB") != std::string::npos
                  ? TomlQuote(FormatBytes(field))
                  : fmt::format("{}", field);
    } else {
      value = fmt::format("{}", field);
    }
    std::string key(section.empty() ? spec.key : spec.key.substr(section.size() + 1));
    bodies[s] += fmt::format("{} = {}\n", key, value);
  });
  std::string out = fmt::format("# chip {} (written by ChipToToml from {})\n", chip.name, chip.source);
  for (size_t s = 0; s < sections.size(); ++s) {
    if (!sections[s].empty()) out += fmt::format("\n[{}]\n", sections[s]);
    out += bodies[s];
  }
  return out;
}

std::string ChipParamsDocsTable() {
  std::string out = "| key | type | unit | default | range | description |\n|---|---|---|---|---|---|\n";
  for (const ParamSpec& spec : kChipParams) {
    std::string def = spec.default_text == nullptr ? "**required**"
                      : std::string_view(spec.default_text).empty() ? "\"\""
                                                                    : fmt::format("`{}`", spec.default_text);
    std::string range;
    switch (spec.kind) {
      case ParamKind::kText: range = "-"; break;
      case ParamKind::kDType: range = EscapeBars(spec.allowed); break;
      case ParamKind::kBytes:
        range = FormatBytes(static_cast<int64_t>(spec.min)) + " .. " + FormatBytes(static_cast<int64_t>(spec.max));
        break;
      default: range = fmt::format("{} .. {}", spec.min, spec.max); break;
    }
    out += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", spec.key, KindName(spec.kind), spec.unit, def, range,
                       EscapeBars(spec.doc));
  }
  return out;
}

std::string ChipPeaksDocsTable(const std::vector<ChipConfig>& chips) {
  std::string out = "| derived |";
  std::string rule = "|---|";
  for (const ChipConfig& c : chips) out += fmt::format(" {} |", c.name), rule += "---|";
  out += "\n" + rule + "\n";
  std::vector<std::vector<DerivedValue>> values;
  for (const ChipConfig& c : chips) values.push_back(DerivedChipValues(c));
  if (values.empty()) return out;
  for (size_t r = 0; r < values[0].size(); ++r) {
    out += fmt::format("| `{}` |", values[0][r].key);
    for (const auto& v : values) out += fmt::format(" {} |", DerivedText(v[r]));
    out += "\n";
  }
  return out;
}

}  // namespace xtpu
