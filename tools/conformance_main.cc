// xtpu-conformance: runs ONNX's backend test data (Debian's libonnx-testdata)
// through the ONNX importer and the reference evaluator, and compares every
// output with ONNX's expected output (rtol 1e-3, atol 1e-7, like ONNX's
// backend test runner). Each test runs in a forked child, so a crash or a
// hang in the importer or evaluator is recorded against that test instead of
// ending the run. See docs/conformance.md.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include "xtpu/frontend/onnx/importer.h"
#include "xtpu/ir/evaluator.h"
#include "xtpu/ir/literal.h"
#include "xtpu/ir/module.h"

namespace fs = std::filesystem;

namespace xtpu {
namespace {

constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-7;
// Larger inputs/outputs are skipped, so one test cannot dominate the run.
constexpr int64_t kMaxElements = 50'000'000;
// Reasons longer than this are cut (they travel through a pipe).
constexpr size_t kMaxReason = 1500;

enum class Outcome { kPassed, kFailed, kUnsupported };

struct TestResult {
  Outcome outcome = Outcome::kFailed;
  std::string reason;  // empty when passed
};

struct TestCase {
  std::string folder;
  std::string name;  // "test_add"
  fs::path dir;
  std::string id() const { return folder + "/" + name; }
  // Filled after the run.
  TestResult result;
  std::vector<std::string> op_types;  // of the model's main graph, sorted, unique
  double seconds = 0;
};

TestResult Passed() { return {Outcome::kPassed, ""}; }
TestResult Failed(std::string r) { return {Outcome::kFailed, std::move(r)}; }
TestResult Unsupported(std::string r) { return {Outcome::kUnsupported, std::move(r)}; }

// ---------------------------------------------------------------------------
// Loading test data.

StatusOr<std::string> ReadFileBytes(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound("cannot open '{}'", path.string());
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

StatusOr<onnx::TensorProto> ReadTensorProto(const fs::path& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileBytes(path));
  onnx::TensorProto t;
  if (!t.ParseFromString(bytes)) return Error("'{}' is not a serialized onnx.TensorProto", path.string());
  return t;
}

int64_t ElementCount(const onnx::TensorProto& t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) n *= d;
  return n;
}

// The files "<prefix>_0.pb", "<prefix>_1.pb", ... present in `dir`.
std::vector<fs::path> NumberedFiles(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (int i = 0;; ++i) {
    fs::path p = dir / fmt::format("{}_{}.pb", prefix, i);
    if (!fs::exists(p)) break;
    files.push_back(p);
  }
  return files;
}

std::vector<fs::path> DataSets(const fs::path& test_dir) {
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(test_dir)) {
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  }
  std::sort(sets.begin(), sets.end());
  return sets;
}

// Which kind of value an ONNX graph input/output is, for messages.
std::string ValueKind(const onnx::TypeProto& type) {
  switch (type.value_case()) {
    case onnx::TypeProto::kTensorType: return "tensor";
    case onnx::TypeProto::kSequenceType: return "sequence";
    case onnx::TypeProto::kMapType: return "map";
    case onnx::TypeProto::kOptionalType: return "optional";
    case onnx::TypeProto::kSparseTensorType: return "sparse tensor";
    default: return "untyped";
  }
}

// ---------------------------------------------------------------------------
// Comparison.

std::string IndexString(const std::vector<int64_t>& dims, int64_t flat) {
  std::vector<int64_t> idx(dims.size());
  for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
    idx[d] = dims[d] == 0 ? 0 : flat % dims[d];
    flat = dims[d] == 0 ? 0 : flat / dims[d];
  }
  return fmt::format("[{}]", fmt::join(idx, ","));
}

