// `xtpu run`: loads a model, feeds inputs (from .npy/.npz files or random
// from a fixed seed), evaluates it and prints or saves the outputs.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>

#include "commands.h"
#include "xtpu/ir/evaluator.h"
#include "xtpu/support/npy.h"
#include "xtpu/support/random.h"

namespace xtpu::cli {
namespace {

constexpr const char* kBackends[] = {"chip", "reference"};
constexpr int64_t kShownValues = 8;

double Millis(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string JoinNames(const std::vector<InputSpec>& params) {
  std::string s;
  for (const InputSpec& p : params) s += (s.empty() ? "" : ", ") + p.name;
  return s.empty() ? "(none)" : s;
}

std::string FormatValue(const Literal& l, int64_t i) {
  if (IsFloat(l.dtype())) return fmt::format("{:.6g}", l.GetAsDouble(i));
  if (l.dtype() == DType::kPred) return l.GetAsInt64(i) ? "true" : "false";
  return fmt::format("{}", l.GetAsInt64(i));
}

// One line per output: name, shape, min/max/mean and the first values.
std::string Summary(const std::string& name, const Literal& l) {
  std::string s = fmt::format("{}: {}", name, l.shape().ToString());
  int64_t n = l.num_elements();
  if (n > 0) {
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    int64_t nans = 0;
    for (int64_t i = 0; i < n; ++i) {
      double v = l.GetAsDouble(i);
      if (std::isnan(v)) {
        ++nans;
        continue;
      }
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      sum += v;
    }
    if (nans < n) {
      s += fmt::format("  min={:.6g} max={:.6g} mean={:.6g}", lo, hi, sum / static_cast<double>(n - nans));
    }
    if (nans > 0) s += fmt::format(" nan={}", nans);
  }
  s += "  [";
  for (int64_t i = 0; i < std::min(n, kShownValues); ++i) s += (i ? ", " : "") + FormatValue(l, i);
  s += n > kShownValues ? ", ...]" : "]";
  return s;
}

// Places `value` (read from `source`) as the argument for input `name`.
Status SetInput(const std::vector<InputSpec>& params, const std::string& name, Literal value,
                const std::string& source, std::vector<std::optional<Literal>>& args) {
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].name != name) continue;
    // NumPy has no bf16: a bf16 input takes f32 values, rounded to nearest even.
    if (params[i].shape.dtype == DType::kBF16 && value.dtype() == DType::kF32 &&
        value.shape().dims == params[i].shape.dims) {
      Literal r(params[i].shape);
      for (int64_t j = 0; j < value.num_elements(); ++j) r.SetFromDouble(j, value.GetAsDouble(j));
      value = std::move(r);
    }
    if (value.shape() != params[i].shape) {
      return Error("input '{}' from {}: expected {}, got {}", name, source, params[i].shape.ToString(),
                   value.shape().ToString());
    }
    if (args[i]) return Error("input '{}' from {}: given more than once", name, source);
    args[i] = std::move(value);
    return OkStatus();
  }
  return Error("unknown input '{}' from {}; the model's inputs are: {}", name, source, JoinNames(params));
}

}  // namespace

StatusOr<std::vector<Literal>> GatherInputs(const std::vector<InputSpec>& params, const RunArgs& args) {
  std::vector<std::optional<Literal>> given(params.size());
  if (!args.inputs_npz.empty()) {
    ASSIGN_OR_RETURN(NamedLiterals values, ReadNpz(args.inputs_npz));
    for (auto& [name, value] : values) {
      RETURN_IF_ERROR(SetInput(params, name, std::move(value), args.inputs_npz, given));
    }
  }
  for (const std::string& spec : args.inputs) {
    size_t eq = spec.find('=');
    std::string name, path;
    if (eq != std::string::npos) {
      name = spec.substr(0, eq);
      path = spec.substr(eq + 1);
    } else if (params.size() == 1) {
      name = params[0].name;  // a model with one input may omit NAME=
      path = spec;
    } else {
      return Error("--input {}: expected NAME=FILE.npy; the model's inputs are: {}", spec, JoinNames(params));
    }
    ASSIGN_OR_RETURN(Literal value, ReadNpy(path));
    RETURN_IF_ERROR(SetInput(params, name, std::move(value), path, given));
  }
  std::vector<Literal> inputs;
  for (size_t i = 0; i < params.size(); ++i) {
    if (given[i]) {
      inputs.push_back(std::move(*given[i]));
    } else {
      Rng rng(DeriveSeed(args.seed, i));
      inputs.push_back(RandomLiteral(params[i].shape, rng));
    }
  }
  return inputs;
}

