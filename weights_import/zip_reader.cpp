#include "weights_import/zip_reader.h"

#include <algorithm>
#include <array>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "libnn/core/check.h"

namespace weights_import {

namespace {

using nn::str;

constexpr std::uint32_t kLocalSig = 0x04034b50, kCentralSig = 0x02014b50, kEocdSig = 0x06054b50;
constexpr std::uint32_t kZip64EocdSig = 0x06064b50, kZip64LocatorSig = 0x07064b50;
constexpr std::uint64_t kLocalSize = 30, kCentralSize = 46, kEocdSize = 22, kZip64LocatorSize = 20,
                        kZip64EocdSize = 56, kMaxComment = 0xffff;
// Far above any checkpoint (one entry per storage) and small enough that the entry table stays cheap.
constexpr std::uint64_t kMaxEntries = 1u << 20;
constexpr std::uint16_t kZip64ExtraId = 0x0001;
constexpr std::uint32_t k32 = 0xffffffffu;
constexpr std::uint16_t k16 = 0xffffu;

// Little-endian reads at offsets the caller has bounds-checked.
std::uint64_t le(std::span<const std::uint8_t> b, std::uint64_t at, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | b[at + static_cast<std::uint64_t>(i)];
  return v;
}
std::uint16_t u16(std::span<const std::uint8_t> b, std::uint64_t at) { return static_cast<std::uint16_t>(le(b, at, 2)); }
std::uint32_t u32(std::span<const std::uint8_t> b, std::uint64_t at) { return static_cast<std::uint32_t>(le(b, at, 4)); }
std::uint64_t u64(std::span<const std::uint8_t> b, std::uint64_t at) { return le(b, at, 8); }

// [at, at + n) lies inside [0, limit), without overflow.
bool fits(std::uint64_t at, std::uint64_t n, std::uint64_t limit) { return at <= limit && n <= limit - at; }

// Entry names come from the file: control bytes are escaped so that a message stays one readable line.
std::string printable(std::string_view name) {
  std::string out;
  for (unsigned char c : name) {
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else {
      constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

constexpr std::array<std::array<std::uint32_t, 256>, 8> make_crc_tables() {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    t[0][i] = c;
  }
  for (std::uint32_t i = 0; i < 256; ++i)
    for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  return t;
}
constexpr auto kCrcTables = make_crc_tables();

// The zip64 extended-information extra field replaces, in this order, each 32-bit field that holds the
// 0xffffffff marker (and the 16-bit disk number holding 0xffff).
struct Zip64Fields {
  std::uint64_t* size;
  std::uint64_t* compressed;
  std::uint64_t* offset;  // nullptr in local headers
};

void apply_zip64_extra(std::span<const std::uint8_t> extra, const Zip64Fields& f, const std::string& where) {
  std::uint64_t at = 0;
  while (at + 4 <= extra.size()) {
    const std::uint16_t id = u16(extra, at), len = u16(extra, at + 2);
    NN_CHECK(fits(at + 4, len, extra.size()), where, ": extra field runs past its header");
    if (id == kZip64ExtraId) {
      std::uint64_t p = at + 4;
      for (std::uint64_t* v : {f.size, f.compressed, f.offset}) {
        if (v == nullptr || *v != k32) continue;
        NN_CHECK(p + 8 <= at + 4 + len, where, ": zip64 extra field is too short");
        *v = u64(extra, p);
        p += 8;
      }
      return;
    }
    at += 4 + len;
  }
  NN_CHECK(at == extra.size(), where, ": malformed extra fields");
  for (std::uint64_t* v : {f.size, f.compressed, f.offset})
    NN_CHECK(v == nullptr || *v != k32, where, ": 0xffffffff marker without a zip64 extra field");
}

struct Directory {
  std::uint64_t count = 0, offset = 0, size = 0;
  std::uint64_t limit = 0;  // where the central directory must end (the first end record)
};

Directory find_directory(std::span<const std::uint8_t> b, const std::string& src) {
  NN_CHECK(b.size() >= kEocdSize, src, ": zip: ", b.size(), " bytes is too short for a zip archive");
  // The end record is the last 22 bytes plus a comment of at most 64 KB; the comment length must reach the
  // end of the buffer exactly, which also rejects a truncated file.
  std::uint64_t eocd = b.size();
  const std::uint64_t lowest = b.size() - kEocdSize > kMaxComment ? b.size() - kEocdSize - kMaxComment : 0;
  for (std::uint64_t p = b.size() - kEocdSize + 1; p-- > lowest;) {
    if (u32(b, p) == kEocdSig && p + kEocdSize + u16(b, p + 20) == b.size()) {
      eocd = p;
      break;
    }
  }
  NN_CHECK(eocd != b.size(), src, ": zip: no end-of-central-directory record (not a zip archive, or truncated)");
  const std::uint16_t disk = u16(b, eocd + 4), cd_disk = u16(b, eocd + 6);
  const std::uint16_t on_disk = u16(b, eocd + 8), total = u16(b, eocd + 10);
  Directory d{total, u32(b, eocd + 16), u32(b, eocd + 12), eocd};
  if (eocd >= kZip64LocatorSize && u32(b, eocd - kZip64LocatorSize) == kZip64LocatorSig) {
    const std::uint64_t loc = eocd - kZip64LocatorSize;
    const std::uint64_t rec = u64(b, loc + 8);
    NN_CHECK(u32(b, loc + 4) == 0 && u32(b, loc + 16) <= 1, src, ": zip: multi-disk archives are not supported");
    NN_CHECK(fits(rec, kZip64EocdSize, loc), src, ": zip: zip64 end record offset ", rec, " is out of range");
    NN_CHECK(u32(b, rec) == kZip64EocdSig, src, ": zip: bad zip64 end record signature at offset ", rec);
    NN_CHECK(u32(b, rec + 16) == 0 && u32(b, rec + 20) == 0 && u64(b, rec + 24) == u64(b, rec + 32), src,
             ": zip: multi-disk archives are not supported");
    d = Directory{u64(b, rec + 32), u64(b, rec + 48), u64(b, rec + 40), rec};
  } else {
    NN_CHECK(total != k16 && d.offset != k32 && d.size != k32, src,
             ": zip: end record needs zip64 values but the archive has no zip64 end record");
    NN_CHECK(disk == 0 && cd_disk == 0 && on_disk == total, src, ": zip: multi-disk archives are not supported");
  }
  NN_CHECK(fits(d.offset, d.size, d.limit), src, ": zip: central directory [", d.offset, ", +", d.size,
           ") lies outside the archive (", b.size(), " bytes; truncated or corrupt)");
  NN_CHECK(d.count <= kMaxEntries && d.count <= d.size / kCentralSize, src, ": zip: ", d.count,
           " entries cannot fit a central directory of ", d.size, " bytes");
  return d;
}

// Checks the local header against the central directory's view of the entry and sets data_offset.
void check_local_header(std::span<const std::uint8_t> b, ZipEntry& e, std::uint16_t cd_method,
                        std::uint64_t data_limit, const std::string& where) {
  NN_CHECK(fits(e.header_offset, kLocalSize, data_limit), where, ": local header offset ", e.header_offset,
           " is out of range");
  const std::uint64_t h = e.header_offset;
  NN_CHECK(u32(b, h) == kLocalSig, where, ": bad local header signature at offset ", h);
  const std::uint16_t flags = u16(b, h + 6), method = u16(b, h + 8);
  const std::uint64_t name_len = u16(b, h + 26), extra_len = u16(b, h + 28);
  NN_CHECK(fits(h + kLocalSize, name_len + extra_len, data_limit), where, ": local header runs past the data");
  const std::string_view local_name(reinterpret_cast<const char*>(b.data() + h + kLocalSize), name_len);
  NN_CHECK(local_name == e.name, where, ": local header names \"", printable(local_name), "\"");
  NN_CHECK(method == cd_method, where, ": local header says method ", method, ", central directory ", cd_method);
  // With a data descriptor (flag bit 3, what torch writes) the local CRC and sizes are zero by design.
  if ((flags & 8) == 0) {
    std::uint64_t size = u32(b, h + 22), compressed = u32(b, h + 18);
    apply_zip64_extra(b.subspan(h + kLocalSize + name_len, extra_len), {&size, &compressed, nullptr}, where);
    NN_CHECK(size == e.size && compressed == e.size && u32(b, h + 14) == e.crc32, where,
             ": local header (size ", size, ", crc ", u32(b, h + 14), ") disagrees with the central directory (size ",
             e.size, ", crc ", e.crc32, ")");
  }
  e.data_offset = h + kLocalSize + name_len + extra_len;
  NN_CHECK(fits(e.data_offset, e.size, data_limit), where, ": data [", e.data_offset, ", +", e.size,
           ") runs past the end of the entries (truncated or corrupt archive)");
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WEIGHTS_IMPORT_CRC_FOLD 1
// CRC-32 of whole 16-byte blocks by carry-less multiplication (Gopal et al., "Fast CRC Computation for
// Generic Polynomials Using PCLMULQDQ Instruction", Intel 2009, with the bit-reflected constants of zip's
// polynomial): four 128-bit lanes fold 64 bytes per step, then one lane, then a Barrett reduction. Several
// times faster than the tables, which matters because every storage of a checkpoint is checked.
// c is the running (inverted) register; len >= 64 and a multiple of 16.
#define WEIGHTS_IMPORT_CLMUL __attribute__((target("pclmul,sse4.1")))
WEIGHTS_IMPORT_CLMUL inline __m128i load(const std::uint8_t* q) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
}
// x * x^N mod P for the constant pair k, added to the next block: one fold step.
WEIGHTS_IMPORT_CLMUL inline __m128i fold(__m128i x, __m128i k, __m128i next) {
  return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x11), _mm_clmulepi64_si128(x, k, 0x00)), next);
}

WEIGHTS_IMPORT_CLMUL std::uint32_t crc32_fold(const std::uint8_t* p, std::size_t len, std::uint32_t c) {
  const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);  // x^(4*128+32), x^(4*128-32) mod P
  const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);  // x^(128+32), x^(128-32) mod P
  const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);               // x^64 mod P
  const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641);  // P and its Barrett constant
  const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);
  __m128i x1 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(c)));
  __m128i x2 = load(p + 16), x3 = load(p + 32), x4 = load(p + 48);
  for (p += 64, len -= 64; len >= 64; p += 64, len -= 64) {
    x1 = fold(x1, k1k2, load(p));
    x2 = fold(x2, k1k2, load(p + 16));
    x3 = fold(x3, k1k2, load(p + 32));
    x4 = fold(x4, k1k2, load(p + 48));
  }
  x1 = fold(fold(fold(x1, k3k4, x2), k3k4, x3), k3k4, x4);
  for (; len >= 16; p += 16, len -= 16) x1 = fold(x1, k3k4, load(p));
  // 128 -> 64 -> 32 bits.
  x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), _mm_clmulepi64_si128(x1, k3k4, 0x10));
  x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00), _mm_srli_si128(x1, 4));
  __m128i x2b = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly, 0x10);
  x2b = _mm_clmulepi64_si128(_mm_and_si128(x2b, low32), poly, 0x00);
  return static_cast<std::uint32_t>(_mm_extract_epi32(_mm_xor_si128(x1, x2b), 1));
}

