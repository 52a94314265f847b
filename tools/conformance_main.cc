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
#include <optional>
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

struct DataSet {
  std::string name;  // "test_data_set_0"
  std::vector<onnx::TensorProto> inputs, outputs;
};

// An import error as a test result: kUnimplemented is "unsupported".
TestResult ImportFailure(const Status& s, const std::string& model_path) {
  // The path is in the test id already; keep the reason short.
  std::string reason = s.message();
  const std::string prefix = model_path + ": ";
  for (size_t at; (at = reason.find(prefix)) != std::string::npos;) reason.erase(at, prefix.size());
  if (s.code() == StatusCode::kUnimplemented) return Unsupported(reason);
  return Failed("import: " + reason);
}

// Feeds set.inputs[fed[i]] to parameter i, evaluates, compares the outputs.
// Returns nothing when every output matches.
std::optional<TestResult> RunDataSet(const Module& module, const DataSet& set, const std::vector<size_t>& fed) {
  const std::vector<const Instruction*> params = module.Inputs();
  if (fed.size() != params.size()) {
    return Failed(fmt::format("{}: {} inputs but the imported module has {} parameters", set.name, fed.size(),
                              params.size()));
  }
  std::vector<Literal> args;
  for (size_t i = 0; i < fed.size(); ++i) {
    auto lit = TensorProtoToLiteral(set.inputs[fed[i]]);
    if (!lit.ok()) {
      std::string r = fmt::format("{}: input_{}.pb: {}", set.name, fed[i], lit.status().message());
      return lit.status().code() == StatusCode::kUnimplemented ? Unsupported(r) : Failed(r);
    }
    if (lit->shape() != params[i]->shape) {
      return Failed(fmt::format("{}: input_{}.pb is {} but parameter {} ('{}') is {}", set.name, fed[i],
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
  return std::nullopt;
}

// `model` with the graph inputs whose positions are in `bound` turned into
// initializers holding `set`'s values.
onnx::ModelProto BindInputs(const onnx::ModelProto& model, const std::vector<const onnx::ValueInfoProto*>& graph_inputs,
                            const std::set<size_t>& bound, const DataSet& set) {
  onnx::ModelProto out = model;
  auto* graph = out.mutable_graph();
  graph->clear_input();
  for (const auto& in : model.graph().input()) {
    bool is_data_input = std::find(graph_inputs.begin(), graph_inputs.end(), &in) != graph_inputs.end();
    if (!is_data_input) *graph->add_input() = in;  // an initializer's entry
  }
  for (size_t i = 0; i < graph_inputs.size(); ++i) {
    if (bound.count(i)) {
      onnx::TensorProto* init = graph->add_initializer();
      *init = set.inputs[i];
      init->set_name(graph_inputs[i]->name());
    } else {
      *graph->add_input() = *graph_inputs[i];
    }
  }
  return out;
}

// xtpu needs static shapes, so an op whose shape-like operand (Reshape's
// shape, Slice's starts, ...) is a graph input cannot be imported. ONNX's
// tests often feed those as inputs; like XLA, this specializes the model
// for the values at hand: the fewest graph inputs needed for the import to
// succeed (found on the first data set: bind all, then unbind one at a time)
// become initializers holding the data set's values, and each data set is
// imported and run on its own. A pass here is reported as "bound: <inputs>".
TestResult RunWithBoundInputs(const onnx::ModelProto& model, const std::string& model_path,
                              const std::vector<DataSet>& sets) {
  std::set<std::string> initializers;
  for (const auto& init : model.graph().initializer()) initializers.insert(init.name());
  std::vector<const onnx::ValueInfoProto*> graph_inputs;
  for (const auto& in : model.graph().input()) {
    if (!initializers.count(in.name())) graph_inputs.push_back(&in);
  }
  for (const DataSet& set : sets) {
    if (set.inputs.size() != graph_inputs.size()) {
      return Failed(fmt::format("{}: {} input files but the model has {} graph inputs", set.name, set.inputs.size(),
                                graph_inputs.size()));
    }
  }
  auto import = [&](const std::set<size_t>& bound, const DataSet& set) {
    return ImportOnnxBytes(BindInputs(model, graph_inputs, bound, set).SerializeAsString(), model_path);
  };
  std::set<size_t> bound;
  for (size_t i = 0; i < graph_inputs.size(); ++i) bound.insert(i);
  if (auto all = import(bound, sets[0]); !all.ok()) return ImportFailure(all.status(), model_path);
  for (size_t i = 0; i < graph_inputs.size(); ++i) {
    std::set<size_t> fewer = bound;
    fewer.erase(i);
    if (import(fewer, sets[0]).ok()) bound = fewer;
  }
  std::vector<size_t> fed;
  std::vector<std::string> bound_names;
  for (size_t i = 0; i < graph_inputs.size(); ++i) {
    if (bound.count(i)) bound_names.push_back(graph_inputs[i]->name());
    else fed.push_back(i);
  }
  for (const DataSet& set : sets) {
    auto module = import(bound, set);
    if (!module.ok()) return ImportFailure(module.status(), model_path);
    if (auto r = RunDataSet(**module, set, fed)) return *r;
  }
  return TestResult{Outcome::kPassed, fmt::format("bound: {}", fmt::join(bound_names, ", "))};
}

// ---------------------------------------------------------------------------
// One test (runs in the child process).

TestResult RunTest(const TestCase& test, bool bind_int_inputs) {
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
      return Unsupported(fmt::format("graph input '{}' has type {} (only tensors are supported)", in.name(),
                                     ValueKind(in.type())));
    }
  }
  for (const auto& out : model.graph().output()) {
    if (out.type().value_case() != onnx::TypeProto::kTensorType) {
      return Unsupported(fmt::format("graph output '{}' has type {} (only tensors are supported)", out.name(),
                                     ValueKind(out.type())));
    }
  }

  // Load every data set before importing, so the size guard comes first.
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
    if (bind_int_inputs && s.message().find("must be a constant") != std::string::npos) {
      return RunWithBoundInputs(model, model_path.string(), sets);
    }
    return ImportFailure(s, model_path.string());
  }
  std::vector<size_t> fed(sets[0].inputs.size());
  for (size_t i = 0; i < fed.size(); ++i) fed[i] = i;
  for (const DataSet& set : sets) {
    if (auto r = RunDataSet(**module_or, set, fed)) return *r;
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
Running Spawn(const TestCase& test, size_t index, int timeout_seconds, bool bind_int_inputs) {
  int fds[2];
  XTPU_CHECK(pipe(fds) == 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  XTPU_CHECK(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    if (timeout_seconds > 0) alarm(static_cast<unsigned>(timeout_seconds));
    TestResult r = RunTest(test, bind_int_inputs);
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

void RunAll(std::vector<TestCase>& tests, int jobs, int timeout_seconds, bool fork_tests, bool bind_int_inputs) {
  if (!fork_tests) {
    for (TestCase& t : tests) {
      auto start = std::chrono::steady_clock::now();
      t.result = RunTest(t, bind_int_inputs);
      t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return;
  }
  std::map<pid_t, Running> running;
  size_t next = 0;
  while (next < tests.size() || !running.empty()) {
    while (next < tests.size() && static_cast<int>(running.size()) < jobs) {
      Running r = Spawn(tests[next], next, timeout_seconds, bind_int_inputs);
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

// ---------------------------------------------------------------------------
// Reporting.

const char* OutcomeName(Outcome o) {
  return o == Outcome::kPassed ? "passed" : o == Outcome::kFailed ? "failed" : "unsupported";
}

// The op a reason is about: the model's op type named earliest in the
// reason (as a whole word), or "" when it names none.
std::string OpInReason(const TestCase& t) {
  size_t best_pos = std::string::npos;
  std::string best;
  for (const std::string& op : t.op_types) {
    std::regex word("\\b" + op + "\\b");
    std::smatch m;
    if (std::regex_search(t.result.reason, m, word) && static_cast<size_t>(m.position(0)) < best_pos) {
      best_pos = static_cast<size_t>(m.position(0));
      best = op;
    }
  }
  return best;
}

// A reason with test-specific details (quoted names, numbers) blanked out,
// so that reasons of the same kind group together.
std::string GenericReason(const std::string& reason) {
  std::string r = std::regex_replace(reason, std::regex("test_data_set_[0-9]+: "), "");
  r = std::regex_replace(r, std::regex("'[^']*'"), "'…'");
  r = std::regex_replace(r, std::regex("[0-9]+"), "N");
  if (r.size() > 120) r = r.substr(0, 117) + "...";
  return r;
}

// The group a failed or unsupported test is counted under.
std::string GroupOf(const TestCase& t) {
  std::string op = OpInReason(t);
  if (!op.empty()) return op;
  if (t.result.outcome == Outcome::kFailed && t.op_types.size() == 1) return t.op_types[0];
  std::smatch m;
  if (std::regex_search(t.result.reason, m, std::regex("element type ([A-Za-z0-9_]+) is not supported"))) {
    return "(dtype " + m[1].str() + ")";
  }
  return "(" + GenericReason(t.result.reason) + ")";
}

struct FolderCounts {
  int passed = 0, failed = 0, unsupported = 0;
  int total() const { return passed + failed + unsupported; }
  void Add(Outcome o) { (o == Outcome::kPassed ? passed : o == Outcome::kFailed ? failed : unsupported)++; }
};

std::vector<std::pair<std::string, FolderCounts>> CountByFolder(const std::vector<TestCase>& tests,
                                                                 const std::vector<std::string>& folders) {
  std::vector<std::pair<std::string, FolderCounts>> rows;
  for (const std::string& f : folders) {
    FolderCounts c;
    for (const TestCase& t : tests) {
      if (t.folder == f) c.Add(t.result.outcome);
    }
    rows.emplace_back(f, c);
  }
  FolderCounts all;
  for (const TestCase& t : tests) all.Add(t.result.outcome);
  rows.emplace_back("total", all);
  return rows;
}

struct OpRow {
  std::string group;
  int reported = 0;     // tests whose reason is this group
  int only_missing = 0; // tests where this is the only op not seen in a passing test
  std::string example;  // one test and its reason
};

// Unsupported tests grouped by op, most tests first.
std::vector<OpRow> UnsupportedByOp(const std::vector<TestCase>& tests) {
  std::set<std::string> seen_passing;
  for (const TestCase& t : tests) {
    if (t.result.outcome == Outcome::kPassed) seen_passing.insert(t.op_types.begin(), t.op_types.end());
  }
  std::map<std::string, OpRow> rows;
  for (const TestCase& t : tests) {
    if (t.result.outcome != Outcome::kUnsupported) continue;
    std::string g = GroupOf(t);
    OpRow& row = rows[g];
    row.group = g;
    row.reported++;
    if (row.example.empty()) row.example = t.id() + ": " + t.result.reason;
    std::vector<std::string> missing;
    for (const std::string& op : t.op_types) {
      if (!seen_passing.count(op)) missing.push_back(op);
    }
    // Only when the import stopped at an op (not at a dtype or a sequence).
    if (missing.size() == 1 && g[0] != '(') {
      OpRow& m = rows[missing[0]];
      m.group = missing[0];
      m.only_missing++;
    }
  }
  std::vector<OpRow> out;
  for (auto& [g, row] : rows) out.push_back(row);
  std::stable_sort(out.begin(), out.end(), [](const OpRow& a, const OpRow& b) {
    return std::max(a.reported, a.only_missing) > std::max(b.reported, b.only_missing);
  });
  return out;
}

// Passing tests that needed RunWithBoundInputs.
int CountBound(const std::vector<TestCase>& tests) {
  int n = 0;
  for (const TestCase& t : tests) n += t.result.outcome == Outcome::kPassed && !t.result.reason.empty();
  return n;
}

void PrintSummary(const std::vector<TestCase>& tests, const std::vector<std::string>& folders, double seconds) {
  fmt::print("\n{:<20} {:>7} {:>7} {:>12} {:>7}\n", "folder", "passed", "failed", "unsupported", "total");
  for (const auto& [folder, c] : CountByFolder(tests, folders)) {
    fmt::print("{:<20} {:>7} {:>7} {:>12} {:>7}\n", folder, c.passed, c.failed, c.unsupported, c.total());
  }
  FolderCounts all;
  for (const TestCase& t : tests) all.Add(t.result.outcome);
  fmt::print("conformance: {} passed, {} failed, {} unsupported ({} tests, {:.1f} s)\n", all.passed, all.failed,
             all.unsupported, all.total(), seconds);
  if (int bound = CountBound(tests); bound > 0) {
    fmt::print("({} of the passing tests ran with some graph inputs bound as constants; see --no-bind)\n", bound);
  }
}

std::string MarkdownEscape(std::string s) {
  s = std::regex_replace(s, std::regex("\\|"), "\\|");
  s = std::regex_replace(s, std::regex("\n"), " ");
  return s;
}

std::string MarkdownTables(const std::vector<TestCase>& tests, const std::vector<std::string>& folders) {
  std::ostringstream f;
  f << "### Counts per folder\n\n| folder | passed | failed | unsupported | total |\n|---|---:|---:|---:|---:|\n";
  for (const auto& [folder, c] : CountByFolder(tests, folders)) {
    f << fmt::format("| {} | {} | {} | {} | {} |\n", folder, c.passed, c.failed, c.unsupported, c.total());
  }

  if (int bound = CountBound(tests); bound > 0) {
    f << fmt::format("\n{} of the passing tests needed some graph inputs bound as constants "
                     "(a shape-like operand was a graph input):", bound);
    std::vector<std::string> ids;
    for (const TestCase& t : tests) {
      if (t.result.outcome == Outcome::kPassed && !t.result.reason.empty()) ids.push_back(t.id());
    }
    f << " " << fmt::format("{}", fmt::join(ids, ", ")) << ".\n";
  }
  f << "\n### Unsupported, grouped by op\n\n"
       "`reported`: tests whose unsupported reason names this op (or this reason). "
       "`only missing op`: tests stopped at an unsupported op in which this is the only op that "
       "no passing test uses, so supporting it would most likely make them run "
       "(a test can also be counted under the op its import stopped at).\n\n"
       "| op or reason | reported | only missing op | example |\n|---|---:|---:|---|\n";
  for (const OpRow& r : UnsupportedByOp(tests)) {
    f << fmt::format("| {} | {} | {} | {} |\n", MarkdownEscape(r.group), r.reported, r.only_missing,
                     MarkdownEscape(r.example.size() > 200 ? r.example.substr(0, 197) + "..." : r.example));
  }

  f << "\n### Failures\n\n";
  bool any = false;
  for (const TestCase& t : tests) {
    if (t.result.outcome != Outcome::kFailed) continue;
    if (!any) f << "| test | group | reason |\n|---|---|---|\n";
    any = true;
    f << fmt::format("| {} | {} | {} |\n", t.id(), MarkdownEscape(GroupOf(t)), MarkdownEscape(t.result.reason));
  }
  if (!any) f << "None.\n";
  return f.str();
}

constexpr const char* kBeginMarker = "<!-- BEGIN generated by xtpu-conformance --markdown; do not edit -->\n";
constexpr const char* kEndMarker = "<!-- END generated by xtpu-conformance --markdown -->\n";

// Writes the tables to `path`. When `path` already holds the BEGIN/END
// markers, only the text between them is replaced, so a hand-written
// document (docs/conformance.md) can be regenerated in place.
Status WriteMarkdown(const std::string& path, const std::vector<TestCase>& tests,
                     const std::vector<std::string>& folders) {
  std::string before, after;
  if (auto old = ReadFileBytes(path); old.ok()) {
    size_t b = old->find(kBeginMarker), e = old->find(kEndMarker);
    if (b != std::string::npos && e != std::string::npos && b < e) {
      before = old->substr(0, b);
      after = old->substr(e + std::string(kEndMarker).size());
    }
  }
  std::ofstream f(path);
  if (!f) return Error("cannot write '{}'", path);
  f << before << kBeginMarker << "\n" << MarkdownTables(tests, folders) << "\n" << kEndMarker << after;
  return f ? OkStatus() : Error("cannot write '{}'", path);
}

StatusOr<std::vector<std::string>> ReadTestList(const std::string& path) {
  std::ifstream f(path);
  if (!f) return NotFound("cannot open expected-passing list '{}'", path);
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(f, line)) {
    line = std::regex_replace(line, std::regex("^\\s+|\\s+$"), "");
    if (line.empty() || line[0] == '#') continue;
    ids.push_back(line);
  }
  return ids;
}

std::vector<TestCase> Discover(const fs::path& data, const std::vector<std::string>& folders,
                               const std::string& filter) {
  std::vector<TestCase> tests;
  for (const std::string& folder : folders) {
    fs::path dir = data / folder;
    if (!fs::is_directory(dir)) {
      fmt::print(stderr, "xtpu-conformance: warning: no folder '{}'\n", dir.string());
      continue;
    }
    std::vector<TestCase> in_folder;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_directory() || !fs::exists(e.path() / "model.onnx")) continue;
      TestCase t{folder, e.path().filename().string(), e.path(), {}, {}, 0};
      if (!filter.empty() && t.id().find(filter) == std::string::npos) continue;
      in_folder.push_back(std::move(t));
    }
    std::sort(in_folder.begin(), in_folder.end(), [](const TestCase& a, const TestCase& b) { return a.name < b.name; });
    for (TestCase& t : in_folder) tests.push_back(std::move(t));
  }
  return tests;
}

int Main(int argc, char** argv) {
  CLI::App app{"Runs ONNX's backend test data through the xtpu ONNX importer and reference evaluator."};
  std::string data = "/usr/share/libonnx-testdata/data";
  std::string folders_arg = "node,simple,pytorch-converted,pytorch-operator";
  std::string filter, list_passing, expected, markdown;
  bool verbose = false, no_fork = false, no_bind = false;
  int timeout_seconds = 60, jobs = 1;
  app.add_option("--data", data, "ONNX backend test data directory")->capture_default_str();
  app.add_option("--folders", folders_arg, "comma-separated folders under --data")->capture_default_str();
  app.add_option("--filter", filter, "run only tests whose 'folder/name' contains this");
  app.add_option("--list-passing", list_passing, "write the sorted passing tests to this file");
  app.add_option("--expected", expected, "exit 1 if a test listed in this file does not pass");
  app.add_option("--markdown", markdown, "write counts, unsupported ops and failures as markdown");
  app.add_option("--timeout-seconds", timeout_seconds, "per-test time limit (0: none)")->capture_default_str();
  app.add_option("-j,--jobs", jobs, "tests run at the same time")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_flag("-v,--verbose", verbose, "print every failed and unsupported test with its reason");
  app.add_flag("--no-fork", no_fork, "run tests in this process (for a debugger; a crash ends the run)");
  app.add_flag("--no-bind", no_bind,
               "do not retry a model that needs a constant input with its inputs bound to the data set values");
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> folders;
  std::stringstream ss(folders_arg);
  for (std::string f; std::getline(ss, f, ',');) {
    if (!f.empty()) folders.push_back(f);
  }
  std::vector<TestCase> tests = Discover(data, folders, filter);
  if (tests.empty()) {
    fmt::print(stderr, "xtpu-conformance: no tests found under '{}' (folders {}, filter '{}')\n", data, folders_arg,
               filter);
    return 2;
  }

  auto start = std::chrono::steady_clock::now();
  RunAll(tests, jobs, timeout_seconds, !no_fork, !no_bind);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (TestCase& t : tests) t.op_types = ModelOpTypes(t.dir);

  std::vector<std::string> crashed;
  for (const TestCase& t : tests) {
    if (t.result.outcome == Outcome::kPassed) {
      if (verbose && !t.result.reason.empty()) fmt::print("PASSED {} ({})\n", t.id(), t.result.reason);
      continue;
    }
    if (t.result.reason.rfind("crashed", 0) == 0) crashed.push_back(t.id());
    if (verbose || t.result.outcome == Outcome::kFailed) {
      fmt::print("{} {}: {}\n", t.result.outcome == Outcome::kFailed ? "FAILED" : "UNSUPPORTED", t.id(),
                 t.result.reason);
    }
  }
  if (verbose) {
    std::vector<const TestCase*> slow;
    for (const TestCase& t : tests) slow.push_back(&t);
    std::sort(slow.begin(), slow.end(), [](auto* a, auto* b) { return a->seconds > b->seconds; });
    fmt::print("\nslowest tests:\n");
    for (size_t i = 0; i < std::min<size_t>(5, slow.size()); ++i) {
      fmt::print("  {:6.2f} s  {} ({})\n", slow[i]->seconds, slow[i]->id(), OutcomeName(slow[i]->result.outcome));
    }
  }
  PrintSummary(tests, folders, seconds);
  if (!crashed.empty()) fmt::print("crashed: {}\n", fmt::join(crashed, ", "));

  if (!list_passing.empty()) {
    std::vector<std::string> ids;
    for (const TestCase& t : tests) {
      if (t.result.outcome == Outcome::kPassed) ids.push_back(t.id());
    }
    std::sort(ids.begin(), ids.end());
    std::ofstream f(list_passing);
    if (!f) {
      fmt::print(stderr, "xtpu-conformance: cannot write '{}'\n", list_passing);
      return 2;
    }
    for (const std::string& id : ids) f << id << "\n";
  }
  if (!markdown.empty()) {
    Status s = WriteMarkdown(markdown, tests, folders);
    if (!s.ok()) {
      fmt::print(stderr, "xtpu-conformance: {}\n", s.message());
      return 2;
    }
  }

  if (!expected.empty()) {
    auto ids = ReadTestList(expected);
    if (!ids.ok()) {
      fmt::print(stderr, "xtpu-conformance: {}\n", ids.status().message());
      return 2;
    }
    std::map<std::string, const TestCase*> by_id;
    for (const TestCase& t : tests) by_id[t.id()] = &t;
    std::set<std::string> expected_set(ids->begin(), ids->end());
    int regressions = 0;
    for (const std::string& id : *ids) {
      auto it = by_id.find(id);
      if (it == by_id.end()) {
        // Not selected by --folders/--filter, unless its folder was run in full.
        std::string folder = id.substr(0, id.find('/'));
        bool folder_run = filter.empty() && std::find(folders.begin(), folders.end(), folder) != folders.end();
        if (folder_run) {
          fmt::print("REGRESSION {}: listed in {} but not found\n", id, expected);
          ++regressions;
        }
        continue;
      }
      const TestCase& t = *it->second;
      if (t.result.outcome != Outcome::kPassed) {
        fmt::print("REGRESSION {}: {}: {}\n", id, OutcomeName(t.result.outcome), t.result.reason);
        ++regressions;
      }
    }
    int newly = 0;
    for (const TestCase& t : tests) {
      if (t.result.outcome == Outcome::kPassed && !expected_set.count(t.id())) ++newly;
    }
    if (newly > 0) {
      fmt::print("{} passing tests are not in {}; add them with --list-passing\n", newly, expected);
    }
    if (regressions > 0) {
      fmt::print("conformance: {} expected-passing tests no longer pass\n", regressions);
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace xtpu

int main(int argc, char** argv) { return xtpu::Main(argc, argv); }
