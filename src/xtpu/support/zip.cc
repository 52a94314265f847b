// ZIP reader/writer for .npz files (see zip.h for what is supported).
#include "xtpu/support/zip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace xtpu {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kZip64EndSize = 56;

// Little-endian reads at a checked position of the archive.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  bool Has(uint64_t pos, uint64_t n) const { return pos <= s_.size() && n <= s_.size() - pos; }
  uint64_t Le(uint64_t pos, int n) const {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(s_[pos + i]);
    return v;
  }
  uint16_t U16(uint64_t pos) const { return static_cast<uint16_t>(Le(pos, 2)); }
  uint32_t U32(uint64_t pos) const { return static_cast<uint32_t>(Le(pos, 4)); }
  uint64_t U64(uint64_t pos) const { return Le(pos, 8); }
  std::string_view Sub(uint64_t pos, uint64_t n) const { return s_.substr(pos, n); }
  uint64_t size() const { return s_.size(); }

 private:
  std::string_view s_;
};

struct CentralEntry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_offset = 0;
};

// Applies the ZIP64 extended-information extra field (id 1): each 32-bit
// field that is 0xFFFFFFFF is replaced by the next 64-bit value, in order.
Status ApplyZip64Extra(std::string_view extra, CentralEntry& e, bool need_u, bool need_c,
                       bool need_off) {
  Reader r(extra);
  uint64_t pos = 0;
  while (r.Has(pos, 4)) {
    uint16_t id = r.U16(pos), len = r.U16(pos + 2);
    if (!r.Has(pos + 4, len)) return Error("member '{}': truncated extra field", e.name);
    if (id == 1) {
      uint64_t p = pos + 4, end = pos + 4 + len;
      auto take = [&](uint64_t& field) -> bool {
        if (p + 8 > end) return false;
        field = r.U64(p);
        p += 8;
        return true;
      };
      if ((need_u && !take(e.uncompressed_size)) || (need_c && !take(e.compressed_size)) ||
          (need_off && !take(e.local_offset))) {
        return Error("member '{}': ZIP64 extra field too short", e.name);
      }
      return OkStatus();
    }
    pos += 4 + len;
  }
  if (need_u || need_c || need_off) return Error("member '{}': missing ZIP64 extra field", e.name);
  return OkStatus();
}

StatusOr<std::string> Inflate(std::string_view in, uint64_t expected_size, const std::string& member) {
  if (expected_size > (uint64_t{1} << 40)) return Error("member '{}': size {} is too large", member, expected_size);
  std::string out(static_cast<size_t>(expected_size), '\0');
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return Error("member '{}': cannot initialize zlib", member);
  int rc = Z_OK;
  size_t in_done = 0, out_done = 0;
  // zlib counts in uInt; feed in chunks so multi-GiB members also work.
  while (rc == Z_OK) {
    size_t in_chunk = std::min<size_t>(in.size() - in_done, UINT_MAX);
    size_t out_chunk = std::min<size_t>(out.size() - out_done, UINT_MAX);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + in_done));
    zs.avail_in = static_cast<uInt>(in_chunk);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + out_done);
    zs.avail_out = static_cast<uInt>(out_chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    in_done += in_chunk - zs.avail_in;
    out_done += out_chunk - zs.avail_out;
    if (rc == Z_OK && zs.avail_in == in_chunk && zs.avail_out == out_chunk) rc = Z_BUF_ERROR;  // no progress
    if (rc == Z_OK && in_done == in.size() && out_done == out.size()) {
      // Everything consumed and produced but no end marker yet: one more call
      // with nothing left tells whether the stream ends here.
      zs.avail_in = 0;
      zs.avail_out = 0;
      rc = inflate(&zs, Z_FINISH);
      if (rc != Z_STREAM_END) rc = Z_DATA_ERROR;
    }
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return Error("member '{}': corrupt deflate data", member);
  if (out_done != out.size()) return Error("member '{}': deflate data shorter than its declared size", member);
  return out;
}

