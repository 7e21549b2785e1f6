#include "libnn/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "libnn/core/check.h"

namespace nn::io {

namespace {
void fsync_path(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;  // best effort for directories on filesystems that refuse it
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  NN_CHECK(rc == 0 || directory, "write ", path, ": fsync failed: ", std::strerror(err));
}

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}
}  // namespace

void write_atomically(const std::string& path, const std::function<void(std::ostream& out)>& write) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      NN_CHECK(out, "write ", path, ": cannot create ", tmp, ": ", std::strerror(errno));
      write(out);
      out.flush();
      NN_CHECK(out, "write ", path, ": write failed (disk full?)");
    }
    fsync_path(tmp, false);
    NN_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "write ", path, ": rename failed: ", std::strerror(errno));
    fsync_path(parent_dir(path), true);
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

}  // namespace nn::io
