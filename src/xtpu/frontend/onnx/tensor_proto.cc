// TensorProtoToLiteral: ONNX tensors (raw_data or the typed repeated fields)
// to Literals.
#include <algorithm>

#include <onnx/onnx_pb.h>

#include "xtpu/frontend/onnx/import_context.h"
#include "xtpu/frontend/onnx/importer.h"

namespace xtpu {

StatusOr<Literal> TensorProtoToLiteral(const onnx::TensorProto& t) {
  std::string what = fmt::format("tensor '{}'", t.name());
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    return Unimplemented(
        "{} keeps its data in an external file, which xtpu does not read; re-export the model "
        "with the weights inside the .onnx file",
        what);
  }
  if (t.has_segment()) return Unimplemented("{} is segmented, which is not supported", what);
  ASSIGN_OR_RETURN(DType dtype, onnx_import::DTypeFromOnnx(t.data_type(), what));
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  // Check the size the dims claim against the data actually present before
  // allocating: a corrupt file must not make us allocate gigabytes.
  int64_t claimed = 1;
  for (int64_t d : dims) {
    if (d < 0) return Error("{} has a negative dimension {}", what, d);
    if (d != 0 && claimed > (int64_t{1} << 40) / d)
      return Error("{} has dims whose product is too large", what);
    claimed *= d;
  }
  int64_t present = 0;
  if (t.has_raw_data()) {
    present = static_cast<int64_t>(t.raw_data().size()) / DTypeBytes(dtype);
  } else {
    present = std::max<int64_t>({t.float_data_size(), t.int64_data_size(), t.int32_data_size()});
  }
  if (claimed != present && !(t.has_raw_data() && claimed * DTypeBytes(dtype) ==
                                                       static_cast<int64_t>(t.raw_data().size())))
    return Error("{}: holds {} values but its dims {} need {}", what, present,
                 Shape(dtype, dims).ToString(), claimed);
  Literal lit(Shape(dtype, dims));
  const int64_t n = lit.num_elements();
  const int64_t bytes = lit.shape().byte_size();

  if (t.has_raw_data()) {
    const std::string& raw = t.raw_data();
    if (static_cast<int64_t>(raw.size()) != bytes)
      return Error("{}: raw_data has {} bytes, expected {} for {}", what, raw.size(), bytes,
                   lit.shape().ToString());
    if (!raw.empty()) std::memcpy(lit.mutable_bytes().data(), raw.data(), raw.size());
    if (dtype == DType::kPred)
      for (auto& b : lit.mutable_bytes()) b = b ? 1 : 0;
    return lit;
  }

  auto count_error = [&](int64_t got) {
    return Error("{}: has {} values, expected {} for {}", what, got, n, lit.shape().ToString());
  };
  switch (dtype) {
    case DType::kF32:
      if (t.float_data_size() != n) return count_error(t.float_data_size());
      for (int64_t i = 0; i < n; ++i) lit.data<float>()[i] = t.float_data(i);
      break;
    case DType::kS64:
      if (t.int64_data_size() != n) return count_error(t.int64_data_size());
      for (int64_t i = 0; i < n; ++i) lit.data<int64_t>()[i] = t.int64_data(i);
      break;
    case DType::kS32:
    case DType::kS8:
    case DType::kU8:
    case DType::kPred:
      if (t.int32_data_size() != n) return count_error(t.int32_data_size());
      for (int64_t i = 0; i < n; ++i) lit.SetFromInt64(i, dtype == DType::kPred ? (t.int32_data(i) != 0) : t.int32_data(i));
      break;
    case DType::kF16:
    case DType::kBF16:
      // Stored as their 16-bit patterns in int32_data.
      if (t.int32_data_size() != n) return count_error(t.int32_data_size());
      for (int64_t i = 0; i < n; ++i) lit.data<uint16_t>()[i] = static_cast<uint16_t>(t.int32_data(i));
      break;
  }
  return lit;
}

}  // namespace xtpu