void Put16(std::string& s, uint32_t v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>((v >> 8) & 0xff));
}
void Put32(std::string& s, uint32_t v) {
  Put16(s, v & 0xffff);
  Put16(s, v >> 16);
}

}  // namespace

StatusOr<std::vector<ZipMember>> ReadZip(std::string_view archive, const std::string& name_for_errors) {
  auto fail = [&](const std::string& what) { return Status::Error(name_for_errors + ": " + what); };
  Reader r(archive);
  if (r.size() < kEndSize) return fail("not a zip archive (too short)");

  // The end-of-central-directory record sits in the last 22 + 65535 bytes.
  uint64_t end_pos = UINT64_MAX;
  uint64_t lowest = r.size() > kEndSize + 65535 ? r.size() - kEndSize - 65535 : 0;
  for (uint64_t p = r.size() - kEndSize + 1; p-- > lowest;) {
    if (r.U32(p) == kEndSig && p + kEndSize + r.U16(p + 20) <= r.size()) {
      end_pos = p;
      break;
    }
  }
  if (end_pos == UINT64_MAX) return fail("not a zip archive (no end of central directory record)");
  if (r.U16(end_pos + 4) != 0 || r.U16(end_pos + 6) != 0) return fail("multi-disk zip archives are not supported");
  uint64_t count = r.U16(end_pos + 10);
  uint64_t cd_size = r.U32(end_pos + 12);
  uint64_t cd_offset = r.U32(end_pos + 16);

  if (count == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
    if (end_pos < kZip64LocatorSize || r.U32(end_pos - kZip64LocatorSize) != kZip64LocatorSig) {
      return fail("ZIP64 end of central directory locator missing");
    }
    uint64_t z64 = r.U64(end_pos - kZip64LocatorSize + 8);
    if (!r.Has(z64, kZip64EndSize) || r.U32(z64) != kZip64EndSig) {
      return fail("bad ZIP64 end of central directory record");
    }
    count = r.U64(z64 + 32);
    cd_size = r.U64(z64 + 40);
    cd_offset = r.U64(z64 + 48);
  }
  if (!r.Has(cd_offset, cd_size)) return fail("central directory lies outside the file (truncated?)");
  if (count > cd_size / kCentralHeaderSize) return fail("central directory too small for its entry count");

  std::vector<ZipMember> members;
  uint64_t pos = cd_offset, cd_end = cd_offset + cd_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (pos + kCentralHeaderSize > cd_end || r.U32(pos) != kCentralHeaderSig) {
      return fail(fmt::format("bad central directory entry {}", i));
    }
    CentralEntry e;
    e.flags = r.U16(pos + 8);
    e.method = r.U16(pos + 10);
    e.crc = r.U32(pos + 16);
    e.compressed_size = r.U32(pos + 20);
    e.uncompressed_size = r.U32(pos + 24);
    uint16_t name_len = r.U16(pos + 28), extra_len = r.U16(pos + 30), comment_len = r.U16(pos + 32);
    e.local_offset = r.U32(pos + 42);
    uint64_t var = pos + kCentralHeaderSize;
    if (var + name_len + extra_len + comment_len > cd_end) {
      return fail(fmt::format("central directory entry {} runs past the directory", i));
    }
    e.name = std::string(r.Sub(var, name_len));
    Status st = ApplyZip64Extra(r.Sub(var + name_len, extra_len), e, e.uncompressed_size == 0xffffffff,
                                e.compressed_size == 0xffffffff, e.local_offset == 0xffffffff);
    if (!st.ok()) return fail(st.message());
    pos = var + name_len + extra_len + comment_len;

    if (e.flags & 1) return fail(fmt::format("member '{}' is encrypted", e.name));
    if (e.method != 0 && e.method != 8) {
      return fail(fmt::format("member '{}' uses compression method {} (only stored and deflate are supported)",
                              e.name, e.method));
    }
    // The local header repeats name and extra, with lengths of its own.
    uint64_t lh = e.local_offset;
    if (!r.Has(lh, kLocalHeaderSize) || r.U32(lh) != kLocalHeaderSig) {
      return fail(fmt::format("member '{}': bad local header", e.name));
    }
    uint64_t data_pos = lh + kLocalHeaderSize + r.U16(lh + 26) + r.U16(lh + 28);
    if (!r.Has(data_pos, e.compressed_size)) return fail(fmt::format("member '{}': data truncated", e.name));
    std::string_view raw = r.Sub(data_pos, e.compressed_size);

    ZipMember m;
    m.name = e.name;
    if (e.method == 0) {
      if (e.compressed_size != e.uncompressed_size) {
        return fail(fmt::format("member '{}': stored sizes differ", e.name));
      }
      m.data = std::string(raw);
    } else {
      auto inflated = Inflate(raw, e.uncompressed_size, e.name);
      if (!inflated.ok()) return fail(inflated.status().message());
      m.data = std::move(inflated).value();
    }
    uLong crc = crc32_z(0L, reinterpret_cast<const Bytef*>(m.data.data()), m.data.size());
    if (crc != e.crc) return fail(fmt::format("member '{}': CRC-32 mismatch (corrupt data)", e.name));
    members.push_back(std::move(m));
  }
  return members;
}