// Empty when `got` matches `want`; otherwise what differs.
std::string CompareLiterals(const Literal& got, const Literal& want) {
  if (got.dtype() != want.dtype() || got.shape().dims != want.shape().dims) {
    return fmt::format("got {}, expected {}", got.shape().ToString(), want.shape().ToString());
  }
  const int64_t n = want.num_elements();
  int64_t bad = 0, first_bad = -1;
  double worst_excess = -1;
  int64_t worst = -1;
  const bool is_float = IsFloat(want.dtype());
  for (int64_t i = 0; i < n; ++i) {
    bool ok;
    double excess = 0;
    if (is_float) {
      double g = got.GetAsDouble(i), w = want.GetAsDouble(i);
      if (std::isnan(w) || std::isnan(g)) {
        ok = std::isnan(w) && std::isnan(g);
        excess = INFINITY;
      } else if (std::isinf(w) || std::isinf(g)) {
        ok = g == w;
        excess = INFINITY;
      } else {
        double diff = std::fabs(g - w), tol = kAtol + kRtol * std::fabs(w);
        ok = diff <= tol;
        excess = diff - tol;
      }
    } else {
      ok = got.GetAsInt64(i) == want.GetAsInt64(i);
      excess = 1;
    }
    if (!ok) {
      if (bad++ == 0) first_bad = i;
      if (excess > worst_excess) {
        worst_excess = excess;
        worst = i;
      }
    }
  }
  if (bad == 0) return "";
  if (worst < 0) worst = first_bad;
  auto value = [&](const Literal& l, int64_t i) {
    return is_float ? fmt::format("{}", l.GetAsDouble(i)) : fmt::format("{}", l.GetAsInt64(i));
  };
  return fmt::format("{} of {} values differ; worst at {}: got {}, expected {}", bad, n,
                     IndexString(want.shape().dims, worst), value(got, worst), value(want, worst));
}

// ---------------------------------------------------------------------------
// One test (runs in the child process).

TestResult RunTest(const TestCase& test) {
  const fs::path model_path = test.dir / "model.onnx";
  auto model_bytes = ReadFileBytes(model_path);
  if (!model_bytes.ok()) return Failed(model_bytes.status().message());
  onnx::ModelProto model;
  if (!model.ParseFromString(*model_bytes)) return Failed("model.onnx is not a valid onnx.ModelProto");

  // Non-tensor graph inputs/outputs: their .pb files are not TensorProtos.
  std::set<std::string> initializers;
  for (const auto& init : model.graph().initializer()) initializers.insert(init.name());
  for (const auto& in : model.graph().input()) {
    if (!initializers.count(in.name()) && in.type().value_case() != onnx::TypeProto::kTensorType) {
      return Unsupported(fmt::format("graph input '{}' is a {} (only tensors are supported)", in.name(),
                                     ValueKind(in.type())));
    }
  }
  for (const auto& out : model.graph().output()) {
    if (out.type().value_case() != onnx::TypeProto::kTensorType) {
      return Unsupported(fmt::format("graph output '{}' is a {} (only tensors are supported)", out.name(),
                                     ValueKind(out.type())));
    }
  }

  // Load every data set before importing, so the size guard comes first.
  struct DataSet {
    std::string name;
    std::vector<onnx::TensorProto> inputs, outputs;
  };
  std::vector<DataSet> sets;
  for (const fs::path& dir : DataSets(test.dir)) {
    DataSet set;
    set.name = dir.filename().string();
    int64_t elements = 0;
    for (const auto& [prefix, list] : {std::pair{"input", &set.inputs}, std::pair{"output", &set.outputs}}) {
      for (const fs::path& p : NumberedFiles(dir, prefix)) {
        auto t = ReadTensorProto(p);
        if (!t.ok()) return Failed(t.status().message());
        elements += ElementCount(*t);
        list->push_back(std::move(*t));
      }
    }
    if (elements > kMaxElements) {
      return Unsupported(fmt::format("too large: {} has {} input+output elements (limit {})", set.name, elements,
                                     kMaxElements));
    }
    sets.push_back(std::move(set));
  }
  if (sets.empty()) return Failed("no test_data_set_* directory");

  auto module_or = ImportOnnxFile(model_path.string());
  if (!module_or.ok()) {
    const Status& s = module_or.status();
    if (s.code() == StatusCode::kUnimplemented) return Unsupported(s.message());
    return Failed("import: " + s.message());
  }
  const Module& module = **module_or;
  const std::vector<const Instruction*> params = module.Inputs();

  for (const DataSet& set : sets) {
    if (set.inputs.size() != params.size()) {
      return Failed(fmt::format("{}: {} input files but the imported module has {} parameters", set.name,
                                set.inputs.size(), params.size()));
    }
    std::vector<Literal> args;
    for (size_t i = 0; i < set.inputs.size(); ++i) {
      auto lit = TensorProtoToLiteral(set.inputs[i]);
      if (!lit.ok()) {
        std::string r = fmt::format("{}: input_{}.pb: {}", set.name, i, lit.status().message());
        return lit.status().code() == StatusCode::kUnimplemented ? Unsupported(r) : Failed(r);
      }
      if (lit->shape() != params[i]->shape) {
        return Failed(fmt::format("{}: input_{}.pb is {} but parameter {} ('{}') is {}", set.name, i,
                                  lit->shape().ToString(), i, params[i]->name, params[i]->shape.ToString()));
      }
      args.push_back(std::move(*lit));
    }

    auto results = Evaluate(module, args);
    if (!results.ok()) {
      const Status& s = results.status();
      std::string r = fmt::format("{}: evaluate: {}", set.name, s.message());
      return s.code() == StatusCode::kUnimplemented ? Unsupported(r) : Failed(r);
    }
    if (results->size() != set.outputs.size()) {
      return Failed(fmt::format("{}: module returned {} outputs, expected {}", set.name, results->size(),
                                set.outputs.size()));
    }
    std::vector<std::string> names = module.OutputNames();
    for (size_t i = 0; i < set.outputs.size(); ++i) {
      auto want = TensorProtoToLiteral(set.outputs[i]);
      if (!want.ok()) {
        std::string r = fmt::format("{}: output_{}.pb: {}", set.name, i, want.status().message());
        return want.status().code() == StatusCode::kUnimplemented ? Unsupported(r) : Failed(r);
      }
      std::string diff = CompareLiterals((*results)[i], *want);
      if (!diff.empty()) {
        std::string name = i < names.size() ? names[i] : "?";
        return Failed(fmt::format("{}: output {} ('{}'): {}", set.name, i, name, diff));
      }
    }
  }
  return Passed();
}

