// NumPy .npy/.npz reading and writing (format described in npy.h).
#include "xtpu/support/npy.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>

#include <sys/stat.h>

#include "xtpu/support/zip.h"

namespace xtpu {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

std::optional<DType> DTypeFromDescr(std::string_view d) {
  if (d.size() == 3 && (d[0] == '|' || d[0] == '<' || d[0] == '=')) {
    std::string_view t = d.substr(1);
    if (t == "b1") return DType::kPred;
    if (t == "i1") return DType::kS8;
    if (t == "u1") return DType::kU8;
  }
  if (d == "<i4") return DType::kS32;
  if (d == "<i8") return DType::kS64;
  if (d == "<f2") return DType::kF16;
  if (d == "<f4") return DType::kF32;
  return std::nullopt;
}

std::string_view DescrFor(DType t) {
  switch (t) {
    case DType::kPred: return "|b1";
    case DType::kS8: return "|i1";
    case DType::kU8: return "|u1";
    case DType::kS32: return "<i4";
    case DType::kS64: return "<i8";
    case DType::kF16: return "<f2";
    case DType::kBF16:  // written widened to f32; see npy.h
    case DType::kF32: return "<f4";
  }
  return "<f4";
}

// Explains an unsupported descr in words a NumPy user knows.
std::string UnsupportedDescr(std::string_view d) {
  std::string hint;
  if (d.size() >= 2 && d[0] == '>') hint = " (big-endian data is not supported; use arr.astype(arr.dtype.newbyteorder('<')))";
  else if (d == "<f8") hint = " (float64 is not supported; save arr.astype(np.float32))";
  else if (d == "<c8" || d == "<c16") hint = " (complex numbers are not supported)";
  else if (d == "<i2" || d == "<u2" || d == "<u4" || d == "<u8") hint = " (save as int32 or int64)";
  return fmt::format("unsupported dtype '{}'{}; supported: |b1 |i1 |u1 <i4 <i8 <f2 <f4", d, hint);
}

// Parser for the header: a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  explicit HeaderParser(std::string_view s) : s_(s) {}

  Status Parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    if (!Eat('{')) return Error("header is not a dict");
    while (true) {
      if (Eat('}')) break;
      std::string key;
      RETURN_IF_ERROR(String(key));
      if (!Eat(':')) return Error("header: expected ':' after '{}'", key);
      if (key == "descr") {
        // Structured dtypes are lists; only plain type strings are supported.
        if (Peek() != '\'' && Peek() != '"') return Error("structured dtypes are not supported");
        RETURN_IF_ERROR(String(descr));
        have_descr = true;
      } else if (key == "fortran_order") {
        if (Word("True")) fortran = true;
        else if (Word("False")) fortran = false;
        else return Error("header: fortran_order is not True or False");
        have_fortran = true;
      } else if (key == "shape") {
        RETURN_IF_ERROR(Tuple(shape));
        have_shape = true;
      } else {
        return Error("header: unexpected key '{}'", key);
      }
      if (Eat(',')) continue;
      if (Eat('}')) break;
      return Error("header: expected ',' or '}}'");
    }
    SkipSpace();
    if (pos_ != s_.size()) return Error("header: unexpected text after the dict");
    if (!have_descr || !have_fortran || !have_shape) {
      return Error("header lacks '{}'", !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    }
    return OkStatus();
  }

 private:
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  char Peek() {
    SkipSpace();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++pos_;
    return true;
  }
  bool Word(std::string_view w) {
    SkipSpace();
    if (s_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  Status String(std::string& out) {
    char q = Peek();
    if (q != '\'' && q != '"') return Error("header: expected a quoted string");
    size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) return Error("header: unterminated string");
    out = std::string(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return OkStatus();
  }
  Status Tuple(std::vector<int64_t>& dims) {
    if (!Eat('(')) return Error("header: shape is not a tuple");
    while (true) {
      if (Eat(')')) return OkStatus();
      SkipSpace();
      int64_t v = 0;
      size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
        if (v > (INT64_MAX - 9) / 10) return Error("header: dimension too large");
        v = v * 10 + (s_[pos_++] - '0');
      }
      if (pos_ == start) return Error("header: shape holds something other than non-negative integers");
      if (pos_ < s_.size() && s_[pos_] == 'L') ++pos_;  // Python 2 long suffix
      dims.push_back(v);
      if (Eat(',')) continue;
      if (Eat(')')) return OkStatus();
      return Error("header: bad shape tuple");
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

uint64_t LoadLe(std::string_view s, size_t pos, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s[pos + i]);
  return v;
}

StatusOr<Literal> ParseNpyImpl(std::string_view bytes) {
  size_t prefix = std::min(bytes.size(), kMagic.size());
  if (bytes.substr(0, prefix) != kMagic.substr(0, prefix)) return Error("bad magic: not a .npy file");
  if (bytes.size() < 10) return Error("truncated header (file is {} bytes)", bytes.size());
  int major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = LoadLe(bytes, 8, 2);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return Error("truncated header");
    header_len = LoadLe(bytes, 8, 4);
    header_start = 12;
  } else {
    return Error("unsupported .npy format version {}.{}", major, static_cast<uint8_t>(bytes[7]));
  }
  if (header_len > bytes.size() - header_start) {
    return Error("truncated header (declares {} bytes, {} present)", header_len, bytes.size() - header_start);
  }
  std::string_view header = bytes.substr(header_start, header_len);
  std::string descr;
  bool fortran = false;
  std::vector<int64_t> dims;
  RETURN_IF_ERROR(HeaderParser(header).Parse(descr, fortran, dims));
  if (fortran) return Error("fortran_order True is not supported; save np.ascontiguousarray(arr)");
  std::optional<DType> dtype = DTypeFromDescr(descr);
  if (!dtype) return Status::Error(UnsupportedDescr(descr));

  // Element count with overflow check before trusting the shape.
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d != 0 && n > (uint64_t{1} << 62) / static_cast<uint64_t>(d)) return Error("shape is too large");
    n *= static_cast<uint64_t>(d);
  }
  uint64_t want = n * static_cast<uint64_t>(DTypeBytes(*dtype));
  uint64_t have = bytes.size() - header_start - header_len;
  Shape shape(*dtype, dims);
  if (want != have) {
    return Error("data size mismatch: shape {} needs {} bytes, file holds {}", shape.ToString(), want, have);
  }
  std::string_view data = bytes.substr(header_start + header_len);
  std::vector<uint8_t> buf(data.begin(), data.end());
  if (*dtype == DType::kPred) {
    for (uint8_t& b : buf) b = b != 0;
  }
  return Literal(std::move(shape), std::move(buf));
}

}  // namespace