StatusOr<std::string> WriteZip(const std::vector<ZipMember>& members) {
  constexpr uint64_t kLimit = 0xffffffffu;
  constexpr uint32_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01, the DOS epoch
  std::string out, central;
  for (const ZipMember& m : members) {
    if (m.data.size() >= kLimit || out.size() >= kLimit || m.name.size() > 0xffff) {
      return Error("cannot write zip member '{}': archives over 4 GiB are not supported", m.name);
    }
    uint32_t crc = static_cast<uint32_t>(
        crc32_z(0L, reinterpret_cast<const Bytef*>(m.data.data()), m.data.size()));
    uint32_t offset = static_cast<uint32_t>(out.size());
    uint32_t size = static_cast<uint32_t>(m.data.size());

    Put32(out, kLocalHeaderSig);
    Put16(out, 20);  // version needed: 2.0
    Put16(out, 0);   // flags
    Put16(out, 0);   // method: stored
    Put16(out, 0);   // time
    Put16(out, kDosDate);
    Put32(out, crc);
    Put32(out, size);
    Put32(out, size);
    Put16(out, static_cast<uint32_t>(m.name.size()));
    Put16(out, 0);  // extra length
    out += m.name;
    out += m.data;

    Put32(central, kCentralHeaderSig);
    Put16(central, 20);  // version made by
    Put16(central, 20);  // version needed
    Put16(central, 0);
    Put16(central, 0);
    Put16(central, 0);
    Put16(central, kDosDate);
    Put32(central, crc);
    Put32(central, size);
    Put32(central, size);
    Put16(central, static_cast<uint32_t>(m.name.size()));
    Put16(central, 0);  // extra
    Put16(central, 0);  // comment
    Put16(central, 0);  // disk
    Put16(central, 0);  // internal attributes
    Put32(central, 0);  // external attributes
    Put32(central, offset);
    central += m.name;
  }
  if (out.size() + central.size() >= kLimit || members.size() >= 0xffff) {
    return Error("cannot write zip archive: over 4 GiB or 65535 members is not supported");
  }
  uint32_t cd_offset = static_cast<uint32_t>(out.size());
  out += central;
  Put32(out, kEndSig);
  Put16(out, 0);
  Put16(out, 0);
  Put16(out, static_cast<uint32_t>(members.size()));
  Put16(out, static_cast<uint32_t>(members.size()));
  Put32(out, static_cast<uint32_t>(central.size()));
  Put32(out, cd_offset);
  Put16(out, 0);  // comment length
  return out;
}

}  // namespace xtpu
