// .xtpu executables: binary layout and checks (see executable.h and
// docs/executable.md). Decoding works on a string_view of the file and
// checks every length against what remains before copying anything; the
// checks on field values are shared with SerializeExecutable, so a file that
// saves always loads.
#include "xtpu/runtime/executable.h"

#include <fmt/ranges.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <array>
#include <cctype>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "xtpu/chip/chip.h"
#include "xtpu/isa/encoding.h"
#include "xtpu/sim/simulator.h"
#include "xtpu/support/npy.h"

namespace xtpu::runtime {
namespace {

#define XTPU_COUNT_DTYPE(e, name, bytes) +1
constexpr int kNumDTypes = 0 XTPU_DTYPES(XTPU_COUNT_DTYPE);
#undef XTPU_COUNT_DTYPE

// Section tags, in the order SerializeExecutable writes them.
constexpr std::array<std::string_view, 6> kSectionTags = {"HEAD", "CHIP", "PROG", "CNST", "SIGS", "META"};
enum SectionId { kHead, kChip, kProg, kConst, kSigs, kMeta };

constexpr size_t kPreambleBytes = 12;       // magic + format version
constexpr size_t kSectionHeaderBytes = 12;  // tag + length
constexpr size_t kCrcBytes = 4;

uint32_t Crc32(std::string_view bytes) {
  return static_cast<uint32_t>(crc32_z(0L, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

// A name as it appears in an error message: quoted, non-printable bytes as
// \xNN, long names cut, so that every message stays one readable line.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < 64; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (std::isprint(c) && c != '\'' && c != '\\')
      out += static_cast<char>(c);
    else
      out += fmt::format("\\x{:02x}", c);
  }
  if (s.size() > 64) out += "...";
  return out + "'";
}

std::string DimsText(const std::vector<int64_t>& dims) { return fmt::format("[{}]", fmt::join(dims, ",")); }

bool ValidDType(DType t) { return static_cast<int>(t) < kNumDTypes; }
std::string DTypeText(DType t) {
  return ValidDType(t) ? std::string(DTypeName(t)) : fmt::format("<invalid dtype {}>", static_cast<int>(t));
}

// ---- Writing ---------------------------------------------------------------

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Raw(std::string_view s) { out_.append(s); }
  void Str(std::string_view s) {  // callers check s.size() < kMaxExecutableNameBytes
    U32(static_cast<uint32_t>(s.size()));
    Raw(s);
  }
  void Section(SectionId tag, std::string_view payload) {
    Raw(kSectionTags[tag]);
    U64(payload.size());
    Raw(payload);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

void WriteSignature(Writer& w, const TensorSignature& s) {
  w.Str(s.name);
  w.U8(static_cast<uint8_t>(s.model_dtype));
  w.Str(s.buffer);
  w.U8(static_cast<uint8_t>(s.chip_dtype));
  w.U32(static_cast<uint32_t>(s.dims.size()));
  for (int64_t d : s.dims) w.U64(static_cast<uint64_t>(d));
}

// ---- Reading ---------------------------------------------------------------

// Reads one section's payload; errors name the section and the field.
class Reader {
 public:
  Reader(std::string_view bytes, std::string_view section) : s_(bytes), section_(section) {}

  StatusOr<std::string_view> Bytes(uint64_t n, std::string_view field) {
    if (n > remaining())
      return Error("section {}: {} needs {} bytes but only {} remain", section_, field, n, remaining());
    std::string_view v = s_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  StatusOr<uint64_t> UInt(int bytes, std::string_view field) {
    ASSIGN_OR_RETURN(std::string_view raw, Bytes(bytes, field));
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(raw[i]);
    return v;
  }
  StatusOr<std::string> Str(std::string_view field) {
    ASSIGN_OR_RETURN(uint64_t n, UInt(4, field));
    if (n >= kMaxExecutableNameBytes)
      return Error("section {}: {} is {} bytes long (at most {})", section_, field, n, kMaxExecutableNameBytes - 1);
    ASSIGN_OR_RETURN(std::string_view v, Bytes(n, field));
    return std::string(v);
  }
  StatusOr<DType> Type(std::string_view field) {
    ASSIGN_OR_RETURN(uint64_t v, UInt(1, field));
    if (v >= static_cast<uint64_t>(kNumDTypes))
      return Error("section {}: {} {} is not a valid dtype", section_, field, v);
    return static_cast<DType>(v);
  }
  // A count of entries, each at least `min_entry_bytes` long: bounded by
  // what remains, so that no reserve can exceed the file.
  StatusOr<uint32_t> Count(size_t min_entry_bytes, std::string_view field) {
    ASSIGN_OR_RETURN(uint64_t n, UInt(4, field));
    if (n > remaining() / min_entry_bytes)
      return Error("section {}: {} {} does not fit in the {} bytes that remain", section_, field, n, remaining());
    return static_cast<uint32_t>(n);
  }
  Status ExpectEnd() {
    if (remaining() != 0) return Error("section {}: {} unexpected bytes at its end", section_, remaining());
    return OkStatus();
  }
  size_t remaining() const { return s_.size() - pos_; }

 private:
  std::string_view s_;
  std::string_view section_;
  size_t pos_ = 0;
};

StatusOr<TensorSignature> ReadSignature(Reader& r, const std::string& what) {
  TensorSignature s;
  ASSIGN_OR_RETURN(s.name, r.Str(what + " name"));
  ASSIGN_OR_RETURN(s.model_dtype, r.Type(what + " model_dtype"));
  ASSIGN_OR_RETURN(s.buffer, r.Str(what + " buffer"));
  ASSIGN_OR_RETURN(s.chip_dtype, r.Type(what + " chip_dtype"));
  ASSIGN_OR_RETURN(uint32_t rank, r.Count(8, what + " rank"));
  s.dims.resize(rank);
  for (int64_t& d : s.dims) {
    ASSIGN_OR_RETURN(uint64_t v, r.UInt(8, what + " dimension"));
    d = static_cast<int64_t>(v);
  }
  return s;
}

// Smallest encoded signature: two empty strings, two dtypes, a rank.
constexpr size_t kMinSignatureBytes = 4 + 1 + 4 + 1 + 4;
// Smallest encoded constant: an empty name and a byte count.
constexpr size_t kMinConstantBytes = 4 + 8;

Status ReadHeader(std::string_view payload, Executable& e) {
  Reader r(payload, "HEAD");
  ASSIGN_OR_RETURN(e.compiler_version, r.Str("compiler_version"));
  ASSIGN_OR_RETURN(e.chip_name, r.Str("chip_name"));
  ASSIGN_OR_RETURN(e.precision, r.Str("precision"));
  return r.ExpectEnd();
}

Status ReadConstants(std::string_view payload, Executable& e) {
  Reader r(payload, "CNST");
  ASSIGN_OR_RETURN(uint32_t n, r.Count(kMinConstantBytes, "constant count"));
  e.constants.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    ConstantData& c = e.constants[i];
    std::string what = fmt::format("constant {}", i);
    ASSIGN_OR_RETURN(c.buffer, r.Str(what + " buffer"));
    ASSIGN_OR_RETURN(uint64_t size, r.UInt(8, what + " byte count"));
    ASSIGN_OR_RETURN(std::string_view bytes, r.Bytes(size, fmt::format("constant {}", Quote(c.buffer))));
    c.bytes = std::string(bytes);
  }
  return r.ExpectEnd();
}

Status ReadSignatures(std::string_view payload, Executable& e) {
  Reader r(payload, "SIGS");
  for (auto [list, kind] : {std::pair{&e.inputs, "input"}, std::pair{&e.outputs, "output"}}) {
    ASSIGN_OR_RETURN(uint32_t n, r.Count(kMinSignatureBytes, fmt::format("{} count", kind)));
    list->reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(TensorSignature s, ReadSignature(r, fmt::format("{} {}", kind, i)));
      list->push_back(std::move(s));
    }
  }
  return r.ExpectEnd();
}

// ---- Checks shared by writing and reading ----------------------------------

Status CheckName(std::string_view what, std::string_view name) {
  if (name.empty()) return Error("{} is empty", what);
  if (name.size() >= kMaxExecutableNameBytes)
    return Error("{} {} is {} bytes long (at most {})", what, Quote(name), name.size(), kMaxExecutableNameBytes - 1);
  return OkStatus();
}

Status CheckSignatures(const std::vector<TensorSignature>& list, std::string_view kind, const isa::Program& p) {
  for (size_t i = 0; i < list.size(); ++i) {
    const TensorSignature& s = list[i];
    RETURN_IF_ERROR(CheckName(fmt::format("{} {} name", kind, i), s.name));
    std::string what = fmt::format("{} {}", kind, Quote(s.name));
    RETURN_IF_ERROR(CheckName(what + " buffer name", s.buffer));
    if (!ValidDType(s.model_dtype)) return Error("{}: model_dtype {} is not valid", what, DTypeText(s.model_dtype));
    if (!ValidDType(s.chip_dtype)) return Error("{}: chip_dtype {} is not valid", what, DTypeText(s.chip_dtype));
    int64_t elements = 1;
    for (int64_t d : s.dims) {
      if (d < 0) return Error("{}: negative dimension {} in {}", what, d, DimsText(s.dims));
      if (d > 0 && elements > std::numeric_limits<int64_t>::max() / 8 / d)
        return Error("{}: dims {} have too many elements", what, DimsText(s.dims));
      elements *= d;
    }
    const isa::BufferDecl* b = p.FindBuffer(s.buffer);
    if (b == nullptr) return Error("{}: buffer {} is not in the program", what, Quote(s.buffer));
    if (b->mem != isa::MemSpace::kHbm) return Error("{}: buffer {} is in VMEM, not HBM", what, Quote(s.buffer));
    if (b->shape.dims != s.dims)
      return Error("{}: dims {} differ from buffer {} dims {}", what, DimsText(s.dims), Quote(s.buffer),
                   DimsText(b->shape.dims));
    if (b->shape.dtype != s.chip_dtype)
      return Error("{}: chip_dtype {} differs from buffer {} dtype {}", what, DTypeText(s.chip_dtype), Quote(s.buffer),
                   DTypeName(b->shape.dtype));
    for (size_t j = 0; j < i; ++j) {
      if (list[j].name == s.name) return Error("{} appears twice", what);
      if (list[j].buffer == s.buffer)
        return Error("{}s {} and {} share buffer {}", kind, Quote(list[j].name), Quote(s.name), Quote(s.buffer));
    }
  }
  return OkStatus();
}

// Every check of DeserializeExecutable that is about field values rather
// than the encoding. Messages name the field but not the file.
Status CheckExecutable(const Executable& e) {
  RETURN_IF_ERROR(CheckName("compiler_version", e.compiler_version));
  RETURN_IF_ERROR(CheckName("chip_name", e.chip_name));
  if (e.precision != "default" && e.precision != "high" && e.precision != "highest")
    return Error("precision {} is not one of default, high, highest", Quote(e.precision));
  if (!nlohmann::json::accept(e.metadata_json)) return Error("metadata is not valid JSON");

  StatusOr<ChipConfig> chip = LoadChipFromString(e.chip_toml, "chip_toml");
  if (!chip.ok()) {
    // Chip errors may list several problems, one a line; the first one names
    // the file position.
    std::string m = chip.status().message();
    return Error("{}", m.substr(0, m.find('\n')));
  }
  if (chip->name != e.chip_name)
    return Error("chip_name {} differs from the name in chip_toml {}", Quote(e.chip_name), Quote(chip->name));
  RETURN_IF_ERROR(sim::CheckProgramForChip(e.program, *chip).WithPrefix("program"));

  const isa::Program& p = e.program;
  for (size_t i = 0; i < e.constants.size(); ++i) {
    const ConstantData& c = e.constants[i];
    RETURN_IF_ERROR(CheckName(fmt::format("constant {} buffer name", i), c.buffer));
    const isa::BufferDecl* b = p.FindBuffer(c.buffer);
    if (b == nullptr) return Error("constant {}: its buffer is not in the program", Quote(c.buffer));
    if (static_cast<int64_t>(c.bytes.size()) != b->shape.byte_size())
      return Error("constant {} has {} bytes, its buffer {} needs {}", Quote(c.buffer), c.bytes.size(), Quote(c.buffer),
                   b->shape.byte_size());
    for (size_t j = 0; j < i; ++j)
      if (e.constants[j].buffer == c.buffer) return Error("constant {} appears twice", Quote(c.buffer));
    for (const TensorSignature& s : e.inputs)
      if (s.buffer == c.buffer)
        return Error("buffer {} is both a constant and input {}", Quote(c.buffer), Quote(s.name));
  }
  RETURN_IF_ERROR(CheckSignatures(e.inputs, "input", p));
  RETURN_IF_ERROR(CheckSignatures(e.outputs, "output", p));
  return OkStatus();
}

StatusOr<std::string> SerializeChecked(const Executable& e) {
  StatusOr<std::string> program = isa::Encode(e.program);
  if (!program.ok()) return program.status().WithPrefix("program");
  // Decode checks what Encode does not (e.g. the characters of buffer
  // names): a file that saves must load.
  StatusOr<isa::Program> decoded = isa::Decode(*program);
  if (!decoded.ok()) return decoded.status().WithPrefix("program");
  Writer head;
  head.Str(e.compiler_version);
  head.Str(e.chip_name);
  head.Str(e.precision);

  Writer constants;
  constants.U32(static_cast<uint32_t>(e.constants.size()));
  for (const ConstantData& c : e.constants) {
    constants.Str(c.buffer);
    constants.U64(c.bytes.size());
    constants.Raw(c.bytes);
  }

  Writer sigs;
  for (const auto* list : {&e.inputs, &e.outputs}) {
    sigs.U32(static_cast<uint32_t>(list->size()));
    for (const TensorSignature& s : *list) WriteSignature(sigs, s);
  }

  Writer w;
  w.Raw(kExecutableMagic);
  w.U32(kExecutableFormatVersion);
  w.Section(kHead, head.Take());
  w.Section(kChip, e.chip_toml);
  w.Section(kProg, *program);
  w.Section(kConst, constants.Take());
  w.Section(kSigs, sigs.Take());
  w.Section(kMeta, e.metadata_json);
  std::string out = w.Take();
  uint32_t crc = Crc32(out);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(crc >> (8 * i)));
  return out;
}

uint64_t LoadLE(std::string_view bytes, size_t pos, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(bytes[pos + i]);
  return v;
}

// Magic, version, CRC and section framing; fills `sections` with each
// section's payload.
Status ReadFraming(std::string_view bytes, std::array<std::optional<std::string_view>, 6>& sections) {
  if (bytes.size() < kExecutableMagic.size())
    return Error("file is {} bytes long, too short to be an xtpu executable", bytes.size());
  if (bytes.substr(0, kExecutableMagic.size()) != kExecutableMagic) {
    if (isa::LooksLikeProgramBinary(bytes))
      return Error("not an xtpu executable: this is a program binary (magic XTPUPROG), not a compiled model");
    return Error("not an xtpu executable (the file does not start with XTPUEXEC)");
  }
  if (bytes.size() < kPreambleBytes) return Error("truncated: the format version is missing");
  uint32_t version = static_cast<uint32_t>(LoadLE(bytes, 8, 4));
  if (version > kExecutableFormatVersion)
    return Error("written by a newer xtpu (format {}); this is format {}", version, kExecutableFormatVersion);
  if (version != kExecutableFormatVersion)
    return Error("format version {} is not supported; this is format {}", version, kExecutableFormatVersion);
  if (bytes.size() < kPreambleBytes + kCrcBytes) return Error("truncated: the CRC at the end is missing");
  const size_t end = bytes.size() - kCrcBytes;
  uint32_t stored = static_cast<uint32_t>(LoadLE(bytes, end, 4));
  uint32_t computed = Crc32(bytes.substr(0, end));
  if (stored != computed)
    return Error("CRC mismatch (stored {:#010x}, computed {:#010x}): the file is corrupt or truncated", stored,
                 computed);

  size_t pos = kPreambleBytes;
  while (pos < end) {
    if (end - pos < kSectionHeaderBytes)
      return Error("truncated section header at byte {} ({} bytes before the CRC)", pos, end - pos);
    std::string_view tag = bytes.substr(pos, 4);
    uint64_t length = LoadLE(bytes, pos + 4, 8);
    pos += kSectionHeaderBytes;
    size_t index = 0;
    while (index < kSectionTags.size() && kSectionTags[index] != tag) ++index;
    if (index == kSectionTags.size())
      return Error("unknown section tag {} at byte {}", Quote(tag), pos - kSectionHeaderBytes);
    if (sections[index]) return Error("section {} appears twice", tag);
    if (length > end - pos)
      return Error("section {} claims {} bytes but only {} remain before the CRC", tag, length, end - pos);
    sections[index] = bytes.substr(pos, length);
    pos += length;
  }
  for (size_t i = 0; i < kSectionTags.size(); ++i)
    if (!sections[i]) return Error("section {} is missing", kSectionTags[i]);
  return OkStatus();
}

StatusOr<Executable> Deserialize(std::string_view bytes, const std::string& source_name) {
  std::array<std::optional<std::string_view>, 6> sections;
  RETURN_IF_ERROR(ReadFraming(bytes, sections));
  Executable e;
  RETURN_IF_ERROR(ReadHeader(*sections[kHead], e));
  e.chip_toml = std::string(*sections[kChip]);
  StatusOr<isa::Program> program = isa::Decode(*sections[kProg]);
  if (!program.ok()) return program.status().WithPrefix("section PROG");
  e.program = std::move(program).value();
  e.program.source_name = source_name;
  RETURN_IF_ERROR(ReadConstants(*sections[kConst], e));
  RETURN_IF_ERROR(ReadSignatures(*sections[kSigs], e));
  e.metadata_json = std::string(*sections[kMeta]);
  RETURN_IF_ERROR(CheckExecutable(e));
  return e;
}

}  // namespace

StatusOr<std::string> SerializeExecutable(const Executable& e) {
  Status s = CheckExecutable(e);
  if (!s.ok()) return s.WithPrefix("executable");
  StatusOr<std::string> bytes = SerializeChecked(e);
  if (!bytes.ok()) return bytes.status().WithPrefix("executable");
  return bytes;
}

StatusOr<Executable> DeserializeExecutable(std::string_view bytes, const std::string& source_name) {
  StatusOr<Executable> e = Deserialize(bytes, source_name);
  if (!e.ok()) return e.status().WithPrefix(source_name);
  return e;
}

Status SaveExecutable(const Executable& e, const std::string& path) {
  Status s = CheckExecutable(e);
  if (!s.ok()) return s.WithPrefix(path);
  StatusOr<std::string> bytes = SerializeChecked(e);
  if (!bytes.ok()) return bytes.status().WithPrefix(path);
  return WriteStringToFile(path, *bytes);
}

StatusOr<Executable> LoadExecutable(const std::string& path) {
  // A regular file is mapped rather than read: executables carry their
  // weights (tens to hundreds of MB), and a read would first zero-fill and
  // then copy all of them once more than deserializing does.
  int fd = ::open(path.c_str(), O_RDONLY);
  struct stat st;
  if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (p != MAP_FAILED) {
      StatusOr<Executable> e =
          DeserializeExecutable(std::string_view(static_cast<const char*>(p), static_cast<size_t>(st.st_size)), path);
      ::munmap(p, static_cast<size_t>(st.st_size));
      return e;
    }
  } else if (fd >= 0) {
    ::close(fd);
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));  // (pipes, errors with the usual message)
  return DeserializeExecutable(bytes, path);
}

}  // namespace xtpu::runtime
