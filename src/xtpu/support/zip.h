// Minimal ZIP archive reader and writer, enough for NumPy's .npz files.
//
// Reading accepts stored (method 0) and deflated (method 8) members, ZIP64
// end records and ZIP64 extra fields (np.savez writes them even for small
// files), and checks each member's CRC-32. Encrypted members, multi-disk
// archives and other methods are errors. Writing produces a plain stored
// (uncompressed) archive with a fixed timestamp, so output is reproducible.
// Archives are untrusted input: every offset and size is bounds-checked.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "xtpu/support/status.h"

namespace xtpu {

struct ZipMember {
  std::string name;
  std::string data;  // uncompressed contents
};

// Parses a whole archive held in memory. `name_for_errors` prefixes every
// error message ("<name>: <what is wrong>").
StatusOr<std::vector<ZipMember>> ReadZip(std::string_view archive, const std::string& name_for_errors);

// Serializes members as a stored archive. Fails (naming the member) when the
// archive would need ZIP64 (a member or the archive over 4 GiB).
StatusOr<std::string> WriteZip(const std::vector<ZipMember>& members);

}  // namespace xtpu
