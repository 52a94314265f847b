// `xtpu chip show NAME|FILE [--set key=value ...] [--json]`: prints a chip
// description resolved from a preset or TOML file, with derived peaks.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "xtpu/chip/chip.h"

namespace xtpu::cli {

Status ChipShow(const ChipShowArgs& args) {
  ASSIGN_OR_RETURN(ChipConfig chip, LoadChip(args.chip));
  for (const std::string& s : args.overrides) RETURN_IF_ERROR(ApplyOverride(chip, s));
  std::string text = args.json ? ChipToJson(chip).dump(2) + "\n" : DescribeChip(chip);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return OkStatus();
}

}  // namespace xtpu::cli