StatusOr<Literal> ParseNpy(std::string_view bytes, const std::string& name_for_errors) {
  StatusOr<Literal> r = ParseNpyImpl(bytes);
  if (!r.ok()) return r.status().WithPrefix(name_for_errors);
  return r;
}

std::string SerializeNpy(const Literal& value) {
  const Shape& shape = value.shape();
  std::string dims;
  for (size_t i = 0; i < shape.dims.size(); ++i) dims += fmt::format("{}{}", i ? ", " : "", shape.dims[i]);
  if (shape.dims.size() == 1) dims += ",";
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}", DescrFor(value.dtype()), dims);
  // Like NumPy: pad with spaces and end in '\n' so the data is 64-byte aligned.
  bool v2 = header.size() + 1 + 10 > 65535;
  size_t prefix = v2 ? 12 : 10;
  size_t total = (prefix + header.size() + 1 + 63) / 64 * 64;
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');

  std::string out(kMagic);
  out.push_back(static_cast<char>(v2 ? 2 : 1));
  out.push_back(0);
  for (int i = 0; i < (v2 ? 4 : 2); ++i) out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xff));
  out += header;
  if (value.dtype() == DType::kBF16) {
    const bf16* src = value.data<bf16>();
    std::string data(static_cast<size_t>(value.num_elements()) * 4, '\0');
    for (int64_t i = 0; i < value.num_elements(); ++i) {
      float f = src[i].ToFloat();
      std::memcpy(&data[static_cast<size_t>(i) * 4], &f, 4);
    }
    out += data;
  } else {
    out.append(reinterpret_cast<const char*>(value.bytes().data()), value.bytes().size());
  }
  return out;
}

StatusOr<std::string> ReadFileToString(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return NotFound("{}: cannot open: {}", path, std::strerror(errno));
  std::string out;
  // One read of the whole file when its size is known (executables and
  // weights run to hundreds of MB); then whatever follows (pipes, growth).
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    out.resize(static_cast<size_t>(st.st_size));
    out.resize(std::fread(out.data(), 1, out.size(), f));
  }
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  bool bad = std::ferror(f);
  int err = errno;
  std::fclose(f);
  // Reading a directory opens fine but fails here with EISDIR.
  if (bad) return Error("{}: cannot read: {}", path, std::strerror(err));
  return out;
}

Status WriteStringToFile(const std::string& path, std::string_view contents) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return Error("{}: cannot open for writing: {}", path, std::strerror(errno));
  size_t n = std::fwrite(contents.data(), 1, contents.size(), f);
  int err = errno;
  bool ok = n == contents.size();
  if (std::fclose(f) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) return Error("{}: write failed: {}", path, std::strerror(err));
  return OkStatus();
}

StatusOr<Literal> ReadNpy(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return ParseNpy(bytes, path);
}

Status WriteNpy(const std::string& path, const Literal& value) {
  return WriteStringToFile(path, SerializeNpy(value));
}

StatusOr<NamedLiterals> ReadNpz(const std::string& path) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  ASSIGN_OR_RETURN(std::vector<ZipMember> members, ReadZip(bytes, path));
  NamedLiterals out;
  for (ZipMember& m : members) {
    std::string key = m.name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    StatusOr<Literal> lit = ParseNpyImpl(m.data);
    if (!lit.ok()) return Error("{}: member '{}': {}", path, m.name, lit.status().message());
    for (const auto& [k, v] : out) {
      if (k == key) return Error("{}: array '{}' appears twice", path, key);
    }
    out.emplace_back(std::move(key), std::move(lit).value());
  }
  return out;
}

Status WriteNpz(const std::string& path, const NamedLiterals& values) {
  std::vector<ZipMember> members;
  for (const auto& [name, value] : values) members.push_back({name + ".npy", SerializeNpy(value)});
  StatusOr<std::string> archive = WriteZip(members);
  if (!archive.ok()) return archive.status().WithPrefix(path);
  return WriteStringToFile(path, *archive);
}

}  // namespace xtpu
