// layout-assignment: every 1-D or 2-D convolution becomes NHWC/HWIO
// (dim_labels b01f_01io->b01f), the layout the chip's convolution unit reads:
// the input is transposed to [batch, spatial..., feature], the kernel to
// [spatial..., input feature, output feature] (computed now when the kernel
// is a constant), and the result transposed back to the layout users expect.
// A 1-D convolution gets a unit spatial dimension in front (H = 1) and is
// reshaped back. transpose-sinking then moves the transposes around the
// convolutions out of the way.
//
// A rank-4 reduce-window whose window covers only dims 2 and 3 (NCHW
// pooling) gets the same treatment: it runs over NHWC with its window on
// dims 1 and 2. (In the chip pipeline decompose has already lowered
// reduce-windows to slices, which transpose-sinking handles as well.)
//
// Convolutions with 3 or more spatial dims are left alone (CheckChipForm
// reports them). Exact: only data movement is added.
#include <utility>

#include "xtpu/compiler/passes/lowering.h"
#include "xtpu/compiler/passes/lowering_util.h"

namespace xtpu::compiler {
namespace {

bool IsNhwc(const ConvDims& d) {
  return d.input_spatial.size() == 2 && d.input_batch == 0 && d.input_spatial == std::vector<int64_t>{1, 2} &&
         d.input_feature == 3 && d.kernel_spatial == std::vector<int64_t>{0, 1} && d.kernel_input_feature == 2 &&
         d.kernel_output_feature == 3 && d.output_batch == 0 && d.output_spatial == std::vector<int64_t>{1, 2} &&
         d.output_feature == 3;
}

ConvDims NhwcDims() {
  ConvDims d;
  d.input_batch = 0;
  d.input_spatial = {1, 2};
  d.input_feature = 3;
  d.kernel_spatial = {0, 1};
  d.kernel_input_feature = 2;
  d.kernel_output_feature = 3;
  d.output_batch = 0;
  d.output_spatial = {1, 2};
  d.output_feature = 3;
  return d;
}

// Inserts a unit dim at position `at` of x's dims.
StatusOr<Instruction*> AddUnitDim(Builder& b, Instruction* x, int64_t at) {
  std::vector<int64_t> dims = x->shape.dims;
  dims.insert(dims.begin() + at, 1);
  return MakeReshape(b, x, dims);
}

StatusOr<bool> AssignConvolution(Rewriter& rw, Instruction* conv) {
  const ConvDims& cd = conv->conv_dims;
  const size_t ns = cd.input_spatial.size();
  if ((ns != 1 && ns != 2) || IsNhwc(cd)) return false;
  Builder& b = rw.builder();
  std::vector<int64_t> in_perm = {cd.input_batch};
  in_perm.insert(in_perm.end(), cd.input_spatial.begin(), cd.input_spatial.end());
  in_perm.push_back(cd.input_feature);
  std::vector<int64_t> k_perm(cd.kernel_spatial.begin(), cd.kernel_spatial.end());
  k_perm.push_back(cd.kernel_input_feature);
  k_perm.push_back(cd.kernel_output_feature);
  ASSIGN_OR_RETURN(Instruction * x, MakeTranspose(b, conv->operands[0], in_perm));
  ASSIGN_OR_RETURN(Instruction * k, MakeTranspose(b, conv->operands[1], k_perm));
  std::vector<WindowDim> window = conv->window;
  if (ns == 1) {
    ASSIGN_OR_RETURN(x, AddUnitDim(b, x, 1));
    ASSIGN_OR_RETURN(k, AddUnitDim(b, k, 0));
    window.insert(window.begin(), WindowDim{});
  }
  ASSIGN_OR_RETURN(Instruction * y, b.Convolution(x, k, window, NhwcDims(), conv->feature_group_count));
  // The NHWC convolution keeps the name (a model output's stays with it).
  if (!rw.IsEntryOutput(conv)) std::swap(conv->name, y->name);
  if (ns == 1) {
    std::vector<int64_t> dims = y->shape.dims;
    dims.erase(dims.begin() + 1);
    ASSIGN_OR_RETURN(y, MakeReshape(b, y, dims));
  }
  // y's dim j holds the original output dim at position order[j].
  std::vector<int64_t> order = {cd.output_batch};
  order.insert(order.end(), cd.output_spatial.begin(), cd.output_spatial.end());
  order.push_back(cd.output_feature);
  std::vector<int64_t> back(order.size());
  for (size_t j = 0; j < order.size(); ++j) back[order[j]] = static_cast<int64_t>(j);
  ASSIGN_OR_RETURN(Instruction * out, MakeTranspose(b, y, back));
  return rw.ReplaceWithNew(conv, out);
}

bool IsTrivialWindowDim(const WindowDim& w) { return w == WindowDim{}; }

StatusOr<bool> AssignReduceWindow(Rewriter& rw, Instruction* rwin) {
  if (rwin->shape.is_tuple || rwin->window.size() != 4) return false;
  const auto& w = rwin->window;
  if (!IsTrivialWindowDim(w[0]) || !IsTrivialWindowDim(w[1])) return false;
  if (IsTrivialWindowDim(w[2]) && IsTrivialWindowDim(w[3])) return false;
  Builder& b = rw.builder();
  const std::vector<int64_t> to_nhwc = {0, 2, 3, 1}, to_nchw = {0, 3, 1, 2};
  ASSIGN_OR_RETURN(Instruction * x, MakeTranspose(b, rwin->operands[0], to_nhwc));
  std::vector<WindowDim> window = {w[0], w[2], w[3], w[1]};
  ASSIGN_OR_RETURN(Instruction * y, b.ReduceWindow(x, rwin->operands[1], window, rwin->to_apply));
  if (!rw.IsEntryOutput(rwin)) std::swap(rwin->name, y->name);
  ASSIGN_OR_RETURN(Instruction * out, MakeTranspose(b, y, to_nchw));
  return rw.ReplaceWithNew(rwin, out);
}

constexpr RewriteRule kRules[] = {
    {"convolution-nhwc", Opcode::kConvolution, AssignConvolution},
    {"reduce-window-nhwc", Opcode::kReduceWindow, AssignReduceWindow},
};

class LayoutAssignment : public Pass {
 public:
  std::string_view name() const override { return "layout-assignment"; }
  StatusOr<bool> Run(Module& module, const PassContext&) override {
    return ApplyRewriteRules(module, kRules, /*max_sweeps=*/1);
  }
};

}  // namespace

std::unique_ptr<Pass> CreateLayoutAssignmentPass() { return std::make_unique<LayoutAssignment>(); }

}  // namespace xtpu::compiler
