// The native part of the `xtpu` Python package (xtpu._xtpu): chips,
// compiling ONNX/tensor-IR models for a chip, running the executables on the
// simulated chip, and the reference evaluator. The Python-facing reference is
// python/xtpu/_xtpu.pyi and docs/python.md.
//
// Errors a user can cause come back from the library as a Status; here they
// become xtpu.Error with the message the CLI prints after "xtpu: error: ".
// Inputs are checked before anything runs (ValueError/TypeError naming the
// input). The GIL is released while loading, compiling, simulating and
// evaluating; a running simulation polls for signals (Ctrl-C) every ~50 ms
// and stops with KeyboardInterrupt.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/compile.h"
#include "xtpu/frontend/load_model.h"
#include "xtpu/ir/evaluator.h"
#include "xtpu/runtime/executable.h"
#include "xtpu/runtime/run.h"
#include "xtpu/sim/timing/timing_model.h"
#include "xtpu/support/npy.h"

namespace py = pybind11;

namespace xtpu::python {
namespace {

// Becomes xtpu.Error (a RuntimeError) at the boundary.
class XtpuError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Throw(const Status& s) { throw XtpuError(s.message()); }
void Check(const Status& s) {
  if (!s.ok()) Throw(s);
}
template <typename T>
T Value(StatusOr<T> s) {
  if (!s.ok()) Throw(s.status());
  return std::move(s).value();
}

py::object JsonToPython(const nlohmann::json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

// ---- Arrays ----------------------------------------------------------------

// The NumPy dtype a model dtype is passed and returned as (NumPy has no
// bfloat16: bf16 travels as float32, rounded to nearest even on the way in).
py::dtype NumpyDType(DType t) {
  switch (t) {
    case DType::kPred: return py::dtype("bool");
    case DType::kS8: return py::dtype("int8");
    case DType::kU8: return py::dtype("uint8");
    case DType::kS32: return py::dtype("int32");
    case DType::kS64: return py::dtype("int64");
    case DType::kF16: return py::dtype("float16");
    case DType::kBF16:
    case DType::kF32: return py::dtype("float32");
  }
  return py::dtype("float32");
}

std::string DimsTuple(const std::vector<int64_t>& dims) {
  if (dims.size() == 1) return fmt::format("({},)", dims[0]);
  return fmt::format("({})", fmt::join(dims, ", "));
}

// One input of a model or executable as the caller must give it.
struct InputParam {
  std::string name;
  DType dtype;
  std::vector<int64_t> dims;
};

std::string Names(const std::vector<InputParam>& params) {
  std::string s;
  for (const InputParam& p : params) s += (s.empty() ? "" : ", ") + p.name;
  return s.empty() ? "(none)" : s;
}

// A NumPy array (or anything np.asarray takes, converted to the input's
// dtype) to a Literal of the input's dtype and dims; ValueError otherwise.
Literal ToLiteral(py::handle obj, const InputParam& p) {
  py::dtype want = NumpyDType(p.dtype);
  std::string expected = fmt::format("{} {}", DimsTuple(p.dims), std::string(py::str(want)));
  py::module_ np = py::module_::import("numpy");
  py::array arr;
  if (py::isinstance<py::array>(obj)) {
    arr = py::reinterpret_borrow<py::array>(obj);
    if (!arr.dtype().equal(want)) {
      throw py::value_error(fmt::format("input '{}': expected dtype {} (model {}), got {}", p.name,
                                        std::string(py::str(want)), DTypeName(p.dtype), std::string(py::str(arr.dtype()))));
    }
  } else {
    try {
      arr = np.attr("asarray")(obj, want);
    } catch (py::error_already_set& e) {
      throw py::value_error(fmt::format("input '{}': cannot convert a {} to a {} array: {}", p.name,
                                        std::string(py::str(obj.get_type().attr("__name__"))), expected, e.what()));
    }
  }
  bool same = arr.ndim() == static_cast<py::ssize_t>(p.dims.size());
  for (size_t i = 0; same && i < p.dims.size(); ++i) same = arr.shape(static_cast<py::ssize_t>(i)) == p.dims[i];
  if (!same) {
    std::vector<int64_t> got(arr.shape(), arr.shape() + arr.ndim());
    throw py::value_error(fmt::format("input '{}': expected shape {}, got {}", p.name, DimsTuple(p.dims), DimsTuple(got)));
  }
  arr = np.attr("ascontiguousarray")(arr);
  const auto* src = static_cast<const uint8_t*>(arr.data());
  if (p.dtype == DType::kBF16) {
    Literal l(Shape(DType::kBF16, p.dims));
    const auto* f = reinterpret_cast<const float*>(src);
    for (int64_t i = 0; i < l.num_elements(); ++i) l.data<bf16>()[i] = bf16::FromFloat(f[i]);
    return l;
  }
  Shape shape(p.dtype, p.dims);
  return Literal(shape, std::vector<uint8_t>(src, src + shape.byte_size()));
}

py::array ToNumpy(const Literal& l) {
  std::vector<py::ssize_t> shape(l.shape().dims.begin(), l.shape().dims.end());
  if (l.dtype() == DType::kBF16) {
    std::vector<float> f(static_cast<size_t>(l.num_elements()));
    for (size_t i = 0; i < f.size(); ++i) f[i] = l.data<bf16>()[i].ToFloat();
    return py::array(NumpyDType(DType::kF32), shape, f.data());
  }
  return py::array(NumpyDType(l.dtype()), shape, l.bytes().data());  // copies
}

// Positional arrays in order, then named ones; every input exactly once.
std::vector<Literal> GatherInputs(const std::vector<InputParam>& params, const py::args& args, const py::kwargs& named) {
  if (args.size() > params.size()) {
    throw py::type_error(fmt::format("the model takes {} input(s) ({}), {} were given", params.size(), Names(params),
                                     args.size()));
  }
  std::vector<py::object> given(params.size());
  for (size_t i = 0; i < args.size(); ++i) given[i] = args[i];
  for (auto [key, value] : named) {
    std::string name = py::str(key);
    size_t i = 0;
    while (i < params.size() && params[i].name != name) ++i;
    if (i == params.size())
      throw py::type_error(fmt::format("unknown input '{}'; the model's inputs are: {}", name, Names(params)));
    if (given[i]) throw py::type_error(fmt::format("input '{}' given more than once", name));
    given[i] = py::reinterpret_borrow<py::object>(value);
  }
  std::vector<Literal> inputs;
  for (size_t i = 0; i < params.size(); ++i) {
    if (!given[i]) {
      throw py::type_error(fmt::format("input '{}' is missing; the model's inputs are: {}", params[i].name,
                                       Names(params)));
    }
    inputs.push_back(ToLiteral(given[i], params[i]));
  }
  return inputs;
}

// `inputs` of run()/run_reference(): a sequence in order or a mapping by name.
std::vector<Literal> GatherInputs(const std::vector<InputParam>& params, const py::object& inputs) {
  if (py::isinstance<py::dict>(inputs)) return GatherInputs(params, py::args(py::tuple()), py::reinterpret_borrow<py::kwargs>(inputs));
  if (py::isinstance<py::array>(inputs)) return GatherInputs(params, py::args(py::make_tuple(inputs)), py::kwargs());
  if (!py::isinstance<py::sequence>(inputs) || py::isinstance<py::str>(inputs))
    throw py::type_error("inputs must be a sequence of arrays (in the model's order) or a dict of name -> array");
  return GatherInputs(params, py::args(py::tuple(inputs)), py::kwargs());
}

py::list ToList(const std::vector<Literal>& outputs) {
  py::list out;
  for (const Literal& l : outputs) out.append(ToNumpy(l));
  return out;
}

// ---- Signals ---------------------------------------------------------------

// The cancel hook of a simulation that runs without the GIL: every ~50 ms it
// takes the GIL and runs Python's signal handlers (PyErr_CheckSignals, which
// does something only on the main thread). If a handler raised (Ctrl-C:
// KeyboardInterrupt) the exception is kept and the run is cancelled.
class SignalPoller {
 public:
  bool Poll() {
    auto now = std::chrono::steady_clock::now();
    if (now < next_) return false;
    next_ = now + std::chrono::milliseconds(50);
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() == 0) return false;
    PyErr_Fetch(&type_, &value_, &traceback_);
    return true;
  }
  // Re-raises what a handler raised (with the GIL held); false if none did.
  bool Reraise() {
    if (!type_) return false;
    PyErr_Restore(type_, value_, traceback_);
    type_ = value_ = traceback_ = nullptr;
    throw py::error_already_set();
  }

 private:
  std::chrono::steady_clock::time_point next_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  PyObject *type_ = nullptr, *value_ = nullptr, *traceback_ = nullptr;
};

// ---- Models ----------------------------------------------------------------

// `model`: a path (str or os.PathLike: .onnx or .tir) or the bytes of an
// ONNX model. `name` is set to what errors call it.
std::unique_ptr<Module> LoadModelObject(const py::object& model, int64_t default_dim, std::string* name) {
  if (py::isinstance<py::bytes>(model) || py::isinstance<py::bytearray>(model) ||
      py::isinstance<py::memoryview>(model)) {
    std::string bytes = py::bytes(py::module_::import("builtins").attr("bytes")(model));
    *name = "<onnx bytes>";
    py::gil_scoped_release release;
    return Value(LoadOnnxModelFromBytes(bytes, *name, default_dim));
  }
  py::object path;
  try {
    path = py::module_::import("os").attr("fspath")(model);
  } catch (py::error_already_set&) {
    throw py::type_error(fmt::format("model must be a path (.onnx or .tir) or the bytes of an ONNX model, not {}",
                                     std::string(py::str(model.get_type().attr("__name__")))));
  }
  if (!py::isinstance<py::str>(path)) path = path.attr("decode")();
  *name = path.cast<std::string>();
  py::gil_scoped_release release;
  return Value(LoadModel(*name, default_dim));
}

std::vector<InputParam> ModuleParams(const Module& m, const std::string& name) {
  std::vector<InputParam> params;
  for (const Instruction* p : m.entry()->parameters()) {
    if (!p) Throw(Error("{}: the entry computation has a missing parameter", name));
    if (p->shape.is_tuple) Throw(Error("{}: input '{}' has a tuple shape, which xtpu does not support", name, p->name));
    params.push_back({p->name, p->shape.dtype, p->shape.dims});
  }
  return params;
}

// ---- Chip ------------------------------------------------------------------

struct PyChip {
  ChipConfig chip;
};

PyChip MakeChip(const std::string& name_or_path, const std::vector<std::string>& overrides) {
  PyChip c{Value(LoadChip(name_or_path))};
  for (const std::string& ov : overrides) Check(ApplyOverride(c.chip, ov));
  return c;
}

PyChip ChipArg(const py::object& chip) {
  if (py::isinstance<PyChip>(chip)) return chip.cast<PyChip>();
  if (py::isinstance<py::str>(chip)) return MakeChip(chip.cast<std::string>(), {});
  throw py::type_error(fmt::format("chip must be a preset name, a .toml path or an xtpu.Chip, not {}",
                                   std::string(py::str(chip.get_type().attr("__name__")))));
}

// ---- Executable ------------------------------------------------------------

struct PyTensorSpec {
  std::string name;
  std::string dtype;  // NumPy dtype name
  std::string model_dtype;
  std::vector<int64_t> shape;
};

class PyExecutable {
 public:
  PyExecutable(runtime::Executable exe, std::string source) : exe_(std::move(exe)), source_(std::move(source)) {
    chip_ = Value(runtime::ExecutableChip(exe_));
    for (const auto& s : exe_.inputs) params_.push_back({s.name, s.model_dtype, s.dims});
  }