bool has_crc32_fold() {
  static const bool ok = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return ok;
}
#endif

}  // namespace

std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc) {
  const auto& t = kCrcTables;
  std::uint32_t c = ~crc;
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
#ifdef WEIGHTS_IMPORT_CRC_FOLD
  if (n >= 64 && has_crc32_fold()) {
    const std::size_t blocks = n & ~std::size_t{15};
    c = crc32_fold(p, blocks, c);
    p += blocks;
    n -= blocks;
  }
#endif
  for (; n >= 8; n -= 8, p += 8) {  // slicing-by-8: one table lookup per byte, eight independent chains
    const std::uint32_t lo = c ^ (p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^ t[3][p[4]] ^
        t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
  }
  for (; n > 0; --n, ++p) c = t[0][(c ^ *p) & 0xff] ^ (c >> 8);
  return ~c;
}

bool is_zip(std::span<const std::uint8_t> head) { return head.size() >= 4 && u32(head, 0) == kLocalSig; }

ZipReader::ZipReader(std::span<const std::uint8_t> bytes, std::string source)
    : bytes_(bytes), source_(std::move(source)) {
  const auto& b = bytes_;
  const std::string& src = source_;
  const Directory d = find_directory(b, src);
  entries_.reserve(d.count);
  std::uint64_t at = d.offset;
  const std::uint64_t cd_end = d.offset + d.size;
  for (std::uint64_t i = 0; i < d.count; ++i) {
    NN_CHECK(fits(at, kCentralSize, cd_end) && u32(b, at) == kCentralSig, src, ": zip: central directory entry ", i,
             " at offset ", at, " is missing or truncated");
    const std::uint16_t flags = u16(b, at + 8), method = u16(b, at + 10);
    const std::uint64_t name_len = u16(b, at + 28), extra_len = u16(b, at + 30), comment_len = u16(b, at + 32);
    NN_CHECK(fits(at + kCentralSize, name_len + extra_len + comment_len, cd_end), src,
             ": zip: central directory entry ", i, " runs past the directory");
    ZipEntry e;
    e.name.assign(reinterpret_cast<const char*>(b.data() + at + kCentralSize), name_len);
    const std::string where = str(src, ": zip entry \"", printable(e.name), "\"");
    e.crc32 = u32(b, at + 16);
    std::uint64_t compressed = u32(b, at + 20);
    e.size = u32(b, at + 24);
    e.header_offset = u32(b, at + 42);
    apply_zip64_extra(b.subspan(at + kCentralSize + name_len, extra_len), {&e.size, &compressed, &e.header_offset},
                      where);
    NN_CHECK((flags & 0x41) == 0, where, ": encrypted entries are not supported");
    NN_CHECK(method == 0, where, ": compressed with method ", method, method == 8 ? " (deflate)" : "",
             "; only stored (uncompressed) entries are supported, as torch.save writes them");
    NN_CHECK(compressed == e.size, where, ": stored entry with compressed size ", compressed, " != size ", e.size);
    check_local_header(b, e, method, d.offset, where);
    entries_.push_back(std::move(e));
    at += kCentralSize + name_len + extra_len + comment_len;
  }

  std::vector<const ZipEntry*> by_offset;
  for (const ZipEntry& e : entries_) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const ZipEntry* x, const ZipEntry* y) { return x->header_offset < y->header_offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i)
    NN_CHECK(by_offset[i - 1]->data_offset + by_offset[i - 1]->size <= by_offset[i]->header_offset, src,
             ": zip: entries \"", printable(by_offset[i - 1]->name), "\" and \"", printable(by_offset[i]->name),
             "\" overlap");

  by_name_.resize(entries_.size());
  for (std::size_t i = 0; i < by_name_.size(); ++i) by_name_[i] = i;
  std::sort(by_name_.begin(), by_name_.end(), [&](std::size_t x, std::size_t y) { return entries_[x].name < entries_[y].name; });
  for (std::size_t i = 1; i < by_name_.size(); ++i)
    NN_CHECK(entries_[by_name_[i - 1]].name != entries_[by_name_[i]].name, src, ": zip: duplicate entry \"",
             printable(entries_[by_name_[i]].name), "\"");
}

const ZipEntry* ZipReader::find(std::string_view name) const {
  auto it = std::lower_bound(by_name_.begin(), by_name_.end(), name,
                             [&](std::size_t i, std::string_view n) { return entries_[i].name < n; });
  return it != by_name_.end() && entries_[*it].name == name ? &entries_[*it] : nullptr;
}

std::span<const std::uint8_t> ZipReader::read(const ZipEntry& entry) const {
  const auto data = bytes_.subspan(entry.data_offset, entry.size);
  if (entry.crc32 != 0) {
    const std::uint32_t actual = crc32(data);
    NN_CHECK(actual == entry.crc32, source_, ": zip entry \"", printable(entry.name), "\": CRC-32 mismatch (stored ",
             entry.crc32, ", computed ", actual, "): the file is corrupt");
  }
  return data;
}

std::span<const std::uint8_t> ZipReader::read(std::string_view name) const {
  const ZipEntry* e = find(name);
  NN_CHECK(e != nullptr, source_, ": zip: no entry \"", printable(name), "\"");
  return read(*e);
}

}  // namespace weights_import
