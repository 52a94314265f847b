// ONNX Resize and Upsample with static scales or sizes. Resizing is
// separable: each resized axis is a gather (nearest) or a product with a
// constant [out, in] weight matrix built here (linear, cubic), using the
// ONNX reference's rules (edge-clamped neighbours, exclude_outside).
#include <algorithm>
#include <cmath>
#include <iterator>

#include "xtpu/frontend/onnx/import_context.h"

namespace xtpu::onnx_import {

namespace {

struct ResizeAttrs {
  std::string mode = "nearest";
  std::string coord = "half_pixel";
  std::string nearest = "round_prefer_floor";
  float cubic_a = -0.75f;
  bool exclude_outside = false;
};

// Output coordinate -> input coordinate. As in ONNX's reference, the output
// length here is in * scale before rounding down.
double SourceCoord(const ResizeAttrs& a, int64_t x, double scale, int64_t in, int64_t /*out*/) {
  double out = in * scale;
  if (a.coord == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (a.coord == "pytorch_half_pixel") return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
  if (a.coord == "align_corners") return out == 1 ? 0.0 : static_cast<double>(x) * (in - 1) / (out - 1);
  if (a.coord == "tf_half_pixel_for_nn") return (x + 0.5) / scale;
  return x / scale;  // asymmetric
}

int64_t NearestIndex(const std::string& mode, double c) {
  double f = std::floor(c);
  if (mode == "floor") return static_cast<int64_t>(f);
  if (mode == "ceil") return static_cast<int64_t>(std::ceil(c));
  if (c - f == 0.5) return static_cast<int64_t>(mode == "round_prefer_ceil" ? f + 1 : f);
  return static_cast<int64_t>(std::round(c));
}

std::vector<double> CubicCoeffs(double r, double A) {
  double s = 1 - r;
  return {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
          ((A + 2) * r - (A + 3)) * r * r + 1,
          ((A + 2) * s - (A + 3)) * s * s + 1,
          ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A};
}

// Resizes `axis` of x from in to out.
StatusOr<Instruction*> ResizeAxis(ImportContext& ctx, const ResizeAttrs& a, Instruction* x, int64_t axis,
                                  int64_t out, double scale) {
  int64_t in = x->shape.dims[axis];
  int64_t r = x->shape.rank();
  auto clamp = [&](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
  if (a.mode == "nearest") {
    if (out > kMaxConstantElements)
      return ctx.Unimplemented("resizing an axis to {} elements is too large", out);
    std::vector<int64_t> idx(out);
    for (int64_t o = 0; o < out; ++o) idx[o] = clamp(NearestIndex(a.nearest, SourceCoord(a, o, scale, in, out)));
    ASSIGN_OR_RETURN(Instruction * iv, ctx.b().Constant(Literal::FromVector(DType::kS64, {out}, idx)));
    GatherDims g;
    for (int64_t i = 0; i < r; ++i)
      if (i != axis) g.offset_dims.push_back(i);
    g.collapsed_slice_dims = {axis};
    g.start_index_map = {axis};
    g.index_vector_dim = 1;
    std::vector<int64_t> sizes = x->shape.dims;
    sizes[axis] = 1;
    return ctx.b().Gather(x, iv, g, sizes);
  }
  if (!IsFloat(x->shape.dtype)) return ctx.Unimplemented("{} mode needs a floating-point input", a.mode);
  if (out * in > kMaxConstantElements)
    return ctx.Unimplemented("resizing an axis of {} to {} is too large for a weight matrix", in, out);
  std::vector<double> w(out * in, 0.0);
  for (int64_t o = 0; o < out; ++o) {
    double c = SourceCoord(a, o, scale, in, out);
    double f = std::floor(c);
    double ratio = c - f;
    int64_t x0 = static_cast<int64_t>(f);
    std::vector<double> coeffs;
    int64_t first;
    if (a.mode == "linear") {
      coeffs = {1 - ratio, ratio};
      first = x0;
    } else {
      coeffs = CubicCoeffs(ratio, a.cubic_a);
      first = x0 - 1;
    }
    if (a.exclude_outside) {
      double sum = 0;
      for (size_t k = 0; k < coeffs.size(); ++k) {
        int64_t i = first + static_cast<int64_t>(k);
        if (i < 0 || i >= in) coeffs[k] = 0;
        sum += coeffs[k];
      }
      if (sum != 0)
        for (double& cf : coeffs) cf /= sum;
    }
    for (size_t k = 0; k < coeffs.size(); ++k) w[o * in + clamp(first + static_cast<int64_t>(k))] += coeffs[k];
  }
  ASSIGN_OR_RETURN(Instruction * wm, ctx.b().Constant(Literal::FromVector(x->shape.dtype, {out, in}, w)));
  DotDims dd;
  dd.lhs_contracting = {axis};
  dd.rhs_contracting = {1};
  ASSIGN_OR_RETURN(Instruction * y, ctx.b().Dot(x, wm, dd));
  // The new dim comes last; move it back to `axis`.
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < r - 1; ++i) {
    if (i == axis) perm.push_back(r - 1);
    perm.push_back(i);
  }
  if (axis == r - 1) perm.push_back(r - 1);
  return ctx.b().Transpose(y, perm);
}

// Resize (opset 10: X, scales; 11+: X, roi, scales, sizes) and Upsample
// (opset 7: scales attribute; 9: X, scales).
Converter ResizeOp(bool upsample) {
  return [upsample](ImportContext& ctx) -> Status {
    ASSIGN_OR_RETURN(Instruction * x, ctx.Input(0));
    int64_t r = x->shape.rank();
    ResizeAttrs a;
    ASSIGN_OR_RETURN(a.mode, ctx.String("mode", "nearest"));
    bool legacy = upsample || ctx.opset() < 11;
    if (legacy) {
      // Before opset 11: asymmetric coordinates, nearest rounds down.
      a.coord = "asymmetric";
      a.nearest = "floor";
    } else {
      ASSIGN_OR_RETURN(a.coord, ctx.String("coordinate_transformation_mode", "half_pixel"));
      ASSIGN_OR_RETURN(a.nearest, ctx.String("nearest_mode", "round_prefer_floor"));
      ASSIGN_OR_RETURN(a.cubic_a, ctx.Float("cubic_coeff_a", -0.75f));
      ASSIGN_OR_RETURN(int64_t excl, ctx.Int("exclude_outside", 0));
      a.exclude_outside = excl != 0;
      // Only used by tf_crop_and_resize, which is rejected below.
      ASSIGN_OR_RETURN(float extrapolation, ctx.Float("extrapolation_value", 0.0f));
      (void)extrapolation;
      ASSIGN_OR_RETURN(int64_t antialias, ctx.Int("antialias", 0));
      if (antialias) return ctx.UnsupportedAttr("antialias", std::to_string(antialias));
      ASSIGN_OR_RETURN(std::string policy, ctx.String("keep_aspect_ratio_policy", "stretch"));
      if (policy != "stretch") return ctx.UnsupportedAttr("keep_aspect_ratio_policy", "'" + policy + "'");
    }
    if (a.mode != "nearest" && a.mode != "linear" && a.mode != "cubic" &&
        !(legacy && a.mode == "bilinear"))
      return ctx.UnsupportedAttr("mode", "'" + a.mode + "'");
    if (a.mode == "bilinear") a.mode = "linear";
    if (a.mode == "cubic" && legacy) return ctx.UnsupportedAttr("mode", "'cubic'");
    static const char* kCoords[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                    "tf_half_pixel_for_nn"};
    if (std::find(std::begin(kCoords), std::end(kCoords), a.coord) == std::end(kCoords))
      return ctx.UnsupportedAttr("coordinate_transformation_mode", "'" + a.coord + "'");
    static const char* kNearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    if (std::find(std::begin(kNearest), std::end(kNearest), a.nearest) == std::end(kNearest))
      return ctx.UnsupportedAttr("nearest_mode", "'" + a.nearest + "'");

    // Axes (opset 18); default all.
    std::vector<int64_t> axes;
    if (!legacy && ctx.HasAttr("axes")) {
      ASSIGN_OR_RETURN(auto raw, ctx.Ints("axes"));
      for (int64_t ax : raw) {
        ASSIGN_OR_RETURN(int64_t n, ctx.NormalizeAxis(ax, r, "axes"));
        axes.push_back(n);
      }
    } else {
      for (int64_t i = 0; i < r; ++i) axes.push_back(i);
    }
    int64_t n = static_cast<int64_t>(axes.size());

    std::vector<double> scales;
    std::vector<int64_t> sizes;
    if (upsample && ctx.opset() < 9) {
      ASSIGN_OR_RETURN(auto f, ctx.Floats("scales"));
      scales.assign(f.begin(), f.end());
    } else {
      int scales_in = (upsample || ctx.opset() < 11) ? 1 : 2;
      if (ctx.has_input(scales_in)) {
        ASSIGN_OR_RETURN(const Literal* s, ctx.ConstantInput(scales_in, "scales"));
        for (int64_t i = 0; i < s->num_elements(); ++i) scales.push_back(s->GetAsDouble(i));
      }
      if (!legacy && ctx.has_input(3)) {
        ASSIGN_OR_RETURN(sizes, ctx.ConstantInts(3, "sizes"));
      }
    }
    if (scales.empty() == sizes.empty())
      return ctx.Error("exactly one of scales and sizes must be given (got {} scales, {} sizes)", scales.size(),
                       sizes.size());
    std::vector<int64_t> out_dims = x->shape.dims;
    std::vector<double> axis_scale(r, 1.0);
    if (!scales.empty()) {
      if (static_cast<int64_t>(scales.size()) != n)
        return ctx.Error("scales has {} entries for {} axes", scales.size(), n);
      for (int64_t i = 0; i < n; ++i) {
        if (!(scales[i] > 0)) return ctx.Error("scale {} must be positive", scales[i]);
        axis_scale[axes[i]] = scales[i];
        double o = std::floor(x->shape.dims[axes[i]] * scales[i]);
        if (o > static_cast<double>(kMaxTensorElements)) return ctx.Error("scale {} is too large", scales[i]);
        out_dims[axes[i]] = static_cast<int64_t>(o);
      }
    } else {
      if (static_cast<int64_t>(sizes.size()) != n)
        return ctx.Error("sizes has {} entries for {} axes", sizes.size(), n);
      for (int64_t i = 0; i < n; ++i) {
        if (sizes[i] < 0) return ctx.Error("size {} is negative", sizes[i]);
        int64_t in = x->shape.dims[axes[i]];
        out_dims[axes[i]] = sizes[i];
        axis_scale[axes[i]] = in == 0 ? 1.0 : static_cast<double>(sizes[i]) / in;
      }
    }
    RETURN_IF_ERROR(ctx.ElementCount(out_dims, "output").status());
    Instruction* y = x;
    for (int64_t ax = 0; ax < r; ++ax) {
      if (out_dims[ax] == x->shape.dims[ax] && axis_scale[ax] == 1.0) continue;
      if (x->shape.dims[ax] == 0) return ctx.Error("cannot resize an empty dim {}", ax);
      ASSIGN_OR_RETURN(y, ResizeAxis(ctx, a, y, ax, out_dims[ax], axis_scale[ax]));
    }
    if (y == x) { ASSIGN_OR_RETURN(y, ctx.b().Unary(Opcode::kCopy, x)); }
    ctx.SetOutput(0, y);
    return OkStatus();
  };
}

}  // namespace

void RegisterResizeOps(OpTable& t) {
  t["Resize"] = ResizeOp(false);
  t["Upsample"] = ResizeOp(true);
}

}  // namespace xtpu::onnx_import