  const runtime::Executable& exe() const { return exe_; }
  const ChipConfig& chip() const { return chip_; }
  const std::string& source() const { return source_; }
  const std::vector<InputParam>& params() const { return params_; }

  std::vector<PyTensorSpec> Specs(const std::vector<runtime::TensorSignature>& sigs) const {
    std::vector<PyTensorSpec> v;
    for (const auto& s : sigs)
      v.push_back({s.name, py::str(NumpyDType(s.model_dtype)), std::string(DTypeName(s.model_dtype)), s.dims});
    return v;
  }

  // Runs on the simulated chip without the GIL; outputs as NumPy arrays
  // (none for a timing-only run). Safe to call from several threads at once:
  // the executable is never modified, each run has its own simulator, and
  // only the record of the last run is shared (under mu_).
  py::list Run(std::vector<Literal> inputs, bool timing, bool timing_only, const std::string& trace, int threads) {
    if (!trace.empty() && !timing) throw py::value_error("trace needs the timing model: drop timing=False");
    runtime::RunOptions ro;
    ro.timing = timing || timing_only;
    ro.timing_only = timing_only;
    ro.threads = threads;
    ro.record_instructions = true;
    SignalPoller poller;
    ro.cancel = [&poller] { return poller.Poll(); };
    std::optional<StatusOr<runtime::RunResult>> rr;
    Status trace_status;
    {
      py::gil_scoped_release release;
      rr.emplace(runtime::RunExecutable(exe_, inputs, ro));
      inputs.clear();
      if (rr->ok() && !trace.empty()) {
        trace_status = WriteStringToFile(trace, sim::timing::TraceJson(chip_, *rr->value().timing).dump() + "\n");
      }
    }
    poller.Reraise();
    if (!rr->ok()) {
      if (rr->status().code() == StatusCode::kCancelled) {
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        throw py::error_already_set();
      }
      Throw(rr->status().WithPrefix(source_));
    }
    Check(trace_status.WithPrefix("trace"));
    runtime::RunResult& r = rr->value();
    py::list outputs = ToList(r.outputs);
    nlohmann::json j = runtime::RunStatsJson(exe_, chip_, r);
    j["model"] = source_;
    if (!trace.empty()) j["trace"] = trace;
    r.outputs.clear();  // kept: what summary() and last_run need, not the values or per-instruction times
    if (r.timing) {
      r.timing->instructions.clear();
      r.timing->instructions.shrink_to_fit();
    }
    std::lock_guard<std::mutex> lock(mu_);
    last_ = std::move(r);
    last_json_ = std::move(j);
    return outputs;
  }

