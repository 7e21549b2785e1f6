// Atomic file writes: data goes to "<path>.tmp.<pid>", is fsync'ed, then renamed over <path>, so a
// reader (or a resumed run after a crash) sees either the old file or the complete new one.
#pragma once

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>

namespace nn::io {

// Calls write(out) on a temporary file and commits it with rename; on any failure (an exception from
// write, a short write, a failed fsync) the temporary is removed and an nn::Error names the path.
void write_atomically(const std::string& path, const std::function<void(std::ostream& out)>& write);

}  // namespace nn::io
