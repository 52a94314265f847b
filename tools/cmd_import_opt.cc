// `xtpu import` and `xtpu opt` (parse, run passes, print); models load
// through xtpu/frontend/load_model.h.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>

#include "commands.h"
#include "xtpu/chip/chip.h"
#include "xtpu/compiler/pass.h"
#include "xtpu/frontend/onnx/importer.h"
#include "xtpu/ir/parser.h"
#include "xtpu/ir/printer.h"
#include "xtpu/ir/verifier.h"
#include "xtpu/support/npy.h"

namespace xtpu::cli {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Errors from the importer and parser should name the file; add it when the
// message does not already start with it.
Status NameFile(const Status& s, const std::string& path) {
  if (s.ok() || s.message().rfind(path, 0) == 0) return s;
  return s.WithPrefix(path);
}

Status WriteText(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
      return Error("<stdout>: write failed");
    }
    return OkStatus();
  }
  return WriteStringToFile(path, text);
}

}  // namespace

Status Import(const ImportArgs& args) {
  if (!EndsWith(args.model, ".onnx")) {
    return Error("{}: `xtpu import` reads .onnx files (use `xtpu opt` for .tir)", args.model);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Module> module, LoadModel(args.model, args.default_dim));
  return WriteText(args.output, Print(*module));
}

Status Opt(const OptArgs& args) {
  if (args.list_passes) {
    std::string text;
    for (const compiler::PassInfo& p : compiler::AllPasses())
      text += fmt::format("{:<20} {}\n", p.name, p.description);
    return WriteText("", text);
  }
  if (args.input.empty()) return Error("`xtpu opt` needs an input file (.tir, or - for stdin)");
  // Pass names and the chip are checked before the (possibly large) input is read.
  compiler::PassManagerOptions options;
  options.print_after_all = args.print_after_all;
  options.check_unchanged = args.check_unchanged;
  compiler::PassManager pm(options);
  if (!args.passes.empty()) RETURN_IF_ERROR(pm.AddByName(args.passes).WithPrefix("--passes"));
  std::optional<ChipConfig> chip;
  if (!args.chip.empty()) {
    StatusOr<ChipConfig> c = LoadChip(args.chip);
    if (!c.ok()) return c.status().WithPrefix("--chip");
    chip = std::move(c).value();
  }
  std::unique_ptr<Module> module;
  if (args.input == "-") {
    std::string text;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), stdin)) > 0) text.append(buf, n);
    ASSIGN_OR_RETURN(module, ParseModule(text, "<stdin>"));
    RETURN_IF_ERROR(NameFile(Verify(*module), "<stdin>"));
  } else if (!EndsWith(args.input, ".tir")) {
    return Error("{}: `xtpu opt` reads .tir files (use `xtpu import` for .onnx)", args.input);
  } else {
    ASSIGN_OR_RETURN(module, LoadModel(args.input, 1));
  }
  if (!args.passes.empty()) {
    compiler::PassContext ctx;
    if (chip) ctx.chip = &*chip;
    StatusOr<bool> changed = pm.Run(*module, ctx);
    if (!changed.ok()) return NameFile(changed.status(), args.input == "-" ? "<stdin>" : args.input);
  }
  return WriteText(args.output, Print(*module));
}

}  // namespace xtpu::cli