  py::object LastRun() const {
    nlohmann::json j;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!last_) return py::none();
      j = last_json_;
    }
    return JsonToPython(j);
  }

  std::string Summary(int layers) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!last_) throw py::value_error("no run yet: call the executable first");
    if (!last_->timing) throw py::value_error("the last run had no timing (timing=False)");
    int batch = exe_.inputs.empty() || exe_.inputs[0].dims.empty() ? 1 : static_cast<int>(exe_.inputs[0].dims[0]);
    return runtime::PerformanceSummary(chip_, *last_, batch, layers);
  }

 private:
  const runtime::Executable exe_;
  ChipConfig chip_;
  std::string source_;  // starts run errors, as in the CLI
  std::vector<InputParam> params_;
  mutable std::mutex mu_;
  std::optional<runtime::RunResult> last_;  // guarded by mu_
  nlohmann::json last_json_;                // guarded by mu_
};

std::unique_ptr<PyExecutable> CompileModel(const py::object& model, const py::object& chip_arg, const std::string& precision, int cores,
                          int64_t default_dim) {
  PyChip chip = ChipArg(chip_arg);
  codegen::Precision p = Value(codegen::ParsePrecision(precision));
  if (cores < 0) throw py::value_error(fmt::format("cores must be 0 (all) or positive, got {}", cores));
  std::string name;
  std::unique_ptr<Module> module = LoadModelObject(model, default_dim, &name);
  std::optional<StatusOr<runtime::Executable>> exe;
  {
    py::gil_scoped_release release;
    exe.emplace(compiler::Compile(std::move(module), chip.chip, {.precision = p, .cores = cores}));
  }
  if (!exe->ok()) Throw(exe->status().WithPrefix(name));
  return std::make_unique<PyExecutable>(std::move(*exe).value(), name);
}

