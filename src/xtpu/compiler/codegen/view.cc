#include "xtpu/compiler/codegen/view.h"

#include <fmt/format.h>

#include "xtpu/support/check.h"

namespace xtpu::codegen {

View View::Dense(int64_t base, DType dtype, std::vector<int64_t> dims) {
  View v;
  v.base = base;
  v.dtype = dtype;
  v.dims = std::move(dims);
  v.strides.assign(v.dims.size(), 0);
  int64_t s = DTypeBytes(dtype);
  for (int d = v.rank() - 1; d >= 0; --d) {
    v.strides[d] = s;
    s *= v.dims[d];
  }
  return v;
}

int64_t View::elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

int64_t View::element_bytes() const { return DTypeBytes(dtype); }

bool View::IsDense() const {
  if (elements() <= 1) return true;
  int64_t s = element_bytes();
  for (int d = rank() - 1; d >= 0; --d) {
    if (dims[d] != 1 && strides[d] != s) return false;
    s *= dims[d];
  }
  return true;
}

View View::Transpose(const std::vector<int64_t>& perm) const {
  XTPU_CHECK(perm.size() == dims.size());
  View v = *this;
  for (size_t i = 0; i < perm.size(); ++i) {
    v.dims[i] = dims[perm[i]];
    v.strides[i] = strides[perm[i]];
  }
  return v;
}

View View::Slice(const std::vector<int64_t>& starts, const std::vector<int64_t>& limits,
                 const std::vector<int64_t>& steps) const {
  View v = *this;
  for (int d = 0; d < rank(); ++d) {
    int64_t step = steps.empty() ? 1 : steps[d];
    XTPU_CHECK(step >= 1 && starts[d] >= 0 && limits[d] <= dims[d]);
    v.base += starts[d] * strides[d];
    v.dims[d] = limits[d] <= starts[d] ? 0 : (limits[d] - starts[d] + step - 1) / step;
    v.strides[d] = strides[d] * step;
  }
  return v;
}

View View::Broadcast(const std::vector<int64_t>& out_dims, const std::vector<int64_t>& dims_map) const {
  XTPU_CHECK(dims_map.size() == dims.size());
  View v;
  v.base = base;
  v.dtype = dtype;
  v.dims = out_dims;
  v.strides.assign(out_dims.size(), 0);
  for (size_t i = 0; i < dims_map.size(); ++i) {
    XTPU_CHECK(dims_map[i] >= 0 && dims_map[i] < static_cast<int64_t>(out_dims.size()));
    // A size-1 operand dim broadcast to a larger dim keeps stride 0.
    if (dims[i] == out_dims[dims_map[i]]) v.strides[dims_map[i]] = strides[i];
  }
  return v;
}

View View::Reverse(const std::vector<int64_t>& rev_dims) const {
  View v = *this;
  for (int64_t d : rev_dims) {
    if (dims[d] > 0) v.base += (dims[d] - 1) * strides[d];
    v.strides[d] = -strides[d];
  }
  return v;
}

StatusOr<View> View::Reshape(const std::vector<int64_t>& new_dims) const {
  View out;
  out.base = base;
  out.dtype = dtype;
  out.dims = new_dims;
  int64_t n = 1;
  for (int64_t d : new_dims) n *= d;
  if (n != elements()) return Error("reshape of {} to {} elements", ToString(), n);
  if (IsDense()) return View::Dense(base, dtype, new_dims);
  // Group old and new dims into runs of equal element counts; each old run
  // must be contiguous (mergeable) to be re-split.
  View s = Simplified();
  out.strides.assign(new_dims.size(), 0);
  int oi = s.rank() - 1;
  int64_t old_count = 1, new_count = 1;
  int64_t cur_stride = oi >= 0 ? s.strides[oi] : element_bytes();
  int64_t old_size = oi >= 0 ? s.dims[oi] : 1;
  for (int ni = static_cast<int>(new_dims.size()) - 1; ni >= 0; --ni) {
    int64_t d = new_dims[ni];
    if (d == 1) {
      out.strides[ni] = 0;
      continue;
    }
    // Need d to divide the remaining part of the current old dim.
    if (oi < 0) return Error("cannot reshape view {} to new dims", ToString());
    if (old_size % d != 0) return Error("cannot reshape strided view {} without a copy", ToString());
    out.strides[ni] = cur_stride;
    cur_stride *= d;
    old_size /= d;
    if (old_size == 1) {
      --oi;
      if (oi >= 0) {
        cur_stride = s.strides[oi];
        old_size = s.dims[oi];
      }
    }
  }
  (void)old_count;
  (void)new_count;
  return out;
}

View View::SubRange(int d, int64_t start, int64_t size) const {
  XTPU_CHECK(d >= 0 && d < rank() && start >= 0 && start + size <= dims[d]);
  View v = *this;
  v.base += start * strides[d];
  v.dims[d] = size;
  return v;
}

View View::Simplified() const {
  View v;
  v.base = base;
  v.dtype = dtype;
  for (int d = 0; d < rank(); ++d) {
    if (dims[d] == 1) continue;
    if (dims[d] == 0) return View::Dense(base, dtype, {0});
    if (!v.dims.empty() && v.strides.back() == strides[d] * dims[d]) {
      v.dims.back() *= dims[d];
      v.strides.back() = strides[d];
    } else {
      v.dims.push_back(dims[d]);
      v.strides.push_back(strides[d]);
    }
  }
  return v;
}

int64_t View::MinAddress() const {
  int64_t a = base;
  for (int d = 0; d < rank(); ++d)
    if (strides[d] < 0 && dims[d] > 0) a += (dims[d] - 1) * strides[d];
  return a;
}

int64_t View::EndAddress() const {
  if (elements() == 0) return base;
  int64_t a = base;
  for (int d = 0; d < rank(); ++d)
    if (strides[d] > 0) a += (dims[d] - 1) * strides[d];
  return a + element_bytes();
}

std::string View::ToString() const {
  return fmt::format("{}[{}]{{{}}}@{:#x}", DTypeName(dtype), fmt::join(dims, ","), fmt::join(strides, ","), base);
}

}  // namespace xtpu::codegen
