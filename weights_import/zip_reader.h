// Read-only zip archives in memory, for the files torch.save writes: stored (uncompressed) entries, zip64
// records when offsets or sizes pass 4 GB, data descriptors. The central directory is the authority; every
// offset and size in it is checked against the buffer and the local headers must agree with it, so a hostile
// archive fails with an nn::Error naming the source and the entry, never a crash or an oversized allocation.
// Compressed entries are refused rather than inflated: torch never writes them, and it rules out zip bombs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weights_import {

struct ZipEntry {
  std::string name;
  std::uint64_t header_offset = 0;  // of the local header
  std::uint64_t data_offset = 0;    // of the entry's bytes in the buffer
  std::uint64_t size = 0;
  std::uint32_t crc32 = 0;
};

class ZipReader {
 public:
  // Parses and validates the whole central directory; bytes must outlive the reader.
  ZipReader(std::span<const std::uint8_t> bytes, std::string source);

  const std::string& source() const { return source_; }
  const std::vector<ZipEntry>& entries() const { return entries_; }  // in central-directory order
  const ZipEntry* find(std::string_view name) const;                  // nullptr when absent

  // The entry's bytes (a view into the buffer), after checking their CRC-32. A recorded CRC of 0 is not
  // checked: torch writes 0 when saving with CRCs turned off (torch.serialization.set_crc32_options).
  std::span<const std::uint8_t> read(const ZipEntry& entry) const;
  std::span<const std::uint8_t> read(std::string_view name) const;  // throws naming a missing entry

 private:
  std::span<const std::uint8_t> bytes_;
  std::string source_;
  std::vector<ZipEntry> entries_;
  std::vector<std::size_t> by_name_;  // indices into entries_, sorted by name
};

// True when bytes start with a zip local file header ("PK\3\4").
bool is_zip(std::span<const std::uint8_t> head);

// The CRC-32 of zip (polynomial 0xEDB88320), continuing from crc.
std::uint32_t crc32(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0);

}  // namespace weights_import
