// Parses the text form of printer.h and verifies the result. Errors give
// "<file>:<line>: <what>".
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "xtpu/ir/module.h"

namespace xtpu {

StatusOr<std::unique_ptr<Module>> ParseModule(std::string_view text,
                                              const std::string& filename = "<input>");

}  // namespace xtpu
