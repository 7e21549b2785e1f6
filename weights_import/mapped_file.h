// A whole file mapped read-only into memory, for the readers that parse from a byte span (torch
// checkpoints): no copy, and pages the parser never touches (skipped storages) are never read. The file
// must not be truncated while mapped (a read past the new end raises SIGBUS, as with any mmap).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace weights_import {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws nn::Error naming the path and the reason
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace weights_import