py::list RunReference(const py::object& model, const py::object& inputs, int64_t default_dim, int threads) {
  if (threads < 1) throw py::value_error(fmt::format("threads must be at least 1, got {}", threads));
  std::string name;
  std::unique_ptr<Module> module = LoadModelObject(model, default_dim, &name);
  std::vector<Literal> args = GatherInputs(ModuleParams(*module, name), inputs);
  std::optional<StatusOr<std::vector<Literal>>> out;
  {
    py::gil_scoped_release release;
    out.emplace(Evaluate(*module, args, EvalOptions{.num_threads = threads}));
  }
  if (!out->ok()) Throw(out->status().WithPrefix(name));
  return ToList(out->value());
}

std::string SpecRepr(const PyTensorSpec& s) {
  return fmt::format("TensorSpec(name='{}', dtype='{}', shape={})", s.name, s.dtype, DimsTuple(s.shape));
}

}  // namespace
}  // namespace xtpu::python

using namespace xtpu;
using namespace xtpu::python;

PYBIND11_MODULE(_xtpu, m) {
  m.doc() = "Native part of xtpu: chips, compiling models, running them on the simulated chip (import xtpu instead).";
  m.attr("__version__") = XTPU_VERSION;
  py::register_exception<XtpuError>(m, "Error", PyExc_RuntimeError).attr("__doc__") =
      "An error xtpu reports: a bad model, chip or file, an unsupported op, a model too large for the chip, a "
      "device fault. The message is the one the `xtpu` command line prints.";

  py::class_<PyChip>(m, "Chip", R"doc(A chip description (configs/*.toml): a preset or your own TOML file.

    xtpu.Chip("v4")                                  # preset: v1, v4, v5e, edge
    xtpu.Chip("v4", overrides=["mxu.rows=256"])      # with parameters changed
    xtpu.Chip.from_file("my_chip.toml")
)doc")
      .def(py::init([](const std::string& name, const std::vector<std::string>& overrides) {
             return MakeChip(name, overrides);
           }),
           py::arg("name") = "v4", py::arg("overrides") = std::vector<std::string>(),
           "Loads a preset by name (or a .toml path) and applies 'key=value' overrides in order.")
      .def_static(
          "from_file",
          [](const std::string& path, const std::vector<std::string>& overrides) {
            std::string text;
            {
              py::gil_scoped_release release;
              text = Value(ReadFileToString(path));
            }
            PyChip c{Value(LoadChipFromString(text, path))};
            for (const std::string& ov : overrides) Check(ApplyOverride(c.chip, ov));
            return c;
          },
          py::arg("path"), py::arg("overrides") = std::vector<std::string>(),
          "Loads a chip from a TOML file (any name) and applies 'key=value' overrides in order.")
      .def_static(
          "from_toml", [](const std::string& text, const std::string& name) { return PyChip{Value(LoadChipFromString(text, name))}; },
          py::arg("text"), py::arg("name") = "<string>", "Loads a chip from TOML text; `name` starts error messages.")
      .def_static("presets", &ListChipPresets, "The preset names found in the configs directory, sorted.")
      .def_property_readonly("name", [](const PyChip& c) { return c.chip.name; }, "The chip's name (e.g. 'v4').")
      .def_property_readonly("source", [](const PyChip& c) { return c.chip.source; }, "The file the chip was read from.")
      .def_property_readonly("overrides", [](const PyChip& c) { return c.chip.overrides; },
                             "The 'key=value' overrides applied, in order.")
      .def(
          "with_overrides",
          [](const PyChip& c, const std::vector<std::string>& overrides) {
            PyChip out = c;
            for (const std::string& ov : overrides) Check(ApplyOverride(out.chip, ov));
            return out;
          },
          py::arg("overrides"), "A copy of this chip with 'key=value' overrides applied in order.")
      .def("describe", [](const PyChip& c) { return DescribeChip(c.chip); },
           "Every parameter with value, unit and origin, and the derived peaks, as a text table.")
      .def("to_dict", [](const PyChip& c) { return JsonToPython(ChipToJson(c.chip)); },
           "The chip as a dict: name, source, overrides, params {key: {value, unit, origin}}, derived peaks.")
      .def("to_toml", [](const PyChip& c) { return ChipToToml(c.chip); },
           "TOML text that Chip.from_toml reads back to the same parameters.")
      .def("__eq__", [](const PyChip& a, const PyChip& b) { return SameChipParams(a.chip, b.chip); })
      .def("__repr__", [](const PyChip& c) {
        return c.chip.overrides.empty() ? fmt::format("Chip('{}')", c.chip.name)
                                        : fmt::format("Chip('{}', overrides=['{}'])", c.chip.name,
                                                      fmt::join(c.chip.overrides, "', '"));
      });

  py::class_<PyTensorSpec>(m, "TensorSpec", "One input or output of a compiled model: name, NumPy dtype and shape.")
      .def_readonly("name", &PyTensorSpec::name, "The model's name for the tensor.")
      .def_readonly("dtype", &PyTensorSpec::dtype, "The NumPy dtype arrays must have (bf16 travels as float32).")
      .def_readonly("model_dtype", &PyTensorSpec::model_dtype, "The tensor IR dtype (f32, s64, bf16, ...).")
      .def_property_readonly("shape", [](const PyTensorSpec& s) { return py::tuple(py::cast(s.shape)); },
                             "The shape, a tuple of ints.")
      .def("__repr__", &SpecRepr);

  py::class_<PyExecutable>(m, "Executable", R"doc(A model compiled for a chip (xtpu.compile or xtpu.load).

Call it with one NumPy array per input (in order, or by name) to run it on the
simulated chip; it returns the outputs as a list of NumPy arrays. Arrays must
have exactly the input's dtype and shape (ValueError otherwise). Calls release
the GIL, may come from several threads at once, and stop with
KeyboardInterrupt on Ctrl-C.
)doc")
      .def(
          "__call__",
          [](PyExecutable& e, const py::args& args, const py::kwargs& named) {
            return e.Run(GatherInputs(e.params(), args, named), true, false, "", 0);
          },
          "exe(*arrays, **named_arrays) -> list of NumPy arrays: runs on the simulated chip (values and timing).")
      .def(
          "run",
          [](PyExecutable& e, const py::object& inputs, bool timing, bool timing_only, std::optional<std::string> trace,
             int threads) {
            return e.Run(GatherInputs(e.params(), inputs), timing, timing_only, trace.value_or(""), threads);
          },
          py::arg("inputs"), py::kw_only(), py::arg("timing") = true, py::arg("timing_only") = false,
          py::arg("trace") = py::none(), py::arg("threads") = 0,
          R"doc(Runs on the simulated chip; returns the outputs (a list of NumPy arrays, empty if timing_only).

inputs: a sequence of arrays in the model's order, or a dict name -> array.
timing: run the timing model (cycles, last_run["performance"]).
timing_only: skip the values (much faster; outputs are not computed).
trace: write a Chrome/Perfetto trace JSON of the run to this path.
threads: host threads for the MXU work (0 = all cores).)doc")
      .def_property_readonly("last_run", &PyExecutable::LastRun,
                             "Stats of the last completed run as a dict (the JSON `xtpu run --stats` writes), or None.")
      .def("summary", &PyExecutable::Summary, py::arg("layers") = 10,
           "The performance summary of the last run (as `xtpu run` prints it) with the top `layers` kernels.")
      .def_property_readonly("inputs", [](const PyExecutable& e) { return e.Specs(e.exe().inputs); },
                             "The inputs, in order: a list of TensorSpec.")
      .def_property_readonly("outputs", [](const PyExecutable& e) { return e.Specs(e.exe().outputs); },
                             "The outputs, in order: a list of TensorSpec.")
      .def_property_readonly("chip", [](const PyExecutable& e) { return PyChip{e.chip()}; },
                             "The chip the executable was compiled for.")
      .def_property_readonly("precision", [](const PyExecutable& e) { return e.exe().precision; },
                             "The matmul precision: 'default', 'high' or 'highest'.")
      .def_property_readonly("source", &PyExecutable::source, "The model it came from (path, or '<onnx bytes>').")
      .def_property_readonly("num_instructions", [](const PyExecutable& e) { return e.exe().program.num_instructions(); },
                             "Instructions in the program, all cores.")
      .def_property_readonly("metadata", [](const PyExecutable& e) { return JsonToPython(nlohmann::json::parse(e.exe().metadata_json)); },
                             "The compiler's metadata: FLOPs, per-kernel table, memory use, compile time per phase.")
      .def(
          "save",
          [](const PyExecutable& e, const std::string& path) {
            py::gil_scoped_release release;
            Check(runtime::SaveExecutable(e.exe(), path));
          },
          py::arg("path"), "Writes the executable as a .xtpu file (`xtpu run FILE.xtpu` runs it).")
      .def("__repr__", [](const PyExecutable& e) {
        return fmt::format("<xtpu.Executable {} for {} (precision {}): {} input(s), {} output(s)>", e.source(),
                           e.exe().chip_name, e.exe().precision, e.exe().inputs.size(), e.exe().outputs.size());
      });

  m.def("compile", &CompileModel, py::arg("model"), py::arg("chip") = "v4", py::arg("precision") = "default",
        py::kw_only(), py::arg("cores") = 0, py::arg("default_dim") = 1,
        R"doc(Compiles a model for a chip; returns an Executable.

model: a path to a .onnx or .tir file, or the bytes of an ONNX model.
chip: a preset name ('v4'), a .toml path, or an xtpu.Chip.
precision: 'default' (one bf16 pass), 'high' (3) or 'highest' (6 passes, ~f32).
cores: TensorCores to use (0 = all of the chip's).
default_dim: the value of symbolic ONNX input dims (e.g. batch).)doc");
  m.def(
      "load",
      [](const std::string& path) {
        std::optional<StatusOr<runtime::Executable>> exe;
        {
          py::gil_scoped_release release;
          exe.emplace(runtime::LoadExecutable(path));
        }
        return std::make_unique<PyExecutable>(Value(std::move(*exe)), path);
      },
      py::arg("path"), "Loads a compiled executable (.xtpu file, from Executable.save or `xtpu compile`).");
  m.def("run_reference", &RunReference, py::arg("model"), py::arg("inputs"), py::kw_only(), py::arg("default_dim") = 1,
        py::arg("threads") = 2,
        R"doc(Runs a model on the host with the reference evaluator (the numeric oracle, no chip).

model: a .onnx or .tir path, or ONNX bytes. inputs: a sequence of arrays in
the model's order or a dict name -> array (dtypes and shapes checked).
Returns the outputs as a list of NumPy arrays.)doc");
}
