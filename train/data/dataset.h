// A CASIA-SURF list bound to its data root: which files make up each sample, and decoding one sample into
// its three checked images. The loader (loader.h) calls load() from many threads at once.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "infer/data/lists.h"
#include "libnn/core/tensor.h"

namespace hardtune::data {

struct DatasetOptions {
  infer::OnBadSample on_bad = infer::OnBadSample::fail;  // for list lines here, for images in the loader
  // The reference resized depth and IR to the RGB image's size offline (data_preparing.py), so a training
  // triplet whose sizes differ is a preparation mistake. Every pipeline resizes each modality to 125 x 125
  // first, so such triplets can still be used on purpose (raw Val/Test images, other datasets).
  bool allow_size_mismatch = false;
};

class TripletDataset {
 public:
  // Reads the list (plain or .gz); bad lines fail or are skipped per options.on_bad (see skipped_lines()).
  TripletDataset(const std::string& list_path, std::string root, DatasetOptions options = {});
  TripletDataset(infer::ListFile list, std::string root, DatasetOptions options = {});

  long size() const { return static_cast<long>(list_.rows.size()); }
  const infer::ListRow& row(long i) const { return list_.rows.at(static_cast<std::size_t>(i)); }
  const infer::ListFile& list() const { return list_; }
  const std::string& root() const { return root_; }
  const DatasetOptions& options() const { return options_; }
  bool has_labels() const { return list_.has_label; }
  // Lines of the list file left out at construction (OnBadSample::skip).
  const std::vector<infer::BadLine>& skipped_lines() const { return list_.skipped; }
  // Rows per label: [0] fake, [1] real.
  std::array<long, 2> label_counts() const;

  // rgb, depth, ir paths of row i: root joined with the list's relative paths (infer::join_path).
  std::array<std::string, 3> paths(long i) const;
  // Row i decoded: three u8 (H, W, 3). Throws nn::Error "<list>:<line>: <image file>: <problem>" for a
  // missing, empty, corrupt or truncated image, or "<list>:<line>: modality sizes differ: ..." (see
  // DatasetOptions::allow_size_mismatch).
  std::array<nn::Tensor, 3> load(long i) const;

 private:
  infer::ListFile list_;
  std::string root_;
  DatasetOptions options_;
};

// "skipped 3 of 1200 samples: list.txt:17: ...; ..." (the first few, then a count); "" when nothing was.
std::string skip_summary(const std::vector<infer::BadLine>& skipped, long total, std::size_t shown = 5);

}  // namespace hardtune::data