// Op types of the model's main graph (for grouping reasons); empty on error.
std::vector<std::string> ModelOpTypes(const fs::path& test_dir) {
  auto bytes = ReadFileBytes(test_dir / "model.onnx");
  onnx::ModelProto model;
  if (!bytes.ok() || !model.ParseFromString(*bytes)) return {};
  std::set<std::string> ops;
  for (const auto& node : model.graph().node()) ops.insert(node.op_type());
  return {ops.begin(), ops.end()};
}

// ---------------------------------------------------------------------------
// Child processes.

struct Running {
  pid_t pid;
  size_t index;
  int fd;
  std::chrono::steady_clock::time_point start;
};

// Forks a child that runs `test` and writes "<P|F|U><reason>" to a pipe.
Running Spawn(const TestCase& test, size_t index, int timeout_seconds) {
  int fds[2];
  XTPU_CHECK(pipe(fds) == 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  XTPU_CHECK(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    if (timeout_seconds > 0) alarm(static_cast<unsigned>(timeout_seconds));
    TestResult r = RunTest(test);
    std::string msg = r.outcome == Outcome::kPassed ? "P" : r.outcome == Outcome::kFailed ? "F" : "U";
    msg += r.reason.substr(0, kMaxReason);
    // Short enough to fit in the pipe buffer, so this never blocks.
    ssize_t unused = write(fds[1], msg.data(), msg.size());
    (void)unused;
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  return Running{pid, index, fds[0], std::chrono::steady_clock::now()};
}

TestResult Collect(int fd, int wait_status, int timeout_seconds) {
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) msg.append(buf, static_cast<size_t>(n));
  close(fd);
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    if (sig == SIGALRM) return Failed(fmt::format("timed out after {} s", timeout_seconds));
    return Failed(fmt::format("crashed with signal {} ({})", sig, strsignal(sig)));
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0 || msg.empty()) {
    return Failed(fmt::format("child exited with status {} and no result", WEXITSTATUS(wait_status)));
  }
  Outcome o = msg[0] == 'P' ? Outcome::kPassed : msg[0] == 'F' ? Outcome::kFailed : Outcome::kUnsupported;
  return TestResult{o, msg.substr(1)};
}

void RunAll(std::vector<TestCase>& tests, int jobs, int timeout_seconds, bool fork_tests) {
  if (!fork_tests) {
    for (TestCase& t : tests) {
      auto start = std::chrono::steady_clock::now();
      t.result = RunTest(t);
      t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return;
  }
  std::map<pid_t, Running> running;
  size_t next = 0;
  while (next < tests.size() || !running.empty()) {
    while (next < tests.size() && static_cast<int>(running.size()) < jobs) {
      Running r = Spawn(tests[next], next, timeout_seconds);
      running.emplace(r.pid, r);
      ++next;
    }
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    XTPU_CHECK(pid > 0);
    auto it = running.find(pid);
    if (it == running.end()) continue;
    TestCase& t = tests[it->second.index];
    t.result = Collect(it->second.fd, status, timeout_seconds);
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - it->second.start).count();
    running.erase(it);
  }
}

}  // namespace
}  // namespace xtpu
