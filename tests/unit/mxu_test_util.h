// Shared by the matrix-unit kernel tests (mxu_kernels_test, mxu_conv_test,
// mxu_batched_test): random modules and their runs on the simulated chip,
// compared with the reference evaluator.
#pragma once

#include <array>
#include <gtest/gtest.h>

#include <optional>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <fmt/format.h>

#include "xtpu/chip/chip.h"
#include "xtpu/compiler/codegen/lowering.h"
#include "xtpu/compiler/pass.h"
#include "xtpu/ir/printer.h"
#include "xtpu/ir/builder.h"
#include "xtpu/ir/evaluator.h"
#include "xtpu/ir/parser.h"
#include "xtpu/isa/assembly.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/sim/timing/timing_model.h"

namespace xtpu::mxutest {

using codegen::Precision;

inline std::vector<float> RandomValues(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

inline int64_t Count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

inline std::string DimsText(const std::vector<int64_t>& dims) { return fmt::format("f32[{}]", fmt::join(dims, ",")); }

// "  name = f32[dims] constant({...})" with seeded random values.
inline std::string ConstLine(const std::string& name, const std::vector<int64_t>& dims, uint32_t seed) {
  std::vector<float> v = RandomValues(Count(dims), seed);
  std::string s = fmt::format("  {} = {} constant({{", name, DimsText(dims));
  for (size_t i = 0; i < v.size(); ++i) s += fmt::format("{}{:.9g}", i ? ", " : "", v[i]);
  return s + "})\n";
}

struct Outcome {
  double rel_l2 = 1e9;
  int64_t cycles = 0;
  double mxu_utilization = 0;
  size_t kernels = 0;
};

inline double RelL2(const Literal& got, const Literal& want) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    double d = got.GetAsDouble(i) - want.GetAsDouble(i);
    num += d * d;
    den += want.GetAsDouble(i) * want.GetAsDouble(i);
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// Lowers `text` for `chip_name`, runs it with random inputs, compares the
// single output with the evaluator.
inline Outcome RunOnChip(const std::string& text, const std::string& chip_name, Precision precision, bool timing = false,
                  const std::string& override_param = "") {
  Outcome o;
  auto module = ParseModule(text);
  EXPECT_TRUE(module.ok()) << module.status().message();
  if (!module.ok()) return o;
  auto chip = LoadChip(chip_name);
  EXPECT_TRUE(chip.ok());
  if (!override_param.empty()) EXPECT_TRUE(ApplyOverride(*chip, override_param).ok());
  auto lowered = codegen::LowerModule(**module, *chip, {.precision = precision});
  EXPECT_TRUE(lowered.ok()) << lowered.status().message();
  if (!lowered.ok()) return o;
  o.kernels = lowered->kernels.size();
  std::vector<Literal> args;
  sim::DispatchLog log;
  sim::Simulator s(*chip, lowered->program, {.dispatch_log = timing ? &log : nullptr});
  uint32_t seed = 100;
  for (const Instruction* p : (*module)->Inputs()) {
    std::vector<float> v = RandomValues(p->shape.num_elements(), seed++);
    args.push_back(Literal::FromVector(p->shape.dtype, p->shape.dims, v));
  }
  for (size_t i = 0; i < lowered->inputs.size(); ++i) EXPECT_TRUE(s.SetBuffer(lowered->inputs[i].buffer, args[i]).ok());
  if (!lowered->constants.empty()) {
    Literal c(Shape(DType::kS8, {static_cast<int64_t>(lowered->constants.size())}), lowered->constants);
    EXPECT_TRUE(s.SetBuffer("constants", c).ok());
  }
  Status st = s.Run();
  EXPECT_TRUE(st.ok()) << st.message();
  if (!st.ok() && std::getenv("XTPU_DUMP")) std::fprintf(stderr, "%s\n", isa::Disassemble(lowered->program).c_str());
  if (!st.ok()) return o;
  auto got = s.GetBuffer(lowered->outputs[0].buffer);
  auto want = Evaluate(**module, args);
  EXPECT_TRUE(got.ok() && want.ok());
  if (!got.ok() || !want.ok()) return o;
  o.rel_l2 = RelL2(*got, (*want)[0]);
  if (std::getenv("XTPU_MXU_DEBUG"))
    std::printf("    %s %s rel_l2 %.3g\n", chip_name.c_str(), std::string(codegen::PrecisionName(precision)).c_str(), o.rel_l2);
  if (timing) {
    auto t = sim::timing::RunTiming(*chip, log, {.record_instructions = false});
    EXPECT_TRUE(t.ok()) << t.status().message();
    if (t.ok()) {
      o.cycles = t->stats.cycles;
      o.mxu_utilization = t->stats.mxu_utilization;
    }
  }
  return o;
}

inline std::string DotModule(int64_t m, int64_t k, int64_t n, bool const_rhs) {
  std::string s = "HloModule dot\n\nENTRY main {\n";
  s += fmt::format("  a = f32[{},{}] parameter(0)\n", m, k);
  if (const_rhs) s += ConstLine("w", {k, n}, 7);
  else s += fmt::format("  w = f32[{},{}] parameter(1)\n", k, n);
  s += fmt::format("  d = f32[{},{}] dot(a, w), lhs_batch_dims={{}}, lhs_contracting_dims={{1}}, rhs_batch_dims={{}}, "
                   "rhs_contracting_dims={{0}}\n",
                   m, n);
  return s + fmt::format("  ROOT out = (f32[{},{}]) tuple(d)\n}}\n", m, n);
}

struct ConvSpec {
  std::vector<int64_t> in, kernel;  // NHWC, HWIO
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
};

inline std::vector<int64_t> ConvOut(const ConvSpec& c) {
  auto o = [](int64_t x, int64_t k, int64_t s, int64_t p, int64_t d) { return (x + 2 * p - (k - 1) * d - 1) / s + 1; };
  return {c.in[0], o(c.in[1], c.kernel[0], c.stride_h, c.pad_h, c.dil_h),
          o(c.in[2], c.kernel[1], c.stride_w, c.pad_w, c.dil_w), c.kernel[3]};
}

inline std::string ConvAttrs(const ConvSpec& c) {
  return fmt::format("window={{size={}x{} stride={}x{} pad={}_{}x{}_{} lhs_dilate=1x1 rhs_dilate={}x{}}}, "
                     "dim_labels=b01f_01io->b01f, feature_group_count={}, batch_group_count=1",
                     c.kernel[0], c.kernel[1], c.stride_h, c.stride_w, c.pad_h, c.pad_h, c.pad_w, c.pad_w, c.dil_h,
                     c.dil_w, c.groups);
}

inline std::string ConvModule(const ConvSpec& c) {
  std::vector<int64_t> out = ConvOut(c);
  std::string s = "HloModule conv\n\nENTRY main {\n";
  s += fmt::format("  x = {} parameter(0)\n", DimsText(c.in));
  s += ConstLine("w", c.kernel, 11);
  s += fmt::format("  y = {} convolution(x, w), {}\n", DimsText(out), ConvAttrs(c));
  return s + fmt::format("  ROOT out = ({}) tuple(y)\n}}\n", DimsText(out));
}

// conv + bias + relu + residual as an output fusion.
inline std::string ConvFusionModule(const ConvSpec& c) {
  std::vector<int64_t> out = ConvOut(c);
  const std::string o = DimsText(out);
  std::string s = "HloModule convfusion\n\nfused {\n";
  s += fmt::format("  p0 = {} parameter(0)\n  p1 = {} parameter(1)\n  p2 = f32[{}] parameter(2)\n  p3 = {} parameter(3)\n",
                   DimsText(c.in), DimsText(c.kernel), out[3], o);
  s += fmt::format("  y = {} convolution(p0, p1), {}\n", o, ConvAttrs(c));
  s += fmt::format("  b = {} broadcast(p2), dimensions={{3}}\n  yb = {} add(y, b)\n", o, o);
  s += fmt::format("  z = f32[] constant(0)\n  zb = {} broadcast(z), dimensions={{}}\n  r = {} maximum(yb, zb)\n", o, o);
  s += fmt::format("  ROOT res = {} add(p3, r)\n}}\n\nENTRY main {{\n", o);
  s += fmt::format("  x = {} parameter(0)\n  skip = {} parameter(1)\n", DimsText(c.in), o);
  s += ConstLine("w", c.kernel, 11);
  s += ConstLine("bias", {out[3]}, 12);
  s += fmt::format("  f = {} fusion(x, w, bias, skip), kind=output, calls=fused\n", o);
  return s + fmt::format("  ROOT out = ({}) tuple(f)\n}}\n", o);
}

// `text` lowered for v4 at default precision (nullopt if it does not parse
// or lower: the callers' expectations then fail).
inline std::optional<codegen::LoweredModel> LowerV4(const std::string& text) {
  auto module = ParseModule(text);
  auto chip = LoadChip("v4");
  if (!module.ok() || !chip.ok()) return std::nullopt;
  auto lowered = codegen::LowerModule(**module, *chip, {});
  if (!lowered.ok()) return std::nullopt;
  return std::move(*lowered);
}

// Cycle statistics of `text` lowered for v4 and run on the timing model
// only (nullopt if any step fails).
inline std::optional<sim::timing::TimingStats> TimeOnV4(const std::string& text) {
  auto lowered = LowerV4(text);
  if (!lowered) return std::nullopt;
  auto chip = LoadChip("v4");
  sim::DispatchLog log;
  sim::Simulator s(*chip, lowered->program, {.dispatch_log = &log, .timing_only = true});
  if (!s.Run().ok()) return std::nullopt;
  auto t = sim::timing::RunTiming(*chip, log, {.record_instructions = false});
  if (!t.ok()) return std::nullopt;
  return t->stats;
}

// The ops of the kernels `text` lowers to.
inline std::vector<std::string> KernelOps(const std::string& text, const std::string& chip_name, Precision precision) {
  std::vector<std::string> ops;
  auto module = ParseModule(text);
  auto chip = LoadChip(chip_name);
  if (!module.ok() || !chip.ok()) return ops;
  auto lowered = codegen::LowerModule(**module, *chip, {.precision = precision});
  EXPECT_TRUE(lowered.ok()) << lowered.status().message();
  if (!lowered.ok()) return ops;
  for (const auto& k : lowered->kernels) ops.push_back(k.op);
  return ops;
}

// `text` after the fusion pass, printed ("" and a test failure if it fails).
inline std::string AfterFusionPass(const std::string& text) {
  auto mod = ParseModule(text);
  EXPECT_TRUE(mod.ok()) << mod.status().message();
  if (!mod.ok()) return "";
  compiler::PassManager pm;
  EXPECT_TRUE(pm.AddByName("fusion").ok());
  EXPECT_TRUE(pm.Run(**mod).ok());
  return Print(**mod);
}

}  // namespace xtpu::mxutest
