// NumPy .npy and .npz files <-> Literal.
//
// .npy versions 1.0, 2.0 and 3.0 are read; dtypes map as
//   |b1 pred, |i1 s8, |u1 u8, <i4 s32, <i8 s64, <f2 f16, <f4 f32
// (single-byte types are also accepted with '<' or '=' byte order). Only C
// order (fortran_order False) and little-endian data are accepted. NumPy has
// no bf16: WriteNpy stores a bf16 literal as <f4 (exact widening).
// .npz files may be written by np.savez or np.savez_compressed (stored or
// deflated members, ZIP64 extras); member names lose their ".npy" suffix.
// Every malformed input is an error naming the file and the problem, never a
// crash: these files are untrusted input.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xtpu/ir/literal.h"
#include "xtpu/support/status.h"

namespace xtpu {

using NamedLiterals = std::vector<std::pair<std::string, Literal>>;

StatusOr<Literal> ReadNpy(const std::string& path);
Status WriteNpy(const std::string& path, const Literal& value);

// Reads every array of an .npz archive, in archive order.
StatusOr<NamedLiterals> ReadNpz(const std::string& path);
// Writes a stored (uncompressed) .npz; key "x" becomes member "x.npy".
Status WriteNpz(const std::string& path, const NamedLiterals& values);

// In-memory forms, used by the file functions above and by tests.
// `name_for_errors` prefixes error messages.
StatusOr<Literal> ParseNpy(std::string_view bytes, const std::string& name_for_errors);
std::string SerializeNpy(const Literal& value);

// Whole-file helpers. A file that cannot be opened gives
// "<path>: cannot open: <strerror>" (e.g. "No such file or directory").
StatusOr<std::string> ReadFileToString(const std::string& path);
Status WriteStringToFile(const std::string& path, std::string_view contents);

}  // namespace xtpu