Status WriteOutputs(const std::string& path, const std::vector<std::string>& names, const std::vector<Literal>& outputs) {
  if (path.empty()) return OkStatus();
  if (path.ends_with(".npy")) {
    if (outputs.size() != 1) {
      return Error("--output {}: the model has {} outputs, a .npy file holds one; use a .npz path", path, outputs.size());
    }
    return WriteNpy(path, outputs[0]);
  }
  NamedLiterals named;
  for (size_t i = 0; i < outputs.size(); ++i) named.emplace_back(names[i], outputs[i]);
  return WriteNpz(path, named);
}

std::string OutputSummary(const std::string& name, const Literal& l) { return Summary(name, l); }

Status Run(const RunArgs& args) {
  bool chip_backend = args.backend == "chip" || args.model.ends_with(".xtpu");
  if (args.model.ends_with(".xtpu") && args.backend == "reference")
    return Error("{}: a compiled executable runs on the chip only; use the .onnx/.tir model with --backend reference",
                 args.model);
  if (!args.output.empty() && !args.output.ends_with(".npz") && !args.output.ends_with(".npy")) {
    return Error("--output {}: the file name must end in .npz or .npy", args.output);
  }
  if (chip_backend) {
    bool known = false;
    for (const char* b : kBackends) known |= args.backend == b;
    if (!known && !args.model.ends_with(".xtpu")) {
      return Error("unknown backend '{}'; valid backends: chip, reference", args.backend);
    }
    return RunOnChip(args);
  }
  bool known_backend = false;
  std::string backends;
  for (const char* b : kBackends) {
    known_backend |= args.backend == b;
    backends += (backends.empty() ? "" : ", ") + std::string(b);
  }
  if (!known_backend) return Error("unknown backend '{}'; valid backends: {}", args.backend, backends);
  if (!args.output.empty() && !args.output.ends_with(".npz") && !args.output.ends_with(".npy")) {
    return Error("--output {}: the file name must end in .npz or .npy", args.output);
  }

  auto t0 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::unique_ptr<Module> module, LoadModel(args.model, args.default_dim));
  auto t1 = std::chrono::steady_clock::now();

  const std::vector<Instruction*>& entry_params = module->entry()->parameters();
  std::vector<const Instruction*> params(entry_params.begin(), entry_params.end());
  for (const Instruction* p : params) {
    if (p->shape.is_tuple) {
      return Error("{}: input '{}' has a tuple shape, which `xtpu run` does not support", args.model, p->name);
    }
  }
  std::vector<InputSpec> specs;
  for (const Instruction* p : params) specs.push_back({p->name, p->shape});
  ASSIGN_OR_RETURN(std::vector<Literal> inputs, GatherInputs(specs, args));

  auto t2 = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<Literal> outputs, Evaluate(*module, inputs));
  auto t3 = std::chrono::steady_clock::now();

  std::vector<std::string> names = module->OutputNames();
  if (names.size() != outputs.size()) {
    return Error("internal error: {} outputs but {} output names", outputs.size(), names.size());
  }
  RETURN_IF_ERROR(WriteOutputs(args.output, names, outputs));
  for (size_t i = 0; i < outputs.size(); ++i) std::printf("%s\n", Summary(names[i], outputs[i]).c_str());
  std::fflush(stdout);
  if (!args.quiet) {
    std::fprintf(stderr, "xtpu: %s %.3f ms, inputs %.3f ms, evaluate (%s) %.3f ms\n",
                 args.model.ends_with(".onnx") ? "import" : "parse", Millis(t1 - t0), Millis(t2 - t1),
                 args.backend.c_str(), Millis(t3 - t2));
  }
  return OkStatus();
}

}  // namespace xtpu::cli
